//! The network step of a boot, as cloud-init's `apply_network_config`
//! takes it: the config's source (datasource, cloud.cfg, kernel command
//! line, fallback), once per instance, the renderer the root's distro uses,
//! NICs matched by MAC from the root's `/sys/class/net`, renames recorded,
//! `network: {config: disabled}` honoured.

mod common;
mod iso_common;

use std::path::Path;

use common::*;

/// A NIC in the root's fake `/sys/class/net`, as the kernel shows a
/// physical one with a link.
fn nic(m: &Machine, name: &str, mac: &str) {
    let dir = format!("/sys/class/net/{name}");
    m.write(&format!("{dir}/address"), &format!("{mac}\n"));
    m.write(&format!("{dir}/type"), "1\n");
    m.write(&format!("{dir}/addr_assign_type"), "0\n");
    m.write(&format!("{dir}/carrier"), "1\n");
    m.write(&format!("{dir}/operstate"), "up\n");
    std::fs::create_dir_all(m.path(&format!("{dir}/device"))).unwrap();
}

fn executable(m: &Machine, guest: &str) {
    m.write(guest, "#!/bin/sh\n");
    std::fs::set_permissions(
        m.path(guest),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
}

/// A CentOS 6 root as far as cloud-init's sysconfig check and distro
/// detection look: redhat-release, initscripts' ifup/ifdown and
/// network-functions, and the HOSTNAME line rc.sysinit reads.
fn centos6(m: &Machine) {
    m.write("/etc/redhat-release", "CentOS release 6.10 (Final)\n");
    executable(m, "/sbin/ifup");
    executable(m, "/sbin/ifdown");
    m.write(
        "/etc/sysconfig/network-scripts/network-functions",
        "# initscripts\n",
    );
    m.write(
        "/etc/sysconfig/network",
        "NETWORKING=yes\nHOSTNAME=old.example\n",
    );
}

/// The bundled three-NIC config drive, as an ISO nova would make.
fn multinic_iso(tree: &iso_common::Tree) -> std::path::PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/configdrive-multinic");
    tree.build_from("config-2.iso", &["-V", "config-2", "-R", "-J"], &src)
}

fn boot_with(m: &Machine, device: &Path) {
    let d = device.to_str().unwrap();
    for args in [
        &["--device", d, "init", "--local"][..],
        &["--device", d, "init"][..],
        &["--device", d, "modules", "--mode=config"][..],
        &["--device", d, "modules", "--mode=final"][..],
    ] {
        m.run_ok(args, 0);
    }
}

