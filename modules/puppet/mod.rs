//! puppet (`cc_puppet`): installs, configures and starts the puppet agent,
//! once per instance, when `puppet` is set, as 22.4 does, step by step:
//!
//! 1. install (`install`, default true): `install_type: packages` (the
//!    default) installs `package_name` (default `puppet`) at `version`
//!    through the distro's package manager; `aio` fetches
//!    `aio_install_url` (six tries, a second apart: `readurl(retries=5)`)
//!    and runs it with `-v VERSION`, `-c COLLECTION` and `--cleanup`
//!    (`cleanup`, default true); any other type is warned of and turns
//!    `exec` off. `install: false` with a version is warned of.
//! 2. `puppet config print config|ssldir|csr_attributes`, as 22.4 runs
//!    them (its defaults are evaluated whether or not the keys are set), so
//!    a root without puppet fails the module at the same point.
//! 3. `conf`: each section is merged into `puppet.conf` with 22.4's
//!    `DefaultingConfigParser` (`conf.rs`): `certname`'s `%f` is the fqdn,
//!    `%i` the instance id, the whole lowercased; `ca_cert` goes to
//!    `<ssl_dir>/certs/ca.pem` (ssl_dir 0771, both owned by the puppet user
//!    and root: `puppet` for packages, `root` for aio). As in 22.4, after
//!    each section the file is renamed to `puppet.conf.old` and written
//!    again (0644), so `.old` ends up holding all sections but the last
//!    (cloudboot writes the two files once, after every section merged).
//!
//! Bad config (a section that is no mapping, a `certname` or `ca_cert`
//! that is no string, a section `default`, a `puppet.conf` configparser
//! refuses, or none at all without an install) fails the module before it
//! installs, runs or writes anything; 22.4 fails part-way.
//! 4. `csr_attributes` to `csr_attributes_path` (PyYAML's `yaml.dump`).
//! 5. `start_service` (default true): `/etc/default/puppet`'s `START=yes`
//!    (sed), else `systemctl enable puppet.service`, else `/sbin/chkconfig
//!    puppet on`, else a warning; 22.4's own choice, not the distro's.
//! 6. `exec` (default false): `<puppet> agent` with `exec_args` (a list,
//!    or a string split on blanks; default `--test`).
//! 7. `service puppet start` (on the running machine).
//!
//! Where cloudboot differs: a plan is made before anything runs, so it
//! cannot read `puppet config print`'s answer; the paths are the config's
//! keys, else puppet's own defaults (`/etc/puppet/puppet.conf`,
//! `/var/lib/puppet/ssl`, `/etc/puppet/csr_attributes.yaml` for the
//! distro's package, `/etc/puppetlabs/puppet/...` for aio). The
//! `puppet.conf` merged is the one in the root once puppet is installed
//! (the package's own, in the same run, as in 22.4): the merge is worked
//! out then ([`Later`]). `%f` is the instance's fqdn (22.4's
//! `socket.getfqdn()` of the running machine, which set_hostname made the
//! same). The aio script is fetched to `/var/tmp/cloud-init/
//! puppet-install.<run>` (22.4: a random directory there) and removed
//! after it ran; a `noexec` `/var/tmp` is not looked for.

mod conf;

use crate::module::prelude::py::cfg::option_str as opt_str;
use crate::module::prelude::*;
use crate::modules::shared::fetch_script;
use std::path::{Path, PathBuf};

use conf::PuppetConf;

pub struct Puppet;

/// 22.4's boot reads these with `get_cfg_option_str`/`_bool` (any value);
/// `schema` checks its JSON schema's types.
const ANY_STR: Ty = Ty::Strict(&Ty::Any, Rule::As(&Ty::Str));
const ANY_BOOL: Ty = Ty::Strict(&Ty::Any, Rule::As(&Ty::Bool));

