//! rcrun: an OCI runtime focused on resource limits and out-of-memory handling.
//!
//! Container process setup (namespaces, mounts, pivot_root, capabilities, seccomp)
//! is delegated to the `libcontainer` crate; cgroups, state and OOM handling are ours.

pub mod cgroups;
pub mod cli;
pub mod commands;
pub mod container;
pub mod crashpoint;
pub mod error;
pub mod launch;
pub mod lock;
pub mod logging;
pub mod oom;
pub mod oom_account;
pub mod oom_report;
pub mod process;
pub mod signal;
pub mod spec;
pub mod state;
pub mod units;
pub mod version;
