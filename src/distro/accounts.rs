//! Accounts as the target root has them, or as users_groups is about to make
//! them: the passwd and group readers, `which` and the other questions the
//! distro's account tools depend on (can programs run, is SELinux on), and
//! the prediction of a user `useradd` has not made yet ([`account`]).
//!
//! A module is planned before any of its effects are applied, and in a plan
//! (or a scratch root, where programs are listed and not run) `useradd` never
//! runs. So a user made earlier in the same boot is not in the root's
//! `/etc/passwd` when users_groups or ssh write that user's keys. Such a user
//! is *predicted* from its config, as `useradd` would make it (home from
//! `homedir` or `/etc/default/useradd`'s `HOME`, primary group from
//! `primary_group`, `USERGROUPS_ENAB` or `GROUP`), and owned by name: the
//! live target looks the names up when it applies the effect, after useradd
//! ran (see [`crate::effect::Owner`]).

use std::path::{Path, PathBuf};

use crate::effect::{Named, Owner};
use crate::rootfs::FsView;
use crate::value::{Mapping, Value};

/// The programs' search path inside the root (cloud-init's `PATH`).
pub const SEARCH_PATH: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// A line of `/etc/passwd`.
#[derive(Clone, Debug, PartialEq)]
pub struct PwEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

/// A line of `/etc/group`.
#[derive(Clone, Debug, PartialEq)]
pub struct GrEntry {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// The entries of the root's `/etc/passwd`.
pub fn passwd(fs: &dyn FsView) -> Vec<PwEntry> {
    let text = fs.read_string(Path::new("/etc/passwd")).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 7).then(|| PwEntry {
                name: f[0].to_string(),
                uid: f[2].parse().unwrap_or(u32::MAX),
                gid: f[3].parse().unwrap_or(u32::MAX),
                home: f[5].to_string(),
            })
        })
        .collect()
}

/// The entries of the root's `/etc/group`.
pub fn group(fs: &dyn FsView) -> Vec<GrEntry> {
    let text = fs.read_string(Path::new("/etc/group")).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 4).then(|| GrEntry {
                name: f[0].to_string(),
                gid: f[2].parse().unwrap_or(u32::MAX),
                members: f[3]
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .collect(),
            })
        })
        .collect()
}

pub fn getpwnam(fs: &dyn FsView, name: &str) -> Option<PwEntry> {
    passwd(fs).into_iter().find(|p| p.name == name)
}

pub fn getgrnam(fs: &dyn FsView, name: &str) -> Option<GrEntry> {
    group(fs).into_iter().find(|g| g.name == name)
}

/// The name of a uid (the number itself when /etc/passwd has none).
pub fn user_name(fs: &dyn FsView, uid: u32) -> String {
    name_or_number(
        passwd(fs)
            .into_iter()
            .find(|p| p.uid == uid)
            .map(|p| p.name),
        uid,
    )
}

/// The name of a gid (the number itself when /etc/group has none).
pub fn group_name(fs: &dyn FsView, gid: u32) -> String {
    name_or_number(
        group(fs).into_iter().find(|g| g.gid == gid).map(|g| g.name),
        gid,
    )
}

/// A looked-up name, else `root` for id 0, else the number.
fn name_or_number(found: Option<String>, id: u32) -> String {
    found.unwrap_or_else(|| {
        if id == 0 {
            "root".into()
        } else {
            id.to_string()
        }
    })
}

/// `subp.which(program)` inside the root: a name with a `/` is taken from
/// `/` first (the root is the programs' working directory); then every
/// directory of cloud-init's `PATH`.
pub fn which(fs: &dyn FsView, program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let direct = Path::new("/").join(program.trim_start_matches('/'));
        if fs.is_executable_file(&direct) {
            return Some(direct);
        }
    }
    SEARCH_PATH
        .iter()
        .map(|d| PathBuf::from(format!("{d}/{program}")))
        .find(|p| fs.is_executable_file(p))
}

/// Whether the root is a system whose programs run (it has `/bin/sh`); a
/// scratch directory is not, and its commands are listed, not run.
pub fn runs_programs(fs: &dyn FsView) -> bool {
    fs.exists(Path::new("/bin/sh"))
}

/// Whether SELinux is on for this root, as `selinux.is_selinux_enabled()`
/// tells cloud-init: the root has selinuxfs mounted (its
/// `/sys/fs/selinux/enforce` exists) and a `restorecon` to call (cloud-init
/// relabels through libselinux's Python binding; without it, not at all).
pub fn selinux_enabled(fs: &dyn FsView) -> bool {
    fs.exists(Path::new("/sys/fs/selinux/enforce")) && which(fs, "restorecon").is_some()
}

/// `KEY=value` (`/etc/default/useradd`) or `KEY value` (`/etc/login.defs`).
fn setting(fs: &dyn FsView, file: &str, key: &str) -> Option<String> {
    let text = fs.read_string(Path::new(file))?;
    text.lines().rev().find_map(|l| {
        let l = l.trim();
        if l.starts_with('#') {
            return None;
        }
        let (k, v) = l
            .split_once('=')
            .or_else(|| l.split_once(char::is_whitespace))?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
    })
}

