//! resizefs (`cc_resizefs`): on every boot, in the network stage (after
//! growpart, as Debian 12's `cloud_init_modules` orders them), grows the
//! filesystem on `/` to fill its partition.
//!
//! Keys, as 22.4 reads them:
//! - `resize_rootfs` (default true; the module's first argument takes its
//!   place): false (any value `util.translate_bool` finds false) turns it
//!   off; `noblock` runs the resize in the background (22.4 forks it), so
//!   the boot goes on while a large filesystem grows.
//!
//! The filesystem is the root's own mount of `/` (the mount table of the
//! machine cloudboot runs on; see `modules/shared/block_devices.rs`): ext2,
//! ext3 and ext4 grow with `resize2fs DEVICE`, xfs with `xfs_growfs
//! MOUNT_POINT`, btrfs with `btrfs filesystem resize max MOUNT_POINT` (its
//! `.snapshots` subvolume when `/` is mounted read-only and has one), as
//! 22.4 chooses. The tools run on this machine, and the mount point they get
//! is where the root is mounted here (`/` on a booted machine). 22.4's
//! messages where it does nothing (notes): `Could not determine filesystem
//! type of /` (a scratch root that is a plain directory: it has no mount of
//! its own), `Device '...' did not exist. cannot resize: ...`, `device
//! '...' not a block device. cannot resize: ...`, `Not resizing unknown
//! filesystem type ...`. FreeBSD's and DragonFly's filesystems (ufs, zfs,
//! hammer2) are not resized (cloudboot runs on Linux). A mount source
//! `/dev/root` that does not exist is the device `root=` of the root's
//! `/proc/cmdline` names, as 22.4 reads it.
//!
//! Safety: when the target root is not `/`, a filesystem on the device
//! holding this machine's own `/` (or its disk) is never resized: an error
//! names the device (for a root that is a plain directory only when
//! `resize_rootfs` is set in the config; by default it is the note above).

use crate::module::prelude::*;
use crate::modules::shared::block_devices::{lead, refusal, rootdev_from_cmdline, Lead};

pub struct Resizefs;

/// 22.4's `enum: [true, false, noblock]` (exact: `NoBlock` is not in it).
fn resize_rootfs_value(v: &Value) -> Verdict {
    match v {
        Value::Bool(_) => Verdict::Fine,
        Value::Str(s) if s == "noblock" => Verdict::Fine,
        _ => Verdict::Bad("is not one of [True, False, 'noblock']"),
    }
}

static INFO: ModuleInfo = ModuleInfo {
    name: "resizefs",
    aliases: &[],
    frequency: Frequency::Always,
    activate_by: &[],
    keys: &["resize_rootfs"],
    schema: &[Field::opt(
        "resize_rootfs",
        Ty::Strict(
            &Ty::OneOf(&[Ty::Bool, Ty::Enum(&["noblock"])]),
            // 22.4's schema is the `enum` alone: one message.
            Rule::As(&Ty::Strict(&Ty::Any, Rule::Check(resize_rootfs_value))),
        ),
    )],
    summary: "grow the filesystem on / to fill its partition (resize2fs, xfs_growfs, btrfs)",
};

/// `resize_rootfs: noblock`.
const NOBLOCK: &str = "noblock";

impl Module for Resizefs {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        // `util.get_cfg_option_str(cfg, "resize_rootfs", True)`.
        let (resize_root, explicit) = match (ctx.args.first(), ctx.cfg.get("resize_rootfs")) {
            (Some(arg), _) => (Value::Str(arg.clone()), true),
            (None, Some(v)) => (Value::Str(v.python_str()), true),
            (None, None) => (Value::Bool(true), false),
        };
        if !py::truth::translate_bool(&resize_root, &[NOBLOCK]) {
            out.note(format!(
                "Skipping module named {}, resizing disabled",
                ctx.name
            ));
            return out;
        }
        let noblock = resize_root.as_str() == Some(NOBLOCK);
        let resize_what = "/";
        let mount = match lead(ctx, resize_what) {
            Lead::Mount(m) => m,
            Lead::NotOwn(host_mount) => {
                if let Some(why) = host_mount
                    .filter(|_| explicit)
                    .and_then(|m| refusal(ctx, "resize the filesystem on", &m.source))
                {
                    out.error(why);
                } else {
                    out.note(format!(
                        "Could not determine filesystem type of {resize_what}"
                    ));
                }
                return out;
            }
        };
        let devpth = mount.source.clone();
        let fs_type = mount.fstype.clone();
        let mount_point = mount.mount_point.display().to_string();
        let info = format!("dev={devpth} mnt_point={resize_what} path={resize_what}");
        out.note(format!("resize_info: {info}"));
        if fs_type == "zfs" {
            out.note(format!(
                "Not resizing zfs pool {devpth}: cloudboot does not resize zfs"
            ));
            return out;
        }
        let devpth = match writable_device(ctx, &devpth, &info) {
            Ok(d) => d,
            Err(why) => {
                out.note(why);
                return out;
            }
        };
        if let Some(why) = refusal(ctx, "resize the filesystem on", &devpth) {
            out.error(why);
            return out;
        }
        let fstype_lc = fs_type.to_lowercase();
        let argv: Vec<String> = if fstype_lc.starts_with("btrfs") {
            let snapshots = std::path::Path::new("/.snapshots");
            if !mount.read_write && ctx.fs.is_dir(snapshots) {
                // 22.4's `"%s/.snapshots" % mount_point` (`//.snapshots` on `/`).
                let at = format!("{mount_point}/.snapshots");
                vec![
                    "btrfs".into(),
                    "filesystem".into(),
                    "resize".into(),
                    "max".into(),
                    at,
                ]
            } else {
                vec![
                    "btrfs".into(),
                    "filesystem".into(),
                    "resize".into(),
                    "max".into(),
                    mount_point.clone(),
                ]
            }
        } else if fstype_lc.starts_with("ext") {
            vec!["resize2fs".into(), devpth.clone()]
        } else if fstype_lc.starts_with("xfs") {
            vec!["xfs_growfs".into(), mount_point.clone()]
        } else {
            // ufs, zfs and hammer2 are the BSDs' (see the file's header).
            out.note(format!(
                "Not resizing unknown filesystem type {fs_type} for {resize_what}"
            ));
            return out;
        };
        out.note(format!(
            "Resizing {resize_what} ({fs_type}) using {}",
            argv.join(" ")
        ));
        let mut cmd = Command::new(argv).on_host();
        if noblock {
            cmd = cmd.background();
        }
        out.effects.push(Effect::Run(cmd));
        let action = match noblock {
            true => "Resizing (via forking)",
            false => "Resized",
        };
        out.note(format!(
            "{action} root filesystem (type={fs_type}, val={})",
            resize_root.python_str()
        ));
        out
    }
}

