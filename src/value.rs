//! The one in-memory shape of configuration: cloud-config, cloud.cfg, meta-data.
//!
//! cloud-config is YAML 1.1 as PyYAML reads it, which has things JSON has not:
//! raw bytes (`!!binary`), non-string mapping keys, NaN and infinities. So the
//! engine and the modules work on this `Value`, not on `serde_json::Value`.
//! Mappings keep insertion order (PyYAML keeps it too, and cloud-init's
//! merging walks keys in order).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;

use crate::base64;
pub use crate::bigint::BigInt;

pub mod codec;
pub mod timestamp;

/// A configuration value as PyYAML's `safe_load` would produce it.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    /// An integer outside `i64`, kept exactly (PyYAML's ints have no bound;
    /// see `crate::bigint`). Modules that need a number refuse it as the
    /// wrong type; everything else (merging, dumping, JSON) carries it.
    BigInt(BigInt),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    /// A YAML timestamp (`2001-12-14`, `2001-12-14 21:59:43.10 -5`), kept as
    /// written: PyYAML makes a `date` or `datetime` of it, which nothing in
    /// cloud-init's modules computes with, so the text is all we need.
    Timestamp(String),
    Seq(Vec<Value>),
    Map(Mapping),
}

/// An insertion-ordered mapping. Keys are usually strings; YAML allows others.
#[derive(Clone, Default)]
pub struct Mapping {
    entries: Vec<(Value, Value)>,
    /// Where each string key is, once there are more than a few (below
    /// that a linear search is quicker): lookups and inserts stay O(1) in a
    /// mapping of a million keys, which a 16 MiB user-data can hold. Other
    /// keys (ints, floats, ...) are few and searched linearly. Boxed: a
    /// `HashMap` inline would double the size of every `Value`.
    #[allow(clippy::box_collection)]
    index: Option<Box<HashMap<String, usize>>>,
}

/// Mappings with more entries than this keep an index of their string keys.
const INDEX_FROM: usize = 16;

impl PartialEq for Mapping {
    fn eq(&self, other: &Mapping) -> bool {
        self.entries == other.entries
    }
}

impl fmt::Debug for Mapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mapping")
            .field("entries", &self.entries)
            .finish()
    }
}

impl Mapping {
    pub fn new() -> Self {
        Mapping::default()
    }

    /// A mapping of `entries`, whose keys are already unique (a decoded
    /// one: `codec.rs`).
    pub fn from_entries(entries: Vec<(Value, Value)>) -> Mapping {
        let mut m = Mapping {
            entries,
            index: None,
        };
        m.reindex();
        m
    }

    /// Builds the index once the mapping is large enough to need one.
    fn reindex(&mut self) {
        self.index = (self.entries.len() > INDEX_FROM).then(|| {
            Box::new(
                self.entries
                    .iter()
                    .enumerate()
                    .filter_map(|(i, (k, _))| k.as_str().map(|s| (s.to_string(), i)))
                    .collect(),
            )
        });
    }

