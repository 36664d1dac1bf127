#!/usr/bin/env bats
# docker 28 + containerd 2.1 (Debian unstable's, unpacked privately:
# lib/sid.bash) with rcrun registered BOTH ways in daemon.json:
#   "rcrun":      {"runtimeType": "io.containerd.rcrun.v2"}   rcrun's shim
#   "rcrun-path": {"path": "<rcrun>"}    containerd 2.1's runc shim running rcrun
# and docker's default runc (containerd 2.1's runc shim + the host's runc)
# side by side: OOM -> 137 + OOMKilled, docker update read back from the
# cgroup files, docker info, nothing left behind.  FAILS under
# RCRUN_TEST_REQUIRE_DOCKER=1 (CI) when the packages cannot be fetched;
# otherwise skips with the reason.

bats_require_minimum_version 1.5.0
load ../lib/common
# shellcheck source=../lib/containerd.bash
source "$CONF_LIB/containerd.bash"
# shellcheck source=../lib/sid.bash
source "$CONF_LIB/sid.bash"

D28_CGP=/rcrun-test-$RCRUN_TEST_TAG-docker28

setup_file() {
	suite_setup_file || return 1
	if [[ ${RCRUN_TEST_NO_DOCKER:-0} == 1 ]]; then
		echo "RCRUN_TEST_NO_DOCKER=1" >"$BATS_FILE_TMPDIR/skip"
		return 0
	fi
	sid_fetch || { stacks_unavailable "Debian unstable's docker.io 28: $SID_UNAVAILABLE_WHY"; return; }
	local runtimes
	runtimes=$(jq -nc --arg path "$RUNTIME" '{"rcrun": {"runtimeType": "io.containerd.rcrun.v2"}, "rcrun-path": {"path": $path}}')
	debx_docker_file_start "$SID_ROOT" "$RCRUN_TEST_TMP/d28" "$D28_CGP" "$runtimes"
}

teardown_file() {
	local rc=0
	debx_docker_file_stop "$RCRUN_TEST_TMP/d28" || rc=1
	suite_teardown_file || rc=1
	return $rc
}

setup() {
	stacks_skip_if_unavailable
	debx_docker_test_setup
}

teardown() {
	[[ -f $BATS_FILE_TMPDIR/skip ]] && return 0
	debx_docker_test_teardown
}

# parent_cmd CID: the command line of the container init's parent (the shim).
parent_cmd() {
	local pid ppid
	pid=$(dkt inspect -f '{{.State.Pid}}' "$1") || return 1
	ppid=$(awk '{ print $4 }' "/proc/$pid/stat")
	tr '\0' ' ' <"/proc/$ppid/cmdline"
}

@test "docker 28: docker info/version, rcrun registered with runtimeType and with path; who runs each container" {
	run -0 dkt version --format '{{.Server.Version}} {{.Client.Version}}'
	note "docker $output + $("$SID_ROOT/usr/bin/containerd" --version | awk '{ print $3 }') (Debian unstable, unpacked in $SID_ROOT)"
	[[ ${output%%.*} -ge 28 ]]
	run -0 dkt info --format '{{.CgroupDriver}} {{.CgroupVersion}} {{.DefaultRuntime}}'
	note "docker info: CgroupDriver CgroupVersion DefaultRuntime: $output"
	assert_eq "docker info" "cgroupfs 1 runc" "$output"
	# (a runtimeType runtime shows as {}; a path runtime with its path and
	# the `features` docker asked the binary for)
	run -0 dkt info --format '{{json .Runtimes}}'
	run -0 jq -c '{rcrun: .rcrun, "rcrun-path": (."rcrun-path".path), features: (."rcrun-path".status["org.opencontainers.runtime-spec.features"] | fromjson | .annotations["io.github.rcrun.version"])}' <<<"$output"
	note "docker info runtimes: $output"
	assert_eq "docker info runtimes" "{\"rcrun\":{},\"rcrun-path\":\"$RUNTIME\",\"features\":\"$("$RUNTIME" features | jq -r '.annotations["io.github.rcrun.version"]')\"}" "$output"
	# runtimeType: the init's parent is rcrun's shim, and containerd 2.1 speaks v3 to it
	drun -d --runtime=rcrun "$DOCKER_IMAGE" sleep 600
	[[ $RC -eq 0 && -n $CID ]] || { echo "docker run -d: rc=$RC $ERR"; false; }
	run -0 parent_cmd "$CID"
	[[ $output == *containerd-shim-rcrun-v2*"-address $DOCKER_DIR/containerd.sock"* ]] || { echo "parent: $output"; false; }
	run -0 jq -c .version "$DOCKER_DIR/ctd-state/io.containerd.runtime.v2.task/moby/$CID/bootstrap.json"
	assert_eq "task API version containerd 2.1 uses with rcrun's shim" 3 "$output"
	run -0 dkt rm -f "$CID"
	nothing_left "$CID"
	# path: containerd's runc shim runs the rcrun binary (its state: rcrun's)
	drun -d --runtime=rcrun-path "$DOCKER_IMAGE" sleep 600
	[[ $RC -eq 0 && -n $CID ]] || { echo "docker run -d: rc=$RC $ERR"; false; }
	run -0 parent_cmd "$CID"
	[[ $output == *containerd-shim-runc-v2* ]] || { echo "parent: $output"; false; }
	run -0 grep -rl --include=options.json -F "$RUNTIME" "$DOCKER_DIR/ctd-state/io.containerd.runtime.v2.task/moby/$CID/"
	run -0 dkt rm -f "$CID"
	nothing_left "$CID"
}

