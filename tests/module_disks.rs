//! growpart, resizefs and disk_setup on real disks: disk images with a
//! partition table (sfdisk), attached as loop devices (`losetup -P`), with
//! real ext4 and xfs filesystems. The image grows (as a disk does when an
//! instance gets a bigger one), its partition is mounted as the target
//! root, and cloudboot's network stage grows the partition and the
//! filesystem to the disk's new end, with the machine's own tools
//! (cloud-guest-utils, e2fsprogs, xfsprogs).
//!
//! Safety: only loop devices these tests attached are touched; each is
//! detached, and each mount unmounted, by a guard on every path (a failed
//! assertion too). The refusal test shows that a scratch root on the
//! machine's own disk never gets its disk grown.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::skip::{self, Need};
use common::*;

const MIB: u64 = 1 << 20;

/// What the disk tests need from this machine.
const DISK_TOOLS: &[Need] = &[
    Need::Root("to attach loop devices and mount them"),
    Need::Program("losetup", "mount"),
    Need::Program("partx", "util-linux"),
    Need::Program("sfdisk", "fdisk"),
    Need::Program("growpart", "cloud-guest-utils"),
    Need::Program("resize2fs", "e2fsprogs"),
    Need::Program("dumpe2fs", "e2fsprogs"),
    Need::Program("mkfs.xfs", "xfsprogs"),
    Need::Program("xfs_growfs", "xfsprogs"),
    Need::Program("blockdev", "util-linux"),
];

/// Runs a program; panics with its output unless it exits 0.
fn sh(argv: &[&str]) -> String {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    assert!(
        out.status.success(),
        "{argv:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A disk image attached as a loop device (partitions scanned), detached
/// when dropped.
struct LoopDisk {
    image: PathBuf,
    dev: String,
}

impl LoopDisk {
    /// An image of `size` bytes in `dir`, with `table` (sfdisk's input) on
    /// it, attached.
    fn new(dir: &Path, size: u64, table: &str) -> LoopDisk {
        let image = dir.join("disk.img");
        std::fs::File::create(&image)
            .unwrap()
            .set_len(size)
            .unwrap();
        if !table.is_empty() {
            let mut child = Command::new("sfdisk")
                .args(["--quiet", image.to_str().unwrap()])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap();
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(table.as_bytes())
                .unwrap();
            assert!(child.wait().unwrap().success(), "sfdisk {table}");
        }
        let dev = sh(&["losetup", "-f", "--show", "-P", image.to_str().unwrap()])
            .trim()
            .to_string();
        let disk = LoopDisk { image, dev };
        // Some kernels (this CI's) do not scan a loop device's table on
        // `losetup -P`: partx adds the partitions it finds (BLKPG).
        if !table.is_empty() && !Path::new(&disk.part(1)).exists() {
            sh(&["partx", "-a", &disk.dev]);
        }
        disk
    }

    /// The device of partition `n` (`/dev/loop3p1`).
    fn part(&self, n: u32) -> String {
        format!("{}p{n}", self.dev)
    }

    /// Grows the image to `size` and tells the kernel (`losetup -c`), as a
    /// bigger disk looks to an instance.
    fn grow(&self, size: u64) {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&self.image)
            .unwrap()
            .set_len(size)
            .unwrap();
        sh(&["losetup", "-c", &self.dev]);
    }

    fn size(dev: &str) -> u64 {
        sh(&["blockdev", "--getsize64", dev])
            .trim()
            .parse()
            .unwrap()
    }

    /// Where partition `n` ends, in bytes from the disk's start (sysfs).
    fn part_end(&self, n: u32) -> u64 {
        let name = Path::new(&self.part(n))
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let read = |f: &str| -> u64 {
            std::fs::read_to_string(format!("/sys/class/block/{name}/{f}"))
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        };
        (read("start") + read("size")) * 512
    }
}

impl Drop for LoopDisk {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.dev]).status();
    }
}

/// A mount, unmounted when dropped.
struct Mounted(PathBuf);

