#!/usr/bin/env bats
# OOM kills told apart and explained (rcrun's own features: `state`'s "oom"
# object, `events` {"type":"oom"}, `oom-report`, the warn line in the log).
# A real process really allocates past the limit: busybox dd bs=200M.
#   (a) init OOM-killed            (b) a child killed, init lives on
#   (c) SIGTERM exit after an earlier child OOM is not "OOM-killed"
#   (d) a kill caused by an ANCESTOR cgroup's limit
#   plus: disableOOMKiller -> underOom, one oom event per frozen episode and
#   a "frozen at its limit" account; the delete-right-after-exit race; and
#   the OOM journal: the account after delete (docs/oom.md).
# Skipped for runtimes without `oom-report` (runc).

bats_require_minimum_version 1.5.0
load ../lib/common

setup_file() { suite_setup_file; }
teardown_file() { suite_teardown_file; }
setup() {
	suite_setup
	if ! "$RUNTIME" oom-report --help >/dev/null 2>&1; then
		skip "$(basename "$RUNTIME") has no oom-report (rcrun feature)"
	fi
	cg_has memory.limit || skip "no memory controller for the test parent"
}
teardown() {
	# the `events` reader of test (b), if the test failed before it ended
	[[ -n ${EVPID:-} ]] && kill "$EVPID" 2>/dev/null && wait "$EVPID" 2>/dev/null
	# the frozen test's readers (rcrun's and runc's)
	local p
	for p in ${EVPIDS:-}; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	suite_teardown
}

DD='["dd","if=/dev/zero","of=/dev/null","bs=200M","count=1"]'
LIMIT=134217728

# oom_counter CGPATH: the oom_kill counter of a container cgroup.
oom_counter() { cg_value "$1" memory.oom_kill; }

# wait_oom CGPATH: until the cgroup counted an OOM kill (10 s at most).
wait_oom() {
	local i n
	for ((i = 0; i < 200; i++)); do
		n=$(oom_counter "$1" 2>/dev/null)
		[[ ${n:-0} -ge 1 ]] && return 0
		sleep 0.05
	done
	echo "no OOM kill counted in $1 after 10s (oom_kill='$n')" >&2
	return 1
}

@test "(a) init OOM-killed: state.oom.initOomKilled, report names init as the victim" {
	local id pid st
	id=$(ctr_id oom-a)
	make_bundle "$BATS_TEST_TMPDIR/$id" ".linux.resources.memory = {limit: $LIMIT} | .process.args = $DD"
	ctr_create rt "$id"
	[[ $RC -eq 0 ]] || { echo "create: $ERR"; false; }
	pid=$(ctr_pid rt "$id")
	rc_of rt start "$id"
	wait_status rt "$id" stopped
	st=$(rt state "$id")
	echo "$st"
	assert_eq "initOomKilled" true "$(jq -r .oom.initOomKilled <<<"$st")"
	assert_eq "limitHitByAncestor" false "$(jq -r .oom.limitHitByAncestor <<<"$st")"
	[[ $(jq -r .oom.oomKills <<<"$st") -ge 1 ]]
	run rt oom-report --format json "$id"
	echo "$output"
	assert_eq "victim pid" "$pid" "$(jq -r '.kills[-1].pid' <<<"$output")"
	assert_eq "victim command" dd "$(jq -r '.kills[-1].command' <<<"$output")"
	assert_eq "limit at the kill (kB)" $((LIMIT / 1024)) "$(jq -r '.kills[-1].limit_kb // (.counters.limit / 1024)' <<<"$output")"
	run rt oom-report "$id"
	echo "$output"
	[[ $output == *"the container's init process"* ]]
	[[ $output == *"the container's own memory limit"* ]]
	rc_of rt delete "$id"
	[[ $RC -eq 0 ]]
}

