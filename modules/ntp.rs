//! ntp (`cc_ntp`): configures the NTP client, once per instance, on the
//! distros 22.4 lists (activated by `ntp`), as cloud-init 22.4 does:
//!
//! 1. The client: `ntp.ntp_client` when set and not `auto`, else
//!    `system_info.ntp_client`, else the first of the distro's preferred
//!    clients whose program is in the root (chrony, systemd-timesyncd, ntp,
//!    ntpdate), else the first preferred. Its settings are the distro's
//!    (`src/distro/ntp.rs`), with `ntp.config` laid over them and checked
//!    as 22.4 checks them.
//! 2. An existing config file is renamed to `<file>.dist`.
//! 3. The config is rendered from the template (`ntp.config.template`, or
//!    `<templates_dir>/<template_name>.tmpl`) with `servers` and `pools`;
//!    with neither, the distro's four default pools.
//! 4. The client's packages are installed when its program is not in the
//!    root (`Distro::install_packages`: on Debian the package sources are
//!    updated first, once per instance); a failed install stops the module
//!    before the reload, as in 22.4.
//! 5. The service is reloaded or started (`reload` through
//!    `Distro::manage_service`: `systemctl reload-or-restart chrony`, or
//!    `service ntpd restart`), an action on the running machine; its
//!    failure fails the module.
//!
//! tests/fixtures/ntp holds what 22.4's own handler does.

use crate::module::prelude::*;

pub struct Ntp;

static CLIENT_CONFIG: [Field; 5] = [
    Field::opt("confpath", Ty::Str),
    Field::opt("check_exe", Ty::Str),
    Field::opt("packages", Ty::List(&Ty::Str)),
    Field::opt("service_name", Ty::Str),
    Field::opt("template", Ty::Str),
];

static NTP: [Field; 5] = [
    Field::opt("pools", Ty::List(&Ty::Str)),
    Field::opt("servers", Ty::List(&Ty::Str)),
    Field::opt("ntp_client", Ty::Str),
    // 22.4's schema says boolean; its handler takes "off" and the like too
    // (`util.is_false`).
    Field::opt(
        "enabled",
        Ty::Strict(&Ty::OneOf(&[Ty::Bool, Ty::Str]), Rule::As(&Ty::Bool)),
    ),
    Field::opt(
        "config",
        Ty::Strict(&Ty::Map(&CLIENT_CONFIG), Rule::MinProperties(1)),
    ),
];

static INFO: ModuleInfo = ModuleInfo {
    name: "ntp",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &["ntp"],
    keys: &["ntp"],
    // 22.4: `type: [null, object]`.
    schema: &[Field::opt(
        "ntp",
        Ty::Strict(&Ty::OneOf(&[Ty::Null, Ty::Map(&NTP)]), Rule::TypeList),
    )],
    summary: "configure and start the NTP client (chrony, ntp, ntpdate, systemd-timesyncd)",
};

/// 22.4's `distros` for cc_ntp.
static DISTROS: &[&str] = &[
    "almalinux",
    "alpine",
    "centos",
    "cloudlinux",
    "cos",
    "debian",
    "eurolinux",
    "fedora",
    "freebsd",
    "mariner",
    "miraclelinux",
    "openbsd",
    "openEuler",
    "openmandriva",
    "opensuse",
    "photon",
    "rhel",
    "rocky",
    "sles",
    "ubuntu",
    "virtuozzo",
];

/// `REQUIRED_NTP_CONFIG_KEYS`, sorted.
const REQUIRED_KEYS: [&str; 4] = ["check_exe", "confpath", "packages", "service_name"];

impl Module for Ntp {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn distros(&self) -> &'static [&'static str] {
        DISTROS
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        if let Err(e) = handle(ctx, &mut out) {
            out.error(e);
        }
        out
    }
}

