//! The dry run: effects land on an in-memory overlay of the root.
//!
//! Reads see the overlay first, then the real root, so the plan of a later
//! module sees what an earlier one would have written, and the engine's own
//! state (the `instance` link, semaphores) reads as it would after a real run.
//! Nothing here writes to disk. The same [`Overlay`] is the view a module
//! keeps of its own planned effects and the module test kit's memory root.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

use crate::diff;
use crate::effect::probe::Answer;
use crate::effect::{already_appended, hides_content, Append, Data, Effect, HostAction, Owner};
use crate::rootfs::{canonical_path, FsView, Kind, RealFs, Root, Stat};
use crate::target::{Outcome, Record, Target};

/// What an [`Overlay`] planned at a path, over what its base shows.
#[derive(Clone, Debug)]
pub enum Node {
    File {
        data: Vec<u8>,
        mode: u32,
        uid: u32,
        gid: u32,
        /// The owner as the effect named it (names not yet made included),
        /// for views that report owners by name ([`Overlay::planned`]).
        owner: Option<Owner>,
    },
    Dir {
        mode: u32,
        /// A real directory whose mode or owner changed: its real entries
        /// are still there.
        keep_real: bool,
        owner: Option<Owner>,
    },
    Link(PathBuf),
    Removed,
}

/// A view of a root (`base`) with planned changes laid over it: the one
/// overlay. The dry run lays every effect of a plan over the real root
/// ([`PlanTarget`]); a module lays the effects it has planned so far over
/// the view it was given, to read what its own earlier steps would have
/// written (`modules/shared/staged.rs`); the module test kit lays the
/// files a test puts in over an empty root (`Overlay::empty`). Reads see
/// the planned nodes first, then the base; symlinks, planned or real, are
/// followed as the kernel would inside the root. Nothing here writes to
/// disk.
pub struct Overlay<B = RealFs> {
    base: B,
    nodes: BTreeMap<PathBuf, Node>,
}

impl Overlay<RealFs> {
    /// The real root at `root` with nothing planned yet.
    pub fn over_root(root: Root) -> Overlay<RealFs> {
        Overlay::new(RealFs { root })
    }
}

impl Overlay<EmptyRoot> {
    /// An in-memory root: only `/`, until files are put in.
    pub fn empty() -> Overlay<EmptyRoot> {
        Overlay::new(EmptyRoot)
    }
}

/// A root holding nothing but `/` (the base of an in-memory [`Overlay`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct EmptyRoot;

impl FsView for EmptyRoot {
    fn read(&self, _path: &Path) -> io::Result<Vec<u8>> {
        Err(io::ErrorKind::NotFound.into())
    }

    fn stat(&self, path: &Path) -> Option<Stat> {
        (path == Path::new("/")).then_some(Stat {
            kind: Kind::Dir,
            mode: 0o755,
            uid: 0,
            gid: 0,
            len: 0,
            mtime: 0,
        })
    }

    fn lstat(&self, path: &Path) -> Option<Stat> {
        self.stat(path)
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        if path == Path::new("/") {
            Ok(Vec::new())
        } else {
            Err(io::ErrorKind::NotFound.into())
        }
    }

    fn read_link(&self, _path: &Path) -> io::Result<PathBuf> {
        Err(io::Error::new(io::ErrorKind::InvalidInput, "not a symlink"))
    }
}

impl<B: FsView> Overlay<B> {
    pub fn new(base: B) -> Overlay<B> {
        Overlay {
            base,
            nodes: BTreeMap::new(),
        }
    }

    /// The view the planned changes are laid over.
    pub fn base(&self) -> &B {
        &self.base
    }

    /// The guest path with every symlink (planned or real) followed.
    fn canonical(&self, path: &Path, follow_last: bool) -> io::Result<PathBuf> {
        canonical_path(path, follow_last, |prefix| self.link_at(prefix))
    }

