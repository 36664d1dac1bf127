# shellcheck shell=bash
# Helpers of the hostile-container tests (tests/attack-*.bats, see
# docs/security.md).  Loaded after lib/common.
#
# Every test runs against COPIES of both runtime binaries
# ($BATS_TEST_TMPDIR/bin/{rt,ref}/<name>, RUNTIME/REF_RUNTIME point at them
# for the test): a container that manages to write "the runtime binary"
# writes the copy, teardown checks both copies' sha256 (a changed RUNTIME
# copy fails the test; a changed REF copy is reported).
#
# The attacks run inside real containers (busybox rootfs); lib/attack-helper.c,
# built static once per file, is copied into rootfs as /atk when needed.
# atk_both runs one scenario on REF_RUNTIME then RUNTIME and notes both
# outcomes ("runc: blocked (EROFS) | rcrun: WRITTEN"); only RUNTIME's
# outcome is asserted.

# ------------------------------------------------------------ file hooks ---
atk_setup_file() {
	suite_setup_file || return 1
	ATK_HELPER=$BATS_FILE_TMPDIR/atk
	export ATK_HELPER
	# a missing compiler must fail every test, loudly (not skip them)
	command -v cc >/dev/null || { echo "FATAL: no cc: the attack tests need a C compiler (gcc) and static libc (libc6-dev)" >&2; return 1; }
	cc -static -O2 -o "$ATK_HELPER" "$CONF_LIB/attack-helper.c" 2>"$BATS_FILE_TMPDIR/cc.log" ||
		{ echo "FATAL: cc -static lib/attack-helper.c failed:" >&2; cat "$BATS_FILE_TMPDIR/cc.log" >&2; return 1; }
	# host-global values no attack may change (checked in atk_teardown_file)
	atk_globals >"$BATS_FILE_TMPDIR/globals.before"
}

atk_teardown_file() {
	local rc=0
	if ! diff "$BATS_FILE_TMPDIR/globals.before" <(atk_globals) >&2; then
		echo "FATAL: a host-global kernel setting changed during $(basename "$BATS_TEST_FILENAME") (restoring it)" >&2
		atk_globals_restore "$BATS_FILE_TMPDIR/globals.before"
		rc=1
	fi
	suite_teardown_file || rc=1
	return $rc
}

# atk_globals: host-wide sysctls an escaped container would go for.
atk_globals() {
	local f
	for f in kernel/core_pattern kernel/hostname kernel/domainname kernel/modprobe kernel/sysrq; do
		printf '%s=%s\n' "$f" "$(cat "/proc/sys/$f" 2>/dev/null)"
	done
}
atk_globals_restore() {
	local line
	while IFS= read -r line; do
		[[ $(cat "/proc/sys/${line%%=*}" 2>/dev/null) == "${line#*=}" ]] || echo "${line#*=}" >"/proc/sys/${line%%=*}"
	done <"$1"
}

# ------------------------------------------------------------ test hooks ---
atk_setup() {
	suite_setup
	local which src
	ATK_ORIG_RUNTIME=$RUNTIME ATK_ORIG_REF=$REF_RUNTIME
	for which in rt ref; do
		src=$(rtbin "$which")
		mkdir -p "$BATS_TEST_TMPDIR/bin/$which"
		cp "$src" "$BATS_TEST_TMPDIR/bin/$which/" || return 1
		sha256sum <"$src" >"$BATS_TEST_TMPDIR/bin/$which.sha256"
	done
	RUNTIME=$BATS_TEST_TMPDIR/bin/rt/$(basename "$ATK_ORIG_RUNTIME")
	REF_RUNTIME=$BATS_TEST_TMPDIR/bin/ref/$(basename "$ATK_ORIG_REF")
}

atk_teardown() {
	local rc=0
	# containers first (their processes may hold the binaries)
	umount_under "$BATS_TEST_TMPDIR"
	suite_teardown || rc=1
	atk_binary_intact ref || note "REF_RUNTIME's copy was MODIFIED by the container"
	if ! atk_binary_intact rt; then
		echo "RUNTIME's copy $RUNTIME was MODIFIED by the container (sha256 changed)"
		rc=1
	fi
	rm -rf "$BATS_TEST_TMPDIR/bin"
	RUNTIME=$ATK_ORIG_RUNTIME REF_RUNTIME=$ATK_ORIG_REF
	return $rc
}

