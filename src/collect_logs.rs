//! `cloud-init collect-logs [-v] [-t TARFILE] [-u]` (22.4's
//! `cloudinit/cmd/devel/logs.py`): a gzipped tarball of what a bug report
//! needs, laid out as 22.4 lays it out, under one directory named for the
//! day (UTC), `cloud-init-logs-YYYY-MM-DD/`:
//!
//! - `version` (what `cloud-init --version` prints), `dpkg-version`,
//!   `dmesg.txt`, `journal.txt`: the output of those programs, or, when one
//!   fails, 22.4's `ProcessExecutionError` text. The programs run only when
//!   the root is `/` (they describe the running machine, not the root);
//!   with another root each is recorded as a command that failed, saying so.
//! - `cloud-init.log`, `cloud-init-output.log`, when they are files.
//! - `user-data.txt` (the current instance's raw user-data) with `-u` only.
//! - `var/log/installer/...`: subiquity's and curtin's logs where present;
//!   the three directories are there even when empty, as 22.4 makes them.
//!   With `-u` also the installer's user-data (`autoinstall-user-data`,
//!   `/autoinstall.yaml`, `etc/cloud/cloud.cfg.d/99-installer.cfg`).
//! - `run/cloud-init/`: a copy of `/run/cloud-init` (links followed inside
//!   the root), without `instance-data-sensitive.json` unless `-u`. (22.4
//!   leaves it out only when run by a user other than root; the issue asks
//!   for sensitive data only with `-u`, so cloudboot always leaves it out
//!   without it, which is what 22.4 gives a non-root user.)
//! - `var/lib/cloud/data/`: when `/run/cloud-init/disabled` exists, the
//!   previous boot's state, as 22.4 falls back to it; without `-u`, less
//!   cloudboot's `cloudboot-yaml-cache` (its cache of parsed YAML, which
//!   holds user-data; cloud-init keeps no such file there).
//!
//! Every file is read under the root; the tarball is written where the user
//! says, a path on this machine (relative to the working directory), as
//! 22.4's is. It is written to a temporary name and renamed into place, so
//! a failure leaves no half tarball. Its mode is 22.4's 0644 unless it holds
//! a file its source kept from other users (cloud-init-output.log is 0640,
//! user-data 0600): then 0600, so collecting does not publish what the
//! machine kept private. The tar format is GNU tar's (as `tar czf` writes
//! it: GNU headers, `././@LongLink` for long names, 10240-byte records).

use std::ffi::OsStr;
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

use crate::argparse::{Arg, Matches, Parser};
use crate::paths::{Paths, LOG_FILE, OUTPUT_LOG_FILE, RUN_DIR};
use crate::rootfs::{Kind, Root};
use crate::value::python_str_repr;

/// `--tarfile`'s default (22.4's).
pub const DEFAULT_TARFILE: &str = "cloud-init.tar.gz";

/// What 22.4 refuses a non-root `-u` with (exit 1).
pub const USERDATA_NEEDS_ROOT: &str =
    "To include userdata, root user is required. Try sudo cloud-init collect-logs\n";

/// The file in the run directory that holds what instance-data.json
/// redacts: left out without `-u`.
const SENSITIVE: &[&str] = &["instance-data-sensitive.json"];

/// cloudboot's own file in `/var/lib/cloud/data` that holds user-data (its
/// cache of parsed YAML, `src/yaml/cache.rs`; cloud-init has no such file
/// there): left out of the disabled fallback's copy without `-u`.
const DATA_SENSITIVE: &[&str] = &["cloudboot-yaml-cache"];

/// `INSTALLER_APPORT_FILES`: collected when present.
const INSTALLER_FILES: [&str; 12] = [
    "/var/log/installer/ubuntu_desktop_installer.log",
    "/var/log/installer/subiquity-server-debug.log",
    "/var/log/installer/subiquity-client-debug.log",
    "/var/log/installer/curtin-install.log",
    "/var/log/installer/subiquity-curtin-install.conf",
    "/var/log/installer/curtin-install/subiquity-initial.conf",
    "/var/log/installer/curtin-install/subiquity-curthooks.conf",
    "/var/log/installer/curtin-install/subiquity-extract.conf",
    "/var/log/installer/curtin-install/subiquity-partitioning.conf",
    "/var/log/installer/curtin-error-logs.tar",
    "/var/log/installer/curtin-errors.tar",
    "/var/log/installer/block/probe-data.json",
];

