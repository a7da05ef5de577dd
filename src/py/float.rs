//! Python's `float(text)`.

/// Python's `float(text)`: blanks around, a sign, digits with single `_`
/// between them, a fraction, an exponent; or `inf`, `infinity`, `nan` in
/// any case, with a sign. `None` where Python raises `ValueError`.
pub fn parse(text: &str) -> Option<f64> {
    let t = without_digit_underscores(text)?;
    let body = t.trim_start_matches(['+', '-']).to_ascii_lowercase();
    let named = matches!(body.as_str(), "inf" | "infinity" | "nan");
    let numeric = !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'+' | b'-'));
    if named || numeric {
        // Rust's parser agrees with Python's on what is left (`1.`, `.5`,
        // `1e3`) and refuses what Python refuses (a second sign).
        t.parse().ok()
    } else {
        None
    }
}

/// Whitespace trimmed and `_` between digits removed, as Python's number
/// parsing allows; `None` for any other `_`.
fn without_digit_underscores(s: &str) -> Option<String> {
    let t = s.trim();
    let b = t.as_bytes();
    let mut out = String::with_capacity(t.len());
    for (i, c) in t.char_indices() {
        if c == '_' {
            let digit_before = i > 0 && b[i - 1].is_ascii_digit();
            let digit_after = b.get(i + 1).is_some_and(u8::is_ascii_digit);
            if !(digit_before && digit_after) {
                return None;
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_text_as_python_does() {
        assert_eq!(parse(" 1_0.5e1\n"), Some(105.0));
        assert_eq!(parse(".5"), Some(0.5));
        assert_eq!(parse("1."), Some(1.0));
        assert_eq!(parse("-Infinity"), Some(f64::NEG_INFINITY));
        assert!(parse("nan").is_some_and(f64::is_nan));
        for bad in ["", "1__0", "_1", "1_", "+-1", "1e", "0x10", "1 0"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
