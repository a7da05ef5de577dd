//! `cloud-init devel hotplug-hook -s net query|handle`: what the udev rule
//! install_hotplug writes calls (through the image's `hook-hotplug` script
//! and cloud-init's hotplug service) when a NIC comes or goes.
//!
//! `query` prints `enabled` or `disabled` as 22.4 does: enabled when the
//! config (the system config merged with the current instance's
//! cloud-config files, as `Init.read_cfg` reads it) lets a `hotplug` event
//! update the network (`updates: {network: {when: [hotplug]}}`); every
//! datasource cloudboot has supports hotplug, and with no cached instance
//! 22.4 falls back to the None datasource, which does too.
//!
//! `handle -d DEVPATH -u add|remove` is 22.4's `handle_hotplug`
//! (`cmd/devel/hotplug_hook.py`): the config, as `query` reads it; nothing
//! to do (exit 0) when hotplug is not enabled; else the cached instance
//! (cloud-init's `obj.pkl`, cloudboot's JSON cache) and up to five
//! attempts, 1, 3, 5, 10 and 30 seconds apart, each of which
//! 1. re-reads the datasource (`update_metadata_if_supported`): the same
//!    datasource, in the stage its class was found in, must answer again;
//! 2. checks the event is in the new metadata (`detect_hotplugged_device`):
//!    for `add`, an interface of the new network config has the NIC's MAC;
//!    for `remove`, none is named as the NIC was (LXD skips this check);
//! 3. renders the datasource's new network config with the distro's
//!    renderer and writes it (`distro.apply_network_config`, no bring-up);
//! 4. brings the NIC up (`add`) or down (`remove`) as 22.4's activator for
//!    that renderer does (`ifup`/`ifdown NIC` for ENI and sysconfig, `netplan
//!    apply`, NetworkManager's `nmcli`, `ip link set up|down NIC` for
//!    networkd); with a root other than `/` this is recorded, not done;
//! 5. writes the updated instance to the cache (`_write_to_cache`).
//!
//! All five failing exits 1 with the last reason (22.4 raises it).
//!
//! Differences from 22.4, each because 22.4's way cannot work:
//! - `remove`: 22.4 identifies the NIC by the MAC it reads from sysfs, which
//!   a removed NIC no longer has (it compares with `None`); cloudboot asks
//!   whether the new config still names the NIC.
//! - `remove`: the bring-down of a NIC that is already gone from
//!   `/sys/class/net` may fail (`ifdown` of a vanished device); that is not
//!   an error.
//! - networkd: `networkctl reload` before `ip link set up`, so networkd
//!   reads the `.network` file just written (22.4's activator only sets the
//!   link up, and networkd keeps the old files).
//! - No cached instance, or the None datasource's (no metadata to re-read):
//!   exits 1 at once where 22.4 retries for 49 seconds and fails the same.

use std::path::Path;
use std::time::Duration;

use crate::datasource::events::network_event_enabled;
use crate::datasource::{self, DsContext, Instance};
use crate::effect::{Data, Effect, HostAction, Outcome};
use crate::net::apply::{datasource_config, render_config, NetPlan};
use crate::paths::Paths;
use crate::rootfs::{FsView, Root};
use crate::schedule::Stage;
use crate::sysnet::SysNet;
use crate::target::{apply_all, LiveTarget, Target};
use crate::userdata::{read_cloud_config, Kind};
use crate::value::Value;

/// `hotplug-hook -s net query`: prints the answer, returns the exit code.
pub fn query(fs: &dyn FsView, paths: &Paths) -> i32 {
    let cfg = config(fs, paths);
    println!(
        "{}",
        if network_event_enabled(&cfg, "hotplug") {
            "enabled"
        } else {
            "disabled"
        }
    );
    0
}

/// What udev says happened (`--udevaction`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Add,
    Remove,
}

impl Action {
    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "add" => Some(Action::Add),
            "remove" => Some(Action::Remove),
            _ => None,
        }
    }
}

/// 22.4's `wait_times`: the pause after each failed attempt.
pub const WAIT_TIMES: [u64; 5] = [1, 3, 5, 10, 30];

