//! Writing YAML the way cloud-init writes `cloud-config.txt`.
//!
//! cloud-init 22.4 writes the merged cloud-config with `safeyaml.dumps(obj)`:
//! `yaml.dump(obj, line_break="\n", indent=4, explicit_start=True,
//! explicit_end=True, default_flow_style=False)` with PyYAML's SafeDumper, so
//! keys sorted, no unicode (`allow_unicode=False`), width 80. To write the
//! same bytes we follow PyYAML's emitter: the same choice of scalar style
//! (plain, single or double quoted, literal for `!!binary`), the same
//! escapes, the same line folding and the same column bookkeeping, because
//! where a line breaks depends on it.
//!
//! What we cannot reproduce: PyYAML writes `&id001`/`*id001` when the same
//! Python object occurs twice (a YAML alias in user-data makes that happen);
//! our values are trees, so the copy is written out again. Sets and ordered
//! pairs are plain mappings and lists by the time they reach us.

use super::resolve;
use crate::base64;
use crate::value::timestamp::Timestamp;
use crate::value::{python_float_repr, sort_entries_like_pyyaml, Mapping, Value};

const BEST_INDENT: usize = 4;
const BEST_WIDTH: usize = 80;

/// `safeyaml.dumps(value)`: `---`, the document in block style, `...`.
pub fn dump_cloud_config(value: &Value) -> String {
    let mut e = Emitter::default();
    // Document start: explicit.
    e.write_indent();
    e.write_indicator("---", true, false, false);
    e.node(value, Context::ROOT);
    // Document end: explicit.
    e.write_indent();
    e.write_indicator("...", true, false, false);
    e.write_indent();
    e.out
}

/// `safeyaml.dumps(mapping, explicit_start=False, explicit_end=False)`:
/// the same block style as [`dump_cloud_config`] with no `---` and no
/// `...`, as cloud-init's netplan renderer (`netplan.py:_render_content`)
/// dumps its sections and a v2 config it passes through. (Its `noalias`
/// makes no difference here: our values are trees.)
///
/// The root is a mapping on purpose: PyYAML ends a document whose root is
/// a plain scalar with `...` even when asked not to, and no caller dumps one.
pub fn dump_bare_mapping(mapping: &Mapping) -> String {
    let mut e = Emitter::default();
    // Document start: implicit, nothing written.
    e.node(&Value::Map(mapping.clone()), Context::ROOT);
    // Document end: implicit, only the final line break.
    e.write_indent();
    e.out
}

/// `yaml.dump(value, default_flow_style=False)` with PyYAML's defaults
/// otherwise (indent 2, keys sorted, no `---`): what cc_puppet writes to
/// `csr_attributes.yaml`.
pub fn dump_pyyaml(value: &Value) -> String {
    let mut e = Emitter {
        best_indent: 2,
        ..Emitter::default()
    };
    e.node(value, Context::ROOT);
    e.write_indent();
    e.out
}

/// Where a node sits, as PyYAML's `expect_node` flags say. (Its root flag
/// only decides whether a closing `...` is needed, and we always write one.)
#[derive(Clone, Copy, Default)]
struct Context {
    mapping: bool,
    simple_key: bool,
}

impl Context {
    const ROOT: Context = Context {
        mapping: false,
        simple_key: false,
    };
    const ITEM: Context = Context::ROOT;
    const VALUE: Context = Context {
        mapping: true,
        simple_key: false,
    };
    const SIMPLE_KEY: Context = Context {
        mapping: true,
        simple_key: true,
    };
}

/// A scalar as the representer makes it: tag, text and requested style.
struct Scalar {
    tag: &'static str,
    text: String,
    /// `Some('|')` for binary; `None` lets the emitter choose.
    style: Option<char>,
}

impl Scalar {
    fn of(v: &Value) -> Option<Scalar> {
        let (tag, text, style) = match v {
            Value::Null => (resolve::NULL, "null".to_string(), None),
            Value::Bool(b) => (resolve::BOOL, b.to_string(), None),
            Value::Int(i) => (resolve::INT, i.to_string(), None),
            Value::BigInt(b) => (resolve::INT, b.to_string(), None),
            Value::Float(f) => (resolve::FLOAT, float_text(*f), None),
            Value::Str(s) => (resolve::STR, s.clone(), None),
            Value::Bytes(b) => (resolve::BINARY, encodebytes(b), Some('|')),
            Value::Timestamp(t) => (
                resolve::TIMESTAMP,
                Timestamp::parse(t)
                    .map(|t| t.python_str())
                    .unwrap_or_else(|_| t.clone()),
                None,
            ),
            Value::Seq(_) | Value::Map(_) => return None,
        };
        Some(Scalar { tag, text, style })
    }

