//! The NetworkManager renderer against cloud-init 22.4's `net-convert -O
//! network-manager` output (tests/fixtures/net, `expected/rhel-network-manager/`),
//! every corpus case byte for byte and mode 0600, apart from cloudboot's
//! deliberate differences, which are listed here and checked: a gateway
//! demoted by `demote_extra_default_gateways` is written as
//! `never-default=true` instead of `gateway=` (cloud-init makes every
//! gateway a default route); and, in the corpus's
//! `cloudboot/rhel-network-manager/` (derived by its generate.py), a
//! `static6` subnet's `[ipv6]` is `method=manual` where 22.4 writes
//! `method=auto`, and an interface's own and the global name servers are
//! written where 22.4 drops them.
//!
//! Then the real thing, as root: NetworkManager itself (Debian's
//! `network-manager`), run in a network namespace of the lab
//! (tests/netns_common) with its own D-Bus system bus, and its keyfile
//! directory, state and run directories in scratch places bound over
//! `/etc/NetworkManager`, `/var/lib/NetworkManager` and `/run`, so nothing
//! of the host's is touched: it parses every keyfile of the corpus, and it
//! brings up what a whole local stage wrote (static addresses, routes, MTU,
//! a DHCP lease from the lab's dnsmasq, one default route) with the
//! commands 22.4's `NetworkManagerActivator` runs.

mod common;
mod net_common;
mod netns_common;

use std::collections::BTreeMap;
use std::path::Path;

use cloudboot::net::render::network_manager::{connection_path, NetworkManager};
use cloudboot::net::render::{BringUp, Flavor, RenderContext, Rendered, Renderer};
use cloudboot::net::state::NetworkState;
use cloudboot::rootfs::{RealFs, Root};
use common::skip::{self, Need};
use common::Machine;
use net_common::compare;
use netns_common::{Lab, THREE_NICS as NICS};

/// Cases where cloudboot deliberately writes something else, and why.
const DELIBERATE: &[(&str, &str)] = &[
    (
        "v1-two-gateways",
        "two interfaces with an IPv4 gateway: cloud-init makes both the default route \
         (gateway= twice); cloudboot keeps the first and writes never-default=true for eth1",
    ),
    ("odj-bond-own-mac", STATIC6),
    (
        "odj-dual-stack-dns",
        "a static6 subnet, and global DNS (services)",
    ),
    ("odj-ipv6", STATIC6),
    ("odj-three-nics", GLOBAL_DNS),
    ("v1-dual-stack", STATIC6),
    ("v1-global-route-dns", GLOBAL_DNS),
    (
        "v1-iface-nameserver",
        "a nameserver for eth0 (cloud-init drops it: eth0 gets it) and a global one \
         (eth1, which has none of its own, gets it)",
    ),
];

const GLOBAL_DNS: &str = "global name servers: cloud-init drops them; every interface \
     with IP config and no DNS of its own gets them (cloudboot/rhel-network-manager/)";

const STATIC6: &str = "a static6 subnet: cloud-init writes [ipv6] method=auto, may-fail=true \
     (no method for the type); cloudboot method=manual, may-fail=false, as for static \
     (cloudboot/rhel-network-manager/)";

const TARGET: &str = "rhel-network-manager";

const DIR: &str = "/etc/NetworkManager/system-connections";

/// Renders as the caller does (the default-gateway pass first), into an
/// empty root.
fn render(mut st: NetworkState) -> Rendered {
    st.demote_extra_default_gateways();
    render_as_is(&st)
}

fn render_as_is(st: &NetworkState) -> Rendered {
    let root = tempfile::tempdir().unwrap();
    let fs = RealFs {
        root: Root::new(root.path()),
    };
    NetworkManager.render(
        st,
        &RenderContext {
            fs: &fs,
            flavor: Flavor::Default,
        },
    )
}

fn parse(yaml: &str) -> NetworkState {
    let v = cloudboot::yaml::load(yaml.as_bytes(), "test").unwrap();
    NetworkState::parse(&v, &Default::default()).unwrap()
}

fn files(r: &Rendered) -> BTreeMap<String, String> {
    r.files
        .iter()
        .map(|f| (f.path.display().to_string(), f.content.clone()))
        .collect()
}

