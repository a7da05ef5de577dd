//! VMware guest customization (`cust.cfg`, the INI file VMware's tools put
//! in the guest for "customize this Linux VM") into network config version
//! 1, as cloud-init 22.4 reads it: `ConfigFile`
//! (`cloudinit/sources/helpers/vmware/imc/config_file.py`: Python's
//! `configparser`, keys' case kept), `Config` and `Nic` (`config.py`,
//! `nic.py`), `NicConfigurator` (`config_nic.py`) and
//! `get_network_config_from_conf` (`sources/DataSourceOVF.py`). The same
//! entries, keys in the same order, the same values; an error where 22.4
//! raises.
//!
//! How 22.4 reads the file, which this module keeps:
//!
//! - `configparser` with its defaults except `optionxform = str`: section
//!   names and keys are case-sensitive (`BOOTPROTO`, not `bootproto`); `=`
//!   or `:` between key and value; whole-line `#`/`;` comments, no inline
//!   ones; a line indented deeper than its key's continues the value
//!   (joined with newlines); `[DEFAULT]`'s keys are in every section;
//!   `%(name)s` is replaced by the section's `name`, `%%` is `%`, any other
//!   `%` is an error; a key or section given twice is an error.
//! - Every key becomes `SECTION|KEY` (stripped) in one flat table, and the
//!   numbered keys are read as 22.4 reads them: `DNS|NAMESERVER|1` up to
//!   the number of keys starting `DNS|NAMESERVER|` (one missing: an error).
//! - `NIC-CONFIG|NICS` split on commas (not stripped) names the NICs; each
//!   is a physical interface named as its section (`NIC1`; a future OVF
//!   datasource passes the machine's names by MAC instead) with its
//!   `MACADDR` lower-cased; `ONBOOT` yes/true gives `control: auto`;
//!   `BOOTPROTO` static (any case) with `IPv4_MODE` not `DISABLED` is a
//!   static subnet from `IPADDR`/`NETMASK`, anything else DHCP (a disabled
//!   IPv4 too, as 22.4 has it); the `PRIMARY` NIC gets its first `GATEWAY`
//!   as the subnet's gateway; with no primary NIC, each NIC's gateways are
//!   routes to the gateway's own network (`gen_subnet`), metric 10000; a
//!   NIC that is not primary while another is gets no gateway at all;
//!   `IPv6ADDR|n`/`IPv6NETMASK|n` are `static6` subnets (their gateways are
//!   not used); `DNS|NAMESERVER|n` and `DNS|SUFFIX|n` are one `nameserver`
//!   entry when either is given.
//!
//! Deliberate differences, all on input no VMware tool writes: a file over
//! [`MAX_BYTES`] is refused (22.4 reads any size), and so is one whose
//! `%(name)s` references or `[DEFAULT]` keys expand past
//! [`MAX_EXPANDED_BYTES`] (22.4 would expand until memory ran out); a
//! gateway octet written in non-ASCII digits (which Python's `int()`
//! reads) is refused; where 22.4 stops with a traceback, the error here
//! names the section, key and line, and never quotes a secret key's value
//! (`PASSWORD|-PASS`; 22.4's traceback may).
//!
//! Checked against 22.4: tests/fixtures/net-convert (`devel net-convert
//! -k vmware-imc`, fourteen `cust*.cfg`, every output kind) and the unit
//! tests below.

use std::collections::{BTreeMap, HashMap};

use crate::py::str::{is_space, strip as py_strip};
use crate::value::{Mapping, Value};

/// The largest `cust.cfg` read: VMware's are a few kilobytes.
pub const MAX_BYTES: usize = 1 << 20;

/// The most the values may add up to once `%(name)s` references and
/// `[DEFAULT]`'s keys (copied into every section) are expanded.
pub const MAX_EXPANDED_BYTES: usize = 16 << 20;

/// `configparser.MAX_INTERPOLATION_DEPTH`.
const MAX_INTERPOLATION_DEPTH: usize = 10;

