#!/usr/bin/env bats
# rcrun as a drop-in for runc, side by side with REF_RUNTIME: the
# differences runc's own integration suite (tests/integration of runc
# v1.1.5, run by hand against both: docs/conformance.md) found:
#   - `exec --ignore-paused` into a paused container waits for a `resume`
#     from another process (rcrun held its lock meanwhile, so the resume
#     and the exec both hung);
#   - `-h` has runc's shape (`NAME:`, then `   <name> <cmd> - ...`), and
#     `<name> foo -h` says runc's "No help topic for 'foo'";
#   - `exec --cgroup` errors carry runc's words (" .. is not a sub cgroup
#     path", "adding pid ... /cgroup.procs: no such file", "unknown
#     controller ");
#   - a mount over a symlink to nowhere (/proc -> /symlink) is refused with
#     runc's "must be mounted on ordinary directory".
# (The --debug nsexec milestone: dropin-misc.bats; the frozen cgroup's
# words: dropin.bats.)

bats_require_minimum_version 1.5.0
load ../lib/common

setup_file() { suite_setup_file; }
teardown_file() { suite_teardown_file; }
setup() { suite_setup; }
teardown() { suite_teardown; }

# sleeper WHICH NAME [JQ]: a running container (sleep 600); sets ID.
sleeper() {
	ID=$(ctr_id "$2")
	make_bundle "$BATS_TEST_TMPDIR/$ID" "${3:-.}" >/dev/null && ctr_run_d "$1" "$ID"
}

@test "exec --ignore-paused into a paused container runs once another process resumes it, as runc" {
	local which id
	for which in rt ref; do
		sleeper "$which" "ip-$which"
		id=$ID
		rc_of "$which" pause "$id"
		[[ $RC -eq 0 ]] || { echo "$which pause: rc=$RC $ERR"; return 1; }
		(
			sleep 1
			"$which" resume "$id" >"$BATS_TEST_TMPDIR/resume-$which.out" 2>&1
			echo "rc=$?" >>"$BATS_TEST_TMPDIR/resume-$which.out"
		) 3>&- &
		RCRUN_TEST_CMD_TIMEOUT=20 rc_of "$which" exec --ignore-paused "$id" echo ok
		wait
		note "$which: exec rc=$RC out=$OUT; resume: $(tr '\n' ' ' <"$BATS_TEST_TMPDIR/resume-$which.out")"
		[[ $RC -eq 0 && $OUT == ok ]] || { echo "$which exec --ignore-paused: rc=$RC $OUT $ERR"; return 1; }
		grep -qx 'rc=0' "$BATS_TEST_TMPDIR/resume-$which.out" || { echo "$which resume failed"; return 1; }
		ctr_kill_delete "$which" "$id"
	done
}

@test "-h has runc's shape (NAME:, then '<name> <cmd> - ...'); 'foo -h' says No help topic" {
	local which name lines
	for which in rt ref; do
		name=$(basename "$(rtbin "$which")")
		rc_of "$which" -h
		mapfile -t lines < <(grep -v '^[[:space:]]*$' <<<"$OUT")
		[[ $RC -eq 0 && ${lines[0]} == NAME: && ${lines[1]} =~ ^\ +$name\ -\ Open\ Container\ Initiative\ runtime ]] ||
			{ echo "$which -h: rc=$RC: ${lines[*]:0:2}"; return 1; }
		rc_of "$which" delete --help
		mapfile -t lines < <(grep -v '^[[:space:]]*$' <<<"$OUT")
		[[ $RC -eq 0 && ${lines[0]} == NAME: && ${lines[1]} =~ ^\ +$name\ delete ]] ||
			{ echo "$which delete --help: rc=$RC: ${lines[*]:0:2}"; return 1; }
		rc_of "$which" foo -h
		[[ $RC -ne 0 && "$OUT$ERR" == *"No help topic for 'foo'"* ]] || { echo "$which foo -h: rc=$RC $OUT $ERR"; return 1; }
	done
}

@test "exec --cgroup errors carry runc's words (not a sub cgroup path, adding pid, unknown controller)" {
	local which id
	for which in rt ref; do
		sleeper "$which" "cgw-$which"
		id=$ID
		rc_of "$which" exec --cgroup .. "$id" true
		[[ $RC -ne 0 && $ERR == *" .. is not a sub cgroup path"* ]] || { echo "$which --cgroup ..: rc=$RC $ERR"; return 1; }
		rc_of "$which" exec --cgroup nonexistent "$id" true
		[[ $RC -ne 0 ]] || { echo "$which --cgroup nonexistent: rc=0"; return 1; }
		# runc on cgroup v2 words this one differently
		if [[ $which == rt || -z $CG_V2 || ${#CG_V1[@]} -gt 0 ]]; then
			[[ $ERR == *" adding pid "*"/nonexistent/cgroup.procs: no such file "* ]] || { echo "$which --cgroup nonexistent: $ERR"; return 1; }
		fi
		rc_of "$which" exec --cgroup whaaat:/ "$id" true
		[[ $RC -ne 0 ]] || { echo "$which --cgroup whaaat:/: rc=0"; return 1; }
		if [[ $which == rt || ${#CG_V1[@]} -gt 0 ]]; then
			[[ $ERR == *"unknown controller "* ]] || { echo "$which --cgroup whaaat:/: $ERR"; return 1; }
		fi
		ctr_kill_delete "$which" "$id"
	done
}

@test "/proc over a symlink to nowhere is refused with runc's 'must be mounted on ordinary directory'" {
	local which id
	for which in rt ref; do
		id=$(ctr_id "psym-$which")
		make_bundle "$BATS_TEST_TMPDIR/$id" >/dev/null
		rm -rf "$BATS_TEST_TMPDIR/$id/rootfs/proc" && ln -s /symlink "$BATS_TEST_TMPDIR/$id/rootfs/proc"
		rc_of "$which" run -d --bundle "$BATS_TEST_TMPDIR/$id" "$id"
		ctr_force_delete "$which" "$id"
		[[ $RC -ne 0 && $ERR == *"must be mounted on ordinary directory"* ]] || { echo "$which: rc=$RC $ERR"; return 1; }
	done
}

@test "seccomp SCMP_CMP_MASKED_EQ means (arg & value) == valueTwo, as runc" {
	local which id out=()
	for which in rt ref; do
		id=$(ctr_id "meq-$which")
		# kill(pid, sig) refused when (sig & 0xff) == 0: `kill -0` fails, `kill -CONT` works
		make_bundle "$BATS_TEST_TMPDIR/$id" '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW",
				"syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO",
					"args": [{"index": 1, "value": 255, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}]}
			| .process.args = ["sh", "-c", "kill -0 1 2>/dev/null; echo zero=$?; kill -CONT 1; echo cont=$?"]' >/dev/null
		rc_of "$which" run --bundle "$BATS_TEST_TMPDIR/$id" "$id"
		note "$which: rc=$RC $(tr '\n' ' ' <<<"$OUT")"
		[[ $RC -eq 0 ]] || { echo "$which: rc=$RC $ERR"; return 1; }
		out+=("$OUT")
	done
	[[ ${out[1]} == $'zero=1\ncont=0' ]] || { echo "runc's answer changed: ${out[1]}"; return 1; }
	[[ ${out[0]} == "${out[1]}" ]]
}
