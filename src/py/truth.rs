//! Truth: Python's truth value of a config value (`if value:`), of a JSON
//! value, and cloud-init's readings of a config value as a boolean
//! (`util.is_true`, `util.is_false`, `util.translate_bool`,
//! `util.get_cfg_option_bool`).

use serde_json::Value as J;

use crate::value::Value;

/// `util.TRUE_STRINGS`.
const TRUE_STRINGS: &[&str] = &["true", "1", "on", "yes"];
/// `util.FALSE_STRINGS`.
const FALSE_STRINGS: &[&str] = &["off", "0", "no", "false"];

impl Value {
    /// Python truthiness (`if value:`).
    pub fn truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::BigInt(_) => true,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Bytes(b) => !b.is_empty(),
            // Python's dates and datetimes are always true.
            Value::Timestamp(_) => true,
            Value::Seq(s) => !s.is_empty(),
            Value::Map(m) => !m.is_empty(),
        }
    }

    /// `util.get_cfg_option_bool(cfg, key, default)`: the key read with
    /// [`Value::to_bool`], `default` when it is absent.
    pub fn get_bool(&self, key: &str, default: bool) -> bool {
        self.get(key).map(Value::to_bool).unwrap_or(default)
    }

    /// cloud-init's `util.translate_bool`: real booleans, or one of the strings
    /// "true", "1", "on", "yes" (any case, surrounding blanks ignored).
    pub fn to_bool(&self) -> bool {
        translate_bool(self, &[])
    }
}

/// `util.is_true(val)`: a real boolean, or `str(val).lower().strip()` is
/// one of `TRUE_STRINGS`.
pub fn is_true(v: &Value) -> bool {
    is_true_or(v, &[])
}

/// `util.is_false(val)`: a real boolean, or `str(val).lower().strip()` is
/// one of `FALSE_STRINGS`.
pub fn is_false(v: &Value) -> bool {
    match v {
        Value::Bool(b) => !*b,
        other => FALSE_STRINGS.contains(&lowered(other).as_str()),
    }
}

/// `util.translate_bool(val, addons)`: false for anything Python finds
/// false, else [`is_true`] with `addons` as more true strings.
pub fn translate_bool(v: &Value, addons: &[&str]) -> bool {
    v.truthy() && is_true_or(v, addons)
}

/// `util.is_true(val, addons)`.
fn is_true_or(v: &Value, addons: &[&str]) -> bool {
    match v {
        Value::Bool(b) => *b,
        other => {
            let s = lowered(other);
            TRUE_STRINGS.contains(&s.as_str()) || addons.contains(&s.as_str())
        }
    }
}

/// `str(val).lower().strip()`.
fn lowered(v: &Value) -> String {
    crate::py::str::strip(&v.python_str().to_lowercase()).to_string()
}

/// Python's truth value of a JSON value (`if value:` on what `json.load`
/// gave).
pub fn json_truthy(v: &J) -> bool {
    match v {
        J::Null => false,
        J::Bool(b) => *b,
        J::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        J::String(s) => !s.is_empty(),
        J::Array(a) => !a.is_empty(),
        J::Object(o) => !o.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Moved from `value`.
    #[test]
    fn translate_bool_matches_cloud_init() {
        assert!(Value::str(" YES ").to_bool());
        assert!(Value::Int(1).to_bool());
        assert!(!Value::Int(2).to_bool());
        assert!(!Value::str("no").to_bool());
        assert!(!Value::Null.to_bool());
    }

    /// Moved from `distro::hostname`.
    #[test]
    fn translate_bool_as_cloud_init() {
        assert!(translate_bool(&Value::str(" Yes "), &[]));
        assert!(!translate_bool(&Value::str("localhost"), &[]));
        assert!(translate_bool(&Value::str("template"), &["template"]));
        assert!(translate_bool(&Value::Int(1), &[]));
        assert!(!translate_bool(&Value::Null, &[]));
    }

    #[test]
    fn is_true_and_is_false_leave_a_middle() {
        assert!(is_true(&Value::Bool(true)) && is_false(&Value::Bool(false)));
        assert!(is_true(&Value::str(" On\n")) && is_false(&Value::str("\x1cOFF")));
        assert!(is_false(&Value::Int(0)) && !is_true(&Value::Int(0)));
        for neither in [Value::Null, Value::str("unchanged"), Value::Int(2)] {
            assert!(!is_true(&neither) && !is_false(&neither), "{neither:?}");
        }
    }
}
