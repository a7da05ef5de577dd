//! The netplan renderer against cloud-init 22.4's
//! `net-convert -D ubuntu -O netplan` for every case of the network corpus
//! (tests/fixtures/net), byte for byte, and its deliberate differences.

mod common;
mod net_common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use cloudboot::net::render::netplan::{Netplan, NETPLAN_MODE, NETPLAN_PATH};
use cloudboot::net::render::{Flavor, RenderContext, Rendered, Renderer};
use cloudboot::net::state::NetworkState;
use cloudboot::rootfs::{RealFs, Root};
use cloudboot::value::Value;
use net_common::{cases, expected, name, state};

/// Where cloudboot deliberately differs from cloud-init, and why.
const DELIBERATE: &[(&str, &str)] = &[(
    "v1-two-gateways",
    "two interfaces with a gateway: only the first keeps its default route \
     (cloud-init writes gateway4 on both and the first interface up wins)",
)];

fn render_state(mut st: NetworkState, root: &Path) -> (Rendered, Vec<(String, String)>) {
    let demoted = st.demote_extra_default_gateways();
    let fs = RealFs {
        root: Root::new(root),
    };
    let ctx = RenderContext {
        fs: &fs,
        flavor: Flavor::Default,
    };
    (Netplan.render(&st, &ctx), demoted)
}

fn files(r: &Rendered) -> BTreeMap<String, String> {
    r.files
        .iter()
        .map(|f| (f.path.display().to_string(), f.content.clone()))
        .collect()
}

