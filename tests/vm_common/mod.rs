//! The VM harness: Debian 12 guests booted under QEMU with cloudboot (or
//! cloud-init) as their cloud-init, hardware described per boot, and what
//! the guest recorded read back from its disk. See tests/vm/README.md.
//!
//! - [`guest`] gives a fresh disk of the systemd or SysV image
//!   (tests/vm/build-image.sh built it; .ci/run builds it before the tests,
//!   since the tests run in a network namespace of their own and cannot
//!   reach a Debian mirror) with cloudboot's .deb installed by
//!   tests/vm/prepare-disk.sh.
//! - [`Guest::boot`] boots it with tests/vm/run-vm.sh on some [`Hardware`]
//!   until the guest powers itself off (tests/vm/after-boot.sh does, once
//!   the final stage has finished), then reads `/var/vm-test/boot-N` off
//!   the disk with debugfs.
//!
//! Unlike the other tests' prerequisites, a machine where the VMs cannot
//! run fails these tests even outside CI, unless `CLOUDBOOT_SKIP_VM_TESTS`
//! is set: a VM test that skipped quietly would prove nothing.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use crate::common::skip::{self, Need};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vm");

/// The init system of the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Init {
    Systemd,
    Sysv,
}

impl Init {
    fn dir(self) -> &'static str {
        match self {
            Init::Systemd => "systemd",
            Init::Sysv => "sysv",
        }
    }
}

/// What plays cloud-init in the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum System {
    Cloudboot,
    /// Debian's cloud-init 22.4, as the image was built.
    CloudInit,
}

/// The machine a boot runs on: NICs in PCI order (each a MAC and QEMU
/// user-networking options), a CD-ROM, extra disks, SMBIOS system fields.
#[derive(Clone, Debug, Default)]
pub struct Hardware {
    pub nics: Vec<String>,
    pub cdrom: Option<PathBuf>,
    pub drives: Vec<PathBuf>,
    pub smbios: Option<String>,
}

/// One finished boot: what the guest recorded, and its console.
pub struct Boot {
    pub n: u32,
    pub dir: PathBuf,
    pub console: String,
}

impl Boot {
    /// A file the guest recorded (empty when it recorded none).
    pub fn read(&self, name: &str) -> String {
        fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    /// The IPv4 addresses (`a.b.c.d/len`) on the interface with `mac`.
    pub fn addresses_of(&self, mac: &str) -> Vec<String> {
        let Some(name) = self.name_of(mac) else {
            return Vec::new();
        };
        self.read("addr")
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.get(1) == Some(&name.as_str()) && f.get(2) == Some(&"inet"))
                    .then(|| f[3].to_string())
            })
            .collect()
    }

    /// The interface name the NIC with `mac` has.
    pub fn name_of(&self, mac: &str) -> Option<String> {
        // `2: eth0: <...> mtu 1500 ... link/ether 52:54:00:..`
        self.read("link").lines().find_map(|l| {
            l.contains(&format!("link/ether {mac}")).then(|| {
                l.split(':')
                    .nth(1)
                    .map(|n| n.trim().split('@').next().unwrap_or("").to_string())
                    .unwrap_or_default()
            })
        })
    }

    /// Everything a failed assertion should show.
    pub fn describe(&self) -> String {
        let mut s = format!("boot {} records in {}\n", self.n, self.dir.display());
        for f in ["status", "addr", "route", "hostname", "timeout"] {
            s += &format!("--- {f}\n{}\n", self.read(f));
        }
        let tail: Vec<&str> = self.console.lines().rev().take(40).collect();
        s += "--- console (last 40 lines)\n";
        for l in tail.iter().rev() {
            s += l;
            s += "\n";
        }
        s
    }
}

/// A guest disk and its boots. When its test fails, its directory (disk,
/// consoles, records) is kept and named on stderr.
pub struct Guest {
    pub dir: tempfile::TempDir,
    pub disk: PathBuf,
    kernel_dir: PathBuf,
    boots: u32,
}

impl Drop for Guest {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let kept = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap()).keep();
            eprintln!("the failed test's guest is kept in {}", kept.display());
        }
    }
}

/// A fresh guest of `init` with `system`, or `None` (the test skipped)
/// where it may not run.
pub fn guest(init: Init, system: System) -> Option<Guest> {
    let template = template(init, system)?;
    let dir = tempfile::Builder::new()
        .prefix("cloudboot-vm-")
        .tempdir_in(scratch())
        .unwrap();
    let disk = dir.path().join("disk.raw");
    run(Command::new("cp")
        .arg("--sparse=always")
        .arg(&template.disk)
        .arg(&disk));
    Some(Guest {
        dir,
        disk,
        kernel_dir: template.kernel_dir.clone(),
        boots: 0,
    })
}

