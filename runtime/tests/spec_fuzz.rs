//! Deterministic mutation fuzzing of config.json handling: `spec::parse`,
//! `spec::check` and `cgroups::validate` over inputs derived from valid
//! seeds by structural (JSON tree) and byte-level mutations
//! (spec_fuzz/mutate.rs, with the values of spec_fuzz/values.rs). Half of
//! the tree mutations land below linux.resources, process.env,
//! process.args, process.user or hooks (a seed has every kind of hook);
//! byte mutations also splice JSON escapes of NUL and of lone surrogates,
//! and raw bytes that are not UTF-8. What only the binary shows (the
//! container's init, hooks, clean-up) is config_fuzz's; the command line,
//! environment and cwd are cli_fuzz's.
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

use serde_json::{json, Value};

use rcrun::cgroups::{self, Hierarchies};
use rcrun::spec;

mod common;
#[path = "spec_fuzz/mutate.rs"]
mod mutate;
#[path = "spec_fuzz/values.rs"]
mod values;

use common::Rng;
use mutate::{mutate_bytes, mutate_tree};
use values::FIELDS;

const BASE: &str = include_str!("../../conformance/lib/config.base.json");

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
    // The process and hooks: env entries, args, hook paths of every kind.
    let mut proc = base.clone();
    proc["root"] = json!({"path": "rootfs"});
    proc["process"]["args"] = json!(["sh", "-c", "echo \"$@\"", "x", "", "y"]);
    proc["process"]["env"] = json!(["PATH=/bin", "A=", "B=c=d", "LONG=xxxxxxxx"]);
    proc["process"]["user"] = json!({"uid": 65534, "gid": 65534, "additionalGids": [5]});
    let hook = json!({"path": "/bin/true", "args": ["true", "a"], "env": ["X=1"], "timeout": 5});
    proc["hooks"] = json!({
        "prestart": [hook], "createRuntime": [hook], "createContainer": [hook],
        "startContainer": [hook], "poststart": [hook], "poststop": [hook]
    });
    vec![base, full, small, proc]
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
    if let Err(e) = spec::check(&spec, bundle) {
        return check_message(&e.to_string()).map(|()| "rejected by check");
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
