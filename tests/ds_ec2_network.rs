//! EC2's network config from IMDS in a whole boot: the metadata service on
//! 169.254.169.254 (the test's own namespace) serves a
//! `meta-data/network/interfaces/macs/` tree of two NICs with secondary
//! addresses, the root's `/sys/class/net` has those two NICs, and the boot
//! renders them (networkd): both with DHCP and the route metrics of their
//! device numbers, the primary with its secondary addresses. The config
//! the datasource gave is the one cloud-init 22.4's
//! `convert_ec2_metadata_network_config` gives for that tree
//! (tests/fixtures/datasources/ec2-network).

mod common;

use common::metadata_server::{MetadataServer, Reply};
use common::*;
use serde_json::Value as J;

const CASE: &str = "two_nics_with_secondary_addresses";

fn fixture(name: &str) -> J {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/datasources/ec2-network")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The routes of an IMDS tree under `prefix` (ending in `/`): a listing
/// per object (`key/` for a directory), a leaf per string, a list as
/// lines.
fn imds_routes(prefix: &str, tree: &J, out: &mut Vec<(String, String)>) {
    let obj = tree.as_object().unwrap();
    let listing: Vec<String> = obj
        .iter()
        .map(|(k, v)| {
            if v.is_object() {
                format!("{k}/")
            } else {
                k.clone()
            }
        })
        .collect();
    out.push((prefix.to_string(), listing.join("\n")));
    for (k, v) in obj {
        match v {
            J::Object(_) => imds_routes(&format!("{prefix}{k}/"), v, out),
            J::Array(lines) => out.push((
                format!("{prefix}{k}"),
                lines
                    .iter()
                    .map(|l| l.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join("\n"),
            )),
            _ => out.push((format!("{prefix}{k}"), v.as_str().unwrap().to_string())),
        }
    }
}

/// Serves `meta_data` (and an empty cloud-config) as IMDS on
/// 169.254.169.254 in this test's own network namespace.
fn serve_imds(meta_data: &J) -> MetadataServer {
    let mut routes = Vec::new();
    imds_routes("/2021-03-23/meta-data/", meta_data, &mut routes);
    routes.push(("/2021-03-23/user-data".into(), "#cloud-config\n{}\n".into()));
    MetadataServer::on(
        "169.254.169.254:80",
        Box::new(move |r| {
            if r.method == "PUT" {
                return Reply::ok("tok");
            }
            match routes.iter().find(|(p, _)| *p == r.path) {
                Some((_, body)) => Reply::ok(body.clone()),
                None => Reply::not_found(),
            }
        }),
    )
}

/// A NIC in the root's fake `/sys/class/net`, physical with a link.
fn nic(m: &Machine, name: &str, mac: &str) {
    let dir = format!("/sys/class/net/{name}");
    m.write(&format!("{dir}/address"), &format!("{mac}\n"));
    m.write(&format!("{dir}/type"), "1\n");
    m.write(&format!("{dir}/addr_assign_type"), "0\n");
    m.write(&format!("{dir}/carrier"), "1\n");
    m.write(&format!("{dir}/operstate"), "up\n");
    std::fs::create_dir_all(m.path(&format!("{dir}/device"))).unwrap();
}

#[test]
fn every_nic_of_the_imds_network_tree_is_rendered() {
    if !skip::require(&[skip::Need::Root(
        "a metadata address in a private network namespace",
    )]) {
        return;
    }
    let case = &fixture("cases.json")[CASE];
    let tree = serde_json::json!({
        "instance-id": "i-0net",
        "local-hostname": "ip-172-31-17-70",
        "network": case["network_md"],
    });
    let _server = serve_imds(&tree);
    let m = Machine::new();
    m.write("/sys/class/dmi/id/sys_vendor", "Amazon EC2\n");
    m.write("/etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
    m.write(
        "/etc/cloud/cloud.cfg.d/10-renderers.cfg",
        "system_info:\n  network:\n    renderers: [networkd]\n",
    );
    for (mac, name) in case["macs_to_nics"].as_object().unwrap() {
        nic(&m, name.as_str().unwrap(), mac);
    }
    m.boot();
    assert_eq!(m.read("/var/lib/cloud/data/instance-id"), "i-0net\n");

    // The datasource's config is 22.4's for this tree.
    let cached: J =
        serde_json::from_str(&m.read("/var/lib/cloud/instances/i-0net/cloudboot-datasource.json"))
            .unwrap();
    assert_eq!(cached["network_config"], fixture("expected.json")[CASE]);

    let eth0 = m.read("/etc/systemd/network/10-cloud-init-eth0.network");
    for line in [
        "MACAddress=06:17:04:d7:26:09",
        "DHCP=yes",
        "RouteMetric=100",
        "Address=172.31.17.71/20",
        "Address=172.31.17.9/20",
        "Address=2600:1f16:aeb:b20b::11/64",
    ] {
        assert!(eth0.contains(line), "{line} not in\n{eth0}");
    }
    let eth1 = m.read("/etc/systemd/network/10-cloud-init-eth1.network");
    for line in [
        "MACAddress=06:17:04:d7:26:08",
        "DHCP=ipv4",
        "RouteMetric=200",
    ] {
        assert!(eth1.contains(line), "{line} not in\n{eth1}");
    }
    assert!(!eth1.lines().any(|l| l.starts_with("Address=")), "{eth1}");
}

/// A tree 22.4 cannot convert (a device-number that is no integer) is one
/// clear error naming the URL and the key; the instance is still found and
/// the fallback network config applies.
#[test]
fn a_bad_device_number_is_one_clear_error() {
    if !skip::require(&[skip::Need::Root(
        "a metadata address in a private network namespace",
    )]) {
        return;
    }
    let tree = serde_json::json!({
        "instance-id": "i-0bad",
        "network": {"interfaces": {"macs": {"0a:00:00:00:00:01": {"device-number": "first"}}}},
    });
    let _server = serve_imds(&tree);
    let m = Machine::new();
    m.write("/sys/class/dmi/id/sys_vendor", "Amazon EC2\n");
    nic(&m, "eth0", "0a:00:00:00:00:01");
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 1);
    assert_eq!(m.read("/var/lib/cloud/data/instance-id"), "i-0bad\n");
    assert_eq!(
        m.stage_errors("init"),
        [
            "Ec2 metadata at http://169.254.169.254: meta-data/network: device-number of \
             0a:00:00:00:00:01 is not an integer: \"first\""
        ]
    );
}
