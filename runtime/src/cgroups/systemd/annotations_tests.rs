use super::*;

fn one(key: &str, value: &str) -> Result<Vec<(String, Value)>, SpecError> {
    let a = HashMap::from([(key.to_string(), value.to_string())]);
    properties(Some(&a))
}

fn prop(name: &str, value: &str) -> (String, Value) {
    let key = format!("{PREFIX}{name}");
    match one(&key, value) {
        Ok(mut v) if v.len() == 1 => v.remove(0),
        other => panic!("{key}={value}: {other:?}"),
    }
}

fn refused(name: &str, value: &str) -> String {
    let key = format!("{PREFIX}{name}");
    match one(&key, value) {
        Err(e) => e.to_string(),
        Ok(v) => panic!("{key}={value} was accepted: {v:?}"),
    }
}

#[test]
fn values_as_godbus_reads_them() {
    let cases: &[(&str, Value)] = &[
        ("uint64 123", Value::U64(123)),
        ("@t 123", Value::U64(123)),
        ("byte 7", Value::U8(7)),
        ("int16 -3", Value::I16(-3)),
        ("uint16 0x10", Value::U16(16)),
        ("int32 010", Value::I32(8)),
        ("uint32 4000000000", Value::U32(4_000_000_000)),
        ("int64 -5", Value::I64(-5)),
        ("42", Value::I32(42)),
        ("-1", Value::I32(-1)),
        ("2.5", Value::F64(2.5)),
        ("double 3", Value::F64(3.0)),
        ("true", Value::Bool(true)),
        ("boolean false", Value::Bool(false)),
        (
            "'inactive-or-failed'",
            Value::Str("inactive-or-failed".into()),
        ),
        ("\"it's\"", Value::Str("it's".into())),
        ("string 'a\\'b'", Value::Str("a'b".into())),
        ("@as []", Value::Strs(vec![])),
        ("['a', \"b\"]", Value::Strs(vec!["a".into(), "b".into()])),
        ("  @as [ 'x' ]  ", Value::Strs(vec!["x".into()])),
    ];
    for (text, want) in cases {
        assert_eq!(parse(text).as_ref(), Ok(want), "{text}");
    }
}

#[test]
fn values_refused() {
    for text in [
        "",
        "invalid-value",
        "'unterminated",
        "[]",
        "[1, 2]",
        "['a' 'b']",
        "5000000000",
        "byte 256",
        "uint64 -1",
        "uint64 'x'",
        "'a' 'b'",
        "truex",
        "@a{ss} {}",
        "<1>",
        "objectpath '/x'",
        "'a\\qb'",
    ] {
        assert!(parse(text).is_err(), "{text:?} was accepted");
    }
}

#[test]
fn names_like_runc() {
    assert_eq!(prop("CollectMode", "'inactive-or-failed'").0, "CollectMode");
    for bad in ["Xo", "Number1", "A name", "Кир"] {
        let e = refused(bad, "1");
        assert!(e.contains("property name"), "{e}");
    }
}

#[test]
fn seconds_become_microseconds_like_runc() {
    let usec = |v: &str| prop("TimeoutStopSec", v);
    let want = |n: u64| ("TimeoutStopUSec".to_string(), Value::U64(n));
    assert_eq!(usec("456"), want(456_000_000));
    assert_eq!(usec("byte 234"), want(234_000_000));
    assert_eq!(usec("uint64 7"), want(7_000_000));
    assert_eq!(usec("234.789"), want(234_789_000));
    // Already microseconds, or not a lowercase letter before Sec: as is.
    assert_eq!(
        prop("TimeoutStopUSec", "uint64 123"),
        ("TimeoutStopUSec".to_string(), Value::U64(123))
    );
    assert_eq!(
        prop("FOOSec", "123"),
        ("FOOSec".to_string(), Value::I32(123))
    );
    for v in ["false", "'covfefe'", "-1", "uint64 18446744073709551615"] {
        refused("TimeoutStopSec", v);
    }
}

#[test]
fn errors_name_the_annotation_and_value_in_one_line() {
    let e = refused("CPUWeight", "lots\nof");
    assert!(
        e.starts_with("annotations[\"org.systemd.property.CPUWeight\"]: \"lots"),
        "{e}"
    );
    assert!(!e.contains('\n'), "{e}");
}

#[test]
fn other_annotations_are_not_ours_and_order_is_stable() {
    let a = HashMap::from([
        ("org.systemd.property.Zed".to_string(), "1".to_string()),
        ("org.systemd.property.Abc".to_string(), "2".to_string()),
        ("com.example.x".to_string(), "not a variant".to_string()),
        ("org.systemd.propertyX".to_string(), "nor this".to_string()),
    ]);
    let p = properties(Some(&a)).expect("parsed");
    assert_eq!(
        p,
        vec![
            ("Abc".to_string(), Value::I32(2)),
            ("Zed".to_string(), Value::I32(1))
        ]
    );
    assert_eq!(properties(None), Ok(vec![]));
}
