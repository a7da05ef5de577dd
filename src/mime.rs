//! Reading MIME messages as user-data is written: RFC 822 headers, nested
//! `multipart/*`, and `base64` / `quoted-printable` bodies. Pure: bytes in,
//! the message's leaf parts (or an error naming what is wrong) out.
//!
//! Python's `email` package, which cloud-init uses, is lenient; so are we
//! where leniency is harmless (header case, missing MIME-Version in parts,
//! blanks around boundaries). A multipart that ends before its closing
//! boundary is reported, and the parts that did arrive whole are kept.
//!
//! Python's parser has no limits; this one has, so that a hostile message
//! costs time and memory in proportion to its size, whatever its shape: at
//! most `max_parts` parts (the caller's budget), [`MAX_DEPTH`] levels of
//! nesting and [`MAX_HEADERS`] header lines per part. Parts borrow their
//! bodies from the message, so nesting does not copy it.

use std::borrow::Cow;

use crate::base64;

/// Header lines in order: (name as written, value with folds undone).
pub type Headers = Vec<(String, String)>;

/// One leaf of a message (what `Message.walk()` yields that is not itself a
/// multipart): its headers and its body as transmitted.
#[derive(Clone, Debug, PartialEq)]
pub struct Part<'a> {
    pub headers: Headers,
    /// The body, still transfer-encoded.
    pub body: &'a [u8],
    /// Where it sits in the message, for messages: `3` for the third part,
    /// `5.2` for the second part of a multipart that is the fifth. `None`
    /// when the message is not a multipart (it is its own only part).
    pub number: Option<String>,
}

/// A message that cannot be read.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum MimeError {
    /// More parts than the caller allowed (counting nested multiparts).
    #[error("more than {0} parts")]
    TooManyParts(usize),
    #[error("{0}")]
    Malformed(String),
}

/// Nesting deeper than this is refused (a hostile message could recurse forever).
pub const MAX_DEPTH: usize = 32;

/// Header lines (continuations included) in one part: real parts have a
/// handful; each costs two small allocations, so a part of nothing but
/// header lines would otherwise use several times its size in memory.
pub const MAX_HEADERS: usize = 200;

/// The first header named `name` (any case).
pub fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// `type/subtype`, lower case, as `get_content_type()`: `text/plain` when absent.
pub fn content_type(headers: &[(String, String)]) -> String {
    let t = header(headers, "Content-Type")
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    // email.message.get_content_type: anything but one `/` is text/plain.
    if t.matches('/').count() == 1 {
        t
    } else {
        "text/plain".into()
    }
}

impl Part<'_> {
    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    pub fn content_type(&self) -> String {
        content_type(&self.headers)
    }

    /// A parameter of a header (`boundary`, `filename`, `name`), unquoted.
    pub fn param(&self, header: &str, name: &str) -> Option<String> {
        param(self.header(header)?, name)
    }

    /// `get_filename()`: Content-Disposition `filename`, else Content-Type `name`.
    pub fn filename(&self) -> Option<String> {
        self.param("Content-Disposition", "filename")
            .or_else(|| self.param("Content-Type", "name"))
    }

    /// The body with its Content-Transfer-Encoding undone.
    pub fn decoded_body(&self) -> Result<Cow<'_, [u8]>, MimeError> {
        let cte = self
            .header("Content-Transfer-Encoding")
            .unwrap_or("7bit")
            .trim()
            .to_ascii_lowercase();
        match cte.as_str() {
            "base64" => base64::decode(self.body)
                .map(Cow::Owned)
                .map_err(|e| MimeError::Malformed(format!("base64 body cannot be decoded: {e}"))),
            "quoted-printable" => Ok(Cow::Owned(decode_quoted_printable(self.body))),
            _ => Ok(Cow::Borrowed(self.body)),
        }
    }
}

