# shellcheck shell=bash
# A PRIVATE containerd (+ ctr) driving containerd-shim-rcrun-v2.
#
#   containerd_available        || skip "$CONTAINERD_UNAVAILABLE_WHY"
#   containerd_start DIR [CONTAINERD_BIN]
#   cctr run --runtime io.containerd.rcrun.v2 ...   (ctr bound to it)
#   containerd_import_busybox   (image $CTD_IMAGE from the busybox rootfs)
#   containerd_stop [DIR]
#
# Everything lives in DIR (short: unix sockets): config, root, state, the
# grpc/ttrpc sockets, the log, and bin/ with the shim (containerd looks up
# containerd-shim-<name>-v2 on ITS PATH).  Its namespace is tag-named
# ($CTD_NS), so containerd's default cgroupsPath /<ns>/<id> is a tag-named
# cgroup the leak checker sees.
#
# Outside DIR containerd 1.6/1.7 writes the shim sockets
# /run/containerd/s/<sha256(grpc-address/ns/id)> whatever its config says:
# containerd_stop removes exactly those of the ids recorded with
# containerd_record_id, and /run/containerd{,/s} only if we created them and
# they are empty.
#
# Environment:
#   RCRUN_TEST_SHIM        shim binary (default: release, else debug build)
#   RCRUN_TEST_CONTAINERD  containerd binary (default: containerd on PATH;
#                          e.g. a containerd 1.7 unpacked with dpkg -x)
#   RCRUN_TEST_CTR         ctr binary (default: ctr next to containerd, else PATH)

CTD_IMAGE=${CTD_IMAGE:-docker.io/library/rcrun-busybox:latest}
CTD_RUNTIME=io.containerd.rcrun.v2

shim_binary() {
	local b
	for b in "${RCRUN_TEST_SHIM:-}" "$REPO/target/release/containerd-shim-rcrun-v2" \
		"$REPO/target/debug/containerd-shim-rcrun-v2"; do
		[[ -n $b && -x $b ]] && { echo "$b"; return 0; }
	done
	return 1
}

containerd_available() {
	CONTAINERD_UNAVAILABLE_WHY=""
	CTD_BIN=${RCRUN_TEST_CONTAINERD:-$(command -v containerd 2>/dev/null)}
	if [[ -z $CTD_BIN || ! -x $CTD_BIN ]]; then
		CONTAINERD_UNAVAILABLE_WHY="containerd not installed (apt-get install containerd)"
		return 1
	fi
	CTR_BIN=${RCRUN_TEST_CTR:-}
	if [[ -z $CTR_BIN ]]; then
		if [[ -x $(dirname "$CTD_BIN")/ctr ]]; then
			CTR_BIN=$(dirname "$CTD_BIN")/ctr
		else
			CTR_BIN=$(command -v ctr 2>/dev/null)
		fi
	fi
	if [[ -z $CTR_BIN || ! -x $CTR_BIN ]]; then
		CONTAINERD_UNAVAILABLE_WHY="ctr not found"
		return 1
	fi
	if ! SHIM_BIN=$(shim_binary); then
		CONTAINERD_UNAVAILABLE_WHY="containerd-shim-rcrun-v2 not built (cargo build --release -p containerd-shim-rcrun-v2)"
		return 1
	fi
	export CTD_BIN CTR_BIN SHIM_BIN
	return 0
}

# cctr ARGS...: ctr on the private containerd, namespace $CTD_NS.
cctr() { timeout -k 5 "${RCRUN_TEST_CMD_TIMEOUT:-60}" "$CTR_BIN" -a "$CTD_DIR/containerd.sock" -n "$CTD_NS" "$@"; }

containerd_pid() { cat "$CTD_DIR/containerd.pid" 2>/dev/null; }

