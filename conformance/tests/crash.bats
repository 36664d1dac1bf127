#!/usr/bin/env bats
# Crashes mid-operation: rcrun SIGKILLed at each step of create, start and
# delete (deterministically: an rcrun built with the cargo feature
# crash-points kills itself at RCRUN_TEST_CRASH_AT=<step>, see
# runtime/src/crashpoint.rs), and at random moments from outside.  After
# each crash the NORMAL rcrun must: answer `state` and `list`, remove
# everything with `delete --force`, and create the same id again.  The init
# dying before `start` must be reported clearly.  A killed `start` leaves
# either a created container that `delete` without --force kills and
# removes, or a running one whose state says so (container/start.rs).

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

# program_runs PID: the init has exec'd the user's `sleep` (before, its
# name is rcrun's "rcrun:[INIT]"); waits up to 2 s for a released init.
program_runs() {
	local i
	for ((i = 0; i < 40; i++)); do
		[[ $(cat "/proc/$1/comm" 2>/dev/null) == sleep ]] && return 0
		sleep 0.05
	done
	return 1
}

# gone PID: no such process (or a zombie).
gone() {
	local st
	st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)
	[[ -z $st || $st == Z ]]
}

# start_crash STEP WANT [HOOKS]: `start` killed at STEP (a poststart hook
# when HOOKS=hooks).  WANT is what the state must then say, and what the
# user's program must be doing: "created-waiting" (init not released),
# "created-running" (released, start not recorded) or "running".  Then
# `delete` WITHOUT --force (what docker 20.10's runc shim runs after a
# failed start): a created container is killed and removed, nothing left
# (no process, no cgroup, no state); a running one is refused, and delete
# --force removes it.
start_crash() {
	local step=$1 want=$2 id pid d st filter=.
	need_crash_rt
	id=$(ctr_id "crash-${step//:/-}")
	[[ ${3:-} == hooks ]] && filter=".hooks = {poststart: [{path: \"/bin/sh\", args: [\"sh\", \"-c\", \"cat > $BATS_TEST_TMPDIR/poststart.json\"]}]}"
	make_bundle "$BATS_TEST_TMPDIR/$id" "$filter"
	ctr_create rt "$id"
	[ "$RC" -eq 0 ] || { echo "create: $ERR"; false; }
	pid=$(ctr_pid rt "$id")
	d=$(cg_dir memory "$CG_PARENT/$id" 2>/dev/null || cg_dir unified "$CG_PARENT/$id")
	crash_at "$step" start "$id"
	[ "$RC" -eq 137 ] || { echo "start with RCRUN_TEST_CRASH_AT=$step: expected rc 137, got $RC: $ERR"; false; }
	st=$(ctr_status rt "$id")
	case $want in
	created-waiting)
		! program_runs "$pid" || { echo "$step: the init exec'd its program"; false; } ;;
	*)
		program_runs "$pid" || { echo "$step: the init did not exec its program: $(cat "/proc/$pid/comm")"; false; } ;;
	esac
	note "$step: state $st, /proc/$pid/comm $(cat "/proc/$pid/comm")"
	assert_eq "$step: status" "${want%-*}" "$st"
	if [[ $want == created-running ]]; then
		# a second start cannot release it again, and says why
		rc_of rt start "$id"
		[ "$RC" -ne 0 ] || { echo "$step: a second start succeeded"; false; }
		assert_one_line_error "$ERR" 'earlier start was killed' 'delete'
	fi
	rc_of rt delete "$id"
	if [[ $want == running ]]; then
		[ "$RC" -ne 0 ] || { echo "$step: delete (no --force) removed a running container"; false; }
		assert_one_line_error "$ERR" 'not stopped: running'
		rc_of rt delete --force "$id"
	fi
	[ "$RC" -eq 0 ] || { echo "$step: delete: rc=$RC $ERR"; false; }
	gone "$pid" || { echo "$step: pid $pid ($(cat "/proc/$pid/comm")) survived the delete"; false; }
	[ ! -e "$d" ] || { echo "$step: cgroup $d left: $(cat "$d/cgroup.procs")"; false; }
	nothing_left_of rt "$id"
}

