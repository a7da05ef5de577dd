//! Hetzner, Vultr, UpCloud, NWCS, Scaleway and LXD: each booted end to end
//! against its metadata service on the cloud's own address (in the test's
//! private network namespace, `MetadataServer::on`) or its unix socket,
//! with the platform's DMI under the root; and each not tried at all (no
//! request) without its platform facts.

mod common;

use common::metadata_server::{table, MetadataServer, Reply, Request};
use common::*;

const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJ5ZWtleQ test@vendor";

/// Skips (returns false) unless the test may make a network namespace.
fn may_own_an_address() -> bool {
    skip::require(&[skip::Need::Root(
        "a metadata address in a private network namespace",
    )])
}

/// A cloud-config that writes `path`.
fn writes(path: &str) -> String {
    format!("#cloud-config\nwrite_files: [{{path: {path}, content: applied}}]\n")
}

/// What every end-to-end boot ends with: the instance-id, the hostname,
/// the key for root, user-data applied, and `cloud-id` naming the cloud.
fn assert_booted(m: &Machine, iid: &str, hostname: &str, user_file: &str, cloud_id: &str) {
    m.assert_booted(
        iid,
        hostname,
        ("/root/.ssh/authorized_keys", KEY),
        user_file,
        cloud_id,
    );
    assert_eq!(m.read(user_file), "applied");
    assert_eq!(
        m.run_ok(&["query", "v1.cloud_name"], 0),
        format!("{cloud_id}\n")
    );
    for stage in ["init-local", "init"] {
        let errors = m.stage_errors(stage);
        assert!(errors.is_empty(), "{stage}: {errors:?}");
    }
}

