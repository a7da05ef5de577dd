//! A network lab for bring-up tests: two network namespaces joined by veth
//! pairs. The guest namespace holds the NICs (with the MACs the metadata
//! names); the cloud namespace holds their peers, with addresses and a
//! dnsmasq DHCP server. What cloudboot rendered is then brought up by the
//! real tools (ifupdown, systemd-networkd) inside the guest namespace, in a
//! private mount namespace where the rendered directory is bound over the
//! path the tool reads, so nothing of the host's `/etc`, `/run` or network
//! is touched.
//!
//! Needs root, iproute2, dnsmasq, ifupdown with dhclient, systemd-networkd
//! ([`LAB`]). Without them [`lab`] returns `None` and the test says it is
//! skipped (`common::skip`), or fails under `CLOUDBOOT_REQUIRE_ROOT_TESTS`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::common::skip::{self, Need};

/// One guest NIC and its peer in the cloud namespace.
pub struct Nic {
    /// The name in the guest namespace.
    pub name: &'static str,
    pub mac: &'static str,
    /// The peer's address (e.g. `10.20.0.1/24`, or a v6 one), if any.
    pub peer_addr: Option<&'static str>,
    /// Serve DHCPv4 on the peer: the range's first and last address.
    pub dhcp_range: Option<(&'static str, &'static str)>,
}

pub struct Lab {
    pub guest: String,
    pub cloud: String,
    pub dir: tempfile::TempDir,
    dnsmasq: Vec<PathBuf>,
    /// dnsmasq's extra options, for every NIC's server.
    dhcp_options: Vec<String>,
}

/// Shell lines that make net-tools' `route` disappear in the private mount
/// namespace of a guest script: every real directory of the `PATH` ifupdown
/// gives its hooks that holds a `route` is replaced by a tmpfs of symlinks
/// to everything it held but `route` (the directory itself stays reachable
/// under `/run/real-*`, so `ip`, `ifup` and `dhclient` work as before).
/// Fails the script if `route` can still be found, and prints
/// [`NET_TOOLS_HIDDEN`] once it is gone. Needs `/run` to be a tmpfs.
pub const HIDE_NET_TOOLS: &str = r#"for d in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
                 if [ -d "$d" ] && [ ! -L "$d" ] && [ -e "$d/route" ]; then
                     real=/run/real-$(echo "$d" | tr / _)
                     mkdir -p "$real" && mount --bind "$d" "$real"
                     mount -t tmpfs none "$d"
                     for f in "$real"/* "$real"/.[!.]*; do
                         [ -e "$f" ] || [ -L "$f" ] || continue
                         name=${f##*/}
                         if [ "$name" = route ]; then continue; fi
                         # A relative link resolves the same from $d.
                         if [ -L "$f" ]; then ln -s "$(readlink "$f")" "$d/$name"
                         else ln -s "$f" "$d/$name"; fi
                     done
                 fi
             done
             export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
             if command -v route >/dev/null 2>&1; then echo "route is still there: $(command -v route)"; exit 1; fi
             echo '=== net-tools hidden'"#;

/// The line [`HIDE_NET_TOOLS`] prints once `route` is gone.
pub const NET_TOOLS_HIDDEN: &str = "=== net-tools hidden";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn run(argv: &[&str]) -> Output {
    Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"))
}