impl Mounted {
    fn new(dev: &str, at: &Path) -> Mounted {
        sh(&["mount", dev, at.to_str().unwrap()]);
        Mounted(at.to_path_buf())
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A NoCloud seed whose user-data is `cloud_config`.
fn seed(m: &Machine, cloud_config: &str) {
    m.seed(
        "instance-id: iid-disks-1\nlocal-hostname: disks\n",
        &format!("#cloud-config\n{cloud_config}"),
    );
    m.write(
        "/etc/cloud/cloud.cfg.d/90-test.cfg",
        "datasource_list: [NoCloud, None]\nnetwork: {config: disabled}\n",
    );
}

/// The commands `plan --format json` lists for `module`, and whether each
/// runs on the machine.
fn planned(m: &Machine, module: &str) -> Vec<(Vec<String>, bool)> {
    let plan: serde_json::Value = serde_json::from_str(&m.plan(&["--format", "json"])).unwrap();
    let mut all = Vec::new();
    for stage in plan["stages"].as_array().unwrap() {
        for md in stage["modules"].as_array().into_iter().flatten() {
            if md["name"] != module {
                continue;
            }
            for e in md["effects"].as_array().into_iter().flatten() {
                if e["action"] == "run" {
                    let argv = e["argv"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| a.as_str().unwrap().to_string())
                        .collect();
                    all.push((argv, e["on_host"] == true));
                }
            }
        }
    }
    all
}

/// A seed for the root, whose user-data is `cloud_config` (the network
/// stage reads it) and the output of `init` (the network stage): the
/// stage's errors and the output log.
fn network_stage(m: &Machine, cloud_config: &str) -> (Option<i32>, String) {
    seed(m, cloud_config);
    let out = m.run(&["init"]);
    let text = format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// An image with one partition from 1 MiB to `part` bytes, `fs` made on
/// it, grown to `grown` bytes and mounted as the root of a machine; the
/// network stage runs with the default config (growpart `devices: ['/']`,
/// `resize_rootfs: true`), and the partition and the filesystem must end
/// at the disk's new size. `fs_size` reads the filesystem's size (bytes)
/// from its mount point and device.
fn grows_the_root(mkfs: &[&str], part: u64, grown: u64, fs_size: fn(&Path, &str) -> u64) {
    let work = tempfile::tempdir().unwrap();
    let disk = LoopDisk::new(work.path(), part, "label: dos\nstart=2048, type=83\n");
    let dev = disk.part(1);
    let mut argv = mkfs.to_vec();
    argv.push(&dev);
    sh(&argv);
    disk.grow(grown);
    assert_eq!(LoopDisk::size(&disk.dev), grown);
    assert!(disk.part_end(1) <= part, "the partition starts small");

    let m = Machine::new();
    let _mounted = Mounted::new(&dev, m.root());
    let before = fs_size(m.root(), &dev);
    assert!(before <= part, "{before}");
    // The plan lists what will run, on the machine, and changes nothing.
    seed(&m, "{}\n");
    let s = |a: &[&str]| a.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        planned(&m, "growpart"),
        [(s(&["growpart", &disk.dev, "1"]), true)]
    );
    let resize = match mkfs[0] {
        "mkfs.xfs" => s(&["xfs_growfs", m.root().to_str().unwrap()]),
        _ => s(&["resize2fs", &dev]),
    };
    assert_eq!(planned(&m, "resizefs"), [(resize, true)]);
    assert!(disk.part_end(1) <= part, "a plan grows nothing");
    let (code, out) = network_stage(&m, "{}\n");

    // The partition ends at the disk's end (MBR: its last sector).
    let end = disk.part_end(1);
    assert!(
        end + MIB > grown && end <= grown,
        "partition ends at {end}, the disk at {grown}\n{out}"
    );
    // Growing a mounted ext4 takes CAP_SYS_RESOURCE (the kernel's
    // EXT4_IOC_RESIZE_FS); where the machine withholds it even from root
    // (some containers), resize2fs is run on the partition and the kernel
    // refuses: that is what is checked there.
    if mkfs[0] == "mkfs.ext4" && !has_cap_sys_resource() {
        skip::announce(
            "part of the ext4 check (the filesystem grown online): this machine withholds \
             CAP_SYS_RESOURCE, which the kernel asks of an online ext4 resize",
        );
        assert_eq!(code, Some(1), "{out}");
        let errors = m.stage_errors("init");
        assert_eq!(
            errors,
            [format!(
                "resizefs: command resize2fs {dev} failed: exit code 1"
            )],
            "{out}"
        );
        return;
    }
    assert_eq!(code, Some(0), "{out}");
    assert!(
        m.stage_errors("init").is_empty(),
        "{:?}",
        m.stage_errors("init")
    );
    let after = fs_size(m.root(), &dev);
    let part_size = LoopDisk::size(&dev);
    assert!(
        after + MIB > part_size && after > before,
        "filesystem {before} -> {after}, partition {part_size}\n{out}"
    );
    // Run again (every boot): nothing more to grow (growpart's exit 1 is
    // no failure), and no error.
    m.reboot();
    let (code, out) = network_stage(&m, "{}\n");
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(disk.part_end(1), end);
    assert_eq!(fs_size(m.root(), &dev), after);
}

/// Whether this process has CAP_SYS_RESOURCE (bit 24 of CapEff).
fn has_cap_sys_resource() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << 24) != 0)
}

/// dumpe2fs's block count times block size.
fn ext4_size(_mount: &Path, dev: &str) -> u64 {
    let text = sh(&["dumpe2fs", "-h", dev]);
    let field = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("{name} in {text}"))
            .trim()
            .parse()
            .unwrap()
    };
    field("Block count:") * field("Block size:")
}

