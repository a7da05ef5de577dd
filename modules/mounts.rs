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

use std::path::{Path, PathBuf};

use crate::datasource::{BlockDevices, DeviceLookup};
use crate::effect::{Command, Data, Effect, HostAction, OnFailure};
use crate::fstab::{
    compose_fstab, fstab_changed, human2bytes, is_ws, kernel_version, mem_total, mount_fstype,
    mount_points, read_fstab, suggested_swapsize, OldFstab, MB, MNT_COMMENT,
};
use crate::module::{Context, Module, ModuleInfo, ModuleOutput};
use crate::rootfs::FsView;
use crate::schema::{Field, Ty};
use crate::semaphore::Frequency;
use crate::value::Value;

pub struct Mounts;

static SWAP: &[Field] = &[
    Field::opt("filename", Ty::Any),
    Field::opt("size", Ty::Any),
    Field::opt("maxsize", Ty::Any),
];

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
        Field::opt("mounts", Ty::OneOf(&[Ty::List(&Ty::Any), Ty::Null])),
        Field::opt(
            "mount_default_fields",
            Ty::OneOf(&[Ty::List(&Ty::Any), Ty::Null]),
        ),
        Field::opt("swap", Ty::OneOf(&[Ty::Map(SWAP), Ty::Null])),
        Field::opt("device_aliases", Ty::AnyMap),
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
/// 22.4's default options where systemd runs.
pub const SYSTEMD_OPTS: &str = "defaults,nofail,x-systemd.requires=cloud-init.service,_netdev";
/// 22.4's default options elsewhere (not used: see the module docs).
pub const SYSVINIT_OPTS_22_4: &str = "defaults,nobootwait";
/// cloudboot's default options where systemd does not run.
pub const SYSVINIT_OPTS: &str = "defaults,nofail";

// ---------------------------------------------------------------------------
// Device names

/// Resolves device names inside the root, as cloud-init's
/// `sanitize_devname` does on the machine it runs on.
pub struct Devices<'a> {
    pub fs: &'a dyn FsView,
    /// The names the datasource gives devices (`ephemeral0`, `swap`, ...).
    pub names: &'a BlockDevices,
    /// `device_aliases`.
    pub aliases: Vec<(String, String)>,
}

/// cloud-init's `DEVICE_NAME_FILTER`: `^([x]{0,1}[shv]d[a-z][0-9]*|sr[0-9]+)$`.
pub fn is_short_device_name(name: &str) -> bool {
    let b = name.as_bytes();
    if let Some(rest) = name.strip_prefix("sr") {
        return !rest.is_empty() && rest.bytes().all(|c| c.is_ascii_digit());
    }
    let b = if b.first() == Some(&b'x') { &b[1..] } else { b };
    b.len() >= 3
        && matches!(b[0], b's' | b'h' | b'v')
        && b[1] == b'd'
        && b[2].is_ascii_lowercase()
        && b[3..].iter().all(|c| c.is_ascii_digit())
}

/// `NETWORK_NAME_FILTER` (`^.+:.*`, `.` not matching a newline): a colon
/// after at least one character, before any line break.
pub fn is_network_device(name: &str) -> bool {
    let first_line = name.split('\n').next().unwrap_or_default();
    first_line.find(':').is_some_and(|i| i > 0)
}

/// `is_meta_device_name`.
pub fn is_meta_device_name(name: &str) -> bool {
    matches!(name, "ami" | "root" | "swap")
        || ((name.starts_with("ephemeral") || name.starts_with("ebs")) && !name.contains(':'))
}