/// What [`parse`] found: the leaf parts in order, and problems that left
/// usable parts (a truncated multipart).
#[derive(Debug, Default)]
pub struct Message<'a> {
    pub parts: Vec<Part<'a>>,
    pub warnings: Vec<String>,
}

/// Parses a whole message into its leaf parts, depth first, as
/// `Message.walk()` yields them (multipart containers themselves are
/// skipped). More than `max_parts` parts, containers included, is an error
/// found before the rest of the message is looked at.
pub fn parse(data: &[u8], max_parts: usize) -> Result<Message<'_>, MimeError> {
    let mut walk = Walk {
        max_parts,
        seen: 0,
        out: Message::default(),
    };
    walk.entity(data, None, 0)?;
    Ok(walk.out)
}

struct Walk<'a> {
    max_parts: usize,
    /// Entities met so far (the top-level message counts when it is a leaf).
    seen: usize,
    out: Message<'a>,
}

impl<'a> Walk<'a> {
    fn entity(
        &mut self,
        data: &'a [u8],
        number: Option<String>,
        depth: usize,
    ) -> Result<(), MimeError> {
        if depth > MAX_DEPTH {
            return Err(MimeError::Malformed(format!(
                "multipart nesting deeper than {MAX_DEPTH} levels"
            )));
        }
        let (headers, body) = split_headers(data, number.as_deref())?;
        let ctype = content_type(&headers);
        if !ctype.starts_with("multipart/") {
            self.count()?;
            self.out.parts.push(Part {
                headers,
                body,
                number,
            });
            return Ok(());
        }
        if number.is_some() {
            self.count()?;
        }
        let boundary = header(&headers, "Content-Type")
            .and_then(|v| param(v, "boundary"))
            .ok_or_else(|| MimeError::Malformed(format!("{ctype} without a boundary parameter")))?;
        // Splitting stops one body past the budget: enough to know it is exceeded.
        let room = self.max_parts.saturating_sub(self.seen);
        let (bodies, closed) = split_multipart(body, boundary.as_bytes(), room.saturating_add(1));
        if bodies.len() > room {
            return Err(MimeError::TooManyParts(self.max_parts));
        }
        let count = bodies.len();
        for (i, b) in bodies.into_iter().enumerate() {
            if !closed && i + 1 == count {
                self.out.warnings.push(format!(
                    "MIME multipart ends before its closing boundary --{boundary}--: part {} is incomplete and was dropped",
                    child_number(number.as_deref(), i)
                ));
                continue;
            }
            self.entity(b, Some(child_number(number.as_deref(), i)), depth + 1)?;
        }
        if !closed && count == 0 {
            self.out.warnings.push(format!(
                "MIME multipart has no part delimited by --{boundary}"
            ));
        }
        Ok(())
    }

    fn count(&mut self) -> Result<(), MimeError> {
        self.seen += 1;
        if self.seen > self.max_parts {
            return Err(MimeError::TooManyParts(self.max_parts));
        }
        Ok(())
    }
}

/// `3`, or `5.3` inside part 5: the `index`th (0-based) child's number.
fn child_number(parent: Option<&str>, index: usize) -> String {
    match parent {
        Some(p) => format!("{p}.{}", index + 1),
        None => (index + 1).to_string(),
    }
}

