//! linux.resources.cpu bandwidth: shares, CFS quota/period/burst, idle,
//! real-time runtime/period. cpus and mems belong to the cpuset controller
//! (`cpuset.rs`).

use oci_spec::runtime::{LinuxCpu, LinuxResources};

use super::{asked_if, by_version, Placement, Resource, R};
use crate::cgroups::controller::{Target, Targets};
use crate::cgroups::error::CgroupError;
use crate::cgroups::stats::Stats;
use crate::cgroups::{v1, v2};

pub(super) struct Cpu;

fn f(name: &str) -> String {
    format!("{R}.cpu.{name}")
}

impl Resource for Cpu {
    fn asked(&self, r: &LinuxResources) -> Vec<(String, &'static str)> {
        let set = r.cpu().as_ref().is_some_and(|c| {
            c.shares().unwrap_or(0) != 0
                || c.quota().unwrap_or(0) != 0
                || c.period().unwrap_or(0) != 0
                || c.realtime_runtime().unwrap_or(0) != 0
                || c.realtime_period().unwrap_or(0) != 0
                || c.idle().is_some()
                || c.burst().is_some()
        });
        asked_if(set, "cpu", "cpu")
    }

    fn check(&self, r: &LinuxResources, _update: bool) -> Result<(), CgroupError> {
        match r.cpu() {
            Some(c) => check(c),
            None => Ok(()),
        }
    }

    fn check_host(&self, p: &dyn Placement, r: &LinuxResources) -> Result<(), CgroupError> {
        let Some(c) = r.cpu() else {
            return Ok(());
        };
        if p.on_v2("cpu")
            && (c.realtime_runtime().unwrap_or(0) != 0 || c.realtime_period().unwrap_or(0) != 0)
        {
            return Err(CgroupError::unsupported(
                f("realtimeRuntime"),
                "real-time scheduling limits are not supported on cgroup v2",
            ));
        }
        Ok(())
    }

    fn apply(&self, t: &Targets, r: &LinuxResources, _update: bool) -> Result<(), CgroupError> {
        let Some(c) = r.cpu() else {
            return Ok(());
        };
        by_version(t, "cpu", c, v1::cpu::apply, v2::cpu::apply)
    }

    fn stats(&self, t: &Targets, s: &mut Stats) -> Result<(), CgroupError> {
        by_version(t, "cpu", &mut s.cpu, v1::cpu::stats, v2::cpu::stats)?;
        // v1 keeps usage in its own controller; v2 cpu.stat has it.
        if let Target::V1(d) = t.get("cpuacct") {
            v1::cpuacct::stats(d, &mut s.cpu.usage)?;
        }
        Ok(())
    }
}

fn check(c: &LinuxCpu) -> Result<(), CgroupError> {
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
    Ok(())
}
