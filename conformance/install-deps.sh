#!/usr/bin/env bash
# Install what building rcrun and running the conformance suite needs on
# Debian 12 (run as root).  Idempotent and quick when everything is there:
# apt is only touched when a package is missing.
#
#   conformance/install-deps.sh          build + suite deps (+ Rust if no cargo)
#   conformance/install-deps.sh --vm     also what conformance/vm/ needs (qemu)
#   conformance/install-deps.sh --ci     also rustfmt + clippy
set -euo pipefail

want_vm=0 want_ci=0
for a in "$@"; do
	case $a in
	--vm) want_vm=1 ;;
	--ci) want_ci=1 ;;
	-h | --help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "install-deps.sh: unknown option $a" >&2; exit 2 ;;
	esac
done

if [[ $(id -u) -ne 0 ]]; then
	echo "install-deps.sh: must run as root" >&2
	exit 2
fi

pkgs=(
	# runtimes / container stack
	docker.io containerd runc crun
	# suite
	busybox-static bats jq
	# rcrun build
	build-essential pkg-config libseccomp-dev libelf-dev zlib1g-dev
	# misc used by scripts
	ca-certificates curl util-linux procps
)
if [[ $want_vm -eq 1 ]]; then
	# the guest kernel: conformance/vm/run.sh boots the newest /boot/vmlinuz-*
	pkgs+=(qemu-system-x86 cpio xz-utils linux-image-amd64)
	# the systemd layouts: conformance/vm/image.sh builds Debian images (each
	# boots the kernel of its own image) and run.sh a qcow2 overlay per run
	pkgs+=(mmdebstrap qemu-utils e2fsprogs zstd debian-archive-keyring)
fi

missing=()
for p in "${pkgs[@]}"; do
	if [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) != "install ok installed" ]]; then
		missing+=("$p")
	fi
done
if [[ ${#missing[@]} -gt 0 ]]; then
	echo "install-deps.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
else
	echo "install-deps.sh: all packages present"
fi

# Rust: Debian 12's rustc (1.63) is too old for the workspace's dependencies;
# use rustup's stable toolchain when there is no cargo on PATH.
if ! command -v cargo >/dev/null 2>&1 && [[ -x $HOME/.cargo/bin/cargo ]]; then
	export PATH=$HOME/.cargo/bin:$PATH
fi
if ! command -v cargo >/dev/null 2>&1; then
	echo "install-deps.sh: installing the Rust stable toolchain with rustup"
	curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
		sh -s -- -y --profile minimal --default-toolchain stable
	export PATH=$HOME/.cargo/bin:$PATH
fi
if [[ $want_ci -eq 1 ]]; then
	if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
		if command -v rustup >/dev/null 2>&1; then
			rustup component add rustfmt clippy
		else
			echo "install-deps.sh: cargo fmt/clippy missing and no rustup to add them" >&2
			exit 1
		fi
	fi
fi
echo "install-deps.sh: ok ($(cargo --version))"
