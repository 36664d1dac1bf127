#!/usr/bin/env bash
# Boot a throw-away VM with a pure cgroup v1 or pure cgroup v2 layout, or a
# Debian VM with systemd as PID 1, and run a command in it (default: the
# conformance suite, conformance/run.sh).
#
#   conformance/vm/run.sh <v2|v1|systemd-v2|systemd-v1> [-- command [args...]]
#
# systemd-v2 / systemd-v1: Debian 13 (pure cgroup v2) / Debian 12 booted with
# systemd.unified_cgroup_hierarchy=0, booting their own disk image and kernel
# (conformance/vm/image.sh builds and caches them) with docker, containerd,
# podman at the distribution's defaults and rcrun registered; the VM boots a
# copy-on-write overlay of the cached image, and the command runs once
# multi-user.target is reached.  Docker is there: RCRUN_TEST_NO_DOCKER is not
# set.  See conformance/vm/README.md.
#
# The VM sees the host's / read-only (9p lower + tmpfs upper overlay, so
# anything can be written but nothing reaches the host) and the repo
# read-write at its host path.  The command runs as root in the repo root
# with TMPDIR=/tmp (tmpfs) and RCRUN_TEST_NO_DOCKER=1; its stdout+stderr are
# streamed back and run.sh exits with its exit status.
#
# Exit status: the command's, or 124 on timeout, 125 on VM/infra failure.
#
# Environment:
#   RCRUN_VM_TIMEOUT   seconds before the VM is killed (default 900)
#   RCRUN_VM_MEM       guest memory (default 4G)
#   RCRUN_VM_CPUS      guest vcpus (default 2)
#   RCRUN_VM_ACCEL     qemu accelerator: tcg (default) or kvm
#   RCRUN_VM_CPU       qemu -cpu model (default: max for tcg, host for kvm)
#   RCRUN_VM_KERNEL    kernel image (default: newest /boot/vmlinuz-*)
#   RCRUN_VM_CACHE     artifact cache (default ${XDG_CACHE_HOME:-/var/tmp}/rcrun-vm)
#   RCRUN_VM_APPEND    extra kernel command line
#   RCRUN_VM_DISK_MB   size of the scratch virtio disk /dev/vda (default 64;
#                      0: none).  Unformatted, sparse, thrown away; it is
#                      there so that blkio/io throttling has a real disk.
#   RCRUN_VM_PASSENV   names of extra host variables to pass into the VM
#                      (always passed: RCRUN_TEST_*, RUNTIME, REF_RUNTIME,
#                      RUST_LOG, RUST_BACKTRACE)
#   RCRUN_VM_BIN_DIR   (systemd layouts) take rcrun + containerd-shim-rcrun-v2
#                      from this host dir (shared read-only at its host path)
#                      instead of the repo's target/release
#   RCRUN_VM_VERBOSE=1 stream the guest kernel console to stderr
#   RCRUN_VM_CONSOLE_LOG  also copy the guest kernel console log to this file
set -euo pipefail
# The whole script is one { } block: bash parses it completely before running
# it, so editing this file does not break runs in progress.
{

prog=${0##*/}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(cd "$here/../.." && pwd -P)

usage() {
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}
err() { echo "$prog: $*" >&2; }
fail() { err "$*"; exit 125; }

[[ $# -ge 1 ]] || usage
layout=$1
shift
systemd=0
case "$layout" in
v1 | v2) ;;
systemd-v1 | systemd-v2) systemd=1 ;;
-h | --help) usage ;;
*) err "unknown layout '$layout' (want v1, v2, systemd-v2 or systemd-v1)"; usage ;;
esac
if [[ $# -gt 0 ]]; then
	[[ $1 == -- ]] || { err "expected '--' before the command"; usage; }
	shift
fi
if [[ $# -eq 0 ]]; then
	[[ -x $repo/conformance/run.sh ]] || fail "no $repo/conformance/run.sh to run"
	set -- conformance/run.sh
fi

timeout_s=${RCRUN_VM_TIMEOUT:-900}
mem=${RCRUN_VM_MEM:-4G}
cpus=${RCRUN_VM_CPUS:-2}
accel=${RCRUN_VM_ACCEL:-tcg}
cache=${RCRUN_VM_CACHE:-${XDG_CACHE_HOME:-/var/tmp}/rcrun-vm}
qemu=${RCRUN_VM_QEMU:-qemu-system-x86_64}

command -v "$qemu" >/dev/null || fail "$qemu not found (apt-get install qemu-system-x86)"
for t in cpio xz sha256sum timeout tail flock; do
	command -v "$t" >/dev/null || fail "$t not found"
done

mkdir -p "$cache"
exec 9>"$cache/.lock"

# Like the kernel's scripts/extract-vmlinux: find a compressed payload and
# decompress it until the result is an ELF file.
is_elf() { [[ $(head -c 4 "$1" 2>/dev/null | od -An -c | tr -d ' ') == '177ELF' ]]; }
try_decompress() { # magic-bytes placeholder decompressor...
	local magic=$1 ph=$2 pos
	shift 2
	command -v "$1" >/dev/null || return 1
	for pos in $(LC_ALL=C tr "$magic\n$ph" "\n$ph=" <"$img" | LC_ALL=C grep -abo "^$ph" || true); do
		pos=${pos%%:*}
		tail -c+"$pos" "$img" | "$@" >"$out" 2>/dev/null || true
		if is_elf "$out"; then return 0; fi
	done
	return 1
}
extract_vmlinux() { # img out
	local img=$1 out=$2
	if is_elf "$img"; then cp "$img" "$out"; return 0; fi
	try_decompress '\3757zXZ\000' abcde xz -dc && return 0
	try_decompress '(\265/\375' xxx zstd -dc && return 0
	try_decompress '\037\213\010' xy gzip -dc && return 0
	try_decompress '\002!L\030' xxx lz4 -dc && return 0
	try_decompress ']\000\000\000' xxx unlzma && return 0
	try_decompress 'BZh' xy bunzip2 && return 0
	try_decompress '\211\114\132' xy lzop -dc && return 0
	return 1
}

if [[ $systemd -eq 1 ]]; then
	# ------------------------------------------------- systemd image ----
	# The image's own kernel + initrd; the vmlinux is extracted (PVH boot,
	# faster under TCG) next to the image.
	command -v qemu-img >/dev/null || fail "qemu-img not found (apt-get install qemu-utils)"
	sdimg=$(bash "$here/image.sh" "$layout") || fail "no $layout image (conformance/vm/image.sh $layout)"
	vmlinux=$sdimg/vmlinux
	if [[ ! -s $vmlinux ]]; then
		flock 9
		if [[ ! -s $vmlinux ]]; then
			extract_vmlinux "$sdimg/vmlinuz" "$vmlinux.tmp.$$" || { rm -f "$vmlinux.tmp.$$"; fail "cannot extract vmlinux from $sdimg/vmlinuz"; }
			mv -f "$vmlinux.tmp.$$" "$vmlinux"
		fi
		flock -u 9
	fi
	initrd=$sdimg/initrd.img
	kver=$(sed -n 's/.* kver=\([^ ]*\).*/\1/p' "$sdimg/manifest" | head -n 1)
else
# ---------------------------------------------------------------- kernel ----
kernel=${RCRUN_VM_KERNEL:-}
if [[ -z $kernel ]]; then
	kernel=$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1 || true)
	[[ -n $kernel ]] || fail "no /boot/vmlinuz-* (apt-get install linux-image-amd64)"
fi
[[ -r $kernel ]] || fail "cannot read kernel $kernel"
kver=${RCRUN_VM_KVER:-$(basename "$kernel" | sed -E 's/^(vmlinuz|vmlinux)-//')}
moddir=/lib/modules/$kver
[[ -f $moddir/modules.dep ]] || fail "no $moddir/modules.dep for kernel $kernel"

vmlinux_key=$(stat -Lc '%n %s %Y' "$kernel" | sha256sum | cut -c1-16)
vmlinux=$cache/vmlinux-$kver-$vmlinux_key
if [[ ! -s $vmlinux ]]; then
	flock 9
	if [[ ! -s $vmlinux ]]; then
		err "extracting $kernel -> $vmlinux"
		extract_vmlinux "$kernel" "$vmlinux.tmp.$$" || { rm -f "$vmlinux.tmp.$$"; fail "cannot extract vmlinux from $kernel"; }
		mv -f "$vmlinux.tmp.$$" "$vmlinux"
	fi
	flock -u 9
fi

# ------------------------------------------------------------- initramfs ----
# Modules to load, with dependencies, in load order (from modules.dep).
want_mods="virtio_pci virtio_console virtio_blk 9pnet_virtio 9p overlay"
declare -A mod_seen=()
mod_order=()
mod_path() { # name -> relative path in modules.dep
	local n=$1 alt
	alt=${n//_/-}
	awk -F: -v a="$n" -v b="$alt" '{
		f = $1; sub(/.*\//, "", f); sub(/\.ko(\.(xz|gz|zst))?$/, "", f)
		if (f == a || f == b) { print $1; exit }
	}' "$moddir/modules.dep"
}
mod_add() { # relative path
	local p=$1 d line
	[[ -z ${mod_seen[$p]:-} ]] || return 0
	mod_seen[$p]=1
	line=$(grep -m1 -F "$p:" "$moddir/modules.dep" | cut -d: -f2-)
	for d in $line; do mod_add "$d"; done
	mod_order+=("$p")
}
for m in $want_mods; do
	p=$(mod_path "$m")
	if [[ -z $p ]]; then
		# Built into the kernel: nothing to load.
		grep -qE "/${m//_/[-_]}\.ko" "$moddir/modules.builtin" 2>/dev/null && continue
		fail "module $m not found for $kver"
	fi
	mod_add "$p"
done

busybox=${RCRUN_VM_BUSYBOX:-}
if [[ -z $busybox ]]; then
	for b in /bin/busybox /usr/bin/busybox; do
		if [[ -x $b ]] && ! LC_ALL=C ldd "$b" >/dev/null 2>&1; then busybox=$b; break; fi
	done
fi
[[ -n $busybox ]] || fail "no static busybox (apt-get install busybox-static)"

initrd_key=$( {
	echo "kver=$kver"
	sha256sum "$here/init" "$busybox"
	for p in "${mod_order[@]}"; do stat -Lc '%n %s %Y' "$moddir/$p"; done
	sed -n '/^# ---.* initramfs/,/^# ---.* end initramfs/p' "${BASH_SOURCE[0]}"
} | sha256sum | cut -c1-16)
initrd=$cache/initramfs-$kver-$initrd_key.cpio
if [[ ! -s $initrd ]]; then
	flock 9
	if [[ ! -s $initrd ]]; then
		err "building $initrd"
		stage=$(mktemp -d "$cache/initramfs.XXXXXX")
		trap 'rm -rf "$stage"' EXIT
		mkdir -p "$stage"/{bin,dev,proc,sys,mnt,newroot,modules}
		cp "$busybox" "$stage/bin/busybox"
		cp "$here/init" "$stage/init"
		chmod 0755 "$stage/init" "$stage/bin/busybox"
		: >"$stage/modules/order"
		for p in "${mod_order[@]}"; do
			n=$(basename "$p")
			case "$n" in
			*.ko.xz) xz -dc "$moddir/$p" >"$stage/modules/${n%.xz}"; n=${n%.xz} ;;
			*.ko.gz) gzip -dc "$moddir/$p" >"$stage/modules/${n%.gz}"; n=${n%.gz} ;;
			*.ko.zst) zstd -qdc "$moddir/$p" >"$stage/modules/${n%.zst}"; n=${n%.zst} ;;
			*) cp "$moddir/$p" "$stage/modules/$n" ;;
			esac
			echo "$n" >>"$stage/modules/order"
		done
		# Uncompressed: the guest runs under TCG, decompression is slow.
		(cd "$stage" && find . -print0 | LC_ALL=C sort -z |
			cpio --null -o -H newc --owner=0:0 --quiet) >"$initrd.tmp.$$"
		mv -f "$initrd.tmp.$$" "$initrd"
		rm -rf "$stage"
		trap - EXIT
	fi
	flock -u 9
