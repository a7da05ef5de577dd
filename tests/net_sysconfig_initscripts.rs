//! sysconfig files as the initscripts read them: every corpus case is
//! rendered with cloudboot's sysconfig renderer (`Flavor::Rhel6` and
//! `Flavor::Rhel`), brought up by the test's initscripts reader
//! (tests/initscripts_common: 9.03.61 for EL6, 9.49.53 for EL7), and what
//! ifup would apply — static addresses per NIC, DHCP, routes with their
//! gateway and metric, the default route — is compared with what the
//! network config asks for. Then, in a network namespace, the `ip`
//! commands the reader derives are run for real and the kernel's addresses
//! and routes compared with the reader's.

mod common;
mod initscripts_common;
mod net_common;
mod netns_common;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use cloudboot::net::render::sysconfig::Sysconfig;
use cloudboot::net::render::{Flavor, RenderContext, Renderer};
use cloudboot::net::state::NetworkState;
use cloudboot::rootfs::{RealFs, Root};
use cloudboot::value::Value;
use initscripts_common::{bring_up, Applied, Generation, Route};

fn render(state: &NetworkState, flavor: Flavor) -> BTreeMap<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let fs = RealFs {
        root: Root::new(dir.path()),
    };
    Sysconfig
        .render(state, &RenderContext { fs: &fs, flavor })
        .files
        .into_iter()
        .map(|f| (f.path.display().to_string(), f.content))
        .collect()
}

fn text(v: Option<&Value>) -> Option<String> {
    v.map(Value::python_str)
}

/// What the network config asks for, in the reader's terms. A global
/// (`type: route`) route belongs to the first interface with a static
/// address in its gateway's network (a default one only where no subnet
/// gives that family's default); the routes no interface reaches are
/// returned apart.
fn asked(state: &NetworkState) -> (Applied, Vec<String>) {
    let mut want = Applied::default();
    for iface in &state.interfaces {
        let dev = iface.name();
        if iface.kind() == "loopback" {
            continue;
        }
        for subnet in iface.subnets() {
            let kind = subnet.kind();
            if kind == "manual" || text(subnet.get("control")).as_deref() == Some("manual") {
                continue;
            }
            match kind.as_str() {
                "dhcp" | "dhcp4" => {
                    want.dhcp4.insert(dev.clone());
                }
                "static" | "static6" => {
                    let addr = text(subnet.get("address")).unwrap_or_default();
                    let prefix = text(subnet.get("prefix")).unwrap_or_default();
                    want.addresses
                        .insert((dev.clone(), format!("{addr}/{prefix}")));
                }
                _ => {}
            }
            let dynamic6 = kind.starts_with("ipv6_") || kind == "dhcp6";
            // A DHCP subnet's default route is dhclient's to set (cloud-init
            // writes DHCLIENT_SET_DEFAULT_ROUTE=yes): from the lease, which
            // the reader does not model.
            let dhcp4 = kind == "dhcp" || kind == "dhcp4";
            let default_metric = text(subnet.get("metric"));
            if let Some(gw) = text(subnet.get("gateway")) {
                if !subnet.not_default() {
                    want.routes.insert(Route {
                        family: if gw.contains(':') { 6 } else { 4 },
                        dst: "default".into(),
                        via: Some(gw),
                        metric: default_metric.filter(|_| !subnet.is_ipv6()),
                        dev: dev.clone(),
                    });
                }
            }
            for route in subnet.routes() {
                let network = text(route.get("network")).unwrap_or_default();
                let prefix = text(route.get("prefix")).unwrap_or_default();
                let via = text(route.get("gateway"));
                let family = if network.contains(':') { 6 } else { 4 };
                let default = prefix == "0" && (network == "0.0.0.0" || network == "::");
                if default && (dynamic6 || dhcp4 || subnet.not_default()) {
                    continue;
                }
                want.routes.insert(Route {
                    family,
                    dst: if default {
                        "default".into()
                    } else {
                        format!("{network}/{prefix}")
                    },
                    via,
                    metric: text(route.get("metric")),
                    dev: dev.clone(),
                });
            }
        }
    }
    let mut unreached = Vec::new();
    for r in &state.routes {
        let network = text(r.get("network")).unwrap_or_default();
        let prefix = text(r.get("prefix")).unwrap_or_default();
        let Some(gw) = text(r.get("gateway")) else {
            continue;
        };
        let family = if gw.contains(':') { 6 } else { 4 };
        let default = prefix == "0" && (network == "0.0.0.0" || network == "::");
        if default
            && want
                .routes
                .iter()
                .any(|r| r.family == family && r.dst == "default")
        {
            continue;
        }
        let owner = want
            .addresses
            .iter()
            .find(|(_, cidr)| same_network(cidr, &gw));
        match owner {
            Some((dev, _)) => {
                want.routes.insert(Route {
                    family,
                    dst: if default {
                        "default".into()
                    } else {
                        format!("{network}/{prefix}")
                    },
                    via: Some(gw),
                    metric: text(r.get("metric")),
                    dev: dev.clone(),
                });
            }
            None => unreached.push(format!("{network}/{prefix} via {gw}")),
        }
    }
    (want, unreached)
}

