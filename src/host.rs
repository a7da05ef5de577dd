//! Facts about the machine cloudboot runs on, as opposed to the target root
//! it configures: whether that root is the machine's own, the free space of
//! a filesystem, random bytes, the clock, its own process id and uptime, and
//! its mounts and block devices (`src/blockdev.rs`: which device holds a
//! path of the root, what a device is, which one holds the machine's `/`).
//!
//! A module asks these through [`crate::module::Context::host`], never the
//! machine itself, so that every module runs in-process against
//! [`FakeHost`] in its tests, and a plan or a boot into a scratch root never
//! reports the free space of the disk the tests happen to run on.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::blockdev::{BlockDevice, DiskQuery, HostRoot, Mount, MountOf, PartInfo, QueryFailed};
use crate::rootfs::FsView;

/// What a module may ask of the machine it runs on.
pub trait Host: Sync {
    /// Whether `fs` shows the root of the machine we run on, so the kernel's
    /// answers (free space, mounts) are about that root. This asks what the
    /// files are (a bind mount of `/` is live); whether cloudboot may act on
    /// the machine (chroot or not, host actions, mounts) asks what `--root`
    /// names, [`crate::rootfs::Root::is_host_root`], and a bind mount of `/`
    /// is not that: a run into it stays inside it.
    fn is_live_root(&self, fs: &dyn FsView) -> bool;
    /// Free bytes (`f_frsize * f_bfree`) of the filesystem holding `dir` of
    /// the root `fs` shows; `None` when that root is not live (the free
    /// space of an image that is not running is unknown) or the kernel
    /// cannot say.
    fn free_bytes(&self, fs: &dyn FsView, dir: &str) -> Option<u64>;
    /// Fills `buf` from a random source fit for passwords.
    fn random_bytes(&self, buf: &mut [u8]);
    /// The time now.
    fn now(&self) -> SystemTime;
    /// cloudboot's own process id (what a watcher waits on to end).
    fn pid(&self) -> u32;
    /// The text of the host's `/proc/uptime`, for a root that has none of
    /// its own to read; `None` when it cannot be read.
    fn proc_uptime(&self) -> Option<String>;
    /// The mount holding `guest` (a path of the root `fs` shows), from the
    /// kernel's mount table; `None` when the root is no directory of this
    /// machine or the table cannot be read.
    fn mount_of(&self, fs: &dyn FsView, guest: &str) -> Option<MountOf>;
    /// What a device path of this machine (`/dev/vdb1`) is.
    fn block_device(&self, path: &str) -> BlockDevice;
    /// The device holding this machine's own `/`, and its disk, which a
    /// run into the root `fs` must not touch; `None` when `fs` is this
    /// machine's `/` itself (a boot of the machine acts on its own disks,
    /// as cloud-init does) or the device cannot be found.
    fn protected_root(&self, fs: &dyn FsView) -> Option<HostRoot>;
    /// Where `program` is in this machine's PATH (the block-device tools
    /// run on the machine, not in the root: see `modules/growpart.rs`).
    fn which(&self, program: &str) -> Option<String>;
    /// The answer to a read-only question about a disk (disk_setup's
    /// `lsblk`, `blkid`, `blockdev`, `sfdisk -l`, `sgdisk -p`): the
    /// program's output, or why it failed.
    fn disk_query(&self, query: &DiskQuery) -> Result<String, QueryFailed>;
}

/// The machine we run on.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealHost;

impl Host for RealHost {
    /// The root is live when it is this machine's `/` (same device and
    /// inode) and has booted the same kernel (same boot id): a chroot of a
    /// bind mount of `/` is live, a copy of it is not.
    fn is_live_root(&self, fs: &dyn FsView) -> bool {
        let boot_id = Path::new("/proc/sys/kernel/random/boot_id");
        let host_root = std::fs::metadata("/")
            .ok()
            .map(|m| crate::rootfs::Stat::from_metadata(&m));
        host_root.is_some()
            && fs.stat(Path::new("/")) == host_root
            && matches!((fs.read(boot_id), std::fs::read(boot_id)), (Ok(a), Ok(b)) if a == b)
    }

