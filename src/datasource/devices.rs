//! Finding seed devices by filesystem label, under the target root, without
//! blkid or mounting: `/dev/disk/by-label/<label>` when udev made it, else
//! every block device in `/sys/class/block` (CD-ROMs first, as cloud-init
//! probes `/dev/sr0`, `/dev/sr1` first) whose superblock carries the label.
//! A device named on the command line (`--device PATH`, an image file works)
//! is tried before all of them. With `--mount-fallback`, a device cloudboot
//! cannot read in place (a zisofs-compressed ISO, say) is mounted read-only
//! as cloud-init would, on a live root (`/`) only.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::source::{DeviceSource, SeedSource};
use super::DsContext;
use crate::blockfs;

/// Devices whose label is one of `labels`, opened as seed sources, in the
/// order they should be tried. Unreadable ones are reported in `problems`.
pub fn candidates(
    ctx: &DsContext,
    labels: &[&str],
    problems: &mut Vec<String>,
) -> Vec<Box<dyn SeedSource>> {
    candidates_ranked(
        ctx,
        &|_, label| labels.contains(&label).then_some(0),
        problems,
    )
}

/// Devices whose filesystem `rank` accepts (by type and label; `None`
/// skips it), opened as seed sources, lower ranks first and otherwise in
/// the order they are found: for datasources that look for more than one
/// label, then for any ISO9660 (OpenNebula's `LABEL=CONTEXT`,
/// `LABEL=CDROM`, `TYPE=iso9660`).
pub fn candidates_ranked(
    ctx: &DsContext,
    rank: &dyn Fn(&'static str, &str) -> Option<u8>,
    problems: &mut Vec<String>,
) -> Vec<Box<dyn SeedSource>> {
    let mut out: Vec<(u8, Box<dyn SeedSource>)> = Vec::new();
    // The devices were probed once, for detection; only those `rank`
    // accepts are opened here.
    for fact in ctx.facts.filesystems() {
        let (shown, host, fs_type, label) = (&fact.device, &fact.host, fact.fs_type, &fact.label);
        let Some(at) = rank(fs_type, label) else {
            continue;
        };
        let Ok(file) = File::open(host) else {
            continue;
        };
        match blockfs::open(file) {
            Ok(fs) => {
                tracing::debug!("{shown}: {fs_type} labelled {label}");
                out.push((
                    at,
                    Box::new(DeviceSource {
                        fs,
                        device: shown.clone(),
                    }),
                ));
            }
            Err(e) if ctx.mount_fallback => {
                match super::mounted::MountedSource::mount(ctx.root, host, shown) {
                    Ok(src) => {
                        tracing::warn!(
                            "{shown}: read natively failed ({e}); mounted read-only instead"
                        );
                        out.push((at, Box::new(src)));
                    }
                    Err(why) => problems.push(format!(
                        "{shown} ({fs_type}, label {label}): {e}; mount fallback: {why}"
                    )),
                }
            }
            Err(e) => problems.push(format!("{shown} ({fs_type}, label {label}): {e}")),
        }
    }
    // Stable: the order found stays within a rank.
    out.sort_by_key(|(at, _)| *at);
    out.into_iter().map(|(_, src)| src).collect()
}

/// Every device to probe, as (name to show, path on this machine): the
/// ones given on the command line, then the root's.
pub(super) fn device_paths(
    fs: &dyn crate::rootfs::FsView,
    root: &crate::rootfs::Root,
    devices: &[PathBuf],
) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = devices
        .iter()
        .map(|p| (p.display().to_string(), p.clone()))
        .collect();
    let by_label = Path::new("/dev/disk/by-label");
    // A device whose link cannot be resolved inside the root (a loop) is
    // not probed.
    let mut add = |guest: PathBuf| match root.resolve(&guest) {
        Ok(host) => out.push((guest.display().to_string(), host)),
        Err(e) => tracing::warn!("skipping device {}: {e}", guest.display()),
    };
    for name in fs.list_dir(by_label).unwrap_or_default() {
        add(by_label.join(&name));
    }
    let mut blocks = fs
        .list_dir(Path::new("/sys/class/block"))
        .unwrap_or_default();
    // CD-ROMs first (config drives are usually there), then the rest by name.
    blocks.sort_by_key(|n| (!n.starts_with("sr"), n.clone()));
    for name in blocks {
        add(PathBuf::from("/dev").join(&name));
    }
    out
}
