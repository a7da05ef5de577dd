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

/// What `shlex.split` and `util.load_shell_content` refuse, in Python's
/// words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShlexError {
    #[error("No closing quotation")]
    NoClosingQuotation,
    #[error("No escaped character")]
    NoEscapedCharacter,
    /// A word of shell content that is not `KEY=value` (Python's unpacking).
    #[error("not enough values to unpack (expected 2, got 1)")]
    NotKeyValue,
}

/// `util.load_shell_content(text)`: the `KEY=value` words of
/// `shlex.split(text, comments=True)`, in order, empty values left out; a
/// word without `=` fails as Python's unpacking does.
pub fn load_shell_content(text: &str) -> Result<Vec<(String, String)>, ShlexError> {
    let mut vars = Vec::new();
    for word in shlex_split(text)? {
        let Some((key, value)) = word.split_once('=') else {
            return Err(ShlexError::NotKeyValue);
        };
        if !value.is_empty() {
            vars.push((key.to_string(), value.to_string()));
        }
    }
    Ok(vars)
}

/// Python's `shlex.split(text, comments=True)` (POSIX mode, whitespace
/// splitting): `'...'` literal, `"..."` with `\` escaping only `"` and
/// `\`, `\` escaping any character outside quotes, `#` starting a comment
/// to the end of the line wherever a word may continue. The errors are
/// shlex's `ValueError` texts.
pub fn shlex_split(text: &str) -> Result<Vec<String>, ShlexError> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Space,
        Word,
        Quote(char),
        Escape(Option<char>),
    }
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut state = State::Space;
    let mut chars = text.chars();
    let finish = |word: &mut String, quoted: &mut bool, words: &mut Vec<String>| {
        if !word.is_empty() || *quoted {
            words.push(std::mem::take(word));
        }
        *quoted = false;
    };
    while let Some(c) = chars.next() {
        match state {
            State::Space | State::Word => match c {
                ' ' | '\t' | '\r' | '\n' => {
                    finish(&mut word, &mut quoted, &mut words);
                    state = State::Space;
                }
                '#' => {
                    for c in chars.by_ref() {
                        if c == '\n' {
                            break;
                        }
                    }
                    finish(&mut word, &mut quoted, &mut words);
                    state = State::Space;
                }
                '\'' | '"' => {
                    quoted = true;
                    state = State::Quote(c);
                }
                '\\' => state = State::Escape(None),
                _ => {
                    word.push(c);
                    state = State::Word;
                }
            },
            State::Quote(q) => {
                if c == q {
                    state = State::Word;
                } else if c == '\\' && q == '"' {
                    state = State::Escape(Some(q));
                } else {
                    word.push(c);
                }
            }
            State::Escape(in_quote) => {
                // Inside double quotes, a backslash stays unless it escapes
                // the quote or itself.
                if let Some(q) = in_quote {
                    if c != q && c != '\\' {
                        word.push('\\');
                    }
                }
                word.push(c);
                state = in_quote.map_or(State::Word, State::Quote);
            }
        }
    }
    match state {
        State::Quote(_) => Err(ShlexError::NoClosingQuotation),
        State::Escape(_) => Err(ShlexError::NoEscapedCharacter),
        _ => {
            finish(&mut word, &mut quoted, &mut words);
            Ok(words)
        }
    }
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

    #[test]
    fn shell_content_is_split_as_python_shlex_splits_it() {
        let split = |t: &str| shlex_split(t).unwrap();
        assert_eq!(split("LANG=en_US.UTF-8\n"), ["LANG=en_US.UTF-8"]);
        assert_eq!(
            split("# c\nLANG='en US' # tail\nLC_ALL=\"a\\\"b\\c\"x\n"),
            ["LANG=en US", "LC_ALL=a\"b\\cx"]
        );
        assert_eq!(split("A=b#c d\nE=f"), ["A=b", "E=f"]);
        assert_eq!(split("A=\\ b ''"), ["A= b", ""]);
        assert_eq!(shlex_split("A='b"), Err(ShlexError::NoClosingQuotation));
        assert_eq!(shlex_split("A=\\"), Err(ShlexError::NoEscapedCharacter));
        assert_eq!(
            load_shell_content("A= B=1 garbage"),
            Err(ShlexError::NotKeyValue)
        );
        assert_eq!(
            load_shell_content("A= B=1\n"),
            Ok(vec![("B".into(), "1".into())])
        );
    }
}
