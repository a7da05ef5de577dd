//! Hostnames as cloud-init 22.4 sets them: the logic shared by the modules
//! `set_hostname`, `update_hostname` and `update_etc_hosts`, and by the
//! engine's early call in `init --local` and `init` (cloud-init's
//! `_maybe_set_hostname`, see [`maybe_set_hostname`]).
//!
//! What is here, each after the cloud-init code it follows:
//! - [`get_hostname_fqdn`]: `util.get_hostname_fqdn` with the datasource's
//!   `get_hostname` (meta-data `local-hostname`, the `ip-a-b-c-d` names, the
//!   fallback to the running hostname and `/etc/hosts`);
//! - [`HostDistro`]: the distro classes' hostname writers and readers:
//!   Debian/Ubuntu, Alpine and Arch (`/etc/hostname` through `HostnameConf`),
//!   and the RHEL family (`HOSTNAME=` in `/etc/sysconfig/network` through
//!   configobj on sysvinit, CentOS/RHEL 6; `hostnamectl set-hostname` on
//!   systemd, 7 and later), `_select_hostname` (`prefer_fqdn_over_hostname`),
//!   `update_hostname`'s previous-hostname bookkeeping, and
//!   `update_etc_hosts` (the `127.0.1.1`/`127.0.0.1` line edited in place,
//!   with `HostsConf`);
//! - [`set_hostname`], [`update_hostname`], [`update_etc_hosts`]: the
//!   modules' `handle` functions, `data/set-hostname` included;
//! - the hosts templates, read from the root as cloud-init reads them, and
//!   rendered by its jinja or basic renderer.
//!
//! Running-machine changes (`hostname NAME`, `hostnamectl ...`) are
//! [`HostAction`]s: performed on a live root, recorded otherwise.
//!
//! Where cloudboot has to stand in for the running machine:
//! - the running hostname (`socket.gethostname()`, `hostname`) is the root's
//!   `/proc/sys/kernel/hostname` (a live root's is the kernel's), else, for an
//!   image that is not running, the name its init would set at boot (the
//!   distro's hostname file), else `localhost`;
//! - "uses systemd" is cloud-init's test (`/run/systemd/system` is a
//!   directory), and, for a root where `/run/systemd` does not exist at all
//!   (an image not running), whether `/sbin/init` links to systemd.

use std::path::{Path, PathBuf};

use crate::datasource::Instance;
use crate::distro::uses_systemd;
use crate::effect::{Data, Effect, HostAction};
use crate::module::ModuleOutput;
use crate::paths::Paths;
use crate::pystr::{is_space as py_space, splitlines as py_splitlines, strip as py_strip};
use crate::rootfs::FsView;
use crate::value::Value;

/// Where the modules write.
pub const HOSTS_FN: &str = "/etc/hosts";
/// `data/set-hostname` (set_hostname's record of what it last set).
pub const SET_HOSTNAME_FILE: &str = "set-hostname";
/// `data/previous-hostname` (update_hostname's record).
pub const PREVIOUS_HOSTNAME_FILE: &str = "previous-hostname";

// ---------------------------------------------------------------------------
// Python helpers

/// `util.translate_bool(val, addons)`: [`Value::to_bool`], or
/// `str(val).lower().strip()` is one of `addons`.
pub fn translate_bool(v: &Value, addons: &[&str]) -> bool {
    v.to_bool() || (v.truthy() && addons.contains(&py_strip(&v.python_str().to_lowercase())))
}

/// The value of a config key as a Python `str` method would see it: cloud-init
/// calls `str` methods on `hostname` and `fqdn`, which fail on anything else.
fn cfg_text<'a>(cfg: &'a Value, key: &str) -> Result<Option<&'a str>, String> {
    match cfg.get(key) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.as_str())),
        Some(other) => Err(format!(
            "'{key}' must be a string, not {} ({}): cloud-init 22.4 fails on it",
            other.type_name(),
            other.python_str()
        )),
    }
}

/// `util.make_header(base=...)`: `# Created by cloud-init v. ... on <RFC 2822 date>`.
fn make_header(base: &str) -> String {
    let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S +0000");
    format!(
        "# {base} by cloud-init v. {} on {date}",
        crate::VERSION_STRING
    )
}

/// `json.dumps({"fqdn": .., "hostname": ..}, indent=1, sort_keys=True) + "\n"`.
fn set_hostname_json(hostname: &str, fqdn: &str) -> String {
    let v = serde_json::json!({"hostname": hostname, "fqdn": fqdn});
    format!("{}\n", crate::pyjson::dumps(&v, 1))
}

/// `chop_comment(text, "#")`.
fn chop_comment(text: &str) -> (&str, &str) {
    match text.find('#') {
        Some(i) => (&text[..i], &text[i..]),
        None => (text, ""),
    }
}

// ---------------------------------------------------------------------------
// Names: util.get_hostname_fqdn and DataSource.get_hostname

/// What `util.get_hostname_fqdn` returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Names {
    pub hostname: Option<String>,
    pub fqdn: Option<String>,
    /// The hostname is `localhost` and came from the running machine's
    /// default, not from config or meta-data.
    pub is_default: bool,
}

/// `socket.gethostname()` of the machine the root stands for (see the
/// module documentation).
pub fn running_hostname(fs: &dyn FsView) -> String {
    if let Some(h) = fs.read_string(Path::new("/proc/sys/kernel/hostname")) {
        let h = h.trim_end_matches('\n');
        if !h.is_empty() {
            return h.to_string();
        }
    }
    static_hostname(fs).unwrap_or_else(|| "localhost".into())
}

