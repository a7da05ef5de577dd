//! ca_certs (`cc_ca_certs`): adds trusted CA certificates and can remove
//! the distro's defaults, once per instance, on Alpine, Debian, Ubuntu and
//! RHEL (22.4's `distros`), when `ca_certs` (or the deprecated `ca-certs`)
//! is set. As 22.4 does: `remove_defaults` (or the deprecated
//! `remove-defaults`; Python's truth of the value) empties the certificate
//! and bundle directories, empties the config file and, on Debian and
//! Ubuntu, tells debconf not to trust new packages' certificates; `trusted`
//! (a list, or one string) is written, joined by newlines, to cloud-init's
//! own certificate file, which the config file then names (last, once);
//! the bundle is rebuilt every time. Where things are and what rebuilds
//! the bundle is the distro's (`src/distro/ca_certs.rs`: Debian's
//! `update-ca-certificates` layout, RHEL's `update-ca-trust`). On RHEL,
//! `remove_defaults` fails the module after emptying the directories, as
//! 22.4 fails (it writes its config file, which RHEL does not have).
//! tests/fixtures/ca_certs holds what 22.4 itself does.

use std::path::Path;

use crate::module::prelude::*;

pub struct CaCerts;

static CA_CERTS_KEYS: &[Field] = &[
    Field::opt("remove_defaults", Ty::Any),
    Field::opt("remove-defaults", Ty::Any),
    Field::opt(
        "trusted",
        Ty::OneOf(&[Ty::List(&Ty::Any), Ty::Str, Ty::Null]),
    ),
];

/// 22.4's `ca_certs.properties`.
static CA_CERTS_SCHEMA: &[Field] = &[
    Field::opt("remove_defaults", Ty::Bool),
    Field::opt("remove-defaults", Ty::Bool)
        .deprecated("Dropped after April 2027. Use ``remove_defaults``."),
    Field::opt(
        "trusted",
        Ty::Strict(&Ty::List(&Ty::Str), Rule::MinItems(1)),
    ),
];

/// `ca_certs.properties` itself: at least one key.
static CA_CERTS_SCHEMA_MAP: Ty = Ty::Strict(&Ty::Map(CA_CERTS_SCHEMA), Rule::MinProperties(1));

static INFO: ModuleInfo = ModuleInfo {
    name: "ca_certs",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &["ca_certs", "ca-certs"],
    keys: &["ca_certs", "ca-certs"],
    schema: &[
        Field::opt(
            "ca_certs",
            Ty::Strict(&Ty::Map(CA_CERTS_KEYS), Rule::As(&CA_CERTS_SCHEMA_MAP)),
        ),
        Field::opt(
            "ca-certs",
            Ty::Strict(&Ty::Map(CA_CERTS_KEYS), Rule::As(&CA_CERTS_SCHEMA_MAP)),
        )
        .deprecated("Dropped after April 2027. Use ``ca_certs``."),
    ],
    summary: "add trusted CA certificates (ca_certs.trusted), remove the defaults",
};

impl Module for CaCerts {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn distros(&self) -> &'static [&'static str] {
        &["alpine", "debian", "ubuntu", "rhel"]
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let cfg = ctx.cfg;
        let deprecated = cfg.get("ca-certs");
        if deprecated.is_some() {
            out.warn("DEPRECATION: key 'ca-certs' is now deprecated. Use 'ca_certs' instead.");
        } else if cfg.get("ca_certs").is_none() {
            out.note(format!(
                "Skipping module named {}, no 'ca_certs' key in configuration",
                ctx.name
            ));
            return out;
        }
        if deprecated.is_some() && cfg.get("ca_certs").is_some() {
            out.warn(
                "Found both ca-certs (deprecated) and ca_certs config keys. Ignoring ca-certs.",
            );
        }
        let Some(certs_cfg) = cfg.get("ca_certs").or(deprecated).and_then(Value::as_map) else {
            out.error("argument of type 'NoneType' is not iterable");
            return out;
        };
        let layout = ctx.distro.ca_certs();
        // The config file as this run leaves it so far (`remove_defaults`
        // empties it before the certificates are added).
        let mut config_text: Option<String> = None;

