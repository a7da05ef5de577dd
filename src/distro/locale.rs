//! The system locale as cloud-init 22.4's distro classes set it
//! (`distro.get_locale`, `distro.apply_locale`):
//!
//! - Debian and Ubuntu (`debian.py`): `LANG` read from `/etc/default/locale`
//!   (`util.load_shell_content`); `locale-gen LOCALE` when the requested
//!   locale differs from it (case-insensitively), when it is unset, or when
//!   the file to write does not exist yet, except for `C`, `C.UTF-8` and
//!   `POSIX`, which need no generating; then `update-locale
//!   --locale-file=FILE LANG=LOCALE` under the same conditions. One
//!   departure: a root without those programs (a minimal or scratch root)
//!   gets a note and nothing else, where 22.4 fails the module.
//! - The RHEL family (`rhel.py`): `LANG=` through configobj
//!   ([`update_sysconfig`]) in `/etc/locale.conf` where systemd runs (7 and
//!   later; 22.4 ignores `locale_configfile` there), else in
//!   `locale_configfile` or `/etc/sysconfig/i18n` (6).
//!
//! The methods read the root through the [`FsView`] they are given and
//! return effects; the programs run inside the target root.

use std::path::Path;

use super::accounts;
use super::hostname::Family;
use super::sysconfig::{update_sysconfig, SysConf};
use super::{Distro, DistroError};
use crate::effect::{Command, Data, Effect};
use crate::py::shell::{load_shell_content, ShlexError};
use crate::rootfs::FsView;

/// Debian's `LOCALE_CONF_FN`.
pub const DEBIAN_LOCALE_FN: &str = "/etc/default/locale";
/// rhel.py's `systemd_locale_conf_fn` (RHEL/CentOS 7 and later).
pub const SYSTEMD_LOCALE_FN: &str = "/etc/locale.conf";
/// rhel.py's `locale_conf_fn` (RHEL/CentOS 6).
pub const SYSCONFIG_LOCALE_FN: &str = "/etc/sysconfig/i18n";
/// Both classes' `default_locale` (and `DataSource.default_locale`).
pub const DEFAULT_LOCALE: &str = "en_US.UTF-8";
/// The variable both classes set.
const KEYNAME: &str = "LANG";

/// What the locale methods refuse, in cloud-init's words where it raises.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LocaleError {
    /// debian.py's `apply_locale("")`.
    #[error("Failed to provide locale value.")]
    NoLocale,
    /// `util.load_shell_content` on a file `shlex` cannot split, or with a
    /// word that is not `KEY=value` (Python's own exception texts).
    #[error("{file}: {error}")]
    ShellContent { file: String, error: ShlexError },
    /// A sysconfig file configobj cannot read or write.
    #[error(transparent)]
    Sysconfig(#[from] DistroError),
    /// A distro whose locale code cloudboot does not have.
    #[error("cloudboot does not set the locale on distro '{0}' (cloud-init's class for it is not implemented)")]
    Unsupported(String),
}

/// What `apply_locale` does: its effects, and the debug messages
/// cloud-init logs on the way (the module's notes).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LocaleChange {
    pub effects: Vec<Effect>,
    pub notes: Vec<String>,
}

impl Distro {
    /// The locale family: Debian's class or RHEL's (their children
    /// included), as the hostname code maps names to classes.
    fn locale_family(&self) -> Result<Family, LocaleError> {
        match self.hostname_family()?.0 {
            f @ (Family::Debian | Family::Redhat) => Ok(f),
            _ => Err(LocaleError::Unsupported(self.name.clone())),
        }
    }

    /// `cloud.get_locale()` (`DataSource.get_locale` asking
    /// `distro.get_locale`): the system's `LANG`, else `en_US.UTF-8`.
    pub fn get_locale(&self, fs: &dyn FsView) -> Result<String, LocaleError> {
        Ok(self
            .system_locale(fs)?
            .unwrap_or_else(|| DEFAULT_LOCALE.to_string()))
    }

