//! The API a module sees: what it declares about itself, the context it is
//! given, and what it hands back. A module is pure: config and context in,
//! effects out. It reads the root only through `ctx.fs` (which, in a plan,
//! already shows what earlier modules would have done). A module names the
//! engine only through [`prelude`].

mod error;
pub mod prelude;
#[cfg(test)]
pub mod testing;

pub use error::ConfigError;

use std::path::{Path, PathBuf};

use crate::datasource::Instance;
use crate::distro::Distro;
use crate::effect::progress::{Progress, ScriptState};
use crate::effect::{Effect, Named, Owner};
use crate::host::Host;
use crate::paths::Paths;
use crate::rootfs::FsView;
use crate::schedule::Frequency;
use crate::schedule::Stage;
use crate::value::Value;

/// What a module declares about itself.
#[derive(Debug)]
pub struct ModuleInfo {
    /// cloud-init's name, with underscores (`write_files`).
    pub name: &'static str,
    /// Other names it answers to (besides the `-`/`cc_` spellings every module accepts).
    pub aliases: &'static [&'static str],
    /// Default frequency (cloud-init's `meta["frequency"]`).
    pub frequency: Frequency,
    /// The module is skipped, without a semaphore, when none of these keys is
    /// in the config (`activate_by_schema_keys`). Empty: always active.
    pub activate_by: &'static [&'static str],
    /// Config keys it reads (for documentation and `plan`).
    pub keys: &'static [&'static str],
    /// The types of those keys: a wrong type fails the module before it runs.
    pub schema: &'static [crate::schema::Field],
    pub summary: &'static str,
}

/// Everything a module may look at.
pub struct Context<'a> {
    /// The name as written in the module list (it also names the semaphore).
    pub name: &'a str,
    pub stage: Stage,
    /// The merged config (system config, vendor-data, user-data).
    pub cfg: &'a Value,
    pub instance: &'a Instance,
    pub paths: &'a Paths,
    pub fs: &'a dyn FsView,
    /// The distribution, detected by the engine: per-distro decisions
    /// (hostname files, services, users, shutdown) are its methods.
    pub distro: &'a Distro,
    /// Arguments from the module list entry or `single` (`[name, freq, args...]`).
    pub args: &'a [String],
    /// Entries of a [`crate::schema::Ty::Entries`] list that have the wrong
    /// shape: (`write_files[1]`, the error naming file and line). A module
    /// with such a list skips each and reports its error (when the entry
    /// is one it handles), and handles the others.
    pub bad_entries: &'a [(String, String)],
    /// A token unique to this run among all runs on this root (pid and
    /// random bits), for files that must not collide with another run's.
    pub run_id: &'a str,
    /// This module run's record of the scripts it started and finished
    /// (see [`run_parts`]); the engine removes it once the semaphore says
    /// the module ran.
    pub progress: &'a Path,
    /// The machine cloudboot runs on (live root or not, free space,
    /// randomness, the clock): a module asks it, never the machine itself.
    pub host: &'a dyn Host,
    /// `/etc/passwd` and `/etc/group`, read once per module plan.
    pub accounts: Accounts,
}

/// The root's `/etc/passwd` and `/etc/group` as a module's plan first read
/// them: a plan changes nothing, so 10,000 `write_files` owners cost one
/// read of each, not 10,000.
#[derive(Debug, Default)]
pub struct Accounts {
    files: std::cell::RefCell<std::collections::HashMap<&'static str, Option<String>>>,
}

impl Accounts {
    /// The id of `name` in `file` (see [`crate::effect::lookup_id`]).
    pub fn id(&self, fs: &dyn FsView, file: &'static str, name: &str) -> Option<u32> {
        let mut files = self.files.borrow_mut();
        let text = files
            .entry(file)
            .or_insert_with(|| fs.read_string(Path::new(file)));
        crate::effect::id_in(text.as_deref(), name)
    }
}

impl Context<'_> {
    /// The error for entry `path` (`write_files[1]`) when it has the wrong
    /// shape (see [`Context::bad_entries`]).
    pub fn entry_error(&self, path: &str) -> Option<&str> {
        self.bad_entries
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, e)| e.as_str())
    }
}

impl Context<'_> {
    pub fn iid(&self) -> &str {
        &self.instance.instance_id
    }

    /// `/var/lib/cloud/instances/<iid>/<name>`.
    pub fn ipath(&self, name: &str) -> PathBuf {
        self.paths.ipath(self.iid(), name)
    }

    /// The record that the package sources were updated for this instance
    /// (22.4's `update-sources` semaphore), written by this process now:
    /// what [`Distro::install_packages`] and
    /// [`Distro::update_package_sources`] take.
    pub fn sources_mark(&self) -> crate::distro::packages::SourcesMark {
        crate::distro::packages::SourcesMark::new(
            self.paths,
            self.iid(),
            self.host.pid(),
            self.host.now(),
        )
    }

    /// Seconds since boot as cloud-init's `util.uptime()` gives it: the first
    /// field of the root's `/proc/uptime` (else the host's).
    pub fn uptime(&self) -> String {
        uptime(self.fs, self.host)
    }

    /// A user's uid from the root's `/etc/passwd`.
    pub fn uid_of(&self, user: &str) -> Option<u32> {
        self.accounts.id(self.fs, "/etc/passwd", user)
    }

    /// A group's gid from the root's `/etc/group`.
    pub fn gid_of(&self, group: &str) -> Option<u32> {
        self.accounts.id(self.fs, "/etc/group", group)
    }

    /// Resolves `user:group` as cloud-init's `extract_usergroup` reads it (an
    /// empty part, `-1` or `none` leaves that half unchanged).
    /// The error's key is `owner`.
    pub fn resolve_owner(&self, spec: &str) -> Result<Owner, ConfigError> {
        let (u, g) = match spec.split_once(':') {
            Some((u, g)) => (u.trim(), Some(g.trim())),
            None => (spec.trim(), None),
        };
        let keep = |s: &str| s.is_empty() || s == "-1" || s.eq_ignore_ascii_case("none");
        let mut owner = Owner::default();
        if !keep(u) {
            let uid = self.uid_of(u).ok_or_else(|| {
                ConfigError::new(
                    "owner",
                    format!("Unknown user or group: user '{u}' is not in /etc/passwd"),
                )
            })?;
            owner.user = Some(Named::known(u, uid));
        }
        if let Some(g) = g.filter(|g| !keep(g)) {
            let gid = self.gid_of(g).ok_or_else(|| {
                ConfigError::new(
                    "owner",
                    format!("Unknown user or group: group '{g}' is not in /etc/group"),
                )
            })?;
            owner.group = Some(Named::known(g, gid));
        }
        Ok(owner)
    }
}

