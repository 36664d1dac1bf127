#!/usr/bin/env bats
# Concurrency: racing creates of one id (exactly one wins, the others get a
# clear error, nothing half-made stays), parallel lifecycles on different
# ids with readers polling list/state (state never corrupt), start / kill /
# delete racing a create of the same id (the per-container lock makes them
# wait for it), permissions of the state files.

bats_require_minimum_version 1.5.0
load ../lib/common
load ../lib/reliability

setup_file() { suite_setup_file; }
teardown_file() { suite_teardown_file; }
setup() { suite_setup; }
teardown() { suite_teardown; }

rcrun_only() {
	runtime_is_runc "$RUNTIME" && skip "rcrun's locking is what this tests"
	return 0
}

@test "8 concurrent creates of one id, 15 rounds: exactly one wins, the others fail clearly" {
	local id b round i n_ok errs
	id=$(ctr_id samecreate)
	b=$BATS_TEST_TMPDIR/$id
	make_bundle "$b" '.linux.resources.memory = {"limit": 67108864}'
	for ((round = 0; round < 15; round++)); do
		local pids=() rcs=()
		for ((i = 0; i < 8; i++)); do
			rt create --bundle "$b" "$id" </dev/null >/dev/null 2>"$BATS_TEST_TMPDIR/err.$i" 3>&- &
			pids+=($!)
		done
		for ((i = 0; i < 8; i++)); do
			rcs[i]=0
			wait "${pids[i]}" || rcs[i]=$?
		done
		n_ok=0 errs=""
		for ((i = 0; i < 8; i++)); do
			if [[ ${rcs[i]} == 0 ]]; then
				n_ok=$((n_ok + 1))
			else
				errs+=$(<"$BATS_TEST_TMPDIR/err.$i")$'\n'
			fi
		done
		[ "$n_ok" -eq 1 ] || { echo "round $round: $n_ok creates succeeded; errors:"; echo "$errs"; false; }
		# every loser: one line saying the id exists
		while IFS= read -r line; do
			[[ -z $line ]] && continue
			assert_one_line_error "$line" "exists|$id"
		done <<<"$errs"
		assert_eq "status of the winner (round $round)" created "$(ctr_status rt "$id")"
		pid=$(ctr_pid rt "$id")
		[ -d "/proc/$pid" ]
		ctr_kill_delete rt "$id"
		nothing_left_of rt "$id"
	done
}

# worker ID CYCLES: create/start/kill/delete loop; writes failures to
# $BATS_TEST_TMPDIR/fail.ID
lifecycle_worker() {
	local id=$1 n=$2 b=$BATS_TEST_TMPDIR/$1 c
	for ((c = 0; c < n; c++)); do
		rt create --bundle "$b" "$id" </dev/null >/dev/null 2>>"$BATS_TEST_TMPDIR/fail.$id" 3>&- || { echo "create #$c" >>"$BATS_TEST_TMPDIR/fail.$id"; return; }
		rt start "$id" </dev/null >/dev/null 2>>"$BATS_TEST_TMPDIR/fail.$id" 3>&- || { echo "start #$c" >>"$BATS_TEST_TMPDIR/fail.$id"; return; }
		rt kill "$id" KILL </dev/null >/dev/null 2>>"$BATS_TEST_TMPDIR/fail.$id" 3>&- || { echo "kill #$c" >>"$BATS_TEST_TMPDIR/fail.$id"; return; }
		rt delete --force "$id" </dev/null >/dev/null 2>>"$BATS_TEST_TMPDIR/fail.$id" 3>&- || { echo "delete #$c" >>"$BATS_TEST_TMPDIR/fail.$id"; return; }
	done
}

# reader: list --format json and state of every listed id must parse, until
# $BATS_TEST_TMPDIR/stop exists.
state_reader() {
	local out n=0 id
	while [[ ! -e $BATS_TEST_TMPDIR/stop ]]; do
		out=$(rt list --format json 2>&1 </dev/null 3>&-) || { echo "list failed: $out" >>"$BATS_TEST_TMPDIR/fail.reader"; return; }
		jq -e 'type == "array"' <<<"$out" >/dev/null 2>&1 || { echo "list: bad JSON: $out" >>"$BATS_TEST_TMPDIR/fail.reader"; return; }
		for id in $(jq -r '.[].id' <<<"$out"); do
			out=$(rt state "$id" 2>&1 </dev/null 3>&-) || {
				# deleted between list and state: fine, if said clearly
				[[ $out == *"does not exist"* ]] && continue
				echo "state $id: $out" >>"$BATS_TEST_TMPDIR/fail.reader"
				return
			}
			jq -e .status <<<"$out" >/dev/null 2>&1 || { echo "state $id: bad JSON: $out" >>"$BATS_TEST_TMPDIR/fail.reader"; return; }
		done
		n=$((n + 1))
	done
	echo "$n" >"$BATS_TEST_TMPDIR/reader.rounds"
}

