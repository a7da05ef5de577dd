//! mounts (`cc_mounts`): fstab entries from `mounts`, padded from
//! `mount_default_fields`, the default `ephemeral0` and `swap` mounts the
//! datasource's block-device mapping names, and a swap file from `swap`, in
//! the network stage, once per instance.
//!
//! What cloud-init 22.4 does, and so what this does:
//! - Every line of `/etc/fstab` holding `comment=cloudconfig` is dropped and
//!   the lines made from the config take their place, after all other lines,
//!   which are kept byte for byte (comments and blank lines too). With nothing
//!   to write, the file is left alone, old `comment=cloudconfig` lines included.
//! - Entries shorter than six fields, and `null` fields, take their value from
//!   `mount_default_fields` (default `[null, null, auto, OPTS, "0", "2"]`, OPTS
//!   being `defaults,nofail,x-systemd.requires=cloud-init.service,_netdev`
//!   where `/run/systemd/system` is a directory). An entry whose second field
//!   ends up `null` is not written, and removes the entries before it with the
//!   same first field.
//! - Device names are resolved as `sanitize_devname` does: `host:/path` as is;
//!   `ephemeralN`, `ebsN`, `swap`, `ami`, `root` through the names the
//!   datasource gives devices (`Instance::block_devices`: EC2's
//!   `block-device-mapping`; for ConfigDrive and OpenStack the EC2 metadata's
//!   mapping, then the filesystem label); `sdb`/`xvdb`/`vdb`/`hda`/`sr0` get
//!   `/dev/`; `NAME.N` names partition N; a disk with a first partition names
//!   that partition; `sdX` from the metadata becomes `vdX`, `xvdX` or `vtbX`
//!   when only that exists. As in 22.4, a name that does not resolve (no such
//!   block device under `/sys/block`) or whose device fstab already lists is
//!   *still written*, as given: 22.4 logs "Ignoring nonexistent named mount"
//!   and then keeps the entry (fixed only in later cloud-init). The recorded
//!   cases show it (`vdb` stays `vdb`).
//! - `ephemeral0` on `/mnt` and `swap` are added when they resolve and no entry
//!   names the same device.
//! - Mount points are created (0755) when missing; `swapon -a` when a swap
//!   line is written; `mount -a` (and `systemctl daemon-reload` with systemd)
//!   when fstab changed or a mount point is not mounted yet. These act on the
//!   running machine: host actions, recorded and not performed when the root
//!   is not `/`.
//! - `swap: {filename, size, maxsize}`: `size` in bytes, as `16M`-style text,
//!   or `auto` (from MemTotal in `/proc/meminfo` and, on a live root, the free
//!   space where the file goes); the file is made with `fallocate -l NM` (`dd`
//!   where 22.4 would use it), mode 0600, then `mkswap`. An existing file that
//!   `/proc/swaps` lists (or any existing file when there is no `/proc/swaps`)
//!   is kept and only its fstab line written.
//!
//! Deliberate differences from 22.4 (see also the module tests):
//! - **nofail.** An entry whose options cloudboot fills in (a short entry, a
//!   `null` fourth field, the default `ephemeral0` and `swap` mounts) always
//!   carries `nofail`, so a disk that is gone on the next boot cannot hold
//!   that boot. Where `/run/systemd/system` is missing (sysvinit, e.g. CentOS
//!   6) the built-in options are `defaults,nofail`, where 22.4 writes
//!   `defaults,nobootwait` (an Ubuntu/upstart option that util-linux passes
//!   to the kernel, so such mounts fail on CentOS 6); with a
//!   `mount_default_fields` whose options lack `nofail`, it is added. Options
//!   written in the entry itself are kept exactly as given, and so is the
//!   swap file's `sw`. With systemd and the built-in defaults nothing changes:
//!   22.4 already writes nofail (the recorded cases are byte-identical).
//! - **Bad entries** are reported by index and skipped; the other entries
//!   still apply: not a list, an empty list, a field left `null` (22.4
//!   crashes on these and writes nothing), more than six fields, a field that
//!   is a list or mapping, an empty field (options aside) or one with blanks
//!   or line breaks
//!   (22.4 writes these into fstab as they are: a seventh field,
//!   `['/mnt/x']`, a line split in two). Numbers are written as text (`0`,
//!   `2`), which 22.4 only does for names that resolve (it crashes on the
//!   others). A top-level key of the wrong type (`mounts` not a list, `swap`
//!   not a mapping) fails the module before it runs, as for every module;
//!   `mount_default_fields` must have exactly six fields (22.4 crashes with
//!   fewer than four and pads entries to its length).
//! - fstab is replaced atomically (22.4 rewrites it in place); lines that
//!   are not valid UTF-8 are kept byte for byte (22.4 cannot read such a
//!   file). As in 22.4, line ends become `\n`.
//! - The swap file is created empty with mode 0600 before it is filled (22.4
//!   fills it, then chmods it). Whether to use `dd` is decided from the
//!   filesystem type in `/proc/self/mountinfo`: `btrfs`, `xfs` on kernels
//!   before 4.18 (22.4's rule), and also `ext2`/`ext3`, where 22.4's
//!   `fallocate` would fail and it would fall back to `dd`. A failing
//!   `fallocate`, `dd` or `mkswap` is reported and fails the module, but the
//!   fstab line stays (22.4 deletes the file and leaves the line out).
//! - A swap size under 1 MiB, a relative `filename`, or a size that is not a
//!   number are reported as errors (22.4 logs a warning, or fails `fallocate`).
//! - A failing `mount -a` or `swapon -a` fails the module (22.4 logs a
//!   warning); host actions have no "ignore failure" policy.
//!
//! Not supported: the `blkid TYPE=swap` lookup ConfigDrive/OpenStack do for
//! the `swap` name (labels are read from `/dev/disk/by-label`, not probed);
//! `size: auto` on a root other than `/` uses memory only (the free space of
//! an image that is not running is unknown), as 22.4 does without a
//! filesystem.

