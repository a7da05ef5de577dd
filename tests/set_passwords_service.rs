//! set_passwords and the ssh service's status, against what cloud-init
//! 22.4's own `handle_ssh_pwauth` does for each answer
//! (`tests/fixtures/set_passwords_service/golden.json`, see its README):
//! every exit code on systemd and without it, for every `ssh_pwauth`.
//!
//! Two ways: the module's plan with each answer (in-process), and live runs
//! in a chroot (cloudboot inside the root, which is its `/`, so the status
//! is really asked) where `systemctl` and `service` are shims exiting with
//! the row's code.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use cloudboot::effect::probe::{Answer, PROBE_ERROR};
use cloudboot::effect::Effect;
use cloudboot::exec::Exit;
use cloudboot::rootfs::{RealFs, Root};
use common::*;

const SSHD_CONFIG: &str = "PasswordAuthentication no\n";

/// One row of golden.json.
struct Row {
    distro: String,
    systemd: bool,
    ssh_pwauth: String,
    /// "0", "1", "3", "4", "5" or "missing".
    status: String,
    calls: Vec<String>,
    /// `LEVEL: message`, normalised ([`normalise`]).
    logs: Vec<String>,
    sshd_config: String,
}

impl Row {
    fn name(&self) -> String {
        format!(
            "{} {} ssh_pwauth={} status={}",
            self.distro,
            if self.systemd { "systemd" } else { "sysv" },
            self.ssh_pwauth,
            self.status
        )
    }

    /// Whether `ssh_pwauth` changes sshd_config (which starts with
    /// `PasswordAuthentication no`): only then does cloudboot ask the
    /// service. 22.4 asks in every row, only to decide a restart that does
    /// not happen, and logs what it heard (warnings included, even for an
    /// absent `ssh_pwauth`); cloudboot's log for such a row is 22.4's for
    /// the same `ssh_pwauth` with the service running (a deliberate
    /// difference, modules/set_passwords.rs).
    fn changes_config(&self) -> bool {
        self.ssh_pwauth == "true"
    }

    /// The config `ssh_pwauth` comes from (none when absent).
    fn config(&self) -> Option<String> {
        (self.ssh_pwauth != "absent").then(|| format!("ssh_pwauth: {}\n", self.ssh_pwauth))
    }
}

fn rows() -> Vec<Row> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/set_passwords_service/golden.json");
    let json: serde_json::Value = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    let rows: Vec<Row> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(r["raised"].is_null(), "22.4 never raises here: {r}");
            Row {
                distro: r["distro"].as_str().unwrap().into(),
                systemd: r["systemd"].as_bool().unwrap(),
                ssh_pwauth: r["ssh_pwauth"].as_str().unwrap().into(),
                status: r["status"].as_str().unwrap().into(),
                calls: r["calls"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| {
                        let argv: Vec<&str> = c
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|a| a.as_str().unwrap())
                            .collect();
                        argv.join(" ")
                    })
                    .collect(),
                logs: r["logs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| {
                        let level = l[0].as_str().unwrap();
                        format!("{level}: {}", normalise(l[1].as_str().unwrap()))
                    })
                    .collect(),
                sshd_config: r["sshd_config"].as_str().unwrap().into(),
            }
        })
        .collect();
    assert_eq!(rows.len(), 2 * 2 * 4 * 6);
    rows
}

/// A failed status as both describe it, without what only cloud-init adds
/// (the program's stdout and stderr) and with the reason a program could
/// not be started in neither's words (Python's and Rust's differ).
fn normalise(msg: &str) -> String {
    let mut m = match msg.find("\nStdout: ") {
        Some(i) => format!("{}.", &msg[..i]),
        None => msg.to_string(),
    };
    if let Some(i) = m.find("\nExit code: -\nReason: ") {
        m = format!("{}\nExit code: -\nReason: <not started>.", &m[..i]);
    }
    m
}

