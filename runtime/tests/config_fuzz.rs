//! Process-level fuzzing of what config.json hands to the container's
//! process and to hooks, through the real binary: `process.env` (NUL in
//! the name or the value, empty name, no '=', huge, many entries, lone
//! surrogate escapes and raw bytes that are not UTF-8), `process.args` (NUL
//! anywhere, empty strings, huge), `process.user` (ids past 2^31-1), hooks
//! of every kind (paths, args, env, timeouts), sometimes with a strange
//! caller environment (common::caller_env). Each input is a `create` (then
//! `delete --force`) or, with a static busybox, a foreground `run` of
//! `true` (create, start, wait, delete: start hooks, poststop, execve).
//!
//! Properties, for every run (spec_fuzz checks the same of the parser in
//! process; this is what only the binary shows: the container's init, the
//! hooks, the clean-up):
//! - no panic, no exit 101, no signal, no hang;
//! - a failure prints ONE line;
//! - an input that is invalid by construction (NUL in env or args, an env
//!   entry with no '=' or an empty name, a uid/gid past 2147483647, JSON
//!   that is not UTF-8) is refused, the line naming the field and the value
//!   (the `FZ<n>` marker the value carries);
//! - a valid config in a benign caller environment is accepted;
//! - nothing is left behind: state dir, cgroup, process, mount.
//!
//! Failing inputs are printed (command line, the mutated fields, stderr) and
//! saved under target/fuzz-failures/config/<n>/ (config.json, cmd.txt).
//! Needs root (skipped otherwise). Knobs: `RCRUN_FUZZ_RUNS` (default 250),
//! `RCRUN_FUZZ_SEED`, `RCRUN_FUZZ_BUDGET_SECS` (default 15; 0 = none):
//!   RCRUN_FUZZ_RUNS=2000 RCRUN_FUZZ_BUDGET_SECS=0 cargo test --release -p rcrun --test config_fuzz -- --nocapture

mod common;
#[path = "config_fuzz/mutate.rs"]
mod mutate;

use std::ffi::OsString;
use std::time::Instant;

use serde_json::json;

use common::sandbox::{Cwd, Invocation, Outcome, Sandbox};
use common::{budget, caller_env, knob, report, seed, Failure, Rng};
use mutate::{mutate_args, mutate_env, mutate_hooks, mutate_user, summary, to_bytes, Expect};

#[test]
fn config_fuzz() {
    let Some(mut sb) = Sandbox::new("config") else {
        return;
    };
    let runs = knob("RCRUN_FUZZ_RUNS", 250);
    let seed = seed(0x636f_6e66_6967);
    let budget = budget(15);
    let mut rng = Rng(seed);
    let mut failures: Vec<Failure> = Vec::new();
    let mut tally: std::collections::BTreeMap<String, u64> = Default::default();
    let t0 = Instant::now();
    let mut done = 0;
    for run in 0..runs {
        if budget.is_some_and(|b| t0.elapsed() > b) {
            break;
        }
        done += 1;
        let id = sb.fresh("c");
        let marker = format!("FZ{run}");
        let mut config = sb.config(&id);
        // With a static busybox, 30% are a foreground `run` of `true`
        // (it ends at once): create, start, wait, delete.
        let foreground = sb.busybox && rng.chance(30);
        if foreground {
            config["process"]["args"] = json!(["true"]);
        }
        let mut ex = Expect::default();
        let mut what = Vec::new();
        for _ in 0..1 + rng.below(2) {
            match rng.below(10) {
                0..=3 => {
                    what.push("env");
                    mutate_env(&mut rng, &mut config, &marker, &mut ex);
                }
                4..=6 => {
                    what.push("args");
                    mutate_args(&mut rng, &mut config, &marker, &mut ex);
                }
                // once: a second would overwrite what the first expects
                7 if !what.contains(&"user") => {
                    what.push("user");
                    mutate_user(&mut rng, &mut config, &mut ex);
                }
                _ => {
                    what.push("hooks");
                    mutate_hooks(&mut rng, &mut config, &marker, &mut ex);
                }
            }
        }
        let mut env: Vec<(OsString, OsString)> = Vec::new();
        if rng.chance(20) {
            let (e, benign) = caller_env(&mut rng);
            env = e;
            ex.may_fail |= !benign;
            what.push("caller-env");
        }
        let data = to_bytes(&config);
        let bundle = sb.bundle(&format!("b-{id}"), &data);
        let mut args: Vec<OsString> = vec!["--root".into(), sb.root.clone().into()];
        args.push(if foreground { "run" } else { "create" }.into());
        args.extend([
            "--bundle".into(),
            bundle.clone().into(),
            OsString::from(&id),
        ]);
        let mut inv = Invocation::new(args);
        inv.env = env;
        inv.cwd = Cwd::Dir(sb.dir.clone());
        let out = sb.run(&inv);

        let mut problems = out.crash_problems(false);
        problems.extend(judge(&out, &ex));
        if out.code == Some(0) && !foreground {
            let del = sb.rcrun(&sb.root.clone(), &["delete", "--force", &id]);
            problems.extend(
                del.crash_problems(false)
                    .into_iter()
                    .map(|p| format!("delete: {p}")),
            );
            if del.code != Some(0) {
                problems.push(format!(
                    "delete --force after create failed: {}",
                    del.stderr.trim()
                ));
            }
        }
        let left = sb.leftovers(&[], &[]);
        if !left.is_empty() {
            problems.push(format!("left behind: {}", left.join("; ")));
            sb.clean(&[], &[]);
        }
        let key = format!(
            "{} {}",
            if foreground { "run" } else { "create" },
            match out.code {
                Some(0) => "ok",
                _ => "refused",
            }
        );
        *tally.entry(key).or_default() += 1;
        if !problems.is_empty() {
            failures.push(Failure {
                run,
                problems,
                cmd: inv.render(),
                files: vec![("config.json".into(), data)],
                summary: format!("[{}] {}", what.join("+"), summary(&config)),
                stderr: out.stderr,
            });
        }
        let _ = std::fs::remove_dir_all(&bundle);
    }
    let elapsed = t0.elapsed();
    eprintln!(
        "config_fuzz: {done} of {runs} runs in {:.1} s ({:.0} ms/run), seed {seed:#x}{}",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e3 / done.max(1) as f64,
        if done < runs {
            " (time budget reached)"
        } else {
            ""
        }
    );
    for (k, v) in &tally {
        eprintln!("config_fuzz:   {k}: {v}");
    }
    report("config", &failures);
}

/// Problems of one outcome against what the input deserved.
fn judge(out: &Outcome, ex: &Expect) -> Vec<String> {
    let mut p = Vec::new();
    let failed = out.code != Some(0);
    if failed {
        if let Some(x) = out.one_line_problem() {
            p.push(x);
        }
    }
    if ex.reject.is_empty() {
        if failed && !ex.may_fail {
            p.push("refused a valid input".into());
        }
        return p;
    }
    let names = |(f, m): &(&str, String)| {
        format!(
            "{f}{}",
            if m.is_empty() {
                String::new()
            } else {
                format!(" and {m}")
            }
        )
    };
    let expected: Vec<String> = ex.reject.iter().map(names).collect();
    if !failed {
        p.push(format!(
            "accepted an invalid input (expected a refusal naming {})",
            expected.join(" or ")
        ));
    } else {
        let msg = out.message();
        if !ex
            .reject
            .iter()
            .any(|(f, m)| msg.contains(f) && msg.contains(m.as_str()))
        {
            p.push(format!(
                "the refusal does not name {}",
                expected.join(" or ")
            ));
        }
    }
    p
}