    fn free_bytes(&self, fs: &dyn FsView, dir: &str) -> Option<u64> {
        if !self.is_live_root(fs) {
            return None;
        }
        let c = std::ffi::CString::new(dir).ok()?;
        // SAFETY: statvfs writes into the struct we own; the path is NUL-terminated.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
            return None;
        }
        Some((st.f_frsize as u64).saturating_mul(st.f_bfree as u64))
    }

    /// The kernel's random source (Python's `random.SystemRandom`).
    fn random_bytes(&self, buf: &mut [u8]) {
        kernel_random(buf)
    }

    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn pid(&self) -> u32 {
        std::process::id()
    }

    fn proc_uptime(&self) -> Option<String> {
        std::fs::read_to_string("/proc/uptime").ok()
    }

    fn mount_of(&self, fs: &dyn FsView, guest: &str) -> Option<MountOf> {
        crate::blockdev::real_mount_of(fs, guest)
    }

    fn block_device(&self, path: &str) -> BlockDevice {
        crate::blockdev::real_block_device(path)
    }

    fn protected_root(&self, fs: &dyn FsView) -> Option<HostRoot> {
        let is_slash = fs
            .host_dir()
            .and_then(|d| std::fs::canonicalize(d).ok())
            .is_some_and(|d| d == Path::new("/"));
        match is_slash {
            true => None,
            false => crate::blockdev::real_host_root(),
        }
    }

    fn which(&self, program: &str) -> Option<String> {
        crate::blockdev::real_which(program)
    }

    fn disk_query(&self, query: &DiskQuery) -> Result<String, QueryFailed> {
        crate::blockdev::real_disk_query(query)
    }
}

/// A machine for tests: every answer is set, nothing is asked of the
/// machine the tests run on. Random bytes are a fixed, reproducible stream.
#[derive(Debug)]
pub struct FakeHost {
    /// What [`Host::is_live_root`] answers, whatever the root.
    pub live: bool,
    /// What [`Host::free_bytes`] answers on a live root.
    pub free: Option<u64>,
    /// What [`Host::now`] answers.
    pub now: SystemTime,
    /// What [`Host::pid`] answers.
    pub pid: u32,
    /// What [`Host::proc_uptime`] answers.
    pub proc_uptime: Option<String>,
    /// The mount table [`Host::mount_of`] reads, with the root at
    /// [`FakeHost::root_dir`].
    pub mounts: Vec<Mount>,
    /// Where the fake root lives on the fake machine.
    pub root_dir: std::path::PathBuf,
    /// The device paths that exist (any other is missing).
    pub devices: Vec<(String, BlockDevice)>,
    /// What [`Host::protected_root`] answers.
    pub host_root: Option<HostRoot>,
    /// Programs in PATH (each as `/usr/sbin/<name>`).
    pub programs: Vec<String>,
    /// Answers to disk queries (any other fails).
    pub disk_answers: Vec<(DiskQuery, String)>,
    /// Disk queries whose program exits with this code.
    pub disk_failures: Vec<(DiskQuery, i32)>,
    /// The random stream's state (splitmix64).
    seed: AtomicU64,
}

impl Default for FakeHost {
    /// A root that is not live (so no free space), 2024-01-01T00:00:00Z,
    /// pid 4242, up 100 seconds, random stream 0.
    fn default() -> FakeHost {
        FakeHost {
            live: false,
            free: None,
            now: SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_067_200),
            pid: 4242,
            proc_uptime: Some("100.00 180.00\n".into()),
            mounts: Vec::new(),
            root_dir: "/target".into(),
            devices: Vec::new(),
            host_root: None,
            programs: Vec::new(),
            disk_answers: Vec::new(),
            disk_failures: Vec::new(),
            seed: AtomicU64::new(0),
        }
    }
}

impl FakeHost {
    /// The default fake with `set` applied (its random stream stays private).
    pub fn with(set: impl FnOnce(&mut FakeHost)) -> FakeHost {
        let mut host = FakeHost::default();
        set(&mut host);
        host
    }

    /// A live root with `free` bytes free everywhere.
    pub fn live_with_free(free: u64) -> FakeHost {
        FakeHost {
            live: true,
            free: Some(free),
            ..FakeHost::default()
        }
    }

    /// Starts the random stream at `seed`.
    pub fn seeded(seed: u64) -> FakeHost {
        FakeHost {
            seed: AtomicU64::new(seed),
            ..FakeHost::default()
        }
    }
}

impl Host for FakeHost {
    fn is_live_root(&self, _fs: &dyn FsView) -> bool {
        self.live
    }

    fn free_bytes(&self, _fs: &dyn FsView, _dir: &str) -> Option<u64> {
        self.free.filter(|_| self.live)
    }

