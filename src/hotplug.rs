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
//! `handle` (re-reading the metadata and bringing the new NIC up) is not
//! done by cloudboot yet: it says so and exits 1, so udev logs the failure.

use crate::datasource::events::network_event_enabled;
use crate::paths::Paths;
use crate::rootfs::FsView;
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

/// `hotplug-hook -s net handle ...`: not supported yet.
pub fn handle() -> i32 {
    eprintln!(
        "cloudboot does not handle hotplug events yet (only `devel hotplug-hook -s net query`)"
    );
    1
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
