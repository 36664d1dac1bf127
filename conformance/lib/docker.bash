# shellcheck shell=bash
# A PRIVATE dockerd (+ its own containerd) for tests and packaging/demo.sh.
#
#   docker_available            || echo "$DOCKER_UNAVAILABLE_WHY"
#   docker_start DIR RUNTIME [REF_RUNTIME] [CGROUP_PARENT]
#   dk run --runtime=rcrun ...  (docker CLI bound to the private daemon)
#   docker_import_busybox       (image $DOCKER_IMAGE from the busybox rootfs)
#   docker_stop DIR
#
# Everything lives in DIR (keep it short: unix socket paths < 108 bytes):
# containerd root/state/sockets, dockerd data-root, exec-root, pidfile,
# socket, daemon.json, key.json, logs.  The runtime under test is registered
# as "rcrun" (and REF_RUNTIME as "rcrun-ref"); containers always run with
# --network none (daemon: bridge none, no iptables, no ip-forward).
#
# Things dockerd 20.10 / containerd 1.6 write OUTSIDE DIR, and what we do:
#   /etc/docker/key.json  the libtrust key: written unless the daemon config
#                         has "deprecated-key-path" (a PATH string; it is the
#                         json name of the old --trust-key/--deprecated-key-path
#                         flag) -> we point it into DIR.
#   /run/docker/plugins   hard-coded plugin socket dir -> removed at stop if
#                         we created it and it is empty.
#   /run/containerd/s/<sha256(grpc-address/namespace/id)>  shim sockets,
#                         hard-coded in containerd 1.6 whatever its config
#                         says -> we remove exactly the ones of our
#                         containers (ids recorded in DIR/cids) and the dirs
#                         if we created them and they are empty.
#   cgroups               "cgroup-parent" -> a tag-named parent we remove.
# dockerd is never allowed to use the system containerd: without --containerd
# it would silently attach to /run/containerd/containerd.sock if one runs.

DOCKER_IMAGE=${DOCKER_IMAGE:-rcrun-busybox:latest}
DOCKER_CLI=${RCRUN_TEST_DOCKER_CLI:-docker}

docker_available() {
	DOCKER_UNAVAILABLE_WHY=""
	if [[ ${RCRUN_TEST_NO_DOCKER:-0} == 1 ]]; then
		DOCKER_UNAVAILABLE_WHY="RCRUN_TEST_NO_DOCKER=1"
		return 1
	fi
	local b
	for b in dockerd containerd containerd-shim-runc-v2 "$DOCKER_CLI"; do
		if ! command -v "$b" >/dev/null 2>&1; then
			DOCKER_UNAVAILABLE_WHY="$b not installed (apt-get install docker.io containerd)"
			return 1
		fi
	done
	return 0
}

dk() { "$DOCKER_CLI" -H "unix://$DOCKER_DIR/docker.sock" "$@"; }

_docker_wait_gone() { # PID TIMEOUT_S
	local pid=$1 t=$2 i st
	for ((i = 0; i < t * 10; i++)); do
		[[ -e /proc/$pid ]] || return 0
		st=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)
		[[ -z $st || $st == Z ]] && return 0
		sleep 0.1
	done
	return 1
}

_docker_stop_pid() { # PIDFILE NAME
	local pf=$1 pid
	[[ -s $pf ]] || return 0
	pid=$(<"$pf")
	[[ $pid =~ ^[0-9]+$ ]] || return 0
	# only if it still is the process we started (command line names DIR)
	if [[ -r /proc/$pid/cmdline && $(tr '\0' ' ' <"/proc/$pid/cmdline") == *"$DOCKER_DIR"* ]]; then
		kill -TERM "$pid" 2>/dev/null
		_docker_wait_gone "$pid" 20 || { kill -KILL "$pid" 2>/dev/null; _docker_wait_gone "$pid" 5; }
	fi
	return 0
}

