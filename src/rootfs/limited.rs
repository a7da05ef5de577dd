//! Reading a file of the root whose size is bounded: seeds, user-data,
//! anything whose size the image (or the cloud) decides.

use std::path::Path;

use super::FsView;

/// Why [`read_limited`] gave no file.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum ReadError {
    #[error("{0}: not a regular file")]
    NotRegular(String),
    /// What, its size, and the limit.
    #[error("{}", too_large(.0, *.1, *.2))]
    TooLarge(String, u64, usize),
    #[error("{0}: {1}")]
    Io(String, String),
}

/// A regular file of at most `max` bytes in the root: `Ok(None)` when absent.
/// Anything else is an error naming the path: a device or FIFO (whose read
/// could block or never end), or a file larger than `max`, which is found
/// from its size before reading, and never read past `max` + 1 bytes.
pub fn read_limited(
    fs: &dyn FsView,
    path: &Path,
    max: usize,
) -> Result<Option<Vec<u8>>, ReadError> {
    let shown = || path.display().to_string();
    let Some(st) = fs.stat(path) else {
        return Ok(None);
    };
    if st.kind != super::Kind::File {
        return Err(ReadError::NotRegular(shown()));
    }
    if st.len > max as u64 {
        return Err(ReadError::TooLarge(shown(), st.len, max));
    }
    let data = fs
        .read_at_most(path, max as u64)
        .map_err(|e| ReadError::Io(shown(), e.to_string()))?;
    if data.len() > max {
        // It grew while being read.
        return Err(ReadError::TooLarge(shown(), data.len() as u64, max));
    }
    Ok(Some(data))
}

/// `<what>: 64.0 MiB, more than the 16 MiB cloudboot accepts`.
pub fn too_large(what: &str, len: u64, max: usize) -> String {
    let max = match max % (1 << 20) {
        0 => format!("{} MiB", max >> 20),
        _ => format!("{max} bytes"),
    };
    let len = match len >= 1 << 20 {
        true => format!("{:.1} MiB", len as f64 / (1u64 << 20) as f64),
        false => format!("{len} bytes"),
    };
    format!("{what}: {len}, more than the {max} cloudboot accepts")
}
