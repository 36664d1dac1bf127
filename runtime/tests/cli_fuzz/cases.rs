//! cli_fuzz's cases: a command line for a subcommand, its cwd, its
//! stdin, its caller's environment.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use super::common::sandbox::{os, Cwd, Invocation};
use super::common::{caller_env, Rng};
use super::pools;
use super::world::{Flag, Sub, World};

/// One generated run.
pub struct Case {
    pub inv: Invocation,
    pub sub: String,
    /// "sub flag" of each flag given, for the coverage count.
    pub used: Vec<String>,
    /// A failure must be one line (not with --debug).
    pub one_line: bool,
    pub may_block: bool,
    /// Fixed cases only: the run must succeed.
    pub expect_ok: bool,
}

pub fn root_and_cwd(rng: &mut Rng, world: &World) -> (OsString, Cwd) {
    let root: OsString = match rng.below(30) {
        0 => "root2".into(),
        1 => world.w.join("nx/deep/root").into(),
        2 => "".into(),
        3 => ".".into(),
        4 => world.sb.dir.join("file").into(),
        5 => {
            let mut r = world.w.as_os_str().to_os_string();
            r.push(os(b"/r\xff"));
            r
        }
        6 => "x".repeat(300).into(),
        7 => "/proc/nonexistent/root".into(),
        _ => world.sb.root.clone().into(),
    };
    let cwd = if root.is_empty() || root == "." {
        if rng.chance(85) {
            Cwd::Dir(world.w.join("e"))
        } else {
            Cwd::Deleted
        }
    } else {
        match rng.below(20) {
            0..=1 => Cwd::Dir(world.w.join("sub")),
            2..=4 => Cwd::Deleted,
            _ => Cwd::Dir(world.w.clone()),
        }
    };
    (root, cwd)
}

/// A value for flag `f` of `sub`; may set the run's stdin.
pub fn value(
    rng: &mut Rng,
    world: &World,
    sub: &str,
    f: &Flag,
    stdin: &mut Option<Vec<u8>>,
) -> OsString {
    if rng.chance(12) {
        return pools::junk(rng);
    }
    let (d, w) = (&world.sb.dir, &world.w);
    let p = |v: &PathBuf| OsString::from(v);
    match f.id.as_str() {
        "bundle" if sub == "spec" => {
            let x = [w.join("specdir").into(), "specdir".into(), p(&w.join("e"))];
            pools::path(rng, d, w, &x)
        }
        "bundle" => {
            let mut x = vec![
                p(&world.quick),
                p(&world.term),
                p(&world.bad),
                "quick".into(),
            ];
            let mut q = d.as_os_str().to_os_string();
            q.push(os(b"/q\xff"));
            x.push(q);
            if sub != "run" {
                x.push(p(&world.live));
            }
            pools::path(rng, d, w, &x)
        }
        "console_socket" => pools::path(
            rng,
            d,
            w,
            &[p(&world.sb.console_socket), "console.sock".into()],
        ),
        "pid_file" => pools::path(rng, d, w, &["pid".into(), p(&w.join("pid"))]),
        "log" => pools::path(
            rng,
            d,
            w,
            &["log".into(), p(&w.join("log")), "/dev/full".into()],
        ),
        "resources" => match rng.below(10) {
            0..=4 => {
                *stdin = Some(pools::resources(rng));
                "-".into()
            }
            5..=7 => {
                let f = d.join("res.json");
                let _ = std::fs::write(&f, pools::resources(rng));
                f.into()
            }
            _ => pools::path(rng, d, w, &[]),
        },
        "process" => {
            let f = d.join("proc.json");
            let _ = std::fs::write(&f, pools::process(rng));
            if rng.chance(80) {
                f.into()
            } else {
                pools::path(rng, d, w, &[])
            }
        }
        "interval" => pools::interval(rng),
        "format" => pools::format(rng),
        "signal" => pools::signal(rng),
        "container_id" => pools::id(rng, "fresh"),
        "preserve_fds" | "blkio_weight" | "cpu_period" | "cpu_quota" | "cpu_rt_period"
        | "cpu_rt_runtime" | "cpu_share" | "pids_limit" | "additional_gids" => pools::number(rng),
        "memory" | "memory_reservation" | "memory_swap" => pools::size(rng),
        _ if !f.possible.is_empty() => OsString::from(rng.pick(&f.possible)),
        id => pools::text(rng, id),
    }
}

/// Appends flag `f` (with a value if it takes one) in one of its spellings.
pub fn push_flag(rng: &mut Rng, args: &mut Vec<OsString>, f: &Flag, v: Option<OsString>) {
    let long = format!("--{}", f.long.as_deref().unwrap_or(&f.id));
    match v {
        None if rng.chance(4) => args.push(format!("{long}={}", rng.pick(&["true", "x"])).into()),
        None => args.push(long.into()),
        Some(v) => match (rng.below(20), f.short) {
            // a negative number is taken for a flag unless glued with '='
            (0..=4, _) | (5..=17, _) if v.as_encoded_bytes().starts_with(b"-") => {
                let mut a = OsString::from(format!("{long}="));
                a.push(v);
                args.push(a);
            }
            (0..=4, _) => {
                let mut a = OsString::from(format!("{long}="));
                a.push(v);
                args.push(a);
            }
            (5..=7, Some(c)) => args.extend([format!("-{c}").into(), v]),
            _ => args.extend([long.into(), v]),
        },
    }
}

