//! set_passwords (`cc_set_passwords`, "chpasswd"): sets passwords with
//! `chpasswd` and turns sshd's `PasswordAuthentication` on or off, as
//! cloud-init 22.4 does, once per instance.
//!
//! - `chpasswd.users`: `{name, password, type}` with type `text`, `hash`
//!   (the default) or `RANDOM`.
//! - `chpasswd.list` (deprecated): `user:password` lines, as a list or a
//!   multi-line string. A password matching cloud-init's regex
//!   `\$(1|2a|2y|5|6)(\$.+){2}` (at the start) without a `:` is a hash;
//!   `R` or `RANDOM` makes a random one.
//! - `password`: the default user's password, used only when neither of the
//!   above gives anyone a password (the same `list` rules apply to it). With
//!   module arguments (`single --name set_passwords ARG`), the first one is
//!   that password and `chpasswd.list` is ignored, as in cloud-init.
//! - `chpasswd.expire` (default true): `passwd --expire` for every user set,
//!   hashed ones too (22.3+).
//! - `ssh_pwauth`: `true`/`false` (or cloud-init's true/false strings) set
//!   `PasswordAuthentication yes`/`no` through [`crate::sshd_config`] (the
//!   `sshd_config.d/50-cloud-init.conf` drop-in on images whose
//!   sshd_config includes it); `unchanged` or absent leaves it. When the
//!   config changes, the ssh service is asked for its status first, and its
//!   exit code decides, as in 22.4 (`handle_ssh_pwauth` has the table): running, the config
//!   is written and the service restarted if it changed; stopped (3), or
//!   any failure without systemd (CentOS 6, whose sshd starts after the
//!   config stage), the config is written and nothing restarted; on
//!   systemd, 4 (not installed) or any other failure leaves the config
//!   alone with cloud-init's warning. The module never fails for the
//!   answer. The status runs when the target gets to it, so the module
//!   returns an [`Effect::Probe`] carrying each answer's effects; a plan,
//!   or a root that is not this machine's `/`, takes the service as
//!   running.
//!
//! Secrets: passwords reach `chpasswd` on stdin as [`Data::secret`], never
//! on a command line, in a log or in a plan. Random passwords (20 characters
//! from cloud-init's alphabet, from the OS's random source) are shown on the
//! root's `/dev/console` only, in cloud-init's exact block; since a plain
//! `Console` effect is logged and printed by plans, the block is given as
//! secret stdin to `/bin/sh -c '... cat >/dev/console'` run in the root (nothing
//! when the root has no `/dev/console`, as cloud-init's `multi_log` with
//! `fallback_to_stdout=False`).
//!
//! Service commands are the distro's (`distro.manage_service`, see
//! [`crate::distro::service`]): `systemctl status|restart <svc>` where
//! systemd runs, else the distro's init command (`service sshd status` on
//! CentOS/RHEL 6, `rc-service --nocolor sshd` on Alpine). Both act on the
//! running machine: performed on a live root `/`, recorded otherwise.
//!
//! Bad input: a value cloud-init would crash on before setting anything
//! (`chpasswd` or `chpasswd.users` of the wrong type, a users item that is
//! not a mapping or has no `name`, a list line without `:`) is an error
//! naming the key, and nothing is set, as in cloud-init. A users entry with
//! an unknown `type`, a missing password for `text`/`hash`, or a name or
//! password that is not a string is an error naming the key; the other
//! entries still apply. No error message quotes a password.
//!
//! Where cloudboot deliberately differs from 22.4:
//! - A user name or password with a newline, a carriage return or a NUL
//!   (a `chpasswd.users` entry, a `chpasswd.list` item, `password`, the
//!   default user's name) is refused with an error naming the key (and
//!   the user, never the password); that entry is not set, the others
//!   are, and the module is reported failed. 22.4 hands it to chpasswd as
//!   it is, where `"alice:pw\nroot:x"` is two lines and sets root's
//!   password.
//! - The "SSH service ... is not available. Error: ..." warning describes
//!   the failed status up to its `Reason:` line; the program's output,
//!   which cloud-init appends, is in cloud-init-output.log.
//! - When `ssh_pwauth` changes nothing (absent, `unchanged`, or the value
//!   sshd_config already has), the ssh service is not asked for its status:
//!   22.4 asks, only to log why it will not restart a service it has no
//!   reason to restart (and, on systemd without sshd, to warn that the
//!   absent setting is ignored). The status costs a program run (a SysV
//!   script: several) in every first boot's config stage.
//! - `ssh_pwauth` of a type cloud-init crashes on (a list, a mapping) is an
//!   error whatever the service answers (22.4 crashes only after a usable
//!   answer).

use std::path::Path;

use tracing::Level;

use crate::module::prelude::py::truth::{is_false, is_true};
use crate::module::prelude::*;
use crate::modules::shared::one_line::one_line;
use crate::modules::shared::sshd_config;

pub struct SetPasswords;

// Every key that can hold a password is `Any` here: the schema's type
// errors quote the value, and a password must never be quoted. The module
// checks these types itself, with messages that name the key only.
static CHPASSWD: &[Field] = &[
    Field::opt("expire", Ty::Any),
    Field::opt("list", Ty::Any),
    Field::opt("users", Ty::Any),
];

/// What the `schema` command checks of `chpasswd`, as 22.4's schema; the
/// values that may hold passwords through [`Rule::Secret`], so that a
/// message names the key and the problem but never quotes the value.
static CHPASSWD_SCHEMA: &[Field] = &[
    Field::opt("expire", Ty::Bool),
    Field::opt(
        "users",
        Ty::Strict(
            &Ty::Any,
            Rule::Secret(&Ty::List(&Ty::Strict(
                &Ty::Strict(&Ty::Any, Rule::MinItems(1)),
                Rule::Check(users_entry),
            ))),
        ),
    ),
    Field::opt(
        "list",
        Ty::Strict(
            &Ty::Any,
            Rule::Secret(&Ty::Strict(
                &Ty::Strict(
                    &Ty::OneOf(&[
                        Ty::Str,
                        Ty::List(&Ty::Strict(&Ty::Str, Rule::Check(user_colon_password))),
                    ]),
                    Rule::OneOf,
                ),
                Rule::MinItems(1),
            )),
        ),
    )
    .deprecated(
        "List of ``username:password`` pairs. Each user will have the corresponding password set. A password can be randomly generated by specifying ``RANDOM`` or ``R`` as a user's password. A hashed password, created by a tool like ``mkpasswd``, can be specified. A regex (``r'\\$(1|2a|2y|5|6)(\\$.+){2}'``) is used to determine if a password value should be treated as a hash.\n\nUse of a multiline string for this field is DEPRECATED and will result in an error in a future version of cloud-init.",
    ),
];

