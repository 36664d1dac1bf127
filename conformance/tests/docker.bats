#!/usr/bin/env bats
# docker: a PRIVATE dockerd (lib/docker.bash) with RUNTIME registered as
# "rcrun" (and REF_RUNTIME as "rcrun-ref").  The main job: an OOM-killed
# container exits 137 and docker reports OOMKilled=true; docker's resource
# flags land in the cgroup files (read on the host while the container
# sleeps).  Nothing may be left after each test (containers, cgroups, shim
# sockets, runtime state, mounts, processes).
# Skipped when docker is not available or RCRUN_TEST_NO_DOCKER=1.

bats_require_minimum_version 1.5.0
load ../lib/common

MiB=1048576
DOCKER_CGP=/rcrun-test-$RCRUN_TEST_TAG-docker

setup_file() {
	suite_setup_file || return 1
	if ! docker_available; then
		echo "$DOCKER_UNAVAILABLE_WHY" >"$BATS_FILE_TMPDIR/docker-skip"
		return 0
	fi
	if ! docker_start "$RCRUN_TEST_TMP/docker" "$RUNTIME" "$REF_RUNTIME" "$DOCKER_CGP" >"$BATS_FILE_TMPDIR/docker-start.log" 2>&1 ||
		! docker_import_busybox >>"$BATS_FILE_TMPDIR/docker-start.log" 2>&1; then
		echo failed >"$BATS_FILE_TMPDIR/docker-failed"
		return 0
	fi
	# docker creates its cgroup parent lazily; create it now (it lives until
	# docker_stop removes it) so it does not show up as a per-test leak
	CG_PARENT=$DOCKER_CGP test_parent_cgroup_create
	LEAK_EXTRA_STATE_DIRS=$(docker_state_dirs)
	export DOCKER_DIR LEAK_EXTRA_STATE_DIRS
}

teardown_file() {
	local rc=0
	if [[ -n ${DOCKER_DIR:-} ]]; then
		docker_stop "$DOCKER_DIR" || rc=1
	elif [[ -d $RCRUN_TEST_TMP/docker ]]; then
		docker_stop "$RCRUN_TEST_TMP/docker" || rc=1
	fi
	LEAK_EXTRA_STATE_DIRS=""
	suite_teardown_file || rc=1
	return $rc
}

setup() {
	if [[ -f $BATS_FILE_TMPDIR/docker-skip ]]; then
		skip "docker not available: $(cat "$BATS_FILE_TMPDIR/docker-skip")"
	fi
	if [[ -f $BATS_FILE_TMPDIR/docker-failed ]]; then
		cat "$BATS_FILE_TMPDIR/docker-start.log"
		echo "private dockerd failed to start (log above)"
		return 1
	fi
	cp "$DOCKER_DIR/cids" "$BATS_TEST_TMPDIR/.cids-before"
	suite_setup
}

teardown() {
	[[ -f $BATS_FILE_TMPDIR/docker-skip || -f $BATS_FILE_TMPDIR/docker-failed ]] && return 0
	local rc=0 left cid
	left=$(dk ps -aq 2>/dev/null)
	if [[ -n $left ]]; then
		echo "containers left behind: $left"
		for cid in $left; do dk rm -f "$cid" >/dev/null 2>&1; done
		[[ -n ${BATS_TEST_COMPLETED:-} ]] && rc=1
	fi
	# shim sockets of this test's containers must be gone
	while read -r cid; do
		[[ -n $cid ]] || continue
		if [[ -e $(docker_shim_socket "$cid") ]]; then
			echo "shim socket of $cid left: $(docker_shim_socket "$cid")"
			[[ -n ${BATS_TEST_COMPLETED:-} ]] && rc=1
		fi
	done < <(comm -13 <(sort "$BATS_TEST_TMPDIR/.cids-before" 2>/dev/null) <(sort "$DOCKER_DIR/cids"))
	suite_teardown || rc=1
	return $rc
}

# dkt: docker CLI with a timeout (a hanging runtime must fail the test).
dkt() { timeout 120 "$DOCKER_CLI" -H "unix://$DOCKER_DIR/docker.sock" "$@"; }

# drun ARGS...: `docker run` with --network none and a cidfile (for cleanup
# bookkeeping); sets RC, OUT, ERR, CID.
drun() {
	local cidf
	cidf=$(mktemp -u "$BATS_TEST_TMPDIR/cid.XXXXXX")
	RC=0
	dkt run --network none --cidfile "$cidf" "$@" </dev/null >"$BATS_TEST_TMPDIR/.drun.out" 2>"$BATS_TEST_TMPDIR/.drun.err" 3>&- || RC=$?
	OUT=$(cat "$BATS_TEST_TMPDIR/.drun.out")
	ERR=$(cat "$BATS_TEST_TMPDIR/.drun.err")
	CID=$(cat "$cidf" 2>/dev/null)
	[[ -n $CID ]] && docker_record_cid "$CID"
	return 0
}

# ----------------------------------------------------------------- OOM ---

@test "docker run --rm -m 128m dd bs=200M: exit status 137" {
	drun --rm --runtime=rcrun -m 128m "$DOCKER_IMAGE" dd if=/dev/zero of=/dev/null bs=200M count=1
	echo "stderr: $ERR"
	assert_eq "docker run exit status" 137 "$RC"
}

