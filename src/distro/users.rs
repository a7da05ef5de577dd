//! `users`, `groups`, `user` and `system_info.default_user` read as
//! cloud-init 22.4 reads them (`distros/ug_util.py`:
//! `normalize_users_groups`, `extract_default`). Every module that needs
//! "the default user" (users_groups, ssh, set_passwords) goes through here,
//! so they agree on who that is. Also the distro's commands for users,
//! groups and sudo rules.

use std::path::Path;

use super::accounts;
use super::{Distro, DistroError};
use crate::effect::{Command, Data};
use crate::merge;
use crate::rootfs::FsView;
use crate::value::{Mapping, Value};

/// The normalized users and groups, in cloud-init's order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UsersGroups {
    /// name -> config (keys with `-` turned into `_`; `default: true` on the
    /// default user), in the order cloud-init's dict has them.
    pub users: Vec<(String, Mapping)>,
    /// name -> members, sorted and unique.
    pub groups: Vec<(String, Vec<String>)>,
    /// The deprecation warnings cloud-init logs.
    pub warnings: Vec<String>,
}

impl UsersGroups {
    /// `extract_default(users)`: the user marked default, without the mark.
    pub fn default_user(&self) -> Option<(String, Mapping)> {
        self.users.iter().find_map(|(name, cfg)| {
            let is_default = cfg.get("default").map(Value::truthy).unwrap_or(false);
            is_default.then(|| {
                let mut cfg = cfg.clone();
                cfg.remove("default");
                (name.clone(), cfg)
            })
        })
    }
}

/// `util.uniq_merge`: strings are split on `,` (items not stripped, empty
/// ones dropped), lists taken as they are, duplicates removed keeping the
/// first.
pub fn uniq_merge(lists: &[&Value]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for l in lists {
        let items: Vec<Value> = match l {
            Value::Str(s) => s
                .trim()
                .split(',')
                .filter(|a| !a.is_empty())
                .map(Value::str)
                .collect(),
            Value::Seq(v) => v.clone(),
            Value::Null => Vec::new(),
            other => vec![(*other).clone()],
        };
        for i in items {
            if !out.contains(&i) {
                out.push(i);
            }
        }
    }
    out
}

/// `util.uniq_merge_sorted`, for strings (what users and groups are).
fn uniq_merge_sorted(lists: &[&Value]) -> Vec<String> {
    let mut v: Vec<String> = uniq_merge(lists).iter().map(Value::python_str).collect();
    v.sort();
    v
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Str(_) => "str",
        Value::Seq(_) => "list",
        Value::Map(_) => "dict",
        Value::Int(_) | Value::BigInt(_) => "int",
        Value::Bool(_) => "bool",
        Value::Null => "NoneType",
        _ => "object",
    }
}

/// `_normalize_groups`.
fn normalize_groups(cfg: &Value) -> Result<Vec<(String, Vec<String>)>, DistroError> {
    let mut grouped: Vec<(String, Vec<Value>)> = Vec::new();
    let mut add =
        |name: String, members: Vec<Value>| match grouped.iter_mut().find(|(n, _)| *n == name) {
            Some((_, m)) => m.extend(members),
            None => grouped.push((name, members)),
        };
    let list: Option<Vec<Value>> = match cfg {
        Value::Str(s) => Some(s.trim().split(',').map(Value::str).collect()),
        Value::Seq(v) => Some(v.clone()),
        _ => None,
    };
    match (list, cfg) {
        (Some(items), _) => {
            for i in items {
                match i {
                    Value::Map(m) => {
                        for (k, v) in m.iter() {
                            match v {
                                Value::Seq(members) => add(k.python_str(), members.clone()),
                                Value::Str(_) => add(k.python_str(), vec![v.clone()]),
                                other => {
                                    return Err(DistroError::GroupMemberType(type_name(other)))
                                }
                            }
                        }
                    }
                    Value::Str(s) => add(s, Vec::new()),
                    other => return Err(DistroError::GroupNameType(type_name(&other))),
                }
            }
        }
        (None, Value::Map(m)) => {
            for (k, v) in m.iter() {
                let members = match v {
                    Value::Seq(s) => s.clone(),
                    Value::Null => Vec::new(),
                    other => vec![other.clone()],
                };
                add(k.python_str(), members);
            }
        }
        (None, other) => return Err(DistroError::GroupConfigType(type_name(other))),
    }
    Ok(grouped
        .into_iter()
        .map(|(name, members)| (name, uniq_merge_sorted(&[&Value::Seq(members)])))
        .collect())
}

