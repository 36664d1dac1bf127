# shellcheck shell=bash
# Kubernetes' way in, without a kubelet: a PRIVATE containerd 1.7 (Debian
# trixie's, lib/trixie.bash) with its CRI plugin, runtime handlers `runc`
# (containerd's runc shim + the host's runc) and `rcrun` (the rcrun shim, as
# packaging/containerd/config-snippet.toml plus container_annotations), and
# a CRI client. Pods use the host network (no CNI at all), images are
# imported locally (no registry): busybox, and a "pause" made of it.
# Also the base of issue 18's critest runs.
#
#   source conformance/lib/{common,containerd,trixie}.bash; source conformance/k8s/lib.bash
#   cri_available || skip "$CRI_UNAVAILABLE_WHY"
#   cri_start DIR          (DIR short: unix sockets)
#   cri runp --runtime rcrun POD.json; cri create ...; cri inspect ID
#   cri_stop [DIR]
#
# The CRI client: $RCRUN_TEST_CRICTL (a real crictl) if set, else
# rcrun-cri, the crictl subset in k8s/cri-client/main.go (same commands,
# flags, config files and output). It is built because crictl cannot be:
# this project's machines reach no Go module proxy, and Debian has no
# crictl package. It is compiled by Debian trixie's Go (golang-1.24) in GOPATH
# mode against Debian's Go source packages of k8s.io/cri-api, grpc and
# protobuf, all unpacked with `dpkg -x` (nothing installed into the system),
# and cached in $RCRUN_TEST_CACHE/cri keyed by the source's hash: the first
# run downloads ~64 MiB and builds for ~1-2 min, later runs reuse it.
#
# Outside DIR (fixed by containerd 1.7 and the shims): the shim sockets in
# /run/containerd/s (recorded pod ids' are removed), and the shims' state
# roots /run/containerd/{rcrun,runc}/k8s.io (CRI's namespace, removed when
# empty). Pods' cgroups live under the suite's test parent $CG_PARENT.

K8S_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
CRI_CACHE=${RCRUN_TEST_CRI_CACHE:-${RCRUN_TEST_CACHE:-${TMPDIR:-/tmp}/rcrun-conformance-cache}/cri}
CRI_IMAGE=docker.io/library/rcrun-busybox:latest
CRI_PAUSE_IMAGE=docker.io/library/rcrun-pause:latest
CRI_NS=k8s.io
# trixie's Go and the Go packages the client imports (their own imports
# included; apt-get download fetches exactly these)
CRI_GO=/usr/lib/go-1.24
CRI_GO_PKGS=(golang-1.24-go golang-1.24-src golang-github-kubernetes-cri-api-dev
	golang-github-gogo-protobuf-dev golang-google-grpc-dev golang-google-protobuf-dev
	golang-github-golang-protobuf-1-5-dev golang-golang-x-net-dev golang-golang-x-sys-dev
	golang-golang-x-text-dev golang-google-genproto-dev)

# cri_client_build: sets CRICTL (building rcrun-cri when needed).
cri_client_build() {
	if [[ -n ${RCRUN_TEST_CRICTL:-} ]]; then
		CRICTL=$RCRUN_TEST_CRICTL
		[[ -x $CRICTL ]] || { CRI_UNAVAILABLE_WHY="RCRUN_TEST_CRICTL=$CRICTL is not executable"; return 1; }
		return 0
	fi
	local key lock rc=0
	key=$(cat "$K8S_LIB_DIR/cri-client/main.go" <(printf '%s\n' "${CRI_GO_PKGS[@]}") | sha256sum | cut -c1-16)
	CRICTL=$CRI_CACHE/bin/rcrun-cri.$key
	[[ -x $CRICTL ]] && return 0
	mkdir -p "$CRI_CACHE/bin" || return 1
	exec {lock}>"$CRI_CACHE/lock"
	flock -w 900 "$lock"
	[[ -x $CRICTL ]] || _cri_client_build_locked "$key" || rc=1
	exec {lock}>&-
	return $rc
}

