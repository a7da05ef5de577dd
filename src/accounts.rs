//! Accounts as the target root has them, or as users_groups is about to make
//! them, and a module-local view of the root that follows the effects a
//! module has planned so far ([`Staged`]).
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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::effect::{Command, Data, Effect, Named, OnFailure, Owner};
use crate::rootfs::{FsView, Kind};
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

/// Checks a user or group field that cloudboot writes into a line-oriented
/// file (`/etc/sudoers.d`, chpasswd's input, `authorized_keys`) or gives a
/// program as one argument (useradd, groupadd): a newline or carriage return
/// would add a line there (another sudo rule, another user's password,
/// another key), and a NUL would cut it short. cloud-init 22.4 writes such
/// values as they are; cloudboot refuses them. `field` names the value and
/// `place` where it goes; the error quotes neither the value nor anything
/// around it (it may be a password).
pub fn one_line(field: &str, value: &str, place: &str) -> Result<(), String> {
    let breaker = value.chars().find_map(|c| match c {
        '\n' => Some("a newline"),
        '\r' => Some("a carriage return"),
        '\0' => Some("a NUL character"),
        _ => None,
    });
    match breaker {
        None => Ok(()),
        Some(what) => Err(format!(
            "{field} has {what}: it must be one line in {place}"
        )),
    }
}

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

/// `subp.which(program)` inside the root.
pub fn which(fs: &dyn FsView, program: &str) -> Option<PathBuf> {
    SEARCH_PATH
        .iter()
        .map(|d| Path::new(d).join(program))
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

/// What [`Staged`] knows of a path it planned.
#[derive(Clone, Debug)]
enum Node {
    File {
        data: Vec<u8>,
        mode: u32,
        owner: Option<Owner>,
    },
    Dir {
        mode: u32,
        owner: Option<Owner>,
    },
    Removed,
}

/// The kind, mode and owner names of a path.
#[derive(Clone, Debug, PartialEq)]
pub struct Attrs {
    pub kind: Kind,
    pub mode: u32,
    pub user: String,
    pub group: String,
    /// The owner as ids where known (to keep it on a rewrite).
    pub owner: Owner,
}

/// The root as a module's effects so far would leave it: reads see the
/// effects planned earlier in the same module first. Modules push their
/// effects through it, in cloud-init's order.
pub struct Staged<'a> {
    pub fs: &'a dyn FsView,
    nodes: BTreeMap<PathBuf, Node>,
    pub effects: Vec<Effect>,
    /// Relabel what is written (SELinux is on in the root).
    pub selinux: bool,
}

