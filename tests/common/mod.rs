//! Shared test harness: a temporary root per test, the real `cloudboot`
//! binary run against it, and helpers to seed, reboot and inspect it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_cloudboot");

/// A scratch machine: a temporary directory that stands for `/`.
pub struct Machine {
    pub dir: tempfile::TempDir,
}

impl Machine {
    pub fn new() -> Machine {
        Machine {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// A machine with a NoCloud seed in /var/lib/cloud/seed/nocloud.
    pub fn seeded(meta: &str, user: &str) -> Machine {
        let m = Machine::new();
        m.seed(meta, user);
        m
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Host path of a guest path.
    pub fn path(&self, guest: &str) -> PathBuf {
        self.root().join(guest.trim_start_matches('/'))
    }

    pub fn write(&self, guest: &str, content: &str) {
        let p = self.path(guest);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }

    pub fn read(&self, guest: &str) -> String {
        fs::read_to_string(self.path(guest)).unwrap_or_else(|e| panic!("reading {guest}: {e}"))
    }

    pub fn exists(&self, guest: &str) -> bool {
        self.path(guest).symlink_metadata().is_ok()
    }

    pub fn mode(&self, guest: &str) -> u32 {
        fs::metadata(self.path(guest)).unwrap().permissions().mode() & 0o7777
    }

    pub fn seed(&self, meta: &str, user: &str) {
        self.write("/var/lib/cloud/seed/nocloud/meta-data", meta);
        self.write("/var/lib/cloud/seed/nocloud/user-data", user);
    }

    /// Runs `cloudboot --root <root> ARGS`.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("--root")
            .arg(self.root())
            .args(args)
            .output()
            .expect("running cloudboot")
    }

    /// Runs a command and insists on the exit code; returns stdout.
    pub fn run_ok(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "cloudboot {args:?} exit code\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The four stages, in order, with cloud-init's verbs; each must exit 0.
    pub fn boot(&self) {
        for args in [
            &["init", "--local"][..],
            &["init"][..],
            &["modules", "--mode=config"][..],
            &["modules", "--mode", "final"][..],
        ] {
            self.run_ok(args, 0);
        }
    }

    /// A reboot: /run is a tmpfs, so it starts empty.
    pub fn reboot(&self) {
        let _ = fs::remove_dir_all(self.path("/run"));
    }

    /// The instance directory of `iid`.
    pub fn idir(&self, iid: &str) -> String {
        format!("/var/lib/cloud/instances/{iid}")
    }

    /// Every path under the root with its type, mode, owner and content
    /// (or link target): equal maps mean a byte-identical tree.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, String> {
        let mut out = BTreeMap::new();
        walk(self.root(), self.root(), &mut out);
        out
    }

    /// Puts a static busybox in the root as /bin/sh and friends, so programs
    /// can run inside it under chroot.
    pub fn install_busybox(&self) {
        let bb = busybox().expect("busybox-static is installed (.ci/run installs it)");
        fs::create_dir_all(self.path("/bin")).unwrap();
        fs::copy(bb, self.path("/bin/busybox")).unwrap();
        for applet in [
            "sh", "echo", "cat", "kill", "touch", "date", "sleep", "test", "[", "ls", "mkdir",
            "rm", "printf", "id", "true", "false", "wc",
        ] {
            std::os::unix::fs::symlink("busybox", self.path(&format!("/bin/{applet}"))).unwrap();
        }
        fs::create_dir_all(self.path("/tmp")).unwrap();
        fs::create_dir_all(self.path("/var/tmp")).unwrap();
    }
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let md = p.symlink_metadata().unwrap();
        let rel = p.strip_prefix(root).unwrap().to_path_buf();
        let desc = if md.file_type().is_symlink() {
            format!("link -> {}", fs::read_link(&p).unwrap().display())
        } else if md.is_dir() {
            walk(root, &p, out);
            format!("dir {:o} {}:{}", md.mode() & 0o7777, md.uid(), md.gid())
        } else {
            format!(
                "file {:o} {}:{} {:?}",
                md.mode() & 0o7777,
                md.uid(),
                md.gid(),
                fs::read(&p).unwrap()
            )
        };
        out.insert(rel, desc);
    }
}

fn busybox() -> Option<&'static str> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

/// True when this process may chroot and has a static busybox to put in the
/// root. Tests that need both return early otherwise, unless
/// CLOUDBOOT_REQUIRE_ROOT_TESTS is set (`.ci/run` sets it), in which case
/// a missing prerequisite is a failure.
pub fn can_chroot(test: &str) -> bool {
    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc_geteuid() } == 0;
    let missing = match (root, busybox()) {
        (true, Some(_)) => return true,
        (false, _) => "root (to chroot)",
        (true, None) => "busybox-static (apt-get install busybox-static)",
    };
    if std::env::var_os("CLOUDBOOT_REQUIRE_ROOT_TESTS").is_some() {
        panic!("{test} needs {missing}, and CLOUDBOOT_REQUIRE_ROOT_TESTS is set");
    }
    eprintln!("{test}: skipped, needs {missing}");
    false
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// Matches cloud-init's semaphore content `"<pid>: <float time>\n"`.
pub fn is_sem_content(s: &str) -> bool {
    let Some(body) = s.strip_suffix('\n') else {
        return false;
    };
    let Some((pid, time)) = body.split_once(": ") else {
        return false;
    };
    !pid.is_empty()
        && pid.bytes().all(|b| b.is_ascii_digit())
        && time.split_once('.').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && (a.bytes().chain(b.bytes())).all(|c| c.is_ascii_digit())
        })
}

pub const META: &str = "instance-id: iid-test-1\nlocal-hostname: testhost\n";
