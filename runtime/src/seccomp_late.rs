//! The container's seccomp filter, loaded by rcrun itself as the last step
//! before the user's program runs, in the init and in every exec'd process.
//!
//! Why not libcontainer's own loading:
//! - its exec (tenant) path rebuilds `linux` without `seccomp`: exec'd
//!   processes ran unfiltered (`Seccomp: 0`);
//! - without no_new_privs, it loads the filter before the cwd check (the
//!   CVE-2024-21626 mitigation calls getcwd), so a filter that blocks getcwd
//!   broke `start`.
//!
//! Loading a filter without no_new_privs needs CAP_SYS_ADMIN. When the
//! process keeps neither, [`prepare`] adds CAP_SYS_ADMIN to its effective
//! and permitted sets only (never bounding, inheritable or ambient, so an
//! execve cannot keep it), and [`LateSeccomp::exec`] takes it away again
//! right after the filter is loaded, checks that it is gone, and only then
//! executes the program. Any failure ends the process before the program
//! runs. Right after the profile, seccomp_enosys' stub (ENOSYS for
//! syscalls newer than the profile, as runc).

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use caps::{CapSet, Capability};
use libcontainer::container::State;
use libcontainer::workload::default::DefaultExecutor;
use libcontainer::workload::{Executor, ExecutorError, ExecutorValidationError};
use oci_spec::runtime::{
    Hook, LinuxSeccomp, LinuxSeccompArgBuilder, LinuxSeccompOperator, Process, Spec,
};

/// The executor of the container's processes: loads `seccomp` (if any),
/// drops the CAP_SYS_ADMIN [`prepare`] lent, then libcontainer's default
/// executor (execvp).
#[derive(Clone)]
pub struct LateSeccomp {
    seccomp: Option<LinuxSeccomp>,
    lent: Lent,
    /// The init's startContainer hooks, with the state they get on stdin.
    start_hooks: Option<(Vec<Hook>, State)>,
    /// Say a failure on stderr too: after `start` nobody else will (the
    /// init's own channel to rcrun is closed by then).
    report: bool,
    /// Where an exec'd process hands its SCMP_ACT_NOTIFY listener fd
    /// (exec_notify::Channel::child_fd); None: a listener fd is an error.
    notify_to: Option<RawFd>,
}

/// The sets CAP_SYS_ADMIN was added to for loading the filter.
#[derive(Clone, Copy, Default, Debug)]
struct Lent {
    effective: bool,
    permitted: bool,
}

const SYS_ADMIN: oci_spec::runtime::Capability = oci_spec::runtime::Capability::SysAdmin;

impl LateSeccomp {
    /// For the container's init: runs `hooks` (startContainer, in the
    /// container, after `start`) first, and says any failure on the
    /// container's stderr, as runc's init does.
    pub fn for_init(mut self, hooks: Option<Vec<Hook>>, state: State) -> LateSeccomp {
        self.start_hooks = hooks.filter(|h| !h.is_empty()).map(|h| (h, state));
        self.report = true;
        self
    }

    /// An executor that loads nothing (no filter in the spec).
    pub fn none() -> LateSeccomp {
        LateSeccomp {
            seccomp: None,
            lent: Lent::default(),
            start_hooks: None,
            report: false,
            notify_to: None,
        }
    }

    /// For an exec'd process: its listener fd goes to rcrun over `channel`
    /// (exec_notify::Channel::child_fd).
    pub fn with_notify_channel(mut self, channel: RawFd) -> LateSeccomp {
        self.notify_to = Some(channel);
        self
    }
}

/// Takes `seccomp` out of the spec's hands: returns the process libcontainer
/// must set up (with CAP_SYS_ADMIN lent when needed) and the executor that
/// loads the filter.
pub fn prepare(process: &Process, seccomp: Option<&LinuxSeccomp>) -> (Process, LateSeccomp) {
    let Some(seccomp) = seccomp else {
        return (process.clone(), LateSeccomp::none());
    };
    let mut process = process.clone();
    let mut lent = Lent::default();
    // With no_new_privs the filter loads without privilege; without a
    // capabilities section libcontainer leaves every capability in place.
    if process.no_new_privileges() != Some(true) {
        if let Some(mut caps) = process.capabilities().clone() {
            // A set left unset keeps what rcrun has (all of them), or is
            // trimmed to permitted: only the sets given can lack the cap.
            if let Some(mut eff) = caps.effective().clone() {
                lent.effective = eff.insert(SYS_ADMIN);
                caps.set_effective(Some(eff));
            }
            if let Some(mut perm) = caps.permitted().clone() {
                lent.permitted = perm.insert(SYS_ADMIN);
                caps.set_permitted(Some(perm));
            }
            process.set_capabilities(Some(caps));
        }
    }
    (
        process,
        LateSeccomp {
            seccomp: Some(seccomp.clone()),
            lent,
            start_hooks: None,
            report: false,
            notify_to: None,
        },
    )
}

