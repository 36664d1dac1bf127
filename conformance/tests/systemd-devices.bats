#!/usr/bin/env bats
# The device cgroup of a container under the systemd cgroup driver survives
# systemd re-applying the unit (issue 17).  systemd rewrites a unit's device
# access whenever it re-applies its settings (`systemctl set-property`, a
# `daemon-reload`, any SetUnitProperties such as `docker update`): a scope
# started without DevicePolicy/DeviceAllow gets DevicePolicy=auto, i.e. on
# cgroup v1 `a *:* rwm`.  A container with CAP_MKNOD could then mknod and
# open any host device.  The runtime must hand systemd the container's rules
# (runc: DevicePolicy=strict + DeviceAllow).
#
# The attack, from inside the container, before and after each re-apply:
# mknod the VM's disk (a block device the container was not given) and read
# it -> must fail with EPERM; /dev/null must still work.  RUNTIME next to
# REF_RUNTIME (runc), directly (--systemd-cgroup) and through docker.
#
# Runs where systemd is PID 1 (conformance/vm/run.sh systemd-v2|systemd-v1;
# ci-subset.sh runs it).  Elsewhere every test skips, saying so; where
# systemd IS PID 1 a missing piece (systemctl, a disk, docker in the VM)
# fails the test.

bats_require_minimum_version 1.5.0
load ../lib/common

SD_IMAGE=rcrun-sd-busybox:latest
SD_T=${RCRUN_TEST_SD_TIMEOUT:-120}

setup_file() {
	mkdir -p "$RT_ROOT" "$REF_ROOT"
}

setup() {
	[[ -d /run/systemd/system ]] ||
		skip "no systemd as PID 1 on this host (run it in conformance/vm/run.sh systemd-v2 or systemd-v1)"
	command -v systemctl >/dev/null || fail_loud "systemd is PID 1 but systemctl is missing"
	DISK=$(host_disk) || fail_loud "no block device (disk) in /sys/block to attack"
	SD_IDS=()
	SD_UNITS=()
	SD_DOCKER=()
}

