//! `cloudboot doctor` and `cloudboot seal` on what a template keeps of its
//! own instance: cloud-init's state and logs, the machine-id, SSH host
//! keys, fstab entries for its extra disks. Each problem in a clean
//! CentOS 6-style image: doctor finds it (exit 1, its id, file and line),
//! `seal --dry-run` prints the fix and changes nothing, `seal` fixes it,
//! and doctor finds nothing after. Then the images that must not be
//! flagged.

mod common;
mod doctor_common;

use std::fs;

use common::Machine;
use doctor_common::state::*;
use doctor_common::{
    assert_clean, centos6, doctor, dry_run_changes_nothing, evidence, findings, ids, link, seal,
    seal_ok, tree_state,
};

fn files(f: &serde_json::Value) -> Vec<String> {
    evidence(f).into_iter().map(|(file, _, _)| file).collect()
}

/// Doctor finds exactly `id` (one or more findings of it) and nothing
/// else; returns the report.
fn finds_only(m: &Machine, id: &str) -> serde_json::Value {
    doctor_common::finds_only(m, id, &[])
}

// ---- stale-instance-state ----

#[test]
fn instance_state_and_logs_are_found_and_sealed_as_clean_logs_seed() {
    let m = centos6();
    add_instance_state(&m);
    let report = finds_only(&m, "stale-instance-state");
    let found = findings(&report, "stale-instance-state");
    assert_eq!(found.len(), 2, "{report:#}");
    let state = found.iter().find(|f| f["severity"] == "error").unwrap();
    assert_eq!(
        files(state),
        [
            "/var/lib/cloud/data",
            "/var/lib/cloud/instance",
            "/var/lib/cloud/instances/iid-template",
            "/var/lib/cloud/seed/nocloud",
            "/var/lib/cloud/sem",
        ]
    );
    let text = |file: &str| {
        evidence(state)
            .into_iter()
            .find(|(f, _, _)| f == file)
            .unwrap()
            .2
    };
    assert!(text("/var/lib/cloud/instance").contains("instances/iid-template"));
    assert!(text("/var/lib/cloud/seed/nocloud").contains("NoCloud seed (instance-id iid-template)"));
    assert!(text("/var/lib/cloud/sem").contains("config_scripts_per_once.once"));
    assert!(text("/var/lib/cloud/data").contains("iid-template"));
    assert_eq!(state["sealable"], true);
    let logs = found.iter().find(|f| f["severity"] == "warning").unwrap();
    assert_eq!(
        files(logs),
        ["/var/log/cloud-init.log", "/var/log/cloud-init-output.log"]
    );

    dry_run_changes_nothing(
        &m,
        &[
            "would fix [stale-instance-state]",
            "/var/lib/cloud/instances",
            "/var/lib/cloud/seed",
            "/var/log/cloud-init-output.log",
        ],
    );
    seal_ok(&m);
    // What `cloud-init clean --logs --seed` leaves: an empty /var/lib/cloud.
    assert!(m.path("/var/lib/cloud").is_dir());
    assert_eq!(fs::read_dir(m.path("/var/lib/cloud")).unwrap().count(), 0);
    assert!(!m.exists("/var/log/cloud-init.log"));
    assert!(!m.exists("/var/log/cloud-init-output.log"));
    assert_clean(&m, &[]);
}

#[test]
fn logs_alone_are_a_warning() {
    let m = centos6();
    m.write("/var/log/cloud-init.log", "old\n");
    let report = finds_only(&m, "stale-instance-state");
    let found = findings(&report, "stale-instance-state");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["severity"], "warning");
    seal_ok(&m);
    assert!(!m.exists("/var/log/cloud-init.log"));
    assert_clean(&m, &[]);
}

#[test]
fn empty_state_directories_are_not_state() {
    let m = centos6();
    for d in ["scripts/per-boot", "scripts/per-once", "seed", "instances"] {
        fs::create_dir_all(m.path(&format!("/var/lib/cloud/{d}"))).unwrap();
    }
    assert_clean(&m, &[]);
}

// ---- shared-machine-id ----

