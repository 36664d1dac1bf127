//! Values for cli_fuzz: edge values per kind of flag, and the generic junk
//! any flag may get. No pool holds a path outside the sandbox that rcrun
//! could create or write (`--root` creates directories, `--pid-file` and
//! `--log` write files, `spec --bundle` writes config.json): relative paths
//! resolve in the sandbox's working dir, absolute ones are the sandbox's
//! or under /proc, where nothing can be created.

use std::ffi::OsString;
use std::path::Path;

use super::common::sandbox::os;
use super::common::Rng;

fn s(v: &[&str]) -> Vec<OsString> {
    v.iter().map(OsString::from).collect()
}

/// Any flag's value, 12% of the time: what a parser must survive.
pub fn junk(rng: &mut Rng) -> OsString {
    match rng.below(24) {
        0 => "".into(),
        1 => "0".into(),
        2 => "-1".into(),
        3 => "99999999999999999999".into(),
        4 => "-9223372036854775809".into(),
        5 => "18446744073709551616".into(),
        6 => "1e309".into(),
        7 => "NaN".into(),
        8 => " ".into(),
        9 => "--".into(),
        10 => "-".into(),
        11 => "=".into(),
        12 => "a=b".into(),
        13 => "x".repeat(5000).into(),
        14 => "\t\n\r".into(),
        15 => "\u{e9}\u{202e}\u{fffd}".into(),
        16 => os(b"\xff\xfe"),
        17 => os(b"a\x80b"),
        18 => "%s%n%x".into(),
        19 => "../../../../../../../../proc/nonexistent".into(),
        20 => "nx/deep/x".into(),
        21 => "\u{1b}[31mred".into(),
        22 => "-x".into(),
        _ => "9".repeat(400).into(),
    }
}

pub fn number(rng: &mut Rng) -> OsString {
    rng.pick(&s(&[
        "0",
        "1",
        "-1",
        "2",
        "3",
        "10",
        "1000",
        "65535",
        "65536",
        "2147483647",
        "2147483648",
        "-2147483648",
        "-2147483649",
        "4294967295",
        "4294967296",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999",
        "1e3",
        "0x10",
        "+1",
        " 1",
        "-0",
        "007",
    ]))
    .clone()
}

pub fn size(rng: &mut Rng) -> OsString {
    rng.pick(&s(&[
        "0",
        "1",
        "-1",
        "-2",
        "4096",
        "1k",
        "1m",
        "64m",
        "1.5g",
        "1e3",
        "9223372036854775807",
        "9223372036854775808",
        "8e18",
        "1e400",
        "inf",
        "-inf",
        "nan",
        "NaN",
        "1p",
        "8191p",
        "16384p",
        "1e-9",
        "0.5",
        "k",
        "1 m",
        "1mb",
        "1MiB",
        "1kk",
        "m1",
        "99999999999999999999t",
        "-0",
    ]))
    .clone()
}

pub fn interval(rng: &mut Rng) -> OsString {
    rng.pick(&s(&[
        "5s",
        "1s",
        "0",
        "0s",
        "-1s",
        "99999999999999999999s",
        "99999999999999999999",
        "1e30h",
        "1e20",
        "18446744073709551615",
        "18446744073709551616s",
        "18446744073709551615ms",
        "1e-10ms",
        "0.0001ms",
        "0.000000001",
        "1ns",
        "1.5m",
        "nan",
        "inf",
        "infs",
        "1h",
        "100000000000h",
        "5124095576030431h",
        "1e308",
        "s",
        "ms",
        "1.2.3s",
        ".s",
        ".",
        "5 s",
        "5S",
        "1d",
        "-0s",
        "\u{661}s",
    ]))
    .clone()
}

pub fn signal(rng: &mut Rng) -> OsString {
    rng.pick(&s(&[
        "SIGTERM",
        "TERM",
        "term",
        "9",
        "KILL",
        "SIGKILL",
        "0",
        "-1",
        "-9",
        "64",
        "65",
        "999",
        "2147483648",
        "SIGRTMIN",
        "SIGRTMIN+1",
        "RTMIN+31",
        "SIGRTMAX",
        "SIGRTMAX-1",
        "SIGRTMAX+1",
        "SIGRTMIN-1",
        "RTMIN+99999999999999999999",
        "SIGRTMAX-99999999999999999999",
        "SIGFOO",
        "SIG",
        "SIGSTOP",
        "SIGCONT",
        "HUP",
        "WINCH",
        "1e3",
        "18446744073709551616",
        "+9",
    ]))
    .clone()
}

