//! package_update_upgrade_install (`cc_package_update_upgrade_install`):
//! updates the package sources, upgrades and installs packages, once per
//! instance, in the final stage, as 22.4 does:
//!
//! - `package_update` (or the old `apt_update`), `package_upgrade` (or
//!   `apt_upgrade`) and `packages` (a name, or a list of names and
//!   `[name, version]` lists); any of them updates the sources first
//!   (`apt-get update` or `makecache`, once per instance: the distro's
//!   `update_sources` semaphore), then `upgrade` (apt's `dist-upgrade`),
//!   then `install`. A command that fails fails the module, and the ones
//!   after it still run, as 22.4 carries on past each failure.
//! - `package_reboot_if_required` (or `apt_reboot_if_required`): after an
//!   upgrade or an install, when `/var/run/reboot-required` exists, warn
//!   and run `/sbin/reboot` (22.4's `REBOOT_CMD`) on the running machine.
//!   The file is looked for when the module gets there, after the
//!   commands (a probe); a root that is not this machine's `/` gets the
//!   reboot recorded, never performed.
//!
//! The commands are the distro's (`src/distro/packages.rs`).
//! tests/fixtures/package_update_upgrade_install holds what 22.4 itself
//! does.

use tracing::Level;

use crate::module::prelude::*;

pub struct PackageUpdateUpgradeInstall;

/// 22.4's `REBOOT_FILE`.
const REBOOT_FILE: &str = "/var/run/reboot-required";

/// Whether to update, upgrade, reboot: the new key or the old one.
const UPDATE_KEYS: [&str; 2] = ["apt_update", "package_update"];
const UPGRADE_KEYS: [&str; 2] = ["package_upgrade", "apt_upgrade"];
const REBOOT_KEYS: [&str; 2] = ["apt_reboot_if_required", "package_reboot_if_required"];

/// 22.4's schema says boolean; its code reads them with
/// `get_cfg_option_bool`, which takes "yes", "on", "1" too.
const FLAG: Ty = Ty::OneOf(&[Ty::Bool, Ty::Str]);

/// 22.4's `[name, version]` entry: exactly two items (`minItems`,
/// `maxItems` 2).
fn name_and_version(v: &Value) -> Verdict {
    match v.as_seq() {
        Some(items) if items.len() != 2 => Verdict::Bad("is not valid"),
        _ => Verdict::Fine,
    }
}

static INFO: ModuleInfo = ModuleInfo {
    name: "package_update_upgrade_install",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &[
        "apt_update",
        "package_update",
        "apt_upgrade",
        "package_upgrade",
        "packages",
    ],
    keys: &[
        "packages",
        "package_update",
        "package_upgrade",
        "package_reboot_if_required",
        "apt_update",
        "apt_upgrade",
        "apt_reboot_if_required",
    ],
    schema: &[
        // A version that is a number is taken as 22.4's `%s` writes it, so
        // the entries of a `[name, version]` list are checked by the
        // package layer (which names the entry), not here.
        Field::opt(
            "packages",
            Ty::Strict(
                &Ty::OneOf(&[
                    Ty::List(&Ty::OneOf(&[Ty::Str, Ty::List(&Ty::Any)])),
                    Ty::Str,
                    Ty::Null,
                ]),
                Rule::As(&Ty::Strict(
                    &Ty::List(&Ty::OneOf(&[
                        Ty::Strict(&Ty::List(&Ty::Str), Rule::Check(name_and_version)),
                        Ty::Str,
                    ])),
                    Rule::MinItems(1),
                )),
            ),
        ),
        Field::opt("package_update", Ty::Strict(&FLAG, Rule::As(&Ty::Bool))),
        Field::opt("package_upgrade", Ty::Strict(&FLAG, Rule::As(&Ty::Bool))),
        Field::opt(
            "package_reboot_if_required",
            Ty::Strict(&FLAG, Rule::As(&Ty::Bool)),
        ),
        Field::opt("apt_update", Ty::Strict(&FLAG, Rule::As(&Ty::Bool)))
            .deprecated("Dropped after April 2027. Use ``package_update``. Default: ``false``"),
        Field::opt("apt_upgrade", Ty::Strict(&FLAG, Rule::As(&Ty::Bool)))
            .deprecated("Dropped after April 2027. Use ``package_upgrade``. Default: ``false``"),
        Field::opt(
            "apt_reboot_if_required",
            Ty::Strict(&FLAG, Rule::As(&Ty::Bool)),
        )
        .deprecated(
            "Dropped after April 2027. Use ``package_reboot_if_required``. Default: ``false``",
        ),
    ],
    summary: "update the package sources, upgrade, install packages; reboot if required",
};

