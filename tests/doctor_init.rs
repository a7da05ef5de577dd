//! doctor and seal on how an image boots: the network service before the
//! local stage, cloud-init and cloudboot both enabled, scripts-user missing,
//! a datasource_list that waits in vain, cloud-init disabled.

mod common;
mod doctor_common;

use common::Machine;
use doctor_common::init::*;
use doctor_common::{assert_clean, centos6, doctor, executable, findings, ids, seal, tree_state};

/// doctor finds `id` alone; `seal --dry-run` changes nothing and says it
/// would fix it; `seal` fixes it; doctor is clean after. Returns what
/// seal --dry-run printed.
fn found_and_sealed(m: &Machine, id: &str, extra: &[&str]) -> String {
    let (code, report) = doctor(m, extra);
    assert_eq!(
        (code, ids(&report)),
        (1, vec![id.to_string()]),
        "{report:#}"
    );
    assert_eq!(findings(&report, id)[0]["sealable"], true, "{report:#}");
    let before = tree_state(m.root());
    let mut args = vec!["--dry-run"];
    args.extend_from_slice(extra);
    let (code, plan) = seal(m, &args);
    assert_eq!(code, 0, "{plan}");
    assert!(plan.contains(&format!("would fix [{id}]")), "{plan}");
    assert_eq!(
        tree_state(m.root()),
        before,
        "seal --dry-run changed the image"
    );
    let (code, out) = seal(m, extra);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("fixed [{id}]")), "{out}");
    assert_clean(m, extra);
    plan
}

fn links(m: &Machine, level: u8) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(m.path(&format!("/etc/rc.d/rc{level}.d")))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn networkmanager_before_cloud_init_local_is_found_and_the_local_stage_moved_before_it() {
    let m = centos6();
    add_network_before_local(&m);
    let (_, report) = doctor(&m, &[]);
    let f = &findings(&report, "network-before-local")[0];
    let evidence: Vec<&str> = f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["file"].as_str().unwrap())
        .collect();
    assert_eq!(
        evidence,
        [
            "/etc/rc.d/rc3.d/S10network",
            "/etc/rc.d/rc3.d/S23NetworkManager",
            "/etc/rc.d/rc3.d/S50cloud-init-local"
        ]
    );
    let plan = found_and_sealed(&m, "network-before-local", &[]);
    assert!(
        plan.contains("/etc/rc.d/rc3.d/S07cloud-init-local"),
        "{plan}"
    );
    for level in [2, 3, 4, 5] {
        let l = links(&m, level);
        assert!(l.contains(&"S07cloud-init-local".to_string()), "{l:?}");
        assert!(!l.iter().any(|n| n == "S50cloud-init-local"), "{l:?}");
        // The network stage still starts after the network is up.
        assert!(l.contains(&"S51cloud-init".to_string()), "{l:?}");
    }
    assert_eq!(
        std::fs::read_link(m.path("/etc/rc.d/rc3.d/S07cloud-init-local")).unwrap(),
        std::path::Path::new("../init.d/cloud-init-local")
    );
}

#[test]
fn cloud_init_enabled_beside_cloudboot_is_turned_off() {
    let m = centos6();
    add_both_enabled(&m);
    found_and_sealed(&m, "two-tools-enabled", &[]);
    let l = links(&m, 3);
    assert!(
        !l.iter().any(|n| n.starts_with('S') && n.contains("cloud-")),
        "{l:?}"
    );
    assert!(l.contains(&"K92cloud-init-local".to_string()), "{l:?}");
    assert!(l.contains(&"S07cloudboot-local".to_string()), "{l:?}");
}

#[test]
fn scripts_user_missing_is_added_back_after_scripts_per_instance() {
    let m = centos6();
    add_scripts_user_missing(&m);
    let (_, report) = doctor(&m, &[]);
    let e = &findings(&report, "scripts-user-missing")[0]["evidence"][0];
    assert_eq!(e["file"], "/etc/cloud/cloud.cfg.d/50-trimmed.cfg");
    assert_eq!(e["line"], 2);
    found_and_sealed(&m, "scripts-user-missing", &[]);
    let cfg = m.read("/etc/cloud/cloud.cfg.d/99-cloudboot-seal-scripts-user.cfg");
    let at = |s: &str| cfg.find(s).unwrap_or_else(|| panic!("{s} in {cfg}"));
    assert!(
        at("- scripts-per-instance\n") < at("- scripts-user\n")
            && at("- scripts-user\n") < at("phone-home"),
        "{cfg}"
    );
    assert!(cfg.contains("-   - phone-home\n    - always\n"), "{cfg}");
    // The image's own files are as they were.
    assert!(m
        .read("/etc/cloud/cloud.cfg.d/50-trimmed.cfg")
        .contains("trimmed"));
}

