//! The target root: every path cloudboot touches is a path *inside* it.
//!
//! Paths in cloudboot are guest paths (`/etc/hosts`, `/var/lib/cloud/instance`).
//! [`Root::resolve`] turns one into a path on this machine, following symlinks
//! the way the kernel would after `chroot`: an absolute link target starts again
//! at the root, and `..` never climbs out of it. That matters because
//! `/var/lib/cloud/instance` is an absolute link, and because an image is input
//! we do not trust.
//!
//! [`FsView`] is the read side modules see. The live view reads the root; the
//! plan view (see `plan.rs`) reads an overlay of effects not yet applied.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

mod commit;
mod dir_cache;
mod limited;
mod resolve;
mod sys;
mod temp;

pub use commit::Held;
pub use limited::{read_limited, too_large, ReadError};
pub use resolve::{components, Located, MAX_SYMLINKS};
pub use temp::{is_temp_name, Temps, JOURNAL_DIR};

use commit::{Group, Staged};
use dir_cache::DirCache;

/// The directory that stands for `/` of the machine being configured.
///
/// Every operation takes a guest path and works from a descriptor of the
/// root directory (see `resolve.rs`), so no path, link or race can make it
/// read or write outside the root.
#[derive(Clone)]
pub struct Root {
    host: PathBuf,
    /// The root directory, opened on first use (an error is kept and given
    /// to every operation: a root that cannot be opened fails them all).
    fd: Arc<OnceLock<Result<OwnedFd, (io::ErrorKind, String)>>>,
    temps: Arc<Temps>,
    /// Resolved directories, kept in stage mode (see `dir_cache.rs`).
    dirs: Arc<DirCache>,
    /// Writes staged for the next group commit, in stage mode (see `commit.rs`).
    group: Arc<Group>,
    /// Something a power cut must not undo changed since the last `syncfs`
    /// (a rename, link, removal, new directory, lazy write or program): a
    /// settle then syncs once more. Reports do not count (`set_reports`).
    unsynced: Arc<AtomicBool>,
    /// Files replaced so often that losing the last rename to a power cut
    /// only shows their previous (whole) version: status.json, result.json.
    reports: Arc<Mutex<Vec<PathBuf>>>,
    /// Filesystems other than the root's written since the last sync, each
    /// by a directory open on it: an image may keep `/var` (where
    /// cloud-init's state lives), `/home` or `/srv` on one of its own, and
    /// `syncfs` flushes only the filesystem of the descriptor it is given.
    elsewhere: Arc<Mutex<Vec<(u64, OwnedFd)>>>,
    /// The root directory's filesystem (its device), once known.
    root_dev: Arc<OnceLock<u64>>,
    /// A filesystem was written that no descriptor could be opened on: the
    /// next sync is `sync(2)`, all of them.
    flush_all: Arc<AtomicBool>,
    /// Resolve without `openat2`, as on kernels before 5.6 (tests).
    walk_only: bool,
}

impl std::fmt::Debug for Root {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Root").field("host", &self.host).finish()
    }
}

/// How a resolution error reads: `ELOOP` says what it means here.
fn explain(e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        io::Error::new(
            e.kind(),
            format!(
                "too many levels of symbolic links inside the root (a loop, or more than {MAX_SYMLINKS} links)"
            ),
        )
    } else {
        e
    }
}

impl Root {
    pub fn new(host: impl Into<PathBuf>) -> Root {
        let host = host.into();
        let host = if host.as_os_str().is_empty() {
            PathBuf::from("/")
        } else {
            host
        };
        Root {
            host,
            fd: Arc::new(OnceLock::new()),
            temps: Arc::new(Temps::new()),
            dirs: Arc::new(DirCache::default()),
            group: Arc::new(Group::default()),
            unsynced: Arc::new(AtomicBool::new(false)),
            reports: Arc::new(Mutex::new(Vec::new())),
            elsewhere: Arc::new(Mutex::new(Vec::new())),
            root_dev: Arc::new(OnceLock::new()),
            flush_all: Arc::new(AtomicBool::new(false)),
            walk_only: false,
        }
    }

    /// This root, resolved by the component-by-component walk only (what
    /// a kernel without `openat2` gets), for tests that check both ways.
    pub fn walk_only(mut self) -> Root {
        self.walk_only = true;
        self
    }

    /// The root directory as a path on this machine.
    pub fn host_path(&self) -> &Path {
        &self.host
    }

    /// True when we configure the machine we run on (root `/`): programs
    /// run without chroot and host actions are performed. (Whether the
    /// kernel's answers are about the root's files is
    /// [`crate::host::Host::is_live_root`], which says why the two differ.)
    pub fn is_host_root(&self) -> bool {
        self.host == Path::new("/")
            || fs::canonicalize(&self.host)
                .map(|p| p == Path::new("/"))
                .unwrap_or(false)
    }

    /// This process's temporary files under this root.
    pub fn temps(&self) -> &Temps {
        &self.temps
    }

