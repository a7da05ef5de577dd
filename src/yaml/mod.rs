//! YAML in and out, as cloud-init reads and writes it.
//!
//! Reading: every YAML document cloudboot reads (cloud.cfg, cloud-config,
//! meta-data, stages.yaml) goes through [`load`], which gives what PyYAML's
//! `yaml.safe_load` gives (cloud-init uses its `SafeLoader`): YAML 1.1
//! types (`yes` is true, `0644` is 420, `1e3` is a string, `2001-12-14` a
//! date), `!!binary`, merge keys, sets, ordered maps, and the same refusals,
//! with the same line and column where the parser agrees (see
//! `tests/fixtures/yaml/README.md` for the places it does not).
//!
//! The layers are PyYAML's: an event parser (the `saphyr-parser` crate),
//! [`compose`] (events to a node graph, with PyYAML's stricter rules the
//! parser does not have: tabs, anchor names, printable characters),
//! [`resolve`] (plain scalar to tag, YAML 1.1 patterns) and [`construct`]
//! (nodes to [`Value`]).
//!
//! Why saphyr-parser: we measured it and yaml-rust2 (its older sibling, the
//! same scanner lineage) against PyYAML on the yaml-test-suite and on 164
//! cloud-config-shaped snippets; both accept and refuse the same documents
//! but for one (yaml-rust2 keeps a byte-order mark as part of the first
//! key), and saphyr-parser gives each event a start *and end* position,
//! which we need to tell a tab inside a quoted or block scalar (allowed)
//! from one between tokens (refused by PyYAML). It is maintained, has no
//! `unsafe` dependency tree to speak of, and builds with our MSRV.
//!
//! Integers beyond 64 bits: PyYAML has Python's unbounded ints, so we keep
//! such a number exactly ([`BigInt`], `Value::BigInt`) and the rest of the
//! document applies; past Python's own limit of 4300 digits it is refused
//! (see [`bigint`]).
//!
//! Writing: [`dump_cloud_config`] writes what cloud-init's `safeyaml.dumps`
//! writes (`cloud-config.txt`); [`dump_bare_mapping`] the same without the
//! `---` and `...` markers (the netplan renderer's file).

pub mod cache;
mod compose;
mod composer;
mod construct;
mod emit;
mod resolve;
mod source;

pub use compose::MAX_NODES;
pub use construct::Marks;
pub use emit::{dump_bare_mapping, dump_pyyaml};

use crate::value::Value;

/// A document that could not be read, with what a person needs to find the
/// fault: PyYAML's problem and its mark, and, where PyYAML gives one, its
/// context and context mark (an unclosed quote: "while scanning a quoted
/// scalar" at the quote, then "found unexpected end of stream" at the end).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct YamlError {
    pub source_name: String,
    /// Where the problem was found; 1-based, as PyYAML's mark plus one.
    pub line: Option<usize>,
    /// 1-based, in characters.
    pub column: Option<usize>,
    /// The problem (PyYAML's `problem`).
    pub message: String,
    /// What was being read when the problem was found, if PyYAML says.
    pub context: Option<Box<ErrorContext>>,
}

/// PyYAML's `context` ("while parsing a flow sequence") and `context_mark`
/// (where that sequence began), when it gives them.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorContext {
    pub what: String,
    /// 1-based; `None` where PyYAML has no context mark.
    pub line: Option<usize>,
    pub column: Option<usize>,
}

impl YamlError {
    /// The 1-based line and column where the problem starts: the context
    /// mark when there is one (the opening quote of an unclosed string, the
    /// bracket of an unclosed list), else the problem's own. cloud-init's
    /// `util.load_yaml` reports the same mark.
    pub fn start(&self) -> Option<(usize, usize)> {
        self.context
            .as_ref()
            .and_then(|c| c.line.zip(c.column))
            .or(self.line.zip(self.column))
    }
}

impl std::fmt::Display for YamlError {
    /// `FILE, line L, column C: CONTEXT (line L2, column C2): PROBLEM`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}{}: ",
            self.source_name,
            location(self.line, self.column)
        )?;
        if let Some(context) = &self.context {
            match (context.line, context.column) {
                (Some(l), Some(c)) => write!(f, "{} (line {l}, column {c}): ", context.what)?,
                _ => write!(f, "{}: ", context.what)?,
            }
        }
        f.write_str(&self.message)
    }
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(", line {l}, column {c}"),
        (Some(l), None) => format!(", line {l}"),
        _ => String::new(),
    }
}