@test "4 parallel lifecycles on different ids (40 cycles each) with a list/state reader: no failure, no corrupt state" {
	local w ids=() n=40
	for w in 1 2 3 4; do
		ids+=("$(ctr_id "par$w")")
		make_bundle "$BATS_TEST_TMPDIR/${ids[-1]}" '.linux.resources.memory = {"limit": 67108864} | .process.args = ["sleep", "600"]'
	done
	state_reader &
	reader=$!
	local pids=()
	for w in "${ids[@]}"; do
		lifecycle_worker "$w" "$n" &
		pids+=($!)
	done
	wait "${pids[@]}"
	touch "$BATS_TEST_TMPDIR/stop"
	wait "$reader"
	for f in "$BATS_TEST_TMPDIR"/fail.*; do
		[[ -s $f ]] || continue
		echo "== $f"
		cat "$f"
		false
	done
	note "reader rounds: $(cat "$BATS_TEST_TMPDIR/reader.rounds" 2>/dev/null)"
	for w in "${ids[@]}"; do nothing_left_of rt "$w"; done
}

@test "delete --force racing a create of the same id (25 rounds): all or nothing" {
	rcrun_only
	local id b r left=0 kept=0
	id=$(ctr_id racedel)
	b=$BATS_TEST_TMPDIR/$id
	make_bundle "$b"
	for ((r = 0; r < 25; r++)); do
		rt create --bundle "$b" "$id" </dev/null >/dev/null 2>"$BATS_TEST_TMPDIR/create.err" 3>&- &
		cpid=$!
		sleep "0.00$((RANDOM % 10))"
		rc_of rt delete --force "$id"
		[ "$RC" -eq 0 ] || { echo "round $r: delete --force: $ERR"; false; }
		wait "$cpid" || true
		# either the create came second and the container is whole, or
		# nothing is left at all
		if [[ -e $RT_ROOT/$id ]]; then
			kept=$((kept + 1))
			assert_eq "round $r: status of the surviving container" created "$(ctr_status rt "$id")"
			ctr_kill_delete rt "$id"
		fi
		nothing_left_of rt "$id" || { echo "round $r; create said: $(cat "$BATS_TEST_TMPDIR/create.err")"; false; }
	done
	note "container survived (create after delete) in $kept of 25 rounds"
}

@test "start and kill racing a create of the same id wait for it (20 rounds)" {
	rcrun_only
	local id b r id2 b2
	id=$(ctr_id racestart)
	b=$BATS_TEST_TMPDIR/$id
	make_bundle "$b"
	id2=$(ctr_id racekill)
	b2=$BATS_TEST_TMPDIR/$id2
	make_bundle "$b2"
	for ((r = 0; r < 20; r++)); do
		rt create --bundle "$b" "$id" </dev/null >/dev/null 2>&1 3>&- &
		cpid=$!
		# until the state directory exists: from then on start must wait for
		# the create, never see a half-made container
		for ((i = 0; i < 2000; i++)); do [[ -e $RT_ROOT/$id ]] && break; sleep 0.001; done
		rc_of rt start "$id"
		[ "$RC" -eq 0 ] || { echo "round $r: start racing create: $ERR"; false; }
		wait "$cpid"
		assert_eq "round $r: status" running "$(ctr_status rt "$id")"
		rt create --bundle "$b2" "$id2" </dev/null >/dev/null 2>&1 3>&- &
		cpid=$!
		for ((i = 0; i < 2000; i++)); do [[ -e $RT_ROOT/$id2 ]] && break; sleep 0.001; done
		rc_of rt kill "$id2" KILL
		[ "$RC" -eq 0 ] || { echo "round $r: kill racing create: $ERR"; false; }
		wait "$cpid"
		wait_status rt "$id2" stopped
		rc_of rt delete "$id2"
		[ "$RC" -eq 0 ] || { echo "round $r: delete: $ERR"; false; }
		ctr_kill_delete rt "$id"
		nothing_left_of rt "$id"
	done
}

@test "state directory 0700, state files 0600, written atomically (no temp file left)" {
	id=$(ctr_id perms)
	make_bundle "$BATS_TEST_TMPDIR/$id"
	ctr_create rt "$id"
	[ "$RC" -eq 0 ]
	assert_eq "mode of the container's state dir" 700 "$(stat -c %a "$RT_ROOT/$id")"
	if [[ -e $RT_ROOT/$id/state.json ]]; then
		assert_eq "mode of state.json" 600 "$(stat -c %a "$RT_ROOT/$id/state.json")"
		# world-readable files in it would leak the spec (env: secrets)
		bad=$(find "$RT_ROOT/$id" -maxdepth 1 -type f -perm /077)
		assert_eq "group/world-accessible files in the state dir" "" "$bad"
		assert_eq "temp files left" "" "$(find "$RT_ROOT/$id" -name '*.tmp')"
	fi
	ctr_kill_delete rt "$id"
}
