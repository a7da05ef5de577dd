//! `cloud-init devel make-mime` against cloud-init 22.4's own answers
//! (tests/fixtures/make-mime/cases.json, made by generate.py there):
//!
//! - cloudboot prints the same message (the random MIME boundary aside), the
//!   same warnings and errors, and exits with the same code;
//! - cloudboot's user-data reader ([`cloudboot::userdata::process`], what a
//!   boot runs on user-data) reads cloudboot's message into the parts 22.4's
//!   reader (`UserDataProcessor`, read_parts.py) made of 22.4's message;
//! - and, where 22.4 is installed here, 22.4's reader reads cloudboot's
//!   message into those same parts.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value as J};

use cloudboot::paths::Paths;
use cloudboot::rootfs::{RealFs, Root};
use cloudboot::userdata::{self, Env, Kind, Limits};

fn fixture() -> J {
    serde_json::from_str(include_str!("fixtures/make-mime/cases.json")).unwrap()
}

/// The boundary of a message (from its first line) made `BOUNDARY`.
fn normalised(message: &str) -> String {
    let Some(b) = message
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("Content-Type: multipart/mixed; boundary=\""))
        .and_then(|l| l.strip_suffix('"'))
    else {
        return message.to_string();
    };
    assert!(
        b.starts_with("===============") && b.ends_with("==") && b.len() == 36,
        "not Python's form of boundary: {b}"
    );
    message.replace(b, "BOUNDARY")
}

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// cloudboot's make-mime in a scratch directory holding the case's files.
fn make_mime(case: &J) -> Ran {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in case["files"].as_object().unwrap() {
        std::fs::write(dir.path().join(name), text.as_str().unwrap()).unwrap();
    }
    let argv = common::strs(&case["argv"]);
    let out = Command::new(common::BIN)
        .args(["devel", "make-mime"])
        .args(&argv)
        .current_dir(dir.path())
        .output()
        .unwrap();
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// The parts cloudboot's user-data reader makes of `message`, in
/// read_parts.py's form.
fn cloudboot_parts(message: &[u8]) -> J {
    let root = tempfile::tempdir().unwrap();
    let fs = RealFs {
        root: Root::new(root.path()),
    };
    let paths = Paths::default();
    let no_network = |url: &str, _: &cloudboot::http::Limits| -> Result<_, _> {
        panic!("make-mime's output made the reader fetch {url}")
    };
    let env = Env {
        fs: &fs,
        paths: &paths,
        iid: "iid-make-mime",
        from: None,
        limits: Limits::default(),
        http: &no_network,
    };
    let processed = userdata::process(message, Kind::User, &env);
    assert!(
        processed.problems.is_empty(),
        "cloudboot's reader: {:?}",
        processed.problems
    );
    let parts: Vec<J> = processed
        .parts
        .iter()
        .map(|p| {
            let mut entry = json!({"content_type": p.content_type, "filename": p.filename});
            match String::from_utf8(p.payload.clone()) {
                Ok(text) => entry["payload"] = text.into(),
                Err(_) => entry["payload_b64"] = cloudboot::base64::encode(&p.payload).into(),
            }
            entry
        })
        .collect();
    J::Array(parts)
}

/// 22.4's reader (read_parts.py) on `message`.
fn cloud_init_parts(message: &[u8]) -> J {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("user-data");
    std::fs::write(&file, message).unwrap();
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/make-mime/read_parts.py");
    let out = Command::new("/usr/bin/python3")
        .arg(script)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "read_parts.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn make_mime_prints_what_cloud_init_22_4_prints() {
    let fixture = fixture();
    for case in fixture["cases"].as_array().unwrap() {
        let what = case["what"].as_str().unwrap();
        let got = make_mime(case);
        assert_eq!(
            got.code,
            Some(case["code"].as_i64().unwrap() as i32),
            "{what}: exit code; stderr: {}",
            got.stderr
        );
        assert_eq!(
            got.stderr,
            case["stderr"].as_str().unwrap(),
            "{what}: stderr"
        );
        assert_eq!(
            normalised(&got.stdout),
            normalised(case["stdout"].as_str().unwrap()),
            "{what}: stdout"
        );
    }
}

/// Where cloudboot's reader does not yet read a part as 22.4's does:
/// (case, part index, field, what cloudboot reads, why). The test fails
/// when one is read as 22.4 reads it (take it out then).
const READER_DIFFERS: &[(&str, usize, &str, &str, &str)] = &[(
    "quotes and a backslash in the file name",
    0,
    "filename",
    "a",
    "src/mime.rs's param ends a quoted value at the next quote; Python's _parseparam \
         takes the piece up to `;` and strips the outer quotes (the name cloud-init saves a \
         script part under)",
)];

#[test]
fn cloudboot_reads_its_make_mime_output_as_cloud_init_reads_cloud_init_s() {
    let fixture = fixture();
    let mut checked = 0;
    let mut differs_used = 0;
    for case in fixture["cases"].as_array().unwrap() {
        if case["parts"].is_null() {
            continue;
        }
        // An empty multipart too: both read the nothing between its two
        // boundary lines as one empty text/plain part (which no handler uses).
        let what = case["what"].as_str().unwrap();
        let got = make_mime(case);
        assert_eq!(got.code, Some(0), "{what}: {}", got.stderr);
        let mut want = case["parts"].clone();
        for (_, i, field, value, why) in READER_DIFFERS.iter().filter(|d| d.0 == what) {
            let _ = std::io::stderr().write_all(
                format!(
                    "make_mime: {what}: part {}'s {field} is read as {value:?}, 22.4 reads {}: {why}\n",
                    i + 1,
                    want[i][field]
                )
                .as_bytes(),
            );
            want[i][field] = (*value).into();
            differs_used += 1;
        }
        assert_eq!(
            cloudboot_parts(got.stdout.as_bytes()),
            want,
            "{what}: the parts cloudboot reads (a READER_DIFFERS entry that now matches 22.4 \
             must be taken out)"
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} cases have parts");
    assert_eq!(
        differs_used,
        READER_DIFFERS.len(),
        "a READER_DIFFERS entry names no case of cases.json"
    );
}

#[test]
fn cloud_init_22_4_reads_cloudboot_s_make_mime_output_into_the_same_parts() {
    if !common::skip::require(&[
        common::skip::Need::Python311,
        common::skip::Need::File(
            "/usr/lib/python3/dist-packages/cloudinit/user_data.py",
            "cloud-init",
        ),
    ]) {
        return;
    }
    let fixture = fixture();
    for case in fixture["cases"].as_array().unwrap() {
        if case["parts"].is_null() {
            continue;
        }
        let what = case["what"].as_str().unwrap();
        let got = make_mime(case);
        assert_eq!(
            cloud_init_parts(got.stdout.as_bytes()),
            case["parts"],
            "{what}: the parts 22.4 reads from cloudboot's output"
        );
    }
}

/// Errors 22.4 meets with a Python traceback: cloudboot names what is
/// wrong, with 22.4's exit code (1).
#[test]
fn bad_attachments_exit_1_with_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bin"), b"\xff\xfe#cloud-config\n").unwrap();
    for (arg, says) in [
        (
            "nofile:cloud-config",
            "[Errno 2] No such file or directory: 'nofile'",
        ),
        ("bin", "Invalid value for 'bin': give FILE:TYPE"),
        ("bin:cloud-config", "'bin': not UTF-8 text"),
    ] {
        let out = Command::new(common::BIN)
            .args(["devel", "make-mime", "-a", arg])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{arg}: {stderr}");
        assert!(stderr.contains(says), "{arg}: {stderr}");
        assert!(out.stdout.is_empty(), "{arg}");
    }
}
