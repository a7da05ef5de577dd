//! Group commit: a stage's file writes made durable together, not one by one.
//!
//! Replacing a file durably on its own costs two flushes (`fsync` of the
//! file, then of its directory): some 140 in a first boot's network stage.
//! In stage mode ([`super::Root::begin_stage`]) a write instead leaves its
//! whole new content in its temporary file (never executable, swept after a
//! crash: `temp.rs`) and is *staged*; [`super::Root::publish`] then, for all
//! of them at once:
//! 1. `syncfs`: every staged file's content is on disk, under its temporary
//!    name, and so is every rename, new directory and link made before;
//! 2. renames each over its name, in the order they were written (execute
//!    bits only after the rename, as for a single write);
//!
//! and [`super::Root::settle`] adds
//!
//! 3. a second `syncfs`: the renames, new directories and links are on disk
//!    (spared when only reports were renamed since the last one: see
//!    [`super::Root::set_reports`]).
//!
//! Some writes are *ordered* ([`super::Root::write_in_order`]): a module's
//! semaphore must never be on disk, after a power cut, without the files
//! the module wrote. An ordered file is renamed only by a publish whose
//! `syncfs` came after every rename before it: one that renamed a file
//! before it keeps it for the next. So a stage of modules that only write
//! files costs three `syncfs` however many modules it runs (their files;
//! their semaphores; the end), not two per module.
//!
//! A power cut at any point leaves each name with its old content or its
//! whole new content, never a torn file. A staged file is not visible yet,
//! so the root publishes before anything could look for one: an access to a
//! staged name (through the root), a program (`exec.rs`, which waits for
//! the ordered files too) and the stage's end. Reading or stating a staged
//! file needs no publish: the temporary file is the file to be (its inode,
//! owner and content; the execute bits are added to what stat says); nor
//! does listing its directory, which shows it by its name. At most
//! [`MAX_STAGED`] wait at once.

use std::ffi::{OsStr, OsString};
use std::fs::{File, Permissions};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::resolve::Dir;
use super::sys;

/// Staged files at most (each holds its directory open): then they are
/// published before the next is staged.
pub const MAX_STAGED: usize = 256;

/// A written temporary file waiting to be renamed over its name.
#[derive(Debug)]
pub struct Staged {
    pub dir: Arc<Dir>,
    pub tmp: OsString,
    pub name: OsString,
    /// The mode to give it after the rename, when it has execute bits.
    pub exec_mode: Option<u32>,
    /// The guest path written, for errors.
    pub guest: PathBuf,
    /// Renamed only once everything before it is durable (a semaphore).
    pub ordered: bool,
    /// A report (`Root::set_reports`): its rename need not be synced.
    pub report: bool,
    /// Kept until the file is in place (a lock others wait on), then dropped.
    pub hold: Option<Held>,
}

/// Something an ordered write keeps until its file is in place.
pub struct Held(pub Box<dyn std::any::Any + Send>);

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Held")
    }
}

#[derive(Debug, Default)]
pub struct Group {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Stage mode: writes are staged (else each is durable on return).
    enabled: bool,
    staged: Vec<Staged>,
}

impl Group {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn enable(&self) {
        self.state().enabled = true;
    }

    pub fn is_enabled(&self) -> bool {
        self.state().enabled
    }

    pub fn is_empty(&self) -> bool {
        self.state().staged.is_empty()
    }

    /// Whether all that is staged are reports, which nothing waits for.
    pub fn only_reports(&self) -> bool {
        self.state().staged.iter().all(|s| s.report)
    }

    /// Stages a written file; says whether the group is now full.
    pub fn stage(&self, file: Staged) -> bool {
        let mut st = self.state();
        st.staged.push(file);
        st.staged.len() >= MAX_STAGED
    }

    /// The temporary name of the file staged as `name` in `dir`, if any,
    /// and the mode it will be given after the rename (execute bits).
    pub fn staged_tmp(&self, dir: (u64, u64), name: &OsStr) -> Option<(OsString, Option<u32>)> {
        let st = self.state();
        let s = st.staged.iter().find(|s| s.dir.id == dir && s.name == name);
        s.map(|s| (s.tmp.clone(), s.exec_mode))
    }

