//! zypper's repository files and `/etc/zypp/zypp.conf` as cloud-init 22.4's
//! `cc_zypper_add_repo` writes them (the SUSE family's formats): a `.repo`
//! file is one section of a `configobj.ConfigObj` (`[id]`, then
//! `key = value` lines, values quoted as configobj quotes them, no newline at
//! the end); `zypp.conf` gets a `# Added via cloud.cfg` block of
//! `key=value` lines appended to its text.

use super::Distro;
use crate::value::Value;

/// What configobj (or Python on the way to it) refuses.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ZypperError {
    /// configobj's `ConfigObjError`.
    #[error("Value \"{0}\" cannot be safely quoted.")]
    Unquotable(String),
    /// `"\n    ".join(...)` of a list holding a boolean (which 22.4's
    /// value formatting makes an int).
    #[error("sequence item {0}: expected str instance, int found")]
    NotAString(usize),
}

/// configobj's characters that make a single-line value need quotes at
/// either end (`wspace_plus`).
const WSPACE_PLUS: &[char] = &[' ', '\r', '\n', '\x0b', '\t', '\'', '"'];

/// `ConfigObj._quote(value, multiline)` with configobj's defaults
/// (`list_values` on, `write_empty_values` off).
fn quote(value: &str, multiline: bool) -> Result<String, ZypperError> {
    if value.is_empty() {
        return Ok("\"\"".into());
    }
    let (squote, dquote) = (value.contains('\''), value.contains('"'));
    let need_triple = multiline && ((squote && dquote) || value.contains('\n'));
    let hash_triple_quote = multiline && !need_triple && squote && dquote && value.contains('#');
    let single = |v: &str| -> Result<String, ZypperError> {
        // `_get_single_quote`.
        if squote && dquote {
            Err(ZypperError::Unquotable(v.into()))
        } else if dquote {
            Ok(format!("'{v}'"))
        } else {
            Ok(format!("\"{v}\""))
        }
    };
    if !need_triple && !hash_triple_quote {
        if value.contains('\n') {
            return Err(ZypperError::Unquotable(value.into()));
        }
        let first = value.chars().next().unwrap_or(' ');
        let last = value.chars().last().unwrap_or(' ');
        if WSPACE_PLUS.contains(&first) || WSPACE_PLUS.contains(&last) || value.contains(',') {
            return single(value);
        }
        if value.contains('#') {
            return single(value);
        }
        return Ok(value.to_string());
    }
    // `_get_triple_quote` (configobj's names for the two are swapped).
    if value.contains("\"\"\"") && value.contains("'''") {
        return Err(ZypperError::Unquotable(value.into()));
    }
    Ok(if value.contains("\"\"\"") {
        format!("\"\"\"{value}\"\"\"")
    } else {
        format!("'''{value}'''")
    })
}

/// `_format_repo_value`: a boolean as `1`/`0`, a list as its items on
/// indented lines, anything else as Python's `str()`.
fn repo_value(v: &Value) -> Result<String, ZypperError> {
    match v {
        Value::Bool(b) => Ok(u8::from(*b).to_string()),
        Value::Seq(items) => {
            let mut parts = Vec::new();
            for (i, item) in items.iter().enumerate() {
                if matches!(item, Value::Bool(_)) {
                    return Err(ZypperError::NotAString(i));
                }
                parts.push(repo_value(item)?);
            }
            Ok(parts.join("\n    "))
        }
        other => Ok(other.python_str_any()),
    }
}

impl Distro {
    /// `_format_repository_config(repo_id, options)`: the `.repo` file.
    pub fn zypper_repo_file(
        &self,
        repo_id: &str,
        options: &[(String, Value)],
    ) -> Result<String, ZypperError> {
        let mut lines = vec![format!("[{}]", quote(repo_id, false)?)];
        for (key, value) in options {
            lines.push(format!(
                "{} = {}",
                quote(key, false)?,
                quote(&repo_value(value)?, true)?
            ));
        }
        Ok(lines.join("\n"))
    }

    /// `_write_zypp_config`'s new text: `current` with the settings (those
    /// with a true value, as `key=value`) appended under `# Added via
    /// cloud.cfg`; `current` as it is when there is none.
    pub fn zypp_conf(&self, current: &str, settings: &[(String, String)]) -> String {
        if settings.is_empty() {
            return current.to_string();
        }
        let mut lines = vec!["# Added via cloud.cfg".to_string()];
        lines.extend(settings.iter().map(|(k, v)| format!("{k}={v}")));
        format!("{current}{}", lines.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_as_configobj_quotes_them() {
        assert_eq!(quote("plain", true).unwrap(), "plain");
        assert_eq!(quote("", true).unwrap(), "\"\"");
        assert_eq!(quote("a # b", true).unwrap(), "\"a # b\"");
        assert_eq!(quote("say \"hi\", ok", true).unwrap(), "'say \"hi\", ok'");
        assert_eq!(quote(" lead", true).unwrap(), "\" lead\"");
        assert_eq!(quote("a\nb", true).unwrap(), "'''a\nb'''");
        assert_eq!(
            quote("a'''\n\"\"\"", true).unwrap_err().to_string(),
            "Value \"a'''\n\"\"\"\" cannot be safely quoted."
        );
        assert!(quote("a\nb", false).is_err());
    }
}