# atk_binary_intact WHICH: the copy of WHICH's binary is unchanged.
atk_binary_intact() {
	[[ $(sha256sum <"$(rtbin "$1")") == "$(cat "$BATS_TEST_TMPDIR/bin/$1.sha256")" ]]
}

# rtname WHICH: "runc", "rcrun" (basename of the binary).
rtname() { basename "$(rtbin "$1")"; }

# ------------------------------------------------------------- scenarios ---
# atk_both LABEL FN [ARGS...]: "FN ref ARGS..." then "FN rt ARGS...".  FN sets
# V (short outcome, e.g. "blocked (EROFS)") and BAD (non-empty: what the
# attack achieved / which defence is missing); FN failing means the
# scenario itself broke (an error for RUNTIME, reported for REF).  Notes
# "LABEL: runc: V | rcrun: V"; fails when RUNTIME's BAD is set.
atk_both() {
	local label=$1 fn=$2 vref badrt
	shift 2
	V="" BAD=""
	"$fn" ref "$@" || V="scenario error: ${V:-?}"
	vref=$V
	V="" BAD=""
	if ! "$fn" rt "$@"; then
		note "$label: $(rtname ref): $vref | $(rtname rt): scenario error: $V"
		echo "scenario $fn failed for RUNTIME: $V $BAD"
		return 1
	fi
	badrt=$BAD
	note "$(atk_short "$label: $(rtname ref): $vref | $(rtname rt): $V")"
	if [[ -n $badrt ]]; then
		echo "$(rtname rt): $(atk_short "$badrt")"
		return 1
	fi
	return 0
}

# atk_short TEXT: TEXT with the test's temp dir written as $T (notes stay short).
atk_short() { echo "${1//$BATS_TEST_TMPDIR/\$T}"; }

# atk_bundle WHICH NAME [JQ_FILTER]: bundle (make_bundle) with the helper as
# /atk and the host dir $O bind-mounted rw at /out.  Sets ID, B, O.
atk_bundle() {
	local which=$1 name=$2 filter=${3:-.}
	ATK_N=$((${ATK_N:-0} + 1))
	ID=$(ctr_id "$name-$ATK_N-$which")
	B=$BATS_TEST_TMPDIR/$ID
	O=$B/out
	make_bundle "$B" "$filter | .mounts += [{\"destination\": \"/out\", \"type\": \"bind\", \"source\": (\$bundle + \"/out\"), \"options\": [\"rbind\"]}]" || return 1
	mkdir -p "$O" && chmod 777 "$O"
	cp "$ATK_HELPER" "$B/rootfs/atk"
}

# atk_jq FILTER [JQ_ARGS...]: apply FILTER to $B/config.json.
atk_jq() {
	local f=$1
	shift
	jq "$@" "$f" "$B/config.json" >"$B/config.json.new" && mv "$B/config.json.new" "$B/config.json"
}

# atk_script SCRIPT: process.args = ["sh", "-c", SCRIPT].
atk_script() { atk_jq '.process.args = ["sh", "-c", $s]' --arg s "$1"; }

# atk_caps CAP...: add capabilities to the bounding/effective/permitted sets.
atk_caps() {
	local c
	for c in "$@"; do
		atk_jq '.process.capabilities |= (.bounding += [$c] | .effective += [$c] | .permitted += [$c])' --arg c "$c"
	done
}

# atk_wait_file FILE [TIMEOUT_S]
atk_wait_file() {
	local i
	for ((i = 0; i < ${2:-10} * 20; i++)); do
		[[ -e $1 ]] && return 0
		sleep 0.05
	done
	echo "timed out waiting for $1" >&2
	return 1
}

# atk_start WHICH: create + start $ID (bundle $B); sets PID (host pid of the
# init).  On failure V = the runtime's error (first line).
atk_start() {
	ctr_create "$1" "$ID" "$B"
	if [[ $RC -ne 0 ]]; then
		V="create failed: $(atk_err1 "$ERR")"
		return 1
	fi
	rc_of "$1" start "$ID"
	if [[ $RC -ne 0 ]]; then
		V="start failed: $(atk_err1 "$ERR")"
		return 1
	fi
	wait_status "$1" "$ID" running 2>/dev/null || true
	PID=$(ctr_pid "$1" "$ID")
}

