//! Python's `str` methods that cloud-init's parsers lean on, with Python's
//! notion of whitespace and line ends: reading a file as cloud-init reads it
//! needs the same answer for `\x1c`, `\u{85}` or a lone `\r`.

/// `str.isspace()` for one character: Unicode whitespace plus the ASCII
/// separators `\x1c`-`\x1f`, which Rust's `char::is_whitespace` leaves out.
pub fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// `str.strip()` (no argument).
pub fn strip(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// `str.splitlines()`: `\n`, `\r\n`, `\r`, `\v`, `\f`, `\x1c`, `\x1d`,
/// `\x1e`, U+0085, U+2028 and U+2029 end a line; no empty last line.
pub fn splitlines(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let end = match c {
            '\r' => {
                if let Some((_, '\n')) = chars.peek() {
                    chars.next();
                    i + 2
                } else {
                    i + 1
                }
            }
            '\n' | '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}'
            | '\u{2029}' => i + c.len_utf8(),
            _ => continue,
        };
        out.push(&s[start..i]);
        start = end;
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_and_lines_are_pythons() {
        assert!(is_space('\x1c') && is_space('\u{85}') && is_space('\u{3000}'));
        assert!(!is_space('\u{200b}') && !is_space('x'));
        assert_eq!(strip("\x1f a b\u{a0}\n"), "a b");
        assert_eq!(
            splitlines("a\r\nb\rc\nd\x0be\x0cf\x1cg\u{85}h\u{2028}i\u{2029}j\n"),
            ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]
        );
        assert_eq!(splitlines("a\n\nb"), ["a", "", "b"]);
        assert!(splitlines("").is_empty());
        // \x1f separates units but ends no line.
        assert_eq!(splitlines("a\x1fb"), ["a\x1fb"]);
    }
}
