#!/usr/bin/env bash
# Runs INSIDE a conformance VM (see selftest.sh): checks the cgroup layout and
# that an OCI runtime can run a busybox container with a memory limit, and
# that exceeding the limit gets the container OOM-killed.
#
#   selftest-guest.sh [runtime]      (default: runc)
set -euo pipefail
# The whole script is one { } block: bash parses it completely before running
# it, so editing this file does not break runs in progress.
{

runtime=${1:-runc}
layout=${RCRUN_VM_LAYOUT:?not inside a conformance VM}
fails=0
ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; fails=$((fails + 1)); }

echo "== cgroup layout ($layout)"
grep -E ' - (cgroup|cgroup2) ' /proc/self/mountinfo
echo "/proc/self/cgroup:"
sed 's/^/  /' /proc/self/cgroup

case "$layout" in
v2)
	echo "cgroup.controllers:     $(cat /sys/fs/cgroup/cgroup.controllers)"
	echo "cgroup.subtree_control: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
	[[ $(stat -fc %T /sys/fs/cgroup) == cgroup2fs ]] && ok "/sys/fs/cgroup is cgroup2" || bad "/sys/fs/cgroup is not cgroup2"
	if grep -qE ' - cgroup ' /proc/self/mountinfo; then bad "v1 hierarchy mounted"; else ok "no v1 hierarchy mounted"; fi
	for c in cpu cpuset io memory pids; do
		grep -qw "$c" /sys/fs/cgroup/cgroup.subtree_control && ok "controller $c enabled" || bad "controller $c not enabled"
	done
	;;
v1)
	if grep -qE ' - cgroup2 ' /proc/self/mountinfo; then bad "cgroup2 mounted"; else ok "no cgroup2 mounted"; fi
	for c in cpuset cpu,cpuacct blkio memory devices freezer net_cls,net_prio perf_event hugetlb pids systemd; do
		[[ $(stat -fc %T "/sys/fs/cgroup/$c/") == cgroupfs ]] && ok "v1 $c mounted" || bad "v1 $c not mounted"
	done
	for l in cpu cpuacct net_cls net_prio; do
		[[ -L /sys/fs/cgroup/$l ]] && ok "symlink $l -> $(readlink /sys/fs/cgroup/$l)" || bad "no symlink $l"
	done
	;;
esac

echo "== $runtime: $("$runtime" --version | head -n 1)"
bb=$(command -v busybox)
bundle=$(mktemp -d /tmp/selftest-bundle.XXXXXX)
trap 'rm -rf "$bundle"' EXIT
mkdir -p "$bundle/rootfs/bin" "$bundle/rootfs/proc" "$bundle/rootfs/sys" "$bundle/rootfs/dev" "$bundle/rootfs/tmp"
cp "$bb" "$bundle/rootfs/bin/busybox"
for a in sh cat dd echo sleep grep head; do ln -s busybox "$bundle/rootfs/bin/$a"; done
(cd "$bundle" && runc spec) # runc spec: a plain default config.json

limit=$((32 * 1024 * 1024))
mkconfig() { # cgroups-path args...
	local cg=$1
	shift
	local a args='[]'
	# (not jq --args: jq would parse "-c" etc. as its own options)
	for a in "$@"; do args=$(jq -c --arg a "$a" '. + [$a]' <<<"$args"); done
	jq --arg cg "$cg" --argjson limit "$limit" --argjson args "$args" '
		.process.terminal = false
		| .process.args = $args
		| .root.readonly = false
		| .linux.cgroupsPath = $cg
		| .linux.resources.memory = { limit: $limit, swap: $limit }' \
		<"$bundle/config.json.orig" >"$bundle/config.json"
}
mv "$bundle/config.json" "$bundle/config.json.orig"

# 1. The limit is visible from inside the container.
if [[ $layout == v2 ]]; then
	file=/sys/fs/cgroup/memory.max
else
	file=/sys/fs/cgroup/memory/memory.limit_in_bytes
fi
mkconfig /rcrun-vm-selftest-limit sh -c "cat /proc/self/cgroup; echo limit=\$(cat $file)"
set +e
out=$(cd "$bundle" && timeout 120 "$runtime" run selftest-limit 2>&1)
rc=$?
set -e
echo "$out" | sed 's/^/  | /'
if [[ $rc -eq 0 ]] && grep -qx "limit=$limit" <<<"$out"; then
	ok "container sees memory limit $limit ($file)"
else
	bad "container limit check (rc=$rc)"
fi

# 2. Going over the limit gets the container OOM-killed (SIGKILL -> 137).
mkconfig /rcrun-vm-selftest-oom dd if=/dev/zero of=/dev/null bs=128M count=1
set +e
out=$(cd "$bundle" && timeout 120 "$runtime" run selftest-oom 2>&1)
rc=$?
set -e
echo "$out" | sed 's/^/  | /'
if [[ $rc -eq 137 ]]; then
	ok "container over its memory limit was killed (exit 137)"
else
	bad "container over its memory limit: exit $rc, want 137"
fi
if dmesg | grep -q 'Memory cgroup out of memory'; then
	ok "kernel logged a memory cgroup OOM kill"
	dmesg | grep -E 'Memory cgroup out of memory|oom-kill:' | tail -n 2 | sed 's/^/  | /'
else
	bad "no memory cgroup OOM in dmesg"
fi
"$runtime" delete -f selftest-limit >/dev/null 2>&1 || true
"$runtime" delete -f selftest-oom >/dev/null 2>&1 || true

echo "== $fails failure(s)"
[[ $fails -eq 0 ]]
exit
}