/// Splits header lines (with continuation lines folded) from the body.
fn split_headers<'a>(
    data: &'a [u8],
    number: Option<&str>,
) -> Result<(Headers, &'a [u8]), MimeError> {
    let mut headers = Headers::new();
    let mut lines = 0usize;
    let mut pos = 0;
    while pos < data.len() {
        let end = data[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| pos + i + 1)
            .unwrap_or(data.len());
        let line = &data[pos..end];
        let text = String::from_utf8_lossy(line);
        let trimmed = text.trim_end_matches(['\r', '\n']);
        if trimmed.is_empty() {
            return Ok((headers, &data[end..]));
        }
        lines += 1;
        if lines > MAX_HEADERS {
            return Err(MimeError::Malformed(format!(
                "{} has more than {MAX_HEADERS} header lines",
                match number {
                    Some(n) => format!("part {n}"),
                    None => "the message".to_string(),
                }
            )));
        }
        if trimmed.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.1.push(' ');
                last.1.push_str(trimmed.trim());
                pos = end;
                continue;
            }
        }
        match trimmed.split_once(':') {
            Some((name, value)) if !name.is_empty() && !name.contains(' ') => {
                headers.push((name.to_string(), value.trim().to_string()));
            }
            // Not a header: the body starts here (as email's parser decides).
            _ => return Ok((headers, &data[pos..])),
        }
        pos = end;
    }
    Ok((headers, &data[data.len()..]))
}

/// The bodies between `--boundary` lines (at most `max` of them), and
/// whether `--boundary--` was seen.
fn split_multipart<'a>(body: &'a [u8], boundary: &[u8], max: usize) -> (Vec<&'a [u8]>, bool) {
    let mut delim = b"--".to_vec();
    delim.extend_from_slice(boundary);
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    let mut pos = 0;
    while pos <= body.len() {
        let end = body[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| pos + i + 1)
            .unwrap_or(body.len());
        let line = &body[pos..end];
        let trimmed = trim_end(line);
        if trimmed.starts_with(&delim) {
            let rest = &trimmed[delim.len()..];
            let closing = rest.starts_with(b"--");
            if closing || rest.iter().all(|b| b.is_ascii_whitespace()) {
                if let Some(s) = start {
                    // The line break before a delimiter belongs to the delimiter.
                    parts.push(strip_one_newline(&body[s..pos]));
                    if parts.len() >= max {
                        return (parts, closing);
                    }
                }
                if closing {
                    return (parts, true);
                }
                start = Some(end);
            }
        }
        if end == body.len() {
            break;
        }
        pos = end;
    }
    if let Some(s) = start {
        parts.push(&body[s..]);
    }
    (parts, false)
}

fn trim_end(line: &[u8]) -> &[u8] {
    let mut l = line;
    while let [rest @ .., b'\n' | b'\r' | b' ' | b'\t'] = l {
        l = rest;
    }
    l
}

fn strip_one_newline(b: &[u8]) -> &[u8] {
    b.strip_suffix(b"\r\n")
        .or_else(|| b.strip_suffix(b"\n"))
        .unwrap_or(b)
}

/// A header parameter (`name=value` or `name="value"`), case-insensitive name.
pub fn param(header: &str, name: &str) -> Option<String> {
    let mut rest = header.split_once(';')?.1;
    loop {
        let (k, after) = rest.split_once('=')?;
        let k = k.trim().trim_start_matches(';').trim();
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            v.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => v.push(c),
                }
            }
            (v, &quoted[end.min(quoted.len())..])
        } else {
            let end = after.find(';').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        if k.eq_ignore_ascii_case(name) {
            return Some(value);
        }
        rest = next.split_once(';').map(|(_, r)| r).unwrap_or("");
        if rest.is_empty() {
            return None;
        }
    }
}