#[test]
fn a_machine_id_is_found_and_removed() {
    let m = centos6();
    add_machine_id(&m);
    let report = finds_only(&m, "shared-machine-id");
    let found = findings(&report, "shared-machine-id");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["severity"], "error");
    assert_eq!(
        files(found[0]),
        ["/etc/machine-id", "/var/lib/dbus/machine-id"]
    );
    assert!(evidence(found[0])[0].2.contains(TEMPLATE_MACHINE_ID));
    assert!(found[0]["breaks"].as_str().unwrap().contains("DHCP"));

    dry_run_changes_nothing(
        &m,
        &[
            "would fix [shared-machine-id]",
            "/etc/machine-id",
            "/var/lib/dbus/machine-id",
        ],
    );
    seal_ok(&m);
    assert!(!m.exists("/etc/machine-id"));
    assert!(!m.exists("/var/lib/dbus/machine-id"));
    assert_clean(&m, &[]);
}

#[test]
fn a_systemd_image_gets_an_empty_machine_id_not_none() {
    // Without the file systemd cannot boot from a read-only /etc.
    let m = centos6();
    add_machine_id(&m);
    fs::set_permissions(
        m.path("/etc/machine-id"),
        std::os::unix::fs::PermissionsExt::from_mode(0o444),
    )
    .unwrap();
    doctor_common::executable(&m, "/usr/lib/systemd/systemd", "#!/bin/sh\n");
    fs::create_dir_all(m.path("/etc/systemd/system")).unwrap();
    let (code, report) = doctor(&m, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        findings(&report, "shared-machine-id").len(),
        1,
        "{report:#}"
    );
    seal(&m, &[]);
    assert_eq!(m.read("/etc/machine-id"), "");
    assert_eq!(m.mode("/etc/machine-id"), 0o444);
    assert!(!m.exists("/var/lib/dbus/machine-id"));
    let (_, report) = doctor(&m, &[]);
    assert!(
        findings(&report, "shared-machine-id").is_empty(),
        "{report:#}"
    );
}

#[test]
fn debian_style_machine_ids_are_not_flagged() {
    // Empty /etc/machine-id (systemd's "first boot") and D-Bus's path a
    // link to it, as Debian ships them.
    let m = centos6();
    m.write("/etc/machine-id", "");
    link(&m, "/var/lib/dbus/machine-id", "/etc/machine-id");
    assert_clean(&m, &[]);
    // "uninitialized" is also systemd's "make one on this boot".
    m.write("/etc/machine-id", "uninitialized\n");
    assert_clean(&m, &[]);
}

#[test]
fn a_linked_dbus_machine_id_is_only_the_etc_one() {
    let m = centos6();
    m.write("/etc/machine-id", &format!("{TEMPLATE_MACHINE_ID}\n"));
    link(&m, "/var/lib/dbus/machine-id", "/etc/machine-id");
    let report = finds_only(&m, "shared-machine-id");
    assert_eq!(
        files(findings(&report, "shared-machine-id")[0]),
        ["/etc/machine-id"]
    );
    seal_ok(&m);
    assert!(!m.exists("/etc/machine-id"));
    // The link stays (dangling until the next boot makes the id).
    assert!(m
        .path("/var/lib/dbus/machine-id")
        .symlink_metadata()
        .unwrap()
        .file_type()
        .is_symlink());
    assert_clean(&m, &[]);
}

// ---- shared-host-keys ----

#[test]
fn kept_host_keys_are_found_and_removed_when_sshd_makes_new_ones() {
    let m = centos6();
    add_host_keys(&m);
    let report = finds_only(&m, "shared-host-keys");
    let found = findings(&report, "shared-host-keys");
    assert_eq!(found.len(), 1);
    let f = found[0];
    assert_eq!(f["severity"], "error");
    assert_eq!(
        files(f),
        [
            "/etc/ssh/ssh_host_dsa_key",
            "/etc/ssh/ssh_host_key",
            "/etc/ssh/ssh_host_rsa_key",
        ]
    );
    assert!(f["title"]
        .as_str()
        .unwrap()
        .contains("ssh_deletekeys is false"));
    assert!(f["fix"].as_str().unwrap().contains("/etc/rc.d/init.d/sshd"));
    assert_eq!(f["sealable"], true);

    dry_run_changes_nothing(
        &m,
        &[
            "would fix [shared-host-keys]",
            "/etc/ssh/ssh_host_rsa_key.pub",
        ],
    );
    seal_ok(&m);
    for key in EL6_HOST_KEYS {
        assert!(!m.exists(key), "{key} is still there");
        assert!(!m.exists(&format!("{key}.pub")), "{key}.pub is still there");
    }
    assert!(m.exists("/etc/ssh/sshd_config"));
    assert_clean(&m, &[]);
}

