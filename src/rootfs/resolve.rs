//! Resolving a guest path to a directory descriptor, with the kernel's
//! `chroot` semantics and without ever leaving the root.
//!
//! Where the kernel has `openat2(2)` (5.6 and later), `RESOLVE_IN_ROOT` does
//! the walk: an absolute link starts again at the root and `..` stops there,
//! atomically, even against a root someone changes while we look. Elsewhere
//! (CentOS 6's 2.6.32, a seccomp filter that refuses the call) the same walk
//! is done one component at a time: `readlinkat` to see a link, then
//! `openat(O_NOFOLLOW | O_DIRECTORY)` from the directory reached so far, so
//! a component swapped for a link between the two calls fails rather than
//! being followed. Either way a loop, or more than 40 links, is `ELOOP` for
//! that path: never a fallback to taking the rest of the path literally.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};

use super::sys;

/// As Linux's `MAXSYMLINKS`.
pub const MAX_SYMLINKS: usize = 40;

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_IN_ROOT: u64 = 0x10;

/// Whether `openat2` works here: 0 not yet known, 1 yes, 2 no.
static OPENAT2: AtomicU8 = AtomicU8::new(0);

/// A directory of the root, open, and which one it is (device and inode):
/// two guest paths name the same directory when their ids are equal, which
/// is how staged writes are found again (see `commit.rs`).
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    pub id: (u64, u64),
    /// On a filesystem in memory (tmpfs, ramfs), once asked.
    in_memory: OnceLock<bool>,
}

impl Dir {
    pub fn new(fd: OwnedFd) -> io::Result<Dir> {
        let st = sys::fstatat(fd.as_fd(), OsStr::new(""), false)?;
        Ok(Dir {
            fd,
            id: (st.st_dev as u64, st.st_ino as u64),
            in_memory: OnceLock::new(),
        })
    }

    /// Whether the directory is on a filesystem in memory (`/run`): what is
    /// written there is gone at the next boot whatever is synced, so its
    /// writes need not wait for a `syncfs` (nor cost one). Where the kernel
    /// cannot say (`fstatfs` of an `O_PATH` descriptor before 3.12), no.
    pub fn in_memory(&self) -> bool {
        *self
            .in_memory
            .get_or_init(|| sys::fs_type(self.fd.as_fd()).is_ok_and(sys::is_memory_fs))
    }
}

impl AsFd for Dir {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// A path's place: the directory that holds it, open, and its last name in
/// that directory (`None` when the path names that directory itself: `/`,
/// or a path ending in `..`).
pub struct Located {
    /// Shared with the root's cache of resolved directories.
    pub dir: Arc<Dir>,
    pub name: Option<OsString>,
    /// A guest path of `dir` (after any link in the last component was
    /// followed: where the name really is).
    pub dir_path: PathBuf,
}

impl Located {
    /// The name to hand to an `*at` call: the directory itself is `.`.
    pub fn name_or_dot(&self) -> &OsStr {
        self.name.as_deref().unwrap_or(OsStr::new("."))
    }
}

/// The normal components of a guest path, `..` kept; `/` and `.` dropped.
pub fn components(p: &Path) -> Vec<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

fn too_many_links() -> io::Error {
    io::Error::from_raw_os_error(libc::ELOOP)
}

/// The directory `guest` names, following every link in it inside the root.
/// `walk_only` skips `openat2` (tests check both ways give one answer).
pub fn open_dir(root: BorrowedFd, guest: &Path, walk_only: bool) -> io::Result<OwnedFd> {
    let parts = components(guest);
    if parts.is_empty() {
        return root.try_clone_to_owned();
    }
    if !walk_only && OPENAT2.load(Ordering::Relaxed) != 2 {
        let rel: PathBuf = parts.iter().collect();
        // EAGAIN: a rename elsewhere raced the walk; the kernel asks us to retry.
        for _ in 0..8 {
            match sys::openat2(
                root,
                rel.as_os_str(),
                libc::O_PATH | libc::O_DIRECTORY,
                0,
                RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
            ) {
                Ok(fd) => {
                    OPENAT2.store(1, Ordering::Relaxed);
                    return Ok(fd);
                }
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => continue,
                // No openat2 (old kernel, or a filter that refuses it as
                // unknown): walk by hand from now on.
                Err(e)
                    if OPENAT2.load(Ordering::Relaxed) == 0
                        && matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) =>
                {
                    OPENAT2.store(2, Ordering::Relaxed);
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        if OPENAT2.load(Ordering::Relaxed) != 2 {
            return Err(io::Error::from_raw_os_error(libc::EAGAIN));
        }
    }
    walk(root, parts)
}

/// The walk `openat2(RESOLVE_IN_ROOT)` does, one component at a time.
fn walk(root: BorrowedFd, parts: Vec<OsString>) -> io::Result<OwnedFd> {
    // The directories below the root reached so far: `..` pops one, and
    // never the root itself.
    let mut stack: Vec<OwnedFd> = Vec::new();
    let mut pending = parts;
    pending.reverse();
    let mut links = 0usize;
    while let Some(part) = pending.pop() {
        if part == ".." {
            stack.pop();
            continue;
        }
        let here = stack.last().map(|f| f.as_fd()).unwrap_or(root);
        match sys::readlinkat(here, &part) {
            Ok(target) => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(too_many_links());
                }
                if target.as_bytes().first() == Some(&b'/') {
                    stack.clear();
                }
                let mut more = components(Path::new(&target));
                more.reverse();
                pending.extend(more);
            }
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                // Not a link: a directory to step into. O_NOFOLLOW: if it
                // became a link since readlinkat, this fails (ELOOP/ENOTDIR).
                let fd = sys::openat(
                    here,
                    &part,
                    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                    0,
                )?;
                stack.push(fd);
            }
            Err(e) => return Err(e),
        }
    }
    match stack.pop() {
        Some(fd) => Ok(fd),
        None => root.try_clone_to_owned(),
    }
}

/// Where `guest` is: its directory, open, and its last name. With
/// `follow_last` a link in the last component is followed (inside the
/// root) until the name is not a link; without, the link itself is named.
/// `open_dir` opens a directory by guest path ([`open_dir`], or the root's
/// cache of it).
pub fn locate(
    guest: &Path,
    follow_last: bool,
    open_dir: impl Fn(&Path) -> io::Result<Arc<Dir>>,
) -> io::Result<Located> {
    let mut guest = guest.to_path_buf();
    let mut links = 0usize;
    loop {
        let mut parts = components(&guest);
        let name = match parts.pop() {
            Some(n) if n != ".." => n,
            _ => {
                return Ok(Located {
                    dir: open_dir(&guest)?,
                    name: None,
                    dir_path: Path::new("/").join(&guest),
                })
            }
        };
        let parent: PathBuf = parts.iter().collect();
        let dir = open_dir(&parent)?;
        let dir_path = Path::new("/").join(&parent);
        if !follow_last {
            return Ok(Located {
                dir,
                name: Some(name),
                dir_path,
            });
        }
        match sys::readlinkat(dir.as_fd(), &name) {
            Ok(target) => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(too_many_links());
                }
                // A relative target is relative to the link's directory.
                guest = Path::new("/").join(&parent).join(Path::new(&target));
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOENT)) => {
                return Ok(Located {
                    dir,
                    name: Some(name),
                    dir_path,
                })
            }
            Err(e) => return Err(e),
        }
    }
}
