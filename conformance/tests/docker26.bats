#!/usr/bin/env bats
# docker >= 23 with the rcrun SHIM: Debian trixie's dockerd 26 (+ its docker
# CLI) and containerd 1.7, unpacked privately with dpkg -x (lib/trixie.bash;
# nothing is installed into the system), a PRIVATE instance with
#   daemon.json "runtimes": {"rcrun": {"runtimeType": "io.containerd.rcrun.v2"}}
# containerd finds containerd-shim-rcrun-v2 on its own PATH.  The main job:
# `docker run --runtime=rcrun -m 128m ... dd bs=200M` exits 137 and docker
# says State.OOMKilled=true; a `docker run --rm ... true` exits 0 and leaves
# no shim process, socket, cgroup, mount or state behind.
# Skipped only when the trixie packages cannot be fetched (no network, no
# apt; the reason is printed) or with RCRUN_TEST_NO_DOCKER=1; the first run
# downloads ~60 MiB into $RCRUN_TEST_CACHE/trixie (later runs: the cache).

bats_require_minimum_version 1.5.0
load ../lib/common
# shellcheck source=../lib/containerd.bash
source "$CONF_LIB/containerd.bash"
# shellcheck source=../lib/trixie.bash
source "$CONF_LIB/trixie.bash"

DOCKER26_CGP=/rcrun-test-$RCRUN_TEST_TAG-docker26

setup_file() {
	suite_setup_file || return 1
	# (bats 1.8 fails a file whose setup_file skips: setup() skips each test)
	if [[ ${RCRUN_TEST_NO_DOCKER:-0} == 1 ]]; then
		echo "RCRUN_TEST_NO_DOCKER=1" >"$BATS_FILE_TMPDIR/skip"
		return 0
	fi
	if ! trixie_fetch; then
		echo "Debian trixie's docker.io: $TRIXIE_UNAVAILABLE_WHY" >"$BATS_FILE_TMPDIR/skip"
		return 0
	fi
	debx_docker_file_start "$TRIXIE_ROOT" "$RCRUN_TEST_TMP/d26" "$DOCKER26_CGP" \
		'{"rcrun": {"runtimeType": "io.containerd.rcrun.v2"}}'
}

teardown_file() {
	local rc=0
	debx_docker_file_stop "$RCRUN_TEST_TMP/d26" || rc=1
	suite_teardown_file || rc=1
	return $rc
}

setup() {
	if [[ -f $BATS_FILE_TMPDIR/skip ]]; then
		skip "docker 26 not available: $(cat "$BATS_FILE_TMPDIR/skip")"
	fi
	debx_docker_test_setup
}

teardown() {
	[[ -f $BATS_FILE_TMPDIR/skip ]] && return 0
	debx_docker_test_teardown
}

@test "docker 26: dockerd 26 + containerd 1.7 from trixie, rcrun registered with runtimeType io.containerd.rcrun.v2" {
	run -0 dkt version --format '{{.Server.Version}}'
	note "dockerd $output, $("$TRIXIE_ROOT/usr/bin/containerd" --version | awk '{ print $3 }') (trixie, unpacked in $TRIXIE_ROOT)"
	[[ ${output%%.*} -ge 23 ]]
	run -0 jq -c '.runtimes' "$DOCKER_DIR/daemon.json"
	assert_eq "daemon.json runtimes" '{"rcrun":{"runtimeType":"io.containerd.rcrun.v2"}}' "$output"
	# the container really runs under containerd-shim-rcrun-v2
	drun -d --runtime=rcrun "$DOCKER_IMAGE" sleep 600
	[[ $RC -eq 0 && -n $CID ]] || { echo "docker run -d: rc=$RC $ERR"; false; }
	local pid ppid
	pid=$(dkt inspect -f '{{.State.Pid}}' "$CID")
	ppid=$(awk '{ print $4 }' "/proc/$pid/stat")
	run -0 tr '\0' ' ' <"/proc/$ppid/cmdline"
	[[ $output == *containerd-shim-rcrun-v2*"-address $DOCKER_DIR/containerd.sock"* ]] || { echo "parent of the init: $output"; false; }
	run -0 dkt rm -f "$CID"
	nothing_left "$CID"
}

@test "docker 26: docker run --runtime=rcrun -m 128m dd bs=200M: exit 137, State.OOMKilled=true" {
	local name=rct$RCRUN_TEST_TAG-oom26
	drun --name "$name" --runtime=rcrun -m 128m "$DOCKER_IMAGE" dd if=/dev/zero of=/dev/null bs=200M count=1
	echo "stderr: $ERR"
	assert_eq "docker run exit status" 137 "$RC"
	run -0 dkt inspect -f '{{.State.OOMKilled}} {{.State.ExitCode}}' "$name"
	assert_eq "OOMKilled ExitCode" "true 137" "$output"
	run -0 dkt rm "$name"
	nothing_left "$CID"
}

