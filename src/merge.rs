//! cloud-init's configuration merging (`cloudinit/mergers`, 22.4), exactly.
//!
//! A merge spec (`merge_how`, `merge_type` or the `Merge-Type` MIME header)
//! names a chain of mergers, e.g. `list(append)+dict(recurse_array)+str()`.
//! Merging `new` into `base` dispatches on the Python type of **`base`**
//! (`LookupMerger.merge(source, merge_with)` looks for `_on_<type of source>`):
//!
//! * `base` is a dict: the first `dict(...)` merger of the chain decides;
//! * `base` is a list: the first `list(...)` merger;
//! * `base` is a str: the first `str(...)` merger;
//! * anything else (None, bool, int, float, bytes), or no merger of that kind
//!   in the chain: `base` is kept and `new` is dropped.
//!
//! So the result depends on the types on both sides in ways that are not
//! symmetric; the rules are spelled out on [`DictMerger`], [`ListMerger`] and
//! [`StrMerger`]. Where cloud-init's merge raises a Python exception (e.g.
//! `list(append)` with a `None`), [`try_merge`] returns the same exception as
//! text and the callers decide what cloud-init's caller would have done.
//!
//! Three consumers, three conventions, all here:
//! * [`merge_many`] / [`merge_many_reversed`]: `util.mergemanydict` (config
//!   sources; each source may carry its own `merge_how`);
//! * [`PartMerger`]: the cloud-config part handler (user-data parts; default
//!   [`DEF_PART_MERGERS`], a later part's top-level key replaces);
//! * [`merge`] / [`try_merge`]: one merge with an explicit spec.

use std::collections::HashMap;
use std::fmt;

mod error;

pub(crate) use crate::py::str::strip as py_strip;
use crate::value::{Mapping, Value};
pub use error::MergeError;

/// `mergers.DEF_MERGE_TYPE`: what `mergemanydict` uses for a source without
/// its own `merge_how`.
pub const DEF_MERGE_TYPE: &str = "list()+dict()+str()";

/// `handlers/cloud_config.py:DEF_MERGERS`: how cloud-config parts are merged
/// when neither the part nor its MIME headers say otherwise. `dict(replace)`
/// mimics the old behaviour of concatenating the parts into one YAML file,
/// where a repeated top-level key simply replaced the earlier one.
pub const DEF_PART_MERGERS: &str = "dict(replace)+list()+str()";

/// The MIME headers the part handler reads, in its order of preference.
const MERGE_HEADERS: [&str; 2] = ["Merge-Type", "X-Merge-Type"];

/// A parsed and constructed merger chain (`mergers.construct(...)`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Mergers {
    chain: Vec<Merger>,
}

/// One merger of a chain, its options already resolved.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Merger {
    Dict(DictMerger),
    List(ListMerger),
    Str(StrMerger),
}

/// `m_dict.Merger`, used when the base value is a dict.
///
/// A `new` that is not a dict leaves the base dict as it is. Otherwise every
/// key of `new`, in `new`'s order: absent from the base, it is added (at the
/// end); present, then
/// * `allow_delete` and a `None` value: the key is removed;
/// * `replace`: the new value replaces the old one, no recursion;
/// * `no_replace` (the default): the old value stays, except that a new dict
///   is always merged into the old value (`recurse_dict` cannot be turned
///   off), a new list is when `recurse_array`/`recurse_list` is set, and a new
///   str is when `recurse_str` is set. "Merged into the old value" dispatches
///   on the *old* value's type again, so e.g. an old str meets a new dict
///   through `str()`, which returns the new dict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DictMerger {
    pub replace: bool,
    pub recurse_str: bool,
    pub recurse_array: bool,
    pub allow_delete: bool,
}

/// How `m_list.Merger` combines two lists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ListMethod {
    Append,
    Prepend,
    /// The default: index by index over the *common* length; items of `new`
    /// beyond the old list's length are dropped.
    #[default]
    Replace,
    /// The old list, unchanged.
    NoReplace,
}

/// `m_list.Merger`, used when the base value is a list.
///
/// * `replace` with a `new` that is not a list: `new` replaces the list;
/// * `append` / `prepend`: old items then new items (or the reverse); `new`
///   is iterated as Python iterates it (a str gives its characters, a dict
///   its keys, bytes their byte values); `None` and numbers raise TypeError;
/// * `replace` with a list: for each index both lists have, the new item
///   replaces the old one, or is merged into it when it is a list
///   (`recurse_array`/`recurse_list`), a str (`recurse_str`) or a dict
///   (`recurse_dict`);
/// * `no_replace`: the old list (after Python has taken `len(new)` and
///   `new[i]`, which can raise).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListMerger {
    pub method: ListMethod,
    pub recurse_str: bool,
    pub recurse_dict: bool,
    pub recurse_array: bool,
}

/// `m_str.Merger`, used when the base value is a str: `new` (of any type)
/// replaces it, or with `append` is concatenated to it (a non-str `new`
/// raises TypeError).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StrMerger {
    pub append: bool,
}

/// Python's `bool.__str__`, for [`Mergers::describe`].
fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