fi
# --------------------------------------------------------- end initramfs ----
fi

# Drop artifacts of other kernels/inits not used for a week.
touch "$vmlinux" "$initrd"
find "$cache" -maxdepth 1 -type f \( -name 'vmlinux-*' -o -name 'initramfs-*' \) -mtime +7 -delete 2>/dev/null || true

# ------------------------------------------------------------------- run ----
# Scratch dirs of runs that were SIGKILLed (no trap ran): their owner is gone.
for d in "${TMPDIR:-/tmp}"/rcrun-vm.*; do
	[[ -f $d/owner.pid ]] || continue
	o=$(<"$d/owner.pid")
	[[ $o =~ ^[0-9]+$ ]] || continue
	kill -0 "$o" 2>/dev/null && continue
	[[ -n $(find "$d/owner.pid" -mmin +1 2>/dev/null) ]] && rm -rf "$d"
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rcrun-vm.XXXXXX")
echo $$ >"$tmp/owner.pid"
qpid=
spid=
cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	if [[ -n $qpid ]] && kill -0 "$qpid" 2>/dev/null; then
		kill -TERM "$qpid" 2>/dev/null || true
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$qpid" 2>/dev/null || break
			sleep 0.5
		done
		kill -KILL "$qpid" 2>/dev/null || true
		wait "$qpid" 2>/dev/null || true
	fi
	# The streamer ends by itself once qemu is gone (tail --pid).
	[[ -z ${spid:-} ]] || wait "$spid" 2>/dev/null || true
	if [[ -n ${RCRUN_VM_CONSOLE_LOG:-} && -f $tmp/console.log ]]; then
		cp "$tmp/console.log" "$RCRUN_VM_CONSOLE_LOG" || true
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'err "interrupted (SIGINT), stopping the VM"; exit 130' INT
trap 'err "terminated (SIGTERM), stopping the VM"; exit 143' TERM
trap 'err "hangup (SIGHUP), stopping the VM"; exit 129' HUP

