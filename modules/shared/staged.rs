//! A module-local view of the root that follows the effects a module has
//! planned so far ([`Staged`]): users_groups, ssh and
//! ssh_authkey_fingerprints plan effects whose later steps read what the
//! earlier ones would have written (a sudoers line appended, a key file
//! made empty and then filled).

use std::path::Path;

use crate::module::prelude::*;

/// The kind, mode and owner names of a path.
#[derive(Clone, Debug, PartialEq)]
pub struct Attrs {
    pub kind: FileKind,
    pub mode: u32,
    pub user: String,
    pub group: String,
    /// The owner as ids where known (to keep it on a rewrite).
    pub owner: Owner,
}

/// The root as a module's effects so far would leave it: reads see the
/// effects planned earlier in the same module first. Modules push their
/// effects through it, in cloud-init's order. The view is the one
/// [`Overlay`] (the dry run's), laid over the view the module was given.
pub struct Staged<'a> {
    /// The root as the module was given it, before any of its own effects.
    pub fs: &'a dyn FsView,
    view: Overlay<&'a dyn FsView>,
    pub effects: Vec<Effect>,
    /// Relabel what is written (SELinux is on in the root).
    pub selinux: bool,
}

impl<'a> Staged<'a> {
    pub fn new(fs: &'a dyn FsView) -> Staged<'a> {
        Staged {
            fs,
            view: Overlay::new(fs),
            effects: Vec::new(),
            selinux: accounts::selinux_enabled(fs),
        }
    }

    pub fn read(&self, path: &Path) -> Option<Vec<u8>> {
        self.view.read(path).ok()
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
        match self.view.planned(path, follow) {
            Some(OverlayNode::File { mode, owner, .. }) => staged(FileKind::File, *mode, owner),
            Some(OverlayNode::Dir { mode, owner, .. }) => staged(FileKind::Dir, *mode, owner),
            Some(OverlayNode::Link(_)) => staged(FileKind::Symlink, 0o777, &None),
            Some(OverlayNode::Removed) => None,
            None => {
                let st = if follow {
                    self.fs.stat(path)
                } else {
                    self.fs.lstat(path)
                }?;
                let user = accounts::user_name(self.fs, st.uid);
                let group = accounts::group_name(self.fs, st.gid);
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
        self.stat(path).is_some_and(|a| a.kind == FileKind::File)
    }

    pub fn is_dir(&self, path: &Path) -> bool {
        self.stat(path).is_some_and(|a| a.kind == FileKind::Dir)
    }

    pub fn is_link(&self, path: &Path) -> bool {
        self.lstat(path)
            .is_some_and(|a| a.kind == FileKind::Symlink)
    }

    /// The entries of a directory (real ones and planned ones).
    pub fn list_dir(&self, dir: &Path) -> Vec<String> {
        self.view.list_dir(dir).unwrap_or_default()
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
        let (uid, gid) = owner.as_ref().map(Owner::ids).unwrap_or_default();
        self.lay(
            path,
            OverlayNode::File {
                data: content,
                mode,
                uid: uid.unwrap_or(0),
                gid: gid.unwrap_or(0),
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

    /// Lays a node on the view (missing parents made 0755, as the live
    /// target makes them). A path the view cannot name (a symlink loop)
    /// is left as the root has it: applying the effect fails there too.
    fn lay(&mut self, path: &Path, node: OverlayNode) {
        let _ = self.view.put(path, node);
    }

    /// A directory made (or its mode set) at `path`, with `owner`.
    fn lay_dir(&mut self, path: &Path, mode: u32, owner: Option<Owner>) {
        let keep_real = self.view.keeps_real(path);
        self.lay(
            path,
            OverlayNode::Dir {
                mode,
                keep_real,
                owner,
            },
        );
    }

    /// `util.write_file(path, content, preserve_mode=True)`: an existing
    /// file keeps its mode and (written in place) its owner; a new one is
    /// 0644, the writer's. The empty file written just before for the same
    /// path (`ensure_file`, `check_create_path`) is folded into this write.
    pub fn rewrite(&mut self, path: &Path, data: Data) {
        let old = self.stat(path).filter(|a| a.kind == FileKind::File);
        let (mode, owner) = match &old {
            Some(a) => (a.mode, Some(a.owner.clone())),
            None => (0o644, None),
        };
        let staged_owner = match self.view.planned(path, true) {
            Some(OverlayNode::File { owner, .. }) => Some(owner.clone()),
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
                append: Append::No,
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
        let (mode, owner) = match self.stat(path).filter(|a| a.kind == FileKind::File) {
            Some(a) => (a.mode, Some(a.owner)),
            None => (0o644, None),
        };
        let mut all = self.read(path).unwrap_or_default();
        all.extend_from_slice(&data.bytes);
        self.put_file(path, all, data, mode, owner, true);
    }

    /// `util.ensure_dir(path, mode)`: makes it if missing; sets the mode.
    pub fn ensure_dir(&mut self, path: &Path, mode: u32) {
        let owner = match self.view.planned(path, true) {
            Some(OverlayNode::Dir { owner, .. }) => owner.clone(),
            _ => None,
        };
        self.lay_dir(path, mode, owner);
        self.effects.push(Effect::Mkdir {
            path: path.to_path_buf(),
            mode,
        });
        self.restorecon(path, false);
    }

    /// `os.makedirs(path, mode)` then `chownbyid(path, owner)`.
    pub fn mkdir_owned(&mut self, path: &Path, mode: u32, owner: Owner) {
        self.lay_dir(path, mode, Some(owner.clone()));
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
        if let Some(OverlayNode::File {
            mode: m, owner: o, ..
        }) = self.view.planned_mut(path)
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
        if self.view.lstat(path).is_some() {
            self.lay(path, OverlayNode::Removed);
        }
        self.effects.push(Effect::Remove {
            path: path.to_path_buf(),
        });
    }

    /// Runs a program; the files it `creates` exist afterwards (empty, as
    /// far as this view knows; private keys 0600).
    pub fn run(&mut self, cmd: Command) {
        for p in &cmd.creates {
            self.lay(
                p,
                OverlayNode::File {
                    data: Vec::new(),
                    mode: 0o600,
                    uid: 0,
                    gid: 0,
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
