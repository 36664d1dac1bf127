//! Deterministic mutation fuzzing of config.json handling: `spec::parse`,
//! `spec::check` and `cgroups::validate` over inputs derived from valid
//! seeds by structural (JSON tree) and byte-level mutations.
//!
//! Properties, for every input:
//! - no panic (caught and reported with the input, which is saved under
//!   target/spec-fuzz-failures/);
//! - no hang: a watchdog aborts the process, printing the input, when one
//!   input takes more than 10 s;
//! - every rejection is ONE non-empty line that names the field (a spec path
//!   such as `linux.resources.memory.limit`) or, for malformed JSON, the
//!   line and column.
//!
//! `RCRUN_FUZZ_ITERS` sets the number of inputs (default 20000: the CI
//! mode); docs/reliability.md has the 1,000,000-input run:
//!   RCRUN_FUZZ_ITERS=1000000 cargo test --release -p rcrun --test spec_fuzz -- --nocapture
//! `RCRUN_FUZZ_SEED` changes the PRNG seed (default fixed: reproducible).

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use rcrun::cgroups::{self, Hierarchies};
use rcrun::spec;

const BASE: &str = include_str!("../../conformance/lib/config.base.json");

/// splitmix64: tiny, good enough, and the same sequence everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// Field names of the OCI runtime spec (and a few of rcrun's own concerns):
/// inserted at random places so that mutations reach deep, typed fields.
const FIELDS: &[&str] = &[
    "ociVersion",
    "process",
    "root",
    "path",
    "readonly",
    "hostname",
    "mounts",
    "destination",
    "type",
    "source",
    "options",
    "hooks",
    "prestart",
    "createRuntime",
    "poststart",
    "poststop",
    "args",
    "env",
    "timeout",
    "annotations",
    "linux",
    "resources",
    "memory",
    "limit",
    "reservation",
    "swap",
    "kernel",
    "kernelTCP",
    "swappiness",
    "disableOOMKiller",
    "useHierarchy",
    "checkBeforeUpdate",
    "cpu",
    "shares",
    "quota",
    "burst",
    "period",
    "realtimeRuntime",
    "realtimePeriod",
    "cpus",
    "mems",
    "idle",
    "pids",
    "blockIO",
    "weight",
    "leafWeight",
    "weightDevice",
    "throttleReadBpsDevice",
    "throttleWriteBpsDevice",
    "throttleReadIOPSDevice",
    "throttleWriteIOPSDevice",
    "major",
    "minor",
    "rate",
    "hugepageLimits",
    "pageSize",
    "network",
    "classID",
    "priorities",
    "name",
    "priority",
    "rdma",
    "hcaHandles",
    "hcaObjects",
    "unified",
    "devices",
    "allow",
    "access",
    "cgroupsPath",
    "namespaces",
    "uidMappings",
    "gidMappings",
    "containerID",
    "hostID",
    "size",
    "sysctl",
    "seccomp",
    "defaultAction",
    "syscalls",
    "names",
    "action",
    "maskedPaths",
    "readonlyPaths",
    "mountLabel",
    "intelRdt",
    "personality",
    "terminal",
    "consoleSize",
    "height",
    "width",
    "user",
    "uid",
    "gid",
    "umask",
    "additionalGids",
    "cwd",
    "capabilities",
    "bounding",
    "effective",
    "inheritable",
    "permitted",
    "ambient",
    "rlimits",
    "hard",
    "soft",
    "noNewPrivileges",
    "apparmorProfile",
    "oomScoreAdj",
    "selinuxLabel",
    "ioPriority",
    "class",
    "scheduler",
    "execCPUAffinity",
    "fileMode",
    "rootfsPropagation",
    "timeOffsets",
    "memoryPolicy",
    "netDevices",
];