/// What is wrong with a `cust.cfg`: each names the line, section or key
/// (the caller names the file).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CustCfgError {
    #[error("{0} bytes: larger than a guest customization file can be ({MAX_BYTES} bytes)")]
    TooLarge(usize),
    #[error("line {line}: a key before any [section]: {text}")]
    NoSection { line: usize, text: String },
    #[error("line {line}: neither a [section] nor KEY = value: {text}")]
    NotAKey { line: usize, text: String },
    #[error("line {line}: no key before the '=' or ':': {text}")]
    EmptyKey { line: usize, text: String },
    #[error("line {line}: section [{section}] again (first at line {first})")]
    DuplicateSection {
        line: usize,
        section: String,
        first: usize,
    },
    #[error("line {line}: [{section}] {key} again (first at line {first})")]
    DuplicateKey {
        line: usize,
        section: String,
        key: String,
        first: usize,
    },
    /// A `%` in a value that is neither `%%` nor `%(name)s` naming a key
    /// of the section (or `[DEFAULT]`).
    #[error("[{section}] {key} (line {line}): {problem}")]
    Interpolation {
        section: String,
        key: String,
        line: usize,
        problem: String,
    },
    #[error(
        "[{section}] {key} (line {line}): the values grow past {MAX_EXPANDED_BYTES} bytes \
         with their %(name)s references and [DEFAULT] keys"
    )]
    TooMuch {
        section: String,
        key: String,
        line: usize,
    },
    #[error("no NICS in [NIC-CONFIG]: which NICs to configure")]
    NoNics,
    #[error("no MACADDR in [{nic}] (a NIC of NICS in [NIC-CONFIG], line {line})")]
    NoMac { nic: String, line: usize },
    #[error("There can only be one primary nic: PRIMARY is yes or true for {0}")]
    TwoPrimaries(String),
    #[error("No known device has MACADDR: {mac} ([{nic}])")]
    UnknownMac { mac: String, nic: String },
    /// `DNS|NAMESERVER|3` read while `DNS|NAMESERVER|2` is missing.
    #[error(
        "[{section}] has no {what}|{missing}: its {count} {what}|n key(s) (the first at line \
         {line}) must be numbered 1 to {count}"
    )]
    NumberGap {
        section: String,
        what: String,
        count: usize,
        missing: usize,
        line: usize,
    },
    /// The netmask a gateway's route is computed with.
    #[error(
        "[{nic}] NETMASK {netmask} (needed for the routes through GATEWAY, line {line}): {problem}"
    )]
    RouteNetmask {
        nic: String,
        netmask: String,
        line: usize,
        problem: String,
    },
    #[error("[{nic}] GATEWAY (line {line}): {gateway:?} is not an IPv4 address its route can be computed from")]
    RouteGateway {
        nic: String,
        gateway: String,
        line: usize,
    },
}

/// One value of the flat table and the line it was given on.
#[derive(Clone, Debug)]
struct Entry {
    value: String,
    line: usize,
}

/// A parsed `cust.cfg` (22.4's `ConfigFile` with `Config`'s accessors):
/// every key as `SECTION|KEY`.
#[derive(Clone, Debug, Default)]
pub struct CustCfg {
    entries: BTreeMap<String, Entry>,
}

/// One key of a section while reading: its value's lines, its line.
struct RawKey {
    name: String,
    lines: Vec<String>,
    line: usize,
}

#[derive(Default)]
struct RawSection {
    name: String,
    line: usize,
    keys: Vec<RawKey>,
    index: HashMap<String, usize>,
}

impl RawSection {
    fn named(name: &str, line: usize) -> RawSection {
        RawSection {
            name: name.to_string(),
            line,
            ..RawSection::default()
        }
    }

    /// Each key and its value, lines joined and right-stripped as
    /// `_join_multiline_values` does.
    fn joined(&self) -> impl Iterator<Item = (&str, String, usize)> {
        self.keys.iter().map(|k| {
            let value = k.lines.join("\n");
            (
                k.name.as_str(),
                value.trim_end_matches(is_space).to_string(),
                k.line,
            )
        })
    }
}

/// What 22.4 does not log the value of (`_insertKey`'s `canLog`): a key
/// starting with `-` (`PASSWORD|-PASS`); its value stays out of errors too.
fn secret(flat_key: &str) -> bool {
    let key = py_strip(flat_key);
    key.starts_with('-') || key.contains("|-")
}

/// The interpolation error of a secret key, without its value.
const SECRET_PERCENT: &str =
    "a '%' that is neither '%%' nor '%(name)s' naming a key (the value is not shown: a secret)";

/// A line as errors quote it: not one that may be a secret key's.
fn quoted(line: &str) -> String {
    if py_strip(line).starts_with('-') {
        "(not shown: it may hold a secret)".to_string()
    } else {
        format!("{line:?}")
    }
}

/// `[header]` as `configparser.SECTCRE` (`\[(?P<header>.+)\]`, matched at
/// the start only): the text up to the last `]`, which may be followed by
/// anything.
fn section_header(value: &str) -> Option<&str> {
    let rest = value.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    (end > 0).then(|| &rest[..end])
}

/// Python's text mode with universal newlines: `\r\n` and a lone `\r` end
/// a line as `\n` does; nothing else does.
fn lines(text: &str) -> Vec<String> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut out: Vec<String> = text.split('\n').map(str::to_string).collect();
    if text.ends_with('\n') || text.is_empty() {
        out.pop();
    }
    out
}