/// The name an image's init sets at boot: `HOSTNAME=` of
/// `/etc/sysconfig/network` on a RHEL-family root without systemd, else
/// `/etc/hostname`.
fn static_hostname(fs: &dyn FsView) -> Option<String> {
    let sysv_rhel = HostDistro::detect_family(fs)
        .map(|f| f == Family::Redhat && !uses_systemd(fs))
        .unwrap_or(false);
    if sysv_rhel {
        let text = fs.read_string(Path::new("/etc/sysconfig/network"))?;
        return SysConf::parse(&text)
            .ok()
            .and_then(|c| c.get("HOSTNAME").ok().flatten().map(str::to_string))
            .filter(|h| !h.is_empty());
    }
    let text = fs.read_string(Path::new("/etc/hostname"))?;
    HostnameConf::parse(&text)
        .ok()
        .and_then(|c| c.hostname().map(|h| py_strip(h).to_string()))
        .filter(|h| !h.is_empty())
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

/// `DataSource.get_hostname(fqdn, resolve_ip=False, metadata_only)`:
/// the name and `is_default`; `None` only with `metadata_only` when
/// meta-data has no `local-hostname`.
pub fn datasource_hostname(
    instance: &Instance,
    fs: &dyn FsView,
    fqdn: bool,
    metadata_only: bool,
) -> (Option<String>, bool) {
    const DEFDOMAIN: &str = "localdomain";
    let mut is_default = false;
    let toks: Vec<String> = match instance.local_hostname() {
        None => {
            if metadata_only {
                return (None, false);
            }
            let hostname = running_hostname(fs);
            if hostname == "localhost" {
                is_default = true;
            }
            let hosts = fs.read_string(Path::new(HOSTS_FN)).unwrap_or_default();
            let hosts_fqdn = fqdn_from_hosts(&hosts, &hostname);
            match hosts_fqdn {
                Some(h) if h.find('.').is_some_and(|i| i > 0) => {
                    h.split('.').map(str::to_string).collect()
                }
                _ if hostname.find('.').is_some_and(|i| i > 0) => {
                    hostname.split('.').map(str::to_string).collect()
                }
                _ if !hostname.is_empty() => vec![hostname, DEFDOMAIN.into()],
                _ => vec!["localhost".into(), DEFDOMAIN.into()],
            }
        }
        Some(lhost) => {
            if lhost.parse::<std::net::Ipv4Addr>().is_ok() {
                vec![format!("ip-{}", lhost.replace('.', "-"))]
            } else {
                lhost.split('.').map(str::to_string).collect()
            }
        }
    };
    let mut hostname = toks[0].clone();
    let domain = if toks.len() > 1 {
        toks[1..].join(".")
    } else {
        DEFDOMAIN.to_string()
    };
    if fqdn && domain != DEFDOMAIN {
        hostname = format!("{hostname}.{domain}");
    }
    (Some(hostname), is_default)
}

/// `util.get_hostname_fqdn(cfg, cloud, metadata_only)`. An error is what
/// makes cloud-init raise (a `hostname` or `fqdn` that is not a string).
pub fn get_hostname_fqdn(
    cfg: &Value,
    instance: &Instance,
    fs: &dyn FsView,
    metadata_only: bool,
) -> Result<Names, String> {
    if let Some(fqdn_v) = cfg.get("fqdn") {
        // The user gave an fqdn; the default hostname is its first label.
        let fqdn = match fqdn_v {
            Value::Str(s) => s.clone(),
            other => {
                return Err(format!(
                    "'fqdn' must be a string, not {} ({}): cloud-init 22.4 fails on it",
                    other.type_name(),
                    other.python_str()
                ))
            }
        };
        let hostname = match cfg.get("hostname") {
            Some(v) => v.python_str(),
            None => fqdn.split('.').next().unwrap_or_default().to_string(),
        };
        return Ok(Names {
            hostname: Some(hostname),
            fqdn: Some(fqdn),
            is_default: false,
        });
    }
    let hostname_cfg = cfg_text(cfg, "hostname")?;
    if let Some(h) = hostname_cfg.filter(|h| h.find('.').is_some_and(|i| i > 0)) {
        let dot = h.find('.').unwrap_or(h.len());
        return Ok(Names {
            hostname: Some(h[..dot].to_string()),
            fqdn: Some(h.to_string()),
            is_default: false,
        });
    }
    let (fqdn, _) = datasource_hostname(instance, fs, true, metadata_only);
    let (hostname, is_default) = match hostname_cfg {
        Some(h) => (Some(h.to_string()), false),
        None => datasource_hostname(instance, fs, false, metadata_only),
    };
    Ok(Names {
        hostname,
        fqdn,
        is_default,
    })
}

// ---------------------------------------------------------------------------
// Parsers: HostnameConf, HostsConf, SysConf (configobj)

/// cloud-init's `HostnameConf` (`/etc/hostname` and friends).
#[derive(Clone, Debug, PartialEq)]
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
    pub fn parse(text: &str) -> Result<HostnameConf, String> {
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
            return Err(format!("Multiple hostnames ({}) found!", found.join(", ")));
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

/// cloud-init's `SysConf`, a `configobj.ConfigObj` for `/etc/sysconfig/*`
/// files: what it reads from such a file and how it writes it back (every
/// value unquoted on reading and requoted on writing, comments kept, inline
/// comments glued to the value, blank lines and comments before the first key
/// and after the last kept). What configobj refuses (sections, lines that are
/// no `KEY=VALUE`, a key twice, an unbalanced quote) is an error here too; so
/// is a comma-separated value, which configobj reads as a list and
/// cloud-init's writer then fails on; multi-line triple-quoted values are
/// refused by cloudboot.
#[derive(Clone, Debug, PartialEq)]
pub struct SysConf {
    initial: Vec<String>,
    entries: Vec<SysEntry>,
    final_comment: Vec<String>,
    indent_type: String,
}

#[derive(Clone, Debug, PartialEq)]
struct SysEntry {
    key: String,
    value: String,
    /// configobj read the value as a list (cloud-init's writer fails on it).
    list: bool,
    comments: Vec<String>,
    inline: String,
}

/// `configobj`'s `_unquote` for keys.
fn unquote(s: &str) -> &str {
    let b = s.as_bytes();
    if b.len() >= 2 && b[0] == b[b.len() - 1] && (b[0] == b'"' || b[0] == b'\'') {
        &s[1..s.len() - 1]
    } else if b.len() == 1 && (b[0] == b'"' || b[0] == b'\'') {
        ""
    } else {
        s
    }
}

/// `\s*(#.*)?$` on `rest`: the comment, when `rest` is only blanks and a comment.
fn trailing_comment(rest: &str) -> Option<&str> {
    let r = rest.trim_start_matches(py_space);
    if r.is_empty() || r.starts_with('#') {
        Some(r)
    } else {
        None
    }
}

/// What follows a list item or a single value: end/comment, or a comma.
enum After<'a> {
    End(&'a str),
    Comma,
    Junk,
}

fn after(rest: &str) -> After<'_> {
    let r = rest.trim_start_matches(py_space);
    if r.is_empty() || r.starts_with('#') {
        After::End(r)
    } else if r.starts_with(',') {
        After::Comma
    } else {
        After::Junk
    }
}

/// configobj's `_handle_value` (lists on): the value (`None` for a list)
/// and its inline comment.
fn sysconf_value(v: &str, line_no: usize) -> Result<(Option<String>, String), String> {
    let list_err = || Ok((None, String::new()));
    let parse_err = || format!("Parse error in value at line {line_no}.");
    if v.starts_with("\"\"\"") || v.starts_with("'''") {
        let q = &v[..3];
        let body = &v[3..];
        return match body.find(q) {
            Some(end) => match trailing_comment(&body[end + 3..]) {
                Some(c) => Ok((Some(body[..end].to_string()), c.to_string())),
                None => Err(parse_err()),
            },
            None => Err(format!(
                "line {line_no}: multi-line triple-quoted values are not supported by cloudboot"
            )),
        };
    }
    if v.is_empty() {
        return Ok((Some(String::new()), String::new()));
    }
    if let Some(after_comma) = v.strip_prefix(',') {
        return match trailing_comment(after_comma) {
            Some(_) => list_err(),
            None => Err(parse_err()),
        };
    }
    if v.starts_with('#') {
        return Ok((Some(String::new()), v.to_string()));
    }
    let first = v.as_bytes()[0];
    if first == b'"' || first == b'\'' {
        let q = first as char;
        let mut from = 1;
        while let Some(i) = v[from..].find(q) {
            let close = from + i;
            match after(&v[close + 1..]) {
                After::End(c) => return Ok((Some(v[1..close].to_string()), c.to_string())),
                After::Comma => return list_err(),
                After::Junk => from = close + 1,
            }
        }
        return Err(parse_err());
    }
    // Unquoted: up to the first `#` or `,`, trailing blanks dropped.
    let end = v.find(['#', ',']).unwrap_or(v.len());
    if v[end..].starts_with(',') {
        return list_err();
    }
    let value = v[..end].trim_end_matches(py_space);
    Ok((Some(value.to_string()), v[end..].to_string()))
}

/// Shell variables, as `sys_conf._contains_shell_variable` finds them.
fn contains_shell_variable(s: &str) -> bool {
    let b = s.as_bytes();
    for i in 0..b.len() {
        if b[i] != b'$' || i + 1 >= b.len() {
            continue;
        }
        let n = b[i + 1];
        if n.is_ascii_alphabetic() || n == b'_' {
            return true;
        }
        if n.is_ascii_digit() || b"#?-@*".contains(&n) {
            return true;
        }
        if n == b'{' && b.len() > i + 3 && s[i + 3..].contains('}') {
            return true;
        }
    }
    false
}

/// `shlex.quote`.
fn shlex_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\"'\"'"))
    }
}