/// 22.4's `maybe_get_writable_device_path`: the device, or the message
/// saying why nothing is resized.
fn writable_device(ctx: &Context, devpath: &str, info: &str) -> Result<String, String> {
    let mut devpath = devpath.to_string();
    if devpath == "/dev/root" && ctx.host.block_device(&devpath).stat.is_err() {
        // What `/dev/root` stands for: `root=` of the kernel command line.
        devpath = rootdev_from_cmdline(ctx).ok_or("Unable to find device '/dev/root'")?;
    }
    if devpath == "overlayroot" {
        return Err(format!(
            "Not attempting to resize devpath '{devpath}': {info}"
        ));
    }
    if !devpath.starts_with("/dev/") && ctx.host.block_device(&devpath).stat.is_err() {
        devpath = format!("/dev/{}", devpath.trim_start_matches('/'));
    }
    match ctx.host.block_device(&devpath).stat {
        Err(e) if e.starts_with("[Errno 2]") => Err(format!(
            "Device '{devpath}' did not exist. cannot resize: {info}"
        )),
        Err(e) => Err(e),
        Ok(DevKind::Other) => Err(format!(
            "device '{devpath}' not a block device. cannot resize: {info}"
        )),
        Ok(_) => Ok(devpath),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::shared::block_devices::recorded;

    /// Every case 22.4's cc_resizefs was driven through
    /// (`tests/fixtures/growpart/record.py`): the same command (forked or
    /// not) and the same messages.
    #[test]
    fn does_what_22_4_does_for_each_recorded_layout() {
        for case in recorded::cases()
            .iter()
            .filter(|c| c["module"] == "resizefs")
        {
            let name = case["case"].as_str().unwrap();
            let run = recorded::kit(case).plan(&Resizefs);
            let ours: Vec<(Vec<String>, bool)> = run
                .effects()
                .iter()
                .filter_map(|e| match e {
                    Effect::Run(c) => Some((c.argv.clone(), c.background)),
                    _ => None,
                })
                .collect();
            assert_eq!(ours, recorded::changes(case), "{name}");
            for m in recorded::messages(case) {
                assert!(
                    run.notes().contains(&m),
                    "{name}: {m:?} not in {:?}",
                    run.notes()
                );
            }
            assert!(run.errors().is_empty(), "{name}: {:?}", run.errors());
            assert!(
                run.effects()
                    .iter()
                    .all(|e| matches!(e, Effect::Run(c) if c.on_host)),
                "{name}: the tools run on the machine"
            );
        }
    }

    fn scratch_root_on_the_hosts_disk(cfg: &str) -> Kit {
        // The root is a plain directory on the machine's own `/` (254:1 on
        // the disk 254:0), as a scratch root under /tmp is.
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
            h.devices = vec![(
                "/dev/vda1".into(),
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
        });
        Kit::debian12().host(host).cfg(cfg)
    }

    #[test]
    fn a_scratch_root_has_no_filesystem_of_its_own_to_grow() {
        let run = scratch_root_on_the_hosts_disk("{}").plan(&Resizefs);
        assert!(run.effects().is_empty() && run.errors().is_empty());
        assert_eq!(run.notes(), ["Could not determine filesystem type of /"]);
    }

    #[test]
    fn asked_for_in_a_scratch_root_on_the_hosts_disk_it_refuses() {
        let run = scratch_root_on_the_hosts_disk("resize_rootfs: true").plan(&Resizefs);
        assert!(run.effects().is_empty());
        assert_eq!(run.errors().len(), 1, "{:?}", run.errors());
        assert!(
            run.errors()[0].starts_with(
                "refusing to resize the filesystem on /dev/vda1: it holds this machine's own /"
            ),
            "{:?}",
            run.errors()
        );
    }

    #[test]
    fn the_first_argument_stands_for_the_key() {
        let mut kit = scratch_root_on_the_hosts_disk("resize_rootfs: true");
        kit.args = vec!["false".into()];
        let run = kit.plan(&Resizefs);
        assert_eq!(
            run.notes(),
            ["Skipping module named resizefs, resizing disabled"]
        );
    }
}
