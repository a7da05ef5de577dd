//! wireguard (`cc_wireguard`): WireGuard interfaces from cloud-config,
//! once per instance, when `wireguard` is set; 22.4 verifies it on ubuntu
//! only (elsewhere `unverified_modules` must list it). As 22.4 does:
//! - `wireguard-tools` installed through the distro's package manager
//!   (sources updated first) unless `wg` is in the root's PATH, with
//!   `wireguard` (the DKMS module) too on a kernel older than 5.6
//!   (`util.kernel_version()`: the running kernel's release, read from
//!   `/proc/sys/kernel/osrelease`; unknown counts as new);
//! - the `wireguard` kernel module loaded (`modprobe wireguard`, an action
//!   on the running kernel) unless `lsmod` lists it (what lsmod reads,
//!   `/proc/modules`; unreadable counts as not loaded);
//! - each of `wireguard.interfaces` in turn: `content` written to
//!   `config_path` (0600, a secret: it holds the private key), then
//!   `wg-quick@<name>` enabled and started through the distro's
//!   `manage_service` (`systemctl enable|start`, or `service NAME start`
//!   without systemd);
//! - then each `readinessprobe` run through `/bin/sh -c` in order; every
//!   one runs, and any that fails fails the module.
//!
//! Where cloudboot differs: every interface is checked (22.4's
//! `supplemental_schema_validation`, its message) before anything is done,
//! where 22.4 installs, loads and sets up the interfaces before the bad one;
//! `wireguard: null` fails at once (22.4 installs first, then fails on a
//! `TypeError`). A failed `modprobe`, `enable` or `start` fails the module
//! and the steps after it still run (22.4 stops there); a failed probe is
//! reported as cloudboot reports a failed command, not in 22.4's one
//! `Failed running readinessprobe command:` message.
//! tests/fixtures/wgfan holds what 22.4's handler does (make.py), and the
//! recorded case `wgfan` what a Debian boot of it does.

use std::path::Path;

use crate::module::prelude::*;

pub struct Wireguard;

/// 22.4's schema: `type: [null, object]`, `interfaces` required.
static INFO: ModuleInfo = ModuleInfo {
    name: "wireguard",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &["wireguard"],
    keys: &["wireguard"],
    schema: &[Field::opt(
        "wireguard",
        Ty::Strict(
            &Ty::OneOf(&[
                Ty::Null,
                Ty::Strict(
                    &Ty::Map(&[
                        Field::req(
                            "interfaces",
                            Ty::Strict(
                                &Ty::List(&Ty::Map(&[
                                    Field::opt("name", Ty::Str),
                                    Field::opt("config_path", Ty::Str),
                                    Field::opt("content", Ty::Str),
                                ])),
                                Rule::MinItems(1),
                            ),
                        ),
                        Field::opt("readinessprobe", Ty::List(&Ty::Str)),
                    ]),
                    Rule::MinProperties(1),
                ),
            ]),
            Rule::TypeList,
        ),
    )],
    summary: "write WireGuard configs (0600), install wireguard-tools, start wg-quick@ units, run readiness probes",
};

/// 22.4's `WG_CONFIG_FILE_MODE`.
const WG_CONFIG_FILE_MODE: u32 = 0o600;
/// 22.4's `MIN_KERNEL_VERSION`: older kernels need the DKMS module.
const MIN_KERNEL_VERSION: (u32, u32) = (5, 6);
/// 22.4's `REQUIRED_WG_INT_KEYS`, sorted as its message sorts them.
const REQUIRED_WG_INT_KEYS: [&str; 3] = ["config_path", "content", "name"];

/// One checked entry of `wireguard.interfaces`.
struct Interface {
    name: String,
    config_path: String,
    content: String,
}

impl Module for Wireguard {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn distros(&self) -> &'static [&'static str] {
        &["ubuntu"]
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let Some(section) = ctx.cfg.get("wireguard") else {
            out.note(format!(
                "Skipping module named {}, no 'wireguard' configuration found",
                ctx.name
            ));
            return out;
        };
        let (interfaces, probes) = match check(section) {
            Ok(checked) => checked,
            Err(e) => {
                out.error(format!("{e} (nothing done)"));
                return out;
            }
        };