mkdir -p "$tmp/ctl"
{
	printf 'RCRUN_VM_LAYOUT=%q\n' "$layout"
	printf 'RCRUN_VM_REPO=%q\n' "$repo"
	if [[ $systemd -eq 1 && -n ${RCRUN_VM_BIN_DIR:-} ]]; then
		printf 'RCRUN_VM_BIN_DIR=%q\n' "$(cd "$RCRUN_VM_BIN_DIR" && pwd -P)"
	fi
} >"$tmp/ctl/config"
if [[ $systemd -eq 1 && -n ${RCRUN_VM_BIN_DIR:-} ]]; then
	[[ -x $RCRUN_VM_BIN_DIR/rcrun ]] || fail "RCRUN_VM_BIN_DIR=$RCRUN_VM_BIN_DIR has no rcrun"
fi
[[ $systemd -eq 0 ]] || cp "$here/sd-guest.sh" "$tmp/ctl/sd-guest.sh"
{
	echo '#!/bin/bash'
	echo '# generated by conformance/vm/run.sh'
	echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
	echo 'export HOME=/root TMPDIR=/tmp LANG=C.UTF-8 TERM=dumb'
	# The systemd images have docker; the host-/ layouts run no daemons.
	[[ $systemd -eq 1 ]] || echo 'export RCRUN_TEST_NO_DOCKER=1'
	printf 'export RCRUN_VM=%q RCRUN_VM_LAYOUT=%q\n' "$layout" "$layout"
	if [[ ${RCRUN_VM_DISK_MB:-64} -gt 0 ]]; then
		# systemd layouts: /dev/vda is the root disk.
		if [[ $systemd -eq 1 ]]; then echo 'export RCRUN_VM_SCRATCH_DEV=/dev/vdb'; else echo 'export RCRUN_VM_SCRATCH_DEV=/dev/vda'; fi
	fi
	cargo_home=${CARGO_HOME:-$HOME/.cargo}
	[[ -d $cargo_home/bin ]] && printf 'export PATH=%q:$PATH\n' "$cargo_home/bin"
	for v in $(compgen -e); do
		case "$v" in
		RCRUN_TEST_NO_DOCKER) ;;
		RCRUN_TEST_*) printf 'export %s=%q\n' "$v" "${!v}" ;;
		esac
	done
	for v in RUNTIME REF_RUNTIME RUST_LOG RUST_BACKTRACE ${RCRUN_VM_PASSENV:-}; do
		[[ -v $v ]] && printf 'export %s=%q\n' "$v" "${!v}"
	done
	printf 'cd %q || exit 125\n' "$repo"
	printf 'exec'
	printf ' %q' "$@"
	printf '\n'
} >"$tmp/ctl/cmd.sh"

