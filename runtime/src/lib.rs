//! rcrun: an OCI runtime focused on resource limits and out-of-memory handling.
//!
//! Container process setup (namespaces, mounts, pivot_root, capabilities, seccomp)
//! is delegated to the `libcontainer` crate; cgroups, state and OOM handling are ours.

pub mod cgroup_mounts;
pub mod cgroups;
pub mod clone3;
pub mod container;
pub mod crashpoint;
pub mod dev_readonly;
pub mod error;
pub mod exec_cgroup;
pub mod exec_notify;
pub mod exec_process;
pub mod exec_userns;
pub mod fallback;
pub mod fd_hygiene;
pub mod hooks;
pub mod kmsg_oom;
pub mod launch;
pub mod launch_checks;
pub mod lc_builder;
pub mod lc_init;
mod lc_isolated;
pub mod lc_spec;
pub mod lent_cap;
pub mod lock;
pub mod log_control;
pub mod oom;
pub mod oom_account;
pub mod oom_episode;
pub mod oom_journal;
pub mod process;
pub mod rootfs_path;
pub mod sealed_exe;
pub mod seccomp_enosys;
pub mod seccomp_late;
pub mod seccomp_listener;
mod seccomp_stub_exec;
pub mod signal;
pub mod spec;
pub mod spec_checks;
pub mod spec_validate;
pub mod state;
pub mod state_error;
pub mod stdio_late;
pub mod termination_message;
#[cfg(test)]
mod test_skip;
pub mod tty_relay;
pub mod units;
pub mod userns_binds;
pub mod version;
