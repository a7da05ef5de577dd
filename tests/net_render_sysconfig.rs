//! The sysconfig renderer against cloud-init 22.4's `net-convert -O
//! sysconfig` output (tests/fixtures/net, `centos-sysconfig` and
//! `rhel-sysconfig`), every file byte for byte; then cloudboot's deliberate
//! default-gateway fix and the RHEL 6 flavour.

mod net_common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use cloudboot::net::render::sysconfig::Sysconfig;
use cloudboot::net::render::{Flavor, RenderContext, Rendered, Renderer};
use cloudboot::net::state::NetworkState;
use cloudboot::rootfs::{RealFs, Root};
use net_common::compare;

/// Cases where cloudboot deliberately writes something else, and why.
const DELIBERATE: &[(&str, &str)] = &[(
    "v1-two-gateways",
    "two interfaces with an IPv4 gateway: cloud-init makes both the default route \
     (DEFROUTE=yes twice); cloudboot keeps the first and writes DEFROUTE=no for eth1",
)];

fn render_in(root: &Path, state: &NetworkState, flavor: Flavor) -> Rendered {
    let fs = RealFs {
        root: Root::new(root),
    };
    Sysconfig.render(state, &RenderContext { fs: &fs, flavor })
}

/// Renders into an empty root, as net-convert does.
fn render(state: &NetworkState, flavor: Flavor) -> Rendered {
    let dir = tempfile::tempdir().unwrap();
    render_in(dir.path(), state, flavor)
}

fn files(r: &Rendered) -> BTreeMap<String, String> {
    r.files
        .iter()
        .map(|f| (f.path.display().to_string(), f.content.clone()))
        .collect()
}

/// The corpus case's state after the default-gateway pass, as the caller
/// renders it.
fn demoted_state(case: &Path) -> (NetworkState, Vec<(String, String)>) {
    let mut st = net_common::state(case);
    let demoted = st.demote_extra_default_gateways();
    (st, demoted)
}

fn parse(yaml: &str) -> NetworkState {
    let v = cloudboot::yaml::load(yaml.as_bytes(), "test").unwrap();
    let mut st = NetworkState::parse(&v, &HashMap::new()).unwrap();
    st.demote_extra_default_gateways();
    st
}

/// What cloudboot must write for a case: cloud-init's files (or, where
/// generate.py derives them, `cloudboot/<target>/`: route files with a
/// metric as `ip route` arguments), with the deliberate differences
/// applied.
fn cloudboot_expected(name: &str, mut want: BTreeMap<String, String>) -> BTreeMap<String, String> {
    if name == "v1-two-gateways" {
        let eth1 = "/etc/sysconfig/network-scripts/ifcfg-eth1";
        let text = want[eth1].replace("DEFROUTE=yes\n", "DEFROUTE=no\n");
        want.insert(eth1.into(), text);
    }
    want
}

