//! `fstab-without-nofail`: /etc/fstab entries for disks a new instance may
//! not have, without `nofail`.
//!
//! A template often has more than its root disk: an instance-store or
//! ephemeral disk its cloud gave it (`/dev/xvdb`, `/dev/vdb`,
//! `LABEL=ephemeral0`, Azure's resource disk), mounted by cloud-init's
//! mounts module (its entries carry `comment=cloudconfig`, see 22.4's
//! `cc_mounts.py`), or a second disk mounted by hand. A clone on another
//! instance type or cloud may have no such disk. Without `nofail` its
//! boot stops there: systemd waits for the device (90 s), then fails
//! local-fs.target and goes to emergency mode; mountall waits for it;
//! EL6's rc.sysinit runs `fsck -A`, whose failure on the missing device
//! drops to a maintenance shell (so on SysV only entries with a non-zero
//! fsck pass stop the boot: a failed `mount -a` is printed and the boot
//! goes on, and `swapon -a -e` skips missing devices; initscripts 9.03's
//! rc.d/rc.sysinit). A missing swap device under systemd only delays the
//! boot: a warning of its own. `noauto` entries are not mounted at boot,
//! and `nobootwait` is Ubuntu's mountall's own way to say `nofail`.
//!
//! Not flagged: the root and the entries on its disk, entries by UUID or
//! LABEL (the image's own filesystems, whose disk cannot be told from an
//! offline root; LABEL=ephemeral* excepted), pseudo filesystems, and
//! network filesystems: those wait for a server, not a disk of the
//! instance, and a failed one does not stop the boot (systemd puts them
//! under remote-fs.target, which has no emergency fallback; SysV mounts
//! them in netfs, after the boot's fsck, and goes on).
//!
//! The fix adds `nofail` to each such entry's options (on images booted by
//! Ubuntu's upstart and mountall, `nobootwait`, which cloud-init wrote
//! there), and keeps the rest of the file byte for byte. The fsck pass is
//! kept: fsck -A skips a non-existent device with `nofail` since
//! util-linux 2.17 (fsck/fsck.c's `ignore()`, commit 1bb516c3, 2009), and
//! EL6 has util-linux-ng 2.17.2, so a pass of 2 with `nofail` no longer
//! stops a SysV boot there (systemd's fsck runs only when the device
//! appears). Older SysV images (EL5's util-linux 2.13) would also need the
//! pass at 0; those are not told apart here.

use std::path::Path;

use super::registry::Check;
use super::{Evidence, Finding, Image, Severity};
use crate::distro::init_system::Init;
use crate::effect::{Data, Effect};

pub const CHECK: Check = Check {
    id: "fstab-without-nofail",
    about: "fstab entries for disks a new instance may not have, without nofail",
    run,
};

const FSTAB: &str = "/etc/fstab";

/// Filesystems with no disk under them.
const PSEUDO: &[&str] = &[
    "tmpfs",
    "devtmpfs",
    "ramfs",
    "proc",
    "sysfs",
    "devpts",
    "cgroup",
    "cgroup2",
    "securityfs",
    "debugfs",
    "tracefs",
    "hugetlbfs",
    "mqueue",
    "pstore",
    "configfs",
    "efivarfs",
    "binfmt_misc",
    "fusectl",
    "bpf",
    "autofs",
    "rpc_pipefs",
    "nfsd",
    "usbfs",
    "selinuxfs",
    "none",
];

/// Filesystems on a server (see the top of this file for why not).
const NETWORK: &[&str] = &[
    "nfs",
    "nfs4",
    "cifs",
    "smbfs",
    "smb3",
    "ncpfs",
    "glusterfs",
    "ceph",
    "afs",
    "9p",
    "davfs",
    "fuse.sshfs",
    "fuse.s3fs",
    "fuse.glusterfs",
    "lustre",
];

/// Options that already keep a missing disk from stopping the boot.
const TOLERANT: &[&str] = &["nofail", "nobootwait", "noauto"];

/// One fstab line's fields, with where its options field lies.
#[derive(Debug, PartialEq)]
struct Entry<'a> {
    spec: &'a str,
    file: &'a str,
    vfstype: &'a str,
    /// The options, and their byte range in the line (`None`: the line
    /// stops before the options field).
    opts: &'a str,
    opts_at: Option<(usize, usize)>,
    /// The fsck pass (6th field; absent is 0).
    passno: &'a str,
}

