//! disk_setup (`cc_disk_setup`): once per instance, in the network stage
//! (after resizefs, before mounts, as Debian 12's `cloud_init_modules`),
//! partitions disks (`disk_setup`) and makes filesystems (`fs_setup`), as
//! 22.4 does, with its messages (notes) where it leaves a disk alone.
//!
//! Keys, as 22.4 reads them:
//! - `device_aliases`: names for devices; a name (or a key of
//!   `disk_setup`, or the disk of an `fs_setup` device, `NAME.N` being its
//!   partition N) is looked up there, then through the datasource's names
//!   (`ephemeral0`, `swap`: EC2's `block-device-mapping`, a config drive's
//!   or OpenStack's EC2 metadata; NoCloud and None name no devices), as
//!   22.4's `alias_to_device` does and as `mounts` resolves them.
//! - `disk_setup.<disk>`: `table_type` (`mbr`, the default, written with
//!   `sfdisk --Linux --unit=S --force DISK` and its input on stdin; `gpt`
//!   with `sgdisk -Z`, then `sgdisk -n N:START:END` and `-t N:TYPE` per
//!   partition), `layout` (`true`: one partition; a list of percentages,
//!   each optionally `[percent, type]`; `remove`: wipe the table),
//!   `overwrite` (false: a disk with partitions or a filesystem is left
//!   alone, `Skipping partitioning on configured device`). A disk whose
//!   table already has the layout is left alone too. After writing, the
//!   kernel is told (`partprobe`, or `blockdev --rereadpt`) and udev
//!   settled (`udevadm settle`), as 22.4 does.
//! - `fs_setup`: a list of `device`, `filesystem`, `label`, `partition`
//!   (`any`, the default: the first partition without a filesystem, or one
//!   of this type already, which is kept; `auto`: the same, matching the
//!   label too; `none`: the device itself, always made; a number: that
//!   partition, `DEVICE` + `N` as 22.4 writes it), `overwrite`, `replace_fs`
//!   (with `auto`/`any`: a partition with this filesystem type is made
//!   again), `extra_opts`, `cmd` (a shell command with `%(label)s`,
//!   `%(filesystem)s`, `%(device)s`, run with `sh -c`). The program is
//!   `mkfs.TYPE` (or `mkTYPE`) found in this machine's PATH, with `-L
//!   LABEL`, the type's force flag (`-F` for ext*, `-f` for btrfs, xfs,
//!   reiserfs, swap) when overwriting or making it on a whole disk, then
//!   `extra_opts` and the device.
//!
//! What the disks hold is read from this machine when the module plans
//! (`lsblk`, `blkid`, `blockdev`, `sfdisk -l`, `sgdisk -p`, through
//! `ctx.host`); a disk this run partitions is then taken to hold the new,
//! empty partitions, so an `fs_setup` entry for one of them is planned in
//! the same run (22.4 reads the disk again after partitioning). The tools
//! run on this machine (`modules/shared/block_devices.rs` says why), and
//! never on the device holding its own `/` (or that disk) when the target
//! root is not `/`: that is an error naming the device.
//!
//! Where cloudboot differs: a loop device (lsblk's `loop`) counts as a disk
//! (22.4 partitions only `disk`); a string `extra_opts` is split as a shell
//! would (22.4 adds it character by character); a tool that fails fails the
//! module (22.4 logs a warning and goes on), the next disk's steps still
//! run; `layout: remove` zeroes the table's first and last MiB with `dd`
//! (22.4 writes the zeros from Python).

mod fs;
mod layout;

use crate::module::prelude::*;
use crate::modules::mounts::devices::Devices;
use crate::modules::shared::block_devices::refusal;

use layout::Layout;

pub struct DiskSetup;

static FS: &[Field] = &[
    Field::opt("label", Ty::Str),
    Field::opt("filesystem", Ty::Str),
    Field::opt("device", Ty::Str),
    Field::opt("partition", Ty::Any),
    Field::opt("overwrite", Ty::Bool),
    Field::opt("replace_fs", Ty::Str),
    Field::opt("extra_opts", Ty::Any),
    Field::opt("cmd", Ty::Any),
];

