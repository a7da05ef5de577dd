//! The state problems, each put into a clean image by one function: what a
//! template keeps of the instance it was made on.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::common::Machine;

#[allow(unused_imports)]
use super::{executable, link, sysv_service};

/// The template's instance-id in [`add_instance_state`].
pub const TEMPLATE_IID: &str = "iid-template";

/// A template booted once by cloud-init: the `instance` link to
/// `instances/iid-template` (its semaphores, user-data, datasource), the
/// per-once semaphores in `sem/`, `data/`, the NoCloud seed it booted
/// from, and the two logs.
pub fn add_instance_state(m: &Machine) {
    let idir = format!("/var/lib/cloud/instances/{TEMPLATE_IID}");
    for module in ["config_ssh", "config_users_groups", "config_runcmd"] {
        m.write(&format!("{idir}/sem/{module}"), "4242: 1733580000.0\n");
    }
    m.write(
        &format!("{idir}/user-data.txt"),
        "#cloud-config\nruncmd: [touch /x]\n",
    );
    m.write(
        &format!("{idir}/datasource"),
        "DataSourceNoCloud: DataSourceNoCloud [seed=/var/lib/cloud/seed/nocloud][dsmode=local]\n",
    );
    super::link(m, "/var/lib/cloud/instance", &idir);
    m.write(
        "/var/lib/cloud/sem/config_scripts_per_once.once",
        "4242: 1733580000.0\n",
    );
    m.write(
        "/var/lib/cloud/data/instance-id",
        &format!("{TEMPLATE_IID}\n"),
    );
    m.write(
        "/var/lib/cloud/data/previous-instance-id",
        &format!("{TEMPLATE_IID}\n"),
    );
    m.seed(
        &format!("instance-id: {TEMPLATE_IID}\nlocal-hostname: template\n"),
        "#cloud-config\npassword: template\n",
    );
    m.write(
        "/var/log/cloud-init.log",
        "2024-12-07 14:00:00,000 - util.py[DEBUG]: Cloud-init v. 0.7.5 running 'init-local'\n",
    );
    m.write(
        "/var/log/cloud-init-output.log",
        "Cloud-init v. 0.7.5 finished at Sat, 07 Dec 2024 14:00:09 +0000.\n",
    );
}

/// The template's machine id in both places CentOS 6 may hold one.
pub const TEMPLATE_MACHINE_ID: &str = "4c4c4544004e3510804cb4c04f4e3232";

/// A machine-id in `/etc/machine-id` and D-Bus's own file
/// `/var/lib/dbus/machine-id` (a regular file, as CentOS 6's dbus makes it).
pub fn add_machine_id(m: &Machine) {
    m.write("/etc/machine-id", &format!("{TEMPLATE_MACHINE_ID}\n"));
    m.write(
        "/var/lib/dbus/machine-id",
        &format!("{TEMPLATE_MACHINE_ID}\n"),
    );
}

/// EL6's host key files (SSH1's `ssh_host_key`, rsa, dsa), private at 0600.
pub const EL6_HOST_KEYS: &[&str] = &[
    "/etc/ssh/ssh_host_key",
    "/etc/ssh/ssh_host_rsa_key",
    "/etc/ssh/ssh_host_dsa_key",
];

/// An sshd init script shaped like EL6's: `start` makes missing keys with
/// ssh-keygen before it starts sshd (written for these tests).
pub const EL6_SSHD_SCRIPT: &str = "\
#!/bin/bash
# sshd  Start up the OpenSSH server daemon
# chkconfig: 2345 55 25
# description: OpenSSH server daemon
[ -f /etc/sysconfig/sshd ] && . /etc/sysconfig/sshd
KEYGEN=/usr/bin/ssh-keygen
SSHD=/usr/sbin/sshd
RSA_KEY=/etc/ssh/ssh_host_rsa_key
DSA_KEY=/etc/ssh/ssh_host_dsa_key
do_rsa_keygen() {
    [ -s $RSA_KEY ] || $KEYGEN -q -t rsa -f $RSA_KEY -C '' -N ''
}
do_dsa_keygen() {
    [ -s $DSA_KEY ] || $KEYGEN -q -t dsa -f $DSA_KEY -C '' -N ''
}
start() {
    if [ \"x${AUTOCREATE_SERVER_KEYS}\" != xNO ]; then
        do_rsa_keygen
        do_dsa_keygen
    fi
    $SSHD
}
case \"$1\" in start) start ;; esac
";

/// EL6's host keys kept in the image (its cloud.cfg says `ssh_deletekeys:
/// 0`), with an sshd init script that makes missing keys on start.
pub fn add_host_keys(m: &Machine) {
    for key in EL6_HOST_KEYS {
        m.write(
            key,
            "-----BEGIN RSA PRIVATE KEY-----\nTEMPLATE\n-----END RSA PRIVATE KEY-----\n",
        );
        fs::set_permissions(m.path(key), fs::Permissions::from_mode(0o600)).unwrap();
        m.write(&format!("{key}.pub"), "ssh-rsa AAAATEMPLATE\n");
    }
    executable(m, "/etc/rc.d/init.d/sshd", EL6_SSHD_SCRIPT);
}

/// The fstab lines [`add_fstab_without_nofail`] adds, and their line
/// numbers when it is given the clean fixture's fstab (five lines).
pub const CLOUD_MOUNT_LINE: &str = "/dev/xvdb\t/mnt\tauto\tdefaults,comment=cloudconfig\t0\t2";
pub const CLOUD_MOUNT_LINENO: usize = 7;
pub const HAND_MOUNT_LINE: &str = "/dev/vdc   /data   ext4   defaults   0 2";
pub const HAND_MOUNT_LINENO: usize = 8;

/// The entry cloud-init's mounts module wrote for the template's
/// instance-store disk (`/dev/xvdb` on `/mnt`, `comment=cloudconfig`) and
/// a second disk mounted by hand (`/dev/vdc`), neither with `nofail`.
pub fn add_fstab_without_nofail(m: &Machine) {
    let mut fstab = m.read("/etc/fstab");
    fstab.push_str("# the template's extra disks\n");
    fstab.push_str(&format!("{CLOUD_MOUNT_LINE}\n{HAND_MOUNT_LINE}\n"));
    m.write("/etc/fstab", &fstab);
}