@test "kill -9 in start before the init is released: created, delete removes it" {
	start_crash start:before-release created-waiting
}

@test "kill -9 in start right after the connect that releases the init: created, delete kills the program" {
	start_crash start:after-connect created-running
}

@test "kill -9 in start after the release, before the state save: created, delete kills the program" {
	start_crash start:after-release created-running
}

@test "kill -9 in start before the poststart hooks (started saved with its starter): created, delete kills" {
	start_crash start:before-poststart created-running hooks
}

@test "kill -9 in start after the poststart hooks, before the final save: created, delete kills" {
	start_crash start:after-poststart created-running hooks
}

@test "kill -9 in start after the final save: running, delete refuses, delete --force removes" {
	start_crash start:after-save running
}

@test "kill -9 in start at each step, then the normal recovery (state, list, delete --force, same id)" {
	need_crash_rt
	local step
	for step in start:before-release start:after-release start:after-save; do
		id=$(ctr_id "crash-rec-${step//:/-}")
		make_bundle "$BATS_TEST_TMPDIR/$id"
		ctr_create rt "$id"
		[ "$RC" -eq 0 ] || { echo "create: $ERR"; false; }
		crash_at "$step" start "$id"
		[ "$RC" -eq 137 ] || { echo "start: expected rc 137, got $RC: $ERR"; false; }
		after_crash "$id"
	done
}

@test "start after a start killed before the release: the container starts normally" {
	need_crash_rt
	id=$(ctr_id crash-restart)
	make_bundle "$BATS_TEST_TMPDIR/$id"
	ctr_create rt "$id"
	pid=$(ctr_pid rt "$id")
	crash_at start:before-release start "$id"
	[ "$RC" -eq 137 ]
	rc_of rt start "$id"
	[ "$RC" -eq 0 ] || { echo "start after the killed start: $ERR"; false; }
	program_runs "$pid"
	assert_eq status running "$(ctr_status rt "$id")"
	ctr_kill_delete rt "$id"
	nothing_left_of rt "$id"
}

@test "kill -9 of start at random moments (30 tries): the state never says running before the program runs; delete cleans up" {
	[[ $(basename "$RUNTIME") == rcrun ]] || skip "rcrun only"
	id=$(ctr_id crash-rstart)
	make_bundle "$BATS_TEST_TMPDIR/$id"
	local i delay st pid outcomes=""
	for ((i = 0; i < 30; i++)); do
		ctr_create rt "$id"
		[ "$RC" -eq 0 ] || { echo "create #$i: $ERR"; false; }
		pid=$(ctr_pid rt "$id")
		delay=$(printf '0.%03d' $((RANDOM % 8)))
		"$RUNTIME" --root "$RT_ROOT" start "$id" </dev/null >/dev/null 2>&1 3>&- &
		p=$!
		sleep "$delay"
		kill -9 "$p" 2>/dev/null || true
		prc=0
		wait "$p" || prc=$?
		st=$(ctr_status rt "$id")
		outcomes+=" $prc:$st"
		if [[ $st == running ]]; then
			program_runs "$pid" || { echo "#$i: state running, init not exec'd ($(cat "/proc/$pid/comm"))"; false; }
			rc_of rt delete --force "$id"
		else
			[[ $st == created ]] || { echo "#$i: state '$st' after a killed start"; false; }
			rc_of rt delete "$id"
		fi
		[ "$RC" -eq 0 ] || { echo "delete after kill #$i (delay $delay, state $st): $ERR"; false; }
		gone "$pid" || { echo "#$i: pid $pid survived delete"; false; }
		nothing_left_of rt "$id" || { echo "after kill #$i (delay $delay)"; false; }
	done
	note "exit status:state after each killed start:$outcomes"
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
