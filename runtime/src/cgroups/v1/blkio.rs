//! v1 blkio: proportional weights (CFQ's blkio.weight or BFQ's
//! blkio.bfq.weight, whichever the kernel has) and throttling.

use std::path::Path;

use oci_spec::runtime::LinuxBlockIo;

use crate::cgroups::error::CgroupError;
use crate::cgroups::fs;

const F: &str = "linux.resources.blockIO";

pub(crate) fn apply(dir: &Path, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    // CFQ is gone from recent kernels; BFQ's file takes the same 10..1000
    // range. Neither exists without a proportional I/O scheduler.
    let weight_file = ["blkio.weight", "blkio.bfq.weight"]
        .into_iter()
        .find(|f| fs::exists(dir, f));
    let no_weight = |field: &str| {
        CgroupError::unsupported(
            format!("{F}.{field}"),
            "set, but neither blkio.weight nor blkio.bfq.weight exists (no CFQ/BFQ I/O scheduler on this kernel)",
        )
    };
    if let Some(w) = b.weight().filter(|&w| w != 0) {
        let file = weight_file.ok_or_else(|| no_weight("weight"))?;
        fs::write(dir, file, &w.to_string(), &format!("{F}.weight"))?;
    }
    if let Some(w) = b.leaf_weight().filter(|&w| w != 0) {
        if !fs::exists(dir, "blkio.leaf_weight") {
            return Err(CgroupError::unsupported(
                format!("{F}.leafWeight"),
                "set, but blkio.leaf_weight does not exist on this kernel",
            ));
        }
        fs::write(
            dir,
            "blkio.leaf_weight",
            &w.to_string(),
            &format!("{F}.leafWeight"),
        )?;
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let field = format!("{F}.weightDevice[{i}]");
        if let Some(w) = d.weight().filter(|&w| w != 0) {
            let file = match weight_file {
                Some("blkio.bfq.weight") => "blkio.bfq.weight_device",
                Some(_) => "blkio.weight_device",
                None => return Err(no_weight(&format!("weightDevice[{i}]"))),
            };
            fs::write_device(dir, file, (d.major(), d.minor()), w, &field)?;
        }
        if let Some(w) = d.leaf_weight().filter(|&w| w != 0) {
            let file = "blkio.leaf_weight_device";
            let leaf_field = format!("{field}.leafWeight");
            fs::write_device(dir, file, (d.major(), d.minor()), w, &leaf_field)?;
        }
    }
    for (name, file, list) in [
        (
            "throttleReadBpsDevice",
            "blkio.throttle.read_bps_device",
            b.throttle_read_bps_device(),
        ),
        (
            "throttleWriteBpsDevice",
            "blkio.throttle.write_bps_device",
            b.throttle_write_bps_device(),
        ),
        (
            "throttleReadIOPSDevice",
            "blkio.throttle.read_iops_device",
            b.throttle_read_iops_device(),
        ),
        (
            "throttleWriteIOPSDevice",
            "blkio.throttle.write_iops_device",
            b.throttle_write_iops_device(),
        ),
    ] {
        for (i, d) in list.iter().flatten().enumerate() {
            // A rate of 0 removes the device's limit.
            let field = format!("{F}.{name}[{i}]");
            fs::write_device(dir, file, (d.major(), d.minor()), d.rate(), &field)?;
        }
    }
    Ok(())
}

/// BFQ counters when BFQ is in use, otherwise the throttle layer's (which
/// count all I/O that passed through the cgroup), as runc does.
pub(crate) fn stats(dir: &Path, b: &mut crate::cgroups::stats::Blkio) -> Result<(), CgroupError> {
    let (bytes, ios) = if fs::exists(dir, "blkio.bfq.io_service_bytes_recursive") {
        (
            "blkio.bfq.io_service_bytes_recursive",
            "blkio.bfq.io_serviced_recursive",
        )
    } else {
        (
            "blkio.throttle.io_service_bytes_recursive",
            "blkio.throttle.io_serviced_recursive",
        )
    };
    for (file, out) in [
        (bytes, &mut b.io_service_bytes_recursive),
        (ios, &mut b.io_serviced_recursive),
    ] {
        match fs::read_string(dir, file) {
            Ok(s) => *out = parse_entries(&s),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Lines "8:0 Read 4096"; the trailing "Total N" line has no device.
pub(crate) fn parse_entries(s: &str) -> Vec<crate::cgroups::stats::BlkioEntry> {
    s.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let (maj, min) = it.next()?.split_once(':')?;
            let op = it.next()?;
            let value = it.next()?.parse().ok()?;
            Some(crate::cgroups::stats::BlkioEntry {
                major: maj.parse().ok()?,
                minor: min.parse().ok()?,
                op: op.to_string(),
                value,
            })
        })
        .collect()
}
