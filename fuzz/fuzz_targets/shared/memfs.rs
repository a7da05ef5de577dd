//! A root held in memory: the files a target puts there and the directories
//! above them, nothing else, so fuzzed input never reads (or waits on) this
//! machine's files and nothing is written anywhere.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use cloudboot::rootfs::{FsView, Kind, Stat};

#[derive(Default)]
pub struct MemFs {
    pub files: BTreeMap<PathBuf, Vec<u8>>,
}

impl MemFs {
    pub fn with(files: &[(&str, &[u8])]) -> MemFs {
        MemFs {
            files: files
                .iter()
                .map(|(p, c)| (PathBuf::from(p), c.to_vec()))
                .collect(),
        }
    }

    fn is_dir(&self, path: &Path) -> bool {
        self.files.keys().any(|f| f != path && f.starts_with(path))
    }
}

fn stat(kind: Kind, len: u64) -> Stat {
    Stat {
        kind,
        mode: if kind == Kind::Dir { 0o755 } else { 0o644 },
        uid: 0,
        gid: 0,
        len,
        mtime: 0,
    }
}

impl FsView for MemFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }

    fn stat(&self, path: &Path) -> Option<Stat> {
        match self.files.get(path) {
            Some(c) => Some(stat(Kind::File, c.len() as u64)),
            None if self.is_dir(path) => Some(stat(Kind::Dir, 4096)),
            None => None,
        }
    }

    fn lstat(&self, path: &Path) -> Option<Stat> {
        self.stat(path)
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        if !self.is_dir(path) {
            return Err(io::ErrorKind::NotFound.into());
        }
        let mut names: Vec<String> = self
            .files
            .keys()
            .filter_map(|f| f.strip_prefix(path).ok())
            .filter_map(|rest| rest.components().next())
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        names.dedup();
        Ok(names)
    }

    fn read_link(&self, _path: &Path) -> io::Result<PathBuf> {
        Err(io::ErrorKind::InvalidInput.into())
    }
}