impl fmt::Display for Merger {
    /// The merger in spec syntax, e.g. `dict(replace,recurse_array)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut opts: Vec<&str> = Vec::new();
        let name = match self {
            Merger::Dict(d) => {
                opts.push(if d.replace { "replace" } else { "no_replace" });
                for (on, o) in [
                    (d.recurse_str, "recurse_str"),
                    (d.recurse_array, "recurse_array"),
                    (d.allow_delete, "allow_delete"),
                ] {
                    if on {
                        opts.push(o);
                    }
                }
                "dict"
            }
            Merger::List(l) => {
                opts.push(match l.method {
                    ListMethod::Append => "append",
                    ListMethod::Prepend => "prepend",
                    ListMethod::Replace => "replace",
                    ListMethod::NoReplace => "no_replace",
                });
                for (on, o) in [
                    (l.recurse_str, "recurse_str"),
                    (l.recurse_dict, "recurse_dict"),
                    (l.recurse_array, "recurse_array"),
                ] {
                    if on {
                        opts.push(o);
                    }
                }
                "list"
            }
            Merger::Str(s) => {
                if s.append {
                    opts.push("append");
                }
                "str"
            }
        };
        write!(f, "{name}({})", opts.join(","))
    }
}

impl fmt::Display for Mergers {
    /// The chain in spec syntax, `+`-joined (empty for an empty chain).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.chain.iter().map(Merger::to_string).collect();
        f.write_str(&parts.join("+"))
    }
}

impl Mergers {
    /// Parses a `merge_how` / `merge_type` value, in either form cloud-init
    /// accepts, and constructs the chain (`mergers.dict_extract_mergers`
    /// followed by `mergers.construct`):
    ///
    /// * a string: see [`Mergers::parse_str`];
    /// * `None`: no mergers (as if the key were absent);
    /// * a list (any iterable, really: a dict gives its keys) whose items are
    ///   `{name: ..., settings: [...]}` mappings (the name has `-` turned into
    ///   `_` and is trimmed, but not lower-cased; `settings` is required) or
    ///   sequences `[name, option, ...]`.
    ///
    /// Items whose name is empty (or otherwise falsy) are skipped. Options
    /// nobody knows are ignored, as cloud-init ignores them. Errors (an
    /// unknown merger name, a malformed item) are those cloud-init raises.
    pub fn parse(spec: &Value) -> Result<Mergers, MergeError> {
        let raw = match spec {
            Value::Null => return Ok(Mergers::default()),
            Value::Str(s) => return Mergers::parse_str(s),
            other => py_iter(other).map_err(MergeError::SpecNotList)?,
        };
        let mut parsed = Vec::new();
        for item in &raw {
            let (name, opts) = match item {
                // The `{name, settings}` form.
                Value::Map(m) => {
                    let name = match m.get("name") {
                        Some(Value::Str(s)) => py_strip(&s.replace('-', "_")).to_string(),
                        Some(other) => return Err(name_not_string(other)),
                        None => return Err(MergeError::NoName(item.to_json().to_string())),
                    };
                    let Some(settings) = m.get("settings") else {
                        return Err(MergeError::NoSettings(name));
                    };
                    (Value::Str(name), Opts::Value(settings.clone()))
                }
                // The sequence form: `m[0]` is the name, `m[1:]` the options.
                // cloud-init indexes whatever it is given, so a plain string
                // item "list" means merger "l" with options "ist".
                other => {
                    let seq = py_iter(other).map_err(|_| {
                        MergeError::ItemNotSubscriptable(other.to_json().to_string())
                    })?;
                    // `"abc"[0]` is "a", and bytes index to ints.
                    let Some(name) = seq.first().cloned() else {
                        return Err(MergeError::EmptyItem(other.to_json().to_string()));
                    };
                    let opts = match other {
                        Value::Str(s) if seq.len() >= 2 => {
                            Opts::Value(Value::Str(s.chars().skip(1).collect()))
                        }
                        Value::Bytes(b) if seq.len() >= 2 => {
                            Opts::Value(Value::Bytes(b[1..].to_vec()))
                        }
                        _ => Opts::Value(Value::Seq(seq.get(1..).unwrap_or_default().to_vec())),
                    };
                    (name, opts)
                }
            };
            if name.truthy() {
                parsed.push((name, opts));
            }
        }
        construct(parsed)
    }

    /// Parses the string form (`mergers.string_extract_mergers`) and
    /// constructs the chain: `+`-separated `name(opt,opt,...)` tokens; each
    /// token is lower-cased, trimmed and has `-` turned into `_`; empty tokens
    /// are skipped; option names are trimmed, empty ones dropped.
    pub fn parse_str(spec: &str) -> Result<Mergers, MergeError> {
        construct(string_tokens(spec)?)
    }

    /// True when the chain has no merger at all (merging keeps the base).
    pub fn is_empty(&self) -> bool {
        self.chain.is_empty()
    }

    /// The chain's mergers, in order.
    pub fn mergers(&self) -> &[Merger] {
        &self.chain
    }

    /// This chain followed by `other` (a part's own mergers, then its
    /// header's). Only the first merger of each kind is ever consulted.
    pub fn then(mut self, other: Mergers) -> Mergers {
        self.chain.extend(other.chain);
        self
    }

