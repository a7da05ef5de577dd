//! What mcollective's and landscape's handlers need of Python's ConfigObj
//! 5.0 (22.4 reads and rewrites server.cfg and client.conf with it,
//! default options: list values on, `stringify` on): its parser (comments kept before each entry, inline
//! comments, `a, b` lists, quoted and triple-quoted values, nested
//! `[[sections]]`), its setter (a new key goes after the old ones of its
//! kind; a replaced one keeps its place and comments) and its writer
//! (scalars then sections, each value quoted only where ConfigObj quotes
//! it, ASCII out).

use std::collections::HashMap;

use crate::module::prelude::Value;

/// A value as ConfigObj holds it.
#[derive(Clone, Debug)]
pub enum Item {
    Str(String),
    List(Vec<String>),
    Section(Section),
}

impl Item {
    /// What `section[key] = value` stores for a YAML value: strings and
    /// lists as they are (non-strings become `str()` when written), a
    /// mapping as a sub-section.
    pub fn from_value(v: &Value) -> Result<Item, String> {
        Ok(match v {
            Value::Str(s) => Item::Str(s.clone()),
            Value::Seq(items) => Item::List(items.iter().map(Value::python_str_any).collect()),
            Value::Map(m) => {
                let mut s = Section::default();
                for (k, v) in m.iter() {
                    let Value::Str(k) = k else {
                        return Err(format!("The key \"{}\" is not a string.", k.python_str()));
                    };
                    s.set(k, Item::from_value(v)?);
                }
                Item::Section(s)
            }
            other => Item::Str(other.python_str_any()),
        })
    }
}

#[derive(Clone, Debug)]
struct Entry {
    item: Item,
    comments: Vec<String>,
    inline: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Section {
    depth: usize,
    scalars: Vec<String>,
    sections: Vec<String>,
    map: HashMap<String, Entry>,
}

impl Section {
    /// `section[key] = item` (`Section.__setitem__`).
    pub fn set(&mut self, key: &str, mut item: Item) {
        if let Item::Section(s) = &mut item {
            s.set_depth(self.depth + 1);
        }
        if let Some(e) = self.map.get_mut(key) {
            e.item = item;
            return;
        }
        if matches!(item, Item::Section(_)) {
            self.sections.push(key.to_string());
        } else {
            self.scalars.push(key.to_string());
        }
        self.map.insert(
            key.to_string(),
            Entry {
                item,
                comments: Vec::new(),
                inline: Some(String::new()),
            },
        );
    }

    fn set_depth(&mut self, depth: usize) {
        self.depth = depth;
        for e in self.map.values_mut() {
            if let Item::Section(s) = &mut e.item {
                s.set_depth(depth + 1);
            }
        }
    }

    /// `if name not in section.sections: section[name] = {}`.
    pub fn ensure_section(&mut self, name: &str) {
        if !self.sections.iter().any(|s| s == name) {
            self.set(name, Item::Section(Section::default()));
        }
    }

    /// The section `name` (made empty where the entry is not one).
    pub fn section_mut(&mut self, name: &str) -> &mut Section {
        if !matches!(self.map.get(name).map(|e| &e.item), Some(Item::Section(_))) {
            self.set(name, Item::Section(Section::default()));
        }
        match &mut self.map.get_mut(name).expect("just set").item {
            Item::Section(s) => s,
            _ => unreachable!("just made a section"),
        }
    }

    /// `section.merge(other)`: `other`'s entries in its order (scalars,
    /// then sections); where both hold a section under one key the two are
    /// merged, else `other`'s value replaces (or is added after) this one's.
    /// Only values come over, as in ConfigObj: the comments of `other`'s
    /// own keys are left behind, while a section it brings whole keeps the
    /// comments inside it (ConfigObj inserts that very `Section`).
    pub fn merge(&mut self, other: &Section) {
        for key in other.scalars.iter().chain(&other.sections) {
            let theirs = &other.map[key].item;
            if let (
                Some(Entry {
                    item: Item::Section(mine),
                    ..
                }),
                Item::Section(theirs),
            ) = (self.map.get_mut(key), theirs)
            {
                mine.merge(theirs);
                continue;
            }
            self.set(key, theirs.clone());
        }
    }

    /// Whether the section at `path` (names from here) holds `key`.
    pub fn has_key(&self, path: &[&str], key: &str) -> bool {
        match path.split_first() {
            None => self.map.contains_key(key),
            Some((first, rest)) => match self.map.get(*first).map(|e| &e.item) {
                Some(Item::Section(s)) => s.has_key(rest, key),
                _ => false,
            },
        }
    }

