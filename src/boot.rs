//! The stage state machine: what `init --local`, `init`, `modules --mode ...`
//! and `single` do, step by step, as cloud-init 22.4 does it
//! (`cmd/main.py:main_init`, `main_modules`, `main_single`).
//!
//! This file only sequences a stage: find or restore the instance
//! ([`crate::datasource::cache`] says when the cache holds), build the
//! stage's config once, consume user-data ([`crate::userdata`], whose
//! `vendor` file says what vendor-data may do), run the stage's modules
//! ([`crate::module_runner`]), and write status.json and result.json.
//!
//! The engine decides; the target applies (live) or records (plan). Every
//! file the engine writes, its state files included, goes through the same
//! effects and the same target as the modules' do, so a plan lists all of it.

use std::path::PathBuf;

use crate::config;
use crate::datasource::{self, cache::Cached, DsContext, DsMode, Instance};
use crate::distro::Distro;
use crate::effect::{Data, Effect};
use crate::instance_state;
use crate::merge;
use crate::module_runner::ModuleRunner;
use crate::paths::{Paths, INITIAL_SUBDIRS};
use crate::report::{ModResult, ModuleReport, StageReport};
use crate::schedule::{Frequency, Stage};
use crate::semaphore::{self, Semaphore};
use crate::stages::{self, Planned, StageMap};
use crate::status::{self, StageStatus};
use crate::target::{apply_all, Target};
use crate::userdata::{self, vendor, Kind};
use crate::value::Value;
use crate::yaml;

/// Where a stage leaves the YAML it parsed for the next (`yaml/cache.rs`),
/// under `/var/lib/cloud/data`.
const YAML_CACHE: &str = "cloudboot-yaml-cache";

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
    /// The root's distro, read the first time a step of the stage needs it
    /// and kept for the stage (see [`Engine::distro`]).
    root_distro: Option<Distro>,
}

/// The instance a stage works with, and how it was found.
struct Fetched {
    instance: Instance,
    /// From a search this run (not the cache).
    fresh: bool,
}

/// A stage's config, read from disk once per stage.
struct StageConfig {
    /// The system config (builtin, cloud.cfg, cloud.cfg.d, the runtime file).
    system: Value,
    /// The `--file` configs, in command-line order (the first has the
    /// highest priority, as in `ConfigMerger._read_cfg`).
    files: Vec<Value>,
    /// The system config with the datasource's own under it: what the
    /// instance's cloud-config is merged over, before and after user-data
    /// is consumed.
    under: Value,
    /// All of it merged with the instance's cloud-config files as they are
    /// on disk (what the last consumption of user-data left).
    merged: Value,
}

