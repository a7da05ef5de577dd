//! ansible's command lines against what 22.4's `cc_ansible.handle` ran
//! (tests/fixtures/ansible/gen_22_4.py drives it with subp mocked): each
//! case is planned by a whole-boot `plan --format json` of a scratch
//! Debian root, and the planned commands of the module are run here, in
//! order, by this machine's `sh`, against stand-in programs that log their
//! words and answer as the mocked subp did (`pip list` mentions ansible
//! once the package is installed, `ansible-pull --version` prints the
//! case's line). So the scripts cloudboot wraps around 22.4's command
//! lines (the `pip list` and version checks) are tested with them.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;

include!("fixtures/ansible/expected.rs");

/// A stand-in for every program the module runs: logs its name, its
/// words, the directory and `ansible_config`, one command a record.
const FAKE: &str = r#"#!/bin/sh
n=$(basename "$0")
[ "$n" = python3 ] && n=/usr/bin/python3
{ printf '%s' "$n"; for a in "$@"; do printf '\037%s' "$a"; done
  printf '\035%s\035%s\036' "$PWD" "${ansible_config-}"; } >> "$FAKE_LOG"
line="$n $*"
case $line in
  *"pip list"*) if [ -e "$FAKE_DIR/pip-has" ]; then echo 'ansible-core 2.14'; else echo 'pip 23'; fi ;;
  *"--upgrade pip"*) ;;
  *"pip install"*) touch "$FAKE_DIR/pip-has" ;;
  *"ansible-pull --version"*) [ -n "$FAKE_VERSION" ] && printf '%s\n' "$FAKE_VERSION" ;;
  *getuserbase*) echo /home/u/.local ;;
esac
exit 0
"#;

/// 22.4's `sys.executable`.
const PYTHON: &str = "/usr/bin/python3";

type Logged = Vec<(Vec<String>, String, String)>;

/// Planned commands: argv and `KEY=value` environment.
type Planned = Vec<(Vec<String>, Vec<String>)>;

/// The ansible module's commands (argv, env) and errors in a whole-boot plan.
fn planned(cfg: &str, which: bool) -> (Planned, Vec<String>) {
    let m = Machine::seeded("instance-id: i-ansible\n", &format!("#cloud-config\n{cfg}"));
    m.write("/etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
    if which {
        m.write("/usr/bin/ansible", "#!/bin/sh\n");
        std::fs::set_permissions(
            m.path("/usr/bin/ansible"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
    }
    let plan: serde_json::Value = serde_json::from_str(&m.plan(&["--format", "json"])).unwrap();
    let strs = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|a| a.as_str().unwrap().to_string())
            .collect()
    };
    let mut cmds = Vec::new();
    let mut errors = Vec::new();
    for stage in plan["stages"].as_array().unwrap() {
        for mm in stage["modules"].as_array().into_iter().flatten() {
            if mm["name"] != "ansible" {
                continue;
            }
            errors.extend(strs(&mm["errors"]));
            for e in mm["effects"].as_array().into_iter().flatten() {
                if e["action"] == "run" {
                    cmds.push((strs(&e["argv"]), strs(&e["env"])));
                }
            }
        }
    }
    (cmds, errors)
}

/// Runs the commands in order, as the live target would (stopping at the
/// first failure): what the stand-ins logged, and the failing one's stderr.
fn run(
    cmds: &[(Vec<String>, Vec<String>)],
    pip_has: bool,
    version: &str,
) -> (Logged, Option<String>) {
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let fake = bin.join("fake");
    std::fs::write(&fake, FAKE).unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    for name in [
        "su",
        "python3",
        "ansible-pull",
        "ansible-playbook",
        "ansible-galaxy",
        "git",
        "ansible",
        "apt-get",
    ] {
        std::os::unix::fs::symlink(&fake, bin.join(name)).unwrap();
    }
    if pip_has {
        std::fs::write(tmp.path().join("pip-has"), "").unwrap();
    }
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let log = tmp.path().join("log");
    let py = format!("{}/python3", bin.display());
    let mut failed = None;
    for (argv, env) in cmds {
        let mut argv = argv.clone();
        if argv[0] == PYTHON {
            argv[0] = py.clone();
        }
        if argv[0] == "sh" {
            // The program itself (`$(...)` or a line of its own), not the
            // words `su -c` is given.
            for lead in ["$(", "\n"] {
                argv[2] = argv[2].replace(&format!("{lead}{PYTHON} "), &format!("{lead}{py} "));
            }
        }
        let out = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("FAKE_LOG", &log)
            .env("FAKE_DIR", tmp.path())
            .env("FAKE_VERSION", version)
            .envs(env.iter().map(|kv| kv.split_once('=').unwrap()))
            .current_dir(&work)
            .output()
            .unwrap();
        if !out.status.success() {
            failed = Some(String::from_utf8_lossy(&out.stderr).into_owned());
            break;
        }
    }
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let workdir = work.display().to_string();
    let mut logged = Vec::new();
    for rec in text.split('\u{1e}').filter(|r| !r.is_empty()) {
        let mut parts = rec.split('\u{1d}');
        let argv: Vec<String> = parts
            .next()
            .unwrap()
            .split('\u{1f}')
            .map(String::from)
            .collect();
        let cwd = parts.next().unwrap().to_string();
        let conf = parts.next().unwrap().to_string();
        let cwd = if cwd == workdir { String::new() } else { cwd };
        // The distro's package manager: 22.4's `install_packages(name)`.
        if argv[0] == "apt-get" {
            if argv.iter().any(|a| a == "install") {
                logged.push((
                    vec!["install_packages".into(), argv.last().unwrap().clone()],
                    cwd,
                    conf,
                ));
            }
            continue;
        }
        logged.push((argv, cwd, conf));
    }
    (logged, failed)
}

#[test]
fn command_lines_as_22_4_runs_them() {
    for (cfg, which, pip_has, version, want, error) in CASES {
        let (cmds, errors) = planned(cfg, *which);
        let want: Logged = want
            .iter()
            .map(|(a, cwd, conf)| {
                (
                    a.iter().map(|s| s.to_string()).collect(),
                    cwd.to_string(),
                    conf.to_string(),
                )
            })
            .collect();
        if !errors.is_empty() {
            // A config 22.4 refuses before it runs anything.
            assert!(want.is_empty(), "{cfg}: {errors:?}");
            assert!(cmds.is_empty(), "{cfg}: {cmds:?}");
            let theirs = error.expect(cfg).trim_start_matches("ValueError: ");
            // 22.4's "Invalid install method {install}" names no value; ours does.
            let head = theirs.split(" {install}").next().unwrap();
            assert!(errors[0].contains(head), "{cfg}: {errors:?} / {theirs}");
            continue;
        }
        let (got, failed) = run(&cmds, *pip_has, version);
        assert_eq!(got, want, "{cfg}\n{failed:?}");
        match (error, failed) {
            (None, None) => {}
            (Some(theirs), Some(stderr)) => {
                let theirs = theirs.trim_start_matches("ValueError: ");
                assert!(stderr.contains(theirs), "{cfg}: {stderr}");
            }
            (e, f) => panic!("{cfg}: 22.4 {e:?}, cloudboot {f:?}"),
        }
    }
}