/// A machine with root in /etc/passwd (the keys go to root when there is
/// no default user).
fn machine(vendor: &str) -> Machine {
    let m = Machine::new();
    m.write("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
    m.write("/etc/group", "root:x:0:\n");
    if !vendor.is_empty() {
        m.write("/sys/class/dmi/id/sys_vendor", &format!("{vendor}\n"));
    }
    m
}

/// A NIC under the root's /sys/class/net, up and with carrier.
fn nic(m: &Machine, name: &str, mac: &str) {
    m.write(
        &format!("/sys/class/net/{name}/address"),
        &format!("{mac}\n"),
    );
    m.write(&format!("/sys/class/net/{name}/carrier"), "1\n");
    m.write(&format!("/sys/class/net/{name}/operstate"), "up\n");
    std::fs::create_dir_all(m.path(&format!("/sys/class/net/{name}/device"))).unwrap();
}

/// The test's metadata service saw nothing: the datasource was not tried.
fn assert_untried(server: &MetadataServer, m: &Machine) {
    assert!(server.requests().is_empty(), "{:?}", server.paths());
    assert_eq!(
        m.read("/var/lib/cloud/data/instance-id"),
        "iid-datasource-none\n"
    );
}

// ---------------------------------------------------------------- Hetzner

fn hetzner_metadata() -> String {
    format!(
        "instance-id: 4711\nhostname: hetz-1\npublic-keys:\n- {KEY}\n\
         network-config:\n  version: 1\n  config:\n  - type: physical\n    name: eth0\n    subnets:\n    - type: dhcp\n\
         vendor_data: \"{}\"\n",
        writes("/etc/from-hetzner-vendor").replace('\n', "\\n")
    )
}

#[test]
fn hetzner_on_its_real_address() {
    if !may_own_an_address() {
        return;
    }
    let user_data = common::python(&format!(
        "import base64,sys; sys.stdout.write(base64.b64encode({:?}.encode()).decode())",
        writes("/etc/from-hetzner")
    ));
    let server = MetadataServer::on(
        "169.254.169.254:80",
        table(vec![
            ("/hetzner/v1/metadata", hetzner_metadata().into_bytes()),
            ("/hetzner/v1/userdata", user_data),
        ]),
    );
    let m = machine("Hetzner");
    m.write("/sys/class/dmi/id/product_serial", "4711\n");
    nic(&m, "eth0", "96:00:00:00:00:01");
    m.boot();
    assert_booted(&m, "4711", "hetz-1", "/etc/from-hetzner", "hetzner");
    // (user-data's write_files wins over vendor-data's, as in cloud-init)
    assert_eq!(
        m.read("/var/lib/cloud/instances/4711/vendor-data.txt"),
        writes("/etc/from-hetzner-vendor")
    );
    assert_eq!(
        m.read("/var/lib/cloud/instances/4711/datasource"),
        "DataSourceHetzner: DataSourceHetzner\n"
    );
    assert_eq!(
        m.run_ok(&["query", "v1.subplatform"], 0),
        "metadata (http://169.254.169.254/hetzner/v1/metadata)\n"
    );
    // Read once, in the local stage; later stages use the cache.
    assert_eq!(
        server.paths(),
        ["/hetzner/v1/metadata", "/hetzner/v1/userdata"]
    );
    // The next boot keeps the instance: its DMI serial is the instance-id.
    m.reboot();
    m.boot();
    assert_eq!(server.paths().len(), 2, "{:?}", server.paths());
}

#[test]
fn hetzner_refuses_metadata_of_another_serial() {
    if !may_own_an_address() {
        return;
    }
    let _server = MetadataServer::on(
        "169.254.169.254:80",
        table(vec![
            ("/hetzner/v1/metadata", hetzner_metadata().into_bytes()),
            ("/hetzner/v1/userdata", Vec::new()),
        ]),
    );
    let m = machine("Hetzner");
    m.write("/sys/class/dmi/id/product_serial", "999\n");
    m.run_ok(&["init", "--local"], 1);
    assert_eq!(
        m.stage_errors("init-local"),
        ["Hetzner: SMBIOS serial does not match instance ID from metadata"]
    );
}

#[test]
fn hetzner_with_malformed_metadata_names_the_url() {
    if !may_own_an_address() {
        return;
    }
    let _server = MetadataServer::on(
        "169.254.169.254:80",
        table(vec![
            (
                "/hetzner/v1/metadata",
                b"instance-id: 1\nhostname: [x\n".to_vec(),
            ),
            ("/hetzner/v1/userdata", Vec::new()),
        ]),
    );
    let m = machine("Hetzner");
    m.write("/sys/class/dmi/id/product_serial", "1\n");
    m.run_ok(&["init", "--local"], 1);
    let errors = m.stage_errors("init-local");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("Hetzner: http://169.254.169.254/hetzner/v1/metadata"),
        "{errors:?}"
    );
}

#[test]
fn hetzner_is_not_tried_without_its_dmi() {
    if !may_own_an_address() {
        return;
    }
    let server = MetadataServer::on(
        "169.254.169.254:80",
        Box::new(|_: &Request| Reply::not_found()),
    );
    let m = machine("");
    m.write("/sys/class/dmi/id/product_serial", "4711\n");
    m.boot();
    assert_untried(&server, &m);
}

// ------------------------------------------------------------------ Vultr

const VULTR_V1: &str = include_str!("fixtures/datasources/vultr/v1.json");