    fn random_bytes(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            // splitmix64: every call continues the stream.
            let mut z = self
                .seed
                .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
                .wrapping_add(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }

    fn now(&self) -> SystemTime {
        self.now
    }

    fn pid(&self) -> u32 {
        self.pid
    }

    fn proc_uptime(&self) -> Option<String> {
        self.proc_uptime.clone()
    }

    fn mount_of(&self, _fs: &dyn FsView, guest: &str) -> Option<MountOf> {
        crate::blockdev::mount_of(&self.mounts, &self.root_dir, guest)
    }

    fn block_device(&self, path: &str) -> BlockDevice {
        match self.devices.iter().find(|(p, _)| p == path) {
            Some((_, d)) => d.clone(),
            None => BlockDevice {
                real: path.to_string(),
                stat: Err(format!("[Errno 2] No such file or directory: '{path}'")),
                dev: None,
                disk_dev: None,
                part: PartInfo::NotPartition,
            },
        }
    }

    fn protected_root(&self, _fs: &dyn FsView) -> Option<HostRoot> {
        self.host_root
    }

    fn which(&self, program: &str) -> Option<String> {
        self.programs
            .iter()
            .any(|p| p == program)
            .then(|| format!("/usr/sbin/{program}"))
    }

    fn disk_query(&self, query: &DiskQuery) -> Result<String, QueryFailed> {
        if let Some((_, code)) = self.disk_failures.iter().find(|(q, _)| q == query) {
            return Err(QueryFailed {
                code: Some(*code),
                message: format!("{}: exit code {code}", query.argv().join(" ")),
            });
        }
        self.disk_answers
            .iter()
            .find(|(q, _)| q == query)
            .map(|(_, a)| a.clone())
            .ok_or_else(|| QueryFailed {
                code: None,
                message: format!("{}: no such device", query.argv().join(" ")),
            })
    }
}

/// Fills `buf` from the kernel's random source: getrandom(2), or
/// `/dev/urandom` on kernels without it (CentOS 6's 2.6.32).
pub fn kernel_random(buf: &mut [u8]) {
    let mut filled = 0;
    while filled < buf.len() {
        // The raw system call, not glibc's getrandom(): that wrapper only
        // exists from glibc 2.25, and the release build runs on 2.17.
        // SAFETY: the pointer and length describe the unfilled tail of `buf`.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getrandom,
                buf[filled..].as_mut_ptr(),
                buf.len() - filled,
                0,
            )
        };
        if n > 0 {
            filled += n as usize;
        } else if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            // No getrandom(2) (very old kernels): the device instead.
            use std::io::Read;
            std::fs::File::open("/dev/urandom")
                .and_then(|mut f| f.read_exact(&mut buf[filled..]))
                .expect("no source of randomness (getrandom and /dev/urandom failed)");
            return;
        }
    }
}

/// What this process has used so far (`getrusage`: the programs it ran
/// are not counted).
pub struct OwnUsage {
    /// Peak resident memory, KiB.
    pub peak_kib: u64,
    /// CPU time in user mode and in the kernel, seconds.
    pub user_s: f64,
    pub system_s: f64,
}

pub fn own_usage() -> Option<OwnUsage> {
    // SAFETY: rusage is plain data, filled by the kernel on success.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } == 0;
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    ok.then(|| OwnUsage {
        peak_kib: usage.ru_maxrss as u64,
        user_s: seconds(usage.ru_utime),
        system_s: seconds(usage.ru_stime),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Moved from the mounts module, where the free space was asked of
    /// the kernel directly.
    #[test]
    fn free_space_is_asked_of_a_live_root_only() {
        let live = crate::rootfs::RealFs {
            root: crate::rootfs::Root::new("/"),
        };
        assert!(RealHost.is_live_root(&live));
        assert!(RealHost.free_bytes(&live, "/").is_some_and(|b| b > 0));
        let tmp = tempfile::tempdir().unwrap();
        let scratch = crate::rootfs::RealFs {
            root: crate::rootfs::Root::new(tmp.path()),
        };
        assert!(!RealHost.is_live_root(&scratch));
        assert_eq!(RealHost.free_bytes(&scratch, "/"), None);
    }

    #[test]
    fn the_fake_answers_what_it_was_given() {
        let tmp = tempfile::tempdir().unwrap();
        let fs = crate::rootfs::RealFs {
            root: crate::rootfs::Root::new(tmp.path()),
        };
        assert!(!FakeHost::default().is_live_root(&fs));
        assert_eq!(FakeHost::default().free_bytes(&fs, "/"), None);
        let live = FakeHost::live_with_free(1 << 30);
        assert!(live.is_live_root(&fs));
        assert_eq!(live.free_bytes(&fs, "/var"), Some(1 << 30));
        // The same seed gives the same bytes; the stream moves on.
        let (a, b) = (FakeHost::seeded(7), FakeHost::seeded(7));
        let (mut x, mut y) = ([0u8; 20], [0u8; 20]);
        a.random_bytes(&mut x);
        b.random_bytes(&mut y);
        assert_eq!(x, y);
        a.random_bytes(&mut y);
        assert_ne!(x, y);
    }

    #[test]
    fn real_random_bytes_fill_the_buffer() {
        let mut buf = [0u8; 4096];
        RealHost.random_bytes(&mut buf);
        assert!(buf.iter().any(|b| *b != 0));
    }
}
