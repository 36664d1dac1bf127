//! Process-level fuzzing of rcrun's command line, its caller's environment
//! and its cwd: every flag of every subcommand (read from the clap model,
//! so a new flag is covered without touching this file) gets edge values
//! (huge and negative numbers, empty strings, NUL-free weird bytes, bytes
//! that are not UTF-8, paths that do not exist, relative paths, overlong
//! paths), runs start in the sandbox's working dir, a subdirectory of it or
//! a deleted directory, and some inherit a strange environment
//! (common::caller_env). Targets: a live container (created once, made
//! again whenever a run kills, deletes or stops it), fresh ids, invalid
//! ids; bundles that are valid, terminal, broken or absent.
//!
//! First a fixed list (the known cases), then a sweep that gives each flag
//! of each subcommand a run of its own, then random runs. For every run:
//! - no panic, no exit 101, no signal, no hang (`events` may block);
//! - a failure prints ONE line on stderr (not checked with --debug, nor for
//!   `exec` when the status is the process's own);
//! - nothing left behind (state dir, cgroup, process, mount), except the
//!   containers a successful create/run made, which are deleted;
//! - a run that does not name the live container leaves it alive.
//!
//! Needs root and a static busybox (skipped otherwise). Knobs:
//! `RCRUN_FUZZ_RUNS` (random runs after the sweep, default 600),
//! `RCRUN_FUZZ_SEED`, `RCRUN_FUZZ_BUDGET_SECS` (default 20; 0 = none),
//! `RCRUN_FUZZ_VERBOSE` (print every run). Failing runs are printed as
//! bash command lines and saved under target/fuzz-failures/cli/<n>/.
//!   RCRUN_FUZZ_RUNS=3000 RCRUN_FUZZ_BUDGET_SECS=0 cargo test --release -p rcrun --test cli_fuzz -- --nocapture

#[path = "cli_fuzz/cases.rs"]
mod cases;
// The binary's command line (clap's model of every flag), compiled here:
// the library exports no CLI code.
#[allow(dead_code)]
#[path = "../src/cli.rs"]
mod cli;
#[allow(dead_code)]
#[path = "../src/commands/mod.rs"]
mod commands;
mod common;
#[path = "cli_fuzz/pools.rs"]
mod pools;
#[path = "cli_fuzz/world.rs"]
mod world;

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use cases::{generate, Case};
use common::sandbox::{os, Cwd, Invocation};
use common::{budget, knob, report, seed, Failure, Rng};
use rcrun::state::Status;
use world::{model, World};

/// The known cases of the issue, run first, whatever the seed.
fn fixed_cases(world: &mut World) -> Vec<Case> {
    let root: OsString = world.sb.root.clone().into();
    // Each case is `rcrun --root <root> <rest...>` run from `cwd` with `env`.
    let case = |rest: &[&OsStr], cwd: Cwd, env: Vec<(OsString, OsString)>, expect_ok: bool| {
        let mut args = vec![OsString::from("--root"), root.clone()];
        args.extend(rest.iter().map(|x| x.to_os_string()));
        let mut inv = Invocation::new(args);
        inv.cwd = cwd;
        inv.env = env;
        inv.timeout = Duration::from_secs(5);
        Case {
            inv,
            sub: rest[0].to_string_lossy().into_owned(),
            used: Vec::new(),
            one_line: true,
            may_block: false,
            expect_ok,
        }
    };
    fn s(x: &str) -> &OsStr {
        OsStr::new(x)
    }
    let (f1, f2, f3) = (
        world.sb.fresh("k"),
        world.sb.fresh("k"),
        world.sb.fresh("k"),
    );
    let (f4, f5) = (world.sb.fresh("k"), world.sb.fresh("k"));
    let proc_json = world.sb.dir.join("proc-nul.json");
    let _ = std::fs::write(
        &proc_json,
        r#"{"user":{"uid":0,"gid":0},"args":["true"],"cwd":"/","env":["PATH=/bin","A\u0000B=1"]}"#,
    );
    let (term, quick, live) = (
        world.term.as_os_str(),
        world.quick.as_os_str(),
        world.live.as_os_str(),
    );
    let console = world.sb.console_socket.as_os_str();
    let w = Cwd::Dir(world.w.clone());
    let interval = s("99999999999999999999s");
    vec![
        case(
            &[s("events"), s("--interval"), interval, s("live")],
            w.clone(),
            vec![],
            false,
        ),
        // a relative console socket, from a deleted cwd
        case(
            &[
                s("create"),
                s("--bundle"),
                term,
                s("--console-socket"),
                s("console.sock"),
                s(&f1),
            ],
            Cwd::Deleted,
            vec![],
            false,
        ),
        case(
            &[s("create"), s("--bundle"), quick, s(&f2)],
            w.clone(),
            vec![("FUZZ_BAD".into(), os(b"\xff\xfe"))],
            true,
        ),
        case(
            &[s("create"), s("--bundle"), quick, s(&f3)],
            w.clone(),
            vec![("FUZZ_HUGE".into(), "x".repeat(100_000).into())],
            true,
        ),
        // an absolute console socket, from a deleted cwd
        case(
            &[
                s("create"),
                s("--bundle"),
                term,
                s("--console-socket"),
                console,
                s(&f4),
            ],
            Cwd::Deleted,
            vec![],
            false,
        ),
        // the live container's bundle, so its cgroupsPath, for another id:
        // must be refused (runc: the cgroup is not empty) or at least not
        // take the live container down when deleted
        case(
            &[s("create"), s("--bundle"), live, s(&f5)],
            w.clone(),
            vec![],
            false,
        ),
        // exec's environment: an empty name, a NUL
        case(
            &[s("exec"), s("--env"), s("=x"), s("live"), s("true")],
            w.clone(),
            vec![],
            false,
        ),
        case(
            &[s("exec"), s("--process"), proc_json.as_os_str(), s("live")],
            w,
            vec![],
            false,
        ),
    ]
}

