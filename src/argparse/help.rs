//! Help and usage text in argparse's layout: how an argument is shown, the
//! usage line wrapped as `HelpFormatter` wraps it, the column width.

use super::*;

/// How an argument is shown in the help: `-h, --help`,
/// `--file FILES, -f FILES`, `varname`.
pub(super) fn invocation(a: &Arg) -> String {
    if a.is_positional() {
        a.shown_metavar()
    } else if a.takes_value() {
        let m = a.shown_values();
        a.flags
            .iter()
            .map(|f| format!("{f} {m}"))
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        a.flags.join(", ")
    }
}

/// The help column, as `HelpFormatter` works it out.
pub(super) struct Layout {
    pub(super) width: usize,
    pub(super) help_position: usize,
}

impl Layout {
    pub(super) fn new(width: usize, max_action_length: usize) -> Layout {
        let max_help_position = 24.min(width.saturating_sub(20).max(4));
        Layout {
            width,
            help_position: (max_action_length + 2).min(max_help_position),
        }
    }

    /// One entry: the invocation, then its help beside it (or under it when
    /// the invocation is too long), wrapped.
    pub(super) fn item(&self, indent: usize, header: &str, help: &str) -> String {
        let help_width = self.width.saturating_sub(self.help_position).max(11);
        let action_width = self.help_position.saturating_sub(indent + 2);
        let pad = " ".repeat(indent);
        if help.is_empty() {
            return format!("{pad}{header}\n");
        }
        let lines = wrap(help, help_width);
        let mut out = if header.len() <= action_width {
            format!("{pad}{header:<action_width$}  {}\n", lines[0])
        } else {
            format!(
                "{pad}{header}\n{}{}\n",
                " ".repeat(self.help_position),
                lines[0]
            )
        };
        for l in &lines[1..] {
            out.push_str(&format!("{}{l}\n", " ".repeat(self.help_position)));
        }
        out
    }
}

/// argparse's width: `$COLUMNS`, else the terminal's, else 80; less 2.
pub(super) fn help_width() -> usize {
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| *c > 0)
        .or_else(terminal_columns)
        .unwrap_or(80);
    columns.saturating_sub(2)
}

pub(super) fn terminal_columns() -> Option<usize> {
    // SAFETY: TIOCGWINSZ fills a winsize; on a pipe it fails and we fall back.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        (libc::ioctl(1, libc::TIOCGWINSZ, &mut ws) == 0 && ws.ws_col > 0)
            .then_some(ws.ws_col as usize)
    }
}

/// Splits usage text as argparse does before wrapping it: a `[...]`
/// group stays whole, anything else splits at spaces.
pub(super) fn usage_parts(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if chars[i] == '[' {
            // `\[.*?\]+(?=\s|$)`: the first `]`s followed by a space or the end.
            let mut j = i + 1;
            let mut end = None;
            while j < chars.len() {
                if chars[j] == ']' {
                    let mut k = j;
                    while k < chars.len() && chars[k] == ']' {
                        k += 1;
                    }
                    if k == chars.len() || chars[k].is_whitespace() {
                        end = Some(k);
                        break;
                    }
                }
                j += 1;
            }
            if let Some(k) = end {
                parts.push(chars[start..k].iter().collect());
                i = k;
                continue;
            }
        }
        while i < chars.len() && !chars[i].is_whitespace() {
            i += 1;
        }
        parts.push(chars[start..i].iter().collect());
    }
    parts
}

/// argparse's `get_lines`: fills parts into lines of `width`.
pub(super) fn usage_lines(
    parts: &[String],
    indent: &str,
    prefix: Option<&str>,
    width: usize,
) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line: Vec<&str> = Vec::new();
    let mut line_len = match prefix {
        Some(p) => p.len().saturating_sub(1),
        None => indent.len().saturating_sub(1),
    };
    for part in parts {
        if line_len + 1 + part.len() > width && !line.is_empty() {
            lines.push(format!("{indent}{}", line.join(" ")));
            line.clear();
            line_len = indent.len().saturating_sub(1);
        }
        line.push(part);
        line_len += part.len() + 1;
    }
    if !line.is_empty() {
        lines.push(format!("{indent}{}", line.join(" ")));
    }
    if prefix.is_some() {
        if let Some(first) = lines.first_mut() {
            *first = first[indent.len()..].to_string();
        }
    }
    lines
}

/// Python's `textwrap.wrap` with its defaults, after argparse has made all
/// whitespace single spaces: words break after a hyphen between letters
/// (`instance-` / `data`), a word longer than a line is cut.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let width = width.max(1);
    let mut chunks: Vec<String> = chunks(&text);
    chunks.reverse();
    let mut lines: Vec<String> = Vec::new();
    while !chunks.is_empty() {
        let mut line: Vec<String> = Vec::new();
        let mut len = 0;
        if !lines.is_empty() && chunks.last().is_some_and(|c| c.trim().is_empty()) {
            chunks.pop();
        }
        while let Some(c) = chunks.last() {
            let l = c.chars().count();
            if len + l <= width {
                len += l;
                line.push(chunks.pop().expect("a chunk"));
            } else {
                break;
            }
        }
        if let Some(c) = chunks.last_mut() {
            let cs: Vec<char> = c.chars().collect();
            if cs.len() > width {
                // `_handle_long_word`: cut it, after a hyphen when there is one.
                let space_left = width - len;
                let mut end = space_left;
                let hyphen = cs[..space_left].iter().rposition(|ch| *ch == '-');
                if let Some(h) = hyphen.filter(|h| *h > 0 && cs[..*h].iter().any(|ch| *ch != '-')) {
                    end = h + 1;
                }
                line.push(cs[..end].iter().collect());
                *c = cs[end..].iter().collect();
            }
        }
        if line.last().is_some_and(|c| c.trim().is_empty()) {
            line.pop();
        }
        if !line.is_empty() {
            lines.push(line.concat());
        }
    }
    if lines.is_empty() {
        lines.push(String::new());
    }
    lines
}

/// textwrap's chunks: runs of spaces, and words split after hyphens that
/// join letters (its `wordsep_re`).
pub(super) fn chunks(text: &str) -> Vec<String> {
    let is_letter = |c: char| c.is_alphabetic() || c == '_';
    let mut out = Vec::new();
    for (i, piece) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(" ".to_string());
        }
        let cs: Vec<char> = piece.chars().collect();
        let mut start = 0;
        for j in 0..cs.len() {
            if cs[j] != '-' || j + 1 >= cs.len() {
                continue;
            }
            let two_letters_before = j >= 2 && is_letter(cs[j - 1]) && is_letter(cs[j - 2]);
            let letter_hyphen_letter_before =
                j >= 3 && is_letter(cs[j - 1]) && cs[j - 2] == '-' && is_letter(cs[j - 3]);
            let after = &cs[j + 1..];
            let letters_after = match after {
                [a, b, ..] if is_letter(*a) && is_letter(*b) => true,
                [a, '-', b, ..] if is_letter(*a) && is_letter(*b) => true,
                _ => false,
            };
            if (two_letters_before || letter_hyphen_letter_before) && letters_after {
                out.push(cs[start..=j].iter().collect());
                start = j + 1;
            }
        }
        if start < cs.len() || cs.is_empty() {
            out.push(cs[start..].iter().collect());
        }
    }
    out.retain(|c| !c.is_empty());
    out
}
