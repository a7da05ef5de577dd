//! locale (`cc_locale`): sets the system locale, once per instance, on every
//! distro (22.4's `distros: [all]`, no activation keys: it acts without
//! user-data). The locale is the module's first argument, else `locale`,
//! else the system's own (`cloud.get_locale()`: the distro's `LANG`, else
//! `en_US.UTF-8`); a false value (`false`, `off`, `no`, `0`) skips it.
//! `locale_configfile` names the file to write instead of the distro's.
//! What is written and run is the distro's (`src/distro/locale.rs`:
//! `locale-gen` and `update-locale` on Debian, where the root has them;
//! `LANG=` in `/etc/locale.conf` or `/etc/sysconfig/i18n` on the RHEL
//! family).
//! tests/fixtures/locale_timezone holds what 22.4 itself does.

use crate::module::prelude::*;

pub struct Locale;

static INFO: ModuleInfo = ModuleInfo {
    name: "locale",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &[],
    keys: &["locale", "locale_configfile"],
    schema: &[
        // 22.4's schema says string; its code also takes `false` (the
        // documented way to turn the module off), so a boolean is no error.
        Field::opt(
            "locale",
            Ty::Strict(&Ty::OneOf(&[Ty::Str, Ty::Bool]), Rule::As(&Ty::Str)),
        ),
        Field::opt("locale_configfile", Ty::Str),
    ],
    summary: "set the system locale (default: the system's, else en_US.UTF-8)",
};

impl Module for Locale {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        // `get_cfg_option_str(cfg, "locale", cloud.get_locale())`: the
        // system's locale is read only when no argument is given.
        let locale = match ctx.args.first() {
            Some(arg) => arg.clone(),
            None => match ctx.cfg.get("locale") {
                Some(v) => v.python_str(),
                None => match ctx.distro.get_locale(ctx.fs) {
                    Ok(l) => l,
                    Err(e) => {
                        out.error(e);
                        return out;
                    }
                },
            },
        };
        if py::truth::is_false(&Value::Str(locale.clone())) {
            out.note(format!(
                "Skipping module named {}, disabled by config: {locale}",
                ctx.name
            ));
            return out;
        }
        out.note(format!("Setting locale to {locale}"));
        let configfile = ctx.cfg.get("locale_configfile").map(Value::python_str);
        match ctx
            .distro
            .apply_locale(ctx.fs, &locale, configfile.as_deref())
        {
            Ok(change) => {
                out.effects = change.effects;
                for n in change.notes {
                    out.note(n);
                }
            }
            Err(e) => out.error(e),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    include!("../tests/fixtures/locale_timezone/recorded.rs");

    #[test]
    fn every_recorded_case_plans_as_cloud_init_22_4_ran_it() {
        check_recorded("locale", &Locale, 39);
    }

    /// CentOS 6 has no os-release: with the kit's empty one,
    /// /etc/redhat-release says what the root is.
    const CENTOS_6: &str = "";

    /// A Debian 12 root with the `locales` package's tools.
    fn debian12() -> Kit {
        Kit::debian12()
            .file_mode("/usr/sbin/locale-gen", "", 0o755)
            .file_mode("/usr/sbin/update-locale", "", 0o755)
    }

    #[test]
    fn debian_generates_and_sets_the_default_locale() {
        let p = debian12().plan(&Locale);
        assert_eq!(
            p.commands(),
            [
                vec!["locale-gen", "en_US.UTF-8"],
                vec![
                    "update-locale",
                    "--locale-file=/etc/default/locale",
                    "LANG=en_US.UTF-8"
                ],
            ]
        );
        // Already set: nothing to do.
        let p = debian12()
            .file("/etc/default/locale", "LANG=en_US.UTF-8\n")
            .plan(&Locale);
        assert!(p.effects().is_empty(), "{:?}", p.effects());
        assert!(
            p.notes()[1].contains("skipping regeneration"),
            "{:?}",
            p.notes()
        );
    }

    #[test]
    fn centos_7_writes_locale_conf_and_centos_6_sysconfig_i18n() {
        let p = Kit::centos7()
            .dir("/run/systemd/system")
            .cfg("locale: de_DE.UTF-8\nlocale_configfile: /etc/other\n")
            .plan(&Locale);
        let w = p.written();
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(w[0].path, std::path::Path::new("/etc/locale.conf"));
        assert!(w[0].content.ends_with("\nLANG=de_DE.UTF-8\n"), "{w:?}");
        let p = Kit::with_os_release(CENTOS_6)
            .file("/etc/redhat-release", "CentOS release 6.10 (Final)\n")
            .file(
                "/etc/sysconfig/i18n",
                "LANG=\"en_US.UTF-8\"\nSYSFONT=\"latarcyrheb-sun16\"\n",
            )
            .cfg("locale: fr_FR.UTF-8\n")
            .plan(&Locale);
        assert_eq!(
            p.file("/etc/sysconfig/i18n").as_deref(),
            Some("LANG=fr_FR.UTF-8\nSYSFONT=latarcyrheb-sun16\n")
        );
    }

    #[test]
    fn a_root_without_the_locales_tools_is_left_alone() {
        let p = Kit::debian12().plan(&Locale);
        assert!(p.effects().is_empty() && p.errors().is_empty(), "{p:?}");
        assert_eq!(
            p.notes()[1],
            "locale-gen is not in the root: not setting LANG=en_US.UTF-8 (cloud-init 22.4 would fail here)"
        );
    }

    #[test]
    fn false_skips_with_cloud_inits_message() {
        let p = Kit::debian12().cfg("locale: false\n").plan(&Locale);
        assert!(p.effects().is_empty());
        assert_eq!(
            p.notes(),
            ["Skipping module named locale, disabled by config: False"]
        );
    }
}