#[test]
fn cli_fuzz() {
    let Some(mut world) = World::new() else {
        return;
    };
    let (globals, subs) = model();
    let runs = knob("RCRUN_FUZZ_RUNS", 600);
    let seed = seed(0x636c_695f_667a);
    let budget = budget(20);
    let mut rng = Rng(seed);

    // The queue: fixed cases, the sweep (one run per flag), random runs.
    let mut plan: Vec<(usize, Option<(String, bool)>)> = Vec::new();
    for g in globals.iter().filter(|g| g.id != "root") {
        plan.push((0, Some((g.id.clone(), true))));
    }
    for (i, s) in subs.iter().enumerate() {
        plan.push((i, None));
        for f in &s.flags {
            plan.push((i, Some((f.id.clone(), false))));
        }
    }
    let sweep = plan.len();
    for _ in 0..runs {
        plan.push((rng.below(subs.len()), None));
    }

    let mut coverage: BTreeMap<String, u64> = BTreeMap::new();
    for g in globals.iter().filter(|g| g.id != "root") {
        coverage.insert(format!("(global) {}", g.id), 0);
    }
    for s in &subs {
        for f in &s.flags {
            coverage.insert(format!("{} {}", s.name, f.id), 0);
        }
    }
    let mut failures: Vec<Failure> = Vec::new();
    let mut tally: BTreeMap<String, u64> = BTreeMap::new();
    let t0 = Instant::now();
    let mut done = 0u64;
    let fixed = fixed_cases(&mut world);
    let nfixed = fixed.len();
    let total = nfixed + plan.len();
    let mut cases = fixed.into_iter();
    for n in 0..total {
        if n >= nfixed + sweep && budget.is_some_and(|b| t0.elapsed() > b) {
            break;
        }
        world.ensure_live();
        let case = match cases.next() {
            Some(c) => {
                if c.sub == "exec" {
                    world.start_live();
                }
                c
            }
            None => {
                let (si, force) = &plan[n - nfixed];
                world.prepare(&mut rng, &subs[*si].name);
                let force = force.as_ref().map(|(id, g)| (id.as_str(), *g));
                generate(&mut rng, &mut world, &globals, &subs[*si], force)
            }
        };
        done += 1;
        for u in &case.used {
            *coverage.entry(u.clone()).or_default() += 1;
        }
        let (problems, stderr) = check(&mut world, &case, &mut tally);
        if !problems.is_empty() {
            failures.push(Failure {
                run: n as u64,
                problems,
                cmd: case.inv.render(),
                files: saved_files(&world, &case),
                summary: String::new(),
                stderr,
            });
        }
    }
    let elapsed = t0.elapsed();
    eprintln!(
        "cli_fuzz: {done} of {total} runs ({sweep} in the sweep) in {:.1} s ({:.0} ms/run), seed {seed:#x}{}",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e3 / done.max(1) as f64,
        if (done as usize) < total { " (time budget reached)" } else { "" }
    );
    for (k, v) in &tally {
        eprintln!("cli_fuzz:   {k}: {v}");
    }
    let uncovered: Vec<&String> = coverage
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(k, _)| k)
        .collect();
    if !uncovered.is_empty() {
        failures.push(Failure {
            run: 0,
            problems: vec![format!("flags never given a value: {uncovered:?}")],
            cmd: String::new(),
            files: Vec::new(),
            summary: String::new(),
            stderr: String::new(),
        });
    }
    report("cli", &failures);
}