# docker_start DIR RUNTIME [REF_RUNTIME] [CGROUP_PARENT]
docker_start() {
	DOCKER_DIR=$1
	local runtime=$2 refrt=${3:-} cgparent=${4:-/rcrun-docker-$$} d i
	export DOCKER_DIR
	mkdir -p "$DOCKER_DIR" || return 1
	DOCKER_DIR=$(cd "$DOCKER_DIR" && pwd -P)
	d=$DOCKER_DIR
	if [[ ${#d} -gt 60 ]]; then
		echo "docker_start: DIR '$d' too long for unix sockets" >&2
		return 1
	fi
	: >"$d/created-global"
	for i in /run/docker /run/docker/plugins /run/containerd /run/containerd/s; do
		[[ -e $i ]] || echo "$i" >>"$d/created-global"
	done
	echo "$cgparent" >"$d/cgroup-parent"
	: >"$d/cids"

	cat >"$d/containerd.toml" <<EOF
version = 2
root = "$d/ctd-root"
state = "$d/ctd-state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$d/containerd.sock"
[ttrpc]
  address = "$d/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"
EOF
	containerd --config "$d/containerd.toml" </dev/null >"$d/containerd.log" 2>&1 3>&- &
	echo $! >"$d/containerd.pid"
	for ((i = 0; i < 100; i++)); do
		[[ -S $d/containerd.sock ]] && break
		sleep 0.1
	done
	if [[ ! -S $d/containerd.sock ]]; then
		echo "containerd did not start; log:" >&2
		tail -n 20 "$d/containerd.log" >&2
		return 1
	fi

	local runtimes
	runtimes=$(jq -n --arg rt "$runtime" --arg ref "$refrt" \
		'{rcrun: {path: $rt}} + (if $ref != "" then {"rcrun-ref": {path: $ref}} else {} end)')
	jq -n --arg d "$d" --arg cgp "$cgparent" --argjson runtimes "$runtimes" '{
		"bridge": "none",
		"iptables": false,
		"ip6tables": false,
		"ip-forward": false,
		"ip-masq": false,
		"userland-proxy": false,
		"deprecated-key-path": ($d + "/key.json"),
		"exec-opts": ["native.cgroupdriver=cgroupfs"],
		"cgroup-parent": $cgp,
		"log-driver": "json-file",
		"runtimes": $runtimes
	}' >"$d/daemon.json" || return 1

	dockerd --config-file "$d/daemon.json" \
		--data-root "$d/data" --exec-root "$d/exec" --pidfile "$d/docker.pid" \
		--host "unix://$d/docker.sock" --containerd "$d/containerd.sock" \
		</dev/null >"$d/dockerd.log" 2>&1 3>&- &
	echo $! >"$d/dockerd.pid"
	for ((i = 0; i < 600; i++)); do
		if dk info >/dev/null 2>&1; then
			break
		fi
		if ! kill -0 "$(<"$d/dockerd.pid")" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	if ! dk info >/dev/null 2>&1; then
		echo "dockerd did not become ready; log:" >&2
		tail -n 30 "$d/dockerd.log" >&2
		return 1
	fi
	if ! dk info --format '{{json .Runtimes}}' | jq -e 'has("rcrun")' >/dev/null; then
		echo "dockerd did not register runtime rcrun" >&2
		return 1
	fi
	return 0
}

# docker_import_busybox: import the cached busybox rootfs as $DOCKER_IMAGE.
docker_import_busybox() {
	local rootfs
	rootfs=$(make_rootfs) || return 1
	dk image inspect "$DOCKER_IMAGE" >/dev/null 2>&1 && return 0
	dk import "$(dirname "$rootfs")/rootfs.tar" "$DOCKER_IMAGE" >/dev/null
}

# docker_record_cid CID: remember a container id (for shim-socket cleanup).
docker_record_cid() { echo "$1" >>"$DOCKER_DIR/cids"; }

# docker_shim_socket CID: the shim socket containerd 1.6 uses for CID.
docker_shim_socket() {
	local h
	h=$(printf '%s' "$DOCKER_DIR/containerd.sock/moby/$1" | sha256sum | cut -d' ' -f1)
	echo "/run/containerd/s/$h"
}

# docker_state_dirs: per-container state dirs that must be empty when no
# container exists: the runtimes' --root (docker 20.10: exec-root/
# runtime-runc/moby for every runtime, rcrun's and runc's alike; docker >= 23:
# exec-root/runtime-<name>/moby) and containerd's task bundles.
docker_state_dirs() {
	local d=$DOCKER_DIR
	echo "$(docker_rcrun_root) $d/exec/runtime-rcrun/moby $d/exec/runtime-rcrun-ref/moby $d/ctd-state/io.containerd.runtime.v2.task/moby $d/exec/containerd"
}

# assert_gone_oom_account ID: `run rcrun oom-report ID` ($output, $lines)
# of a container that is gone, whose init (dd) hit its own 128 MiB limit.
assert_gone_oom_account() {
	[[ ${lines[0]} == "container $1 no longer exists: deleted at "* ]] || return 1
	[[ $output == *"(dd), the container's init process"* ]] || return 1
	[[ $output == *"limit hit: the container's own memory limit"* ]] || return 1
	# The usage: the kernel's record, or (its report rate-limited in a burst
	# of OOMs) the cgroup's own peak.
	[[ $output == *"cgroup memory at the kill: usage 128.0 MiB, limit 128.0 MiB, failcnt "* ||
		$output == *"cgroup memory: peak usage 128.0 MiB of limit 128.0 MiB, failcnt "* ]]
}

# docker_oom_rm_wait: `docker run --rm` of a dd init that outgrows -m 128m
# (through the test file's drun/dkt), then 10 s: exit status 137 and no
# container left in docker. Sets CID.
docker_oom_rm_wait() {
	drun --rm --runtime=rcrun -m 128m "$DOCKER_IMAGE" dd if=/dev/zero of=/dev/null bs=200M count=1
	assert_eq "docker run exit status" 137 "$RC" || return 1
	[[ -n $CID ]] || { echo "no container id"; return 1; }
	sleep 10
	local left
	left=$(dkt ps -aq) || return 1
	assert_eq "containers 10 s after the exit" "" "$left"
}

# docker_rcrun_root: rcrun's --root under this private docker 20.10, which
# gives every runtime <exec-root>/runtime-runc/moby (docker >= 23 with a
# `path` runtime: runtime-<name>/moby).
docker_rcrun_root() { echo "$DOCKER_DIR/exec/runtime-runc/moby"; }

docker_stop() {
	local d=${1:-$DOCKER_DIR} i cid
	DOCKER_DIR=$d
	[[ -d $d ]] || return 0
	if [[ -S $d/docker.sock ]]; then
		for cid in $(dk ps -aq 2>/dev/null); do
			dk rm -f "$cid" >/dev/null 2>&1
		done
	fi
	_docker_stop_pid "$d/docker.pid"
	_docker_stop_pid "$d/dockerd.pid"
	# shims of our containerd (they outlive it by design)
	local p
	for p in $(grep -laF "$d/containerd.sock" /proc/[0-9]*/cmdline 2>/dev/null | awk -F/ '{ print $3 }'); do
		[[ $p == "$(<"$d/containerd.pid")" ]] && continue
		kill -KILL "$p" 2>/dev/null
	done
	_docker_stop_pid "$d/containerd.pid"
	while read -r cid; do
		[[ -n $cid ]] || continue
		rm -f "$(docker_shim_socket "$cid")"
	done <"$d/cids"
	# global dirs we created, only if empty (but for rcrun's OOM journal of
	# our containers: a state root we made is ours)
	if [[ -s $d/created-global ]]; then
		for i in $(sort -r "$d/created-global"); do
			rm -f "$i"/oom-journal.jsonl "$i"/oom-journal.jsonl.1 "$i"/oom-journal.lock 2>/dev/null
			rmdir "$i" 2>/dev/null
		done
	fi
	local cgp m
	cgp=$(cat "$d/cgroup-parent" 2>/dev/null)
	if [[ -n $cgp && $cgp != / ]]; then
		for m in "${CG_HIERS[@]}"; do
			cg_kill_and_remove "$m$cgp"
		done
	fi
	umount_under "$d"
	rm -rf "$d"
	return 0
}

# docker_cg_path CID CONTROLLER: the container's cgroup path (from its init
# process' /proc/PID/cgroup).
docker_cg_path() {
	local pid
	pid=$(dk inspect -f '{{.State.Pid}}' "$1") || return 1
	[[ $pid -gt 0 ]] || { echo "container $1 has no pid" >&2; return 1; }
	cg_pid_path "$pid" "$2"
}

# docker_cg_value CID KEY: logical cgroup value (see cg_value) of a running
# docker container, read on the host.
docker_cg_value() {
	local cid=$1 key=$2 cf path
	cf=$(cg_logical "$key") || return 1
	path=$(docker_cg_path "$cid" "${cf%% *}") || return 1
	cg_value "$path" "$key"
}

# The private dockerd of one .bats file, for files that need no more than
# this (setup_file / teardown_file / setup):
#   docker_file_start NAME RUNTIME REF_RUNTIME CGROUP_PARENT
#       in setup_file after suite_setup_file: starts it in
#       $RCRUN_TEST_TMP/NAME and imports the image; never fails the file,
#       records why instead ($BATS_FILE_TMPDIR/docker-{skip,missing,failed}).
#   docker_file_stop NAME     in teardown_file (then suite_teardown_file)
#   docker_file_ready         in setup: skips (RCRUN_TEST_NO_DOCKER=1),
#       skips or fails (boundary_unavailable: lib/boundary.bash) without
#       docker, fails when the daemon did not start
docker_file_start() {
	local name=$1 runtime=$2 refrt=$3 cgp=$4
	if [[ ${RCRUN_TEST_NO_DOCKER:-0} == 1 ]]; then
		echo "RCRUN_TEST_NO_DOCKER=1" >"$BATS_FILE_TMPDIR/docker-skip"
		return 0
	fi
	if ! docker_available; then
		echo "docker not available: $DOCKER_UNAVAILABLE_WHY" >"$BATS_FILE_TMPDIR/docker-missing"
		return 0
	fi
	if ! docker_start "$RCRUN_TEST_TMP/$name" "$runtime" "$refrt" "$cgp" >"$BATS_FILE_TMPDIR/docker-start.log" 2>&1 ||
		! docker_import_busybox >>"$BATS_FILE_TMPDIR/docker-start.log" 2>&1; then
		echo failed >"$BATS_FILE_TMPDIR/docker-failed"
		return 0
	fi
	CG_PARENT=$cgp test_parent_cgroup_create
	LEAK_EXTRA_STATE_DIRS=$(docker_state_dirs)
	export DOCKER_DIR LEAK_EXTRA_STATE_DIRS
}

docker_file_stop() {
	local rc=0
	if [[ -n ${DOCKER_DIR:-} ]]; then
		docker_stop "$DOCKER_DIR" || rc=1
	elif [[ -d $RCRUN_TEST_TMP/$1 ]]; then
		docker_stop "$RCRUN_TEST_TMP/$1" || rc=1
	fi
	LEAK_EXTRA_STATE_DIRS=""
	return $rc
}

docker_file_ready() {
	if [[ -f $BATS_FILE_TMPDIR/docker-skip ]]; then
		skip "docker tests off: $(cat "$BATS_FILE_TMPDIR/docker-skip")"
	fi
	if [[ -f $BATS_FILE_TMPDIR/docker-missing ]]; then
		boundary_unavailable "$(cat "$BATS_FILE_TMPDIR/docker-missing")" || return 1
	fi
	if [[ -f $BATS_FILE_TMPDIR/docker-failed ]]; then
		cat "$BATS_FILE_TMPDIR/docker-start.log"
		echo "private dockerd failed to start (log above)"
		return 1
	fi
}