#[test]
fn a_centos6_image_gets_every_nic_of_network_data_json() {
    let tree = iso_common::Tree::new();
    let iso = multinic_iso(&tree);
    let m = Machine::new();
    centos6(&m);
    nic(&m, "eth0", "fa:16:3e:11:22:01");
    nic(&m, "eth1", "fa:16:3e:11:22:02");
    nic(&m, "eth2", "fa:16:3e:11:22:03");
    boot_with(&m, &iso);
    let scripts = "/etc/sysconfig/network-scripts";
    let eth0 = m.read(&format!("{scripts}/ifcfg-eth0"));
    assert!(eth0.contains("HWADDR=fa:16:3e:11:22:01"), "{eth0}");
    assert!(eth0.contains("IPADDR=203.0.113.10"), "{eth0}");
    assert!(eth0.contains("BOOTPROTO=none"), "{eth0}");
    let eth1 = m.read(&format!("{scripts}/ifcfg-eth1"));
    assert!(
        eth1.contains("BOOTPROTO=dhcp") && eth1.contains("MTU=1450"),
        "{eth1}"
    );
    let eth2 = m.read(&format!("{scripts}/ifcfg-eth2"));
    assert!(
        eth2.contains("IPADDR=10.20.0.10") && eth2.contains("MTU=9000"),
        "{eth2}"
    );
    let route = m.read(&format!("{scripts}/route-eth2"));
    assert!(
        route.contains("ADDRESS0=10.30.0.0") && route.contains("GATEWAY0=10.20.0.1"),
        "{route}"
    );
    // CentOS 6 flavour: no NetworkManager-era keys, and HOSTNAME= kept by
    // the renderer; set_hostname then writes meta-data's name there (the
    // FQDN, as the RHEL family prefers), as cloud-init 22.4 does.
    assert!(!eth0.contains("IPV6_FORCE_ACCEPT_RA"), "{eth0}");
    let network = m.read("/etc/sysconfig/network");
    assert!(
        network.contains("HOSTNAME=legacy-centos6.novalocal\n"),
        "{network}"
    );
    assert!(!network.contains("old.example"), "{network}");
    assert!(network.contains("NETWORKING=yes"), "{network}");
    let status = m.run_ok(&["status", "--long", "--modules"], 0);
    assert!(
        status.contains("network: ran (applied network config from ds (new instance) with the sysconfig renderer"),
        "{status}"
    );
    // Once per instance: the next boot leaves the files alone.
    std::fs::write(m.path(&format!("{scripts}/ifcfg-eth1")), "edited\n").unwrap();
    m.reboot();
    boot_with(&m, &iso);
    assert_eq!(m.read(&format!("{scripts}/ifcfg-eth1")), "edited\n");
}

/// The same drive on a CentOS 7 root (os-release, initscripts): the RHEL
/// 7+ flavour of the same three `ifcfg` files, with NetworkManager told to
/// keep its hands off (`NM_CONTROLLED=no`, as cloud-init 22.4 writes it).
#[test]
fn a_centos7_image_gets_every_nic_of_network_data_json() {
    let tree = iso_common::Tree::new();
    let iso = multinic_iso(&tree);
    let m = Machine::new();
    m.write(
        "/etc/os-release",
        "NAME=\"CentOS Linux\"\nID=\"centos\"\nVERSION_ID=\"7\"\n",
    );
    m.write(
        "/etc/redhat-release",
        "CentOS Linux release 7.9.2009 (Core)\n",
    );
    executable(&m, "/sbin/ifup");
    executable(&m, "/sbin/ifdown");
    m.write(
        "/etc/sysconfig/network-scripts/network-functions",
        "# initscripts\n",
    );
    nic(&m, "eth0", "fa:16:3e:11:22:01");
    nic(&m, "eth1", "fa:16:3e:11:22:02");
    nic(&m, "eth2", "fa:16:3e:11:22:03");
    boot_with(&m, &iso);
    let scripts = "/etc/sysconfig/network-scripts";
    let eth0 = m.read(&format!("{scripts}/ifcfg-eth0"));
    assert!(
        eth0.contains("HWADDR=fa:16:3e:11:22:01")
            && eth0.contains("IPADDR=203.0.113.10")
            && eth0.contains("NM_CONTROLLED=no"),
        "{eth0}"
    );
    let eth1 = m.read(&format!("{scripts}/ifcfg-eth1"));
    assert!(eth1.contains("BOOTPROTO=dhcp"), "{eth1}");
    let eth2 = m.read(&format!("{scripts}/ifcfg-eth2"));
    assert!(eth2.contains("IPADDR=10.20.0.10"), "{eth2}");
    assert!(m
        .read(&format!("{scripts}/route-eth2"))
        .contains("ADDRESS0=10.30.0.0"));
    let status = m.run_ok(&["status", "--long", "--modules"], 0);
    assert!(status.contains("with the sysconfig renderer"), "{status}");
}

