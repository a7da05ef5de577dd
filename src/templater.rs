//! cloud-init's `templater`, the parts every template user shares: which
//! renderer a template asks for (`detect_template`) and the basic renderer
//! (`basic_render`). What a name means (and what an unknown one is) is the
//! caller's: hosts templates, final_message and phone_home's URL each give
//! their own parameters. The jinja renderer is [`crate::jinja`], one engine
//! for every kind of template.

use crate::py::str::is_space as py_space;

/// A template cloudboot cannot render as cloud-init would.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A header naming a renderer other than `basic` and `jinja` (cloud-init's
    /// `ValueError`).
    #[error("Unknown template rendering type '{0}' requested")]
    UnknownRenderer(String),
}

/// The renderer a template's first line names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// No header, or `## template: basic`.
    Basic,
    Jinja,
}

/// `detect_template`: a first line matching `##\s*template:(.*)` (any case)
/// names the renderer and is not part of the template; without it the whole
/// text is a basic template. Returns the kind, the template text, and
/// whether there was a header. Any other renderer (`cheetah` too: 22.4
/// dropped it) is cloud-init's `ValueError`.
pub fn detect(text: &str) -> Result<(Kind, &str, bool), TemplateError> {
    let (ident, rest) = text.split_once('\n').unwrap_or((text, ""));
    let kind = ident
        .strip_prefix("##")
        .map(|r| r.trim_start_matches(py_space))
        .filter(|r| {
            r.len() >= 9 && r.is_char_boundary(9) && r[..9].eq_ignore_ascii_case("template:")
        })
        .map(|r| r[9..].to_lowercase().trim_matches(py_space).to_string());
    match kind.as_deref() {
        None => Ok((Kind::Basic, text, false)),
        Some("basic") => Ok((Kind::Basic, rest, true)),
        Some("jinja") => Ok((Kind::Jinja, rest, true)),
        Some(other) => Err(TemplateError::UnknownRenderer(other.to_string())),
    }
}

/// `basic_render`: every match of `\$\{([A-Za-z0-9_.]+)\}|\$([A-Za-z0-9_.]+)`
/// is replaced by `value(name)`; the first error stops the rendering (where
/// cloud-init's replacer raises; what an unknown name is, is the caller's
/// error). A `$` that starts no match stays as it is.
pub fn basic_render<E>(
    text: &str,
    mut value: impl FnMut(&str) -> Result<String, E>,
) -> Result<String, E> {
    let is_name = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'.';
    let bytes = text.as_bytes();
    let name_len = |start: usize| {
        bytes
            .get(start..)
            .map_or(0, |r| r.iter().take_while(|b| is_name(**b)).count())
    };
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        // `${name}` first, then `$name`, as the alternation tries them.
        let braced = (bytes.get(i + 1) == Some(&b'{'))
            .then(|| (i + 2, name_len(i + 2)))
            .filter(|&(start, len)| len > 0 && bytes.get(start + len) == Some(&b'}'))
            .map(|(start, len)| (&text[start..start + len], start + len + 1));
        let found = braced.or_else(|| {
            let (start, len) = (i + 1, name_len(i + 1));
            (len > 0).then(|| (&text[start..start + len], start + len))
        });
        let Some((name, end)) = found else {
            i += 1;
            continue;
        };
        out.push_str(&text[copied..i]);
        out.push_str(&value(name)?);
        i = end;
        copied = end;
    }
    out.push_str(&text[copied..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(text: &str) -> Result<String, String> {
        basic_render(text, |name| match name {
            "a" => Ok("A".into()),
            "a.b" => Ok("AB".into()),
            other => Err(format!("KeyError: '{other}'")),
        })
    }

    #[test]
    fn basic_render_matches_cloud_inits_regex() {
        assert_eq!(render("x $a ${a} ${a.b}y $a.b").unwrap(), "x A A ABy AB");
        // Not matches: a lone `$`, `$` before a non-name, `${` unclosed.
        assert_eq!(render("$ $- a$").unwrap(), "$ $- a$");
        assert_eq!(render("${a").unwrap(), "${a");
        assert_eq!(render("${}").unwrap(), "${}");
        assert_eq!(render("cost $5").unwrap_err(), "KeyError: '5'");
        assert_eq!(render("é$aé").unwrap(), "éAé");
    }

    #[test]
    fn detect_reads_the_header_as_cloud_init_does() {
        assert_eq!(detect("x\ny").unwrap(), (Kind::Basic, "x\ny", false));
        assert_eq!(
            detect("## template: jinja\n{{a}}").unwrap(),
            (Kind::Jinja, "{{a}}", true)
        );
        assert_eq!(
            detect("##Template:JINJA \nz").unwrap(),
            (Kind::Jinja, "z", true)
        );
        assert_eq!(
            detect("## template: basic").unwrap(),
            (Kind::Basic, "", true)
        );
        assert!(detect("## template:cheetah\nq").is_err());
        assert_eq!(
            detect("## template: mako\n").unwrap_err().to_string(),
            "Unknown template rendering type 'mako' requested"
        );
        // `#` alone or text before `##` is no header.
        assert_eq!(detect("# template: jinja\n").unwrap().0, Kind::Basic);
        assert_eq!(detect(" ## template: jinja\n").unwrap().0, Kind::Basic);
    }
}