@test "(b) child OOM-killed, init lives on: events prints oom at once, init not OOM-killed" {
	local id st
	id=$(ctr_id oom-b)
	make_bundle "$BATS_TEST_TMPDIR/$id" ".linux.resources.memory = {limit: $LIMIT} | .process.args = [\"sh\",\"-c\",\"sleep 0.5; dd if=/dev/zero of=/dev/null bs=200M count=1; sleep 600\"]"
	ctr_create rt "$id"
	[[ $RC -eq 0 ]] || { echo "create: $ERR"; false; }
	rt events --interval 60s "$id" >"$BATS_TEST_TMPDIR/events" 2>"$BATS_TEST_TMPDIR/events.err" 3>&- &
	EVPID=$!
	sleep 0.2
	rc_of rt start "$id"
	wait_oom "$CG_PARENT/$id"
	# the event is emitted as soon as the kernel counts the kill
	local i
	for ((i = 0; i < 40; i++)); do
		grep -q '"oom"' "$BATS_TEST_TMPDIR/events" && break
		sleep 0.05
	done
	cat "$BATS_TEST_TMPDIR/events"
	assert_eq "oom events" 1 "$(grep -c '"type":"oom"' "$BATS_TEST_TMPDIR/events")"
	assert_eq "status" running "$(ctr_status rt "$id")"
	st=$(rt state "$id")
	assert_eq "initOomKilled" false "$(jq -r .oom.initOomKilled <<<"$st")"
	assert_eq "oomKills" 1 "$(jq -r .oom.oomKills <<<"$st")"
	ctr_kill_delete rt "$id"
	wait "$EVPID" || true
	EVPID=""
	# events ends by itself when the container stops
	assert_eq "oom events after exit" 1 "$(grep -c '"type":"oom"' "$BATS_TEST_TMPDIR/events")"
}

@test "(c) container exits on SIGTERM after an earlier child OOM: not OOM-killed" {
	local id st
	id=$(ctr_id oom-c)
	make_bundle "$BATS_TEST_TMPDIR/$id" ".linux.resources.memory = {limit: $LIMIT} | .process.args = [\"sh\",\"-c\",\"trap 'exit 143' TERM; dd if=/dev/zero of=/dev/null bs=200M count=1; while :; do sleep 0.1; done\"]"
	ctr_run_d rt "$id"
	wait_oom "$CG_PARENT/$id"
	rc_of rt kill "$id" TERM
	wait_status rt "$id" stopped
	st=$(rt state "$id")
	echo "$st"
	assert_eq "initOomKilled" false "$(jq -r .oom.initOomKilled <<<"$st")"
	assert_eq "oomKills" 1 "$(jq -r .oom.oomKills <<<"$st")"
	rc_of rt delete "$id"
	[[ $RC -eq 0 ]]
}

@test "(d) kill caused by an ANCESTOR cgroup's limit is reported as such" {
	local id anc st
	id=$(ctr_id oom-d)
	anc=$CG_PARENT/anc-$id
	# the ancestor (made by the test) has the limit; the container has none
	mkdir -p "$(cg_mount memory)$anc"
	if [[ -e $(cg_mount memory)$anc/memory.limit_in_bytes ]]; then
		echo $((64 * 1048576)) >"$(cg_mount memory)$anc/memory.limit_in_bytes"
	else
		echo $((64 * 1048576)) >"$(cg_mount memory)$anc/memory.max"
		echo +memory >"$(cg_mount memory)$anc/cgroup.subtree_control"
	fi
	make_bundle "$BATS_TEST_TMPDIR/$id" ".linux.cgroupsPath = \"$anc/$id\" | .process.args = $DD"
	ctr_run_d rt "$id" || true
	wait_status rt "$id" stopped
	st=$(rt state "$id")
	echo "$st"
	run rt oom-report "$id"
	echo "$output"
	assert_eq "limitHitByAncestor" true "$(jq -r .oom.limitHitByAncestor <<<"$st")"
	assert_eq "oomCgroup" "$anc" "$(jq -r .oom.oomCgroup <<<"$st")"
	assert_eq "initOomKilled" true "$(jq -r .oom.initOomKilled <<<"$st")"
	[[ $output == *"ANCESTOR cgroup $anc"* ]]
	rc_of rt delete "$id"
	[[ $RC -eq 0 ]]
	# the memory dir of the ancestor is the test's; in the other hierarchies
	# the runtime made it and delete removed it (the leak check verifies)
	rmdir "$(cg_mount memory)$anc"
}

