//! `puppet.conf` as 22.4 reads and writes it: cloud-init's
//! `helpers.DefaultingConfigParser`, a Python `RawConfigParser` (strict,
//! `=` and `:` delimiters, `#` and `;` full-line comments, option names
//! lowercased, no interpolation) whose `set` adds a missing section, and
//! whose `stringify` is `RawConfigParser.write` (`key = value`, a blank
//! line after each section, `[DEFAULT]` first). cc_puppet strips every
//! line's leading blanks before parsing, so no line continues a value.

use crate::module::prelude::*;

/// A parsed and edited `puppet.conf`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PuppetConf {
    /// `[DEFAULT]`'s options.
    defaults: Vec<(String, String)>,
    /// The other sections, in the order first seen or added.
    sections: Vec<(String, Vec<(String, String)>)>,
}

/// Python's `str.lower()` for option names (`optionxform`).
fn option_name(name: &str) -> String {
    name.to_lowercase()
}

fn set_in(options: &mut Vec<(String, String)>, key: String, value: String) {
    match options.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = value,
        None => options.push((key, value)),
    }
}

impl PuppetConf {
    /// `read_file` of `text` after cc_puppet's clean-up (each line's
    /// leading blanks removed, lines joined with `\n`). `source` names the
    /// file in errors, which are `configparser`'s.
    pub fn read(text: &str, source: &str) -> Result<PuppetConf, String> {
        let mut conf = PuppetConf::default();
        // Which section the next options go to: None before any header,
        // Some(None) for DEFAULT, Some(Some(i)) for section i.
        let mut cursect: Option<Option<usize>> = None;
        let mut seen_sections: Vec<String> = Vec::new();
        let mut seen_options: Vec<(String, String)> = Vec::new();
        let mut sectname = String::new();
        let mut errors: Vec<(usize, String)> = Vec::new();
        let cleaned: Vec<&str> = py::str::splitlines(text)
            .into_iter()
            .map(|l| l.trim_start_matches(py::str::is_space))
            .collect();
        let joined = cleaned.join("\n");
        // `StringIO` iterates on `\n` only.
        for (i, line) in joined.split('\n').enumerate() {
            let lineno = i + 1;
            let value = py::str::strip(line);
            if value.is_empty() || value.starts_with('#') || value.starts_with(';') {
                continue;
            }
            if let Some(header) = section_header(value) {
                sectname = header.to_string();
                if let Some(at) = conf.sections.iter().position(|(n, _)| *n == header) {
                    if seen_sections.iter().any(|s| s == header) {
                        return Err(format!(
                            "While reading from '{source}' [line {lineno:2}]: section '{header}' already exists"
                        ));
                    }
                    cursect = Some(Some(at));
                    seen_sections.push(header.to_string());
                } else if header == "DEFAULT" {
                    cursect = Some(None);
                } else {
                    conf.sections.push((header.to_string(), Vec::new()));
                    cursect = Some(Some(conf.sections.len() - 1));
                    seen_sections.push(header.to_string());
                }
                continue;
            }
            let Some(at) = cursect else {
                return Err(format!(
                    "File contains no section headers.\nfile: '{source}', line: {lineno}\n{}",
                    python_str_repr(&format!("{line}\n"))
                ));
            };
            // `(?P<option>.*?)\s*(?P<vi>[=:])\s*(?P<value>.*)$`.
            let Some(d) = value.find(['=', ':']) else {
                errors.push((lineno, line.to_string()));
                continue;
            };
            let name = value[..d].trim_end();
            if name.is_empty() {
                errors.push((lineno, line.to_string()));
            }
            let name = option_name(name);
            let val = py::str::strip(&value[d + 1..]).to_string();
            if seen_options
                .iter()
                .any(|(s, o)| *s == sectname && *o == name)
            {
                return Err(format!(
                    "While reading from '{source}' [line {lineno:2}]: option '{name}' in section '{sectname}' already exists"
                ));
            }
            seen_options.push((sectname.clone(), name.clone()));
            match at {
                None => set_in(&mut conf.defaults, name, val),
                Some(i) => set_in(&mut conf.sections[i].1, name, val),
            }
        }
        if let Some((lineno, line)) = errors.first() {
            let mut msg = format!("Source contains parsing errors: '{source}'");
            for (n, l) in &errors {
                msg.push_str(&format!(
                    "\n\t[line {n:2}]: {}",
                    python_str_repr(&format!("{l}\n"))
                ));
            }
            let _ = (lineno, line);
            return Err(msg);
        }
        Ok(conf)
    }

