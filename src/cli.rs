//! The command line: cloud-init's verbs and exit codes, plus `plan` and `boot`.
//!
//! Installed as `/usr/bin/cloud-init`, cloudboot answers the same commands a
//! systemd unit or SysV script gives cloud-init (`init --local`, `init`,
//! `modules --mode=config`, ...). Parsing is by hand: a handful of flags does
//! not need a parser crate, and start-up stays cheap.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::boot::{Engine, Options};
use crate::exec::Runner;
use crate::paths::{Paths, LOG_FILE, OUTPUT_LOG_FILE, STAGES_YAML};
use crate::plan::PlanTarget;
use crate::report::{self, StageReport};
use crate::rootfs::{FsView, RealFs, Root};
use crate::semaphore::Frequency;
use crate::stages::{self, Stage, StageMap};
use crate::target::{apply_all, LiveTarget, Target};
use crate::{logging, pyjson, status};

const USAGE: &str = "\
usage: cloudboot [--root DIR] [--stages FILE] [--file FILE]... [--device PATH]... [--mount-fallback] [--debug] [--force] COMMAND

cloud-init's commands:
  init [--local]                     run the local or the network stage
  modules [--mode init|config|final] run a stage's modules (default: config)
  single --name NAME [--frequency instance|always|once] [ARG...]
                                     run one module
  status [--long] [--format tabular|json|yaml] [--wait]
  clean [--logs] [--seed] [--machine-id] [--reboot]
  query [KEY] [--all] [--list-keys] [--instance-data FILE]
  schema --config-file FILE | --system
                                     check cloud-config against the modules' keys
cloudboot's own:
  plan [--stage local|network|config|final|all] [--format text|json]
                                     show what a boot would do; change nothing
  boot [--seed DIR]                  run all four stages in order and report
                                     (--seed installs a NoCloud seed directory first)
  devel parse-yaml FILE              print cloudboot's reading of a YAML file as JSON
  per once|instance|always NAME CMD [ARG...]
                                     cloud-init-per (also under that name): run CMD once,
                                     once per instance or always, on this machine's /
  install [--init systemd|sysv|upstart] [--uninstall] [--dry-run] [--files-only]
                                     put cloudboot in cloud-init's place in the root: the
                                     binary, /usr/bin/cloud-init, the four stage services
                                     (--files-only: the service files alone, for packages)
  net render --input FILE [--kind network_data.json|v1|v2|eni|auto]
             [--renderer sysconfig|eni|networkd|netplan] [--distro NAME]
             [--mac NAME,MAC]... --output DIR
                                     render a network config into DIR (no machine involved;
                                     the --mac pairs are the interfaces that exist)

--root DIR   the machine to configure is DIR (default /); nothing outside it is touched
";

/// A usage error: message and exit code 2 (argparse's).
struct Usage(String);

/// The parsed command line.
struct Args {
    root: PathBuf,
    stages: Option<PathBuf>,
    files: Vec<PathBuf>,
    devices: Vec<PathBuf>,
    mount_fallback: bool,
    debug: bool,
    force: bool,
    command: String,
    rest: Vec<String>,
}

fn parse_global(argv: &[String]) -> Result<Args, Usage> {
    let mut args = Args {
        root: PathBuf::from("/"),
        stages: None,
        files: Vec::new(),
        devices: Vec::new(),
        mount_fallback: false,
        debug: false,
        force: false,
        command: String::new(),
        rest: Vec::new(),
    };
    let mut it = Opts::new(argv);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--root" => args.root = PathBuf::from(it.value("--root")?),
            "--stages" => args.stages = Some(PathBuf::from(it.value("--stages")?)),
            "--file" | "-f" => args.files.push(PathBuf::from(it.value("--file")?)),
            "--device" => args.devices.push(PathBuf::from(it.value("--device")?)),
            "--mount-fallback" => args.mount_fallback = true,
            "--debug" | "-d" => args.debug = true,
            "--force" => args.force = true,
            "--version" | "-v" => args.command = "version".into(),
            "--help" | "-h" => args.command = "help".into(),
            s if s.starts_with('-') && args.command.is_empty() => {
                return Err(Usage(format!("unknown option {s}")))
            }
            s if args.command.is_empty() => args.command = s.to_string(),
            s => args.rest.push(s.to_string()),
        }
    }
    if args.command.is_empty() {
        return Err(Usage("a command is required".into()));
    }
    Ok(args)
}