impl Devices<'_> {
    /// A guest path as cloud-init (cwd `/`) would open it.
    fn guest(p: &str) -> PathBuf {
        Path::new("/").join(p)
    }

    fn exists(&self, p: &str) -> bool {
        !p.is_empty() && self.fs.exists(&Self::guest(p))
    }

    /// `os.path.realpath(p).split("/")[-1]`, inside the root.
    fn real_basename(&self, p: &str) -> String {
        // A loop keeps the path as it is (Python's non-strict realpath).
        let canon = crate::rootfs::canonical_path(&Self::guest(p), true, |prefix| {
            self.fs.read_link(prefix).ok()
        })
        .unwrap_or_else(|_| Self::guest(p));
        canon
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// `_remap_device`: `sdX` named by the metadata may be `vdX`, `xvdX` or
    /// `vtbX` on this machine.
    fn remap(&self, short: &str) -> Option<String> {
        let rest = short.strip_prefix("sd")?;
        ["vd", "xvd", "vtb"]
            .iter()
            .map(|to| format!("/dev/{to}{rest}"))
            .find(|cand| self.exists(cand))
    }

    fn basename(p: &str) -> &str {
        p.rsplit('/').next().unwrap_or(p)
    }

    /// [`DeviceLookup::AsGiven`] (`DataSourceEc2.device_name_to_device`).
    fn as_given(&self, name: &str) -> Option<String> {
        let ofound = self.names.get(name)?.to_string();
        let dev = if ofound.starts_with('/') {
            ofound.clone()
        } else {
            format!("/dev/{ofound}")
        };
        if self.exists(&dev) {
            return Some(dev);
        }
        if let Some(r) = self.remap(Self::basename(&dev)) {
            return Some(r);
        }
        // t1.micro lists ephemeral0 that never exists (LP: #744019).
        if name == "ephemeral0" {
            return None;
        }
        Some(ofound)
    }

    /// `SourceMixin._validate_device_name`.
    fn validate(&self, device: Option<String>) -> Option<String> {
        let device = device.filter(|d| !d.is_empty())?;
        let device = if device.starts_with('/') {
            device
        } else {
            format!("/dev/{device}")
        };
        if self.exists(&device) {
            return Some(device);
        }
        self.remap(Self::basename(&device))
    }

    /// [`DeviceLookup::PresentOrLabel`] (`SourceMixin.device_name_to_device`).
    fn present_or_label(&self, name: &str) -> Option<String> {
        if name.is_empty() {
            return None;
        }
        let mut names = vec![name.to_string()];
        if name == "root" {
            names.insert(0, "ami".into());
        }
        if name == "ami" {
            names.push("root".into());
        }
        for n in &names {
            let dev = self.names.get(n).map(str::to_string);
            if let Some(d) = self.validate(dev) {
                return Some(d);
            }
        }
        // `blkid -t LABEL=<name>`, read from udev's by-label links.
        // (`TYPE=swap` for `swap` needs blkid's probing: not supported.)
        for n in &names {
            if n == "swap" {
                continue;
            }
            let link = format!("/dev/disk/by-label/{n}");
            if self.fs.lstat(Path::new(&link)).is_none() {
                continue;
            }
            let Ok(canon) = crate::rootfs::canonical_path(Path::new(&link), true, |p| {
                self.fs.read_link(p).ok()
            }) else {
                continue;
            };
            if let Some(d) = self.validate(Some(canon.to_string_lossy().into_owned())) {
                return Some(d);
            }
        }
        None
    }

    /// `cloud.device_name_to_device(name)`.
    pub fn meta_name(&self, name: &str) -> Option<String> {
        match self.names.lookup {
            DeviceLookup::AsGiven => self.as_given(name),
            DeviceLookup::PresentOrLabel => self.present_or_label(name),
            DeviceLookup::Nothing => None,
        }
    }

    /// `_get_nth_partition_for_device`.
    fn nth_partition(&self, device: &str, n: &str) -> Option<String> {
        [n.to_string(), format!("p{n}"), format!("-part{n}")]
            .iter()
            .map(|suffix| format!("{device}{suffix}"))
            .find(|p| self.exists(p))
    }

    /// `_is_block_device`: `/sys/block/<disk>[/<partition>]` exists.
    fn is_block_device(&self, device: &str, partition: Option<&str>) -> bool {
        let mut sys = format!("/sys/block/{}", self.real_basename(device));
        if let Some(p) = partition {
            sys = format!("{sys}/{}", self.real_basename(p));
        }
        self.fs.exists(Path::new(&sys))
    }

    /// `sanitize_devname(startname, cloud.device_name_to_device, log, aliases)`.
    pub fn sanitize(&self, start: &str) -> Option<String> {
        let devname = if start == "ephemeral" {
            "ephemeral0"
        } else {
            start
        };
        if is_network_device(start) {
            return Some(start.to_string());
        }
        // `util.expand_dotted_devname`: `rsplit(".", 1)`.
        let (mut device, partition) = match devname.rsplit_once('.') {
            Some((d, p)) => (d.to_string(), Some(p.to_string())),
            None => (devname.to_string(), None),
        };
        if let Some((_, to)) = self.aliases.iter().find(|(from, _)| *from == device) {
            device = to.clone();
        }
        if is_meta_device_name(&device) {
            device = self.meta_name(&device).filter(|d| !d.is_empty())?;
            if !device.starts_with('/') {
                device = format!("/dev/{device}");
            }
        } else if is_short_device_name(start) {
            device = format!("/dev/{device}");
        }
        let partition_path = match &partition {
            None => self.nth_partition(&device, "1"),
            Some(n) => Some(self.nth_partition(&device, n)?),
        };
        if self.is_block_device(&device, partition_path.as_deref()) {
            return Some(partition_path.unwrap_or(device));
        }
        None
    }
}

