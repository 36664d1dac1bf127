//! spec_fuzz's mutations: structural (on the JSON tree) and byte-level.

use serde_json::{json, Value};

use super::common::Rng;
use super::values::{interesting_value, FIELDS};

/// Paths (as index lists) of every node of `v`.
pub fn collect_paths(v: &Value, cur: &mut Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
    out.push(cur.clone());
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                cur.push(PathStep::Key(k.clone()));
                collect_paths(c, cur, out);
                cur.pop();
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                cur.push(PathStep::Index(i));
                collect_paths(c, cur, out);
                cur.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
pub enum PathStep {
    Key(String),
    Index(usize),
}

pub fn node_mut<'a>(v: &'a mut Value, path: &[PathStep]) -> Option<&'a mut Value> {
    let mut cur = v;
    for s in path {
        cur = match (s, cur) {
            (PathStep::Key(k), Value::Object(m)) => m.get_mut(k)?,
            (PathStep::Index(i), Value::Array(a)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

pub fn mutate_tree(rng: &mut Rng, v: &mut Value) {
    let mut paths = Vec::new();
    collect_paths(v, &mut Vec::new(), &mut paths);
    // Half of the time below linux.resources (the densest typed part, and
    // the one cgroups::validate sees only if parsing succeeds), process.env,
    // process.args, process.user or hooks.
    let resources: Vec<&Vec<PathStep>> = paths
        .iter()
        .filter(|p| match p.as_slice() {
            [PathStep::Key(a), PathStep::Key(b), ..] => {
                (a == "linux" && b == "resources")
                    || (a == "process" && matches!(b.as_str(), "env" | "args" | "user"))
                    || a == "hooks"
            }
            _ => false,
        })
        .collect();
    let path = if !resources.is_empty() && rng.chance(50) {
        (*rng.pick(&resources)).clone()
    } else {
        rng.pick(&paths).clone()
    };
    let Some(node) = node_mut(v, &path) else {
        return;
    };
    // Mostly type-preserving, so that the input still parses and reaches
    // the checks behind the parser.
    if rng.chance(80) {
        match node {
            Value::Number(_) => {
                *node = loop {
                    let c = interesting_value(rng);
                    if c.is_number() {
                        break c;
                    }
                };
                return;
            }
            Value::String(_) => {
                *node = loop {
                    let c = interesting_value(rng);
                    if c.is_string() {
                        break c;
                    }
                };
                return;
            }
            _ => {}
        }
    }
    match rng.below(6) {
        // replace the value
        0 | 1 => *node = interesting_value(rng),
        // numbers: nudge across edges
        2 => {
            if let Some(n) = node.as_i64() {
                let d = *rng.pick(&[1i64, -1, 4096, -4096]);
                *node = json!(n.wrapping_add(d));
            } else if let Some(n) = node.as_u64() {
                *node = json!(n.wrapping_add(1));
            } else {
                *node = interesting_value(rng);
            }
        }
        // objects: insert a spec field / delete a key
        3 => match node {
            Value::Object(m) => {
                if rng.chance(50) && !m.is_empty() {
                    let k = m.keys().nth(rng.below(m.len())).cloned();
                    if let Some(k) = k {
                        m.remove(&k);
                    }
                } else {
                    m.insert((*rng.pick(FIELDS)).to_string(), interesting_value(rng));
                }
            }
            _ => *node = interesting_value(rng),
        },
        // arrays: duplicate / drop / append an element
        4 => match node {
            Value::Array(a) => {
                if !a.is_empty() && rng.chance(50) {
                    let i = rng.below(a.len());
                    let e = a[i].clone();
                    if rng.chance(50) {
                        a.push(e);
                    } else {
                        a.remove(i);
                    }
                } else {
                    a.push(interesting_value(rng));
                }
            }
            _ => *node = interesting_value(rng),
        },
        // type confusion: wrap / unwrap
        _ => {
            let old = node.take();
            *node = if rng.chance(50) {
                json!([old])
            } else {
                json!({ "value": old })
            };
        }
    }
}

/// JSON escapes that decode to NUL, lone surrogates (not UTF-8), and raw
/// bytes that are not UTF-8.
pub const ESCAPES: &[&[u8]] = &[
    b"\\u0000",
    b"\\ud800",
    b"\\udfff",
    b"\\ud800\\udc00",
    b"\\uffff",
    b"\xff\xfe",
    b"\xc3",
    b"\xed\xa0\x80",
];

pub fn mutate_bytes(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8]) {
    let n = 1 + rng.below(8);
    for _ in 0..n {
        if data.is_empty() {
            data.push(b'{');
        }
        let i = rng.below(data.len());
        match rng.below(8) {
            0 => data[i] ^= 1 << rng.below(8),
            7 => {
                let esc = rng.pick(ESCAPES);
                data.splice(i..i, esc.iter().copied());
            }
            1 => data[i] = *rng.pick(b"{}[]\",:0123456789-.eE \\/nultrfa\x00\xff"),
            2 => {
                data.remove(i);
            }
            3 => data.insert(i, rng.next() as u8),
            4 => data.truncate(i),
            5 => {
                // splice a chunk of another seed
                if !other.is_empty() {
                    let a = rng.below(other.len());
                    let b = (a + 1 + rng.below(64)).min(other.len());
                    data.splice(i..i, other[a..b].iter().copied());
                }
            }
            _ => {
                let j = rng.below(data.len());
                data.swap(i, j);
            }
        }
    }
}
