//! A bond from OpenStack's `network_data.json` must not hand its MAC to its
//! members. nova gives a bond the MAC of its first member
//! (`ethernet_mac_address`); Debian's cloud-init before 22.4.2-1+deb12u4
//! put it in the bond's params, which are copied onto every member, so the
//! second member was written with the first one's MAC (`HWADDR`, udev rule,
//! netplan and networkd matches): two NICs with one MAC, and a bond that
//! came up with one member. The same happened with a bond that has a MAC
//! of its own (then neither member matched). Each member must keep its own
//! MAC, as `cloud-init devel net-convert` (22.4.2-1+deb12u4) renders them.
//!
//! Checked through `cloudboot net render` (every renderer and distro
//! flavour of the corpus, `--mac` pairs) and through a boot's local stage
//! (a config drive, NICs from the root's `/sys/class/net`).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::Machine;

const BIN: &str = env!("CARGO_BIN_EXE_cloudboot");

const ETH0: &str = "fa:16:3e:11:22:01";
const ETH1: &str = "fa:16:3e:11:22:02";
const OWN: &str = "fa:16:3e:11:22:99";

/// Two NICs bonded, the bond's MAC `bond_mac`, a static address on it.
fn network_data(bond_mac: &str) -> String {
    format!(
        r#"{{
  "links": [
    {{"id": "tap0", "type": "phy", "ethernet_mac_address": "{ETH0}"}},
    {{"id": "tap1", "type": "phy", "ethernet_mac_address": "{ETH1}"}},
    {{"id": "bond0", "type": "bond", "bond_links": ["tap0", "tap1"],
      "bond_mode": "active-backup", "bond_miimon": 100,
      "ethernet_mac_address": "{bond_mac}"}}
  ],
  "networks": [
    {{"id": "n0", "link": "bond0", "type": "ipv4", "ip_address": "10.60.0.10",
      "netmask": "255.255.255.0",
      "routes": [{{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "10.60.0.1"}}]}}
  ],
  "services": []
}}"#
    )
}

/// The MAC each member NIC is matched or named by, in every place the
/// renderer's files say so (a NIC named twice with different MACs shows up
/// as two entries).
fn member_macs(files: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (path, text) in files {
        let file = path.rsplit('/').next().unwrap();
        if file == "70-persistent-net.rules" {
            // ATTR{address}=="MAC", NAME="NAME"
            for line in text.lines() {
                let mac = line.split("ATTR{address}==\"").nth(1).map(|s| &s[..17]);
                let name = line
                    .split("NAME=\"")
                    .nth(1)
                    .and_then(|s| s.split('"').next());
                if let (Some(mac), Some(name)) = (mac, name) {
                    found.push((format!("udev {name}"), mac.to_string()));
                }
            }
        } else if let Some(name) = file.strip_prefix("ifcfg-") {
            if let Some(mac) = text.lines().find_map(|l| l.strip_prefix("HWADDR=")) {
                found.push((format!("ifcfg {name}"), mac.to_string()));
            }
        } else if file.ends_with(".network") {
            let name = text.lines().find_map(|l| l.strip_prefix("Name=")).unwrap();
            if name.starts_with("eth") {
                let mac = text.lines().find_map(|l| l.strip_prefix("MACAddress="));
                found.push((format!("networkd {name}"), mac.unwrap().to_string()));
            }
        } else if file == "50-cloud-init.yaml" {
            let doc = cloudboot::yaml::load(text.as_bytes(), path).unwrap();
            let ethernets = doc
                .get("network")
                .and_then(|n| n.get("ethernets"))
                .and_then(|e| e.as_map())
                .unwrap();
            for (name, cfg) in ethernets.iter() {
                let mac = cfg.get("match").and_then(|m| m.get("macaddress"));
                found.push((
                    format!("netplan {}", name.as_str().unwrap()),
                    mac.and_then(|m| m.as_str()).unwrap().to_string(),
                ));
            }
        }
    }
    found.sort();
    found
}

/// What each renderer must say of the members: each its own MAC.
fn expected_members(renderer: &str) -> Vec<(String, String)> {
    let kinds: &[&str] = match renderer {
        "sysconfig" => &["ifcfg", "udev"],
        "eni" => &["udev"],
        "netplan" => &["netplan"],
        "networkd" => &["networkd"],
        other => panic!("{other}"),
    };
    let mut want: Vec<(String, String)> = kinds
        .iter()
        .flat_map(|k| {
            [
                (format!("{k} eth0"), ETH0.to_string()),
                (format!("{k} eth1"), ETH1.to_string()),
            ]
        })
        .collect();
    want.sort();
    want
}