: >"$tmp/console.log"
: >"$tmp/out.log"

# no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer
# check can fail and panic the boot ("IO-APIC + timer doesn't work").
append="console=ttyS0,115200 panic=-1 loglevel=4 8250.nr_uarts=1 random.trust_cpu=on no_timer_check"
if [[ $systemd -eq 1 ]]; then
	# The image's initrd mounts /dev/vda (the overlay of the image); the
	# layout's own arguments (systemd-v1: the legacy hierarchy) come with it.
	append+=" root=/dev/vda rw fsck.mode=skip systemd.show_status=error $(cat "$sdimg/kernel_args")"
else
	append+=" rdinit=/init"
fi
append+=" rcrun_vm.layout=$layout ${RCRUN_VM_APPEND:-}"
case "$accel" in
tcg) accel_args=(-accel tcg,thread=multi -cpu "${RCRUN_VM_CPU:-max}") ;;
kvm) accel_args=(-accel kvm -cpu "${RCRUN_VM_CPU:-host}") ;;
*) accel_args=(-accel "$accel" -cpu "${RCRUN_VM_CPU:-max}") ;;
esac

disk_args=()
if [[ $systemd -eq 1 ]]; then
	# A copy-on-write overlay per run: the cached image is never written.
	qemu-img create -q -f qcow2 -F raw -b "$sdimg/disk.raw" "$tmp/root.qcow2" ||
		fail "qemu-img create (overlay of $sdimg/disk.raw) failed"
	disk_args+=(
		-drive "file=$tmp/root.qcow2,if=none,id=root,format=qcow2,cache=unsafe,discard=unmap"
		-device virtio-blk-pci,drive=root,serial=rcrun-root
	)