fn vultr_machine() -> Machine {
    let m = machine("Vultr");
    m.write("/etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
    nic(&m, "eth0", "56:00:03:1b:4e:ca");
    nic(&m, "eth1", "5a:00:03:1b:4e:ca");
    nic(&m, "eth2", "5a:00:03:1b:4e:cb");
    m
}

#[test]
fn vultr_on_its_real_address() {
    if !may_own_an_address() {
        return;
    }
    let server = MetadataServer::on(
        "169.254.169.254:80",
        table(vec![("/v1.json", VULTR_V1.as_bytes().to_vec())]),
    );
    let m = vultr_machine();
    m.boot();
    assert_booted(
        &m,
        "fd5b2f0e-7e66-4b49-9e0a-6a9d3b7b1a11",
        "vultr-guest-1",
        "/etc/from-vultr",
        "vultr",
    );
    assert_eq!(m.run_ok(&["query", "v1.region"], 0), "us\n");
    assert_eq!(m.run_ok(&["query", "v1.subplatform"], 0), "unknown\n");
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{:?}", server.paths());
    assert_eq!(requests[0].header("Metadata-Token"), Some("cloudinit"));
    assert_eq!(
        requests[0].header("User-Agent"),
        Some("Cloud-Init/22.4 - OS: Linux Variant: debian")
    );
    // user-data and vendor-data stay out of the world-readable instance-data.
    let public = m.read("/run/cloud-init/instance-data.json");
    assert!(!public.contains("from-vultr"), "{public}");
    assert!(!public.contains("package_upgrade"), "{public}");
    // The network config 22.4 generates (tests/fixtures/datasources/vultr).
    let cached: serde_json::Value = serde_json::from_str(&m.read(
        "/var/lib/cloud/instances/fd5b2f0e-7e66-4b49-9e0a-6a9d3b7b1a11/cloudboot-datasource.json",
    ))
    .unwrap();
    let expected: serde_json::Value = serde_json::from_str(include_str!(
        "fixtures/datasources/vultr/expected-network.json"
    ))
    .unwrap();
    assert_eq!(cached["network_config"], expected);
    let eni = m.read("/etc/network/interfaces.d/50-cloud-init");
    assert!(eni.contains("iface eth0 inet dhcp"), "{eni}");
    assert!(eni.contains("address 10.1.112.3"), "{eni}");
    assert!(!eni.contains("eth2"), "unconfigured: {eni}");
}

#[test]
fn vultr_without_a_nic_of_its_macs_is_a_clear_problem() {
    if !may_own_an_address() {
        return;
    }
    let _server = MetadataServer::on(
        "169.254.169.254:80",
        table(vec![("/v1.json", VULTR_V1.as_bytes().to_vec())]),
    );
    let m = machine("Vultr");
    m.run_ok(&["init", "--local"], 1);
    assert_eq!(
        m.stage_errors("init-local"),
        ["Vultr: http://169.254.169.254/v1.json: no network interface on this machine has the MAC '56:00:03:1b:4e:ca' of 'interfaces[0].mac'"]
    );
}

/// Bare metal: no Vultr DMI, `vultr` on the command line. Its instance
/// cannot be confirmed locally (22.4's `is_baremetal`), so every boot
/// reads the service again.
#[test]
fn vultr_bare_metal_by_its_command_line() {
    if !may_own_an_address() {
        return;
    }
    let server = MetadataServer::on(
        "169.254.169.254:80",
        table(vec![("/v1.json", VULTR_V1.as_bytes().to_vec())]),
    );
    let m = vultr_machine();
    std::fs::remove_file(m.path("/sys/class/dmi/id/sys_vendor")).unwrap();
    m.write("/proc/cmdline", "root=/dev/sda1 vultr\n");
    m.boot();
    assert_eq!(m.read("/etc/from-vultr"), "applied");
    m.reboot();
    m.boot();
    assert_eq!(server.paths(), ["/v1.json", "/v1.json"]);
}

#[test]
fn vultr_is_not_tried_without_its_platform_facts() {
    if !may_own_an_address() {
        return;
    }
    let server = MetadataServer::on(
        "169.254.169.254:80",
        table(vec![("/v1.json", VULTR_V1.as_bytes().to_vec())]),
    );
    let m = machine("");
    m.write("/proc/cmdline", "root=/dev/vda1 vultrx\n");
    m.boot();
    assert_untried(&server, &m);
}

// ---------------------------------------------------------------- UpCloud

const UPCLOUD_MD: &str = include_str!("fixtures/datasources/upcloud/metadata-v1.json");
const UPCLOUD_IID: &str = "00322b68-0096-4042-9406-faad61922128";

fn upcloud_machine() -> Machine {
    let m = machine("UpCloud");
    m.write(
        "/sys/class/dmi/id/product_uuid",
        &format!("{UPCLOUD_IID}\n"),
    );
    for (i, mac) in [
        "32:d5:ba:4a:36:e7",
        "32:d5:ba:4a:84:cc",
        "32:d5:ba:4a:63:e7",
        "32:d5:ba:4a:8a:e1",
        "32:d5:ba:4a:8a:e2",
    ]
    .iter()
    .enumerate()
    {
        nic(&m, &format!("eth{i}"), mac);
    }
    m
}

#[test]
fn upcloud_local_on_its_real_address() {
    if !may_own_an_address() {
        return;
    }
    let server = MetadataServer::on(
        "169.254.169.254:80",
        table(vec![("/metadata/v1.json", UPCLOUD_MD.as_bytes().to_vec())]),
    );
    let m = upcloud_machine();
    m.boot();
    assert_booted(&m, UPCLOUD_IID, "up-host-1", "/etc/from-upcloud", "upcloud");
    assert_eq!(
        m.read(&format!(
            "/var/lib/cloud/instances/{UPCLOUD_IID}/datasource"
        )),
        "DataSourceUpCloudLocal: DataSourceUpCloudLocal\n"
    );
    assert_eq!(m.run_ok(&["query", "v1.availability_zone"], 0), "fi-hel2\n");
    assert_eq!(
        m.run_ok(&["query", "v1.subplatform"], 0),
        "metadata (http://169.254.169.254/metadata/v1.json)\n"
    );
    let cached: serde_json::Value = serde_json::from_str(&m.read(&format!(
        "/var/lib/cloud/instances/{UPCLOUD_IID}/cloudboot-datasource.json"
    )))
    .unwrap();
    let expected: serde_json::Value = serde_json::from_str(include_str!(
        "fixtures/datasources/upcloud/expected-network.json"
    ))
    .unwrap();
    assert_eq!(cached["network_config"], expected);
    let eni = m.read("/etc/network/interfaces.d/50-cloud-init");
    assert!(eni.contains("address 10.20.0.5"), "{eni}");
    assert_eq!(server.paths(), ["/metadata/v1.json"]);
}

/// The built-in stages.yaml with the local stage searching only the
/// filesystem datasources (its first `datasources:` line).
fn without_local_datasources() -> String {
    let stages =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/stages.yaml")).unwrap();
    let local = stages
        .lines()
        .find(|l| l.trim_start().starts_with("datasources:"))
        .unwrap()
        .to_string();
    stages.replacen(&local, "    datasources: [NoCloud, ConfigDrive]", 1)
}

/// Asked for by name in the network stage only, it is `DataSourceUpCloud`.
#[test]
fn upcloud_in_the_network_stage() {
    if !may_own_an_address() {
        return;
    }
    let _server = MetadataServer::on(
        "169.254.169.254:80",
        table(vec![("/metadata/v1.json", UPCLOUD_MD.as_bytes().to_vec())]),
    );
    let m = upcloud_machine();
    m.write("/etc/cloud/cloud.cfg", "datasource_list: [UpCloud, None]\n");
    m.write("/etc/cloudboot/stages.yaml", &without_local_datasources());
    m.boot();
    assert_eq!(
        m.read(&format!(
            "/var/lib/cloud/instances/{UPCLOUD_IID}/datasource"
        )),
        "DataSourceUpCloud: DataSourceUpCloud\n"
    );
    assert_eq!(m.read("/etc/from-upcloud"), "applied");
}

#[test]
fn upcloud_with_malformed_json_names_the_url() {
    if !may_own_an_address() {
        return;
    }
    let _server = MetadataServer::on(
        "169.254.169.254:80",
        table(vec![(
            "/metadata/v1.json",
            b"{\"instance_id\": \"x\",".to_vec(),
        )]),
    );
    let m = upcloud_machine();
    m.run_ok(&["init", "--local"], 1);
    let errors = m.stage_errors("init-local");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("UpCloud: http://169.254.169.254/metadata/v1.json: not JSON: EOF"),
        "{errors:?}"
    );
}

