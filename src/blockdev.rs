//! The running machine's mounts and block devices, as growpart, resizefs
//! and disk_setup ask about them: which mount holds a path of the target
//! root (`/proc/self/mountinfo`), what a device path is (its `stat`, and
//! from sysfs whether it is a partition and of which disk), which device
//! holds the machine's own `/`, and the read-only tools disk_setup reads a
//! disk with (`lsblk`, `blkid`, `blockdev`, `sfdisk -l`, `sgdisk -p`).
//!
//! Modules reach these through [`crate::host::Host`] (`ctx.host`), never
//! the machine itself; this file holds the data types, the parsers and the
//! real answers, which [`crate::host::RealHost`] gives. Everything here
//! only reads.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use crate::rootfs::FsView;

/// A device number, as `/proc/self/mountinfo` and sysfs write it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DevNum {
    pub major: u32,
    pub minor: u32,
}

impl DevNum {
    /// `MAJ:MIN`.
    pub fn parse(text: &str) -> Option<DevNum> {
        let (a, b) = text.trim().split_once(':')?;
        Some(DevNum {
            major: a.parse().ok()?,
            minor: b.parse().ok()?,
        })
    }

    fn from_raw(dev: u64) -> DevNum {
        DevNum {
            major: libc::major(dev),
            minor: libc::minor(dev),
        }
    }
}

impl std::fmt::Display for DevNum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.major, self.minor)
    }
}

/// One line of `/proc/self/mountinfo`.
#[derive(Clone, Debug, PartialEq)]
pub struct Mount {
    /// The filesystem's device number (`st_dev` of its files).
    pub dev: DevNum,
    /// Where it is mounted, on the machine we run on.
    pub mount_point: PathBuf,
    pub fstype: String,
    /// The mount source (`/dev/vda1`, `tmpfs`, `/dev/root`).
    pub source: String,
    pub read_write: bool,
}

/// The mount that holds a guest path of the target root.
#[derive(Clone, Debug, PartialEq)]
pub struct MountOf {
    pub mount: Mount,
    /// The mount is the target root's own (its mount point is the root's
    /// directory or under it), so the device is the guest's. When false,
    /// the root is a plain directory on a filesystem of the machine we run
    /// on, and that filesystem is nothing of the guest's.
    pub own: bool,
    /// The mount point as a guest path (`/`, `/var`) when it is the root's own.
    pub guest_mount_point: Option<String>,
}

/// What `stat` says a device path is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DevKind {
    Block,
    Char,
    Other,
}

/// What sysfs says of a device path (cloud-init's `device_part_info`).
#[derive(Clone, Debug, PartialEq)]
pub enum PartInfo {
    /// `/sys/class/block/<name>` is missing.
    NoSyspath(String),
    /// The device is no partition (a whole disk, a mapped device).
    NotPartition,
    /// Partition `number` of `disk` (its path in `/dev`).
    Partition { disk: String, number: String },
}

/// A device path on the machine we run on.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockDevice {
    /// `os.path.realpath` of the path.
    pub real: String,
    /// The `stat`, or the `OSError` text Python gives when it fails
    /// (`[Errno 2] No such file or directory: '/dev/x'`).
    pub stat: Result<DevKind, String>,
    /// The device's number (`st_rdev`), for a block device.
    pub dev: Option<DevNum>,
    /// The whole disk holding it (itself when it is no partition).
    pub disk_dev: Option<DevNum>,
    pub part: PartInfo,
}

/// The device holding the machine's own `/`, and its disk.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HostRoot {
    pub dev: DevNum,
    pub disk: DevNum,
}

impl HostRoot {
    /// Whether `device` is the machine's `/` or on the disk that holds it.
    pub fn holds(&self, device: &BlockDevice) -> bool {
        device.dev == Some(self.dev)
            || device.dev == Some(self.disk)
            || device.disk_dev == Some(self.disk)
    }
}

/// A read-only question disk_setup puts to a disk (cloud-init runs the
/// same programs): the answer is the program's standard output.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DiskQuery {
    /// `lsblk --pairs --output NAME,TYPE,FSTYPE,LABEL DEV [--nodeps]`.
    Lsblk { device: String, nodeps: bool },
    /// `blkid -c /dev/null DEV` (exit 2, nothing found, is an empty answer).
    Blkid(String),
    /// `blockdev --getsize64 DEV`.
    Size64(String),
    /// `blockdev --getss DEV`.
    SectorSize(String),
    /// `sfdisk -l DEV`.
    SfdiskList(String),
    /// `sgdisk -p DEV` (with `LANG=C`).
    SgdiskPrint(String),
    /// `dmsetup deps --options=devname DEV`: what a mapped device is made of
    /// (growpart's `get_underlying_partition`).
    DmsetupDeps(String),
    /// `cryptsetup status DEV` (exit 4: not an encrypted mapping).
    CryptsetupStatus(String),
    /// `cryptsetup isLuks DEV`.
    CryptsetupIsLuks(String),
}