/// `_normalize_users(u_cfg, def_user_cfg)`.
fn normalize_users(
    u_cfg: &Value,
    def_user_cfg: &Mapping,
) -> Result<Vec<(String, Mapping)>, DistroError> {
    // A mapping: name -> true/false or name -> config.
    let entries: Vec<Value> = match u_cfg {
        Value::Map(m) => {
            let mut v = Vec::new();
            for (k, val) in m.iter() {
                match val {
                    Value::Bool(_)
                    | Value::Int(_)
                    | Value::BigInt(_)
                    | Value::Float(_)
                    | Value::Str(_) => {
                        if val.to_bool() {
                            v.push(Value::str(k.python_str()));
                        }
                    }
                    Value::Map(c) => {
                        let mut c = c.clone();
                        c.insert(Value::str("name"), k.clone());
                        v.push(Value::Map(c));
                    }
                    other => {
                        return Err(DistroError::UserValueType {
                            type_name: type_name(other),
                            key: k.python_str(),
                        })
                    }
                }
            }
            v
        }
        Value::Str(_) => uniq_merge_sorted(&[u_cfg])
            .into_iter()
            .map(Value::str)
            .collect(),
        Value::Seq(v) => v.clone(),
        _ => Vec::new(),
    };
    let mut users: Vec<(String, Mapping)> = Vec::new();
    for entry in entries {
        match &entry {
            Value::Seq(_) | Value::Str(_) => {
                for u in uniq_merge(&[&entry]) {
                    let u = u.python_str();
                    if !u.is_empty() && !users.iter().any(|(n, _)| *n == u) {
                        users.push((u, Mapping::new()));
                    }
                }
            }
            Value::Map(m) => {
                let mut m = m.clone();
                let name = m
                    .remove("name")
                    .map(|n| n.python_str())
                    .unwrap_or_else(|| "default".to_string());
                let merged = match users.iter().position(|(n, _)| *n == name) {
                    Some(i) => {
                        let prev = Value::Map(users[i].1.clone());
                        let merged = merge::merge_many(&[prev, Value::Map(m)]);
                        users[i].1 = merged.as_map().cloned().unwrap_or_default();
                        continue;
                    }
                    None => m,
                };
                users.push((name, merged));
            }
            other => return Err(DistroError::UserConfigType(type_name(other))),
        }
    }
    // Keys with `-` become `_`.
    for (_, cfg) in users.iter_mut() {
        let mut clean = Mapping::new();
        for (k, v) in cfg.iter() {
            let k = k.python_str().replace('-', "_").trim().to_string();
            if !k.is_empty() {
                clean.insert(Value::str(k), v.clone());
            }
        }
        *cfg = clean;
    }
    let mut def_user = None;
    if let Some(pos) = users.iter().position(|(n, _)| n == "default") {
        let (_, def_config) = users.remove(pos);
        if !def_user_cfg.is_empty() {
            let mut def_user_cfg = def_user_cfg.clone();
            let name = def_user_cfg
                .remove("name")
                .map(|n| n.python_str())
                .unwrap_or_default();
            let def_groups = def_user_cfg
                .remove("groups")
                .unwrap_or(Value::Seq(Vec::new()));
            let mut parsed = match users.iter().position(|(n, _)| *n == name) {
                Some(i) => users.remove(i).1,
                None => Mapping::new(),
            };
            let parsed_groups = parsed
                .get("groups")
                .cloned()
                .unwrap_or(Value::Seq(Vec::new()));
            let groups = uniq_merge_sorted(&[&parsed_groups, &def_groups]);
            parsed.insert(Value::str("groups"), Value::str(groups.join(",")));
            let merged = merge::merge_many(&[
                Value::Map(def_user_cfg),
                Value::Map(def_config),
                Value::Map(parsed),
            ]);
            users.push((name.clone(), merged.as_map().cloned().unwrap_or_default()));
            def_user = Some(name);
        }
    }
    for (name, cfg) in users.iter_mut() {
        let is_default = def_user.as_deref() == Some(name.as_str());
        cfg.insert(Value::str("default"), Value::Bool(is_default));
    }
    Ok(users)
}

