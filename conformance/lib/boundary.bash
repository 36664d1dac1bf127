# shellcheck shell=bash
# Container-boundary attacks run INSIDE a container through docker or
# containerd (tests/attack-docker.bats, tests/attack-shim.bats): the shell
# scripts the container runs, and the checks of what they print.  Each script
# only prints; the .bats file decides (RUNTIME is asserted, the reference
# runtime only reported).
#
#   boundary_unavailable WHY    skip, or fail when RCRUN_TEST_REQUIRE_DOCKER=1
#   BOUNDARY_CG_SCRIPT          raise memory/memsw/pids from inside; list cgroup mounts
#   boundary_cg_verdict OUT     "" if every write failed with EROFS and every
#                               cgroup mount is ro, else what went wrong
#   BOUNDARY_PROC_SCRIPT        security attributes of itself and of pid 1
#   boundary_proc_diff OUT      fields where the process differs from pid 1
#   BOUNDARY_DEV_SCRIPT         mknod + open of devices outside the allow list
#   boundary_dev_verdict OUT    "" if no device could be opened

# boundary_unavailable WHY: docker/containerd/the shim are missing.  A skip
# on a developer's machine; a FAILURE where they must be there (CI:
# conformance/ci.sh exports RCRUN_TEST_REQUIRE_DOCKER=1), so that a security
# suite never turns silently into a row of skips.  Call from setup().
boundary_unavailable() {
	if [[ ${RCRUN_TEST_REQUIRE_DOCKER:-0} == 1 ]]; then
		echo "RCRUN_TEST_REQUIRE_DOCKER=1 but $1: the boundary tests cannot run" >&2
		return 1
	fi
	skip "$1"
}

# The attack of the issue "container boundary" (1): raise memory.memsw,
# memory and pids from inside through /sys/fs/cgroup.  Works on v1 (bind
# mount of the container's cgroup, or a cgroup namespace) and v2 (namespaced,
# or the whole hierarchy: the own path from /proc/self/cgroup is tried
# first).  Prints "WRITE <file> ok|absent|failed: <error>" and
# "MOUNT <mountpoint> <mount options>" for every cgroup/cgroup2 mount.
# shellcheck disable=SC2016
BOUNDARY_CG_SCRIPT='
cg=/sys/fs/cgroup
own() { # v1 controller ("" = cgroup2): own path from /proc/self/cgroup
	while IFS=: read -r n ctrls path; do
		if [ -z "$1" ]; then [ "$n" = 0 ] && [ -z "$ctrls" ] && { echo "$path"; return; }
		else case ",$ctrls," in *",$1,"*) echo "$path"; return ;; esac; fi
	done </proc/self/cgroup
}
try() { # DIR CONTROLLER FILE VALUE
	p=$(own "$2"); f=""
	[ -n "$p" ] && [ "$p" != / ] && [ -e "$1$p/$3" ] && f=$1$p/$3
	[ -z "$f" ] && [ -e "$1/$3" ] && f=$1/$3
	if [ -z "$f" ]; then echo "WRITE $3 absent"; return; fi
	if err=$( { echo "$4" >"$f"; } 2>&1 ); then echo "WRITE $3 ok ($(cat "$f"))"; else echo "WRITE $3 failed: $err"; fi
}
if [ -d $cg/memory ]; then
	try $cg/memory memory memory.memsw.limit_in_bytes 2147483648
	try $cg/memory memory memory.limit_in_bytes 1073741824
fi
[ -d $cg/pids ] && try $cg/pids pids pids.max max
if [ -e $cg/cgroup.controllers ]; then
	try $cg "" memory.swap.max max
	try $cg "" memory.max max
	try $cg "" pids.max max
fi
grep -E " - cgroup2? " /proc/self/mountinfo | while read -r a b c d mp opts rest; do echo "MOUNT $mp $opts"; done
echo BOUNDARY-CG-DONE
'

# boundary_cg_verdict OUTPUT: what the attack achieved ("" = nothing).
boundary_cg_verdict() {
	local out=$1 line bad="" n=0 opts
	[[ $out == *BOUNDARY-CG-DONE* ]] || bad+="script did not finish; "
	while IFS= read -r line; do
		case $line in
		"WRITE "*" absent") ;;
		"WRITE "*)
			n=$((n + 1))
			[[ $line == *"Read-only file system"* ]] || bad+="${line#WRITE } (wanted EROFS); "
			;;
		"MOUNT "*)
			opts=${line##* }
			[[ ,$opts, == *,ro,* ]] || bad+="cgroup mount ${line#MOUNT } is not read-only; "
			;;
		esac
	done <<<"$out"
	[[ $n -gt 0 ]] || bad+="no cgroup limit file visible inside (nothing was tried); "
	echo "$bad"
}

# Attributes an exec'd process must share with the container's init (issue
# (2)): seccomp mode and filter count, capabilities, no_new_privs, ids, and
# rlimits.  "self <Field>: value" / "init <Field>: value" lines, then
# "selflim <limit line>" / "initlim <limit line>".
# shellcheck disable=SC2016
BOUNDARY_PROC_SCRIPT='
f="^(Uid|Gid|Groups|NoNewPrivs|Seccomp|Seccomp_filters|CapInh|CapPrm|CapEff|CapBnd|CapAmb):"
grep -E "$f" /proc/self/status | sed "s/^/self /"
grep -E "$f" /proc/1/status | sed "s/^/init /"
tail -n +2 /proc/self/limits | sed "s/^/selflim /"
tail -n +2 /proc/1/limits | sed "s/^/initlim /"
echo BOUNDARY-PROC-DONE
'

