//! From nodes to [`Value`]s, as PyYAML's `SafeConstructor` builds objects.
//!
//! What PyYAML does and we copy: merge keys (`<<`) with its precedence, the
//! `=` value key, duplicate keys (last value wins, the first key keeps its
//! place and its object, as a Python dict does, so `1` and `true` are one
//! key), unhashable keys refused, `!!set`/`!!omap`/`!!pairs`, unknown tags
//! refused.
//!
//! PyYAML fills collections breadth first (a generator per collection), so
//! when a document has several faults it reports the shallowest one first.
//! We construct depth first but keep going after a fault, and report the
//! fault PyYAML would have met first: lowest "round", then earliest place.

use std::collections::HashMap;

use super::compose::{Content, Fault, Node, Pos};
use super::resolve::{self, *};
use crate::base64;
use crate::bigint::Integer;
use crate::value::timestamp::Timestamp;
use crate::value::{Mapping, Value};

/// Where each mapping key and sequence item starts, by key path.
///
/// Paths read `write_files[2].permissions`: mapping keys joined by `.`,
/// sequence indexes in brackets, a non-string key by Python's `str()` of it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Marks {
    by_path: HashMap<String, (usize, usize)>,
}

impl Marks {
    /// The 1-based (line, column) where the key or item at `path` starts.
    pub fn get(&self, path: &str) -> Option<(usize, usize)> {
        self.by_path.get(path).copied()
    }

    pub fn len(&self) -> usize {
        self.by_path.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_path.is_empty()
    }

    /// Every path and its (line, column), in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, (usize, usize))> {
        self.by_path.iter().map(|(k, v)| (k.as_str(), *v))
    }

    fn record(&mut self, path: String, at: Pos) {
        self.by_path.insert(path, (at.line, at.column));
    }
}

pub struct Constructor {
    pub marks: Marks,
    /// Whether to fill `marks` (only `load_marked` needs them).
    record_marks: bool,
    /// The fault PyYAML would report: (round, place, fault).
    first_fault: Option<(usize, Pos, Fault)>,
}

impl Constructor {
    pub fn new(record_marks: bool) -> Self {
        Constructor {
            marks: Marks::default(),
            record_marks,
            first_fault: None,
        }
    }

    /// Builds the document's value, or the fault PyYAML would raise first.
    pub fn document(mut self, root: &Node) -> Result<(Value, Marks), Fault> {
        let mut path = String::new();
        let value = self.node(root, 0, &mut path);
        match self.first_fault {
            Some((_, _, fault)) => Err(fault),
            None => Ok((value, self.marks)),
        }
    }

    fn mark(&mut self, path: &str, at: Pos) {
        if self.record_marks {
            self.marks.record(path.to_string(), at);
        }
    }

    fn fail(&mut self, round: usize, at: Pos, message: String) -> Value {
        self.record(round, at, Fault::at(at, message))
    }

    /// [`Constructor::fail`] for a fault inside the collection that starts
    /// at `within` (PyYAML's context: "while constructing a mapping").
    fn fail_within(
        &mut self,
        round: usize,
        at: Pos,
        message: String,
        context: &str,
        within: Pos,
    ) -> Value {
        self.record(
            round,
            at,
            Fault::at(at, message).within(context, Some(within)),
        )
    }

    fn record(&mut self, round: usize, at: Pos, fault: Fault) -> Value {
        let earlier = match &self.first_fault {
            None => true,
            Some((r, p, _)) => (round, at) < (*r, *p),
        };
        if earlier {
            self.first_fault = Some((round, at, fault));
        }
        Value::Null
    }

