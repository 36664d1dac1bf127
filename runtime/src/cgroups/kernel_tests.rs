//! Tests against the real kernel. Each test makes its own parent cgroup
//! ("/rcrun-test-<pid>-<tag>", absolute, in every hierarchy), checks what
//! the kernel holds, removes it and asserts nothing is left. They are
//! skipped when not root. A lock serialises them because on hybrid hosts
//! `create` enables hugetlb at the cgroup2 root, which the guard restores.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};

use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxHugepageLimitBuilder, LinuxMemoryBuilder,
    LinuxNetworkBuilder, LinuxPidsBuilder, LinuxResources, LinuxResourcesBuilder,
    LinuxThrottleDeviceBuilder, LinuxWeightDeviceBuilder,
};

use super::*;

static LOCK: Mutex<()> = Mutex::new(());

struct Env {
    h: Hierarchies,
    /// cgroup2 root subtree_control before the test, restored on drop.
    unified_root: Option<(PathBuf, Vec<String>)>,
    _guard: MutexGuard<'static, ()>,
}

impl Drop for Env {
    fn drop(&mut self) {
        let Some((root, before)) = &self.unified_root else {
            return;
        };
        let p = root.join("cgroup.subtree_control");
        let now = fs::read_to_string(&p).unwrap_or_default();
        for c in now
            .split_whitespace()
            .filter(|c| !before.iter().any(|b| b == c))
        {
            if let Err(e) = fs::write(&p, format!("-{c}")) {
                eprintln!("restoring {}: -{c}: {e}", p.display());
            }
        }
    }
}

fn env() -> Option<Env> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root");
        return None;
    }
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let h = Hierarchies::detect().ok()?;
    let unified_root = h.unified.as_ref().map(|u| {
        let s = fs::read_to_string(u.mountpoint.join("cgroup.subtree_control")).unwrap_or_default();
        (
            u.mountpoint.clone(),
            s.split_whitespace().map(str::to_string).collect(),
        )
    });
    Some(Env {
        h,
        unified_root,
        _guard: guard,
    })
}

fn test_path(tag: &str) -> String {
    format!("/rcrun-test-{}-{tag}/ctr", std::process::id())
}

fn read(dir: &Path, file: &str) -> String {
    fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("read {}/{file}: {e}", dir.display()))
        .trim()
        .to_string()
}

/// Removes the set and checks that every directory it created is gone.
fn remove_and_check(set: &CgroupSet) {
    set.remove().unwrap();
    for d in &set.created {
        assert!(!d.exists(), "{} left behind", d.display());
    }
}

fn dir_of<'a>(set: &'a CgroupSet, ctrl: &str) -> Option<&'a Path> {
    controller::Targets::dir_of(set, ctrl)
}

fn first_block_device() -> Option<(i64, i64)> {
    for name in ["vda", "sda", "nvme0n1", "xvda", "loop0"] {
        if let Ok(s) = fs::read_to_string(format!("/sys/block/{name}/dev")) {
            let (a, b) = s.trim().split_once(':')?;
            return Some((a.parse().ok()?, b.parse().ok()?));
        }
    }
    None
}

