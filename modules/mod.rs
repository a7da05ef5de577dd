//! cloudboot's modules, one file each. A module sees the engine's API
//! (`crate::module`) only: config and context in, effects out.

pub mod bootcmd;
pub mod final_message;
pub mod mounts;
pub mod phone_home;
pub mod power_state_change;
pub mod resolv_conf;
pub mod runcmd;
pub mod scripts_per_boot;
pub mod scripts_per_instance;
pub mod scripts_per_once;
pub mod scripts_user;
pub mod scripts_vendor;
pub mod set_hostname;
pub mod set_passwords;
pub mod ssh;
pub mod ssh_authkey_fingerprints;
pub mod update_etc_hosts;
pub mod update_hostname;
pub mod users_groups;
pub mod write_files;
pub mod write_files_deferred;

use crate::module::Module;

/// Every module cloudboot has, in no particular order (stages.yaml orders them).
pub fn all() -> &'static [&'static dyn Module] {
    &[
        &write_files::WriteFiles,
        &write_files_deferred::WriteFilesDeferred,
        &runcmd::Runcmd,
        &bootcmd::Bootcmd,
        &resolv_conf::ResolvConf,
        &mounts::Mounts,
        &scripts_vendor::ScriptsVendor,
        &scripts_per_once::ScriptsPerOnce,
        &scripts_per_boot::ScriptsPerBoot,
        &scripts_per_instance::ScriptsPerInstance,
        &scripts_user::ScriptsUser,
        &final_message::FinalMessage,
        &power_state_change::PowerStateChange,
        &set_passwords::SetPasswords,
        &set_hostname::SetHostname,
        &update_hostname::UpdateHostname,
        &update_etc_hosts::UpdateEtcHosts,
        &users_groups::UsersGroups,
        &ssh::Ssh,
        &ssh_authkey_fingerprints::SshAuthkeyFingerprints,
        &phone_home::PhoneHome,
    ]
}