fn render_yaml(text: &str) -> String {
    let v = cloudboot::yaml::load(text.as_bytes(), "t").unwrap();
    let st = NetworkState::parse(&v, &HashMap::new()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (r, _) = render_state(st, tmp.path());
    assert_eq!(r.files.len(), 1);
    r.files[0].content.clone()
}

/// The header every file starts with.
const HEADER: &str = "\
# This file is generated from information provided by the datasource.  Changes
# to it will not persist across an instance reboot.  To disable cloud-init's
# network configuration capabilities, write a file
# /etc/cloud/cloud.cfg.d/99-disable-network-config.cfg with the following:
# network: {config: disabled}
";

#[test]
fn every_case_matches_cloud_init() {
    let tmp = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut identical = 0;
    let all = cases();
    assert_eq!(all.len(), 38, "corpus incomplete");
    for case in &all {
        let n = name(case);
        let (r, demoted) = render_state(state(case), tmp.path());
        let deliberate = DELIBERATE.iter().any(|(d, _)| *d == n);
        // The deliberate difference is exactly the cases with demoted gateways.
        assert_eq!(!demoted.is_empty(), deliberate, "{n}: demoted {demoted:?}");
        assert!(r.remove.is_empty() && r.warnings.is_empty(), "{n}: {r:?}");
        for f in &r.files {
            assert_eq!(f.mode, NETPLAN_MODE, "{n}");
            assert_eq!(f.mode, 0o644, "{n}");
        }
        let want = expected(case, "ubuntu-netplan");
        assert_eq!(
            want.keys().collect::<Vec<_>>(),
            [NETPLAN_PATH],
            "{n}: cloud-init wrote other files"
        );
        if deliberate {
            continue;
        }
        let got = files(&r);
        if got == want {
            identical += 1;
        } else {
            failures.push(format!(
                "{n}:\n--- cloud-init\n{}\n--- cloudboot\n{}",
                want.values().next().unwrap(),
                got.values().next().map(String::as_str).unwrap_or("(none)")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert_eq!(identical, all.len() - DELIBERATE.len());
}

/// Deliberate: with two IPv4 gateways the second interface's gateway is not
/// written (no second default route); all else is cloud-init's, and without
/// the default-gateway pass the file is cloud-init's exactly.
#[test]
fn two_gateways_second_is_not_a_default_route() {
    let case = net_common::corpus().join("v1-two-gateways");
    let tmp = tempfile::tempdir().unwrap();
    let theirs = expected(&case, "ubuntu-netplan")[NETPLAN_PATH].clone();

    let (r, demoted) = render_state(state(&case), tmp.path());
    assert_eq!(demoted, [("eth1".to_string(), "10.11.0.1".to_string())]);
    let want = theirs.replacen("            gateway4: 10.11.0.1\n", "", 1);
    assert_ne!(want, theirs);
    assert!(want.contains("            gateway4: 10.10.0.1\n"));
    assert_eq!(r.files[0].content, want);

    // Without the pass: cloud-init's file.
    let fs = RealFs {
        root: Root::new(tmp.path()),
    };
    let ctx = RenderContext {
        fs: &fs,
        flavor: Flavor::Default,
    };
    assert_eq!(Netplan.render(&state(&case), &ctx).files[0].content, theirs);
}

/// Deliberate, OpenStack's shape: a default route among a subnet's routes is
/// left out the same way, per family, and the subnet's other routes stay.
#[test]
fn demoted_default_routes_in_subnet_routes() {
    let got = render_yaml(
        "version: 1
config:
- type: physical
  name: eth0
  mac_address: fa:16:3e:00:00:00
  subnets:
  - type: static
    address: 10.0.0.5/24
    routes: [{network: 0.0.0.0, netmask: 0.0.0.0, gateway: 10.0.0.1}]
  - type: static6
    address: fd00::5/64
    gateway: fd00::1
- type: physical
  name: eth1
  mac_address: fa:16:3e:00:00:01
  subnets:
  - type: static
    address: 10.1.0.5/24
    routes:
    - {network: 0.0.0.0, netmask: 0.0.0.0, gateway: 10.1.0.1}
    - {network: 192.168.0.0, netmask: 255.255.0.0, gateway: 10.1.0.254}
  - type: static6
    address: fd01::5/64
    routes: [{destination: '::/0', gateway: 'fd01::1'}]
",
    );
    let want = format!(
        "{HEADER}network:
    version: 2
    ethernets:
        eth0:
            addresses:
            - 10.0.0.5/24
            - fd00::5/64
            gateway6: fd00::1
            match:
                macaddress: fa:16:3e:00:00:00
            routes:
            -   to: 0.0.0.0/0
                via: 10.0.0.1
            set-name: eth0
        eth1:
            addresses:
            - 10.1.0.5/24
            - fd01::5/64
            match:
                macaddress: fa:16:3e:00:00:01
            routes:
            -   to: 192.168.0.0/16
                via: 10.1.0.254
            set-name: eth1
"
    );
    assert_eq!(got, want);
}

/// A version 2 config is the user's netplan: passed through as given, two
/// gateways and all.
#[test]
fn v2_two_gateways_passed_through_as_given() {
    let got = render_yaml(
        "version: 2
ethernets:
  eth0: {addresses: [10.0.0.5/24], gateway4: 10.0.0.1}
  eth1: {addresses: [10.1.0.5/24], gateway4: 10.1.0.1}
",
    );
    let want = format!(
        "{HEADER}network:
    ethernets:
        eth0:
            addresses:
            - 10.0.0.5/24
            gateway4: 10.0.0.1
        eth1:
            addresses:
            - 10.1.0.5/24
            gateway4: 10.1.0.1
    version: 2
"
    );
    assert_eq!(got, want);
}

/// tests/fixtures/netplan-extra: the renderer's other paths, against
/// net-convert's file and its netplan warnings.
#[test]
fn extra_cases_match_cloud_init() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/netplan-extra/cases");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 9, "fixtures missing in {}", dir.display());
    let tmp = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for n in names.iter().filter(|n| *n != "v2-aliases") {
        let case = dir.join(n);
        let input =
            cloudboot::yaml::load(&std::fs::read(case.join("input.yaml")).unwrap(), n).unwrap();
        let st = NetworkState::parse(&input, &HashMap::new()).unwrap();
        let (r, _) = render_state(st, tmp.path());
        let want = std::fs::read_to_string(case.join("expected.yaml")).unwrap();
        if r.files[0].content != want {
            failures.push(format!(
                "{n}:\n--- cloud-init\n{want}\n--- cloudboot\n{}",
                r.files[0].content
            ));
        }
        let log = std::fs::read_to_string(case.join("expected.log")).unwrap();
        let their_warnings: Vec<&str> = log
            .lines()
            .filter_map(|l| l.strip_prefix("netplan.py[WARNING]: "))
            .collect();
        assert_eq!(r.warnings, their_warnings, "{n}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Known difference: a mapping the input shares through a YAML alias is
/// written out twice where PyYAML writes `&id001`/`*id001`; the content
/// netplan reads is the same.
#[test]
fn v2_aliases_are_written_out() {
    let case =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/netplan-extra/cases/v2-aliases");
    let text = std::fs::read_to_string(case.join("input.yaml")).unwrap();
    let ours = render_yaml(&text);
    let theirs = std::fs::read_to_string(case.join("expected.yaml")).unwrap();
    assert!(theirs.contains("&id001") && !ours.contains("&id001"));
    let load = |s: &str| cloudboot::yaml::load(s.as_bytes(), "t").unwrap();
    assert_eq!(load(&ours), load(&theirs));
}

/// `_clean_default`: snapd's initial config goes, with what netplan made
/// of it, when unchanged; a changed one stays.
#[test]
fn snapd_initial_config_is_removed_when_unchanged() {
    const SNAPD: &str = "# This is the initial network config.
# It can be overwritten by cloud-init or console-conf.
network:
    version: 2
    ethernets:
        all-en:
            match:
                name: \"en*\"
            dhcp4: true
        all-eth:
            match:
                name: \"eth*\"
            dhcp4: true
";
    let st = state(&net_common::corpus().join("v1-dhcp"));
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::create_dir_all(root.join("etc/netplan")).unwrap();
    std::fs::create_dir_all(root.join("run/systemd/network")).unwrap();
    std::fs::write(root.join("etc/netplan/00-snapd-config.yaml"), SNAPD).unwrap();
    std::fs::write(
        root.join("run/systemd/network/10-netplan-all-en.network"),
        "",
    )
    .unwrap();
    let (r, _) = render_state(st.clone(), root);
    let removed: Vec<String> = r.remove.iter().map(|p| p.display().to_string()).collect();
    assert_eq!(
        removed,
        [
            "/etc/netplan/00-snapd-config.yaml",
            "/run/systemd/network/10-netplan-all-en.network"
        ]
    );

    std::fs::write(
        root.join("etc/netplan/00-snapd-config.yaml"),
        format!("{SNAPD}# mine\n"),
    )
    .unwrap();
    let (r, _) = render_state(st, root);
    assert!(r.remove.is_empty());
}

/// Extra cases whose file (cloud-init's and ours alike) netplan 0.106
/// refuses, and why.
const NETPLAN_REFUSES: &[(&str, &str)] = &[
    (
        "v1-bond-params",
        "cloud-init names bond-arp-ip-target `arp-ip-target`; netplan's key is \
         `arp-ip-targets` (network_state.py NET_CONFIG_TO_V2)",
    ),
    (
        "v1-bridge-params",
        "the input bridges eth9, which it does not define: cloud-init writes no ethernet for it",
    ),
    (
        "v1-mtu-ipv6",
        "a subnet route without a gateway becomes `via: null` (netplan.py _extract_addresses)",
    ),
    (
        "v2-passthrough",
        "the input has keys netplan does not know; a v2 config is passed through as given",
    ),
];

/// Extra check where netplan is installed: `netplan generate --root-dir`
/// accepts every file we write (corpus, deliberate differences, extra
/// cases) and refuses a broken one. Skipped without netplan.
#[test]
fn netplan_generate_accepts_our_files() {
    if !common::skip::require(&[common::skip::Need::Program("netplan", "netplan.io")]) {
        return;
    }
    let netplan = common::skip::program("netplan").unwrap();
    let generate = |content: &str| -> (bool, String) {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("etc/netplan");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("50-cloud-init.yaml"), content).unwrap();
        let out = std::process::Command::new(&netplan)
            .arg("generate")
            .arg("--root-dir")
            .arg(root.path())
            .env_remove("SNAP")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for case in cases() {
        let (r, _) = render_state(state(&case), tmp.path());
        files.push((name(&case), r.files[0].content.clone()));
    }
    let extra = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/netplan-extra/cases");
    for e in std::fs::read_dir(extra).unwrap().flatten() {
        let text = std::fs::read_to_string(e.path().join("input.yaml")).unwrap();
        files.push((
            e.file_name().to_string_lossy().into_owned(),
            render_yaml(&text),
        ));
    }
    for (n, content) in &files {
        let (ok, stderr) = generate(content);
        let refusal = NETPLAN_REFUSES.iter().find(|(r, _)| r == n);
        match refusal {
            None => assert!(ok, "{n}: netplan generate refused it:\n{stderr}\n{content}"),
            Some((_, why)) => assert!(!ok, "{n}: netplan now accepts it ({why})"),
        }
    }
    let (ok, _) = generate(
        "network:\n    version: 2\n    ethernets:\n        eth0:\n            dhcp4: maybe\n",
    );
    assert!(!ok, "netplan generate accepts anything");
}

/// `yaml::dump_bare_mapping` is PyYAML's `dumps(explicit_start=False,
/// explicit_end=False)`: for a mapping, the explicit dump (PyYAML's own
/// output in tests/fixtures/yaml-dump) without its `---` line and `...`
/// line, which holds for PyYAML on every mapping fixture there.
#[test]
fn bare_dump_is_the_explicit_dump_without_markers() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/yaml-dump");
    let mut checked = 0;
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let p = e.path();
        if p.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        let Value::Map(m) = Value::from_json(&json) else {
            continue;
        };
        if m.is_empty() {
            continue;
        }
        let explicit = std::fs::read_to_string(p.with_extension("expected")).unwrap();
        let want = explicit
            .strip_prefix("---\n")
            .and_then(|s| s.strip_suffix("...\n"))
            .unwrap_or_else(|| panic!("{}: not an explicit block dump", p.display()));
        assert_eq!(
            cloudboot::yaml::dump_bare_mapping(&m),
            want,
            "{}",
            p.display()
        );
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} mapping fixtures");
    assert_eq!(
        cloudboot::yaml::dump_bare_mapping(&Default::default()),
        "{}\n"
    );
}

/// cloud-init defects the renderer keeps for parity (module comment): the
/// expected files show them, and so do ours.
#[test]
fn kept_cloud_init_defects() {
    let tmp = tempfile::tempdir().unwrap();
    let ours = |case: &str| {
        let (r, _) = render_state(state(&net_common::corpus().join(case)), tmp.path());
        r.files[0].content.clone()
    };
    // The global default route (`type: route`, 0.0.0.0/0 via 10.4.0.1) is lost.
    let global = ours("v1-global-route-dns");
    assert!(!global.contains("routes:") && !global.contains("gateway4"));
    // eth0's own nameserver (10.9.0.53, lab.example) gives way to the global one.
    let iface_ns = ours("v1-iface-nameserver");
    assert!(!iface_ns.contains("10.9.0.53") && !iface_ns.contains("lab.example"));
    assert!(iface_ns.contains("                - 8.8.4.4\n"));
    // A route without a gateway; netplan's `arp-ip-targets` misnamed.
    let extra = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/netplan-extra/cases");
    let read = |case: &str| std::fs::read_to_string(extra.join(case).join("input.yaml")).unwrap();
    assert!(render_yaml(&read("v1-mtu-ipv6")).contains("                via: null\n"));
    assert!(render_yaml(&read("v1-bond-params")).contains("                arp-ip-target:\n"));
}
