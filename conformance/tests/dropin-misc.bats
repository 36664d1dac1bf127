#!/usr/bin/env bats
# rcrun as a drop-in for runc (issue "a true drop-in for runc"), side by
# side with REF_RUNTIME:
#   - `exec --cgroup [ctrl:]path`: the process ends up in the existing
#     sub-cgroup (read back from /proc/<pid>/cgroup), a missing one fails
#     the exec, a path out of the container's cgroup is refused;
#   - `--debug` logs runc's milestones for create/start/run/exec, as text
#     on stderr and as json in `--log`;
#   - a /dev mount with "ro" is read-only inside once its nodes exist;
#   - create into a cgroup that already holds processes says runc's
#     "container's cgroup is not empty: N process(es) found" (runc 1.1 goes
#     on with a warning; rcrun refuses, as runc >= 1.2, and kills nothing).

bats_require_minimum_version 1.5.0
load ../lib/common

setup_file() { suite_setup_file; }
teardown_file() { suite_teardown_file; }
setup() { suite_setup; }
teardown() { suite_teardown; }

# cg_mkdir DIR: mkdir a cgroup; a v1 cpuset one gets its parent's cpus and
# mems (a new one has none, and joining it fails with ENOSPC).
cg_mkdir() {
	mkdir -p "$1" || return 1
	if [[ -e $1/cpuset.cpus && -z $(tr -d '\n' <"$1/cpuset.cpus") ]]; then
		cat "$1/../cpuset.cpus" >"$1/cpuset.cpus" && cat "$1/../cpuset.mems" >"$1/cpuset.mems"
	fi
}

# sub_cgroup_dirs ID: <hierarchy>/$CG_PARENT/ID/sub in every hierarchy.
sub_cgroup_dirs() {
	local m
	for m in "${CG_HIERS[@]}"; do
		cg_mkdir "$m$CG_PARENT/$1/sub" || return 1
	done
}

# sleeper WHICH NAME: a running container (sleep 600) named after NAME;
# sets ID.
sleeper() {
	ID=$(ctr_id "$2")
	make_bundle "$BATS_TEST_TMPDIR/$ID" >/dev/null && ctr_run_d "$1" "$ID"
}

# exec_refused WHICH ID CGROUP RE: `exec --cgroup CGROUP ID touch /tmp/ran`
# fails with runc's 255 (and rcrun's error is one line matching RE).
exec_refused() {
	rc_of "$1" exec --cgroup "$3" "$2" touch /tmp/ran
	[[ $RC -eq 255 ]] || { echo "$1 exec --cgroup $3: rc=$RC (runc: 255) $ERR"; return 1; }
	[[ $1 == ref ]] || assert_one_line_error "$ERR" "$4"
}

@test "exec --cgroup PATH: the process runs in the existing sub-cgroup of every hierarchy" {
	local which id out
	for which in rt ref; do
		sleeper "$which" "sub-$which"
		id=$ID
		sub_cgroup_dirs "$id"
		rc_of "$which" exec --cgroup sub "$id" cat /proc/self/cgroup
		[[ $RC -eq 0 ]] || { echo "$which exec --cgroup sub: rc=$RC $ERR"; return 1; }
		note "$which: $(tr '\n' '|' <<<"$OUT")"
		# Every hierarchy the container is in (name=systemd and the unified
		# one on hybrid hosts too) names the sub-cgroup.
		out=$(grep -v "$CG_PARENT/$id/sub\$" <<<"$OUT" || true)
		[[ -z $out && -n $OUT ]] || { echo "$which: not in sub everywhere: $out"; return 1; }
		# The leading '/' is relative to the container's cgroup, as runc.
		rc_of "$which" exec --cgroup /sub "$id" cat /proc/self/cgroup
		[[ $RC -eq 0 && -z $(grep -v "$CG_PARENT/$id/sub\$" <<<"$OUT") ]] || { echo "$which /sub: rc=$RC $OUT $ERR"; return 1; }
		# The sub-cgroup holds nothing once the exec is over, the container's
		# own processes stayed where they were.
		ctr_kill_delete "$which" "$id"
	done
}

@test "exec --cgroup CTRL:PATH (v1): only that controller's hierarchy moves" {
	[[ $CG_LAYOUT != v2 ]] || skip "per-controller sub-cgroups are cgroup v1 (runc: unknown controller on v2)"
	local which id
	for which in rt ref; do
		sleeper "$which" "subc-$which"
		id=$ID
		sub_cgroup_dirs "$id"
		rc_of "$which" exec --cgroup memory:sub --cgroup pids:sub "$id" cat /proc/self/cgroup
		[[ $RC -eq 0 ]] || { echo "$which: rc=$RC $ERR"; return 1; }
		note "$which: $(tr '\n' '|' <<<"$OUT")"
		grep -qE "^[0-9]+:memory:$CG_PARENT/$id/sub\$" <<<"$OUT"
		grep -qE "^[0-9]+:pids:$CG_PARENT/$id/sub\$" <<<"$OUT"
		grep -qE "^[0-9]+:(cpu,cpuacct|cpu):$CG_PARENT/$id\$" <<<"$OUT" || { echo "$which: cpu moved too"; return 1; }
		grep -qE "^[0-9]+:devices:$CG_PARENT/$id\$" <<<"$OUT"
		# An unknown controller, and a bare path mixed with controllers,
		# fail as runc's.
		exec_refused "$which" "$id" nosuchctrl:sub 'nosuchctrl'
		rc_of "$which" exec --cgroup sub --cgroup memory:sub "$id" true
		[[ $RC -eq 255 ]] || { echo "$which mixed: rc=$RC"; return 1; }
		ctr_kill_delete "$which" "$id"
	done
}

