# shellcheck shell=bash
# cgroup layout detection and per-layout reads.
#
# Layouts (from /proc/self/mountinfo):
#   v2      cgroup2 mounted at /sys/fs/cgroup
#   hybrid  v1 controllers mounted + a cgroup2 mount elsewhere
#           (/sys/fs/cgroup/unified), possibly holding some controllers
#   v1      v1 controllers only
#
# CG_V1[controller]=mountpoint   (controller: cpu, memory, ..., systemd for
#                                 the name=systemd hierarchy)
# CG_V2=mountpoint of cgroup2 ("" if none)
# CG_HIERS=(all distinct hierarchy mountpoints, v1 and v2)
#
# Logical keys (cg_value / cg_expect) hide the v1/v2 file differences:
#   memory.limit memory.reservation memory.swap memory.swappiness
#   memory.oom_kill_disable memory.oom_kill (counter)
#   cpu.shares cpu.quota cpu.period cpu.idle cpuset.cpus cpuset.mems
#   pids.limit blkio.weight freezer.state
#   blkio.read_bps:MAJ:MIN blkio.write_bps:MAJ:MIN blkio.read_iops:MAJ:MIN
#   blkio.write_iops:MAJ:MIN hugetlb.limit:SIZE (SIZE like 2MB)
#   unified:FILE (a file in the cgroup2 hierarchy)

CG_KNOWN_V1="cpu cpuacct cpuset memory devices freezer blkio pids hugetlb net_cls net_prio perf_event rdma misc"

