//! The mounts module (cc_mounts): the recorded cases of real cloud-init 22.4
//! on Debian 12 (`mounts`, `mounts-defaults`, the mounts part of `full`)
//! booted whole against a scratch root, and what the recordings could not
//! show: a sysvinit (CentOS 6) root, EC2 and ConfigDrive block-device
//! mappings, bad entries, and the swap file really made under chroot.

mod common;
mod modules_common;

use std::os::unix::fs::MetadataExt;

use common::*;
use modules_common::*;

/// The recorder's boot environment: `/run/systemd/system` is a directory, so
/// cloud-init believed systemd runs (README: "What one case does").
fn recorded_machine(case: &str) -> Machine {
    let m = machine_for(case);
    std::fs::create_dir_all(m.path("/run/systemd/system")).unwrap();
    m
}

/// The four stages, whatever their exit codes (for `full`, where modules of
/// other issues may still fail); returns the codes.
fn boot_any(m: &Machine) -> Vec<Option<i32>> {
    [
        &["init", "--local"][..],
        &["init"][..],
        &["modules", "--mode=config"][..],
        &["modules", "--mode=final"][..],
    ]
    .iter()
    .map(|args| m.run(args).status.code())
    .collect()
}

/// One effect of the mounts module in a whole-boot plan: a program run in the
/// root (`run`), or an action on the running machine (`host`).
#[derive(Debug, PartialEq)]
struct Step {
    host: bool,
    line: String,
}

