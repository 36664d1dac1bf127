#!/usr/bin/env bats
# Churn through docker: `docker run --rm --network none -m 64m` many times
# on a PRIVATE dockerd (lib/docker.bash) with RUNTIME as "rcrun"; then the
# containers, cgroups, runtime state, shim sockets, mounts and processes must
# be back to the baseline, and so must the fds of dockerd and containerd
# (the long-lived callers).
#
#   RCRUN_TEST_DOCKER_CHURN_CYCLES   cycles (default 50; docs: 1000)
#
# Skipped when docker is not available or RCRUN_TEST_NO_DOCKER=1.

bats_require_minimum_version 1.5.0
load ../lib/common
load ../lib/reliability

DOCKER_CGP=/rcrun-test-$RCRUN_TEST_TAG-dchurn
DCHURN_CYCLES=${RCRUN_TEST_DOCKER_CHURN_CYCLES:-50}

setup_file() {
	suite_setup_file || return 1
	if ! docker_available; then
		echo "$DOCKER_UNAVAILABLE_WHY" >"$BATS_FILE_TMPDIR/docker-skip"
		return 0
	fi
	if ! docker_start "$RCRUN_TEST_TMP/dchurn" "$RUNTIME" "" "$DOCKER_CGP" >"$BATS_FILE_TMPDIR/docker-start.log" 2>&1 ||
		! docker_import_busybox >>"$BATS_FILE_TMPDIR/docker-start.log" 2>&1; then
		echo failed >"$BATS_FILE_TMPDIR/docker-failed"
		return 0
	fi
	CG_PARENT=$DOCKER_CGP test_parent_cgroup_create
	LEAK_EXTRA_STATE_DIRS=$(docker_state_dirs)
	export DOCKER_DIR LEAK_EXTRA_STATE_DIRS
}

teardown_file() {
	local rc=0
	if [[ -n ${DOCKER_DIR:-} ]]; then
		docker_stop "$DOCKER_DIR" || rc=1
	elif [[ -d $RCRUN_TEST_TMP/dchurn ]]; then
		docker_stop "$RCRUN_TEST_TMP/dchurn" || rc=1
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
	suite_setup
}

teardown() {
	[[ -f $BATS_FILE_TMPDIR/docker-skip || -f $BATS_FILE_TMPDIR/docker-failed ]] && return 0
	local cid
	for cid in $(dk ps -aq 2>/dev/null); do dk rm -f "$cid" >/dev/null 2>&1; done
	suite_teardown
}

fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | grep -c ''; }

dchurn_snapshot() {
	echo "containers $(dk ps -aq | grep -c '')"
	echo "cgroup_dirs $(find "${CG_HIERS[@]}" -mindepth 1 -type d -path "*$DOCKER_CGP/*" 2>/dev/null | grep -c '')"
	echo "runtime_state $(find "$(docker_rcrun_root)" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | grep -c '')"
	echo "task_bundles $(find "$DOCKER_DIR/ctd-state/io.containerd.runtime.v2.task/moby" -mindepth 1 -maxdepth 1 2>/dev/null | grep -c '')"
	echo "mounts_of_dockerd $(grep -c '' "/proc/$(<"$DOCKER_DIR/dockerd.pid")/mountinfo")"
	echo "mounts $(grep -c '' /proc/self/mountinfo)"
	echo "dockerd_fds $(fd_count "$(<"$DOCKER_DIR/dockerd.pid")")"
	echo "containerd_fds $(fd_count "$(<"$DOCKER_DIR/containerd.pid")")"
	echo "shims $(grep -laF "$DOCKER_DIR/containerd.sock" /proc/[0-9]*/cmdline 2>/dev/null | grep -vc "^/proc/$(<"$DOCKER_DIR/containerd.pid")/")"
	echo "memcgs $(awk '$1 == "memory" { print $3 }' /proc/cgroups)"
}

snap_get() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }

@test "docker churn: $DCHURN_CYCLES x docker run --rm --network none -m 64m leave nothing" {
	[[ $DCHURN_CYCLES -gt 0 ]] || skip "RCRUN_TEST_DOCKER_CHURN_CYCLES=0"
	# one warm-up run: dockerd/containerd open long-lived fds on first use
	timeout 120 "$DOCKER_CLI" -H "unix://$DOCKER_DIR/docker.sock" run --rm --network none --runtime=rcrun -m 64m "$DOCKER_IMAGE" true </dev/null 3>&-
	sleep 1
	dchurn_snapshot >"$BATS_TEST_TMPDIR/before"
	local c start=$SECONDS out rc=0
	for ((c = 1; c <= DCHURN_CYCLES; c++)); do
		rm -f "$BATS_TEST_TMPDIR/cid"
		out=$(timeout 120 "$DOCKER_CLI" -H "unix://$DOCKER_DIR/docker.sock" run --rm --network none --runtime=rcrun -m 64m \
			--cidfile "$BATS_TEST_TMPDIR/cid" "$DOCKER_IMAGE" sh -c 'echo ok' </dev/null 2>&1 3>&-) || rc=1
		[[ -s $BATS_TEST_TMPDIR/cid ]] && cat "$BATS_TEST_TMPDIR/cid" >>"$BATS_TEST_TMPDIR/cids"
		if [[ $rc -ne 0 || $out != ok ]]; then
			echo "cycle $c: docker run failed: $out"
			rc=1
			break
		fi
		((c % 100 == 0)) && note "docker churn: $c cycles, $((SECONDS - start))s"
	done
	local secs=$((SECONDS - start))
	while read -r cid; do docker_record_cid "$cid"; done <"$BATS_TEST_TMPDIR/cids"
	[ "$rc" -eq 0 ]
	sleep 2
	dchurn_snapshot >"$BATS_TEST_TMPDIR/after"
	note "docker churn: $DCHURN_CYCLES cycles in ${secs}s ($((secs * 1000 / DCHURN_CYCLES)) ms/cycle)"
	local k bv av
	for k in containers cgroup_dirs runtime_state task_bundles mounts_of_dockerd mounts dockerd_fds containerd_fds shims memcgs; do
		bv=$(snap_get "$BATS_TEST_TMPDIR/before" "$k")
		av=$(snap_get "$BATS_TEST_TMPDIR/after" "$k")
		note "docker churn: $k before=$bv after=$av"
	done
	local left=0
	while read -r cid; do [[ -e $(docker_shim_socket "$cid") ]] && left=$((left + 1)); done <"$BATS_TEST_TMPDIR/cids"
	note "docker churn: shim sockets left: $left"
	assert_eq "shim sockets left" 0 "$left" || rc=1
	for k in containers cgroup_dirs runtime_state task_bundles shims; do
		assert_eq "$k after $DCHURN_CYCLES docker runs" "$(snap_get "$BATS_TEST_TMPDIR/before" "$k")" "$(snap_get "$BATS_TEST_TMPDIR/after" "$k")" || rc=1
	done
	# the daemons' own fds vary by a few (idle client connections they keep
	# or drop); a leak per container would show as dozens
	for k in dockerd_fds containerd_fds; do
		bv=$(snap_get "$BATS_TEST_TMPDIR/before" "$k")
		av=$(snap_get "$BATS_TEST_TMPDIR/after" "$k")
		[[ $av -le $((bv + 5)) ]] || { echo "$k after $DCHURN_CYCLES docker runs: $av, before: $bv (more than 5 up)"; rc=1; }
	done
	if [[ ${RCRUN_TEST_STRICT_MOUNTS:-0} == 1 ]]; then
		for k in mounts mounts_of_dockerd; do
			assert_eq "$k after $DCHURN_CYCLES docker runs" "$(snap_get "$BATS_TEST_TMPDIR/before" "$k")" "$(snap_get "$BATS_TEST_TMPDIR/after" "$k")" || rc=1
		done
	fi
	return $rc
}
