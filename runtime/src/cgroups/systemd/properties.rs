//! The unit properties rcrun asks systemd for: the fixed ones of a
//! container's scope, and those `linux.resources` maps to (runc's
//! mapping). Whatever has no property is written to the cgroup files
//! afterwards by the cgroupfs code, which also writes the exact values
//! systemd may have rounded (CPUQuotaPerSecUSec).

use oci_spec::runtime::LinuxResources;

use super::slice::UnitPath;
use crate::cgroups::error::CgroupError;
use crate::cgroups::v2;

/// systemd's "infinity" for limits (USEC_INFINITY, CGROUP_LIMIT_MAX).
pub const INFINITY: u64 = u64::MAX;
/// The CFS period the kernel uses when none is given.
const DEFAULT_PERIOD_US: u64 = 100_000;
/// cpuset lists name CPUs and nodes far below this; a larger number is a
/// typo that would make a huge bitmask.
const MAX_CPUSET_BIT: u64 = 1 << 16;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    U64(u64),
    Str(String),
    /// The other basic types only come from `org.systemd.property.*`
    /// annotations (see [`super::annotations`]), sent as their users typed.
    U8(u8),
    I16(i16),
    U16(u16),
    I32(i32),
    U32(u32),
    I64(i64),
    F64(f64),
    /// `as`.
    Strs(Vec<String>),
    /// `ay`: AllowedCPUs, AllowedMemoryNodes.
    Bytes(Vec<u8>),
    /// `au`: PIDs.
    U32s(Vec<u32>),
    /// `a(ss)`: DeviceAllow, (path or group, access).
    DeviceAllow(Vec<(String, String)>),
}

