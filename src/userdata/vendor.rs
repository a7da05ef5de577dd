//! What vendor-data may do. The cloud's vendor-data is consumed as user-data
//! is, unless the user's own config switches it off: `vendor_data: {enabled:
//! false}` (and `vendor_data2` for the second blob) turns the blob off, and
//! `disabled_handlers` lists content types it may not use
//! (`stages.py:_consume_vendordata`). The other vendor-data rule, the
//! `prefix` put before its scripts, is applied where they run
//! (`modules/scripts_vendor.rs`).

use super::Kind;
use crate::merge;
use crate::value::Value;

/// The config key that governs vendor-data of `kind` (`None` for user-data).
pub fn config_key(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::User => None,
        Kind::Vendor => Some("vendor_data"),
        Kind::Vendor2 => Some("vendor_data2"),
    }
}

/// Whether vendor-data of `kind` is consumed: `Ok` with the content types
/// whose handlers it may not use, or `Err` with the note saying it is off.
///
/// The decision is cloud-init's `ConfigMerger(include_vendor=False)`: the
/// user's cloud-config over `init_cfg` (the `--file` configs over the
/// system config), never vendor-data's own config, so vendor-data cannot
/// switch itself back on.
pub fn consumable(kind: Kind, user_cfg: &Value, init_cfg: &Value) -> Result<Vec<String>, String> {
    let Some(key) = config_key(kind) else {
        return Ok(Vec::new());
    };
    let without_vendor = merge::merge_many(&[user_cfg.clone(), init_cfg.clone()]);
    let vcfg = without_vendor.get(key).cloned().unwrap_or_default();
    if !matches!(vcfg, Value::Map(_)) || !vcfg.get_bool("enabled", false) {
        return Err(format!("{key} disabled by config; not consumed"));
    }
    Ok(vcfg
        .get("disabled_handlers")
        .and_then(Value::as_seq)
        .map(|s| s.iter().map(Value::python_str).collect())
        .unwrap_or_default())
}
