//! rcrun's cgroup statistics in containerd's metric types:
//! `io.containerd.cgroups.v1.Metrics` (v1 and hybrid hosts) and
//! `io.containerd.cgroups.v2.Metrics`. CPU comes from cpuacct/cpu.stat,
//! so v1 CPU usage is real (not the zeros of the reference shim).

use containerd_shim_protos::cgroups::metrics as v1;
use containerd_shim_protos::cgroups_v2::metrics as v2;
use containerd_shim_protos::protobuf::well_known_types::any::Any;
use containerd_shim_protos::protobuf::{Message, MessageField};
use rcrun::cgroups::{CgroupSet, Layout, Stats};

use crate::error::{Error, Result};

pub fn collect(cg: &CgroupSet) -> Result<Any> {
    let s = cg.stats()?;
    let oom = cg.oom_counters().ok();
    let (type_url, value) = if cg.layout == Layout::V2 {
        let mut m = to_v2(&s);
        if let Some(o) = oom {
            m.memory_events = MessageField::some(v2::MemoryEvents {
                high: o.high.unwrap_or(0),
                max: o.max.unwrap_or(0),
                oom: o.oom.unwrap_or(0),
                oom_kill: o.oom_kill,
                ..Default::default()
            });
        }
        ("io.containerd.cgroups.v2.Metrics", m.write_to_bytes())
    } else {
        let mut m = to_v1(&s);
        if let Some(o) = oom {
            m.memory_oom_control = MessageField::some(v1::MemoryOomControl {
                oom_kill_disable: o.oom_kill_disable.unwrap_or(false) as u64,
                under_oom: o.under_oom.unwrap_or(false) as u64,
                oom_kill: o.oom_kill,
                ..Default::default()
            });
        }
        ("io.containerd.cgroups.v1.Metrics", m.write_to_bytes())
    };
    Ok(Any {
        type_url: type_url.to_string(),
        value: value.map_err(|e| Error::Other(format!("encode metrics: {e}")))?,
        ..Default::default()
    })
}

// The library's entry types are not exported by name: macros map fields.
macro_rules! entry {
    ($e:expr) => {
        v1::MemoryEntry {
            limit: $e.limit,
            usage: $e.usage,
            max: $e.max,
            failcnt: $e.failcnt,
            ..Default::default()
        }
    };
}

macro_rules! blk {
    ($v:expr) => {
        $v.iter()
            .map(|e| v1::BlkIOEntry {
                op: e.op.clone(),
                major: e.major,
                minor: e.minor,
                value: e.value,
                ..Default::default()
            })
            .collect()
    };
}