/// A snapshot image: its parent's cloud-init left `ifcfg-eth3` and
/// `route-eth3` for a NIC this instance does not have, and an operator wrote
/// `ifcfg-eth4` by hand. The new instance's config removes cloud-init's
/// stale pair (or the network service would bring the parent's address up
/// again) and never touches the operator's file.
#[test]
fn a_snapshot_s_stale_cloud_init_ifcfg_files_go_and_hand_written_ones_stay() {
    let tree = iso_common::Tree::new();
    let iso = multinic_iso(&tree);
    let m = Machine::new();
    centos6(&m);
    nic(&m, "eth0", "fa:16:3e:11:22:01");
    nic(&m, "eth1", "fa:16:3e:11:22:02");
    nic(&m, "eth2", "fa:16:3e:11:22:03");
    let scripts = "/etc/sysconfig/network-scripts";
    let header = "# Created by cloud-init on instance boot automatically, do not edit.\n#\n";
    m.write(
        &format!("{scripts}/ifcfg-eth3"),
        &format!("{header}BOOTPROTO=none\nDEVICE=eth3\nIPADDR=198.51.100.7\n"),
    );
    m.write(
        &format!("{scripts}/route-eth3"),
        &format!("{header}ADDRESS0=10.9.0.0\n"),
    );
    let hand = "DEVICE=eth4\nBOOTPROTO=none\nIPADDR=192.0.2.44\n";
    m.write(&format!("{scripts}/ifcfg-eth4"), hand);
    m.write(
        &format!("{scripts}/ifcfg-lo"),
        &format!("{header}DEVICE=lo\n"),
    );
    boot_with(&m, &iso);
    assert!(!m.exists(&format!("{scripts}/ifcfg-eth3")));
    assert!(!m.exists(&format!("{scripts}/route-eth3")));
    assert_eq!(m.read(&format!("{scripts}/ifcfg-eth4")), hand);
    assert!(m.exists(&format!("{scripts}/ifcfg-lo")));
    assert!(m
        .read(&format!("{scripts}/ifcfg-eth0"))
        .contains("IPADDR=203.0.113.10"));
    let status = m.run_ok(&["status", "--long", "--modules"], 0);
    assert!(status.contains("network: ran"), "{status}");
}

#[test]
fn a_scratch_root_without_sysfs_still_lists_all_three_nics() {
    let tree = iso_common::Tree::new();
    let iso = multinic_iso(&tree);
    let m = Machine::new();
    m.run_ok(&["--device", iso.to_str().unwrap(), "init", "--local"], 0);
    let eni = m.read("/etc/network/interfaces.d/50-cloud-init");
    for want in [
        "iface eth0 inet static\n    address 203.0.113.10/24",
        "iface eth1 inet dhcp",
        "iface eth2 inet static\n    address 10.20.0.10/16",
    ] {
        assert!(eni.contains(want), "{want}\n{eni}");
    }
    let rules = m.read("/etc/udev/rules.d/70-persistent-net.rules");
    assert!(
        rules.contains("ATTR{address}==\"fa:16:3e:11:22:03\", NAME=\"eth2\""),
        "{rules}"
    );
    assert!(m
        .read("/etc/network/interfaces")
        .contains("source /etc/network/interfaces.d/*"));
}

#[test]
fn network_config_disabled_in_cloud_cfg_writes_nothing() {
    let m = Machine::seeded(META, "#cloud-config\n{}\n");
    m.write(
        "/var/lib/cloud/seed/nocloud/network-config",
        "version: 2\nethernets:\n  eth0: {dhcp4: true}\n",
    );
    m.write(
        "/etc/cloud/cloud.cfg.d/99-disable-network-config.cfg",
        "network: {config: disabled}\n",
    );
    nic(&m, "eth0", "52:54:00:00:00:01");
    m.boot();
    assert!(!m.exists("/etc/network/interfaces.d/50-cloud-init"));
    assert!(!m.exists("/etc/sysconfig/network-scripts"));
    let status = m.run_ok(&["status", "--long", "--modules"], 0);
    assert!(
        status.contains("network: skipped (network config is disabled by system_cfg)"),
        "{status}"
    );
}

