//! rcrun: an OCI runtime focused on resource limits and out-of-memory handling.
//!
//! Container process setup (namespaces, mounts, pivot_root, capabilities, seccomp)
//! is delegated to the `libcontainer` crate; cgroups, state and OOM handling are ours.

pub mod cgroups;
