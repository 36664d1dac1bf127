#!/usr/bin/env bats
# The systemd cgroup driver, directly: `RUNTIME --systemd-cgroup` next to
# `REF_RUNTIME --systemd-cgroup` (runc), with cgroupsPath slice:prefix:name.
# Each creates a transient scope in system.slice; the limits are read back
# from the unit (systemctl show) and from the cgroup files, `update` reaches
# both, and delete stops the unit: no unit, no cgroup left. Also: the
# fallback to systemd's private socket without the system bus, the
# org.systemd.property.* annotations, and their refusals.
#
# Runs where systemd is PID 1 (conformance/vm/run.sh systemd-v2 / systemd-v1).
# Elsewhere every test skips, saying so.  Where systemd IS PID 1, anything
# missing (systemctl, the reference runtime) fails the test.

bats_require_minimum_version 1.5.0
load ../lib/common

setup_file() {
	mkdir -p "$RT_ROOT" "$REF_ROOT"
}

setup() {
	if [[ ! -d /run/systemd/system ]]; then
		skip "no systemd as PID 1 on this host (run it in conformance/vm/run.sh systemd-v2 or systemd-v1)"
	fi
	command -v systemctl >/dev/null || fail_loud "systemd is PID 1 but systemctl is missing"
	SD_UNITS=()
}

teardown() {
	local which id
	for id in "${SD_IDS[@]}"; do
		for which in rt ref; do ctr_force_delete "$which" "$id"; done
	done
	for u in "${SD_UNITS[@]}"; do
		systemctl stop "$u" >/dev/null 2>&1 || true
		systemctl reset-failed "$u" >/dev/null 2>&1 || true
	done
}

fail_loud() {
	echo "FAIL: $*" >&2
	return 1
}

SD_IDS=()

# sd_bundle WHICH NAME [RESOURCES_JSON]: a bundle whose cgroupsPath is
# system.slice:rct<tag>:<id>; sets ID and UNIT.
sd_bundle() {
	local which=$1 name=$2 res=${3:-'{}'}
	ID=$(ctr_id "$name-$which")
	UNIT="rct$RCRUN_TEST_TAG-$ID.scope"
	SD_IDS+=("$ID")
	SD_UNITS+=("$UNIT")
	make_bundle "$BATS_TEST_TMPDIR/$ID" \
		".linux.cgroupsPath = \"system.slice:rct$RCRUN_TEST_TAG:\" + \$id | .linux.resources += $res"
}

# sd_dirs UNIT: the unit's cgroup directory in every hierarchy.
sd_dirs() {
	local c
	[[ -n $CG_V2 ]] && echo "$CG_V2/system.slice/$1"
	for c in "${!CG_V1[@]}"; do echo "${CG_V1[$c]}/system.slice/$1"; done | sort -u
}

# sd_file KEY UNIT: the file KEY lives in for this layout.
sd_file() {
	local key=$1 unit=$2 v2=0
	[[ $CG_LAYOUT == v2 ]] && v2=1
	case $key:$v2 in
	memory:1) echo "$CG_V2/system.slice/$unit/memory.max" ;;
	memory:0) echo "${CG_V1[memory]}/system.slice/$unit/memory.limit_in_bytes" ;;
	pids:1) echo "$CG_V2/system.slice/$unit/pids.max" ;;
	pids:0) echo "${CG_V1[pids]}/system.slice/$unit/pids.max" ;;
	quota:1) echo "$CG_V2/system.slice/$unit/cpu.max" ;;
	quota:0) echo "${CG_V1[cpu]}/system.slice/$unit/cpu.cfs_quota_us" ;;
	shares:1) echo "$CG_V2/system.slice/$unit/cpu.weight" ;;
	shares:0) echo "${CG_V1[cpu]}/system.slice/$unit/cpu.shares" ;;
	esac
}

