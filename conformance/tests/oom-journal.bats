#!/usr/bin/env bats
# rcrun's OOM journal (<root>/oom-journal.jsonl, docs/oom.md): the account
# of an OOM kill outlives the container. `oom-report` after `delete` prints
# it and says the container is gone; nobody writes an account twice; the
# journal is a file both `rcrun list` and `runc list` skip; a symlink at its
# path is never followed. Rotation and the size cap: the unit tests
# (runtime/src/oom_journal/tests.rs).
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
	# a private root per test: the journal's content is this test's
	JROOT=$BATS_TEST_TMPDIR/jroot
}
teardown() {
	[[ -n ${EVPID:-} ]] && kill "$EVPID" 2>/dev/null && wait "$EVPID" 2>/dev/null
	suite_teardown
}

LIMIT=134217728
DD='["dd","if=/dev/zero","of=/dev/null","bs=200M","count=1"]'
jrt() { timeout -k 5 "$RCRUN_TEST_CMD_TIMEOUT" "$RUNTIME" --root "$JROOT" "$@"; }

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
	[[ $output == *"killed pid "*" (dd), the container's init process"* ]]
	[[ $output == *"limit hit: the container's own memory limit"* ]]
	[[ $output == *"cgroup memory at the kill: usage 128.0 MiB, limit 128.0 MiB, failcnt "* ]]
	[[ $output == *"victim memory: anon-rss "* ]]
	run -0 jrt oom-report --format json "$id"
	j=$output
	assert_eq "json victim" dd "$(jq -r '.kills[-1].command' <<<"$j")"
	assert_eq "json init killed" true "$(jq -r '.init_oom_killed' <<<"$j")"
	assert_eq "json limit kB" $((LIMIT / 1024)) "$(jq -r '.kills[-1].limit_kb' <<<"$j")"
	[[ $(jq -r '.gone.deleted_at' <<<"$j") == 20* ]] || { echo "$j"; false; }
	# the journal: one 0600 file, one entry, root-only
	out=$(stat -c '%a %U %F' "$JROOT/oom-journal.jsonl")
	assert_eq "journal mode owner type" "600 root regular file" "$out"
	assert_eq "entries" 1 "$(grep -c "\"id\":\"$id\"" "$JROOT/oom-journal.jsonl")"
	# the same id (and cgroup path) again: the newest instance, with only
	# its own kill (the kernel log still holds the first one's record)
	local first
	first=$(jq -r '.gone.created' <<<"$j")
	oom_run "$id"
	run -0 jrt oom-report --format json "$id"
	[[ $(jq -r '.gone.created' <<<"$output") != "$first" ]] || { echo "$output"; false; }
	assert_eq "kernel records of the second instance" 1 "$(jq '.kills | length' <<<"$output")"
	assert_eq "entries" 2 "$(grep -c "\"id\":\"$id\"" "$JROOT/oom-journal.jsonl")"
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
		grep -q "\"id\":\"$id\"" "$JROOT/oom-journal.jsonl" 2>/dev/null && break
		sleep 0.1
	done
	cat "$BATS_TEST_TMPDIR/events"
	grep '"type":"oom"' "$BATS_TEST_TMPDIR/events"
	assert_eq "entries written by events" 1 "$(grep -c '"recorded_by":"events"' "$JROOT/oom-journal.jsonl")"
	jrt kill "$id" KILL
	wait "$EVPID" || true
	EVPID=""
	jrt delete "$id"
	cat "$JROOT/oom-journal.jsonl"
	assert_eq "lines" 2 "$(wc -l <"$JROOT/oom-journal.jsonl")"
	assert_eq "accounts" 1 "$(grep -c '"account"' "$JROOT/oom-journal.jsonl")"
	assert_eq "deletion records" 1 "$(grep -c '"deleted_at"' "$JROOT/oom-journal.jsonl")"
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
	[[ -f $JROOT/oom-journal.jsonl ]]
	rc_of jrt list -q
	assert_eq "rcrun list rc" 0 "$RC"
	assert_eq "rcrun list" "" "$OUT$ERR"
	RC=0
	out=$("$REF_RUNTIME" --root "$JROOT" list -q 2>&1) || RC=$?
	assert_eq "runc list rc" 0 "$RC"
	assert_eq "runc list" "" "$out"
	# symlink: rcrun neither follows nor replaces it; the OOM run still works
	echo precious >"$BATS_TEST_TMPDIR/target"
	rm -f "$JROOT/oom-journal.jsonl" "$JROOT/oom-journal.jsonl.1"
	ln -s "$BATS_TEST_TMPDIR/target" "$JROOT/oom-journal.jsonl"
	oom_run "$(ctr_id jlink)"
	cat "$BATS_TEST_TMPDIR/$(ctr_id jlink).err"
	grep -q "oom-journal.jsonl: is a symlink; not followed" "$BATS_TEST_TMPDIR/$(ctr_id jlink).err"
	assert_eq "symlink target" precious "$(cat "$BATS_TEST_TMPDIR/target")"
	[[ -L $JROOT/oom-journal.jsonl ]]
}
