#!/usr/bin/env bash
# Run the rcrun black-box conformance suite on this host.
#
#   conformance/run.sh [bats args] [test files...]
#
# Prints TAP; exit status is the suite's.  Without test files/dirs in the
# arguments every conformance/tests/*.bats runs.  Examples:
#   conformance/run.sh
#   conformance/run.sh -f 'update'                    # filter by test name
#   conformance/run.sh conformance/tests/docker.bats
#   RUNTIME=/usr/sbin/runc REF_RUNTIME=crun conformance/run.sh
#
# Environment:
#   RUNTIME          runtime under test (default $REPO/target/release/rcrun,
#                    falling back to runc with a loud note while that is not
#                    a working runtime; RCRUN_TEST_REQUIRE_RCRUN=1 forbids the
#                    fallback)
#   REF_RUNTIME      reference runtime (default runc)
#   RCRUN_TEST_NO_DOCKER=1   skip the docker tests
#   RCRUN_TEST_KEEP_TMP=1    keep the scratch dir (logs of dockerd etc.)
# Needs root, bats, jq, busybox-static, runc (+ docker.io/containerd for
# docker.bats): conformance/install-deps.sh installs them.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd "$here/.." && pwd -P)

if [[ $(id -u) -ne 0 ]]; then
	echo "conformance/run.sh: must run as root" >&2
	exit 2
fi
for t in bats jq; do
	command -v "$t" >/dev/null || { echo "conformance/run.sh: $t missing (run conformance/install-deps.sh)" >&2; exit 2; }
done

# rootfs cache survives runs (outside the scratch dir)
export RCRUN_TEST_CACHE=${RCRUN_TEST_CACHE:-${TMPDIR:-/tmp}/rcrun-conformance-cache}
# Short scratch dir: docker/containerd unix sockets live in it.
RCRUN_TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/rct.XXXXXX")
RCRUN_TEST_TAG=$(basename "$RCRUN_TEST_TMP" | sed 's/^rct\.//; s/[^A-Za-z0-9]//g')
export RCRUN_TEST_TMP RCRUN_TEST_TAG

# shellcheck source=lib/runtime.bash
source "$here/lib/runtime.bash"
resolve_runtimes || exit 2
print_runtime_banner

# shellcheck source=lib/cgroup.bash
source "$here/lib/cgroup.bash"
cg_detect
echo "# cgroup layout: $CG_LAYOUT (v2 at '${CG_V2:-}', v1: ${!CG_V1[*]})"
echo "# scratch: $RCRUN_TEST_TMP  tag: $RCRUN_TEST_TAG"

have_path=0
for a in "$@"; do
	[[ -e $a ]] && have_path=1
done
args=("$@")
[[ $have_path -eq 1 ]] || args+=("$here/tests")

start=$(date +%s)
TMPDIR=$RCRUN_TEST_TMP bats --tap --timing "${args[@]}"
rc=$?
end=$(date +%s)
echo "# suite finished in $((end - start))s, exit status $rc"

# Final sweep: whatever a crashed/interrupted file left (daemons, cgroups,
# mounts).  Normal runs have nothing to do here.
for pf in "$RCRUN_TEST_TMP"/*/docker/*.pid "$RCRUN_TEST_TMP"/docker*/*.pid; do
	[[ -s $pf ]] || continue
	pid=$(<"$pf")
	if [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline && $(tr '\0' ' ' <"/proc/$pid/cmdline") == *"$RCRUN_TEST_TMP"* ]]; then
		echo "# sweep: killing leftover $(cat "/proc/$pid/comm") ($pid)"
		kill -KILL "$pid" 2>/dev/null
	fi
done
for m in "${CG_HIERS[@]}"; do
	for d in "$m"/rcrun-test-"$RCRUN_TEST_TAG"*; do
		[[ -d $d ]] || continue
		echo "# sweep: removing leftover cgroup $d"
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
done
awk '{ print $5 }' /proc/self/mountinfo | grep -F "$RCRUN_TEST_TMP" | sort -r | while read -r mp; do
	echo "# sweep: unmounting leftover $mp"
	umount -l "$mp"
done
if [[ ${RCRUN_TEST_KEEP_TMP:-0} == 1 ]]; then
	echo "# kept $RCRUN_TEST_TMP"
else
	rm -rf "$RCRUN_TEST_TMP"
fi
exit $rc