fn handle(ctx: &Context, out: &mut ModuleOutput) -> Result<(), String> {
    let (fs, distro) = (ctx.fs, ctx.distro);
    let Some(ntp_cfg) = ctx.cfg.get("ntp") else {
        out.note(format!(
            "Skipping module named {}, not present or disabled by cfg",
            ctx.name
        ));
        return Ok(());
    };
    let empty = Value::empty_map();
    let ntp_cfg = match ntp_cfg {
        Value::Null => &empty,
        Value::Map(_) => ntp_cfg,
        other => {
            return Err(format!(
                "'ntp' key existed in config, but not a dictionary type, is a {} instead",
                other.type_name()
            ))
        }
    };
    if py::truth::is_false(ntp_cfg.get("enabled").unwrap_or(&Value::Bool(true))) {
        out.note(format!(
            "Skipping module named {}, disabled by cfg",
            ctx.name
        ));
        return Ok(());
    }

    let client = select_ntp_client(ctx, ntp_cfg.get("ntp_client"), out);
    // User settings over the distro's (`mergemanydict(..., reverse=True)`).
    let user = ntp_cfg
        .get("config")
        .cloned()
        .unwrap_or_else(Value::empty_map);
    let config = merge_many_reversed(&[Value::Map(client), user]);
    let config = config.as_map().cloned().unwrap_or_default();
    supplemental_schema_validation(&config)?;
    let get_str = |k: &str| config.get(k).and_then(Value::as_str).unwrap_or("");

    // `rename_ntp_conf`.
    let confpath = get_str("confpath").to_string();
    out.effects.extend(rename_to_dist(fs, &confpath)?);

    let template = config.get("template").filter(|t| t.truthy());
    let text = match template {
        Some(t) => t.python_str(),
        None => {
            let template_name = get_str("template_name");
            let name = template_name.replace("{distro}", &distro.name);
            let path = distro.template_path(&name);
            let is_file = fs.stat(&path).is_some_and(|s| s.kind == FileKind::File);
            match fs.read_string(&path).filter(|_| is_file) {
                Some(text) => text,
                None => {
                    let dir = path.parent().unwrap_or(std::path::Path::new("/"));
                    out.warn(format!(
                        "No template found in {} for template named {name}",
                        dir.display()
                    ));
                    return Err(format!("No template found, not rendering {template_name}"));
                }
            }
        }
    };

    // `write_ntp_config_template`.
    let list = |key: &str| -> Result<Vec<String>, String> {
        match ntp_cfg.get(key) {
            Some(v) if v.truthy() => match v {
                Value::Seq(items) => Ok(items.iter().map(Value::python_str_any).collect()),
                other => Err(format!(
                    "ntp:{key} must be a list, not {}",
                    other.type_name()
                )),
            },
            _ => Ok(Vec::new()),
        }
    };
    let mut servers = list("servers")?;
    let mut pools = list("pools")?;
    let service_name = get_str("service_name").to_string();
    let write = !(servers.is_empty() && pools.is_empty() && distro.name == "cos");
    if write {
        if servers.is_empty() && distro.name == "alpine" && service_name == "ntpd" {
            servers = distro.ntp_pool_names();
            out.note(format!(
                "Adding distro default ntp servers: {}",
                servers.join(",")
            ));
        } else if servers.is_empty() && pools.is_empty() {
            pools = distro.ntp_pool_names();
            out.note(format!(
                "Adding distro default ntp pool servers: {}",
                pools.join(",")
            ));
        }
        let rendered = render(&text, &servers, &pools)?;
        out.effects.push(Effect::write(
            confpath.as_str(),
            Data::public(rendered),
            0o644,
        ));
    }

    // `install_ntp_client`.
    let check_exe = get_str("check_exe");
    if !ntp_client_installed(fs, check_exe) {
        let packages: Vec<String> = config
            .get("packages")
            .and_then(Value::as_seq)
            .unwrap_or_default()
            .iter()
            .map(Value::python_str)
            .collect();
        out.effects.extend(install_packages(ctx, &packages)?);
    }

    let argv = distro.manage_service("reload", &service_name);
    out.effects.push(Effect::Host(HostAction {
        what: format!("reload or start the NTP service ({})", argv.join(" ")),
        argv,
    }));
    Ok(())
}

/// `select_ntp_client(ntp_client, distro)`: the chosen client's settings
/// on this distro (empty for a client 22.4 does not know).
fn select_ntp_client(ctx: &Context, ntp_client: Option<&Value>, out: &mut ModuleOutput) -> Mapping {
    let distro = ctx.distro;
    let config = |name: &str| distro.ntp_client_config(name).unwrap_or_default();
    if let Some(client) = ntp_client.filter(|c| c.truthy() && c.as_str() != Some("auto")) {
        let name = client.python_str();
        out.note(format!(
            "Selected NTP client \"{name}\" via user-data configuration"
        ));
        return match client {
            Value::Str(_) => config(&name),
            _ => Mapping::new(),
        };
    }
    let configured = distro
        .system_info
        .get("ntp_client")
        .map(Value::python_str)
        .unwrap_or_else(|| "auto".into());
    if configured != "auto" {
        out.note(format!(
            "Selected NTP client \"{configured}\" via distro system config"
        ));
        return config(&configured);
    }
    let preferred = distro.preferred_ntp_clients();
    for client in preferred {
        let cfg = config(client);
        let exe = cfg.get("check_exe").and_then(Value::as_str).unwrap_or("");
        if ntp_client_installed(ctx.fs, exe) {
            out.note(format!(
                "Selected NTP client \"{client}\", already installed"
            ));
            return cfg;
        }
    }
    let client = preferred[0];
    out.note(format!(
        "Selected distro preferred NTP client \"{client}\", not yet installed"
    ));
    config(client)
}