/// `normalize_users_groups(cfg, distro)`; the distro's default user is
/// `system_info.default_user`.
pub fn normalize_users_groups(cfg: &Value) -> Result<UsersGroups, DistroError> {
    let mut out = UsersGroups::default();
    let mut old_user = Mapping::new();
    match cfg.get("user") {
        Some(Value::Str(s)) if !s.is_empty() => {
            old_user.insert(Value::str("name"), Value::str(s.clone()));
            out.warnings.push(
                "DEPRECATED: 'user' of type string is deprecated and will be removed in a future release. Use 'users' list instead."
                    .into(),
            );
        }
        Some(Value::Map(m)) if !m.is_empty() => old_user = m.clone(),
        Some(v) if v.truthy() => out.warnings.push(format!(
            "Format for 'user' key must be a string or dictionary and not {}",
            type_name(v)
        )),
        _ => {}
    }
    let distro_user = cfg
        .get("system_info")
        .and_then(|s| s.get("default_user"))
        .cloned()
        .filter(|v| matches!(v, Value::Map(_)))
        .unwrap_or_else(Value::empty_map);
    let default_user_config = merge::merge_many(&[Value::Map(old_user.clone()), distro_user]);
    let mut base_users = cfg.get("users").cloned().unwrap_or(Value::Seq(Vec::new()));
    match &base_users {
        Value::Map(_) | Value::Str(_) => out.warnings.push(format!(
            "DEPRECATED: 'users' of type <class '{}'> is deprecated and will be removed in a future release. Use 'users' as a list.",
            type_name(&base_users)
        )),
        Value::Seq(_) => {}
        other => {
            out.warnings.push(format!(
                "Format for 'users' key must be a comma-separated string or a dictionary or a list but found {}",
                type_name(other)
            ));
            base_users = Value::Seq(Vec::new());
        }
    }
    if !old_user.is_empty() {
        match &mut base_users {
            Value::Seq(v) => {
                let mut d = Mapping::new();
                d.insert(Value::str("name"), Value::str("default"));
                v.push(Value::Map(d));
            }
            Value::Map(m) => {
                let keep = m.get("default").cloned().unwrap_or(Value::Bool(true));
                m.insert(Value::str("default"), keep);
            }
            Value::Str(s) => s.push_str(",default"),
            _ => {}
        }
    }
    if let Some(g) = cfg.get("groups") {
        out.groups = normalize_groups(g)?;
    }
    out.users = normalize_users(
        &base_users,
        default_user_config.as_map().unwrap_or(&Mapping::new()),
    )?;
    Ok(out)
}

/// `distro.ci_sudoers_fn`: where the users' sudo rules go.
pub const SUDOERS_FILE: &str = "/etc/sudoers.d/90-cloud-init-users";

/// The users and groups side of the distro classes (`create_group`,
/// `add_user`, `set_passwd`, `lock_passwd`, `write_sudo_rules`): the
/// commands and file contents; users_groups runs them in its order.
impl Distro {
    /// `useradd NAME` or `groupadd NAME`, followed by `--extrausers` on
    /// Ubuntu Core (`util.system_is_snappy()`), as cloud-init adds it.
    fn command(&self, program: &str, name: &str) -> Command {
        let mut argv = vec![program.to_string(), name.to_string()];
        if self.snappy {
            argv.push("--extrausers".into());
        }
        Command::new(argv)
    }