/// `hotplug-hook -s net handle -d DEVPATH -u ACTION` against `root`:
/// returns the exit code.
pub fn handle(root: &Root, paths: &Paths, devpath: &str, action: Action) -> i32 {
    let mut target = LiveTarget::new(
        root.clone(),
        crate::exec::Runner::new(root.clone(), None, false),
    );
    match handle_with(&mut target, paths, devpath, action, &|s| {
        std::thread::sleep(Duration::from_secs(s))
    }) {
        Ok(Handled::NotEnabled) => {
            tracing::info!("hotplug not enabled for event of type net");
            0
        }
        Ok(Handled::Applied(lines)) => {
            for l in lines {
                tracing::info!("hotplug: {l}");
            }
            0
        }
        Err(e) => {
            eprintln!("Received fatal exception handling hotplug! {e}");
            1
        }
    }
}

/// What [`handle_with`] did.
#[derive(Debug, PartialEq)]
pub enum Handled {
    /// Hotplug is not enabled for the network: nothing done.
    NotEnabled,
    /// The new config written and the NIC brought up or down; what was
    /// noted on the way.
    Applied(Vec<String>),
}

/// [`handle`] against any target, `sleep` waiting the seconds between
/// attempts (a test's does not).
pub fn handle_with(
    target: &mut dyn Target,
    paths: &Paths,
    devpath: &str,
    action: Action,
    sleep: &dyn Fn(u64),
) -> Result<Handled, String> {
    let cfg = config(target.fs(), paths);
    // Before the datasource: no datasource's default events have hotplug,
    // so the config alone decides (22.4 asks after its `fetch`, which with
    // no cache finds the None datasource).
    if !network_event_enabled(&cfg, "hotplug") {
        return Ok(Handled::NotEnabled);
    }
    let Some(cached) = datasource::load_cache(target.fs(), paths) else {
        return Err(
            "no cached datasource (no boot has found one): nothing to re-read metadata from".into(),
        );
    };
    if cached.disconnected {
        return Err(format!(
            "the datasource {} has no metadata to re-read",
            cached.description
        ));
    }
    let nic = Path::new(devpath)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| format!("{devpath}: not a device path"))?;
    // `NetHandler`'s id: the NIC's MAC, read while udev handles the event.
    let mac = SysNet::read(target.fs())
        .get(&nic)
        .and_then(|i| i.address.clone())
        .map(|m| m.to_lowercase());
    let mut last = String::from("Bug while processing hotplug event.");
    for (attempt, wait) in WAIT_TIMES.iter().enumerate() {
        tracing::debug!(
            "subsystem=net update attempt {attempt}/{}",
            WAIT_TIMES.len()
        );
        match attempt_once(target, paths, &cfg, &cached, &nic, mac.as_deref(), action) {
            Ok(lines) => return Ok(Handled::Applied(lines)),
            Err(e) => {
                tracing::debug!("Exception while processing hotplug event. {e}");
                last = e;
                sleep(*wait);
            }
        }
    }
    Err(last)
}

