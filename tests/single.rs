//! `single --name MODULE`: it says what it did, exits as 22.4's
//! `main_single` does (0 ran or already ran, 1 failed or no such module),
//! names a module cloud-init 22.4 has and cloudboot lacks as such, and with
//! `--report` writes the reporting events 22.4 writes to the log.

mod common;

use common::*;

fn booted() -> Machine {
    let m = Machine::seeded(
        "instance-id: iid-single-1\n",
        "#cloud-config\nwrite_files: [{path: /etc/single-test, content: hi}]\nbootcmd: 5\n",
    );
    m.boot_expecting(&[0, 1, 0, 0]);
    m
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn single_says_what_it_did_and_exits_as_cloud_init() {
    let m = booted();
    // Already ran this instance: not run again, and that is success.
    let out = m.run(&["single", "--name", "write_files"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with(
            "single write_files: skipped (already ran (freq=once-per-instance): semaphore \
             /var/lib/cloud/instances/iid-single-1/sem/config_write_files"
        ),
        "{}",
        stderr(&out)
    );
    // With --frequency always it runs.
    std::fs::remove_file(m.path("/etc/single-test")).unwrap();
    let out = m.run(&[
        "single",
        "--name",
        "cc_write_files",
        "--frequency",
        "always",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("single cc_write_files: ran ("),
        "{}",
        stderr(&out)
    );
    assert_eq!(m.read("/etc/single-test"), "hi");
    // A module whose config is bad fails: 1 and 22.4's warning.
    let out = m.run(&["single", "--name", "bootcmd", "--frequency", "always"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Ran bootcmd but it failed!"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("single bootcmd: failed ("),
        "{}",
        stderr(&out)
    );
    // No such module anywhere.
    let out = m.run(&["single", "--name", "no_such_module"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("Did not run no_such_module, does it exist?"),
        "{}",
        stderr(&out)
    );
    // Every module of 22.4 is there: ubuntu_autoinstall runs (nothing to
    // do without `autoinstall`, as 22.4 says).
    let out = m.run(&["single", "--name", "ubuntu_autoinstall"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("single ubuntu_autoinstall: ran ("),
        "{}",
        stderr(&out)
    );
    assert!(
        m.read("/var/log/cloud-init.log").contains(
            "Skipping module named ubuntu_autoinstall, no 'autoinstall' key in configuration"
        ),
        "{}",
        m.read("/var/log/cloud-init.log")
    );
}

#[test]
fn report_writes_the_events_cloud_init_writes() {
    let m = booted();
    let log_before = m.read("/var/log/cloud-init.log").len();
    m.run_ok(
        &["single", "--name", "write_files", "--frequency", "always"],
        0,
    );
    let log = m.read("/var/log/cloud-init.log");
    assert!(
        !log[log_before..].contains("single/"),
        "no events without --report:\n{}",
        &log[log_before..]
    );
    let log_before = log.len();
    m.run_ok(
        &[
            "single",
            "--name",
            "write_files",
            "--frequency",
            "always",
            "--report",
        ],
        0,
    );
    let log = m.read("/var/log/cloud-init.log");
    let new = &log[log_before..];
    for line in [
        "start: single/write_files/config-write_files: running config-write_files with frequency always",
        "finish: single/write_files/config-write_files: SUCCESS: config-write_files ran successfully",
        "finish: single/write_files: SUCCESS: running single module write_files",
    ] {
        assert!(new.contains(line), "{line} not in:\n{new}");
    }
    // A failure fails the single's event too.
    m.run_ok(
        &[
            "single",
            "--name",
            "bootcmd",
            "--frequency",
            "always",
            "--report",
        ],
        1,
    );
    let log = m.read("/var/log/cloud-init.log");
    assert!(
        log.contains("finish: single/bootcmd: FAIL: running single module bootcmd"),
        "{log}"
    );
}
