# shellcheck shell=bash
# Runtime selection and wrappers.
#
#   RUNTIME       runtime under test (default: $REPO/target/release/rcrun, or
#                 runc with a loud note while that binary is not a working
#                 runtime yet)
#   REF_RUNTIME   reference runtime (default: runc)
#
# Every runtime gets a private --root under the run's temp dir, so the suite
# never sees (or leaves) state in /run/runc or /run/rcrun.

# runtime_probe BIN: is BIN plausibly a working OCI runtime?  `--version`
# must succeed with output and `state` of an id that cannot exist must fail.
# (The workspace skeleton's rcrun prints nothing and exits 0 for everything.)
runtime_probe() {
	local bin=$1 out tmp rc
	[[ -x $bin ]] || { RUNTIME_PROBE_WHY="$bin is not an executable file"; return 1; }
	out=$("$bin" --version 2>/dev/null) || { RUNTIME_PROBE_WHY="'$bin --version' failed"; return 1; }
	[[ -n $out ]] || { RUNTIME_PROBE_WHY="'$bin --version' printed nothing"; return 1; }
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/rct-probe.XXXXXX")
	"$bin" --root "$tmp/root" state "rct-probe-no-such-container-$$" >/dev/null 2>&1 </dev/null
	rc=$?
	rm -rf "$tmp"
	if [[ $rc -eq 0 ]]; then
		RUNTIME_PROBE_WHY="'$bin state <unknown id>' exited 0 (not a working runtime yet)"
		return 1
	fi
	return 0
}

