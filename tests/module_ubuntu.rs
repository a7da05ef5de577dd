//! ubuntu_drivers and ubuntu_autoinstall against what 22.4's handlers did
//! (tests/fixtures/ansible/gen_22_4.py drives them with subp mocked), and
//! ubuntu_advantage's reading of `ua enable`'s answer against 22.4's handler
//! on each answer of tests/fixtures/ubuntu_advantage: each
//! case is planned by a whole-boot `plan --format json` of a scratch Ubuntu
//! root, and the module's planned scripts are run here by this machine's
//! `sh` against stand-ins (`ubuntu-drivers` failing as the case says,
//! `debconf-communicate` answering 0, `snap list` printing the case's
//! output); their messages and exit status are compared with 22.4's
//! warnings and exceptions. Paths the scripts use are moved into a
//! temporary directory; nothing is written elsewhere.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;

/// The tables, by accessor (an included table is private to its module).
#[allow(dead_code)]
mod drivers {
    include!("fixtures/ubuntu_drivers/expected.rs");

    pub fn failures() -> &'static [(&'static str, &'static str, i32, Option<&'static str>)] {
        FAILURES
    }

    pub fn template() -> &'static str {
        CASES[0].2[0][1]
    }
}
#[allow(dead_code)]
mod autoinstall {
    include!("fixtures/ubuntu_autoinstall/expected.rs");

    #[allow(clippy::type_complexity)]
    pub fn runs() -> &'static [(
        &'static str,
        &'static str,
        &'static [(&'static str, &'static str)],
        Option<&'static str>,
    )] {
        RUNS
    }
}

