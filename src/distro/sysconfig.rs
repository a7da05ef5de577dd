//! cloud-init's `SysConf` (`distros/parsers/sys_conf.py`, a
//! `configobj.ConfigObj`) for `/etc/sysconfig/*` files, and
//! `rhel_util.update_sysconfig_file`.

use super::DistroError;
use crate::py::header::make_header;
use crate::py::str::{is_space as py_space, splitlines as py_splitlines, strip as py_strip};

/// cloud-init's `SysConf`, a `configobj.ConfigObj` for `/etc/sysconfig/*`
/// files: what it reads from such a file and how it writes it back (every
/// value unquoted on reading and requoted on writing, comments kept, inline
/// comments glued to the value, blank lines and comments before the first key
/// and after the last kept). What configobj refuses (sections, lines that are
/// no `KEY=VALUE`, a key twice, an unbalanced quote) is an error here too; so
/// is a comma-separated value, which configobj reads as a list and
/// cloud-init's writer then fails on; multi-line triple-quoted values are
/// refused by cloudboot.
#[derive(Clone, Debug, PartialEq)]
pub struct SysConf {
    initial: Vec<String>,
    entries: Vec<SysEntry>,
    final_comment: Vec<String>,
    indent_type: String,
}

#[derive(Clone, Debug, PartialEq)]
struct SysEntry {
    key: String,
    value: String,
    /// configobj read the value as a list (cloud-init's writer fails on it).
    list: bool,
    comments: Vec<String>,
    inline: String,
}

/// `configobj`'s `_unquote` for keys.
fn unquote(s: &str) -> &str {
    let b = s.as_bytes();
    if b.len() >= 2 && b[0] == b[b.len() - 1] && (b[0] == b'"' || b[0] == b'\'') {
        &s[1..s.len() - 1]
    } else if b.len() == 1 && (b[0] == b'"' || b[0] == b'\'') {
        ""
    } else {
        s
    }
}

/// `\s*(#.*)?$` on `rest`: the comment, when `rest` is only blanks and a comment.
fn trailing_comment(rest: &str) -> Option<&str> {
    let r = rest.trim_start_matches(py_space);
    if r.is_empty() || r.starts_with('#') {
        Some(r)
    } else {
        None
    }
}

/// What follows a list item or a single value: end/comment, or a comma.
enum After<'a> {
    End(&'a str),
    Comma,
    Junk,
}

fn after(rest: &str) -> After<'_> {
    let r = rest.trim_start_matches(py_space);
    if r.is_empty() || r.starts_with('#') {
        After::End(r)
    } else if r.starts_with(',') {
        After::Comma
    } else {
        After::Junk
    }
}

/// configobj's `_handle_value` (lists on): the value (`None` for a list)
/// and its inline comment.
fn sysconf_value(v: &str, line_no: usize) -> Result<(Option<String>, String), DistroError> {
    let list_err = || Ok((None, String::new()));
    let parse_err = || DistroError::SysconfigValue(line_no);
    if v.starts_with("\"\"\"") || v.starts_with("'''") {
        let q = &v[..3];
        let body = &v[3..];
        return match body.find(q) {
            Some(end) => match trailing_comment(&body[end + 3..]) {
                Some(c) => Ok((Some(body[..end].to_string()), c.to_string())),
                None => Err(parse_err()),
            },
            None => Err(DistroError::SysconfigTripleQuoted(line_no)),
        };
    }
    if v.is_empty() {
        return Ok((Some(String::new()), String::new()));
    }
    if let Some(after_comma) = v.strip_prefix(',') {
        return match trailing_comment(after_comma) {
            Some(_) => list_err(),
            None => Err(parse_err()),
        };
    }
    if v.starts_with('#') {
        return Ok((Some(String::new()), v.to_string()));
    }
    let first = v.as_bytes()[0];
    if first == b'"' || first == b'\'' {
        let q = first as char;
        let mut from = 1;
        while let Some(i) = v[from..].find(q) {
            let close = from + i;
            match after(&v[close + 1..]) {
                After::End(c) => return Ok((Some(v[1..close].to_string()), c.to_string())),
                After::Comma => return list_err(),
                After::Junk => from = close + 1,
            }
        }
        return Err(parse_err());
    }
    // Unquoted: up to the first `#` or `,`, trailing blanks dropped.
    let end = v.find(['#', ',']).unwrap_or(v.len());
    if v[end..].starts_with(',') {
        return list_err();
    }
    let value = v[..end].trim_end_matches(py_space);
    Ok((Some(value.to_string()), v[end..].to_string()))
}

