//! `cloud-init devel make-mime`: files joined into one multipart MIME
//! user-data, as 22.4's `cloudinit/cmd/devel/make_mime.py` writes it with
//! Python's `email` package (`MIMEMultipart` of `MIMEText` parts, printed
//! with `print(message)`), so its output is 22.4's byte for byte but for the
//! random boundary (tests/make_mime.rs checks that against fixtures of 22.4's
//! own output, and that both readers read it into the same parts).
//!
//! What Python's `email` does that shows in the output, and is done here:
//! - each part is `Content-Type: text/<TYPE>; charset="utf-8"`,
//!   `MIME-Version: 1.0`, `Content-Transfer-Encoding: base64`,
//!   `Content-Disposition: attachment; filename="<FILE>"`, the file's text
//!   (newlines made `\n`, as Python's text mode does) in base64 lines of 76;
//! - `set_param("charset")` rebuilds the Content-Type from its parameters;
//!   when that changes the text (a TYPE such as `x; a=b` gets `a="b"`), the
//!   header moves after MIME-Version, as Python's `del` and re-add move it;
//! - a header with non-ASCII text is one RFC 2047 encoded word, base64 or
//!   `q`, whichever is shorter (`email.header.Header` with `maxlinelen=0`);
//! - the type is checked as `get_content_type()` sees it: lower case, and
//!   `text/plain` when it has not exactly one `/` (`-a f:a/b`).
//!
//! Where 22.4 fails with a Python traceback (a missing file, `-a` without
//! `:TYPE`, a file that is not UTF-8), cloudboot says what is wrong and exits
//! with the same code, 1. A file name or type with a line break is refused
//! the same way: Python would write it into the header and break the message.

use std::io::Write;

use crate::value::python_str_repr;

/// 22.4's `INCLUSION_TYPES_MAP` values, sorted (`get_content_types`): what
/// cloud-init's user-data handlers accept; `-l` prints them without `text/`.
pub const CONTENT_TYPES: [&str; 12] = [
    "text/cloud-boothook",
    "text/cloud-config",
    "text/cloud-config-archive",
    "text/cloud-config-jsonp",
    "text/jinja2",
    "text/part-handler",
    "text/x-include-once-url",
    "text/x-include-url",
    "text/x-shellscript",
    "text/x-shellscript-per-boot",
    "text/x-shellscript-per-instance",
    "text/x-shellscript-per-once",
];

/// One `-a FILE:TYPE`, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// As given, before the first `:` (the Content-Disposition filename).
    pub filename: String,
    /// After the first `:`, stripped (`text/` is put before it).
    pub subtype: String,
    /// The file's text, newlines made `\n`.
    pub text: String,
}

/// Splits `FILE:TYPE` at the first `:` and reads the file.
pub fn read_attachment(arg: &str) -> Result<Attachment, String> {
    let Some((filename, subtype)) = arg.split_once(':') else {
        return Err(format!(
            "Invalid value for {}: give FILE:TYPE",
            python_str_repr(arg)
        ));
    };
    let subtype = py_strip(subtype);
    for (what, s) in [("file name", filename), ("content type", subtype)] {
        if s.chars().any(is_line_break) {
            return Err(format!(
                "the {what} of {} has a line break, which a MIME header cannot hold",
                python_str_repr(arg)
            ));
        }
    }
    let bytes = std::fs::read(filename).map_err(|e| crate::argparse::os_error(&e, filename))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        format!(
            "{}: not UTF-8 text (invalid byte at offset {})",
            python_str_repr(filename),
            e.utf8_error().valid_up_to()
        )
    })?;
    Ok(Attachment {
        filename: filename.to_string(),
        subtype: subtype.to_string(),
        text: universal_newlines(&text),
    })
}

/// Python's `str.strip()`: Unicode whitespace, and the separators
/// `\x1c`-`\x1f` Python also counts as space.
fn py_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || ('\x1c'..='\x1f').contains(&c))
}

/// What Python's `str.splitlines()` splits at.
fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r'
            | '\x0b'
            | '\x0c'
            | '\x1c'
            | '\x1d'
            | '\x1e'
            | '\u{85}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

