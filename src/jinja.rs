//! The one jinja subset cloudboot renders: `{{ variable }}` and
//! `{# comments #}`. Anything else (statements, filters, expressions) is
//! refused with a message naming the construct, never guessed at. An
//! undefined variable renders as `CI_MISSING_JINJA_VAR/<name>`, as in
//! cloud-init.
//!
//! [`render_with`] is the engine; each kind of template says, in its
//! [`Dialect`], how much of jinja's own syntax it has always been given
//! (whitespace control, comments, a bound on the output) and, in its lookup,
//! what a name means. [`render`] is the dialect of user-data, `query
//! --format` and phone_home's URL: variable paths (`v1.instance_id`, also
//! `a['key']`) over the instance data. Variables are cloud-init's
//! (`convert_jinja_instance_data`): every key of
//! `instance-data-sensitive.json`, the `v1` keys also at the top level, and
//! for keys with `-` or `.` an alias with `_`.
//!
//! Which renderer a template asks for (`## template: jinja`) is
//! [`crate::templater`]'s. Templates with `if` and `for` over lists (the
//! ntp clients') are [`blocks`]'.

pub mod blocks;

use serde_json::{Map, Value as J};

use crate::py::str::is_space as py_space;
use crate::value::{python_float_repr, python_str_repr};

pub const MISSING_PREFIX: &str = "CI_MISSING_JINJA_VAR/";

/// A template over the instance data renders to this much at most. A
/// variable can stand for all of the instance data, so a small template
/// could otherwise render to a copy of it per line; cloud-init (jinja) has
/// no such bound. It is the bound on user-data (`userdata::MAX_USER_DATA`
/// is checked to be the same), since the rendered text is user-data.
pub const MAX_OUTPUT: usize = 16 << 20;

/// A template that uses jinja cloudboot does not render.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct JinjaError(pub String);

/// How much of jinja a kind of template gets, and how a refusal is worded.
/// Every dialect refuses statements (`{% ... %}`).
#[derive(Clone, Copy, Debug)]
pub struct Dialect {
    /// `{# comments #}` are dropped; without, they are plain text.
    pub comments: bool,
    /// Jinja's whitespace handling as cloud-init's templater sets it up:
    /// `-` in a tag strips the blanks on that side, `trim_blocks` drops the
    /// newline after a comment, and one trailing newline of the source
    /// goes (no `keep_trailing_newline`).
    pub whitespace_control: bool,
    /// The most the rendered text may be.
    pub max_output: Option<usize>,
    /// What a refused statement's message says after "is not supported by
    /// cloudboot".
    pub statement_note: &'static str,
    /// The same for an expression the lookup refuses.
    pub expression_note: &'static str,
}

/// What a name in `{{ ... }}` stands for.
#[derive(Clone, Debug, PartialEq)]
pub enum Lookup {
    /// Its text.
    Found(String),
    /// Nothing: rendered as `CI_MISSING_JINJA_VAR/<name>`, the whole
    /// expression as the name.
    Undefined,
    /// Nothing, as jinja names it: `CI_MISSING_JINJA_VAR/<this>` (for
    /// `v1.nope`, jinja's undefined is named `nope`).
    Missing(String),
    /// jinja raises an `UndefinedError` with this message (an attribute of
    /// something undefined: `'nope' is undefined`); the template is not
    /// rendered.
    Failed(String),
    /// An expression this kind of template does not take.
    Refused,
}

/// The dialect of templates over the instance data.
pub const INSTANCE_DATA: Dialect = Dialect {
    comments: true,
    whitespace_control: false,
    max_output: Some(MAX_OUTPUT),
    statement_note: " (only {{ variables }})",
    expression_note: " (only variable paths like v1.instance_id)",
};

/// `query --format`'s dialect: cloud-init renders it as any template
/// (`trim_blocks`, one trailing newline dropped), over the instance data.
pub const QUERY: Dialect = Dialect {
    comments: true,
    whitespace_control: true,
    max_output: Some(MAX_OUTPUT),
    statement_note: " (only {{ variables }})",
    expression_note: " (only variable paths like v1.instance_id, ds['meta-data'] or list[0])",
};