    fn position_str(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(key).copied(),
            None => self
                .entries
                .iter()
                .position(|(k, _)| matches!(k, Value::Str(s) if s == key)),
        }
    }

    fn position(&self, key: &Value) -> Option<usize> {
        match key {
            Value::Str(s) => self.position_str(s),
            _ => self.entries.iter().position(|(k, _)| k == key),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position_str(key).map(|i| &self.entries[i].1)
    }

    /// Mutable access by string key.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.position_str(key).map(|i| &mut self.entries[i].1)
    }

    pub fn get_value(&self, key: &Value) -> Option<&Value> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position_str(key).is_some()
    }

    /// Inserts or replaces (in place, keeping the key's position), as a Python dict does.
    pub fn insert(&mut self, key: Value, value: Value) {
        if let Some(i) = self.position(&key) {
            self.entries[i].1 = value;
            return;
        }
        if let (Some(index), Value::Str(s)) = (self.index.as_mut(), &key) {
            index.insert(s.clone(), self.entries.len());
        }
        self.entries.push((key, value));
        if self.index.is_none() && self.entries.len() > INDEX_FROM {
            self.reindex();
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let pos = self.position_str(key)?;
        let (_, v) = self.entries.remove(pos);
        // Later positions moved: rare enough to rebuild.
        if self.index.is_some() {
            self.reindex();
        }
        Some(v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Value, &Value)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The entry at position `i` (insertion order).
    pub fn get_index(&self, i: usize) -> Option<(&Value, &Value)> {
        self.entries.get(i).map(|(k, v)| (k, v))
    }

    /// The entries, in order, moved out.
    pub fn into_entries(self) -> Vec<(Value, Value)> {
        self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl FromIterator<(Value, Value)> for Mapping {
    fn from_iter<I: IntoIterator<Item = (Value, Value)>>(iter: I) -> Self {
        let mut m = Mapping::new();
        for (k, v) in iter {
            m.insert(k, v);
        }
        m
    }
}

impl Mapping {
    /// Builds a mapping from entries whose keys are already known to be
    /// distinct (the YAML loader dedups with Python's rules, faster than
    /// [`Mapping::insert`]'s linear search would on big mappings).
    pub(crate) fn from_distinct_entries(entries: Vec<(Value, Value)>) -> Self {
        let mut m = Mapping {
            entries,
            index: None,
        };
        m.reindex();
        m
    }
}

impl Value {
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    /// The integer written in decimal `text` (sign, digits): `Int`, or
    /// `BigInt` past `i64`; `None` if it is not such text or is longer
    /// than Python would read ([`crate::bigint::MAX_DIGITS`]).
    pub fn integer(text: &str) -> Option<Value> {
        Some(match crate::bigint::parse_decimal(text)? {
            crate::bigint::Integer::Small(i) => Value::Int(i),
            crate::bigint::Integer::Big(b) => Value::BigInt(b),
        })
    }

    pub fn empty_map() -> Value {
        Value::Map(Mapping::new())
    }

    /// How many nodes (scalars, lists, mappings, keys counted) this holds,
    /// as the YAML loader counts them.
    pub fn node_count(&self) -> u64 {
        match self {
            Value::Seq(items) => 1 + items.iter().map(Value::node_count).sum::<u64>(),
            Value::Map(m) => {
                1 + m
                    .iter()
                    .map(|(k, v)| k.node_count() + v.node_count())
                    .sum::<u64>()
            }
            _ => 1,
        }
    }

    /// `value["key"]` for mappings; `None` for anything else.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(m) => m.get(key),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Value]> {
        match self {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&Mapping> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// A mapping's entries as Python's `str()` of key and value (no
    /// entries for anything but a mapping): how cloud-init reads name ->
    /// device tables such as `device_aliases` and `block-device-mapping`.
    pub fn str_pairs(&self) -> Vec<(String, String)> {
        self.as_map()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.python_str(), v.python_str()))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The Python type name, for messages that match what cloud-init users know.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::Timestamp(t) if timestamp::has_time(t) => "datetime",
            Value::Timestamp(_) => "date",
            Value::Seq(_) => "list",
            Value::Map(_) => "dict",
        }
    }

    /// Python's `str(value)` for scalars (used where cloud-init calls `str()`).
    pub fn python_str(&self) -> String {
        match self {
            Value::Null => "None".into(),
            Value::Bool(true) => "True".into(),
            Value::Bool(false) => "False".into(),
            Value::Int(i) => i.to_string(),
            Value::BigInt(b) => b.to_string(),
            Value::Float(f) => python_float_repr(*f),
            Value::Str(s) => s.clone(),
            Value::Bytes(b) => format!("b'{}'", String::from_utf8_lossy(b)),
            Value::Timestamp(t) => timestamp::python_str(t),
            other => other.to_json().to_string(),
        }
    }

    /// Python's `str(value)` for any value (what `"%s" % value` writes): a
    /// string as it is, a list or dict as its `repr`, a scalar as
    /// [`Value::python_str`] (which writes a list or dict as JSON).
    pub fn python_str_any(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            other => other.python_repr(),
        }
    }

    /// Python's `repr(value)` (how a dict or list prints in an f-string or
    /// a `%s`), for what YAML and JSON hold.
    pub fn python_repr(&self) -> String {
        match self {
            Value::Str(s) => python_str_repr(s),
            Value::Seq(items) => format!(
                "[{}]",
                items
                    .iter()
                    .map(Value::python_repr)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Value::Map(m) => format!(
                "{{{}}}",
                m.iter()
                    .map(|(k, v)| format!("{}: {}", k.python_repr(), v.python_repr()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            other => other.python_str(),
        }
    }

    /// The value with every mapping's keys in the order PyYAML's `yaml.dump`
    /// writes them (`sort_keys=True`, i.e. Python's `sorted()`; a mapping
    /// whose keys Python cannot compare, such as str with int, keeps its
    /// order). cloud-init writes `cloud-config.txt` this way, so this is the
    /// order every later reader of that file sees.
    pub fn in_pyyaml_dump_order(&self) -> Value {
        match self {
            Value::Seq(items) => {
                Value::Seq(items.iter().map(Value::in_pyyaml_dump_order).collect())
            }
            Value::Map(m) => {
                let mut entries: Vec<(Value, Value)> = m
                    .iter()
                    .map(|(k, v)| (k.clone(), v.in_pyyaml_dump_order()))
                    .collect();
                sort_entries_like_pyyaml(&mut entries, |(k, _)| k);
                Value::Map(entries.into_iter().collect())
            }
            other => other.clone(),
        }
    }

    /// JSON form, with the conventions `cloudboot devel parse-yaml` documents:
    /// bytes `{"$binary": "<base64>"}`, non-finite floats `{"$float": "nan"}`,
    /// timestamps `{"$timestamp": "<as written>"}`, integers past 64 bits
    /// `{"$int": "<digits>"}` (up to 2^64 - 1 they are plain numbers),
    /// non-string keys as their own JSON text.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::BigInt(b) => match b.to_u64() {
                Some(u) => J::from(u),
                // serde_json holds no larger integer: a marked object, as
                // for NaN (`devel parse-yaml` writes the digits themselves).
                None => {
                    let mut m = serde_json::Map::new();
                    m.insert("$int".into(), J::String(b.to_string()));
                    J::Object(m)
                }
            },
            Value::Float(f) => match serde_json::Number::from_f64(*f) {
                Some(n) => J::Number(n),
                None => {
                    let name = if f.is_nan() {
                        "nan"
                    } else if *f > 0.0 {
                        "inf"
                    } else {
                        "-inf"
                    };
                    let mut m = serde_json::Map::new();
                    m.insert("$float".into(), J::from(name));
                    J::Object(m)
                }
            },
            Value::Str(s) => J::String(s.clone()),
            Value::Bytes(b) => {
                let mut m = serde_json::Map::new();
                m.insert("$binary".into(), J::String(base64::encode(b)));
                J::Object(m)
            }
            Value::Timestamp(t) => {
                let mut m = serde_json::Map::new();
                m.insert("$timestamp".into(), J::String(t.clone()));
                J::Object(m)
            }
            Value::Seq(items) => J::Array(items.iter().map(Value::to_json).collect()),
            Value::Map(map) => {
                let mut m = serde_json::Map::new();
                for (k, v) in map.iter() {
                    let key = match k {
                        Value::Str(s) => s.clone(),
                        other => other.to_json().to_string(),
                    };
                    m.insert(key, v.to_json());
                }
                J::Object(m)
            }
        }
    }

    /// The inverse of [`Value::to_json`] for data we wrote ourselves.
    pub fn from_json(j: &serde_json::Value) -> Value {
        use serde_json::Value as J;
        match j {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Value::Int(i),
                (None, Some(u)) => Value::integer(&u.to_string()).unwrap_or(Value::Null),
                _ => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => Value::Str(s.clone()),
            J::Array(a) => Value::Seq(a.iter().map(Value::from_json).collect()),
            J::Object(o) => {
                if o.len() == 1 {
                    if let Some(J::String(b64)) = o.get("$binary") {
                        if let Ok(bytes) = base64::decode(b64.as_bytes()) {
                            return Value::Bytes(bytes);
                        }
                    }
                    if let Some(J::String(digits)) = o.get("$int") {
                        if let Some(v) = Value::integer(digits) {
                            return v;
                        }
                    }
                    if let Some(J::String(t)) = o.get("$timestamp") {
                        return Value::Timestamp(t.clone());
                    }
                    if let Some(J::String(f)) = o.get("$float") {
                        match f.as_str() {
                            "nan" => return Value::Float(f64::NAN),
                            "inf" => return Value::Float(f64::INFINITY),
                            "-inf" => return Value::Float(f64::NEG_INFINITY),
                            _ => {}
                        }
                    }
                }
                Value::Map(
                    o.iter()
                        .map(|(k, v)| (Value::Str(k.clone()), Value::from_json(v)))
                        .collect(),
                )
            }
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.python_str())
    }
}

/// Python's comparison of two numbers (bool, int, float), exact as
/// Python's is (`2**63 > 9.223372036854775e18`, `1 == 1.0 == True`);
/// `None` when either is not a number, or for NaN.
pub fn python_number_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    enum Number<'a> {
        Small(i64),
        Big(&'a BigInt),
        Float(f64),
    }
    fn number(v: &Value) -> Option<Number<'_>> {
        match v {
            Value::Bool(b) => Some(Number::Small(i64::from(*b))),
            Value::Int(i) => Some(Number::Small(*i)),
            Value::BigInt(b) => Some(Number::Big(b)),
            Value::Float(f) => Some(Number::Float(*f)),
            _ => None,
        }
    }
    use Number::*;
    match (number(a)?, number(b)?) {
        (Small(x), Small(y)) => Some(x.cmp(&y)),
        (Small(x), Float(f)) => cmp_i64_f64(x, f),
        (Float(f), Small(x)) => cmp_i64_f64(x, f).map(Ordering::reverse),
        (Big(x), Small(y)) => Some(x.cmp_i64(y)),
        (Small(x), Big(y)) => Some(y.cmp_i64(x).reverse()),
        (Big(x), Big(y)) => Some(x.cmp(y)),
        (Big(x), Float(f)) => x.cmp_f64(f),
        (Float(f), Big(x)) => x.cmp_f64(f).map(Ordering::reverse),
        (Float(x), Float(y)) => x.partial_cmp(&y),
    }
}