pub type Prop = (&'static str, Value);

/// The properties of a new unit: where it goes, delegation, accounting,
/// and `pid` as its first process (scopes only; a slice unit gets the
/// process through cgroup.procs).
pub fn for_new_unit(u: &UnitPath, id: &str, pid: i32, v2: bool) -> Vec<Prop> {
    let mut p: Vec<Prop> = vec![(
        "Description",
        Value::Str(format!("rcrun container {}", crate::error::one_line(id))),
    )];
    if u.is_slice() {
        p.push(("Wants", Value::Str(u.slice.clone())));
    } else {
        p.push(("Slice", Value::Str(u.slice.clone())));
        // The container manages its own sub-cgroups (nested runtimes,
        // systemd inside the container).
        p.push(("Delegate", Value::Bool(true)));
        p.push(("PIDs", Value::U32s(vec![pid as u32])));
    }
    let io = if v2 {
        "IOAccounting"
    } else {
        "BlockIOAccounting"
    };
    for acct in ["MemoryAccounting", "CPUAccounting", io, "TasksAccounting"] {
        p.push((acct, Value::Bool(true)));
    }
    // No ordering against shutdown.target etc.: the container's lifetime is
    // its manager's business, as with runc.
    p.push(("DefaultDependencies", Value::Bool(false)));
    p
}

/// The resource properties for `r`: v2 names on a pure cgroup2 host, the
/// legacy ones (MemoryLimit, CPUShares, BlockIOWeight) otherwise.
pub fn for_resources(r: &LinuxResources, v2: bool) -> Result<Vec<Prop>, CgroupError> {
    let mut p = Vec::new();
    let limit = |v: i64| if v < 0 { INFINITY } else { v as u64 };
    if let Some(m) = r.memory() {
        let mem = m.limit().unwrap_or(0);
        if mem != 0 {
            let name = if v2 { "MemoryMax" } else { "MemoryLimit" };
            p.push((name, Value::U64(limit(mem))));
        }
        if v2 {
            if let Some(low) = m.reservation().filter(|v| *v != 0) {
                p.push(("MemoryLow", Value::U64(limit(low))));
            }
            // A swap total without a memory limit (an update of swap
            // alone) needs the live limit: left to the file writer.
            let swap = m.swap().unwrap_or(0);
            if mem != 0 || swap < 0 {
                if let Some(v) = v2::memory::swap_to_v2(swap, mem)? {
                    p.push(("MemorySwapMax", Value::U64(limit(v))));
                }
            }
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(shares) = c.shares().filter(|s| *s != 0) {
            if v2 {
                let w = v2::cpu::shares_to_weight(shares);
                p.push(("CPUWeight", Value::U64(w)));
            } else {
                p.push(("CPUShares", Value::U64(shares)));
            }
        }
        cpu_quota(&mut p, c.quota().unwrap_or(0), c.period().unwrap_or(0));
        if v2 {
            if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.trim().is_empty()) {
                let bits = cpuset_bits(cpus, "linux.resources.cpu.cpus")?;
                p.push(("AllowedCPUs", Value::Bytes(bits)));
            }
            if let Some(mems) = c.mems().as_deref().filter(|s| !s.trim().is_empty()) {
                let bits = cpuset_bits(mems, "linux.resources.cpu.mems")?;
                p.push(("AllowedMemoryNodes", Value::Bytes(bits)));
            }
        }
    }
    if let Some(pids) = r.pids() {
        let l = pids.limit();
        if l != 0 {
            p.push(("TasksMax", Value::U64(limit(l))));
        }
    }
    if let Some(w) = r
        .block_io()
        .as_ref()
        .and_then(|b| b.weight())
        .filter(|w| *w != 0)
    {
        if v2 {
            p.push(("IOWeight", Value::U64(v2::io::blkio_weight_to_io(w))));
        } else {
            p.push(("BlockIOWeight", Value::U64(u64::from(w))));
        }
    }
    Ok(p)
}

/// runc's addCpuQuota: CPUQuotaPeriodUSec as given; CPUQuotaPerSecUSec is
/// the quota per second of CPU, rounded UP to 10 ms because systemd keeps
/// it as a whole percentage (the file write that follows sets the exact
/// quota). A quota <= 0 with a period is "no limit".
fn cpu_quota(p: &mut Vec<Prop>, quota: i64, period: u64) {
    if period != 0 {
        p.push(("CPUQuotaPeriodUSec", Value::U64(period)));
    }
    if quota == 0 && period == 0 {
        return;
    }
    let mut per_sec = INFINITY;
    if quota > 0 {
        let period = if period == 0 {
            DEFAULT_PERIOD_US
        } else {
            period
        };
        per_sec = (quota as u64).saturating_mul(1_000_000) / period;
        if !per_sec.is_multiple_of(10_000) {
            per_sec = (per_sec / 10_000 + 1) * 10_000;
        }
    }
    p.push(("CPUQuotaPerSecUSec", Value::U64(per_sec)));
}

/// runc's RangeToBits: "0-2,7" → the bitmask systemd wants, CPU (or
/// node) 0 in the lowest bit of the first byte.
pub fn cpuset_bits(list: &str, field: &str) -> Result<Vec<u8>, CgroupError> {
    let bad = |why: &str| CgroupError::invalid(field, list, why);
    let num = |s: &str| -> Result<u64, CgroupError> {
        let n = s
            .trim()
            .parse::<u64>()
            .map_err(|_| bad("expected a list like \"0-3,5\""))?;
        if n >= MAX_CPUSET_BIT {
            return Err(bad("names a CPU or node number beyond 65535"));
        }
        Ok(n)
    };
    let mut bytes: Vec<u8> = Vec::new();
    for part in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => (num(part)?, num(part)?),
        };
        if lo > hi {
            return Err(bad("has a range whose start is above its end"));
        }
        for bit in lo..=hi {
            let i = (bit / 8) as usize;
            if bytes.len() <= i {
                bytes.resize(i + 1, 0);
            }
            bytes[i] |= 1 << (bit % 8);
        }
    }
    if bytes.is_empty() {
        return Err(bad("is empty"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    fn get<'a>(p: &'a [Prop], name: &str) -> Option<&'a Value> {
        p.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    #[test]
    fn quota_rounds_up_to_10ms_like_runc() {
        let q = |quota, period| {
            let mut p = Vec::new();
            cpu_quota(&mut p, quota, period);
            p
        };
        // 1.5 CPUs.
        assert_eq!(
            get(&q(150_000, 100_000), "CPUQuotaPerSecUSec"),
            Some(&Value::U64(1_500_000))
        );
        // 0.333.. CPU: 333333 us/s rounds up to 340000.
        assert_eq!(
            get(&q(33_333, 100_000), "CPUQuotaPerSecUSec"),
            Some(&Value::U64(340_000))
        );
        // No period given: the kernel's default of 100 ms.
        let p = q(50_000, 0);
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(&Value::U64(500_000)));
        assert_eq!(get(&p, "CPUQuotaPeriodUSec"), None);
        // Period alone, or quota -1: no limit.
        let p = q(-1, 50_000);
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(&Value::U64(INFINITY)));
        assert_eq!(get(&p, "CPUQuotaPeriodUSec"), Some(&Value::U64(50_000)));
        assert!(q(0, 0).is_empty());
    }

    #[test]
    fn cpuset_bitmask_like_runc() {
        let f = "linux.resources.cpu.cpus";
        assert_eq!(cpuset_bits("0", f).unwrap(), vec![0x01]);
        assert_eq!(cpuset_bits("0-3", f).unwrap(), vec![0x0f]);
        assert_eq!(cpuset_bits("1,3", f).unwrap(), vec![0x0a]);
        assert_eq!(cpuset_bits("8", f).unwrap(), vec![0x00, 0x01]);
        assert_eq!(cpuset_bits(" 0-1, 9 ,", f).unwrap(), vec![0x03, 0x02]);
        for bad in ["", "a", "3-1", "1-", "70000"] {
            let e = cpuset_bits(bad, f).unwrap_err().to_string();
            assert!(e.starts_with("linux.resources.cpu.cpus: "), "{e}");
        }
    }

    #[test]
    fn v2_mapping() {
        let r = res(
            r#"{"memory":{"limit":134217728,"swap":268435456,"reservation":1048576},
                "cpu":{"shares":1024,"quota":50000,"period":100000,"cpus":"0-1","mems":"0"},
                "pids":{"limit":64},"blockIO":{"weight":500}}"#,
        );
        let p = for_resources(&r, true).unwrap();
        assert_eq!(get(&p, "MemoryMax"), Some(&Value::U64(134_217_728)));
        assert_eq!(get(&p, "MemorySwapMax"), Some(&Value::U64(134_217_728)));
        assert_eq!(get(&p, "MemoryLow"), Some(&Value::U64(1_048_576)));
        // runc's shares→weight: 1 + (1024-2)*9999/262142 = 39.
        assert_eq!(get(&p, "CPUWeight"), Some(&Value::U64(39)));
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(&Value::U64(500_000)));
        assert_eq!(get(&p, "CPUQuotaPeriodUSec"), Some(&Value::U64(100_000)));
        assert_eq!(get(&p, "AllowedCPUs"), Some(&Value::Bytes(vec![3])));
        assert_eq!(get(&p, "AllowedMemoryNodes"), Some(&Value::Bytes(vec![1])));
        assert_eq!(get(&p, "TasksMax"), Some(&Value::U64(64)));
        assert_eq!(
            get(&p, "IOWeight"),
            Some(&Value::U64(v2::io::blkio_weight_to_io(500)))
        );
        assert_eq!(get(&p, "MemoryLimit"), None);
    }

    #[test]
    fn v1_mapping_and_unlimited() {
        let r = res(r#"{"memory":{"limit":-1},"cpu":{"shares":512,"cpus":"0"},
                "pids":{"limit":-1},"blockIO":{"weight":300}}"#);
        let p = for_resources(&r, false).unwrap();
        assert_eq!(get(&p, "MemoryLimit"), Some(&Value::U64(INFINITY)));
        assert_eq!(get(&p, "CPUShares"), Some(&Value::U64(512)));
        assert_eq!(get(&p, "TasksMax"), Some(&Value::U64(INFINITY)));
        assert_eq!(get(&p, "BlockIOWeight"), Some(&Value::U64(300)));
        // systemd has no cpuset on v1: the cgroupfs code writes it.
        assert_eq!(get(&p, "AllowedCPUs"), None);
        assert_eq!(get(&p, "MemoryMax"), None);
        assert!(for_resources(&res("{}"), false).unwrap().is_empty());
    }

    #[test]
    fn new_scope_and_new_slice() {
        let u = super::super::slice::parse(Some("system.slice:docker:abc"), "abc").unwrap();
        let p = for_new_unit(&u, "abc", 42, true);
        assert_eq!(get(&p, "Slice"), Some(&Value::Str("system.slice".into())));
        assert_eq!(get(&p, "Delegate"), Some(&Value::Bool(true)));
        assert_eq!(get(&p, "PIDs"), Some(&Value::U32s(vec![42])));
        assert_eq!(get(&p, "IOAccounting"), Some(&Value::Bool(true)));
        assert_eq!(get(&p, "DefaultDependencies"), Some(&Value::Bool(false)));
        let u = super::super::slice::parse(Some("system.slice:x:sub.slice"), "abc").unwrap();
        let p = for_new_unit(&u, "abc", 42, false);
        assert_eq!(get(&p, "Wants"), Some(&Value::Str("system.slice".into())));
        assert_eq!(get(&p, "PIDs"), None);
        assert_eq!(get(&p, "BlockIOAccounting"), Some(&Value::Bool(true)));
    }
}
