//! Validation of `linux.resources` before anything is created, so that a
//! bad spec fails with one line naming the field instead of a kernel errno
//! from the middle of `create`.

use std::fs;

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources};

use super::error::CgroupError;
use super::resources::{self, asked};
use super::{Hierarchies, Layout};

const R: &str = "linux.resources";

/// Checks values and that this host has every controller the spec asks for.
pub fn validate(h: &Hierarchies, r: &LinuxResources) -> Result<(), CgroupError> {
    values(r, false)?;
    for (field, controller) in asked(r) {
        if matches!(controller, "net_cls" | "net_prio") && h.layout() == Layout::V2 {
            return Err(CgroupError::unsupported(
                field,
                "set, but cgroup v2 has no net_cls/net_prio controller",
            ));
        }
        if !h.has_controller(controller) {
            return Err(CgroupError::unsupported(
                field,
                format!(
                    "set, but the {controller} controller is not available on this host ({:?} cgroup layout)",
                    h.layout()
                ),
            ));
        }
    }
    if let Some(m) = r.memory() {
        memory_host(h, m)?;
    }
    if let Some(c) = r.cpu() {
        if h.on_v2("cpu")
            && (c.realtime_runtime().unwrap_or(0) != 0 || c.realtime_period().unwrap_or(0) != 0)
        {
            return Err(CgroupError::unsupported(
                format!("{R}.cpu.realtimeRuntime"),
                "real-time scheduling limits are not supported on cgroup v2",
            ));
        }
    }
    if let Some(u) = r.unified() {
        if !u.is_empty() && h.layout() == Layout::V1 {
            return Err(CgroupError::unsupported(
                format!("{R}.unified"),
                "set, but this host has no cgroup v2 hierarchy (pure cgroup v1)",
            ));
        }
    }
    if let Some(limits) = r.hugepage_limits() {
        let sizes = host_hugepage_sizes();
        for (i, l) in limits.iter().enumerate() {
            if !sizes.is_empty() && !sizes.iter().any(|s| s == l.page_size()) {
                return Err(CgroupError::invalid(
                    format!("{R}.hugepageLimits[{i}].pageSize"),
                    l.page_size(),
                    format!("this host supports {}", sizes.join(", ")),
                ));
            }
        }
    }
    Ok(())
}

fn memory_host(h: &Hierarchies, m: &LinuxMemory) -> Result<(), CgroupError> {
    if h.on_v2("memory") {
        if swappiness_set(m) {
            return Err(CgroupError::unsupported(
                format!("{R}.memory.swappiness"),
                "not supported on cgroup v2",
            ));
        }
        return Ok(());
    }
    // v1 swap needs swap accounting (memory.memsw.*), absent when the
    // kernel runs with swapaccount=0 or without CONFIG_MEMCG_SWAP.
    if m.swap().unwrap_or(0) > 0 {
        if let Some(mnt) = h.v1_mount("memory") {
            if !mnt.mountpoint.join("memory.memsw.limit_in_bytes").exists() {
                return Err(swap_unsupported());
            }
        }
    }
    Ok(())
}

pub(crate) fn swap_unsupported() -> CgroupError {
    CgroupError::unsupported(
        format!("{R}.memory.swap"),
        "set, but this kernel has no swap accounting (memory.memsw.limit_in_bytes missing; boot with swapaccount=1)",
    )
}

pub(crate) fn swappiness_set(m: &LinuxMemory) -> bool {
    // runc treats -1 (u64::MAX once parsed as unsigned) as unset.
    m.swappiness().is_some_and(|s| s != u64::MAX)
}

/// Sizes of the host's huge pages in the spec's spelling ("2MB", "1GB").
pub(crate) fn host_hugepage_sizes() -> Vec<String> {
    let Ok(rd) = fs::read_dir("/sys/kernel/mm/hugepages") else {
        return Vec::new();
    };
    let mut v: Vec<String> = rd
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let kb: u64 = name
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()?;
            Some(kb_to_page_size(kb))
        })
        .collect();
    v.sort();
    v
}

/// 2048 => "2MB", 1048576 => "1GB", 64 => "64KB" (the kernel's file names).
pub(crate) fn kb_to_page_size(kb: u64) -> String {
    if kb >= 1 << 20 && kb.is_multiple_of(1 << 20) {
        format!("{}GB", kb >> 20)
    } else if kb >= 1 << 10 && kb.is_multiple_of(1 << 10) {
        format!("{}MB", kb >> 10)
    } else {
        format!("{kb}KB")
    }
}

