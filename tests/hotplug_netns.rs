//! Network hotplug for real: a guest network namespace whose one NIC
//! (`eth0`) came up from a first boot's config (a config drive seed whose
//! user-data asks for hotplug events), then a second NIC (`eth1`, a veth to
//! a peer with its own dnsmasq range) plugged in at runtime while the
//! metadata now names it. The hook runs as udev would run it
//! (`devel hotplug-hook -s net handle -d /devices/virtual/net/eth1 -u add`)
//! and the NIC must come up with its lease; unplugged and run with
//! `-u remove`, its config must be gone.
//!
//! The hook acts on the running machine only when the root is `/`, so it
//! runs with `--root /` inside the guest namespace's private mount namespace
//! (`ip netns exec`), where `/` is remounted read-only and the scratch
//! root's `/etc/network`, `/etc/udev`, `/etc/cloud`, `/var/lib` and
//! `/var/log` are bound over the machine's, `/run` is a fresh tmpfs and
//! `/sys` is the namespace's: anything written anywhere else fails instead
//! of touching the host.

mod common;
mod netns_common;

use std::process::{Command, Output};

use common::{Machine, BIN};
use netns_common::{lab, v4_address as v4, Lab, Nic};

const ETH0: Nic = Nic {
    name: "eth0",
    mac: "fa:16:3e:41:00:10",
    peer_addr: Some("10.41.0.1/24"),
    dhcp_range: Some(("10.41.0.50", "10.41.0.60")),
};

const ETH1: Nic = Nic {
    name: "eth1",
    mac: "fa:16:3e:42:00:11",
    peer_addr: Some("10.42.0.1/24"),
    dhcp_range: Some(("10.42.0.50", "10.42.0.60")),
};

const SEED: &str = "/var/lib/cloud/seed/config_drive/openstack/latest";
const ENI: &str = "/etc/network/interfaces.d/50-cloud-init";

