//! spacewalk (`cc_spacewalk`): registers the system with a Spacewalk
//! server, once per instance, when `spacewalk` is set, on the distros 22.4
//! names (`rhel`, `fedora`). As 22.4 does: nothing without
//! `spacewalk.server`; else `rhn-setup` is installed through the distro's
//! package manager (`Distro::install_packages`), `rhn-profile-sync
//! --verbose` asks whether the system is registered (a probe: exit 0, it
//! is; exit 1, it is not), and an unregistered system runs `rhnreg_ks
//! --serverUrl https://<server>/XMLRPC --profilename <fqdn>` with
//! `--proxy` (`spacewalk.proxy`), `--sslCACert
//! /usr/share/rhn/RHN-ORG-TRUSTED-SSL-CERT` and `--activationkey`
//! (`spacewalk.activation_key`, a secret argument: plans and logs show
//! `<redacted>`). The profile name is the instance's fully qualified name
//! (`DataSource.get_hostname(fqdn=True)`).
//!
//! Where cloudboot differs: another exit code of `rhn-profile-sync` makes
//! 22.4 fail the module; cloudboot logs it as an error and registers
//! nothing, and the module does not fail. Where the probe is not asked (a
//! plan, a root that is not this machine's `/`), the system is taken as not
//! registered, a first boot's state.
//! tests/fixtures/spacewalk holds what 22.4 itself does.

use tracing::Level;

use crate::module::prelude::*;

pub struct Spacewalk;

static SPACEWALK_KEYS: &[Field] = &[
    Field::opt("server", Ty::Strict(&Ty::Any, Rule::As(&Ty::Str))),
    Field::opt("proxy", Ty::Strict(&Ty::Any, Rule::As(&Ty::Str))),
    // A secret: `schema` checks 22.4's type without quoting the value.
    Field::opt(
        "activation_key",
        Ty::Strict(&Ty::Any, Rule::Secret(&Ty::Str)),
    ),
];

static INFO: ModuleInfo = ModuleInfo {
    name: "spacewalk",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &["spacewalk"],
    keys: &["spacewalk"],
    schema: &[Field::opt("spacewalk", Ty::Map(SPACEWALK_KEYS))],
    summary: "register with a Spacewalk server (rhnreg_ks), installing rhn-setup",
};

/// 22.4's `required_packages`.
const REQUIRED_PACKAGE: &str = "rhn-setup";
/// 22.4's `def_ca_cert_path`.
const CA_CERT_PATH: &str = "/usr/share/rhn/RHN-ORG-TRUSTED-SSL-CERT";

impl Module for Spacewalk {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn distros(&self) -> &'static [&'static str] {
        &["rhel", "fedora"]
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let Some(cfg) = ctx.cfg.get("spacewalk") else {
            out.note(format!(
                "Skipping module named {}, no 'spacewalk' key in configuration",
                ctx.name
            ));
            return out;
        };
        let server = match cfg.get("server") {
            Some(s) if s.truthy() => s.python_str_any(),
            _ => {
                out.note(format!(
                    "Skipping module named {}, 'spacewalk/server' key was not found in configuration",
                    ctx.name
                ));
                return out;
            }
        };
        // Needed before anything else works.
        match ctx.distro.install_packages(
            ctx.fs,
            &ctx.sources_mark(),
            &[PackageSpec::name(REQUIRED_PACKAGE)],
        ) {
            Ok(effects) => out.effects.extend(effects),
            Err(e) => {
                out.error(ConfigError::from(e));
                return out;
            }
        }
        let profile = ctx
            .distro
            .datasource_hostname(ctx.instance, ctx.fs, true, false)
            .0
            .unwrap_or_default();
        // `do_register`: options given when set (`if proxy:`).
        let set = |k: &str| cfg.get(k).filter(|v| v.truthy()).map(Value::python_str_any);
        let mut argv = vec![
            "rhnreg_ks".to_string(),
            "--serverUrl".into(),
            format!("https://{server}/XMLRPC"),
            "--profilename".into(),
            profile.clone(),
        ];
        if let Some(proxy) = set("proxy") {
            argv.extend(["--proxy".to_string(), proxy]);
        }
        argv.extend(["--sslCACert".to_string(), CA_CERT_PATH.to_string()]);
        let mut register = Command::new(argv);
        if let Some(key) = set("activation_key") {
            register.argv.push("--activationkey".into());
            register = register.secret_arg(key);
        }
        out.effects.push(Effect::Probe(Probe {
            action: HostAction {
                what: "ask rhn-profile-sync whether the system is registered".into(),
                argv: vec!["rhn-profile-sync".into(), "--verbose".into()],
            },
            // A first boot's image is not registered.
            assume: 1,
            branches: vec![
                Branch {
                    when: When::Exit(vec![0]),
                    meaning: "registered: nothing to do".into(),
                    log: Vec::new(),
                    effects: Vec::new(),
                    done: None,
                },
                Branch {
                    when: When::Exit(vec![1]),
                    meaning: "not registered: rhnreg_ks".into(),
                    log: vec![(
                        Level::INFO,
                        format!(
                            "Registering using `rhnreg_ks` profile '{profile}' into server '{server}'"
                        ),
                    )],
                    effects: vec![Effect::Run(register)],
                    done: None,
                },
                Branch {
                    when: When::Otherwise,
                    meaning: "rhn-profile-sync failed: nothing registered".into(),
                    log: vec![(Level::ERROR, format!("rhn-profile-sync --verbose: {PROBE_ERROR}"))],
                    effects: Vec::new(),
                    done: None,
                },
            ],
            log: log_at!(),
        }));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    include!("../tests/fixtures/repo_modules/recorded.rs");

    #[test]
    fn every_recorded_case_plans_as_cloud_init_22_4_ran_it() {
        // rhn-profile-sync's other exit codes fail 22.4's module, not
        // cloudboot's (see the module's text).
        check_recorded_except(
            include_str!("../tests/fixtures/spacewalk/expected.json"),
            &Spacewalk,
            6,
            &["rhel-sync-breaks"],
        );
    }

    #[test]
    fn the_activation_key_is_never_shown() {
        let p = Kit::with_os_release("ID=rhel\n")
            .cfg("spacewalk:\n  server: sw.example\n  activation_key: 1-s3cret\n")
            .plan(&Spacewalk);
        let probe = p.effects().last().unwrap();
        let shown = format!("{} {}", probe.summary(), probe.to_json());
        assert!(!shown.contains("s3cret"), "{shown}");
        let Effect::Probe(probe) = probe else {
            panic!("{probe:?}")
        };
        let Effect::Run(register) = &probe.branches[1].effects[0] else {
            panic!("{probe:?}")
        };
        assert_eq!(register.argv.last().map(String::as_str), Some("1-s3cret"));
        assert!(register.display().ends_with("--activationkey <redacted>"));
    }
}
