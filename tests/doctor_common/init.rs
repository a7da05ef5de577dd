//! How the image boots: each problem put into a clean image by one function.

use crate::common::Machine;

use super::{executable, sysv_service};

/// CentOS 6 as cloud-init 0.7.5's package and a later NetworkManager left
/// it: cloud-init's four scripts enabled at S50-S53 and NetworkManager at
/// S23, before the local stage (cloudboot's own scripts taken out, so that
/// cloud-init's local stage is the one that matters).
pub fn add_network_before_local(m: &Machine) {
    remove_cloudboot_services(m);
    executable(m, "/usr/sbin/NetworkManager", "#!/bin/sh\n");
    sysv_service(m, "NetworkManager", 23, 84);
    for (i, name) in [
        "cloud-init-local",
        "cloud-init",
        "cloud-config",
        "cloud-final",
    ]
    .iter()
    .enumerate()
    {
        sysv_service(m, name, 50 + i as u8, 50 - i as u8);
    }
}

/// cloud-init's four SysV scripts enabled beside cloudboot's (a cloud-init
/// package installed or updated after `cloudboot install`).
pub fn add_both_enabled(m: &Machine) {
    for (name, start, stop) in [
        ("cloud-init-local", 8, 92),
        ("cloud-init", 25, 75),
        ("cloud-config", 26, 74),
        ("cloud-final", 98, 2),
    ] {
        sysv_service(m, name, start, stop);
    }
}

/// A cloud.cfg.d file that trims the final modules and drops scripts-user.
pub fn add_scripts_user_missing(m: &Machine) {
    m.write(
        "/etc/cloud/cloud.cfg.d/50-trimmed.cfg",
        "# trimmed by the image builder\n\
         cloud_final_modules:\n - scripts-per-once\n - scripts-per-boot\n \
         - scripts-per-instance\n - [phone-home, always]\n - final-message\n",
    );
}

/// A datasource_list with a name cloud-init does not know (`EC2`) and two
/// network datasources that wait before ConfigDrive.
pub fn add_datasource_list(m: &Machine) {
    m.write(
        "/etc/cloud/cloud.cfg.d/10-datasources.cfg",
        "datasource_list: [ EC2, CloudStack, Ec2, ConfigDrive, None ]\n",
    );
}

/// The removal of cloudboot's four SysV scripts and their links.
fn remove_cloudboot_services(m: &Machine) {
    for name in [
        "cloudboot-local",
        "cloudboot",
        "cloudboot-config",
        "cloudboot-final",
    ] {
        let _ = std::fs::remove_file(m.path(&format!("/etc/rc.d/init.d/{name}")));
        for level in 0..=6 {
            let dir = m.path(&format!("/etc/rc.d/rc{level}.d"));
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let f = e.file_name().to_string_lossy().into_owned();
                if f.trim_start_matches(['S', 'K'])
                    .trim_start_matches(|c: char| c.is_ascii_digit())
                    == name
                {
                    std::fs::remove_file(e.path()).unwrap();
                }
            }
        }
    }
}

/// The file a template gets when its network was set up by hand.
pub fn add_network_config_disabled(m: &Machine) {
    m.write(
        "/etc/cloud/cloud.cfg.d/99-disable-network-config.cfg",
        "# set up by hand: cloud-init, keep out\nnetwork: {config: disabled}\n",
    );
}
