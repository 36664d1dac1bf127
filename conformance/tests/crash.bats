#!/usr/bin/env bats
# Crashes mid-operation: rcrun SIGKILLed at each step of create, start and
# delete (deterministically: an rcrun built with the cargo feature
# crash-points kills itself at RCRUN_TEST_CRASH_AT=<step>, see
# runtime/src/crashpoint.rs), and at random moments from outside.  After
# each crash the NORMAL rcrun must: answer `state` and `list`, remove
# everything with `delete --force`, and create the same id again.  The init
# dying before `start` must be reported clearly.

bats_require_minimum_version 1.5.0
load ../lib/common
load ../lib/reliability

setup_file() {
	suite_setup_file || return 1
	local b
	if b=$(crash_runtime 2>"$BATS_FILE_TMPDIR/crash-build.log"); then
		echo "$b" >"$BATS_FILE_TMPDIR/crash-rt"
	fi
}
teardown_file() { suite_teardown_file; }
setup() {
	suite_setup
	CRASH_RT=""
	[[ -s $BATS_FILE_TMPDIR/crash-rt ]] && CRASH_RT=$(<"$BATS_FILE_TMPDIR/crash-rt")
}
teardown() { suite_teardown; }

need_crash_rt() {
	[[ -n $CRASH_RT ]] || skip "no crash-points build: $(tail -n 3 "$BATS_FILE_TMPDIR/crash-build.log" | tr '\n' ' ')"
}

# crash_at STEP ARGS...: run the crash-points rcrun with RCRUN_TEST_CRASH_AT
# =STEP; sets RC and ERR.
crash_at() {
	local step=$1
	shift
	RC=0
	RCRUN_TEST_CRASH_AT=$step timeout -k 5 60 "$CRASH_RT" --root "$RT_ROOT" "$@" \
		</dev/null >"$BATS_TEST_TMPDIR/crash.out" 2>"$BATS_TEST_TMPDIR/crash.err" 3>&- || RC=$?
	ERR=$(cat "$BATS_TEST_TMPDIR/crash.err")
}

# after_crash ID: state and list answer (state: a status or a one-line
# "does not exist"), delete --force succeeds and leaves nothing, and the
# same id can be created (and deleted) again.
after_crash() {
	local id=$1 st
	rc_of rt state "$id"
	if [[ $RC -eq 0 ]]; then
		st=$(jq -r .status <<<"$OUT") || { echo "state printed no JSON: $OUT"; return 1; }
		note "state after the crash: $st (pid $(jq -r .pid <<<"$OUT"))"
	else
		assert_one_line_error "$ERR" 'does not exist'
		note "state after the crash: does not exist"
	fi
	rc_of rt list --format json
	[[ $RC -eq 0 ]] || { echo "list failed after the crash: $ERR"; return 1; }
	jq -e 'type == "array"' <<<"$OUT" >/dev/null || { echo "list: not a JSON array: $OUT"; return 1; }
	rc_of rt list
	[[ $RC -eq 0 ]] || { echo "list (table) failed after the crash: $ERR"; return 1; }

	rc_of rt delete --force "$id"
	[[ $RC -eq 0 ]] || { echo "delete --force after the crash: rc=$RC $ERR"; return 1; }
	nothing_left_of rt "$id" || return 1
	rc_of rt state "$id"
	[[ $RC -ne 0 ]] || { echo "state still answers after delete --force: $OUT"; return 1; }

	# the id is free again
	ctr_create rt "$id"
	[[ $RC -eq 0 ]] || { echo "create of the same id after the crash: rc=$RC $ERR"; return 1; }
	assert_eq "status of the re-created container" created "$(ctr_status rt "$id")" || return 1
	rc_of rt start "$id"
	[[ $RC -eq 0 ]] || { echo "start of the re-created container: $ERR"; return 1; }
	ctr_kill_delete rt "$id" || return 1
	nothing_left_of rt "$id"
}

# create_crash STEP: create killed at STEP; extra checks that the step was
# really reached; then after_crash.
create_crash() {
	local step=$1 id d
	need_crash_rt
	id=$(ctr_id "crash-${step//:/-}")
	make_bundle "$BATS_TEST_TMPDIR/$id" '.linux.resources.memory = {"limit": 67108864} | .linux.resources.pids = {"limit": 64}'
	crash_at "$step" create --bundle "$BATS_TEST_TMPDIR/$id" "$id"
	[ "$RC" -eq 137 ] || { echo "create with RCRUN_TEST_CRASH_AT=$step: expected SIGKILL (rc 137), got rc=$RC: $ERR"; false; }
	d=$(cg_dir memory "$CG_PARENT/$id" 2>/dev/null || cg_dir unified "$CG_PARENT/$id")
	case $step in
	create:after-mkdir | create:after-state-dir | create:after-state-init)
		[ ! -e "$d" ] || { echo "$step: cgroup $d exists already"; false; } ;;
	*)
		[ -d "$d" ] || { echo "$step: cgroup $d missing"; false; } ;;
	esac
	case $step in
	create:after-clone | create:after-state-write)
		[ -n "$(cat "$d/cgroup.procs")" ] || { echo "$step: no process in $d"; false; } ;;
	esac
	after_crash "$id"
}

@test "kill -9 in create after the state dir mkdir (no lock file yet)" {
	create_crash create:after-mkdir
}

@test "kill -9 in create after the state dir is made and locked" {
	create_crash create:after-state-dir
}

@test "kill -9 in create after the first state write (pid 0)" {
	create_crash create:after-state-init
}

@test "kill -9 in create after the cgroup mkdir" {
	create_crash create:after-cgroup-mkdir
}