#[test]
fn upcloud_is_not_tried_without_its_dmi() {
    if !may_own_an_address() {
        return;
    }
    let server = MetadataServer::on(
        "169.254.169.254:80",
        table(vec![("/metadata/v1.json", UPCLOUD_MD.as_bytes().to_vec())]),
    );
    let m = machine("");
    m.write(
        "/sys/class/dmi/id/product_uuid",
        &format!("{UPCLOUD_IID}\n"),
    );
    m.boot();
    assert_untried(&server, &m);
}

// ------------------------------------------------------------------- NWCS

fn nwcs_metadata() -> String {
    serde_json::json!({
        "instance-id": "nwcs-8f3a",
        "hostname": "nwcs-host",
        "public-keys": [KEY],
        "network": {
            "version": 1,
            "config": [
                {"type": "physical", "name": "ens3", "mac_address": "aa:00:00:00:0a:01",
                 "subnets": [{"type": "dhcp"}]},
                {"type": "nameserver", "address": ["1.1.1.1"]}
            ]
        },
        "userdata": writes("/etc/from-nwcs"),
        "vendordata": null
    })
    .to_string()
}

#[test]
fn nwcs_on_its_real_address() {
    if !may_own_an_address() {
        return;
    }
    let server = MetadataServer::on(
        "169.254.169.254:80",
        table(vec![("/api/v1/metadata", nwcs_metadata().into_bytes())]),
    );
    let m = machine("NWCS");
    nic(&m, "eth0", "aa:00:00:00:0a:01");
    m.boot();
    assert_booted(&m, "nwcs-8f3a", "nwcs-host", "/etc/from-nwcs", "nwcs");
    assert_eq!(
        m.run_ok(&["query", "v1.subplatform"], 0),
        "metadata (http://169.254.169.254/api/v1/metadata)\n"
    );
    // The NIC NWCS calls ens3 is this machine's eth0.
    let cached: serde_json::Value = serde_json::from_str(
        &m.read("/var/lib/cloud/instances/nwcs-8f3a/cloudboot-datasource.json"),
    )
    .unwrap();
    assert_eq!(cached["network_config"]["config"][0]["name"], "eth0");
    assert_eq!(server.paths(), ["/api/v1/metadata"]);
}

