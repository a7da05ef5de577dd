//! `status.json` and `result.json` as cloud-init's `status_wrapper` keeps them,
//! and `cloudboot status` as `cloud-init status` reports them.
//!
//! cloudboot adds two things, under its own top-level keys (cloud-init reads
//! only `v1`, and keeps other keys when it rewrites the file): for each stage,
//! which modules ran or were skipped, and why (`cloudboot`), and the warnings
//! it had (`cloudboot_warnings`). `status --long` prints both.

use std::path::{Path, PathBuf};

use serde_json::{json, Value as J};

use crate::effect::{Data, Effect};
use crate::paths::Paths;
use crate::py;
use crate::rootfs::FsView;
use crate::schedule::Stage;

/// cloud-init's status modes, in its order.
pub const MODES: [&str; 5] = [
    "init",
    "init-local",
    "modules-init",
    "modules-config",
    "modules-final",
];

/// The modes in the order a boot runs them.
const MODES_IN_ORDER: [&str; 5] = [
    "init-local",
    "init",
    "modules-init",
    "modules-config",
    "modules-final",
];

/// cloudboot's warnings of each stage, in status.json: `{mode: [warning]}`.
const WARNINGS_KEY: &str = "cloudboot_warnings";

const STATUS_LINK_TARGET: &str = "../../var/lib/cloud/data/status.json";
const RESULT_LINK_TARGET: &str = "../../var/lib/cloud/data/result.json";

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Python's `atomic_helper.write_json`: indent 1, sorted keys, newline.
pub fn json_file(v: &J) -> Vec<u8> {
    let mut s = py::json::dumps(v, 1);
    s.push('\n');
    s.into_bytes()
}

/// `Cloud-init v. <version> running '<action>' at <RFC2822>. Up <uptime> seconds.`,
/// the line each stage starts with.
pub fn welcome_line(stage: Stage, uptime: &str) -> String {
    let action = match stage {
        Stage::Local => "init-local",
        Stage::Network => "init",
        Stage::Config => "modules:config",
        Stage::Final => "modules:final",
    };
    format!(
        "Cloud-init v. {} running '{action}' at {}. Up {uptime} seconds.",
        crate::VERSION_STRING,
        chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S +0000"),
    )
}

/// One module's line in the status record.
#[derive(Clone, Debug)]
pub struct ModuleLine {
    pub name: String,
    /// `ran`, `failed`, `skipped`.
    pub result: &'static str,
    pub frequency: String,
    pub reason: String,
}

/// The status document of one run of a stage.
pub struct StageStatus {
    doc: J,
    mode: &'static str,
    /// `/run/cloud-init/result.json` already points at data/result.json
    /// (the final stage run again in one boot): it is not linked again.
    result_linked: bool,
}

/// A `/run/cloud-init` link to `target`, unless it already is one: cloud-init
/// forces it on every run (`util.sym_link(..., force=True)`), which leaves
/// the same link; cloudboot spares the rewrite (a new link, a rename and a
/// directory sync).
fn link_unless_there(fs: &dyn FsView, path: PathBuf, target: &str) -> Option<Effect> {
    let there = fs.read_link(&path).is_ok_and(|t| t == Path::new(target));
    (!there).then(|| Effect::Symlink {
        path,
        target: target.into(),
    })
}