# boundary_field OUTPUT WHO FIELD: value of FIELD for WHO (self/init).
boundary_field() { awk -v k="$2 $3:" 'index($0, k) == 1 { $1 = ""; $2 = ""; sub(/^ +/, ""); gsub(/[ \t]+/, " "); print; exit }' <<<"$1"; }

# boundary_proc_diff OUTPUT: one "FIELD: exec=X init=Y" per difference.
boundary_proc_diff() {
	local out=$1 k a b
	[[ $out == *BOUNDARY-PROC-DONE* ]] || { echo "script did not finish"; return 0; }
	for k in Uid Gid Groups NoNewPrivs Seccomp Seccomp_filters CapInh CapPrm CapEff CapBnd CapAmb; do
		a=$(boundary_field "$out" self "$k") b=$(boundary_field "$out" init "$k")
		[[ $a == "$b" ]] || echo "$k: exec='$a' init='$b'"
	done
	diff <(sed -n 's/^selflim //p' <<<"$out") <(sed -n 's/^initlim //p' <<<"$out") |
		sed -n 's/^< /rlimit: exec: /p; s/^> /rlimit: init: /p'
}

# boundary_proc_summary OUTPUT WHO: one line for notes.
boundary_proc_summary() {
	local k s=""
	for k in Uid Seccomp Seccomp_filters NoNewPrivs CapEff CapBnd; do
		s+="$k=$(boundary_field "$1" "$2" "$k" | cut -d' ' -f1) "
	done
	s+="nofile=$(sed -n "s/^${2}lim Max open files *//p" <<<"$1" | awk '{ print $1 ":" $2 }')"
	echo "$s"
}

# Devices outside every allow list (issue (3)): mknod (CAP_MKNOD is in
# docker's and containerd's default set; the device cgroup allows "m" for
# every node) and then OPEN:
#   /dev/kmsg (c 1 11) opened write-only (no capability needed for that: only
#     the device cgroup stands in the way; nothing is written);
#   the host disk $BOUNDARY_DISK ("b MAJ MIN", if given): read 512 bytes.
# The nodes are made in /dev (the runtime's tmpfs): a rootfs on a nodev
# mount (a guest's /tmp) would refuse the open with EACCES whatever the
# device cgroup says.  The device cgroup's refusal is EPERM.
# Prints "MKNOD <name> ok|failed: ..." and "OPEN <name> ok|failed: ...".
# shellcheck disable=SC2016
BOUNDARY_DEV_SCRIPT='
d=/dev/.boundary.$$
node() { # NAME TYPE MAJ MIN
	if err=$(mknod "$d.$1" "$2" "$3" "$4" 2>&1); then echo "MKNOD $1 ok"; else echo "MKNOD $1 failed: $err"; fi
}
node kmsg c 1 11
if [ -e $d.kmsg ]; then
	if err=$( { : >$d.kmsg; } 2>&1 ); then echo "OPEN kmsg ok (write-only)"; else echo "OPEN kmsg failed: $err"; fi
fi
if [ -n "${BOUNDARY_DISK:-}" ]; then
	node disk $BOUNDARY_DISK
	if [ -e $d.disk ]; then
		n=$(head -c 512 $d.disk 2>$d.err | wc -c)
		if [ "$n" -gt 0 ]; then echo "OPEN disk ok (read $n bytes)"; else echo "OPEN disk failed: $(cat $d.err)"; fi
	fi
fi
rm -f $d.*
echo BOUNDARY-DEV-DONE
'

# boundary_dev_verdict OUTPUT: devices that could be opened ("" = none).
boundary_dev_verdict() {
	local out=$1 bad=""
	[[ $out == *BOUNDARY-DEV-DONE* ]] || bad+="script did not finish; "
	bad+=$(grep '^OPEN .* ok' <<<"$out" | tr '\n' ';')
	echo "$bad"
}

# boundary_disk: "b MAJ MIN" of a host block device that the HOST can read
# (the root disk first), "" if none: where even the host is refused (a
# sandbox's own device filter), a refusal in the container proves nothing.
boundary_disk() {
	local src mm
	for src in "$(findmnt -no SOURCE / 2>/dev/null | head -n 1)" $(find /dev -maxdepth 1 -type b 2>/dev/null | sort | head -n 20); do
		[[ -b $src ]] || continue
		[[ $(head -c 512 "$src" 2>/dev/null | wc -c) -eq 512 ]] || continue
		mm=$(stat -c '%t %T' "$src")
		echo "b $((0x${mm% *})) $((0x${mm#* }))"
		return 0
	done
}

# boundary_devices_list PID: the v1 devices.list of PID's cgroup on one
# line ("" on cgroup v2: eBPF, nothing to read).  "a *:* rwm" in it means
# every device is allowed.
boundary_devices_list() {
	local m p
	m=${CG_V1[devices]:-}
	[[ -n $m ]] || return 0
	p=$(cg_pid_path "$1" devices) || return 0
	tr '\n' ';' <"$m$p/devices.list"
}

# boundary_dev_host_check DISK: what the HOST itself can open of what the
# device script tries (a refusal inside proves something only for those);
# fails when it can open none of them.
boundary_dev_host_check() {
	local ok=""
	if { : >/dev/kmsg; } 2>/dev/null; then ok+="/dev/kmsg (write-only) "; fi
	if [[ -n $1 ]]; then ok+="disk $1"; else ok+="(no block device readable by the host: disk case not tried)"; fi
	if [[ $ok != /dev/kmsg* && -z $1 ]]; then
		echo "the host itself can open neither /dev/kmsg (write-only) nor any block device: the device test proves nothing here"
		return 1
	fi
	echo "host can open: $ok"
}
