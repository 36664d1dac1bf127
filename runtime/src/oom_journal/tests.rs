//! The journal's rules on real files in a temp dir: bounded, no
//! duplicates, no symlink followed, the latest instance found.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::PathBuf;

use super::file::Files;
use super::*;
use crate::cgroups::{CgroupSet, Layout};
use crate::kmsg_oom::OomKill;

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rcrun-oomj-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    let _ = std::fs::create_dir_all(&d);
    d
}

fn state(id: &str, created: &str) -> ContainerState {
    ContainerState {
        id: id.into(),
        bundle: "/b".into(),
        rootfs: "/b/rootfs".into(),
        pid: 4242,
        pid_start_time: 0,
        created: created.into(),
        owner: String::new(),
        annotations: Default::default(),
        started: true,
        cgroups: CgroupSet {
            layout: Layout::V1,
            dirs: Vec::new(),
            created: Vec::new(),
            systemd: None,
        },
        starter: None,
    }
}

fn account(kills: u64) -> OomAccount {
    OomAccount {
        memcg: "/t/c".into(),
        oom_kills: kills,
        init_oom_killed: true,
        oom_cgroup: Some("/t/c".into()),
        limit_hit_by_ancestor: false,
        counters: None,
        frozen_at_limit: None,
        kills: (0..kills)
            .map(|i| OomKill {
                pid: 4242 + i as i32,
                command: "dd".into(),
                oom_memcg: "/t/c".into(),
                task_memcg: "/t/c".into(),
                usage_kb: Some(131072),
                limit_kb: Some(131072),
                failcnt: Some(35),
                anon_rss_kb: 130000,
                ..Default::default()
            })
            .collect(),
    }
}

/// Appends an account of `kills` kills: Some(written), None on error.
fn put(f: &Files, st: &ContainerState, kills: u64, by: Writer, deleted: bool) -> Option<bool> {
    append(f, entry(st, Some(&account(kills)), by, deleted)).ok()
}