#[test]
fn kept_host_keys_with_nothing_to_make_new_ones_are_left_for_a_person() {
    let m = centos6();
    add_host_keys(&m);
    // An sshd script that does not make keys.
    doctor_common::executable(
        &m,
        "/etc/rc.d/init.d/sshd",
        "#!/bin/sh\nexec /usr/sbin/sshd\n",
    );
    let report = finds_only(&m, "shared-host-keys");
    let f = findings(&report, "shared-host-keys")[0];
    assert_eq!(f["sealable"], false);
    assert!(f["fix"].as_str().unwrap().contains("ssh_deletekeys"));
    let before = tree_state(m.root());
    let (code, text) = seal(&m, &[]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("left for a person"), "{text}");
    assert_eq!(
        tree_state(m.root()),
        before,
        "seal removed keys nothing remakes"
    );
}

#[test]
fn sysconfig_autocreate_no_turns_the_init_script_off() {
    let m = centos6();
    add_host_keys(&m);
    m.write("/etc/sysconfig/sshd", "AUTOCREATE_SERVER_KEYS=NO\n");
    let report = finds_only(&m, "shared-host-keys");
    assert_eq!(findings(&report, "shared-host-keys")[0]["sealable"], false);
}

#[test]
fn ssh_genkeytypes_makes_the_keys_sealable_without_sshd_keygen() {
    let m = centos6();
    add_host_keys(&m);
    doctor_common::executable(
        &m,
        "/etc/rc.d/init.d/sshd",
        "#!/bin/sh\nexec /usr/sbin/sshd\n",
    );
    m.write(
        "/etc/cloud/cloud.cfg.d/50-keys.cfg",
        "ssh_genkeytypes: [rsa, ecdsa]\n",
    );
    let report = finds_only(&m, "shared-host-keys");
    let f = findings(&report, "shared-host-keys")[0];
    assert!(
        f["fix"]
            .as_str()
            .unwrap()
            .contains("ssh_genkeytypes: rsa, ecdsa"),
        "{f:#}"
    );
    seal_ok(&m);
    assert!(!m.exists("/etc/ssh/ssh_host_rsa_key"));
    assert_clean(&m, &[]);
}

#[test]
fn host_keys_that_cloud_init_deletes_are_not_flagged() {
    let m = centos6();
    add_host_keys(&m);
    m.write(
        "/etc/cloud/cloud.cfg.d/50-keys.cfg",
        "ssh_deletekeys: true\n",
    );
    assert_clean(&m, &[]);
}

#[test]
fn host_keys_without_the_ssh_module_are_flagged() {
    let m = centos6();
    add_host_keys(&m);
    m.write(
        "/etc/cloud/cloud.cfg.d/50-keys.cfg",
        "ssh_deletekeys: true\n",
    );
    let cfg = m.read("/etc/cloud/cloud.cfg").replace(" - ssh\n", "");
    m.write("/etc/cloud/cloud.cfg", &cfg);
    let report = finds_only(&m, "shared-host-keys");
    let f = findings(&report, "shared-host-keys")[0];
    assert!(
        f["title"]
            .as_str()
            .unwrap()
            .contains("none of the module lists"),
        "{f:#}"
    );
}

// ---- fstab-without-nofail ----

#[test]
fn extra_disks_without_nofail_are_found_and_get_nofail() {
    let m = centos6();
    add_fstab_without_nofail(&m);
    fs::set_permissions(
        m.path("/etc/fstab"),
        std::os::unix::fs::PermissionsExt::from_mode(0o640),
    )
    .unwrap();
    let before_fix = m.read("/etc/fstab");
    let report = finds_only(&m, "fstab-without-nofail");
    let found = findings(&report, "fstab-without-nofail");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["severity"], "error");
    let ev = evidence(found[0]);
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert_eq!(
        (ev[0].0.as_str(), ev[0].1),
        ("/etc/fstab", Some(CLOUD_MOUNT_LINENO as u64))
    );
    assert!(ev[0].2.starts_with(CLOUD_MOUNT_LINE), "{ev:?}");
    assert!(ev[0].2.contains("cloud-init"), "{ev:?}");
    assert_eq!(
        (ev[1].0.as_str(), ev[1].1),
        ("/etc/fstab", Some(HAND_MOUNT_LINENO as u64))
    );
    assert!(ev[1].2.starts_with(HAND_MOUNT_LINE), "{ev:?}");

    dry_run_changes_nothing(
        &m,
        &["would fix [fstab-without-nofail]", "/etc/fstab", "nofail"],
    );
    seal_ok(&m);
    let want = before_fix
        .replace(
            CLOUD_MOUNT_LINE,
            "/dev/xvdb\t/mnt\tauto\tdefaults,comment=cloudconfig,nofail\t0\t2",
        )
        .replace(
            HAND_MOUNT_LINE,
            "/dev/vdc   /data   ext4   defaults,nofail   0 2",
        );
    assert_eq!(m.read("/etc/fstab"), want);
    assert_eq!(m.mode("/etc/fstab"), 0o640);
    assert_clean(&m, &[]);
}