/// A root for the row's distro and init system, with sshd_config as the
/// table starts it.
fn prepare(root: &Path, row: &Row) {
    let write = |p: &str, c: &str| {
        let p = root.join(p);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, c).unwrap();
    };
    match (row.distro.as_str(), row.systemd) {
        ("debian", _) => write("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"),
        ("centos", true) => write("etc/os-release", "ID=\"centos\"\nVERSION_ID=\"7\"\n"),
        ("centos", false) => write("etc/redhat-release", "CentOS release 6.10 (Final)\n"),
        (d, _) => panic!("unknown distro {d}"),
    }
    if row.systemd {
        fs::create_dir_all(root.join("run/systemd/system")).unwrap();
    }
    write("etc/ssh/sshd_config", SSHD_CONFIG);
    fs::set_permissions(
        root.join("etc/ssh/sshd_config"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
}

#[test]
fn each_status_answer_picks_what_cloud_init_22_4_does() {
    for row in rows() {
        let tmp = tempfile::tempdir().unwrap();
        prepare(tmp.path(), &row);
        let fs = RealFs {
            root: Root::new(tmp.path()),
        };
        let cfg = cloudboot::yaml::load(row.config().unwrap_or_default().as_bytes(), "t").unwrap();
        let distro = cloudboot::distro::Distro::detect(&fs, &cfg);
        let out =
            cloudboot::modules::set_passwords::plan(&cfg, &[], &fs, &distro, &mut || -> String {
                unreachable!()
            });
        assert!(out.errors.is_empty(), "{}: {:?}", row.name(), out.errors);
        if !row.changes_config() {
            assert!(out.effects.is_empty(), "{}: {:?}", row.name(), out.effects);
            continue;
        }
        let [Effect::Probe(probe)] = &out.effects[..] else {
            panic!("{}: {:?}", row.name(), out.effects)
        };
        let answer = match row.status.as_str() {
            "missing" => Answer::NotStarted("No such file or directory (os error 2)".into()),
            code => Answer::Exited(Exit::Code(code.parse().unwrap())),
        };
        let failure = answer.describe(&probe.action.argv, probe.assume);
        let branch = probe.branch(&answer).expect("every answer has a branch");

        let mut calls = vec![probe.action.argv.join(" ")];
        let mut sshd_config = SSHD_CONFIG.to_string();
        for e in &branch.effects {
            match e {
                Effect::Host(h) => calls.push(h.argv.join(" ")),
                Effect::WriteFile { path, data, .. }
                    if path == Path::new("/etc/ssh/sshd_config") =>
                {
                    sshd_config = String::from_utf8(data.bytes.clone()).unwrap()
                }
                other => panic!("{}: unexpected {}", row.name(), other.summary()),
            }
        }
        let mut logs: Vec<String> = branch
            .log
            .iter()
            .map(|(level, msg)| {
                let level = if *level == tracing::Level::WARN {
                    "WARNING"
                } else {
                    "DEBUG"
                };
                format!(
                    "{level}: {}",
                    normalise(&msg.replace(PROBE_ERROR, &failure))
                )
            })
            .collect();
        logs.extend(branch.done.iter().map(|d| format!("DEBUG: {d}")));

        assert_eq!(calls, row.calls, "{}", row.name());
        assert_eq!(sshd_config, row.sshd_config, "{}", row.name());
        assert_eq!(logs, row.logs, "{}", row.name());
    }
}

/// The status and restart programs' shim: logs its command line, and the
/// status exits with the code in /etc/shim-status.
const SHIM: &str = r#"#!/bin/sh
echo "${0##*/} $*" >> /var/log/shim-commands
case "$*" in *status*) exit "$(cat /etc/shim-status)" ;; esac
exit 0
"#;

/// cloudboot's log messages from set_passwords.rs (`LEVEL: message`, a
/// message running to the next log line), without cloudboot's own line
/// saying what the status answer was.
fn module_messages(log: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut ours = false;
    for line in log.split_inclusive('\n') {
        let head = line.split_once(" - ").and_then(|(date, rest)| {
            let stamped = date.len() == 23 && date.as_bytes()[4] == b'-';
            stamped.then(|| rest.split_once("]: ")).flatten()
        });
        match head {
            Some((source, msg)) => {
                ours = source.starts_with("set_passwords.rs[");
                if ours {
                    let level = source.trim_start_matches("set_passwords.rs[");
                    out.push(format!("{level}: {msg}"));
                }
            }
            None if ours => out.last_mut().unwrap().push_str(line),
            None => {}
        }
    }
    out.iter()
        .map(|m| m.strip_suffix('\n').unwrap_or(m))
        .filter(|m| !m.starts_with("DEBUG: check the ssh service ("))
        .map(|m| {
            let (level, msg) = m.split_once(": ").unwrap();
            format!("{level}: {}", normalise(msg))
        })
        .collect()
}

