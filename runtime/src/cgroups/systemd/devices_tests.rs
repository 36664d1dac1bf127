use super::*;
use crate::cgroups::devices::effective_rules;

fn rules(json: &str) -> Vec<LinuxDeviceCgroup> {
    serde_json::from_str(json).unwrap()
}

fn new_host() -> Host {
    Host {
        systemd_version: Some(252),
        proc_devices: String::new(),
    }
}

/// The DeviceAllow list of `props` (the last DeviceAllow, after the reset).
fn allow_list(props: &[Prop]) -> Vec<(String, String)> {
    match props.iter().rev().find(|(n, _)| *n == "DeviceAllow") {
        Some((_, Value::DeviceAllow(l))) => l.clone(),
        other => panic!("no DeviceAllow: {other:?}"),
    }
}

/// A DeviceAllow reset and the policy, nothing else.
fn policy_and_no_list(policy: &str) -> Vec<Prop> {
    vec![
        ("DeviceAllow", Value::DeviceAllow(Vec::new())),
        ("DevicePolicy", Value::Str(policy.into())),
    ]
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(p, a)| (p.to_string(), a.to_string()))
        .collect()
}

const PROC_DEVICES: &str = "Character devices:
  1 mem
  4 /dev/vc/0
  5 /dev/tty
136 pts
254 gpiochip

Block devices:
  7 loop
  8 sd
254 virtblk
";

