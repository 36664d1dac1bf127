#!/usr/bin/env bats
# Hostile containers vs their own limits (docs/security.md, classes 1 and 4):
# the container's init tries to raise its cgroup limits through the
# /sys/fs/cgroup mount of the spec ("ro"), and to reach host devices through
# nodes it makes (CAP_MKNOD) or finds in its image, with
# linux.resources.devices empty or absent.  The host's cgroup files and
# devices.list are checked while the container runs.  Each case runs on
# REF_RUNTIME and RUNTIME (both outcomes in a TAP comment); only RUNTIME is
# asserted.

bats_require_minimum_version 1.5.0
load ../lib/common
load ../lib/reliability
load ../lib/attack

setup_file() { atk_setup_file; }
teardown_file() { atk_teardown_file; }
setup() { atk_setup; }
teardown() { atk_teardown; }

# cg_targets: "INSIDE_PATH HOST_PATH VALUE" per limit a container could
# raise on this layout (v1 controllers at /sys/fs/cgroup/<name> inside, as
# runc mounts them; cgroup2 at /sys/fs/cgroup on pure v2 hosts), plus a
# child cgroup ("mkdir" as VALUE).  Needs ID.
cg_targets() {
	local cg=$CG_PARENT/$ID m
	if [[ $CG_LAYOUT == v2 ]]; then
		m=$CG_V2$cg
		echo "/sys/fs/cgroup/memory.max $m/memory.max max"
		[[ -e $CG_V2$CG_PARENT/memory.swap.max ]] && echo "/sys/fs/cgroup/memory.swap.max $m/memory.swap.max max"
		echo "/sys/fs/cgroup/pids.max $m/pids.max max"
		echo "/sys/fs/cgroup/cpu.max $m/cpu.max max"
		echo "/sys/fs/cgroup/atk-child $m/atk-child mkdir"
		return 0
	fi
	m=${CG_V1[memory]}$cg
	# memsw first: the kernel wants memory.limit <= memsw.limit
	[[ -e ${CG_V1[memory]}$CG_PARENT/memory.memsw.limit_in_bytes ]] && echo "$(cg_inside_dir memory)/memory.memsw.limit_in_bytes $m/memory.memsw.limit_in_bytes -1"
	echo "$(cg_inside_dir memory)/memory.limit_in_bytes $m/memory.limit_in_bytes 1073741824"
	echo "$(cg_inside_dir memory)/atk-child $m/atk-child mkdir"
	[[ -n ${CG_V1[pids]:-} ]] && echo "$(cg_inside_dir pids)/pids.max ${CG_V1[pids]}$cg/pids.max max"
	[[ -n ${CG_V1[cpu]:-} ]] && echo "$(cg_inside_dir cpu)/cpu.cfs_quota_us ${CG_V1[cpu]}$cg/cpu.cfs_quota_us -1"
	[[ -n ${CG_V1[devices]:-} ]] && echo "$(cg_inside_dir devices)/devices.allow ${CG_V1[devices]}$cg/devices.allow a"
	return 0
}

# host_values: the host-side content of every target (a dir for mkdir).
host_values() {
	local in host val
	while read -r in host val; do
		if [[ $val == mkdir ]]; then
			echo "$host $([[ -d $host ]] && echo exists || echo absent)"
		elif [[ $host == */devices.allow ]]; then
			echo "${host%.allow}.list $(tr '\n' ' ' <"${host%.allow}.list")"
		else
			echo "$host $(tr '\n' ' ' <"$host")"
		fi
	done < <(cg_targets)
}