// disk_setup resolves `device_aliases` and the datasource's names as mounts does.
pub(crate) mod devices;
mod fstab;
mod swap;

use std::path::{Path, PathBuf};

use crate::module::prelude::*;

pub use devices::{is_meta_device_name, is_network_device, is_short_device_name, Devices};
use fstab::{compose_fstab, fstab_changed, mount_points, read_fstab};
pub use fstab::{
    decide, default_fields, has_option, with_nofail, Decision, Entry, OldFstab, MNT_COMMENT,
    SYSTEMD_OPTS, SYSVINIT_OPTS, SYSVINIT_OPTS_22_4,
};
pub use swap::{plan_swap, SwapPlan};

pub struct Mounts;

static SWAP: &[Field] = &[
    Field::opt("filename", Ty::Strict(&Ty::Any, Rule::As(&Ty::Str))),
    Field::opt("size", Ty::Strict(&Ty::Any, Rule::Check(swap_size))),
    Field::opt("maxsize", Ty::Strict(&Ty::Any, Rule::Check(swap_maxsize))),
];

/// 22.4's `^([0-9]+)?\\.?[0-9]+[BKMGT]$`: digits, an optional `.`, digits
/// (at least one after the dot), a unit.
fn human_size(s: &str) -> bool {
    let Some(num) = s.strip_suffix(['B', 'K', 'M', 'G', 'T']) else {
        return false;
    };
    match num.split_once('.') {
        Some((int, frac)) => (int.is_empty() || all_digits(int)) && all_digits(frac),
        None => all_digits(num),
    }
}

/// 22.4's `swap.size`: `auto`, an integer or a human size.
fn swap_size(v: &Value) -> Verdict {
    match v {
        Value::Int(_) => Verdict::Fine,
        Value::Str(s) if s == "auto" || human_size(s) => Verdict::Fine,
        _ => Verdict::Bad("is not valid under any of the given schemas"),
    }
}

/// 22.4's `swap.maxsize`: an integer or a human size.
fn swap_maxsize(v: &Value) -> Verdict {
    match v {
        Value::Int(_) => Verdict::Fine,
        Value::Str(s) if human_size(s) => Verdict::Fine,
        _ => Verdict::Bad("is not valid under any of the given schemas"),
    }
}

/// 22.4's schema of `mounts`: at least one entry, each one to six strings.
static MOUNTS_SCHEMA: Ty = Ty::Strict(
    &Ty::List(&Ty::Strict(
        &Ty::Strict(&Ty::List(&Ty::Str), Rule::MinItems(1)),
        Rule::MaxItems(6),
    )),
    Rule::MinItems(1),
);

/// 22.4's schema of `mount_default_fields`: six strings or nulls.
static DEFAULT_FIELDS_SCHEMA: Ty = Ty::Strict(
    &Ty::Strict(
        &Ty::List(&Ty::Strict(&Ty::OneOf(&[Ty::Str, Ty::Null]), Rule::OneOf)),
        Rule::MinItems(6),
    ),
    Rule::MaxItems(6),
);

static INFO: ModuleInfo = ModuleInfo {
    name: "mounts",
    aliases: &[],
    frequency: Frequency::Instance,
    // cloud-init: `activate_by_schema_keys: []`, the module always runs (the
    // default ephemeral0/swap mounts need no config).
    activate_by: &[],
    keys: &["mounts", "mount_default_fields", "swap", "device_aliases"],
    // Entries are checked one by one in the module, so that a bad one is
    // reported by index while the others still apply.
    schema: &[
        Field::opt(
            "mounts",
            Ty::Strict(
                &Ty::OneOf(&[Ty::List(&Ty::Any), Ty::Null]),
                Rule::As(&MOUNTS_SCHEMA),
            ),
        ),
        Field::opt(
            "mount_default_fields",
            Ty::Strict(
                &Ty::OneOf(&[Ty::List(&Ty::Any), Ty::Null]),
                Rule::As(&DEFAULT_FIELDS_SCHEMA),
            ),
        ),
        Field::opt(
            "swap",
            Ty::Strict(
                &Ty::OneOf(&[Ty::Map(SWAP), Ty::Null]),
                Rule::As(&Ty::Map(SWAP)),
            ),
        ),
        // 22.4's schema has it once (cc_disk_setup): checked there only.
        Field::opt(
            "device_aliases",
            Ty::Strict(&Ty::AnyMap, Rule::As(&Ty::Any)),
        ),
    ],
    summary: "configure mount points in /etc/fstab and swap files",
};