    /// `create_group`'s `groupadd NAME`.
    pub fn groupadd(&self, name: &str) -> Command {
        self.command("groupadd", name)
    }

    /// `create_group`'s `usermod -a -G GROUP MEMBER`.
    pub fn add_member(&self, group: &str, member: &str) -> Command {
        Command::new(["usermod", "-a", "-G", group, member])
    }

    /// `add_user`'s `useradd` for a user entry (its groups already made):
    /// the options in sorted key order, the password hash a secret
    /// argument, `-M` for `no_create_home` or `system`, else `-m`.
    pub fn useradd(&self, name: &str, mut kwargs: Mapping) -> Command {
        if let Some(uid) = kwargs.get("uid").cloned() {
            kwargs.insert(Value::str("uid"), Value::str(uid.python_str()));
        }
        let mut cmd = self.command("useradd", name);
        let mut keys: Vec<(String, Value)> = kwargs
            .iter()
            .map(|(k, v)| (k.python_str(), v.clone()))
            .collect();
        keys.sort_by(|a, b| a.0.cmp(&b.0));
        for (key, val) in &keys {
            let opt = match key.as_str() {
                "gecos" => Some("--comment"),
                "homedir" => Some("--home"),
                "primary_group" => Some("--gid"),
                "uid" => Some("--uid"),
                "groups" => Some("--groups"),
                "passwd" => Some("--password"),
                "shell" => Some("--shell"),
                "expiredate" => Some("--expiredate"),
                "inactive" => Some("--inactive"),
                "selinux_user" => Some("--selinux-user"),
                _ => None,
            };
            let flag = match key.as_str() {
                "no_user_group" => Some("--no-user-group"),
                "system" => Some("--system"),
                "no_log_init" => Some("--no-log-init"),
                _ => None,
            };
            match (opt, val) {
                (Some(opt), Value::Str(v)) if !v.is_empty() => {
                    cmd.argv.push(opt.to_string());
                    cmd = if key == "passwd" {
                        cmd.secret_arg(v.clone())
                    } else {
                        cmd.argv.push(v.clone());
                        cmd
                    };
                }
                _ => {
                    if let Some(flag) = flag.filter(|_| val.truthy()) {
                        cmd.argv.push(flag.to_string());
                    }
                }
            }
        }
        let set = |k: &str| kwargs.get(k).is_some_and(Value::truthy);
        cmd.argv.push(
            if set("no_create_home") || set("system") {
                "-M"
            } else {
                "-m"
            }
            .into(),
        );
        cmd
    }

    /// `set_passwd`: `name:password` on chpasswd's stdin (no newline).
    pub fn set_passwd(&self, name: &str, passwd: &str, hashed: bool) -> Command {
        let mut argv = vec!["chpasswd"];
        if hashed {
            argv.push("-e");
        }
        let mut cmd = Command::new(argv);
        cmd.stdin = Some(Data::secret(format!("{name}:{passwd}")));
        cmd
    }

    /// `lock_passwd`: `passwd -l`, else `usermod --lock` (what the root has).
    pub fn lock_passwd(&self, fs: &dyn FsView, name: &str) -> Result<Command, DistroError> {
        let argv = if accounts::which(fs, "passwd").is_some() {
            vec!["passwd", "-l", name]
        } else if accounts::which(fs, "usermod").is_some() {
            vec!["usermod", "--lock", name]
        } else if !accounts::runs_programs(fs) {
            // A scratch root: nothing runs here, list what a system runs.
            vec!["passwd", "-l", name]
        } else {
            return Err(DistroError::CannotLock(name.to_string()));
        };
        Ok(Command::new(argv))
    }

