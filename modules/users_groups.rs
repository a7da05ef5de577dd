//! users_groups (`cc_users_groups`): the groups and users of `groups`,
//! `users`, `user` and `system_info.default_user`, as cloud-init 22.4 makes
//! them with the distro's tools (`Distro.create_group`, `create_user`,
//! `add_user`, `lock_passwd`, `write_sudo_rules`; the commands are
//! [`crate::distro::users`]'), in the network stage, once per instance.
//!
//! In cloud-init's order: every group of `groups` first (`groupadd`; members
//! that already exist get `usermod -a -G`, the others a warning), then each
//! user of `users` (the default user last): the groups of its `groups` and
//! `primary_group` that do not exist yet (`groupadd`, unless `create_groups`
//! is false), `useradd` with the options in sorted key order (`gecos`,
//! `groups`, `homedir`, `inactive`, `expiredate`, `passwd`, `primary_group`,
//! `selinux_user`, `shell`, `uid`; flags `no_log_init`, `no_user_group`,
//! `system`; `-M` for `no_create_home` or `system`, else `-m`;
//! `--extrausers` on Ubuntu Core) — skipped, as in cloud-init, for a user
//! who already exists —, then `chpasswd` (`plain_text_passwd`) and
//! `chpasswd -e` (`hashed_passwd`) with the password on stdin, `passwd -l`
//! unless `lock_passwd: false` (`usermod --lock` where the root has no
//! `passwd`), the `sudo` rules in `/etc/sudoers.d/90-cloud-init-users` (and
//! `#includedir /etc/sudoers.d` added to `/etc/sudoers` when it has none),
//! the user's `ssh_authorized_keys` (in cloud-init's set order, into the
//! file sshd_config's `AuthorizedKeysFile` gives, see [`crate::ssh_util`]),
//! and `ssh_redirect_user` (the datasource's keys behind a "login as the
//! default user" command). `snapuser` runs `snap create-user --sudoer
//! --json [--known] <email>` instead, as cloud-init does.
//!
//! Secrets: `passwd` (a hash) goes on useradd's command line as cloud-init
//! puts it there, but every log line and plan shows `<redacted>`; the
//! chpasswd input is a secret on stdin.
//!
//! Users made here do not exist in a plan (nothing runs) or in a scratch
//! root (programs are listed, not run): their files are owned by name and
//! the names are looked up when the effects are applied (see
//! [`crate::accounts`]).
//!
//! Not supported: `snapuser`'s answer (cloud-init only logs the user name
//! snap made); `ssh_import_id` is cc_ssh_import_id's (here it only counts
//! for the checks cloud-init makes, `no_create_home`/`system` with keys);
//! `doas` is not a 22.4 key (ignored, as 22.4 ignores it). A failed
//! `groupadd` is logged and the module goes on, as in cloud-init; any other
//! failed command stops the module there.
//!
//! Where cloudboot deliberately differs from 22.4: a user or group whose
//! name, or any field in `ONE_LINE_FIELDS`, holds a newline, a carriage
//! return or a NUL is refused with an error naming the key and the user
//! (the name quoted with its escapes), is not made at all, and the module
//! is reported failed; the other users and groups are still made. 22.4
//! writes such values as they are (checked by driving its `Distro` code):
//! - `sudo` rules become extra lines of `/etc/sudoers.d/90-cloud-init-users`
//!   (`"ALL=(ALL) ALL\nmallory ALL=(ALL) NOPASSWD:ALL"` grants mallory);
//! - `plain_text_passwd`/`hashed_passwd` become extra `user:password` lines
//!   on chpasswd's stdin (`"pw\nroot:x"` sets root's password);
//! - an `ssh_authorized_keys` entry becomes two authorized_keys lines (a
//!   line break at either end is stripped first, by cloud-init too, so a
//!   key written as a `|` block is fine);
//! - names, `gecos`, `homedir`, `shell`, `groups`, `primary_group`, `passwd`
//!   go on useradd's and groupadd's command lines, which Debian 12's shadow
//!   refuses (exit 3), failing 22.4's module and every user after it.

