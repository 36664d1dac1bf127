//! The value checks of every controller, through the dispatcher.

use super::cpuset::valid_cpu_list;
use super::hugetlb::{kb_to_page_size, valid_page_size};
use super::memory::page_size;
use super::values;
use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpu, LinuxCpuBuilder, LinuxHugepageLimitBuilder, LinuxMemory,
    LinuxMemoryBuilder, LinuxResources, LinuxResourcesBuilder,
};

fn mem(m: LinuxMemory) -> LinuxResources {
    LinuxResourcesBuilder::default().memory(m).build().unwrap()
}
fn cpu(c: LinuxCpu) -> LinuxResources {
    LinuxResourcesBuilder::default().cpu(c).build().unwrap()
}

#[test]
fn memory_limits() {
    let e = values(
        &mem(LinuxMemoryBuilder::default().limit(-5).build().unwrap()),
        false,
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        "linux.resources.memory.limit: -5 is invalid (must be >= -1)"
    );
    assert!(values(
        &mem(LinuxMemoryBuilder::default().limit(-1).build().unwrap()),
        false
    )
    .is_ok());
    let m = LinuxMemoryBuilder::default()
        .limit(200 << 20)
        .swap(100 << 20)
        .build()
        .unwrap();
    let e = values(&mem(m), false).unwrap_err().to_string();
    assert!(
        e.starts_with("linux.resources.memory.swap: 104857600 is invalid"),
        "{e}"
    );
    // Below one page: rounded down to 0 by the kernel.
    let e = values(
        &mem(LinuxMemoryBuilder::default().limit(1).build().unwrap()),
        false,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("linux.resources.memory.limit: 1 is invalid (below one page"),
        "{e}"
    );
    let m = LinuxMemoryBuilder::default()
        .limit(page_size() as i64)
        .build()
        .unwrap();
    assert!(values(&mem(m), false).is_ok());
    let m = LinuxMemoryBuilder::default().swap(100).build().unwrap();
    assert!(values(&mem(m), false).is_err());
    assert!(values(&mem(m), true).is_ok());
    let m = LinuxMemoryBuilder::default()
        .swappiness(101u64)
        .build()
        .unwrap();
    assert!(values(&mem(m), false)
        .unwrap_err()
        .to_string()
        .contains("swappiness"));
    let m = LinuxMemoryBuilder::default()
        .swappiness(u64::MAX)
        .build()
        .unwrap();
    assert!(values(&mem(m), false).is_ok());
}

#[test]
fn cpu_values() {
    let e = values(
        &cpu(LinuxCpuBuilder::default().quota(500).build().unwrap()),
        false,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("linux.resources.cpu.quota: 500 is invalid"),
        "{e}"
    );
    assert!(values(
        &cpu(LinuxCpuBuilder::default().quota(-1).build().unwrap()),
        false
    )
    .is_ok());
    assert!(values(
        &cpu(LinuxCpuBuilder::default().period(100u64).build().unwrap()),
        false
    )
    .is_err());
    assert!(values(
        &cpu(LinuxCpuBuilder::default().shares(1u64).build().unwrap()),
        false
    )
    .is_err());
    assert!(values(
        &cpu(LinuxCpuBuilder::default().idle(2).build().unwrap()),
        false
    )
    .is_err());
    let c = LinuxCpuBuilder::default()
        .quota(10000)
        .burst(20000u64)
        .build()
        .unwrap();
    assert!(values(&cpu(c), false)
        .unwrap_err()
        .to_string()
        .contains("burst"));
    let c = LinuxCpuBuilder::default().cpus("0-1,x").build().unwrap();
    assert!(values(&cpu(c), false)
        .unwrap_err()
        .to_string()
        .contains("cpus"));
    let c = LinuxCpuBuilder::default()
        .cpus("0-1,3")
        .mems("0")
        .build()
        .unwrap();
    assert!(values(&cpu(c), false).is_ok());
    assert!(valid_cpu_list("3-3") && valid_cpu_list("0-999") && valid_cpu_list(""));
    assert!(!valid_cpu_list("1-0") && !valid_cpu_list("0-1-2") && !valid_cpu_list("1,"));
}

#[test]
fn blkio_and_hugetlb_values() {
    let b = LinuxBlockIoBuilder::default().weight(5u16).build().unwrap();
    let r = LinuxResourcesBuilder::default()
        .block_io(b)
        .build()
        .unwrap();
    assert!(values(&r, false)
        .unwrap_err()
        .to_string()
        .contains("blockIO.weight"));
    let l = LinuxHugepageLimitBuilder::default()
        .page_size("../2MB")
        .limit(1)
        .build()
        .unwrap();
    let r = LinuxResourcesBuilder::default()
        .hugepage_limits(vec![l])
        .build()
        .unwrap();
    assert!(values(&r, false)
        .unwrap_err()
        .to_string()
        .contains("pageSize"));
    assert!(valid_page_size("2MB") && valid_page_size("1GB") && !valid_page_size("MB"));
    assert_eq!(kb_to_page_size(2048), "2MB");
    assert_eq!(kb_to_page_size(1048576), "1GB");
    assert_eq!(kb_to_page_size(64), "64KB");
}
