# shellcheck shell=bash
# Debian trixie's docker 26 (dockerd + docker CLI) and containerd 1.7 for the
# tests, without installing anything into the system: the .debs are fetched
# with apt-get into a PRIVATE cache (own sources.list, lists and archive
# dirs) and unpacked with `dpkg -x`; bookworm runs the binaries as they are.
#
#   trixie_fetch || skip "$TRIXIE_UNAVAILABLE_WHY"
#   "$TRIXIE_ROOT"/usr/sbin/dockerd, "$TRIXIE_ROOT"/usr/bin/{docker,containerd,ctr}
#   docker26_start DIR [CGROUP_PARENT]   private containerd 1.7 + dockerd 26
#   dk run --runtime=rcrun ...           (lib/docker.bash: CLI bound to it)
#   docker_stop DIR                      (lib/docker.bash)
#
# Cache: $RCRUN_TEST_CACHE/trixie (RCRUN_TEST_TRIXIE_DIR overrides): the
# sources.list, apt's lists and cache, the unpacked root/ and a stamp with
# the versions. The network is needed once; later runs use the cache.
# RCRUN_TEST_TRIXIE_MIRROR: another Debian mirror.
#
# Also `RCRUN_TEST_CONTAINERD=$TRIXIE_ROOT/usr/bin/containerd` runs
# shim.bats against containerd 1.7.

TRIXIE_DIR=${RCRUN_TEST_TRIXIE_DIR:-${RCRUN_TEST_CACHE:-${TMPDIR:-/tmp}/rcrun-conformance-cache}/trixie}
TRIXIE_ROOT=$TRIXIE_DIR/root
TRIXIE_PKGS=(docker.io docker-cli containerd)

# _trixie_apt CMD ARGS...: apt-get/apt-cache on the private trixie config.
_trixie_apt() {
	local cmd=$1
	shift
	timeout 600 "$cmd" -q \
		-o Dir::Etc::SourceList="$TRIXIE_DIR/sources.list" \
		-o Dir::Etc::SourceParts=/dev/null \
		-o Dir::State::Lists="$TRIXIE_DIR/lists" \
		-o Dir::Cache="$TRIXIE_DIR/cache" \
		-o APT::Sandbox::User=root \
		-o Acquire::Languages=none \
		-o Acquire::Retries=1 \
		-o Acquire::http::Timeout=30 \
		-o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false \
		-o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false \
		-o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false \
		-o Acquire::IndexTargets::deb::CNF::DefaultEnabled=false \
		"$@"
}

_trixie_ready() {
	[[ -s $TRIXIE_DIR/unpacked && -x $TRIXIE_ROOT/usr/sbin/dockerd && -x $TRIXIE_ROOT/usr/bin/docker &&
		-x $TRIXIE_ROOT/usr/bin/containerd ]]
}

# trixie_fetch: make sure $TRIXIE_ROOT holds trixie's dockerd, docker and
# containerd. Fails (TRIXIE_UNAVAILABLE_WHY says why) when they cannot be
# fetched: no apt-get, or no network.
trixie_fetch() {
	TRIXIE_UNAVAILABLE_WHY=""
	_trixie_ready && return 0
	local t=$TRIXIE_DIR rc=0
	if ! command -v apt-get >/dev/null || ! command -v dpkg >/dev/null; then
		TRIXIE_UNAVAILABLE_WHY="no apt-get/dpkg to fetch Debian trixie's docker.io"
		return 1
	fi
	mkdir -p "$t/lists/partial" "$t/cache/archives/partial" "$t/debs" || return 1
	# one fetch at a time (parallel bats runs share the cache)
	exec {_trixie_lock}>"$t/lock"
	flock -w 900 "$_trixie_lock"
	_trixie_ready || _trixie_fetch_locked || rc=1
	exec {_trixie_lock}>&-
	return $rc
}

