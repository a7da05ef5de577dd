//! Effects: what a module (or the engine) wants done, as data.
//!
//! Modules never touch the disk or start programs. They return effects; the
//! live target applies them, the plan target prints them. Bytes that are
//! secret (passwords, keys, user-data) are marked, and every printer shows
//! `<redacted>` in their place.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use crate::rootfs::FsView;

pub mod later;
mod outcome;
pub mod probe;
pub mod progress;

pub use outcome::{Exit, Outcome, Record};

/// File content or program input, with a mark for secrets.
#[derive(Clone, Debug, PartialEq)]
pub struct Data {
    /// The content; gzip-compressed when `gunzip_limit` is set.
    pub bytes: Vec<u8>,
    pub secret: bool,
    /// `Some(limit)`: `bytes` is gzip data, decompressed as it is written
    /// (never whole in memory), and more than `limit` bytes of it is an
    /// error that leaves the old file in place.
    pub gunzip_limit: Option<u64>,
}

impl Data {
    pub fn public(bytes: impl Into<Vec<u8>>) -> Data {
        Data {
            bytes: bytes.into(),
            secret: false,
            gunzip_limit: None,
        }
    }

    pub fn secret(bytes: impl Into<Vec<u8>>) -> Data {
        Data {
            bytes: bytes.into(),
            secret: true,
            gunzip_limit: None,
        }
    }

    /// gzip data, to be written decompressed, at most `limit` bytes of it.
    pub fn gzipped(compressed: Vec<u8>, limit: u64, secret: bool) -> Data {
        Data {
            bytes: compressed,
            secret,
            gunzip_limit: Some(limit),
        }
    }

    /// The content as it is to be written: a stream that decompresses gzip
    /// data as it is read and fails, naming the limit, past it.
    pub fn reader(&self) -> Box<dyn std::io::Read + '_> {
        match self.gunzip_limit {
            None => Box::new(&self.bytes[..]),
            Some(limit) => Box::new(Gunzip {
                inner: flate2::read::GzDecoder::new(&self.bytes[..]),
                left: limit,
                limit,
            }),
        }
    }
}

/// A gzip stream cut at a limit (see [`Data::reader`]).
struct Gunzip<'a> {
    inner: flate2::read::GzDecoder<&'a [u8]>,
    left: u64,
    limit: u64,
}

impl std::io::Read for Gunzip<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // One byte more than allowed tells "exactly the limit" from "more".
        let want = buf.len().min(self.left.saturating_add(1) as usize);
        let n = self.inner.read(&mut buf[..want]).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not gzip data: {e}"),
            )
        })?;
        if n as u64 > self.left {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "decompressed content is larger than the limit of {} bytes (cloudboot.limits.write_file_bytes)",
                    self.limit
                ),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// How a write treats what the file already holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Append {
    /// Replace the file.
    No,
    /// Add to the end.
    Always,
    /// Add to the end once per instance, even if the module runs again
    /// after a crash (its semaphore is written only when it finished):
    /// `record`, under the instance directory, remembers where the bytes
    /// went, and an append whose bytes are there already is not repeated.
    OncePerInstance { record: PathBuf },
}

impl From<bool> for Append {
    fn from(append: bool) -> Append {
        if append {
            Append::Always
        } else {
            Append::No
        }
    }
}

impl Append {
    pub fn is_append(&self) -> bool {
        *self != Append::No
    }
}

/// Whether the once-per-instance append of `data` to `path` is already
/// done: its record names an offset where the file holds exactly `data`.
/// (Shared by the live and plan targets: one decision.)
pub fn already_appended(fs: &dyn FsView, path: &Path, data: &Data, record: &Path) -> bool {
    let Some(offset) = fs
        .read_string(record)
        .and_then(|t| t.lines().next()?.trim().parse::<usize>().ok())
    else {
        return false;
    };
    let Ok(now) = fs.read(path) else {
        return false;
    };
    offset
        .checked_add(data.bytes.len())
        .and_then(|end| now.get(offset..end))
        .is_some_and(|held| held == data.bytes.as_slice())
}

/// One half of an owner: a name, and its id when it was known at plan time.
/// A name without an id (a user or group that an earlier effect of the same
/// run creates, such as `useradd`) is looked up in the target root's
/// `/etc/passwd` or `/etc/group` when the effect is applied.
#[derive(Clone, Debug, PartialEq)]
pub struct Named {
    pub name: String,
    pub id: Option<u32>,
}

