//! The networkd renderer against cloud-init 22.4's `net-convert -O networkd`
//! (tests/fixtures/net, `expected/ubuntu-networkd/`), every corpus case, byte
//! for byte, apart from cloudboot's deliberate fixes, which are listed here
//! and checked:
//!
//! - bonds, bridges and VLANs get `.netdev` files, and their members'
//!   `.network` files the `Bond=`, `Bridge=` or `VLAN=` networkd needs
//!   (cloud-init 22.4 writes neither, so these devices never come up);
//! - a gateway demoted by `demote_extra_default_gateways` is not written as
//!   a default route (cloud-init makes every gateway one).

mod net_common;

use std::collections::BTreeMap;
use std::path::Path;

use cloudboot::net::render::networkd::Networkd;
use cloudboot::net::render::{Flavor, RenderContext, Rendered, Renderer};
use cloudboot::net::state::NetworkState;
use cloudboot::rootfs::{RealFs, Root};
use net_common::{cases, expected, name, state};

/// Renders as the caller does: the default-gateway pass first.
fn render(mut st: NetworkState, root: &Path) -> Rendered {
    st.demote_extra_default_gateways();
    let fs = RealFs {
        root: Root::new(root),
    };
    Networkd.render(
        &st,
        &RenderContext {
            fs: &fs,
            flavor: Flavor::Default,
        },
    )
}

fn files(r: &Rendered) -> BTreeMap<String, String> {
    r.files
        .iter()
        .map(|f| (f.path.display().to_string(), f.content.clone()))
        .collect()
}

fn network(iface: &str) -> String {
    format!("/etc/systemd/network/10-cloud-init-{iface}.network")
}

fn netdev(iface: &str) -> String {
    format!("/etc/systemd/network/10-cloud-init-{iface}.netdev")
}

/// cloud-init's file with `lines` added to its `[Network]` section (whose
/// lines cloud-init keeps sorted).
fn plus_network_lines(file: &str, lines: &[&str]) -> String {
    let start = file.find("[Network]\n").expect("a [Network] section") + "[Network]\n".len();
    let end = start + file[start..].find("\n\n").expect("section end") + 1;
    let mut section: Vec<&str> = file[start..end].lines().collect();
    section.extend(lines);
    section.sort_unstable();
    format!("{}{}\n{}", &file[..start], section.join("\n"), &file[end..])
}

