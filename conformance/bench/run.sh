#!/usr/bin/env bash
# rcrun vs runc vs crun, side by side in one run (issue 7).
#
#   conformance/bench/run.sh [--smoke] [--out FILE] [bench.py options]
#
# Sections (--sections, comma separated; default all but shim):
#   size       binary size (+ non-libc shared libraries)
#   lifecycle  create + start + delete -f of a busybox /bin/true container
#   resources  the same with memory 128 MiB, cpu 1.5, pids 100
#   rss        peak RSS of the runtime's processes during create
#   oom        kernel OOM kill -> {"type":"oom"} line of `<runtime> events`
#   churn      N create/start/delete cycles: rate, cgroup dirs before/after
# Defaults: --runs 30 --warmup 5 --rss-runs 10 --oom-runs 30 --churn 10000.
# --smoke: 3 runs, 1 warm-up, 2 RSS and OOM runs, 5 churn cycles; checks that every
# runtime ran and left nothing behind, asserts nothing about speed.
#
# Everything runs at nice -20 (same for every runtime): on a shared machine
# that keeps other load from dominating wall-clock figures.  crun refuses
# hybrid hosts whose unified hierarchy has controllers; there the whole run
# (every runtime) happens in a private mount namespace with an empty file
# bind-mounted over <unified>/cgroup.controllers.  On a pure v2 host (the VM:
# conformance/vm/run.sh v2 -- conformance/bench/run.sh) nothing is changed.
#
# Environment: RUNTIME (default target/release/rcrun), RUNC (runc), CRUN
# (crun; a missing crun is skipped with a note), TMPDIR.
# Needs root, python3, cc, busybox-static (the conformance rootfs cache).
# Exit status: 0 when every runtime ran every step, 1 otherwise.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(cd "$here/../.." && pwd -P)

[[ $(id -u) -eq 0 ]] || { echo "bench: must run as root" >&2; exit 2; }
command -v python3 >/dev/null || { echo "bench: python3 missing" >&2; exit 2; }

smoke=0
out=""
pass=()
while [[ $# -gt 0 ]]; do
	case $1 in
	--smoke) smoke=1 ;;
	--out) out=$2; shift ;;
	-h | --help) sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) pass+=("$1") ;;
	esac
	shift
done

rcrun=${RUNTIME:-$repo/target/release/rcrun}
[[ -x $rcrun ]] || { echo "bench: $rcrun missing (cargo build --release)" >&2; exit 2; }
runtimes=(--runtime "rcrun=$rcrun")
runc_bin=$(command -v "${RUNC:-runc}") && runtimes+=(--runtime "runc=$runc_bin")
crun_bin=$(command -v "${CRUN:-crun}") && runtimes+=(--runtime "crun=$crun_bin")
[[ -n $runc_bin ]] || echo "# bench: no runc: its column is missing" >&2
[[ -n $crun_bin ]] || echo "# bench: no crun: its column is missing" >&2

# shellcheck source=../lib/bundle.bash
source "$repo/conformance/lib/bundle.bash"
export RCRUN_TEST_CACHE=${RCRUN_TEST_CACHE:-${TMPDIR:-/tmp}/rcrun-conformance-cache}
rootfs=$(make_rootfs) || exit 2

work=$(mktemp -d "${TMPDIR:-/tmp}/rcbench.XXXXXX")
trap 'rm -rf "$work"' EXIT
[[ -n $out ]] || out=$work/results.json

args=(--rootfs "$rootfs" --config "$repo/conformance/lib/config.base.json" --work "$work" --out "$out")
# the measuring helper (peak RSS, OOM counter poll): C, so that it is small
# and fast; without a compiler those two figures are left out
if cc -O2 -o "$work/helper" "$here/helper.c" 2>"$work/cc.log"; then
	args+=(--helper "$work/helper")
else
	echo "# bench: cannot build helper.c (no cc?): no RSS / OOM-poll figures" >&2
	cat "$work/cc.log" >&2
fi
if [[ $smoke -eq 1 ]]; then
	args+=(--runs 3 --warmup 1 --rss-runs 2 --oom-runs 2 --oom-warmup 0 --churn 5)
fi

# crun and a hybrid host: find the cgroup2 mount that is not /sys/fs/cgroup
unified=$(awk '$0 ~ / - cgroup2 / && $5 != "/sys/fs/cgroup" { print $5; exit }' /proc/self/mountinfo)
ns=()
# (cgroupfs files have size 0: read the content)
if [[ -n $crun_bin && -n $unified && -n $(cat "$unified/cgroup.controllers" 2>/dev/null) ]] &&
	grep -q ' - cgroup ' /proc/self/mountinfo; then
	: >"$work/empty"
	export RCRUN_BENCH_CRUN_NS="hybrid host: every runtime ran in a private mount namespace with an empty $unified/cgroup.controllers bind-mounted over (crun refuses the hybrid layout otherwise)"
	ns=(unshare -m --propagation private sh -c 'mount --bind "$0" "$1" && shift && exec "$@"' "$work/empty" "$unified/cgroup.controllers")
fi

"${ns[@]}" nice -n -20 python3 "$here/bench.py" "${runtimes[@]}" "${args[@]}" "${pass[@]}"
rc=$?
echo "# results: $out" >&2
exit $rc