impl Module for PackageUpdateUpgradeInstall {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let any = |keys: [&str; 2]| keys.iter().any(|k| ctx.cfg.get_bool(k, false));
        let (update, upgrade, reboot) = (any(UPDATE_KEYS), any(UPGRADE_KEYS), any(REBOOT_KEYS));
        // `util.get_cfg_option_list`: absent or null is none, a list its
        // items, anything else one item.
        let packages = ctx
            .cfg
            .get("packages")
            .filter(|v| !matches!(v, Value::Null));
        let has_packages = match packages {
            Some(Value::Seq(items)) => !items.is_empty(),
            other => other.is_some(),
        };

        if update || upgrade || has_packages {
            match ctx
                .distro
                .update_package_sources(ctx.fs, &ctx.sources_mark())
            {
                Ok(effects) => out.effects.extend(carry_on(effects)),
                Err(e) => {
                    // A distro without a package manager of ours: nothing
                    // after this could run either.
                    out.error(ConfigError::from(e));
                    return out;
                }
            }
        }
        if upgrade {
            match ctx.distro.package_command(ctx.fs, "upgrade", &[], &[]) {
                Ok(c) => out.effects.extend(carry_on(vec![Effect::Run(c)])),
                Err(e) => out.error(ConfigError::from(e)),
            }
        }
        if let Some(list) = packages.filter(|_| has_packages) {
            // The sources were updated above, so this is the install half of
            // `distro.install_packages`.
            match PackageSpec::list("packages", list)
                .and_then(|pkgs| ctx.distro.package_command(ctx.fs, "install", &[], &pkgs))
            {
                Ok(c) => out.effects.extend(carry_on(vec![Effect::Run(c)])),
                Err(e) => out.error(ConfigError::from(e)),
            }
        }
        if (upgrade || has_packages) && reboot {
            out.effects.push(reboot_if_required(ctx));
        }
        out
    }
}

/// 22.4 logs each failure and goes on to the next step: a failed command
/// fails the module without stopping what follows.
fn carry_on(effects: Vec<Effect>) -> Vec<Effect> {
    effects
        .into_iter()
        .map(|e| match e {
            Effect::Run(c) => Effect::Run(c.on_failure(OnFailure::Report)),
            other => other,
        })
        .collect()
}

