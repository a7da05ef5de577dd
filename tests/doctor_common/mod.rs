//! Images for `cloudboot doctor` and `cloudboot seal`: a clean CentOS
//! 6-style root (no finding), and one function per problem that puts that
//! problem in it, grouped by kind (`init.rs`, `network.rs`, `state.rs`).
//! Each problem's tests (tests/doctor_*.rs) put one problem in a clean
//! root; tests/doctor_seal.rs puts them all in one.
#![allow(dead_code)]

pub mod init;
pub mod network;
pub mod state;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::common::Machine;

/// Writes an executable file.
pub fn executable(m: &Machine, guest: &str, content: &str) {
    m.write(guest, content);
    fs::set_permissions(m.path(guest), fs::Permissions::from_mode(0o755)).unwrap();
}

/// Makes a symlink (parents created).
pub fn link(m: &Machine, guest: &str, target: &str) {
    let p = m.path(guest);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    let _ = fs::remove_file(&p);
    std::os::unix::fs::symlink(target, p).unwrap();
}

/// The runlevels a chkconfig `2345` script starts in, and those it stops in.
pub const START_LEVELS: [u8; 4] = [2, 3, 4, 5];
pub const STOP_LEVELS: [u8; 3] = [0, 1, 6];

/// A SysV script in `/etc/rc.d/init.d` enabled as `chkconfig --add` does
/// from `# chkconfig: 2345 START STOP`: `S<start>name` links in rc2-5.d,
/// `K<stop>name` in rc0, 1 and 6.
pub fn sysv_service(m: &Machine, name: &str, start: u8, stop: u8) {
    executable(
        m,
        &format!("/etc/rc.d/init.d/{name}"),
        &format!("#!/bin/sh\n# chkconfig: 2345 {start:02} {stop:02}\n# description: {name}\n"),
    );
    for l in START_LEVELS {
        link(
            m,
            &format!("/etc/rc.d/rc{l}.d/S{start:02}{name}"),
            &format!("../init.d/{name}"),
        );
    }
    for l in STOP_LEVELS {
        link(
            m,
            &format!("/etc/rc.d/rc{l}.d/K{stop:02}{name}"),
            &format!("../init.d/{name}"),
        );
    }
}

/// cloud-init 0.7.5's cloud.cfg as CentOS 6's package ships it (`distro:
/// rhel`, `ssh_deletekeys: 0`, no `datasource_list`).
pub const CENTOS6_CLOUD_CFG: &str = "\
users:
 - default

disable_root: 1
ssh_pwauth:   0

locale_configfile: /etc/sysconfig/i18n
mount_default_fields: [~, ~, 'auto', 'defaults,nofail', '0', '2']
resize_rootfs_tmp: /dev
ssh_deletekeys:   0
ssh_genkeytypes:  ~
syslog_fix_perms: ~

cloud_init_modules:
 - bootcmd
 - write-files
 - resizefs
 - set_hostname
 - update_hostname
 - update_etc_hosts
 - rsyslog
 - users-groups
 - ssh

cloud_config_modules:
 - mounts
 - locale
 - set-passwords
 - timezone
 - puppet
 - chef
 - salt-minion
 - mcollective
 - disable-ec2-metadata
 - runcmd

cloud_final_modules:
 - rightscale_userdata
 - scripts-per-once
 - scripts-per-boot
 - scripts-per-instance
 - scripts-user
 - ssh-authkey-fingerprints
 - keys-to-console
 - phone-home
 - final-message