/// A size as the config gives it.
fn size_value(v: &Value, key: &str) -> Result<Option<f64>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Int(i) if *i >= 0 => Ok(Some(*i as f64)),
        Value::Float(f) if f.is_finite() && *f >= 0.0 => Ok(Some(*f)),
        Value::Str(s) => human2bytes(s)
            .map(|b| Some(b as f64))
            .map_err(|e| format!("swap.{key}: {e}")),
        other => Err(format!(
            "swap.{key}: expected a size in bytes or text such as 512M, found {} ({})",
            other.type_name(),
            other.python_str()
        )),
    }
}

// ---------------------------------------------------------------------------
// The swap file

/// `os.path.dirname`.
fn dirname(p: &str) -> String {
    let Some(i) = p.rfind('/') else {
        return String::new();
    };
    let head = &p[..=i];
    match head.trim_end_matches('/') {
        "" => head.to_string(),
        trimmed => trimmed.to_string(),
    }
}

/// What the swap config leads to.
#[derive(Debug, Default)]
pub struct SwapPlan {
    pub effects: Vec<Effect>,
    /// The file to list in fstab (`handle_swapcfg`'s return value).
    pub fstab_name: Option<String>,
}

/// `handle_swapcfg(cfg.get("swap", {}))`.
pub fn plan_swap(ctx: &Context, out: &mut ModuleOutput) -> SwapPlan {
    let mut plan = SwapPlan::default();
    let swap = match ctx.cfg.get("swap") {
        None | Some(Value::Null) => return plan,
        Some(Value::Map(m)) => m,
        Some(other) => {
            out.error(format!(
                "swap: expected a mapping with filename, size, maxsize, found {}; no swap file",
                other.type_name()
            ));
            return plan;
        }
    };
    let fname = match swap.get("filename") {
        None => "/swap.img".to_string(),
        Some(Value::Null) => String::new(),
        Some(Value::Str(s)) => s.clone(),
        Some(other) => {
            out.error(format!(
                "swap.filename: expected a path, found {} ({}); no swap file",
                other.type_name(),
                other.python_str()
            ));
            return plan;
        }
    };
    let size = swap.get("size").cloned().unwrap_or(Value::Int(0));
    if !size.truthy() || fname.is_empty() {
        out.note("no need to setup swap");
        return plan;
    }
    if !fname.starts_with('/') {
        out.error(format!(
            "swap.filename: '{fname}' is not an absolute path; no swap file"
        ));
        return plan;
    }
    if ctx.fs.exists(Path::new(&fname)) {
        match ctx.fs.read(Path::new("/proc/swaps")) {
            Err(_) if !ctx.fs.exists(Path::new("/proc/swaps")) => {
                out.note(format!(
                    "swap file {fname} exists, but no /proc/swaps exists, being safe"
                ));
                plan.fstab_name = Some(fname);
                return plan;
            }
            Err(_) => {
                tracing::warn!("swap file {fname} exists. Error reading /proc/swaps");
                plan.fstab_name = Some(fname);
                return plan;
            }
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                if text.lines().any(|l| l.starts_with(&format!("{fname} "))) {
                    out.note(format!("swap file {fname} already in use"));
                    plan.fstab_name = Some(fname);
                    return plan;
                }
                out.note(format!("swap file {fname} exists, but not in /proc/swaps"));
            }
        }
    }
    let swap_dir = dirname(&fname);
    let auto = matches!(&size, Value::Str(s) if s == "auto");
    let size_bytes = if auto {
        None
    } else {
        match size_value(&size, "size") {
            Ok(v) => v,
            Err(e) => {
                out.error(format!("{e} No swap file made."));
                return plan;
            }
        }
    };
    let maxsize = match swap.get("maxsize").map(|v| size_value(v, "maxsize")) {
        None => None,
        Some(Ok(v)) => v,
        Some(Err(e)) => {
            out.error(format!("{e} No swap file made."));
            return plan;
        }
    };
    let mut dir_made = false;
    let mut ensure_dir = |effects: &mut Vec<Effect>| {
        if !dir_made && !ctx.fs.is_dir(Path::new(&swap_dir)) {
            effects.push(Effect::Mkdir {
                path: PathBuf::from(&swap_dir),
                mode: 0o755,
            });
        }
        dir_made = true;
    };
    let size = if auto {
        let Some(mem) = ctx
            .fs
            .read_string(Path::new("/proc/meminfo"))
            .and_then(|t| mem_total(&t))
        else {
            out.note("Not creating swap: failed to read meminfo");
            return plan;
        };
        ensure_dir(&mut plan.effects);
        let avail = ctx.host.free_bytes(ctx.fs, &swap_dir);
        suggested_swapsize(mem, maxsize.map(|m| m as u64), avail) as f64
    } else {
        size_bytes.unwrap_or(0.0)
    };
    // `str(int(size / (2**20)))`
    let mib = (size / MB as f64) as u64;
    if size == 0.0 {
        out.note("Not creating swap: suggested size was 0");
        return plan;
    }
    if mib == 0 {
        out.error(format!(
            "swap.size: {size} bytes is less than 1 MiB, the smallest swap file that can be made; no swap file"
        ));
        return plan;
    }
    ensure_dir(&mut plan.effects);
    let fstype = ctx
        .fs
        .read_string(Path::new("/proc/self/mountinfo"))
        .and_then(|t| mount_fstype(&t, &swap_dir))
        .unwrap_or_default();
    let old_kernel = ctx
        .fs
        .read_string(Path::new("/proc/sys/kernel/osrelease"))
        .and_then(|r| kernel_version(&r))
        .is_some_and(|v| v < (4, 18));
    let dd =
        (fstype == "xfs" && old_kernel) || matches!(fstype.as_str(), "btrfs" | "ext2" | "ext3");
    let fill = if dd {
        vec![
            "dd".to_string(),
            "if=/dev/zero".into(),
            format!("of={fname}"),
            "bs=1M".into(),
            format!("count={mib}"),
        ]
    } else {
        vec![
            "fallocate".to_string(),
            "-l".into(),
            format!("{mib}M"),
            fname.clone(),
        ]
    };
    // Made empty and private first: swap holds memory, never readable by others.
    plan.effects
        .push(Effect::write(&fname, Data::public(Vec::new()), 0o600));
    let mut fill = Command::new(fill).on_failure(OnFailure::Report);
    fill.creates.push(PathBuf::from(&fname));
    plan.effects.push(Effect::Run(fill));
    plan.effects.push(Effect::Run(
        Command::new(["mkswap", fname.as_str()]).on_failure(OnFailure::Report),
    ));
    plan.fstab_name = Some(fname);
    plan
}

