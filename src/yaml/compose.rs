//! From text to a node graph, as PyYAML's Reader, Scanner, Parser and
//! Composer would build it.
//!
//! The event parser (saphyr-parser) reads YAML 1.2 syntax, which is YAML 1.1's
//! syntax with a few rules relaxed or tightened. Where PyYAML is stricter and
//! a cloud-config could meet the difference, we add PyYAML's rule here:
//!
//! * only printable characters (`unacceptable character #x0007`);
//! * a tab may appear only inside a quoted or block scalar or a comment
//!   (PyYAML: "found character '\t' that cannot start any token");
//! * anchor names of letters, digits, `-` and `_`; an anchor defined twice;
//! * after a `...`, a new document needs `---`; one document per stream;
//! * a flow mapping key without `?` has its `:` on its line, within 1024
//!   characters.
//!
//! Where PyYAML reads differently, we correct the parser: a block scalar on
//! an unterminated last line gets no line break (see [`compose`]). And each
//! refusal gets PyYAML's problem mark and context (what was being read and
//! where it began: the open quote or bracket, the block mapping), so that a
//! person is sent to the line where the problem starts.
//!
//! Nodes are shared through `Rc` when an alias names them, as PyYAML shares
//! the Python object; the constructor copies them into the value tree. Two
//! limits keep hostile input from exhausting the machine: nesting depth and
//! the number of nodes (and bytes) that aliases may repeat.

use std::collections::HashMap;
use std::rc::Rc;

use saphyr_parser::{Event, Parser};

use super::composer::Composer;
use super::source::{check_printable, Source};

/// Deepest nesting of collections we build (PyYAML itself stops with a
/// RecursionError near 450 levels; real cloud-config nests a handful). The
/// value tree is walked recursively everywhere (construct, merge, schema,
/// JSON), so this keeps every walk within a 2 MiB thread stack even in a
/// debug build.
pub const MAX_DEPTH: usize = 200;
/// How many nodes aliases may repeat in one document: a billion-laughs
/// document stops here instead of growing until memory runs out.
pub const MAX_ALIAS_NODES: u64 = 100_000;
/// How many nodes (scalars, sequences, mappings) one document may hold. A
/// node costs a few hundred bytes once loaded, merged and dumped again, so
/// a 16 MiB user-data of a million short keys would take gigabytes and
/// many seconds; real cloud-config has a few hundred nodes, a very large
/// one tens of thousands. PyYAML has no such limit: a deliberate difference.
pub const MAX_NODES: u64 = 100_000;
/// How many bytes of scalar text aliases may repeat in one document.
pub const MAX_ALIAS_BYTES: u64 = 64 << 20;

/// A 1-based line and column (PyYAML's 0-based mark plus one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// A problem found while reading, and where: PyYAML's problem and mark,
/// and its context (what was being read, and where that began).
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub at: Option<Pos>,
    pub message: String,
    pub context: Option<Context>,
}

/// PyYAML's `context` and `context_mark`: `while scanning a quoted scalar`
/// and where the quote is, say. The mark is `None` where PyYAML has none.
#[derive(Clone, Debug, PartialEq)]
pub struct Context {
    pub what: String,
    pub at: Option<Pos>,
}

impl Fault {
    pub fn at(pos: Pos, message: impl Into<String>) -> Fault {
        Fault {
            at: Some(pos),
            message: message.into(),
            context: None,
        }
    }

    /// The same fault, found while reading something that began at `at`.
    pub fn within(self, what: impl Into<String>, at: Option<Pos>) -> Fault {
        Fault {
            context: Some(Context {
                what: what.into(),
                at,
            }),
            ..self
        }
    }

    /// The fault with its positions moved by `f`.
    pub(super) fn map_positions(self, f: impl Fn(Pos) -> Pos) -> Fault {
        Fault {
            at: self.at.map(&f),
            context: self.context.map(|c| Context {
                what: c.what,
                at: c.at.map(&f),
            }),
            message: self.message,
        }
    }
}

#[derive(Debug)]
pub enum Content {
    Scalar(String),
    Seq(Vec<Rc<Node>>),
    Map(Vec<(Rc<Node>, Rc<Node>)>),
}