@test "disableOOMKiller: the container freezes at its limit and state says underOom" {
	[[ $CG_LAYOUT != v2 ]] || skip "cgroup v2 has no OOM-killer switch"
	local id st i
	id=$(ctr_id oom-dis)
	# Not dd: with the OOM killer off, only a fault taken in user mode waits
	# at the limit. dd's read() of /dev/zero faults inside the kernel, gets a
	# short read, and its next write gets ENOMEM: dd then exits 0 about half
	# of the time (seen with ftrace). A shell doubling a string touches every
	# new page from user space, so it always freezes.
	local grow='a=x; while :; do a=$a$a; done'
	make_bundle "$BATS_TEST_TMPDIR/$id" ".linux.resources.memory = {limit: 33554432, disableOOMKiller: true} | .process.args = [\"sh\",\"-c\",\"$grow\"]"
	ctr_run_d rt "$id"
	for ((i = 0; i < 100; i++)); do
		st=$(rt state "$id")
		[[ $(jq -r '.oom.underOom // false' <<<"$st") == true ]] && break
		sleep 0.05
	done
	echo "$st"
	assert_eq "underOom" true "$(jq -r .oom.underOom <<<"$st")"
	assert_eq "status" running "$(jq -r .status <<<"$st")"
	assert_eq "oomKills" 0 "$(jq -r .oom.oomKills <<<"$st")"
	ctr_kill_delete rt "$id"
}

# frozen_with_events WHICH ID: a container that freezes at a 32 MiB limit
# with the OOM killer disabled, `WHICH events` reading from before it
# starts (to $BATS_TEST_TMPDIR/ID.events); returns once the cgroup says
# under_oom 1, plus 2 s for any further notification to show.
frozen_with_events() {
	local which=$1 id=$2
	local grow='a=x; while :; do a=$a$a; done'
	make_bundle "$BATS_TEST_TMPDIR/$id" ".linux.resources.memory = {limit: 33554432, disableOOMKiller: true} | .process.args = [\"sh\",\"-c\",\"$grow\"]"
	ctr_create "$which" "$id"
	[[ $RC -eq 0 ]] || { echo "$which create: $ERR"; return 1; }
	"$which" events --interval 60s "$id" >"$BATS_TEST_TMPDIR/$id.events" 2>"$BATS_TEST_TMPDIR/$id.events.err" 3>&- &
	EVPIDS+=" $!"
	sleep 0.3
	rc_of "$which" start "$id"
	[[ $RC -eq 0 ]] || { echo "$which start: $ERR"; return 1; }
	wait_frozen "$(cg_mount memory)$CG_PARENT/$id" "$which" || return 1
	sleep 2
}

