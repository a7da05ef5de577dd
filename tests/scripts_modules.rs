//! bootcmd and the scripts_* modules: what runs on which boot, inside the
//! root (chroot, so these need root), with cloud-init's frequencies:
//! bootcmd and per-boot every boot, per-instance once per instance-id,
//! per-once once ever, vendor scripts behind `vendor_data: prefix`.

mod common;

use common::*;

/// Appends `$1` and the boot's INSTANCE_ID (when set) to /var/tmp/log.
fn hook(m: &Machine, guest: &str, tag: &str) {
    m.write(
        guest,
        &format!("#!/bin/sh\necho \"{tag} ${{INSTANCE_ID:-none}}\" >> /var/tmp/log\n"),
    );
    std::fs::set_permissions(
        m.path(guest),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
}

#[test]
fn each_script_kind_runs_on_the_boots_its_frequency_says() {
    if !can_chroot() {
        return;
    }
    let m = Machine::seeded(
        META,
        "#cloud-config\nbootcmd:\n  - echo \"bootcmd $INSTANCE_ID\" >> /var/tmp/log\n",
    );
    m.install_busybox();
    hook(&m, "/var/lib/cloud/scripts/per-boot/10-boot", "per-boot");
    hook(
        &m,
        "/var/lib/cloud/scripts/per-instance/10-instance",
        "per-instance",
    );
    hook(&m, "/var/lib/cloud/scripts/per-once/10-once", "per-once");
    // Not executable: never run, as runparts skips it.
    m.write(
        "/var/lib/cloud/scripts/per-boot/20-not-exec",
        "#!/bin/sh\nexit 1\n",
    );
    m.boot();
    // bootcmd (network stage) first, then the final stage's order.
    assert_eq!(
        m.read("/var/tmp/log"),
        "bootcmd iid-test-1\nper-once none\nper-boot none\nper-instance none\n"
    );
    // bootcmd's temporary script is gone.
    assert_eq!(
        std::fs::read_dir(m.path("/run/cloud-init/tmp"))
            .unwrap()
            .count(),
        0
    );
    assert!(m.exists("/var/lib/cloud/sem/config_scripts_per_once.once"));
    assert!(m.exists("/var/lib/cloud/instances/iid-test-1/sem/config_scripts_per_instance"));

    // Same instance, next boot: bootcmd and per-boot only.
    std::fs::remove_file(m.path("/var/tmp/log")).unwrap();
    m.reboot();
    m.boot();
    assert_eq!(
        m.read("/var/tmp/log"),
        "bootcmd iid-test-1\nper-boot none\n"
    );

    // A new instance-id: per-instance again, per-once never again.
    std::fs::remove_file(m.path("/var/tmp/log")).unwrap();
    m.seed(
        "instance-id: iid-test-2\n",
        "#cloud-config\nbootcmd:\n  - echo \"bootcmd $INSTANCE_ID\" >> /var/tmp/log\n",
    );
    m.reboot();
    m.boot();
    assert_eq!(
        m.read("/var/tmp/log"),
        "bootcmd iid-test-2\nper-boot none\nper-instance none\n"
    );
}

#[test]
fn vendor_scripts_run_behind_the_configured_prefix() {
    if !can_chroot() {
        return;
    }
    let m = Machine::seeded(
        META,
        "#cloud-config\nvendor_data: {prefix: [env, VIA_PREFIX=yes]}\n",
    );
    m.write(
        "/var/lib/cloud/seed/nocloud/vendor-data",
        "#!/bin/sh\necho \"vendor VIA_PREFIX=${VIA_PREFIX:-no}\" >> /var/tmp/log\n",
    );
    m.install_busybox();
    m.boot();
    assert_eq!(m.read("/var/tmp/log"), "vendor VIA_PREFIX=yes\n");
    let status = m.run_ok(&["status", "--long", "--modules"], 0);
    assert!(status.contains("scripts_vendor: ran"), "{status}");
}

#[test]
fn a_failing_bootcmd_fails_its_module_and_the_boot_goes_on() {
    if !can_chroot() {
        return;
    }
    let m = Machine::seeded(
        META,
        "#cloud-config\nbootcmd: ['exit 4']\nwrite_files: [{path: /var/tmp/after, content: ok}]\n",
    );
    m.install_busybox();
    m.boot_expecting(&[0, 1, 0, 0]);
    assert_eq!(m.read("/var/tmp/after"), "ok");
    assert_eq!(
        std::fs::read_dir(m.path("/run/cloud-init/tmp"))
            .unwrap()
            .count(),
        0
    );
    let errors = m.stage_errors("init");
    assert!(
        errors.iter().any(|e| e
            .starts_with("bootcmd: command /bin/sh /run/cloud-init/tmp/bootcmd-")
            && e.contains(".sh failed")),
        "{errors:?}"
    );
}