fn interesting_value(rng: &mut Rng) -> Value {
    match rng.below(8) {
        0 => json!(*rng.pick(&[
            0i64,
            1,
            -1,
            2,
            -2,
            4096,
            1024,
            1000,
            999,
            100_000,
            262_144,
            i64::MAX,
            i64::MIN,
            i64::MAX - 1,
            1 << 53,
            (1 << 53) + 1,
            i32::MAX as i64,
            i32::MIN as i64,
            u32::MAX as i64,
            10_001
        ])),
        1 => {
            let v = *rng.pick(&[u64::MAX, u64::MAX - 1, 1 << 63, (1 << 63) + 1]);
            json!(v)
        }
        2 => {
            let text = *rng.pick(&["1e308", "-1e308", "0.5", "-0.0", "1.0", "3e9"]);
            serde_json::from_str::<Value>(text).unwrap_or(Value::Null)
        }
        3 => {
            let s = *rng.pick(&[
                "",
                ".",
                "..",
                "/",
                "//",
                "/..",
                "/../../../../etc/passwd",
                "../x",
                "a/../../b",
                "a\nb",
                "a\u{0}b",
                "\u{7f}",
                "\u{202e}rtl",
                "max",
                "-1",
                "0",
                "0-999",
                "0-",
                "-",
                "1,2,3",
                "99999999999999999999",
                "4-2",
                "0-1,0-1",
                "c",
                "b",
                "a",
                "u",
                "p",
                "rwm",
                "*",
                "2MB",
                "1GB",
                "3KB",
                "64K",
                "1.0.2",
                "2.0.0",
                "1.",
                "rbind",
                "ro",
                "proc",
                "sysfs",
                "cgroup",
                "tmpfs",
                "bind",
                "/proc",
                "/proc/self/fd",
                "/sys/fs/cgroup",
                "/dev/null",
                "CAP_SYS_ADMIN",
                "RLIMIT_NOFILE",
                "SCMP_ACT_ERRNO",
                "pid",
                "network",
                "user",
                "cgroup",
                "time",
                "/a/b/c",
                "\\",
                "%",
                "'",
                "\"",
                "memory.max",
                "cgroup.procs",
                "../cgroup.procs",
                "io.max",
                "memory.high",
            ]);
            json!(s)
        }
        4 => json!("x".repeat(*rng.pick(&[1usize, 255, 256, 4097, 70_000]))),
        5 => json!(rng.chance(50)),
        6 => Value::Null,
        _ => match rng.below(4) {
            0 => json!([]),
            1 => json!({}),
            2 => {
                // deep nesting: must be refused, not recursed into forever
                let depth = *rng.pick(&[10usize, 127, 129, 1000]);
                let mut v = json!(1);
                for _ in 0..depth {
                    v = json!([v]);
                }
                v
            }
            _ => {
                let mut m = Map::new();
                m.insert((*rng.pick(FIELDS)).to_string(), interesting_value_flat(rng));
                Value::Object(m)
            }
        },
    }
}

fn interesting_value_flat(rng: &mut Rng) -> Value {
    match rng.below(3) {
        0 => json!(*rng.pick(&[0i64, -1, 1, i64::MAX, i64::MIN])),
        1 => json!(*rng.pick(&["", "..", "max", "/x", "a\nb"])),
        _ => json!([]),
    }
}