/// A `chpasswd.users` entry as 22.4's schema has it: a mapping, either
/// `{name, type: RANDOM}` or `{name, password, type: hash|text}`, no other
/// keys (`anyOf`).
fn users_entry(v: &Value) -> Verdict {
    let Some(m) = v.as_map() else {
        return Verdict::Bad("is not of type 'object'");
    };
    let form = |required: &[&str], types: &[&str]| {
        let str_at = |k: &str| m.get(k).is_some_and(|x| x.as_str().is_some());
        required.iter().all(|k| m.get(k).is_some())
            && m.iter().all(|(k, _)| {
                matches!(k.as_str(), Some("name" | "type"))
                    || (required.contains(&"password") && k.as_str() == Some("password"))
            })
            && str_at("name")
            && (!required.contains(&"password") || str_at("password"))
            && m.get("type")
                .is_none_or(|t| t.as_str().is_some_and(|t| types.contains(&t)))
    };
    if form(&["name", "type"], &["RANDOM"]) || form(&["name", "password"], &["hash", "text"]) {
        Verdict::Fine
    } else {
        Verdict::Bad("is not valid under any of the given schemas")
    }
}

/// 22.4's `^.+:.+$` (Python's `re.search`: `.` is not a newline, `$`
/// also matches before a final newline): one line with a colon that has
/// something before and after it.
fn user_colon_password(v: &Value) -> Verdict {
    let ok = v.as_str().is_some_and(|s| {
        let line = s.strip_suffix('\n').unwrap_or(s);
        !line.contains('\n')
            && line
                .char_indices()
                .any(|(i, c)| c == ':' && i > 0 && i + 1 < line.len())
    });
    if ok {
        Verdict::Fine
    } else {
        Verdict::Bad("does not match '^.+:.+$'")
    }
}

static INFO: ModuleInfo = ModuleInfo {
    name: "set_passwords",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &[],
    keys: &["chpasswd", "password", "ssh_pwauth"],
    schema: &[
        Field::opt(
            "chpasswd",
            Ty::Strict(&Ty::Any, Rule::As(&Ty::Map(CHPASSWD_SCHEMA))),
        ),
        Field::opt("password", Ty::Strict(&Ty::Any, Rule::Secret(&Ty::Str))),
        Field::opt(
            "ssh_pwauth",
            Ty::Strict(&Ty::Any, Rule::Check(ssh_pwauth_value)),
        ),
    ],
    summary: "set user passwords (chpasswd) and sshd's PasswordAuthentication",
};

/// 22.4's `oneOf`: a boolean, or (deprecated) a string.
fn ssh_pwauth_value(v: &Value) -> Verdict {
    match v {
        Value::Bool(_) => Verdict::Fine,
        Value::Str(_) => Verdict::Deprecated(
            "Use of non-boolean values for this field is DEPRECATED and will result in an error in a future version of cloud-init.",
        ),
        _ => Verdict::Bad("is not valid under any of the given schemas"),
    }
}

/// Where user names and passwords go: one `user:password` line each.
const CHPASSWD_INPUT: &str = "chpasswd's input";

/// cloud-init's `PW_SET`: letters and digits without `loLOI01`.
pub const PW_SET: &str = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// The length of a random password (`rand_user_password(pwlen=20)`).
pub const RANDOM_LEN: usize = 20;

/// The line that opens the console block of random passwords.
pub const RANDOM_HEADER: &str = "Set the following 'random' passwords";

/// Writes stdin to the root's `/dev/console` if it has one; never fails
/// the module (`multi_log` only prints a note when the console cannot be
/// written).
pub const CONSOLE_WRITER: &str =
    "[ ! -e /dev/console ] || cat >/dev/console || echo Failed to write to /dev/console";

impl Module for SetPasswords {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        plan(ctx.cfg, ctx.args, ctx.fs, ctx.distro, &mut || {
            rand_user_password(ctx.host)
        })
    }
}

/// `rand_user_password()`: 20 characters, each uniformly from [`PW_SET`],
/// drawn from the host's random source.
pub fn rand_user_password(host: &dyn Host) -> String {
    let set = PW_SET.as_bytes();
    // The largest multiple of the alphabet's size below 256: bytes at or
    // above it are drawn again, so every character is equally likely.
    let limit = 256 - 256 % set.len();
    let mut out = String::with_capacity(RANDOM_LEN);
    let mut buf = [0u8; 64];
    while out.len() < RANDOM_LEN {
        host.random_bytes(&mut buf);
        for &b in &buf {
            if (b as usize) < limit && out.len() < RANDOM_LEN {
                out.push(set[b as usize % set.len()] as char);
            }
        }
    }
    out
}

/// cloud-init's hash test: `re.match(r"\$(1|2a|2y|5|6)(\$.+){2}", p)` and no
/// `:` in `p`. `.` stops at a newline; the match need not reach the end.
pub fn is_hashed(p: &str) -> bool {
    if p.contains(':') {
        return false;
    }
    let Some(rest) = ["$1", "$2a", "$2y", "$5", "$6"]
        .iter()
        .find_map(|id| p.strip_prefix(id))
    else {
        return false;
    };
    let rest = rest.split('\n').next().unwrap_or_default();
    // `$A$B` with A and B not empty: a `$` at index 0 and another at an index
    // j >= 2 with something after it.
    let b = rest.as_bytes();
    b.first() == Some(&b'$') && (2..b.len().saturating_sub(1)).any(|j| b[j] == b'$')
}