@test "docker run -m 128m dd bs=200M (no --rm): State.OOMKilled=true ExitCode=137" {
	drun --name "rct$RCRUN_TEST_TAG-oom" --runtime=rcrun -m 128m "$DOCKER_IMAGE" dd if=/dev/zero of=/dev/null bs=200M count=1
	assert_eq "docker run exit status" 137 "$RC"
	run -0 dkt inspect -f '{{.State.OOMKilled}} {{.State.ExitCode}}' "rct$RCRUN_TEST_TAG-oom"
	assert_eq "OOMKilled ExitCode" "true 137" "$output"
	run -0 dkt rm "rct$RCRUN_TEST_TAG-oom"
}

# docker removes rcrun's state 0.2-0.4 s after the exit; `rcrun delete`
# (the only call docker 20.10's runc shim makes after it) keeps the account
# in the journal under docker's root for rcrun.
@test "docker run --rm -m 128m dd bs=200M: 10 s after the removal, rcrun oom-report (docker's root) names the victim, the limit, usage" {
	docker_oom_rm_wait
	run -0 "$RUNTIME" --root "$(docker_rcrun_root)" oom-report "$CID"
	echo "$output"
	assert_gone_oom_account "$CID"
	run -0 "$RUNTIME" --root "$(docker_rcrun_root)" oom-report --format json "$CID"
	assert_eq "victim" dd "$(jq -r '.kills[-1].command' <<<"$output")"
}

@test "docker run: plain exit status (sh -c 'exit 3') and no false OOMKilled" {
	drun --name "rct$RCRUN_TEST_TAG-exit3" --runtime=rcrun -m 128m "$DOCKER_IMAGE" sh -c 'exit 3'
	assert_eq "docker run exit status" 3 "$RC"
	run -0 dkt inspect -f '{{.State.OOMKilled}} {{.State.ExitCode}}' "rct$RCRUN_TEST_TAG-exit3"
	assert_eq "OOMKilled ExitCode" "false 3" "$output"
	run -0 dkt rm "rct$RCRUN_TEST_TAG-exit3"
}

# ------------------------------------------------------- resource flags ---

# dflag_check "DOCKER FLAGS" KEY=SPEC[,EXTRA]...: run `sleep` with the flags
# under rcrun and rcrun-ref, read every KEY from the container's cgroup on
# the host, compare with the expected value and between the runtimes.
dflag_check() {
	local flags=$1 rtname kv key spec extra exp got cf path rc=0
	shift
	local -A val=()
	for rtname in rcrun rcrun-ref; do
		# shellcheck disable=SC2086
		drun -d --runtime=$rtname $flags "$DOCKER_IMAGE" sleep 600
		[[ $RC -eq 0 && -n $CID ]] || { echo "docker run ($rtname) failed: rc=$RC $ERR"; return 1; }
		# docker (cgroupfs driver) asks for <cgroup-parent>/<full id>
		path=$(docker_cg_path "$CID" memory)
		assert_eq "$rtname: cgroup of the container" "$DOCKER_CGP/$CID" "$path" || rc=1
		for kv in "$@"; do
			key=${kv%%=*} spec=${kv#*=} extra=""
			[[ $spec == *,* ]] && { extra=${spec#*,}; spec=${spec%%,*}; }
			exp=$(cg_expect "$key" "$spec" "$extra")
			cf=$(cg_logical "$key")
			got=$(docker_cg_value "$CID" "$key")
			echo "$rtname $key ($cf): expected '$exp' got '$got'"
			[[ $got == "$exp" ]] || { echo "MISMATCH ($rtname): $key"; rc=1; }
			val[$rtname,$key]=$got
		done
		run -0 dkt rm -f "$CID"
	done
	for kv in "$@"; do
		key=${kv%%=*}
		[[ ${val[rcrun,$key]} == "${val[rcrun-ref,$key]}" ]] ||
			{ echo "MISMATCH rcrun vs rcrun-ref for $key: '${val[rcrun,$key]}' vs '${val[rcrun-ref,$key]}'"; rc=1; }
	done
	return $rc
}

need() {
	local k
	for k in "$@"; do
		cg_has "$k" || skip "$CG_LAYOUT layout: $k not available here"
	done
}

@test "docker --cpus 0.5" {
	need cpu.quota cpu.period
	dflag_check "--cpus 0.5" cpu.quota=50000 cpu.period=100000
}

@test "docker --cpu-shares 512" {
	need cpu.shares
	dflag_check "--cpu-shares 512" cpu.shares=512
}

@test "docker --cpuset-cpus 0" {
	need cpuset.cpus
	dflag_check "--cpuset-cpus 0" cpuset.cpus=0
}

@test "docker --pids-limit 50" {
	need pids.limit
	dflag_check "--pids-limit 50" pids.limit=50
}

@test "docker -m 128m --memory-swap 256m" {
	need memory.limit memory.swap
	dflag_check "-m 128m --memory-swap 256m" memory.limit=$((128 * MiB)) memory.swap=$((256 * MiB)),$((128 * MiB))
}

@test "docker --memory-reservation 64m" {
	need memory.reservation
	dflag_check "--memory-reservation 64m" memory.reservation=$((64 * MiB))
}

@test "docker --memory-swappiness 10" {
	need memory.swappiness
	dflag_check "--memory-swappiness 10" memory.swappiness=10
}

@test "docker -m 128m --oom-kill-disable" {
	need memory.limit memory.oom_kill_disable
	dflag_check "-m 128m --oom-kill-disable" memory.limit=$((128 * MiB)) memory.oom_kill_disable=1
}
