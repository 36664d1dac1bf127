#!/usr/bin/env bats
# Scenarios on a host where systemd is PID 1 and the engines use its cgroup
# driver (issue 17): docker (systemd cgroup driver), containerd
# (SystemdCgroup), podman (systemd cgroup manager) and `--systemd-cgroup`
# directly, each with rcrun and with runc side by side.
#
# Runs in the systemd VM layouts (conformance/vm/run.sh systemd-v2|systemd-v1
# -- conformance/run.sh conformance/tests/systemd.bats; ci.sh does it).  It
# uses the SYSTEM docker/containerd/podman and systemd, so it runs only where
# RCRUN_VM_LAYOUT is systemd-* (or RCRUN_TEST_SYSTEMD_HOST=1 on a throw-away
# systemd host); everywhere else every test skips with the reason.  In a
# systemd VM a missing piece (no systemd as PID 1, no docker with the systemd
# driver, no rcrun registered, ...) FAILS every test, loudly.
#
# rcrun side: the registered /usr/local/bin/rcrun (docker daemon.json
# "rcrun", podman --runtime, ctr io.containerd.rcrun.v2 with the shim);
# runc side: the distro's runc (docker's default runtime, io.containerd.runc.v2).
#
# Environment: RCRUN_TEST_SD_CHURN  number of `docker run --rm` (default 100)
#              RCRUN_TEST_SD_OOM_ROUNDS  rounds of each docker/ctr OOM test
#                                   (default 1; CI: conformance/vm/ci-subset.sh)
#              RCRUN_TEST_SD_RCRUN  rcrun binary (default: rcrun on PATH)

load ../lib/common

SD_IMAGE=rcrun-sd-busybox:latest
# Every engine command is bounded: a runtime that hangs fails its test in
# SD_T seconds instead of eating the VM's whole time budget.
SD_T=${RCRUN_TEST_SD_TIMEOUT:-120}

sd_here() {
	[[ ${RCRUN_VM_LAYOUT:-} == systemd-* || ${RCRUN_TEST_SYSTEMD_HOST:-0} == 1 ]]
}

# What a systemd test host must have; prints what is missing.
sd_missing() {
	local m="" b
	[[ $(cat /proc/1/comm 2>/dev/null) == systemd ]] || m+=" systemd-is-not-PID-1($(cat /proc/1/comm 2>/dev/null))"
	for b in systemctl docker ctr podman runc jq "$SD_RCRUN" containerd-shim-rcrun-v2; do
		command -v "$b" >/dev/null 2>&1 || m+=" no-$b"
	done
	if command -v docker >/dev/null 2>&1; then
		local drv
		drv=$(timeout -k 5 "$SD_T" docker info --format '{{.CgroupDriver}}' 2>&1) || m+=" docker-info-failed($drv)"
		[[ $drv == systemd ]] || m+=" docker-cgroup-driver=$drv"
		docker info --format '{{json .Runtimes}}' 2>/dev/null | jq -e 'has("rcrun")' >/dev/null ||
			m+=" docker-has-no-rcrun-runtime"
	fi
	echo "$m"
}

setup_file() {
	export SD_RCRUN=${RCRUN_TEST_SD_RCRUN:-$(command -v rcrun 2>/dev/null || echo /usr/local/bin/rcrun)}
	sd_here || return 0
	local m
	m=$(sd_missing)
	if [[ -n $m ]]; then
		echo "systemd test host is missing:$m" >"$BATS_FILE_TMPDIR/missing"
		return 0
	fi
	local rootfs
	rootfs=$(make_rootfs) || { echo "no busybox rootfs" >"$BATS_FILE_TMPDIR/missing"; return 0; }
	docker image inspect "$SD_IMAGE" >/dev/null 2>&1 ||
		docker import "$(dirname "$rootfs")/rootfs.tar" "$SD_IMAGE" >/dev/null ||
		echo "docker import of the busybox rootfs failed" >>"$BATS_FILE_TMPDIR/missing"
}