# expect_prop UNIT NAME VALUE: `systemctl show -p NAME --value UNIT`.
expect_prop() {
	local got
	got=$(systemctl show -p "$2" --value "$1")
	if [[ $got != "$3" ]]; then
		echo "MISMATCH: $1 $2: expected '$3', got '$got'" >&2
		return 1
	fi
	echo "$1 $2=$got"
}

expect_file() {
	local got
	got=$(cat "$1" 2>&1)
	if [[ $got != "$2" ]]; then
		echo "MISMATCH: $1: expected '$2', got '$got'" >&2
		return 1
	fi
	echo "$1 = $got"
}

# unit_gone UNIT: not loaded, and no cgroup directory anywhere.
unit_gone() {
	local d load rc=0
	load=$(systemctl show -p LoadState --value "$1")
	if [[ $load != not-found ]]; then
		echo "LEFT: unit $1 is still $load ($(systemctl show -p ActiveState --value "$1"))" >&2
		rc=1
	fi
	while read -r d; do
		[[ -e $d ]] && { echo "LEFT: cgroup $d" >&2; rc=1; }
	done < <(sd_dirs "$1")
	return $rc
}

@test "systemd driver: limits reach the unit and the files, update too, delete leaves nothing (RUNTIME and REF_RUNTIME)" {
	local which pid res v2=0 rc=0
	[[ $CG_LAYOUT == v2 ]] && v2=1
	res='{"memory":{"limit":134217728},"cpu":{"shares":512,"quota":50000,"period":100000},"pids":{"limit":64}}'
	for which in ref rt; do
		echo "== $(basename "$(rtbin "$which")") --systemd-cgroup"
		sd_bundle "$which" lim "$res"
		rc_of "$which" --systemd-cgroup create --bundle "$BATS_TEST_TMPDIR/$ID" "$ID"
		[[ $RC -eq 0 ]] || fail_loud "$which create: rc=$RC $ERR"
		rc_of "$which" --systemd-cgroup start "$ID"
		[[ $RC -eq 0 ]] || fail_loud "$which start: rc=$RC $ERR"
		wait_status "$which" "$ID" running
		pid=$(ctr_pid "$which" "$ID")
		expect_prop "$UNIT" ActiveState active
		expect_prop "$UNIT" ControlGroup "/system.slice/$UNIT"
		grep -q "/system.slice/$UNIT\$" "/proc/$pid/cgroup" ||
			fail_loud "init $pid not in $UNIT: $(cat "/proc/$pid/cgroup")"
		expect_prop "$UNIT" TasksMax 64 || rc=1
		expect_prop "$UNIT" CPUQuotaPerSecUSec 500ms || rc=1
		if ((v2)); then
			expect_prop "$UNIT" MemoryMax 134217728 || rc=1
			expect_prop "$UNIT" CPUWeight 20 || rc=1
			expect_file "$(sd_file quota "$UNIT")" "50000 100000" || rc=1
			expect_file "$(sd_file shares "$UNIT")" 20 || rc=1
		else
			expect_prop "$UNIT" MemoryLimit 134217728 || rc=1
			expect_prop "$UNIT" CPUShares 512 || rc=1
			expect_file "$(sd_file quota "$UNIT")" 50000 || rc=1
			expect_file "$(sd_file shares "$UNIT")" 512 || rc=1
		fi
		expect_file "$(sd_file memory "$UNIT")" 134217728 || rc=1
		expect_file "$(sd_file pids "$UNIT")" 64 || rc=1

		rc_of "$which" --systemd-cgroup update --memory 268435456 --pids-limit 32 --cpu-quota 100000 "$ID"
		[[ $RC -eq 0 ]] || fail_loud "$which update: rc=$RC $ERR"
		expect_prop "$UNIT" TasksMax 32 || rc=1
		expect_prop "$UNIT" CPUQuotaPerSecUSec 1s || rc=1
		if ((v2)); then
			expect_prop "$UNIT" MemoryMax 268435456 || rc=1
			expect_file "$(sd_file quota "$UNIT")" "100000 100000" || rc=1
		else
			expect_prop "$UNIT" MemoryLimit 268435456 || rc=1
			expect_file "$(sd_file quota "$UNIT")" 100000 || rc=1
		fi
		expect_file "$(sd_file memory "$UNIT")" 268435456 || rc=1
		expect_file "$(sd_file pids "$UNIT")" 32 || rc=1

		rc_of "$which" --systemd-cgroup kill "$ID" KILL
		wait_status "$which" "$ID" stopped
		rc_of "$which" --systemd-cgroup delete "$ID"
		[[ $RC -eq 0 ]] || fail_loud "$which delete: rc=$RC $ERR"
		unit_gone "$UNIT" || rc=1
	done
	return $rc
}

