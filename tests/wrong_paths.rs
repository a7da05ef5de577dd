//! Wrong paths and wrong input are errors, said once, with a non-zero exit:
//! a `--root`, `--device` or `boot --seed` that is not there; a plan that
//! finds errors; an error is not repeated in the same output or log; a
//! `datasource_list` naming a datasource cloudboot does not have is warned
//! about; `net render` says why the input it guessed does not parse.

mod common;

use std::process::Command;

use common::{Machine, BIN};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_root_that_is_not_there_is_an_error_and_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-root");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    for args in [&["boot"][..], &["init", "--local"], &["plan"], &["status"]] {
        for (root, why) in [
            (&missing, "no such directory"),
            (&file, "is not a directory"),
        ] {
            let out = Command::new(BIN)
                .arg("--root")
                .arg(root)
                .args(args)
                .output()
                .unwrap();
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{args:?} {root:?}: {err}");
            let error_line = err.lines().last().unwrap();
            assert!(
                error_line.ends_with(&format!(
                    "error: argument --root: {}",
                    if why == "no such directory" {
                        format!("no such directory: '{}'", root.display())
                    } else {
                        format!("'{}' is not a directory", root.display())
                    }
                )),
                "{args:?}: {err}"
            );
        }
        assert!(!missing.exists(), "{args:?} created the root");
    }
}

