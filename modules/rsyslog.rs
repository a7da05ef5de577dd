//! rsyslog (`cc_rsyslog`): writes rsyslog configuration files under
//! `config_dir` (default `/etc/rsyslog.d`) from `rsyslog.configs` and
//! `rsyslog.remotes`, then reloads rsyslog, once per instance, on every
//! distro (activated by `rsyslog`), as cloud-init 22.4 does:
//!
//! - each `configs` entry (a string, or `{filename, content}`) goes to
//!   `config_dir/filename` (`config_filename`, default
//!   `20-cloud-config.conf`), with a newline added where it lacks one; the
//!   first entry for a file replaces it, the next ones append to it. One
//!   write per file here, holding all of its entries in order: the file ends
//!   the same as after 22.4's truncate-then-append, and a run cut short
//!   cannot leave half of it.
//! - `remotes` (`name: "[match] [@|@@]host[:port] [# comment]"`) become one
//!   more entry, `# begin remotes` ... `# end remotes`, in rsyslog's
//!   legacy forwarding syntax (`*.* @@[fd00::1]:514 # name`).
//! - when any file was written, rsyslog is reloaded: `service_reload_command:
//!   auto` is the distro's `try-reload` of `system_info.rsyslog_svcname`
//!   (default `rsyslog`: `systemctl reload-or-try-restart rsyslog`, or
//!   `service rsyslog restart`), an action on the running machine; a list is
//!   run as that command. Either failing is a warning, not a failure.
//! - the legacy top-level form `rsyslog: [...]` (with `rsyslog_filename` and
//!   `rsyslog_dir`) still works, with 22.4's deprecation warning.
//!
//! tests/fixtures/rsyslog holds what 22.4's own handler does.

use crate::module::prelude::*;
use tracing::Level;

pub struct Rsyslog;

const DEF_FILENAME: &str = "20-cloud-config.conf";
const DEF_DIR: &str = "/etc/rsyslog.d";
const DEF_RELOAD: &str = "auto";

static CONFIG_ENTRY: [Field; 2] = [
    Field::opt("filename", Ty::Str),
    Field::req("content", Ty::Str),
];

static RSYSLOG: [Field; 5] = [
    Field::opt("config_dir", Ty::Str),
    Field::opt("config_filename", Ty::Str),
    Field::opt(
        "configs",
        Ty::List(&Ty::Strict(
            &Ty::OneOf(&[Ty::Str, Ty::Map(&CONFIG_ENTRY)]),
            Rule::OneOf,
        )),
    ),
    Field::opt("remotes", Ty::AnyMap),
    Field::opt(
        "service_reload_command",
        Ty::Strict(
            &Ty::OneOf(&[Ty::Enum(&["auto"]), Ty::List(&Ty::Str)]),
            Rule::As(&Ty::Strict(
                &Ty::OneOf(&[
                    Ty::Strict(&Ty::Str, Rule::OneOfStrs(&["auto"])),
                    Ty::List(&Ty::Str),
                ]),
                Rule::OneOf,
            )),
        ),
    ),
];

static INFO: ModuleInfo = ModuleInfo {
    name: "rsyslog",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &["rsyslog"],
    keys: &["rsyslog", "rsyslog_filename", "rsyslog_dir"],
    schema: &[
        // The legacy list form is 22.4's too (deprecated, still handled).
        // 22.4's schema has the mapping only.
        Field::opt(
            "rsyslog",
            Ty::Strict(
                &Ty::OneOf(&[Ty::Map(&RSYSLOG), Ty::List(&Ty::Any)]),
                Rule::As(&Ty::Map(&RSYSLOG)),
            ),
        ),
        Field::opt("rsyslog_filename", Ty::Str),
        Field::opt("rsyslog_dir", Ty::Str),
    ],
    summary: "write rsyslog config files and remote forwarding rules, then reload rsyslog",
};

