//! The `schema` command's check, worded as cloud-init 22.4's JSON schema
//! validation words it (`jsonschema`'s messages, paths joined with `.`,
//! sorted by path), with the constraints ([`Rule`]) and deprecations the
//! modules declare. Boot does not use it: 22.4's boot only warns about
//! schema errors, and cloudboot's boot keeps its type check
//! ([`super::check_fields`]).

use super::{Field, Rule, Ty, Verdict, ENGINE_FIELDS};
use crate::value::{python_str_repr, Value};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Seg {
    Idx(usize),
    Key(String),
}

/// One finding: the key path as segments, and 22.4's message.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    path: Vec<Seg>,
    pub message: String,
}

impl Finding {
    /// `a.b.0`, as 22.4 prints it.
    pub fn dotted(&self) -> String {
        self.path
            .iter()
            .map(|s| match s {
                Seg::Idx(i) => i.to_string(),
                Seg::Key(k) => k.clone(),
            })
            .collect::<Vec<_>>()
            .join(".")
    }

    /// `a.b[0]`, as [`crate::yaml::Marks`] records it.
    fn mark_path(&self) -> String {
        let mut out = String::new();
        for s in &self.path {
            match s {
                Seg::Idx(i) => out.push_str(&format!("[{i}]")),
                Seg::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
            }
        }
        out
    }
}

#[derive(Default)]
pub struct Findings {
    pub errors: Vec<Finding>,
    pub deprecations: Vec<Finding>,
}

/// jsonschema's name of a type.
fn json_type(t: &Ty) -> Option<&'static str> {
    Some(match t {
        Ty::Str | Ty::StrOrBytes | Ty::Enum(_) => "string",
        Ty::Bool => "boolean",
        Ty::Int => "integer",
        Ty::Number => "number",
        Ty::Null => "null",
        Ty::List(_) | Ty::Entries(_) => "array",
        Ty::Map(_) | Ty::MapPart(_) | Ty::AnyMap => "object",
        Ty::Strict(t, _) => return json_type(t),
        Ty::Any | Ty::OneOf(_) => return None,
    })
}

fn py_list(items: &[&str]) -> String {
    let inner: Vec<String> = items.iter().map(|s| python_str_repr(s)).collect();
    format!("[{}]", inner.join(", "))
}

struct Walker<'a> {
    path: Vec<Seg>,
    out: &'a mut Findings,
    /// Inside a value that may hold a password ([`Rule::Secret`]): messages
    /// name the path and the problem, never the value.
    secret: bool,
}

/// What a message shows instead of a value that may hold a password.
const HIDDEN: &str = "<the value is not shown: it may hold a password>";

