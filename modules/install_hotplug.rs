//! install_hotplug (`cc_install_hotplug`): once per instance, in the final
//! stage, installs (or removes) the udev rule that hands network hotplug
//! events to cloud-init, `/etc/udev/rules.d/10-cloud-init-hook-hotplug.rules`,
//! when the user asks for them: `updates: {network: {when: [hotplug]}}`.
//!
//! As 22.4: the rule runs `<libexecdir>/hook-hotplug` (`/usr/libexec/cloud-init`
//! when the root has it, else `/usr/lib/cloud-init`), the image's script that
//! passes the event on to `cloud-init devel hotplug-hook`; after writing or
//! removing the rule, `udevadm control --reload-rules` runs. Hotplug not
//! enabled: a rule left from before is removed; otherwise nothing happens.
//! Without `udevadm` in the root nothing is installed.

use crate::module::prelude::*;

pub struct InstallHotplug;

/// 22.4's `HOTPLUG_UDEV_PATH`.
const RULES: &str = "/etc/udev/rules.d/10-cloud-init-hook-hotplug.rules";

/// 22.4's `updates` (declared by `cc_install_hotplug`).
static UPDATES: &[Field] = &[Field::opt(
    "network",
    Ty::Map(&[Field::req(
        "when",
        Ty::List(&Ty::Strict(
            &Ty::Str,
            Rule::OneOfStrs(&["boot-new-instance", "boot-legacy", "boot", "hotplug"]),
        )),
    )]),
)];

static INFO: ModuleInfo = ModuleInfo {
    name: "install_hotplug",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &[],
    // `updates` is also the engine's (network config on boot events).
    keys: &["updates"],
    schema: &[Field::opt("updates", Ty::Map(UPDATES))],
    summary: "install the udev rule for network hotplug when updates.network.when has hotplug",
};

impl Module for InstallHotplug {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let rules = std::path::Path::new(RULES);
        // The running udev daemon's rules: with a root other than / this is
        // recorded, never done.
        let reload = || {
            Effect::Host(HostAction {
                what: "reload udev's rules".into(),
                argv: ["udevadm", "control", "--reload-rules"]
                    .map(String::from)
                    .to_vec(),
            })
        };
        if !network_event_enabled(ctx.cfg, "hotplug") {
            if ctx.fs.exists(rules) {
                out.note("Uninstalling hotplug, not enabled");
                out.effects.push(Effect::Remove { path: rules.into() });
                out.effects.push(reload());
            } else if asks_for_hotplug(ctx.cfg) {
                // Only reached when the list had an unknown event: every
                // datasource cloudboot has supports hotplug.
                let msg = "Hotplug is unsupported by current datasource. Udev rules will NOT be installed.";
                out.warn(msg);
            } else {
                out.note("Skipping hotplug install, not enabled");
            }
            return out;
        }
        if accounts::which(ctx.fs, "udevadm").is_none() {
            out.note("Skipping hotplug install, udevadm not found");
            return out;
        }
        let hook = hotplug_hook_path(ctx.fs);
        let text = format!(
            "# Installed by cloud-init due to network hotplug userdata\n\
             ACTION!=\"add|remove\", GOTO=\"cloudinit_end\"\n\
             LABEL=\"cloudinit_hook\"\n\
             SUBSYSTEM==\"net\", RUN+=\"{hook}\"\n\
             LABEL=\"cloudinit_end\"\n"
        );
        out.effects
            .push(Effect::write(RULES, Data::public(text), 0o644));
        out.effects.push(reload());
        out
    }
}

/// `"hotplug" in cfg["updates"]["network"]["when"]`, read as it is written.
fn asks_for_hotplug(cfg: &Value) -> bool {
    cfg.get("updates")
        .and_then(|u| u.get("network"))
        .and_then(|n| n.get("when"))
        .and_then(Value::as_seq)
        .is_some_and(|w| w.iter().any(|e| e.as_str() == Some("hotplug")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOTPLUG: &str = "updates: {network: {when: [boot, hotplug]}}";

    #[test]
    fn the_rule_is_written_and_udev_reloaded() {
        let p = Kit::debian12()
            .cfg(HOTPLUG)
            .file_mode("/usr/bin/udevadm", "", 0o755)
            .plan(&InstallHotplug);
        assert_eq!(
            p.file(RULES).unwrap(),
            "# Installed by cloud-init due to network hotplug userdata\n\
             ACTION!=\"add|remove\", GOTO=\"cloudinit_end\"\n\
             LABEL=\"cloudinit_hook\"\n\
             SUBSYSTEM==\"net\", RUN+=\"/usr/lib/cloud-init/hook-hotplug\"\n\
             LABEL=\"cloudinit_end\"\n"
        );
        assert_eq!(p.commands(), [["udevadm", "control", "--reload-rules"]]);
    }

    #[test]
    fn not_enabled_removes_an_old_rule() {
        let p = Kit::debian12().file(RULES, "old\n").plan(&InstallHotplug);
        assert!(matches!(&p.effects()[0], Effect::Remove { path } if path.as_os_str() == RULES));
        let p = Kit::debian12().plan(&InstallHotplug);
        assert!(p.effects().is_empty());
        assert_eq!(p.notes(), ["Skipping hotplug install, not enabled"]);
    }

    #[test]
    fn without_udevadm_nothing_is_installed() {
        let p = Kit::debian12().cfg(HOTPLUG).plan(&InstallHotplug);
        assert!(p.effects().is_empty());
    }
}