@test "disableOOMKiller: events prints ONE oom line for the episode (runc: one per notification), oom-report says frozen" {
	[[ $CG_LAYOUT != v2 ]] || skip "cgroup v2 has no OOM-killer switch"
	local id rid st n_ref p
	id=$(ctr_id oomf)
	rid=$(ctr_id oomf-ref)
	frozen_with_events rt "$id"
	frozen_with_events ref "$rid"
	echo "rcrun events:"
	cat "$BATS_TEST_TMPDIR/$id.events" "$BATS_TEST_TMPDIR/$id.events.err"
	echo "$(basename "$REF_RUNTIME") events:"
	cat "$BATS_TEST_TMPDIR/$rid.events"
	# runc's line, field for field
	assert_eq "rcrun oom lines" "{\"type\":\"oom\",\"id\":\"$id\"}" "$(grep '"oom"' "$BATS_TEST_TMPDIR/$id.events")"
	n_ref=$(grep -c "^{\"type\":\"oom\",\"id\":\"$rid\"}\$" "$BATS_TEST_TMPDIR/$rid.events")
	note "oom lines while frozen: rcrun 1, $(basename "$REF_RUNTIME") $n_ref"
	[[ $n_ref -ge 1 ]] || { echo "reference runtime printed no oom event"; false; }
	# the account: frozen, no victim, the cgroup's numbers
	st=$(rt state "$id")
	echo "$st"
	[[ $(jq -r .oom.frozenAtLimit <<<"$st") == "frozen at its limit, OOM killer disabled: usage "*" of limit 32.0 MiB, failcnt "* ]]
	run -0 rt oom-report "$id"
	echo "$output"
	[[ $output == *"frozen at its limit, OOM killer disabled: usage "*" of limit 32.0 MiB, failcnt "* ]]
	[[ $output != *"killed pid"* ]]
	run -0 rt oom-report --format json "$id"
	assert_eq "frozen_at_limit now/disabled/limit" "true true 33554432" "$(jq -r '.frozen_at_limit | "\(.now) \(.oom_kill_disabled) \(.limit)"' <<<"$output")"
	[[ $(jq -r '.frozen_at_limit.usage * 100 / .frozen_at_limit.limit | floor' <<<"$output") -ge 90 ]]
	[[ $(jq -r .frozen_at_limit.failcnt <<<"$output") -ge 1 ]]
	# the episode's account is logged with the event
	grep -q "OOM in container $id: frozen at its limit, OOM killer disabled" "$BATS_TEST_TMPDIR/$id.events.err"
	# ended by a kill: still one line, and events ends by itself
	ctr_kill_delete rt "$id"
	ctr_kill_delete ref "$rid"
	for p in $EVPIDS; do wait "$p" || true; done
	EVPIDS=""
	assert_eq "rcrun oom lines after the end" 1 "$(grep -c '"type":"oom"' "$BATS_TEST_TMPDIR/$id.events")"
}

@test "delete right after exit, repeated: every OOM logged, no false ones" {
	local n=${RCRUN_OOM_RACE_N:-15} i id log rc
	for ((i = 0; i < n; i++)); do
		for kind in oom ok; do
			id=$(ctr_id "race-$kind-$i")
			log=$BATS_TEST_TMPDIR/$id.log
			if [[ $kind == oom ]]; then
				make_bundle "$BATS_TEST_TMPDIR/$id" ".linux.resources.memory = {limit: $LIMIT} | .process.args = $DD"
			else
				make_bundle "$BATS_TEST_TMPDIR/$id" ".linux.resources.memory = {limit: $LIMIT} | .process.args = [\"true\"]"
			fi
			# `run` deletes the container (and its cgroup) right after exit
			rc=0
			"$RUNTIME" --root "$RT_ROOT" --log "$log" run --bundle "$BATS_TEST_TMPDIR/$id" "$id" </dev/null >/dev/null 2>&1 3>&- || rc=$?
			if [[ $kind == oom ]]; then
				[[ $rc -eq 137 ]] || { echo "round $i: OOM run exited $rc"; false; }
				grep -q "OOM kill in container $id: pid [0-9]* (dd) = init" "$log" || { echo "round $i: no OOM line"; cat "$log"; false; }
			else
				[[ $rc -eq 0 ]] || { echo "round $i: plain run exited $rc"; false; }
				! grep -q "OOM" "$log" || { echo "round $i: false OOM"; cat "$log"; false; }
			fi
			rm -rf "${BATS_TEST_TMPDIR:?}/$id"
		done
	done
}