impl Walker<'_> {
    /// The value as 22.4's messages quote it, unless it may be secret.
    fn shown(&self, v: &Value) -> String {
        if self.secret {
            HIDDEN.to_string()
        } else {
            v.python_repr()
        }
    }

    fn error(&mut self, message: String) {
        let f = Finding {
            path: self.path.clone(),
            message,
        };
        if !self.out.errors.contains(&f) {
            self.out.errors.push(f);
        }
    }

    fn value(&mut self, t: &Ty, v: &Value) {
        if let Ty::Strict(inner, rule) = t {
            return self.rule(inner, rule, v);
        }
        if !super::shape_matches(t, v) {
            let msg = match json_type(t) {
                Some(name) => format!("{} is not of type '{name}'", self.shown(v)),
                None => format!(
                    "{} is not valid under any of the given schemas",
                    self.shown(v)
                ),
            };
            self.error(msg);
            return;
        }
        match (t, v) {
            (Ty::List(item) | Ty::Entries(item), Value::Seq(items)) => self.items(item, items),
            (Ty::Map(fields), Value::Map(map)) => {
                self.fields(fields, v);
                let extra: Vec<String> = map
                    .iter()
                    .map(|(k, _)| k)
                    .filter(|k| !fields.iter().any(|f| k.as_str() == Some(f.name)))
                    .map(|k| k.python_repr())
                    .collect();
                if !extra.is_empty() {
                    let verb = if extra.len() == 1 { "was" } else { "were" };
                    self.error(format!(
                        "Additional properties are not allowed ({} {verb} unexpected)",
                        extra.join(", ")
                    ));
                }
            }
            (Ty::MapPart(fields), Value::Map(_)) => self.fields(fields, v),
            (Ty::OneOf(ts), v) => {
                // jsonschema reports a `oneOf` that no alternative satisfies
                // as a whole, not the alternatives' own errors. A mapping
                // alternative is checked key by key: cloudboot's `OneOf` of
                // a mapping and null is mostly 22.4's plain `object` (null
                // being cloudboot's "unset"), whose errors are the keys'.
                let t = ts.iter().find(|t| super::shape_matches(t, v));
                if let Some(t @ (Ty::Map(_) | Ty::MapPart(_))) = t {
                    return self.value(t, v);
                }
                if let Some(t) = t {
                    let mut mine = Findings::default();
                    let mut w = Walker {
                        path: self.path.clone(),
                        out: &mut mine,
                        secret: self.secret,
                    };
                    w.value(t, v);
                    self.out.deprecations.extend(mine.deprecations);
                    if !mine.errors.is_empty() {
                        self.error(format!(
                            "{} is not valid under any of the given schemas",
                            self.shown(v)
                        ));
                    }
                }
            }
            _ => {}
        }
    }

    /// Each item of a list against `item` (`items`), at its index.
    fn items(&mut self, item: &Ty, items: &[Value]) {
        for (i, it) in items.iter().enumerate() {
            self.path.push(Seg::Idx(i));
            self.value(item, it);
            self.path.pop();
        }
    }

    /// `inner`'s check, then the rule (jsonschema checks every keyword of a
    /// schema: a wrong type and an `enum` miss are two errors).
    fn rule(&mut self, inner: &Ty, rule: &Rule, v: &Value) {
        if let Rule::As(t) = rule {
            return self.value(t, v);
        }
        if let Rule::Secret(t) = rule {
            let was = std::mem::replace(&mut self.secret, true);
            self.value(t, v);
            self.secret = was;
            return;
        }
        if let (Rule::OneOf, Ty::OneOf(ts)) = (rule, inner) {
            let mut mine = Findings::default();
            let mut w = Walker {
                path: self.path.clone(),
                out: &mut mine,
                secret: self.secret,
            };
            match ts.iter().find(|t| super::shape_matches(t, v)) {
                Some(t) => w.value(t, v),
                None => w.error(String::new()),
            }
            self.out.deprecations.extend(mine.deprecations);
            if !mine.errors.is_empty() {
                self.error(format!(
                    "{} is not valid under any of the given schemas",
                    self.shown(v)
                ));
            }
            return;
        }
        if let (Rule::TypeList, Ty::OneOf(ts)) = (rule, inner) {
            match ts.iter().find(|t| super::shape_matches(t, v)) {
                Some(t) => self.value(t, v),
                None => {
                    let names: Vec<String> = ts
                        .iter()
                        .filter_map(json_type)
                        .map(|n| format!("'{n}'"))
                        .collect();
                    self.error(format!(
                        "{} is not of type {}",
                        self.shown(v),
                        names.join(", ")
                    ));
                }
            }
            return;
        }
        // `additionalProperties` comes before `properties` and `required`
        // in 22.4's schema, so its errors come first.
        if !matches!(rule, Rule::Keys(..)) {
            self.value(inner, v);
        }
        let bad = match (rule, v) {
            (Rule::MinItems(n), Value::Seq(items)) if items.len() < *n => {
                Some("is too short".to_string())
            }
            (Rule::MaxItems(n), Value::Seq(items)) if items.len() > *n => {
                Some("is too long".to_string())
            }
            (Rule::Minimum(n), Value::Int(i)) if i < n => {
                Some(format!("is less than the minimum of {n}"))
            }
            (Rule::MinLength(n), Value::Str(s)) if s.chars().count() < *n => {
                Some("is too short".to_string())
            }
            (Rule::Values(t), Value::Map(m)) => {
                for (k, val) in m.iter() {
                    self.path.push(Seg::Key(k.python_str()));
                    self.value(t, val);
                    self.path.pop();
                }
                None
            }
            (Rule::Items(t), Value::Seq(items)) => {
                self.items(t, items);
                None
            }
            (Rule::MinProperties(n), Value::Map(m)) if m.len() < *n => {
                Some("does not have enough properties".to_string())
            }
            (Rule::Keys(ok, regex), Value::Map(m)) => {
                for (k, _) in m.iter() {
                    if !k.as_str().is_some_and(ok) {
                        self.error(format!(
                            "{} does not match any of the regexes: '{regex}'",
                            k.python_repr()
                        ));
                    }
                }
                match inner {
                    // `patternProperties`' schema applies to the keys that
                    // match it only; the others are the error above.
                    Ty::Strict(base, Rule::Values(t)) => {
                        self.value(base, v);
                        for (k, val) in m.iter() {
                            if k.as_str().is_some_and(ok) {
                                self.path.push(Seg::Key(k.python_str()));
                                self.value(t, val);
                                self.path.pop();
                            }
                        }
                    }
                    _ => self.value(inner, v),
                }
                None
            }
            // Not a mapping: the type's own error.
            (Rule::Keys(..), _) => {
                self.value(inner, v);
                None
            }
            (Rule::OneOfStrs(allowed), v) if !v.as_str().is_some_and(|s| allowed.contains(&s)) => {
                Some(format!("is not one of {}", py_list(allowed)))
            }
            (Rule::Check(f), v) => match f(v) {
                Verdict::Fine => None,
                Verdict::Bad(msg) => Some(msg.to_string()),
                Verdict::Deprecated(text) => {
                    let d = Finding {
                        path: self.path.clone(),
                        message: format!("DEPRECATED: {text}"),
                    };
                    if !self.out.deprecations.contains(&d) {
                        self.out.deprecations.push(d);
                    }
                    None
                }
            },
            _ => None,
        };
        if let Some(bad) = bad {
            self.error(format!("{} {bad}", self.shown(v)));
        }
    }

    fn fields(&mut self, fields: &[Field], v: &Value) {
        let Some(map) = v.as_map() else { return };
        for f in fields {
            if f.required && map.get(f.name).is_none() {
                self.error(format!(
                    "{} is a required property",
                    python_str_repr(f.name)
                ));
            }
        }
        for f in fields {
            let Some(val) = map.get(f.name) else { continue };
            self.path.push(Seg::Key(f.name.to_string()));
            if let Some(text) = f.deprecated {
                let d = Finding {
                    path: self.path.clone(),
                    message: format!("DEPRECATED: {text}"),
                };
                if !self.out.deprecations.contains(&d) {
                    self.out.deprecations.push(d);
                }
            }
            self.value(&f.ty, val);
            self.path.pop();
        }
    }
}