/// `configparser.RawConfigParser._read`: the sections in order and
/// `[DEFAULT]`. The errors 22.4 collects to raise at the end
/// (`ParsingError`) come back here as the first of them, after the errors
/// it raises at once.
fn read_sections(text: &str) -> Result<(Vec<RawSection>, RawSection), CustCfgError> {
    let mut defaults = RawSection::named("DEFAULT", 0);
    let mut sections: Vec<RawSection> = Vec::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    // None: before any header; Some(None): [DEFAULT]; Some(Some(i)).
    let mut current: Option<Option<usize>> = None;
    // The key the next deeper-indented line continues.
    let mut key: Option<usize> = None;
    let mut indent_level = 0usize;
    let mut deferred: Option<CustCfgError> = None;
    for (i, line) in lines(text).iter().enumerate() {
        let number = i + 1;
        let stripped = py_strip(line);
        let comment = stripped.starts_with('#') || stripped.starts_with(';');
        let value = if comment { "" } else { stripped };
        let section = match current {
            None => None,
            Some(None) => Some(&mut defaults),
            Some(Some(i)) => Some(&mut sections[i]),
        };
        if value.is_empty() {
            // A blank line may be part of a value (`empty_lines_in_values`);
            // a comment line never is.
            if let (false, Some(s), Some(k)) = (comment, section, key) {
                s.keys[k].lines.push(String::new());
            }
            continue;
        }
        let indent = line.chars().position(|c| !is_space(c)).unwrap_or(0);
        if let (Some(s), Some(k)) = (section, key) {
            if indent > indent_level {
                s.keys[k].lines.push(value.to_string());
                continue;
            }
        }
        indent_level = indent;
        if let Some(name) = section_header(value) {
            if let Some(&at) = by_name.get(name) {
                return Err(CustCfgError::DuplicateSection {
                    line: number,
                    section: name.to_string(),
                    first: sections[at].line,
                });
            }
            if name == "DEFAULT" {
                current = Some(None);
            } else {
                by_name.insert(name.to_string(), sections.len());
                current = Some(Some(sections.len()));
                sections.push(RawSection::named(name, number));
            }
            key = None;
            continue;
        }
        let section = match current {
            None => {
                return Err(CustCfgError::NoSection {
                    line: number,
                    text: quoted(line),
                })
            }
            Some(None) => &mut defaults,
            Some(Some(i)) => &mut sections[i],
        };
        // `(?P<option>.*?)\s*(?P<vi>=|:)\s*(?P<value>.*)$`: the first `=`
        // or `:` divides.
        let Some(at) = value.find(['=', ':']) else {
            deferred.get_or_insert(CustCfgError::NotAKey {
                line: number,
                text: quoted(line),
            });
            continue;
        };
        let name = value[..at].trim_end_matches(is_space);
        if name.is_empty() {
            deferred.get_or_insert(CustCfgError::EmptyKey {
                line: number,
                text: quoted(line),
            });
        }
        if let Some(&k) = section.index.get(name) {
            return Err(CustCfgError::DuplicateKey {
                line: number,
                section: section.name.clone(),
                key: name.to_string(),
                first: section.keys[k].line,
            });
        }
        section.index.insert(name.to_string(), section.keys.len());
        key = Some(section.keys.len());
        section.keys.push(RawKey {
            name: name.to_string(),
            lines: vec![py_strip(&value[at + 1..]).to_string()],
            line: number,
        });
    }
    match deferred {
        Some(e) => Err(e),
        None => Ok((sections, defaults)),
    }
}

/// `BasicInterpolation._interpolate_some`: `value` with `%%` and
/// `%(name)s` replaced, names looked up in `map` (the section's keys over
/// `[DEFAULT]`'s); `budget` is what the expanded values may still take.
fn interpolate(
    value: &str,
    map: &HashMap<&str, &str>,
    depth: usize,
    out: &mut String,
    budget: &mut usize,
) -> Result<(), String> {
    if depth > MAX_INTERPOLATION_DEPTH {
        return Err(format!(
            "%(name)s references nested more than {MAX_INTERPOLATION_DEPTH} deep"
        ));
    }
    // An empty message: the budget is spent.
    fn push(out: &mut String, budget: &mut usize, s: &str) -> Result<(), String> {
        *budget = budget.checked_sub(s.len()).ok_or_else(String::new)?;
        out.push_str(s);
        Ok(())
    }
    let mut rest = value;
    while !rest.is_empty() {
        let Some(p) = rest.find('%') else {
            return push(out, budget, rest);
        };
        push(out, budget, &rest[..p])?;
        rest = &rest[p..];
        match rest[1..].chars().next() {
            Some('%') => {
                push(out, budget, "%")?;
                rest = &rest[2..];
            }
            Some('(') => {
                // `%\(([^)]+)\)s`
                let name_end = rest[2..].find(')').map(|e| e + 2);
                let name = match name_end {
                    Some(e) if e > 2 && rest[e + 1..].starts_with('s') => &rest[2..e],
                    _ => return Err(format!("bad interpolation variable reference {rest:?}")),
                };
                rest = &rest[name_end.unwrap_or(0) + 2..];
                let Some(v) = map.get(name) else {
                    return Err(format!(
                        "%({name})s names no key of this section or [DEFAULT]"
                    ));
                };
                if v.contains('%') {
                    interpolate(v, map, depth + 1, out, budget)?;
                } else {
                    push(out, budget, v)?;
                }
            }
            _ => {
                return Err(format!(
                    "'%' must be followed by '%' or '(', found: {rest:?}"
                ))
            }
        }
    }
    Ok(())
}

