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
use crate::value::python_float_repr;

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
    /// Nothing: rendered as `CI_MISSING_JINJA_VAR/<name>`.
    Undefined,
    /// An expression this kind of template does not take.
    Refused,
}

/// The dialect of templates over the instance data.
const INSTANCE_DATA: Dialect = Dialect {
    comments: true,
    whitespace_control: false,
    max_output: Some(MAX_OUTPUT),
    statement_note: " (only {{ variables }})",
    expression_note: " (only variable paths like v1.instance_id)",
};

/// The variables a template sees, from instance data.
pub fn instance_vars(instance_data: &J) -> J {
    let mut top = match with_aliases(instance_data) {
        J::Object(m) => m,
        _ => Map::new(),
    };
    if let Some(J::Object(v1)) = top.get("v1").cloned() {
        for (k, v) in v1 {
            top.entry(k).or_insert(v);
        }
    }
    J::Object(top)
}

fn with_aliases(v: &J) -> J {
    match v {
        J::Object(m) => {
            let mut out = Map::new();
            for (k, val) in m {
                let val = with_aliases(val);
                let alias = k.replace(['-', '.'], "_");
                if alias != *k {
                    out.entry(alias).or_insert_with(|| val.clone());
                }
                out.insert(k.clone(), val);
            }
            J::Object(out)
        }
        J::Array(a) => J::Array(a.iter().map(with_aliases).collect()),
        other => other.clone(),
    }
}

/// Renders `body` (the template without its `## template: jinja` line)
/// over the instance data `vars` ([`instance_vars`]). Returns the text and
/// the names that were undefined.
pub fn render(body: &str, vars: &J) -> Result<(String, Vec<String>), JinjaError> {
    render_with(body, &INSTANCE_DATA, |expr| match lookup(vars, expr) {
        Ok(Some(v)) => Lookup::Found(python_str(v)),
        Ok(None) => Lookup::Undefined,
        Err(()) => Lookup::Refused,
    })
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

/// Resolves `a.b['c'].d`: `Ok(None)` when undefined, `Err` for anything
/// that is not a plain path.
fn lookup<'a>(vars: &'a J, expr: &str) -> Result<Option<&'a J>, ()> {
    let mut segments = Vec::new();
    let mut s = expr;
    while !s.is_empty() {
        if let Some(r) = s.strip_prefix('.') {
            s = r;
        }
        if let Some(r) = s.strip_prefix('[') {
            let close = r.find(']').ok_or(())?;
            let key = r[..close].trim();
            let key = key
                .strip_prefix('\'')
                .and_then(|k| k.strip_suffix('\''))
                .or_else(|| key.strip_prefix('"').and_then(|k| k.strip_suffix('"')))
                .unwrap_or(key);
            segments.push(key.to_string());
            s = &r[close + 1..];
            continue;
        }
        let end = s.find(['.', '[']).unwrap_or(s.len());
        let name = &s[..end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(());
        }
        segments.push(name.to_string());
        s = &s[end..];
    }
    if segments.is_empty() {
        return Err(());
    }
    let mut cur = vars;
    for seg in &segments {
        cur = match cur {
            J::Object(m) => match m.get(seg) {
                Some(v) => v,
                None => return Ok(None),
            },
            J::Array(a) => match seg.parse::<usize>().ok().and_then(|i| a.get(i)) {
                Some(v) => v,
                None => return Ok(None),
            },
            _ => return Ok(None),
        };
    }
    Ok(Some(cur))
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
        J::String(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        J::Array(a) => format!(
            "[{}]",
            a.iter().map(python_repr).collect::<Vec<_>>().join(", ")
        ),
        J::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("'{k}': {}", python_repr(v)))
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
            "#cloud-config\nhostname: {{ v1.local_hostname }}\nid: {{instance_id}} {{ ds.meta_data['tags'].role }} {{ v1.public_ssh_keys }}\n{# note #}x {{ nope.a }}\n",
            &vars(),
        )
        .unwrap();
        assert_eq!(
            out,
            "#cloud-config\nhostname: web\nid: i-1 db ['k1']\nx CI_MISSING_JINJA_VAR/nope.a\n"
        );
        assert_eq!(missing, ["nope.a"]);
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