/// Walks arguments, splitting `--opt=value`.
struct Opts {
    items: Vec<String>,
    pos: usize,
}

impl Opts {
    fn new(argv: &[String]) -> Opts {
        let mut items = Vec::new();
        let mut literal = false;
        for a in argv {
            if literal {
                items.push(a.clone());
            } else if a == "--" {
                literal = true;
                items.push(a.clone());
            } else if let (true, Some((k, v))) = (a.starts_with("--"), a.split_once('=')) {
                items.push(k.to_string());
                items.push(v.to_string());
            } else {
                items.push(a.clone());
            }
        }
        Opts { items, pos: 0 }
    }

    fn value(&mut self, opt: &str) -> Result<String, Usage> {
        let v = self
            .items
            .get(self.pos)
            .cloned()
            .ok_or_else(|| Usage(format!("{opt} needs a value")))?;
        self.pos += 1;
        Ok(v)
    }
}

impl Iterator for Opts {
    type Item = String;
    fn next(&mut self) -> Option<String> {
        let v = self.items.get(self.pos).cloned();
        self.pos += 1;
        v
    }
}

/// Entry point: returns the process exit code.
pub fn main(argv: Vec<String>) -> i32 {
    let args = match parse_global(&argv) {
        Ok(a) => a,
        Err(Usage(msg)) => {
            eprintln!("cloudboot: {msg}\n\n{USAGE}");
            return 2;
        }
    };
    logging::init(args.debug);
    let result = match args.command.as_str() {
        "help" => {
            print!("{USAGE}");
            Ok(0)
        }
        "version" => {
            println!("cloudboot {}", env!("CARGO_PKG_VERSION"));
            Ok(0)
        }
        "init" => cmd_init(&args),
        "modules" => cmd_modules(&args),
        "single" => cmd_single(&args),
        "status" => cmd_status(&args),
        "clean" => cmd_clean(&args),
        "query" => cmd_query(&args),
        "plan" => cmd_plan(&args),
        "schema" => cmd_schema(&args),
        "boot" => cmd_boot(&args),
        "devel" => cmd_devel(&args),
        "net" => cmd_net(&args),
        "install" => cmd_install(&args),
        other => Err(Usage(format!("unknown command '{other}'"))),
    };
    match result {
        Ok(code) => code,
        Err(Usage(msg)) => {
            eprintln!("cloudboot {}: {msg}\n\n{USAGE}", args.command);
            2
        }
    }
}

/// The stage map, or `None` after saying why it cannot be used: an invalid
/// map stops everything before it starts.
fn checked_stage_map(args: &Args, root: &Root) -> Option<StageMap> {
    stage_map(args, root)
        .map_err(|e| eprintln!("cloudboot: {e}"))
        .ok()
}

/// Loads the stage map: `--stages`, else the root's /etc/cloudboot/stages.yaml,
/// else the built-in one.
fn stage_map(args: &Args, root: &Root) -> Result<StageMap, String> {
    let (text, name) = match &args.stages {
        Some(p) => (
            fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?,
            p.display().to_string(),
        ),
        None => {
            let fs = RealFs { root: root.clone() };
            match fs.read_string(Path::new(STAGES_YAML)) {
                Some(t) => (t, STAGES_YAML.to_string()),
                None => (
                    stages::DEFAULT_STAGES_YAML.to_string(),
                    "stages.yaml (built in)".into(),
                ),
            }
        }
    };
    StageMap::load(&text, &name, &stages::lookup).map_err(|e| e.to_string())
}

/// A live target for `root`, with the log files opened.
fn live_target(root: &Root) -> LiveTarget {
    if let Err(e) = logging::open_file(root, Path::new(LOG_FILE)) {
        tracing::warn!(
            "cannot open {LOG_FILE} in {}: {e}",
            root.host_path().display()
        );
    }
    // Scripts' output can hold secrets (and set_passwords prints random
    // passwords to the console): never world-readable.
    let output = root.open_append(Path::new(OUTPUT_LOG_FILE), 0o640).ok();
    for log in [LOG_FILE, OUTPUT_LOG_FILE] {
        fix_log_owner(root, Path::new(log));
    }
    LiveTarget::new(root.clone(), Runner::new(root.clone(), output, true))
}

