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
# Cache: $RCRUN_TEST_CACHE/trixie (RCRUN_TEST_TRIXIE_DIR overrides), see
# lib/debx.bash. RCRUN_TEST_TRIXIE_MIRROR: another Debian mirror.
#
# Also `RCRUN_TEST_CONTAINERD=$TRIXIE_ROOT/usr/bin/containerd` runs
# shim.bats against containerd 1.7.

# shellcheck source=debx.bash
source "$(dirname "${BASH_SOURCE[0]}")/debx.bash"

TRIXIE_DIR=${RCRUN_TEST_TRIXIE_DIR:-${RCRUN_TEST_CACHE:-${TMPDIR:-/tmp}/rcrun-conformance-cache}/trixie}
TRIXIE_ROOT=$TRIXIE_DIR/root
TRIXIE_PKGS=(docker.io docker-cli containerd)

# _trixie_apt CMD ARGS...: apt-get/apt-cache on the private trixie config.
_trixie_apt() { debx_apt "$TRIXIE_DIR" "$@"; }

_trixie_ready() {
	[[ -s $TRIXIE_DIR/unpacked && -x $TRIXIE_ROOT/usr/sbin/dockerd && -x $TRIXIE_ROOT/usr/bin/docker &&
		-x $TRIXIE_ROOT/usr/bin/containerd ]]
}

# trixie_fetch: make sure $TRIXIE_ROOT holds trixie's dockerd, docker and
# containerd. Fails (TRIXIE_UNAVAILABLE_WHY says why) when they cannot be
# fetched: no apt-get, or no network.
trixie_fetch() {
	debx_fetch "$TRIXIE_DIR" trixie _trixie_ready "${TRIXIE_PKGS[@]}"
	local rc=$?
	TRIXIE_UNAVAILABLE_WHY=$DEBX_UNAVAILABLE_WHY
	return $rc
}

# docker26_start DIR [CGROUP_PARENT]: a private containerd 1.7 + dockerd 26
# (debx_docker_start) with
#   "runtimes": {"rcrun": {"runtimeType": "io.containerd.rcrun.v2"}}
# Needs SHIM_BIN (containerd.bash shim_binary) and trixie_fetch.
docker26_start() {
	debx_docker_start "$TRIXIE_ROOT" "$1" "${2:-/rcrun-docker26-$$}" \
		'{"rcrun": {"runtimeType": "io.containerd.rcrun.v2"}}'
}
