//! rcrun: an OCI runtime focused on resource limits and out-of-memory handling.
//!
//! Container process setup (namespaces, mounts, pivot_root, capabilities, seccomp)
//! is delegated to the `libcontainer` crate; cgroups, state and OOM handling are ours.

pub mod cgroup_mounts;
pub mod cgroups;
pub mod cli;
pub mod commands;
pub mod container;
pub mod crashpoint;
pub mod error;
pub mod exec_process;
pub mod kmsg_oom;
pub mod launch;
pub mod lc_spec;
pub mod lock;
pub mod logging;
pub mod oom;
pub mod oom_account;
pub mod process;
pub mod rootfs_path;
pub mod sealed_exe;
pub mod seccomp_late;
pub mod signal;
pub mod spec;
pub mod spec_validate;
pub mod state;
#[cfg(test)]
mod test_skip;
pub mod units;
pub mod version;