fn full_resources(h: &Hierarchies, dev: Option<(i64, i64)>) -> LinuxResources {
    let mut mem = LinuxMemoryBuilder::default()
        .limit(64 << 20)
        .reservation(32 << 20)
        .disable_oom_killer(true);
    if !h.on_v2("memory") {
        mem = mem.swappiness(30u64);
    }
    let memsw = h
        .v1_mount("memory")
        .is_some_and(|m| m.mountpoint.join("memory.memsw.limit_in_bytes").exists());
    if memsw || h.on_v2("memory") {
        mem = mem.swap(128 << 20);
    }
    #[allow(deprecated)]
    let mem = mem.kernel(1 << 20).build().unwrap();
    let cpu = LinuxCpuBuilder::default()
        .shares(512u64)
        .quota(20_000)
        .period(100_000u64)
        .burst(10_000u64)
        .idle(0)
        .cpus("0")
        .mems("0")
        .build()
        .unwrap();
    let mut b = LinuxResourcesBuilder::default()
        .memory(mem)
        .cpu(cpu)
        .pids(LinuxPidsBuilder::default().limit(100).build().unwrap());
    if let Some((major, minor)) = dev {
        let td = |rate: u64| {
            LinuxThrottleDeviceBuilder::default()
                .major(major)
                .minor(minor)
                .rate(rate)
                .build()
                .unwrap()
        };
        // A weight only where the kernel has one (CFQ/BFQ): with
        // mq-deadline, the scheduler of a fresh machine, there is no weight
        // file and setting one is an error (tested below).
        let has_weight = h.v1_mount("blkio").is_some_and(|m| {
            ["blkio.weight", "blkio.bfq.weight"]
                .iter()
                .any(|f| m.mountpoint.join(f).exists())
        }) || h.unified.as_ref().is_some_and(|u| {
            ["io.weight", "io.bfq.weight"]
                .iter()
                .any(|f| u.mountpoint.join(f).exists())
        });
        let mut bio = LinuxBlockIoBuilder::default();
        if has_weight {
            bio = bio.weight(500u16);
        }
        b = b.block_io(
            bio.throttle_read_bps_device(vec![td(1 << 20)])
                .throttle_write_bps_device(vec![td(2 << 20)])
                .throttle_read_iops_device(vec![td(100)])
                .throttle_write_iops_device(vec![td(200)])
                .build()
                .unwrap(),
        );
    }
    if h.has_controller("hugetlb") && validate::host_hugepage_sizes().iter().any(|s| s == "2MB") {
        b = b.hugepage_limits(vec![LinuxHugepageLimitBuilder::default()
            .page_size("2MB")
            .limit(4 << 20)
            .build()
            .unwrap()]);
    }
    if h.layout() != Layout::V1 {
        let mut u = HashMap::new();
        u.insert("cgroup.max.descendants".to_string(), "7".to_string());
        b = b.unified(u);
    }
    b.build().unwrap()
}

#[test]
fn create_apply_every_field_and_remove() {
    let Some(env) = env() else { return };
    let h = &env.h;
    let dev = first_block_device();
    let r = full_resources(h, dev);
    validate(h, &r).unwrap();
    let mut set = CgroupSet::resolve(h, Some(&test_path("all")), "x").unwrap();
    set.create().unwrap();
    // Parent and leaf in every hierarchy.
    assert_eq!(set.created.len(), set.dirs.len() * 2, "{:?}", set.created);
    let res = set.apply(&r);
    let check = catch_unwind(AssertUnwindSafe(|| {
        res.unwrap();
        check_files(&set, h, dev);
    }));
    remove_and_check(&set);
    if let Err(p) = check {
        std::panic::resume_unwind(p);
    }
}

