//! Where effects go: the live target applies them to the root; the plan target
//! (`plan.rs`) applies them to an in-memory overlay and keeps a printable
//! record. Both answer reads through [`FsView`], so a module planned after
//! another sees what that one did (or would have done).

use std::io;
use std::path::{Path, PathBuf};

use crate::effect::probe::Answer;
use crate::effect::progress::Progress;
use crate::effect::{
    already_appended, Append, Data, Effect, HostAction, HttpRequest, OnFailure, Owner, UnknownOwner,
};
pub use crate::effect::{Outcome, Record};
use crate::exec::{privileged, Runner};
use crate::http::HttpError;
use crate::rootfs::{FsView, Held, Kind, RealFs, Root};

/// Why a target's `apply` refuses a probe or a [`Effect::Later`]: only
/// [`apply_all`] knows how to apply the effects that follow it.
pub const PROBE_OUTSIDE_APPLY_ALL: &str =
    "a probe or a later step is applied with apply_all (a cloudboot bug)";

/// Why an effect failed on a live root: what was being done, to which path
/// or program, and the system's answer. Its text is the failed record's
/// (and the warning logged).
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("writing {}: {error}", .path.display())]
    Write { path: PathBuf, error: io::Error },
    #[error("creating directory {}: {error}", .path.display())]
    Mkdir { path: PathBuf, error: io::Error },
    #[error("changing owner of {}: it does not exist", .0.display())]
    ChownMissing(PathBuf),
    /// The path to change could not be looked at.
    #[error("changing owner of {}: {error}", .path.display())]
    ChownStat { path: PathBuf, error: io::Error },
    #[error("changing owner or mode of {}: {error}", .path.display())]
    Chown { path: PathBuf, error: io::Error },
    /// An owner (`user:group`) the root does not have.
    #[error("owner {owner}: {error}")]
    Owner { owner: String, error: UnknownOwner },
    #[error("linking {}: {error}", .path.display())]
    Link { path: PathBuf, error: io::Error },
    #[error("removing {}: {error}", .path.display())]
    Remove { path: PathBuf, error: io::Error },
    /// A program that ran and failed (the command line, how it ended).
    #[error("command {command} failed: {exit}")]
    CommandFailed { command: String, exit: String },
    #[error("command {program} could not be run: {error}")]
    CommandNotStarted { program: String, error: io::Error },
    /// Scripts of a run-parts directory that failed (their names), of
    /// those attempted.
    #[error("Runparts: {} failures ({}) in {attempted} attempted commands", .failed.len(), .failed.join(","))]
    RunParts {
        failed: Vec<String>,
        attempted: usize,
    },
    /// An action on the running machine that failed (what it was, why).
    #[error("{what} failed: {error}")]
    Host { what: String, error: String },
    #[error("{}", PROBE_OUTSIDE_APPLY_ALL)]
    ProbeOutsideApplyAll,
    /// An HTTP request answered with an error status.
    #[error("{method} {url}: HTTP status {status}")]
    HttpStatus {
        method: String,
        url: String,
        status: u16,
    },
    #[error(transparent)]
    Http(#[from] HttpError),
}

/// A place effects are applied to.
pub trait Target {
    fn fs(&self) -> &dyn FsView;
    fn root(&self) -> &Root;
    fn is_plan(&self) -> bool;
    fn apply(&mut self, effect: &Effect) -> Record;
    /// A line for `/var/log/cloud-init-output.log` and the console (live only).
    fn note(&mut self, line: &str);
    /// At the start of a stage: clean up what an interrupted run left (its
    /// temporary files), and keep a journal of this run's (live only).
    fn begin(&mut self) {}
    /// Makes what was applied so far durable (live only; see
    /// `rootfs/commit.rs`): called before a semaphore says a module ran, so
    /// that after a power cut the semaphore is never there without its
    /// module's files and programs' writes, and at a stage's end.
    fn settle(&mut self) -> Result<(), String> {
        Ok(())
    }
    /// Writes a module's semaphore (`content` at `semaphore`): after a
    /// power cut it is never on disk without what the module did (`acted`:
    /// it changed files or ran programs, not only printed to the console)
    /// and the files written before (live:
    /// `Root::write_in_order`), and `lock` is held until it is in place.
    /// Durable at the next settle: a power cut before then runs a module
    /// that only wrote files again (see module_runner.rs).
    fn record_ran(
        &mut self,
        semaphore: &Path,
        content: &str,
        _acted: bool,
        lock: Option<Held>,
    ) -> Record {
        drop(lock);
        let e = Effect::write(semaphore.to_path_buf(), Data::public(content), 0o644);
        self.apply(&e)
    }
    /// Runs a program on the running machine and says how it ended
    /// (an [`Effect::Host`]'s, or a probe's question).
    fn ask(&mut self, action: &HostAction) -> Answer;
}

