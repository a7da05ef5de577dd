//! What a stage did (or, in a plan, would do): the engine's own steps, each
//! module's decision and effects. `boot` prints it as a summary, `plan` with
//! diffs, `plan --format json` as data. Secrets were redacted when the
//! records were made; nothing here sees them.

use serde_json::{json, Value as J};

use crate::schedule::{Frequency, Stage};
use crate::status::ModuleLine;
use crate::target::{Applied, Outcome, Record};

/// Whether a module ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModResult {
    Ran,
    Failed,
    Skipped,
}

impl ModResult {
    pub fn as_str(self) -> &'static str {
        match self {
            ModResult::Ran => "ran",
            ModResult::Failed => "failed",
            ModResult::Skipped => "skipped",
        }
    }
}

/// One module's run.
#[derive(Clone, Debug)]
pub struct ModuleReport {
    /// Name as written in the module list.
    pub name: String,
    pub frequency: Frequency,
    pub result: ModResult,
    /// Why it was skipped, or what it did.
    pub reason: String,
    pub records: Vec<Record>,
    pub errors: Vec<String>,
    pub notes: Vec<String>,
}

impl ModuleReport {
    pub fn skipped(name: &str, frequency: Frequency, reason: String) -> ModuleReport {
        ModuleReport {
            name: name.to_string(),
            frequency,
            result: ModResult::Skipped,
            reason,
            records: Vec::new(),
            errors: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// A step the engine reports as if it were a module (`network`,
    /// `early_hostname`): every boot, failed when it has errors, else ran
    /// when it changed something (`did`), else skipped.
    pub fn engine_step(
        name: &str,
        reason: String,
        did: bool,
        applied: Applied,
        errors: Vec<String>,
        notes: Vec<String>,
    ) -> ModuleReport {
        let mut errors = errors;
        errors.extend(applied.errors);
        let result = if !errors.is_empty() {
            ModResult::Failed
        } else if did {
            ModResult::Ran
        } else {
            ModResult::Skipped
        };
        ModuleReport {
            name: name.to_string(),
            frequency: Frequency::Always,
            result,
            reason,
            records: applied.records,
            errors,
            notes,
        }
    }

    pub fn line(&self) -> ModuleLine {
        ModuleLine {
            name: self.name.clone(),
            result: self.result.as_str(),
            frequency: self.frequency.as_str().to_string(),
            reason: self.reason.clone(),
        }
    }
}

/// One stage's run.
#[derive(Clone, Debug)]
pub struct StageReport {
    pub stage: Stage,
    pub datasource: Option<String>,
    pub instance_id: Option<String>,
    pub new_instance: Option<bool>,
    /// Where the module list came from.
    pub module_source: Option<String>,
    /// The engine's own steps (state files, user-data, semaphores of steps).
    pub engine: Vec<Record>,
    pub modules: Vec<ModuleReport>,
    /// Every error of the stage (its exit code, status.json's list), a
    /// module's prefixed with its name.
    pub errors: Vec<String>,
    /// Problems that are not errors but must not go unnoticed (a datasource
    /// named in `datasource_list` that cloudboot does not have).
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
    /// `errors` and `warnings` as sets, for [`StageReport::error`]'s "once"
    /// (a search of the list made many messages cost quadratic time).
    seen: [Seen; 2],
}

/// Where the messages of a list (up to `indexed`) are, by their hash: a
/// set of positions rather than of copies, since a stage can hold tens of
/// thousands of messages. What was pushed on the list directly since is
/// indexed when next asked.
#[derive(Clone, Debug, Default)]
struct Seen {
    by_hash: std::collections::HashMap<u64, Vec<usize>>,
    indexed: usize,
}

impl Seen {
    /// Whether `list` holds `msg`.
    fn holds(&mut self, list: &[String], msg: &str) -> bool {
        use std::hash::BuildHasher;
        // A fixed hasher: positions found by hash are compared anyway.
        let hash = |m: &str| {
            std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
                .hash_one(m)
        };
        if self.indexed > list.len() {
            *self = Seen::default();
        }
        for (i, m) in list.iter().enumerate().skip(self.indexed) {
            self.by_hash.entry(hash(m)).or_default().push(i);
        }
        self.indexed = list.len();
        self.by_hash
            .get(&hash(msg))
            .is_some_and(|at| at.iter().any(|&i| list[i] == msg))
    }
}

impl StageReport {
    pub fn new(stage: Stage) -> StageReport {
        StageReport {
            stage,
            datasource: None,
            instance_id: None,
            new_instance: None,
            module_source: None,
            engine: Vec::new(),
            modules: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
            notes: Vec::new(),
            seen: Default::default(),
        }
    }

    /// Records an error the engine found: logged and listed once. The same
    /// message found again in the same stage (the config is read several
    /// times in a stage) is not repeated. Errors already logged where they
    /// happened (a module's, a failed effect's) go to `errors` directly.
    pub fn error(&mut self, msg: impl Into<String>) {
        let msg = msg.into();
        if !self.seen[0].holds(&self.errors, &msg) {
            tracing::warn!("{msg}");
            self.errors.push(msg);
        }
    }

    /// A module's run (or a step reported as one): its errors join the
    /// stage's, each prefixed with the module's name.
    pub fn add_module(&mut self, m: ModuleReport) {
        for e in &m.errors {
            self.errors.push(format!("{}: {e}", m.name));
        }
        self.modules.push(m);
    }

    /// As [`StageReport::error`], for a warning.
    pub fn warning(&mut self, msg: impl Into<String>) {
        let msg = msg.into();
        if !self.seen[1].holds(&self.warnings, &msg) {
            tracing::warn!("{msg}");
            self.warnings.push(msg);
        }
    }

    /// The stage's errors that are not a module's, and for each module
    /// with errors, its name and how many: a module's errors are shown
    /// under the module, so the stage's list only points at them.
    fn errors_outside_modules(&self) -> (Vec<&String>, Vec<(&str, usize)>) {
        let of_modules: std::collections::HashSet<String> = self
            .modules
            .iter()
            .flat_map(|m| m.errors.iter().map(move |e| format!("{}: {e}", m.name)))
            .collect();
        let others = self
            .errors
            .iter()
            .filter(|e| !of_modules.contains(*e))
            .collect();
        let failed = self
            .modules
            .iter()
            .filter(|m| !m.errors.is_empty())
            .map(|m| (m.name.as_str(), m.errors.len()))
            .collect();
        (others, failed)
    }
}

fn outcome_suffix(o: &Outcome) -> String {
    match o {
        Outcome::NotRun(why) => format!(" [{why}]"),
        Outcome::Failed(why) => format!(" [FAILED: {why}]"),
        _ => String::new(),
    }
}

/// Records outside a stage (`seal`'s fixes), one each, with their diffs
/// when `plan`.
pub fn render_records(records: &[Record], indent: &str, plan: bool) -> String {
    let mut out = String::new();
    for r in records {
        push_record(&mut out, r, indent, plan);
    }
    out
}

fn push_record(out: &mut String, r: &Record, indent: &str, with_detail: bool) {
    out.push_str(&format!(
        "{indent}{}{}\n",
        r.summary,
        outcome_suffix(&r.outcome)
    ));
    if let Some(d) = &r.detail {
        if with_detail || !d.contains('\n') {
            for line in d.lines() {
                out.push_str(&format!("{indent}    {line}\n"));
            }
        }
    }
}

/// Human text. `plan`: say "would", show diffs; else a summary of what happened.
pub fn render_text(reports: &[StageReport], plan: bool) -> String {
    let mut out = String::new();
    for rep in reports {
        out.push_str(&format!(
            "== stage {} (cloud-init {}){} ==\n",
            rep.stage,
            rep.stage.command(),
            if plan { ", planned" } else { "" }
        ));
        if let (Some(ds), Some(iid)) = (&rep.datasource, &rep.instance_id) {
            let fresh = match rep.new_instance {
                Some(true) => ", new instance",
                Some(false) => ", same instance as last boot",
                None => "",
            };
            out.push_str(&format!("datasource: {ds}\ninstance-id: {iid}{fresh}\n"));
        }
        for w in &rep.warnings {
            out.push_str(&format!("warning: {w}\n"));
        }
        for n in &rep.notes {
            out.push_str(&format!("note: {n}\n"));
        }
        let shown: Vec<&Record> = rep
            .engine
            .iter()
            .filter(|r| r.outcome != Outcome::Unchanged)
            .filter(|r| plan || !matches!(r.outcome, Outcome::Done))
            .collect();
        if !plan {
            let done = rep
                .engine
                .iter()
                .filter(|r| r.outcome == Outcome::Done)
                .count();
            out.push_str(&format!(
                "engine: {done} step{} done (state files under /var/lib/cloud and /run/cloud-init)\n",
                if done == 1 { "" } else { "s" }
            ));
        }
        if !shown.is_empty() {
            out.push_str(&format!(
                "engine ({} step{}):\n",
                shown.len(),
                if shown.len() == 1 { "" } else { "s" }
            ));
            // The engine's own files are listed; their diffs are in --format json.
            for r in shown {
                out.push_str(&format!("  {}{}\n", r.summary, outcome_suffix(&r.outcome)));
            }
        }
        if let Some(src) = &rep.module_source {
            out.push_str(&format!("modules (from {src}):\n"));
        }
        for m in &rep.modules {
            let verb = match (m.result, plan) {
                (ModResult::Ran, true) => "would run",
                (ModResult::Failed, true) => "would fail",
                (r, _) => r.as_str(),
            };
            out.push_str(&format!("  {} [{}]: {verb}", m.name, m.frequency.as_str()));
            if !m.reason.is_empty() {
                out.push_str(&format!(" ({})", m.reason));
            }
            out.push('\n');
            // A note shared by several effects (an owner not applied) is said once.
            let mut last_detail: Option<&String> = None;
            for r in &m.records {
                if r.detail.is_some() && r.detail.as_ref() == last_detail {
                    out.push_str(&format!(
                        "      {}{}\n",
                        r.summary,
                        outcome_suffix(&r.outcome)
                    ));
                    continue;
                }
                last_detail = r.detail.as_ref();
                push_record(&mut out, r, "      ", plan);
            }
            for e in &m.errors {
                out.push_str(&format!("      error: {e}\n"));
            }
        }
        // Each error is printed once: a module's under the module, the
        // others here.
        if rep.errors.is_empty() {
            out.push_str("errors: none\n");
        } else {
            out.push_str(&format!("errors ({}):\n", rep.errors.len()));
            let (others, failed_modules) = rep.errors_outside_modules();
            for e in others {
                out.push_str(&format!("  {e}\n"));
            }
            for (name, n) in failed_modules {
                let s = if n == 1 { "" } else { "s" };
                out.push_str(&format!("  {name}: {n} error{s}, shown above\n"));
            }
        }
        out.push('\n');
    }
    out
}

fn record_json(r: &Record) -> J {
    let mut j = r.json.clone();
    j["outcome"] = J::from(r.outcome.label());
    if let Outcome::NotRun(why) | Outcome::Failed(why) = &r.outcome {
        j["why"] = J::from(why.as_str());
    }
    if let Some(d) = &r.detail {
        j["detail"] = J::from(d.as_str());
    }
    j
}

/// Data for `plan --format json`.
pub fn render_json(reports: &[StageReport], plan: bool) -> J {
    let stages: Vec<J> = reports
        .iter()
        .map(|rep| {
            json!({
                "stage": rep.stage.name(),
                "command": format!("cloud-init {}", rep.stage.command()),
                "datasource": rep.datasource,
                "instance_id": rep.instance_id,
                "new_instance": rep.new_instance,
                "module_source": rep.module_source,
                "engine": rep.engine.iter().map(record_json).collect::<Vec<_>>(),
                "modules": rep.modules.iter().map(|m| json!({
                    "name": m.name,
                    "frequency": m.frequency.as_str(),
                    "result": m.result.as_str(),
                    "reason": m.reason,
                    "effects": m.records.iter().map(record_json).collect::<Vec<_>>(),
                    "errors": m.errors,
                    "notes": m.notes,
                })).collect::<Vec<_>>(),
                "errors": rep.errors,
                "warnings": rep.warnings,
                "notes": rep.notes,
            })
        })
        .collect();
    json!({"plan": plan, "stages": stages})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_found_again_is_listed_once() {
        let mut r = StageReport::new(Stage::Network);
        r.error("a");
        // A module's error goes on the list directly; found again by the
        // engine, it is not repeated.
        r.errors.push("b".into());
        r.error("b");
        r.error("a");
        for i in 0..1000 {
            r.error(format!("e{i}"));
        }
        r.error("e5");
        assert_eq!(r.errors.len(), 1002);
        assert_eq!(&r.errors[..3], ["a", "b", "e0"]);
        r.warning("w");
        r.warning("w");
        assert_eq!(r.warnings, ["w"]);
    }
}