impl CustCfg {
    /// Reads a `cust.cfg` as 22.4's `ConfigFile` does.
    pub fn parse(text: &str) -> Result<CustCfg, CustCfgError> {
        if text.len() > MAX_BYTES {
            return Err(CustCfgError::TooLarge(text.len()));
        }
        let (sections, defaults) = read_sections(text)?;
        let defaults: Vec<(&str, String, usize)> = defaults.joined().collect();
        let mut budget = MAX_EXPANDED_BYTES;
        let mut entries = BTreeMap::new();
        for section in &sections {
            // `items(section)`: `[DEFAULT]`'s keys, then the section's
            // (which win), each interpolated against them all.
            let own: Vec<(&str, String, usize)> = section.joined().collect();
            let mut items: Vec<(&str, &str, usize)> = Vec::new();
            let mut at: HashMap<&str, usize> = HashMap::new();
            for (name, value, line) in defaults.iter().chain(own.iter()) {
                match at.get(name) {
                    Some(&i) => items[i] = (*name, value.as_str(), *line),
                    None => {
                        at.insert(*name, items.len());
                        items.push((*name, value.as_str(), *line));
                    }
                }
            }
            let map: HashMap<&str, &str> = items.iter().map(|(n, v, _)| (*n, *v)).collect();
            for (name, value, line) in &items {
                let mut expanded = String::new();
                interpolate(value, &map, 1, &mut expanded, &mut budget).map_err(|problem| {
                    if problem.is_empty() {
                        CustCfgError::TooMuch {
                            section: section.name.clone(),
                            key: name.to_string(),
                            line: *line,
                        }
                    } else {
                        CustCfgError::Interpolation {
                            section: section.name.clone(),
                            key: name.to_string(),
                            line: *line,
                            problem: if secret(&format!("{}|{name}", section.name)) {
                                SECRET_PERCENT.to_string()
                            } else {
                                problem
                            },
                        }
                    }
                })?;
                // `_insertKey`: key and value stripped.
                let key = format!("{}|{}", section.name, name);
                entries.insert(
                    py_strip(&key).to_string(),
                    Entry {
                        value: py_strip(&expanded).to_string(),
                        line: *line,
                    },
                );
            }
        }
        Ok(CustCfg { entries })
    }

    /// A value by its `SECTION|KEY`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(|e| e.value.as_str())
    }

    fn line_of(&self, key: &str) -> usize {
        self.entries.get(key).map_or(0, |e| e.line)
    }

    /// `get_count_with_prefix`: how many keys start with `prefix`.
    pub fn count_with_prefix(&self, prefix: &str) -> usize {
        self.entries
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(k, _)| k.starts_with(prefix))
            .count()
    }

    /// `NETWORK|HOSTNAME`.
    pub fn host_name(&self) -> Option<&str> {
        self.get("NETWORK|HOSTNAME")
    }

    /// `NETWORK|DOMAINNAME`.
    pub fn domain_name(&self) -> Option<&str> {
        self.get("NETWORK|DOMAINNAME")
    }

    /// `DATETIME|TIMEZONE`.
    pub fn timezone(&self) -> Option<&str> {
        self.get("DATETIME|TIMEZONE")
    }

    /// `PREFIX1`, `PREFIX2`, ... up to the number of keys starting with
    /// `PREFIX` (`Config.name_servers`, `Config.dns_suffixes`).
    fn numbered(&self, section: &str, what: &str) -> Result<Vec<String>, CustCfgError> {
        let prefix = format!("{section}|{what}|");
        let count = self.count_with_prefix(&prefix);
        let first_line = || {
            self.entries
                .range::<str, _>((
                    std::ops::Bound::Included(prefix.as_str()),
                    std::ops::Bound::Unbounded,
                ))
                .take_while(|(k, _)| k.starts_with(&prefix))
                .map(|(_, e)| e.line)
                .min()
                .unwrap_or(0)
        };
        (1..=count)
            .map(|n| {
                self.get(&format!("{prefix}{n}"))
                    .map(str::to_string)
                    .ok_or_else(|| CustCfgError::NumberGap {
                        section: section.to_string(),
                        what: what.to_string(),
                        count,
                        missing: n,
                        line: first_line(),
                    })
            })
            .collect()
    }

    /// `Config.name_servers`: `DNS|NAMESERVER|n`.
    pub fn name_servers(&self) -> Result<Vec<String>, CustCfgError> {
        self.numbered("DNS", "NAMESERVER")
    }

    /// `Config.dns_suffixes`: `DNS|SUFFIX|n`.
    pub fn dns_suffixes(&self) -> Result<Vec<String>, CustCfgError> {
        self.numbered("DNS", "SUFFIX")
    }

    /// `Config.nics`: `NIC-CONFIG|NICS` split on commas, not stripped.
    pub fn nics(&self) -> Result<Vec<Nic<'_>>, CustCfgError> {
        let nics = self.get("NIC-CONFIG|NICS").ok_or(CustCfgError::NoNics)?;
        Ok(nics
            .split(',')
            .map(|name| Nic {
                name: name.to_string(),
                cfg: self,
            })
            .collect())
    }
}

