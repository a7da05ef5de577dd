//! `yaml::dump_cloud_config` writes what cloud-init's `safeyaml.dumps` writes.
//!
//! Each `tests/fixtures/yaml-dump/NN-name.json` is a value and the
//! `.expected` beside it is PyYAML's output for it, both made by the
//! committed `generate.py` (run it with /usr/bin/python3 to remake them).

use std::path::Path;

use cloudboot::value::Value;
use cloudboot::yaml;

#[test]
fn dumps_match_pyyaml_byte_for_byte() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/yaml-dump");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 20, "fixtures missing in {}", dir.display());
    let mut failures = Vec::new();
    for json_path in &cases {
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(json_path).unwrap()).unwrap();
        let expected = std::fs::read_to_string(json_path.with_extension("expected")).unwrap();
        let got = yaml::dump_cloud_config(&Value::from_json(&json));
        if got != expected {
            failures.push(format!(
                "{}:\n--- PyYAML\n{expected}\n--- cloudboot\n{got}",
                json_path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn dumps_read_back_to_the_same_value() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/yaml-dump");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let value = Value::from_json(&json);
        let text = yaml::dump_cloud_config(&value);
        let back = yaml::load(text.as_bytes(), "dump").unwrap();
        // NaN is not equal to itself; compare the JSON forms.
        assert_eq!(
            back.to_json(),
            normalise_timestamps(value).to_json(),
            "{}",
            path.display()
        );
    }
}

/// The dumper writes a timestamp as Python's `str()` of it, so what reads
/// back is that text, not the text we started from.
fn normalise_timestamps(v: Value) -> Value {
    match v {
        Value::Timestamp(t) => Value::Timestamp(Value::Timestamp(t).python_str()),
        Value::Seq(items) => Value::Seq(items.into_iter().map(normalise_timestamps).collect()),
        Value::Map(m) => Value::Map(
            m.iter()
                .map(|(k, v)| (k.clone(), normalise_timestamps(v.clone())))
                .collect(),
        ),
        other => other,
    }
}