/// 22.4's schema of an `fs_setup` entry (`schema` checks it; the module
/// reads what it can).
static FS_SCHEMA: &[Field] = &[
    Field::opt("label", Ty::Str),
    Field::opt("filesystem", Ty::Str),
    Field::opt("device", Ty::Str),
    // `type: [string, integer]` and a `oneOf` of one string enum: 22.4's
    // schema refuses a partition number (a defect kept for parity).
    Field::opt(
        "partition",
        Ty::Strict(&STR_OR_INT, Rule::Check(partition_word)),
    ),
    Field::opt("overwrite", Ty::Bool),
    Field::opt("replace_fs", Ty::Str),
    Field::opt("extra_opts", LIST_OR_STR),
    Field::opt("cmd", LIST_OR_STR),
];

static STR_OR_INT: Ty = Ty::Strict(&Ty::OneOf(&[Ty::Str, Ty::Int]), Rule::TypeList);
const LIST_OR_STR: Ty = Ty::Strict(&Ty::OneOf(&[Ty::List(&Ty::Str), Ty::Str]), Rule::TypeList);

fn partition_word(v: &Value) -> Verdict {
    match v.as_str() {
        Some("auto" | "any" | "none") => Verdict::Fine,
        _ => Verdict::Bad("is not valid under any of the given schemas"),
    }
}

/// 22.4's schema of one `disk_setup` entry.
static DISK_SCHEMA: &[Field] = &[
    Field::opt(
        "table_type",
        Ty::Strict(&Ty::Str, Rule::OneOfStrs(&["mbr", "gpt"])),
    ),
    Field::opt(
        "layout",
        Ty::Strict(
            &Ty::OneOf(&[
                Ty::Strict(&Ty::Str, Rule::OneOfStrs(&["remove"])),
                Ty::Bool,
                Ty::List(&Ty::Strict(
                    &Ty::OneOf(&[
                        Ty::Int,
                        Ty::Strict(
                            &Ty::Strict(&Ty::List(&Ty::Int), Rule::MinItems(2)),
                            Rule::MaxItems(2),
                        ),
                    ]),
                    Rule::OneOf,
                )),
            ]),
            Rule::OneOf,
        ),
    ),
    Field::opt("overwrite", Ty::Bool),
];

static INFO: ModuleInfo = ModuleInfo {
    name: "disk_setup",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &["disk_setup", "fs_setup"],
    keys: &["device_aliases", "disk_setup", "fs_setup"],
    schema: &[
        Field::opt(
            "device_aliases",
            Ty::Strict(&Ty::AnyMap, Rule::Values(&Ty::Str)),
        ),
        Field::opt(
            "disk_setup",
            Ty::Strict(&Ty::AnyMap, Rule::Values(&Ty::Map(DISK_SCHEMA))),
        ),
        Field::opt(
            "fs_setup",
            Ty::Strict(
                &Ty::List(&Ty::Map(FS)),
                Rule::As(&Ty::List(&Ty::Map(FS_SCHEMA))),
            ),
        ),
    ],
    summary: "partition disks (MBR or GPT) and make filesystems on them",
};

impl Module for DiskSetup {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let mut disks = DiskView::new(ctx);
        if let Some(Value::Map(setup)) = ctx.cfg.get("disk_setup") {
            // `update_disk_setup_devices`: keys through the aliases.
            let mut entries: Vec<(String, &Value)> = Vec::new();
            for (k, v) in setup.iter() {
                let orig = k.python_str();
                let name = match disks.alias_to_device(&orig) {
                    Some(t) if t != orig => {
                        out.note(format!("updated disk_setup device entry '{orig}' to '{t}'"));
                        t
                    }
                    _ => orig,
                };
                entries.retain(|(n, _)| *n != name);
                entries.push((name, v));
            }
            for (disk, definition) in entries {
                let Value::Map(def) = definition else {
                    out.note(format!("Invalid disk definition for {disk}"));
                    continue;
                };
                if let Err(e) = mkpart(ctx, &mut disks, &disk, def, &mut out) {
                    match e {
                        Failure::Refused(why) => out.error(why),
                        Failure::Logged(why) => {
                            out.note(format!("Failed partitioning operation\n{why}"))
                        }
                    }
                }
            }
        }
        if let Some(Value::Seq(list)) = ctx.cfg.get("fs_setup") {
            for definition in list {
                let Value::Map(def) = definition else {
                    out.note(format!(
                        "Invalid file system definition: {}",
                        definition.python_str()
                    ));
                    continue;
                };
                if let Err(e) = fs::mkfs(ctx, &mut disks, def, &mut out) {
                    match e {
                        Failure::Refused(why) => out.error(why),
                        Failure::Logged(why) => {
                            out.note(format!("Failed during filesystem operation\n{why}"))
                        }
                    }
                }
            }
        }
        out
    }
}

