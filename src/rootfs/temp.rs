//! Temporary files: how every write stays atomic, and how a crash's leftovers
//! are found again.
//!
//! A file is replaced by writing `.<name>.cloudboot-<id>` next to it and
//! renaming that over the name. `<id>` is this process's pid and 32 random
//! bits, so two runs never pick the same temporary name, even from different
//! PID namespaces on one root. A temporary file is never executable (its
//! execute bits come after the rename), and it starts with a dot, which the
//! script runners skip: a crash can leave one behind, never run one.
//!
//! What a crash leaves is cleaned up at the start of the next stage. A
//! process that makes temporary files keeps a journal,
//! `/var/lib/cloud/data/cloudboot-tmp/<id>`, listing the directories it made
//! them in, and holds an exclusive `flock` on it while it lives. The sweep
//! takes every journal whose lock it can get (its writer is gone), removes
//! that writer's temporary files from the directories listed, and then the
//! journal. A live writer's files are never touched. A writer that ends
//! with no temporary file left appends a marker line, and a sweep reads only
//! what follows the last marker. A process that keeps a journal takes over
//! the first one it swept instead of removing it: renamed to its own id,
//! marked, lock kept. (Each stage would otherwise make one file and remove
//! another; on ext4 finding a free inode among recently freed ones was a
//! tenth of a stage's own time.)

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{sys, Root};

/// A journal taken over keeps its lines up to this many bytes.
const MAX_KEPT_JOURNAL: u64 = 4096;
/// The line after which a journal lists its writer's directories, and that
/// a writer appends when it leaves no temporary file behind.
const CLEAN_EXIT: &[u8] = b"# no temporary files before this line\n";

/// Where the journals live (guest path).
pub const JOURNAL_DIR: &str = "/var/lib/cloud/data/cloudboot-tmp";
const MARK: &str = ".cloudboot-";

/// This process's temporary-file identity and its journal.
#[derive(Debug)]
pub struct Temps {
    id: String,
    journal: Mutex<Journal>,
}

#[derive(Debug, Default)]
struct Journal {
    /// Off for roots that are not booted (`net render --output`, tests).
    enabled: bool,
    file: Option<File>,
    dirs: BTreeSet<PathBuf>,
}

/// 32 bits no other process on this root will pick: std's per-process
/// random hash keys (from the kernel's randomness; `/dev/urandom` where
/// `getrandom` is missing), mixed with the time.
fn random_u32() -> u32 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.write_u32(std::process::id());
    h.finish() as u32
}

impl Temps {
    pub fn new() -> Temps {
        Temps {
            id: format!("{}-{:08x}", std::process::id(), random_u32()),
            journal: Mutex::new(Journal::default()),
        }
    }

    /// `<pid>-<8 hex digits>`: this run's token, unique among runs on one
    /// root (for names that must not collide with another run's).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Keep a journal from now on (the boot stages do).
    pub fn enable_journal(&self) {
        self.journal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .enabled = true;
    }

    /// `.<name>.cloudboot-<id>`, with the name cut short enough that the
    /// whole fits in a directory entry (255 bytes).
    pub fn name_for(&self, name: &OsStr) -> OsString {
        let room = 255 - 1 - MARK.len() - self.id.len();
        let bytes = name.as_bytes();
        let mut out = OsString::from(".");
        out.push(OsStr::from_bytes(&bytes[..bytes.len().min(room)]));
        out.push(MARK);
        out.push(&self.id);
        out
    }

    /// Records that this process is about to make a temporary file in
    /// `dir` (a guest path), before it does. A journal that cannot be
    /// written is not a reason to fail the write itself: the file is still
    /// atomic; only its cleanup after a crash is lost (and logged).
    pub fn note_dir(&self, root: &Root, dir: &Path) {
        let mut j = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        if !j.enabled || j.dirs.contains(dir) {
            return;
        }
        if j.file.is_none() {
            match self.open_journal(root) {
                Ok(f) => j.file = Some(f),
                Err(e) => {
                    tracing::debug!("cannot keep a journal of temporary files: {e}");
                    j.enabled = false;
                    return;
                }
            }
        }
        let mut line = dir.as_os_str().as_bytes().to_vec();
        line.push(b'\n');
        if let Some(f) = j.file.as_mut() {
            // O_APPEND and one write: a line is never torn by a kill.
            let _ = f.write_all(&line);
        }
        j.dirs.insert(dir.to_path_buf());
    }

    /// Says in the journal that this process has no temporary file left
    /// (every write published or removed), so a sweep need not look.
    pub fn clean_exit(&self) {
        let mut j = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = j.file.as_mut() {
            let _ = f.write_all(CLEAN_EXIT);
        }
    }