impl Content {
    /// PyYAML's node id, as its messages name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Content::Scalar(_) => "scalar",
            Content::Seq(_) => "sequence",
            Content::Map(_) => "mapping",
        }
    }
}

/// A composed node: its resolved tag, content and start mark.
#[derive(Debug)]
pub struct Node {
    pub tag: String,
    pub content: Content,
    pub start: Pos,
    /// Nodes in this subtree once aliases are copied out.
    pub(super) expanded_nodes: u64,
    /// Scalar bytes in this subtree once aliases are copied out.
    pub(super) expanded_bytes: u64,
    /// Collection levels in this subtree once aliases are copied out.
    pub(super) height: usize,
}

/// Composes the single document of `text`; `None` for an empty stream.
///
/// A text whose last line has no line break: PyYAML reads that line as it
/// is, while the parser reads it as though it ended with one, and gives a
/// block scalar that ends there a final line break PyYAML's does not have
/// (`a: |\n  x` is `"x"` to PyYAML). So we parse the text with the break
/// added, where the parser agrees with PyYAML, then take back what the
/// added break put into that block scalar, and keep every position within
/// the original text.
pub fn compose(text: &str) -> Result<Option<Rc<Node>>, Fault> {
    check_printable(&Source::new(text))?;
    let Some(last) = text.rsplit(['\n', '\r']).next().filter(|l| !l.is_empty()) else {
        return compose_reindenting(text, &LastLine::Terminated, None).map(|(root, _)| root);
    };
    let end = Source::new(text).end_pos();
    let padded = format!("{text}\n");
    let rule = if last.chars().any(|c| c != ' ') {
        // Content: the added break is the last thing in the scalar's value.
        LastLine::Content
    } else {
        // Spaces only: content if there are more of them than the scalar's
        // indentation, else a blank line that adds nothing. Without the
        // line the value is the blank-line answer; compare.
        let trimmed = &text[..text.len() - last.len()];
        let without = compose_reindenting(trimmed, &LastLine::Terminated, Some(end))
            .ok()
            .and_then(|(_, value)| value);
        LastLine::Blanks { without }
    };
    compose_reindenting(&padded, &rule, Some(end)).map(|(root, _)| root)
}

/// What the text's last line is, when it has no line break.
pub(super) enum LastLine {
    /// It has one (or the text is empty).
    Terminated,
    /// It holds more than spaces.
    Content,
    /// It holds only spaces; `without` is the value a block scalar ending
    /// the text has when the line is left out.
    Blanks { without: Option<String> },
}

impl LastLine {
    /// The value PyYAML gives a block scalar that ran to the end of the
    /// text with a line break added, where the parser gave `value`.
    pub(super) fn correct(&self, value: String) -> String {
        let drop_added_break = |mut v: String| {
            if v.ends_with('\n') {
                v.pop();
            }
            v
        };
        match self {
            LastLine::Terminated => value,
            LastLine::Content => drop_added_break(value),
            LastLine::Blanks {
                without: Some(without),
            } if value == *without || value.strip_suffix('\n') == Some(without) => {
                // A blank line: no content, and with no break after it, no
                // break to keep either.
                without.clone()
            }
            LastLine::Blanks { .. } => drop_added_break(value),
        }
    }
}