// ---------------------------------------------------------------------------
// Entries

/// One fstab entry being built.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// How messages name it (`mounts[2]`, `default mount ephemeral0`).
    pub label: String,
    pub fields: Vec<Option<String>>,
    /// The options were filled in by cloudboot, not written in the entry.
    pub generated_opts: bool,
}

const FIELD_NAMES: [&str; 6] = [
    "fs_spec",
    "fs_file",
    "fs_vfstype",
    "fs_mntops",
    "fs_freq",
    "fs_passno",
];

/// A config field as text: `str()` of a scalar, `None` for null.
fn field_text(v: &Value) -> Result<Option<String>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Str(s) => Ok(Some(s.clone())),
        Value::Int(_)
        | Value::BigInt(_)
        | Value::Float(_)
        | Value::Bool(_)
        | Value::Timestamp(_) => Ok(Some(v.python_str())),
        other => Err(format!(
            "expected a string, found {} ({})",
            other.type_name(),
            other.python_str()
        )),
    }
}

/// `mount_default_fields`, or 22.4's default (with cloudboot's sysvinit options).
pub fn default_fields(cfg: &Value, systemd: bool) -> Result<Vec<Option<String>>, String> {
    let opts = if systemd { SYSTEMD_OPTS } else { SYSVINIT_OPTS };
    let builtin = vec![
        None,
        None,
        Some("auto".to_string()),
        Some(opts.to_string()),
        Some("0".to_string()),
        Some("2".to_string()),
    ];
    let items = match cfg.get("mount_default_fields") {
        None | Some(Value::Null) => return Ok(builtin),
        Some(Value::Seq(items)) => items,
        Some(other) => {
            return Err(format!(
                "mount_default_fields: expected a list of 6 fields, found {}",
                other.type_name()
            ))
        }
    };
    if items.len() != 6 {
        return Err(format!(
            "mount_default_fields: expected 6 fields [fs_spec, fs_file, fs_vfstype, fs_mntops, fs_freq, fs_passno], found {}",
            items.len()
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(j, v)| field_text(v).map_err(|e| format!("mount_default_fields[{j}]: {e}")))
        .collect()
}

/// Why a field cannot go into an fstab line as it is.
/// (Empty options are fine: `comment=cloudconfig` follows them.)
fn field_problem(j: usize, text: &str) -> Option<&'static str> {
    if text.is_empty() && j != 3 {
        Some("is empty")
    } else if text.bytes().any(|b| is_ws(b) || b < 0x20 || b == 0x7f) {
        Some("contains blanks or control characters (write a space as \\040)")
    } else {
        None
    }
}

/// `has an option` in a comma-separated option list.
pub fn has_option(opts: &str, name: &str) -> bool {
    opts.split(',').any(|o| o == name)
}

/// The deliberate fix: options cloudboot filled in always carry `nofail`.
pub fn with_nofail(opts: &str) -> String {
    if has_option(opts, "nofail") {
        opts.to_string()
    } else if opts.is_empty() {
        "nofail".into()
    } else {
        format!("{opts},nofail")
    }
}

/// Everything the module decided, before it becomes effects.
#[derive(Debug, Default)]
pub struct Decision {
    /// Lines to write (already marked `comment=cloudconfig`).
    pub lines: Vec<String>,
    pub mount_dirs: Vec<String>,
    pub needswap: bool,
}

/// The `mounts` entries, the defaults and the swap file name turned into
/// fstab lines, as `handle()` does; bad entries reported in `out`.
pub fn decide(
    cfg: &Value,
    devices: &Devices,
    old: &OldFstab,
    defvals: &[Option<String>],
    swapfile: Option<&str>,
    out: &mut ModuleOutput,
) -> Decision {
    let mut entries: Vec<Entry> = Vec::new();
    let given: &[Value] = match cfg.get("mounts") {
        Some(Value::Seq(items)) => items,
        _ => &[],
    };
    // First pass: checks, device names.
    for (i, item) in given.iter().enumerate() {
        let label = format!("mounts[{i}]");
        let Value::Seq(items) = item else {
            out.error(format!(
                "{label}: expected a list [fs_spec, fs_file, fs_vfstype, fs_mntops, fs_freq, fs_passno], found {} ({}); entry skipped",
                item.type_name(),
                item.python_str()
            ));
            continue;
        };
        if items.is_empty() || items.len() > 6 {
            out.error(format!(
                "{label}: an fstab entry has 1 to 6 fields, found {}; entry skipped",
                items.len()
            ));
            continue;
        }
        let fields: Result<Vec<Option<String>>, String> = items
            .iter()
            .enumerate()
            .map(|(j, v)| {
                field_text(v).map_err(|e| format!("{label}[{j}] ({}): {e}", FIELD_NAMES[j]))
            })
            .collect();
        let mut fields = match fields {
            Ok(f) => f,
            Err(e) => {
                out.error(format!("{e}; entry skipped"));
                continue;
            }
        };
        let start = fields[0].clone().unwrap_or_else(|| "None".into());
        match devices.sanitize(&start) {
            None => {
                tracing::debug!("Ignoring nonexistent named mount {start}");
            }
            Some(s) if old.devs.contains(s.as_bytes()) => {
                tracing::info!("Device {s} already defined in fstab");
            }
            Some(s) => {
                if s != start {
                    tracing::debug!("changed {start} => {s}");
                }
                fields[0] = Some(s);
            }
        }
        let generated_opts = fields.get(3).is_none_or(Option::is_none);
        entries.push(Entry {
            label,
            fields,
            generated_opts,
        });
    }
    // Second pass: defaults, and `null` in the second field.
    for i in 0..entries.len() {
        let e = &mut entries[i];
        for (j, def) in defvals.iter().enumerate() {
            if e.fields.len() <= j {
                e.fields.push(def.clone());
            } else if e.fields[j].is_none() {
                e.fields[j] = def.clone();
            }
        }
        if entries[i].fields[1].is_none() {
            let spec = entries[i].fields[0].clone();
            for e in entries.iter_mut().take(i) {
                if e.fields[0] == spec {
                    e.fields[1] = None;
                }
            }
        }
    }
    // The default mounts, where they resolve and nothing names them.
    let defmnts = [
        Entry {
            label: "default mount ephemeral0".into(),
            fields: vec![
                Some("ephemeral0".into()),
                Some("/mnt".into()),
                Some("auto".into()),
                defvals.get(3).cloned().flatten(),
                Some("0".into()),
                Some("2".into()),
            ],
            generated_opts: true,
        },
        Entry {
            label: "default mount swap".into(),
            fields: ["swap", "none", "swap", "sw", "0", "0"]
                .iter()
                .map(|s| Some(s.to_string()))
                .collect(),
            generated_opts: true,
        },
    ];
    for mut d in defmnts {
        let start = d.fields[0].clone().unwrap_or_default();
        let Some(s) = devices.sanitize(&start) else {
            tracing::debug!("Ignoring nonexistent default named mount {start}");
            continue;
        };
        if old.devs.contains(s.as_bytes()) {
            tracing::debug!("Device {s} already defined in fstab");
            continue;
        }
        if entries
            .iter()
            .any(|e| e.fields[0].as_deref() == Some(s.as_str()))
        {
            tracing::debug!("Not including {start}, already previously included");
            continue;
        }
        d.fields[0] = Some(s);
        entries.push(d);
    }
    let mut act: Vec<Entry> = entries
        .into_iter()
        .filter(|e| {
            let keep = e.fields[1].is_some();
            if !keep {
                tracing::debug!(
                    "Skipping nonexistent device named {}",
                    e.fields[0].as_deref().unwrap_or("None")
                );
            }
            keep
        })
        .collect();
    if let Some(f) = swapfile {
        act.push(Entry {
            label: "swap file".into(),
            fields: [f, "none", "swap", "sw", "0", "0"]
                .iter()
                .map(|s| Some(s.to_string()))
                .collect(),
            generated_opts: false,
        });
    }
    let mut d = Decision::default();
    'entries: for e in act {
        let mut fields = Vec::with_capacity(e.fields.len());
        for (j, f) in e.fields.iter().enumerate() {
            let name = FIELD_NAMES.get(j).copied().unwrap_or("field");
            let problem = match f {
                None => Some("is null and mount_default_fields gives no value"),
                Some(t) => field_problem(j, t),
            };
            if let Some(p) = problem {
                out.error(format!(
                    "{} ({}): {name} {p}; entry skipped",
                    e.label,
                    e.fields
                        .iter()
                        .map(|f| f.as_deref().unwrap_or("null"))
                        .collect::<Vec<_>>()
                        .join(" ")
                ));
                continue 'entries;
            }
            fields.push(f.clone().unwrap_or_default());
        }
        if e.generated_opts {
            fields[3] = with_nofail(&fields[3]);
        }
        fields[3] = format!("{},{MNT_COMMENT}", fields[3]);
        if fields[2] == "swap" {
            d.needswap = true;
        }
        if fields[1].starts_with('/') {
            d.mount_dirs.push(fields[1].clone());
        }
        d.lines.push(fields.join("\t"));
    }
    d
}