    fn fd(&self) -> io::Result<BorrowedFd<'_>> {
        let opened = self.fd.get_or_init(|| {
            File::open(&self.host)
                .and_then(|f| {
                    if f.metadata()?.is_dir() {
                        Ok(OwnedFd::from(f))
                    } else {
                        Err(io::Error::from_raw_os_error(libc::ENOTDIR))
                    }
                })
                .map_err(|e| (e.kind(), format!("the root {}: {e}", self.host.display())))
        });
        match opened {
            Ok(fd) => Ok(fd.as_fd()),
            Err((kind, msg)) => Err(io::Error::new(*kind, msg.clone())),
        }
    }

    /// Stage mode, for a boot stage on this root (all clones): writes are
    /// grouped and made durable together ([`Root::publish`],
    /// [`Root::settle`]: see `commit.rs`), and resolved directories are kept
    /// until the next commit (`dir_cache.rs`). Whoever turns it on settles
    /// at the stage's end.
    pub fn begin_stage(&self) {
        self.group.enable();
        self.dirs.enable();
    }

    fn in_stage(&self) -> bool {
        self.group.is_enabled()
    }

    /// Where `guest` is: its directory, open, and its last name. A staged
    /// file there is published first, so what is found is what was written.
    pub fn locate(&self, guest: &Path, follow_last: bool) -> io::Result<Located> {
        let at = self.locate_staged(guest, follow_last)?;
        if let Some(name) = &at.name {
            if !self.group.is_empty() && self.group.staged_tmp(at.dir.id, name).is_some() {
                self.publish_now();
            }
        }
        Ok(at)
    }

    /// [`Root::locate`] without publishing a file staged there (for a write
    /// that replaces it).
    fn locate_staged(&self, guest: &Path, follow_last: bool) -> io::Result<Located> {
        let root = self.fd()?;
        let open_dir = |dir: &Path| {
            self.dirs
                .open(dir, || resolve::open_dir(root, dir, self.walk_only))
        };
        resolve::locate(guest, follow_last, open_dir).map_err(explain)
    }

    /// Publishes what is staged because someone is about to look
    /// (errors are kept for the next [`Root::settle`] to report).
    fn publish_now(&self) {
        if let Err(e) = self.publish_all() {
            tracing::warn!("{e}");
        }
    }

    /// Makes every staged file visible under its name (`commit.rs` steps 1
    /// and 2), but for ordered files that must wait for one more `syncfs`:
    /// before anything reads one by a path.
    pub fn publish(&self) -> io::Result<()> {
        let (renamed, published) = self.group.publish(|| self.sync());
        // After the publish's own syncfs: the renames are what is unsynced.
        self.renamed(&renamed);
        published
    }

    /// [`Root::publish`], ordered files too (a second publish takes those
    /// the first kept back): before a program runs.
    pub fn publish_all(&self) -> io::Result<()> {
        let first = self.publish();
        let second = match self.has_staged() {
            true => self.publish(),
            false => Ok(()),
        };
        first.and(second)
    }

    /// Makes everything done so far durable: staged files published and
    /// one `syncfs` for them, new directories, links and what programs
    /// wrote, and ordered files (semaphores) then put in place and synced.
    /// After the semaphore of a module that ran programs, and at a stage's
    /// end. The last `syncfs` is spared when only reports were renamed
    /// since the one before (`set_reports`).
    pub fn settle(&self) -> io::Result<()> {
        let published = self.publish();
        // The cache lives no longer than a module (see dir_cache.rs).
        self.dirs.forget();
        if !self.in_stage() {
            self.sync()?;
        }
        // A sync puts in place the ordered files that waited for it, and
        // the next makes them durable: twice at most.
        for _ in 0..3 {
            if !self.unsynced.load(Ordering::Relaxed) {
                break;
            }
            self.sync()?;
        }
        published
    }

    /// Names the files that are reports (guest paths as written): losing
    /// the last rename of one to a power cut leaves its previous whole
    /// version, which is no reason for a settle to sync again.
    pub fn set_reports(&self, paths: Vec<PathBuf>) {
        *self.reports.lock().unwrap_or_else(|e| e.into_inner()) = paths;
    }

    fn is_report(&self, guest: &Path) -> bool {
        let reports = self.reports.lock().unwrap_or_else(|e| e.into_inner());
        reports.iter().any(|r| r == guest)
    }

    /// Something changed that the next settle must make durable (a
    /// program ran, or the root changed a name).
    pub fn changed(&self) {
        self.unsynced.store(true, Ordering::Relaxed);
    }

    /// Whether writes wait to be published.
    pub fn has_staged(&self) -> bool {
        !self.group.is_empty()
    }

    /// A program ran: it may have changed any directory resolved so far,
    /// and what it wrote is made durable at the next settle, on the root's
    /// filesystem and on `filesystems` (host paths of the others mounted
    /// inside the root, where it may have written too).
    pub fn after_program(&self, filesystems: &[PathBuf]) {
        self.dirs.forget();
        for path in filesystems {
            match File::open(path).and_then(|f| Ok((f.metadata()?.dev(), f))) {
                Ok((dev, f)) => self.wrote_on(dev, || Ok(OwnedFd::from(f))),
                Err(_) => self.flush_all.store(true, Ordering::Relaxed),
            }
        }
        self.changed();
    }

    /// What a publish or release renamed is for the next sync to flush.
    fn renamed(&self, renamed: &commit::Renamed) {
        renamed.on.iter().for_each(|d| self.wrote_in(d));
        if renamed.lasting {
            self.changed();
        }
    }

    /// Something changed in `dir` that the next settle must make durable
    /// (nothing, on a filesystem in memory).
    fn changed_in(&self, dir: &resolve::Dir) {
        if !dir.in_memory() {
            self.wrote_in(dir);
            self.changed();
        }
    }

    /// Something was written in `dir`: if that is another filesystem than
    /// the root's, the next sync flushes it too.
    fn wrote_in(&self, dir: &resolve::Dir) {
        self.wrote_on(dir.id.0, || sys::open_for_sync(dir.as_fd()));
    }

    /// Something was written on filesystem `dev`; `open` gives a descriptor
    /// on it that `syncfs` takes (not an `O_PATH` one).
    fn wrote_on(&self, dev: u64, open: impl FnOnce() -> io::Result<OwnedFd>) {
        let root_dev = self.root_dev.get_or_init(|| {
            let st = self
                .fd()
                .and_then(|fd| sys::fstatat(fd, OsStr::new(""), false));
            // (dev_t is not a u64 on every target.)
            #[allow(clippy::unnecessary_cast)]
            st.map(|st| st.st_dev as u64).unwrap_or(u64::MAX)
        });
        if dev == *root_dev {
            return;
        }
        let mut elsewhere = self.elsewhere.lock().unwrap_or_else(|e| e.into_inner());
        if elsewhere.iter().any(|(d, _)| *d == dev) {
            return;
        }
        match open() {
            Ok(fd) => elsewhere.push((dev, fd)),
            // Not flushed on its own: the next sync is sync(2).
            Err(_) => self.flush_all.store(true, Ordering::Relaxed),
        }
    }

    /// The host path of a guest path, every link followed inside the root:
    /// for naming the path to a person, or to code that must have a path
    /// (a device to read). Reads and writes use the descriptor-based calls
    /// below, which cannot be raced out of the root.
    pub fn resolve(&self, guest: &Path) -> io::Result<PathBuf> {
        self.host_of(guest, true)
    }

    /// As [`Root::resolve`], but a link in the last component is kept.
    pub fn resolve_parent(&self, guest: &Path) -> io::Result<PathBuf> {
        self.host_of(guest, false)
    }

    fn host_of(&self, guest: &Path, follow_last: bool) -> io::Result<PathBuf> {
        let canonical = canonical_path(guest, follow_last, |prefix| self.read_link(prefix).ok())?;
        Ok(self
            .host
            .join(canonical.strip_prefix("/").unwrap_or(&canonical)))
    }

    /// Opens `guest` with `flags` (`O_NOFOLLOW` is always added for the
    /// last name: `follow_last` follows a link there inside the root first).
    pub fn open_fd(
        &self,
        guest: &Path,
        follow_last: bool,
        flags: i32,
        mode: u32,
    ) -> io::Result<OwnedFd> {
        // Most names are not links: open the name itself first, and only
        // when it is one (O_NOFOLLOW refuses it: ELOOP, or ENOTDIR for a
        // directory) walk the link. Not with O_EXCL, which reports a link
        // as existing rather than refusing it.
        if follow_last && flags & libc::O_EXCL == 0 {
            let at = self.locate(guest, false)?;
            if at.name.is_some() {
                match sys::openat(
                    at.dir.as_fd(),
                    at.name_or_dot(),
                    flags | libc::O_NOFOLLOW,
                    mode,
                ) {
                    Err(e)
                        if e.raw_os_error() == Some(libc::ELOOP)
                            || (flags & libc::O_DIRECTORY != 0
                                && e.raw_os_error() == Some(libc::ENOTDIR)) => {}
                    opened => return opened.map_err(explain),
                }
            }
        }
        let at = self.locate(guest, follow_last)?;
        let flags = if at.name.is_some() {
            flags | libc::O_NOFOLLOW
        } else {
            flags
        };
        sys::openat(at.dir.as_fd(), at.name_or_dot(), flags, mode).map_err(explain)
    }

    /// The whole file, following links inside the root.
    pub fn read(&self, guest: &Path) -> io::Result<Vec<u8>> {
        let f = self.open_read(guest)?;
        // Sized once from fstat; read through a plain reader, since std's
        // read_to_end on a File asks for the size again (fstat and lseek).
        struct Plain<'a>(&'a File);
        impl Read for Plain<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                (&mut &*self.0).read(buf)
            }
        }
        let size = f.metadata()?.len();
        let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0).saturating_add(1));
        Plain(&f).read_to_end(&mut out)?;
        Ok(out)
    }

    /// A file to read, following links inside the root. (`O_NONBLOCK`: a
    /// FIFO planted where a file should be cannot hang the open.)
    pub fn open_read(&self, guest: &Path) -> io::Result<File> {
        // A staged file is read from its temporary file, whose content is
        // whole: reading it needs no publish (and no syncfs).
        if self.has_staged() {
            if let Ok(at) = self.locate_staged(guest, true) {
                let tmp = at
                    .name
                    .as_deref()
                    .and_then(|n| self.group.staged_tmp(at.dir.id, n));
                if let Some((tmp, _)) = tmp {
                    let flags =
                        libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_NOFOLLOW;
                    return sys::openat(at.dir.as_fd(), &tmp, flags, 0).map(File::from);
                }
            }
        }
        self.open_fd(
            guest,
            true,
            libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY,
            0,
        )
        .map(File::from)
    }

    /// Metadata; with `follow_last` false a link is reported as itself.
    pub fn stat(&self, guest: &Path, follow_last: bool) -> io::Result<Stat> {
        // The name itself first: only a link needs the walk that follows it.
        let mut at = self.locate_staged(guest, false)?;
        // A staged file is its temporary file, but for the execute bits
        // it gets once renamed.
        let staged = match (&at.name, self.group.is_empty()) {
            (Some(name), false) => self.group.staged_tmp(at.dir.id, name),
            _ => None,
        };
        if let Some((tmp, exec_mode)) = staged {
            let mut st = sys::fstatat(at.dir.as_fd(), &tmp, false).map(|st| Stat::from_raw(&st))?;
            if let Some(mode) = exec_mode {
                st.mode = mode & 0o7777;
            }
            return Ok(st);
        }
        if follow_last {
            if let Some(name) = at.name.as_deref() {
                match sys::fstatat(at.dir.as_fd(), name, false) {
                    Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFLNK => {
                        at = self.locate(guest, true)?;
                    }
                    found => return found.map(|st| Stat::from_raw(&st)).map_err(explain),
                }
            }
        }
        let name = at.name.as_deref().unwrap_or(OsStr::new(""));
        sys::fstatat(at.dir.as_fd(), name, false)
            .map(|st| Stat::from_raw(&st))
            .map_err(explain)
    }

    /// Entry names of a directory, sorted byte-wise.
    pub fn list_dir(&self, guest: &Path) -> io::Result<Vec<String>> {
        let fd = self.open_fd(guest, true, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
        // Files staged here are listed by their names (as after a publish,
        // which a listing need not force), their temporary names not.
        let staged = match self.group.is_empty() {
            true => Vec::new(),
            false => {
                let st = sys::fstatat(fd.as_fd(), OsStr::new(""), false)?;
                self.group.staged_in((st.st_dev as u64, st.st_ino as u64))
            }
        };
        let mut names: Vec<String> = sys::read_dir(fd)?
            .into_iter()
            .filter(|n| !staged.iter().any(|(_, tmp)| tmp == n))
            .chain(staged.iter().map(|(name, _)| name.clone()))
            .map(|n| n.to_string_lossy().into_owned())
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// The target of a symlink.
    pub fn read_link(&self, guest: &Path) -> io::Result<PathBuf> {
        let at = self.locate(guest, false)?;
        let name = at
            .name
            .as_deref()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        sys::readlinkat(at.dir.as_fd(), name).map(PathBuf::from)
    }

    pub fn exists(&self, guest: &Path) -> bool {
        self.stat(guest, true).is_ok()
    }

    /// `mkdir -p`: every directory it creates gets `mode` (not masked by
    /// the umask), and the directory holding each new one is fsync'd, so a
    /// new directory survives a power cut with what is written in it.
    pub fn create_dir_all(&self, guest: &Path, mode: u32) -> io::Result<()> {
        self.mkdirs(guest, mode, 0)
    }

    fn mkdirs(&self, guest: &Path, mode: u32, depth: usize) -> io::Result<()> {
        if depth > 4096 {
            return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
        }
        // Resolved (so there) since the last commit.
        if self.dirs.contains(guest) {
            return Ok(());
        }
        let at = match self.locate(guest, true) {
            Ok(at) => at,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let parent = guest.parent().unwrap_or(Path::new("/"));
                self.mkdirs(parent, mode, depth + 1)?;
                self.locate(guest, true)?
            }
            Err(e) => return Err(e),
        };
        let Some(name) = at.name.as_deref() else {
            return Ok(()); // the root, or a path ending in `..`: there.
        };
        match sys::mkdirat(at.dir.as_fd(), name, mode) {
            Ok(()) => {
                let fd = sys::openat(
                    at.dir.as_fd(),
                    name,
                    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                    0,
                )?;
                File::from(fd).set_permissions(fs::Permissions::from_mode(mode))?;
                // In stage mode, the next settle's syncfs covers it.
                match self.in_stage() {
                    true => self.changed_in(&at.dir),
                    false => sync_fd(at.dir.as_fd()),
                }
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                match sys::fstatat(at.dir.as_fd(), name, false) {
                    Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => Ok(()),
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Replaces `guest` with what `src` yields, atomically: a reader, or a
    /// crash, sees the old file or the whole new one. A link in the last
    /// component is followed inside the root, as `open(2)` would after
    /// `chroot` and as cloud-init's `write_file` does (`/etc/resolv.conf`
    /// pointing into `/run` is written where it points). `limit` bounds the bytes taken from `src`; more is
    /// an error and nothing is replaced. Missing parents are made (0755).
    /// Returns the bytes written. In stage mode the file is staged: in
    /// place, and durable, once published and settled (`commit.rs`).
    pub fn write_atomic(
        &self,
        guest: &Path,
        src: &mut dyn Read,
        limit: Option<u64>,
        mode: u32,
        owner: Option<(Option<u32>, Option<u32>)>,
    ) -> io::Result<u64> {
        let (Replacing { at, name, tmp }, mut f) = self.new_content(guest)?;
        let name = name.as_os_str();
        let dir = at.dir.as_fd();
        // A file in memory (/run) is gone at the next boot whatever is
        // synced: it is put in place at once, with no flush.
        let in_memory = at.dir.in_memory();
        let staging = self.in_stage() && !in_memory;
        let result = (|| {
            let n = copy_limited(src, &mut f, limit)?;
            if let Some((uid, gid)) = owner {
                std::os::unix::fs::fchown(&f, uid, gid)?;
            }
            // chmod after chown (chown clears setuid/setgid bits); the
            // execute bits only once the file has its name, so a temporary
            // file is never a runnable script.
            f.set_permissions(fs::Permissions::from_mode(mode & !0o111))?;
            if staging {
                return Ok(n);
            }
            if !in_memory {
                f.sync_all()?;
            }
            sys::renameat(dir, &tmp, name)?;
            Ok(n)
        })();
        if result.is_ok() && staging {
            self.wrote_in(&at.dir);
            let full = self.group.stage(Staged {
                dir: at.dir.clone(),
                tmp,
                name: name.to_os_string(),
                exec_mode: (mode & 0o111 != 0).then_some(mode),
                guest: guest.to_path_buf(),
                ordered: false,
                report: self.is_report(guest),
                hold: None,
            });
            if full {
                self.publish()?;
            }
            return result;
        }
        match result {
            Ok(n) => {
                if mode & 0o111 != 0 {
                    f.set_permissions(fs::Permissions::from_mode(mode))?;
                }
                if !in_memory {
                    sync_fd(dir);
                }
                Ok(n)
            }
            Err(e) => {
                let _ = sys::unlinkat(dir, &tmp, false);
                Err(e)
            }
        }
    }

    /// What replacing `guest` by a rename needs: its directory (made if
    /// missing, 0755), its name there, and a temporary name beside it,
    /// journaled before it is used (see `temp.rs`).
    fn replacing(&self, guest: &Path, follow_last: bool) -> io::Result<Replacing> {
        let parent = guest.parent().unwrap_or(Path::new("/"));
        self.create_dir_all(parent, 0o755)?;
        let at = self.locate_staged(guest, follow_last)?;
        let name = at
            .name
            .clone()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EISDIR))?;
        // A directory under the name: the rename would fail (EISDIR). Said
        // now, as the write's own error, not at a stage's publish, when
        // the writes after it went through (and a staged file there would
        // have looked like the file to be).
        if let Ok(st) = sys::fstatat(at.dir.as_fd(), &name, false) {
            if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
                return Err(io::Error::from_raw_os_error(libc::EISDIR));
            }
        }
        // Written again before anyone saw the staged content: it is dropped
        // (its temporary name is the one this write takes). Removed, not
        // emptied for reuse: an append may be reading it as the old content.
        if !self.group.is_empty() && self.group.unstage(at.dir.id, &name) {
            let _ = sys::unlinkat(at.dir.as_fd(), &self.temps.name_for(&name), false);
        }
        // Journaled where the temporary file really goes (a followed link
        // may point into another directory).
        self.temps.note_dir(self, &at.dir_path);
        let tmp = self.temps.name_for(&name);
        Ok(Replacing { at, name, tmp })
    }

    /// Where `guest` (a link in its last name followed) gets new content,
    /// and the temporary file to write it in.
    fn new_content(&self, guest: &Path) -> io::Result<(Replacing, File)> {
        let r = self.replacing(guest, true)?;
        let fd = self.create_temp(r.at.dir.as_fd(), &r.tmp)?;
        Ok((r, File::from(fd)))
    }

    /// Creates the temporary file `tmp` in `dir` (0600, never a link). In
    /// stage mode a staged file may hold the same name (two long names
    /// that share the part kept): it is published, and the name is free.
    fn create_temp(&self, dir: BorrowedFd, tmp: &OsStr) -> io::Result<OwnedFd> {
        let create = || {
            sys::openat(
                dir,
                tmp,
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
                0o600,
            )
        };
        match create() {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && self.has_staged() => {
                self.publish_all()?;
                create()
            }
            other => other,
        }
    }

    /// [`Root::write_atomic`] of bytes.
    pub fn write_bytes(
        &self,
        guest: &Path,
        data: &[u8],
        mode: u32,
        owner: Option<(Option<u32>, Option<u32>)>,
    ) -> io::Result<()> {
        self.write_atomic(guest, &mut &data[..], None, mode, owner)
            .map(drop)
    }

    /// Creates or replaces the symlink `guest` -> `target`, atomically.
    pub fn symlink(&self, guest: &Path, target: &Path) -> io::Result<()> {
        let Replacing { at, name, tmp, .. } = self.replacing(guest, false)?;
        let name = name.as_os_str();
        let dir = at.dir.as_fd();
        let _ = sys::unlinkat(dir, &tmp, false);
        sys::symlinkat(target.as_os_str(), dir, &tmp)?;
        if let Err(e) = sys::renameat(dir, &tmp, name) {
            let _ = sys::unlinkat(dir, &tmp, false);
            return Err(e);
        }
        if self.in_stage() {
            // A link changes what paths resolve to.
            self.dirs.forget();
            self.changed_in(&at.dir);
        } else {
            sync_fd(dir);
        }
        Ok(())
    }

    /// Writes `data` to `guest` so that, after a power cut, it is never on
    /// disk without the files staged before it, nor, with `own_changes`,
    /// without anything changed in place since the last `syncfs`: a
    /// module's semaphore, which says its work is done (in stage mode;
    /// outside it, a durable write). `own_changes` is false for a module
    /// that did nothing: the changes of the modules before it do not need
    /// it to wait. Read through the root, it is there at once; under its
    /// name on disk, once what came before is durable (at the next publish,
    /// or the one after: `commit.rs`), and `hold` (a lock another run waits
    /// on) is kept until then. When nothing waits to be made durable (but
    /// reports) it is put in place at once, durable at the next settle.
    pub fn write_in_order(
        &self,
        guest: &Path,
        data: &[u8],
        mode: u32,
        own_changes: bool,
        hold: Option<Held>,
    ) -> io::Result<()> {
        if !self.in_stage() {
            return self.write_bytes(guest, data, mode, None);
        }
        let (Replacing { at, name, tmp }, mut f) = self.new_content(guest)?;
        let dir = at.dir.as_fd();
        // (In memory, it is gone at the next boot anyway.)
        let in_place_now = at.dir.in_memory()
            || (!(own_changes && self.unsynced.load(Ordering::Relaxed))
                && self.group.only_reports());
        let result = io::Write::write_all(&mut f, data)
            .and_then(|()| f.set_permissions(fs::Permissions::from_mode(mode & !0o111)))
            .and_then(|()| match in_place_now {
                true => sys::renameat(dir, &tmp, &name),
                false => Ok(()),
            });
        if let Err(e) = result {
            let _ = sys::unlinkat(dir, &tmp, false);
            return Err(e);
        }
        if in_place_now {
            self.changed_in(&at.dir);
            return Ok(());
        }
        self.wrote_in(&at.dir);
        let full = self.group.stage(Staged {
            dir: at.dir.clone(),
            tmp,
            name,
            exec_mode: None,
            guest: guest.to_path_buf(),
            ordered: true,
            report: false,
            hold,
        });
        match full {
            true => self.publish(),
            false => Ok(()),
        }
    }

    /// Removes a file, a link (not what it points to) or a whole directory
    /// tree; an absent path is fine.
    pub fn remove(&self, guest: &Path) -> io::Result<()> {
        let at = match self.locate(guest, false) {
            Ok(at) => at,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let Some(name) = at.name.as_deref() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "refusing to remove the root itself",
            ));
        };
        // A directory (or link) that goes may be one resolved before.
        self.dirs.forget();
        self.changed_in(&at.dir);
        remove_at(at.dir.as_fd(), name, 0)
    }

    /// Gives an existing path (links followed inside the root) an owner
    /// (`None` halves are left) and/or a mode.
    pub fn set_owner_mode(
        &self,
        guest: &Path,
        owner: Option<(Option<u32>, Option<u32>)>,
        mode: Option<u32>,
    ) -> io::Result<()> {
        // O_NONBLOCK: a FIFO must not hang us; opening is only to hold
        // the very file we change.
        let f = File::from(self.open_fd(
            guest,
            true,
            libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY,
            0,
        )?);
        // (Nothing to make durable on a filesystem in memory.)
        if !sys::fs_type(f.as_fd()).is_ok_and(sys::is_memory_fs) {
            if let Ok(st) = f.metadata() {
                self.wrote_on(st.dev(), || f.try_clone().map(OwnedFd::from));
            }
            self.changed();
        }
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::fchown(&f, uid, gid)?;
        }
        // chmod after chown: chown clears setuid/setgid bits.
        if let Some(m) = mode {
            f.set_permissions(fs::Permissions::from_mode(m))?;
        }
        Ok(())
    }

    /// A file to append to (created with `mode`, parents 0755), for logs.
    pub fn open_append(&self, guest: &Path, mode: u32) -> io::Result<File> {
        self.create_dir_all(guest.parent().unwrap_or(Path::new("/")), 0o755)?;
        self.open_fd(
            guest,
            true,
            libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND,
            mode,
        )
        .map(File::from)
    }

    /// Flushes the filesystems written since the last sync: the root's and
    /// every other a write or a program went to (`syncfs` each, `sync` on
    /// kernels without it, or where no descriptor could be had); then puts
    /// in place the ordered files that only waited for it (`commit.rs`).
    pub fn sync(&self) -> io::Result<()> {
        // Cleared first: a change made while the flush runs is not covered.
        self.unsynced.store(false, Ordering::Relaxed);
        let elsewhere =
            std::mem::take(&mut *self.elsewhere.lock().unwrap_or_else(|e| e.into_inner()));
        let flushed = if self.flush_all.swap(false, Ordering::Relaxed) {
            sys::sync_all();
            Ok(())
        } else {
            let others = || {
                elsewhere
                    .iter()
                    .try_for_each(|(_, fd)| sys::syncfs(fd.as_fd()))
            };
            sys::syncfs(self.fd()?).and_then(|()| others())
        };
        if let Err(e) = flushed {
            self.changed();
            self.elsewhere
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(elsewhere);
            return Err(e);
        }
        let (renamed, released) = self.group.release();
        self.renamed(&renamed);
        released
    }
}