/// `SysConf._quote`.
fn sysconf_quote(value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Ok(String::new());
    }
    let first = value.chars().next().unwrap_or(' ');
    let last = value.chars().last().unwrap_or(' ');
    let quote_chars = ['"', '\''];
    if quote_chars.contains(&first) && quote_chars.contains(&last) {
        if value.chars().count() == 1 {
            return single_quote(value);
        }
        return Ok(value.to_string());
    }
    let t = py_strip(value);
    if t.starts_with("$(") && t.ends_with(')') {
        return Ok(value.to_string());
    }
    if !value.contains(['\t', '\r', '\n', ' ']) {
        return Ok(value.to_string());
    }
    if contains_shell_variable(value) {
        if value.contains(['\n', '"', '\'']) {
            if value.contains("\"\"\"") && value.contains("'''") {
                return Err(format!("Value \"{value}\" cannot be safely quoted."));
            }
            // configobj's `_get_triple_quote` (its names for the two are swapped).
            return Ok(if value.contains("\"\"\"") {
                format!("\"\"\"{value}\"\"\"")
            } else {
                format!("'''{value}'''")
            });
        }
        return single_quote(value);
    }
    Ok(shlex_quote(value))
}

/// configobj's `_get_single_quote(value) % value`.
fn single_quote(value: &str) -> Result<String, String> {
    if value.contains('\'') && value.contains('"') {
        Err(format!("Value \"{value}\" cannot be safely quoted."))
    } else if value.contains('"') {
        Ok(format!("'{value}'"))
    } else {
        Ok(format!("\"{value}\""))
    }
}

impl SysConf {
    /// Parses as `SysConf(text.splitlines())` does; an error is what makes
    /// configobj (or, for lists, cloud-init's writer) raise.
    pub fn parse(text: &str) -> Result<SysConf, String> {
        let mut conf = SysConf {
            initial: Vec::new(),
            entries: Vec::new(),
            final_comment: Vec::new(),
            indent_type: String::new(),
        };
        let mut indent_type: Option<String> = None;
        let mut comments: Vec<String> = Vec::new();
        let mut done_start = false;
        let mut reset_comment = false;
        for (i, line) in py_splitlines(text).into_iter().enumerate() {
            let n = i + 1;
            if reset_comment {
                comments = Vec::new();
            }
            let sline = py_strip(line);
            if sline.is_empty() || sline.starts_with('#') {
                reset_comment = false;
                comments.push(line.to_string());
                continue;
            }
            if !done_start {
                conf.initial = std::mem::take(&mut comments);
                done_start = true;
            }
            reset_comment = true;
            if sline.starts_with('[') && sline.contains(']') {
                return Err(format!(
                    "line {n}: sections ('{sline}') are not supported by cloudboot in a sysconfig file"
                ));
            }
            // `^(\s*)(".*?"|'.*?'|[^'"=].*?)\s*=\s*(.*)$`
            let indent_len = line.len() - line.trim_start_matches(py_space).len();
            let (indent, rest) = line.split_at(indent_len);
            let invalid = || {
                format!(
                    "Invalid line ('{line}') (matched as neither section nor keyword) at line {n}."
                )
            };
            let (key_raw, value_raw) = match rest.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let mut found = None;
                    let mut from = 1;
                    while let Some(j) = rest[from..].find(q) {
                        let close = from + j;
                        let after_key = rest[close + 1..].trim_start_matches(py_space);
                        if let Some(v) = after_key.strip_prefix('=') {
                            found = Some((&rest[..close + 1], v));
                            break;
                        }
                        from = close + 1;
                    }
                    found.ok_or_else(invalid)?
                }
                Some('=') | None => return Err(invalid()),
                Some(_) => {
                    let eq = rest.find('=').ok_or_else(invalid)?;
                    (rest[..eq].trim_end_matches(py_space), &rest[eq + 1..])
                }
            };
            if !indent.is_empty() && indent_type.is_none() {
                indent_type = Some(indent.to_string());
            }
            let value_raw = value_raw.trim_start_matches(py_space);
            let (value, inline) = sysconf_value(value_raw, n)?;
            let key = unquote(key_raw).to_string();
            if conf.entries.iter().any(|e| e.key == key) {
                return Err(format!("Duplicate keyword name at line {n}."));
            }
            conf.entries.push(SysEntry {
                key,
                list: value.is_none(),
                value: value.unwrap_or_default(),
                comments: comments.clone(),
                inline,
            });
        }
        conf.indent_type = indent_type.unwrap_or_default();
        if conf.entries.is_empty() && conf.initial.is_empty() {
            conf.initial = comments;
        } else if !reset_comment {
            conf.final_comment = comments;
        }
        Ok(conf)
    }

    /// The value of `key`; an error when configobj reads it as a list.
    pub fn get(&self, key: &str) -> Result<Option<&str>, String> {
        match self.entries.iter().find(|e| e.key == key) {
            Some(e) if e.list => Err(format!(
                "{key} is a list to configobj (a comma outside quotes)"
            )),
            Some(e) => Ok(Some(e.value.as_str())),
            None => Ok(None),
        }
    }

    pub fn set(&mut self, key: &str, value: &str) {
        match self.entries.iter_mut().find(|e| e.key == key) {
            Some(e) => {
                e.value = value.to_string();
                e.list = false;
            }
            None => self.entries.push(SysEntry {
                key: key.to_string(),
                list: false,
                value: value.to_string(),
                comments: Vec::new(),
                inline: String::new(),
            }),
        }
    }

    /// `str(conf)`: the lines joined by `\n`, no newline at the end.
    pub fn render(&self) -> Result<String, String> {
        let mut out: Vec<String> = Vec::new();
        let comment_line = |l: &str| {
            let s = py_strip(l);
            if !s.is_empty() && !s.starts_with('#') {
                format!("# {l}")
            } else {
                l.to_string()
            }
        };
        out.extend(self.initial.iter().map(|l| comment_line(l)));
        for e in &self.entries {
            if e.list {
                return Err(format!(
                    "the value of {} is a list to configobj (a comma outside quotes); cloud-init 22.4 fails writing it (ValueError)",
                    e.key
                ));
            }
            for c in &e.comments {
                let c = c.trim_start_matches(py_space);
                out.push(comment_line(c));
            }
            let inline = if e.inline.is_empty() {
                String::new()
            } else if e.inline.starts_with('#') {
                format!("{}{}", self.indent_type, e.inline)
            } else {
                format!("{} # {}", self.indent_type, e.inline)
            };
            out.push(format!(
                "{}={}{inline}",
                sysconf_quote(&e.key)?,
                sysconf_quote(&e.value)?
            ));
        }
        out.extend(self.final_comment.iter().map(|l| comment_line(l)));
        Ok(out.join("\n"))
    }
}

