//! Boots killed at random points of every stage, then booted again, as a
//! power cut would leave them: cloudboot and every program it started die
//! together (the stage runs in its own process group, which is killed with
//! SIGKILL). After each kill and the next boot, it counts:
//!
//! - torn files: a file cloudboot writes that is neither its old content nor
//!   its whole new content, a semaphore that is not cloud-init's format, a
//!   JSON state file that does not parse (checked right after the kill);
//! - duplicated runs: a script (runcmd, a user-data script, a per-instance
//!   and a per-once script) or a write_files append that took effect twice;
//! - temporary files left after the next boot;
//! - invalid JSON after the next boot.
//!
//! All must be 0. Scripts cut short by the kill are reported by the next
//! boot and not run again (so they may have run 0 times): counted and
//! printed, not a failure.
//!
//! `cargo test --test killed_boots` kills 25 boots (about 20 s);
//! `scripts/killed-boots.sh [N]` kills N (500 by default) and prints the
//! figures. `CLOUDBOOT_KILL_SEED` repeats a run. Needs root (the scripts
//! run inside the root under chroot).

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

const STAGES: [&[&str]; 4] = [
    &["init", "--local"],
    &["init"],
    &["modules", "--mode=config"],
    &["modules", "--mode=final"],
];
const STAGE_NAMES: [&str; 4] = ["local", "network", "config", "final"];

/// The files write_files writes: path, content before, content after.
const FILES: &[(&str, Option<&str>, &str)] = &[
    ("/etc/app/one.conf", None, "one\n"),
    ("/etc/app/two.conf", Some("two, old\n"), "two, new\n"),
    ("/etc/motd", Some("base motd\n"), "base motd\nappended\n"),
];

/// Counters: each script appends one line to its own file in /var/tmp.
const COUNTED: &[&str] = &["runcmd", "part", "per-instance", "per-once"];

fn user_data() -> Vec<u8> {
    let config = concat!(
        "#cloud-config\n",
        "write_files:\n",
        "  - path: /etc/app/one.conf\n    content: |\n      one\n",
        "  - path: /etc/app/two.conf\n    content: |\n      two, new\n",
        "  - path: /etc/motd\n    append: true\n    content: |\n      appended\n",
        "bootcmd:\n  - echo boot >> /var/tmp/count-bootcmd\n",
        "runcmd:\n  - echo ran >> /var/tmp/count-runcmd\n",
    );
    python(&format!(
        r##"
import sys
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
m = MIMEMultipart()
m.attach(MIMEText({config:?}, "cloud-config"))
m.attach(MIMEText("#!/bin/sh\necho ran >> /var/tmp/count-part\n", "x-shellscript"))
sys.stdout.write(m.as_string())
"##
    ))
}

fn machine(user: &[u8]) -> Machine {
    let m = Machine::new();
    m.write("/var/lib/cloud/seed/nocloud/meta-data", META);
    fs::write(m.path("/var/lib/cloud/seed/nocloud/user-data"), user).unwrap();
    m.install_busybox();
    for (path, before, _) in FILES {
        if let Some(b) = before {
            m.write(path, b);
        }
    }
    for (dir, name) in [("per-instance", "per-instance"), ("per-once", "per-once")] {
        let p = format!("/var/lib/cloud/scripts/{dir}/10-count");
        m.write(
            &p,
            &format!("#!/bin/sh\necho ran >> /var/tmp/count-{name}\n"),
        );
        fs::set_permissions(m.path(&p), fs::Permissions::from_mode(0o755)).unwrap();
    }
    m
}

/// A small xorshift generator: the kills are reproducible from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn stage(m: &Machine, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--root").arg(m.root()).args(args);
    c.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    c
}

/// Runs a stage to its end; returns how long it took.
fn run_stage(m: &Machine, args: &[&str]) -> Duration {
    let t = Instant::now();
    let status = stage(m, args).status().unwrap();
    assert!(status.code().is_some(), "{args:?} died: {status:?}");
    t.elapsed()
}

/// Runs a stage in its own process group and kills the group after `after`.
fn kill_stage(m: &Machine, args: &[&str], after: Duration) {
    let mut child = stage(m, args).process_group(0).spawn().unwrap();
    std::thread::sleep(after);
    // SAFETY: kill(2) on the group we just made; a group already gone is ESRCH.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    child.wait().unwrap();
}

#[derive(Default)]
struct Counts {
    kills: [u32; 4],
    torn: Vec<String>,
    duplicated: Vec<String>,
    leftover: Vec<String>,
    invalid_json: Vec<String>,
    cut_short: u32,
}

/// Every `*.json` under the state directories, and whether it parses.
fn json_files(m: &Machine) -> BTreeMap<String, bool> {
    let mut out = BTreeMap::new();
    for (path, desc) in m.snapshot() {
        let p = path.to_string_lossy().into_owned();
        if p.ends_with(".json") && desc.starts_with("file") {
            let ok = fs::read(m.root().join(&path))
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .is_some();
            out.insert(p, ok);
        }
    }
    out
}

