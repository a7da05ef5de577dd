//! The composer proper: saphyr-parser's events made into PyYAML's node
//! graph, with PyYAML's stricter rules and its error marks (see
//! [`super::compose`] for what is checked and why).

use std::collections::HashMap;
use std::rc::Rc;

use saphyr_parser::{Event, ScalarStyle, ScanError, Span};

use super::compose::*;
use super::resolve;
use super::source::*;

/// A collection being composed.
pub(super) struct Frame {
    pub(super) is_map: bool,
    /// For a flow collection, where its `[` or `{` is in the parsed (maybe
    /// re-indented) text: char index and 0-based column.
    pub(super) flow_bracket: Option<(usize, usize)>,
    /// Where that bracket is, in the original text.
    pub(super) bracket: Option<Pos>,
    pub(super) tag: String,
    pub(super) start: Pos,
    /// Where the collection's first event starts (char index, parsed text).
    pub(super) start_index: usize,
    /// In a flow mapping, the char indexes where the key waiting for its
    /// value starts and ends.
    pub(super) pending_key: Option<(usize, usize)>,
    pub(super) anchor: usize,
    pub(super) children: Vec<Rc<Node>>,
}

/// An anchor: its node once complete (`None` while still being composed).
pub(super) struct Anchor {
    pub(super) node: Option<Rc<Node>>,
}

pub(super) struct Composer<'a> {
    pub(super) shifts: &'a [(usize, usize)],
    /// What to do with a block scalar that runs to the end of the text.
    pub(super) last_line: &'a LastLine,
    /// Where the original text ends, when we parse it with a line break
    /// added: no position may lie beyond it.
    pub(super) end: Option<Pos>,
    /// The value of a block scalar that runs to the end of the text.
    pub(super) final_block_scalar: Option<String>,
    pub(super) source: Source<'a>,
    /// Char index ranges of quoted and block scalars, for [`stray_tab`].
    pub(super) scalar_ranges: Vec<(usize, usize)>,
    /// Char index ranges of every scalar, for [`Composer::open_bracket`].
    pub(super) all_scalar_ranges: Vec<(usize, usize)>,
    pub(super) stack: Vec<Frame>,
    pub(super) anchors: HashMap<usize, Anchor>,
    pub(super) anchor_names: HashMap<String, Pos>,
    pub(super) root: Option<Rc<Node>>,
    pub(super) documents: usize,
    pub(super) alias_nodes: u64,
    /// Nodes written out in the text (aliases are counted apart).
    pub(super) nodes: u64,
    pub(super) alias_bytes: u64,
}

impl<'a> Composer<'a> {
    /// A position in the original text, in the parsed text's columns (as
    /// faults are, until [`compose`] maps them back).
    pub(super) fn shift_back(&self, p: Pos) -> Pos {
        let added = added_on(p.line, self.shifts);
        Pos {
            line: p.line,
            column: p.column + added,
        }
    }

    /// A node's position: the parser's, in the original text's columns.
    pub(super) fn pos(&self, marker: &saphyr_parser::Marker) -> Pos {
        let p = unshift(pos(marker), self.shifts);
        self.end.map_or(p, |end| p.min(end))
    }