/// The commands and host actions `plan --format json` shows for mounts.
fn planned_steps(m: &Machine) -> Vec<Step> {
    let out = m.plan(&["--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut steps = Vec::new();
    for stage in plan["stages"].as_array().unwrap() {
        for module in stage["modules"].as_array().into_iter().flatten() {
            if module["name"] != "mounts" {
                continue;
            }
            for e in module["effects"].as_array().into_iter().flatten() {
                let host = e["action"] == "host";
                if e["action"] != "run" && !host {
                    continue;
                }
                let line = e["argv"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| shlex_quote(a.as_str().unwrap()))
                    .collect::<Vec<_>>()
                    .join(" ");
                steps.push(Step { host, line });
            }
        }
    }
    steps
}

/// The recorded commands that cc_mounts ran (or logged, for host actions).
fn recorded_steps(case: &str) -> Vec<Step> {
    recorded_commands(case, false)
        .into_iter()
        .filter(|c| {
            let argv0 = c.line.split(' ').next().unwrap_or_default();
            matches!(argv0, "fallocate" | "dd" | "mkswap" | "swapon" | "mount")
                || c.line == "systemctl daemon-reload"
        })
        .map(|c| {
            assert_eq!(c.stage, "init", "{c:?}");
            Step {
                host: c.not_run,
                line: c.line,
            }
        })
        .collect()
}

fn mode(m: &Machine, guest: &str) -> String {
    format!("{:04o}", m.mode(guest))
}

/// fstab, the mount points and the swap file's mode against the recording.
fn assert_recorded_files(m: &Machine, case: &str) {
    let expected = expected_file(case, "/etc/fstab").unwrap();
    assert_eq!(m.read("/etc/fstab"), expected, "{case}: /etc/fstab");
    assert_eq!(
        mode(m, "/etc/fstab"),
        manifest_entry(case, "/etc/fstab").unwrap().mode
    );
    let mut dirs = 0;
    let mut swapfiles = 0;
    for line in manifest(case) {
        let is_mount_point = line.kind == "dir"
            && expected
                .lines()
                .any(|l| l.split('\t').nth(1) == Some(line.path.as_str()));
        let is_swapfile = line.kind == "file"
            && expected
                .lines()
                .any(|l| l.split('\t').next() == Some(line.path.as_str()));
        if is_mount_point {
            dirs += 1;
        }
        if is_swapfile {
            swapfiles += 1;
        }
        if is_mount_point || is_swapfile {
            assert_eq!(line.status, "new", "{case}: {line:?}");
            assert!(m.exists(&line.path), "{case}: {} missing", line.path);
            assert_eq!(
                mode(m, &line.path),
                line.mode,
                "{case}: mode of {}",
                line.path
            );
        }
    }
    assert!(
        dirs > 0 && swapfiles == 1,
        "{case}: {dirs} dirs, {swapfiles} swap files"
    );
}

#[test]
fn mounts_case_is_what_cloud_init_wrote() {
    let m = recorded_machine("mounts");
    m.boot();
    assert_recorded_files(&m, "mounts");
    // Five mount points, the swap file made empty and private (programs do
    // not run in this root: it has no /bin/sh).
    for d in [
        "/data2",
        "/kept-cloud",
        "/mnt/nfs",
        "/mnt/short",
        "/srv/full",
    ] {
        assert!(m.path(d).is_dir(), "{d}");
    }
    assert_eq!(mode(&m, "/swapfile"), "0600");
}

#[test]
fn mounts_case_plans_the_recorded_commands() {
    let m = recorded_machine("mounts");
    let planned = planned_steps(&m);
    let recorded = recorded_steps("mounts");
    assert_eq!(
        recorded,
        vec![
            Step {
                host: false,
                line: "fallocate -l 16M /swapfile".into()
            },
            Step {
                host: false,
                line: "mkswap /swapfile".into()
            },
            Step {
                host: true,
                line: "swapon -a".into()
            },
            Step {
                host: true,
                line: "mount -a".into()
            },
            Step {
                host: true,
                line: "systemctl daemon-reload".into()
            },
        ]
    );
    assert_eq!(planned, recorded);
}

#[test]
fn mounts_defaults_case_is_what_cloud_init_wrote() {
    let m = recorded_machine("mounts-defaults");
    m.boot();
    assert_recorded_files(&m, "mounts-defaults");
    assert_eq!(mode(&m, "/var/swap.img"), "0600");
    // A one-field entry is dropped; nothing made for it.
    assert!(!m.read("/etc/fstab").contains("xvdb"));
}

#[test]
fn mounts_defaults_case_plans_the_recorded_commands() {
    let m = recorded_machine("mounts-defaults");
    let planned = planned_steps(&m);
    let recorded = recorded_steps("mounts-defaults");
    assert_eq!(recorded.len(), 5);
    assert_eq!(recorded[0].line, "fallocate -l 8M /var/swap.img");
    assert_eq!(planned, recorded);
}

#[test]
fn full_case_mounts_part() {
    let m = recorded_machine("full");
    // The init stage (where mounts runs) has no error; later stages may have
    // errors of modules other issues handle.
    assert_eq!(boot_any(&m)[..2], [Some(0), Some(0)]);
    assert_recorded_files(&m, "full");
    assert_eq!(
        planned_steps(&recorded_machine("full")),
        recorded_steps("full")
    );
}

#[test]
fn a_reboot_of_the_same_instance_changes_nothing() {
    let m = recorded_machine("mounts");
    m.boot();
    let fstab = std::fs::metadata(m.path("/etc/fstab")).unwrap();
    let swap = std::fs::metadata(m.path("/swapfile")).unwrap();
    m.reboot();
    std::fs::create_dir_all(m.path("/run/systemd/system")).unwrap();
    // As recorded: boot 2 runs no command of cc_mounts (per instance).
    assert!(recorded_steps_boot2("mounts").is_empty());
    assert!(planned_steps(&m).is_empty());
    m.boot();
    let fstab2 = std::fs::metadata(m.path("/etc/fstab")).unwrap();
    let swap2 = std::fs::metadata(m.path("/swapfile")).unwrap();
    assert_eq!((fstab.ino(), fstab.mtime()), (fstab2.ino(), fstab2.mtime()));
    assert_eq!((swap.ino(), swap.mtime()), (swap2.ino(), swap2.mtime()));
    assert_eq!(
        m.read("/etc/fstab"),
        expected_file("mounts", "/etc/fstab").unwrap()
    );
}

fn recorded_steps_boot2(case: &str) -> Vec<Recorded> {
    recorded_commands(case, true)
        .into_iter()
        .filter(|c| c.stage == "init")
        .collect()
}

/// With busybox as the root's programs, the swap file is really made:
/// 16 MiB, mode 0600, a swap signature.
#[test]
fn the_swap_file_is_made_under_chroot() {
    if !can_chroot() {
        return;
    }
    let m = recorded_machine("mounts");
    m.install_busybox();
    for applet in ["fallocate", "mkswap", "dd"] {
        std::os::unix::fs::symlink("busybox", m.path(&format!("/bin/{applet}"))).unwrap();
    }
    // The scratch root has busybox, not shadow-utils or ssh-keygen: Debian's
    // users_groups and ssh fail here; mounts must not.
    for args in [
        &["init", "--local"][..],
        &["init"],
        &["modules", "--mode=config"],
        &["modules", "--mode=final"],
    ] {
        m.run(args);
    }
    let status =
        String::from_utf8_lossy(&m.run(&["status", "--long", "--modules"]).stdout).into_owned();
    assert!(status.contains("mounts: ran"), "{status}");
    let md = std::fs::metadata(m.path("/swapfile")).unwrap();
    let line = manifest_entry("mounts", "/swapfile").unwrap();
    assert_eq!(
        line.note.as_deref(),
        Some("content not recorded (size 16777216)")
    );
    assert_eq!(md.len(), 16 * 1024 * 1024);
    assert_eq!(mode(&m, "/swapfile"), line.mode);
    let data = std::fs::read(m.path("/swapfile")).unwrap();
    assert_eq!(&data[4096 - 10..4096], b"SWAPSPACE2");
    assert_recorded_files(&m, "mounts");
}

// ---------------------------------------------------------------------------
// What the recordings cannot show.

const CENTOS6_USER: &str = "#cloud-config\n\
mounts:\n\
  - [vdb, /mnt/data]\n\
  - [/dev/vdc, /srv/logs, ext4]\n\
  - [/dev/vdd, /srv/ro, ext4, ro, '0', '0']\n\
  - [vde, /srv/nullopts, xfs, null]\n";

/// A CentOS 6 root: no /run/systemd/system (sysvinit).
fn centos6(user: &str) -> Machine {
    let m = Machine::seeded("instance-id: iid-c6\nlocal-hostname: c6\n", user);
    m.write("/etc/redhat-release", "CentOS release 6.10 (Final)\n");
    m.write(
        "/etc/fstab",
        "\n#\n# /etc/fstab\n# Created by anaconda on Mon Oct  1 00:00:00 2018\n#\nUUID=abcd /  ext4 defaults 1 1\ntmpfs /dev/shm tmpfs defaults 0 0\n",
    );
    m
}

#[test]
fn sysvinit_roots_get_nofail_not_nobootwait() {
    let m = centos6(CENTOS6_USER);
    m.boot();
    let fstab = m.read("/etc/fstab");
    // cloud-init 22.4 writes `defaults,nobootwait` here, which CentOS 6's
    // mount hands to the filesystem, which refuses it.
    assert!(!fstab.contains("nobootwait"), "{fstab}");
    assert_eq!(
        fstab,
        "\n#\n# /etc/fstab\n# Created by anaconda on Mon Oct  1 00:00:00 2018\n#\nUUID=abcd /  ext4 defaults 1 1\ntmpfs /dev/shm tmpfs defaults 0 0\n\
vdb\t/mnt/data\tauto\tdefaults,nofail,comment=cloudconfig\t0\t2\n\
/dev/vdc\t/srv/logs\text4\tdefaults,nofail,comment=cloudconfig\t0\t2\n\
/dev/vdd\t/srv/ro\text4\tro,comment=cloudconfig\t0\t0\n\
vde\t/srv/nullopts\txfs\tdefaults,nofail,comment=cloudconfig\t0\t2\n"
    );
    // No systemd: no daemon-reload.
    let steps = planned_steps(&centos6(CENTOS6_USER));
    assert_eq!(
        steps,
        vec![Step {
            host: true,
            line: "mount -a".into()
        }]
    );
}

#[test]
fn options_from_mount_default_fields_gain_nofail_explicit_ones_do_not() {
    // systemd, and defaults without nofail: 22.4 would write `defaults` for
    // the short entry; cloudboot adds nofail. The full entry keeps its own.
    let m = Machine::seeded(
        META,
        "#cloud-config\nmount_default_fields: [~, ~, auto, defaults, '0', '2']\nmounts:\n  - [vdb, /mnt/short]\n  - [vdc, /mnt/full, ext4, defaults, '0', '2']\n",
    );
    std::fs::create_dir_all(m.path("/run/systemd/system")).unwrap();
    m.boot();
    assert_eq!(
        m.read("/etc/fstab"),
        "vdb\t/mnt/short\tauto\tdefaults,nofail,comment=cloudconfig\t0\t2\n\
vdc\t/mnt/full\text4\tdefaults,comment=cloudconfig\t0\t2\n"
    );
}

const EC2_BASE: &str = "/2018-09-24/meta-data";

fn ec2_routes(bdm: &[(&'static str, &'static str)], user: &str) -> Vec<(&'static str, Vec<u8>)> {
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let mut routes: Vec<(&'static str, Vec<u8>)> = vec![
        (
            leak(format!("{EC2_BASE}/instance-id")),
            b"i-0mounts".to_vec(),
        ),
        (
            leak(format!("{EC2_BASE}/")),
            b"instance-id\nlocal-hostname\nblock-device-mapping/\n".to_vec(),
        ),
        (
            leak(format!("{EC2_BASE}/local-hostname")),
            b"ip-10-0-0-9".to_vec(),
        ),
        (
            leak(format!("{EC2_BASE}/block-device-mapping/")),
            bdm.iter()
                .map(|(k, _)| *k)
                .collect::<Vec<_>>()
                .join("\n")
                .into_bytes(),
        ),
        ("/2018-09-24/user-data", user.as_bytes().to_vec()),
    ];
    for (k, v) in bdm {
        routes.push((
            leak(format!("{EC2_BASE}/block-device-mapping/{k}")),
            v.as_bytes().to_vec(),
        ));
    }
    routes
}

/// An EC2 machine whose metadata maps ephemeral0 to sdb and swap to sdc,
/// and whose kernel named them xvdb and xvdc.
fn ec2_machine(user: &str) -> Machine {
    let (base, _log) = serve(ec2_routes(
        &[
            ("ami", "/dev/sda1"),
            ("ephemeral0", "sdb"),
            ("swap", "sdc"),
            ("root", "/dev/sda1"),
        ],
        user,
    ));
    let m = Machine::new();
    m.write("/sys/class/dmi/id/sys_vendor", "Amazon EC2\n");
    m.write(
        "/etc/cloud/cloud.cfg",
        &format!("datasource_list: [Ec2]\ndatasource:\n  Ec2:\n    metadata_urls: ['{base}']\n    max_wait: 5\n"),
    );
    m.write(
        "/etc/fstab",
        "LABEL=cloudimg-rootfs\t/\text4\tdefaults\t0 1\n",
    );
    for dev in ["xvda", "xvda1", "xvdb", "xvdc"] {
        m.write(&format!("/dev/{dev}"), "");
    }
    for dir in ["xvda/xvda1", "xvdb", "xvdc"] {
        std::fs::create_dir_all(m.path(&format!("/sys/block/{dir}"))).unwrap();
    }
    std::fs::create_dir_all(m.path("/run/systemd/system")).unwrap();
    m
}

#[test]
fn ec2_block_device_mapping_gives_ephemeral0_and_swap() {
    let m = ec2_machine("#cloud-config\n{}\n");
    m.boot();
    assert_eq!(m.read("/var/lib/cloud/data/instance-id"), "i-0mounts\n");
    // sdb and sdc are remapped to the xvd names that exist. 22.4 writes `sw`
    // for the swap device; cloudboot adds nofail (a generated entry).
    assert_eq!(
        m.read("/etc/fstab"),
        "LABEL=cloudimg-rootfs\t/\text4\tdefaults\t0 1\n\
/dev/xvdb\t/mnt\tauto\tdefaults,nofail,x-systemd.requires=cloud-init.service,_netdev,comment=cloudconfig\t0\t2\n\
/dev/xvdc\tnone\tswap\tsw,nofail,comment=cloudconfig\t0\t0\n"
    );
    assert!(m.path("/mnt").is_dir());
}

#[test]
fn ec2_names_in_entries_and_null_removal() {
    // ephemeral0 elsewhere replaces the default /mnt; `[swap, null]` keeps
    // the default swap out (same device).
    let user = "#cloud-config\nmounts:\n  - [ephemeral0, /data, ext4, 'defaults,noatime']\n  - [swap, null]\n";
    let m = ec2_machine(user);
    let steps = planned_steps(&ec2_machine(user));
    m.boot();
    assert_eq!(
        m.read("/etc/fstab"),
        "LABEL=cloudimg-rootfs\t/\text4\tdefaults\t0 1\n\
/dev/xvdb\t/data\text4\tdefaults,noatime,comment=cloudconfig\t0\t2\n"
    );
    assert!(m.path("/data").is_dir() && !m.exists("/mnt"));
    assert_eq!(
        steps,
        vec![
            Step {
                host: true,
                line: "mount -a".into()
            },
            Step {
                host: true,
                line: "systemctl daemon-reload".into()
            },
        ]
    );
}

#[test]
fn configdrive_ec2_metadata_and_labels() {
    let m = Machine::new();
    let base = "/var/lib/cloud/seed/config_drive";
    m.write(
        &format!("{base}/openstack/latest/meta_data.json"),
        r#"{"uuid": "cd-mounts-1", "hostname": "cd"}"#,
    );
    m.write(
        &format!("{base}/openstack/latest/user_data"),
        "#cloud-config\nmounts:\n  - [ephemeral1, /scratch]\n",
    );
    m.write(
        &format!("{base}/ec2/latest/meta-data.json"),
        r#"{"block-device-mapping": {"ami": "vda", "root": "/dev/vda", "ephemeral0": "/dev/vdb", "swap": "sdc"}}"#,
    );
    // ephemeral1 is not in the mapping: found by its filesystem label.
    std::fs::create_dir_all(m.path("/dev/disk/by-label")).unwrap();
    std::os::unix::fs::symlink("../../vdd", m.path("/dev/disk/by-label/ephemeral1")).unwrap();
    for dev in ["vdb", "vdc", "vdd"] {
        m.write(&format!("/dev/{dev}"), "");
        std::fs::create_dir_all(m.path(&format!("/sys/block/{dev}"))).unwrap();
    }
    std::fs::create_dir_all(m.path("/run/systemd/system")).unwrap();
    m.boot();
    assert_eq!(
        m.read("/etc/fstab"),
        "/dev/vdd\t/scratch\tauto\tdefaults,nofail,x-systemd.requires=cloud-init.service,_netdev,comment=cloudconfig\t0\t2\n\
/dev/vdb\t/mnt\tauto\tdefaults,nofail,x-systemd.requires=cloud-init.service,_netdev,comment=cloudconfig\t0\t2\n\
/dev/vdc\tnone\tswap\tsw,nofail,comment=cloudconfig\t0\t0\n"
    );
}

#[test]
fn nocloud_names_nothing_so_no_default_mounts() {
    // The same devices, but NoCloud has no block-device mapping: the module
    // has nothing to write and leaves fstab alone, old cloudconfig lines too
    // (22.4 returns before it writes anything).
    let fstab = "# keep\n/dev/vdf\t/old\tauto\tdefaults,nofail,comment=cloudconfig\t0\t2\n";
    let m = Machine::seeded(META, "#cloud-config\nmounts:\n  - [vdf, null]\n");
    m.write("/etc/fstab", fstab);
    for dev in ["vdb", "vdf"] {
        m.write(&format!("/dev/{dev}"), "");
        std::fs::create_dir_all(m.path(&format!("/sys/block/{dev}"))).unwrap();
    }
    let before = std::fs::metadata(m.path("/etc/fstab")).unwrap().ino();
    assert!(planned_steps(&m).is_empty());
    m.boot();
    assert_eq!(m.read("/etc/fstab"), fstab);
    assert_eq!(
        std::fs::metadata(m.path("/etc/fstab")).unwrap().ino(),
        before
    );
}

#[test]
fn bad_entries_are_named_and_the_others_still_apply() {
    let user = "#cloud-config\nmounts:\n\
  - vdb /mnt/string\n\
  - []\n\
  - [vdb, [/mnt/list]]\n\
  - [/dev/vdc, /ok, ext4, defaults, 0, 2]\n\
  - [vdd, /with space]\n\
  - {vde: /mnt/map}\n\
  - [vdf, /too, many, fields, '0', '2', x]\n\
  - [LABEL=data, /data]\n\
  - [vdg, '', auto]\n\
  - [vdh, /h, auto, '']\n";
    let m = Machine::seeded(META, user);
    m.write("/etc/fstab", "# header\r\nUUID=1 / ext4 defaults 0 1\n");
    let before = std::fs::metadata(m.path("/etc/fstab")).unwrap().ino();
    // Seven errors in status.json; the exit code is 1 for any number.
    m.boot_expecting(&[0, 1, 0, 0]);
    assert_eq!(m.stage_errors("init").len(), 7);
    assert_eq!(
        m.read("/etc/fstab"),
        "# header\nUUID=1 / ext4 defaults 0 1\n\
/dev/vdc\t/ok\text4\tdefaults,comment=cloudconfig\t0\t2\n\
LABEL=data\t/data\tauto\tdefaults,nofail,comment=cloudconfig\t0\t2\n\
vdh\t/h\tauto\t,comment=cloudconfig\t0\t2\n"
    );
    // Replaced by rename, not rewritten in place.
    assert_ne!(
        std::fs::metadata(m.path("/etc/fstab")).unwrap().ino(),
        before
    );
    let errors = m.stage_errors("init").join("\n");
    for needle in [
        "mounts[0]: expected a list",
        "mounts[1]: an fstab entry has 1 to 6 fields, found 0",
        "mounts[2][1] (fs_file): expected a string, found list",
        "mounts[4] (vdd /with space auto",
        "fs_file contains blanks",
        "mounts[5]: expected a list",
        "mounts[6]: an fstab entry has 1 to 6 fields, found 7",
        "mounts[8] (vdg  auto defaults,nofail 0 2): fs_file is empty",
    ] {
        assert!(errors.contains(needle), "{needle:?} not in:\n{errors}");
    }
    assert!(
        !errors.contains("mounts[3]") && !errors.contains("mounts[7]"),
        "{errors}"
    );
}

#[test]
fn lines_not_ours_are_kept_byte_for_byte() {
    let mut fstab =
        b"# \xe9t\xe9 (latin-1 comment)\n\n   # indented\nproc /proc proc defaults 0 0\n".to_vec();
    fstab.extend_from_slice(b"/dev/vdz /z auto defaults,comment=cloudconfig 0 2\n# trailing\n");
    let m = Machine::seeded(META, "#cloud-config\nmounts:\n  - [/dev/vdy, /y]\n");
    m.write("/etc/fstab", "");
    std::fs::write(m.path("/etc/fstab"), &fstab).unwrap();
    m.boot();
    let mut expected =
        b"# \xe9t\xe9 (latin-1 comment)\n\n   # indented\nproc /proc proc defaults 0 0\n# trailing\n"
            .to_vec();
    // No /run/systemd/system in this root: cloudboot's sysvinit defaults.
    expected.extend_from_slice(b"/dev/vdy\t/y\tauto\tdefaults,nofail,comment=cloudconfig\t0\t2\n");
    assert_eq!(std::fs::read(m.path("/etc/fstab")).unwrap(), expected);
    assert_eq!(mode(&m, "/etc/fstab"), "0644");
}

#[test]
fn swap_sizes_auto_and_errors() {
    // auto: from MemTotal (1 GiB of memory gives 1 GiB of swap, capped by
    // maxsize); the free space of a root that is not / is unknown.
    let m = Machine::seeded(
        META,
        "#cloud-config\nswap: {filename: /var/lib/swap/file, size: auto, maxsize: 512M}\n",
    );
    m.write(
        "/proc/meminfo",
        "MemTotal:        1048576 kB\nMemFree: 1 kB\n",
    );
    let steps = planned_steps(&m);
    assert_eq!(
        steps,
        vec![
            Step {
                host: false,
                line: "fallocate -l 512M /var/lib/swap/file".into()
            },
            Step {
                host: false,
                line: "mkswap /var/lib/swap/file".into()
            },
            Step {
                host: true,
                line: "swapon -a".into()
            },
            Step {
                host: true,
                line: "mount -a".into()
            },
        ]
    );
    // btrfs under the swap file: dd, as 22.4 does.
    m.write(
        "/proc/self/mountinfo",
        "22 1 253:1 / / rw shared:1 - ext4 /dev/vda1 rw\n30 22 0:40 / /var/lib rw shared:2 - btrfs /dev/vdb rw\n",
    );
    assert_eq!(
        planned_steps(&m)[0].line,
        "dd if=/dev/zero of=/var/lib/swap/file bs=1M count=512"
    );
    m.boot();
    assert!(m.path("/var/lib/swap").is_dir());
    assert_eq!(mode(&m, "/var/lib/swap/file"), "0600");
    assert_eq!(
        m.read("/etc/fstab"),
        "/var/lib/swap/file\tnone\tswap\tsw,comment=cloudconfig\t0\t0\n"
    );

    // A size cloud-init cannot read: an error, and mounts still apply.
    let m = Machine::seeded(
        META,
        "#cloud-config\nswap: {filename: /swapfile, size: 16m}\nmounts: [[vdb, /b]]\n",
    );
    m.boot_expecting(&[0, 1, 0, 0]);
    assert!(!m.exists("/swapfile"));
    assert_eq!(
        m.read("/etc/fstab"),
        "vdb\t/b\tauto\tdefaults,nofail,comment=cloudconfig\t0\t2\n"
    );
    let errors = m.stage_errors("init").join("\n");
    assert!(
        errors.contains("swap.size: '16m' is not valid input. No swap file made."),
        "{errors}"
    );

    // An existing swap file that /proc/swaps lists is kept, its line written.
    let m = Machine::seeded(
        META,
        "#cloud-config\nswap: {filename: /swapfile, size: 1G}\n",
    );
    m.write("/swapfile", "old");
    m.write(
        "/proc/swaps",
        "Filename\tType\tSize\tUsed\tPriority\n/swapfile file 1048572 0 -2\n",
    );
    assert_eq!(
        planned_steps(&m),
        vec![
            Step {
                host: true,
                line: "swapon -a".into()
            },
            Step {
                host: true,
                line: "mount -a".into()
            },
        ]
    );
    m.boot();
    assert_eq!(m.read("/swapfile"), "old");
}

#[test]
fn wrong_top_level_types_fail_the_module_alone() {
    // mounts not a list: the engine's schema check fails the module before it
    // runs, naming where the value came from; fstab is not touched.
    let m = Machine::seeded(
        META,
        "#cloud-config\nmounts: vdb /mnt\nwrite_files: [{path: /etc/x, content: y}]\n",
    );
    m.write("/etc/fstab", "# mine\n");
    m.boot_expecting(&[0, 1, 0, 0]);
    assert_eq!(m.read("/etc/fstab"), "# mine\n");
    assert_eq!(m.read("/etc/x"), "y");
    let errors = m.stage_errors("init").join("\n");
    assert!(
        errors.contains("mounts") && errors.contains("user-data, line 2"),
        "{errors}"
    );

    // mount_default_fields must have six fields: nothing is changed.
    let m = Machine::seeded(
        META,
        "#cloud-config\nmount_default_fields: [~, ~, auto, defaults]\nmounts: [[vdb, /b]]\n",
    );
    m.write("/etc/fstab", "# mine\n");
    m.boot_expecting(&[0, 1, 0, 0]);
    assert_eq!(m.read("/etc/fstab"), "# mine\n");
    assert!(!m.exists("/b"));
    let errors = m.stage_errors("init").join("\n");
    assert!(
        errors.contains("mount_default_fields: expected 6 fields") && errors.contains("found 4"),
        "{errors}"
    );
}
