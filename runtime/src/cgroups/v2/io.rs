//! v2 io: io.bfq.weight or io.weight, and io.max throttling.

use std::path::Path;

use oci_spec::runtime::LinuxBlockIo;

use crate::cgroups::error::CgroupError;
use crate::cgroups::fs;

const F: &str = "linux.resources.blockIO";

pub(crate) fn apply(dir: &Path, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    // BFQ takes blkio's 10..1000 range directly; io.weight wants 1..10000.
    let bfq = fs::exists(dir, "io.bfq.weight");
    let plain = fs::exists(dir, "io.weight");
    let none = |field: String| {
        CgroupError::unsupported(
            field,
            "set, but neither io.bfq.weight nor io.weight exists (no proportional I/O control on this kernel)",
        )
    };
    if let Some(w) = b.weight().filter(|&w| w != 0) {
        let field = format!("{F}.weight");
        if bfq {
            fs::write(dir, "io.bfq.weight", &w.to_string(), &field)?;
        } else if plain {
            fs::write(dir, "io.weight", &blkio_weight_to_io(w).to_string(), &field)?;
        } else {
            return Err(none(field));
        }
    }
    if b.leaf_weight().unwrap_or(0) != 0 {
        return Err(CgroupError::unsupported(
            format!("{F}.leafWeight"),
            "not supported on cgroup v2",
        ));
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let field = format!("{F}.weightDevice[{i}]");
        if d.leaf_weight().unwrap_or(0) != 0 {
            return Err(CgroupError::unsupported(
                format!("{field}.leafWeight"),
                "not supported on cgroup v2",
            ));
        }
        if let Some(w) = d.weight().filter(|&w| w != 0) {
            let (file, w) = if bfq {
                ("io.bfq.weight", u64::from(w))
            } else if plain {
                ("io.weight", blkio_weight_to_io(w))
            } else {
                return Err(none(field));
            };
            fs::write_device(dir, file, (d.major(), d.minor()), w, &field)?;
        }
    }
    for (name, key, list) in [
        (
            "throttleReadBpsDevice",
            "rbps",
            b.throttle_read_bps_device(),
        ),
        (
            "throttleWriteBpsDevice",
            "wbps",
            b.throttle_write_bps_device(),
        ),
        (
            "throttleReadIOPSDevice",
            "riops",
            b.throttle_read_iops_device(),
        ),
        (
            "throttleWriteIOPSDevice",
            "wiops",
            b.throttle_write_iops_device(),
        ),
    ] {
        for (i, d) in list.iter().flatten().enumerate() {
            // v1 uses 0 to lift a limit; v2 spells that "max".
            let rate = if d.rate() == 0 {
                "max".to_string()
            } else {
                d.rate().to_string()
            };
            let field = format!("{F}.{name}[{i}]");
            let value = format!("{key}={rate}");
            fs::write_device(dir, "io.max", (d.major(), d.minor()), value, &field)?;
        }
    }
    Ok(())
}

/// runc's ConvertBlkIOToIOWeightValue: [10, 1000] onto [1, 10000].
pub(crate) fn blkio_weight_to_io(w: u16) -> u64 {
    if w == 0 {
        return 0;
    }
    1 + (u64::from(w).saturating_sub(10)) * 9999 / 990
}

/// io.stat "8:0 rbytes=1 wbytes=2 rios=3 wios=4 ..." mapped onto runc's
/// v1-shaped entries (Read/Write).
pub(crate) fn stats(dir: &Path, b: &mut crate::cgroups::stats::Blkio) -> Result<(), CgroupError> {
    let s = match fs::read_string(dir, "io.stat") {
        Ok(s) => s,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e),
    };
    for line in s.lines() {
        let mut it = line.split_whitespace();
        let Some((maj, min)) = it.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (maj.parse::<u64>(), min.parse::<u64>()) else {
            continue;
        };
        for kv in it {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let Ok(value) = v.parse::<u64>() else {
                continue;
            };
            let (list, op) = match k {
                "rbytes" => (&mut b.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut b.io_service_bytes_recursive, "Write"),
                "rios" => (&mut b.io_serviced_recursive, "Read"),
                "wios" => (&mut b.io_serviced_recursive, "Write"),
                _ => continue,
            };
            list.push(crate::cgroups::stats::BlkioEntry {
                major,
                minor,
                op: op.to_string(),
                value,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn weight_conversion() {
        assert_eq!(super::blkio_weight_to_io(10), 1);
        assert_eq!(super::blkio_weight_to_io(500), 4950);
        assert_eq!(super::blkio_weight_to_io(1000), 10000);
        assert_eq!(super::blkio_weight_to_io(0), 0);
    }
}