/// `INSTALLER_APPORT_SENSITIVE_FILES`: collected with `-u` only.
const INSTALLER_SENSITIVE_FILES: [&str; 3] = [
    "/var/log/installer/autoinstall-user-data",
    "/autoinstall.yaml",
    "/etc/cloud/cloud.cfg.d/99-installer.cfg",
];

/// How deep a copied tree goes, and how many entries it may hold: a link
/// loop or a planted million files cannot make collecting endless.
const MAX_DEPTH: usize = 32;
const MAX_ENTRIES: usize = 100_000;

/// What the verb was asked.
#[derive(Clone, Debug)]
pub struct Request {
    /// The root whose logs are collected.
    pub root: PathBuf,
    /// The tarball, a path on this machine.
    pub tarfile: PathBuf,
    pub include_userdata: bool,
    /// `-v` given this many times (1: what was collected; 2: also what
    /// was not there).
    pub verbosity: u32,
}

/// Where a member's bytes come from.
#[derive(Debug)]
enum Body {
    Dir,
    Bytes(Vec<u8>),
    /// A file of the root, read when the tarball is written.
    Guest(PathBuf),
}

#[derive(Debug)]
struct Member {
    /// Relative to the tarball's top, without a trailing `/`.
    name: String,
    mode: u32,
    mtime: i64,
    body: Body,
}

/// The tarball's contents as they are gathered, and what went wrong.
struct Collection<'a> {
    root: &'a Root,
    top: String,
    now: i64,
    members: Vec<Member>,
    verbosity: u32,
    /// Copy errors, shown as 22.4's `shutil.Error` list is shown.
    errors: Vec<String>,
}

impl Collection<'_> {
    fn debug(&self, msg: &str, level: u32) {
        if level <= self.verbosity {
            eprint!("{msg}");
        }
    }

    fn has(&self, name: &str) -> bool {
        self.members.iter().any(|m| m.name == name)
    }

    /// `ensure_dir(log_dir + sub)`: the directory and its parents, 0755.
    fn ensure_dir(&mut self, sub: &str) {
        let mut name = self.top.clone();
        for part in sub.split('/').filter(|p| !p.is_empty()) {
            name = format!("{name}/{part}");
            if !self.has(&name) {
                self.members.push(Member {
                    name: name.clone(),
                    mode: 0o755,
                    mtime: self.now,
                    body: Body::Dir,
                });
            }
        }
    }

    fn bytes(&mut self, sub: &str, data: Vec<u8>) {
        self.members.push(Member {
            name: format!("{}/{sub}", self.top),
            mode: 0o644,
            mtime: self.now,
            body: Body::Bytes(data),
        });
    }

    /// `_collect_file(path, log_dir + sub)`: the file, when it is one
    /// (links followed inside the root), under its own name.
    fn collect_file(&mut self, guest: &str, sub: &str) {
        let path = Path::new(guest);
        match self.root.stat(path, true) {
            Ok(st) if st.kind == Kind::File => {
                let base = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let dir = if sub.is_empty() {
                    self.top.clone()
                } else {
                    format!("{}/{sub}", self.top)
                };
                self.members.push(Member {
                    name: format!("{dir}/{base}"),
                    // shutil.copy keeps the mode, not the time.
                    mode: st.mode & 0o7777,
                    mtime: self.now,
                    body: Body::Guest(path.to_path_buf()),
                });
                self.debug(&format!("collected file: {guest}\n"), 1);
            }
            _ => self.debug(&format!("file {guest} did not exist\n"), 2),
        }
    }

    /// `shutil.copytree(src, log_dir + dest)`: directories and files, links
    /// followed (inside the root); `skip` names files left out of every
    /// directory. What cannot be copied is an error and the copy goes on.
    fn copy_tree(&mut self, src: &Path, dest: &str, skip: &[&str]) {
        self.ensure_dir(
            Path::new(dest)
                .parent()
                .and_then(Path::to_str)
                .unwrap_or(""),
        );
        self.copy_dir(src, &format!("{}/{dest}", self.top), skip, 0);
    }

    fn copy_dir(&mut self, src: &Path, name: &str, skip: &[&str], depth: usize) {
        let st = match self.root.stat(src, true) {
            Ok(st) => st,
            Err(e) => return self.copy_error(src, name, &e.to_string()),
        };
        self.members.push(Member {
            name: name.to_string(),
            mode: st.mode & 0o7777,
            mtime: st.mtime,
            body: Body::Dir,
        });
        if depth >= MAX_DEPTH {
            return self.copy_error(src, name, "too deep (a link loop?): not copied further");
        }
        let entries = match self.root.list_dir(src) {
            Ok(e) => e,
            Err(e) => return self.copy_error(src, name, &e.to_string()),
        };
        for entry in entries {
            if skip.contains(&entry.as_str()) {
                continue;
            }
            if self.members.len() >= MAX_ENTRIES {
                return self.copy_error(src, name, "too many files: the rest not copied");
            }
            let (from, to) = (src.join(&entry), format!("{name}/{entry}"));
            match self.root.stat(&from, true) {
                Ok(st) if st.kind == Kind::Dir => self.copy_dir(&from, &to, skip, depth + 1),
                Ok(st) if st.kind == Kind::File => self.members.push(Member {
                    name: to,
                    mode: st.mode & 0o7777,
                    mtime: st.mtime,
                    body: Body::Guest(from),
                }),
                Ok(_) => self.copy_error(&from, &to, "not a regular file"),
                Err(e) => self.copy_error(&from, &to, &e.to_string()),
            }
        }
    }

    fn copy_error(&mut self, src: &Path, name: &str, why: &str) {
        self.errors.push(format!(
            "({}, {}, {})",
            python_str_repr(&src.to_string_lossy()),
            python_str_repr(name),
            python_str_repr(why)
        ));
    }
}

