#!/usr/bin/env bats
# A killed `rcrun start` through docker (issue 19): a PRIVATE dockerd 20.10
# (lib/docker.bash) whose "rcrun" runtime is a wrapper running the
# crash-points rcrun (lib/reliability.bash crash_runtime) with
# RCRUN_TEST_CRASH_AT = the step in $DOCKER_DIR/crash-at.  Docker 20.10
# drives the runtime through containerd's io.containerd.runc.v2 shim.
#
# What docker 20.10 does after a failed start (measured here, and the same
# with runc: see the last test): its containerd 1.6 client refuses to delete
# a task whose status is `created` with a pid ("task must be stopped before
# deletion: created"), so it never calls the runtime's `delete` or `kill`;
# `docker rm -f` then forgets the container, and the shim keeps the task.
# No runtime can be asked to clean up then.  What rcrun guarantees, and
# what is asserted: every process left is known to rcrun's state, which
# says the truth (`created` after any step before the final save, the init
# waiting or its program running; `running` after it), and `delete` WITHOUT
# --force (`--force` for running) then leaves nothing: no process in the
# container's cgroup, no cgroup, no state.
# Skipped with RCRUN_TEST_NO_DOCKER=1 (the VMs) or without docker; a FAILURE
# without docker or the crash-points build when RCRUN_TEST_REQUIRE_DOCKER=1
# (conformance/ci.sh).

bats_require_minimum_version 1.5.0
load ../lib/common
load ../lib/reliability
load ../lib/boundary

DOCKER_CGP=/rcrun-test-$RCRUN_TEST_TAG-dcrash

setup_file() {
	suite_setup_file || return 1
	local crt d=$RCRUN_TEST_TMP/dcrash
	if ! crt=$(crash_runtime 2>"$BATS_FILE_TMPDIR/crash-build.log"); then
		echo "no crash-points build: $(tail -n 3 "$BATS_FILE_TMPDIR/crash-build.log" | tr '\n' ' ')" >"$BATS_FILE_TMPDIR/docker-missing"
		return 0
	fi
	echo "$crt" >"$BATS_FILE_TMPDIR/crash-rt"
	crash_wrapper "$d/rcrun-crash" "$crt" "$d" || return 1
	# runc killed before its start does anything (the one step a wrapper
	# can hit): what docker 20.10 does with runc's leftovers
	cat >"$d/runc-crash" <<EOF
#!/bin/sh
case " \$* " in
*" start "*) [ -s "$d/crash-at" ] && kill -9 \$\$ ;;
esac
exec runc "\$@"
EOF
	chmod 755 "$d/runc-crash"
	docker_file_start dcrash "$d/rcrun-crash" "$d/runc-crash" "$DOCKER_CGP"
}

teardown_file() {
	local rc=0
	docker_file_stop dcrash || rc=1
	suite_teardown_file || rc=1
	return $rc
}

setup() {
	docker_file_ready || return 1
	CRASH_RT=$(<"$BATS_FILE_TMPDIR/crash-rt")
	# docker 20.10 gives every runtime runc's root
	DK_RT_ROOT=$DOCKER_DIR/exec/runtime-runc/moby
	: >"$DOCKER_DIR/crash-at"
	suite_setup
}

teardown() {
	[[ -f $BATS_FILE_TMPDIR/docker-skip || -f $BATS_FILE_TMPDIR/docker-missing || -f $BATS_FILE_TMPDIR/docker-failed ]] && return 0
	: >"$DOCKER_DIR/crash-at"
	local cid
	for cid in $(dk ps -aq 2>/dev/null); do dk rm -f "$cid" >/dev/null 2>&1; done
	mctr_cleanup
	suite_teardown
}

# mctr ARGS...: ctr on docker's containerd, namespace moby.
mctr() { timeout -k 5 60 ctr -a "$DOCKER_DIR/containerd.sock" -n moby "$@"; }

