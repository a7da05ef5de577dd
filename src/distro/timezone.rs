//! The system timezone as cloud-init 22.4's distro classes set it
//! (`distro.set_timezone`), the zone file found first (`_find_tz_file`:
//! `/usr/share/zoneinfo/<tz>` must be a file, else the error 22.4 raises):
//!
//! - Debian and Ubuntu (`distros.set_etc_timezone`): `/etc/timezone` holds
//!   the name; `/etc/localtime` becomes a link to the zone file when it is a
//!   link or absent, else the zone file is copied onto it.
//! - The RHEL family where systemd runs (7 and later): `/etc/localtime`
//!   removed and linked to the zone file by hand (22.4 does not call
//!   `timedatectl`, which "complains if invoked during startup").
//! - The RHEL family without systemd (6): `ZONE=` through configobj in
//!   `/etc/sysconfig/clock`, and the zone file copied onto `/etc/localtime`
//!   (`util.copy` is `shutil.copy`: contents and permission bits; a copy
//!   onto a link writes the link's target, as the write effect does).

use std::path::{Path, PathBuf};

use super::hostname::Family;
use super::sysconfig::update_sysconfig;
use super::{Distro, DistroError};
use crate::effect::{Data, Effect};
use crate::rootfs::{FsView, Kind};

/// `Distro.tz_zone_dir`.
pub const TZ_ZONE_DIR: &str = "/usr/share/zoneinfo";
/// `tz_local` / `tz_local_fn`.
pub const TZ_LOCAL_FN: &str = "/etc/localtime";
/// Debian's `tz_conf`.
pub const TZ_CONF_FN: &str = "/etc/timezone";
/// rhel.py's `clock_conf_fn`.
pub const CLOCK_CONF_FN: &str = "/etc/sysconfig/clock";

/// What `set_timezone` refuses, in cloud-init's words where it raises.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TimezoneError {
    /// `_find_tz_file`: no regular file for the zone in the root.
    #[error("Invalid timezone {tz}, no file found at {}", .file.display())]
    UnknownZone { tz: String, file: PathBuf },
    /// The zone file could not be read for the copy.
    #[error("reading {}: {error}", .file.display())]
    Read { file: PathBuf, error: String },
    /// `/etc/sysconfig/clock` configobj cannot read or write.
    #[error(transparent)]
    Sysconfig(#[from] DistroError),
    /// A distro whose timezone code cloudboot does not have.
    #[error("cloudboot does not set the timezone on distro '{0}' (cloud-init's class for it is not implemented)")]
    Unsupported(String),
}

impl Distro {
    /// `distro.set_timezone(tz)`.
    pub fn set_timezone(&self, fs: &dyn FsView, tz: &str) -> Result<Vec<Effect>, TimezoneError> {
        let family = match self.hostname_family()?.0 {
            f @ (Family::Debian | Family::Redhat) => f,
            _ => return Err(TimezoneError::Unsupported(self.name.clone())),
        };
        let tz_file = find_tz_file(fs, tz)?;
        let local = Path::new(TZ_LOCAL_FN);
        let mut effects = Vec::new();
        match family {
            Family::Redhat if self.uses_systemd() => {
                effects.push(Effect::Remove { path: local.into() });
                effects.push(Effect::Symlink {
                    path: local.into(),
                    target: tz_file,
                });
            }
            Family::Redhat => {
                let existing = fs.read_string(Path::new(CLOCK_CONF_FN));
                if let Some(text) = update_sysconfig(existing.as_deref(), "ZONE", tz)
                    .map_err(|e| e.in_file(CLOCK_CONF_FN))?
                {
                    effects.push(Effect::write(CLOCK_CONF_FN, Data::public(text), 0o644));
                }
                effects.push(copy(fs, &tz_file, local)?);
            }
            _ => {
                // `str(tz).rstrip() + "\n"`.
                let name = tz.trim_end_matches(crate::py::str::is_space);
                effects.push(Effect::write(
                    TZ_CONF_FN,
                    Data::public(format!("{name}\n")),
                    0o644,
                ));
                match fs.lstat(local) {
                    Some(s) if s.kind == Kind::Symlink => {
                        effects.push(Effect::Remove { path: local.into() });
                        effects.push(Effect::Symlink {
                            path: local.into(),
                            target: tz_file,
                        });
                    }
                    None => effects.push(Effect::Symlink {
                        path: local.into(),
                        target: tz_file,
                    }),
                    Some(_) => effects.push(copy(fs, &tz_file, local)?),
                }
            }
        }
        Ok(effects)
    }
}

/// `_find_tz_file(tz)`: `os.path.join(tz_zone_dir, tz)` (an absolute `tz`
/// replaces the directory, as `join` does), which must be a regular file
/// (links followed).
fn find_tz_file(fs: &dyn FsView, tz: &str) -> Result<PathBuf, TimezoneError> {
    let file = if tz.starts_with('/') {
        PathBuf::from(tz)
    } else {
        PathBuf::from(format!("{TZ_ZONE_DIR}/{tz}"))
    };
    match fs.stat(&file) {
        Some(s) if s.kind == Kind::File => Ok(file),
        _ => Err(TimezoneError::UnknownZone {
            tz: tz.to_string(),
            file,
        }),
    }
}

/// `util.copy(src, dest)` (`shutil.copy`): the contents and the permission
/// bits of `src` written to `dest`.
fn copy(fs: &dyn FsView, src: &Path, dest: &Path) -> Result<Effect, TimezoneError> {
    let read_error = |error: String| TimezoneError::Read {
        file: src.into(),
        error,
    };
    let data = fs.read(src).map_err(|e| read_error(e.to_string()))?;
    let mode = fs
        .stat(src)
        .map(|s| s.mode & 0o7777)
        .ok_or_else(|| read_error("not found".into()))?;
    Ok(Effect::write(dest, Data::public(data), mode))
}