/// cloud-init's `syslog_fix_perms` default (`syslog:adm`, `root:adm`,
/// `root:wheel`, `root:root`): the first owner that exists in the root gets
/// the log file, so the `adm` group can read it as on a cloud-init system.
fn fix_log_owner(root: &Root, guest: &Path) {
    let fs = RealFs { root: root.clone() };
    let id = |file: &str, name: &str| -> Option<u32> {
        fs.read_string(Path::new(file))?.lines().find_map(|l| {
            let mut f = l.split(':');
            (f.next() == Some(name)).then(|| f.nth(1)?.parse().ok())?
        })
    };
    for (user, group) in [
        ("syslog", "adm"),
        ("root", "adm"),
        ("root", "wheel"),
        ("root", "root"),
    ] {
        let uid = if user == "root" {
            Some(0)
        } else {
            id("/etc/passwd", user)
        };
        let gid = if group == "root" {
            Some(0)
        } else {
            id("/etc/group", group)
        };
        if let (Some(u), Some(g)) = (uid, gid) {
            let _ = root.set_owner_mode(guest, Some((Some(u), Some(g))), None);
            return;
        }
    }
}

fn options(args: &Args) -> Options {
    Options {
        files: args.files.clone(),
        force: args.force,
        devices: args.devices.clone(),
        mount_fallback: args.mount_fallback,
    }
}

fn exit_code(errors: usize) -> i32 {
    errors.min(255) as i32
}

/// Runs one stage live; exit code = its number of errors.
fn run_live(args: &Args, stage: Stage, modules_only: bool) -> Result<i32, Usage> {
    let root = Root::new(&args.root);
    let Some(map) = checked_stage_map(args, &root) else {
        return Ok(1);
    };
    let mut target = live_target(&root);
    let mut engine = Engine::new(&mut target, map, options(args));
    let report = engine.run_stage_as(stage, modules_only);
    for e in &report.errors {
        tracing::warn!("{e}");
    }
    Ok(exit_code(report.errors.len()))
}

fn cmd_init(args: &Args) -> Result<i32, Usage> {
    let mut local = false;
    for a in &args.rest {
        match a.as_str() {
            "--local" | "-l" => local = true,
            other => return Err(Usage(format!("unknown option {other}"))),
        }
    }
    run_live(
        args,
        if local { Stage::Local } else { Stage::Network },
        false,
    )
}

fn cmd_modules(args: &Args) -> Result<i32, Usage> {
    let mut mode = "config".to_string();
    let mut it = Opts::new(&args.rest);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--mode" | "-m" => mode = it.value("--mode")?,
            other => return Err(Usage(format!("unknown option {other}"))),
        }
    }
    match mode.as_str() {
        "init" => run_live(args, Stage::Network, true),
        "config" => run_live(args, Stage::Config, false),
        "final" => run_live(args, Stage::Final, false),
        other => Err(Usage(format!(
            "invalid mode '{other}' (choose from 'init', 'config', 'final')"
        ))),
    }
}

fn cmd_single(args: &Args) -> Result<i32, Usage> {
    let mut name = None;
    let mut freq = None;
    let mut module_args = Vec::new();
    let mut it = Opts::new(&args.rest);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--name" | "-n" => name = Some(it.value("--name")?),
            "--frequency" => {
                let f = it.value("--frequency")?;
                freq = Some(Frequency::parse_short(&f).ok_or_else(|| {
                    Usage(format!(
                        "invalid frequency '{f}' (choose from 'instance', 'always', 'once')"
                    ))
                })?);
            }
            "--report" => {}
            "--" => module_args.extend(it.by_ref()),
            s if s.starts_with('-') => return Err(Usage(format!("unknown option {s}"))),
            s => module_args.push(s.to_string()),
        }
    }
    let name = name.ok_or_else(|| Usage("--name is required".into()))?;
    let root = Root::new(&args.root);
    let Some(map) = checked_stage_map(args, &root) else {
        return Ok(1);
    };
    let mut target = live_target(&root);
    let mut engine = Engine::new(&mut target, map, options(args));
    let (code, report) = engine.single(&name, freq, module_args);
    for e in &report.errors {
        tracing::warn!("{e}");
    }
    if let Some(m) = report.modules.first() {
        tracing::info!("single {}: {} ({})", m.name, m.result.as_str(), m.reason);
    }
    Ok(code)
}

