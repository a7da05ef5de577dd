//! `cloudboot doctor` and `cloudboot seal` on the network problems a
//! template carries: stale network files, udev's persistent-net rules,
//! a NetworkManager plugin that is not installed, a DHCP hook that renames
//! the machine, and DHCP leases. Each: doctor finds exactly it (file and
//! line), `seal --dry-run` changes nothing, `seal` fixes it, and doctor
//! finds nothing after; and the look-alikes that are not problems.

mod common;
mod doctor_common;

use common::Machine;
use doctor_common::network::{
    add_dhcp_hostname, add_dhcp_leases, add_networkmanager_without_ibft, add_persistent_net_rules,
    add_stale_ifcfg, HOSTNAME_HOOK, NM_CONF, SYSCONFIG_HEADER,
};
use doctor_common::{
    assert_clean, centos6, doctor, dry_run_changes_nothing, executable, findings, finds_only, ids,
    places, seal, seal_ok,
};
use serde_json::Value;

/// Doctor finds only `id` (and, where a test disables the network config,
/// the finding about that); its findings.
fn only(m: &Machine, id: &str) -> Vec<Value> {
    let report = finds_only(m, id, &["network-config-disabled"]);
    findings(&report, id).into_iter().cloned().collect()
}

const SCRIPTS: &str = "/etc/sysconfig/network-scripts";

// ---------------------------------------------------------------------------
// stale-network-config

#[test]
fn stale_ifcfg_files_are_found_and_sealed() {
    let m = centos6();
    add_stale_ifcfg(&m);
    let found = only(&m, "stale-network-config");
    assert_eq!(found.len(), 3, "{found:#?}");
    let by_file = |file: &str| {
        found
            .iter()
            .find(|f| f["evidence"][0]["file"] == file)
            .unwrap_or_else(|| panic!("no finding for {file}: {found:#?}"))
            .clone()
    };
    // Installer's eth0: HWADDR (line 2) and UUID (line 4).
    let eth0 = by_file(&format!("{SCRIPTS}/ifcfg-eth0"));
    assert_eq!(eth0["severity"], "error");
    assert_eq!(
        places(&eth0),
        vec![
            (format!("{SCRIPTS}/ifcfg-eth0"), Some(2)),
            (format!("{SCRIPTS}/ifcfg-eth0"), Some(4)),
        ]
    );
    assert!(eth0["breaks"]
        .as_str()
        .unwrap()
        .contains("has different MAC address than expected"));
    // cloud-init's static eth1: the header, HWADDR and IPADDR.
    let eth1 = by_file(&format!("{SCRIPTS}/ifcfg-eth1"));
    assert_eq!(eth1["severity"], "error");
    let lines: Vec<Option<u64>> = places(&eth1).into_iter().map(|(_, l)| l).collect();
    assert_eq!(lines, vec![Some(1), Some(6), Some(7)]);
    assert_eq!(eth1["evidence"][2]["text"], "IPADDR=10.20.0.5");
    let route = by_file(&format!("{SCRIPTS}/route-eth1"));
    assert_eq!(route["severity"], "error");
    assert!(found.iter().all(|f| f["sealable"] == true));

    dry_run_changes_nothing(
        &m,
        &[
            "would fix [stale-network-config]",
            "ifcfg-eth1",
            "route-eth1",
            "ifcfg-eth0",
        ],
    );
    seal_ok(&m);
    assert!(!m.exists(&format!("{SCRIPTS}/ifcfg-eth1")));
    assert!(!m.exists(&format!("{SCRIPTS}/route-eth1")));
    // eth0 keeps everything but the MAC and the UUID.
    assert_eq!(
        m.read(&format!("{SCRIPTS}/ifcfg-eth0")),
        "DEVICE=eth0\nTYPE=Ethernet\nONBOOT=yes\nNM_CONTROLLED=yes\nBOOTPROTO=dhcp\n"
    );
    assert!(m.exists(&format!("{SCRIPTS}/ifcfg-lo")));
    assert_clean(&m, &[]);
}