/// One NIC of `NICS` (22.4's `Nic`): its keys are `NAME|KEY`.
pub struct Nic<'a> {
    pub name: String,
    cfg: &'a CustCfg,
}

impl Nic<'_> {
    fn key(&self, what: &str) -> String {
        format!("{}|{what}", self.name)
    }

    fn get(&self, what: &str) -> Option<&str> {
        self.cfg.get(&self.key(what))
    }

    /// A value that is given and not empty (Python's `if value:`).
    fn given(&self, what: &str) -> Option<&str> {
        self.get(what).filter(|v| !v.is_empty())
    }

    /// yes or true, any case.
    fn yes(&self, what: &str) -> bool {
        self.given(what)
            .map(str::to_lowercase)
            .is_some_and(|v| v == "yes" || v == "true")
    }

    /// `MACADDR`, lower-cased.
    pub fn mac(&self) -> Result<String, CustCfgError> {
        self.get("MACADDR")
            .map(str::to_lowercase)
            .ok_or_else(|| CustCfgError::NoMac {
                nic: self.name.clone(),
                line: self.cfg.line_of("NIC-CONFIG|NICS"),
            })
    }

    pub fn primary(&self) -> bool {
        self.yes("PRIMARY")
    }

    pub fn onboot(&self) -> bool {
        self.yes("ONBOOT")
    }

    /// `BOOTPROTO`, lower-cased; empty when not given.
    pub fn boot_proto(&self) -> String {
        self.given("BOOTPROTO")
            .map(str::to_lowercase)
            .unwrap_or_default()
    }

    /// `IPv4_MODE`, lower-cased; empty when not given.
    pub fn ipv4_mode(&self) -> String {
        self.given("IPv4_MODE")
            .map(str::to_lowercase)
            .unwrap_or_default()
    }

    /// `GATEWAY` split on commas, each stripped; `None` when not given.
    fn gateways(&self) -> Option<Vec<String>> {
        self.given("GATEWAY")
            .map(|v| v.split(',').map(|g| py_strip(g).to_string()).collect())
    }
}

fn entry(pairs: Vec<(&str, Value)>) -> Value {
    let mut m = Mapping::new();
    for (k, v) in pairs {
        m.insert(Value::str(k), v);
    }
    Value::Map(m)
}

fn opt_str(v: Option<&str>) -> Value {
    v.map_or(Value::Null, Value::str)
}

/// Python's `int(text) & mask` for one octet (`mask` 0..=255, so only the
/// low byte of the two's-complement value counts): surrounding whitespace,
/// a sign, ASCII digits with single `_` between them. `None` where Python
/// raises (and for non-ASCII digits, which Python reads).
fn octet_and(text: &str, mask: u8) -> Option<u8> {
    let t = py_strip(text);
    let (negative, digits) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') {
        return None;
    }
    if digits.contains("__") {
        return None;
    }
    let mut low: u32 = 0;
    for c in digits.chars().filter(|&c| c != '_') {
        low = (low * 10 + c.to_digit(10).filter(|_| c.is_ascii_digit())?) % 256;
    }
    let low = if negative { (256 - low) % 256 } else { low };
    Some(low as u8 & mask)
}

/// `ipv4_mask_to_net_prefix` (`ipaddress.ip_network("0.0.0.0/MASK")`):
/// a prefix length, a netmask or a hostmask.
fn mask_prefix(mask: &str) -> Result<u32, String> {
    if mask.starts_with('+') || mask.starts_with(is_space) || mask.ends_with(is_space) {
        return Err(format!(
            "'0.0.0.0/{mask}' does not appear to be an IPv4 network"
        ));
    }
    crate::net::state::ipv4_mask_to_prefix(mask).map_err(|e| e.to_string())
}

/// What `NicConfigurator.generate` builds: the NICs' entries, in order.
struct Configurator<'a> {
    nics: Vec<Nic<'a>>,
    /// `mac2Name`: lower-cased MAC -> interface name.
    names: HashMap<String, String>,
    has_primary: bool,
}

