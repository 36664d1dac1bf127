use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use super::*;
use crate::kmsg_oom::OomKill;

fn spec(json: serde_json::Value) -> Spec {
    serde_json::from_value(json).expect("spec")
}

fn bind_spec(src: &str, dest: &str, annotation: Option<&str>) -> Spec {
    let mut j = serde_json::json!({
        "ociVersion": "1.0.2",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": dest, "type": "bind", "source": src,
             "options": ["rbind", "rprivate", "rw"]}
        ]
    });
    if let Some(a) = annotation {
        j["annotations"] = serde_json::json!({ ANNOTATION: a });
    }
    spec(j)
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rcrun-tm-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).expect("mkdir");
    d
}

fn account(init_pid: i32, victim: i32) -> OomAccount {
    OomAccount {
        memcg: "/k8s.io/c1".into(),
        oom_kills: 1,
        init_oom_killed: init_pid == victim,
        oom_cgroup: Some("/k8s.io/c1".into()),
        limit_hit_by_ancestor: false,
        counters: None,
        frozen_at_limit: None,
        kills: vec![OomKill {
            pid: victim,
            command: "memhog".into(),
            oom_memcg: "/k8s.io/c1".into(),
            task_memcg: "/k8s.io/c1".into(),
            usage_kb: Some(65536),
            limit_kb: Some(65536),
            failcnt: Some(12),
            anon_rss_kb: 64000,
            ..Default::default()
        }],
    }
}

#[test]
fn host_file_is_the_bind_at_the_default_or_annotated_path() {
    let s = bind_spec(
        "/var/lib/kubelet/pods/u/containers/c/abcd",
        "/dev/termination-log",
        None,
    );
    assert_eq!(
        host_file(&s).as_deref(),
        Some(Path::new("/var/lib/kubelet/pods/u/containers/c/abcd"))
    );
    let s = bind_spec("/h/f", "/tmp/msg", Some("/tmp/msg/"));
    assert_eq!(host_file(&s).as_deref(), Some(Path::new("/h/f")));
    // annotated path elsewhere: the default mount is not the message file
    let s = bind_spec("/h/f", "/dev/termination-log", Some("/tmp/msg"));
    assert_eq!(host_file(&s), None);
    // not a bind mount, or a relative source
    let s = spec(serde_json::json!({"ociVersion": "1.0.2", "mounts": [
        {"destination": "/dev/termination-log", "type": "tmpfs", "source": "tmpfs"}]}));
    assert_eq!(host_file(&s), None);
    let s = bind_spec("rel/f", "/dev/termination-log", None);
    assert_eq!(host_file(&s), None);
}

#[test]
fn message_names_victim_whose_limit_and_usage_and_fits_the_kubelet() {
    let m = message("c1", 42, &account(42, 42));
    assert!(
        m.contains("victim: host pid 42 (memhog), the container's init process"),
        "{m}"
    );
    assert!(
        m.contains("limit hit: the container's own memory limit"),
        "{m}"
    );
    assert!(
        m.contains("usage: 64.0 MiB of limit 64.0 MiB, failcnt 12"),
        "{m}"
    );
    assert!(m.contains("rcrun oom-report c1"), "{m}");
    let mut a = account(42, 42);
    a.kills[0].command = "é".repeat(5000);
    let m = message("c1", 42, &a);
    assert!(m.len() <= MAX_LEN && !m.is_empty());
}

#[test]
fn writes_an_empty_file_keeps_a_written_one() {
    let d = scratch("write");
    let f = d.join("msg");
    fs::write(&f, "").unwrap();
    let s = bind_spec(f.to_str().unwrap(), DEFAULT_PATH, None);
    assert_eq!(
        write_for_oom(&s, "c1", 42, &account(42, 42)),
        Outcome::Written(f.clone())
    );
    assert!(fs::read_to_string(&f).unwrap().contains("limit hit"));
    // a second time: the file is no longer empty
    assert_eq!(
        write_for_oom(&s, "c1", 42, &account(42, 42)),
        Outcome::NotEmpty
    );
    let g = d.join("own");
    fs::write(&g, "my own message").unwrap();
    let s = bind_spec(g.to_str().unwrap(), DEFAULT_PATH, None);
    assert_eq!(
        write_for_oom(&s, "c1", 42, &account(42, 42)),
        Outcome::NotEmpty
    );
    assert_eq!(fs::read_to_string(&g).unwrap(), "my own message");
    // init not the victim (a child was): nothing
    let h = d.join("child");
    fs::write(&h, "").unwrap();
    let s = bind_spec(h.to_str().unwrap(), DEFAULT_PATH, None);
    assert_eq!(
        write_for_oom(&s, "c1", 42, &account(42, 43)),
        Outcome::NotOomKilled
    );
    assert_eq!(fs::read(&h).unwrap().len(), 0);
    let _ = fs::remove_dir_all(&d);
}

/// What a container that reaches its termination file's host directory
/// (a hostPath volume) can swap in: none makes the runtime write elsewhere.
#[test]
fn attack_swapped_host_file_is_refused_and_target_untouched() {
    let d = scratch("attack");
    let target = d.join("host-secret");
    fs::write(&target, "").unwrap();
    let text = "x";

    // the file replaced by a symlink to a host file
    let link = d.join("msg-link");
    symlink(&target, &link).unwrap();
    assert!(matches!(write_if_empty(&link, text), Outcome::Refused(_)));

    // a directory of the path replaced by a symlink
    fs::create_dir(d.join("real")).unwrap();
    fs::write(d.join("real/msg"), "").unwrap();
    symlink(d.join("real"), d.join("dirlink")).unwrap();
    assert!(matches!(
        write_if_empty(&d.join("dirlink/msg"), text),
        Outcome::Refused(_)
    ));
    assert_eq!(fs::read(d.join("real/msg")).unwrap().len(), 0);

    // a hard link to the host file
    let hard = d.join("msg-hard");
    fs::hard_link(&target, &hard).unwrap();
    assert!(matches!(write_if_empty(&hard, text), Outcome::Refused(_)));

    // a FIFO (no reader: an O_WRONLY open would block or fail) and a
    // directory: refused without being opened for writing
    let fifo = d.join("msg-fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o666)).unwrap();
    assert!(matches!(write_if_empty(&fifo, text), Outcome::Refused(_)));
    assert!(matches!(write_if_empty(&d, text), Outcome::Refused(_)));
    // a character device (its open could act: a watchdog starts on open)
    assert!(matches!(
        write_if_empty(Path::new("/dev/null"), text),
        Outcome::Refused(_)
    ));
    // "..", relative paths
    assert!(matches!(
        write_if_empty(&d.join("real/../real/msg"), text),
        Outcome::Refused(_)
    ));
    assert!(matches!(
        write_if_empty(Path::new("real/msg"), text),
        Outcome::Refused(_)
    ));

    assert_eq!(
        fs::read(&target).unwrap().len(),
        0,
        "the host file was written"
    );
    let _ = fs::remove_dir_all(&d);
}