/// Shell variables, as `sys_conf._contains_shell_variable` finds them.
fn contains_shell_variable(s: &str) -> bool {
    let b = s.as_bytes();
    for i in 0..b.len() {
        if b[i] != b'$' || i + 1 >= b.len() {
            continue;
        }
        let n = b[i + 1];
        if n.is_ascii_alphabetic() || n == b'_' {
            return true;
        }
        if n.is_ascii_digit() || b"#?-@*".contains(&n) {
            return true;
        }
        if n == b'{' && b.len() > i + 3 && s[i + 3..].contains('}') {
            return true;
        }
    }
    false
}

/// `SysConf._quote`.
fn sysconf_quote(value: &str) -> Result<String, DistroError> {
    if value.is_empty() {
        return Ok(String::new());
    }
    let first = value.chars().next().unwrap_or(' ');
    let last = value.chars().last().unwrap_or(' ');
    let quote_chars = ['"', '\''];
    if quote_chars.contains(&first) && quote_chars.contains(&last) {
        if value.chars().count() == 1 {
            return single_quote(value);
        }
        return Ok(value.to_string());
    }
    let t = py_strip(value);
    if t.starts_with("$(") && t.ends_with(')') {
        return Ok(value.to_string());
    }
    if !value.contains(['\t', '\r', '\n', ' ']) {
        return Ok(value.to_string());
    }
    if contains_shell_variable(value) {
        if value.contains(['\n', '"', '\'']) {
            if value.contains("\"\"\"") && value.contains("'''") {
                return Err(DistroError::SysconfigUnquotable(value.to_string()));
            }
            // configobj's `_get_triple_quote` (its names for the two are swapped).
            return Ok(if value.contains("\"\"\"") {
                format!("\"\"\"{value}\"\"\"")
            } else {
                format!("'''{value}'''")
            });
        }
        return single_quote(value);
    }
    Ok(crate::py::shell::shlex_quote(value))
}

/// configobj's `_get_single_quote(value) % value`.
fn single_quote(value: &str) -> Result<String, DistroError> {
    if value.contains('\'') && value.contains('"') {
        Err(DistroError::SysconfigUnquotable(value.to_string()))
    } else if value.contains('"') {
        Ok(format!("'{value}'"))
    } else {
        Ok(format!("\"{value}\""))
    }
}