    /// The chain as cloud-init prints its constructed mergers (`str()` of
    /// each `Merger` object), e.g. `ListMerger: (method=append,...)`.
    pub fn describe(&self) -> Vec<String> {
        self.chain
            .iter()
            .map(|m| match m {
                Merger::Dict(d) => format!(
                    "DictMerger: (method={},recurse_str={},recurse_dict=True,recurse_array={},allow_delete={})",
                    if d.replace { "replace" } else { "no_replace" },
                    py_bool(d.recurse_str),
                    py_bool(d.recurse_array),
                    py_bool(d.allow_delete)
                ),
                Merger::List(l) => format!(
                    "ListMerger: (method={},recurse_str={},recurse_dict={},recurse_array={})",
                    match l.method {
                        ListMethod::Append => "append",
                        ListMethod::Prepend => "prepend",
                        ListMethod::Replace => "replace",
                        ListMethod::NoReplace => "no_replace",
                    },
                    py_bool(l.recurse_str),
                    py_bool(l.recurse_dict),
                    py_bool(l.recurse_array)
                ),
                Merger::Str(s) => format!("StringMerger: (append={})", py_bool(s.append)),
            })
            .collect()
    }

    fn dict(&self) -> Option<&DictMerger> {
        self.chain.iter().find_map(|m| match m {
            Merger::Dict(d) => Some(d),
            _ => None,
        })
    }

    fn list(&self) -> Option<&ListMerger> {
        self.chain.iter().find_map(|m| match m {
            Merger::List(l) => Some(l),
            _ => None,
        })
    }

    fn str_merger(&self) -> Option<&StrMerger> {
        self.chain.iter().find_map(|m| match m {
            Merger::Str(s) => Some(s),
            _ => None,
        })
    }
}

/// `mergers.default_mergers()`: `list()+dict()+str()`, what a config source
/// without its own `merge_how` is merged with.
pub fn default_mergers() -> Mergers {
    Mergers {
        chain: vec![
            Merger::List(ListMerger::default()),
            Merger::Dict(DictMerger::default()),
            Merger::Str(StrMerger::default()),
        ],
    }
}

/// The part handler's default, [`DEF_PART_MERGERS`].
pub fn part_default_mergers() -> Mergers {
    Mergers {
        chain: vec![
            Merger::Dict(DictMerger {
                replace: true,
                ..Default::default()
            }),
            Merger::List(ListMerger::default()),
            Merger::Str(StrMerger::default()),
        ],
    }
}

/// A merger's options as cloud-init holds them before testing `"x" in opts`.
/// From the string form they are a list of names; from the list forms they
/// are whatever the user wrote, and Python's `in` then means list
/// membership, substring (a string: `"replace" in "no_replace"` is true) or
/// key membership (a dict); anything else raises TypeError.
#[derive(Clone, Debug)]
enum Opts {
    Names(Vec<String>),
    Value(Value),
}

impl Opts {
    /// `opt in opts`; `Err` is the value in which `in` raises.
    fn has(&self, opt: &str) -> Result<bool, &Value> {
        match self {
            Opts::Names(names) => Ok(names.iter().any(|n| n == opt)),
            Opts::Value(Value::Seq(items)) => {
                Ok(items.iter().any(|i| matches!(i, Value::Str(s) if s == opt)))
            }
            Opts::Value(Value::Str(s)) => Ok(s.contains(opt)),
            Opts::Value(Value::Map(m)) => Ok(m
                .iter()
                .any(|(k, _)| matches!(k, Value::Str(s) if s == opt))),
            Opts::Value(other) => Err(other),
        }
    }
}

/// A merger name that is not a string.
fn name_not_string(name: &Value) -> MergeError {
    MergeError::NameNotString {
        type_name: name.type_name(),
        value: name.python_str(),
    }
}

/// `string_extract_mergers`: the `(name, options)` tokens of a string spec.
fn string_tokens(spec: &str) -> Result<Vec<(Value, Opts)>, MergeError> {
    let mut out = Vec::new();
    for token in spec.split('+') {
        let token = py_strip(&token.to_lowercase()).replace('-', "_");
        if token.is_empty() {
            continue;
        }
        // `^([a-zA-Z_][A-Za-z0-9_]*)\((.*?)\)$`: an identifier, then the
        // options between the first `(` and a `)` that ends the token.
        // (`.` does not match a newline, so options cannot span lines.)
        let bad = || MergeError::BadToken(token.clone());
        let Some((name, rest)) = token.split_once('(') else {
            return Err(bad());
        };
        let ident = name
            .chars()
            .enumerate()
            .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
        if name.is_empty() || !ident {
            return Err(bad());
        }
        let Some(inner) = rest.strip_suffix(')') else {
            return Err(bad());
        };
        if inner.contains('\n') {
            return Err(bad());
        }
        let opts = py_strip(inner)
            .split(',')
            .map(|o| py_strip(o).to_lowercase())
            .filter(|o| !o.is_empty())
            .collect();
        out.push((Value::Str(name.to_string()), Opts::Names(opts)));
    }
    Ok(out)
}

