//! `cloudboot doctor`: the problems an image carries that make its first
//! boot on a new cloud fail, found before that boot.
//!
//! Each check (one file each, listed in [`registry`]) reads the image
//! through an [`Image`] (a root, never the host's own files unless the root
//! is `/`) and returns [`Finding`]s: what is wrong, the evidence (file and
//! line), what it breaks on first boot, the fix in words, and the fix as
//! effects when `cloudboot seal` can make it ([`crate::seal`]). Checks only
//! read: they return effects, and nothing here applies them.

pub mod registry;

// The checks, one file each (see registry.rs).
pub mod both_enabled;
pub mod datasource_wait;
pub mod dhcp_hostname;
pub mod dhcp_leases;
pub mod disabled;
pub mod fstab_nofail;
pub mod host_keys;
pub mod instance_state;
pub mod machine_id;
pub mod network_disabled;
pub mod network_order;
pub mod nm_plugins;
pub mod persistent_net;
pub mod scripts_user;
pub mod stale_network;

use std::path::{Path, PathBuf};

use serde_json::{json, Value as J};

use crate::config;
use crate::distro::init_system::{self, Init};
use crate::distro::Distro;
use crate::effect::Effect;
use crate::rootfs::{FsView, Root};
use crate::value::Value;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The first boot on a new cloud goes wrong (no network, a hung boot,
    /// the old instance's identity).
    Error,
    /// A risk, or a cost (minutes of waiting), that does not stop the boot.
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// Where a finding was seen: a file of the image (root-relative), and the
/// line (1-based) when it is one line.
#[derive(Clone, Debug, PartialEq)]
pub struct Evidence {
    pub file: PathBuf,
    pub line: Option<usize>,
    /// What is there (the line, or a short description of the file).
    pub text: String,
}

impl Evidence {
    pub fn file(file: impl Into<PathBuf>, text: impl Into<String>) -> Evidence {
        Evidence {
            file: file.into(),
            line: None,
            text: text.into(),
        }
    }

    pub fn line(file: impl Into<PathBuf>, line: usize, text: impl Into<String>) -> Evidence {
        Evidence {
            file: file.into(),
            line: Some(line),
            text: text.into(),
        }
    }

    /// `file:line: text` (or `file: text`).
    pub fn display(&self) -> String {
        match self.line {
            Some(n) => format!("{}:{n}: {}", self.file.display(), self.text),
            None => format!("{}: {}", self.file.display(), self.text),
        }
    }
}

/// One problem of the image.
#[derive(Clone, Debug)]
pub struct Finding {
    /// The check's id ([`registry::Check::id`]).
    pub id: &'static str,
    pub severity: Severity,
    /// What it is, in one line.
    pub title: String,
    pub evidence: Vec<Evidence>,
    /// What it breaks on the first boot of a clone on a new cloud.
    pub breaks: String,
    /// The fix, in words (what `seal` does, or what a person must do).
    pub fix: String,
    /// The fix as effects on the image; empty when `seal` cannot make it.
    pub fixes: Vec<Effect>,
}

impl Finding {
    pub fn sealable(&self) -> bool {
        !self.fixes.is_empty()
    }

    pub fn to_json(&self) -> J {
        json!({
            "id": self.id,
            "severity": self.severity.as_str(),
            "title": self.title,
            "evidence": self.evidence.iter().map(|e| json!({
                "file": e.file.to_string_lossy(),
                "line": e.line,
                "text": e.text,
            })).collect::<Vec<_>>(),
            "breaks": self.breaks,
            "fix": self.fix,
            "sealable": self.sealable(),
        })
    }
}

/// What the user told doctor and seal about where the image goes.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `--cloud NAME`: the datasource of the cloud the image is moving to.
    pub cloud: Option<String>,
}

/// The image under examination: its root, and the facts every check
/// shares, read once.
pub struct Image<'a> {
    /// The root as the checks read it: the image, or (in `seal`) the image
    /// with the fixes made so far laid over it.
    pub fs: &'a dyn FsView,
    /// cloud-init's distro for the image, under its own config.
    pub distro: Distro,
    /// The init system the image boots with.
    pub init: Init,
    /// The image's system config: cloud.cfg merged with cloud.cfg.d, over
    /// the built-in defaults, as a boot would read it.
    pub cfg: Value,
    /// The config files read, lowest priority first.
    pub cfg_files: Vec<PathBuf>,
    /// The root is `/`: the running system.
    pub live: bool,
    pub options: Options,
}

/// The image could not be read at all (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("cannot read the image at {root}: {why}")]
pub struct Unreadable {
    pub root: PathBuf,
    pub why: String,
}

