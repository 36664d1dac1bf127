//! Build metadata for `rcrun --version`:
//! - RCRUN_COMMIT: the git commit (from the environment when set, e.g. by a
//!   packaging script building from a tarball; else `git rev-parse`; else
//!   "unknown").
//! - RCRUN_LIBCONTAINER_VERSION: the libcontainer version in Cargo.lock.
//!
//! And how the `rcrun` binary is linked: see `link_layout`.
use std::path::{Path, PathBuf};
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn commit(manifest: &Path) -> String {
    println!("cargo:rerun-if-env-changed=RCRUN_COMMIT");
    if let Ok(c) = std::env::var("RCRUN_COMMIT") {
        if !c.is_empty() {
            return c;
        }
    }
    let Some(git_dir) = git(manifest, &["rev-parse", "--absolute-git-dir"]) else {
        return "unknown".to_string();
    };
    // Rebuild when HEAD moves: HEAD itself, the branch it points to, and
    // packed-refs (where the branch may live after `git gc`).
    let git_dir = PathBuf::from(git_dir);
    println!("cargo:rerun-if-changed={}", git_dir.join("HEAD").display());
    println!(
        "cargo:rerun-if-changed={}",
        git_dir.join("packed-refs").display()
    );
    if let Some(r) = git(manifest, &["symbolic-ref", "-q", "HEAD"]) {
        println!("cargo:rerun-if-changed={}", git_dir.join(r).display());
    }
    git(manifest, &["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".to_string())
}

fn libcontainer_version(manifest: &Path) -> String {
    let lock = manifest.join("..").join("Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let Ok(text) = std::fs::read_to_string(&lock) else {
        return "unknown".to_string();
    };
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if l.trim() == "name = \"libcontainer\"" {
            if let Some(v) = lines
                .next()
                .and_then(|v| v.trim().strip_prefix("version = "))
            {
                return v.trim_matches('"').to_string();
            }
        }
    }
    "unknown".to_string()
}

/// How release builds of the `rcrun` binary are linked, for a small RSS
/// (docs/benchmarks.md, §3). Only with lld, rustc's default linker on
/// x86_64-unknown-linux-gnu since 1.90; RCRUN_NO_LINK_LAYOUT=1 turns both
/// off (another linker, say).
/// - The functions a container's lifecycle runs (hot-symbols.txt, made by
///   conformance/bench/hot-symbols.sh) go first and together. The kernel
///   maps 64 KiB or more of a binary around each page a process faults on,
///   so scattered hot code keeps most of the 7 MB of text resident.
/// - Relative relocations packed as DT_RELR (glibc >= 2.36): the dynamic
///   loader reads ~8 KB instead of the 0.5 MB of RELA entries that a PIE
///   of this size carries.
fn link_layout(manifest: &Path) {
    println!("cargo:rerun-if-env-changed=RCRUN_NO_LINK_LAYOUT");
    let file = manifest.join("hot-symbols.txt");
    println!("cargo:rerun-if-changed={}", file.display());
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    if env("PROFILE") != "release"
        || env("TARGET") != "x86_64-unknown-linux-gnu"
        || !env("RCRUN_NO_LINK_LAYOUT").is_empty()
    {
        return;
    }
    println!("cargo:rustc-link-arg-bin=rcrun=-Wl,-z,pack-relative-relocs");
    if file.is_file() {
        // A name the build no longer has is skipped: a stale list costs
        // RSS, not correctness, so lld's warning about it is off.
        println!(
            "cargo:rustc-link-arg-bin=rcrun=-Wl,--symbol-ordering-file={},--no-warn-symbol-ordering",
            file.display()
        );
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-env=RCRUN_COMMIT={}", commit(&manifest));
    println!(
        "cargo:rustc-env=RCRUN_LIBCONTAINER_VERSION={}",
        libcontainer_version(&manifest)
    );
    link_layout(&manifest);
}
