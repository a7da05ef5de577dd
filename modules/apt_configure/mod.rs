//! apt_configure (`cc_apt_configure`): apt's sources, mirrors, keys, proxy
//! and config, and debconf selections, once per instance, on Debian and
//! Ubuntu, as 22.4 does it. It runs with no `apt` key at all (Debian 12's
//! cloud.cfg sets `apt: {preserve_sources_list: true}`; with nothing set
//! it still runs where the root has apt-get and is not Ubuntu Core):
//!
//! - the old top-level keys (`apt_sources`, `apt_mirror*`, `apt_proxy`,
//!   ...) moved under `apt` with 22.4's deprecation warnings (`convert.rs`);
//! - `debconf_selections` to `debconf-set-selections`, then the installed
//!   packages they name reconfigured (`debconf.rs`);
//! - the mirrors: `primary` / `security` (`arches`, `uri`), else the
//!   distro's `package_mirrors`, else cloud-init's defaults (`mirrors.rs`);
//! - unless `preserve_sources_list`: the mirrors' keys, and
//!   `/etc/apt/sources.list` from `sources_list` or the distro's template
//!   (`/etc/cloud/templates/sources.list.<distro>.tmpl`) with
//!   `disable_suites`; or with `generate_mirrorlists`, `/etc/apt/mirrors/`;
//! - `proxy` / `http_proxy` / `https_proxy` / `ftp_proxy` in
//!   `/etc/apt/apt.conf.d/90cloud-init-aptproxy`, `conf` in
//!   `94cloud-init-config` (each removed when unset);
//! - `sources`: keys (gpg inside the root), source lines in
//!   `/etc/apt/sources.list.d/`, `add-apt-repository` for `ppa:`-style
//!   sources, then the package sources updated (`sources.rs`).
//!
//! Departures, each said where it happens: the release is the root's
//! os-release codename where the root has `lsb_release` (22.4 runs it;
//! without it, `UNAVAILABLE` as 22.4); the architecture is the one
//! cloudboot was built for (22.4 runs `dpkg --print-architecture`); host
//! names are not resolved to pick a mirror (`search`, `search_dns`); only
//! the default `add_apt_repo_match` is taken; keys are made keyrings by
//! gpg's `--output` and apt's cached lists renamed by `mv`, inside the
//! root (22.4 does both in Python); jinja templates are rendered by
//! `jinja::blocks` (Debian's and Ubuntu's own templates render as 22.4
//! renders them; an expression it does not read is refused by name).
//! tests/fixtures/apt_configure holds what 22.4 itself does.

mod convert;
mod debconf;
mod mirrors;
mod sources;

use std::path::Path;

use crate::module::prelude::*;

pub struct AptConfigure;

/// Template parameters, in the order 22.4's dicts have them (a later one
/// wins).
type Params = Vec<(String, String)>;

const APT_PROXY_FN: &str = "/etc/apt/apt.conf.d/90cloud-init-aptproxy";
const APT_CONFIG_FN: &str = "/etc/apt/apt.conf.d/94cloud-init-config";

const MIRROR: Ty = Ty::Map(&[
    Field::opt("arches", Ty::List(&Ty::Str)),
    Field::opt("uri", Ty::Str),
    Field::opt("search", Ty::List(&Ty::Str)),
    Field::opt("search_dns", Ty::Bool),
    Field::opt("keyid", Ty::Str),
    Field::opt("key", Ty::Str),
    Field::opt("keyserver", Ty::Str),
]);

static INFO: ModuleInfo = ModuleInfo {
    name: "apt_configure",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &[],
    keys: &[
        "apt",
        "apt_sources",
        "apt_mirror",
        "apt_mirror_search",
        "apt_mirror_search_dns",
        "apt_proxy",
        "apt_http_proxy",
        "apt_ftp_proxy",
        "apt_https_proxy",
        "apt_preserve_sources_list",
        "apt_custom_sources_list",
        "add_apt_repo_match",
    ],
    schema: &[Field::opt(
        "apt",
        Ty::Strict(&APT_BOOT, Rule::As(&APT_SCHEMA)),
    )],
    summary: "configure apt: sources, mirrors, keys, proxy, apt.conf, debconf selections",
};

/// 22.4's `apt_configure.mirror`: at least one, each with `arches`.
static MIRROR_SCHEMA: Ty = Ty::Strict(
    &Ty::List(&Ty::Map(&[
        Field::req("arches", Ty::Strict(&Ty::List(&Ty::Str), Rule::MinItems(1))),
        Field::opt("uri", Ty::Str),
        Field::opt("search", Ty::Strict(&Ty::List(&Ty::Str), Rule::MinItems(1))),
        Field::opt("search_dns", Ty::Bool),
        Field::opt("keyid", Ty::Str),
        Field::opt("key", Ty::Str),
        Field::opt("keyserver", Ty::Str),
    ])),
    Rule::MinItems(1),
);

