//! Python's `int()`: of decimal text ([`parse`]), of octal text
//! ([`parse_octal`]), and of a config value ([`from_value`]).

use crate::value::Value;

/// Python's `int(text)` for decimal text: surrounding whitespace, a sign,
/// digits with single `_` between them. Beyond i64 it saturates (callers
/// only need "very large"). `None` where Python raises `ValueError`.
pub fn parse(text: &str) -> Option<i64> {
    let t = text.trim();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    {
        return None;
    }
    let mut n: i64 = 0;
    for b in digits.bytes().filter(u8::is_ascii_digit) {
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    Some(if neg { -n } else { n })
}

/// Python's `int(s, 8)`: blanks around, an optional `0o`, `_` between
/// digits; unsigned (`None` for a minus sign, and past `u32`), as file
/// modes need.
pub fn parse_octal(s: &str) -> Option<u32> {
    let s = s.trim();
    let s = s
        .strip_prefix("0o")
        .or_else(|| s.strip_prefix("0O"))
        .unwrap_or(s);
    if s.is_empty() || s.starts_with('_') || s.ends_with('_') || s.contains("__") {
        return None;
    }
    u32::from_str_radix(&s.replace('_', ""), 8).ok()
}

/// Python's `int(v)` for what YAML gives: ints, bools, floats (towards
/// zero, saturating past i64), decimal text ([`parse`]) as `str` or
/// `bytes`. `Ok(None)` where Python raises `ValueError` or `TypeError`
/// (`None`, a list, NaN, text that is no integer, a date, an integer past
/// 64 bits), `Err` where it raises `OverflowError` (an infinite float),
/// which callers that catch only the first two let through.
pub fn from_value(v: &Value) -> Result<Option<i64>, String> {
    Ok(match v {
        Value::Int(i) => Some(*i),
        Value::Bool(b) => Some(i64::from(*b)),
        Value::Float(f) if f.is_infinite() => {
            return Err("OverflowError: cannot convert float infinity to integer".into())
        }
        Value::Float(f) if f.is_nan() => None,
        Value::Float(f) => Some(f.trunc().clamp(i64::MIN as f64, i64::MAX as f64) as i64),
        Value::Str(s) => parse(s),
        Value::Bytes(b) => std::str::from_utf8(b).ok().and_then(parse),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Moved from `net::input::sys`, whose `py_int` this was.
    #[test]
    fn python_rules() {
        let py_int = parse;
        assert_eq!(py_int(" 1 "), Some(1));
        assert_eq!(py_int("+1_0"), Some(10));
        assert_eq!(py_int("-0"), Some(0));
        for bad in ["", "1__0", "_1", "1_", "0x1", "one", "1.0"] {
            assert_eq!(py_int(bad), None, "{bad}");
        }
    }

    /// Moved from `phone_home`, whose `py_int` this was.
    #[test]
    fn tries_as_python_int_reads_them() {
        let int = |v: Value| from_value(&v);
        assert_eq!(int(Value::Int(5)), Ok(Some(5)));
        assert_eq!(int(Value::str(" 7\n")), Ok(Some(7)));
        assert_eq!(int(Value::str("1_0")), Ok(Some(10)));
        assert_eq!(int(Value::str("-2")), Ok(Some(-2)));
        assert_eq!(int(Value::Float(3.9)), Ok(Some(3)));
        assert_eq!(int(Value::Bool(true)), Ok(Some(1)));
        for bad in [
            Value::str("x"),
            Value::str("5.0"),
            Value::str("1__0"),
            Value::str(""),
            Value::Null,
            Value::Seq(vec![]),
            Value::Float(f64::NAN),
        ] {
            assert_eq!(int(bad.clone()), Ok(None), "{bad:?}");
        }
        assert!(int(Value::Float(f64::INFINITY)).is_err());
    }
}