    /// The names and temporary names of the files staged in directory `dir`.
    pub fn staged_in(&self, dir: (u64, u64)) -> Vec<(OsString, OsString)> {
        let st = self.state();
        let here = st.staged.iter().filter(|s| s.dir.id == dir);
        here.map(|s| (s.name.clone(), s.tmp.clone())).collect()
    }

    /// Forgets the file staged as `name` in `dir`, if one is (a new write
    /// replaces it before it was seen), and says whether one was: its
    /// temporary file is left for that write to remove.
    pub fn unstage(&self, dir: (u64, u64), name: &OsStr) -> bool {
        let mut st = self.state();
        let at = st
            .staged
            .iter()
            .position(|s| s.dir.id == dir && s.name == name);
        at.map(|i| st.staged.remove(i)).is_some()
    }

    /// Steps 1 and 2 above for everything staged (`syncfs` is the root's),
    /// but for an ordered file after a file this publish renamed: it waits
    /// for the next. Says what it renamed, and which files could not be
    /// renamed (each removed; the others are still published).
    pub fn publish(&self, syncfs: impl FnOnce() -> io::Result<()>) -> (Renamed, io::Result<()>) {
        let mut renamed = Renamed::default();
        let staged = std::mem::take(&mut self.state().staged);
        if staged.is_empty() {
            return (renamed, Ok(()));
        }
        if let Err(e) = syncfs() {
            // Not known to be on disk: renaming could leave torn files.
            for s in &staged {
                let _ = sys::unlinkat(s.dir.as_fd(), &s.tmp, false);
            }
            let paths: Vec<_> = staged
                .iter()
                .map(|s| s.guest.display().to_string())
                .collect();
            let e = io::Error::new(
                e.kind(),
                format!("flushing {} to disk: {e}; not written", paths.join(", ")),
            );
            return (renamed, Err(e));
        }
        let mut failed = Vec::new();
        let mut waiting = Vec::new();
        // A file renamed before an ordered one in this publish (a report
        // does not count: losing its rename leaves its previous version).
        let mut renamed_a_file = false;
        for s in staged {
            if s.ordered && renamed_a_file {
                waiting.push(s);
                continue;
            }
            renamed_a_file |= !s.ordered && !s.report;
            renamed.put_in_place(s, &mut failed);
        }
        // The waiting stay first (nothing can have been staged meanwhile:
        // one thread at a time uses a root; kept in order all the same).
        let mut st = self.state();
        waiting.append(&mut st.staged);
        st.staged = waiting;
        (renamed, failures(failed))
    }

    /// After a `syncfs`: puts in place the ordered files staged before any
    /// file still to be renamed, which waited for nothing else. Says what
    /// it renamed, and which could not be.
    pub fn release(&self) -> (Renamed, io::Result<()>) {
        let ready: Vec<Staged> = {
            let mut st = self.state();
            let n = st.staged.iter().take_while(|s| s.ordered).count();
            st.staged.drain(..n).collect()
        };
        let mut renamed = Renamed::default();
        let mut failed = Vec::new();
        ready
            .into_iter()
            .for_each(|s| renamed.put_in_place(s, &mut failed));
        (renamed, failures(failed))
    }
}

/// What a publish or a release renamed.
#[derive(Default)]
pub struct Renamed {
    /// Something that is not a report (which a settle must then sync).
    pub lasting: bool,
    /// A directory on each filesystem a rename was made on (to be synced).
    pub on: Vec<Arc<Dir>>,
}

impl Renamed {
    /// Puts `s` in place and notes it; a failure goes to `failed`.
    fn put_in_place(&mut self, s: Staged, failed: &mut Vec<String>) {
        self.lasting |= !s.report;
        add_filesystem(&mut self.on, &s.dir);
        if let Err(e) = s.put_in_place() {
            failed.push(e);
        }
    }
}

/// Adds `dir` to `filesystems` unless one on its filesystem is there.
fn add_filesystem(filesystems: &mut Vec<Arc<Dir>>, dir: &Arc<Dir>) {
    if !filesystems.iter().any(|d| d.id.0 == dir.id.0) {
        filesystems.push(dir.clone());
    }
}

/// One error naming every file that could not be put in place, if any.
fn failures(failed: Vec<String>) -> io::Result<()> {
    match failed.is_empty() {
        true => Ok(()),
        false => Err(io::Error::other(failed.join("; "))),
    }
}

