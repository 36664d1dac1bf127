#!/usr/bin/env bash
# The CI subset of the conformance suite for the VM layouts: a handful of
# scenarios that prove a cgroup layout works (RUNTIME vs REF_RUNTIME),
# instead of the whole suite (10-100 s per bats test under TCG).
#
#   conformance/vm/ci-subset.sh <v2|v1> [bats args]   # on the host: boots the VM
#   conformance/vm/ci-subset.sh --list                # print the subset
#
# On the host it runs `conformance/vm/run.sh <layout> -- conformance/vm/ci-subset.sh
# --guest [bats args]`; in the guest (--guest) it runs conformance/run.sh with
# the filter below over the files below.  Extra bats args (e.g. another -f,
# --verbose-run) are passed on.  RCRUN_VM_TIMEOUT defaults to 600 s here.
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
# The full suite stays `conformance/vm/run.sh <layout>` (no command).
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
FILTER="^($(
	IFS='|'
	echo "${NAMES[*]}"
))"

case ${1:-} in
--list)
	printf '%s\n' "${FILES[@]}"
	echo "-f $FILTER"
	exit 0
	;;
--guest)
	shift
	cd "$repo"
	exec bash conformance/run.sh -f "$FILTER" "$@" "${FILES[@]}"
	;;
v1 | v2)
	layout=$1
	shift
	export RCRUN_VM_TIMEOUT=${RCRUN_VM_TIMEOUT:-600}
	exec bash "$here/run.sh" "$layout" -- conformance/vm/ci-subset.sh --guest "$@"
	;;
*)
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
	;;
esac
