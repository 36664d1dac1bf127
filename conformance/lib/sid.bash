# shellcheck shell=bash
# Today's stacks from Debian unstable (sid) for the tests, unpacked privately
# with dpkg -x (lib/debx.bash; nothing is installed into the system):
# containerd 2.1 (+ its runc shim and ctr), dockerd/docker 28, podman 5 with
# conmon and netavark.  containerd and docker are Go binaries that run on
# bookworm as they are; podman and conmon need sid's glibc, so they run
# through sid's own dynamic loader with sid's libraries (wrappers in
# $SID_DIR/bin; nothing else sees those libraries: the runtime conmon
# starts is the host's binary with the host's libc).
#
#   sid_fetch || skip "$SID_UNAVAILABLE_WHY"
#   "$SID_ROOT"/usr/bin/{containerd,ctr,containerd-shim-runc-v2,docker}, usr/sbin/dockerd
#   debx_docker_start "$SID_ROOT" DIR CGROUP_PARENT RUNTIMES_JSON
#                         private containerd 2.1 + dockerd 28 (lib/debx.bash)
#   podman_setup DIR      private podman: PODMAN (wrapper), conf, root, runroot
#   pm ARGS...            podman bound to it
#
# Cache: $RCRUN_TEST_CACHE/sid (RCRUN_TEST_SID_DIR overrides): ~100 MiB of
# .debs downloaded once, ~330 MiB unpacked.

# shellcheck source=debx.bash
source "$(dirname "${BASH_SOURCE[0]}")/debx.bash"

SID_DIR=${RCRUN_TEST_SID_DIR:-${RCRUN_TEST_CACHE:-${TMPDIR:-/tmp}/rcrun-conformance-cache}/sid}
SID_ROOT=$SID_DIR/root
SID_LIBS=$SID_ROOT/usr/lib/x86_64-linux-gnu
# podman and conmon, and the shared libraries they load (with sid's glibc)
SID_PKGS=(containerd docker.io docker-cli podman conmon netavark golang-github-containers-common
	libc6 libgcc-s1 libatomic1 libgpgme45 libassuan9 libgpg-error0 libseccomp2 libsqlite3-0
	libsubid6 libglib2.0-0t64 libsystemd0 libffi8 libpcre2-8-0 libselinux1 libmount1 libblkid1
	zlib1g libcap2 libgcrypt20 libzstd1 liblzma5 liblz4-1 libaudit1 libcap-ng0 libbsd0 libmd0
	libcrypt1 libpam0g libsemanage2 libsepol2 libacl1 libbz2-1.0)

_sid_ready() {
	[[ -s $SID_DIR/unpacked && -x $SID_ROOT/usr/sbin/dockerd && -x $SID_ROOT/usr/bin/containerd &&
		-x $SID_ROOT/usr/bin/podman && -x $SID_ROOT/usr/bin/conmon && -x $SID_LIBS/ld-linux-x86-64.so.2 &&
		-x $SID_DIR/bin/podman && -x $SID_DIR/bin/conmon ]]
}

# _sid_wrappers: podman and conmon through sid's loader. (ld.so
# --library-path: the variable LD_LIBRARY_PATH would reach the runtime.)
_sid_wrappers() {
	local b
	mkdir -p "$SID_DIR/bin" || return 1
	for b in podman conmon; do
		printf '#!/bin/sh\nexec %q --library-path %q %q "$@"\n' \
			"$SID_LIBS/ld-linux-x86-64.so.2" "$SID_LIBS" "$SID_ROOT/usr/bin/$b" >"$SID_DIR/bin/$b" &&
			chmod 755 "$SID_DIR/bin/$b" || return 1
	done
}

