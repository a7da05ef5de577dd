//! cloudboot's module registry against cloud-init 22.4's own: every config
//! module 22.4 has is registered under its name, with 22.4's frequency, the
//! distributions 22.4 verified it on (`meta["distros"]`; elsewhere both skip
//! it unless `unverified_modules` names it) and the keys that switch it on
//! (`activate_by_schema_keys`).
//!
//! tests/fixtures/modules/meta/meta_224.json was written by meta_224.py from
//! the installed cloud-init (it imports each cc_*.py, runs nothing).

use std::collections::BTreeMap;

use cloudboot::module::Module;
use serde_json::Value;

fn reference() -> BTreeMap<String, Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/modules/meta/meta_224.json"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    json["modules"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    let mut list: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    list.sort();
    list
}

fn registered(name: &str) -> Option<&'static dyn Module> {
    cloudboot::modules::all()
        .iter()
        .copied()
        .find(|m| m.info().name == name)
}

#[test]
fn every_module_of_cloud_init_22_4_is_registered() {
    let reference = reference();
    assert_eq!(reference.len(), 62, "22.4 has 62 config modules");
    let missing: Vec<&String> = reference
        .keys()
        .filter(|name| registered(name).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "modules of 22.4 cloudboot lacks: {missing:?}"
    );
    let extra: Vec<&str> = cloudboot::modules::all()
        .iter()
        .map(|m| m.info().name)
        .filter(|name| !reference.contains_key(*name))
        .collect();
    assert!(extra.is_empty(), "modules 22.4 does not have: {extra:?}");
    println!(
        "{} of {} modules of cloud-init 22.4 registered",
        reference.len() - missing.len(),
        reference.len()
    );
}

#[test]
fn each_module_runs_as_often_and_where_22_4_runs_it() {
    let mut wrong = Vec::new();
    let mut compared = 0;
    for (name, meta) in reference() {
        let Some(module) = registered(&name) else {
            continue; // reported by every_module_of_cloud_init_22_4_is_registered
        };
        compared += 1;
        let info = module.info();
        if info.frequency.as_str() != meta["frequency"].as_str().unwrap() {
            wrong.push(format!(
                "{name}: frequency {} (22.4: {})",
                info.frequency.as_str(),
                meta["frequency"]
            ));
        }
        let mut ours: Vec<String> = module.distros().iter().map(|d| d.to_string()).collect();
        if ours.is_empty() {
            ours.push("all".into());
        }
        ours.sort();
        if ours != strings(&meta["distros"]) {
            wrong.push(format!(
                "{name}: distros {ours:?} (22.4: {})",
                meta["distros"]
            ));
        }
        let mut keys: Vec<String> = info.activate_by.iter().map(|k| k.to_string()).collect();
        keys.sort();
        if keys != strings(&meta["activate_by_schema_keys"]) {
            wrong.push(format!(
                "{name}: switched on by {keys:?} (22.4: {})",
                meta["activate_by_schema_keys"]
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "differs from 22.4's meta:\n{}",
        wrong.join("\n")
    );
    println!("{compared} modules: frequency, distros and activation keys as 22.4's meta");
}