#[test]
fn nocloud_network_config_v2_goes_to_the_renderer_the_config_names() {
    let m = Machine::seeded(META, "#cloud-config\n{}\n");
    m.write(
        "/var/lib/cloud/seed/nocloud/network-config",
        "network:\n  version: 2\n  ethernets:\n    lan:\n      match: {macaddress: '52:54:00:00:00:02'}\n      set-name: lan\n      addresses: [192.0.2.5/24]\n      gateway4: 192.0.2.1\n",
    );
    m.write(
        "/etc/cloud/cloud.cfg.d/10-renderers.cfg",
        "system_info:\n  network:\n    renderers: [networkd]\n",
    );
    m.write("/etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
    nic(&m, "ens3", "52:54:00:00:00:02");
    let report = m.run_ok(&["boot"], 0);
    let net = m.read("/etc/systemd/network/10-cloud-init-lan.network");
    assert!(net.contains("MACAddress=52:54:00:00:00:02"), "{net}");
    assert!(net.contains("Address=192.0.2.5/24"), "{net}");
    assert!(report.contains("with the networkd renderer"), "{report}");
    // ens3 is to be called lan: down, rename, up, recorded as host actions
    // and not performed, since the root is not this machine's /.
    let steps: Vec<&str> = report
        .lines()
        .filter(|l| l.trim_start().starts_with("host ") && l.contains(" interface "))
        .map(|l| l.trim_start().split(" [").next().unwrap())
        .collect();
    assert_eq!(
        &steps[..3],
        [
            "host bring interface ens3 down",
            "host rename interface ens3 to lan",
            "host bring interface lan up"
        ],
        "{report}"
    );
    assert!(report.contains("[recorded, not performed"), "{report}");
}

#[test]
fn without_a_datasource_the_first_connected_nic_gets_dhcp() {
    let m = Machine::new();
    m.write("/etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
    for tool in ["/sbin/ifup", "/sbin/ifdown", "/sbin/ifquery"] {
        executable(&m, tool);
    }
    m.write(
        "/etc/network/interfaces",
        "source /etc/network/interfaces.d/*\n",
    );
    nic(&m, "eth1", "52:54:00:00:00:11");
    nic(&m, "eth0", "52:54:00:00:00:10");
    // The local stage finds nothing (no seed): fallback, DHCP on eth0.
    m.run_ok(&["init", "--local"], 0);
    let eni = m.read("/etc/network/interfaces.d/50-cloud-init");
    assert!(eni.contains("auto eth0\niface eth0 inet dhcp"), "{eni}");
    assert!(!eni.contains("eth1"), "{eni}");
    // The main file already read interfaces.d: left as it was.
    assert_eq!(
        m.read("/etc/network/interfaces"),
        "source /etc/network/interfaces.d/*\n"
    );
}

#[test]
fn the_kernel_command_line_beats_the_datasource() {
    let m = Machine::seeded(META, "#cloud-config\n{}\n");
    m.write(
        "/var/lib/cloud/seed/nocloud/network-config",
        "version: 2\nethernets:\n  eth0: {dhcp4: true}\n",
    );
    // network-config=<base64 of a v1 static config> on the kernel command line.
    let v1 = "version: 1\nconfig:\n- type: physical\n  name: eth0\n  mac_address: '52:54:00:00:00:01'\n  subnets: [{type: static, address: 198.51.100.7/24}]\n";
    let b64 = base64(v1.as_bytes());
    m.write("/proc/cmdline", &format!("ro quiet network-config={b64}\n"));
    nic(&m, "eth0", "52:54:00:00:00:01");
    m.run_ok(&["init", "--local"], 0);
    let eni = m.read("/etc/network/interfaces.d/50-cloud-init");
    assert!(eni.contains("address 198.51.100.7/24"), "{eni}");
    assert!(!eni.contains("dhcp"), "{eni}");
}

fn base64(data: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