/// Text mode's reading: `\r\n` and a lone `\r` become `\n`.
fn universal_newlines(text: &str) -> String {
    if !text.contains('\r') {
        return text.to_string();
    }
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// The message and the warnings about types cloud-init has no handler for
/// (`create_mime_message`); `token` is the boundary's random number.
pub fn build(attachments: &[Attachment], token: u64) -> (String, Vec<String>) {
    let mut parts = Vec::new();
    let mut errors = Vec::new();
    for (i, a) in attachments.iter().enumerate() {
        let headers = part_headers(a);
        let content_type = get_content_type(&headers);
        if !CONTENT_TYPES.contains(&content_type.as_str()) {
            errors.push(format!(
                "content type {} for attachment {} may be incorrect!",
                python_str_repr(&content_type),
                i + 1
            ));
        }
        let mut text = String::new();
        for (name, value) in &headers {
            text.push_str(&format!("{name}: {}\n", fold(value)));
        }
        text.push('\n');
        text.push_str(&body_base64(a.text.as_bytes()));
        parts.push(text);
    }
    let boundary = boundary(token, &parts);
    let mut out = format!(
        "Content-Type: multipart/mixed; boundary=\"{boundary}\"\nMIME-Version: 1.0\n\n--{boundary}\n"
    );
    out.push_str(&parts.join(&format!("\n--{boundary}\n")));
    out.push_str(&format!("\n--{boundary}--\n"));
    (out, errors)
}

/// A part's headers in the order `MIMEText` leaves them.
fn part_headers(a: &Attachment) -> Vec<(&'static str, String)> {
    let added = format!("text/{}; charset=\"utf-8\"", a.subtype);
    let mut headers = vec![
        ("Content-Type", added.clone()),
        ("MIME-Version", "1.0".into()),
    ];
    let rebuilt = set_charset_param(&added);
    if rebuilt != added {
        headers.remove(0);
        headers.push(("Content-Type", rebuilt));
    }
    headers.push(("Content-Transfer-Encoding", "base64".into()));
    headers.push((
        "Content-Disposition",
        format!("attachment; filename=\"{}\"", a.filename),
    ));
    headers
}

/// `Message.set_param("charset", "utf-8")` on `value`: every parameter
/// unquoted and quoted again, `charset` set (appended when none is seen).
fn set_charset_param(value: &str) -> String {
    let params: Vec<(String, String)> = parse_params(value)
        .into_iter()
        .enumerate()
        .map(|(i, (name, v))| {
            // decode_params quotes every value but the first's.
            let v = if i == 0 {
                v
            } else {
                format!("\"{}\"", quote(&unquote(&v)))
            };
            (name, unquote(&v))
        })
        .collect();
    // `get_param`: the first parameter of that name, and not empty.
    let has_charset = params
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("charset"))
        .is_some_and(|(_, v)| !v.is_empty());
    if !has_charset {
        return format!("{value}; {}", format_param("charset", "utf-8"));
    }
    let rebuilt: Vec<String> = params
        .iter()
        .map(|(name, v)| {
            if name.eq_ignore_ascii_case("charset") {
                format_param("charset", "utf-8")
            } else {
                format_param(name, v)
            }
        })
        .collect();
    rebuilt.join("; ")
}

/// `email.message._parseparam` then `_get_params_preserve`: the pieces
/// between `;`s outside quotes, each split at its first `=`.
fn parse_params(value: &str) -> Vec<(String, String)> {
    let mut pieces = Vec::new();
    let mut s = value;
    loop {
        let quotes_before =
            |end: usize| s[..end].matches('"').count() - s[..end].matches("\\\"").count();
        let mut end = s.find(';');
        while let Some(e) = end.filter(|e| *e > 0 && quotes_before(*e) % 2 == 1) {
            end = s[e + 1..].find(';').map(|n| e + 1 + n);
        }
        let piece = &s[..end.unwrap_or(s.len())];
        let piece = match piece.split_once('=') {
            Some((n, v)) => format!("{}={}", n.trim().to_lowercase(), v.trim()),
            None => piece.to_string(),
        };
        pieces.push(piece.trim().to_string());
        match end {
            Some(e) => s = &s[e + 1..],
            None => break,
        }
    }
    pieces
        .into_iter()
        .map(|p| match p.split_once('=') {
            Some((n, v)) => (n.trim().to_string(), v.trim().to_string()),
            None => (p.trim().to_string(), String::new()),
        })
        .collect()
}