/// Presets for create and run, so that most get past the bundle: a bundle
/// that can work (with the console socket a terminal bundle needs, and
/// --detach where it must not block), and a fresh id; (flag id, value)
/// pairs and the container id.
pub fn scenario(
    rng: &mut Rng,
    world: &World,
    sub: &str,
    fresh: &str,
) -> (Vec<(&'static str, Option<OsString>)>, Option<OsString>) {
    let mut v: Vec<(&'static str, Option<OsString>)> = Vec::new();
    if !matches!(sub, "create" | "run") {
        return (v, None);
    }
    let console = |rng: &mut Rng| -> OsString {
        if rng.chance(60) {
            world.sb.console_socket.clone().into()
        } else {
            "console.sock".into()
        }
    };
    match rng.below(20) {
        0..=7 => {
            v.push(("bundle", Some(world.quick.clone().into())));
            if sub == "run" && rng.chance(30) {
                v.push(("detach", None));
            }
        }
        8..=10 if sub == "create" => v.push(("bundle", Some(world.live.clone().into()))),
        8..=14 => {
            v.push(("bundle", Some(world.term.clone().into())));
            if sub == "create" || rng.chance(70) {
                if sub == "run" {
                    v.push(("detach", None));
                }
                if rng.chance(90) {
                    v.push(("console_socket", Some(console(rng))));
                }
            }
        }
        15 => v.push(("bundle", Some(world.bad.clone().into()))),
        _ => {}
    }
    let id = rng.chance(75).then(|| OsString::from(fresh));
    (v, id)
}

/// A run of `sub`; `force` names a flag (of the subcommand, or global with
/// `global`) that must be given.
pub fn generate(
    rng: &mut Rng,
    world: &mut World,
    globals: &[Flag],
    sub: &Sub,
    force: Option<(&str, bool)>,
) -> Case {
    let fresh = world.sb.fresh("f");
    let mut used = Vec::new();
    let mut stdin = None;
    let (root, cwd) = root_and_cwd(rng, world);
    let mut args: Vec<OsString> = vec!["--root".into(), root];
    let mut debug = false;
    for g in globals.iter().filter(|g| g.id != "root") {
        let forced = force == Some((g.id.as_str(), true));
        if !(forced || rng.chance(6)) {
            continue;
        }
        debug |= g.id == "debug";
        used.push(format!("(global) {}", g.id));
        let v = g
            .takes_value
            .then(|| value(rng, world, &sub.name, g, &mut stdin));
        push_flag(rng, &mut args, g, v);
    }
    args.push(sub.name.clone().into());
    let (preset, id) = scenario(rng, world, &sub.name, &fresh);
    // about two flags a run: one bad value then rarely hides the others
    let pct = (200 / sub.flags.len().max(1) as u64).min(25);
    for f in sub.flags.iter().filter(|f| !f.positional) {
        let forced = force == Some((f.id.as_str(), false));
        let v = match preset.iter().find(|(p, _)| *p == f.id) {
            Some((_, v)) => v.clone(),
            None if forced || rng.chance(if force.is_some() { 8 } else { pct }) => f
                .takes_value
                .then(|| value(rng, world, &sub.name, f, &mut stdin)),
            None => continue,
        };
        used.push(format!("{} {}", sub.name, f.id));
        push_flag(rng, &mut args, f, v);
    }
    let mut has_stats = args.iter().any(|a| a == "--stats");
    for f in sub.flags.iter().filter(|f| f.positional) {
        let forced = force == Some((f.id.as_str(), false));
        let v: Vec<OsString> = match f.id.as_str() {
            "container_id" if rng.chance(97) || forced => {
                vec![id.clone().unwrap_or_else(|| pools::id(rng, &fresh))]
            }
            "command" if rng.chance(95) || forced => pools::command(rng),
            "ps_options" if rng.chance(30) || forced => (0..1 + rng.below(2))
                .map(|_| value(rng, world, &sub.name, f, &mut None))
                .collect(),
            "container_id" | "command" | "ps_options" => vec![],
            _ if rng.chance(85) || forced => vec![value(rng, world, &sub.name, f, &mut None)],
            _ => vec![],
        };
        if !v.is_empty() {
            used.push(format!("{} {}", sub.name, f.id));
        }
        args.extend(v);
    }
    if rng.chance(3) {
        let at = 1 + rng.below(args.len());
        args.insert(at, "--bogus-flag".into());
    }
    if rng.chance(2) {
        args.push("--help".into());
    }
    // `events` without --stats streams until the container stops
    has_stats |= sub.name != "events";
    let mut inv = Invocation::new(args);
    inv.cwd = cwd;
    inv.stdin = stdin;
    inv.timeout = if has_stats {
        Duration::from_secs(5)
    } else {
        Duration::from_millis(600)
    };
    if rng.chance(15) {
        inv.env = caller_env(rng).0;
    }
    Case {
        inv,
        sub: sub.name.clone(),
        used,
        one_line: !debug,
        may_block: !has_stats,
        expect_ok: false,
    }
}