/// Whether `gateway` is in the network of `cidr` (an address/prefix).
fn same_network(cidr: &str, gateway: &str) -> bool {
    let Some((addr, prefix)) = cidr.split_once('/') else {
        return false;
    };
    let prefix: u32 = prefix.parse().unwrap_or(0);
    match (
        addr.parse::<std::net::IpAddr>(),
        gateway.parse::<std::net::IpAddr>(),
    ) {
        (Ok(std::net::IpAddr::V4(a)), Ok(std::net::IpAddr::V4(g))) => {
            let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
            u32::from(a) & mask == u32::from(g) & mask
        }
        (Ok(std::net::IpAddr::V6(a)), Ok(std::net::IpAddr::V6(g))) => {
            let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
            u128::from(a) & mask == u128::from(g) & mask
        }
        _ => false,
    }
}

fn diff<T: Ord + std::fmt::Debug + Clone>(
    what: &str,
    want: &BTreeSet<T>,
    got: &BTreeSet<T>,
) -> Vec<String> {
    let mut out = Vec::new();
    for w in want.difference(got) {
        out.push(format!("    lost {what}: {w:?}"));
    }
    for g in got.difference(want) {
        out.push(format!("    extra {what}: {g:?}"));
    }
    out
}

fn compare(want: &Applied, got: &Applied) -> Vec<String> {
    let mut out = diff("address", &want.addresses, &got.addresses);
    out.extend(diff("dhcp", &want.dhcp4, &got.dhcp4));
    let routes = |a: &Applied| {
        a.routes
            .iter()
            .map(|r| r.to_string())
            .collect::<BTreeSet<_>>()
    };
    out.extend(diff("route", &routes(want), &routes(got)));
    out.extend(got.errors.iter().map(|e| format!("    ifup: {e}")));
    out
}

/// Where initscripts apply something else than the config asks, on
/// purpose:
/// * `ipv6_dhcpv6-stateful` is written `BOOTPROTO=dhcp` (with `DHCPV6C`), as
///   22.4 writes it, so dhclient also asks for an IPv4 lease; without one
///   ifup goes on (DHCPV6C is set), after dhclient's timeout.
/// * `v2-dhcp-overrides-and-routes` names two IPv4 default routes on nic1
///   (`gateway4` and a `0.0.0.0/0` route); the table holds one, and the
///   explicit route is it, as in 22.4.
const ACCEPTED: &[(&str, &str)] = &[
    ("odj-ipv6", "    extra dhcp: \"eth2\""),
    ("v1-dhcpv6-stateful", "    extra dhcp: \"eth0\""),
    (
        "v2-dhcp-overrides-and-routes",
        "    lost route: \"ip -4 route default via 192.168.1.1 dev nic1\"",
    ),
];