/// The variables a template sees, from instance data: cloud-init's
/// `convert_jinja_instance_data(data, include_key_aliases=True)`.
pub fn instance_vars(instance_data: &J) -> J {
    match instance_data {
        J::Object(m) => J::Object(convert_instance_data(m, true)),
        _ => J::Object(Map::new()),
    }
}

/// cloud-init's `convert_jinja_instance_data` (`handlers/jinja_template.py`),
/// step for step, because which value wins a name depends on its order:
/// keys are taken in sorted order; the keys of a dict named `v<digits>`
/// (`v1`, at any depth) are copied next to it, overwriting what is there;
/// with `aliases`, a key with jinja operator characters (`-`, `.`, ...)
/// is copied under its alias ([`variable_alias`]) right after it. The maps
/// keep insertion order (serde_json's `preserve_order`), as Python's dicts
/// do, so a dict prints in the order jinja prints it.
///
/// 22.4 also base64-decodes the keys listed under `base64-encoded-keys`
/// (with hyphens), a key its own instance-data never has (it writes
/// `base64_encoded_keys`); cloudboot decodes nothing either.
pub fn convert_instance_data(data: &Map<String, J>, aliases: bool) -> Map<String, J> {
    let mut keys: Vec<&String> = data.keys().collect();
    keys.sort();
    let mut result = Map::new();
    for key in keys {
        match &data[key] {
            J::Object(m) => {
                let converted = convert_instance_data(m, aliases);
                result.insert(key.clone(), J::Object(converted.clone()));
                if is_version_key(key) {
                    for (k, v) in converted {
                        result.insert(k, v);
                    }
                }
            }
            other => {
                result.insert(key.clone(), other.clone());
            }
        }
        if aliases {
            if let Some(alias) = variable_alias(key) {
                let v = result[key.as_str()].clone();
                result.insert(alias, v);
            }
        }
    }
    result
}

