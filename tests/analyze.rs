//! `cloudboot analyze`: where a boot's time went, from the `start:` and
//! `finish:` events of the log, for cloudboot's log and cloud-init's.
//!
//! - A boot of a scratch root: `analyze blame` lists every module that ran
//!   with its time; `analyze plot` draws a well-formed SVG with a bar for
//!   each of them.
//! - A boot of a copy of the Debian 12 root: Debian's own `cloud-init
//!   analyze blame|show|dump`, run inside the copy on cloudboot's log, prints
//!   what `cloudboot analyze` prints (needs root and the Debian root, see
//!   `common::skip`).
//! - A real cloud-init 22.4 log (tests/fixtures/analyze, README there):
//!   `cloudboot analyze` prints what 22.4's `cloud-init analyze` printed.
//!
//! `dump` shows the log's times as local times, so every run here has
//! `TZ=UTC`.

mod common;
mod modules_common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Machine, BIN};
use modules_common::debian_copy::DebianCopy;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/analyze")
}

/// `cloudboot analyze ARGS` (TZ=UTC): its exit code, stdout and stderr.
fn analyze(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(BIN)
        .env("TZ", "UTC")
        .arg("analyze")
        .args(args)
        .output()
        .expect("running cloudboot analyze");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn analyze_ok(args: &[&str]) -> String {
    let (code, out, err) = analyze(args);
    assert_eq!(
        code,
        Some(0),
        "analyze {args:?}\nstdout:\n{out}\nstderr:\n{err}"
    );
    out
}

/// The modules the log says ran: `(stage reporter, module name)` from the
/// module runner's "Running module NAME (...)" lines, each under the stage
/// whose banner came last.
fn modules_that_ran(log: &str) -> BTreeSet<(String, String)> {
    let mut stage = String::new();
    let mut ran = BTreeSet::new();
    for line in log.lines() {
        if let Some(rest) = line.split("running '").nth(1) {
            let s = rest.split('\'').next().unwrap_or_default();
            stage = match s {
                "init" => "init-network".into(),
                other => other.replace(':', "-"),
            };
        }
        if let Some(rest) = line.split("]: Running module ").nth(1) {
            let name = rest.split(' ').next().unwrap_or_default();
            ran.insert((stage.clone(), name.to_string()));
        }
    }
    ran
}

/// A well-formed XML document (tags nested and closed, attributes quoted,
/// entities known); the names of its elements with their `class`
/// attribute, in order.
fn xml_elements(text: &str) -> Vec<(String, Option<String>)> {
    let body = text
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
        .expect("an XML declaration");
    let mut open: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let mut rest = body;
    let check_text = |t: &str| {
        let mut parts = t.split('&');
        parts.next();
        for p in parts {
            let ent = p.split(';').next().unwrap();
            assert!(
                ["amp", "lt", "gt", "quot", "apos"].contains(&ent),
                "unknown entity &{ent}; in {t:?}"
            );
        }
        assert!(
            !t.contains('<') && !t.contains('>'),
            "stray bracket in {t:?}"
        );
    };
    while let Some(i) = rest.find('<') {
        check_text(&rest[..i]);
        let end = rest[i..].find('>').expect("an unclosed tag") + i;
        let tag = &rest[i + 1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(open.pop().as_deref(), Some(name), "mismatched </{name}>");
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let name = tag
            .split_whitespace()
            .next()
            .expect("a tag name")
            .to_string();
        let mut attrs = tag[name.len()..].trim();
        let mut class = None;
        while !attrs.is_empty() {
            let (key, after) = attrs.split_once("=\"").expect("a quoted attribute");
            let (value, after) = after.split_once('"').expect("a closed attribute");
            check_text(value);
            if key.trim() == "class" {
                class = Some(value.to_string());
            }
            attrs = after.trim();
        }
        out.push((name.clone(), class));
        if !self_closing {
            open.push(name);
        }
    }
    assert!(open.is_empty(), "unclosed elements {open:?}");
    assert!(rest.trim().is_empty(), "text after the root element");
    out
}

/// The texts of the `<text class="label">` elements of a plot.
fn plot_labels(svg: &str) -> Vec<String> {
    svg.split("<text class=\"label\"")
        .skip(1)
        .map(|t| {
            t.split('>')
                .nth(1)
                .unwrap()
                .split('<')
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn blame_lists_every_module_that_ran_with_its_time_and_plot_draws_a_bar_for_each() {
    let m = Machine::new();
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/nocloud-write-files");
    // Exit code aside (runcmd's script has no /bin/sh in a scratch root).
    m.run(&["boot", "--seed", seed.to_str().unwrap()]);
    let log_path = m.path("/var/log/cloud-init.log");
    let log = std::fs::read_to_string(&log_path).unwrap();
    let ran = modules_that_ran(&log);
    assert!(ran.len() >= 10, "modules that ran: {ran:?}");
    let log_arg = log_path.to_str().unwrap();

    let blame = analyze_ok(&["blame", "-i", log_arg]);
    assert!(blame.starts_with("-- Boot Record 01 --\n"), "{blame}");
    assert!(blame.ends_with("\n1 boot records analyzed\n"), "{blame}");
    for (stage, name) in &ran {
        let suffix = format!("s ({stage}/config-{name})");
        let line = blame
            .lines()
            .find(|l| l.ends_with(&suffix))
            .unwrap_or_else(|| panic!("no blame line for {stage}/{name}:\n{blame}"));
        let secs = line.trim().strip_suffix(&suffix).unwrap();
        assert!(
            secs.len() == 8 && secs.parse::<f64>().is_ok(),
            "{line:?}: a time in seconds"
        );
    }
    // With --root, the root's log is read by default.
    assert_eq!(
        String::from_utf8_lossy(&m.run(&["analyze", "blame"]).stdout),
        blame
    );

    let show = analyze_ok(&["show", "-i", log_arg]);
    for stage in [
        "init-local",
        "init-network",
        "modules-config",
        "modules-final",
    ] {
        assert!(
            show.contains(&format!("Starting stage: {stage}\n")),
            "{show}"
        );
        assert!(
            show.contains(&format!("Finished stage: ({stage}) ")),
            "{show}"
        );
    }

    let svg = analyze_ok(&["plot", "-i", log_arg]);
    let elements = xml_elements(&svg);
    assert_eq!(elements.first().map(|e| e.0.as_str()), Some("svg"));
    let stage_bars = elements
        .iter()
        .filter(|(n, c)| n == "rect" && c.as_deref() == Some("stage"))
        .count();
    assert_eq!(stage_bars, 4, "a bar per stage");
    let labels = plot_labels(&svg);
    for (stage, name) in &ran {
        let want = format!("{stage}/config-{name} ");
        assert!(
            labels
                .iter()
                .any(|l| l.starts_with(&want) && l.ends_with(" ms")),
            "no bar labelled {want}... ms in {labels:?}"
        );
    }
    // The same log, the same picture.
    assert_eq!(analyze_ok(&["plot", "-i", log_arg]), svg);
}

#[test]
fn a_failed_module_finishes_its_event_and_its_stage_with_fail() {
    let m = Machine::seeded(
        "instance-id: iid-analyze-fail\n",
        "#cloud-config\nwrite_files:\n  - path: /etc/analyze-ok\n    content: ok\nbootcmd: 5\n",
    );
    m.run(&["init", "--local"]);
    m.run(&["init"]);
    let log = m.read("/var/log/cloud-init.log");
    let failed: Vec<&str> = log.lines().filter(|l| l.contains(": FAIL: ")).collect();
    assert!(
        failed
            .iter()
            .any(|l| l.contains("finish: init-network/config-bootcmd: FAIL: running config-bootcmd with frequency always")),
        "{log}"
    );
    assert!(
        failed
            .iter()
            .any(|l| l.contains("finish: init-network: FAIL: searching for network datasources")),
        "{log}"
    );
    assert!(log.contains(
        "finish: init-network/config-write_files: SUCCESS: config-write_files ran successfully"
    ));
}

#[test]
fn a_plan_writes_no_events() {
    let m = Machine::seeded(
        "instance-id: iid-analyze-plan\n",
        "#cloud-config\nwrite_files:\n  - path: /etc/x\n    content: x\n",
    );
    m.plan(&[]);
    assert!(!m.exists("/var/log/cloud-init.log"));
}

#[test]
fn a_real_cloud_init_logs_analysis_is_22_4s_byte_for_byte() {
    let log = fixtures().join("cloud-init-22.4.log");
    let log = log.to_str().unwrap();
    for verb in ["show", "blame", "dump"] {
        let want =
            std::fs::read_to_string(fixtures().join(format!("expected-{verb}.txt"))).unwrap();
        assert_eq!(analyze_ok(&[verb, "-i", log]), want, "analyze {verb}");
    }
    let want = std::fs::read_to_string(fixtures().join("expected-show-format.txt")).unwrap();
    assert_eq!(
        analyze_ok(&["show", "-f", "%n %e %r %t %D", "-i", log]),
        want
    );
    // dump's JSON read back is the same analysis (22.4 reads JSON input too).
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("events.json");
    let json_arg = json.to_str().unwrap();
    analyze_ok(&["dump", "-i", log, "-o", json_arg]);
    let want = std::fs::read_to_string(fixtures().join("expected-blame.txt")).unwrap();
    assert_eq!(analyze_ok(&["blame", "-i", json_arg]), want);
    // And it can be drawn: two boots, the stages of each.
    let svg = analyze_ok(&["plot", "-i", log]);
    let stage_bars = xml_elements(&svg)
        .iter()
        .filter(|(n, c)| n == "rect" && c.as_deref() == Some("stage"))
        .count();
    assert_eq!(stage_bars, 8);
    assert!(plot_labels(&svg)
        .iter()
        .any(|l| l.starts_with("init-network/config-write-files ")));
}

#[test]
fn a_missing_log_is_22_4s_error() {
    let (code, out, err) = analyze(&["blame", "-i", "/nonexistent/cloud-init.log"]);
    assert_eq!((code, out.as_str()), (Some(1), ""));
    assert_eq!(err, "Cannot open file /nonexistent/cloud-init.log\n");
    let (code, _, err) = analyze(&["boot", "-i", "/nonexistent/cloud-init.log"]);
    assert_eq!(code, Some(1));
    assert_eq!(err, "Cannot open file /nonexistent/cloud-init.log\n");
}

#[test]
fn boot_without_systemd_says_what_22_4_says() {
    // No init-local banner in the log: 22.4's failure text, whatever the
    // machine (with systemd, the record cannot name cloud-init's start).
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("empty.log");
    std::fs::write(&log, "").unwrap();
    let (code, out, err) = analyze(&["boot", "-i", log.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(
        out.ends_with(
            "Your Linux distro or container does not support this functionality.\n\
         You must be running a Kernel Telemetry supported distro.\n\
         Please check https://cloudinit.readthedocs.io/en/latest/topics/analyze.html for more \
         information on supported distros.\n"
        ),
        "{out}"
    );
    assert_eq!(err, "failure\n");
}

/// Debian's `cloud-init analyze VERB -i LOG` inside the copy (TZ=UTC).
fn debian_analyze(copy: &DebianCopy, verb: &str, guest_log: &str) -> String {
    let out = Command::new("chroot")
        .arg(copy.root())
        .args([
            "/usr/bin/env",
            "-i",
            "TZ=UTC",
            "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
        ])
        .args(["cloud-init", "analyze", verb, "-i", guest_log])
        .output()
        .unwrap();
    assert!(out.status.success(), "cloud-init analyze {verb}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn debians_cloud_init_analyze_reads_a_cloudboot_log_as_cloudboot_does() {
    let Some(base) = common::skip::debian_root() else {
        return;
    };
    let copy = DebianCopy::as_recorded(&base).without_network();
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/engine-only");
    copy.seed(
        &std::fs::read_to_string(seed.join("meta-data")).unwrap(),
        &std::fs::read_to_string(seed.join("user-data")).unwrap(),
    );
    let _ = std::fs::remove_file(copy.path("/var/log/cloud-init.log"));
    // A first boot and a reboot: two boot records.
    let (log, codes) = copy.boot();
    assert!(codes.iter().all(|(_, c)| *c == Some(0)), "{log}");
    let _ = std::fs::remove_dir_all(copy.path("/run/cloud-init"));
    let (log, codes) = copy.boot();
    assert!(codes.iter().all(|(_, c)| *c == Some(0)), "{log}");

    let host_log = copy.path("/var/log/cloud-init.log");
    let host_log = host_log.to_str().unwrap();
    for verb in ["blame", "show", "dump"] {
        let theirs = debian_analyze(&copy, verb, "/var/log/cloud-init.log");
        assert_eq!(
            analyze_ok(&[verb, "-i", host_log]),
            theirs,
            "analyze {verb}"
        );
    }
    let blame = analyze_ok(&["blame", "-i", host_log]);
    assert!(blame.contains("-- Boot Record 02 --"), "{blame}");
    let ran = modules_that_ran(&std::fs::read_to_string(host_log).unwrap());
    for (stage, name) in &ran {
        assert!(
            blame.contains(&format!("s ({stage}/config-{name})\n")),
            "{stage}/{name} not in\n{blame}"
        );
    }

    // The committed 22.4 log, analysed by 22.4 here too.
    std::fs::copy(
        fixtures().join("cloud-init-22.4.log"),
        copy.path("/var/log/cloud-init-22.4.log"),
    )
    .unwrap();
    let fixture = fixtures().join("cloud-init-22.4.log");
    for verb in ["blame", "show", "dump"] {
        let theirs = debian_analyze(&copy, verb, "/var/log/cloud-init-22.4.log");
        assert_eq!(
            analyze_ok(&[verb, "-i", fixture.to_str().unwrap()]),
            theirs,
            "analyze {verb} of the 22.4 log"
        );
    }
}