impl Guest {
    /// A file in the guest's scratch directory (seeds go there).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Boots the disk on `hw` until the guest powers off, and reads what
    /// this boot recorded.
    pub fn boot(&mut self, hw: &Hardware) -> Boot {
        self.boots += 1;
        let n = self.boots;
        let serial = self.path(&format!("console-{n}.log"));
        let mut cmd = Command::new(Path::new(DIR).join("run-vm.sh"));
        cmd.arg("--kernel-dir")
            .arg(&self.kernel_dir)
            .arg("--disk")
            .arg(&self.disk)
            .arg("--serial")
            .arg(&serial)
            .args(["--timeout", "600"]);
        for nic in &hw.nics {
            cmd.arg("--nic").arg(nic);
        }
        if let Some(iso) = &hw.cdrom {
            cmd.arg("--cdrom").arg(iso);
        }
        for d in &hw.drives {
            cmd.arg("--drive").arg(d);
        }
        if let Some(s) = &hw.smbios {
            cmd.arg("--smbios").arg(s);
        }
        let out = cmd.output().expect("run-vm.sh runs");
        let console = String::from_utf8_lossy(&fs::read(&serial).unwrap_or_default()).into_owned();
        assert!(
            out.status.success(),
            "QEMU failed or timed out ({}): {}\n--- console (last 60 lines)\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            console
                .lines()
                .rev()
                .take(60)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        );
        let records = self.path("records");
        let _ = fs::remove_dir_all(&records);
        fs::create_dir(&records).unwrap();
        let image = format!("{}?offset=1048576", self.disk.display());
        run(Command::new(program("debugfs"))
            .arg("-R")
            .arg(format!("rdump /var/vm-test {}", records.display()))
            .arg(&image));
        let src = records.join("vm-test").join(format!("boot-{n}"));
        let dir = self.path(&format!("boot-{n}"));
        assert!(
            src.is_dir(),
            "the guest recorded no boot-{n}: the hook never ran\n--- console\n{console}"
        );
        fs::rename(&src, &dir).unwrap();
        // Files the guest's own scripts leave in /var/vm-test beside the
        // boot records (runcmd's, bootcmd's), as of this boot.
        for e in fs::read_dir(records.join("vm-test")).unwrap().flatten() {
            if e.path().is_file() {
                fs::copy(e.path(), dir.join(e.file_name())).unwrap();
            }
        }
        let boot = Boot { n, dir, console };
        // One line per boot in the test's output (`--nocapture` shows it).
        eprintln!(
            "boot {n}: boot-finished \"{}\"; nics {}; default route {:?}",
            boot.read("boot-finished").trim(),
            boot.read("nics")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(","),
            boot.read("route")
                .lines()
                .find(|l| l.starts_with("default"))
                .unwrap_or("none"),
        );
        boot
    }
}

/// The guest's root filesystem mounted (a loop mount of the disk's first
/// partition, at 1 MiB) while it is powered off, for a tool that works on
/// an image (`cloudboot seal --root`); unmounted when dropped.
pub struct Mounted {
    pub dir: tempfile::TempDir,
}

impl Guest {
    pub fn mount(&self) -> Mounted {
        let dir = tempfile::tempdir().unwrap();
        run(Command::new("mount")
            .args(["-o", "loop,offset=1048576"])
            .arg(&self.disk)
            .arg(dir.path()));
        Mounted { dir }
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(self.dir.path())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok && !std::thread::panicking() {
            panic!("umount {} failed", self.dir.path().display());
        }
    }
}

/// A config drive ISO (`genisoimage -V config-2`, as nova makes them) of
/// `files` (path in the drive, content).
pub fn config_drive(at: &Path, files: &[(&str, &str)]) -> PathBuf {
    iso(at, "config-2", files)
}

/// An ISO9660 image with Rock Ridge and Joliet names, labelled `label`.
pub fn iso(at: &Path, label: &str, files: &[(&str, &str)]) -> PathBuf {
    let src = at.with_extension("d");
    for (path, content) in files {
        let p = src.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }
    run(Command::new(program("genisoimage"))
        .args(["-quiet", "-J", "-r", "-V", label, "-o"])
        .arg(at)
        .arg(&src));
    at.to_path_buf()
}