/// Why a disk or filesystem was not done.
#[derive(Debug)]
enum Failure {
    /// cloudboot refuses (the machine's own disk): an error.
    Refused(String),
    /// 22.4 raises and logs it (`util.logexc`), and goes on: a note.
    Logged(String),
}

/// One line of `lsblk --pairs --output NAME,TYPE,FSTYPE,LABEL`.
#[derive(Clone, Debug, PartialEq)]
struct BlockEntry {
    name: String,
    kind: String,
    fstype: String,
    label: String,
}

/// The disks as this run sees them: this machine's answers, and for a disk
/// this run partitions, the empty partitions it will have.
struct DiskView<'a> {
    ctx: &'a Context<'a>,
    /// Disk path -> the partitions this run gives it.
    planned: Vec<(String, Vec<String>)>,
    /// Filesystems this run makes: device, label, type.
    made: Vec<(String, Option<String>, Option<String>)>,
}

impl<'a> DiskView<'a> {
    fn new(ctx: &'a Context<'a>) -> DiskView<'a> {
        DiskView {
            ctx,
            planned: Vec::new(),
            made: Vec::new(),
        }
    }

    /// `alias_to_device(cand)`: `device_aliases`, then the datasource's
    /// names.
    fn alias_to_device(&self, cand: &str) -> Option<String> {
        let aliases = self
            .ctx
            .cfg
            .get("device_aliases")
            .map(Value::str_pairs)
            .unwrap_or_default();
        let name = aliases
            .iter()
            .find(|(k, _)| k == cand)
            .map(|(_, v)| v.clone());
        let devices = Devices {
            fs: self.ctx.fs,
            names: &self.ctx.instance.block_devices,
            aliases: Vec::new(),
        };
        devices.meta_name(name.as_deref().unwrap_or(cand)).or(name)
    }

    /// A partition this run makes, or the disk it partitions.
    fn planned_disk_of(&self, device: &str) -> Option<(&str, &[String])> {
        self.planned.iter().find_map(|(disk, parts)| {
            (disk == device || parts.iter().any(|p| p == device))
                .then_some((disk.as_str(), parts.as_slice()))
        })
    }

    /// Whether the device exists (or this run makes it).
    fn exists(&self, device: &str) -> bool {
        self.planned_disk_of(device).is_some() || self.ctx.host.block_device(device).stat.is_ok()
    }

    /// `os.path.realpath` on this machine.
    fn realpath(&self, device: &str) -> String {
        match self.planned_disk_of(device) {
            Some(_) => device.to_string(),
            None => self.ctx.host.block_device(device).real,
        }
    }

    /// `enumerate_disk(device, nodeps)`, with the filesystems this run
    /// makes.
    fn enumerate(&self, device: &str, nodeps: bool) -> Result<Vec<BlockEntry>, String> {
        let mut entries = self.enumerate_found(device, nodeps)?;
        for e in &mut entries {
            let path = format!("/dev/{}", e.name);
            if let Some((_, label, fstype)) = self.made.iter().rev().find(|(d, ..)| *d == path) {
                e.label = label.clone().unwrap_or_default();
                e.fstype = fstype.clone().unwrap_or_default();
            }
        }
        Ok(entries)
    }

    /// `enumerate_disk(device, nodeps)`: lsblk's answer, or the
    /// partitions this run makes.
    fn enumerate_found(&self, device: &str, nodeps: bool) -> Result<Vec<BlockEntry>, String> {
        if let Some((disk, parts)) = self.planned_disk_of(device) {
            let base = |p: &str| p.rsplit('/').next().unwrap_or(p).to_string();
            let entry = |p: &str, kind: &str| BlockEntry {
                name: base(p),
                kind: kind.into(),
                fstype: String::new(),
                label: String::new(),
            };
            if device != disk {
                return Ok(vec![entry(device, "part")]);
            }
            let mut all = vec![entry(disk, "disk")];
            if !nodeps {
                all.extend(parts.iter().map(|p| entry(p, "part")));
            }
            return Ok(all);
        }
        let answer = self
            .ctx
            .host
            .disk_query(&DiskQuery::Lsblk {
                device: device.into(),
                nodeps,
            })
            .map_err(|e| format!("Failed during disk check for {device}\n{e}"))?;
        let mut entries = Vec::new();
        for line in answer.trim().lines().filter(|l| !l.trim().is_empty()) {
            let mut e = BlockEntry {
                name: String::new(),
                kind: String::new(),
                fstype: String::new(),
                label: String::new(),
            };
            for (k, v) in pairs(line, 0)? {
                match k.to_lowercase().as_str() {
                    "name" => e.name = v,
                    "type" => e.kind = v,
                    "fstype" => e.fstype = v,
                    "label" => e.label = v,
                    _ => {}
                }
            }
            entries.push(e);
        }
        Ok(entries)
    }

    /// `device_type(device)`, lower-cased.
    fn device_type(&self, device: &str) -> Result<Option<String>, String> {
        Ok(self
            .enumerate(device, true)?
            .first()
            .map(|e| e.kind.to_lowercase()))
    }

    /// `check_fs(device)`: its label and filesystem type, if any.
    fn check_fs(&self, device: &str) -> Result<(Option<String>, Option<String>), String> {
        if let Some((_, label, fstype)) = self.made.iter().rev().find(|(d, ..)| d == device) {
            return Ok((label.clone(), fstype.clone()));
        }
        if self.planned_disk_of(device).is_some() {
            return Ok((None, None));
        }
        let out = self
            .ctx
            .host
            .disk_query(&DiskQuery::Blkid(device.into()))
            .map_err(|e| format!("Failed during disk check for {device}\n{e}"))?;
        let (mut label, mut fstype) = (None, None);
        if !out.is_empty() && out.lines().count() == 1 {
            for (k, v) in pairs(&out, 1)? {
                match k.to_lowercase().as_str() {
                    "label" => label = Some(v),
                    "type" => fstype = Some(v),
                    _ => {}
                }
            }
        }
        Ok((label, fstype))
    }

    /// The sectors of a disk (`blockdev --getsize64` / `--getss`, as a
    /// float, as 22.4 divides them).
    fn size_in_sectors(&self, device: &str) -> Result<f64, String> {
        let ask = |q: DiskQuery| -> Result<f64, String> {
            self.ctx
                .host
                .disk_query(&q)
                .map_err(|e| format!("Failed to get {device} size\n{e}"))?
                .trim()
                .parse::<f64>()
                .map_err(|e| format!("Failed to get {device} size\n{e}"))
        };
        Ok(ask(DiskQuery::Size64(device.into()))? / ask(DiskQuery::SectorSize(device.into()))?)
    }

    /// The partitions this run gives `disk`: the kernel's names
    /// (`sdb1`, `loop0p1`, `nvme0n1p1`).
    fn plan_partitions(&mut self, disk: &str, count: usize) {
        let sep = match disk.chars().last() {
            Some(c) if c.is_ascii_digit() => "p",
            _ => "",
        };
        let parts = (1..=count).map(|n| format!("{disk}{sep}{n}")).collect();
        self.planned.retain(|(d, _)| d != disk);
        self.planned.push((disk.to_string(), parts));
    }
}