impl Configurator<'_> {
    /// `gen_one_nic`.
    fn one_nic(&self, nic: &Nic) -> Result<Value, CustCfgError> {
        let mac = nic.mac()?.to_lowercase();
        let name = match self.names.get(&mac) {
            Some(n) if !n.is_empty() => n.clone(),
            _ => {
                return Err(CustCfgError::UnknownMac {
                    mac,
                    nic: nic.name.clone(),
                })
            }
        };
        let mut subnets = vec![self.ipv4(nic)?];
        subnets.extend(self.ipv6(nic));
        Ok(entry(vec![
            ("type", Value::str("physical")),
            ("name", Value::str(name)),
            ("mac_address", Value::str(mac)),
            ("subnets", Value::Seq(subnets)),
        ]))
    }

    /// `gen_ipv4`: the NIC's one IPv4 subnet.
    fn ipv4(&self, nic: &Nic) -> Result<Value, CustCfgError> {
        let mut subnet = Mapping::new();
        let mut set = |k: &str, v: Value| subnet.insert(Value::str(k), v);
        if nic.onboot() {
            set("control", Value::str("auto"));
        }
        let static_v4 = nic.boot_proto() == "static" && nic.ipv4_mode() != "disabled";
        if !static_v4 {
            set("type", Value::str("dhcp"));
            return Ok(Value::Map(subnet));
        }
        set("type", Value::str("static"));
        if let Some(ip) = nic.given("IPADDR") {
            set("address", Value::str(ip));
        }
        let netmask = nic.given("NETMASK");
        if let Some(mask) = netmask {
            set("netmask", Value::str(mask));
        }
        let gateways = nic.gateways();
        match gateways {
            Some(g) if nic.primary() => set("gateway", Value::str(&g[0])),
            Some(g) if !self.has_primary => {
                set("routes", Value::Seq(routes(nic, &g, netmask)?));
            }
            _ => {}
        }
        Ok(Value::Map(subnet))
    }

    /// `gen_ipv6`: a `static6` subnet for each `IPv6ADDR|n`, n up to the
    /// number of `IPv6ADDR|` keys (a missing one is `None`, as in 22.4).
    fn ipv6(&self, nic: &Nic) -> Vec<Value> {
        let count = nic.cfg.count_with_prefix(&nic.key("IPv6ADDR|"));
        (1..=count)
            .map(|n| {
                entry(vec![
                    ("type", Value::str("static6")),
                    ("address", opt_str(nic.get(&format!("IPv6ADDR|{n}")))),
                    ("netmask", opt_str(nic.get(&format!("IPv6NETMASK|{n}")))),
                ])
            })
            .collect()
    }
}

/// `gen_ipv4_route`: a route to each gateway's own network
/// (`gen_subnet`: each of the first four octets and-ed with the mask's).
fn routes(
    nic: &Nic,
    gateways: &[String],
    netmask: Option<&str>,
) -> Result<Vec<Value>, CustCfgError> {
    let line = nic.cfg.line_of(&nic.key("GATEWAY"));
    let bad_mask = |problem: String| CustCfgError::RouteNetmask {
        nic: nic.name.clone(),
        netmask: netmask.map_or("(not given)".into(), |m| format!("{m:?}")),
        line,
        problem,
    };
    let mask = netmask.ok_or_else(|| bad_mask("a netmask is needed".into()))?;
    let prefix = mask_prefix(mask).map_err(bad_mask)?;
    let mask_octets: Vec<&str> = mask.split('.').collect();
    if mask_octets.len() < 4 {
        return Err(bad_mask(
            "routes need a dotted netmask (22.4 fails on a prefix length here)".into(),
        ));
    }
    // Four octets of 0-255: `mask_prefix` took it as an address.
    let mask_bytes: Vec<u8> = mask_octets[..4]
        .iter()
        .map(|o| o.parse())
        .collect::<Result<_, _>>()
        .map_err(|_| bad_mask("not a dotted netmask".into()))?;
    gateways
        .iter()
        .map(|gateway| {
            let bad_gateway = || CustCfgError::RouteGateway {
                nic: nic.name.clone(),
                gateway: gateway.clone(),
                line,
            };
            let parts: Vec<&str> = gateway.split('.').collect();
            let mut network = Vec::with_capacity(4);
            for (i, &m) in mask_bytes.iter().enumerate() {
                let part = parts.get(i).ok_or_else(bad_gateway)?;
                network.push(octet_and(part, m).ok_or_else(bad_gateway)?.to_string());
            }
            Ok(entry(vec![
                (
                    "destination",
                    Value::str(format!("{}/{prefix}", network.join("."))),
                ),
                ("type", Value::str("route")),
                ("gateway", Value::str(gateway)),
                ("metric", Value::Int(10000)),
            ]))
        })
        .collect()
}

