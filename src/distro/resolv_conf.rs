//! `distros/parsers/resolv_conf.py`'s `ResolvConf`, as much as rendering
//! needs: parse, add nameservers and search domains, write back (the
//! sysconfig renderer's `/etc/resolv.conf`).

use super::DistroError;
use crate::py::str::{is_space as py_space, splitlines as py_splitlines};

enum Line {
    Blank,
    Comment(String),
    Option {
        name: String,
        value: String,
        tail: String,
    },
}

#[derive(Default)]
pub struct ResolvConf {
    lines: Vec<Line>,
}

const OPTIONS: &[&str] = &["nameserver", "domain", "search", "sortlist", "options"];

impl ResolvConf {
    /// `ResolvConf._parse`; an error where cloud-init raises `IOError`.
    pub fn parse(text: &str) -> Result<ResolvConf, DistroError> {
        let mut lines = Vec::new();
        for (i, line) in py_splitlines(text).into_iter().enumerate() {
            if line.trim_matches(py_space).is_empty() {
                lines.push(Line::Blank);
                continue;
            }
            // `chop_comment(line, ";#")`.
            let (head, tail) = match line.find([';', '#']) {
                Some(at) => line.split_at(at),
                None => (line, ""),
            };
            if head.trim_matches(py_space).is_empty() {
                lines.push(Line::Comment(line.to_string()));
                continue;
            }
            // `head.split(None, 1)`: the rest keeps trailing blanks.
            let head = head.trim_start_matches(py_space);
            let (name, rest) = head.split_at(head.find(py_space).unwrap_or(head.len()));
            let value = rest.trim_start_matches(py_space);
            if value.is_empty() {
                return Err(DistroError::ResolvLine(i + 1));
            }
            if !OPTIONS.contains(&name) {
                return Err(DistroError::ResolvOption(name.to_string()));
            }
            lines.push(Line::Option {
                name: name.to_string(),
                value: value.to_string(),
                tail: tail.to_string(),
            });
        }
        Ok(ResolvConf { lines })
    }

    fn values(&self, option: &str) -> Vec<String> {
        self.lines
            .iter()
            .filter_map(|l| match l {
                Line::Option { name, value, .. } if name == option => Some(value.clone()),
                _ => None,
            })
            .collect()
    }

    fn remove(&mut self, option: &str) {
        self.lines
            .retain(|l| !matches!(l, Line::Option { name, .. } if name == option));
    }

    fn append(&mut self, option: &str, value: &str) {
        self.lines.push(Line::Option {
            name: option.into(),
            value: value.into(),
            tail: String::new(),
        });
    }

    /// `add_nameserver`: at most 3 (resolv.conf(5) MAXNS); the list is
    /// written again at the end. Returns the warning when full.
    pub fn add_nameserver(&mut self, ns: &str) -> Option<String> {
        let current = self.values("nameserver");
        let new = uniq(current.iter().cloned().chain([ns.to_string()]));
        if new.len() == current.len() {
            return None;
        }
        if current.len() >= 3 {
            return Some(format!(
                "ignoring nameserver '{ns}': adding would exceed the maximum of '3' name servers (see resolv.conf(5))"
            ));
        }
        self.remove("nameserver");
        for n in &new {
            self.append("nameserver", n);
        }
        None
    }

    /// `add_search_domain`: at most 6 domains and 256 characters (where
    /// cloud-init raises `ValueError`, an error).
    pub fn add_search_domain(&mut self, domain: &str) -> Result<(), DistroError> {
        let flat: Vec<String> = self
            .values("search")
            .iter()
            .flat_map(|v| {
                v.split(py_space)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .collect();
        let new = uniq(flat.iter().cloned().chain([domain.to_string()]));
        if new.len() == flat.len() {
            return Ok(());
        }
        if flat.len() >= 6 {
            return Err(DistroError::TooManySearchDomains(domain.to_string()));
        }
        let list = new.join(" ");
        if list.chars().count() > 256 {
            return Err(DistroError::SearchListTooLong(domain.to_string()));
        }
        self.remove("search");
        self.append("search", &list);
        Ok(())
    }

    /// `ResolvConf.__str__`.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for line in &self.lines {
            match line {
                Line::Blank => out.push('\n'),
                Line::Comment(text) => {
                    out.push_str(text);
                    out.push('\n');
                }
                Line::Option { name, value, tail } => {
                    out.push_str(&format!("{name} {value}{tail}\n"));
                }
            }
        }
        out
    }
}

/// `util.uniq_list`: first occurrences, in order.
fn uniq(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_comments_and_appends_nameservers_at_the_end() {
        // Expected text from cloud-init 22.4's ResolvConf on the same
        // calls: a blank-only line comes back empty, a value keeps the
        // blank before its comment (so "10.0.0.2" counts as new), and the
        // nameservers move to the end without their comments.
        let mut conf = ResolvConf::parse(
            "# local\nnameserver 10.0.0.2 # lan\noptions rotate\n\n  \nsearch a b\n",
        )
        .unwrap();
        assert!(conf.add_nameserver("10.0.0.2 ").is_none());
        assert!(conf.add_nameserver("9.9.9.9").is_none());
        assert!(conf.add_nameserver("10.0.0.2").is_none());
        conf.add_search_domain("c").unwrap();
        conf.add_search_domain("a").unwrap();
        assert_eq!(
            conf.to_text(),
            "# local\noptions rotate\n\n\nnameserver 10.0.0.2 \nnameserver 9.9.9.9\nnameserver 10.0.0.2\nsearch a b c\n"
        );
    }

    #[test]
    fn limits() {
        let mut conf = ResolvConf::default();
        for ns in ["1.1.1.1", "2.2.2.2", "3.3.3.3"] {
            assert!(conf.add_nameserver(ns).is_none());
        }
        assert!(conf.add_nameserver("4.4.4.4").is_some());
        assert!(conf.add_nameserver("1.1.1.1").is_none());
        for d in ["a", "b", "c", "d", "e", "f"] {
            conf.add_search_domain(d).unwrap();
        }
        assert!(conf.add_search_domain("g").is_err());
        assert!(ResolvConf::parse("lookup file bind\n").is_err());
        assert!(ResolvConf::parse("nameserver\n").is_err());
    }
}