/// The fields of one line; none for comments, blanks and lines of one field.
fn parse(line: &str) -> Option<Entry<'_>> {
    let trimmed = line.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return None;
    }
    // Fields and their byte ranges.
    let mut fields = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        if c.is_whitespace() {
            if let Some(s) = start.take() {
                fields.push((s, i));
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        fields.push((s, line.len()));
    }
    if fields.len() < 2 {
        return None;
    }
    let field = |n: usize| fields.get(n).map(|&(s, e)| &line[s..e]);
    Some(Entry {
        spec: field(0).unwrap_or(""),
        file: field(1).unwrap_or(""),
        vfstype: field(2).unwrap_or("auto"),
        opts: field(3).unwrap_or("defaults"),
        opts_at: fields.get(3).copied(),
        passno: field(5).unwrap_or("0"),
    })
}

/// A disk by its kernel name: (`xvd`, `b`) for `/dev/xvdb1`, (`nvme`,
/// `1n1`) for `/dev/nvme1n1p1`.
fn disk_of(spec: &str) -> Option<(&'static str, String)> {
    let name = spec.strip_prefix("/dev/")?;
    for prefix in ["xvd", "vd", "sd", "hd"] {
        if let Some(rest) = name.strip_prefix(prefix) {
            let letters: String = rest.chars().take_while(char::is_ascii_lowercase).collect();
            let tail = &rest[letters.len()..];
            if !letters.is_empty() && tail.chars().all(|c| c.is_ascii_digit()) {
                return Some((prefix, letters));
            }
            return None;
        }
    }
    let rest = name.strip_prefix("nvme")?;
    // nvme<ctrl>n<ns>[p<part>]
    let (ctrl, rest) = rest.split_once('n')?;
    let ns: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let tail = &rest[ns.len()..];
    let tail_ok = tail.is_empty()
        || tail
            .strip_prefix('p')
            .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    if ctrl.is_empty() || !ctrl.chars().all(|c| c.is_ascii_digit()) || ns.is_empty() || !tail_ok {
        return None;
    }
    Some(("nvme", format!("{ctrl}n{ns}")))
}

/// The first disk of a machine by its kernel name (the root disk's, when
/// the root is named by UUID or LABEL).
fn first_disk(disk: &(&str, String)) -> bool {
    match disk.0 {
        "nvme" => disk.1 == "0n1",
        _ => disk.1 == "a",
    }
}

/// Why a new instance may not have this entry's disk, when it may not.
fn missing_disk_reason(entry: &Entry, root_disk: Option<&(&str, String)>) -> Option<String> {
    if entry.file == "/" {
        return None;
    }
    let opts: Vec<&str> = entry.opts.split(',').collect();
    if opts.iter().any(|o| TOLERANT.contains(o)) {
        return None;
    }
    let vfstype = entry.vfstype.to_ascii_lowercase();
    if PSEUDO.contains(&vfstype.as_str()) || NETWORK.contains(&vfstype.as_str()) {
        return None;
    }
    if opts.contains(&"comment=cloudconfig") {
        return Some("written by cloud-init's mounts module for this instance's disk".into());
    }
    if let Some(label) = entry.spec.strip_prefix("LABEL=") {
        if label.starts_with("ephemeral") {
            return Some("the cloud's ephemeral disk, by its label".into());
        }
        return None;
    }
    if entry.spec.starts_with("/dev/disk/cloud/azure_resource")
        || entry.spec.starts_with("/dev/disk/azure/resource")
    {
        return Some("Azure's resource (temporary) disk".into());
    }
    let disk = disk_of(entry.spec)?;
    if first_disk(&disk) || root_disk == Some(&disk) {
        return None;
    }
    Some("a disk other than the root's, by its kernel name".into())
}