use std::path::Path;

use crate::module::prelude::py::{header::make_header, path::abspath};
use crate::module::prelude::*;
use crate::modules::shared::one_line::one_line;
use crate::modules::shared::ssh_util;
use crate::modules::shared::staged::Staged;

pub struct UsersGroups;

/// 22.4's schema of `users` (a user's own keys are not checked here).
static USERS_SCHEMA: Ty = Ty::Strict(
    &Ty::Strict(
        &Ty::OneOf(&[
            Ty::Str,
            Ty::List(&Ty::Strict(
                &Ty::OneOf(&[Ty::Str, Ty::List(&Ty::Str), Ty::AnyMap]),
                Rule::OneOf,
            )),
            Ty::AnyMap,
        ]),
        Rule::TypeList,
    ),
    Rule::MinItems(1),
);

/// 22.4's schema of `groups`.
static GROUPS_SCHEMA: Ty = Ty::Strict(
    &Ty::Strict(
        &Ty::OneOf(&[Ty::Str, Ty::AnyMap, Ty::List(&Ty::Any)]),
        Rule::TypeList,
    ),
    Rule::MinItems(1),
);

static INFO: ModuleInfo = ModuleInfo {
    name: "users_groups",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &[],
    keys: &["users", "groups", "user", "system_info"],
    // cloud-init reads every shape these take (strings, lists, mappings)
    // and says itself what it cannot use.
    schema: &[
        Field::opt("users", Ty::Strict(&Ty::Any, Rule::As(&USERS_SCHEMA))),
        Field::opt("groups", Ty::Strict(&Ty::Any, Rule::As(&GROUPS_SCHEMA))),
        Field::opt("user", Ty::Any),
    ],
    summary: "create groups and users, their sudo rules and ssh keys",
};

const SUDO_BASE: &str = "/etc/sudoers";

impl Module for UsersGroups {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let ug = match normalize_users_groups(ctx.cfg) {
            Ok(ug) => ug,
            Err(e) => {
                out.error(e);
                return out;
            }
        };
        let mut run = Run {
            st: Staged::new(ctx.fs),
            users: accounts::passwd(ctx.fs)
                .into_iter()
                .map(|p| p.name)
                .collect(),
            groups: accounts::group(ctx.fs)
                .into_iter()
                .map(|g| g.name)
                .collect(),
            distro: ctx.distro,
            out: &mut out,
        };
        for w in &ug.warnings {
            run.warn(w.clone());
        }
        let default_user = ug.default_user().map(|(n, _)| n);
        let cloud_keys = &ctx.instance.public_keys;
        for (name, members) in &ug.groups {
            if let Err(e) = check_group(name, members) {
                run.out.error(e);
                continue;
            }
            if let Err(e) = run.create_group(name, members) {
                run.out.error(e);
                return run.finish();
            }
        }
        for (user, cfg) in &ug.users {
            let mut cfg = cfg.clone();
            let set = |k: &str| cfg.get(k).is_some_and(Value::truthy);
            let no_home: Vec<&str> = ["no_create_home", "system"]
                .into_iter()
                .filter(|k| set(k))
                .collect();
            let need_home: Vec<&str> =
                ["ssh_authorized_keys", "ssh_import_id", "ssh_redirect_user"]
                    .into_iter()
                    .filter(|k| set(k))
                    .collect();
            if !no_home.is_empty() && !need_home.is_empty() {
                run.out.error(format!(
                    "Not creating user {user}. Key(s) {} cannot be provided with {}",
                    need_home.join(", "),
                    no_home.join(", ")
                ));
                return run.finish();
            }
            let redirect = cfg
                .remove("ssh_redirect_user")
                .unwrap_or(Value::Bool(false));
            if redirect.truthy() {
                if cfg.contains_key("ssh_authorized_keys") || cfg.contains_key("ssh_import_id") {
                    run.out.error(format!(
                        "Not creating user {user}. ssh_redirect_user cannot be provided with ssh_import_id or ssh_authorized_keys"
                    ));
                    return run.finish();
                }
                // Python's `in (True, "default")`: 1 == True.
                let valid = matches!(&redirect, Value::Bool(true) | Value::Int(1))
                    || redirect.as_str() == Some("default");
                if !valid {
                    run.out.error(format!(
                        "Not creating user {user}. Invalid value of ssh_redirect_user: {}. Expected values: true, default or false.",
                        redirect.python_str()
                    ));
                    return run.finish();
                }
                match &default_user {
                    None => run.warn(format!(
                        "Ignoring ssh_redirect_user: {} for {user}. No default_user defined. Perhaps missing cloud configuration users:  [default, ..].",
                        redirect.python_str()
                    )),
                    Some(d) => {
                        cfg.insert(Value::str("ssh_redirect_user"), Value::str(d.clone()));
                        cfg.insert(
                            Value::str("cloud_public_ssh_keys"),
                            Value::Seq(cloud_keys.iter().map(|k| Value::str(k.clone())).collect()),
                        );
                    }
                }
            }
            if let Err(e) = check_user(user, &cfg) {
                run.out.error(e);
                continue;
            }
            if let Err(e) = run.create_user(user, &cfg) {
                run.out.error(e);
                return run.finish();
            }
        }
        run.finish()
    }
}

