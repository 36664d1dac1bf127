//! The spec libcontainer gets, derived from the user's: what libcontainer
//! would otherwise get wrong, or leave open, is settled here, once, for both
//! launch paths (ours in launch.rs and libcontainer's own) and for exec
//! (which loads the same file).
//!
//! - cgroups: ours are made and joined already, so libcontainer sees only the
//!   device rules (its v2 eBPF program is worth reusing) and a cgroupsPath
//!   (see `container::libcontainer_cgroups`).
//! - devices: a deny-all rule comes first, as runc does. Without it
//!   `devices: []` (what `rcrun spec` writes) left the v1 devices cgroup at
//!   its inherited `a *:* rwm`, and CAP_MKNOD reached any device.
//! - cgroup mounts: libcontainer mounts every v1 hierarchy (and the tmpfs
//!   above them) read-write whatever the spec says; on v1 and hybrid hosts a
//!   read-only cgroup mount becomes rcrun's own bind mounts
//!   (cgroup_mounts), so that "ro" holds on every hierarchy, with or
//!   without a cgroup namespace: a container cannot raise its own limits.
//! - relative paths (bind mount sources, runtime-namespace hook paths) are
//!   the bundle's, as runc resolves them, not the caller's cwd.
//! - rootfsPropagation: runc's names (`rshared`, `rslave`, `rprivate`,
//!   `runbindable` too; containerd's CRI sets `rshared` / `rslave` for
//!   Bidirectional / HostToContainer volumes); libcontainer knows only the
//!   four without `r` and always makes them recursive.
//! - `noNewPrivileges: false` reads as unset: libcontainer tells the two apart
//!   and, for `false`, loads seccomp after dropping CAP_SYS_ADMIN (EACCES).

use std::path::{Path, PathBuf};

use oci_spec::runtime::{Hook, LinuxDeviceCgroupBuilder, LinuxResourcesBuilder, Mount, Spec};

use crate::cgroup_mounts::CgroupView;
use crate::error::{Error, Result, SpecError};

/// `spec` as libcontainer must see it. `bundle` is the (absolute) bundle
/// directory, `rootfs` the absolute rootfs.
pub fn for_libcontainer(
    spec: &Spec,
    bundle: &Path,
    rootfs: &Path,
    cgroups_path: PathBuf,
    cgroup_view: Option<&CgroupView>,
) -> Result<Spec> {
    let mut out = spec.clone();
    if let Some(mut root) = out.root().clone() {
        root.set_path(rootfs.to_path_buf());
        out.set_root(Some(root));
    }
    if let Some(mut linux) = out.linux().clone() {
        linux.set_resources(Some(device_rules(spec)?));
        linux.set_cgroups_path(Some(cgroups_path));
        let propagation = root_propagation(linux.rootfs_propagation().as_deref())?;
        linux.set_rootfs_propagation(propagation);
        out.set_linux(Some(linux));
    }
    if let Some(mut process) = out.process().clone() {
        if process.no_new_privileges() == Some(false) {
            process.set_no_new_privileges(None);
        }
        out.set_process(Some(process));
    }
    if let Some(mounts) = out.mounts().clone() {
        out.set_mounts(Some(mounts_for(mounts, bundle, cgroup_view)?));
    }
    if let Some(mut hooks) = out.hooks().clone() {
        let abs = |list: &Option<Vec<Hook>>| -> Option<Vec<Hook>> {
            list.as_ref().map(|l| {
                l.iter()
                    .map(|h| {
                        let mut h = h.clone();
                        if h.path().is_relative() {
                            h.set_path(bundle.join(h.path()));
                        }
                        h
                    })
                    .collect()
            })
        };
        // The hooks that run in the runtime's namespaces; the others run in
        // the container, where the container's cwd applies.
        #[allow(deprecated)]
        let prestart = abs(hooks.prestart());
        #[allow(deprecated)]
        hooks.set_prestart(prestart);
        hooks.set_create_runtime(abs(hooks.create_runtime()));
        hooks.set_poststart(abs(hooks.poststart()));
        hooks.set_poststop(abs(hooks.poststop()));
        out.set_hooks(Some(hooks));
    }
    Ok(out)
}

/// `linux.rootfsPropagation` in libcontainer's words: it applies every
/// value recursively (MS_REC), so `rshared` is its `shared`.
fn root_propagation(given: Option<&str>) -> Result<Option<String>> {
    let Some(given) = given.filter(|g| !g.is_empty()) else {
        return Ok(None);
    };
    let base = given.strip_prefix('r').unwrap_or(given);
    match base {
        "shared" | "slave" | "private" | "unbindable" => Ok(Some(base.to_string())),
        _ => Err(SpecError::new(
            "linux.rootfsPropagation",
            format!("{given:?}"),
            "is not a propagation (shared, slave, private, unbindable, or with r: rshared, ...)",
        )
        .into()),
    }
}

