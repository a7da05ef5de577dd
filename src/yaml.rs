//! YAML in and out.
//!
//! Reading: every YAML document cloudboot reads (cloud.cfg, cloud-config,
//! meta-data, stages.yaml) goes through [`load`], so the YAML 1.1 loader of the
//! user-data issue replaces exactly this function. Until then it sits on
//! serde_yaml, which resolves YAML 1.2: `yes` stays a string and `0644` is
//! decimal there, where PyYAML (and so cloud-init) reads `True` and 420.
//!
//! Writing: [`dump_flow`] writes a value as flow-style YAML (JSON-like, with
//! `!!binary` for bytes). Both PyYAML and we read it back to the same value.

use crate::base64;
use crate::value::{python_float_repr, Mapping, Value};

/// A document that could not be read, with what a person needs to find the fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{source_name}{}: {message}", location(*line, *column))]
pub struct YamlError {
    pub source_name: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(", line {l}, column {c}"),
        (Some(l), None) => format!(", line {l}"),
        _ => String::new(),
    }
}

/// Loads one YAML document. An empty document is `Null`, as with `yaml.safe_load`.
pub fn load(text: &[u8], source_name: &str) -> Result<Value, YamlError> {
    let text = std::str::from_utf8(text).map_err(|e| YamlError {
        source_name: source_name.to_string(),
        line: None,
        column: None,
        message: format!("not UTF-8 text: {e}"),
    })?;
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    let raw: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| {
        let loc = e.location();
        YamlError {
            source_name: source_name.to_string(),
            line: loc.as_ref().map(|l| l.line()),
            column: loc.as_ref().map(|l| l.column()),
            message: strip_location(&e.to_string()),
        }
    })?;
    Ok(convert(raw))
}

/// serde_yaml appends " at line L column C"; we report the location ourselves.
fn strip_location(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

fn convert(v: serde_yaml::Value) -> Value {
    use serde_yaml::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else {
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Y::String(s) => Value::Str(s),
        Y::Sequence(items) => Value::Seq(items.into_iter().map(convert).collect()),
        Y::Mapping(m) => Value::Map(
            m.into_iter()
                .map(|(k, v)| (convert(k), convert(v)))
                .collect::<Mapping>(),
        ),
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let inner = convert(tagged.value);
            match (tag.trim_start_matches('!'), &inner) {
                ("binary", Value::Str(s)) => match base64::decode(s.as_bytes()) {
                    Ok(bytes) => Value::Bytes(bytes),
                    Err(_) => inner,
                },
                _ => inner,
            }
        }
    }
}

/// Writes `value` as one line of flow-style YAML.
pub fn dump_flow(value: &Value) -> String {
    let mut out = String::new();
    write_flow(value, &mut out);
    out
}

fn write_flow(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) if f.is_nan() => out.push_str(".nan"),
        Value::Float(f) if f.is_infinite() => out.push_str(if *f > 0.0 { ".inf" } else { "-.inf" }),
        Value::Float(f) => out.push_str(&python_float_repr(*f)),
        Value::Str(s) => out.push_str(&serde_json::Value::String(s.clone()).to_string()),
        Value::Bytes(b) => {
            out.push_str("!!binary \"");
            out.push_str(&base64::encode(b));
            out.push('"');
        }
        Value::Seq(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_flow(item, out);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_flow(k, out);
                out.push_str(": ");
                write_flow(v, out);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_names_file_and_line() {
        let err = load(b"a: 1\nb: [unclosed\n", "/etc/cloud/cloud.cfg").unwrap_err();
        assert_eq!(err.source_name, "/etc/cloud/cloud.cfg");
        assert!(err.line.is_some(), "{err}");
        assert!(
            err.to_string().starts_with("/etc/cloud/cloud.cfg, line"),
            "{err}"
        );
    }

    #[test]
    fn flow_dump_reads_back() {
        let v = load(
            b"write_files:\n- path: /x\n  content: \"a\\nb\"\n  n: 3\nflag: true\nnothing: null\n",
            "t",
        )
        .unwrap();
        // Bytes are written as `!!binary`, which serde_yaml drops on reading
        // (the YAML 1.1 loader of the user-data issue reads them back).
        let text = dump_flow(&v);
        assert_eq!(load(text.as_bytes(), "t").unwrap(), v);
        assert_eq!(
            dump_flow(&Value::Bytes(vec![0, 1, 254])),
            "!!binary \"AAH+\""
        );
    }
}
