//! power_state_change: the module in whole boots against scratch roots (the
//! shutdown is recorded there, never performed), and the watcher script it
//! starts, run for real with a harmless stand-in in place of `shutdown`,
//! waiting on short-lived processes these tests start.
//!
//! Nothing here runs shutdown, reboot, halt or poweroff: the boots use a
//! temporary root, and the watcher tests build their argv with
//! `watcher_argv` and a stand-in command that only writes a file.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cloudboot::modules::power_state_change::{
    load_power_state, watcher_argv, Condition, Watch, LAUNCH, WATCH,
};
use common::Machine;

const META: &str = "instance-id: i-power\n";

fn seeded(user: &str) -> Machine {
    Machine::seeded(META, user)
}

/// The `power_state_change` line of a boot report and the lines under it.
fn report_block(out: &str) -> String {
    let mut lines = out
        .lines()
        .skip_while(|l| !l.contains("power_state_change ["));
    let mut block = String::new();
    if let Some(first) = lines.next() {
        block.push_str(first);
        block.push('\n');
        for l in lines.take_while(|l| l.starts_with("      ")) {
            block.push_str(l);
            block.push('\n');
        }
    }
    block
}

/// The host actions of a planned module.
fn host_effects(module: &serde_json::Value) -> Vec<serde_json::Value> {
    module["effects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "host")
        .cloned()
        .collect()
}

/// `plan --format json`: the power_state_change module's entry.
fn planned(m: &Machine) -> serde_json::Value {
    let out = m.plan(&["--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&out).expect("plan json");
    plan["stages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["modules"].as_array().cloned().unwrap_or_default())
        .find(|m| m["name"] == "power_state_change")
        .expect("power_state_change in the plan")
}

#[test]
fn recorded_not_performed_on_a_scratch_root_and_once_per_instance() {
    let m = seeded(
        "#cloud-config\npower_state:\n  mode: reboot\n  delay: 5\n  message: Bye now\n  timeout: 12\n  condition: test -f /var/tmp/reboot_me\n",
    );
    let out = m.run_ok(&["boot"], 0);
    let block = report_block(&out);
    assert!(
        block.contains("power_state_change [once-per-instance]: ran (1 effect;"),
        "{out}"
    );
    let root = m.root().display().to_string();
    assert!(
        block.contains(&format!(
            "host reboot (shutdown -r +5 'Bye now') once cloudboot has exited or after 12 s, \
             if `test -f /var/tmp/reboot_me` exits 0 [recorded, not performed: the target root \
             {root} is not this machine's /]"
        )),
        "{block}"
    );
    // The final stage finished: boot-finished and the module's semaphore.
    assert!(m.exists("/var/lib/cloud/instances/i-power/boot-finished"));
    assert!(m.exists("/var/lib/cloud/instances/i-power/sem/config_power_state_change"));
    assert!(m.stage_errors("modules-final").is_empty());

    // Second boot of the same instance: skipped, nothing recorded.
    m.reboot();
    let out = m.run_ok(&["boot"], 0);
    let block = report_block(&out);
    assert!(
        block.contains("power_state_change [once-per-instance]: skipped (already ran"),
        "{block}"
    );
    assert!(!block.contains("host "), "{block}");
}

#[test]
fn plan_lists_the_watcher_argv() {
    let m = seeded(
        "#cloud-config\npower_state: {mode: poweroff, timeout: 2.5, condition: [test, -f, /x]}\n",
    );
    let module = planned(&m);
    assert_eq!(module["errors"].as_array().unwrap().len(), 0, "{module}");
    let effects = host_effects(&module);
    assert_eq!(effects.len(), 1, "{module}");
    let e = &effects[0];
    assert_eq!(e["action"], "host");
    assert_eq!(
        e["what"],
        "poweroff (shutdown -P now) once cloudboot has exited or after 2.5 s, \
         if `exec 'test' '-f' '/x'` exits 0"
    );
    let argv: Vec<String> = e["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    // The pid is the planning cloudboot's own, gone by now.
    let pid: u32 = argv[5].parse().expect("a pid");
    let expected = watcher_argv(&Watch {
        pid,
        timeout_secs: 3,
        condition: Condition::Shell("exec 'test' '-f' '/x'".into()),
        log: "/var/log/cloud-init-output.log".into(),
        command: vec!["shutdown".into(), "-P".into(), "now".into()],
    });
    assert_eq!(argv, expected);
    assert_eq!(argv[2], LAUNCH);
    assert_eq!(argv[4], WATCH);
    // A plan changes nothing.
    assert!(!m.exists("/var/lib/cloud/instance"));
}

#[test]
fn alpine_command_from_system_info() {
    let m = seeded(
        "#cloud-config\nsystem_info: {distro: alpine}\npower_state: {mode: reboot, delay: 2, message: ignored}\n",
    );
    let module = planned(&m);
    let argv = host_effects(&module)[0]["argv"].as_array().unwrap().clone();
    let tail: Vec<&str> = argv[argv.len() - 4..]
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(tail, ["--", "reboot", "-d", "120"]);
}

#[test]
fn skipped_without_power_state() {
    let m = seeded("#cloud-config\nruncmd: [echo hi]\n");
    let out = m.run_ok(&["boot"], 0);
    assert!(
        report_block(&out).contains(
            "power_state_change [once-per-instance]: skipped (no applicable config: none of power_state is set)"
        ),
        "{out}"
    );
    assert!(!m.exists("/var/lib/cloud/instances/i-power/sem/config_power_state_change"));
}

#[test]
fn condition_false_plans_nothing() {
    let m = seeded("#cloud-config\npower_state: {mode: halt, condition: false}\n");
    let module = planned(&m);
    assert_eq!(host_effects(&module).len(), 0, "{module}");
    assert!(
        module["reason"]
            .as_str()
            .unwrap()
            .starts_with("Condition was false. Will not perform state change."),
        "{module}"
    );
}

/// A bad `power_state` fails this module alone; the others still run and the
/// final stage still finishes.
fn bad_config_fails_only_the_module(user: &str, needle: &str) {
    let m = seeded(user);
    m.boot_expecting(&[0, 0, 0, 1]);
    let errors = m.stage_errors("modules-final");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("power_state_change: ") && errors[0].contains(needle),
        "{errors:?}"
    );
    // Other modules ran: runcmd's script, the final message's boot-finished.
    assert!(m.exists("/var/lib/cloud/instances/i-power/scripts/runcmd"));
    assert!(m.exists("/var/lib/cloud/instances/i-power/boot-finished"));
}

#[test]
fn invalid_mode_is_an_error_naming_the_key() {
    bad_config_fails_only_the_module(
        "#cloud-config\nruncmd: [echo hi]\npower_state: {mode: sleep}\n",
        "power_state[mode] required, must be one of: halt,poweroff,reboot. found: 'sleep'. \
         Not performing power state change!",
    );
}

#[test]
fn invalid_delay_is_an_error_naming_the_key() {
    bad_config_fails_only_the_module(
        "#cloud-config\nruncmd: [echo hi]\npower_state: {mode: reboot, delay: soon}\n",
        "power_state[delay] must be 'now' or '+m' (minutes). found 'soon'.",
    );
}

#[test]
fn wrong_type_is_an_error_naming_the_key() {
    bad_config_fails_only_the_module(
        "#cloud-config\nruncmd: [echo hi]\npower_state: reboot\n",
        "power_state: expected",
    );
    bad_config_fails_only_the_module(
        "#cloud-config\nruncmd: [echo hi]\npower_state: {mode: reboot, condition: 5}\n",
        "power_state.condition: expected",
    );
}

// ---- the watcher script, run for real with a stand-in for shutdown ----

struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The stand-in: writes its arguments to `ran`, nothing else.
    fn stand_in(&self) -> Vec<String> {
        vec![
            "/bin/sh".into(),
            "-c".into(),
            "echo \"$*\" > \"$0\"".into(),
            self.path("ran").display().to_string(),
            "-r".into(),
            "now".into(),
            "Bye now".into(),
        ]
    }

    fn watch(&self, pid: u32, timeout_secs: u64, condition: Condition) -> Watch {
        Watch {
            pid,
            timeout_secs,
            condition,
            log: self.path("log").display().to_string(),
            command: self.stand_in(),
        }
    }

    fn ran(&self) -> bool {
        self.path("ran").exists()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("log")).unwrap_or_default()
    }
}

/// Starts a process to wait on, and returns once it runs `args` (spawn may
/// return before the exec shows in `/proc/<pid>/cmdline`, and the watcher
/// takes the cmdline it first reads as the one to watch).
fn spawn(args: &[&str]) -> Child {
    let child = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let want: Vec<u8> = args
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    let file = format!("/proc/{}/cmdline", child.id());
    assert!(
        wait_for(5, || std::fs::read(&file).ok().as_deref()
            == Some(&want[..])),
        "{args:?} did not start"
    );
    child
}

/// Runs the launcher as the live target would: it must return at once, 0.
fn launch(argv: &[String]) {
    let start = Instant::now();
    let out = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "launcher failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        start.elapsed() < Duration::from_millis(900),
        "the launcher waited"
    );
}

/// Polls until `f` holds, for at most `secs` seconds.
fn wait_for(secs: u64, f: impl Fn() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

#[test]
fn watcher_runs_the_command_only_after_the_process_exits() {
    let s = Scratch::new();
    let mut child = spawn(&["sleep", "2"]);
    launch(&watcher_argv(&s.watch(child.id(), 30, Condition::Always)));
    std::thread::sleep(Duration::from_millis(1200));
    assert!(child.try_wait().unwrap().is_none(), "sleep 2 still runs");
    assert!(!s.ran(), "ran before the process exited; log: {}", s.log());
    child.wait().unwrap();
    let exited = Instant::now();
    assert!(wait_for(5, || s.ran()), "never ran; log: {}", s.log());
    assert!(exited.elapsed() < Duration::from_secs(3));
    assert_eq!(
        std::fs::read_to_string(s.path("ran")).unwrap(),
        "-r now Bye now\n"
    );
    let log = s.log();
    assert!(
        log.contains("power_state_change: pidfile gone [2]"),
        "{log}"
    );
    assert!(
        log.contains("power_state_change: Static Condition: True"),
        "{log}"
    );
}

#[test]
fn watcher_gives_up_waiting_after_the_timeout() {
    let s = Scratch::new();
    let mut child = spawn(&["sleep", "60"]);
    let start = Instant::now();
    launch(&watcher_argv(&s.watch(child.id(), 1, Condition::Always)));
    let ran = wait_for(6, || s.ran());
    let alive = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(ran, "never ran; log: {}", s.log());
    assert!(alive, "the process was meant to outlive the timeout");
    assert!(start.elapsed() >= Duration::from_millis(900));
    assert!(
        s.log()
            .contains(&format!("timeout reached before {} ended", child.id())),
        "{}",
        s.log()
    );
}

#[test]
fn watcher_notices_a_changed_cmdline() {
    // The pid stays, the program changes: cloud-init takes it as gone.
    let s = Scratch::new();
    let mut child = spawn(&["/bin/sh", "-c", "sleep 1; exec sleep 30"]);
    launch(&watcher_argv(&s.watch(child.id(), 30, Condition::Always)));
    let ran = wait_for(6, || s.ran());
    let alive = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(ran, "never ran; log: {}", s.log());
    assert!(alive);
    assert!(s.log().contains("cmdline changed for"), "{}", s.log());
}

/// Waits on a process that ends at once, with `condition`; returns the log.
fn run_with_condition(s: &Scratch, condition: Condition) -> String {
    let mut child = spawn(&["sleep", "0.3"]);
    launch(&watcher_argv(&s.watch(child.id(), 30, condition)));
    child.wait().unwrap();
    assert!(
        wait_for(6, || s.ran()
            || s.log().contains("Condition: False")
            || s.log().contains("condition not met")
            || s.log().contains("do not apply change")),
        "the watcher did not finish; log: {}",
        s.log()
    );
    // The stand-in runs right after the condition, if at all.
    std::thread::sleep(Duration::from_millis(300));
    s.log()
}

#[test]
fn watcher_condition_exit_1_prevents_the_command() {
    let s = Scratch::new();
    let log = run_with_condition(&s, Condition::Shell("exit 1".into()));
    assert!(
        log.contains("check_condition command (exit 1): exited 1. condition not met."),
        "{log}"
    );
    assert!(!s.ran());
}

#[test]
fn watcher_condition_false_prevents_the_command() {
    let s = Scratch::new();
    let log = run_with_condition(&s, Condition::Never);
    assert!(log.contains("Static Condition: False"), "{log}");
    assert!(!s.ran());
}

#[test]
fn watcher_condition_other_exit_prevents_the_command() {
    let s = Scratch::new();
    let log = run_with_condition(&s, Condition::Shell("echo checking; exit 3".into()));
    // The condition's own output lands in the log too.
    assert!(log.contains("checking\n"), "{log}");
    assert!(
        log.contains("unexpected exit 3. do not apply change."),
        "{log}"
    );
    assert!(!s.ran());
}

#[test]
fn watcher_condition_list_from_config() {
    // The list form, as the module builds it from YAML: exit 0 then exit 1.
    let s = Scratch::new();
    let flag = s.path("reboot me");
    std::fs::write(&flag, "").unwrap();
    let yaml = format!(
        "power_state: {{mode: reboot, condition: [test, -f, '{}']}}",
        flag.display()
    );
    let cfg = cloudboot::yaml::load(yaml.as_bytes(), "t").unwrap();
    let ps = load_power_state(&cfg, "debian").unwrap().unwrap();
    let log = run_with_condition(&s, ps.condition.clone());
    assert!(log.contains("exited 0. condition met."), "{log}");
    assert!(s.ran(), "{log}");

    let s = Scratch::new();
    std::fs::remove_file(&flag).unwrap();
    let log = run_with_condition(&s, ps.condition);
    assert!(log.contains("exited 1. condition not met."), "{log}");
    assert!(!s.ran());
}

#[test]
fn launcher_refuses_a_pid_it_cannot_read() {
    // cloud-init's "failed to get cmdline of current process": no watcher.
    let s = Scratch::new();
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let argv = watcher_argv(&s.watch(pid, 1, Condition::Always));
    let out = Command::new(&argv[0]).args(&argv[1..]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("power_state: failed to get cmdline of current process"));
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!s.ran());
}

/// Every POSIX shell this machine has (dash as /bin/sh, bash, busybox sh),
/// each program once (/bin and /usr/bin may be one directory).
fn shells() -> Vec<Vec<&'static str>> {
    let shells: Vec<Vec<&str>> = [
        vec!["/bin/sh"],
        vec!["/bin/bash"],
        vec!["/usr/bin/bash"],
        vec!["/bin/busybox", "sh"],
        vec!["/usr/bin/busybox", "sh"],
    ]
    .into_iter()
    .filter(|s| Path::new(s[0]).exists())
    .collect();
    // /bin and /usr/bin may be one directory: each program once.
    let mut seen = Vec::new();
    let shells: Vec<Vec<&str>> = shells
        .into_iter()
        .filter(|s| {
            let real = std::fs::canonicalize(s[0]).unwrap();
            let new = !seen.contains(&(real.clone(), s.len()));
            seen.push((real, s.len()));
            new
        })
        .collect();
    assert!(!shells.is_empty());
    shells
}

