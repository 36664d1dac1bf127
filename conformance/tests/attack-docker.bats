#!/usr/bin/env bats
# The container boundary through docker: a PRIVATE dockerd (lib/docker.bash)
# with RUNTIME registered as "rcrun"; every attack runs side by side under
# docker's default runtime (runc, via containerd's runc shim) and under
# --runtime=rcrun.  Both outcomes are reported (TAP comments); only rcrun is
# asserted.  The attacks (lib/boundary.bash), from the issue "container
# boundary":
#   (1) raise the container's own memory / memsw / pids limits by writing
#       /sys/fs/cgroup from inside (the spec mounts the hierarchies ro);
#   (2) escape the container's seccomp filter, capabilities, no_new_privs,
#       user or rlimits through `docker exec`;
#   (3) mknod + open a device outside the container's allow list.
# Nothing may be left after each test (containers, cgroups, shim sockets,
# runtime state, mounts, processes).
# Skipped with RCRUN_TEST_NO_DOCKER=1 (the VMs) or without docker; a FAILURE
# without docker when RCRUN_TEST_REQUIRE_DOCKER=1 (conformance/ci.sh).

bats_require_minimum_version 1.5.0
load ../lib/common
load ../lib/boundary

MiB=1048576
DOCKER_CGP=/rcrun-test-$RCRUN_TEST_TAG-dattack
# docker's own default runtime (runc from PATH, through containerd's runc
# shim), then the runtime under test
RTS=(runc rcrun)

setup_file() {
	suite_setup_file || return 1
	if [[ ${RCRUN_TEST_NO_DOCKER:-0} == 1 ]]; then
		echo "RCRUN_TEST_NO_DOCKER=1" >"$BATS_FILE_TMPDIR/docker-skip"
		return 0
	fi
	if ! docker_available; then
		echo "$DOCKER_UNAVAILABLE_WHY" >"$BATS_FILE_TMPDIR/docker-missing"
		return 0
	fi
	if ! docker_start "$RCRUN_TEST_TMP/dattack" "$RUNTIME" "" "$DOCKER_CGP" >"$BATS_FILE_TMPDIR/docker-start.log" 2>&1 ||
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
	elif [[ -d $RCRUN_TEST_TMP/dattack ]]; then
		docker_stop "$RCRUN_TEST_TMP/dattack" || rc=1
	fi
	LEAK_EXTRA_STATE_DIRS=""
	suite_teardown_file || rc=1
	return $rc
}