# mctr_cleanup: what docker left in containerd (tasks docker could not
# delete, their containers) and in its exec root: killed and deleted, the
# shims exit.
mctr_cleanup() {
	local id i
	for id in $(mctr task ls -q 2>/dev/null); do
		mctr task kill -s SIGKILL "$id" >/dev/null 2>&1 || true
		for ((i = 0; i < 50; i++)); do
			mctr task delete "$id" >/dev/null 2>&1 && break
			sleep 0.1
		done
	done
	for id in $(mctr container ls -q 2>/dev/null); do
		mctr container delete "$id" >/dev/null 2>&1 || true
		rm -rf "${DOCKER_DIR:?}/exec/containerd/$id"
	done
	return 0
}

# procs_of CID: pids of every process whose cgroup names CID.
procs_of() {
	grep -lF "$1" /proc/[0-9]*/cgroup 2>/dev/null | awk -F/ '{ print $3 }' | grep -vx "$$" || true
}

# docker_start_crash STEP: `docker run -d ... sleep 1000` with `rcrun
# start` killed at STEP; then `docker rm -f`.  Sets CID, RUN_ERR; fails
# unless the run failed with the SIGKILL's status and rm -f succeeded.
docker_start_crash() {
	local step=$1 name
	name=$(ctr_id "dcrash-${step//:/-}")
	echo "$step" >"$DOCKER_DIR/crash-at"
	rc_of dk run -d --runtime=rcrun --network none --name "$name" "$DOCKER_IMAGE" sleep 1000
	RUN_ERR=$ERR
	: >"$DOCKER_DIR/crash-at"
	CID=$(dk inspect -f '{{.Id}}' "$name" 2>/dev/null)
	[[ -n $CID ]] && docker_record_cid "$CID"
	note "$step: docker run rc=$RC: $RUN_ERR"
	[ "$RC" -ne 0 ] || { echo "$step: docker run succeeded"; return 1; }
	[[ $RUN_ERR == *"137"* || $RUN_ERR == *killed* ]] || { echo "$step: docker run did not fail with rcrun's SIGKILL: $RUN_ERR"; return 1; }
	[[ -n $CID ]] || { echo "$step: docker forgot the container"; return 1; }
	note "$step: docker: $(dk ps -a --filter "id=$CID" --format '{{.Status}}'); rcrun state: $("$CRASH_RT" --root "$DK_RT_ROOT" state "$CID" 2>&1 | jq -c '{status, pid}' 2>/dev/null)"
	rc_of dk rm -f "$name"
	[ "$RC" -eq 0 ] || { echo "$step: docker rm -f: $ERR"; return 1; }
	grep -F "${CID:0:12}" "$DOCKER_DIR/dockerd.log" "$DOCKER_DIR/containerd.log" | grep -iE "error|fail|delete" | cut -c1-400 >&3 || true
	note "$step: runtime calls: $(grep -F "$CID" "$DOCKER_DIR/calls.log" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^(create|start|state|kill|delete)$/) { print $i; break } }' | tr '\n' ' ')"
}

# nothing_of_container CID: no process in a cgroup of CID, no cgroup dir,
# no rcrun state, and docker lists nothing.
nothing_of_container() {
	local cid=$1 p left m
	left=$(procs_of "$cid")
	[[ -z $left ]] || {
		for p in $left; do echo "left: pid $p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"; done
		return 1
	}
	for m in "${CG_HIERS[@]}"; do
		left=$(find "$m" -type d -name "$cid" 2>/dev/null)
		[[ -z $left ]] || { echo "cgroup left: $left"; return 1; }
	done
	[[ ! -e $DK_RT_ROOT/$cid ]] || { echo "rcrun state left: $DK_RT_ROOT/$cid"; return 1; }
	left=$(dk ps -aq)
	[[ -z $left ]] || { echo "docker ps -a: $left"; return 1; }
}