@test "systemd driver: delete of a running container (--force) stops the unit" {
	local which
	for which in ref rt; do
		sd_bundle "$which" force
		rc_of "$which" --systemd-cgroup run -d --bundle "$BATS_TEST_TMPDIR/$ID" "$ID"
		[[ $RC -eq 0 ]] || fail_loud "$which run -d: rc=$RC $ERR"
		expect_prop "$UNIT" ActiveState active
		rc_of "$which" --systemd-cgroup delete --force "$ID"
		[[ $RC -eq 0 ]] || fail_loud "$which delete --force: rc=$RC $ERR"
		unit_gone "$UNIT"
	done
}

# create_refused ID CGROUPS_PATH: RUNTIME's create must fail (sets RC, ERR).
create_refused() {
	SD_IDS+=("$1")
	make_bundle "$BATS_TEST_TMPDIR/$1" ".linux.cgroupsPath = \"$2\""
	rc_of rt --systemd-cgroup create --bundle "$BATS_TEST_TMPDIR/$1" "$1"
	echo "create $1 with cgroupsPath $2: rc=$RC $ERR"
	[[ $RC -ne 0 ]]
}

@test "systemd driver: a cgroupsPath that is not slice:prefix:name is refused in one line, nothing left" {
	local id
	id=$(ctr_id badpath)
	create_refused "$id" /system.slice/docker-x.scope
	assert_one_line_error "$ERR" 'linux\.cgroupsPath' 'system\.slice/docker-x\.scope' 'slice:prefix:name'
	[[ -z $(ctr_status rt "$id") ]]
	[[ ! -e $RT_ROOT/$id ]]
}

@test "systemd driver: a unit that already exists is refused naming the unit, the first container is untouched" {
	local a b
	sd_bundle rt dup
	a=$ID
	rc_of rt --systemd-cgroup run -d --bundle "$BATS_TEST_TMPDIR/$a" "$a"
	[[ $RC -eq 0 ]] || fail_loud "run -d $a: rc=$RC $ERR"
	b=$(ctr_id dup2)
	create_refused "$b" "system.slice:rct$RCRUN_TEST_TAG:$a"
	assert_one_line_error "$ERR" "$UNIT"
	[[ -z $(ctr_status rt "$b") ]]
	expect_prop "$UNIT" ActiveState active
	[[ $(ctr_status rt "$a") == running ]]
	rc_of rt --systemd-cgroup delete --force "$a"
	unit_gone "$UNIT"
}

# annotate DIR JSON: merge JSON into the bundle's annotations.
annotate() {
	local f=$1/config.json
	jq --argjson a "$2" '.annotations += $a' "$f" >"$f.new" && mv "$f.new" "$f"
}

# nobus WHICH CMD...: WHICH's CMD with the system bus unreachable (a D-Bus
# address nobody listens on; zbus and godbus both honour the variable), so
# the runtime must fall back to systemd's private socket.
nobus() {
	local which=$1
	shift
	DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/bus "$which" "$@"
}