#[test]
fn mountall_images_get_nobootwait() {
    let m = centos6();
    add_fstab_without_nofail(&m);
    // An Ubuntu 14.04-style upstart: initctl, /etc/init, mountall.
    doctor_common::executable(&m, "/sbin/initctl", "#!/bin/sh\n");
    doctor_common::executable(&m, "/sbin/mountall", "#!/bin/sh\n");
    m.write("/etc/init/mountall.conf", "task\nexec mountall\n");
    let (code, report) = doctor(&m, &[]);
    assert_eq!(code, 1);
    let f = findings(&report, "fstab-without-nofail");
    assert!(
        f[0]["fix"].as_str().unwrap().contains("nobootwait"),
        "{report:#}"
    );
    let (_, text) = seal(&m, &[]);
    let fstab = m.read("/etc/fstab");
    assert!(
        fstab.contains("defaults,comment=cloudconfig,nobootwait\t0\t2"),
        "{text}\n{fstab}"
    );
    assert!(
        fstab.contains("/dev/vdc   /data   ext4   defaults,nobootwait   0 2"),
        "{fstab}"
    );
    let (_, report) = doctor(&m, &[]);
    assert!(
        findings(&report, "fstab-without-nofail").is_empty(),
        "{report:#}"
    );
}

#[test]
fn fstab_entries_that_cannot_stop_the_boot_are_not_flagged() {
    let m = centos6();
    let mut fstab = m.read("/etc/fstab");
    fstab.push_str(
        "/dev/xvdb /mnt auto defaults,nofail,comment=cloudconfig 0 2\n\
         LABEL=ephemeral0 /mnt2 auto defaults,nobootwait 0 2\n\
         /dev/vdc /data ext4 noauto 0 0\n\
         UUID=9d1c7e3a-0000-4000-8000-000000000001 /home ext4 defaults 1 2\n\
         LABEL=data /srv xfs defaults 0 0\n\
         /dev/vda2 swap swap defaults 0 0\n\
         nfs.example:/export /nfs nfs defaults 0 0\n\
         //files.example/share /smb cifs credentials=/root/c 0 0\n",
    );
    m.write("/etc/fstab", &fstab);
    assert_clean(&m, &[]);
}

#[test]
fn the_root_disk_by_its_kernel_name_is_not_flagged() {
    // RHEL 6 on Xen names the first disk xvde (its sd -> xvd shift of 4).
    let m = centos6();
    m.write(
        "/etc/fstab",
        "/dev/xvde1 / ext4 defaults 1 1\n/dev/xvde2 /boot ext4 defaults 1 2\n\
         /dev/xvde3 swap swap defaults 0 0\nproc /proc proc defaults 0 0\n",
    );
    assert_clean(&m, &[]);
    // And another disk beside it is.
    let mut fstab = m.read("/etc/fstab");
    fstab.push_str("/dev/xvdf /data ext4 defaults 0 2\n");
    m.write("/etc/fstab", &fstab);
    let report = finds_only(&m, "fstab-without-nofail");
    let ev = evidence(findings(&report, "fstab-without-nofail")[0]);
    assert_eq!((ev.len(), ev[0].1), (1, Some(5)));
}

// ---- all four at once ----

#[test]
fn all_state_problems_are_sealed_in_one_run() {
    let m = centos6();
    add_instance_state(&m);
    add_machine_id(&m);
    add_host_keys(&m);
    add_fstab_without_nofail(&m);
    let (code, report) = doctor(&m, &[]);
    assert_eq!(code, 1);
    let mut got = ids(&report);
    got.dedup();
    assert_eq!(
        got,
        [
            "stale-instance-state",
            "shared-machine-id",
            "shared-host-keys",
            "fstab-without-nofail",
        ]
    );
    dry_run_changes_nothing(&m, &["would fix [fstab-without-nofail]"]);
    seal_ok(&m);
    assert_clean(&m, &[]);
}