fn cmd_status(args: &Args) -> Result<i32, Usage> {
    let mut long = false;
    let mut wait = false;
    let mut format = "tabular".to_string();
    let mut it = Opts::new(&args.rest);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--long" | "-l" => long = true,
            "--wait" | "-w" => wait = true,
            "--format" => format = it.value("--format")?,
            other => return Err(Usage(format!("unknown option {other}"))),
        }
    }
    if !matches!(format.as_str(), "tabular" | "json" | "yaml") {
        return Err(Usage(format!("invalid format '{format}'")));
    }
    let fs = RealFs {
        root: Root::new(&args.root),
    };
    let paths = Paths::default();
    let mut d = status::details(&fs, &paths);
    if wait {
        while matches!(d.status, "not run" | "running") {
            if format == "tabular" {
                print!(".");
                let _ = std::io::stdout().flush();
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
            d = status::details(&fs, &paths);
        }
        if format == "tabular" {
            println!();
        }
    }
    match format.as_str() {
        "tabular" => print!("{}", d.tabular(long)),
        // JSON is valid YAML; cloud-init's YAML output carries the same keys.
        _ => println!("{}", d.json(long)),
    }
    Ok(if d.status == "error" { 1 } else { 0 })
}

fn cmd_clean(args: &Args) -> Result<i32, Usage> {
    let (mut logs, mut seed, mut machine_id, mut reboot) = (false, false, false, false);
    for a in &args.rest {
        match a.as_str() {
            "--logs" | "-l" => logs = true,
            "--seed" | "-s" => seed = true,
            "--machine-id" => machine_id = true,
            "--reboot" | "-r" => reboot = true,
            other => return Err(Usage(format!("unknown option {other}"))),
        }
    }
    let root = Root::new(&args.root);
    let mut target = LiveTarget::new(root.clone(), Runner::new(root.clone(), None, true));
    let paths = Paths::default();
    let mut effects = Vec::new();
    for name in target.fs().list_dir(&paths.cloud_dir).unwrap_or_default() {
        if name == "seed" && !seed {
            continue;
        }
        effects.push(crate::effect::Effect::Remove {
            path: paths.cloud_dir.join(name),
        });
    }
    if logs {
        for f in [LOG_FILE, OUTPUT_LOG_FILE] {
            effects.push(crate::effect::Effect::Remove { path: f.into() });
        }
    }
    if machine_id {
        effects.push(crate::effect::Effect::Remove {
            path: "/etc/machine-id".into(),
        });
    }
    if reboot {
        effects.push(crate::effect::Effect::Host(crate::effect::HostAction {
            what: "reboot now".into(),
            argv: vec!["shutdown".into(), "-r".into(), "now".into()],
        }));
    }
    let applied = apply_all(&mut target, &effects);
    for e in &applied.errors {
        eprintln!("Error:\n{e}");
    }
    Ok(if applied.errors.is_empty() { 0 } else { 1 })
}

