//! `urllib.parse`'s query-string decoding: `unquote_plus` and `parse_qsl`
//! (Python 3.11 defaults), for form bodies shown in plans and for query
//! strings in user-data.

/// `urllib.parse.unquote_plus`: `+` is a space, `%XX` a byte (the result
/// read as UTF-8, invalid sequences replaced); a `%` without two hex
/// digits after it stays as it is.
pub fn unquote_plus(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `urllib.parse.parse_qsl(text)`: `&`-separated `name=value` pairs, each
/// side decoded by [`unquote_plus`]; pairs without `=` or with an empty
/// value are dropped (`keep_blank_values=False`, not strict).
pub fn parse_qsl(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (unquote_plus(k), unquote_plus(v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_qsl_is_pythons() {
        // /usr/bin/python3 -c 'from urllib.parse import parse_qsl;
        //   print(parse_qsl("a=1&b&c=&d=x+y%20z%zz&=v&e=%4"))'
        assert_eq!(
            parse_qsl("a=1&b&c=&d=x+y%20z%zz&=v&e=%4"),
            [
                ("a".to_string(), "1".to_string()),
                ("d".to_string(), "x y z%zz".to_string()),
                ("".to_string(), "v".to_string()),
                ("e".to_string(), "%4".to_string()),
            ]
        );
    }
}