    /// The serializer's `implicit` pair: may the tag be left out when the
    /// scalar is written plain, and when it is quoted?
    fn implicit(&self) -> (bool, bool) {
        (
            resolve::implicit_tag(&self.text) == self.tag,
            self.tag == resolve::STR,
        )
    }
}

/// `SafeRepresenter.represent_float`.
fn float_text(f: f64) -> String {
    if f.is_nan() {
        ".nan".into()
    } else if f == f64::INFINITY {
        ".inf".into()
    } else if f == f64::NEG_INFINITY {
        "-.inf".into()
    } else {
        let repr = python_float_repr(f).to_lowercase();
        // `1e+20` is not a YAML 1.1 float: PyYAML writes `1.0e+20`.
        if !repr.contains('.') && repr.contains('e') {
            repr.replacen('e', ".0e", 1)
        } else {
            repr
        }
    }
}

/// Python's `base64.encodebytes`: lines of 76 characters, each ending `\n`.
fn encodebytes(data: &[u8]) -> String {
    let flat = base64::encode(data);
    let mut out = String::with_capacity(flat.len() + flat.len() / 76 + 1);
    for chunk in flat.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// `!!str` for `tag:yaml.org,2002:str`.
fn short_tag(tag: &str) -> String {
    match tag.strip_prefix("tag:yaml.org,2002:") {
        Some(suffix) => format!("!!{suffix}"),
        None => tag.to_string(),
    }
}

fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blank_or_break(c: Option<char>) -> bool {
    matches!(
        c,
        None | Some(' ' | '\t' | '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
    )
}

/// `Emitter.analyze_scalar`: which styles can carry this text.
#[derive(Debug)]
struct Analysis {
    empty: bool,
    multiline: bool,
    allow_flow_plain: bool,
    allow_block_plain: bool,
    allow_single_quoted: bool,
    allow_block: bool,
}

fn analyze(text: &[char]) -> Analysis {
    if text.is_empty() {
        return Analysis {
            empty: true,
            multiline: false,
            allow_flow_plain: false,
            allow_block_plain: true,
            allow_single_quoted: true,
            allow_block: false,
        };
    }
    let starts_with = |p: &str| text.iter().take(3).copied().eq(p.chars());
    let mut block_indicators = starts_with("---") || starts_with("...");
    let mut flow_indicators = block_indicators;
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_whitespace = true;
    let last = text.len() - 1;
    for (i, &c) in text.iter().enumerate() {
        let followed_by_whitespace = is_blank_or_break(text.get(i + 1).copied());
        if i == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(c) {
                flow_indicators = true;
                block_indicators = true;
            }
            if c == '?' || c == ':' {
                flow_indicators = true;
                if followed_by_whitespace {
                    block_indicators = true;
                }
            }
            if c == '-' && followed_by_whitespace {
                flow_indicators = true;
                block_indicators = true;
            }
        } else {
            if ",?[]{}".contains(c) {
                flow_indicators = true;
            }
            if c == ':' {
                flow_indicators = true;
                if followed_by_whitespace {
                    block_indicators = true;
                }
            }
            if c == '#' && preceded_by_whitespace {
                flow_indicators = true;
                block_indicators = true;
            }
        }
        if is_break(c) {
            line_breaks = true;
        }
        if !(c == '\n' || (' '..='~').contains(&c)) {
            // With allow_unicode=False every other character, printable or
            // not, needs the double-quoted style's escapes.
            special = true;
        }
        if c == ' ' {
            leading_space |= i == 0;
            trailing_space |= i == last;
            break_space |= previous_break;
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            leading_break |= i == 0;
            trailing_break |= i == last;
            space_break |= previous_space;
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = is_blank_or_break(Some(c)) || c == '\0';
    }
    let mut a = Analysis {
        empty: false,
        multiline: line_breaks,
        allow_flow_plain: true,
        allow_block_plain: true,
        allow_single_quoted: true,
        allow_block: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.allow_flow_plain = false;
        a.allow_block_plain = false;
    }
    if trailing_space {
        a.allow_block = false;
    }
    if break_space {
        a.allow_flow_plain = false;
        a.allow_block_plain = false;
        a.allow_single_quoted = false;
    }
    if space_break || special {
        a.allow_flow_plain = false;
        a.allow_block_plain = false;
        a.allow_single_quoted = false;
        a.allow_block = false;
    }
    if line_breaks {
        a.allow_flow_plain = false;
        a.allow_block_plain = false;
    }
    if flow_indicators {
        a.allow_flow_plain = false;
    }
    if block_indicators {
        a.allow_block_plain = false;
    }
    a
}

/// The emitter's state, as PyYAML keeps it.
struct Emitter {
    out: String,
    column: usize,
    /// The last thing written was whitespace (no space needed before more).
    whitespace: bool,
    /// The last thing written was indentation (or `-`/`?`/`:` after it).
    indention: bool,
    indent: Option<usize>,
    indents: Vec<Option<usize>>,
    flow_level: usize,
    /// PyYAML's `best_indent` (`indent=`): 4 for `safeyaml.dumps`.
    best_indent: usize,
}

impl Default for Emitter {
    fn default() -> Self {
        Emitter {
            out: String::new(),
            column: 0,
            whitespace: true,
            indention: true,
            indent: None,
            indents: Vec::new(),
            flow_level: 0,
            best_indent: BEST_INDENT,
        }
    }
}

impl Emitter {
    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        self.indent = match self.indent {
            None if flow => Some(self.best_indent),
            None => Some(0),
            Some(i) if !indentless => Some(i + self.best_indent),
            same => same,
        };
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().flatten();
    }

    fn write(&mut self, data: &str) {
        self.column += data.chars().count();
        self.out.push_str(data);
    }

    fn write_indicator(
        &mut self,
        indicator: &str,
        need_whitespace: bool,
        whitespace: bool,
        indention: bool,
    ) {
        if !self.whitespace && need_whitespace {
            self.write(" ");
        }
        self.write(indicator);
        self.whitespace = whitespace;
        self.indention = self.indention && indention;
    }

    fn write_indent(&mut self) {
        let indent = self.indent.unwrap_or(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.write_line_break(None);
        }
        if self.column < indent {
            self.whitespace = true;
            let pad = " ".repeat(indent - self.column);
            self.write(&pad);
        }
    }

    fn write_line_break(&mut self, br: Option<char>) {
        self.whitespace = true;
        self.indention = true;
        self.column = 0;
        self.out.push(br.unwrap_or('\n'));
    }

    fn node(&mut self, v: &Value, ctx: Context) {
        match v {
            Value::Seq(items) if self.flow_level > 0 || items.is_empty() => {
                self.flow_collection(items.is_empty(), '[', ']')
            }
            Value::Map(m) if self.flow_level > 0 || m.is_empty() => {
                self.flow_collection(m.is_empty(), '{', '}')
            }
            Value::Seq(items) => {
                let indentless = ctx.mapping && !self.indention;
                self.increase_indent(false, indentless);
                for item in items {
                    self.write_indent();
                    self.write_indicator("-", true, false, true);
                    self.node(item, Context::ITEM);
                }
                self.pop_indent();
            }
            Value::Map(m) => {
                self.increase_indent(false, false);
                for (k, v) in sorted_entries(m) {
                    self.write_indent();
                    if self.simple_key(k) {
                        self.node(k, Context::SIMPLE_KEY);
                        self.write_indicator(":", false, false, false);
                    } else {
                        self.write_indicator("?", true, false, true);
                        self.node(k, Context::VALUE);
                        self.write_indent();
                        self.write_indicator(":", true, false, true);
                    }
                    self.node(v, Context::VALUE);
                }
                self.pop_indent();
            }
            scalar => {
                if let Some(s) = Scalar::of(scalar) {
                    self.scalar(&s, ctx);
                }
            }
        }
    }

    /// Only empty collections are written in flow style here
    /// (`default_flow_style=False`), so this writes `[]` or `{}`.
    fn flow_collection(&mut self, _empty: bool, open: char, close: char) {
        self.write_indicator(&open.to_string(), true, true, false);
        self.flow_level += 1;
        self.increase_indent(true, false);
        self.pop_indent();
        self.flow_level -= 1;
        self.write_indicator(&close.to_string(), false, false, false);
    }

    /// `check_simple_key`: short, one-line keys are written `key: value`.
    fn simple_key(&self, k: &Value) -> bool {
        match k {
            Value::Seq(items) => items.is_empty(),
            Value::Map(m) => m.is_empty(),
            _ => match Scalar::of(k) {
                Some(s) => {
                    let chars: Vec<char> = s.text.chars().collect();
                    let a = analyze(&chars);
                    let length = short_tag(s.tag).chars().count() + chars.len();
                    length < 128 && !a.empty && !a.multiline
                }
                None => false,
            },
        }
    }

    fn choose_style(&self, s: &Scalar, a: &Analysis, ctx: Context) -> char {
        let implicit = s.implicit();
        if s.style.is_none()
            && implicit.0
            && !(ctx.simple_key && (a.empty || a.multiline))
            && ((self.flow_level > 0 && a.allow_flow_plain)
                || (self.flow_level == 0 && a.allow_block_plain))
        {
            return ' ';
        }
        if let Some(block @ ('|' | '>')) = s.style {
            if self.flow_level == 0 && !ctx.simple_key && a.allow_block {
                return block;
            }
        }
        if matches!(s.style, None | Some('\''))
            && a.allow_single_quoted
            && !(ctx.simple_key && a.multiline)
        {
            return '\'';
        }
        '"'
    }

    fn scalar(&mut self, s: &Scalar, ctx: Context) {
        let chars: Vec<char> = s.text.chars().collect();
        let a = analyze(&chars);
        let style = self.choose_style(s, &a, ctx);
        let implicit = s.implicit();
        let tag_implied = (style == ' ' && implicit.0) || (style != ' ' && implicit.1);
        if !tag_implied {
            self.write_indicator(&short_tag(s.tag), true, false, false);
        }
        self.increase_indent(true, false);
        let split = !ctx.simple_key;
        match style {
            '"' => self.write_double_quoted(&chars, split),
            '\'' => self.write_single_quoted(&chars, split),
            '|' => self.write_literal(&chars),
            _ => self.write_plain(&chars, split),
        }
        self.pop_indent();
    }

    fn write_chars(&mut self, chars: &[char]) {
        let s: String = chars.iter().collect();
        self.write(&s);
    }

    fn write_plain(&mut self, text: &[char], split: bool) {
        if text.is_empty() {
            return;
        }
        if !self.whitespace {
            self.write(" ");
        }
        self.whitespace = false;
        self.indention = false;
        let (mut spaces, mut breaks) = (false, false);
        let mut start = 0;
        for end in 0..=text.len() {
            let ch = text.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end && self.column > BEST_WIDTH && split {
                        self.write_indent();
                        self.whitespace = false;
                        self.indention = false;
                    } else {
                        self.write_chars(&text[start..end]);
                    }
                    start = end;
                }
            } else if breaks {
                if !ch.is_some_and(is_break) {
                    if text[start] == '\n' {
                        self.write_line_break(None);
                    }
                    for &br in &text[start..end] {
                        self.write_line_break(Some(br));
                    }
                    self.write_indent();
                    self.whitespace = false;
                    self.indention = false;
                    start = end;
                }
            } else if ch.is_none_or(|c| c == ' ' || is_break(c)) {
                self.write_chars(&text[start..end]);
                start = end;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
                breaks = is_break(c);
            }
        }
    }

    fn write_single_quoted(&mut self, text: &[char], split: bool) {
        self.write_indicator("'", true, false, false);
        let (mut spaces, mut breaks) = (false, false);
        let mut start = 0;
        for end in 0..=text.len() {
            let ch = text.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end
                        && self.column > BEST_WIDTH
                        && split
                        && start != 0
                        && end != text.len()
                    {
                        self.write_indent();
                    } else {
                        self.write_chars(&text[start..end]);
                    }
                    start = end;
                }
            } else if breaks {
                if !ch.is_some_and(is_break) {
                    if text[start] == '\n' {
                        self.write_line_break(None);
                    }
                    for &br in &text[start..end] {
                        self.write_line_break(Some(br));
                    }
                    self.write_indent();
                    start = end;
                }
            } else if ch.is_none_or(|c| c == ' ' || c == '\'' || is_break(c)) && start < end {
                self.write_chars(&text[start..end]);
                start = end;
            }
            if ch == Some('\'') {
                self.write("''");
                start = end + 1;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
                breaks = is_break(c);
            }
        }
        self.write_indicator("'", false, false, false);
    }

    fn write_double_quoted(&mut self, text: &[char], split: bool) {
        self.write_indicator("\"", true, false, false);
        let mut start = 0;
        for end in 0..=text.len() {
            let ch = text.get(end).copied();
            let needs_escape = match ch {
                None => true,
                Some(c) => {
                    "\"\\\u{85}\u{2028}\u{2029}\u{feff}".contains(c) || !(' '..='~').contains(&c)
                }
            };
            if needs_escape {
                if start < end {
                    self.write_chars(&text[start..end]);
                    start = end;
                }
                if let Some(c) = ch {
                    let escaped = match c {
                        '\0' => "\\0".to_string(),
                        '\u{07}' => "\\a".into(),
                        '\u{08}' => "\\b".into(),
                        '\t' => "\\t".into(),
                        '\n' => "\\n".into(),
                        '\u{0b}' => "\\v".into(),
                        '\u{0c}' => "\\f".into(),
                        '\r' => "\\r".into(),
                        '\u{1b}' => "\\e".into(),
                        '"' => "\\\"".into(),
                        '\\' => "\\\\".into(),
                        '\u{85}' => "\\N".into(),
                        '\u{a0}' => "\\_".into(),
                        '\u{2028}' => "\\L".into(),
                        '\u{2029}' => "\\P".into(),
                        c if (c as u32) <= 0xff => format!("\\x{:02X}", c as u32),
                        c if (c as u32) <= 0xffff => format!("\\u{:04X}", c as u32),
                        c => format!("\\U{:08X}", c as u32),
                    };
                    self.write(&escaped);
                    start = end + 1;
                }
            }
            if 0 < end
                && end + 1 < text.len()
                && (ch == Some(' ') || start >= end)
                // `start` can be one past `end` right after an escape.
                && (self.column + end) as isize - start as isize > BEST_WIDTH as isize
                && split
            {
                let mut data: String = text[start.min(end)..end].iter().collect();
                data.push('\\');
                if start < end {
                    start = end;
                }
                self.write(&data);
                self.write_indent();
                self.whitespace = false;
                self.indention = false;
                if text.get(start) == Some(&' ') {
                    self.write("\\");
                }
            }
        }
        self.write_indicator("\"", false, false, false);
    }

    fn write_literal(&mut self, text: &[char]) {
        let mut hints = String::new();
        if let (Some(&first), Some(&last)) = (text.first(), text.last()) {
            if first == ' ' || is_break(first) {
                hints.push_str(&self.best_indent.to_string());
            }
            if !is_break(last) {
                hints.push('-');
            } else if text.len() == 1 || is_break(text[text.len() - 2]) {
                hints.push('+');
            }
        }
        self.write_indicator(&format!("|{hints}"), true, false, false);
        self.write_line_break(None);
        let mut breaks = true;
        let mut start = 0;
        for end in 0..=text.len() {
            let ch = text.get(end).copied();
            if breaks {
                if !ch.is_some_and(is_break) {
                    for &br in &text[start..end] {
                        self.write_line_break(Some(br));
                    }
                    if ch.is_some() {
                        self.write_indent();
                    }
                    start = end;
                }
            } else if ch.is_none_or(is_break) {
                // PyYAML does not count these characters in its column.
                let data: String = text[start..end].iter().collect();
                self.out.push_str(&data);
                if ch.is_none() {
                    self.write_line_break(None);
                }
                start = end;
            }
            if let Some(c) = ch {
                breaks = is_break(c);
            }
        }
    }
}

/// The mapping's entries in PyYAML's order.
fn sorted_entries(m: &Mapping) -> Vec<(&Value, &Value)> {
    let mut entries: Vec<(&Value, &Value)> = m.iter().collect();
    sort_entries_like_pyyaml(&mut entries, |(k, _)| k);
    entries
}