    fn contains(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// The section at `path` (names from the root).
    fn at(&mut self, path: &[String]) -> &mut Section {
        match path.split_first() {
            None => self,
            Some((first, rest)) => self.section_mut(first).at(rest),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ConfigObj {
    pub root: Section,
    initial_comment: Vec<String>,
    final_comment: Vec<String>,
    /// The first indentation of a key or section line; `None` before
    /// parsing (ConfigObj() parses no lines: `''`).
    indent_type: Option<String>,
    newlines: Option<&'static str>,
    bom: bool,
}

const WSPACE_PLUS: &[char] = &[' ', '\r', '\n', '\u{b}', '\t', '\'', '"'];

fn is_ws(c: char) -> bool {
    c.is_whitespace()
}

/// `\s*(#.*)?$` on `s`: the comment, if `s` is only that.
fn tail_comment(s: &str) -> Option<Option<String>> {
    let t = s.trim_start_matches(is_ws);
    if t.is_empty() {
        Some(None)
    } else if t.starts_with('#') {
        Some(Some(t.to_string()))
    } else {
        None
    }
}

fn unquote(v: &str) -> String {
    let mut c = v.chars();
    match (c.next(), v.chars().last()) {
        (Some(f), Some(l)) if f == l && (f == '"' || f == '\'') => {
            let inner: String = v.chars().skip(1).collect();
            let n = inner.chars().count();
            inner.chars().take(n.saturating_sub(1)).collect()
        }
        _ => v.to_string(),
    }
}

/// The ends (exclusive byte offsets) of each quoted string `q...q` that
/// starts at `s[0]`, shortest first.
fn quoted_ends(s: &str, q: char) -> Vec<usize> {
    s.char_indices()
        .skip(1)
        .filter(|&(_, c)| c == q)
        .map(|(i, _)| i + 1)
        .collect()
}

enum Parsed {
    Single(String),
    List(Vec<String>),
}

/// `_handle_value` with list values on: the value and its inline comment.
fn handle_value(v: &str) -> Option<(Parsed, Option<String>)> {
    let mut items: Vec<String> = Vec::new();
    let mut pos = 0;
    // List items: `(quoted | [^'",#][^,#]*?) \s*,\s*`.
    loop {
        let rest = &v[pos..];
        let Some(first) = rest.chars().next() else {
            break;
        };
        let found = if first == '"' || first == '\'' {
            quoted_ends(rest, first).into_iter().find_map(|end| {
                let after = rest[end..].trim_start_matches(is_ws);
                after
                    .strip_prefix(',')
                    .map(|a| (rest[..end].to_string(), a))
            })
        } else if first != ',' && first != '#' {
            let stop = rest[first.len_utf8()..]
                .find([',', '#'])
                .map(|i| i + first.len_utf8());
            match stop {
                Some(i) if rest[i..].starts_with(',') => Some((
                    rest[..i].trim_end_matches(is_ws).to_string(),
                    &rest[i + 1..],
                )),
                _ => None,
            }
        } else {
            None
        };
        let Some((item, after)) = found else {
            break;
        };
        let after = after.trim_start_matches(is_ws);
        items.push(item);
        pos = v.len() - after.len();
    }
    let rest = &v[pos..];
    let after_comma =
        pos > 0 && v[..pos].trim_end_matches(is_ws).ends_with(',') && v[..pos].ends_with(',');
    // The last item, or a single value.
    let mut single: Option<(Option<String>, Option<String>)> = None;
    if let Some(first) = rest.chars().next() {
        if first == '"' || first == '\'' {
            single = quoted_ends(rest, first).into_iter().find_map(|end| {
                tail_comment(&rest[end..]).map(|c| (Some(rest[..end].to_string()), c))
            });
        } else if first != ',' && first != '#' && !is_ws(first) {
            let mut end = first.len_utf8();
            loop {
                if rest[..end].contains(',') {
                    break;
                }
                if let Some(c) = tail_comment(&rest[end..]) {
                    single = Some((Some(rest[..end].to_string()), c));
                    break;
                }
                match rest[end..].chars().next() {
                    Some(c) => end += c.len_utf8(),
                    None => break,
                }
            }
        }
    }
    if single.is_none() {
        // The empty value (not right after a comma), or no last item.
        if let Some(c) = tail_comment(rest) {
            let empty = (!after_comma).then(String::new);
            single = Some((empty, c));
        }
    }
    let Some((single, comment)) = single else {
        // `(,)`: the empty list.
        if items.is_empty() && rest.starts_with(',') {
            return tail_comment(&rest[1..]).map(|c| (Parsed::List(Vec::new()), c));
        }
        return None;
    };
    if items.is_empty() && single.is_none() {
        return None;
    }
    let single = match single {
        Some(s) if !items.is_empty() && s.is_empty() => None,
        Some(s) if s.is_empty() => Some(String::new()),
        Some(s) => Some(unquote(&s)),
        None => None,
    };
    if items.is_empty() {
        return Some((Parsed::Single(single.unwrap_or_default()), comment));
    }
    let mut list: Vec<String> = items.iter().map(|i| unquote(i)).collect();
    list.extend(single);
    Some((Parsed::List(list), comment))
}

/// A `[section]` line: indentation, depth, name, closing depth, comment.
fn section_marker(line: &str) -> Option<(String, usize, String, usize, Option<String>)> {
    let body = line.trim_start_matches(is_ws);
    let indent = line[..line.len() - body.len()].to_string();
    if !body.starts_with('[') {
        return None;
    }
    let mut rest = body;
    let mut open = 0;
    while let Some(r) = rest.strip_prefix('[') {
        open += 1;
        rest = r.trim_start_matches(is_ws);
    }
    let first = rest.chars().next()?;
    let mut ends: Vec<usize> = rest.char_indices().map(|(i, c)| i + c.len_utf8()).collect();
    ends.sort_unstable();
    for end in ends {
        let name = &rest[..end];
        let ok = if first == '"' || first == '\'' {
            name.len() >= 2
                && name.ends_with(first)
                && name[1..name.len() - 1].chars().any(|c| !is_ws(c))
        } else {
            !is_ws(first)
        };
        if !ok {
            continue;
        }
        // `((?:\s*\])+)\s*(\#.*)?$`
        let mut tail = &rest[end..];
        let mut close = 0;
        loop {
            let t = tail.trim_start_matches(is_ws);
            match t.strip_prefix(']') {
                Some(t) => {
                    close += 1;
                    tail = t;
                }
                None => break,
            }
        }
        if close == 0 {
            continue;
        }
        if let Some(comment) = tail_comment(tail) {
            return Some((indent, open, name.to_string(), close, comment));
        }
    }
    None
}

/// A `key = value` line: indentation, key, the value text.
fn keyword(line: &str) -> Option<(String, String, String)> {
    let body = line.trim_start_matches(is_ws);
    let indent = line[..line.len() - body.len()].to_string();
    let first = body.chars().next()?;
    let split = |key_end: usize| -> Option<(String, String)> {
        let after = body[key_end..].trim_start_matches(is_ws);
        let value = after.strip_prefix('=')?;
        Some((
            body[..key_end].to_string(),
            value.trim_start_matches(is_ws).to_string(),
        ))
    };
    let (key, value) = if first == '"' || first == '\'' {
        quoted_ends(body, first).into_iter().find_map(split)?
    } else if first != '=' {
        let eq = body[first.len_utf8()..].find('=')? + first.len_utf8();
        let key = body[..eq].trim_end_matches(is_ws);
        split(key.len().max(first.len_utf8()))?
    } else {
        return None;
    };
    Some((indent, key, value))
}

impl Default for ConfigObj {
    /// `ConfigObj()`: an empty file parsed (no indentation).
    fn default() -> ConfigObj {
        ConfigObj {
            root: Section::default(),
            initial_comment: Vec::new(),
            final_comment: Vec::new(),
            indent_type: Some(String::new()),
            newlines: None,
            bom: false,
        }
    }
}

impl ConfigObj {
    /// Reads a file as `ConfigObj(io.BytesIO(content))` does; the error is
    /// ConfigObj's first (`... at line N.`).
    pub fn parse(bytes: &[u8]) -> Result<ConfigObj, String> {
        let mut c = ConfigObj {
            indent_type: None,
            ..ConfigObj::default()
        };
        let bytes = match bytes.strip_prefix(b"\xef\xbb\xbf") {
            Some(b) => {
                c.bom = true;
                b
            }
            None => bytes,
        };
        let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8 text: {e}"))?;
        // `str.splitlines(True)`, then each line's `\r\n` stripped.
        let mut lines: Vec<&str> = Vec::new();
        let mut start = 0;
        let mut it = text.char_indices().peekable();
        while let Some((i, ch)) = it.next() {
            let mut end = i + ch.len_utf8();
            let breaks = matches!(
                ch,
                '\n' | '\r'
                    | '\u{b}'
                    | '\u{c}'
                    | '\u{1c}'
                    | '\u{1d}'
                    | '\u{1e}'
                    | '\u{85}'
                    | '\u{2028}'
                    | '\u{2029}'
            );
            if !breaks {
                continue;
            }
            if ch == '\r' && it.peek().map(|&(_, c)| c) == Some('\n') {
                it.next();
                end += 1;
            }
            let line = &text[start..end];
            if c.newlines.is_none() && !lines.iter().any(|l: &&str| l.ends_with(['\r', '\n'])) {
                c.newlines = if line.ends_with("\r\n") {
                    Some("\r\n")
                } else if line.ends_with('\n') {
                    Some("\n")
                } else if line.ends_with('\r') {
                    Some("\r")
                } else {
                    None
                };
            }
            lines.push(line);
            start = end;
        }
        if start < text.len() {
            lines.push(&text[start..]);
        }
        let lines: Vec<&str> = lines
            .into_iter()
            .map(|l| l.trim_end_matches(['\r', '\n']))
            .collect();
        c.parse_lines(&lines)?;
        Ok(c)
    }

    fn parse_lines(&mut self, infile: &[&str]) -> Result<(), String> {
        let mut errors: Vec<(String, usize)> = Vec::new();
        let mut comment_list: Vec<String> = Vec::new();
        let mut done_start = false;
        let mut path: Vec<String> = Vec::new();
        let mut reset_comment = false;
        let mut i = 0;
        // ConfigObj's errors, each with its line (1-based).
        let err = |errors: &mut Vec<(String, usize)>, text: String, i: usize| {
            errors.push((text, i + 1));
        };
        while i < infile.len() {
            if reset_comment {
                comment_list = Vec::new();
            }
            let line = infile[i];
            let sline = line.trim_matches(is_ws);
            if sline.is_empty() || sline.starts_with('#') {
                reset_comment = false;
                comment_list.push(line.to_string());
                i += 1;
                continue;
            }
            if !done_start {
                self.initial_comment = std::mem::take(&mut comment_list);
                done_start = true;
            }
            reset_comment = true;
            if let Some((indent, open, name, close, comment)) = section_marker(line) {
                if !indent.is_empty() && self.indent_type.is_none() {
                    self.indent_type = Some(indent);
                }
                if open != close {
                    err(&mut errors, "Cannot compute the section depth".into(), i);
                    i += 1;
                    continue;
                }
                if open > path.len() + 1 {
                    err(&mut errors, "Section too nested".into(), i);
                    i += 1;
                    continue;
                }
                let name = unquote(&name);
                let parent_path = path[..open - 1].to_vec();
                let parent = self.root.at(&parent_path);
                if parent.contains(&name) {
                    err(&mut errors, "Duplicate section name".into(), i);
                    i += 1;
                    continue;
                }
                parent.set(&name, Item::Section(Section::default()));
                let e = parent.map.get_mut(&name).expect("just set");
                e.inline = comment;
                e.comments = comment_list.clone();
                path = parent_path;
                path.push(name);
                i += 1;
                continue;
            }
            let Some((indent, key, value)) = keyword(line) else {
                err(
                    &mut errors,
                    format!(
                        "Invalid line ({}) (matched as neither section nor keyword)",
                        crate::module::prelude::python_str_repr(line)
                    ),
                    i,
                );
                i += 1;
                continue;
            };
            if !indent.is_empty() && self.indent_type.is_none() {
                self.indent_type = Some(indent);
            }
            let parsed = if value.starts_with("\"\"\"") || value.starts_with("'''") {
                match multiline(&value, infile, &mut i) {
                    Some((v, c)) => Some((Parsed::Single(v), c)),
                    None => {
                        err(&mut errors, "Parse error in multiline value".into(), i);
                        i += 1;
                        continue;
                    }
                }
            } else {
                handle_value(&value)
            };
            let Some((value, comment)) = parsed else {
                err(&mut errors, "Parse error in value".into(), i);
                i += 1;
                continue;
            };
            let key = unquote(&key);
            let section = self.root.at(&path);
            if section.contains(&key) {
                err(&mut errors, "Duplicate keyword name".into(), i);
                i += 1;
                continue;
            }
            let item = match value {
                Parsed::Single(s) => Item::Str(s),
                Parsed::List(l) => Item::List(l),
            };
            section.set(&key, item);
            let e = section.map.get_mut(&key).expect("just set");
            e.inline = comment;
            e.comments = comment_list.clone();
            i += 1;
        }
        if self.indent_type.is_none() {
            self.indent_type = Some(String::new());
        }
        if self.root.map.is_empty() && self.initial_comment.is_empty() {
            self.initial_comment = comment_list;
        } else if !reset_comment {
            self.final_comment = comment_list;
        }
        match errors.as_slice() {
            [] => Ok(()),
            [(text, line)] => Err(format!("{text} at line {line}.")),
            [(_, line), ..] => Err(format!(
                "Parsing failed with several errors.\nFirst error at line {line}."
            )),
        }
    }

    /// `write(outfile)`: the bytes ConfigObj writes.
    pub fn write(&mut self) -> Result<Vec<u8>, String> {
        let indent_type = self
            .indent_type
            .get_or_insert_with(|| "    ".into())
            .clone();
        let mut out: Vec<String> = Vec::new();
        for line in &self.initial_comment {
            out.push(comment_line(line, false));
        }
        write_section(&self.root, &indent_type, &mut out)?;
        for line in &self.final_comment {
            out.push(comment_line(line, false));
        }
        let newline = self.newlines.unwrap_or("\n");
        let mut text = out.join(newline);
        if !text.ends_with(newline) {
            text.push_str(newline);
        }
        if self.bom {
            let mut b = b"\xef\xbb\xbf".to_vec();
            b.extend(text.into_bytes());
            return Ok(b);
        }
        if !text.is_ascii() {
            return Err(
                "'ascii' codec can't encode the text (ConfigObj writes server.cfg as ASCII)".into(),
            );
        }
        Ok(text.into_bytes())
    }
}

/// A comment line as written: `# ` put before one that lost its `#`.
fn comment_line(line: &str, lstrip: bool) -> String {
    let line = if lstrip {
        line.trim_start_matches(is_ws)
    } else {
        line
    };
    let stripped = line.trim_matches(is_ws);
    if !stripped.is_empty() && !stripped.starts_with('#') {
        format!("# {line}")
    } else {
        line.to_string()
    }
}

fn write_section(
    section: &Section,
    indent_type: &str,
    out: &mut Vec<String>,
) -> Result<(), String> {
    let indent = indent_type.repeat(section.depth);
    for key in section.scalars.iter().chain(&section.sections) {
        let entry = &section.map[key];
        for c in &entry.comments {
            out.push(format!("{indent}{}", comment_line(c, true)));
        }
        let comment = match entry.inline.as_deref() {
            None | Some("") => String::new(),
            Some(c) if c.starts_with('#') => format!("{indent_type}{c}"),
            Some(c) => format!("{indent_type} # {c}"),
        };
        match &entry.item {
            Item::Section(s) => {
                out.push(format!(
                    "{indent}{}{}{}{comment}",
                    "[".repeat(s.depth),
                    quote(key, false)?,
                    "]".repeat(s.depth)
                ));
                write_section(s, indent_type, out)?;
            }
            Item::Str(v) => out.push(format!(
                "{indent}{} = {}{comment}",
                quote(key, false)?,
                quote(v, true)?
            )),
            Item::List(l) => {
                let v = match l.len() {
                    0 => ",".to_string(),
                    1 => format!("{},", quote(&l[0], false)?),
                    _ => l
                        .iter()
                        .map(|i| quote(i, false))
                        .collect::<Result<Vec<_>, _>>()?
                        .join(", "),
                };
                out.push(format!("{indent}{} = {v}{comment}", quote(key, false)?));
            }
        }
    }
    Ok(())
}

/// `_quote(value, multiline)` with list values on.
fn quote(value: &str, multiline: bool) -> Result<String, String> {
    if value.is_empty() {
        return Ok("\"\"".into());
    }
    let cannot = || format!("Value \"{value}\" cannot be safely quoted.");
    let single = || -> Result<&'static str, String> {
        if value.contains('\'') && value.contains('"') {
            Err(cannot())
        } else if value.contains('"') {
            Ok("'")
        } else {
            Ok("\"")
        }
    };
    let need_triple =
        multiline && ((value.contains('\'') && value.contains('"')) || value.contains('\n'));
    let hash_triple = multiline
        && !need_triple
        && value.contains('\'')
        && value.contains('"')
        && value.contains('#');
    let (open, close): (&str, &str) = if !need_triple && !hash_triple {
        if value.contains('\n') {
            return Err(cannot());
        }
        let first = value.chars().next().unwrap_or(' ');
        let last = value.chars().last().unwrap_or(' ');
        if !WSPACE_PLUS.contains(&first) && !WSPACE_PLUS.contains(&last) && !value.contains(',') {
            ("", "")
        } else {
            let q = single()?;
            (q, q)
        }
    } else if value.contains("\"\"\"") && value.contains("'''") {
        return Err(cannot());
    } else if !value.contains("\"\"\"") {
        // ConfigObj's `tdquot` is ''', its `tsquot` """.
        ("'''", "'''")
    } else {
        ("\"\"\"", "\"\"\"")
    };
    let (open, close) = if open.is_empty() && value.contains('#') {
        let q = single()?;
        (q, q)
    } else {
        (open, close)
    };
    Ok(format!("{open}{value}{close}"))
}

/// `_multiline`: a triple-quoted value, on one line or up to the line
/// that closes it (`i` moves to that line).
fn multiline(value: &str, infile: &[&str], i: &mut usize) -> Option<(String, Option<String>)> {
    let quot = &value[..3];
    let newvalue = &value[3..];
    if let Some(end) = newvalue.find(quot) {
        // `^"""(.*?)"""\s*(#.*)?$`: the first closing quotes that end it.
        let mut at = Some(end);
        while let Some(e) = at {
            if let Some(c) = tail_comment(&newvalue[e + 3..]) {
                return Some((newvalue[..e].to_string(), c));
            }
            at = newvalue[e + 1..].find(quot).map(|x| x + e + 1);
        }
        return None;
    }
    let mut acc = newvalue.to_string();
    loop {
        *i += 1;
        let line = infile.get(*i)?;
        acc.push('\n');
        match line.find(quot) {
            None => acc.push_str(line),
            Some(_) => {
                // `^(.*?)"""\s*(#.*)?$`
                let mut from = 0;
                while let Some(e) = line[from..].find(quot).map(|x| x + from) {
                    if let Some(c) = tail_comment(&line[e + 3..]) {
                        acc.push_str(&line[..e]);
                        return Some((acc, c));
                    }
                    from = e + 1;
                }
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(text: &str) -> String {
        String::from_utf8(ConfigObj::parse(text.as_bytes()).unwrap().write().unwrap()).unwrap()
    }

    #[test]
    fn values_read_and_written_as_configobj_does() {
        // Each checked against ConfigObj 5.0.8 (Debian 12's python3-configobj).
        assert_eq!(round("a = x, y ,z # c\n"), "a = x, y, z# c\n");
        assert_eq!(round("a = x,\n"), "a = x,\n");
        assert_eq!(round("a = ,\n"), "a = ,\n");
        assert_eq!(round("a = \"q v\"\n"), "a = q v\n");
        assert_eq!(round("a =\n"), "a = \"\"\n");
        assert_eq!(round("a = '''x\ny'''\n"), "a = '''x\ny'''\n");
        assert_eq!(round("a = b # c d\n"), "a = b# c d\n");
        assert_eq!(
            round("# top\n\n a = 1\n[s]\n  [[t]]\n  b = 2\n# end\n"),
            "# top\n\na = 1\n[s]\n [[t]]\n  b = 2\n# end\n"
        );
        assert_eq!(round("a = 1\r\nb = 2\r\n"), "a = 1\r\nb = 2\r\n");
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("a,b", true).unwrap(), "\"a,b\"");
        assert_eq!(quote("has # hash", true).unwrap(), "\"has # hash\"");
        assert_eq!(quote("say \"hi\"", true).unwrap(), "'say \"hi\"'");
        assert_eq!(quote(" lead", true).unwrap(), "\" lead\"");
        assert_eq!(quote("it's \"x\"", true).unwrap(), "'''it's \"x\"'''");
        assert!(quote("it's \"x\"", false).is_err());
    }

    #[test]
    fn errors_name_the_line() {
        let e = ConfigObj::parse(b"a = 1\na = 2\n").unwrap_err();
        assert_eq!(e, "Duplicate keyword name at line 2.");
        let e = ConfigObj::parse(b"[[a]]\n").unwrap_err();
        assert_eq!(e, "Section too nested at line 1.");
    }
}
