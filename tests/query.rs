//! `query` against what cloud-init 22.4's `cloud-init query` answered for the
//! same command lines (tests/fixtures/query/cases.json, made by
//! generate.py next to it): stdout, stderr and exit code, byte for byte,
//! as root and as a reader who is not (user-data redacted). Where 22.4
//! crashes with a traceback, or renders jinja beyond cloudboot's subset, the
//! case says what cloudboot answers instead and that is checked.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use serde_json::Value as J;

use common::*;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/query");

/// Copies the fixture's data files into a directory anyone can read, as
/// generate.py ran 22.4 on them.
fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    for e in fs::read_dir(Path::new(FIXTURE).join("data")).unwrap() {
        let e = e.unwrap();
        let to = dir.path().join(e.file_name());
        fs::copy(e.path(), &to).unwrap();
        // private.json is root's alone, as generate.py makes it.
        let mode = if e.file_name() == "private.json" {
            0o600
        } else {
            0o644
        };
        fs::set_permissions(&to, fs::Permissions::from_mode(mode)).unwrap();
    }
    dir
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn query_answers_as_cloud_init_22_4() {
    let fixture: J =
        serde_json::from_str(&fs::read_to_string(Path::new(FIXTURE).join("cases.json")).unwrap())
            .unwrap();
    let data = data_dir();
    // An empty root: the default files are missing, as on the machine
    // the fixture was made on.
    let m = Machine::new();
    fs::set_permissions(m.root(), fs::Permissions::from_mode(0o755)).unwrap();
    // 80 of the cases were recorded as root (what a root reader sees: the
    // sensitive data, user-data); as another user they cannot be compared.
    if !common::skip::require_for(
        "the cases recorded as root",
        &[common::skip::Need::Root(
            "to read the instance data as root does",
        )],
    ) {
        return;
    }
    let as_nobody = common::skip::require_for(
        "the cases run as a reader who is not root",
        &[
            common::skip::Need::Root("to run cloudboot as nobody"),
            common::skip::Need::Program("setpriv", "util-linux"),
        ],
    );
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in fixture["cases"].as_array().unwrap() {
        let argv = common::strs(&case["argv"]);
        let user = case["user"].as_str().unwrap();
        let mut cmd = if user == "nobody" {
            if !as_nobody {
                continue;
            }
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN]);
            c
        } else {
            Command::new(BIN)
        };
        let out = cmd
            .arg("--root")
            .arg(m.root())
            .arg("query")
            .args(&argv)
            .current_dir(data.path())
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        let (code, stdout, stderr) = (out.status.code(), text(&out.stdout), text(&out.stderr));
        let want = case.get("cloudboot").unwrap_or(case);
        let mut wrong = Vec::new();
        if code != want["code"].as_i64().map(|c| c as i32) {
            wrong.push(format!("exit code {code:?}, want {}", want["code"]));
        }
        match want.get("stdout").and_then(J::as_str) {
            Some(s) if s != stdout => wrong.push(format!("stdout {stdout:?}\n   want {s:?}")),
            None if case.get("cloudboot").is_some() && code != Some(0) && !stdout.is_empty() => {
                wrong.push(format!("stdout {stdout:?}, want nothing"))
            }
            _ => {}
        }
        match (
            want.get("stderr").and_then(J::as_str),
            want.get("stderr_has"),
        ) {
            (Some(s), _) if s != stderr => wrong.push(format!("stderr {stderr:?}\n   want {s:?}")),
            (None, Some(J::String(has))) if !stderr.contains(has.as_str()) => {
                wrong.push(format!("stderr {stderr:?}\n   want it to say {has:?}"))
            }
            _ => {}
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "query {argv:?} as {user}:\n  {}",
                wrong.join("\n  ")
            ));
        }
        checked += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 70, "only {checked} cases checked");
}

/// The default files are the root's: root reads the sensitive instance
/// data and the instance's user-data; anyone else the redacted file, and
/// user-data only as a redaction note.
#[test]
fn default_files_are_the_roots() {
    let m = Machine::new();
    m.write(
        "run/cloud-init/instance-data-sensitive.json",
        r#"{"v1": {"instance_id": "i-sensitive"}, "secret": "s3cret"}"#,
    );
    m.write(
        "run/cloud-init/instance-data.json",
        r#"{"v1": {"instance_id": "i-public"}, "secret": "redacted for non-root user"}"#,
    );
    m.write(
        "var/lib/cloud/instances/i-1/user-data.txt",
        "#cloud-config\n{}\n",
    );
    m.write("var/lib/cloud/instances/i-1/vendor-data.txt", "");
    std::os::unix::fs::symlink(
        "/var/lib/cloud/instances/i-1",
        m.root().join("var/lib/cloud/instance"),
    )
    .unwrap();
    if !common::skip::require(&[common::skip::Need::Root(
        "to read the sensitive file as root",
    )]) {
        return;
    }
    assert_eq!(
        m.run_ok(&["query", "-f", "{{ instance_id }} {{ secret }}"], 0),
        "i-sensitive s3cret\n"
    );
    assert_eq!(m.run_ok(&["query", "userdata"], 0), "#cloud-config\n{}\n\n");
    fs::remove_file(m.root().join("run/cloud-init/instance-data-sensitive.json")).unwrap();
    let out = m.run(&["query", "instance_id"]);
    assert_eq!(text(&out.stdout), "i-public\n");
    assert_eq!(
        text(&out.stderr),
        "WARNING: Missing root-readable /run/cloud-init/instance-data-sensitive.json. \
         Using redacted /run/cloud-init/instance-data.json instead.\n"
    );
}
