//! Running programs inside the target root.
//!
//! With root `/` a program runs as it is. With any other root it runs under
//! `chroot(2)` into that root, so `useradd` edits the image's `/etc/passwd` and
//! a runcmd script sees the image's `/bin/sh`. Only root may chroot; an
//! ordinary user's run lists such programs instead of running them.
//!
//! Output (stdout and stderr together) goes to `/var/log/cloud-init-output.log`
//! in the root and to our stderr, as cloud-init's `tee -a` does.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command as Proc, Stdio};
use std::time::{Duration, Instant};

use crate::effect::Command;
use crate::rootfs::Root;

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub use crate::effect::Exit;

/// Whether this process may chroot (and chown to other users).
pub fn privileged() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Starts programs in one root, with their output teed to the output log.
pub struct Runner {
    pub root: Root,
    /// Chroot into the root (it is not `/`).
    chroot: bool,
    output_log: Option<File>,
    echo: bool,
}

impl Runner {
    pub fn new(root: Root, output_log: Option<File>, echo: bool) -> Runner {
        let chroot = !root.is_host_root();
        Runner {
            root,
            chroot,
            output_log,
            echo,
        }
    }

    /// Why a program cannot be run here, if it cannot: only root may
    /// chroot, and a root without `/bin/sh` is a scratch directory, not a
    /// system, so its programs are listed instead of run.
    pub fn cannot_run(&self, argv0: &str) -> Option<String> {
        if !self.chroot {
            return None;
        }
        let root = self.root.host_path().display();
        if !privileged() {
            return Some(format!(
                "not run: running {argv0} inside {root} needs root (chroot)"
            ));
        }
        if !self.root.exists(Path::new("/bin/sh")) {
            return Some(format!(
                "not run: {root} has no /bin/sh, so it is not a system to run {argv0} in"
            ));
        }
        None
    }

    /// Writes a line of our own to the output log (and the console).
    pub fn note(&mut self, line: &str) {
        if let Some(log) = self.output_log.as_mut() {
            let _ = writeln!(log, "{line}");
        }
        if self.echo {
            eprintln!("{line}");
        }
    }