fn check_files(set: &CgroupSet, h: &Hierarchies, dev: Option<(i64, i64)>) {
    let mem = set.memory_dir().unwrap();
    if h.on_v2("memory") {
        assert_eq!(read(mem, "memory.max"), (64u64 << 20).to_string());
        assert_eq!(read(mem, "memory.low"), (32u64 << 20).to_string());
        if mem.join("memory.swap.max").exists() {
            assert_eq!(read(mem, "memory.swap.max"), (64u64 << 20).to_string());
        }
    } else {
        assert_eq!(
            read(mem, "memory.limit_in_bytes"),
            (64u64 << 20).to_string()
        );
        assert_eq!(
            read(mem, "memory.soft_limit_in_bytes"),
            (32u64 << 20).to_string()
        );
        assert_eq!(read(mem, "memory.swappiness"), "30");
        assert!(read(mem, "memory.oom_control").contains("oom_kill_disable 1"));
        if mem.join("memory.memsw.limit_in_bytes").exists() {
            assert_eq!(
                read(mem, "memory.memsw.limit_in_bytes"),
                (128u64 << 20).to_string()
            );
        }
        // kmem is never set.
        if mem.join("memory.kmem.limit_in_bytes").exists() {
            assert_ne!(
                read(mem, "memory.kmem.limit_in_bytes"),
                (1u64 << 20).to_string()
            );
        }
    }
    let cpu = dir_of(set, "cpu").unwrap();
    if h.on_v2("cpu") {
        assert_eq!(read(cpu, "cpu.weight"), "20");
        assert_eq!(read(cpu, "cpu.max"), "20000 100000");
        assert_eq!(read(cpu, "cpu.max.burst"), "10000");
    } else {
        assert_eq!(read(cpu, "cpu.shares"), "512");
        assert_eq!(read(cpu, "cpu.cfs_quota_us"), "20000");
        assert_eq!(read(cpu, "cpu.cfs_period_us"), "100000");
        if cpu.join("cpu.cfs_burst_us").exists() {
            assert_eq!(read(cpu, "cpu.cfs_burst_us"), "10000");
        }
    }
    if cpu.join("cpu.idle").exists() {
        assert_eq!(read(cpu, "cpu.idle"), "0");
    }
    let cpuset = dir_of(set, "cpuset").unwrap();
    assert_eq!(read(cpuset, "cpuset.cpus"), "0");
    assert_eq!(read(cpuset, "cpuset.mems"), "0");
    assert_eq!(read(dir_of(set, "pids").unwrap(), "pids.max"), "100");
    if let Some((maj, min)) = dev {
        let d = dir_of(set, "blkio").unwrap();
        for f in ["blkio.bfq.weight", "io.bfq.weight"] {
            if d.join(f).exists() {
                let w = read(d, f);
                assert!(w.contains("500"), "{w}");
            }
        }
        if h.on_v2("blkio") {
            let m = read(d, "io.max");
            assert!(
                m.contains(&format!(
                    "{maj}:{min} rbps=1048576 wbps=2097152 riops=100 wiops=200"
                )),
                "{m}"
            );
        } else {
            let dv = format!("{maj}:{min}");
            assert_eq!(
                read(d, "blkio.throttle.read_bps_device"),
                format!("{dv} 1048576")
            );
            assert_eq!(
                read(d, "blkio.throttle.write_bps_device"),
                format!("{dv} 2097152")
            );
            assert_eq!(
                read(d, "blkio.throttle.read_iops_device"),
                format!("{dv} 100")
            );
            assert_eq!(
                read(d, "blkio.throttle.write_iops_device"),
                format!("{dv} 200")
            );
        }
    }
    if let Some(d) = dir_of(set, "hugetlb") {
        let f = if h.on_v2("hugetlb") {
            "hugetlb.2MB.max"
        } else {
            "hugetlb.2MB.limit_in_bytes"
        };
        if d.join(f).exists() {
            assert_eq!(read(d, f), (4u64 << 20).to_string());
        }
    }
    if let Some(u) = set.unified_dir() {
        assert_eq!(read(&u.path, "cgroup.max.descendants"), "7");
    }
}

#[test]
fn hugetlb_goes_to_the_hierarchy_that_has_it() {
    let Some(env) = env() else { return };
    let h = &env.h;
    if !h.has_controller("hugetlb") || !validate::host_hugepage_sizes().iter().any(|s| s == "2MB") {
        eprintln!("skipped: no hugetlb or no 2MB pages");
        return;
    }
    let mut set = CgroupSet::resolve(h, Some(&test_path("huge")), "x").unwrap();
    set.create().unwrap();
    let r = LinuxResourcesBuilder::default()
        .hugepage_limits(vec![LinuxHugepageLimitBuilder::default()
            .page_size("2MB")
            .limit(-1)
            .build()
            .unwrap()])
        .build()
        .unwrap();
    let res = set.apply(&r);
    let dir = dir_of(&set, "hugetlb").map(Path::to_path_buf);
    let on_v2 = h.on_v2("hugetlb");
    remove_and_check(&set);
    res.unwrap();
    let dir = dir.unwrap();
    if on_v2 {
        assert!(dir.starts_with(&h.unified.as_ref().unwrap().mountpoint));
    }
}

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

