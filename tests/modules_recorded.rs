//! Whole boots of the recorded cases (tests/fixtures/modules) against a
//! scratch root prepared as the recorder's Debian root was: what cloudboot
//! writes must be what cloud-init 22.4 wrote there, byte for byte after the
//! recorder's normalisation, with the same mode and owner.

mod common;
mod modules_common;

use modules_common::*;

/// The file cloudboot wrote, against the recorded one and its manifest line.
fn assert_same_file(m: &common::Machine, case: &str, guest: &str) {
    let expected =
        expected_file(case, guest).unwrap_or_else(|| panic!("{case}: {guest} not recorded"));
    assert_eq!(m.read(guest), expected, "{case}: {guest}");
    let line = manifest_entry(case, guest).unwrap();
    assert_eq!(
        format!("{:04o}", m.mode(guest)),
        line.mode,
        "{case}: mode of {guest}"
    );
}

#[test]
fn resolv_conf_where_the_seed_verifies_it() {
    let m = machine_for("resolv");
    m.boot();
    assert_same_file(&m, "resolv", "/etc/resolv.conf");
}

#[test]
fn resolv_conf_is_skipped_on_debian_unless_unverified_modules_names_it() {
    let m = machine_for("resolv-unverified");
    let before = m.read("/etc/resolv.conf");
    m.boot();
    assert_eq!(m.read("/etc/resolv.conf"), before);
    assert_eq!(
        manifest_entry("resolv-unverified", "/etc/resolv.conf")
            .unwrap()
            .status,
        "unchanged"
    );
    let status = m.run_ok(&["status", "--long"], 0);
    assert!(
        status.contains("resolv_conf: skipped (not verified on distro 'debian'"),
        "{status}"
    );
}

#[test]
fn the_recorded_command_log_parses() {
    let cmds = recorded_commands("users", false);
    assert!(cmds
        .iter()
        .any(|c| c.stage == "init" && c.line.starts_with("useradd alice ")));
    let chpasswd = cmds.iter().find(|c| c.line == "chpasswd -e").unwrap();
    assert_eq!(
        (chpasswd.stdin, chpasswd.users.as_deref()),
        (Some(107), Some("bob"))
    );
    assert!(cmds
        .iter()
        .any(|c| c.not_run && c.line == "systemctl status ssh"));
}
