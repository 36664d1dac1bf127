#!/usr/bin/env bash
# Build (or find in the cache) the Debian disk image of a systemd VM layout.
#
#   conformance/vm/image.sh <systemd-v2|systemd-v1>   # prints the image dir
#   conformance/vm/image.sh --key <layout>             # prints the recipe hash
#
# The image dir ($RCRUN_VM_CACHE/<layout>-<recipe hash>/) holds:
#   disk.raw     ext4 root filesystem (sparse; the VM boots a qcow2 overlay
#                of it, so the cache stays clean)
#   vmlinuz, initrd.img   the kernel and initrd of the image's own
#                linux-image-amd64 (the kernel the layout boots)
#   manifest     suite, kernel version, package versions
# It is rebuilt when the recipe changes: everything between the "recipe"
# markers below, packaging/docker/daemon-path.json and
# packaging/containerd/config-snippet.toml are hashed.  Images of older
# recipes not used for 14 days are deleted.  Building needs network (the
# Debian mirror, RCRUN_VM_MIRROR), mmdebstrap and e2fsprogs (install-deps.sh
# --vm installs them), and ~3 GB in the cache dir; it takes ~5-10 min.
set -euo pipefail
{

prog=${0##*/}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(cd "$here/../.." && pwd -P)
cache=${RCRUN_VM_CACHE:-${XDG_CACHE_HOME:-/var/tmp}/rcrun-vm}
mirror=${RCRUN_VM_MIRROR:-http://deb.debian.org/debian}

err() { echo "$prog: $*" >&2; }
fail() { err "$*"; exit 125; }

want_key=0
if [[ ${1:-} == --key ]]; then want_key=1; shift; fi
layout=${1:-}

# ---------------------------------------------------------------- recipe ----
# What each layout is.  The distro's own configuration is kept except:
#  - rcrun is registered as the README says (docker daemon.json "runtimes"
#    with path /usr/local/bin/rcrun, containerd's config-snippet.toml);
#  - containerd's CRI runc runtime gets SystemdCgroup = true, the one line the
#    kubeadm docs tell users to add (Debian's config.toml does not set it);
#  - bookworm (cgroup v1): docker 20.10 defaults to cgroupfs on v1, so
#    daemon.json gets "exec-opts": ["native.cgroupdriver=systemd"] (kubeadm
#    docs again); on v2 docker's default is already systemd;
#  - harness plumbing: a fixed machine-id (no first-boot presets on every
#    run), units that only cost boot time masked (timers, getty, ...), a
#    small initrd (MODULES=list: virtio + ext4), and the rcrun-vm units that
#    mount the shares and run the command.
case $layout in
systemd-v2)
	suite=trixie
	# containerd 2.x comes from unstable (trixie has 1.7): that one package
	# is pinned to unstable, everything else is trixie's.
	extra_suites=(unstable)
	pin_unstable=(containerd)
	cgroup_args=""
	docker_exec_opts=""
	# trixie ships the docker CLI in its own package
	layout_packages=(docker-cli)
	;;
systemd-v1)
	suite=bookworm
	extra_suites=()
	pin_unstable=()
	cgroup_args="systemd.unified_cgroup_hierarchy=0"
	docker_exec_opts='native.cgroupdriver=systemd'
	layout_packages=()
	;;
*) err "unknown layout '$layout' (want systemd-v2 or systemd-v1)"; exit 2 ;;
esac
packages=(
	systemd systemd-sysv dbus udev kmod linux-image-amd64 initramfs-tools zstd
	docker.io containerd podman runc crun conmon
	bats jq busybox-static iproute2 procps util-linux e2fsprogs psmisc
	ca-certificates less
	# The Debian kernel enables AppArmor and docker refuses to start a
	# container without apparmor_parser (docker.io recommends apparmor; a
	# standard Debian install has it).
	apparmor
	"${layout_packages[@]}"
)
masked_units=(
	apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer
	e2scrub_reap.service fstrim.timer systemd-tmpfiles-clean.timer man-db.timer
	getty@tty1.service serial-getty@ttyS0.service getty.target
	systemd-timesyncd.service systemd-networkd-wait-online.service
	podman-auto-update.timer podman-restart.service
	systemd-firstboot.service
)
# Kernel command line of the layout (run.sh adds console, root, ...).
kernel_args="$cgroup_args"
# ------------------------------------------------------------ end recipe ----