#[test]
fn a_sysv_entry_of_fsck_pass_0_cannot_stop_the_boot_but_a_systemd_one_can() {
    // SysV stops only on fsck -A, which skips pass 0; a failed mount -a
    // is printed and the boot goes on.
    let m = centos6();
    let mut fstab = m.read("/etc/fstab");
    fstab.push_str("/dev/xvdb /mnt auto defaults 0 0\n");
    m.write("/etc/fstab", &fstab);
    assert_clean(&m, &[]);
    // systemd waits for the device of every entry without nofail.
    doctor_common::executable(&m, "/usr/lib/systemd/systemd", "#!/bin/sh\n");
    fs::create_dir_all(m.path("/etc/systemd/system")).unwrap();
    let (_, report) = doctor(&m, &[]);
    let f = findings(&report, "fstab-without-nofail");
    assert_eq!(f.len(), 1, "{report:#}");
    assert!(
        f[0]["breaks"].as_str().unwrap().contains("emergency mode"),
        "{report:#}"
    );
    assert_eq!(evidence(f[0])[0].1, Some(6));
}

#[test]
fn a_swap_entry_on_a_missing_disk_only_delays_a_systemd_boot() {
    let m = centos6();
    let mut fstab = m.read("/etc/fstab");
    fstab.push_str("/dev/xvdb none swap sw,comment=cloudconfig 0 0\n");
    m.write("/etc/fstab", &fstab);
    // SysV: swapon -a -e skips it.
    assert_clean(&m, &[]);
    doctor_common::executable(&m, "/usr/lib/systemd/systemd", "#!/bin/sh\n");
    fs::create_dir_all(m.path("/etc/systemd/system")).unwrap();
    let (_, report) = doctor(&m, &[]);
    let f = findings(&report, "fstab-without-nofail");
    assert_eq!(f.len(), 1, "{report:#}");
    assert_eq!(f[0]["severity"], "warning");
    assert_eq!(evidence(f[0])[0].1, Some(6));
    seal(&m, &[]);
    assert!(m
        .read("/etc/fstab")
        .ends_with("/dev/xvdb none swap sw,comment=cloudconfig,nofail 0 0\n"));
    let (_, report) = doctor(&m, &[]);
    assert!(
        findings(&report, "fstab-without-nofail").is_empty(),
        "{report:#}"
    );
}

// ---- odd input ----

#[test]
fn odd_input_is_reported_without_a_panic() {
    let m = centos6();
    // Links in loops, a directory where a file is expected, binary bytes.
    link(&m, "/var/lib/cloud/instance", "/var/lib/cloud/instance");
    link(&m, "/var/lib/cloud/instances/loop", "../instances");
    fs::create_dir_all(m.path("/etc/machine-id")).unwrap();
    fs::create_dir_all(m.path("/var/lib/dbus/machine-id")).unwrap();
    fs::create_dir_all(m.path("/etc/ssh/ssh_host_rsa_key")).unwrap();
    link(&m, "/etc/ssh/ssh_host_dsa_key", "ssh_host_dsa_key");
    let mut fstab = fs::read(m.path("/etc/fstab")).unwrap();
    fstab.extend_from_slice(b"/dev/xvdb /mnt auto defaults\xff\xfe 0 2\n\0\0\n");
    fs::write(m.path("/etc/fstab"), fstab).unwrap();
    let (code, report) = doctor(&m, &[]);
    assert_eq!(code, 1, "{report:#}");
    // The state is found; a directory or a link is no machine-id or key.
    assert!(!findings(&report, "stale-instance-state").is_empty());
    assert!(
        findings(&report, "shared-machine-id").is_empty(),
        "{report:#}"
    );
    assert!(
        findings(&report, "shared-host-keys").is_empty(),
        "{report:#}"
    );
    // An fstab that is not UTF-8 is reported, not rewritten.
    let f = findings(&report, "fstab-without-nofail");
    assert_eq!(f.len(), 1, "{report:#}");
    assert_eq!(f[0]["sealable"], false);
    let before = fs::read(m.path("/etc/fstab")).unwrap();
    seal(&m, &[]);
    assert_eq!(fs::read(m.path("/etc/fstab")).unwrap(), before);
    assert!(!m.exists("/var/lib/cloud/instance"));
}