fn plan(ctx: &Context) -> ModuleOutput {
    let mut out = ModuleOutput::default();
    let systemd = crate::distro::runs_systemd(ctx.fs);
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
        .and_then(Value::as_map)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.python_str(), v.python_str()))
                .collect()
        })
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

    #[test]
    fn device_name_filters() {
        for ok in ["sda", "sda1", "xvda", "hda", "vdd1", "sr0", "xvdb12"] {
            assert!(is_short_device_name(ok), "{ok}");
        }
        for no in [
            "sd", "xxvda", "nvme0n1", "sdA", "sr", "vda1a", "/dev/sda", "sr0a",
        ] {
            assert!(!is_short_device_name(no), "{no}");
        }
        assert!(is_network_device("nfs:/x"));
        assert!(is_network_device("h:"));
        assert!(!is_network_device(":/x"));
        assert!(!is_network_device("a\n:b"));
        assert!(is_meta_device_name("ephemeral12"));
        assert!(is_meta_device_name("ebs0"));
        assert!(!is_meta_device_name("ephemeral:x"));
        assert!(!is_meta_device_name("sdb"));
    }

    #[test]
    fn nofail_is_added_once() {
        assert_eq!(with_nofail("defaults"), "defaults,nofail");
        assert_eq!(with_nofail("defaults,nofail"), "defaults,nofail");
        assert_eq!(with_nofail(""), "nofail");
        assert_eq!(with_nofail("nofailx"), "nofailx,nofail");
    }

    #[test]
    fn dirnames() {
        assert_eq!(dirname("/swapfile"), "/");
        assert_eq!(dirname("/var/swap.img"), "/var");
        assert_eq!(dirname("/a/b/c"), "/a/b");
    }

    /// tests/fixtures/mounts/golden.json: cloud-init 22.4's own functions
    /// (see the README there).
    fn golden() -> serde_json::Value {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mounts/golden.json");
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    }

    #[test]
    fn sanitize_devname_matches_cloud_init() {
        let g = golden();
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let tree = &g["tree"];
        for f in tree["files"].as_array().unwrap() {
            let p = root.join(f.as_str().unwrap().trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "").unwrap();
        }
        for d in tree["dirs"].as_array().unwrap() {
            std::fs::create_dir_all(root.join(d.as_str().unwrap().trim_start_matches('/')))
                .unwrap();
        }
        for (link, target) in tree["links"].as_object().unwrap() {
            let p = root.join(link.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(target.as_str().unwrap(), p).unwrap();
        }
        let fs = crate::rootfs::RealFs {
            root: crate::rootfs::Root::new(root),
        };
        let bdm = |name: &str| Value::from_json(&g["bdm"][name]);
        let ec2 = BlockDevices::from_ec2_metadata(Some(&bdm("Ec2")));
        let euca = BlockDevices::from_ec2_metadata(Some(&bdm("Ec2-euca")));
        let ec2_no_bdm = BlockDevices::from_ec2_metadata(None);
        let mixin = BlockDevices::from_openstack_ec2_metadata(Some(&g["bdm"]["ConfigDrive"]));
        let mixin_no_ec2 = BlockDevices::from_openstack_ec2_metadata(None);
        let nothing = BlockDevices::default();
        let aliases: Vec<(String, String)> = g["aliases"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        let mut n = 0;
        let mut resolved = 0;
        for c in g["sanitize_devname"].as_array().unwrap() {
            let names = match c["ds"].as_str().unwrap() {
                "NoCloud" => &nothing,
                "Ec2" => &ec2,
                "Ec2-euca" => &euca,
                "Ec2-no-bdm" => &ec2_no_bdm,
                "ConfigDrive" => &mixin,
                "ConfigDrive-no-ec2" => &mixin_no_ec2,
                other => panic!("{other}"),
            };
            let devices = Devices {
                fs: &fs,
                names,
                aliases: if c["aliases"].as_bool().unwrap() {
                    aliases.clone()
                } else {
                    Vec::new()
                },
            };
            let start = c["start"].as_str().unwrap();
            let expected = c["result"].as_str().map(str::to_string);
            assert_eq!(devices.sanitize(start), expected, "{c}");
            n += 1;
            resolved += usize::from(expected.is_some());
        }
        assert_eq!(n, 492);
        // The cases are not all "unresolved": the tree resolves many.
        assert!(resolved > 150, "{resolved}");
    }
}
