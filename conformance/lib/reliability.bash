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
# $RCRUN_TEST_CRASH_RUNTIME, else built from the repo into
# target/crash-points (dev profile: shares nothing with the release build,
# ~2 min the first time).  Fails with the reason on stderr.
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
	local cargo
	cargo=$(command -v cargo || echo "$HOME/.cargo/bin/cargo")
	[[ -x $cargo ]] || { echo "cargo not found: set RCRUN_TEST_CRASH_RUNTIME" >&2; return 1; }
	# where cargo put it is what cargo says (not a path guessed here)
	local exe
	exe=$(cd "$REPO" && "$cargo" build --quiet -p rcrun --bin rcrun --features crash-points \
		--target-dir "$REPO/target/crash-points" --message-format=json |
		jq -r 'select(.reason == "compiler-artifact" and .target.name == "rcrun" and .executable != null) | .executable' |
		tail -n 1) && [[ -x $exe ]] || { echo "building rcrun with --features crash-points failed" >&2; return 1; }
	echo "$exe"
}

# count_lines CMD...: number of output lines of CMD.
count_lines() { "$@" 2>/dev/null | grep -c ''; }