pub fn format(rng: &mut Rng) -> OsString {
    rng.pick(&s(&["table", "json", "text", "JSON", "yaml", " json"]))
        .clone()
}

pub fn text(rng: &mut Rng, id: &str) -> OsString {
    let v: &[&str] = match id {
        "user" => &[
            "0",
            "0:0",
            "1000",
            "65534:65534",
            "4294967295",
            "4294967296",
            "2147483648:2147483648",
            "0:4294967295",
            "-1",
            "-1:-1",
            ":",
            ":0",
            "0:",
            "a:b",
            "root",
            "0:0:0",
            "\u{ff11}",
        ],
        "cap" => &[
            "CAP_SYS_ADMIN",
            "CAP_KILL",
            "cap_kill",
            "SYS_ADMIN",
            "CAP_BOGUS",
            "CAP_",
        ],
        "cgroup" => &[
            "/",
            "sub",
            "../..",
            "../x",
            "cpu:sub",
            ":",
            "a:b:c",
            "/../../..",
        ],
        "env" => &[
            "A=B", "A=", "=x", "=", "NOEQ", "PATH=", "A=b=c", "A B=c", "\u{e9}=1",
        ],
        "cwd" => &[
            "/",
            "/tmp",
            "/nonexistent",
            "relative",
            "..",
            "/proc/self",
            "/bin/sh",
        ],
        "apparmor" => &["unconfined", "bogus-profile"],
        "process_label" => &["system_u:system_r:container_t:s0", "x"],
        "cpuset_cpus" | "cpuset_mems" => &[
            "0",
            "0-1",
            "0-99999",
            "99999",
            "1-0",
            "0,",
            "a",
            "0-",
            "-1",
            "0-4294967296",
        ],
        "l3_cache_schema" | "mem_bw_schema" => &["L3:0=ff", "MB:0=100"],
        "log_format" => &["text", "json", "JSON", "xml"],
        "criu" => &["criu", "/nonexistent/criu"],
        "rootless" => &["true", "false", "auto", "yes", "maybe"],
        "ps_options" => &["-ef", "aux", "-o", "pid,comm", "--bogus", "-p", "1"],
        _ => &["x"],
    };
    rng.pick(&s(v)).clone()
}

/// `exec`'s command: things that end at once.
pub fn command(rng: &mut Rng) -> Vec<OsString> {
    match rng.below(10) {
        0..=3 => s(&["true"]),
        4 => s(&["false"]),
        5 => s(&["sh", "-c", "exit 3"]),
        6 => s(&[""]),
        7 => s(&["/nonexistent"]),
        8 => vec!["true".into(), junk(rng)],
        _ => s(&["--", "true"]),
    }
}

/// Ids: the live container, fresh ones, and invalid ones.
pub fn id(rng: &mut Rng, fresh: &str) -> OsString {
    match rng.below(20) {
        0..=6 => "live".into(),
        7..=10 => fresh.into(),
        11 => "nonexistent".into(),
        12 => "".into(),
        13 => rng
            .pick(&s(&[".", "..", "../live", "a/b", "live/.."]))
            .clone(),
        14 => "x".repeat(300).into(),
        15 => rng
            .pick(&s(&["-x", "a b", "\u{e9}", "live\n", "LIVE", "live."]))
            .clone(),
        16 => os(b"\xff"),
        17 => "+".into(),
        18 => "_".into(),
        _ => "live".into(),
    }
}

/// Paths a run may read, from `dir` (the sandbox) and `w` (the working
/// directory); `extra` are the flag's own good values.
pub fn path(rng: &mut Rng, dir: &Path, w: &Path, extra: &[OsString]) -> OsString {
    if !extra.is_empty() && rng.chance(60) {
        return rng.pick(extra).clone();
    }
    match rng.below(12) {
        0 => "".into(),
        1 => ".".into(),
        2 => "nonexistent".into(),
        3 => dir.join("file").into(),
        4 => w.into(),
        5 => dir.join("rootfs").into(),
        6 => "x".repeat(5000).into(),
        7 => "a".repeat(200).into(),
        8 => "/proc/nonexistent/x".into(),
        9 => {
            let mut p = dir.as_os_str().to_os_string();
            p.push(os(b"/q\xff"));
            p
        }
        10 => "nx/deep/x".into(),
        _ => "/proc/self/cwd/nonexistent".into(),
    }
}

