//! What the kernel does not have or refuses: one error naming the field.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxHugepageLimitBuilder, LinuxMemoryBuilder,
    LinuxNetworkBuilder, LinuxResourcesBuilder, LinuxWeightDeviceBuilder,
};

use super::*;

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