/// Value checks that need no host information. `update` relaxes the checks
/// that may be satisfied by limits already in place.
pub(crate) fn values(r: &LinuxResources, update: bool) -> Result<(), CgroupError> {
    if let Some(m) = r.memory() {
        memory(m, update)?;
    }
    if let Some(c) = r.cpu() {
        cpu(c)?;
    }
    if let Some(b) = r.block_io() {
        block_io(b)?;
    }
    if let Some(limits) = r.hugepage_limits() {
        for (i, l) in limits.iter().enumerate() {
            if !valid_page_size(l.page_size()) {
                return Err(CgroupError::invalid(
                    format!("{R}.hugepageLimits[{i}].pageSize"),
                    format!("{:?}", l.page_size()),
                    "must look like \"2MB\" or \"1GB\"",
                ));
            }
            if l.limit() < -1 {
                return Err(CgroupError::invalid(
                    format!("{R}.hugepageLimits[{i}].limit"),
                    l.limit(),
                    "must be >= -1",
                ));
            }
        }
    }
    if let Some(n) = r.network() {
        for (i, p) in n.priorities().iter().flatten().enumerate() {
            if !valid_name(p.name()) {
                return Err(CgroupError::invalid(
                    format!("{R}.network.priorities[{i}].name"),
                    format!("{:?}", p.name()),
                    "must be an interface name",
                ));
            }
        }
    }
    if let Some(rdma) = r.rdma() {
        for dev in rdma.keys() {
            if !valid_name(dev) {
                return Err(CgroupError::invalid(
                    format!("{R}.rdma"),
                    format!("{dev:?}"),
                    "must be an RDMA device name",
                ));
            }
        }
    }
    if let Some(u) = r.unified() {
        for key in u.keys() {
            resources::check_unified_key(key)?;
        }
    }
    Ok(())
}

fn memory(m: &LinuxMemory, update: bool) -> Result<(), CgroupError> {
    let f = |n: &str| format!("{R}.memory.{n}");
    for (name, v) in [
        ("limit", m.limit()),
        ("reservation", m.reservation()),
        ("swap", m.swap()),
    ] {
        if let Some(v) = v {
            if v < -1 {
                return Err(CgroupError::invalid(f(name), v, "must be >= -1"));
            }
        }
    }
    let limit = m.limit().unwrap_or(0);
    let page = page_size();
    if limit > 0 && limit.unsigned_abs() < page {
        return Err(CgroupError::invalid(
            f("limit"),
            limit,
            format!(
                "below one page ({page} bytes): the kernel rounds it down to 0 bytes, in which no process can run"
            ),
        ));
    }
    let swap = m.swap().unwrap_or(0);
    if swap > 0 {
        if limit > 0 && swap < limit {
            return Err(CgroupError::invalid(
                f("swap"),
                swap,
                format!("must be >= {R}.memory.limit ({limit}): it is the memory+swap total"),
            ));
        }
        if !update && limit <= 0 {
            return Err(CgroupError::invalid(
                f("swap"),
                swap,
                format!("requires {R}.memory.limit to be set: it is the memory+swap total"),
            ));
        }
    }
    if let Some(s) = m.swappiness() {
        if s != u64::MAX && s > 100 {
            return Err(CgroupError::invalid(f("swappiness"), s, "must be 0..100"));
        }
    }
    Ok(())
}