/// `mergers.construct`: finds each named merger (`m_` prefix optional), then
/// builds it from its options. Names are checked for the whole chain before
/// any options are looked at, as cloud-init imports all modules first.
fn construct(parsed: Vec<(Value, Opts)>) -> Result<Mergers, MergeError> {
    #[derive(Clone, Copy)]
    enum Kind {
        Dict,
        List,
        Str,
    }
    let mut kinds = Vec::with_capacity(parsed.len());
    for (name, _) in &parsed {
        let Value::Str(name) = name else {
            return Err(name_not_string(name));
        };
        let module = name.strip_prefix("m_").unwrap_or(name);
        kinds.push(match module {
            "dict" => Kind::Dict,
            "list" => Kind::List,
            "str" => Kind::Str,
            _ => return Err(MergeError::UnknownMerger(name.clone())),
        });
    }
    let mut chain = Vec::with_capacity(parsed.len());
    for (kind, (name, opts)) in kinds.into_iter().zip(&parsed) {
        let has = |o: &str| {
            opts.has(o).map_err(|settings| MergeError::BadSettings {
                merger: name.python_str(),
                type_name: settings.type_name(),
                value: settings.python_str(),
            })
        };
        chain.push(match kind {
            Kind::Dict => Merger::Dict(DictMerger {
                // MERGE_TYPES = ("replace", "no_replace"); default no_replace.
                replace: has("replace")?,
                recurse_str: has("recurse_str")?,
                recurse_array: has("recurse_array")? || has("recurse_list")?,
                allow_delete: has("allow_delete")?,
            }),
            Kind::List => {
                // The first of MERGE_TYPES present wins, in this order.
                let method = if has("append")? {
                    ListMethod::Append
                } else if has("prepend")? {
                    ListMethod::Prepend
                } else if has("replace")? {
                    ListMethod::Replace
                } else if has("no_replace")? {
                    ListMethod::NoReplace
                } else {
                    ListMethod::Replace
                };
                Merger::List(ListMerger {
                    method,
                    recurse_str: has("recurse_str")?,
                    recurse_dict: has("recurse_dict")?,
                    recurse_array: has("recurse_array")? || has("recurse_list")?,
                })
            }
            Kind::Str => Merger::Str(StrMerger {
                append: has("append")?,
            }),
        });
    }
    Ok(Mergers { chain })
}

/// Merges `new` into `base` as cloud-init's constructed `how` would. Where
/// cloud-init raises, the result is `base` unchanged (what the part handler
/// ends up with: it logs the error and keeps its buffer); use [`try_merge`]
/// to see the error.
pub fn merge(base: &Value, new: &Value, how: &Mergers) -> Value {
    try_merge(base, new, how).unwrap_or_else(|e| {
        tracing::warn!("merge failed ({e}); keeping the earlier value");
        base.clone()
    })
}

/// Merges `new` into `base`; `Err` carries the Python exception cloud-init
/// raises for these inputs (`TypeError: ...`, `KeyError: ...`).
pub fn try_merge(base: &Value, new: &Value, how: &Mergers) -> Result<Value, MergeError> {
    check_merge(base, new, how)?;
    let mut out = base.clone();
    merge_into(&mut out, new, how);
    Ok(out)
}

/// [`try_merge`] in place: `base` becomes the merge, without being copied
/// (merging n parts into one buffer costs what they hold, not n times
/// that). On `Err` it is unchanged.
pub fn try_merge_into(base: &mut Value, new: &Value, how: &Mergers) -> Result<(), MergeError> {
    check_merge(base, new, how)?;
    merge_into(base, new, how);
    Ok(())
}

// A merge is done in two passes: `check_merge` finds the exception Python
// would raise, touching nothing, and only then `merge_into` changes the
// base, and cannot fail. (Python's mergers copy each level they touch, so a
// failed merge leaves the buffer as it was; copying every level here would
// make merging many parts quadratic.) The two walk the same way: keep them
// in step.

/// The exception merging `new` into `base` raises, if any.
fn check_merge(base: &Value, new: &Value, how: &Mergers) -> Result<(), MergeError> {
    match base {
        Value::Map(old) => match (how.dict(), new) {
            (Some(d), Value::Map(new)) => check_dict(d, how, old, new),
            _ => Ok(()),
        },
        Value::Seq(old) => match how.list() {
            Some(l) => check_list(l, how, old, new),
            None => Ok(()),
        },
        Value::Str(_) => match how.str_merger() {
            Some(s) if s.append && !matches!(new, Value::Str(_)) => {
                Err(MergeError::StrConcat(new.type_name()))
            }
            _ => Ok(()),
        },
        // No merger has `_on_nonetype`, `_on_int`, `_on_bytes`...: the
        // lookup falls through to `UnknownMerger`, which keeps the base.
        _ => Ok(()),
    }
}

/// Whether a dict merger merges a key's old and new values (rather than
/// the new replacing the old, or the old staying).
fn dict_recurses(d: &DictMerger, v: &Value) -> bool {
    !d.replace
        && match v {
            Value::Seq(_) => d.recurse_array,
            Value::Str(_) => d.recurse_str,
            // recurse_dict is always on ("backwards compat").
            Value::Map(_) => true,
            _ => false,
        }
}

fn check_dict(
    d: &DictMerger,
    how: &Mergers,
    old: &Mapping,
    new: &Mapping,
) -> Result<(), MergeError> {
    let keys = KeyIndex::of(old.iter().map(|(k, _)| k));
    for (k, v) in new.iter() {
        let Some(pos) = keys.find(k, |i| old.get_index(i).map(|(k, _)| k)) else {
            continue;
        };
        if v.is_null() && d.allow_delete {
            continue;
        }
        if let (true, Some((_, old_v))) = (dict_recurses(d, v), old.get_index(pos)) {
            check_merge(old_v, v, how)?;
        }
    }
    Ok(())
}

