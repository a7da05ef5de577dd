//! The network parity corpus (tests/fixtures/net): cases, their inputs as
//! network state, and cloud-init's expected files.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use cloudboot::net::state::NetworkState;
use cloudboot::value::Value;

pub fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/net/cases")
}

/// Every case directory, sorted.
pub fn cases() -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(corpus())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

pub fn name(case: &Path) -> String {
    case.file_name().unwrap().to_string_lossy().into_owned()
}

/// `ethN` -> MAC pairs of the case (`macs`), as a MAC -> name map.
pub fn macs(case: &Path) -> HashMap<String, String> {
    std::fs::read_to_string(case.join("macs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(','))
        .map(|(n, m)| (m.to_lowercase(), n.to_string()))
        .collect()
}

/// The case's network state, from cloud-init's v1 for converted inputs.
pub fn state(case: &Path) -> NetworkState {
    let kind = std::fs::read_to_string(case.join("kind")).unwrap();
    let input = match kind.trim() {
        "yaml" => cloudboot::yaml::load(&std::fs::read(case.join("input.yaml")).unwrap(), "input")
            .unwrap(),
        _ => Value::from_json(
            &serde_json::from_slice(&std::fs::read(case.join("v1.json")).unwrap()).unwrap(),
        ),
    };
    NetworkState::parse(&input, &HashMap::new()).unwrap()
}

/// The files cloud-init wrote for `target` (e.g. `centos-sysconfig`):
/// relative path (as a guest path, `/etc/...`) -> content.
pub fn expected(case: &Path, target: &str) -> BTreeMap<String, String> {
    let root = case.join("expected").join(target);
    let mut out = BTreeMap::new();
    walk(&root, &root, &mut out);
    out
}

/// What cloudboot must write for `target`: `cloudboot/<target>/` where the
/// case has it (a deliberate difference generate.py derives from
/// cloud-init's output, see the README), else cloud-init's files.
pub fn cloudboot_expected(case: &Path, target: &str) -> BTreeMap<String, String> {
    if derived_difference(case, target) {
        let root = case.join("cloudboot").join(target);
        let mut out = BTreeMap::new();
        walk(&root, &root, &mut out);
        out
    } else {
        expected(case, target)
    }
}

/// Whether the case has `cloudboot/<target>/`.
pub fn derived_difference(case: &Path, target: &str) -> bool {
    case.join("cloudboot").join(target).is_dir()
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(root, &p, out);
        } else {
            let rel = format!("/{}", p.strip_prefix(root).unwrap().display());
            out.insert(rel, std::fs::read_to_string(&p).unwrap());
        }
    }
}

/// Every file under `dir`, by its path from there (`/etc/...`).
pub fn tree(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The lines one text has and the other lacks (`-` expected, `+` got).
pub fn diff(expected: &str, got: &str) -> String {
    let (e, g): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), got.lines().collect());
    let mut out = String::new();
    for l in &e {
        if !g.contains(l) {
            out.push_str(&format!("    - {l}\n"));
        }
    }
    for l in &g {
        if !e.contains(l) {
            out.push_str(&format!("    + {l}\n"));
        }
    }
    if out.is_empty() {
        out = format!(
            "    (same lines, different bytes)\n    expected {expected:?}\n    got      {got:?}\n"
        );
    }
    out
}

/// How two sets of files differ: one line (or block) per file missing,
/// different or extra; empty when they are the same.
pub fn compare(want: &BTreeMap<String, String>, got: &BTreeMap<String, String>) -> Vec<String> {
    let mut problems = Vec::new();
    for (path, content) in want {
        match got.get(path) {
            None => problems.push(format!("  missing {path}")),
            Some(ours) if ours != content => {
                problems.push(format!("  {path} differs:\n{}", diff(content, ours)))
            }
            Some(_) => {}
        }
    }
    for path in got.keys().filter(|p| !want.contains_key(*p)) {
        problems.push(format!("  extra {path}"));
    }
    problems
}
