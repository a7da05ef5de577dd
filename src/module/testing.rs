//! The in-process module test kit: a fake [`Context`] around an in-memory
//! root, so a module's behaviour is tested beside it in milliseconds, with
//! nothing read from or written to this machine.
//!
//! ```ignore
//! let run = Kit::debian12()
//!     .file("/etc/hosts", "127.0.0.1 localhost\n")
//!     .cfg("write_files:\n- path: /etc/motd\n  content: hi\n")
//!     .plan(&WriteFiles);
//! assert_eq!(run.file("/etc/motd").as_deref(), Some("hi"));
//! ```
//!
//! The root is the one [`Overlay`] over an empty root (only the files put
//! in exist); the host is a [`FakeHost`] (not live, a fixed clock, pid and
//! random stream); the distro is detected from the root as the engine
//! detects it. The engine's schema check does not run: a test of a
//! malformed entry sets [`Kit::bad_entry`] as the engine would.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{Context, Module, ModuleOutput};
use crate::datasource::Instance;
use crate::distro::Distro;
use crate::effect::{Data, Effect};
use crate::host::FakeHost;
use crate::paths::Paths;
use crate::plan::{EmptyRoot, Node, Overlay};
use crate::schedule::Stage;
use crate::value::Value;

/// Debian 12's `/etc/os-release`.
pub const DEBIAN_12: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n\
NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\n\
VERSION_CODENAME=bookworm\nID=debian\n";

/// CentOS 7's `/etc/os-release`.
pub const CENTOS_7: &str = "NAME=\"CentOS Linux\"\nVERSION=\"7 (Core)\"\nID=\"centos\"\n\
ID_LIKE=\"rhel fedora\"\nVERSION_ID=\"7\"\nPRETTY_NAME=\"CentOS Linux 7 (Core)\"\n";

/// The instance id every kit's instance has unless a test sets another.
pub const IID: &str = "iid-kit";

/// A module's world, built up by a test, then [`Kit::plan`]ned.
pub struct Kit {
    /// The root: only what the test put in.
    pub fs: Overlay<EmptyRoot>,
    pub cfg: Value,
    pub instance: Instance,
    pub paths: Paths,
    pub host: FakeHost,
    pub stage: Stage,
    /// Arguments from the module list entry (`[name, freq, args...]`).
    pub args: Vec<String>,
    pub bad_entries: Vec<(String, String)>,
}

impl Kit {
    /// A root with `os_release` as its `/etc/os-release`, and root in
    /// `/etc/passwd` and `/etc/group` (so `root:root` resolves), nothing
    /// else; an empty config; a NoCloud instance [`IID`]; the config stage.
    pub fn with_os_release(os_release: &str) -> Kit {
        Kit {
            fs: Overlay::empty(),
            cfg: Value::Map(Default::default()),
            instance: Instance {
                dsname: "NoCloud".into(),
                class_name: "DataSourceNoCloud".into(),
                instance_id: IID.into(),
                ..Instance::default()
            },
            paths: Paths::default(),
            host: FakeHost::default(),
            stage: Stage::Config,
            args: Vec::new(),
            bad_entries: Vec::new(),
        }
        .file("/etc/os-release", os_release)
        .file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
        .file("/etc/group", "root:x:0:\n")
    }

    /// A Debian 12 root.
    pub fn debian12() -> Kit {
        Kit::with_os_release(DEBIAN_12)
    }

    /// A CentOS 7 root.
    pub fn centos7() -> Kit {
        Kit::with_os_release(CENTOS_7)
    }

    /// Puts a file (0644, root's) in the root.
    pub fn file(self, path: &str, content: &str) -> Kit {
        self.file_mode(path, content, 0o644)
    }

    /// Puts a file with `mode` (root's) in the root.
    pub fn file_mode(mut self, path: &str, content: &str, mode: u32) -> Kit {
        self.fs
            .put(
                Path::new(path),
                Node::File {
                    data: content.as_bytes().to_vec(),
                    mode,
                    uid: 0,
                    gid: 0,
                    owner: None,
                },
            )
            .expect("a kit path has no symlink loop");
        self
    }

    /// Puts a directory (0755) in the root.
    pub fn dir(mut self, path: &str) -> Kit {
        self.fs
            .put(
                Path::new(path),
                Node::Dir {
                    mode: 0o755,
                    keep_real: false,
                    owner: None,
                },
            )
            .expect("a kit path has no symlink loop");
        self
    }

    /// The merged config, as YAML (cloud-config without the header).
    pub fn cfg(mut self, yaml: &str) -> Kit {
        self.cfg = crate::yaml::load(yaml.as_bytes(), "kit cfg").expect("the kit's cfg is YAML");
        self
    }

    /// Changes the instance (its metadata, id, block devices).
    pub fn instance(mut self, change: impl FnOnce(&mut Instance)) -> Kit {
        change(&mut self.instance);
        self
    }

    /// The machine the module asks (live root, free space, pid, clock).
    pub fn host(mut self, host: FakeHost) -> Kit {
        self.host = host;
        self
    }

