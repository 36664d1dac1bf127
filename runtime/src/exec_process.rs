//! The process an `exec` runs: the container's own process spec with what
//! the caller overrides, as runc builds it, so that an exec'd process keeps
//! everything the container's processes are held to (user, capabilities,
//! no_new_privs, rlimits, oom_score_adj, AppArmor/SELinux labels) and gets
//! the container's seccomp filter (seccomp_late).
//!
//! libcontainer's exec builder, given only command-line values, made a fresh
//! process (uid 0, its own capability defaults, no rlimits); rcrun now always
//! hands it a complete process.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{Capability, LinuxCapabilities, Process, Spec};

use crate::error::{Error, Result, SpecError, StateError};
use crate::spec_validate;

/// What `rcrun exec` lets the caller change (runc's flags).
#[derive(Debug, Default)]
pub struct Overrides {
    pub args: Vec<String>,
    pub cwd: Option<PathBuf>,
    /// `NAME=value`, replacing the container's value of NAME.
    pub env: Vec<String>,
    pub tty: bool,
    pub user: Option<(u32, Option<u32>)>,
    pub additional_gids: Vec<u32>,
    /// `--no-new-privs`: only ever turns it on.
    pub no_new_privs: bool,
    /// `--cap`: added to the bounding, effective and permitted sets.
    pub caps: Vec<String>,
    pub apparmor: Option<String>,
}

/// exec with neither a command nor `--process`.
pub fn no_command() -> SpecError {
    SpecError::field("exec", "no command given (args or --process)")
}

/// The container's spec as rcrun saved it at create (`<state>/config.json`).
pub fn container_spec(state_dir: &Path) -> Result<Spec> {
    let path = state_dir.join("config.json");
    let data = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    crate::spec::parse(&data)
        .map_err(|reason| Error::State(StateError::CorruptSpec { path, reason }))
}

/// The container's process with `o` applied.
pub fn from_container(spec: &Spec, o: Overrides) -> Result<Process> {
    let mut p = spec
        .process()
        .clone()
        .ok_or(Error::State(StateError::NoProcess))?;
    if o.args.is_empty() {
        return Err(no_command().into());
    }
    p.set_args(Some(o.args));
    if let Some(cwd) = o.cwd {
        p.set_cwd(cwd);
    }
    let mut env: Vec<String> = p.env().clone().unwrap_or_default();
    for kv in o.env {
        let name = kv
            .split_once('=')
            .map(|(n, _)| n.to_string())
            .unwrap_or_default();
        env.retain(|e| e.split_once('=').map(|(n, _)| n) != Some(name.as_str()));
        env.push(kv);
    }
    p.set_env(Some(env));
    p.set_terminal(Some(o.tty));
    if o.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if let Some((uid, gid)) = o.user {
        let mut user = p.user().clone();
        user.set_uid(uid);
        if let Some(gid) = gid {
            user.set_gid(gid);
        }
        p.set_user(user);
    }
    if !o.additional_gids.is_empty() {
        let mut user = p.user().clone();
        user.set_additional_gids(Some(o.additional_gids));
        p.set_user(user);
    }
    if !o.caps.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        add_caps(&mut caps, &o.caps)?;
        p.set_capabilities(Some(caps));
    }
    if let Some(profile) = o.apparmor {
        p.set_apparmor_profile(Some(profile));
    }
    spec_validate::check_process(&p, "exec").map_err(|m| SpecError::from_message(&m))?;
    Ok(p)
}

/// A whole process from `--process FILE` (or the shim's request), used as
/// it is, like runc does.
/// runc's defaults apply: a process without `user` runs as uid 0, gid 0
/// (runc's own integration tests pass such a file to `exec -p`).
pub fn parse(data: &[u8], field: &str) -> Result<Process> {
    let mut de = serde_json::Deserializer::from_slice(data);
    let mut value: serde_json::Value = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| SpecError::field(field, format!("{}: {}", e.path(), e.inner())))?;
    if let Some(obj) = value.as_object_mut() {
        obj.entry("user")
            .or_insert_with(|| serde_json::json!({"uid": 0, "gid": 0}));
    }
    let p: Process = serde_path_to_error::deserialize(value)
        .map_err(|e| SpecError::field(field, format!("{}: {}", e.path(), e.inner())))?;
    if p.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(
            SpecError::field(format!("{field}: args"), "must name a program (is empty)").into(),
        );
    }
    spec_validate::check_process(&p, field).map_err(|m| SpecError::from_message(&m))?;
    Ok(p)
}

/// `--cap` values: `CAP_NET_ADMIN` or `NET_ADMIN`, any case.
fn add_caps(caps: &mut LinuxCapabilities, names: &[String]) -> Result<()> {
    let mut bounding = caps.bounding().clone().unwrap_or_default();
    let mut effective = caps.effective().clone().unwrap_or_default();
    let mut permitted = caps.permitted().clone().unwrap_or_default();
    for name in names {
        let upper = name.to_ascii_uppercase();
        let full = if upper.starts_with("CAP_") {
            upper
        } else {
            format!("CAP_{upper}")
        };
        let cap: Capability = serde_json::from_value(serde_json::Value::String(full))
            .map_err(|_| SpecError::new("--cap", format!("{name:?}"), "is not a capability"))?;
        bounding.insert(cap);
        effective.insert(cap);
        permitted.insert(cap);
    }
    caps.set_bounding(Some(bounding));
    caps.set_effective(Some(effective));
    caps.set_permitted(Some(permitted));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inherits_and_overrides_like_runc() {
        let spec: Spec = serde_json::from_str(
            r#"{"ociVersion":"1.0.2","process":{"cwd":"/w","args":["init"],"env":["PATH=/bin","A=1"],
                "user":{"uid":1000,"gid":1000},"noNewPrivileges":true,"oomScoreAdj":5,
                "rlimits":[{"type":"RLIMIT_NOFILE","hard":64,"soft":64}],
                "capabilities":{"bounding":["CAP_KILL"],"effective":["CAP_KILL"],"permitted":["CAP_KILL"]}}}"#,
        )
        .unwrap_or_default();
        let o = Overrides {
            args: vec!["sh".into()],
            env: vec!["A=2".into(), "B=3".into()],
            caps: vec!["net_admin".into()],
            ..Default::default()
        };
        let p = from_container(&spec, o).unwrap_or_default();
        assert_eq!(p.user().uid(), 1000);
        assert_eq!(p.no_new_privileges(), Some(true));
        assert_eq!(p.oom_score_adj(), Some(5));
        assert_eq!(p.rlimits().as_ref().map(|r| r.len()), Some(1));
        assert_eq!(p.cwd(), Path::new("/w"));
        assert_eq!(
            p.env().clone().unwrap_or_default(),
            ["PATH=/bin", "A=2", "B=3"]
        );
        let eff = p
            .capabilities()
            .as_ref()
            .and_then(|c| c.effective().clone());
        assert!(
            eff.is_some_and(|e| e.contains(&Capability::NetAdmin) && e.contains(&Capability::Kill))
        );
        // runc's integration tests' process file: no user, uid 0 then.
        let p = parse(
            br#"{"terminal":true,"consoleSize":{"height":10,"width":110},"args":["/bin/sh"],"cwd":"/"}"#,
            "--process",
        );
        assert!(p.is_ok_and(|p| p.user().uid() == 0 && p.user().gid() == 0));
        let bad = Overrides {
            args: vec!["sh".into()],
            user: Some((4294967295, None)),
            ..Default::default()
        };
        assert!(from_container(&spec, bad).is_err());
    }
}
