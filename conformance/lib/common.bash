# shellcheck shell=bash
# Entry point for every conformance .bats file:   load ../lib/common
#
# Environment (all optional):
#   RUNTIME, REF_RUNTIME   see lib/runtime.bash
#   RCRUN_TEST_TMP         run-wide scratch dir (run.sh sets it; default:
#                          $BATS_RUN_TMPDIR)
#   RCRUN_TEST_TAG         short unique tag for cgroup names / ids
#   RCRUN_TEST_NO_DOCKER=1 skip docker tests
#   RCRUN_TEST_CACHE       rootfs cache dir

CONF_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
CONF_DIR=${CONF_LIB%/lib}
REPO=${CONF_DIR%/conformance}

# shellcheck source=runtime.bash
source "$CONF_LIB/runtime.bash"
# shellcheck source=cgroup.bash
source "$CONF_LIB/cgroup.bash"
# shellcheck source=bundle.bash
source "$CONF_LIB/bundle.bash"
# shellcheck source=leak.bash
source "$CONF_LIB/leak.bash"
# shellcheck source=docker.bash
source "$CONF_LIB/docker.bash"

if [[ -z ${RCRUN_TEST_TMP:-} ]]; then
	RCRUN_TEST_TMP=${BATS_RUN_TMPDIR:?load lib/common.bash from bats (or set RCRUN_TEST_TMP)}
fi
if [[ -z ${RCRUN_TEST_TAG:-} ]]; then
	RCRUN_TEST_TAG=$(basename "$RCRUN_TEST_TMP" | sed 's/^bats-run-//; s/^rct\.//; s/[^A-Za-z0-9]//g')
fi
export RCRUN_TEST_TMP RCRUN_TEST_TAG

resolve_runtimes || return 1
cg_detect

CG_PARENT=/rcrun-test-$RCRUN_TEST_TAG
RT_ROOT=$RCRUN_TEST_TMP/root-rt
REF_ROOT=$RCRUN_TEST_TMP/root-ref

# ------------------------------------------------------------ bats hooks ---
# Each .bats file:  setup_file() { suite_setup_file; }  etc.

suite_setup_file() {
	mkdir -p "$RT_ROOT" "$REF_ROOT"
	_RCT_ROOTFS_OK=$(make_rootfs) || return 1
	export _RCT_ROOTFS_OK
	LEAK_OWN_CG=$(_leak_own_cgroups | tr '\n' ' ')
	export LEAK_OWN_CG
	# file-level baseline, before anything of ours exists
	LEAK_FILE_BEFORE=$BATS_FILE_TMPDIR/.leak.file-before
	export LEAK_FILE_BEFORE
	leak_snapshot >"$LEAK_FILE_BEFORE"
	test_parent_cgroup_create
}

# suite_teardown_file: remove the test parent, then the host must look
# exactly as before the file ran.
suite_teardown_file() {
	local rc=0 out
	leak_cleanup "$LEAK_FILE_BEFORE" >/dev/null 2>&1 || true
	test_parent_cgroup_remove || rc=1
	if ! out=$(leak_check "$LEAK_FILE_BEFORE"); then
		echo "$out" >&3
		leak_cleanup "$LEAK_FILE_BEFORE" >/dev/null 2>&1 || true
		rc=1
	fi
	umount_under "$RCRUN_TEST_TMP"
	return $rc
}

suite_setup() {
	LEAK_BEFORE=$BATS_TEST_TMPDIR/.leak.before
	leak_snapshot >"$LEAK_BEFORE"
}

# suite_teardown: force-delete whatever the test left, but first record
# whether anything was left: a test that passes must leave NOTHING (no
# cgroup dir, state dir, mount or process).
suite_teardown() {
	local out rc=0
	out=$(leak_check "$LEAK_BEFORE") || rc=1
	if [[ $rc -ne 0 ]]; then
		echo "$out"
		leak_cleanup "$LEAK_BEFORE" >/dev/null 2>&1 || true
		# a failed test leaks by construction; only flag leaks of passing tests
		if [[ -n ${BATS_TEST_COMPLETED:-} ]]; then
			return 1
		fi
	fi
	return 0
}

# note MSG: diagnostic shown in the TAP output.
note() { echo "# $*" >&3; }

# assert_eq WHAT EXPECTED ACTUAL
assert_eq() {
	if [[ "$2" != "$3" ]]; then
		echo "ASSERTION FAILED: $1: expected '$2', got '$3'" >&2
		return 1
	fi
}