/// `spec` without `linux.seccomp` and with `process` replaced.
pub fn strip(spec: &Spec, process: Process) -> Spec {
    let mut out = spec.clone();
    if let Some(mut linux) = out.linux().clone() {
        linux.set_seccomp(None);
        out.set_linux(Some(linux));
    }
    out.set_process(Some(process));
    out
}

fn fail(what: &str, e: impl std::fmt::Display) -> ExecutorError {
    ExecutorError::Other(format!("seccomp: {what}: {e}"))
}

impl Executor for LateSeccomp {
    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        let res = self.run_last_steps(spec);
        if let (Err(e), true) = (&res, self.report) {
            let mut msg = crate::error::describe_chain(e);
            // The error quotes the arguments, which may be huge (E2BIG).
            if let Some((cut, _)) = msg.char_indices().nth(400) {
                msg.truncate(cut);
                msg.push_str("...");
            }
            eprintln!(
                "{}",
                crate::error::one_line(&format!("rcrun: container init: {msg}"))
            );
        }
        res
    }

    fn validate(&self, spec: &Spec) -> Result<(), ExecutorValidationError> {
        validate_direct_exec(spec)
    }
}

/// libcontainer's default check of the program, with
/// [`with_path_for_direct_exec`]: for every executor of ours.
pub(crate) fn validate_direct_exec(spec: &Spec) -> Result<(), ExecutorValidationError> {
    match with_path_for_direct_exec(spec) {
        Some(s) => DefaultExecutor {}.validate(&s),
        None => DefaultExecutor {}.validate(spec),
    }
}

impl LateSeccomp {
    fn run_last_steps(&self, spec: &Spec) -> Result<(), ExecutorError> {
        if let Some((hooks, state)) = &self.start_hooks {
            let env: std::collections::HashMap<String, String> = std::env::vars().collect();
            for (i, h) in hooks.iter().enumerate() {
                let one = vec![h.clone()];
                libcontainer::hooks::run_hooks(Some(&one), Some(state), None, None, Some(&env))
                    .map_err(|e| fail_hook(i, h, crate::error::describe_chain(&e)))?;
            }
        }
        if let Some(seccomp) = &self.seccomp {
            // Made before the profile is loaded (it allocates).
            let stub = crate::seccomp_enosys::stub_for(seccomp);
            let seccomp = &masked_eq_as_runc(seccomp);
            let listener = libcontainer::seccomp::initialize_seccomp(seccomp)
                .map_err(|e| fail("loading the container's filter", e))?;
            if let Some(fd) = listener {
                // SAFETY: libseccomp just made this fd; nothing else owns it.
                let fd = unsafe { OwnedFd::from_raw_fd(fd) };
                let channel = self.notify_to.ok_or_else(|| {
                    fail(
                        "SCMP_ACT_NOTIFY",
                        "no way to hand the listener fd to the agent",
                    )
                })?;
                crate::exec_notify::hand_over(channel, fd)
                    .map_err(|e| fail("handing the listener fd to the agent", e))?;
            }
            if let Some(stub) = stub {
                // Only ever stricter than the profile: if the profile
                // refuses seccomp(2), its own errno simply stays.
                if let Err(e) = crate::seccomp_enosys::load(&stub) {
                    tracing::debug!("seccomp: the -ENOSYS stub was not loaded: {e}");
                }
            }
        }
        // Dropping from permitted takes it from effective too.
        let mut sets = Vec::new();
        if self.lent.effective || self.lent.permitted {
            sets.push(CapSet::Effective);
        }
        if self.lent.permitted {
            sets.push(CapSet::Permitted);
        }
        for &set in &sets {
            caps::drop(None, set, Capability::CAP_SYS_ADMIN)
                .map_err(|e| fail("dropping CAP_SYS_ADMIN after loading the filter", e))?;
        }
        for set in sets {
            if caps::has_cap(None, set, Capability::CAP_SYS_ADMIN).unwrap_or(true) {
                return Err(fail("CAP_SYS_ADMIN", "still held after dropping it"));
            }
        }
        DefaultExecutor {}.exec(spec)
    }
}