/// The records of a list of effects and the errors among them.
#[derive(Debug, Default)]
pub struct Applied {
    pub records: Vec<Record>,
    pub errors: Vec<String>,
}

/// Applies effects in order. A failed `Fatal` program stops the rest (they are
/// recorded as not run); any other failure is reported and the rest go on.
pub fn apply_all(target: &mut dyn Target, effects: &[Effect]) -> Applied {
    let mut out = Applied::default();
    apply_into(target, effects, &mut out, &mut None);
    out
}

/// [`apply_all`], into `out`; `stopped` says why the rest are skipped. A
/// probe's branch is applied in its place, under the same rules.
fn apply_into(
    target: &mut dyn Target,
    effects: &[Effect],
    out: &mut Applied,
    stopped: &mut Option<String>,
) {
    for effect in effects {
        if let Some(why) = &stopped {
            out.records.push(Record::new(
                effect,
                Outcome::NotRun(format!("skipped: {why}")),
            ));
            continue;
        }
        if let Effect::Probe(probe) = effect {
            let answer = target.ask(&probe.action);
            let (record, branch) = probe.answered(effect, answer);
            out.records.push(record);
            if let Some(branch) = branch {
                let errors = out.errors.len();
                apply_into(target, &branch.effects, out, stopped);
                if let Some(done) = branch.done.as_ref().filter(|_| out.errors.len() == errors) {
                    (probe.log.0)(tracing::Level::DEBUG, done);
                }
            }
            continue;
        }
        if let Effect::Later(later) = effect {
            let done = if target.is_plan() {
                Outcome::Planned
            } else {
                Outcome::Done
            };
            let (record, effects) = later.work_out(effect, target.fs(), done);
            if let Outcome::Failed(msg) = &record.outcome {
                tracing::warn!("{msg}");
                out.errors.push(msg.clone());
            }
            out.records.push(record);
            apply_into(target, &effects, out, stopped);
            continue;
        }
        let record = target.apply(effect);
        if let Outcome::Failed(msg) = &record.outcome {
            let policy = match effect {
                Effect::Run(c) => c.on_failure,
                Effect::Http(r) => r.on_failure,
                _ => OnFailure::Report,
            };
            // Ignored failures are logged (by the target) and recorded, not counted.
            if policy != OnFailure::Ignore {
                out.errors.push(msg.clone());
            }
            if policy == OnFailure::Fatal {
                *stopped = Some(format!("an earlier step failed ({msg})"));
            }
        }
        out.records.push(record);
    }
}

/// What [`LiveTarget::owner_ids`] decided.
enum OwnerIds {
    Ids(Option<u32>, Option<u32>),
    /// Not applied, with why.
    Recorded(String),
}

enum WriteResult {
    Written,
    WrittenWithNote(String),
    Unchanged,
    /// A once-per-instance append already made (its record).
    AlreadyAppended(std::path::PathBuf),
}

/// Applies effects to a real root.
pub struct LiveTarget {
    root: Root,
    fs: RealFs,
    runner: Runner,
    privileged: bool,
}

impl LiveTarget {
    pub fn new(root: Root, runner: Runner) -> LiveTarget {
        LiveTarget {
            fs: RealFs { root: root.clone() },
            root,
            runner,
            privileged: privileged(),
        }
    }

