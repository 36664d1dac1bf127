//! containerd's generic runtime options (`runtimeoptions.v1.Options`), as
//! containerd sends them to every shim that is not runc's: CRI passes a
//! runtime's `options` table as TOML in `config_body` (or names a file in
//! `ConfigPath`), and `ctr run --runtime-config-path FILE` names a file.
//! Only runc's typed options (`containerd.runc.v1.Options`) carried
//! `SystemdCgroup` before, and containerd's clients send those for
//! `io.containerd.runc.v2` alone; so a host with the systemd cgroup driver
//! could not ask the rcrun shim for it. The file and the body use runc's
//! option names, so the same `SystemdCgroup = true` line works for both
//! shims.

use containerd_shim_protos::protobuf::rt::WireType;
use containerd_shim_protos::protobuf::CodedInputStream;
use containerd_shim_protos::shim::oci::Options;
use serde::Deserialize;

pub const TYPE_URL_SUFFIX: &str = "runtimeoptions.v1.Options";

/// The runc option names the rcrun shim honours; others are ignored, as
/// runc's shim ignores names it does not know.
#[derive(Debug, Default, Deserialize)]
struct RuncNames {
    #[serde(rename = "SystemdCgroup")]
    systemd_cgroup: Option<bool>,
    #[serde(rename = "Root")]
    root: Option<String>,
    #[serde(rename = "NoPivotRoot")]
    no_pivot_root: Option<bool>,
    #[serde(rename = "NoNewKeyring")]
    no_new_keyring: Option<bool>,
}

/// `runtimeoptions.v1.Options`: type_url = 1, config_path = 2,
/// config_body = 3 (bytes since containerd 1.7).
#[derive(Debug, Default, PartialEq)]
struct Wire {
    config_path: String,
    config_body: Vec<u8>,
}

fn decode(bytes: &[u8]) -> Result<Wire, String> {
    let mut w = Wire::default();
    let mut is = CodedInputStream::from_bytes(bytes);
    while let Some(tag) = is.read_raw_tag_or_eof().map_err(|e| e.to_string())? {
        match tag >> 3 {
            2 => w.config_path = is.read_string().map_err(|e| e.to_string())?,
            3 => w.config_body = is.read_bytes().map_err(|e| e.to_string())?,
            _ => {
                let wt =
                    WireType::new(tag & 7).ok_or_else(|| format!("bad wire type in tag {tag}"))?;
                is.skip_field(wt).map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(w)
}

/// The runc options that a `runtimeoptions.v1.Options` message asks for:
/// the file at ConfigPath when set, else the TOML in config_body. An error
/// names the field (and the file) and why.
pub fn to_runc(bytes: &[u8]) -> Result<Options, String> {
    let w = decode(bytes).map_err(|e| format!("options ({TYPE_URL_SUFFIX}): {e}"))?;
    let (what, text) = if !w.config_path.is_empty() {
        let t = std::fs::read_to_string(&w.config_path)
            .map_err(|e| format!("options.ConfigPath {}: {e}", w.config_path))?;
        (format!("options.ConfigPath {}", w.config_path), t)
    } else {
        let t = String::from_utf8(w.config_body)
            .map_err(|_| "options.ConfigBody: not UTF-8 text".to_string())?;
        ("options.ConfigBody".to_string(), t)
    };
    let n: RuncNames = toml::from_str(&text).map_err(|e| {
        let first = e
            .message()
            .lines()
            .next()
            .unwrap_or("invalid TOML")
            .to_string();
        format!("{what}: {first}")
    })?;
    Ok(Options {
        systemd_cgroup: n.systemd_cgroup.unwrap_or(false),
        root: n.root.unwrap_or_default(),
        no_pivot_root: n.no_pivot_root.unwrap_or(false),
        no_new_keyring: n.no_new_keyring.unwrap_or(false),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use containerd_shim_protos::protobuf::CodedOutputStream;

    fn encode(path: &str, body: &str) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut os = CodedOutputStream::vec(&mut out);
            os.write_string(1, "io.containerd.rcrun.v1.Config").unwrap();
            if !path.is_empty() {
                os.write_string(2, path).unwrap();
            }
            if !body.is_empty() {
                os.write_bytes(3, body.as_bytes()).unwrap();
            }
            os.flush().unwrap();
        }
        out
    }

    #[test]
    fn body_as_cri_sends_it() {
        let o = to_runc(&encode("", "SystemdCgroup = true\nBinaryName = \"x\"\n")).unwrap();
        assert!(o.systemd_cgroup);
        assert!(o.root.is_empty());
    }

    #[test]
    fn path_wins_over_body() {
        let dir = std::env::temp_dir().join(format!("rcrun-rtopts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("shim.toml");
        std::fs::write(&f, "SystemdCgroup = true\nRoot = \"/run/x\"\n").unwrap();
        let o = to_runc(&encode(f.to_str().unwrap(), "SystemdCgroup = false")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(o.systemd_cgroup);
        assert_eq!(o.root, "/run/x");
    }

    #[test]
    fn empty_means_defaults() {
        let o = to_runc(&[]).unwrap();
        assert!(!o.systemd_cgroup);
    }

    #[test]
    fn errors_name_the_field() {
        let e = to_runc(&encode("/nonexistent/rcrun.toml", "")).unwrap_err();
        assert!(
            e.starts_with("options.ConfigPath /nonexistent/rcrun.toml: "),
            "{e}"
        );
        let e = to_runc(&encode("", "SystemdCgroup = 1")).unwrap_err();
        assert!(e.starts_with("options.ConfigBody: "), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }
}