/// One attempt: re-read, detect, render and write, bring up or down, cache.
fn attempt_once(
    target: &mut dyn Target,
    paths: &Paths,
    cfg: &Value,
    cached: &Instance,
    nic: &str,
    mac: Option<&str>,
    action: Action,
) -> Result<Vec<String>, String> {
    let instance = update_metadata(target, paths, cached)?;
    let fs = target.fs();
    let sys = SysNet::read(fs);
    let macs = sys
        .interfaces_by_mac(&[])
        .map(|b| b.macs)
        .map_err(|e| e.to_string())?;
    let mut plan = NetPlan::default();
    let net_cfg = datasource_config(&instance, &macs, &mut plan).ok_or_else(|| {
        let why = plan.errors.join("; ");
        format!(
            "Datasource {} has no network config{}",
            instance.description,
            if why.is_empty() {
                String::new()
            } else {
                format!(": {why}")
            }
        )
    })?;
    // LXD's `skip_hotplug_detect`: its metadata may not show the device.
    if instance.dsname != "LXD" {
        detect(&net_cfg, &macs, nic, mac, action)?;
    }
    let release = crate::distro::OsRelease::read(fs);
    let Some(written) = render_config(fs, &release, cfg, &net_cfg, &macs, "ds", &mut plan) else {
        return Err(plan.errors.join("; "));
    };
    let renderer = written.choice.name;
    let mut effects = std::mem::take(&mut plan.effects);
    let applied = apply_all(target, &effects);
    if !applied.errors.is_empty() {
        return Err(applied.errors.join("; "));
    }
    // The activator, once the files are there.
    effects.clear();
    let argvs = activator(renderer, nic, action);
    for argv in &argvs {
        effects.push(Effect::Host(HostAction {
            what: format!(
                "bring {} {nic}: {}",
                if action == Action::Add { "up" } else { "down" },
                argv.join(" ")
            ),
            argv: argv.clone(),
        }));
    }
    let brought = apply_all(target, &effects);
    let mut lines = plan.notes;
    for r in &brought.records {
        if let Outcome::NotRun(why) = &r.outcome {
            lines.push(format!("{}: {why}", r.summary));
        }
    }
    if !brought.errors.is_empty() {
        let gone = !target
            .fs()
            .exists(&Path::new(crate::sysnet::SYS_CLASS_NET).join(nic));
        match action {
            Action::Add => {
                return Err(format!(
                    "Failed to bring up device: {nic} ({})",
                    brought.errors.join("; ")
                ))
            }
            Action::Remove if !gone => {
                return Err(format!(
                    "Failed to bring down device: {nic} ({})",
                    brought.errors.join("; ")
                ))
            }
            Action::Remove => lines.push(format!(
                "{nic} is gone already; its bring-down failed: {}",
                brought.errors.join("; ")
            )),
        }
    }
    // `_write_to_cache`: the instance as it is now.
    let cache = apply_all(
        target,
        &[Effect::write(
            datasource::cache_path(paths),
            Data::secret(instance.to_cache_json()),
            0o600,
        )],
    );
    if !cache.errors.is_empty() {
        return Err(cache.errors.join("; "));
    }
    lines.push(format!(
        "{} {nic}: network config from {} written with the {renderer} renderer",
        if action == Action::Add {
            "added"
        } else {
            "removed"
        },
        instance.description
    ));
    Ok(lines)
}

/// `update_metadata_if_supported([HOTPLUG])`: the cached instance's
/// datasource read again, in the stage whose class it was found as (the
/// stage map's lists; a datasource searched in both is tried as its class
/// name says, then in the other). Every datasource cloudboot has supports
/// the hotplug event (22.4's base class does).
fn update_metadata(
    target: &dyn Target,
    paths: &Paths,
    cached: &Instance,
) -> Result<Instance, String> {
    let not_updated = || {
        format!(
            "Datasource {} not updated for event hotplug",
            cached.description
        )
    };
    let ds = datasource::by_name(&cached.dsname).ok_or_else(not_updated)?;
    let system = crate::config::load_system(target.fs()).cfg;
    let map = crate::stages::StageMap::builtin();
    let listed = |s: Stage| map.stage(s).datasources.contains(&cached.dsname);
    // The class name says the stage: `...Local` and `...Net` classes, and
    // NoCloud's and OVF's local classes, which have no suffix (the other
    // datasources' network classes have none either).
    let c = &cached.class_name;
    let local_first = c.ends_with("Local")
        || (!c.ends_with("Net") && matches!(cached.dsname.as_str(), "NoCloud" | "OVF"));
    let stages = if local_first {
        [Stage::Local, Stage::Network]
    } else {
        [Stage::Network, Stage::Local]
    };
    let mut first = None;
    for stage in stages {
        if !listed(stage) {
            continue;
        }
        let ctx = DsContext::new(target.fs(), target.root(), paths, &system, stage);
        let found = ds.get(&ctx);
        for p in &found.problems {
            tracing::warn!("{p}");
        }
        match found.instance {
            Some(i) if i.class_name == cached.class_name => return Ok(i),
            Some(i) => {
                first.get_or_insert(i);
            }
            None => {}
        }
    }
    first.ok_or_else(not_updated)
}

