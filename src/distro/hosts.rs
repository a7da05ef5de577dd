//! cloud-init's `HostsConf` (`distros/parsers/hosts.py`): `/etc/hosts`,
//! comments kept, entries looked up, added and removed by address; and
//! `util.get_fqdn_from_hosts`.

use super::chop_comment;
use crate::py::str::{is_space as py_space, splitlines as py_splitlines, strip as py_strip};

/// cloud-init's `HostsConf` (`/etc/hosts`).
#[derive(Clone, Debug, PartialEq)]
pub struct HostsConf {
    lines: Vec<HostsLine>,
}

#[derive(Clone, Debug, PartialEq)]
enum HostsLine {
    Blank(String),
    Comment(String),
    Entry { pieces: Vec<String>, tail: String },
}

impl HostsConf {
    pub fn parse(text: &str) -> HostsConf {
        let lines = py_splitlines(text)
            .into_iter()
            .map(|line| {
                if py_strip(line).is_empty() {
                    return HostsLine::Blank(line.to_string());
                }
                let (head, tail) = chop_comment(py_strip(line));
                if head.is_empty() {
                    return HostsLine::Comment(line.to_string());
                }
                HostsLine::Entry {
                    pieces: head
                        .split(py_space)
                        .filter(|p| !p.is_empty())
                        .map(str::to_string)
                        .collect(),
                    tail: tail.to_string(),
                }
            })
            .collect();
        HostsConf { lines }
    }

    /// Every entry for `ip`: its names (canonical first).
    pub fn get_entry(&self, ip: &str) -> Vec<Vec<String>> {
        self.lines
            .iter()
            .filter_map(|l| match l {
                HostsLine::Entry { pieces, .. }
                    if pieces.first().map(String::as_str) == Some(ip) =>
                {
                    Some(pieces[1..].to_vec())
                }
                _ => None,
            })
            .collect()
    }

    pub fn del_entries(&mut self, ip: &str) {
        self.lines.retain(|l| match l {
            HostsLine::Entry { pieces, .. } => pieces.first().map(String::as_str) != Some(ip),
            _ => true,
        });
    }

    pub fn add_entry(&mut self, ip: &str, names: &[String]) {
        let mut pieces = vec![ip.to_string()];
        pieces.extend(names.iter().cloned());
        self.lines.push(HostsLine::Entry {
            pieces,
            tail: String::new(),
        });
    }
}

impl std::fmt::Display for HostsConf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for l in &self.lines {
            match l {
                HostsLine::Blank(t) | HostsLine::Comment(t) => writeln!(f, "{t}")?,
                HostsLine::Entry { pieces, tail } => writeln!(f, "{}{tail}", pieces.join("\t"))?,
            }
        }
        Ok(())
    }
}

/// `util.get_fqdn_from_hosts`: the canonical name of the first line that
/// lists `hostname` among its aliases.
pub fn fqdn_from_hosts(hosts: &str, hostname: &str) -> Option<String> {
    for line in py_splitlines(hosts) {
        let line = match line.find('#') {
            Some(i) => &line[..i],
            None => line,
        };
        let toks: Vec<&str> = line.split_whitespace().collect();
        if toks.len() < 3 {
            continue;
        }
        if toks[2..].contains(&hostname) {
            return Some(toks[1].to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fqdn_from_hosts_reads_aliases() {
        let hosts = "127.0.0.1 localhost\n127.0.1.1 web.example.com web # c\n";
        assert_eq!(
            fqdn_from_hosts(hosts, "web").as_deref(),
            Some("web.example.com")
        );
        assert_eq!(fqdn_from_hosts(hosts, "localhost"), None);
    }
}
