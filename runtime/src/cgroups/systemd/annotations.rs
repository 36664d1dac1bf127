//! `org.systemd.property.<Name>` annotations, as runc's `initSystemdProps`
//! reads them: each one is a unit property `Name` whose value is written in
//! GVariant text format (what godbus's `ParseVariant` reads, e.g.
//! `uint64 123`, `'text'`, `true`, `['a', 'b']`). They are sent after
//! rcrun's own properties when the unit starts, so they win.
//!
//! Only the types such properties take are read: booleans, integers (bare:
//! int32; with a type keyword or `@` signature: any width), doubles,
//! strings and arrays of strings. Anything else is refused, naming the
//! annotation, rather than guessed at.

use std::collections::HashMap;

use super::properties::Value;
use crate::error::SpecError;

const PREFIX: &str = "org.systemd.property.";
const USEC_PER_SEC: u64 = 1_000_000;

/// The unit properties the annotations ask for, in key order (the spec's
/// annotations are a map; sorted, the result does not depend on hashing).
pub fn properties(
    annotations: Option<&HashMap<String, String>>,
) -> Result<Vec<(String, Value)>, SpecError> {
    let mut keys: Vec<&String> = annotations
        .into_iter()
        .flat_map(|a| a.keys())
        .filter(|k| k.starts_with(PREFIX))
        .collect();
    keys.sort();
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let text = annotations.and_then(|a| a.get(key)).map_or("", |v| v);
        let bad = |reason: String| {
            SpecError::new(format!("annotations[{key:?}]"), format!("{text:?}"), reason)
        };
        let name = &key[PREFIX.len()..];
        check_name(name).map_err(|r| bad(format!("is refused: the property name {r}")))?;
        let value = parse(text).map_err(|r| bad(format!("is not a value rcrun reads: {r}")))?;
        out.push(sec_to_usec(name, value).map_err(|r| bad(format!("is refused: {r}")))?);
    }
    Ok(out)
}

/// runc's checkPropertyName: ASCII letters only, at least three.
fn check_name(name: &str) -> Result<(), String> {
    if name.len() < 3 {
        return Err(format!("{name:?} is too short (3 letters at least)"));
    }
    if !name.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(format!(
            "{name:?} has a character that is not an ASCII letter"
        ));
    }
    Ok(())
}

/// runc's convertSecToUSec: systemd documents `TimeoutStopSec` but its
/// D-Bus property is `TimeoutStopUSec`. A name ending in a lowercase letter
/// then `Sec` is renamed and its number of seconds made microseconds.
fn sec_to_usec(name: &str, value: Value) -> Result<(String, Value), String> {
    let Some(stem) = name.strip_suffix("Sec") else {
        return Ok((name.to_string(), value));
    };
    if !stem.ends_with(|c: char| c.is_ascii_lowercase()) {
        return Ok((name.to_string(), value));
    }
    let secs = |n: i128| {
        u64::try_from(n)
            .ok()
            .and_then(|n| n.checked_mul(USEC_PER_SEC))
            .ok_or_else(|| format!("{name} must be a number of seconds from 0 to 2^64 µs"))
    };
    let usec = match value {
        Value::U8(n) => secs(n.into())?,
        Value::I16(n) => secs(n.into())?,
        Value::U16(n) => secs(n.into())?,
        Value::I32(n) => secs(n.into())?,
        Value::U32(n) => secs(n.into())?,
        Value::I64(n) => secs(n.into())?,
        Value::U64(n) => secs(n.into())?,
        Value::F64(d) if d >= 0.0 && (d * USEC_PER_SEC as f64) < u64::MAX as f64 => {
            (d * USEC_PER_SEC as f64) as u64
        }
        _ => return Err(format!("{name} must be a number of seconds")),
    };
    Ok((format!("{stem}USec"), Value::U64(usec)))
}

/// One GVariant text value: an optional type (`uint64 `, `@t `), then a
/// literal of that type, then nothing.
pub fn parse(text: &str) -> Result<Value, String> {
    let text = text.trim();
    let (sig, rest) = type_prefix(text)?;
    let mut p = Literal {
        s: rest.trim_start(),
    };
    let v = p.value(sig)?;
    if !p.s.trim().is_empty() {
        return Err(format!("unexpected {:?} after the value", p.s.trim()));
    }
    Ok(v)
}

/// The GVariant type keywords godbus knows, as D-Bus signatures.
const KEYWORDS: &[(&str, &str)] = &[
    ("boolean", "b"),
    ("byte", "y"),
    ("int16", "n"),
    ("uint16", "q"),
    ("int32", "i"),
    ("uint32", "u"),
    ("int64", "x"),
    ("uint64", "t"),
    ("double", "d"),
    ("string", "s"),
];

fn type_prefix(text: &str) -> Result<(Option<&str>, &str), String> {
    if let Some(rest) = text.strip_prefix('@') {
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '[')
            .unwrap_or(rest.len());
        return Ok((Some(&rest[..end]), &rest[end..]));
    }
    let word_end = text
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(text.len());
    let word = &text[..word_end];
    match KEYWORDS.iter().find(|(k, _)| *k == word) {
        Some((_, sig)) => Ok((Some(sig), &text[word_end..])),
        None => Ok((None, text)),
    }
}