impl StageStatus {
    /// Starts `mode`: the local stage begins a new boot (old files removed),
    /// the others load what is there. As cloud-init's `status_wrapper`,
    /// status.json is written here and once more by [`StageStatus::finish`],
    /// and linked from `/run/cloud-init` here only.
    pub fn begin(fs: &dyn FsView, paths: &Paths, mode: &'static str) -> (StageStatus, Vec<Effect>) {
        let mut effects = Vec::new();
        let mut doc = None;
        let new_boot = mode == "init-local";
        if new_boot {
            for p in [
                paths.runpath("status.json"),
                paths.runpath("result.json"),
                paths.data("status.json"),
                paths.data("result.json"),
            ] {
                effects.push(Effect::Remove { path: p });
            }
        } else {
            doc = fs
                .read(&paths.data("status.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<J>(&b).ok())
                .filter(|d| d.get("v1").map(J::is_object).unwrap_or(false));
        }
        let mut doc = doc.unwrap_or_else(|| json!({"v1": {"datasource": null}}));
        let v1 = doc["v1"].as_object_mut().expect("v1 is an object");
        for m in MODES {
            v1.entry(m)
                .or_insert_with(|| json!({"errors": [], "start": null, "finished": null}));
        }
        v1.insert("stage".into(), J::from(mode));
        v1[mode]["start"] = J::from(now());
        let result_linked = mode == "modules-final"
            && link_unless_there(fs, paths.runpath("result.json"), RESULT_LINK_TARGET).is_none();
        let st = StageStatus {
            doc,
            mode,
            result_linked,
        };
        effects.push(st.write(paths));
        // The local stage has just removed the link; the others find it
        // there unless something took it away.
        let link = paths.runpath("status.json");
        effects.extend(match new_boot {
            true => Some(Effect::Symlink {
                path: link,
                target: STATUS_LINK_TARGET.into(),
            }),
            false => link_unless_there(fs, link, STATUS_LINK_TARGET),
        });
        (st, effects)
    }

    fn write(&self, paths: &Paths) -> Effect {
        Effect::write(
            paths.data("status.json"),
            Data::public(json_file(&self.doc)),
            0o644,
        )
    }

    /// Ends the stage: its errors, the datasource, the module record and the
    /// warnings; and at the end of the final stage, `result.json`.
    pub fn finish(
        mut self,
        paths: &Paths,
        datasource: Option<&str>,
        errors: &[String],
        warnings: &[String],
        modules: &[ModuleLine],
    ) -> Vec<Effect> {
        let mode = self.mode;
        {
            let v1 = &mut self.doc["v1"];
            if let Some(ds) = datasource {
                v1["datasource"] = J::from(ds);
            }
            v1[mode]["errors"] = J::from(errors.to_vec());
            v1[mode]["finished"] = J::from(now());
            v1["stage"] = J::Null;
        }
        let lines: Vec<J> = modules
            .iter()
            .map(|m| {
                json!({"module": m.name, "result": m.result, "frequency": m.frequency, "reason": m.reason})
            })
            .collect();
        if !self.doc.get("cloudboot").map(J::is_object).unwrap_or(false) {
            self.doc["cloudboot"] = json!({});
        }
        self.doc["cloudboot"][mode] = J::Array(lines);
        if !self
            .doc
            .get(WARNINGS_KEY)
            .map(J::is_object)
            .unwrap_or(false)
        {
            self.doc[WARNINGS_KEY] = json!({});
        }
        self.doc[WARNINGS_KEY][mode] = J::from(warnings.to_vec());
        let mut effects = vec![self.write(paths)];
        if mode == "modules-final" {
            let v1 = &self.doc["v1"];
            let all: Vec<J> = MODES
                .iter()
                .flat_map(|m| v1[*m]["errors"].as_array().cloned().unwrap_or_default())
                .collect();
            let result = json!({"v1": {"datasource": v1["datasource"], "errors": all}});
            effects.push(Effect::write(
                paths.data("result.json"),
                Data::public(json_file(&result)),
                0o644,
            ));
            if !self.result_linked {
                effects.push(Effect::Symlink {
                    path: paths.runpath("result.json"),
                    target: RESULT_LINK_TARGET.into(),
                });
            }
        }
        effects
    }
}

/// What `status` reports (`cmd/status.py:get_status_details`).
pub struct Details {
    pub status: &'static str,
    pub boot_status_code: &'static str,
    pub description: String,
    pub errors: Vec<String>,
    pub last_update: String,
    pub datasource: Option<String>,
    pub modules: Vec<(String, Vec<ModuleLine>)>,
    /// cloudboot's warnings of every stage, each once.
    pub warnings: Vec<String>,
}

/// `get_bootstatus`, read under the root.
fn boot_status(fs: &dyn FsView, paths: &Paths) -> (&'static str, String) {
    let cmdline = fs
        .read_string(Path::new("/proc/cmdline"))
        .unwrap_or_default();
    let words: Vec<&str> = cmdline.split_whitespace().collect();
    // cloud-init's `uses_systemd()` (an lstat: a link does not count).
    if !crate::distro::runs_systemd(fs) {
        (
            "enabled-by-sysvinit",
            "Cloud-init enabled on sysvinit".into(),
        )
    } else if words.contains(&"cloud-init=enabled") {
        (
            "enabled-by-kernel-cmdline",
            "Cloud-init enabled by kernel command line cloud-init=enabled".into(),
        )
    } else if fs.exists(Path::new("/etc/cloud/cloud-init.disabled")) {
        (
            "disabled-by-marker-file",
            "Cloud-init disabled by /etc/cloud/cloud-init.disabled".into(),
        )
    } else if words.contains(&"cloud-init=disabled") {
        (
            "disabled-by-kernel-cmdline",
            "Cloud-init disabled by kernel parameter cloud-init=disabled".into(),
        )
    } else if fs.exists(&paths.runpath("disabled")) {
        (
            "disabled-by-generator",
            "Cloud-init disabled by cloud-init-generator".into(),
        )
    } else if fs.exists(&paths.runpath("enabled")) {
        (
            "enabled-by-generator",
            "Cloud-init enabled by systemd cloud-init-generator".into(),
        )
    } else {
        ("unknown", "Systemd generator may not have run yet.".into())
    }
}

pub fn details(fs: &dyn FsView, paths: &Paths) -> Details {
    let (code, mut description) = boot_status(fs, paths);
    let mut status = if code.starts_with("disabled") {
        "disabled"
    } else {
        "not run"
    };
    let mut errors = Vec::new();
    let mut datasource = Some(String::new());
    let mut latest = 0.0f64;
    let mut modules = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    let status_file = paths.runpath("status.json");
    let doc = fs
        .read(&status_file)
        .ok()
        .and_then(|b| serde_json::from_slice::<J>(&b).ok());
    if let Some(doc) = &doc {
        if !fs.exists(&paths.runpath("result.json")) {
            status = "running";
        }
        if let Some(v1) = doc.get("v1").and_then(J::as_object) {
            let mut keys: Vec<&String> = v1.keys().collect();
            keys.sort();
            for key in keys {
                let value = &v1[key];
                if key == "stage" {
                    if let Some(s) = value.as_str() {
                        status = "running";
                        description = format!("Running in stage: {s}");
                    }
                } else if key == "datasource" {
                    match value.as_str() {
                        None => datasource = None,
                        Some(ds) => {
                            description = ds.to_string();
                            let first = ds.split(' ').next().unwrap_or_default();
                            datasource = Some(first.to_lowercase().replace("datasource", ""));
                        }
                    }
                } else if let Some(obj) = value.as_object() {
                    if let Some(errs) = obj.get("errors").and_then(J::as_array) {
                        errors.extend(errs.iter().map(|e| {
                            e.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| e.to_string())
                        }));
                    }
                    let start = obj.get("start").and_then(J::as_f64).unwrap_or(0.0);
                    let finished = obj.get("finished").and_then(J::as_f64).unwrap_or(0.0);
                    if finished == 0.0 && start != 0.0 {
                        status = "running";
                    }
                    latest = latest.max(start).max(finished);
                }
            }
        }
        // A warning two stages found (both searched) is shown once.
        for mode in MODES_IN_ORDER {
            let stage_warnings = doc
                .get(WARNINGS_KEY)
                .and_then(|w| w.get(mode))
                .and_then(J::as_array);
            for w in stage_warnings.into_iter().flatten().filter_map(J::as_str) {
                if !warnings.iter().any(|seen| seen == w) {
                    warnings.push(w.to_string());
                }
            }
        }
        if let Some(cb) = doc.get("cloudboot").and_then(J::as_object) {
            for mode in MODES_IN_ORDER {
                if let Some(lines) = cb.get(mode).and_then(J::as_array) {
                    let parsed = lines
                        .iter()
                        .map(|l| ModuleLine {
                            name: l["module"].as_str().unwrap_or_default().to_string(),
                            result: match l["result"].as_str() {
                                Some("ran") => "ran",
                                Some("failed") => "failed",
                                _ => "skipped",
                            },
                            frequency: l["frequency"].as_str().unwrap_or_default().to_string(),
                            reason: l["reason"].as_str().unwrap_or_default().to_string(),
                        })
                        .collect();
                    modules.push((mode.to_string(), parsed));
                }
            }
        }
    }
    if !errors.is_empty() {
        status = "error";
        description = errors.join("\n");
    } else if status == "not run" && latest > 0.0 {
        status = "done";
    }
    let last_update = if latest > 0.0 {
        chrono::DateTime::from_timestamp(latest as i64, 0)
            .map(|d| d.format("%a, %d %b %Y %H:%M:%S +0000").to_string())
            .unwrap_or_default()
    } else {
        String::new()
    };
    Details {
        status,
        boot_status_code: code,
        description,
        errors,
        last_update,
        datasource,
        modules,
        warnings,
    }
}

impl Details {
    /// `cloud-init status [--long]`'s tabular output, as 22.4 prints it
    /// (`TABULAR_LONG_TMPL`).
    pub fn tabular(&self, long: bool) -> String {
        let mut s = format!("status: {}\n", self.status);
        if long {
            s.push_str(&format!("boot_status_code: {}\n", self.boot_status_code));
            if !self.last_update.is_empty() {
                s.push_str(&format!("last_update: {}\n", self.last_update));
            }
            s.push_str(&format!("detail:\n{}\n", self.description));
        }
        s
    }