/// Loads one YAML document as `yaml.safe_load` would. An empty document is
/// `Null`. In a stage, a document parsed by an earlier one is taken from
/// the [`cache`].
pub fn load(text: &[u8], source_name: &str) -> Result<Value, YamlError> {
    if let Some(value) = cache::parsed(text) {
        return Ok(value);
    }
    let (value, _) = load_with(text, source_name, false)?;
    cache::keep_parsed(text, &value);
    Ok(value)
}

/// What cloud-init's `safeyaml.dumps` writes for `value` (cloud-config.txt):
/// see `emit.rs`. In a stage, a value written by an earlier one is taken
/// from the [`cache`].
pub fn dump_cloud_config(value: &Value) -> String {
    cache::dumped(value, || emit::dump_cloud_config(value))
}

/// [`load`], plus where every mapping key and sequence item starts.
pub fn load_marked(text: &[u8], source_name: &str) -> Result<(Value, Marks), YamlError> {
    load_with(text, source_name, true)
}

fn load_with(
    text: &[u8],
    source_name: &str,
    record_marks: bool,
) -> Result<(Value, Marks), YamlError> {
    let fault = |f: compose::Fault| YamlError {
        source_name: source_name.to_string(),
        line: f.at.map(|p| p.line),
        column: f.at.map(|p| p.column),
        message: f.message,
        context: f.context.map(|c| {
            Box::new(ErrorContext {
                what: c.what,
                line: c.at.map(|p| p.line),
                column: c.at.map(|p| p.column),
            })
        }),
    };
    let text = std::str::from_utf8(text).map_err(|e| {
        // cloud-init decodes user-data as UTF-8 before PyYAML sees it.
        let good = &text[..e.valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&good[line_start..]).chars().count() + 1;
        YamlError {
            source_name: source_name.to_string(),
            line: Some(line),
            column: Some(column),
            message: format!("not UTF-8 text: {e}"),
            context: None,
        }
    })?;
    match compose::compose(text).map_err(fault)? {
        None => Ok((Value::Null, Marks::default())),
        Some(root) => construct::Constructor::new(record_marks)
            .document(&root)
            .map_err(fault),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_names_file_and_line() {
        let err = load(b"a: 1\nb: [unclosed\n", "/etc/cloud/cloud.cfg").unwrap_err();
        assert_eq!(err.source_name, "/etc/cloud/cloud.cfg");
        assert!(err.line.is_some(), "{err}");
        assert!(
            err.to_string().starts_with("/etc/cloud/cloud.cfg, line"),
            "{err}"
        );
    }

    #[test]
    fn errors_carry_pyyamls_context_and_where_the_problem_starts() {
        // An unclosed quote: PyYAML's problem is the end of the stream, its
        // context the quote; cloud-init logs the context's line.
        let err = load(b"a: 1\nb: \"x\ny: 2\n", "user-data").unwrap_err();
        assert_eq!((err.line, err.column), (Some(4), Some(1)));
        let context = err.context.as_deref().unwrap();
        assert_eq!(context.what, "while scanning a quoted scalar");
        assert_eq!((context.line, context.column), (Some(2), Some(4)));
        assert_eq!(err.start(), Some((2, 4)));
        assert_eq!(
            err.to_string(),
            "user-data, line 4, column 1: while scanning a quoted scalar (line 2, column 4): found unexpected end of stream"
        );
        // A tab: a context without a mark, so the problem is where it starts.
        let err = load(b"a:\n\tb: 1\n", "t").unwrap_err();
        let context = err.context.as_deref().unwrap();
        assert_eq!(context.what, "while scanning for the next token");
        assert_eq!((context.line, err.start()), (None, Some((2, 1))));
        assert_eq!(
            err.to_string(),
            "t, line 2, column 1: while scanning for the next token: found character '\\t' that cannot start any token"
        );
        // No context at all.
        let err = load(b"a: b: c\n", "t").unwrap_err();
        assert_eq!((err.start(), err.context), (Some((1, 5)), None));
    }

    #[test]
    fn marks_name_every_key_and_item_by_path() {
        let text = b"write_files:\n- path: /a\n  permissions: 0644\n-   path: /b\n    content: x\n1: one\nlist: [a, {b: c}]\n";
        let (v, marks) = load_marked(text, "t").unwrap();
        assert_eq!(v.get("write_files").unwrap().as_seq().unwrap().len(), 2);
        assert_eq!(marks.get("write_files"), Some((1, 1)));
        assert_eq!(marks.get("write_files[0]"), Some((2, 3)));
        assert_eq!(marks.get("write_files[0].permissions"), Some((3, 3)));
        assert_eq!(marks.get("write_files[1].content"), Some((5, 5)));
        assert_eq!(marks.get("1"), Some((6, 1)));
        assert_eq!(marks.get("list[1].b"), Some((7, 12)));
        assert_eq!(marks.len(), 12);
    }

    #[test]
    fn marks_of_a_re_indented_flow_line_are_in_original_columns() {
        let (_, marks) = load_marked(b"a: [b,\nc]\n", "t").unwrap();
        assert_eq!(marks.get("a[1]"), Some((2, 1)));
    }

    #[test]
    fn deep_nesting_is_refused_clearly() {
        let depth = 10_000;
        let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let err = load(text.as_bytes(), "deep").unwrap_err();
        // The parser's own limit on flow nesting comes first.
        assert!(err.message.contains("nested too deeply"), "{err}");
        let block = format!("{}x\n", "- ".repeat(depth));
        let err = load(block.as_bytes(), "deep").unwrap_err();
        assert!(err.message.contains("more than 200 levels"), "{err}");
        // Just inside the limit is fine, and the value can be walked.
        let ok = format!("{}x\n", "- ".repeat(199));
        let v = load(ok.as_bytes(), "ok").unwrap();
        assert!(v.to_json().is_array());
    }

    #[test]
    fn an_alias_bomb_is_refused_clearly() {
        let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let err = load(text.as_bytes(), "bomb").unwrap_err();
        assert!(err.message.contains("alias bomb"), "{err}");
        // Moderate reuse is fine.
        assert!(load(b"a: &a [1, 2]\nb: [*a, *a, *a]\n", "ok").is_ok());
    }

    #[test]
    fn an_alias_nested_past_the_depth_limit_is_refused() {
        // Each line nests 250 levels and one alias of the line before.
        let mut text = String::from("a0: &a0 x\n");
        for i in 1..6 {
            text.push_str(&format!(
                "a{i}: &a{i} {}*a{}{}\n",
                "[".repeat(250),
                i - 1,
                "]".repeat(250)
            ));
        }
        let err = load(text.as_bytes(), "deep").unwrap_err();
        assert!(err.message.contains("levels"), "{err}");
    }

    #[test]
    fn huge_scalars_and_odd_bytes_do_not_panic() {
        let big = format!(
            "a: {}\nb: \"{}\"\nc: |\n  {}\n",
            "x".repeat(5 << 20),
            "y".repeat(1 << 20),
            "z".repeat(1 << 20)
        );
        let v = load(big.as_bytes(), "big").unwrap();
        assert_eq!(
            v.get("a").and_then(Value::as_str).map(str::len),
            Some(5 << 20)
        );
        for hostile in [
            &b"\xff\xfe"[..],
            b"a: \"\\",
            b"a: '",
            b"[",
            b"{",
            b"&",
            b"*",
            b"!",
            b"? ",
            b": ",
            b"- - - - -",
            b"a: !!binary \xc3\xa9",
            b"a: !<> b",
            b"%YAML",
            b"%TAG",
            b"\t",
            b"a:\n\t",
            b"--- |\n\t",
            b"a: [b,\nc,\n]\n\t",
            b"a: \"\n\n\n",
            b"[\n\"\n",
        ] {
            let _ = load(hostile, "hostile");
        }
    }

    #[test]
    fn non_utf8_is_refused_with_its_place() {
        let err = load(b"a: 1\nb: \xff\n", "t").unwrap_err();
        assert_eq!((err.line, err.column), (Some(2), Some(4)));
    }

    #[test]
    fn cloud_config_dump_is_pyyaml_shaped() {
        let v = load(
            b"runcmd: [b]\npackages: [p1]\nwrite_files: [{path: /x}]\n",
            "t",
        )
        .unwrap();
        assert_eq!(
            dump_cloud_config(&v),
            "---\npackages:\n- p1\nruncmd:\n- b\nwrite_files:\n-   path: /x\n...\n"
        );
    }
}