fn file(iface: &str) -> String {
    format!("{DIR}/cloud-init-{iface}.nmconnection")
}

/// What cloudboot must write for a case: cloud-init's files, or the ones
/// the corpus derives from them (`cloudboot/<target>/`), with the
/// default-gateway fix applied.
fn cloudboot_expected(case: &Path) -> BTreeMap<String, String> {
    let name = net_common::name(case);
    let mut want = net_common::cloudboot_expected(case, TARGET);
    if name == "v1-two-gateways" {
        let eth1 = file("eth1");
        let text = want[&eth1].replace("gateway=10.11.0.1\n", "never-default=true\n");
        assert_ne!(text, want[&eth1]);
        want.insert(eth1, text);
    }
    want
}

#[test]
fn every_corpus_case_matches_cloud_init() {
    let mut failures = Vec::new();
    let (mut same, mut deliberate_count) = (0, 0);
    for case in net_common::cases() {
        let name = net_common::name(&case);
        let mut st = net_common::state(&case);
        let demoted = st.demote_extra_default_gateways();
        let static6 = st
            .interfaces
            .iter()
            .any(|i| i.subnets().iter().any(|s| s.kind() == "static6"));
        // DNS 22.4 drops: global, or an interface's own (v2 also puts the
        // latter on the interface's subnets, which 22.4 writes).
        let written: Vec<String> = st
            .interfaces
            .iter()
            .flat_map(|i| i.subnets())
            .flat_map(|s| {
                s.get("dns_nameservers")
                    .and_then(|v| v.as_seq())
                    .unwrap_or_default()
                    .to_vec()
            })
            .map(|v| v.python_str())
            .collect();
        let dropped_dns = st.nameservers.iter().any(|n| !written.contains(n));
        let deliberate = DELIBERATE.iter().any(|(n, _)| *n == name);
        // The list above is exactly the cases with several default gateways,
        // a static6 subnet or name servers 22.4 drops, and the corpus derived
        // files for the last two.
        assert_eq!(
            !demoted.is_empty() || static6 || dropped_dns,
            deliberate,
            "{name}: demoted gateways {demoted:?}, static6 {static6}, dropped DNS \
             {dropped_dns}, but DELIBERATE says {deliberate}"
        );
        assert_eq!(
            net_common::derived_difference(&case, TARGET),
            static6 || dropped_dns,
            "{name}"
        );
        let rendered = render_as_is(&st);
        assert!(
            rendered.files.iter().all(|f| f.mode == 0o600),
            "{name}: modes"
        );
        assert!(
            !net_common::expected(&case, TARGET).is_empty(),
            "{name}: no expected files"
        );
        let problems = compare(&cloudboot_expected(&case), &files(&rendered));
        if !problems.is_empty() {
            failures.push(format!("{name}:\n{}", problems.join("\n")));
        } else if deliberate {
            deliberate_count += 1;
        } else {
            same += 1;
        }
    }
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
    assert_eq!((same, deliberate_count), (30, 8));
}

#[test]
fn cloud_init_wrote_no_warning_and_exit_0_for_any_case() {
    for case in net_common::cases() {
        let log = std::fs::read_to_string(case.join("expected/rhel-network-manager.log")).unwrap();
        assert!(log.starts_with("exit 0\n"), "{}: {log}", case.display());
        assert!(!log.contains("WARNING"), "{}: {log}", case.display());
    }
}

// ---- the default-gateway fix ----

#[test]
fn two_gateways_only_the_first_is_the_default_route() {
    let case = net_common::corpus().join("v1-two-gateways");
    let got = files(&render(net_common::state(&case)));
    let (eth0, eth1) = (&got[&file("eth0")], &got[&file("eth1")]);
    assert!(eth0.contains("\ngateway=10.10.0.1\n") && !eth0.contains("never-default"));
    assert!(eth1.contains("\nnever-default=true\n"), "{eth1}");
    assert!(!eth1.contains("gateway="), "{eth1}");
    assert!(eth1.contains("\naddress1=10.11.0.10/24\n"), "{eth1}");
    // cloud-init's own output makes both default.
    let theirs = net_common::expected(&case, TARGET);
    assert!(theirs[&file("eth1")].contains("\ngateway=10.11.0.1\n"));
}