/// The passwords to set, sorted as cloud-init sorts them.
#[derive(Debug, Default)]
struct Passwords {
    /// Plain text (and random) passwords, for `chpasswd`.
    plain: Vec<(String, String)>,
    /// Hashes, for `chpasswd -e`.
    hashed: Vec<(String, String)>,
    /// `user:password` of the random ones, for the console.
    random: Vec<String>,
}

impl Passwords {
    /// One `user:password` line of `chpasswd.list` (or the default user's).
    fn add_line(&mut self, user: &str, password: &str, rand: &mut dyn FnMut() -> String) {
        if is_hashed(password) {
            self.hashed.push((user.to_string(), password.to_string()));
        } else {
            let password = if password == "R" || password == "RANDOM" {
                let p = rand();
                self.random.push(format!("{user}:{p}"));
                p
            } else {
                password.to_string()
            };
            self.plain.push((user.to_string(), password));
        }
    }
}

/// A `chpasswd.users` entry as cloud-init's `get_users_by_type` reads it.
struct UserEntry<'a> {
    index: usize,
    name: &'a Value,
    password: Option<&'a Value>,
    /// `type` (default `hash`).
    kind: Option<&'a Value>,
}

/// `chpasswd` stdin: `user:password` lines.
fn payload(list: &[(String, String)]) -> Data {
    let mut s = String::new();
    for (u, p) in list {
        s.push_str(u);
        s.push(':');
        s.push_str(p);
        s.push('\n');
    }
    Data::secret(s)
}

fn names(list: &[(String, String)]) -> Vec<String> {
    list.iter().map(|(u, _)| u.clone()).collect()
}

/// A list of names as Python prints it (`['alice', 'bob']`), for the log.
fn py_list(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    format!("[{}]", quoted.join(", "))
}

/// The module, with the random source given (tests pass a fixed one).
pub fn plan(
    cfg: &Value,
    args: &[String],
    fs: &dyn FsView,
    distro: &Distro,
    rand: &mut dyn FnMut() -> String,
) -> ModuleOutput {
    let mut out = ModuleOutput::default();

    // `password`, or the first module argument (which also drops `list`).
    // Read only if no one else gets a password, as cloud-init reads it.
    let password = || -> Result<Option<String>, ConfigError> {
        if let Some(a) = args.first() {
            return Ok(Some(a.clone()));
        }
        match cfg.get("password") {
            // cloud-init's str() would make null the password "None".
            None | Some(Value::Null) => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s.clone())),
            Some(
                v @ (Value::Int(_) | Value::BigInt(_) | Value::Float(_) | Value::Timestamp(_)),
            ) => Ok(Some(v.python_str())),
            Some(v) => Err(ConfigError::new(
                "password",
                format!(
                    "password: must be a string, not {}; the default user's password is not set",
                    v.type_name()
                ),
            )),
        }
    };

    let mut expire = true;
    let mut users_list: &[Value] = &[];
    let mut lines: Vec<(String, String)> = Vec::new();
    if let Some(chfg) = cfg.get("chpasswd") {
        let Value::Map(chfg) = chfg else {
            out.error(format!(
                "chpasswd: must be a mapping (with users, list, expire), not {}; no password set",
                chfg.type_name()
            ));
            return out;
        };
        for (k, _) in chfg.iter() {
            let k = k.python_str();
            if !CHPASSWD.iter().any(|f| f.name == k) {
                tracing::warn!("chpasswd.{k}: unknown key (expected one of expire, list, users)");
            }
        }
        match chfg.get("users") {
            None | Some(Value::Null) => {}
            Some(Value::Seq(items)) => users_list = items,
            Some(v) => {
                out.error(format!(
                    "chpasswd.users: must be a list of {{name, password, type}} mappings, not {}; no password set",
                    v.type_name()
                ));
                return out;
            }
        }
        let list = chfg.get("list").filter(|l| args.is_empty() && l.truthy());
        if let Some(list) = list {
            tracing::warn!("DEPRECATION: key 'lists' is now deprecated. Use 'users'.");
            let raw: Vec<(String, &str)> = match list {
                Value::Seq(items) => {
                    tracing::debug!("Handling input for chpasswd as list.");
                    let mut raw = Vec::new();
                    for (i, item) in items.iter().enumerate() {
                        match item {
                            Value::Str(s) => raw.push((format!("chpasswd.list[{i}]"), s.as_str())),
                            other => {
                                out.error(format!(
                                    "chpasswd.list[{i}]: must be a 'user:password' string, not {}; no password set",
                                    other.type_name()
                                ));
                                return out;
                            }
                        }
                    }
                    raw
                }
                Value::Str(s) => {
                    tracing::warn!(
                        "DEPRECATION: The chpasswd multiline string format is deprecated and will be removed from a future version of cloud-init. Use the list format instead."
                    );
                    tracing::debug!("Handling input for chpasswd as multiline string.");
                    py::str::splitlines(s)
                        .into_iter()
                        .enumerate()
                        .map(|(i, l)| (format!("chpasswd.list line {}", i + 1), l))
                        .collect()
                }
                other => {
                    out.error(format!(
                        "chpasswd.list: must be a list of 'user:password' strings or a multi-line string, not {}; no password set",
                        other.type_name()
                    ));
                    return out;
                }
            };
            for (at, line) in raw {
                if let Err(e) = one_line(&at, line, CHPASSWD_INPUT) {
                    let user = line
                        .split_once(':')
                        .filter(|(u, _)| one_line("", u, "").is_ok())
                        .map(|(u, _)| format!(" (user {})", python_str_repr(u)))
                        .unwrap_or_default();
                    out.error(format!("{e}{user}; this entry is not set"));
                    continue;
                }
                match line.split_once(':') {
                    Some((u, p)) => lines.push((u.to_string(), p.to_string())),
                    None => {
                        out.error(format!(
                            "{at}: no ':' between user name and password; no password set"
                        ));
                        return out;
                    }
                }
            }
        }
        if let Some(e) = chfg.get("expire") {
            expire = e.to_bool();
        }
    }

    if users_list.is_empty() && lines.is_empty() {
        let password = password().unwrap_or_else(|e| {
            out.error(e);
            None
        });
        if let Some(pw) = password.filter(|p| !p.is_empty()) {
            let ug = match normalize_users_groups(cfg) {
                Ok(ug) => ug,
                Err(e) => {
                    out.error(format!(
                        "users: {e}; the default user's password is not set"
                    ));
                    return out;
                }
            };
            match ug.default_user() {
                Some((user, _)) => {
                    let checked = one_line("password", &pw, CHPASSWD_INPUT)
                        .and_then(|_| one_line("the default user's name", &user, CHPASSWD_INPUT));
                    match checked {
                        Ok(()) => lines.push((user, pw)),
                        Err(e) => out.error(format!("{e}; the default user's password is not set")),
                    }
                }
                None => tracing::warn!("No default or defined user to change password for."),
            }
        }
    }

    // `get_users_by_type`: every item needs a mapping with a name first.
    let mut entries = Vec::new();
    for (index, item) in users_list.iter().enumerate() {
        let Value::Map(m) = item else {
            out.error(format!(
                "chpasswd.users[{index}]: must be a mapping with name and password or type, not {}; no password set",
                item.type_name()
            ));
            return out;
        };
        let Some(name) = m.get("name") else {
            out.error(format!(
                "chpasswd.users[{index}].name: is required and missing; no password set"
            ));
            return out;
        };
        entries.push(UserEntry {
            index,
            name,
            password: m.get("password"),
            kind: m.get("type"),
        });
    }

    let mut pw = Passwords::default();
    if !users_list.is_empty() || !lines.is_empty() {
        // Text, then hashes, then random ones: each list in the users' order.
        let mut valid = Vec::new();
        for entry in &entries {
            match entry.checked() {
                Ok(v) => valid.push(v),
                Err(e) => out.error(e),
            }
        }
        for kind in ["text", "hash", "RANDOM"] {
            for &(_, name, password) in valid.iter().filter(|v| v.0 == kind) {
                match kind {
                    "text" => pw.plain.push((name.into(), password.into())),
                    "hash" => pw.hashed.push((name.into(), password.into())),
                    _ => {
                        let p = rand();
                        pw.random.push(format!("{name}:{p}"));
                        pw.plain.push((name.into(), p));
                    }
                }
            }
        }
        for (u, p) in &lines {
            pw.add_line(u, p, rand);
        }

        if !pw.plain.is_empty() {
            tracing::debug!("Changing password for {}:", py_list(&names(&pw.plain)));
            let mut c = Command::new(["chpasswd"]).on_failure(OnFailure::Report);
            c.stdin = Some(payload(&pw.plain));
            out.effects.push(Effect::Run(c));
        }
        if !pw.hashed.is_empty() {
            tracing::debug!(
                "Setting hashed password for {}:",
                py_list(&names(&pw.hashed))
            );
            let mut c = Command::new(["chpasswd", "-e"]).on_failure(OnFailure::Report);
            c.stdin = Some(payload(&pw.hashed));
            out.effects.push(Effect::Run(c));
        }
        if !pw.random.is_empty() {
            let block = format!("{RANDOM_HEADER}\n\n{}\n", pw.random.join("\n"));
            let mut c =
                Command::new(["/bin/sh", "-c", CONSOLE_WRITER]).on_failure(OnFailure::Ignore);
            c.stdin = Some(Data::secret(block));
            out.effects.push(Effect::Run(c));
        }
        if expire {
            let all = names(&pw.plain).into_iter().chain(names(&pw.hashed));
            for u in all {
                out.effects.push(Effect::Run(
                    Command::new(["passwd", "--expire", u.as_str()]).on_failure(OnFailure::Report),
                ));
            }
        }
    }

    handle_ssh_pwauth(cfg, fs, distro, &mut out);
    out
}

