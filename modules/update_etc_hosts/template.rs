//! The hosts templates rendered as cloud-init 22.4's `templater` renders
//! them: the basic renderer (`$name`, `${name}`) and the jinja subset
//! hosts templates use.

use crate::module::prelude::*;

/// `templater.render_string(text, params)`: a `## template: jinja` header
/// selects jinja (variables and comments, with `-` whitespace control and
/// `trim_blocks`), `## template: basic` or no header the basic renderer
/// (`$name`, `${name}`). A header-less template with a Cheetah block comment
/// (`#* ... *#`, cloud-init 0.7.5's own templates) has the comment removed
/// first, as Cheetah did: 22.4 would copy it into `/etc/hosts`.
pub fn render_template(text: &str, params: &[(&str, &str)]) -> Result<String, ConfigError> {
    use templater::Kind;
    match templater::detect(text)? {
        (Kind::Basic, _, false) => basic_render(&strip_cheetah_comments(text), params),
        (Kind::Basic, body, _) => basic_render(body, params),
        (Kind::Jinja, body, _) => {
            let add = if body.ends_with('\n') { "\n" } else { "" };
            Ok(format!("{}{add}", jinja_render(body, params)?))
        }
    }
}

/// Cheetah's `#* ... *#` block comments, removed with the rest of a line
/// they end.
fn strip_cheetah_comments(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("#*") {
        let Some(end) = rest[start + 2..].find("*#") else {
            break;
        };
        out.push_str(&rest[..start]);
        let mut after = &rest[start + 2 + end + 2..];
        // A comment that is whole lines leaves no blank line behind.
        let line_start = out.is_empty() || out.ends_with('\n');
        if line_start {
            if let Some(r) = after.strip_prefix('\n') {
                after = r;
            }
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// `templater.basic_render` over the hosts parameters; a name that is not a
/// parameter is an error (cloud-init's KeyError).
fn basic_render(text: &str, params: &[(&str, &str)]) -> Result<String, ConfigError> {
    templater::basic_render(text, |name| {
        let error = |what: String| ConfigError::new("manage_etc_hosts", what);
        if name.contains('.') {
            return Err(error(format!(
                "the template variable '{name}' is not a hosts template parameter"
            )));
        }
        params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
            .ok_or_else(|| {
                error(format!(
                    "the template variable '{name}' is not defined (KeyError)"
                ))
            })
    })
}

/// cloud-init's jinja (the one engine, [`jinja::render_strings`]) over
/// the hosts parameters, without the trailing newline `render_string` adds
/// back (the caller adds it).
fn jinja_render(text: &str, params: &[(&str, &str)]) -> Result<String, ConfigError> {
    let mut out = jinja::render_strings(text, params)?;
    if text.ends_with('\n') {
        out.pop();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jinja_comments_whitespace_control_and_missing_names() {
        let p = [("hostname", "h"), ("fqdn", "h.d")];
        assert_eq!(jinja_render("a\n{# c #}\nb\n", &p).unwrap(), "a\nb");
        assert_eq!(jinja_render("a {# c -#}  \n\n b", &p).unwrap(), "a b");
        assert_eq!(jinja_render("a\n  {#- c #}\nb", &p).unwrap(), "ab");
        assert_eq!(
            jinja_render("{{fqdn}} {{ x }}\n\n", &p).unwrap(),
            "h.d CI_MISSING_JINJA_VAR/x\n"
        );
        assert_eq!(
            jinja_render("{% if fqdn %}{{ hostname }}{% endif %}", &p).unwrap(),
            "h"
        );
        assert!(jinja_render("{% if x %}", &p).is_err());
    }

    #[test]
    fn basic_render_and_cheetah_comments() {
        let p = [("hostname", "h"), ("fqdn", "h.d")];
        assert_eq!(
            render_template("#*\n  note\n*#\n127.0.0.1 ${fqdn} $hostname \n", &p).unwrap(),
            "127.0.0.1 h.d h \n"
        );
        assert!(render_template("$nope\n", &p).is_err());
        assert_eq!(
            render_template("## template: basic\ncost $5 $\n", &p).unwrap_err(),
            "the template variable '5' is not defined (KeyError)"
        );
        assert!(render_template("## template:cheetah\nx\n", &p).is_err());
    }
}