/// 22.4's schema of `apt` (what `cloudboot schema` checks).
static APT_SCHEMA: Ty = Ty::Strict(
    &Ty::Map(&[
        Field::opt("preserve_sources_list", Ty::Bool),
        Field::opt("generate_mirrorlists", Ty::Bool),
        Field::opt(
            "disable_suites",
            Ty::Strict(&Ty::List(&Ty::Str), Rule::MinItems(1)),
        ),
        Field::opt("primary", MIRROR_SCHEMA_REF),
        Field::opt("security", MIRROR_SCHEMA_REF),
        Field::opt("add_apt_repo_match", Ty::Str),
        Field::opt(
            "debconf_selections",
            Ty::Strict(
                &Ty::Strict(&Ty::AnyMap, Rule::Values(&Ty::Str)),
                Rule::MinProperties(1),
            ),
        ),
        Field::opt("sources_list", Ty::Str),
        Field::opt("conf", Ty::Str),
        Field::opt("https_proxy", Ty::Str),
        Field::opt("http_proxy", Ty::Str),
        Field::opt("proxy", Ty::Str),
        Field::opt("ftp_proxy", Ty::Str),
        Field::opt(
            "sources",
            Ty::Strict(
                &Ty::AnyMap,
                Rule::Values(&Ty::Strict(
                    &Ty::Map(&[
                        Field::opt("source", Ty::Str),
                        Field::opt("keyid", Ty::Str),
                        Field::opt("key", Ty::Str),
                        Field::opt("keyserver", Ty::Str),
                        Field::opt("filename", Ty::Str),
                        Field::opt("append", Ty::Bool),
                    ]),
                    Rule::MinProperties(1),
                )),
            ),
        ),
    ]),
    Rule::MinProperties(1),
);

const MIRROR_SCHEMA_REF: Ty = Ty::Strict(&Ty::Any, Rule::As(&MIRROR_SCHEMA));

/// The `apt` keys the module reads, and their types.
static APT_BOOT: Ty = Ty::Map(&[
    Field::opt("preserve_sources_list", Ty::Bool),
    Field::opt("disable_suites", Ty::List(&Ty::Str)),
    Field::opt("primary", Ty::List(&MIRROR)),
    Field::opt("security", Ty::List(&MIRROR)),
    Field::opt("add_apt_repo_match", Ty::Str),
    Field::opt("debconf_selections", Ty::AnyMap),
    Field::opt("sources_list", Ty::Str),
    Field::opt("conf", Ty::Str),
    Field::opt("https_proxy", Ty::Str),
    Field::opt("http_proxy", Ty::Str),
    Field::opt("proxy", Ty::Str),
    Field::opt("ftp_proxy", Ty::Str),
    Field::opt("sources", Ty::OneOf(&[Ty::AnyMap, Ty::Null])),
    Field::opt("generate_mirrorlists", Ty::Bool),
]);

impl Module for AptConfigure {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn distros(&self) -> &'static [&'static str] {
        &["ubuntu", "debian"]
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let mut notes = Vec::new();
        let result = plan(ctx, &mut out.effects, &mut notes);
        for n in notes {
            out.note(n);
        }
        if let Err(e) = result {
            out.error(e);
        }
        out
    }
}

/// A warning 22.4 logs: in the log, and among the notes.
fn warn(notes: &mut Vec<String>, msg: String) {
    tracing::warn!("{msg}");
    notes.push(msg);
}