/// Whether a `replace` list merger merges an item's old and new values
/// (rather than the new replacing the old).
fn list_recurses(l: &ListMerger, v: &Value) -> bool {
    match v {
        Value::Seq(_) => l.recurse_array,
        Value::Str(_) => l.recurse_str,
        Value::Map(_) => l.recurse_dict,
        _ => false,
    }
}

fn check_list(l: &ListMerger, how: &Mergers, old: &[Value], new: &Value) -> Result<(), MergeError> {
    if l.method == ListMethod::Replace && !matches!(new, Value::Seq(_)) {
        return Ok(());
    }
    match l.method {
        ListMethod::Append | ListMethod::Prepend => {
            py_iter_check(new).map_err(MergeError::NotIterable)
        }
        ListMethod::Replace | ListMethod::NoReplace => {
            // Python walks the common length only: `len(new)` and `new[i]`
            // are evaluated even when the old item is kept (and can raise).
            let common = old.len().min(py_len(new)?);
            for (i, slot) in old.iter().enumerate().take(common) {
                let new_v = py_index(new, i)?;
                if l.method == ListMethod::Replace && list_recurses(l, &new_v) {
                    check_merge(slot, &new_v, how)?;
                }
            }
            Ok(())
        }
    }
}

/// Merges `new` into `base` in place; [`check_merge`] said it cannot fail.
fn merge_into(base: &mut Value, new: &Value, how: &Mergers) {
    match base {
        Value::Map(old) => {
            if let (Some(d), Value::Map(new)) = (how.dict(), new) {
                merge_dict_into(d, how, old, new);
            }
        }
        Value::Seq(old) => {
            if let Some(l) = how.list() {
                if let Some(replaced) = merge_list_into(l, how, old, new) {
                    *base = replaced;
                }
            }
        }
        Value::Str(old) => match how.str_merger() {
            Some(s) if s.append => {
                if let Value::Str(n) = new {
                    old.push_str(n);
                }
            }
            Some(_) => *base = new.clone(),
            None => {}
        },
        _ => {}
    }
}

/// Where each key of a mapping is, so that merging a mapping of n keys is
/// O(n), not O(n²) (a 16 MiB user-data of keys would otherwise take hours).
/// A string key only ever equals a string key in Python, so string keys are
/// hashed; the others (ints, floats, bools, which Python finds equal across
/// types) are few and compared with Python's equality.
struct KeyIndex {
    strings: HashMap<String, usize>,
    others: Vec<usize>,
}

impl KeyIndex {
    fn of<'a>(keys: impl Iterator<Item = &'a Value>) -> KeyIndex {
        let mut index = KeyIndex {
            strings: HashMap::new(),
            others: Vec::new(),
        };
        for (i, k) in keys.enumerate() {
            index.add(k, i);
        }
        index
    }

    fn add(&mut self, k: &Value, i: usize) {
        match k {
            Value::Str(s) => {
                self.strings.insert(s.clone(), i);
            }
            _ => self.others.push(i),
        }
    }

    fn remove(&mut self, k: &Value, i: usize) {
        match k {
            Value::Str(s) => {
                self.strings.remove(s);
            }
            _ => self.others.retain(|&o| o != i),
        }
    }

    /// The position of `k`; `key_at` gives the key at a position.
    fn find<'a>(&self, k: &Value, key_at: impl Fn(usize) -> Option<&'a Value>) -> Option<usize> {
        match k {
            Value::Str(s) => self.strings.get(s).copied(),
            _ => self
                .others
                .iter()
                .copied()
                .find(|&i| key_at(i).is_some_and(|ok| py_eq(ok, k))),
        }
    }
}

fn merge_dict_into(d: &DictMerger, how: &Mergers, old: &mut Mapping, new: &Mapping) {
    // Entries in order, moved out (not copied); a deleted one leaves a hole
    // so that positions stay valid.
    let mut out: Vec<Option<(Value, Value)>> = std::mem::take(old)
        .into_entries()
        .into_iter()
        .map(Some)
        .collect();
    let mut keys = KeyIndex::of(out.iter().flatten().map(|(k, _)| k));
    for (k, v) in new.iter() {
        let Some(pos) = keys.find(k, |i| out[i].as_ref().map(|(k, _)| k)) else {
            keys.add(k, out.len());
            out.push(Some((k.clone(), v.clone())));
            continue;
        };
        if v.is_null() && d.allow_delete {
            out[pos] = None;
            keys.remove(k, pos);
            continue;
        }
        // A Python dict keeps the key object it already had.
        let Some((_, old_v)) = out[pos].as_mut() else {
            continue;
        };
        if d.replace {
            *old_v = v.clone();
        } else if dict_recurses(d, v) {
            merge_into(old_v, v, how);
        }
    }
    // Keys are distinct: each was looked up before it was added.
    *old = Mapping::from_distinct_entries(out.into_iter().flatten().collect());
}