_trixie_fetch_locked() {
	local t=$TRIXIE_DIR d
	echo "deb ${RCRUN_TEST_TRIXIE_MIRROR:-http://deb.debian.org/debian} trixie main" >"$t/sources.list"
	if ! _trixie_apt apt-get update >"$t/update.log" 2>&1 || grep -q '^\(E\|Err\):' "$t/update.log"; then
		TRIXIE_UNAVAILABLE_WHY="cannot fetch Debian trixie's package lists (no network?): $(grep -m1 -E '^(E|W): ' "$t/update.log")"
		return 1
	fi
	rm -f "$t/debs/"*.deb
	if ! (cd "$t/debs" && _trixie_apt apt-get download "${TRIXIE_PKGS[@]}") >"$t/download.log" 2>&1; then
		TRIXIE_UNAVAILABLE_WHY="cannot download trixie's ${TRIXIE_PKGS[*]} (no network?): $(grep -m1 -E '^(E|W): ' "$t/download.log")"
		return 1
	fi
	rm -rf "$t/root.new"
	mkdir -p "$t/root.new" || return 1
	for d in "$t/debs/"*.deb; do
		dpkg -x "$d" "$t/root.new" || { TRIXIE_UNAVAILABLE_WHY="dpkg -x $d failed"; return 1; }
	done
	rm -rf "$t/root"
	mv "$t/root.new" "$t/root" || return 1
	(cd "$t/debs" && ls -1 ./*.deb) >"$t/unpacked"
	# the unpacked tree is what is used; the .debs are 60 MiB
	rm -f "$t/debs/"*.deb
	_trixie_ready
}

# docker26_start DIR [CGROUP_PARENT]: a private containerd 1.7 with the rcrun
# shim on ITS PATH (containerd, not dockerd, finds containerd-shim-<name>-v2)
# and a private dockerd 26 using it (--containerd), with
#   "runtimes": {"rcrun": {"runtimeType": "io.containerd.rcrun.v2"}}
# Everything lives in DIR, laid out as lib/docker.bash's docker_start does
# (docker_stop DIR stops and removes it all). Needs SHIM_BIN (containerd.bash
# shim_binary) and trixie_fetch.
docker26_start() {
	DOCKER_DIR=$1
	local cgparent=${2:-/rcrun-docker26-$$} d i
	export DOCKER_DIR
	DOCKER_CLI=$TRIXIE_ROOT/usr/bin/docker
	export DOCKER_CLI
	mkdir -p "$DOCKER_DIR/bin" || return 1
	DOCKER_DIR=$(cd "$DOCKER_DIR" && pwd -P)
	d=$DOCKER_DIR
	if [[ ${#d} -gt 60 ]]; then
		echo "docker26_start: DIR '$d' too long for unix sockets" >&2
		return 1
	fi
	# outside DIR: hard-coded dirs (removed at stop if we made them and they
	# are empty). The shim's state root is /run/containerd/rcrun/<namespace>
	# (docker passes no runc options to a non-runc runtime type).
	: >"$d/created-global"
	for i in /run/docker /run/docker/plugins /run/containerd /run/containerd/s \
		/run/containerd/rcrun /run/containerd/rcrun/moby /etc/docker; do
		[[ -e $i ]] || echo "$i" >>"$d/created-global"
	done
	echo "$cgparent" >"$d/cgroup-parent"
	: >"$d/cids"
	ln -sf "$SHIM_BIN" "$d/bin/containerd-shim-rcrun-v2"

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
	PATH="$d/bin:$TRIXIE_ROOT/usr/bin:$PATH" "$TRIXIE_ROOT/usr/bin/containerd" --config "$d/containerd.toml" \
		</dev/null >"$d/containerd.log" 2>&1 3>&- &
	echo $! >"$d/containerd.pid"
	for ((i = 0; i < 100; i++)); do
		[[ -S $d/containerd.sock ]] && break
		sleep 0.1
	done
	if [[ ! -S $d/containerd.sock ]]; then
		echo "containerd 1.7 did not start; log:" >&2
		tail -n 20 "$d/containerd.log" >&2
		return 1
	fi

	jq -n --arg cgp "$cgparent" '{
		"bridge": "none",
		"iptables": false,
		"ip6tables": false,
		"ip-forward": false,
		"ip-masq": false,
		"userland-proxy": false,
		"exec-opts": ["native.cgroupdriver=cgroupfs"],
		"cgroup-parent": $cgp,
		"log-driver": "json-file",
		"runtimes": {"rcrun": {"runtimeType": "io.containerd.rcrun.v2"}}
	}' >"$d/daemon.json" || return 1

	PATH="$TRIXIE_ROOT/usr/sbin:$TRIXIE_ROOT/usr/bin:$PATH" "$TRIXIE_ROOT/usr/sbin/dockerd" \
		--config-file "$d/daemon.json" \
		--data-root "$d/data" --exec-root "$d/exec" --pidfile "$d/docker.pid" \
		--host "unix://$d/docker.sock" --containerd "$d/containerd.sock" \
		</dev/null >"$d/dockerd.log" 2>&1 3>&- &
	echo $! >"$d/dockerd.pid"
	for ((i = 0; i < 600; i++)); do
		dk info >/dev/null 2>&1 && break
		kill -0 "$(<"$d/dockerd.pid")" 2>/dev/null || break
		sleep 0.1
	done
	if ! dk info >/dev/null 2>&1; then
		echo "dockerd 26 did not become ready; log:" >&2
		tail -n 30 "$d/dockerd.log" >&2
		return 1
	fi
	# (docker info shows a runtimeType runtime as {})
	if ! dk info --format '{{json .Runtimes}}' | jq -e 'has("rcrun")' >/dev/null; then
		echo "dockerd did not register runtime rcrun: $(dk info --format '{{json .Runtimes}}' | jq -c keys)" >&2
		return 1
	fi
	return 0
}