/// A question whose program failed: its exit code (none when it could not
/// be started or was killed) and what it said.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct QueryFailed {
    pub code: Option<i32>,
    pub message: String,
}

impl DiskQuery {
    /// The program and its arguments.
    pub fn argv(&self) -> Vec<String> {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        match self {
            DiskQuery::Lsblk { device, nodeps } => {
                let mut a = v(&["lsblk", "--pairs", "--output", "NAME,TYPE,FSTYPE,LABEL"]);
                a.push(device.clone());
                if *nodeps {
                    a.push("--nodeps".into());
                }
                a
            }
            DiskQuery::Blkid(d) => v(&["blkid", "-c", "/dev/null", d]),
            DiskQuery::Size64(d) => v(&["blockdev", "--getsize64", d]),
            DiskQuery::SectorSize(d) => v(&["blockdev", "--getss", d]),
            DiskQuery::SfdiskList(d) => v(&["sfdisk", "-l", d]),
            DiskQuery::SgdiskPrint(d) => v(&["sgdisk", "-p", d]),
            DiskQuery::DmsetupDeps(d) => v(&["dmsetup", "deps", "--options=devname", d]),
            DiskQuery::CryptsetupStatus(d) => v(&["cryptsetup", "status", d]),
            DiskQuery::CryptsetupIsLuks(d) => v(&["cryptsetup", "isLuks", d]),
        }
    }

    /// Exit codes that still answer (blkid's 2: no filesystem).
    fn ok_codes(&self) -> &'static [i32] {
        match self {
            DiskQuery::Blkid(_) => &[0, 2],
            _ => &[0],
        }
    }
}

/// Decodes mountinfo's octal escapes (`\040` is a space).
fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            if let Some(Ok(v)) = field.get(i + 1..i + 4).map(|o| u8::from_str_radix(o, 8)) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mounts of a `/proc/self/mountinfo` text, in its order.
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    let mut mounts = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(sep) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        if sep < 6 || fields.len() < sep + 3 {
            continue;
        }
        let Some(dev) = DevNum::parse(fields[2]) else {
            continue;
        };
        mounts.push(Mount {
            dev,
            mount_point: PathBuf::from(unescape(fields[4])),
            fstype: fields[sep + 1].to_string(),
            source: unescape(fields[sep + 2]),
            read_write: fields[5].split(',').any(|o| o == "rw"),
        });
    }
    mounts
}

/// The filesystems on block devices mounted at `root_dir` (a canonical
/// host path) or under it, by mount point: where a program run inside the
/// root may write, which a sync must flush (`rootfs::Root::after_program`).
/// Not `tmpfs`, `proc` and the like (nothing to flush), nor FUSE or network
/// filesystems (a flush could wait on a daemon or a server).
pub fn disk_filesystems_under(mounts: &[Mount], root_dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for m in mounts {
        let on_disk = m.source.starts_with("/dev/") && !m.fstype.starts_with("fuse");
        if on_disk && is_under(&m.mount_point, root_dir) && !out.contains(&m.mount_point) {
            out.push(m.mount_point.clone());
        }
    }
    out
}

/// [`disk_filesystems_under`] the root at `root_dir`, from this process's
/// `/proc/self/mountinfo`.
pub fn real_disk_filesystems_under(root_dir: &Path) -> Vec<PathBuf> {
    let Ok(root_dir) = std::fs::canonicalize(root_dir) else {
        return Vec::new();
    };
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    disk_filesystems_under(&parse_mountinfo(&text), &root_dir)
}

/// Whether `prefix` is `path` or one of its ancestors (component-wise).
fn is_under(path: &Path, prefix: &Path) -> bool {
    path.starts_with(prefix)
}

