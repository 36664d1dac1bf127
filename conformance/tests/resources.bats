#!/usr/bin/env bats
# linux.resources: every field is applied by RUNTIME and read back from the
# cgroup files on the host AND from inside the container (exec cat of its
# own /sys/fs/cgroup view, where the container mounts the hierarchy); the
# same spec runs with REF_RUNTIME; both must equal the expected value and
# each other.  Plus `update` and OOM kills.

bats_require_minimum_version 1.5.0
load ../lib/common

setup_file() { suite_setup_file; }
teardown_file() { suite_teardown_file; }
setup() { suite_setup; }
teardown() { suite_teardown; }

MiB=1048576

# need KEY...: skip unless this layout has every KEY under the test parent.
need() {
	local k cf
	for k in "$@"; do
		if ! cg_has "$k"; then
			cf=$(cg_logical "$k" 2>/dev/null) || cf="(no file for $k)"
			skip "$CG_LAYOUT layout: $k not available here ($cf)"
		fi
	done
}

# res_check NAME RESOURCES_JSON KEY=SPEC[,EXTRA]...
#   Optional: RES_GAP=<feature> (lib/runtime.bash runtime_gap): RUNTIME with
#   that gap -> skip; REF_RUNTIME with it -> only RUNTIME is checked.
#   RES_ARGS=<json array> overrides the process args.
res_check() {
	local name=$1 res=$2 which id kv key spec extra exp host inside cf rc=0
	shift 2
	local -A got=()
	local whiches=(rt ref)
	if [[ -n ${RES_GAP:-} ]]; then
		skip_if_runtime_gap "$RES_GAP"
		if runtime_gap "$REF_RUNTIME" "$RES_GAP"; then
			note "REF_RUNTIME has known limitation '$RES_GAP': checking RUNTIME against the expected values only"
			whiches=(rt)
		fi
	fi
	for which in "${whiches[@]}"; do
		id=$(ctr_id "$name-$which")
		make_bundle "$BATS_TEST_TMPDIR/$id" ".linux.resources += $res | .process.args = ${RES_ARGS:-.process.args}"
		ctr_run_d "$which" "$id"
		for kv in "$@"; do
			key=${kv%%=*} spec=${kv#*=} extra=""
			[[ $spec == *,* ]] && { extra=${spec#*,}; spec=${spec%%,*}; }
			exp=$(cg_expect "$key" "$spec" "$extra")
			cf=$(cg_logical "$key")
			host=$(cg_value "$CG_PARENT/$id" "$key")
			echo "$which $key ($cf): expected '$exp' host '$host'"
			if [[ $host != "$exp" ]]; then
				echo "MISMATCH: $(basename "$(rtbin "$which")") $key ($cf) on the host: expected '$exp', got '$host'"
				rc=1
			fi
			if cg_inside_expected "${cf%% *}"; then
				inside=$(cg_value_inside "$which" "$id" "$key") || inside="<unreadable>"
				echo "$which $key inside: '$inside'"
				if [[ $inside != "$exp" ]]; then
					echo "MISMATCH: $(basename "$(rtbin "$which")") $key ($cf) inside the container: expected '$exp', got '$inside'"
					rc=1
				fi
			else
				echo "$which $key: not visible inside the container on $CG_LAYOUT, host value only"
			fi
			got[$which,$key]=$host
		done
		ctr_kill_delete "$which" "$id"
	done
	if [[ ${#whiches[@]} -eq 2 ]]; then
		for kv in "$@"; do
			key=${kv%%=*}
			if [[ ${got[rt,$key]} != "${got[ref,$key]}" ]]; then
				echo "MISMATCH RUNTIME vs REF_RUNTIME for $key: '${got[rt,$key]}' vs '${got[ref,$key]}'"
				rc=1
			fi
		done
	fi
	return $rc
}

# ---------------------------------------------------------------- memory ---

@test "memory.limit = 128MiB" {
	need memory.limit
	res_check memlimit "{\"memory\":{\"limit\":$((128 * MiB))}}" memory.limit=$((128 * MiB))
}

@test "memory.limit = -1 (unlimited)" {
	need memory.limit
	res_check memunlim '{"memory":{"limit":-1}}' memory.limit=-1
}

@test "memory.reservation = 64MiB" {
	need memory.reservation
	res_check memres "{\"memory\":{\"limit\":$((128 * MiB)),\"reservation\":$((64 * MiB))}}" \
		memory.limit=$((128 * MiB)) memory.reservation=$((64 * MiB))
}

@test "memory.swap = 256MiB (memory+swap) with limit 128MiB" {
	need memory.limit memory.swap
	res_check memswap "{\"memory\":{\"limit\":$((128 * MiB)),\"swap\":$((256 * MiB))}}" \
		memory.limit=$((128 * MiB)) memory.swap=$((256 * MiB)),$((128 * MiB))
}

@test "memory.swappiness = 10" {
	need memory.swappiness
	res_check swappy '{"memory":{"swappiness":10}}' memory.swappiness=10
}

@test "memory.disableOOMKiller = true" {
	need memory.oom_kill_disable
	res_check nooom "{\"memory\":{\"limit\":$((128 * MiB)),\"disableOOMKiller\":true}}" memory.oom_kill_disable=1
}

# ------------------------------------------------------------------- cpu ---

@test "cpu.shares = 512" {
	need cpu.shares
	res_check shares '{"cpu":{"shares":512}}' cpu.shares=512
}

@test "cpu.quota = 30000, cpu.period = 60000" {
	need cpu.quota cpu.period
	res_check quota '{"cpu":{"quota":30000,"period":60000}}' cpu.quota=30000 cpu.period=60000
}

@test "cpu.cpus / cpu.mems" {
	need cpuset.cpus cpuset.mems
	local cpu=0
	[[ $(nproc) -gt 1 ]] && cpu=1
	res_check cpuset "{\"cpu\":{\"cpus\":\"$cpu\",\"mems\":\"0\"}}" cpuset.cpus=$cpu cpuset.mems=0
}

@test "cpu.idle = 1" {
	need cpu.idle
	RES_GAP=cpu-idle res_check idle '{"cpu":{"idle":1}}' cpu.idle=1
}

# ------------------------------------------------------------------ pids ---

@test "pids.limit = 42" {
	need pids.limit
	res_check pids '{"pids":{"limit":42}}' pids.limit=42
}

# --------------------------------------------------------------- blockIO ---

@test "blockIO throttle read/write bps/iops on the disk of /" {
	local dev
	dev=$(block_device_for_throttle) || skip "no block device found for throttling"
	need "blkio.read_bps:$dev"
	local maj=${dev%:*} min=${dev#*:}
	res_check throttle "{\"blockIO\":{
		\"throttleReadBpsDevice\":[{\"major\":$maj,\"minor\":$min,\"rate\":$MiB}],
		\"throttleWriteBpsDevice\":[{\"major\":$maj,\"minor\":$min,\"rate\":$((2 * MiB))}],
		\"throttleReadIOPSDevice\":[{\"major\":$maj,\"minor\":$min,\"rate\":100}],
		\"throttleWriteIOPSDevice\":[{\"major\":$maj,\"minor\":$min,\"rate\":200}]}}" \
		"blkio.read_bps:$dev=$MiB" "blkio.write_bps:$dev=$((2 * MiB))" \
		"blkio.read_iops:$dev=100" "blkio.write_iops:$dev=200"
}

@test "blockIO weight = 300 (only where a weight file exists)" {
	need blkio.weight
	res_check bweight '{"blockIO":{"weight":300}}' blkio.weight=300
}

# -------------------------------------------------------------- hugetlb ---

hugepage_size() { # first supported huge page size as OCI/cgroup name, e.g. 2MB
	local d kb
	for d in /sys/kernel/mm/hugepages/hugepages-*kB; do
		[[ -d $d ]] || continue
		kb=${d##*hugepages-}
		kb=${kb%kB}
		if ((kb >= 1048576)); then echo "$((kb / 1048576))GB"; elif ((kb >= 1024)); then echo "$((kb / 1024))MB"; else echo "${kb}KB"; fi
		return 0
	done
	return 1
}

@test "hugepageLimits (where hugetlb is available to the test parent)" {
	local size
	size=$(hugepage_size) || skip "no huge page sizes in /sys/kernel/mm/hugepages"
	if ! cg_has "hugetlb.limit:$size"; then
		skip "hugetlb not usable under the test parent ($(cg_ctrl_version hugetlb | sed 's/^$/not mounted/; s/^1$/v1/; s/^2$/cgroup2, not delegated to the parent: its root subtree_control lacks hugetlb and we do not touch the root/'))"
	fi
	local pg=$((${size%[MG]B} * MiB))
	[[ $size == *GB ]] && pg=$((pg * 1024))
	RES_GAP=hugetlb-unified-hybrid res_check huge "{\"hugepageLimits\":[{\"pageSize\":\"$size\",\"limit\":$((2 * pg))}]}" \
		"hugetlb.limit:$size=$((2 * pg))"
}

sc_hugetlb_unavailable() {
	local id size
	size=$(hugepage_size)
	id=$(ctr_id "nohuge-$1")
	make_bundle "$BATS_TEST_TMPDIR/$id" ".linux.resources.hugepageLimits = [{\"pageSize\":\"$size\",\"limit\":$((4 * MiB))}]"
	ctr_create "$1" "$id"
	SC_RC=$RC SC_ERR=$ERR
	ctr_force_delete "$1" "$id"
}

@test "hugepageLimits while hugetlb is NOT usable: create fails like REF, nothing left" {
	local size
	size=$(hugepage_size) || skip "no huge page sizes"
	cg_has "hugetlb.limit:$size" && skip "hugetlb is usable here (see the previous test)"
	compare_failure sc_hugetlb_unavailable
}

# -------------------------------------------------------------- unified ---

@test "unified (cgroup2 key/values)" {
	case $CG_LAYOUT in
	v2)
		need unified:pids.max unified:memory.high
		res_check unified '{"unified":{"pids.max":"13","memory.high":"104857600"}}' \
			unified:pids.max=13 unified:memory.high=104857600 ;;
	hybrid)
		need unified:cgroup.max.descendants
		RES_GAP=unified-hybrid res_check unified '{"unified":{"cgroup.max.descendants":"7"}}' \
			unified:cgroup.max.descendants=7 ;;
	*) skip "no cgroup2 on $CG_LAYOUT" ;;
	esac
}

sc_unified_on_v1() {
	local id
	id=$(ctr_id "unifv1-$1")
	make_bundle "$BATS_TEST_TMPDIR/$id" '.linux.resources.unified = {"pids.max":"13"}'
	ctr_create "$1" "$id"
	SC_RC=$RC SC_ERR=$ERR
	ctr_force_delete "$1" "$id"
}

@test "unified on a pure v1 host: create fails like REF, nothing left" {
	[[ $CG_LAYOUT == v1 ]] || skip "only on pure cgroup v1 ($CG_LAYOUT here)"
	compare_failure sc_unified_on_v1
}

# --------------------------------------------------------------- update ---

upd_case() { # WHICH: sets UPD_<...> values
	local which=$1 id d
	id=$(ctr_id "upd-$which")
	make_bundle "$BATS_TEST_TMPDIR/$id" ".linux.resources += {\"memory\":{\"limit\":$((128 * MiB))},\"cpu\":{\"quota\":50000,\"period\":100000,\"shares\":1024},\"pids\":{\"limit\":42}}"
	ctr_run_d "$which" "$id" || return 1

	rc_of "$which" update --memory 200m --cpu-quota 30000 --pids-limit 77 "$id"
	[[ $RC -eq 0 ]] || { echo "$which update flags: rc=$RC $ERR" >&2; return 1; }
	UPD[$which,1]="$(cg_value "$CG_PARENT/$id" memory.limit) $(cg_value "$CG_PARENT/$id" cpu.quota) $(cg_value "$CG_PARENT/$id" pids.limit)"

	rc_of_in "$which" '{"memory":{"limit":104857600},"cpu":{"shares":256},"pids":{"limit":55}}' update --resources - "$id"
	[[ $RC -eq 0 ]] || { echo "$which update --resources -: rc=$RC $ERR" >&2; return 1; }
	UPD[$which,2]="$(cg_value "$CG_PARENT/$id" memory.limit) $(cg_value "$CG_PARENT/$id" cpu.shares) $(cg_value "$CG_PARENT/$id" pids.limit) $(cg_value "$CG_PARENT/$id" cpu.quota)"
	# inside view follows the update
	if cg_inside_expected pids; then
		UPD[$which,3]=$(cg_value_inside "$which" "$id" pids.limit)
	fi
	ctr_kill_delete "$which" "$id"
}

@test "update: --memory/--cpu-quota/--pids-limit and --resources - read back" {
	need memory.limit cpu.quota cpu.shares pids.limit
	declare -gA UPD=()
	upd_case rt
	upd_case ref
	local exp1 exp2
	exp1="$(cg_expect memory.limit $((200 * MiB))) 30000 77"
	# --resources - replaces only what it names: quota stays 30000
	exp2="$(cg_expect memory.limit 104857600) $(cg_expect cpu.shares 256) 55 30000"
	assert_eq "RUNTIME after update flags (memory quota pids)" "$exp1" "${UPD[rt,1]}"
	assert_eq "RUNTIME after update --resources - (memory shares pids quota)" "$exp2" "${UPD[rt,2]}"
	assert_eq "REF after update flags" "$exp1" "${UPD[ref,1]}"
	assert_eq "REF after update --resources -" "$exp2" "${UPD[ref,2]}"
	if cg_inside_expected pids; then
		assert_eq "pids.max inside after update" 55 "${UPD[rt,3]}"
	fi
}

# ------------------------------------------------------------------ OOM ---

oom_spec() { # 128MiB and no swap (where swap accounting exists)
	if cg_has memory.swap; then
		echo "{\"memory\":{\"limit\":$((128 * MiB)),\"swap\":$((128 * MiB))}}"
	else
		echo "{\"memory\":{\"limit\":$((128 * MiB))}}"
	fi
}

sc_oom_run() {
	local id
	id=$(ctr_id "oomrun-$1")
	make_bundle "$BATS_TEST_TMPDIR/$id" ".linux.resources += $(oom_spec) | .process.args = [\"dd\",\"if=/dev/zero\",\"of=/dev/null\",\"bs=200M\",\"count=1\"]"
	rc_of "$1" run --bundle "$BATS_TEST_TMPDIR/$id" "$id"
	SC_RC=$RC SC_ERR=$ERR
	ctr_force_delete "$1" "$id"
}

@test "OOM: run of dd bs=200M under a 128MiB limit exits 137, like REF" {
	need memory.limit
	compare_failure sc_oom_run
	assert_eq "run exit status" 137 "$SC_RC_RT"
}

@test "OOM: the kill is accounted in the container's cgroup (oom_kill counter)" {
	need memory.limit memory.oom_kill
	local which id n
	for which in rt ref; do
		id=$(ctr_id "oomcnt-$which")
		make_bundle "$BATS_TEST_TMPDIR/$id" ".linux.resources += $(oom_spec) | .process.args = [\"dd\",\"if=/dev/zero\",\"of=/dev/null\",\"bs=200M\",\"count=1\"]"
		ctr_create "$which" "$id"
		[[ $RC -eq 0 ]] || { echo "create: $ERR"; false; }
		rc_of "$which" start "$id"
		[[ $RC -eq 0 ]] || { echo "start: $ERR"; false; }
		wait_status "$which" "$id" stopped
		n=$(cg_value "$CG_PARENT/$id" memory.oom_kill)
		echo "$which: oom_kill=$n"
		[[ $n -ge 1 ]] || { echo "$(rtbin "$which"): oom_kill counter is '$n'"; false; }
		rc_of "$which" delete "$id"
		[[ $RC -eq 0 ]]
	done
}