fn run_ok(argv: &[&str]) {
    let out = run(argv);
    assert!(
        out.status.success(),
        "{argv:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What the lab needs: root for the namespaces, and the real tools.
pub const LAB: &[Need] = &[
    Need::Root("to make network namespaces"),
    Need::Program("ip", "iproute2"),
    Need::Program("dnsmasq", "dnsmasq-base"),
    Need::Program("ifup", "ifupdown"),
    Need::Program("dhclient", "isc-dhcp-client"),
    Need::Program("systemd-networkd", "systemd"),
];

/// The lab, or `None` when it cannot run here (the test is skipped: see
/// `common::skip`).
pub fn lab(nics: &[Nic]) -> Option<Lab> {
    skip::require(LAB).then(|| Lab::new(nics, &[]))
}

/// As [`lab`], with dnsmasq also given `dhcp_options` (`--dhcp-option=...`
/// arguments: a router, classless static routes, vendor options). One that
/// sets option 3 replaces the lab's default of no router.
pub fn lab_with_dhcp_options(nics: &[Nic], dhcp_options: &[&str]) -> Option<Lab> {
    skip::require(LAB).then(|| Lab::new(nics, dhcp_options))
}

impl Lab {
    fn new(nics: &[Nic], dhcp_options: &[&str]) -> Lab {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let tag = format!("{}-{n}", std::process::id());
        let lab = Lab {
            guest: format!("cbguest-{tag}"),
            cloud: format!("cbcloud-{tag}"),
            dir: tempfile::tempdir().unwrap(),
            dnsmasq: Vec::new(),
            dhcp_options: Vec::new(),
        };
        run_ok(&["ip", "netns", "add", &lab.guest]);
        run_ok(&["ip", "netns", "add", &lab.cloud]);
        let mut lab = lab;
        lab.dhcp_options = dhcp_options.iter().map(|o| o.to_string()).collect();
        for (i, nic) in nics.iter().enumerate() {
            lab.add_nic(i, nic);
        }
        lab
    }

    /// Adds a NIC (and its peer `c<index>`, and a dnsmasq for its range)
    /// to a running lab: at creation, or later as a NIC hotplugged into a
    /// running guest.
    pub fn add_nic(&mut self, index: usize, nic: &Nic) {
        let peer = format!("c{index}");
        run_ok(&[
            "ip",
            "link",
            "add",
            nic.name,
            "address",
            nic.mac,
            "netns",
            &self.guest,
            "type",
            "veth",
            "peer",
            "name",
            &peer,
            "netns",
            &self.cloud,
        ]);
        if let Some(addr) = nic.peer_addr {
            run_ok(&["ip", "-n", &self.cloud, "addr", "add", addr, "dev", &peer]);
        }
        run_ok(&["ip", "-n", &self.cloud, "link", "set", &peer, "up"]);
        if let Some((first, last)) = nic.dhcp_range {
            let pid = self.dir.path().join(format!("dnsmasq-{peer}.pid"));
            let leases = self.dir.path().join(format!("dnsmasq-{peer}.leases"));
            let range = format!("--dhcp-range={first},{last},255.255.255.0,1h");
            let interface = format!("--interface={peer}");
            let leasefile = format!("--dhcp-leasefile={}", leases.display());
            let pidfile = format!("--pid-file={}", pid.display());
            let mut argv = vec![
                "ip",
                "netns",
                "exec",
                &self.cloud,
                "dnsmasq",
                "--conf-file=/dev/null",
                "--port=0",
                &interface,
                "--bind-interfaces",
            ];
            // No router option unless asked: default routes come from
            // the metadata, so tests can count them.
            let router_given = self
                .dhcp_options
                .iter()
                .any(|o| o.starts_with("--dhcp-option=3,"));
            if !router_given {
                argv.push("--dhcp-option=3");
            }
            argv.extend(self.dhcp_options.iter().map(String::as_str));
            argv.extend([range.as_str(), leasefile.as_str(), pidfile.as_str()]);
            run_ok(&argv);
            self.dnsmasq.push(pid);
        }
    }

    /// Runs a shell script in the guest namespace, in a private mount
    /// namespace (`ip netns exec` makes one, and its mounts stay in it).
    pub fn guest_sh(&self, script: &str) -> Output {
        run(&["ip", "netns", "exec", &self.guest, "sh", "-ec", script])
    }

    /// `ip -br addr` and `ip route` of the guest, for assertions.
    pub fn guest_state(&self) -> String {
        let out = self.guest_sh("ip -br addr; ip route; ip -6 route; ip link");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Brings up what an ENI renderer wrote, as on Debian 12 or a current
    /// Ubuntu, which do not install net-tools: its `route` is hidden first
    /// (see [`HIDE_NET_TOOLS`]; the output then has a line
    /// [`NET_TOOLS_HIDDEN`]). Then `etc_network` (the root's
    /// `/etc/network`, with `interfaces` sourcing `interfaces.d`) is bound
    /// over `/etc/network`, and `ifup -a` runs with its state, leases and
    /// resolv.conf in scratch places. Returns ifup's output, then a line
    /// `=== state` and the guest's addresses, routes and links.
    pub fn ifup_all(&self, etc_network: &Path) -> Output {
        let scratch = self.dir.path();
        for d in ["if-up.d", "if-down.d", "if-pre-up.d", "if-post-down.d"] {
            std::fs::create_dir_all(etc_network.join(d)).unwrap();
        }
        std::fs::create_dir_all(scratch.join("dhcp")).unwrap();
        std::fs::write(scratch.join("resolv.conf"), "").unwrap();
        let script = format!(
            "mount -t tmpfs none /run
             {hide}
             mount --bind {net} /etc/network
             mount --bind {s}/resolv.conf /etc/resolv.conf
             mkdir -p /var/lib/dhcp && mount --bind {s}/dhcp /var/lib/dhcp
             ifup -a -v 2>&1 || echo \"ifup failed: $?\"
             echo '=== state'
             ip -br addr; ip route; ip -6 route; ip link
             # dhclient outlives ifup; stop it (without a release) so the
             # namespace can go.
             for p in /run/dhclient*.pid; do [ -f \"$p\" ] && kill $(cat \"$p\"); done; true",
            hide = HIDE_NET_TOOLS,
            net = etc_network.display(),
            s = scratch.display(),
        );
        self.guest_sh(&script)
    }

    /// Brings up what a networkd renderer wrote: `network_dir` (the root's
    /// `/etc/systemd/network`) is bound over `/etc/systemd/network` and
    /// systemd-networkd runs until `ready` (a shell test) holds or 15 s
    /// pass. `/sys` is read-only there, as in a container, so networkd does
    /// not wait for a udev that is not running. Returns networkd's log, then
    /// `=== state` and the guest's addresses, routes and links.
    pub fn networkd(&self, network_dir: &Path, ready: &str) -> Output {
        let script = format!(
            "mount -o remount,ro /sys
             mount -t tmpfs none /run
             mkdir -p /run/systemd/netif/links /run/systemd/netif/leases /run/systemd/netif/lldp
             chown -R systemd-network:systemd-network /run/systemd/netif
             mount --bind {dir} /etc/systemd/network
             /lib/systemd/systemd-networkd > {log} 2>&1 &
             pid=$!
             # Up to 45 s: a DHCP DISCOVER lost while the machine is busy is
             # retried by networkd only after a back-off of several seconds.
             i=0
             while [ $i -lt 225 ]; do
                 if {ready}; then break; fi
                 sleep 0.2; i=$((i+1))
             done
             # The state while networkd still runs: stopped, it drops its
             # DHCP addresses (\"DHCP lease lost\"), racing this dump.
             {{ ip -br addr; ip route; ip -6 route; ip link; }} > {state}
             kill $pid
             cat {log}
             echo '=== state'
             cat {state}",
            dir = network_dir.display(),
            log = self.dir.path().join("networkd.log").display(),
            state = self.dir.path().join("networkd.state").display(),
        );
        self.guest_sh(&script)
    }

    /// Waits for `ready` in the guest (for asynchronous address setup).
    pub fn wait_for(&self, ready: &str, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.guest_sh(ready).status.success() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for pid in &self.dnsmasq {
            if let Ok(p) = std::fs::read_to_string(pid) {
                let _ = run(&["kill", p.trim()]);
            }
        }
        let _ = run(&["ip", "netns", "del", &self.guest]);
        let _ = run(&["ip", "netns", "del", &self.cloud]);
    }
}

/// The three NICs of the bring-up tests (net_bringup, the NetworkManager
/// renderer's): eth0 static, eth1 DHCP from dnsmasq, eth2 static.
pub const THREE_NICS: &[Nic] = &[
    Nic {
        name: "eth0",
        mac: "fa:16:3e:00:00:10",
        peer_addr: Some("10.10.0.1/24"),
        dhcp_range: None,
    },
    Nic {
        name: "eth1",
        mac: "fa:16:3e:00:00:11",
        peer_addr: Some("10.20.0.1/24"),
        dhcp_range: Some(("10.20.0.100", "10.20.0.150")),
    },
    Nic {
        name: "eth2",
        mac: "fa:16:3e:00:00:12",
        peer_addr: Some("10.30.0.1/24"),
        dhcp_range: None,
    },
];

/// `network_data.json` for [`THREE_NICS`]: eth0 static with the default
/// route, eth1 DHCP, eth2 static v4 and v6 with an MTU of 1400, a route and
/// a second default gateway; `services` is the JSON list of services.
pub fn three_nics_network_data(services: &str) -> String {
    format!(
        r#"{{
  "links": [
    {{"id": "tap0", "type": "ovs", "ethernet_mac_address": "fa:16:3e:00:00:10", "mtu": 1500}},
    {{"id": "tap1", "type": "ovs", "ethernet_mac_address": "fa:16:3e:00:00:11"}},
    {{"id": "tap2", "type": "phy", "ethernet_mac_address": "FA:16:3E:00:00:12", "mtu": 1400}}
  ],
  "networks": [
    {{"id": "n0", "link": "tap0", "type": "ipv4", "ip_address": "10.10.0.5", "netmask": "255.255.255.0",
     "routes": [{{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "10.10.0.1"}}]}},
    {{"id": "n1", "link": "tap1", "type": "ipv4_dhcp"}},
    {{"id": "n2", "link": "tap2", "type": "ipv4", "ip_address": "10.30.0.5", "netmask": "255.255.255.0",
     "routes": [{{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "10.30.0.1"}},
                {{"network": "10.99.0.0", "netmask": "255.255.0.0", "gateway": "10.30.0.1"}}]}},
    {{"id": "n3", "link": "tap2", "type": "ipv6", "ip_address": "fd00:30::5", "netmask": "ffff:ffff:ffff:ffff::"}}
  ],
  "services": {services}
}}"#
    )
}

/// A scratch root with a config drive (`meta_data` and `network_data`) and
/// `nics` in its sysfs, as the root sees the NICs the lab made.
pub fn config_drive_root(
    meta_data: &str,
    network_data: &str,
    nics: &[Nic],
) -> super::common::Machine {
    let m = super::common::Machine::new();
    let seed = "/var/lib/cloud/seed/config_drive/openstack/latest";
    m.write(&format!("{seed}/meta_data.json"), meta_data);
    m.write(&format!("{seed}/network_data.json"), network_data);
    for nic in nics {
        let dir = format!("/sys/class/net/{}", nic.name);
        m.write(&format!("{dir}/address"), &format!("{}\n", nic.mac));
        m.write(&format!("{dir}/type"), "1\n");
        m.write(&format!("{dir}/carrier"), "1\n");
        m.write(&format!("{dir}/operstate"), "up\n");
        std::fs::create_dir_all(m.path(&format!("{dir}/device"))).unwrap();
    }
    m
}

/// The IPv4 address (with its prefix) `name` has in `ip -br addr` output,
/// if any; a veth shows as `eth0@if2`.
pub fn v4_address(ip_br_addr: &str, name: &str) -> Option<String> {
    let line = ip_br_addr.lines().find(|l| {
        l.split_whitespace()
            .next()
            .and_then(|n| n.split('@').next())
            == Some(name)
    })?;
    line.split_whitespace()
        .skip(2)
        .find(|a| a.contains('.'))
        .map(str::to_string)
}