/// An `args[0]` with a '/' is executed as is (runc, execvp): no PATH is
/// needed, but libcontainer's check refuses a process without one (`ctr
/// run --rootfs DIR id /bin/dd` gives no env at all). The check gets a spec
/// with an empty PATH, which still checks that the file exists and is
/// executable; the process itself keeps the env it was given.
fn with_path_for_direct_exec(spec: &Spec) -> Option<Spec> {
    let process = spec.process().as_ref()?;
    let direct = process.args().as_ref()?.first()?.contains('/');
    let env = process.env().clone().unwrap_or_default();
    if !direct || env.iter().any(|e| e.starts_with("PATH=")) {
        return None;
    }
    let mut process = process.clone();
    process.set_env(Some(env.into_iter().chain(["PATH=".to_string()]).collect()));
    let mut out = spec.clone();
    out.set_process(Some(process));
    Some(out)
}

fn fail_hook(i: usize, h: &Hook, e: String) -> ExecutorError {
    ExecutorError::Other(format!(
        "{}: {e}",
        crate::hooks::hook_failed("startContainer", i, h)
    ))
}

/// SCMP_CMP_MASKED_EQ means `(arg & value) == valueTwo` (runc, and
/// libseccomp's mask-then-datum order). libcontainer hands libseccomp
/// `valueTwo` as the mask and `value` as the datum, so a rule such as
/// runc's `socket` flags check (value 0xF00, valueTwo 0) never matches the
/// way the profile means it. Swapped here so libcontainer's order gives
/// runc's meaning.
pub fn masked_eq_as_runc(seccomp: &LinuxSeccomp) -> LinuxSeccomp {
    let mut out = seccomp.clone();
    let syscalls = seccomp.syscalls().as_ref().map(|calls| {
        calls
            .iter()
            .map(|sc| {
                let mut sc = sc.clone();
                let args = sc.args().as_ref().map(|args| {
                    args.iter()
                        .map(|&a| {
                            if a.op() != LinuxSeccompOperator::ScmpCmpMaskedEq {
                                return a;
                            }
                            let (mask, datum) = (a.value(), a.value_two().unwrap_or(0));
                            LinuxSeccompArgBuilder::default()
                                .index(a.index())
                                .op(a.op())
                                .value(datum)
                                .value_two(mask)
                                .build()
                                .unwrap_or(a)
                        })
                        .collect::<Vec<_>>()
                });
                sc.set_args(args);
                sc
            })
            .collect::<Vec<_>>()
    });
    out.set_syscalls(syscalls);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::Capability as C;

    fn process(json: &str) -> Process {
        serde_json::from_str(json).unwrap_or_default()
    }

    #[test]
    fn sys_admin_lent_only_when_needed() {
        let filter: LinuxSeccomp =
            serde_json::from_str(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#).unwrap_or_default();
        let base = r#"{"cwd":"/","user":{"uid":0,"gid":0},"capabilities":{"bounding":["CAP_KILL"],"effective":["CAP_KILL"],"permitted":["CAP_KILL"]}NNP}"#;
        let (p, ex) = prepare(&process(&base.replace("NNP", "")), Some(&filter));
        let caps = p.capabilities().clone().unwrap_or_default();
        assert!(ex.lent.effective && ex.lent.permitted);
        assert!(caps
            .effective()
            .as_ref()
            .is_some_and(|s| s.contains(&C::SysAdmin)));
        assert!(caps
            .permitted()
            .as_ref()
            .is_some_and(|s| s.contains(&C::SysAdmin)));
        assert!(!caps
            .bounding()
            .as_ref()
            .is_some_and(|s| s.contains(&C::SysAdmin)));
        let (p, ex) = prepare(
            &process(&base.replace("NNP", r#","noNewPrivileges":true"#)),
            Some(&filter),
        );
        assert!(!ex.lent.effective && !ex.lent.permitted);
        assert!(!p
            .capabilities()
            .as_ref()
            .and_then(|c| c.effective().clone())
            .is_some_and(|s| s.contains(&C::SysAdmin)));
        let (_, ex) = prepare(&process(&base.replace("NNP", "")), None);
        assert!(!ex.lent.permitted && ex.seccomp.is_none());
    }
}
