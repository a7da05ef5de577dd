//! growpart (`cc_growpart`): on every boot, in the network stage (Debian
//! 12's `cloud_init_modules`, after write_files), grows the partition under
//! `/` (and the other `devices`) to the end of its disk, so an image booted
//! on a bigger disk gets the space; resizefs then grows the filesystem.
//!
//! Keys, all under `growpart`, as 22.4 reads them (absent: 22.4's
//! `DEFAULT_CONFIG`, `{mode: auto, devices: ["/"], ignore_growroot_disabled: false}`):
//! - `mode`: `auto` (growpart if it is installed, else nothing, quietly),
//!   `growpart` (an error when it is not installed: `mode growpart not
//!   available`), `gpart` (FreeBSD's tool: never available here, the same
//!   error), `off` or any false value (22.4's `DEPRECATED` warning for one
//!   that is not `off`); another is `unknown resize mode X`.
//! - `devices`: mount points of the root (`/`, `/var`: the device of the
//!   root's own mount there) or device paths (`/dev/vdb1`).
//! - `ignore_growroot_disabled`: unless true, the root's
//!   `/etc/growroot-disabled` turns the module off.
//!
//! Each device goes the way 22.4's `resize_devices` takes it, with its
//! messages (`'/' SKIPPED: ...`, as notes): a path the root has no mount of
//! its own for (a scratch root that is a plain directory), a device that
//! does not exist or is no block device, one that is no partition. A
//! partition gets `growpart DISK N` (LANG=C), run on this machine (see
//! `modules/shared/block_devices.rs`): growpart exits 1 when there is
//! nothing to grow (22.4's NOCHANGE), which is no failure. 22.4 first runs
//! `growpart --dry-run DISK N` and compares the sizes before and after for
//! its `changed (...) from X to Y` line; cloudboot runs growpart once and
//! lets its own output (in cloud-init-output.log) say what changed.
//!
//! Mapped devices (`/dev/mapper/*` on `/dev/dm-*`), as 22.4: the partition
//! under it from `dmsetup deps`; LUKS when `cryptsetup status` of the
//! mapping and `cryptsetup isLuks` of the partition say so (no cryptsetup:
//! not encrypted). A LUKS volume's partition grows first, then the volume,
//! `cryptsetup --key-file - resize` with the key from the root's
//! `/cc_growpart_keydata` (JSON `key`, base64, and `slot`) on stdin
//! (secret: never in plans or logs), then `cryptsetup luksKillSlot` of that
//! slot and the key file removed. Any other mapped device (LVM) is skipped
//! (`... skipped as it is not encrypted.`). This path is checked against
//! 22.4 with the machine mocked, not on a real LUKS volume.
//!
//! Safety: when the target root is not `/`, no device that holds this
//! machine's own `/` (or is on its disk) is touched: a `devices` entry
//! that leads there is an error naming the device. A scratch root that is a
//! plain directory has no device of its own: with the default config that
//! is 22.4's "could not determine device" note; with `growpart` set in the
//! config, an entry that would land on this machine's `/` is refused.

use crate::module::prelude::*;
use crate::modules::shared::block_devices::{lead, refusal, rootdev_from_cmdline, Lead};

pub struct Growpart;

static GROWPART: &[Field] = &[
    Field::opt(
        "mode",
        Ty::OneOf(&[Ty::Enum(&["auto", "growpart", "gpart", "off"]), Ty::Bool]),
    ),
    Field::opt("devices", Ty::List(&Ty::Str)),
    Field::opt("ignore_growroot_disabled", Ty::Bool),
];

static INFO: ModuleInfo = ModuleInfo {
    name: "growpart",
    aliases: &[],
    frequency: Frequency::Always,
    activate_by: &[],
    keys: &["growpart"],
    schema: &[Field::opt("growpart", Ty::Map(GROWPART))],
    summary: "grow the partition under / (and other devices) to the end of its disk",
};