# known_and_removed STEP WANT: after docker rm -f, every process left in
# the container's cgroup is the init rcrun's state names, with status WANT;
# `delete` (no --force; --force for running) then leaves nothing; then
# containerd's leftover task is removed.
known_and_removed() {
	local step=$1 want=$2 pids st pid
	pids=$(procs_of "$CID")
	st=$("$CRASH_RT" --root "$DK_RT_ROOT" state "$CID" 2>&1)
	pid=$(jq -r .pid <<<"$st" 2>/dev/null)
	note "$step: after docker rm -f: processes of the container: $(for p in $pids; do printf '%s(%s) ' "$p" "$(cat "/proc/$p/comm" 2>/dev/null)"; done); rcrun state: $(jq -c '{status, pid}' <<<"$st" 2>/dev/null || echo "$st"); containerd: $(mctr task ls 2>/dev/null | awk -v c="$CID" '$1 == c { print $2, $3 }')"
	assert_eq "$step: rcrun status" "$want" "$(jq -r .status <<<"$st")" || return 1
	[[ $pids == "$pid" ]] || { echo "$step: processes $pids, rcrun's state names $pid"; return 1; }
	if [[ $want == running ]]; then
		rc_of "$CRASH_RT" --root "$DK_RT_ROOT" delete "$CID"
		[ "$RC" -ne 0 ] || { echo "$step: delete without --force removed a running container"; return 1; }
		rc_of "$CRASH_RT" --root "$DK_RT_ROOT" delete --force "$CID"
	else
		rc_of "$CRASH_RT" --root "$DK_RT_ROOT" delete "$CID"
	fi
	[ "$RC" -eq 0 ] || { echo "$step: rcrun delete: $ERR"; return 1; }
	mctr_cleanup
	nothing_of_container "$CID"
}

@test "docker 20.10: rcrun start killed before the release: its waiting init is rcrun's created container; delete removes it" {
	docker_start_crash start:before-release
	[[ $(cat "/proc/$(procs_of "$CID")/comm" 2>/dev/null) != sleep ]] || { echo "the program runs"; false; }
	known_and_removed start:before-release created
}

@test "docker 20.10: rcrun start killed right after the connect that releases the init: created, delete kills the program" {
	docker_start_crash start:after-connect
	known_and_removed start:after-connect created
}

@test "docker 20.10: rcrun start killed after the release, before the state save: created, delete kills the program" {
	docker_start_crash start:after-release
	known_and_removed start:after-release created
}

@test "docker 20.10: rcrun start killed after its final save: running, and rcrun's state says so" {
	docker_start_crash start:after-save
	known_and_removed start:after-save running
}

@test "docker 20.10 with runc killed at the start of its start: the same leftovers (reported)" {
	local name pids
	name=$(ctr_id dcrash-runc)
	echo start >"$DOCKER_DIR/crash-at"
	rc_of dk run -d --runtime=rcrun-ref --network none --name "$name" "$DOCKER_IMAGE" sleep 1000
	: >"$DOCKER_DIR/crash-at"
	CID=$(dk inspect -f '{{.Id}}' "$name" 2>/dev/null)
	[[ -n $CID ]] && docker_record_cid "$CID"
	note "runc: docker run rc=$RC: $(head -n 1 <<<"$ERR")"
	[ "$RC" -ne 0 ]
	dk rm -f "$name" >/dev/null
	pids=$(procs_of "$CID")
	note "runc: after docker rm -f: processes of the container: $(for p in $pids; do printf '%s(%s) ' "$p" "$(cat "/proc/$p/comm" 2>/dev/null)"; done); runc state: $(runc --root "$DK_RT_ROOT" state "$CID" 2>&1 | jq -c '{status, pid}' 2>/dev/null); containerd: $(mctr task ls 2>/dev/null | awk -v c="$CID" '$1 == c { print $2, $3 }')"
	runc --root "$DK_RT_ROOT" delete --force "$CID" >/dev/null 2>&1 || true
	mctr_cleanup
}