cg_detect() {
	declare -gA CG_V1=()
	CG_V2=""
	CG_HIERS=()
	# cached by a parent process (bats runs every test in a new process)
	if [[ -n ${RCRUN_CG_CACHE:-} ]]; then
		local kvs kv hiers
		IFS='|' read -r CG_LAYOUT CG_V2 kvs CG_V2_ROOT_CTRLS hiers <<<"$RCRUN_CG_CACHE"
		for kv in $kvs; do CG_V1[${kv%%=*}]=${kv#*=}; done
		read -ra CG_HIERS <<<"$hiers"
		return 0
	fi
	local line pre post fstype rest superopts opt mp
	local -a f
	while IFS= read -r line; do
		pre=${line%% - *}
		post=${line#* - }
		fstype=${post%% *}
		[[ $fstype == cgroup || $fstype == cgroup2 ]] || continue
		read -ra f <<<"$pre"
		mp=${f[4]}
		rest=${post#* }        # source superopts
		superopts=${rest#* }
		if [[ $fstype == cgroup2 ]]; then
			[[ -z $CG_V2 || $mp == /sys/fs/cgroup* ]] && CG_V2=$mp
			continue
		fi
		local IFS=,
		for opt in $superopts; do
			case $opt in
			name=systemd) [[ -n ${CG_V1[systemd]:-} ]] || CG_V1[systemd]=$mp ;;
			*) if [[ " $CG_KNOWN_V1 " == *" $opt "* && -z ${CG_V1[$opt]:-} ]]; then CG_V1[$opt]=$mp; fi ;;
			esac
		done
		unset IFS
	done </proc/self/mountinfo
	if [[ $CG_V2 == /sys/fs/cgroup ]]; then
		CG_LAYOUT=v2
	elif [[ ${#CG_V1[@]} -gt 0 && -n $CG_V2 ]]; then
		CG_LAYOUT=hybrid
	elif [[ ${#CG_V1[@]} -gt 0 ]]; then
		CG_LAYOUT=v1
	else
		CG_LAYOUT=none
	fi
	local -A seen=()
	for mp in "${CG_V1[@]}" $CG_V2; do
		[[ -n ${seen[$mp]:-} ]] && continue
		seen[$mp]=1
		CG_HIERS+=("$mp")
	done
	CG_V2_ROOT_CTRLS=""
	[[ -n $CG_V2 && -r $CG_V2/cgroup.controllers ]] && CG_V2_ROOT_CTRLS=$(<"$CG_V2/cgroup.controllers")
	local c kvs=""
	for c in "${!CG_V1[@]}"; do kvs+="$c=${CG_V1[$c]} "; done
	RCRUN_CG_CACHE="$CG_LAYOUT|$CG_V2|$kvs|$CG_V2_ROOT_CTRLS|${CG_HIERS[*]}"
	export RCRUN_CG_CACHE
	return 0
}

# cg_ctrl_version CONTROLLER: 1 if the controller is a v1 mount, 2 if it is
# (or could only be) on the cgroup2 hierarchy, "" if nowhere.
cg_ctrl_version() {
	local c=$1
	[[ $c == io ]] && c=blkio
	if [[ -n ${CG_V1[$c]:-} ]]; then echo 1; return; fi
	[[ $c == blkio ]] && c=io
	if [[ -n $CG_V2 ]]; then
		if [[ $c == unified || " $CG_V2_ROOT_CTRLS " == *" $c "* ]]; then echo 2; return; fi
	fi
	echo ""
}

# cg_mount CONTROLLER: mountpoint holding CONTROLLER (or cgroup2 for
# "unified"); fails if the controller is not available anywhere.
cg_mount() {
	local c=$1
	[[ $c == io ]] && c=blkio
	if [[ -n ${CG_V1[$c]:-} && $c != unified ]]; then echo "${CG_V1[$c]}"; return 0; fi
	[[ $c == blkio ]] && c=io
	if [[ -n $CG_V2 ]] && [[ $c == unified || " $CG_V2_ROOT_CTRLS " == *" $c "* ]]; then
		echo "$CG_V2"
		return 0
	fi
	return 1
}

# cg_dir CONTROLLER CGPATH: host directory of cgroup CGPATH for CONTROLLER.
cg_dir() {
	local m
	m=$(cg_mount "$1") || return 1
	echo "$m$2"
}

# cg_inside_dir CONTROLLER: where the container sees its own cgroup for
# CONTROLLER (runc-style /sys/fs/cgroup mount: v1 controllers at
# /sys/fs/cgroup/<mount basename>, v2 at /sys/fs/cgroup).
cg_inside_dir() {
	local m
	m=$(cg_mount "$1") || return 1
	if [[ $m == /sys/fs/cgroup ]]; then echo /sys/fs/cgroup; else echo "/sys/fs/cgroup/${m#/sys/fs/cgroup/}"; fi
}

# ---------------------------------------------------------------- parent ---
# The suite's own parent cgroup, created in EVERY hierarchy, removed at the
# end.  Containers get cgroupsPath $CG_PARENT/<id>.

test_parent_cgroup_create() {
	local m d c
	for m in "${CG_HIERS[@]}"; do
		d=$m$CG_PARENT
		mkdir -p "$d" || return 1
	done
	# v1 cpuset: a new cgroup starts with empty cpus/mems; fill from the root
	if [[ -n ${CG_V1[cpuset]:-} ]]; then
		m=${CG_V1[cpuset]}
		[[ -s $m$CG_PARENT/cpuset.cpus && $(<"$m$CG_PARENT/cpuset.cpus") != "" ]] ||
			cat "$m/cpuset.cpus" >"$m$CG_PARENT/cpuset.cpus" || return 1
		[[ -n $(<"$m$CG_PARENT/cpuset.mems") ]] ||
			cat "$m/cpuset.mems" >"$m$CG_PARENT/cpuset.mems" || return 1
	fi
	# cgroup2: delegate every controller we were given to our children
	if [[ -n $CG_V2 ]]; then
		d=$CG_V2$CG_PARENT
		for c in $(<"$d/cgroup.controllers"); do
			echo "+$c" >"$d/cgroup.subtree_control" 2>/dev/null || true
		done
	fi
	return 0
}

# cg_available CONTROLLER: usable by containers under the test parent.
cg_available() {
	local c=$1
	[[ $c == io ]] && c=blkio
	if [[ -n ${CG_V1[$c]:-} ]]; then return 0; fi
	[[ $c == unified && -n $CG_V2 ]] && return 0
	[[ $c == blkio ]] && c=io
	[[ -n $CG_V2 && -r $CG_V2$CG_PARENT/cgroup.subtree_control ]] || return 1
	[[ " $(<"$CG_V2$CG_PARENT/cgroup.subtree_control") " == *" $c "* ]]
}

# cg_kill_and_remove DIR: thaw, kill every process, rmdir bottom-up.
cg_kill_and_remove() {
	local top=$1 d p i
	[[ -d $top ]] || return 0
	while IFS= read -r d; do
		[[ -w $d/freezer.state ]] && echo THAWED >"$d/freezer.state" 2>/dev/null
		[[ -w $d/cgroup.freeze ]] && echo 0 >"$d/cgroup.freeze" 2>/dev/null
		if [[ -w $d/cgroup.kill ]]; then echo 1 >"$d/cgroup.kill" 2>/dev/null; fi
		for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	done < <(find "$top" -type d 2>/dev/null)
	for i in $(seq 50); do
		find "$top" -depth -type d -exec rmdir {} + 2>/dev/null
		[[ -d $top ]] || return 0
		sleep 0.1
	done
	return 1
}

test_parent_cgroup_remove() {
	local m ok=0
	for m in "${CG_HIERS[@]}"; do
		cg_kill_and_remove "$m$CG_PARENT" || { echo "# could not remove $m$CG_PARENT" >&2; ok=1; }
	done
	return $ok
}

# --------------------------------------------------------------- reading ---

# cg_read_at CGPATH CONTROLLER FILE: read a cgroup file on the host.
cg_read_at() {
	local d
	d=$(cg_dir "$2" "$1") || { echo "cg_read: controller $2 not available" >&2; return 1; }
	cat "$d/$3"
}

# cg_read CONTROLLER FILE: read FILE of the current container's cgroup
# ($CG_CUR, set by ctr_start_d/make_bundle; default $CG_PARENT/$CTR_ID).
cg_read() { cg_read_at "${CG_CUR:-$CG_PARENT/$CTR_ID}" "$@"; }

# cg_logical KEY: "controller file" for the current layout, fails when the
# layout/kernel has no such file.  The file's existence is checked under
# the test parent (root cgroups lack most knobs).
cg_logical() {
	local key=$1 v c file
	local base=${key%%:*}
	case $base in
	memory.* ) c=memory ;;
	cpu.*) c=cpu ;;
	cpuset.*) c=cpuset ;;
	pids.*) c=pids ;;
	blkio.*) c=blkio ;;
	freezer.*) c=freezer ;;
	hugetlb.*) c=hugetlb ;;
	unified) c=unified ;;
	*) return 1 ;;
	esac
	v=$(cg_ctrl_version "$c")
	# pure v2 has no freezer controller: cgroup.freeze in every cgroup
	if [[ -z $v && $c == freezer && -n $CG_V2 ]]; then v=2; fi
	[[ -n $v ]] || return 1
	if [[ $v == 1 ]]; then
		case $base in
		memory.limit) file=memory.limit_in_bytes ;;
		memory.reservation) file=memory.soft_limit_in_bytes ;;
		memory.swap) file=memory.memsw.limit_in_bytes ;;
		memory.swappiness) file=memory.swappiness ;;
		memory.oom_kill_disable | memory.oom_kill) file=memory.oom_control ;;
		cpu.shares) file=cpu.shares ;;
		cpu.quota) file=cpu.cfs_quota_us ;;
		cpu.period) file=cpu.cfs_period_us ;;
		cpu.idle) file=cpu.idle ;;
		cpuset.cpus | cpuset.mems) file=$base ;;
		pids.limit) file=pids.max ;;
		blkio.weight) file=blkio.weight
			[[ -e $(cg_dir blkio "$CG_PARENT")/blkio.weight ]] || file=blkio.bfq.weight ;;
		blkio.read_bps) file=blkio.throttle.read_bps_device ;;
		blkio.write_bps) file=blkio.throttle.write_bps_device ;;
		blkio.read_iops) file=blkio.throttle.read_iops_device ;;
		blkio.write_iops) file=blkio.throttle.write_iops_device ;;
		freezer.state) file=freezer.state ;;
		hugetlb.limit) file=hugetlb.${key#*:}.limit_in_bytes ;;
		*) return 1 ;;
		esac
	else
		case $base in
		memory.limit) file=memory.max ;;
		memory.reservation) file=memory.low ;;
		memory.swap) file=memory.swap.max ;;
		memory.oom_kill) file=memory.events ;;
		memory.swappiness | memory.oom_kill_disable) return 1 ;;
		cpu.shares) file=cpu.weight ;;
		cpu.quota | cpu.period) file=cpu.max ;;
		cpu.idle) file=cpu.idle ;;
		cpuset.cpus | cpuset.mems) file=$base ;;
		pids.limit) file=pids.max ;;
		blkio.weight) c=io file=io.bfq.weight
			[[ -e $(cg_dir io "$CG_PARENT")/io.bfq.weight ]] || file=io.weight ;;
		blkio.read_bps | blkio.write_bps | blkio.read_iops | blkio.write_iops) c=io file=io.max ;;
		freezer.state) c=unified file=cgroup.freeze ;;
		hugetlb.limit) file=hugetlb.${key#*:}.max ;;
		unified) file=${key#*:} ;;
		*) return 1 ;;
		esac
	fi
	# the knob must exist in our parent (or, for freezer on v2, cgroup.freeze)
	local pd
	pd=$(cg_dir "$c" "$CG_PARENT") || return 1
	[[ -e $pd/$file ]] || return 1
	echo "$c $file"
}