/// One deliberate difference in a case.
enum Change {
    /// Lines added to `[Network]` of cloud-init's `.network` of an interface.
    Network(&'static str, &'static [&'static str]),
    /// A `.netdev` file cloud-init does not write, in full.
    Netdev(&'static str, &'static str),
    /// A `.network` file that differs otherwise, in full.
    Replaced(&'static str, &'static str),
}
use Change::*;

/// Every case where cloudboot's files differ from cloud-init's, and why.
fn changes() -> BTreeMap<&'static str, Vec<Change>> {
    BTreeMap::from([
        // Bond over eth0/eth1 (OpenStack's `bond_*` key spelling), a VLAN on
        // it. The MACs are the config's (networkd would make up others, and
        // the .network files match on them).
        (
            "odj-bond-vlan",
            vec![
                Network("eth0", &["Bond=bond0"]),
                Network("eth1", &["Bond=bond0"]),
                Network("bond0", &["VLAN=bond0.42"]),
                Netdev(
                    "bond0",
                    "[NetDev]\nName=bond0\nKind=bond\nMACAddress=fa:16:3e:00:00:00\n\n\
                     [Bond]\nMode=802.3ad\nTransmitHashPolicy=layer3+4\nMIIMonitorSec=100ms\n",
                ),
                Netdev(
                    "bond0.42",
                    "[NetDev]\nName=bond0.42\nKind=vlan\nMACAddress=fa:16:3e:00:00:00\n\n\
                     [VLAN]\nId=42\n",
                ),
            ],
        ),
        // Bonds from network_data.json with the MAC of their first member
        // and with one of their own; the members keep their own MACs.
        (
            "odj-bond-member-mac",
            vec![
                Network("eth0", &["Bond=bond0"]),
                Network("eth1", &["Bond=bond0"]),
                Netdev(
                    "bond0",
                    "[NetDev]\nName=bond0\nKind=bond\nMACAddress=fa:16:3e:00:00:00\n\n\
                     [Bond]\nMode=active-backup\nMIIMonitorSec=100ms\n",
                ),
            ],
        ),
        (
            "odj-bond-own-mac",
            vec![
                Network("eth0", &["Bond=bond0"]),
                Network("eth1", &["Bond=bond0"]),
                Netdev(
                    "bond0",
                    "[NetDev]\nName=bond0\nKind=bond\nMACAddress=fa:16:3e:00:00:21\n\n\
                     [Bond]\nMode=802.3ad\nMIIMonitorSec=100ms\n",
                ),
            ],
        ),
        (
            "v1-bond-active-backup",
            vec![
                Network("eth0", &["Bond=bond0"]),
                Network("eth1", &["Bond=bond0"]),
                Netdev(
                    "bond0",
                    "[NetDev]\nName=bond0\nKind=bond\n\n\
                     [Bond]\nMode=active-backup\nMIIMonitorSec=100ms\n",
                ),
            ],
        ),
        (
            "v1-bond-lacp",
            vec![
                Network("eth0", &["Bond=bond0"]),
                Network("eth1", &["Bond=bond0"]),
                Netdev(
                    "bond0",
                    "[NetDev]\nName=bond0\nKind=bond\nMACAddress=fa:16:3e:00:00:20\n\n\
                     [Bond]\nMode=802.3ad\nTransmitHashPolicy=layer3+4\nLACPTransmitRate=fast\n\
                     MIIMonitorSec=100ms\n",
                ),
            ],
        ),
        // `bridge_maxwait` is ifupdown's; networkd has nothing for it.
        (
            "v1-bridge",
            vec![
                Network("eth0", &["Bridge=br0"]),
                Network("eth1", &["Bridge=br0"]),
                Netdev(
                    "br0",
                    "[NetDev]\nName=br0\nKind=bridge\n\n[Bridge]\nSTP=no\nForwardDelaySec=0s\n",
                ),
            ],
        ),
        (
            "v1-vlan",
            vec![
                Network("eth0", &["VLAN=eth0.100"]),
                Netdev(
                    "eth0.100",
                    "[NetDev]\nName=eth0.100\nKind=vlan\n\n[VLAN]\nId=100\n",
                ),
            ],
        ),
        (
            "v1-vlan-on-bond",
            vec![
                Network("eth0", &["Bond=bond0"]),
                Network("eth1", &["Bond=bond0"]),
                Network("bond0", &["VLAN=bond0.200"]),
                Netdev(
                    "bond0",
                    "[NetDev]\nName=bond0\nKind=bond\n\n[Bond]\nMode=balance-rr\n",
                ),
                Netdev(
                    "bond0.200",
                    "[NetDev]\nName=bond0.200\nKind=vlan\n\n[VLAN]\nId=200\n",
                ),
            ],
        ),
        (
            "v2-bond-vlan",
            vec![
                Network("eth0", &["Bond=bond0"]),
                Network("eth1", &["Bond=bond0"]),
                Network("bond0", &["VLAN=bond0.300"]),
                Netdev(
                    "bond0",
                    "[NetDev]\nName=bond0\nKind=bond\n\n\
                     [Bond]\nMode=802.3ad\nTransmitHashPolicy=layer2\nMIIMonitorSec=100ms\n",
                ),
                Netdev(
                    "bond0.300",
                    "[NetDev]\nName=bond0.300\nKind=vlan\n\n[VLAN]\nId=300\n",
                ),
            ],
        ),
        (
            "v2-bridge",
            vec![
                Network("eth0", &["Bridge=br0"]),
                Netdev(
                    "br0",
                    "[NetDev]\nName=br0\nKind=bridge\n\n[Bridge]\nSTP=no\nForwardDelaySec=0s\n",
                ),
            ],
        ),
        // eth0's gateway stays the default route; eth1's is demoted, so its
        // only [Route] section (`Gateway=10.11.0.1`) is gone.
        (
            "v1-two-gateways",
            vec![Replaced(
                "eth1",
                "[Address]\nAddress=10.11.0.10/24\n\n\
                 [Match]\nMACAddress=fa:16:3e:00:00:01\nName=eth1\n\n\
                 [Network]\nDHCP=no\n\n",
            )],
        ),
    ])
}

#[test]
fn every_case_matches_cloud_init_or_its_listed_fix() {
    let changes = changes();
    let empty = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in cases() {
        let case_name = name(&case);
        let mut want = expected(&case, "ubuntu-networkd");
        assert!(!want.is_empty(), "{case_name}: no expected files");
        for change in changes.get(case_name.as_str()).into_iter().flatten() {
            match change {
                Network(iface, lines) => {
                    let file = want.get_mut(&network(iface)).expect("cloud-init wrote it");
                    *file = plus_network_lines(file, lines);
                }
                Netdev(iface, content) => {
                    want.insert(netdev(iface), content.to_string());
                }
                Replaced(iface, content) => {
                    let file = want.get_mut(&network(iface)).expect("cloud-init wrote it");
                    assert_ne!(file, content, "{case_name}: not a difference");
                    *file = content.to_string();
                }
            }
        }
        let r = render(state(&case), empty.path());
        let got = files(&r);
        if got != want {
            let mut msg = format!("--- {case_name}\n");
            for (path, content) in &want {
                match got.get(path) {
                    Some(g) if g == content => {}
                    Some(g) => msg += &format!("{path}: expected\n{content}\ngot\n{g}\n"),
                    None => msg += &format!("{path}: missing\n"),
                }
            }
            for path in got.keys().filter(|p| !want.contains_key(*p)) {
                msg += &format!("{path}: unexpected\n{}\n", got[path]);
            }
            failures.push(msg);
        }
        assert!(
            r.files.iter().all(|f| f.mode == 0o644),
            "{case_name}: cloud-init's mode"
        );
        assert!(r.remove.is_empty());
        checked += 1;
    }
    assert_eq!(checked, 38);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The listed changes are exactly the cases with bonds, bridges, VLANs or
/// several gateways: everything else is cloud-init's output unchanged.
#[test]
fn changed_cases_are_the_ones_with_virtual_devices_or_two_gateways() {
    let mut with_devices = Vec::new();
    for case in cases() {
        let mut st = state(&case);
        let virtual_dev = st
            .interfaces
            .iter()
            .any(|i| matches!(i.kind().as_str(), "bond" | "bridge" | "vlan"));
        let demoted = !st.demote_extra_default_gateways().is_empty();
        if virtual_dev || demoted {
            with_devices.push(name(&case));
        }
    }
    let listed: Vec<String> = changes().keys().map(|k| k.to_string()).collect();
    assert_eq!(with_devices, listed);
}

/// tests/fixtures/networkd: cases the corpus lacks (see its generate.py),
/// rendered from the state as parsed, without the default-gateway pass, so
/// that every file is cloud-init's own.
#[test]
fn extra_cases_match_cloud_init() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/networkd");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    let empty = tempfile::tempdir().unwrap();
    let fs = RealFs {
        root: Root::new(empty.path()),
    };
    let ctx = RenderContext {
        fs: &fs,
        flavor: Flavor::Default,
    };
    let mut failures = Vec::new();
    for case in &cases {
        let input =
            cloudboot::yaml::load(&std::fs::read(case.join("input.yaml")).unwrap(), "input")
                .unwrap();
        let st = NetworkState::parse(&input, &Default::default()).unwrap();
        let r = Networkd.render(&st, &ctx);
        let want = net_common::expected(case, ".");
        let got = files(&r);
        if got != want {
            failures.push(format!(
                "--- {}\nexpected {want:#?}\ngot {got:#?}",
                name(case)
            ));
        }
        assert!(r.warnings.is_empty(), "{}: {:?}", name(case), r.warnings);
    }
    assert_eq!(cases.len(), 7);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Writes every case's files (and its `macs`) into
/// `$CLOUDBOOT_NETWORKD_DUMP/<case>/`, for
/// tests/fixtures/networkd/check-with-networkd.sh to load into the real
/// systemd-networkd.
#[test]
#[ignore = "writes files for check-with-networkd.sh"]
fn dump_for_networkd_check() {
    let Some(out) = std::env::var_os("CLOUDBOOT_NETWORKD_DUMP") else {
        return;
    };
    let empty = tempfile::tempdir().unwrap();
    for case in cases() {
        let d = Path::new(&out).join(name(&case));
        std::fs::create_dir_all(&d).unwrap();
        for f in render(state(&case), empty.path()).files {
            std::fs::write(d.join(f.path.file_name().unwrap()), f.content).unwrap();
        }
        std::fs::copy(case.join("macs"), d.join("macs")).unwrap();
    }
}