fn lines(f: &Files) -> Vec<Entry> {
    f.read_lines()
        .unwrap_or_default()
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn rotation_keeps_it_bounded_and_the_newest() {
    let d = tmpdir("rot");
    let cap = 8 * 1024;
    let f = Files::with_cap(&d, cap);
    for i in 0..400 {
        let st = state(&format!("c{i}"), "t0");
        assert_eq!(put(&f, &st, 1, Writer::Shim, false), Some(true));
        let cur = std::fs::metadata(d.join(JOURNAL))
            .map(|m| m.len())
            .unwrap_or(0);
        let old = std::fs::metadata(d.join(ROTATED))
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(
            cur <= cap && old <= cap,
            "entry {i}: {cur} + {old} bytes, cap {cap}"
        );
    }
    let ids: Vec<String> = lines(&f).into_iter().map(|e| e.id).collect();
    assert_eq!(ids.last().map(String::as_str), Some("c399"));
    assert!(
        !ids.contains(&"c0".to_string()),
        "oldest entries rotated out"
    );
    assert!(ids.len() > 5, "{} entries kept", ids.len());
    for name in [JOURNAL, ROTATED] {
        let m = std::fs::metadata(d.join(name)).ok();
        assert_eq!(
            m.map(|m| m.permissions().mode() & 0o777),
            Some(0o600),
            "{name}"
        );
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn several_writers_one_account_then_one_deletion_record() {
    let d = tmpdir("dup");
    let f = Files::new(&d);
    let st = state("web", "2026-12-07T04:00:00.000000001Z");
    assert_eq!(put(&f, &st, 1, Writer::Shim, false), Some(true));
    assert_eq!(put(&f, &st, 1, Writer::Events, false), Some(false));
    assert_eq!(put(&f, &st, 1, Writer::Delete, true), Some(true));
    assert_eq!(put(&f, &st, 1, Writer::Delete, true), Some(false));
    let e = lines(&f);
    assert_eq!(e.len(), 2);
    assert!(
        e[1].account.is_none() && e[1].deleted_at.is_some(),
        "{:?}",
        e[1]
    );
    // More kills of the same instance: a new account.
    assert_eq!(put(&f, &st, 2, Writer::Shim, false), Some(true));
    let found = find_in(&f, "web").ok().flatten();
    let found = found
        .as_ref()
        .map(|x| (x.account.oom_kills, x.gone.deleted_at.is_some()));
    assert_eq!(found, Some((2, true)));
    // A later container with the same id is another instance.
    let st2 = state("web", "2026-12-07T05:00:00.000000001Z");
    assert_eq!(put(&f, &st2, 1, Writer::Shim, false), Some(true));
    let found = find_in(&f, "web").ok().flatten();
    let found = found.map(|x| (x.gone.created, x.gone.deleted_at.is_some()));
    assert_eq!(found, Some((st2.created.clone(), false)));
    assert!(find_in(&f, "never").ok().flatten().is_none());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn only_the_newest_kills_are_kept() {
    let d = tmpdir("kills");
    let f = Files::new(&d);
    let st = state("loop", "t0");
    assert_eq!(put(&f, &st, 40, Writer::Shim, false), Some(true));
    let found = find_in(&f, "loop").ok().flatten();
    let kept = found
        .as_ref()
        .map(|x| (x.account.kills.len(), x.gone.kills_not_kept));
    assert_eq!(kept, Some((MAX_KILLS, 40 - MAX_KILLS)));
    let last = found.and_then(|x| x.account.kills.last().map(|k| k.pid));
    assert_eq!(last, Some(4242 + 39));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_symlink_or_fifo_at_the_journal_path_is_not_followed() {
    let d = tmpdir("link");
    let target = d.join("target");
    let _ = std::fs::write(&target, "precious\n");
    let _ = std::os::unix::fs::symlink(&target, d.join(JOURNAL));
    let f = Files::new(&d);
    let st = state("x", "t0");
    let res = append(&f, entry(&st, Some(&account(1)), Writer::Delete, true));
    let msg = res.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("symlink"), "{msg}");
    assert_eq!(
        std::fs::read_to_string(&target).ok().as_deref(),
        Some("precious\n")
    );
    assert!(std::fs::symlink_metadata(d.join(JOURNAL)).is_ok_and(|m| m.file_type().is_symlink()));
    // A symlinked lock file is refused the same way.
    let _ = std::fs::remove_file(d.join(JOURNAL));
    let _ = std::fs::remove_file(d.join("oom-journal.lock"));
    let _ = std::os::unix::fs::symlink(&target, d.join("oom-journal.lock"));
    assert!(put(&f, &st, 1, Writer::Delete, true).is_none());
    assert_eq!(
        std::fs::read_to_string(&target).ok().as_deref(),
        Some("precious\n")
    );
    // A FIFO: refused at once, never a hang.
    let _ = std::fs::remove_file(d.join("oom-journal.lock"));
    let fifo = d.join(JOURNAL);
    if nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).is_ok() {
        assert!(put(&f, &st, 1, Writer::Delete, true).is_none());
        assert!(std::fs::symlink_metadata(&fifo).is_ok_and(|m| m.file_type().is_fifo()));
    }
    // A hard link to another file: refused.
    let _ = std::fs::remove_file(&fifo);
    let _ = std::fs::hard_link(&target, &fifo);
    assert!(std::fs::metadata(&fifo).is_ok_and(|m| m.nlink() == 2));
    assert!(put(&f, &st, 1, Writer::Delete, true).is_none());
    assert_eq!(
        std::fs::read_to_string(&target).ok().as_deref(),
        Some("precious\n")
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn reading_a_root_without_journal_creates_nothing() {
    let d = tmpdir("none");
    assert!(find(&d, "x").ok().flatten().is_none());
    assert_eq!(std::fs::read_dir(&d).map(|r| r.count()).ok(), Some(0));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn gone_text_says_when_it_was_deleted() {
    let d = tmpdir("text");
    let f = Files::new(&d);
    let st = state("web", "t0");
    let _ = put(&f, &st, 1, Writer::Delete, true);
    let found = find_in(&f, "web").ok().flatten();
    let text = found.map(|x| to_text("web", &x)).unwrap_or_default();
    assert!(
        text.starts_with("container web no longer exists: deleted at "),
        "{text}"
    );
    assert!(
        text.contains("killed pid 4242 (dd), the container's init process"),
        "{text}"
    );
    assert!(
        text.contains("limit hit: the container's own memory limit"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&d);
}