/// `get_network_config_from_conf`: `{version: 1, config: [...]}`.
///
/// `machine_names` is the machine's interfaces by lower-cased MAC (22.4's
/// `use_system_devices`, which an OVF datasource passes); `None` names each
/// interface as its `NICS` entry, as `devel net-convert` does.
pub fn network_config(
    cfg: &CustCfg,
    machine_names: Option<&HashMap<String, String>>,
) -> Result<Value, CustCfgError> {
    let nics = cfg.nics()?;
    let names = match machine_names {
        Some(m) => m.clone(),
        None => {
            let mut names = HashMap::new();
            for nic in &nics {
                names.insert(nic.mac()?.to_lowercase(), nic.name.clone());
            }
            names
        }
    };
    let primaries: Vec<&Nic> = nics.iter().filter(|n| n.primary()).collect();
    if primaries.len() > 1 {
        let macs: Result<Vec<String>, _> = primaries
            .iter()
            .map(|n| n.mac().map(|m| format!("{} ({m})", n.name)))
            .collect();
        return Err(CustCfgError::TwoPrimaries(macs?.join(", ")));
    }
    let configurator = Configurator {
        has_primary: !primaries.is_empty(),
        nics,
        names,
    };
    let mut config = Vec::new();
    for nic in &configurator.nics {
        config.push(configurator.one_nic(nic)?);
    }
    let nameservers = cfg.name_servers()?;
    let search = cfg.dns_suffixes()?;
    if !nameservers.is_empty() || !search.is_empty() {
        let list = |v: Vec<String>| Value::Seq(v.into_iter().map(Value::Str).collect());
        config.push(entry(vec![
            ("type", Value::str("nameserver")),
            ("address", list(nameservers)),
            ("search", list(search)),
        ]));
    }
    Ok(entry(vec![
        ("version", Value::Int(1)),
        ("config", Value::Seq(config)),
    ]))
}

