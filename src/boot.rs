//! The stage state machine: what `init --local`, `init`, `modules --mode ...`
//! and `single` do, step by step, as cloud-init 22.4 does it
//! (`cmd/main.py:main_init`, `main_modules`, `main_single`).
//!
//! The engine decides; the target applies (live) or records (plan). Every
//! file the engine writes, its state files included, goes through the same
//! effects and the same target as the modules' do, so a plan lists all of it.

use std::path::PathBuf;

use crate::config;
use crate::datasource::{self, DsContext, DsMode, Instance};
use crate::effect::{Data, Effect};
use crate::merge;
use crate::module::{Context, Module};
use crate::paths::{self, Paths, INITIAL_SUBDIRS, INSTANCE_SUBDIRS, NO_PREVIOUS_INSTANCE_ID};
use crate::report::{ModResult, ModuleReport, StageReport};
use crate::semaphore::{self, Frequency, SemLock, Semaphore};
use crate::stages::{self, Entry, Planned, Stage, StageMap};
use crate::status::{self, StageStatus};
use crate::target::{apply_all, Target};
use crate::userdata::{self, Kind};
use crate::value::Value;

/// What the caller chose on the command line.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `--file` config files (paths on this machine), highest priority.
    pub files: Vec<PathBuf>,
    /// `--force`: go on when no datasource is found.
    pub force: bool,
    /// `--device PATH`: devices or image files to probe for seeds first.
    pub devices: Vec<PathBuf>,
    /// `--mount-fallback`: mount what cannot be read in place (live root only).
    pub mount_fallback: bool,
}

/// Runs stages against one target.
pub struct Engine<'t> {
    target: &'t mut dyn Target,
    paths: Paths,
    map: StageMap,
    opts: Options,
}

/// The instance a stage works with, and how it was found.
struct Fetched {
    instance: Instance,
    /// From a search this run (not the cache).
    fresh: bool,
}

