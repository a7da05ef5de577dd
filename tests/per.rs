//! `cloud-init-per` answered by cloudboot (a link to the binary), run inside
//! a scratch root under chroot as bootcmd would run it: markers where
//! cloud-init 22.4's script keeps them, with its content, and its rules for
//! once, instance and always.

mod common;

use common::Machine;
use std::process::{Command, Output};

fn machine() -> Option<Machine> {
    if !common::can_chroot() {
        return None;
    }
    let m = Machine::new();
    m.install_busybox();
    m.install_cloudboot(&["cloud-init-per", "cloud-init-run-module"]);
    // The instance link, as the engine leaves it.
    std::fs::create_dir_all(m.path("/var/lib/cloud/instances/i-1/sem")).unwrap();
    std::os::unix::fs::symlink(
        "/var/lib/cloud/instances/i-1",
        m.path("/var/lib/cloud/instance"),
    )
    .unwrap();
    Some(m)
}

fn per(m: &Machine, args: &[&str]) -> Output {
    Command::new("chroot")
        .arg(m.root())
        .args([
            "/bin/env",
            "-i",
            "PATH=/usr/bin:/bin",
            "/usr/bin/cloud-init-per",
        ])
        .args(args)
        .output()
        .unwrap()
}

fn log_line(m: &Machine, freq: &str, name: &str) -> Output {
    per(
        m,
        &[
            freq,
            name,
            "sh",
            "-c",
            &format!("echo {freq} >> /var/tmp/log"),
        ],
    )
}

#[test]
fn once_instance_and_always_run_as_cloud_inits_script_does() {
    let Some(m) = machine() else { return };
    for _ in 0..2 {
        for freq in ["once", "instance", "always"] {
            let out = log_line(&m, freq, "my-marker");
            assert!(out.status.success(), "{out:?}");
        }
    }
    assert_eq!(m.read("/var/tmp/log"), "once\ninstance\nalways\nalways\n");
    // Dashes become underscores; the marker holds status TAB epoch.
    for (path, freq) in [
        ("/var/lib/cloud/sem/bootper.my_marker.once", "once"),
        (
            "/var/lib/cloud/instances/i-1/sem/bootper.my_marker.instance",
            "instance",
        ),
        ("/var/lib/cloud/sem/bootper.my_marker.always", "always"),
    ] {
        let text = m.read(path);
        let (status, epoch) = text.trim_end().split_once('\t').unwrap_or_default();
        assert_eq!(status, "0", "{freq}: {text:?}");
        assert!(epoch.parse::<u64>().unwrap() > 1_700_000_000, "{text:?}");
    }
    // A new instance runs `instance` again, never `once`.
    std::fs::remove_file(m.path("/var/lib/cloud/instance")).unwrap();
    std::fs::create_dir_all(m.path("/var/lib/cloud/instances/i-2/sem")).unwrap();
    std::os::unix::fs::symlink(
        "/var/lib/cloud/instances/i-2",
        m.path("/var/lib/cloud/instance"),
    )
    .unwrap();
    for freq in ["once", "instance"] {
        assert!(log_line(&m, freq, "my-marker").status.success());
    }
    assert_eq!(
        m.read("/var/tmp/log"),
        "once\ninstance\nalways\nalways\ninstance\n"
    );
}

#[test]
fn the_command_status_is_the_exit_status_and_is_recorded() {
    let Some(m) = machine() else { return };
    let out = per(&m, &["once", "fails", "sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(m
        .read("/var/lib/cloud/sem/bootper.fails.once")
        .starts_with("3\t"));
    // Recorded, so a failed `once` is not retried (as cloud-init's script).
    assert_eq!(
        per(&m, &["once", "fails", "sh", "-c", "exit 3"])
            .status
            .code(),
        Some(0)
    );
    let out = per(&m, &["always", "missing", "/no/such/program"]);
    assert_eq!(out.status.code(), Some(127));
}

#[test]
fn a_legacy_dashed_marker_is_renamed_and_honoured() {
    let Some(m) = machine() else { return };
    m.write(
        "/var/lib/cloud/sem/bootper.old-name.once",
        "0\t1600000000\n",
    );
    let out = log_line(&m, "once", "old-name");
    assert!(out.status.success());
    assert!(!m.exists("/var/tmp/log"), "the command ran again");
    assert!(!m.exists("/var/lib/cloud/sem/bootper.old-name.once"));
    assert_eq!(
        m.read("/var/lib/cloud/sem/bootper.old_name.once"),
        "0\t1600000000\n"
    );
}

#[test]
fn bad_calls_are_refused_as_cloud_init_refuses_them() {
    let Some(m) = machine() else { return };
    let out = per(&m, &["once", "a/b", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "name cannot contain a /\n"
    );
    let out = per(&m, &["weekly", "x", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).ends_with("invalid frequency: weekly\n"));
    let out = per(&m, &["once", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("Usage: cloud-init-per frequency"));
    let out = per(&m, &["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("* instance: run only the first boot"));
    assert!(!m.exists("/var/lib/cloud/sem/bootper.x.weekly"));
}

#[test]
fn the_old_run_module_name_still_works_with_execute() {
    let Some(m) = machine() else { return };
    let out = Command::new("chroot")
        .arg(m.root())
        .args([
            "/usr/bin/cloud-init-run-module",
            "once",
            "legacy",
            "execute",
            "sh",
            "-c",
        ])
        .arg("echo legacy >> /var/tmp/log")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is deprecated. Please use cloud-init-per.")
    );
    assert_eq!(m.read("/var/tmp/log"), "legacy\n");
    assert!(m.exists("/var/lib/cloud/sem/bootper.legacy.once"));
}

#[test]
fn cloudboot_per_is_the_same_helper() {
    let Some(m) = machine() else { return };
    let out = Command::new("chroot")
        .arg(m.root())
        .args([
            "/usr/bin/cloudboot",
            "per",
            "once",
            "via-cloudboot",
            "sh",
            "-c",
        ])
        .arg("echo sub >> /var/tmp/log")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(m.read("/var/tmp/log"), "sub\n");
    assert!(m.exists("/var/lib/cloud/sem/bootper.via_cloudboot.once"));
}