impl Named {
    pub fn known(name: impl Into<String>, id: u32) -> Named {
        Named {
            name: name.into(),
            id: Some(id),
        }
    }

    /// A name to be looked up when the effect is applied.
    pub fn lookup(name: impl Into<String>) -> Named {
        Named {
            name: name.into(),
            id: None,
        }
    }
}

/// An owner as written in config (`user:group`) and as resolved in the root.
/// Plans and logs show it by name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Owner {
    pub user: Option<Named>,
    pub group: Option<Named>,
}

impl Owner {
    pub fn root() -> Owner {
        Owner {
            user: Some(Named::known("root", 0)),
            group: Some(Named::known("root", 0)),
        }
    }

    /// `user:group` by name, both looked up when the effect is applied.
    pub fn by_name(user: &str, group: &str) -> Owner {
        Owner {
            user: Some(Named::lookup(user)),
            group: Some(Named::lookup(group)),
        }
    }

    /// The ids known at plan time (a name still to be looked up gives `None`).
    pub fn ids(&self) -> (Option<u32>, Option<u32>) {
        (
            self.user.as_ref().and_then(|u| u.id),
            self.group.as_ref().and_then(|g| g.id),
        )
    }

    /// Whether every half that is set has its id.
    pub fn is_resolved(&self) -> bool {
        self.user.as_ref().is_none_or(|u| u.id.is_some())
            && self.group.as_ref().is_none_or(|g| g.id.is_some())
    }

    /// The ids, names looked up in the root behind `fs` where they were not
    /// known at plan time. An unset half stays `None` (left as it is).
    pub fn resolve(&self, fs: &dyn FsView) -> Result<(Option<u32>, Option<u32>), UnknownOwner> {
        let one = |n: &Option<Named>,
                   file: &'static str,
                   what: &'static str|
         -> Result<Option<u32>, UnknownOwner> {
            match n {
                None => Ok(None),
                Some(Named { id: Some(id), .. }) => Ok(Some(*id)),
                Some(Named { name, id: None }) => lookup_id(fs, Path::new(file), name)
                    .map(Some)
                    .ok_or_else(|| UnknownOwner {
                        what,
                        name: name.clone(),
                        file,
                    }),
            }
        };
        Ok((
            one(&self.user, "/etc/passwd", "user")?,
            one(&self.group, "/etc/group", "group")?,
        ))
    }
}

/// An owner's user or group that the root's `/etc/passwd` or `/etc/group`
/// does not have.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{what} '{name}' does not exist in {file}")]
pub struct UnknownOwner {
    /// `user` or `group`.
    pub what: &'static str,
    pub name: String,
    /// The file it was looked up in.
    pub file: &'static str,
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let u = self.user.as_ref().map(|u| u.name.as_str()).unwrap_or("-");
        let g = self.group.as_ref().map(|g| g.name.as_str()).unwrap_or("-");
        write!(f, "{u}:{g}")
    }
}

/// `name:x:id:...` lookup in `/etc/passwd` or `/etc/group`; numeric names are
/// taken as ids, as chown does.
pub fn lookup_id(fs: &dyn FsView, file: &Path, name: &str) -> Option<u32> {
    id_in(fs.read_string(file).as_deref(), name)
}

/// [`lookup_id`] in the text of `/etc/passwd` or `/etc/group` (`None`: no file).
pub fn id_in(text: Option<&str>, name: &str) -> Option<u32> {
    if let Some(text) = text {
        for line in text.lines() {
            let mut f = line.split(':');
            if f.next() == Some(name) {
                return f.nth(1).and_then(|id| id.parse().ok());
            }
        }
    }
    // Well-known ids exist even where a scratch root has no /etc/passwd yet.
    match name {
        "root" => Some(0),
        n => n.parse().ok(),
    }
}

/// What plans and logs show in place of a secret.
pub const REDACTED: &str = "<redacted>";

/// What to do when a program exits non-zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnFailure {
    /// Report it; the module fails, its remaining effects are not applied.
    Fatal,
    /// Report it; the module fails, its remaining effects still apply.
    Report,
    /// Log it only.
    Ignore,
}

