//! cloud-init's `util.get_cfg_option_*` readers that more than one module
//! uses (`util.get_cfg_option_bool` is [`crate::value::Value::get_bool`]).

use crate::value::Value;

/// `util.get_cfg_option_list(cfg, key, default)`: absent gives `default`,
/// null none, a list its items, anything else one item, as `str()` writes
/// it.
pub fn option_list(cfg: &Value, key: &str, default: &[&str]) -> Vec<String> {
    match cfg.get(key) {
        None => default.iter().map(|s| s.to_string()).collect(),
        Some(Value::Null) => Vec::new(),
        Some(Value::Seq(items)) => items.iter().map(Value::python_str).collect(),
        Some(other) => vec![other.python_str()],
    }
}

/// `util.get_cfg_option_str(cfg, key)`: absent is `None`, anything else
/// Python's `str()` of it (null included: `"None"`).
pub fn option_str(cfg: &Value, key: &str) -> Option<String> {
    cfg.get(key).map(Value::python_str_any)
}