fn plan(ctx: &Context, out: &mut Vec<Effect>, notes: &mut Vec<String>) -> Result<(), ConfigError> {
    let mut warnings = Vec::new();
    let converted = convert::to_v3(ctx.cfg, &mut warnings);
    for w in warnings {
        warn(notes, w);
    }
    let apt = converted?;
    let Value::Map(map) = &apt else {
        return Err(ConfigError::new(
            "apt",
            format!(
                "Expected dictionary for 'apt' config, found {}",
                py_type(&apt)
            ),
        ));
    };
    debconf::apply(ctx, &apt, out, notes)?;

    if map.is_empty() {
        let why = if ctx.distro.snappy {
            Some("system is snappy.")
        } else if accounts::which(ctx.fs, "apt-get").is_none()
            && accounts::which(ctx.fs, "apt").is_none()
        {
            Some("no apt commands.")
        } else {
            None
        };
        if let Some(why) = why {
            notes.push(format!("Nothing to do: No apt config and {why}"));
            return Ok(());
        }
    }
    notes.push(format!("handling apt config: {}", apt.python_str_any()));
    let release = release(ctx, notes);
    let arch = ctx.distro.dpkg_architecture();
    let mirrors = mirrors::find(&apt, ctx.distro, arch, notes)?;
    let get = |k: &str| {
        mirrors
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };

    if apt
        .get("generate_mirrorlists")
        .is_some_and(py::truth::is_true)
    {
        for (suffix, which) in [("", "PRIMARY"), ("-security", "SECURITY")] {
            out.push(Effect::write(
                format!("/etc/apt/mirrors/{}{suffix}.list", ctx.distro.name),
                Data::public(format!("{}\n", get(which))),
                0o644,
            ));
        }
    } else if py::truth::is_false(
        apt.get("preserve_sources_list")
            .unwrap_or(&Value::Bool(false)),
    ) {
        // `add_mirror_keys`: the key of every primary and security entry.
        for kind in ["primary", "security"] {
            for mirror in apt.get(kind).and_then(Value::as_seq).unwrap_or(&[]) {
                sources::add_key(mirror, kind, false, out);
            }
        }
        sources::generate_sources_list(ctx, &apt, &release, &mirrors, out, notes)?;
        mirrors::rename_lists(ctx.fs, &mirrors, arch, out, notes)?;
    }

    apply_apt_config(ctx, &apt, out, notes);

    if map.contains_key("sources") {
        let mut params = mirrors.clone();
        params.push(("RELEASE".into(), release.clone()));
        params.push(("MIRROR".into(), get("MIRROR")));
        sources::add_sources(ctx, &apt, params, out, notes)?;
    }
    Ok(())
}

/// `util.lsb_release()["codename"]`: `lsb_release --all` in the root
/// reports the os-release codename; without the program, `UNAVAILABLE`.
fn release(ctx: &Context, notes: &mut Vec<String>) -> String {
    if accounts::which(ctx.fs, "lsb_release").is_none() {
        warn(
            notes,
            "Unable to get lsb_release --all: lsb_release is not in the root".into(),
        );
        return "UNAVAILABLE".into();
    }
    ctx.distro.release.codename.clone()
}

/// `apply_apt_config`: the proxy and config files, written when set,
/// removed when not.
fn apply_apt_config(ctx: &Context, apt: &Value, out: &mut Vec<Effect>, notes: &mut Vec<String>) {
    let set = |k: &str| apt.get(k).filter(|v| v.truthy()).map(Value::python_str);
    let proxies: Vec<String> = [
        ("proxy", "Acquire::http::Proxy"),
        ("http_proxy", "Acquire::http::Proxy"),
        ("ftp_proxy", "Acquire::ftp::Proxy"),
        ("https_proxy", "Acquire::https::Proxy"),
    ]
    .iter()
    .filter_map(|(k, what)| set(k).map(|v| format!("{what} \"{v}\";")))
    .collect();
    let is_file =
        |p: &str| matches!(ctx.fs.stat(Path::new(p)), Some(s) if s.kind == FileKind::File);
    if !proxies.is_empty() {
        notes.push(format!("write apt proxy info to {APT_PROXY_FN}"));
        out.push(Effect::write(
            APT_PROXY_FN,
            Data::public(proxies.join("\n") + "\n"),
            0o644,
        ));
    } else if is_file(APT_PROXY_FN) {
        out.push(Effect::Remove {
            path: APT_PROXY_FN.into(),
        });
        notes.push(format!("no apt proxy configured, removed {APT_PROXY_FN}"));
    }
    match set("conf") {
        Some(conf) => {
            notes.push(format!("write apt config info to {APT_CONFIG_FN}"));
            out.push(Effect::write(APT_CONFIG_FN, Data::public(conf), 0o644));
        }
        None if is_file(APT_CONFIG_FN) => {
            out.push(Effect::Remove {
                path: APT_CONFIG_FN.into(),
            });
            notes.push(format!("no apt config configured, removed {APT_CONFIG_FN}"));
        }
        None => {}
    }
}

/// Python's `type(value)` as `str.format` writes it.
fn py_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<class 'NoneType'>",
        Value::Bool(_) => "<class 'bool'>",
        Value::Int(_) | Value::BigInt(_) => "<class 'int'>",
        Value::Float(_) => "<class 'float'>",
        Value::Str(_) => "<class 'str'>",
        Value::Bytes(_) => "<class 'bytes'>",
        Value::Timestamp(_) => "<class 'datetime.date'>",
        Value::Seq(_) => "<class 'list'>",
        Value::Map(_) => "<class 'dict'>",
    }
}

#[cfg(test)]
mod tests;