/// `update --resources` content.
pub fn resources(rng: &mut Rng) -> Vec<u8> {
    let v: &[&str] = &[
        r#"{"memory":{"limit":-1}}"#,
        r#"{"memory":{"limit":1}}"#,
        r#"{"memory":{"limit":67108864,"swap":1}}"#,
        r#"{"pids":{"limit":-1}}"#,
        r#"{"pids":{"limit":0}}"#,
        r#"{"cpu":{"quota":-1}}"#,
        r#"{"cpu":{"quota":1,"period":1}}"#,
        r#"{"cpu":{"shares":0}}"#,
        r#"{"cpu":{"cpus":"0-99999"}}"#,
        r#"{"cpu":{"mems":"\u0000"}}"#,
        "",
        "{",
        "[]",
        "null",
        r#"{"memory":{"limit":"1g"}}"#,
        r#"{"memory":{"limit":18446744073709551616}}"#,
        r#"{"unified":{"memory.max":"max\n"}}"#,
        r#"{"unified":{"../x":"1"}}"#,
        r#"{"unified":{"cgroup.procs":"1"}}"#,
        r#"{"blockIO":{"weight":0}}"#,
        r#"{"blockIO":{"weightDevice":[{"major":-1,"minor":-1,"weight":10}]}}"#,
        r#"{"hugepageLimits":[{"pageSize":"3MB","limit":1}]}"#,
        r#"{"devices":[{"allow":true,"access":"rwmx"}]}"#,
        "{\"memory\":{\"limit\":\"\\ud800\"}}",
        "\u{feff}{}",
    ];
    match rng.below(v.len() + 2) {
        i if i < v.len() => v[i].as_bytes().to_vec(),
        i if i == v.len() => {
            let mut d = "[".repeat(100_000).into_bytes();
            d.extend(b"1");
            d
        }
        _ => b"{\"memory\":{\"limit\":1}}\xff".to_vec(),
    }
}

/// `exec --process` content (with a `user`: without one, the whole
/// file is refused before anything else is looked at).
pub fn process(rng: &mut Rng) -> Vec<u8> {
    let v: &[&str] = &[
        r#"{"user":{"uid":0,"gid":0},"args":["true"],"cwd":"/"}"#,
        r#"{"user":{"uid":0,"gid":0},"args":["true"],"cwd":"/","env":["PATH=/bin","=x"]}"#,
        r#"{"user":{"uid":0,"gid":0},"args":["true"],"cwd":"/","env":["PATH=/bin","A\u0000=1"]}"#,
        r#"{"user":{"uid":0,"gid":0},"args":["true"],"cwd":"/","env":["PATH=/bin","A=\u0000"]}"#,
        r#"{"user":{"uid":0,"gid":0},"args":["true"],"cwd":"/","env":["PATH=/bin","NOEQ"]}"#,
        r#"{"user":{"uid":0,"gid":0},"args":["true","a\u0000b"],"cwd":"/","env":["PATH=/bin"]}"#,
        r#"{"user":{"uid":0,"gid":0},"args":["tr\u0000ue"],"cwd":"/"}"#,
        r#"{"user":{"uid":0,"gid":0},"args":[],"cwd":"/"}"#,
        r#"{"user":{"uid":0,"gid":0},"args":[""],"cwd":"/"}"#,
        r#"{"user":{"uid":0,"gid":0},"args":["true"],"cwd":"relative"}"#,
        r#"{"user":{"uid":0,"gid":0},"args":["true"],"cwd":""}"#,
        r#"{"args":["true"],"cwd":"/","user":{"uid":4294967295,"gid":0}}"#,
        r#"{"args":["true"],"cwd":"/","user":{"uid":2147483648,"gid":2147483648}}"#,
        r#"{"user":{"uid":0,"gid":0},"args":["true"],"cwd":"/","terminal":true}"#,
        r#"{"user":{"uid":0,"gid":0},"args":["true"],"cwd":"/","capabilities":{"bounding":["CAP_BOGUS"]}}"#,
        r#"{"user":{"uid":0,"gid":0},"args":["true"],"cwd":"/","rlimits":[{"type":"RLIMIT_NOFILE","hard":0,"soft":18446744073709551615}]}"#,
        r#"{"user":{"uid":0,"gid":0},"args":["true"],"cwd":"/","oomScoreAdj":-99999}"#,
        "{\"user\":{\"uid\":0,\"gid\":0},\"args\":[\"true\"],\"cwd\":\"/\",\"env\":[\"PATH=/bin\",\"A=\\ud800\"]}",
        "",
        "{",
        "null",
        r#"{"user":{"uid":0,"gid":0},"cwd":"/"}"#,
        r#"{"args":["true"],"cwd":"/"}"#,
    ];
    rng.pick(v).as_bytes().to_vec()
}
