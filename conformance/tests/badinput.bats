#!/usr/bin/env bats
# Bad input: every case must fail (like REF_RUNTIME, same exit code), leave
# nothing behind (no cgroup dir, state dir, mount or process: checked
# explicitly and by the per-test leak check), and - for RUNTIME when it is
# not runc, whose logrus messages differ - print ONE error line that names
# the offending field/value.

bats_require_minimum_version 1.5.0
load ../lib/common

setup_file() { suite_setup_file; }
teardown_file() { suite_teardown_file; }
setup() { suite_setup; }
teardown() { suite_teardown; }

# nothing_left WHICH ID: no cgroup dir, no state entry, no process for ID.
nothing_left() {
	local which=$1 id=$2 m found
	for m in "${CG_HIERS[@]}"; do
		found=$(find "$m" -type d -name "$id" 2>/dev/null)
		[[ -z $found ]] || { echo "$which left cgroup dir(s): $found" >&2; return 1; }
	done
	if [[ -e $(rtroot "$which")/$id ]]; then
		echo "$which left state dir $(rtroot "$which")/$id" >&2
		return 1
	fi
	if grep -laF -f <(echo "$id") /proc/[0-9]*/cmdline 2>/dev/null | grep -v "^/proc/$$/" | grep -q .; then
		echo "$which left a process mentioning $id" >&2
		return 1
	fi
	return 0
}

# bad_create WHICH NAME JQ_FILTER [RAW_CONFIG]: create with a broken bundle.
bad_create() {
	local which=$1 id
	id=$(ctr_id "$2-$which")
	make_bundle "$BATS_TEST_TMPDIR/$id" "$3"
	[[ -n ${4:-} ]] && printf '%s' "$4" >"$BATS_TEST_TMPDIR/$id/config.json"
	ctr_create "$which" "$id"
	SC_RC=$RC SC_ERR=$ERR
	BAD_ID[$which]=$id
	nothing_left "$which" "$id" || SC_LEFT=1
	ctr_force_delete "$which" "$id"
}

declare -gA BAD_ID=()

check_bad() { # after compare_failure: nothing left, one-line error for RUNTIME
	[[ -z ${SC_LEFT:-} ]] || { echo "something was left behind (see above)"; return 1; }
	assert_one_line_error "$SC_ERR_RT" "$@"
}

sc_malformed() { bad_create "$1" malformed . '{"ociVersion": "1.0.2", "process": {'; }
@test "malformed config.json" {
	compare_failure sc_malformed
	check_bad 'json|config'
}

sc_negmem() { bad_create "$1" negmem '.linux.resources.memory = {"limit": -5}'; }
@test "negative memory limit (-5)" {
	compare_failure sc_negmem
	check_bad 'memory' '(^|[^0-9])-5([^0-9]|$)'
}

sc_norootfs() { bad_create "$1" norootfs ".root.path = \"/nonexistent-rootfs-$RCRUN_TEST_TAG\""; }
@test "missing rootfs" {
	compare_failure sc_norootfs
	check_bad "nonexistent-rootfs-$RCRUN_TEST_TAG|root"
}

sc_noprocess() { bad_create "$1" noprocess 'del(.process)'; }
@test "missing process" {
	compare_failure sc_noprocess
	check_bad 'process'
}

sc_noargs() { bad_create "$1" noargs '.process.args = []'; }
@test "empty process.args" {
	compare_failure sc_noargs
	check_bad 'args|process'
}

# The spec wants the full path inside the container (runc 1.1.5 accepts a
# relative one and runs; not run here: it would make the node in the
# shared rootfs).
@test "relative linux.devices path: one line naming the field, nothing left" {
	bad_create rt reldev '.linux.devices = [{"path": "dev/rel-null", "type": "c", "major": 1, "minor": 3}]'
	[[ $SC_RC -ne 0 ]] || { echo "create with a relative device path succeeded"; false; }
	[[ -z ${SC_LEFT:-} ]] || { echo "something was left behind (see above)"; false; }
	if ! runtime_is_runc "$RUNTIME"; then
		assert_one_line_error "$SC_ERR" 'linux\.devices\[0\]\.path' 'dev/rel-null'
	fi
}