impl Module for Rsyslog {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        if ctx.cfg.get("rsyslog").is_none() {
            out.note(format!(
                "Skipping module named {}, no 'rsyslog' key in configuration",
                ctx.name
            ));
            return out;
        }
        let mycfg = match load_config(ctx.cfg, &mut out) {
            Ok(c) => c,
            Err(e) => {
                out.error(e);
                return out;
            }
        };
        let mut configs = mycfg.configs;
        if let Some(remotes) = mycfg.remotes.filter(|r| !r.is_empty()) {
            match remotes_to_rsyslog_cfg(&remotes, &mut out) {
                Ok(text) => configs.push(Value::str(text)),
                Err(e) => {
                    out.error(e);
                    return out;
                }
            }
        }
        if configs.is_empty() {
            out.note("Empty config rsyslog['configs'], nothing to do");
            return out;
        }
        let files = match apply_rsyslog_changes(&configs, &mycfg.filename, &mycfg.dir, &mut out) {
            Ok(files) => files,
            Err(e) => {
                out.error(e);
                return out;
            }
        };
        if files.is_empty() {
            out.note("restart of syslog not necessary, no changes made");
            return out;
        }
        let changed: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        let done = format!(
            "{} configured {} files",
            ctx.name,
            Value::Seq(changed.iter().map(|p| Value::str(*p)).collect()).python_repr()
        );
        for file in &files {
            if let Some(text) = &file.text {
                out.effects
                    .push(Effect::write(&file.path, Data::public(text.clone()), 0o644));
            }
        }
        out.effects
            .push(reload_syslog(ctx.distro, &mycfg.reload, done));
        out
    }
}

/// The module's config after `load_config`: the legacy list form turned
/// into the mapping, defaults filled in.
struct RsyslogConfig {
    configs: Vec<Value>,
    dir: String,
    filename: String,
    /// `auto`, or the command to run.
    reload: Reload,
    remotes: Option<Mapping>,
}

enum Reload {
    Auto,
    Command(Vec<String>),
}

/// `load_config(cfg)`, with its `ValueError` for a key of the wrong type.
fn load_config(cfg: &Value, out: &mut ModuleOutput) -> Result<RsyslogConfig, String> {
    let top = cfg.get("rsyslog").unwrap_or(&Value::Null);
    let mut mycfg = match top {
        Value::Seq(list) => {
            let msg = "DEPRECATION: This rsyslog list format is deprecated and will be removed \
                       in a future version of cloud-init. Use documented keys.";
            out.warn(msg);
            let mut m = Mapping::new();
            m.insert(Value::str("configs"), Value::Seq(list.clone()));
            for (legacy, key) in [
                ("rsyslog_filename", "config_filename"),
                ("rsyslog_dir", "config_dir"),
            ] {
                if let Some(v) = cfg.get(legacy) {
                    m.insert(Value::str(key), v.clone());
                }
            }
            m
        }
        Value::Map(m) => m.clone(),
        // Anything else fails at `key not in mycfg` (not iterable), or, for
        // a string, at `mycfg[key] = default`.
        Value::Str(_) => return Err("'str' object does not support item assignment".into()),
        other => {
            return Err(format!(
                "argument of type '{}' is not iterable",
                other.type_name()
            ))
        }
    };
    let wrong = |key: &str, expected: &str, v: &Value| {
        format!(
            "Invalid type for key `{key}`. Expected type(s): {expected}. Current type: <class '{}'>",
            v.type_name()
        )
    };
    let mut take = |key: &str| mycfg.remove(key);
    let configs = match take("configs") {
        None => Vec::new(),
        Some(Value::Seq(l)) => l,
        Some(v) => return Err(wrong("configs", "<class 'list'>", &v)),
    };
    let string = |key: &str, v: Option<Value>, default: &str| match v {
        None => Ok(default.to_string()),
        Some(Value::Str(s)) => Ok(s),
        Some(v) => Err(wrong(key, "<class 'str'>", &v)),
    };
    let dir = string("config_dir", take("config_dir"), DEF_DIR)?;
    let filename = string("config_filename", take("config_filename"), DEF_FILENAME)?;
    let reload = match take("service_reload_command") {
        None => Reload::Auto,
        Some(Value::Str(s)) if s == DEF_RELOAD => Reload::Auto,
        // subp of a string without a shell: the string names the program.
        Some(Value::Str(s)) => Reload::Command(vec![s]),
        Some(Value::Seq(l)) => Reload::Command(l.iter().map(Value::python_str).collect()),
        Some(v) => {
            return Err(wrong(
                "service_reload_command",
                "(<class 'str'>, <class 'list'>)",
                &v,
            ))
        }
    };
    let remotes = match take("remotes") {
        None => None,
        Some(Value::Map(m)) => Some(m),
        Some(v) => return Err(wrong("remotes", "<class 'dict'>", &v)),
    };
    Ok(RsyslogConfig {
        configs,
        dir,
        filename,
        reload,
        remotes,
    })
}

