//! cloudboot's own bounds on what a module decodes (`cloudboot: {limits:
//! ...}` in the config), shared by the modules that decompress data.

use crate::module::prelude::*;

/// The most a gzip payload may decompress to: `cloudboot: {limits:
/// {write_file_bytes: N}}` in the config, else 256 MiB. cloud-init has no
/// limit (a 1 GiB bomb costs it gigabytes of memory); cloudboot streams the
/// content and stops at this one. write_files' gzip content and
/// seed_random's gzip data are bounded by it.
pub fn write_limit(cfg: &Value) -> u64 {
    cfg.get("cloudboot")
        .and_then(|c| c.get("limits"))
        .and_then(|l| l.get("write_file_bytes"))
        .and_then(|v| match v {
            Value::Int(i) => u64::try_from(*i).ok(),
            _ => None,
        })
        .unwrap_or(DEFAULT_WRITE_LIMIT)
}

const DEFAULT_WRITE_LIMIT: u64 = 256 << 20;