fn check_after_kill(m: &Machine, trial: u32, counts: &mut Counts) {
    for (path, before, after) in FILES {
        let now = fs::read_to_string(m.path(path)).ok();
        let fine = now.as_deref() == Some(after) || now.as_deref() == *before;
        if !fine {
            counts
                .torn
                .push(format!("trial {trial}: {path} holds {now:?}"));
        }
    }
    for (path, ok) in json_files(m) {
        if !ok {
            counts
                .torn
                .push(format!("trial {trial}: {path} is not whole JSON"));
        }
    }
    for (path, desc) in m.snapshot() {
        let p = path.to_string_lossy();
        // A kill between creating a semaphore's temporary file and filling
        // it leaves that file empty: it is no semaphore (none is read by
        // that name) and the next boot removes it, which
        // check_after_next_boot counts.
        let temporary = path
            .file_name()
            .is_some_and(|n| cloudboot::rootfs::is_temp_name(&n.to_string_lossy()));
        if p.contains("/sem/") && desc.starts_with("file") && !temporary {
            let content = fs::read_to_string(m.root().join(&path)).unwrap_or_default();
            if !is_sem_content(&content) {
                counts
                    .torn
                    .push(format!("trial {trial}: semaphore {p} holds {content:?}"));
            }
        }
    }
}

fn check_after_next_boot(m: &Machine, trial: u32, counts: &mut Counts) {
    for name in COUNTED {
        let ran = fs::read_to_string(m.path(&format!("/var/tmp/count-{name}")))
            .unwrap_or_default()
            .lines()
            .count();
        match ran {
            1 => {}
            0 => counts.cut_short += 1,
            n => counts
                .duplicated
                .push(format!("trial {trial}: {name} ran {n} times")),
        }
    }
    let motd = fs::read_to_string(m.path("/etc/motd")).unwrap_or_default();
    let appended = motd.matches("appended").count();
    if appended != 1 {
        counts.duplicated.push(format!(
            "trial {trial}: the append was made {appended} times"
        ));
    }
    for (path, _) in m.snapshot() {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if cloudboot::rootfs::is_temp_name(&name) {
            counts
                .leftover
                .push(format!("trial {trial}: {}", path.display()));
        }
    }
    for (path, ok) in json_files(m) {
        if !ok {
            counts.invalid_json.push(format!("trial {trial}: {path}"));
        }
    }
    for (path, _, after) in FILES {
        let now = fs::read_to_string(m.path(path)).unwrap_or_default();
        if now != *after {
            counts.torn.push(format!(
                "trial {trial}: after the next boot {path} holds {now:?}"
            ));
        }
    }
}

fn report(counts: &Counts, seed: u64, took: Duration) -> String {
    let total: u32 = counts.kills.iter().sum();
    let per_stage: Vec<String> = STAGE_NAMES
        .iter()
        .zip(counts.kills)
        .map(|(n, k)| format!("{n} {k}"))
        .collect();
    format!(
        "killed boots: {total} ({}), seed {seed}, {:.0} s\n\
         torn files: {}\nduplicated runs: {}\nleftover temporary files after the next boot: {}\n\
         invalid JSON after the next boot: {}\nscripts cut short by a kill (reported, not run again): {}\n",
        per_stage.join(", "),
        took.as_secs_f64(),
        counts.torn.len(),
        counts.duplicated.len(),
        counts.leftover.len(),
        counts.invalid_json.len(),
        counts.cut_short,
    )
}

#[test]
fn boots_killed_at_random_points_leave_nothing_torn_doubled_or_behind() {
    if !can_chroot() {
        return;
    }
    let trials: u32 = std::env::var("CLOUDBOOT_KILLED_BOOTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(25);
    let seed: u64 = std::env::var("CLOUDBOOT_KILL_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    let started = Instant::now();
    let user = user_data();
    // How long each stage takes here: the kills land anywhere in it (and
    // a little after, when it has finished).
    let calibrate = machine(&user);
    let lengths: Vec<Duration> = STAGES.iter().map(|s| run_stage(&calibrate, s)).collect();
    let mut rng = Rng(seed);
    let mut counts = Counts::default();
    for trial in 0..trials {
        let m = machine(&user);
        let k = rng.below(4) as usize;
        let window = lengths[k].as_micros() as u64 * 5 / 4;
        let after = Duration::from_micros(rng.below(window));
        for s in &STAGES[..k] {
            run_stage(&m, s);
        }
        kill_stage(&m, STAGES[k], after);
        counts.kills[k] += 1;
        check_after_kill(&m, trial, &mut counts);
        // The next boot: /run is gone, all four stages run to their end.
        m.reboot();
        for s in &STAGES {
            run_stage(&m, s);
        }
        check_after_next_boot(&m, trial, &mut counts);
    }
    let text = report(&counts, seed, started.elapsed());
    // Printed past libtest's capture: the figures are the point.
    let _ = std::io::stderr().write_all(text.as_bytes());
    let problems: Vec<&String> = counts
        .torn
        .iter()
        .chain(&counts.duplicated)
        .chain(&counts.leftover)
        .chain(&counts.invalid_json)
        .collect();
    assert!(problems.is_empty(), "{text}{problems:#?}");
}