/// A file the module changes: its guest path, and its new contents (`None`
/// where 22.4 counts the file as changed but its write failed).
struct Changed {
    path: String,
    text: Option<String>,
}

/// `apply_rsyslog_changes`: the files the entries go to, in the order each
/// is first named, each with its entries' contents.
fn apply_rsyslog_changes(
    configs: &[Value],
    def_fname: &str,
    cfg_dir: &str,
    out: &mut ModuleOutput,
) -> Result<Vec<Changed>, String> {
    let mut files: Vec<Changed> = Vec::new();
    for (i, ent) in configs.iter().enumerate() {
        let pos = i + 1;
        let (content, filename) = match ent {
            Value::Map(m) => {
                let Some(content) = m.get("content") else {
                    out.warn(format!("No 'content' entry in config entry {pos}"));
                    continue;
                };
                (content, m.get("filename"))
            }
            other => (other, None),
        };
        let filename = match filename {
            None => def_fname.to_string(),
            Some(Value::Str(s)) => s.clone(),
            // `filename.strip()` of a non-string raises.
            Some(v) => {
                return Err(format!(
                    "'{}' object has no attribute 'strip'",
                    v.type_name()
                ))
            }
        };
        let filename = filename.trim_matches(py::str::is_space);
        if filename.is_empty() {
            out.warn(format!("Entry {pos} has an empty filename"));
            continue;
        }
        let path = join(cfg_dir, filename);
        let index = match files.iter().position(|f| f.path == path) {
            Some(i) => i,
            None => {
                // The first entry for a file truncates it.
                files.push(Changed {
                    path: path.clone(),
                    text: Some(String::new()),
                });
                files.len() - 1
            }
        };
        match content {
            Value::Str(s) => {
                if let Some(text) = &mut files[index].text {
                    text.push_str(s);
                    if !s.ends_with('\n') {
                        text.push('\n');
                    }
                }
            }
            // `content.endswith` raises before the file is opened;
            // `util.logexc` logs it and the loop goes on.
            _ => out.warn(format!("Failed to write to {path}")),
        }
    }
    Ok(files)
}