    /// A clear error, before exec, when a program or its `#!` interpreter is
    /// not in the root (exec would only say "No such file or directory").
    fn check_program(&self, argv0: &str) -> io::Result<()> {
        if !argv0.starts_with('/') {
            return Ok(());
        }
        let missing = |what: &str| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "{what} does not exist in the target root {}",
                    self.root.host_path().display()
                ),
            )
        };
        let mut head = [0u8; 128];
        let n = self
            .root
            .open_read(Path::new(argv0))
            .and_then(|mut f| f.read(&mut head))
            .map_err(|_| missing(argv0))?;
        if let Some(line) = head[..n].strip_prefix(b"#!") {
            let line = line.split(|&b| b == b'\n').next().unwrap_or_default();
            let text = String::from_utf8_lossy(line);
            if let Some(interp) = text.split_whitespace().next() {
                if interp.starts_with('/') && !self.root.exists(Path::new(interp)) {
                    return Err(missing(&format!("interpreter {interp} of {argv0}")));
                }
            }
        }
        Ok(())
    }

    /// Starts `proc` and returns at once (cloud-init's `util.fork_cb`): its
    /// output goes to the output log, and a thread reaps it and logs how it
    /// ended, for as long as cloudboot still runs.
    fn start_in_background(&mut self, mut proc: Proc, cmd: &Command) -> io::Result<Exit> {
        proc.stdin(Stdio::null());
        match self.output_log.as_ref().map(File::try_clone) {
            Some(Ok(log)) => {
                proc.stdout(log.try_clone()?);
                proc.stderr(log);
            }
            _ => {
                proc.stdout(Stdio::null());
                proc.stderr(Stdio::null());
            }
        }
        let mut child = proc.spawn()?;
        let shown = cmd.display();
        std::thread::spawn(move || match child.wait() {
            Ok(status) if status.success() => tracing::debug!("backgrounded {shown} finished"),
            Ok(status) => tracing::warn!("backgrounded {shown} failed: {status}"),
            Err(e) => tracing::warn!("backgrounded {shown}: {e}"),
        });
        Ok(Exit::Code(0))
    }

    /// Runs `cmd`, waiting for it; output goes to the log and the console.
    /// A command with a [`LockWait`] waits for its locks first (and runs
    /// again when it failed because another process took one).
    pub fn run(&mut self, cmd: &Command) -> io::Result<Exit> {
        let Some(wait) = &cmd.lock_wait else {
            return self.run_once(cmd);
        };
        let start = Instant::now();
        tracing::debug!("Waiting for apt lock");
        while start.elapsed() < wait.timeout {
            if !self.locks_free(&wait.files) {
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
            tracing::debug!("apt lock available");
            let exit = self.run_once(cmd)?;
            // Failed while a lock is held again: another process raced us.
            if exit.success() || self.locks_free(&wait.files) {
                return Ok(exit);
            }
            tracing::debug!("Another process holds apt lock. Waiting...");
            std::thread::sleep(Duration::from_secs(1));
        }
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "Could not get apt lock",
        ))
    }

    /// debian.py's `_apt_lock_available`: each lock file that exists in the
    /// root can be locked (`fcntl` write lock, released at once).
    fn locks_free(&self, files: &[PathBuf]) -> bool {
        files.iter().all(|f| {
            if !self.root.exists(f) {
                return true;
            }
            let Ok(fd) = self.root.open_fd(
                f,
                true,
                libc::O_WRONLY | libc::O_NOCTTY | libc::O_NONBLOCK,
                0,
            ) else {
                // What cannot be opened cannot be waited for: as free.
                return true;
            };
            // SAFETY: flock is plain data; all-zero is a valid value.
            let mut lock: libc::flock = unsafe { std::mem::zeroed() };
            lock.l_type = libc::F_WRLCK as libc::c_short;
            lock.l_whence = libc::SEEK_SET as libc::c_short;
            // l_start 0, l_len 0: the whole file, as `fcntl.lockf` takes it.
            // SAFETY: a valid descriptor and a fully initialised flock.
            let held = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETLK, &lock) } != 0;
            // Closing the descriptor releases the lock taken.
            drop(fd);
            !held
        })
    }

    /// Runs `cmd` once.
    fn run_once(&mut self, cmd: &Command) -> io::Result<Exit> {
        let argv0 = cmd
            .argv
            .first()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command"))?;
        // The program sees every file written so far (rootfs/commit.rs), the
        // semaphores of the modules before too (a program that reboots the
        // machine must not make them run again), and may change any
        // directory resolved so far.
        if let Err(e) = self.root.publish_all() {
            tracing::warn!("{e}");
        }
        let filesystems = crate::blockdev::real_disk_filesystems_under(self.root.host_path());
        self.root.after_program(&filesystems);
        // A command for the machine itself (block-device tools) runs
        // outside the root whatever the root is.
        let chroot = self.chroot && !cmd.on_host;
        if chroot {
            self.check_program(argv0)?;
        }
        let mut proc = Proc::new(argv0);
        proc.args(&cmd.argv[1..]);
        if std::env::var_os("PATH").is_none() || chroot {
            proc.env("PATH", DEFAULT_PATH);
        }
        for (k, v) in &cmd.env {
            proc.env(k, v);
        }
        if chroot {
            let root = CString::new(self.root.host_path().as_os_str().as_bytes())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            // SAFETY: only async-signal-safe calls (chroot, chdir) between fork and exec.
            unsafe {
                proc.pre_exec(move || {
                    if libc::chroot(root.as_ptr()) != 0 || libc::chdir(c"/".as_ptr()) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        } else {
            proc.current_dir("/");
        }
        if cmd.background {
            return self.start_in_background(proc, cmd);
        }
        let (mut reader, writer) = io::pipe()?;
        proc.stdout(writer.try_clone()?);
        proc.stderr(writer);
        proc.stdin(if cmd.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = proc.spawn()?;
        // Drop our copies of the pipe's write end (held by `proc`) so EOF arrives.
        drop(proc);
        let feeder = child
            .stdin
            .take()
            .zip(cmd.stdin.clone())
            .map(|(mut pipe, data)| {
                std::thread::spawn(move || {
                    let _ = pipe.write_all(&data.bytes);
                })
            });
        let mut buf = [0u8; 8192];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if let Some(log) = self.output_log.as_mut() {
                        let _ = log.write_all(&buf[..n]);
                    }
                    if self.echo {
                        let _ = io::stderr().write_all(&buf[..n]);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        let status = child.wait()?;
        if let Some(f) = feeder {
            let _ = f.join();
        }
        Ok(match status.code() {
            Some(c) => Exit::Code(c),
            None => Exit::Signal(status.signal().unwrap_or(0)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::effect::LockWait;
    use std::fs;
    use std::io::BufRead;

    /// A process that holds an fcntl lock on `file` (as apt does, and as
    /// debian.py tests it: `fcntl.lockf`) for `secs` seconds; returns once
    /// it holds it.
    fn hold_lock(file: &Path, secs: u32) -> std::process::Child {
        let mut child = Proc::new("python3")
            .args([
                "-c",
                "import fcntl,sys,time\nf=open(sys.argv[1],'w')\nfcntl.lockf(f,fcntl.LOCK_EX)\nprint('held',flush=True)\ntime.sleep(float(sys.argv[2]))",
            ])
            .arg(file)
            .arg(secs.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        io::BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "held\n");
        child
    }

    fn waiting(file: &Path, timeout: u64) -> Command {
        // `true` on the machine itself (root `/`): it changes nothing.
        Command::new(["true"]).lock_wait(LockWait {
            files: vec![file.to_path_buf(), "/nonexistent/cloudboot-lock".into()],
            timeout: Duration::from_secs(timeout),
        })
    }

    #[test]
    fn a_held_apt_lock_is_waited_for_then_the_command_runs() {
        let tmp = tempfile::tempdir().unwrap();
        let lock = tmp.path().join("lock");
        let mut runner = Runner::new(Root::new("/"), None, false);
        // Free: at once.
        fs::write(&lock, "").unwrap();
        assert!(runner.run(&waiting(&lock, 5)).unwrap().success());

        let mut holder = hold_lock(&lock, 2);
        let start = Instant::now();
        assert!(runner.run(&waiting(&lock, 20)).unwrap().success());
        assert!(
            start.elapsed() >= Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
        holder.wait().unwrap();

        let mut holder = hold_lock(&lock, 4);
        let err = runner.run(&waiting(&lock, 1)).unwrap_err();
        assert_eq!(err.to_string(), "Could not get apt lock");
        holder.kill().unwrap();
        holder.wait().unwrap();
    }

    /// A command for the machine runs outside a root that is not `/` (no
    /// chroot, so no root privileges and no `/bin/sh` in the root needed),
    /// and a background one returns before it ends.
    #[test]
    fn machine_commands_run_outside_the_root_and_in_the_background() {
        let root = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let mut runner = Runner::new(Root::new(root.path()), None, false);
        let mark = out.path().join("mark");
        let shown = mark.display().to_string();
        let exit = runner
            .run(&Command::new(["sh", "-c", "echo here > \"$1\"", "sh", &shown]).on_host())
            .unwrap();
        assert!(exit.success());
        assert_eq!(std::fs::read_to_string(&mark).unwrap(), "here\n");

        let late = out.path().join("late");
        let shown = late.display().to_string();
        let started = std::time::Instant::now();
        let exit = runner
            .run(
                &Command::new(["sh", "-c", "sleep 2; echo done > \"$1\"", "sh", &shown])
                    .on_host()
                    .background(),
            )
            .unwrap();
        assert!(exit.success());
        assert!(started.elapsed() < std::time::Duration::from_millis(1500));
        assert!(!late.exists(), "it has not finished yet");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !late.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert_eq!(std::fs::read_to_string(&late).unwrap(), "done\n");
    }

    #[test]
    fn exit_codes_besides_0_can_be_success() {
        let cmd = Command::new(["growpart", "/dev/vda", "1"]).ok_codes(&[1]);
        assert!(cmd.succeeded(&Exit::Code(0)));
        assert!(cmd.succeeded(&Exit::Code(1)));
        assert!(!cmd.succeeded(&Exit::Code(2)));
        assert!(!cmd.succeeded(&Exit::Signal(9)));
    }
}
