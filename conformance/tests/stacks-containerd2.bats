#!/usr/bin/env bats
# containerd 2.1 (Debian unstable's, unpacked privately: lib/sid.bash)
# driving containerd-shim-rcrun-v2, with containerd 2.1's own runc shim side
# by side: the start handshake answers task API v3 (shim/src/bootstrap.rs),
# ctr run, exec, OOM -> 137 and /tasks/oom, and nothing left behind.
# (RCRUN_TEST_CONTAINERD=$SID_ROOT/usr/bin/containerd also runs the whole
# shim.bats against it.)  FAILS under RCRUN_TEST_REQUIRE_DOCKER=1 (CI) when
# the packages cannot be fetched; otherwise skips with the reason.

bats_require_minimum_version 1.5.0
load ../lib/common
# shellcheck source=../lib/containerd.bash
source "$CONF_LIB/containerd.bash"
# shellcheck source=../lib/sid.bash
source "$CONF_LIB/sid.bash"

setup_file() {
	suite_setup_file || return 1
	if [[ ${RCRUN_TEST_NO_DOCKER:-0} == 1 ]]; then
		echo "RCRUN_TEST_NO_DOCKER=1" >"$BATS_FILE_TMPDIR/skip"
		return 0
	fi
	sid_fetch || { stacks_unavailable "Debian unstable's containerd 2.1: $SID_UNAVAILABLE_WHY"; return; }
	RCRUN_TEST_CONTAINERD=$SID_ROOT/usr/bin/containerd
	export RCRUN_TEST_CONTAINERD
	containerd_available || { echo "$CONTAINERD_UNAVAILABLE_WHY" >&2; return 1; }
	containerd_start "$RCRUN_TEST_TMP/c2" || return 1
	containerd_import_busybox || return 1
	# containerd puts tasks in /<namespace>/<id>: create the namespace's
	# cgroup now (containerd_stop removes it) so that it is no per-test leak
	CG_PARENT=/$CTD_NS test_parent_cgroup_create || return 1
	export CTD_DIR CTD_NS
}

teardown_file() {
	containerd_stop "$RCRUN_TEST_TMP/c2" 2>/dev/null
	suite_teardown_file
}

setup() {
	stacks_skip_if_unavailable
	containerd_available || false
	suite_setup
	EVENTS_PID=
}

teardown() {
	[[ -f $BATS_FILE_TMPDIR/skip ]] && return 0
	[[ -z $EVENTS_PID ]] || { kill "$EVENTS_PID"; wait "$EVENTS_PID"; } 2>/dev/null
	containerd_remove_all
	suite_teardown
}

# rt_of NAME: containerd's runtime name (rcrun's shim or containerd's runc shim).
rt_of() { [[ $1 == rcrun ]] && echo "$CTD_RUNTIME" || echo io.containerd.runc.v2; }

wait_stopped() {
	local i
	for ((i = 0; i < 100; i++)); do
		[[ $(cctr task ls | awk -v id="$1" '$1 == id { print $3 }') == STOPPED ]] && return 0
		sleep 0.05
	done
	echo "task $1 not STOPPED: $(cctr task ls)"
	return 1
}

bundle_of() { echo "$CTD_DIR/state/io.containerd.runtime.v2.task/$CTD_NS/$1"; }

# gone ID: no shim process, socket, bundle, cgroup or shim state of task ID.
gone() {
	local id=$1 i m
	for ((i = 0; i < 50; i++)); do
		[[ -z $(containerd_shim_pids) ]] && break
		sleep 0.1
	done
	[[ -z $(containerd_shim_pids) ]] || { echo "rcrun shim(s) left: $(containerd_shim_pids)"; return 1; }
	[[ ! -e $(containerd_shim_socket "$id") ]] || { echo "shim socket left for $id"; return 1; }
	[[ ! -e $(bundle_of "$id") ]] || { echo "bundle left: $(bundle_of "$id")"; return 1; }
	[[ ! -e /run/containerd/rcrun/$CTD_NS/$id ]] || { echo "shim state left for $id"; return 1; }
	for m in "${CG_HIERS[@]}"; do
		[[ ! -d $m/$CTD_NS/$id ]] || { echo "cgroup left: $m/$CTD_NS/$id"; return 1; }
	done
}

@test "containerd 2.1: the rcrun shim answers task API v3, as containerd 2.1's runc shim does; ctr run output and exit codes" {
	run -0 "$CTD_BIN" --version
	note "$output (Debian unstable, unpacked in $SID_ROOT)"
	local rt id
	for rt in rcrun runc; do
		id=v3-$rt
		containerd_record_id "$id"
		cctr run -d --null-io --runtime "$(rt_of $rt)" "$CTD_IMAGE" "$id" sleep 600
		run -0 jq -c '[.version, .protocol]' "$(bundle_of "$id")/bootstrap.json"
		assert_eq "$rt: bootstrap.json version, protocol" '[3,"ttrpc"]' "$output"
		cctr task kill -s SIGKILL "$id"
		wait_stopped "$id"
		cctr task delete "$id" >/dev/null
		cctr container delete "$id"
		gone "$id"
		containerd_record_id "run-$rt"
		run cctr run --rm --runtime "$(rt_of $rt)" "$CTD_IMAGE" "run-$rt" sh -c 'echo hello-$0; exit 42' "$rt"
		assert_eq "$rt: ctr run exit status" 42 "$status"
		[[ $output == *hello-$rt* ]] || { echo "$output"; false; }
		gone "run-$rt"
	done
	# and containerd connected to the rcrun shim with version 3
	run -0 grep -F "connecting to shim v3-rcrun" "$CTD_DIR/containerd.log"
	[[ $output == *version=3* ]] || { echo "$output"; false; }
}