/// The launcher under each shell (it starts the watcher with /bin/sh).
#[test]
fn launcher_under_each_shell() {
    for shell in shells() {
        let s = Scratch::new();
        let mut child = spawn(&["sleep", "0.5"]);
        let mut argv = watcher_argv(&s.watch(child.id(), 30, Condition::Always));
        argv.splice(..1, shell.iter().map(|s| s.to_string()));
        launch(&argv);
        child.wait().unwrap();
        assert!(wait_for(5, || s.ran()), "{shell:?}: {}", s.log());
    }
}

/// The watcher under each shell, run in the foreground: timeout, then
/// condition.
#[test]
fn watcher_script_under_each_shell() {
    for shell in shells() {
        for (cond, runs) in [("exit 0", true), ("exit 1", false)] {
            let s = Scratch::new();
            let mut child = spawn(&["sleep", "60"]);
            let cmdline = std::fs::read(format!("/proc/{}/cmdline", child.id()))
                .unwrap()
                .iter()
                .map(|&b| if b == 0 { ' ' } else { b as char })
                .collect::<String>();
            let mut argv: Vec<String> = shell.iter().map(|s| s.to_string()).collect();
            argv.extend([
                "-c".into(),
                WATCH.into(),
                "power_state_change".into(),
                cmdline,
                child.id().to_string(),
                "1".into(),
                s.path("log").display().to_string(),
                "sh".into(),
                cond.into(),
                "--".into(),
            ]);
            argv.extend(s.stand_in());
            let start = Instant::now();
            let status = Command::new(&argv[0])
                .args(&argv[1..])
                .stdin(Stdio::null())
                .status()
                .unwrap();
            child.kill().unwrap();
            child.wait().unwrap();
            assert!(status.success(), "{shell:?}: {status}; log: {}", s.log());
            assert!(
                start.elapsed() >= Duration::from_millis(900),
                "{shell:?}: {}",
                s.log()
            );
            assert!(
                s.log().contains("timeout reached before"),
                "{shell:?}: {}",
                s.log()
            );
            assert_eq!(s.ran(), runs, "{shell:?} {cond}: {}", s.log());
        }
    }
}