/// Merges into the list `old`; `Some` is a value that replaces it (a
/// `replace` list merger given something that is not a list).
fn merge_list_into(
    l: &ListMerger,
    how: &Mergers,
    old: &mut Vec<Value>,
    new: &Value,
) -> Option<Value> {
    if l.method == ListMethod::Replace && !matches!(new, Value::Seq(_)) {
        return Some(new.clone());
    }
    // check_merge made sure these succeed.
    match l.method {
        ListMethod::Append => old.extend(py_iter(new).unwrap_or_default()),
        ListMethod::Prepend => {
            let mut out = py_iter(new).unwrap_or_default();
            out.append(old);
            *old = out;
        }
        ListMethod::Replace => {
            let common = old.len().min(py_len(new).unwrap_or(0));
            for (i, slot) in old.iter_mut().enumerate().take(common) {
                let Ok(new_v) = py_index(new, i) else {
                    continue;
                };
                if list_recurses(l, &new_v) {
                    merge_into(slot, &new_v, how);
                } else {
                    *slot = new_v;
                }
            }
        }
        // Every old item stays (Python still reads `new[i]`: checked).
        ListMethod::NoReplace => {}
    }
    None
}

/// Whether `for x in v` works, without building the items; `Err(type
/// name)` when it does not.
fn py_iter_check(v: &Value) -> Result<(), &'static str> {
    match v {
        Value::Seq(_) | Value::Str(_) | Value::Map(_) | Value::Bytes(_) => Ok(()),
        other => Err(other.type_name()),
    }
}

/// The items Python's `for x in value` yields; `Err(type name)` when the
/// value is not iterable.
fn py_iter(v: &Value) -> Result<Vec<Value>, &'static str> {
    match v {
        Value::Seq(items) => Ok(items.clone()),
        Value::Str(s) => Ok(s.chars().map(|c| Value::Str(c.to_string())).collect()),
        Value::Map(m) => Ok(m.iter().map(|(k, _)| k.clone()).collect()),
        Value::Bytes(b) => Ok(b.iter().map(|&x| Value::Int(i64::from(x))).collect()),
        other => Err(other.type_name()),
    }
}

/// Python's `len(value)`.
fn py_len(v: &Value) -> Result<usize, MergeError> {
    match v {
        Value::Seq(items) => Ok(items.len()),
        Value::Str(s) => Ok(s.chars().count()),
        Value::Map(m) => Ok(m.len()),
        Value::Bytes(b) => Ok(b.len()),
        other => Err(MergeError::NoLen(other.type_name())),
    }
}

/// Python's `value[i]` for an index below `len(value)`; on a dict that is a
/// key lookup, which fails unless the dict has the key `i`.
fn py_index(v: &Value, i: usize) -> Result<Value, MergeError> {
    let missing = || MergeError::KeyError(i);
    match v {
        Value::Seq(items) => items.get(i).cloned().ok_or_else(missing),
        Value::Str(s) => s
            .chars()
            .nth(i)
            .map(|c| Value::Str(c.to_string()))
            .ok_or_else(missing),
        Value::Bytes(b) => b
            .get(i)
            .map(|&x| Value::Int(i64::from(x)))
            .ok_or_else(missing),
        Value::Map(m) => {
            let key = Value::Int(i64::try_from(i).unwrap_or(i64::MAX));
            m.iter()
                .find(|(k, _)| py_eq(k, &key))
                .map(|(_, v)| v.clone())
                .ok_or_else(missing)
        }
        other => Err(MergeError::NotSubscriptable(other.type_name())),
    }
}

/// Python's `==` as a dict lookup sees it: `1`, `1.0` and `True` are the
/// same key; str and bytes never equal each other.
fn py_eq(a: &Value, b: &Value) -> bool {
    fn num(v: &Value) -> Option<f64> {
        match v {
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Bool(x), Value::Int(i)) | (Value::Int(i), Value::Bool(x)) => *i == i64::from(*x),
        (Value::Int(i), Value::Float(f)) | (Value::Float(f), Value::Int(i)) => int_eq_float(*i, *f),
        (Value::Seq(x), Value::Seq(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, v)| {
                    y.iter()
                        .find(|(k2, _)| py_eq(k, k2))
                        .is_some_and(|(_, v2)| py_eq(v, v2))
                })
        }
        _ => match (num(a), num(b)) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        },
    }
}

/// Python compares an int and a float exactly, not through a rounded float.
fn int_eq_float(i: i64, f: f64) -> bool {
    // 2^63 as f64 is exact; anything at or beyond it cannot be an i64.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    f.fract() == 0.0 && (-LIMIT..LIMIT).contains(&f) && f as i64 == i
}

/// Removes and returns a dict's merger spec as `dict_extract_mergers` does:
/// `merge_how`, or (when that is absent or `None`) `merge_type`. A
/// `merge_type` stays in the dict when `merge_how` is set.
fn take_spec(m: &mut Mapping) -> Option<Value> {
    match m.remove("merge_how") {
        Some(v) if !v.is_null() => Some(v),
        _ => m.remove("merge_type"),
    }
}