    /// For the parser's YAML 1.2 indentation refusals PyYAML would not
    /// make: the lines to indent (see [`compose`]).
    pub(super) fn reindent(&self, e: &ScanError) -> Option<Vec<(usize, usize)>> {
        if self.shifts.first().is_some_and(|s| s.0 == usize::MAX) {
            return None;
        }
        let info = e.info();
        let at = e.marker();
        if info == "invalid indentation in quoted scalar" {
            // The mark is the opening quote; indent the scalar's later lines
            // that start left of it.
            let quote = self.source.from(at.index()).chars().next()?;
            // Unclosed, it runs to the end (and the next pass says so).
            let body_end = quoted_len(self.source.from(at.index()), quote).unwrap_or(usize::MAX);
            let body: String = self
                .source
                .from(at.index())
                .chars()
                .take(body_end)
                .collect();
            let need = at.col() + 1;
            let lines = body
                .split('\n')
                .enumerate()
                .skip(1)
                .filter(|(_, l)| l.chars().take_while(|c| *c == ' ').count() < need)
                .map(|(i, _)| (at.line() + i, need))
                .collect::<Vec<_>>();
            return (!lines.is_empty()).then_some(lines);
        }
        if info.starts_with("invalid indentation") {
            // Inside a flow collection: indent this line past its bracket,
            // and the collection's later lines that need it too (one pass
            // for the collection, not one per line). The parser may stop
            // before it reports the collection, so we look for the open
            // bracket in the text when we must.
            let (index, column) = match self.stack.iter().rev().find_map(|f| f.flow_bracket) {
                Some(b) => b,
                None => {
                    let (pos, _, index) = self.open_bracket(at.index())?;
                    (index, pos.column - 1)
                }
            };
            let close = matching_close(self.source.from(index)).map_or(usize::MAX, |n| index + n);
            let mut lines = vec![(at.line(), column + 1)];
            let rest = self.source.from(at.index());
            let mut offset = at.index();
            for (i, line) in rest.split_inclusive('\n').enumerate() {
                if offset >= close {
                    break;
                }
                if i > 0 && line.chars().take_while(|c| *c == ' ').count() <= column {
                    lines.push((at.line() + i, column + 1));
                }
                offset += line.chars().count();
            }
            return Some(lines);
        }
        None
    }

    /// The innermost `[` or `{` still open before character `limit`, where
    /// it is (in the parsed text) and its char index, skipping scalars,
    /// quoted text and comments.
    pub(super) fn open_bracket(&self, limit: usize) -> Option<(Pos, char, usize)> {
        let mut open: Vec<(Pos, char, usize)> = Vec::new();
        let mut ranges = RangeCursor::new(&self.all_scalar_ranges);
        let mut at = Pos { line: 1, column: 1 };
        let mut previous = ' ';
        let mut chars = self.source.text.chars().enumerate();
        while let Some((i, c)) = chars.next() {
            if i >= limit {
                break;
            }
            let in_scalar = ranges.contains(i);
            if c == '\n' {
                at = Pos {
                    line: at.line + 1,
                    column: 1,
                };
                previous = ' ';
                continue;
            }
            if !in_scalar {
                match c {
                    '[' | '{' => open.push((at, c, i)),
                    ']' | '}' => {
                        open.pop();
                    }
                    '#' if previous == ' ' || previous == '\t' => {
                        // A comment: on to the end of the line.
                        for (_, c) in chars.by_ref() {
                            if c == '\n' {
                                break;
                            }
                        }
                        at = Pos {
                            line: at.line + 1,
                            column: 1,
                        };
                        previous = ' ';
                        continue;
                    }
                    '"' | '\'' if " \t[{,:".contains(previous) => {
                        let len = quoted_len(self.source.from(i), c).unwrap_or(1);
                        for _ in 1..len {
                            if let Some((_, q)) = chars.next() {
                                at = if q == '\n' {
                                    Pos {
                                        line: at.line + 1,
                                        column: 0,
                                    }
                                } else {
                                    Pos {
                                        column: at.column + 1,
                                        ..at
                                    }
                                };
                            }
                        }
                    }
                    _ => {}
                }
            }
            previous = c;
            at.column += 1;
        }
        open.pop()
    }

    pub(super) fn tab_before(&self, limit: usize) -> Option<Fault> {
        stray_tab(&self.source, &self.scalar_ranges, limit).map(|p| {
            Fault::at(p, "found character '\\t' that cannot start any token")
                .within("while scanning for the next token", None)
        })
    }

    /// The char index of a line and column (for faults we made ourselves).
    pub(super) fn char_index_of(&self, p: Pos) -> usize {
        let mut line = 1;
        let mut index = 0;
        let mut chars = self.source.text.chars().peekable();
        while line < p.line {
            match chars.next() {
                None => return index,
                Some(c) => {
                    index += 1;
                    if c == '\n' || (c == '\r' && chars.peek() != Some(&'\n')) {
                        line += 1;
                    }
                }
            }
        }
        index + p.column.saturating_sub(1)
    }