fn check(state: &NetworkState) -> Vec<String> {
    check_except(state, "")
}

fn check_except(state: &NetworkState, case: &str) -> Vec<String> {
    let (want, _) = asked(state);
    let mut problems = Vec::new();
    for (flavor, generation) in [
        (Flavor::Rhel6, Generation::El6),
        (Flavor::Rhel, Generation::El7),
    ] {
        let got = bring_up(&render(state, flavor), generation);
        let p: Vec<String> = compare(&want, &got)
            .into_iter()
            .filter(|line| !ACCEPTED.contains(&(case, line.as_str())))
            .collect();
        if !p.is_empty() {
            problems.push(format!("  {generation:?}:\n{}", p.join("\n")));
        }
    }
    problems
}

#[test]
fn every_corpus_case_comes_up_as_its_config_asks() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in net_common::cases() {
        let mut st = net_common::state(&case);
        st.demote_extra_default_gateways();
        checked += 1;
        let name = net_common::name(&case);
        let problems = check_except(&st, &name);
        if !problems.is_empty() {
            failures.push(format!("{name}:\n{}", problems.join("\n")));
        }
    }
    assert_eq!(checked, 38);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn parse(yaml: &str) -> NetworkState {
    let v = cloudboot::yaml::load(yaml.as_bytes(), "test").unwrap();
    let mut st = NetworkState::parse(&v, &HashMap::new()).unwrap();
    st.demote_extra_default_gateways();
    st
}

/// Configs the corpus does not have, each one thing initscripts read
/// differently from how the config means it.
const EXTRA: &[(&str, &str)] = &[
    (
        "static plus DHCP on one NIC",
        "version: 1\nconfig:\n- type: physical\n  name: eth0\n  subnets:\n\
         \x20 - {type: dhcp}\n\
         \x20 - {type: static, address: 10.0.0.5/24}\n\
         \x20 - {type: static, address: 10.9.0.5/24}\n",
    ),
    (
        "static with a gateway plus DHCP on one NIC",
        "version: 1\nconfig:\n- type: physical\n  name: eth0\n  subnets:\n\
         \x20 - {type: static, address: 10.0.0.5/24, gateway: 10.0.0.1}\n\
         \x20 - {type: dhcp}\n",
    ),
    (
        "the second address has the gateway",
        "version: 1\nconfig:\n- type: physical\n  name: eth0\n  subnets:\n\
         \x20 - {type: static, address: 10.1.0.10/24}\n\
         \x20 - {type: static, address: 10.2.0.10/24, gateway: 10.2.0.1}\n",
    ),
    (
        "both addresses have a gateway",
        "version: 1\nconfig:\n- type: physical\n  name: eth0\n  subnets:\n\
         \x20 - {type: static, address: 10.1.0.10/24, gateway: 10.1.0.1}\n\
         \x20 - {type: static, address: 10.2.0.10/24, gateway: 10.2.0.1}\n",
    ),
    (
        "routes with and without metrics, and a default route with one",
        "version: 1\nconfig:\n- type: physical\n  name: eth0\n  subnets:\n\
         \x20 - type: static\n    address: 10.1.0.10/24\n    routes:\n\
         \x20     - {network: 0.0.0.0/0, gateway: 10.1.0.1, metric: 100}\n\
         \x20     - {network: 10.20.0.0, prefix: 16, gateway: 10.1.0.254}\n\
         \x20     - {network: 10.30.0.0, prefix: 16, gateway: 10.1.0.253, metric: 30}\n\
         \x20 - type: static6\n    address: 'fd00::10/64'\n    routes:\n\
         \x20     - {network: 'fd01::', prefix: 48, gateway: 'fd00::1', metric: 5}\n",
    ),
    (
        "three IPv4 and three IPv6 addresses",
        "version: 1\nconfig:\n- type: physical\n  name: eth0\n  subnets:\n\
         \x20 - {type: static, address: 10.1.0.10/24, gateway: 10.1.0.1}\n\
         \x20 - {type: static, address: 10.2.0.10/16}\n\
         \x20 - {type: static, address: 10.3.0.10/8}\n\
         \x20 - {type: static6, address: 'fd00::10/64', gateway: 'fd00::1'}\n\
         \x20 - {type: static6, address: 'fd01::10/64'}\n\
         \x20 - {type: static6, address: 'fd02::10/64'}\n",
    ),
];