/// `os.path.join(a, b)`: an absolute `b` replaces `a`.
fn join(dir: &str, name: &str) -> String {
    if name.starts_with('/') || dir.is_empty() {
        name.to_string()
    } else if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// `remotes_to_rsyslog_cfg(remotes, header, footer)`: one line per remote
/// that parses (the others are warnings), between the header and footer.
fn remotes_to_rsyslog_cfg(remotes: &Mapping, out: &mut ModuleOutput) -> Result<String, String> {
    let mut lines = vec!["# begin remotes".to_string()];
    for (name, line) in remotes.iter() {
        if !line.truthy() {
            continue;
        }
        let Value::Str(text) = line else {
            // `COMMENT_RE.split(line)` of a non-string: a TypeError.
            return Err("expected string or bytes-like object".into());
        };
        match parse_remotes_line(text, name) {
            Ok(remote) => lines.push(remote),
            Err(RemoteError::Value(e)) => out.warn(format!(
                "failed loading remote {}: {text} [{e}]",
                name.python_str_any()
            )),
            Err(RemoteError::Crash(e)) => return Err(e),
        }
    }
    lines.push("# end remotes".into());
    Ok(lines.join("\n") + "\n")
}

/// Why a remote did not parse: a `ValueError` (a warning, the remote
/// skipped) or another exception, which fails the module in 22.4.
enum RemoteError {
    Value(String),
    Crash(String),
}

/// `parse_remotes_line(line, name)` and `str()` of the result: the
/// rsyslog forwarding line for one remote.
fn parse_remotes_line(line: &str, name: &Value) -> Result<String, RemoteError> {
    let value = |m: String| RemoteError::Value(m);
    // `data, comment = COMMENT_RE.split(line)`: only exactly one comment
    // marker splits; otherwise the whole line is the data.
    let parts = split_comment(line);
    let (data, comment) = match parts.as_slice() {
        [data, comment] => (*data, Some(comment.trim_matches(py::str::is_space))),
        _ => (line, None),
    };
    let toks: Vec<&str> = data
        .split(py::str::is_space)
        .filter(|t| !t.is_empty())
        .collect();
    let (matcher, host_port) = match toks.as_slice() {
        // One token: the data as it is, blanks and all.
        [_] => (None, data),
        [m, hp] => (Some(*m), *hp),
        _ => return Err(value(format!("line had multiple spaces: {data}"))),
    };
    let Some((proto, addr, port)) = match_host_port(host_port) else {
        return Err(value(format!("Invalid host specification '{host_port}'")));
    };
    // `toks.group("addr") or toks.group("bracket_addr")`: an empty plain
    // address with no brackets is None, and `None.startswith` raises.
    let addr = match addr {
        Addr::Plain("") => {
            return Err(RemoteError::Crash(
                "'NoneType' object has no attribute 'startswith'".into(),
            ))
        }
        Addr::Plain(a) | Addr::Bracketed(a) => a,
    };
    if addr.starts_with('[') && !addr.ends_with(']') {
        return Err(value(format!("host spec had invalid brackets: {addr}")));
    }
    let name = if name.truthy() {
        Some(name.python_str_any())
    } else {
        comment.filter(|c| !c.is_empty()).map(str::to_string)
    };
    if addr.is_empty() {
        return Err(value("address is required".into()));
    }
    // `str(SyslogRemotesLine)`.
    let mut buf = format!("{} ", matcher.unwrap_or("*.*"));
    buf.push_str(if proto == "@@" { "@@" } else { "@" });
    if addr.contains(':') {
        buf.push_str(&format!("[{addr}]"));
    } else {
        buf.push_str(addr);
    }
    // `int(port)`, and no port when it is 0.
    let port = port.trim_start_matches('0');
    if !port.is_empty() {
        buf.push_str(&format!(":{port}"));
    }
    if let Some(name) = name {
        buf.push_str(&format!(" # {name}"));
    }
    Ok(buf)
}

/// `COMMENT_RE.split(line)` with `[ ]*[#]+[ ]*`: the pieces between the
/// comment markers (a run of `#` with the spaces around it).
fn split_comment(line: &str) -> Vec<&str> {
    let bytes = line.as_bytes();
    let mut parts = Vec::new();
    let mut piece_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'#' {
            i += 1;
            continue;
        }
        // The spaces just before the run, back to the last piece's start.
        let mut start = i;
        while start > piece_start && bytes[start - 1] == b' ' {
            start -= 1;
        }
        let mut end = i;
        while end < bytes.len() && bytes[end] == b'#' {
            end += 1;
        }
        while end < bytes.len() && bytes[end] == b' ' {
            end += 1;
        }
        parts.push(&line[piece_start..start]);
        piece_start = end;
        i = end;
    }
    parts.push(&line[piece_start..]);
    parts
}