    /// cloudboot's own lines after the tabular output (`status --modules`):
    /// the warnings the stages found and each stage's modules, ran, skipped
    /// or failed and why.
    pub fn tabular_modules(&self) -> String {
        let mut s = String::new();
        if !self.warnings.is_empty() {
            s.push_str("warnings:\n");
            for w in &self.warnings {
                s.push_str(&format!("  {w}\n"));
            }
        }
        if !self.modules.is_empty() {
            s.push_str("modules:\n");
            for (mode, lines) in &self.modules {
                s.push_str(&format!("  {mode}:\n"));
                if lines.is_empty() {
                    s.push_str("    (no modules)\n");
                }
                for l in lines {
                    s.push_str(&format!("    {}: {}", l.name, l.result));
                    if !l.reason.is_empty() {
                        s.push_str(&format!(" ({})", l.reason));
                    }
                    s.push('\n');
                }
            }
        }
        s
    }

    /// 22.4's `details_dict`: its keys, and the same again under
    /// `schemas.1`; with `modules`, cloudboot's `modules` and `warnings`
    /// keys too (`status --modules`).
    fn dict(&self, modules: bool) -> J {
        let mut d = json!({
            "datasource": self.datasource,
            "boot_status_code": self.boot_status_code,
            "status": self.status,
            "detail": self.description,
            "errors": self.errors,
            "last_update": self.last_update,
        });
        d["schemas"] = json!({"1": d.clone()});
        d["_schema_version"] = J::from("1");
        if modules {
            let mut m = serde_json::Map::new();
            for (mode, lines) in &self.modules {
                m.insert(
                    mode.clone(),
                    lines
                        .iter()
                        .map(|l| json!({"module": l.name, "result": l.result, "frequency": l.frequency, "reason": l.reason}))
                        .collect(),
                );
            }
            d["modules"] = J::Object(m);
            d["warnings"] = J::from(self.warnings.clone());
        }
        d
    }