/// 22.4's `DEFAULT_CONFIG`, as its debug line prints it.
const DEFAULT_CONFIG: &str =
    "{'mode': 'auto', 'devices': ['/'], 'ignore_growroot_disabled': False}";

/// The root's file that turns growpart off (cloud-initramfs-growroot's).
pub const GROWROOT_DISABLED: &str = "/etc/growroot-disabled";

impl Module for Growpart {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let default = Value::empty_map();
        let explicit = ctx.cfg.get("growpart").is_some();
        let mycfg = match ctx.cfg.get("growpart") {
            None => {
                out.note(format!(
                    "No 'growpart' entry in cfg.  Using default: {DEFAULT_CONFIG}"
                ));
                &default
            }
            Some(m @ Value::Map(_)) => m,
            Some(_) => {
                out.note("'growpart' in config was not a dict");
                return out;
            }
        };
        let auto = Value::Str("auto".into());
        let mode = mycfg.get("mode").unwrap_or(&auto);
        if py::truth::is_false(mode) {
            let text = mode.python_str();
            if text != "off" {
                out.note(format!(
                    "DEPRECATED: growpart mode '{text}' is deprecated. Use 'off' instead."
                ));
            }
            out.note(format!("growpart disabled: mode={text}"));
            return out;
        }
        let ignore = mycfg
            .get("ignore_growroot_disabled")
            .cloned()
            .unwrap_or(Value::Bool(false));
        if py::truth::is_false(&ignore) && ctx.fs.exists(std::path::Path::new(GROWROOT_DISABLED)) {
            out.note(format!("growpart disabled: {GROWROOT_DISABLED} exists"));
            out.note("use ignore_growroot_disabled to ignore");
            return out;
        }
        let devices = py::cfg::option_list(mycfg, "devices", &["/"]);
        if devices.is_empty() {
            out.note("growpart: empty device list");
            return out;
        }
        let mode = mode.python_str();
        if let Err(e) = resizer(ctx, &mode) {
            out.note(format!("growpart unable to find resizer for '{mode}': {e}"));
            if mode != "auto" {
                out.error(e);
            }
            return out;
        }
        // 22.4's work list: an encrypted volume puts its partition (and
        // itself again) in front, so the partition grows first.
        let mut devices: std::collections::VecDeque<String> = devices.into();
        let mut handled: Vec<String> = Vec::new();
        while let Some(devent) = devices.pop_front() {
            match plan_device(ctx, &devent, explicit, &handled, &mut out) {
                Step::Grow { disk, number } => {
                    out.note(format!("'{devent}' growpart {disk} {number}"));
                    out.effects.push(Effect::Run(
                        Command::new(["growpart", disk.as_str(), number.as_str()])
                            .env("LANG", "C")
                            .on_host()
                            .ok_codes(&[1])
                            .on_failure(OnFailure::Report),
                    ));
                }
                Step::Skip(why) => out.note(format!("'{devent}' SKIPPED: {why}")),
                Step::Failed(why) => out.note(format!("'{devent}' FAILED: {why}")),
                Step::Refuse(why) => out.error(why),
                Step::PartitionFirst(partition) => {
                    devices.push_front(devent);
                    devices.push_front(partition);
                    continue;
                }
                Step::Luks(effects, message) => {
                    out.effects.extend(effects);
                    out.note(format!("'{devent}' resized: {message}"));
                }
            }
            handled.push(devent);
        }
        out
    }
}

/// 22.4's `resizer_factory`: growpart, where it is installed (on this
/// machine); gpart is FreeBSD's and never is.
fn resizer(ctx: &Context, mode: &str) -> Result<(), String> {
    let growpart = ctx.host.which("growpart").is_some();
    match mode {
        "auto" if growpart => Ok(()),
        "auto" => Err("No resizers available".into()),
        "growpart" if growpart => Ok(()),
        "growpart" | "gpart" => Err(format!("mode {mode} not available")),
        other => Err(format!("unknown resize mode {other}")),
    }
}