/// `email.utils.unquote`.
fn unquote(s: &str) -> String {
    if s.len() > 1 {
        if s.starts_with('"') && s.ends_with('"') {
            return s[1..s.len() - 1]
                .replace("\\\\", "\\")
                .replace("\\\"", "\"");
        }
        if s.starts_with('<') && s.ends_with('>') {
            return s[1..s.len() - 1].to_string();
        }
    }
    s.to_string()
}

/// `email.utils.quote`.
fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// `email.message._formatparam(param, value, quote=True)`; a non-ASCII
/// value is RFC 2231 (`name*=utf-8''%XX`).
fn format_param(name: &str, value: &str) -> String {
    if value.is_empty() {
        return name.to_string();
    }
    if !value.is_ascii() {
        let encoded: String = value
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"_.-~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        return format!("{name}*=utf-8''{encoded}");
    }
    format!("{name}=\"{}\"", quote(value))
}

/// `Message.get_content_type()`: before the first `;`, lower case;
/// `text/plain` unless it has exactly one `/`.
fn get_content_type(headers: &[(&str, String)]) -> String {
    let value = headers
        .iter()
        .find(|(n, _)| *n == "Content-Type")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    let ctype = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_lowercase();
    if ctype.matches('/').count() == 1 {
        ctype
    } else {
        "text/plain".into()
    }
}

/// A header value as compat32's `fold` writes it with no line length:
/// ASCII as it is, else one RFC 2047 word in UTF-8, `b` or `q` encoded,
/// whichever is shorter (`q` on a tie).
fn fold(value: &str) -> String {
    if value.is_ascii() {
        return value.to_string();
    }
    let bytes = value.as_bytes();
    let len64 = bytes.len().div_ceil(3) * 4;
    let q: String = bytes
        .iter()
        .map(|&b| match b {
            b' ' => "_".to_string(),
            b'-' | b'!' | b'*' | b'+' | b'/' => (b as char).to_string(),
            _ if b.is_ascii_alphanumeric() => (b as char).to_string(),
            _ => format!("={b:02X}"),
        })
        .collect();
    if len64 < q.len() {
        format!("=?utf-8?b?{}?=", crate::base64::encode(bytes))
    } else {
        format!("=?utf-8?q?{q}?=")
    }
}

/// `email.base64mime.body_encode`: lines of 76 characters (57 bytes), each
/// ending in `\n`; nothing for nothing.
fn body_base64(data: &[u8]) -> String {
    data.chunks(57)
        .map(|c| format!("{}\n", crate::base64::encode(c)))
        .collect()
}

/// `Generator._make_boundary`: 15 `=`, the token as 19 digits, `==`; with
/// `.0`, `.1` ... added while a line of the parts is `--BOUNDARY[--]`.
fn boundary(token: u64, parts: &[String]) -> String {
    let base = format!("==============={token:019}==");
    let mut b = base.clone();
    let mut counter = 0;
    let taken = |b: &str| {
        parts.iter().flat_map(|p| p.lines()).any(|l| {
            l.strip_prefix("--")
                .and_then(|l| l.strip_prefix(b))
                .is_some_and(|rest| rest.is_empty() || rest == "--")
        })
    };
    while taken(&b) {
        b = format!("{base}.{counter}");
        counter += 1;
    }
    b
}

/// A number below 2^63 - 1, as `random.randrange(sys.maxsize)`.
fn random_token() -> u64 {
    let mut buf = [0u8; 8];
    crate::host::kernel_random(&mut buf);
    u64::from_le_bytes(buf) % (i64::MAX as u64)
}