# One container per runtime for two features (each run costs ~15 s under TCG).
@test "systemd driver: without the system bus, systemd's private socket; org.systemd.property.* annotations reach the unit (RUNTIME and REF_RUNTIME)" {
	local which rc=0
	for which in ref rt; do
		echo "== $(basename "$(rtbin "$which")") with DBUS_SYSTEM_BUS_ADDRESS unreachable"
		sd_bundle "$which" nobus '{"pids":{"limit":48}}'
		annotate "$BATS_TEST_TMPDIR/$ID" '{"org.systemd.property.TimeoutStopSec": "uint64 7",
			"org.systemd.property.CollectMode": "'"'inactive-or-failed'"'"}'
		rc_of nobus "$which" --systemd-cgroup run -d --bundle "$BATS_TEST_TMPDIR/$ID" "$ID"
		[[ $RC -eq 0 ]] || fail_loud "$which run -d: rc=$RC $ERR"
		expect_prop "$UNIT" ActiveState active || rc=1
		expect_prop "$UNIT" TasksMax 48 || rc=1
		expect_file "$(sd_file pids "$UNIT")" 48 || rc=1
		expect_prop "$UNIT" TimeoutStopUSec 7s || rc=1
		expect_prop "$UNIT" CollectMode inactive-or-failed || rc=1
		rc_of nobus "$which" --systemd-cgroup delete --force "$ID"
		[[ $RC -eq 0 ]] || fail_loud "$which delete --force: rc=$RC $ERR"
		unit_gone "$UNIT" || rc=1
	done
	return $rc
}

# nosystemd WHICH CMD...: neither the bus nor the private socket (/dev/null
# bound over it in a mount namespace of its own: connect is refused).
nosystemd() {
	local bin root
	bin=$(rtbin "$1") root=$(rtroot "$1")
	shift
	DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/bus unshare -m --propagation private \
		sh -c 'mount --bind /dev/null /run/systemd/private && exec "$@"' sh \
		timeout -k 5 "$RCRUN_TEST_CMD_TIMEOUT" "$bin" --root "$root" "$@"
}

# refused_by_both RUNNER NAME [ANNOTATIONS_JSON]: `RUNNER WHICH run -d` of a
# fresh bundle must fail for runc and RUNTIME alike, with the same exit
# status, leaving no state, no unit and no cgroup; ERR is RUNTIME's.
refused_by_both() {
	local runner=$1 name=$2 ann=${3:-} which rcs=()
	for which in ref rt; do
		sd_bundle "$which" "$name"
		[[ -z $ann ]] || annotate "$BATS_TEST_TMPDIR/$ID" "$ann"
		rc_of "$runner" "$which" --systemd-cgroup run -d --bundle "$BATS_TEST_TMPDIR/$ID" "$ID"
		echo "$which: rc=$RC $ERR"
		[[ $RC -ne 0 ]] || fail_loud "$which run -d succeeded"
		rcs+=("$RC")
		[[ -z $(ctr_status "$which" "$ID") ]] || fail_loud "$which left state for $ID"
		[[ ! -e $(rtroot "$which")/$ID ]] || fail_loud "$which left $(rtroot "$which")/$ID"
		unit_gone "$UNIT"
	done
	[[ ${rcs[0]} -eq ${rcs[1]} ]] || fail_loud "exit status: runc ${rcs[0]}, rcrun ${rcs[1]}"
}

# direct WHICH CMD...: WHICH's CMD as it is.
direct() { "$@"; }

@test "systemd driver: neither the bus nor the private socket: one line naming both, nothing left (RUNTIME and REF_RUNTIME)" {
	refused_by_both nosystemd nosd
	assert_one_line_error "$ERR" '/run/systemd/private' 'nonexistent/bus'
}

@test "systemd driver: a bad org.systemd.property.* annotation is refused naming it, nothing left (RUNTIME and REF_RUNTIME)" {
	refused_by_both direct badprop '{"org.systemd.property.TimeoutStopSec": "'"'covfefe'"'"}'
	assert_one_line_error "$ERR" 'org\.systemd\.property\.TimeoutStopSec' 'covfefe'
}