/// `CloudConfigPartHandler._extract_mergers`: the mergers of one
/// cloud-config part. The part's own `merge_how` (or `merge_type`) is
/// removed from it, so it is not merged as data. Its mergers come first, then
/// those of the `Merge-Type` header (or, when that is absent or empty,
/// `X-Merge-Type`); as the first merger of each kind wins, the part's own
/// spec beats the header's. Neither: [`DEF_PART_MERGERS`].
///
/// `headers` are the part's MIME headers in order. As cloud-init builds them
/// with `dict(part)`, a header is found only under its exact spelling, and
/// its value is that of the first header with that name in any case.
pub fn extract(part: &mut Value, headers: &[(String, String)]) -> Result<Mergers, MergeError> {
    let Value::Map(m) = part else {
        // `util.load_yaml` turns anything but a dict into None.
        return Err(MergeError::EmptyCloudConfig);
    };
    let own = match take_spec(m) {
        Some(spec) => Mergers::parse(&spec)?,
        None => Mergers::default(),
    };
    let header = MERGE_HEADERS
        .iter()
        .filter(|name| headers.iter().any(|(h, _)| h == *name))
        .find_map(|name| {
            headers
                .iter()
                .find(|(h, _)| h.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        })
        .unwrap_or("");
    let all = own.then(Mergers::parse_str(header)?);
    Ok(if all.is_empty() {
        part_default_mergers()
    } else {
        all
    })
}

/// What `CloudConfigPartHandler` accumulates over one user-data (or
/// vendor-data) blob: the merged buffer and the names of the parts merged.
#[derive(Clone, Debug, Default)]
pub struct PartMerger {
    buf: Option<Value>,
    files: Vec<String>,
    /// Nodes of the parts merged so far: a bound on the buffer's size
    /// (a merge never makes more nodes than its two sides hold).
    nodes: u64,
}

impl PartMerger {
    pub fn new() -> PartMerger {
        PartMerger::default()
    }

    /// Merges one cloud-config part (`handle_part`), `part` as loaded from
    /// its YAML (`Null` when empty or unreadable). On error the part is left
    /// out, as cloud-init leaves it out with a warning. The first part starts
    /// the buffer as `{}` even when it fails, so the handler still writes
    /// a (then empty) cloud-config file.
    pub fn add(
        &mut self,
        filename: &str,
        mut part: Value,
        headers: &[(String, String)],
    ) -> Result<(), MergeError> {
        if self.buf.is_none() || self.files.is_empty() {
            self.buf = Some(Value::empty_map());
        }
        let how = extract(&mut part, headers)?;
        // Each part is one YAML document, itself within the loader's node
        // limit; many of them appending to one list must not add up past
        // it either (memory grows with the buffer: a few hundred bytes a
        // node).
        let nodes = self.nodes.saturating_add(part.node_count());
        if nodes > crate::yaml::MAX_NODES {
            return Err(MergeError::TooManyNodes(crate::yaml::MAX_NODES));
        }
        let base = self.buf.get_or_insert_with(Value::empty_map);
        try_merge_into(base, &part, &how)?;
        self.nodes = nodes;
        let name: String = filename
            .chars()
            .map(|c| {
                if matches!(c, '\n' | '\r' | '\t') {
                    ' '
                } else {
                    c
                }
            })
            .collect();
        self.files.push(name.trim().to_string());
        Ok(())
    }

    /// Applies a `#cloud-config-jsonp` part: `patch` turns the buffer so far
    /// into the new one (`CloudConfigPartHandler._merge_patch`); its error
    /// (a [`crate::jsonpatch::PatchError`]) is passed on.
    pub fn patch<E>(
        &mut self,
        filename: &str,
        patch: impl FnOnce(&Value) -> Result<Value, E>,
    ) -> Result<(), E> {
        if self.buf.is_none() || self.files.is_empty() {
            self.buf = Some(Value::empty_map());
        }
        let base = self.buf.take().unwrap_or_else(Value::empty_map);
        match patch(&base) {
            Ok(v) => self.buf = Some(v),
            Err(e) => {
                self.buf = Some(base);
                return Err(e);
            }
        }
        self.files
            .push(filename.replace(['\n', '\r', '\t'], " ").trim().to_string());
        Ok(())
    }

    /// The merged cloud-config, or `None` when no cloud-config part was seen
    /// (cloud-init then writes an empty file).
    pub fn merged(&self) -> Option<&Value> {
        self.buf.as_ref()
    }

    /// The buffer as `cloud-config.txt` holds it, and so as every later
    /// reader sees it: cloud-init writes it with `yaml.dump`, which sorts
    /// mapping keys. `None` when no cloud-config part was seen.
    pub fn written(&self) -> Option<Value> {
        self.buf.as_ref().map(Value::in_pyyaml_dump_order)
    }

    /// The names of the parts that were merged, for the file's header.
    pub fn files(&self) -> &[String] {
        &self.files
    }
}

/// `util.mergemanydict(sources)`: the **first** source has the highest
/// priority. See [`try_merge_many`]; a source cloud-init would choke on is
/// skipped here, with a warning.
pub fn merge_many(sources: &[Value]) -> Value {
    merge_many_lenient(sources, false).0
}

/// `util.mergemanydict(sources, reverse=True)`: the **last** source has the
/// highest priority (`stages.fetch_base_config`).
pub fn merge_many_reversed(sources: &[Value]) -> Value {
    merge_many_lenient(sources, true).0
}

/// `util.mergemanydict(sources, reverse)` exactly: starting from `{}`, each
/// non-empty source in turn (reversed first if `reverse`) is merged *into*
/// the result so far, with its own `merge_how`/`merge_type` (removed from it)
/// or else [`default_mergers`]. With the default `dict(no_replace)` what is
/// already there stays, so earlier sources win; a source's own spec decides
/// how *it* is merged into the earlier ones (e.g. `list(append)` appends its
/// lists to theirs; a spec without `dict(...)` leaves the source out).
/// `Err` where cloud-init raises (a bad spec, a source that is not a dict, a
/// merge that raises), naming the source by its position in `sources`.
pub fn try_merge_many(sources: &[Value], reverse: bool) -> Result<Value, MergeError> {
    let mut merged = Value::empty_map();
    for (index, src) in ordered(sources, reverse) {
        merge_source_into(&mut merged, src).map_err(|error| MergeError::Source {
            index,
            error: Box::new(error),
        })?;
    }
    Ok(merged)
}

/// As [`try_merge_many`], but a source that cannot be merged is left out and
/// reported as `(its index in sources, the error)`, so one bad file does not
/// cost the whole configuration.
pub fn merge_many_lenient(sources: &[Value], reverse: bool) -> (Value, Vec<(usize, MergeError)>) {
    let mut merged = Value::empty_map();
    let mut problems = Vec::new();
    for (i, src) in ordered(sources, reverse) {
        // On error the merge so far is unchanged (`try_merge_into`).
        if let Err(e) = merge_source_into(&mut merged, src) {
            tracing::warn!("config source {i} not merged: {e}");
            problems.push((i, e));
        }
    }
    (merged, problems)
}

fn ordered(sources: &[Value], reverse: bool) -> Box<dyn Iterator<Item = (usize, &Value)> + '_> {
    if reverse {
        Box::new(sources.iter().enumerate().rev())
    } else {
        Box::new(sources.iter().enumerate())
    }
}

