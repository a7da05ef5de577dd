//! Parity with cloud-init's merging: every case in
//! `tests/fixtures/merge/cases.json` was run through the real cloud-init code
//! by `generate.py` (see the README there); here the same inputs go through
//! `cloudboot::merge` and must give the same result, key order included.

use std::path::Path;

use cloudboot::merge::{self, Mergers, PartMerger};
use cloudboot::rootfs::{RealFs, Root};
use cloudboot::value::{Mapping, Value};
use serde_json::Value as J;

const CASES: &str = include_str!("fixtures/merge/cases.json");

/// The fixture encoding (see generate.py): dicts as ordered pairs, floats
/// and bytes tagged.
fn dec(j: &J) -> Value {
    match j {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => Value::Int(n.as_i64().expect("integer")),
        J::String(s) => Value::Str(s.clone()),
        J::Array(items) => Value::Seq(items.iter().map(dec).collect()),
        J::Object(o) => {
            if let Some(J::Array(pairs)) = o.get("dict") {
                let mut m = Mapping::new();
                for p in pairs {
                    m.insert(dec(&p[0]), dec(&p[1]));
                }
                Value::Map(m)
            } else if let Some(J::String(f)) = o.get("float") {
                Value::Float(f.parse().expect("float repr"))
            } else if let Some(J::String(b)) = o.get("bytes") {
                Value::Bytes(cloudboot::base64::decode(b.as_bytes()).expect("base64"))
            } else {
                panic!("unknown encoding {j}")
            }
        }
    }
}

fn headers(j: &J) -> Vec<(String, String)> {
    j.as_array()
        .map(|hs| {
            hs.iter()
                .map(|h| (h[0].as_str().unwrap().into(), h[1].as_str().unwrap().into()))
                .collect()
        })
        .unwrap_or_default()
}

/// The part handler over the case's parts, payloads loaded as cloudboot
/// loads them (an empty or unreadable part is `Null`, as `util.load_yaml`
/// gives `None`).
fn run_parts(parts: &J) -> PartMerger {
    let mut pm = PartMerger::new();
    for p in parts.as_array().unwrap() {
        let payload = p["payload"].as_str().unwrap();
        let v = cloudboot::yaml::load(payload.as_bytes(), "part").unwrap_or(Value::Null);
        let _ = pm.add(p["filename"].as_str().unwrap(), v, &headers(&p["headers"]));
    }
    pm
}

/// Checks an `{"ok": value}` / `{"error": ..., "phase": ...}` expectation.
/// Merge-time errors must match cloud-init's exception text exactly; parse
/// errors only need to be errors (our messages name the bad token instead).
fn check(id: &str, expect: &J, got: Result<Value, String>) -> Result<(), String> {
    match (expect.get("ok"), got) {
        (Some(want), Ok(got)) => {
            let want = dec(want);
            if want == got {
                Ok(())
            } else {
                Err(format!(
                    "{id}: got {}\n   want {}",
                    got.to_json(),
                    want.to_json()
                ))
            }
        }
        (Some(_), Err(e)) => Err(format!("{id}: unexpected error {e}")),
        (None, Ok(got)) => Err(format!(
            "{id}: cloud-init raised {} but we gave {}",
            expect["error"],
            got.to_json()
        )),
        (None, Err(e)) => {
            let want = expect["error"].as_str().unwrap();
            if expect["phase"] == "merge" && !want.starts_with("ImportError") && want != e {
                // mergemanydict prefixes the source position.
                if !e.ends_with(want) {
                    return Err(format!("{id}: error {e:?}, cloud-init {want:?}"));
                }
            }
            Ok(())
        }
    }
}