impl<'t> Engine<'t> {
    pub fn new(target: &'t mut dyn Target, map: StageMap, opts: Options) -> Engine<'t> {
        Engine {
            target,
            paths: Paths::default(),
            map,
            opts,
            root_distro: None,
        }
    }

    /// The distro under `cfg`. The root's release files and init system
    /// are read once per stage; the name and `system_info` follow the
    /// config, which grows as user-data is consumed.
    fn distro(&mut self, cfg: &Value) -> Distro {
        let fs = self.target.fs();
        self.root_distro
            .get_or_insert_with(|| Distro::detect(fs, &Value::empty_map()))
            .with_config(cfg)
    }

    pub fn target(&mut self) -> &mut dyn Target {
        self.target
    }

    /// A new stage (or `single`): the target starts over, the root's
    /// distro is read again when first needed.
    fn begin(&mut self) {
        self.target.begin();
        // Rewritten by every stage: a power cut that loses the last rename
        // of one leaves its previous whole version (rootfs::Root::settle).
        self.target.root().set_reports(vec![
            self.paths.data("status.json"),
            self.paths.data("result.json"),
            self.paths.instance_link().join("boot-finished"),
            self.paths.data(YAML_CACHE),
        ]);
        if !self.target.is_plan() {
            yaml::cache::open(self.target.root(), &self.paths.data(YAML_CACHE));
        }
        self.root_distro = None;
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
        self.begin();
        let mode = if modules_only && stage == Stage::Network {
            "modules-init"
        } else {
            stage.mode()
        };
        crate::events::begin_stage(mode);
        let (st, effects) = StageStatus::begin(self.target.fs(), &self.paths, mode);
        self.apply(&mut report, effects);
        let uptime = crate::module::uptime(self.target.fs(), &crate::host::RealHost);
        let welcome = status::welcome_line(stage, &uptime);
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
        self.settle_at_end(&mut report);
        crate::events::end_stage();
        report
    }

    /// The run's writes are durable when it ends (rootfs/commit.rs), and
    /// its journal says it left no temporary file (rootfs/temp.rs).
    fn settle_at_end(&mut self, report: &mut StageReport) {
        if !self.target.is_plan() {
            yaml::cache::save(self.target.root(), &self.paths.data(YAML_CACHE));
        }
        match self.target.settle() {
            Ok(()) => self.target.root().temps().clean_exit(),
            Err(e) => report.error(e),
        }
    }

    fn system_config(&self, report: &mut StageReport) -> Value {
        let loaded = config::load_system(self.target.fs());
        loaded.problems.into_iter().for_each(|p| report.error(p));
        loaded.cfg
    }

    /// The stage's config, once the instance is known: the `--file` configs
    /// and the instance's cloud-config files read, and all of it merged.
    fn stage_config(
        &self,
        system: Value,
        instance: &Instance,
        report: &mut StageReport,
    ) -> StageConfig {
        let fs = self.target.fs();
        let iid = &instance.instance_id;
        let mut problems = Vec::new();
        let mut read =
            |kind| userdata::read_cloud_config(fs, &self.paths, iid, kind, &mut problems);
        let (user, v1, v2) = (read(Kind::User), read(Kind::Vendor), read(Kind::Vendor2));
        let (files, file_problems) = config::read_cli_files(&self.opts.files);
        problems
            .into_iter()
            .chain(file_problems)
            .for_each(|p| report.error(p));
        // The datasource's own config (`get_config_obj`) sits between the
        // system config and the instance's cloud-config (22.4's
        // `ConfigMerger._read_cfg`).
        let under = config::under_datasource(&system, instance.config.as_ref());
        let merged = config::merged(&files, &user, &v2, &v1, &under);
        StageConfig {
            system,
            files,
            under,
            merged,
        }
    }

    /// A runner for `stage`'s modules with `cfg`.
    fn runner<'a>(
        &'a mut self,
        stage: Stage,
        cfg: &'a Value,
        instance: &'a Instance,
    ) -> ModuleRunner<'a> {
        let distro = self.distro(cfg);
        ModuleRunner {
            target: &mut *self.target,
            paths: &self.paths,
            stage,
            cfg,
            instance,
            distro,
        }
    }

    /// The stage's module list (its `cloud_*_modules` list, else
    /// stages.yaml's), in order, recorded in the report.
    fn run_modules(
        &mut self,
        stage: Stage,
        cfg: &Value,
        instance: &Instance,
        report: &mut StageReport,
    ) {
        let resolved = self.map.resolve(stage, cfg, &stages::lookup);
        report.module_source = Some(resolved.source);
        report.notes.extend(resolved.warnings);
        self.runner(stage, cfg, instance)
            .run_list(&resolved.entries, report);
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
                self.apply_network(report, None, &sys_cfg, &sys_cfg, false, !local);
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
        // The config as it is before this boot's user-data is consumed:
        // the network, the early hostname and the local stage's modules
        // all see this one.
        let cfg = self.stage_config(sys_cfg, &instance, report);
        if local {
            // Before the network comes up, so DHCP clients send the name
            // (cloud-init's `_maybe_set_hostname(stage="local")`).
            self.runner(Stage::Local, &cfg.merged, &instance)
                .early_hostname(report);
        }
        self.apply_network(
            report,
            Some(&instance),
            &cfg.merged,
            &cfg.system,
            new_instance,
            !local,
        );
        if local {
            let decl = self.map.stage(Stage::Local);
            if !decl.modules.is_empty() {
                // The local stage keeps no module source in its report.
                let entries = self
                    .map
                    .resolve(Stage::Local, &cfg.merged, &stages::lookup)
                    .entries;
                self.runner(Stage::Local, &cfg.merged, &instance)
                    .run_list(&entries, report);
            }
            if instance.dsmode != DsMode::Local {
                return Some(description);
            }
        }
        // Network stage (or local stage of a dsmode-local datasource):
        // the hostname again with the config as it is before user-data is
        // consumed (`_maybe_set_hostname(stage="init-net")`), then
        // user-data, then cloud_init_modules with the config it made.
        self.runner(Stage::Network, &cfg.merged, &instance)
            .early_hostname(report);
        let merged = self.consume_data(&instance, &cfg, report);
        self.warn_on_schema(&instance.instance_id, &merged, report);
        self.run_modules(Stage::Network, &merged, &instance, report);
        Some(description)
    }

    /// 22.4's check once user-data is consumed (`cmd/main.py`, stage 7):
    /// when the instance has user-data, the merged config is checked as
    /// `schema` checks a file; its deprecations and errors are warnings in
    /// 22.4's words, and the boot goes on (each module checks its own keys).
    fn warn_on_schema(&self, iid: &str, merged: &Value, report: &mut StageReport) {
        let raw = self.paths.ipath(iid, "user-data.txt");
        if self.target.fs().stat(&raw).is_none() {
            return;
        }
        let found = crate::schema::strict::check(merged, &crate::modules::schemas());
        if !found.deprecations.is_empty() {
            report.warning(format!(
                "Deprecated cloud-config provided:\n{}",
                crate::schema::strict::lines(&found.deprecations)
            ));
        }
        if !found.errors.is_empty() {
            report.warning(
                "Invalid cloud-config provided: Please run 'sudo cloud-init schema --system' to see the schema errors.",
            );
        }
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
        sys_cfg: &Value,
        new_instance: bool,
        bring_up: bool,
    ) {
        let release = self.distro(cfg).release;
        let plan = crate::net::apply::plan_boot(&crate::net::apply::BootNet {
            fs: self.target.fs(),
            release: &release,
            paths: &self.paths,
            cfg,
            sys_cfg,
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
        let m = ModuleReport::engine_step(
            "network",
            plan.summary,
            plan.applied,
            applied,
            plan.errors,
            plan.notes,
        );
        for e in &m.errors {
            tracing::warn!("network: {e}");
        }
        report.add_module(m);
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
            self.write_instance_data(&instance, &sys_cfg, report);
        }
        let cfg = self.stage_config(sys_cfg, &instance, report);
        self.run_modules(stage, &cfg.merged, &instance, report);
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
        let ctx = DsContext {
            declared: &[],
            nics: datasource::Nics::new(self.target.fs()),
            fs: self.target.fs(),
            root: self.target.root(),
            devices: &self.opts.devices,
            mount_fallback: self.opts.mount_fallback,
            paths: &self.paths,
            cfg: sys_cfg,
            stage,
            facts: datasource::Facts::new(self.target.fs(), self.target.root(), &self.opts.devices),
            planning: self.target.is_plan(),
        };
        let check = crate::events::check_cache(stage);
        let restored = datasource::cache::restore(&ctx);
        check.finish(crate::events::Outcome::Success, restored.describe(stage));
        let drop_link = match restored {
            Cached::Trusted(c) => {
                tracing::debug!("restored from cache: {}", c.description);
                report.datasource = Some(c.description.clone());
                report.instance_id = Some(c.instance_id.clone());
                return Some(Fetched {
                    instance: c,
                    fresh: false,
                });
            }
            Cached::Stale(c) => {
                tracing::debug!(
                    "cached instance {} no longer valid; searching",
                    c.instance_id
                );
                true
            }
            Cached::Missing => false,
        };
        // The described datasources are read only when searching: a stage
        // that trusts the cache neither reads them nor reports a bad one again.
        let (declared, refused) = datasource::declared::load_all(self.target.fs());
        report.errors.extend(refused);
        let ctx = DsContext {
            declared: &declared,
            ..ctx
        };
        // Config/final stages search with no dependencies: only None qualifies.
        let names: Vec<String> = match stage {
            Stage::Local | Stage::Network => {
                let described: Vec<String> = declared
                    .iter()
                    .filter(|d| d.in_stage(stage))
                    .map(|d| d.name().to_string())
                    .collect();
                datasource::search_order(&self.map.stage(stage).datasources, &described, sys_cfg)
            }
            _ => datasource::search_order(&["None".to_string()], &[], sys_cfg),
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
        let reflected =
            instance_state::reflect(self.target.fs(), &self.paths, instance, fresh, sys_cfg);
        report.new_instance = Some(reflected.new_instance);
        self.apply(report, reflected.effects);
        // A cached instance's instance-data is written once per boot (/run
        // is new each boot): only when it is not there yet.
        let missing = || {
            !self
                .target
                .fs()
                .exists(&self.paths.runpath("instance-data.json"))
        };
        if fresh || missing() {
            self.write_instance_data(instance, sys_cfg, report);
        }
    }

    /// instance-data.json, its sensitive twin and the cloud-id link.
    fn write_instance_data(
        &mut self,
        instance: &Instance,
        sys_cfg: &Value,
        report: &mut StageReport,
    ) {
        let release = self.distro(sys_cfg).release;
        let fs = self.target.fs();
        let effects = instance_state::instance_data(fs, &self.paths, instance, sys_cfg, &release);
        self.apply(report, effects);
    }

    /// `Init.update()` and `consume_data`: stores the blobs, consumes them
    /// (every boot, as cloud-init's built-in handlers do), marks
    /// `sem/consume_data` once per instance, and returns the merged config.
    fn consume_data(
        &mut self,
        instance: &Instance,
        cfg: &StageConfig,
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
                from: kind.source_in(instance),
                limits: userdata::Limits::from_config(&cfg.system),
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

        let allow_userdata = cfg.system.get_bool("allow_userdata", true);
        let mut user_cfg = Value::empty_map();
        let (mut vendor_cfg, mut vendor2_cfg) = (Value::empty_map(), Value::empty_map());
        let mut init_sources = cfg.files.clone();
        init_sources.push(cfg.system.clone());
        let init_cfg = merge::merge_many(&init_sources);
        for (kind, present, parts) in processed {
            let _event = crate::events::consume(kind.label());
            let (parts, disabled) = match kind {
                Kind::User if !allow_userdata => {
                    report
                        .notes
                        .push("allow_userdata is false: user-data discarded".into());
                    (Vec::new(), Vec::new())
                }
                Kind::User => {
                    let wanted = userdata::launch_index(&instance.metadata);
                    (userdata::filter_launch_index(parts, wanted), Vec::new())
                }
                _ if !present => continue,
                _ => match vendor::consumable(kind, &user_cfg, &init_cfg) {
                    Ok(disabled) => (parts, disabled),
                    Err(note) => {
                        report.notes.push(note);
                        continue;
                    }
                },
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
        config::merged(&cfg.files, &user_cfg, &vendor2_cfg, &vendor_cfg, &cfg.under)
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
        self.begin();
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
        let stage = self
            .map
            .stage_placing(module.info().name)
            .unwrap_or(Stage::Final);
        report.stage = stage;
        let cfg = self.stage_config(sys_cfg, &instance, &mut report);
        let planned = Planned {
            module,
            name: name.to_string(),
            frequency,
            args,
        };
        // `single` runs the module whether or not its keys are set.
        let m = self.runner(stage, &cfg.merged, &instance).run(&planned);
        let code = if m.result == ModResult::Failed { 1 } else { 0 };
        report.datasource = Some(instance.description.clone());
        report.instance_id = Some(instance.instance_id.clone());
        report.modules.push(m);
        self.settle_at_end(&mut report);
        (code, report)
    }
}
