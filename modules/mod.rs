//! cloudboot's modules, one file each, and their registry. A module sees the
//! engine's API (`crate::module::prelude`) only: config and context in,
//! effects out. `shared/` holds code several modules share; it is not a
//! module and not in the registry.
//!
//! # To add a module
//!
//! 1. Write `modules/<name>.rs`: `use crate::module::prelude::*;`, then a
//!    unit struct that implements [`Module`](crate::module::Module), with a
//!    `static INFO: ModuleInfo` (cloud-init's name, aliases, frequency,
//!    activation keys, the keys it reads with their schema, and a one-line
//!    summary).
//! 2. Add one line, `<name>::<Struct>,`, to the [`registry!`] list below. That
//!    line declares the file as a module and registers it.
//! 3. Place it in a stage in `stages.yaml` (cloud-init's `cloud_*_modules`
//!    order), or list it in `tests/registry.rs`'s exceptions with the reason.
//! 4. Run `scripts/readme-lists.sh` so the README's module table lists it.
//!
//! `tests/registry.rs` fails when a registered module is placed in no stage,
//! when stages.yaml names a module cloudboot lacks, or when two modules
//! answer to one name; `tests/readme_lists.rs` fails when the README's table
//! is not the registry's.

pub mod shared;

/// Declares each module file and lists its module in [`all`], from one
/// line per module.
macro_rules! registry {
    ($($file:ident::$module:ident,)*) => {
        $(pub mod $file;)*

        /// Every module cloudboot has, in file-name order (stages.yaml
        /// orders the runs).
        pub fn all() -> &'static [&'static dyn crate::module::prelude::Module] {
            &[$(&$file::$module),*]
        }
    };
}

registry! {
    ansible::Ansible,
    apk_configure::ApkConfigure,
    apt_configure::AptConfigure,
    apt_pipelining::AptPipelining,
    bootcmd::Bootcmd,
    byobu::Byobu,
    ca_certs::CaCerts,
    chef::Chef,
    disable_ec2_metadata::DisableEc2Metadata,
    disk_setup::DiskSetup,
    fan::Fan,
    final_message::FinalMessage,
    growpart::Growpart,
    grub_dpkg::GrubDpkg,
    install_hotplug::InstallHotplug,
    keyboard::Keyboard,
    keys_to_console::KeysToConsole,
    landscape::Landscape,
    locale::Locale,
    lxd::Lxd,
    mcollective::Mcollective,
    migrator::Migrator,
    mounts::Mounts,
    ntp::Ntp,
    package_update_upgrade_install::PackageUpdateUpgradeInstall,
    phone_home::PhoneHome,
    power_state_change::PowerStateChange,
    puppet::Puppet,
    refresh_rmc_and_interface::RefreshRmcAndInterface,
    reset_rmc::ResetRmc,
    resizefs::Resizefs,
    resolv_conf::ResolvConf,
    rh_subscription::RhSubscription,
    rightscale_userdata::RightscaleUserdata,
    rsyslog::Rsyslog,
    runcmd::Runcmd,
    salt_minion::SaltMinion,
    scripts_per_boot::ScriptsPerBoot,
    scripts_per_instance::ScriptsPerInstance,
    scripts_per_once::ScriptsPerOnce,
    scripts_user::ScriptsUser,
    scripts_vendor::ScriptsVendor,
    seed_random::SeedRandom,
    set_hostname::SetHostname,
    set_passwords::SetPasswords,
    snap::Snap,
    spacewalk::Spacewalk,
    ssh::Ssh,
    ssh_authkey_fingerprints::SshAuthkeyFingerprints,
    ssh_import_id::SshImportId,
    timezone::Timezone,
    ubuntu_advantage::UbuntuAdvantage,
    ubuntu_autoinstall::UbuntuAutoinstall,
    ubuntu_drivers::UbuntuDrivers,
    update_etc_hosts::UpdateEtcHosts,
    update_hostname::UpdateHostname,
    users_groups::UsersGroups,
    wireguard::Wireguard,
    write_files::WriteFiles,
    write_files_deferred::WriteFilesDeferred,
    yum_add_repo::YumAddRepo,
    zypper_add_repo::ZypperAddRepo,
}

/// Every module's schema, for checking a whole cloud-config document
/// (`crate::schema::check_document`).
pub fn schemas() -> Vec<&'static [crate::module::prelude::Field]> {
    all().iter().map(|m| m.info().schema).collect()
}

/// The small second-wave modules against 22.4's own handlers.
#[cfg(test)]
mod small_recorded {
    include!("../tests/fixtures/small_modules/recorded.rs");
}
