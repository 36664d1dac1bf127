//! config_fuzz's mutations of a config.json (process.env, process.args,
//! process.user, hooks) and what each makes of the input: invalid by
//! construction (refused, naming the field and the value), or allowed to
//! fail.

use serde_json::{json, Value};

use super::common::Rng;

/// Placeholders replaced in the serialized config by JSON text serde_json
/// never writes: a lone surrogate escape, a raw byte that is not UTF-8.
pub const SURROGATE: &str = "\u{E000}S\u{E000}";
pub const RAW_FF: &str = "\u{E000}F\u{E000}";

pub fn replace_all(data: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if data[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(data[i]);
            i += 1;
        }
    }
    out
}

pub fn to_bytes(v: &Value) -> Vec<u8> {
    let s = serde_json::to_vec(v).unwrap_or_default();
    let s = replace_all(&s, SURROGATE.as_bytes(), b"\\ud800");
    replace_all(&s, RAW_FF.as_bytes(), b"\xff")
}

/// What the run must do with the input.
#[derive(Default)]
pub struct Expect {
    /// Invalid by construction: refused, the line containing one of these
    /// pairs (the field, and the value's marker when it has one).
    pub reject: Vec<(&'static str, String)>,
    /// A failure is acceptable (hooks that fail, E2BIG at execve, ...).
    pub may_fail: bool,
}

impl Expect {
    pub fn reject(&mut self, field: &'static str, marker: &str) {
        self.reject.push((field, marker.to_string()));
    }
}

pub fn mutate_env(rng: &mut Rng, c: &mut Value, m: &str, ex: &mut Expect) {
    let huge = "x".repeat(200_000);
    let entry = match rng.below(15) {
        0 => {
            ex.reject("process.env", m);
            format!("{m}\u{0}X=1")
        }
        1 => {
            ex.reject("process.env", m);
            format!("{m}=a\u{0}b")
        }
        2 => {
            ex.reject("process.env", m);
            format!("={m}")
        }
        3 => {
            ex.reject("process.env", "");
            "=".to_string()
        }
        4 => {
            ex.reject("process.env", m);
            m.to_string()
        }
        5 => {
            // fine for create; E2BIG at execve
            ex.may_fail = true;
            format!("{m}={huge}")
        }
        6 => {
            ex.reject("line", "column");
            format!("{m}={SURROGATE}")
        }
        7 => {
            ex.reject("line", "column");
            format!("{m}={RAW_FF}")
        }
        8 => format!("{m}=\u{fffd}\u{e9}\u{2713}"),
        9 => format!("{m}= spaces and = signs="),
        10 => {
            if let Some(env) = c["process"]["env"].as_array_mut() {
                env.extend((0..3000).map(|i| json!(format!("V{i}=x"))));
            }
            format!("{m}=many")
        }
        11 => format!("{m}\u{1}=control"),
        12 => {
            if let Some(env) = c["process"]["env"].as_array_mut() {
                env.push(json!(format!("{m}=1")));
            }
            format!("{m}=2")
        }
        13 => {
            // args[0] is then not found: a legitimate refusal
            ex.may_fail = true;
            "PATH=".to_string()
        }
        _ => format!(" {m}=leading space"),
    };
    if !c["process"]["env"].is_array() {
        c["process"]["env"] = json!([]);
    }
    if let Some(env) = c["process"]["env"].as_array_mut() {
        let at = rng.below(env.len() + 1);
        env.insert(at, json!(entry));
    }
}

pub fn mutate_args(rng: &mut Rng, c: &mut Value, m: &str, ex: &mut Expect) {
    // (empty after an earlier mutation: already invalid, left so)
    let Some(args) = c["process"]["args"]
        .as_array_mut()
        .filter(|a| !a.is_empty())
    else {
        return;
    };
    match rng.below(9) {
        0 => {
            ex.reject("process.args", m);
            args.push(json!(format!("{m}\u{0}")));
        }
        1 => {
            ex.reject("process.args", m);
            args.insert(1, json!(format!("a\u{0}{m}")));
        }
        2 => {
            ex.reject("process.args", m);
            args[0] = json!(format!("{}\u{0}{m}", args[0].as_str().unwrap_or("")));
        }
        3 => args.push(json!("")),
        4 => args.insert(1, json!("")),
        5 => {
            ex.may_fail = true; // E2BIG at execve
            args.push(json!("y".repeat(200_000)));
        }
        6 => {
            ex.reject("line", "column");
            args.push(json!(format!("{m}{SURROGATE}")));
        }
        7 => {
            ex.reject("process.args", "");
            args.clear();
        }
        _ => {
            ex.reject("process.args", "");
            args.clear();
            args.push(json!(""));
        }
    }
}

pub fn mutate_user(rng: &mut Rng, c: &mut Value, ex: &mut Expect) {
    let field = *rng.pick(&["uid", "gid"]);
    let v: Value = match rng.below(6) {
        0 => {
            ex.reject("process.user", "2147483648");
            json!(2_147_483_648u64)
        }
        1 => {
            ex.reject("process.user", "4294967295");
            json!(4_294_967_295u64)
        }
        2 => {
            ex.reject("process.user", "4294967296");
            json!(4_294_967_296u64)
        }
        3 => {
            ex.reject("process.user", "-1");
            json!(-1)
        }
        4 => json!(2_147_483_647u64),
        _ => json!(65534),
    };
    // a valid id the rootfs does not know is still valid (runc runs it)
    c["process"]["user"][field] = v;
    if rng.chance(30) {
        let g = *rng.pick(&[0u64, 65534, 2_147_483_647, 2_147_483_648, 4_294_967_295]);
        c["process"]["user"]["additionalGids"] = json!([g]);
        if g > 2_147_483_647 {
            ex.reject("process.user.additionalGids", &g.to_string());
        }
    }
}

pub const HOOK_KINDS: &[&str] = &[
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

pub fn mutate_hooks(rng: &mut Rng, c: &mut Value, m: &str, ex: &mut Expect) {
    // Failing hooks may fail the command (not poststop/poststart: warnings);
    // the checks that remain are the universal ones.
    ex.may_fail = true;
    let kind = *rng.pick(HOOK_KINDS);
    let path = match rng.below(8) {
        0..=2 => json!("/bin/true"),
        3 => json!(format!("/nonexistent/{m}")),
        4 => json!(format!("bin/{m}")),
        5 => json!(""),
        6 => json!(format!("/bin/{m}\u{0}true")),
        _ => json!(*rng.pick(&["/bin", "/etc/passwd", "/proc/self/exe/x"])),
    };
    let mut hook = json!({ "path": path });
    match rng.below(6) {
        0 => {}
        1 => hook["args"] = json!([]),
        2 => hook["args"] = json!(["true"]),
        3 => hook["args"] = json!(["true", format!("{m}\u{0}")]),
        4 => hook["args"] = json!([""]),
        _ => hook["args"] = json!(["true", "z".repeat(150_000)]),
    }
    match rng.below(7) {
        0 => {}
        1 => hook["env"] = json!([]),
        2 => hook["env"] = json!(["X=1"]),
        3 => hook["env"] = json!([format!("={m}")]),
        4 => hook["env"] = json!([m]),
        5 => hook["env"] = json!([format!("{m}\u{0}=1")]),
        _ => hook["env"] = json!([format!("{m}=\u{0}")]),
    }
    if rng.chance(50) {
        hook["timeout"] = json!(*rng.pick(&[0i64, -1, 1, 5, i64::MAX, i64::MIN, 2_147_483_648]));
    }
    if !c["hooks"].is_object() {
        c["hooks"] = json!({});
    }
    let list = &mut c["hooks"][kind];
    if !list.is_array() {
        *list = json!([]);
    }
    if let Some(a) = list.as_array_mut() {
        a.push(hook);
    }
}

/// The mutated parts of a config, for the report (long strings cut).
pub fn summary(c: &Value) -> String {
    pub fn cut(v: &Value) -> Value {
        match v {
            Value::String(s) if s.len() > 60 => {
                json!(format!(
                    "{}...<{} bytes>",
                    super::common::prefix(s, 40),
                    s.len()
                ))
            }
            Value::Array(a) if a.len() > 12 => {
                let mut v: Vec<Value> = a[..6].iter().map(cut).collect();
                v.push(json!(format!("...<{} entries>", a.len())));
                Value::Array(v)
            }
            Value::Array(a) => Value::Array(a.iter().map(cut).collect()),
            Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), cut(v))).collect()),
            other => other.clone(),
        }
    }
    let part = json!({
        "process.args": cut(&c["process"]["args"]),
        "process.env": cut(&c["process"]["env"]),
        "process.user": c["process"]["user"],
        "hooks": cut(&c["hooks"]),
    });
    String::from_utf8_lossy(&to_bytes(&part)).replace('\u{fffd}', "\\xff")
}
