//! lxd and snap against the `lxd-snap` and `lxd-preseed` cases recorded
//! from real cloud-init 22.4 on Debian 12 (tests/fixtures/modules/cases):
//! both modules are verified on ubuntu only, and the cases' overlays list
//! them in `unverified_modules`; stand-in `snap`, `lxd` and `lxc` programs
//! log each command line (lxc with the environment it got, `lxd init
//! --preseed` with its stdin) to `/var/tmp/snap.log` and `/var/tmp/lxd.log`.
//! A whole-boot plan of a scratch root holding the case's seed and overlay
//! must plan those command lines in that order. The Debian root test
//! (`debian_root.rs`) boots the same cases and compares the logs file by
//! file.

mod common;
mod modules_common;

use common::*;
use modules_common::*;

/// Each `run` effect of `module` in a whole-boot plan: argv, environment,
/// stdin.
fn planned(m: &Machine, module: &str) -> Vec<(Vec<String>, Vec<String>, Option<String>)> {
    let out = m.plan(&["--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    let strs = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|a| a.as_str().unwrap().to_string())
            .collect()
    };
    let mut runs = Vec::new();
    for stage in plan["stages"].as_array().unwrap() {
        for mm in stage["modules"].as_array().into_iter().flatten() {
            if mm["name"] != module {
                continue;
            }
            for e in mm["effects"].as_array().into_iter().flatten() {
                if e["action"] == "run" {
                    runs.push((
                        strs(&e["argv"]),
                        strs(&e["env"]),
                        e["stdin"].as_str().map(str::to_string),
                    ));
                }
            }
        }
    }
    runs
}

/// A planned command as the stand-ins log it: `lxd ARGS`, `LC_ALL=C
/// HOME=/root USER=root lxc ARGS`, `snap ARGS`; a shell line as itself.
fn as_logged(argv: &[String], env: &[String]) -> String {
    if argv[0] == "/bin/sh" && argv[1] == "-c" {
        return argv[2].clone();
    }
    let line = argv.join(" ");
    match argv[0].as_str() {
        "lxc" => {
            let get = |k: &str| {
                env.iter()
                    .find_map(|e| e.strip_prefix(&format!("{k}=")))
                    .unwrap_or_default()
                    .to_string()
            };
            format!(
                "LC_ALL={} HOME={} USER={} {line}",
                get("LC_ALL"),
                get("HOME"),
                get("USER")
            )
        }
        _ => line,
    }
}

#[test]
fn lxd_init_and_bridge_are_planned_as_recorded() {
    let m = machine_for("lxd-snap");
    let logged = expected_file("lxd-snap", "/var/tmp/lxd.log").expect("lxd.log recorded");
    let planned: Vec<String> = planned(&m, "lxd")
        .iter()
        .map(|(argv, env, _)| as_logged(argv, env))
        .collect();
    // The trust password is a secret argument: the plan shows <redacted>.
    let want: Vec<String> = logged
        .lines()
        .map(|l| l.replace("--trust-password=lxd-s3cret", "<redacted>"))
        .collect();
    assert_eq!(planned, want);
    assert!(!m.plan(&[]).contains("lxd-s3cret"));
}

#[test]
fn snap_assertions_and_commands_are_planned_as_recorded() {
    let m = machine_for("lxd-snap");
    let runs = planned(&m, "snap");
    let lines: Vec<String> = runs.iter().map(|(a, e, _)| as_logged(a, e)).collect();
    // The stand-in logs what runs `snap`; the other two write their own log.
    let logged = expected_file("lxd-snap", "/var/tmp/snap.log").expect("snap.log recorded");
    let snap: Vec<&String> = lines.iter().filter(|l| l.starts_with("snap ")).collect();
    assert_eq!(snap, logged.lines().collect::<Vec<_>>());
    assert_eq!(
        expected_file("lxd-snap", "/var/tmp/snap-other.log").unwrap(),
        "plain argv\nnot a snap command\n"
    );
    assert_eq!(
        runs[4].0,
        ["sh", "-c", "echo plain argv >> /var/tmp/snap-other.log"]
    );
    assert_eq!(
        runs[5].0,
        [
            "/bin/sh",
            "-c",
            "echo not a snap command >> /var/tmp/snap-other.log"
        ]
    );
    // The string that does not start with `snap ` is warned of, as 22.4 did.
    let warnings = std::fs::read_to_string(case_dir("lxd-snap").join("expected/warnings")).unwrap();
    assert!(
        warnings.contains("Non-snap commands in snap config:"),
        "{warnings}"
    );
}

#[test]
fn the_lxd_preseed_goes_to_stdin_and_stays_out_of_the_plan() {
    let m = machine_for("lxd-preseed");
    let logged = expected_file("lxd-preseed", "/var/tmp/lxd.log").expect("lxd.log recorded");
    let runs = planned(&m, "lxd");
    let argv: Vec<String> = runs.iter().map(|(a, _, _)| a.join(" ")).collect();
    assert_eq!(argv, ["lxd waitready --timeout=300", "lxd init --preseed"]);
    assert_eq!(runs[1].2.as_deref(), Some("<redacted>"));
    let user_data = std::fs::read_to_string(case_dir("lxd-preseed").join("user-data")).unwrap();
    let preseed: String = user_data
        .split_once("preseed: |\n")
        .unwrap()
        .1
        .lines()
        .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
        .collect();
    assert_eq!(
        logged,
        format!("lxd waitready --timeout=300\nlxd init --preseed\n{preseed}(end of stdin)\n")
    );
    assert!(!m.plan(&[]).contains("preseed-s3cret"));
}

/// A boot of the scratch root (its commands listed, not run: it has no
/// `/bin/sh`) logs the lxd command lines without the trust password or
/// the preseed's.
#[test]
fn no_log_holds_the_lxd_secrets() {
    for (case, secret) in [
        ("lxd-snap", "lxd-s3cret"),
        ("lxd-preseed", "preseed-s3cret"),
    ] {
        let m = machine_for(case);
        let mut out = String::new();
        for args in [
            &["init", "--local"][..],
            &["init"][..],
            &["modules", "--mode=config"][..],
            &["modules", "--mode=final"][..],
        ] {
            let o = m.run(args);
            out.push_str(&String::from_utf8_lossy(&o.stdout));
            out.push_str(&String::from_utf8_lossy(&o.stderr));
        }
        let log = m.read("/var/log/cloud-init.log");
        assert!(log.contains("config-lxd ran successfully"), "{case}: {log}");
        for (what, text) in [("cloud-init.log", &log), ("output", &out)] {
            assert!(!text.contains(secret), "{case}: {what} shows the secret");
        }
        if m.exists("/var/log/cloud-init-output.log") {
            assert!(!m.read("/var/log/cloud-init-output.log").contains(secret));
        }
    }
}