impl Staged {
    /// Renames the file over its name (and gives it its execute bits);
    /// on failure it is removed, and the error names it. Its lock, if it
    /// holds one, goes either way: whoever waits for it may look.
    fn put_in_place(self) -> Result<(), String> {
        let held = self.hold;
        let done = sys::renameat(self.dir.as_fd(), &self.tmp, &self.name).and_then(|()| match self
            .exec_mode
        {
            Some(mode) => set_mode(&self.dir, &self.name, mode),
            None => Ok(()),
        });
        let done = done.map_err(|e| {
            let _ = sys::unlinkat(self.dir.as_fd(), &self.tmp, false);
            format!("{}: {e}", self.guest.display())
        });
        drop(held);
        done
    }
}

/// Gives the file just renamed to `name` its mode (with execute bits), not
/// following a link that could have replaced it since.
fn set_mode(dir: &Dir, name: &OsStr, mode: u32) -> io::Result<()> {
    let fd = sys::openat(
        dir.as_fd(),
        name,
        libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY,
        0,
    )?;
    File::from(fd).set_permissions(Permissions::from_mode(mode))
}

impl Drop for Group {
    /// The last clone of a root going away with files still staged (a path
    /// out of a stage that did not settle): published, not lost.
    fn drop(&mut self) {
        // Twice: ordered files kept back by the first publish go with the second.
        for _ in 0..2 {
            // Every filesystem a staged file is on (an image's own /var...).
            let mut filesystems: Vec<Arc<Dir>> = Vec::new();
            for s in &self.state().staged {
                add_filesystem(&mut filesystems, &s.dir);
            }
            if filesystems.is_empty() {
                return;
            }
            let syncfs = || {
                filesystems
                    .iter()
                    .try_for_each(|d| sys::syncfs(sys::open_for_sync(d.as_fd())?.as_fd()))
            };
            if let (_, Err(e)) = self.publish(syncfs) {
                tracing::warn!("{e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::MAX_STAGED;
    use crate::rootfs::Root;
    use std::fs;
    use std::path::Path;

    fn staged_root() -> (tempfile::TempDir, Root) {
        let tmp = tempfile::tempdir().unwrap();
        let root = Root::new(tmp.path());
        root.begin_stage();
        (tmp, root)
    }

    /// The names in `dir` of the host, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_staged_file_is_in_place_only_once_published_and_whole() {
        let (tmp, root) = staged_root();
        root.write_bytes(Path::new("/etc/app.conf"), b"new\n", 0o644, None)
            .unwrap();
        // On disk, only the temporary file: the name is not there yet.
        let on_disk = names(&tmp.path().join("etc"));
        assert_eq!(on_disk.len(), 1, "{on_disk:?}");
        assert!(crate::rootfs::is_temp_name(&on_disk[0]), "{on_disk:?}");
        root.settle().unwrap();
        assert_eq!(names(&tmp.path().join("etc")), ["app.conf"]);
        assert_eq!(fs::read(tmp.path().join("etc/app.conf")).unwrap(), b"new\n");
    }

    #[test]
    fn reading_listing_or_stating_a_staged_file_through_the_root_sees_it() {
        let (tmp, root) = staged_root();
        let p = Path::new("/etc/app.conf");
        root.write_bytes(p, b"one\n", 0o600, None).unwrap();
        assert_eq!(root.read(p).unwrap(), b"one\n");
        root.write_bytes(Path::new("/etc/two.conf"), b"two\n", 0o644, None)
            .unwrap();
        assert_eq!(
            root.list_dir(Path::new("/etc")).unwrap(),
            ["app.conf", "two.conf"]
        );
        // Reading and listing needed no publish: on disk, temporary files.
        let on_disk = names(&tmp.path().join("etc"));
        assert!(
            on_disk.len() == 2 && on_disk.iter().all(|n| crate::rootfs::is_temp_name(n)),
            "{on_disk:?}"
        );
        root.write_bytes(Path::new("/etc/three.conf"), b"3\n", 0o640, None)
            .unwrap();
        let st = root.stat(Path::new("/etc/three.conf"), true).unwrap();
        assert_eq!((st.len, st.mode), (2, 0o640));
        // A script's execute bits are in what stat says before its rename.
        root.write_bytes(Path::new("/etc/run.sh"), b"#!/bin/sh\n", 0o755, None)
            .unwrap();
        let st = root.stat(Path::new("/etc/run.sh"), false).unwrap();
        assert_eq!((st.len, st.mode), (10, 0o755));
        // None of this needed a publish: on disk, temporary files only.
        let on_disk = names(&tmp.path().join("etc"));
        assert!(
            on_disk.len() == 4 && on_disk.iter().all(|n| crate::rootfs::is_temp_name(n)),
            "{on_disk:?}"
        );
        root.settle().unwrap();
        assert_eq!(
            root.list_dir(Path::new("/etc")).unwrap(),
            ["app.conf", "run.sh", "three.conf", "two.conf"]
        );
    }

    #[test]
    fn a_file_written_twice_before_anyone_looks_is_renamed_once_with_the_last_content() {
        let (tmp, root) = staged_root();
        let p = Path::new("/var/lib/cloud/data/status.json");
        let dir = tmp.path().join("var/lib/cloud/data");
        let one_temp = || {
            let all = names(&dir);
            assert_eq!(all.len(), 1, "one temporary file: {all:?}");
        };
        root.write_bytes(p, b"{\"first\": 1}", 0o644, None).unwrap();
        one_temp();
        root.write_bytes(p, b"{\"second\": 2}", 0o644, None)
            .unwrap();
        one_temp();
        root.settle().unwrap();
        assert_eq!(names(&dir), ["status.json"]);
        assert_eq!(
            fs::read(dir.join("status.json")).unwrap(),
            b"{\"second\": 2}"
        );
    }

    #[test]
    fn an_append_to_a_staged_file_keeps_what_was_staged() {
        let (tmp, root) = staged_root();
        let p = Path::new("/etc/sudoers.d/90-cloud-init-users");
        root.write_bytes(p, b"alice\n", 0o440, None).unwrap();
        // As write_files' and the sudoers' appends: the old content streamed
        // from the file while the new one is written.
        let old = root.open_read(p).unwrap();
        let mut src = std::io::Read::chain(old, &b"bob\n"[..]);
        root.write_atomic(p, &mut src, None, 0o440, None).unwrap();
        root.settle().unwrap();
        let on_disk = tmp.path().join("etc/sudoers.d/90-cloud-init-users");
        assert_eq!(fs::read(on_disk).unwrap(), b"alice\nbob\n");
    }

    #[test]
    fn an_ordered_file_is_renamed_only_after_a_sync_that_follows_the_files_before_it() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        /// Says when it is dropped: the lock an ordered write holds.
        struct Lock(Arc<AtomicBool>);
        impl Drop for Lock {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let (tmp, root) = staged_root();
        let released = Arc::new(AtomicBool::new(false));
        let lock = super::Held(Box::new(Lock(released.clone())));
        let sem = Path::new("/var/lib/cloud/sem/config_x");
        root.write_bytes(Path::new("/etc/app.conf"), b"a\n", 0o644, None)
            .unwrap();
        root.write_in_order(sem, b"ran\n", 0o644, true, Some(lock))
            .unwrap();
        // Seen through the root at once, with its lock held.
        assert_eq!(root.read(sem).unwrap(), b"ran\n");
        let sem_dir = tmp.path().join("var/lib/cloud/sem");
        // The first publish renames the file; the semaphore waits for the
        // next syncfs, which the next publish starts with.
        root.publish().unwrap();
        assert_eq!(names(&tmp.path().join("etc")), ["app.conf"]);
        let on_disk = names(&sem_dir);
        assert!(
            on_disk.len() == 1 && crate::rootfs::is_temp_name(&on_disk[0]),
            "{on_disk:?}"
        );
        assert!(!released.load(Ordering::SeqCst));
        root.publish().unwrap();
        assert_eq!(names(&sem_dir), ["config_x"]);
        assert!(
            released.load(Ordering::SeqCst),
            "the lock outlived the rename"
        );
        // Settled, nothing waits: the next one is in place at once.
        root.settle().unwrap();
        root.write_in_order(
            Path::new("/var/lib/cloud/sem/config_y"),
            b"ran\n",
            0o644,
            true,
            None,
        )
        .unwrap();
        assert_eq!(names(&sem_dir), ["config_x", "config_y"]);
        // After a write, one settle puts both in place, in order.
        root.write_bytes(Path::new("/etc/b.conf"), b"b\n", 0o644, None)
            .unwrap();
        root.write_in_order(
            Path::new("/var/lib/cloud/sem/config_z"),
            b"ran\n",
            0o644,
            true,
            None,
        )
        .unwrap();
        root.settle().unwrap();
        assert_eq!(names(&tmp.path().join("etc")), ["app.conf", "b.conf"]);
        assert_eq!(names(&sem_dir), ["config_x", "config_y", "config_z"]);
    }

    #[test]
    fn execute_bits_come_after_the_rename() {
        let (tmp, root) = staged_root();
        root.write_bytes(
            Path::new("/usr/local/bin/hello"),
            b"#!/bin/sh\n",
            0o755,
            None,
        )
        .unwrap();
        let dir = tmp.path().join("usr/local/bin");
        let tmpname = &names(&dir)[0];
        let mode = |p: &Path| {
            std::os::unix::fs::PermissionsExt::mode(&fs::metadata(p).unwrap().permissions()) & 0o777
        };
        assert_eq!(
            mode(&dir.join(tmpname)),
            0o644,
            "a temporary file is never executable"
        );
        root.settle().unwrap();
        assert_eq!(mode(&dir.join("hello")), 0o755);
    }

    #[test]
    fn many_writes_stay_within_the_bound_of_staged_files() {
        let (tmp, root) = staged_root();
        for i in 0..(MAX_STAGED * 2 + 10) {
            let p = format!("/srv/d{}/f{i}", i % 7);
            root.write_bytes(Path::new(&p), format!("{i}\n").as_bytes(), 0o644, None)
                .unwrap();
            assert!(root.group.state().staged.len() < MAX_STAGED);
        }
        root.settle().unwrap();
        let total: usize = (0..7)
            .map(|d| names(&tmp.path().join(format!("srv/d{d}"))).len())
            .sum();
        assert_eq!(total, MAX_STAGED * 2 + 10);
        assert_eq!(fs::read(tmp.path().join("srv/d3/f10")).unwrap(), b"10\n");
    }

    #[test]
    fn a_root_dropped_with_files_staged_publishes_them() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let root = Root::new(tmp.path());
            root.begin_stage();
            root.write_bytes(Path::new("/etc/late"), b"late\n", 0o644, None)
                .unwrap();
        }
        assert_eq!(names(&tmp.path().join("etc")), ["late"]);
    }

    #[test]
    fn outside_a_stage_a_write_is_in_place_when_it_returns() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Root::new(tmp.path());
        root.write_bytes(Path::new("/etc/now"), b"now\n", 0o644, None)
            .unwrap();
        assert_eq!(fs::read(tmp.path().join("etc/now")).unwrap(), b"now\n");
    }

