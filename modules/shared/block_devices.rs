//! What growpart, resizefs and disk_setup share about block devices: where
//! a path of the target root leads (cloud-init's `util.get_mount_info`, on
//! the mount table of the machine cloudboot runs on), and the one guard
//! they all pass, which refuses to act on the device holding that machine's
//! own `/` when the target root is not `/`.
//!
//! The tools themselves (growpart, resize2fs, xfs_growfs, sfdisk, sgdisk,
//! mkfs) run on the machine, not inside the root ([`Command::on_host`]):
//! they act on the running kernel's devices, which only the machine's own
//! `/dev`, `/proc` and `/sys` show (a root that is not booted has none of
//! them), as cloud-init 22.4 runs the tools it finds in the PATH of the
//! system it runs on.

use crate::module::prelude::*;

/// Where a guest path (`/`, `/var`) leads.
#[derive(Debug, PartialEq)]
pub enum Lead {
    /// A mount of the root's own: its device (the mount source), type and
    /// mount point on this machine.
    Mount(Mount),
    /// The root has no mount of its own there (it is a plain directory);
    /// the mount of this machine that holds it, if the table says.
    NotOwn(Option<Mount>),
}

/// The mount holding `guest` in the root.
pub fn lead(ctx: &Context, guest: &str) -> Lead {
    match ctx.host.mount_of(ctx.fs, guest) {
        Some(m) if m.own => Lead::Mount(m.mount),
        Some(m) => Lead::NotOwn(Some(m.mount)),
        None => Lead::NotOwn(None),
    }
}

/// The refusal, when `device` (as the config or the mount table names it)
/// is the device holding this machine's own `/`, or on its disk, and the
/// target root is not `/` ([`Host::protected_root`]): `what` it would have
/// done, the device, and why not.
pub fn refusal(ctx: &Context, what: &str, device: &str) -> Option<String> {
    let guarded = ctx.host.protected_root(ctx.fs)?;
    let found = ctx.host.block_device(device);
    guarded.holds(&found).then(|| {
        let root = ctx
            .fs
            .host_dir()
            .map(|d| format!(" {}", d.display()))
            .unwrap_or_default();
        format!(
            "refusing to {what} {device}: it holds this machine's own / (device {}), and the \
             target root{root} is not / (cloudboot never acts on the running system's disk \
             from another root)",
            guarded.dev
        )
    })
}

/// `util.rootdev_from_cmdline(util.get_cmdline())`: the device `root=` of
/// the root's `/proc/cmdline` names (what a mount source `/dev/root`
/// stands for). A `PARTUUID=` is its `/dev/disk/by-partuuid/` link (22.4
/// also asks blkid when the link is missing).
pub fn rootdev_from_cmdline(ctx: &Context) -> Option<String> {
    let cmdline = ctx.fs.read_string(std::path::Path::new("/proc/cmdline"))?;
    let found = cmdline
        .split_whitespace()
        .find_map(|t| t.strip_prefix("root="))?;
    Some(if found.starts_with("/dev/") {
        found.to_string()
    } else if let Some(l) = found.strip_prefix("LABEL=") {
        format!("/dev/disk/by-label/{l}")
    } else if let Some(u) = found.strip_prefix("UUID=") {
        format!("/dev/disk/by-uuid/{}", u.to_lowercase())
    } else if let Some(u) = found.strip_prefix("PARTUUID=") {
        format!("/dev/disk/by-partuuid/{}", u.to_lowercase())
    } else {
        format!("/dev/{found}")
    })
}

/// The recorded expectations of 22.4's cc_growpart and cc_resizefs
/// (`tests/fixtures/growpart/`), and a kit whose host has each case's
/// layout.
#[cfg(test)]
pub mod recorded {
    use crate::module::prelude::*;

    /// Every recorded case.
    pub fn cases() -> Vec<serde_json::Value> {
        let text = include_str!("../../tests/fixtures/growpart/expected.json");
        serde_json::from_str::<serde_json::Value>(text)
            .expect("expected.json is JSON")
            .as_array()
            .expect("a list of cases")
            .clone()
    }

