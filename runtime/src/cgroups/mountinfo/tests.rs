//! Parsing real and odd mountinfo / proc cgroup contents.

use super::*;

const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
const HYBRID_CG: &str = "\
9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/process_api/cc87
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
";

const V1: &str = "\
25 18 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd
29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct
30 25 0:27 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory
31 25 0:28 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,net_cls,net_prio
32 25 0:29 / /sys/fs/cgroup/hugetlb rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,hugetlb
33 25 0:30 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,cpuset,clone_children
";
const V1_CG: &str = "\
12:cpuset:/
7:hugetlb:/
6:net_cls,net_prio:/
5:memory:/user.slice
4:cpu,cpuacct:/user.slice
1:name=systemd:/user.slice/session-1.scope
";

const V2: &str = "\
24 18 0:21 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";
const V2_CG: &str = "0::/user.slice/user-0.slice/session-1.scope\n";

#[test]
fn hybrid_layout() {
    let h = parse(HYBRID, HYBRID_CG).unwrap();
    assert_eq!(h.layout(), Layout::Hybrid);
    assert_eq!(h.v1.len(), 9);
    let cpu = h.v1_mount("cpu").unwrap();
    assert_eq!(cpu.controllers, vec!["cpu"]);
    assert_eq!(h.v1_mount("cpuacct").unwrap().name(), "cpuacct");
    assert_eq!(
        h.v1_mount("name=systemd").unwrap().mountpoint,
        Path::new("/sys/fs/cgroup/systemd")
    );
    let u = h.unified.as_ref().unwrap();
    assert_eq!(u.mountpoint, Path::new("/sys/fs/cgroup/unified"));
    let mem = h.v1_mount("memory").unwrap();
    assert_eq!(
        h.own_relative(&mem.controllers, &mem.root),
        Path::new("/process_api/cc87")
    );
    assert_eq!(h.own_relative(&cpu.controllers, &cpu.root), Path::new("/"));
    assert_eq!(h.own_relative(&[], Path::new("/")), Path::new("/"));
}

#[test]
fn hybrid_controller_placement() {
    let mut h = parse(HYBRID, HYBRID_CG).unwrap();
    h.unified.as_mut().unwrap().controllers = vec!["hugetlb".into()];
    assert!(h.on_v2("hugetlb"));
    assert!(!h.on_v2("memory"));
    assert!(h.has_controller("hugetlb"));
    assert!(!h.has_controller("net_cls"));
}

#[test]
fn v1_combined_layout() {
    let h = parse(V1, V1_CG).unwrap();
    assert_eq!(h.layout(), Layout::V1);
    let cpu = h.v1_mount("cpu").unwrap();
    assert_eq!(cpu.name(), "cpu,cpuacct");
    assert_eq!(cpu.mountpoint, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
    assert_eq!(h.v1_mount("cpuacct").unwrap(), cpu);
    assert_eq!(h.v1_mount("cpuset").unwrap().controllers, vec!["cpuset"]);
    assert_eq!(
        h.v1_mount("name=systemd").unwrap().controllers,
        vec!["name=systemd"]
    );
    assert_eq!(
        h.own_relative(&cpu.controllers, &cpu.root),
        Path::new("/user.slice")
    );
    let np = h.v1_mount("net_prio").unwrap();
    assert_eq!(np.name(), "net_cls,net_prio");
    assert!(h.unified.is_none());
    assert!(!h.on_v2("hugetlb"));
    assert!(h.has_controller("hugetlb"));
}

#[test]
fn v2_layout() {
    let mut h = parse(V2, V2_CG).unwrap();
    assert_eq!(h.layout(), Layout::V2);
    h.unified.as_mut().unwrap().controllers = vec!["cpu".into(), "memory".into(), "pids".into()];
    assert!(h.on_v2("memory"));
    assert!(!h.has_controller("hugetlb"));
    assert_eq!(
        h.own_relative(&[], Path::new("/")),
        Path::new("/user.slice/user-0.slice/session-1.scope")
    );
}

#[test]
fn nested_mount_root_is_stripped() {
    let mi = "50 40 0:30 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
    let h = parse(mi, "0::/docker/abc/sub\n").unwrap();
    let u = h.unified.as_ref().unwrap();
    assert_eq!(u.root, Path::new("/docker/abc"));
    assert_eq!(h.own_relative(&[], &u.root), Path::new("/sub"));
}

#[test]
fn escaped_mountpoint_and_no_cgroups() {
    let mi = "50 40 0:30 / /mnt/my\\040cg rw - cgroup cgroup rw,memory\n";
    let h = parse(mi, "").unwrap();
    assert_eq!(h.v1[0].mountpoint, Path::new("/mnt/my cg"));
    assert!(parse("1 2 0:1 / / rw - ext4 /dev/sda rw\n", "").is_err());
    // Garbage lines are skipped, not a panic.
    assert!(parse("garbage\n - \n\\\n", "x").is_err());
}