/// The derived files differ from cloud-init's only in the method of a
/// static6 subnet; and a static6 subnet after a dynamic one leaves the
/// method dynamic (no "downgrade", as for static after dhcp).
#[test]
fn static6_is_manual_as_static_is() {
    let case = net_common::corpus().join("v1-dual-stack");
    let theirs = &net_common::expected(&case, TARGET)[&file("eth0")];
    let ours = &files(&render(net_common::state(&case)))[&file("eth0")];
    assert_eq!(
        ours,
        &theirs.replace(
            "[ipv6]\nmethod=auto\nmay-fail=true\n",
            "[ipv6]\nmethod=manual\nmay-fail=false\n"
        )
    );
    assert_ne!(ours, theirs);
    let got = files(&render(parse(
        "version: 1\nconfig:\n- {type: physical, name: eth0, subnets: [{type: dhcp6}, \
         {type: static6, address: 'fd00::5/64'}]}\n",
    )));
    assert!(
        got[&file("eth0")]
            .ends_with("[ipv6]\nmethod=auto\nmay-fail=false\naddress1=fd00::5/64\n\n"),
        "{}",
        got[&file("eth0")]
    );
}

/// An interface's own name servers join its subnets' (22.4 drops them);
/// the global ones go to every interface with IP config and none of its
/// own, into the sections of their families, never making a section.
#[test]
fn interface_and_global_name_servers_are_written() {
    let st = parse(
        "version: 1\nconfig:\n\
         - {type: physical, name: eth0, subnets: [{type: static, address: 10.0.0.2/24, dns_nameservers: [10.0.0.53]}]}\n\
         - {type: physical, name: eth1, subnets: [{type: dhcp}, {type: dhcp6}]}\n\
         - {type: physical, name: eth2, subnets: [{type: dhcp}]}\n\
         - {type: physical, name: eth3}\n\
         - {type: nameserver, interface: eth0, address: [10.0.0.54, 10.0.0.53], search: [own.example]}\n\
         - {type: nameserver, address: [192.0.2.53, '2001:db8::53'], search: [global.example]}\n",
    );
    let got = files(&render(st));
    let eth0 = &got[&file("eth0")];
    assert!(
        eth0.ends_with(
            "[ipv4]\nmethod=manual\nmay-fail=false\naddress1=10.0.0.2/24\n\
             dns=10.0.0.53;10.0.0.54;\ndns-search=own.example;\n\n"
        ),
        "{eth0}"
    );
    let eth1 = &got[&file("eth1")];
    assert!(
        eth1.ends_with(
            "[ipv4]\nmethod=auto\nmay-fail=false\ndns=192.0.2.53;\ndns-search=global.example;\n\n\
             [ipv6]\nmethod=auto\nmay-fail=false\ndns=2001:db8::53;\ndns-search=global.example;\n\n"
        ),
        "{eth1}"
    );
    // No IPv6 section: no IPv6 server.
    let eth2 = &got[&file("eth2")];
    assert!(
        !eth2.contains("[ipv6]") && eth2.contains("\ndns=192.0.2.53;\n"),
        "{eth2}"
    );
    // No IP config at all: nothing.
    assert!(
        !got[&file("eth3")].contains("dns"),
        "{}",
        got[&file("eth3")]
    );
}

#[test]
fn without_the_pass_the_renderer_writes_what_cloud_init_writes() {
    let case = net_common::corpus().join("v1-two-gateways");
    let got = files(&render_as_is(&net_common::state(&case)));
    let theirs = net_common::expected(&case, TARGET);
    assert!(compare(&theirs, &got).is_empty());
}

