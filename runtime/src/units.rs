//! Byte sizes as docker/runc write them: "1024", "128m", "1.5g", "-1".

pub fn parse_bytes(s: &str) -> Result<i64, String> {
    let t = s.trim();
    if t == "-1" {
        return Ok(-1);
    }
    let lower = t.to_ascii_lowercase();
    let lower = lower.trim_end_matches('b').trim_end_matches('i');
    let (num, mult): (&str, u64) = match lower.chars().last() {
        Some('k') => (&lower[..lower.len() - 1], 1 << 10),
        Some('m') => (&lower[..lower.len() - 1], 1 << 20),
        Some('g') => (&lower[..lower.len() - 1], 1 << 30),
        Some('t') => (&lower[..lower.len() - 1], 1 << 40),
        Some('p') => (&lower[..lower.len() - 1], 1 << 50),
        _ => (lower, 1),
    };
    let not_a_size = || format!("{s:?} is not a size (e.g. 1048576, 128m, 1g, -1)");
    let too_large = || format!("{s:?} is too large");
    let num = num.trim();
    // Whole numbers exactly: an f64 rounds 9223372036854775807 up to 2^63.
    if let Ok(n) = num.parse::<u64>() {
        return n
            .checked_mul(mult)
            .and_then(|v| i64::try_from(v).ok())
            .ok_or_else(too_large);
    }
    let n: f64 = num.parse().map_err(|_| not_a_size())?;
    if n.is_nan() {
        return Err(not_a_size());
    }
    if n < 0.0 {
        return Err(format!("{s:?}: a size must not be negative (except -1)"));
    }
    let v = n * mult as f64;
    // i64::MAX as f64 is 2^63, itself too large
    if v >= i64::MAX as f64 {
        return Err(too_large());
    }
    Ok(v as i64)
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("1024"), Ok(1024));
        assert_eq!(parse_bytes("128m"), Ok(128 << 20));
        assert_eq!(parse_bytes("1G"), Ok(1 << 30));
        assert_eq!(parse_bytes("64MiB"), Ok(64 << 20));
        assert_eq!(parse_bytes("-1"), Ok(-1));
        assert!(parse_bytes("-5").is_err());
        assert!(parse_bytes("lots").is_err());
    }

    #[test]
    fn edges() {
        assert_eq!(parse_bytes("9223372036854775807"), Ok(i64::MAX));
        assert_eq!(parse_bytes("8191p"), Ok(8191 << 50));
        assert_eq!(parse_bytes("1.5k"), Ok(1536));
        for bad in [
            "9223372036854775808",
            "8192p",
            "16384p",
            "18446744073709551616",
            "1e400",
            "inf",
            "9.3e18",
        ] {
            assert_eq!(parse_bytes(bad), Err(format!("{bad:?} is too large")));
        }
        for bad in ["nan", "NaN", "", "k", "1kk", "m1", "0x10"] {
            assert!(
                parse_bytes(bad).is_err_and(|e| e.contains("is not a size")),
                "{bad}"
            );
        }
        assert!(parse_bytes("-inf").is_err_and(|e| e.contains("negative")));
    }
}
