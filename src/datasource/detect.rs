//! Which datasources can possibly apply, decided as cloud-init's ds-identify
//! decides it: from facts that cost microseconds to read (DMI under
//! `/sys/class/dmi/id`, the kernel command line, `/sys/hypervisor/uuid`, the
//! labels and types of filesystems on the root's block devices), read once
//! per search and shared by every datasource's [`Datasource::detect`]
//! (`super::Datasource::detect`). A datasource that says
//! [`Detect::NotFound`] is never asked for data, so a machine on no cloud
//! gives up at once instead of waiting on metadata addresses.

use std::cell::OnceCell;
use std::path::{Path, PathBuf};

use crate::rootfs::{read_limited, FsView, Root};

/// ds-identify's verdicts (`DS_FOUND`, `DS_MAYBE`, `DS_NOT_FOUND`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detect {
    /// The platform says this is the cloud (DMI, a seed, a label).
    Found,
    /// Nothing rules it out; the datasource looks (bounded).
    Maybe,
    /// It cannot be this datasource: not tried.
    NotFound,
}

impl Detect {
    /// `Found` when `yes`, else `NotFound`.
    pub fn found_if(yes: bool) -> Detect {
        if yes {
            Detect::Found
        } else {
            Detect::NotFound
        }
    }
}

/// The DMI fields ds-identify reads (`/sys/class/dmi/id/<name>`).
pub const DMI_FIELDS: [&str; 8] = [
    "sys_vendor",
    "product_name",
    "product_serial",
    "product_uuid",
    "product_version",
    "chassis_asset_tag",
    "board_vendor",
    "board_name",
];

/// A filesystem found on one of the root's block devices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FsFact {
    /// The device as the guest names it (`/dev/sr0`).
    pub device: String,
    /// The path on this machine that opens it.
    pub host: PathBuf,
    /// `iso9660`, `vfat`.
    pub fs_type: &'static str,
    pub label: String,
}

/// The facts, each read the first time a datasource asks.
pub struct Facts<'a> {
    fs: &'a dyn FsView,
    root: &'a Root,
    devices: &'a [PathBuf],
    dmi: OnceCell<Vec<Option<String>>>,
    cmdline: OnceCell<String>,
    filesystems: OnceCell<Vec<FsFact>>,
}