/// Paths (as index lists) of every node of `v`.
fn collect_paths(v: &Value, cur: &mut Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
    out.push(cur.clone());
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                cur.push(PathStep::Key(k.clone()));
                collect_paths(c, cur, out);
                cur.pop();
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                cur.push(PathStep::Index(i));
                collect_paths(c, cur, out);
                cur.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn node_mut<'a>(v: &'a mut Value, path: &[PathStep]) -> Option<&'a mut Value> {
    let mut cur = v;
    for s in path {
        cur = match (s, cur) {
            (PathStep::Key(k), Value::Object(m)) => m.get_mut(k)?,
            (PathStep::Index(i), Value::Array(a)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn mutate_tree(rng: &mut Rng, v: &mut Value) {
    let mut paths = Vec::new();
    collect_paths(v, &mut Vec::new(), &mut paths);
    // Half of the time below linux.resources: the densest typed part, and
    // the one cgroups::validate sees only if parsing succeeds.
    let resources: Vec<&Vec<PathStep>> = paths
        .iter()
        .filter(|p| {
            matches!(p.as_slice(), [PathStep::Key(a), PathStep::Key(b), ..] if a == "linux" && b == "resources")
        })
        .collect();
    let path = if !resources.is_empty() && rng.chance(50) {
        (*rng.pick(&resources)).clone()
    } else {
        rng.pick(&paths).clone()
    };
    let Some(node) = node_mut(v, &path) else {
        return;
    };
    // Mostly type-preserving, so that the input still parses and reaches
    // the checks behind the parser.
    if rng.chance(80) {
        match node {
            Value::Number(_) => {
                *node = loop {
                    let c = interesting_value(rng);
                    if c.is_number() {
                        break c;
                    }
                };
                return;
            }
            Value::String(_) => {
                *node = loop {
                    let c = interesting_value(rng);
                    if c.is_string() {
                        break c;
                    }
                };
                return;
            }
            _ => {}
        }
    }
    match rng.below(6) {
        // replace the value
        0 | 1 => *node = interesting_value(rng),
        // numbers: nudge across edges
        2 => {
            if let Some(n) = node.as_i64() {
                let d = *rng.pick(&[1i64, -1, 4096, -4096]);
                *node = json!(n.wrapping_add(d));
            } else if let Some(n) = node.as_u64() {
                *node = json!(n.wrapping_add(1));
            } else {
                *node = interesting_value(rng);
            }
        }
        // objects: insert a spec field / delete a key
        3 => match node {
            Value::Object(m) => {
                if rng.chance(50) && !m.is_empty() {
                    let k = m.keys().nth(rng.below(m.len())).cloned();
                    if let Some(k) = k {
                        m.remove(&k);
                    }
                } else {
                    m.insert((*rng.pick(FIELDS)).to_string(), interesting_value(rng));
                }
            }
            _ => *node = interesting_value(rng),
        },
        // arrays: duplicate / drop / append an element
        4 => match node {
            Value::Array(a) => {
                if !a.is_empty() && rng.chance(50) {
                    let i = rng.below(a.len());
                    let e = a[i].clone();
                    if rng.chance(50) {
                        a.push(e);
                    } else {
                        a.remove(i);
                    }
                } else {
                    a.push(interesting_value(rng));
                }
            }
            _ => *node = interesting_value(rng),
        },
        // type confusion: wrap / unwrap
        _ => {
            let old = node.take();
            *node = if rng.chance(50) {
                json!([old])
            } else {
                json!({ "value": old })
            };
        }
    }
}

fn mutate_bytes(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8]) {
    let n = 1 + rng.below(8);
    for _ in 0..n {
        if data.is_empty() {
            data.push(b'{');
        }
        let i = rng.below(data.len());
        match rng.below(7) {
            0 => data[i] ^= 1 << rng.below(8),
            1 => data[i] = *rng.pick(b"{}[]\",:0123456789-.eE \\/nultrfa\x00\xff"),
            2 => {
                data.remove(i);
            }
            3 => data.insert(i, rng.next() as u8),
            4 => data.truncate(i),
            5 => {
                // splice a chunk of another seed
                if !other.is_empty() {
                    let a = rng.below(other.len());
                    let b = (a + 1 + rng.below(64)).min(other.len());
                    data.splice(i..i, other[a..b].iter().copied());
                }
            }
            _ => {
                let j = rng.below(data.len());
                data.swap(i, j);
            }
        }
    }
}

fn seeds() -> Vec<Value> {
    let base: Value = serde_json::from_str(BASE).unwrap_or_else(|_| json!({}));
    let mut full = base.clone();
    full["root"] = json!({"path": "rootfs"});
    full["linux"]["cgroupsPath"] = json!("/rcrun-fuzz/x");
    full["linux"]["resources"] = json!({
        "memory": {"limit": 67108864, "reservation": 33554432, "swap": 134217728,
                   "swappiness": 10, "disableOOMKiller": false, "kernel": 1, "kernelTCP": 1},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0",
                "realtimeRuntime": 0, "realtimePeriod": 0, "idle": 0, "burst": 0},
        "pids": {"limit": 100},
        "blockIO": {"weight": 500, "leafWeight": 300,
                    "weightDevice": [{"major": 8, "minor": 0, "weight": 100}],
                    "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                    "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 100}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}],
        "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]},
        "rdma": {"mlx5_0": {"hcaHandles": 3, "hcaObjects": 100}},
        "unified": {"memory.high": "50000000", "pids.max": "10"},
        "devices": [{"allow": false, "access": "rwm"},
                    {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]
    });
    full["hooks"] = json!({"poststop": [{"path": "/bin/true", "args": ["true"], "timeout": 5}]});
    full["linux"]["devices"] =
        json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438}]);
    full["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    full["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 65536}]);
    let mut small = json!({"ociVersion": "1.0.2", "root": {"path": "rootfs"},
        "process": {"args": ["sh"], "cwd": "/"}, "linux": {}});
    small["linux"]["resources"] = json!({"memory": {"limit": -1}, "pids": {"limit": -1}});
    vec![base, full, small]
}