    /// The symlink target at a canonical path, if it is a symlink.
    fn link_at(&self, canon: &Path) -> Option<PathBuf> {
        match self.node(canon) {
            Some(Node::Link(t)) => Some(t.clone()),
            Some(_) => None,
            None => self.base.read_link(canon).ok(),
        }
    }

    /// The overlay node for a canonical path, or for an ancestor that removes it.
    fn node(&self, canon: &Path) -> Option<&Node> {
        if let Some(n) = self.nodes.get(canon) {
            return Some(n);
        }
        canon
            .ancestors()
            .skip(1)
            .find_map(|a| match self.nodes.get(a) {
                Some(n @ Node::Removed) => Some(n),
                _ => None,
            })
    }

    /// What was planned at `path` (or `Removed` when an ancestor was
    /// removed); `None` when the base shows it as it is.
    pub fn planned(&self, path: &Path, follow_last: bool) -> Option<&Node> {
        self.node(&self.canonical(path, follow_last).ok()?)
    }

    /// The node planned at exactly `path` (not an ancestor's removal), to
    /// change in place.
    pub fn planned_mut(&mut self, path: &Path) -> Option<&mut Node> {
        let canon = self.canonical(path, true).ok()?;
        self.nodes.get_mut(&canon)
    }

    fn stat_canon(&self, canon: &Path) -> Option<Stat> {
        let synth = |kind, mode, uid, gid, len| Stat {
            kind,
            mode,
            uid,
            gid,
            len,
            mtime: chrono::Utc::now().timestamp(),
        };
        match self.node(canon) {
            Some(Node::File {
                data,
                mode,
                uid,
                gid,
                ..
            }) => Some(synth(Kind::File, *mode, *uid, *gid, data.len() as u64)),
            Some(Node::Dir { mode, .. }) => Some(synth(Kind::Dir, *mode, 0, 0, 0)),
            Some(Node::Link(_)) => Some(synth(Kind::Symlink, 0o777, 0, 0, 0)),
            Some(Node::Removed) => None,
            None => self.base.lstat(canon),
        }
    }

    fn ensure_parents(&mut self, canon: &Path) {
        for a in canon.ancestors().skip(1) {
            if a == Path::new("/") {
                break;
            }
            if self.stat_canon(a).is_none() {
                self.nodes.insert(
                    a.to_path_buf(),
                    Node::Dir {
                        mode: 0o755,
                        keep_real: false,
                        owner: None,
                    },
                );
            }
        }
    }

    /// Lays `node` at `path`, making missing parents (0755) as a write
    /// would.
    pub fn put(&mut self, path: &Path, node: Node) -> io::Result<()> {
        let canon = self.canonical(path, !matches!(node, Node::Link(_) | Node::Removed))?;
        self.ensure_parents(&canon);
        if matches!(node, Node::Removed) {
            // Children planned under a removed directory go too.
            let doomed: Vec<PathBuf> = self
                .nodes
                .keys()
                .filter(|k| k.starts_with(&canon) && **k != canon)
                .cloned()
                .collect();
            for k in doomed {
                self.nodes.remove(&k);
            }
        }
        self.nodes.insert(canon, node);
        Ok(())
    }

    /// Whether the existing directory at `path` is the real one (or keeps
    /// it), so a changed mode keeps its real entries.
    pub fn keeps_real(&self, path: &Path) -> bool {
        let Ok(canon) = self.canonical(path, true) else {
            return false;
        };
        match self.node(&canon) {
            None => true,
            Some(Node::Dir { keep_real, .. }) => *keep_real,
            Some(_) => false,
        }
    }

