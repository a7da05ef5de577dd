//! byobu (`cc_byobu`): once per instance, in the config stage, on Debian
//! and Ubuntu, turns byobu's launch at login on or off, for the system
//! (debconf `byobu/launch-by-default` and `dpkg-reconfigure byobu`) and/or
//! the default user (`byobu-launcher-install`/`-uninstall` as that user).
//!
//! `byobu_by_default` (or the module's first argument): `enable-user`,
//! `enable-system`, `enable` (`user` and `system` mean the enable forms),
//! `disable-user`, `disable-system`, `disable`. As 22.4: any `enable`
//! form also sets the system default; another value is warned about and
//! still acted on as its prefix and suffix say. The commands run as one
//! `sh -c` inside the root that counts failures and exits with the count,
//! so one failing step does not stop the other.

use crate::module::prelude::*;

pub struct Byobu;

const VALUES: &[&str] = &[
    "enable-system",
    "enable-user",
    "disable-system",
    "disable-user",
    "enable",
    "disable",
    "user",
    "system",
];

static INFO: ModuleInfo = ModuleInfo {
    name: "byobu",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &[],
    keys: &["byobu_by_default"],
    schema: &[Field::opt(
        "byobu_by_default",
        Ty::Strict(&Ty::Enum(VALUES), Rule::OneOfStrs(VALUES)),
    )],
    summary: "enable or disable byobu at login, system-wide or for the default user",
};

impl Module for Byobu {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn distros(&self) -> &'static [&'static str] {
        &["ubuntu", "debian"]
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let mut value = match ctx.args.first() {
            Some(arg) => arg.clone(),
            None => ctx
                .cfg
                .get("byobu_by_default")
                .map(Value::python_str)
                .unwrap_or_default(),
        };
        if value.is_empty() {
            out.note(format!(
                "Skipping module named {}, no 'byobu' values found",
                ctx.name
            ));
            return out;
        }
        if value == "user" || value == "system" {
            value = format!("enable-{value}");
        }
        if !VALUES[..6].contains(&value.as_str()) {
            tracing::warn!("Unknown value {value} for byobu_by_default");
        }
        let mut mod_user = value.ends_with("-user");
        let mut mod_sys = value.ends_with("-system");
        let (bl_inst, dc_val) = if value.starts_with("enable") {
            mod_sys = true;
            ("install", "byobu byobu/launch-by-default boolean true")
        } else {
            if value == "disable" {
                mod_user = true;
                mod_sys = true;
            }
            ("uninstall", "byobu byobu/launch-by-default boolean false")
        };
        let mut shcmd = String::new();
        if mod_user {
            let user = normalize_users_groups(ctx.cfg)
                .ok()
                .and_then(|u| u.default_user());
            match user {
                None => tracing::warn!(
                    "No default byobu user provided, can not launch {bl_inst} for the default user"
                ),
                Some((user, _)) => {
                    shcmd += &format!(" sudo -Hu \"{user}\" byobu-launcher-{bl_inst}");
                    shcmd += " || X=$(($X+1)); ";
                }
            }
        }
        if mod_sys {
            shcmd += &format!("echo \"{dc_val}\" | debconf-set-selections");
            shcmd += " && dpkg-reconfigure byobu --frontend=noninteractive";
            shcmd += " || X=$(($X+1)); ";
        }
        if !shcmd.is_empty() {
            out.note(format!("Setting byobu to {value}"));
            out.effects.push(Effect::Run(Command::new([
                "/bin/sh".to_string(),
                "-c".to_string(),
                format!("X=0; {shcmd} exit $X"),
            ])));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(p: &Planned) -> String {
        p.commands()[0][2].clone()
    }

    #[test]
    fn nothing_without_a_value() {
        let p = Kit::debian12().plan(&Byobu);
        assert!(p.effects().is_empty());
        assert_eq!(
            p.notes(),
            ["Skipping module named byobu, no 'byobu' values found"]
        );
    }

    #[test]
    fn enable_user_also_sets_the_system_default() {
        let p = Kit::debian12()
            .cfg("byobu_by_default: enable-user\nusers: [default]\nsystem_info: {default_user: {name: debian}}")
            .plan(&Byobu);
        assert_eq!(
            script(&p),
            "X=0;  sudo -Hu \"debian\" byobu-launcher-install || X=$(($X+1)); \
             echo \"byobu byobu/launch-by-default boolean true\" | debconf-set-selections \
             && dpkg-reconfigure byobu --frontend=noninteractive || X=$(($X+1));  exit $X"
        );
    }

    #[test]
    fn disable_without_a_default_user_sets_the_system_only() {
        let p = Kit::debian12()
            .cfg("byobu_by_default: disable")
            .plan(&Byobu);
        assert_eq!(
            script(&p),
            "X=0; echo \"byobu byobu/launch-by-default boolean false\" | debconf-set-selections \
             && dpkg-reconfigure byobu --frontend=noninteractive || X=$(($X+1));  exit $X"
        );
    }

    #[test]
    fn disable_user_without_a_default_user_does_nothing() {
        let p = Kit::debian12()
            .cfg("byobu_by_default: disable-user")
            .plan(&Byobu);
        assert!(p.effects().is_empty());
    }
}