/// `value_splitter(values, start)`: `KEY="VALUE"` pairs, shell-quoted.
fn pairs(line: &str, start: usize) -> Result<Vec<(String, String)>, String> {
    let words = py::shell::shlex_split(line).map_err(|e| e.to_string())?;
    words
        .into_iter()
        .skip(start)
        .map(|w| match w.split('=').collect::<Vec<_>>()[..] {
            [k, v] => Ok((k.to_string(), v.to_string())),
            _ => Err(format!("not enough values to unpack: {w}")),
        })
        .collect()
}

/// A command for the machine's own tools: on the host, its failure
/// reported (see the file's header).
fn tool<S: Into<String>>(argv: impl IntoIterator<Item = S>) -> Command {
    Command::new(argv).on_host().on_failure(OnFailure::Report)
}

/// `read_parttbl(device)`: the kernel told of the new table, udev settled.
fn read_parttbl(ctx: &Context, device: &str, out: &mut ModuleOutput) {
    let settle = || Effect::Run(tool(["udevadm", "settle"]).on_failure(OnFailure::Ignore));
    let probe = match ctx.host.which("partprobe") {
        Some(_) => vec!["partprobe".to_string(), device.to_string()],
        None => vec!["blockdev".into(), "--rereadpt".into(), device.into()],
    };
    out.effects.push(settle());
    // 22.4 logs a failed re-read and goes on.
    out.effects
        .push(Effect::Run(tool(probe).on_failure(OnFailure::Ignore)));
    out.effects.push(settle());
}

