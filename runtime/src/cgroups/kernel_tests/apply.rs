//! Every resource field written to the kernel, and hugetlb to the hierarchy that has it.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxHugepageLimitBuilder, LinuxMemoryBuilder,
    LinuxPidsBuilder, LinuxResources, LinuxResourcesBuilder, LinuxThrottleDeviceBuilder,
};

use super::*;

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
    if h.has_controller("hugetlb") && resource::host_hugepage_sizes().iter().any(|s| s == "2MB") {
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
    if !h.has_controller("hugetlb") || !resource::host_hugepage_sizes().iter().any(|s| s == "2MB") {
        skip("no hugetlb controller or no 2MB huge pages");
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