/// What [`Root::replacing`] found: where the name is, the name, and the
/// temporary name beside it.
struct Replacing {
    at: Located,
    name: std::ffi::OsString,
    tmp: std::ffi::OsString,
}

/// Copies `src` into `dst`, failing once more than `limit` bytes came.
fn copy_limited(src: &mut dyn Read, dst: &mut File, limit: Option<u64>) -> io::Result<u64> {
    let Some(limit) = limit else {
        return io::copy(src, dst);
    };
    let n = io::copy(&mut src.take(limit + 1), dst)?;
    if n > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("more than the limit of {limit} bytes"),
        ));
    }
    Ok(n)
}

/// Removes `name` in `dir`, recursively if it is a directory (never
/// following a link), at most 256 levels deep.
fn remove_at(dir: BorrowedFd, name: &OsStr, depth: usize) -> io::Result<()> {
    match sys::unlinkat(dir, name, false) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EISDIR | libc::EPERM)) => {
            if depth >= 256 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "directory tree more than 256 levels deep",
                ));
            }
            let sub = sys::openat(
                dir,
                name,
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                0,
            )
            .map_err(|_| e)?;
            for entry in sys::read_dir(sub.try_clone()?)? {
                remove_at(sub.as_fd(), &entry, depth + 1)?;
            }
            sys::unlinkat(dir, name, true)
        }
        Err(e) => Err(e),
    }
}

