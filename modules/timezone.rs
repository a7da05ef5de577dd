//! timezone (`cc_timezone`): sets the system timezone to the module's first
//! argument, else `timezone`, once per instance, on every distro (22.4's
//! `distros: [all]`; activated by `timezone`). The zone must have a file
//! under `/usr/share/zoneinfo` in the root. What is written is the
//! distro's (`src/distro/timezone.rs`: `/etc/timezone` and `/etc/localtime`
//! on Debian, the `/etc/localtime` link on RHEL 7+, `ZONE=` in
//! `/etc/sysconfig/clock` and a copy of the zone file on RHEL 6).
//! tests/fixtures/locale_timezone holds what 22.4 itself does.

use crate::module::prelude::*;

pub struct Timezone;

static INFO: ModuleInfo = ModuleInfo {
    name: "timezone",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &["timezone"],
    keys: &["timezone"],
    schema: &[Field::opt("timezone", Ty::Str)],
    summary: "set the system timezone (/usr/share/zoneinfo names)",
};

impl Module for Timezone {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        // `get_cfg_option_str(cfg, "timezone", False)`: any value as `str()`.
        let tz = match ctx.args.first() {
            Some(arg) => arg.clone(),
            None => ctx
                .cfg
                .get("timezone")
                .map(Value::python_str)
                .unwrap_or_default(),
        };
        if tz.is_empty() {
            out.note(format!(
                "Skipping module named {}, no 'timezone' specified",
                ctx.name
            ));
            return out;
        }
        match ctx.distro.set_timezone(ctx.fs, &tz) {
            Ok(effects) => out.effects = effects,
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
        check_recorded("timezone", &Timezone, 21);
    }

    const ZONE: &str = "/usr/share/zoneinfo/Europe/Paris";

    #[test]
    fn debian_writes_etc_timezone_and_links_localtime() {
        let p = Kit::debian12()
            .file(ZONE, "TZif")
            .cfg("timezone: Europe/Paris\n")
            .plan(&Timezone);
        assert_eq!(p.file("/etc/timezone").as_deref(), Some("Europe/Paris\n"));
        assert!(p.effects().iter().any(|e| matches!(e,
            Effect::Symlink { path, target }
                if path == std::path::Path::new("/etc/localtime") && target == std::path::Path::new(ZONE))));
    }

    #[test]
    fn centos_6_sets_zone_and_copies_the_zone_file() {
        let p = Kit::with_os_release("")
            .file("/etc/redhat-release", "CentOS release 6.10 (Final)\n")
            .file("/etc/sysconfig/clock", "ZONE=\"UTC\"\nUTC=True\n")
            .file_mode(ZONE, "TZif", 0o600)
            .cfg("timezone: Europe/Paris\n")
            .plan(&Timezone);
        let w = p.written();
        assert_eq!(w[0].content, "ZONE=Europe/Paris\nUTC=True\n");
        assert_eq!(
            (w[1].path.to_str(), w[1].content.as_str(), w[1].mode),
            (Some("/etc/localtime"), "TZif", 0o600)
        );
    }

    #[test]
    fn an_unknown_zone_is_22_4s_error_and_none_is_skipped() {
        let p = Kit::centos7()
            .cfg("timezone: Mars/Olympus\n")
            .plan(&Timezone);
        assert_eq!(
            p.errors(),
            ["Invalid timezone Mars/Olympus, no file found at /usr/share/zoneinfo/Mars/Olympus"]
        );
        let p = Kit::centos7().plan(&Timezone);
        assert_eq!(
            p.notes(),
            ["Skipping module named timezone, no 'timezone' specified"]
        );
    }
}