    /// A parser error, placed where PyYAML places it when the parser's mark
    /// is elsewhere, and after any earlier stray tab; with PyYAML's context
    /// (what was being read, and where it began) where it has one.
    pub(super) fn scan_fault(&self, e: &ScanError) -> Fault {
        let info = e.info();
        // The parser can stop a token early on a tab ("while scanning a
        // plain scalar, found a tab"); PyYAML names the tab itself.
        let index = if info.contains("tab") {
            usize::MAX
        } else {
            e.marker().index()
        };
        if let Some(tab) = self.tab_before(index) {
            return tab;
        }
        let at = pos(e.marker());
        let rest = self.source.from(index);
        let offset_pos = |chars: usize| {
            let mut p = at;
            for c in rest.chars().take(chars) {
                if c == '\n' {
                    p.line += 1;
                    p.column = 1;
                } else {
                    p.column += 1;
                }
            }
            p
        };
        if info == "recursion limit exceeded" {
            return Fault::at(
                at,
                "flow collections nested too deeply (more than the parser's limit of about 250 levels)",
            );
        }
        if let Some(problem) = info.strip_prefix("while scanning a quoted scalar, ") {
            // The parser's mark is the opening quote; PyYAML's problem mark
            // is where the text ends, or the `---`/`...` that ends it.
            let problem_at = if problem.contains("end of stream") {
                self.source.end_pos()
            } else {
                document_marker_after(rest).map_or(at, |lines| Pos {
                    line: at.line + lines,
                    column: 1,
                })
            };
            return Fault::at(problem_at, problem)
                .within("while scanning a quoted scalar", Some(at));
        }
        if info == "while parsing a block mapping, did not find expected key" {
            // At a `-` the parser marks the node after it; PyYAML the `-`.
            let line_start = rest_line_start(self.source.text, self.source.byte_at(index));
            let before = &self.source.text[line_start..self.source.byte_at(index)];
            if before.trim_start_matches(' ').starts_with("- ")
                && before.chars().all(|c| c == ' ' || c == '-')
            {
                let dash = before.chars().position(|c| c == '-').unwrap_or(0);
                let moved = Pos {
                    line: at.line,
                    column: dash + 1,
                };
                let fault = Fault::at(moved, "expected <block end>, but found '-'");
                return match self.parse_context(info, index, at) {
                    Some(c) => fault.within(c.what, c.at),
                    None => fault,
                };
            }
        }
        if info.contains("found unknown escape character")
            || info.contains("did not find expected hexadecimal number")
        {
            if let Some((skip, message)) = bad_escape(rest) {
                return Fault::at(offset_pos(skip), message)
                    .within("while scanning a double-quoted scalar", Some(at));
            }
        }
        if info.contains("cannot start with a tab") {
            if let Some(skip) = rest.chars().position(|c| c == '\t') {
                return Fault::at(
                    offset_pos(skip),
                    "found character '\\t' that cannot start any token",
                )
                .within("while scanning for the next token", None);
            }
        }
        if info
            .contains("while scanning a block scalar, did not find expected comment or line break")
        {
            let skip = 1 + rest
                .chars()
                .skip(1)
                .take_while(|c| matches!(c, '+' | '-' | '1'..='9' | ' '))
                .count();
            let found = rest.chars().nth(skip).unwrap_or('\0');
            return Fault::at(
                offset_pos(skip),
                format!("expected chomping or indentation indicators, but found '{found}'"),
            )
            .within("while scanning a block scalar", Some(at));
        }
        if info.contains("found unknown anchor") {
            let name: String = rest
                .chars()
                .skip(1)
                .take_while(|c| !c.is_whitespace() && !",[]{}".contains(*c))
                .collect();
            return Fault::at(at, format!("found undefined alias '{name}'"));
        }
        if info == "simple key expect ':'" {
            // PyYAML: "while scanning a simple key" where the would-be key
            // begins: the last line with a token, before the parser's mark.
            let problem = Fault::at(at, "could not find expected ':'");
            return match self.key_line_start(index, at) {
                Some(key) => problem.within("while scanning a simple key", Some(key)),
                None => problem,
            };
        }
        if let Some(context) = self.parse_context(info, index, at) {
            let problem = info.split_once(", ").map_or(info, |(_, p)| p);
            return Fault::at(at, problem).within(context.what, context.at);
        }
        Fault::at(at, info.to_string())
    }