pub fn to_v1(s: &Stats) -> v1::Metrics {
    let raw = |k: &str| s.memory.raw.get(k).copied().unwrap_or(0);
    let mem = v1::MemoryStat {
        cache: s.memory.cache,
        rss: raw("rss"),
        rss_huge: raw("rss_huge"),
        mapped_file: raw("mapped_file"),
        dirty: raw("dirty"),
        writeback: raw("writeback"),
        pg_pg_in: raw("pgpgin"),
        pg_pg_out: raw("pgpgout"),
        pg_fault: raw("pgfault"),
        pg_maj_fault: raw("pgmajfault"),
        inactive_anon: raw("inactive_anon"),
        active_anon: raw("active_anon"),
        inactive_file: raw("inactive_file"),
        active_file: raw("active_file"),
        unevictable: raw("unevictable"),
        hierarchical_memory_limit: raw("hierarchical_memory_limit"),
        hierarchical_swap_limit: raw("hierarchical_memsw_limit"),
        total_cache: raw("total_cache"),
        total_rss: raw("total_rss"),
        total_rss_huge: raw("total_rss_huge"),
        total_mapped_file: raw("total_mapped_file"),
        total_dirty: raw("total_dirty"),
        total_writeback: raw("total_writeback"),
        total_pg_pg_in: raw("total_pgpgin"),
        total_pg_pg_out: raw("total_pgpgout"),
        total_pg_fault: raw("total_pgfault"),
        total_pg_maj_fault: raw("total_pgmajfault"),
        total_inactive_anon: raw("total_inactive_anon"),
        total_active_anon: raw("total_active_anon"),
        total_inactive_file: raw("total_inactive_file"),
        total_active_file: raw("total_active_file"),
        total_unevictable: raw("total_unevictable"),
        usage: MessageField::some(entry!(s.memory.usage)),
        swap: MessageField::some(entry!(s.memory.swap)),
        kernel: MessageField::some(entry!(s.memory.kernel)),
        kernel_tcp: MessageField::some(entry!(s.memory.kernel_tcp)),
        ..Default::default()
    };
    v1::Metrics {
        hugetlb: s
            .hugetlb
            .iter()
            .map(|(size, h)| v1::HugetlbStat {
                usage: h.usage,
                max: h.max,
                failcnt: h.failcnt,
                pagesize: size.clone(),
                ..Default::default()
            })
            .collect(),
        pids: MessageField::some(v1::PidsStat {
            current: s.pids.current,
            limit: s.pids.limit,
            ..Default::default()
        }),
        cpu: MessageField::some(v1::CPUStat {
            usage: MessageField::some(v1::CPUUsage {
                total: s.cpu.usage.total,
                kernel: s.cpu.usage.kernel,
                user: s.cpu.usage.user,
                per_cpu: s.cpu.usage.percpu.clone(),
                ..Default::default()
            }),
            throttling: MessageField::some(v1::Throttle {
                periods: s.cpu.throttling.periods,
                throttled_periods: s.cpu.throttling.throttled_periods,
                throttled_time: s.cpu.throttling.throttled_time,
                ..Default::default()
            }),
            ..Default::default()
        }),
        memory: MessageField::some(mem),
        blkio: MessageField::some(v1::BlkIOStat {
            io_service_bytes_recursive: blk!(s.blkio.io_service_bytes_recursive),
            io_serviced_recursive: blk!(s.blkio.io_serviced_recursive),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn to_v2(s: &Stats) -> v2::Metrics {
    let raw = |k: &str| s.memory.raw.get(k).copied().unwrap_or(0);
    let unlimited = |v: u64| if v == u64::MAX { 0 } else { v };
    let mem = v2::MemoryStat {
        anon: raw("anon"),
        file: raw("file"),
        kernel_stack: raw("kernel_stack"),
        slab: raw("slab"),
        sock: raw("sock"),
        shmem: raw("shmem"),
        file_mapped: raw("file_mapped"),
        file_dirty: raw("file_dirty"),
        file_writeback: raw("file_writeback"),
        anon_thp: raw("anon_thp"),
        inactive_anon: raw("inactive_anon"),
        active_anon: raw("active_anon"),
        inactive_file: raw("inactive_file"),
        active_file: raw("active_file"),
        unevictable: raw("unevictable"),
        slab_reclaimable: raw("slab_reclaimable"),
        slab_unreclaimable: raw("slab_unreclaimable"),
        pgfault: raw("pgfault"),
        pgmajfault: raw("pgmajfault"),
        workingset_refault: raw("workingset_refault"),
        workingset_activate: raw("workingset_activate"),
        workingset_nodereclaim: raw("workingset_nodereclaim"),
        pgrefill: raw("pgrefill"),
        pgscan: raw("pgscan"),
        pgsteal: raw("pgsteal"),
        pgactivate: raw("pgactivate"),
        pgdeactivate: raw("pgdeactivate"),
        pglazyfree: raw("pglazyfree"),
        pglazyfreed: raw("pglazyfreed"),
        thp_fault_alloc: raw("thp_fault_alloc"),
        thp_collapse_alloc: raw("thp_collapse_alloc"),
        usage: s.memory.usage.usage,
        usage_limit: unlimited(s.memory.usage.limit),
        swap_usage: s.memory.swap.usage,
        swap_limit: unlimited(s.memory.swap.limit),
        max_usage: s.memory.usage.max,
        swap_max_usage: s.memory.swap.max,
        ..Default::default()
    };
    let usec = |ns: u64| ns / 1000;
    v2::Metrics {
        pids: MessageField::some(v2::PidsStat {
            current: s.pids.current,
            limit: s.pids.limit,
            ..Default::default()
        }),
        cpu: MessageField::some(v2::CPUStat {
            usage_usec: usec(s.cpu.usage.total),
            user_usec: usec(s.cpu.usage.user),
            system_usec: usec(s.cpu.usage.kernel),
            nr_periods: s.cpu.throttling.periods,
            nr_throttled: s.cpu.throttling.throttled_periods,
            throttled_usec: usec(s.cpu.throttling.throttled_time),
            ..Default::default()
        }),
        memory: MessageField::some(mem),
        io: MessageField::some(v2::IOStat {
            usage: io_entries(s),
            ..Default::default()
        }),
        hugetlb: s
            .hugetlb
            .iter()
            .map(|(size, h)| v2::HugeTlbStat {
                current: h.usage,
                max: h.max,
                pagesize: size.clone(),
                failcnt: h.failcnt,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// runc-shaped blkio entries (op Read/Write per device) back to io.stat rows.
fn io_entries(s: &Stats) -> Vec<v2::IOEntry> {
    let mut out: Vec<v2::IOEntry> = Vec::new();
    let mut row = |major: u64, minor: u64| -> usize {
        if let Some(i) = out
            .iter()
            .position(|e| e.major == major && e.minor == minor)
        {
            return i;
        }
        out.push(v2::IOEntry {
            major,
            minor,
            ..Default::default()
        });
        out.len() - 1
    };
    let mut idx = Vec::new();
    for e in &s.blkio.io_service_bytes_recursive {
        idx.push((row(e.major, e.minor), e.op.as_str(), e.value, true));
    }
    for e in &s.blkio.io_serviced_recursive {
        idx.push((row(e.major, e.minor), e.op.as_str(), e.value, false));
    }
    for (i, op, v, bytes) in idx {
        let r = &mut out[i];
        match (op, bytes) {
            ("Read" | "read", true) => r.rbytes = v,
            ("Write" | "write", true) => r.wbytes = v,
            ("Read" | "read", false) => r.rios = v,
            ("Write" | "write", false) => r.wios = v,
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_cpu_is_not_zero_and_memory_maps() {
        let mut s = Stats::default();
        s.cpu.usage.total = 5_000_000;
        s.cpu.usage.user = 3_000_000;
        s.memory.usage.usage = 4096;
        s.memory.raw.insert("total_rss".into(), 8192);
        let m = to_v1(&s);
        assert_eq!(m.cpu.usage.total, 5_000_000);
        assert_eq!(m.memory.usage.usage, 4096);
        assert_eq!(m.memory.total_rss, 8192);
        let m2 = to_v2(&s);
        assert_eq!(m2.cpu.usage_usec, 5_000);
        assert_eq!(m2.cpu.user_usec, 3_000);
    }
}