recipe_key() {
	{
		echo "layout=$layout"
		sed -n '/^# ---.* recipe ----$/,/^# ---.* end recipe ----$/p' "${BASH_SOURCE[0]}"
		sed -n '/^# ---.* customize ----$/,/^# ---.* end customize ----$/p' "${BASH_SOURCE[0]}"
		cat "$repo/packaging/docker/daemon-path.json" "$repo/packaging/containerd/config-snippet.toml"
		cat "$here/sd-units/"*
	} | sha256sum | cut -c1-16
}
key=$(recipe_key)
if [[ $want_key -eq 1 ]]; then echo "$key"; exit 0; fi

img=$cache/$layout-$key
if [[ -s $img/disk.raw && -s $img/manifest ]]; then
	touch "$img/manifest"
	echo "$img"
	exit 0
fi

[[ $(id -u) -eq 0 ]] || fail "building $img needs root"
for t in mmdebstrap mkfs.ext4 sha256sum; do
	command -v "$t" >/dev/null || fail "$t not found (conformance/install-deps.sh --vm)"
done
mkdir -p "$cache"
exec 8>"$cache/.lock-$layout"
flock 8
if [[ -s $img/disk.raw && -s $img/manifest ]]; then echo "$img"; exit 0; fi

err "building the $layout image ($suite) -> $img (network, several minutes)"
t0=$(date +%s)
work=$(mktemp -d "$cache/build-$layout.XXXXXX")
trap 'umount -R "$work/root" 2>/dev/null || true; rm -rf "$work"' EXIT
root=$work/root

# ------------------------------------------------------------- customize ----
mirrors=("deb $mirror $suite main")
for s in "${extra_suites[@]}"; do mirrors+=("deb $mirror $s main"); done
includes=$(IFS=,; echo "${packages[*]}")
# Check-Valid-Until: the mirror may be a snapshot whose unstable Release file
# has expired (unstable's Release is only valid for a week).
aptopts=(--aptopt='APT::Install-Recommends "false"' --aptopt='Acquire::Retries "3"'
	--aptopt='Acquire::Check-Valid-Until "false"')
