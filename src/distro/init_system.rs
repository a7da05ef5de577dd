//! Which init system a root boots with, and how its SysV flavour lays out
//! and orders init scripts: what `cloudboot install` needs to know to put
//! the four stages in cloud-init's place. (cloud-init's own question,
//! "does systemd run this root now", is [`super::Distro::systemd_running`].)

use std::path::Path;

use crate::rootfs::FsView;

/// The init systems cloudboot installs for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    Systemd,
    Sysv,
    Upstart,
}

impl Init {
    pub fn parse(s: &str) -> Option<Init> {
        match s {
            "systemd" => Some(Init::Systemd),
            "sysv" | "sysvinit" => Some(Init::Sysv),
            "upstart" => Some(Init::Upstart),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Init::Systemd => "systemd",
            Init::Sysv => "sysv",
            Init::Upstart => "upstart",
        }
    }
}

/// The init system of a root: systemd when its binary and unit directory
/// are there, upstart when `initctl` and `/etc/init` are, else SysV.
pub fn detect(fs: &dyn FsView) -> Init {
    let exists = |p: &str| fs.exists(Path::new(p));
    let systemd = ["/lib/systemd/systemd", "/usr/lib/systemd/systemd"]
        .iter()
        .any(|p| exists(p));
    // /sbin/init a link to systemd is the surest sign; a systemd binary
    // beside SysV init (CentOS 6 has none; Debian 8 can have both) counts.
    if systemd && exists("/etc/systemd/system") {
        return Init::Systemd;
    }
    if exists("/sbin/initctl") && fs.is_dir(Path::new("/etc/init")) {
        return Init::Upstart;
    }
    Init::Sysv
}

/// Which SysV init reads the scripts: Debian's insserv/startpar, which
/// orders them from their LSB headers, or RHEL's chkconfig, which orders
/// them by the priorities on their `# chkconfig:` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SysvFlavour {
    /// `/etc/init.d`, rc links made by `update-rc.d` (insserv).
    Debian,
    /// `/etc/rc.d/init.d`, rc links by chkconfig priority.
    Chkconfig,
}

impl SysvFlavour {
    /// The flavour that owns an init script directory (see [`initd_dir`]).
    pub fn of_initd(initd: &str) -> SysvFlavour {
        if initd == "/etc/rc.d/init.d" {
            SysvFlavour::Chkconfig
        } else {
            SysvFlavour::Debian
        }
    }
}

/// Where SysV scripts live in a root: `/etc/rc.d/init.d` on RHEL-family
/// systems, `/etc/init.d` elsewhere.
pub fn initd_dir(fs: &dyn FsView) -> &'static str {
    if fs.is_dir(Path::new("/etc/rc.d/init.d")) {
        "/etc/rc.d/init.d"
    } else {
        "/etc/init.d"
    }
}

/// Debian-family SysV (`/etc/debian_version`): rc links are `update-rc.d`'s
/// to make (insserv orders them from the LSB headers), not links by
/// chkconfig priority.
pub fn links_by_update_rc_d(fs: &dyn FsView) -> bool {
    fs.exists(Path::new("/etc/debian_version"))
}

/// The directory of runlevel `level`'s rc links (`"S"` for Debian's
/// `rcS.d`): under `/etc/rc.d` where the scripts are (RHEL), else `/etc`.
pub fn rc_dir(fs: &dyn FsView, level: &str) -> String {
    if initd_dir(fs) == "/etc/rc.d/init.d" {
        format!("/etc/rc.d/rc{level}.d")
    } else {
        format!("/etc/rc{level}.d")
    }
}

/// The runlevel a SysV root boots into: `/etc/inittab`'s `initdefault`
/// line, else 2 on Debian (its default) and 3 elsewhere.
pub fn default_runlevel(fs: &dyn FsView) -> String {
    let inittab = fs
        .read_at_most(Path::new("/etc/inittab"), 1 << 16)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    for line in inittab.lines() {
        // id:3:initdefault:
        let fields: Vec<&str> = line.trim().split(':').collect();
        if fields.len() >= 3 && fields[2] == "initdefault" && !line.trim().starts_with('#') {
            let level = fields[1].trim();
            if level.len() == 1 && level.chars().all(|c| c.is_ascii_digit()) {
                return level.to_string();
            }
        }
    }
    if links_by_update_rc_d(fs) { "2" } else { "3" }.to_string()
}

/// A start (`S`) or kill (`K`) link of a runlevel directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RcLink {
    /// The link's path in the root (`/etc/rc.d/rc3.d/S23NetworkManager`).
    pub path: String,
    /// `S` or `K`.
    pub kind: char,
    /// Its priority (`23`).
    pub priority: u32,
    /// The service (`NetworkManager`).
    pub service: String,
}

/// The rc links of one runlevel directory, in the order init runs them
/// (by name, as `rc` globs them).
pub fn rc_links(fs: &dyn FsView, dir: &str) -> Vec<RcLink> {
    let mut names = fs.list_dir(Path::new(dir)).unwrap_or_default();
    names.sort();
    names
        .into_iter()
        .filter_map(|name| {
            let kind = name.chars().next().filter(|c| matches!(c, 'S' | 'K'))?;
            let rest = &name[1..];
            let service = rest.trim_start_matches(|c: char| c.is_ascii_digit());
            let digits = &rest[..rest.len() - service.len()];
            if digits.is_empty() || service.is_empty() {
                return None;
            }
            Some(RcLink {
                path: format!("{dir}/{name}"),
                kind,
                priority: digits.parse().ok()?,
                service: service.to_string(),
            })
        })
        .collect()
}
