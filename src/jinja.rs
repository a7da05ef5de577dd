//! cloudboot's one jinja: every `## template: jinja` text (user-data,
//! `query --format`, `devel render`, hosts, ntp and apt templates,
//! final_message, phone_home) renders through [`engine`], the subset of
//! jinja2 cloud-init 22.4's templates and docs use, set up as cloud-init's
//! templater sets jinja up. An undefined variable renders as
//! `CI_MISSING_JINJA_VAR/<name>`, as in cloud-init.
//!
//! This file holds what the callers share: the variables of instance data
//! (cloud-init's `convert_jinja_instance_data`: every key of
//! `instance-data-sensitive.json`, the `v1` keys also at the top level, and
//! for keys with `-` or `.` an alias with `_`), and [`render`], which
//! is `templater.render_string`'s jinja. Which renderer a template asks for
//! (`## template: jinja`) is [`crate::templater`]'s.

pub mod blocks;
pub mod engine;

use serde_json::{Map, Value as J};

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

/// What differs between the callers of the one engine: whether
/// cloud-init's `jinja_render` puts back the newline jinja drops from the
/// end of the source (`render_string` does; `query --format` prints its
/// own), and the bound on the output.
#[derive(Clone, Copy, Debug)]
pub struct Dialect {
    pub keep_trailing_newline: bool,
    pub max_output: usize,
}

/// `templater.render_string`'s jinja: user-data, hosts and ntp templates,
/// final_message.
pub const INSTANCE_DATA: Dialect = Dialect {
    keep_trailing_newline: true,
    max_output: MAX_OUTPUT,
};

/// `query --format`: the caller adds the newline back itself.
pub const QUERY: Dialect = Dialect {
    keep_trailing_newline: false,
    max_output: MAX_OUTPUT,
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
/// with the variables of the JSON object `vars` (for instance data,
/// [`instance_vars`]), as `templater.render_string` does. Returns the text
/// and the names that were printed undefined.
pub fn render(body: &str, vars: &J) -> Result<(String, Vec<String>), JinjaError> {
    render_in(body, vars, &INSTANCE_DATA)
}

/// [`render`] in another dialect ([`QUERY`]).
pub fn render_in(
    body: &str,
    vars: &J,
    dialect: &Dialect,
) -> Result<(String, Vec<String>), JinjaError> {
    let (mut out, missing) = engine::render(body, &engine::vars_of(vars), dialect.max_output)?;
    if dialect.keep_trailing_newline && body.ends_with('\n') {
        out.push('\n');
    }
    Ok((out, missing))
}

/// [`render`] with string variables (hosts templates, final_message).
pub fn render_strings<S: AsRef<str>>(body: &str, vars: &[(&str, S)]) -> Result<String, JinjaError> {
    let vars: Map<String, J> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), J::String(v.as_ref().to_string())))
        .collect();
    render(body, &J::Object(vars)).map(|(out, _)| out)
}

/// The undefined names cloud-init warns of: `re.findall(r"CI_MISSING_JINJA_VAR/[^\s]+",
/// text)` over the rendered text, each quoted (so a name runs on to the
/// next blank: `{{ nope }}x` warns of 'nopex').
pub fn missing_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(MISSING_PREFIX) {
        let after = &rest[i + MISSING_PREFIX.len()..];
        let end = after.find(crate::py::str::is_space).unwrap_or(after.len());
        if end > 0 {
            names.push(format!("'{}'", &after[..end]));
        }
        rest = &after[end..];
    }
    names
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
    fn statements_filters_and_refusals() {
        let r = |t: &str| render(t, &vars()).map(|(s, _)| s);
        assert_eq!(
            r("{% if v1.instance_id == 'i-1' %}yes{% else %}no{% endif %}\n"),
            Ok("yes\n".into())
        );
        assert_eq!(
            r("{{ v1.instance_id | upper }} {{ nope | default('d') }} {{ v1.public_ssh_keys | join(',') }}"),
            Ok("I-1 d k1".into())
        );
        let e = render("{% macro m() %}{% endmacro %}", &vars()).unwrap_err();
        assert!(e.0.contains("'{% macro m() %}' is not supported"), "{e}");
        let e = render("{{ v1 | nofilter }}", &vars()).unwrap_err();
        assert!(e.0.contains("filter 'nofilter' is not supported"), "{e}");
        assert!(render("{{ open", &vars()).is_err());
    }
}
