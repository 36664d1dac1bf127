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
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 1048576, 128m, 1g, -1)"))?;
    if n.is_nan() || n < 0.0 {
        return Err(format!("{s:?}: a size must not be negative (except -1)"));
    }
    let v = n * mult as f64;
    if v > i64::MAX as f64 {
        return Err(format!("{s:?} is too large"));
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
}