setup() {
	if [[ -f $BATS_FILE_TMPDIR/docker-skip ]]; then
		skip "docker tests off: $(cat "$BATS_FILE_TMPDIR/docker-skip")"
	fi
	if [[ -f $BATS_FILE_TMPDIR/docker-missing ]]; then
		boundary_unavailable "docker not available: $(cat "$BATS_FILE_TMPDIR/docker-missing")" || return 1
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
	[[ -f $BATS_FILE_TMPDIR/docker-skip || -f $BATS_FILE_TMPDIR/docker-missing || -f $BATS_FILE_TMPDIR/docker-failed ]] && return 0
	local rc=0 left cid
	left=$(dk ps -aq 2>/dev/null)
	if [[ -n $left ]]; then
		echo "containers left behind: $left"
		for cid in $left; do dk rm -f "$cid" >/dev/null 2>&1; done
		[[ -n ${BATS_TEST_COMPLETED:-} ]] && rc=1
	fi
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

dkt() { timeout 120 "$DOCKER_CLI" -H "unix://$DOCKER_DIR/docker.sock" "$@"; }

# drun ARGS...: `docker run --network none` with a cidfile; sets RC OUT ERR CID.
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

# dexec ARGS...: `docker exec`; sets RC OUT (stdout+stderr).
dexec() {
	RC=0
	OUT=$(dkt exec "$@" </dev/null 2>&1 3>&-) || RC=$?
}

# dstart RT ARGS...: detached `sleep 600` container under RT; fails loudly.
dstart() {
	local rt=$1
	shift
	drun -d --runtime="$rt" "$@" "$DOCKER_IMAGE" sleep 600
	[[ $RC -eq 0 && -n $CID ]] || { echo "docker run -d --runtime=$rt $*: rc=$RC $ERR"; return 1; }
}

# ------------------------------------------------- (1) cgroup limits ---

# Defence: the cgroup hierarchies are mounted READ-ONLY in the container
# (spec: /sys/fs/cgroup "ro"), so the limits docker set cannot be raised
# from inside.  The attack runs in a `docker exec` (same mounts as the init)
# while the host reads the container's cgroup files; then a 200 MiB dd in
# the container must still be OOM-killed under -m 64m (exit 137).
@test "docker: -m 64m --pids-limit 20: memory/memsw/pids not writable inside (EROFS), host cgroup files unchanged, dd 200M OOM-killed (137)" {
	local rt keys=() k want fails=""
	for k in memory.limit memory.swap pids.limit; do cg_has "$k" && keys+=("$k"); done
	[[ ${#keys[@]} -gt 0 ]] || skip "$CG_LAYOUT: none of memory.limit/memory.swap/pids.limit here"
	local -A host=() verdict=() attack=()
	for rt in "${RTS[@]}"; do
		dstart "$rt" -m 64m --pids-limit 20
		dexec "$CID" sh -c "$BOUNDARY_CG_SCRIPT"
		attack[$rt]=$OUT
		verdict[$rt]=$(boundary_cg_verdict "$OUT")
		note "$rt: attack from docker exec (rc=$RC): $(grep -E '^(WRITE|MOUNT)' <<<"$OUT" | grep -v absent | tr '\n' ';')"
		for k in "${keys[@]}"; do host[$rt,$k]=$(docker_cg_value "$CID" "$k"); done
		note "$rt: host after the attack: $(for k in "${keys[@]}"; do printf '%s=%s ' "$k" "${host[$rt,$k]}"; done)"
		dexec "$CID" dd if=/dev/zero of=/dev/null bs=200M count=1
		host[$rt,dd]=$RC
		note "$rt: docker exec dd bs=200M: exit $RC"
		run -0 dkt rm -f "$CID"
	done
	[[ -z ${verdict[runc]} ]] || note "runc (reference) did not hold either: ${verdict[runc]}"
	[[ -z ${verdict[rcrun]} ]] || fails+="inside: ${verdict[rcrun]}"$'\n'
	for k in "${keys[@]}"; do
		case $k in
		memory.limit) want=$(cg_expect memory.limit $((64 * MiB))) ;;
		# docker: --memory-swap unset = twice -m
		memory.swap) want=$(cg_expect memory.swap $((128 * MiB)) $((64 * MiB))) ;;
		pids.limit) want=20 ;;
		esac
		[[ ${host[rcrun,$k]} == "$want" ]] || fails+="host $k: '${host[rcrun,$k]}', wanted '$want'"$'\n'
	done
	[[ ${host[rcrun,dd]} == 137 ]] || fails+="dd bs=200M in docker exec under -m 64m: exit ${host[rcrun,dd]}, wanted 137 (OOM kill)"$'\n'
	[[ -z $fails ]] || { echo "rcrun: the container raised its limits:"; echo "$fails"; echo "attack output:"; echo "${attack[rcrun]}"; false; }
}

# Defence: the same, in the container's init, exactly as in the issue: the
# writes fail with EROFS and dd is OOM-killed, so `docker run` exits 137.
@test "docker: the issue's command (init raises memsw/memory/pids, then dd bs=200M under -m 64m) exits 137 with EROFS" {
	local rt verdict=""
	local script="$BOUNDARY_CG_SCRIPT
dd if=/dev/zero of=/dev/null bs=200M count=1"
	for rt in "${RTS[@]}"; do
		drun --rm --runtime="$rt" -m 64m --pids-limit 20 "$DOCKER_IMAGE" sh -c "$script"
		verdict=$(boundary_cg_verdict "$OUT")
		note "$rt: docker run exit $RC; $(grep -E '^WRITE' <<<"$OUT" | grep -v absent | tr '\n' ';')"
		[[ -z $verdict ]] || note "$rt: $verdict"
	done
	[[ -z $verdict ]] || { echo "rcrun: $verdict"; echo "$OUT"; false; }
	assert_eq "rcrun: docker run exit status (dd OOM-killed)" 137 "$RC"
}

# -------------------------------------------- (2) exec's attributes ---

# exec_vs_init RT ARGS...: container with docker ARGS under RT, then the
# attribute script in `docker exec`; sets PROC_OUT, PROC_DIFF.
exec_vs_init() {
	local rt=$1
	shift
	dstart "$rt" "$@" || return 1
	dexec "$CID" sh -c "$BOUNDARY_PROC_SCRIPT"
	PROC_OUT=$OUT
	PROC_DIFF=$(boundary_proc_diff "$OUT")
	run -0 dkt rm -f "$CID"
	[[ $PROC_OUT == *BOUNDARY-PROC-DONE* ]] || { echo "$rt: docker exec failed (rc=$RC): $PROC_OUT"; return 1; }
	note "$rt: init: $(boundary_proc_summary "$PROC_OUT" init)"
	note "$rt: exec: $(boundary_proc_summary "$PROC_OUT" self)"
	[[ -z $PROC_DIFF ]] || note "$rt: exec differs from init: $(tr '\n' ';' <<<"$PROC_DIFF")"
}

# Defence: `docker exec` joins the container's seccomp filter (docker's
# default profile: mode 2), capability sets, no_new_privs, ids and rlimits.
@test "docker exec: same Seccomp mode/filters, capabilities, NoNewPrivs, ids and rlimits as the init (default profile)" {
	local rt
	for rt in "${RTS[@]}"; do exec_vs_init "$rt"; done
	assert_eq "rcrun: Seccomp of the init (docker's default profile)" 2 "$(boundary_field "$PROC_OUT" init Seccomp)"
	[[ -z $PROC_DIFF ]] || { echo "rcrun: the exec'd process differs from the init:"; echo "$PROC_DIFF"; false; }
}

# Defence: the same for a hardened container: a non-root user, a reduced
# bounding set, no_new_privs and custom rlimits all reach the exec'd process
# (docker passes the container's process spec to exec).
@test "docker exec: a hardened container (--user 1000:1000, --cap-drop ALL, no-new-privileges, --ulimit) keeps it in the exec" {
	local rt
	for rt in "${RTS[@]}"; do
		exec_vs_init "$rt" --user 1000:1000 --cap-drop ALL --cap-add CHOWN --cap-add KILL \
			--security-opt no-new-privileges --ulimit nofile=512:1024 --ulimit nproc=300:400
	done
	assert_eq "rcrun: init Uid" "1000 1000 1000 1000" "$(boundary_field "$PROC_OUT" init Uid)"
	assert_eq "rcrun: init NoNewPrivs" 1 "$(boundary_field "$PROC_OUT" init NoNewPrivs)"
	assert_eq "rcrun: init Seccomp" 2 "$(boundary_field "$PROC_OUT" init Seccomp)"
	assert_eq "rcrun: init CapBnd (CHOWN|KILL)" 0000000000000021 "$(boundary_field "$PROC_OUT" init CapBnd)"
	[[ -z $PROC_DIFF ]] || { echo "rcrun: the exec'd process differs from the init:"; echo "$PROC_DIFF"; false; }
}

# ---------------------------------------------------- (3) devices ---

# Defence: the device cgroup (docker: deny all, then its default allow
# list) stops a node made with CAP_MKNOD from being opened: /dev/kmsg and the
# host's root disk, in the init and in a docker exec.
@test "docker: mknod + open of /dev/kmsg (c 1 11) and of the host disk is refused (init and docker exec)" {
	local rt disk hc v_init v_exec out_init list
	disk=$(boundary_disk)
	hc=$(boundary_dev_host_check "$disk") || skip "$hc"
	note "$hc"
	for rt in "${RTS[@]}"; do
		drun --rm --runtime="$rt" -e "BOUNDARY_DISK=$disk" "$DOCKER_IMAGE" sh -c "$BOUNDARY_DEV_SCRIPT"
		out_init=$OUT
		v_init=$(boundary_dev_verdict "$OUT")
		note "$rt: init: $(grep -E '^(MKNOD|OPEN)' <<<"$OUT" | tr '\n' ';')"
		dstart "$rt" -e "BOUNDARY_DISK=$disk"
		dexec "$CID" sh -c "$BOUNDARY_DEV_SCRIPT"
		v_exec=$(boundary_dev_verdict "$OUT")
		note "$rt: exec: $(grep -E '^(MKNOD|OPEN)' <<<"$OUT" | tr '\n' ';')"
		list=$(boundary_devices_list "$(dkt inspect -f '{{.State.Pid}}' "$CID")")
		[[ -n $list ]] && note "$rt: host devices.list: $list"
		[[ $list != *"a *:* rwm"* ]] || v_exec+="devices.list allows everything: $list"
		run -0 dkt rm -f "$CID"
	done
	[[ -z $v_init ]] || { echo "rcrun: init opened a device outside the allow list: $v_init"; echo "$out_init"; false; }
	[[ -z $v_exec ]] || { echo "rcrun: docker exec opened a device outside the allow list: $v_exec"; echo "$OUT"; false; }
}