_cri_client_build_locked() {
	local key=$1 c=$CRI_CACHE d src
	if [[ ! -s $c/go/unpacked || $(cat "$c/go/unpacked") != "${CRI_GO_PKGS[*]}" ]]; then
		rm -rf "$c/go" && mkdir -p "$c/go/debs" "$c/go/root" || return 1
		# trixie's private apt config and lists (lib/trixie.bash)
		if ! (cd "$c/go/debs" && _trixie_apt apt-get download "${CRI_GO_PKGS[@]}") >"$c/go/download.log" 2>&1; then
			_trixie_apt apt-get update >"$c/go/update.log" 2>&1
			if ! (cd "$c/go/debs" && _trixie_apt apt-get download "${CRI_GO_PKGS[@]}") >"$c/go/download.log" 2>&1; then
				CRI_UNAVAILABLE_WHY="cannot download trixie's Go packages (no network?): $(grep -m1 -E '^(E|W): ' "$c/go/download.log")"
				return 1
			fi
		fi
		for d in "$c/go/debs/"*.deb; do
			dpkg -x "$d" "$c/go/root" || { CRI_UNAVAILABLE_WHY="dpkg -x $d failed"; return 1; }
		done
		rm -f "$c/go/debs/"*.deb
		echo "${CRI_GO_PKGS[*]}" >"$c/go/unpacked"
	fi
	src=$c/gopath/src/rcrun-cri
	rm -rf "$src" && mkdir -p "$src" && cp "$K8S_LIB_DIR/cri-client/main.go" "$src/" || return 1
	if ! (cd "$src" && env GOROOT="$c/go/root$CRI_GO" GOPATH="$c/gopath:$c/go/root/usr/share/gocode" \
		GO111MODULE=off GOTOOLCHAIN=local GOFLAGS= GOPROXY=off CGO_ENABLED=0 GOCACHE="$c/gocache" \
		"$c/go/root$CRI_GO/bin/go" build -o "$CRICTL.tmp" .) >"$c/build.log" 2>&1; then
		CRI_UNAVAILABLE_WHY="building the CRI client failed: $(tail -n 5 "$c/build.log")"
		return 1
	fi
	find "$c/bin" -name 'rcrun-cri.*' ! -name "rcrun-cri.$key.tmp" -delete
	mv "$CRICTL.tmp" "$CRICTL"
}

# cri_available: trixie's containerd, the CRI client, the shim and runc.
cri_available() {
	CRI_UNAVAILABLE_WHY=""
	if ! trixie_fetch; then
		CRI_UNAVAILABLE_WHY="Debian trixie's containerd: $TRIXIE_UNAVAILABLE_WHY"
		return 1
	fi
	cri_client_build || return 1
	if ! SHIM_BIN=$(shim_binary); then
		CRI_UNAVAILABLE_WHY="containerd-shim-rcrun-v2 not built (cargo build --release)"
		return 1
	fi
	RUNC_BIN=$(command -v runc) || { CRI_UNAVAILABLE_WHY="runc not installed"; return 1; }
	CTD_BIN=$TRIXIE_ROOT/usr/bin/containerd
	CTR_BIN=$TRIXIE_ROOT/usr/bin/ctr
	export CRICTL SHIM_BIN RUNC_BIN CTD_BIN CTR_BIN
}

# cri ARGS...: the CRI client on the private containerd.
cri() { timeout -k 5 "${RCRUN_TEST_CMD_TIMEOUT:-120}" "$CRICTL" -r "unix://$CTD_DIR/containerd.sock" "$@"; }