@test "exec --cgroup: a sub-cgroup that does not exist fails the exec, as runc (and is not made)" {
	local which id m
	for which in rt ref; do
		sleeper "$which" "nosub-$which"
		id=$ID
		exec_refused "$which" "$id" nosuch nosuch
		for m in "${CG_HIERS[@]}"; do
			[[ ! -e $m$CG_PARENT/$id/nosuch ]] || { echo "$which made $m$CG_PARENT/$id/nosuch"; return 1; }
		done
		rc_of "$which" exec "$id" test -e /tmp/ran
		[[ $RC -ne 0 ]] || { echo "$which ran the process anyway"; return 1; }
		ctr_kill_delete "$which" "$id"
	done
}

@test "exec --cgroup: a path out of the container's cgroup is refused" {
	local which id p
	for which in rt ref; do
		sleeper "$which" "esc-$which"
		id=$ID
		for p in ../.. "a/../../.." ../../..; do
			exec_refused "$which" "$id" "$p" 'not a sub cgroup path'
		done
		ctr_kill_delete "$which" "$id"
	done
	# Deliberately stricter than runc: runc checks with a string prefix,
	# so `../<id>x` reaches a sibling cgroup whose name starts with the
	# container's; rcrun compares path components.
	sleeper rt esc2
	id=$ID
	for m in "${CG_HIERS[@]}"; do cg_mkdir "$m$CG_PARENT/${id}x"; done
	exec_refused rt "$id" "../${id}x" 'not a sub cgroup path'
	ctr_kill_delete rt "$id"
	for m in "${CG_HIERS[@]}"; do rmdir "$m$CG_PARENT/${id}x"; done
}

# debug_msgs FILE: the msg of every line of a --log-format json FILE.
debug_msgs() { jq -r '.msg' "$1"; }

@test "--debug: runc's milestones for run -d, exec and run, on stderr (text) and in --log (json)" {
	local which id log want
	for which in rt ref; do
		id=$(ctr_id "dbg-$which")
		make_bundle "$BATS_TEST_TMPDIR/$id" >/dev/null
		# create + start (run -d), text on stderr.
		rc_of "$which" --debug run -d --bundle "$BATS_TEST_TMPDIR/$id" "$id"
		[[ $RC -eq 0 ]] || { echo "$which run -d: rc=$RC $ERR"; return 1; }
		for want in 'child process in init()' 'init: closing the pipe to signal completion'; do
			grep -qF "level=debug msg=\"$want\"" <<<"$ERR" || { echo "$which run -d: no '$want' in: $ERR"; return 1; }
		done
		# runc's nsexec says it first (runc: "nsexec-0[PID]: => ..."); runc's debug.bats looks for it
		grep -qE 'level=debug msg=".*=> nsexec container setup"' <<<"$ERR" || { echo "$which run -d: no nsexec milestone in: $ERR"; return 1; }
		# exec, json in --log.
		log=$BATS_TEST_TMPDIR/$which-exec.json
		rc_of "$which" --debug --log-format json --log "$log" exec "$id" sh -c 'exit 3'
		[[ $RC -eq 3 ]] || { echo "$which exec: rc=$RC $ERR"; return 1; }
		for want in 'child process in init()' 'setns_init: about to exec'; do
			debug_msgs "$log" | grep -qxF "$want" || { echo "$which exec: no '$want' in: $(cat "$log")"; return 1; }
		done
		debug_msgs "$log" | grep -qF '=> nsexec container setup' || { echo "$which exec: no nsexec milestone in: $(cat "$log")"; return 1; }
		# The exit, with pid and status as fields (numbers in json).
		jq -e 'select(.msg == "process exited") | (.pid | type) == "number" and .status == 3 and .level == "debug"' "$log" >/dev/null ||
			{ echo "$which exec: no 'process exited' with pid/status: $(cat "$log")"; return 1; }
		# exec, text on stderr.
		rc_of "$which" --debug exec "$id" true
		[[ $RC -eq 0 ]] || { echo "$which exec text: rc=$RC"; return 1; }
		grep -qF 'msg="setns_init: about to exec"' <<<"$ERR"
		grep -qE 'msg="process exited".* status=0' <<<"$ERR" || { echo "$which exec text: $ERR"; return 1; }
		ctr_kill_delete "$which" "$id"
		# run in the foreground, json in --log.
		make_bundle "$BATS_TEST_TMPDIR/$id-fg" '.process.args = ["true"]' >/dev/null
		log=$BATS_TEST_TMPDIR/$which-run.json
		rc_of "$which" --debug --log-format json --log "$log" run --bundle "$BATS_TEST_TMPDIR/$id-fg" "$id-fg"
		[[ $RC -eq 0 ]] || { echo "$which run: rc=$RC $ERR"; return 1; }
		for want in 'child process in init()' 'init: closing the pipe to signal completion' 'process exited'; do
			debug_msgs "$log" | grep -qxF "$want" || { echo "$which run: no '$want' in: $(cat "$log")"; return 1; }
		done
	done
}

