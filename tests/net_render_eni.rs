//! The ENI renderer against `cloud-init devel net-convert -D debian -O eni`
//! (cloud-init 22.4), byte for byte, for every case of the parity corpus
//! (tests/fixtures/net), and its handling of the image's own
//! `/etc/network/interfaces`. Routes are the deliberate difference of
//! every case that has them: iproute2's `ip route` where cloud-init writes
//! net-tools' `route` (the corpus's `cloudboot/debian-eni/`), each form
//! checked here too.

mod net_common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use cloudboot::net::render::eni::{
    Eni, ENI_PATH, LEGACY_ETH0_PATH, MAIN_PATH, NETRULES_PATH, UBUNTU_ENI_PATH,
};
use cloudboot::net::render::{Flavor, RenderContext, Rendered, Renderer};
use cloudboot::net::state::NetworkState;
use cloudboot::rootfs::{RealFs, Root};
use net_common::{cases, cloudboot_expected, derived_difference, expected, name, state};

/// Where cloudboot deliberately writes something else than cloud-init:
/// the case, why, and cloud-init's expected files turned into ours.
type Fix = fn(&mut BTreeMap<String, String>);
const DELIBERATE: &[(&str, &str, Fix)] = &[(
    "v1-two-gateways",
    "two NICs with a gateway each: eth1's is not written, so only eth0's \
     becomes the default route (cloud-init writes both; the first up wins)",
    |files| {
        let f = files.get_mut(ENI_PATH).unwrap();
        let before = f.len();
        *f = f.replace("    gateway 10.11.0.1\n", "");
        assert_ne!(before, f.len(), "cloud-init's file has eth1's gateway");
    },
)];

/// A root with the given files (guest path, content).
fn root(files: &[(&str, &str)]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for (path, content) in files {
        let host = tmp.path().join(path.trim_start_matches('/'));
        std::fs::create_dir_all(host.parent().unwrap()).unwrap();
        std::fs::write(host, content).unwrap();
    }
    tmp
}

fn render_in(st: &NetworkState, dir: &Path) -> Rendered {
    let fs = RealFs {
        root: Root::new(dir),
    };
    let ctx = RenderContext {
        fs: &fs,
        flavor: Flavor::Default,
    };
    Eni.render(st, &ctx)
}

fn files(r: &Rendered) -> BTreeMap<String, String> {
    r.files
        .iter()
        .map(|f| (f.path.display().to_string(), f.content.clone()))
        .collect()
}

/// A stock Debian 9+ main file: reads interfaces.d, so it is left alone.
const DEBIAN9: &str = "\
# This file describes the network interfaces available on your system
# and how to activate them. For more information, see interfaces(5).

