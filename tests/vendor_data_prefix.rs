//! `vendor_data`: `cloudboot schema` accepts and refuses what cloud-init
//! 22.4's schema does, and scripts_vendor runs (or refuses) the same forms.

mod common;

use common::*;

/// `cloud-init schema -c FILE` on 22.4.2-1+deb12u4, for a file holding
/// `#cloud-config` and the line: whether it said "Valid cloud-config".
/// Two keys are left out on purpose: an unknown key inside `vendor_data`
/// (cloud-init: an error; cloudboot: a warning, as for every mapping) and
/// `disabled_handlers` (cloud-init's schema forbids it, its engine reads it;
/// cloudboot accepts it).
const CLOUD_INIT_SAYS: &[(&str, bool)] = &[
    ("vendor_data: {prefix: [timeout, 30]}", true),
    ("vendor_data: {prefix: timeout}", true),
    ("vendor_data: {prefix: ''}", true),
    ("vendor_data: {prefix: []}", true),
    ("vendor_data: {enabled: true}", true),
    ("vendor_data: {enabled: 'false'}", true),
    ("vendor_data: {prefix: [timeout, 30.5]}", false),
    ("vendor_data: {prefix: [timeout, true]}", false),
    ("vendor_data: {prefix: [timeout, null]}", false),
    ("vendor_data: {prefix: [[a]]}", false),
    ("vendor_data: {prefix: 30}", false),
    ("vendor_data: {prefix: null}", false),
    ("vendor_data: {enabled: 1}", false),
    ("vendor_data: {enabled: null}", false),
    ("vendor_data: []", false),
];

fn schema(doc: &str) -> (i32, String) {
    let m = Machine::new();
    let f = m.path("/cfg.yaml");
    std::fs::write(&f, format!("#cloud-config\n{doc}\n")).unwrap();
    let out = std::process::Command::new(BIN)
        .args(["schema", "--config-file"])
        .arg(&f)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap(), text)
}

#[test]
fn schema_agrees_with_cloud_init_on_vendor_data() {
    for (doc, valid) in CLOUD_INIT_SAYS {
        let (code, text) = schema(doc);
        assert_eq!(code == 0, *valid, "{doc}: {text}");
        assert_eq!(text.contains("Valid cloud-config"), *valid, "{doc}: {text}");
    }
    // The error names the word, as 22.4 does (`--annotate` marks its line).
    let (_, text) = schema("vendor_data: {prefix: [timeout, 30.5]}");
    assert!(
        text.contains("vendor_data.prefix.1: 30.5 is not of type 'string', 'integer'"),
        "{text}"
    );
}

/// A machine whose vendor-data is a script logging its arguments' effect,
/// with `timeout` (busybox) in the root.
fn vendor_machine(user_data: &str) -> Machine {
    let m = Machine::seeded(META, user_data);
    m.write(
        "/var/lib/cloud/seed/nocloud/vendor-data",
        "#!/bin/sh\necho vendor-script-ran >> /var/tmp/log\n",
    );
    m.install_busybox();
    std::os::unix::fs::symlink("busybox", m.path("/bin/timeout")).unwrap();
    m
}

#[test]
fn an_integer_in_the_prefix_runs_as_its_digits() {
    if !can_chroot() {
        return;
    }
    let m = vendor_machine("#cloud-config\nvendor_data: {prefix: [timeout, 30]}\n");
    m.boot();
    assert_eq!(m.read("/var/tmp/log"), "vendor-script-ran\n");
    let status = m.run_ok(&["status", "--long", "--modules"], 0);
    assert!(status.contains("scripts_vendor: ran"), "{status}");
}

#[test]
fn a_prefix_the_schema_refuses_fails_the_module_with_its_place() {
    if !can_chroot() {
        return;
    }
    let m = vendor_machine(
        "#cloud-config\nvendor_data: {prefix: [timeout, 30.5]}\nruncmd: [echo runcmd-ran >> /var/tmp/log]\n",
    );
    // The final stage reports the failure; the rest of the boot goes on.
    m.boot_expecting(&[0, 0, 0, 1]);
    assert_eq!(m.read("/var/tmp/log"), "runcmd-ran\n");
    let errors = m.stage_errors("modules-final");
    assert_eq!(
        errors,
        ["scripts_vendor: user-data, line 2, column 33: vendor_data.prefix[1]: expected a string or an integer, found float (30.5)"]
    );
}