/// xfs_info's data blocks times their size.
fn xfs_size(mount: &Path, _dev: &str) -> u64 {
    let text = sh(&["xfs_info", mount.to_str().unwrap()]);
    let data = text
        .lines()
        .find(|l| l.starts_with("data "))
        .unwrap_or_else(|| panic!("no data line in {text}"));
    let num = |key: &str| -> u64 {
        data.split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .unwrap()
            .trim_end_matches(',')
            .parse()
            .unwrap()
    };
    num("bsize=") * num("blocks=")
}

#[test]
fn growpart_and_resizefs_grow_an_ext4_root_to_the_disks_end() {
    if !skip::require(DISK_TOOLS) {
        return;
    }
    grows_the_root(&["mkfs.ext4", "-q", "-F"], 48 * MIB, 160 * MIB, ext4_size);
}

#[test]
fn growpart_and_resizefs_grow_an_xfs_root_to_the_disks_end() {
    if !skip::require(DISK_TOOLS) {
        return;
    }
    // xfsprogs 6 makes no filesystem under 300 MiB.
    grows_the_root(&["mkfs.xfs", "-q", "-f"], 320 * MIB, 512 * MIB, xfs_size);
}

/// A scratch root is a plain directory on this machine's own disk: asked
/// to grow `/`, cloudboot refuses, names the device, and runs nothing.
#[test]
fn the_hosts_own_root_device_is_never_grown_from_a_scratch_root() {
    if !skip::require(&[Need::Root(
        "to read the machine's block devices as the boot does",
    )]) {
        return;
    }
    let m = Machine::new();
    let source = sh(&[
        "findmnt",
        "-n",
        "-o",
        "SOURCE",
        "--target",
        m.root().to_str().unwrap(),
    ]);
    if !source.starts_with("/dev/") {
        skip::announce("the scratch root is not on a block device here (tmpfs /tmp)");
        return;
    }
    let (_, out) = network_stage(
        &m,
        "growpart: {mode: auto, devices: ['/']}\nresize_rootfs: true\n",
    );
    let errors = m.stage_errors("init");
    let root = m.root().display().to_string();
    for what in ["grow the partition", "resize the filesystem on"] {
        assert!(
            errors
                .iter()
                .any(|e| e.contains(&format!("refusing to {what} /dev/"))
                    && e.contains("it holds this machine's own /")
                    && e.contains(&format!("the target root {root} is not /"))),
            "{what}: {errors:?}\n{out}"
        );
    }
    // Nothing ran: the output log has no growpart or resize2fs line.
    let log = std::fs::read_to_string(m.path("/var/log/cloud-init-output.log")).unwrap_or_default();
    assert!(
        !log.contains("CHANGED") && !log.contains("NOCHANGE") && !log.contains("resize2fs"),
        "{log}"
    );
    // The plan says the same, and lists no command for either module.
    let text = m.plan(&["--format", "json"]);
    assert!(
        text.contains("refusing to grow the partition /dev/"),
        "{text}"
    );
    let plan: serde_json::Value = serde_json::from_str(&text).unwrap();
    for stage in plan["stages"].as_array().unwrap() {
        for module in stage["modules"].as_array().into_iter().flatten() {
            if module["name"] == "growpart" || module["name"] == "resizefs" {
                assert_eq!(
                    module["effects"].as_array().map_or(0, Vec::len),
                    0,
                    "{module}"
                );
            }
        }
    }
}

/// By default (no growpart or resize_rootfs in the config) a scratch root
/// has nothing to grow: 22.4's notes, and no error.
#[test]
fn a_scratch_root_by_default_has_nothing_to_grow_and_no_error() {
    let m = Machine::new();
    let (code, out) = network_stage(&m, "{}\n");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        m.stage_errors("init").is_empty(),
        "{:?}",
        m.stage_errors("init")
    );
}

/// What disk_setup needs beyond the disk tools.
const PARTITION_TOOLS: &[Need] = &[
    Need::Root("to attach loop devices"),
    Need::Program("losetup", "mount"),
    Need::Program("sfdisk", "fdisk"),
    Need::Program("sgdisk", "gdisk"),
    Need::Program("partprobe", "parted"),
    Need::Program("blkid", "util-linux"),
    Need::Program("lsblk", "util-linux"),
    Need::Program("mkfs.ext4", "e2fsprogs"),
    Need::Program("mkfs.xfs", "xfsprogs"),
    Need::Program("mkswap", "util-linux"),
];

/// `blkid -o export`'s TYPE and LABEL of a device.
fn fs_of(dev: &str) -> (String, String) {
    let out = Command::new("blkid")
        .args(["-c", "/dev/null", "-o", "export", dev])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_default()
            .to_string()
    };
    (get("TYPE"), get("LABEL"))
}