# cg_has KEY: the layout supports KEY and its controller is usable.
cg_has() {
	local cf
	cf=$(cg_logical "$1") || return 1
	cg_available "${cf%% *}"
}

# _cg_normalize KEY RAW: turn the raw file content into the logical value.
_cg_normalize() {
	local key=$1 raw=$2 base=${1%%:*} dev v
	local ver
	ver=$(cg_ctrl_version "$(cg_logical "$key" | cut -d' ' -f1)")
	case $base in
	memory.oom_kill_disable) sed -n 's/^oom_kill_disable //p' <<<"$raw" ;;
	memory.oom_kill) sed -n 's/^oom_kill //p' <<<"$raw" ;;
	cpu.quota) if [[ $ver == 2 ]]; then v=${raw%% *}; [[ $v == max ]] && v=-1; echo "$v"; else echo "$raw"; fi ;;
	cpu.period) if [[ $ver == 2 ]]; then echo "${raw##* }"; else echo "$raw"; fi ;;
	blkio.weight) if [[ $raw == default* ]]; then v=$(head -n1 <<<"$raw"); echo "${v#default }"; else echo "$raw"; fi ;;
	blkio.read_bps | blkio.write_bps | blkio.read_iops | blkio.write_iops)
		dev=${key#*:}
		if [[ $ver == 2 ]]; then
			local k
			case $base in
			blkio.read_bps) k=rbps ;; blkio.write_bps) k=wbps ;;
			blkio.read_iops) k=riops ;; blkio.write_iops) k=wiops ;;
			esac
			awk -v d="$dev" -v k="$k" '$1==d { for (i=2;i<=NF;i++) { split($i,a,"="); if (a[1]==k) print a[2] } }' <<<"$raw"
		else
			awk -v d="$dev" '$1==d { print $2 }' <<<"$raw"
		fi ;;
	freezer.state) if [[ $ver == 2 ]]; then
			case $raw in 1) echo FROZEN ;; 0) echo THAWED ;; *) echo "$raw" ;; esac
		else echo "$raw"; fi ;;
	*) echo "$raw" ;;
	esac
}