#[test]
fn a_demoted_default_route_goes_and_the_other_routes_stay_per_family() {
    let st = parse(
        "version: 1\nconfig:\n\
         - {type: physical, name: eth0, subnets: [{type: static, address: 10.0.0.2/24, gateway: 10.0.0.1}, {type: static6, address: 'fd00::2/64', gateway: 'fd00::1'}]}\n\
         - type: physical\n  name: eth1\n  subnets:\n\
         \x20 - type: dhcp\n\
         \x20   routes: [{network: 0.0.0.0/0, gateway: 10.1.0.1}, {network: 10.9.0.0/16, gateway: 10.1.0.254}]\n\
         \x20 - {type: static6, address: 'fd01::2/64', routes: [{network: '::/0', gateway: 'fd01::1'}, {network: 'fd09::/64', gateway: 'fd01::fe'}]}\n",
    );
    let got = files(&render(st));
    let eth0 = &got[&file("eth0")];
    assert!(eth0.contains("\ngateway=10.0.0.1\n") && eth0.contains("\ngateway=fd00::1\n"));
    let eth1 = &got[&file("eth1")];
    assert_eq!(
        eth1.split("[ipv4]\n").nth(1).unwrap(),
        "method=auto\nmay-fail=false\nnever-default=true\nroute1=10.9.0.0/16,10.1.0.254\n\n\
         [ipv6]\nmethod=manual\nmay-fail=false\naddress1=fd01::2/64\nnever-default=true\n\
         route1=fd09::/64,fd01::fe\n\n",
        "{eth1}"
    );
}

// ---- what the files say about each other ----