/// fsync a directory so a rename or a new entry in it survives power loss
/// (best effort: some filesystems refuse fsync on directories).
fn sync_fd(dir: BorrowedFd) {
    // An O_PATH descriptor cannot be fsync'd: reopen the directory itself.
    if let Ok(fd) = sys::openat(dir, OsStr::new("."), libc::O_RDONLY | libc::O_DIRECTORY, 0) {
        let _ = File::from(fd).sync_all();
    }
}

/// A guest path with every symlink followed as the kernel would inside a
/// chroot: `read_link` answers for a resolved prefix; an absolute target
/// starts again at `/`; `..` stops at `/`. More than 40 links (a loop) is
/// `ELOOP`. With `follow_last` false a link in the last component is kept
/// (to replace or remove the link itself). For views that are not a
/// directory on disk (the plan's overlay) and for naming paths.
pub fn canonical_path(
    path: &Path,
    follow_last: bool,
    read_link: impl Fn(&Path) -> Option<PathBuf>,
) -> io::Result<PathBuf> {
    let mut pending = components(path);
    pending.reverse();
    let mut cur = PathBuf::from("/");
    let mut links = 0usize;
    while let Some(part) = pending.pop() {
        if part == ".." {
            cur.pop();
            continue;
        }
        let next = cur.join(&part);
        if follow_last || !pending.is_empty() {
            if let Some(target) = read_link(&next) {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(explain(io::Error::from_raw_os_error(libc::ELOOP)));
                }
                if target.is_absolute() {
                    cur = PathBuf::from("/");
                }
                let mut t = components(&target);
                t.reverse();
                pending.extend(t);
                continue;
            }
        }
        cur = next;
    }
    Ok(cur)
}

