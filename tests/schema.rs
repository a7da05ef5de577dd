//! `cloudboot schema`: cloud-init's command, checking the keys cloudboot's
//! modules read, worded as 22.4 words it (tests/schema_strict.rs compares
//! with 22.4 itself).

mod common;

use common::*;

fn schema(file_content: &str) -> (i32, String, String) {
    let m = Machine::new();
    let f = m.dir.path().join("user-data.yaml");
    std::fs::write(&f, file_content).unwrap();
    let out = std::process::Command::new(BIN)
        .args(["schema", "--config-file"])
        .arg(&f)
        .output()
        .unwrap();
    let name = f.display().to_string();
    let norm = |b: &[u8]| String::from_utf8_lossy(b).replace(&name, "FILE");
    (
        out.status.code().unwrap(),
        norm(&out.stdout),
        norm(&out.stderr),
    )
}

#[test]
fn a_valid_file() {
    let (code, out, err) = schema("#cloud-config\nruncmd:\n  - [ls, -l]\nwrite_files:\n  - {path: /x, content: y, permissions: '0600'}\n");
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, "Valid cloud-config: FILE\n", "")
    );
}

/// 22.4's schema allows keys it does not know at the top level: silent.
#[test]
fn unknown_keys_stay_valid_as_in_22_4() {
    let (code, out, err) =
        schema("#cloud-config\npuppet: {install: true}\nruncmd: [ls]\nrunmcd: [ls]\n");
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, "Valid cloud-config: FILE\n", "")
    );
}

/// 22.4's words (`jsonschema`'s), sorted by key path, paths joined by `.`.
#[test]
fn wrong_types_are_errors_with_the_key_path() {
    let (code, out, err) =
        schema("#cloud-config\nwrite_files:\n  - path: /x\n    append: 'maybe'\nruncmd: ls -l\n");
    assert_eq!(code, 1);
    assert_eq!(out, "Cloud config schema deprecations: \n");
    assert_eq!(
        err,
        "Error:\nCloud config schema errors: runcmd: 'ls -l' is not of type 'array', write_files.0.append: 'maybe' is not of type 'boolean'\n"
    );
}

#[test]
fn files_that_are_not_cloud_config() {
    let (code, _, err) = schema("runcmd: [ls]\n");
    assert_eq!(code, 1);
    assert_eq!(err, "Error:\nCloud config schema errors: format-l1.c1: File FILE needs to begin with \"#cloud-config\"\n");
    let (code, _, err) = schema("#cloud-config\nruncmd: [ls\n");
    assert_eq!(code, 1);
    assert!(
        err.starts_with(
            "Error:\nCloud config schema errors: format-l3.c1: File FILE is not valid yaml."
        ),
        "{err}"
    );
    let out = std::process::Command::new(BIN)
        .args(["schema", "--config-file", "/nonexistent/x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error:\nConfigfile /nonexistent/x does not exist\n"
    );
}

#[test]
fn system_checks_the_instance_cloud_config() {
    let m = Machine::seeded(META, "#cloud-config\nruncmd: ls\n");
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 0);
    let out = m.run(&["schema", "--system"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("runcmd: 'ls' is not of type 'array'"));
}

/// An empty cloud-config or a list: 22.4 says it is not a YAML dict.
#[test]
fn a_file_that_is_not_a_mapping() {
    for text in ["#cloud-config\n", "#cloud-config\n- a\n"] {
        let (code, out, err) = schema(text);
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (1, "", "Error:\nCloud-config is not a YAML dict.\n"),
            "{text:?}"
        );
    }
}

/// 22.4's boot checks the merged config once user-data is consumed: a
/// deprecated key and an invalid one are warnings in its words (in
/// cloud-init.log and the stage's warnings), the stage still succeeds, and
/// the modules still run.
#[test]
fn a_boot_warns_about_invalid_and_deprecated_cloud_config_as_22_4() {
    let m = Machine::seeded(
        "instance-id: i-schema\n",
        "#cloud-config\nssh_pwauth: 'yes'\nruncmd: []\nwrite_files:\n  - {path: /etc/from-user-data, content: here}\n",
    );
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 0);
    let log = m.read("/var/log/cloud-init.log");
    assert!(
        log.contains(
            "[WARNING]: Deprecated cloud-config provided:\nssh_pwauth: DEPRECATED: Use of non-boolean values for this field is DEPRECATED and will result in an error in a future version of cloud-init."
        ),
        "{log}"
    );
    assert!(
        log.contains("[WARNING]: Invalid cloud-config provided: Please run 'sudo cloud-init schema --system' to see the schema errors."),
        "{log}"
    );
    m.run_ok(&["modules", "--mode=config"], 0);
    assert_eq!(m.read("/etc/from-user-data"), "here");

    // Without user-data, 22.4 skips the check: no such warning.
    let quiet = Machine::seeded("instance-id: i-none\n", "");
    std::fs::remove_file(quiet.path("/var/lib/cloud/seed/nocloud/user-data")).unwrap();
    quiet.run_ok(&["init", "--local"], 0);
    quiet.run_ok(&["init"], 0);
    assert!(!quiet
        .read("/var/log/cloud-init.log")
        .contains("cloud-config provided"));
}