/// The fields of a user entry that are written into a line-oriented file or
/// given to a program as one argument: the key, how an error names it, and
/// where it goes. The name itself is checked apart (it goes everywhere).
const ONE_LINE_FIELDS: &[(&str, &str, &str)] = &[
    ("gecos", "gecos", "useradd's --comment (/etc/passwd)"),
    ("homedir", "homedir", "useradd's --home (/etc/passwd)"),
    ("shell", "shell", "useradd's --shell (/etc/passwd)"),
    ("uid", "uid", "useradd's --uid (/etc/passwd)"),
    (
        "primary_group",
        "primary_group",
        "groupadd and useradd's --gid (/etc/group)",
    ),
    (
        "groups",
        "groups",
        "groupadd and useradd's --groups (/etc/group)",
    ),
    (
        "expiredate",
        "expiredate",
        "useradd's --expiredate (/etc/shadow)",
    ),
    ("inactive", "inactive", "useradd's --inactive (/etc/shadow)"),
    ("selinux_user", "selinux_user", "useradd's --selinux-user"),
    ("passwd", "passwd", "useradd's --password (/etc/shadow)"),
    ("plain_text_passwd", "plain_text_passwd", "chpasswd's input"),
    ("hashed_passwd", "hashed_passwd", "chpasswd -e's input"),
    ("sudo", "sudo", SUDOERS_FILE),
    (
        "ssh_authorized_keys",
        "ssh_authorized_keys",
        "authorized_keys",
    ),
    (
        "cloud_public_ssh_keys",
        "the datasource's public keys (for ssh_redirect_user)",
        "authorized_keys",
    ),
    ("snapuser", "snapuser", "snap create-user's command line"),
];

/// Every string in a config value (list items, mapping keys and values).
fn strings(v: &Value) -> Vec<&str> {
    match v {
        Value::Str(s) => vec![s.as_str()],
        Value::Seq(items) => items.iter().flat_map(strings).collect(),
        Value::Map(m) => m
            .iter()
            .flat_map(|(k, v)| strings(k).into_iter().chain(strings(v)))
            .collect(),
        _ => Vec::new(),
    }
}

