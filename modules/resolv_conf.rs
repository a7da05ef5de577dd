//! resolv_conf (`cc_resolv_conf`): with `manage_resolv_conf: true`, writes
//! `/etc/resolv.conf` from `resolv_conf` (nameservers, searchdomains,
//! domain, sortlist, options) exactly as cloud-init's jinja template
//! `resolv.conf.tmpl` renders it (tests/fixtures/resolv_conf holds 22.4's
//! output). Options set to `true` become flags; options set to `false` are
//! dropped, as cloud-init drops them.
//!
//! Like cloud-init, it only runs where it is verified: alpine, fedora,
//! mariner, opensuse, photon, rhel, sles, or where `unverified_modules`
//! names it. Photon and Mariner keep DNS in systemd-resolved's file, whose
//! template cloudboot does not have: the module says so and writes nothing.

use crate::module::prelude::*;

pub struct ResolvConf;

static RESOLV_CONF: &[Field] = &[
    Field::opt("nameservers", Ty::List(&Ty::Any)),
    Field::opt("searchdomains", Ty::List(&Ty::Any)),
    Field::opt("domain", Ty::Strict(&Ty::Any, Rule::As(&Ty::Str))),
    Field::opt("sortlist", Ty::List(&Ty::Any)),
    Field::opt("options", Ty::AnyMap),
];

static INFO: ModuleInfo = ModuleInfo {
    name: "resolv_conf",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &["manage_resolv_conf"],
    keys: &["manage_resolv_conf", "resolv_conf"],
    schema: &[
        Field::opt("manage_resolv_conf", Ty::Bool),
        Field::opt("resolv_conf", Ty::Map(RESOLV_CONF)),
    ],
    summary: "write /etc/resolv.conf from resolv_conf",
};

/// The template's fixed opening.
const HEADER: &str = "\
# Your system has been configured with 'manage-resolv-conf' set to true.
# As a result, cloud-init has written this file with configuration data
# that it has been provided. Cloud-init, by default, will write this file
# a single time (PER_ONCE).
#
";

impl Module for ResolvConf {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn distros(&self) -> &'static [&'static str] {
        &[
            "alpine", "fedora", "mariner", "opensuse", "photon", "rhel", "sles",
        ]
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        if !ctx.cfg.get_bool("manage_resolv_conf", false) {
            out.note(
                "Skipping module named resolv_conf, 'manage_resolv_conf' present but set to False",
            );
            return out;
        }
        let Some(params) = ctx.cfg.get("resolv_conf") else {
            out.error("manage_resolv_conf True but no parameters provided!");
            return out;
        };
        let distro = &ctx.distro.name;
        if matches!(distro.as_str(), "photon" | "mariner") {
            out.error(format!(
                "{distro} keeps DNS in /etc/systemd/resolved.conf, which cloudboot does not render"
            ));
            return out;
        }
        match render(params) {
            Ok(text) => {
                out.effects
                    .push(Effect::write("/etc/resolv.conf", Data::public(text), 0o644))
            }
            Err(e) => out.error(format!("resolv_conf: {e}")),
        }
        out
    }
}

/// The list under `key`, each item as jinja prints it; `None` when absent.
fn list(params: &Value, key: &str) -> Result<Option<Vec<String>>, ConfigError> {
    match params.get(key) {
        None => Ok(None),
        Some(Value::Seq(items)) => Ok(Some(items.iter().map(Value::python_str).collect())),
        Some(other) => Err(ConfigError::new(
            format!("resolv_conf.{key}"),
            format!("{key} must be a list, not {}", other.type_name()),
        )),
    }
}

/// `generate_resolv_conf` and the template, as 22.4 renders them (jinja
/// with `trim_blocks`, and the newline cloud-init's templater adds).
pub fn render(params: &Value) -> Result<String, ConfigError> {
    let mut text = String::from(HEADER);
    if let Some(servers) = list(params, "nameservers")? {
        for s in servers {
            text.push_str(&format!("nameserver {s}\n"));
        }
        text.push('\n');
    }
    if let Some(search) = list(params, "searchdomains")? {
        text.push_str("search ");
        for s in search {
            text.push_str(&format!("{s} "));
        }
        text.push('\n');
    }
    if let Some(domain) = params.get("domain") {
        text.push_str(&format!("domain {}\n", domain.python_str()));
    }
    if let Some(sortlist) = list(params, "sortlist")? {
        text.push_str("\nsortlist ");
        for s in sortlist {
            text.push_str(&format!("{s} "));
        }
    }
    let mut flags = Vec::new();
    let mut options: Vec<(String, String)> = Vec::new();
    match params.get("options") {
        None | Some(Value::Null) => {}
        Some(Value::Map(m)) => {
            for (k, v) in m.iter() {
                match v {
                    Value::Bool(true) => flags.push(k.python_str()),
                    Value::Bool(false) => {}
                    _ => options.push((k.python_str(), v.python_str())),
                }
            }
        }
        Some(other) => {
            return Err(ConfigError::new(
                "resolv_conf.options",
                format!("options must be a mapping, not {}", other.type_name()),
            ))
        }
    }
    // `options.items()|sort`: by key.
    options.sort();
    if !flags.is_empty() || !options.is_empty() {
        text.push_str("\noptions");
        for f in &flags {
            text.push_str(&format!(" {f}"));
        }
        for (k, v) in &options {
            text.push_str(&format!(" {k}:{v}"));
        }
    }
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every case of tests/fixtures/resolv_conf, rendered by cloud-init 22.4.
    #[test]
    fn matches_cloud_init_22_4() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/resolv_conf");
        let cases = crate::yaml::load(
            &std::fs::read(dir.join("cases.yaml")).unwrap(),
            "cases.yaml",
        )
        .unwrap();
        let mut n = 0;
        for (name, params) in cases.as_map().unwrap().iter() {
            let name = name.python_str();
            let expected = std::fs::read_to_string(dir.join(format!("{name}.expected"))).unwrap();
            assert_eq!(render(params).unwrap(), expected, "case {name}");
            n += 1;
        }
        assert_eq!(n, 7);
    }
}
