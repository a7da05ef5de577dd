//! The distro classes' hostname writers and readers, as cloud-init 22.4
//! has them: Debian/Ubuntu, Alpine and Arch (`/etc/hostname` through
//! [`HostnameConf`]), and the RHEL family (`HOSTNAME=` in
//! `/etc/sysconfig/network` through configobj ([`SysConf`]) on sysvinit,
//! CentOS/RHEL 6; `hostnamectl set-hostname` on systemd, 7 and later);
//! `_select_hostname` (`prefer_fqdn_over_hostname`), `update_hostname`'s
//! previous-hostname bookkeeping, and `update_etc_hosts` (the
//! `127.0.1.1`/`127.0.0.1` line edited in place, with [`HostsConf`]); the
//! hosts templates cloud-init ships for each family.
//!
//! Running-machine changes (`hostname NAME`, `hostnamectl ...`) are
//! [`HostAction`]s: performed on a live root, recorded otherwise.

use std::path::{Path, PathBuf};

use super::hostname_conf::HostnameConf;
use super::hosts::HostsConf;
use super::sysconfig::{update_sysconfig, SysConf};
use super::{Distro, DistroError};
use crate::effect::{Data, Effect, HostAction};
use crate::py::header::make_header;
use crate::py::str::strip as py_strip;
use crate::py::truth::translate_bool;
use crate::rootfs::FsView;
use crate::value::Value;

/// Where `update_etc_hosts` writes.
pub const HOSTS_FN: &str = "/etc/hosts";

/// A message cloud-init logs at debug level, kept for the module's notes.
fn note(notes: &mut Vec<String>, msg: String) {
    tracing::debug!("{msg}");
    notes.push(msg);
}

/// The distro families whose hostname code cloudboot has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// debian, ubuntu: `/etc/hostname`, `hostname NAME`.
    Debian,
    /// alpine: as Debian.
    Alpine,
    /// arch: `/etc/hostname`, `hostnamectl --transient set-hostname NAME`.
    Arch,
    /// rhel and its children (centos, fedora, almalinux, rocky, amazon, ...).
    Redhat,
    /// A distro cloud-init has whose hostname writers cloudboot does not
    /// have (gentoo, suse, photon, mariner, the BSDs): `/etc/hosts` only.
    HostsOnly,
}

pub(crate) fn family_of(name: &str) -> Option<(Family, &'static str)> {
    Some(match name {
        "debian" | "ubuntu" => (Family::Debian, "debian"),
        "alpine" => (Family::Alpine, "alpine"),
        "arch" => (Family::Arch, "arch"),
        "almalinux" | "amazon" | "centos" | "cloudlinux" | "eurolinux" | "fedora"
        | "miraclelinux" | "openEuler" | "openmandriva" | "rhel" | "rocky" | "virtuozzo" => {
            (Family::Redhat, "redhat")
        }
        "gentoo" | "cos" => (Family::HostsOnly, "gentoo"),
        "opensuse" | "sles" => (Family::HostsOnly, "suse"),
        "photon" => (Family::HostsOnly, "photon"),
        "mariner" => (Family::HostsOnly, "mariner"),
        "freebsd" | "dragonflybsd" | "dragonfly" => (Family::HostsOnly, "freebsd"),
        "netbsd" => (Family::HostsOnly, "netbsd"),
        "openbsd" => (Family::HostsOnly, "openbsd"),
        _ => return None,
    })
}

impl Distro {
    /// The hostname family and `distro.osfamily` of cloud-init's distro
    /// class for [`Distro::name`]. Without `system_info.distro`, a root
    /// cloud-init has no class for is taken as ubuntu (cloud-init's
    /// built-in config says ubuntu); a configured name it has no class for
    /// is an error.
    pub fn hostname_family(&self) -> Result<(Family, &'static str), DistroError> {
        match family_of(&self.name) {
            Some(f) => Ok(f),
            None if !self.configured => Ok((Family::Debian, "debian")),
            None => Err(DistroError::NoSuchDistro(self.name.clone())),
        }
    }

