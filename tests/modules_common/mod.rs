//! Cases recorded from real cloud-init 22.4 (tests/fixtures/modules, made by
//! `record.sh`): a scratch root prepared as the recorder prepared its
//! Debian root, and what cloud-init wrote and ran, to compare with what
//! cloudboot writes and plans.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::common::Machine;

pub mod debian_copy;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/modules")
}

pub fn case_dir(case: &str) -> PathBuf {
    fixtures().join("cases").join(case)
}

/// What `record.sh` writes into every case's root.
pub const RECORDER_CFG: &str = "datasource_list: [NoCloud, None]\nnetwork: {config: disabled}\ngrowpart: {mode: \"off\"}\nresize_rootfs: false\n";

fn copy_tree(src: &Path, dst: &Path) {
    for entry in fs::read_dir(src).unwrap().flatten() {
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let md = fs::symlink_metadata(&from).unwrap();
        if md.file_type().is_symlink() {
            let _ = fs::remove_file(&to);
            std::os::unix::fs::symlink(fs::read_link(&from).unwrap(), &to).unwrap();
        } else if md.is_dir() {
            fs::create_dir_all(&to).unwrap();
            fs::set_permissions(&to, fs::Permissions::from_mode(md.permissions().mode())).unwrap();
            copy_tree(&from, &to);
        } else {
            fs::copy(&from, &to).unwrap();
            fs::set_permissions(&to, fs::Permissions::from_mode(md.permissions().mode())).unwrap();
        }
    }
}

/// A scratch root as the recorder's was before boot 1: the Debian base
/// files (`fixtures/modules/base`), the case's seed in
/// `/var/lib/cloud/seed/nocloud` (0644), `90-recorder.cfg`, the case's
/// `root/` overlay, and the recorder's kernel command line.
pub fn machine_for(case: &str) -> Machine {
    let m = Machine::new();
    let base = fixtures().join("base");
    copy_tree(&base, m.root());
    let _ = fs::remove_file(m.path("/README.md"));
    let dir = case_dir(case);
    for name in ["meta-data", "user-data", "vendor-data", "network-config"] {
        // `full` links its seed files to examples/nocloud-full.
        if let Ok(content) = fs::read(dir.join(name)) {
            let dest = m.path(&format!("/var/lib/cloud/seed/nocloud/{name}"));
            fs::create_dir_all(dest.parent().unwrap()).unwrap();
            fs::write(&dest, content).unwrap();
            fs::set_permissions(&dest, fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    m.write("/etc/cloud/cloud.cfg.d/90-recorder.cfg", RECORDER_CFG);
    if dir.join("root").is_dir() {
        copy_tree(&dir.join("root"), m.root());
    }
    m.write(
        "/proc/cmdline",
        "BOOT_IMAGE=/boot/vmlinuz root=LABEL=root ro console=ttyS0\n",
    );
    m
}

/// One line of `expected/commands`.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    /// `init-local`, `init`, `config` or `final`.
    pub stage: String,
    /// The command line, each word quoted as `shlex.quote` quotes it.
    pub line: String,
    /// `stdin=<bytes>` when stdin was not /dev/null.
    pub stdin: Option<usize>,
    /// For chpasswd: the user names on stdin.
    pub users: Option<String>,
    /// Logged, not run (it would act on the running machine).
    pub not_run: bool,
}

/// `expected/commands` (boot 1) or `expected/boot2/commands`.
pub fn recorded_commands(case: &str, boot2: bool) -> Vec<Recorded> {
    let file = if boot2 {
        "expected/boot2/commands"
    } else {
        "expected/commands"
    };
    let text = fs::read_to_string(case_dir(case).join(file)).unwrap_or_default();
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut parts = l.split('\t');
            let stage = parts.next().unwrap().to_string();
            let line = parts.next().unwrap_or_default().to_string();
            let mut r = Recorded {
                stage,
                line,
                stdin: None,
                users: None,
                not_run: false,
            };
            for extra in parts {
                if extra == "(not run)" {
                    r.not_run = true;
                }
                for word in extra.split(' ') {
                    if let Some(n) = word.strip_prefix("stdin=") {
                        r.stdin = n.parse().ok();
                    } else if let Some(u) = word.strip_prefix("users=") {
                        r.users = Some(u.to_string());
                    }
                }
            }
            r
        })
        .collect()
}

/// `shlex.quote`, to compare planned argv with the recorded lines.
pub fn shlex_quote(word: &str) -> String {
    cloudboot::py::shell::shlex_quote(word)
}

/// A file cloud-init left (normalised as `recorder.py` normalises), if its
/// content was recorded.
pub fn expected_file(case: &str, guest: &str) -> Option<String> {
    fs::read_to_string(
        case_dir(case)
            .join("expected/files")
            .join(guest.trim_start_matches('/')),
    )
    .ok()
}

/// One line of `expected/manifest`.
#[derive(Clone, Debug, PartialEq)]
pub struct ManifestLine {
    pub path: String,
    pub kind: String,
    pub mode: String,
    pub owner: String,
    pub status: String,
    pub note: Option<String>,
}

pub fn manifest(case: &str) -> Vec<ManifestLine> {
    let text = fs::read_to_string(case_dir(case).join("expected/manifest")).unwrap_or_default();
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            ManifestLine {
                path: f[0].to_string(),
                kind: f.get(1).unwrap_or(&"").to_string(),
                mode: f.get(2).unwrap_or(&"").to_string(),
                owner: f.get(3).unwrap_or(&"").to_string(),
                status: f.get(4).unwrap_or(&"").to_string(),
                note: f.get(5).map(|s| s.to_string()),
            }
        })
        .collect()
}

pub fn manifest_entry(case: &str, path: &str) -> Option<ManifestLine> {
    manifest(case).into_iter().find(|l| l.path == path)
}

/// A command cloudboot plans, from `plan --format json`.
#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    /// `init-local`, `init`, `config` or `final`, as the recorder names stages.
    pub stage: String,
    pub module: String,
    pub argv: Vec<String>,
    /// What a plan shows of stdin (`<redacted>` for secrets).
    pub stdin: Option<String>,
}

impl Planned {
    /// The argv as the recorder writes command lines.
    pub fn line(&self) -> String {
        self.argv
            .iter()
            .map(|w| shlex_quote(w))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn stage_label(command: &str) -> String {
    match command {
        "cloud-init init --local" => "init-local",
        "cloud-init init" => "init",
        "cloud-init modules --mode config" => "config",
        "cloud-init modules --mode final" => "final",
        other => other,
    }
    .to_string()
}

/// Every `run` effect of a whole-boot plan of `m`, in order.
pub fn planned_commands(m: &Machine) -> Vec<Planned> {
    let out = m.plan(&["--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&out).expect("plan --format json");
    let mut cmds = Vec::new();
    for stage in plan["stages"].as_array().unwrap() {
        let label = stage_label(stage["command"].as_str().unwrap_or_default());
        for module in stage["modules"].as_array().into_iter().flatten() {
            for e in module["effects"].as_array().into_iter().flatten() {
                if e["action"] == "run" {
                    cmds.push(Planned {
                        stage: label.clone(),
                        module: module["name"].as_str().unwrap_or_default().to_string(),
                        argv: e["argv"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|a| a.as_str().unwrap_or_default().to_string())
                            .collect(),
                        stdin: e["stdin"].as_str().map(str::to_string),
                    });
                }
            }
        }
    }
    cmds
}