/// Refuses a user any of whose names or fields would not stay one line
/// where it is written ([`one_line`]); such a user is not made.
fn check_user(name: &str, cfg: &Mapping) -> Result<(), ConfigError> {
    let who = format!("users: user {}", python_str_repr(name));
    let not_made =
        |e: ConfigError| ConfigError::new("users", format!("{who}: {e}; the user is not created"));
    one_line(
        "the name",
        name,
        "/etc/passwd, chpasswd's input and /etc/sudoers.d",
    )
    .map_err(not_made)?;
    for (key, label, place) in ONE_LINE_FIELDS {
        for value in cfg.get(key).map(strings).unwrap_or_default() {
            // An authorized key loses its surrounding blanks and line
            // breaks first (`AuthKeyLineParser.parse`): `- |` blocks are fine.
            let value = if matches!(*key, "ssh_authorized_keys" | "cloud_public_ssh_keys") {
                py::str::strip(value)
            } else {
                value
            };
            one_line(label, value, place).map_err(not_made)?;
        }
    }
    Ok(())
}

/// Refuses a group of `groups` whose name or a member's would not stay one
/// line (`groupadd NAME`, `usermod -a -G NAME MEMBER`).
fn check_group(name: &str, members: &[String]) -> Result<(), ConfigError> {
    let who = format!("groups: group {}", python_str_repr(name));
    let not_made = |e: ConfigError| {
        ConfigError::new("groups", format!("{who}: {e}; the group is not created"))
    };
    one_line("the name", name, "/etc/group").map_err(not_made)?;
    for m in members {
        one_line("a member's name", m, "/etc/group").map_err(not_made)?;
    }
    Ok(())
}

/// One run of the module: the effects so far and who exists by now.
struct Run<'a, 'o> {
    st: Staged<'a>,
    /// `util.is_user`: in /etc/passwd, or made earlier in this run.
    users: Vec<String>,
    /// `util.is_group`.
    groups: Vec<String>,
    distro: &'a Distro,
    out: &'o mut ModuleOutput,
}

impl Run<'_, '_> {
    fn finish(self) -> ModuleOutput {
        self.out.effects = self.st.effects;
        std::mem::take(self.out)
    }

    /// A warning cloud-init logs: to the log, and among the module's notes.
    fn warn(&mut self, msg: String) {
        tracing::warn!("{msg}");
        self.out.notes.push(msg);
    }

    /// `Distro.create_group(name, members)`.
    fn create_group(&mut self, name: &str, members: &[String]) -> Result<(), ConfigError> {
        if self.groups.iter().any(|g| g == name) {
            self.warn(format!("Skipping creation of existing group '{name}'"));
        } else {
            // A failed groupadd is logged, not raised.
            let cmd = self.distro.groupadd(name).on_failure(OnFailure::Ignore);
            self.st.run(cmd);
            tracing::info!("Created new group {name}");
            self.groups.push(name.to_string());
        }
        for member in members {
            if !self.users.contains(member) {
                self.warn(format!(
                    "Unable to add group member '{member}' to group '{name}'; user does not exist."
                ));
                continue;
            }
            self.st.run(self.distro.add_member(name, member));
            tracing::info!("Added user '{member}' to group '{name}'");
        }
        Ok(())
    }