/// RFC 2045 quoted-printable, lenient about bad escapes (kept as written).
pub fn decode_quoted_printable(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    while i < data.len() {
        if data[i] == b'=' {
            if data.get(i + 1) == Some(&b'\n') {
                i += 2;
                continue;
            }
            if data.get(i + 1) == Some(&b'\r') && data.get(i + 2) == Some(&b'\n') {
                i += 3;
                continue;
            }
            if let (Some(h), Some(l)) = (
                data.get(i + 1).copied().and_then(hex),
                data.get(i + 2).copied().and_then(hex),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(data[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"Content-Type: multipart/mixed; boundary=\"XX\"\nMIME-Version: 1.0\n\npreamble\n--XX\nContent-Type: text/x-shellscript\nContent-Disposition: attachment; filename=\"a.sh\"\n\n#!/bin/sh\necho a\n\n--XX\nContent-Type: multipart/alternative;\n boundary=YY\n\n--YY\nContent-Type: text/cloud-config\nContent-Transfer-Encoding: base64\n\nI2Nsb3VkLWNvbmZpZwpydW5jbWQ6IFtsc10K\n--YY--\n--XX\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\ncaf=C3=A9 =\nsoft\n--XX--\nepilogue\n";

    #[test]
    fn nested_multipart_with_encodings() {
        let m = parse(MSG, 100).unwrap();
        assert!(m.warnings.is_empty());
        let leaves = &m.parts;
        assert_eq!(leaves.len(), 3);
        assert_eq!(leaves[0].filename().as_deref(), Some("a.sh"));
        assert_eq!(&*leaves[0].decoded_body().unwrap(), b"#!/bin/sh\necho a\n");
        assert_eq!(leaves[1].content_type(), "text/cloud-config");
        assert_eq!(
            &*leaves[1].decoded_body().unwrap(),
            b"#cloud-config\nruncmd: [ls]\n"
        );
        assert_eq!(&*leaves[2].decoded_body().unwrap(), "café soft".as_bytes());
        let numbers: Vec<_> = leaves.iter().map(|p| p.number.as_deref()).collect();
        assert_eq!(numbers, [Some("1"), Some("2.1"), Some("3")]);
        // A message that is not a multipart is its own only part, unnumbered.
        let single = parse(
            b"MIME-Version: 1.0\nContent-Type: text/cloud-config\n\na: 1\n",
            1,
        )
        .unwrap();
        assert_eq!(single.parts.len(), 1);
        assert_eq!(single.parts[0].number, None);
        assert_eq!(single.parts[0].body, b"a: 1\n");
    }

    #[test]
    fn truncated_multipart_keeps_whole_parts_and_says_so() {
        let cut = &MSG[..MSG.len() - 60];
        let m = parse(cut, 100).unwrap();
        assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings);
        assert!(
            m.warnings[0].contains("ends before its closing boundary --XX--: part 3 is incomplete")
        );
        assert_eq!(m.parts.len(), 2);
    }

    #[test]
    fn parts_are_counted_and_the_budget_is_enforced() {
        // Three leaves and one nested multipart: four parts.
        assert_eq!(parse(MSG, 4).unwrap().parts.len(), 3);
        assert_eq!(parse(MSG, 3).unwrap_err(), MimeError::TooManyParts(3));
        // A wide message stops being split one part past the budget.
        let mut wide = b"Content-Type: multipart/mixed; boundary=B\n\n".to_vec();
        for _ in 0..100_000 {
            wide.extend_from_slice(b"--B\n\nx\n");
        }
        wide.extend_from_slice(b"--B--\n");
        assert_eq!(
            parse(&wide, 1000).unwrap_err(),
            MimeError::TooManyParts(1000)
        );
        assert_eq!(parse(&wide, 100_000).unwrap().parts.len(), 100_000);
    }

    #[test]
    fn header_lines_are_bounded() {
        let mut msg = b"Content-Type: multipart/mixed; boundary=B\n\n--B\n".to_vec();
        for i in 0..=MAX_HEADERS {
            msg.extend_from_slice(format!("X-H{i}: v\n").as_bytes());
        }
        msg.extend_from_slice(b"\nbody\n--B--\n");
        let e = parse(&msg, 10).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("part 1 has more than {MAX_HEADERS} header lines")
        );
    }

    #[test]
    fn params_quoted_and_bare() {
        assert_eq!(
            param("multipart/mixed; boundary=\"a b\"", "boundary").as_deref(),
            Some("a b")
        );
        assert_eq!(
            param("attachment; FILENAME=x.sh; size=3", "filename").as_deref(),
            Some("x.sh")
        );
        assert_eq!(param("text/plain", "charset"), None);
    }
}