/// A child blocked on stdin, so that it is in the cgroup before it runs.
fn spawn_waiting(cmd: &str) -> Child {
    Command::new("sh")
        .arg("-c")
        .arg(format!("read _x; {cmd}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn kill_wait(c: &mut Child) {
    let _ = c.kill();
    let _ = c.wait();
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
fn clear_errors_for_unavailable_or_invalid_fields() {
    let Some(env) = env() else { return };
    let h = &env.h;
    let bad_mem = LinuxResourcesBuilder::default()
        .memory(LinuxMemoryBuilder::default().limit(-5).build().unwrap())
        .build()
        .unwrap();
    assert_eq!(
        validate(h, &bad_mem).unwrap_err().to_string(),
        "linux.resources.memory.limit: -5 is invalid (must be >= -1)"
    );
    let huge = LinuxResourcesBuilder::default()
        .hugepage_limits(vec![LinuxHugepageLimitBuilder::default()
            .page_size("3MB")
            .limit(1)
            .build()
            .unwrap()])
        .build()
        .unwrap();
    let e = validate(h, &huge).unwrap_err().to_string();
    assert!(e.starts_with("linux.resources.hugepageLimits"), "{e}");

    let mut set = CgroupSet::resolve(h, Some(&test_path("errs")), "x").unwrap();
    set.create().unwrap();
    let res = catch_unwind(AssertUnwindSafe(|| {
        if !h.has_controller("net_cls") {
            let r = LinuxResourcesBuilder::default()
                .network(
                    LinuxNetworkBuilder::default()
                        .class_id(7u32)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap();
            let e = validate(h, &r).unwrap_err().to_string();
            assert!(e.starts_with("linux.resources.network"), "{e}");
            let e = set.apply(&r).unwrap_err().to_string();
            assert!(e.starts_with("linux.resources.network.classID"), "{e}");
        }
        // Weight: with no CFQ/BFQ weight file it must be an error naming it.
        let r = LinuxResourcesBuilder::default()
            .block_io(
                LinuxBlockIoBuilder::default()
                    .weight(500u16)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        if let Some(d) = dir_of(&set, "blkio") {
            let has = [
                "blkio.weight",
                "blkio.bfq.weight",
                "io.weight",
                "io.bfq.weight",
            ]
            .iter()
            .any(|f| d.join(f).exists());
            match set.apply(&r) {
                Ok(()) => assert!(has),
                Err(e) => {
                    assert!(!has, "{e}");
                    assert!(
                        e.to_string().starts_with("linux.resources.blockIO.weight"),
                        "{e}"
                    );
                }
            }
        }
        // A per-device weight needs BFQ on that device: either it works or
        // the error names the field and the scheduler.
        if let (Some((major, minor)), Some(d)) = (first_block_device(), dir_of(&set, "blkio")) {
            let wd = LinuxWeightDeviceBuilder::default()
                .major(major)
                .minor(minor)
                .weight(300u16)
                .build()
                .unwrap();
            let r = LinuxResourcesBuilder::default()
                .block_io(
                    LinuxBlockIoBuilder::default()
                        .weight_device(vec![wd])
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap();
            if let Err(e) = set.apply(&r) {
                let e = e.to_string();
                assert!(
                    e.starts_with("linux.resources.blockIO.weightDevice[0]: "),
                    "{e}"
                );
                assert!(e.contains("scheduler") || e.contains("neither"), "{e}");
            } else {
                let all: String = [
                    "blkio.bfq.weight_device",
                    "blkio.weight_device",
                    "io.bfq.weight",
                    "io.weight",
                ]
                .iter()
                .filter(|f| d.join(f).exists())
                .map(|f| read(d, f))
                .collect();
                assert!(all.contains(&format!("{major}:{minor} ")), "{all}");
            }
        }
        // Real-time runtime needs budget in the parent, which our fresh
        // parent does not have: the error names the field.
        if let Some(cpu) = dir_of(&set, "cpu").filter(|d| d.join("cpu.rt_runtime_us").exists()) {
            let r = LinuxResourcesBuilder::default()
                .cpu(
                    LinuxCpuBuilder::default()
                        .realtime_runtime(10_000)
                        .realtime_period(1_000_000u64)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap();
            match set.apply(&r) {
                Ok(()) => assert_eq!(read(cpu, "cpu.rt_runtime_us"), "10000"),
                Err(e) => {
                    let e = e.to_string();
                    assert!(
                        e.starts_with("linux.resources.cpu.realtimeRuntime: writing"),
                        "{e}"
                    );
                }
            }
        }
        // The kernel's own rejection names the field and the file.
        let r = LinuxResourcesBuilder::default()
            .cpu(LinuxCpuBuilder::default().cpus("4000").build().unwrap())
            .build()
            .unwrap();
        let e = set.apply(&r).unwrap_err().to_string();
        assert!(
            e.starts_with("linux.resources.cpu.cpus: writing \"4000\""),
            "{e}"
        );
        if h.layout() != Layout::V1 {
            let mut u = HashMap::new();
            u.insert("../cgroup.procs".to_string(), "1".to_string());
            let r = LinuxResourcesBuilder::default().unified(u).build().unwrap();
            let e = set.apply(&r).unwrap_err().to_string();
            assert!(e.starts_with("linux.resources.unified"), "{e}");
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

/// The v2 code paths (freezer, pids, hugetlb, unified, missing controller)
/// exercised on this host's cgroup2 hierarchy by treating it as a pure v2
/// layout. On a pure v2 host this is simply the real layout.
#[test]
fn v2_paths_on_the_cgroup2_hierarchy() {
    let Some(env) = env() else { return };
    let h = &env.h;
    let Some(u) = h.unified.as_ref() else {
        eprintln!("skipped: no cgroup2");
        return;
    };
    let full = CgroupSet::resolve(h, Some(&test_path("v2")), "x").unwrap();
    let Some(dir) = full.dirs.iter().find(|d| d.is_unified()).cloned() else {
        return;
    };
    let mut set = CgroupSet {
        layout: Layout::V2,
        dirs: vec![dir.clone()],
        created: vec![],
    };
    set.create().unwrap();
    assert_eq!(
        set.v2_relative_path(h).unwrap(),
        Path::new(&test_path("v2"))
    );
    let mut child = spawn_waiting("sleep 30");
    let pid = child.id() as i32;
    let res = catch_unwind(AssertUnwindSafe(|| {
        set.add_pid(pid).unwrap();
        assert_eq!(set.pids().unwrap(), vec![pid]);
        set.freeze().unwrap();
        assert!(set.is_frozen().unwrap());
        assert!(read(&dir.path, "cgroup.events").contains("frozen 1"));
        set.thaw().unwrap();
        assert!(!set.is_frozen().unwrap());
        let has_mem = u.controllers.iter().any(|c| c == "memory");
        let r = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(1 << 30)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        match set.apply(&r) {
            Ok(()) => assert!(has_mem),
            Err(e) => {
                assert!(!has_mem);
                let e = e.to_string();
                assert!(
                    e.starts_with(
                        "linux.resources.memory: set, but the memory controller is not available"
                    ),
                    "{e}"
                );
            }
        }
        if u.controllers.iter().any(|c| c == "hugetlb")
            && validate::host_hugepage_sizes().iter().any(|s| s == "2MB")
        {
            let r = LinuxResourcesBuilder::default()
                .hugepage_limits(vec![LinuxHugepageLimitBuilder::default()
                    .page_size("2MB")
                    .limit(2 << 20)
                    .build()
                    .unwrap()])
                .build()
                .unwrap();
            set.apply(&r).unwrap();
            assert_eq!(read(&dir.path, "hugetlb.2MB.max"), (2u64 << 20).to_string());
            let st = set.stats().unwrap();
            assert!(st.hugetlb.contains_key("2MB"));
        }
    }));
    kill_wait(&mut child);
    remove_and_check(&set);
    if let Err(p) = res {
        std::panic::resume_unwind(p);
    }
}