/// What becomes of one `devices` entry.
#[derive(Debug, PartialEq)]
enum Step {
    Grow {
        disk: String,
        number: String,
    },
    /// 22.4's SKIPPED, with its message.
    Skip(String),
    /// 22.4's FAILED (logged, the module goes on), with its message.
    Failed(String),
    /// cloudboot's refusal (an error).
    Refuse(String),
    /// An encrypted volume whose partition is to grow first.
    PartitionFirst(String),
    /// An encrypted volume resized (`cryptsetup resize`), with 22.4's
    /// message.
    Luks(Vec<Effect>, String),
}

/// 22.4's `resize_devices` for one entry; `handled` the entries done.
fn plan_device(
    ctx: &Context,
    devent: &str,
    explicit: bool,
    handled: &[String],
    out: &mut ModuleOutput,
) -> Step {
    // `devent2dev`: a device path as it is, else the device of the mount.
    let blockdev = if devent.starts_with("/dev/") {
        devent.to_string()
    } else {
        match lead(ctx, devent) {
            // 22.4 reads what `/dev/root` stands for from `root=`.
            Lead::Mount(m) if m.source == "/dev/root" => match rootdev_from_cmdline(ctx) {
                Some(dev) => dev,
                None => {
                    return Step::Skip(
                        "unable to convert to device: Unable to find device '/dev/root'".into(),
                    )
                }
            },
            Lead::Mount(m) => m.source,
            Lead::NotOwn(host_mount) => {
                // The root is a plain directory: nothing of the guest's to
                // grow. Asked for explicitly, say so loudly where it would
                // have been this machine's own disk.
                if let Some(why) = host_mount
                    .filter(|_| explicit)
                    .and_then(|m| refusal(ctx, "grow the partition", &m.source))
                {
                    return Step::Refuse(why);
                }
                // 22.4's message, its missing `%` and all.
                return Step::Skip(
                    "unable to convert to device: Could not determine device of '%s' % dev_ent"
                        .into(),
                );
            }
        }
    };
    if let Some(why) = refusal(ctx, "grow the partition", &blockdev) {
        return Step::Refuse(why);
    }
    let dev = ctx.host.block_device(&blockdev);
    match dev.stat {
        Err(e) => return Step::Skip(format!("stat of '{blockdev}' failed: {e}")),
        Ok(DevKind::Other) => return Step::Skip(format!("device '{blockdev}' not a block device")),
        Ok(_) => {}
    }
    if dev.real.starts_with("/dev/dm-") {
        out.note(format!(
            "{blockdev} is a mapped device pointing to {}",
            dev.real
        ));
        return mapped(ctx, &blockdev, &dev.real, handled, out);
    }
    match dev.part {
        PartInfo::NoSyspath(sys) => Step::Skip(format!(
            "device_part_info({blockdev}) failed: {blockdev} had no syspath ({sys})"
        )),
        PartInfo::NotPartition => Step::Skip(format!(
            "device_part_info({blockdev}) failed: {blockdev} not a partition"
        )),
        PartInfo::Partition { disk, number } => Step::Grow { disk, number },
    }
}

/// Where an encrypted volume's key is left for growpart (by the image's
/// encryption setup), read and then removed, as 22.4's `KEYDATA_PATH`.
const KEYDATA: &str = "/cc_growpart_keydata";

