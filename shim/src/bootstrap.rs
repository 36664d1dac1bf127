//! Which task API containerd gets: v2 or v3.
//!
//! The task API v3 (`containerd.task.v3.Task`, containerd >= 2.0) has the
//! same messages as v2 under another service name, so the serving shim
//! registers the one implementation under both names.
//!
//! What differs is the start handshake. A plain address on stdout means
//! "task API v2 over ttrpc" to every containerd; containerd 2.x also reads
//! `{"version":3,"address":…,"protocol":"ttrpc"}` and then speaks v3, but
//! containerd 1.7 refuses that answer ("unsupported shim version (3)") and
//! 1.6 takes the JSON for a socket path. containerd tells a shim nothing
//! about its own version (2.x sets the same `MAX_SHIM_VERSION=2` as 1.7), so
//! the `start` action reads it from the binary containerd names as
//! `-publish-binary` (its own executable): the Go build information of
//! containerd 2.x names the module `github.com/containerd/containerd/v2`.
//! Anything unreadable or unknown gets the v2 answer, which all accept.
//!
//! `RCRUN_SHIM_TASK_API=2|3` in containerd's environment (it passes its
//! environment on to shims) forces one answer.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

use containerd_shim_protos::shim_async::{create_task, Task};
use containerd_shim_protos::ttrpc::r#async::Service;

pub const TASK_V2: &str = "containerd.task.v2.Task";
pub const TASK_V3: &str = "containerd.task.v3.Task";
pub const FORCE_ENV: &str = "RCRUN_SHIM_TASK_API";

/// The task service under its v2 and its v3 name.
pub fn task_services(svc: Arc<dyn Task + Send + Sync>) -> HashMap<String, Service> {
    let mut services = create_task(svc.clone());
    if let Some(v3) = create_task(svc).remove(TASK_V2) {
        services.insert(TASK_V3.to_string(), v3);
    }
    services
}

/// The task API version to announce to the containerd at `publish_binary`.
pub fn task_api_version(publish_binary: &str) -> u32 {
    match std::env::var(FORCE_ENV).as_deref() {
        Ok("2") => return 2,
        Ok("3") => return 3,
        _ => {}
    }
    match containerd_major(Path::new(publish_binary)) {
        Some(major) if major >= 2 => 3,
        _ => 2,
    }
}

/// What `start` prints: the bare address for v2, the bootstrap JSON for v3.
pub fn start_answer(address: &str, version: u32) -> String {
    if version < 3 {
        return address.to_string();
    }
    serde_json::json!({"version": version, "address": address, "protocol": "ttrpc"}).to_string()
}

/// The major version of containerd's Go module (`…/containerd/v2/…` → 2,
/// the bare `…/containerd/…` → 1) from the binary's `.go.buildinfo`
/// section: its main package path (`path\t…/cmd/containerd`; Debian's
/// builds carry no `mod` line), else its main module.
pub fn containerd_major(binary: &Path) -> Option<u32> {
    let modinfo = go_modinfo(binary)?;
    let main = modinfo.lines().find_map(|l| {
        l.strip_prefix("path\t")
            .or_else(|| l.strip_prefix("mod\t"))
            .and_then(|v| v.split('\t').next())
    })?;
    module_major(main)
}

/// `github.com/containerd/containerd[/vN][/…]` → N (1 without /vN).
fn module_major(path: &str) -> Option<u32> {
    let rest = path.strip_prefix("github.com/containerd/containerd")?;
    if rest.is_empty() {
        return Some(1);
    }
    let rest = rest.strip_prefix('/')?;
    let first = rest.split('/').next()?;
    match first.strip_prefix('v').map(str::parse::<u32>) {
        Some(Ok(n)) if n >= 2 => Some(n),
        _ => Some(1),
    }
}

