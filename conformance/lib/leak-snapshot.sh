#!/usr/bin/env bash
# Print a leak snapshot (see lib/leak.bash).  A separate script, so bats'
# DEBUG trap does not slow it down and its own ancestors (bats) are known.
# Environment: RCRUN_TEST_TMP RCRUN_TEST_TAG LEAK_CG_HIERS LEAK_OWN_CG
#              LEAK_STATE_DIRS (space-separated lists)
set -u
tmp=$RCRUN_TEST_TMP
tag=$RCRUN_TEST_TAG

# cgroup directories: tag-named anywhere, and below our own cgroups
read -ra hiers <<<"${LEAK_CG_HIERS:-}"
read -ra own <<<"${LEAK_OWN_CG:-}"
expr=(-path "*${tag}*")
for d in "${own[@]}"; do
	expr+=(-o -path "$d/*")
done
if [[ ${#hiers[@]} -gt 0 ]]; then
	find "${hiers[@]}" -mindepth 1 -type d \( "${expr[@]}" \) -printf 'cg %p\n' 2>/dev/null
fi

# mounts: "mountpoint fstype source root".  Other sessions on the same host
# mount things concurrently, so by default only mounts that point into our
# scratch dir / carry our tag / sit in a runtime state dir count;
# RCRUN_TEST_STRICT_MOUNTS=1 (CI, dedicated machine) diffs every mountinfo line.
while IFS= read -r line; do
	pre=${line%% - *}
	post=${line#* - }
	read -ra f <<<"$pre"
	read -ra g <<<"$post"
	m="${f[4]} ${g[0]} ${g[1]} ${f[3]}"
	if [[ ${RCRUN_TEST_STRICT_MOUNTS:-0} != 1 ]]; then
		case $m in
		*"$tmp"* | *"rct$tag"* | *"rcrun-test-$tag"* | /run/rcrun* | /run/runc* | /run/crun*) ;;
		*) continue ;;
		esac
	fi
	echo "mnt $m"
done </proc/self/mountinfo

# state dirs
read -ra sd <<<"${LEAK_STATE_DIRS:-}"
for d in "${sd[@]}"; do
	[[ -d $d ]] || continue
	for e in "$d"/* "$d"/.[!.]*; do
		# rcrun's OOM journal is meant to outlive containers (bounded:
		# docs/oom.md); a test that wants it gone removes it itself.
		case ${e##*/} in oom-journal.jsonl | oom-journal.jsonl.1 | oom-journal.lock) continue ;; esac
		[[ -e $e || -L $e ]] && echo "state $e"
	done
done

# processes: root/cwd in the scratch dir or the tag in their names, the
# scratch dir / tag in the command line, or a cgroup of ours; never our own
# ancestors or this script's children.
declare -A skip=()
self=$$
p=$$
while [[ -n $p && $p != 0 ]]; do
	skip[$p]=1
	pp=""
	while read -r k v _; do
		[[ $k == PPid: ]] && { pp=$v; break; }
	done <"/proc/$p/status" 2>/dev/null
	p=$pp
done
{
	find /proc/[0-9]*/root /proc/[0-9]*/cwd -maxdepth 0 \( -lname "$tmp*" -o -lname "*rct${tag}*" \) 2>/dev/null
	# patterns via /dev/fd so that grep's own command line does not match;
	# /proc/PID/cgroup catches container processes (pivot_root'ed: their
	# root link reads "/")
	grep -laF -f <(printf '%s\n' "$tmp" "rct$tag" "rcrun-test-$tag") /proc/[0-9]*/cmdline /proc/[0-9]*/cgroup 2>/dev/null
} | while IFS=/ read -r _ _ pid _; do
	[[ -n ${skip[$pid]:-} ]] && continue
	st="" ppid=""
	read -r _ comm st ppid _ <"/proc/$pid/stat" 2>/dev/null || continue
	[[ $st == Z || $ppid == "$self" ]] && continue
	echo "proc $pid $comm"
done
exit 0