/// `ovf.Config(ovf.ConfigFile(path))` then
/// `get_network_config_from_conf(config, False)`: what `devel net-convert
/// -k vmware-imc` converts.
pub fn convert_cust_cfg(text: &str) -> Result<Value, CustCfgError> {
    network_config(&CustCfg::parse(text)?, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> serde_json::Value {
        convert_cust_cfg(text).unwrap().to_json()
    }

    #[test]
    fn a_static_nic_without_primary_gets_routes_to_its_gateways_network() {
        let got = json(
            "[NIC-CONFIG]\nNICS = NIC1\n[NIC1]\nMACADDR = 00:50:56:A6:8C:08\nONBOOT = yes\n\
             BOOTPROTO = static\nIPADDR = 10.20.87.154\nNETMASK = 255.255.252.0\n\
             GATEWAY = 10.20.87.253, 10.20.92.105\n[DNS]\nNAMESERVER|1 = 8.8.8.8\n",
        );
        assert_eq!(
            got,
            serde_json::json!({"version": 1, "config": [
                {"type": "physical", "name": "NIC1", "mac_address": "00:50:56:a6:8c:08",
                 "subnets": [{"control": "auto", "type": "static", "address": "10.20.87.154",
                   "netmask": "255.255.252.0", "routes": [
                     {"destination": "10.20.84.0/22", "type": "route",
                      "gateway": "10.20.87.253", "metric": 10000},
                     {"destination": "10.20.92.0/22", "type": "route",
                      "gateway": "10.20.92.105", "metric": 10000}]}]},
                {"type": "nameserver", "address": ["8.8.8.8"], "search": []}]})
        );
    }

    #[test]
    fn the_primary_nic_has_the_gateway_and_the_others_none() {
        let got = json(
            "[NIC-CONFIG]\nNICS = A,B\n[A]\nMACADDR = 1\nBOOTPROTO = STATIC\nIPADDR = 10.0.0.2\n\
             NETMASK = 24\nGATEWAY = 10.0.0.1\n[B]\nMACADDR = 2\nPRIMARY = TRUE\n\
             BOOTPROTO = static\nGATEWAY = 10.1.0.1,10.1.0.2\n",
        );
        let subnets = |i: usize| got["config"][i]["subnets"][0].clone();
        assert_eq!(
            subnets(0),
            serde_json::json!({"type": "static", "address": "10.0.0.2", "netmask": "24"})
        );
        assert_eq!(
            subnets(1),
            serde_json::json!({"type": "static", "gateway": "10.1.0.1"})
        );
        assert_eq!(got["config"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn ipv4_disabled_is_dhcp_and_ipv6_addresses_are_static6() {
        let got = json(
            "[NIC-CONFIG]\nNICS = NIC1\n[NIC1]\nMACADDR = m\nIPv4_MODE = disabled\n\
             BOOTPROTO = static\nIPv6ADDR|1 = fc00::1\nIPv6NETMASK|1 = 64\nIPv6ADDR|3 = fc00::3\n",
        );
        assert_eq!(
            got["config"][0]["subnets"],
            serde_json::json!([{"type": "dhcp"},
                {"type": "static6", "address": "fc00::1", "netmask": "64"},
                {"type": "static6", "address": null, "netmask": null}])
        );
    }

    #[test]
    fn configparser_rules_are_kept() {
        let cfg = CustCfg::parse(
            "; comment\n[DEFAULT]\nONBOOT: yes\n[NIC1]\nmacaddr = lower\n  # indented comment\n\
             GATEWAY = 10.0.0.1,\n   10.0.0.2\n\nKEY = a%%b %(ONBOOT)s\n[ NIC2 ] trailing\nX=1\n",
        )
        .unwrap();
        assert_eq!(cfg.get("NIC1|ONBOOT"), Some("yes"));
        assert_eq!(cfg.get("NIC1|MACADDR"), None);
        assert_eq!(cfg.get("NIC1|macaddr"), Some("lower"));
        assert_eq!(cfg.get("NIC1|GATEWAY"), Some("10.0.0.1,\n10.0.0.2"));
        assert_eq!(cfg.get("NIC1|KEY"), Some("a%b yes"));
        assert_eq!(cfg.get("NIC2 |X"), Some("1"));
        assert_eq!(cfg.get("DEFAULT|ONBOOT"), None);
        assert_eq!(cfg.count_with_prefix("NIC1|"), 4);
    }

    #[test]
    fn bad_files_name_the_line_section_and_key() {
        let err = |text: &str| convert_cust_cfg(text).unwrap_err().to_string();
        assert_eq!(
            err("X = 1\n"),
            "line 1: a key before any [section]: \"X = 1\""
        );
        assert_eq!(
            err("[A]\nX = 1\nno delimiter\n"),
            "line 3: neither a [section] nor KEY = value: \"no delimiter\""
        );
        assert_eq!(
            err("[A]\nX = 1\n[B]\n[A]\n"),
            "line 4: section [A] again (first at line 1)"
        );
        assert_eq!(
            err("[A]\nX = 1\nX = 2\n"),
            "line 3: [A] X again (first at line 2)"
        );
        assert!(err("[A]\nX = 50%\n").starts_with("[A] X (line 2): '%' must be followed"));
        // A password is not shown.
        let e = err("[PASSWORD]\n-PASS = 50%secret\n");
        assert!(e.starts_with("[PASSWORD] -PASS (line 2): a '%'") && !e.contains("secret\""));
        assert!(!err("[PASSWORD]\n-PASS secret\n").contains("secret\""));
        assert!(err("[A]\nX = %(Y)s\n").contains("%(Y)s names no key"));
        assert!(err("[A]\nX = %(X)s\n").contains("nested more than 10 deep"));
        assert_eq!(
            err("[A]\nX = 1\n"),
            "no NICS in [NIC-CONFIG]: which NICs to configure"
        );
        assert_eq!(
            err("[NIC-CONFIG]\nNICS = N\n"),
            "no MACADDR in [N] (a NIC of NICS in [NIC-CONFIG], line 2)"
        );
        assert!(
            err("[NIC-CONFIG]\nNICS = A\n[A]\nMACADDR = 1\n[DNS]\nNAMESERVER|2 = 1.1.1.1\n")
                .starts_with(
                    "[DNS] has no NAMESERVER|1: its 1 NAMESERVER|n key(s) (the first at line 6)"
                )
        );
        assert!(err(
            "[NIC-CONFIG]\nNICS = A,B\n[A]\nMACADDR = 1\nPRIMARY = yes\n[B]\nMACADDR = 2\nPRIMARY = yes\n"
        )
        .starts_with("There can only be one primary nic"));
        assert!(err(
            "[NIC-CONFIG]\nNICS = A\n[A]\nMACADDR = 1\nBOOTPROTO = static\nNETMASK = 24\nGATEWAY = 10.0.0.1\n"
        )
        .contains("routes need a dotted netmask"));
        assert!(err(
            "[NIC-CONFIG]\nNICS = A\n[A]\nMACADDR = 1\nBOOTPROTO = static\nNETMASK = 255.0.0.0\nGATEWAY = 10.0\n"
        )
        .contains("[A] GATEWAY (line 7)"));
    }

    #[test]
    fn octets_are_read_as_pythons_int() {
        assert_eq!(octet_and(" 1_0 ", 255), Some(10));
        assert_eq!(octet_and("-1", 255), Some(255));
        assert_eq!(octet_and("+300", 255), Some(44));
        assert_eq!(
            octet_and("99999999999999999999999", 255),
            Some((99999999999999999999999u128 % 256) as u8)
        );
        assert_eq!(octet_and("1__0", 255), None);
        assert_eq!(octet_and("", 255), None);
        assert_eq!(octet_and("٣", 255), None);
    }

    #[test]
    fn size_and_expansion_are_bounded() {
        assert!(matches!(
            CustCfg::parse(&" ".repeat(MAX_BYTES + 1)),
            Err(CustCfgError::TooLarge(_))
        ));
        // Each level doubles: 2^10 copies of a 100 KiB value.
        let mut text = format!("[A]\nV0 = {}\n", "x".repeat(100 << 10));
        for i in 1..10 {
            text.push_str(&format!("V{i} = %(V{})s%(V{})s\n", i - 1, i - 1));
        }
        assert!(matches!(
            CustCfg::parse(&text),
            Err(CustCfgError::TooMuch { .. })
        ));
    }
}
