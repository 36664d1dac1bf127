//! `rcrun features`: the runtime-spec features document.

use serde_json::json;

use rcrun::error::Result;

#[derive(clap::Args, Debug)]
pub struct Args {}

/// Recursive mount options (mount_setattr(2)) libcontainer applies.
const RECURSIVE_MOUNT_OPTIONS: &[&str] = &[
    "ratime",
    "rdev",
    "rdiratime",
    "rexec",
    "rnoatime",
    "rnodev",
    "rnodiratime",
    "rnoexec",
    "rnorelatime",
    "rnostrictatime",
    "rnosuid",
    "rnosymfollow",
    "rrelatime",
    "rro",
    "rrw",
    "rstrictatime",
    "rsuid",
    "rsymfollow",
];

/// seccomp architectures: every one oci-spec parses (`SCMP_ARCH_NATIVE`
/// aside) and libcontainer translates for libseccomp.
const SECCOMP_ARCHS: &[&str] = &[
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_RISCV64",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_SH",
    "SCMP_ARCH_SHEB",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
];

/// seccomp filter flags libcontainer sets (log, tsync, spec_allow).
const SECCOMP_FLAGS: &[&str] = &[
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_TSYNC",
];

fn mount_options() -> Vec<String> {
    let mut v = libcontainer::syscall::linux::MountOption::known_options();
    v.extend(RECURSIVE_MOUNT_OPTIONS.iter().map(|s| s.to_string()));
    v.sort();
    v.dedup();
    v
}

/// The features document (runtime-spec features.md and features-linux.md,
/// as of `ociVersionMax`): what this build recognizes, not what the host has.
pub fn document() -> serde_json::Value {
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": oci_spec::runtime::VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": mount_options(),
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps(),
            "cgroup": {"v1": true, "v2": true, "systemd": true, "systemdUser": false, "rdma": true},
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                            "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE",
                            "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE",
                              "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                "archs": SECCOMP_ARCHS,
                "knownFlags": SECCOMP_FLAGS,
                "supportedFlags": SECCOMP_FLAGS
            },
            "apparmor": {"enabled": true},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false}
        },
        "annotations": {
            "io.github.rcrun.version": rcrun::version::SHORT,
            "io.github.rcrun.commit": rcrun::version::COMMIT,
            "io.github.rcrun.libcontainer.version": rcrun::version::LIBCONTAINER,
            "io.github.rcrun.oom-report": "true",
            "org.opencontainers.runc.checkpoint.enabled": "false"
        }
    })
}

pub fn run(_args: &Args) -> Result<i32> {
    let out = serde_json::to_string_pretty(&document())?;
    println!("{out}");
    Ok(0)
}

fn caps() -> Vec<String> {
    caps_list().iter().map(|c| format!("CAP_{c}")).collect()
}

fn caps_list() -> &'static [&'static str] {
    &[
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "SETPCAP",
        "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_ADMIN",
        "NET_RAW",
        "IPC_LOCK",
        "IPC_OWNER",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_CHROOT",
        "SYS_PTRACE",
        "SYS_PACCT",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_NICE",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "MKNOD",
        "LEASE",
        "AUDIT_WRITE",
        "AUDIT_CONTROL",
        "SETFCAP",
        "MAC_OVERRIDE",
        "MAC_ADMIN",
        "SYSLOG",
        "WAKE_ALARM",
        "BLOCK_SUSPEND",
        "AUDIT_READ",
        "PERFMON",
        "BPF",
        "CHECKPOINT_RESTORE",
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{
        Arch, Capability, LinuxNamespaceType, LinuxSeccompAction, LinuxSeccompFilterFlag,
        LinuxSeccompOperator,
    };
    use serde::de::DeserializeOwned;
    use std::str::FromStr;

    fn strings(v: &serde_json::Value) -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn parses<T: DeserializeOwned>(name: &str) -> bool {
        serde_json::from_value::<T>(serde_json::Value::String(name.to_string())).is_ok()
    }

    /// Every name the document lists is one the spec types (and so
    /// config.json parsing) recognize.
    #[test]
    fn every_listed_name_parses() {
        let d = document();
        let l = &d["linux"];
        for n in strings(&l["namespaces"]) {
            assert!(parses::<LinuxNamespaceType>(&n), "namespace {n}");
        }
        for c in strings(&l["capabilities"]) {
            assert!(
                Capability::from_str(&c).is_ok() || parses::<Capability>(&c),
                "cap {c}"
            );
        }
        for a in strings(&l["seccomp"]["archs"]) {
            assert!(parses::<Arch>(&a), "arch {a}");
        }
        for a in strings(&l["seccomp"]["actions"]) {
            assert!(parses::<LinuxSeccompAction>(&a), "action {a}");
        }
        for o in strings(&l["seccomp"]["operators"]) {
            assert!(parses::<LinuxSeccompOperator>(&o), "operator {o}");
        }
        for f in strings(&l["seccomp"]["knownFlags"]) {
            assert!(parses::<LinuxSeccompFilterFlag>(&f), "flag {f}");
        }
        for o in RECURSIVE_MOUNT_OPTIONS {
            assert!(
                libcontainer::syscall::linux::MountRecursive::from_str(o).is_ok(),
                "mount option {o}"
            );
        }
    }

    #[test]
    fn required_fields() {
        let d = document();
        assert_eq!(d["ociVersionMin"], "1.0.0");
        assert!(d["ociVersionMax"]
            .as_str()
            .is_some_and(|v| v.starts_with("1.")));
        assert!(strings(&d["mountOptions"]).iter().any(|o| o == "rro"));
    }
}