    /// Constructs `node`. `round` is when PyYAML would construct it: its
    /// scalars at once, a collection's content one round later.
    fn node(&mut self, node: &Node, round: usize, path: &mut String) -> Value {
        let tag = node.tag.as_str();
        match tag {
            NULL | BOOL | INT | FLOAT | BINARY | TIMESTAMP | STR | PYTHON_UNICODE => {
                let Content::Scalar(text) = &node.content else {
                    return self.fail(
                        round,
                        node.start,
                        format!("expected a scalar node, but found {}", node.content.kind()),
                    );
                };
                match scalar(tag, text) {
                    Ok(v) => v,
                    Err(message) => self.fail(round, node.start, message),
                }
            }
            SEQ => match &node.content {
                Content::Seq(items) => Value::Seq(self.items(items, round + 1, path)),
                other => self.fail(
                    round + 1,
                    node.start,
                    format!("expected a sequence node, but found {}", other.kind()),
                ),
            },
            MAP => self.mapping(node, round + 1, path),
            SET => match self.mapping(node, round + 1, path) {
                Value::Map(m) => Value::Map(Mapping::from_distinct_entries(
                    m.iter().map(|(k, _)| (k.clone(), Value::Null)).collect(),
                )),
                other => other,
            },
            OMAP | PAIRS => self.pairs(node, round + 1, path),
            _ => self.fail(
                round,
                node.start,
                format!("could not determine a constructor for the tag '{tag}'"),
            ),
        }
    }

    fn items(
        &mut self,
        items: &[std::rc::Rc<Node>],
        round: usize,
        path: &mut String,
    ) -> Vec<Value> {
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            self.mark(path, item.start);
            out.push(self.node(item, round, path));
            path.truncate(len);
        }
        out
    }

    /// `!!omap` and `!!pairs`: a sequence of one-pair mappings, which PyYAML
    /// turns into a list of (key, value) tuples; we make 2-item lists.
    fn pairs(&mut self, node: &Node, round: usize, path: &mut String) -> Value {
        let context = if node.tag == OMAP {
            "while constructing an ordered map"
        } else {
            "while constructing pairs"
        };
        let Content::Seq(items) = &node.content else {
            return self.fail_within(
                round,
                node.start,
                format!("expected a sequence, but found {}", node.content.kind()),
                context,
                node.start,
            );
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let pair = match &item.content {
                Content::Map(pairs) if pairs.len() == 1 => &pairs[0],
                Content::Map(pairs) => {
                    self.fail_within(
                        round,
                        item.start,
                        format!(
                            "expected a single mapping item, but found {} items",
                            pairs.len()
                        ),
                        context,
                        node.start,
                    );
                    continue;
                }
                other => {
                    self.fail_within(
                        round,
                        item.start,
                        format!("expected a mapping of length 1, but found {}", other.kind()),
                        context,
                        node.start,
                    );
                    continue;
                }
            };
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            self.mark(path, item.start);
            let key = self.node(&pair.0, round, path);
            let value = self.node(&pair.1, round, path);
            path.truncate(len);
            out.push(Value::Seq(vec![key, value]));
        }
        Value::Seq(out)
    }

    /// `SafeConstructor.flatten_mapping`: the pairs of `node` with merge keys
    /// replaced by the pairs they merge, merged pairs first (so the node's
    /// own keys win); of a list of merged mappings, the earlier one wins.
    fn flatten<'n>(&mut self, node: &'n Node, round: usize) -> Vec<(&'n Node, &'n Node)> {
        let Content::Map(pairs) = &node.content else {
            return Vec::new();
        };
        let mut merged: Vec<(&Node, &Node)> = Vec::new();
        let mut own = Vec::with_capacity(pairs.len());
        for (key, value) in pairs {
            if key.tag != MERGE {
                own.push((&**key, &**value));
                continue;
            }
            match &value.content {
                Content::Map(_) => merged.extend(self.flatten(value, round)),
                Content::Seq(subnodes) => {
                    let mut each = Vec::new();
                    for sub in subnodes {
                        if matches!(sub.content, Content::Map(_)) {
                            each.push(self.flatten(sub, round));
                        } else {
                            self.fail_within(
                                round,
                                sub.start,
                                format!(
                                    "expected a mapping for merging, but found {}",
                                    sub.content.kind()
                                ),
                                "while constructing a mapping",
                                node.start,
                            );
                        }
                    }
                    for pairs in each.into_iter().rev() {
                        merged.extend(pairs);
                    }
                }
                Content::Scalar(_) => {
                    self.fail_within(
                        round,
                        value.start,
                        "expected a mapping or list of mappings for merging, but found scalar"
                            .into(),
                        "while constructing a mapping",
                        node.start,
                    );
                }
            }
        }
        merged.extend(own);
        merged
    }

    fn mapping(&mut self, node: &Node, round: usize, path: &mut String) -> Value {
        if !matches!(node.content, Content::Map(_)) {
            return self.fail(
                round,
                node.start,
                format!("expected a mapping node, but found {}", node.content.kind()),
            );
        }
        let pairs = self.flatten(node, round);
        let mut entries: Vec<(Value, Value)> = Vec::with_capacity(pairs.len());
        // Index of string keys for the common case; other keys are few and
        // compared one by one with Python's equality.
        let mut by_str: HashMap<String, usize> = HashMap::new();
        let mut others: Vec<usize> = Vec::new();
        for (key_node, value_node) in pairs {
            let key = match (&key_node.content, key_node.tag.as_str()) {
                // `=` as a key is just the string (PyYAML retags it).
                (Content::Scalar(s), resolve::VALUE) => Value::Str(s.clone()),
                _ => self.node(key_node, round, path),
            };
            if matches!(key, Value::Seq(_) | Value::Map(_)) {
                self.fail_within(
                    round,
                    key_node.start,
                    "found unhashable key".into(),
                    "while constructing a mapping",
                    node.start,
                );
                continue;
            }
            let len = path.len();
            let segment = match &key {
                Value::Str(s) => s.clone(),
                other => other.python_str(),
            };
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&segment);
            self.mark(path, key_node.start);
            let value = self.node(value_node, round, path);
            path.truncate(len);
            let existing = match &key {
                Value::Str(s) => by_str.get(s.as_str()).copied(),
                _ => others
                    .iter()
                    .copied()
                    .find(|&i| python_key_eq(&entries[i].0, &key)),
            };
            match existing {
                Some(i) => entries[i].1 = value,
                None => {
                    match &key {
                        Value::Str(s) => {
                            by_str.insert(s.clone(), entries.len());
                        }
                        _ => others.push(entries.len()),
                    }
                    entries.push((key, value));
                }
            }
        }
        Value::Map(Mapping::from_distinct_entries(entries))
    }
}