    /// `Distro.add_user(name, **kwargs)`.
    fn add_user(&mut self, name: &str, cfg: &Mapping) -> Result<(), ConfigError> {
        if self.users.iter().any(|u| u == name) {
            tracing::info!("User {name} already exists, skipping.");
            return Ok(());
        }
        let mut kwargs = cfg.clone();
        let create_groups = kwargs
            .remove("create_groups")
            .map(|v| v.truthy())
            .unwrap_or(true);
        let mut groups: Vec<String> = Vec::new();
        if let Some(g) = kwargs.get("groups").filter(|g| g.truthy()).cloned() {
            let items: Vec<Value> = match &g {
                Value::Str(s) => s.split(',').map(Value::str).collect(),
                Value::Seq(items) => items.clone(),
                Value::Map(m) => {
                    self.warn(format!(
                        "DEPRECATED: The user {name} has a 'groups' config value of type dict which is deprecated and will be removed in a future version of cloud-init. Use a comma-delimited string or array instead: group1,group2."
                    ));
                    m.iter().map(|(k, _)| k.clone()).collect()
                }
                other => {
                    return Err(ConfigError::new(
                        "users",
                        format!(
                            "Failed to create user {name}: '{}' object is not iterable",
                            other.type_name()
                        ),
                    ))
                }
            };
            for item in items {
                match item {
                    Value::Str(s) => groups.push(s.trim().to_string()),
                    other => {
                        return Err(ConfigError::new(
                            "users",
                            format!(
                            "Failed to create user {name}: '{}' object has no attribute 'strip'",
                            other.type_name()
                        ),
                        ))
                    }
                }
            }
            kwargs.insert(Value::str("groups"), Value::str(groups.join(",")));
            if let Some(p) = kwargs.get("primary_group").filter(|p| p.truthy()) {
                groups.push(p.python_str());
            }
        }
        if create_groups {
            for group in &groups {
                if !self.groups.contains(group) {
                    self.create_group(group, &[])?;
                    tracing::debug!("created group '{group}' for user '{name}'");
                }
            }
        }
        let cmd = self.distro.useradd(name, kwargs);
        tracing::debug!("Adding user {name}");
        self.st.run(cmd);
        self.users.push(name.to_string());
        Ok(())
    }

    /// `Distro.create_user(name, **kwargs)`.
    fn create_user(&mut self, name: &str, cfg: &Mapping) -> Result<(), ConfigError> {
        if let Some(snapuser) = cfg.get("snapuser") {
            let mut argv = vec!["snap", "create-user", "--sudoer", "--json"];
            if cfg.get("known").is_some_and(Value::truthy) {
                argv.push("--known");
            }
            let snapuser = snapuser.python_str();
            argv.push(&snapuser);
            tracing::debug!("Adding snap user {name}");
            self.st.run(Command::new(argv));
            return Ok(());
        }
        self.add_user(name, cfg)?;
        let given = |k: &str| cfg.get(k).filter(|v| v.truthy()).map(Value::python_str);
        if let Some(pw) = given("plain_text_passwd") {
            self.st.run(self.distro.set_passwd(name, &pw, false));
        }
        if let Some(pw) = given("hashed_passwd") {
            self.st.run(self.distro.set_passwd(name, &pw, true));
        }
        if cfg.get("lock_passwd").is_none_or(Value::truthy) {
            let cmd = self.distro.lock_passwd(self.st.fs, name)?;
            self.st.run(cmd);
        }
        if let Some(sudo) = cfg.get("sudo") {
            if sudo.truthy() {
                self.write_sudo_rules(name, sudo)?;
            } else if *sudo == Value::Bool(false) {
                self.warn(format!(
                    "DEPRECATED: The user {name} has a 'sudo' config value of 'false' which will be dropped after April 2027. Use 'null' instead."
                ));
            }
        }
        if let Some(keys) = cfg.get("ssh_authorized_keys") {
            let list: Vec<String> = match keys {
                Value::Str(s) => vec![s.clone()],
                Value::Map(m) => m.iter().map(|(_, v)| v.python_str()).collect(),
                Value::Seq(items) => items.iter().map(Value::python_str).collect(),
                Value::Null => {
                    return Err(ConfigError::new(
                        "users",
                        format!(
                            "Failed to set up the ssh keys of {name}: 'NoneType' object is not iterable"
                        ),
                    ))
                }
                other => {
                    self.warn(format!(
                        "Invalid type '<class '{}'>' detected for 'ssh_authorized_keys', expected list, string, dict, or set.",
                        other.type_name()
                    ));
                    Vec::new()
                }
            };
            // `keys = set(keys)`, then `setup_user_keys(set(keys), name)`.
            let keys: Vec<String> = PySet::from_items(&list)
                .copy()
                .iter()
                .map(str::to_string)
                .collect();
            self.setup_keys(name, cfg, &keys, None)?;
        }
        if let Some(redirect) = cfg.get("ssh_redirect_user") {
            let redirect = redirect.python_str();
            let cloud_keys: Vec<String> = cfg
                .get("cloud_public_ssh_keys")
                .and_then(Value::as_seq)
                .unwrap_or_default()
                .iter()
                .map(Value::python_str)
                .collect();
            if cloud_keys.is_empty() {
                self.warn(format!(
                    "Unable to disable SSH logins for {name} given ssh_redirect_user: {redirect}. No cloud public-keys present."
                ));
            } else {
                let opts = ssh_util::DISABLE_USER_OPTS
                    .replace("$USER", &redirect)
                    .replace("$DISABLE_USER", name);
                let keys: Vec<String> = PySet::from_items(&cloud_keys)
                    .iter()
                    .map(str::to_string)
                    .collect();
                self.setup_keys(name, cfg, &keys, Some(&opts))?;
            }
        }
        Ok(())
    }