/// 22.4's `mkpart(device, definition)`.
fn mkpart(
    ctx: &Context,
    disks: &mut DiskView,
    device: &str,
    def: &Mapping,
    out: &mut ModuleOutput,
) -> Result<(), Failure> {
    if !disks.exists(device) {
        return Err(Failure::Logged(format!(
            "Device {device} did not exist and was not created with a udevadm settle."
        )));
    }
    let device = disks.realpath(device);
    let overwrite = def.get("overwrite").is_some_and(Value::truthy);
    let layout_value = def.get("layout").cloned().unwrap_or(Value::Bool(false));
    let table_type = def
        .get("table_type")
        .map(Value::python_str)
        .unwrap_or_else(|| "mbr".into());
    if !layout_value.truthy() {
        out.note("Device is not to be partitioned, skipping");
        return Ok(());
    }
    if let Some(why) = refusal(ctx, "partition", &device) {
        return Err(Failure::Refused(why));
    }
    let kind = disks.device_type(&device).map_err(Failure::Logged)?;
    if !matches!(kind.as_deref(), Some("disk") | Some("loop")) {
        return Err(Failure::Logged(format!(
            "Device {device} is not a disk device!"
        )));
    }
    if layout_value
        .as_str()
        .is_some_and(|s| s.to_lowercase() == "remove")
    {
        out.note("Instructed to remove partition table entries");
        return purge_disk(ctx, disks, &device, out);
    }
    if !matches!(table_type.as_str(), "mbr" | "gpt") {
        return Err(Failure::Logged(format!(
            "No such function check_partition_{table_type}_layout to call!"
        )));
    }
    let layout = Layout::from_value(&layout_value).map_err(Failure::Logged)?;
    // `check_partition_layout`: the table the disk has.
    let found = match table_type.as_str() {
        "mbr" => ctx
            .host
            .disk_query(&DiskQuery::SfdiskList(device.clone()))
            .map(|t| layout::mbr_types(&device, &t)),
        _ => ctx
            .host
            .disk_query(&DiskQuery::SgdiskPrint(device.clone()))
            .map(|t| layout::gpt_types(&t)),
    }
    .map_err(|e| Failure::Logged(format!("Error running partition command on {device}\n{e}")));
    // A disk this run already partitioned is read as it will be.
    let found = match disks.planned_disk_of(&device) {
        Some((_, parts)) => vec![None; parts.len()],
        None => found?,
    };
    if layout.matches(&found) {
        out.note("Device partitioning layout matches");
        return Ok(());
    }
    if !overwrite {
        let used = disks
            .enumerate(&device, false)
            .map_err(Failure::Logged)?
            .len()
            > 1
            || disks
                .check_fs(&device)
                .map_err(Failure::Logged)?
                .1
                .is_some();
        if used {
            out.note(format!(
                "Skipping partitioning on configured device {device}"
            ));
            return Ok(());
        }
    }
    let size = disks.size_in_sectors(&device).map_err(Failure::Logged)?;
    let count = match table_type.as_str() {
        "mbr" => {
            let definition = layout.mbr(size).map_err(Failure::Logged)?;
            out.note(format!("   Layout is: {definition}"));
            let mut cmd = tool(["sfdisk", "--Linux", "--unit=S", "--force", device.as_str()]);
            cmd.stdin = Some(Data::public(format!("{definition}\n")));
            out.effects.push(Effect::Run(cmd));
            definition.lines().count()
        }
        _ => {
            let parts = layout.gpt(size);
            out.note(format!("   Layout is: {}", layout::gpt_repr(&parts)));
            out.effects
                .push(Effect::Run(tool(["sgdisk", "-Z", device.as_str()])));
            for (i, p) in parts.iter().enumerate() {
                let n = i + 1;
                out.effects.push(Effect::Run(tool([
                    "sgdisk".to_string(),
                    "-n".into(),
                    format!("{n}:{}:{}", p.start, p.end),
                    device.clone(),
                ])));
                if let Some(ty) = &p.type_code {
                    out.effects.push(Effect::Run(tool([
                        "sgdisk".to_string(),
                        "-t".into(),
                        format!("{n}:{ty:0<4}"),
                        device.clone(),
                    ])));
                }
            }
            parts.len()
        }
    };
    read_parttbl(ctx, &device, out);
    disks.plan_partitions(&device, count);
    out.note(format!("Partition table created for {device}"));
    Ok(())
}

