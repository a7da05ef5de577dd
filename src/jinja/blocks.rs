//! Templates whose variables are strings and lists of strings (cloud-init's
//! ntp, chrony, timesyncd and sources.list templates), rendered by the one
//! engine ([`super::engine`]) as `templater.render_string` renders them.

use std::rc::Rc;

use super::engine::{self, V};
use super::JinjaError;

/// A template variable's value.
#[derive(Clone, Debug, PartialEq)]
pub enum Var {
    Str(String),
    List(Vec<String>),
}

/// Renders `body` (the template after its `## template: jinja` line) with
/// `vars`, as cloud-init's `jinja_render` does, its trailing newline kept.
pub fn render(body: &str, vars: &[(&str, Var)]) -> Result<String, JinjaError> {
    let vars: Vec<(String, V)> = vars
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Var::Str(s) => V::Str(s.as_str().into()),
                Var::List(l) => V::List(Rc::new(
                    l.iter().map(|s| V::Str(s.as_str().into())).collect(),
                )),
            };
            (k.to_string(), v)
        })
        .collect();
    let (mut out, _) = engine::render(body, &vars, super::MAX_OUTPUT)?;
    if body.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(servers: &[&str], pools: &[&str]) -> Vec<(&'static str, Var)> {
        let list = |l: &[&str]| Var::List(l.iter().map(|s| s.to_string()).collect());
        vec![("servers", list(servers)), ("pools", list(pools))]
    }

    #[test]
    fn loops_conditions_and_whitespace_as_jinja_with_trim_blocks() {
        let chrony = "{% if pools %}# pools\n{% endif %}\n{% for pool in pools -%}\npool {{pool}} iburst\n{% endfor %}\n{%- if servers %}# servers\n{% endif %}\n{% for server in servers -%}\nserver {{server}} iburst\n{% endfor %}\n\nrest\n";
        assert_eq!(
            render(chrony, &vars(&["s1", "s2"], &["p1"])).unwrap(),
            "# pools\npool p1 iburst\n# servers\nserver s1 iburst\nserver s2 iburst\n\nrest\n"
        );
        assert_eq!(render(chrony, &vars(&[], &[])).unwrap(), "\nrest\n");
        let timesyncd = "[Time]\n{% if servers or pools -%}\nNTP={% for host in servers|list + pools|list %}{{ host }} {% endfor -%}\n{% endif -%}\n";
        assert_eq!(
            render(timesyncd, &vars(&["a"], &["b"])).unwrap(),
            "[Time]\nNTP=a b \n"
        );
        assert_eq!(render(timesyncd, &vars(&[], &[])).unwrap(), "[Time]\n\n");
    }

    /// Debian's sources.list template (cloud-init 22.4's
    /// `sources.list.debian.tmpl`): `in` over a tuple of strings.
    #[test]
    fn in_over_a_tuple_of_strings() {
        let line = "{{codename}}{% if codename in ('buster', 'stretch') %}/updates{% else %}-security{% endif %}";
        let with = |c: &str| vec![("codename", Var::Str(c.into()))];
        assert_eq!(render(line, &with("buster")).unwrap(), "buster/updates");
        assert_eq!(
            render(line, &with("bookworm")).unwrap(),
            "bookworm-security"
        );
        let v = vars(&["a", "b"], &[]);
        assert_eq!(
            render("{{ 'a' in servers }} {{ 'c' not in servers }} {{ not 'a' in servers }} {{ (servers) }}", &v).unwrap(),
            "True True False ['a', 'b']"
        );
        assert_eq!(render("{{ 'x' in \"fox\" }}", &v).unwrap(), "True");
    }

    #[test]
    fn printing_undefined_else_and_refusals() {
        let v = vars(&["a", "b"], &[]);
        assert_eq!(
            render(
                "{{ servers }} {{ nope }}{# c #}\n{% if not pools %}none{% else %}some{% endif %}",
                &v
            )
            .unwrap(),
            "['a', 'b'] CI_MISSING_JINJA_VAR/nopenone"
        );
        let e = render("{% for s in servers %}", &v).unwrap_err();
        assert!(e.0.contains("ends before its '{% endfor %}'"), "{e}");
    }
}