    /// The ids to give a path for `owner`, or a note saying why none are
    /// given. Names planned without ids (users made earlier in this run, by
    /// useradd) are looked up now, in the root's /etc/passwd and /etc/group.
    /// A name that is still unknown is an error on a root where programs run
    /// (useradd should have made it); on a root where they are listed, not
    /// run, the owner is recorded instead.
    fn owner_ids(&self, owner: &Owner) -> Result<OwnerIds, ApplyError> {
        // Only root may give a file away. On a scratch root, an ordinary
        // user's run records the owner instead of failing.
        if !self.privileged && !self.root.is_host_root() {
            return Ok(OwnerIds::Recorded(format!(
                "owner {owner} recorded, not applied (not running as root)"
            )));
        }
        match owner.resolve(&self.fs) {
            Ok((uid, gid)) => Ok(OwnerIds::Ids(uid, gid)),
            Err(e) => match self.runner.cannot_run("useradd") {
                Some(why) => Ok(OwnerIds::Recorded(format!(
                    "owner {owner} recorded, not applied: {e} (programs are {why})"
                ))),
                None => Err(ApplyError::Owner {
                    owner: owner.to_string(),
                    error: e,
                }),
            },
        }
    }

    fn write_file(
        &mut self,
        path: &Path,
        data: &Data,
        mode: u32,
        owner: Option<&Owner>,
        append: &Append,
    ) -> io::Result<WriteResult> {
        let (ids, note) = match owner.map(|o| self.owner_ids(o)) {
            None => (None, None),
            Some(Ok(OwnerIds::Ids(u, g))) => (Some((u, g)), None),
            Some(Ok(OwnerIds::Recorded(note))) => (None, Some(note)),
            Some(Err(e)) => return Err(io::Error::other(e)),
        };
        if let Append::OncePerInstance { record } = append {
            if already_appended(&self.fs, path, data, record) {
                return Ok(WriteResult::AlreadyAppended(record.clone()));
            }
        }
        // The old content, for an append: streamed from the file through
        // the root (a link is followed inside it, never out of it).
        let old = if append.is_append() {
            match self.root.open_read(path) {
                Ok(f) => Some(f),
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        let old_len = match &old {
            Some(f) => f.metadata()?.len(),
            None => 0,
        };
        // Same content, mode and owner already there: leave the file (and its
        // mtime) alone, and spare the fsyncs. (gzip content is not decoded
        // twice to find out: it is written. A file this stage wrote and has
        // not published yet is compared as staged: looking does not publish.)
        if data.gunzip_limit.is_none() && note.is_none() {
            if let Ok(st) = self.root.stat(path, true) {
                let (uid, gid) = ids.unwrap_or((None, None));
                let same_owner = uid.is_none_or(|u| u == st.uid) && gid.is_none_or(|g| g == st.gid);
                let same = st.kind == Kind::File
                    && st.mode == mode
                    && same_owner
                    && if old.is_some() {
                        data.bytes.is_empty()
                    } else {
                        st.len == data.bytes.len() as u64 && holds(&self.root, path, &data.bytes)
                    };
                if same {
                    return Ok(WriteResult::Unchanged);
                }
            }
        }
        if let Append::OncePerInstance { record } = append {
            // Before the append, where it goes: after a crash between the
            // two the file does not hold the bytes at that offset, and the
            // next run appends them.
            self.root
                .write_bytes(record, format!("{old_len}\n").as_bytes(), 0o600, None)?;
        }
        let mut src: Box<dyn io::Read> = match old {
            Some(f) => Box::new(io::Read::chain(io::Read::take(f, old_len), data.reader())),
            None => data.reader(),
        };
        self.root.write_atomic(path, &mut src, None, mode, ids)?;
        Ok(match note {
            Some(n) => WriteResult::WrittenWithNote(n),
            None => WriteResult::Written,
        })
    }

    /// `Effect::Chown`: owner and/or mode of an existing path.
    fn chown(
        &mut self,
        path: &Path,
        owner: Option<&Owner>,
        mode: Option<u32>,
    ) -> Result<Option<String>, ApplyError> {
        if let Err(error) = self.root.stat(path, true) {
            return Err(if error.kind() == io::ErrorKind::NotFound {
                ApplyError::ChownMissing(path.to_path_buf())
            } else {
                ApplyError::ChownStat {
                    path: path.to_path_buf(),
                    error,
                }
            });
        }
        let mut note = None;
        let mut ids = None;
        if let Some(o) = owner {
            match self.owner_ids(o)? {
                OwnerIds::Ids(uid, gid) => ids = Some((uid, gid)),
                OwnerIds::Recorded(n) => note = Some(n),
            }
        }
        self.root
            .set_owner_mode(path, ids, mode)
            .map_err(|error| ApplyError::Chown {
                path: path.to_path_buf(),
                error,
            })?;
        Ok(note)
    }

    /// Appends `what NAME` to a module run's progress record; `durable`
    /// waits until it is on disk (a script is recorded as started before
    /// it runs, so a power cut while it runs is known on the next boot).
    fn record_progress(
        &self,
        progress: &Path,
        what: &str,
        name: &str,
        durable: bool,
    ) -> io::Result<()> {
        use std::io::Write;
        let line = format!("{what}{}\n", Progress::line_name(name));
        let mut f = self.root.open_append(progress, 0o600)?;
        f.write_all(line.as_bytes())?;
        if durable {
            f.sync_data()?;
        }
        Ok(())
    }

    fn run_parts(
        &mut self,
        scripts: &[std::path::PathBuf],
        env: &[(String, String)],
        prefix: &[String],
        progress: Option<&Path>,
    ) -> Result<Option<String>, ApplyError> {
        let mut failed = Vec::new();
        let mut not_run = Vec::new();
        for script in scripts {
            let path = script.to_string_lossy().into_owned();
            let argv: Vec<String> = prefix.iter().cloned().chain([path]).collect();
            let argv0 = argv[0].clone();
            if let Some(why) = self.runner.cannot_run(&argv0) {
                not_run.push(why);
                continue;
            }
            let mut cmd = crate::effect::Command::new(argv);
            cmd.env = env.to_vec();
            let name = script
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or(argv0.clone());
            if let Some(p) = progress {
                // Not recorded, not run: better a script not run than one
                // that might run twice.
                if let Err(e) = self.record_progress(p, Progress::STARTED, &name, true) {
                    tracing::warn!("{argv0} not run: recording it in {}: {e}", p.display());
                    failed.push(name);
                    continue;
                }
            }
            match self.runner.run(&cmd) {
                Ok(exit) if exit.success() => {}
                Ok(exit) => {
                    tracing::warn!("{argv0} failed: {}", exit.describe());
                    failed.push(name.clone());
                }
                Err(e) => {
                    tracing::warn!("{argv0} could not be run: {e}");
                    failed.push(name.clone());
                }
            }
            if let Some(p) = progress {
                if let Err(e) = self.record_progress(p, Progress::FINISHED, &name, false) {
                    tracing::warn!("recording {argv0} as finished in {}: {e}", p.display());
                }
            }
        }
        if !failed.is_empty() {
            return Err(ApplyError::RunParts {
                failed,
                attempted: scripts.len() - not_run.len(),
            });
        }
        Ok((!not_run.is_empty()).then(|| not_run.join("; ")))
    }
}

impl Target for LiveTarget {
    fn fs(&self) -> &dyn FsView {
        &self.fs
    }

    fn root(&self) -> &Root {
        &self.root
    }

    fn is_plan(&self) -> bool {
        false
    }

    fn note(&mut self, line: &str) {
        self.runner.note(line);
    }

    fn begin(&mut self) {
        self.root.temps().enable_journal();
        self.root.temps().sweep(&self.root);
        self.root.begin_stage();
    }

    fn settle(&mut self) -> Result<(), String> {
        self.root.settle().map_err(|e| {
            format!(
                "making the writes durable on the filesystem of {}: {e}",
                self.root.host_path().display()
            )
        })
    }

    fn record_ran(
        &mut self,
        semaphore: &Path,
        content: &str,
        acted: bool,
        lock: Option<Held>,
    ) -> Record {
        let effect = Effect::write(semaphore.to_path_buf(), Data::public(content), 0o644);
        let outcome =
            match self
                .root
                .write_in_order(semaphore, content.as_bytes(), 0o644, acted, lock)
            {
                Ok(()) => Outcome::Done,
                Err(error) => {
                    let e = ApplyError::Write {
                        path: semaphore.to_path_buf(),
                        error,
                    };
                    tracing::warn!("{e}");
                    Outcome::Failed(e.to_string())
                }
            };
        Record::new(&effect, outcome)
    }

    fn ask(&mut self, action: &HostAction) -> Answer {
        if !self.root.is_host_root() {
            return Answer::NotAsked(Outcome::NotRun(format!(
                "recorded, not performed: the target root {} is not this machine's /",
                self.root.host_path().display()
            )));
        }
        if action.argv.is_empty() {
            return Answer::Exited(crate::exec::Exit::Code(0));
        }
        match self
            .runner
            .run(&crate::effect::Command::new(action.argv.clone()))
        {
            Ok(exit) => Answer::Exited(exit),
            Err(e) => Answer::NotStarted(e.to_string()),
        }
    }

    fn apply(&mut self, effect: &Effect) -> Record {
        let outcome = match effect {
            Effect::WriteFile {
                path,
                data,
                mode,
                owner,
                append,
            } => match self.write_file(path, data, *mode, owner.as_ref(), append) {
                Ok(WriteResult::Written) => Ok(Outcome::Done),
                Ok(WriteResult::Unchanged) => Ok(Outcome::Unchanged),
                Ok(WriteResult::AlreadyAppended(record)) => {
                    let mut r = Record::new(effect, Outcome::Unchanged);
                    r.detail = Some(format!(
                        "already appended for this instance ({})",
                        record.display()
                    ));
                    return r;
                }
                Ok(WriteResult::WrittenWithNote(note)) => {
                    let mut r = Record::new(effect, Outcome::Done);
                    r.detail = Some(note);
                    return r;
                }
                Err(error) => Err(ApplyError::Write {
                    path: path.clone(),
                    error,
                }),
            },
            Effect::Mkdir { path, mode } => {
                let unchanged = self
                    .root
                    .stat(path, true)
                    .map(|st| st.kind == Kind::Dir && st.mode == *mode)
                    .unwrap_or(false);
                if unchanged {
                    return Record::new(effect, Outcome::Unchanged);
                }
                // Missing parents get 0755, as Python's makedirs gives them.
                let parent = path.parent().unwrap_or(Path::new("/"));
                self.root
                    .create_dir_all(parent, 0o755)
                    .and_then(|_| self.root.create_dir_all(path, *mode))
                    .and_then(|_| self.root.set_owner_mode(path, None, Some(*mode)))
                    .map(|_| Outcome::Done)
                    .map_err(|error| ApplyError::Mkdir {
                        path: path.clone(),
                        error,
                    })
            }
            Effect::Chown { path, owner, mode } => match self.chown(path, owner.as_ref(), *mode) {
                Ok(None) => Ok(Outcome::Done),
                Ok(Some(note)) => {
                    let mut r = Record::new(effect, Outcome::Done);
                    r.detail = Some(note);
                    return r;
                }
                Err(e) => Err(e),
            },
            Effect::Symlink { path, target } => self
                .root
                .symlink(path, target)
                .map(|_| Outcome::Done)
                .map_err(|error| ApplyError::Link {
                    path: path.clone(),
                    error,
                }),
            Effect::Remove { path } => {
                self.root
                    .remove(path)
                    .map(|_| Outcome::Done)
                    .map_err(|error| ApplyError::Remove {
                        path: path.clone(),
                        error,
                    })
            }
            Effect::Run(cmd) => {
                let argv0 = cmd.argv.first().cloned().unwrap_or_default();
                let cannot = match cmd.on_host {
                    true => None,
                    false => self.runner.cannot_run(&argv0),
                };
                if let Some(why) = cannot {
                    Ok(Outcome::NotRun(why))
                } else {
                    tracing::debug!("Running command {}", cmd.display());
                    match self.runner.run(cmd) {
                        Ok(exit) if cmd.succeeded(&exit) => Ok(Outcome::Done),
                        Ok(exit) => Err(ApplyError::CommandFailed {
                            command: cmd.display(),
                            exit: exit.describe(),
                        }),
                        Err(error) => Err(ApplyError::CommandNotStarted {
                            program: argv0,
                            error,
                        }),
                    }
                }
            }
            Effect::RunParts {
                scripts,
                env,
                prefix,
                progress,
                ..
            } => match self.run_parts(scripts, env, prefix, progress.as_deref()) {
                Ok(None) => Ok(Outcome::Done),
                Ok(Some(why)) => Ok(Outcome::NotRun(why)),
                Err(e) => Err(e),
            },
            Effect::Console(text) => {
                self.runner.note(text);
                Ok(Outcome::Done)
            }
            Effect::Http(req) => match send(req) {
                Ok((note, body)) => {
                    let saved = match &req.save_to {
                        Some((path, mode)) if !body.is_empty() => self
                            .root
                            .write_bytes(path, &body, *mode, None)
                            .map_err(|error| ApplyError::Write {
                                path: path.clone(),
                                error,
                            }),
                        _ => Ok(()),
                    };
                    let mut r = Record::new(
                        effect,
                        match saved {
                            Ok(()) => Outcome::Done,
                            Err(e) => Outcome::Failed(e.to_string()),
                        },
                    );
                    r.detail = Some(note);
                    return r;
                }
                Err(last) => {
                    // The configured wording is the warning; the last
                    // attempt's error goes to the debug log and the record.
                    tracing::debug!("{}: {last}", req.failure);
                    let mut r = Record::new(effect, Outcome::Failed(req.failure.clone()));
                    tracing::warn!("{}", req.failure);
                    r.detail = Some(last.to_string());
                    return r;
                }
            },
            Effect::Host(action) => match self.ask(action) {
                Answer::NotAsked(outcome) => Ok(outcome),
                Answer::Exited(exit) if exit.success() => Ok(Outcome::Done),
                Answer::Exited(exit) => Err(ApplyError::Host {
                    what: action.what.clone(),
                    error: exit.describe(),
                }),
                Answer::NotStarted(error) => Err(ApplyError::Host {
                    what: action.what.clone(),
                    error,
                }),
            },
            Effect::Probe(_) | Effect::Later(_) => Err(ApplyError::ProbeOutsideApplyAll),
        };
        let outcome = outcome.unwrap_or_else(|e| Outcome::Failed(e.to_string()));
        if let Outcome::Failed(msg) = &outcome {
            tracing::warn!("{msg}");
        }
        Record::new(effect, outcome)
    }
}

/// Whether the file at `path` holds exactly `bytes`, compared a block at a
/// time (a large file is not read whole beside its new content).
fn holds(root: &Root, path: &Path, bytes: &[u8]) -> bool {
    use std::io::Read;
    let Ok(mut f) = root.open_read(path) else {
        return false;
    };
    let mut buf = [0u8; 64 * 1024];
    let mut rest = bytes;
    loop {
        match f.read(&mut buf) {
            Ok(0) => return rest.is_empty(),
            Ok(n) if n <= rest.len() && buf[..n] == rest[..n] => rest = &rest[n..],
            Ok(_) => return false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// Bounds for each attempt of an [`Effect::Http`]: cloud-init's `readurl`
/// has no timeout there, so a server that never answers would hold boot.
const HTTP_EFFECT_LIMITS: crate::http::Limits = crate::http::Limits {
    connect_timeout: std::time::Duration::from_secs(5),
    total_timeout: std::time::Duration::from_secs(20),
    max_body: 1 << 20,
};

/// Sends `req` as cloud-init's `readurl` does: up to `tries` attempts, a
/// pause between them, an answer below 400 is success
/// (`raise_for_status`). A URL cloudboot cannot fetch at all (https, a bad
/// port) is not retried: every attempt would fail the same way at once.
/// Returns a note and the body on success, the last error otherwise.
fn send(req: &HttpRequest) -> Result<(String, Vec<u8>), ApplyError> {
    let headers: Vec<(&str, &str)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let body = req.body.as_ref().map(|d| d.bytes.as_slice());
    let tries = req.tries.max(1);
    let mut i = 0;
    loop {
        tracing::debug!(
            "[{i}/{tries}] open '{}' with {} configuration",
            req.url,
            req.method
        );
        let error = match crate::http::request(
            &req.method,
            &req.url,
            &headers,
            body,
            &HTTP_EFFECT_LIMITS,
        ) {
            Ok(resp) if resp.status < 400 => {
                tracing::debug!(
                    "Read from {} ({}, {}b) after {} attempts",
                    req.url,
                    resp.status,
                    resp.body.len(),
                    i + 1
                );
                let note = format!("HTTP {} after {} attempt(s)", resp.status, i + 1);
                return Ok((note, resp.body));
            }
            Ok(resp) => ApplyError::HttpStatus {
                method: req.method.clone(),
                url: req.url.clone(),
                status: resp.status,
            },
            Err(e @ HttpError::Url(..)) => return Err(e.into()),
            Err(e) => e.into(),
        };
        tracing::debug!("{error}");
        if i + 1 >= tries {
            return Err(error);
        }
        if !req.retry_delay.is_zero() {
            tracing::debug!(
                "Please wait {} seconds while we wait to try again",
                req.retry_delay.as_secs_f64()
            );
            std::thread::sleep(req.retry_delay);
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::effect::HostAction;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn host_actions_on_a_scratch_root_are_recorded_not_performed() {
        let tmp = tempfile::tempdir().unwrap();
        let marker = std::env::temp_dir().join(format!("cloudboot-host-{}", std::process::id()));
        let root = Root::new(tmp.path());
        let mut t = LiveTarget::new(root.clone(), Runner::new(root, None, false));
        let r = t.apply(&Effect::Host(HostAction {
            what: "touch a file on the host".into(),
            argv: vec![
                "/usr/bin/touch".into(),
                marker.to_string_lossy().into_owned(),
            ],
        }));
        assert!(
            matches!(&r.outcome, Outcome::NotRun(why) if why.contains("recorded, not performed"))
        );
        assert!(!marker.exists());
    }

    fn scratch(passwd: &str) -> (tempfile::TempDir, LiveTarget) {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("etc")).unwrap();
        std::fs::write(tmp.path().join("etc/passwd"), passwd).unwrap();
        std::fs::write(tmp.path().join("etc/group"), "root:x:0:\nann:x:1500:\n").unwrap();
        let root = Root::new(tmp.path());
        let t = LiveTarget::new(root.clone(), Runner::new(root, None, false));
        (tmp, t)
    }

    /// A later step: `/etc/app.conf` as it is when applied, plus a line.
    fn append_line() -> Effect {
        Effect::Later(crate::effect::later::Later::new(
            "add a line to /etc/app.conf",
            |fs: &dyn FsView| {
                let Ok(mut text) = fs.read(Path::new("/etc/app.conf")) else {
                    return Err("/etc/app.conf: not there".to_string());
                };
                text.extend_from_slice(b"added\n");
                Ok(vec![Effect::write(
                    "/etc/app.conf",
                    Data::public(text),
                    0o644,
                )])
            },
        ))
    }

    #[test]
    fn a_later_step_works_on_what_the_steps_before_it_wrote() {
        // As a package install brings a config file the module then edits.
        let (tmp, mut t) = scratch("root:x:0:0::/root:/bin/sh\n");
        let effects = [
            Effect::write("/etc/app.conf", Data::public("packaged\n"), 0o644),
            append_line(),
        ];
        let applied = apply_all(&mut t, &effects);
        assert!(applied.errors.is_empty(), "{:?}", applied.errors);
        assert_eq!(
            fs::read_to_string(tmp.path().join("etc/app.conf")).unwrap(),
            "packaged\nadded\n"
        );
        // Its record, then the record of what it worked out.
        assert_eq!(applied.records.len(), 3);
        assert_eq!(applied.records[1].outcome, Outcome::Done);
        // A plan works it out on the planned root.
        let mut plan = crate::plan::PlanTarget::new(Root::new(tmp.path()));
        let planned = apply_all(&mut plan, &[append_line()]);
        assert_eq!(planned.records[0].outcome, Outcome::Planned);
        assert!(planned.errors.is_empty());
    }

    #[test]
    fn a_later_step_that_cannot_be_worked_out_fails_and_writes_nothing() {
        let (tmp, mut t) = scratch("root:x:0:0::/root:/bin/sh\n");
        let applied = apply_all(&mut t, &[append_line()]);
        assert_eq!(applied.errors, ["/etc/app.conf: not there"]);
        assert!(!tmp.path().join("etc/app.conf").exists());
    }

    fn keys_file() -> Effect {
        Effect::WriteFile {
            path: "/home/ann/.ssh/authorized_keys".into(),
            data: Data::public("ssh-ed25519 AAAA k\n"),
            mode: 0o600,
            owner: Some(Owner::by_name("ann", "ann")),
            append: Append::No,
        }
    }

    #[test]
    fn owners_by_name_are_looked_up_when_applied() {
        // useradd ran (here: the line is there) before the write is applied.
        let (tmp, mut t) =
            scratch("root:x:0:0::/root:/bin/sh\nann:x:1500:1500::/home/ann:/bin/sh\n");
        let r = t.apply(&keys_file());
        assert_eq!(r.outcome, Outcome::Done, "{r:?}");
        let host = tmp.path().join("home/ann/.ssh/authorized_keys");
        if crate::skip::require_for(
            "the owner on disk",
            &[crate::skip::Need::Root("to give files to other users")],
        ) {
            use std::os::unix::fs::MetadataExt;
            let md = fs::metadata(&host).unwrap();
            assert_eq!((md.uid(), md.gid()), (1500, 1500));
            assert_eq!(r.detail, None);
        } else {
            assert_eq!(
                r.detail.as_deref(),
                Some("owner ann:ann recorded, not applied (not running as root)")
            );
        }
        let r = t.apply(&Effect::Chown {
            path: "/home/ann/.ssh".into(),
            owner: Some(Owner::by_name("ann", "ann")),
            mode: Some(0o700),
        });
        assert_eq!(r.outcome, Outcome::Done, "{r:?}");
        assert_eq!(
            fs::metadata(tmp.path().join("home/ann/.ssh"))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777,
            0o700
        );
    }

    #[test]
    fn an_unknown_owner_is_recorded_where_programs_do_not_run_and_fails_where_they_do() {
        // A scratch root (no /bin/sh): useradd was listed, not run.
        let (tmp, mut t) = scratch("root:x:0:0::/root:/bin/sh\n");
        let r = t.apply(&keys_file());
        assert_eq!(r.outcome, Outcome::Done);
        let note = r.detail.unwrap();
        assert!(
            note.starts_with("owner ann:ann recorded, not applied"),
            "{note}"
        );
        assert!(tmp.path().join("home/ann/.ssh/authorized_keys").exists());
        // A root that runs programs, as root: useradd should have made ann.
        if crate::skip::require_for(
            "a root where programs run",
            &[crate::skip::Need::Root("to run programs in a scratch root")],
        ) {
            let (tmp, mut t) = scratch("root:x:0:0::/root:/bin/sh\n");
            fs::create_dir_all(tmp.path().join("bin")).unwrap();
            fs::write(tmp.path().join("bin/sh"), "").unwrap();
            let r = t.apply(&keys_file());
            match &r.outcome {
                Outcome::Failed(msg) => assert!(
                    msg.contains("owner ann:ann: user 'ann' does not exist in /etc/passwd"),
                    "{msg}"
                ),
                other => panic!("{other:?}"),
            }
            assert!(!tmp.path().join("home/ann/.ssh/authorized_keys").exists());
        }
    }
}