/// A blank second disk (no table), named by `device_aliases`, partitioned
/// and formatted by disk_setup from a scratch root; returns the disk, the
/// machine and the stage's output.
fn set_up_disk(config: &str) -> (tempfile::TempDir, LoopDisk, Machine, String) {
    let work = tempfile::tempdir().unwrap();
    let disk = LoopDisk::new(work.path(), 96 * MIB, "");
    let m = Machine::new();
    let config = config.replace("DISK", &disk.dev);
    let (code, out) = network_stage(&m, &config);
    assert_eq!(code, Some(0), "{config}\n{out}");
    assert!(
        m.stage_errors("init").is_empty(),
        "{:?}",
        m.stage_errors("init")
    );
    (work, disk, m, out)
}

#[test]
fn disk_setup_writes_an_mbr_table_and_makes_ext4_and_swap() {
    if !skip::require(PARTITION_TOOLS) {
        return;
    }
    let (_work, disk, m, out) = set_up_disk(
        "device_aliases: {data: DISK}\n\
         disk_setup:\n  data: {table_type: mbr, layout: [50, [50, 82]], overwrite: false}\n\
         fs_setup:\n\
         - {label: fs1, filesystem: ext4, device: data, partition: auto}\n\
         - {label: swap1, filesystem: swap, device: data, partition: any}\n",
    );
    let dump = sh(&["sfdisk", "--dump", &disk.dev]);
    assert!(dump.contains("label: dos"), "{dump}");
    let types: Vec<&str> = dump
        .lines()
        .filter(|l| l.starts_with(&disk.dev))
        .map(|l| l.split("type=").nth(1).unwrap_or_default().trim())
        .collect();
    assert_eq!(types, ["83", "82"], "{dump}\n{out}");
    assert_eq!(fs_of(&disk.part(1)), ("ext4".into(), "fs1".into()), "{out}");
    assert_eq!(
        fs_of(&disk.part(2)),
        ("swap".into(), "swap1".into()),
        "{out}"
    );
    // Once per instance: a second boot of the same instance leaves it.
    m.reboot();
    let (code, out) = network_stage(&m, "{}\n");
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn disk_setup_writes_a_gpt_table_and_makes_xfs() {
    if !skip::require(PARTITION_TOOLS) {
        return;
    }
    // xfs needs 300 MiB: the whole disk for it, the table with one
    // partition of the given type.
    let work = tempfile::tempdir().unwrap();
    let disk = LoopDisk::new(work.path(), 400 * MIB, "");
    let m = Machine::new();
    let config = format!(
        "disk_setup:\n  {dev}: {{table_type: gpt, layout: [[100, 8300]], overwrite: true}}\n\
         fs_setup:\n- {{label: big, filesystem: xfs, device: {dev}, partition: any}}\n",
        dev = disk.dev
    );
    let (code, out) = network_stage(&m, &config);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        m.stage_errors("init").is_empty(),
        "{:?}",
        m.stage_errors("init")
    );
    let print = sh(&["sgdisk", "-p", &disk.dev]);
    let codes: Vec<&str> = print
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("Number"))
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(5))
        .collect();
    assert_eq!(codes, ["8300"], "{print}");
    assert_eq!(fs_of(&disk.part(1)), ("xfs".into(), "big".into()), "{out}");
}

/// disk_setup refuses the machine's own disk from a scratch root, by name.
#[test]
fn disk_setup_never_touches_the_hosts_own_disk_from_a_scratch_root() {
    if !skip::require(&[Need::Root(
        "to read the machine's block devices as the boot does",
    )]) {
        return;
    }
    let m = Machine::new();
    let source = sh(&["findmnt", "-n", "-o", "SOURCE", "/"])
        .trim()
        .to_string();
    if !source.starts_with("/dev/") {
        skip::announce("this machine's / is not on a block device");
        return;
    }
    let (_, out) = network_stage(
        &m,
        &format!(
            "disk_setup:\n  {source}: {{layout: true, overwrite: true}}\n\
             fs_setup:\n- {{filesystem: ext4, device: {source}, partition: none, overwrite: true}}\n"
        ),
    );
    let errors = m.stage_errors("init");
    for what in ["partition", "make a filesystem on"] {
        assert!(
            errors
                .iter()
                .any(|e| e.contains(&format!("refusing to {what} /dev/"))),
            "{what}: {errors:?}\n{out}"
        );
    }
    let plan = m.plan(&["--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    for stage in plan["stages"].as_array().unwrap() {
        for module in stage["modules"].as_array().into_iter().flatten() {
            if module["name"] == "disk_setup" {
                assert_eq!(
                    module["effects"].as_array().map_or(0, Vec::len),
                    0,
                    "{module}"
                );
            }
        }
    }
}