#[test]
fn nwcs_with_a_missing_key_names_it() {
    if !may_own_an_address() {
        return;
    }
    let _server = MetadataServer::on(
        "169.254.169.254:80",
        table(vec![(
            "/api/v1/metadata",
            br#"{"instance-id": "x", "public-keys": [], "network": {}}"#.to_vec(),
        )]),
    );
    let m = machine("NWCS");
    m.run_ok(&["init", "--local"], 1);
    assert_eq!(
        m.stage_errors("init-local"),
        ["NWCS: http://169.254.169.254/api/v1/metadata: no 'hostname' in the metadata"]
    );
}

/// An answer larger than cloudboot accepts (16 MiB) is refused from its
/// length, and named.
#[test]
fn nwcs_with_an_oversized_answer_names_the_url() {
    if !may_own_an_address() {
        return;
    }
    let _server = MetadataServer::on(
        "169.254.169.254:80",
        table(vec![("/api/v1/metadata", vec![b' '; 17 << 20])]),
    );
    let m = machine("NWCS");
    m.run_ok(&["init", "--local"], 1);
    assert_eq!(
        m.stage_errors("init-local"),
        ["NWCS: http://169.254.169.254/api/v1/metadata: the response is larger than the 16777216 bytes cloudboot accepts"]
    );
}

#[test]
fn nwcs_is_not_tried_without_its_dmi() {
    if !may_own_an_address() {
        return;
    }
    let server = MetadataServer::on(
        "169.254.169.254:80",
        table(vec![("/api/v1/metadata", nwcs_metadata().into_bytes())]),
    );
    let m = machine("Other");
    m.boot();
    assert_untried(&server, &m);
}

// --------------------------------------------------------------- Scaleway

/// Scaleway's service: conf for anyone, user-data and vendor-data only to
/// a client port below 1024 (403 otherwise); no vendor-data (404).
fn scaleway_service(r: &Request) -> Reply {
    match r.path.as_str() {
        "/conf?format=json" => Reply::ok(
            serde_json::json!({
                "id": "scw-6bd8",
                "hostname": "scw-host",
                "ssh_public_keys": [{"key": KEY, "fingerprint": "256 SHA256:x"}],
                "tags": ["AUTHORIZED_KEY=ssh-rsa_AAAAB3Nza_tagged"],
                "ipv6": {"address": "2001:bc8::2", "netmask": "64", "gateway": "2001:bc8::1"},
            })
            .to_string(),
        ),
        "/user_data/cloud-init" | "/vendor_data/cloud-init" if r.peer.port() >= 1024 => {
            Reply::status(403, "privileged port required")
        }
        "/user_data/cloud-init" => Reply::ok(writes("/etc/from-scaleway")),
        _ => Reply::not_found(),
    }
}