impl<'a> Staged<'a> {
    pub fn new(fs: &'a dyn FsView) -> Staged<'a> {
        Staged {
            fs,
            nodes: BTreeMap::new(),
            effects: Vec::new(),
            selinux: selinux_enabled(fs),
        }
    }

    fn node(&self, path: &Path) -> Option<&Node> {
        if let Some(n) = self.nodes.get(path) {
            return Some(n);
        }
        path.ancestors()
            .skip(1)
            .find_map(|a| match self.nodes.get(a) {
                Some(n @ Node::Removed) => Some(n),
                _ => None,
            })
    }

    pub fn read(&self, path: &Path) -> Option<Vec<u8>> {
        match self.node(path) {
            Some(Node::File { data, .. }) => Some(data.clone()),
            Some(_) => None,
            None => self.fs.read(path).ok(),
        }
    }

    pub fn read_string(&self, path: &Path) -> Option<String> {
        self.read(path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// `os.lstat`: kind, mode and owner (symlinks not followed).
    pub fn lstat(&self, path: &Path) -> Option<Attrs> {
        self.attrs(path, false)
    }

    /// `os.stat`.
    pub fn stat(&self, path: &Path) -> Option<Attrs> {
        self.attrs(path, true)
    }

    fn attrs(&self, path: &Path, follow: bool) -> Option<Attrs> {
        let staged = |kind, mode: u32, owner: &Option<Owner>| {
            let owner = owner.clone().unwrap_or_else(Owner::root);
            let name = |n: &Option<Named>| n.as_ref().map(|n| n.name.clone()).unwrap_or_default();
            Some(Attrs {
                kind,
                mode,
                user: name(&owner.user),
                group: name(&owner.group),
                owner,
            })
        };
        match self.node(path) {
            Some(Node::File { mode, owner, .. }) => staged(Kind::File, *mode, owner),
            Some(Node::Dir { mode, owner }) => staged(Kind::Dir, *mode, owner),
            Some(Node::Removed) => None,
            None => {
                let st = if follow {
                    self.fs.stat(path)
                } else {
                    self.fs.lstat(path)
                }?;
                let user = user_name(self.fs, st.uid);
                let group = group_name(self.fs, st.gid);
                Some(Attrs {
                    kind: st.kind,
                    mode: st.mode & 0o7777,
                    owner: Owner {
                        user: Some(Named::known(user.clone(), st.uid)),
                        group: Some(Named::known(group.clone(), st.gid)),
                    },
                    user,
                    group,
                })
            }
        }
    }

    pub fn exists(&self, path: &Path) -> bool {
        self.stat(path).is_some()
    }

    pub fn is_file(&self, path: &Path) -> bool {
        self.stat(path).is_some_and(|a| a.kind == Kind::File)
    }

    pub fn is_dir(&self, path: &Path) -> bool {
        self.stat(path).is_some_and(|a| a.kind == Kind::Dir)
    }

    pub fn is_link(&self, path: &Path) -> bool {
        self.lstat(path).is_some_and(|a| a.kind == Kind::Symlink)
    }

    /// The entries of a directory (real ones and planned ones).
    pub fn list_dir(&self, dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = match self.node(dir) {
            Some(Node::Removed) | Some(Node::File { .. }) => Vec::new(),
            _ => self.fs.list_dir(dir).unwrap_or_default(),
        };
        for (p, n) in &self.nodes {
            if p.parent() == Some(dir) {
                let name = p
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                match n {
                    Node::Removed => names.retain(|x| *x != name),
                    _ if !names.contains(&name) => names.push(name),
                    _ => {}
                }
            }
        }
        names.sort();
        names
    }

    /// `restorecon [-R] path`, when SELinux is on (a failure is only logged,
    /// as cloud-init's `SeLinuxGuard` only logs it).
    pub fn restorecon(&mut self, path: &Path, recursive: bool) {
        if !self.selinux {
            return;
        }
        let mut argv = vec!["restorecon".to_string()];
        if recursive {
            argv.push("-R".into());
        }
        argv.push(path.to_string_lossy().into_owned());
        self.effects.push(Effect::Run(
            Command::new(argv).on_failure(OnFailure::Ignore),
        ));
    }

    /// Writes a whole file (`util.write_file`): missing parents are made
    /// 0755, the file gets `mode` and `owner` (none: the writer's).
    pub fn write(&mut self, path: &Path, data: Data, mode: u32, owner: Option<Owner>) {
        let content = data.bytes.clone();
        self.put_file(path, content, data, mode, owner, false);
    }

    /// Stages a file write (or append) of `data`, after which the file
    /// holds `content`: parents made, the view updated, the effect and the
    /// relabel recorded.
    fn put_file(
        &mut self,
        path: &Path,
        content: Vec<u8>,
        data: Data,
        mode: u32,
        owner: Option<Owner>,
        append: bool,
    ) {
        if let Some(parent) = path.parent() {
            self.ensure_parents(parent);
        }
        self.nodes.insert(
            path.to_path_buf(),
            Node::File {
                data: content,
                mode,
                owner: owner.clone(),
            },
        );
        self.effects.push(Effect::WriteFile {
            path: path.to_path_buf(),
            data,
            mode,
            owner,
            append: append.into(),
        });
        self.restorecon(path, false);
    }

    /// `util.write_file(path, content, preserve_mode=True)`: an existing
    /// file keeps its mode and (written in place) its owner; a new one is
    /// 0644, the writer's. The empty file written just before for the same
    /// path (`ensure_file`, `check_create_path`) is folded into this write.
    pub fn rewrite(&mut self, path: &Path, data: Data) {
        let old = self.stat(path).filter(|a| a.kind == Kind::File);
        let (mode, owner) = match &old {
            Some(a) => (a.mode, Some(a.owner.clone())),
            None => (0o644, None),
        };
        let staged_owner = match self.node(path) {
            Some(Node::File { owner, .. }) => Some(owner.clone()),
            _ => None,
        };
        let owner = staged_owner.unwrap_or(owner);
        // Fold into the write just before it (and its relabel).
        let mut tail = self.effects.len();
        if self.selinux && tail > 0 {
            if let Some(Effect::Run(c)) = self.effects.last() {
                if c.argv.first().map(String::as_str) == Some("restorecon")
                    && c.argv.last().map(Path::new) == Some(path)
                {
                    tail -= 1;
                }
            }
        }
        if tail > 0 {
            if let Some(Effect::WriteFile {
                path: p,
                append: crate::effect::Append::No,
                ..
            }) = self.effects.get(tail - 1)
            {
                if p == path {
                    self.effects.truncate(tail - 1);
                }
            }
        }
        self.write(path, data, mode, owner);
    }

    /// `util.append_file`: appends; an existing file keeps its mode and
    /// owner, a new one is 0644.
    pub fn append(&mut self, path: &Path, data: Data) {
        let (mode, owner) = match self.stat(path).filter(|a| a.kind == Kind::File) {
            Some(a) => (a.mode, Some(a.owner)),
            None => (0o644, None),
        };
        let mut all = self.read(path).unwrap_or_default();
        all.extend_from_slice(&data.bytes);
        self.put_file(path, all, data, mode, owner, true);
    }

    /// Records directories the live target would create for a write.
    fn ensure_parents(&mut self, dir: &Path) {
        for a in dir.ancestors() {
            if a == Path::new("/") || self.is_dir(a) {
                break;
            }
            self.nodes.insert(
                a.to_path_buf(),
                Node::Dir {
                    mode: 0o755,
                    owner: None,
                },
            );
        }
    }

    /// `util.ensure_dir(path, mode)`: makes it if missing; sets the mode.
    pub fn ensure_dir(&mut self, path: &Path, mode: u32) {
        let owner = match self.node(path) {
            Some(Node::Dir { owner, .. }) => owner.clone(),
            _ => None,
        };
        if let Some(parent) = path.parent() {
            self.ensure_parents(parent);
        }
        self.nodes
            .insert(path.to_path_buf(), Node::Dir { mode, owner });
        self.effects.push(Effect::Mkdir {
            path: path.to_path_buf(),
            mode,
        });
        self.restorecon(path, false);
    }

    /// `os.makedirs(path, mode)` then `chownbyid(path, owner)`.
    pub fn mkdir_owned(&mut self, path: &Path, mode: u32, owner: Owner) {
        if let Some(parent) = path.parent() {
            self.ensure_parents(parent);
        }
        self.nodes.insert(
            path.to_path_buf(),
            Node::Dir {
                mode,
                owner: Some(owner.clone()),
            },
        );
        self.effects.push(Effect::Mkdir {
            path: path.to_path_buf(),
            mode,
        });
        self.effects.push(Effect::Chown {
            path: path.to_path_buf(),
            owner: Some(owner),
            mode: None,
        });
        self.restorecon(path, false);
    }

    /// Owner and/or mode of a path made earlier (by a program).
    pub fn chown(&mut self, path: &Path, owner: Option<Owner>, mode: Option<u32>) {
        if let Some(Node::File {
            mode: m, owner: o, ..
        }) = self.nodes.get_mut(path)
        {
            if let Some(new) = mode {
                *m = new;
            }
            if owner.is_some() {
                o.clone_from(&owner);
            }
        }
        self.effects.push(Effect::Chown {
            path: path.to_path_buf(),
            owner,
            mode,
        });
    }

    /// `util.del_file`.
    pub fn remove(&mut self, path: &Path) {
        self.nodes.insert(path.to_path_buf(), Node::Removed);
        self.effects.push(Effect::Remove {
            path: path.to_path_buf(),
        });
    }

    /// Runs a program; the files it `creates` exist afterwards (empty, as
    /// far as this view knows; private keys 0600).
    pub fn run(&mut self, cmd: Command) {
        for p in &cmd.creates {
            self.nodes.insert(
                p.clone(),
                Node::File {
                    data: Vec::new(),
                    mode: 0o600,
                    owner: None,
                },
            );
        }
        self.effects.push(Effect::Run(cmd));
    }

    pub fn push(&mut self, effect: Effect) {
        self.effects.push(effect);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::testing::root_with;

    #[test]
    fn line_breaks_and_nul_are_refused_without_quoting_the_value() {
        assert_eq!(one_line("sudo", "ALL=(ALL) ALL", "x"), Ok(()));
        for (value, what) in [
            ("ALL\nmallory ALL=(ALL) ALL", "a newline"),
            ("pw\rroot", "a carriage return"),
            ("pw\0rest", "a NUL character"),
        ] {
            let e = one_line("password", value, "chpasswd's input").unwrap_err();
            assert_eq!(
                e,
                format!("password has {what}: it must be one line in chpasswd's input")
            );
        }
    }

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

    #[test]
    fn staged_reads_follow_planned_writes_and_fold_empty_creates() {
        let (_t, fs) = root_with(&[("/etc/sudoers", "root ALL=(ALL) ALL\n")]);
        let mut s = Staged::new(&fs);
        s.append(
            Path::new("/etc/sudoers"),
            Data::public("#includedir /etc/sudoers.d\n"),
        );
        assert_eq!(
            s.read_string(Path::new("/etc/sudoers")).unwrap(),
            "root ALL=(ALL) ALL\n#includedir /etc/sudoers.d\n"
        );
        let f = Path::new("/home/x/.ssh/authorized_keys");
        s.write(f, Data::public(""), 0o600, Some(Owner::by_name("x", "x")));
        s.rewrite(f, Data::public("ssh-ed25519 AAAA k\n"));
        let writes: Vec<&Effect> = s
            .effects
            .iter()
            .filter(|e| matches!(e, Effect::WriteFile { path, .. } if path == f))
            .collect();
        assert_eq!(writes.len(), 1);
        let Effect::WriteFile {
            mode, owner, data, ..
        } = writes[0]
        else {
            unreachable!()
        };
        assert_eq!(
            (*mode, owner.as_ref().unwrap().to_string()),
            (0o600, "x:x".into())
        );
        assert_eq!(data.bytes, b"ssh-ed25519 AAAA k\n");
        assert!(s.is_dir(Path::new("/home/x/.ssh")));
    }
}
