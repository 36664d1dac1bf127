//! Paths, processes, freezing, OOM counting, updates and clean-up, on the kernel.

use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};

use oci_spec::runtime::{LinuxMemoryBuilder, LinuxResourcesBuilder};

use super::*;

#[test]
fn relative_paths_follow_own_cgroup_per_hierarchy() {
    let Some(env) = env() else { return };
    let h = &env.h;
    let set = CgroupSet::resolve(h, None, "myid").unwrap();
    let cur = CgroupSet::current(h).unwrap();
    assert!(cur.created.is_empty());
    for (d, own) in set.dirs.iter().zip(&cur.dirs) {
        assert_eq!(d.hierarchy, own.hierarchy);
        assert_eq!(d.path, own.path.join("myid"), "{}", d.hierarchy);
        assert!(d.path.starts_with(&d.mount));
    }
    let set = CgroupSet::resolve(h, Some("a/b"), "myid").unwrap();
    for (d, own) in set.dirs.iter().zip(&cur.dirs) {
        assert_eq!(d.path, own.path.join("a/b"));
    }
    let set = CgroupSet::resolve(h, Some("/a/b"), "myid").unwrap();
    for d in &set.dirs {
        assert_eq!(d.path, d.mount.join("a/b"));
    }
    assert!(CgroupSet::resolve(h, Some("/a/../../b"), "x").is_err());
    // State files from before `mount` existed still load.
    let old: CgroupSet = serde_json::from_str(
        r#"{"layout":"hybrid","dirs":[{"hierarchy":"memory","path":"/sys/fs/cgroup/memory/a"}]}"#,
    )
    .unwrap();
    assert_eq!(old.layout, Layout::Hybrid);
    assert!(old.created.is_empty());
    // Round trip through the state file.
    let json = serde_json::to_string(&set).unwrap();
    let back: CgroupSet = serde_json::from_str(&json).unwrap();
    assert_eq!(back, set);
}

#[test]
fn add_pid_list_freeze_thaw() {
    let Some(env) = env() else { return };
    let h = &env.h;
    let mut set = CgroupSet::resolve(h, Some(&test_path("procs")), "x").unwrap();
    set.create().unwrap();
    let mut child = spawn_waiting("sleep 30");
    let pid = child.id() as i32;
    let res = catch_unwind(AssertUnwindSafe(|| {
        set.add_pid(pid).unwrap();
        assert_eq!(set.pids().unwrap(), vec![pid]);
        for d in &set.dirs {
            let procs = read(&d.path, "cgroup.procs");
            assert_eq!(procs, pid.to_string(), "{}", d.hierarchy);
        }
        assert!(!set.is_frozen().unwrap());
        set.freeze().unwrap();
        assert!(set.is_frozen().unwrap());
        set.thaw().unwrap();
        assert!(!set.is_frozen().unwrap());
        let st = set.stats().unwrap();
        assert_eq!(st.pids.current, 1);
        // v1 does not move charges with the task: usage may still be 0.
        assert!(st.memory.usage.limit > 0);
        serde_json::to_string(&st).unwrap();
    }));
    kill_wait(&mut child);
    remove_and_check(&set);
    if let Err(p) = res {
        std::panic::resume_unwind(p);
    }
}

#[test]
fn oom_kill_is_counted() {
    let Some(env) = env() else { return };
    let h = &env.h;
    let mut set = CgroupSet::resolve(h, Some(&test_path("oom")), "x").unwrap();
    set.create().unwrap();
    let r = LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(16 << 20)
                .swap(16 << 20)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let mut child = spawn_waiting("exec dd if=/dev/zero of=/dev/null bs=128M count=1");
    let res = catch_unwind(AssertUnwindSafe(|| {
        set.apply(&r).unwrap();
        set.add_pid(child.id() as i32).unwrap();
        let before = set.oom_counters().unwrap();
        assert_eq!(before.oom_kill, 0);
        assert_eq!(before.limit, Some(16 << 20));
        child.stdin.take().unwrap().write_all(b"go\n").unwrap();
        let status = child.wait().unwrap();
        assert!(!status.success());
        let after = set.oom_counters().unwrap();
        assert!(after.oom_kill >= 1, "{after:?}");
    }));
    kill_wait(&mut child);
    remove_and_check(&set);
    if let Err(p) = res {
        std::panic::resume_unwind(p);
    }
}