/// 22.4's `ProcessExecutionError` text (`str(e)`).
fn execution_error(
    cmd: &[&str],
    exit_code: Option<i32>,
    reason: Option<&str>,
    stdout: Option<&str>,
    stderr: Option<&str>,
) -> String {
    let indent = |t: Option<&str>| match t {
        None => "-".to_string(),
        Some(t) => t.trim_end_matches('\n').replace('\n', "\n        "),
    };
    let argv: Vec<String> = cmd.iter().map(|a| python_str_repr(a)).collect();
    format!(
        "Unexpected error while running command.\nCommand: [{}]\nExit code: {}\nReason: {}\nStdout: {}\nStderr: {}",
        argv.join(", "),
        exit_code.map_or("-".to_string(), |c| c.to_string()),
        reason.unwrap_or("-"),
        indent(stdout),
        indent(stderr),
    )
}

/// `_write_command_output_to_file`: the program's output, or why it
/// failed; `Some(output)` when it ran. A program runs only on the running
/// machine's own root.
fn command_output(root: &Root, cmd: &[&str]) -> Result<String, String> {
    if !root.is_host_root() {
        return Err(execution_error(
            cmd,
            None,
            Some(&format!(
                "not run: the root {} is not the running system",
                root.host_path().display()
            )),
            None,
            None,
        ));
    }
    let out = Command::new(cmd[0])
        .args(&cmd[1..])
        .stdin(Stdio::null())
        .output();
    match out {
        Err(e) => {
            let reason = match e.raw_os_error() {
                Some(n) => {
                    let text = e.to_string();
                    let strerror = text
                        .rsplit_once(" (os error")
                        .map_or(text.as_str(), |t| t.0);
                    format!("[Errno {n}] {strerror}: b{}", python_str_repr(cmd[0]))
                }
                None => e.to_string(),
            };
            Err(execution_error(cmd, None, Some(&reason), None, None))
        }
        Ok(out) => {
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            if out.status.success() {
                Ok(stdout)
            } else {
                let stderr = String::from_utf8_lossy(&out.stderr);
                Err(execution_error(
                    cmd,
                    out.status.code(),
                    None,
                    Some(&stdout),
                    Some(&stderr),
                ))
            }
        }
    }
}

/// `os.path.abspath`: joined to the working directory, `.` and `..` taken
/// out by the letter.
fn abspath(p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(p)
    };
    let mut out = PathBuf::from("/");
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}