/// A program to run inside the target root.
#[derive(Clone, Debug, PartialEq)]
pub struct Command {
    pub argv: Vec<String>,
    /// Given on stdin (how passwords reach `chpasswd`, never on the command line).
    pub stdin: Option<Data>,
    pub env: Vec<(String, String)>,
    pub on_failure: OnFailure,
    /// Files the program is known to create, so a plan's overlay can follow it.
    pub creates: Vec<PathBuf>,
    /// Indexes into `argv` of secret arguments (a password hash that the tool
    /// only takes on its command line): the program gets them, every log,
    /// plan and error message shows `<redacted>`.
    pub secret_args: Vec<usize>,
    /// A script of cloudboot's own on the command line (`sh -c SCRIPT`,
    /// `python3 -c SCRIPT`): its index in `argv` and what it does. Text
    /// logs and plans show `<script: what it does>` in its place, so the
    /// line reads as the program it runs; `plan --format json` has it whole.
    pub script: Option<(usize, &'static str)>,
    /// Run on the machine cloudboot runs on, not inside the root: the
    /// block-device tools (growpart, resize2fs, sfdisk, mkfs), which act on
    /// the running kernel's devices, which a root's own `/dev` and `/proc`
    /// (empty in a root that is not booted) do not show.
    pub on_host: bool,
    /// Exit codes besides 0 that are no failure (growpart's 1: nothing to grow).
    pub ok_codes: Vec<i32>,
    /// Started and not waited for (resizefs's `noblock`): its end is
    /// logged, never reported.
    pub background: bool,
    /// Locks other processes may hold that the program needs (apt's and
    /// dpkg's): see [`LockWait`].
    pub lock_wait: Option<LockWait>,
}

/// Lock files (guest paths) whose `fcntl` locks must all be free before a
/// program runs, as debian.py's `_wait_for_apt_command` waits for apt's:
/// a file that does not exist is no lock; while one is held by another
/// process the run waits (a second at a time); should the program fail
/// while one is held again (another process took it in between), it is
/// run again once they are free. After `timeout` without a run that
/// counts, the command fails with "Could not get apt lock".
#[derive(Clone, Debug, PartialEq)]
pub struct LockWait {
    pub files: Vec<PathBuf>,
    pub timeout: Duration,
}

impl Command {
    pub fn new<S: Into<String>>(argv: impl IntoIterator<Item = S>) -> Command {
        Command {
            argv: argv.into_iter().map(Into::into).collect(),
            stdin: None,
            env: Vec::new(),
            on_failure: OnFailure::Fatal,
            creates: Vec::new(),
            secret_args: Vec::new(),
            script: None,
            on_host: false,
            ok_codes: Vec::new(),
            background: false,
            lock_wait: None,
        }
    }

    /// Waits for locks before it runs (see [`LockWait`]).
    pub fn lock_wait(mut self, wait: LockWait) -> Command {
        self.lock_wait = Some(wait);
        self
    }

    /// Runs it on the machine, not in the root (see [`Command::on_host`]).
    pub fn on_host(mut self) -> Command {
        self.on_host = true;
        self
    }

    /// Exit codes besides 0 that count as success.
    pub fn ok_codes(mut self, codes: &[i32]) -> Command {
        self.ok_codes = codes.to_vec();
        self
    }

    /// Starts it and does not wait (see [`Command::background`]).
    pub fn background(mut self) -> Command {
        self.background = true;
        self
    }

    /// Whether `exit` is success for this command.
    pub fn succeeded(&self, exit: &Exit) -> bool {
        exit.success() || matches!(exit, Exit::Code(c) if self.ok_codes.contains(c))
    }

    /// Appends a secret argument (see [`Command::secret_args`]).
    pub fn secret_arg(mut self, arg: impl Into<String>) -> Command {
        self.secret_args.push(self.argv.len());
        self.argv.push(arg.into());
        self
    }

    /// Names the script given after the first `-c` (see
    /// [`Command::script`]).
    pub fn script_named(mut self, what: &'static str) -> Command {
        let at = self.argv.iter().position(|a| a == "-c").map(|i| i + 1);
        self.script = at.filter(|i| *i < self.argv.len()).map(|i| (i, what));
        self
    }