/// `rhel_util.update_sysconfig_file(fn, {key: value})` on the file's current
/// text (`None`: absent). `None` back: nothing to write (an empty value).
pub fn update_sysconfig(
    existing: Option<&str>,
    key: &str,
    value: &str,
) -> Result<Option<String>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    let mut conf = SysConf::parse(existing.unwrap_or(""))?;
    conf.set(key, value);
    let mut lines = vec![conf.render()?];
    if existing.is_none() {
        lines.insert(0, make_header("Created"));
    }
    Ok(Some(format!("{}\n", lines.join("\n"))))
}

// ---------------------------------------------------------------------------
// Distros

/// The distro families whose hostname code cloudboot has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// debian, ubuntu: `/etc/hostname`, `hostname NAME`.
    Debian,
    /// alpine: as Debian.
    Alpine,
    /// arch: `/etc/hostname`, `hostnamectl --transient set-hostname NAME`.
    Arch,
    /// rhel and its children (centos, fedora, almalinux, rocky, amazon, ...).
    Redhat,
    /// A distro cloud-init has whose hostname writers cloudboot does not
    /// have (gentoo, suse, photon, mariner, the BSDs): `/etc/hosts` only.
    HostsOnly,
}

/// The distro as cloud-init's `Distro` object sees hostnames.
#[derive(Clone, Debug, PartialEq)]
pub struct HostDistro {
    /// cloud-init's distro name (`system_info.distro`, else the root's).
    pub name: String,
    pub family: Family,
    /// `distro.osfamily` (names the hosts template).
    pub osfamily: &'static str,
    /// cloud-init's `uses_systemd()` for the root (see the module docs).
    pub systemd: bool,
    /// `system_info` (cloud-init's `distro._cfg`).
    system_info: Value,
}

fn family_of(name: &str) -> Option<(Family, &'static str)> {
    Some(match name {
        "debian" | "ubuntu" => (Family::Debian, "debian"),
        "alpine" => (Family::Alpine, "alpine"),
        "arch" => (Family::Arch, "arch"),
        "almalinux" | "amazon" | "centos" | "cloudlinux" | "eurolinux" | "fedora"
        | "miraclelinux" | "openEuler" | "openmandriva" | "rhel" | "rocky" | "virtuozzo" => {
            (Family::Redhat, "redhat")
        }
        "gentoo" | "cos" => (Family::HostsOnly, "gentoo"),
        "opensuse" | "sles" => (Family::HostsOnly, "suse"),
        "photon" => (Family::HostsOnly, "photon"),
        "mariner" => (Family::HostsOnly, "mariner"),
        "freebsd" | "dragonflybsd" | "dragonfly" => (Family::HostsOnly, "freebsd"),
        "netbsd" => (Family::HostsOnly, "netbsd"),
        "openbsd" => (Family::HostsOnly, "openbsd"),
        _ => return None,
    })
}

impl HostDistro {
    /// The distro cloud-init would load for this config and root. An error
    /// for a name cloud-init has no distro class for.
    pub fn for_root(cfg: &Value, fs: &dyn FsView) -> Result<HostDistro, String> {
        let configured = cfg
            .get("system_info")
            .and_then(|s| s.get("distro"))
            .and_then(Value::as_str)
            .is_some();
        let mut name = crate::module::distro_name(cfg, fs);
        if !configured && family_of(&name).is_none() {
            // Without `system_info.distro` cloud-init's built-in config says
            // ubuntu; cloudboot names the root's own distribution when it can.
            name = "ubuntu".into();
        }
        let (family, osfamily) = family_of(&name)
            .ok_or_else(|| format!("cloud-init has no distro '{name}' to set hostnames with"))?;
        Ok(HostDistro {
            name,
            family,
            osfamily,
            systemd: uses_systemd(fs),
            system_info: cfg
                .get("system_info")
                .filter(|v| matches!(v, Value::Map(_)))
                .cloned()
                .unwrap_or_else(Value::empty_map),
        })
    }

    fn detect_family(fs: &dyn FsView) -> Option<Family> {
        family_of(&crate::distro::detect(fs).variant).map(|(f, _)| f)
    }

    /// `Distro.prefer_fqdn`: true for the RHEL family.
    pub fn prefer_fqdn_default(&self) -> bool {
        self.family == Family::Redhat
    }