/// Checks a cloud-config document as 22.4's `schema` command does: the
/// engine's keys and every module's; keys nobody declares are not reported
/// at the top level (22.4's schema allows them there).
pub fn check(doc: &Value, modules: &[&[Field]]) -> Findings {
    // Each declaration is walked on its own, as 22.4's `allOf` of module
    // schemas: a key two modules declare (`hostname`, by set_hostname and
    // update_hostname) is reported by each. Deprecations are reported once.
    let mut out = Findings::default();
    let all = std::iter::once(ENGINE_FIELDS)
        .chain(modules.iter().copied())
        .chain(super::cloud_init_only::ALL.iter().copied());
    for fields in all {
        let mut mine = Findings::default();
        Walker {
            path: Vec::new(),
            out: &mut mine,
            secret: false,
        }
        .fields(fields, doc);
        out.errors.extend(mine.errors);
        for d in mine.deprecations {
            if !out.deprecations.contains(&d) {
                out.deprecations.push(d);
            }
        }
    }
    // Python's `sorted(..., key=lambda e: e.path)`: stable, by segments.
    out.errors.sort_by(|a, b| a.path.cmp(&b.path));
    out.deprecations.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// One `path: message` a line, as 22.4 logs deprecations at boot.
pub fn lines(fs: &[Finding]) -> String {
    fs.iter()
        .map(|f| format!("{}: {}", f.dotted(), f.message))
        .collect::<Vec<_>>()
        .join("\n")
}

fn joined(fs: &[Finding]) -> String {
    fs.iter()
        .map(|f| format!("{}: {}", f.dotted(), f.message))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What `cloud-init schema -c FILE [--annotate]` prints for a parsed
/// cloud-config: `(exit code, stdout, stderr)`.
pub fn report(
    doc: &Value,
    text: &[u8],
    name: &str,
    annotate: bool,
    modules: &[&[Field]],
) -> (i32, String, String) {
    if doc.as_map().is_none() {
        // An empty file or a list: 22.4 refuses it before its schema, and
        // `--annotate` shows the file with that one error.
        if annotate {
            let text = String::from_utf8_lossy(text);
            return (
                0,
                format!(
                    "{text}\n# Errors: -------------\n# E1: Cloud-config is not a YAML dict.\n\n\n"
                ),
                String::new(),
            );
        }
        return (
            1,
            String::new(),
            "Error:\nCloud-config is not a YAML dict.\n".into(),
        );
    }
    let found = check(doc, modules);
    let valid = format!("Valid cloud-config: {name}\n");
    if found.errors.is_empty() && found.deprecations.is_empty() {
        return (0, valid, String::new());
    }
    if annotate {
        let mut out = annotated(text, name, &found);
        out.push('\n');
        if found.errors.is_empty() {
            out.push_str(&valid);
        }
        return (0, out, String::new());
    }
    let mut out = format!(
        "Cloud config schema deprecations: {}\n",
        joined(&found.deprecations)
    );
    if found.errors.is_empty() {
        out.push_str(&valid);
        return (0, out, String::new());
    }
    // 22.4's SchemaValidationError carries both lists: its message (the
    // error printed) repeats the deprecations after the errors.
    let mut err = format!(
        "Error:\nCloud config schema errors: {}",
        joined(&found.errors)
    );
    if !found.deprecations.is_empty() {
        err.push_str(&format!(
            "\n\nCloud config schema deprecations: {}",
            joined(&found.deprecations)
        ));
    }
    err.push('\n');
    (1, out, err)
}

/// 22.4's `_Annotator`: each line with problems gets `\t\t# E1,D1`, then
/// the footers list them.
fn annotated(text: &[u8], name: &str, found: &Findings) -> String {
    let marks = crate::yaml::load_marked(text, name)
        .map(|(_, m)| m)
        .unwrap_or_default();
    let line_of = |f: &Finding| marks.get(&f.mark_path()).map(|(l, _)| l);
    let text = String::from_utf8_lossy(text);
    let mut lines = Vec::new();
    let (mut efoot, mut dfoot) = (Vec::new(), Vec::new());
    for (n, line) in text.split('\n').enumerate() {
        let mut labels = Vec::new();
        for f in found.errors.iter().filter(|f| line_of(f) == Some(n + 1)) {
            let label = format!("E{}", efoot.len() + 1);
            efoot.push(format!("# {label}: {}", f.message));
            labels.push(label);
        }
        for f in found
            .deprecations
            .iter()
            .filter(|f| line_of(f) == Some(n + 1))
        {
            let label = format!("D{}", dfoot.len() + 1);
            dfoot.push(format!("# {label}: {}", f.message));
            labels.push(label);
        }
        if labels.is_empty() {
            lines.push(line.to_string());
        } else {
            lines.push(format!("{line}\t\t# {}", labels.join(",")));
        }
    }
    for (title, foot) in [("Errors", efoot), ("Deprecations", dfoot)] {
        if !foot.is_empty() {
            lines.push(format!("# {title}: -------------\n{}\n\n", foot.join("\n")));
        }
    }
    lines.join("\n")
}
