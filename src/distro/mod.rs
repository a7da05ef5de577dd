//! The distro layer, as cloud-init's `cloudinit/distros/`: one [`Distro`]
//! value, detected once from the target root and the config's
//! `system_info`, carried on every module's context (`ctx.distro`). What
//! differs between distributions is decided by its methods, which return
//! effects or commands and never touch the host: they read the root only
//! through the [`FsView`] they are given (in a plan, the overlay that
//! already shows what earlier modules would have done).
//!
//! | what                               | where                            |
//! |------------------------------------|----------------------------------|
//! | release files (`/etc/os-release`)  | [`os_release`]                   |
//! | hostname files, `/etc/hosts`       | [`hostname`], [`names`]          |
//! | users, groups, sudo                | [`users`]                        |
//! | services (systemd, SysV, OpenRC)   | [`service`]                      |
//! | shutdown                           | [`shutdown`]                     |
//! | network renderer and its flavour   | [`network`]                      |
//! | locale (`LANG`)                    | [`locale`]                       |
//! | timezone (`/etc/localtime`)        | [`timezone`]                     |
//! | keyboard (`localectl`)             | [`keyboard`]                     |
//! | package manager (apt, yum, dnf)    | [`packages`]                     |
//! | NTP clients (chrony, ntp, ...)     | [`ntp`]                          |
//! | yum `.repo` files                  | [`yum_repo`]                     |
//! | trusted CA certificates            | [`ca_certs`]                     |
//! | zypper `.repo` files, `zypp.conf`  | [`zypper`]                       |
//! | Alpine's `/etc/apk/repositories`   | [`apk`]                          |
//!
//! The file parsers the distro classes use sit beside them, one file each:
//! [`hostname_conf`] (`/etc/hostname`), [`hosts`] (`/etc/hosts`),
//! [`sysconfig`] (`/etc/sysconfig/*`, configobj) and [`resolv_conf`].
//!
//! A new per-distro decision gets one file here with `impl Distro`
//! methods, chosen by [`Distro::name`] and the init system as the others
//! are; modules then ask `ctx.distro`.

pub mod accounts;
pub mod apk;
pub mod ca_certs;
mod error;
pub mod hostname;
pub mod hostname_conf;
pub mod hosts;
pub mod init_system;
pub mod keyboard;
pub mod locale;
pub mod names;
pub mod network;
pub mod ntp;
pub mod os_release;
pub mod packages;
pub mod resolv_conf;
pub mod service;
pub mod shutdown;
pub mod sysconfig;
pub mod timezone;
pub mod users;
pub mod yum_repo;
pub mod zypper;

use std::path::{Path, PathBuf};

use crate::rootfs::FsView;
use crate::value::Value;

pub use error::DistroError;
pub use os_release::OsRelease;

/// The distribution a run configures, as cloud-init's `Distro` object sees
/// it: its name, the root's release, its init system and `system_info`.
#[derive(Clone, Debug, PartialEq)]
pub struct Distro {
    /// cloud-init's distro name: `system_info.distro` from the config, as
    /// cloud-init takes it, else the root's own variant (cloud-init's
    /// builtin default would say `ubuntu` of any image without a
    /// cloud.cfg). Modules' `distros()` lists are checked against it.
    pub name: String,
    /// What the root's release files say (instance-data's `distro`, the
    /// renderer's choice).
    pub release: OsRelease,
    /// `system_info.distro` was given (else [`Distro::name`] is the root's).
    pub configured: bool,
    /// cloud-init's `uses_systemd()` for the root: `/run/systemd/system` is
    /// a directory; for an image that is not running (no `/run/systemd` at
    /// all), whether its `/sbin/init` links to `systemd`, so a plan for an
    /// offline image names the commands the image would run.
    pub systemd: bool,
    /// `/run/systemd/system` is a directory: systemd runs the root now
    /// (what cloud-init itself tests; an offline image says no).
    pub systemd_running: bool,
    /// Ubuntu Core (`util.system_is_snappy()`): useradd and groupadd
    /// write to `--extrausers`.
    pub snappy: bool,
    /// `system_info` (cloud-init's `distro._cfg`): per-image overrides
    /// (`ssh_svcname`, `paths.templates_dir`, `default_user`, ...). An
    /// empty mapping when absent or not a mapping.
    pub system_info: Value,
}

impl Distro {
    /// The distro for this root and config. Reads the release files and
    /// `/run/systemd` once; everything after asks the value.
    pub fn detect(fs: &dyn FsView, cfg: &Value) -> Distro {
        let systemd_running = runs_systemd(fs);
        let root = Distro {
            name: String::new(),
            release: OsRelease::read(fs),
            configured: false,
            systemd: systemd_running || image_uses_systemd(fs),
            systemd_running,
            snappy: users::system_is_snappy(fs),
            system_info: Value::empty_map(),
        };
        root.with_config(cfg)
    }

