//! Yum's `.repo` files as cloud-init 22.4's `cc_yum_add_repo` writes them:
//! one section per file through Python's `configparser.ConfigParser`
//! (`key = value`, a value's further lines indented by a tab, a blank line
//! after the section), under a `# Created by cloud-init on <RFC 2822
//! date>` line. The RHEL family's format (yum and dnf read it alike).

use std::time::SystemTime;

use super::Distro;
use crate::value::{python_str_repr, Value};

/// What `ConfigParser` refuses to write.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RepoFileError {
    /// `BasicInterpolation.before_set`: a `%` that is neither `%%` nor
    /// `%(name)s` (Python's own words; the position is in the value with
    /// those removed).
    #[error("invalid interpolation syntax in {} at position {position}", python_str_repr(.value))]
    Interpolation { value: String, position: usize },
    /// `ConfigParser.add_section("DEFAULT")`.
    #[error("Invalid section name: {}", python_str_repr(.0))]
    SectionName(String),
}

impl Distro {
    /// The `.repo` file for `repo_id` with `options` (keys as given, values
    /// already through [`repo_value`]), dated `now`.
    pub fn yum_repo_file(
        &self,
        repo_id: &str,
        options: &[(String, String)],
        now: SystemTime,
    ) -> Result<String, RepoFileError> {
        repo_file(repo_id, options, &time_rfc2822(now))
    }

    /// `_format_repo_value` (see [`repo_value`]).
    pub fn yum_repo_value(&self, v: &Value) -> String {
        repo_value(v)
    }
}

/// `util.time_rfc2822()`: `time.strftime("%a, %d %b %Y %H:%M:%S %z",
/// time.gmtime())`.
pub fn time_rfc2822(now: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(now)
        .format("%a, %d %b %Y %H:%M:%S +0000")
        .to_string()
}

/// `_format_repo_value`: a boolean as `1`/`0` ("yum prefers 1/0"), a list
/// as its items' values one per line, a string as it is, anything else as
/// Python's `str()`.
pub fn repo_value(v: &Value) -> String {
    match v {
        Value::Bool(b) => u8::from(*b).to_string(),
        Value::Seq(items) => items.iter().map(repo_value).collect::<Vec<_>>().join("\n"),
        Value::Str(s) => s.clone(),
        other => other.python_str_any(),
    }
}

/// `_format_repository_config(repo_id, config)`: the file's text, `date`
/// being `util.time_rfc2822()`.
pub fn repo_file(
    repo_id: &str,
    options: &[(String, String)],
    date: &str,
) -> Result<String, RepoFileError> {
    if repo_id == "DEFAULT" {
        return Err(RepoFileError::SectionName(repo_id.into()));
    }
    let mut out = format!("# Created by cloud-init on {date}\n[{repo_id}]\n");
    for (key, value) in options {
        check_interpolation(value)?;
        out.push_str(&format!("{key} = {}\n", value.replace('\n', "\n\t")));
    }
    out.push('\n');
    Ok(out)
}

/// `BasicInterpolation.before_set`: with `%%` and every `%(name)s` taken
/// out, no `%` may be left.
fn check_interpolation(value: &str) -> Result<(), RepoFileError> {
    let rest = value.replace("%%", "");
    // `%\(([^)]+)\)s` removed, left to right.
    let mut kept = String::new();
    let mut s = rest.as_str();
    while let Some(i) = s.find("%(") {
        let after = &s[i + 2..];
        match after.find(')') {
            Some(close) if close > 0 && after[close + 1..].starts_with('s') => {
                kept.push_str(&s[..i]);
                s = &after[close + 2..];
            }
            _ => {
                kept.push_str(&s[..i + 2]);
                s = after;
            }
        }
    }
    kept.push_str(s);
    match kept.find('%') {
        Some(byte) => Err(RepoFileError::Interpolation {
            value: value.into(),
            position: kept[..byte].chars().count(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_signs_are_refused_as_configparser_refuses_them() {
        assert!(check_interpolation("a%%b%(x)sc").is_ok());
        assert_eq!(
            check_interpolation("http://r/a%20b")
                .unwrap_err()
                .to_string(),
            "invalid interpolation syntax in 'http://r/a%20b' at position 10"
        );
        assert!(check_interpolation("%()s").is_err());
    }

    #[test]
    fn a_section_with_lists_and_booleans() {
        let opts = vec![
            (
                "baseurl".to_string(),
                repo_value(&Value::Seq(vec![Value::str("a"), Value::str("b")])),
            ),
            ("enabled".to_string(), repo_value(&Value::Bool(false))),
        ];
        assert_eq!(
            repo_file("r", &opts, "D").unwrap(),
            "# Created by cloud-init on D\n[r]\nbaseurl = a\n\tb\nenabled = 0\n\n"
        );
    }
}