/// 22.4's handling of a mapped device (`/dev/mapper/*` on `/dev/dm-*`): the
/// partition under it (`dmsetup deps`); when that is LUKS (`cryptsetup
/// status` of the mapping, `cryptsetup isLuks` of the partition), the
/// partition grows first, then the volume (`cryptsetup resize`, its key
/// from `/cc_growpart_keydata` on stdin), the key's slot is killed and the
/// key file removed. Anything else mapped (LVM) is not resized, as in 22.4.
fn mapped(
    ctx: &Context,
    blockdev: &str,
    underlying: &str,
    handled: &[String],
    out: &mut ModuleOutput,
) -> Step {
    let failed = |e: &str| {
        Step::Failed(format!(
            "Resizing encrypted device ({blockdev}) failed: {e}"
        ))
    };
    let deps_query = DiskQuery::DmsetupDeps(blockdev.into());
    let dep = match ctx.host.disk_query(&deps_query) {
        Ok(d) => d,
        Err(e) => return failed(&e.to_string()),
    };
    if !dep.starts_with("1 depend") {
        return failed(&format!(
            "Expecting '1 dependencies' from 'dmsetup'. Received: {dep}"
        ));
    }
    let Some(name) = dep
        .split_once(": (")
        .map(|(_, rest)| rest.split(')').next().unwrap_or_default())
    else {
        let argv: Vec<String> = deps_query
            .argv()
            .iter()
            .map(|a| python_str_repr(a))
            .collect();
        return failed(&format!(
            "Ran `[{}]`, but received unexpected stdout: `{dep}`",
            argv.join(", ")
        ));
    };
    let partition = format!("/dev/{name}");
    if !is_encrypted(ctx, underlying, &partition, out) {
        return Step::Skip(format!(
            "Resizing mapped device ({blockdev}) skipped as it is not encrypted."
        ));
    }
    if !handled.contains(&partition) {
        return Step::PartitionFirst(partition);
    }
    let Some(text) = ctx.fs.read_string(std::path::Path::new(KEYDATA)) else {
        return Step::Skip("No encryption keyfile found".into());
    };
    let keydata = serde_json::from_str::<serde_json::Value>(&text).ok();
    let key = keydata
        .as_ref()
        .and_then(|k| k["key"].as_str())
        .and_then(|k| base64::decode(k.as_bytes()).ok());
    let slot = keydata.as_ref().and_then(|k| match &k["slot"] {
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::String(s) => Some(s.clone()),
        _ => None,
    });
    let (Some(key), Some(slot)) = (key, slot) else {
        return failed(
            "Could not load encryption key. This is expected if the volume has been \
             previously resized.",
        );
    };
    let mut resize = Command::new(["cryptsetup", "--key-file", "-", "resize", blockdev])
        .on_host()
        .on_failure(OnFailure::Report);
    resize.stdin = Some(Data::secret(key));
    // 22.4 kills the slot and removes the key whether the resize worked or
    // not (its `finally`), and only warns when the slot cannot be killed.
    let kill = Command::new([
        "cryptsetup",
        "luksKillSlot",
        "--batch-mode",
        &partition,
        &slot,
    ])
    .on_host()
    .on_failure(OnFailure::Ignore);
    Step::Luks(
        vec![
            Effect::Run(resize),
            Effect::Run(kill),
            Effect::Remove {
                path: KEYDATA.into(),
            },
        ],
        format!("Successfully resized encrypted volume '{blockdev}'"),
    )
}