# containerd_start DIR: start (or restart, keeping root/state) the daemon.
containerd_start() {
	CTD_DIR=$1
	CTD_NS=${CTD_NS:-rct-$RCRUN_TEST_TAG}
	export CTD_DIR CTD_NS
	mkdir -p "$CTD_DIR/bin" || return 1
	CTD_DIR=$(cd "$CTD_DIR" && pwd -P)
	local d=$CTD_DIR i
	if [[ ${#d} -gt 60 ]]; then
		echo "containerd_start: DIR '$d' too long for unix sockets" >&2
		return 1
	fi
	if [[ ! -e $d/created-global ]]; then
		: >"$d/created-global"
		for i in /run/containerd /run/containerd/s /run/containerd/rcrun /run/containerd/runc; do
			[[ -e $i ]] || echo "$i" >>"$d/created-global"
		done
		: >"$d/ids"
	fi
	ln -sf "$SHIM_BIN" "$d/bin/containerd-shim-rcrun-v2"
	containerd_base_toml "$d" 'disabled_plugins = ["io.containerd.grpc.v1.cri"]' >"$d/containerd.toml"
	PATH="$d/bin:$(dirname "$CTD_BIN"):$PATH" "$CTD_BIN" --config "$d/containerd.toml" </dev/null >>"$d/containerd.log" 2>&1 3>&- &
	echo $! >"$d/containerd.pid"
	for ((i = 0; i < 100; i++)); do
		if [[ -S $d/containerd.sock ]] && cctr version >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	echo "containerd did not start; log:" >&2
	tail -n 20 "$d/containerd.log" >&2
	return 1
}

# containerd_base_toml DIR [TOP_LEVEL_LINE]: the config of a private
# containerd living in DIR (root, state, sockets, opt; debug log level).
containerd_base_toml() {
	local d=$1
	cat <<EOF
version = 2
root = "$d/root"
state = "$d/state"
${2:-}
[grpc]
  address = "$d/containerd.sock"
[ttrpc]
  address = "$d/containerd.sock.ttrpc"
[debug]
  address = ""
  level = "debug"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"
EOF
}

# containerd_kill_daemon: stop containerd only (its shims live on).
containerd_kill_daemon() {
	local pid
	pid=$(containerd_pid)
	[[ $pid =~ ^[0-9]+$ ]] || return 0
	if [[ $({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null) == *"$CTD_DIR"* ]]; then
		kill -TERM "$pid" 2>/dev/null
		_docker_wait_gone "$pid" 10 || { kill -KILL "$pid" 2>/dev/null; _docker_wait_gone "$pid" 5; }
	fi
	rm -f "$CTD_DIR/containerd.sock" "$CTD_DIR/containerd.sock.ttrpc"
}

# containerd_import_busybox [IMAGE [CMD_JSON]]: a docker-archive tar of the
# cached busybox rootfs (one layer, written by hand), imported as IMAGE
# (default $CTD_IMAGE) with Cmd CMD_JSON (default ["sh"]).
containerd_import_busybox() {
	local image=${1:-$CTD_IMAGE} cmd=${2:-'["sh"]'} rootfs tar dir diff cfg
	cctr image ls -q 2>/dev/null | grep -qxF "$image" && return 0
	rootfs=$(make_rootfs) || return 1
	tar=$(dirname "$rootfs")/rootfs.tar
	dir=$CTD_DIR/image
	mkdir -p "$dir/layer" || return 1
	cp "$tar" "$dir/layer/layer.tar" || return 1
	diff=$(sha256sum "$dir/layer/layer.tar" | cut -d' ' -f1)
	jq -n --arg diff "sha256:$diff" --argjson cmd "$cmd" '{
		architecture: "amd64", os: "linux",
		config: {Env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: $cmd},
		rootfs: {type: "layers", diff_ids: [$diff]}
	}' >"$dir/config.json" || return 1
	cfg=$(sha256sum "$dir/config.json" | cut -d' ' -f1)
	mv "$dir/config.json" "$dir/$cfg.json"
	jq -n --arg cfg "$cfg.json" --arg tag "${image#docker.io/library/}" \
		'[{Config: $cfg, RepoTags: [$tag], Layers: ["layer/layer.tar"]}]' >"$dir/manifest.json" || return 1
	tar -C "$dir" -cf "$dir.tar" manifest.json "$cfg.json" layer/layer.tar || return 1
	rm -rf "$dir"
	cctr image import "$dir.tar" >/dev/null || return 1
	rm -f "$dir.tar"
}

# containerd_record_id ID: remember a task id (for shim-socket cleanup).
containerd_record_id() { echo "$1" >>"$CTD_DIR/ids"; }

# containerd_shim_socket ID: the shim socket containerd uses for ID.
containerd_shim_socket() {
	local h
	h=$(printf '%s' "$CTD_DIR/containerd.sock/$CTD_NS/$1" | sha256sum | cut -d' ' -f1)
	echo "/run/containerd/s/$h"
}

# containerd_shim_pids: pids of shims serving our containerd.
containerd_shim_pids() {
	pgrep -f "^[^ ]*containerd-shim-rcrun-v2 .*-address $CTD_DIR/containerd.sock( |\$)" || true
}

# containerd_shim_pid ID [NAME]: the pid of the serving shim of task ID
# (NAME: the shim's runtime name, default rcrun; runc for containerd's own).
containerd_shim_pid() {
	pgrep -f "^[^ ]*containerd-shim-${2:-rcrun}-v2 -namespace $CTD_NS -id $1 -address $CTD_DIR/containerd.sock( |\$)" | head -1
}

# containerd_ns_cgroup_rmdir: remove our namespace's cgroup parent (/<ns>:
# containerd's default cgroupsPath is /<ns>/<id>) where it is empty; a
# runtime may leave it when the namespace's last container goes (runc
# does).  rmdir only: a container cgroup still in it keeps it (and shows up
# as a leak).
containerd_ns_cgroup_rmdir() {
	local m
	for m in "${CG_HIERS[@]}"; do
		[[ -d $m/$CTD_NS ]] && rmdir "$m/$CTD_NS" 2>/dev/null
	done
	return 0
}

# containerd_remove_all: every task killed and deleted, every container
# deleted (best effort, never fails).
containerd_remove_all() {
	local id
	for id in $(cctr task ls -q 2>/dev/null); do
		cctr task kill -s SIGKILL "$id" >/dev/null 2>&1
		cctr task delete -f "$id" >/dev/null 2>&1
	done
	for id in $(cctr container ls -q 2>/dev/null); do
		cctr container delete "$id" >/dev/null 2>&1
	done
	return 0
}

containerd_stop() {
	local d=${1:-$CTD_DIR} i id p
	CTD_DIR=$d
	[[ -d $d ]] || return 0
	if [[ -S $d/containerd.sock ]]; then
		containerd_remove_all
	fi
	for p in $(containerd_shim_pids); do
		kill -KILL "$p" 2>/dev/null
	done
	containerd_kill_daemon
	while read -r id; do
		[[ -n $id ]] || continue
		rm -f "$(containerd_shim_socket "$id")"
	done <"$d/ids"
	# the shims' state roots for our namespace (empty once all is deleted;
	# runc's when a test compared with containerd's runc shim)
	# the namespace is this run's: so is rcrun's OOM journal in its root
	rm -f "/run/containerd/rcrun/$CTD_NS"/oom-journal.jsonl "/run/containerd/rcrun/$CTD_NS"/oom-journal.jsonl.1 \
		"/run/containerd/rcrun/$CTD_NS"/oom-journal.lock
	rmdir "/run/containerd/rcrun/$CTD_NS" "/run/containerd/runc/$CTD_NS" 2>/dev/null
	if [[ -s $d/created-global ]]; then
		for i in $(sort -r "$d/created-global"); do
			rmdir "$i" 2>/dev/null
		done
	fi
	local m
	for m in "${CG_HIERS[@]}"; do
		[[ -d $m/$CTD_NS ]] && cg_kill_and_remove "$m/$CTD_NS"
	done
	umount_under "$d"
	rm -rf "$d"
	return 0
}