/// One step of `mergemanydict`, in place (unchanged on `Err`). The source
/// is copied only when it has a spec to take out of it.
fn merge_source_into(merged: &mut Value, src: &Value) -> Result<(), MergeError> {
    // `if cfg:`: None and empty dicts are skipped before anything is looked at.
    if !src.truthy() {
        return Ok(());
    }
    let Value::Map(m) = src else {
        return Err(MergeError::SourceNotDict(src.type_name()));
    };
    let mut without_spec = None;
    let mut how = Mergers::default();
    if m.contains_key("merge_how") || m.contains_key("merge_type") {
        let mut m = m.clone();
        if let Some(spec) = take_spec(&mut m) {
            how = Mergers::parse(&spec)?;
        }
        without_spec = Some(Value::Map(m));
    }
    let how = if how.is_empty() {
        default_mergers()
    } else {
        how
    };
    try_merge_into(merged, without_spec.as_ref().unwrap_or(src), &how)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::str(x)
    }

    fn map(pairs: &[(&str, Value)]) -> Value {
        Value::Map(pairs.iter().map(|(k, v)| (s(k), v.clone())).collect())
    }

    fn how(spec: &str) -> Mergers {
        Mergers::parse_str(spec).unwrap()
    }

    #[test]
    fn string_spec_is_canonicalised() {
        let m = how(" List(Append , Recurse-Array,)+ +dict()+m_str(append)");
        assert_eq!(
            m.to_string(),
            "list(append,recurse_array)+dict(no_replace)+str(append)"
        );
    }

    #[test]
    fn errors_name_the_bad_token() {
        let e = Mergers::parse_str("list(append)+foo(bar)")
            .unwrap_err()
            .to_string();
        assert!(e.contains("'foo'"), "{e}");
        let e = Mergers::parse_str("list(append)+dict")
            .unwrap_err()
            .to_string();
        assert!(e.contains("'dict'"), "{e}");
        let e = Mergers::parse(&Value::Seq(vec![map(&[
            ("name", s("list")),
            ("settings", Value::Null),
        ])]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("'list'") && e.contains("NoneType"), "{e}");
    }

    #[test]
    fn substring_settings_behave_as_in_python() {
        // `"replace" in "no_replace"` is true in Python.
        let m = Mergers::parse(&Value::Seq(vec![map(&[
            ("name", s("dict")),
            ("settings", s("no_replace")),
        ])]))
        .unwrap();
        assert_eq!(m.to_string(), "dict(replace)");
    }

    #[test]
    fn unknown_types_keep_the_base() {
        let d = default_mergers();
        assert_eq!(try_merge(&Value::Int(1), &s("x"), &d), Ok(Value::Int(1)));
        assert_eq!(try_merge(&Value::Null, &map(&[]), &d), Ok(Value::Null));
    }

    #[test]
    fn merge_keeps_base_where_python_raises() {
        let base = Value::Seq(vec![Value::Int(1)]);
        let h = how("list(append)");
        assert!(try_merge(&base, &Value::Null, &h).is_err());
        assert_eq!(merge(&base, &Value::Null, &h), base);
    }

    #[test]
    fn int_float_bool_keys_are_one_key() {
        let base = Value::Map([(Value::Int(1), s("a"))].into_iter().collect());
        let new = Value::Map([(Value::Bool(true), s("b"))].into_iter().collect());
        let out = try_merge(&base, &new, &how("dict(replace)")).unwrap();
        assert_eq!(
            out,
            Value::Map([(Value::Int(1), s("b"))].into_iter().collect())
        );
        assert!(int_eq_float(3, 3.0) && !int_eq_float(3, 3.5) && !int_eq_float(i64::MAX, 9.3e18));
    }
}
