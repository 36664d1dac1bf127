//! The runtime-namespace hooks rcrun runs itself: prestart and
//! createRuntime while the init waits (a failure fails the create),
//! poststart and poststop (a failure is a warning). Hooks read the
//! container's state on stdin: the user's bundle and the spec's
//! annotations. createContainer hooks run in the init (libcontainer),
//! startContainer hooks in our executor (seccomp_late).

use std::fs;
use std::path::Path;

use libcontainer::container::{ContainerStatus, State};
use oci_spec::runtime::{Hook, Hooks, Spec};

use crate::error::{describe_chain, Error, Result};
use crate::state::ContainerState;

/// prestart and createRuntime, one by one, to name the hook that failed
/// (any failure fails the create). `pid` is the init's.
pub fn run_create_hooks(hooks: &Hooks, state: &State, pid: i32) -> Result<()> {
    let init_pid = Some(nix::unistd::Pid::from_raw(pid));
    #[allow(deprecated)]
    let phases = [
        ("prestart", hooks.prestart()),
        ("createRuntime", hooks.create_runtime()),
    ];
    for (phase, list) in phases {
        for (i, h) in list.iter().flatten().enumerate() {
            let one = vec![h.clone()];
            libcontainer::hooks::run_hooks(Some(&one), Some(state), None, init_pid, None)
                .map_err(|e| Error::launch(hook_failed(phase, i, h), e))?;
        }
    }
    Ok(())
}

/// The spec of the container in `dir` when it has poststart hooks.
pub fn poststart_spec(dir: &Path) -> Option<Spec> {
    let spec = spec_with_hooks(dir, "poststart")?;
    spec.hooks()
        .as_ref()
        .and_then(|h| h.poststart().as_ref())
        .is_some_and(|l| !l.is_empty())
        .then_some(spec)
}

/// poststart hooks of a container just started (warnings only); `spec`
/// from [`poststart_spec`].
pub fn run_poststart(spec: &Spec, st: &ContainerState) {
    let hooks = spec.hooks().as_ref().and_then(|h| h.poststart().as_ref());
    run_warning("poststart", hooks, spec, st, ContainerStatus::Running);
}

/// poststop hooks of a container being deleted (warnings only).
pub fn run_poststop(dir: &Path, st: &ContainerState) {
    if let Some(spec) = spec_with_hooks(dir, "poststop") {
        let hooks = spec.hooks().as_ref().and_then(|h| h.poststop().as_ref());
        run_warning("poststop", hooks, &spec, st, ContainerStatus::Stopped);
    }
}

/// Runs poststart or poststop hooks one by one. The runtime-spec: a failing
/// one is logged as a warning, and the remaining hooks and the lifecycle go
/// on as if it had succeeded.
fn run_warning(
    phase: &str,
    hooks: Option<&Vec<Hook>>,
    spec: &Spec,
    st: &ContainerState,
    status: ContainerStatus,
) {
    let pid = (status == ContainerStatus::Running).then_some(st.pid);
    let mut state = State::new(&st.id, status, pid, st.bundle.clone());
    state.annotations = spec.annotations().clone();
    for (i, hook) in hooks.into_iter().flatten().enumerate() {
        let one = vec![hook.clone()];
        if let Err(e) =
            libcontainer::hooks::run_hooks(Some(&one), Some(&state), Some(&st.bundle), None, None)
        {
            tracing::warn!("{}: {}", hook_failed(phase, i, hook), describe_chain(&e));
        }
    }
}

/// How a failed hook is named, in every phase: runc's words (`error
/// running hook #0`, which callers match), then the phase and the path.
pub fn hook_failed(phase: &str, i: usize, h: &Hook) -> String {
    format!("error running hook #{i} ({phase}, {})", h.path().display())
}

/// A createContainer hook failed (in the init, which libcontainer runs
/// them from): named as the other phases' failures, with the hook's
/// index when there is only one.
pub fn create_container_failed(spec: &Spec, chain: String) -> String {
    let list = spec
        .hooks()
        .as_ref()
        .and_then(|h| h.create_container().as_deref());
    match list.unwrap_or_default() {
        [h] => format!("{}: {chain}", hook_failed("createContainer", 0, h)),
        l => format!(
            "error running hook (createContainer, one of {}): {chain}",
            l.len()
        ),
    }
}

/// The container's spec (`<dir>/config.json`), parsed only when its text
/// mentions `hook` (most containers have no hooks; parsing a large spec
/// costs more than reading).
fn spec_with_hooks(dir: &Path, hook: &str) -> Option<Spec> {
    let data = fs::read(dir.join("config.json")).ok()?;
    let needle = hook.as_bytes();
    if !data.windows(needle.len()).any(|w| w == needle) {
        return None;
    }
    serde_json::from_slice(&data).ok()
}