static PUPPET_KEYS: &[Field] = &[
    Field::opt("install", ANY_BOOL),
    Field::opt("version", ANY_STR),
    Field::opt(
        "install_type",
        Ty::Strict(
            &Ty::Any,
            Rule::As(&Ty::Strict(&Ty::Str, Rule::OneOfStrs(&["packages", "aio"]))),
        ),
    ),
    Field::opt("collection", ANY_STR),
    Field::opt("aio_install_url", ANY_STR),
    Field::opt("cleanup", ANY_BOOL),
    Field::opt("conf_file", ANY_STR),
    Field::opt("ssl_dir", ANY_STR),
    Field::opt("csr_attributes_path", ANY_STR),
    Field::opt("package_name", ANY_STR),
    Field::opt("exec", ANY_BOOL),
    // A string is split on blanks; anything else is warned of.
    Field::opt(
        "exec_args",
        Ty::Strict(&Ty::Any, Rule::As(&Ty::List(&Ty::Str))),
    ),
    Field::opt("start_service", ANY_BOOL),
    Field::opt(
        "conf",
        Ty::Map(&[
            Field::opt("main", Ty::AnyMap),
            Field::opt("server", Ty::AnyMap),
            Field::opt("agent", Ty::AnyMap),
            Field::opt("user", Ty::AnyMap),
            Field::opt("ca_cert", Ty::Str),
        ]),
    ),
    Field::opt(
        "csr_attributes",
        Ty::Map(&[
            Field::opt("custom_attributes", Ty::AnyMap),
            Field::opt("extension_requests", Ty::AnyMap),
        ]),
    ),
];

static INFO: ModuleInfo = ModuleInfo {
    name: "puppet",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &["puppet"],
    keys: &["puppet"],
    schema: &[Field::opt("puppet", Ty::Map(PUPPET_KEYS))],
    summary: "install, configure and start the puppet agent",
};

/// 22.4's `AIO_INSTALL_URL`.
const AIO_INSTALL_URL: &str =
    "https://raw.githubusercontent.com/puppetlabs/install-puppet/main/install.sh";
/// 22.4's `PUPPET_AGENT_DEFAULT_ARGS`.
const AGENT_DEFAULT_ARGS: &[&str] = &["--test"];

impl Module for Puppet {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let Some(cfg) = ctx.cfg.get("puppet") else {
            out.note(format!(
                "Skipping module named {}, no 'puppet' configuration found",
                ctx.name
            ));
            return out;
        };
        if let Err(e) = plan(ctx, cfg, &mut out) {
            out.error(e);
        }
        out
    }
}