/// What a failing run needs to be replayed: its stdin, and the config.json
/// of each of the world's bundles it names.
fn saved_files(world: &World, case: &Case) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = Vec::new();
    if let Some(i) = &case.inv.stdin {
        v.push(("stdin".into(), i.clone()));
    }
    for (name, dir) in [
        ("live", &world.live),
        ("quick", &world.quick),
        ("term", &world.term),
        ("bad", &world.bad),
    ] {
        let named = case.inv.args.iter().any(|a| {
            let a = a.as_encoded_bytes();
            let d = dir.as_os_str().as_encoded_bytes();
            a.windows(d.len()).any(|w| w == d) || (name == "quick" && a.ends_with(b"quick"))
        });
        if named {
            let data = std::fs::read(dir.join("config.json")).unwrap_or_default();
            v.push((format!("bundle-{name}.json"), data));
        }
    }
    v
}

/// Runs `case` and returns what is wrong, and its stderr; leaves the world
/// clean.
fn check(
    world: &mut World,
    case: &Case,
    tally: &mut BTreeMap<String, u64>,
) -> (Vec<String>, String) {
    let live_before = matches!(world.live_status(), Some(Status::Created | Status::Running));
    let before = world.sb.containers();
    let out = world.sb.run(&case.inv);
    let code = out.code;
    if std::env::var_os("RCRUN_FUZZ_VERBOSE").is_some() {
        eprintln!(
            "cli_fuzz: {:?} {} => {}",
            code,
            common::prefix(&case.inv.render(), 400),
            common::prefix(out.stderr.lines().next().unwrap_or(""), 300)
        );
    }
    let mut p = out.crash_problems(case.may_block);
    let own_status = case.sub == "exec" && code != Some(255);
    if code != Some(0) && case.one_line && !own_status && !out.timed_out {
        if let Some(x) = out.one_line_problem() {
            p.push(x);
        }
    }
    if case.expect_ok && code != Some(0) {
        p.push(format!("expected success, got exit {code:?}"));
    }
    *tally
        .entry(format!(
            "{} {}",
            case.sub,
            match (out.timed_out, code) {
                (true, _) => "blocked".to_string(),
                (_, Some(0)) => "ok".to_string(),
                (_, Some(c)) => format!("exit {c}"),
                (_, None) => "signal".to_string(),
            }
        ))
        .or_default() += 1;

    let made: Vec<(PathBuf, String)> = world
        .sb
        .containers()
        .into_iter()
        .filter(|c| !before.contains(c))
        .collect();
    let legit = code == Some(0) && matches!(case.sub.as_str(), "create" | "run");
    for (root, id) in &made {
        if legit {
            let d = world.sb.rcrun(root, &["delete", "--force", id]);
            p.extend(
                d.crash_problems(false)
                    .into_iter()
                    .map(|x| format!("delete: {x}")),
            );
            if d.code != Some(0) {
                p.push(format!(
                    "delete --force {id} after {} failed: {}",
                    case.sub,
                    d.stderr.trim()
                ));
            }
        }
    }
    // (only when the previous run left it alone too: a signal it sent,
    // an OOM kill it caused, may land during this run)
    let named_live = case.inv.args.iter().any(|a| a == "live");
    let untouched = live_before && !named_live && !world.prev_named_live;
    world.prev_named_live = named_live;
    if untouched && !matches!(world.live_status(), Some(Status::Created | Status::Running)) {
        p.push("the live container, not named by the run, is gone or stopped".into());
    }
    let keep = [(world.sb.root.clone(), "live".to_string())];
    let left = world.sb.leftovers(&keep, &["live".to_string()]);
    if !left.is_empty() {
        p.push(format!("left behind: {}", left.join("; ")));
        world.sb.clean(&keep, &["live".to_string()]);
        world.sb.clean_outside(&case.inv.args);
    }
    (p, out.stderr)
}