    /// A Debian 12 kit with the case's config, and a host with its mounts,
    /// devices and programs; a booted machine (the root is `/`: nothing is
    /// protected).
    pub fn kit(case: &serde_json::Value) -> Kit {
        let layout = &case["layout"];
        let mut host = FakeHost::with(|h| {
            h.root_dir = "/".into();
        });
        for (path, m) in layout["mounts"].as_object().into_iter().flatten() {
            let mount_point = host.root_dir.join(path.trim_start_matches('/'));
            host.mounts.push(Mount {
                dev: DevNum {
                    major: 254,
                    minor: 1,
                },
                mount_point,
                fstype: m[1].as_str().unwrap().into(),
                source: m[0].as_str().unwrap().into(),
                read_write: layout["rw"].as_bool().unwrap_or(true),
            });
        }
        for (path, d) in layout["devices"].as_object().into_iter().flatten() {
            let stat = match d["kind"].as_str() {
                Some("block") => Ok(DevKind::Block),
                Some("char") => Ok(DevKind::Char),
                _ => Ok(DevKind::Other),
            };
            let name = path.rsplit('/').next().unwrap();
            let part = match (d.get("syspath"), d.get("partition")) {
                (None, _) => PartInfo::NoSyspath(format!("/sys/class/block/{name}")),
                (Some(_), None) => PartInfo::NotPartition,
                (Some(_), Some(n)) => PartInfo::Partition {
                    disk: d["disk"].as_str().unwrap().into(),
                    number: n.as_str().unwrap().into(),
                },
            };
            host.devices.push((
                path.clone(),
                BlockDevice {
                    real: d["real"].as_str().unwrap_or(path).into(),
                    stat,
                    dev: Some(DevNum {
                        major: 254,
                        minor: 1,
                    }),
                    disk_dev: Some(DevNum {
                        major: 254,
                        minor: 0,
                    }),
                    part,
                },
            ));
        }
        // Mapped devices: what dmsetup and cryptsetup answer for them.
        for (path, d) in layout["devices"].as_object().into_iter().flatten() {
            let Some(real) = d["real"].as_str().filter(|r| r.starts_with("/dev/dm-")) else {
                continue;
            };
            if let Some(deps) = layout["dmsetup"].as_str() {
                host.disk_answers
                    .push((DiskQuery::DmsetupDeps(path.clone()), deps.to_string()));
                if let Some(name) = deps
                    .split_once(": (")
                    .map(|(_, r)| r.split(')').next().unwrap())
                {
                    let isluks = DiskQuery::CryptsetupIsLuks(format!("/dev/{name}"));
                    match layout["isLuks_exit"].as_i64() {
                        Some(code) if code != 0 => host.disk_failures.push((isluks, code as i32)),
                        _ => host.disk_answers.push((isluks, String::new())),
                    }
                }
            }
            let status = DiskQuery::CryptsetupStatus(real.to_string());
            match layout["status_exit"].as_i64() {
                Some(code) if code != 0 => host.disk_failures.push((status, code as i32)),
                _ => host.disk_answers.push((status, String::new())),
            }
        }
        host.programs = layout["programs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| p.as_str().unwrap().to_string())
            .collect();
        let mut kit = Kit::debian12().host(host);
        if let Some(keydata) = layout["keydata"].as_str() {
            kit = kit.file("/cc_growpart_keydata", keydata);
        }
        for f in layout["files"].as_array().into_iter().flatten() {
            kit = kit.file(f.as_str().unwrap(), "");
        }
        for d in layout["dirs"].as_array().into_iter().flatten() {
            kit = kit.dir(&format!("/{}", d.as_str().unwrap().trim_start_matches('/')));
        }
        kit.cfg =
            yaml::load(case["config"].to_string().as_bytes(), "case").expect("the case's config");
        kit
    }

    /// The programs 22.4 ran that change something (not the questions it
    /// asks first: `--help`, `--dry-run`, `gpart help`, `dmsetup deps`), and
    /// whether each was forked.
    pub fn changes(case: &serde_json::Value) -> Vec<(Vec<String>, bool)> {
        case["ran"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let argv: Vec<String> = r["argv"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_string())
                    .collect();
                (argv, r["forked"].as_bool().unwrap())
            })
            .filter(|(a, _)| {
                !(a.len() > 1
                    && ["--help", "--dry-run", "help", "deps", "status", "isLuks"]
                        .contains(&a[1].as_str()))
            })
            .collect()
    }

    /// What 22.4 logged that cloudboot says too: not its timings or the
    /// result lines that compare sizes before and after (cloudboot does
    /// not measure them); a failed program's description only up to it.
    pub fn messages(case: &serde_json::Value) -> Vec<String> {
        case["log"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l[1].as_str().unwrap().to_string())
            .filter(|m| !m.contains(" took ") && !m.contains("NOCHANGE: no change necessary"))
            // A failed program is described in cloudboot's words after
            // 22.4's lead-in.
            .map(|m| match m.find("Unexpected error while running command") {
                Some(i) => m[..i].to_string(),
                None => m,
            })
            .collect()
    }
}