/// Every `master=` and `parent=` in the corpus is the UUID of a connection
/// written in the same case (NetworkManager links them by it).
#[test]
fn references_are_the_uuids_of_connections_written() {
    let mut checked = 0;
    for case in net_common::cases() {
        let got = files(&render(net_common::state(&case)));
        let uuids: Vec<String> = got
            .values()
            .filter_map(|c| c.lines().find_map(|l| l.strip_prefix("uuid=")))
            .map(str::to_string)
            .collect();
        for (path, content) in &got {
            for line in content.lines() {
                if let Some(r) = line
                    .strip_prefix("master=")
                    .or_else(|| line.strip_prefix("parent="))
                {
                    assert!(uuids.iter().any(|u| u == r), "{path}: {line}");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 15, "{checked} references");
}

#[test]
fn bring_up_is_the_activators_per_interface() {
    assert_eq!(NetworkManager.bring_up(), BringUp::Nmcli);
    let cmds = BringUp::Nmcli.commands(&["eth0".into(), "bond0.42".into()]);
    assert_eq!(cmds.len(), 2);
    assert_eq!(
        cmds[1][4],
        "/etc/NetworkManager/system-connections/cloud-init-bond0.42.nmconnection"
    );
    assert_eq!(cmds[1][5], "bond0.42");
    let script = &cmds[0][2];
    for step in [
        "nmcli connection load \"$1\"",
        "nmcli connection up filename \"$1\"",
        "nmcli connection reload",
        "nmcli connection up ifname \"$2\"",
    ] {
        assert!(script.contains(step), "{script}");
    }
    // NetworkManager sets a connection's addresses itself: no flush first.
    assert!(!BringUp::Nmcli.keeps_other_addresses());
}

// ---- input cloud-init fails on, or that is odd ----

#[test]
fn odd_input_is_rendered_as_far_as_it_goes() {
    // A subnet-level MTU other than the device's: 22.4's warning, the
    // subnet's wins.
    let st = parse(
        "version: 1\nconfig:\n\
         - {type: physical, name: eth0, mtu: 9000, subnets: [{type: static, address: 10.0.0.2/24, mtu: 1400}]}\n\
         - {type: infiniband, name: ib0, mac_address: 'a0:00:02:20:fe:80:00:00:00:00:00:00:ec:0d:9a:03:00:15:e2:c1', mtu: 2044, subnets: [{type: dhcp}]}\n\
         - {type: infiniband, name: ib1, subnets: [{type: dhcp}]}\n\
         - {type: vlan, name: vlan9, vlan_link: ethX, vlan_id: 9}\n\
         - {type: physical, name: '../x', subnets: [{type: dhcp}]}\n",
    );
    let r = render(st);
    let got = files(&r);
    assert!(got[&file("eth0")].contains("\nmtu=1400\n"));
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("ignoring eth0 device-level mtu:9000")),
        "{:?}",
        r.warnings
    );
    let ib0 = &got[&file("ib0")];
    assert!(ib0.contains(
        "[infiniband]\ntransport-mode=datagram\nmtu=2044\n\
         mac-address=A0:00:02:20:FE:80:00:00:00:00:00:00:EC:0D:9A:03:00:15:E2:C1\n"
    ));
    assert!(!ib0.contains("interface-name"), "{ib0}");
    // No MTU: an empty section, and the name to match on.
    let ib1 = &got[&file("ib1")];
    assert!(ib1.contains("[infiniband]\n\n") && ib1.contains("interface-name=ib1\n"));
    // A parent no interface has is named, not referred to by UUID.
    assert!(got[&file("vlan9")].contains("[vlan]\nid=9\nparent=ethX\n"));
    // A name that is no file name is not written anywhere.
    assert!(r
        .files
        .iter()
        .all(|f| f.path.parent() == Some(Path::new(DIR))));
    assert!(r.warnings.iter().any(|w| w.contains("\"../x\"")));

    // A bridge whose port is not in the state (network_state always adds
    // one; a state built otherwise must not panic).
    let mut st = parse(
        "version: 1\nconfig:\n- {type: bridge, name: br0, bridge_interfaces: [eth0], subnets: [{type: dhcp}]}\n",
    );
    st.interfaces.retain(|i| i.name() != "eth0");
    let r = render(st);
    assert!(files(&r).contains_key(&file("br0")));
    assert!(r.warnings.iter().any(|w| w.contains("port \"eth0\"")));
}

#[test]
fn loopback_alone_writes_nothing() {
    let r = render(parse(
        "version: 1\nconfig:\n- {type: loopback, name: lo, subnets: [{type: loopback}]}\n",
    ));
    assert!(r.files.is_empty() && r.warnings.is_empty());
}

// ---- NetworkManager itself ----

/// NetworkManager, nmcli and a D-Bus daemon, besides the lab's tools.
const NM: &[Need] = &[
    Need::Root("to make network namespaces"),
    Need::Program("NetworkManager", "network-manager"),
    Need::Program("nmcli", "network-manager"),
    Need::Program("dbus-daemon", "dbus"),
];

/// A D-Bus system bus that lets everyone do everything: the only clients
/// are NetworkManager and nmcli in the test's namespaces.
const DBUS_CONF: &str = r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="method_return"/>
    <allow send_type="signal"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="signal"/>
    <allow receive_type="error"/>
  </policy>
</busconfig>
"#;

/// NetworkManager's config: keyfiles only, no polkit (nmcli runs as
/// root), and nothing outside the namespace: no resolv.conf, no hostname,
/// no automatic "Wired connection 1" for NICs without a profile.
const NM_CONF: &str = "[main]
plugins=keyfile
auth-polkit=false
dns=none
rc-manager=unmanaged
hostname-mode=none
dhcp=internal
no-auto-default=*

[logging]
level=INFO
";

/// Runs `body` in the lab's guest namespace with NetworkManager running:
/// in the private mount namespace `ip netns exec` makes, `/sys` is
/// read-only (NetworkManager then takes links as they are instead of
/// waiting for a udev that is not running, as in a container), `/run` a
/// fresh tmpfs holding the bus's socket, and scratch directories are bound
/// over `/etc/NetworkManager` (with `keyfiles` as its
/// `system-connections`), `/var/lib/NetworkManager` and `/etc/resolv.conf`.
/// Returns what the script printed (stdout, then stderr) and
/// NetworkManager's log; fails the test if the script failed. NetworkManager
/// and the bus are stopped however the script ends (a trap).
fn with_network_manager(lab: &Lab, keyfiles: &Path, body: &str) -> (String, String) {
    let nm = lab.dir.path().join("nm");
    for d in ["etc/system-connections", "etc/conf.d", "lib"] {
        std::fs::create_dir_all(nm.join(d)).unwrap();
    }
    std::fs::write(nm.join("etc/NetworkManager.conf"), NM_CONF).unwrap();
    std::fs::write(nm.join("dbus.conf"), DBUS_CONF).unwrap();
    std::fs::write(nm.join("resolv.conf"), "").unwrap();
    let script = format!(
        "np=; dp=
         trap 'kill $np $dp 2>/dev/null; wait' EXIT
         mount -o remount,ro /sys
         # Belt and braces (NetworkManager is told to leave it alone); bound
         # before /run is replaced, where it may point.
         if [ -e /etc/resolv.conf ]; then mount --bind {nm}/resolv.conf /etc/resolv.conf; fi
         mount -t tmpfs none /run
         mkdir -p /run/dbus /run/NetworkManager
         mount --bind {nm}/etc /etc/NetworkManager
         mount --bind {keyfiles} /etc/NetworkManager/system-connections
         mount --bind {nm}/lib /var/lib/NetworkManager
         dbus-daemon --config-file={nm}/dbus.conf --nofork --nopidfile --nosyslog \
             </dev/null >{nm}/dbus.log 2>&1 &
         dp=$!
         i=0; until [ -S /run/dbus/system_bus_socket ]; do
             i=$((i+1)); [ $i -lt 100 ] || {{ echo 'no D-Bus socket'; exit 1; }}; sleep 0.1
         done
         NetworkManager --no-daemon --debug --config=/etc/NetworkManager/NetworkManager.conf \
             </dev/null >{nm}/nm.log 2>&1 &
         np=$!
         i=0; until nmcli -t general status >/dev/null 2>&1; do
             i=$((i+1)); [ $i -lt 150 ] || {{ echo 'NetworkManager did not answer'; exit 1; }}; sleep 0.2
         done
         echo '=== NetworkManager running'
         {body}",
        nm = nm.display(),
        keyfiles = keyfiles.display(),
    );
    let out = lab.guest_sh(&script);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let log = std::fs::read_to_string(nm.join("nm.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "the NetworkManager script failed:\n{text}\n=== NetworkManager log\n{log}"
    );
    (text, log)
}

/// `'...'` for sh.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// NetworkManager reads every keyfile cloudboot writes for the corpus (as
/// written: mode 0600, which it insists on) and makes of each the
/// connection it says: its id, type, the interface it binds to, its master
/// and VLAN parent by UUID, the demoted gateway's never-default.
#[test]
fn network_manager_parses_every_corpus_keyfile() {
    if !skip::require(NM) {
        return;
    }
    let Some(lab) = netns_common::lab(&[]) else {
        return;
    };
    let keyfiles = lab.dir.path().join("keyfiles");
    std::fs::create_dir_all(&keyfiles).unwrap();
    // Networking off: profiles are loaded and parsed, none is activated
    // (the corpus has bonds and VLANs this kernel cannot make).
    let mut body = String::from("nmcli networking off\n");
    // (case, uuid, the keyfile's content)
    let mut written = Vec::new();
    for case in net_common::cases() {
        let name = net_common::name(&case);
        let staged = lab.dir.path().join("cases").join(&name);
        std::fs::create_dir_all(&staged).unwrap();
        let rendered = render(net_common::state(&case));
        let mut paths = Vec::new();
        for f in &rendered.files {
            let host = staged.join(f.path.file_name().unwrap());
            std::fs::write(&host, &f.content).unwrap();
            std::fs::set_permissions(&host, std::os::unix::fs::PermissionsExt::from_mode(f.mode))
                .unwrap();
            paths.push(f.path.display().to_string());
            written.push((
                name.clone(),
                keyfile_value(&f.content, "uuid"),
                f.content.clone(),
            ));
        }
        if paths.is_empty() {
            continue;
        }
        body.push_str(&format!(
            "cp -p {staged}/* /etc/NetworkManager/system-connections/\n\
             nmcli connection load {paths} || echo 'load failed: {name}'\n",
            staged = staged.display(),
            paths = paths.join(" "),
        ));
        for (_, uuid, _) in written.iter().filter(|(n, _, _)| *n == name) {
            body.push_str(&format!(
                "echo '=== connection {name} {uuid}'\nnmcli -t connection show {uuid}\n"
            ));
        }
        body.push_str("rm -f /etc/NetworkManager/system-connections/*\nnmcli connection reload\n");
    }
    let (out, log) = with_network_manager(&lab, &keyfiles, &body);
    assert!(!out.contains("load failed"), "{out}\n{log}");
    for (name, uuid, content) in &written {
        let shown = out
            .split(&format!("=== connection {name} {uuid}\n"))
            .nth(1)
            .unwrap_or_else(|| panic!("{name}: {uuid} not shown:\n{out}\n{log}"))
            .split("=== ")
            .next()
            .unwrap();
        let prop = |p: &str| {
            shown
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{p}:")))
                .map(|v| v.replace("\\:", ":"))
        };
        let key = |k: &str| Some(keyfile_value(content, k)).filter(|v| !v.is_empty());
        let context = format!("{name} {uuid}:\n{content}\n{shown}");
        assert_eq!(
            prop("connection.uuid").as_deref(),
            Some(uuid.as_str()),
            "{context}"
        );
        assert_eq!(prop("connection.id"), key("id"), "{context}");
        let nm_type = match key("type").unwrap().as_str() {
            "ethernet" => "802-3-ethernet".to_string(),
            other => other.to_string(),
        };
        assert_eq!(prop("connection.type"), Some(nm_type), "{context}");
        let bound = |v: Option<String>| v.filter(|v| !v.is_empty() && v != "--");
        assert_eq!(
            bound(prop("connection.interface-name")),
            key("interface-name"),
            "{context}"
        );
        assert_eq!(bound(prop("connection.master")), key("master"), "{context}");
        assert_eq!(bound(prop("vlan.parent")), key("parent"), "{context}");
        if let Some(mac) = key("mac-address") {
            let nm_mac = prop("802-3-ethernet.mac-address").or(prop("infiniband.mac-address"));
            assert_eq!(nm_mac, Some(mac), "{context}");
        }
        if key("never-default").is_some() {
            assert_eq!(
                prop("ipv4.never-default").as_deref(),
                Some("yes"),
                "{context}"
            );
        }
        if let Some(address) = key("address1") {
            let family = if address.contains(':') {
                "ipv6"
            } else {
                "ipv4"
            };
            let addresses = prop(&format!("{family}.addresses")).unwrap_or_default();
            assert!(addresses.contains(&address), "{context}");
        }
    }
    let complaints: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("<warn>") && l.contains("keyfile"))
        .collect();
    assert!(complaints.is_empty(), "{complaints:#?}");
    eprintln!(
        "network_manager: NetworkManager parsed the {} keyfiles of the corpus",
        written.len()
    );
    assert!(written.len() >= 60, "{} keyfiles", written.len());
}

/// The first `key=value` of a keyfile with that key (any section).
fn keyfile_value(content: &str, key: &str) -> String {
    content
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_default()
        .to_string()
}

/// A Fedora root with NetworkManager (its config and nmcli), the lab's
/// NICs in its sysfs and a config drive: the local stage picks the
/// network-manager renderer by itself and writes the keyfiles.
fn fedora_root_with_network_manager() -> Machine {
    let m = netns_common::config_drive_root(
        r#"{"uuid": "0d6c1f4e-nm-bring-up", "hostname": "nmbringup"}"#,
        &netns_common::three_nics_network_data(r#"[{"type": "dns", "address": "10.10.0.53"}]"#),
        NICS,
    );
    m.write("/etc/os-release", "ID=fedora\nVERSION_ID=38\n");
    m.write("/etc/NetworkManager/NetworkManager.conf", "[main]\n");
    m.write("/usr/bin/nmcli", "#!/bin/sh\n");
    std::fs::set_permissions(
        m.path("/usr/bin/nmcli"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    m.run_ok(&["init", "--local"], 0);
    m
}

#[test]
fn a_boot_picks_network_manager_and_writes_its_keyfiles() {
    let m = fedora_root_with_network_manager();
    for nic in ["eth0", "eth1", "eth2"] {
        let path = connection_path(nic).display().to_string();
        assert!(m.exists(&path), "{path} not written");
        assert_eq!(m.mode(&path), 0o600, "{path}");
    }
    let eth2 = m.read(&connection_path("eth2").display().to_string());
    assert!(eth2.contains("\nnever-default=true\n"), "{eth2}");
    assert!(eth2.contains("\nroute1=10.99.0.0/16,10.30.0.1\n"), "{eth2}");
    assert!(eth2.contains("\nmtu=1400\n"), "{eth2}");
    assert!(
        eth2.contains("[ipv6]\nmethod=manual\nmay-fail=false\naddress1=fd00:30::5/64\n"),
        "{eth2}"
    );
}

/// The whole way: a local stage writes the keyfiles, NetworkManager runs
/// in the lab, the keyfiles are put in its directory, and cloudboot's
/// bring-up commands (22.4's activator: `nmcli connection load`, `nmcli
/// connection up filename`) bring each interface up. eth0 also has a stale
/// address (a snapshot's parent's), which NetworkManager must drop: the
/// renderer says it need not be flushed first.
#[test]
fn a_boots_keyfiles_come_up_under_network_manager() {
    if !skip::require(NM) {
        return;
    }
    let Some(lab) = netns_common::lab(NICS) else {
        return;
    };
    let m = fedora_root_with_network_manager();
    let names: Vec<String> = ["eth0", "eth1", "eth2"].map(String::from).to_vec();
    // The keyfiles arrive while NetworkManager runs, as on a boot where
    // cloud-init writes them after it started: only the bring-up commands
    // make it read them.
    let mut body = format!(
        "ip link set eth0 up; ip addr add 10.10.0.99/24 dev eth0
         nmcli -t -f NAME connection show | grep cloud-init && echo 'loaded too early'
         cp -p {}/* /etc/NetworkManager/system-connections/\n",
        m.path(DIR).display()
    );
    for argv in NetworkManager.bring_up().commands(&names) {
        let line: Vec<String> = argv.iter().map(|a| sh_quote(a)).collect();
        body.push_str(&format!(
            "echo '=== bring up: {}'\n{} 2>&1 || echo \"bring-up failed: $?\"\n",
            argv.last().unwrap(),
            line.join(" ")
        ));
    }
    body.push_str(
        "echo '=== state'
         ip -br addr; ip route; ip -6 route; ip link
         echo '=== connections'
         nmcli -t -f NAME,UUID,DEVICE connection show --active
         echo '=== dns'
         for d in eth0 eth1 eth2; do echo \"$d $(nmcli -g IP4.DNS device show $d)\"; done\n",
    );
    let keyfiles = lab.dir.path().join("keyfiles");
    std::fs::create_dir_all(&keyfiles).unwrap();
    let (out, log) = with_network_manager(&lab, &keyfiles, &body);
    eprintln!("{out}");
    for warning in log
        .lines()
        .filter(|l| l.contains("<warn>") || l.contains("<error>"))
    {
        eprintln!("NetworkManager said: {warning}");
    }
    assert!(!out.contains("bring-up failed"), "{out}\n{log}");
    assert!(!out.contains("loaded too early"), "{out}\n{log}");
    assert_eq!(
        out.matches("Connection successfully activated").count(),
        3,
        "{out}\n{log}"
    );
    let state = out.split("=== state").nth(1).unwrap();
    let line = |name: &str| {
        state
            .lines()
            .find(|l| l.starts_with(name) && l.contains("UP"))
            .unwrap_or_else(|| panic!("{name} is not up:\n{out}\n{log}"))
            .to_string()
    };
    let eth0 = line("eth0");
    assert!(eth0.contains("10.10.0.5/24"), "{out}");
    assert!(
        !eth0.contains("10.10.0.99"),
        "the stale address stayed:\n{out}"
    );
    assert!(
        line("eth1").contains("10.20.0.1"),
        "eth1 has no DHCP lease:\n{out}\n{log}"
    );
    let eth2 = line("eth2");
    assert!(
        eth2.contains("10.30.0.5/24") && eth2.contains("fd00:30::5/64"),
        "{out}"
    );
    // One default route, the first the metadata gives.
    let defaults: Vec<&str> = state
        .lines()
        .filter(|l| l.starts_with("default via 10."))
        .collect();
    assert_eq!(defaults.len(), 1, "{out}");
    assert!(
        defaults[0].starts_with("default via 10.10.0.1 dev eth0"),
        "{out}"
    );
    assert!(
        state
            .lines()
            .any(|l| l.starts_with("10.99.0.0/16 via 10.30.0.1 dev eth2")),
        "{out}"
    );
    assert!(
        state
            .lines()
            .any(|l| l.contains(": eth2") && l.contains("mtu 1400")),
        "{out}"
    );
    // The metadata's name server (which 22.4 drops) is each interface's.
    let dns = out.split("=== dns").nth(1).unwrap();
    for nic in ["eth0", "eth1", "eth2"] {
        assert!(
            dns.lines().any(|l| l == format!("{nic} 10.10.0.53")),
            "{dns}"
        );
    }
    // Each interface is up with cloud-init's connection.
    let conns = out.split("=== connections").nth(1).unwrap();
    for nic in ["eth0", "eth1", "eth2"] {
        assert!(
            conns
                .lines()
                .any(|l| l.starts_with(&format!("cloud-init {nic}:"))
                    && l.ends_with(&format!(":{nic}"))),
            "{conns}"
        );
    }
}