# atk_err1 TEXT: the first line of an error, without logrus decoration and
# runc's "unable to start container process: ..." prefixes, cut to 140.
atk_err1() {
	local l
	l=$(grep -v '^\s*$' <<<"$1" | head -n 1)
	l=${l#*msg=\"}
	l=${l%\"}
	l=$(sed -E 's/^(runc (run|create) failed: )?(unable to start container process: )?(error during container init: )?//' <<<"$l")
	echo "${l:0:140}"
}

# atk_refused WHICH: after a failed create/run ($RC, $ERR): the failure is a
# clean refusal (not a panic: exit status 101 or "panicked" means no).
# Sets V.
atk_refused() {
	V="refused: $(atk_err1 "$ERR")"
	if [[ $RC -eq 101 || $ERR == *panicked* ]]; then
		V="PANIC (rc $RC)"
		return 1
	fi
	return 0
}

# atk_done: delete $ID of WHICH (force), never fails.
atk_done() { ctr_force_delete "$1" "$ID"; }

# ------------------------------------------------------- host-side canary ---
# atk_hs: a fresh host-side directory HS (in the test's temp dir) holding a
# secret file; what a runtime tricked into following a path outside the
# rootfs would touch.
atk_hs() {
	HS=$BATS_TEST_TMPDIR/hostside
	rm -rf "$HS"
	mkdir -p "$HS/sub"
	SECRET="host-secret-$RCRUN_TEST_TAG-$RANDOM"
	echo "$SECRET" >"$HS/secret"
	chmod 600 "$HS/secret"
}

# atk_hs_snapshot: everything about HS a runtime could change (entries,
# modes, sizes, link targets, contents, mounts).
atk_hs_snapshot() {
	find "$HS" -printf '%p %y %m %s %l\n' | sort
	find "$HS" -type f -exec md5sum {} + | sort
	grep -F "$HS" /proc/self/mountinfo | awk '{ print "mount", $5 }'
}

# sc_path WHICH NAME JQ_FILTER [ROOTFS_FN]: `run` a container made with
# FILTER (@HS@ in it stands for HS) after ROOTFS_FN ROOTFS, whose process
# tries to read the secret through /evil (a link a ROOTFS_FN may plant) and
# prints its cwd.  V: refused / ran contained; BAD: HS changed, the secret
# was read, or the runtime panicked.
sc_path() {
	local which=$1 name=$2 filter=$3 fn=${4:-} before after
	atk_hs
	atk_bundle "$which" "$name" "$filter" || return 1
	sed -i "s|@HS@|$HS|g" "$B/config.json"
	atk_script "cat /evil$HS/secret $HS/secret 2>&1 | head -c 300; ls -la /evil$HS 2>&1 | head -n 5; echo cwd=\$(pwd -P 2>&1)"
	[[ -z $fn ]] || "$fn" "$B/rootfs" || return 1
	before=$(atk_hs_snapshot)
	rc_of "$which" run --bundle "$B" "$ID"
	atk_done "$which"
	umount_under "$B"
	after=$(atk_hs_snapshot)
	if [[ $RC -eq 0 ]]; then V="ran contained (${OUT##*cwd=})"; else atk_refused "$which" || BAD="panicked: $ERR"; fi
	if [[ $before != "$after" ]]; then
		BAD+=" host side changed: $(diff <(echo "$before") <(echo "$after") | grep '^[<>]' | tr '\n' ' ')"
		V="HOST CHANGED; $V"
	fi
	if [[ $OUT == *"$SECRET"* ]]; then
		BAD+=" the container read the host secret"
		V="SECRET READ; $V"
	fi
	if [[ $OUT == *"(unreachable)"* ]]; then
		BAD+=" the process's cwd is outside its root: ${OUT##*cwd=}"
		V="CWD OUTSIDE ROOT; $V"
	fi
	return 0
}

# atk_variants LABEL FN ARGS-LIST...: atk_both "LABEL/ARGS" FN ARGS for each
# (space-separated) ARGS; runs them all, fails if any failed.
atk_variants() {
	local label=$1 fn=$2 a rc=0
	shift 2
	for a in "$@"; do
		# shellcheck disable=SC2086
		atk_both "$label: $a" "$fn" $a || rc=1
	done
	return $rc
}
