//! A copy of the recorder's Debian 12 root (`common::skip::debian_root`),
//! for the tests that boot cloudboot in a real distribution, with its real
//! useradd, ssh-keygen, apt-get, update-ca-certificates ... run under
//! chroot. Removed when dropped.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::RECORDER_CFG;
use crate::common::BIN;

/// The four stages, with the names the recorder's `exit-codes` file gives
/// them.
pub const STAGES: [(&str, &[&str]); 4] = [
    ("init-local", &["init", "--local"]),
    ("init", &["init"]),
    ("config", &["modules", "--mode=config"]),
    ("final", &["modules", "--mode=final"]),
];

/// `cp -a` of the Debian root `base` to `dest` (which may exist: its
/// content is replaced by the root's).
pub fn copy_root(base: &Path, dest: &Path) {
    let ok = Command::new("cp")
        .args(["-a", "--reflink=auto"])
        .arg(base.join("."))
        .arg(dest)
        .status()
        .unwrap();
    assert!(ok.success(), "cp -a {} {}", base.display(), dest.display());
}

/// Prepares the root at `root` as `record.sh` prepares a case's root: the
/// recorder's `90-recorder.cfg`, its kernel command line, a `/run` that
/// says systemd is PID 1, and no `/dev/console` (nothing of a test may
/// write to this machine's console).
pub fn prepare_as_recorded(root: &Path) {
    let _ = fs::remove_file(root.join("dev/console"));
    let cfg = root.join("etc/cloud/cloud.cfg.d/90-recorder.cfg");
    fs::create_dir_all(cfg.parent().unwrap()).unwrap();
    fs::write(cfg, RECORDER_CFG).unwrap();
    fs::create_dir_all(root.join("proc")).unwrap();
    fs::write(
        root.join("proc/cmdline"),
        "BOOT_IMAGE=/boot/vmlinuz root=LABEL=root ro console=ttyS0\n",
    )
    .unwrap();
    fs::create_dir_all(root.join("run/systemd/system")).unwrap();
}

pub struct DebianCopy {
    dir: tempfile::TempDir,
    /// Each stage runs in a network namespace of its own (`unshare --net`),
    /// so nothing in the root can reach a network.
    no_network: bool,
}

impl DebianCopy {
    /// `cp -a` of `base`, untouched.
    pub fn plain(base: &Path) -> DebianCopy {
        let dir = tempfile::tempdir().unwrap();
        copy_root(base, &dir.path().join("root"));
        DebianCopy {
            dir,
            no_network: false,
        }
    }

    /// A copy prepared as `record.sh` prepares a case's root (see
    /// [`prepare_as_recorded`]).
    pub fn as_recorded(base: &Path) -> DebianCopy {
        let copy = DebianCopy::plain(base);
        prepare_as_recorded(&copy.root());
        copy
    }

    /// Runs every stage in a network namespace of its own.
    pub fn without_network(mut self) -> DebianCopy {
        self.no_network = true;
        self
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn path(&self, guest: &str) -> PathBuf {
        self.root().join(guest.trim_start_matches('/'))
    }

    pub fn write(&self, guest: &str, text: &str) {
        let p = self.path(guest);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
    }

    /// A file's text; empty when it is missing.
    pub fn read(&self, guest: &str) -> String {
        fs::read_to_string(self.path(guest)).unwrap_or_default()
    }

    /// A NoCloud seed (mode 0644, as the recorder writes it).
    pub fn seed(&self, meta: &str, user: &str) {
        for (name, text) in [("meta-data", meta), ("user-data", user)] {
            let guest = format!("/var/lib/cloud/seed/nocloud/{name}");
            self.write(&guest, text);
            fs::set_permissions(
                self.path(&guest),
                std::os::unix::fs::PermissionsExt::from_mode(0o644),
            )
            .unwrap();
        }
    }

    /// `cloudboot --root COPY ARGS`: its exit code, and a log of the run
    /// (the arguments, the exit code, stdout and stderr).
    pub fn cloudboot(&self, args: &[&str]) -> (Option<i32>, String) {
        let mut cmd = if self.no_network {
            let mut c = Command::new("unshare");
            c.args(["--net", "--"]).arg(BIN);
            c
        } else {
            Command::new(BIN)
        };
        let out = cmd
            .arg("--root")
            .arg(self.root())
            .args(args)
            .output()
            .unwrap();
        let log = format!(
            "== {args:?}: {:?}\n{}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), log)
    }

    /// The first `n` stages in order; the log of all, and each stage's exit
    /// code.
    pub fn stages(&self, n: usize) -> (String, Vec<(&'static str, Option<i32>)>) {
        let mut log = String::new();
        let mut codes = Vec::new();
        for (stage, args) in &STAGES[..n] {
            let (code, text) = self.cloudboot(args);
            log.push_str(&text);
            codes.push((*stage, code));
        }
        (log, codes)
    }

    /// The four stages (see [`DebianCopy::stages`]).
    pub fn boot(&self) -> (String, Vec<(&'static str, Option<i32>)>) {
        self.stages(STAGES.len())
    }

    /// A program run inside the copy, which must succeed; its stdout and
    /// its stderr.
    pub fn chroot(&self, argv: &[&str]) -> (String, String) {
        let out = Command::new("chroot")
            .arg(self.root())
            .args(argv)
            .output()
            .unwrap();
        assert!(out.status.success(), "{argv:?}: {out:?}");
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}