fn cmd_query(args: &Args) -> Result<i32, Usage> {
    let (mut all, mut list_keys) = (false, false);
    let mut key = None;
    let mut file = None;
    let mut it = Opts::new(&args.rest);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--all" | "-a" => all = true,
            "--list-keys" | "-l" => list_keys = true,
            "--instance-data" | "-i" => file = Some(PathBuf::from(it.value("--instance-data")?)),
            s if s.starts_with('-') => return Err(Usage(format!("unknown option {s}"))),
            s => key = Some(s.to_string()),
        }
    }
    if !all && !list_keys && key.is_none() {
        eprintln!("ERROR: Expected one of the options: --all, --format, --list-keys or varname");
        return Ok(1);
    }
    let root = Root::new(&args.root);
    let fs = RealFs { root: root.clone() };
    let paths = Paths::default();
    let privileged = crate::exec::privileged();
    let sensitive = paths.runpath("instance-data-sensitive.json");
    let public = paths.runpath("instance-data.json");
    let bytes = match &file {
        Some(f) => fs::read(f).ok(),
        None if privileged => fs.read(&sensitive).ok().or_else(|| fs.read(&public).ok()),
        None => fs.read(&public).ok(),
    };
    let Some(mut data) = bytes.and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
    else {
        eprintln!(
            "ERROR: Missing instance-data file: {}",
            file.unwrap_or(if privileged { sensitive } else { public })
                .display()
        );
        return Ok(1);
    };
    for (k, name) in [
        ("userdata", "user-data.txt"),
        ("vendordata", "vendor-data.txt"),
    ] {
        let p = paths.instance_link().join(name);
        data[k] = if privileged {
            serde_json::Value::from(fs.read_string(&p).unwrap_or_default())
        } else {
            serde_json::Value::from(format!("<redacted for non-root user> file:{}", p.display()))
        };
    }
    let mut value = &data;
    if let Some(k) = &key {
        for part in k.split('.') {
            let next = value.get(part).or_else(|| {
                value.as_object().and_then(|o| {
                    o.iter()
                        .find(|(kk, _)| kk.replace('-', "_") == part)
                        .map(|(_, v)| v)
                })
            });
            match next {
                Some(v) => value = v,
                None => {
                    eprintln!("ERROR: Undefined instance-data key '{k}'");
                    return Ok(1);
                }
            }
        }
    }
    if list_keys {
        match value.as_object() {
            Some(o) => {
                let mut keys: Vec<&String> = o.keys().collect();
                keys.sort();
                for k in keys {
                    println!("{k}");
                }
            }
            None => {
                eprintln!(
                    "ERROR: --list-keys provided but '{}' is not a dict",
                    key.unwrap_or_default()
                );
                return Ok(1);
            }
        }
    } else {
        match value {
            serde_json::Value::String(s) => println!("{s}"),
            other => println!("{}", pyjson::dumps(other, 1)),
        }
    }
    Ok(0)
}

/// `cloud-init schema`: "Valid cloud-config: FILE" and exit 0, or
/// "Error:" and the problems on stderr and exit 1. Unknown keys are
/// warnings; they do not make a file invalid.
fn cmd_schema(args: &Args) -> Result<i32, Usage> {
    let mut file = None;
    let mut system = false;
    let mut it = Opts::new(&args.rest);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--config-file" | "-c" => file = Some(PathBuf::from(it.value("--config-file")?)),
            "--system" => system = true,
            "--annotate" => {}
            other => return Err(Usage(format!("unknown option {other}"))),
        }
    }
    let fail = |msg: String| {
        eprintln!("Error:\n{msg}");
        Ok(1)
    };
    let (content, name) = match (&file, system) {
        (Some(f), false) => match fs::read(f) {
            Ok(c) => (c, f.display().to_string()),
            Err(_) => return fail(format!("Configfile {} does not exist", f.display())),
        },
        (None, true) => {
            let fs = RealFs {
                root: Root::new(&args.root),
            };
            let p = Paths::default().instance_link().join("cloud-config.txt");
            match fs.read(&p) {
                Ok(c) => (c, "system userdata".to_string()),
                Err(e) => return fail(format!("{}: {e}", p.display())),
            }
        }
        _ => {
            return Err(Usage(
                "Expected one of --config-file or --system arguments".into(),
            ))
        }
    };
    if !content.starts_with(b"#cloud-config") {
        return fail(format!(
            "Cloud config schema errors: format-l1.c1: File {name} needs to begin with \"#cloud-config\""
        ));
    }
    let (doc, locate) = match crate::yaml::load(&content, &name) {
        Ok(doc) => (doc, crate::schema::Locator::for_document(&name, &content)),
        Err(e) => {
            return fail(format!(
                "Cloud config schema errors: format-l{}.c{}: File {name} is not valid yaml. {}",
                e.line.unwrap_or(1),
                e.column.unwrap_or(1),
                e.message
            ))
        }
    };
    let problems = crate::schema::check_document(&doc);
    let shown = |p: &crate::schema::Problem| match locate.line_of(&p.path) {
        Some((l, c)) => format!("{} (line {l}, column {c}): {}", p.path, p.message),
        None => format!("{}: {}", p.path, p.message),
    };
    for p in problems
        .iter()
        .filter(|p| p.severity == crate::schema::Severity::Warning)
    {
        eprintln!("Warning: {}", shown(p));
    }
    let errors: Vec<String> = problems
        .iter()
        .filter(|p| p.severity != crate::schema::Severity::Warning)
        .map(shown)
        .collect();
    if !errors.is_empty() {
        return fail(format!("Cloud config schema errors: {}", errors.join(", ")));
    }
    println!("Valid cloud-config: {name}");
    Ok(0)
}

