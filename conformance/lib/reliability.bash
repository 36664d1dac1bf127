# shellcheck shell=bash
# Helpers of the reliability tests (crash, concurrency, churn, escape,
# isolation, edges: see docs/reliability.md).  Loaded after lib/common.

# nothing_left_of WHICH ID: no cgroup directory named ID in any hierarchy,
# no state entry, no process mentioning ID.  Prints what is left.
nothing_left_of() {
	local which=$1 id=$2 m found rc=0
	for m in "${CG_HIERS[@]}"; do
		found=$(find "$m" -type d -name "$id" 2>/dev/null)
		[[ -z $found ]] || { echo "$which left cgroup dir(s): $found"; rc=1; }
	done
	if [[ -e $(rtroot "$which")/$id ]]; then
		echo "$which left state $(rtroot "$which")/$id: $(ls -A "$(rtroot "$which")/$id" | tr '\n' ' ')"
		rc=1
	fi
	if grep -laF -f <(echo "$id") /proc/[0-9]*/cmdline 2>/dev/null | grep -v "^/proc/$$/" | grep -q .; then
		echo "$which left a process mentioning $id"
		rc=1
	fi
	return $rc
}

# crash_runtime: path of an rcrun built with the cargo feature crash-points
# (RCRUN_TEST_CRASH_AT=<step> SIGKILLs it at that step).  From
# $RCRUN_TEST_CRASH_RUNTIME, else built from the repo (crash_build).  Fails
# with the reason on stderr.
crash_runtime() {
	if [[ -n ${RCRUN_TEST_CRASH_RUNTIME:-} ]]; then
		[[ -x $RCRUN_TEST_CRASH_RUNTIME ]] || { echo "RCRUN_TEST_CRASH_RUNTIME=$RCRUN_TEST_CRASH_RUNTIME is not executable" >&2; return 1; }
		echo "$RCRUN_TEST_CRASH_RUNTIME"
		return 0
	fi
	if ! runtime_probe "$RUNTIME" || runtime_is_runc "$RUNTIME"; then
		echo "RUNTIME is not rcrun: crash points exist only in rcrun" >&2
		return 1
	fi
	crash_build rcrun rcrun
}

# crash_build PACKAGE BINARY: builds PACKAGE with the cargo feature
# crash-points into target/crash-points (dev profile: shares nothing with
# the release build, ~2 min the first time) and prints the path of BINARY.
crash_build() {
	local pkg=$1 bin=$2 cargo exe
	cargo=$(command -v cargo || echo "$HOME/.cargo/bin/cargo")
	[[ -x $cargo ]] || { echo "cargo not found: give a crash-points build in the environment" >&2; return 1; }
	# where cargo put it is what cargo says (not a path guessed here)
	exe=$(cd "$REPO" && "$cargo" build --quiet -p "$pkg" --bin "$bin" --features crash-points \
		--target-dir "$REPO/target/crash-points" --message-format=json |
		jq -r --arg bin "$bin" 'select(.reason == "compiler-artifact" and .target.name == $bin and .executable != null) | .executable' |
		tail -n 1) && [[ -x $exe ]] || { echo "building $bin with --features crash-points failed" >&2; return 1; }
	echo "$exe"
}

# crash_shim: path of the shim built with the cargo feature crash-points
# (forwarded to the runtime: the shim starts containers in-process), from
# $RCRUN_TEST_CRASH_SHIM or built like crash_runtime.
crash_shim() {
	if [[ -n ${RCRUN_TEST_CRASH_SHIM:-} ]]; then
		[[ -x $RCRUN_TEST_CRASH_SHIM ]] || { echo "RCRUN_TEST_CRASH_SHIM=$RCRUN_TEST_CRASH_SHIM is not executable" >&2; return 1; }
		echo "$RCRUN_TEST_CRASH_SHIM"
		return 0
	fi
	crash_build containerd-shim-rcrun-v2 containerd-shim-rcrun-v2
}

# crash_wrapper OUT BIN DIR: writes the script OUT, which runs BIN with
# RCRUN_TEST_CRASH_AT = the contents of DIR/crash-at (made empty here: no
# crash until a test writes a step) and logs its arguments to
# DIR/calls.log.  For the callers that start rcrun or the shim themselves
# (docker, containerd).
crash_wrapper() {
	local out=$1 bin=$2 dir=$3
	mkdir -p "$dir" && : >"$dir/crash-at" || return 1
	cat >"$out" <<EOF
#!/bin/sh
echo "\$*" >>"$dir/calls.log"
RCRUN_TEST_CRASH_AT=\$(cat "$dir/crash-at") exec "$bin" "\$@"
EOF
	chmod 755 "$out"
}

# count_lines CMD...: number of output lines of CMD.
count_lines() { "$@" 2>/dev/null | grep -c ''; }