#[test]
fn a_hand_written_static_eth0_becomes_dhcp_and_a_static_eth1_goes() {
    let m = centos6();
    m.write(
        &format!("{SCRIPTS}/ifcfg-eth0"),
        "DEVICE=eth0\nBOOTPROTO=static\nIPADDR=192.168.122.10\nPREFIX=24\nGATEWAY=192.168.122.1\nONBOOT=yes\n",
    );
    m.write(
        &format!("{SCRIPTS}/ifcfg-eth1"),
        "DEVICE=\"eth1\"\nONBOOT=yes\nIPADDR0=\"10.9.0.4\"\nNETMASK0=255.255.0.0\n",
    );
    let found = only(&m, "stale-network-config");
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(
        places(&found[0]),
        vec![
            (format!("{SCRIPTS}/ifcfg-eth0"), Some(3)),
            (format!("{SCRIPTS}/ifcfg-eth0"), Some(5)),
        ]
    );
    assert_eq!(
        places(&found[1]),
        vec![(format!("{SCRIPTS}/ifcfg-eth1"), Some(3))]
    );
    dry_run_changes_nothing(&m, &["ifcfg-eth0", "ifcfg-eth1"]);
    seal_ok(&m);
    assert_eq!(
        m.read(&format!("{SCRIPTS}/ifcfg-eth0")),
        "DEVICE=eth0\nBOOTPROTO=dhcp\nONBOOT=yes\nTYPE=Ethernet\n"
    );
    assert!(!m.exists(&format!("{SCRIPTS}/ifcfg-eth1")));
    assert_clean(&m, &[]);
}

#[test]
fn cloud_init_eth0_is_replaced_not_removed_when_network_config_is_disabled() {
    let m = centos6();
    m.write(
        &format!("{SCRIPTS}/ifcfg-eth0"),
        &format!(
            "{SYSCONFIG_HEADER}BOOTPROTO=dhcp\nDEVICE=eth0\nHWADDR=52:54:00:12:34:56\nONBOOT=yes\nTYPE=Ethernet\nUSERCTL=no\n"
        ),
    );
    m.write(
        "/etc/cloud/cloud.cfg.d/99-disable-network-config.cfg",
        "network: {config: disabled}\n",
    );
    let found = only(&m, "stale-network-config");
    assert_eq!(found.len(), 1);
    // DHCP only: a warning; the evidence is the header and the MAC.
    assert_eq!(found[0]["severity"], "warning");
    assert_eq!(
        places(&found[0]),
        vec![
            (format!("{SCRIPTS}/ifcfg-eth0"), Some(1)),
            (format!("{SCRIPTS}/ifcfg-eth0"), Some(5)),
        ]
    );
    assert!(found[0]["fix"].as_str().unwrap().contains("disabled"));
    dry_run_changes_nothing(&m, &["ifcfg-eth0"]);
    seal_ok(&m);
    assert_eq!(
        m.read(&format!("{SCRIPTS}/ifcfg-eth0")),
        "DEVICE=eth0\nBOOTPROTO=dhcp\nONBOOT=yes\nTYPE=Ethernet\n"
    );
    assert_clean(&m, &[]);
}