/// A user whose files a module writes.
#[derive(Clone, Debug, PartialEq)]
pub struct Account {
    pub name: String,
    /// `pw_dir`.
    pub home: String,
    /// The user and primary group: ids when the user exists, names
    /// otherwise (looked up when the effects are applied).
    pub owner: Owner,
    /// The groups the user is in (`util.get_user_groups`), for permission checks.
    pub groups: Vec<String>,
    /// In the root's /etc/passwd now (otherwise predicted from config).
    pub exists: bool,
}

/// `user` as the root has it, else as useradd will make it from `cfg` (its
/// users_groups config), else `None` (`pwd.getpwnam` would fail).
pub fn account(fs: &dyn FsView, user: &str, cfg: Option<&Mapping>) -> Option<Account> {
    if let Some(pw) = getpwnam(fs, user) {
        let groups = group(fs);
        let primary = groups
            .iter()
            .find(|g| g.gid == pw.gid)
            .map(|g| g.name.clone())
            .unwrap_or_else(|| pw.gid.to_string());
        let mut member_of: Vec<String> = groups
            .iter()
            .filter(|g| g.members.iter().any(|m| m == user))
            .map(|g| g.name.clone())
            .collect();
        member_of.push(primary.clone());
        return Some(Account {
            name: user.to_string(),
            home: pw.home,
            owner: Owner {
                user: Some(Named::known(user, pw.uid)),
                group: Some(Named::known(primary, pw.gid)),
            },
            groups: member_of,
            exists: true,
        });
    }
    if user == "root" {
        return Some(Account {
            name: "root".into(),
            home: "/root".into(),
            owner: Owner::root(),
            groups: vec!["root".into()],
            exists: true,
        });
    }
    let cfg = cfg?;
    let text = |k: &str| cfg.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let home = match text("homedir") {
        Some(h) => h.to_string(),
        None => {
            let base =
                setting(fs, "/etc/default/useradd", "HOME").unwrap_or_else(|| "/home".into());
            format!("{}/{user}", base.trim_end_matches('/'))
        }
    };
    let user_groups = setting(fs, "/etc/login.defs", "USERGROUPS_ENAB")
        .is_some_and(|v| v.eq_ignore_ascii_case("yes"));
    let no_user_group = cfg.get("no_user_group").is_some_and(Value::truthy);
    let primary = match text("primary_group") {
        Some(g) => g.to_string(),
        None if user_groups && !no_user_group => user.to_string(),
        None => {
            let g = setting(fs, "/etc/default/useradd", "GROUP").unwrap_or_else(|| "100".into());
            match g.parse::<u32>() {
                Ok(gid) => group_name(fs, gid),
                Err(_) => g,
            }
        }
    };
    let group_owner = match getgrnam(fs, &primary) {
        Some(g) => Named::known(primary.clone(), g.gid),
        None => Named::lookup(primary.clone()),
    };
    let mut groups: Vec<String> = match cfg.get("groups") {
        Some(Value::Str(s)) => s.split(',').map(|g| g.trim().to_string()).collect(),
        Some(Value::Seq(items)) => items
            .iter()
            .map(|g| g.python_str().trim().to_string())
            .collect(),
        _ => Vec::new(),
    };
    groups.push(primary);
    Some(Account {
        name: user.to_string(),
        home,
        owner: Owner {
            user: Some(Named::lookup(user)),
            group: Some(group_owner),
        },
        groups,
        exists: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::testing::root_with;

    #[test]
    fn existing_users_come_from_passwd_new_ones_from_config() {
        let (_t, fs) = root_with(&[
            (
                "/etc/passwd",
                "root:x:0:0:root:/root:/bin/bash\nann:x:1000:1000::/home/ann:/bin/sh\n",
            ),
            ("/etc/group", "root:x:0:\nann:x:1000:\nadm:x:4:ann\n"),
            ("/etc/login.defs", "USERGROUPS_ENAB yes\n"),
            ("/etc/default/useradd", "SHELL=/bin/sh\n# HOME=/srv\n"),
        ]);
        let ann = account(&fs, "ann", None).unwrap();
        assert!(ann.exists);
        assert_eq!(ann.home, "/home/ann");
        assert_eq!(ann.owner.ids(), (Some(1000), Some(1000)));
        assert_eq!(ann.groups, ["adm", "ann"]);
        assert_eq!(account(&fs, "bob", None), None);
        let cfg: Mapping = crate::yaml::load(b"primary_group: staff\nhomedir: /srv/bob\n", "t")
            .unwrap()
            .as_map()
            .cloned()
            .unwrap();
        let bob = account(&fs, "bob", Some(&cfg)).unwrap();
        assert!(!bob.exists);
        assert_eq!(bob.home, "/srv/bob");
        assert_eq!(bob.owner.to_string(), "bob:staff");
        assert_eq!(bob.owner.ids(), (None, None));
        let carl = account(&fs, "carl", Some(&Mapping::new())).unwrap();
        assert_eq!(
            (carl.home.as_str(), carl.owner.to_string()),
            ("/home/carl", "carl:carl".into())
        );
    }
}