/// What kind of thing a path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Other,
}

/// The facts about a file that plans and modules look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    pub kind: Kind,
    /// Permission bits (07777).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub len: u64,
    /// Seconds since the epoch.
    pub mtime: i64,
}

impl Stat {
    fn from_raw(st: &libc::stat) -> Stat {
        let kind = match st.st_mode & libc::S_IFMT {
            libc::S_IFLNK => Kind::Symlink,
            libc::S_IFDIR => Kind::Dir,
            libc::S_IFREG => Kind::File,
            _ => Kind::Other,
        };
        Stat {
            kind,
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
            len: st.st_size as u64,
            mtime: st.st_mtime,
        }
    }

    pub fn from_metadata(md: &fs::Metadata) -> Stat {
        let ft = md.file_type();
        let kind = if ft.is_symlink() {
            Kind::Symlink
        } else if ft.is_dir() {
            Kind::Dir
        } else if ft.is_file() {
            Kind::File
        } else {
            Kind::Other
        };
        Stat {
            kind,
            mode: md.mode() & 0o7777,
            uid: md.uid(),
            gid: md.gid(),
            len: md.len(),
            mtime: md.mtime(),
        }
    }
}

/// Read access to the target root, by guest path.
pub trait FsView {
    /// The whole file; `ErrorKind::NotFound` when absent.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// The file, but never more than `max` + 1 bytes of it (one more tells
    /// it is larger), so a hostile input's size cannot decide what it costs.
    fn read_at_most(&self, path: &Path, max: u64) -> io::Result<Vec<u8>> {
        let mut data = self.read(path)?;
        data.truncate(usize::try_from(max.saturating_add(1)).unwrap_or(usize::MAX));
        Ok(data)
    }
    /// Metadata, following symlinks; `None` when absent.
    fn stat(&self, path: &Path) -> Option<Stat>;
    /// Metadata of the path itself (a symlink is reported as one).
    fn lstat(&self, path: &Path) -> Option<Stat>;
    /// Entry names of a directory, sorted byte-wise.
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>>;
    /// The target of a symlink.
    fn read_link(&self, path: &Path) -> io::Result<PathBuf>;

