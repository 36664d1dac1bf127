#!/usr/bin/env bash
# The CI subset of the conformance suite for the VM layouts: a handful of
# scenarios that prove a cgroup layout works (RUNTIME vs REF_RUNTIME),
# instead of the whole suite (10-100 s per bats test under TCG).
#
#   conformance/vm/ci-subset.sh <v2|v1> [bats args]   # on the host: boots the VM
#   conformance/vm/ci-subset.sh <systemd-v2|systemd-v1> [bats args]
#                                   # tests/systemd*.bats whole in a systemd VM
#   conformance/vm/ci-subset.sh --list                # print the subset
#
# On the host it runs `conformance/vm/run.sh <layout> -- conformance/vm/ci-subset.sh
# --guest [bats args]`; in the guest (--guest) it runs conformance/run.sh with
# the filter below over the files below.  Extra bats args (e.g. another -f,
# --verbose-run) are passed on.  RCRUN_VM_TIMEOUT defaults to 1500 s here
# (the 8 filtered tests alone took 403 s in the v2 guest on a 2-core TCG host).
#
# The subset (file: test name prefix):
#   lifecycle.bats  start -> running, kill -> stopped, delete -> nothing left
#   resources.bats  memory.limit = 128MiB
#   resources.bats  cpu.shares = 512
#   resources.bats  pids.limit = 42
#   resources.bats  update: --memory/--cpu-quota/--pids-limit (cpu quota too)
#   resources.bats  OOM: run of dd bs=200M under a 128MiB limit exits 137
#   oom.bats        (a) init OOM-killed        (rcrun only: oom-report)
#   oom.bats        (b) child OOM-killed, init lives on
#   attack-cgroup.bats, attack-exec.bats: every test (the container-boundary
#                   attacks whose defence depends on the cgroup layout: cgroup
#                   mounts, the device cgroup (v1 files / v2 eBPF), exec's
#                   seccomp/caps/user in the container's cgroups), run whole
#                   in a second conformance/run.sh in the same boot; a missing
#                   file is a failure (~4 min per VM under TCG).
#                   attack-exe.bats (the runtime binary: ~4 min more per VM,
#                   nothing layout-specific) and attack-{input,paths,cve}.bats
#                   run on the host only; `RCRUN_CI_VM_FULL=1` runs them all.
# Not in the VMs: attack-docker.bats (the VM sets RCRUN_TEST_NO_DOCKER=1)
# and attack-shim.bats (containerd is there, through the host's /, but too
# slow under TCG for CI: 482 s whole in the v2 guest, 500 s in v1;
# RCRUN_CI_VM_FULL=1 runs it).
# The full suite stays `conformance/vm/run.sh <layout>` (no command).
#
# systemd-v2 / systemd-v1 (Debian VMs with systemd as PID 1, docker,
# containerd, podman): tests/systemd{,-driver,-devices}.bats whole, rcrun next to runc.  The
# `docker run --rm` churn count is RCRUN_TEST_SD_CHURN (CI default:
# $SD_CI_CHURN below), the rounds of each OOM scenario
# RCRUN_TEST_SD_OOM_ROUNDS (CI default: $SD_CI_OOM_ROUNDS; they flaked
# once, docs/conformance-layouts.md); RCRUN_VM_TIMEOUT defaults to 1800 s
# (on a loaded 2-core host: systemd-v1 with 3 rounds ~1300 s, systemd-v2
# with the three files 934 s, boot included).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(cd "$here/../.." && pwd -P)
t=conformance/tests

FILES=("$t/lifecycle.bats" "$t/resources.bats" "$t/oom.bats")
# bats -f: one extended regex matched against the test names.
NAMES=(
	'start -> running, kill -> stopped, delete -> nothing left'
	'memory\.limit = 128MiB'
	'cpu\.shares = 512'
	'pids\.limit = 42'
	'update: --memory/--cpu-quota/--pids-limit'
	'OOM: run of dd bs=200M under a 128MiB limit exits 137'
	'\(a\) init OOM-killed'
	'\(b\) child OOM-killed, init lives on'
)
# Files run WHOLE (every test; no -f), after the filtered ones.
WHOLE=("$t/attack-cgroup.bats" "$t/attack-exec.bats")
FILTER="^($(
	IFS='|'
	echo "${NAMES[*]}"
))"

# CI's count of `docker run --rm` per runtime in systemd.bats: each takes
# ~12 s under TCG on the 2-core CI machine (systemd-v1, loaded host: 10 in
# 117 s), so 100 would be ~20 min per runtime; docs/conformance-layouts.md.
SD_CI_CHURN=5
SD_CI_OOM_ROUNDS=3
SD_FILES=("$t/systemd.bats" "$t/systemd-driver.bats" "$t/systemd-devices.bats")

case ${1:-} in
--list)
	printf '%s\n' "${FILES[@]}"
	echo "-f $FILTER"
	printf '%s (whole)\n' "${WHOLE[@]}"
	printf 'systemd-v2, systemd-v1: %s (whole, RCRUN_TEST_SD_CHURN=%s, RCRUN_TEST_SD_OOM_ROUNDS=%s)\n' "${SD_FILES[*]}" "${RCRUN_TEST_SD_CHURN:-$SD_CI_CHURN}" "${RCRUN_TEST_SD_OOM_ROUNDS:-$SD_CI_OOM_ROUNDS}"
	exit 0
	;;
systemd-v1 | systemd-v2)
	layout=$1
	shift
	export RCRUN_VM_TIMEOUT=${RCRUN_VM_TIMEOUT:-1800}
	export RCRUN_TEST_SD_CHURN=${RCRUN_TEST_SD_CHURN:-$SD_CI_CHURN}
	export RCRUN_TEST_SD_OOM_ROUNDS=${RCRUN_TEST_SD_OOM_ROUNDS:-$SD_CI_OOM_ROUNDS}
	exec bash "$here/run.sh" "$layout" -- conformance/run.sh "$@" "${SD_FILES[@]}"
	;;
--guest)
	shift
	cd "$repo"
	rc=0
	bash conformance/run.sh -f "$FILTER" "$@" "${FILES[@]}" || rc=$?
	whole=()
	for f in "${WHOLE[@]}"; do
		if [[ -f $f ]]; then
			whole+=("$f")
		else
			echo "ci-subset: $f does not exist (it is part of the VM subset): FAIL" >&2
			[[ $rc -ne 0 ]] || rc=1
		fi
	done
	if [[ ${#whole[@]} -gt 0 ]]; then
		bash conformance/run.sh "$@" "${whole[@]}" || { r=$?; [[ $rc -ne 0 ]] || rc=$r; }
	fi
	exit "$rc"
	;;
v1 | v2)
	layout=$1
	shift
	export RCRUN_VM_TIMEOUT=${RCRUN_VM_TIMEOUT:-1500}
	exec bash "$here/run.sh" "$layout" -- conformance/vm/ci-subset.sh --guest "$@"
	;;
*)
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
	;;
esac
