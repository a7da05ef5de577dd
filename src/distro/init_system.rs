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
