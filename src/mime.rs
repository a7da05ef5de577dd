//! Reading MIME messages as user-data is written: RFC 822 headers, nested
//! `multipart/*`, and `base64` / `quoted-printable` bodies. Pure: bytes in,
//! a tree of parts (or an error naming what is wrong) out.
//!
//! Python's `email` package, which cloud-init uses, is lenient; so are we
//! where leniency is harmless (header case, missing MIME-Version in parts,
//! blanks around boundaries). A multipart that ends before its closing
//! boundary is reported, and the parts that did arrive whole are kept.

use crate::base64;

/// One MIME entity: its headers and either a body or sub-parts.
#[derive(Clone, Debug, PartialEq)]
pub struct Entity {
    /// Headers in order, names as written.
    pub headers: Vec<(String, String)>,
    /// The body as transmitted (still transfer-encoded); empty for multiparts.
    pub raw_body: Vec<u8>,
    pub parts: Vec<Entity>,
}

/// A message that cannot be read.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct MimeError(pub String);

/// Nesting deeper than this is refused (a hostile message could recurse forever).
const MAX_DEPTH: usize = 32;

impl Entity {
    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `type/subtype`, lower case, as `get_content_type()`: `text/plain` when absent.
    pub fn content_type(&self) -> String {
        match self.header("Content-Type") {
            Some(v) => {
                let t = v
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                if t.contains('/') {
                    t
                } else {
                    "text/plain".into()
                }
            }
            None => "text/plain".into(),
        }
    }

    pub fn is_multipart(&self) -> bool {
        self.content_type().starts_with("multipart/")
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
    pub fn decoded_body(&self) -> Result<Vec<u8>, MimeError> {
        let cte = self
            .header("Content-Transfer-Encoding")
            .unwrap_or("7bit")
            .trim()
            .to_ascii_lowercase();
        match cte.as_str() {
            "base64" => base64::decode(&self.raw_body)
                .map_err(|e| MimeError(format!("base64 body cannot be decoded: {e}"))),
            "quoted-printable" => Ok(decode_quoted_printable(&self.raw_body)),
            _ => Ok(self.raw_body.clone()),
        }
    }

    /// Every non-multipart entity, depth first, as `Message.walk()` yields them
    /// (multipart containers themselves are skipped).
    pub fn leaves(&self) -> Vec<&Entity> {
        let mut out = Vec::new();
        self.collect_leaves(&mut out);
        out
    }

    fn collect_leaves<'a>(&'a self, out: &mut Vec<&'a Entity>) {
        if self.is_multipart() {
            for p in &self.parts {
                p.collect_leaves(out);
            }
        } else {
            out.push(self);
        }
    }
}

/// Parses a whole message. Problems that leave usable parts (a truncated
/// multipart) come back as warnings next to the tree.
pub fn parse(data: &[u8]) -> Result<(Entity, Vec<String>), MimeError> {
    let mut warnings = Vec::new();
    let e = parse_entity(data, 0, &mut warnings)?;
    Ok((e, warnings))
}

fn parse_entity(
    data: &[u8],
    depth: usize,
    warnings: &mut Vec<String>,
) -> Result<Entity, MimeError> {
    if depth > MAX_DEPTH {
        return Err(MimeError(format!(
            "multipart nesting deeper than {MAX_DEPTH} levels"
        )));
    }
    let (headers, body) = split_headers(data);
    let mut e = Entity {
        headers,
        raw_body: body.to_vec(),
        parts: Vec::new(),
    };
    if e.is_multipart() {
        let boundary = e.param("Content-Type", "boundary").ok_or_else(|| {
            MimeError(format!("{} without a boundary parameter", e.content_type()))
        })?;
        let (bodies, closed) = split_multipart(body, boundary.as_bytes());
        let count = bodies.len();
        for (i, b) in bodies.into_iter().enumerate() {
            if !closed && i + 1 == count {
                warnings.push(format!(
                    "MIME multipart ends before its closing boundary --{boundary}--: part {} is incomplete and was dropped",
                    i + 1
                ));
                continue;
            }
            e.parts.push(parse_entity(b, depth + 1, warnings)?);
        }
        if !closed && count == 0 {
            warnings.push(format!(
                "MIME multipart has no part delimited by --{boundary}"
            ));
        }
        e.raw_body.clear();
    }
    Ok(e)
}

/// Splits header lines (with continuation lines folded) from the body.
fn split_headers(data: &[u8]) -> (Vec<(String, String)>, &[u8]) {
    let mut headers: Vec<(String, String)> = Vec::new();
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
            return (headers, &data[end..]);
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
            _ => return (headers, &data[pos..]),
        }
        pos = end;
    }
    (headers, &data[data.len()..])
}

/// The bodies between `--boundary` lines, and whether `--boundary--` was seen.
fn split_multipart<'a>(body: &'a [u8], boundary: &[u8]) -> (Vec<&'a [u8]>, bool) {
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
        let (m, warnings) = parse(MSG).unwrap();
        assert!(warnings.is_empty());
        let leaves = m.leaves();
        assert_eq!(leaves.len(), 3);
        assert_eq!(leaves[0].filename().as_deref(), Some("a.sh"));
        assert_eq!(leaves[0].decoded_body().unwrap(), b"#!/bin/sh\necho a\n");
        assert_eq!(leaves[1].content_type(), "text/cloud-config");
        assert_eq!(
            leaves[1].decoded_body().unwrap(),
            b"#cloud-config\nruncmd: [ls]\n"
        );
        assert_eq!(leaves[2].decoded_body().unwrap(), "café soft".as_bytes());
    }

    #[test]
    fn truncated_multipart_keeps_whole_parts_and_says_so() {
        let cut = &MSG[..MSG.len() - 60];
        let (m, warnings) = parse(cut).unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("ends before its closing boundary --XX--"));
        assert_eq!(m.leaves().len(), 2);
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