/// A vfat disk image (no partition table) labelled `label`, holding `files`
/// at its top.
pub fn vfat(at: &Path, label: &str, files: &[(&str, &str)]) -> PathBuf {
    run(Command::new("truncate").args(["-s", "8M"]).arg(at));
    run(Command::new(program("mkfs.vfat"))
        .args(["-n", label])
        .arg(at));
    for (name, content) in files {
        let local = at.with_extension(name);
        fs::write(&local, content).unwrap();
        run(Command::new(program("mcopy"))
            .arg("-i")
            .arg(at)
            .arg(&local)
            .arg(format!("::{name}")));
    }
    at.to_path_buf()
}

struct Template {
    disk: PathBuf,
    kernel_dir: PathBuf,
}

/// The prepared disk of (init, system), made once per test binary.
fn template(init: Init, system: System) -> Option<&'static Template> {
    static TEMPLATES: OnceLock<Mutex<HashMap<(Init, System), &'static Template>>> = OnceLock::new();
    let images = images()?;
    let deb = match system {
        System::Cloudboot => Some(skip::package("deb")?),
        System::CloudInit => None,
    };
    let mut map = TEMPLATES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(t) = map.get(&(init, system)) {
        return Some(t);
    }
    let kernel_dir = images.join(init.dir());
    let disk = templates_dir().join(format!("{}-{system:?}.raw", init.dir()));
    run(Command::new(Path::new(DIR).join("prepare-disk.sh"))
        .arg(&kernel_dir)
        .arg(&disk)
        .arg(match &deb {
            Some(d) => d.as_os_str(),
            None => "cloud-init".as_ref(),
        }));
    let t: &'static Template = Box::leak(Box::new(Template { disk, kernel_dir }));
    map.insert((init, system), t);
    Some(t)
}

/// Where this test binary keeps its prepared disks (removed at exit would
/// need a destructor libtest never runs: they go under one directory that
/// the next run empties).
fn templates_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = scratch().join(format!("cloudboot-vm-templates-{}", std::process::id()));
        // Earlier runs' templates: their processes are gone.
        if let Ok(entries) = fs::read_dir(scratch()) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(pid) = name.strip_prefix("cloudboot-vm-templates-") {
                    if !Path::new("/proc").join(pid).exists() {
                        let _ = fs::remove_dir_all(e.path());
                    }
                }
            }
        }
        fs::create_dir_all(&d).unwrap();
        d
    })
}

/// Disks are 4 GiB sparse files: they go where there is room
/// (`CLOUDBOOT_VM_SCRATCH`, default /var/tmp), not to a tmpfs.
fn scratch() -> PathBuf {
    std::env::var_os("CLOUDBOOT_VM_SCRATCH")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp"))
}

/// The built images' directory, or `None` (the test skipped): not root is
/// an ordinary skip; anything else missing fails unless
/// `CLOUDBOOT_SKIP_VM_TESTS` is set.
fn images() -> Option<PathBuf> {
    if !skip::require(&[Need::Root(
        "to install cloudboot's .deb into the guest disk (loop mount, chroot)",
    )]) {
        return None;
    }
    static IMAGES: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = IMAGES.get_or_init(|| {
        for (name, package) in [
            ("qemu-system-x86_64", "qemu-system-x86"),
            ("debugfs", "e2fsprogs"),
            ("genisoimage", "genisoimage"),
            ("mkfs.vfat", "dosfstools"),
            ("mcopy", "mtools"),
        ] {
            if skip::program(name).is_none() {
                return Err(format!("{name} is missing (apt-get install {package})"));
            }
        }
        let out = Command::new(Path::new(DIR).join("build-image.sh"))
            .arg("--cached-only")
            .output()
            .map_err(|e| format!("tests/vm/build-image.sh: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    });
    match found {
        Ok(dir) => Some(dir.clone()),
        Err(why) if std::env::var_os("CLOUDBOOT_SKIP_VM_TESTS").is_some() => {
            skip::announce(&format!(
                "the VMs cannot run here ({why}) and CLOUDBOOT_SKIP_VM_TESTS is set"
            ));
            None
        }
        Err(why) => panic!(
            "the VM tests cannot run: {why}. Build the images with `sudo tests/vm/build-image.sh` \
             (.ci/run does), or set CLOUDBOOT_SKIP_VM_TESTS=1 to skip them out loud"
        ),
    }
}

fn program(name: &str) -> PathBuf {
    skip::program(name).unwrap_or_else(|| panic!("{name} is missing"))
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
