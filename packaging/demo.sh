#!/usr/bin/env bash
# rcrun demo, on a fresh Debian 12 machine, as root, from the repo root:
#
#   bash packaging/demo.sh
#
# Installs the dependencies (conformance/install-deps.sh), builds rcrun
# (cargo build --release), starts a PRIVATE dockerd (own containerd, own
# data/exec roots and socket under a temp dir; the system docker, if any, is
# not touched) with rcrun registered as runtime "rcrun", imports a busybox
# image built from busybox-static, and runs the OOM job:
#
#   docker run --rm --network none --runtime=rcrun -m 128m rcrun-busybox \
#       dd if=/dev/zero of=/dev/null bs=200M count=1      -> exit status 137
#
# and the same without --rm, to show docker's State.OOMKilled=true.  Then it
# stops and removes everything it started.  Exit status 0 iff both results
# are as expected.
#
# Environment: RUNTIME=/path/to/runtime to demo another runtime (default:
# target/release/rcrun, or runc with a loud note while rcrun is not a
# working runtime yet); RCRUN_DEMO_NO_BUILD=1 skips deps + build.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$repo"
if [[ $(id -u) -ne 0 ]]; then
	echo "demo.sh: must run as root" >&2
	exit 2
fi

if [[ ${RCRUN_DEMO_NO_BUILD:-0} != 1 ]]; then
	bash conformance/install-deps.sh || exit 1
	[[ -x $HOME/.cargo/bin/cargo ]] && export PATH=$HOME/.cargo/bin:$PATH
	echo "+ cargo build --release"
	cargo build --release || exit 1
fi

REPO=$repo
CONF_LIB=$repo/conformance/lib
# shellcheck source=../conformance/lib/runtime.bash
source "$CONF_LIB/runtime.bash"
# shellcheck source=../conformance/lib/cgroup.bash
source "$CONF_LIB/cgroup.bash"
# shellcheck source=../conformance/lib/bundle.bash
source "$CONF_LIB/bundle.bash"
# shellcheck source=../conformance/lib/leak.bash
source "$CONF_LIB/leak.bash"
# shellcheck source=../conformance/lib/docker.bash
source "$CONF_LIB/docker.bash"

resolve_runtimes || exit 1
print_runtime_banner
cg_detect

if ! docker_available; then
	echo "demo.sh: $DOCKER_UNAVAILABLE_WHY" >&2
	exit 1
fi

work=$(mktemp -d /tmp/rcrun-demo.XXXXXX)
cleanup() {
	echo "+ stopping the private dockerd/containerd and removing $work"
	docker_stop "$work/d"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "+ starting a private dockerd (runtime rcrun = $RUNTIME)"
docker_start "$work/d" "$RUNTIME" "" "/rcrun-demo-$$" || exit 1
docker_import_busybox || exit 1

job=(dd if=/dev/zero of=/dev/null bs=200M count=1)
echo
echo "+ docker run --rm --network none --runtime=rcrun -m 128m $DOCKER_IMAGE ${job[*]}"
rc=0
dk run --rm --network none --runtime=rcrun -m 128m --cidfile "$work/cid1" "$DOCKER_IMAGE" "${job[@]}" </dev/null || rc=$?
[[ -s $work/cid1 ]] && docker_record_cid "$(cat "$work/cid1")"
echo "exit status: $rc"

echo
echo "+ docker run --name rcrun-demo-oom --network none --runtime=rcrun -m 128m $DOCKER_IMAGE ${job[*]}"
rc2=0
dk run --name rcrun-demo-oom --network none --runtime=rcrun -m 128m --cidfile "$work/cid2" "$DOCKER_IMAGE" "${job[@]}" </dev/null || rc2=$?
[[ -s $work/cid2 ]] && docker_record_cid "$(cat "$work/cid2")"
echo "exit status: $rc2"
state=$(dk inspect -f 'State.OOMKilled={{.State.OOMKilled}} State.ExitCode={{.State.ExitCode}}' rcrun-demo-oom)
echo "$state"
dk rm rcrun-demo-oom >/dev/null

echo
if [[ $rc -eq 137 && $state == "State.OOMKilled=true State.ExitCode=137" ]]; then
	echo "DEMO OK: the OOM-killed container exited 137 and docker reports OOMKilled=true"
	exit 0
fi
echo "DEMO FAILED: expected exit status 137 and State.OOMKilled=true State.ExitCode=137"
exit 1