    fn exists(&self, path: &Path) -> bool {
        self.stat(path).is_some()
    }

    fn is_dir(&self, path: &Path) -> bool {
        matches!(
            self.stat(path),
            Some(Stat {
                kind: Kind::Dir,
                ..
            })
        )
    }

    /// Text content, or `None` if the file is absent or unreadable.
    fn read_string(&self, path: &Path) -> Option<String> {
        self.read(path)
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// Python's `os.access(path, X_OK)` on a regular file, as `runparts` checks it.
    fn is_executable_file(&self, path: &Path) -> bool {
        matches!(self.stat(path), Some(s) if s.kind == Kind::File && s.mode & 0o111 != 0)
    }

    /// Where the root lives on the machine we run on (`--root`), when it is
    /// a real directory (not an in-memory root): how the host layer finds
    /// which mount, and so which block device, holds a guest path.
    fn host_dir(&self) -> Option<&Path> {
        None
    }
}

/// A borrowed view is a view (an overlay laid over the view a module was
/// given borrows it).
impl<T: FsView + ?Sized> FsView for &T {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        (**self).read(path)
    }
    fn read_at_most(&self, path: &Path, max: u64) -> io::Result<Vec<u8>> {
        (**self).read_at_most(path, max)
    }
    fn stat(&self, path: &Path) -> Option<Stat> {
        (**self).stat(path)
    }
    fn lstat(&self, path: &Path) -> Option<Stat> {
        (**self).lstat(path)
    }
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        (**self).list_dir(path)
    }
    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        (**self).read_link(path)
    }
    fn exists(&self, path: &Path) -> bool {
        (**self).exists(path)
    }
    fn is_dir(&self, path: &Path) -> bool {
        (**self).is_dir(path)
    }
    fn read_string(&self, path: &Path) -> Option<String> {
        (**self).read_string(path)
    }
    fn is_executable_file(&self, path: &Path) -> bool {
        (**self).is_executable_file(path)
    }
    fn host_dir(&self) -> Option<&Path> {
        (**self).host_dir()
    }
}

/// The live view: the files as they are in the root now.
pub struct RealFs {
    pub root: Root,
}