/// The named module's `run` commands (argv) in a whole-boot plan of an
/// Ubuntu root holding python3-debconf and ubuntu-drivers.
fn planned(cfg: &str, module: &str) -> Vec<Vec<String>> {
    let m = Machine::seeded("instance-id: i-ubuntu\n", &format!("#cloud-config\n{cfg}"));
    m.write("/etc/os-release", "ID=ubuntu\nVERSION_ID=\"22.04\"\n");
    m.write("/usr/lib/python3/dist-packages/debconf.py", "");
    m.write("/usr/bin/ubuntu-drivers", "#!/bin/sh\n");
    std::fs::set_permissions(
        m.path("/usr/bin/ubuntu-drivers"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    planned_in(&m, module)
}

/// The named module's `run` commands (argv) in a whole-boot plan of `m`.
fn planned_in(m: &Machine, module: &str) -> Vec<Vec<String>> {
    let plan: serde_json::Value = serde_json::from_str(&m.plan(&["--format", "json"])).unwrap();
    let mut cmds = Vec::new();
    for stage in plan["stages"].as_array().unwrap() {
        for mm in stage["modules"].as_array().into_iter().flatten() {
            if mm["name"] != module {
                continue;
            }
            for e in mm["effects"].as_array().into_iter().flatten() {
                if e["action"] == "run" {
                    cmds.push(
                        e["argv"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|a| a.as_str().unwrap().to_string())
                            .collect(),
                    );
                }
            }
        }
    }
    cmds
}

/// Writes an executable stand-in.
fn stand_in(dir: &Path, name: &str, script: &str) {
    let p = dir.join(name);
    std::fs::write(&p, script).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Runs `argv` with the stand-ins in `bin` first on PATH and TMPDIR in
/// `tmp`: (success, stdout, stderr).
fn run(argv: &[String], bin: &Path, tmp: &Path, env: &[(&str, &str)]) -> (bool, String, String) {
    let out = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("TMPDIR", tmp)
        .envs(env.iter().copied())
        .current_dir(tmp)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_template_is_loaded_through_debconf_communicate_and_removed() {
    let cmds = planned(
        "drivers:\n  nvidia:\n    license-accepted: true\n",
        "ubuntu_drivers",
    );
    assert_eq!(cmds.len(), 2, "{cmds:?}");
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    // Logs its owner argument, its input and the template it was given.
    stand_in(
        &bin,
        "debconf-communicate",
        "#!/bin/sh\necho \"$*\" > \"$LOG/args\"\nwhile read -r c p; do\n  echo \"$c $p\" >> \"$LOG/in\"\n  [ \"$c\" = X_LOADTEMPLATEFILE ] && cp \"$p\" \"$LOG/template\" && stat -c %a \"$(dirname \"$p\")\" > \"$LOG/dirmode\" && echo 0\ndone\n",
    );
    let exe_tmp = tmp.path().join("var-tmp-cloud-init");
    let mut argv = cmds[0].clone();
    argv[2] = argv[2].replace("/var/tmp/cloud-init", &exe_tmp.display().to_string());
    let log = tmp.path().display().to_string();
    let (ok, _, err) = run(&argv, &bin, tmp.path(), &[("LOG", &log)]);
    assert!(ok, "{err}");
    let read = |n: &str| std::fs::read_to_string(tmp.path().join(n)).unwrap();
    assert_eq!(read("args"), "-fnoninteractive cloud-init\n");
    assert_eq!(read("template"), drivers::template());
    assert!(read("in").starts_with("X_LOADTEMPLATEFILE "));
    assert!(read("in").ends_with("\nSTOP \n"), "{}", read("in"));
    assert_eq!(read("dirmode"), "700\n");
    // /var/tmp/cloud-init made 1777, the template's directory removed.
    let md = std::fs::metadata(&exe_tmp).unwrap();
    assert_eq!(md.permissions().mode() & 0o7777, 0o1777);
    assert_eq!(std::fs::read_dir(&exe_tmp).unwrap().count(), 0);

    // A status other than 0 fails it, with 22.4's words.
    stand_in(
        &bin,
        "debconf-communicate",
        "#!/bin/sh\necho '20 bad template'\n",
    );
    let (ok, _, err) = run(&argv, &bin, tmp.path(), &[]);
    assert!(!ok);
    assert!(
        err.contains("Failed to register NVIDIA debconf template: 20 bad template"),
        "{err}"
    );
}

#[test]
fn ubuntu_drivers_failures_are_explained_as_22_4_explains_them() {
    let cmds = planned(
        "drivers:\n  nvidia:\n    license-accepted: true\n",
        "ubuntu_drivers",
    );
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    stand_in(
        &bin,
        "ubuntu-drivers",
        "#!/bin/sh\necho \"$*\" > \"$LOG/argv\"\nprintf '%s' \"$OUT\"\nprintf '%s' \"$ERR\" >&2\nexit \"$CODE\"\n",
    );
    let log = tmp.path().display().to_string();
    for (stdout, stderr, code, warning) in drivers::failures() {
        let code = code.to_string();
        let env = [
            ("LOG", log.as_str()),
            ("OUT", *stdout),
            ("ERR", *stderr),
            ("CODE", code.as_str()),
        ];
        let (ok, out, err) = run(&cmds[1], &bin, tmp.path(), &env);
        assert!(!ok, "22.4 fails the module");
        assert_eq!(out, *stdout);
        assert!(err.starts_with(stderr), "{err}");
        let added = &err[stderr.len()..];
        match warning {
            Some(w) => assert_eq!(added, format!("{w}\n")),
            None => assert_eq!(added, ""),
        }
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("argv")).unwrap(),
            "install --gpgpu nvidia\n"
        );
    }
    // Success: nothing added, the temporary files gone.
    let env = [
        ("LOG", log.as_str()),
        ("OUT", "ok\n"),
        ("ERR", ""),
        ("CODE", "0"),
    ];
    let (ok, out, err) = run(&cmds[1], &bin, tmp.path(), &env);
    assert!(ok && out == "ok\n" && err.is_empty(), "{err}");
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("tmp."))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn snap_list_answers_as_22_4_reads_them() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    stand_in(
        &bin,
        "snap",
        "#!/bin/sh\n[ \"$*\" = list ] || exit 9\nprintf '%s' \"$LIST\"\n",
    );
    for (cfg, list, logged, error) in autoinstall::runs() {
        let cmds = planned(cfg, "ubuntu_autoinstall");
        assert_eq!(cmds.len(), 1, "{cfg}: {cmds:?}");
        let (ok, _, err) = run(&cmds[0], &bin, tmp.path(), &[("LIST", list)]);
        let want: String = logged
            .iter()
            .map(|(_, m)| format!("{m}\n"))
            .chain(error.map(|e| format!("{e}\n")))
            .collect();
        assert_eq!(err, want, "{cfg} {list:?}");
        assert_eq!(ok, error.is_none(), "{cfg} {list:?}");
    }
    // No snap: `subp` fails, and so does the module.
    let cmds = planned("autoinstall:\n  version: 1\n", "ubuntu_autoinstall");
    stand_in(&bin, "snap", "#!/bin/sh\nexit 1\n");
    assert!(!run(&cmds[0], &bin, tmp.path(), &[]).0);
}

/// The script that reads `ua enable --format json`'s answer, taken from a
/// whole-boot plan, run by this machine's python3 on the command line 22.4
/// ran, with a stand-in `ua` giving each answer of 22.4's handler cases:
/// the lines 22.4 logged about the answer are the script's, in order, and
/// it fails where 22.4 failed the module, with its message.
#[test]
fn ua_enable_answers_are_read_as_22_4_reads_them() {
    let m = Machine::seeded(
        "instance-id: i-ua\n",
        "#cloud-config\nubuntu_advantage:\n  token: t\n  enable: [esm]\n  features: {disable_auto_attach: true}\n",
    );
    m.write("/etc/os-release", "ID=ubuntu\nVERSION_ID=\"22.04\"\n");
    m.write("/usr/lib/python3/dist-packages/uaclient/messages.py", "");
    m.write("/usr/bin/ua", "#!/bin/sh\n");
    std::fs::set_permissions(
        m.path("/usr/bin/ua"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let cmds = planned_in(&m, "ubuntu_advantage");
    let enable = cmds.last().unwrap();
    assert_eq!(enable[..2], ["python3", "-c"], "{cmds:?}");
    assert_eq!(
        enable[3..],
        [
            "ua",
            "enable",
            "--assume-yes",
            "--format",
            "json",
            "--",
            "esm"
        ]
    );
    let script = &enable[2];

    let cases: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("fixtures/ubuntu_advantage/expected.json")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    stand_in(
        &bin,
        "ua",
        "#!/bin/sh\necho \"$*\" > \"$LOG/argv\"\nprintf '%s' \"$OUT\"\nexit \"$CODE\"\n",
    );
    let log = tmp.path().display().to_string();
    let mut checked = 0;
    for case in &cases {
        let Some(answer) = case["answers"].get("ua enable") else {
            continue;
        };
        let name = case["name"].as_str().unwrap();
        let ua_enable: Vec<String> = case["ops"]
            .as_array()
            .unwrap()
            .iter()
            .map(|op| &op["argv"])
            .find(|argv| argv[1] == "enable")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect();
        let mut argv = vec!["python3".to_string(), "-c".into(), script.clone()];
        argv.extend(ua_enable.iter().cloned());
        let code = answer[1].to_string();
        let env = [
            ("LOG", log.as_str()),
            ("OUT", answer[0].as_str().unwrap()),
            ("CODE", code.as_str()),
        ];
        let (ok, _, err) = run(&argv, &bin, tmp.path(), &env);
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("argv")).unwrap(),
            format!("{}\n", ua_enable[1..].join(" ")),
            "{name}"
        );
        // 22.4's lines after its `ua enable` (util.logexc logs each twice:
        // a warning and the traceback's debug line).
        let mut want: Vec<&str> = Vec::new();
        for line in case["logs"].as_array().unwrap() {
            let msg = line[1].as_str().unwrap();
            let about_answer = ["Service `", "Failure enabling `", "Failure of type `"]
                .iter()
                .any(|p| msg.starts_with(p));
            if about_answer && want.last() != Some(&msg) {
                want.push(msg);
            }
        }
        let error = case["error"].as_array().map(|e| e[1].as_str().unwrap());
        let uaclient_missing = case["uaclient"] == "absent";
        if uaclient_missing {
            // 22.4 fails on the import before it reads anything: the plan
            // runs `ua enable` alone there (modules/ubuntu_advantage).
            continue;
        }
        if let Some(msg) = error {
            want.push(msg);
        }
        let ours: Vec<&str> = err.lines().collect();
        assert_eq!(ours, want, "{name}");
        assert_eq!(ok, error.is_none(), "{name}: {err}");
        checked += 1;
    }
    assert!(
        checked >= 6,
        "the cases with an answer to ua enable: {checked}"
    );
}
