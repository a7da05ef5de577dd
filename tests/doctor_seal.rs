//! `cloudboot doctor` and `cloudboot seal` on whole images: a template that
//! carries every problem at once is found, sealed and then boots on a new
//! cloud with every NIC from the new metadata; clean images (the fixture,
//! the real Debian 12 root, a root the examples booted and seal cleaned)
//! give no finding; doctor only reads; seal refuses the running system.

mod common;
mod doctor_common;

use std::path::Path;

use common::{skip, Machine};
use doctor_common::{assert_clean, centos6, doctor, ids, init, network, seal, state, tree_state};

/// Every problem of the issue, stacked on one CentOS 6-style template.
fn old_template() -> Machine {
    let m = centos6();
    state::add_instance_state(&m);
    state::add_machine_id(&m);
    state::add_host_keys(&m);
    state::add_fstab_without_nofail(&m);
    network::add_stale_ifcfg(&m);
    network::add_persistent_net_rules(&m);
    network::add_networkmanager_without_ibft(&m);
    network::add_dhcp_hostname(&m);
    network::add_dhcp_leases(&m);
    // cloud-init 0.7.5's four scripts at S50-S53 after NetworkManager
    // (S23), and cloudboot's installed beside them: both tools enabled.
    init::add_network_before_local(&m);
    for (name, start, stop) in [
        ("cloudboot-local", 7, 93),
        ("cloudboot", 26, 74),
        ("cloudboot-config", 27, 73),
        ("cloudboot-final", 99, 1),
    ] {
        doctor_common::sysv_service(&m, name, start, stop);
    }
    init::add_scripts_user_missing(&m);
    init::add_datasource_list(&m);
    init::add_network_config_disabled(&m);
    // A NIC the template had and the new instance has not: cloud-init's
    // static config for it stays unless someone removes it.
    m.write(
        "/etc/sysconfig/network-scripts/ifcfg-eth3",
        "# Created by cloud-init on instance boot automatically, do not edit.\n#\n\
         BOOTPROTO=none\nDEVICE=eth3\nIPADDR=192.0.2.33\nNETMASK=255.255.255.0\n\
         ONBOOT=yes\nTYPE=Ethernet\nUSERCTL=no\n",
    );
    m
}

/// The ids doctor reports for the template, in registry order.
const EVERY_PROBLEM: [&str; 14] = [
    "stale-instance-state",
    "shared-machine-id",
    "shared-host-keys",
    "stale-network-config",
    "network-config-disabled",
    "persistent-net-rules",
    "dhcp-leases",
    "fstab-without-nofail",
    "network-before-local",
    "two-tools-enabled",
    "networkmanager-plugin-missing",
    "dhcp-sets-hostname",
    "scripts-user-missing",
    "datasource-wait",
];