        let remove = if certs_cfg.contains_key("remove-defaults") {
            out.warn(
                "DEPRECATION: key 'ca-certs.remove-defaults' is now deprecated. \
                 Use 'ca_certs.remove_defaults' instead.",
            );
            certs_cfg.get("remove-defaults")
        } else {
            certs_cfg.get("remove_defaults")
        };
        if remove.is_some_and(Value::truthy) {
            out.note("Removing default certificates");
            for dir in [layout.cert_path, layout.system_path] {
                // `util.delete_dir_contents`.
                match ctx.fs.list_dir(Path::new(dir)) {
                    Ok(names) => out
                        .effects
                        .extend(names.into_iter().map(|n| Effect::Remove {
                            path: Path::new(dir).join(n),
                        })),
                    Err(_) => {
                        out.error(format!("[Errno 2] No such file or directory: '{dir}'"));
                        return out;
                    }
                }
            }
            let Some(config) = layout.config else {
                out.error("argument of type 'NoneType' is not iterable");
                return out;
            };
            out.effects
                .push(Effect::write(config, Data::public(""), 0o644));
            config_text = Some(String::new());
            out.effects
                .extend(ctx.distro.ca_certs_distrust_new().map(Effect::Run));
        }

        if let Some(trusted) = certs_cfg.get("trusted") {
            // `util.get_cfg_option_list`: a list, one value, or nothing.
            let certs: Vec<String> = match trusted {
                Value::Null => Vec::new(),
                Value::Seq(items) => items.iter().map(Value::python_str_any).collect(),
                one => vec![one.python_str_any()],
            };
            if !certs.is_empty() {
                out.note(format!("Adding {} certificates", certs.len()));
                out.effects.push(Effect::write(
                    layout.full_path(),
                    Data::public(certs.join("\n")),
                    0o644,
                ));
                if let Some(config) = layout.config {
                    let current = config_text
                        .clone()
                        .or_else(|| ctx.fs.read_string(Path::new(config)));
                    let Some(current) = current else {
                        out.error(format!("[Errno 2] No such file or directory: '{config}'"));
                        return out;
                    };
                    out.effects.push(Effect::write(
                        config,
                        Data::public(naming(&current, layout.cert_filename)),
                        0o644,
                    ));
                }
            }
        }

        out.note("Updating certificates");
        out.effects.push(Effect::Run(layout.update_command()));
        out
    }
}

/// `update_cert_config`: the config file with cloud-init's certificate
/// named once, last (the other lines kept, trailing blanks dropped: a blank
/// line would hide the entries after it).
fn naming(current: &str, filename: &str) -> String {
    if current.is_empty() {
        return format!("{filename}\n");
    }
    let kept: Vec<&str> = py::str::splitlines(current)
        .into_iter()
        .filter(|l| *l != filename)
        .collect();
    let kept = kept.join("\n");
    format!("{}\n{filename}\n", kept.trim_end_matches(py::str::is_space))
}

#[cfg(test)]
mod tests {
    use super::*;

    include!("../tests/fixtures/repo_modules/recorded.rs");

    #[test]
    fn every_recorded_case_plans_as_cloud_init_22_4_ran_it() {
        check_recorded(
            include_str!("../tests/fixtures/ca_certs/expected.json"),
            &CaCerts,
            29,
        );
    }

    #[test]
    fn debian_adds_a_certificate_and_rebuilds_the_bundle() {
        let p = Kit::debian12()
            .file("/etc/ca-certificates.conf", "mozilla/A.crt\n")
            .cfg("ca_certs:\n  trusted:\n  - CERT\n")
            .plan(&CaCerts);
        assert_eq!(
            p.file("/usr/share/ca-certificates/cloud-init-ca-certs.crt")
                .as_deref(),
            Some("CERT")
        );
        assert_eq!(
            p.file("/etc/ca-certificates.conf").as_deref(),
            Some("mozilla/A.crt\ncloud-init-ca-certs.crt\n")
        );
        assert_eq!(p.commands(), [vec!["update-ca-certificates"]]);
    }
}