# cri_start DIR: containerd 1.7 with CRI; images imported.
cri_start() {
	CTD_DIR=$1
	CTD_NS=$CRI_NS
	export CTD_DIR CTD_NS
	mkdir -p "$CTD_DIR/bin" "$CTD_DIR/cni/bin" "$CTD_DIR/cni/conf" || return 1
	CTD_DIR=$(cd "$CTD_DIR" && pwd -P)
	local d=$CTD_DIR i
	if [[ ${#d} -gt 60 ]]; then
		echo "cri_start: DIR '$d' too long for unix sockets" >&2
		return 1
	fi
	: >"$d/created-global"
	for i in /run/containerd /run/containerd/s /run/containerd/rcrun /run/containerd/runc \
		/run/containerd/rcrun/$CRI_NS /run/containerd/runc/$CRI_NS; do
		[[ -e $i ]] || echo "$i" >>"$d/created-global"
	done
	: >"$d/ids"
	ln -sf "$SHIM_BIN" "$d/bin/containerd-shim-rcrun-v2"
	{
		containerd_base_toml "$d"
		cat <<EOF
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$CRI_PAUSE_IMAGE"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  # Pod sandboxes ask for oom_score_adj -998, below ours: lowering it needs
  # CAP_SYS_RESOURCE, which a container-based CI host may lack (then runc
  # and rcrun both fail every pod). Clamp to containerd's own score instead.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$d/cni/bin"
    conf_dir = "$d/cni/conf"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$RUNC_BIN"
        SystemdCgroup = false
$(sed -n '/^\[plugins/,$p' "$REPO/packaging/containerd/config-snippet.toml" | sed 's/^/    /')
EOF
	} >"$d/containerd.toml"
	PATH="$d/bin:$TRIXIE_ROOT/usr/bin:$PATH" "$CTD_BIN" --config "$d/containerd.toml" \
		</dev/null >>"$d/containerd.log" 2>&1 3>&- &
	echo $! >"$d/containerd.pid"
	for ((i = 0; i < 150; i++)); do
		if [[ -S $d/containerd.sock ]] && cri version >/dev/null 2>&1; then
			containerd_import_busybox "$CRI_IMAGE" &&
				containerd_import_busybox "$CRI_PAUSE_IMAGE" '["sleep","2147483647"]'
			return
		fi
		sleep 0.1
	done
	echo "containerd (CRI) did not start; log:" >&2
	tail -n 20 "$d/containerd.log" >&2
	return 1
}

# cri_pod NAME HANDLER: a host-network pod on HANDLER; prints its id.
cri_pod() {
	local name=$1 handler=$2 f id
	f=$CTD_DIR/pod-$name.json
	mkdir -p "$CTD_DIR/logs/$name"
	jq -n --arg name "$name" --arg logs "$CTD_DIR/logs/$name" --arg cgp "$CG_PARENT" '{
		metadata: {name: $name, namespace: "rcrun-test", uid: ("uid-" + $name), attempt: 0},
		log_directory: $logs,
		linux: {cgroup_parent: $cgp, security_context: {namespace_options: {network: 2}}}
	}' >"$f" || return 1
	id=$(cri runp --runtime "$handler" "$f") || return 1
	containerd_record_id "$id"
	echo "$id"
}

# cri_stop [DIR]: pods removed, shims and containerd stopped, nothing left.
cri_stop() {
	local d=${1:-$CTD_DIR} i p id
	CTD_DIR=$d
	CTD_NS=$CRI_NS
	[[ -d $d ]] || return 0
	if [[ -S $d/containerd.sock ]]; then
		for p in $(cri pods -q 2>/dev/null); do
			cri stopp "$p" >/dev/null 2>&1
			cri rmp "$p" >/dev/null 2>&1
		done
	fi
	for p in $(pgrep -f "^[^ ]*containerd-shim-(rcrun|runc)-v2 .*-address $d/containerd.sock( |\$)"); do
		kill -KILL "$p" 2>/dev/null
	done
	containerd_kill_daemon
	while read -r id; do
		[[ -n $id ]] && rm -f "$(containerd_shim_socket "$id")"
	done <"$d/ids"
	if [[ -s $d/created-global ]]; then
		for i in $(sort -r "$d/created-global"); do
			rmdir "$i" 2>/dev/null
		done
	fi
	umount_under "$d"
	rm -rf "$d"
	return 0
}