    /// `hostname_conf_fn`.
    pub fn hostname_conf_fn(&self) -> &'static str {
        match self.family {
            Family::Redhat => "/etc/sysconfig/network",
            _ => "/etc/hostname",
        }
    }

    /// `_get_localhost_ip()`.
    pub fn localhost_ip(&self) -> &'static str {
        match (self.family, self.osfamily) {
            (Family::Debian | Family::Alpine, _) => "127.0.1.1",
            (_, "suse" | "photon") => "127.0.1.1",
            _ => "127.0.0.1",
        }
    }

    fn check_writers(&self) -> Result<(), String> {
        if self.family == Family::HostsOnly {
            Err(format!(
                "cloudboot does not set hostnames on distro '{}' (cloud-init's {} writer is not implemented)",
                self.name, self.osfamily
            ))
        } else {
            Ok(())
        }
    }

    /// `_select_hostname`, with `prefer_fqdn_over_hostname` taken as the
    /// modules set it: the merged config's when it has the key
    /// (`distro.set_option`), else `system_info`'s, else the distro's default.
    pub fn select_hostname(&self, cfg: &Value, hostname: &str, fqdn: Option<&str>) -> String {
        let prefer = match cfg.get("prefer_fqdn_over_hostname") {
            Some(v) => translate_bool(v, &[]),
            None => self
                .system_info
                .get_bool("prefer_fqdn_over_hostname", self.prefer_fqdn_default()),
        };
        match fqdn {
            Some(f) if prefer && !f.is_empty() => f.to_string(),
            Some(f) if hostname.is_empty() => f.to_string(),
            _ => hostname.to_string(),
        }
    }

    fn is_previous(fname: &Path) -> bool {
        fname.to_string_lossy().ends_with("/previous-hostname")
    }

    /// `_read_hostname(filename)`: `Ok(None)` where cloud-init returns its
    /// default (`None`); an error where it raises.
    pub fn read_hostname(&self, fs: &dyn FsView, fname: &Path) -> Result<Option<String>, String> {
        match self.family {
            Family::Redhat if self.systemd => {
                if Self::is_previous(fname) {
                    let text = fs
                        .read_string(fname)
                        .ok_or_else(|| format!("reading {}: not found", fname.display()))?;
                    Ok(Some(py_strip(&text).to_string()))
                } else {
                    // `subp(["hostname"])`: its output, newline and all.
                    let out = format!("{}\n", running_hostname(fs));
                    Ok(Some(out))
                }
            }
            Family::Redhat => {
                let text = fs.read_string(fname).unwrap_or_default();
                let conf =
                    SysConf::parse(&text).map_err(|e| format!("{}: {e}", fname.display()))?;
                let name = conf
                    .get("HOSTNAME")
                    .map_err(|e| format!("{}: {e}", fname.display()))?;
                Ok(name.map(str::to_string))
            }
            _ => Ok(fs
                .read_string(fname)
                .and_then(|t| HostnameConf::parse(&t).ok())
                .and_then(|c| c.hostname().map(str::to_string))
                .filter(|h| !h.is_empty())),
        }
    }

    /// `_write_hostname(hostname, filename)` as effects.
    pub fn write_hostname(
        &self,
        fs: &dyn FsView,
        name: &str,
        fname: &Path,
        effects: &mut Vec<Effect>,
    ) -> Result<(), String> {
        match self.family {
            Family::Redhat if self.systemd => {
                if Self::is_previous(fname) {
                    effects.push(Effect::write(fname, Data::public(name), 0o644));
                } else {
                    // hostnamectl writes the static name to /etc/hostname; the
                    // file is written here too, so a root that is not this
                    // machine (where the action is only recorded) shows it.
                    effects.push(Effect::write(
                        "/etc/hostname",
                        Data::public(format!("{name}\n")),
                        0o644,
                    ));
                    effects.push(Effect::Host(HostAction {
                        what: format!("set the static and running hostname to {name}"),
                        argv: vec!["hostnamectl".into(), "set-hostname".into(), name.into()],
                    }));
                }
            }
            Family::Redhat => {
                let existing = fs.read_string(fname);
                if let Some(text) = update_sysconfig(existing.as_deref(), "HOSTNAME", name)
                    .map_err(|e| format!("{}: {e}", fname.display()))?
                {
                    effects.push(Effect::write(fname, Data::public(text), 0o644));
                }
            }
            _ => {
                let mut conf = fs
                    .read_string(fname)
                    .and_then(|t| HostnameConf::parse(&t).ok())
                    .unwrap_or(HostnameConf { lines: Vec::new() });
                conf.set_hostname(name);
                effects.push(Effect::write(fname, Data::public(conf.to_string()), 0o644));
            }
        }
        Ok(())
    }

    /// `_read_system_hostname()`: the file and the name it holds.
    pub fn read_system_hostname(
        &self,
        fs: &dyn FsView,
    ) -> Result<(PathBuf, Option<String>), String> {
        let fname = PathBuf::from(match self.family {
            Family::Redhat if self.systemd => "/etc/hostname",
            _ => self.hostname_conf_fn(),
        });
        let name = self.read_hostname(fs, &fname)?;
        Ok((fname, name))
    }

    /// `_apply_hostname(hostname)`: the running hostname.
    pub fn apply_hostname(&self, name: &str) -> Effect {
        let argv: Vec<String> = match self.family {
            Family::Arch => vec!["hostnamectl", "--transient", "set-hostname", name],
            _ => vec!["hostname", name],
        }
        .into_iter()
        .map(str::to_string)
        .collect();
        Effect::Host(HostAction {
            what: format!("set the running hostname to {name}"),
            argv,
        })
    }

    /// `Distro.set_hostname(hostname, fqdn)`.
    pub fn set_hostname(
        &self,
        fs: &dyn FsView,
        cfg: &Value,
        hostname: &str,
        fqdn: Option<&str>,
        effects: &mut Vec<Effect>,
    ) -> Result<(), String> {
        self.check_writers()?;
        let name = self.select_hostname(cfg, hostname, fqdn);
        self.write_hostname(fs, &name, Path::new(self.hostname_conf_fn()), effects)?;
        effects.push(self.apply_hostname(&name));
        Ok(())
    }

    /// `Distro.update_hostname(hostname, fqdn, prev_hostname_fn)`.
    pub fn update_hostname(
        &self,
        fs: &dyn FsView,
        cfg: &Value,
        hostname: &str,
        fqdn: Option<&str>,
        prev_fn: &Path,
        out: &mut ModuleOutput,
    ) -> Result<(), String> {
        self.check_writers()?;
        let applying = hostname;
        let hostname = self.select_hostname(cfg, hostname, fqdn);
        let prev = if fs.exists(prev_fn) {
            self.read_hostname(fs, prev_fn)?
        } else {
            None
        };
        let (sys_fn, sys) = self.read_system_hostname(fs)?;
        let prev_set = prev.as_deref().filter(|p| !p.is_empty());
        let sys_set = sys.as_deref().filter(|s| !s.is_empty());
        let mut update: Vec<PathBuf> = Vec::new();
        if prev_set.is_none() || prev.as_deref() != Some(hostname.as_str()) {
            update.push(prev_fn.to_path_buf());
        }
        if sys_set.is_none() || (sys == prev && sys.as_deref() != Some(hostname.as_str())) {
            update.push(sys_fn.clone());
        }
        if let (Some(s), Some(p)) = (sys_set, prev_set) {
            if s != p {
                out.note(format!(
                    "{} differs from {}, assuming user maintained hostname.",
                    prev_fn.display(),
                    sys_fn.display()
                ));
                return Ok(());
            }
        }
        update.dedup();
        out.note(format!(
            "Attempting to update hostname to {hostname} in {} files",
            update.len()
        ));
        for f in &update {
            self.write_hostname(fs, &hostname, f, &mut out.effects)?;
        }
        if update.contains(&sys_fn) {
            out.effects.push(self.apply_hostname(applying));
        }
        Ok(())
    }

    /// `Distro.update_etc_hosts(hostname, fqdn)`: the localhost line of
    /// `/etc/hosts` edited in place. No effect when the entry is there.
    pub fn update_etc_hosts(&self, fs: &dyn FsView, hostname: &str, fqdn: &str) -> Option<Effect> {
        let existing = fs.read_string(Path::new(HOSTS_FN));
        let (mut eh, header) = match &existing {
            Some(t) => (HostsConf::parse(t), None),
            None => (HostsConf::parse(""), Some(make_header("Added"))),
        };
        let ip = self.localhost_ip();
        let prev = eh.get_entry(ip);
        let mut need_change = true;
        if prev.is_empty() {
            eh.add_entry(ip, &[fqdn.to_string(), hostname.to_string()]);
        } else {
            for entry in &prev {
                if entry.first().map(String::as_str) == Some(fqdn)
                    && entry[1..].iter().any(|a| a == hostname)
                {
                    need_change = false;
                }
            }
            if need_change {
                let mut new_entries = prev.clone();
                new_entries.push(vec![fqdn.to_string(), hostname.to_string()]);
                eh.del_entries(ip);
                for e in new_entries.iter().filter(|e| !e.is_empty()) {
                    eh.add_entry(ip, e);
                }
            }
        }
        if !need_change {
            return None;
        }
        let mut text = String::new();
        if let Some(h) = header {
            text.push_str(&h);
            text.push('\n');
        }
        text.push_str(&format!("{eh}\n"));
        Some(Effect::write(HOSTS_FN, Data::public(text), 0o644))
    }
}

