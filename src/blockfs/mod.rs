//! Reading filesystems on block devices (and image files) without mounting
//! them: ISO9660 (with Rock Ridge and Joliet names) and FAT, the two
//! filesystems config drives and NoCloud seeds come on. Works in an
//! initramfs-like boot, in containers and in tests; a corrupt or hostile
//! image gives a clear [`FsError`], never a panic or an endless loop.

pub mod iso9660;
pub mod vfat;

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Random access to a device or image.
pub trait ReadAt {
    /// Reads up to `buf.len()` bytes at `offset`; fewer only at the end.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
    /// Size in bytes.
    fn size(&self) -> u64;

    /// Exactly `len` bytes at `offset`, or an error naming the offset.
    fn read_exact_at(&self, offset: u64, len: usize) -> Result<Vec<u8>, FsError> {
        if offset
            .checked_add(len as u64)
            .is_none_or(|end| end > self.size())
        {
            return Err(FsError::Corrupt(format!(
                "read of {len} bytes at offset {offset} is past the end of the image ({} bytes)",
                self.size()
            )));
        }
        let mut buf = vec![0u8; len];
        let mut done = 0;
        while done < len {
            let n = self.read_at(offset + done as u64, &mut buf[done..])?;
            if n == 0 {
                return Err(FsError::Corrupt(format!(
                    "image ends at offset {} (wanted {len} bytes at {offset})",
                    offset + done as u64
                )));
            }
            done += n;
        }
        Ok(buf)
    }
}

impl ReadAt for File {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        FileExt::read_at(self, buf, offset)
    }

    fn size(&self) -> u64 {
        // Block devices report 0 in metadata; seek to the end instead.
        use std::io::{Seek, SeekFrom};
        let md_len = self.metadata().map(|m| m.len()).unwrap_or(0);
        if md_len > 0 {
            return md_len;
        }
        let mut f = self;
        f.seek(SeekFrom::End(0)).unwrap_or(0)
    }
}

impl ReadAt for [u8] {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.len());
        let n = buf.len().min(self.len() - start);
        buf[..n].copy_from_slice(&self[start..start + n]);
        Ok(n)
    }

    fn size(&self) -> u64 {
        self.len() as u64
    }
}

impl ReadAt for Vec<u8> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.as_slice().read_at(offset, buf)
    }

    fn size(&self) -> u64 {
        self.len() as u64
    }
}

/// Why a filesystem could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// Not this kind of filesystem at all (the next kind may be tried).
    #[error("not a {0} filesystem")]
    NotThisFs(&'static str),
    /// This kind, but damaged or hostile: what is wrong, and where.
    #[error("corrupt filesystem: {0}")]
    Corrupt(String),
    #[error("{0}: no such file or directory")]
    NotFound(String),
    #[error("{0}: not a directory")]
    NotADirectory(String),
    #[error("{0}: is a directory")]
    IsADirectory(String),
    /// A limit that protects memory or time (file size, directory entries).
    #[error("{0}")]
    TooLarge(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl FsError {
    /// A file of `size` bytes where at most `max` are read: one wording for
    /// every filesystem.
    pub fn file_too_large(shown: &str, size: u64, max: u64) -> FsError {
        FsError::TooLarge(format!(
            "{shown}: {size} bytes, more than the limit of {max} bytes"
        ))
    }
}

/// One directory entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    pub is_dir: bool,
    pub size: u64,
}

/// A filesystem read in place.
pub trait Filesystem {
    /// The volume label (ISO9660 volume id, FAT label), as stored.
    fn label(&self) -> &str;
    /// `iso9660` or `vfat` (blkid's TYPE).
    fn fs_type(&self) -> &'static str;
    /// Entries of the directory at `path` (`/`-separated, from the root).
    fn list_dir(&self, path: &str) -> Result<Vec<DirEntry>, FsError>;
    /// The whole file at `path`, refused past `max_bytes`.
    fn read_file(&self, path: &str, max_bytes: u64) -> Result<Vec<u8>, FsError>;
}

/// The filesystem type and label of a device, from its superblock
/// (what `blkid -o export` reports as TYPE and LABEL), if it is one we read.
pub fn probe(dev: &dyn ReadAt) -> Option<(&'static str, String)> {
    iso9660::probe_label(dev)
        .map(|l| ("iso9660", l))
        .or_else(|| vfat::probe_label(dev).map(|l| ("vfat", l)))
}

/// Opens a device as whichever filesystem it holds (ISO9660, then FAT).
pub fn open(dev: File) -> Result<Box<dyn Filesystem>, FsError> {
    if iso9660::probe_label(&dev).is_some() {
        return Ok(Box::new(iso9660::Iso9660::open(dev)?));
    }
    Ok(Box::new(vfat::Vfat::open(dev)?))
}
