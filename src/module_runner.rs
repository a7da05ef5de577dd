//! Running a stage's modules (`config/modules.py:Modules.run_section` and
//! `helpers.py:Runners.run`): whether each module is active and verified on
//! this distro (decided once, here), its semaphore and the lock on it, its
//! config checked against its schema, the module planned and its effects
//! applied, the semaphore written only once it has finished, and the line
//! the stage report keeps for it.
//!
//! The engine (`boot.rs`) decides *which* list runs and with which config;
//! this file decides what running one entry of it means.

use crate::datasource::Instance;
use crate::effect::Effect;
use crate::module::{Context, Module, ModuleInfo, ModuleOutput};
use crate::paths::Paths;
use crate::report::{ModResult, ModuleReport, StageReport};
use crate::rootfs::{FsView, Held};
use crate::schedule::{Frequency, Stage};
use crate::schema::{self, Problem, Severity};
use crate::semaphore::{self, SemLock, Semaphore};
use crate::stages::{Entry, Planned};
use crate::target::{apply_all, Target};
use crate::value::Value;

/// Runs modules of one stage, with one config, against one target.
pub struct ModuleRunner<'r> {
    pub target: &'r mut dyn Target,
    pub paths: &'r Paths,
    pub stage: Stage,
    /// The stage's merged config.
    pub cfg: &'r Value,
    pub instance: &'r Instance,
    /// The distribution, detected once for the stage (cloud-init's
    /// `Init.distro`) from the root and the config's `system_info`.
    pub distro: crate::distro::Distro,
}

/// What the schema check of a module's config found.
struct Checked {
    /// Wrong types of whole keys: the module does not run.
    type_errors: Vec<String>,
    /// Wrong entries of a list whose entries stand alone: (`write_files[1]`, error).
    bad_entries: Vec<(String, String)>,
    /// Unknown keys and the like: notes of the module's run.
    warnings: Vec<String>,
}