// ---------------------------------------------------------------------------
// Templates

/// cloud-init 22.4's hosts templates, for a root that has none (cloud-init
/// itself fails there: "No hosts template could be found").
pub const BUILTIN_TEMPLATES: &[(&str, &str)] = &[
    ("alpine", include_str!("hostname/hosts.alpine.tmpl")),
    ("arch", include_str!("hostname/hosts.arch.tmpl")),
    ("debian", include_str!("hostname/hosts.debian.tmpl")),
    ("freebsd", include_str!("hostname/hosts.freebsd.tmpl")),
    ("gentoo", include_str!("hostname/hosts.gentoo.tmpl")),
    ("mariner", include_str!("hostname/hosts.mariner.tmpl")),
    ("photon", include_str!("hostname/hosts.photon.tmpl")),
    ("redhat", include_str!("hostname/hosts.redhat.tmpl")),
    ("suse", include_str!("hostname/hosts.suse.tmpl")),
];

/// `system_info.paths.templates_dir` (default `/etc/cloud/templates/`)
/// joined with `hosts.<osfamily>.tmpl`.
pub fn template_path(cfg: &Value, osfamily: &str) -> PathBuf {
    let dir = cfg
        .get("system_info")
        .and_then(|s| s.get("paths"))
        .and_then(|p| p.get("templates_dir"))
        .and_then(Value::as_str)
        .unwrap_or("/etc/cloud/templates/");
    Path::new(dir).join(format!("hosts.{osfamily}.tmpl"))
}

/// `templater.render_string(text, params)`: a `## template: jinja` header
/// selects jinja (variables and comments, with `-` whitespace control and
/// `trim_blocks`), `## template: basic` or no header the basic renderer
/// (`$name`, `${name}`). A header-less template with a Cheetah block comment
/// (`#* ... *#`, cloud-init 0.7.5's own templates) has the comment removed
/// first, as Cheetah did: 22.4 would copy it into `/etc/hosts`.
pub fn render_template(text: &str, params: &[(&str, &str)]) -> Result<String, String> {
    use crate::templater::{self, Kind};
    match templater::detect(text)? {
        (Kind::Basic, _, false) => basic_render(&strip_cheetah_comments(text), params),
        (Kind::Basic, body, _) => basic_render(body, params),
        (Kind::Jinja, body, _) => {
            let add = if body.ends_with('\n') { "\n" } else { "" };
            Ok(format!("{}{add}", jinja_render(body, params)?))
        }
    }
}

