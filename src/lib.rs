//! cloudboot: cloud-init, rebuilt as one fast binary.
//!
//! The shape (see ARCHITECTURE.md): a datasource yields an [`datasource::Instance`];
//! the [`boot::Engine`] walks the four stages of [`stages::StageMap`]; each
//! module ([`module::Module`], one file each under `modules/`) turns config
//! into [`effect::Effect`]s; a [`target::Target`] applies them (live) or
//! records them on an overlay ([`plan::PlanTarget`]). State lives where
//! cloud-init keeps it ([`paths`], [`semaphore`], [`status`]).

pub mod alloc;
pub mod analyze;
pub mod argparse;
pub mod base64;
pub mod bigint;
pub mod blockdev;
pub mod blockfs;
pub mod boot;
pub mod clean;
pub mod cli;
pub mod cloud_id;
pub mod collect_logs;
pub mod config;
pub mod datasource;
pub mod devel;
pub mod dhclient_hook;
pub mod diff;
pub mod distro;
pub mod docs;
pub mod doctor;
pub mod effect;
pub mod events;
pub mod exec;
pub mod features;
pub mod fingerprints;
pub mod host;
pub mod hotplug;
pub mod http;
pub mod install;
pub mod instance_data;
pub mod instance_state;
pub mod jinja;
pub mod jsonpatch;
pub mod logging;
pub mod make_mime;
pub mod md5;
pub mod merge;
pub mod mime;
pub mod module;
pub mod module_runner;
#[path = "../modules/mod.rs"]
pub mod modules;
pub mod net;
pub mod net_convert;
pub mod paths;
pub mod per;
pub mod plan;
pub mod py;
pub mod query;
pub mod render;
pub mod report;
pub mod rootfs;
pub mod schedule;
pub mod schema;
pub mod seal;
pub mod semaphore;
pub mod sha1;
pub mod sha256;
pub mod single;
pub mod stages;
pub mod status;
pub mod sysnet;
pub mod tar;
pub mod target;
pub mod templater;
pub mod userdata;
pub mod uuid;
pub mod value;
pub mod yaml;

/// The test suite's one skip mechanism (a missing prerequisite says so in
/// a line `cargo test` shows), shared with the integration tests.
#[cfg(test)]
#[path = "../tests/common/skip.rs"]
mod skip;

/// The cloud-init release whose behaviour cloudboot reproduces (a macro so
/// that [`VERSION_STRING`] is built from it at compile time).
macro_rules! cloud_init_version {
    () => {
        "22.4.2"
    };
}

/// The cloud-init release whose behaviour cloudboot reproduces.
pub const CLOUD_INIT_VERSION: &str = cloud_init_version!();

/// The version cloudboot gives as cloud-init's: `--version`, the welcome
/// and final messages (`Cloud-init v. ...`), file headers.
///
/// One word, in the shape distributions give cloud-init's packaged version
/// (Debian `22.4.2-1`, Ubuntu `24.1.3-0ubuntu1~22.04.1`, RHEL `23.4-7.el9`):
/// the upstream version it is compatible with, then `-` and cloudboot's own.
/// Scripts take the version as `awk '{print $2}'` or `awk '{print $NF}'`
/// (so the line has exactly two words), match `\d+\.\d+(\.\d+)?` or cut at
/// the first `-`: each of them gets 22.4.2 here, as on a packaged
/// cloud-init, while a person reading it sees cloudboot.
pub const VERSION_STRING: &str = concat!(
    cloud_init_version!(),
    "-cloudboot",
    env!("CARGO_PKG_VERSION")
);