    /// Where the last line holding a token before character `index` (at
    /// `at`) starts: its first character that is not a blank, on `at`'s
    /// own line if something comes before `at` there, else on an earlier
    /// line that is neither blank nor only a comment.
    pub(super) fn key_line_start(&self, index: usize, at: Pos) -> Option<Pos> {
        let before = &self.source.text[..self.source.byte_at(index)];
        for (back, line) in before.rsplit('\n').enumerate() {
            let line = line.strip_suffix('\r').unwrap_or(line);
            let content = line.trim_start_matches([' ', '\t']);
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            return Some(Pos {
                line: at.line.checked_sub(back)?,
                column: line[..line.len() - content.len()].chars().count() + 1,
            });
        }
        None
    }

    /// PyYAML's parser context for an error the parser made at character
    /// `index` (at `at`): the innermost collection still open there, and
    /// where it began.
    pub(super) fn parse_context(&self, info: &str, index: usize, at: Pos) -> Option<Context> {
        let context = |what: &str, at: Pos| {
            Some(Context {
                what: what.to_string(),
                at: Some(at),
            })
        };
        // The parser can be tokens ahead of the last event we composed, so
        // an open bracket is looked for in the text.
        let bracket = self.open_bracket(index);
        let flow = |bracket: (Pos, char, usize)| {
            let what = if bracket.1 == '[' {
                "while parsing a flow sequence"
            } else {
                "while parsing a flow mapping"
            };
            context(what, bracket.0)
        };
        if info.starts_with("while parsing a node") {
            // PyYAML: the node's own place, in a flow or a block context.
            let what = if bracket.is_some() {
                "while parsing a flow node"
            } else {
                "while parsing a block node"
            };
            return context(what, at);
        }
        if let Some(bracket) = bracket {
            // Inside a flow collection PyYAML's flow-collection parser is
            // what refuses the token (a single-pair mapping in a flow
            // sequence is part of the sequence to it).
            return flow(bracket);
        }
        let block = |map: Option<bool>| {
            self.stack
                .iter()
                .rev()
                .find(|f| f.bracket.is_none() && map.is_none_or(|m| f.is_map == m))
                .and_then(|f| {
                    let what = if f.is_map {
                        "while parsing a block mapping"
                    } else {
                        "while parsing a block collection"
                    };
                    context(what, self.shift_back(f.start))
                })
        };
        if info.starts_with("while parsing a block mapping") {
            return block(Some(true));
        }
        if info.starts_with("while parsing a block collection") {
            return block(Some(false));
        }
        // Tokens left over after a node in a block collection: PyYAML's
        // "expected <block end>, but found ...".
        if info.starts_with("invalid trailing content")
            || info == "misplaced bracket"
            || info == "wrongly indented line in block scalar"
        {
            return block(None);
        }
        None
    }

