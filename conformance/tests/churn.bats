#!/usr/bin/env bats
# Churn: many create/start/delete cycles with memory (and pids) limits, then
# everything must be back to the baseline: cgroup directories (ours, and the
# host's count), mounts, state entries, the caller's fds, processes - and the
# kernel's memory cgroup count must not creep up (the classic "mkdir ... no
# space left on device" after leaked or kmem-pinned memory cgroups).
#
#   RCRUN_TEST_CHURN_CYCLES   cycles (default 500; docs/reliability.md: 10000)
#
# Figures are printed as TAP comments ("# churn: ...").

bats_require_minimum_version 1.5.0
load ../lib/common
load ../lib/reliability

setup_file() { suite_setup_file; }
teardown_file() { suite_teardown_file; }
setup() { suite_setup; }
teardown() { suite_teardown; }

CHURN_CYCLES=${RCRUN_TEST_CHURN_CYCLES:-500}

# memcg_count: memory cgroups the kernel holds (live + dying).  v1: the
# num_cgroups column of /proc/cgroups; v2: live + nr_dying_descendants of
# the root.
memcg_count() {
	local v1 v2=0
	v1=$(awk '$1 == "memory" { print $3 }' /proc/cgroups)
	if [[ -z ${CG_V1[memory]:-} && -n $CG_V2 && -r $CG_V2/cgroup.stat ]]; then
		v2=$(awk '{ s += $2 } END { print s }' "$CG_V2/cgroup.stat")
		echo "$v2"
		return
	fi
	echo "${v1:-0}"
}

# churn_snapshot: "key value" lines; see the header.
churn_snapshot() {
	echo "our_cgroup_dirs $(find "${CG_HIERS[@]}" -mindepth 1 -type d -path "*$RCRUN_TEST_TAG*" 2>/dev/null | grep -c '')"
	echo "host_cgroup_dirs $(find "${CG_HIERS[@]}" -mindepth 1 -type d 2>/dev/null | grep -c '')"
	echo "memcgs $(memcg_count)"
	echo "mounts $(grep -c '' /proc/self/mountinfo)"
	echo "state_entries $(find "$RT_ROOT" -mindepth 1 -maxdepth 1 | grep -c '')"
	echo "caller_fds $(find /proc/$$/fd -mindepth 1 -maxdepth 1 | grep -c '')"
	echo "our_processes $(grep -laF -e "$RCRUN_TEST_TAG" /proc/[0-9]*/cgroup 2>/dev/null | grep -c '')"
	echo "host_processes $(find /proc -mindepth 1 -maxdepth 1 -name '[0-9]*' | grep -c '')"
}

snap_get() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }

@test "churn: $CHURN_CYCLES create/start/delete cycles with memory limits leave nothing" {
	[[ $CHURN_CYCLES -gt 0 ]] || skip "RCRUN_TEST_CHURN_CYCLES=0"
	id=$(ctr_id churn)
	b=$BATS_TEST_TMPDIR/$id
	# a container that allocates a little (so its memcg is charged) and waits
	make_bundle "$b" '.linux.resources.memory = {"limit": 33554432, "swap": 33554432} | .linux.resources.pids = {"limit": 32} | .process.args = ["sh", "-c", "x=$(head -c 262144 /dev/zero | tr \"\\0\" a); sleep 600"]'
	churn_snapshot >"$BATS_TEST_TMPDIR/before"
	local c start=$SECONDS fails=0
	for ((c = 1; c <= CHURN_CYCLES; c++)); do
		if ! rt create --bundle "$b" "$id" </dev/null >/dev/null 2>"$BATS_TEST_TMPDIR/err" 3>&-; then
			echo "cycle $c: create failed: $(cat "$BATS_TEST_TMPDIR/err")"
			fails=1
			break
		fi
		if ! rt start "$id" </dev/null >/dev/null 2>"$BATS_TEST_TMPDIR/err" 3>&-; then
			echo "cycle $c: start failed: $(cat "$BATS_TEST_TMPDIR/err")"
			fails=1
			break
		fi
		if ! rt delete --force "$id" </dev/null >/dev/null 2>"$BATS_TEST_TMPDIR/err" 3>&-; then
			echo "cycle $c: delete failed: $(cat "$BATS_TEST_TMPDIR/err")"
			fails=1
			break
		fi
		if ((c % 1000 == 0)); then
			note "churn: $c cycles, $((SECONDS - start))s, memcgs $(memcg_count)"
		fi
	done
	local secs=$((SECONDS - start))
	ctr_force_delete rt "$id"
	[ "$fails" -eq 0 ]
	# dying memory cgroups are freed asynchronously: give the kernel a moment
	sleep 2
	churn_snapshot >"$BATS_TEST_TMPDIR/after"
	note "churn: $CHURN_CYCLES cycles in ${secs}s ($((secs * 1000 / CHURN_CYCLES)) ms/cycle)"
	local k bv av rc=0
	for k in our_cgroup_dirs host_cgroup_dirs memcgs mounts state_entries caller_fds our_processes host_processes; do
		bv=$(snap_get "$BATS_TEST_TMPDIR/before" "$k")
		av=$(snap_get "$BATS_TEST_TMPDIR/after" "$k")
		note "churn: $k before=$bv after=$av"
	done
	# exact for what is ours
	for k in our_cgroup_dirs state_entries caller_fds; do
		assert_eq "$k after $CHURN_CYCLES cycles" "$(snap_get "$BATS_TEST_TMPDIR/before" "$k")" "$(snap_get "$BATS_TEST_TMPDIR/after" "$k")" || rc=1
	done
	# a process of an earlier test may still be exiting at the first snapshot:
	# fewer afterwards is fine, more is a leak
	bv=$(snap_get "$BATS_TEST_TMPDIR/before" our_processes)
	av=$(snap_get "$BATS_TEST_TMPDIR/after" our_processes)
	[[ $av -le $bv ]] || { echo "our_processes after $CHURN_CYCLES cycles: $av, before: $bv"; rc=1; }
	# host-wide counts are exact only on a dedicated machine (CI)
	if [[ ${RCRUN_TEST_STRICT_MOUNTS:-0} == 1 ]]; then
		for k in host_cgroup_dirs mounts; do
			assert_eq "$k after $CHURN_CYCLES cycles" "$(snap_get "$BATS_TEST_TMPDIR/before" "$k")" "$(snap_get "$BATS_TEST_TMPDIR/after" "$k")" || rc=1
		done
	fi
	# memory cgroups: removed ones may linger while page cache is charged to
	# them, but they must not accumulate with the cycle count (kmem
	# accounting, which pins them, is never enabled)
	bv=$(snap_get "$BATS_TEST_TMPDIR/before" memcgs)
	av=$(snap_get "$BATS_TEST_TMPDIR/after" memcgs)
	if ((av - bv > 20 + CHURN_CYCLES / 100)); then
		echo "memory cgroups grew from $bv to $av over $CHURN_CYCLES cycles"
		rc=1
	fi
	return $rc
}

@test "kernel memory accounting is never turned on (memory.kmem.limit_in_bytes untouched)" {
	[[ -n ${CG_V1[memory]:-} ]] || skip "no cgroup v1 memory controller: kmem limits do not exist on v2"
	id=$(ctr_id kmem)
	b=$BATS_TEST_TMPDIR/$id
	# the spec even asks for it: rcrun must ignore it (with a warning)
	make_bundle "$b" '.linux.resources.memory = {"limit": 67108864, "kernel": 33554432, "kernelTCP": 16777216}'
	ctr_create rt "$id"
	[ "$RC" -eq 0 ] || { echo "create: $ERR"; false; }
	d=${CG_V1[memory]}$CG_PARENT/$id
	for f in memory.kmem.limit_in_bytes memory.kmem.tcp.limit_in_bytes; do
		[[ -e $d/$f ]] || continue
		v=$(cat "$d/$f")
		note "$f = $v"
		# unlimited: the page-counter max (PAGE_COUNTER_MAX * page size)
		[ "$v" -ge 9223372036854000000 ] || { echo "$f was set to $v"; false; }
	done
	ctr_kill_delete rt "$id"
}

@test "cgroup mkdir ENOSPC gives one line naming the path and the likely cause" {
	runtime_is_runc "$RUNTIME" && skip "rcrun's message"
	# make the kernel refuse the container's cgroup: cap the number of
	# descendants of its parent at 0 (cgroup v2 gives EAGAIN), or on v1 fill
	# nothing: the unit test of cgroups::error covers ENOSPC's wording
	[[ -n $CG_V2 && -w $CG_V2/cgroup.subtree_control ]] || skip "no writable cgroup2 mount"
	id=$(ctr_id enospc)
	b=$BATS_TEST_TMPDIR/$id
	make_bundle "$b"
	parent=$CG_V2$CG_PARENT
	[ -d "$parent" ]
	echo 0 >"$parent/cgroup.max.descendants"
	ctr_create rt "$id"
	echo max >"$parent/cgroup.max.descendants"
	[ "$RC" -ne 0 ]
	note "create: $ERR"
	assert_one_line_error "$ERR" "$CG_PARENT/$id" 'max.descendants|max.depth'
	nothing_left_of rt "$id"
}
