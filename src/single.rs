//! `cloud-init single --name MODULE [--frequency F] [--report]`: what it
//! says around the engine's run of one module (`Engine::single`), as
//! 22.4's `main_single` decides its exit code:
//!
//! - the module ran, or its semaphore says it already ran: 0 (22.4 counts
//!   both as run: `which_ran` holds it);
//! - it failed: 1, with 22.4's warning `Ran NAME but it failed!`;
//! - no such module: 1, `Did not run NAME, does it exist?`;
//! - a module cloud-init 22.4 has and cloudboot does not implement yet: 1,
//!   saying exactly that (22.4 would have run it).
//!
//! 22.4 itself prints nothing when a module runs (its log has it);
//! cloudboot adds one line on stderr saying what happened and why (ran,
//! skipped: already ran per its semaphore, failed), so a person at a shell
//! sees it; stdout stays the module's own output.
//!
//! `--report` turns on the reporting events 22.4 then writes to the log
//! (`start:`/`finish: single/NAME/config-NAME: ...`, `finish: single/NAME:
//! SUCCESS: running single module NAME`): [`crate::events::begin_single`].

use crate::module::normalize_name;
use crate::report::{ModResult, StageReport};

/// The modules cloud-init 22.4 ships (`cloudinit/config/cc_*.py`; the list
/// is checked against the installed cloud-init by a test where it is
/// there).
pub const CLOUD_INIT_MODULES: [&str; 62] = [
    "ansible",
    "apk_configure",
    "apt_configure",
    "apt_pipelining",
    "bootcmd",
    "byobu",
    "ca_certs",
    "chef",
    "disable_ec2_metadata",
    "disk_setup",
    "fan",
    "final_message",
    "growpart",
    "grub_dpkg",
    "install_hotplug",
    "keyboard",
    "keys_to_console",
    "landscape",
    "locale",
    "lxd",
    "mcollective",
    "migrator",
    "mounts",
    "ntp",
    "package_update_upgrade_install",
    "phone_home",
    "power_state_change",
    "puppet",
    "refresh_rmc_and_interface",
    "reset_rmc",
    "resizefs",
    "resolv_conf",
    "rh_subscription",
    "rightscale_userdata",
    "rsyslog",
    "runcmd",
    "salt_minion",
    "scripts_per_boot",
    "scripts_per_instance",
    "scripts_per_once",
    "scripts_user",
    "scripts_vendor",
    "seed_random",
    "set_hostname",
    "set_passwords",
    "snap",
    "spacewalk",
    "ssh",
    "ssh_authkey_fingerprints",
    "ssh_import_id",
    "timezone",
    "ubuntu_advantage",
    "ubuntu_autoinstall",
    "ubuntu_drivers",
    "update_etc_hosts",
    "update_hostname",
    "users_groups",
    "wireguard",
    "write_files",
    "write_files_deferred",
    "yum_add_repo",
    "zypper_add_repo",
];

/// For a module cloud-init 22.4 has and cloudboot does not: what to say
/// instead of running it. `None` for a module cloudboot has, or one
/// neither has (the engine says `Did not run NAME, does it exist?`).
pub fn not_implemented(name: &str) -> Option<String> {
    if crate::stages::lookup(name).is_some() {
        return None;
    }
    let canonical = normalize_name(name);
    CLOUD_INIT_MODULES.contains(&canonical.as_str()).then(|| {
        format!(
            "Did not run {name}: cloud-init 22.4's module cc_{canonical} is not \
             implemented by cloudboot yet"
        )
    })
}

/// Says what the run did and returns the exit code: the engine's, which is
/// 22.4's (1 when the module failed or was not found, else 0).
pub fn report(name: &str, code: i32, report: &StageReport) -> i32 {
    // Not run at all (no datasource, no such module): the engine said why
    // where it found it.
    if let Some(m) = report.modules.first() {
        match m.result {
            ModResult::Ran => eprintln!("single {name}: ran ({})", m.reason),
            ModResult::Skipped => eprintln!("single {name}: skipped ({})", m.reason),
            ModResult::Failed => {
                tracing::warn!("Ran {name} but it failed!");
                eprintln!(
                    "single {name}: failed ({})",
                    if m.errors.is_empty() {
                        m.reason.clone()
                    } else {
                        m.errors.join("; ")
                    }
                );
            }
        }
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_cloud_init_has_and_cloudboot_lacks_are_named() {
        let e = not_implemented("cc_ubuntu-autoinstall").unwrap();
        assert_eq!(
            e,
            "Did not run cc_ubuntu-autoinstall: cloud-init 22.4's module cc_ubuntu_autoinstall is not \
             implemented by cloudboot yet"
        );
        assert_eq!(not_implemented("runcmd"), None);
        assert_eq!(not_implemented("cc_runcmd.py"), None);
        assert_eq!(not_implemented("no_such_module"), None);
    }

    /// The list is 22.4's, where the installed cloud-init can say so.
    #[test]
    fn the_list_is_cloud_inits() {
        let dir = std::path::Path::new("/usr/lib/python3/dist-packages/cloudinit/config");
        if !crate::skip::require_for(
            "the comparison with cloud-init 22.4's module list",
            &[crate::skip::Need::File(
                "/usr/lib/python3/dist-packages/cloudinit/config/cc_runcmd.py",
                "cloud-init",
            )],
        ) {
            return;
        }
        let mut installed: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| {
                let n = e.unwrap().file_name().to_string_lossy().into_owned();
                Some(n.strip_prefix("cc_")?.strip_suffix(".py")?.to_string())
            })
            .collect();
        installed.sort();
        assert_eq!(installed, CLOUD_INIT_MODULES);
    }
}