struct Literal<'a> {
    s: &'a str,
}

impl Literal<'_> {
    fn value(&mut self, sig: Option<&str>) -> Result<Value, String> {
        let c = self.s.chars().next().ok_or("no value")?;
        match (c, sig) {
            ('\'' | '"', None | Some("s")) => Ok(Value::Str(self.string()?)),
            ('[', None | Some("as")) => self.strings(sig.is_some()),
            (_, None | Some("b")) if self.word_is("true") || self.word_is("false") => {
                let b = self.s.starts_with('t');
                self.s = &self.s[if b { 4 } else { 5 }..];
                Ok(Value::Bool(b))
            }
            ('0'..='9' | '-' | '+' | '.', _) => self.number(sig),
            (_, Some(s)) if !matches!(s, "b" | "s" | "as") => Err(format!(
                "the type {s:?} (rcrun reads booleans, numbers, strings and string arrays)"
            )),
            _ => Err("expected true, false, a number, a quoted string or a list of strings".into()),
        }
    }

    fn word_is(&self, w: &str) -> bool {
        self.s
            .strip_prefix(w)
            .is_some_and(|r| !r.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
    }

    /// A number: up to the next comma, bracket or space.
    fn number(&mut self, sig: Option<&str>) -> Result<Value, String> {
        let end = self
            .s
            .find(|c: char| c.is_whitespace() || c == ',' || c == ']')
            .unwrap_or(self.s.len());
        let tok = &self.s[..end];
        self.s = &self.s[end..];
        let is_float = !tok.starts_with("0x") && tok.contains(['.', 'e', 'E']);
        let sig = sig.unwrap_or(if is_float { "d" } else { "i" });
        let bad = |what: &str| format!("{tok:?} is not {what}");
        if sig == "d" {
            return match tok.parse::<f64>() {
                Ok(d) if d.is_finite() => Ok(Value::F64(d)),
                _ => Err(bad("a double")),
            };
        }
        let n = integer(tok).ok_or_else(|| bad("an integer"))?;
        let fits = |what: &str| format!("{tok:?} does not fit {what}");
        Ok(match sig {
            "y" => Value::U8(n.try_into().map_err(|_| fits("a byte"))?),
            "n" => Value::I16(n.try_into().map_err(|_| fits("an int16"))?),
            "q" => Value::U16(n.try_into().map_err(|_| fits("a uint16"))?),
            "i" => Value::I32(n.try_into().map_err(|_| fits("an int32"))?),
            "u" => Value::U32(n.try_into().map_err(|_| fits("a uint32"))?),
            "x" => Value::I64(n.try_into().map_err(|_| fits("an int64"))?),
            "t" => Value::U64(n.try_into().map_err(|_| fits("a uint64"))?),
            other => return Err(format!("a number where the type {other:?} is asked")),
        })
    }

    /// A quoted string ('...' or "..."), with the common backslash escapes.
    fn string(&mut self) -> Result<String, String> {
        let mut chars = self.s.char_indices();
        let (_, quote) = chars.next().ok_or("no string")?;
        let mut out = String::new();
        while let Some((i, c)) = chars.next() {
            match c {
                c if c == quote => {
                    self.s = &self.s[i + c.len_utf8()..];
                    return Ok(out);
                }
                '\\' => match chars.next().map(|(_, e)| e) {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some(e @ ('\\' | '\'' | '"')) => out.push(e),
                    Some(e) => return Err(format!("the escape \\{e} is not read")),
                    None => break,
                },
                c => out.push(c),
            }
        }
        Err("a string without its closing quote".into())
    }

    /// `[ 'a', "b" ]`; an empty list needs its type (`@as []`), as in
    /// GVariant.
    fn strings(&mut self, typed: bool) -> Result<Value, String> {
        self.s = self.s[1..].trim_start();
        let mut list = Vec::new();
        if let Some(rest) = self.s.strip_prefix(']') {
            self.s = rest;
            return if typed {
                Ok(Value::Strs(list))
            } else {
                Err("an empty list needs its type: @as []".into())
            };
        }
        loop {
            if !self.s.starts_with(['\'', '"']) {
                return Err("a list may only hold quoted strings".into());
            }
            list.push(self.string()?);
            self.s = self.s.trim_start();
            if let Some(rest) = self.s.strip_prefix(',') {
                self.s = rest.trim_start();
            } else if let Some(rest) = self.s.strip_prefix(']') {
                self.s = rest;
                return Ok(Value::Strs(list));
            } else {
                return Err("a list without its closing ]".into());
            }
        }
    }
}

/// A decimal, 0x hexadecimal or 0-prefixed octal integer (godbus's bases).
fn integer(tok: &str) -> Option<i128> {
    let (neg, digits) = match tok.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, tok.strip_prefix('+').unwrap_or(tok)),
    };
    let (radix, digits) = if let Some(h) = digits.strip_prefix("0x") {
        (16, h)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let n = i128::from_str_radix(digits, radix).ok()?;
    Some(if neg { -n } else { n })
}

#[cfg(test)]
#[path = "annotations_tests.rs"]
mod tests;