#[test]
fn update_orders_memory_writes_and_checks_usage() {
    let Some(env) = env() else { return };
    let h = &env.h;
    let mut set = CgroupSet::resolve(h, Some(&test_path("upd")), "x").unwrap();
    set.create().unwrap();
    let m = |l: i64, s: Option<i64>| {
        let mut b = LinuxMemoryBuilder::default().limit(l);
        if let Some(s) = s {
            b = b.swap(s);
        }
        LinuxResourcesBuilder::default()
            .memory(b.build().unwrap())
            .build()
            .unwrap()
    };
    let res = catch_unwind(AssertUnwindSafe(|| {
        let dir = set.memory_dir().unwrap().to_path_buf();
        let v1_memsw = dir.join("memory.memsw.limit_in_bytes").exists();
        set.apply(&m(64 << 20, Some(128 << 20))).unwrap();
        // Raising both: memsw must be written first.
        set.update(&m(256 << 20, Some(512 << 20))).unwrap();
        // Lowering both: the limit must be written first.
        set.update(&m(32 << 20, Some(48 << 20))).unwrap();
        if v1_memsw {
            assert_eq!(
                read(&dir, "memory.limit_in_bytes"),
                (32u64 << 20).to_string()
            );
            assert_eq!(
                read(&dir, "memory.memsw.limit_in_bytes"),
                (48u64 << 20).to_string()
            );
            // A limit above the memory+swap in place, without swap: clear error.
            let e = set.update(&m(64 << 20, None)).unwrap_err().to_string();
            assert!(
                e.starts_with("linux.resources.memory.limit: 67108864 is invalid"),
                "{e}"
            );
            // Unlimited memory lifts memsw as well.
            set.update(&m(-1, None)).unwrap();
            // i64::MAX is the kernel's "unlimited" too (whole pages), not
            // above the unlimited memsw.
            set.update(&m(i64::MAX, None)).unwrap();
            assert_eq!(
                read(&dir, "memory.limit_in_bytes"),
                read(&dir, "memory.memsw.limit_in_bytes")
            );
        } else if h.on_v2("memory") {
            assert_eq!(read(&dir, "memory.max"), (32u64 << 20).to_string());
        }
    }));
    remove_and_check(&set);
    if let Err(p) = res {
        std::panic::resume_unwind(p);
    }
}

#[test]
fn failed_create_removes_what_it_made_and_remove_spares_others() {
    let Some(env) = env() else { return };
    let h = &env.h;
    let mut set = CgroupSet::resolve(h, Some(&test_path("rollback")), "x").unwrap();
    let good = set.dirs[0].clone();
    set.dirs.push(CgroupDir {
        hierarchy: "bogus".into(),
        path: PathBuf::from("/nonexistent-rcrun/x"),
        mount: PathBuf::from("/sys/fs/cgroup/does-not-exist"),
    });
    assert!(set.create().is_err());
    assert!(set.created.is_empty());
    assert!(!good.path.exists());
    assert!(!good.path.parent().unwrap().exists());

    // A parent we made ourselves (not through create) survives remove.
    let parent = good
        .mount
        .join(format!("rcrun-test-{}-spare", std::process::id()));
    fs::create_dir(&parent).unwrap();
    let mut set = CgroupSet {
        layout: h.layout(),
        dirs: vec![CgroupDir {
            path: parent.join("ctr"),
            ..good.clone()
        }],
        created: vec![],
        systemd: None,
    };
    let r = set.create();
    let made = set.created.clone();
    let rm = set.remove();
    let parent_left = parent.exists();
    let _ = fs::remove_dir(&parent);
    r.unwrap();
    rm.unwrap();
    assert_eq!(made, vec![parent.join("ctr")]);
    assert!(parent_left);
    assert!(!parent.exists());
}