    /// The system's `LANG` (`read_system_locale`, `_read_system_locale`);
    /// `None` when unset or empty.
    fn system_locale(&self, fs: &dyn FsView) -> Result<Option<String>, LocaleError> {
        let value = match self.locale_family()? {
            Family::Redhat => {
                let file = self.rhel_locale_fn(None);
                match fs.read_string(Path::new(file)) {
                    None => None,
                    Some(text) => SysConf::parse(&text)
                        .and_then(|c| c.get(KEYNAME).map(|v| v.map(str::to_string)))
                        .map_err(|e| e.in_file(file))?,
                }
            }
            _ => match fs.read_string(Path::new(DEBIAN_LOCALE_FN)) {
                None => None,
                Some(text) => load_shell_content(&text)
                    .map_err(|error| LocaleError::ShellContent {
                        file: DEBIAN_LOCALE_FN.into(),
                        error,
                    })?
                    .into_iter()
                    .rev()
                    .find(|(k, _)| k == KEYNAME)
                    .map(|(_, v)| v),
            },
        };
        Ok(value.filter(|v| !v.is_empty()))
    }

    /// rhel.py's choice of file: `/etc/locale.conf` under systemd (whatever
    /// `locale_configfile` says), else `out_fn` or `/etc/sysconfig/i18n`.
    fn rhel_locale_fn<'a>(&self, out_fn: Option<&'a str>) -> &'a str {
        if self.uses_systemd() {
            SYSTEMD_LOCALE_FN
        } else {
            out_fn
                .filter(|f| !f.is_empty())
                .unwrap_or(SYSCONFIG_LOCALE_FN)
        }
    }

    /// `distro.apply_locale(locale, out_fn)`: `out_fn` is
    /// `locale_configfile`.
    pub fn apply_locale(
        &self,
        fs: &dyn FsView,
        locale: &str,
        out_fn: Option<&str>,
    ) -> Result<LocaleChange, LocaleError> {
        let mut change = LocaleChange::default();
        match self.locale_family()? {
            Family::Redhat => {
                let file = self.rhel_locale_fn(out_fn);
                let existing = fs.read_string(Path::new(file));
                if let Some(text) = update_sysconfig(existing.as_deref(), KEYNAME, locale)
                    .map_err(|e| e.in_file(file))?
                {
                    change
                        .effects
                        .push(Effect::write(file, Data::public(text), 0o644));
                }
            }
            _ => self.apply_debian_locale(fs, locale, out_fn, &mut change)?,
        }
        Ok(change)
    }

    /// debian.py's `apply_locale`, its checks in its order.
    fn apply_debian_locale(
        &self,
        fs: &dyn FsView,
        locale: &str,
        out_fn: Option<&str>,
        change: &mut LocaleChange,
    ) -> Result<(), LocaleError> {
        let out_fn = out_fn.filter(|f| !f.is_empty()).unwrap_or(DEBIAN_LOCALE_FN);
        if locale.is_empty() {
            return Err(LocaleError::NoLocale);
        }
        // The system's LANG is always read from /etc/default/locale, even
        // when another file is to be written.
        let system = self.system_locale(fs)?;
        let distro_locale = system.as_deref().unwrap_or(DEFAULT_LOCALE);
        let conf_fn_exists = fs.exists(Path::new(out_fn));
        let need_regen = locale.to_lowercase() != distro_locale.to_lowercase()
            || !conf_fn_exists
            || system.is_none();
        if !need_regen {
            change.notes.push(format!(
                "System has '{KEYNAME}={}' requested '{locale}', skipping regeneration.",
                system.as_deref().unwrap_or("None")
            ));
            return Ok(());
        }
        // `regenerate_locale`: these exist without generating.
        let generate = !["c", "c.utf-8", "posix"].contains(&locale.to_lowercase().as_str());
        // A root without Debian's `locales` tools (a minimal or scratch
        // root) is left alone: 22.4 would fail the module on the missing
        // program, and the locale could not be set there anyway.
        let tools: &[&str] = if generate {
            &["locale-gen", "update-locale"]
        } else {
            &["update-locale"]
        };
        if let Some(missing) = tools.iter().find(|t| accounts::which(fs, t).is_none()) {
            change.notes.push(format!(
                "{missing} is not in the root: not setting {KEYNAME}={locale} (cloud-init 22.4 would fail here)"
            ));
            return Ok(());
        }
        if generate {
            change
                .notes
                .push(format!("Generating locales for {locale}"));
            change
                .effects
                .push(Effect::Run(Command::new(["locale-gen", locale])));
        } else {
            change
                .notes
                .push(format!("{KEYNAME}={locale} does not require rengeneration"));
        }
        // `update_locale_conf`.
        change.notes.push(format!(
            "Updating {out_fn} with locale setting {KEYNAME}={locale}"
        ));
        change.effects.push(Effect::Run(
            Command::new([
                "update-locale".to_string(),
                format!("--locale-file={out_fn}"),
                format!("{KEYNAME}={locale}"),
            ])
            .creates(out_fn),
        ));
        Ok(())
    }
}