struct Failure {
    kind: &'static str,
    detail: String,
    input: Vec<u8>,
}

/// One line, non-empty, and naming a field or a JSON position.
fn check_message(msg: &str) -> Result<(), String> {
    if msg.trim().is_empty() {
        return Err("empty error message".into());
    }
    if msg.contains('\n') || msg.contains('\r') {
        return Err(format!("multi-line error message: {msg:?}"));
    }
    let names_position = msg.contains(" line ") && msg.contains(" column ");
    // a spec path: lowercase-started identifier, dots/brackets allowed,
    // followed by ':' or ' ' (e.g. "linux.resources.memory.limit: ...")
    let names_field = msg
        .split([' ', ':', '"', '\'', '`'])
        .any(|w| is_field_path(w.trim_matches(|c: char| c == ',' || c == '(' || c == ')')));
    if names_position || names_field {
        Ok(())
    } else {
        Err(format!(
            "error names neither a field nor a position: {msg:?}"
        ))
    }
}

/// Whether `w` is a spec field or a path of them ("linux.resources.cpu",
/// "mounts[2].destination"): every dot/bracket-separated part that is a
/// word must be a known field name, and at least one must be.
fn is_field_path(w: &str) -> bool {
    let mut known = false;
    for part in w.split(['.', '[', ']']) {
        if part.is_empty() || part.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if FIELDS.contains(&part) {
            known = true;
        } else if w.contains('.') || w.contains('[') {
            // a path with a word that is no field (unified keys such as
            // "memory.max" are reported inside a field path, see below)
            continue;
        } else {
            return false;
        }
    }
    known
}

fn run_one(data: &[u8], bundle: &Path, h: Option<&Hierarchies>) -> Result<&'static str, String> {
    let spec = match spec::parse(data) {
        Ok(s) => s,
        Err(msg) => return check_message(&msg).map(|()| "rejected by parse"),
    };
    if let Err(msg) = spec::check(&spec, bundle) {
        return check_message(&msg).map(|()| "rejected by check");
    }
    let Some(h) = h else {
        return Ok("accepted (no cgroups to validate against)");
    };
    let Some(r) = spec.linux().as_ref().and_then(|l| l.resources().as_ref()) else {
        return Ok("accepted");
    };
    match cgroups::validate(h, r) {
        Ok(()) => Ok("accepted"),
        Err(e) => check_message(&e.to_string()).map(|()| "rejected by validate"),
    }
}

