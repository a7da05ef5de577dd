//! OpenNebula's `context.sh`, read as 22.4's `parse_shell_config` reads it,
//! without running a shell. 22.4 feeds the file to `bash -e` (as the user
//! `nobody`) between two listings of every variable, and keeps the
//! variables the file set or changed. cloudboot interprets the part of the
//! shell language a context file uses: assignments (`NAME=word`,
//! `NAME+=word`, several on a line, `export`), `unset`, `:`/`true`,
//! comments, `;` and newlines, and in a word: single quotes, double quotes
//! (with `$NAME`/`${NAME}` and `\` escapes), `$'...'` (ANSI-C escapes),
//! `$"..."`, unquoted `\` escapes and line continuations. Anything else
//! (command substitution, arithmetic, `${NAME:-x}`, arrays, pipes, other
//! commands, tilde expansion) is refused with [`ShellError::Unsupported`],
//! naming the line, rather than guessed; a syntax error bash would refuse
//! (an unterminated quote) is [`ShellError::Syntax`], as 22.4's
//! `BrokenContextDiskDir`.
//!
//! Variables the file reads but never set come from bash's environment
//! under 22.4 (`$HOME`, `$PATH`); here they are empty.

use std::collections::HashMap;

/// Why a context file was not read.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum ShellError {
    /// What bash would refuse too (22.4: `Error processing context.sh`).
    #[error("line {line}: syntax error: {what}")]
    Syntax { line: usize, what: String },
    /// A readonly bash variable assigned: bash -e stops there.
    #[error("line {line}: {name}: readonly variable")]
    Readonly { line: usize, name: String },
    /// Shell that only running bash would answer exactly.
    #[error("line {line}: {what} is not supported in context.sh (only assignments, export, unset and quoting)")]
    Unsupported { line: usize, what: String },
}

/// Variables bash keeps to itself, which 22.4 leaves out of its answer
/// (`excluded`), and `IFS`, which it unsets before the second listing.
const EXCLUDED: [&str; 9] = [
    "EPOCHREALTIME",
    "EPOCHSECONDS",
    "RANDOM",
    "LINENO",
    "SECONDS",
    "_",
    "SRANDOM",
    "__v",
    "IFS",
];

/// bash's readonly variables: assigning one ends `bash -e`.
const READONLY: [&str; 6] = [
    "BASHOPTS",
    "BASH_VERSINFO",
    "EUID",
    "PPID",
    "SHELLOPTS",
    "UID",
];

/// The variables `content` sets, in the order bash lists them (`${!a*}` ..
/// `${!Z*}`, `${!_*}`: lower-case initials first, then upper case, then
/// `_`; byte order within each).
pub fn parse_shell_config(content: &str) -> Result<Vec<(String, String)>, ShellError> {
    let mut p = Parser {
        chars: content.chars().collect(),
        at: 0,
        line: 1,
        vars: HashMap::new(),
    };
    p.script()?;
    let mut out: Vec<(String, String)> = p
        .vars
        .into_iter()
        .filter(|(k, _)| !EXCLUDED.contains(&k.as_str()))
        .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
        .collect();
    let group = |name: &str| match name.as_bytes()[0] {
        b'a'..=b'z' => 0,
        b'A'..=b'Z' => 1,
        _ => 2,
    };
    out.sort_by(|(a, _), (b, _)| (group(a), a.as_bytes()).cmp(&(group(b), b.as_bytes())));
    Ok(out)
}

/// One word of a command: its text after expansion (bytes: `$'\xff'` is a
/// byte), and whether it was written as an assignment.
struct Word {
    /// `NAME`, `+` for `+=`, and the value, when the word is `NAME[+]=value`.
    assignment: Option<(String, bool, Vec<u8>)>,
    text: Vec<u8>,
}