/// `detect_hotplugged_device`: the event must be in the new metadata.
fn detect(
    net_cfg: &Value,
    macs: &std::collections::HashMap<String, String>,
    nic: &str,
    mac: Option<&str>,
    action: Action,
) -> Result<(), String> {
    let state = crate::net::state::NetworkState::parse(net_cfg, macs).map_err(|e| e.0)?;
    match action {
        Action::Add => {
            let mac = mac.ok_or_else(|| format!("{nic}: no MAC address in /sys/class/net"))?;
            let found = state
                .interfaces
                .iter()
                .any(|i| i.mac().is_some_and(|m| m.eq_ignore_ascii_case(mac)));
            if !found {
                return Err(format!("Failed to detect {mac} in updated metadata"));
            }
        }
        Action::Remove => {
            if state.interfaces.iter().any(|i| i.name() == nic) {
                return Err(format!("Failed to detect {nic} in updated metadata"));
            }
        }
    }
    Ok(())
}

/// 22.4's activator commands (`cloudinit/net/activators.py`) for the
/// renderer cloudboot chose: `bring_up_interface` or `bring_down_interface`.
pub fn activator(renderer: &str, nic: &str, action: Action) -> Vec<Vec<String>> {
    let argv = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<String>>();
    let up = action == Action::Add;
    match renderer {
        "netplan" => vec![argv(&["netplan", "apply"])],
        "networkd" if up => vec![
            argv(&["networkctl", "reload"]),
            argv(&["ip", "link", "set", "up", nic]),
        ],
        "networkd" => vec![argv(&["ip", "link", "set", "down", nic])],
        "network-manager" if up => {
            let file =
                format!("/etc/NetworkManager/system-connections/cloud-init-{nic}.nmconnection");
            vec![
                argv(&["nmcli", "connection", "load", &file]),
                argv(&["nmcli", "connection", "up", "filename", &file]),
            ]
        }
        "network-manager" => vec![argv(&["nmcli", "device", "disconnect", nic])],
        // ENI, and sysconfig's initscripts, which have their own ifup.
        _ if up => vec![argv(&["ifup", nic])],
        _ => vec![argv(&["ifdown", nic])],
    }
}