fn run(image: &Image) -> Vec<Finding> {
    let Ok(bytes) = image.fs.read_at_most(Path::new(FSTAB), 1 << 20) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    // The root's disk, when the root is named by device.
    let root_disk = text
        .lines()
        .filter_map(parse)
        .find(|e| e.file == "/")
        .and_then(|e| disk_of(e.spec));
    // Who mounts the disks at boot. Ubuntu's upstart mounts with
    // mountall, which wants `nobootwait` (cloud-init wrote
    // `defaults,nobootwait` there); EL6's upstart runs rc.sysinit like
    // SysV, whose util-linux mount knows `nofail` and would pass
    // `nobootwait` to the filesystem, which refuses it.
    let mountall = image.init == Init::Upstart
        && (image.exists("/sbin/mountall") || image.exists("/etc/init/mountall.conf"));
    let boot = if image.init == Init::Systemd {
        Boot::Systemd
    } else if mountall {
        Boot::Mountall
    } else {
        Boot::Sysv
    };
    // Mounts stop the boot; a missing swap device only delays it (systemd
    // waits for it, then boots without that swap: swap.target has no
    // emergency fallback), so swap is a finding of its own, a warning.
    let mut mounts = Vec::new();
    let mut swaps = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let Some(entry) = parse(line) else { continue };
        // SysV (rc.sysinit, Debian's checkfs.sh) stops the boot only when
        // fsck -A fails; a failed `mount -a` is printed and the boot goes
        // on (and EL6's `swapon -a -e` skips missing devices). fsck -A
        // passes over entries of pass 0, so those cannot stop it. systemd
        // and mountall wait for every entry's device.
        if boot == Boot::Sysv && entry.passno.trim_start_matches('0').is_empty() {
            continue;
        }
        if let Some(reason) = missing_disk_reason(&entry, root_disk.as_ref()) {
            let ev = Evidence::line(
                FSTAB,
                n + 1,
                format!("{} ({reason}; no nofail)", line.trim_end()),
            );
            if entry.vfstype == "swap" {
                swaps.push((n, ev));
            } else {
                mounts.push((n, ev));
            }
        }
    }
    if mounts.is_empty() && swaps.is_empty() {
        return Vec::new();
    }
    let option = if boot == Boot::Mountall {
        "nobootwait"
    } else {
        "nofail"
    };
    // Only a file that is text can be edited byte for byte; a larger
    // one than was read is not rewritten from its first MiB.
    let editable = bytes.len() <= 1 << 20 && std::str::from_utf8(&bytes).is_ok();
    let mode = image
        .fs
        .stat(Path::new(FSTAB))
        .map(|s| s.mode)
        .unwrap_or(0o644);
    let finding = |flagged: Vec<(usize, Evidence)>, severity, what: &str, breaks: String| {
        let lines: Vec<usize> = flagged.iter().map(|(n, _)| *n).collect();
        let count = lines.len();
        let fixes = if editable {
            let fixed = add_option(&text, &lines, option);
            vec![Effect::write(FSTAB, Data::public(fixed), mode)]
        } else {
            Vec::new()
        };
        Finding {
            id: CHECK.id,
            severity,
            title: format!(
                "/etc/fstab has {count} {what}{} for disks a new instance may not have, \
                 without {option}",
                if count == 1 { "" } else { "s" }
            ),
            evidence: flagged.into_iter().map(|(_, e)| e).collect(),
            breaks,
            fix: if editable {
                format!(
                    "add `{option}` to the options of those entries (nothing else in the file \
                     changes)"
                )
            } else {
                format!(
                    "add `{option}` to the options of those entries by hand (the file is not \
                     UTF-8 text or is too large to rewrite)"
                )
            },
            fixes,
        }
    };
    let mut findings = Vec::new();
    if !mounts.is_empty() {
        findings.push(finding(
            mounts,
            Severity::Error,
            "mount",
            format!(
                "the first boot on an instance without that disk stops: {}; no SSH, and no \
                 login but the console's with the root password",
                boot.how_it_stops()
            ),
        ));
    }
    if !swaps.is_empty() {
        findings.push(finding(
            swaps,
            Severity::Warning,
            "swap entry",
            "the first boot on an instance without that disk waits for the device (systemd: \
             90 s) and then goes on without that swap"
                .into(),
        ));
    }
    findings
}

/// Who mounts fstab's entries at boot.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Boot {
    Systemd,
    /// Ubuntu's upstart with mountall.
    Mountall,
    /// SysV init's scripts, EL6's rc.sysinit under upstart included.
    Sysv,
}

impl Boot {
    fn how_it_stops(self) -> &'static str {
        match self {
            Boot::Systemd => {
                "systemd waits for the device (90 s), then local-fs.target fails and the boot \
                 goes to emergency mode"
            }
            Boot::Mountall => {
                "mountall waits for the device and holds the boot there, asking on the console \
                 to skip it or enter a shell"
            }
            Boot::Sysv => {
                "the boot's fsck -A fails on the missing device and the boot drops to a \
                 maintenance shell (\"Give root password for maintenance\")"
            }
        }
    }
}

