//! The opt-in all-NICs fallback, for real: a guest network namespace with
//! three NICs (veths named `eth0`..`eth2`, down, as at boot), each to a
//! peer in a "cloud" namespace with its own dnsmasq range. cloudboot's
//! local stage runs in the guest namespace against a scratch root with a
//! NoCloud seed that has no network config (so the fallback applies) and
//! the namespace's own sysfs bound over the root's `/sys`: the fallback
//! reads the NICs the kernel shows there, as on a machine. What the ENI
//! renderer wrote is then brought up by ifupdown in the guest.
//!
//! With `cloudboot: {network: {fallback: all-nics}}` in cloud.cfg.d every
//! NIC gets its lease from its own range; without it (22.4's fallback)
//! only the first does. `plan` names the NICs.

mod common;
mod netns_common;

use std::process::{Command, Output};

use common::{Machine, BIN};
use netns_common::{lab, v4_address as v4, Lab, Nic};

const NICS: &[Nic] = &[
    Nic {
        name: "eth0",
        mac: "02:00:0a:31:00:10",
        peer_addr: Some("10.31.0.1/24"),
        dhcp_range: Some(("10.31.0.50", "10.31.0.60")),
    },
    Nic {
        name: "eth1",
        mac: "02:00:0a:32:00:11",
        peer_addr: Some("10.32.0.1/24"),
        dhcp_range: Some(("10.32.0.50", "10.32.0.60")),
    },
    Nic {
        name: "eth2",
        mac: "02:00:0a:33:00:12",
        peer_addr: Some("10.33.0.1/24"),
        dhcp_range: Some(("10.33.0.50", "10.33.0.60")),
    },
];

const ALL_NICS: &str = "cloudboot:\n  network:\n    fallback: all-nics\n";

/// A Debian 12 root rendering ENI, with a NoCloud seed that has no
/// network config; `setting` goes into cloud.cfg.d.
fn root(setting: Option<&str>) -> Machine {
    let m = Machine::seeded(
        "instance-id: iid-fallback-all\nlocal-hostname: fallback\n",
        "#cloud-config\n{}\n",
    );
    m.write("/etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
    // Only the seed: the host's DMI (seen through the bound sysfs) must not
    // send any other datasource looking for a metadata service.
    m.write(
        "/etc/cloud/cloud.cfg.d/10-lab.cfg",
        "datasource_list: [NoCloud, None]\nsystem_info:\n  network:\n    renderers: [eni]\n",
    );
    if let Some(s) = setting {
        m.write("/etc/cloud/cloud.cfg.d/90-fallback.cfg", s);
    }
    std::fs::create_dir_all(m.path("/sys")).unwrap();
    m
}

/// `cloudboot --root ROOT ARGS` in the guest namespace, with the
/// namespace's sysfs (which `ip netns exec` mounts) bound over the root's
/// `/sys`, in the private mount namespace `ip netns exec` gives.
fn in_guest(lab: &Lab, m: &Machine, args: &[&str]) -> Output {
    let root = m.root().display().to_string();
    let script = "mount --bind /sys \"$1/sys\"; shift; exec \"$@\"";
    Command::new("ip")
        .args(["netns", "exec", &lab.guest, "sh", "-ec", script, "sh"])
        .arg(&root)
        .args([BIN, "--root", &root])
        .args(args)
        .output()
        .unwrap()
}

/// The local stage in the guest, then ifupdown on what it wrote; returns
/// the guest's `ip -br addr` after bring-up and ifup's log.
fn boot_and_ifup(lab: &Lab, m: &Machine) -> (String, String) {
    let out = in_guest(lab, m, &["init", "--local"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "init --local\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = lab.ifup_all(&m.path("/etc/network"));
    let log = String::from_utf8_lossy(&out.stdout).into_owned();
    let state = log
        .split("=== state")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    assert!(!state.is_empty(), "no state after ifup:\n{log}");
    (state, log)
}

fn in_range(addr: &str, net: &str) -> bool {
    let ip = addr.split('/').next().unwrap_or_default();
    let last: u8 = ip.rsplit('.').next().unwrap().parse().unwrap();
    ip.starts_with(net) && (50..=60).contains(&last)
}

#[test]
fn all_nics_setting_gives_every_nic_its_lease() {
    let Some(lab) = lab(NICS) else { return };
    let m = root(Some(ALL_NICS));

    // The plan says what the fallback will do, before anything is written.
    let plan = in_guest(&lab, &m, &["plan", "--stage", "local"]);
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(
        text.contains(
            "fallback, DHCP on every NIC (cloudboot.network.fallback: all-nics): eth0, eth1, eth2"
        ),
        "{text}\n{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    assert!(!m.exists("/etc/network/interfaces.d/50-cloud-init"));

    let (state, log) = boot_and_ifup(&lab, &m);
    let eni = m.read("/etc/network/interfaces.d/50-cloud-init");
    for n in ["eth0", "eth1", "eth2"] {
        assert!(eni.contains(&format!("iface {n} inet dhcp")), "{eni}");
    }
    for (name, net) in [
        ("eth0", "10.31.0."),
        ("eth1", "10.32.0."),
        ("eth2", "10.33.0."),
    ] {
        let addr =
            v4(&state, name).unwrap_or_else(|| panic!("{name} has no address:\n{state}\n{log}"));
        assert!(
            in_range(&addr, net),
            "{name}: {addr} is not from its range\n{state}"
        );
    }
}

#[test]
fn without_the_setting_only_the_first_nic_gets_a_lease() {
    let Some(lab) = lab(NICS) else { return };
    let m = root(None);
    let (state, log) = boot_and_ifup(&lab, &m);
    let eni = m.read("/etc/network/interfaces.d/50-cloud-init");
    assert!(eni.contains("iface eth0 inet dhcp"), "{eni}");
    assert!(!eni.contains("eth1") && !eni.contains("eth2"), "{eni}");
    let addr = v4(&state, "eth0").unwrap_or_else(|| panic!("eth0 has no address:\n{state}\n{log}"));
    assert!(in_range(&addr, "10.31.0."), "{addr}");
    assert_eq!(v4(&state, "eth1"), None, "{state}");
    assert_eq!(v4(&state, "eth2"), None, "{state}");
}
