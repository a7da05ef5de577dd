//! `cloudboot devel ...`: tools for people working on cloudboot itself.
//!
//! `devel parse-yaml FILE` prints what cloudboot's YAML loader makes of a
//! file, as one line of JSON, so it can be compared with PyYAML's
//! `yaml.safe_load` (see `tests/fixtures/yaml/generate.py`). JSON cannot say
//! everything YAML can, so: bytes are `{"$binary": "<base64>"}`, NaN and the
//! infinities `{"$float": "nan"}`, timestamps `{"$timestamp": "<as written>"}`,
//! a non-string key is its own JSON text (`1` → `"1"`, `true` → `"true"`),
//! `!!set` a mapping to null, `!!omap`/`!!pairs` a list of `[key, value]`.
//! Integers of any size are written as their digits, as Python's
//! `json.dumps` writes them.

use std::io::Read;
use std::path::Path;

use crate::value::Value;
use crate::yaml;

/// Loads `path` (`-` for standard input) and prints it; the exit code is 0,
/// or 1 (with the error, line and column on standard error) if the document
/// is one PyYAML refuses, or cannot be read.
pub fn parse_yaml(path: &Path) -> i32 {
    let (bytes, name) = if path == Path::new("-") {
        let mut buf = Vec::new();
        if let Err(e) = std::io::stdin().read_to_end(&mut buf) {
            eprintln!("cloudboot devel parse-yaml: <stdin>: {e}");
            return 1;
        }
        (buf, "<stdin>".to_string())
    } else {
        match std::fs::read(path) {
            Ok(b) => (b, path.display().to_string()),
            Err(e) => {
                eprintln!("cloudboot devel parse-yaml: {}: {e}", path.display());
                return 1;
            }
        }
    };
    match yaml::load(&bytes, &name) {
        Ok(value) => {
            println!("{}", json_text(&value));
            0
        }
        Err(e) => {
            eprintln!("cloudboot devel parse-yaml: {e}");
            1
        }
    }
}

/// Compact JSON of a value with [`Value::to_json`]'s conventions, except
/// that an integer past 64 bits is a JSON number (its exact digits), which
/// serde_json's own numbers cannot hold.
fn json_text(v: &Value) -> String {
    let mut out = String::new();
    write_json(v, &mut out);
    out
}

fn write_json(v: &Value, out: &mut String) {
    match v {
        Value::BigInt(b) => out.push_str(b.as_str()),
        Value::Seq(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let key = match k {
                    Value::Str(s) => s.clone(),
                    other => json_text(other),
                };
                out.push_str(&serde_json::Value::String(key).to_string());
                out.push(':');
                write_json(item, out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_json().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_integers_are_json_numbers_in_values_and_keys() {
        let v = yaml::load(
            b"a: [18446744073709551616, -9223372036854775809]\n36893488147419103232: x\n\"q\\\"\": 1.5\n",
            "t",
        )
        .unwrap();
        assert_eq!(
            json_text(&v),
            r#"{"a":[18446744073709551616,-9223372036854775809],"36893488147419103232":"x","q\"":1.5}"#
        );
    }
}