# The shim logs the whole account to containerd's log and keeps it in
# rcrun's journal under its state root, /run/containerd/rcrun/<namespace>.
@test "docker 26: docker run --rm -m 128m dd bs=200M: the account in containerd's log, and from rcrun oom-report 10 s after the removal" {
	docker_oom_rm_wait
	run -0 grep -F "OOM kill in container $CID: pid " "$DOCKER_DIR/containerd.log"
	echo "$output"
	[[ $output == *" (dd) = init killed; limit hit: own "*"; usage 128.0 MiB of limit 128.0 MiB, failcnt "*"; victim anon-rss "* ]]
	run -0 "$RUNTIME" --root /run/containerd/rcrun/moby oom-report "$CID"
	echo "$output"
	assert_gone_oom_account "$CID"
	nothing_left "$CID"
}

@test "docker 26: docker run --rm --runtime=rcrun true: exit 0, no shim process, socket, cgroup, mount or state left" {
	drun --rm --runtime=rcrun "$DOCKER_IMAGE" true
	echo "stderr: $ERR"
	assert_eq "docker run exit status" 0 "$RC"
	[[ -n $CID ]]
	run -0 dkt ps -aq
	assert_eq "containers" "" "$output"
	nothing_left "$CID"
}

# docker update goes to containerd's Update and the shim's Update (ctr 1.6
# and 1.7 have no `task update`): the new limits are read back from the
# container's cgroup files.
@test "docker 26: docker update -m/--cpus/--pids-limit through the shim: cgroup files read back" {
	drun -d --runtime=rcrun -m 128m "$DOCKER_IMAGE" sleep 600
	[[ $RC -eq 0 && -n $CID ]] || { echo "docker run -d: rc=$RC $ERR"; false; }
	local cg=$DOCKER26_CGP/$CID
	assert_eq "memory.limit before" 134217728 "$(CG_PARENT=$DOCKER26_CGP cg_value "$cg" memory.limit)"
	run -0 dkt update --memory 96m --memory-swap 96m --cpus 0.5 --pids-limit 50 "$CID"
	assert_eq "memory.limit after update" $((96 << 20)) "$(CG_PARENT=$DOCKER26_CGP cg_value "$cg" memory.limit)"
	assert_eq "pids.limit after update" 50 "$(CG_PARENT=$DOCKER26_CGP cg_value "$cg" pids.limit)"
	local q p
	q=$(CG_PARENT=$DOCKER26_CGP cg_value "$cg" cpu.quota)
	p=$(CG_PARENT=$DOCKER26_CGP cg_value "$cg" cpu.period)
	assert_eq "cpu quota/period after --cpus 0.5" "50000/100000" "$q/$p"
	if CG_PARENT=$DOCKER26_CGP cg_has memory.swap; then
		assert_eq "memory.swap after update" $((96 << 20)) "$(CG_PARENT=$DOCKER26_CGP cg_value "$cg" memory.swap)"
	fi
	run -0 dkt rm -f "$CID"
	nothing_left "$CID"
}

# With --oom-kill-disable the container freezes at its limit (v1
# under_oom 1, no kill): the shim's /tasks/oom is all docker hears of it.
# docker's default runtime (runc, containerd's runc shim) is the reference.
@test "docker 26: --oom-kill-disable -m 128m: frozen at its limit, docker events oom and State.OOMKilled=true (rcrun shim and runc shim)" {
	[[ $CG_LAYOUT != v2 ]] || skip "cgroup v2 has no OOM-killer switch"
	local rt ev=$BATS_TEST_TMPDIR/docker-events since
	since=$(date +%s)
	for rt in rcrun runc; do
		drun -d --runtime="$rt" --oom-kill-disable -m 128m --memory-swap 128m "$DOCKER_IMAGE" sh -c 'a=x; while :; do a=$a$a; done'
		[[ $RC -eq 0 && -n $CID ]] || { echo "$rt: docker run -d: rc=$RC $ERR"; false; }
		wait_frozen "$(cg_mount memory)$DOCKER26_CGP/$CID" "$rt"
		sleep 2
		run -0 dkt inspect -f '{{.State.Status}} {{.State.OOMKilled}}' "$CID"
		note "$rt: docker inspect State.Status State.OOMKilled: $output"
		assert_eq "$rt: Status OOMKilled while frozen" "running true" "$output"
		timeout 5 "$DOCKER_CLI" -H "unix://$DOCKER_DIR/docker.sock" events --since "$since" --until "$(date +%s)" \
			--filter "container=$CID" --filter event=oom --format '{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}' >"$ev" 2>&1 </dev/null 3>&- || true
		note "$rt: docker events: $(head -1 "$ev") ($(grep -c '^oom ' "$ev") oom event(s))"
		[[ $(grep -c "^oom $CID " "$ev") -ge 1 ]] || { echo "$rt: no docker oom event"; cat "$ev"; false; }
		if [[ $rt == rcrun ]]; then
			assert_eq "rcrun: docker oom events for one episode" 1 "$(grep -c "^oom $CID " "$ev")"
		fi
		run -0 dkt rm -f "$CID"
		nothing_left "$CID"
	done
}