# cg_value CGPATH KEY: logical value read on the host.
cg_value() {
	local cgpath=$1 key=$2 cf raw
	cf=$(cg_logical "$key") || { echo "cg_value: $key unsupported on $CG_LAYOUT" >&2; return 1; }
	raw=$(cg_read_at "$cgpath" ${cf}) || return 1
	_cg_normalize "$key" "$raw"
}

# cg_value_inside WHICH ID KEY: logical value read from inside the container
# (exec of the container's own view).  The container's /sys/fs/cgroup[/<c>]
# may be rooted at its own cgroup (v1 bind mount, or a cgroup namespace) or
# show the whole hierarchy (cgroup2 mounted without a cgroup namespace, as
# runc does on v2): look at <mount>/<own path from /proc/self/cgroup>/FILE
# first, then <mount>/FILE.  Fails if the container does not see the file.
cg_value_inside() {
	local which=$1 id=$2 key=$3 cf c f d raw v1c=""
	cf=$(cg_logical "$key") || return 1
	c=${cf%% *} f=${cf#* }
	d=$(cg_inside_dir "$c") || return 1
	if [[ $(cg_ctrl_version "$c") == 1 ]]; then
		v1c=$c
		[[ $c == systemd ]] && v1c=name=systemd
		[[ $c == io ]] && v1c=blkio
	fi
	# shellcheck disable=SC2016
	raw=$("$which" exec "$id" /bin/sh -c '
		c=$1 d=$2 f=$3 p=""
		while IFS=: read -r n ctrls path; do
			if [ -z "$c" ]; then
				[ "$n" = 0 ] && [ -z "$ctrls" ] && { p=$path; break; }
			else
				case ",$ctrls," in *",$c,"*) p=$path; break ;; esac
			fi
		done </proc/self/cgroup
		if [ -n "$p" ] && [ "$p" != / ] && [ -e "$d$p/$f" ]; then
			cat "$d$p/$f"
		else
			cat "$d/$f"
		fi' sh "$v1c" "$d" "$f" </dev/null 2>/dev/null 3>&-) || return 1
	_cg_normalize "$key" "$raw"
}

# cg_inside_visible CONTROLLER: does the runtime's /sys/fs/cgroup mount make
# CONTROLLER visible?  runc (and OCI's cgroup mount semantics on hybrid
# hosts) only mounts v1 hierarchies; the hybrid cgroup2 "unified" tree is not
# mounted in the container.
cg_inside_expected() {
	local c=$1
	[[ $(cg_ctrl_version "$c") == 1 || $CG_LAYOUT == v2 ]]
}

# cg_expect KEY SPECVALUE [EXTRA]: expected logical value for an OCI spec
# value, per layout (as runc writes it).
#   memory.limit/reservation: bytes; -1 = unlimited
#   memory.swap: OCI memory+swap total; EXTRA = memory limit (for v2)
#   cpu.shares: OCI shares (v2: converted to cpu.weight)
#   blkio.weight: OCI weight (v2 io.weight: converted)
cg_expect() {
	local key=$1 val=$2 extra=${3:-} cf c f ver
	cf=$(cg_logical "$key") || return 1
	c=${cf%% *} f=${cf#* }
	ver=$(cg_ctrl_version "$c")
	if [[ ${key%%:*} == pids.limit ]]; then
		if [[ $val -le 0 ]]; then echo max; else echo "$val"; fi
		return 0
	fi
	if [[ $ver == 1 ]]; then
		case ${key%%:*} in
		memory.limit | memory.reservation | memory.swap | hugetlb.limit)
			if [[ $val == -1 ]]; then echo 9223372036854771712; else echo $((val / 4096 * 4096)); fi ;;
		cpu.quota) echo "$val" ;;
		*) echo "$val" ;;
		esac
	else
		case ${key%%:*} in
		memory.limit | memory.reservation | hugetlb.limit)
			if [[ $val == -1 ]]; then echo max; else echo $((val / 4096 * 4096)); fi ;;
		memory.swap)
			if [[ $val == -1 ]]; then echo max; else echo $((val - extra)); fi ;;
		cpu.shares) echo $((1 + ((val - 2) * 9999) / 262142)) ;;
		blkio.weight) if [[ $f == io.weight ]]; then echo $((1 + (val - 10) * 9999 / 990)); else echo "$val"; fi ;;
		*) echo "$val" ;;
		esac
	fi
}