    /// The same root's distro under another config: only the name and
    /// `system_info` follow the config (cloud-init makes a new `Distro`
    /// when consumed user-data changes the config; the root's release
    /// files and init system are what they were, so the engine reads
    /// them once per stage).
    pub fn with_config(&self, cfg: &Value) -> Distro {
        let system_info = cfg.get("system_info");
        let configured_name = system_info
            .and_then(|s| s.get("distro"))
            .and_then(Value::as_str)
            .map(str::to_string);
        Distro {
            configured: configured_name.is_some(),
            name: configured_name.unwrap_or_else(|| self.release.variant.clone()),
            system_info: system_info
                .filter(|v| matches!(v, Value::Map(_)))
                .cloned()
                .unwrap_or_else(Value::empty_map),
            ..self.clone()
        }
    }
}

/// Where network hotplug's hook is (22.4's install_hotplug: its
/// `libexecdir`, `/usr/libexec/cloud-init` when the root has it, else
/// `/usr/lib/cloud-init`): the udev rule runs it, `cloudboot install` puts
/// it there.
pub fn hotplug_hook_path(fs: &dyn crate::rootfs::FsView) -> &'static str {
    if fs.exists(std::path::Path::new("/usr/libexec/cloud-init")) {
        "/usr/libexec/cloud-init/hook-hotplug"
    } else {
        "/usr/lib/cloud-init/hook-hotplug"
    }
}

impl Distro {
    /// `distro.usr_lib_exec`, where cloud-init's helper programs live:
    /// `/usr/libexec` for the rhel family's classes (centos, fedora, rocky,
    /// amazon, ...), `/usr/local/lib` for FreeBSD's (and DragonFly's),
    /// `/usr/lib` for every other.
    pub fn usr_lib_exec(&self) -> &'static str {
        match self.osfamily() {
            Ok("redhat") => "/usr/libexec",
            Ok("freebsd") => "/usr/local/lib",
            _ => "/usr/lib",
        }
    }

    /// `cloud.get_template_filename(name)`'s path:
    /// `system_info.paths.templates_dir` (default `/etc/cloud/templates/`)
    /// joined with `<name>.tmpl`.
    pub fn template_path(&self, name: &str) -> PathBuf {
        let dir = self
            .system_info
            .get("paths")
            .and_then(|p| p.get("templates_dir"))
            .and_then(Value::as_str)
            .unwrap_or("/etc/cloud/templates/");
        Path::new(dir).join(format!("{name}.tmpl"))
    }
}

/// cloud-init's `uses_systemd()`: the root's `/run/systemd/system` is a
/// directory (not a link).
pub fn runs_systemd(fs: &dyn FsView) -> bool {
    matches!(
        fs.lstat(Path::new("/run/systemd/system")),
        Some(s) if s.kind == crate::rootfs::Kind::Dir
    )
}

/// For an image that is not running (no `/run/systemd` at all): whether
/// its `/sbin/init` links to `systemd`.
fn image_uses_systemd(fs: &dyn FsView) -> bool {
    if fs.lstat(Path::new("/run/systemd")).is_some() {
        return false;
    }
    fs.read_link(Path::new("/sbin/init"))
        .map(|t| t.file_name().is_some_and(|n| n == "systemd"))
        .unwrap_or(false)
}

/// `chop_comment(text, "#")`: the text before the first `#`, and the rest.
pub(crate) fn chop_comment(text: &str) -> (&str, &str) {
    match text.find('#') {
        Some(i) => (&text[..i], &text[i..]),
        None => (text, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Distro::systemd`, as the modules used to ask it.
    fn uses_systemd(fs: &dyn FsView) -> bool {
        Distro::detect(fs, &Value::empty_map()).systemd
    }

    #[test]
    fn systemd_is_read_from_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let fs = crate::rootfs::RealFs {
            root: crate::rootfs::Root::new(tmp.path()),
        };
        assert!(!uses_systemd(&fs));
        // An offline image whose init is systemd.
        std::fs::create_dir_all(tmp.path().join("sbin")).unwrap();
        std::os::unix::fs::symlink("/lib/systemd/systemd", tmp.path().join("sbin/init")).unwrap();
        assert!(uses_systemd(&fs));
        // A running system says for itself: /run/systemd without system/.
        std::fs::create_dir_all(tmp.path().join("run/systemd")).unwrap();
        assert!(!uses_systemd(&fs));
        std::fs::create_dir_all(tmp.path().join("run/systemd/system")).unwrap();
        assert!(uses_systemd(&fs));
    }
}