fn parse_stage_list(s: &str) -> Result<Vec<Stage>, Usage> {
    if s == "all" {
        return Ok(Stage::ALL.to_vec());
    }
    Stage::parse(s).map(|st| vec![st]).ok_or_else(|| {
        Usage(format!(
            "unknown stage '{s}' (local, network, config, final, all)"
        ))
    })
}

fn cmd_plan(args: &Args) -> Result<i32, Usage> {
    let mut stages = Stage::ALL.to_vec();
    let mut json = false;
    let mut it = Opts::new(&args.rest);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--stage" => stages = parse_stage_list(&it.value("--stage")?)?,
            "--format" => match it.value("--format")?.as_str() {
                "json" => json = true,
                "text" => json = false,
                other => return Err(Usage(format!("invalid format '{other}' (text, json)"))),
            },
            other => return Err(Usage(format!("unknown option {other}"))),
        }
    }
    let root = Root::new(&args.root);
    let Some(map) = checked_stage_map(args, &root) else {
        return Ok(1);
    };
    let mut target = PlanTarget::new(root);
    let mut engine = Engine::new(&mut target, map, options(args));
    let reports: Vec<StageReport> = stages.into_iter().map(|s| engine.run_stage(s)).collect();
    if json {
        println!("{}", pyjson::dumps(&report::render_json(&reports, true), 2));
    } else {
        print!("{}", report::render_text(&reports, true));
    }
    Ok(0)
}

fn cmd_boot(args: &Args) -> Result<i32, Usage> {
    let mut seed = None;
    let mut it = Opts::new(&args.rest);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seed" => seed = Some(PathBuf::from(it.value("--seed")?)),
            other => return Err(Usage(format!("unknown option {other}"))),
        }
    }
    let root = Root::new(&args.root);
    if let Some(dir) = &seed {
        if let Err(e) = install_seed(&root, dir) {
            eprintln!("cloudboot boot: cannot install seed {}: {e}", dir.display());
            return Ok(1);
        }
    }
    let Some(map) = checked_stage_map(args, &root) else {
        return Ok(1);
    };
    let mut target = live_target(&root);
    let mut engine = Engine::new(&mut target, map, options(args));
    let mut errors = 0;
    let mut reports = Vec::new();
    for stage in Stage::ALL {
        let r = engine.run_stage(stage);
        errors += r.errors.len();
        reports.push(r);
    }
    print!("{}", report::render_text(&reports, false));
    println!(
        "boot of {} finished: {} error{}",
        root.host_path().display(),
        errors,
        if errors == 1 { "" } else { "s" }
    );
    Ok(exit_code(errors))
}

/// `devel parse-yaml FILE`: cloudboot's reading of a YAML file, as JSON.
fn cmd_devel(args: &Args) -> Result<i32, Usage> {
    match args.rest.as_slice() {
        [sub, file] if sub == "parse-yaml" => Ok(crate::devel::parse_yaml(Path::new(file))),
        [sub, ..] if sub == "parse-yaml" => Err(Usage(
            "devel parse-yaml needs one FILE (- for stdin)".into(),
        )),
        [sub, ..] => Err(Usage(format!("unknown devel command '{sub}' (parse-yaml)"))),
        [] => Err(Usage("devel needs a command (parse-yaml)".into())),
    }
}