#[test]
fn a_datasource_list_with_an_unknown_name_is_fixed_and_with_cloud_set_to_the_new_clouds() {
    let m = centos6();
    add_datasource_list(&m);
    // Without --cloud: the unknown name (sealable), and the waits (not).
    let (code, report) = doctor(&m, &[]);
    assert_eq!(code, 1);
    let f = findings(&report, "datasource-wait");
    assert_eq!(f.len(), 2, "{report:#}");
    assert!(
        f[0]["title"].as_str().unwrap().contains("'EC2'"),
        "{report:#}"
    );
    assert!(
        f[0]["title"].as_str().unwrap().contains("EC2 is Ec2"),
        "{report:#}"
    );
    assert_eq!(f[1]["sealable"], false);
    assert!(
        f[1]["breaks"].as_str().unwrap().contains("up to 240 s"),
        "{report:#}"
    );
    assert_eq!(
        f[0]["evidence"][0]["file"],
        "/etc/cloud/cloud.cfg.d/10-datasources.cfg"
    );
    assert_eq!(f[0]["evidence"][0]["line"], 1);
    // With the new cloud named, seal sets the list to it.
    found_and_sealed(&m, "datasource-wait", &["--cloud", "ConfigDrive"]);
    assert!(m
        .read("/etc/cloud/cloud.cfg.d/99-cloudboot-seal-datasource.cfg")
        .contains("datasource_list: [ConfigDrive, None]\n"));
}

#[test]
fn a_cloud_the_list_does_not_name_is_an_error() {
    let m = centos6();
    m.write(
        "/etc/cloud/cloud.cfg.d/10-ds.cfg",
        "datasource_list: [Ec2, None]\n",
    );
    assert_clean(&m, &[]);
    let (code, report) = doctor(&m, &["--cloud", "OpenStack"]);
    assert_eq!(code, 1);
    let f = &findings(&report, "datasource-wait")[0];
    assert_eq!(f["severity"], "error");
    assert!(
        f["breaks"].as_str().unwrap().contains("None datasource"),
        "{f:#}"
    );
    assert!(
        f["breaks"]
            .as_str()
            .unwrap()
            .contains("up to 120 s for Ec2"),
        "{f:#}"
    );
    // A list that starts with the cloud is fine.
    m.write(
        "/etc/cloud/cloud.cfg.d/10-ds.cfg",
        "datasource_list: [OpenStack, Ec2, None]\n",
    );
    assert_clean(&m, &["--cloud", "OpenStack"]);
    // A datasource on a disk is found in the local stage, before any
    // network datasource is tried: nothing is waited for.
    m.write(
        "/etc/cloud/cloud.cfg.d/10-ds.cfg",
        "datasource_list: [Ec2, CloudStack, ConfigDrive, None]\n",
    );
    assert_clean(&m, &["--cloud", "ConfigDrive"]);
    let (_, report) = doctor(&m, &["--cloud", "Ec2"]);
    assert!(
        findings(&report, "datasource-wait").is_empty(),
        "{report:#}"
    );
    let (_, report) = doctor(&m, &["--cloud", "CloudStack"]);
    assert!(
        findings(&report, "datasource-wait")[0]["breaks"]
            .as_str()
            .unwrap()
            .contains("up to 120 s for Ec2"),
        "{report:#}"
    );
}