#[test]
fn cloud_init_files_of_other_renderers_are_found() {
    let m = centos6();
    let header = "# This file is generated from information provided by the datasource.  Changes\n\
                  # to it will not persist across an instance reboot.  To disable cloud-init's\n\
                  # network configuration capabilities, write a file\n\
                  # /etc/cloud/cloud.cfg.d/99-disable-network-config.cfg with the following:\n\
                  # network: {config: disabled}\n";
    m.write(
        "/etc/netplan/50-cloud-init.yaml",
        &format!(
            "{header}network:\n    ethernets:\n        eth0:\n            dhcp4: true\n            \
             match:\n                macaddress: 52:54:00:12:34:56\n            set-name: eth0\n            \
             nameservers:\n                addresses: [10.0.0.2]\n    version: 2\n"
        ),
    );
    m.write(
        "/etc/network/interfaces.d/50-cloud-init",
        &format!("{header}auto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet static\n    address 10.0.0.5/24\n    gateway 10.0.0.1\n"),
    );
    m.write(
        "/etc/systemd/network/10-cloud-init-eth0.network",
        "[Match]\nName=eth0\n\n[Network]\nDHCP=ipv4\n",
    );
    m.write(
        "/etc/NetworkManager/system-connections/cloud-init-eth0.nmconnection",
        "# Generated by cloud-init. Changes will be lost.\n\n[connection]\nid=cloud-init eth0\n\n[ipv4]\nmethod=manual\naddress1=10.0.0.5/24,10.0.0.1\n",
    );
    let found = only(&m, "stale-network-config");
    let sev: Vec<(&str, &str)> = found
        .iter()
        .map(|f| {
            (
                f["evidence"][0]["file"].as_str().unwrap(),
                f["severity"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        sev,
        vec![
            ("/etc/network/interfaces.d/50-cloud-init", "error"),
            ("/etc/netplan/50-cloud-init.yaml", "warning"),
            ("/etc/systemd/network/10-cloud-init-eth0.network", "warning"),
            (
                "/etc/NetworkManager/system-connections/cloud-init-eth0.nmconnection",
                "error"
            ),
        ]
    );
    assert_eq!(
        places(&found[0])[1..],
        [
            (
                "/etc/network/interfaces.d/50-cloud-init".to_string(),
                Some(10)
            ),
            (
                "/etc/network/interfaces.d/50-cloud-init".to_string(),
                Some(11)
            ),
        ]
    );
    dry_run_changes_nothing(&m, &["50-cloud-init.yaml"]);
    seal_ok(&m);
    assert!(!m.exists("/etc/netplan/50-cloud-init.yaml"));
    assert!(!m.exists("/etc/network/interfaces.d/50-cloud-init"));
    assert_clean(&m, &[]);
}

#[test]
fn other_renderers_files_are_left_to_a_person_when_network_config_is_disabled() {
    let m = centos6();
    m.write(
        "/etc/netplan/50-cloud-init.yaml",
        "network:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: true\n",
    );
    // Among other settings, so that seal leaves the setting (and with it
    // the rendered file) to a person.
    m.write(
        "/etc/cloud/cloud.cfg.d/50-site.cfg",
        "timezone: UTC\nnetwork: {config: disabled}\n",
    );
    let found = only(&m, "stale-network-config");
    assert_eq!(found[0]["sealable"], false);
    let (code, _) = seal(&m, &[]);
    assert_eq!(code, 1, "an unsealable finding is left");
    assert!(m.exists("/etc/netplan/50-cloud-init.yaml"));
}

#[test]
fn ordinary_network_files_are_not_flagged() {
    let m = centos6();
    // A backup initscripts never reads, a bridge and its slave (no
    // address, no MAC), Debian's own interfaces file, cloud-init's
    // sysconfig file of another kind.
    m.write(
        &format!("{SCRIPTS}/ifcfg-eth0.bak"),
        "DEVICE=eth0\nHWADDR=52:54:00:12:34:56\nBOOTPROTO=none\nIPADDR=10.0.0.9\n",
    );
    m.write(
        &format!("{SCRIPTS}/ifcfg-br0"),
        "DEVICE=br0\nTYPE=Bridge\nBOOTPROTO=dhcp\nONBOOT=yes\n",
    );
    m.write(
        &format!("{SCRIPTS}/ifcfg-eth2"),
        "DEVICE=eth2\nBRIDGE=br0\nONBOOT=yes\n",
    );
    m.write(
        "/etc/network/interfaces",
        "# interfaces(5) file used by ifup(8) and ifdown(8)\n\
         # Include files from /etc/network/interfaces.d:\nsource /etc/network/interfaces.d/*\n\
         auto lo\niface lo inet loopback\n",
    );
    m.write(
        "/etc/systemd/network/99-dhcp.network",
        "[Match]\nName=en*\n[Network]\nDHCP=yes\n",
    );
    assert_clean(&m, &[]);
}

// ---------------------------------------------------------------------------
// persistent-net-rules

#[test]
fn persistent_net_rules_are_found_and_removed() {
    let m = centos6();
    add_persistent_net_rules(&m);
    let found = only(&m, "persistent-net-rules");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["severity"], "error");
    assert_eq!(
        places(&found[0]),
        vec![(
            "/etc/udev/rules.d/70-persistent-net.rules".to_string(),
            Some(8)
        )]
    );
    assert!(found[0]["evidence"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("52:54:00:12:34:56 is named eth0"));
    dry_run_changes_nothing(&m, &["70-persistent-net.rules"]);
    seal_ok(&m);
    assert!(!m.exists("/etc/udev/rules.d/70-persistent-net.rules"));
    assert!(m.exists("/etc/udev/rules.d"));
    assert_clean(&m, &[]);
}

#[test]
fn an_empty_persistent_net_rules_file_is_not_flagged() {
    let m = centos6();
    m.write(
        "/etc/udev/rules.d/70-persistent-net.rules",
        "# This file was automatically generated by the /lib/udev/write_net_rules\n\
         # program, run by the persistent-net-generator.rules rules file.\n\n",
    );
    m.write(
        "/etc/udev/rules.d/75-custom.rules",
        "SUBSYSTEM==\"net\", ATTR{address}==\"52:54:00:12:34:56\", NAME=\"lan0\"\n",
    );
    assert_clean(&m, &[]);
}

// ---------------------------------------------------------------------------
// networkmanager-plugin-missing

const NM_CONF_PATH: &str = "/etc/NetworkManager/NetworkManager.conf";

#[test]
fn a_missing_networkmanager_plugin_is_found_and_dropped() {
    let m = centos6();
    add_networkmanager_without_ibft(&m);
    std::fs::set_permissions(
        m.path(NM_CONF_PATH),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let found = only(&m, "networkmanager-plugin-missing");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["severity"], "error");
    assert_eq!(places(&found[0]), vec![(NM_CONF_PATH.to_string(), Some(6))]);
    assert!(found[0]["evidence"][0]["text"]
        .as_str()
        .unwrap()
        .contains("libnm-settings-plugin-ibft.so"));
    assert!(found[0]["breaks"]
        .as_str()
        .unwrap()
        .contains("Could not load plugin 'ibft'"));
    dry_run_changes_nothing(&m, &["NetworkManager.conf"]);
    seal_ok(&m);
    assert_eq!(
        m.read(NM_CONF_PATH),
        NM_CONF.replace("plugins=ifcfg-rh,ibft", "plugins=ifcfg-rh")
    );
    assert_eq!(m.mode(NM_CONF_PATH) & 0o7777, 0o600);
    assert_clean(&m, &[]);
}

#[test]
fn a_newer_networkmanager_only_warns_and_a_conf_d_file_is_read() {
    let m = centos6();
    executable(&m, "/usr/sbin/NetworkManager", "#!/bin/sh\n");
    std::fs::create_dir_all(m.path("/usr/share/doc/NetworkManager-1.18.8")).unwrap();
    m.write(NM_CONF_PATH, "[main]\n#plugins=ifcfg-rh,ibft\n");
    m.write(
        "/etc/NetworkManager/conf.d/10-plugins.conf",
        "[main]\r\nplugins = ibft\r\n",
    );
    let found = only(&m, "networkmanager-plugin-missing");
    assert_eq!(found[0]["severity"], "warning");
    assert_eq!(
        places(&found[0]),
        vec![(
            "/etc/NetworkManager/conf.d/10-plugins.conf".to_string(),
            Some(2)
        )]
    );
    seal_ok(&m);
    // Nothing named is installed: the line is commented out, CRLF kept.
    assert_eq!(
        m.read("/etc/NetworkManager/conf.d/10-plugins.conf"),
        "[main]\r\n#plugins = ibft\r\n"
    );
    assert_clean(&m, &[]);

    // 1.20 and later: the versioned plugin directory tells the version.
    let m = centos6();
    executable(&m, "/usr/sbin/NetworkManager", "#!/bin/sh\n");
    m.write(
        "/usr/lib64/NetworkManager/1.42.2-1.el8/libnm-settings-plugin-ifcfg-rh.so",
        "\x7fELF",
    );
    m.write(NM_CONF_PATH, "[main]\nplugins=ifcfg-rh,ibft\n");
    let found = only(&m, "networkmanager-plugin-missing");
    assert_eq!(found[0]["severity"], "warning");
    assert!(found[0]["breaks"].as_str().unwrap().contains("1.42"));
}

#[test]
fn installed_and_built_in_plugins_are_not_flagged() {
    // Both libraries, one in a versioned subdirectory; keyfile is built in.
    let m = centos6();
    add_networkmanager_without_ibft(&m);
    m.write(
        "/usr/lib64/NetworkManager/1.42.2-1.el8/libnm-settings-plugin-ibft.so",
        "\x7fELF",
    );
    m.write(
        "/etc/NetworkManager/conf.d/20-keyfile.conf",
        "[main]\nplugins=keyfile,ifcfg-fedora\n",
    );
    assert_clean(&m, &[]);
    // NetworkManager not installed: its leftover config is never read.
    let m = centos6();
    m.write(NM_CONF_PATH, NM_CONF);
    assert_clean(&m, &[]);
}

// ---------------------------------------------------------------------------
// dhcp-sets-hostname

#[test]
fn a_dhclient_hook_that_sets_the_dhcp_name_is_found_and_disabled() {
    let m = centos6();
    add_dhcp_hostname(&m);
    let found = only(&m, "dhcp-sets-hostname");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["severity"], "error");
    assert_eq!(
        places(&found[0]),
        vec![(HOSTNAME_HOOK.to_string(), Some(6))]
    );
    let content = m.read(HOSTNAME_HOOK);
    dry_run_changes_nothing(&m, &[HOSTNAME_HOOK]);
    seal_ok(&m);
    assert!(!m.exists(HOSTNAME_HOOK));
    let moved = format!("{HOSTNAME_HOOK}.disabled-by-cloudboot");
    assert_eq!(m.read(&moved), content);
    assert_eq!(m.mode(&moved) & 0o111, 0, "the kept copy is not executable");
    assert_clean(&m, &[]);
}

#[test]
fn a_networkmanager_dispatcher_script_that_sets_the_dhcp_name_is_found() {
    let m = centos6();
    executable(
        &m,
        "/etc/NetworkManager/dispatcher.d/90-hostname",
        "#!/bin/sh\nif [ \"$2\" = up ] || [ \"$2\" = dhcp4-change ]; then\n    \
         [ -n \"$DHCP4_HOST_NAME\" ] && hostnamectl set-hostname \"$DHCP4_HOST_NAME\"\nfi\n",
    );
    let found = only(&m, "dhcp-sets-hostname");
    assert_eq!(
        places(&found[0]),
        vec![(
            "/etc/NetworkManager/dispatcher.d/90-hostname".to_string(),
            Some(3)
        )]
    );
    seal_ok(&m);
    assert!(!m.exists("/etc/NetworkManager/dispatcher.d/90-hostname"));
    assert_clean(&m, &[]);
}

#[test]
fn stock_dhcp_hostname_handling_is_not_flagged() {
    let m = centos6();
    // Debian's guarded logic as a hook; a hook that only logs the name;
    // a disabled (non-executable) dhclient.d script; NetworkManager's
    // hostname-mode=dhcp (a static hostname wins over it).
    m.write(
        "/etc/dhcp/dhclient-exit-hooks.d/hostname",
        "current=$(hostname)\nif [ \"$current\" = localhost ] || [ \"$current\" = \"$old_host_name\" ]; then\n    \
         hostname \"$new_host_name\"\nfi\n",
    );
    m.write(
        "/etc/dhcp/dhclient-exit-hooks.d/debug",
        "if [ \"$RUN\" = yes ]; then\n  for i in reason interface new_host_name; do\n    \
         echo \"$i='$(eval echo \\$$i)'\" >> /tmp/dhclient-script.debug\n  done\nfi\n",
    );
    m.write(
        "/etc/dhcp/dhclient.d/hostname.sh",
        "hostname_config() {\n  hostname \"$new_host_name\"\n}\n",
    );
    m.write(
        "/etc/dhcp/dhclient-exit-hooks.d/old.dpkg-old",
        "hostname \"$new_host_name\"\n",
    );
    executable(&m, "/usr/sbin/NetworkManager", "#!/bin/sh\n");
    m.write(
        "/etc/NetworkManager/conf.d/hostname.conf",
        "[main]\nhostname-mode=dhcp\n",
    );
    assert_clean(&m, &[]);
}

// ---------------------------------------------------------------------------
// dhcp-leases

#[test]
fn dhcp_leases_are_found_and_removed() {
    let m = centos6();
    add_dhcp_leases(&m);
    let found = only(&m, "dhcp-leases");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["severity"], "warning");
    let files: Vec<String> = places(&found[0]).into_iter().map(|(f, _)| f).collect();
    assert_eq!(
        files,
        vec![
            "/var/lib/dhclient/dhclient-5fb06bd0-0bb0-7ffb-45f1-d6edd65f3e03-eth0.lease",
            "/var/lib/dhclient/dhclient-eth0.leases",
        ]
    );
    assert!(found[0]["evidence"][1]["text"]
        .as_str()
        .unwrap()
        .contains("10.0.2.15"));
    dry_run_changes_nothing(&m, &["dhclient-eth0.leases"]);
    seal_ok(&m);
    assert!(!m.exists("/var/lib/dhclient/dhclient-eth0.leases"));
    assert!(m.exists("/var/lib/dhclient"));
    assert_clean(&m, &[]);
}

#[test]
fn empty_leases_and_other_state_are_not_flagged() {
    let m = centos6();
    m.write("/var/lib/dhclient/dhclient-eth0.leases", "");
    m.write("/var/lib/dhcp/dhclient.leases", "");
    m.write("/var/lib/NetworkManager/timestamps", "[timestamps]\n");
    m.write("/var/lib/NetworkManager/NetworkManager.state", "[main]\n");
    assert_clean(&m, &[]);
}

// ---------------------------------------------------------------------------

#[test]
fn all_network_problems_in_one_image_are_sealed_in_one_run() {
    let m = centos6();
    add_stale_ifcfg(&m);
    add_persistent_net_rules(&m);
    add_networkmanager_without_ibft(&m);
    add_dhcp_hostname(&m);
    add_dhcp_leases(&m);
    let (code, report) = doctor(&m, &[]);
    assert_eq!(code, 1);
    let mut got = ids(&report);
    got.dedup();
    assert_eq!(
        got,
        vec![
            "stale-network-config",
            "persistent-net-rules",
            "dhcp-leases",
            "networkmanager-plugin-missing",
            "dhcp-sets-hostname",
        ]
    );
    dry_run_changes_nothing(&m, &[]);
    seal_ok(&m);
    assert_clean(&m, &[]);
}

#[test]
fn odd_files_neither_panic_nor_count() {
    let m = centos6();
    // A directory where a file is expected, a symlink loop, binary rules,
    // a lease that is a link.
    std::fs::create_dir_all(m.path(&format!("{SCRIPTS}/ifcfg-eth3"))).unwrap();
    doctor_common::link(
        &m,
        "/etc/NetworkManager/NetworkManager.conf",
        "NetworkManager.conf",
    );
    executable(&m, "/usr/sbin/NetworkManager", "#!/bin/sh\n");
    std::fs::write(
        m.path("/etc/udev/rules.d/70-persistent-net.rules"),
        b"\x00\xff\xfeATTR{address}==\x00NAME=\n\xc3\x28",
    )
    .unwrap();
    doctor_common::link(
        &m,
        "/var/lib/dhclient/dhclient-eth0.leases",
        "/etc/hostname",
    );
    doctor_common::link(&m, "/etc/dhcp/dhclient-exit-hooks", "dhclient-exit-hooks");
    assert_clean(&m, &[]);
}