    /// `ci_sudoers_fn`.
    pub fn sudoers_file(&self) -> &'static str {
        SUDOERS_FILE
    }

    /// `write_sudo_rules`' text for `user`: a string rule or a list of them.
    pub fn sudo_rules(&self, user: &str, rules: &Value) -> Result<String, DistroError> {
        let mut lines = vec![String::new(), format!("# User rules for {user}")];
        match rules {
            Value::Seq(items) => {
                for r in items {
                    lines.push(format!("{user} {}", r.python_str()));
                }
            }
            Value::Str(s) => lines.push(format!("{user} {s}")),
            other => return Err(DistroError::SudoRuleType(other.type_name())),
        }
        let content = format!("{}\n", lines.join("\n"));
        Ok(content)
    }
}

/// `util.system_is_snappy()`, of the root.
pub(super) fn system_is_snappy(fs: &dyn FsView) -> bool {
    let os_release = fs
        .read_string(Path::new("/etc/os-release"))
        .unwrap_or_default();
    let ubuntu_core = os_release.lines().any(|l| {
        l.trim()
            .strip_prefix("ID=")
            .map(|v| {
                v.trim_matches(['"', '\''])
                    .eq_ignore_ascii_case("ubuntu-core")
            })
            .unwrap_or(false)
    });
    ubuntu_core
        || fs
            .read_string(Path::new("/proc/cmdline"))
            .is_some_and(|c| c.contains("snap_core="))
        || fs
            .read_string(Path::new("/etc/system-image/channel.ini"))
            .is_some_and(|c| c.to_lowercase().contains("ubuntu-core"))
        || fs.is_dir(Path::new("/etc/system-image/config.d"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(yaml: &str) -> UsersGroups {
        normalize_users_groups(&crate::yaml::load(yaml.as_bytes(), "t").unwrap()).unwrap()
    }

    fn names(u: &UsersGroups) -> Vec<&str> {
        u.users.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn default_user_from_system_info() {
        let u = norm(
            "system_info:\n  default_user: {name: debian, groups: [adm, sudo], shell: /bin/bash}\nusers:\n- default\n- {name: bob, groups: 'b,a'}\n",
        );
        assert_eq!(names(&u), ["bob", "debian"]);
        let (name, cfg) = u.default_user().unwrap();
        assert_eq!(name, "debian");
        assert_eq!(cfg.get("groups"), Some(&Value::str("adm,sudo")));
        assert_eq!(cfg.get("shell"), Some(&Value::str("/bin/bash")));
        let bob = &u.users[0].1;
        assert_eq!(bob.get("default"), Some(&Value::Bool(false)));
        assert_eq!(bob.get("groups"), Some(&Value::str("b,a")));
    }

    #[test]
    fn no_users_key_means_no_default_user() {
        let u = norm("system_info:\n  default_user: {name: debian}\n");
        assert!(u.users.is_empty());
        assert_eq!(u.default_user(), None);
    }

    #[test]
    fn dashes_become_underscores_and_string_forms() {
        let u = norm(
            "users: 'carol,alice,carol'\ngroups: [admins, {ops: [alice, bob]}, {ops: carol}]\n",
        );
        assert_eq!(names(&u), ["alice", "carol"]);
        assert_eq!(
            u.groups,
            vec![
                ("admins".to_string(), vec![]),
                (
                    "ops".to_string(),
                    vec!["alice".into(), "bob".into(), "carol".into()]
                )
            ]
        );
        let u = norm("users:\n- name: dave\n  lock-passwd: false\n  ssh-authorized-keys: [k]\n");
        assert!(u.users[0].1.get("lock_passwd").is_some());
        assert!(u.users[0].1.get("ssh_authorized_keys").is_some());
    }

    #[test]
    fn old_user_key_becomes_the_default_user() {
        let u =
            norm("user: ubuntu\nsystem_info:\n  default_user: {name: debian, lock_passwd: true}\n");
        let (name, cfg) = u.default_user().unwrap();
        assert_eq!(name, "ubuntu");
        assert_eq!(cfg.get("lock_passwd"), Some(&Value::Bool(true)));
        assert_eq!(u.warnings.len(), 1);
    }
}