fn scaleway_data_ports(server: &MetadataServer) -> Vec<(String, u16)> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("_data/"))
        .map(|r| (r.path, r.peer.port()))
        .collect()
}

#[test]
fn scaleway_on_its_real_address_from_a_privileged_port() {
    if !may_own_an_address() {
        return;
    }
    let server = MetadataServer::on("169.254.42.42:80", Box::new(scaleway_service));
    let m = machine("Scaleway");
    nic(&m, "eth0", "de:00:00:00:00:01");
    m.boot();
    assert_booted(&m, "scw-6bd8", "scw-host", "/etc/from-scaleway", "scaleway");
    assert!(m
        .read("/root/.ssh/authorized_keys")
        .contains("ssh-rsa AAAAB3Nza tagged"));
    assert_eq!(
        m.run_ok(&["query", "v1.subplatform"], 0),
        "metadata (http://169.254.42.42/conf?format=json)\n"
    );
    // From privileged ports, the lowest free one first: port 1, unless the
    // user-data connection still holds it (TIME_WAIT), then the next.
    let ports = scaleway_data_ports(&server);
    assert_eq!(ports[0], ("/user_data/cloud-init".to_string(), 1));
    assert_eq!(ports[1].0, "/vendor_data/cloud-init");
    assert!((1..=2).contains(&ports[1].1), "{ports:?}");
    let cached: serde_json::Value = serde_json::from_str(
        &m.read("/var/lib/cloud/instances/scw-6bd8/cloudboot-datasource.json"),
    )
    .unwrap();
    assert_eq!(cached["network_config"]["config"][0]["name"], "eth0");
    // Rendered (ENI in this bare root): DHCP and the static IPv6.
    let eni = m.read("/etc/network/interfaces.d/50-cloud-init");
    assert!(eni.contains("iface eth0 inet dhcp"), "{eni}");
    assert!(eni.contains("2001:bc8::2"), "{eni}");
}

/// A source port in use (22.4's EADDRINUSE) is passed over for the next.
#[test]
fn scaleway_takes_the_next_port_when_one_is_in_use() {
    if !may_own_an_address() {
        return;
    }
    let server = MetadataServer::on("169.254.42.42:80", Box::new(scaleway_service));
    let _taken = std::net::TcpListener::bind("0.0.0.0:1").unwrap();
    let m = machine("");
    m.write("/proc/cmdline", "root=/dev/vda1 scaleway\n");
    m.run_ok(&["init", "--local"], 0);
    assert_eq!(m.read("/var/lib/cloud/data/instance-id"), "scw-6bd8\n");
    // Port 1 is taken: port 2 (or 3, when the user-data connection still
    // holds 2).
    let ports = scaleway_data_ports(&server);
    assert_eq!(ports[0], ("/user_data/cloud-init".to_string(), 2));
    assert_eq!(ports[1].0, "/vendor_data/cloud-init");
    assert!((2..=3).contains(&ports[1].1), "{ports:?}");
}

#[test]
fn scaleway_is_not_tried_without_its_platform_facts() {
    if !may_own_an_address() {
        return;
    }
    let server = MetadataServer::on("169.254.42.42:80", Box::new(scaleway_service));
    let m = machine("");
    m.write("/proc/cmdline", "root=/dev/vda1 noscaleway\n");
    m.boot();
    assert_untried(&server, &m);
}

// -------------------------------------------------------------------- LXD

