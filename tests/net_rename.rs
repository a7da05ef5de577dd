//! Interface renaming: cloudboot's plan against the commands cloud-init
//! 22.4's own `_rename_interfaces` runs (recorded, not run) and the error it
//! raises, on the cases of tests/fixtures/net-rename (hand-written, then
//! random ones from a fixed seed; see its generate.py).

use std::path::Path;

use cloudboot::net::input::rename::{plan_renames, CurrentNic, Physdev};
use serde_json::Value as J;

fn opt(v: &J) -> Option<String> {
    v.as_str().map(String::from)
}

#[test]
fn plans_equal_cloud_init() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/net-rename/cases.json");
    let cases: Vec<J> = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert!(cases.len() >= 70);
    let mut with_steps = 0;
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let current: Vec<CurrentNic> = case["current"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| CurrentNic {
                name: c["name"].as_str().unwrap().into(),
                mac: c["mac"].as_str().unwrap().into(),
                driver: opt(&c["driver"]),
                device_id: opt(&c["device_id"]),
                up: c["up"].as_bool().unwrap(),
                downable: c["downable"].as_bool().unwrap(),
            })
            .collect();
        // A MAC cloud-init gets as None comes as "" here (extract_physdevs
        // never yields one: it skips entries without a MAC).
        let renames: Vec<Physdev> = case["renames"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| Physdev {
                mac: r[0].as_str().unwrap_or_default().into(),
                name: r[1].as_str().unwrap().into(),
                driver: opt(&r[2]),
                device_id: opt(&r[3]),
            })
            .collect();
        let plan = plan_renames(&renames, &current);
        let argv: Vec<Vec<String>> = plan.steps.iter().map(|s| s.argv()).collect();
        let want: Vec<Vec<String>> = serde_json::from_value(case["commands"].clone()).unwrap();
        assert_eq!(argv, want, "{name}");
        with_steps += usize::from(!argv.is_empty());
        let error = (!plan.errors.is_empty()).then(|| plan.errors.join("\n"));
        match (error, case["error"].as_str()) {
            (None, None) => {}
            // cloud-init prints its dicts' keys in the order it built them.
            (Some(ours), Some(theirs)) if theirs.starts_with("Failed to match") => {
                let cut = |s: &str| s.split(" Matched").next().unwrap().to_string();
                assert_eq!(cut(&ours), cut(theirs), "{name}");
                assert!(
                    ours.ends_with(theirs.rsplit(" with ").next().unwrap()),
                    "{name}"
                );
            }
            (Some(ours), Some(theirs)) => {
                assert_eq!(ours, theirs.replace("mac=None ", "mac= "), "{name}")
            }
            (ours, theirs) => panic!("{name}: cloudboot {ours:?}, cloud-init {theirs:?}"),
        }
    }
    assert!(with_steps >= 30, "{with_steps}");
}
