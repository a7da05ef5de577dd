//! The ENI parser against cloud-init 22.4's `eni.convert_eni_data`: the
//! corpus' ENI cases (tests/fixtures/net/cases/eni-*) and the cases of
//! tests/fixtures/net-eni (made by its generate.py), key order included;
//! and, end to end, ENI text through the model and the ENI renderer against
//! `cloud-init devel net-convert -k eni -D debian -O eni`.

mod net_common;

use std::path::{Path, PathBuf};

use cloudboot::net::input::eni::convert_eni;
use cloudboot::net::render::eni::{render_interfaces, HEADER};
use cloudboot::net::state::NetworkState;
use serde_json::{json, Value as J};

fn eni_cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/net-eni/cases");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

/// JSON with its key order made visible: `serde_json` objects compare
/// equal whatever their order, cloud-init's dicts do not print so.
fn ordered(j: &J) -> String {
    match j {
        J::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{k:?}: {}", ordered(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        J::Array(a) => format!("[{}]", a.iter().map(ordered).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn ours(case: &Path) -> Result<J, String> {
    convert_eni(&read(&case.join("input.eni")))
        .map(|v| v.to_json())
        .map_err(|e| e.to_string())
}

/// What the ENI renderer makes of our conversion, header included.
fn rendered(v1: &J) -> String {
    let st =
        NetworkState::parse(&cloudboot::value::Value::from_json(v1), &Default::default()).unwrap();
    let mut warnings = Vec::new();
    format!("{HEADER}{}", render_interfaces(&st, &mut warnings))
}

/// Cases cloud-init converts, where cloudboot's v1 (and so its rendering)
/// deliberately differs: the case, why, and cloud-init's v1 and rendering
/// turned into ours.
struct Differs {
    case: &'static str,
    why: &'static str,
    v1: fn(&mut J),
    rendered: &'static [(&'static str, &'static str)],
}

const DIFFERS: &[Differs] = &[Differs {
    case: "inet6-dhcp-auto",
    why: "cloud-init drops the family: `inet6 dhcp` becomes IPv4 DHCP, `inet6 auto` type `auto`",
    v1: |v| {
        let types = ["dhcp6", "ipv6_slaac", "ipv6_dhcpv6-stateless"];
        for (dev, t) in v["config"].as_array_mut().unwrap().iter_mut().zip(types) {
            dev["subnets"][0]["type"] = json!(t);
        }
    },
    rendered: &[
        ("iface eth0 inet dhcp\n", "iface eth0 inet6 dhcp\n"),
        (
            "iface eth1 inet auto\n",
            "iface eth1 inet6 auto\n    dhcp 0\n",
        ),
        (
            "iface eth2 inet auto\n",
            "iface eth2 inet6 auto\n    dhcp 1\n",
        ),
    ],
}];

/// Cases cloud-init refuses (raises on) and cloudboot converts: the case,
/// cloud-init's error, why, and cloudboot's v1.
fn refused_but_converted() -> Vec<(&'static str, &'static str, &'static str, J)> {
    let sub = |name: &str, t: &str, control: &str| json!({"_orig_eni_name": name, "type": t, "control": control});
    let lo = json!({"type": "loopback", "name": "lo", "subnets": [sub("lo", "loopback", "auto")]});
    let eth0_dhcp =
        json!({"type": "physical", "name": "eth0", "subnets": [sub("eth0", "dhcp", "auto")]});
    vec![
        (
            "nova-ipv6-same-nic",
            "ParserError: Interface eth0 can only be defined once.",
            "nova's use_ipv6 template: an inet and an inet6 stanza per NIC; merged",
            json!({"version": 1, "config": [
                {"type": "physical", "name": "eth0", "subnets": [
                    {"_orig_eni_name": "eth0", "type": "static", "control": "auto",
                     "address": "10.10.0.5", "netmask": "255.255.255.0", "gateway": "10.10.0.1",
                     "broadcast": "10.10.0.255", "dns_nameservers": ["10.10.0.2"]},
                    {"_orig_eni_name": "eth0", "type": "static", "control": "auto",
                     "address": "2001:db8:10::5", "netmask": "64", "gateway": "2001:db8:10::1",
                     "dns_nameservers": ["2001:db8:10::2"]}],
                 "mac_address": "fa:16:3e:00:00:00"},
                {"type": "physical", "name": "eth1", "subnets": [
                    {"_orig_eni_name": "eth1", "type": "static", "control": "auto",
                     "address": "10.20.0.5", "netmask": "255.255.0.0",
                     "broadcast": "10.20.255.255"},
                    sub("eth1", "dhcp6", "auto")],
                 "mac_address": "fa:16:3e:00:00:01"},
                lo]}),
        ),
        (
            "same-family-twice",
            "ParserError: Interface eth0 can only be defined once.",
            "ifupdown's way of giving a NIC a second address; merged",
            json!({"version": 1, "config": [
                {"type": "physical", "name": "eth0", "subnets": [
                    {"_orig_eni_name": "eth0", "type": "static", "control": "auto",
                     "address": "10.0.0.5/24", "gateway": "10.0.0.1"},
                    {"_orig_eni_name": "eth0", "type": "static", "control": "auto",
                     "address": "10.0.1.5/24"}]}]}),
        ),
        (
            "auto-without-stanza",
            "KeyError: 'method'",
            "eth1 is only on the auto line; skipped, as ifupdown skips it",
            json!({"version": 1, "config": [eth0_dhcp, lo]}),
        ),
        (
            "source-relative",
            "TypeError: expected str, bytes or os.PathLike object, not NoneType",
            "`source` lines are not followed",
            json!({"version": 1, "config": [eth0_dhcp]}),
        ),
    ]
}

#[test]
fn corpus_eni_cases_match_cloud_init() {
    let mut checked = 0;
    for case in net_common::cases() {
        if !case.join("input.eni").exists() {
            continue;
        }
        let want: J = serde_json::from_str(&read(&case.join("v1.json"))).unwrap();
        let got = ours(&case).unwrap();
        assert_eq!(ordered(&got), ordered(&want), "{}", case.display());
        checked += 1;
    }
    assert_eq!(checked, 2);
}

#[test]
fn eni_cases_match_cloud_init() {
    let mut same = 0;
    for case in eni_cases() {
        let name = net_common::name(&case);
        if case.join("error").exists() {
            continue;
        }
        let mut want: J = serde_json::from_str(&read(&case.join("v1.json"))).unwrap();
        let mut want_eni = read(&case.join("debian-eni"));
        match DIFFERS.iter().find(|d| d.case == name) {
            Some(d) => {
                let before = want.clone();
                (d.v1)(&mut want);
                assert_ne!(before, want, "{name}: {}", d.why);
                for (theirs, ours) in d.rendered {
                    assert!(want_eni.contains(theirs), "{name}: {theirs:?}");
                    want_eni = want_eni.replace(theirs, ours);
                }
            }
            None => same += 1,
        }
        let got = ours(&case).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(ordered(&got), ordered(&want), "{name}");
        assert_eq!(rendered(&got), want_eni, "{name}");
    }
    assert_eq!(same, 12);
}

#[test]
fn errors_match_cloud_init() {
    let mut refused = 0;
    for case in eni_cases() {
        let name = net_common::name(&case);
        if name.starts_with("error-") {
            assert!(case.join("error").exists(), "{name}: cloud-init raises");
            let err = ours(&case).expect_err(&name);
            assert!(err.starts_with("ENI"), "{name}: {err}");
            refused += 1;
        }
    }
    assert_eq!(refused, 4);
}

#[test]
fn converts_what_cloud_init_refuses() {
    let cases = refused_but_converted();
    for (name, their_error, why, want) in &cases {
        let case = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/net-eni/cases")
            .join(name);
        assert!(
            read(&case.join("error")).starts_with(their_error),
            "{name}: cloud-init's error"
        );
        let got = ours(&case).unwrap_or_else(|e| panic!("{name} ({why}): {e}"));
        assert_eq!(ordered(&got), ordered(want), "{name}: {why}");
    }
    // Every case cloud-init refuses is either an error here too or listed.
    for case in eni_cases() {
        let name = net_common::name(&case);
        if case.join("error").exists() && !name.starts_with("error-") {
            assert!(cases.iter().any(|c| c.0 == name), "{name} not listed");
        }
    }
}

/// The merged dual-stack NIC renders as one interface with an alias
/// stanza per family, each with its gateway.
#[test]
fn merged_dual_stack_renders_both_families() {
    let case = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/net-eni/cases/nova-ipv6-same-nic");
    let eni = rendered(&ours(&case).unwrap());
    let body = eni.strip_prefix(HEADER).unwrap();
    assert_eq!(
        body,
        "auto lo
iface lo inet loopback

auto eth0
iface eth0 inet static
    address 10.10.0.5/24
    broadcast 10.10.0.255
    dns-nameservers 10.10.0.2
    gateway 10.10.0.1

# control-alias eth0
iface eth0 inet6 static
    address 2001:db8:10::5/64
    dns-nameservers 2001:db8:10::2
    gateway 2001:db8:10::1

auto eth1
iface eth1 inet static
    address 10.20.0.5/16
    broadcast 10.20.255.255

# control-alias eth1
iface eth1 inet6 dhcp
"
    );
}