fn distinct(ids: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for id in ids {
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// The new cloud: an OpenStack config drive with three NICs
/// (examples/configdrive-multinic), as a seed directory.
fn new_cloud_drive(m: &Machine) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/configdrive-multinic");
    let dest = m.path("/var/lib/cloud/seed/config_drive");
    std::fs::create_dir_all(&dest).unwrap();
    let ok = std::process::Command::new("cp")
        .arg("-a")
        .arg(src.join("openstack"))
        .arg(&dest)
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Boots the image on the new cloud; returns the local stage's errors
/// (the stage that writes the network config).
fn boot_on_new_cloud(m: &Machine) -> Vec<String> {
    new_cloud_drive(m);
    // Programs (useradd for the default user, ...) cannot run in this
    // fixture, which has no shell: the network is the local stage's work,
    // and that stage must have no error.
    let out = m.run(&["init", "--local"]);
    assert!(
        m.exists("/var/lib/cloud/data/status.json"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    m.stage_errors("init-local")
}

fn network_scripts(m: &Machine) -> String {
    let dir = m.path("/etc/sysconfig/network-scripts");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
        .iter()
        .map(|n| {
            format!(
                "== {n}\n{}",
                m.read(&format!("/etc/sysconfig/network-scripts/{n}"))
            )
        })
        .collect()
}

#[test]
fn a_clean_centos6_image_gives_no_finding_and_doctor_changes_nothing() {
    let m = centos6();
    let before = tree_state(m.root());
    assert_clean(&m, &[]);
    let (code, _) = doctor(&m, &[]);
    assert_eq!(code, 0);
    assert_eq!(tree_state(m.root()), before, "doctor changed the image");
}

#[test]
fn an_old_template_with_every_problem_is_found_sealed_and_boots_every_nic_from_the_new_cloud() {
    let m = old_template();
    // doctor: every problem, and nothing changed by looking.
    let before = tree_state(m.root());
    let (code, report) = doctor(&m, &["--cloud", "ConfigDrive"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(distinct(ids(&report)), EVERY_PROBLEM, "{report:#}");
    for f in report["findings"].as_array().unwrap() {
        assert_eq!(f["sealable"], true, "seal fixes it: {f:#}");
        let e = &f["evidence"][0];
        assert!(
            e["file"].as_str().unwrap().starts_with('/'),
            "evidence names the file: {f:#}"
        );
    }
    let (code, text) = {
        let out = m.run(&["doctor", "--cloud", "ConfigDrive"]);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    assert_eq!(code, Some(1));
    assert!(text.contains("fix (cloudboot seal does it)"), "{text}");
    assert_eq!(tree_state(m.root()), before, "doctor changed the image");

    // seal --dry-run: the plan names every fix and changes nothing.
    let (code, plan) = seal(&m, &["--dry-run", "--cloud", "ConfigDrive"]);
    assert_eq!(code, 0, "{plan}");
    for id in EVERY_PROBLEM {
        assert!(plan.contains(&format!("would fix [{id}]")), "{id}:\n{plan}");
    }
    assert!(plan.contains("remove /etc/machine-id"), "{plan}");
    assert_eq!(
        tree_state(m.root()),
        before,
        "seal --dry-run changed the image"
    );

    // seal: every fix made; doctor clean after.
    let (code, out) = seal(&m, &["--cloud", "ConfigDrive"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(", 0 failed, 0 left"), "{out}");
    assert_clean(&m, &["--cloud", "ConfigDrive"]);
    assert!(!m.exists("/var/lib/cloud/instance"));
    assert!(!m.exists("/etc/machine-id"));
    assert!(!m.exists("/etc/udev/rules.d/70-persistent-net.rules"));
    assert!(!m.exists("/etc/sysconfig/network-scripts/ifcfg-eth3"));

    // The first boot on the new cloud: every NIC from its metadata, none
    // of the template's addresses left.
    assert_eq!(boot_on_new_cloud(&m), Vec::<String>::new());
    let net = network_scripts(&m);
    assert!(net.contains("IPADDR=203.0.113.10"), "{net}");
    assert!(net.contains("IPADDR=10.20.0.10"), "{net}");
    assert!(net.contains("HWADDR=fa:16:3e:11:22:02"), "{net}");
    assert!(
        !net.contains("192.0.2."),
        "a template address is left:\n{net}"
    );
}

#[test]
fn without_seal_the_same_boot_keeps_the_templates_address() {
    // The contrast: what seal prevents.
    let m = old_template();
    boot_on_new_cloud(&m);
    let net = network_scripts(&m);
    assert!(net.contains("IPADDR=192.0.2.33"), "{net}");
}

#[test]
fn the_debian_root_gives_no_finding_and_is_not_changed() {
    let Some(root) = skip::debian_root() else {
        return;
    };
    let before = tree_state(&root);
    let out = std::process::Command::new(common::BIN)
        .args(["doctor", "--format", "json", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (out.status.code(), ids(&report)),
        (Some(0), vec![]),
        "{report:#}"
    );
    assert_eq!(tree_state(&root), before, "doctor changed the Debian root");
}

#[test]
fn a_root_the_examples_booted_has_only_what_the_boot_left_and_seal_cleans_it() {
    for example in ["nocloud-write-files", "nocloud-full", "nocloud-minimal"] {
        let m = centos6();
        let seed = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(example);
        let before = m.snapshot();
        let _ = m.run(&["boot", "--seed", seed.to_str().unwrap()]);
        let after = m.snapshot();
        let (_, report) = doctor(&m, &[]);
        // Every finding points at something the boot wrote.
        for f in report["findings"].as_array().unwrap() {
            for e in f["evidence"].as_array().unwrap() {
                let file = e["file"].as_str().unwrap().trim_start_matches('/');
                let path = Path::new(file);
                let written = before.get(path) != after.get(path)
                    || after
                        .keys()
                        .any(|k| k.starts_with(path) && before.get(k) != after.get(k));
                assert!(
                    written,
                    "{example}: a finding about what was there before:\n{f:#}"
                );
            }
        }
        assert!(
            ids(&report).contains(&"stale-instance-state".to_string()),
            "{report:#}"
        );
        let (code, out) = seal(&m, &[]);
        assert_eq!(code, 0, "{example}: {out}");
        assert_clean(&m, &[]);
    }
}

#[test]
fn seal_refuses_the_running_system_without_force() {
    let out = std::process::Command::new(common::BIN)
        .args(["seal", "--root", "/"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to seal the running system"));
}

#[test]
fn doctor_says_when_it_cannot_read_an_image() {
    let m = Machine::new();
    let (code, out) = {
        let o = m.run(&["doctor"]);
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    assert_eq!(code, Some(2));
    assert!(out.contains("no /etc directory"), "{out}");
}