impl<'a> UserEntry<'a> {
    /// The entry's type, name and password (empty for `RANDOM`), or what is
    /// wrong with it (it is then skipped).
    fn checked(&self) -> Result<(&'a str, &'a str, &'a str), ConfigError> {
        let at = format!("chpasswd.users[{}]", self.index);
        let not_set = "this user's password is not set";
        let error = |key: &str, message: String| ConfigError::new(format!("{at}.{key}"), message);
        let kind = match self.kind {
            None => "hash",
            Some(Value::Str(k)) if matches!(k.as_str(), "text" | "hash" | "RANDOM") => k,
            other => {
                return Err(error(
                    "type",
                    format!(
                        "{at}.type: must be text, hash or RANDOM{}; {not_set}",
                        match other {
                            // Quoted only when it is a known type in the wrong
                            // case: anything else might be a misplaced password.
                            Some(Value::Str(s))
                                if ["text", "hash", "random"]
                                    .contains(&s.to_lowercase().as_str()) =>
                            {
                                format!(" (case matters), not '{s}'")
                            }
                            Some(other) => format!(", not this {}", other.type_name()),
                            None => String::new(),
                        }
                    ),
                ));
            }
        };
        let Value::Str(name) = self.name else {
            return Err(error(
                "name",
                format!(
                    "{at}.name: must be a string, not {}; {not_set}",
                    self.name.type_name()
                ),
            ));
        };
        one_line(&format!("{at}.name"), name, CHPASSWD_INPUT)
            .map_err(|e| error("name", format!("{e}; {not_set}")))?;
        let password = match (kind, self.password) {
            ("RANDOM", _) => "",
            (_, None) => {
                return Err(error(
                    "password",
                    format!(
                        "{at}.password: is required for type {kind} (cloud-init 22.4 would set the literal password 'RANDOM'); {not_set}"
                    ),
                ))
            }
            (_, Some(Value::Str(p))) => p,
            (_, Some(other)) => {
                return Err(error(
                    "password",
                    format!(
                        "{at}.password: must be a string, not {}; {not_set}",
                        other.type_name()
                    ),
                ))
            }
        };
        one_line(
            &format!("{at}.password (user {})", python_str_repr(name)),
            password,
            CHPASSWD_INPUT,
        )
        .map_err(|e| error("password", format!("{e}; {not_set}")))?;
        Ok((kind, name, password))
    }
}

const PW_AUTH_KEY: &str = "PasswordAuthentication";