    /// Marks files the program creates (see [`Command::creates`]).
    pub fn creates(mut self, path: impl Into<PathBuf>) -> Command {
        self.creates.push(path.into());
        self
    }

    /// The argv with secret arguments replaced by `<redacted>`.
    pub fn redacted_argv(&self) -> Vec<String> {
        self.redacted_with(str::to_string)
    }

    /// Each argument through `show`, a secret one as `<redacted>`.
    fn redacted_with(&self, show: impl Fn(&str) -> String) -> Vec<String> {
        self.argv
            .iter()
            .enumerate()
            .map(|(i, a)| match self.secret_args.contains(&i) {
                true => REDACTED.to_string(),
                false => show(a),
            })
            .collect()
    }

    pub fn env(mut self, key: &str, value: &str) -> Command {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn on_failure(mut self, policy: OnFailure) -> Command {
        self.on_failure = policy;
        self
    }

    /// The command line as a shell user would type it (for logs and plans),
    /// secret arguments redacted.
    pub fn display(&self) -> String {
        let mut shown = self.redacted_with(shell_quote);
        if let Some((i, what)) = self.script {
            shown[i] = format!("<script: {what}>");
        }
        shown.join(" ")
    }
}

/// Quotes an argument for display (logs and plans) only when it needs it:
/// bare where `shlex.quote` would leave it bare, else quoted as
/// `util.shellify` quotes (how cloudboot has always shown a `'`).
pub fn shell_quote(arg: &str) -> String {
    if crate::py::shell::shlex_safe(arg) {
        arg.to_string()
    } else {
        crate::py::shell::shellify_quote(arg)
    }
}

/// An action on the running machine (not on files). With a root other than `/`
/// it is recorded and reported, never performed.
#[derive(Clone, Debug, PartialEq)]
pub struct HostAction {
    /// What it does, in words ("set hostname to web1").
    pub what: String,
    /// How it is done on a live root `/`.
    pub argv: Vec<String>,
}

/// An HTTP request to send, with cloud-init's `readurl` retries (phone_home's
/// POST). A plan records it and sends nothing; a live run sends it, also
/// against a scratch `--root` (datasources fetch over HTTP there too).
#[derive(Clone, Debug, PartialEq)]
pub struct HttpRequest {
    /// `POST`, or `GET` when there is no body (`readurl` picks the method
    /// from whether there is data).
    pub method: String,
    pub url: String,
    /// Extra request headers (`Content-Type` of the body).
    pub headers: Vec<(String, String)>,
    pub body: Option<Data>,
    /// Attempts in all, at least 1.
    pub tries: u32,
    /// The pause between two attempts (`sec_between`).
    pub retry_delay: Duration,
    /// Logged as a warning when every attempt failed.
    pub failure: String,
    /// Whether a request that never succeeded fails the module
    /// (`OnFailure::Ignore`: cloud-init's `util.logexc` and carry on).
    pub on_failure: OnFailure,
    /// Where a successful, non-empty answer's body is written in the root,
    /// and its mode (a fetched script); `None`: the body is dropped.
    pub save_to: Option<(PathBuf, u32)>,
}

impl HttpRequest {
    /// The field names of a form-encoded body (shown by plans), in order.
    pub fn form_fields(&self) -> Option<Vec<String>> {
        let form = self.headers.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("content-type") && v == "application/x-www-form-urlencoded"
        });
        let body = self.body.as_ref()?;
        if !form {
            return None;
        }
        let text = String::from_utf8_lossy(&body.bytes);
        Some(
            text.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| crate::py::url::unquote_plus(p.split('=').next().unwrap_or_default()))
                .collect(),
        )
    }
}