    fn setup_keys(
        &mut self,
        name: &str,
        cfg: &Mapping,
        keys: &[String],
        options: Option<&str>,
    ) -> Result<(), ConfigError> {
        let fs = self.st.fs;
        let user = accounts::account(fs, name, Some(cfg)).ok_or_else(|| {
            ConfigError::new("users", format!("Unable to get SSH info for user '{name}'"))
        })?;
        let root = accounts::account(fs, "root", None)
            .ok_or_else(|| ConfigError::new("users", "Unable to get SSH info for user 'root'"))?;
        ssh_util::setup_user_keys(&mut self.st, keys, &user, &root, options);
        Ok(())
    }

    /// `Distro.write_sudo_rules(user, rules)`.
    fn write_sudo_rules(&mut self, user: &str, rules: &Value) -> Result<(), ConfigError> {
        let content = self.distro.sudo_rules(user, rules)?;
        let file = Path::new(self.distro.sudoers_file());
        self.ensure_sudo_dir(file.parent().unwrap_or(Path::new("/etc/sudoers.d")));
        if !self.st.exists(file) {
            let text = format!("{}\n{content}", make_header("created"));
            self.st.write(file, Data::public(text), 0o440, None);
        } else {
            self.st.append(file, Data::public(content));
        }
        Ok(())
    }

    /// `Distro.ensure_sudo_dir(path)`: `/etc/sudoers` includes `path`
    /// (`#includedir`/`@includedir`), else the line is added; `path` 0750.
    fn ensure_sudo_dir(&mut self, path: &Path) {
        let base = Path::new(SUDO_BASE);
        let base_exists = self.st.exists(base);
        let contents = if base_exists {
            self.st.read_string(base).unwrap_or_default()
        } else {
            String::new()
        };
        let found = py::str::splitlines(&contents).into_iter().any(|line| {
            let line = line.trim();
            let Some(rest) = line
                .strip_prefix(['#', '|', '@'])
                .and_then(|l| l.strip_prefix("includedir"))
            else {
                return false;
            };
            // `\s+(.*)$`: at least one blank, then the directory.
            if !rest.starts_with(char::is_whitespace) {
                return false;
            }
            let dir = rest.trim();
            !dir.is_empty() && abspath(dir) == path.to_string_lossy()
        });
        if !found {
            let include = format!("#includedir {}", path.display());
            if !base_exists {
                let text = [
                    "# See sudoers(5) for more information on \"#include\" directives:".to_string(),
                    String::new(),
                    make_header("added"),
                    include,
                    String::new(),
                ]
                .join("\n");
                self.st.write(base, Data::public(text), 0o440, None);
            } else {
                let text =
                    ["".to_string(), make_header("added"), include, String::new()].join("\n");
                self.st.append(base, Data::public(text));
            }
            tracing::debug!("Added '#includedir {}' to {SUDO_BASE}", path.display());
        }
        self.st.ensure_dir(path, 0o750);
    }
}