fn cmd_install(args: &Args) -> Result<i32, Usage> {
    use crate::install;
    let mut init = None;
    let mut uninstall = false;
    let mut dry_run = false;
    let mut files_only = false;
    let mut it = Opts::new(&args.rest);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--init" => {
                let v = it.value("--init")?;
                init = Some(install::Init::parse(&v).ok_or_else(|| {
                    Usage(format!(
                        "unknown init system '{v}' (systemd, sysv, upstart)"
                    ))
                })?);
            }
            "--uninstall" => uninstall = true,
            "--dry-run" => dry_run = true,
            "--files-only" => files_only = true,
            other => return Err(Usage(format!("install: unknown argument {other}"))),
        }
    }
    let root = Root::new(&args.root);
    let fs = RealFs { root: root.clone() };
    let effects = if files_only {
        // The service files alone, as packages ship them.
        let init = init.unwrap_or_else(|| install::detect(&fs));
        install::service_files(init, install::initd_dir(&fs))
            .into_iter()
            .map(|(path, content, mode)| {
                crate::effect::Effect::write(path, crate::effect::Data::public(content), mode)
            })
            .collect()
    } else if uninstall {
        match install::uninstall(&fs) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("cloudboot install --uninstall: {e}");
                return Ok(1);
            }
        }
    } else {
        let init = init.unwrap_or_else(|| install::detect(&fs));
        let exe = std::env::current_exe()
            .and_then(fs::read)
            .map_err(|e| Usage(format!("cannot read this cloudboot binary: {e}")))?;
        println!("init system: {}", init.as_str());
        install::install(&fs, init, &exe).0
    };
    if dry_run {
        for e in &effects {
            println!("{}", e.summary());
        }
        return Ok(0);
    }
    let mut target = LiveTarget::new(root.clone(), Runner::new(root, None, true));
    let applied = apply_all(&mut target, &effects);
    for r in &applied.records {
        println!("{}", r.summary);
    }
    for e in &applied.errors {
        eprintln!("cloudboot install: {e}");
    }
    Ok(if applied.errors.is_empty() { 0 } else { 1 })
}

fn cmd_net(args: &Args) -> Result<i32, Usage> {
    use crate::net::preview;
    let Some((sub, rest)) = args.rest.split_first() else {
        return Err(Usage("net needs a command (render)".into()));
    };
    if sub != "render" {
        return Err(Usage(format!("unknown net command '{sub}' (render)")));
    }
    let mut req = preview::Request {
        kind: "auto".into(),
        ..Default::default()
    };
    let mut output = None;
    let mut it = Opts::new(rest);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--input" | "-i" => req.input = PathBuf::from(it.value("--input")?),
            "--kind" | "-k" => req.kind = it.value("--kind")?,
            "--renderer" | "-O" => req.renderer = Some(it.value("--renderer")?),
            "--distro" | "-D" => req.distro = Some(it.value("--distro")?),
            "--mac" | "-m" => {
                let v = it.value("--mac")?;
                let pair = preview::parse_mac_pair(&v)
                    .ok_or_else(|| Usage(format!("--mac wants NAME,MAC, not '{v}'")))?;
                req.macs.push(pair);
            }
            "--output" | "-d" => output = Some(PathBuf::from(it.value("--output")?)),
            other => return Err(Usage(format!("net render: unknown argument {other}"))),
        }
    }
    if req.input.as_os_str().is_empty() {
        return Err(Usage("net render needs --input FILE".into()));
    }
    let Some(output) = output else {
        return Err(Usage("net render needs --output DIR".into()));
    };
    req.output = preview::output_dir(&output);
    match preview::render(&req) {
        Ok(done) => {
            println!("renderer: {}", done.renderer);
            for (path, mode, len) in &done.written {
                println!("write {} ({mode:04o}, {len} bytes)", path.display());
            }
            for path in &done.removed {
                println!("remove {}", path.display());
            }
            for w in &done.warnings {
                println!("warning: {w}");
            }
            Ok(0)
        }
        Err(e) => {
            eprintln!("cloudboot net render: {e}");
            Ok(1)
        }
    }
}

/// Copies a NoCloud seed directory into the root's `seed/nocloud`.
fn install_seed(root: &Root, dir: &Path) -> std::io::Result<()> {
    let dest = Paths::default().seed_dir("nocloud");
    for name in ["meta-data", "user-data", "vendor-data", "network-config"] {
        let src = dir.join(name);
        if src.is_file() {
            root.write_bytes(&dest.join(name), &fs::read(&src)?, 0o600, None)?;
        }
    }
    Ok(())
}
