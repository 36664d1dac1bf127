#!/usr/bin/env bash
# Opt-in: rcrun and the shim linked statically (glibc's static PIE,
# libseccomp.a). `cargo build --release` is the build; this one starts each
# rcrun process ~1 ms sooner (no dynamic loader, no symbol binding; measured
# in docs/benchmarks.md, section 3). Needs libseccomp-dev (libseccomp.a)
# and glibc's static libraries (libc6-dev).
#
#   packaging/build-static.sh [cargo build options]
#
# crt-static cannot build proc-macros, so the host triple is named: the
# static flags then apply to the binaries' crates only, and the binaries
# land in target/<triple>/release/ (install them with
# `packaging/install.sh --from target/<triple>/release`).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$repo"
triple=$(rustc -vV | sed -n 's/^host: //p')
multiarch=$(gcc -print-multiarch 2>/dev/null || true)
libdir=/usr/lib/${multiarch:-}
[[ -f $libdir/libseccomp.a ]] || { echo "build-static.sh: $libdir/libseccomp.a missing (apt-get install libseccomp-dev)" >&2; exit 1; }
export RUSTFLAGS="-C target-feature=+crt-static ${RUSTFLAGS:-}"
export LIBSECCOMP_LINK_TYPE=static LIBSECCOMP_LIB_PATH=$libdir
cargo build --release --target "$triple" "$@"
echo "build-static.sh: binaries in target/$triple/release/"