fi
disk_mb=${RCRUN_VM_DISK_MB:-64}
if [[ $disk_mb -gt 0 ]]; then
	truncate -s "${disk_mb}M" "$tmp/scratch.img"
	disk_args+=(
		-drive "file=$tmp/scratch.img,if=none,id=scratch,format=raw,cache=unsafe,discard=unmap"
		-device virtio-blk-pci,drive=scratch,serial=rcrun-scratch
	)
fi

qargs=(
	-M pc -nodefaults -no-user-config -display none -no-reboot
	"${accel_args[@]}" -smp "$cpus" -m "$mem"
	-kernel "$vmlinux" -initrd "$initrd" -append "$append"
	-serial "file:$tmp/console.log"
	-device virtio-serial-pci,id=vser0
	-chardev "file,id=rcrunout,path=$tmp/out.log"
	-device virtserialport,bus=vser0.0,chardev=rcrunout,name=rcrun.out
	"${disk_args[@]}"
	-virtfs "local,path=$repo,mount_tag=rcrunrepo,security_model=none,multidevs=remap"
	-virtfs "local,path=$tmp/ctl,mount_tag=rcrunctl,security_model=none"
)
if [[ $systemd -eq 0 ]]; then
	qargs+=(-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap")
elif [[ -n ${RCRUN_VM_BIN_DIR:-} ]]; then
	qargs+=(-virtfs "local,path=$(cd "$RCRUN_VM_BIN_DIR" && pwd -P),mount_tag=rcrunbin,security_model=none,readonly=on")
fi

start=$(date +%s.%N)
# If this script is SIGKILLed (no trap runs), qemu gets SIGKILL too.
pdeath=()
if setpriv --help 2>/dev/null | grep -q -- --pdeathsig; then pdeath=(setpriv --pdeathsig KILL --); fi
"${pdeath[@]}" "$qemu" "${qargs[@]}" </dev/null >"$tmp/qemu.log" 2>&1 &
qpid=$!

if [[ ${RCRUN_VM_VERBOSE:-0} == 1 ]]; then
	tail -n +1 -F -s 0.2 --pid="$qpid" "$tmp/console.log" 2>/dev/null | sed -u 's/^/[vm] /' >&2 &
fi

# Stream the output port until qemu exits (the guest powers off after the command) or
# the timeout hits.  The filter prints what is between the markers.
awk_args=()
if awk -W version 2>&1 | grep -qi mawk; then awk_args=(-W interactive); fi
# Run in the background and wait: a trapped signal interrupts `wait` at once,
# whereas a foreground pipeline would delay the trap until it ended.
(
	set +e
	timeout "$timeout_s" tail -n +1 -F -s 0.2 --pid="$qpid" "$tmp/out.log" 2>/dev/null |
		awk "${awk_args[@]}" -v rcfile="$tmp/rc.serial" '
		{ sub(/\r$/, "") }
		!on && /@@RCRUN-VM-START@@/ { on = 1; next }
		on && /@@RCRUN-VM-EXIT [0-9]+@@/ {
			i = index($0, "@@RCRUN-VM-EXIT ")
			if (i > 1) { print substr($0, 1, i - 1); fflush() }
			rc = substr($0, i + 16); sub(/@@.*/, "", rc)
			print rc > rcfile; close(rcfile)
			on = 0; next
		}
		on { print; fflush() }'
	echo "${PIPESTATUS[0]}" >"$tmp/tail.rc"
) &
spid=$!
wait "$spid" || true
tail_rc=$(cat "$tmp/tail.rc" 2>/dev/null || echo 125)
end=$(date +%s.%N)

rc=
if [[ -s $tmp/rc.serial ]]; then
	rc=$(<"$tmp/rc.serial")
elif [[ -s $tmp/ctl/rc ]]; then
	rc=$(<"$tmp/ctl/rc")
fi
elapsed=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')

show_console() {
	err "---- last lines of the guest console ----"
	tail -n "${1:-40}" "$tmp/console.log" >&2 || true
	if [[ -s $tmp/qemu.log ]]; then
		err "---- qemu ----"
		cat "$tmp/qemu.log" >&2
	fi
}

if [[ -z $rc && $tail_rc -eq 124 ]]; then
	err "timeout after ${timeout_s}s (RCRUN_VM_TIMEOUT), killing qemu (pid $qpid)"
	show_console 60
	exit 124
fi
if [[ -z $rc ]]; then
	# qemu ended without the exit marker.
	qrc=0
	wait "$qpid" 2>/dev/null || qrc=$?
	qpid=
	err "VM ended without reporting an exit status (qemu exit $qrc) after ${elapsed}s"
	show_console 60
	exit 125
fi
if ! [[ $rc =~ ^[0-9]+$ ]]; then
	err "garbled exit status '$rc'"
	exit 125
fi
# Give qemu a moment to power off by itself; cleanup kills it otherwise.
for _ in $(seq 1 20); do
	kill -0 "$qpid" 2>/dev/null || break
	sleep 0.25
done
if [[ -s $tmp/ctl/boot-time ]]; then
	err "$layout VM: $(head -n 1 "$tmp/ctl/boot-time")"
fi
err "$layout VM: command exited $rc after ${elapsed}s"
exit "$rc"
exit
}