fn run_case(c: &J) -> Result<(), String> {
    let id = c["id"].as_str().unwrap();
    let expect = &c["expect"];
    match c["kind"].as_str().unwrap() {
        "merge" => {
            let got = Mergers::parse(&dec(&c["spec"]))
                .and_then(|how| merge::try_merge(&dec(&c["base"]), &dec(&c["new"]), &how))
                .map_err(|e| e.to_string());
            check(id, expect, got)
        }
        "parse" => {
            let got = Mergers::parse(&dec(&c["spec"]))
                .map(|m| Value::Seq(m.describe().into_iter().map(Value::Str).collect()))
                .map_err(|e| e.to_string());
            check(id, expect, got)
        }
        "many" => {
            let sources = match dec(&c["sources"]) {
                Value::Seq(s) => s,
                other => panic!("{id}: sources {other:?}"),
            };
            let got = merge::try_merge_many(&sources, c["reverse"].as_bool().unwrap())
                .map_err(|e| e.to_string());
            check(id, expect, got)
        }
        "parts" => {
            let pm = run_parts(&c["parts"]);
            let want_files: Vec<String> = expect["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap().to_string())
                .collect();
            if pm.files() != want_files.as_slice() {
                return Err(format!("{id}: files {:?}, want {want_files:?}", pm.files()));
            }
            let want = dec(&expect["buf"]);
            match pm.merged() {
                Some(got) if *got == want => Ok(()),
                got => Err(format!("{id}: buffer {got:?}, want {}", want.to_json())),
            }
        }
        "chain" => {
            let pm = run_parts(&c["parts"]);
            // cloud-config.txt as written and read back, then ConfigMerger.
            let cc = pm.written().unwrap_or_else(Value::empty_map);
            let mut sources = vec![cc];
            if let Value::Seq(lower) = dec(&c["lower"]) {
                sources.extend(lower);
            }
            check(id, expect, Ok(merge::merge_many(&sources)))
        }
        "layers" => {
            let tmp = tempfile::tempdir().unwrap();
            for (path, content) in c["files"].as_object().unwrap() {
                let host = tmp.path().join(path.trim_start_matches('/'));
                match content.as_str() {
                    None => std::fs::create_dir_all(&host).unwrap(),
                    Some(text) => {
                        std::fs::create_dir_all(host.parent().unwrap()).unwrap();
                        std::fs::write(&host, text.replace("@ROOT@", "")).unwrap();
                    }
                }
            }
            let fs = RealFs {
                root: Root::new(tmp.path()),
            };
            let loaded = cloudboot::config::fetch_base_config(&fs, &dec(&c["builtin"]));
            if !loaded.problems.is_empty() {
                return Err(format!("{id}: problems {:?}", loaded.problems));
            }
            let want: J = serde_json::from_str(&expect.to_string().replace("@ROOT@", "")).unwrap();
            check(id, &want, Ok(loaded.cfg))
        }
        other => Err(format!("{id}: unknown kind {other}")),
    }
}

#[test]
fn every_case_matches_cloud_init() {
    // MERGE_CASES=<file> runs another case file instead, e.g. the random
    // ones `generate.py --random N SEED FILE` writes.
    let text = match std::env::var("MERGE_CASES") {
        Ok(path) => std::fs::read_to_string(&path).expect("MERGE_CASES file"),
        Err(_) => CASES.to_string(),
    };
    let doc: J = serde_json::from_str(&text).expect("cases.json");
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let failures: Vec<String> = cases.iter().filter_map(|c| run_case(c).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from cloud-init {}:\n{}",
        failures.len(),
        cases.len(),
        doc["cloud_init_version"],
        failures.join("\n")
    );
    eprintln!(
        "{} cases match cloud-init {}",
        cases.len(),
        doc["cloud_init_version"]
    );
}

#[test]
fn the_fixture_covers_every_kind() {
    let doc: J = serde_json::from_str(CASES).unwrap();
    for kind in ["merge", "parse", "many", "parts", "chain", "layers"] {
        let n = doc["cases"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["kind"] == kind)
            .count();
        assert!(n > 0, "no {kind} cases");
    }
    assert!(Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/merge/generate.py")
        .exists());
}