    /// A planned chown/chmod; false when the path is not there.
    fn chown(&mut self, path: &Path, owner: Option<&Owner>, mode: Option<u32>) -> io::Result<bool> {
        let Some(st) = self.stat(path) else {
            return Ok(false);
        };
        let (uid, gid) = owner
            .map(|o| o.resolve(self).unwrap_or_else(|_| o.ids()))
            .unwrap_or((None, None));
        let node = match st.kind {
            Kind::Dir => Node::Dir {
                mode: mode.unwrap_or(st.mode & 0o7777),
                keep_real: self.keeps_real(path),
                owner: owner.cloned(),
            },
            Kind::File => Node::File {
                data: self.read(path).unwrap_or_default(),
                mode: mode.unwrap_or(st.mode & 0o7777),
                uid: uid.unwrap_or(st.uid),
                gid: gid.unwrap_or(st.gid),
                owner: owner.cloned(),
            },
            _ => return Ok(true),
        };
        self.put(path, node)?;
        Ok(true)
    }
}

impl<B: FsView> FsView for Overlay<B> {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let canon = self.canonical(path, true)?;
        match self.node(&canon) {
            Some(Node::File { data, .. }) => Ok(data.clone()),
            Some(Node::Removed) => Err(io::ErrorKind::NotFound.into()),
            Some(Node::Dir { .. }) => Err(io::Error::other("is a directory")),
            Some(Node::Link(_)) => Err(io::ErrorKind::NotFound.into()),
            None => self.base.read(&canon),
        }
    }

    fn stat(&self, path: &Path) -> Option<Stat> {
        self.stat_canon(&self.canonical(path, true).ok()?)
    }

    fn lstat(&self, path: &Path) -> Option<Stat> {
        self.stat_canon(&self.canonical(path, false).ok()?)
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let canon = self.canonical(path, true)?;
        if !matches!(
            self.stat_canon(&canon),
            Some(Stat {
                kind: Kind::Dir,
                ..
            })
        ) {
            return Err(io::ErrorKind::NotFound.into());
        }
        let mut names: BTreeSet<String> = match self.node(&canon) {
            Some(Node::Dir {
                keep_real: true, ..
            }) => self
                .base
                .list_dir(&canon)
                .unwrap_or_default()
                .into_iter()
                .collect(),
            Some(_) => BTreeSet::new(),
            None => self
                .base
                .list_dir(&canon)
                .unwrap_or_default()
                .into_iter()
                .collect(),
        };
        for (k, node) in self.nodes.range(canon.clone()..) {
            if !k.starts_with(&canon) {
                break;
            }
            if k.parent() == Some(canon.as_path()) {
                let name = k
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                if matches!(node, Node::Removed) {
                    names.remove(&name);
                } else {
                    names.insert(name);
                }
            }
        }
        Ok(names.into_iter().collect())
    }

    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        let canon = self.canonical(path, false)?;
        self.link_at(&canon)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a symlink"))
    }

    /// The overlay lies over the same directory.
    fn host_dir(&self) -> Option<&Path> {
        self.base.host_dir()
    }
}

/// The dry-run target: applies to the overlay and records what would happen.
pub struct PlanTarget {
    root: Root,
    overlay: Overlay<RealFs>,
}

/// Decompressed content larger than this is counted, not kept, by a plan.
const PLAN_KEEPS: u64 = 4 << 20;

/// What a planned write's new bytes are.
enum Content {
    Kept(Vec<u8>),
    /// Too large to keep in memory: only its size.
    Counted(u64),
}

/// The bytes `data` writes, decoded (within the same limit the live run
/// applies); large gzip content is streamed and counted, never held whole.
fn new_content(data: &Data) -> io::Result<Content> {
    if data.gunzip_limit.is_none() {
        return Ok(Content::Kept(data.bytes.clone()));
    }
    let mut reader = data.reader();
    let mut kept = Vec::new();
    io::Read::read_to_end(&mut io::Read::take(&mut reader, PLAN_KEEPS + 1), &mut kept)?;
    if kept.len() as u64 <= PLAN_KEEPS {
        return Ok(Content::Kept(kept));
    }
    let rest = io::copy(&mut reader, &mut io::sink())?;
    Ok(Content::Counted(kept.len() as u64 + rest))
}

impl PlanTarget {
    pub fn new(root: Root) -> PlanTarget {
        PlanTarget {
            overlay: Overlay::over_root(root.clone()),
            root,
        }
    }

