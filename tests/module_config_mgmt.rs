//! salt_minion and mcollective against the `config_mgmt` case recorded from
//! real cloud-init 22.4 on Debian 12 (tests/fixtures/modules/cases): a
//! whole-boot plan of a scratch root holding the case's seed and overlay
//! plans the recorded `service` restarts (logged, not run, by the
//! recorder) after installing each package with apt-get (which the
//! recorder does not log), and writes the files cloud-init wrote with its
//! modes. The Debian root test (`debian_root.rs`, `config_mgmt`) boots the
//! same case with the real apt-get and compares the root file by file.

mod common;
mod modules_common;

use common::*;
use modules_common::*;

/// Each `run` or `host` effect of `module` in a whole-boot plan, as the
/// recorder writes command lines; and each file it writes.
fn planned(m: &Machine, module: &str) -> (Vec<String>, Vec<serde_json::Value>) {
    let out = m.plan(&["--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut lines = Vec::new();
    let mut files = Vec::new();
    for stage in plan["stages"].as_array().unwrap() {
        for mm in stage["modules"].as_array().into_iter().flatten() {
            // Named as the image's cloud.cfg lists it (`salt-minion`).
            if mm["name"].as_str().map(|n| n.replace('-', "_")).as_deref() != Some(module) {
                continue;
            }
            for e in mm["effects"].as_array().into_iter().flatten() {
                match e["action"].as_str() {
                    Some("run") | Some("host") => lines.push(
                        e["argv"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|a| shlex_quote(a.as_str().unwrap()))
                            .collect::<Vec<_>>()
                            .join(" "),
                    ),
                    Some("write") | Some("mkdir")
                        if e["path"].as_str().is_some_and(|p| p.starts_with("/etc/")) =>
                    {
                        files.push(e.clone())
                    }
                    _ => {}
                }
            }
        }
    }
    (lines, files)
}

fn machine() -> Machine {
    let m = machine_for("config_mgmt");
    std::fs::create_dir_all(m.path("/run/systemd/system")).unwrap();
    m
}

#[test]
fn the_recorded_restarts_follow_each_install() {
    let m = machine();
    let recorded: Vec<String> = recorded_commands("config_mgmt", false)
        .into_iter()
        .filter(|c| c.line.starts_with("service "))
        .map(|c| {
            assert!(c.not_run && c.stage == "final", "{c:?}");
            c.line
        })
        .collect();
    assert_eq!(
        recorded,
        ["service mcollective restart", "service salt-minion restart"]
    );
    let mut restarts = Vec::new();
    for (module, package) in [
        ("mcollective", "mcollective"),
        ("salt_minion", "salt-minion"),
    ] {
        let (lines, _) = planned(&m, module);
        let install = lines
            .iter()
            .position(|l| {
                l.starts_with("apt-get") && l.contains(" install ") && l.ends_with(package)
            })
            .unwrap_or_else(|| panic!("{module}: no install of {package}: {lines:?}"));
        let restart = lines.len() - 1;
        assert!(install < restart, "{module}: {lines:?}");
        restarts.push(lines[restart].clone());
    }
    assert_eq!(restarts, recorded);
}

/// The files the two modules write, with cloud-init's content and modes
/// (minion.pem: 0600 where 22.4 leaves a private key 0644; its content is
/// redacted in plans).
#[test]
fn the_planned_files_are_cloud_inits() {
    let m = machine();
    let mut files = planned(&m, "mcollective").1;
    files.extend(planned(&m, "salt_minion").1);
    let mut seen = Vec::new();
    for f in &files {
        let path = f["path"].as_str().unwrap();
        seen.push(path.to_string());
        let line = manifest_entry("config_mgmt", path)
            .unwrap_or_else(|| panic!("{path}: cloud-init did not write it"));
        let mode = f["mode"].as_str().unwrap();
        if path == "/etc/salt/pki/minion.pem" {
            assert_eq!((mode, line.mode.as_str()), ("0600", "0644"));
            assert_eq!(f["content"], "<redacted>");
            continue;
        }
        // The package made /etc/salt before the module looked (22.4's
        // ensure_dir then does nothing); a plan cannot know it will.
        if f["action"] == "mkdir" && path == "/etc/salt" {
            continue;
        }
        assert_eq!(mode, line.mode, "{path}");
        if f["action"] == "write" {
            let want = expected_file("config_mgmt", path).unwrap();
            if path == "/etc/mcollective/ssl/server-private.pem" {
                assert_eq!(f["content"], "<redacted>");
            } else {
                assert_eq!(f["content"].as_str().unwrap(), want, "{path}");
            }
        }
    }
    for path in [
        "/etc/mcollective/server.cfg",
        "/etc/mcollective/server.cfg.old",
        "/etc/mcollective/ssl/server-public.pem",
        "/etc/mcollective/ssl/server-private.pem",
        "/etc/salt/minion",
        "/etc/salt/grains",
        "/etc/salt/pki",
        "/etc/salt/pki/minion.pub",
        "/etc/salt/pki/minion.pem",
    ] {
        assert!(
            seen.iter().any(|s| s == path),
            "{path} not planned: {seen:?}"
        );
    }
}