# ------------------------------------------------- the OOM journal ---
# <root>/oom-journal.jsonl (docs/oom.md): the account outlives the
# container. `oom-report` after `delete` prints it and says the container is
# gone; nobody writes an account twice; the journal is a file both `rcrun
# list` and `runc list` skip; a symlink at its path is never followed.
# Rotation and the size cap: runtime/src/oom_journal/tests.rs. A private
# root per test: the journal's content is that test's.

jrt() { timeout -k 5 "$RCRUN_TEST_CMD_TIMEOUT" "$RUNTIME" --root "$BATS_TEST_TMPDIR/jroot" "$@"; }

# oom_run ID: run an init that is OOM-killed, under the private root, and
# delete it (rcrun run without --keep deletes).
oom_run() {
	make_bundle "$BATS_TEST_TMPDIR/$1" ".linux.resources.memory = {limit: $LIMIT} | .process.args = $DD"
	RC=0
	(cd "$BATS_TEST_TMPDIR/$1" && jrt run "$1" </dev/null >/dev/null 2>"$BATS_TEST_TMPDIR/$1.err") || RC=$?
	assert_eq "run exit status" 137 "$RC"
}

@test "oom journal: oom-report after delete names the victim, whose limit, usage; says when the container was deleted" {
	local id out j
	id=$(ctr_id jgone)
	oom_run "$id"
	rc_of jrt state "$id"
	[[ $RC -ne 0 && $ERR == *"does not exist"* ]] || { echo "state after run: $RC $ERR"; false; }
	sleep 1
	run -0 jrt oom-report "$id"
	echo "$output"
	[[ ${lines[0]} == "container $id no longer exists: deleted at "*" (created "*")" ]]
	[[ ${lines[1]} == "its OOM account, recorded by rcrun delete at "*":" ]]
	assert_gone_oom_account "$id"
	[[ $output == *"victim memory: anon-rss "* ]]
	run -0 jrt oom-report --format json "$id"
	j=$output
	assert_eq "json victim" dd "$(jq -r '.kills[-1].command' <<<"$j")"
	assert_eq "json init killed" true "$(jq -r '.init_oom_killed' <<<"$j")"
	# The limit: the kernel's record, or (its report rate-limited in a burst
	# of OOMs) the cgroup's counters kept with the account.
	assert_eq "json limit kB" $((LIMIT / 1024)) "$(jq -r '.kills[-1].limit_kb // (.counters.limit / 1024)' <<<"$j")"
	[[ $(jq -r '.gone.deleted_at' <<<"$j") == 20* ]] || { echo "$j"; false; }
	# the journal: one 0600 file, one entry, root-only
	out=$(stat -c '%a %U %F' "$BATS_TEST_TMPDIR/jroot/oom-journal.jsonl")
	assert_eq "journal mode owner type" "600 root regular file" "$out"
	assert_eq "entries" 1 "$(grep -c "\"id\":\"$id\"" "$BATS_TEST_TMPDIR/jroot/oom-journal.jsonl")"
	# the same id (and cgroup path) again: the newest instance, with only
	# its own kill (the kernel log still holds the first one's record)
	local first
	first=$(jq -r '.gone.created' <<<"$j")
	oom_run "$id"
	run -0 jrt oom-report --format json "$id"
	[[ $(jq -r '.gone.created' <<<"$output") != "$first" ]] || { echo "$output"; false; }
	assert_eq "kernel records of the second instance" 1 "$(jq '.kills | length' <<<"$output")"
	assert_eq "entries" 2 "$(grep -c "\"id\":\"$id\"" "$BATS_TEST_TMPDIR/jroot/oom-journal.jsonl")"
	# an id never seen: the usual one line
	rc_of jrt oom-report "$(ctr_id never)"
	[[ $RC -ne 0 ]]
	assert_eq "stderr lines" 1 "$(grep -c . <<<"$ERR")"
	[[ $ERR == *"$(ctr_id never)"*" does not exist"* ]] || { echo "$ERR"; false; }
}