    /// `--format json`: `json.dumps(details_dict, indent=2, sort_keys=True)`.
    pub fn json(&self, modules: bool) -> String {
        py::json::dumps(&self.dict(modules), 2)
    }

    /// `--format yaml`: `safeyaml.dumps(details_dict)` (`---` ... `...`).
    pub fn yaml(&self, modules: bool) -> String {
        crate::yaml::dump_cloud_config(&crate::value::Value::from_json(&self.dict(modules)))
    }
}

/// `cloud-init status`: 22.4's `handle_status_args` on the root's
/// `/run/cloud-init`, its output byte for byte (tests/status_parity.rs);
/// `--modules` (cloudboot only) adds each stage's modules and warnings.
/// Exit 1 for `error`, else 0, as 22.4.
pub fn run(root: &Path, m: &crate::argparse::Matches) -> i32 {
    use std::io::Write;
    let long = m.flag("long");
    let modules = m.flag("modules");
    let format = m.value("format").unwrap_or("tabular");
    let fs = crate::rootfs::RealFs {
        root: crate::rootfs::Root::new(root),
    };
    let paths = Paths::default();
    let mut d = details(&fs, &paths);
    let mut out = std::io::stdout();
    if m.flag("wait") {
        while matches!(d.status, "not run" | "running") {
            if format == "tabular" {
                let _ = out.write_all(b".");
                let _ = out.flush();
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
            d = details(&fs, &paths);
        }
    }
    let text = match format {
        "json" => format!("{}\n", d.json(modules)),
        "yaml" => format!("{}\n", d.yaml(modules)),
        _ => {
            // 22.4 starts the status line on a new line after --wait's dots
            // (whether or not it printed any).
            let prefix = if m.flag("wait") { "\n" } else { "" };
            let extra = if modules {
                d.tabular_modules()
            } else {
                String::new()
            };
            format!("{prefix}{}{extra}", d.tabular(long))
        }
    };
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    if d.status == "error" {
        1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::effect::testing::{symlinked_paths, written_paths};
    use crate::rootfs::testing::root_with;

    #[test]
    fn status_json_is_written_at_start_and_end_and_linked_once_per_boot() {
        let (tmp, fs) = root_with(&[("/var/lib/cloud/data/status.json", "{\"v1\": {}}\n")]);
        let paths = Paths::default();
        let status = paths.data("status.json");
        // The local stage starts a boot: the old link goes, a new one is made.
        let (st, effects) = StageStatus::begin(&fs, &paths, "init-local");
        assert_eq!(written_paths(&effects), std::slice::from_ref(&status));
        assert_eq!(symlinked_paths(&effects), [paths.runpath("status.json")]);
        assert!(symlinked_paths(&st.finish(&paths, None, &[], &[], &[])).is_empty());
        // A later stage finds the link there (as the local stage left it)
        // and writes the file only, at its start and at its end.
        let run = tmp.path().join("run/cloud-init");
        std::fs::create_dir_all(&run).unwrap();
        std::os::unix::fs::symlink(STATUS_LINK_TARGET, run.join("status.json")).unwrap();
        for mode in ["init", "modules-config", "modules-final"] {
            let (st, effects) = StageStatus::begin(&fs, &paths, mode);
            assert_eq!(
                written_paths(&effects),
                std::slice::from_ref(&status),
                "{mode}"
            );
            assert!(symlinked_paths(&effects).is_empty(), "{mode}: {effects:?}");
            let end = st.finish(&paths, Some("DataSourceNone"), &[], &[], &[]);
            assert_eq!(written_paths(&end)[0], status, "{mode}");
            let result_link: &[PathBuf] = match mode {
                "modules-final" => &[paths.runpath("result.json")][..],
                _ => &[],
            };
            assert_eq!(symlinked_paths(&end), result_link, "{mode}");
        }
        // The final stage run again in the same boot keeps its result link.
        std::os::unix::fs::symlink(RESULT_LINK_TARGET, run.join("result.json")).unwrap();
        let (st, _) = StageStatus::begin(&fs, &paths, "modules-final");
        let end = st.finish(&paths, None, &[], &[], &[]);
        assert_eq!(written_paths(&end), [status, paths.data("result.json")]);
        assert!(symlinked_paths(&end).is_empty());
    }

    #[test]
    fn a_link_that_went_missing_or_points_elsewhere_is_made_again() {
        let (tmp, fs) = root_with(&[("/var/lib/cloud/data/status.json", "{\"v1\": {}}\n")]);
        let paths = Paths::default();
        let (_, effects) = StageStatus::begin(&fs, &paths, "modules-config");
        assert_eq!(symlinked_paths(&effects), [paths.runpath("status.json")]);
        let run = tmp.path().join("run/cloud-init");
        std::fs::create_dir_all(&run).unwrap();
        std::os::unix::fs::symlink("/elsewhere/status.json", run.join("status.json")).unwrap();
        let (_, effects) = StageStatus::begin(&fs, &paths, "modules-config");
        assert_eq!(symlinked_paths(&effects), [paths.runpath("status.json")]);
    }
}