@test "/dev mounted with \"ro\" is read-only inside (its nodes still work), as runc" {
	local which id out=()
	for which in rt ref; do
		id=$(ctr_id "devro-$which")
		make_bundle "$BATS_TEST_TMPDIR/$id" '(.mounts[] | select(.destination == "/dev") | .options) += ["ro"]
			| .process.args = ["sh", "-c", "grep \" /dev \" /proc/self/mountinfo | cut -d\" \" -f5,6; touch /dev/x 2>&1; echo touch=$?; echo hi >/dev/null && echo null-ok"]' >/dev/null
		rc_of "$which" run --bundle "$BATS_TEST_TMPDIR/$id" "$id"
		[[ $RC -eq 0 ]] || { echo "$which: rc=$RC $ERR"; return 1; }
		note "$which: $(tr '\n' '|' <<<"$OUT")"
		grep -qE '^/dev ro,' <<<"$OUT" || { echo "$which: /dev is not ro: $OUT"; return 1; }
		grep -q 'Read-only file system' <<<"$OUT"
		grep -qx 'touch=1' <<<"$OUT"
		grep -qx 'null-ok' <<<"$OUT"
		out+=("$OUT")
	done
	[[ ${out[0]} == "${out[1]}" ]]
	# Without "ro" it stays writable (both).
	id=$(ctr_id "devrw")
	make_bundle "$BATS_TEST_TMPDIR/$id" '.process.args = ["sh", "-c", "touch /dev/x && echo touched"]' >/dev/null
	rc_of rt run --bundle "$BATS_TEST_TMPDIR/$id" "$id"
	[[ $RC -eq 0 && $OUT == touched ]] || { echo "rt without ro: rc=$RC $OUT $ERR"; return 1; }
}

@test "create into a cgroup that already holds a process: runc's words; rcrun refuses (runc >= 1.2) and kills nothing" {
	local which id m pid v
	for which in rt ref; do
		id=$(ctr_id "busy-$which")
		make_bundle "$BATS_TEST_TMPDIR/$id" >/dev/null
		sleep 600 &
		pid=$!
		for m in "${CG_HIERS[@]}"; do
			cg_mkdir "$m$CG_PARENT/$id" && echo "$pid" >"$m$CG_PARENT/$id/cgroup.procs" ||
				{ kill "$pid"; echo "cannot place $pid in $m$CG_PARENT/$id"; return 1; }
		done
		rc_of "$which" create --bundle "$BATS_TEST_TMPDIR/$id" "$id"
		note "$which: rc=$RC $(tr '\n' '|' <<<"$ERR")"
		grep -q "container's cgroup is not empty: 1 process(es) found" <<<"$ERR" ||
			{ kill "$pid"; echo "$which: no runc wording: $ERR"; return 1; }
		if [[ $which == rt ]] || ! v=$(runc_minor "$REF_RUNTIME") || [[ $v != 1.[01] ]]; then
			[[ $RC -ne 0 ]] || { kill "$pid"; echo "$which created the container"; return 1; }
			assert_one_line_error "$ERR" "linux.cgroupsPath"
			kill -0 "$pid" || { echo "$which killed the process already there"; return 1; }
			grep -qx "$pid" "${CG_HIERS[0]}$CG_PARENT/$id/cgroup.procs" || { echo "$which moved it"; return 1; }
			[[ -z $(ls -A "$(rtroot "$which")") ]] || { echo "$which left a state: $(ls "$(rtroot "$which")")"; return 1; }
		else
			# runc 1.1: a warning, and the container is made.
			[[ $RC -eq 0 ]] || { kill "$pid"; echo "runc 1.1 refused: $ERR"; return 1; }
			grep -q 'level=warning' <<<"$ERR"
			rc_of "$which" delete --force "$id"
		fi
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null || true
		# The cgroups this test made (runc 1.1's delete may have gone first).
		for m in "${CG_HIERS[@]}"; do
			[[ ! -d $m$CG_PARENT/$id ]] || rmdir "$m$CG_PARENT/$id"
		done
	done
}
