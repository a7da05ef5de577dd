//! keyboard (`cc_keyboard`): once per instance, in the config stage, sets
//! the keyboard layout (`Distro::set_keymap`: `localectl set-x11-keymap`,
//! and a restart of console-setup on Debian and Ubuntu). Active only when
//! `keyboard` is set; on the Arch, Debian, Red Hat and SUSE families.
//!
//! Keys, under `keyboard`: `layout` (required), `model` (default `pc105`),
//! `variant` and `options` (default empty). A missing `layout` fails the
//! module, as 22.4's `kb_cfg["layout"]` does.

use crate::module::prelude::*;

pub struct Keyboard;

/// 22.4's `DEFAULT_KEYBOARD_MODEL`.
const DEFAULT_MODEL: &str = "pc105";

static KEYBOARD: &[Field] = &[
    Field::req("layout", Ty::Str),
    Field::opt("model", Ty::Str),
    Field::opt("variant", Ty::Str),
    Field::opt("options", Ty::Str),
];

static INFO: ModuleInfo = ModuleInfo {
    name: "keyboard",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &["keyboard"],
    keys: &["keyboard"],
    schema: &[Field::opt("keyboard", Ty::Map(KEYBOARD))],
    summary: "set the keyboard layout (localectl)",
};

impl Module for Keyboard {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    /// `distros.Distro.expand_osfamily(["arch", "debian", "redhat", "suse"])`.
    fn distros(&self) -> &'static [&'static str] {
        &[
            "arch",
            "debian",
            "ubuntu",
            "almalinux",
            "amazon",
            "centos",
            "cloudlinux",
            "eurolinux",
            "fedora",
            "mariner",
            "miraclelinux",
            "openEuler",
            "openmandriva",
            "photon",
            "rhel",
            "rocky",
            "virtuozzo",
            "opensuse",
            "sles",
        ]
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let Some(kb) = ctx.cfg.get("keyboard") else {
            out.note(format!(
                "Skipping module named {}, no 'keyboard' section found",
                ctx.name
            ));
            return out;
        };
        let Some(layout) = kb.get("layout") else {
            out.error("keyboard: 'layout' is required (KeyError: 'layout')");
            return out;
        };
        let text = |key: &str, default: &str| {
            kb.get(key)
                .map(Value::python_str)
                .unwrap_or_else(|| default.to_string())
        };
        let layout = layout.python_str();
        out.note(format!("Setting keyboard layout to '{layout}'"));
        match ctx.distro.set_keymap(
            &layout,
            &text("model", DEFAULT_MODEL),
            &text("variant", ""),
            &text("options", ""),
        ) {
            Ok(commands) => out.effects.extend(
                commands
                    .into_iter()
                    .map(|argv| Effect::Run(Command::new(argv))),
            ),
            Err(e) => out.error(e),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn systemd(kit: Kit) -> Kit {
        kit.dir("/run/systemd/system")
    }

    #[test]
    fn debian_sets_the_layout_and_restarts_console_setup() {
        let p = systemd(Kit::debian12())
            .cfg("keyboard: {layout: de, variant: nodeadkeys, options: 'compose:rwin'}")
            .plan(&Keyboard);
        assert_eq!(
            p.commands(),
            [
                vec![
                    "localectl",
                    "set-x11-keymap",
                    "de",
                    "pc105",
                    "nodeadkeys",
                    "compose:rwin"
                ],
                vec!["systemctl", "restart", "console-setup"],
            ]
        );
    }

    #[test]
    fn centos_7_only_sets_the_layout() {
        let p = systemd(Kit::centos7())
            .cfg("keyboard: {layout: us}")
            .plan(&Keyboard);
        assert_eq!(
            p.commands(),
            [vec!["localectl", "set-x11-keymap", "us", "pc105", "", ""]]
        );
    }

    #[test]
    fn without_systemd_it_fails_as_22_4_does() {
        let p = Kit::debian12()
            .cfg("keyboard: {layout: us}")
            .plan(&Keyboard);
        assert!(p.effects().is_empty());
        assert!(
            p.errors()[0].contains("NotImplementedError"),
            "{:?}",
            p.errors()
        );
    }

    #[test]
    fn a_missing_layout_fails() {
        let p = systemd(Kit::debian12())
            .cfg("keyboard: {model: pc104}")
            .plan(&Keyboard);
        assert!(p.errors()[0].contains("'layout'"));
    }
}
