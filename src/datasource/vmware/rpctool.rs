//! VMware's guestinfo channel: `vmware-rpctool "info-get guestinfo.<key>"`
//! (22.4's `which("vmware-rpctool")`), else `vmtoolsd --cmd "..."` (what
//! later cloud-init falls back to; 22.4 has only the first), found in the
//! root's standard `PATH` directories and run inside the root (chroot when
//! it is not `/`), each call bounded in time and output. OVF's guestinfo
//! transport (`guestinfo.ovfEnv`) uses it too.

use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::super::{DsContext, MAX_USER_DATA};

/// Where cloud-init's `which` looks on a booting system.
const PATH_DIRS: [&str; 6] = [
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// A call that takes longer is killed: the backdoor answers at once.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The tool found in the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rpctool {
    /// Its path in the root (`/usr/bin/vmware-rpctool`).
    pub path: String,
    /// `vmtoolsd`, which takes the command after `--cmd`.
    pub vmtoolsd: bool,
}

/// What a call gave: its exit code, standard output and error as text.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Rpctool {
    /// `vmware-rpctool`, else `vmtoolsd`, as an executable file in the
    /// root's `PATH` directories.
    pub fn find(ctx: &DsContext) -> Option<Rpctool> {
        for (name, vmtoolsd) in [("vmware-rpctool", false), ("vmtoolsd", true)] {
            for dir in PATH_DIRS {
                let path = format!("{dir}/{name}");
                if ctx.fs.is_executable_file(Path::new(&path)) {
                    return Some(Rpctool { path, vmtoolsd });
                }
            }
        }
        None
    }

    /// The argv for one RPC command (`info-get guestinfo.metadata`).
    pub fn argv(&self, rpc: &str) -> Vec<String> {
        if self.vmtoolsd {
            vec![self.path.clone(), "--cmd".into(), rpc.into()]
        } else {
            vec![self.path.clone(), rpc.into()]
        }
    }

    /// Runs one RPC command inside the root; `Err` when it could not run
    /// at all (or ran too long), with the reason.
    pub fn call(&self, ctx: &DsContext, rpc: &str) -> Result<Answer, String> {
        run_bounded(ctx, &self.argv(rpc), CALL_TIMEOUT)
    }
}

/// Runs `argv` inside the root (chroot when it is not `/`, which needs
/// root), its output captured and bounded, killed after `timeout`; `Err`
/// when it could not run or ran too long, with the reason. (AltCloud's
/// `modprobe floppy` runs through it too.)
pub fn run_bounded(ctx: &DsContext, argv: &[String], timeout: Duration) -> Result<Answer, String> {
    let rpc = argv[1..].join(" ");
    let program = &argv[0];
    let host_root = ctx.root.is_host_root();
    if !host_root && !crate::exec::privileged() {
        return Err(format!(
            "{} not run: running it inside {} needs root (chroot)",
            program,
            ctx.root.host_path().display()
        ));
    }
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("PATH", PATH_DIRS.join(":"));
    if host_root {
        cmd.current_dir("/");
    } else {
        let root = std::ffi::CString::new(ctx.root.host_path().as_os_str().as_bytes())
            .map_err(|e| e.to_string())?;
        // SAFETY: only async-signal-safe calls (chroot, chdir) between
        // fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::chroot(root.as_ptr()) != 0 || libc::chdir(c"/".as_ptr()) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn().map_err(|e| format!("{program}: {e}"))?;
    let limited = |r: Option<Box<dyn Read + Send>>, max: usize| {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            if let Some(r) = r {
                let _ = r.take(max as u64 + 1).read_to_end(&mut out);
            }
            out
        })
    };
    let out = limited(child.stdout.take().map(|r| Box::new(r) as _), MAX_USER_DATA);
    let err = limited(child.stderr.take().map(|r| Box::new(r) as _), 64 << 10);
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{program} {rpc:?}: no answer in {} s; killed",
                    timeout.as_secs()
                ));
            }
            Err(e) => return Err(format!("{program}: {e}")),
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    if stdout.len() > MAX_USER_DATA {
        return Err(format!(
            "{program} {rpc:?}: more than {MAX_USER_DATA} bytes of answer"
        ));
    }
    // subp decodes with errors="replace".
    Ok(Answer {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    })
}