/// Cheetah's `#* ... *#` block comments, removed with the rest of a line
/// they end.
fn strip_cheetah_comments(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("#*") {
        let Some(end) = rest[start + 2..].find("*#") else {
            break;
        };
        out.push_str(&rest[..start]);
        let mut after = &rest[start + 2 + end + 2..];
        // A comment that is whole lines leaves no blank line behind.
        let line_start = out.is_empty() || out.ends_with('\n');
        if line_start {
            if let Some(r) = after.strip_prefix('\n') {
                after = r;
            }
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// `templater.basic_render` over the hosts parameters; a name that is not a
/// parameter is an error (cloud-init's KeyError).
fn basic_render(text: &str, params: &[(&str, &str)]) -> Result<String, String> {
    crate::templater::basic_render(text, |name| {
        if name.contains('.') {
            return Err(format!(
                "the template variable '{name}' is not a hosts template parameter"
            ));
        }
        params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
            .ok_or_else(|| format!("the template variable '{name}' is not defined (KeyError)"))
    })
}

/// Jinja as cloud-init configures it (`trim_blocks=True`, no
/// `keep_trailing_newline`), for what hosts templates use: `{{ name }}`
/// and `{# comments #}`, with `-` whitespace control. Statements are
/// refused by name. An undefined name renders as
/// `CI_MISSING_JINJA_VAR/<name>`, as in cloud-init.
fn jinja_render(text: &str, params: &[(&str, &str)]) -> Result<String, String> {
    // Jinja drops one trailing newline of the source.
    let text = text.strip_suffix('\n').unwrap_or(text);
    let mut out = String::new();
    let mut rest = text;
    let mut strip_next = false;
    loop {
        let next = ["{{", "{%", "{#"]
            .iter()
            .filter_map(|o| rest.find(o).map(|i| (i, *o)))
            .min();
        let Some((start, open)) = next else {
            out.push_str(if strip_next {
                rest.trim_start_matches(py_space)
            } else {
                rest
            });
            break;
        };
        let mut literal = &rest[..start];
        if strip_next {
            literal = literal.trim_start_matches(py_space);
        }
        let body_start = start + 2;
        let lstrip = rest[body_start..].starts_with('-');
        if lstrip {
            literal = literal.trim_end_matches(py_space);
        }
        out.push_str(literal);
        let close = match open {
            "{{" => "}}",
            "{%" => "%}",
            _ => "#}",
        };
        let end = rest[body_start..]
            .find(close)
            .map(|i| body_start + i)
            .ok_or_else(|| format!("unclosed '{open}' in the template"))?;
        let mut inner = &rest[body_start..end];
        if lstrip {
            inner = &inner[1..];
        }
        let rstrip = inner.ends_with('-');
        if rstrip {
            inner = &inner[..inner.len() - 1];
        }
        let inner = inner.trim();
        match open {
            "{{" => {
                let value = params
                    .iter()
                    .find(|(k, _)| *k == inner)
                    .map(|(_, v)| v.to_string());
                match value {
                    Some(v) => out.push_str(&v),
                    None if !inner.is_empty()
                        && inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
                    {
                        out.push_str(crate::jinja::MISSING_PREFIX);
                        out.push_str(inner);
                    }
                    None => {
                        return Err(format!(
                            "jinja expression '{{{{ {inner} }}}}' is not supported by cloudboot in a hosts template"
                        ))
                    }
                }
            }
            "{%" => {
                return Err(format!(
                    "jinja statement '{{% {inner} %}}' is not supported by cloudboot in a hosts template"
                ))
            }
            _ => {}
        }
        rest = &rest[end + close.len()..];
        strip_next = rstrip;
        // trim_blocks: the first newline after a comment (or statement) goes.
        if open == "{#" && !rstrip {
            if let Some(r) = rest.strip_prefix('\n') {
                rest = r;
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// The modules' handle functions

/// What both modules do first: stop when `preserve_hostname` is set (the
/// note says what the module was `doing`), else the distro's hostname
/// handling and the names to use (errors go to `out`).
fn prepare(
    fs: &dyn FsView,
    cfg: &Value,
    instance: &Instance,
    name: &str,
    doing: &str,
    out: &mut ModuleOutput,
) -> Option<(HostDistro, Names)> {
    if cfg.get_bool("preserve_hostname", false) {
        out.note(format!(
            "Configuration option 'preserve_hostname' is set, not {doing} the hostname in module {name}"
        ));
        return None;
    }
    let result = HostDistro::for_root(cfg, fs)
        .and_then(|d| get_hostname_fqdn(cfg, instance, fs, false).map(|n| (d, n)));
    match result {
        Ok(pair) => Some(pair),
        Err(e) => {
            out.error(e);
            None
        }
    }
}

/// cc_set_hostname's `handle`, into `out`.
pub fn set_hostname(
    fs: &dyn FsView,
    paths: &Paths,
    cfg: &Value,
    instance: &Instance,
    name: &str,
    out: &mut ModuleOutput,
) {
    let Some((distro, names)) = prepare(fs, cfg, instance, name, "setting", out) else {
        return;
    };
    let hostname = names.hostname.unwrap_or_default();
    let fqdn = names.fqdn.unwrap_or_default();
    let prev_fn = paths.data(SET_HOSTNAME_FILE);
    let prev: serde_json::Value = match fs.read_string(&prev_fn) {
        None => serde_json::Value::Null,
        Some(text) => match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                return out.error(format!(
                    "{}: not JSON ({e}); cloud-init 22.4 fails on it",
                    prev_fn.display()
                ))
            }
        },
    };
    let same = |key: &str, v: &str| prev.get(key).and_then(|p| p.as_str()) == Some(v);
    if same("hostname", &hostname) && same("fqdn", &fqdn) {
        out.note("No hostname changes. Skipping set-hostname");
        return;
    }
    if names.is_default && hostname == "localhost" {
        out.note("Hostname is localhost. Let other services handle this.");
        return;
    }
    out.note(format!("Setting the hostname to {fqdn} ({hostname})"));
    if let Err(e) = distro.set_hostname(fs, cfg, &hostname, Some(&fqdn), &mut out.effects) {
        return out.error(format!(
            "Failed to set the hostname to {fqdn} ({hostname}): {e}"
        ));
    }
    out.effects.push(Effect::write(
        prev_fn,
        Data::public(set_hostname_json(&hostname, &fqdn)),
        0o644,
    ));
}

/// cc_update_hostname's `handle`, into `out`.
pub fn update_hostname(
    fs: &dyn FsView,
    paths: &Paths,
    cfg: &Value,
    instance: &Instance,
    name: &str,
    out: &mut ModuleOutput,
) {
    let Some((distro, names)) = prepare(fs, cfg, instance, name, "updating", out) else {
        return;
    };
    let hostname = names.hostname.unwrap_or_default();
    if names.is_default && hostname == "localhost" {
        out.note("Hostname is localhost. Let other services handle this.");
        return;
    }
    let fqdn = names.fqdn.unwrap_or_default();
    let prev_fn = paths.data(PREVIOUS_HOSTNAME_FILE);
    out.note(format!("Updating hostname to {fqdn} ({hostname})"));
    if let Err(e) = distro.update_hostname(fs, cfg, &hostname, Some(&fqdn), &prev_fn, out) {
        out.error(format!(
            "Failed to update the hostname to {fqdn} ({hostname}): {e}"
        ));
    }
}

/// cc_update_etc_hosts's `handle`, into `out`.
pub fn update_etc_hosts(
    fs: &dyn FsView,
    cfg: &Value,
    instance: &Instance,
    name: &str,
    out: &mut ModuleOutput,
) {
    // `get_cfg_option_str(cfg, "manage_etc_hosts", False)`.
    let manage = cfg.get("manage_etc_hosts");
    let manage_str = manage.map(Value::python_str);
    let enabled = match manage {
        None => false,
        Some(_) => translate_bool(
            &Value::str(manage_str.clone().unwrap_or_default()),
            &["template"],
        ),
    };
    let distro = match HostDistro::for_root(cfg, fs) {
        Ok(d) => d,
        Err(e) => return out.error(e),
    };
    if enabled {
        if manage_str.as_deref() == Some("template") {
            out.note("DEPRECATED: please use manage_etc_hosts: true instead of 'template'");
        }
        let names = match get_hostname_fqdn(cfg, instance, fs, false) {
            Ok(n) => n,
            Err(e) => return out.error(e),
        };
        let hostname = names.hostname.unwrap_or_default();
        if hostname.is_empty() {
            out.note("Option 'manage_etc_hosts' was set, but no hostname was found");
            return;
        }
        let fqdn = names.fqdn.unwrap_or_default();
        let tpl = template_path(cfg, distro.osfamily);
        let text = match fs.read_string(&tpl) {
            Some(t) => t,
            None => match BUILTIN_TEMPLATES
                .iter()
                .find(|(f, _)| *f == distro.osfamily)
            {
                Some((_, t)) => {
                    out.note(format!(
                        "No template found at {}: using cloud-init 22.4's hosts.{}.tmpl",
                        tpl.display(),
                        distro.osfamily
                    ));
                    t.to_string()
                }
                None => {
                    return out.error(format!(
                        "No hosts template could be found for distro {}",
                        distro.osfamily
                    ))
                }
            },
        };
        match render_template(&text, &[("hostname", &hostname), ("fqdn", &fqdn)]) {
            Ok(rendered) => {
                out.effects
                    .push(Effect::write(HOSTS_FN, Data::public(rendered), 0o644))
            }
            Err(e) => out.error(format!("{}: {e}", tpl.display())),
        }
    } else if manage_str.as_deref() == Some("localhost") {
        let names = match get_hostname_fqdn(cfg, instance, fs, false) {
            Ok(n) => n,
            Err(e) => return out.error(e),
        };
        let hostname = names.hostname.unwrap_or_default();
        if hostname.is_empty() {
            out.note("Option 'manage_etc_hosts' was set, but no hostname was found");
            return;
        }
        let fqdn = names.fqdn.unwrap_or_default();
        out.note(format!("Managing localhost in {HOSTS_FN}"));
        if let Some(e) = distro.update_etc_hosts(fs, &hostname, &fqdn) {
            out.effects.push(e);
        }
    } else {
        out.note(format!(
            "Configuration option 'manage_etc_hosts' is not set, not managing {HOSTS_FN} in module {name}"
        ));
    }
}

// ---------------------------------------------------------------------------
// The engine's early call

/// What [`maybe_set_hostname`] plans.
#[derive(Debug, Default)]
pub struct EarlyHostname {
    pub effects: Vec<Effect>,
    pub notes: Vec<String>,
}

/// cloud-init's `_maybe_set_hostname` (cmd/main.py), which `init --local`
/// runs before the network is configured and `init` runs before user-data is
/// consumed: when meta-data or the config names a hostname, set_hostname's
/// `handle` runs (no semaphore), with the config as it is at that moment
/// (on an instance's first boot that is without this boot's user-data). A
/// failure is only noted, as cloud-init only logs it and retries later.
pub fn maybe_set_hostname(
    fs: &dyn FsView,
    paths: &Paths,
    cfg: &Value,
    instance: &Instance,
) -> EarlyHostname {
    let mut early = EarlyHostname::default();
    let names = match get_hostname_fqdn(cfg, instance, fs, true) {
        Ok(n) => n,
        Err(e) => {
            early.notes.push(format!("hostname not set: {e}"));
            return early;
        }
    };
    if names.hostname.as_deref().is_none_or(str::is_empty) {
        early
            .notes
            .push("no hostname in meta-data or config: hostname not set".into());
        return early;
    }
    let mut out = ModuleOutput::default();
    set_hostname(fs, paths, cfg, instance, "set-hostname", &mut out);
    early.effects = out.effects;
    early.notes = out.notes;
    for e in out.errors {
        early.notes.push(format!(
            "Failed setting hostname: {e}; will retry in a later stage"
        ));
    }
    early
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
    fn translate_bool_as_cloud_init() {
        assert!(translate_bool(&Value::str(" Yes "), &[]));
        assert!(!translate_bool(&Value::str("localhost"), &[]));
        assert!(translate_bool(&Value::str("template"), &["template"]));
        assert!(translate_bool(&Value::Int(1), &[]));
        assert!(!translate_bool(&Value::Null, &[]));
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

    #[test]
    fn fqdn_from_hosts_reads_aliases() {
        let hosts = "127.0.0.1 localhost\n127.0.1.1 web.example.com web # c\n";
        assert_eq!(
            fqdn_from_hosts(hosts, "web").as_deref(),
            Some("web.example.com")
        );
        assert_eq!(fqdn_from_hosts(hosts, "localhost"), None);
    }

    #[test]
    fn jinja_comments_whitespace_control_and_missing_names() {
        let p = [("hostname", "h"), ("fqdn", "h.d")];
        assert_eq!(jinja_render("a\n{# c #}\nb\n", &p).unwrap(), "a\nb");
        assert_eq!(jinja_render("a {# c -#}  \n\n b", &p).unwrap(), "a b");
        assert_eq!(jinja_render("a\n  {#- c #}\nb", &p).unwrap(), "ab");
        assert_eq!(
            jinja_render("{{fqdn}} {{ x }}\n\n", &p).unwrap(),
            "h.d CI_MISSING_JINJA_VAR/x\n"
        );
        assert!(jinja_render("{% if x %}{% endif %}", &p).is_err());
    }

    #[test]
    fn basic_render_and_cheetah_comments() {
        let p = [("hostname", "h"), ("fqdn", "h.d")];
        assert_eq!(
            render_template("#*\n  note\n*#\n127.0.0.1 ${fqdn} $hostname \n", &p).unwrap(),
            "127.0.0.1 h.d h \n"
        );
        assert!(render_template("$nope\n", &p).is_err());
        assert_eq!(
            render_template("## template: basic\ncost $5 $\n", &p).unwrap_err(),
            "the template variable '5' is not defined (KeyError)"
        );
        assert!(render_template("## template:cheetah\nx\n", &p).is_err());
    }

    #[test]
    fn sysconf_reads_and_writes_as_configobj() {
        let text = "# comment\nNETWORKING=yes\n\nHOSTNAME=\"old.example\"  # inline\nNOZEROCONF=yes\n# tail\n";
        assert_eq!(
            update_sysconfig(Some(text), "HOSTNAME", "web1.example.com").unwrap().unwrap(),
            "# comment\nNETWORKING=yes\n\nHOSTNAME=web1.example.com# inline\nNOZEROCONF=yes\n# tail\n"
        );
        assert_eq!(
            SysConf::parse(text).unwrap().get("HOSTNAME"),
            Ok(Some("old.example"))
        );
        assert!(SysConf::parse("A=a, b\n").unwrap().render().is_err());
        assert!(SysConf::parse("HOSTNAME=a,\n")
            .unwrap()
            .get("HOSTNAME")
            .is_err());
        assert!(SysConf::parse("garbage\n").is_err());
        assert!(SysConf::parse("A=1\nA=2\n").is_err());
        assert_eq!(
            update_sysconfig(Some("A=1\n"), "HOSTNAME", "").unwrap(),
            None
        );
        let new = update_sysconfig(None, "HOSTNAME", "h").unwrap().unwrap();
        assert!(new.starts_with("# Created by cloud-init v. "), "{new}");
        assert!(new.ends_with("\nHOSTNAME=h\n"), "{new}");
    }
}