#[test]
fn extra_configs_come_up_as_their_config_asks() {
    let mut failures = Vec::new();
    for (what, yaml) in EXTRA {
        let problems = check(&parse(yaml));
        if !problems.is_empty() {
            failures.push(format!("{what}:\n{}", problems.join("\n")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// tests/fixtures/sysconfig-extra (the renderer's other parity cases), as
/// initscripts bring them up.
#[test]
fn sysconfig_extra_cases_come_up_as_their_config_asks() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sysconfig-extra");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    let mut failures = Vec::new();
    for case in &cases {
        let st = parse(&std::fs::read_to_string(case.join("input.yaml")).unwrap());
        let name = case.file_name().unwrap().to_string_lossy();
        let problems = check_except(&st, &name);
        if !problems.is_empty() {
            failures.push(format!("{}:\n{}", case.display(), problems.join("\n")));
        }
    }
    assert_eq!(cases.len(), 8);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The reader has teeth: cloud-init 22.4's own files (the corpus) lose a
/// route's metric under both generations, and the reader says so.
#[test]
fn cloud_init_s_route_file_loses_the_metric() {
    let case = net_common::corpus().join("v1-subnet-routes");
    let theirs = net_common::expected(&case, "centos-sysconfig");
    for generation in [Generation::El6, Generation::El7] {
        let got = bring_up(&theirs, generation);
        let routes: Vec<String> = got.routes.iter().map(|r| r.to_string()).collect();
        assert!(
            routes.contains(&"ip -4 route 172.16.0.0/12 via 10.3.0.254 dev eth0".to_string()),
            "{routes:?}"
        );
    }
    let mut st = net_common::state(&case);
    st.demote_extra_default_gateways();
    let ours = bring_up(&render(&st, Flavor::Rhel), Generation::El7);
    assert!(ours
        .routes
        .iter()
        .any(|r| r.to_string() == "ip -4 route 172.16.0.0/12 via 10.3.0.254 metric 50 dev eth0"));
}

/// What cloudboot writes for the three fixes, file by file.
#[test]
fn the_fixes_as_files() {
    let header = "# Created by cloud-init on instance boot automatically, do not edit.\n#\n";
    // Static addresses on a DHCP NIC: alias files.
    let st = parse(EXTRA[0].1);
    for flavor in [Flavor::Rhel6, Flavor::Rhel] {
        let got = render(&st, flavor);
        let dir = "/etc/sysconfig/network-scripts";
        assert!(got[&format!("{dir}/ifcfg-eth0")].contains("\nBOOTPROTO=dhcp\n"));
        assert_eq!(
            got[&format!("{dir}/ifcfg-eth0:0")],
            format!("{header}DEVICE=eth0:0\nIPADDR=10.0.0.5\nNETMASK=255.255.255.0\nNO_ALIASROUTING=yes\n")
        );
        assert_eq!(
            got[&format!("{dir}/ifcfg-eth0:1")],
            format!("{header}DEVICE=eth0:1\nIPADDR=10.9.0.5\nNETMASK=255.255.255.0\nNO_ALIASROUTING=yes\n")
        );
        // The gateway of the second address: the route file.
        let got = render(&parse(EXTRA[2].1), flavor);
        assert!(got[&format!("{dir}/ifcfg-eth0")].contains("\nGATEWAY=10.2.0.1\n"));
        assert_eq!(
            got[&format!("{dir}/route-eth0")],
            format!("{header}default via 10.2.0.1 dev eth0\n")
        );
        // Both addresses with a gateway: the first is GATEWAY, and applies.
        let got = render(&parse(EXTRA[3].1), flavor);
        assert!(got[&format!("{dir}/ifcfg-eth0")].contains("\nGATEWAY=10.1.0.1\n"));
        assert!(!got.contains_key(&format!("{dir}/route-eth0")));
        // Metrics: `ip route` arguments.
        let got = render(&parse(EXTRA[4].1), flavor);
        assert_eq!(
            got[&format!("{dir}/route-eth0")],
            format!(
                "{header}10.20.0.0/16 via 10.1.0.254 dev eth0\n10.30.0.0/16 via 10.1.0.253 metric 30 dev eth0\n"
            )
        );
    }
}

// ---- the reader's commands, run for real ----

/// The kernel's global addresses and routes in the lab's guest namespace,
/// in the reader's terms (kernel-made prefix routes, link-local and
/// multicast left out; IPv6's default metric 1024 as none).
fn kernel_state(lab: &netns_common::Lab) -> (BTreeSet<(String, String)>, BTreeSet<String>) {
    let out = lab.guest_sh("ip -o addr show scope global; echo ===; ip -4 route; ip -6 route");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (addrs, routes) = text.split_once("===\n").unwrap();
    let addresses = addrs
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() > 3).then(|| (w[1].to_string(), w[3].to_string()))
        })
        .collect();
    let mut table = BTreeSet::new();
    for line in routes.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.is_empty()
            || line.contains("proto kernel")
            || w[0].starts_with("fe80")
            || w[0].starts_with("ff00")
            || w[0] == "multicast"
        {
            continue;
        }
        let after = |k: &str| w.iter().position(|x| *x == k).map(|i| w[i + 1].to_string());
        let family = if w[0].contains(':') || after("via").is_some_and(|v| v.contains(':')) {
            6
        } else {
            4
        };
        let metric = after("metric").filter(|m| !(family == 6 && m == "1024"));
        let route = Route {
            family,
            dst: w[0].to_string(),
            via: after("via"),
            metric,
            dev: after("dev").unwrap_or_default(),
        };
        table.insert(route.to_string());
    }
    (addresses, table)
}

/// The static configs (EXTRA, and the corpus cases whose interfaces are
/// all physical NICs), rendered for EL6 and EL7: the reader's `ip`
/// commands run in a network namespace whose NICs have the config's names,
/// and the kernel ends up with the addresses and routes the reader says,
/// which are the config's (checked above). A route whose gateway the
/// kernel cannot reach, or a command it refuses, fails here.
#[test]
fn the_commands_initscripts_would_run_work_in_a_network_namespace() {
    let mut configs: Vec<(String, NetworkState)> = EXTRA
        .iter()
        .map(|(w, y)| (w.to_string(), parse(y)))
        .collect();
    for case in net_common::cases() {
        let mut st = net_common::state(&case);
        st.demote_extra_default_gateways();
        if st
            .interfaces
            .iter()
            .all(|i| i.kind() == "physical" || i.kind() == "loopback")
        {
            configs.push((net_common::name(&case), st));
        }
    }
    let mut failures = Vec::new();
    let mut ran = 0;
    for (what, st) in &configs {
        let names: Vec<&'static str> = st
            .interfaces
            .iter()
            .filter(|i| i.kind() == "physical")
            .map(|i| &*Box::leak(i.name().into_boxed_str()))
            .collect();
        let nics: Vec<netns_common::Nic> = names
            .iter()
            .enumerate()
            .map(|(n, name)| netns_common::Nic {
                name,
                mac: Box::leak(format!("fa:16:3e:00:01:{n:02x}").into_boxed_str()),
                peer_addr: None,
                dhcp_range: None,
            })
            .collect();
        for (flavor, generation) in [
            (Flavor::Rhel6, Generation::El6),
            (Flavor::Rhel, Generation::El7),
        ] {
            let Some(lab) = netns_common::lab(&nics) else {
                return;
            };
            let applied = bring_up(&render(st, flavor), generation);
            let mut script = String::new();
            for name in &names {
                script.push_str(&format!(
                    "sysctl -qw net.ipv6.conf.{name}.accept_dad=0; ip link set dev {name} up\n"
                ));
            }
            for argv in &applied.commands {
                script.push_str(&format!(
                    "ip {} || echo FAILED: ip {}\n",
                    argv.join(" "),
                    argv.join(" ")
                ));
            }
            let out = lab.guest_sh(&script);
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let (addresses, routes) = kernel_state(&lab);
            let want_routes: BTreeSet<String> =
                applied.routes.iter().map(|r| r.to_string()).collect();
            let want_addresses: BTreeSet<(String, String)> = applied
                .addresses
                .iter()
                .filter(|(_, a)| !a.starts_with("fe80"))
                .cloned()
                .collect();
            ran += 1;
            if said.contains("FAILED") || addresses != want_addresses || routes != want_routes {
                failures.push(format!(
                    "{what} [{generation:?}]:\n  ip said: {said}\n  addresses: kernel {addresses:?}\n             reader {want_addresses:?}\n  routes: kernel {routes:?}\n          reader {want_routes:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(ran >= 2 * EXTRA.len(), "{ran}");
    eprintln!(
        "net_sysconfig_initscripts: {ran} renderings brought up with ip in a network namespace"
    );
}

/// Deliberate: global routes (22.4's sysconfig drops them) go to the route
/// file of the interface that reaches the gateway; one no interface
/// reaches is reported; a global default beside a subnet's gateway is not
/// a second default route.
#[test]
fn global_routes_go_to_the_interface_that_reaches_them() {
    let yaml = "version: 1\nconfig:\n\
        - {type: physical, name: eth0, subnets: [{type: static, address: 10.1.0.10/24}]}\n\
        - {type: physical, name: eth1, subnets: [{type: static, address: 10.2.0.10/24, gateway: 10.2.0.1}]}\n\
        - {type: route, destination: 10.50.0.0/16, gateway: 10.1.0.254, metric: 7}\n\
        - {type: route, destination: 0.0.0.0/0, gateway: 10.1.0.1}\n\
        - {type: route, destination: 10.60.0.0/16, gateway: 192.0.2.1}\n";
    let st = parse(yaml);
    let header = "# Created by cloud-init on instance boot automatically, do not edit.\n#\n";
    let dir = tempfile::tempdir().unwrap();
    let fs = RealFs {
        root: Root::new(dir.path()),
    };
    for flavor in [Flavor::Rhel, Flavor::Suse] {
        let r = Sysconfig.render(&st, &RenderContext { fs: &fs, flavor });
        let got: BTreeMap<String, String> = r
            .files
            .iter()
            .map(|f| (f.path.display().to_string(), f.content.clone()))
            .collect();
        let joined = r.warnings.join("\n");
        assert!(
            joined.contains("10.60.0.0/16 via 192.0.2.1 not written"),
            "{joined}"
        );
        assert!(
            joined.contains("global default route via 10.1.0.1 not written"),
            "{joined}"
        );
        if flavor == Flavor::Suse {
            assert_eq!(
                got["/etc/sysconfig/network/ifroute-eth0"],
                format!("{header}10.50.0.0/16 10.1.0.254 - eth0 metric 7\n")
            );
            assert_eq!(
                got["/etc/sysconfig/network/ifroute-eth1"],
                format!("{header}default 10.2.0.1 - eth1\n")
            );
        } else {
            assert_eq!(
                got["/etc/sysconfig/network-scripts/route-eth0"],
                format!("{header}10.50.0.0/16 via 10.1.0.254 metric 7 dev eth0\n")
            );
        }
    }
    assert!(check(&st).is_empty(), "{:?}", check(&st));
}