# sid_fetch: make sure $SID_ROOT holds sid's stacks.  Fails
# (SID_UNAVAILABLE_WHY says why) when they cannot be fetched.
sid_fetch() {
	local rc=0
	SID_UNAVAILABLE_WHY=""
	_sid_ready && return 0
	# the wrappers are part of "ready": make them once the tree is there
	debx_fetch "$SID_DIR" sid _sid_unpacked "${SID_PKGS[@]}" || rc=1
	SID_UNAVAILABLE_WHY=$DEBX_UNAVAILABLE_WHY
	[[ $rc -eq 0 ]] || return 1
	_sid_wrappers || { SID_UNAVAILABLE_WHY="cannot write $SID_DIR/bin wrappers"; return 1; }
	if ! "$SID_DIR/bin/podman" --version >/dev/null 2>&1; then
		SID_UNAVAILABLE_WHY="sid's podman does not run through sid's loader: $("$SID_DIR/bin/podman" --version 2>&1 | head -1)"
		return 1
	fi
	_sid_ready
}

_sid_unpacked() {
	[[ -s $SID_DIR/unpacked && -x $SID_ROOT/usr/sbin/dockerd && -x $SID_ROOT/usr/bin/podman &&
		-x $SID_LIBS/ld-linux-x86-64.so.2 ]]
}

# podman_setup DIR: a private podman living in DIR: containers.conf
# (cgroupfs, no network, file events, conmon and netavark from sid,
# runtime_supports_json with rcrun), storage.conf (vfs), root, runroot,
# tmpdir.  Containers run with --rootfs (no image store needed).
podman_setup() {
	PODMAN_DIR=$1
	mkdir -p "$PODMAN_DIR"/{root,run,tmp} || return 1
	PODMAN_DIR=$(cd "$PODMAN_DIR" && pwd -P)
	local d=$PODMAN_DIR
	cat >"$d/containers.conf" <<EOF
[containers]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$d/events.log"
conmon_path = ["$SID_DIR/bin/conmon"]
helper_binaries_dir = ["$SID_ROOT/usr/lib/podman"]
tmp_dir = "$d/tmp"
static_dir = "$d/root/libpod"
volume_path = "$d/root/volumes"
# podman passes --log-format=json only to runtimes named here (its default
# list, plus rcrun): the runtime's errors then reach the user as one line.
runtime_supports_json = ["crun", "crun-vm", "runc", "kata", "krun", "ocijail", "rcrun"]
[network]
network_config_dir = "$d/net"
EOF
	cat >"$d/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$d/root"
runroot = "$d/run"
EOF
	export PODMAN_DIR
}

# pm ARGS...: podman on the private setup (PODMAN_IGNORE_CGROUPSV1_WARNING:
# podman 5 warns on every call on a v1/hybrid host).  The runtime gets a
# private --root too: as root podman passes none, so rcrun would keep its
# state and OOM journal in the host's /run/rcrun.
pm() {
	CONTAINERS_CONF=$PODMAN_DIR/containers.conf CONTAINERS_STORAGE_CONF=$PODMAN_DIR/storage.conf \
		CONTAINERS_REGISTRIES_CONF=/dev/null PODMAN_IGNORE_CGROUPSV1_WARNING=1 \
		timeout -k 5 120 "$SID_DIR/bin/podman" --root "$PODMAN_DIR/root" --runroot "$PODMAN_DIR/run" \
		--tmpdir "$PODMAN_DIR/tmp" --runtime-flag "root=$PODMAN_DIR/rtroot" "$@"
}

# stacks_unavailable WHY: for setup_file when a stack cannot be set up:
# a FAILURE under RCRUN_TEST_REQUIRE_DOCKER=1 (CI), else every test of the
# file skips with WHY (stacks_skip_if_unavailable in setup()).
stacks_unavailable() {
	if [[ ${RCRUN_TEST_REQUIRE_DOCKER:-0} == 1 ]]; then
		echo "$1 (RCRUN_TEST_REQUIRE_DOCKER=1: a stack that cannot be set up is a failure)" >&2
		return 1
	fi
	echo "$1" >"$BATS_FILE_TMPDIR/skip"
	echo "# SKIPPING this file: $1" >&3
	return 0
}

stacks_skip_if_unavailable() {
	[[ -f $BATS_FILE_TMPDIR/skip ]] || return 0
	skip "NOT TESTED: $(cat "$BATS_FILE_TMPDIR/skip")"
}
