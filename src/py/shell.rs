//! Quoting a word for the POSIX shell, the two ways cloud-init does:
//! Python's `shlex.quote` (only when needed; a `'` as `'"'"'`) and
//! `util.shellify`'s (always; a `'` as `'\''`). Both read back to the same
//! word; the files cloud-init writes show which one it used.

use crate::value::Value;

/// Whether `shlex.quote` leaves `s` as it is: not empty, and only
/// `[\w@%+=:,./-]` with `\w` ASCII (`re.ASCII`).
pub fn shlex_safe(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&b))
}

/// Python's `shlex.quote`.
pub fn shlex_quote(s: &str) -> String {
    if shlex_safe(s) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\"'\"'"))
    }
}

/// `util.shellify`'s quoting of one word of a list command: always in
/// single quotes, a `'` written `'\''`.
pub fn shellify_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// What `util.shellify` refuses, in its words (its `TypeError`s).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShellifyError {
    /// The commands are not a list (the value's Python type).
    #[error("Input to shellify was type '{0}'. Expected list or tuple.")]
    NotAList(&'static str),
    /// Command `index` is neither a list, a string nor null.
    #[error("Unable to shellify type '{kind}' (runcmd[{index}]). Expected list, string, tuple. Got: {shown}")]
    BadCommand {
        index: usize,
        kind: &'static str,
        shown: String,
    },
}

/// `util.shellify(cmdlist)`: `#!/bin/sh`, then one line per command; a
/// list command has every argument quoted ([`shellify_quote`]), a string
/// is written as is, a null skipped.
pub fn shellify(cmds: &Value) -> Result<String, ShellifyError> {
    let items = cmds
        .as_seq()
        .ok_or_else(|| ShellifyError::NotAList(cmds.type_name()))?;
    let mut script = String::from("#!/bin/sh\n");
    for (i, item) in items.iter().enumerate() {
        match item {
            Value::Seq(args) => {
                let quoted: Vec<String> = args
                    .iter()
                    .map(|a| shellify_quote(&a.python_str()))
                    .collect();
                script.push_str(&quoted.join(" "));
                script.push('\n');
            }
            Value::Str(s) => {
                script.push_str(s);
                script.push('\n');
            }
            Value::Null => {}
            other => {
                return Err(ShellifyError::BadCommand {
                    index: i,
                    kind: other.type_name(),
                    shown: other.python_str(),
                })
            }
        }
    }
    Ok(script)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_as_python_and_cloud_init_do() {
        // What Python 3.11's shlex.quote answers.
        assert_eq!(shlex_quote("a-b_c@%+=:,./"), "a-b_c@%+=:,./");
        assert_eq!(shlex_quote(""), "''");
        assert_eq!(shlex_quote("a b"), "'a b'");
        assert_eq!(shlex_quote("it's"), "'it'\"'\"'s'");
        assert_eq!(shlex_quote("é"), "'é'");
        assert_eq!(shellify_quote("ls"), "'ls'");
        assert_eq!(shellify_quote("it's"), "'it'\\''s'");
    }

    /// Moved from `runcmd`.
    #[test]
    fn shellify_matches_cloud_init() {
        let cmds = Value::Seq(vec![
            Value::Seq(vec![Value::str("echo"), Value::str("it's")]),
            Value::str("ls -l"),
            Value::Null,
            Value::Seq(vec![Value::str("sleep"), Value::Int(1)]),
        ]);
        assert_eq!(
            shellify(&cmds).unwrap(),
            "#!/bin/sh\n'echo' 'it'\\''s'\nls -l\n'sleep' '1'\n"
        );
        assert!(shellify(&Value::str("ls")).is_err());
        assert!(shellify(&Value::Seq(vec![Value::Int(3)])).is_err());
    }
}
