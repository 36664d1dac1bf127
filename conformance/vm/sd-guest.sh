#!/bin/bash
# conformance/vm systemd layouts: the guest side, copied onto the control
# share by run.sh every run (the image only has the tiny rcrun-vm-boot that
# execs it, so changing this file does not rebuild the image).
#
#   sd-guest.sh setup   (rcrun-vm-setup.service, before docker/containerd)
#       mount the repo (9p, read-write) at its host path and, when run.sh
#       was given RCRUN_VM_BIN_DIR, that dir (read-only) at its host path;
#       install rcrun and containerd-shim-rcrun-v2 from it (default: the
#       repo's target/release) into /usr/local/bin, where the image's
#       daemon.json / containerd config.toml expect them (as install.sh does).
#   sd-guest.sh run     (rcrun-vm.service, after multi-user.target)
#       run the command with its output on the rcrun.out virtio port between
#       the markers run.sh waits for, record the status, power off.
CTL=/run/rcrun-vm/ctl
P9OPTS=trans=virtio,version=9p2000.L,msize=512000
say() { echo "rcrun-vm: $*" >/dev/console; }
. "$CTL/config" || { say "no $CTL/config"; exit 1; }

find_outdev() {
	local n d
	for n in /sys/class/virtio-ports/*/name; do
		[[ -r $n && $(<"$n") == rcrun.out ]] || continue
		d=${n%/name}
		echo "/dev/${d##*/}"
		return 0
	done
	return 1
}

setup() {
	mkdir -p "$RCRUN_VM_REPO"
	mount -t 9p -o "$P9OPTS,cache=mmap" rcrunrepo "$RCRUN_VM_REPO" || { say "cannot mount the repo"; return 1; }
	local bin=$RCRUN_VM_REPO/target/release b
	if [[ -n ${RCRUN_VM_BIN_DIR:-} ]]; then
		mkdir -p "$RCRUN_VM_BIN_DIR"
		mount -t 9p -o "$P9OPTS,ro,cache=mmap" rcrunbin "$RCRUN_VM_BIN_DIR" || { say "cannot mount $RCRUN_VM_BIN_DIR"; return 1; }
		bin=$RCRUN_VM_BIN_DIR
	fi
	for b in rcrun containerd-shim-rcrun-v2; do
		if [[ -x $bin/$b ]]; then
			install -m 0755 "$bin/$b" "/usr/local/bin/$b"
		else
			say "warning: no $bin/$b (not installed)"
		fi
	done
	echo "$bin" >/run/rcrun-vm/bin-dir
}

# One line for run.sh: seconds from kernel start to systemd (kernel + initrd),
# to multi-user.target, to now (the command starts).
boot_times() {
	local us mu up
	us=$(systemctl show --value -p UserspaceTimestampMonotonic)
	mu=$(systemctl show --value -p ActiveEnterTimestampMonotonic multi-user.target)
	read -r up _ </proc/uptime
	awk -v us="$us" -v mu="$mu" -v up="$up" 'BEGIN {
		printf "booted: kernel+initrd %.1fs, multi-user.target at %.1fs, command at %.1fs\n", us / 1e6, mu / 1e6, up }'
}

run() {
	local out rc
	out=$(find_outdev) || { say "no rcrun.out virtio port"; systemctl poweroff -ff; }
	boot_times >"$CTL/boot-time" 2>/dev/null || true
	printf '@@RCRUN-VM-START@@\n' >"$out"
	set -o pipefail
	/bin/bash "$CTL/cmd.sh" </dev/null 2>&1 | cat >"$out"
	rc=$?
	set +o pipefail
	echo "$rc" >"$CTL/rc"
	sync
	printf '@@RCRUN-VM-EXIT %s@@\n' "$rc" >"$out"
	say "command exited with status $rc, powering off"
	systemctl poweroff -ff
}

case $1 in
setup) setup ;;
run) run ;;
*) exit 2 ;;
esac