#[test]
fn every_corpus_case_matches_cloud_init() {
    let mut failures = Vec::new();
    let mut matched = 0;
    let mut checked = 0;
    for case in net_common::cases() {
        let name = net_common::name(&case);
        let (st, demoted) = demoted_state(&case);
        let deliberate = DELIBERATE.iter().any(|(n, _)| *n == name);
        // The list above is exactly the cases with several default gateways.
        assert_eq!(
            !demoted.is_empty(),
            deliberate,
            "{name}: demoted gateways {demoted:?}, but DELIBERATE says {deliberate}"
        );
        for flavor in [Flavor::Rhel, Flavor::Default] {
            let rendered = render(&st, flavor);
            assert!(
                rendered.files.iter().all(|f| f.mode == 0o644),
                "{name}: modes"
            );
            let got = files(&rendered);
            for target in ["centos-sysconfig", "rhel-sysconfig"] {
                checked += 1;
                let want = cloudboot_expected(&name, net_common::cloudboot_expected(&case, target));
                assert!(!want.is_empty(), "{name}: no expected files for {target}");
                let problems = compare(&want, &got);
                if problems.is_empty() {
                    matched += 1;
                } else {
                    failures.push(format!(
                        "{name} [{target}, {flavor:?}]:\n{}",
                        problems.join("\n")
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{matched}/{checked} match; failures:\n{}",
        failures.join("\n")
    );
    assert_eq!(checked, 38 * 2 * 2);
}

/// tests/fixtures/sysconfig-extra: rules the corpus does not reach, against
/// cloud-init's output for them (see its README).
#[test]
fn extra_cases_match_cloud_init() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sysconfig-extra");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert_eq!(cases.len(), 8);
    let mut failures = Vec::new();
    for case in cases {
        let text = std::fs::read_to_string(case.join("input.yaml")).unwrap();
        let st = parse(&text);
        let got = files(&render(&st, Flavor::Rhel));
        let mut want = BTreeMap::new();
        let root = case.join("expected");
        walk(&root, &root, &mut want);
        for (path, text) in want.iter_mut() {
            if let Some(dev) = path.strip_prefix("/etc/sysconfig/network-scripts/route-") {
                *text = routes_as_ip_args(text, dev);
            }
        }
        // Deliberate: the global default route (22.4 drops it) in the route
        // file of the interface that reaches its gateway.
        if case.ends_with("v1-bond-bridge-vlan-ib") {
            let header =
                "# Created by cloud-init on instance boot automatically, do not edit.\n#\n";
            let dir = "/etc/sysconfig/network-scripts";
            want.insert(
                format!("{dir}/route-bond0"),
                format!("{header}default via 10.0.0.1 dev bond0\n"),
            );
            want.insert(format!("{dir}/route6-bond0"), header.to_string());
        }
        let problems = compare(&want, &got);
        if !problems.is_empty() {
            failures.push(format!("{}:\n{}", case.display(), problems.join("\n")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// cloudboot's deliberate difference in cloud-init's `route-<if>`: a file
/// with a `METRICn` is written as `ip route` arguments (initscripts'
/// `handle_file` drops `METRICn`), as `generate.py`'s
/// `sysconfig_for_initscripts` derives it for the corpus.
fn routes_as_ip_args(text: &str, dev: &str) -> String {
    if !text.lines().any(|l| l.starts_with("METRIC")) {
        return text.to_string();
    }
    let mut routes: BTreeMap<u32, BTreeMap<&str, &str>> = BTreeMap::new();
    for line in text.lines() {
        for key in ["ADDRESS", "GATEWAY", "NETMASK", "METRIC"] {
            if let Some((n, value)) = line.strip_prefix(key).and_then(|r| r.split_once('=')) {
                if let Ok(n) = n.parse() {
                    routes.entry(n).or_default().insert(key, value);
                }
            }
        }
    }
    let mut out: String = text
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    for r in routes.values() {
        let mask: std::net::Ipv4Addr = r["NETMASK"].parse().unwrap();
        let metric = r
            .get("METRIC")
            .map(|m| format!(" metric {m}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "{}/{} via {}{metric} dev {dev}\n",
            r["ADDRESS"],
            u32::from(mask).count_ones(),
            r["GATEWAY"]
        ));
    }
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(root, &p, out);
        } else {
            let rel = format!("/{}", p.strip_prefix(root).unwrap().display());
            out.insert(rel, std::fs::read_to_string(&p).unwrap());
        }
    }
}

#[test]
fn centos_and_rhel_expected_output_is_identical() {
    for case in net_common::cases() {
        assert_eq!(
            net_common::expected(&case, "centos-sysconfig"),
            net_common::expected(&case, "rhel-sysconfig"),
            "{}",
            net_common::name(&case)
        );
    }
}

// ---- the default-gateway fix ----

#[test]
fn two_gateways_only_the_first_is_the_default_route() {
    let case = net_common::corpus().join("v1-two-gateways");
    let (st, demoted) = demoted_state(&case);
    assert_eq!(demoted, [("eth1".to_string(), "10.11.0.1".to_string())]);
    let got = files(&render(&st, Flavor::Rhel));
    let eth0 = &got["/etc/sysconfig/network-scripts/ifcfg-eth0"];
    let eth1 = &got["/etc/sysconfig/network-scripts/ifcfg-eth1"];
    assert!(eth0.contains("\nDEFROUTE=yes\n") && eth0.contains("\nGATEWAY=10.10.0.1\n"));
    assert!(eth1.contains("\nDEFROUTE=no\n"), "{eth1}");
    // The gateway stays known on its interface.
    assert!(eth1.contains("\nGATEWAY=10.11.0.1\n"), "{eth1}");
    // cloud-init's own output makes both default.
    let theirs = net_common::expected(&case, "rhel-sysconfig");
    assert!(theirs["/etc/sysconfig/network-scripts/ifcfg-eth1"].contains("\nDEFROUTE=yes\n"));
}

#[test]
fn without_the_pass_the_renderer_writes_what_cloud_init_writes() {
    let case = net_common::corpus().join("v1-two-gateways");
    let st = net_common::state(&case);
    let got = files(&render(&st, Flavor::Rhel));
    assert!(compare(&net_common::expected(&case, "rhel-sysconfig"), &got).is_empty());
}

#[test]
fn demoted_ipv6_gateway_is_not_written() {
    let st = parse(
        "version: 1\nconfig:\n\
         - {type: physical, name: eth0, subnets: [{type: static6, address: 'fd00:1::10/64', gateway: 'fd00:1::1'}]}\n\
         - {type: physical, name: eth1, subnets: [{type: static6, address: 'fd00:2::10/64', gateway: 'fd00:2::1'}]}\n",
    );
    let got = files(&render(&st, Flavor::Rhel));
    let eth0 = &got["/etc/sysconfig/network-scripts/ifcfg-eth0"];
    let eth1 = &got["/etc/sysconfig/network-scripts/ifcfg-eth1"];
    assert!(eth0.contains("\nIPV6_DEFAULTGW=fd00:1::1\n") && eth0.contains("\nDEFROUTE=yes\n"));
    // ifup-ipv6 would make IPV6_DEFAULTGW a default route whatever DEFROUTE says.
    assert!(!eth1.contains("IPV6_DEFAULTGW"), "{eth1}");
    assert!(!eth1.contains("DEFROUTE"), "{eth1}");
    assert!(eth1.contains("\nIPV6ADDR=fd00:2::10/64\n"));
}

#[test]
fn demotion_is_per_address_family() {
    // eth1's IPv4 gateway is the second one, its IPv6 gateway the first.
    let st = parse(
        "version: 1\nconfig:\n\
         - {type: physical, name: eth0, subnets: [{type: static, address: 10.0.0.2/24, gateway: 10.0.0.1}]}\n\
         - type: physical\n  name: eth1\n  subnets:\n\
         \x20 - {type: static6, address: 'fd00::2/64', gateway: 'fd00::1'}\n\
         \x20 - {type: static, address: 10.1.0.2/24, gateway: 10.1.0.1}\n",
    );
    let got = files(&render(&st, Flavor::Rhel));
    let eth1 = &got["/etc/sysconfig/network-scripts/ifcfg-eth1"];
    // DEFROUTE is IPv4's in initscripts: no, though the IPv6 gateway stays.
    assert!(eth1.contains("\nDEFROUTE=no\n"), "{eth1}");
    assert!(eth1.contains("\nGATEWAY=10.1.0.1\n"), "{eth1}");
    assert!(eth1.contains("\nIPV6_DEFAULTGW=fd00::1\n"), "{eth1}");
}

#[test]
fn demoted_default_route_in_subnet_routes() {
    let st = parse(
        "version: 1\nconfig:\n\
         - {type: physical, name: eth0, subnets: [{type: dhcp}]}\n\
         - {type: physical, name: eth0b, subnets: [{type: static, address: 10.0.0.2/24, routes: [{network: 0.0.0.0/0, gateway: 10.0.0.1}]}]}\n\
         - type: physical\n  name: eth1\n  subnets:\n\
         \x20 - type: dhcp\n\
         \x20   routes: [{network: 0.0.0.0/0, gateway: 10.1.0.1}, {network: 10.9.0.0/16, gateway: 10.1.0.254}]\n",
    );
    let got = files(&render(&st, Flavor::Rhel));
    let first = &got["/etc/sysconfig/network-scripts/ifcfg-eth0b"];
    assert!(first.contains("\nDEFROUTE=yes\n") && first.contains("\nGATEWAY=10.0.0.1\n"));
    let eth1 = &got["/etc/sysconfig/network-scripts/ifcfg-eth1"];
    assert!(eth1.contains("\nDEFROUTE=no\n"), "{eth1}");
    assert!(eth1.contains("\nGATEWAY=10.1.0.1\n"), "{eth1}");
    assert!(!eth1.contains("DHCLIENT_SET_DEFAULT_ROUTE=yes"), "{eth1}");
    // The other route still goes to the route file.
    let routes = &got["/etc/sysconfig/network-scripts/route-eth1"];
    assert!(routes.contains("ADDRESS0=10.9.0.0\nGATEWAY0=10.1.0.254\nNETMASK0=255.255.0.0\n"));
    assert!(!routes.contains("0.0.0.0"));
}

// ---- the RHEL 6 flavour ----

/// Every corpus case: the EL6 files are the EL7 ones without
/// IPV6_FORCE_ACCEPT_RA lines (nothing else differs in an empty root).
#[test]
fn rhel6_differs_only_by_ipv6_force_accept_ra() {
    let mut changed = Vec::new();
    for case in net_common::cases() {
        let (st, _) = demoted_state(&case);
        let el7 = files(&render(&st, Flavor::Rhel));
        let el6 = files(&render(&st, Flavor::Rhel6));
        let stripped: BTreeMap<String, String> = el7
            .iter()
            .map(|(p, c)| {
                let kept: String = c
                    .split_inclusive('\n')
                    .filter(|l| !l.starts_with("IPV6_FORCE_ACCEPT_RA="))
                    .collect();
                (p.clone(), kept)
            })
            .collect();
        let problems = compare(&stripped, &el6);
        assert!(
            problems.is_empty(),
            "{}: {}",
            net_common::name(&case),
            problems.join("\n")
        );
        if stripped != el7 {
            changed.push(net_common::name(&case));
        }
    }
    // The IPv6 cases with static addresses or accept-ra.
    for name in ["v1-accept-ra", "odj-ipv6", "v1-dual-stack", "v2-routes"] {
        assert!(
            changed.contains(&name.to_string()),
            "{name} not changed: {changed:?}"
        );
    }
}

#[test]
fn rhel6_accept_ra_is_reported_not_written() {
    let case = net_common::corpus().join("v1-accept-ra");
    let (st, _) = demoted_state(&case);
    let el6 = render(&st, Flavor::Rhel6);
    let eth0 = &files(&el6)["/etc/sysconfig/network-scripts/ifcfg-eth0"];
    assert!(!eth0.contains("IPV6_FORCE_ACCEPT_RA"), "{eth0}");
    assert!(eth0.contains("\nDHCPV6C=yes\n") && eth0.contains("\nIPV6INIT=yes\n"));
    assert!(
        el6.warnings
            .iter()
            .any(|w| w.contains("IPV6_FORCE_ACCEPT_RA")),
        "{:?}",
        el6.warnings
    );
    // EL7 writes it, and warns about nothing.
    let el7 = render(&st, Flavor::Rhel);
    assert!(files(&el7)["/etc/sysconfig/network-scripts/ifcfg-eth0"]
        .contains("\nIPV6_FORCE_ACCEPT_RA=yes\n"));
    assert!(el7.warnings.is_empty(), "{:?}", el7.warnings);
}

#[test]
fn rhel6_static_ipv6_keeps_autoconf_off() {
    let case = net_common::corpus().join("odj-ipv6");
    let (st, _) = demoted_state(&case);
    let eth0 =
        files(&render(&st, Flavor::Rhel6))["/etc/sysconfig/network-scripts/ifcfg-eth0"].clone();
    assert!(eth0.contains("\nIPV6_AUTOCONF=no\n"), "{eth0}");
    assert!(eth0.contains("\nIPV6_DEFAULTGW=2001:db8:a::1\n"), "{eth0}");
    assert!(!eth0.contains("IPV6_FORCE_ACCEPT_RA"), "{eth0}");
}

#[test]
fn rhel6_keeps_the_hostname_in_etc_sysconfig_network() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("etc/sysconfig")).unwrap();
    std::fs::write(
        root.path().join("etc/sysconfig/network"),
        "NETWORKING=no\nHOSTNAME=web1.example.com\nNOZEROCONF=yes\nNETWORKING_IPV6=no\n",
    )
    .unwrap();
    let case = net_common::corpus().join("v1-dual-stack");
    let (st, _) = demoted_state(&case);
    let header = "# Created by cloud-init on instance boot automatically, do not edit.\n#\n";
    let ours = "NETWORKING=yes\nNETWORKING_IPV6=yes\nIPV6_AUTOCONF=no\n";

    let el6 = files(&render_in(root.path(), &st, Flavor::Rhel6));
    let control = &el6["/etc/sysconfig/network"];
    assert_eq!(
        control,
        &format!("{header}{ours}HOSTNAME=web1.example.com\nNOZEROCONF=yes\n")
    );
    // Rendering again over our own output changes nothing.
    std::fs::write(root.path().join("etc/sysconfig/network"), control).unwrap();
    let again = files(&render_in(root.path(), &st, Flavor::Rhel6));
    assert_eq!(&again["/etc/sysconfig/network"], control);

    // cloud-init 22.4 (and the EL7 flavour) replace the file.
    let el7 = files(&render_in(root.path(), &st, Flavor::Rhel));
    assert_eq!(el7["/etc/sysconfig/network"], format!("{header}{ours}"));
}

// ---- what cloud-init reads from the root, and what it fails on ----

#[test]
fn existing_resolv_conf_is_extended() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    std::fs::write(
        root.path().join("etc/resolv.conf"),
        "# Generated by NetworkManager\nsearch old.example\nnameserver 10.4.0.53\noptions rotate\n",
    )
    .unwrap();
    let case = net_common::corpus().join("v1-global-route-dns");
    let (st, _) = demoted_state(&case);
    let got = files(&render_in(root.path(), &st, Flavor::Rhel));
    assert_eq!(
        got["/etc/resolv.conf"],
        "; Created by cloud-init on instance boot automatically, do not edit.\n;\n\
         # Generated by NetworkManager\noptions rotate\n\
         nameserver 10.4.0.53\nnameserver 10.4.0.54\nsearch old.example corp.example\n"
    );
}

#[test]
fn input_cloud_init_fails_on_gives_warnings() {
    let st = parse(
        "version: 1\nconfig:\n\
         - type: physical\n  name: eth0\n  subnets:\n\
         \x20 - {type: bogus}\n\
         \x20 - {type: static, address: 10.0.0.2/24, routes: [{network: 10.5.0.0/16}]}\n\
         - type: physical\n  name: eth1\n  subnets:\n\
         \x20 - {type: static, address: 10.1.0.2/24, ipv4: true, routes: [{network: 0.0.0.0/0, gateway: 10.1.0.1}, {network: 0.0.0.0/0, gateway: 10.1.0.9}]}\n\
         - {type: vlan, name: vl, vlan_link: eth0, vlan_id: abc}\n",
    );
    let r = render(&st, Flavor::Rhel);
    let got = files(&r);
    let joined = r.warnings.join("\n");
    assert!(joined.contains("unknown subnet type 'bogus'"), "{joined}");
    assert!(joined.contains("has no gateway"), "{joined}");
    assert!(
        joined.contains("duplicate declaration of default route"),
        "{joined}"
    );
    assert!(joined.contains("vlan_id abc is not an integer"), "{joined}");
    assert!(got["/etc/sysconfig/network-scripts/ifcfg-eth0"].contains("\nIPADDR=10.0.0.2\n"));
    assert!(!got.contains_key("/etc/sysconfig/network-scripts/route-eth0"));
    assert!(got["/etc/sysconfig/network-scripts/ifcfg-eth1"].contains("\nGATEWAY=10.1.0.1\n"));
}

#[test]
fn odd_but_valid_input_does_not_panic() {
    for yaml in [
        "version: 1\nconfig: []\n",
        "version: 1\nconfig:\n- {type: loopback, name: lo, subnets: [{type: static, address: 127.0.0.1/8}]}\n",
        "version: 1\nconfig:\n- {type: bond, name: bond0, bond_interfaces: [], params: {}}\n",
        "version: 1\nconfig:\n- {type: bond, name: bond0, bond_interfaces: [ethX], params: {bond-mode: 1, bond-arp-ip-target: [10.0.0.1, 10.0.0.2]}}\n",
        "version: 1\nconfig:\n- {type: bridge, name: br0, bridge_interfaces: [], params: {bridge_stp: on, bridge_ageing: null}}\n",
        "version: 1\nconfig:\n- {type: infiniband, name: ib0, mac_address: 'a0:00', subnets: [{type: static6, address: 'fd00::1/64', mtu: 2044}, {type: static6, address: 'fd00::2/64'}, {type: static6, address: 'fd00::3/64'}]}\n",
        "version: 1\nconfig:\n- {type: physical, name: '../x', subnets: [{type: dhcp}]}\n",
        "version: 2\nethernets:\n  eth0: {dhcp4: true, dhcp6: true, match: {driver: virtio_net, macaddress: 'aa:bb:cc:dd:ee:ff'}}\n",
    ] {
        for flavor in [Flavor::Rhel, Flavor::Rhel6, Flavor::Default] {
            let r = render(&parse(yaml), flavor);
            assert!(r.files.iter().any(|f| f.path == Path::new("/etc/sysconfig/network")));
        }
    }
    let st =
        parse("version: 1\nconfig:\n- {type: physical, name: '../x', subnets: [{type: dhcp}]}\n");
    let r = render(&st, Flavor::Rhel);
    assert!(r
        .files
        .iter()
        .all(|f| !f.path.display().to_string().contains("..")));
    assert!(!r.warnings.is_empty());
}