    /// `DefaultingConfigParser.set(section, option, value)`: a missing
    /// section is added, except any spelling of `default`, which only
    /// `DEFAULT` itself reaches (`configparser.NoSectionError` else).
    pub fn set(&mut self, section: &str, option: &str, value: String) -> Result<(), String> {
        let key = option_name(option);
        if section == "DEFAULT" {
            set_in(&mut self.defaults, key, value);
            return Ok(());
        }
        let at = match self.sections.iter().position(|(n, _)| n == section) {
            Some(at) => at,
            None if section.to_lowercase() == "default" || section.is_empty() => {
                return Err(format!("No section: '{section}'"));
            }
            None => {
                self.sections.push((section.to_string(), Vec::new()));
                self.sections.len() - 1
            }
        };
        set_in(&mut self.sections[at].1, key, value);
        Ok(())
    }

    /// `stringify()`: `RawConfigParser.write` (a value's line breaks
    /// continue it on a tab-indented line).
    pub fn stringify(&self) -> String {
        let mut out = String::new();
        let mut section = |name: &str, options: &[(String, String)]| {
            out.push_str(&format!("[{name}]\n"));
            for (k, v) in options {
                out.push_str(&format!("{k} = {}\n", v.replace('\n', "\n\t")));
            }
            out.push('\n');
        };
        if !self.defaults.is_empty() {
            section("DEFAULT", &self.defaults);
        }
        for (name, options) in &self.sections {
            section(name, options);
        }
        out
    }
}

/// `SECTCRE.match`: `\[(?P<header>.+)\]` at the start of the line (the
/// header runs to the last `]`; what follows it is ignored).
fn section_header(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    (end > 0).then(|| &rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_merges_and_writes_as_configparser() {
        let mut c = PuppetConf::read(
            "  [main]\nlogdir=/var/log/puppet\n# comment\n\nSSLDir : /var/lib/puppet/ssl\n[agent]\nserver = a:8140\n",
            "/etc/puppet/puppet.conf",
        )
        .unwrap();
        c.set("agent", "Server", "b".into()).unwrap();
        c.set("user", "x", "1".into()).unwrap();
        c.set("DEFAULT", "y", "two\nlines".into()).unwrap();
        assert_eq!(
            c.stringify(),
            "[DEFAULT]\ny = two\n\tlines\n\n[main]\nlogdir = /var/log/puppet\nssldir = /var/lib/puppet/ssl\n\n[agent]\nserver = b\n\n[user]\nx = 1\n\n"
        );
        assert!(c.set("default", "z", "1".into()).is_err());
    }

    #[test]
    fn strict_errors() {
        assert!(PuppetConf::read("[a]\n[a]\n", "f")
            .unwrap_err()
            .contains("section 'a' already exists"));
        assert!(PuppetConf::read("[a]\nx=1\nX=2\n", "f")
            .unwrap_err()
            .contains("option 'x' in section 'a'"));
        assert!(PuppetConf::read("x=1\n", "f")
            .unwrap_err()
            .starts_with("File contains no section headers."));
        assert!(PuppetConf::read("[a]\njunk\n", "f")
            .unwrap_err()
            .starts_with("Source contains parsing errors"));
    }
}