/// The system config with the current instance's cloud-config merged
/// over it (user over vendor2 over vendor), problems logged.
fn config(fs: &dyn FsView, paths: &Paths) -> Value {
    let system = crate::config::load_system(fs);
    for p in &system.problems {
        tracing::warn!("{p}");
    }
    let iid = fs
        .read_string(&paths.data("instance-id"))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let Some(iid) = iid else {
        return system.cfg;
    };
    let mut problems = Vec::new();
    let mut read = |kind| read_cloud_config(fs, paths, &iid, kind, &mut problems);
    let (user, v1, v2) = (read(Kind::User), read(Kind::Vendor), read(Kind::Vendor2));
    for p in &problems {
        tracing::warn!("{p}");
    }
    crate::config::merged(&[], &user, &v2, &v1, &system.cfg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn yaml(t: &str) -> Value {
        crate::yaml::load(t.as_bytes(), "t").unwrap()
    }

    #[test]
    fn activators_as_22_4_has_them() {
        let up = |r| activator(r, "eth1", Action::Add);
        let down = |r| activator(r, "eth1", Action::Remove);
        assert_eq!(up("eni"), [["ifup", "eth1"]]);
        assert_eq!(down("eni"), [["ifdown", "eth1"]]);
        assert_eq!(up("sysconfig"), [["ifup", "eth1"]]);
        assert_eq!(up("netplan"), [["netplan", "apply"]]);
        assert_eq!(down("netplan"), [["netplan", "apply"]]);
        assert_eq!(
            up("networkd"),
            vec![
                vec!["networkctl", "reload"],
                vec!["ip", "link", "set", "up", "eth1"]
            ]
        );
        assert_eq!(down("networkd"), [["ip", "link", "set", "down", "eth1"]]);
        assert_eq!(
            up("network-manager")[1],
            [
                "nmcli",
                "connection",
                "up",
                "filename",
                "/etc/NetworkManager/system-connections/cloud-init-eth1.nmconnection"
            ]
        );
        assert_eq!(
            down("network-manager"),
            [["nmcli", "device", "disconnect", "eth1"]]
        );
    }

    #[test]
    fn detection_by_mac_for_add_and_by_name_for_remove() {
        let cfg = yaml(
            "version: 1\nconfig:\n- {type: physical, name: eth0, mac_address: 'FA:16:3E:00:00:10', subnets: [{type: dhcp}]}\n",
        );
        let macs = Default::default();
        assert_eq!(
            detect(&cfg, &macs, "eth0", Some("fa:16:3e:00:00:10"), Action::Add),
            Ok(())
        );
        assert_eq!(
            detect(&cfg, &macs, "eth1", Some("fa:16:3e:00:00:11"), Action::Add),
            Err("Failed to detect fa:16:3e:00:00:11 in updated metadata".into())
        );
        assert_eq!(detect(&cfg, &macs, "eth1", None, Action::Remove), Ok(()));
        assert_eq!(
            detect(&cfg, &macs, "eth0", None, Action::Remove),
            Err("Failed to detect eth0 in updated metadata".into())
        );
    }

    /// A booted root whose metadata never names the new NIC: five attempts,
    /// 22.4's waits between them, the last reason returned, nothing written.
    #[test]
    fn five_attempts_then_the_last_reason() {
        let dir = tempfile::tempdir().unwrap();
        let w = |p: &str, t: &str| {
            let p = dir.path().join(p.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, t).unwrap();
        };
        w(
            "/var/lib/cloud/seed/nocloud/meta-data",
            "instance-id: iid-hp\n",
        );
        w(
            "/var/lib/cloud/seed/nocloud/user-data",
            "#cloud-config\n{}\n",
        );
        w(
            "/var/lib/cloud/seed/nocloud/network-config",
            "version: 2\nethernets: {eth0: {dhcp4: true}}\n",
        );
        w(
            "/etc/cloud/cloud.cfg.d/90-hotplug.cfg",
            "updates: {network: {when: [hotplug]}}\n",
        );
        w("/sys/class/net/eth1/address", "52:54:00:00:00:11\n");
        w("/var/lib/cloud/data/instance-id", "iid-hp\n");
        let root = Root::new(dir.path());
        let fs = crate::rootfs::RealFs { root: root.clone() };
        let paths = Paths::default();
        let cfg = crate::config::load_system(&fs).cfg;
        let ctx = DsContext::new(&fs, &root, &paths, &cfg, Stage::Local);
        let found = crate::datasource::by_name("NoCloud").unwrap().get(&ctx);
        let instance = found.instance.expect("the seed is found");
        w(
            "/var/lib/cloud/instances/iid-hp/cloudboot-datasource.json",
            &String::from_utf8(instance.to_cache_json()).unwrap(),
        );
        std::os::unix::fs::symlink(
            "/var/lib/cloud/instances/iid-hp",
            dir.path().join("var/lib/cloud/instance"),
        )
        .unwrap();
        let mut target = LiveTarget::new(
            root.clone(),
            crate::exec::Runner::new(root.clone(), None, false),
        );
        let slept = RefCell::new(Vec::new());
        let got = handle_with(
            &mut target,
            &paths,
            "/devices/virtual/net/eth1",
            Action::Add,
            &|s| slept.borrow_mut().push(s),
        );
        assert_eq!(
            got,
            Err("Failed to detect 52:54:00:00:00:11 in updated metadata".into())
        );
        assert_eq!(*slept.borrow(), WAIT_TIMES);
        assert!(!dir.path().join("etc/network").exists());
        // Not enabled: nothing at all, at once.
        w("/etc/cloud/cloud.cfg.d/90-hotplug.cfg", "{}\n");
        let got = handle_with(
            &mut target,
            &paths,
            "/devices/virtual/net/eth1",
            Action::Add,
            &|_| panic!("no wait"),
        );
        assert_eq!(got, Ok(Handled::NotEnabled));
    }
}