system_info:
  default_user:
    name: cloud-user
    lock_passwd: true
    gecos: Cloud User
    groups: [wheel, adm]
    sudo: [\"ALL=(ALL) NOPASSWD:ALL\"]
    shell: /bin/bash
  distro: rhel
  paths:
    cloud_dir: /var/lib/cloud
    templates_dir: /etc/cloud/templates
  ssh_svcname: sshd
";

/// A clean CentOS 6-style image, as a template should be before it is
/// snapshotted: the `network` service (S10) and sshd (S55) enabled,
/// NetworkManager not installed, cloudboot installed as `cloudboot install
/// --init sysv` leaves it (its local stage at S07, before `network`; the
/// network stage S26, config S27, final S99; `/usr/bin/cloud-init` a link
/// to it), cloud-init 0.7.5's cloud.cfg, a DHCP `ifcfg-eth0` as the distro
/// writes it (no HWADDR), an fstab of the root disk alone, no host keys,
/// no machine-id, no `/var/lib/cloud`. `cloudboot doctor` finds nothing.
pub fn centos6() -> Machine {
    let m = Machine::new();
    m.write("/etc/redhat-release", "CentOS release 6.10 (Final)\n");
    m.write("/etc/centos-release", "CentOS release 6.10 (Final)\n");
    m.write("/etc/inittab", "# Default runlevel.\nid:3:initdefault:\n");
    m.write(
        "/etc/sysconfig/network",
        "NETWORKING=yes\nHOSTNAME=localhost.localdomain\n",
    );
    m.write(
        "/etc/sysconfig/network-scripts/ifcfg-eth0",
        "DEVICE=eth0\nBOOTPROTO=dhcp\nONBOOT=yes\nTYPE=Ethernet\n",
    );
    m.write(
        "/etc/sysconfig/network-scripts/ifcfg-lo",
        "DEVICE=lo\nIPADDR=127.0.0.1\nNETMASK=255.0.0.0\nNETWORK=127.0.0.0\n\
         BROADCAST=127.255.255.255\nONBOOT=yes\nNAME=loopback\n",
    );
    m.write(
        "/etc/fstab",
        "UUID=0f3a7c8e-4b5d-4e6f-8a9b-1c2d3e4f5a6b /  ext4  defaults  1 1\n\
         tmpfs  /dev/shm  tmpfs  defaults  0 0\n\
         devpts  /dev/pts  devpts  gid=5,mode=620  0 0\n\
         sysfs  /sys  sysfs  defaults  0 0\n\
         proc  /proc  proc  defaults  0 0\n",
    );
    m.write("/etc/ssh/sshd_config", "PasswordAuthentication no\n");
    m.write("/etc/cloud/cloud.cfg", CENTOS6_CLOUD_CFG);
    fs::create_dir_all(m.path("/etc/cloud/cloud.cfg.d")).unwrap();
    fs::create_dir_all(m.path("/etc/udev/rules.d")).unwrap();
    fs::create_dir_all(m.path("/var/lib/dhclient")).unwrap();
    fs::create_dir_all(m.path("/var/log")).unwrap();
    executable(&m, "/sbin/init", "#!/bin/sh\n# SysV init\n");
    executable(&m, "/usr/sbin/sshd", "#!/bin/sh\n");
    executable(&m, "/sbin/dhclient", "#!/bin/sh\n");
    executable(&m, "/usr/bin/cloudboot", "#!/bin/sh\n# cloudboot\n");
    link(&m, "/usr/bin/cloud-init", "cloudboot");
    sysv_service(&m, "network", 10, 90);
    sysv_service(&m, "sshd", 55, 25);
    sysv_service(&m, "cloudboot-local", 7, 93);
    sysv_service(&m, "cloudboot", 26, 74);
    sysv_service(&m, "cloudboot-config", 27, 73);
    sysv_service(&m, "cloudboot-final", 99, 1);
    link(&m, "/etc/init.d", "rc.d/init.d");
    m
}

/// Runs `cloudboot doctor --format json` on the machine's root; returns
/// its exit code and the report.
pub fn doctor(m: &Machine, extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec!["doctor", "--format", "json"];
    args.extend_from_slice(extra);
    let out = m.run(&args);
    let text = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "doctor printed no JSON ({e}):\n{text}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

/// The ids of a doctor report's findings, in order.
pub fn ids(report: &serde_json::Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

/// The findings of one id.
pub fn findings<'a>(report: &'a serde_json::Value, id: &str) -> Vec<&'a serde_json::Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == id)
        .collect()
}

/// Asserts that doctor finds nothing at all on the machine.
pub fn assert_clean(m: &Machine, extra: &[&str]) {
    let (code, report) = doctor(m, extra);
    assert_eq!(
        (code, ids(&report)),
        (0, vec![]),
        "doctor on a clean image:\n{report:#}"
    );
}

/// Runs `cloudboot seal ARGS` on the machine's root; returns exit code and
/// what it printed.
pub fn seal(m: &Machine, extra: &[&str]) -> (i32, String) {
    let mut args = vec!["seal"];
    args.extend_from_slice(extra);
    let out = m.run(&args);
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Asserts that doctor exits 1 finding `id` and nothing else (but the ids
/// in `also`, which the image carries too); returns the report.
pub fn finds_only(m: &Machine, id: &str, also: &[&str]) -> serde_json::Value {
    let (code, report) = doctor(m, &[]);
    assert_eq!(code, 1, "doctor's exit code:\n{report:#}");
    let got = ids(&report);
    assert!(
        got.iter().any(|g| g == id) && got.iter().all(|g| g == id || also.contains(&g.as_str())),
        "doctor found {got:?}, not only {id}:\n{report:#}"
    );
    report
}

/// The evidence of a finding as (file, line, text).
pub fn evidence(f: &serde_json::Value) -> Vec<(String, Option<u64>, String)> {
    f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["file"].as_str().unwrap().to_string(),
                e["line"].as_u64(),
                e["text"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The evidence of a finding as (file, line).
pub fn places(f: &serde_json::Value) -> Vec<(String, Option<u64>)> {
    evidence(f)
        .into_iter()
        .map(|(file, line, _)| (file, line))
        .collect()
}

/// `seal --dry-run` exits 0, says each of `wanted` and changes nothing;
/// returns what it printed.
pub fn dry_run_changes_nothing(m: &Machine, wanted: &[&str]) -> String {
    let before = tree_state(m.root());
    let (code, text) = seal(m, &["--dry-run"]);
    assert_eq!(code, 0, "seal --dry-run:\n{text}");
    for w in wanted {
        assert!(
            text.contains(w),
            "seal --dry-run does not say {w:?}:\n{text}"
        );
    }
    assert_eq!(
        tree_state(m.root()),
        before,
        "seal --dry-run changed the image"
    );
    text
}

/// `seal` exits 0; what it printed.
pub fn seal_ok(m: &Machine) -> String {
    let (code, text) = seal(m, &[]);
    assert_eq!(code, 0, "seal:\n{text}");
    text
}

/// The whole tree under a directory, as text (path, kind, mode, owner,
/// content or link target, modification time), to show that a command
/// changed nothing in it.
pub fn tree_state(dir: &Path) -> String {
    let mut out = String::new();
    let mut stack = vec![dir.to_path_buf()];
    let mut entries = Vec::new();
    while let Some(d) = stack.pop() {
        let Ok(list) = fs::read_dir(&d) else { continue };
        for e in list.flatten() {
            let p = e.path();
            let md = p.symlink_metadata().unwrap();
            if md.is_dir() && !md.file_type().is_symlink() {
                stack.push(p.clone());
            }
            entries.push((p, md));
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (p, md) in entries {
        let what = if md.file_type().is_symlink() {
            format!("-> {}", fs::read_link(&p).unwrap().display())
        } else if md.is_file() {
            format!("{:x}", content_hash(&p))
        } else {
            String::new()
        };
        out.push_str(&format!(
            "{} {:o} {}:{} {} {}\n",
            p.strip_prefix(dir).unwrap().display(),
            md.mode(),
            md.uid(),
            md.gid(),
            md.mtime_nsec() + md.mtime() * 1_000_000_000,
            what
        ));
    }
    out
}

/// A hash of a file's content (FNV-1a: enough to tell a change).
fn content_hash(p: &Path) -> u64 {
    let bytes = fs::read(p).unwrap_or_default();
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}