    /// An entry the engine's schema check found malformed.
    pub fn bad_entry(mut self, path: &str, error: &str) -> Kit {
        self.bad_entries.push((path.into(), error.into()));
        self
    }

    /// The module's plan in this world: `module.plan(&ctx)`, with the
    /// distro detected from the root as the engine detects it.
    pub fn plan(&self, module: &dyn Module) -> Planned {
        let distro = Distro::detect(&self.fs, &self.cfg);
        let name = module.info().name;
        let progress = PathBuf::from(format!("/run/cloudboot-kit/{name}.progress"));
        let ctx = Context {
            name,
            stage: self.stage,
            cfg: &self.cfg,
            instance: &self.instance,
            paths: &self.paths,
            fs: &self.fs,
            distro: &distro,
            args: &self.args,
            bad_entries: &self.bad_entries,
            run_id: "kit",
            progress: &progress,
            host: &self.host,
            accounts: Default::default(),
        };
        let mut out = module.plan(&ctx);
        out.effects = self.worked_out(std::mem::take(&mut out.effects), &mut out.errors);
        Planned { out }
    }

    /// Each [`Effect::Later`] replaced by the effects it works out on this
    /// world's files (its failure as one more error), as a target applying
    /// them would, so that tests read the files a module ends up writing.
    fn worked_out(&self, effects: Vec<Effect>, errors: &mut Vec<String>) -> Vec<Effect> {
        let mut out = Vec::new();
        for effect in effects {
            match effect {
                Effect::Later(later) => match (later.make)(&self.fs) {
                    Ok(made) => out.extend(self.worked_out(made, errors)),
                    Err(e) => errors.push(e),
                },
                other => out.push(other),
            }
        }
        out
    }
}

/// A file write a module planned.
#[derive(Clone, Debug, PartialEq)]
pub struct Written {
    pub path: PathBuf,
    /// The bytes the file gets (gzip content decoded), as text.
    pub content: String,
    pub mode: u32,
    /// `user:group` as the effect names it, if it names one.
    pub owner: Option<String>,
    /// Appended rather than replacing the file.
    pub append: bool,
}

/// What a module handed back, with readers for what a person checks.
#[derive(Debug)]
pub struct Planned {
    pub out: ModuleOutput,
}

impl Planned {
    pub fn effects(&self) -> &[Effect] {
        &self.out.effects
    }

    pub fn errors(&self) -> &[String] {
        &self.out.errors
    }

    pub fn notes(&self) -> &[String] {
        &self.out.notes
    }

    /// Checks the module's errors against what 22.4 raised in a recorded
    /// case (`recorded`: the exception as `Type: message`, or none): no
    /// error where it raised nothing, else one error whose text is the
    /// message (after the file it names, where the error is about a file).
    pub fn assert_error_as_recorded(&self, case: &str, recorded: Option<&str>) {
        let errors = self.errors();
        match recorded {
            None => assert!(errors.is_empty(), "{case}: {errors:?}"),
            Some(error) => {
                let message = error.split_once(": ").map_or(error, |(_, m)| m);
                assert!(
                    errors.len() == 1 && errors[0].ends_with(message),
                    "{case}: {errors:?}, expected {error}"
                );
            }
        }
    }

    /// Every file write, in order.
    pub fn written(&self) -> Vec<Written> {
        self.out
            .effects
            .iter()
            .filter_map(|e| match e {
                Effect::WriteFile {
                    path,
                    data,
                    mode,
                    owner,
                    append,
                } => Some(Written {
                    path: path.clone(),
                    content: decoded(data),
                    mode: *mode,
                    owner: owner.as_ref().map(ToString::to_string),
                    append: append.is_append(),
                }),
                _ => None,
            })
            .collect()
    }

    /// The content of the last write of `path`, if the module writes it.
    pub fn file(&self, path: &str) -> Option<String> {
        self.written()
            .into_iter()
            .rev()
            .find(|w| w.path == Path::new(path))
            .map(|w| w.content)
    }

    /// The programs it would run, in order: commands, actions on the
    /// host, and the scripts of a run-parts (each as its path).
    pub fn commands(&self) -> Vec<Vec<String>> {
        let mut all = Vec::new();
        for e in &self.out.effects {
            match e {
                Effect::Run(cmd) => all.push(cmd.argv.clone()),
                Effect::Host(action) => all.push(action.argv.clone()),
                Effect::RunParts {
                    scripts, prefix, ..
                } => all.extend(scripts.iter().map(|s| {
                    let mut argv = prefix.clone();
                    argv.push(s.display().to_string());
                    argv
                })),
                _ => {}
            }
        }
        all
    }
}

/// The bytes a write leaves in the file, as text.
fn decoded(data: &Data) -> String {
    let mut bytes = Vec::new();
    data.reader()
        .read_to_end(&mut bytes)
        .expect("planned content decodes");
    String::from_utf8_lossy(&bytes).into_owned()
}
