//! What a test needs from the machine it runs on, and what happens when
//! something is missing: the one skip mechanism of the whole suite. The
//! integration tests reach it as `common::skip`; the unit tests under `src/`
//! and `modules/` as `crate::skip` (src/lib.rs includes this same file).
//!
//! A test that cannot run here says so in one line that `cargo test` shows,
//!
//! ```text
//! SKIPPED programs::runcmd_runs_in_the_final_stage_inside_the_root: needs root (to chroot into the scratch root) — .ci/run runs it as root
//! ```
//!
//! and returns having asserted nothing. The line is written straight to the
//! process's stderr: libtest captures `eprintln!` of a passing test and
//! would hide it. Where `.ci/run` sets `CLOUDBOOT_REQUIRE_ROOT_TESTS`
//! (everything the machine must provide: root, programs, the Debian root)
//! or `CLOUDBOOT_REQUIRE_PACKAGES` (the packages it built), a missing
//! prerequisite fails the test instead: nothing can pass there by skipping.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

/// One prerequisite.
#[derive(Clone, Copy, Debug)]
pub enum Need {
    /// Running as root, for what the text says ("to chroot into the
    /// scratch root", "to make a network namespace", ...).
    Root(&'static str),
    /// A static busybox, to be `/bin/sh` and friends in a scratch root.
    Busybox,
    /// A program (its name, and the Debian package that has it).
    Program(&'static str, &'static str),
    /// A file (its path, and the Debian package that has it).
    File(&'static str, &'static str),
    /// The Debian 12 root the module cases were recorded in.
    DebianRoot,
    /// A package scripts/package.sh built in `dist/` (`deb` or `rpm`).
    Package(&'static str),
    /// Python 3.11 as `/usr/bin/python3` (the recorder's cloud-init ran on
    /// Debian 12's), for the tests that compare with CPython itself.
    Python311,
}

/// Chrooting into a scratch root and running its busybox there.
pub const CHROOT: &[Need] = &[Need::Root("to chroot into the scratch root"), Need::Busybox];

/// Whether every one of `needs` is met. If one is not, the test is skipped
/// (see the module's text): the caller returns at once.
pub fn require(needs: &[Need]) -> bool {
    check(None, needs)
}

/// As [`require`], for one part of a test (`part` says which) when the
/// rest of it runs anyway: "SKIPPED part of <test> (<part>): needs ...".
pub fn require_for(part: &str, needs: &[Need]) -> bool {
    check(Some(part), needs)
}

/// The Debian 12 root (`CLOUDBOOT_DEBIAN_ROOT`, else the recorder's cache),
/// with root to use it; `None` (the test skipped) otherwise.
pub fn debian_root() -> Option<PathBuf> {
    require(&[
        Need::Root("to chroot into a copy of the Debian root"),
        Need::DebianRoot,
    ])
    .then(debian_root_path)
    .flatten()
}

/// The `.deb` or `.rpm` (by `ext`) in `dist/`; `None` (the test skipped)
/// when there is none.
pub fn package(ext: &'static str) -> Option<PathBuf> {
    require(&[Need::Package(ext)])
        .then(|| package_path(ext))
        .flatten()
}

/// Skips the current test for a reason of the caller's own (one that no
/// [`Need`] describes), in the same visible line.
pub fn announce(why: &str) {
    let line = format!("SKIPPED {}: {why}\n", current_test());
    let _ = std::io::stderr().write_all(line.as_bytes());
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

pub fn busybox() -> Option<&'static Path> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists())
}

/// Where a program is: on `PATH`, or in the sbin directories an ordinary
/// user's `PATH` leaves out, or systemd's (`systemd-networkd`).
pub fn program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(
            ["/usr/sbin", "/sbin", "/usr/bin", "/bin", "/lib/systemd"]
                .into_iter()
                .map(PathBuf::from),
        )
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn debian_root_path() -> Option<PathBuf> {
    [
        std::env::var_os("CLOUDBOOT_DEBIAN_ROOT").map(PathBuf::from),
        Some(PathBuf::from("/var/cache/cloudboot-recorder/root")),
    ]
    .into_iter()
    .flatten()
    .find(|p| p.join("etc/debian_version").exists())
}

fn package_path(ext: &str) -> Option<PathBuf> {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("dist");
    std::fs::read_dir(dist)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().and_then(|e| e.to_str()) == Some(ext))
}

fn python_is_311() -> bool {
    std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import sys; print(sys.version_info[:2] == (3, 11))"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "True")
}

impl Need {
    /// What is missing and how to get it, or `None` when it is there.
    fn missing(&self) -> Option<String> {
        let missing =
            match *self {
                Need::Root(why) => (!is_root()).then(|| format!("root ({why})")),
                Need::Busybox => busybox()
                    .is_none()
                    .then(|| "a static busybox (apt-get install busybox-static)".into()),
                Need::Program(name, package) => program(name)
                    .is_none()
                    .then(|| format!("{name} (apt-get install {package})")),
                Need::File(path, package) => (!Path::new(path).exists())
                    .then(|| format!("{path} (apt-get install {package})")),
                Need::DebianRoot => debian_root_path().is_none().then(|| {
                    "the Debian 12 root (tests/fixtures/modules/record.sh --build-only builds it; \
                 CLOUDBOOT_DEBIAN_ROOT names it)"
                        .into()
                }),
                Need::Package(ext) => package_path(ext)
                    .is_none()
                    .then(|| format!("dist/*.{ext} (scripts/release.sh, then scripts/package.sh)")),
                Need::Python311 => (!python_is_311())
                    .then(|| "Python 3.11 as /usr/bin/python3 (Debian 12's)".into()),
            };
        missing.map(|m| format!("needs {m}"))
    }

    /// The variable under which its absence is a failure.
    fn strict_variable(&self) -> &'static str {
        match self {
            Need::Package(_) => "CLOUDBOOT_REQUIRE_PACKAGES",
            _ => "CLOUDBOOT_REQUIRE_ROOT_TESTS",
        }
    }
}

fn check(part: Option<&str>, needs: &[Need]) -> bool {
    let Some((need, why)) = needs.iter().find_map(|n| n.missing().map(|w| (n, w))) else {
        return true;
    };
    let test = current_test();
    let what = match part {
        Some(part) => format!("part of {test} ({part})"),
        None => test,
    };
    let strict = need.strict_variable();
    if std::env::var_os(strict).is_some() {
        panic!("{what} cannot run: it {why}, and {strict} is set (a skip would hide it)");
    }
    let hint = match need {
        Need::Root(_) => " — .ci/run runs it as root",
        _ => " — .ci/run installs or builds it",
    };
    // Straight to the handle, past libtest's capture of eprintln!, and in
    // one write, so that libtest's own lines cannot cut into it.
    let line = format!("SKIPPED {what}: {why}{hint}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    false
}

/// `<test binary>::<test path>`: libtest names each test's thread after the
/// test; the binary's name (without cargo's hash) says which file it is in.
fn current_test() -> String {
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|stem| match stem.rsplit_once('-') {
            Some((name, _hash)) => name.to_string(),
            None => stem,
        })
        .unwrap_or_default();
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("this test");
    format!("{binary}::{test}")
}