struct Parser {
    chars: Vec<char>,
    at: usize,
    line: usize,
    /// Set so far; an unset variable is absent.
    vars: HashMap<String, Vec<u8>>,
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Characters that end an unquoted word.
fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn is_operator(c: char) -> bool {
    matches!(c, ';' | '&' | '|' | '<' | '>' | '(' | ')' | '\n')
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.chars.get(self.at + n).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn unsupported(&self, what: impl Into<String>) -> ShellError {
        ShellError::Unsupported {
            line: self.line,
            what: what.into(),
        }
    }

    fn syntax(&self, what: impl Into<String>) -> ShellError {
        ShellError::Syntax {
            line: self.line,
            what: what.into(),
        }
    }

    /// Blanks and line continuations between words.
    fn skip_blanks(&mut self) {
        loop {
            match self.peek() {
                Some(c) if is_blank(c) => {
                    self.bump();
                }
                Some('\\') if self.peek_at(1) == Some('\n') => {
                    self.bump();
                    self.bump();
                }
                _ => return,
            }
        }
    }

    fn skip_comment(&mut self) {
        while let Some(c) = self.peek() {
            if c == '\n' {
                return;
            }
            self.bump();
        }
    }

    /// The whole file: commands separated by newlines and `;`. bash reads
    /// the file (one `{ ... }` group) before it runs any of it, so a syntax
    /// error anywhere means nothing is set; errors here end the parse the
    /// same way, and the caller keeps nothing.
    fn script(&mut self) -> Result<(), ShellError> {
        loop {
            self.skip_blanks();
            match self.peek() {
                None => return Ok(()),
                Some('#') => self.skip_comment(),
                Some('\n') => {
                    self.bump();
                }
                Some(';') => return Err(self.syntax("unexpected token `;'")),
                Some(c) if is_operator(c) => {
                    return Err(self.unsupported(format!("the operator `{c}'")))
                }
                Some(_) => {
                    self.command()?;
                    self.skip_blanks();
                    match self.peek() {
                        None | Some('\n') | Some('#') => {}
                        Some(';') => {
                            self.bump();
                            if self.peek_at(0) == Some(';') {
                                return Err(self.syntax("unexpected token `;;'"));
                            }
                        }
                        Some(c) => return Err(self.unsupported(format!("the operator `{c}'"))),
                    }
                }
            }
        }
    }

    /// One simple command: leading assignments, then maybe a command word
    /// and its arguments.
    fn command(&mut self) -> Result<(), ShellError> {
        let mut assignments = Vec::new();
        let mut words: Vec<Word> = Vec::new();
        loop {
            self.skip_blanks();
            match self.peek() {
                None => break,
                Some('#') if !words.is_empty() || !assignments.is_empty() => break,
                Some(c) if is_operator(c) => break,
                _ => {}
            }
            let in_assignment_position = words.is_empty();
            let declaration = words
                .first()
                .is_some_and(|w| w.assignment.is_none() && w.text == b"export");
            let word = self.word(in_assignment_position || declaration, declaration)?;
            match word.assignment {
                Some(a) if in_assignment_position => assignments.push(a),
                _ => words.push(word),
            }
        }
        let Some(first) = words.first() else {
            for (name, append, value) in assignments {
                self.assign(name, append, value)?;
            }
            return Ok(());
        };
        let command = String::from_utf8_lossy(&first.text).into_owned();
        match command.as_str() {
            // A prefix assignment lasts for the command only (bash outside
            // POSIX mode), and these do nothing.
            ":" | "true" => Ok(()),
            "export" if assignments.is_empty() => {
                for w in words.into_iter().skip(1) {
                    match w.assignment {
                        Some((name, append, value)) => self.assign(name, append, value)?,
                        None if is_valid_name(&w.text) => {}
                        None => {
                            return Err(self.unsupported(format!(
                                "export of `{}'",
                                String::from_utf8_lossy(&w.text)
                            )))
                        }
                    }
                }
                Ok(())
            }
            "unset" if assignments.is_empty() => {
                for w in words.iter().skip(1) {
                    let name = String::from_utf8_lossy(&w.text).into_owned();
                    if !is_valid_name(&w.text) || name.starts_with('-') {
                        return Err(self.unsupported(format!("unset {name}")));
                    }
                    if READONLY.contains(&name.as_str()) {
                        return Err(ShellError::Readonly {
                            line: self.line,
                            name,
                        });
                    }
                    self.vars.remove(&name);
                }
                Ok(())
            }
            _ => Err(self.unsupported(format!("the command `{command}'"))),
        }
    }

    fn assign(&mut self, name: String, append: bool, value: Vec<u8>) -> Result<(), ShellError> {
        if READONLY.contains(&name.as_str()) {
            return Err(ShellError::Readonly {
                line: self.line,
                name,
            });
        }
        let slot = self.vars.entry(name).or_default();
        if !append {
            slot.clear();
        }
        slot.extend_from_slice(&value);
        Ok(())
    }

    /// One word. `assignment_ok`: a `NAME=` prefix makes it an assignment.
    /// `declaration`: an argument of `export`, where bash still expands
    /// braces (`export A={x,y}` sets A twice), which is refused.
    fn word(&mut self, assignment_ok: bool, declaration: bool) -> Result<Word, ShellError> {
        let mut assignment = None;
        if assignment_ok && self.peek().is_some_and(is_name_start) {
            let mut n = 0;
            while self.peek_at(n).is_some_and(is_name_char) {
                n += 1;
            }
            let (eq_at, append) = match self.peek_at(n) {
                Some('=') => (n, false),
                Some('+') if self.peek_at(n + 1) == Some('=') => (n + 1, true),
                _ => (usize::MAX, false),
            };
            if eq_at != usize::MAX {
                let name: String = self.chars[self.at..self.at + n].iter().collect();
                self.at += eq_at + 1;
                if self.peek() == Some('(') {
                    return Err(self.unsupported(format!("the array assignment to {name}")));
                }
                assignment = Some((name, append));
            }
        }
        let is_assignment = assignment.is_some();
        let text = self.word_text(is_assignment, declaration)?;
        Ok(Word {
            assignment: assignment.map(|(n, a)| (n, a, text.clone())),
            text,
        })
    }

    /// The rest of a word, expanded.
    fn word_text(&mut self, assignment: bool, declaration: bool) -> Result<Vec<u8>, ShellError> {
        let mut out: Vec<u8> = Vec::new();
        let mut first = true;
        let mut after_colon = false;
        while let Some(c) = self.peek() {
            if is_blank(c) || is_operator(c) {
                break;
            }
            let at_word_start = first;
            first = false;
            let colon_before = after_colon;
            after_colon = false;
            match c {
                '\'' => {
                    self.bump();
                    loop {
                        match self.bump() {
                            None => {
                                return Err(
                                    self.syntax("unexpected end of file looking for matching `''")
                                )
                            }
                            Some('\'') => break,
                            Some(ch) => push_char(&mut out, ch),
                        }
                    }
                }
                '"' => {
                    self.bump();
                    self.double_quoted(&mut out)?;
                }
                '\\' => {
                    self.bump();
                    match self.bump() {
                        // A line continuation.
                        Some('\n') => {}
                        Some(ch) => push_char(&mut out, ch),
                        None => push_char(&mut out, '\\'),
                    }
                }
                '$' => {
                    self.bump();
                    match self.peek() {
                        Some('\'') => {
                            self.bump();
                            self.ansi_c(&mut out)?;
                        }
                        Some('"') => {
                            self.bump();
                            self.double_quoted(&mut out)?;
                        }
                        _ => self.dollar(&mut out)?,
                    }
                }
                '`' => return Err(self.unsupported("command substitution (`...`)")),
                '~' if at_word_start || (assignment && colon_before) => {
                    return Err(self.unsupported("tilde expansion"))
                }
                '{' | '*' | '?' | '[' if !assignment || declaration => {
                    return Err(self.unsupported(format!(
                        "`{c}' outside quotes (brace or pathname expansion)"
                    )))
                }
                _ => {
                    self.bump();
                    if c == ':' {
                        after_colon = true;
                    }
                    push_char(&mut out, c);
                }
            }
        }
        Ok(out)
    }

    /// After an opening `"`, up to and past the closing one.
    fn double_quoted(&mut self, out: &mut Vec<u8>) -> Result<(), ShellError> {
        loop {
            match self.bump() {
                None => return Err(self.syntax("unexpected end of file looking for matching `\"'")),
                Some('"') => return Ok(()),
                Some('\\') => match self.peek() {
                    Some('\n') => {
                        self.bump();
                    }
                    Some(ch @ ('$' | '`' | '"' | '\\')) => {
                        self.bump();
                        push_char(out, ch);
                    }
                    _ => out.push(b'\\'),
                },
                Some('$') => self.dollar(out)?,
                Some('`') => return Err(self.unsupported("command substitution (`...`)")),
                Some(ch) => push_char(out, ch),
            }
        }
    }

    /// After a `$` that does not start `$'` or `$"` (outside double quotes)
    /// or any `$` inside them.
    fn dollar(&mut self, out: &mut Vec<u8>) -> Result<(), ShellError> {
        match self.peek() {
            Some(c) if is_name_start(c) => {
                let mut name = String::new();
                while let Some(c) = self.peek().filter(|c| is_name_char(*c)) {
                    self.bump();
                    name.push(c);
                }
                self.expand(&name, out)
            }
            Some('{') => {
                self.bump();
                let mut name = String::new();
                while let Some(c) = self.peek().filter(|c| is_name_char(*c)) {
                    self.bump();
                    name.push(c);
                }
                if self.peek() != Some('}') || !name.starts_with(is_name_start) {
                    return Err(self.unsupported(format!("the expansion ${{{name}...")));
                }
                self.bump();
                self.expand(&name, out)
            }
            Some('(') => Err(self.unsupported("command substitution or arithmetic ($(...))")),
            Some(c) if c.is_ascii_digit() || "?$!#@*-".contains(c) => {
                Err(self.unsupported(format!("the special parameter ${c}")))
            }
            // A `$` before anything else is itself.
            _ => {
                out.push(b'$');
                Ok(())
            }
        }
    }

    fn expand(&self, name: &str, out: &mut Vec<u8>) -> Result<(), ShellError> {
        if let Some(v) = self.vars.get(name) {
            out.extend_from_slice(v);
        }
        Ok(())
    }

    /// After `$'`: bash's ANSI-C quoting, up to and past the closing `'`.
    /// A NUL ends the string's value (bash keeps C strings), the rest of
    /// the quoted text is still read.
    fn ansi_c(&mut self, out: &mut Vec<u8>) -> Result<(), ShellError> {
        let mut piece: Vec<u8> = Vec::new();
        loop {
            let Some(c) = self.bump() else {
                return Err(self.syntax("unexpected end of file looking for matching `''"));
            };
            match c {
                '\'' => break,
                '\\' => {
                    let Some(e) = self.bump() else {
                        return Err(self.syntax("unexpected end of file looking for matching `''"));
                    };
                    match e {
                        'a' => piece.push(7),
                        'b' => piece.push(8),
                        'e' | 'E' => piece.push(0x1b),
                        'f' => piece.push(0x0c),
                        'n' => piece.push(b'\n'),
                        'r' => piece.push(b'\r'),
                        't' => piece.push(b'\t'),
                        'v' => piece.push(0x0b),
                        '\\' | '\'' | '"' | '?' => piece.push(e as u8),
                        '0'..='7' => {
                            let mut v = e.to_digit(8).unwrap_or(0);
                            for _ in 0..2 {
                                match self.peek().and_then(|c| c.to_digit(8)) {
                                    Some(d) => {
                                        self.bump();
                                        v = v * 8 + d;
                                    }
                                    None => break,
                                }
                            }
                            piece.push((v & 0xff) as u8);
                        }
                        'x' => match self.hex_digits(2) {
                            Some(v) => piece.push(v as u8),
                            None => piece.extend_from_slice(b"\\x"),
                        },
                        'u' | 'U' => {
                            let max = if e == 'u' { 4 } else { 8 };
                            match self.hex_digits(max) {
                                Some(v) => match char::from_u32(v) {
                                    Some(ch) => push_char(&mut piece, ch),
                                    None => {
                                        return Err(self.unsupported(format!(
                                            "the escape \\{e}{v:x} (no such character)"
                                        )))
                                    }
                                },
                                None => {
                                    piece.push(b'\\');
                                    push_char(&mut piece, e);
                                }
                            }
                        }
                        'c' => match self.bump() {
                            Some(x) if x.is_ascii() => piece.push((x as u8) & 0x1f),
                            _ => return Err(self.unsupported("the escape \\c")),
                        },
                        other => {
                            piece.push(b'\\');
                            push_char(&mut piece, other);
                        }
                    }
                }
                other => push_char(&mut piece, other),
            }
        }
        if let Some(nul) = piece.iter().position(|b| *b == 0) {
            piece.truncate(nul);
        }
        out.extend_from_slice(&piece);
        Ok(())
    }

    /// Up to `max` hex digits; `None` when there is none.
    fn hex_digits(&mut self, max: usize) -> Option<u32> {
        let mut v: u32 = 0;
        let mut n = 0;
        while n < max {
            match self.peek().and_then(|c| c.to_digit(16)) {
                Some(d) => {
                    self.bump();
                    v = v * 16 + d;
                    n += 1;
                }
                None => break,
            }
        }
        (n > 0).then_some(v)
    }
}

fn is_valid_name(text: &[u8]) -> bool {
    text.first()
        .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
        && text.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

fn push_char(out: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(s: &str) -> Vec<(String, String)> {
        parse_shell_config(s).unwrap()
    }

    #[test]
    fn quoting_and_references() {
        assert_eq!(
            parsed("B=\"$A y\"\nA='x'\nC=${A}z D=$'a\\tb\\n' # c\nexport E=1 F\n"),
            [
                ("A".into(), "x".into()),
                ("B".into(), " y".into()),
                ("C".into(), "xz".into()),
                ("D".into(), "a\tb\n".into()),
                ("E".into(), "1".into())
            ]
        );
    }

    #[test]
    fn what_bash_refuses_or_only_bash_knows() {
        assert!(matches!(
            parse_shell_config("A='x"),
            Err(ShellError::Syntax { line: 1, .. })
        ));
        assert!(matches!(
            parse_shell_config("A=1\nB=$(id)"),
            Err(ShellError::Unsupported { line: 2, .. })
        ));
        assert!(matches!(
            parse_shell_config("UID=3"),
            Err(ShellError::Readonly { .. })
        ));
        assert!(parse_shell_config("rm -rf /").is_err());
    }
}