/// One thing to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Write (or append to) a file, atomically, creating missing parents.
    WriteFile {
        path: PathBuf,
        data: Data,
        mode: u32,
        owner: Option<Owner>,
        append: Append,
    },
    /// Create a directory with `mode` (missing parents get 0755).
    Mkdir { path: PathBuf, mode: u32 },
    /// Give an existing path an owner and/or a mode (cloud-init's
    /// `chownbyid` and `chmod` after a program or a makedirs made it).
    Chown {
        path: PathBuf,
        owner: Option<Owner>,
        mode: Option<u32>,
    },
    /// Create or replace a symlink.
    Symlink { path: PathBuf, target: PathBuf },
    /// Remove a file or symlink (absent is fine).
    Remove { path: PathBuf },
    /// Run a program.
    Run(Command),
    /// Run every executable file in `dir`, in sorted order, as cloud-init's
    /// `runparts`; a failing one does not stop the rest, but fails the module.
    RunParts {
        dir: PathBuf,
        scripts: Vec<PathBuf>,
        env: Vec<(String, String)>,
        /// Put before each script (`vendor_data: prefix`), e.g. `[timeout, 30]`.
        prefix: Vec<String>,
        /// Where each script is recorded as started (durably, before it
        /// runs) and finished, so that a run of the module cut short is
        /// taken up without running any script a second time.
        progress: Option<PathBuf>,
    },
    /// Act on the running machine.
    Host(HostAction),
    /// Ask the running machine (a program's exit code), then apply the
    /// effects the answer picks (see [`crate::probe`]).
    Probe(probe::Probe),
    /// Work out effects from the files as they are when applied, then
    /// apply them (see [`later`]).
    Later(later::Later),
    /// A message for the console and `/var/log/cloud-init-output.log`.
    Console(String),
    /// Send an HTTP request (never in a plan).
    Http(HttpRequest),
}

/// Whether a write's content stays out of plans and logs: secret bytes, or
/// a file others may not read (a runcmd script at 0700, a sudoers file at
/// 0440). What the file's mode hides on disk, a plan does not print either.
pub fn hides_content(data: &Data, mode: u32) -> bool {
    data.secret || mode & 0o004 == 0
}

