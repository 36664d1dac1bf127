//! cgroup v2 controllers: one module per controller. On hybrid hosts these
//! also serve the controllers only the unified hierarchy carries.

pub(crate) mod cpu;
pub(crate) mod cpuset;
pub(crate) mod freezer;
pub(crate) mod hugetlb;
pub(crate) mod io;
pub(crate) mod memory;
pub(crate) mod pids;
pub(crate) mod unified;