/// Gathers the members (nothing written yet).
fn gather<'a>(req: &Request, root: &'a Root, top: String, now: i64) -> Collection<'a> {
    let mut c = Collection {
        root,
        top,
        now,
        members: Vec::new(),
        verbosity: req.verbosity,
        errors: Vec::new(),
    };
    c.members.push(Member {
        name: c.top.clone(),
        mode: 0o755,
        mtime: now,
        body: Body::Dir,
    });
    let version = format!("/usr/bin/cloud-init {}\n", crate::VERSION_STRING);
    c.bytes("version", version.clone().into_bytes());
    c.debug("collected cloud-init --version\n", 1);
    for (cmd, file, what) in [
        (
            &["dpkg-query", "--show", "-f=${Version}\n", "cloud-init"][..],
            "dpkg-version",
            "dpkg version",
        ),
        (&["dmesg"][..], "dmesg.txt", "dmesg output"),
        (
            &["journalctl", "--boot=0", "-o", "short-precise"][..],
            "journal.txt",
            "systemd journal of current boot",
        ),
    ] {
        match command_output(root, cmd) {
            Ok(out) => {
                c.bytes(file, out.into_bytes());
                c.debug(&format!("collected {what}\n"), 1);
            }
            Err(text) => {
                c.bytes(file, text.into_bytes());
                c.debug(&format!("collecting {what} failed.\n"), 1);
            }
        }
        if file == "dpkg-version" {
            c.debug(&format!("collected cloud-init version: {version}\n"), 1);
        }
    }
    for log in [LOG_FILE, OUTPUT_LOG_FILE] {
        c.collect_file(log, "");
    }
    let paths = Paths::default();
    if req.include_userdata {
        let user_data = paths.instance_link().join("user-data.txt");
        c.collect_file(&user_data.to_string_lossy(), "");
    }
    let parent = |f: &str| {
        Path::new(f)
            .parent()
            .and_then(Path::to_str)
            .unwrap_or("")
            .trim_start_matches('/')
            .to_string()
    };
    for f in INSTALLER_FILES {
        c.ensure_dir(&parent(f));
        c.collect_file(f, &parent(f));
    }
    if req.include_userdata {
        for f in INSTALLER_SENSITIVE_FILES {
            c.ensure_dir(&parent(f));
            c.collect_file(f, &parent(f));
        }
    }
    c.ensure_dir("run");
    let run_dir = Path::new(RUN_DIR);
    if root.exists(run_dir) {
        let skip = if req.include_userdata {
            &[][..]
        } else {
            SENSITIVE
        };
        c.copy_tree(run_dir, "run/cloud-init", skip);
        if !c.errors.is_empty() {
            eprintln!(
                "Failed collecting file(s) due to error:\n[{}]",
                c.errors.join(", ")
            );
            c.errors.clear();
        }
        c.debug(&format!("collected dir {RUN_DIR}\n"), 1);
    } else {
        c.debug(&format!("directory '{RUN_DIR}' did not exist\n"), 1);
    }
    if root.exists(&run_dir.join("disabled")) {
        // cloud-init did not run this boot: the previous boot's state.
        let data = paths.cpath("data");
        if root.exists(&data) {
            let skip = if req.include_userdata {
                &[][..]
            } else {
                DATA_SENSITIVE
            };
            c.copy_tree(&data, "var/lib/cloud/data", skip);
            if !c.errors.is_empty() {
                eprintln!(
                    "Failed collecting file(s) due to error:\n[{}]",
                    c.errors.join(", ")
                );
                c.errors.clear();
            }
        }
    }
    c
}

/// The verb's options (`cmd/devel/logs.py:get_parser`, its help texts
/// verbatim). `-v` counts there; argparse here has no count, so [`main`]
/// counts the `v`s itself.
pub fn args(p: Parser) -> Parser {
    p.arg(Arg::flag(&["--verbose", "-v"], "Be more verbose.").dest("verbosity"))
        .arg(
            Arg::value(
                &["--tarfile", "-t"],
                "The tarfile to create containing all collected logs. Default: \
                 cloud-init.tar.gz",
            )
            .default(DEFAULT_TARFILE),
        )
        .arg(
            Arg::flag(
                &["--include-userdata", "-u"],
                "Optionally include user-data from /var/lib/cloud/instance/user-data.txt \
                 which could contain sensitive information.",
            )
            .dest("userdata"),
        )
}

/// How many times `-v` was given after the verb in `argv`: `--verbose`,
/// or the `v`s of a cluster of the verb's short flags (`-vv`, `-uv`).
fn count_verbose(argv: &[String]) -> u32 {
    argv.iter()
        .skip_while(|a| a.as_str() != "collect-logs")
        .skip(1)
        .take_while(|a| a.as_str() != "--")
        .map(|a| match a.as_str() {
            "--verbose" => 1,
            s if s.len() > 1
                && s.starts_with('-')
                && !s.starts_with("--")
                && s[1..].chars().all(|c| matches!(c, 'v' | 'u' | 'h')) =>
            {
                s.matches('v').count() as u32
            }
            _ => 0,
        })
        .sum()
}

/// The verb as the command line gives it: `m` its options, `argv` the
/// whole command line (for the count of `-v`).
pub fn main(root: &Path, m: &Matches, argv: &[String]) -> i32 {
    run(&Request {
        root: root.to_path_buf(),
        tarfile: PathBuf::from(m.value("tarfile").unwrap_or(DEFAULT_TARFILE)),
        include_userdata: m.flag("userdata"),
        verbosity: if m.flag("verbosity") {
            count_verbose(argv).max(1)
        } else {
            0
        },
    })
}

