//! The network model against cloud-init 22.4's own `network_state`, for
//! every case of the corpus (tests/fixtures/net, made by generate.py).

use std::collections::HashMap;
use std::path::Path;

use cloudboot::net::state::NetworkState;
use cloudboot::value::Value;

fn cases() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/net/cases");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

/// Key order matters (renderers walk it), so compare as ordered pairs.
fn ordered(j: &serde_json::Value) -> String {
    match j {
        serde_json::Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{k:?}: {}", ordered(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        serde_json::Value::Array(a) => {
            format!("[{}]", a.iter().map(ordered).collect::<Vec<_>>().join(", "))
        }
        other => other.to_string(),
    }
}

#[test]
fn network_state_matches_cloud_init() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in cases() {
        let kind = std::fs::read_to_string(case.join("kind")).unwrap();
        // Converted inputs are checked from cloud-init's v1 until our own
        // converters are compared too (tests/net_convert_parity.rs).
        let input = match kind.trim() {
            "yaml" => {
                cloudboot::yaml::load(&std::fs::read(case.join("input.yaml")).unwrap(), "input")
                    .unwrap()
            }
            _ => Value::from_json(
                &serde_json::from_slice(&std::fs::read(case.join("v1.json")).unwrap()).unwrap(),
            ),
        };
        let st = NetworkState::parse(&input, &HashMap::new()).unwrap();
        let expected: serde_json::Value =
            serde_json::from_slice(&std::fs::read(case.join("state.json")).unwrap()).unwrap();
        let (ours, theirs) = (ordered(&st.to_json()), ordered(&expected));
        if ours != theirs {
            failures.push(format!(
                "{}:\n  ours:   {ours}\n  theirs: {theirs}",
                case.display()
            ));
        }
        checked += 1;
    }
    assert!(checked >= 36, "only {checked} cases");
    assert!(
        failures.is_empty(),
        "{} of {checked} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
