//! `rcrun update`: change resource limits of a running container, from
//! `--resources <file|->` (OCI LinuxResources JSON) or the single-value flags.

use std::io::Read;
use std::path::PathBuf;

use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources,
    LinuxResourcesBuilder,
};

use rcrun::container::Container;
use rcrun::error::{Error, Result, SpecError};
use rcrun::state::Root;
use rcrun::units;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// JSON file with the new resources (OCI linux.resources); - for stdin.
    /// Other flags are ignored when given.
    #[arg(short, long)]
    pub resources: Option<PathBuf>,
    /// Block IO weight, 10..1000 (cgroup v2: io.weight)
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    /// CPU CFS period in microseconds
    #[arg(long)]
    pub cpu_period: Option<u64>,
    /// CPU CFS quota in microseconds per period (-1 = unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU real-time period in microseconds (cgroup v1 only)
    #[arg(long)]
    pub cpu_rt_period: Option<u64>,
    /// CPU real-time runtime in microseconds (cgroup v1 only)
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPU shares, 2..262144 (relative weight)
    #[arg(long)]
    pub cpu_share: Option<u64>,
    /// CPUs the container may use (e.g. 0-3,6)
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes the container may use (e.g. 0-1)
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Memory limit (bytes, or with k/m/g suffix; -1 = unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory soft limit (bytes, or with k/m/g suffix; -1 = unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory + swap limit (-1 = unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Maximum number of processes (-1 or 0 = unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Intel RDT L3 cache schema (not supported: rejected)
    #[arg(long)]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT memory bandwidth schema (not supported: rejected)
    #[arg(long)]
    pub mem_bw_schema: Option<String>,
    /// Container id (letters, digits, '_', '+', '-', '.')
    pub container_id: String,
}

fn read_resources(path: &PathBuf) -> Result<LinuxResources> {
    let mut data = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .read_to_end(&mut data)
            .map_err(|e| Error::io("stdin", e))?;
    } else {
        data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    }
    serde_json::from_slice(&data).map_err(|e| {
        SpecError::field("--resources", format!("invalid linux.resources JSON: {e}")).into()
    })
}

fn from_flags(a: &Args) -> Result<LinuxResources> {
    let bad = |field: &str, e: String| Error::from(SpecError::field(format!("--{field}"), e));
    let mut r = LinuxResourcesBuilder::default();
    let mut mem = LinuxMemoryBuilder::default();
    let mut mem_set = false;
    if let Some(v) = &a.memory {
        mem = mem.limit(units::parse_bytes(v).map_err(|e| bad("memory", e))?);
        mem_set = true;
    }
    if let Some(v) = &a.memory_reservation {
        mem = mem.reservation(units::parse_bytes(v).map_err(|e| bad("memory-reservation", e))?);
        mem_set = true;
    }
    if let Some(v) = &a.memory_swap {
        mem = mem.swap(units::parse_bytes(v).map_err(|e| bad("memory-swap", e))?);
        mem_set = true;
    }
    if mem_set {
        r = r.memory(mem.build().map_err(|e| bad("memory", e.to_string()))?);
    }
    let mut cpu = LinuxCpuBuilder::default();
    let mut cpu_set = false;
    if let Some(v) = a.cpu_share {
        cpu = cpu.shares(v);
        cpu_set = true;
    }
    if let Some(v) = a.cpu_quota {
        cpu = cpu.quota(v);
        cpu_set = true;
    }
    if let Some(v) = a.cpu_period {
        cpu = cpu.period(v);
        cpu_set = true;
    }
    if let Some(v) = a.cpu_rt_runtime {
        cpu = cpu.realtime_runtime(v);
        cpu_set = true;
    }
    if let Some(v) = a.cpu_rt_period {
        cpu = cpu.realtime_period(v);
        cpu_set = true;
    }
    if let Some(v) = &a.cpuset_cpus {
        cpu = cpu.cpus(v.clone());
        cpu_set = true;
    }
    if let Some(v) = &a.cpuset_mems {
        cpu = cpu.mems(v.clone());
        cpu_set = true;
    }
    if cpu_set {
        r = r.cpu(cpu.build().map_err(|e| bad("cpu", e.to_string()))?);
    }
    if let Some(v) = a.pids_limit {
        r = r.pids(
            LinuxPidsBuilder::default()
                .limit(v)
                .build()
                .map_err(|e| bad("pids-limit", e.to_string()))?,
        );
    }
    if let Some(v) = a.blkio_weight {
        r = r.block_io(
            LinuxBlockIoBuilder::default()
                .weight(v)
                .build()
                .map_err(|e| bad("blkio-weight", e.to_string()))?,
        );
    }
    if a.l3_cache_schema.is_some() || a.mem_bw_schema.is_some() {
        return Err(Error::unsupported(
            "--l3-cache-schema/--mem-bw-schema",
            "Intel RDT is not supported by rcrun",
        ));
    }
    r.build()
        .map_err(|e| SpecError::field("linux.resources", e.to_string()).into())
}

pub fn run(root: &Root, args: &Args) -> Result<i32> {
    // Flags first: a malformed value is reported whatever the container.
    let resources = match &args.resources {
        Some(path) => read_resources(path)?,
        None => from_flags(args)?,
    };
    Container::open(root, &args.container_id)?.update(&resources)?;
    Ok(0)
}
