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
    let status = m.run_ok(&["status", "--long", "--modules"], 0);
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

/// The four stages, whatever their exit codes: in a busybox root Debian's
/// users_groups and ssh fail (no shadow-utils, no ssh-keygen), which is not
/// what these tests look at.
fn boot_ignoring_exit_codes(m: &common::Machine) {
    for args in [
        &["init", "--local"][..],
        &["init"],
        &["modules", "--mode=config"],
        &["modules", "--mode=final"],
    ] {
        m.run(args);
    }
}

#[test]
fn scripts_run_in_cloud_inits_order_on_first_boot_and_reboot() {
    if !common::can_chroot() {
        return;
    }
    let case = "scripts";
    let m = machine_for(case);
    m.install_busybox();
    // busybox has no bash; the one bash script of the seed is plain sh.
    m.write("/bin/bash", "#!/bin/sh\nexec /bin/sh \"$@\"\n");
    std::fs::set_permissions(
        m.path("/bin/bash"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    // The seed's bootcmd calls cloud-init-per: cloudboot's own, as the
    // packages install it where cloud-init's is gone.
    m.install_cloudboot(&["cloud-init-per"]);
    boot_ignoring_exit_codes(&m);
    assert_eq!(
        m.read("/var/tmp/order.log"),
        expected_file(case, "/var/tmp/order.log").unwrap(),
        "first boot"
    );
    // The final message, with cloudboot's version where cloud-init has 22.4.2.
    let output = m.read("/var/log/cloud-init-output.log");
    let want = expected_file(case, "/var/log/cloud-init-output.log").unwrap();
    let want_final = want
        .lines()
        .find(|l| l.starts_with("cloudboot final message:"))
        .unwrap()
        .replace(
            "22.4.2",
            concat!("22.4.2-cloudboot", env!("CARGO_PKG_VERSION")),
        );
    let version_word = format!("version=22.4.2-cloudboot{}", env!("CARGO_PKG_VERSION"));
    let got_final = output
        .lines()
        .find(|l| l.starts_with("cloudboot final message:"))
        .unwrap_or_else(|| panic!("no final message in\n{output}"));
    assert!(got_final.contains(&version_word), "{got_final}");
    assert_eq!(got_final, want_final);
    assert!(output.contains("user script says hello on stdout\n"));
    m.reboot();
    boot_ignoring_exit_codes(&m);
    assert_eq!(
        m.read("/var/tmp/order.log"),
        std::fs::read_to_string(case_dir(case).join("expected/boot2/files/var/tmp/order.log"))
            .unwrap(),
        "after the reboot"
    );
}

#[test]
fn the_output_log_is_0640_root_adm_as_cloud_init_leaves_it() {
    let m = machine_for("hostname");
    boot_ignoring_exit_codes(&m);
    let line = manifest_entry("hostname", "/var/log/cloud-init-output.log").unwrap();
    assert_eq!(
        (line.mode.as_str(), line.owner.as_str()),
        ("0640", "root:adm")
    );
    let md = std::fs::metadata(m.path("/var/log/cloud-init-output.log")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(md.mode() & 0o7777, 0o640);
    // adm is gid 4 in the Debian base root; the chown needs root.
    if common::skip::require_for(
        "its owner, root:adm",
        &[common::skip::Need::Root("to give files to other users")],
    ) {
        assert_eq!((md.uid(), md.gid()), (0, 4));
    }
    // cloud-init.log: cloud-init leaves it 0644; cloudboot keeps it 0640 (a
    // log of what ran is nobody else's business), same owner.
    assert_eq!(m.mode("/var/log/cloud-init.log"), 0o640);
}