/// What differs between the two install types.
struct Kind {
    user: &'static str,
    bin: &'static str,
    package: &'static str,
    /// puppet's defaults for `config`, `ssldir`, `csr_attributes`.
    defaults: [&'static str; 3],
}

const PACKAGES: Kind = Kind {
    user: "puppet",
    bin: "puppet",
    package: "puppet",
    defaults: [
        "/etc/puppet/puppet.conf",
        "/var/lib/puppet/ssl",
        "/etc/puppet/csr_attributes.yaml",
    ],
};

const AIO: Kind = Kind {
    user: "root",
    bin: "/opt/puppetlabs/bin/puppet",
    package: "puppet-agent",
    defaults: [
        "/etc/puppetlabs/puppet/puppet.conf",
        "/etc/puppetlabs/puppet/ssl",
        "/etc/puppetlabs/puppet/csr_attributes.yaml",
    ],
};

fn plan(ctx: &Context, cfg: &Value, out: &mut ModuleOutput) -> Result<(), ConfigError> {
    if !matches!(cfg, Value::Map(_)) {
        return Err(ConfigError::new(
            "puppet",
            format!("puppet: expected a mapping, not {}", cfg.type_name()),
        ));
    }
    let install = cfg.get_bool("install", true);
    let version = opt_str(cfg, "version");
    let collection = opt_str(cfg, "collection");
    let install_type = opt_str(cfg, "install_type").unwrap_or_else(|| "packages".into());
    let cleanup = cfg.get_bool("cleanup", true);
    let mut run = cfg.get_bool("exec", false);
    let start = cfg.get_bool("start_service", true);
    let aio_url = opt_str(cfg, "aio_install_url").unwrap_or_else(|| AIO_INSTALL_URL.into());
    let kind = if install_type == "aio" {
        &AIO
    } else {
        &PACKAGES
    };
    let package = opt_str(cfg, "package_name").unwrap_or_else(|| kind.package.into());

    // Everything up to puppet.conf is planned first and handed over only
    // when the conf merges: bad config fails the module before it installs
    // or writes anything.
    let mut effects = Vec::new();
    let mut installs = false;
    if !install && version.as_deref().is_some_and(|v| !v.is_empty()) {
        out.warn("Puppet install set to false but version supplied, doing nothing.");
    } else if install {
        out.note(format!(
            "Attempting to install puppet {} from {install_type}",
            version
                .as_deref()
                .filter(|v| !v.is_empty())
                .unwrap_or("latest")
        ));
        match install_type.as_str() {
            "packages" => {
                let spec = PackageSpec {
                    name: package,
                    version: version.clone().filter(|v| !v.is_empty()),
                };
                let installed = ctx
                    .distro
                    .install_packages(ctx.fs, &ctx.sources_mark(), &[spec])
                    .map_err(ConfigError::from)?;
                effects.extend(installed);
                installs = true;
            }
            "aio" => {
                let mut args = Vec::new();
                if let Some(v) = &version {
                    args.extend(["-v".to_string(), v.clone()]);
                }
                if let Some(c) = &collection {
                    args.extend(["-c".to_string(), c.clone()]);
                }
                if cleanup {
                    args.push("--cleanup".into());
                }
                effects.extend(fetch_script::fetch_and_run(
                    ctx,
                    &aio_url,
                    6,
                    "puppet-install",
                    args,
                ));
                installs = true;
            }
            other => {
                out.warn(format!("Unknown puppet install type '{other}'"));
                run = false;
            }
        }
    }

    // `get_config_value`, asked whatever the config says.
    for setting in ["config", "ssldir", "csr_attributes"] {
        effects.push(Effect::Run(Command::new([
            kind.bin, "config", "print", setting,
        ])));
    }
    let conf_path = opt_str(cfg, "conf_file").unwrap_or_else(|| kind.defaults[0].into());
    let ssl_dir = opt_str(cfg, "ssl_dir").unwrap_or_else(|| kind.defaults[1].into());
    let csr_path = opt_str(cfg, "csr_attributes_path").unwrap_or_else(|| kind.defaults[2].into());

    if let Some(conf) = cfg.get("conf") {
        let merge = Merge {
            entries: entries(ctx, conf)?,
            conf_path: conf_path.clone(),
            ssl_dir,
            owner: Owner::by_name(kind.user, "root"),
            installs,
        };
        // Checked on the root as it is now (bad config or a puppet.conf
        // that cannot be read fails the module before anything is done);
        // merged for real into the file there is once puppet is installed,
        // which may be the package's own.
        merge_files(ctx.fs, &merge)?;
        effects.push(Effect::Later(Later::new(
            format!("merge puppet's conf into {conf_path}"),
            move |fs| merge_files(fs, &merge).map_err(String::from),
        )));
    }
    out.effects.extend(effects);

    if let Some(attrs) = cfg.get("csr_attributes") {
        out.effects.push(Effect::write(
            csr_path.as_str(),
            Data::public(yaml::dump_pyyaml(attrs)),
            0o644,
        ));
    }

    if start {
        autostart(ctx, out);
    }

    if run {
        let mut argv = vec![kind.bin.to_string(), "agent".into()];
        match cfg.get("exec_args") {
            None => argv.extend(AGENT_DEFAULT_ARGS.iter().map(|s| s.to_string())),
            Some(Value::Seq(items)) => argv.extend(items.iter().map(Value::python_str_any)),
            Some(Value::Str(s)) => argv.extend(
                s.split(py::str::is_space)
                    .filter(|w| !w.is_empty())
                    .map(String::from),
            ),
            Some(other) => {
                out.warn(format!(
                    "Unknown type <class '{}'> provided for puppet 'exec_args' expected list, tuple, or string",
                    other.type_name()
                ));
                argv.extend(AGENT_DEFAULT_ARGS.iter().map(|s| s.to_string()));
            }
        }
        out.effects.push(Effect::Run(Command::new(argv)));
    }

    if start {
        out.effects.push(Effect::Host(HostAction {
            what: "start the puppet service".into(),
            argv: vec!["service".into(), "puppet".into(), "start".into()],
        }));
    }
    Ok(())
}

/// One `conf` entry, checked (and `certname` expanded) when planning.
#[derive(Clone)]
enum Entry {
    /// `ca_cert`: the certificate for `<ssl_dir>/certs/ca.pem`.
    CaCert(String),
    /// A section and its options, as strings.
    Section(String, Vec<(String, String)>),
}

/// What merging `conf` into `puppet.conf` needs, taken from the config when
/// planning; the merge itself is worked out on the file there is once
/// puppet is installed ([`Later`]).
#[derive(Clone)]
struct Merge {
    entries: Vec<Entry>,
    conf_path: String,
    ssl_dir: String,
    /// The puppet user (packages) or root (aio), and root.
    owner: Owner,
    /// Something installs puppet first: a missing `puppet.conf` is written
    /// from the config alone, else it is an error (22.4's open fails).
    installs: bool,
}

/// The `conf` entries, checked: bad config fails the module before it
/// installs, runs or writes anything.
fn entries(ctx: &Context, conf: &Value) -> Result<Vec<Entry>, ConfigError> {
    let err = |key: &str, msg: String| ConfigError::new(key, msg);
    let Some(sections) = conf.as_map() else {
        return Err(err(
            "puppet.conf",
            format!("puppet: conf must be a mapping, not {}", conf.type_name()),
        ));
    };
    let mut entries = Vec::new();
    for (name, section) in sections.iter() {
        let name = name.python_str_any();
        if name == "ca_cert" {
            let Some(cert) = section.as_str() else {
                return Err(err(
                    "puppet.conf.ca_cert",
                    format!(
                        "puppet: conf.ca_cert must be a string, not {}",
                        section.type_name()
                    ),
                ));
            };
            entries.push(Entry::CaCert(cert.to_string()));
            continue;
        }
        let Some(options) = section.as_map() else {
            return Err(err(
                "puppet.conf",
                format!(
                    "puppet: conf.{name} must be a mapping, not {}",
                    section.type_name()
                ),
            ));
        };
        let mut set = Vec::new();
        for (o, v) in options.iter() {
            let o = o.python_str_any();
            let v = if o == "certname" {
                let Some(v) = v.as_str() else {
                    return Err(err(
                        "puppet.conf",
                        format!("puppet: conf.{name}.certname must be a string"),
                    ));
                };
                let fqdn = ctx
                    .distro
                    .datasource_hostname(ctx.instance, ctx.fs, true, false)
                    .0
                    .unwrap_or_default();
                v.replace("%f", &fqdn)
                    .replace("%i", ctx.iid())
                    .to_lowercase()
            } else {
                v.python_str_any()
            };
            set.push((o, v));
        }
        entries.push(Entry::Section(name, set));
    }
    Ok(entries)
}

/// The `conf` sections merged into `puppet.conf` as it is in `fs`, and
/// `ca_cert` into the ssl dir: the effects, or why not.
fn merge_files(fs: &dyn FsView, m: &Merge) -> Result<Vec<Effect>, ConfigError> {
    let err = |msg: String| ConfigError::new("puppet.conf", msg);
    let conf_path = m.conf_path.as_str();
    let path = Path::new(conf_path);
    let original = fs.read(path).ok();
    let text = match &original {
        Some(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        None if m.installs => String::new(),
        None => {
            return Err(err(format!(
                "[Errno 2] No such file or directory: '{conf_path}'"
            )))
        }
    };
    let mut parser = PuppetConf::read(&text, conf_path).map_err(err)?;
    // Nothing is written until every section merged (a bad one fails the
    // module with puppet.conf untouched); then what 22.4's passes leave:
    // each pass renames the file to `.old` and writes the merge so far.
    let mut cert_effects = Vec::new();
    let mut passes: Vec<String> = Vec::new();
    for entry in &m.entries {
        match entry {
            Entry::CaCert(cert) => {
                let cert_dir = Path::new(&m.ssl_dir).join("certs");
                // `ensure_dir(ssl_dir, 0o771)` chmods an existing one too.
                cert_effects.push(Effect::Mkdir {
                    path: m.ssl_dir.clone().into(),
                    mode: 0o771,
                });
                cert_effects.push(Effect::Chown {
                    path: m.ssl_dir.clone().into(),
                    owner: Some(m.owner.clone()),
                    mode: None,
                });
                if !fs.is_dir(&cert_dir) {
                    cert_effects.push(Effect::Mkdir {
                        path: cert_dir.clone(),
                        mode: 0o755,
                    });
                }
                cert_effects.push(Effect::Chown {
                    path: cert_dir.clone(),
                    owner: Some(m.owner.clone()),
                    mode: None,
                });
                cert_effects.push(Effect::WriteFile {
                    path: cert_dir.join("ca.pem"),
                    data: Data::public(cert.as_str()),
                    mode: 0o644,
                    owner: Some(m.owner.clone()),
                    append: Append::No,
                });
            }
            Entry::Section(name, options) => {
                for (o, v) in options {
                    parser.set(name, o, v.clone()).map_err(err)?;
                }
            }
        }
        passes.push(parser.stringify());
    }
    let Some(merged) = passes.last().cloned() else {
        return Ok(Vec::new());
    };
    let mut effects = cert_effects;
    // `util.rename(conf, conf.old)`: the file as it was before the last pass.
    let old = PathBuf::from(format!("{conf_path}.old"));
    if passes.len() >= 2 {
        let before_last = passes[passes.len() - 2].clone();
        effects.push(Effect::write(old, Data::public(before_last), 0o644));
    } else if let Some(bytes) = &original {
        // Renamed: its own mode and owner.
        let st = fs.stat(path);
        let (mode, uid, gid) = st.map_or((0o644, 0, 0), |s| (s.mode, s.uid, s.gid));
        effects.push(Effect::WriteFile {
            path: old,
            data: Data::public(bytes.clone()),
            mode,
            owner: Some(Owner {
                user: Some(Named::known(accounts::user_name(fs, uid), uid)),
                group: Some(Named::known(accounts::group_name(fs, gid), gid)),
            }),
            append: Append::No,
        });
    }
    effects.push(Effect::write(conf_path, Data::public(merged), 0o644));
    Ok(effects)
}

/// `_autostart_puppet`: 22.4's own order of what to try.
fn autostart(ctx: &Context, out: &mut ModuleOutput) {
    let argv: Vec<&str> = if ctx.fs.exists(Path::new("/etc/default/puppet")) {
        vec![
            "sed",
            "-i",
            "-e",
            "s/^START=.*/START=yes/",
            "/etc/default/puppet",
        ]
    } else if accounts::which(ctx.fs, "systemctl").is_some() {
        vec!["systemctl", "enable", "puppet.service"]
    } else if ctx.fs.exists(Path::new("/sbin/chkconfig")) {
        vec!["/sbin/chkconfig", "puppet", "on"]
    } else {
        out.warn("Sorry we do not know how to enable puppet services on this system");
        return;
    };
    out.effects.push(Effect::Run(Command::new(argv)));
}

#[cfg(test)]
mod tests;
