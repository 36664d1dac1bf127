//! Build metadata for `rcrun --version`:
//! - RCRUN_COMMIT: the git commit (from the environment when set, e.g. by a
//!   packaging script building from a tarball; else `git rev-parse`; else
//!   "unknown").
//! - RCRUN_LIBCONTAINER_VERSION: the libcontainer version in Cargo.lock.
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
    if git(manifest, &["rev-parse", "--git-dir"]).is_none() {
        return "unknown".to_string();
    }
    // Rebuild when HEAD moves: HEAD itself, the branch it points to, and
    // packed-refs (where the branch may live after `git gc`). `--git-path`
    // resolves each in the right place (a worktree keeps its HEAD apart from
    // the refs). Only files that exist are watched: cargo reruns a build
    // script at every build while a watched path is missing.
    let mut watch = vec!["HEAD".to_string(), "packed-refs".to_string()];
    watch.extend(git(manifest, &["symbolic-ref", "-q", "HEAD"]));
    for name in watch {
        if let Some(p) = git(manifest, &["rev-parse", "--git-path", &name]) {
            let p = manifest.join(p);
            if p.exists() {
                println!("cargo:rerun-if-changed={}", p.display());
            }
        }
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

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-env=RCRUN_COMMIT={}", commit(&manifest));
    println!(
        "cargo:rustc-env=RCRUN_LIBCONTAINER_VERSION={}",
        libcontainer_version(&manifest)
    );
}