hooks=(
	# before any package: the small initrd (update-initramfs runs when the
	# kernel is installed) and the apt pins.
	--setup-hook='mkdir -p "$1/etc/initramfs-tools/conf.d" "$1/etc/apt/preferences.d"'
	--setup-hook='printf "MODULES=list\nCOMPRESS=zstd\n" >"$1/etc/initramfs-tools/conf.d/rcrun-vm.conf"'
	--setup-hook='mkdir -p "$1/etc/initramfs-tools" && printf "virtio_pci\nvirtio_blk\next4\n" >"$1/etc/initramfs-tools/modules"'
)
if [[ ${#extra_suites[@]} -gt 0 ]]; then
	# a= (the suite): unstable's codename is sid.
	pin="Package: *\nPin: release n=$suite\nPin-Priority: 900\n\nPackage: *\nPin: release a=unstable\nPin-Priority: 100\n"
	for p in "${pin_unstable[@]}"; do
		pin+="\nPackage: $p\nPin: release a=unstable\nPin-Priority: 990\n"
	done
	hooks+=(--setup-hook="printf '$pin' >\"\$1/etc/apt/preferences.d/rcrun-vm\"")
fi
# An unpinned extra suite must not win: install with the pins in place.
mmdebstrap --variant=minbase --mode=root --format=directory \
	--include="$includes" "${aptopts[@]}" "${hooks[@]}" \
	"$suite" "$root" "${mirrors[@]}" >"$work/mmdebstrap.log" 2>&1 || {
	tail -n 40 "$work/mmdebstrap.log" >&2
	fail "mmdebstrap failed (log above)"
}

# rcrun, registered as the README says (binaries: /usr/local/bin, linked at
# boot to the repo's target/release or RCRUN_VM_BIN_DIR by rcrun-vm-setup).
mkdir -p "$root/etc/docker"
if [[ -n $docker_exec_opts ]]; then
	jq --arg o "$docker_exec_opts" '. + {"exec-opts": [$o]}' "$repo/packaging/docker/daemon-path.json" >"$root/etc/docker/daemon.json"
else
	cp "$repo/packaging/docker/daemon-path.json" "$root/etc/docker/daemon.json"
fi
ctd_cfg=$root/etc/containerd/config.toml
mkdir -p "$(dirname "$ctd_cfg")"
ctd_ver=$(chroot "$root" dpkg-query -W -f='${Version}' containerd)
{
	[[ -s $ctd_cfg ]] && cat "$ctd_cfg" || echo "version = 2"
	echo
	echo "# rcrun (conformance/vm/image.sh): packaging/containerd/config-snippet.toml"
	cat "$repo/packaging/containerd/config-snippet.toml"
	echo
	echo "# kubeadm docs: the systemd cgroup driver for runc"
	echo '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]'
	echo '  runtime_type = "io.containerd.runc.v2"'
	echo '  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]'
	echo '    SystemdCgroup = true'
} >"$work/config.toml"
if [[ -s $ctd_cfg ]]; then cp "$ctd_cfg" "$work/config.toml.debian"; fi
mv "$work/config.toml" "$ctd_cfg"

# Harness plumbing.
echo "rcrun-vm-$layout" >"$root/etc/hostname"
printf '127.0.0.1 localhost rcrun-vm-%s\n::1 localhost\n' "$layout" >"$root/etc/hosts"
echo "rcrunvm$(echo "$layout" | sha256sum | cut -c1-25)" >"$root/etc/machine-id"
: >"$root/etc/fstab"
install -D -m 0755 "$here/sd-units/rcrun-vm-boot" "$root/usr/local/lib/rcrun-vm/boot"
install -m 0644 "$here/sd-units/rcrun-vm-setup.service" "$here/sd-units/rcrun-vm.service" "$root/etc/systemd/system/"
chroot "$root" systemctl enable rcrun-vm-setup.service rcrun-vm.service >/dev/null 2>&1
chroot "$root" systemctl mask "${masked_units[@]}" >/dev/null 2>&1
chroot "$root" systemctl set-default multi-user.target >/dev/null 2>&1
rm -f "$root/etc/apt/apt.conf.d/99mmdebstrap" 2>/dev/null || true
# ---------------------------------------------------------- end customize ----

kver=$(ls -1 "$root/lib/modules" | sort -V | tail -n 1)
[[ -n $kver && -s $root/boot/vmlinuz-$kver && -s $root/boot/initrd.img-$kver ]] ||
	fail "no kernel/initrd in the image (/boot: $(ls "$root/boot" | tr '\n' ' '))"
out=$work/out
mkdir -p "$out"
cp "$root/boot/vmlinuz-$kver" "$out/vmlinuz"
cp "$root/boot/initrd.img-$kver" "$out/initrd.img"
{
	echo "layout=$layout suite=$suite key=$key kver=$kver"
	echo "kernel_args=$kernel_args"
	echo "built=$(date -u +%FT%TZ) in $(($(date +%s) - t0))s"
	chroot "$root" dpkg-query -W -f='${Package}=${Version}\n' \
		systemd linux-image-amd64 docker.io containerd podman runc crun conmon bats jq busybox-static
	[[ -f $work/config.toml.debian ]] && echo "containerd config.toml (Debian's) kept + rcrun snippet + runc SystemdCgroup"
} >"$out/manifest.tmp"
echo "$kernel_args" >"$out/kernel_args"

size_mb=$(($(du -sm "$root" | cut -f1) + ${RCRUN_VM_IMAGE_FREE_MB:-3072}))
mkfs.ext4 -q -F -L rcrun-root -d "$root" "$out/disk.raw" "${size_mb}M" >&2 ||
	fail "mkfs.ext4 -d failed"
mv "$out/manifest.tmp" "$out/manifest"
rm -rf "$img"
mv "$out" "$img"
err "built $img in $(($(date +%s) - t0))s ($(du -sh "$img/disk.raw" | cut -f1) used)"

# Images of other recipes not used for 14 days.
find "$cache" -maxdepth 1 -type d -name "$layout-*" ! -name "$layout-$key" -mtime +14 -exec rm -rf {} + 2>/dev/null || true
echo "$img"
exit 0
}