# sc_cg WHICH EXTRA_JQ: the init writes every target, records the outcome
# (an errno name or "written") and its view of the cgroup mounts.
sc_cg() {
	local which=$1 extra=$2 script="" in host val before after bad=() mnt=() got line opt miss i
	local -a f
	local -A top=()
	atk_bundle "$which" "cg" '.linux.resources = {"memory": {"limit": 67108864, "swap": 134217728}, "pids": {"limit": 64}, "cpu": {"quota": 50000, "period": 100000}, "devices": [{"allow": false, "access": "rwm"}]}' || return 1
	atk_jq "$extra" || return 1
	while read -r in host val; do
		if [[ $val == mkdir ]]; then
			script+="echo \"$in \$(/atk mkdir $in)\" >>/out/writes; "
		else
			script+="echo \"$in \$(/atk write $in '$val')\" >>/out/writes; "
		fi
	done < <(cg_targets)
	atk_script "grep ' /sys/fs/cgroup' /proc/self/mountinfo >/out/mountinfo; $script touch /out/done; exec sleep 600" || return 1
	ctr_create "$which" "$ID" "$B"
	[[ $RC -eq 0 ]] || { V="create failed: $(atk_err1 "$ERR")"; return 1; }
	before=$(host_values)
	rc_of "$which" start "$ID"
	atk_wait_file "$O/done" || { atk_done "$which"; V="no result"; return 1; }
	after=$(host_values)
	atk_done "$which"
	# every write must fail with EROFS: the mount is read-only
	while read -r in got; do
		[[ $got == EROFS ]] || bad+=("$in: $got")
	done <"$O/writes"
	[[ $before == "$after" ]] || bad+=("host cgroup files changed: $(diff <(echo "$before") <(echo "$after") | grep '^>' | tr '\n' ' ')")
	# every cgroup mount: ro, nosuid, nodev, noexec (the spec's options).
	# The last line for a mountpoint is the mount in effect; an earlier one
	# is shadowed by it (e.g. a ro rebind on top of the rw mount): unreachable
	# without CAP_SYS_ADMIN, but still a rw cgroup mount in the container's
	# table ("every cgroup mount ro" is the contract, as with runc).
	i=0
	while read -r line; do
		i=$((i + 1))
		read -ra f <<<"$line"
		top[${f[4]}]=$i
	done <"$O/mountinfo"
	i=0
	while read -r line; do
		i=$((i + 1))
		read -ra f <<<"$line"
		[[ ${line#* - } == cgroup* ]] || continue
		miss=""
		for opt in ro nosuid nodev noexec; do
			[[ ,${f[5]}, == *",$opt,"* ]] || miss+="$opt,"
		done
		[[ -n $miss ]] || continue
		if [[ ${top[${f[4]}]} -eq $i ]]; then
			mnt+=("mount ${f[4]} (${f[5]}) lacks ${miss%,};")
		else
			mnt+=("a ${f[5]%%,*} cgroup mount is left under the one in effect at ${f[4]} (shadowed; lacks ${miss%,});")
		fi
	done <"$O/mountinfo"
	grep -q ' - cgroup' "$O/mountinfo" || mnt+=("no cgroup mount seen inside")
	local errs
	errs=$(awk '{ print $2 }' "$O/writes" | sort | uniq -c | awk '{ print $2 " x" $1 }' | paste -sd, -)
	if [[ ${#bad[@]} -gt 0 ]]; then
		V="RAISED ($errs)"
	elif [[ ${#mnt[@]} -gt 0 ]]; then
		V="writes blocked ($errs) but NOT EVERY CGROUP MOUNT RO ($(grep -c ' - cgroup' "$O/mountinfo") cgroup lines)"
	else
		V="blocked ($errs)"
	fi
	bad+=("${mnt[@]}")
	[[ ${#bad[@]} -eq 0 ]] || BAD="${bad[*]}"
}

# Class 1.  Defence: the cgroup mount is read-only (runc: ro bind of each
# hierarchy); the container's own cgroup files stay as the runtime wrote them.
@test "cgroup: the init cannot raise its limits through /sys/fs/cgroup (no cgroup namespace)" {
	atk_both "cgroup-no-ns" sc_cg '.'
}

@test "cgroup: the init cannot raise its limits through /sys/fs/cgroup (cgroup namespace)" {
	atk_both "cgroup-ns" sc_cg '.linux.namespaces += [{"type": "cgroup"}]'
}

# sc_dev WHICH FILTER: with CAP_MKNOD the init makes /dev/kmsg (1:11) and
# writes a marker to it (the kmsg driver lets any writer open it: only the
# device cgroup stops it), and reads the host's disk through a node put in
# its image.  Checks the host's kernel log and devices.list (v1).
sc_dev() {
	local which=$1 filter=$2 mark disk="" majmin out list bad=() saw
	mark="rcrun-attack-$RCRUN_TEST_TAG-$which-$RANDOM"
	atk_bundle "$which" "dev" "$filter" || return 1
	atk_caps CAP_MKNOD
	# a disk node only says something where the host itself can read it
	disk=$(findmnt -no SOURCE / | head -n 1)
	[[ -b $disk ]] || disk=$(find /dev -maxdepth 1 -type b | head -n 1)
	[[ -b $disk && $("$ATK_HELPER" read "$disk") == read ]] || disk=""
	if [[ -n $disk ]]; then
		majmin=$(stat -c '%t %T' "$disk")
		# shellcheck disable=SC2086
		mknod "$B/rootfs/disk" b $((0x${majmin% *})) $((0x${majmin#* })) || return 1
	fi
	atk_script "mknod /dev/atk-kmsg c 1 11 2>/dev/null || echo mknod-refused >>/out/log; echo \"kmsg-write \$(/atk write /dev/atk-kmsg '$mark')\" >>/out/log; [ -b /disk ] && echo \"disk-read \$(/atk read /disk)\" >>/out/log; touch /out/done; exec sleep 600"
	atk_start "$which" || return 1
	atk_wait_file "$O/done" || { atk_done "$which"; V="no result"; return 1; }
	list=""
	[[ -n ${CG_V1[devices]:-} ]] && list=$(tr '\n' ' ' <"${CG_V1[devices]}$CG_PARENT/$ID/devices.list")
	atk_done "$which"
	out=$(tr '\n' ' ' <"$O/log")
	saw=$(dmesg 2>/dev/null | grep -cF "$mark")
	[[ $out == *"kmsg-write EPERM"* || $out == *"mknod-refused kmsg-write ENOENT"* ]] || bad+=("/dev/kmsg (1:11) opened for writing")
	[[ $saw -eq 0 ]] || bad+=("the host's kernel log got the container's line")
	# EPERM: the device cgroup refused it. EACCES: the rootfs is on a nodev
	# mount (the VMs' /tmp), which the kernel checks first; the device
	# cgroup itself is then shown by the kmsg line above. Either way the
	# disk stays unread.
	[[ -z $disk || $out == *"disk-read EPERM"* || $out == *"disk-read EACCES"* ]] || bad+=("host disk $disk readable")
	[[ $list != *"a *:* rwm"* ]] || bad+=("devices.list = a *:* rwm")
	V="${out% }${list:+; devices.list: ${list:0:60}}"
	[[ -n $disk ]] || V+="; (host disk not checked: unreadable even on the host)"
	if [[ ${#bad[@]} -gt 0 ]]; then BAD="${bad[*]}"; V="OPEN: $V"; fi
}

# Class 4.  Defence: a deny-all device baseline (plus the default device
# allow-list, as runc) whatever linux.resources.devices says.
@test "devices: resources.devices = [] does not open host devices (CAP_MKNOD, image node)" {
	dmesg >/dev/null || { echo "dmesg does not work here: cannot check the host's kernel log"; false; }
	atk_both "devices-empty" sc_dev '.linux.resources.devices = []'
}

@test "devices: resources.devices absent does not open host devices" {
	atk_both "devices-absent" sc_dev 'del(.linux.resources.devices)'
}

@test "devices: no linux.resources at all does not open host devices" {
	atk_both "resources-absent" sc_dev 'del(.linux.resources)'
}