/// What `handle_ssh_pwauth` does once it knows whether it may restart the
/// service: the messages it logs, the sshd_config effects, the restart.
/// Worked out before the service is asked, since a module only plans.
struct PwAuthPlan {
    /// The messages up to the restart (the deprecation warning, "Leaving
    /// ... unchanged", "No need to restart ...").
    log: Vec<(Level, String)>,
    /// `PasswordAuthentication` to write, with the sshd_config effects;
    /// `None` when nothing changes.
    change: Option<(&'static str, Vec<Effect>)>,
}

impl PwAuthPlan {
    fn new(pw_auth: &Value, fs: &dyn FsView, out: &mut ModuleOutput) -> PwAuthPlan {
        let mut log = Vec::new();
        if let Value::Str(_) = pw_auth {
            log.push((
                Level::WARN,
                "DEPRECATION: The 'ssh_pwauth' config key should be set to a boolean value. The string format is deprecated and will be removed in a future version of cloud-init.".to_string(),
            ));
        }
        let value = if is_true(pw_auth) {
            "yes"
        } else if is_false(pw_auth) {
            "no"
        } else {
            let bmsg = format!("Leaving SSH config '{PW_AUTH_KEY}' unchanged.");
            match pw_auth {
                Value::Null => log.push((Level::DEBUG, format!("{bmsg} ssh_pwauth=None"))),
                Value::Str(s) if s.to_lowercase() == "unchanged" => {
                    log.push((Level::DEBUG, format!("{bmsg} ssh_pwauth={s}")))
                }
                Value::Str(s) => log.push((
                    Level::WARN,
                    format!("{bmsg} Unrecognized value: ssh_pwauth={s}"),
                )),
                // cloud-init crashes on `pw_auth.lower()`.
                other => out.error(format!(
                    "ssh_pwauth: must be true, false or \"unchanged\", not {} ({})",
                    other.type_name(),
                    other.python_str()
                )),
            }
            return PwAuthPlan { log, change: None };
        };
        match sshd_config::update_ssh_config(
            fs,
            &[(PW_AUTH_KEY, value)],
            Path::new(sshd_config::DEF_SSHD_CFG),
        ) {
            Ok(update) if update.updated() => PwAuthPlan {
                log,
                change: Some((value, update.effects)),
            },
            Ok(_) => {
                log.push((
                    Level::DEBUG,
                    format!("No need to restart SSH service, {PW_AUTH_KEY} not updated."),
                ));
                PwAuthPlan { log, change: None }
            }
            Err(e) => {
                out.error(format!("ssh_pwauth: {e}"));
                PwAuthPlan { log, change: None }
            }
        }
    }