#[test]
fn boot_with_a_seed_that_is_not_there_is_an_error() {
    let m = Machine::new();
    let out = m.run(&["boot", "--seed", "/no/such/seed-dir"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .ends_with("boot: error: argument --seed: no such directory: '/no/such/seed-dir'\n"),
        "{}",
        stderr(&out)
    );
    assert!(m.snapshot().is_empty(), "nothing may be written");
}

#[test]
fn boot_with_a_seed_without_meta_data_is_an_error() {
    let m = Machine::new();
    let seed = tempfile::tempdir().unwrap();
    std::fs::write(seed.path().join("user-data"), "#cloud-config\n{}\n").unwrap();
    let out = m.run(&["boot", "--seed", seed.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "cloudboot boot: cannot install seed {0}: {0}/meta-data is missing \
             (a NoCloud seed needs meta-data and user-data)\n",
            seed.path().display()
        )
    );
    assert!(m.snapshot().is_empty(), "nothing may be written");
}

#[test]
fn a_device_that_is_not_there_is_an_error() {
    let m = Machine::new();
    let out = m.run(&["--device", "/no/such.iso", "init", "--local"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .ends_with("error: argument --device: no such file or device: '/no/such.iso'\n"),
        "{}",
        stderr(&out)
    );
    assert!(m.snapshot().is_empty(), "nothing may be written");
}

/// A seed whose user-data has two modules' keys of the wrong type.
fn broken_config_machine() -> Machine {
    Machine::seeded(
        "instance-id: iid-wrong-1\n",
        "#cloud-config\nruncmd: {a: 1}\nbootcmd: 5\n",
    )
}

const RUNCMD_ERROR: &str = "runcmd: expected a list, found dict";
const BOOTCMD_ERROR: &str = "bootcmd: expected a list, found int";

#[test]
fn plan_exits_non_zero_when_it_lists_errors() {
    let m = broken_config_machine();
    let out = m.run(&["plan"]);
    let text = stdout(&out);
    assert!(
        text.contains(RUNCMD_ERROR) && text.contains(BOOTCMD_ERROR),
        "{text}"
    );
    // 1, not the number of errors: 2 is the usage-error code.
    assert_eq!(out.status.code(), Some(1), "{text}");
    // As JSON too.
    assert_eq!(m.run(&["plan", "--format", "json"]).status.code(), Some(1));
    // And a plan without errors exits 0.
    let fine = Machine::seeded("instance-id: iid-wrong-2\n", "#cloud-config\n{}\n");
    assert_eq!(fine.run(&["plan"]).status.code(), Some(0));
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// A module's bad config used to be printed twice by `plan` and `boot`
/// (under the module and in the stage's list) and logged twice by a stage
/// (when found and again at the end of the stage).
#[test]
fn a_module_error_is_said_once_in_each_place() {
    let m = broken_config_machine();
    let plan = stdout(&m.run(&["plan"]));
    assert_eq!(count(&plan, RUNCMD_ERROR), 1, "{plan}");
    assert_eq!(count(&plan, BOOTCMD_ERROR), 1, "{plan}");
    assert!(plan.contains("  runcmd: 1 error, shown above\n"), "{plan}");

    // The four stages as the services run them.
    m.run_ok(&["init", "--local"], 0);
    let network = m.run(&["init"]);
    assert_eq!(network.status.code(), Some(1));
    assert_eq!(
        count(&stderr(&network), BOOTCMD_ERROR),
        1,
        "{}",
        stderr(&network)
    );
    m.run_ok(&["modules", "--mode=config"], 1);
    m.run_ok(&["modules", "--mode=final"], 0);
    let log = m.read("/var/log/cloud-init.log");
    assert_eq!(count(&log, RUNCMD_ERROR), 1, "{log}");
    assert_eq!(count(&log, BOOTCMD_ERROR), 1, "{log}");
    let status = m.run_ok(&["status", "--long", "--modules"], 1);
    assert_eq!(count(&status, RUNCMD_ERROR), 1, "{status}");
    assert_eq!(count(&status, BOOTCMD_ERROR), 1, "{status}");

    // `boot` prints its report once.
    let again = broken_config_machine();
    let boot = again.run(&["boot"]);
    assert_eq!(boot.status.code(), Some(1));
    assert_eq!(count(&stdout(&boot), RUNCMD_ERROR), 1, "{}", stdout(&boot));
    assert_eq!(count(&stdout(&boot), BOOTCMD_ERROR), 1, "{}", stdout(&boot));
}

/// A `--file` that is not YAML was listed three times in the network stage
/// (the config is read three times there), so the stage exited 3.
#[test]
fn a_bad_config_file_is_one_error_per_stage() {
    let m = Machine::seeded("instance-id: iid-wrong-3\n", "#cloud-config\n{}\n");
    let bad = m.dir.path().join("bad-extra.cfg");
    std::fs::write(&bad, "a: [\n").unwrap();
    let bad = bad.to_str().unwrap();
    m.run_ok_with(&["--file", bad, "init", "--local"], 1);
    m.run_ok_with(&["--file", bad, "init"], 1);
    for stage in ["init-local", "init"] {
        let errors = m.stage_errors(stage);
        assert_eq!(errors.len(), 1, "{stage}: {errors:?}");
        assert!(
            errors[0].starts_with(&format!("{bad}, line 2")),
            "{errors:?}"
        );
    }
    let log = m.read("/var/log/cloud-init.log");
    assert_eq!(
        count(&log, &format!("{bad}, line 2")),
        2,
        "once per stage:\n{log}"
    );
}

/// A `datasource_list` name nobody knows is warned about (it used to be
/// skipped with a debug line, and the boot ended on None with nothing said).
/// Every cloud-init 22.4 name is a datasource cloudboot has.
#[test]
fn a_datasource_nobody_knows_is_warned_about() {
    let m = Machine::seeded("instance-id: iid-wrong-4\n", "#cloud-config\n{}\n");
    m.write(
        "/etc/cloud/cloud.cfg",
        "datasource_list: [AltCloud, NoClod, None]\n",
    );
    let typo = "datasource_list names NoClod, which is no datasource cloud-init or cloudboot knows (a typo?); skipped";

    let plan = stdout(&m.run(&["plan", "--stage", "local"]));
    assert!(plan.contains(&format!("warning: {typo}\n")), "{plan}");
    assert!(
        !plan.contains("AltCloud, a cloud-init datasource"),
        "{plan}"
    );

    m.boot();
    let log = m.read("/var/log/cloud-init.log");
    // Each stage that searched says it (cloud-init logs its "Could not
    // import" in each too).
    assert!(log.contains(&format!("[WARNING]: {typo}\n")), "{log}");
    let status = m.run_ok(&["status", "--modules"], 0);
    let warnings = status
        .split_once("warnings:\n")
        .map(|(_, rest)| rest.split_once("modules:\n").map_or(rest, |(w, _)| w))
        .unwrap_or_else(|| panic!("no warnings in\n{status}"));
    assert_eq!(warnings, format!("  {typo}\n"), "{status}");
}

#[test]
fn net_render_shows_why_the_format_it_guessed_does_not_parse() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("network-config");
    std::fs::write(
        &input,
        "network:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: true\n     bad: [\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["net", "render", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "cloudboot net render: {}, line 6, column 6: ",
            input.display()
        )) && err.contains("(read as YAML, which it looks like"),
        "{err}"
    );
    assert!(!err.contains("cannot tell"), "{err}");
    assert!(!dir.path().join("out").exists(), "nothing may be written");
}