impl ModuleRunner<'_> {
    /// `_maybe_set_hostname`: the hostname from meta-data (and the config
    /// so far) set before modules run; failures are notes, retried by the
    /// set_hostname module. Reported as the pseudo-module `early_hostname`.
    pub fn early_hostname(&mut self, report: &mut StageReport) {
        let early = crate::modules::set_hostname::maybe_set_hostname(
            self.target.fs(),
            self.paths,
            self.cfg,
            self.instance,
            &self.distro,
        );
        if early.effects.is_empty() && early.notes.is_empty() {
            return;
        }
        let applied = apply_all(self.target, &early.effects);
        report.add_module(ModuleReport::engine_step(
            "early_hostname",
            "the hostname set before modules run, as cloud-init's _maybe_set_hostname".into(),
            !early.effects.is_empty(),
            applied,
            Vec::new(),
            early.notes,
        ));
    }

    /// Runs a stage's list in order, each entry into the report.
    pub fn run_list(&mut self, entries: &[Entry], report: &mut StageReport) {
        let mut inapplicable = Vec::new();
        let mut unverified = Vec::new();
        let distro = self.distro.name.clone();
        let overridden: Vec<String> = self
            .cfg
            .get("unverified_modules")
            .and_then(Value::as_seq)
            .map(|s| {
                s.iter()
                    .map(|n| crate::module::normalize_name(&n.python_str()))
                    .collect()
            })
            .unwrap_or_default();
        for entry in entries {
            let m = match entry {
                Entry::Unknown(name) => {
                    let why = format!("cloudboot has no module named '{name}'");
                    tracing::warn!("{why}; skipped");
                    ModuleReport::skipped(name, Frequency::Instance, why)
                }
                Entry::Run(planned) => {
                    let info = planned.module.info();
                    let distros = planned.module.distros();
                    if !is_active(info, self.cfg) {
                        // `activate_by_schema_keys`: skipped, no semaphore.
                        inapplicable.push(planned.name.clone());
                        ModuleReport::skipped(
                            &planned.name,
                            planned.frequency(),
                            format!(
                                "no applicable config: none of {} is set",
                                info.activate_by.join(", ")
                            ),
                        )
                    } else if !distros.is_empty()
                        && !distros.contains(&distro.as_str())
                        && !overridden.contains(&info.name.to_string())
                    {
                        // A module not verified on this distro is skipped
                        // unless `unverified_modules` names it.
                        unverified.push(planned.name.clone());
                        ModuleReport::skipped(
                            &planned.name,
                            planned.frequency(),
                            format!(
                                "not verified on distro '{distro}' (only {}); add it to 'unverified_modules' to run it anyway",
                                distros.join(", ")
                            ),
                        )
                    } else {
                        self.run(planned)
                    }
                }
            };
            report.add_module(m);
        }
        if !inapplicable.is_empty() {
            tracing::info!(
                "Skipping modules '{}' because no applicable config is provided.",
                inapplicable.join(",")
            );
        }
        if !unverified.is_empty() {
            tracing::info!(
                "Skipping modules '{}' because they are not verified on distro '{distro}'.  \
                 To run anyway, add them to 'unverified_modules' in config.",
                unverified.join(",")
            );
        }
    }

    /// Runs one module under its semaphore, active or not (`single` runs a
    /// module whatever its config says). The semaphore is written once the
    /// module has finished (with or without errors), never before.
    pub fn run(&mut self, planned: &Planned) -> ModuleReport {
        let event = crate::events::module(&planned.name, planned.frequency().as_str());
        let m = self.run_module(planned);
        event.finish(m.result == ModResult::Ran, m.result == ModResult::Failed);
        m
    }

    fn run_module(&mut self, planned: &Planned) -> ModuleReport {
        let info = planned.module.info();
        let freq = planned.frequency();
        let name = planned.name.as_str();
        let run_name = format!("config-{name}");
        let iid = &self.instance.instance_id;
        let sem = Semaphore::new(self.paths, &run_name, freq, iid);
        let already = |fs: &dyn FsView| {
            sem.as_ref().and_then(|s| s.ran(fs)).map(|ran| {
                let why = format!("already ran (freq={}): {}", freq.as_str(), ran.describe());
                tracing::info!("{run_name} {why}");
                ModuleReport::skipped(name, freq, why)
            })
        };
        if let Some(skip) = already(self.target.fs()) {
            return skip;
        }
        // Live runs hold the semaphore's lock from the check to the write,
        // so a second cloudboot waits here and then sees the semaphore.
        let mut lock = match (&sem, self.target.is_plan()) {
            (Some(s), false) => match SemLock::acquire(self.target.root(), self.paths, s) {
                Ok(l) => Some(l),
                Err(e) => {
                    tracing::warn!("could not lock {}: {e}", s.path.display());
                    None
                }
            },
            _ => None,
        };
        if let Some(skip) = already(self.target.fs()) {
            return skip;
        }
        tracing::debug!(
            "Running module {name} (modules/{}.rs) with frequency {}",
            info.name,
            freq.as_str()
        );
        let progress = self.paths.progress(freq, iid, &run_name);
        let checked = self.check_schema(name, info);
        let output = if checked.type_errors.is_empty() {
            let mut o = self.plan(planned, &checked.bad_entries, &progress);
            o.notes.extend(checked.warnings);
            o
        } else {
            let mut o = ModuleOutput::default();
            checked.type_errors.into_iter().for_each(|e| o.error(e));
            o
        };
        let applied = apply_all(self.target, &output.effects);
        let mut errors = output.errors;
        errors.extend(applied.errors);
        let mut records = applied.records;
        // Its semaphore is never on disk, after a power cut, without what it
        // did: the root writes it in order (rootfs/commit.rs), after the
        // module's files and what its programs wrote. Losing it to a power
        // cut runs a module that only wrote files again (the same files
        // again), but a module that ran programs or talked to the network
        // must not run twice: its semaphore is made durable at once.
        let beyond_files = output.effects.iter().any(Effect::acts_beyond_files);
        if let Some(s) = &sem {
            let held = lock.take().map(|l| Held(Box::new(l)));
            let content = semaphore::content_now();
            // What it changed (files, or programs' writes) must be durable
            // first; a line on the console asks nothing of it.
            let acted = output
                .effects
                .iter()
                .any(|e| !matches!(e, Effect::Console(_)));
            records.push(self.target.record_ran(&s.path, &content, acted, held));
            if beyond_files {
                if let Err(e) = self.target.settle() {
                    errors.push(e);
                }
            }
        }
        // The run is over (and its semaphore, if it keeps one, says so,
        // durably): its record of scripts started and finished goes.
        if self.target.fs().lstat(&progress).is_some() {
            if let Err(e) = self.target.settle() {
                errors.push(e);
            }
            let e = Effect::Remove { path: progress };
            records.extend(apply_all(self.target, &[e]).records);
        }
        let (result, reason) = if errors.is_empty() {
            tracing::debug!("{run_name} ran successfully");
            let mut reason = match output.effects.len() {
                0 => output
                    .notes
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "nothing to do".into()),
                1 => "1 effect".to_string(),
                n => format!("{n} effects"),
            };
            // Say which semaphore now records the run (or that none does).
            match &sem {
                Some(s) => reason.push_str(&format!("; semaphore {}", s.path.display())),
                None => reason.push_str("; runs every boot, no semaphore"),
            }
            (ModResult::Ran, reason)
        } else {
            tracing::warn!("Running module {name} (modules/{}.rs) failed", info.name);
            (ModResult::Failed, format!("{} error(s)", errors.len()))
        };
        ModuleReport {
            name: name.to_string(),
            frequency: freq,
            result,
            reason,
            records,
            errors,
            notes: output.notes,
        }
    }

    /// A key of the wrong type fails the module alone, before it plans
    /// anything; a wrong type inside one entry of a list whose entries
    /// stand alone (write_files) fails that entry, and the module runs the
    /// others; unknown keys are only warned about.
    fn check_schema(&self, name: &str, info: &ModuleInfo) -> Checked {
        let mut problems = Vec::new();
        schema::check_fields(info.schema, self.cfg, "", false, &mut problems);
        let of = |severity: Severity| {
            problems
                .iter()
                .filter(move |p: &&Problem| p.severity == severity)
        };
        // Name the file and line the bad value came from (only worked out
        // when there is something to report).
        let mut locator = None;
        let mut placed = |p: &Problem| {
            let locator = locator.get_or_insert_with(|| {
                schema::Locator::for_boot(self.target.fs(), self.paths, &self.instance.instance_id)
            });
            let at = schema::value_at(self.cfg, &p.path);
            match locator.locate(&p.path, at) {
                Some(place) => format!("{place}: {}: {}", p.path, p.message),
                None => format!("{}: {}", p.path, p.message),
            }
        };
        let type_errors = of(Severity::TypeError).map(&mut placed).collect();
        // `write_files[1].content` -> `write_files[1]`: the entry the
        // module skips and reports (if it is one it handles).
        let bad_entries = of(Severity::EntryError)
            .map(|p| {
                let entry = match p.path.find(']') {
                    Some(i) => p.path[..=i].to_string(),
                    None => p.path.clone(),
                };
                (entry, placed(p))
            })
            .collect();
        let warnings: Vec<String> = of(Severity::Warning)
            .map(|p| format!("{}: {}", p.path, p.message))
            .collect();
        for w in &warnings {
            tracing::warn!("{name}: {w}");
        }
        Checked {
            type_errors,
            bad_entries,
            warnings,
        }
    }

    /// The module's plan, from the one context the engine gives modules.
    fn plan(
        &self,
        planned: &Planned,
        bad_entries: &[(String, String)],
        progress: &std::path::Path,
    ) -> ModuleOutput {
        let module: &'static dyn Module = planned.module;
        let name = planned.name.as_str();
        let run_id = self.target.root().temps().id().to_string();
        let ctx = Context {
            name,
            stage: self.stage,
            cfg: self.cfg,
            instance: self.instance,
            paths: self.paths,
            fs: self.target.fs(),
            args: &planned.args,
            bad_entries,
            run_id: &run_id,
            progress,
            distro: &self.distro,
            host: &crate::host::RealHost,
            accounts: Default::default(),
        };
        // A module bug must not take the boot down with it.
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| module.plan(&ctx))) {
            Ok(o) => o,
            Err(_) => {
                let mut o = ModuleOutput::default();
                o.error(format!(
                    "module {name} crashed (a cloudboot bug); nothing applied"
                ));
                o
            }
        }
    }
}

/// `activate_by_schema_keys`: a module that names keys runs only when the
/// config sets one of them.
fn is_active(info: &ModuleInfo, cfg: &Value) -> bool {
    info.activate_by.is_empty() || info.activate_by.iter().any(|k| cfg.get(k).is_some())
}