/// `i` against `f` exactly (not through `i as f64`, which rounds).
fn cmp_i64_f64(i: i64, f: f64) -> Option<Ordering> {
    // 2^63 is exact as a float; every i64 is below it and at or above -2^63.
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    if f.is_nan() {
        return None;
    }
    if f >= TWO_POW_63 {
        return Some(Ordering::Less);
    }
    if f < -TWO_POW_63 {
        return Some(Ordering::Greater);
    }
    let whole = f.trunc();
    // In range, so the conversion is exact.
    match i.cmp(&(whole as i64)) {
        Ordering::Equal => 0.0.partial_cmp(&(f - whole)),
        unequal => Some(unequal),
    }
}

/// Orders a mapping's entries as PyYAML's `sort_keys=True` does:
/// `sorted(mapping.items())` when Python can compare every key with every
/// other (all str, all bytes, or all numbers), else as they are (PyYAML
/// swallows the TypeError). cloud-init writes `cloud-config.txt` this way.
pub fn sort_entries_like_pyyaml<T>(entries: &mut [T], key: impl Fn(&T) -> &Value) {
    if entries.len() < 2 {
        return;
    }
    if entries.iter().all(|e| matches!(key(e), Value::Str(_))) {
        entries.sort_by(|a, b| key(a).as_str().cmp(&key(b).as_str()));
    } else if entries.iter().all(|e| matches!(key(e), Value::Bytes(_))) {
        entries.sort_by(|a, b| match (key(a), key(b)) {
            (Value::Bytes(x), Value::Bytes(y)) => x.cmp(y),
            _ => Ordering::Equal,
        });
    } else if entries
        .iter()
        .all(|e| python_number_cmp(key(e), key(e)).is_some())
    {
        // No NaN: a total order, so any stable sort gives Python's result.
        entries.sort_by(|a, b| python_number_cmp(key(a), key(b)).unwrap_or(Ordering::Equal));
    } else if entries.iter().all(|e| {
        matches!(
            key(e),
            Value::Bool(_) | Value::Int(_) | Value::BigInt(_) | Value::Float(_)
        )
    }) {
        // NaN keys: Python's order then depends on its sort algorithm.
        // Small mappings get CPython's own (a run, then binary insertion);
        // larger ones a total order with NaN last, so the cost stays
        // O(n log n) and the sort cannot fail.
        if entries.len() < 64 {
            cpython_small_sort(entries, |a, b| {
                python_number_cmp(key(a), key(b)) == Some(Ordering::Less)
            });
        } else {
            entries.sort_by(|a, b| match python_number_cmp(key(a), key(b)) {
                Some(o) => o,
                None => {
                    let nan = |v: &Value| matches!(v, Value::Float(f) if f.is_nan());
                    nan(key(a)).cmp(&nan(key(b)))
                }
            });
        }
    }
}

