//! Where a filesystem datasource reads its files from: a seed directory in
//! the root, or a filesystem on a device read in place (ISO9660, vfat).
//! ConfigDrive and NoCloud read through this, so both work from either.

use std::path::{Path, PathBuf};

use super::DsError;
use super::MAX_USER_DATA;
use crate::blockfs::{Filesystem, FsError};
use crate::rootfs::read_limited;
use crate::rootfs::FsView;

/// A tree of seed files.
pub trait SeedSource {
    /// How cloud-init names it in `str(ds)`: the directory or the device.
    fn describe(&self) -> String;
    /// A file by relative path: `Ok(None)` when absent, `Err` when present
    /// but unreadable (a corrupt image, a file over the size limit).
    fn read(&self, rel: &str) -> Result<Option<Vec<u8>>, DsError>;
    /// Names in a directory (empty when absent).
    fn list(&self, rel: &str) -> Vec<String>;
    /// Whether the source is a device (`config-disk`) rather than a directory (`seed-dir`).
    fn is_device(&self) -> bool;
}

/// A seed directory inside the target root.
pub struct DirSource<'a> {
    pub fs: &'a dyn FsView,
    pub base: PathBuf,
}

impl SeedSource for DirSource<'_> {
    fn describe(&self) -> String {
        self.base.display().to_string()
    }

    fn read(&self, rel: &str) -> Result<Option<Vec<u8>>, DsError> {
        let p = self.base.join(rel.trim_start_matches('/'));
        match self.fs.stat(&p) {
            // A directory or a device where a file should be: not there.
            Some(st) if st.kind != crate::rootfs::Kind::File => Ok(None),
            _ => Ok(read_limited(self.fs, &p, MAX_USER_DATA)?),
        }
    }

    fn list(&self, rel: &str) -> Vec<String> {
        self.fs
            .list_dir(&self.base.join(rel.trim_start_matches('/')))
            .unwrap_or_default()
    }

    fn is_device(&self) -> bool {
        false
    }
}

/// A filesystem read in place from a device or image file.
pub struct DeviceSource {
    pub fs: Box<dyn Filesystem>,
    /// The device as a guest path (`/dev/sr0`) or the image path given.
    pub device: String,
}

impl SeedSource for DeviceSource {
    fn describe(&self) -> String {
        self.device.clone()
    }

    fn read(&self, rel: &str) -> Result<Option<Vec<u8>>, DsError> {
        match self
            .fs
            .read_file(rel.trim_start_matches('/'), MAX_USER_DATA as u64)
        {
            Ok(b) => Ok(Some(b)),
            Err(FsError::NotFound(_) | FsError::IsADirectory(_) | FsError::NotADirectory(_)) => {
                Ok(None)
            }
            Err(e) => Err(DsError::Device {
                device: self.device.clone(),
                fs_type: self.fs.fs_type(),
                file: rel.to_string(),
                error: e.to_string(),
            }),
        }
    }

    fn list(&self, rel: &str) -> Vec<String> {
        self.fs
            .list_dir(rel.trim_start_matches('/'))
            .map(|entries| entries.into_iter().map(|e| e.name).collect())
            .unwrap_or_default()
    }

    fn is_device(&self) -> bool {
        true
    }
}

/// `seed-dir (<path>)` or `config-disk (<device>)`, cloud-init's subplatform.
pub fn subplatform(src: &dyn SeedSource) -> String {
    if src.is_device() {
        format!("config-disk ({})", src.describe())
    } else {
        format!("seed-dir ({})", src.describe())
    }
}

/// Joins a relative seed path for messages.
pub fn shown(src: &dyn SeedSource, rel: &str) -> String {
    Path::new(&src.describe()).join(rel).display().to_string()
}
