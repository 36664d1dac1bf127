#!/usr/bin/env bats
# Container lifecycle: create/start/state/kill/delete, exit statuses, wrong
# state errors (compared with REF_RUNTIME), list, ps, exec, pause/resume,
# kill --all.  Every test must leave nothing behind (checked in teardown).

bats_require_minimum_version 1.5.0
load ../lib/common

setup_file() { suite_setup_file; }
teardown_file() { suite_teardown_file; }
setup() { suite_setup; }
teardown() { suite_teardown; }

# procs_of CGPATH: sorted pids in the container's cgroup (any hierarchy
# that has cgroup.procs: memory, pids, or cgroup2).
procs_of() {
	local c d
	for c in memory pids unified; do
		d=$(cg_dir "$c" "$1" 2>/dev/null) || continue
		[[ -r $d/cgroup.procs ]] || continue
		sort -n "$d/cgroup.procs"
		return 0
	done
	return 1
}

# ------------------------------------------------------------ happy path ---

@test "create: state is 'created' and has every OCI state field" {
	id=$(ctr_id state)
	b=$BATS_TEST_TMPDIR/$id
	make_bundle "$b"
	ctr_create rt "$id"
	[ "$RC" -eq 0 ] || { echo "create failed: $ERR"; false; }

	run -0 rt state "$id"
	echo "$output"
	echo "$output" | jq -e --arg id "$id" --arg b "$b" '
		(.ociVersion | type == "string" and test("^1\\.")) and
		.id == $id and
		(.pid | type == "number" and . > 0) and
		.status == "created" and
		.bundle == $b and
		.rootfs == ($b + "/rootfs") and
		(.created | type == "string") and
		(has("owner") and (.owner | type == "string"))'
	pid=$(jq -r .pid <<<"$output")
	# the pid is alive and already in the container's cgroup
	[ -d "/proc/$pid" ]
	for c in memory pids; do
		cg_available "$c" || continue
		assert_eq "cgroup ($c) of the created container's pid" "$CG_PARENT/$id" "$(cg_pid_path "$pid" "$c")"
	done
	created=$(date -d "$(jq -r .created <<<"$output")" +%s)
	now=$(date +%s)
	[ $((now - created)) -ge -5 ] && [ $((now - created)) -le 120 ]

	ctr_kill_delete rt "$id"
}

@test "start -> running, kill -> stopped, delete -> nothing left" {
	id=$(ctr_id cycle)
	make_bundle "$BATS_TEST_TMPDIR/$id"
	ctr_create rt "$id"
	[ "$RC" -eq 0 ]
	assert_eq status created "$(ctr_status rt "$id")"

	rc_of rt start "$id"
	[ "$RC" -eq 0 ] || { echo "start: $ERR"; false; }
	wait_status rt "$id" running
	pid=$(ctr_pid rt "$id")
	[ "$pid" -gt 0 ]
	assert_eq "comm of container pid" sleep "$(cat "/proc/$pid/comm")"

	rc_of rt kill "$id" KILL
	[ "$RC" -eq 0 ] || { echo "kill: $ERR"; false; }
	wait_status rt "$id" stopped
	# the cgroup stays until delete, with no process in it
	d=$(cg_dir pids "$CG_PARENT/$id" 2>/dev/null || cg_dir memory "$CG_PARENT/$id")
	[ -d "$d" ]
	assert_eq "processes left in stopped container" "" "$(cat "$d/cgroup.procs")"

	rc_of rt delete "$id"
	[ "$RC" -eq 0 ] || { echo "delete: $ERR"; false; }
	[ ! -e "$d" ]
	[ ! -e "$RT_ROOT/$id" ]
	rc_of rt state "$id"
	[ "$RC" -ne 0 ]
}

@test "delete --force of a running container: nothing left" {
	id=$(ctr_id force)
	make_bundle "$BATS_TEST_TMPDIR/$id"
	ctr_run_d rt "$id"
	rc_of rt delete --force "$id"
	[ "$RC" -eq 0 ] || { echo "delete --force: $ERR"; false; }
	rc_of rt state "$id"
	[ "$RC" -ne 0 ]
}

sc_run_exit3() {
	local id b
	id=$(ctr_id "exit3-$1")
	b=$BATS_TEST_TMPDIR/$id
	make_bundle "$b" '.process.args = ["/bin/sh", "-c", "exit 3"]'
	rc_of "$1" run --bundle "$b" "$id"
	SC_RC=$RC SC_ERR=$ERR
	ctr_force_delete "$1" "$id"
}

@test "run: exit status of the container process (sh -c 'exit 3') = 3, like REF" {
	compare_failure sc_run_exit3
	assert_eq "run exit status" 3 "$SC_RC_RT"
}