        // `maybe_install_wireguard_packages`.
        if accounts::which(ctx.fs, "wg").is_none() {
            let mut packages = vec![PackageSpec::name("wireguard-tools")];
            if kernel_version(ctx.fs).is_some_and(|v| v < MIN_KERNEL_VERSION) {
                packages.push(PackageSpec::name("wireguard"));
            }
            let mark = ctx.sources_mark();
            // 22.4 updates the sources itself, then installs (which on
            // Debian would update again, were it not once per instance).
            let planned = ctx
                .distro
                .update_package_sources(ctx.fs, &mark)
                .and_then(|update| {
                    let install = ctx.distro.install_packages(ctx.fs, &mark, &packages)?;
                    let mut all = update.clone();
                    all.extend(install.into_iter().filter(|e| !update.contains(e)));
                    Ok(all)
                });
            match planned {
                Ok(effects) => out.effects.extend(effects),
                Err(e) => {
                    out.error(ConfigError::from(e));
                    return out;
                }
            }
        }

        // `load_wireguard_kernel_module`: lsmod's list is /proc/modules.
        let loaded = ctx
            .fs
            .read_string(Path::new("/proc/modules"))
            .is_some_and(|m| m.contains("wireguard"));
        if !loaded {
            out.effects.push(Effect::Host(HostAction {
                what: "load the wireguard kernel module (modprobe wireguard)".into(),
                argv: vec!["modprobe".into(), "wireguard".into()],
            }));
        }

        for wg in &interfaces {
            out.effects.push(Effect::write(
                wg.config_path.as_str(),
                Data::secret(wg.content.as_bytes()),
                WG_CONFIG_FILE_MODE,
            ));
            for action in ["enable", "start"] {
                let unit = format!("wg-quick@{}", wg.name);
                let argv = ctx.distro.manage_service(action, &unit);
                out.effects.push(Effect::Host(HostAction {
                    what: format!("{action} {unit} ({})", argv.join(" ")),
                    argv,
                }));
            }
        }

        // `readinessprobe`: all run, any failure fails the module.
        for probe in probes {
            out.effects.push(Effect::Run(
                Command::new(["/bin/sh".to_string(), "-c".into(), probe])
                    .on_failure(OnFailure::Report),
            ));
        }
        out
    }
}

/// 22.4's `supplemental_schema_validation` on every interface and
/// `readinessprobe_command_validation`, with their messages.
fn check(section: &Value) -> Result<(Vec<Interface>, Vec<String>), String> {
    let Value::Map(section) = section else {
        return Err(format!(
            "wireguard: expected a mapping with 'interfaces', got {}",
            section.type_name()
        ));
    };
    let Some(Value::Seq(list)) = section.get("interfaces") else {
        return Err("wireguard.interfaces: expected a list of interfaces".into());
    };
    let mut interfaces = Vec::new();
    for (i, wg_int) in list.iter().enumerate() {
        let Value::Map(wg_int) = wg_int else {
            return Err(format!(
                "wireguard.interfaces[{i}]: expected a mapping, got {}",
                wg_int.type_name()
            ));
        };
        let mut errors = Vec::new();
        let missing: Vec<&str> = REQUIRED_WG_INT_KEYS
            .into_iter()
            .filter(|k| wg_int.get(k).is_none())
            .collect();
        if !missing.is_empty() {
            errors.push(format!(
                "Missing required wg:interfaces keys: {}",
                missing.join(", ")
            ));
        }
        // `sorted(wg_int.items())`: the three keys in name order.
        for key in REQUIRED_WG_INT_KEYS {
            match wg_int.get(key) {
                Some(Value::Str(_)) | None => {}
                Some(v) => errors.push(format!(
                    "Expected a string for wg:interfaces:{key}. Found {}",
                    v.python_str_any()
                )),
            }
        }
        if !errors.is_empty() {
            return Err(format!(
                "Invalid wireguard interface configuration:\n{}",
                errors.join("\n")
            ));
        }
        let get = |k: &str| wg_int.get(k).and_then(Value::as_str).unwrap_or_default();
        interfaces.push(Interface {
            name: get("name").to_string(),
            config_path: get("config_path").to_string(),
            content: get("content").to_string(),
        });
    }
    let probes = match section.get("readinessprobe") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Seq(items)) => {
            // 22.4 counts only the bad entries in `at {pos}`.
            let bad: Vec<String> = items
                .iter()
                .filter(|c| !matches!(c, Value::Str(_)))
                .enumerate()
                .map(|(pos, c)| {
                    format!(
                        "Expected a string for readinessprobe at {pos}. Found {}",
                        c.python_str_any()
                    )
                })
                .collect();
            if !bad.is_empty() {
                return Err(format!(
                    "Invalid readinessProbe commands:\n{}",
                    bad.join("\n")
                ));
            }
            items.iter().map(Value::python_str).collect()
        }
        Some(other) => {
            return Err(format!(
                "wireguard.readinessprobe: expected a list of commands, got {}",
                other.type_name()
            ))
        }
    };
    Ok((interfaces, probes))
}