    /// `distro.osfamily` (names the hosts template).
    pub fn osfamily(&self) -> Result<&'static str, DistroError> {
        self.hostname_family().map(|(_, o)| o)
    }

    /// The hostname family, for the writers (checked by their callers).
    fn family(&self) -> Family {
        self.hostname_family()
            .map(|(f, _)| f)
            .unwrap_or(Family::HostsOnly)
    }

    /// `Distro.prefer_fqdn`: true for the RHEL family.
    pub fn prefer_fqdn_default(&self) -> bool {
        self.hostname_family()
            .is_ok_and(|(f, _)| f == Family::Redhat)
    }

    /// `hostname_conf_fn`.
    pub fn hostname_conf_fn(&self) -> &'static str {
        match self.family() {
            Family::Redhat => "/etc/sysconfig/network",
            _ => "/etc/hostname",
        }
    }

    /// `_get_localhost_ip()`.
    pub fn localhost_ip(&self) -> &'static str {
        match self.hostname_family().unwrap_or((Family::HostsOnly, "")) {
            (Family::Debian | Family::Alpine, _) => "127.0.1.1",
            (_, "suse" | "photon") => "127.0.1.1",
            _ => "127.0.0.1",
        }
    }

    fn check_writers(&self) -> Result<(), DistroError> {
        let (family, osfamily) = self.hostname_family()?;
        if family == Family::HostsOnly {
            Err(DistroError::NoHostnameWriter {
                distro: self.name.clone(),
                osfamily,
            })
        } else {
            Ok(())
        }
    }

    /// `_select_hostname`, with `prefer_fqdn_over_hostname` taken as the
    /// modules set it: the merged config's when it has the key
    /// (`distro.set_option`), else `system_info`'s, else the distro's default.
    pub fn select_hostname(&self, cfg: &Value, hostname: &str, fqdn: Option<&str>) -> String {
        let prefer = match cfg.get("prefer_fqdn_over_hostname") {
            Some(v) => translate_bool(v, &[]),
            None => self
                .system_info
                .get_bool("prefer_fqdn_over_hostname", self.prefer_fqdn_default()),
        };
        match fqdn {
            Some(f) if prefer && !f.is_empty() => f.to_string(),
            Some(f) if hostname.is_empty() => f.to_string(),
            _ => hostname.to_string(),
        }
    }

    fn is_previous(fname: &Path) -> bool {
        fname.to_string_lossy().ends_with("/previous-hostname")
    }

    /// `_read_hostname(filename)`: `Ok(None)` where cloud-init returns its
    /// default (`None`); an error where it raises.
    pub fn read_hostname(
        &self,
        fs: &dyn FsView,
        fname: &Path,
    ) -> Result<Option<String>, DistroError> {
        match self.family() {
            Family::Redhat if self.systemd => {
                if Self::is_previous(fname) {
                    let text = fs
                        .read_string(fname)
                        .ok_or_else(|| DistroError::NotFound(fname.to_path_buf()))?;
                    Ok(Some(py_strip(&text).to_string()))
                } else {
                    // `subp(["hostname"])`: its output, newline and all.
                    let out = format!("{}\n", self.running_hostname(fs));
                    Ok(Some(out))
                }
            }
            Family::Redhat => {
                let text = fs.read_string(fname).unwrap_or_default();
                let conf = SysConf::parse(&text).map_err(|e| e.in_file(fname))?;
                let name = conf.get("HOSTNAME").map_err(|e| e.in_file(fname))?;
                Ok(name.map(str::to_string))
            }
            _ => Ok(fs
                .read_string(fname)
                .and_then(|t| HostnameConf::parse(&t).ok())
                .and_then(|c| c.hostname().map(str::to_string))
                .filter(|h| !h.is_empty())),
        }
    }

    /// `_write_hostname(hostname, filename)` as effects.
    pub fn write_hostname(
        &self,
        fs: &dyn FsView,
        name: &str,
        fname: &Path,
        effects: &mut Vec<Effect>,
    ) -> Result<(), DistroError> {
        match self.family() {
            Family::Redhat if self.systemd => {
                if Self::is_previous(fname) {
                    effects.push(Effect::write(fname, Data::public(name), 0o644));
                } else {
                    // hostnamectl writes the static name to /etc/hostname; the
                    // file is written here too, so a root that is not this
                    // machine (where the action is only recorded) shows it.
                    effects.push(Effect::write(
                        "/etc/hostname",
                        Data::public(format!("{name}\n")),
                        0o644,
                    ));
                    effects.push(Effect::Host(HostAction {
                        what: format!("set the static and running hostname to {name}"),
                        argv: vec!["hostnamectl".into(), "set-hostname".into(), name.into()],
                    }));
                }
            }
            Family::Redhat => {
                let existing = fs.read_string(fname);
                if let Some(text) = update_sysconfig(existing.as_deref(), "HOSTNAME", name)
                    .map_err(|e| e.in_file(fname))?
                {
                    effects.push(Effect::write(fname, Data::public(text), 0o644));
                }
            }
            _ => {
                let mut conf = fs
                    .read_string(fname)
                    .and_then(|t| HostnameConf::parse(&t).ok())
                    .unwrap_or_default();
                conf.set_hostname(name);
                effects.push(Effect::write(fname, Data::public(conf.to_string()), 0o644));
            }
        }
        Ok(())
    }

    /// `_read_system_hostname()`: the file and the name it holds.
    pub fn read_system_hostname(
        &self,
        fs: &dyn FsView,
    ) -> Result<(PathBuf, Option<String>), DistroError> {
        let fname = PathBuf::from(match self.family() {
            Family::Redhat if self.systemd => "/etc/hostname",
            _ => self.hostname_conf_fn(),
        });
        let name = self.read_hostname(fs, &fname)?;
        Ok((fname, name))
    }

    /// `_apply_hostname(hostname)`: the running hostname.
    pub fn apply_hostname(&self, name: &str) -> Effect {
        let argv: Vec<String> = match self.family() {
            Family::Arch => vec!["hostnamectl", "--transient", "set-hostname", name],
            _ => vec!["hostname", name],
        }
        .into_iter()
        .map(str::to_string)
        .collect();
        Effect::Host(HostAction {
            what: format!("set the running hostname to {name}"),
            argv,
        })
    }

    /// `Distro.set_hostname(hostname, fqdn)`.
    pub fn set_hostname(
        &self,
        fs: &dyn FsView,
        cfg: &Value,
        hostname: &str,
        fqdn: Option<&str>,
        effects: &mut Vec<Effect>,
    ) -> Result<(), DistroError> {
        self.check_writers()?;
        let name = self.select_hostname(cfg, hostname, fqdn);
        self.write_hostname(fs, &name, Path::new(self.hostname_conf_fn()), effects)?;
        effects.push(self.apply_hostname(&name));
        Ok(())
    }

    /// `Distro.update_hostname(hostname, fqdn, prev_hostname_fn)`: the
    /// effects, and what cloud-init logs about them in `notes` (two lists,
    /// not a module's output: the distro layer sits below the module API).
    #[allow(clippy::too_many_arguments)]
    pub fn update_hostname(
        &self,
        fs: &dyn FsView,
        cfg: &Value,
        hostname: &str,
        fqdn: Option<&str>,
        prev_fn: &Path,
        effects: &mut Vec<Effect>,
        notes: &mut Vec<String>,
    ) -> Result<(), DistroError> {
        self.check_writers()?;
        let applying = hostname;
        let hostname = self.select_hostname(cfg, hostname, fqdn);
        let prev = if fs.exists(prev_fn) {
            self.read_hostname(fs, prev_fn)?
        } else {
            None
        };
        let (sys_fn, sys) = self.read_system_hostname(fs)?;
        let prev_set = prev.as_deref().filter(|p| !p.is_empty());
        let sys_set = sys.as_deref().filter(|s| !s.is_empty());
        let mut update: Vec<PathBuf> = Vec::new();
        if prev_set.is_none() || prev.as_deref() != Some(hostname.as_str()) {
            update.push(prev_fn.to_path_buf());
        }
        if sys_set.is_none() || (sys == prev && sys.as_deref() != Some(hostname.as_str())) {
            update.push(sys_fn.clone());
        }
        if let (Some(s), Some(p)) = (sys_set, prev_set) {
            if s != p {
                note(
                    notes,
                    format!(
                        "{} differs from {}, assuming user maintained hostname.",
                        prev_fn.display(),
                        sys_fn.display()
                    ),
                );
                return Ok(());
            }
        }
        update.dedup();
        note(
            notes,
            format!(
                "Attempting to update hostname to {hostname} in {} files",
                update.len()
            ),
        );
        for f in &update {
            self.write_hostname(fs, &hostname, f, effects)?;
        }
        if update.contains(&sys_fn) {
            effects.push(self.apply_hostname(applying));
        }
        Ok(())
    }

    /// `Distro.update_etc_hosts(hostname, fqdn)`: the localhost line of
    /// `/etc/hosts` edited in place. No effect when the entry is there.
    pub fn update_etc_hosts(&self, fs: &dyn FsView, hostname: &str, fqdn: &str) -> Option<Effect> {
        let existing = fs.read_string(Path::new(HOSTS_FN));
        let (mut eh, header) = match &existing {
            Some(t) => (HostsConf::parse(t), None),
            None => (HostsConf::parse(""), Some(make_header("Added"))),
        };
        let ip = self.localhost_ip();
        let prev = eh.get_entry(ip);
        let mut need_change = true;
        if prev.is_empty() {
            eh.add_entry(ip, &[fqdn.to_string(), hostname.to_string()]);
        } else {
            for entry in &prev {
                if entry.first().map(String::as_str) == Some(fqdn)
                    && entry[1..].iter().any(|a| a == hostname)
                {
                    need_change = false;
                }
            }
            if need_change {
                let mut new_entries = prev.clone();
                new_entries.push(vec![fqdn.to_string(), hostname.to_string()]);
                eh.del_entries(ip);
                for e in new_entries.iter().filter(|e| !e.is_empty()) {
                    eh.add_entry(ip, e);
                }
            }
        }
        if !need_change {
            return None;
        }
        let mut text = String::new();
        if let Some(h) = header {
            text.push_str(&h);
            text.push('\n');
        }
        text.push_str(&format!("{eh}\n"));
        Some(Effect::write(HOSTS_FN, Data::public(text), 0o644))
    }
}

/// cloud-init 22.4's hosts templates, for a root that has none (cloud-init
/// itself fails there: "No hosts template could be found").
pub const BUILTIN_TEMPLATES: &[(&str, &str)] = &[
    ("alpine", include_str!("templates/hosts.alpine.tmpl")),
    ("arch", include_str!("templates/hosts.arch.tmpl")),
    ("debian", include_str!("templates/hosts.debian.tmpl")),
    ("freebsd", include_str!("templates/hosts.freebsd.tmpl")),
    ("gentoo", include_str!("templates/hosts.gentoo.tmpl")),
    ("mariner", include_str!("templates/hosts.mariner.tmpl")),
    ("photon", include_str!("templates/hosts.photon.tmpl")),
    ("redhat", include_str!("templates/hosts.redhat.tmpl")),
    ("suse", include_str!("templates/hosts.suse.tmpl")),
];

impl Distro {
    /// `system_info.paths.templates_dir` (default `/etc/cloud/templates/`)
    /// joined with `hosts.<osfamily>.tmpl`.
    pub fn hosts_template_path(&self, osfamily: &str) -> PathBuf {
        self.template_path(&format!("hosts.{osfamily}"))
    }
}
