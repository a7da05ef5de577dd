//! A network config is written completely or not at all: every file a
//! renderer writes is checked against the root before the first is
//! written, so a root where one of them cannot be written (a directory
//! where the RHEL layout puts its `/etc/sysconfig/network` file, as on
//! SUSE) gets none of them and an error naming the path; and a SUSE root
//! gets SUSE's layout, which writes no such file.

mod common;

use common::*;

const NETWORK_CONFIG: &str = "version: 1\nconfig:\n\
- type: physical\n  name: eth0\n  mac_address: '52:54:00:00:00:01'\n  \
subnets: [{type: static, address: 198.51.100.7/24, gateway: 198.51.100.1}]\n";

fn nic(m: &Machine, name: &str, mac: &str) {
    let dir = format!("/sys/class/net/{name}");
    m.write(&format!("{dir}/address"), &format!("{mac}\n"));
    m.write(&format!("{dir}/type"), "1\n");
    m.write(&format!("{dir}/addr_assign_type"), "0\n");
    m.write(&format!("{dir}/carrier"), "1\n");
    m.write(&format!("{dir}/operstate"), "up\n");
    std::fs::create_dir_all(m.path(&format!("{dir}/device"))).unwrap();
}

fn machine(os_release: &str) -> Machine {
    let m = Machine::seeded(META, "#cloud-config\n{}\n");
    m.write("/var/lib/cloud/seed/nocloud/network-config", NETWORK_CONFIG);
    m.write("/etc/os-release", os_release);
    nic(&m, "eth0", "52:54:00:00:00:01");
    m
}

/// Every regular file under the root's /etc.
fn config_files(m: &Machine) -> Vec<String> {
    m.snapshot()
        .into_keys()
        .map(|p| p.display().to_string())
        .filter(|p| p.starts_with("etc/") && m.path(&format!("/{p}")).is_file())
        .collect()
}

#[test]
fn rhel_layout_on_a_root_where_etc_sysconfig_network_is_a_directory_writes_nothing() {
    let m = machine("ID=\"centos\"\nVERSION_ID=\"7\"\n");
    m.write(
        "/etc/sysconfig/network/config",
        "NETCONFIG_DNS_POLICY=auto\n",
    );
    let before = config_files(&m);
    let out = m.run(&["init", "--local"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("/etc/sysconfig/network") && text.contains("directory"),
        "{text}"
    );
    // Not one of the renderer's files: no ifcfg, no udev rules.
    assert_eq!(config_files(&m), before, "{text}");
    assert!(!m.exists("/etc/sysconfig/network-scripts/ifcfg-eth0"));
    assert!(m.path("/etc/sysconfig/network").is_dir());
    // `net render` refuses the same way, and writes nothing.
    let out_dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(out_dir.path().join("etc/sysconfig/network")).unwrap();
    std::fs::write(m.path("/tmp-config.yaml"), NETWORK_CONFIG).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cloudboot"))
        .args(["net", "render", "-D", "centos7", "-O", "sysconfig", "-i"])
        .arg(m.path("/tmp-config.yaml"))
        .arg("-d")
        .arg(out_dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("nothing written") && err.contains("a directory is there"),
        "{err}"
    );
    let mut left = Vec::new();
    for e in walkdir(out_dir.path()) {
        left.push(e);
    }
    assert_eq!(left, ["etc/sysconfig/network"], "{err}");
}

/// Every path under `dir`, relative, sorted.
fn walkdir(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            if p.is_dir() {
                stack.push(p.clone());
                if std::fs::read_dir(&p).unwrap().next().is_none() {
                    out.push(rel);
                }
            } else {
                out.push(rel);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_suse_root_gets_the_suse_layout() {
    let m = machine("ID=\"opensuse-leap\"\nVERSION_ID=\"15.4\"\n");
    m.write(
        "/etc/sysconfig/network/config",
        "NETCONFIG_DNS_POLICY=auto\n",
    );
    m.run_ok(&["init", "--local"], 0);
    let log = m.read("/var/log/cloud-init.log");
    assert!(log.contains("with the sysconfig renderer"), "{log}");
    assert_eq!(
        m.read("/etc/sysconfig/network/ifcfg-eth0"),
        "# Created by cloud-init on instance boot automatically, do not edit.\n#\n\
         BOOTPROTO=static\nIPADDR=198.51.100.7\nLLADDR=52:54:00:00:00:01\n\
         NETMASK=255.255.255.0\nSTARTMODE=auto\n"
    );
    // cloudboot's route file (22.4 writes none for SUSE).
    assert_eq!(
        m.read("/etc/sysconfig/network/ifroute-eth0"),
        "# Created by cloud-init on instance boot automatically, do not edit.\n#\n\
         default 198.51.100.1 - eth0\n"
    );
    assert!(m.exists("/etc/udev/rules.d/85-persistent-net-cloud-init.rules"));
    assert!(!m.exists("/etc/sysconfig/network-scripts"));
    assert_eq!(
        m.read("/etc/sysconfig/network/config"),
        "NETCONFIG_DNS_POLICY=auto\n"
    );
}