/// CPython's `list.sort` for fewer than 64 items, with `less` as `<`: the
/// leading run (reversed if strictly descending), then binary insertion.
fn cpython_small_sort<T>(items: &mut [T], less: impl Fn(&T, &T) -> bool) {
    let n = items.len();
    let mut run = 1;
    if n > 1 {
        run = 2;
        let descending = less(&items[1], &items[0]);
        while run < n && less(&items[run], &items[run - 1]) == descending {
            run += 1;
        }
        if descending {
            items[..run].reverse();
        }
    }
    for start in run..n {
        let (mut lo, mut hi) = (0, start);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if less(&items[start], &items[mid]) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        items[lo..=start].rotate_right(1);
    }
}

/// `repr(str)`: single quotes unless the text has one and no double quote;
/// backslash escapes for the quote, `\\`, `\t\n\r` and what Python does not
/// print (control characters, non-space blanks, format characters).
pub fn python_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::new();
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            ' ' => out.push(' '),
            c if c.is_control()
                || c.is_whitespace()
                || matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{2060}'..='\u{2064}' | '\u{feff}') =>
            {
                let n = c as u32;
                if n < 0x100 {
                    out.push_str(&format!("\\x{n:02x}"));
                } else if n < 0x10000 {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `repr(float)`: the shortest digits that read back to the same
/// float, written positionally when the decimal exponent is in -4..16 and as
/// `1.5e+20` / `1e-05` otherwise (Rust's own formatting switches elsewhere).
pub fn python_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    // `{:e}` gives the shortest round-trip digits: "-1.2345e-7", "1e20".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (-4..16).contains(&exp) {
        let body = if exp < 0 {
            format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
        } else {
            let point = exp as usize + 1;
            if digits.len() > point {
                format!("{}.{}", &digits[..point], &digits[point..])
            } else {
                format!("{digits}{}.0", "0".repeat(point - digits.len()))
            }
        };
        format!("{sign}{body}")
    } else {
        let exp_sign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exp_sign}{:02}", exp.abs())
    }
}