impl<'a> Image<'a> {
    /// Reads the image's shared facts from `fs`, a view of `root`. A root
    /// without an `/etc` directory is [`Unreadable`].
    pub fn read(
        fs: &'a dyn FsView,
        root: &Root,
        options: Options,
    ) -> Result<Image<'a>, Unreadable> {
        if !fs.is_dir(Path::new("/etc")) {
            return Err(Unreadable {
                root: root.host_path().to_path_buf(),
                why: "no /etc directory (not a system root?)".into(),
            });
        }
        let loaded = config::load_system(fs);
        let distro = Distro::detect(fs, &loaded.cfg);
        let init = init_system::detect(fs);
        Ok(Image {
            distro,
            init,
            cfg: loaded.cfg,
            cfg_files: loaded.sources,
            live: root.is_host_root(),
            fs,
            options,
        })
    }

    /// The file as text, if it is there and readable (at most 1 MiB: an
    /// image's config files are small, and a huge one is not read whole).
    pub fn text(&self, path: &str) -> Option<String> {
        let bytes = self.fs.read_at_most(Path::new(path), 1 << 20).ok()?;
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }

    pub fn exists(&self, path: &str) -> bool {
        self.fs.exists(Path::new(path))
    }

    /// The names in a directory, sorted; none when it is not there.
    pub fn list(&self, dir: &str) -> Vec<String> {
        let mut names = self.fs.list_dir(Path::new(dir)).unwrap_or_default();
        names.sort();
        names
    }

    /// The module names of one of the config's module lists
    /// (`cloud_init_modules`, `cloud_config_modules`, `cloud_final_modules`),
    /// each as written (`scripts-user`, `scripts_user`, or the first item of
    /// a `[name, frequency]` entry).
    pub fn module_list(&self, key: &str) -> Vec<String> {
        let Some(list) = self.cfg.get(key).and_then(Value::as_seq) else {
            return Vec::new();
        };
        list.iter()
            .filter_map(|item| match item {
                Value::Seq(v) => v.first().and_then(Value::as_str),
                other => other.as_str(),
            })
            .map(str::to_string)
            .collect()
    }

    /// Where the image's config sets top-level `key`: the line in the last
    /// config file that does (cloud.cfg.d's files come after cloud.cfg).
    pub fn line_of(&self, key: &str) -> Option<Evidence> {
        let prefix = format!("{key}:");
        self.cfg_files.iter().rev().find_map(|file| {
            let text = self.text(&file.to_string_lossy())?;
            let (n, line) = text
                .lines()
                .enumerate()
                .find(|(_, l)| l.starts_with(&prefix))?;
            Some(Evidence::line(file, n + 1, line.trim_end()))
        })
    }

    /// Whether a module list names `module` (`-` and `_` alike, as
    /// cloud-init's `form_module_name` reads them).
    pub fn lists_module(&self, key: &str, module: &str) -> bool {
        let want = module.replace('-', "_");
        self.module_list(key)
            .iter()
            .any(|m| m.trim().replace('-', "_") == want)
    }
}

/// Every check's findings on the image, in registry order.
pub fn examine(image: &Image) -> Vec<Finding> {
    registry::CHECKS
        .iter()
        .flat_map(|check| (check.run)(image))
        .collect()
}

/// doctor's exit code: 0 clean, 1 findings.
pub fn exit_code(findings: &[Finding]) -> i32 {
    if findings.is_empty() {
        0
    } else {
        1
    }
}

/// The text report.
pub fn render_text(root: &Path, findings: &[Finding]) -> String {
    let mut out = String::new();
    if findings.is_empty() {
        out.push_str(&format!(
            "{}: no problems found ({} checks)\n",
            root.display(),
            registry::CHECKS.len()
        ));
        return out;
    }
    for f in findings {
        out.push_str(&format!("{} [{}] {}\n", f.severity.as_str(), f.id, f.title));
        for e in &f.evidence {
            out.push_str(&format!("  evidence: {}\n", e.display()));
        }
        out.push_str(&format!("  breaks: {}\n", f.breaks));
        out.push_str(&format!(
            "  fix{}: {}\n",
            if f.sealable() {
                " (cloudboot seal does it)"
            } else {
                ""
            },
            f.fix
        ));
        out.push('\n');
    }
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let sealable = findings.iter().filter(|f| f.sealable()).count();
    out.push_str(&format!(
        "{}: {} finding{} ({errors} error{}, {} warning{}); {sealable} fixed by `cloudboot seal`\n",
        root.display(),
        findings.len(),
        plural(findings.len()),
        plural(errors),
        findings.len() - errors,
        plural(findings.len() - errors),
    ));
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The JSON report: `{"root": ..., "findings": [...]}`.
pub fn render_json(root: &Path, findings: &[Finding]) -> J {
    json!({
        "root": root.to_string_lossy(),
        "checks": registry::CHECKS.iter().map(|c| c.id).collect::<Vec<_>>(),
        "findings": findings.iter().map(Finding::to_json).collect::<Vec<_>>(),
    })
}

/// `doctor`: examines the image at `root`, prints the findings; exit 0
/// clean, 1 findings, 2 unreadable.
pub fn run(root: &Root, options: Options, json: bool) -> i32 {
    let fs = crate::rootfs::RealFs { root: root.clone() };
    let image = match Image::read(&fs, root, options) {
        Ok(image) => image,
        Err(e) => {
            eprintln!("cloudboot doctor: {e}");
            return 2;
        }
    };
    let findings = examine(&image);
    let shown: &Path = root.host_path();
    if json {
        println!(
            "{}",
            crate::py::json::dumps(&render_json(shown, &findings), 2)
        );
    } else {
        print!("{}", render_text(shown, &findings));
    }
    exit_code(&findings)
}