fn cpu(c: &LinuxCpu) -> Result<(), CgroupError> {
    let f = |n: &str| format!("{R}.cpu.{n}");
    if let Some(s) = c.shares() {
        if s != 0 && !(2..=262_144).contains(&s) {
            return Err(CgroupError::invalid(f("shares"), s, "must be 2..262144"));
        }
    }
    let quota = c.quota().unwrap_or(0);
    if quota < -1 {
        return Err(CgroupError::invalid(
            f("quota"),
            quota,
            "must be >= 1000 or -1 for unlimited",
        ));
    }
    if quota > 0 && quota < 1000 {
        return Err(CgroupError::invalid(
            f("quota"),
            quota,
            "must be >= 1000 microseconds (the kernel's minimum), or -1 for unlimited",
        ));
    }
    if let Some(p) = c.period() {
        if p != 0 && !(1000..=1_000_000).contains(&p) {
            return Err(CgroupError::invalid(
                f("period"),
                p,
                "must be 1000..1000000 microseconds",
            ));
        }
    }
    if let Some(b) = c.burst() {
        if quota > 0 && b > quota as u64 {
            return Err(CgroupError::invalid(
                f("burst"),
                b,
                format!("must not exceed {R}.cpu.quota ({quota})"),
            ));
        }
    }
    let rt = c.realtime_runtime().unwrap_or(0);
    if rt < -1 {
        return Err(CgroupError::invalid(
            f("realtimeRuntime"),
            rt,
            "must be >= -1",
        ));
    }
    if let Some(p) = c.realtime_period() {
        if p != 0 && rt > 0 && rt as u64 > p {
            return Err(CgroupError::invalid(
                f("realtimeRuntime"),
                rt,
                format!("must not exceed {R}.cpu.realtimePeriod ({p})"),
            ));
        }
    }
    if let Some(i) = c.idle() {
        if i != 0 && i != 1 {
            return Err(CgroupError::invalid(f("idle"), i, "must be 0 or 1"));
        }
    }
    for (name, v) in [("cpus", c.cpus()), ("mems", c.mems())] {
        if let Some(v) = v {
            if !valid_cpu_list(v) {
                return Err(CgroupError::invalid(
                    f(name),
                    format!("{v:?}"),
                    "must be a list like \"0-3,6\"",
                ));
            }
        }
    }
    Ok(())
}

fn block_io(b: &LinuxBlockIo) -> Result<(), CgroupError> {
    let f = |n: &str| format!("{R}.blockIO.{n}");
    let weight_ok = |w: u16| w == 0 || (10..=1000).contains(&w);
    for (name, w) in [("weight", b.weight()), ("leafWeight", b.leaf_weight())] {
        if let Some(w) = w {
            if !weight_ok(w) {
                return Err(CgroupError::invalid(f(name), w, "must be 10..1000"));
            }
        }
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        for (name, w) in [("weight", d.weight()), ("leafWeight", d.leaf_weight())] {
            if let Some(w) = w {
                if !weight_ok(w) {
                    return Err(CgroupError::invalid(
                        f(&format!("weightDevice[{i}].{name}")),
                        w,
                        "must be 10..1000",
                    ));
                }
            }
        }
        if d.major() < 0 || d.minor() < 0 {
            return Err(CgroupError::invalid(
                f(&format!("weightDevice[{i}]")),
                format!("{}:{}", d.major(), d.minor()),
                "major and minor must be >= 0",
            ));
        }
    }
    for (name, list) in [
        ("throttleReadBpsDevice", b.throttle_read_bps_device()),
        ("throttleWriteBpsDevice", b.throttle_write_bps_device()),
        ("throttleReadIOPSDevice", b.throttle_read_iops_device()),
        ("throttleWriteIOPSDevice", b.throttle_write_iops_device()),
    ] {
        for (i, d) in list.iter().flatten().enumerate() {
            if d.major() < 0 || d.minor() < 0 {
                return Err(CgroupError::invalid(
                    f(&format!("{name}[{i}]")),
                    format!("{}:{}", d.major(), d.minor()),
                    "major and minor must be >= 0",
                ));
            }
        }
    }
    Ok(())
}

/// The kernel's page size: memory limits are kept in whole pages.
pub(crate) fn page_size() -> u64 {
    // SAFETY: sysconf only reads a constant of the running system.
    let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(v).ok().filter(|&v| v > 0).unwrap_or(4096)
}

/// "2MB", "1GB", "64KB": digits then a unit; also keeps the value safe to
/// splice into a file name.
pub(crate) fn valid_page_size(s: &str) -> bool {
    let Some(num) = s
        .strip_suffix("KB")
        .or_else(|| s.strip_suffix("MB"))
        .or_else(|| s.strip_suffix("GB"))
    else {
        return false;
    };
    !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit())
}

/// "0-3,5,7-8" (cpuset list syntax, ranges low-high); empty means unset.
pub(crate) fn valid_cpu_list(s: &str) -> bool {
    let s = s.trim();
    let num = |x: &str| {
        if x.is_empty() || !x.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        x.parse::<u64>().ok()
    };
    s.is_empty()
        || s.split(',').all(|part| match part.split_once('-') {
            None => num(part).is_some(),
            Some((a, b)) => matches!((num(a), num(b)), (Some(a), Some(b)) if a <= b),
        })
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains(['/', ' ', '\n', '\t', '\0'])
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{
        LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxHugepageLimitBuilder, LinuxMemoryBuilder,
        LinuxResourcesBuilder,
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
}
