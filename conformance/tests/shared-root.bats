#!/usr/bin/env bats
# docker 20.10 gives every runtime one state root (<exec-root>/runtime-runc/moby),
# so rcrun meets runc's state directories there. rcrun leaves them alone:
# `list` skips them without a word, an explicit id gets one line saying whose
# state it is, and nothing rcrun does touches runc's container.

bats_require_minimum_version 1.5.0
load ../lib/common

setup_file() { suite_setup_file; }
teardown_file() { suite_teardown_file; }
setup() {
	suite_setup
	runtime_is_runc "$RUNTIME" && skip "rcrun's handling of runc's state: RUNTIME is runc"
	runtime_is_runc "$REF_RUNTIME" || skip "needs runc as REF_RUNTIME"
}
teardown() {
	[[ -n ${RUNC_ID:-} ]] && "$REF_RUNTIME" --root "$RT_ROOT" delete -f "$RUNC_ID" 2>/dev/null
	suite_teardown
}

@test "a runc container in rcrun's root: list skips it, state/delete name it runc's, it keeps running" {
	local mine theirs out
	mine=$(ctr_id mine)
	theirs=$(ctr_id runcs)
	make_bundle "$BATS_TEST_TMPDIR/$mine" '.process.args = ["sleep","60"]'
	make_bundle "$BATS_TEST_TMPDIR/$theirs" '.process.args = ["sleep","60"]'
	# runc, with rcrun's --root: the two states side by side
	"$REF_RUNTIME" --root "$RT_ROOT" run -d --bundle "$BATS_TEST_TMPDIR/$theirs" "$theirs" </dev/null >/dev/null 2>&1
	RUNC_ID=$theirs
	ctr_run_d rt "$mine"

	rc_of rt list -q
	assert_eq "list rc" 0 "$RC"
	assert_eq "list ids" "$mine" "$OUT"
	assert_eq "list stderr" "" "$ERR"

	for cmd in state "delete -f" kill start; do
		# shellcheck disable=SC2086
		rc_of rt $cmd "$theirs"
		[[ $RC -ne 0 ]] || { echo "rcrun $cmd of runc's container returned 0"; return 1; }
		assert_eq "$cmd: lines on stderr" 1 "$(grep -c . <<<"$ERR")"
		[[ $ERR == *"is runc's state, not rcrun's"* ]] || { echo "rcrun $cmd: $ERR"; return 1; }
	done
	out=$("$REF_RUNTIME" --root "$RT_ROOT" state "$theirs" | jq -r .status)
	assert_eq "runc's container after rcrun's attempts" running "$out"

	ctr_kill_delete rt "$mine"
	"$REF_RUNTIME" --root "$RT_ROOT" delete -f "$theirs"
	RUNC_ID=
}