source /etc/network/interfaces.d/*

# The loopback network interface
auto lo
iface lo inet loopback
";

#[test]
fn corpus_matches_cloud_init() {
    let tmp = root(&[(MAIN_PATH, DEBIAN9)]);
    let mut failures = Vec::new();
    let (mut identical, mut with_routes) = (0, 0);
    for case in cases() {
        let n = name(&case);
        let mut st = state(&case);
        // As the caller does before rendering.
        let demoted = st.demote_extra_default_gateways();
        let rendered = render_in(&st, tmp.path());
        let theirs = expected(&case, "debian-eni");
        assert_eq!(theirs.len(), 2, "{n}: cloud-init wrote two files");
        let mut want = cloudboot_expected(&case, "debian-eni");
        // The derived difference is exactly the cases where cloud-init
        // writes `route`.
        let uses_route = theirs[ENI_PATH].contains("post-up route add ");
        assert_eq!(derived_difference(&case, "debian-eni"), uses_route, "{n}");
        if uses_route {
            with_routes += 1;
            let text = &want[ENI_PATH];
            assert!(
                !text.contains("post-up route ") && !text.contains("pre-down route "),
                "{n}"
            );
            assert_eq!(want[NETRULES_PATH], theirs[NETRULES_PATH], "{n}");
        }
        match DELIBERATE.iter().find(|(c, _, _)| *c == n) {
            Some((_, _, fix)) => {
                assert!(!demoted.is_empty(), "{n}: expected a demoted gateway");
                fix(&mut want);
            }
            None => {
                assert!(demoted.is_empty(), "{n}: unexpected demotion {demoted:?}");
                identical += usize::from(!uses_route);
            }
        }
        let got = files(&rendered);
        if got != want {
            let mut diff = String::new();
            for (path, text) in &want {
                let ours = got.get(path).map(String::as_str).unwrap_or("<missing>");
                if ours != text {
                    diff.push_str(&format!("--- {path}\n{text}\n+++ ours\n{ours}\n"));
                }
            }
            for path in got.keys().filter(|p| !want.contains_key(*p)) {
                diff.push_str(&format!("+++ extra {path}\n"));
            }
            failures.push(format!("== {n}\n{diff}"));
        }
        assert!(rendered.remove.is_empty(), "{n}");
        assert!(rendered.files.iter().all(|f| f.mode == 0o644), "{n}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(identical + with_routes + DELIBERATE.len(), cases().len());
    assert_eq!((identical, with_routes), (28, 9));
}

/// The two-gateway fix keeps everything else: eth1 still gets its address
/// and its non-default routes, and an IPv6 gateway on another NIC is a
/// family of its own.
#[test]
fn demoted_gateway_keeps_the_rest() {
    let v = cloudboot::yaml::load(
        b"version: 1
config:
- type: physical
  name: eth0
  subnets:
  - {type: static, address: 10.0.0.2/24, gateway: 10.0.0.1}
- type: physical
  name: eth1
  subnets:
  - type: static
    address: 10.1.0.2/24
    routes:
    - {network: 0.0.0.0, netmask: 0.0.0.0, gateway: 10.1.0.1}
    - {network: 172.16.0.0, netmask: 255.240.0.0, gateway: 10.1.0.254}
  - {type: static6, address: 'fd00::2/64', gateway: 'fd00::1'}
",
        "t",
    )
    .unwrap();
    let mut st = NetworkState::parse(&v, &Default::default()).unwrap();
    let demoted = st.demote_extra_default_gateways();
    assert_eq!(demoted, [("eth1".to_string(), "10.1.0.1".to_string())]);
    let tmp = root(&[(MAIN_PATH, DEBIAN9)]);
    let out = files(&render_in(&st, tmp.path()));
    let eni = &out[ENI_PATH];
    assert!(eni.contains("    gateway 10.0.0.1\n"));
    assert!(!eni.contains("default via 10.1.0.1"), "{eni}");
    assert!(eni.contains("post-up ip route add 172.16.0.0/12 via 10.1.0.254 || true\n"));
    assert!(eni.contains("    address 10.1.0.2/24\n"));
    assert!(eni.contains("    gateway fd00::1\n"));
}

fn one_nic() -> NetworkState {
    let v = cloudboot::yaml::load(
        b"version: 1
config:
- {type: physical, name: eth0, mac_address: 'fa:16:3e:00:00:00', subnets: [{type: dhcp}]}
",
        "t",
    )
    .unwrap();
    NetworkState::parse(&v, &Default::default()).unwrap()
}

/// The main file as rendered, if it was rewritten.
fn main_after(main: Option<&str>) -> (Option<String>, Vec<String>) {
    let tmp = match main {
        Some(text) => root(&[(MAIN_PATH, text)]),
        None => root(&[]),
    };
    let r = render_in(&one_nic(), tmp.path());
    (files(&r).get(MAIN_PATH).cloned(), r.warnings)
}

#[test]
fn main_file_that_reads_interfaces_d_is_left_alone() {
    for (image, text) in [
        ("Debian 9+", DEBIAN9),
        (
            "Debian 8, ifupdown's postinst",
            "# interfaces(5) file used by ifup(8) and ifdown(8)\n# Include files from /etc/network/interfaces.d:\nsource-directory /etc/network/interfaces.d\n",
        ),
        ("relative", "auto lo\niface lo inet loopback\nsource-directory interfaces.d/\n"),
        ("source-dir spelling", "source-dir /etc/network/interfaces.d\n"),
        ("relative glob", "source ./interfaces.d/[0-9]*\n"),
        ("several words", "source /etc/x.cfg /etc/network/interfaces.d/50-*\n"),
        ("continued line", "source \\\n /etc/network/interfaces.d/*\n"),
    ] {
        let (main, _) = main_after(Some(text));
        assert_eq!(main, None, "{image}");
    }
}

#[test]
fn debian7_main_file_gets_a_source_line() {
    let wheezy = "# The loopback network interface\nauto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet dhcp\n";
    let (main, warnings) = main_after(Some(wheezy));
    let main = main.expect("rewritten");
    assert!(main.starts_with(wheezy), "content kept:\n{main}");
    assert!(
        main.ends_with("\nsource /etc/network/interfaces.d/*\n"),
        "{main}"
    );
    assert!(
        main[wheezy.len()..].starts_with("\n# Added by cloudboot"),
        "{main}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("defines eth0 too")),
        "{warnings:?}"
    );
    // Commented-out or non-matching lines do not count.
    for text in [
        "# source /etc/network/interfaces.d/*\n",
        "source /etc/network/*\n",
        "source-directory /etc/network\n",
        "iface lo inet loopback",
    ] {
        let (main, _) = main_after(Some(text));
        let main = main.expect(text);
        assert!(main.starts_with(text), "{main}");
        assert!(
            main.ends_with("source /etc/network/interfaces.d/*\n"),
            "{main}"
        );
    }
}

#[test]
fn ubuntu_1404_main_file_gets_our_file_only() {
    let trusty = "# The loopback network interface\nauto lo\niface lo inet loopback\n\n# Source interfaces\n# Please check /etc/network/interfaces.d before changing this file\n# as interfaces may have been defined in /etc/network/interfaces.d\n# NOTE: the primary ethernet device is defined in\n# /etc/network/interfaces.d/eth0\n# See LP: #1262951\nsource /etc/network/interfaces.d/*.cfg\n";
    let (main, _) = main_after(Some(trusty));
    let main = main.expect("rewritten");
    assert!(main.starts_with(trusty));
    // `*` would read the *.cfg files a second time.
    assert!(
        main.ends_with("\nsource /etc/network/interfaces.d/50-cloud-init\n"),
        "{main}"
    );
}

#[test]
fn missing_main_file_is_written() {
    let (main, _) = main_after(None);
    let main = main.expect("written");
    assert!(main.starts_with("# Added by cloudboot"), "{main}");
    assert!(main.ends_with("\nsource /etc/network/interfaces.d/*\n"));
}

#[test]
fn rewritten_main_file_is_stable_and_keeps_its_mode() {
    let tmp = root(&[(MAIN_PATH, "auto lo\niface lo inet loopback")]);
    let host = tmp.path().join(MAIN_PATH.trim_start_matches('/'));
    std::fs::set_permissions(&host, std::fs::Permissions::from_mode(0o600)).unwrap();
    let r = render_in(&one_nic(), tmp.path());
    let main = r
        .files
        .iter()
        .find(|f| f.path == Path::new(MAIN_PATH))
        .unwrap();
    assert_eq!(main.mode, 0o600);
    assert!(main
        .content
        .starts_with("auto lo\niface lo inet loopback\n\n# Added"));
    // Written out, the next render leaves it alone.
    std::fs::write(&host, &main.content).unwrap();
    let again = render_in(&one_nic(), tmp.path());
    assert!(!files(&again).contains_key(MAIN_PATH));
}

#[test]
fn legacy_eth0_cfg_is_removed_only_when_stock() {
    let stock = "# The primary network interface\nauto eth0\niface eth0 inet dhcp\n";
    let tmp = root(&[(MAIN_PATH, DEBIAN9), (LEGACY_ETH0_PATH, stock)]);
    let r = render_in(&one_nic(), tmp.path());
    assert_eq!(r.remove, [PathBuf::from(LEGACY_ETH0_PATH)]);

    let custom = "auto eth0\niface eth0 inet static\n  address 10.0.0.2/24\n";
    let tmp = root(&[(MAIN_PATH, DEBIAN9), (LEGACY_ETH0_PATH, custom)]);
    let r = render_in(&one_nic(), tmp.path());
    assert!(r.remove.is_empty());
    assert!(r
        .warnings
        .iter()
        .any(|w| w.contains("exists with user configured content")));
}

#[test]
fn odd_states_render_without_panicking() {
    // A loopback without subnets plus global DNS (cloud-init: IndexError),
    // a route without a gateway (KeyError), a dhcp subnet with an address
    // and no prefix (KeyError), a bridge port cost given as a map, Python
    // reprs of odd values.
    let v = cloudboot::yaml::load(
        "version: 1
config:
- {type: loopback, name: lo}
- type: physical
  name: eth0
  wakeonlan: true
  accept-ra: false
  subnets:
  - {type: dhcp, address: 10.0.0.9}
  - {type: static6, address: 'fd00::2/64', routes: [{network: 'fd01::', prefix: 64}]}
  - {type: ipv6_slaac}
- type: bridge
  name: br0
  bridge_interfaces: [eth1]
  params: {bridge_pathcost: {eth1: 10}, bridge_portprio: 'ab', bridge_waitport: 5, bridge_stp: true}
- {type: nameserver, address: [1.1.1.1], search: [\"o'k.example\"]}
- {type: route, destination: 10.9.0.0/16}
"
        .as_bytes(),
        "t",
    )
    .unwrap();
    let st = NetworkState::parse(&v, &Default::default()).unwrap();
    let tmp = root(&[(MAIN_PATH, DEBIAN9)]);
    let r = render_in(&st, tmp.path());
    let eni = &files(&r)[ENI_PATH];
    assert!(eni.contains("auto lo\niface lo inet loopback\n    dns-nameservers 1.1.1.1\n    dns-search o'k.example\n"), "{eni}");
    assert!(
        eni.contains("iface eth0 inet dhcp\n    address 10.0.0.9\n    ethernet-wol g\n"),
        "{eni}"
    );
    assert!(
        eni.contains("# control-alias eth0\niface eth0 inet6 static\n    address fd00::2/64\n\n"),
        "{eni}"
    );
    assert!(
        eni.contains("# control-alias eth0\niface eth0 inet6 auto\n"),
        "{eni}"
    );
    assert!(eni.contains("    bridge_pathcost eth1\n"), "{eni}");
    assert!(
        eni.contains("    bridge_portprio a\n    bridge_portprio b\n"),
        "{eni}"
    );
    assert!(eni.contains("    bridge_stp on\n"), "{eni}");
    assert!(eni.contains("    bridge_waitport 5\n"), "{eni}");
    assert_eq!(
        r.warnings
            .iter()
            .filter(|w| w.contains("no gateway"))
            .count(),
        2,
        "{:?}",
        r.warnings
    );
    assert!(r.warnings.iter().any(|w| w.contains("lo has no subnets")));
    assert!(files(&r)[NETRULES_PATH].is_empty());
}

#[test]
fn cloud_init_ubuntu_output_is_removed() {
    let theirs = "# This file is generated from information provided by\n# the datasource.  Changes to it will not persist across an instance.\nauto eth0\niface eth0 inet dhcp\n";
    let tmp = root(&[(MAIN_PATH, DEBIAN9), (UBUNTU_ENI_PATH, theirs)]);
    let r = render_in(&one_nic(), tmp.path());
    assert_eq!(r.remove, [PathBuf::from(UBUNTU_ENI_PATH)]);

    let admins = "auto eth9\niface eth9 inet dhcp\n";
    let tmp = root(&[(MAIN_PATH, DEBIAN9), (UBUNTU_ENI_PATH, admins)]);
    let r = render_in(&one_nic(), tmp.path());
    assert!(r.remove.is_empty());
    assert!(r
        .warnings
        .iter()
        .any(|w| w.contains("not written by cloud-init")));
}

#[test]
fn unreadable_main_file_is_left_alone() {
    let tmp = root(&[]);
    std::fs::create_dir_all(tmp.path().join("etc/network/interfaces")).unwrap();
    let r = render_in(&one_nic(), tmp.path());
    assert!(!files(&r).contains_key(MAIN_PATH));
    assert!(r.warnings.iter().any(|w| w.contains("cannot be read")));
}

/// The stanza of `header` (e.g. `iface eth0 inet static`) in `eni`.
fn stanza<'a>(eni: &'a str, header: &str) -> &'a str {
    eni.split("\n\n")
        .find(|s| s.lines().any(|l| l == header))
        .unwrap_or_else(|| panic!("no {header}:\n{eni}"))
}

/// Deliberate: every form of route as iproute2 writes it, in the stanza it
/// belongs to, with `pre-down ... del` matching each `post-up ... add`
/// (cloud-init 22.4 writes net-tools' `route add`/`route del`, which
/// Debian 12 and current Ubuntu do not install, behind `|| true`: the
/// routes were silently lost).
#[test]
fn routes_are_written_for_iproute2_in_every_form() {
    let v = cloudboot::yaml::load(
        b"version: 1
config:
- type: physical
  name: eth0
  mac_address: 'fa:16:3e:00:00:00'
  subnets:
  - type: static
    address: 10.0.0.5/24
    routes:
    - {network: 0.0.0.0, netmask: 0.0.0.0, gateway: 10.0.0.1, metric: 100}
    - {network: 10.1.0.0, prefix: 16, gateway: 10.0.0.254}
    - {network: 192.0.2.7, netmask: 255.255.255.255, gateway: 10.0.0.253, metric: 5}
  - type: static6
    address: 'fd00::5/64'
    routes:
    - {destination: '::/0', gateway: 'fd00::1'}
    - {network: 'fd01::', prefix: 48, gateway: 'fd00::fe', metric: 200}
- {type: physical, name: eth1, mac_address: 'fa:16:3e:00:00:01'}
- type: bond
  name: bond0
  bond_interfaces: [eth1]
  params: {bond-mode: active-backup}
  subnets:
  - type: static
    address: 10.2.0.5/24
    routes: [{network: 10.3.0.0, prefix: 16, gateway: 10.2.0.1}]
- type: vlan
  name: bond0.7
  vlan_link: bond0
  vlan_id: 7
  subnets:
  - type: static
    address: 10.4.0.5/24
    routes: [{network: 10.5.0.0, prefix: 16, gateway: 10.4.0.1, metric: 0}]
- {type: route, destination: 10.6.0.0/16, gateway: 10.0.0.1, metric: 7}
- {type: route, destination: 'fd02::/64', gateway: 'fd00::1'}
",
        "t",
    )
    .unwrap();
    let st = NetworkState::parse(&v, &Default::default()).unwrap();
    let tmp = root(&[(MAIN_PATH, DEBIAN9)]);
    let r = render_in(&st, tmp.path());
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let eni = &files(&r)[ENI_PATH];
    let both = |spec: &str| {
        format!(
            "    post-up ip {spec} || true\n    pre-down ip {}",
            spec.replacen(" add ", " del ", 1)
        )
    };
    let v4 = stanza(eni, "iface eth0 inet static");
    for spec in [
        "route add default via 10.0.0.1 metric 100",
        "route add 10.1.0.0/16 via 10.0.0.254",
        "route add 192.0.2.7/32 via 10.0.0.253 metric 5",
    ] {
        assert!(v4.contains(&both(spec)), "{spec}:\n{v4}");
    }
    let v6 = stanza(eni, "iface eth0 inet6 static");
    for spec in [
        "-6 route add default via fd00::1",
        "-6 route add fd01::/48 via fd00::fe metric 200",
    ] {
        assert!(v6.contains(&both(spec)), "{spec}:\n{v6}");
    }
    let bond = stanza(eni, "iface bond0 inet static");
    assert!(
        bond.contains(&both("route add 10.3.0.0/16 via 10.2.0.1")),
        "{bond}"
    );
    let vlan = stanza(eni, "iface bond0.7 inet static");
    assert!(
        vlan.contains(&both("route add 10.5.0.0/16 via 10.4.0.1 metric 0")),
        "{vlan}"
    );
    // Global routes: lines of their own after the stanzas, as cloud-init
    // places them.
    assert!(
        eni.ends_with(
            "\n\npost-up ip route add 10.6.0.0/16 via 10.0.0.1 metric 7 || true\n\
         pre-down ip route del 10.6.0.0/16 via 10.0.0.1 metric 7 || true\n\n\
         post-up ip -6 route add fd02::/64 via fd00::1 || true\n\
         pre-down ip -6 route del fd02::/64 via fd00::1 || true\n"
        ),
        "{eni}"
    );
    // net-tools is named nowhere.
    assert!(
        !eni.lines()
            .any(|l| l.trim_start().starts_with("post-up route")
                || l.trim_start().starts_with("pre-down route")),
        "{eni}"
    );
    assert_eq!(eni.matches("post-up ip ").count(), 9, "{eni}");
    assert_eq!(eni.matches("pre-down ip ").count(), 9, "{eni}");
}

/// ifupdown runs `post-up` lines with `/bin/sh`: a route whose gateway is
/// not an IP address is left out (with a warning), not written into a
/// shell command.
#[test]
fn a_route_gateway_that_is_not_an_address_is_not_written() {
    let v = cloudboot::yaml::load(
        b"version: 1
config:
- type: physical
  name: eth0
  subnets:
  - type: static
    address: 10.0.0.5/24
    routes:
    - {network: 10.1.0.0, prefix: 16, gateway: '10.0.0.1; touch /tmp/owned'}
    - {network: 10.2.0.0, prefix: 16, gateway: 10.0.0.2}
",
        "t",
    )
    .unwrap();
    let st = NetworkState::parse(&v, &Default::default()).unwrap();
    let tmp = root(&[(MAIN_PATH, DEBIAN9)]);
    let r = render_in(&st, tmp.path());
    let eni = &files(&r)[ENI_PATH];
    assert!(!eni.contains("owned") && !eni.contains("10.1.0.0"), "{eni}");
    assert!(
        eni.contains("    post-up ip route add 10.2.0.0/16 via 10.0.0.2 || true\n"),
        "{eni}"
    );
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    assert!(
        r.warnings[0].contains("gateway that is not an IP address"),
        "{:?}",
        r.warnings
    );
}