/// Whether a Python dict sees two keys as one: numbers compare by value
/// across bool, int and float (`1 == 1.0 == True`), everything else by kind
/// and value. NaN is never equal to itself, but a dict checks identity
/// first and PyYAML makes every `.nan` the same float object, so all NaN
/// keys are one key.
fn python_key_eq(a: &Value, b: &Value) -> bool {
    let nan = |v: &Value| matches!(v, Value::Float(f) if f.is_nan());
    if nan(a) && nan(b) {
        return true;
    }
    match crate::value::python_number_cmp(a, b) {
        Some(order) => order.is_eq(),
        None => a == b,
    }
}

/// Builds a scalar of a known scalar tag.
fn scalar(tag: &str, text: &str) -> Result<Value, String> {
    Ok(match tag {
        NULL => Value::Null,
        BOOL => Value::Bool(construct_bool(text)?),
        INT => match construct_int(text)? {
            Integer::Small(i) => Value::Int(i),
            Integer::Big(b) => Value::BigInt(b),
        },
        FLOAT => Value::Float(construct_float(text)?),
        BINARY => {
            if let Some(c) = text.chars().find(|c| !c.is_ascii()) {
                return Err(format!(
                    "failed to convert base64 data into ascii: '{c}' is not an ASCII character"
                ));
            }
            Value::Bytes(
                base64::decode(text.as_bytes())
                    .map_err(|e| format!("failed to decode base64 data: {e}"))?,
            )
        }
        TIMESTAMP => {
            Timestamp::parse(text)?;
            Value::Timestamp(text.to_string())
        }
        _ => Value::Str(text.to_string()),
    })
}