/// A systemd image with cloud-init's generator.
fn systemd_image() -> Machine {
    let m = Machine::new();
    m.write("/etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
    m.write("/etc/debian_version", "12.8\n");
    executable(&m, "/lib/systemd/systemd", "#!/bin/sh\n");
    std::fs::create_dir_all(m.path("/etc/systemd/system")).unwrap();
    executable(
        &m,
        "/lib/systemd/system-generators/cloud-init-generator",
        "#!/bin/sh\n",
    );
    m
}

#[test]
fn the_disabled_marker_on_a_systemd_image_is_removed_and_a_grub_setting_is_shown() {
    let m = systemd_image();
    assert_clean(&m, &[]);
    m.write("/etc/cloud/cloud-init.disabled", "");
    found_and_sealed(&m, "cloud-init-disabled", &[]);
    assert!(!m.exists("/etc/cloud/cloud-init.disabled"));
    m.write(
        "/etc/default/grub",
        "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX=\"console=ttyS0 cloud-init=disabled\"\n",
    );
    let (code, report) = doctor(&m, &[]);
    assert_eq!(code, 1);
    let f = &findings(&report, "cloud-init-disabled")[0];
    assert_eq!(
        (f["evidence"][0]["line"].as_u64(), f["sealable"].as_bool()),
        (Some(2), Some(false))
    );
    // seal cannot fix it, and says so with exit 1.
    let (code, out) = seal(&m, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("left for a person (1"), "{out}");
}

#[test]
fn a_sysv_image_ignores_the_marker_as_cloud_init_does() {
    let m = centos6();
    m.write("/etc/cloud/cloud-init.disabled", "");
    assert_clean(&m, &[]);
}

#[test]
fn the_order_cloudboot_install_makes_and_cloud_init_disabled_beside_it_are_fine() {
    // centos6() is cloudboot installed; with cloud-init's links turned off
    // (K links) nothing is found.
    let m = centos6();
    add_both_enabled(&m);
    seal(&m, &[]);
    assert_clean(&m, &[]);
}

#[test]
fn network_config_disabled_by_a_file_of_its_own_is_removed_and_among_others_is_shown() {
    let m = centos6();
    add_network_config_disabled(&m);
    let (_, report) = doctor(&m, &[]);
    let e = &findings(&report, "network-config-disabled")[0]["evidence"][0];
    assert_eq!(
        (e["file"].as_str(), e["line"].as_u64()),
        (
            Some("/etc/cloud/cloud.cfg.d/99-disable-network-config.cfg"),
            Some(2)
        )
    );
    found_and_sealed(&m, "network-config-disabled", &[]);
    assert!(!m.exists("/etc/cloud/cloud.cfg.d/99-disable-network-config.cfg"));
    // Beside other settings, the file stays: a person takes the line out.
    m.write(
        "/etc/cloud/cloud.cfg.d/50-site.cfg",
        "timezone: UTC\nnetwork:\n  config: disabled\n",
    );
    let (code, report) = doctor(&m, &[]);
    assert_eq!(code, 1);
    let f = &findings(&report, "network-config-disabled")[0];
    assert_eq!(
        (f["sealable"].as_bool(), f["evidence"][0]["line"].as_u64()),
        (Some(false), Some(3))
    );
}

#[test]
fn on_systemd_a_removed_packages_dangling_links_are_not_an_enabled_service() {
    // cloudboot's .deb replaced cloud-init: `dpkg -r` left cloud-init's
    // enablement links, pointing at unit files that are gone.
    let m = systemd_image();
    for unit in ["cloudboot-local.service", "cloudboot.service"] {
        m.write(&format!("/lib/systemd/system/{unit}"), "[Unit]\n");
        doctor_common::link(
            &m,
            &format!("/etc/systemd/system/cloud-init.target.wants/{unit}"),
            &format!("/lib/systemd/system/{unit}"),
        );
    }
    for unit in ["cloud-init-local.service", "cloud-init.service"] {
        doctor_common::link(
            &m,
            &format!("/etc/systemd/system/cloud-init.target.wants/{unit}"),
            &format!("/lib/systemd/system/{unit}"),
        );
    }
    assert_clean(&m, &[]);
    // With cloud-init's units there, both are enabled; seal masks cloud-init's.
    for unit in ["cloud-init-local.service", "cloud-init.service"] {
        m.write(&format!("/lib/systemd/system/{unit}"), "[Unit]\n");
    }
    found_and_sealed(&m, "two-tools-enabled", &[]);
    assert_eq!(
        std::fs::read_link(m.path("/etc/systemd/system/cloud-init.service")).unwrap(),
        std::path::Path::new("/dev/null")
    );
}