# abs_bin NAME-OR-PATH: absolute path of an executable.
abs_bin() {
	local b=$1 p
	if [[ $b == */* ]]; then
		p=$(cd "$(dirname "$b")" 2>/dev/null && pwd -P)/$(basename "$b") || return 1
	else
		p=$(command -v "$b") || return 1
	fi
	[[ -x $p ]] || return 1
	echo "$p"
}

# resolve_runtimes: sets and exports RUNTIME, REF_RUNTIME (absolute paths) and
# RCRUN_TEST_RUNTIME_NOTE (non-empty when we fell back to runc).
resolve_runtimes() {
	if [[ -n ${RCRUN_TEST_RESOLVED:-} ]]; then
		return 0
	fi
	RCRUN_TEST_RUNTIME_NOTE=""
	if [[ -z ${RUNTIME:-} ]]; then
		local cand="$REPO/target/release/rcrun"
		if [[ ! -e $cand ]]; then
			RUNTIME_PROBE_WHY="$cand does not exist"
			RUNTIME=runc
		elif runtime_probe "$cand"; then
			RUNTIME=$cand
		else
			RUNTIME=runc
		fi
		if [[ $RUNTIME == runc ]]; then
			if [[ ${RCRUN_TEST_REQUIRE_RCRUN:-0} == 1 ]]; then
				echo "FATAL: RCRUN_TEST_REQUIRE_RCRUN=1 but $RUNTIME_PROBE_WHY" >&2
				return 1
			fi
			RCRUN_TEST_RUNTIME_NOTE="RUNTIME not set and $RUNTIME_PROBE_WHY: testing runc INSTEAD OF rcrun"
		fi
	fi
	local r
	r=$(abs_bin "$RUNTIME") || { echo "FATAL: RUNTIME=$RUNTIME: not found/executable" >&2; return 1; }
	RUNTIME=$r
	r=$(abs_bin "${REF_RUNTIME:-runc}") || { echo "FATAL: REF_RUNTIME=${REF_RUNTIME:-runc}: not found/executable" >&2; return 1; }
	REF_RUNTIME=$r
	RCRUN_TEST_RESOLVED=1
	export RUNTIME REF_RUNTIME RCRUN_TEST_RUNTIME_NOTE RCRUN_TEST_RESOLVED
}

print_runtime_banner() {
	if [[ -n ${RCRUN_TEST_RUNTIME_NOTE:-} ]]; then
		cat <<EOF
########################################################################
#  NOTE: $RCRUN_TEST_RUNTIME_NOTE
#  (set RUNTIME=/path/to/rcrun to test rcrun explicitly;
#   RCRUN_TEST_REQUIRE_RCRUN=1 turns this fallback into an error)
########################################################################
EOF
	fi
	echo "# RUNTIME=$RUNTIME ($("$RUNTIME" --version 2>/dev/null | head -n1))"
	echo "# REF_RUNTIME=$REF_RUNTIME ($("$REF_RUNTIME" --version 2>/dev/null | head -n1))"
}

# runc_minor BIN: prints "1.1" style version if BIN is runc, fails otherwise.
runc_minor() {
	local v
	v=$("$1" --version 2>/dev/null) || return 1
	v=${v%%$'\n'*}
	[[ $v =~ ^runc\ version\ ([0-9]+)\.([0-9]+) ]] || return 1
	echo "${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"
}

runtime_is_runc() { runc_minor "$1" >/dev/null; }

# runtime_gap BIN FEATURE: succeeds when BIN has a KNOWN limitation for
# FEATURE on this host, so the test must not hold it to the expected value.
# Only runc <= 1.1 limitations are listed; every entry was observed on the
# real binary (see conformance/README.md, "Known runc limitations").
runtime_gap() {
	local bin=$1 feature=$2 v
	v=$(runc_minor "$bin") || return 1
	# only versions up to 1.1 are known to have these gaps
	[[ ${v%%.*} -lt 1 || (${v%%.*} -eq 1 && ${v#*.} -le 1) ]] || return 1
	case $feature in
	cpu-idle) # runc 1.1 silently ignores linux.resources.cpu.idle (v1 and v2)
		return 0 ;;
	unified-hybrid) # "invalid configuration: cannot use unified on cgroup v1"
		[[ $CG_LAYOUT == hybrid ]] ;;
	hugetlb-unified-hybrid) # runc's v1 manager only looks for a v1 hugetlb mount
		[[ $CG_LAYOUT == hybrid && -z ${CG_V1[hugetlb]:-} ]] ;;
	error-one-line) # runc prints logrus lines ("time=... level=error msg=...")
		return 0 ;;
	*) return 1 ;;
	esac
}

# skip_if_runtime_gap FEATURE: skip the test when RUNTIME has the gap.
skip_if_runtime_gap() {
	if runtime_gap "$RUNTIME" "$1"; then
		skip "KNOWN RUNTIME LIMITATION ($(basename "$RUNTIME") $(runc_minor "$RUNTIME")): $1"
	fi
}

# Wrappers: rt = runtime under test, ref = reference runtime.  Both always
# get a private --root and a timeout (a hanging runtime fails the test
# instead of hanging the suite: exit status 124).
# Usage: rt create --bundle B ID, ref state ID, ...
RCRUN_TEST_CMD_TIMEOUT=${RCRUN_TEST_CMD_TIMEOUT:-60}
rt() { timeout -k 5 "$RCRUN_TEST_CMD_TIMEOUT" "$RUNTIME" --root "$RT_ROOT" "$@"; }
ref() { timeout -k 5 "$RCRUN_TEST_CMD_TIMEOUT" "$REF_RUNTIME" --root "$REF_ROOT" "$@"; }

# rtbin WHICH: binary for "rt" or "ref"; rtroot WHICH: its --root.
rtbin() { if [[ $1 == ref ]]; then echo "$REF_RUNTIME"; else echo "$RUNTIME"; fi; }
rtroot() { if [[ $1 == ref ]]; then echo "$REF_ROOT"; else echo "$RT_ROOT"; fi; }

# rc_of WHICH CMD...: run `WHICH CMD...` with stdio detached from bats, set
# RC, OUT, ERR (never fails).
rc_of() {
	local which=$1
	shift
	local o="$BATS_TEST_TMPDIR/.rc_of.out" e="$BATS_TEST_TMPDIR/.rc_of.err"
	RC=0
	"$which" "$@" </dev/null >"$o" 2>"$e" 3>&- || RC=$?
	OUT=$(cat "$o")
	ERR=$(cat "$e")
	return 0
}

# rc_of_in WHICH INPUT CMD...: like rc_of, with INPUT on stdin.
rc_of_in() {
	local which=$1 input=$2
	shift 2
	local o="$BATS_TEST_TMPDIR/.rc_of.out" e="$BATS_TEST_TMPDIR/.rc_of.err"
	RC=0
	"$which" "$@" <<<"$input" >"$o" 2>"$e" 3>&- || RC=$?
	OUT=$(cat "$o")
	ERR=$(cat "$e")
	return 0
}

# compare_failure SCENARIO_FN: run "SCENARIO_FN rt" then "SCENARIO_FN ref".
# Each sets SC_RC (exit code of the command under test) and SC_ERR (its
# stderr) and cleans up after itself.  Asserts REF fails (else the scenario
# is wrong), RUNTIME fails too, with the same exit code.  Leaves
# SC_RC_RT/SC_ERR_RT for further checks.
compare_failure() {
	local fn=$1
	SC_RC=999 SC_ERR=""
	"$fn" rt || return 1
	SC_RC_RT=$SC_RC SC_ERR_RT=$SC_ERR
	SC_RC=999 SC_ERR=""
	"$fn" ref || return 1
	SC_RC_REF=$SC_RC
	echo "# $fn: RUNTIME rc=$SC_RC_RT REF_RUNTIME rc=$SC_RC_REF" >&3
	if [[ $SC_RC_REF -eq 0 ]]; then
		echo "scenario $fn: REF_RUNTIME succeeded; the scenario does not test a failure" >&2
		return 1
	fi
	if [[ $SC_RC_RT -eq 0 ]]; then
		echo "scenario $fn: RUNTIME succeeded (rc 0) where REF_RUNTIME fails (rc $SC_RC_REF)" >&2
		return 1
	fi
	if [[ $SC_RC_RT -ne $SC_RC_REF ]]; then
		echo "scenario $fn: RUNTIME rc=$SC_RC_RT, REF_RUNTIME rc=$SC_RC_REF; stderr: $SC_ERR_RT" >&2
		return 1
	fi
	return 0
}