impl Effect {
    /// The path an effect on the filesystem acts on.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Effect::WriteFile { path, .. }
            | Effect::Mkdir { path, .. }
            | Effect::Chown { path, .. }
            | Effect::Symlink { path, .. }
            | Effect::Remove { path } => Some(path),
            _ => None,
        }
    }

    pub fn write(path: impl Into<PathBuf>, data: Data, mode: u32) -> Effect {
        Effect::WriteFile {
            path: path.into(),
            data,
            mode,
            owner: None,
            append: Append::No,
        }
    }

    /// Whether applying it does more than change files in the root (a
    /// program, a request, a question to the host): such effects are not
    /// repeated harmlessly.
    pub fn acts_beyond_files(&self) -> bool {
        !matches!(
            self,
            Effect::WriteFile { .. }
                | Effect::Mkdir { .. }
                | Effect::Chown { .. }
                | Effect::Symlink { .. }
                | Effect::Remove { .. }
                | Effect::Console(_)
        )
    }

    /// The verb a plan prints first.
    pub fn verb(&self) -> &'static str {
        match self {
            Effect::WriteFile {
                append: Append::No, ..
            } => "write",
            Effect::WriteFile { .. } => "append",
            Effect::Mkdir { .. } => "mkdir",
            Effect::Chown { .. } => "chown",
            Effect::Symlink { .. } => "symlink",
            Effect::Remove { .. } => "remove",
            Effect::Run(_) => "run",
            Effect::RunParts { .. } => "run-parts",
            Effect::Host(_) | Effect::Probe(_) => "host",
            Effect::Later(_) => "then",
            Effect::Console(_) => "console",
            Effect::Http(_) => "http",
        }
    }

    /// One line describing the effect, secrets redacted.
    pub fn summary(&self) -> String {
        match self {
            Effect::WriteFile {
                path,
                data,
                mode,
                owner,
                ..
            } => {
                let owner = owner.as_ref().map(|o| format!(" {o}")).unwrap_or_default();
                let secret = if data.secret {
                    ", secret"
                } else if hides_content(data, *mode) {
                    ", not world-readable"
                } else {
                    ""
                };
                let size = match data.gunzip_limit {
                    None => format!("{} bytes", data.bytes.len()),
                    Some(_) => format!("{} bytes gzip", data.bytes.len()),
                };
                format!(
                    "{} {} ({:04o}{owner}, {size}{secret})",
                    self.verb(),
                    path.display(),
                    mode,
                )
            }
            Effect::Mkdir { path, mode } => format!("mkdir {} ({mode:04o})", path.display()),
            Effect::Chown { path, owner, mode } => {
                let mut what = Vec::new();
                if let Some(o) = owner {
                    what.push(o.to_string());
                }
                if let Some(m) = mode {
                    what.push(format!("{m:04o}"));
                }
                format!("chown {} ({})", path.display(), what.join(", "))
            }
            Effect::Symlink { path, target } => {
                format!("symlink {} -> {}", path.display(), target.display())
            }
            Effect::Remove { path } => format!("remove {}", path.display()),
            Effect::Run(cmd) => {
                let mut s = format!("run {}", cmd.display());
                if let Some(stdin) = &cmd.stdin {
                    if stdin.secret {
                        s.push_str(" < <redacted>");
                    } else {
                        s.push_str(&format!(" < ({} bytes on stdin)", stdin.bytes.len()));
                    }
                }
                if cmd.on_host {
                    s.push_str(" (on this machine, not in the root)");
                }
                if cmd.background {
                    s.push_str(" (in the background)");
                }
                s
            }
            Effect::RunParts {
                dir,
                scripts,
                prefix,
                ..
            } => {
                let names: Vec<String> = scripts
                    .iter()
                    .map(|s| {
                        s.file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default()
                    })
                    .collect();
                let prefix = if prefix.is_empty() {
                    String::new()
                } else {
                    format!(" with prefix {}", prefix.join(" "))
                };
                format!("run-parts {} [{}]{prefix}", dir.display(), names.join(", "))
            }
            Effect::Host(h) => format!("host {}", h.what),
            Effect::Probe(p) => p.summary(),
            Effect::Later(l) => l.summary(),
            Effect::Console(text) => format!("console {text}"),
            Effect::Http(r) => {
                let body = match (&r.body, r.form_fields()) {
                    (None, _) => "no body".to_string(),
                    (Some(d), _) if d.secret => "body <redacted>".to_string(),
                    (Some(_), Some(fields)) => format!("form: {}", fields.join(", ")),
                    (Some(d), None) => format!("{} bytes", d.bytes.len()),
                };
                let save = match &r.save_to {
                    Some((path, mode)) => format!(", body to {} ({mode:04o})", path.display()),
                    None => String::new(),
                };
                format!(
                    "http {} {} ({body}; {} {}, {}s apart{save})",
                    r.method,
                    r.url,
                    r.tries,
                    if r.tries == 1 { "try" } else { "tries" },
                    r.retry_delay.as_secs_f64()
                )
            }
        }
    }

    /// JSON for `plan --format json`; secret bytes are never included.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Effect::WriteFile {
                path,
                data,
                mode,
                owner,
                append,
            } => json!({
                "action": self.verb(),
                "path": path,
                "mode": format!("{mode:04o}"),
                "owner": owner.as_ref().map(|o| o.to_string()),
                "append": append.is_append(),
                "bytes": data.bytes.len(),
                "content": if hides_content(data, *mode) {
                    serde_json::Value::from("<redacted>")
                } else if data.gunzip_limit.is_some() {
                    serde_json::Value::from(format!("<gzip, {} bytes>", data.bytes.len()))
                } else {
                    serde_json::Value::from(String::from_utf8_lossy(&data.bytes).into_owned())
                },
            }),
            Effect::Mkdir { path, mode } => {
                json!({"action": "mkdir", "path": path, "mode": format!("{mode:04o}")})
            }
            Effect::Chown { path, owner, mode } => json!({
                "action": "chown",
                "path": path,
                "owner": owner.as_ref().map(|o| o.to_string()),
                "mode": mode.map(|m| format!("{m:04o}")),
            }),
            Effect::Symlink { path, target } => {
                json!({"action": "symlink", "path": path, "target": target})
            }
            Effect::Remove { path } => json!({"action": "remove", "path": path}),
            Effect::Run(cmd) => {
                let mut j = json!({
                    "action": "run",
                    "argv": cmd.redacted_argv(),
                    "env": cmd.env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
                    "stdin": cmd.stdin.as_ref().map(|d| if d.secret {
                        "<redacted>".to_string()
                    } else {
                        String::from_utf8_lossy(&d.bytes).into_owned()
                    }),
                });
                // Only where set, so the plans of every other command keep
                // their shape.
                if cmd.on_host {
                    j["on_host"] = true.into();
                }
                if cmd.background {
                    j["background"] = true.into();
                }
                j
            }
            Effect::RunParts {
                dir,
                scripts,
                env,
                prefix,
                ..
            } => json!({
                "action": "run-parts",
                "dir": dir,
                "scripts": scripts,
                "prefix": prefix,
                "env": env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
            }),
            Effect::Host(h) => json!({"action": "host", "what": h.what, "argv": h.argv}),
            Effect::Probe(p) => p.to_json(),
            Effect::Later(l) => l.to_json(),
            Effect::Console(text) => json!({"action": "console", "text": text}),
            Effect::Http(r) => json!({
                "action": "http",
                "method": r.method,
                "url": r.url,
                "headers": r.headers.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>(),
                "fields": r.form_fields(),
                "body": r.body.as_ref().map(|d| if d.secret {
                    "<redacted>".to_string()
                } else {
                    String::from_utf8_lossy(&d.bytes).into_owned()
                }),
                "tries": r.tries,
                "retry_delay": r.retry_delay.as_secs_f64(),
                "save_to": r.save_to.as_ref().map(|(p, _)| p.display().to_string()),
            }),
        }
    }
}