/// The reboot when the upgrade or install left `/var/run/reboot-required`:
/// asked once the commands have run. Where nothing is asked (a plan, a
/// root that is not this machine's `/`), the file as the root has it now
/// stands for the answer.
fn reboot_if_required(ctx: &Context) -> Effect {
    // `os.path.isfile`: a file, links followed.
    let exists = matches!(
        ctx.fs.stat(std::path::Path::new(REBOOT_FILE)),
        Some(st) if st.kind == FileKind::File
    );
    Effect::Probe(Probe {
        action: HostAction {
            what: format!("check for {REBOOT_FILE}"),
            argv: vec!["test".into(), "-f".into(), REBOOT_FILE.into()],
        },
        assume: if exists { 0 } else { 1 },
        branches: vec![Branch {
            when: When::Exit(vec![0]),
            meaning: "a reboot is required: reboot".into(),
            log: vec![(
                Level::WARN,
                format!("Rebooting after upgrade or install per {REBOOT_FILE}"),
            )],
            effects: vec![Effect::Host(HostAction {
                what: "reboot".into(),
                argv: vec!["/sbin/reboot".into()],
            })],
            done: None,
        }],
        log: log_at!(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::effect::probe::Answer;
    use crate::target::Outcome;
    use serde_json::Value as J;

    /// What a plan runs, in the recorder's terms (argv and
    /// DEBIAN_FRONTEND), a probe by the branch its `assume` picks; and the
    /// warnings the taken branches log.
    fn ops(effects: &[Effect], logs: &mut Vec<String>) -> Vec<J> {
        let mut out = Vec::new();
        for e in effects {
            match e {
                Effect::Run(c) => {
                    assert_eq!(c.on_failure, OnFailure::Report);
                    let frontend = c
                        .env
                        .iter()
                        .find(|(k, _)| k == "DEBIAN_FRONTEND")
                        .map(|(_, v)| J::String(v.clone()))
                        .unwrap_or(J::Null);
                    out.push(serde_json::json!({"argv": c.argv, "frontend": frontend}));
                }
                Effect::Host(h) => out.push(serde_json::json!({"argv": h.argv, "frontend": null})),
                Effect::Probe(p) => {
                    if let Some(b) = p.branch(&Answer::NotAsked(Outcome::Planned)) {
                        logs.extend(b.log.iter().map(|(_, m)| m.clone()));
                        out.extend(ops(&b.effects, logs));
                    }
                }
                Effect::WriteFile { .. } => {}
                other => panic!("{other:?}"),
            }
        }
        out
    }

    #[test]
    fn every_recorded_case_plans_as_cloud_init_22_4_ran_it() {
        let cases: Vec<J> = serde_json::from_str(include_str!(
            "../tests/fixtures/package_update_upgrade_install/expected.json"
        ))
        .unwrap();
        let mut checked = 0;
        for case in cases.iter().filter(|c| c.get("cfg").is_some()) {
            let name = case["name"].as_str().unwrap();
            let mut kit = match case["distro"].as_str().unwrap() {
                "debian" => Kit::debian12(),
                _ => Kit::centos7(),
            };
            for b in case["bins"].as_array().into_iter().flatten() {
                kit = kit.file_mode(&format!("/usr/bin/{}", b.as_str().unwrap()), "", 0o755);
            }
            for f in case["files"].as_array().into_iter().flatten() {
                kit = kit.file(f.as_str().unwrap(), "");
            }
            let p = kit
                .cfg(&serde_json::to_string(&case["cfg"]).unwrap())
                .plan(&PackageUpdateUpgradeInstall);
            let mut logs = Vec::new();
            assert_eq!(J::Array(ops(p.effects(), &mut logs)), case["ops"], "{name}");
            // The semaphore 22.4 leaves is written.
            let sem = p
                .written()
                .iter()
                .any(|w| w.path.ends_with("instances/iid-kit/sem/update_sources"));
            assert_eq!(sem, case["sems"] != serde_json::json!([]), "{name}");
            // The warnings 22.4 logs before acting.
            let warned: Vec<&str> = case["logs"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|l| l[1].as_str().unwrap().starts_with("Rebooting"))
                .map(|l| l[1].as_str().unwrap())
                .collect();
            assert_eq!(logs, warned, "{name}");
            // The error of a malformed spec (a failed command, or the
            // reboot that does not come, shows only when it runs).
            let bad_spec = case["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("RuntimeError: Invalid"));
            match bad_spec {
                true => assert_eq!(
                    p.errors(),
                    ["packages[1]: Invalid package & version tuple."],
                    "{name}"
                ),
                false => assert!(p.errors().is_empty(), "{name}: {:?}", p.errors()),
            }
            checked += 1;
        }
        assert_eq!(checked, 33);
    }

    #[test]
    fn nothing_asked_nothing_done() {
        let p = Kit::debian12()
            .cfg("package_update: false\npackages: []\n")
            .plan(&PackageUpdateUpgradeInstall);
        assert!(p.effects().is_empty() && p.errors().is_empty(), "{p:?}");
    }

    #[test]
    fn a_distro_without_our_package_manager_is_an_error() {
        let p = Kit::with_os_release("ID=alpine\n")
            .cfg("packages: [a]\n")
            .plan(&PackageUpdateUpgradeInstall);
        assert!(p.effects().is_empty());
        assert_eq!(
            p.errors(),
            ["cloudboot does not manage packages on distro 'alpine' (cloud-init's class for it is not implemented)"]
        );
    }
}
