//! A capability lent to a container process for one last step of rcrun's
//! own before its program runs (stdio_late: CAP_CHOWN for its stdio), then
//! taken back. Lent in the effective and permitted sets only, never
//! bounding, inheritable or ambient, so no execve can keep it; taken back
//! and checked gone before the program is executed.

use caps::CapSet;
use libcontainer::workload::ExecutorError;
use oci_spec::runtime::Process;

/// The sets a capability was added to.
#[derive(Clone, Copy, Default, Debug, PartialEq)]
pub struct Lent {
    pub effective: bool,
    pub permitted: bool,
}

/// Adds `cap` to the process's effective and permitted sets where given
/// sets lack it. Without a capabilities section libcontainer leaves every
/// capability in place; a set left unset is trimmed to permitted.
pub fn lend(process: &mut Process, cap: oci_spec::runtime::Capability) -> Lent {
    let mut lent = Lent::default();
    if let Some(mut caps) = process.capabilities().clone() {
        if let Some(mut eff) = caps.effective().clone() {
            lent.effective = eff.insert(cap);
            caps.set_effective(Some(eff));
        }
        if let Some(mut perm) = caps.permitted().clone() {
            lent.permitted = perm.insert(cap);
            caps.set_permitted(Some(perm));
        }
        process.set_capabilities(Some(caps));
    }
    lent
}

/// In the process, before its program: takes back what [`lend`] added and
/// checks that it is gone.
pub fn take_back(lent: Lent, cap: caps::Capability) -> Result<(), ExecutorError> {
    let fail = |what: String| ExecutorError::Other(format!("lent {cap}: {what}"));
    // Dropping from permitted takes it from effective too.
    let mut sets = Vec::new();
    if lent.effective || lent.permitted {
        sets.push(CapSet::Effective);
    }
    if lent.permitted {
        sets.push(CapSet::Permitted);
    }
    for &set in &sets {
        caps::drop(None, set, cap).map_err(|e| fail(format!("dropping it: {e}")))?;
    }
    for set in sets {
        if caps::has_cap(None, set, cap).unwrap_or(true) {
            return Err(fail("still held after dropping it".into()));
        }
    }
    Ok(())
}