    /// The branch for a status answer after which sshd_config is written:
    /// `first` (logged before the rest) is cloud-init's word on why the
    /// service will not be restarted; `restart` restarts it when the config
    /// changed.
    fn branch(
        &self,
        when: When,
        state: &str,
        first: Option<String>,
        svc: &SshService,
        restart: bool,
    ) -> Branch {
        let mut log: Vec<(Level, String)> = first.map(|m| (Level::DEBUG, m)).into_iter().collect();
        log.extend(self.log.iter().cloned());
        let mut effects = Vec::new();
        let mut done = None;
        let meaning = match &self.change {
            None => format!("{state}: {PW_AUTH_KEY} stays as it is"),
            Some((value, writes)) => {
                effects.extend(writes.iter().cloned());
                if restart {
                    effects.push(Effect::Host(HostAction {
                        what: format!(
                            "restart the ssh service for {PW_AUTH_KEY} {value} ({})",
                            svc.restart.join(" ")
                        ),
                        argv: svc.restart.clone(),
                    }));
                    done = Some("Restarted the SSH daemon.".to_string());
                    format!("{state}: {PW_AUTH_KEY} {value} written, the service restarted")
                } else {
                    log.push((
                        Level::DEBUG,
                        "Not restarting SSH service: service is stopped.".into(),
                    ));
                    format!("{state}: {PW_AUTH_KEY} {value} written, the service not restarted")
                }
            }
        };
        Branch {
            when,
            meaning,
            log,
            effects,
            done,
        }
    }
}

/// A branch that leaves `ssh_pwauth` alone, with cloud-init's warning.
fn ignored(when: When, state: &str, warning: String) -> Branch {
    Branch {
        when,
        meaning: format!("{state}: ssh_pwauth is ignored"),
        log: vec![(Level::WARN, warning)],
        effects: Vec::new(),
        done: None,
    }
}

/// `handle_ssh_pwauth(cfg.get("ssh_pwauth"), distro)`: the service's status
/// is asked first, whatever `ssh_pwauth` says, and its exit code decides:
///
/// | status exit            | systemd                        | no systemd                    |
/// |------------------------|--------------------------------|-------------------------------|
/// | 0 (running)            | write, restart if changed      | write, restart if changed     |
/// | 3 (stopped)            | write, no restart              | write, no restart             |
/// | 4 (not installed)      | nothing (warning)              | write, no restart             |
/// | other, or cannot start | nothing (warning)              | write, no restart             |
///
/// The module never fails for the answer (cloud-init catches it); a failed
/// restart fails it, as in cloud-init.
fn handle_ssh_pwauth(cfg: &Value, fs: &dyn FsView, distro: &Distro, out: &mut ModuleOutput) {
    let svc = distro.ssh_service();
    let systemd = distro.uses_systemd();
    let pw_auth = cfg.get("ssh_pwauth").unwrap_or(&Value::Null);
    let plan = PwAuthPlan::new(pw_auth, fs, out);
    // Nothing to write: the answer could only decide a restart that does
    // not happen, so the service is not asked (a deliberate difference).
    if plan.change.is_none() {
        let log = log_at!();
        plan.log
            .iter()
            .for_each(|(level, msg)| (log.0)(*level, msg));
        return;
    }
    let shown = pw_auth.python_str();
    let name = &svc.name;
    let writing = |why: &str| {
        Some(format!(
            "Writing config 'ssh_pwauth: {shown}'. SSH service '{name}' will not be restarted because {why}."
        ))
    };
    let running = plan.branch(When::Exit(vec![0]), "running", None, &svc, true);
    let branches = if systemd {
        vec![
            running,
            plan.branch(When::Exit(vec![3]), "stopped", writing("it is stopped"), &svc, false),
            ignored(
                When::Exit(vec![4]),
                "not installed",
                format!("Ignoring config 'ssh_pwauth: {shown}'. SSH service '{name}' is not installed."),
            ),
            ignored(
                When::Otherwise,
                "not available",
                format!("Ignoring config 'ssh_pwauth: {shown}'. SSH service '{name}' is not available. Error: {PROBE_ERROR}."),
            ),
        ]
    } else {
        vec![
            running,
            plan.branch(
                When::Otherwise,
                "not running or not available",
                writing("it is not running or not available"),
                &svc,
                false,
            ),
        ]
    };
    out.effects.push(Effect::Probe(Probe {
        action: HostAction {
            what: format!("check the ssh service ({})", svc.status.join(" ")),
            argv: svc.status,
        },
        // Where nothing is asked (a plan, a root that is not this machine's
        // /): a running sshd, what the recorded boots show.
        assume: 0,
        branches,
        log: log_at!(),
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::{RealFs, Root};

    /// The module on `fs`, with the distro detected there.
    fn plan(
        cfg: &Value,
        args: &[String],
        fs: &RealFs,
        rand: &mut dyn FnMut() -> String,
    ) -> ModuleOutput {
        super::plan(cfg, args, fs, &Distro::detect(fs, cfg), rand)
    }

    const BOB_HASH: &str = "$6$cloudbootsalt$illthLM5DXU1iMtZC9H57E/euG/0cbApQa0ve5EjWwjH0COq2Xv6Vl6MRKIQI1QCT0m.P7/s.HZIyLTNLAsA90";

    /// A Debian-like root: sshd_config with the Include, systemd running
    /// (`/run/systemd/system` a directory).
    fn debian_root() -> (tempfile::TempDir, RealFs) {
        crate::rootfs::testing::root_with(&[
            (
                "/etc/ssh/sshd_config",
                "Include /etc/ssh/sshd_config.d/*.conf\nUsePAM yes\n",
            ),
            ("/etc/os-release", "ID=debian\n"),
            ("/run/systemd/system/.keep", ""),
        ])
    }

    fn yaml(text: &str) -> Value {
        crate::yaml::load(text.as_bytes(), "t").unwrap()
    }

    /// Random passwords R1, R2, ... (20 characters each).
    fn counter() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("R{n:0>19}")
        }
    }

    fn run(text: &str, fs: &RealFs) -> ModuleOutput {
        plan(&yaml(text), &[], fs, &mut counter())
    }

    /// Each effect as one line: argv and stdin for programs, the path for
    /// files; a probe as its program, then the branch its `assume` picks.
    fn lines(out: &ModuleOutput) -> Vec<String> {
        flat(&out.effects)
    }

    fn flat(effects: &[Effect]) -> Vec<String> {
        effects
            .iter()
            .flat_map(|e| match e {
                Effect::Probe(p) => {
                    let branch = p
                        .branch(&crate::effect::probe::Answer::NotAsked(
                            crate::target::Outcome::Planned,
                        ))
                        .unwrap();
                    let mut l = vec![format!("host {}", p.action.argv.join(" "))];
                    l.extend(flat(&branch.effects));
                    l
                }
                e => vec![line(e)],
            })
            .collect()
    }

    fn line(e: &Effect) -> String {
        match e {
            Effect::Run(c) => {
                let mut s = c.argv.join(" ");
                if let Some(d) = &c.stdin {
                    assert!(d.secret, "stdin of {s} must be secret");
                    s.push_str(&format!(" <<{}", String::from_utf8_lossy(&d.bytes)));
                }
                s
            }
            Effect::Host(h) => format!("host {}", h.argv.join(" ")),
            Effect::WriteFile {
                path, data, mode, ..
            } => format!(
                "write {} {mode:o} {}",
                path.display(),
                String::from_utf8_lossy(&data.bytes)
            ),
            other => other.summary(),
        }
    }

    #[test]
    fn hash_detection_is_cloud_inits_regex() {
        // Expected values from Python: re.match(r"\$(1|2a|2y|5|6)(\$.+){2}", p)
        // and ":" not in p.
        for (p, want) in [
            ("$6$salt$hash", true),
            ("$6$$x", false),
            ("$6$$$x", true),
            ("$6$a$", false),
            ("$6$a$b", true),
            ("$6$ab", false),
            ("$5$rounds=5000$s$h", true),
            ("$y$j9T$salt$hash", false),
            ("$2b$10$abc", false),
            ("$2a$10$abc", true),
            ("$2y$1$x", true),
            ("$1$a$b:c", false),
            ("x$6$a$b", false),
            ("$6$a\nb$c", false),
            ("$6$a$\nb", false),
            ("$6$a$b\nc", true),
            ("$7$a$b", false),
            ("$6$\u{e9}$\u{e9}", true),
            ("$6$a$$", true),
            ("$6$$a$b", true),
            ("$6 $a$b", false),
            ("$6$a\r$b", true),
            (BOB_HASH, true),
        ] {
            assert_eq!(is_hashed(p), want, "{p:?}");
        }
    }

    #[test]
    fn random_passwords_use_cloud_inits_alphabet_and_length() {
        assert_eq!(PW_SET.len(), 55);
        for c in "loLOI01".chars() {
            assert!(!PW_SET.contains(c));
        }
        let mut seen = std::collections::BTreeSet::new();
        let first = rand_user_password(&crate::host::RealHost);
        let mut all_same = true;
        for _ in 0..300 {
            let p = rand_user_password(&crate::host::RealHost);
            assert_eq!(p.len(), RANDOM_LEN);
            assert!(p.chars().all(|c| PW_SET.contains(c)), "{p}");
            all_same &= p == first;
            seen.extend(p.chars());
        }
        assert!(!all_same);
        // 6000 draws from 55 characters: every one shows up.
        assert_eq!(seen.len(), 55);
    }

    #[test]
    fn multiline_list_plain_hashed_and_random() {
        let (_t, fs) = debian_root();
        let out = run(
            &format!("chpasswd:\n  expire: false\n  list: |\n    alice:alice-plain-pw\n    bob:{BOB_HASH}\n    carol:RANDOM\n    dave:R\nssh_pwauth: true\n"),
            &fs,
        );
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert_eq!(
            lines(&out),
            [
                "chpasswd <<alice:alice-plain-pw\ncarol:R0000000000000000001\ndave:R0000000000000000002\n".to_string(),
                format!("chpasswd -e <<bob:{BOB_HASH}\n"),
                format!("/bin/sh -c {CONSOLE_WRITER} <<Set the following 'random' passwords\n\ncarol:R0000000000000000001\ndave:R0000000000000000002\n"),
                "host systemctl status ssh".into(),
                "mkdir /etc/ssh/sshd_config.d (0755)".into(),
                "write /etc/ssh/sshd_config.d/50-cloud-init.conf 600 PasswordAuthentication yes\n".into(),
                "host systemctl restart ssh".into(),
            ]
        );
        // The recorded stdin sizes (passwords/expected/commands).
        let Effect::Run(c) = &out.effects[0] else {
            panic!()
        };
        assert_eq!(c.stdin.as_ref().unwrap().bytes.len(), 74);
        let Effect::Run(c) = &out.effects[1] else {
            panic!()
        };
        assert_eq!(c.stdin.as_ref().unwrap().bytes.len(), 108);
    }

    #[test]
    fn users_form_orders_text_hash_random_and_expires_all() {
        let (_t, fs) = debian_root();
        let out = run(
            &format!(
                "password: ignored-pw\nchpasswd:\n  users:\n    - {{name: carol, type: RANDOM}}\n    - {{name: alice, password: a-pw, type: text}}\n    - {{name: bob, password: '{BOB_HASH}'}}\nssh_pwauth: unchanged\n"
            ),
            &fs,
        );
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert_eq!(
            lines(&out),
            [
                "chpasswd <<alice:a-pw\ncarol:R0000000000000000001\n".to_string(),
                format!("chpasswd -e <<bob:{BOB_HASH}\n"),
                format!("/bin/sh -c {CONSOLE_WRITER} <<Set the following 'random' passwords\n\ncarol:R0000000000000000001\n"),
                "passwd --expire alice".into(),
                "passwd --expire carol".into(),
                "passwd --expire bob".into(),
            ]
        );
    }

    #[test]
    fn users_and_list_together_users_first() {
        let (_t, fs) = debian_root();
        let out = run(
            "chpasswd:\n  expire: 'off'\n  users: [{name: u1, password: p1, type: text}]\n  list: ['l1:p2', 'l2:$1$a$b']\n",
            &fs,
        );
        assert_eq!(
            lines(&out),
            ["chpasswd <<u1:p1\nl1:p2\n", "chpasswd -e <<l2:$1$a$b\n",]
        );
    }

    #[test]
    fn password_goes_to_the_default_user_only_without_other_entries() {
        let (_t, fs) = debian_root();
        let base = "system_info:\n  default_user: {name: debian}\nusers: [default, alice]\n";
        let out = run(&format!("{base}password: secret-default\n"), &fs);
        assert_eq!(
            lines(&out)[..2],
            [
                "chpasswd <<debian:secret-default\n",
                "passwd --expire debian"
            ]
        );
        // The list rules apply: a hash goes to chpasswd -e, RANDOM is random.
        let out = run(&format!("{base}password: '{BOB_HASH}'\n"), &fs);
        assert_eq!(lines(&out)[0], format!("chpasswd -e <<debian:{BOB_HASH}\n"));
        let out = run(&format!("{base}password: RANDOM\n"), &fs);
        assert_eq!(lines(&out)[0], "chpasswd <<debian:R0000000000000000001\n");
        // An int is taken as its digits (str()), as cloud-init does.
        let out = run(&format!("{base}password: 1234\n"), &fs);
        assert_eq!(lines(&out)[0], "chpasswd <<debian:1234\n");
        // No default user: nothing but the status check.
        let out = run("users: [alice]\npassword: pw\n", &fs);
        assert_eq!(lines(&out), Vec::<String>::new());
        // null is no password (cloud-init would set the password "None").
        let out = run(&format!("{base}password:\n"), &fs);
        assert_eq!(lines(&out), Vec::<String>::new());
        assert!(out.errors.is_empty());
        // A password of the wrong type is an error only when it would be used.
        let out = run(&format!("{base}password: [x]\n"), &fs);
        assert_eq!(lines(&out), Vec::<String>::new());
        assert_eq!(
            out.errors,
            ["password: must be a string, not list; the default user's password is not set"]
        );
        let out = run(
            &format!("{base}password: [x]\nchpasswd: {{list: ['a:b']}}\n"),
            &fs,
        );
        assert!(out.errors.is_empty());
        // Module arguments: the first is the password and `list` is ignored.
        let out = plan(
            &yaml(&format!(
                "{base}chpasswd: {{list: ['x:y'], expire: false}}\n"
            )),
            &["from-args".to_string()],
            &fs,
            &mut counter(),
        );
        assert_eq!(lines(&out)[0], "chpasswd <<debian:from-args\n");
    }

    #[test]
    fn input_cloud_init_crashes_on_sets_nothing_and_never_quotes_a_password() {
        let (_t, fs) = debian_root();
        for (text, key) in [
            (
                "chpasswd:\n  list: |\n    alice:pw-one\n    secret-no-colon\n",
                "chpasswd.list line 2",
            ),
            (
                "chpasswd:\n  list: ['alice:pw-one', 'secret-no-colon']\n",
                "chpasswd.list[1]",
            ),
            (
                "chpasswd:\n  list: ['alice:pw-one', {bob: secret-in-map}]\n",
                "chpasswd.list[1]",
            ),
            ("chpasswd:\n  list: {bob: secret-in-map}\n", "chpasswd.list"),
            (
                "chpasswd:\n  users: [{name: a, password: pw-one, type: text}, 'bob:secret-str']\n",
                "chpasswd.users[1]",
            ),
            (
                "chpasswd:\n  users: [{password: secret-nameless, type: text}]\n",
                "chpasswd.users[0].name",
            ),
            ("chpasswd:\n  users: 'bob:secret-str'\n", "chpasswd.users"),
            ("chpasswd: 'bob:secret-str'\n", "chpasswd"),
            ("chpasswd:\n", "chpasswd"),
        ] {
            let out = run(&format!("{text}ssh_pwauth: true\n"), &fs);
            assert!(out.effects.is_empty(), "{text}: {:?}", lines(&out));
            assert_eq!(out.errors.len(), 1, "{text}");
            assert!(
                out.errors[0].starts_with(&format!("{key}:")),
                "{text}: {}",
                out.errors[0]
            );
            for secret in ["secret", "pw-one", "alice:"] {
                assert!(!out.errors[0].contains(secret), "{}", out.errors[0]);
            }
        }
    }

    #[test]
    fn bad_users_entries_are_reported_and_the_rest_applies() {
        let (_t, fs) = debian_root();
        let out = run(
            "chpasswd:\n  expire: false\n  users:\n    - {name: a, password: secret-a, type: random}\n    - {name: b, password: secret-b, type: plaintext}\n    - {name: c, type: text}\n    - {name: d, password: 1234, type: text}\n    - {name: [e], type: RANDOM}\n    - {name: ok, password: fine, type: text}\n",
            &fs,
        );
        assert_eq!(lines(&out), ["chpasswd <<ok:fine\n"]);
        assert_eq!(
            out.errors,
            [
                "chpasswd.users[0].type: must be text, hash or RANDOM (case matters), not 'random'; this user's password is not set",
                "chpasswd.users[1].type: must be text, hash or RANDOM, not this str; this user's password is not set",
                "chpasswd.users[2].password: is required for type text (cloud-init 22.4 would set the literal password 'RANDOM'); this user's password is not set",
                "chpasswd.users[3].password: must be a string, not int; this user's password is not set",
                "chpasswd.users[4].name: must be a string, not list; this user's password is not set",
            ]
        );
    }

    #[test]
    fn a_name_or_password_that_would_add_a_chpasswd_line_is_refused_alone() {
        let (_t, fs) = debian_root();
        let out = run(
            "chpasswd:\n  expire: false\n  users:\n    - {name: alice, password: \"pw-a\\nroot:owned-a\", type: text}\n    - {name: \"b\\nroot\", type: RANDOM}\n    - {name: ok, password: fine, type: text}\n    - {name: h, password: \"$6$a$b\\0c\"}\n  list: [\"dave:pw-d\\nroot:owned-d\", \"erin:fine-e\", \"f\\rroot:owned-f\"]\n",
            &fs,
        );
        assert_eq!(lines(&out), ["chpasswd <<ok:fine\nerin:fine-e\n",]);
        assert_eq!(
            out.errors,
            [
                "chpasswd.list[0] has a newline: it must be one line in chpasswd's input (user 'dave'); this entry is not set",
                "chpasswd.list[2] has a carriage return: it must be one line in chpasswd's input; this entry is not set",
                "chpasswd.users[0].password (user 'alice') has a newline: it must be one line in chpasswd's input; this user's password is not set",
                "chpasswd.users[1].name has a newline: it must be one line in chpasswd's input; this user's password is not set",
                "chpasswd.users[3].password (user 'h') has a NUL character: it must be one line in chpasswd's input; this user's password is not set",
            ]
        );
        // The default user's password, and a default user's name.
        let base = "system_info:\n  default_user: {name: debian}\nusers: [default]\n";
        let out = run(&format!("{base}password: \"pw\\nroot:owned\"\n"), &fs);
        assert_eq!(lines(&out), Vec::<String>::new());
        assert_eq!(
            out.errors,
            ["password has a newline: it must be one line in chpasswd's input; the default user's password is not set"]
        );
        let out = run(
            "system_info:\n  default_user: {name: \"de\\nbian\"}\nusers: [default]\npassword: pw\n",
            &fs,
        );
        assert_eq!(lines(&out), Vec::<String>::new());
        assert_eq!(
            out.errors,
            ["the default user's name has a newline: it must be one line in chpasswd's input; the default user's password is not set"]
        );
    }

    #[test]
    fn ssh_pwauth_values() {
        let (tmp, fs) = debian_root();
        let write = |v: &str| {
            let out = run(&format!("ssh_pwauth: {v}\n"), &fs);
            (lines(&out), out.errors)
        };
        for v in ["true", "yes", "'on'", "1", "'TRUE '"] {
            let (l, e) = write(v);
            assert!(e.is_empty());
            assert_eq!(
                l[2],
                "write /etc/ssh/sshd_config.d/50-cloud-init.conf 600 PasswordAuthentication yes\n",
                "{v}"
            );
        }
        for v in ["false", "no", "'off'", "0"] {
            let (l, _) = write(v);
            assert_eq!(
                l[2],
                "write /etc/ssh/sshd_config.d/50-cloud-init.conf 600 PasswordAuthentication no\n",
                "{v}"
            );
        }
        for v in ["unchanged", "UNCHANGED", "null", "maybe"] {
            let (l, e) = write(v);
            assert_eq!(l, Vec::<String>::new(), "{v}");
            assert!(e.is_empty());
        }
        let (l, e) = write("[1]");
        assert_eq!(l, Vec::<String>::new());
        assert_eq!(e.len(), 1);
        // Already set: no write, no restart.
        std::fs::create_dir_all(tmp.path().join("etc/ssh/sshd_config.d")).unwrap();
        std::fs::write(
            tmp.path().join("etc/ssh/sshd_config.d/50-cloud-init.conf"),
            "PasswordAuthentication no\n",
        )
        .unwrap();
        assert_eq!(write("false").0, Vec::<String>::new());
    }

    #[test]
    fn centos6_edits_sshd_config_and_uses_service() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("etc/ssh")).unwrap();
        std::fs::write(
            tmp.path().join("etc/redhat-release"),
            "CentOS release 6.10 (Final)\n",
        )
        .unwrap();
        std::fs::write(
            tmp.path().join("etc/ssh/sshd_config"),
            "#PermitRootLogin yes\nPasswordAuthentication no\nUsePAM yes\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            tmp.path().join("etc/ssh/sshd_config"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        let fs = RealFs {
            root: Root::new(tmp.path()),
        };
        let out = run("ssh_pwauth: true\n", &fs);
        assert_eq!(
            lines(&out),
            [
                "host service sshd status",
                "write /etc/ssh/sshd_config 600 #PermitRootLogin yes\nPasswordAuthentication yes\nUsePAM yes\n",
                "host service sshd restart",
            ]
        );
    }
}