    pub(super) fn event(&mut self, event: Event, span: Span) -> Result<(), Fault> {
        // Faults are in the parsed text's columns (compose maps them back);
        // nodes keep the original's.
        let at = pos(&span.start);
        if matches!(
            event,
            Event::Scalar(..) | Event::SequenceStart(..) | Event::MappingStart(..)
        ) {
            self.nodes += 1;
            if self.nodes > MAX_NODES {
                return Err(Fault::at(
                    at,
                    format!(
                        "the document has more than {MAX_NODES} nodes (scalars, lists and mappings): refusing it rather than spend gigabytes on it"
                    ),
                ));
            }
        }
        let start = self.pos(&span.start);
        let is_map = matches!(event, Event::MappingStart(..));
        match event {
            Event::DocumentStart(explicit) => {
                self.documents += 1;
                if self.documents == 1 && explicit {
                    self.check_yaml_directive(span.start.index())?;
                }
                if self.documents > 1 {
                    return Err(if explicit {
                        // PyYAML's context mark is the first document's node.
                        let first = self.root.as_ref().map(|n| self.shift_back(n.start));
                        Fault::at(at, "but found another document")
                            .within("expected a single document in the stream", first)
                    } else {
                        Fault::at(
                            at,
                            "expected '<document start>' (---) before more content after the document end (...)",
                        )
                    });
                }
            }
            Event::Alias(id) => {
                anchor_name(&self.source, span.start.index(), at)?;
                let node = match self.anchors.get(&id).map(|a| a.node.clone()) {
                    Some(Some(node)) => node,
                    Some(None) => {
                        return Err(Fault::at(
                            at,
                            "found an alias inside the node its anchor names: cloudboot cannot represent data that contains itself",
                        ))
                    }
                    None => return Err(Fault::at(at, "found undefined alias")),
                };
                self.alias_nodes = self.alias_nodes.saturating_add(node.expanded_nodes);
                self.alias_bytes = self.alias_bytes.saturating_add(node.expanded_bytes);
                if self.alias_nodes > MAX_ALIAS_NODES || self.alias_bytes > MAX_ALIAS_BYTES {
                    return Err(Fault::at(
                        at,
                        format!(
                            "aliases repeat too much data (more than {MAX_ALIAS_NODES} nodes or {} MiB): refusing what looks like an alias bomb",
                            MAX_ALIAS_BYTES >> 20
                        ),
                    ));
                }
                if self.stack.len() + node.height > MAX_DEPTH {
                    return Err(too_deep(at));
                }
                self.add(node, span.start.index(), span.end.index())?;
            }
            Event::Scalar(value, style, anchor, tag) => {
                if value.is_empty() && style == ScalarStyle::Plain && anchor == 0 && tag.is_none() {
                    self.refuse_empty_implicit_key(span.start.index(), at)?;
                }
                let full_tag = tag.map(|t| format!("{}{}", t.handle, t.suffix));
                let plain = style == ScalarStyle::Plain;
                let tag = match full_tag.as_deref() {
                    None if plain => resolve::implicit_tag(&value).to_string(),
                    None => resolve::STR.to_string(),
                    // The non-specific tag `!` asks for implicit resolution,
                    // quoted or not (`! "12"` is 12 in PyYAML).
                    Some("!") => resolve::implicit_tag(&value).to_string(),
                    Some(t) => t.to_string(),
                };
                if !plain {
                    self.record_scalar_range(&span, style);
                }
                let block = matches!(style, ScalarStyle::Literal | ScalarStyle::Folded);
                let value = if block && span.end.index() + 1 >= self.source.char_len() {
                    let corrected = self.last_line.correct(value.into_owned());
                    self.final_block_scalar = Some(corrected.clone());
                    std::borrow::Cow::Owned(corrected)
                } else {
                    value
                };
                self.all_scalar_ranges
                    .push((span.start.index(), span.end.index()));
                let anchor_start = span.start.index();
                let node = Rc::new(Node {
                    tag,
                    expanded_nodes: 1,
                    expanded_bytes: value.len() as u64,
                    height: 0,
                    content: Content::Scalar(value.into_owned()),
                    start,
                });
                if anchor > 0 {
                    self.define_anchor(anchor, anchor_start, at)?;
                    self.anchors.insert(
                        anchor,
                        Anchor {
                            node: Some(node.clone()),
                        },
                    );
                }
                self.add(node, span.start.index(), span.end.index())?;
            }
            Event::SequenceStart(anchor, tag) | Event::MappingStart(anchor, tag) => {
                if self.stack.len() + 1 > MAX_DEPTH {
                    return Err(too_deep(at));
                }
                let full_tag = tag.map(|t| format!("{}{}", t.handle, t.suffix));
                let tag = match full_tag.as_deref() {
                    None | Some("!") if is_map => resolve::MAP.to_string(),
                    None | Some("!") => resolve::SEQ.to_string(),
                    Some(t) => t.to_string(),
                };
                if anchor > 0 {
                    self.define_anchor(anchor, span.start.index(), at)?;
                    self.anchors.insert(anchor, Anchor { node: None });
                }
                // A flow collection's span ends just after its bracket.
                let flow_bracket = (span.end.index() > span.start.index())
                    .then(|| self.source.from(span.end.index() - 1).chars().next())
                    .flatten()
                    .filter(|c| *c == '[' || *c == '{')
                    .map(|_| (span.end.index() - 1, span.end.col().saturating_sub(1)));
                let bracket = flow_bracket.map(|_| {
                    let p = unshift(
                        Pos {
                            line: span.end.line(),
                            column: span.end.col(),
                        },
                        self.shifts,
                    );
                    self.end.map_or(p, |end| p.min(end))
                });
                self.stack.push(Frame {
                    is_map,
                    flow_bracket,
                    bracket,
                    start_index: span.start.index(),
                    pending_key: None,
                    tag,
                    start,
                    anchor,
                    children: Vec::new(),
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else {
                    return Ok(());
                };
                let mut expanded_nodes: u64 = 1;
                let mut expanded_bytes: u64 = 0;
                let mut height = 0;
                for child in &frame.children {
                    expanded_nodes = expanded_nodes.saturating_add(child.expanded_nodes);
                    expanded_bytes = expanded_bytes.saturating_add(child.expanded_bytes);
                    height = height.max(child.height);
                }
                let content = if frame.is_map {
                    let mut pairs = Vec::with_capacity(frame.children.len() / 2);
                    let mut it = frame.children.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    Content::Map(pairs)
                } else {
                    Content::Seq(frame.children)
                };
                let node = Rc::new(Node {
                    tag: frame.tag,
                    content,
                    start: frame.start,
                    expanded_nodes,
                    expanded_bytes,
                    height: height + 1,
                });
                if frame.anchor > 0 {
                    self.anchors.insert(
                        frame.anchor,
                        Anchor {
                            node: Some(node.clone()),
                        },
                    );
                }
                self.add(node, frame.start_index, span.end.index())?;
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
        Ok(())
    }

    /// An empty key without `?` (`: value`): YAML 1.2 allows it, PyYAML's
    /// parser does not ("expected <block end>, but found ':'").
    pub(super) fn refuse_empty_implicit_key(&self, index: usize, at: Pos) -> Result<(), Fault> {
        let Some(frame) = self.stack.last() else {
            return Ok(());
        };
        if !frame.is_map || frame.children.len() % 2 != 0 {
            return Ok(());
        }
        if !self.source.from(index).starts_with(':') {
            return Ok(());
        }
        let before = &self.source.text[..self.source.byte_at(index)];
        if before.trim_end().ends_with('?') {
            return Ok(());
        }
        Err(match frame.bracket {
            Some(bracket) => Fault::at(
                at,
                "expected the node content, but found ':' (a key is missing)",
            )
            .within(
                "while parsing a flow mapping",
                Some(self.shift_back(bracket)),
            ),
            None => Fault::at(at, "expected <block end>, but found ':' (a key is missing)").within(
                "while parsing a block mapping",
                Some(self.shift_back(frame.start)),
            ),
        })
    }

    /// A stream whose first token is `...` (no document before it):
    /// PyYAML starts an implicit document and finds no node in it.
    pub(super) fn refuse_leading_document_end(&self) -> Result<(), Fault> {
        let mut index = 0;
        for line in self.source.text.split_inclusive('\n') {
            let content = line
                .trim_start_matches('\u{feff}')
                .trim_start_matches([' ', '\t']);
            let body = content.trim_end_matches(['\r', '\n']);
            if body.is_empty() || body.starts_with('#') {
                index += line.chars().count();
                continue;
            }
            let ends = body
                .strip_prefix("...")
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']));
            if ends && content.len() == line.len() {
                let at = self.source.pos_of(index);
                return Err(
                    Fault::at(at, "expected the node content, but found '<document end>'")
                        .within("while parsing a block node", Some(at)),
                );
            }
            break;
        }
        Ok(())
    }

    /// `%YAML 2.0` before the first `---`: PyYAML wants major version 1.
    pub(super) fn check_yaml_directive(&self, document_start: usize) -> Result<(), Fault> {
        let head = &self.source.text[..self.source.byte_at(document_start)];
        let mut index = 0;
        for line in head.split_inclusive('\n') {
            if let Some(rest) = line.strip_prefix("%YAML ").or(line.strip_prefix("%YAML\t")) {
                let version = rest.trim();
                let major = version.split('.').next().unwrap_or("");
                if !major.is_empty() && major != "1" {
                    return Err(Fault::at(
                        self.source.pos_of(index),
                        "found incompatible YAML document (version 1.* is required)",
                    ));
                }
            }
            index += line.chars().count();
        }
        Ok(())
    }

    /// Quoted and block scalars may hold tabs; remember where they are. A
    /// quoted scalar's span starts at its anchor or tag, if any: skip those.
    pub(super) fn record_scalar_range(&mut self, span: &Span, style: ScalarStyle) {
        let (mut start, end) = (span.start.index(), span.end.index());
        if matches!(style, ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted) {
            let quote = if style == ScalarStyle::SingleQuoted {
                '\''
            } else {
                '"'
            };
            if let Some(skip) = self
                .source
                .from(start)
                .chars()
                .take(end.saturating_sub(start))
                .position(|c| c == quote)
            {
                start += skip;
            }
            // The parser's span runs on over blanks after the closing quote;
            // a tab there is outside the scalar.
            if let Some(len) = quoted_len(self.source.from(start), quote) {
                self.scalar_ranges.push((start, start + len));
                return;
            }
        }
        self.scalar_ranges.push((start, end));
    }

    /// Registers an anchor name, refusing a bad name or a second definition.
    pub(super) fn define_anchor(
        &mut self,
        _id: usize,
        start: usize,
        start_pos: Pos,
    ) -> Result<(), Fault> {
        let Some(name) = anchor_name(&self.source, start, start_pos)? else {
            return Ok(());
        };
        if let Some(&first) = self.anchor_names.get(&name) {
            return Err(Fault::at(start_pos, "second occurrence").within(
                format!("found duplicate anchor '{name}'; first occurrence"),
                Some(first),
            ));
        }
        self.anchor_names.insert(name, start_pos);
        Ok(())
    }

    /// Adds a complete node (from char `start` to `end`) to the collection
    /// being composed, or makes it the document's root.
    pub(super) fn add(&mut self, node: Rc<Node>, start: usize, end: usize) -> Result<(), Fault> {
        let Some(frame) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        let in_flow_mapping = frame.is_map && frame.bracket.is_some();
        let is_key = frame.children.len() % 2 == 0;
        let pending_key = frame.pending_key.take();
        frame.children.push(node);
        if in_flow_mapping {
            if is_key {
                if let Some(f) = self.stack.last_mut() {
                    f.pending_key = Some((start, end));
                }
            } else if let Some(key) = pending_key {
                self.check_flow_key(key, start)?;
            }
        }
        Ok(())
    }

    /// PyYAML takes a flow mapping's key without `?` to be a key only when
    /// its `:` is on the key's line and within 1024 characters of its
    /// start (a "simple key"); otherwise the `:` is refused. The parser
    /// allows both.
    pub(super) fn check_flow_key(
        &self,
        (key_start, key_end): (usize, usize),
        value_start: usize,
    ) -> Result<(), Fault> {
        let between: String = self
            .source
            .from(key_end)
            .chars()
            .take(value_start.saturating_sub(key_end))
            .collect();
        // The `:` after the key: past blanks, line breaks and comments.
        let mut colon = None;
        let mut in_comment = false;
        for (i, c) in between.chars().enumerate() {
            match c {
                '\n' | '\r' => in_comment = false,
                _ if in_comment => {}
                '#' => in_comment = true,
                ':' => {
                    colon = Some(key_end + i);
                    break;
                }
                ' ' | '\t' => {}
                _ => break,
            }
        }
        let Some(colon) = colon else {
            return Ok(());
        };
        let before_key = &self.source.text[..self.source.byte_at(key_start)];
        if before_key.trim_end().ends_with('?') {
            return Ok(());
        }
        let key_text: String = self
            .source
            .from(key_start)
            .chars()
            .take(colon - key_start)
            .collect();
        if key_text.contains(['\n', '\r']) || colon - key_start > 1024 {
            let bracket = self.stack.last().and_then(|f| f.bracket);
            return Err(Fault::at(
                self.source.pos_of(colon),
                "expected ',' or '}', but got ':' (a key without '?' must be on one line, and at most 1024 characters long)",
            )
            .within(
                "while parsing a flow mapping",
                bracket.map(|b| self.shift_back(b)),
            ));
        }
        Ok(())
    }
}

/// In `text` starting with `[` or `{`, how many characters in its matching
/// close bracket is; `None` if it is not closed. Quoted text and comments
/// are skipped, as [`Composer::open_bracket`] skips them.
pub(super) fn matching_close(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut previous = ' ';
    let mut chars = text.char_indices();
    let mut count = 0; // characters before the current one
    while let Some((byte, c)) = chars.next() {
        let index = count;
        count += 1;
        match c {
            '[' | '{' => depth += 1,
            ']' | '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(index);
                }
            }
            '#' if previous == ' ' || previous == '\t' || previous == '\n' => {
                for (_, c) in chars.by_ref() {
                    count += 1;
                    if c == '\n' {
                        break;
                    }
                }
                previous = '\n';
                continue;
            }
            '"' | '\'' if " \t\n[{,:".contains(previous) => {
                for _ in 1..quoted_len(&text[byte..], c)? {
                    chars.next();
                    count += 1;
                }
            }
            _ => {}
        }
        previous = c;
    }
    None
}

/// How many lines after the first line of `text` the first line starting
/// with a document marker (`---` or `...` and a blank or the end) is.
pub(super) fn document_marker_after(text: &str) -> Option<usize> {
    text.split('\n').enumerate().skip(1).find_map(|(i, line)| {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let rest = line.strip_prefix("---").or(line.strip_prefix("..."))?;
        (rest.is_empty() || rest.starts_with([' ', '\t'])).then_some(i)
    })
}

/// The byte offset where the line holding byte `at` starts.
pub(super) fn rest_line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// The length in characters of the quoted scalar at the start of `text`
/// (opening and closing quote included), if it is closed.
pub(super) fn quoted_len(text: &str, quote: char) -> Option<usize> {
    let mut chars = text.chars().enumerate().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        if quote == '"' && c == '\\' {
            chars.next();
        } else if c == quote {
            if quote == '\'' && chars.peek().map(|x| x.1) == Some('\'') {
                chars.next();
                continue;
            }
            return Some(i + 1);
        }
    }
    None
}

pub(super) fn too_deep(at: Pos) -> Fault {
    Fault::at(
        at,
        format!("the document nests collections more than {MAX_DEPTH} levels deep"),
    )
}

/// In a double-quoted scalar starting at `text`, the first bad escape: how
/// many characters in it is, and PyYAML's message.
pub(super) fn bad_escape(text: &str) -> Option<(usize, String)> {
    // An escape error is within the scalar's first line or few; a bounded
    // look keeps a huge unterminated scalar cheap.
    let chars: Vec<char> = text.chars().take(1 << 20).collect();
    let mut i = 1; // past the opening quote
    while i < chars.len() {
        match chars[i] {
            '"' => return None,
            '\\' => {
                let &e = chars.get(i + 1)?;
                let hex_len = match e {
                    'x' => 2,
                    'u' => 4,
                    'U' => 8,
                    _ => 0,
                };
                if hex_len > 0 {
                    for k in 0..hex_len {
                        let c = chars.get(i + 2 + k).copied().unwrap_or('\0');
                        if !c.is_ascii_hexdigit() {
                            // PyYAML marks where the digits should start.
                            return Some((
                                i + 2,
                                format!(
                                    "expected escape sequence of {hex_len} hexadecimal numbers, but found '{c}'"
                                ),
                            ));
                        }
                    }
                    i += 2 + hex_len;
                    continue;
                }
                if !"0abt\tnvfre \"/\\N_LP\n\r".contains(e) {
                    return Some((i + 1, format!("found unknown escape character '{e}'")));
                }
                i += 2;
            }
            _ => i += 1,
        }
    }
    None
}