/// `network_data.json` with a DHCP network on each of `macs`.
fn network_data(macs: &[&str]) -> String {
    let links: Vec<String> = macs
        .iter()
        .enumerate()
        .map(|(i, m)| {
            format!(r#"{{"id": "tap{i}", "type": "ovs", "ethernet_mac_address": "{m}"}}"#)
        })
        .collect();
    let networks: Vec<String> = (0..macs.len())
        .map(|i| format!(r#"{{"id": "n{i}", "link": "tap{i}", "type": "ipv4_dhcp"}}"#))
        .collect();
    format!(
        r#"{{"links": [{}], "networks": [{}], "services": []}}"#,
        links.join(", "),
        networks.join(", ")
    )
}

fn root(user_data: &str) -> Machine {
    let m = Machine::new();
    m.write(
        &format!("{SEED}/meta_data.json"),
        r#"{"uuid": "hotplug-netns-1", "hostname": "hotplug"}"#,
    );
    m.write(
        &format!("{SEED}/network_data.json"),
        &network_data(&[ETH0.mac]),
    );
    m.write(&format!("{SEED}/user_data"), user_data);
    m.write("/etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
    m.write(
        "/etc/cloud/cloud.cfg.d/10-lab.cfg",
        "datasource_list: [ConfigDrive, None]\nsystem_info:\n  network:\n    renderers: [eni]\n",
    );
    for d in ["/sys", "/etc/udev/rules.d", "/var/lib/dhcp", "/var/log"] {
        std::fs::create_dir_all(m.path(d)).unwrap();
    }
    m
}

/// A boot stage in the guest, against the scratch root, with the
/// namespace's sysfs bound over the root's `/sys`.
fn stage_in_guest(lab: &Lab, m: &Machine, args: &[&str]) {
    let root = m.root().display().to_string();
    let out = Command::new("ip")
        .args(["netns", "exec", &lab.guest, "sh", "-ec"])
        .arg("mount --bind /sys \"$1/sys\"; shift; exec \"$@\"")
        .args(["sh", &root, BIN, "--root", &root])
        .args(args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
}

/// The hook as udev runs it, on the guest as its `/` (see the module
/// comment); returns its exit code, its stderr, and the guest's `ip -br
/// addr` right after. A DHCP client it started is stopped.
fn hook(lab: &Lab, m: &Machine, nic: &str, action: &str) -> (i32, String, String) {
    let scratch = lab.dir.path();
    std::fs::write(scratch.join("resolv.conf"), "").unwrap();
    let devpath = format!("/devices/virtual/net/{nic}");
    // The binds before `/` goes read-only: a bind keeps the flags of the
    // mount it is made from.
    let script = r#"root=$1; scratch=$2; shift 2
        mount -t tmpfs none /run
        for d in /etc/network /etc/udev /etc/cloud /var/lib /var/log; do
            mount --bind "$root$d" "$d"
        done
        mount --bind "$scratch/resolv.conf" /etc/resolv.conf
        mount -o remount,bind,ro /
        if "$@" 2>/run/hook.err; then code=0; else code=$?; fi
        echo "=== exit $code"
        ip -br addr
        echo "=== stderr"
        cat /run/hook.err
        for p in /run/dhclient*.pid; do [ -f "$p" ] && kill "$(cat "$p")"; done; true"#;
    let out: Output = Command::new("ip")
        .args(["netns", "exec", &lab.guest, "sh", "-ec", script, "sh"])
        .arg(m.root())
        .arg(scratch)
        .args([BIN, "--root", "/", "devel", "hotplug-hook", "-s", "net"])
        .args(["handle", "-d", &devpath, "-u", action])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{out:?}");
    let (head, rest) = stdout.split_once("\n").unwrap_or_default();
    let code: i32 = head
        .strip_prefix("=== exit ")
        .unwrap_or_else(|| panic!("{stdout}"))
        .trim()
        .parse()
        .unwrap();
    let (state, err) = rest.split_once("=== stderr\n").unwrap_or((rest, ""));
    (code, err.to_string(), state.to_string())
}

#[test]
fn a_nic_plugged_in_comes_up_and_one_pulled_out_loses_its_config() {
    let Some(mut lab) = lab(&[ETH0]) else { return };
    let m = root("#cloud-config\nupdates:\n  network:\n    when: [boot-new-instance, hotplug]\n");
    // First boot: eth0's config, and the user-data that asks for hotplug.
    stage_in_guest(&lab, &m, &["init", "--local"]);
    stage_in_guest(&lab, &m, &["init"]);
    let eni = m.read(ENI);
    assert!(
        eni.contains("iface eth0 inet dhcp") && !eni.contains("eth1"),
        "{eni}"
    );
    let out = lab.ifup_all(&m.path("/etc/network"));
    let log = String::from_utf8_lossy(&out.stdout).into_owned();
    let state = log.split("=== state").nth(1).unwrap_or_default();
    let eth0 = v4(state, "eth0").unwrap_or_else(|| panic!("eth0 is not up:\n{log}"));
    assert!(eth0.starts_with("10.41.0."), "{eth0}");

    // eth1 is plugged in; the metadata now names it.
    lab.add_nic(1, &ETH1);
    m.write(
        &format!("{SEED}/network_data.json"),
        &network_data(&[ETH0.mac, ETH1.mac]),
    );
    let (code, err, state) = hook(&lab, &m, "eth1", "add");
    assert_eq!(code, 0, "{err}\n{state}");
    let eth1 = v4(&state, "eth1").unwrap_or_else(|| panic!("eth1 has no address:\n{state}\n{err}"));
    assert!(eth1.starts_with("10.42.0."), "{eth1}");
    assert!(
        v4(&state, "eth0").is_some(),
        "eth0 lost its address:\n{state}"
    );
    let eni = m.read(ENI);
    assert!(eni.contains("iface eth1 inet dhcp"), "{eni}");
    let rules = m.read("/etc/udev/rules.d/70-persistent-net.rules");
    assert!(
        rules.contains(ETH1.mac) && rules.contains("NAME=\"eth1\""),
        "{rules}"
    );
    let cache = m.read("/var/lib/cloud/instances/hotplug-netns-1/cloudboot-datasource.json");
    assert!(
        cache.contains(ETH1.mac),
        "the cache does not have the new metadata"
    );

    // eth1 is pulled out; the metadata no longer names it.
    let out = Command::new("ip")
        .args(["-n", &lab.guest, "link", "del", "eth1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    m.write(
        &format!("{SEED}/network_data.json"),
        &network_data(&[ETH0.mac]),
    );
    let (code, err, state) = hook(&lab, &m, "eth1", "remove");
    assert_eq!(code, 0, "{err}\n{state}");
    let eni = m.read(ENI);
    assert!(
        eni.contains("iface eth0 inet dhcp") && !eni.contains("eth1"),
        "{eni}"
    );
    assert!(!m
        .read("/etc/udev/rules.d/70-persistent-net.rules")
        .contains(ETH1.mac));
    assert!(!m
        .read("/var/lib/cloud/instances/hotplug-netns-1/cloudboot-datasource.json")
        .contains(ETH1.mac));
}

/// The metadata does not name the new NIC: every attempt fails (22.4's
/// five, 49 s of waiting), the hook exits 1 and writes nothing.
#[test]
fn a_nic_the_metadata_does_not_name_is_refused() {
    let Some(mut lab) = lab(&[ETH0]) else { return };
    let m = root("#cloud-config\nupdates:\n  network:\n    when: [boot-new-instance, hotplug]\n");
    stage_in_guest(&lab, &m, &["init", "--local"]);
    stage_in_guest(&lab, &m, &["init"]);
    let before = m.read(ENI);
    lab.add_nic(1, &ETH1);
    let (code, err, state) = hook(&lab, &m, "eth1", "add");
    assert_eq!(code, 1, "{err}\n{state}");
    assert!(
        err.contains(&format!(
            "Failed to detect {} in updated metadata",
            ETH1.mac
        )),
        "{err}"
    );
    assert_eq!(m.read(ENI), before);
    assert_eq!(v4(&state, "eth1"), None);
}

/// Hotplug not asked for: the hook does nothing and exits 0.
#[test]
fn without_hotplug_in_the_config_the_hook_does_nothing() {
    let Some(mut lab) = lab(&[ETH0]) else { return };
    let m = root("#cloud-config\n{}\n");
    stage_in_guest(&lab, &m, &["init", "--local"]);
    stage_in_guest(&lab, &m, &["init"]);
    let before = m.read(ENI);
    lab.add_nic(1, &ETH1);
    m.write(
        &format!("{SEED}/network_data.json"),
        &network_data(&[ETH0.mac, ETH1.mac]),
    );
    let (code, err, state) = hook(&lab, &m, "eth1", "add");
    assert_eq!(code, 0, "{err}");
    assert_eq!(m.read(ENI), before);
    assert_eq!(v4(&state, "eth1"), None, "{state}");
}