@test "containerd 2.1: OOM (dd 200M under 128M): exit 137, /tasks/oom before /tasks/exit (rcrun shim and runc shim)" {
	local ev=$BATS_TEST_TMPDIR/events rt id oom exit
	timeout 300 "$CTR_BIN" -a "$CTD_DIR/containerd.sock" -n "$CTD_NS" events >"$ev" 2>&1 </dev/null 3>&- &
	EVENTS_PID=$!
	sleep 0.3
	for rt in rcrun runc; do
		id=oom-$rt
		containerd_record_id "$id"
		run cctr run --rm --null-io --runtime "$(rt_of $rt)" --memory-limit 134217728 "$CTD_IMAGE" "$id" \
			dd if=/dev/zero of=/dev/null bs=200M count=1
		assert_eq "$rt: exit status" 137 "$status"
		sleep 0.3
		oom=$(grep -n '/tasks/oom ' "$ev" | grep "\"$id\"" | head -1 | cut -d: -f1)
		exit=$(grep -n '/tasks/exit ' "$ev" | grep "\"$id\"" | head -1 | cut -d: -f1)
		[[ -n $oom && -n $exit && $oom -lt $exit ]] || { echo "$rt: /tasks/oom at '$oom', /tasks/exit at '$exit'"; cat "$ev"; false; }
		note "$rt: exit 137, $(grep -c '/tasks/oom ' <(grep "\"$id\"" "$ev")) /tasks/oom before /tasks/exit"
		gone "$id"
	done
}

@test "containerd 2.1: exec (status, stdin), ps, pause/resume, kill, delete: nothing left (rcrun shim and runc shim)" {
	local rt id
	for rt in rcrun runc; do
		id=ex-$rt
		containerd_record_id "$id"
		cctr run -d --null-io --runtime "$(rt_of $rt)" "$CTD_IMAGE" "$id" sleep 600
		run cctr task exec --exec-id e1 "$id" sh -c 'echo from-exec; exit 3'
		[[ $status -eq 3 && $output == *from-exec* ]] || { echo "$rt: $status $output"; false; }
		run -0 sh -c "echo piped-in | $CTR_BIN -a $CTD_DIR/containerd.sock -n $CTD_NS task exec --exec-id e2 $id cat"
		[[ $output == *piped-in* ]] || { echo "$rt: $output"; false; }
		cctr task pause "$id"
		run -0 cctr task ls
		[[ $output == *"$id"*PAUSED* ]] || { echo "$rt: $output"; false; }
		cctr task resume "$id"
		run -0 cctr task ps "$id"
		cctr task kill -s SIGKILL "$id"
		wait_stopped "$id"
		run -0 cctr task delete "$id"
		cctr container delete "$id"
		gone "$id"
	done
}

# The v2 answer (what containerd 1.6/1.7 get) still works with containerd
# 2.1, through its v2 bridge: forced with RCRUN_SHIM_TASK_API=2 in
# containerd's environment (containerd passes it on to the shim).
@test "containerd 2.1: a shim forced to the v2 answer (RCRUN_SHIM_TASK_API=2): bootstrap.json version 2, run and OOM -> 137" {
	local old new rc=0
	old=$(containerd_pid)
	containerd_kill_daemon
	RCRUN_SHIM_TASK_API=2 containerd_start "$CTD_DIR" || rc=1
	new=$(containerd_pid)
	# the restarted daemon is no leak of this test
	sed -i "s/^proc $old /proc $new /" "$LEAK_BEFORE"
	[[ $rc -eq 0 ]]
	containerd_record_id v2-forced
	cctr run -d --null-io --runtime "$CTD_RUNTIME" "$CTD_IMAGE" v2-forced sleep 600
	run -0 jq -c .version "$(bundle_of v2-forced)/bootstrap.json"
	assert_eq "bootstrap.json version with RCRUN_SHIM_TASK_API=2" 2 "$output"
	run cctr task exec --exec-id e1 v2-forced sh -c 'exit 5'
	assert_eq "exec exit status through the v2 bridge" 5 "$status"
	cctr task kill -s SIGKILL v2-forced
	wait_stopped v2-forced
	cctr task delete v2-forced >/dev/null
	cctr container delete v2-forced
	containerd_record_id v2-oom
	run cctr run --rm --null-io --runtime "$CTD_RUNTIME" --memory-limit 134217728 "$CTD_IMAGE" v2-oom \
		dd if=/dev/zero of=/dev/null bs=200M count=1
	assert_eq "OOM exit status through the v2 bridge" 137 "$status"
	gone v2-oom
	# back to the plain daemon for what follows
	old=$new
	containerd_kill_daemon
	containerd_start "$CTD_DIR"
	new=$(containerd_pid)
	sed -i "s/^proc $old /proc $new /" "$LEAK_BEFORE"
}