/// 22.4's `is_encrypted(blockdev, partition)`, with its messages.
fn is_encrypted(ctx: &Context, mapping: &str, partition: &str, out: &mut ModuleOutput) -> bool {
    if ctx.host.which("cryptsetup").is_none() {
        out.note("cryptsetup not found. Assuming no encrypted partitions");
        return false;
    }
    match ctx
        .host
        .disk_query(&DiskQuery::CryptsetupStatus(mapping.into()))
    {
        Ok(_) => {}
        Err(QueryFailed { code: Some(4), .. }) => {
            out.note(format!("Determined that {mapping} is not encrypted"));
            return false;
        }
        Err(e) => {
            out.note(format!(
                "Received unexpected exit code {} from cryptsetup status. Assuming no \
                 encrypted partitions.",
                e.code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "None".into())
            ));
            return false;
        }
    }
    let luks = ctx
        .host
        .disk_query(&DiskQuery::CryptsetupIsLuks(partition.into()))
        .is_ok();
    if luks {
        out.note(format!("Determined that {mapping} is encrypted"));
    }
    luks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::shared::block_devices::recorded;

    /// Every case 22.4's cc_growpart was driven through
    /// (`tests/fixtures/growpart/record.py`): the same growpart runs, the
    /// same messages, and an error where 22.4 raised.
    #[test]
    fn does_what_22_4_does_for_each_recorded_layout() {
        for case in recorded::cases()
            .iter()
            .filter(|c| c["module"] == "growpart")
        {
            let name = case["case"].as_str().unwrap();
            let run = recorded::kit(case).plan(&Growpart);
            let ours: Vec<(Vec<String>, bool)> = run
                .effects()
                .iter()
                .map(|e| match e {
                    Effect::Run(c) => (c.argv.clone(), false),
                    Effect::Remove { path } => {
                        (vec!["rm".into(), path.display().to_string()], false)
                    }
                    e => panic!("{name}: {e:?}"),
                })
                .collect();
            // Where 22.4's dry run finds nothing to grow (exit 1) it runs
            // nothing more; cloudboot runs growpart once, which finds the
            // same and exits 1 (no failure: `ok_codes`).
            let expected = match case["layout"]["dry_run_exit"].as_i64() {
                Some(1) => vec![(
                    vec!["growpart".into(), "/dev/vda".into(), "1".into()],
                    false,
                )],
                _ => recorded::changes(case),
            };
            assert_eq!(ours, expected, "{name}");
            for m in recorded::messages(case) {
                assert!(
                    run.notes()
                        .iter()
                        .any(|n| n == &m || (m.ends_with(": ") && n.starts_with(&m))),
                    "{name}: {m:?} not in {:?}",
                    run.notes()
                );
            }
            // The key reaches cryptsetup on stdin, as 22.4 gives it.
            for (theirs, ours) in case["ran"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["stdin"].is_string())
                .zip(run.effects().iter().filter_map(|e| match e {
                    Effect::Run(c) => c.stdin.as_ref(),
                    _ => None,
                }))
            {
                assert_eq!(
                    theirs["stdin"].as_str().unwrap().as_bytes(),
                    &ours.bytes[..]
                );
                assert!(ours.secret, "{name}: the key is secret");
            }
            run.assert_error_as_recorded(name, case["error"].as_str());
            for e in run.effects() {
                match e {
                    Effect::Run(c) if c.argv[0] == "growpart" => {
                        assert!(c.on_host && c.ok_codes == [1], "{name}: {c:?}");
                        assert_eq!(c.env, [("LANG".to_string(), "C".to_string())]);
                    }
                    Effect::Run(c) => assert!(c.on_host, "{name}: {c:?}"),
                    _ => {}
                }
            }
        }
    }

    /// A root that is a plain directory on this machine's `/` (254:1, on
    /// the disk 254:0).
    fn scratch_root(cfg: &str) -> Kit {
        let vda1 = BlockDevice {
            real: "/dev/vda1".into(),
            stat: Ok(DevKind::Block),
            dev: Some(DevNum {
                major: 254,
                minor: 1,
            }),
            disk_dev: Some(DevNum {
                major: 254,
                minor: 0,
            }),
            part: PartInfo::Partition {
                disk: "/dev/vda".into(),
                number: "1".into(),
            },
        };
        let vda2 = BlockDevice {
            real: "/dev/vda2".into(),
            dev: Some(DevNum {
                major: 254,
                minor: 2,
            }),
            ..vda1.clone()
        };
        let loop0p1 = BlockDevice {
            real: "/dev/loop0p1".into(),
            dev: Some(DevNum {
                major: 259,
                minor: 0,
            }),
            disk_dev: Some(DevNum { major: 7, minor: 0 }),
            part: PartInfo::Partition {
                disk: "/dev/loop0".into(),
                number: "1".into(),
            },
            ..vda1.clone()
        };
        let host = FakeHost::with(|h| {
            h.root_dir = "/tmp/scratch".into();
            h.mounts = vec![Mount {
                dev: DevNum {
                    major: 254,
                    minor: 1,
                },
                mount_point: "/".into(),
                fstype: "ext4".into(),
                source: "/dev/vda1".into(),
                read_write: true,
            }];
            h.devices = vec![
                ("/dev/vda1".into(), vda1),
                ("/dev/vda2".into(), vda2),
                ("/dev/loop0p1".into(), loop0p1),
            ];
            h.host_root = Some(HostRoot {
                dev: DevNum {
                    major: 254,
                    minor: 1,
                },
                disk: DevNum {
                    major: 254,
                    minor: 0,
                },
            });
            h.programs = vec!["growpart".into()];
        });
        Kit::debian12().host(host).cfg(cfg)
    }

    #[test]
    fn by_default_a_scratch_root_has_nothing_to_grow() {
        let run = scratch_root("{}").plan(&Growpart);
        assert!(run.effects().is_empty() && run.errors().is_empty());
        assert!(run.notes().contains(
            &"'/' SKIPPED: unable to convert to device: Could not determine device of '%s' % dev_ent"
                .to_string()
        ));
    }

    #[test]
    fn the_hosts_root_device_and_disk_are_refused_and_nothing_runs() {
        for devices in ["['/']", "['/dev/vda1']", "['/dev/vda2']"] {
            let run = scratch_root(&format!("growpart: {{devices: {devices}}}")).plan(&Growpart);
            assert!(run.effects().is_empty(), "{devices}");
            assert_eq!(run.errors().len(), 1, "{devices}: {:?}", run.errors());
            assert!(
                run.errors()[0].contains("it holds this machine's own / (device 254:1)")
                    && run.errors()[0].contains("and the target root is not /"),
                "{:?}",
                run.errors()
            );
        }
    }

    /// A mount source `/dev/root` is the device `root=` names.
    #[test]
    fn dev_root_is_read_from_the_kernel_command_line() {
        let host = FakeHost::with(|h| {
            h.root_dir = "/".into();
            h.mounts = vec![Mount {
                dev: DevNum {
                    major: 254,
                    minor: 1,
                },
                mount_point: "/".into(),
                fstype: "ext4".into(),
                source: "/dev/root".into(),
                read_write: true,
            }];
            h.devices = vec![(
                "/dev/disk/by-uuid/abcd".into(),
                BlockDevice {
                    real: "/dev/vda1".into(),
                    stat: Ok(DevKind::Block),
                    dev: Some(DevNum {
                        major: 254,
                        minor: 1,
                    }),
                    disk_dev: Some(DevNum {
                        major: 254,
                        minor: 0,
                    }),
                    part: PartInfo::Partition {
                        disk: "/dev/vda".into(),
                        number: "1".into(),
                    },
                },
            )];
            h.programs = vec!["growpart".into()];
        });
        let kit = Kit::debian12().host(host).file(
            "/proc/cmdline",
            "BOOT_IMAGE=/vmlinuz root=UUID=ABCD ro quiet\n",
        );
        assert_eq!(
            kit.plan(&Growpart).commands(),
            [["growpart", "/dev/vda", "1"]]
        );
        let no_cmdline = Kit::debian12().host(FakeHost::with(|h| {
            h.root_dir = "/".into();
            h.mounts = kit.host.mounts.clone();
            h.programs = vec!["growpart".into()];
        }));
        let run = no_cmdline.plan(&Growpart);
        assert!(run.commands().is_empty());
        assert!(run.notes().contains(
            &"'/' SKIPPED: unable to convert to device: Unable to find device '/dev/root'"
                .to_string()
        ));
    }

    #[test]
    fn another_disk_is_grown_from_a_scratch_root() {
        let run = scratch_root("growpart: {devices: [/dev/loop0p1]}").plan(&Growpart);
        assert!(run.errors().is_empty(), "{:?}", run.errors());
        assert_eq!(run.commands(), [["growpart", "/dev/loop0", "1"]]);
    }
}