setup() {
	sd_here || skip "not a systemd test host (RCRUN_VM_LAYOUT='${RCRUN_VM_LAYOUT:-}'; run in conformance/vm/run.sh systemd-v2|systemd-v1, or RCRUN_TEST_SYSTEMD_HOST=1)"
	if [[ -s $BATS_FILE_TMPDIR/missing ]]; then
		echo "FAIL: $(cat "$BATS_FILE_TMPDIR/missing")" >&2
		return 1
	fi
	[[ -d /sys/fs/cgroup/memory ]] && SD_V1=1 || SD_V1=0
}

teardown() {
	sd_here || return 0
	local ids
	ids=$(docker ps -aq --filter label=rcrun-sd-test 2>/dev/null)
	[[ -z $ids ]] || timeout -k 5 "$SD_T" docker rm -f $ids >/dev/null 2>&1 || true
}

# ------------------------------------------------------------- helpers ----
# sd_docker_rt rcrun|runc: the docker runtime name.
sd_docker_rt() { if [[ $1 == rcrun ]]; then echo rcrun; else echo runc; fi; }
sd_bin() { if [[ $1 == rcrun ]]; then echo "$SD_RCRUN"; else command -v runc; fi; }

# sd_cgfile UNIT_CGROUP CONTROLLER FILE: the cgroup file of a unit's cgroup.
sd_cgfile() {
	if [[ $SD_V1 -eq 1 ]]; then echo "/sys/fs/cgroup/$2$1/$3"; else echo "/sys/fs/cgroup$1/$3"; fi
}

# sd_prop UNIT PROP: systemctl show -p PROP --value UNIT
sd_prop() { timeout -k 5 "$SD_T" systemctl show -p "$2" --value "$1"; }

