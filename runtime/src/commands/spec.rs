//! `rcrun spec`: write a starting config.json, runc's template.
//!
//! Tools and tests written for runc start from `runc spec` and edit it, so
//! the template is runc's, field for field and in runc's order: hostname
//! `runc`, `terminal: true` (callers pass `--console-socket`), a deny-all
//! device rule, no inheritable capabilities, no cgroup namespace.
//! `--rootless` applies runc's rootless changes (a user namespace mapping
//! the caller's uid/gid to root, /sys bound from the host, no
//! uid=/gid= mount options, no resources), even though rcrun itself does
//! not run rootless containers.

use std::path::PathBuf;

use serde_json::{json, Map, Value};

use rcrun::error::{Error, Result, SpecError};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory to write config.json into
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Generate a spec for a rootless container (rcrun itself refuses to run one)
    #[arg(long)]
    pub rootless: bool,
}

/// runc's template, without `ociVersion` (rcrun's own is put first).
const TEMPLATE: &str = include_str!("spec_template.json");

/// The config.json `rcrun spec` writes.
pub fn template(rootless: bool) -> Result<Value> {
    let body: Map<String, Value> = serde_json::from_str(TEMPLATE)?;
    let mut spec = Map::new();
    spec.insert("ociVersion".into(), rcrun::state::OCI_VERSION.into());
    spec.extend(body);
    let mut spec = Value::Object(spec);
    if rootless {
        make_rootless(&mut spec);
    }
    Ok(spec)
}

/// runc's `specconv.ToRootless`, on the template.
fn make_rootless(spec: &mut Value) {
    let map_self = |id: u32| json!([{"containerID": 0, "hostID": id, "size": 1}]);
    if let Some(linux) = spec.get_mut("linux").and_then(Value::as_object_mut) {
        let mut namespaces: Vec<Value> = linux
            .get("namespaces")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|ns| !matches!(ns["type"].as_str(), Some("network" | "user")))
            .cloned()
            .collect();
        namespaces.push(json!({"type": "user"}));
        linux.shift_remove("resources");
        let rest = std::mem::take(linux);
        linux.insert(
            "uidMappings".into(),
            map_self(nix::unistd::geteuid().as_raw()),
        );
        linux.insert(
            "gidMappings".into(),
            map_self(nix::unistd::getegid().as_raw()),
        );
        linux.extend(rest);
        linux.insert("namespaces".into(), Value::Array(namespaces));
    }
    let Some(mounts) = spec.get_mut("mounts").and_then(Value::as_array_mut) else {
        return;
    };
    for m in mounts.iter_mut() {
        if m["destination"] == "/sys" {
            *m = json!({
                "destination": "/sys",
                "type": "none",
                "source": "/sys",
                "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]
            });
        } else if let Some(opts) = m.get_mut("options").and_then(Value::as_array_mut) {
            opts.retain(|o| {
                !o.as_str()
                    .is_some_and(|o| o.starts_with("uid=") || o.starts_with("gid="))
            });
        }
    }
}

pub fn run(args: &Args) -> Result<i32> {
    let path = args.bundle.join("config.json");
    if path.exists() {
        return Err(Error::FileExists(path));
    }
    let data = serde_json::to_string_pretty(&template(args.rootless)?)?;
    // Name the flag and its value (Debug: bytes that are not UTF-8 stay
    // visible), not only the file it led to.
    std::fs::write(&path, data + "\n").map_err(|e| {
        Error::from(SpecError::field(
            format!("--bundle {:?}", args.bundle),
            format!("cannot write config.json there: {e}"),
        ))
    })?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwritable_bundle_names_the_flag_and_value() {
        for b in ["/proc/nonexistent/dir", "/proc/self/status"] {
            let args = Args {
                bundle: PathBuf::from(b),
                rootless: false,
            };
            let e = run(&args).expect_err(b).to_string();
            assert!(e.starts_with(&format!("--bundle {b:?}: ")), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    /// Both templates are specs rcrun itself parses, with runc's defaults.
    #[test]
    fn templates_parse_as_specs() {
        for rootless in [false, true] {
            let v = template(rootless).expect("template");
            let s: oci_spec::runtime::Spec = serde_json::from_value(v).expect("a valid spec");
            assert_eq!(s.hostname().as_deref(), Some("runc"));
            let p = s.process().as_ref().expect("process");
            assert_eq!(p.terminal(), Some(true));
            let caps = p.capabilities().as_ref().expect("capabilities");
            assert!(caps.inheritable().as_ref().is_none_or(|c| c.is_empty()));
            let linux = s.linux().as_ref().expect("linux");
            let ns: Vec<String> = linux
                .namespaces()
                .iter()
                .flatten()
                .map(|n| format!("{:?}", n.typ()))
                .collect();
            assert!(!ns.iter().any(|n| n.contains("Cgroup")), "{ns:?}");
            assert_eq!(
                ns.iter().any(|n| n.contains("Network")),
                !rootless,
                "{ns:?}"
            );
            assert_eq!(linux.uid_mappings().is_some(), rootless);
        }
        let v = template(false).expect("template");
        assert_eq!(
            v["linux"]["resources"]["devices"],
            json!([{"allow": false, "access": "rwm"}])
        );
    }
}