/// The mount holding `guest` of the root at `root_dir` (a canonical host
/// path): the longest mount point that is `root_dir/guest` or above it, the
/// last mounted where two are equal (it hides the one below), as cloud-init's
/// `get_mount_info` finds the mount of a path.
pub fn mount_of(mounts: &[Mount], root_dir: &Path, guest: &str) -> Option<MountOf> {
    let rel: PathBuf = Path::new(guest)
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect();
    let host_path = root_dir.join(rel);
    let mut best: Option<&Mount> = None;
    for m in mounts {
        if is_under(&host_path, &m.mount_point)
            && best.is_none_or(|b| {
                m.mount_point.components().count() >= b.mount_point.components().count()
            })
        {
            best = Some(m);
        }
    }
    let mount = best?.clone();
    let own = is_under(&mount.mount_point, root_dir);
    let guest_mount_point = own.then(|| {
        let rel = mount
            .mount_point
            .strip_prefix(root_dir)
            .unwrap_or(Path::new(""));
        format!("/{}", rel.display())
    });
    Some(MountOf {
        mount,
        own,
        guest_mount_point,
    })
}

/// The real answer to [`crate::host::Host::mount_of`].
pub fn real_mount_of(fs: &dyn FsView, guest: &str) -> Option<MountOf> {
    let root_dir = std::fs::canonicalize(fs.host_dir()?).ok()?;
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mount_of(&parse_mountinfo(&text), &root_dir, guest)
}

/// `/sys/dev/block/MAJ:MIN`'s device name (`DEVNAME=` of its uevent).
fn sys_devname(dev: DevNum) -> Option<String> {
    let uevent = std::fs::read_to_string(format!("/sys/dev/block/{dev}/uevent")).ok()?;
    uevent
        .lines()
        .find_map(|l| l.strip_prefix("DEVNAME="))
        .map(|n| format!("/dev/{n}"))
}

/// The whole disk holding the block device `dev` (itself when it is no
/// partition), from sysfs.
fn disk_of(dev: DevNum) -> Option<DevNum> {
    let sys = std::fs::canonicalize(format!("/sys/dev/block/{dev}")).ok()?;
    if !sys.join("partition").exists() {
        return Some(dev);
    }
    DevNum::parse(&std::fs::read_to_string(sys.parent()?.join("dev")).ok()?)
}

/// The real answer to [`crate::host::Host::block_device`]: cloud-init's
/// `os.stat` and `device_part_info`, on the machine we run on.
pub fn real_block_device(path: &str) -> BlockDevice {
    let real = std::fs::canonicalize(path)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| path.to_string());
    let (stat, dev) = match std::fs::metadata(path) {
        Ok(md) => {
            let ft = md.file_type();
            if ft.is_block_device() {
                (Ok(DevKind::Block), Some(DevNum::from_raw(md.rdev())))
            } else if ft.is_char_device() {
                (Ok(DevKind::Char), None)
            } else {
                (Ok(DevKind::Other), None)
            }
        }
        Err(e) => (Err(python_os_error(&e, path)), None),
    };
    let name = Path::new(&real)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let syspath = format!("/sys/class/block/{name}");
    let part = if !Path::new(&syspath).exists() {
        PartInfo::NoSyspath(syspath)
    } else {
        let ptnum = std::fs::read_to_string(format!("{syspath}/partition")).ok();
        match ptnum {
            None => PartInfo::NotPartition,
            Some(n) => {
                let disk = std::fs::canonicalize(&syspath)
                    .ok()
                    .and_then(|s| std::fs::read_to_string(s.parent()?.join("dev")).ok())
                    .and_then(|d| DevNum::parse(&d))
                    .and_then(sys_devname);
                match disk {
                    Some(disk) => PartInfo::Partition {
                        disk,
                        number: n.trim_end().to_string(),
                    },
                    None => PartInfo::NotPartition,
                }
            }
        }
    };
    BlockDevice {
        real,
        stat,
        dev,
        disk_dev: dev.and_then(disk_of),
        part,
    }
}

/// Python's `str(OSError)` for a failed `os.stat(path)`.
fn python_os_error(e: &std::io::Error, path: &str) -> String {
    let code = e.raw_os_error().unwrap_or(0);
    // SAFETY: strerror returns a pointer to a static (or thread-local) string.
    let text = unsafe { std::ffi::CStr::from_ptr(libc::strerror(code)) }
        .to_string_lossy()
        .into_owned();
    format!("[Errno {code}] {text}: '{path}'")
}

/// The device holding the machine's `/` (see
/// [`crate::host::Host::protected_root`]).
pub fn real_host_root() -> Option<HostRoot> {
    let dev = DevNum::from_raw(std::fs::metadata("/").ok()?.dev());
    Some(HostRoot {
        dev,
        disk: disk_of(dev).unwrap_or(dev),
    })
}

/// The real answer to [`crate::host::Host::which`]: the program's path in
/// the PATH cloudboot runs with (cloud-init's `subp.which`).
pub fn real_which(program: &str) -> Option<String> {
    let path = std::env::var("PATH")
        .unwrap_or_else(|_| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(program))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0))
        .map(|p| p.display().to_string())
}