impl SysConf {
    /// Parses as `SysConf(text.splitlines())` does; an error is what makes
    /// configobj (or, for lists, cloud-init's writer) raise.
    pub fn parse(text: &str) -> Result<SysConf, DistroError> {
        let mut conf = SysConf {
            initial: Vec::new(),
            entries: Vec::new(),
            final_comment: Vec::new(),
            indent_type: String::new(),
        };
        let mut indent_type: Option<String> = None;
        let mut comments: Vec<String> = Vec::new();
        let mut done_start = false;
        let mut reset_comment = false;
        for (i, line) in py_splitlines(text).into_iter().enumerate() {
            let n = i + 1;
            if reset_comment {
                comments = Vec::new();
            }
            let sline = py_strip(line);
            if sline.is_empty() || sline.starts_with('#') {
                reset_comment = false;
                comments.push(line.to_string());
                continue;
            }
            if !done_start {
                conf.initial = std::mem::take(&mut comments);
                done_start = true;
            }
            reset_comment = true;
            if sline.starts_with('[') && sline.contains(']') {
                return Err(DistroError::SysconfigSection {
                    line: n,
                    text: sline.to_string(),
                });
            }
            // `^(\s*)(".*?"|'.*?'|[^'"=].*?)\s*=\s*(.*)$`
            let indent_len = line.len() - line.trim_start_matches(py_space).len();
            let (indent, rest) = line.split_at(indent_len);
            let invalid = || DistroError::SysconfigInvalidLine {
                line: n,
                text: line.to_string(),
            };
            let (key_raw, value_raw) = match rest.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let mut found = None;
                    let mut from = 1;
                    while let Some(j) = rest[from..].find(q) {
                        let close = from + j;
                        let after_key = rest[close + 1..].trim_start_matches(py_space);
                        if let Some(v) = after_key.strip_prefix('=') {
                            found = Some((&rest[..close + 1], v));
                            break;
                        }
                        from = close + 1;
                    }
                    found.ok_or_else(invalid)?
                }
                Some('=') | None => return Err(invalid()),
                Some(_) => {
                    let eq = rest.find('=').ok_or_else(invalid)?;
                    (rest[..eq].trim_end_matches(py_space), &rest[eq + 1..])
                }
            };
            if !indent.is_empty() && indent_type.is_none() {
                indent_type = Some(indent.to_string());
            }
            let value_raw = value_raw.trim_start_matches(py_space);
            let (value, inline) = sysconf_value(value_raw, n)?;
            let key = unquote(key_raw).to_string();
            if conf.entries.iter().any(|e| e.key == key) {
                return Err(DistroError::SysconfigDuplicateKey(n));
            }
            conf.entries.push(SysEntry {
                key,
                list: value.is_none(),
                value: value.unwrap_or_default(),
                comments: comments.clone(),
                inline,
            });
        }
        conf.indent_type = indent_type.unwrap_or_default();
        if conf.entries.is_empty() && conf.initial.is_empty() {
            conf.initial = comments;
        } else if !reset_comment {
            conf.final_comment = comments;
        }
        Ok(conf)
    }

    /// The value of `key`; an error when configobj reads it as a list.
    pub fn get(&self, key: &str) -> Result<Option<&str>, DistroError> {
        match self.entries.iter().find(|e| e.key == key) {
            Some(e) if e.list => Err(DistroError::SysconfigList(key.to_string())),
            Some(e) => Ok(Some(e.value.as_str())),
            None => Ok(None),
        }
    }

    pub fn set(&mut self, key: &str, value: &str) {
        match self.entries.iter_mut().find(|e| e.key == key) {
            Some(e) => {
                e.value = value.to_string();
                e.list = false;
            }
            None => self.entries.push(SysEntry {
                key: key.to_string(),
                list: false,
                value: value.to_string(),
                comments: Vec::new(),
                inline: String::new(),
            }),
        }
    }

    /// `str(conf)`: the lines joined by `\n`, no newline at the end.
    pub fn render(&self) -> Result<String, DistroError> {
        let mut out: Vec<String> = Vec::new();
        let comment_line = |l: &str| {
            let s = py_strip(l);
            if !s.is_empty() && !s.starts_with('#') {
                format!("# {l}")
            } else {
                l.to_string()
            }
        };
        out.extend(self.initial.iter().map(|l| comment_line(l)));
        for e in &self.entries {
            if e.list {
                return Err(DistroError::SysconfigListNotWritable(e.key.clone()));
            }
            for c in &e.comments {
                let c = c.trim_start_matches(py_space);
                out.push(comment_line(c));
            }
            let inline = if e.inline.is_empty() {
                String::new()
            } else if e.inline.starts_with('#') {
                format!("{}{}", self.indent_type, e.inline)
            } else {
                format!("{} # {}", self.indent_type, e.inline)
            };
            out.push(format!(
                "{}={}{inline}",
                sysconf_quote(&e.key)?,
                sysconf_quote(&e.value)?
            ));
        }
        out.extend(self.final_comment.iter().map(|l| comment_line(l)));
        Ok(out.join("\n"))
    }
}

/// `rhel_util.update_sysconfig_file(fn, {key: value})` on the file's current
/// text (`None`: absent). `None` back: nothing to write (an empty value).
pub fn update_sysconfig(
    existing: Option<&str>,
    key: &str,
    value: &str,
) -> Result<Option<String>, DistroError> {
    if value.is_empty() {
        return Ok(None);
    }
    let mut conf = SysConf::parse(existing.unwrap_or(""))?;
    conf.set(key, value);
    let mut lines = vec![conf.render()?];
    if existing.is_none() {
        lines.insert(0, make_header("Created"));
    }
    Ok(Some(format!("{}\n", lines.join("\n"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysconf_reads_and_writes_as_configobj() {
        let text = "# comment\nNETWORKING=yes\n\nHOSTNAME=\"old.example\"  # inline\nNOZEROCONF=yes\n# tail\n";
        assert_eq!(
            update_sysconfig(Some(text), "HOSTNAME", "web1.example.com").unwrap().unwrap(),
            "# comment\nNETWORKING=yes\n\nHOSTNAME=web1.example.com# inline\nNOZEROCONF=yes\n# tail\n"
        );
        assert_eq!(
            SysConf::parse(text).unwrap().get("HOSTNAME"),
            Ok(Some("old.example"))
        );
        assert!(SysConf::parse("A=a, b\n").unwrap().render().is_err());
        assert!(SysConf::parse("HOSTNAME=a,\n")
            .unwrap()
            .get("HOSTNAME")
            .is_err());
        assert!(SysConf::parse("garbage\n").is_err());
        assert!(SysConf::parse("A=1\nA=2\n").is_err());
        assert_eq!(
            update_sysconfig(Some("A=1\n"), "HOSTNAME", "").unwrap(),
            None
        );
        let new = update_sysconfig(None, "HOSTNAME", "h").unwrap().unwrap();
        assert!(new.starts_with("# Created by cloud-init v. "), "{new}");
        assert!(new.ends_with("\nHOSTNAME=h\n"), "{new}");
    }
}
