//! Group commit: a stage's file writes made durable together, not one by one.
//!
//! Replacing a file durably on its own costs two flushes (`fsync` of the
//! file, then of its directory): some 140 in a first boot's network stage.
//! In stage mode ([`super::Root::begin_stage`]) a write instead leaves its
//! whole new content in its temporary file (never executable, swept after a
//! crash: `temp.rs`) and is *staged*; [`super::Root::publish`] then, for all
//! of them at once:
//! 1. `syncfs`: every staged file's content is on disk, under its temporary
//!    name;
//! 2. renames each over its name, in the order they were written (execute
//!    bits only after the rename, as for a single write);
//! and [`super::Root::settle`] adds
//! 3. a second `syncfs`: the renames, new directories and links are on disk.
//!
//! A power cut at any point leaves each name with its old content or its
//! whole new content, never a torn file. A staged file is not visible yet,
//! so the root publishes before anything could look for one: an access to a
//! staged name or a listing of its directory (through the root), a program
//! (`exec.rs`), a module's end (its semaphore is written only once its files
//! are settled) and the stage's end. At most [`MAX_STAGED`] wait at once.

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

    /// Stages a written file; says whether the group is now full.
    pub fn stage(&self, file: Staged) -> bool {
        let mut st = self.state();
        st.staged.push(file);
        st.staged.len() >= MAX_STAGED
    }

    /// Whether `name` in directory `dir` (a device and inode) is staged.
    pub fn holds(&self, dir: (u64, u64), name: &std::ffi::OsStr) -> bool {
        self.state()
            .staged
            .iter()
            .any(|s| s.dir.id == dir && s.name == name)
    }

    /// Whether anything is staged in directory `dir`.
    pub fn holds_in(&self, dir: (u64, u64)) -> bool {
        self.state().staged.iter().any(|s| s.dir.id == dir)
    }

    /// Forgets the file staged as `name` in `dir`, if one is, and removes
    /// its temporary file: a new write replaces it before it was seen.
    pub fn drop_staged(&self, dir: (u64, u64), name: &OsStr) {
        let mut st = self.state();
        if let Some(i) = st
            .staged
            .iter()
            .position(|s| s.dir.id == dir && s.name == name)
        {
            let s = st.staged.remove(i);
            let _ = sys::unlinkat(s.dir.as_fd(), &s.tmp, false);
        }
    }

    /// Steps 1 and 2 above for everything staged (`syncfs` is the root's);
    /// the group is empty after. A file that could not be renamed is
    /// removed and named in the error; the others are still published.
    pub fn publish(&self, syncfs: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
        let staged = std::mem::take(&mut self.state().staged);
        if staged.is_empty() {
            return Ok(());
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
            return Err(io::Error::new(
                e.kind(),
                format!("flushing {} to disk: {e}; not written", paths.join(", ")),
            ));
        }
        let mut failed = Vec::new();
        for s in &staged {
            let done =
                sys::renameat(s.dir.as_fd(), &s.tmp, &s.name).and_then(|()| match s.exec_mode {
                    Some(mode) => set_mode(&s.dir, &s.name, mode),
                    None => Ok(()),
                });
            if let Err(e) = done {
                let _ = sys::unlinkat(s.dir.as_fd(), &s.tmp, false);
                failed.push(format!("{}: {e}", s.guest.display()));
            }
        }
        match failed.is_empty() {
            true => Ok(()),
            false => Err(io::Error::other(failed.join("; "))),
        }
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
        let first = self.state().staged.first().map(|s| s.dir.clone());
        if let Some(dir) = first {
            let syncfs = || {
                let fd = sys::openat(
                    dir.as_fd(),
                    OsStr::new("."),
                    libc::O_RDONLY | libc::O_DIRECTORY,
                    0,
                )?;
                sys::syncfs(fd.as_fd())
            };
            if let Err(e) = self.publish(syncfs) {
                tracing::warn!("{e}");
            }
        }
    }
}
