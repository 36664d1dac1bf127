//! cgroup management for v1, v2 and hybrid hierarchies.
//!
//! (being written: see the contract in the task description)