teardown() {
	local which id u
	for id in "${SD_IDS[@]}"; do
		for which in rt ref; do ctr_force_delete "$which" "$id"; done
	done
	for id in "${SD_DOCKER[@]}"; do
		timeout -k 5 "$SD_T" docker rm -f "$id" >/dev/null 2>&1 || true
	done
	for u in "${SD_UNITS[@]}"; do
		systemctl stop "$u" >/dev/null 2>&1 || true
		systemctl reset-failed "$u" >/dev/null 2>&1 || true
		rm -rf "/run/systemd/system.control/$u.d"
	done
	[[ ${#SD_UNITS[@]} -eq 0 ]] || systemctl daemon-reload || true
}

fail_loud() {
	echo "FAIL: $*" >&2
	return 1
}

# host_disk: "MAJOR:MINOR NAME" of the first real disk (not loop/ram/rom).
host_disk() {
	local d n
	for d in /sys/block/*; do
		n=${d##*/}
		case $n in loop* | ram* | zram* | sr* | nbd* | md* | dm-*) continue ;; esac
		[[ -r $d/dev ]] || continue
		echo "$(cat "$d/dev") $n"
		return 0
	done
	return 1
}

# The probe, run in the container by `exec`: mknod the host's disk, read
# it; then write to /dev/null.  Prints "disk: <result>" and "null: <result>".
probe_script() {
	local mm=${DISK%% *}
	cat <<EOF
rm -f /dev/rct-disk
if mknod /dev/rct-disk b ${mm%:*} ${mm#*:} 2>/dev/.err; then
	if dd if=/dev/rct-disk of=/dev/null bs=512 count=1 2>/dev/.err; then echo "disk: READ"; else echo "disk: \$(cat /dev/.err)"; fi
else
	echo "disk: mknod failed: \$(cat /dev/.err 2>/dev/null)"
fi
rm -f /dev/rct-disk
if echo x >/dev/null; then echo "null: ok"; else echo "null: failed"; fi
EOF
}

# expect_denied WHAT OUTPUT: the disk read failed with EPERM, /dev/null works.
expect_denied() {
	echo "-- $1:"
	echo "$2" | sed 's/^/   /'
	[[ $2 == *"null: ok"* ]] || fail_loud "$1: /dev/null no longer works" || return 1
	[[ $2 == *"disk: "*"Operation not permitted"* ]] ||
		fail_loud "$1: the container could read the host disk ${DISK#* } ($DISK) it was not given" || return 1
}

# devices_state UNIT CGROUP: what systemd and the kernel say (for the log).
devices_state() {
	echo "   $1: DevicePolicy=$(systemctl show -p DevicePolicy --value "$1") DeviceAllow=$(systemctl show -p DeviceAllow --value "$1")"
	if [[ -r /sys/fs/cgroup/devices$2/devices.list ]]; then
		echo "   devices.list: $(tr '\n' ',' <"/sys/fs/cgroup/devices$2/devices.list")"
	fi
}

# expect_strict UNIT: the unit carries the rules (on v2 the attack alone
# cannot tell: the runtime's own eBPF program stays attached).
expect_strict() {
	local pol
	pol=$(systemctl show -p DevicePolicy --value "$1")
	[[ $pol == strict ]] || fail_loud "$1: DevicePolicy=$pol, expected strict (the device rules are not in the unit)"
}

# reapply UNIT: what an administrator (or a monitoring agent) does.
reapply() {
	timeout -k 5 "$SD_T" systemctl set-property --runtime "$1" CPUWeight=50 TasksMax=500 ||
		fail_loud "systemctl set-property $1 failed" || return 1
	timeout -k 5 "$SD_T" systemctl daemon-reload || fail_loud "daemon-reload failed"
}

@test "systemd driver devices: after update and after set-property + daemon-reload, a CAP_MKNOD container still cannot open the host disk (RUNTIME and REF_RUNTIME)" {
	local which unit out rc=0
	for which in ref rt; do
		echo "== $(basename "$(rtbin "$which")") --systemd-cgroup (disk ${DISK#* } = b ${DISK%% *})"
		ID=$(ctr_id "dev-$which")
		unit="rct$RCRUN_TEST_TAG-$ID.scope"
		SD_IDS+=("$ID")
		SD_UNITS+=("$unit")
		make_bundle "$BATS_TEST_TMPDIR/$ID" \
			".linux.cgroupsPath = \"system.slice:rct$RCRUN_TEST_TAG:\" + \$id
			 | .process.capabilities |= with_entries(.value += [\"CAP_MKNOD\"])"
		rc_of "$which" --systemd-cgroup run -d --bundle "$BATS_TEST_TMPDIR/$ID" "$ID"
		[[ $RC -eq 0 ]] || fail_loud "$which run -d: rc=$RC $ERR"
		devices_state "$unit" "/system.slice/$unit"
		expect_strict "$unit" || rc=1
		out=$("$which" --systemd-cgroup exec "$ID" sh -c "$(probe_script)" 2>&1)
		expect_denied "$which: at start" "$out" || rc=1

		rc_of "$which" --systemd-cgroup update --memory 268435456 --pids-limit 300 "$ID"
		[[ $RC -eq 0 ]] || fail_loud "$which update: rc=$RC $ERR"
		devices_state "$unit" "/system.slice/$unit"
		out=$("$which" --systemd-cgroup exec "$ID" sh -c "$(probe_script)" 2>&1)
		expect_denied "$which: after update (SetUnitProperties)" "$out" || rc=1

		reapply "$unit"
		devices_state "$unit" "/system.slice/$unit"
		out=$("$which" --systemd-cgroup exec "$ID" sh -c "$(probe_script)" 2>&1)
		expect_denied "$which: after set-property + daemon-reload" "$out" || rc=1

		rc_of "$which" --systemd-cgroup delete --force "$ID"
		[[ $RC -eq 0 ]] || fail_loud "$which delete --force: rc=$RC $ERR"
	done
	return $rc
}

@test "systemd driver devices: docker (systemd driver, default caps incl. MKNOD): docker update, then set-property + daemon-reload: the host disk stays closed (rcrun and runc)" {
	[[ ${RCRUN_VM_LAYOUT:-} == systemd-* || ${RCRUN_TEST_SYSTEMD_HOST:-0} == 1 ]] ||
		skip "uses the system docker: only in the systemd VMs (RCRUN_VM_LAYOUT='${RCRUN_VM_LAYOUT:-}') or with RCRUN_TEST_SYSTEMD_HOST=1"
	command -v docker >/dev/null || fail_loud "systemd VM without docker"
	[[ $(docker info --format '{{.CgroupDriver}}') == systemd ]] || fail_loud "docker's cgroup driver is not systemd"
	local rootfs rt id unit out rc=0
	rootfs=$(make_rootfs)
	docker image inspect "$SD_IMAGE" >/dev/null 2>&1 ||
		docker import "$(dirname "$rootfs")/rootfs.tar" "$SD_IMAGE" >/dev/null ||
		fail_loud "docker import of the busybox rootfs failed"
	for rt in runc rcrun; do
		echo "== docker --runtime=$rt (disk ${DISK#* } = b ${DISK%% *})"
		id=$(timeout -k 5 "$SD_T" docker run -d --label rcrun-sd-test --runtime="$rt" --network none "$SD_IMAGE" sleep 600) ||
			fail_loud "docker run --runtime=$rt failed"
		SD_DOCKER+=("$id")
		unit=docker-$id.scope
		SD_UNITS+=("$unit")
		devices_state "$unit" "/system.slice/$unit"
		expect_strict "$unit" || rc=1
		out=$(timeout -k 5 "$SD_T" docker exec "$id" sh -c "$(probe_script)" 2>&1)
		expect_denied "$rt: at start" "$out" || rc=1

		timeout -k 5 "$SD_T" docker update -m 200m --memory-swap 400m --pids-limit 60 "$id" >/dev/null ||
			fail_loud "docker update --runtime=$rt failed"
		devices_state "$unit" "/system.slice/$unit"
		out=$(timeout -k 5 "$SD_T" docker exec "$id" sh -c "$(probe_script)" 2>&1)
		expect_denied "$rt: after docker update" "$out" || rc=1

		reapply "$unit"
		devices_state "$unit" "/system.slice/$unit"
		out=$(timeout -k 5 "$SD_T" docker exec "$id" sh -c "$(probe_script)" 2>&1)
		expect_denied "$rt: after set-property + daemon-reload" "$out" || rc=1

		timeout -k 5 "$SD_T" docker rm -f "$id" >/dev/null || fail_loud "docker rm -f failed"
	done
	return $rc
}