/// A scalar's text for a message: at most 200 characters of it (Python's
/// own messages cut there too), so a huge bad scalar makes a short error.
pub fn shown(text: &str) -> String {
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, Value)]) -> Value {
        Value::Map(
            pairs
                .iter()
                .map(|(k, v)| (Value::str(*k), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn pyyaml_dump_order_sorts_comparable_keys_only() {
        let v = map(&[
            ("z", Value::Int(1)),
            ("a", map(&[("y", Value::Int(1)), ("b", Value::Int(2))])),
        ]);
        let sorted = v.in_pyyaml_dump_order();
        let keys: Vec<_> = sorted
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.clone())
            .collect();
        assert_eq!(keys, vec![Value::str("a"), Value::str("z")]);
        let inner: Vec<_> = sorted
            .get("a")
            .unwrap()
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.clone())
            .collect();
        assert_eq!(inner, vec![Value::str("b"), Value::str("y")]);
        // str and int keys cannot be compared in Python: order kept.
        let mixed = Value::Map(
            [
                (Value::str("z"), Value::Null),
                (Value::Int(2), Value::Null),
                (Value::str("a"), Value::Null),
            ]
            .into_iter()
            .collect(),
        );
        assert_eq!(mixed.in_pyyaml_dump_order(), mixed);
    }

    #[test]
    fn float_repr_is_pythons() {
        for (f, want) in [
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456.789, "123456.789"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (-2.5e300, "-2.5e+300"),
            (685230.15, "685230.15"),
        ] {
            assert_eq!(python_float_repr(f), want, "{f:e}");
        }
    }

    #[test]
    fn json_round_trip_keeps_bytes_and_nan() {
        let v = map(&[
            ("b", Value::Bytes(vec![0, 255, 10])),
            ("f", Value::Float(f64::INFINITY)),
        ]);
        let back = Value::from_json(&v.to_json());
        assert_eq!(back.get("b"), Some(&Value::Bytes(vec![0, 255, 10])));
        assert_eq!(back.get("f"), Some(&Value::Float(f64::INFINITY)));
    }
}