/// The verb. Exit 0 once the tarball is written ("Wrote PATH" on stderr);
/// 1 when `-u` is asked by a user other than root, or the tarball cannot be
/// written.
pub fn run(req: &Request) -> i32 {
    // SAFETY: geteuid cannot fail.
    if req.include_userdata && unsafe { libc::geteuid() } != 0 {
        eprint!("{USERDATA_NEEDS_ROOT}");
        return 1;
    }
    let tarfile = abspath(&req.tarfile);
    let root = Root::new(&req.root);
    let now = chrono::Utc::now();
    let top = now.format("cloud-init-logs-%Y-%m-%d").to_string();
    let c = gather(req, &root, top, now.timestamp());
    match write_tarball(&root, &c.members, &tarfile) {
        Ok(()) => {
            eprintln!("Wrote {}", tarfile.display());
            0
        }
        Err(e) => {
            eprintln!(
                "cloud-init collect-logs: cannot write {}: {e}",
                tarfile.display()
            );
            1
        }
    }
}

/// Writes the members as a gzipped tarball at `dest`, through a temporary
/// file beside it.
fn write_tarball(root: &Root, members: &[Member], dest: &Path) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let private = members
        .iter()
        .any(|m| !matches!(m.body, Body::Dir) && m.mode & 0o004 == 0);
    let mode = if private { 0o600 } else { 0o644 };
    let name = dest
        .file_name()
        .unwrap_or(OsStr::new("cloud-init.tar.gz"))
        .to_string_lossy();
    let tmp = dest.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)?;
    let result = (|| {
        // The mode asked for, whatever the umask.
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))?;
        let gz = flate2::write::GzEncoder::new(
            io::BufWriter::new(&file),
            flate2::Compression::default(),
        );
        let mut tar = crate::tar::Writer::new(gz);
        for m in members {
            match &m.body {
                Body::Dir => tar.dir(&m.name, m.mode, m.mtime)?,
                Body::Bytes(b) => {
                    tar.file(&m.name, m.mode, m.mtime, b.len() as u64, &mut &b[..])?
                }
                Body::Guest(p) => {
                    // Read now; a file gone since it was listed is left out.
                    let mut f = match root.open_read(p) {
                        Ok(f) => f,
                        Err(e) => {
                            eprintln!("cloud-init collect-logs: {}: {e}", p.display());
                            continue;
                        }
                    };
                    let len = f.metadata()?.len();
                    tar.file(&m.name, m.mode, m.mtime, len, &mut f)?;
                }
            }
        }
        let gz = tar.finish()?;
        gz.finish()?.flush()?;
        file.sync_all()?;
        std::fs::rename(&tmp, dest)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_command_reads_as_22_4_writes_it() {
        assert_eq!(
            execution_error(&["dmesg"], None, Some("[Errno 2] No such file or directory: b'dmesg'"), None, None),
            "Unexpected error while running command.\nCommand: ['dmesg']\nExit code: -\nReason: [Errno 2] No such file or directory: b'dmesg'\nStdout: -\nStderr: -"
        );
        assert_eq!(
            execution_error(&["sh", "-c", "x"], Some(3), None, Some("out\n"), Some("e1\ne2\n")),
            "Unexpected error while running command.\nCommand: ['sh', '-c', 'x']\nExit code: 3\nReason: -\nStdout: out\nStderr: e1\n        e2"
        );
        assert_eq!(
            execution_error(&["dpkg-query", "-f=${Version}\n"], Some(1), None, Some(""), Some("")),
            "Unexpected error while running command.\nCommand: ['dpkg-query', '-f=${Version}\\n']\nExit code: 1\nReason: -\nStdout: \nStderr: "
        );
    }

    #[test]
    fn verbose_is_counted_as_argparse_counts_it() {
        let argv = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(count_verbose(&argv(&["-d", "collect-logs", "-v"])), 1);
        assert_eq!(
            count_verbose(&argv(&["collect-logs", "-vv", "--verbose"])),
            3
        );
        assert_eq!(
            count_verbose(&argv(&["collect-logs", "-uv", "-t", "-v.tgz"])),
            1
        );
        assert_eq!(count_verbose(&argv(&["collect-logs", "-t", "x"])), 0);
    }

    #[test]
    fn abspath_takes_dots_out() {
        assert_eq!(abspath(Path::new("/a/b/../c/./d")), Path::new("/a/c/d"));
        assert!(abspath(Path::new("x.tgz")).is_absolute());
    }
}
