#!/usr/bin/env bash
# The CI entry point (.ci/run runs exactly this): on a fresh Debian 12
# machine, as root, from the repo root of a fresh clone:
#
#   bash conformance/ci.sh
#
# 1. conformance/install-deps.sh    packages (+ Rust toolchain if missing)
# 2. cargo build --release          the workspace (target/release/rcrun)
# 3. cargo fmt --all -- --check
# 4. cargo clippy --all-targets -- -D warnings
# 5. cargo test --workspace --release  (reuses the release build: no second
#                                     full compile of the dependencies;
#                                     RCRUN_TEST_REQUIRE_ROOT=1: a root or
#                                     kernel test that skips fails the step)
# 6. conformance/run.sh             host conformance suite (TAP)
# 7. conformance/vm/ci-subset.sh v2, v1   the CI subset of the suite on pure
#                                   cgroup v2 / v1 VMs (lifecycle, memory, cpu,
#                                   pids, update, OOM, the boundary attacks of
#                                   tests/attack-{cgroup,exec}.bats; the whole suite is far
#                                   too slow under TCG: RCRUN_CI_VM_FULL=1 runs
#                                   it, = conformance/vm/run.sh <layout>)
#                                   (only when conformance/vm/run.sh exists;
#                                   RCRUN_CI_VM=0 skips, =1 requires it)
# 8. conformance/vm/ci-subset.sh systemd-v2, systemd-v1   tests/systemd.bats
#                                   in Debian 13 / Debian 12 VMs with systemd
#                                   as PID 1 (docker/containerd/podman with the
#                                   systemd cgroup driver), rcrun next to runc;
#                                   the images are built once (network) and
#                                   cached (same RCRUN_CI_VM switch;
#                                   RCRUN_CI_SYSTEMD=0 skips just these two)
#
# Every step runs even if an earlier one failed (so one red step does not
# hide the others), except that nothing runs when dependencies cannot be
# installed.  Exit status: 0 iff every step passed.  A summary is printed at
# the end.  Environment: RUNTIME / REF_RUNTIME are passed to the suite.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(cd "$here/.." && pwd -P)
cd "$repo"

summary=()
failed=0
step() { # NAME CMD...
	local name=$1 start rc
	shift
	echo
	echo "==================== $name: $*"
	start=$(date +%s)
	"$@"
	rc=$?
	summary+=("$(printf '%-28s %-4s %4ss' "$name" "$([[ $rc -eq 0 ]] && echo ok || echo FAIL)" $(($(date +%s) - start)))")
	[[ $rc -eq 0 ]] || failed=1
	return $rc
}

print_summary() {
	echo
	echo "==================== CI summary"
	printf '  %s\n' "${summary[@]}"
	if [[ $failed -eq 0 ]]; then echo "  => PASS"; else echo "  => FAIL"; fi
}

vm_harness=conformance/vm/run.sh
vm_mode=${RCRUN_CI_VM:-auto}
dep_args=(--ci)
if [[ $vm_mode != 0 && -f $vm_harness ]]; then
	dep_args+=(--vm)
fi

if ! step install-deps bash conformance/install-deps.sh "${dep_args[@]}"; then
	print_summary
	exit 1
fi
[[ -x $HOME/.cargo/bin/cargo ]] && export PATH=$HOME/.cargo/bin:$PATH

step "cargo build --release" cargo build --release
step "cargo fmt --check" cargo fmt --all -- --check
step "cargo clippy" cargo clippy --all-targets -- -D warnings
# Tests that need root, cgroups or a static busybox skip without them (one
# SKIPPED line); here, a skip is a failure.
step "cargo test" env RCRUN_TEST_REQUIRE_ROOT=1 cargo test --workspace --release

# CI runs on a dedicated machine: every mountinfo line counts for leaks.
export RCRUN_TEST_STRICT_MOUNTS=${RCRUN_TEST_STRICT_MOUNTS:-1}
# ... and packaging.bats may dpkg -i / dpkg -r the .deb on it for real.
export RCRUN_TEST_SYSTEM_DPKG=${RCRUN_TEST_SYSTEM_DPKG:-1}
# ... and the boundary attacks through docker/containerd (attack-docker.bats,
# attack-shim.bats) FAIL instead of skipping when docker, containerd or the
# shim are missing (RCRUN_TEST_NO_DOCKER=1, set in the VMs, still skips the
# docker ones).
export RCRUN_TEST_REQUIRE_DOCKER=${RCRUN_TEST_REQUIRE_DOCKER:-1}
step "conformance (host)" bash conformance/run.sh

# ---- hook: the suite on pure cgroup v2 and pure cgroup v1 VMs ------------
case $vm_mode in
0) echo "RCRUN_CI_VM=0: VM layouts skipped" ;;
*)
	if [[ -f $vm_harness ]]; then
		if [[ ${RCRUN_CI_VM_FULL:-0} == 1 ]]; then
			step "conformance (vm v2, full)" bash "$vm_harness" v2
			step "conformance (vm v1, full)" bash "$vm_harness" v1
		else
			step "conformance (vm v2)" bash conformance/vm/ci-subset.sh v2
			step "conformance (vm v1)" bash conformance/vm/ci-subset.sh v1
		fi
		# The systemd layouts (issue 17). RCRUN_CI_SYSTEMD=0 leaves them
		# out; the summary then says so loudly.
		if [[ ${RCRUN_CI_SYSTEMD:-1} != 0 ]]; then
			step "systemd (vm systemd-v2)" bash conformance/vm/ci-subset.sh systemd-v2
			step "systemd (vm systemd-v1)" bash conformance/vm/ci-subset.sh systemd-v1
		else
			summary+=("systemd (vm systemd-v1/v2)   NOT RUN: RCRUN_CI_SYSTEMD=0")
		fi
	elif [[ $vm_mode == 1 ]]; then
		step "conformance (vm)" false
		echo "RCRUN_CI_VM=1 but $vm_harness does not exist" >&2
	else
		echo "($vm_harness not present: VM layouts skipped)"
	fi
	;;
esac

print_summary
exit $failed