fn read_tree(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                let rel = format!("/{}", p.strip_prefix(root).unwrap().display());
                out.insert(rel, std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    out
}

/// The bond's own MAC, where the renderer writes one.
fn bond_mac_written(files: &BTreeMap<String, String>, mac: &str) -> bool {
    files.iter().any(|(path, text)| {
        (path.ends_with("ifcfg-bond0") && text.contains(&format!("MACADDR={mac}\n")))
            || (path.ends_with("50-cloud-init") && text.contains(&format!("hwaddress {mac}\n")))
            || (path.ends_with("50-cloud-init.yaml")
                && text.contains(&format!("            macaddress: {mac}\n")))
            || (path.ends_with("bond0.network") && text.contains(&format!("MACAddress={mac}\n")))
    })
}

#[test]
fn net_render_keeps_each_member_s_own_mac() {
    for bond_mac in [ETH0, OWN] {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("network_data.json");
        std::fs::write(&input, network_data(bond_mac)).unwrap();
        for (distro, renderer) in [
            ("centos7", "sysconfig"),
            ("rhel8", "sysconfig"),
            ("centos6", "sysconfig"),
            ("debian", "eni"),
            ("ubuntu", "networkd"),
            ("ubuntu", "netplan"),
        ] {
            let out = dir.path().join(format!("{distro}-{renderer}"));
            let run = Command::new(BIN)
                .args(["net", "render", "--kind", "network_data.json"])
                .args(["--distro", distro, "--renderer", renderer])
                .arg("--input")
                .arg(&input)
                .args(["--mac", &format!("eth0,{ETH0}")])
                .args(["--mac", &format!("eth1,{ETH1}")])
                .arg("--output")
                .arg(&out)
                .output()
                .unwrap();
            assert!(
                run.status.success(),
                "{distro} {renderer}: {}",
                String::from_utf8_lossy(&run.stderr)
            );
            let files = read_tree(&out);
            assert_eq!(
                member_macs(&files),
                expected_members(renderer),
                "bond MAC {bond_mac}, {distro} {renderer}: {files:#?}"
            );
            assert!(
                bond_mac_written(&files, bond_mac),
                "bond MAC {bond_mac}, {distro} {renderer}: the bond lost its MAC: {files:#?}"
            );
        }
    }
}

/// The boot path: a config drive seed, the two NICs in the root's
/// `/sys/class/net` (where the `known_macs` come from), the local stage.
#[test]
fn a_boot_keeps_each_member_s_own_mac() {
    for bond_mac in [ETH0, OWN] {
        for renderer in ["sysconfig", "eni", "netplan", "networkd"] {
            let m = Machine::new();
            let seed = "/var/lib/cloud/seed/config_drive/openstack/latest";
            m.write(
                &format!("{seed}/meta_data.json"),
                r#"{"uuid": "5a0e3c1e-bond-mac", "hostname": "bonded"}"#,
            );
            m.write(
                &format!("{seed}/network_data.json"),
                &network_data(bond_mac),
            );
            for (name, mac) in [("eth0", ETH0), ("eth1", ETH1)] {
                let dir = format!("/sys/class/net/{name}");
                m.write(&format!("{dir}/address"), &format!("{mac}\n"));
                m.write(&format!("{dir}/type"), "1\n");
                m.write(&format!("{dir}/carrier"), "1\n");
                std::fs::create_dir_all(m.path(&format!("{dir}/device"))).unwrap();
            }
            if renderer == "sysconfig" {
                m.write(
                    "/etc/os-release",
                    "NAME=\"CentOS Linux\"\nID=\"centos\"\nVERSION_ID=\"7\"\n",
                );
            } else {
                m.write("/etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
            }
            m.write(
                "/etc/cloud/cloud.cfg.d/10-renderer.cfg",
                &format!("system_info:\n  network:\n    renderers: [{renderer}]\n"),
            );
            m.run_ok(&["init", "--local"], 0);
            let status = m.run_ok(&["status", "--long", "--modules"], 0);
            assert!(
                status.contains(&format!("with the {renderer} renderer")),
                "{status}"
            );
            let files: BTreeMap<String, String> = read_tree(&m.path("/etc"))
                .into_iter()
                .filter(|(p, _)| {
                    p.starts_with("/sysconfig/network-scripts/")
                        || p.starts_with("/udev/")
                        || p.starts_with("/network/interfaces.d/")
                        || p.starts_with("/netplan/")
                        || p.starts_with("/systemd/network/")
                })
                .collect();
            assert_eq!(
                member_macs(&files),
                expected_members(renderer),
                "bond MAC {bond_mac}, {renderer}: {files:#?}"
            );
            assert!(
                bond_mac_written(&files, bond_mac),
                "bond MAC {bond_mac}, {renderer}: {files:#?}"
            );
        }
    }
}