/// See [`Context::uptime`].
pub fn uptime(fs: &dyn FsView, host: &dyn Host) -> String {
    fs.read_string(Path::new("/proc/uptime"))
        .or_else(|| host.proc_uptime())
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "0.0".into())
}

/// What a module hands back.
#[derive(Debug, Default)]
pub struct ModuleOutput {
    pub effects: Vec<Effect>,
    /// Problems with the config: reported, the module counts as failed, but
    /// the effects it could plan still apply (the other entries still land).
    pub errors: Vec<String>,
    /// Why the module did nothing, when it did nothing.
    pub notes: Vec<String>,
}

impl ModuleOutput {
    /// Reports a problem: a message, or any layer's error (a
    /// [`ConfigError`], a distro or template error), as its text.
    pub fn error(&mut self, msg: impl std::fmt::Display) {
        let msg = msg.to_string();
        tracing::warn!("{msg}");
        self.errors.push(msg);
    }

    pub fn note(&mut self, msg: impl Into<String>) {
        let msg = msg.into();
        tracing::debug!("{msg}");
        self.notes.push(msg);
    }

    /// A message cloud-init logs as a warning without failing the module
    /// (a skipped entry, a deprecated key): logged at warning level and
    /// kept with the notes.
    pub fn warn(&mut self, msg: impl Into<String>) {
        let msg = msg.into();
        tracing::warn!("{msg}");
        self.notes.push(msg);
    }
}

/// A cloudboot module.
pub trait Module: Sync {
    fn info(&self) -> &'static ModuleInfo;
    fn plan(&self, ctx: &Context) -> ModuleOutput;
    /// cloud-init's `meta["distros"]`: the distributions the module is
    /// verified on. Elsewhere it is skipped unless `unverified_modules`
    /// names it. Empty: every distribution.
    fn distros(&self) -> &'static [&'static str] {
        &[]
    }
}

/// Normalises a module name as cloud-init's `form_module_name` does (`-` and
/// `_` alike, `.py` and `cc_` ignored), to our canonical form.
pub fn normalize_name(name: &str) -> String {
    let n = name.trim().replace('-', "_");
    let n = n.strip_suffix(".py").unwrap_or(&n);
    n.strip_prefix("cc_").unwrap_or(n).to_string()
}

/// `subp.runparts(dir, exe_prefix=prefix)`: every executable file directly in
/// `dir`, in sorted order. A missing directory or one without executables is
/// a note, not an error, as in cloud-init.
///
/// Unlike 22.4's `runparts`, names that start with a dot are skipped (as
/// Debian's `run-parts` skips them): cloudboot's temporary files
/// (`.runcmd.cloudboot-*`) are dotfiles, so one left by a crash can never
/// run a script a second time, and nor can an editor's backup.
///
/// No script runs twice for one module run, even across a crash: each is
/// recorded in [`Context::progress`] as started (durably, before it runs)
/// and as finished. When the module runs again because an earlier run was
/// cut short (its semaphore was not written), the scripts that finished are
/// not run again, and one that was started but never finished (the crash
/// came while it ran) is reported as an error, not run again: it may have
/// done part or all of its work. cloud-init instead writes the semaphore
/// first, so a crash loses every script after the one that was running.
pub fn run_parts(
    ctx: &Context,
    dir: PathBuf,
    prefix: Vec<String>,
    env: Vec<(String, String)>,
) -> ModuleOutput {
    let mut out = ModuleOutput::default();
    let progress = Progress::read(ctx.fs, ctx.progress);
    let mut scripts = Vec::new();
    for name in ctx.fs.list_dir(&dir).unwrap_or_default() {
        let path = dir.join(&name);
        if name.starts_with('.') || !ctx.fs.is_executable_file(&path) {
            continue;
        }
        match progress.state(&name) {
            ScriptState::NotStarted => scripts.push(path),
            ScriptState::Finished => out.note(format!(
                "{} already ran in an earlier, interrupted run of this module",
                path.display()
            )),
            ScriptState::Interrupted => out.error(format!(
                "{} was cut short by a crash or power loss in an earlier run of this module; \
                 it is not run again, so that no script runs twice (it may have done part of \
                 its work): check what it does and run it by hand if it should run",
                path.display()
            )),
        }
    }
    if scripts.is_empty() {
        out.note(format!("no executable scripts to run in {}", dir.display()));
        return out;
    }
    out.effects.push(Effect::RunParts {
        dir,
        scripts,
        env,
        prefix,
        progress: Some(ctx.progress.to_path_buf()),
    });
    out
}
