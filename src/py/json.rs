//! JSON text as Python's `json.dumps(obj, indent=N, sort_keys=True)` writes it,
//! so the state files cloudboot writes (`status.json`, `result.json`,
//! `instance-data.json`) are byte-for-byte what cloud-init would write:
//! non-ASCII escaped as `\uXXXX`, floats in Python's repr, `", "`/`": "`.

use serde_json::Value;

use crate::value::python_float_repr;

/// `json.dumps(v, indent=indent, sort_keys=True)`.
pub fn dumps(v: &Value, indent: usize) -> String {
    let mut out = String::new();
    write(v, indent, 0, &mut out);
    out
}

fn write(v: &Value, indent: usize, level: usize, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => out.push_str(&i.to_string()),
            (_, Some(u), _) => out.push_str(&u.to_string()),
            (_, _, Some(f)) => out.push_str(&python_float_repr(f)),
            _ => out.push_str("null"),
        },
        Value::String(s) => write_str(s, out),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(indent, level + 1, out);
                write(item, indent, level + 1, out);
            }
            newline(indent, level, out);
            out.push(']');
        }
        // An integer past 64 bits, in `value::Value::to_json`'s form.
        Value::Object(map) if big_int_digits(map).is_some() => {
            out.push_str(big_int_digits(map).unwrap_or_default())
        }
        Value::Object(map) => {
            if map.is_empty() {
                out.push_str("{}");
                return;
            }
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(indent, level + 1, out);
                write_str(k, out);
                out.push_str(": ");
                write(&map[*k], indent, level + 1, out);
            }
            newline(indent, level, out);
            out.push('}');
        }
    }
}

/// The digits of a `{"$int": "<digits>"}` object, which Python's
/// json.dumps writes as a plain number.
fn big_int_digits(map: &serde_json::Map<String, Value>) -> Option<&str> {
    match (map.len(), map.get("$int")) {
        (1, Some(Value::String(d))) if crate::value::Value::integer(d).is_some() => Some(d),
        _ => None,
    }
}

fn newline(indent: usize, level: usize, out: &mut String) {
    out.push('\n');
    out.extend(std::iter::repeat_n(' ', indent * level));
}

fn write_str(s: &str, out: &mut String) {
    out.push('"');
    // Runs of printable ASCII other than the two escaped ones are copied
    // whole (status.json is mostly that); the rest char by char.
    let plain = |b: u8| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\';
    let mut rest = s;
    while !rest.is_empty() {
        let run = rest.bytes().take_while(|&b| plain(b)).count();
        out.push_str(&rest[..run]);
        rest = &rest[run..];
        let Some(c) = rest.chars().next() else {
            break;
        };
        rest = &rest[c.len_utf8()..];
        write_char(c, out);
    }
    out.push('"');
}

/// One character as Python's json.dumps (ensure_ascii) writes it.
fn write_char(c: char, out: &mut String) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_big_integers_as_python_does() {
        let v = crate::value::Value::integer("-340282366920938463463374607431768211456").unwrap();
        assert_eq!(
            dumps(&json!({"a": v.to_json(), "b": [{"$int": "x"}]}), 0),
            "{\n\"a\": -340282366920938463463374607431768211456,\n\"b\": [\n{\n\"$int\": \"x\"\n}\n]\n}"
        );
    }

    #[test]
    fn strings_are_escaped_as_python_does() {
        // python3 -c 'import json; print(json.dumps("plain \"q\" back\\slash\nnl\ttab\x01ctl é 😀 ~\x7f end"))'
        let mut out = String::new();
        write_str(
            "plain \"q\" back\\slash\nnl\ttab\x01ctl é 😀 ~\x7f end",
            &mut out,
        );
        assert_eq!(
            out,
            r#""plain \"q\" back\\slash\nnl\ttab\u0001ctl \u00e9 \ud83d\ude00 ~\u007f end""#
        );
    }

    #[test]
    fn matches_python_output() {
        // python3 -c 'import json; print(json.dumps({"v1": {"b": [], "a": [1, "é"], "f": 1.5, "n": None}}, indent=1, sort_keys=True))'
        let v = json!({"v1": {"b": [], "a": [1, "é"], "f": 1.5, "n": null}});
        assert_eq!(
            dumps(&v, 1),
            "{\n \"v1\": {\n  \"a\": [\n   1,\n   \"\\u00e9\"\n  ],\n  \"b\": [],\n  \"f\": 1.5,\n  \"n\": null\n }\n}"
        );
    }
}