@test "docker 28: docker run -m 128m dd bs=200M: exit 137 and State.OOMKilled=true (rcrun, rcrun-path, runc)" {
	local rt name
	for rt in rcrun rcrun-path runc; do
		name=rct$RCRUN_TEST_TAG-oom-$rt
		drun --name "$name" --runtime="$rt" -m 128m "$DOCKER_IMAGE" dd if=/dev/zero of=/dev/null bs=200M count=1
		echo "$rt stderr: $ERR"
		assert_eq "$rt: docker run exit status" 137 "$RC"
		run -0 dkt inspect -f '{{.State.OOMKilled}} {{.State.ExitCode}}' "$name"
		assert_eq "$rt: OOMKilled ExitCode" "true 137" "$output"
		note "$rt: exit 137, OOMKilled=true"
		run -0 dkt rm "$name"
		nothing_left "$CID"
	done
}

@test "docker 28: docker update -m/--cpus/--pids-limit: cgroup files read back (rcrun, rcrun-path)" {
	local rt cg q p
	for rt in rcrun rcrun-path; do
		drun -d --runtime="$rt" -m 128m "$DOCKER_IMAGE" sleep 600
		[[ $RC -eq 0 && -n $CID ]] || { echo "$rt: docker run -d: rc=$RC $ERR"; false; }
		cg=$D28_CGP/$CID
		assert_eq "$rt: memory.limit before" 134217728 "$(CG_PARENT=$D28_CGP cg_value "$cg" memory.limit)"
		run -0 dkt update --memory 96m --memory-swap 96m --cpus 0.5 --pids-limit 50 "$CID"
		assert_eq "$rt: memory.limit after update" $((96 << 20)) "$(CG_PARENT=$D28_CGP cg_value "$cg" memory.limit)"
		assert_eq "$rt: pids.limit after update" 50 "$(CG_PARENT=$D28_CGP cg_value "$cg" pids.limit)"
		q=$(CG_PARENT=$D28_CGP cg_value "$cg" cpu.quota)
		p=$(CG_PARENT=$D28_CGP cg_value "$cg" cpu.period)
		assert_eq "$rt: cpu quota/period after --cpus 0.5" "50000/100000" "$q/$p"
		run -0 dkt rm -f "$CID"
		nothing_left "$CID"
	done
}

@test "docker 28: docker run --rm true: exit 0, nothing left (rcrun, rcrun-path)" {
	local rt
	for rt in rcrun rcrun-path; do
		drun --rm --runtime="$rt" "$DOCKER_IMAGE" sh -c 'echo out-$0' "$rt"
		echo "$rt stderr: $ERR"
		assert_eq "$rt: docker run exit status" 0 "$RC"
		assert_eq "$rt: output" "out-$rt" "$OUT"
		run -0 dkt ps -aq
		assert_eq "containers" "" "$output"
		nothing_left "$CID"
	done
}
