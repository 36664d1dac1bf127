#!/usr/bin/env bash
# Build a Debian package of rcrun (+ containerd-shim-rcrun-v2 when built)
# with dpkg-deb; no other packaging tool is needed.
#
#   bash packaging/build-deb.sh [--no-build] [--from DIR] [--out DIR]
#
#   --no-build   use target/release as it is (default: cargo build --release)
#   --from DIR   take the binaries from DIR (implies --no-build)
#   --out DIR    where to write the .deb (default: target/deb)
#
# Prints the path of the package on the last line.  The package installs
# /usr/bin/rcrun, /usr/bin/containerd-shim-rcrun-v2 (if it was built), shell
# completions, and the config snippets under /usr/share/doc/rcrun/examples
# (with /usr/bin paths).  It changes no docker/containerd configuration:
#
#   dpkg -i target/deb/rcrun_*.deb      # install
#   dpkg -r rcrun                       # remove (nothing is left)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$repo"

build_args=()
out=$repo/target/deb
die() { echo "build-deb.sh: $*" >&2; exit 1; }
while [[ $# -gt 0 ]]; do
	case $1 in
	--no-build) build_args+=(--no-build); shift ;;
	--from) [[ $# -ge 2 ]] || die "--from needs a directory"; build_args+=(--from "$2"); shift 2 ;;
	--out) [[ $# -ge 2 ]] || die "--out needs a directory"; out=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
done
command -v dpkg-deb >/dev/null || die "dpkg-deb not found (a Debian/Ubuntu host is needed)"

stage=$(mktemp -d "${TMPDIR:-/tmp}/rcrun-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
root=$stage/root

# Binaries and completions, staged by the installer itself.
bash "$repo/packaging/install.sh" --prefix /usr --destdir "$root" "${build_args[@]}" >&2
rcrun=$root/usr/bin/rcrun
[[ -x $rcrun ]] || die "staging failed: $rcrun missing"

version=$(sed -n 's/^version[[:space:]]*=[[:space:]]*"\(.*\)"/\1/p' Cargo.toml | head -n1)
[[ -n $version ]] || die "no version in Cargo.toml [workspace.package]"
arch=$(dpkg --print-architecture)
commit=$("$rcrun" --version | sed -n 's/^commit: //p')
# Maintainer: RCRUN_DEB_MAINTAINER, else the author of the commit built.
maintainer=${RCRUN_DEB_MAINTAINER:-$(git -C "$repo" log -1 --format='%an <%ae>' 2>/dev/null || true)}
maintainer=${maintainer:-rcrun maintainers <root@localhost>}

# Documentation and examples (snippets rewritten for /usr/bin).
doc=$root/usr/share/doc/rcrun
mkdir -p "$doc/examples/docker" "$doc/examples/containerd" "$doc/examples/k8s" "$doc/examples/podman"
install -m 0644 README.md "$doc/README.md"
[[ -f docs/errors.md ]] && install -m 0644 docs/errors.md "$doc/errors.md"
for f in packaging/docker/*.json packaging/containerd/*.toml packaging/k8s/*.yaml packaging/podman/*.conf; do
	[[ -f $f ]] || continue
	sed 's|/usr/local/bin/|/usr/bin/|g' "$f" >"$doc/examples/${f#packaging/}"
	chmod 0644 "$doc/examples/${f#packaging/}"
done
cat >"$doc/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: rcrun
Source: built from commit $commit

Files: *
License: Apache-2.0
 On Debian systems the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
EOF
chmod 0644 "$doc/copyright"

# Shared-library dependencies: the packages owning what the binaries link.
# ldd may name a library by a path dpkg does not know (/lib/... on a
# merged-/usr system where the package ships /usr/lib/...): then the file
# it resolves to is asked for.
deps=()
for bin in "$root"/usr/bin/*; do
	while read -r lib; do
		pkg=$({ dpkg -S "$lib" || dpkg -S "$(readlink -f "$lib")"; } 2>/dev/null | head -n1 | cut -d: -f1) || true
		[[ -n $pkg ]] && deps+=("$pkg")
	done < <(ldd "$bin" 2>/dev/null | awk '/=> \// { print $3 }')
done
mapfile -t deps < <(printf '%s\n' "${deps[@]}" | sort -u)
depends=""
for p in "${deps[@]}"; do
	[[ -z $p ]] && continue
	if [[ $p == libc6 ]]; then
		v=$(dpkg-query -W -f '${Version}' libc6 2>/dev/null | sed 's/-[^-]*$//')
		p="libc6 (>= ${v:-2.31})"
	fi
	depends+="${depends:+, }$p"
done

shim_note="containerd-shim-rcrun-v2 (containerd runtime type io.containerd.rcrun.v2)"
[[ -x $root/usr/bin/containerd-shim-rcrun-v2 ]] || shim_note="(the containerd shim was not built into this package)"
size=$(du -sk "$root" | cut -f1)
mkdir -p "$root/DEBIAN"
cat >"$root/DEBIAN/control" <<EOF
Package: rcrun
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: ${depends:-libc6}
Suggests: docker.io | containerd
Section: admin
Priority: optional
Description: OCI container runtime with cgroup limits and OOM kills done right
 rcrun is a drop-in replacement for runc (same command line, state JSON and
 log format) that writes linux.resources correctly on cgroup v1, v2 and
 hybrid hosts, reports OOM kills as exit status 137 and OOM events, and
 explains them (rcrun oom-report).
 Also contains $shim_note.
 .
 Configuration snippets for docker, containerd and Kubernetes are in
 /usr/share/doc/rcrun/examples; this package does not change any
 daemon configuration.
 .
 Built from commit $commit.
EOF
# Directories 0755, files as staged; owned by root in the archive.
find "$root" -type d -exec chmod 0755 {} +

mkdir -p "$out"
deb=$out/rcrun_${version}_${arch}.deb
dpkg-deb --root-owner-group --build "$root" "$deb" >&2
echo "$deb"
