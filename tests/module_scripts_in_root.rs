//! The modules whose work is a small shell script run inside the root
//! (grub_dpkg's device lookup, reset_rmc's node-id check), run for real in
//! a busybox root under chroot with stub programs standing in for
//! grub-probe, udevadm, debconf-set-selections, rmcctrl and recfgct: what
//! the stubs were given is what 22.4's functions give them.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::Machine;

const META: &str = "instance-id: iid-scripts-1\n";

fn busybox_root(user: &str) -> Option<Machine> {
    if !common::can_chroot() {
        return None;
    }
    let m = Machine::seeded(META, user);
    m.install_busybox();
    for applet in ["sort", "head", "sed", "grep", "mv"] {
        std::os::unix::fs::symlink("busybox", m.path(&format!("/bin/{applet}"))).unwrap();
    }
    // The scripts send what they do not keep to /dev/null, as every real
    // root has it (a plain file does here).
    m.write("/dev/null", "");
    // A Debian root, so grub_dpkg (Debian and Ubuntu only) runs.
    m.write("/etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
    Some(m)
}

fn script(m: &Machine, path: &str, body: &str) {
    m.write(path, &format!("#!/bin/sh\n{body}"));
    std::fs::set_permissions(m.path(path), std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn grub_dpkg_takes_the_first_by_id_link_of_the_boot_disk() {
    let Some(m) = busybox_root("#cloud-config\n{}\n") else {
        return;
    };
    m.write("/dev/vda", "");
    script(&m, "/usr/sbin/grub-probe", "echo /dev/vda\n");
    script(
        &m,
        "/bin/udevadm",
        "echo /dev/disk/by-path/pci-0 /dev/disk/by-id/virtio-b /dev/disk/by-id/virtio-a\n",
    );
    script(
        &m,
        "/usr/bin/debconf-set-selections",
        "cat > /var/tmp/selections\n",
    );
    m.run_ok(&["init"], 0);
    m.run_ok(&["single", "--name", "grub_dpkg"], 0);
    assert_eq!(
        m.read("/var/tmp/selections"),
        "grub-pc grub-pc/install_devices string /dev/disk/by-id/virtio-a\n\
         grub-pc grub-pc/install_devices_empty boolean false\n"
    );
}

#[test]
fn grub_dpkg_without_a_device_says_empty_and_a_probe_error_fails() {
    let Some(m) = busybox_root("#cloud-config\n{}\n") else {
        return;
    };
    script(
        &m,
        "/usr/sbin/grub-probe",
        "echo 'grub-probe: error: failed to get canonical path of /dev/root.' >&2; exit 1\n",
    );
    script(
        &m,
        "/usr/bin/debconf-set-selections",
        "cat > /var/tmp/selections\n",
    );
    m.run_ok(&["init"], 0);
    m.run_ok(&["single", "--name", "grub_dpkg"], 0);
    assert_eq!(
        m.read("/var/tmp/selections"),
        "grub-pc grub-pc/install_devices string \n\
         grub-pc grub-pc/install_devices_empty boolean true\n"
    );
    // Any other grub-probe failure fails the module, as 22.4 re-raises it.
    script(
        &m,
        "/usr/sbin/grub-probe",
        "echo 'grub-probe: error: disk not found.' >&2; exit 1\n",
    );
    let out = m.run(&["single", "--name", "grub_dpkg", "--frequency", "always"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

#[test]
fn reset_rmc_needs_a_new_node_id() {
    let Some(m) = busybox_root("#cloud-config\n{}\n") else {
        return;
    };
    m.write("/etc/ct_node_id", "old-id\nsecond line\n");
    script(
        &m,
        "/opt/rsct/install/bin/rmcctrl",
        "echo \"rmcctrl $*\" >> /var/tmp/rsct.log\n",
    );
    script(
        &m,
        "/opt/rsct/install/bin/recfgct",
        "echo recfgct >> /var/tmp/rsct.log; echo new-id > /etc/ct_node_id\n",
    );
    m.run_ok(&["init"], 0);
    m.run_ok(&["single", "--name", "reset_rmc"], 0);
    assert_eq!(m.read("/var/tmp/rsct.log"), "rmcctrl -z\nrecfgct\n");
    // recfgct that leaves the id as it was: 22.4's error.
    script(&m, "/opt/rsct/install/bin/recfgct", "true\n");
    let out = m.run(&["single", "--name", "reset_rmc", "--frequency", "always"]);
    assert_eq!(out.status.code(), Some(1));
    // The script says why on its stderr: the output log.
    let log = m.read("/var/log/cloud-init-output.log");
    assert!(log.contains("New node ID did not get generated."), "{log}");
}
