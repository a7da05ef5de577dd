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

use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

const MAX_SYMLINKS: usize = 40;

/// The directory that stands for `/` of the machine being configured.
#[derive(Clone, Debug)]
pub struct Root {
    host: PathBuf,
}

impl Root {
    pub fn new(host: impl Into<PathBuf>) -> Root {
        let host = host.into();
        let host = if host.as_os_str().is_empty() {
            PathBuf::from("/")
        } else {
            host
        };
        Root { host }
    }

    /// The root directory as a path on this machine.
    pub fn host_path(&self) -> &Path {
        &self.host
    }

    /// True when we configure the machine we run on (root `/`).
    pub fn is_host_root(&self) -> bool {
        self.host == Path::new("/")
            || fs::canonicalize(&self.host)
                .map(|p| p == Path::new("/"))
                .unwrap_or(false)
    }

    /// The host path of a guest path, following every symlink inside the root.
    pub fn resolve(&self, guest: &Path) -> PathBuf {
        self.resolve_inner(guest, true)
    }

    /// As [`Root::resolve`], but a symlink in the last component is not followed
    /// (for replacing or removing the link itself).
    pub fn resolve_parent(&self, guest: &Path) -> PathBuf {
        self.resolve_inner(guest, false)
    }

    fn resolve_inner(&self, guest: &Path, follow_last: bool) -> PathBuf {
        if self.host == Path::new("/") {
            return Path::new("/").join(guest.strip_prefix("/").unwrap_or(guest));
        }
        // Every prefix we test is already resolved, so its host path has no
        // links left in it but the one we are asking about.
        let canonical = canonical_path(guest, follow_last, |prefix| {
            fs::read_link(self.host.join(prefix.strip_prefix("/").unwrap_or(prefix))).ok()
        });
        self.host
            .join(canonical.strip_prefix("/").unwrap_or(&canonical))
    }
}

/// A guest path with every symlink followed as the kernel would inside a
/// chroot: `read_link` answers for a resolved prefix; an absolute target
/// starts again at `/`; `..` stops at `/`; after 40 links the rest is
/// taken literally. With `follow_last` false a link in the last component
/// is kept (to replace or remove the link itself).
pub fn canonical_path(
    path: &Path,
    follow_last: bool,
    read_link: impl Fn(&Path) -> Option<PathBuf>,
) -> PathBuf {
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
        if links < MAX_SYMLINKS && (follow_last || !pending.is_empty()) {
            if let Some(target) = read_link(&next) {
                links += 1;
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
    cur
}

fn components(p: &Path) -> Vec<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
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
}

/// The live view: the files as they are in the root now.
pub struct RealFs {
    pub root: Root,
}

impl FsView for RealFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        fs::read(self.root.resolve(path))
    }

    fn read_at_most(&self, path: &Path, max: u64) -> io::Result<Vec<u8>> {
        use std::io::Read;
        let mut data = Vec::new();
        fs::File::open(self.root.resolve(path))?
            .take(max.saturating_add(1))
            .read_to_end(&mut data)?;
        Ok(data)
    }

    fn stat(&self, path: &Path) -> Option<Stat> {
        fs::metadata(self.root.resolve(path))
            .ok()
            .map(|m| Stat::from_metadata(&m))
    }

    fn lstat(&self, path: &Path) -> Option<Stat> {
        fs::symlink_metadata(self.root.resolve_parent(path))
            .ok()
            .map(|m| Stat::from_metadata(&m))
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut names: Vec<String> = fs::read_dir(self.root.resolve(path))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        Ok(names)
    }

    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        fs::read_link(self.root.resolve_parent(path))
    }
}

/// Replaces `host_path` with `data` so that a reader, or a crash, sees either the
/// old file or the whole new one: temp file in the same directory (created 0600,
/// so a secret is never readable by others on the way), fsync, rename, fsync dir.
pub fn write_atomic(
    host_path: &Path,
    data: &[u8],
    mode: u32,
    owner: Option<(Option<u32>, Option<u32>)>,
) -> io::Result<()> {
    let dir = host_path.parent().unwrap_or(Path::new("/"));
    let name = host_path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let mut tmp_name = OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".cloudboot-{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let _ = fs::remove_file(&tmp);
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(data)?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::fchown(&f, uid, gid)?;
        }
        // chmod after chown: chown clears setuid/setgid bits.
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.sync_all()?;
        fs::rename(&tmp, host_path)?;
        sync_dir(dir);
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// fsync a directory so a rename in it survives power loss (best effort).
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// `mkdir -p` with `mode` on every directory it creates (existing ones untouched).
pub fn create_dirs(host_path: &Path, mode: u32) -> io::Result<()> {
    if host_path.is_dir() {
        return Ok(());
    }
    if let Some(parent) = host_path.parent() {
        create_dirs(parent, mode)?;
    }
    match fs::create_dir(host_path) {
        Ok(()) => fs::set_permissions(host_path, fs::Permissions::from_mode(mode)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && host_path.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_links_stay_inside_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Root::new(tmp.path());
        fs::create_dir_all(tmp.path().join("var/lib/cloud/instances/i-1")).unwrap();
        std::os::unix::fs::symlink(
            "/var/lib/cloud/instances/i-1",
            tmp.path().join("var/lib/cloud/instance"),
        )
        .unwrap();
        assert_eq!(
            root.resolve(Path::new("/var/lib/cloud/instance/sem/x")),
            tmp.path().join("var/lib/cloud/instances/i-1/sem/x")
        );
        // A hostile link cannot point out of the root.
        std::os::unix::fs::symlink("../../../../../../etc", tmp.path().join("evil")).unwrap();
        assert_eq!(
            root.resolve(Path::new("/evil/passwd")),
            tmp.path().join("etc/passwd")
        );
        assert_eq!(root.resolve(Path::new("/../../x")), tmp.path().join("x"));
    }

    #[test]
    fn link_loops_end() {
        let tmp = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/b", tmp.path().join("a")).unwrap();
        std::os::unix::fs::symlink("/a", tmp.path().join("b")).unwrap();
        let _ = Root::new(tmp.path()).resolve(Path::new("/a/x"));
    }

    #[test]
    fn atomic_write_sets_mode_and_replaces() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("f");
        fs::write(&p, b"old").unwrap();
        write_atomic(&p, b"new", 0o640, None).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new");
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o7777, 0o640);
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
    }
}