/// `supplemental_schema_validation(ntp_config)`, its `ValueError` word for
/// word (the first line break is a literal `\n`: 22.4's raw string).
fn supplemental_schema_validation(config: &Mapping) -> Result<(), String> {
    let mut errors = Vec::new();
    let missing: Vec<&str> = REQUIRED_KEYS
        .iter()
        .filter(|k| !config.contains_key(k))
        .copied()
        .collect();
    let truthy = |k: &str| config.get(k).is_some_and(Value::truthy);
    if !missing.is_empty() {
        errors.push(format!(
            "Missing required ntp:config keys: {}",
            missing.join(", ")
        ));
    } else if !truthy("template") && !truthy("template_name") {
        errors.push(
            "Either ntp:config:template or ntp:config:template_name values are required".into(),
        );
    }
    let mut keys: Vec<(String, &Value)> = config.iter().map(|(k, v)| (k.python_str(), v)).collect();
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    for (key, value) in keys {
        let keypath = format!("ntp:config:{key}");
        let shown = value.python_str_any();
        match key.as_str() {
            "confpath" => {
                if !(value.truthy() && matches!(value, Value::Str(_))) {
                    errors.push(format!(
                        "Expected a config file path {keypath}. Found ({shown})"
                    ));
                }
            }
            "packages" => {
                if !matches!(value, Value::Seq(_)) {
                    errors.push(format!(
                        "Expected a list of required package names for {keypath}. Found ({shown})"
                    ));
                }
            }
            "template" | "template_name" => {
                if !value.is_null() && !matches!(value, Value::Str(_)) {
                    errors.push(format!(
                        "Expected a string type for {keypath}. Found ({shown})"
                    ));
                }
            }
            _ => {
                if !matches!(value, Value::Str(_)) {
                    errors.push(format!(
                        "Expected a string type for {keypath}. Found ({shown})"
                    ));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "Invalid ntp configuration:\\n{}",
            errors.join("\n")
        ))
    }
}

/// `rename_ntp_conf`: an existing config file becomes `<file>.dist` (a
/// link is moved as a link).
fn rename_to_dist(fs: &dyn FsView, confpath: &str) -> Result<Vec<Effect>, String> {
    let path = std::path::Path::new(confpath);
    let dist = format!("{confpath}.dist");
    // `os.path.exists` follows links: a dangling one is not renamed.
    if !fs.exists(path) {
        return Ok(Vec::new());
    }
    let moved = match fs.lstat(path).map(|s| s.kind) {
        Some(FileKind::Symlink) => Effect::Symlink {
            path: dist.into(),
            target: fs
                .read_link(path)
                .map_err(|e| format!("reading the link {confpath}: {e}"))?,
        },
        Some(FileKind::File) => {
            let data = fs
                .read(path)
                .map_err(|e| format!("reading {confpath}: {e}"))?;
            let mode = fs.stat(path).map(|s| s.mode & 0o7777).unwrap_or(0o644);
            Effect::write(dist, Data::public(data), mode)
        }
        _ => {
            return Err(format!(
                "{confpath} is not a file: cloudboot does not move it to {dist}"
            ))
        }
    };
    Ok(vec![moved, Effect::Remove { path: path.into() }])
}

/// `templater.render_string(text, {"servers": ..., "pools": ...})`.
fn render(text: &str, servers: &[String], pools: &[String]) -> Result<String, String> {
    let (kind, body, _) = templater::detect(text).map_err(|e| e.to_string())?;
    match kind {
        templater::Kind::Jinja => jinja::blocks::render(
            body,
            &[
                ("servers", jinja::blocks::Var::List(servers.to_vec())),
                ("pools", jinja::blocks::Var::List(pools.to_vec())),
            ],
        )
        .map_err(|e| e.to_string()),
        templater::Kind::Basic => {
            let repr = |l: &[String]| {
                Value::Seq(l.iter().map(|s| Value::str(s.as_str())).collect()).python_repr()
            };
            templater::basic_render(body, |name| match name {
                "servers" => Ok(repr(servers)),
                "pools" => Ok(repr(pools)),
                other => Err(format!("'{other}'")),
            })
        }
    }
}

/// `distro.install_packages(packages)`: on Debian and Ubuntu the package
/// sources are updated first (once per instance), as 22.4 does.
fn install_packages(ctx: &Context, packages: &[String]) -> Result<Vec<Effect>, String> {
    let specs: Vec<PackageSpec> = packages.iter().map(PackageSpec::name).collect();
    ctx.distro
        .install_packages(ctx.fs, &ctx.sources_mark(), &specs)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value as J;

    /// What cloud-init 22.4's handler did, case by case (see the README
    /// beside it).
    const EXPECTED: &str = include_str!("../tests/fixtures/ntp/expected.json");

    /// 22.4's templates the cases' roots hold (`/etc/cloud/templates/`).
    const TEMPLATES: [(&str, &str); 8] = [
        (
            "chrony.conf.centos",
            include_str!("../tests/fixtures/ntp/templates/chrony.conf.centos.tmpl"),
        ),
        (
            "chrony.conf.debian",
            include_str!("../tests/fixtures/ntp/templates/chrony.conf.debian.tmpl"),
        ),
        (
            "chrony.conf.rhel",
            include_str!("../tests/fixtures/ntp/templates/chrony.conf.rhel.tmpl"),
        ),
        (
            "chrony.conf.ubuntu",
            include_str!("../tests/fixtures/ntp/templates/chrony.conf.ubuntu.tmpl"),
        ),
        (
            "ntp.conf.debian",
            include_str!("../tests/fixtures/ntp/templates/ntp.conf.debian.tmpl"),
        ),
        (
            "ntp.conf.rhel",
            include_str!("../tests/fixtures/ntp/templates/ntp.conf.rhel.tmpl"),
        ),
        (
            "ntp.conf.ubuntu",
            include_str!("../tests/fixtures/ntp/templates/ntp.conf.ubuntu.tmpl"),
        ),
        (
            "timesyncd.conf",
            include_str!("../tests/fixtures/ntp/templates/timesyncd.conf.tmpl"),
        ),
    ];

    /// RHEL 7's `/etc/os-release` (22.4's `rhel` class).
    const RHEL_7: &str = "NAME=\"Red Hat Enterprise Linux Server\"\nVERSION=\"7.9 (Maipo)\"\n\
        ID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"7.9\"\n";

    /// Ubuntu 22.04's `/etc/os-release`.
    const UBUNTU_22_04: &str = "NAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nID=ubuntu\nID_LIKE=debian\n\
        VERSION_CODENAME=jammy\n";

    /// The root 22.4's distro class in the case stands for: Debian 12,
    /// Ubuntu 22.04 and RHEL 7 with systemd running, CentOS 6 without.
    fn kit(distro: &str) -> Kit {
        match distro {
            "debian" => Kit::debian12().dir("/run/systemd/system"),
            "ubuntu" => Kit::with_os_release(UBUNTU_22_04).dir("/run/systemd/system"),
            "rhel" => Kit::with_os_release(RHEL_7).dir("/run/systemd/system"),
            "centos" => Kit::with_os_release("")
                .file("/etc/redhat-release", "CentOS release 6.10 (Final)\n"),
            other => panic!("no root for {other}"),
        }
    }

    /// One recorded step, in the recorder's terms.
    #[derive(Debug, PartialEq)]
    enum Op {
        Write {
            path: String,
            content: String,
            mode: u32,
        },
        Rename {
            path: String,
            dest: String,
        },
        Install(Vec<String>),
        Run(Vec<String>),
    }

    fn expected_ops(case: &J) -> Vec<Op> {
        let s = |v: &J| v.as_str().unwrap().to_string();
        let list = |v: &J| v.as_array().unwrap().iter().map(s).collect();
        case["ops"]
            .as_array()
            .unwrap()
            .iter()
            .map(|op| match op["op"].as_str().unwrap() {
                "write" => Op::Write {
                    path: s(&op["path"]),
                    content: s(&op["content"]),
                    mode: op["mode"].as_u64().unwrap() as u32,
                },
                "rename" => Op::Rename {
                    path: s(&op["path"]),
                    dest: s(&op["dest"]),
                },
                "install" => Op::Install(list(&op["packages"])),
                "run" => Op::Run(list(&op["argv"])),
                other => panic!("unknown op {other}"),
            })
            .collect()
    }

    /// The plan's effects as recorder steps: a copy to `<file>.dist` and
    /// the removal of the file are its rename; the package manager's
    /// command is the install (its packages follow `install`; the
    /// package sources' semaphore under /var/lib/cloud is part of it).
    fn planned_ops(effects: &[Effect]) -> Vec<Op> {
        let mut ops = Vec::new();
        let mut install: Option<Vec<String>> = None;
        for e in effects {
            match e {
                Effect::WriteFile { path, .. } if path.starts_with("/var/lib/cloud") => {}
                Effect::WriteFile {
                    path, data, mode, ..
                } => ops.push(Op::Write {
                    path: path.display().to_string(),
                    content: String::from_utf8(data.bytes.clone()).unwrap(),
                    mode: *mode,
                }),
                Effect::Symlink { path, .. } => ops.push(Op::Write {
                    path: path.display().to_string(),
                    content: "<link>".into(),
                    mode: 0,
                }),
                Effect::Remove { path } => {
                    let dest = format!("{}.dist", path.display());
                    match ops.pop() {
                        Some(Op::Write { path: p, .. }) if p == dest => ops.push(Op::Rename {
                            path: path.display().to_string(),
                            dest,
                        }),
                        other => panic!("a removal after {other:?}"),
                    }
                }
                Effect::Run(cmd) => {
                    if let Some(at) = cmd.argv.iter().position(|a| a == "install") {
                        install = Some(cmd.argv[at + 1..].to_vec());
                    }
                }
                Effect::Host(h) => {
                    if let Some(pkgs) = install.take() {
                        ops.push(Op::Install(pkgs));
                    }
                    ops.push(Op::Run(h.argv.clone()));
                }
                other => panic!("unexpected effect {other:?}"),
            }
        }
        ops
    }

    #[test]
    fn every_recorded_case_plans_as_cloud_init_22_4_ran_it() {
        let cases: Vec<J> = serde_json::from_str(EXPECTED).unwrap();
        assert!(cases.len() >= 120, "{} cases", cases.len());
        for case in &cases {
            let name = case["name"].as_str().unwrap();
            let mut kit = kit(case["distro"].as_str().unwrap());
            if case.get("templates") != Some(&J::Bool(false)) {
                for (t, text) in TEMPLATES {
                    kit = kit.file(&format!("/etc/cloud/templates/{t}.tmpl"), text);
                }
            }
            for (path, text) in case["files"].as_object().into_iter().flatten() {
                kit = kit.file(path, text.as_str().unwrap());
            }
            for exe in case["installed"].as_array().into_iter().flatten() {
                kit = kit.file_mode(exe.as_str().unwrap(), "", 0o755);
            }
            // JSON is YAML.
            let kit = kit.cfg(&case["cfg"].to_string());
            let planned = kit.plan(&Ntp);
            assert_eq!(
                planned_ops(planned.effects()),
                expected_ops(case),
                "{name}: effects"
            );
            let logs: Vec<&str> = case["logs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap())
                .collect();
            assert_eq!(planned.notes(), logs, "{name}: messages");
            planned.assert_error_as_recorded(name, case["error"].as_str());
        }
    }

    #[test]
    fn a_missing_client_is_installed_by_the_distro_before_the_reload() {
        let p = Kit::debian12()
            .dir("/run/systemd/system")
            .file(
                "/etc/cloud/templates/chrony.conf.debian.tmpl",
                TEMPLATES[1].1,
            )
            .cfg("ntp: {servers: [ntp.example.com]}\n")
            .plan(&Ntp);
        let commands: Vec<String> = p.commands().iter().map(|c| c.join(" ")).collect();
        assert_eq!(commands.len(), 3, "{commands:?}");
        assert!(commands[0].starts_with("apt-get ") && commands[0].ends_with(" update"));
        assert!(commands[1].starts_with("apt-get ") && commands[1].ends_with(" install chrony"));
        assert_eq!(commands[2], "systemctl reload-or-restart chrony");
        // The package sources' command is fatal: a failed install leaves
        // the service alone, as 22.4's exception does.
        assert!(p.effects().iter().all(|e| match e {
            Effect::Run(c) => c.on_failure == OnFailure::Fatal,
            _ => true,
        }));

        let p = Kit::with_os_release("")
            .file("/etc/redhat-release", "CentOS release 6.10 (Final)\n")
            .file(
                "/etc/cloud/templates/chrony.conf.centos.tmpl",
                TEMPLATES[0].1,
            )
            .cfg("ntp: {}\n")
            .plan(&Ntp);
        assert_eq!(
            p.commands(),
            [
                vec!["yum", "-t", "-y", "install", "chrony"],
                vec!["service", "chronyd", "restart"]
            ]
        );
    }
}