    fn plan_write(&mut self, effect: &Effect) -> Record {
        let Effect::WriteFile {
            path,
            data,
            mode,
            owner,
            append,
        } = effect
        else {
            unreachable!("plan_write is only called for writes")
        };
        if let Append::OncePerInstance { record } = append {
            if already_appended(&self.overlay, path, data, record) {
                let mut r = Record::new(effect, Outcome::Unchanged);
                r.summary = format!("{} [unchanged]", r.summary);
                r.detail = Some(format!(
                    "already appended for this instance ({})",
                    record.display()
                ));
                return r;
            }
        }
        let before = self.overlay.read(path).ok();
        let before_stat = self.overlay.stat(path);
        let mut after = if append.is_append() {
            before.clone().unwrap_or_default()
        } else {
            Vec::new()
        };
        // gzip content is decoded as the live run decodes it (so a plan
        // names the same error), but only kept when small.
        let mut too_big = None;
        match new_content(data) {
            Ok(Content::Kept(bytes)) => after.extend_from_slice(&bytes),
            Ok(Content::Counted(n)) => too_big = Some(n),
            Err(e) => {
                return Record::new(
                    effect,
                    Outcome::Failed(format!("writing {}: {e}", path.display())),
                )
            }
        }
        // Names made earlier in the run (useradd) are not in the overlay's
        // /etc/passwd: the plan shows them by name, with ids 0 here.
        let (uid, gid) = owner
            .as_ref()
            .map(|o| o.resolve(&self.overlay).unwrap_or_else(|_| o.ids()))
            .map(|(u, g)| (u.unwrap_or(0), g.unwrap_or(0)))
            .unwrap_or((0, 0));
        let unchanged = before.as_deref() == Some(after.as_slice())
            && before_stat.as_ref().map(|s| s.mode) == Some(*mode);
        let detail = if hides_content(data, *mode) {
            Some("content <redacted>".to_string())
        } else if let Some(n) = too_big {
            Some(format!(
                "gzip content, {n} bytes decompressed (not shown; later steps of this plan see the file empty)"
            ))
        } else if unchanged {
            None
        } else {
            let old = before.as_deref().map(String::from_utf8_lossy);
            match (std::str::from_utf8(&after), old) {
                (Ok(new), Some(old)) => Some(diff::unified(&old, new, 3)),
                (Ok(new), None) => Some(diff::unified("", new, 3)),
                (Err(_), _) => Some(format!("binary content, {} bytes", after.len())),
            }
        };
        let state = match (&before, unchanged) {
            (_, true) => "unchanged",
            (Some(_), false) => "changed",
            (None, false) => "new file",
        };
        if let Err(e) = self.overlay.put(
            path,
            Node::File {
                data: after,
                mode: *mode,
                uid,
                gid,
                owner: owner.clone(),
            },
        ) {
            return Record::new(
                effect,
                Outcome::Failed(format!("writing {}: {e}", path.display())),
            );
        }
        let mut r = Record::new(
            effect,
            if unchanged {
                Outcome::Unchanged
            } else {
                Outcome::Planned
            },
        );
        r.summary = format!("{} [{state}]", r.summary);
        r.detail = detail;
        r
    }
}

impl Target for PlanTarget {
    fn fs(&self) -> &dyn FsView {
        &self.overlay
    }

    fn root(&self) -> &Root {
        &self.root
    }

    fn is_plan(&self) -> bool {
        true
    }

    fn note(&mut self, _line: &str) {}

    fn ask(&mut self, _action: &HostAction) -> Answer {
        Answer::NotAsked(Outcome::Planned)
    }

