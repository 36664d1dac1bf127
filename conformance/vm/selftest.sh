#!/usr/bin/env bash
# Self-test of the conformance VMs: boots the v2 and the v1 VM (one after the
# other) and runs selftest-guest.sh in each: cgroup layout checks plus a
# busybox container with a memory limit (and an OOM kill) under an OCI
# runtime.
#
#   conformance/vm/selftest.sh [v1|v2]... [-- runtime]   (default: v2 v1, runc)
set -euo pipefail
# The whole script is one { } block: bash parses it completely before running
# it, so editing this file does not break runs in progress.
{
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(cd "$here/../.." && pwd -P)

layouts=()
while [[ $# -gt 0 && $1 != -- ]]; do layouts+=("$1"); shift; done
[[ $# -gt 0 ]] && shift
runtime=${1:-runc}
[[ ${#layouts[@]} -gt 0 ]] || layouts=(v2 v1)

rel=${here#"$repo"/}
rc=0
for l in "${layouts[@]}"; do
	start=$SECONDS
	if "$here/run.sh" "$l" -- "$rel/selftest-guest.sh" "$runtime"; then
		echo "selftest $l: PASS ($((SECONDS - start))s)"
	else
		r=$?
		echo "selftest $l: FAIL (exit $r, $((SECONDS - start))s)"
		rc=1
	fi
done
exit $rc
exit
}
