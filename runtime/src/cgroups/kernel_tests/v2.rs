//! The v2 code paths on this host's cgroup2 hierarchy.

use std::panic::{catch_unwind, AssertUnwindSafe};

use oci_spec::runtime::{LinuxHugepageLimitBuilder, LinuxMemoryBuilder, LinuxResourcesBuilder};

use super::*;

/// The v2 code paths (freezer, pids, hugetlb, unified, missing controller)
/// exercised on this host's cgroup2 hierarchy by treating it as a pure v2
/// layout. On a pure v2 host this is simply the real layout.
#[test]
fn v2_paths_on_the_cgroup2_hierarchy() {
    let Some(env) = env() else { return };
    let h = &env.h;
    let Some(u) = h.unified.as_ref() else {
        skip("no cgroup2 hierarchy");
        return;
    };
    let full = CgroupSet::resolve(h, Some(&test_path("v2")), "x").unwrap();
    let Some(dir) = full.dirs.iter().find(|d| d.is_unified()).cloned() else {
        skip("no cgroup2 directory in the resolved set");
        return;
    };
    let mut set = CgroupSet {
        layout: Layout::V2,
        dirs: vec![dir.clone()],
        created: vec![],
        systemd: None,
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
            && resource::host_hugepage_sizes().iter().any(|s| s == "2MB")
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
