# shellcheck shell=bash
# Leak accounting: what a test may leave behind, checked after EVERY test.
#
# A snapshot lists, one per line:
#   cg <dir>      cgroup DIRECTORIES (not /proc/cgroups num_cgroups, which
#                 counts dying memcgs): every dir whose path contains the run
#                 tag, in every hierarchy (test parents, docker's parent, ids),
#                 plus everything below our own cgroup (where a relative
#                 cgroupsPath would land) when that is not the root
#   mnt <mountpoint> <fstype> <source> <root>   /proc/self/mountinfo lines
#                 (only ours unless RCRUN_TEST_STRICT_MOUNTS=1, see leak-snapshot.sh)
#   state <root>/<entry>                 entries under the runtimes' --root
#                                        dirs (and docker's runtime roots)
#   proc <pid> <comm>                    processes whose root, cwd, command
#                                        line or cgroup mention the run's temp
#                                        dir / tag
# Anything new after the test is a leak; anything that disappeared (except
# processes) is reported too (a runtime must not remove what it did not make).

_leak_own_cgroups() {
	# our own cgroup per hierarchy, when not the root
	local c p
	for c in "${!CG_V1[@]}"; do
		p=$(cg_pid_path $$ "$c")
		[[ -n $p && $p != / ]] && echo "${CG_V1[$c]}$p"
	done
	if [[ -n $CG_V2 ]]; then
		p=$(awk -F: '$1=="0" && $2=="" { print $3; exit }' /proc/$$/cgroup)
		[[ -n $p && $p != / ]] && echo "$CG_V2$p"
	fi
	return 0
}

leak_snapshot() {
	if [[ -z ${LEAK_OWN_CG+x} ]]; then
		LEAK_OWN_CG=$(_leak_own_cgroups | tr '\n' ' ')
		export LEAK_OWN_CG
	fi
	LEAK_CG_HIERS="${CG_HIERS[*]}" LEAK_STATE_DIRS="$RT_ROOT $REF_ROOT ${LEAK_EXTRA_STATE_DIRS:-}" \
		bash "$CONF_LIB/leak-snapshot.sh" | sort -u
}

# leak_check BEFORE_FILE: compare with a new snapshot; prints the leaks and
# fails if there are any.
leak_check() {
	local before=$1 after="$1.after" diffs i
	# processes may take a moment to be reaped after delete; retry briefly
	for i in 1 2 3 4 5 6 7 8 9 10; do
		leak_snapshot >"$after"
		diffs=$(diff "$before" "$after" | grep -E '^[<>] ' | grep -vE '^< proc ' || true)
		[[ -z $diffs ]] && return 0
		sleep 0.2
	done
	echo "LEAK CHECK FAILED (> = left behind, < = removed by the test):"
	echo "$diffs" | sed 's/^/    /'
	return 1
}

# leak_cleanup BEFORE_FILE: remove whatever the test left (best effort), so
# one leak does not cascade into the following tests.
leak_cleanup() {
	local before=$1 id which d p
	for which in rt ref; do
		d=$(rtroot "$which")
		[[ -d $d ]] || continue
		for id in $(ls -A "$d" 2>/dev/null); do
			ctr_force_delete "$which" "$id"
		done
	done
	local m
	for m in "${CG_HIERS[@]}"; do
		for d in "$m$CG_PARENT"/*/; do
			[[ -d $d ]] && cg_kill_and_remove "${d%/}"
		done
	done
	# stray processes that were not in the snapshot
	leak_snapshot >"$before.now"
	diff "$before" "$before.now" | sed -n 's/^> proc \([0-9]*\) .*/\1/p' | while read -r p; do
		kill -9 "$p" 2>/dev/null
	done
	# mounts under our temp dir (never rm -rf across a mount)
	diff "$before" "$before.now" | sed -n 's/^> mnt \([^ ]*\) .*/\1/p' | sort -r | while read -r d; do
		[[ $d == "$RCRUN_TEST_TMP"* || $d == "$BATS_RUN_TMPDIR"* ]] && umount -l "$d" 2>/dev/null
	done
	for which in rt ref; do
		d=$(rtroot "$which")
		[[ -d $d ]] && find "$d" -mindepth 1 -maxdepth 1 -exec rm -rf {} + 2>/dev/null
	done
	diff "$before" "$before.now" | sed -n 's/^> cg //p' | sort -r | while read -r d; do
		cg_kill_and_remove "$d"
	done
	return 0
}

# umount_under DIR: lazily unmount everything mounted at or below DIR.
umount_under() {
	local dir=$1 mp
	awk '{ print $5 }' /proc/self/mountinfo | grep -F "$dir" | sort -r | while read -r mp; do
		[[ $mp == "$dir" || $mp == "$dir"/* ]] && umount -l "$mp" 2>/dev/null
	done
	return 0
}