/// The real answer to [`crate::host::Host::disk_query`]: runs the program,
/// on the machine we run on, and returns its standard output.
pub fn real_disk_query(query: &DiskQuery) -> Result<String, QueryFailed> {
    let argv = query.argv();
    let out = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .env("LANG", "C")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| QueryFailed {
            code: None,
            message: format!("{}: {e}", argv.join(" ")),
        })?;
    match out.status.code() {
        Some(c) if query.ok_codes().contains(&c) => {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        }
        code => Err(QueryFailed {
            code,
            message: format!(
                "Unexpected error while running command.\nCommand: {:?}\nExit code: {}\nStderr: {}",
                argv,
                code.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
40 27 7:1 / /tmp/t\\040x rw,relatime - ext4 /dev/loop0p1 rw
41 40 7:2 / /tmp/t\\040x/var ro,relatime - xfs /dev/loop0p2 ro
";

    #[test]
    fn mountinfo_is_read_with_its_escapes() {
        let m = parse_mountinfo(MOUNTINFO);
        assert_eq!(m.len(), 4);
        assert_eq!(m[2].mount_point, Path::new("/tmp/t x"));
        assert_eq!(m[2].source, "/dev/loop0p1");
        assert_eq!(m[2].dev, DevNum { major: 7, minor: 1 });
        assert!(m[2].read_write && !m[3].read_write);
        assert_eq!(m[3].fstype, "xfs");
    }

    #[test]
    fn the_disk_filesystems_inside_a_root_are_its_own_and_those_below_it() {
        let mut m = parse_mountinfo(MOUNTINFO);
        m.extend(parse_mountinfo(concat!(
            "42 40 0:30 / /tmp/t\\040x/run rw - tmpfs tmpfs rw\n",
            "43 40 0:31 / /tmp/t\\040x/home rw - fuse.sshfs host:/home rw\n",
            "44 40 0:32 / /tmp/t\\040x/srv rw - nfs4 server:/srv rw\n",
        )));
        let inside = disk_filesystems_under(&m, Path::new("/tmp/t x"));
        assert_eq!(inside, [Path::new("/tmp/t x"), Path::new("/tmp/t x/var")]);
        // The machine's own root: every filesystem on a disk.
        let all = disk_filesystems_under(&m, Path::new("/"));
        assert_eq!(all.len(), 3, "{all:?}");
        // A root that is a plain directory holds none of its own.
        assert!(disk_filesystems_under(&m, Path::new("/tmp/scratch")).is_empty());
    }

    #[test]
    fn the_mount_of_a_guest_path_is_the_roots_own_or_not() {
        let m = parse_mountinfo(MOUNTINFO);
        let root = mount_of(&m, Path::new("/tmp/t x"), "/").unwrap();
        assert!(root.own);
        assert_eq!(root.mount.source, "/dev/loop0p1");
        assert_eq!(root.guest_mount_point.as_deref(), Some("/"));
        let var = mount_of(&m, Path::new("/tmp/t x"), "/var/log").unwrap();
        assert_eq!(var.mount.source, "/dev/loop0p2");
        assert_eq!(var.guest_mount_point.as_deref(), Some("/var"));
        // A plain directory: the filesystem holding it is the host's.
        let plain = mount_of(&m, Path::new("/tmp/scratch"), "/").unwrap();
        assert!(!plain.own);
        assert_eq!(plain.mount.source, "/dev/vda");
        assert_eq!(plain.guest_mount_point, None);
        // The machine's own root: every mount is its own.
        let live = mount_of(&m, Path::new("/"), "/").unwrap();
        assert!(live.own);
        assert_eq!(live.mount.source, "/dev/vda");
    }

    #[test]
    fn queries_are_the_programs_cloud_init_runs() {
        let q = DiskQuery::Lsblk {
            device: "/dev/sdb".into(),
            nodeps: true,
        };
        assert_eq!(
            q.argv().join(" "),
            "lsblk --pairs --output NAME,TYPE,FSTYPE,LABEL /dev/sdb --nodeps"
        );
        assert_eq!(
            DiskQuery::Blkid("/dev/sdb1".into()).argv().join(" "),
            "blkid -c /dev/null /dev/sdb1"
        );
    }

    #[test]
    fn a_missing_device_is_described_as_python_does() {
        let d = real_block_device("/dev/cloudboot-no-such-device");
        assert_eq!(
            d.stat,
            Err("[Errno 2] No such file or directory: '/dev/cloudboot-no-such-device'".into())
        );
        assert_eq!(d.dev, None);
    }
}