/// Go's build information (`go version -m`): the module lines of an ELF64
/// little-endian Go >= 1.18 binary (inline strings), or None.
fn go_modinfo(binary: &Path) -> Option<String> {
    let mut f = File::open(binary).ok()?;
    let mut eh = [0u8; 64];
    f.read_exact(&mut eh).ok()?;
    // ELF64 (class 2), little-endian (data 1)
    if &eh[..4] != b"\x7fELF" || eh[4] != 2 || eh[5] != 1 {
        return None;
    }
    let shoff = u64::from_le_bytes(eh[0x28..0x30].try_into().ok()?);
    let shentsize = u16::from_le_bytes([eh[0x3a], eh[0x3b]]) as u64;
    let shnum = u16::from_le_bytes([eh[0x3c], eh[0x3d]]) as u64;
    let shstrndx = u16::from_le_bytes([eh[0x3e], eh[0x3f]]) as u64;
    if shentsize < 64 || shnum == 0 || shnum > 4096 || shstrndx >= shnum {
        return None;
    }
    let mut sh = vec![0u8; (shentsize * shnum) as usize];
    f.seek(SeekFrom::Start(shoff)).ok()?;
    f.read_exact(&mut sh).ok()?;
    // (name offset, file offset, size) of section i
    let section = |i: u64| -> Option<(u32, u64, u64)> {
        let s = sh.get((i * shentsize) as usize..(i * shentsize + 64) as usize)?;
        Some((
            u32::from_le_bytes(s[0..4].try_into().ok()?),
            u64::from_le_bytes(s[24..32].try_into().ok()?),
            u64::from_le_bytes(s[32..40].try_into().ok()?),
        ))
    };
    let (_, stroff, strsize) = section(shstrndx)?;
    let names = read_at(&mut f, stroff, strsize.min(1 << 16))?;
    let (off, size) = (0..shnum).find_map(|i| {
        let (name, off, size) = section(i)?;
        let n = names.get(name as usize..)?;
        n.starts_with(b".go.buildinfo\0").then_some((off, size))
    })?;
    let info = read_at(&mut f, off, size.min(1 << 16))?;
    // "\xff Go buildinf:", pointer size, flags (bit 1: strings inline)
    if info.len() < 32 || &info[..14] != b"\xff Go buildinf:" || info[15] & 2 == 0 {
        return None;
    }
    let (_go_version, rest) = varint_string(&info[32..])?;
    let (mut modinfo, _) = varint_string(rest)?;
    // framed by two 16-byte sentinels (as `go version -m` strips them)
    if modinfo.len() >= 33 && modinfo[modinfo.len() - 17] == b'\n' {
        modinfo = &modinfo[16..modinfo.len() - 16];
    }
    Some(String::from_utf8_lossy(modinfo).into_owned())
}

fn read_at(f: &mut File, off: u64, len: u64) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; len as usize];
    f.seek(SeekFrom::Start(off)).ok()?;
    f.read_exact(&mut buf).ok()?;
    Some(buf)
}

/// A uvarint length followed by that many bytes; returns them and the rest.
fn varint_string(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let (mut len, mut shift, mut i) = (0u64, 0u32, 0usize);
    loop {
        let byte = *b.get(i)?;
        len |= u64::from(byte & 0x7f) << shift;
        i += 1;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    let end = i.checked_add(usize::try_from(len).ok()?)?;
    Some((b.get(i..end)?, b.get(end..)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn answers() {
        assert_eq!(start_answer("unix:///s/x", 2), "unix:///s/x");
        let v: serde_json::Value = serde_json::from_str(&start_answer("unix:///s/x", 3)).unwrap();
        assert_eq!(v["version"], 3);
        assert_eq!(v["address"], "unix:///s/x");
        assert_eq!(v["protocol"], "ttrpc");
    }

    #[test]
    fn varints() {
        assert_eq!(varint_string(b"\x02abc"), Some((&b"ab"[..], &b"c"[..])));
        assert_eq!(varint_string(b"\x05ab"), None);
        assert_eq!(varint_string(b"\xff\xff"), None);
    }

    #[test]
    fn module_paths() {
        let m = |p| module_major(p);
        assert_eq!(
            m("github.com/containerd/containerd/v2/cmd/containerd"),
            Some(2)
        );
        assert_eq!(m("github.com/containerd/containerd/v3"), Some(3));
        assert_eq!(
            m("github.com/containerd/containerd/cmd/containerd"),
            Some(1)
        );
        assert_eq!(m("github.com/containerd/containerd"), Some(1));
        assert_eq!(m("github.com/containerd/containerd-shim"), None);
        assert_eq!(m("github.com/moby/moby/cmd/dockerd"), None);
    }

    #[test]
    fn not_go_binaries_are_v2() {
        assert_eq!(containerd_major(Path::new("/nonexistent")), None);
        assert_eq!(containerd_major(Path::new("/bin/sh")), None);
        assert_eq!(task_api_version("/bin/sh"), 2);
    }

    /// The system's containerd (Debian 12: 1.6), when there is one.
    #[test]
    fn system_containerd() {
        let bin = Path::new("/usr/bin/containerd");
        if !bin.exists() {
            // as runtime/src/test_skip.rs: a failure in CI, a loud line elsewhere
            let required = std::env::var("RCRUN_TEST_REQUIRE_ROOT").as_deref() == Ok("1");
            assert!(
                !required,
                "no /usr/bin/containerd (RCRUN_TEST_REQUIRE_ROOT=1)"
            );
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED system_containerd: no /usr/bin/containerd"
            );
            return;
        }
        assert_eq!(containerd_major(bin), Some(1));
    }
}
