//! The part of jinja that user-data and messages use with cloud-init:
//! `{{ variable.path }}` (also `a['key']`) over the instance data, and
//! `{# comments #}`. Anything else (statements, filters, expressions) is
//! refused with a message naming the construct, never guessed at.
//!
//! Variables are cloud-init's (`convert_jinja_instance_data`): every key of
//! `instance-data-sensitive.json`, the `v1` keys also at the top level, and
//! for keys with `-` or `.` an alias with `_`. An undefined variable renders
//! as `CI_MISSING_JINJA_VAR/<name>`, as in cloud-init.

use serde_json::{Map, Value as J};

use crate::value::python_float_repr;

pub const MISSING_PREFIX: &str = "CI_MISSING_JINJA_VAR/";

/// A template renders to this much at most. A variable can stand for all of
/// the instance data, so a small template could otherwise render to a
/// copy of it per line; cloud-init (jinja) has no such bound.
pub const MAX_OUTPUT: usize = crate::userdata::MAX_USER_DATA;

/// A template that uses jinja cloudboot does not render.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct JinjaError(pub String);

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

/// Renders `body` (the template without its `## template: jinja` line).
/// Returns the text and the names that were undefined.
pub fn render(body: &str, vars: &J) -> Result<(String, Vec<String>), JinjaError> {
    let mut out = String::new();
    let mut missing = Vec::new();
    let mut rest = body;
    loop {
        if out.len() > MAX_OUTPUT {
            return Err(JinjaError(format!(
                "the template renders to more than {} MiB, which cloudboot refuses",
                MAX_OUTPUT >> 20
            )));
        }
        let Some((start, open)) = next_tag(rest) else {
            out.push_str(rest);
            break;
        };
        out.push_str(&rest[..start]);
        let close = match open {
            "{{" => "}}",
            "{%" => "%}",
            _ => "#}",
        };
        let inner_start = start + 2;
        let end = rest[inner_start..]
            .find(close)
            .map(|i| inner_start + i)
            .ok_or_else(|| JinjaError(format!("unclosed '{open}' in the template")))?;
        let inner = rest[inner_start..end].trim();
        match open {
            "{#" => {}
            "{%" => {
                return Err(JinjaError(format!(
                    "jinja statement '{{% {inner} %}}' is not supported by cloudboot (only {{{{ variables }}}})"
                )))
            }
            _ => match lookup(vars, inner)? {
                Some(v) => out.push_str(&python_str(v)),
                None => {
                    out.push_str(MISSING_PREFIX);
                    out.push_str(inner);
                    missing.push(inner.to_string());
                }
            },
        }
        rest = &rest[end + close.len()..];
    }
    if out.len() > MAX_OUTPUT {
        return Err(JinjaError(format!(
            "the template renders to more than {} MiB, which cloudboot refuses",
            MAX_OUTPUT >> 20
        )));
    }
    Ok((out, missing))
}

/// Where the next `{{`, `{%` or `{#` starts, and which it is: one pass over
/// the text (looking for each opener in turn would scan the rest of the
/// template again for every tag).
fn next_tag(text: &str) -> Option<(usize, &'static str)> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(i) = bytes[from..].iter().position(|&b| b == b'{') {
        let at = from + i;
        match bytes.get(at + 1) {
            Some(b'{') => return Some((at, "{{")),
            Some(b'%') => return Some((at, "{%")),
            Some(b'#') => return Some((at, "{#")),
            _ => from = at + 1,
        }
    }
    None
}

/// Resolves `a.b['c'].d`; anything that is not a plain path is refused.
fn lookup<'a>(vars: &'a J, expr: &str) -> Result<Option<&'a J>, JinjaError> {
    let refuse = || {
        JinjaError(format!(
            "jinja expression '{{{{ {expr} }}}}' is not supported by cloudboot (only variable paths like v1.instance_id)"
        ))
    };
    let mut segments = Vec::new();
    let mut s = expr;
    while !s.is_empty() {
        if let Some(r) = s.strip_prefix('.') {
            s = r;
        }
        if let Some(r) = s.strip_prefix('[') {
            let close = r.find(']').ok_or_else(refuse)?;
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
            return Err(refuse());
        }
        segments.push(name.to_string());
        s = &s[end..];
    }
    if segments.is_empty() {
        return Err(refuse());
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