    fn apply(&mut self, effect: &Effect) -> Record {
        let planned: io::Result<()> = match effect {
            Effect::WriteFile { .. } => return self.plan_write(effect),
            Effect::Mkdir { path, mode } => match self.overlay.stat(path) {
                Some(st) if st.kind == Kind::Dir && st.mode & 0o7777 == *mode => {
                    return Record::new(effect, Outcome::Unchanged);
                }
                // An existing directory only gets its mode changed.
                Some(st) if st.kind == Kind::Dir => {
                    let keep_real = self.overlay.keeps_real(path);
                    self.overlay.put(
                        path,
                        Node::Dir {
                            mode: *mode,
                            keep_real,
                            owner: None,
                        },
                    )
                }
                _ => self.overlay.put(
                    path,
                    Node::Dir {
                        mode: *mode,
                        keep_real: false,
                        owner: None,
                    },
                ),
            },
            Effect::Chown { path, owner, mode } => {
                match self.overlay.chown(path, owner.as_ref(), *mode) {
                    Ok(false) => {
                        let mut r = Record::new(effect, Outcome::Planned);
                        r.detail =
                            Some(format!("{} does not exist yet in the plan", path.display()));
                        return r;
                    }
                    Ok(true) => Ok(()),
                    Err(e) => Err(e),
                }
            }
            Effect::Symlink { path, target } => self.overlay.put(path, Node::Link(target.clone())),
            Effect::Remove { path } => {
                if self.overlay.lstat(path).is_none() {
                    return Record::new(effect, Outcome::Unchanged);
                }
                self.overlay.put(path, Node::Removed)
            }
            Effect::Run(cmd) => cmd.creates.iter().try_for_each(|created| {
                self.overlay.put(
                    created,
                    Node::File {
                        data: Vec::new(),
                        mode: 0o644,
                        uid: 0,
                        gid: 0,
                        owner: None,
                    },
                )
            }),
            Effect::RunParts { .. } | Effect::Host(_) | Effect::Console(_) => Ok(()),
            Effect::Probe(_) | Effect::Later(_) => {
                return Record::new(
                    effect,
                    Outcome::Failed(crate::target::PROBE_OUTSIDE_APPLY_ALL.into()),
                )
            }
            Effect::Http(_) => {
                let mut r = Record::new(effect, Outcome::Planned);
                r.detail = Some("not sent: a plan never touches the network".into());
                return r;
            }
        };
        match planned {
            Ok(()) => Record::new(effect, Outcome::Planned),
            Err(e) => {
                let path = effect.path().map(|p| p.display().to_string());
                Record::new(
                    effect,
                    Outcome::Failed(format!("{}: {e}", path.unwrap_or_default())),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::effect::Data;

    #[test]
    fn overlay_follows_planned_links_and_lists_planned_files() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("var/lib/cloud/instances/a/scripts")).unwrap();
        std::fs::write(
            tmp.path().join("var/lib/cloud/instances/a/scripts/old"),
            b"x",
        )
        .unwrap();
        let mut t = PlanTarget::new(Root::new(tmp.path()));
        t.apply(&Effect::Symlink {
            path: "/var/lib/cloud/instance".into(),
            target: "/var/lib/cloud/instances/a".into(),
        });
        t.apply(&Effect::write(
            "/var/lib/cloud/instance/scripts/runcmd",
            Data::public("#!/bin/sh\n"),
            0o700,
        ));
        let fs = t.fs();
        assert_eq!(
            fs.list_dir(Path::new("/var/lib/cloud/instances/a/scripts"))
                .unwrap(),
            vec!["old", "runcmd"]
        );
        assert!(fs.is_executable_file(Path::new("/var/lib/cloud/instance/scripts/runcmd")));
        // The real root is untouched.
        assert!(!tmp.path().join("var/lib/cloud/instance").exists());
        assert!(!tmp
            .path()
            .join("var/lib/cloud/instances/a/scripts/runcmd")
            .exists());
    }

    #[test]
    fn secret_writes_show_no_content() {
        let tmp = tempfile::tempdir().unwrap();
        let mut t = PlanTarget::new(Root::new(tmp.path()));
        let r = t.apply(&Effect::write(
            "/etc/secret",
            Data::secret("hunter2"),
            0o600,
        ));
        assert_eq!(r.detail.as_deref(), Some("content <redacted>"));
        assert!(!r.json.to_string().contains("hunter2"));
    }
}