/// [`compose_once`], again with some lines re-indented where the parser's
/// YAML 1.2 indentation rules refuse what PyYAML accepts.
pub(super) fn compose_reindenting(
    text: &str,
    last_line: &LastLine,
    end: Option<Pos>,
) -> Result<(Option<Rc<Node>>, Option<String>), Fault> {
    // YAML 1.2 wants the lines inside a flow collection or a quoted scalar
    // indented more than the block around them; PyYAML (1.1) does not care,
    // and neither does the value, since such lines' leading blanks are
    // folded away. When the parser stops on that rule we indent the line and
    // parse again, then give positions back in the original's columns.
    let clamp = |f: Fault| f.map_positions(|p| end.map_or(p, |e| p.min(e)));
    let mut shifts: Vec<(usize, usize)> = Vec::new();
    let mut current = std::borrow::Cow::Borrowed(text);
    // Each pass parses the whole text again: bound the passes and the text
    // they parse in all, so that no input makes this slow.
    let budget = REINDENT_WORK_FACTOR * text.len() + REINDENT_WORK_ALLOWANCE;
    let mut work = 0;
    let mut passes = 0;
    loop {
        work += current.len();
        match compose_once(&current, &shifts, last_line, end) {
            Ok(done) => return Ok(done),
            Err(Attempt::Fault(f)) => return Err(clamp(unshift_fault(f, &shifts))),
            Err(Attempt::Reindent(more)) => {
                // A line already re-indented that the parser still refuses
                // is not helped by more blanks.
                let again = more
                    .iter()
                    .any(|(line, _)| shifts.iter().any(|s| s.0 == *line));
                passes += 1;
                if again || passes > MAX_REINDENT_PASSES || work + current.len() > budget {
                    // Give up on the workaround; report the parser's refusal.
                    return match compose_once(&current, &[(usize::MAX, 0)], last_line, end) {
                        Err(Attempt::Fault(f)) => Err(clamp(unshift_fault(f, &shifts))),
                        _ => Err(Fault {
                            at: None,
                            message: "too many under-indented lines in flow collections".into(),
                            context: None,
                        }),
                    };
                }
                current = std::borrow::Cow::Owned(indent_lines(&current, &more));
                shifts.extend(more);
            }
        }
    }
}

/// How many times [`compose_reindenting`] re-indents (each time the lines
/// of one flow collection or quoted scalar) before it gives up.
pub(super) const MAX_REINDENT_PASSES: usize = 200;
/// How much text the re-indenting passes may parse in all: this many times
/// the text's length, plus [`REINDENT_WORK_ALLOWANCE`] bytes (enough for a
/// hundred passes over a few-kilobyte cloud-config).
pub(super) const REINDENT_WORK_FACTOR: usize = 16;
pub(super) const REINDENT_WORK_ALLOWANCE: usize = 256 << 10;

pub(super) enum Attempt {
    Fault(Fault),
    /// Lines (1-based) to indent by so many spaces, then try again.
    Reindent(Vec<(usize, usize)>),
}

/// Inserts blanks at the start of lines: `(line, spaces)`, lines 1-based.
pub(super) fn indent_lines(text: &str, lines: &[(usize, usize)]) -> String {
    let mut by_line: HashMap<usize, usize> = HashMap::new();
    for &(line, spaces) in lines {
        *by_line.entry(line).or_default() += spaces;
    }
    let added: usize = by_line.values().sum();
    let mut out = String::with_capacity(text.len() + added);
    let indent = |out: &mut String, line: usize| {
        if let Some(&spaces) = by_line.get(&line) {
            out.extend(std::iter::repeat_n(' ', spaces));
        }
    };
    let mut current = 1;
    indent(&mut out, current);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '\n' || (c == '\r' && chars.peek() != Some(&'\n')) {
            current += 1;
            indent(&mut out, current);
        }
    }
    out
}

/// How many columns re-indenting added at the start of `line`.
pub(super) fn added_on(line: usize, shifts: &[(usize, usize)]) -> usize {
    shifts
        .iter()
        .filter(|(l, _)| *l == line)
        .map(|(_, n)| n)
        .sum()
}

/// A position in re-indented text, in the original's columns.
pub(super) fn unshift(p: Pos, shifts: &[(usize, usize)]) -> Pos {
    let added = added_on(p.line, shifts);
    Pos {
        line: p.line,
        column: if p.column > added {
            p.column - added
        } else {
            1
        },
    }
}

pub(super) fn unshift_fault(f: Fault, shifts: &[(usize, usize)]) -> Fault {
    f.map_positions(|p| unshift(p, shifts))
}