/// The file with `option` added to the options of the lines numbered
/// (0-based) in `lines`; every other byte kept.
fn add_option(text: &str, lines: &[usize], option: &str) -> String {
    let mut out = String::with_capacity(text.len() + lines.len() * (option.len() + 1));
    for (n, line) in text.split_inclusive('\n').enumerate() {
        if !lines.contains(&n) {
            out.push_str(line);
            continue;
        }
        let body = line.trim_end_matches(['\n', '\r']);
        let ending = &line[body.len()..];
        let Some(entry) = parse(body) else {
            out.push_str(line);
            continue;
        };
        match entry.opts_at {
            Some((start, end)) => {
                out.push_str(&body[..start]);
                out.push_str(&body[start..end]);
                out.push(',');
                out.push_str(option);
                out.push_str(&body[end..]);
            }
            None => {
                // The line stops before its options: give them.
                let vfstype = if body.split_whitespace().count() < 3 {
                    " auto"
                } else {
                    ""
                };
                out.push_str(body.trim_end());
                out.push_str(vfstype);
                out.push_str(" defaults,");
                out.push_str(option);
                out.push_str(&body[body.trim_end().len()..]);
            }
        }
        out.push_str(ending);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disks_by_kernel_name() {
        assert_eq!(disk_of("/dev/xvdb"), Some(("xvd", "b".into())));
        assert_eq!(disk_of("/dev/xvde1"), Some(("xvd", "e".into())));
        assert_eq!(disk_of("/dev/sdaa2"), Some(("sd", "aa".into())));
        assert_eq!(disk_of("/dev/vdc"), Some(("vd", "c".into())));
        assert_eq!(disk_of("/dev/nvme1n1p2"), Some(("nvme", "1n1".into())));
        assert_eq!(disk_of("/dev/nvme0n1"), Some(("nvme", "0n1".into())));
        assert_eq!(disk_of("/dev/nvme0"), None);
        assert_eq!(disk_of("/dev/sdb1x"), None);
        assert_eq!(disk_of("/dev/mapper/vg-data"), None);
        assert_eq!(disk_of("UUID=abc"), None);
    }

    fn reason(line: &str, root: Option<&str>) -> Option<String> {
        let root = root.and_then(disk_of);
        missing_disk_reason(&parse(line).unwrap(), root.as_ref())
    }

    #[test]
    fn what_is_flagged() {
        assert!(reason("/dev/xvdb /mnt auto defaults,comment=cloudconfig 0 2", None).is_some());
        assert!(reason("/dev/vdc /data ext4 defaults 0 2", None).is_some());
        assert!(reason("LABEL=ephemeral0 /mnt auto defaults 0 2", None).is_some());
        assert!(reason(
            "/dev/disk/cloud/azure_resource-part1 /mnt auto defaults 0 2",
            None
        )
        .is_some());
        assert!(reason("/dev/nvme1n1 /data xfs defaults 0 0", None).is_some());
        assert!(reason("/dev/xvdb none swap sw,comment=cloudconfig 0 0", None).is_some());
        // The root disk, however it is named.
        assert!(reason("/dev/xvde1 / ext4 defaults 1 1", Some("/dev/xvde1")).is_none());
        assert!(reason("/dev/xvde2 /boot ext4 defaults 1 2", Some("/dev/xvde1")).is_none());
        assert!(reason("/dev/sda2 swap swap defaults 0 0", None).is_none());
        assert!(reason("UUID=1234 /data ext4 defaults 0 2", None).is_none());
        assert!(reason("LABEL=cloudimg-rootfs / ext4 defaults 0 1", None).is_none());
        // Tolerant already, pseudo, network.
        assert!(reason(
            "/dev/xvdb /mnt auto defaults,nofail,comment=cloudconfig 0 2",
            None
        )
        .is_none());
        assert!(reason("/dev/xvdb /mnt auto defaults,nobootwait 0 2", None).is_none());
        assert!(reason("/dev/vdb /mnt auto noauto 0 0", None).is_none());
        assert!(reason("tmpfs /dev/shm tmpfs defaults 0 0", None).is_none());
        assert!(reason("srv:/export /data nfs defaults 0 0", None).is_none());
        assert!(reason("/dev/vdb /data nfs4 defaults 0 0", None).is_none());
    }

    #[test]
    fn adding_the_option_keeps_every_other_byte() {
        let text = "# fstab\r\nUUID=1 / ext4 defaults 1 1\n/dev/xvdb\t/mnt\tauto\tdefaults,comment=cloudconfig\t0\t2\n/dev/vdc /data ext4\n/dev/vdd /e\n# end";
        let fixed = add_option(text, &[2, 3, 4], "nofail");
        assert_eq!(
            fixed,
            "# fstab\r\nUUID=1 / ext4 defaults 1 1\n/dev/xvdb\t/mnt\tauto\tdefaults,comment=cloudconfig,nofail\t0\t2\n/dev/vdc /data ext4 defaults,nofail\n/dev/vdd /e auto defaults,nofail\n# end"
        );
    }
}
