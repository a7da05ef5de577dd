//! `status` byte for byte against cloud-init 22.4: each scratch root of
//! tests/fixtures/status/trees.json (not run, running, done, error,
//! disabled, each way 22.4 tells them apart) with each command line
//! (`--long`, `--format json|yaml`, `--wait`), compared with what 22.4's
//! own `handle_status_args` printed and returned on the same tree
//! (cases.json, made by generate.py there). And `--wait` waiting: dots
//! while a boot runs, then the status.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::Value as J;

use common::*;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/status");

/// Makes tree `spec` under `root`, as generate.py makes it.
fn make_tree(spec: &J, root: &Path) {
    for d in spec["dirs"].as_array().into_iter().flatten() {
        fs::create_dir_all(root.join(d.as_str().unwrap())).unwrap();
    }
    for (path, content) in spec["files"].as_object().into_iter().flatten() {
        let p = root.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        let text = match content {
            J::String(s) => s.clone(),
            other => serde_json::to_string_pretty(other).unwrap() + "\n",
        };
        fs::write(p, text).unwrap();
    }
}

fn load(name: &str) -> J {
    serde_json::from_str(&fs::read_to_string(Path::new(FIXTURE).join(name)).unwrap()).unwrap()
}

#[test]
fn status_prints_what_cloud_init_22_4_prints_in_every_state() {
    let trees = load("trees.json");
    let cases = load("cases.json");
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut roots = std::collections::BTreeMap::new();
    for case in cases["cases"].as_array().unwrap() {
        let tree = case["tree"].as_str().unwrap();
        let root = roots.entry(tree.to_string()).or_insert_with(|| {
            let dir = tempfile::tempdir().unwrap();
            make_tree(&trees["trees"][tree], dir.path());
            dir
        });
        let argv = common::strs(&case["argv"]);
        let out = Command::new(BIN)
            .arg("--root")
            .arg(root.path())
            .arg("status")
            .args(&argv)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let want_code = case["code"].as_i64().map(|c| c as i32);
        let want = case["stdout"].as_str().unwrap();
        if out.status.code() != want_code || stdout != want {
            failures.push(format!(
                "status {argv:?} on {tree}: exit {:?} (want {want_code:?})\n--- cloudboot\n{stdout}--- 22.4\n{want}---\nstderr: {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        checked += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 150, "only {checked} cases");
}

/// `--wait` on a boot that is running: a dot per look until it is done,
/// then (on a new line) the status, as 22.4 prints it.
#[test]
fn wait_prints_dots_until_the_boot_is_done() {
    let trees = load("trees.json");
    let dir = tempfile::tempdir().unwrap();
    make_tree(&trees["trees"]["running-init"], dir.path());
    let child = Command::new(BIN)
        .arg("--root")
        .arg(dir.path())
        .args(["status", "--wait", "--long"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    // The boot finishes: the done tree's status files replace the running ones.
    let done = tempfile::tempdir().unwrap();
    make_tree(&trees["trees"]["done"], done.path());
    for f in ["status.json", "result.json"] {
        let run = done.path().join("run/cloud-init");
        fs::copy(run.join(f), dir.path().join("run/cloud-init").join(f)).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (dots, rest) = stdout.split_once('\n').unwrap();
    assert!(
        dots.len() >= 2 && dots.chars().all(|c| c == '.'),
        "{stdout}"
    );
    let cases = load("cases.json");
    let want = cases["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["tree"] == "done" && c["argv"] == serde_json::json!(["--long"]))
        .unwrap()["stdout"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(rest, want);
}

/// cloudboot's own `--modules`: 22.4's output first, unchanged, then each
/// stage's modules and the warnings.
#[test]
fn modules_adds_cloudboots_lines_after_cloud_inits() {
    let m = Machine::seeded(
        "instance-id: iid-st-1\n",
        "#cloud-config\nruncmd: [\"true\"]\n",
    );
    m.boot();
    let long = m.run_ok(&["status", "--long"], 0);
    let with = m.run_ok(&["status", "--long", "--modules"], 0);
    assert!(with.starts_with(&long), "{with}");
    assert!(
        with[long.len()..].starts_with("modules:\n  init-local:\n"),
        "{with}"
    );
    assert!(with.contains("    runcmd: ran"), "{with}");
    let json: J = serde_json::from_str(&m.run_ok(&["status", "--format", "json"], 0)).unwrap();
    assert!(json.get("modules").is_none(), "{json}");
    let json: J =
        serde_json::from_str(&m.run_ok(&["status", "--format", "json", "--modules"], 0)).unwrap();
    assert!(json["modules"]["modules-final"].is_array(), "{json}");
}