/// `re.match(r"v\d+$", key)`.
fn is_version_key(key: &str) -> bool {
    let digits = key.strip_suffix('\n').unwrap_or(key);
    digits
        .strip_prefix('v')
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// cloud-init's `get_jinja_variable_alias`: each jinja operator in the
/// name (`jinja2.lexer.operator_re`: two-character ones first) becomes one
/// `_`; `None` when there is none.
pub fn variable_alias(name: &str) -> Option<String> {
    const TWO: [&str; 6] = ["//", "**", "==", "!=", ">=", "<="];
    const ONE: &str = "+-/*%~[](){}><=.:|,;";
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    let mut changed = false;
    while let Some(c) = rest.chars().next() {
        if let Some(op) = TWO.iter().find(|op| rest.starts_with(**op)) {
            out.push('_');
            rest = &rest[op.len()..];
            changed = true;
        } else if ONE.contains(c) {
            out.push('_');
            rest = &rest[1..];
            changed = true;
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    changed.then_some(out)
}

/// Renders `body` (the template without its `## template: jinja` line)
/// over the instance data `vars` ([`instance_vars`]). Returns the text and
/// the names that were undefined.
pub fn render(body: &str, vars: &J) -> Result<(String, Vec<String>), JinjaError> {
    render_in(body, vars, &INSTANCE_DATA)
}

/// [`render`] in another dialect ([`QUERY`]).
pub fn render_in(
    body: &str,
    vars: &J,
    dialect: &Dialect,
) -> Result<(String, Vec<String>), JinjaError> {
    render_with(body, dialect, |expr| resolve(vars, expr))
}

/// Renders `body` in `dialect`, each `{{ name }}` as `lookup` says (`name`
/// trimmed). Returns the text and the names that were undefined.
pub fn render_with(
    body: &str,
    dialect: &Dialect,
    lookup: impl Fn(&str) -> Lookup,
) -> Result<(String, Vec<String>), JinjaError> {
    let ws = dialect.whitespace_control;
    let too_large = |out: &String| {
        dialect
            .max_output
            .filter(|max| out.len() > *max)
            .map(|max| {
                JinjaError(format!(
                    "the template renders to more than {} MiB, which cloudboot refuses",
                    max >> 20
                ))
            })
    };
    let mut out = String::new();
    let mut missing = Vec::new();
    let mut rest = if ws {
        // Jinja drops one trailing newline of the source.
        body.strip_suffix('\n').unwrap_or(body)
    } else {
        body
    };
    // After a tag ending in `-`: the blanks that follow go.
    let mut strip_next = false;
    loop {
        if let Some(e) = too_large(&out) {
            return Err(e);
        }
        let Some((start, open)) = next_tag(rest, dialect.comments) else {
            out.push_str(if strip_next {
                rest.trim_start_matches(py_space)
            } else {
                rest
            });
            break;
        };
        let mut literal = &rest[..start];
        if strip_next {
            literal = literal.trim_start_matches(py_space);
        }
        let inner_start = start + 2;
        let lstrip = ws && rest[inner_start..].starts_with('-');
        if lstrip {
            literal = literal.trim_end_matches(py_space);
        }
        out.push_str(literal);
        let close = match open {
            "{{" => "}}",
            "{%" => "%}",
            _ => "#}",
        };
        let end = rest[inner_start..]
            .find(close)
            .map(|i| inner_start + i)
            .ok_or_else(|| JinjaError(format!("unclosed '{open}' in the template")))?;
        let mut inner = &rest[inner_start..end];
        if lstrip {
            inner = &inner[1..];
        }
        let rstrip = ws && inner.ends_with('-');
        if rstrip {
            inner = &inner[..inner.len() - 1];
        }
        let inner = inner.trim();
        match open {
            "{#" => {}
            "{%" => {
                return Err(JinjaError(format!(
                    "jinja statement '{{% {inner} %}}' is not supported by cloudboot{}",
                    dialect.statement_note
                )))
            }
            _ => match lookup(inner) {
                Lookup::Found(v) => out.push_str(&v),
                Lookup::Undefined => {
                    out.push_str(MISSING_PREFIX);
                    out.push_str(inner);
                    missing.push(inner.to_string());
                }
                Lookup::Missing(name) => {
                    out.push_str(MISSING_PREFIX);
                    out.push_str(&name);
                    missing.push(name);
                }
                Lookup::Failed(message) => return Err(JinjaError(message)),
                Lookup::Refused => {
                    return Err(JinjaError(format!(
                        "jinja expression '{{{{ {inner} }}}}' is not supported by cloudboot{}",
                        dialect.expression_note
                    )))
                }
            },
        }
        rest = &rest[end + close.len()..];
        strip_next = rstrip;
        // trim_blocks: the first newline after a comment goes.
        if ws && open == "{#" && !rstrip {
            if let Some(r) = rest.strip_prefix('\n') {
                rest = r;
            }
        }
    }
    match too_large(&out) {
        Some(e) => Err(e),
        None => Ok((out, missing)),
    }
}

/// Where the next `{{`, `{%` or (with `comments`) `{#` starts, and which
/// it is: one pass over the text (looking for each opener in turn would
/// scan the rest of the template again for every tag).
fn next_tag(text: &str, comments: bool) -> Option<(usize, &'static str)> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(i) = bytes[from..].iter().position(|&b| b == b'{') {
        let at = from + i;
        match bytes.get(at + 1) {
            Some(b'{') => return Some((at, "{{")),
            Some(b'%') => return Some((at, "{%")),
            Some(b'#') if comments => return Some((at, "{#")),
            _ => from = at + 1,
        }
    }
    None
}

/// One step of a variable path: `.name`, `['key']`, `.0` or `[-1]`.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Attr(String),
    Key(String),
    Index(i64),
}

/// `name(.attr | .N | ['key'] | ["key"] | [N] | [-N])*`, blanks allowed
/// around the punctuation as jinja allows them; `None` for anything else.
fn parse_path(expr: &str) -> Option<(String, Vec<Step>)> {
    fn ident(s: &str) -> Option<(&str, &str)> {
        let end = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        let name = &s[..end];
        let first = name.chars().next()?;
        (!first.is_ascii_digit()).then_some((name, &s[end..]))
    }
    fn int(s: &str) -> Option<(i64, &str)> {
        let (neg, body) = match s.strip_prefix('-') {
            Some(b) => (true, b.trim_start()),
            None => (false, s),
        };
        let end = body
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(body.len());
        let n: i64 = body[..end].parse().ok()?;
        Some((if neg { -n } else { n }, &body[end..]))
    }
    let (name, mut s) = ident(expr.trim())?;
    let mut steps = Vec::new();
    loop {
        s = s.trim_start();
        if s.is_empty() {
            return Some((name.to_string(), steps));
        }
        if let Some(r) = s.strip_prefix('.') {
            let r = r.trim_start();
            if r.starts_with(|c: char| c.is_ascii_digit()) {
                let (n, r) = int(r)?;
                steps.push(Step::Index(n));
                s = r;
            } else {
                let (attr, r) = ident(r)?;
                steps.push(Step::Attr(attr.to_string()));
                s = r;
            }
        } else if let Some(r) = s.strip_prefix('[') {
            let r = r.trim_start();
            let (step, r) = match r.chars().next()? {
                q @ ('\'' | '"') => {
                    let close = r[1..].find(q)? + 1;
                    let key = &r[1..close];
                    if key.contains('\\') {
                        return None;
                    }
                    (Step::Key(key.to_string()), &r[close + 1..])
                }
                _ => {
                    let (n, r) = int(r)?;
                    (Step::Index(n), r)
                }
            };
            s = r.trim_start().strip_prefix(']')?;
            steps.push(step);
        } else {
            return None;
        }
    }
}

/// What a path walked to: a value, or jinja's undefined (the object it was
/// looked up on, none for a top-level name, and the name looked up).
enum Walk<'a> {
    Value(std::borrow::Cow<'a, J>),
    Undefined(Option<std::borrow::Cow<'a, J>>, Step),
}

/// `a.b['c'].d` as jinja (`Environment.getattr`/`getitem`) resolves it:
/// a missing key gives an undefined named by that key (printed
/// `CI_MISSING_JINJA_VAR/<key>`); anything looked up on an undefined is
/// jinja's `UndefinedError`, with its message. Dict and str methods
/// (`.keys`, `.upper`) are not values here: they are looked up as keys.
fn resolve(vars: &J, expr: &str) -> Lookup {
    use std::borrow::Cow;
    let Some((name, steps)) = parse_path(expr) else {
        return Lookup::Refused;
    };
    let mut at = match vars.get(&name) {
        Some(v) => Walk::Value(Cow::Borrowed(v)),
        None => Walk::Undefined(None, Step::Attr(name)),
    };
    for step in steps {
        let v = match at {
            Walk::Value(v) => v,
            Walk::Undefined(obj, name) => {
                return Lookup::Failed(undefined_message(obj.as_deref(), &name))
            }
        };
        let found: Option<J> = match (&*v, &step) {
            (J::Object(m), Step::Attr(k) | Step::Key(k)) => m.get(k).cloned(),
            (J::Array(a), Step::Index(i)) => python_index(a.len(), *i).map(|i| a[i].clone()),
            (J::String(s), Step::Index(i)) => {
                let chars: Vec<char> = s.chars().collect();
                python_index(chars.len(), *i).map(|i| J::String(chars[i].to_string()))
            }
            _ => None,
        };
        at = match found {
            Some(f) => Walk::Value(Cow::Owned(f)),
            None => Walk::Undefined(Some(v), step),
        };
    }
    match at {
        Walk::Value(v) => Lookup::Found(python_str(&v)),
        Walk::Undefined(_, Step::Index(i)) => Lookup::Missing(i.to_string()),
        Walk::Undefined(_, Step::Attr(k) | Step::Key(k)) => Lookup::Missing(k),
    }
}

/// Python's `seq[i]` position, negative from the end.
fn python_index(len: usize, i: i64) -> Option<usize> {
    let i = if i < 0 { len as i64 + i } else { i };
    (0..len as i64).contains(&i).then_some(i as usize)
}

/// jinja's `Undefined._undefined_message`.
fn undefined_message(obj: Option<&J>, name: &Step) -> String {
    let Some(obj) = obj else {
        let n = match name {
            Step::Attr(k) | Step::Key(k) => python_str_repr(k),
            Step::Index(i) => i.to_string(),
        };
        return format!("{n} is undefined");
    };
    // jinja's `object_type_repr`, quoted (repr) before "has no attribute"
    // and not before "has no element", as jinja words them.
    let ty = match obj {
        J::Null => "None",
        J::Bool(_) => "bool object",
        J::Number(n) if n.is_f64() => "float object",
        J::Number(_) => "int object",
        J::String(_) => "str object",
        J::Array(_) => "list object",
        J::Object(_) => "dict object",
    };
    match name {
        Step::Index(i) => format!("{ty} has no element {i}"),
        Step::Attr(k) | Step::Key(k) => format!(
            "{} has no attribute {}",
            python_str_repr(ty),
            python_str_repr(k)
        ),
    }
}

/// How jinja prints a value: Python's `str()`.
fn python_str(v: &J) -> String {
    match v {
        J::String(s) => s.clone(),
        other => python_repr(other),
    }
}

fn python_repr(v: &J) -> String {
    match v {
        J::Null => "None".into(),
        J::Bool(true) => "True".into(),
        J::Bool(false) => "False".into(),
        J::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (_, Some(f)) => python_float_repr(f),
            _ => n.to_string(),
        },
        J::String(s) => python_str_repr(s),
        J::Array(a) => format!(
            "[{}]",
            a.iter().map(python_repr).collect::<Vec<_>>().join(", ")
        ),
        J::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", python_str_repr(k), python_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> J {
        instance_vars(&json!({
            "v1": {"instance_id": "i-1", "local-hostname": "web", "public_ssh_keys": ["k1"]},
            "ds": {"meta_data": {"instance-id": "i-1", "tags": {"role": "db"}}},
        }))
    }

    #[test]
    fn variables_aliases_and_v1_at_top_level() {
        let (out, missing) = render(
            "#cloud-config\nhostname: {{ v1.local_hostname }}\nid: {{instance_id}} {{ ds.meta_data['tags'].role }} {{ v1.public_ssh_keys }}\n{# note #}x {{ v1.nope }}\n",
            &vars(),
        )
        .unwrap();
        assert_eq!(
            out,
            "#cloud-config\nhostname: web\nid: i-1 db ['k1']\nx CI_MISSING_JINJA_VAR/nope\n"
        );
        assert_eq!(missing, ["nope"]);
    }

    /// What jinja (2.x/3.x, as cloud-init sets it up) answers, checked
    /// against 22.4 by tests/fixtures/query.
    #[test]
    fn paths_resolve_as_jinja_resolves_them() {
        let vars = instance_vars(&json!({
            "v1": {"keys": ["a", "b"], "n": null, "f": 1.5, "s": "it's"},
            "ds": {"meta-data": {"l": [1, {"x": "y"}]}, "v1.0": {"k": 1}},
        }));
        let r = |t: &str| render_in(t, &vars, &QUERY).map(|(s, _)| s);
        assert_eq!(
            r("{{ ds.meta_data.l.1.x }} {{ds['meta-data'].l[-1]['x']}} {{ v1.keys[0] }}{{ v1.s.0 }}"),
            Ok("y y ai".into())
        );
        assert_eq!(
            r("{{ ds.v1_0 }} {{ keys }} {{ n }} {{ f }} {{ s }} {{ v1['s'] }}"),
            Ok("{'k': 1} ['a', 'b'] None 1.5 it's it's".into())
        );
        assert_eq!(r("{{ v1.s }}"), Ok("it's".into()));
        assert_eq!(
            r("{{ v1.nope }}|{{ v1.keys[5] }}|{{ nope }}"),
            Ok("CI_MISSING_JINJA_VAR/nope|CI_MISSING_JINJA_VAR/5|CI_MISSING_JINJA_VAR/nope".into())
        );
        let failed = |t: &str| r(t).unwrap_err().0;
        assert_eq!(failed("{{ nope.x }}"), "'nope' is undefined");
        assert_eq!(
            failed("{{ v1.nope.x }}"),
            "'dict object' has no attribute 'nope'"
        );
        assert_eq!(failed("{{ v1.keys[7].x }}"), "list object has no element 7");
        assert_eq!(failed("{{ n.x.y }}"), "'None' has no attribute 'x'");
        // trim_blocks and one trailing newline dropped, as cloud-init's jinja.
        assert_eq!(r("{# c #}\na\n"), Ok("a".into()));
    }

    #[test]
    fn aliases_and_version_keys_in_cloud_inits_order() {
        let data = json!({"a-b": 1, "a_b": 2, "v1": {"a_b": 3, "x//y": 4}, "w": 5});
        let J::Object(data) = data else {
            unreachable!()
        };
        let plain = convert_instance_data(&data, false);
        let keys: Vec<&str> = plain.keys().map(String::as_str).collect();
        assert_eq!(keys, ["a-b", "a_b", "v1", "x//y", "w"]);
        assert_eq!(plain["a_b"], 3, "v1's copy overwrites the top-level key");
        let aliased = convert_instance_data(&data, true);
        let keys: Vec<&str> = aliased.keys().map(String::as_str).collect();
        assert_eq!(keys, ["a-b", "a_b", "v1", "x//y", "x_y", "w"]);
        assert_eq!(aliased["v1"]["x_y"], 4);
        assert_eq!(aliased["x_y"], 4);
        assert_eq!(variable_alias("a.b==c!d"), Some("a_b_c!d".into()));
        assert_eq!(variable_alias("plain"), None);
    }

    #[test]
    fn output_is_bounded() {
        let big = json!({"v1": {"blob": "x".repeat(1 << 20)}});
        let vars = instance_vars(&big);
        let e = render(&"{{ v1.blob }}\n".repeat(17), &vars).unwrap_err();
        assert_eq!(
            e.0,
            "the template renders to more than 16 MiB, which cloudboot refuses"
        );
        assert_eq!(
            render(&"{{ v1.blob }}".repeat(15), &vars).unwrap().0.len(),
            15 << 20
        );
    }

    #[test]
    fn dialects_differ_only_where_they_say() {
        let dialect = |comments, whitespace_control| Dialect {
            comments,
            whitespace_control,
            max_output: None,
            statement_note: "",
            expression_note: "",
        };
        let r = |d: Dialect, text: &str| {
            render_with(text, &d, |name| match name {
                "a" => Lookup::Found("A".into()),
                _ => Lookup::Undefined,
            })
            .unwrap()
            .0
        };
        let text = "{# c #}\nx {{- a }}\n";
        assert_eq!(r(dialect(true, true), text), "xA");
        assert_eq!(r(dialect(false, false), "{# c #}{{a}}\n"), "{# c #}A\n");
        assert_eq!(
            r(dialect(true, false), text),
            "\nx CI_MISSING_JINJA_VAR/- a\n"
        );
    }

    #[test]
    fn other_jinja_is_refused_by_name() {
        let e = render("{% if v1.x %}a{% endif %}", &vars()).unwrap_err();
        assert!(e.0.contains("'{% if v1.x %}' is not supported"), "{e}");
        let e = render("{{ v1.instance_id | upper }}", &vars()).unwrap_err();
        assert!(
            e.0.contains("'{{ v1.instance_id | upper }}' is not supported"),
            "{e}"
        );
        assert!(render("{{ open", &vars()).is_err());
    }
}