sc_run_sigkill() {
	local id b pid i
	id=$(ctr_id "sigkill-$1")
	b=$BATS_TEST_TMPDIR/$id
	make_bundle "$b"
	(
		rc=0
		"$1" run --bundle "$b" "$id" </dev/null >"$b.out" 2>&1 || rc=$?
		echo "$rc" >"$b.rc"
	) 3>&- &
	wait_status "$1" "$id" running
	pid=$(ctr_pid "$1" "$id")
	kill -KILL "$pid"
	for ((i = 0; i < 200; i++)); do
		[[ -s $b.rc ]] && break
		sleep 0.05
	done
	wait
	SC_RC=$(cat "$b.rc")
	SC_ERR=$(cat "$b.out")
	ctr_force_delete "$1" "$id"
}

@test "run: container process killed by SIGKILL -> run exits 137, like REF" {
	compare_failure sc_run_sigkill
	assert_eq "run exit status" 137 "$SC_RC_RT"
}

@test "list: json and -q show the container with its status" {
	id=$(ctr_id list)
	make_bundle "$BATS_TEST_TMPDIR/$id"
	ctr_run_d rt "$id"
	run -0 rt list --format json
	echo "$output" | jq -e --arg id "$id" 'map(select(.id == $id and .status == "running" and .pid > 0)) | length == 1'
	run -0 rt list -q
	[[ $'\n'$output$'\n' == *$'\n'$id$'\n'* ]]
	ctr_kill_delete rt "$id"
	run -0 rt list -q
	[[ $'\n'$output$'\n' != *$'\n'$id$'\n'* ]]
}

@test "ps --format json lists exactly the container's processes" {
	id=$(ctr_id ps)
	make_bundle "$BATS_TEST_TMPDIR/$id" '.process.args = ["/bin/sh", "-c", "sleep 600 & sleep 600 & wait"]'
	ctr_run_d rt "$id"
	for i in $(seq 100); do
		[ "$(procs_of "$CG_PARENT/$id" | wc -l)" -ge 3 ] && break
		sleep 0.05
	done
	want=$(procs_of "$CG_PARENT/$id")
	[ "$(wc -l <<<"$want")" -eq 3 ]
	run -0 rt ps --format json "$id"
	got=$(jq -r '.[]' <<<"$output" | sort -n)
	assert_eq "ps --format json pids" "$want" "$got"
	ctr_kill_delete rt "$id"
}

