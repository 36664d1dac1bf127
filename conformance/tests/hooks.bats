#!/usr/bin/env bats
# OCI hooks (runtime-spec config.md#posix-platform-hooks): every hook reads
# the container's state on stdin, with the user's bundle and the spec's
# annotations; a failing prestart/createRuntime hook fails `create` and
# leaves nothing; a failing poststart or poststop hook is a warning, and the
# remaining hooks and the lifecycle go on.  Hooks run on the host, so they
# are host programs (/bin/sh).

bats_require_minimum_version 1.5.0
load ../lib/common
load ../lib/reliability

setup_file() { suite_setup_file; }
teardown_file() { suite_teardown_file; }
setup() { suite_setup; }
teardown() { suite_teardown; }

# hook NAME: a hook that saves its stdin as $BATS_TEST_TMPDIR/hook-NAME.json
hook() { echo "{\"path\": \"/bin/sh\", \"args\": [\"sh\", \"-c\", \"cat > $BATS_TEST_TMPDIR/hook-$1.json\"]}"; }
failing_hook() { echo '{"path": "/bin/false"}'; }

@test "hooks read the state: the user's bundle, the annotations, the status of their phase" {
	id=$(ctr_id hooks-state)
	b=$BATS_TEST_TMPDIR/$id
	make_bundle "$b" ".annotations = {\"org.example/k\": \"v\"} | .hooks = {
		prestart: [$(hook prestart)], createRuntime: [$(hook createRuntime)],
		poststart: [$(hook poststart)], poststop: [$(hook poststop)]}"
	ctr_run_d rt "$id"
	ctr_kill_delete rt "$id"
	local phase want
	for phase in prestart createRuntime poststart poststop; do
		f=$BATS_TEST_TMPDIR/hook-$phase.json
		[[ -s $f ]] || { echo "$phase hook did not run"; false; }
		note "$phase: $(cat "$f")"
		assert_eq "$phase: id" "$id" "$(jq -r .id "$f")"
		assert_eq "$phase: bundle" "$b" "$(jq -r .bundle "$f")"
		assert_eq "$phase: annotation" v "$(jq -r '.annotations["org.example/k"]' "$f")"
		case $phase in
		poststart) want=running ;;
		poststop) want=stopped ;;
		*) want=creating ;;
		esac
		assert_eq "$phase: status" "$want" "$(jq -r .status "$f")"
	done
}

@test "a failing poststart hook is a warning: start succeeds, the next hook runs" {
	id=$(ctr_id hooks-poststart)
	make_bundle "$BATS_TEST_TMPDIR/$id" ".hooks = {poststart: [$(failing_hook), $(hook poststart2)]}"
	ctr_create rt "$id"
	[ "$RC" -eq 0 ]
	rc_of rt start "$id"
	[ "$RC" -eq 0 ] || { echo "start failed: $ERR"; false; }
	[[ $ERR == *"error running hook #0 (poststart, /bin/false)"* ]] || { echo "no warning: $ERR"; false; }
	[[ -s $BATS_TEST_TMPDIR/hook-poststart2.json ]] || { echo "the second poststart hook did not run"; false; }
	assert_eq status running "$(ctr_status rt "$id")"
	ctr_kill_delete rt "$id"
	nothing_left_of rt "$id"
}

@test "a failing poststop hook is a warning: delete succeeds, the next hook runs, nothing left" {
	id=$(ctr_id hooks-poststop)
	make_bundle "$BATS_TEST_TMPDIR/$id" ".hooks = {poststop: [$(failing_hook), $(hook poststop2)]}"
	ctr_run_d rt "$id"
	rc_of rt kill "$id" KILL
	wait_status rt "$id" stopped
	rc_of rt delete "$id"
	[ "$RC" -eq 0 ] || { echo "delete failed: $ERR"; false; }
	[[ $ERR == *"error running hook #0 (poststop, /bin/false)"* ]] || { echo "no warning: $ERR"; false; }
	[[ -s $BATS_TEST_TMPDIR/hook-poststop2.json ]] || { echo "the second poststop hook did not run"; false; }
	nothing_left_of rt "$id"
}

@test "a failing prestart hook fails create with one line and leaves nothing" {
	id=$(ctr_id hooks-prestart)
	make_bundle "$BATS_TEST_TMPDIR/$id" ".hooks = {prestart: [$(failing_hook)]}"
	ctr_create rt "$id"
	[ "$RC" -ne 0 ]
	note "$ERR"
	assert_one_line_error "$ERR" "hook"
	nothing_left_of rt "$id"
}