@test "oom journal: events and delete saw the same kill: one account, then one deletion record" {
	local id n
	id=$(ctr_id jdup)
	make_bundle "$BATS_TEST_TMPDIR/$id" ".linux.resources.memory = {limit: $LIMIT} | .process.args = [\"sh\",\"-c\",\"sleep 0.5; dd if=/dev/zero of=/dev/null bs=200M count=1; sleep 600\"]"
	(cd "$BATS_TEST_TMPDIR/$id" && jrt create "$id" </dev/null >/dev/null 2>&1)
	jrt events --interval 60s "$id" >"$BATS_TEST_TMPDIR/events" 2>&1 3>&- &
	EVPID=$!
	sleep 0.2
	jrt start "$id"
	for ((n = 0; n < 100; n++)); do
		grep -q "\"id\":\"$id\"" "$BATS_TEST_TMPDIR/jroot/oom-journal.jsonl" 2>/dev/null && break
		sleep 0.1
	done
	cat "$BATS_TEST_TMPDIR/events"
	grep '"type":"oom"' "$BATS_TEST_TMPDIR/events"
	assert_eq "entries written by events" 1 "$(grep -c '"recorded_by":"events"' "$BATS_TEST_TMPDIR/jroot/oom-journal.jsonl")"
	jrt kill "$id" KILL
	wait "$EVPID" || true
	EVPID=""
	jrt delete "$id"
	cat "$BATS_TEST_TMPDIR/jroot/oom-journal.jsonl"
	assert_eq "lines" 2 "$(wc -l <"$BATS_TEST_TMPDIR/jroot/oom-journal.jsonl")"
	assert_eq "accounts" 1 "$(grep -c '"account"' "$BATS_TEST_TMPDIR/jroot/oom-journal.jsonl")"
	assert_eq "deletion records" 1 "$(grep -c '"deleted_at"' "$BATS_TEST_TMPDIR/jroot/oom-journal.jsonl")"
	run -0 jrt oom-report "$id"
	echo "$output"
	[[ ${lines[0]} == "container $id no longer exists: deleted at "* ]]
	[[ ${lines[1]} == "its OOM account, recorded by rcrun events at "* ]]
	[[ $output == *"(dd), a process of the container (init lives on)"* ]]
}

@test "oom journal: rcrun list and runc list skip it; a symlink at its path is not followed" {
	local id out
	runtime_is_runc "$REF_RUNTIME" || skip "needs runc as REF_RUNTIME"
	id=$(ctr_id jlist)
	oom_run "$id"
	[[ -f $BATS_TEST_TMPDIR/jroot/oom-journal.jsonl ]]
	rc_of jrt list -q
	assert_eq "rcrun list rc" 0 "$RC"
	assert_eq "rcrun list" "" "$OUT$ERR"
	RC=0
	out=$("$REF_RUNTIME" --root "$BATS_TEST_TMPDIR/jroot" list -q 2>&1) || RC=$?
	assert_eq "runc list rc" 0 "$RC"
	assert_eq "runc list" "" "$out"
	# symlink: rcrun neither follows nor replaces it; the OOM run still works
	echo precious >"$BATS_TEST_TMPDIR/target"
	rm -f "$BATS_TEST_TMPDIR/jroot/oom-journal.jsonl" "$BATS_TEST_TMPDIR/jroot/oom-journal.jsonl.1"
	ln -s "$BATS_TEST_TMPDIR/target" "$BATS_TEST_TMPDIR/jroot/oom-journal.jsonl"
	oom_run "$(ctr_id jlink)"
	cat "$BATS_TEST_TMPDIR/$(ctr_id jlink).err"
	grep -q "oom-journal.jsonl: is a symlink; not followed" "$BATS_TEST_TMPDIR/$(ctr_id jlink).err"
	assert_eq "symlink target" precious "$(cat "$BATS_TEST_TMPDIR/target")"
	[[ -L $BATS_TEST_TMPDIR/jroot/oom-journal.jsonl ]]
}