impl<'t> Engine<'t> {
    pub fn new(target: &'t mut dyn Target, map: StageMap, opts: Options) -> Engine<'t> {
        Engine {
            target,
            paths: Paths::default(),
            map,
            opts,
        }
    }

    pub fn target(&mut self) -> &mut dyn Target {
        self.target
    }

    /// Applies engine effects, recording them in the stage report.
    fn apply(&mut self, report: &mut StageReport, effects: Vec<Effect>) {
        let applied = apply_all(self.target, &effects);
        report.errors.extend(applied.errors);
        report.engine.extend(applied.records);
    }

    /// Runs one boot stage, wrapped in status.json bookkeeping as cloud-init's
    /// `status_wrapper` does. The report's errors are the stage's exit code.
    pub fn run_stage(&mut self, stage: Stage) -> StageReport {
        self.run_stage_as(stage, false)
    }

    /// As [`Engine::run_stage`]; `modules_only` is `modules --mode init`:
    /// the network stage's modules without the datasource work of `init`.
    pub fn run_stage_as(&mut self, stage: Stage, modules_only: bool) -> StageReport {
        let mut report = StageReport::new(stage);
        self.target.begin();
        let mode = if modules_only && stage == Stage::Network {
            "modules-init"
        } else {
            stage.mode()
        };
        let (st, effects) = StageStatus::begin(self.target.fs(), &self.paths, mode);
        self.apply(&mut report, effects);
        let welcome = welcome_line(self.target.fs(), stage);
        tracing::info!("{welcome}");
        self.target.note(&welcome);
        let datasource = match stage {
            _ if modules_only => self.modules(stage, &mut report),
            Stage::Local => self.init(true, &mut report),
            Stage::Network => self.init(false, &mut report),
            Stage::Config | Stage::Final => self.modules(stage, &mut report),
        };
        let lines: Vec<_> = report.modules.iter().map(ModuleReport::line).collect();
        let errors = report.errors.clone();
        let effects = st.finish(
            &self.paths,
            datasource.as_deref(),
            &errors,
            &report.warnings,
            &lines,
        );
        self.apply(&mut report, effects);
        report
    }

    fn system_config(&self, report: &mut StageReport) -> Value {
        let loaded = config::load_system(self.target.fs());
        loaded.problems.into_iter().for_each(|p| report.error(p));
        loaded.cfg
    }

    /// `init` (network stage) and `init --local`. Returns the datasource
    /// string for status.json.
    fn init(&mut self, local: bool, report: &mut StageReport) -> Option<String> {
        let stage = report.stage;
        // Stage 3: the directories cloud-init ensures on every init run.
        let dirs = INITIAL_SUBDIRS
            .iter()
            .map(|d| Effect::Mkdir {
                path: d.into(),
                mode: 0o755,
            })
            .collect();
        self.apply(report, dirs);
        let sys_cfg = self.system_config(report);
        if local {
            // purge_cache: boot-finished goes; the instance link stays.
            let bf = self.paths.instance_link().join("boot-finished");
            self.apply(report, vec![Effect::Remove { path: bf }]);
        }
        let Some(fetched) = self.fetch(stage, &sys_cfg, report) else {
            if !self.opts.force {
                // No datasource: the fallback network (DHCP on the first NIC).
                self.apply_network(report, None, &sys_cfg, false, !local);
            }
            if local {
                report.notes.push("No local datasource found".into());
                return None;
            }
            if !self.opts.force {
                report.error("No instance datasource found.");
            }
            return None;
        };
        let instance = fetched.instance;
        if !local && instance.dsmode != DsMode::Net {
            report.notes.push(format!(
                "[net] Exiting. datasource {} in local mode",
                instance.description
            ));
            return None;
        }
        let description = instance.description.clone();
        self.instancify(&instance, fetched.fresh, &sys_cfg, report);
        let new_instance = report.new_instance.unwrap_or(false);
        let net_cfg = self.merged_config(&sys_cfg, &instance, report);
        if local {
            // Before the network comes up, so DHCP clients send the name
            // (cloud-init's `_maybe_set_hostname(stage="local")`).
            self.early_hostname(report, &net_cfg, &instance);
        }
        self.apply_network(report, Some(&instance), &net_cfg, new_instance, !local);
        if local {
            let decl = self.map.stage(Stage::Local);
            if !decl.modules.is_empty() {
                let merged = self.merged_config(&sys_cfg, &instance, report);
                let entries = self
                    .map
                    .resolve(Stage::Local, &merged, &stages::lookup)
                    .entries;
                self.run_entries(Stage::Local, &entries, &merged, &instance, report);
            }
            if instance.dsmode != DsMode::Local {
                return Some(description);
            }
        }
        // Network stage (or local stage of a dsmode-local datasource):
        // the hostname again with the config as it is before user-data is
        // consumed (`_maybe_set_hostname(stage="init-net")`), then
        // user-data, then cloud_init_modules.
        let cfg_now = self.merged_config(&sys_cfg, &instance, report);
        self.early_hostname(report, &cfg_now, &instance);
        let merged = self.consume_data(&instance, &sys_cfg, report);
        let resolved = self.map.resolve(Stage::Network, &merged, &stages::lookup);
        report.module_source = Some(resolved.source);
        report.notes.extend(resolved.warnings);
        self.run_entries(
            Stage::Network,
            &resolved.entries,
            &merged,
            &instance,
            report,
        );
        Some(description)
    }

    /// The network step of `init` (`Init.apply_network_config`): which
    /// config, whether it applies this boot, the files of the distro's
    /// renderer, renames, and (network stage) bring-up. Reported as the
    /// pseudo-module `network`.
    fn apply_network(
        &mut self,
        report: &mut StageReport,
        instance: Option<&Instance>,
        cfg: &Value,
        new_instance: bool,
        bring_up: bool,
    ) {
        let plan = crate::net::apply::plan_boot(&crate::net::apply::BootNet {
            fs: self.target.fs(),
            paths: &self.paths,
            cfg,
            instance,
            new_instance,
            bring_up,
            live: self.target.root().is_host_root() && !self.target.is_plan(),
        });
        tracing::info!("network: {}", plan.summary);
        for n in &plan.notes {
            tracing::info!("network: {n}");
        }
        let applied = apply_all(self.target, &plan.effects);
        let mut errors = plan.errors;
        errors.extend(applied.errors);
        for e in &errors {
            tracing::warn!("network: {e}");
            report.errors.push(format!("network: {e}"));
        }
        let result = if !errors.is_empty() {
            ModResult::Failed
        } else if plan.applied {
            ModResult::Ran
        } else {
            ModResult::Skipped
        };
        report.modules.push(ModuleReport {
            name: "network".into(),
            frequency: Frequency::Always,
            result,
            reason: plan.summary,
            records: applied.records,
            errors,
            notes: plan.notes,
        });
    }

    /// `_maybe_set_hostname`: the hostname from meta-data (and the config
    /// so far) set before modules run; failures are notes, retried by the
    /// set_hostname module. Reported as the pseudo-module `early_hostname`.
    fn early_hostname(&mut self, report: &mut StageReport, cfg: &Value, instance: &Instance) {
        let fs = self.target.fs();
        let distro = crate::distro::Distro::detect(fs, cfg);
        let early = crate::modules::set_hostname::maybe_set_hostname(
            fs,
            &self.paths,
            cfg,
            instance,
            &distro,
        );
        if early.effects.is_empty() && early.notes.is_empty() {
            return;
        }
        let applied = apply_all(self.target, &early.effects);
        let result = if !applied.errors.is_empty() {
            ModResult::Failed
        } else if early.effects.is_empty() {
            ModResult::Skipped
        } else {
            ModResult::Ran
        };
        for e in &applied.errors {
            report.errors.push(format!("early_hostname: {e}"));
        }
        report.modules.push(ModuleReport {
            name: "early_hostname".into(),
            frequency: Frequency::Always,
            result,
            reason: "the hostname set before modules run, as cloud-init's _maybe_set_hostname"
                .into(),
            records: applied.records,
            errors: applied.errors,
            notes: early.notes,
        });
    }

    /// `modules --mode config|final`.
    fn modules(&mut self, stage: Stage, report: &mut StageReport) -> Option<String> {
        let sys_cfg = self.system_config(report);
        let Some(fetched) = self.fetch(stage, &sys_cfg, report) else {
            if !self.opts.force {
                report.error(format!(
                    "Can not apply stage {}, no datasource found! Likely bad things to come!",
                    stage.name()
                ));
            }
            return None;
        };
        let instance = fetched.instance;
        if fetched.fresh {
            self.persist_instance_data(&instance, &sys_cfg, report);
        }
        let merged = self.merged_config(&sys_cfg, &instance, report);
        let resolved = self.map.resolve(stage, &merged, &stages::lookup);
        report.module_source = Some(resolved.source);
        report.notes.extend(resolved.warnings);
        self.run_entries(stage, &resolved.entries, &merged, &instance, report);
        None
    }

    /// Finds the datasource: the cache when it still holds, else a search of
    /// the stage's datasources (`Init._get_data_source`).
    fn fetch(
        &mut self,
        stage: Stage,
        sys_cfg: &Value,
        report: &mut StageReport,
    ) -> Option<Fetched> {
        let fs = self.target.fs();
        let ctx = DsContext {
            fs,
            root: self.target.root(),
            devices: &self.opts.devices,
            mount_fallback: self.opts.mount_fallback,
            paths: &self.paths,
            cfg: sys_cfg,
            stage,
        };
        let cached = datasource::load_cache(fs, &self.paths);
        let mut drop_link = false;
        if let Some(c) = cached {
            let trust = stage != Stage::Local
                || sys_cfg.get_bool("manual_cache_clean", false)
                || fs.exists(&self.paths.instance_link().join("manual-clean"));
            let run_iid = fs
                .read_string(&self.paths.runpath(".instance-id"))
                .map(|s| s.trim().to_string());
            let valid = trust
                || run_iid.as_deref() == Some(c.instance_id.as_str())
                || datasource::by_name(&c.dsname)
                    .map(|ds| ds.check_instance_id(&ctx, &c.instance_id))
                    .unwrap_or(false);
            if valid {
                tracing::debug!("restored from cache: {}", c.description);
                report.datasource = Some(c.description.clone());
                report.instance_id = Some(c.instance_id.clone());
                return Some(Fetched {
                    instance: c,
                    fresh: false,
                });
            }
            tracing::debug!(
                "cached instance {} no longer valid; searching",
                c.instance_id
            );
            drop_link = true;
        }
        // Config/final stages search with no dependencies: only None qualifies.
        let names: Vec<String> = match stage {
            Stage::Local | Stage::Network => {
                datasource::search_order(&self.map.stage(stage).datasources, sys_cfg)
            }
            _ => datasource::search_order(&["None".to_string()], sys_cfg),
        };
        let found = datasource::search(&names, &ctx);
        report.errors.extend(found.problems);
        report.warnings.extend(found.warnings);
        if drop_link {
            let link = self.paths.instance_link();
            self.apply(report, vec![Effect::Remove { path: link }]);
        }
        let instance = found.instance?;
        report.datasource = Some(instance.description.clone());
        report.instance_id = Some(instance.instance_id.clone());
        Some(Fetched {
            instance,
            fresh: true,
        })
    }

    /// `Init._reflect_cur_instance` plus the cache and instance-data.
    fn instancify(
        &mut self,
        instance: &Instance,
        fresh: bool,
        sys_cfg: &Value,
        report: &mut StageReport,
    ) {
        let fs = self.target.fs();
        let p = &self.paths;
        let iid = &instance.instance_id;
        let idir = p.instance_dir(iid);
        let previous_iid = fs
            .read_string(&p.data("instance-id"))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| NO_PREVIOUS_INSTANCE_ID.to_string());
        report.new_instance = Some(previous_iid != *iid);
        let ds_line = instance.datasource_line();
        let previous_ds = fs
            .read_string(&idir.join("datasource"))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| ds_line.clone());
        let mut effects = vec![Effect::Symlink {
            path: p.instance_link(),
            target: idir.clone(),
        }];
        effects.push(Effect::Mkdir {
            path: idir.clone(),
            mode: 0o755,
        });
        for sub in INSTANCE_SUBDIRS {
            effects.push(Effect::Mkdir {
                path: idir.join(sub),
                mode: 0o755,
            });
        }
        let line = |s: &str| Data::public(format!("{s}\n"));
        effects.push(Effect::write(
            p.data("previous-datasource"),
            line(&previous_ds),
            0o644,
        ));
        effects.push(Effect::write(
            idir.join("datasource"),
            line(&ds_line),
            0o644,
        ));
        effects.push(Effect::write(p.data("instance-id"), line(iid), 0o644));
        effects.push(Effect::write(p.runpath(".instance-id"), line(iid), 0o644));
        effects.push(Effect::write(
            p.data("previous-instance-id"),
            line(&previous_iid),
            0o644,
        ));
        // ConfigDrive's injected `files`, written on an instance's first boot
        // (`on_first_boot`), mode 0660 as cloud-init writes them.
        if fresh && previous_iid != *iid {
            for (path, content) in &instance.files {
                let guest = std::path::Path::new("/").join(path.trim_start_matches('/'));
                effects.push(Effect::write(guest, Data::secret(content.clone()), 0o660));
            }
        }
        if sys_cfg.get_bool("manual_cache_clean", false) {
            effects.push(Effect::write(
                idir.join("manual-clean"),
                Data::public(""),
                0o644,
            ));
        }
        // The cache holds user-data: owner-only, and secret in plans.
        let cache = instance.to_cache_json();
        effects.push(Effect::write(
            idir.join(paths::DATASOURCE_CACHE),
            Data::secret(cache),
            0o600,
        ));
        self.apply(report, effects);
        let missing = !self
            .target
            .fs()
            .exists(&self.paths.runpath("instance-data.json"));
        if fresh || missing {
            self.persist_instance_data(instance, sys_cfg, report);
        }
    }

    /// `/run/cloud-init/instance-data.json` (0644, redacted) and
    /// `instance-data-sensitive.json` (0600), the standardized v1 keys.
    fn persist_instance_data(
        &mut self,
        instance: &Instance,
        sys_cfg: &Value,
        report: &mut StageReport,
    ) {
        let distro = crate::distro::detect(self.target.fs());
        let data = crate::instance_data::build(instance, sys_cfg, &distro);
        let p = &self.paths;
        let id_file = p.runpath(&format!("cloud-id-{}", data.cloud_id));
        let mut effects = vec![
            Effect::write(
                p.runpath("instance-data.json"),
                Data::public(status::json_file(&data.public)),
                0o644,
            ),
            Effect::write(
                p.runpath("instance-data-sensitive.json"),
                Data::secret(status::json_file(&data.sensitive)),
                0o600,
            ),
            Effect::write(
                id_file.clone(),
                Data::public(format!("{}\n", data.cloud_id)),
                0o644,
            ),
        ];
        // A cloud-id file of another cloud (an image moved between clouds) goes.
        if let Ok(prev) = self.target.fs().read_link(&p.runpath("cloud-id")) {
            if prev != id_file {
                effects.push(Effect::Remove { path: prev });
            }
        }
        effects.push(Effect::Symlink {
            path: p.runpath("cloud-id"),
            target: id_file,
        });
        self.apply(report, effects);
    }

    /// `Init.update()` and `consume_data`: stores the blobs, consumes them
    /// (every boot, as cloud-init's built-in handlers do), marks
    /// `sem/consume_data` once per instance, and returns the merged config.
    fn consume_data(
        &mut self,
        instance: &Instance,
        sys_cfg: &Value,
        report: &mut StageReport,
    ) -> Value {
        let iid = instance.instance_id.clone();
        let p = self.paths.clone();
        let blobs = [
            (Kind::User, instance.user_data.as_deref()),
            (Kind::Vendor, instance.vendor_data.as_deref()),
            (Kind::Vendor2, instance.vendor_data2.as_deref()),
        ];
        // update(): every blob processed (includes fetched) and stored.
        let mut processed = Vec::new();
        for (kind, raw) in blobs {
            let env = userdata::Env {
                fs: self.target.fs(),
                paths: &p,
                iid: &iid,
                from: instance.data_from(kind),
                limits: userdata::Limits::from_config(sys_cfg),
                http: &crate::http::get,
            };
            let pr = userdata::process(raw.unwrap_or_default(), kind, &env);
            let mut effects = userdata::store(&p, &iid, kind, raw, &pr);
            effects.extend(pr.effects.iter().cloned());
            pr.problems.iter().for_each(|p| report.error(p.as_str()));
            self.apply(report, effects);
            processed.push((kind, raw.is_some(), pr.parts));
        }
        let sem = Semaphore::new(&p, "consume_data", Frequency::Instance, &iid);
        let first_time = sem
            .as_ref()
            .map(|s| s.ran(self.target.fs()).is_none())
            .unwrap_or(true);

        let allow_userdata = sys_cfg.get_bool("allow_userdata", true);
        let mut user_cfg = Value::empty_map();
        let (mut vendor_cfg, mut vendor2_cfg) = (Value::empty_map(), Value::empty_map());
        let files = self.files(report);
        let mut init_sources = files.clone();
        init_sources.push(sys_cfg.clone());
        let init_cfg = merge::merge_many(&init_sources);
        for (kind, present, parts) in processed {
            let key = match kind {
                Kind::User => "",
                Kind::Vendor => "vendor_data",
                Kind::Vendor2 => "vendor_data2",
            };
            let mut disabled = Vec::new();
            let parts = match kind {
                Kind::User if !allow_userdata => {
                    report
                        .notes
                        .push("allow_userdata is false: user-data discarded".into());
                    Vec::new()
                }
                Kind::User => {
                    let wanted = instance.metadata.get("launch-index").and_then(|v| match v {
                        Value::Int(i) => Some(*i),
                        other => other.python_str().trim().parse().ok(),
                    });
                    userdata::filter_launch_index(parts, wanted)
                }
                _ => {
                    if !present {
                        continue;
                    }
                    // User-data may switch vendor-data off (`vendor_data: {enabled: false}`):
                    // `ConfigMerger(include_vendor=False)` with `Init.cfg` (the
                    // `--file` configs over the system config) as its base.
                    let without_vendor = merge::merge_many(&[user_cfg.clone(), init_cfg.clone()]);
                    let vcfg = without_vendor.get(key).cloned().unwrap_or_default();
                    if !matches!(vcfg, Value::Map(_)) || !vcfg.get_bool("enabled", false) {
                        report
                            .notes
                            .push(format!("{key} disabled by config; not consumed"));
                        continue;
                    }
                    disabled = vcfg
                        .get("disabled_handlers")
                        .and_then(Value::as_seq)
                        .map(|s| s.iter().map(Value::python_str).collect())
                        .unwrap_or_default();
                    parts
                }
            };
            let env = userdata::HandlerEnv {
                fs: self.target.fs(),
                paths: &p,
                iid: &iid,
                first_time,
                disabled,
            };
            let consumed = userdata::consume(&parts, kind, &env);
            consumed.problems.into_iter().for_each(|p| report.error(p));
            self.apply(report, consumed.effects);
            match kind {
                Kind::User => user_cfg = consumed.cloud_config,
                Kind::Vendor => vendor_cfg = consumed.cloud_config,
                Kind::Vendor2 => vendor2_cfg = consumed.cloud_config,
            }
        }
        if let (Some(sem), true) = (sem, first_time) {
            let e = Effect::write(sem.path, Data::public(semaphore::content_now()), 0o644);
            self.apply(report, vec![e]);
        }
        config::merged(&files, &user_cfg, &vendor2_cfg, &vendor_cfg, sys_cfg)
    }

    /// The merged config of a later stage, from the instance's cloud-config files.
    fn merged_config(
        &mut self,
        sys_cfg: &Value,
        instance: &Instance,
        report: &mut StageReport,
    ) -> Value {
        let fs = self.target.fs();
        let iid = &instance.instance_id;
        let mut problems = Vec::new();
        let user = userdata::read_cloud_config(fs, &self.paths, iid, Kind::User, &mut problems);
        let v1 = userdata::read_cloud_config(fs, &self.paths, iid, Kind::Vendor, &mut problems);
        let v2 = userdata::read_cloud_config(fs, &self.paths, iid, Kind::Vendor2, &mut problems);
        problems.into_iter().for_each(|p| report.error(p));
        let files = self.files(report);
        config::merged(&files, &user, &v2, &v1, sys_cfg)
    }

    /// The `--file` configs, in command-line order (the first has the
    /// highest priority, as in `ConfigMerger._read_cfg`).
    fn files(&self, report: &mut StageReport) -> Vec<Value> {
        let mut out = Vec::new();
        for f in &self.opts.files {
            match std::fs::read(f) {
                Ok(raw) => match crate::yaml::load(&raw, &f.to_string_lossy()) {
                    Ok(v @ Value::Map(_)) => out.push(v),
                    Ok(_) => {}
                    Err(e) => report.error(e.to_string()),
                },
                Err(e) => report.error(format!("{}: {e}", f.display())),
            }
        }
        out
    }

    fn run_entries(
        &mut self,
        stage: Stage,
        entries: &[Entry],
        cfg: &Value,
        instance: &Instance,
        report: &mut StageReport,
    ) {
        let mut inapplicable = Vec::new();
        let mut unverified = Vec::new();
        let distro = crate::module::distro_name(cfg, self.target.fs());
        let overridden: Vec<String> = cfg
            .get("unverified_modules")
            .and_then(Value::as_seq)
            .map(|s| {
                s.iter()
                    .map(|n| crate::module::normalize_name(&n.python_str()))
                    .collect()
            })
            .unwrap_or_default();
        for entry in entries {
            match entry {
                Entry::Unknown(name) => {
                    let why = format!("cloudboot has no module named '{name}'");
                    tracing::warn!("{why}; skipped");
                    report
                        .modules
                        .push(ModuleReport::skipped(name, Frequency::Instance, why));
                }
                Entry::Run(planned) => {
                    // `run_section`: a module not verified on this distro
                    // is skipped unless `unverified_modules` names it.
                    let distros = planned.module.distros();
                    let active = planned.module.info().activate_by.is_empty()
                        || planned
                            .module
                            .info()
                            .activate_by
                            .iter()
                            .any(|k| cfg.get(k).is_some());
                    if active
                        && !distros.is_empty()
                        && !distros.contains(&distro.as_str())
                        && !overridden.contains(&planned.module.info().name.to_string())
                    {
                        unverified.push(planned.name.clone());
                        report.modules.push(ModuleReport::skipped(
                            &planned.name,
                            planned.frequency(),
                            format!(
                                "not verified on distro '{distro}' (only {}); add it to 'unverified_modules' to run it anyway",
                                distros.join(", ")
                            ),
                        ));
                        continue;
                    }
                    let m = self.run_module(stage, planned, cfg, instance, true);
                    if m.result == ModResult::Skipped
                        && m.reason.starts_with("no applicable config")
                    {
                        inapplicable.push(m.name.clone());
                    }
                    for e in &m.errors {
                        report.errors.push(format!("{}: {e}", m.name));
                    }
                    report.modules.push(m);
                }
            }
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

    /// Runs one module under its semaphore. The semaphore is written once
    /// the module has finished (with or without errors), never before.
    fn run_module(
        &mut self,
        stage: Stage,
        planned: &Planned,
        cfg: &Value,
        instance: &Instance,
        check_activation: bool,
    ) -> ModuleReport {
        let module: &'static dyn Module = planned.module;
        let info = module.info();
        let freq = planned.frequency();
        let name = planned.name.as_str();
        if check_activation
            && !info.activate_by.is_empty()
            && !info.activate_by.iter().any(|k| cfg.get(k).is_some())
        {
            return ModuleReport::skipped(
                name,
                freq,
                format!(
                    "no applicable config: none of {} is set",
                    info.activate_by.join(", ")
                ),
            );
        }
        let run_name = format!("config-{name}");
        let sem = Semaphore::new(&self.paths, &run_name, freq, &instance.instance_id);
        let already = |fs: &dyn crate::rootfs::FsView| {
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
        let _lock = match (&sem, self.target.is_plan()) {
            (Some(s), false) => match SemLock::acquire(self.target.root(), &self.paths, s) {
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
        // A key of the wrong type fails this module alone, before it plans
        // anything; a wrong type inside one entry of a list whose entries
        // stand alone (write_files) fails that entry, and the module runs
        // the others; unknown keys are only warned about.
        let mut schema_problems = Vec::new();
        crate::schema::check_fields(info.schema, cfg, "", false, &mut schema_problems);
        let bad = |severity| {
            schema_problems
                .iter()
                .filter(move |p: &&crate::schema::Problem| p.severity == severity)
        };
        // Name the file and line the bad value came from (only worked out
        // when there is something to report).
        let mut locator = None;
        let mut placed = |p: &crate::schema::Problem| {
            let locator = locator.get_or_insert_with(|| {
                crate::schema::Locator::for_boot(
                    self.target.fs(),
                    &self.paths,
                    &instance.instance_id,
                )
            });
            let at = crate::schema::value_at(cfg, &p.path);
            match locator.locate(&p.path, at) {
                Some(place) => format!("{place}: {}: {}", p.path, p.message),
                None => format!("{}: {}", p.path, p.message),
            }
        };
        let type_errors: Vec<String> = bad(crate::schema::Severity::TypeError)
            .map(&mut placed)
            .collect();
        // `write_files[1].content` -> `write_files[1]`: the entry the
        // module skips and reports (if it is one it handles).
        let bad_entries: Vec<(String, String)> = bad(crate::schema::Severity::EntryError)
            .map(|p| {
                let entry = match p.path.find(']') {
                    Some(i) => p.path[..=i].to_string(),
                    None => p.path.clone(),
                };
                (entry, placed(p))
            })
            .collect();
        let warnings: Vec<String> = schema_problems
            .iter()
            .filter(|p| p.severity == crate::schema::Severity::Warning)
            .map(|p| format!("{}: {}", p.path, p.message))
            .collect();
        for w in &warnings {
            tracing::warn!("{name}: {w}");
        }
        let run_id = self.target.root().temps().id().to_string();
        let progress = self.paths.progress(freq, &instance.instance_id, &run_name);
        let output = if !type_errors.is_empty() {
            let mut o = crate::module::ModuleOutput::default();
            for e in type_errors {
                o.error(e);
            }
            o
        } else {
            let distro = crate::distro::Distro::detect(self.target.fs(), cfg);
            let ctx = Context {
                name,
                stage,
                cfg,
                instance,
                paths: &self.paths,
                fs: self.target.fs(),
                distro: &distro,
                args: &planned.args,
                bad_entries: &bad_entries,
                run_id: &run_id,
                progress: &progress,
                host: &crate::host::RealHost,
            };
            // A module bug must not take the boot down with it.
            let mut o = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                module.plan(&ctx)
            })) {
                Ok(o) => o,
                Err(_) => {
                    let mut o = crate::module::ModuleOutput::default();
                    o.error(format!(
                        "module {name} crashed (a cloudboot bug); nothing applied"
                    ));
                    o
                }
            };
            o.notes.extend(warnings);
            o
        };
        let applied = apply_all(self.target, &output.effects);
        let mut errors = output.errors;
        errors.extend(applied.errors);
        let mut records = applied.records;
        if let Some(s) = &sem {
            if !output.effects.is_empty() {
                self.target.settle();
            }
            let e = Effect::write(
                s.path.clone(),
                Data::public(semaphore::content_now()),
                0o644,
            );
            records.extend(apply_all(self.target, &[e]).records);
        }
        // The run is over (and its semaphore, if it keeps one, says so):
        // its record of scripts started and finished goes.
        if self.target.fs().lstat(&progress).is_some() {
            let e = Effect::Remove { path: progress };
            records.extend(apply_all(self.target, &[e]).records);
        }
        let (result, reason) = if errors.is_empty() {
            tracing::debug!("{run_name} ran successfully");
            let mut reason = if output.effects.is_empty() {
                output
                    .notes
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "nothing to do".into())
            } else {
                format!(
                    "{} effect{}",
                    output.effects.len(),
                    if output.effects.len() == 1 { "" } else { "s" }
                )
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

    /// `cloud-init single --name NAME [--frequency F] [args]`: exit 0 when it
    /// ran or had already run, 1 when it failed or does not exist.
    pub fn single(
        &mut self,
        name: &str,
        frequency: Option<Frequency>,
        args: Vec<String>,
    ) -> (i32, StageReport) {
        let mut report = StageReport::new(Stage::Final);
        self.target.begin();
        let sys_cfg = self.system_config(&mut report);
        let Some(fetched) = self.fetch(Stage::Final, &sys_cfg, &mut report) else {
            report.error("Failed to fetch your datasource, likely bad things to come!");
            return (1, report);
        };
        let instance = fetched.instance;
        let Some(module) = stages::lookup(name) else {
            report.error(format!("Did not run {name}, does it exist?"));
            return (1, report);
        };
        let stage = Stage::ALL
            .into_iter()
            .find(|s| {
                self.map
                    .stage(*s)
                    .modules
                    .iter()
                    .any(|d| d.module.info().name == module.info().name)
            })
            .unwrap_or(Stage::Final);
        report.stage = stage;
        let merged = self.merged_config(&sys_cfg, &instance, &mut report);
        let planned = Planned {
            module,
            name: name.to_string(),
            frequency,
            args,
        };
        let m = self.run_module(stage, &planned, &merged, &instance, false);
        let code = if m.result == ModResult::Failed { 1 } else { 0 };
        report.datasource = Some(instance.description.clone());
        report.instance_id = Some(instance.instance_id.clone());
        report.modules.push(m);
        (code, report)
    }
}

/// `Cloud-init v. <version> running '<action>' at <RFC2822>. Up <uptime> seconds.`
fn welcome_line(fs: &dyn crate::rootfs::FsView, stage: Stage) -> String {
    let action = match stage {
        Stage::Local => "init-local",
        Stage::Network => "init",
        Stage::Config => "modules:config",
        Stage::Final => "modules:final",
    };
    format!(
        "Cloud-init v. {} running '{action}' at {}. Up {} seconds.",
        crate::VERSION_STRING,
        chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S +0000"),
        crate::module::uptime(fs)
    )
}