/// One pass of the parser over `text`. `shifts` are the re-indented lines
/// (a line number of `usize::MAX` turns the re-indenting off).
pub(super) fn compose_once(
    text: &str,
    shifts: &[(usize, usize)],
    last_line: &LastLine,
    end: Option<Pos>,
) -> Result<(Option<Rc<Node>>, Option<String>), Attempt> {
    #[cfg(test)]
    tests::PASSES.with(|p| p.set(p.get() + 1));
    let source = Source::new(text);
    let mut c = Composer {
        shifts,
        last_line,
        end,
        final_block_scalar: None,
        source,
        scalar_ranges: Vec::new(),
        all_scalar_ranges: Vec::new(),
        stack: Vec::new(),
        anchors: HashMap::new(),
        anchor_names: HashMap::new(),
        root: None,
        documents: 0,
        alias_nodes: 0,
        nodes: 0,
        alias_bytes: 0,
    };
    let mut parser = Parser::new_from_str(text);
    loop {
        let (event, span) = match parser.next_event() {
            None => break,
            Some(Ok(e)) => e,
            Some(Err(e)) => {
                if let Some(lines) = c.reindent(&e) {
                    return Err(Attempt::Reindent(lines));
                }
                return Err(Attempt::Fault(c.scan_fault(&e)));
            }
        };
        if matches!(event, Event::StreamEnd) {
            if c.documents == 0 {
                c.refuse_leading_document_end().map_err(Attempt::Fault)?;
            }
            break;
        }
        if let Err(fault) = c.event(event, span) {
            // A stray tab earlier in the text is what PyYAML would meet first.
            let index = fault.at.map_or(usize::MAX, |p| c.char_index_of(p));
            return Err(Attempt::Fault(c.tab_before(index).unwrap_or(fault)));
        }
    }
    if let Some(tab) = c.tab_before(usize::MAX) {
        return Err(Attempt::Fault(tab));
    }
    Ok((c.root, c.final_block_scalar))
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        /// How many times the parser has gone over a text, in this thread.
        pub static PASSES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// `compose(text)`, and how many parser passes it took.
    fn passes(text: &str) -> (Result<Option<Rc<Node>>, Fault>, usize) {
        PASSES.with(|p| p.set(0));
        let result = compose(text);
        (result, PASSES.with(|p| p.get()))
    }

    #[test]
    fn under_indented_flow_lines_take_one_pass_per_collection() {
        let list = format!(
            "packages: [{}]\n",
            (0..300)
                .map(|i| format!("p{i}"))
                .collect::<Vec<_>>()
                .join(",\n")
        );
        let (result, n) = passes(&list);
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(n, 2);
    }

    #[test]
    fn re_indenting_stops_when_it_does_not_help() {
        // Found by the fuzzer: a quoted scalar whose continuation lines the
        // parser refuses however far they are indented.
        for input in [
            &include_bytes!("../../tests/fixtures/yaml-fuzz/slow-reindent-quoted.yaml")[..],
            include_bytes!("../../tests/fixtures/yaml-fuzz/slow-reindent-flow.yaml"),
        ] {
            let (result, n) = passes(std::str::from_utf8(input).unwrap());
            assert!(result.is_err());
            assert!(n <= 4, "{n} passes");
        }
    }

    #[test]
    fn re_indenting_parses_a_bounded_amount_of_text() {
        // 250 flow lists, each needing its own pass, in 2 MiB: the passes
        // stop at 16 times the text (plus 256 KiB), and the parser's
        // refusal stands.
        let mut doc: String = (0..250).map(|i| format!("k{i}: [a,\nb]\n")).collect();
        doc.push_str(&format!("pad: {}\n", "x".repeat(2 << 20)));
        let (result, n) = passes(&doc);
        assert!(result.is_err());
        assert!(n <= 18, "{n} passes");
        // A small one with as many lists is read whole.
        let small: String = (0..100).map(|i| format!("k{i}: [a,\nb]\n")).collect();
        let (result, n) = passes(&small);
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(n, 101);
        // Found by the fuzzer: 11 and 16 KiB with hundreds of flow
        // collections.
        for input in [
            &include_bytes!("../../tests/fixtures/yaml-fuzz/many-reindent-passes.yaml")[..],
            include_bytes!("../../tests/fixtures/yaml-fuzz/many-reindent-passes-2.yaml"),
        ] {
            let (result, n) = passes(std::str::from_utf8(input).unwrap());
            assert!(result.is_err());
            assert!(n <= 17 + (256 << 10) / input.len(), "{n} passes");
        }
    }
}