@test "exec: output, exit status, and same cgroup as the init process" {
	id=$(ctr_id exec)
	make_bundle "$BATS_TEST_TMPDIR/$id"
	ctr_run_d rt "$id"
	rc_of rt exec "$id" /bin/sh -c 'echo hello; exit 5'
	assert_eq "exec exit status" 5 "$RC"
	assert_eq "exec stdout" hello "$OUT"
	rc_of rt exec "$id" /bin/sh -c 'cat /proc/self/cgroup; echo ---; cat /proc/1/cgroup'
	[ "$RC" -eq 0 ]
	self=${OUT%%---*}
	init=${OUT#*---}
	assert_eq "exec'd process cgroups == init's" "$(echo "$init" | sed '/^$/d')" "$(echo "$self" | sed '/^$/d')"
	ctr_kill_delete rt "$id"
}

@test "pause/resume: status and freezer state read back from the cgroup" {
	cg_has freezer.state || skip "no freezer on this layout"
	id=$(ctr_id pause)
	make_bundle "$BATS_TEST_TMPDIR/$id"
	ctr_run_d rt "$id"
	rc_of rt pause "$id"
	[ "$RC" -eq 0 ] || { echo "pause: $ERR"; false; }
	assert_eq status paused "$(ctr_status rt "$id")"
	assert_eq "freezer state after pause" FROZEN "$(cg_value "$CG_PARENT/$id" freezer.state)"
	rc_of rt resume "$id"
	[ "$RC" -eq 0 ] || { echo "resume: $ERR"; false; }
	assert_eq status running "$(ctr_status rt "$id")"
	assert_eq "freezer state after resume" THAWED "$(cg_value "$CG_PARENT/$id" freezer.state)"
	ctr_kill_delete rt "$id"
}

@test "kill --all (no pid namespace): every process in the cgroup gets the signal" {
	id=$(ctr_id killall)
	# without a pid namespace killing init does not kill the others: only a
	# real "all" reaches the two background sleeps
	make_bundle "$BATS_TEST_TMPDIR/$id" '.linux.namespaces |= map(select(.type != "pid")) | .process.args = ["/bin/sh", "-c", "sleep 600 & sleep 600 & wait"]'
	ctr_run_d rt "$id"
	for i in $(seq 100); do
		[ "$(procs_of "$CG_PARENT/$id" | wc -l)" -ge 3 ] && break
		sleep 0.05
	done
	[ "$(procs_of "$CG_PARENT/$id" | wc -l)" -eq 3 ]
	rc_of rt kill --all "$id" KILL
	[ "$RC" -eq 0 ] || { echo "kill --all: $ERR"; false; }
	for i in $(seq 100); do
		[ -z "$(procs_of "$CG_PARENT/$id")" ] && break
		sleep 0.05
	done
	assert_eq "processes left after kill --all" "" "$(procs_of "$CG_PARENT/$id")"
	wait_status rt "$id" stopped
	rc_of rt delete "$id"
	[ "$RC" -eq 0 ]
}

# ------------------------------------------- wrong states vs REF_RUNTIME ---

sc_start_running() {
	local id
	id=$(ctr_id "startrun-$1")
	make_bundle "$BATS_TEST_TMPDIR/$id"
	ctr_run_d "$1" "$id" || return 1
	rc_of "$1" start "$id"
	SC_RC=$RC SC_ERR=$ERR
	[[ $(ctr_status "$1" "$id") == running ]] || { echo "$1: container not running after failed start" >&2; return 1; }
	ctr_kill_delete "$1" "$id"
}
@test "wrong state: start a running container fails like REF" {
	compare_failure sc_start_running
}

sc_start_stopped() {
	local id
	id=$(ctr_id "startstop-$1")
	make_bundle "$BATS_TEST_TMPDIR/$id"
	ctr_run_d "$1" "$id" || return 1
	"$1" kill "$id" KILL 3>&-
	wait_status "$1" "$id" stopped || return 1
	rc_of "$1" start "$id"
	SC_RC=$RC SC_ERR=$ERR
	ctr_kill_delete "$1" "$id"
}
@test "wrong state: start a stopped container fails like REF" {
	compare_failure sc_start_stopped
}

sc_delete_running() {
	local id
	id=$(ctr_id "delrun-$1")
	make_bundle "$BATS_TEST_TMPDIR/$id"
	ctr_run_d "$1" "$id" || return 1
	rc_of "$1" delete "$id"
	SC_RC=$RC SC_ERR=$ERR
	# a refused delete must not have destroyed anything
	[[ $(ctr_status "$1" "$id") == running ]] || { echo "$1: not running after refused delete" >&2; return 1; }
	[[ -d $(cg_dir memory "$CG_PARENT/$id" 2>/dev/null || cg_dir pids "$CG_PARENT/$id") ]] ||
		{ echo "$1: cgroup gone after refused delete" >&2; return 1; }
	ctr_kill_delete "$1" "$id"
}
@test "wrong state: delete a running container without --force fails like REF" {
	compare_failure sc_delete_running
}

sc_kill_stopped() {
	local id
	id=$(ctr_id "killstop-$1")
	make_bundle "$BATS_TEST_TMPDIR/$id"
	ctr_run_d "$1" "$id" || return 1
	"$1" kill "$id" KILL 3>&-
	wait_status "$1" "$id" stopped || return 1
	rc_of "$1" kill "$id" KILL
	SC_RC=$RC SC_ERR=$ERR
	ctr_kill_delete "$1" "$id"
}
@test "wrong state: kill a stopped container fails like REF" {
	compare_failure sc_kill_stopped
}

sc_exec_paused() {
	local id
	cg_has freezer.state || { SC_RC=1; return 0; }
	id=$(ctr_id "execpause-$1")
	make_bundle "$BATS_TEST_TMPDIR/$id"
	ctr_run_d "$1" "$id" || return 1
	rc_of "$1" pause "$id"
	rc_of "$1" exec "$id" /bin/true
	SC_RC=$RC SC_ERR=$ERR
	ctr_kill_delete "$1" "$id"
}
@test "wrong state: exec in a paused container fails like REF" {
	cg_has freezer.state || skip "no freezer on this layout"
	compare_failure sc_exec_paused
}

sc_state_unknown() {
	rc_of "$1" state "$(ctr_id "nosuch-$1")"
	SC_RC=$RC SC_ERR=$ERR
}
@test "wrong state: state of an unknown id fails like REF" {
	compare_failure sc_state_unknown
}

sc_create_duplicate() {
	local id
	id=$(ctr_id "dup-$1")
	make_bundle "$BATS_TEST_TMPDIR/$id"
	ctr_run_d "$1" "$id" || return 1
	pid=$(ctr_pid "$1" "$id")
	ctr_create "$1" "$id"
	SC_RC=$RC SC_ERR=$ERR
	# the original container is untouched
	[[ $(ctr_status "$1" "$id") == running && $(ctr_pid "$1" "$id") == "$pid" ]] ||
		{ echo "$1: original container disturbed by duplicate create" >&2; return 1; }
	ctr_kill_delete "$1" "$id"
}
@test "wrong state: create with a duplicate id fails like REF and leaves the original alone" {
	compare_failure sc_create_duplicate
}