#[test]
fn default_container_is_strict_with_the_default_devices() {
    // What lc_spec makes of `devices: []`: deny-all, then the defaults.
    let all = effective_rules(Some(&rules(r#"[{"allow":false,"access":"rwm"}]"#)));
    let p = properties(&all, &new_host());
    assert_eq!(p[0], ("DeviceAllow", Value::DeviceAllow(Vec::new())));
    assert_eq!(p[1], ("DevicePolicy", Value::Str("strict".into())));
    assert_eq!(
        allow_list(&p),
        pairs(&[
            ("/dev/char/1:3", "rwm"),
            ("/dev/char/1:5", "rwm"),
            ("/dev/char/1:7", "rwm"),
            ("/dev/char/5:0", "rwm"),
            ("/dev/char/1:9", "rwm"),
            ("/dev/char/1:8", "rwm"),
            ("char-*", "m"),
            ("block-*", "m"),
            ("/dev/char/5:1", "rwm"),
            ("char-136", "rwm"),
            ("/dev/char/5:2", "rwm"),
            ("/dev/char/10:200", "rwm"),
        ])
    );
    // Nothing gives read or write to any block device.
    assert!(allow_list(&p)
        .iter()
        .all(|(path, acc)| !path.starts_with("block-") || acc == "m"));
}

#[test]
fn docker_privileged_is_auto_with_no_list() {
    let all = effective_rules(Some(&rules(
        r#"[{"allow":false,"access":"rwm"},{"allow":true,"access":"rwm"}]"#,
    )));
    let p = properties(&all, &new_host());
    assert_eq!(p, policy_and_no_list("auto"));
}

#[test]
fn deny_exceptions_in_allow_all_become_deny_all() {
    // systemd cannot say "all but /dev/sda": runc's answer, deny-all.
    let r = rules(
        r#"[{"allow":true,"type":"a"},{"allow":false,"type":"b","major":8,"minor":0,"access":"rwm"}]"#,
    );
    let p = properties(&r, &new_host());
    assert_eq!(p, policy_and_no_list("strict"));
}

#[test]
fn later_rules_merge_and_remove_like_the_v1_kernel() {
    let r = rules(
        r#"[{"allow":false,"access":"rwm"},
            {"allow":true,"type":"c","major":1,"minor":3,"access":"r"},
            {"allow":true,"type":"c","major":1,"minor":3,"access":"w"},
            {"allow":true,"type":"b","major":8,"minor":0,"access":"rwm"},
            {"allow":false,"type":"b","major":8,"minor":0,"access":"rw"},
            {"allow":true,"type":"c","major":4,"minor":1,"access":"rw"},
            {"allow":false,"type":"c","major":4,"minor":1,"access":"rwm"},
            {"allow":true,"type":"c","major":5,"access":""}]"#,
    );
    let p = properties(&r, &new_host());
    assert_eq!(
        allow_list(&p),
        pairs(&[("/dev/char/1:3", "rw"), ("/dev/block/8:0", "m")])
    );
    // A type-a deny later wipes everything before it.
    let mut r2 = r.clone();
    r2.extend(rules(r#"[{"allow":false,"type":"a","access":"rwm"}]"#));
    assert_eq!(allow_list(&properties(&r2, &new_host())), vec![]);
}

#[test]
fn wildcards_majors_and_minus_one() {
    let r = rules(
        r#"[{"allow":false,"access":"rwm"},
            {"allow":true,"type":"b","major":-1,"minor":-1,"access":"m"},
            {"allow":true,"type":"c","minor":3,"access":"rwm"},
            {"allow":true,"type":"b","major":254,"access":"r"},
            {"allow":true,"type":"u","major":1,"minor":9,"access":"mrw"}]"#,
    );
    // systemd >= 240: numeric groups; *:3 cannot be said at all.
    let p = properties(&r, &new_host());
    assert_eq!(
        allow_list(&p),
        pairs(&[
            ("block-*", "m"),
            ("block-254", "r"),
            ("/dev/char/1:9", "rwm")
        ])
    );
    // Older systemd: the /proc/devices name (of the right section).
    let old = Host {
        systemd_version: Some(239),
        proc_devices: PROC_DEVICES.into(),
    };
    let p = properties(&r, &old);
    let list = allow_list(&p);
    assert!(
        list.contains(&("block-virtblk".into(), "r".into())),
        "{list:?}"
    );
    assert!(list.contains(&("block-*".into(), "m".into())), "{list:?}");
    // An unknown version is treated as old (runc does the same).
    let unknown = Host {
        systemd_version: None,
        proc_devices: PROC_DEVICES.into(),
    };
    assert_eq!(allow_list(&properties(&r, &unknown)), list);
}

#[test]
fn proc_devices_names() {
    let g = |k, m| group_name(PROC_DEVICES, k, m);
    assert_eq!(g(Kind::Char, 136).as_deref(), Some("char-pts"));
    assert_eq!(g(Kind::Char, 5).as_deref(), Some("char-/dev/tty"));
    assert_eq!(g(Kind::Block, 8).as_deref(), Some("block-sd"));
    assert_eq!(g(Kind::Char, 254).as_deref(), Some("char-gpiochip"));
    assert_eq!(g(Kind::Block, 254).as_deref(), Some("block-virtblk"));
    assert_eq!(g(Kind::Block, 136), None);
    assert_eq!(group_name("", Kind::Char, 1), None);
}

#[test]
fn versions() {
    assert_eq!(parse_version("252.38-1~deb12u1"), Some(252));
    assert_eq!(parse_version("v257"), Some(257));
    assert_eq!(parse_version("239"), Some(239));
    assert_eq!(parse_version("unknown"), None);
    assert_eq!(parse_version(""), None);
}

#[test]
fn access_round_trip() {
    assert_eq!(access_str(access_bits(Some("mwr"))), "rwm");
    assert_eq!(access_str(access_bits(Some("m"))), "m");
    assert_eq!(access_bits(None), 0);
    assert_eq!(access_bits(Some("x")), 0);
}

#[test]
fn proc_devices_is_read_only_for_old_systemd() {
    assert!(Host::for_version(Some(252)).proc_devices.is_empty());
    let old = Host::for_version(Some(239));
    // Every Linux has mem (1) among its character devices.
    assert_eq!(
        group_name(&old.proc_devices, Kind::Char, 1).as_deref(),
        Some("char-mem")
    );
    assert!(!Host::for_version(None).proc_devices.is_empty());
}
