//! set_passwords against what cloud-init 22.4 did in the recorded cases
//! (tests/fixtures/modules/cases/{passwords,passwords-list,passwords-users,
//! full}): the commands and their order, chpasswd's stdin sizes and users,
//! the sshd_config drop-in byte for byte, the console block of random
//! passwords, and that no password shows up in a plan, a log or a file
//! others can read.
//!
//! Each root is prepared as the recorder's was (`machine_for`), plus
//! `/run/systemd/system`, which the recorder mounted so cloud-init believed
//! systemd runs (it then used `systemctl`).

mod common;
mod modules_common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use common::*;
use modules_common::*;

const CASES: [&str; 4] = ["passwords", "passwords-list", "passwords-users", "full"];

/// cloud-init's `PW_SET` (letters and digits without `loLOI01`).
const PW_SET: &str = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";

fn machine(case: &str) -> Machine {
    let m = machine_for(case);
    fs::create_dir_all(m.path("/run/systemd/system")).unwrap();
    m
}

/// The passwords and hashes the seed gives set_passwords (`password`,
/// `chpasswd.list`, `chpasswd.users`), except the `R`/`RANDOM` markers.
fn seed_secrets(case: &str) -> Vec<String> {
    let text = fs::read(case_dir(case).join("user-data")).unwrap();
    let cfg = cloudboot::yaml::load(&text, "user-data").unwrap();
    let mut out = Vec::new();
    if let Some(p) = cfg.get("password").and_then(|p| p.as_str()) {
        out.push(p.to_string());
    }
    let ch = cfg.get("chpasswd");
    let list: Vec<String> = match ch.and_then(|c| c.get("list")) {
        Some(cloudboot::value::Value::Str(s)) => s.lines().map(str::to_string).collect(),
        Some(cloudboot::value::Value::Seq(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    for line in list {
        out.push(line.split_once(':').unwrap().1.to_string());
    }
    for u in ch
        .and_then(|c| c.get("users"))
        .and_then(|u| u.as_seq())
        .unwrap_or_default()
    {
        if let Some(p) = u.get("password").and_then(|p| p.as_str()) {
            out.push(p.to_string());
        }
    }
    out.retain(|p| p != "R" && p != "RANDOM");
    assert!(
        !out.is_empty(),
        "{case}: the seed has passwords to look for"
    );
    out
}

/// The case's instance-id, from its meta-data.
fn iid(case: &str) -> String {
    let meta = fs::read_to_string(case_dir(case).join("meta-data")).unwrap();
    meta.lines()
        .find_map(|l| l.strip_prefix("instance-id:"))
        .unwrap()
        .trim()
        .to_string()
}

/// One effect of set_passwords in `plan --format json`: a program (run) or
/// an action on the running machine (host).
#[derive(Debug)]
struct Step {
    action: String,
    argv: Vec<String>,
    stdin: Option<String>,
}

impl Step {
    fn line(&self) -> String {
        self.argv
            .iter()
            .map(|w| shlex_quote(w))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The program that shows random passwords on the console.
    fn is_console_writer(&self) -> bool {
        self.action == "run" && self.argv.last().is_some_and(|a| a.contains("/dev/console"))
    }
}

/// set_passwords' effects in a whole-boot plan, and the plan's text.
fn planned(m: &Machine) -> (Vec<Step>, Vec<serde_json::Value>, String) {
    let json = m.plan(&["--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&json).unwrap();
    let mut steps = Vec::new();
    let mut effects = Vec::new();
    for stage in plan["stages"].as_array().unwrap() {
        for module in stage["modules"].as_array().into_iter().flatten() {
            if module["name"]
                .as_str()
                .map(|n| n.replace('-', "_"))
                .as_deref()
                != Some("set_passwords")
            {
                continue;
            }
            assert_eq!(
                stage["stage"], "config",
                "set_passwords runs in the config stage"
            );
            assert_eq!(module["result"], "ran", "{module:#}");
            for e in module["effects"].as_array().unwrap() {
                effects.push(e.clone());
                if e["action"] == "run" || e["action"] == "host" {
                    steps.push(Step {
                        action: e["action"].as_str().unwrap().to_string(),
                        argv: e["argv"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|a| a.as_str().unwrap().to_string())
                            .collect(),
                        stdin: e["stdin"].as_str().map(str::to_string),
                    });
                }
            }
        }
    }
    assert!(!steps.is_empty(), "set_passwords planned nothing");
    let text = m.plan(&[]);
    (steps, effects, json + &text)
}

/// The config-stage lines of `expected/commands` (all set_passwords' in
/// these cases), less the ssh service status 22.4 asks when `ssh_pwauth`
/// changes nothing (no restart follows it): cloudboot does not ask then,
/// a deliberate difference (modules/set_passwords.rs).
fn recorded_config(case: &str) -> Vec<Recorded> {
    let config: Vec<Recorded> = recorded_commands(case, false)
        .into_iter()
        .filter(|c| c.stage == "config")
        .collect();
    let restarted = config.iter().any(|c| c.line.contains(" restart "));
    config
        .into_iter()
        .filter(|c| restarted || !c.line.ends_with(" status ssh"))
        .collect()
}

#[test]
fn plan_has_the_recorded_commands_in_order_with_stdin_redacted() {
    for case in CASES {
        let m = machine(case);
        let (steps, _, _) = planned(&m);
        let recorded = recorded_config(case);
        let ours: Vec<&Step> = steps.iter().filter(|s| !s.is_console_writer()).collect();
        assert_eq!(
            ours.iter().map(|s| s.line()).collect::<Vec<_>>(),
            recorded.iter().map(|r| r.line.clone()).collect::<Vec<_>>(),
            "{case}"
        );
        for (s, r) in ours.iter().zip(&recorded) {
            // What the recorder could not run acts on the running machine:
            // a host action here; what it ran is a program in the root.
            assert_eq!(s.action == "host", r.not_run, "{case}: {}", r.line);
            assert_eq!(
                s.stdin.as_deref(),
                r.stdin.map(|_| "<redacted>"),
                "{case}: {}",
                r.line
            );
        }
        // The random passwords' console block, exactly when the recorded
        // console has one, after chpasswd and before any expiry.
        let console = fs::read_to_string(case_dir(case).join("expected/console")).unwrap();
        let writer = steps.iter().position(|s| s.is_console_writer());
        assert_eq!(
            writer.is_some(),
            console.contains("Set the following 'random' passwords"),
            "{case}"
        );
        if let Some(i) = writer {
            assert_eq!(steps[i].stdin.as_deref(), Some("<redacted>"));
            assert!(steps[..i].iter().any(|s| s.argv[0] == "chpasswd"));
            assert!(steps[i..].iter().all(|s| s.argv[0] != "chpasswd"));
        }
    }
}

#[test]
fn no_password_in_plan_text_or_json() {
    for case in CASES {
        let m = machine(case);
        let (_, _, plan) = planned(&m);
        for secret in seed_secrets(case) {
            assert!(!plan.contains(&secret), "{case}: plan shows {secret}");
        }
        // Nor anything shaped like a random password after a user name.
        for user in ["alice", "carol", "dave"] {
            for (i, _) in plan.match_indices(&format!("{user}:")) {
                let rest: String = plan[i + user.len() + 1..].chars().take(20).collect();
                assert!(
                    !(rest.len() == 20 && rest.chars().all(|c| PW_SET.contains(c))),
                    "{case}: plan shows what looks like {user}'s random password"
                );
            }
        }
    }
}

#[test]
fn sshd_config_and_drop_in_are_byte_for_byte_what_cloud_init_left() {
    for case in CASES {
        let m = machine(case);
        boot(&m);
        // sshd_config itself is untouched (Debian's Include sends the
        // setting to the drop-in).
        assert_eq!(
            m.read("/etc/ssh/sshd_config"),
            expected_file(case, "/etc/ssh/sshd_config").unwrap(),
            "{case}"
        );
        let dropin = "/etc/ssh/sshd_config.d/50-cloud-init.conf";
        match manifest_entry(case, dropin) {
            Some(line) => {
                assert_eq!(
                    m.read(dropin),
                    expected_file(case, dropin).unwrap(),
                    "{case}"
                );
                assert_eq!(format!("{:04o}", m.mode(dropin)), line.mode, "{case}");
                assert_eq!(m.mode("/etc/ssh/sshd_config.d"), 0o755, "{case}");
            }
            // ssh_pwauth: unchanged
            None => assert!(!m.exists(dropin), "{case}: {dropin} written"),
        }
        assert!(
            m.exists(&format!("{}/sem/config_set_passwords", m.idir(&iid(case)))),
            "{case}"
        );
    }
}

#[test]
fn runs_once_per_instance() {
    let m = machine("passwords-list");
    boot(&m);
    fs::remove_file(m.path("/etc/ssh/sshd_config.d/50-cloud-init.conf")).unwrap();
    m.reboot();
    fs::create_dir_all(m.path("/run/systemd/system")).unwrap();
    m.boot();
    // Boot 2 of the same instance: nothing again (boot2/commands has no
    // set_passwords line either).
    assert!(!m.exists("/etc/ssh/sshd_config.d/50-cloud-init.conf"));
    assert!(recorded_commands("passwords-list", true)
        .iter()
        .all(|c| c.stage != "config"));
}

#[test]
fn nothing_is_asked_without_config() {
    let m = machine("users");
    // 22.4 asks the ssh service's status, and nothing else.
    let recorded = recorded_commands("users", false);
    let config: Vec<_> = recorded.iter().filter(|c| c.stage == "config").collect();
    assert_eq!(config.len(), 1, "{config:?}");
    assert!(config[0].line.ends_with("status ssh"), "{config:?}");
    // cloudboot asks nothing: the answer could only decide a restart that
    // ssh_pwauth does not ask for.
    assert!(recorded_config("users").is_empty());
    let plan: serde_json::Value = serde_json::from_str(&m.plan(&["--format", "json"])).unwrap();
    let module = plan["stages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["modules"].as_array().into_iter().flatten())
        .find(|m| {
            m["name"].as_str().map(|n| n.replace('-', "_")).as_deref() == Some("set_passwords")
        })
        .expect("set_passwords is in the plan");
    assert_eq!(module["result"], "ran", "{module:#}");
    // Its semaphore, and nothing run or asked of the machine.
    for e in module["effects"].as_array().into_iter().flatten() {
        assert_eq!(e["action"], "write", "{module:#}");
        assert!(
            e["path"]
                .as_str()
                .unwrap()
                .ends_with("/sem/config_set_passwords"),
            "{module:#}"
        );
    }
}

// ---- live boots in a chroot, with the recorder's command shims ----

/// The recorder's shims: log the command line (and for chpasswd the stdin
/// size and users), keep chpasswd's stdin in a root-only file, exit 0.
const SHIM: &str = r#"#!/bin/sh
name=${0##*/}
line=$name
for a in "$@"; do line="$line $a"; done
if [ "$name" = chpasswd ]; then
  umask 077
  f=/root/stdin.$$
  cat > "$f"
  n=$(wc -c < "$f")
  users=
  while IFS=: read -r u rest; do users="$users${users:+,}$u"; done < "$f"
  cat "$f" >> /root/chpasswd-stdin
  rm "$f"
  line="$line	stdin=$((n)) users=$users"
fi
echo "$line" >> /var/log/shim-commands
"#;

fn live_machine(case: &str) -> Machine {
    let m = machine(case);
    m.install_busybox();
    std::os::unix::fs::symlink("busybox", m.path("/bin/wc")).ok();
    fs::create_dir_all(m.path("/root")).unwrap();
    fs::set_permissions(m.path("/root"), fs::Permissions::from_mode(0o700)).unwrap();
    for name in [
        "useradd",
        "usermod",
        "userdel",
        "groupadd",
        "groupmod",
        "gpasswd",
        "chpasswd",
        "passwd",
        "chage",
        "ssh-keygen",
        "hostname",
        "mkswap",
        "fallocate",
        "chattr",
        "systemctl",
        "service",
    ] {
        let p = format!("/usr/local/sbin/{name}");
        m.write(&p, SHIM);
        fs::set_permissions(m.path(&p), fs::Permissions::from_mode(0o755)).unwrap();
    }
    // The console: a root-only file standing for the device.
    m.write("/dev/console", "");
    fs::set_permissions(m.path("/dev/console"), fs::Permissions::from_mode(0o600)).unwrap();
    m
}

/// `cloudboot boot` (the four stages in one run, with a report); only
/// set_passwords must succeed (other modules of the recorded seeds need what
/// this branch does not have yet, e.g. the users that write_files names).
/// Returns what cloudboot printed.
fn boot(m: &Machine) -> String {
    // The network stage's programs (users_groups' `passwd -l`, `chpasswd -e`
    // for hashed_passwd users) are not set_passwords': those stages run on
    // their own first, the shim log starts anew, and then `boot` runs the
    // four stages (the first two now find their per-instance work done).
    m.run(&["init", "--local"]);
    m.run(&["init"]);
    let _ = fs::write(m.path("/var/log/shim-commands"), "");
    let out = m.run(&["boot"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("set-passwords [once-per-instance]: ran")
            || text.contains("set_passwords [once-per-instance]: ran"),
        "{text}"
    );
    text
}

/// Every regular file under `dir` that others may read, with its content.
fn world_readable(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for e in fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let md = fs::symlink_metadata(&p).unwrap();
        if md.is_dir() {
            world_readable(root, &p, out);
        } else if md.is_file() && md.mode() & 0o004 != 0 {
            let guest = format!("/{}", p.strip_prefix(root).unwrap().display());
            out.push((guest, fs::read(&p).unwrap()));
        }
    }
}

#[test]
fn live_boot_runs_chpasswd_as_recorded_and_shows_random_passwords_on_the_console_only() {
    if !can_chroot() {
        return;
    }
    for case in CASES {
        let m = live_machine(case);
        let config_out = boot(&m);

        // The programs, as the recorder's shims logged them.
        let log = m.read("/var/log/shim-commands");
        let ran: Vec<&str> = log
            .lines()
            .filter(|l| ["chpasswd", "passwd "].iter().any(|p| l.starts_with(p)))
            .collect();
        let recorded = recorded_config(case);
        let want: Vec<String> = recorded
            .iter()
            .filter(|r| !r.not_run)
            .map(|r| {
                let mut l = r.line.clone();
                if let Some(n) = r.stdin {
                    l.push_str(&format!(
                        "\tstdin={n} users={}",
                        r.users.as_deref().unwrap()
                    ));
                }
                l
            })
            .collect();
        assert_eq!(ran, want, "{case}");
        // The service commands are recorded, not performed (scratch root).
        for r in recorded.iter().filter(|r| r.not_run) {
            assert!(
                config_out.contains(&format!("({}) [recorded, not performed", r.line)),
                "{case}: {}\n{config_out}",
                r.line
            );
            assert!(!log.contains(&r.line), "{case}: {} ran in the root", r.line);
        }

        // The console block, in cloud-init's shape, with the very passwords
        // chpasswd got.
        let console = m.read("/dev/console");
        let expected_console = fs::read_to_string(case_dir(case).join("expected/console")).unwrap();
        let expected_block: Vec<&str> = expected_console
            .lines()
            .take_while(|l| !l.starts_with("ci-info") && !l.starts_with('<'))
            .collect();
        let lines: Vec<&str> = console.lines().collect();
        assert_eq!(lines.len(), expected_block.len(), "{case}: {console:?}");
        assert!(console.ends_with('\n'));
        let mut randoms = Vec::new();
        for (ours, theirs) in lines.iter().zip(&expected_block) {
            match theirs.split_once(":<RANDOM-20-CHARS>") {
                Some((user, "")) => {
                    let (u, p) = ours.split_once(':').unwrap();
                    assert_eq!(u, user, "{case}");
                    assert_eq!(p.len(), 20, "{case}");
                    assert!(p.chars().all(|c| PW_SET.contains(c)), "{case}: {p}");
                    randoms.push(ours.to_string());
                }
                _ => assert_eq!(ours, theirs, "{case}"),
            }
        }
        let stdin = m.read("/root/chpasswd-stdin");
        for r in &randoms {
            assert!(
                stdin.lines().any(|l| l == r),
                "{case}: chpasswd did not get {r}"
            );
        }

        // No password anywhere it must not be.
        let mut secrets = seed_secrets(case);
        secrets.extend(
            randoms
                .iter()
                .map(|r| r.split_once(':').unwrap().1.to_string()),
        );
        let mut files = Vec::new();
        world_readable(m.root(), m.root(), &mut files);
        let logs = ["/var/log/cloud-init.log", "/var/log/cloud-init-output.log"];
        for secret in &secrets {
            assert!(
                !config_out.contains(secret.as_str()),
                "{case}: cloudboot's output shows a password"
            );
            for log in logs {
                if m.exists(log) {
                    assert!(
                        !m.read(log).contains(secret.as_str()),
                        "{case}: {log} has a password"
                    );
                }
            }
            for (path, content) in &files {
                // The seed is the input, 0644 as the recorder made it.
                if path.starts_with("/var/lib/cloud/seed/") {
                    continue;
                }
                assert!(
                    !String::from_utf8_lossy(content).contains(secret.as_str()),
                    "{case}: {path} is readable by others and has a password"
                );
            }
        }
        assert!(m.exists("/var/log/cloud-init.log"));

        // cloud-init's set_passwords warnings, word for word.
        let ours = m.read("/var/log/cloud-init.log");
        let warnings = fs::read_to_string(case_dir(case).join("expected/warnings")).unwrap();
        for w in warnings.lines() {
            if let Some(msg) = w.strip_prefix("cc_set_passwords.py[WARNING]: ") {
                assert!(
                    ours.contains(&format!("set_passwords.rs[WARNING]: {msg}\n")),
                    "{case}: missing warning {msg}"
                );
            }
        }
    }
}

#[test]
fn centos6_root_uses_service_and_edits_sshd_config_in_place() {
    let m = Machine::seeded(
        "instance-id: iid-centos6\n",
        "#cloud-config\nchpasswd:\n  expire: false\n  users: [{name: root, type: RANDOM}]\nssh_pwauth: false\n",
    );
    m.write("/etc/redhat-release", "CentOS release 6.10 (Final)\n");
    m.write(
        "/etc/ssh/sshd_config",
        "#PermitRootLogin yes\nPasswordAuthentication yes\nUsePAM yes\n",
    );
    fs::set_permissions(
        m.path("/etc/ssh/sshd_config"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let (steps, _, _) = planned(&m);
    let lines: Vec<String> = steps
        .iter()
        .filter(|s| !s.is_console_writer())
        .map(|s| format!("{} {}", s.action, s.line()))
        .collect();
    assert_eq!(
        lines,
        [
            "run chpasswd",
            "host service sshd status",
            "host service sshd restart"
        ]
    );
    m.boot();
    assert_eq!(
        m.read("/etc/ssh/sshd_config"),
        "#PermitRootLogin yes\nPasswordAuthentication no\nUsePAM yes\n"
    );
    assert_eq!(m.mode("/etc/ssh/sshd_config"), 0o600);
    assert!(!m.exists("/etc/ssh/sshd_config.d"));
}

#[test]
fn bad_input_fails_the_module_with_the_key_and_without_the_password() {
    let m = Machine::seeded(
        META,
        "#cloud-config\nchpasswd:\n  list:\n    - alice:fine-pw\n    - bob-no-colon-secret\nssh_pwauth: true\n",
    );
    let out = m.run(&["boot"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("chpasswd.list[1]: no ':' between user name and password"),
        "{text}"
    );
    assert!(
        !text.contains("bob-no-colon-secret") && !text.contains("fine-pw"),
        "{text}"
    );
    assert!(!m
        .read("/var/log/cloud-init.log")
        .contains("no-colon-secret"));
    // As with cloud-init, whose split raises first: nothing is set at all.
    assert!(!m.exists("/etc/ssh/sshd_config"));
    let errors = m.stage_errors("modules-config");
    assert!(
        errors.iter().any(|e| e.contains("chpasswd.list[1]")),
        "{errors:?}"
    );
}

#[test]
fn single_with_an_argument_sets_the_default_users_password_under_any_spelling() {
    if !can_chroot() {
        return;
    }
    let m = live_machine("passwords");
    boot(&m);
    fs::remove_file(m.path("/var/log/shim-commands")).unwrap();
    // cloud-init's `single`: the first argument is the password, and
    // chpasswd.list (from the seed) is dropped; users are not affected.
    for name in ["cc_set_passwords.py", "set-passwords"] {
        m.run_ok(
            &[
                "single",
                "--name",
                name,
                "--frequency",
                "always",
                "arg-pw-7Kq",
            ],
            0,
        );
    }
    let log = m.read("/var/log/shim-commands");
    let ran: Vec<&str> = log.lines().filter(|l| l.starts_with("chpasswd")).collect();
    // "debian:arg-pw-7Kq\n": 18 bytes, twice.
    assert_eq!(ran, ["chpasswd\tstdin=18 users=debian"; 2]);
    assert!(m
        .read("/root/chpasswd-stdin")
        .ends_with("debian:arg-pw-7Kq\n"));
    assert!(!m.read("/var/log/cloud-init.log").contains("arg-pw-7Kq"));
}

#[test]
fn an_entry_that_would_add_a_chpasswd_line_is_refused_and_the_others_are_set() {
    if !can_chroot() {
        return;
    }
    // cloud-init 22.4 gives chpasswd "alice:pw-a\nroot:owned-pw\n": the
    // second line sets root's password.
    let m = live_machine("passwords");
    m.seed(
        "instance-id: iid-one-line\n",
        "#cloud-config\nchpasswd:\n  expire: false\n  list: [\"alice:pw-a\\nroot:owned-pw\", \"bob:fine-pw\"]\n",
    );
    m.run(&["init", "--local"]);
    m.run(&["init"]);
    let _ = fs::write(m.path("/var/log/shim-commands"), "");
    // One error in the config stage (its exit code counts them).
    let out = m.run(&["modules", "--mode=config"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(m.read("/root/chpasswd-stdin"), "bob:fine-pw\n");
    let errors = m.stage_errors("modules-config");
    assert_eq!(
        errors,
        ["set-passwords: chpasswd.list[0] has a newline: it must be one line in chpasswd's input (user 'alice'); this entry is not set"]
    );
    let log = m.read("/var/log/cloud-init.log");
    for secret in ["owned-pw", "pw-a", "fine-pw"] {
        assert!(!log.contains(secret), "the log has {secret}");
    }
}
