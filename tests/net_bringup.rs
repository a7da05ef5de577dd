//! Brought up for real: a ConfigDrive `network_data.json` with three NICs
//! (static with the default route, DHCP, static v4+v6 with an MTU, a route
//! and a second gateway the metadata also marks default) goes through a
//! whole local stage into a scratch root whose `/sys/class/net` lists the
//! NICs by MAC. What cloudboot wrote is then brought up by the real tools
//! in a network namespace whose veth NICs carry those MACs, against a peer
//! namespace with a dnsmasq DHCP server: ifupdown for ENI, and
//! systemd-networkd for networkd (directly, and from netplan's generated
//! files when netplan is installed). The checks are what `ip` shows.
//!
//! Bonds and VLANs are not brought up here: this kernel has no bonding or
//! 8021q driver to create them (their files are checked against cloud-init
//! and, for networkd, parsed by networkd in the renderers' tests).

mod common;
mod netns_common;

use common::Machine;
use netns_common::{lab, Lab, THREE_NICS as NICS};

/// A scratch root: a config drive seed, the lab's NICs in its sysfs, and
/// the distro bits that choose the renderer.
fn seeded_root(renderer: &str) -> Machine {
    let m = netns_common::config_drive_root(
        r#"{"uuid": "0d6c1f4e-bring-up", "hostname": "bringup"}"#,
        &netns_common::three_nics_network_data("[]"),
        NICS,
    );
    m.write("/etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
    m.write(
        "/etc/cloud/cloud.cfg.d/10-renderer.cfg",
        &format!("system_info:\n  network:\n    renderers: [{renderer}]\n"),
    );
    m.run_ok(&["init", "--local"], 0);
    m
}

fn addrs_and_routes(lab: &Lab, out: &std::process::Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let state = text
        .split("=== state")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    assert!(
        !state.is_empty(),
        "no state after bring-up:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = lab;
    state
}

/// What every renderer's output must come up as.
fn assert_up(state: &str, log: &str) {
    let line = |name: &str| {
        state
            .lines()
            .find(|l| l.starts_with(name) && l.contains("UP"))
            .unwrap_or_else(|| panic!("{name} is not up:\n{state}\n{log}"))
            .to_string()
    };
    assert!(line("eth0").contains("10.10.0.5/24"), "{state}");
    assert!(
        line("eth1").contains("10.20.0.1"),
        "eth1 has no DHCP lease:\n{state}\n{log}"
    );
    let eth2 = line("eth2");
    assert!(
        eth2.contains("10.30.0.5/24") && eth2.contains("fd00:30::5/64"),
        "{state}"
    );
    // One default route, the first the metadata gives; eth2's is not made one.
    let defaults: Vec<&str> = state
        .lines()
        .filter(|l| l.starts_with("default via 10."))
        .collect();
    assert_eq!(defaults.len(), 1, "{state}");
    assert!(
        defaults[0].starts_with("default via 10.10.0.1 dev eth0"),
        "{state}"
    );
    assert!(
        state
            .lines()
            .any(|l| l.starts_with("10.99.0.0/16 via 10.30.0.1 dev eth2")),
        "{state}"
    );
    assert!(
        state
            .lines()
            .any(|l| l.contains(": eth2") && l.contains("mtu 1400")),
        "{state}"
    );
}

#[test]
fn eni_output_comes_up_under_ifupdown() {
    let Some(lab) = lab(NICS) else { return };
    let m = seeded_root("eni");
    let eni = m.read("/etc/network/interfaces.d/50-cloud-init");
    assert!(eni.contains("iface eth2 inet6 static"), "{eni}");
    let out = lab.ifup_all(&m.path("/etc/network"));
    let log = String::from_utf8_lossy(&out.stdout).into_owned();
    // As on Debian 12 and current Ubuntu: no net-tools, so a route written
    // for `route` would be lost (behind `|| true`); the routes must come up
    // with iproute2 alone.
    assert!(
        log.contains(netns_common::NET_TOOLS_HIDDEN),
        "route was not hidden:\n{log}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!log.contains("ifup failed"), "{log}");
    assert!(!log.contains("route: not found"), "{log}");
    let state = addrs_and_routes(&lab, &out);
    assert_up(&state, &log);
}

#[test]
fn networkd_output_comes_up_under_systemd_networkd() {
    let Some(lab) = lab(NICS) else { return };
    let m = seeded_root("networkd");
    let ready = "ip -4 addr show eth1 | grep -q 'inet 10.20.0.1' && ip -6 addr show eth2 | grep -q fd00:30::5 && ip route | grep -q 10.99.0.0";
    let out = lab.networkd(&m.path("/etc/systemd/network"), ready);
    let log = String::from_utf8_lossy(&out.stdout).into_owned();
    let state = addrs_and_routes(&lab, &out);
    assert_up(&state, &log);
}

#[test]
fn netplan_output_comes_up_through_netplan_generate_and_networkd() {
    if !common::skip::require(&[common::skip::Need::Program("netplan", "netplan.io")]) {
        return;
    }
    let Some(lab) = lab(NICS) else { return };
    let m = seeded_root("netplan");
    // netplan's own generator turns our YAML into networkd files under the root.
    let gen = std::process::Command::new(common::skip::program("netplan").unwrap())
        .arg("generate")
        .arg("--root-dir")
        .arg(m.root())
        .output()
        .unwrap();
    assert!(
        gen.status.success(),
        "netplan generate: {}",
        String::from_utf8_lossy(&gen.stderr)
    );
    let generated = m.path("/run/systemd/network");
    // netplan 0.106 matches on PermanentMACAddress=, the burned-in address
    // a real NIC has and a veth does not: match the lab's NICs by their
    // current MAC instead (the same value).
    for entry in std::fs::read_dir(&generated).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap();
        if text.contains("PermanentMACAddress=") {
            std::fs::write(
                entry.path(),
                text.replace("PermanentMACAddress=", "MACAddress="),
            )
            .unwrap();
        }
    }
    let ready = "ip -4 addr show eth1 | grep -q 'inet 10.20.0.1' && ip -6 addr show eth2 | grep -q fd00:30::5 && ip route | grep -q 10.99.0.0";
    let out = lab.networkd(&generated, ready);
    let log = String::from_utf8_lossy(&out.stdout).into_owned();
    let state = addrs_and_routes(&lab, &out);
    assert_up(&state, &log);
}

/// A snapshot image whose eth0 came up with its parent's address: after the
/// ENI files are up, eth0 also carries 192.0.2.99. The network stage's
/// decision, made from the guest's real `ip -o addr`, takes eth0 down and up
/// again with the distro's tools (the exact host action cloudboot would
/// run), and afterwards eth0 has the new address only.
#[test]
fn a_stale_address_goes_when_the_interface_is_taken_down_and_up_again() {
    let Some(lab) = lab(NICS) else { return };
    let m = seeded_root("eni");
    // The root's ifupdown, as the renderer choice looks for it.
    for tool in ["/sbin/ifup", "/sbin/ifdown", "/sbin/ifquery"] {
        m.write(tool, "#!/bin/sh\n");
        std::fs::set_permissions(
            m.path(tool),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
    }
    let net = m.path("/etc/network");
    let up = lab.ifup_all(&net);
    assert!(String::from_utf8_lossy(&up.stdout).contains("10.10.0.5/24"));
    let added = lab.guest_sh("ip addr add 192.0.2.99/24 dev eth0");
    assert!(added.status.success(), "{added:?}");

    let listing = lab.guest_sh("ip -o addr show");
    let current =
        cloudboot::net::apply::current_addresses(&String::from_utf8_lossy(&listing.stdout));
    // eth0 as the metadata configures it (static only).
    let cfg = cloudboot::yaml::load(
        b"version: 1\nconfig:\n- {type: physical, name: eth0, mac_address: 'fa:16:3e:00:00:10', subnets: [{type: static, address: 10.10.0.5/24, gateway: 10.10.0.1}]}\n",
        "test",
    )
    .unwrap();
    let macs = [("fa:16:3e:00:00:10".to_string(), "eth0".to_string())]
        .into_iter()
        .collect();
    let fs = cloudboot::rootfs::RealFs {
        root: cloudboot::rootfs::Root::new(m.root()),
    };
    let (effects, notes) = cloudboot::net::apply::stale_reups(
        &fs,
        &cloudboot::distro::OsRelease::read(&fs),
        &cloudboot::value::Value::empty_map(),
        &cfg,
        &macs,
        &current,
    );
    assert!(notes.is_empty(), "{notes:?}");
    let [cloudboot::effect::Effect::Host(action)] = &effects[..] else {
        panic!("{effects:?}")
    };
    assert!(action.what.contains("192.0.2.99"), "{}", action.what);
    let argv: Vec<String> = action
        .argv
        .iter()
        .map(|a| cloudboot::effect::shell_quote(a))
        .collect();
    // The action runs where ifupdown reads the rendered files.
    let script = format!(
        "mount -t tmpfs none /run
         mount --bind {net} /etc/network
         mkdir -p /var/lib/dhcp
         {argv}
         echo '=== state'
         ip -br addr",
        net = net.display(),
        argv = argv.join(" "),
    );
    let out = lab.guest_sh(&script);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let state = text.split("=== state").nth(1).unwrap_or_default();
    let eth0 = state
        .lines()
        .find(|l| l.starts_with("eth0"))
        .unwrap_or_default();
    assert!(
        eth0.contains("10.10.0.5/24") && !eth0.contains("192.0.2.99"),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