#[test]
fn spec_fuzz() {
    let iters: u64 = std::env::var("RCRUN_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let seed: u64 = std::env::var("RCRUN_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x7263_7275_6e21);
    let bundle = std::env::temp_dir().join(format!("rcrun-spec-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(bundle.join("rootfs"));
    let hierarchies = Hierarchies::detect().ok();

    // Watchdog: the input under test and when it started.
    let current: Arc<Mutex<Vec<u8>>> = Arc::new(Mutex::new(Vec::new()));
    let started = Arc::new(AtomicU64::new(0));
    let epoch = Instant::now();
    {
        let current = Arc::clone(&current);
        let started = Arc::clone(&started);
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(500));
            let s = started.load(Ordering::Relaxed);
            let now = epoch.elapsed().as_millis() as u64;
            if s != 0 && now.saturating_sub(s) > 10_000 {
                let input = current.lock().map(|c| c.clone()).unwrap_or_default();
                eprintln!(
                    "spec_fuzz: HANG (>10 s) on input: {}",
                    String::from_utf8_lossy(&input)
                );
                std::process::abort();
            }
        });
    }

    // Panics are caught per input; keep the default hook quiet meanwhile.
    let prev_hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));

    let seeds = seeds();
    let seed_bytes: Vec<Vec<u8>> = seeds
        .iter()
        .map(|s| serde_json::to_vec_pretty(s).unwrap_or_default())
        .collect();
    let mut rng = Rng(seed);
    let mut failures: Vec<Failure> = Vec::new();
    let mut outcomes: std::collections::BTreeMap<&'static str, u64> = Default::default();
    let mut slowest = (Duration::ZERO, Vec::new());
    let mut total_bytes = 0u64;
    let t0 = Instant::now();
    for _ in 0..iters {
        let si = rng.below(seeds.len());
        let input: Vec<u8> = if rng.chance(70) {
            let mut v = seeds[si].clone();
            for _ in 0..1 + rng.below(3) {
                mutate_tree(&mut rng, &mut v);
            }
            serde_json::to_vec(&v).unwrap_or_default()
        } else {
            let mut d = seed_bytes[si].clone();
            let other = &seed_bytes[rng.below(seed_bytes.len())];
            mutate_bytes(&mut rng, &mut d, other);
            d
        };
        total_bytes += input.len() as u64;
        if let Ok(mut c) = current.lock() {
            c.clone_from(&input);
        }
        let t = Instant::now();
        started.store(epoch.elapsed().as_millis() as u64 + 1, Ordering::Relaxed);
        let res = panic::catch_unwind(AssertUnwindSafe(|| {
            run_one(&input, &bundle, hierarchies.as_ref())
        }));
        started.store(0, Ordering::Relaxed);
        let took = t.elapsed();
        if took > slowest.0 {
            slowest = (took, input.clone());
        }
        match res {
            Ok(Ok(outcome)) => *outcomes.entry(outcome).or_default() += 1,
            Ok(Err(detail)) => failures.push(Failure {
                kind: "bad message",
                detail,
                input,
            }),
            Err(p) => {
                let detail = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(Failure {
                    kind: "PANIC",
                    detail,
                    input,
                })
            }
        }
    }
    panic::set_hook(prev_hook);
    let elapsed = t0.elapsed();
    let _ = std::fs::remove_dir_all(&bundle);

    eprintln!(
        "spec_fuzz: {iters} inputs ({} bytes on average) in {:.1} s ({:.1} us/input), seed {seed:#x}; slowest input {:?}",
        total_bytes / iters.max(1),
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / iters.max(1) as f64,
        slowest.0
    );
    for (k, v) in &outcomes {
        eprintln!("spec_fuzz:   {k}: {v}");
    }
    if !failures.is_empty() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/spec-fuzz-failures");
        let _ = std::fs::create_dir_all(&dir);
        for (i, f) in failures.iter().enumerate().take(20) {
            let _ = std::fs::write(dir.join(format!("{i}.json")), &f.input);
            eprintln!("spec_fuzz: {} #{i}: {}", f.kind, f.detail);
        }
        panic!(
            "spec_fuzz: {} failing inputs ({} panics); first 20 saved in {}",
            failures.len(),
            failures.iter().filter(|f| f.kind == "PANIC").count(),
            dir.display()
        );
    }
}