enum Addr<'a> {
    Plain(&'a str),
    Bracketed(&'a str),
}

/// `HOST_PORT_RE`, `^(@{0,2})(\[([^\]]*)\]|([^:]*))(:([0-9]+))?$`: the
/// protocol marks, the address and the port (empty when absent). `$` also
/// matches before a final newline, as Python's does.
fn match_host_port(s: &str) -> Option<(&str, Addr<'_>, &str)> {
    let at = s.bytes().take(2).take_while(|b| *b == b'@').count();
    let (proto, rest) = s.split_at(at);
    let tail = port_tail;
    if let Some(inner) = rest.strip_prefix('[') {
        if let Some(close) = inner.find(']') {
            if let Some(port) = tail(&inner[close + 1..]) {
                return Some((proto, Addr::Bracketed(&inner[..close]), port));
            }
        }
    }
    let colon = rest.find(':').unwrap_or(rest.len());
    let (addr, after) = rest.split_at(colon);
    // Greedy `[^:]*` takes a final newline too, unless a port follows.
    let port = tail(after)?;
    Some((proto, Addr::Plain(addr), port))
}

/// `(:([0-9]+))?$` after the address: the port's digits (empty when
/// there is none), or `None` when the rest does not match.
fn port_tail(t: &str) -> Option<&str> {
    if t.is_empty() || t == "\n" {
        return Some("");
    }
    let digits = t.strip_prefix(':')?;
    let digits = digits.strip_suffix('\n').unwrap_or(digits);
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// `reload_syslog(distro, command)`: `auto` is the distro's `try-reload` of
/// the rsyslog service, on the running machine; a command is run. A failure
/// is 22.4's warning, not a failure of the module.
fn reload_syslog(distro: &Distro, reload: &Reload, done: String) -> Effect {
    match reload {
        Reload::Auto => {
            let service = distro
                .system_info
                .get("rsyslog_svcname")
                .map(Value::python_str)
                .unwrap_or_else(|| "rsyslog".into());
            let argv = distro.manage_service("try-reload", &service);
            Effect::Probe(Probe {
                action: HostAction {
                    what: format!("reload rsyslog ({})", argv.join(" ")),
                    argv,
                },
                // Where nothing is asked: the reload works.
                assume: 0,
                branches: vec![
                    Branch {
                        when: When::Exit(vec![0]),
                        meaning: "reloaded".into(),
                        log: Vec::new(),
                        effects: Vec::new(),
                        done: Some(done),
                    },
                    Branch {
                        when: When::Otherwise,
                        meaning: "not reloaded (a warning)".into(),
                        log: vec![(Level::WARN, "Failed to reload syslog".into())],
                        effects: Vec::new(),
                        done: None,
                    },
                ],
                log: log_at!(),
            })
        }
        Reload::Command(argv) => {
            let mut cmd = Command::new(argv.clone());
            cmd.on_failure = OnFailure::Ignore;
            Effect::Run(cmd)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value as J;
    use std::collections::BTreeMap;

    /// What cloud-init 22.4's handler did, case by case (see the README
    /// beside it).
    const EXPECTED: &str = include_str!("../tests/fixtures/rsyslog/expected.json");

    /// The root 22.4's distro class in the case stands for: Debian 12 and
    /// CentOS 7 with systemd running, CentOS 6 without.
    fn kit(distro: &str) -> Kit {
        match distro {
            "debian" => Kit::debian12().dir("/run/systemd/system"),
            "rhel" => Kit::centos7().dir("/run/systemd/system"),
            "centos" => Kit::with_os_release("")
                .file("/etc/redhat-release", "CentOS release 6.10 (Final)\n"),
            other => panic!("no root for {other}"),
        }
    }

    /// The commands a plan runs: a probe's question (the reload) and
    /// programs.
    fn commands(effects: &[Effect]) -> Vec<Vec<String>> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Probe(p) => Some(p.action.argv.clone()),
                Effect::Run(c) => Some(c.argv.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_recorded_case_plans_as_cloud_init_22_4_ran_it() {
        let cases: Vec<J> = serde_json::from_str(EXPECTED).unwrap();
        assert!(cases.len() >= 60, "{} cases", cases.len());
        for case in &cases {
            let name = case["name"].as_str().unwrap();
            let mut kit = kit(case["distro"].as_str().unwrap());
            let mut files: BTreeMap<String, String> = BTreeMap::new();
            for (path, text) in case["files"].as_object().into_iter().flatten() {
                kit = kit.file(path, text.as_str().unwrap());
                files.insert(path.clone(), text.as_str().unwrap().into());
            }
            // JSON is YAML.
            let kit = kit.cfg(&case["cfg"].to_string());
            let planned = kit.plan(&Rsyslog);

            // 22.4's writes, replayed: "wb" replaces, "ab" appends.
            let mut expected_files = BTreeMap::new();
            let mut expected_commands = Vec::new();
            for op in case["ops"].as_array().unwrap() {
                match op["op"].as_str().unwrap() {
                    "write" => {
                        let path = op["path"].as_str().unwrap().to_string();
                        let content = op["content"].as_str().unwrap();
                        let mut text = match op["omode"].as_str().unwrap() {
                            "ab" => files.get(&path).cloned().unwrap_or_default(),
                            _ => String::new(),
                        };
                        text.push_str(content);
                        files.insert(path.clone(), text.clone());
                        expected_files.insert(path, (text, op["mode"].as_u64().unwrap() as u32));
                    }
                    "run" => expected_commands.push(match &op["argv"] {
                        J::String(s) => vec![s.clone()],
                        argv => serde_json::from_value(argv.clone()).unwrap(),
                    }),
                    other => panic!("unknown op {other}"),
                }
            }
            let planned_files: BTreeMap<String, (String, u32)> = planned
                .written()
                .into_iter()
                .map(|w| {
                    assert!(!w.append, "{name}: one write per file");
                    (w.path.display().to_string(), (w.content, w.mode))
                })
                .collect();
            assert_eq!(planned_files, expected_files, "{name}: files");
            assert_eq!(
                commands(planned.effects()),
                expected_commands,
                "{name}: commands"
            );

            // The line logged after the reload is the probe's.
            let (done, logs): (Vec<&str>, Vec<&str>) = case["logs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap())
                .partition(|l| l.starts_with("rsyslog configured "));
            assert_eq!(planned.notes(), logs, "{name}: messages");
            let probe_done: Vec<&str> = planned
                .effects()
                .iter()
                .filter_map(|e| match e {
                    Effect::Probe(p) => p.branches[0].done.as_deref(),
                    _ => None,
                })
                .collect();
            if !probe_done.is_empty() {
                assert_eq!(probe_done, done, "{name}: the message after the reload");
            }
            planned.assert_error_as_recorded(name, case["error"].as_str());
        }
    }

    #[test]
    fn a_failed_reload_is_a_warning_not_a_failure() {
        let p = Kit::debian12()
            .cfg("rsyslog: {remotes: {r: '@@10.0.0.1'}}\n")
            .plan(&Rsyslog);
        let Some(Effect::Probe(probe)) = p.effects().last() else {
            panic!("{:?}", p.effects())
        };
        // Without systemd running: the SysV command.
        assert_eq!(probe.action.argv, ["service", "rsyslog", "restart"]);
        assert_eq!(probe.branches[1].when, When::Otherwise);
        assert_eq!(
            probe.branches[1].log,
            [(Level::WARN, "Failed to reload syslog".to_string())]
        );
        assert!(probe.branches[1].effects.is_empty());
        let p = Kit::debian12()
            .cfg("rsyslog: {configs: [x], service_reload_command: [false]}\n")
            .plan(&Rsyslog);
        let Some(Effect::Run(cmd)) = p.effects().last() else {
            panic!("{:?}", p.effects())
        };
        assert_eq!(cmd.on_failure, OnFailure::Ignore);
    }
}