    #[test]
    fn a_link_made_in_a_stage_is_followed_by_the_next_write() {
        let (tmp, root) = staged_root();
        root.create_dir_all(Path::new("/var/lib/cloud/instances/i-1"), 0o755)
            .unwrap();
        root.create_dir_all(Path::new("/var/lib/cloud/instances/i-2"), 0o755)
            .unwrap();
        // Resolved once through the first link (and so cached)...
        root.symlink(
            Path::new("/var/lib/cloud/instance"),
            Path::new("/var/lib/cloud/instances/i-1"),
        )
        .unwrap();
        root.write_bytes(Path::new("/var/lib/cloud/instance/a"), b"1", 0o644, None)
            .unwrap();
        // ...then the link changes: the next write goes where it points now.
        root.symlink(
            Path::new("/var/lib/cloud/instance"),
            Path::new("/var/lib/cloud/instances/i-2"),
        )
        .unwrap();
        root.write_bytes(Path::new("/var/lib/cloud/instance/b"), b"2", 0o644, None)
            .unwrap();
        root.settle().unwrap();
        let i = tmp.path().join("var/lib/cloud/instances");
        assert_eq!(names(&i.join("i-1")), ["a"]);
        assert_eq!(names(&i.join("i-2")), ["b"]);
    }
}
