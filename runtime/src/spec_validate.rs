//! Range and content checks on the process a spec (or an exec's
//! process.json) asks for, made before anything exists, with runc's limits.
//!
//! Each of these, unchecked, reaches something worse than an error:
//! - uid/gid 4294967295 is -1 to setresuid/setresgid, "leave unchanged": the
//!   process would run as root;
//! - an env entry without a name, or with a NUL byte, makes the init panic
//!   (std's set_var) half-way through its setup;
//! - a NUL byte in an argument cannot reach execve: the argument would be
//!   silently cut or replaced.

use oci_spec::runtime::{Hook, Process};

/// runc: "uids and gids must be in range 0-2147483647".
pub const MAX_ID: u32 = i32::MAX as u32;

/// Checks `process`; `field` is where it came from ("process" in
/// config.json, "--process" for exec). The message names the field and the
/// value.
pub fn check_process(process: &Process, field: &str) -> Result<(), String> {
    let user = process.user();
    check_id(&format!("{field}.user.uid"), user.uid())?;
    check_id(&format!("{field}.user.gid"), user.gid())?;
    for (i, g) in user.additional_gids().iter().flatten().enumerate() {
        check_id(&format!("{field}.user.additionalGids[{i}]"), *g)?;
    }
    for (i, a) in process.args().iter().flatten().enumerate() {
        if a.contains('\0') {
            return Err(format!("{field}.args[{i}]: {a:?} contains a NUL byte"));
        }
    }
    check_env(
        &format!("{field}.env"),
        process.env().as_deref().unwrap_or(&[]),
    )
}

pub fn check_id(field: &str, id: u32) -> Result<(), String> {
    if id > MAX_ID {
        return Err(format!(
            "{field}: {id} is out of range (uids and gids must be in range 0-{MAX_ID})"
        ));
    }
    Ok(())
}

/// `NAME=value` entries: a name, an '=', no NUL byte (runc's rules).
pub fn check_env(field: &str, env: &[String]) -> Result<(), String> {
    for (i, e) in env.iter().enumerate() {
        let Some((name, _)) = e.split_once('=') else {
            return Err(format!("{field}[{i}]: {e:?} is not NAME=value (no '=')"));
        };
        if name.is_empty() {
            return Err(format!("{field}[{i}]: {e:?} has an empty name"));
        }
        if e.contains('\0') {
            return Err(format!("{field}[{i}]: {e:?} contains a NUL byte"));
        }
    }
    Ok(())
}

/// A hook's path, arguments and environment, as above.
pub fn check_hook(field: &str, hook: &Hook) -> Result<(), String> {
    let path = hook.path().to_string_lossy();
    if path.contains('\0') {
        return Err(format!("{field}.path: {path:?} contains a NUL byte"));
    }
    for (i, a) in hook.args().iter().flatten().enumerate() {
        if a.contains('\0') {
            return Err(format!("{field}.args[{i}]: {a:?} contains a NUL byte"));
        }
    }
    check_env(
        &format!("{field}.env"),
        hook.env().as_deref().unwrap_or(&[]),
    )
}

/// Every hook of the spec.
pub fn check_hooks(hooks: &oci_spec::runtime::Hooks) -> Result<(), String> {
    let phases = [
        ("prestart", hooks.prestart()),
        ("createRuntime", hooks.create_runtime()),
        ("createContainer", hooks.create_container()),
        ("startContainer", hooks.start_container()),
        ("poststart", hooks.poststart()),
        ("poststop", hooks.poststop()),
    ];
    for (phase, list) in phases {
        for (i, h) in list.iter().flatten().enumerate() {
            check_hook(&format!("hooks.{phase}[{i}]"), h)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(json: &str) -> Process {
        serde_json::from_str(json).unwrap_or_default()
    }

    #[test]
    fn ids_in_runc_range() {
        let p = process(r#"{"cwd":"/","user":{"uid":4294967295,"gid":0}}"#);
        let err = check_process(&p, "process").err().unwrap_or_default();
        assert!(err.starts_with("process.user.uid: 4294967295"), "{err}");
        let p = process(r#"{"cwd":"/","user":{"uid":2147483647,"gid":2147483648}}"#);
        let err = check_process(&p, "process").err().unwrap_or_default();
        assert!(err.starts_with("process.user.gid: 2147483648"), "{err}");
        let p = process(r#"{"cwd":"/","user":{"uid":0,"gid":0,"additionalGids":[1,4294967295]}}"#);
        assert!(check_process(&p, "process").is_err());
    }

    #[test]
    fn env_and_args() {
        for (json, want) in [
            (
                r#"{"cwd":"/","user":{"uid":0,"gid":0},"env":["=x"]}"#,
                "empty name",
            ),
            (
                r#"{"cwd":"/","user":{"uid":0,"gid":0},"env":["A=\u0000"]}"#,
                "NUL",
            ),
            (
                r#"{"cwd":"/","user":{"uid":0,"gid":0},"env":["NOEQUALS"]}"#,
                "no '='",
            ),
            (
                r#"{"cwd":"/","user":{"uid":0,"gid":0},"args":["sh","a\u0000b"]}"#,
                "args[1]",
            ),
        ] {
            let err = check_process(&process(json), "process")
                .err()
                .unwrap_or_default();
            assert!(err.contains(want), "{json}: {err}");
        }
        let ok =
            process(r#"{"cwd":"/","user":{"uid":0,"gid":0},"env":["A=","B==c"],"args":["x",""]}"#);
        assert_eq!(check_process(&ok, "process"), Ok(()));
    }
}
