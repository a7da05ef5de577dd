//! Frequencies and semaphore files, exactly as cloud-init names and fills them
//! (`cloudinit/helpers.py:FileSemaphores`, `canon_sem_name`, `Runners._get_sem`).
//!
//! * PER_INSTANCE: `/var/lib/cloud/instances/<iid>/sem/config_<name>`
//! * PER_ONCE:     `/var/lib/cloud/sem/config_<name>.once`
//! * PER_ALWAYS:   no file.
//!
//! Content `"<pid>: <time.time()>\n"`, mode 0644. One deliberate difference:
//! cloud-init writes the file *before* the module runs, so a module cut short
//! by a crash never runs again (cloud-init issue #3284). cloudboot writes the
//! same file only once the module has finished. Two cloudboot runs are kept
//! apart by an fs2 lock per semaphore, held from the check to the write.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use fs2::FileExt;

use crate::paths::Paths;
use crate::rootfs::{FsView, Root};
use crate::value::python_float_repr;

// Modules import `Frequency` from here; it lives in `schedule`.
pub use crate::schedule::Frequency;

/// `canon_sem_name`: every `-` becomes `_`.
pub fn canon_sem_name(name: &str) -> String {
    name.replace('-', "_")
}

/// A semaphore file a step would check and write.
#[derive(Clone, Debug, PartialEq)]
pub struct Semaphore {
    /// Guest path of the canonical file.
    pub path: PathBuf,
    /// cloud-init 22.4 also honours the un-canonicalised (dashed) name.
    pub legacy_path: Option<PathBuf>,
}

/// When a semaphore says the step already ran.
#[derive(Clone, Debug, PartialEq)]
pub struct RanAt {
    pub path: PathBuf,
    pub pid: Option<u32>,
    /// Seconds since the epoch, from the file's content (else its mtime).
    pub time: Option<f64>,
}

impl RanAt {
    /// "semaphore /var/lib/cloud/.../config_x written 2026-11-23 23:18:06 UTC by pid 812"
    pub fn describe(&self) -> String {
        let when = self
            .time
            .and_then(|t| chrono::DateTime::from_timestamp(t as i64, 0))
            .map(|d| format!(" written {}", d.format("%Y-%m-%d %H:%M:%S UTC")))
            .unwrap_or_default();
        let pid = self.pid.map(|p| format!(" by pid {p}")).unwrap_or_default();
        format!("semaphore {}{when}{pid}", self.path.display())
    }
}

impl Semaphore {
    /// The semaphore for `run_name` (e.g. `config-write_files`) at `freq`;
    /// `None` for PER_ALWAYS.
    pub fn new(paths: &Paths, run_name: &str, freq: Frequency, iid: &str) -> Option<Semaphore> {
        let dir = paths.sem_dir(freq, iid)?;
        let file = |name: &str| match freq {
            Frequency::Instance => name.to_string(),
            other => format!("{name}.{}", other.as_str()),
        };
        let canon = canon_sem_name(run_name);
        let legacy_path = (canon != run_name).then(|| dir.join(file(run_name)));
        Some(Semaphore {
            path: dir.join(file(&canon)),
            legacy_path,
        })
    }

    /// `has_run`: the file (or its legacy dashed twin) exists.
    pub fn ran(&self, fs: &dyn FsView) -> Option<RanAt> {
        for p in std::iter::once(&self.path).chain(self.legacy_path.iter()) {
            if let Some(st) = fs.stat(p) {
                let (pid, time) = fs
                    .read_string(p)
                    .map(|c| parse_content(&c))
                    .unwrap_or((None, None));
                return Some(RanAt {
                    path: p.clone(),
                    pid,
                    time: time.or(Some(st.mtime as f64)),
                });
            }
        }
        None
    }
}

/// `"<pid>: <time>\n"` for this process, now.
pub fn content_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    format!("{}: {}\n", std::process::id(), python_float_repr(now))
}

fn parse_content(c: &str) -> (Option<u32>, Option<f64>) {
    let mut parts = c.trim().splitn(2, ':');
    let pid = parts.next().and_then(|p| p.trim().parse().ok());
    let time = parts.next().and_then(|t| t.trim().parse().ok());
    (pid, time)
}

/// An exclusive fs2 lock that keeps two cloudboot runs from doing the same
/// step at once. Lock files live on `/run` (per boot), never beside the
/// semaphores, so cloud-init sees nothing new in its directories.
pub struct SemLock {
    _file: File,
}

impl SemLock {
    pub fn acquire(root: &Root, paths: &Paths, sem: &Semaphore) -> io::Result<SemLock> {
        let dir = paths.runpath("cloudboot-locks");
        root.create_dir_all(&dir, 0o700)?;
        let name = sem
            .path
            .strip_prefix("/")
            .unwrap_or(&sem.path)
            .to_string_lossy()
            .replace('/', "!");
        let file = File::from(root.open_fd(
            &dir.join(format!("{name}.lock")),
            false,
            libc::O_WRONLY | libc::O_CREAT,
            0o600,
        )?);
        // Taken at once, or else waited for; but the locks of semaphores
        // this run has yet to put in place (rootfs/commit.rs) are let go
        // first: two runs never each wait for a lock the other holds.
        if file.try_lock_exclusive().is_err() {
            if let Err(e) = root.settle() {
                tracing::warn!("{e}");
            }
            file.lock_exclusive()?;
        }
        Ok(SemLock { _file: file })
    }
}

/// Deletes a semaphore file (for `clean` and tests).
pub fn clear(root: &Root, path: &Path) -> io::Result<()> {
    root.remove(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_places_match_cloud_init() {
        let p = Paths::default();
        let s = Semaphore::new(&p, "config-write-files", Frequency::Instance, "i/1").unwrap();
        assert_eq!(
            s.path,
            Path::new("/var/lib/cloud/instances/i_1/sem/config_write_files")
        );
        assert_eq!(
            s.legacy_path.as_deref(),
            Some(Path::new(
                "/var/lib/cloud/instances/i_1/sem/config-write-files"
            ))
        );
        let once = Semaphore::new(&p, "config-scripts_per_once", Frequency::Once, "x").unwrap();
        assert_eq!(
            once.path,
            Path::new("/var/lib/cloud/sem/config_scripts_per_once.once")
        );
        assert!(Semaphore::new(&p, "config-bootcmd", Frequency::Always, "x").is_none());
    }

    #[test]
    fn content_has_cloud_init_shape() {
        let c = content_now();
        let (pid, time) = parse_content(&c);
        assert_eq!(pid, Some(std::process::id()));
        assert!(time.unwrap() > 1.0e9);
        assert!(c.ends_with('\n'));
    }
}