/// Deny everything, then the spec's rules (the defaults every container
/// gets are added where the rules are applied: cgroups::devices).
fn device_rules(spec: &Spec) -> Result<oci_spec::runtime::LinuxResources> {
    let deny_all = LinuxDeviceCgroupBuilder::default()
        .allow(false)
        .access("rwm")
        .build()
        .map_err(|e| SpecError::field("linux.resources.devices", e.to_string()))?;
    let mut rules = vec![deny_all];
    if let Some(user) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.devices().as_ref())
    {
        rules.extend(user.iter().filter_map(normalise_access));
    }
    LinuxResourcesBuilder::default()
        .devices(rules)
        .build()
        .map_err(|e| Error::from(SpecError::field("linux.resources.devices", e.to_string())))
}

/// A rule's access as the kernel takes it, as runc makes it: only r, w and
/// m, each once, in that order ("rwa" is "rw": the kernel refuses the
/// text as given with EINVAL). A rule left with none of them does nothing
/// in runc either, and is dropped.
fn normalise_access(
    rule: &oci_spec::runtime::LinuxDeviceCgroup,
) -> Option<oci_spec::runtime::LinuxDeviceCgroup> {
    let Some(given) = rule.access() else {
        return Some(rule.clone());
    };
    let access: String = ['r', 'w', 'm']
        .into_iter()
        .filter(|c| given.contains(*c))
        .collect();
    if access.is_empty() {
        return None;
    }
    let mut rule = rule.clone();
    rule.set_access(Some(access));
    Some(rule)
}

pub(crate) fn is_bind(m: &Mount) -> bool {
    m.typ().as_deref() == Some("bind")
        || m.options()
            .iter()
            .flatten()
            .any(|o| o == "bind" || o == "rbind")
}

fn mounts_for(
    mounts: Vec<Mount>,
    bundle: &Path,
    cgroup_view: Option<&CgroupView>,
) -> Result<Vec<Mount>> {
    let mut out = Vec::with_capacity(mounts.len());
    for (i, mut m) in mounts.into_iter().enumerate() {
        if is_bind(&m) {
            if let Some(src) = m.source().clone().filter(|s| s.is_relative()) {
                m.set_source(Some(bundle.join(src)));
            }
        }
        match cgroup_view {
            Some(view) if m.typ().as_deref() == Some("cgroup") => {
                out.extend(view.mounts_for(&m, i)?)
            }
            _ => out.push(m),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Spec {
        serde_json::from_str(json).unwrap_or_default()
    }

    /// The conversion for bundle /b with rootfs /, cgroups at /x.
    fn convert(s: &Spec) -> Result<Spec> {
        for_libcontainer(
            s,
            Path::new("/b"),
            Path::new("/"),
            PathBuf::from("/x"),
            None,
        )
    }

    #[test]
    fn deny_all_comes_first() {
        let s = spec(
            r#"{"ociVersion":"1.0.2","linux":{"resources":{"devices":[{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"}]}}}"#,
        );
        let out = convert(&s);
        let rules: Vec<String> = out
            .ok()
            .and_then(|o| o.linux().clone())
            .and_then(|l| l.resources().clone())
            .and_then(|r| r.devices().clone())
            .unwrap_or_default()
            .iter()
            .map(|r| format!("{} {r}", r.allow()))
            .collect();
        assert_eq!(rules, ["false a *:* rwm", "true c 1:3 rwm"]);
    }

    #[test]
    fn relative_paths_are_the_bundles() {
        let s = spec(
            r#"{"ociVersion":"1.0.2","process":{"cwd":"/","user":{"uid":0,"gid":0},"noNewPrivileges":false},"linux":{},
            "mounts":[{"destination":"/m","type":"bind","source":"reldir","options":["rbind"]},
                      {"destination":"/t","type":"tmpfs","source":"tmpfs"}],
            "hooks":{"createRuntime":[{"path":"./relhook"}]}}"#,
        );
        let out = convert(&s).unwrap_or_default();
        let srcs: Vec<_> = out
            .mounts()
            .iter()
            .flatten()
            .map(|m| m.source().clone())
            .collect();
        assert_eq!(
            srcs,
            [
                Some(PathBuf::from("/b/reldir")),
                Some(PathBuf::from("tmpfs"))
            ]
        );
        let hook = out
            .hooks()
            .as_ref()
            .and_then(|h| h.create_runtime().clone());
        assert_eq!(
            hook.map(|h| h[0].path().clone()),
            Some(PathBuf::from("/b/./relhook"))
        );
        assert_eq!(
            out.process().as_ref().and_then(|p| p.no_new_privileges()),
            None
        );
    }
}