# cg_pid_path PID CONTROLLER: cgroup path of PID for CONTROLLER (v1 line for
# the controller's hierarchy, or the "0::" line for cgroup2).
cg_pid_path() {
	local pid=$1 c=$2 ver
	ver=$(cg_ctrl_version "$c")
	[[ $c == blkio && $ver == 2 ]] && c=io
	if [[ $ver == 1 ]]; then
		[[ $c == systemd ]] && c=name=systemd
		awk -F: -v c="$c" '{ n=split($2,a,","); for (i=1;i<=n;i++) if (a[i]==c) { print $3; exit } }' "/proc/$pid/cgroup"
	else
		awk -F: '$1=="0" && $2=="" { print $3; exit }' "/proc/$pid/cgroup"
	fi
}

# block_device_for_throttle: "MAJ:MIN" of a whole-disk block device usable
# for blkio throttling: the device of / (its disk if / is on a partition),
# else the first /sys/block entry that is a real disk.
block_device_for_throttle() {
	local dev sys
	dev=$(awk '$5=="/" { print $3; exit }' /proc/self/mountinfo)
	if [[ -n $dev && -e /sys/dev/block/$dev ]]; then
		sys=$(readlink -f "/sys/dev/block/$dev")
		if [[ -e $sys/partition ]]; then
			dev=$(<"$(dirname "$sys")/dev")
		fi
		echo "$dev"
		return 0
	fi
	for sys in /sys/block/*; do
		case ${sys##*/} in loop* | ram* | zram* | dm-* | md* | sr*) continue ;; esac
		[[ -r $sys/dev ]] || continue
		cat "$sys/dev"
		return 0
	done
	return 1
}

# wait_frozen MEMCG_DIR WHO: until the v1 memory cgroup MEMCG_DIR says
# under_oom 1 (5 s at most); fails unless it also says oom_kill 0 (frozen at
# its limit with the OOM killer disabled). Prints the flags.
wait_frozen() {
	local f=$1/memory.oom_control who=$2 i oc
	for ((i = 0; i < 100; i++)); do
		oc=$(cat "$f" 2>/dev/null)
		[[ $oc == *"under_oom 1"* ]] && break
		sleep 0.05
	done
	echo "$who: $(tr '\n' ' ' <<<"$oc")"
	[[ $oc == *"under_oom 1"* && $oc == *"oom_kill 0"* ]] || { echo "$who: not frozen at its limit" >&2; return 1; }
}