impl Module for Mounts {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        plan(ctx)
    }
}

pub const FSTAB: &str = "/etc/fstab";

fn plan(ctx: &Context) -> ModuleOutput {
    let mut out = ModuleOutput::default();
    let systemd = ctx.distro.systemd_running;
    let defvals = match default_fields(ctx.cfg, systemd) {
        Ok(d) => d,
        Err(e) => {
            out.error(format!("{e}; /etc/fstab not changed"));
            return out;
        }
    };
    let aliases = ctx
        .cfg
        .get("device_aliases")
        .map(Value::str_pairs)
        .unwrap_or_default();
    let devices = Devices {
        fs: ctx.fs,
        names: &ctx.instance.block_devices,
        aliases,
    };
    let old_bytes = ctx.fs.read(Path::new(FSTAB)).ok();
    let old = read_fstab(old_bytes.as_deref());
    let swap = plan_swap(ctx, &mut out);
    let d = decide(
        ctx.cfg,
        &devices,
        &old,
        &defvals,
        swap.fstab_name.as_deref(),
        &mut out,
    );
    out.effects.extend(swap.effects);
    if d.lines.is_empty() {
        out.note("No modifications to fstab needed");
        return out;
    }
    let mounted = ctx
        .fs
        .read_string(Path::new("/proc/mounts"))
        .map(|t| mount_points(&t))
        .unwrap_or_default();
    let mut need_mount_all = false;
    let mut made: Vec<&str> = Vec::new();
    for dir in &d.mount_dirs {
        let p = Path::new(dir);
        if !made.contains(&dir.as_str()) && !ctx.fs.is_dir(p) {
            if ctx.fs.exists(p) {
                tracing::warn!("Failed to make '{dir}' config-mount: not a directory");
                out.note(format!("mount point {dir} exists and is not a directory"));
            } else {
                out.effects.push(Effect::Mkdir {
                    path: PathBuf::from(dir),
                    mode: 0o755,
                });
                made.push(dir);
            }
        }
        if !mounted.contains(dir) {
            need_mount_all = true;
        }
    }
    let contents = compose_fstab(&old.kept, &d.lines);
    out.effects
        .push(Effect::write(FSTAB, Data::public(contents), 0o644));
    if fstab_changed(&old.removed, &d.lines) {
        need_mount_all = true;
    } else {
        out.note("No changes to /etc/fstab made.");
    }
    if d.needswap {
        out.effects.push(Effect::Host(HostAction {
            what: "activate swap (swapon -a)".into(),
            argv: vec!["swapon".into(), "-a".into()],
        }));
    }
    if need_mount_all {
        out.effects.push(Effect::Host(HostAction {
            what: "mount the filesystems in /etc/fstab (mount -a)".into(),
            argv: vec!["mount".into(), "-a".into()],
        }));
        if systemd {
            out.effects.push(Effect::Host(HostAction {
                what: "reload systemd's units for the new fstab (systemctl daemon-reload)".into(),
                argv: vec!["systemctl".into(), "daemon-reload".into()],
            }));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Through the module test kit: a network mount goes into fstab beside
    /// the lines already there, its mount point is made, and the
    /// filesystems are mounted.
    #[test]
    fn kit_adds_a_network_mount_to_fstab() {
        let run = Kit::debian12()
            .file("/etc/fstab", "/dev/vda1 / ext4 defaults 0 1\n")
            .cfg("mounts:\n- [nfs.example.com:/export, /mnt/nfs, nfs]\n")
            .plan(&Mounts);
        assert!(run.errors().is_empty(), "{:?}", run.errors());
        let fstab = run.file("/etc/fstab").unwrap();
        let lines: Vec<&str> = fstab.lines().collect();
        assert!(lines.contains(&"/dev/vda1 / ext4 defaults 0 1"), "{fstab}");
        let new = lines
            .iter()
            .find(|l| l.starts_with("nfs.example.com:/export"))
            .unwrap_or_else(|| panic!("{fstab}"));
        let fields: Vec<&str> = new.split_whitespace().collect();
        assert_eq!(fields[1..3], ["/mnt/nfs", "nfs"], "{new}");
        assert!(fields[3].contains("comment=cloudconfig"), "{new}");
        assert!(run
            .effects()
            .iter()
            .any(|e| matches!(e, Effect::Mkdir { path, .. } if path == Path::new("/mnt/nfs"))));
        assert!(run
            .commands()
            .contains(&vec!["mount".to_string(), "-a".to_string()]));
    }
}