@test "kill -9 in create after the limits are written" {
	create_crash create:after-resources
}

@test "kill -9 in create after the clone of the init (pid not saved)" {
	create_crash create:after-clone
}

@test "kill -9 in create after the final state write" {
	create_crash create:after-state-write
}

@test "create killed after its mkdir: a plain create of the same id reuses nothing it should not" {
	need_crash_rt
	id=$(ctr_id crash-recreate)
	make_bundle "$BATS_TEST_TMPDIR/$id"
	# locked, stateless directory: the next create removes it by itself
	crash_at create:after-state-dir create --bundle "$BATS_TEST_TMPDIR/$id" "$id"
	[ "$RC" -eq 137 ]
	ctr_create rt "$id"
	[ "$RC" -eq 0 ] || { echo "create over a dead create's directory: $ERR"; false; }
	ctr_kill_delete rt "$id"
	# a state with pid 0 (cgroups made): the id stays taken until delete
	crash_at create:after-cgroup-mkdir create --bundle "$BATS_TEST_TMPDIR/$id" "$id"
	[ "$RC" -eq 137 ]
	ctr_create rt "$id"
	[ "$RC" -ne 0 ]
	assert_one_line_error "$ERR" 'exists'
	assert_eq "status of the dead create" stopped "$(ctr_status rt "$id")"
	rc_of rt delete "$id"
	[ "$RC" -eq 0 ] || { echo "delete (no --force) of a stopped dead create: $ERR"; false; }
	nothing_left_of rt "$id"
}

@test "kill -9 in start before the init is told to exec" {
	need_crash_rt
	id=$(ctr_id crash-start)
	make_bundle "$BATS_TEST_TMPDIR/$id"
	ctr_create rt "$id"
	[ "$RC" -eq 0 ] || { echo "create: $ERR"; false; }
	pid=$(ctr_pid rt "$id")
	crash_at start:before-exec start "$id"
	[ "$RC" -eq 137 ] || { echo "start: expected rc 137, got $RC: $ERR"; false; }
	# the init never exec'd sleep (documented: state says running)
	[ "$(cat "/proc/$pid/comm")" != sleep ]
	after_crash "$id"
}

@test "kill -9 in delete after the kill" {
	need_crash_rt
	id=$(ctr_id crash-del-kill)
	make_bundle "$BATS_TEST_TMPDIR/$id"
	ctr_run_d rt "$id"
	crash_at delete:after-kill delete --force "$id"
	[ "$RC" -eq 137 ] || { echo "delete: expected rc 137, got $RC: $ERR"; false; }
	assert_eq "status after a killed delete" stopped "$(ctr_status rt "$id")"
	after_crash "$id"
}

@test "kill -9 in delete after the cgroups are removed" {
	need_crash_rt
	id=$(ctr_id crash-del-cg)
	make_bundle "$BATS_TEST_TMPDIR/$id"
	ctr_run_d rt "$id"
	crash_at delete:after-cgroup-rm delete --force "$id"
	[ "$RC" -eq 137 ] || { echo "delete: expected rc 137, got $RC: $ERR"; false; }
	after_crash "$id"
}

@test "kill -9 of create at random moments (30 tries): delete --force leaves nothing" {
	[[ $(basename "$RUNTIME") == rcrun ]] || skip "rcrun only"
	id=$(ctr_id crash-random)
	make_bundle "$BATS_TEST_TMPDIR/$id" '.linux.resources.memory = {"limit": 67108864}'
	local i delay outcomes=""
	for ((i = 0; i < 30; i++)); do
		delay=$(printf '0.%03d' $((RANDOM % 40)))
		"$RUNTIME" --root "$RT_ROOT" create --bundle "$BATS_TEST_TMPDIR/$id" "$id" </dev/null >/dev/null 2>&1 3>&- &
		p=$!
		sleep "$delay"
		kill -9 "$p" 2>/dev/null || true
		prc=0
		wait "$p" || prc=$?
		outcomes+=" $prc"
		rc_of rt list --format json
		[ "$RC" -eq 0 ] || { echo "list after kill #$i: $ERR"; false; }
		rc_of rt delete --force "$id"
		[ "$RC" -eq 0 ] || { echo "delete --force after kill #$i (delay $delay): $ERR"; false; }
		nothing_left_of rt "$id" || { echo "after kill #$i (delay $delay)"; false; }
	done
	note "exit statuses of the killed creates:$outcomes"
}

@test "init killed before start: start fails naming it; delete works" {
	id=$(ctr_id diedearly)
	make_bundle "$BATS_TEST_TMPDIR/$id"
	ctr_create rt "$id"
	[ "$RC" -eq 0 ]
	pid=$(ctr_pid rt "$id")
	kill -9 "$pid"
	wait_status rt "$id" stopped
	rc_of rt start "$id"
	[ "$RC" -ne 0 ]
	note "start: $ERR"
	assert_one_line_error "$ERR" 'stopped' 'exited before start|init'
	rc_of rt delete "$id"
	[ "$RC" -eq 0 ] || { echo "delete: $ERR"; false; }
	nothing_left_of rt "$id"
}

sc_died_before_start() {
	local id pid
	id=$(ctr_id "diedref-$1")
	make_bundle "$BATS_TEST_TMPDIR/$id"
	ctr_create "$1" "$id"
	pid=$(ctr_pid "$1" "$id")
	kill -9 "$pid"
	wait_status "$1" "$id" stopped
	rc_of "$1" start "$id"
	SC_RC=$RC SC_ERR=$ERR
	ctr_force_delete "$1" "$id"
}
@test "init killed before start: same exit status as REF" {
	compare_failure sc_died_before_start
}