/// `util.kernel_version()`: the first two numbers of the running kernel's
/// release, if it can be read.
fn kernel_version(fs: &dyn FsView) -> Option<(u32, u32)> {
    let release = fs.read_string(Path::new("/proc/sys/kernel/osrelease"))?;
    let mut parts = release.trim().split('.');
    let major = parts.next()?.parse().ok()?;
    let minor: String = parts
        .next()?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some((major, minor.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::shared::handler_events::{cases, events, kit, theirs};

    /// Every case of tests/fixtures/wgfan for this module against what
    /// 22.4's handler did. Where a command of 22.4's failed, the plan is
    /// the same as without the failure (the target meets it); where 22.4's
    /// checks failed, cloudboot fails with the same message, having done
    /// nothing.
    #[test]
    fn every_case_does_what_the_handler_did() {
        let mut problems = Vec::new();
        for case in cases("wireguard") {
            let name = case["name"].as_str().unwrap();
            let p = kit(&case).plan(&Wireguard);
            let failing = case["opts"]["fail"].is_array();
            match case["error"].as_str() {
                Some(e) if e.starts_with("ValueError: ") => {
                    let want = format!("{} (nothing done)", &e["ValueError: ".len()..]);
                    if p.errors() != [want.clone()] || !p.effects().is_empty() {
                        problems.push(format!("{name}: {:?}, want {want:?}", p.errors()));
                    }
                }
                Some(e) if !failing => {
                    if p.errors().is_empty() || !p.effects().is_empty() {
                        problems.push(format!("{name}: 22.4 failed ({e}); ours {:?}", p.errors()));
                    }
                }
                _ => {
                    if !p.errors().is_empty() {
                        problems.push(format!("{name}: {:?}", p.errors()));
                    }
                    let ours = events(p.effects());
                    let theirs = theirs(&case);
                    // A failed command stopped 22.4's run: its events are
                    // the start of ours.
                    let same = match failing && case["error"].is_string() {
                        true => ours.starts_with(&theirs),
                        false => ours == theirs,
                    };
                    if !same {
                        problems.push(format!(
                            "{name}:\nours   {}\n22.4's {}",
                            serde_json::to_string(&ours).unwrap(),
                            serde_json::to_string(&theirs).unwrap()
                        ));
                    }
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn private_keys_stay_out_of_plans_and_probes_fail_the_module() {
        let p = Kit::debian12()
            .cfg("wireguard:\n  interfaces:\n    - {name: wg0, config_path: /etc/wireguard/wg0.conf, content: 'PrivateKey = s3cretkey'}\n  readinessprobe: ['true']\n")
            .plan(&Wireguard);
        assert!(p.errors().is_empty(), "{:?}", p.errors());
        for e in p.effects() {
            assert!(!format!("{} {}", e.summary(), e.to_json()).contains("s3cretkey"));
        }
        let probe = p
            .effects()
            .iter()
            .find_map(|e| match e {
                Effect::Run(c) if c.argv[0] == "/bin/sh" => Some(c),
                _ => None,
            })
            .unwrap();
        assert_eq!(probe.on_failure, OnFailure::Report);
    }

    #[test]
    fn absent_or_null() {
        let p = Kit::debian12().cfg("x: 1\n").plan(&Wireguard);
        assert!(p.effects().is_empty() && p.errors().is_empty());
        let p = Kit::debian12().cfg("wireguard: null\n").plan(&Wireguard);
        assert!(p.effects().is_empty());
        assert_eq!(
            p.errors(),
            ["wireguard: expected a mapping with 'interfaces', got NoneType (nothing done)"]
        );
    }

    #[test]
    fn kernel_versions() {
        let k = |r: &str| kernel_version(&Kit::debian12().file("/proc/sys/kernel/osrelease", r).fs);
        assert_eq!(k("6.1.0-28-amd64\n"), Some((6, 1)));
        assert_eq!(k("5.4.0\n"), Some((5, 4)));
        assert_eq!(k("6.18.44-fc-v1272\n"), Some((6, 18)));
        assert_eq!(kernel_version(&Kit::debian12().fs), None);
    }
}
