//! fan (`cc_fan`): Ubuntu fan networking, once per instance, when `fan`
//! is set; 22.4 verifies it on ubuntu only (elsewhere `unverified_modules`
//! must list it). As 22.4 does, when `fan.config` is not empty:
//! - `config` written to `config_path` (default `/etc/network/fan`, 0644)
//!   as it is, before the package: ubuntu-fan ships that file as a
//!   conffile, which dpkg then leaves alone;
//! - `ubuntu-fan` installed through the distro's package manager unless
//!   `fanctl` is in the root's PATH;
//! - `stop_update_start`: the service stopped (a failure is a warning),
//!   the file written again with a final newline added where it lacks one,
//!   the service started (a failure is a warning), then enabled (a failure
//!   fails the module) — each through the distro's `manage_service`:
//!   `systemctl stop|start|enable ubuntu-fan`, or without systemd
//!   `service ubuntu-fan stop|start` (enable is start there).
//!
//! Where cloudboot differs: after a failed stop, 22.4 also warns
//! `success: ubuntu-fan started` when the start works; cloudboot does not.
//! tests/fixtures/wgfan holds what 22.4's handler does (make.py), and the
//! recorded case `wgfan` what a Debian boot of it does.

use tracing::Level;

use crate::module::prelude::*;

pub struct Fan;

static INFO: ModuleInfo = ModuleInfo {
    name: "fan",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &["fan"],
    keys: &["fan"],
    schema: &[Field::opt(
        "fan",
        Ty::Map(&[
            Field::req("config", Ty::Str),
            Field::opt("config_path", Ty::Str),
        ]),
    )],
    summary: "write /etc/network/fan, install ubuntu-fan, restart and enable its service",
};

/// 22.4's `BUILTIN_CFG["config_path"]`.
const CONFIG_PATH: &str = "/etc/network/fan";
const SERVICE: &str = "ubuntu-fan";

impl Module for Fan {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn distros(&self) -> &'static [&'static str] {
        &["ubuntu"]
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        // `mergemanydict([cfgin, BUILTIN_CFG])`: the user's keys win.
        let fan = ctx.cfg.get("fan").filter(|v| v.truthy());
        let get = |k: &str| fan.and_then(|f| f.get(k)).filter(|v| !v.is_null());
        let Some(config) = get("config").filter(|c| c.truthy()) else {
            out.note(format!("{}: no 'fan' config entry. disabling", ctx.name));
            return out;
        };
        let config = config.python_str_any();
        let config_path = get("config_path")
            .map(Value::python_str_any)
            .unwrap_or_else(|| CONFIG_PATH.into());

        out.effects.push(Effect::write(
            config_path.as_str(),
            Data::public(config.as_bytes()),
            0o644,
        ));
        if accounts::which(ctx.fs, "fanctl").is_none() {
            match ctx.distro.install_packages(
                ctx.fs,
                &ctx.sources_mark(),
                &[PackageSpec::name(SERVICE)],
            ) {
                Ok(effects) => out.effects.extend(effects),
                Err(e) => {
                    out.error(ConfigError::from(e));
                    return out;
                }
            }
        }

        // `stop_update_start`.
        out.effects.push(warn_on_failure(ctx, "stop"));
        let mut content = config;
        if !content.ends_with('\n') {
            content.push('\n');
        }
        out.effects.push(Effect::write(
            config_path.as_str(),
            Data::public(content.into_bytes()),
            0o644,
        ));
        out.effects.push(warn_on_failure(ctx, "start"));
        let argv = ctx.distro.manage_service("enable", SERVICE);
        out.effects.push(Effect::Host(HostAction {
            what: format!("enable {SERVICE} ({})", argv.join(" ")),
            argv,
        }));
        out
    }
}

/// `distro.manage_service(action, "ubuntu-fan")`, whose failure 22.4 logs
/// as a warning (`failed to stop ubuntu-fan: ...`) and goes on.
fn warn_on_failure(ctx: &Context, action: &str) -> Effect {
    let argv = ctx.distro.manage_service(action, SERVICE);
    Effect::Probe(Probe {
        action: HostAction {
            what: format!("{action} {SERVICE} ({})", argv.join(" ")),
            argv,
        },
        assume: 0,
        branches: vec![
            Branch {
                when: When::Exit(vec![0]),
                meaning: format!("{action}: done"),
                log: Vec::new(),
                effects: Vec::new(),
                done: None,
            },
            Branch {
                when: When::Otherwise,
                meaning: format!("{action} failed: a warning, the module goes on"),
                log: vec![(
                    Level::WARN,
                    format!("failed to {action} {SERVICE}: {PROBE_ERROR}"),
                )],
                effects: Vec::new(),
                done: None,
            },
        ],
        log: log_at!(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::shared::handler_events::{cases, events, kit, theirs};

    /// Every case of tests/fixtures/wgfan for this module against what
    /// 22.4's handler did (a failed stop or start: the same plan, the
    /// warning 22.4 logged taken by the probe's other branch).
    #[test]
    fn every_case_does_what_the_handler_did() {
        let mut problems = Vec::new();
        for case in cases("fan") {
            let name = case["name"].as_str().unwrap();
            let p = kit(&case).plan(&Fan);
            let ours = events(p.effects());
            let theirs = theirs(&case);
            if !p.errors().is_empty() || ours != theirs {
                problems.push(format!(
                    "{name}: {:?}\nours   {}\n22.4's {}",
                    p.errors(),
                    serde_json::to_string(&ours).unwrap(),
                    serde_json::to_string(&theirs).unwrap()
                ));
            }
            for w in case["warnings"].as_array().unwrap() {
                let w = w.as_str().unwrap();
                let prefix = &w[..w.find(": ").unwrap() + 2];
                let logged = p.effects().iter().any(|e| match e {
                    Effect::Probe(pr) => pr.branches.iter().any(|b| {
                        b.when == When::Otherwise
                            && b.log.iter().any(|(l, m)| {
                                *l == Level::WARN && *m == format!("{prefix}{PROBE_ERROR}")
                            })
                    }),
                    _ => false,
                });
                if !logged {
                    problems.push(format!("{name}: no branch warns {prefix:?}"));
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