# exec with a cwd that is not a directory in the container: one line naming
# the flag and the path, for a missing path, a relative one, a symlink whose
# target exists only on the host (resolved inside the container), and a
# process.json's cwd; no exec'd process left, the container still running.
@test "exec --cwd / process.cwd not in the container: one line naming it, nothing left" {
	local id ps_before ps_after
	id=$(ctr_id execcwd)
	make_bundle "$BATS_TEST_TMPDIR/$id" '.process.args = ["sleep", "600"]'
	ln -s /usr/share/doc "$BATS_TEST_TMPDIR/$id/rootfs/hostonly"
	ctr_run_d rt "$id"
	rc_of rt ps --format json "$id"
	ps_before=$OUT
	for cwd in /nope /hostonly relative/dir; do
		rc_of rt exec --cwd "$cwd" "$id" /bin/true
		[[ $RC -ne 0 ]] || { echo "exec --cwd $cwd succeeded"; false; }
		if ! runtime_is_runc "$RUNTIME"; then
			assert_one_line_error "$ERR" '--cwd' "$cwd"
		fi
	done
	jq '.process | .args = ["/bin/true"] | .cwd = "/nope/either"' "$BATS_TEST_TMPDIR/$id/config.json" >"$BATS_TEST_TMPDIR/process.json"
	rc_of rt exec --process "$BATS_TEST_TMPDIR/process.json" "$id"
	[[ $RC -ne 0 ]] || { echo "exec --process with cwd /nope/either succeeded"; false; }
	if ! runtime_is_runc "$RUNTIME"; then
		assert_one_line_error "$ERR" 'process\.cwd' '/nope/either'
	fi
	# a good cwd still works, and is the container's /etc
	rc_of rt exec --cwd /etc "$id" /bin/pwd
	assert_eq "exec --cwd /etc" /etc "$OUT"
	rc_of rt ps --format json "$id"
	ps_after=$OUT
	assert_eq "processes in the container after the failed execs" "$ps_before" "$ps_after"
	assert_eq status running "$(ctr_status rt "$id")"
	ctr_kill_delete rt "$id"
}

# unknown ids
sc_unknown() {
	local id
	id=$(ctr_id "nosuch-$1")
	# shellcheck disable=SC2086
	rc_of "$1" $UNKNOWN_CMD "$id" $UNKNOWN_ARGS
	SC_RC=$RC SC_ERR=$ERR
	nothing_left "$1" "$id" || SC_LEFT=1
}
@test "unknown id: state" {
	UNKNOWN_CMD=state UNKNOWN_ARGS="" compare_failure sc_unknown
	check_bad "$(ctr_id nosuch-rt)|does not exist|not found|no such"
}
@test "unknown id: start" {
	UNKNOWN_CMD=start UNKNOWN_ARGS="" compare_failure sc_unknown
	check_bad "$(ctr_id nosuch-rt)|does not exist|not found|no such"
}
@test "unknown id: kill" {
	UNKNOWN_CMD=kill UNKNOWN_ARGS=KILL compare_failure sc_unknown
	check_bad "$(ctr_id nosuch-rt)|does not exist|not found|no such"
}
@test "unknown id: delete" {
	UNKNOWN_CMD=delete UNKNOWN_ARGS="" compare_failure sc_unknown
	check_bad "$(ctr_id nosuch-rt)|does not exist|not found|no such"
}

sc_dup() {
	local id pid
	id=$(ctr_id "dupbad-$1")
	make_bundle "$BATS_TEST_TMPDIR/$id"
	ctr_create "$1" "$id"
	[[ $RC -eq 0 ]] || { echo "$1 first create failed: $ERR" >&2; return 1; }
	pid=$(ctr_pid "$1" "$id")
	ctr_create "$1" "$id"
	SC_RC=$RC SC_ERR=$ERR
	# the first container is untouched (still created, same pid, cgroup there)
	if [[ $(ctr_status "$1" "$id") != created || $(ctr_pid "$1" "$id") != "$pid" ]]; then
		echo "$1: duplicate create disturbed the existing container" >&2
		SC_LEFT=1
	fi
	ctr_kill_delete "$1" "$id"
	nothing_left "$1" "$id" || SC_LEFT=1
}
@test "duplicate id: create fails, existing container untouched" {
	compare_failure sc_dup
	check_bad "$(ctr_id dupbad-rt)|exists"
}
