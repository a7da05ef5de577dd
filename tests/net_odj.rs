//! OpenStack `network_data.json` to network config v1: cloudboot's
//! `convert_net_json` against cloud-init 22.4's own, on the network corpus
//! (tests/fixtures/net, `odj-*`) and on the cases of tests/fixtures/net-odj
//! (see its README): the same entries, keys in the same order, the same
//! warnings; an error where cloud-init raises, except for the one
//! deliberate fix (a link whose MAC no interface has is left out, and the
//! rest converted as cloud-init converts the input without that link).

mod net_common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use cloudboot::net::input::openstack::{convert_net_json, convert_net_json_ib};
use cloudboot::net::state::NetworkState;

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `name,value` lines as value -> name (`macs`) or name -> value (`ib`).
fn pairs(path: &Path, by_value: bool) -> HashMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(','))
        .map(|(n, v)| {
            if by_value {
                (v.to_string(), n.to_string())
            } else {
                (n.to_string(), v.to_string())
            }
        })
        .collect()
}

/// Compact JSON text: with `preserve_order`, equal text means equal keys
/// in equal order (a `Map`'s `==` ignores order).
fn text(v: &serde_json::Value) -> String {
    serde_json::to_string(v).unwrap()
}

#[test]
fn corpus_odj_cases_equal_cloud_init() {
    let cases: Vec<PathBuf> = net_common::cases()
        .into_iter()
        .filter(|c| net_common::name(c).starts_with("odj-"))
        .collect();
    assert_eq!(cases.len(), 6);
    for case in cases {
        let input = read_json(&case.join("input.json"));
        let (v1, warnings) = convert_net_json(&input, &net_common::macs(&case)).unwrap();
        assert_eq!(
            text(&v1.to_json()),
            text(&read_json(&case.join("v1.json"))),
            "{}",
            case.display()
        );
        assert!(warnings.is_empty(), "{}: {warnings:?}", case.display());
        NetworkState::parse(&v1, &HashMap::new()).unwrap();
    }
}

fn generated() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/net-odj/cases");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

#[test]
fn generated_cases_equal_cloud_init() {
    let cases = generated();
    assert!(cases.len() >= 30, "{}", cases.len());
    let (mut same, mut errors, mut fixed) = (0, 0, 0);
    for case in cases {
        let name = net_common::name(&case);
        let input = read_json(&case.join("input.json"));
        let known = pairs(&case.join("macs"), true);
        let ib = pairs(&case.join("ib"), false);
        let ours = convert_net_json_ib(&input, &known, &ib);
        let want_warnings: Vec<String> = std::fs::read_to_string(case.join("warnings"))
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        if case.join("expected.json").exists() {
            let (v1, warnings) = ours.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                text(&v1.to_json()),
                text(&read_json(&case.join("expected.json"))),
                "{name}"
            );
            assert_eq!(warnings, want_warnings, "{name}");
            same += 1;
        } else if case.join("pruned.json").exists() {
            // The deliberate fix: cloud-init raised; cloudboot converts what
            // cloud-init converts once the missing NIC's link is gone.
            let error = std::fs::read_to_string(case.join("error")).unwrap();
            assert!(
                error.starts_with("ValueError: Unable to find a system nic"),
                "{name}"
            );
            let (v1, warnings) = ours.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                text(&v1.to_json()),
                text(&read_json(&case.join("pruned.json"))),
                "{name}"
            );
            // cloud-init's own warnings, then cloudboot's about what it left out.
            let (theirs, added) = warnings.split_at(want_warnings.len().min(warnings.len()));
            assert_eq!(theirs, want_warnings, "{name}");
            assert!(
                added
                    .iter()
                    .any(|w| w.starts_with("Unable to find a system nic for")),
                "{name}: {warnings:?}"
            );
            fixed += 1;
        } else {
            assert!(case.join("error").exists(), "{name}");
            assert!(
                ours.is_err(),
                "{name}: cloud-init raised, cloudboot gave {ours:?}"
            );
            errors += 1;
        }
    }
    assert!(
        same >= 15 && errors >= 10 && fixed >= 2,
        "{same} {errors} {fixed}"
    );
}

/// The whole chain on the fix: the converted config is usable, and it
/// configures every NIC that is there.
#[test]
fn fixed_config_parses_into_network_state() {
    let case =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/net-odj/cases/unknown-mac");
    let (v1, _) = convert_net_json(
        &read_json(&case.join("input.json")),
        &pairs(&case.join("macs"), true),
    )
    .unwrap();
    let state = NetworkState::parse(&v1, &HashMap::new()).unwrap();
    let names: Vec<String> = state.interfaces.iter().map(|i| i.name()).collect();
    assert_eq!(names, ["eth0", "eth2"]);
    assert_eq!(state.nameservers, ["192.0.2.53"]);
}
