#!/usr/bin/env bash
# The CRI harness of conformance/tests/cri.bats (conformance/k8s/lib.bash)
# by hand, and the base of issue 18's critest runs:
#
#   conformance/k8s/cri.sh client       build (or find) the CRI client, print its path
#   conformance/k8s/cri.sh up DIR       private containerd 1.7 + CRI in DIR (short
#                                       path: unix sockets), handlers runc and rcrun,
#                                       images imported; prints how to reach it
#   conformance/k8s/cri.sh pod DIR NAME HANDLER   a host-network pod; prints its id
#   conformance/k8s/cri.sh down DIR     remove its pods, stop it, remove DIR
#
# As root. Caches in $RCRUN_TEST_CACHE (default /tmp/rcrun-conformance-cache).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
cmd=${1:-}
dir=${2:-}
[[ $(id -u) -eq 0 ]] || { echo "cri.sh: must run as root" >&2; exit 2; }
if [[ $cmd != client ]]; then
	[[ -n $dir ]] || { echo "usage: cri.sh client | up DIR | pod DIR NAME HANDLER | down DIR" >&2; exit 2; }
	mkdir -p "$dir" && dir=$(cd "$dir" && pwd -P)
fi
export RCRUN_TEST_CACHE=${RCRUN_TEST_CACHE:-/tmp/rcrun-conformance-cache}
export RCRUN_TEST_TMP=${dir:-${TMPDIR:-/tmp}}
export RCRUN_TEST_TAG=cri$(basename "${dir:-x}" | tr -dc 'A-Za-z0-9')
source "$here/../lib/common.bash"
source "$here/../lib/containerd.bash"
source "$here/../lib/trixie.bash"
source "$here/lib.bash"
cri_available || { echo "cri.sh: $CRI_UNAVAILABLE_WHY" >&2; exit 1; }

case $cmd in
client) echo "$CRICTL" ;;
up)
	test_parent_cgroup_create || exit 1
	cri_start "$dir/ctd" || exit 1
	echo "pods' cgroup parent: $CG_PARENT"
	echo "client:  $CRICTL -r unix://$dir/ctd/containerd.sock version"
	echo "images:  $CRI_IMAGE, sandbox $CRI_PAUSE_IMAGE"
	;;
pod)
	CTD_DIR=$dir/ctd
	CTD_NS=$CRI_NS
	cri_pod "${3:?NAME}" "${4:?HANDLER}"
	;;
down)
	cri_stop "$dir/ctd"
	test_parent_cgroup_remove
	rmdir "$dir" 2>/dev/null
	;;
*)
	echo "cri.sh: unknown command '$cmd'" >&2
	exit 2
	;;
esac