/// An LXD agent at `<root>/dev/lxd/sock`: answers GETs from `routes` (404
/// otherwise), logging each request's path and Host header.
fn lxd_socket(
    m: &Machine,
    routes: Vec<(&'static str, String)>,
) -> std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>> {
    use std::io::{BufRead, BufReader, Write};
    std::fs::create_dir_all(m.path("/dev/lxd")).unwrap();
    let listener = std::os::unix::net::UnixListener::bind(m.path("/dev/lxd/sock")).unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = log.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut stream) = conn else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap_or(0);
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let mut host = String::new();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.strip_prefix("Host:") {
                    host = v.trim().to_string();
                }
            }
            seen.lock().unwrap().push((path.clone(), host));
            let (status, body) = match routes.iter().find(|(p, _)| *p == path) {
                Some((_, body)) => ("200 OK", body.clone()),
                None => ("404 Not Found", "not found".to_string()),
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    log
}

#[test]
fn lxd_over_its_socket() {
    let m = machine("");
    nic(&m, "eth0", "00:16:3e:00:00:01");
    let user_data = format!(
        "#cloud-config\nssh_authorized_keys: ['{KEY}']\nwrite_files: [{{path: /etc/from-lxd, content: applied}}]\n"
    );
    let log = lxd_socket(
        &m,
        vec![
            (
                "/1.0/meta-data",
                "#cloud-config\ninstance-id: lxd-c1\nlocal-hostname: lxd-c1\n".into(),
            ),
            (
                "/1.0/config",
                serde_json::json!([
                    "/1.0/config/user.user-data",
                    "/1.0/config/cloud-init.user-data",
                    "/1.0/config/cloud-init.network-config",
                    "/1.0/config/user.vendor-data",
                    "/1.0/config/user.gone"
                ])
                .to_string(),
            ),
            ("/1.0/config/cloud-init.user-data", user_data),
            (
                "/1.0/config/user.user-data",
                writes("/etc/from-lxd-user-key"),
            ),
            (
                "/1.0/config/cloud-init.network-config",
                "version: 1\nconfig:\n- {type: physical, name: eth0, subnets: [{type: dhcp}]}\n"
                    .into(),
            ),
            ("/1.0/config/user.vendor-data", "#cloud-config\n{}\n".into()),
            (
                "/1.0/devices",
                r#"{"eth0": {"type": "nic", "network": "lxdbr0"}}"#.into(),
            ),
        ],
    );
    m.boot();
    assert_booted(&m, "lxd-c1", "lxd-c1", "/etc/from-lxd", "lxd");
    // cloud-init.user-data wins over user.user-data.
    assert!(!m.exists("/etc/from-lxd-user-key"));
    assert_eq!(
        m.run_ok(&["query", "v1.subplatform"], 0),
        "LXD socket API v. 1.0 (/dev/lxd/sock)\n"
    );
    let seen = log.lock().unwrap().clone();
    let paths: Vec<&str> = seen.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/1.0/meta-data",
            "/1.0/config",
            "/1.0/config/cloud-init.network-config",
            "/1.0/config/cloud-init.user-data",
            "/1.0/config/user.gone",
            "/1.0/config/user.user-data",
            "/1.0/config/user.vendor-data",
            "/1.0/devices",
        ]
    );
    assert!(seen.iter().all(|(_, host)| host == "lxd"), "{seen:?}");
    let cached: serde_json::Value =
        serde_json::from_str(&m.read("/var/lib/cloud/instances/lxd-c1/cloudboot-datasource.json"))
            .unwrap();
    assert_eq!(cached["network_config"]["config"][0]["name"], "eth0");
    // A second boot: the socket confirms the instance-id (check_instance_id).
    m.reboot();
    m.run_ok(&["init", "--local"], 0);
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 9, "{log:?}");
    assert_eq!(log[8].0, "/1.0/meta-data");
}

#[test]
fn lxd_is_not_tried_without_its_socket() {
    let m = machine("");
    // A file where the socket would be is not the socket.
    m.write("/dev/lxd/sock", "");
    m.boot();
    assert_eq!(
        m.read("/var/lib/cloud/data/instance-id"),
        "iid-datasource-none\n"
    );
    let status = m.read("/var/lib/cloud/data/status.json");
    assert!(!status.contains("LXD"), "{status}");
}