/// Runs cloudboot inside `root` (its `/`), in new UTS, IPC and network
/// namespaces so nothing it might do reaches this machine.
fn in_chroot(root: &Path, args: &[&str]) -> std::process::Output {
    Command::new("unshare")
        .args(["--uts", "--ipc", "--net", "chroot"])
        .arg(root)
        .arg("/usr/bin/cloudboot")
        .args(args)
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .output()
        .expect("unshare runs")
}

#[test]
fn live_runs_ask_the_service_and_follow_its_answer() {
    if !can_chroot() {
        return;
    }
    let rows = rows();
    // One machine per distro and init system; each row resets what it uses.
    let mut done = 0;
    for (distro, systemd) in [
        ("debian", true),
        ("debian", false),
        ("centos", true),
        ("centos", false),
    ] {
        let m = Machine::seeded("instance-id: iid-svc\n", "#cloud-config\n{}\n");
        let first = rows
            .iter()
            .find(|r| r.distro == distro && r.systemd == systemd)
            .unwrap();
        prepare(m.root(), first);
        m.install_busybox();
        m.install_cloudboot(&[]);
        fs::create_dir_all(m.path("/dev")).unwrap();
        let null = Command::new("mknod")
            .args(["-m", "666"])
            .arg(m.path("/dev/null"))
            .args(["c", "1", "3"])
            .status()
            .unwrap();
        assert!(null.success());
        // The first stages from outside (a scratch root: nothing reaches
        // the host); only set_passwords runs inside.
        m.run_ok(&["init", "--local"], 0);
        m.run_ok(&["init"], 0);
        for row in rows
            .iter()
            .filter(|r| r.distro == distro && r.systemd == systemd)
        {
            m.write("/etc/ssh/sshd_config", SSHD_CONFIG);
            for prog in ["systemctl", "service"] {
                let p = format!("/usr/local/sbin/{prog}");
                let _ = fs::remove_file(m.path(&p));
                if row.status != "missing" {
                    m.write(&p, SHIM);
                    fs::set_permissions(m.path(&p), fs::Permissions::from_mode(0o755)).unwrap();
                }
            }
            m.write("/etc/shim-status", &row.status);
            let _ = fs::remove_file(m.path("/var/log/shim-commands"));
            let _ = fs::remove_file(m.path("/var/log/cloud-init.log"));
            let mut args = vec!["single", "--name", "set_passwords", "--frequency", "always"];
            if let Some(cfg) = row.config() {
                m.write("/etc/row.cfg", &cfg);
                args.splice(0..0, ["--file", "/etc/row.cfg"]);
            }
            let out = in_chroot(m.root(), &args);
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            // cloud-init catches every answer: the module never fails for it.
            assert_eq!(out.status.code(), Some(0), "{}: {said}", row.name());
            let calls: Vec<String> = fs::read_to_string(m.path("/var/log/shim-commands"))
                .unwrap_or_default()
                .lines()
                .map(str::to_string)
                .collect();
            // A missing program is tried, not run: the shim log stays empty.
            let want: Vec<String> = if row.status == "missing" || !row.changes_config() {
                Vec::new()
            } else {
                row.calls.clone()
            };
            assert_eq!(calls, want, "{}", row.name());
            assert_eq!(
                m.read("/etc/ssh/sshd_config"),
                row.sshd_config,
                "{}",
                row.name()
            );
            let log = m.read("/var/log/cloud-init.log");
            let want_logs = if row.changes_config() {
                &row.logs
            } else {
                let running = rows
                    .iter()
                    .find(|r| {
                        (&r.distro, r.systemd, &r.ssh_pwauth, r.status.as_str())
                            == (&row.distro, row.systemd, &row.ssh_pwauth, "0")
                    })
                    .unwrap();
                &running.logs
            };
            assert_eq!(&module_messages(&log), want_logs, "{}\n{log}", row.name());
            done += 1;
        }
    }
    assert_eq!(done, rows.len());
}