/// What a list of effects does, for the unit tests of the code that plans
/// them: a test asks "which files does this stage write, which links does it
/// make" and compares paths.
#[cfg(test)]
pub mod testing {
    use super::Effect;
    use std::path::Path;

    /// The paths the effects write or append to, in order.
    pub fn written_paths(effects: &[Effect]) -> Vec<&Path> {
        paths_of(effects, |e| matches!(e, Effect::WriteFile { .. }))
    }

    /// The paths the effects make (or replace) symlinks at, in order.
    pub fn symlinked_paths(effects: &[Effect]) -> Vec<&Path> {
        paths_of(effects, |e| matches!(e, Effect::Symlink { .. }))
    }

    fn paths_of(effects: &[Effect], kind: impl Fn(&Effect) -> bool) -> Vec<&Path> {
        effects
            .iter()
            .filter(|e| kind(e))
            .filter_map(Effect::path)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_arguments_are_redacted_everywhere_but_the_argv() {
        let cmd = Command::new(["useradd", "alice", "--password"])
            .secret_arg("$6$salt$hash with 'quotes'")
            .creates("/home/alice");
        assert_eq!(cmd.argv[3], "$6$salt$hash with 'quotes'");
        assert_eq!(cmd.display(), "useradd alice --password <redacted>");
        let e = Effect::Run(cmd);
        assert_eq!(e.summary(), "run useradd alice --password <redacted>");
        let json = e.to_json().to_string();
        assert!(!json.contains("salt"), "{json}");
        assert!(json.contains("\"<redacted>\""), "{json}");
    }

    #[test]
    fn a_named_script_is_shown_by_what_it_does_and_kept_whole_in_the_argv() {
        let script = "import sys\nprint(sys.argv)\n";
        let cmd = Command::new(["python3", "-c", script, "ua", "enable", "it's"])
            .script_named("print the arguments");
        assert_eq!(cmd.argv[2], script);
        assert_eq!(
            cmd.display(),
            r"python3 -c <script: print the arguments> ua enable 'it'\''s'"
        );
        let json = Effect::Run(cmd).to_json();
        assert_eq!(json["argv"][2], script);
        // Without `-c` there is nothing to name.
        let plain = Command::new(["true"]).script_named("nothing");
        assert_eq!(plain.display(), "true");
    }

    #[test]
    fn owners_show_by_name_and_resolve_in_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("etc")).unwrap();
        std::fs::write(
            tmp.path().join("etc/passwd"),
            "alice:x:2001:2001::/h:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(tmp.path().join("etc/group"), "staff:x:50:\n").unwrap();
        let fs = crate::rootfs::RealFs {
            root: crate::rootfs::Root::new(tmp.path()),
        };
        let o = Owner::by_name("alice", "staff");
        assert_eq!(o.to_string(), "alice:staff");
        assert_eq!(o.ids(), (None, None));
        assert_eq!(o.resolve(&fs), Ok((Some(2001), Some(50))));
        let e = Owner::by_name("bob", "staff")
            .resolve(&fs)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "user 'bob' does not exist in /etc/passwd");
        assert_eq!(Owner::root().resolve(&fs), Ok((Some(0), Some(0))));
    }
}