impl<'a> Facts<'a> {
    pub fn new(fs: &'a dyn FsView, root: &'a Root, devices: &'a [PathBuf]) -> Facts<'a> {
        Facts {
            fs,
            root,
            devices,
            dmi: OnceCell::new(),
            cmdline: OnceCell::new(),
            filesystems: OnceCell::new(),
        }
    }

    /// A small file under the root, as text (`None` when absent); a sysfs
    /// or procfs file is a line, so 64 KiB is plenty.
    pub fn read_small(&self, path: &str) -> Option<String> {
        read_limited(self.fs, Path::new(path), 64 << 10)
            .ok()
            .flatten()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// A DMI field, trimmed; `None` when absent or empty. Only the fields
    /// of [`DMI_FIELDS`] are known (another name is a programming error).
    pub fn dmi(&self, field: &str) -> Option<&str> {
        let all = self.dmi.get_or_init(|| {
            DMI_FIELDS
                .iter()
                .map(|f| {
                    self.read_small(&format!("/sys/class/dmi/id/{f}"))
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                })
                .collect()
        });
        let at = DMI_FIELDS.iter().position(|f| *f == field);
        debug_assert!(at.is_some(), "unknown DMI field {field}");
        all.get(at?)?.as_deref()
    }

    /// The kernel command line (`/proc/cmdline` under the root).
    pub fn cmdline(&self) -> &str {
        self.cmdline
            .get_or_init(|| self.read_small("/proc/cmdline").unwrap_or_default())
    }

    /// The value of `key=` on the command line (the last one wins, as the
    /// kernel's own parsing), or `Some("")` for a bare `key`.
    pub fn cmdline_value(&self, key: &str) -> Option<&str> {
        self.cmdline()
            .split_whitespace()
            .rev()
            .find_map(|w| match w.split_once('=') {
                Some((k, v)) if k == key => Some(v),
                None if w == key => Some(""),
                _ => None,
            })
    }

    /// `/sys/hypervisor/uuid` (Xen), trimmed.
    pub fn hypervisor_uuid(&self) -> Option<String> {
        self.read_small("/sys/hypervisor/uuid")
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    /// Every ISO9660 or FAT filesystem on the root's block devices (and the
    /// devices given on the command line), probed once.
    pub fn filesystems(&self) -> &[FsFact] {
        self.filesystems.get_or_init(|| {
            let mut out: Vec<FsFact> = Vec::new();
            let mut seen: Vec<PathBuf> = Vec::new();
            for (shown, host) in super::devices::device_paths(self.fs, self.root, self.devices) {
                // A device reached by two names (a by-label link, its node)
                // is probed once.
                let canon = std::fs::canonicalize(&host).unwrap_or_else(|_| host.clone());
                if seen.contains(&canon) {
                    continue;
                }
                seen.push(canon);
                let Ok(file) = std::fs::File::open(&host) else {
                    continue;
                };
                if let Some((fs_type, label)) = crate::blockfs::probe(&file) {
                    out.push(FsFact {
                        device: shown,
                        host,
                        fs_type,
                        label,
                    });
                }
            }
            out
        })
    }

    /// Whether a filesystem carries one of `labels` (exactly, as
    /// ds-identify's `has_fs_with_label`).
    pub fn has_label(&self, labels: &[&str]) -> bool {
        self.filesystems()
            .iter()
            .any(|f| labels.contains(&f.label.as_str()))
    }

    /// Whether a filesystem of this type is present (`iso9660`).
    pub fn has_fs_type(&self, fs_type: &str) -> bool {
        self.filesystems().iter().any(|f| f.fs_type == fs_type)
    }

    /// Whether a path exists under the root (a seed directory, a socket).
    pub fn exists(&self, path: &str) -> bool {
        self.fs.stat(Path::new(path)).is_some()
    }

    /// Whether this is a Xen guest: `/proc/xen` under the root (22.4's
    /// IBMCloud `_is_xen`), or `/sys/hypervisor/type` saying `xen` (what
    /// ds-identify's `systemd-detect-virt` also looks at).
    pub fn is_xen(&self) -> bool {
        self.exists("/proc/xen")
            || self
                .read_small("/sys/hypervisor/type")
                .is_some_and(|t| t.trim() == "xen")
    }

    /// The UUID blkid gives a FAT filesystem of [`Facts::filesystems`]
    /// (its volume serial, `9796-932E`), by the device's name there;
    /// `None` for other filesystems (an ISO9660 "UUID" is a date, never
    /// this shape) or when the boot sector has no serial. Read when asked:
    /// only IBMCloud needs it, and only for `config-2` devices.
    pub fn fat_uuid(&self, device: &str) -> Option<String> {
        let fact = self.filesystems().iter().find(|f| f.device == device)?;
        if fact.fs_type != "vfat" {
            return None;
        }
        let (_, host) = super::devices::device_paths(self.fs, self.root, self.devices)
            .into_iter()
            .find(|(shown, _)| shown == device)?;
        let mut boot = [0u8; 512];
        let file = std::fs::File::open(host).ok()?;
        std::os::unix::fs::FileExt::read_exact_at(&file, &mut boot, 0).ok()?;
        // FAT32 has no 16-bit FAT size; its extended boot record (0x29
        // signature, then the serial) sits further on, as blkid reads it.
        let fat32 = boot[22] == 0 && boot[23] == 0;
        let (signature, serial) = if fat32 { (66, 67) } else { (38, 39) };
        (boot[signature] == 0x29).then(|| {
            let s = &boot[serial..serial + 4];
            format!("{:02X}{:02X}-{:02X}{:02X}", s[3], s[2], s[1], s[0])
        })
    }

    /// The kernel's version string (`uname -v`, Python's `os.uname()[3]`),
    /// from `/proc/sys/kernel/version` under the root: an LX zone on
    /// SmartOS says `BrandZ virtual linux` there.
    pub fn kernel_version(&self) -> Option<String> {
        self.read_small("/proc/sys/kernel/version")
            .map(|s| s.trim_end_matches('\n').to_string())
    }

    /// Whether a path under the root is a unix socket (ds-identify's
    /// `is_socket_file`: LXD's `/dev/lxd/sock`), links followed inside the
    /// root.
    pub fn is_socket(&self, path: &str) -> bool {
        use std::os::unix::fs::FileTypeExt;
        self.root
            .resolve(Path::new(path))
            .ok()
            .and_then(|host| std::fs::metadata(host).ok())
            .is_some_and(|m| m.file_type().is_socket())
    }
}

/// Whether the config asks for datasource `name` itself: a
/// `datasource_list` that is not the built-in one and names it. ds-identify
/// honours such a list without its checks when it names one source, so a
/// datasource detected by its platform is still tried then (bounded as
/// unconfirmed).
pub fn named_in_config(cfg: &crate::value::Value, name: &str) -> bool {
    let Some(list) = cfg
        .get("datasource_list")
        .and_then(crate::value::Value::as_seq)
    else {
        return false;
    };
    let names: Vec<String> = list.iter().map(crate::value::Value::python_str).collect();
    names != super::registry::default_list()
        && names.iter().any(|n| super::registry::bare_name(n) == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_values() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("proc")).unwrap();
        std::fs::write(
            dir.path().join("proc/cmdline"),
            "ro quiet ds=nocloud;s=x root=/dev/vda1 ro splash\n",
        )
        .unwrap();
        let fs = crate::rootfs::RealFs {
            root: Root::new(dir.path()),
        };
        let facts = Facts::new(&fs, &fs.root, &[]);
        assert_eq!(facts.cmdline_value("ds"), Some("nocloud;s=x"));
        assert_eq!(facts.cmdline_value("quiet"), Some(""));
        assert_eq!(facts.cmdline_value("ro"), Some(""));
        assert_eq!(facts.cmdline_value("nope"), None);
        assert_eq!(facts.dmi("sys_vendor"), None);
        assert!(facts.filesystems().is_empty());
    }
}
