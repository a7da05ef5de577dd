//! The text being composed, as PyYAML's Reader sees it: char indexes to
//! line and column, and the checks PyYAML makes on the raw text before and
//! beside the parser (printable characters, stray tabs, anchor names).

use super::compose::{Fault, Pos};

/// The text with positions in characters, as the parser reports them.
pub(super) struct Source<'a> {
    pub(super) text: &'a str,
    /// For non-ASCII text, the byte offset of every [`STRIDE`]th character,
    /// so that finding a character's byte offset never walks far (lookups
    /// come in any order).
    pub(super) strides: Vec<usize>,
    pub(super) char_len: usize,
    pub(super) ascii: bool,
}

/// Characters between two entries of [`Source::strides`].
pub(super) const STRIDE: usize = 256;

impl<'a> Source<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        let ascii = text.is_ascii();
        let mut strides = Vec::new();
        let mut char_len = text.len();
        if !ascii {
            char_len = 0;
            for (i, (byte, _)) in text.char_indices().enumerate() {
                if i % STRIDE == 0 {
                    strides.push(byte);
                }
                char_len += 1;
            }
        }
        Source {
            text,
            strides,
            char_len,
            ascii,
        }
    }

    /// Byte offset of the `char_index`-th character (the text length past the end).
    pub(super) fn byte_at(&self, char_index: usize) -> usize {
        if self.ascii {
            return char_index.min(self.text.len());
        }
        let Some(&from) = self.strides.get(char_index / STRIDE) else {
            return self.text.len();
        };
        self.text[from..]
            .char_indices()
            .nth(char_index % STRIDE)
            .map_or(self.text.len(), |(b, _)| from + b)
    }

    /// The text from the `char_index`-th character on.
    pub(super) fn from(&self, char_index: usize) -> &'a str {
        &self.text[self.byte_at(char_index)..]
    }

    /// Line and column of a character index (breaks: `\n`, `\r\n`, lone `\r`).
    pub(super) fn pos_of(&self, char_index: usize) -> Pos {
        let mut pos = Pos { line: 1, column: 1 };
        let mut chars = self.text.chars().take(char_index).peekable();
        while let Some(c) = chars.next() {
            if c == '\n' || (c == '\r' && chars.peek() != Some(&'\n')) {
                pos.line += 1;
                pos.column = 1;
            } else if c != '\r' {
                pos.column += 1;
            }
        }
        pos
    }

    /// The text's length in characters.
    pub(super) fn char_len(&self) -> usize {
        self.char_len
    }

    /// Where the stream ends, as PyYAML marks "unexpected end of stream".
    pub(super) fn end_pos(&self) -> Pos {
        self.pos_of(self.text.chars().count())
    }
}

pub(super) fn pos(marker: &saphyr_parser::Marker) -> Pos {
    Pos {
        line: marker.line(),
        column: marker.col() + 1,
    }
}

/// PyYAML's Reader refuses control characters and surrogates anywhere.
pub(super) fn check_printable(source: &Source) -> Result<(), Fault> {
    let printable = |c: char| {
        matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7e}' | '\u{85}')
            || matches!(c, '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
            || c >= '\u{10000}'
    };
    match source.text.chars().position(|c| !printable(c)) {
        None => Ok(()),
        Some(i) => {
            let c = source.from(i).chars().next().unwrap_or('\0');
            Err(Fault::at(
                source.pos_of(i),
                format!(
                    "unacceptable character #x{:04x}: special characters are not allowed",
                    c as u32
                ),
            ))
        }
    }
}

/// The first tab, before character `limit`, that is neither inside a quoted
/// or block scalar (`scalar_ranges`, char index ranges sorted by start) nor
/// in a comment. PyYAML only skips spaces between tokens, so such a tab is
/// "found character '\t' that cannot start any token".
pub(super) fn stray_tab(
    source: &Source,
    scalar_ranges: &[(usize, usize)],
    limit: usize,
) -> Option<Pos> {
    // Most documents have no tab at all: one quick search settles them
    // without the walk below (a measurable part of loading a config).
    if !source.text.contains('\t') {
        return None;
    }
    let mut ranges = RangeCursor::new(scalar_ranges);
    let mut pos = Pos { line: 1, column: 1 };
    let mut in_comment = false;
    let mut after_blank = true;
    let mut chars = source.text.chars().enumerate().peekable();
    while let Some((i, c)) = chars.next() {
        if i >= limit {
            break;
        }
        let in_scalar = ranges.contains(i);
        match c {
            '\n' | '\r' => {
                in_comment = false;
                after_blank = true;
                if c == '\n' || chars.peek().map(|x| x.1) != Some('\n') {
                    pos.line += 1;
                    pos.column = 1;
                }
                continue;
            }
            '\t' if !in_scalar && !in_comment => return Some(pos),
            '#' if !in_scalar && after_blank => in_comment = true,
            _ => {}
        }
        after_blank = c == ' ' || c == '\t';
        pos.column += 1;
    }
    None
}

/// Characters PyYAML allows in an anchor or alias name.
pub(super) fn anchor_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// Checks an anchor or alias name at `start` (the `&` or `*`, or a tag
/// before the anchor) against PyYAML's grammar; returns the name.
pub(super) fn anchor_name(
    source: &Source,
    start: usize,
    start_pos: Pos,
) -> Result<Option<String>, Fault> {
    let rest = source.from(start);
    let mut offset = 0; // in characters, for the error column
    let mut chars = rest.chars().peekable();
    // A tag may come first (`!!str &a x`): skip it and the blanks after it.
    if chars.peek() == Some(&'!') {
        while chars.peek().is_some_and(|c| !c.is_whitespace()) {
            chars.next();
            offset += 1;
        }
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            chars.next();
            offset += 1;
        }
    }
    let Some(indicator) = chars.next() else {
        return Ok(None);
    };
    if indicator != '&' && indicator != '*' {
        return Ok(None);
    }
    let indicator_at = Pos {
        line: start_pos.line,
        column: start_pos.column + offset,
    };
    offset += 1;
    let mut name = String::new();
    for c in chars {
        if c.is_whitespace() || ",[]{}".contains(c) {
            break;
        }
        if !anchor_char(c) {
            let what = if indicator == '&' { "anchor" } else { "alias" };
            return Err(Fault::at(
                Pos {
                    line: start_pos.line,
                    column: start_pos.column + offset,
                },
                format!(
                    "expected alphabetic or numeric character, but found '{c}' (PyYAML allows only letters, digits, '-' and '_' in {what} names)"
                ),
            )
            .within(format!("while scanning an {what}"), Some(indicator_at)));
        }
        name.push(c);
        offset += 1;
    }
    Ok(Some(name))
}

/// Whether a forward scan's char index is inside one of a list of sorted,
/// non-overlapping char-index ranges (scalars, say), asked with indexes
/// that never decrease: each range is passed once.
pub(super) struct RangeCursor<'a> {
    ranges: std::iter::Peekable<std::slice::Iter<'a, (usize, usize)>>,
}

impl<'a> RangeCursor<'a> {
    pub(super) fn new(ranges: &'a [(usize, usize)]) -> Self {
        RangeCursor {
            ranges: ranges.iter().peekable(),
        }
    }

    pub(super) fn contains(&mut self, i: usize) -> bool {
        while self.ranges.peek().is_some_and(|r| r.1 <= i) {
            self.ranges.next();
        }
        self.ranges.peek().is_some_and(|r| r.0 <= i && i < r.1)
    }
}
