//! cloud-init's `HostnameConf` (`distros/parsers/hostname.py`): the
//! `/etc/hostname` of Debian, Ubuntu, Alpine and Arch, comments kept.

use super::{chop_comment, DistroError};
use crate::py::str::{splitlines as py_splitlines, strip as py_strip};

/// cloud-init's `HostnameConf` (`/etc/hostname` and friends).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HostnameConf {
    lines: Vec<HLine>,
}

#[derive(Clone, Debug, PartialEq)]
enum HLine {
    Blank(String),
    Comment(String),
    Host { head: String, tail: String },
}

impl HostnameConf {
    /// Parses; more than one distinct hostname is an error (cloud-init's
    /// `IOError("Multiple hostnames ... found!")`).
    pub fn parse(text: &str) -> Result<HostnameConf, DistroError> {
        let mut lines = Vec::new();
        let mut found: Vec<String> = Vec::new();
        for line in py_splitlines(text) {
            if py_strip(line).is_empty() {
                lines.push(HLine::Blank(line.to_string()));
                continue;
            }
            let (head, tail) = chop_comment(py_strip(line));
            if head.is_empty() {
                lines.push(HLine::Comment(line.to_string()));
                continue;
            }
            if !found.iter().any(|f| f == head) {
                found.push(head.to_string());
            }
            lines.push(HLine::Host {
                head: head.to_string(),
                tail: tail.to_string(),
            });
        }
        if found.len() > 1 {
            return Err(DistroError::MultipleHostnames(found.join(", ")));
        }
        Ok(HostnameConf { lines })
    }

    /// The first hostname line (with any blanks before a comment kept, as
    /// cloud-init keeps them).
    pub fn hostname(&self) -> Option<&str> {
        self.lines.iter().find_map(|l| match l {
            HLine::Host { head, .. } => Some(head.as_str()),
            _ => None,
        })
    }

    pub fn set_hostname(&mut self, name: &str) {
        let name = py_strip(name);
        if name.is_empty() {
            return;
        }
        let mut replaced = false;
        for l in &mut self.lines {
            if let HLine::Host { head, .. } = l {
                *head = name.to_string();
                replaced = true;
            }
        }
        if !replaced {
            self.lines.push(HLine::Host {
                head: name.to_string(),
                tail: String::new(),
            });
        }
    }
}

impl std::fmt::Display for HostnameConf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::new();
        for l in &self.lines {
            match l {
                HLine::Blank(t) | HLine::Comment(t) => s.push_str(t),
                HLine::Host { head, tail } => {
                    s.push_str(head);
                    s.push_str(tail);
                }
            }
            s.push('\n');
        }
        if !s.ends_with('\n') {
            s.push('\n');
        }
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitlines_like_python() {
        assert_eq!(py_splitlines("a\r\nb\rc\n\nd"), ["a", "b", "c", "", "d"]);
        assert!(py_splitlines("").is_empty());
        assert_eq!(py_splitlines("x\n"), ["x"]);
    }

    #[test]
    fn hostname_conf_keeps_comments_and_refuses_two_names() {
        let mut c = HostnameConf::parse("# hello\n\nold # tail\n").unwrap();
        assert_eq!(c.hostname(), Some("old "));
        c.set_hostname(" new ");
        assert_eq!(c.to_string(), "# hello\n\nnew# tail\n");
        assert!(HostnameConf::parse("a\nb\n").is_err());
        assert!(HostnameConf::parse("a\na\n").is_ok());
        let mut e = HostnameConf::parse("").unwrap();
        e.set_hostname("x");
        assert_eq!(e.to_string(), "x\n");
    }
}