/// The verb: `-l` lists the types; else the attachments are read and the
/// message printed (exit 0), or, with a type cloud-init has no handler for
/// and no `--force`, the warnings and exit 1.
pub fn run(attach: &[String], list_types: bool, force: bool) -> i32 {
    // 22.4 opens every file while it reads the command line, -l or not.
    let mut attachments = Vec::new();
    for a in attach {
        match read_attachment(a) {
            Ok(a) => attachments.push(a),
            Err(e) => {
                eprintln!("cloud-init devel make-mime: error: {e}");
                return 1;
            }
        }
    }
    let mut stdout = std::io::stdout().lock();
    if list_types {
        let names: Vec<&str> = CONTENT_TYPES
            .iter()
            .map(|t| t.trim_start_matches("text/"))
            .collect();
        return write_out(&mut stdout, &format!("{}\n", names.join("\n")));
    }
    let (message, errors) = build(&attachments, random_token());
    if !errors.is_empty() {
        let level = if force { "WARNING" } else { "ERROR" };
        for e in &errors {
            eprintln!("{level}: {e}");
        }
        eprintln!("Invalid content-types, override with --force");
        if !force {
            return 1;
        }
    }
    write_out(&mut stdout, &format!("{message}\n"))
}

fn write_out(out: &mut impl Write, text: &str) -> i32 {
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("cloud-init devel make-mime: writing the output: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn att(subtype: &str, text: &str) -> Attachment {
        Attachment {
            filename: "f.yaml".into(),
            subtype: subtype.into(),
            text: text.into(),
        }
    }

    #[test]
    fn a_plain_type_keeps_python_s_header_order() {
        let h = part_headers(&att("cloud-config", ""));
        assert_eq!(
            h[0],
            (
                "Content-Type",
                "text/cloud-config; charset=\"utf-8\"".into()
            )
        );
        assert_eq!(h[1].0, "MIME-Version");
    }

    /// What Python 3.11's email package writes for these types (see the
    /// fixtures for the whole messages).
    #[test]
    fn parameters_in_the_type_are_requoted_and_the_header_moves() {
        let h = part_headers(&att("x; foo=bar", ""));
        assert_eq!(h[0].0, "MIME-Version");
        assert_eq!(
            h[1],
            (
                "Content-Type",
                "text/x; foo=\"bar\"; charset=\"utf-8\"".into()
            )
        );
        assert_eq!(get_content_type(&h), "text/x");
        assert_eq!(
            get_content_type(&part_headers(&att("a/b", ""))),
            "text/plain"
        );
        assert_eq!(
            get_content_type(&part_headers(&att("Cloud-Config", ""))),
            "text/cloud-config"
        );
    }

    #[test]
    fn non_ascii_headers_are_one_encoded_word() {
        assert_eq!(
            fold("attachment; filename=\"café.yaml\""),
            "=?utf-8?b?YXR0YWNobWVudDsgZmlsZW5hbWU9ImNhZsOpLnlhbWwi?="
        );
        assert_eq!(
            fold("text/clöud; charset=\"utf-8\""),
            "=?utf-8?q?text/cl=C3=B6ud=3B_charset=3D=22utf-8=22?="
        );
    }

    #[test]
    fn bodies_are_base64_lines_of_76() {
        let body = body_base64(&[b'a'; 58]);
        let lines: Vec<&str> = body.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), 76);
        assert_eq!(body_base64(b""), "");
    }

    #[test]
    fn a_boundary_in_a_part_gets_a_counter() {
        let b = boundary(7, &[]);
        assert_eq!(b, "===============0000000000000000007==");
        assert_eq!(boundary(7, &[format!("x\n--{b}\n")]), format!("{b}.0"));
    }

    #[test]
    fn bad_attachments_are_refused_with_what_is_wrong() {
        assert!(read_attachment("nofile").unwrap_err().contains("FILE:TYPE"));
        let e = read_attachment("/nonexistent/x:cloud-config").unwrap_err();
        assert!(e.contains("No such file or directory"), "{e}");
        assert!(read_attachment("a\nb:cloud-config")
            .unwrap_err()
            .contains("line break"));
    }

    #[test]
    fn newlines_are_read_as_text_mode_reads_them() {
        assert_eq!(universal_newlines("a\r\nb\rc\n"), "a\nb\nc\n");
    }
}