impl FsView for RealFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.root.read(path)
    }

    fn read_at_most(&self, path: &Path, max: u64) -> io::Result<Vec<u8>> {
        let mut data = Vec::new();
        self.root
            .open_read(path)?
            .take(max.saturating_add(1))
            .read_to_end(&mut data)?;
        Ok(data)
    }

    fn stat(&self, path: &Path) -> Option<Stat> {
        self.root.stat(path, true).ok()
    }

    fn lstat(&self, path: &Path) -> Option<Stat> {
        self.root.stat(path, false).ok()
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        self.root.list_dir(path)
    }

    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        self.root.read_link(path)
    }

    fn host_dir(&self) -> Option<&Path> {
        Some(self.root.host_path())
    }
}

/// Scratch roots for the unit tests of code that reads a root.
#[cfg(test)]
pub mod testing {
    use super::{RealFs, Root};
    use std::os::unix::fs::PermissionsExt;

    /// A temporary root holding `files` (path in the root, content, mode),
    /// read through a [`RealFs`]; the directory lives as long as the guard.
    pub fn root_with_modes(files: &[(&str, &str, u32)]) -> (tempfile::TempDir, RealFs) {
        let tmp = tempfile::tempdir().unwrap();
        for (path, content, mode) in files {
            let p = tmp.path().join(path.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, content).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode)).unwrap();
        }
        let fs = RealFs {
            root: Root::new(tmp.path()),
        };
        (tmp, fs)
    }

    /// [`root_with_modes`] with every file 0644.
    pub fn root_with(files: &[(&str, &str)]) -> (tempfile::TempDir, RealFs) {
        let files: Vec<(&str, &str, u32)> = files.iter().map(|(p, c)| (*p, *c, 0o644)).collect();
        root_with_modes(&files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// The same root resolved both ways: with openat2 and by the walk.
    fn both(dir: &Path) -> [Root; 2] {
        [Root::new(dir), Root::new(dir).walk_only()]
    }

    #[test]
    fn absolute_links_stay_inside_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("var/lib/cloud/instances/i-1/sem")).unwrap();
        fs::create_dir_all(tmp.path().join("etc")).unwrap();
        fs::write(tmp.path().join("etc/passwd"), "inside\n").unwrap();
        symlink(
            "/var/lib/cloud/instances/i-1",
            tmp.path().join("var/lib/cloud/instance"),
        )
        .unwrap();
        // A hostile link cannot point out of the root.
        symlink("../../../../../../etc", tmp.path().join("evil")).unwrap();
        for root in both(tmp.path()) {
            assert_eq!(
                root.resolve(Path::new("/var/lib/cloud/instance/sem/x"))
                    .unwrap(),
                tmp.path().join("var/lib/cloud/instances/i-1/sem/x")
            );
            root.write_bytes(
                Path::new("/var/lib/cloud/instance/sem/x"),
                b"s",
                0o644,
                None,
            )
            .unwrap();
            assert_eq!(
                fs::read(tmp.path().join("var/lib/cloud/instances/i-1/sem/x")).unwrap(),
                b"s"
            );
            assert_eq!(
                root.resolve(Path::new("/evil/passwd")).unwrap(),
                tmp.path().join("etc/passwd")
            );
            assert_eq!(root.read(Path::new("/evil/passwd")).unwrap(), b"inside\n");
            assert_eq!(
                root.resolve(Path::new("/../../x")).unwrap(),
                tmp.path().join("x")
            );
        }
    }

    /// A write over a directory fails as itself, in a stage too (where the
    /// rename waits for the publish): nothing is staged there, and the
    /// writes after it publish.
    #[test]
    fn a_write_over_a_directory_fails_at_once_in_a_stage() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("etc/sysconfig/network")).unwrap();
        let root = Root::new(tmp.path());
        root.begin_stage();
        let e = root
            .write_bytes(Path::new("/etc/sysconfig/network"), b"x", 0o644, None)
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EISDIR), "{e}");
        root.write_bytes(Path::new("/etc/hosts"), b"h\n", 0o644, None)
            .unwrap();
        root.settle().unwrap();
        assert!(tmp.path().join("etc/sysconfig/network").is_dir());
        assert_eq!(std::fs::read(tmp.path().join("etc/hosts")).unwrap(), b"h\n");
        let left: Vec<_> = std::fs::read_dir(tmp.path().join("etc/sysconfig"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left, ["network"]);
    }

    #[test]
    fn link_loops_are_errors_for_that_path() {
        let tmp = tempfile::tempdir().unwrap();
        symlink("/b", tmp.path().join("a")).unwrap();
        symlink("/a", tmp.path().join("b")).unwrap();
        // `ln -s /etc ROOT/etc`: under chroot, /etc is a link to itself.
        symlink("/etc", tmp.path().join("etc")).unwrap();
        for root in both(tmp.path()) {
            for p in ["/a/x", "/etc/hostname", "/etc"] {
                let e = root.read(Path::new(p)).unwrap_err();
                assert!(e.to_string().contains("too many levels"), "{p}: {e}");
                let e = root
                    .write_bytes(&Path::new(p).join("f"), b"x", 0o644, None)
                    .unwrap_err();
                assert!(e.to_string().contains("too many levels"), "{p}: {e}");
                assert!(root.resolve(Path::new(p)).is_err());
            }
        }
    }

    #[test]
    fn a_chain_of_forty_links_resolves_and_forty_one_does_not() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("end"), "end").unwrap();
        for i in 0..41 {
            let target = if i == 0 {
                "end".to_string()
            } else {
                format!("l{}", i - 1)
            };
            symlink(&target, tmp.path().join(format!("l{i}"))).unwrap();
        }
        for root in both(tmp.path()) {
            assert_eq!(root.read(Path::new("/l39")).unwrap(), b"end");
            let e = root.read(Path::new("/l40")).unwrap_err();
            assert!(e.to_string().contains("too many levels"), "{e}");
        }
    }

    #[test]
    fn atomic_write_sets_mode_and_replaces() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("f");
        fs::write(&p, b"old").unwrap();
        for root in both(tmp.path()) {
            root.write_bytes(Path::new("/f"), b"new", 0o750, None)
                .unwrap();
            assert_eq!(fs::read(&p).unwrap(), b"new");
            assert_eq!(fs::metadata(&p).unwrap().mode() & 0o7777, 0o750);
            assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
        }
    }

    #[test]
    fn a_write_through_a_link_lands_inside_and_a_limit_keeps_the_old_file() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("target"), b"old").unwrap();
        symlink("/target", tmp.path().join("link")).unwrap();
        let root = Root::new(tmp.path());
        let e = root
            .write_atomic(
                Path::new("/target"),
                &mut &b"too long"[..],
                Some(3),
                0o644,
                None,
            )
            .unwrap_err();
        assert!(e.to_string().contains("limit of 3 bytes"), "{e}");
        assert_eq!(fs::read(tmp.path().join("target")).unwrap(), b"old");
        assert_eq!(
            fs::read_dir(tmp.path()).unwrap().count(),
            2,
            "no temp file left"
        );
        root.write_bytes(Path::new("/link"), b"new", 0o644, None)
            .unwrap();
        assert!(tmp.path().join("link").is_symlink());
        assert_eq!(fs::read(tmp.path().join("target")).unwrap(), b"new");
        // A dangling link: its target is made, inside the root.
        symlink("/../../made", tmp.path().join("dangling")).unwrap();
        root.write_bytes(Path::new("/dangling"), b"x", 0o644, None)
            .unwrap();
        assert_eq!(fs::read(tmp.path().join("made")).unwrap(), b"x");
    }

    #[test]
    fn remove_takes_links_not_their_targets_and_whole_trees() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("keep")).unwrap();
        fs::write(tmp.path().join("keep/f"), b"x").unwrap();
        fs::create_dir_all(tmp.path().join("tree/a/b")).unwrap();
        fs::write(tmp.path().join("tree/a/b/f"), b"x").unwrap();
        symlink("/keep", tmp.path().join("tree/a/link")).unwrap();
        let root = Root::new(tmp.path());
        root.remove(Path::new("/tree")).unwrap();
        assert!(!tmp.path().join("tree").exists());
        assert!(tmp.path().join("keep/f").exists());
        root.remove(Path::new("/no/such")).unwrap();
    }

    #[test]
    fn directories_are_made_with_their_mode_whatever_the_umask() {
        let tmp = tempfile::tempdir().unwrap();
        for root in both(tmp.path()) {
            let d = format!("/d{}", root.walk_only as u8);
            root.create_dir_all(&Path::new(&d).join("x/y"), 0o700)
                .unwrap();
            for sub in ["", "/x", "/x/y"] {
                let md = fs::metadata(tmp.path().join(format!("{}{sub}", &d[1..]))).unwrap();
                assert!(md.is_dir());
                assert_eq!(md.mode() & 0o7777, 0o700);
            }
        }
    }

    /// A reader that, when first read, looks at the temporary file being
    /// written next to `dir/name` and remembers its mode.
    struct Peek {
        dir: PathBuf,
        seen: Option<u32>,
        data: &'static [u8],
    }

    impl Read for Peek {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.seen.is_none() {
                let tmp = fs::read_dir(&self.dir)
                    .unwrap()
                    .flatten()
                    .find(|e| is_temp_name(&e.file_name().to_string_lossy()))
                    .expect("a temporary file while writing");
                self.seen = Some(tmp.metadata().unwrap().mode() & 0o7777);
            }
            self.data.read(buf)
        }
    }

    #[test]
    fn a_temporary_file_is_never_executable_and_its_name_is_a_dotfile_of_this_run() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Root::new(tmp.path());
        let mut src = Peek {
            dir: tmp.path().to_path_buf(),
            seen: None,
            data: b"#!/bin/sh\necho hi\n",
        };
        root.write_atomic(Path::new("/runcmd"), &mut src, None, 0o700, None)
            .unwrap();
        assert_eq!(src.seen, Some(0o600), "temp file mode while written");
        assert_eq!(
            fs::metadata(tmp.path().join("runcmd")).unwrap().mode() & 0o7777,
            0o700
        );
        let name = root.temps().name_for(OsStr::new("runcmd"));
        let name = name.to_string_lossy();
        assert!(
            name.starts_with(".runcmd.cloudboot-") && is_temp_name(&name),
            "{name}"
        );
        // Another run (another PID namespace may reuse our pid) picks
        // another name.
        let other = Temps::new().name_for(OsStr::new("runcmd"));
        assert_ne!(name, other.to_string_lossy());
        // A long name still fits in a directory entry.
        let long = "x".repeat(255);
        assert!(root.temps().name_for(OsStr::new(&long)).len() <= 255);
    }

    #[test]
    fn a_sweep_reads_a_journal_after_its_last_clean_exit_and_takes_it_over() {
        let tmp = tempfile::tempdir().unwrap();
        let host = |p: &str| tmp.path().join(p.trim_start_matches('/'));
        let journal = format!("{JOURNAL_DIR}/555-0000abcd");
        for d in [JOURNAL_DIR, "/etc", "/srv"] {
            fs::create_dir_all(host(d)).unwrap();
        }
        // An earlier writer left nothing (the marker), the last one died.
        let marker = "# no temporary files before this line\n";
        fs::write(host(&journal), format!("/etc\n{marker}/srv\n")).unwrap();
        fs::write(host("/etc/.a.cloudboot-555-0000abcd"), "x").unwrap();
        fs::write(host("/srv/.b.cloudboot-555-0000abcd"), "x").unwrap();
        let root = Root::new(tmp.path());
        root.temps().enable_journal();
        assert_eq!(root.temps().sweep(&root), 1);
        assert!(!host("/srv/.b.cloudboot-555-0000abcd").exists());
        // Not looked for: before the marker.
        assert!(host("/etc/.a.cloudboot-555-0000abcd").exists());
        // Taken over: renamed to this run's id, marked, and kept by it.
        assert!(!host(&journal).exists());
        let ours = host(&format!("{JOURNAL_DIR}/{}", root.temps().id()));
        root.write_bytes(Path::new("/srv/c"), b"c", 0o644, None)
            .unwrap();
        root.temps().clean_exit();
        assert_eq!(
            fs::read_to_string(ours).unwrap(),
            format!("/etc\n{marker}/srv\n{marker}/srv\n{marker}")
        );
    }

    #[test]
    fn the_journal_names_the_directory_a_temporary_file_really_goes_to() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("real")).unwrap();
        fs::create_dir_all(tmp.path().join("etc")).unwrap();
        symlink("/real/conf", tmp.path().join("etc/conf")).unwrap();
        let root = Root::new(tmp.path());
        root.temps().enable_journal();
        root.write_bytes(Path::new("/etc/conf"), b"x", 0o644, None)
            .unwrap();
        let journal = fs::read_to_string(
            tmp.path()
                .join(JOURNAL_DIR.trim_start_matches('/'))
                .join(root.temps().id()),
        )
        .unwrap();
        assert!(journal.lines().any(|l| l == "/real"), "{journal}");
        assert_eq!(fs::read(tmp.path().join("real/conf")).unwrap(), b"x");
    }
}
