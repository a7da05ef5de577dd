//! Directories already resolved, reused while a stage runs.
//!
//! Resolving a guest path costs a kernel walk (`openat2`, or a `readlinkat`
//! and an `openat` per component on old kernels) and a descriptor; a stage
//! touches the same few directories hundreds of times (`/etc`,
//! `/var/lib/cloud/instance/sem`, ...). While the root is in stage mode
//! (see `commit.rs`), each directory is resolved once and its descriptor
//! kept, keyed by the guest path as given (its components, `..` kept).
//!
//! What could make a kept descriptor wrong is a change to the root's links
//! or directories: cloudboot's own (a link made or a path removed through
//! the root) and a program's (anything, under chroot). Those forget the
//! whole cache, as does every commit (a module's end), so a descriptor is
//! never older than the module that uses it. At most [`MAX_DIRS`] are kept.

use std::collections::HashMap;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::resolve::{components, Dir};

/// Descriptors kept at most (then the cache starts over): well under the
/// usual limit of 1024 open files, beside the staged files' directories.
const MAX_DIRS: usize = 128;

#[derive(Debug, Default)]
pub struct DirCache {
    /// `None`: not in stage mode, nothing is kept.
    dirs: Mutex<Option<HashMap<PathBuf, Arc<Dir>>>>,
}

impl DirCache {
    /// Keep resolved directories from now on.
    pub fn enable(&self) {
        let mut dirs = self.dirs.lock().unwrap_or_else(|e| e.into_inner());
        dirs.get_or_insert_with(HashMap::new);
    }

    /// The directory `guest`, from the cache or by `open` (then kept).
    pub fn open(
        &self,
        guest: &Path,
        open: impl FnOnce() -> io::Result<OwnedFd>,
    ) -> io::Result<Arc<Dir>> {
        let key: PathBuf = components(guest).iter().collect();
        if let Some(dirs) = self.dirs.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            if let Some(dir) = dirs.get(&key) {
                return Ok(dir.clone());
            }
        }
        let dir = Arc::new(Dir::new(open()?)?);
        let mut dirs = self.dirs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(dirs) = dirs.as_mut() {
            if dirs.len() >= MAX_DIRS {
                dirs.clear();
            }
            dirs.insert(key, dir.clone());
        }
        Ok(dir)
    }

    /// Whether `guest` was resolved (is a directory) since the cache was
    /// last forgotten.
    pub fn contains(&self, guest: &Path) -> bool {
        let key: PathBuf = components(guest).iter().collect();
        self.dirs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|dirs| dirs.contains_key(&key))
    }

    /// Forget every directory (links or directories may have changed).
    pub fn forget(&self) {
        if let Some(dirs) = self.dirs.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            dirs.clear();
        }
    }
}
