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
/// - Relative relocations packed as DT_RELR (glibc >= 2.36): the start
///   code (static PIE; ld.so for a dynamic one) reads ~8 KB instead of the
///   0.5 MB of RELA entries that a PIE of this size carries.
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
    let Ok(list) = std::fs::read_to_string(&file) else {
        return;
    };
    let script = PathBuf::from(env("OUT_DIR")).join("hot-text.ld");
    if std::fs::write(&script, hot_text_script(&list)).is_ok() {
        println!("cargo:rustc-link-arg-bin=rcrun=-Wl,-T,{}", script.display());
    }
}

/// A linker script that puts the listed functions' sections, in the list's
/// order, into an output section of their own ahead of `.text`.
///
/// Not lld's --symbol-ordering-file: that wants exact names, and a Rust
/// symbol's hashes change with cargo's `-C metadata` (`-p rcrun` against
/// the whole workspace, RUSTFLAGS, the toolchain): the list silently
/// stopped matching. Here each hash is a wildcard. The names are v0 (asked
/// for in .cargo/config.toml: they spell out generic arguments, so each
/// instance keeps a name of its own; legacy names hash them, and a build
/// with legacy names simply matches nothing here): a crate's
/// `Cs<base62>_` and the back-references `B<base62>_` that move with it
/// become wildcards. C code has no section
/// per function: `_start` is placed by its object (crt1.o), static
/// libraries' code by archive member ("libc.a:malloc.o" lines, written by
/// hot-symbols.sh for a static binary); `_init` and the like stay put.
fn hot_text_script(list: &str) -> String {
    let mut out = String::from("SECTIONS {\n  .text.hot : {\n");
    for name in list.lines().map(str::trim) {
        if let Some((archive, member)) = name.split_once(':') {
            // a member of a static C library (libc.a:malloc.o): C objects
            // are not built with a section per function. glibc keeps the
            // code that frees its caches at exit in a section of its own.
            out.push_str(&format!(
                "    *{archive}:{member}(.text .text.* __libc_freeres_fn)\n"
            ));
            continue;
        }
        let pattern = if name.starts_with("_R") {
            wildcard_hashes(name)
        } else if name == "_start" {
            // crt1.o (Scrt1.o for a PIE, rcrt1.o for a static PIE)
            out.push_str("    *crt1.o(.text)\n");
            continue;
        } else if name == "main" {
            name.to_string()
        } else {
            continue;
        };
        // #[cold] functions (grow_one, ...) are in .text.unlikely.<name>;
        // whether ThinLTO promotes a local (and suffixes it) varies by build.
        out.push_str("    *(");
        for prefix in [".text.", ".text.unlikely."] {
            for suffix in ["", ".llvm.*"] {
                out.push_str(&format!(" {prefix}{pattern}{suffix}"));
            }
        }
        out.push_str(" )\n");
    }
    // Static glibc: whatever of libc's exit-time cleanup the list missed
    // (2.5 KB in all; a section of its own, out of the way otherwise).
    out.push_str("    *(__libc_freeres_fn)\n");
    out.push_str("  }\n}\nINSERT BEFORE .text;\n");
    out
}

/// `name`, a v0 symbol, with its crate hashes and back-references as `*`.
fn wildcard_hashes(name: &str) -> String {
    // ThinLTO's promoted-local suffix: hot_text_script adds ".llvm.*".
    let name = match name.find(".llvm.") {
        Some(i) => &name[..i],
        None => name,
    };
    let b = name.as_bytes();
    let mut out = String::with_capacity(name.len() + 8);
    let mut i = 0;
    while i < b.len() {
        // v0: a crate root "C", disambiguator "s<base62>_", then the
        // crate's name (its length first). The same bytes inside an
        // identifier would only make the pattern wider.
        if b[i] == b'C' && b.get(i + 1) == Some(&b's') {
            if let Some(len) = b[i + 2..].iter().position(|&c| c == b'_') {
                if b[i + 2..i + 2 + len].iter().all(u8::is_ascii_alphanumeric)
                    && b.get(i + 3 + len).is_some_and(u8::is_ascii_digit)
                {
                    out.push_str("Cs*_");
                    i += 2 + len + 1;
                    continue;
                }
            }
        }
        // v0: a back-reference "B<base62>_" is an offset into the name,
        // so it moves when a crate hash before it changes length
        if b[i] == b'B' {
            if let Some(len) = b[i + 1..].iter().take(7).position(|&c| c == b'_') {
                if b[i + 1..i + 1 + len].iter().all(u8::is_ascii_alphanumeric) {
                    out.push_str("B*_");
                    i += 1 + len + 1;
                    continue;
                }
            }
        }
        out.push(b[i] as char);
        i += 1;
    }
    out
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
