//! Datasources described in YAML (`/etc/cloudboot/datasources.d`): the
//! shipped examples against a metadata service on its real address in the
//! test's own network namespace, a token step, detection, and descriptions
//! refused with file, key and line.

mod common;

use common::metadata_server::{MetadataServer, Reply, Request};
use common::skip::{self, Need};
use common::*;

const HETZNER_META: &str = "instance-id: 4711\nhostname: hetzner-box\npublic-keys:\n- ssh-ed25519 AAAAC3Nza hetzner-key\nvendor_data: '#cloud-config\n\n  write_files: [{path: /etc/vendor-ran, content: v}]\n\n  '\nnetwork-config:\n  version: 1\n  config:\n  - type: physical\n    name: eth0\n    mac_address: '96:00:00:00:00:01'\n    subnets:\n    - type: dhcp\n";
const USER_DATA: &str =
    "#cloud-config\nwrite_files: [{path: /etc/from-declared, content: described}]\n";

fn hetzner_service(r: &Request) -> Reply {
    match r.path.as_str() {
        "/hetzner/v1/metadata" => Reply::ok(HETZNER_META),
        "/hetzner/v1/userdata" => Reply::ok(USER_DATA),
        _ => Reply::not_found(),
    }
}

fn with_example(m: &Machine, name: &str) {
    let text = std::fs::read_to_string(format!(
        "{}/examples/datasources.d/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    m.write(&format!("/etc/cloudboot/datasources.d/{name}"), &text);
}

fn need_root() -> bool {
    skip::require(&[Need::Root(
        "a metadata address in a private network namespace",
    )])
}

#[test]
fn the_hetzner_example_boots_an_instance() {
    if !need_root() {
        return;
    }
    let server = MetadataServer::on("169.254.169.254:80", Box::new(hetzner_service));
    let m = Machine::new();
    m.write("/sys/class/dmi/id/sys_vendor", "Hetzner\n");
    with_example(&m, "hetzner.yaml");
    m.boot();
    assert_eq!(m.read("/var/lib/cloud/data/instance-id"), "4711\n");
    assert_eq!(m.read("/etc/from-declared"), "described");
    assert_eq!(m.read("/etc/hostname"), "hetzner-box\n");
    // Vendor-data as the service gave it (user-data's write_files wins
    // over vendor-data's, as in cloud-init).
    assert_eq!(
        m.read("/var/lib/cloud/instances/4711/vendor-data.txt"),
        "#cloud-config\nwrite_files: [{path: /etc/vendor-ran, content: v}]\n"
    );
    m.assert_cloud_id("hetzner");
    assert_eq!(m.run_ok(&["query", "v1.cloud_name"], 0), "hetzner\n");
    assert!(m
        .run_ok(&["query", "v1.public_ssh_keys"], 0)
        .contains("ssh-ed25519 AAAAC3Nza hetzner-key"));
    assert_eq!(
        m.read("/var/lib/cloud/instances/4711/datasource"),
        "DataSourceHetznerDescribed: DataSourceHetznerDescribed \
         [declared=/etc/cloudboot/datasources.d/hetzner.yaml][url=http://169.254.169.254/hetzner/v1/]\n"
    );
    assert!(m
        .run_ok(&["status", "--long", "--modules"], 0)
        .contains("DataSourceHetznerDescribed"));
    // Read in the local stage, once.
    assert_eq!(
        server.paths(),
        ["/hetzner/v1/metadata", "/hetzner/v1/userdata"]
    );
}

#[test]
fn not_detected_means_not_asked() {
    if !need_root() {
        return;
    }
    let server = MetadataServer::on("169.254.169.254:80", Box::new(hetzner_service));
    let m = Machine::new();
    m.write("/sys/class/dmi/id/sys_vendor", "QEMU\n");
    with_example(&m, "hetzner.yaml");
    m.boot();
    assert!(server.paths().is_empty(), "{:?}", server.paths());
    assert!(!m.exists("/etc/from-declared"));
}

#[test]
fn a_token_step_and_headers() {
    if !need_root() {
        return;
    }
    let server = MetadataServer::on(
        "169.254.169.254:80",
        Box::new(|r: &Request| {
            if r.method == "PUT" && r.path == "/token" {
                return match r.header("X-Ttl") {
                    Some("60") => Reply::ok("secret-token\n"),
                    _ => Reply::status(400, ""),
                };
            }
            if r.header("X-Token") != Some("secret-token") || r.header("X-Flavor") != Some("mine") {
                return Reply::status(401, "");
            }
            match r.path.as_str() {
                "/v1/meta.json" => Reply::ok(
                    r#"{"node": {"id": "node-9", "name": "tok-host"}, "ud": "I2Nsb3VkLWNvbmZpZwp3cml0ZV9maWxlczogW3twYXRoOiAvZXRjL3Rva2VuLXVkLCBjb250ZW50OiBva31dCg=="}"#,
                ),
                _ => Reply::not_found(),
            }
        }),
    );
    let m = Machine::new();
    m.write("/proc/cmdline", "ro mycloud quiet\n");
    m.write(
        "/etc/cloudboot/datasources.d/mine.yaml",
        "name: MyCloud\ndetect: {cmdline: mycloud}\nservice:\n  urls: [http://169.254.169.254]\n  headers: {X-Flavor: mine}\n  token: {path: token, headers: {X-Ttl: '60'}, send_as: X-Token}\ndocuments:\n  meta: {path: v1/meta.json}\ninstance:\n  instance_id: {document: meta, pointer: /node/id}\n  local_hostname: {document: meta, pointer: /node/name}\n  user_data: {document: meta, pointer: /ud, encoding: base64}\n",
    );
    m.boot();
    assert_eq!(m.read("/var/lib/cloud/data/instance-id"), "node-9\n");
    assert_eq!(m.read("/etc/token-ud"), "ok");
    m.assert_cloud_id("mycloud");
    let reqs = server.requests();
    assert_eq!(reqs[0].method, "PUT");
    assert!(reqs[1..]
        .iter()
        .all(|r| r.header("X-Token") == Some("secret-token")));
    // The token is a secret: not in the log, the status or instance-data.
    let log = m.read("/var/log/cloud-init.log");
    assert!(!log.contains("secret-token"));
    assert!(!m
        .read("/run/cloud-init/instance-data.json")
        .contains("secret-token"));
}

#[test]
fn a_bad_description_is_refused_with_file_and_line_and_the_boot_goes_on() {
    let m = Machine::seeded(
        META,
        "#cloud-config\nwrite_files: [{path: /etc/seeded, content: ok}]\n",
    );
    m.write(
        "/etc/cloudboot/datasources.d/broken.yaml",
        "name: Broken\nservice:\n  urls: [http://169.254.169.254/]\ndocuments:\n  meta: {path: m.json}\ninstance:\n  instance_id: {document: nothere, pointer: /id}\n",
    );
    m.boot_expecting(&[1, 0, 0, 0]);
    assert_eq!(m.read("/etc/seeded"), "ok");
    let errors = m.stage_errors("init-local");
    assert!(
        errors.iter().any(|e| e.contains(
            "/etc/cloudboot/datasources.d/broken.yaml, line 7, column 17: instance.instance_id.document: no document named nothere"
        )),
        "{errors:#?}"
    );
    // `cloudboot schema --datasource` says the same, exit 1.
    let out = m.run(&[
        "schema",
        "--datasource",
        &m.path("/etc/cloudboot/datasources.d/broken.yaml")
            .display()
            .to_string(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("line 7, column 17: instance.instance_id.document"));
}

#[test]
fn the_shipped_examples_are_valid() {
    for name in ["hetzner.yaml", "nwcs.yaml"] {
        let m = Machine::new();
        let path = format!(
            "{}/examples/datasources.d/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let out = m.run_ok(&["schema", "--datasource", &path], 0);
        assert!(out.starts_with("Valid datasource description"), "{out}");
    }
}

const NWCS_META: &str = r##"{"instance-id": "nwcs-77", "hostname": "nwcs-box", "public-keys": ["ssh-ed25519 AAAAC3Nzb nwcs-key"], "network": {"version": 1, "config": [{"type": "physical", "name": "eth0", "mac_address": "aa:bb:cc:00:11:22", "subnets": [{"type": "dhcp"}]}]}, "userdata": "#cloud-config\nwrite_files: [{path: /etc/from-declared, content: described}]\n", "vendordata": "#cloud-config\nruncmd: [[true]]\n"}"##;

fn nwcs_service(r: &Request) -> Reply {
    match r.path.as_str() {
        "/api/v1/metadata" => Reply::ok(NWCS_META),
        _ => Reply::not_found(),
    }
}

/// What a user sees of an instance, whichever datasource gave it: the
/// instance-id, hostname, keys, user-data and vendor-data as stored, the
/// network config, and `v1` of instance-data (all but `subplatform`, which
/// names the URL each read, and the datasource's own name).
fn instance_as_seen(m: &Machine, iid: &str) -> Vec<(String, String)> {
    let cache: serde_json::Value = serde_json::from_str(&m.read(&format!(
        "/var/lib/cloud/instances/{iid}/cloudboot-datasource.json"
    )))
    .unwrap();
    let mut v1: serde_json::Value = serde_json::from_str(&m.run_ok(&["query", "v1"], 0)).unwrap();
    let v1 = v1.as_object_mut().unwrap();
    v1.remove("subplatform");
    v1.remove("datasource");
    let mut seen = vec![
        (
            "instance-id".into(),
            m.read("/var/lib/cloud/data/instance-id"),
        ),
        ("hostname".into(), m.read("/etc/hostname")),
        ("keys".into(), m.read("/root/.ssh/authorized_keys")),
        ("written".into(), m.read("/etc/from-declared")),
        ("network_config".into(), cache["network_config"].to_string()),
        ("v1".into(), serde_json::to_string_pretty(&v1).unwrap()),
    ];
    for f in ["user-data.txt", "vendor-data.txt"] {
        seen.push((
            f.into(),
            m.read(&format!("/var/lib/cloud/instances/{iid}/{f}")),
        ));
    }
    seen
}

/// The shipped example boots the instance the built-in datasource boots,
/// from the same service.
fn same_as_builtin(example: &str, dmi: &[(&str, &str)], handler: fn(&Request) -> Reply, iid: &str) {
    let _server = MetadataServer::on("169.254.169.254:80", Box::new(handler));
    let boot = |described: bool| {
        let m = Machine::new();
        for (field, value) in dmi {
            m.write(&format!("/sys/class/dmi/id/{field}"), &format!("{value}\n"));
        }
        if described {
            with_example(&m, example);
        }
        m.boot();
        let line = m.read(&format!("/var/lib/cloud/instances/{iid}/datasource"));
        assert_eq!(line.contains("Described"), described, "{line}");
        instance_as_seen(&m, iid)
    };
    let builtin = boot(false);
    let described = boot(true);
    for ((what, b), (_, d)) in builtin.iter().zip(&described) {
        assert_eq!(
            b, d,
            "{example}: {what} differs from the built-in datasource's"
        );
    }
}

#[test]
fn the_hetzner_example_gives_the_built_in_hetzner_instance() {
    if !need_root() {
        return;
    }
    // The built-in insists that the instance-id is the DMI serial, as 22.4.
    same_as_builtin(
        "hetzner.yaml",
        &[("sys_vendor", "Hetzner"), ("product_serial", "4711")],
        hetzner_service,
        "4711",
    );
}

#[test]
fn the_nwcs_example_gives_the_built_in_nwcs_instance() {
    if !need_root() {
        return;
    }
    same_as_builtin(
        "nwcs.yaml",
        &[("sys_vendor", "NWCS")],
        nwcs_service,
        "nwcs-77",
    );
}