/// `purge_disk(device)`: every filesystem signature wiped, then the first
/// and last MiB zeroed (the MBR, and GPT's two copies).
fn purge_disk(
    ctx: &Context,
    disks: &mut DiskView,
    device: &str,
    out: &mut ModuleOutput,
) -> Result<(), Failure> {
    for d in disks.enumerate(device, false).map_err(Failure::Logged)? {
        if d.kind != "disk" && d.kind != "crypt" && d.kind != "loop" {
            out.note(format!("Purging filesystem on /dev/{}", d.name));
            out.effects.push(Effect::Run(tool([
                "wipefs".to_string(),
                "--all".into(),
                format!("/dev/{}", d.name),
            ])));
        }
    }
    let bytes = ctx
        .host
        .disk_query(&DiskQuery::Size64(device.into()))
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .ok_or_else(|| Failure::Logged(format!("Failed to get {device} size")))?;
    let mib = 1 << 20;
    let zero = |seek: u64| {
        tool([
            "dd".to_string(),
            "if=/dev/zero".into(),
            format!("of={device}"),
            "bs=512".into(),
            "count=2048".into(),
            format!("seek={seek}"),
            "conv=notrunc,fsync".into(),
        ])
    };
    out.effects.push(Effect::Run(zero(0)));
    out.effects
        .push(Effect::Run(zero(bytes.saturating_sub(mib) / 512)));
    read_parttbl(ctx, device, out);
    disks.planned.retain(|(d, _)| d != device);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every case 22.4's cc_disk_setup was driven through
    /// (`tests/fixtures/disk_setup/record.py`).
    fn cases() -> Vec<serde_json::Value> {
        let text = include_str!("../../tests/fixtures/disk_setup/expected.json");
        serde_json::from_str::<serde_json::Value>(text)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    /// A kit whose machine answers the case's questions (blkid finds
    /// nothing where the case gives no answer, as the recording's mock).
    fn kit(case: &serde_json::Value) -> Kit {
        let device = |path: &str| BlockDevice {
            real: path.into(),
            stat: Ok(DevKind::Block),
            dev: Some(DevNum {
                major: 8,
                minor: 16,
            }),
            disk_dev: Some(DevNum {
                major: 8,
                minor: 16,
            }),
            part: PartInfo::NotPartition,
        };
        let mut answers: Vec<(DiskQuery, String)> = Vec::new();
        for (argv, answer) in case["answers"].as_object().unwrap() {
            let words: Vec<&str> = argv.split(' ').collect();
            let dev = words
                .iter()
                .rev()
                .find(|w| w.starts_with("/dev/"))
                .unwrap()
                .to_string();
            let q = match words[0] {
                "lsblk" => DiskQuery::Lsblk {
                    device: dev,
                    nodeps: argv.ends_with("--nodeps"),
                },
                "blkid" => DiskQuery::Blkid(dev),
                "sfdisk" => DiskQuery::SfdiskList(dev),
                "sgdisk" => DiskQuery::SgdiskPrint(dev),
                "blockdev" if argv.contains("--getss") => DiskQuery::SectorSize(dev),
                _ => DiskQuery::Size64(dev),
            };
            assert_eq!(q.argv().join(" "), *argv);
            answers.push((q, answer.as_str().unwrap().to_string()));
        }
        for d in ["/dev/sdb", "/dev/sdb1", "/dev/sdb2"] {
            answers.push((DiskQuery::Blkid(d.into()), String::new()));
        }
        let mut programs = vec!["mkfs.ext4", "mkfs.xfs", "mkswap", "mkfs.btrfs"];
        if case["partprobe"].as_bool().unwrap() {
            programs.push("partprobe");
        }
        let host = FakeHost::with(|h| {
            h.devices = ["/dev/sdb", "/dev/sdb1", "/dev/sdb2"]
                .iter()
                .map(|p| (p.to_string(), device(p)))
                .collect();
            h.disk_answers = answers;
            h.programs = programs.iter().map(|p| p.to_string()).collect();
        });
        let mut kit = Kit::debian12().host(host);
        kit.cfg = yaml::load(case["config"].to_string().as_bytes(), "case").unwrap();
        kit
    }

    /// The programs that change a disk (not udev's settle or the kernel's
    /// re-read, which 22.4 also runs while it only looks), with stdin.
    fn changes(all: Vec<(Vec<String>, Option<String>)>) -> Vec<(Vec<String>, Option<String>)> {
        all.into_iter()
            .filter(|(a, _)| {
                !(a[0] == "udevadm"
                    || a[0] == "partprobe"
                    || a.get(1).is_some_and(|x| x == "--rereadpt"))
            })
            .collect()
    }

    /// 22.4's messages that cloudboot gives too.
    const SAID: &[&str] = &[
        "Skipping partitioning",
        "Device partitioning layout matches",
        "Device is not to be partitioned",
        "Found filesystem match",
        "updated disk_setup device entry",
        "Cannot create fstype",
        "has required file system",
        "Using the raw device",
        "File system type",
        "   Layout is:",
        "Partition table created",
        "Replacing file system",
        "is mapped to disk",
        "Destroying filesystem",
        "Manual request of partition",
        "Creating file system",
    ];

    #[test]
    fn does_what_22_4_does_for_each_recorded_case() {
        for case in cases() {
            let name = case["case"].as_str().unwrap();
            let run = kit(&case).plan(&DiskSetup);
            let theirs: Vec<(Vec<String>, Option<String>)> = case["ran"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    let argv = match &r["argv"] {
                        serde_json::Value::String(line) => {
                            vec!["sh".into(), "-c".into(), line.clone()]
                        }
                        a => a
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|w| w.as_str().unwrap().to_string())
                            .collect(),
                    };
                    (argv, r["stdin"].as_str().map(str::to_string))
                })
                .collect();
            let ours: Vec<(Vec<String>, Option<String>)> = run
                .effects()
                .iter()
                .filter_map(|e| match e {
                    Effect::Run(c) => Some((
                        c.argv.clone(),
                        c.stdin
                            .as_ref()
                            .map(|d| String::from_utf8_lossy(&d.bytes).into_owned()),
                    )),
                    _ => None,
                })
                .collect();
            assert_eq!(changes(ours.clone()), changes(theirs), "{name}");
            // After a new table, the kernel is told as 22.4 tells it.
            if ours
                .iter()
                .any(|(a, _)| a[0] == "sfdisk" || a[0] == "sgdisk")
            {
                let probe = match case["partprobe"].as_bool().unwrap() {
                    true => vec!["partprobe".to_string(), "/dev/sdb".into()],
                    false => vec!["blockdev".into(), "--rereadpt".into(), "/dev/sdb".into()],
                };
                assert!(ours.iter().any(|(a, _)| *a == probe), "{name}: {ours:?}");
            }
            for (_, m) in case["log"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| (l[0].as_str().unwrap(), l[1].as_str().unwrap()))
            {
                if SAID.iter().any(|s| m.contains(s)) {
                    assert!(
                        run.notes().iter().any(|n| n == m),
                        "{name}: {m:?} not in {:?}",
                        run.notes()
                    );
                }
            }
            assert!(run.errors().is_empty(), "{name}: {:?}", run.errors());
            assert!(run
                .effects()
                .iter()
                .all(|e| matches!(e, Effect::Run(c) if c.on_host)));
        }
    }

    #[test]
    fn a_disk_partitioned_in_this_run_gets_its_filesystems_in_this_run() {
        let case = &cases()[0];
        let mut kit = kit(case);
        kit.cfg = yaml::load(
            b"disk_setup:\n  /dev/sdb: {layout: [50, [50, 82]]}\n\
              fs_setup:\n- {label: a, filesystem: ext4, device: /dev/sdb, partition: auto}\n\
              - {label: b, filesystem: swap, device: /dev/sdb, partition: any}\n",
            "t",
        )
        .unwrap();
        let run = kit.plan(&DiskSetup);
        let cmds = changes(run.commands().into_iter().map(|a| (a, None)).collect());
        let argv: Vec<Vec<String>> = cmds.into_iter().map(|(a, _)| a).collect();
        assert_eq!(
            argv,
            [
                vec!["sfdisk", "--Linux", "--unit=S", "--force", "/dev/sdb"],
                vec!["/usr/sbin/mkfs.ext4", "-L", "a", "/dev/sdb1"],
                vec!["/usr/sbin/mkswap", "-L", "b", "/dev/sdb2"],
            ]
        );
    }
}