    fn open_journal(&self, root: &Root) -> io::Result<File> {
        root.create_dir_all(Path::new(JOURNAL_DIR), 0o700)?;
        let at = root.locate(&Path::new(JOURNAL_DIR).join(&self.id), false)?;
        let fd = sys::openat(
            at.dir.as_fd(),
            at.name_or_dot(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_NOFOLLOW,
            0o600,
        )?;
        sys::lock(fd.as_fd())?;
        Ok(File::from(fd))
    }

    /// Removes what writers that are gone left behind; returns how many
    /// temporary files went. Never fails a stage: problems are logged.
    pub fn sweep(&self, root: &Root) -> usize {
        let Ok(names) = root.list_dir(Path::new(JOURNAL_DIR)) else {
            return 0;
        };
        let mut removed = 0;
        for id in names {
            if id == self.id {
                continue;
            }
            let path = Path::new(JOURNAL_DIR).join(&id);
            let Ok(fd) = root.open_fd(&path, false, libc::O_RDWR | libc::O_APPEND, 0) else {
                continue;
            };
            // Held: its writer is still running (another stage, `single`).
            if !sys::try_lock(fd.as_fd()).unwrap_or(false) {
                continue;
            }
            let journal = File::from(fd);
            removed += sweep_one(root, &id, &journal);
            if !self.adopt(root, &id, &journal) {
                if let Err(e) = root.remove(&path) {
                    tracing::debug!("removing {}: {e}", path.display());
                }
            }
        }
        if removed > 0 {
            tracing::info!("removed {removed} temporary file(s) left by an interrupted run");
        }
        removed
    }
}

impl Temps {
    /// Takes the swept journal of writer `id` (locked here) as this
    /// process's own, when it keeps one and has none yet: renamed to this
    /// process's id, its lines kept behind a [`CLEAN_EXIT`] line (a sweep
    /// reads only what follows the last one; emptying the file each stage
    /// would cost ext4 as much as a new one), emptied once it is long.
    fn adopt(&self, root: &Root, id: &str, journal: &File) -> bool {
        let mut j = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        if !j.enabled || j.file.is_some() {
            return false;
        }
        let Ok(at) = root.locate(&Path::new(JOURNAL_DIR).join(id), false) else {
            return false;
        };
        let renamed = sys::renameat(at.dir.as_fd(), OsStr::new(id), OsStr::new(&self.id));
        if renamed.is_err() {
            return false;
        }
        let kept = journal.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
        let ready = match kept > MAX_KEPT_JOURNAL {
            true => journal.set_len(0),
            false => (&*journal).write_all(CLEAN_EXIT),
        };
        if ready.is_err() {
            return false;
        }
        match journal.try_clone() {
            Ok(f) => {
                j.file = Some(f);
                true
            }
            Err(_) => false,
        }
    }
}

impl Default for Temps {
    fn default() -> Temps {
        Temps::new()
    }
}

/// Removes writer `id`'s temporary files from the directories its journal
/// lists (a bounded read: a journal is a few lines).
fn sweep_one(root: &Root, id: &str, journal: &File) -> usize {
    let mut text = Vec::new();
    let _ = io::Read::read_to_end(&mut io::Read::take(journal, 1 << 20), &mut text);
    // Lines before the last clean exit are from writers that left nothing.
    let marker = CLEAN_EXIT.len();
    if let Some(at) = text.windows(marker).rposition(|w| w == CLEAN_EXIT) {
        text.drain(..at + marker);
    }
    let suffix = format!("{MARK}{id}");
    let mut removed = 0;
    for dir in text.split(|&b| b == b'\n').filter(|l| l.starts_with(b"/")) {
        let dir = Path::new(OsStr::from_bytes(dir));
        let Ok(entries) = root.list_dir(dir) else {
            continue;
        };
        for name in entries {
            if name.starts_with('.') && name.ends_with(&suffix) {
                let p = dir.join(&name);
                match root.remove(&p) {
                    Ok(()) => {
                        tracing::debug!("removed {} (left by an interrupted run)", p.display());
                        removed += 1;
                    }
                    Err(e) => tracing::warn!("removing {}: {e}", p.display()),
                }
            }
        }
    }
    removed
}

/// Whether `name` is one of cloudboot's temporary names (any writer's).
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.')
        && name.rsplit_once(MARK).is_some_and(|(_, id)| {
            id.split_once('-').is_some_and(|(pid, rand)| {
                !pid.is_empty()
                    && pid.bytes().all(|b| b.is_ascii_digit())
                    && rand.len() == 8
                    && rand.bytes().all(|b| b.is_ascii_hexdigit())
            })
        })
}