# sd_unit_gone UNIT CGROUP: the unit is unloaded and no hierarchy has CGROUP.
sd_unit_gone() {
	local unit=$1 cg=$2 i st d
	for ((i = 0; i < 50; i++)); do
		st=$(sd_prop "$unit" LoadState)
		[[ $st == not-found ]] && break
		sleep 0.2
	done
	assert_eq "$unit LoadState after removal" not-found "$st" || return 1
	for d in /sys/fs/cgroup /sys/fs/cgroup/*/; do
		if [[ -n $cg && -d ${d%/}$cg ]]; then
			echo "cgroup ${d%/}$cg still exists after $unit is gone" >&2
			return 1
		fi
	done
}

# sd_memlimit_prop: the unit property carrying the memory limit.
sd_memlimit_prop() { if [[ $SD_V1 -eq 1 ]]; then echo MemoryLimit; else echo MemoryMax; fi; }
sd_memlimit_file() { if [[ $SD_V1 -eq 1 ]]; then echo memory.limit_in_bytes; else echo memory.max; fi; }

# sd_init_in_unit PID UNIT_CGROUP: /proc/PID/cgroup names UNIT_CGROUP for
# memory (v1) or the cgroup2 line, and for name=systemd: what containerd's
# runc shim loads for its OOM watch once `create` returns.  (Not every v1
# line: runc 1.1 may not join every hierarchy, e.g. `misc`.)
sd_init_in_unit() {
	local pid=$1 cg=$2 line ctl bad="" seen=0
	while IFS= read -r line; do
		ctl=${line#*:}
		ctl=${ctl%%:*}
		case $ctl in
		memory | name=systemd | "")
			seen=$((seen + 1))
			[[ ${line#*:*:} == "$cg" ]] || bad+=" $line"
			;;
		esac
	done <"/proc/$pid/cgroup"
	[[ $seen -gt 0 && -z $bad ]] || { echo "init $pid is not in $cg:${bad:- no memory/cgroup2 line}" >&2; return 1; }
}

# The OOM through containerd's runc shim (docker's `path` registration,
# ctr io.containerd.runc.v2; rcrun and runc alike): the shim watches the
# init's cgroup and looks at it again when the kernel tells it about the
# kill.  If the kill empties the cgroup, systemd stops the scope and removes
# its cgroup at once, and the shim loses the event when systemd gets there
# first (a race outside the runtime: containerd skips its own OOMKilled CRI
# test with the systemd driver for it; docs/conformance-layouts.md, "The OOM
# event through containerd's runc shim").  So in those scenarios the killed
# process is a child and the init outlives the kill by SD_OOM_LINGER
# seconds: the event must then arrive, every round.  The init itself is
# OOM-killed with the runtime's own shim (sd_ctr_oom rcrun) and by podman.
SD_OOM_LINGER=2
# Rounds of each OOM scenario (CI runs several to show they do not flake).
SD_OOM_ROUNDS=${RCRUN_TEST_SD_OOM_ROUNDS:-1}

sd_docker_oom_once() {
	local rt id unit cg rc oomk
	rt=$(sd_docker_rt "$1")
	assert_eq "docker info CgroupDriver" systemd "$(docker info --format '{{.CgroupDriver}}')" || return 1
	id=$(timeout -k 5 "$SD_T" docker run -d --label rcrun-sd-test --runtime="$rt" -m 128m --network none "$SD_IMAGE" \
		sh -c "while [ ! -e /go ]; do sleep 0.1; done; dd if=/dev/zero of=/dev/null bs=200M count=1; st=\$?; sleep $SD_OOM_LINGER; exit \$st") || return 1
	unit=docker-$id.scope
	cg=$(sd_prop "$unit" ControlGroup)
	assert_eq "$unit ControlGroup" "/system.slice/$unit" "$cg" || return 1
	assert_eq "$unit ActiveState" active "$(sd_prop "$unit" ActiveState)" || return 1
	sd_init_in_unit "$(docker inspect -f '{{.State.Pid}}' "$id")" "$cg" || return 1
	assert_eq "$unit $(sd_memlimit_prop)" 134217728 "$(sd_prop "$unit" "$(sd_memlimit_prop)")" || return 1
	assert_eq "$(sd_memlimit_file)" 134217728 "$(cat "$(sd_cgfile "$cg" memory "$(sd_memlimit_file)")")" || return 1
	timeout -k 5 "$SD_T" docker exec "$id" touch /go || return 1
	rc=$(timeout -k 5 "$SD_T" docker wait "$id") || return 1
	assert_eq "exit status" 137 "$rc" || return 1
	oomk=$(docker inspect -f '{{.State.OOMKilled}}' "$id")
	assert_eq "OOMKilled" true "$oomk" || return 1
	timeout -k 5 "$SD_T" docker rm "$id" >/dev/null || return 1
	sd_unit_gone "$unit" "$cg"
}

# sd_oom_rounds FUNC ARG: FUNC ARG, SD_OOM_ROUNDS times; the first failing
# round fails the test.
sd_oom_rounds() {
	local r
	for ((r = 1; r <= SD_OOM_ROUNDS; r++)); do
		"$1" "$2" || { echo "(round $r of $SD_OOM_ROUNDS)" >&2; return 1; }
	done
	[[ $SD_OOM_ROUNDS -le 1 ]] || note "$2: $SD_OOM_ROUNDS rounds, each passed"
}
sd_docker_oom() { sd_oom_rounds sd_docker_oom_once "$1"; }

sd_docker_update() {
	local rt id unit cg
	rt=$(sd_docker_rt "$1")
	id=$(timeout -k 5 "$SD_T" docker run -d --label rcrun-sd-test --runtime="$rt" --network none "$SD_IMAGE" sleep 600) || return 1
	unit=docker-$id.scope
	cg=$(sd_prop "$unit" ControlGroup)
	assert_eq "$unit ControlGroup" "/system.slice/$unit" "$cg" || return 1
	timeout -k 5 "$SD_T" docker update -m 200m --memory-swap 400m --cpus 0.5 --pids-limit 50 "$id" >/dev/null || return 1
	assert_eq "$unit $(sd_memlimit_prop)" 209715200 "$(sd_prop "$unit" "$(sd_memlimit_prop)")" || return 1
	assert_eq "$unit CPUQuotaPerSecUSec" 500ms "$(sd_prop "$unit" CPUQuotaPerSecUSec)" || return 1
	assert_eq "$unit TasksMax" 50 "$(sd_prop "$unit" TasksMax)" || return 1
	assert_eq "$(sd_memlimit_file)" 209715200 "$(cat "$(sd_cgfile "$cg" memory "$(sd_memlimit_file)")")" || return 1
	if [[ $SD_V1 -eq 1 ]]; then
		assert_eq cpu.cfs_quota_us 50000 "$(cat "$(sd_cgfile "$cg" cpu cpu.cfs_quota_us)")" || return 1
		assert_eq cpu.cfs_period_us 100000 "$(cat "$(sd_cgfile "$cg" cpu cpu.cfs_period_us)")" || return 1
	else
		assert_eq cpu.max "50000 100000" "$(cat "$(sd_cgfile "$cg" cpu cpu.max)")" || return 1
	fi
	assert_eq pids.max 50 "$(cat "$(sd_cgfile "$cg" pids pids.max)")" || return 1
	timeout -k 5 "$SD_T" docker rm -f "$id" >/dev/null || return 1
	sd_unit_gone "$unit" "$cg"
}

# Every docker-*.scope unit and cgroup dir (any hierarchy).
sd_docker_scopes() {
	timeout -k 5 "$SD_T" systemctl list-units --all --no-legend --plain 'docker-*.scope' | awk '{ print "unit " $1 }'
	find /sys/fs/cgroup -maxdepth 4 -type d -name 'docker-*.scope' 2>/dev/null | sed 's/^/cgroup /'
}

sd_docker_churn() {
	local rt n=${RCRUN_TEST_SD_CHURN:-100} i t0 left
	rt=$(sd_docker_rt "$1")
	left=$(sd_docker_scopes)
	assert_eq "docker scopes before the runs" "" "$left" || return 1
	t0=$(date +%s)
	for ((i = 1; i <= n; i++)); do
		timeout -k 5 "$SD_T" docker run --rm --label rcrun-sd-test --runtime="$rt" --network none "$SD_IMAGE" true ||
			{ echo "run $i of $n failed" >&2; return 1; }
	done
	note "$1: $n x docker run --rm in $(($(date +%s) - t0))s"
	sleep 1
	left=$(sd_docker_scopes)
	assert_eq "docker scopes left after $n x docker run --rm" "" "$left"
}

# containerd: ctr run with the runtime's shim, the systemd cgroup driver
# (runc options SystemdCgroup, ctr --runc-systemd-cgroup) and a slice-form
# cgroup path; OOM -> 137 and a /tasks/oom event.
# sd_ctr_oom rcrun|runc|rcrun-runc-shim: the runtime's own shim, or (last)
# containerd's runc shim running rcrun (--runc-binary, docker's "path" way).
# ctr only passes --runc-systemd-cgroup for io.containerd.runc.v2: it refuses
# the flag with any other runtime name ("specifying runc-binary and
# runc-systemd-cgroup is only supported for io.containerd.runc.v2"), so the
# rcrun shim gets SystemdCgroup from --runtime-config-path.
# With containerd's runc shim (runc, rcrun-runc-shim) the killed process is
# a child and the init lingers (see SD_OOM_LINGER); the rcrun shim gets the
# init itself OOM-killed.
sd_ctr_oom() { sd_oom_rounds sd_ctr_oom_once "$1"; }
sd_ctr_oom_once() {
	local shim=io.containerd.$1.v2 id ns=rcrun-sd rootfs evlog rc epid cpid seen i unit pid extra=()
	local dd='/bin/dd if=/dev/zero of=/dev/null bs=200M count=1'
	local cmd="sleep 3; $dd; st=\$?; sleep $SD_OOM_LINGER; exit \$st"
	if [[ $1 == rcrun-runc-shim ]]; then
		shim=io.containerd.runc.v2
		extra=(--runc-binary "$SD_RCRUN" --runc-systemd-cgroup)
	elif [[ $1 == rcrun ]]; then
		cmd="sleep 3; exec $dd"
		# ctr sends runc's options only to io.containerd.runc.v2; any other
		# shim gets runtimeoptions' ConfigPath, a TOML file with runc's
		# option names (what CRI sends as ConfigBody from a runtime's
		# options table).
		printf 'SystemdCgroup = true\n' >"$BATS_TEST_TMPDIR/rcrun-shim.toml"
		extra=(--runtime-config-path "$BATS_TEST_TMPDIR/rcrun-shim.toml")
	else
		extra=(--runc-systemd-cgroup)
	fi
	id=sd-ctr-$1-$RCRUN_TEST_TAG
	unit=sdtest-$id.scope
	rootfs=$BATS_TEST_TMPDIR/rootfs
	rm -rf "$rootfs"
	cp -a "$(make_rootfs)" "$rootfs" || return 1
	evlog=$BATS_TEST_TMPDIR/events
	ctr -n "$ns" events >"$evlog" 2>&1 &
	epid=$!
	sleep 1
	rc=0
	# A few seconds before the OOM, to see the scope: without SystemdCgroup
	# reaching the runtime the slice-form path is a plain cgroupfs name and
	# no unit ever exists.
	timeout -k 5 "$SD_T" ctr -n "$ns" run --rm --runtime "$shim" "${extra[@]}" --cgroup "system.slice:sdtest:$id" \
		--memory-limit 134217728 --rootfs "$rootfs" "$id" \
		/bin/sh -c "$cmd" >"$BATS_TEST_TMPDIR/ctr.out" 2>&1 &
	cpid=$!
	seen=
	for ((i = 0; i < 300; i++)); do
		[[ $(sd_prop "$unit" ActiveState) == active ]] && { seen=1; break; }
		kill -0 "$cpid" 2>/dev/null || break
		sleep 0.2
	done
	# What the shim loaded for its OOM watch when create returned.
	pid=$(ctr -n "$ns" task ls 2>/dev/null | awk -v id="$id" '$1 == id { print $2 }')
	if [[ -n $seen && -n $pid && -e /proc/$pid ]]; then
		sd_init_in_unit "$pid" "/system.slice/$unit" || { kill -9 "$pid"; wait "$cpid"; return 1; }
	fi
	wait "$cpid" || rc=$?
	sleep 1
	kill "$epid" 2>/dev/null || true
	wait "$epid" 2>/dev/null || true
	if [[ $rc -ne 137 ]]; then
		echo "ctr run: exit $rc (want 137): $(cat "$BATS_TEST_TMPDIR/ctr.out")" >&2
		ctr -n "$ns" task delete -f "$id" >/dev/null 2>&1
		ctr -n "$ns" container delete "$id" >/dev/null 2>&1
		return 1
	fi
	[[ -n $seen ]] || { echo "$unit was never active while the container ran: the systemd driver was not used" >&2; return 1; }
	grep -q "/tasks/oom.*$id" "$evlog" || { echo "no /tasks/oom event for $id: $(cat "$evlog")" >&2; return 1; }
	sd_unit_gone "$unit" "/system.slice/$unit"
}

sd_podman_oom() {
	local rt rc=0 mgr
	if [[ $1 == rcrun ]]; then rt=$SD_RCRUN; else rt=runc; fi
	mgr=$(podman info --format '{{.Host.CgroupManager}}')
	assert_eq "podman cgroup manager" systemd "$mgr" || return 1
	podman image exists "$SD_IMAGE" ||
		podman import "$(dirname "$(make_rootfs)")/rootfs.tar" "$SD_IMAGE" >/dev/null || return 1
	timeout -k 5 "$SD_T" podman --runtime "$rt" run --rm -m 128m --network none "$SD_IMAGE" \
		dd if=/dev/zero of=/dev/null bs=200M count=1 >"$BATS_TEST_TMPDIR/podman.out" 2>&1 || rc=$?
	[[ $rc -eq 137 ]] || { echo "podman run: exit $rc (want 137): $(cat "$BATS_TEST_TMPDIR/podman.out")" >&2; return 1; }
}

# The runtime alone: --systemd-cgroup, cgroupsPath system.slice:sdtest:<id>.
sd_direct() {
	local bin id unit cg root=$BATS_TEST_TMPDIR/state
	bin=$(sd_bin "$1")
	id=$(ctr_id "sd-$1")
	unit=sdtest-$id.scope
	make_bundle "$BATS_TEST_TMPDIR/$id" '.linux.cgroupsPath = "system.slice:sdtest:" + $id
		| .linux.resources = {memory: {limit: 134217728}, cpu: {quota: 50000, period: 100000}, pids: {limit: 42}}' || return 1
	timeout -k 5 "$SD_T" "$bin" --root "$root" --systemd-cgroup run -d --bundle "$BATS_TEST_TMPDIR/$id" "$id" </dev/null >/dev/null 2>"$BATS_TEST_TMPDIR/err" ||
		{ echo "$bin --systemd-cgroup run: $(cat "$BATS_TEST_TMPDIR/err")" >&2; return 1; }
	cg=$(sd_prop "$unit" ControlGroup)
	assert_eq "$unit ControlGroup" "/system.slice/$unit" "$cg" || return 1
	assert_eq "$unit ActiveState" active "$(sd_prop "$unit" ActiveState)" || return 1
	assert_eq "$unit $(sd_memlimit_prop)" 134217728 "$(sd_prop "$unit" "$(sd_memlimit_prop)")" || return 1
	assert_eq "$unit TasksMax" 42 "$(sd_prop "$unit" TasksMax)" || return 1
	assert_eq "$unit CPUQuotaPerSecUSec" 500ms "$(sd_prop "$unit" CPUQuotaPerSecUSec)" || return 1
	assert_eq "$(sd_memlimit_file)" 134217728 "$(cat "$(sd_cgfile "$cg" memory "$(sd_memlimit_file)")")" || return 1
	assert_eq pids.max 42 "$(cat "$(sd_cgfile "$cg" pids pids.max)")" || return 1
	# The container's init is in the scope.
	local pid
	pid=$("$bin" --root "$root" state "$id" | jq -r .pid)
	grep -q "$unit" "/proc/$pid/cgroup" || { echo "init $pid not in $unit: $(cat "/proc/$pid/cgroup")" >&2; return 1; }
	"$bin" --root "$root" kill "$id" KILL || return 1
	local i
	for ((i = 0; i < 100; i++)); do
		[[ $("$bin" --root "$root" state "$id" 2>/dev/null | jq -r .status) == stopped ]] && break
		sleep 0.1
	done
	"$bin" --root "$root" delete "$id" || return 1
	sd_unit_gone "$unit" "$cg"
}

# --------------------------------------------------------------- tests ----
@test "systemd docker rcrun: -m 128m dd bs=200M -> 137, OOMKilled, init in the scope, memory limit 128MiB" { sd_docker_oom rcrun; }
@test "systemd docker runc: -m 128m dd bs=200M -> 137, OOMKilled, init in the scope, memory limit 128MiB" { sd_docker_oom runc; }
@test "systemd docker rcrun: update -m/--cpus/--pids-limit reach the unit and the files" { sd_docker_update rcrun; }
@test "systemd docker runc: update -m/--cpus/--pids-limit reach the unit and the files" { sd_docker_update runc; }
@test "systemd docker rcrun: N x run --rm leaves no docker-*.scope unit or cgroup" { sd_docker_churn rcrun; }
@test "systemd docker runc: N x run --rm leaves no docker-*.scope unit or cgroup" { sd_docker_churn runc; }
@test "systemd ctr rcrun: io.containerd.rcrun.v2, SystemdCgroup (--runtime-config-path), init OOM -> 137 + /tasks/oom" { sd_ctr_oom rcrun; }
@test "systemd ctr runc: io.containerd.runc.v2, SystemdCgroup, child OOM -> 137 + /tasks/oom" { sd_ctr_oom runc; }
@test "systemd ctr rcrun: io.containerd.runc.v2 --runc-binary rcrun, SystemdCgroup, child OOM -> 137 + /tasks/oom" { sd_ctr_oom rcrun-runc-shim; }
@test "systemd podman rcrun: --runtime rcrun run -m 128m dd -> 137 (systemd cgroup manager)" { sd_podman_oom rcrun; }
@test "systemd podman runc: --runtime runc run -m 128m dd -> 137 (systemd cgroup manager)" { sd_podman_oom runc; }
@test "systemd direct rcrun: --systemd-cgroup: unit limits read back, delete stops the unit" { sd_direct rcrun; }
@test "systemd direct runc: --systemd-cgroup: unit limits read back, delete stops the unit" { sd_direct runc; }
