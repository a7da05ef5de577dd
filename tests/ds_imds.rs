//! The metadata-service datasources of issue 14's ds-imds group (AliYun,
//! GCE, Oracle, Exoscale, CloudStack, DigitalOcean), each booted against
//! its service on the cloud's real address, inside a network namespace of
//! the test's own (`MetadataServer::on`), with the platform's DMI facts
//! under the root; and each not tried at all without those facts.

mod common;

use common::metadata_server::{MetadataServer, Reply, Request};
use common::*;

/// Tests that serve a cloud's real address need a namespace of their own.
fn in_private_namespace() -> bool {
    skip::require(&[skip::Need::Root(
        "a metadata address in a private network namespace",
    )])
}

/// The user-data every test serves: one file written.
fn user_data(marker: &str) -> String {
    format!("#cloud-config\nwrite_files: [{{path: /etc/from-ds, content: {marker}}}]\n")
}

/// What every boot must end with: the instance-id, the hostname, the key
/// in root's authorized_keys, the user-data's file, and cloud-id.
fn assert_booted(m: &Machine, iid: &str, hostname: &str, key: &str, marker: &str, cloud_id: &str) {
    m.assert_booted(
        iid,
        hostname,
        ("/root/.ssh/authorized_keys", key),
        "/etc/from-ds",
        cloud_id,
    );
    assert_eq!(m.read("/etc/from-ds"), marker);
}

/// A v1 key of instance-data, as `cloudboot query` prints it.
fn query(m: &Machine, key: &str) -> String {
    m.run_ok(&["query", key], 0).trim_end().to_string()
}

/// A machine whose config lists only `name` (and None), so that a boot
/// without the platform's facts shows the datasource is not even tried.
fn machine_listing(name: &str) -> Machine {
    let m = Machine::new();
    m.write(
        "/etc/cloud/cloud.cfg",
        &format!("datasource_list: [{name}, None]\n"),
    );
    m
}

/// The boot fell back to None without asking the service anything.
fn assert_not_tried(m: &Machine, server: &MetadataServer) {
    m.boot();
    assert_eq!(
        m.read("/var/lib/cloud/data/instance-id"),
        "iid-datasource-none\n"
    );
    assert_eq!(server.paths(), Vec::<String>::new());
}

/// A handler answering GETs from a table of path → body, 404 otherwise;
/// each request also checked by `check` (headers a cloud requires).
fn routes(
    table: Vec<(String, Vec<u8>)>,
    check: impl Fn(&Request) -> Option<Reply> + Send + Sync + 'static,
) -> Box<dyn Fn(&Request) -> Reply + Send + Sync> {
    Box::new(move |r: &Request| {
        if let Some(reply) = check(r) {
            return reply;
        }
        match table.iter().find(|(p, _)| *p == r.path) {
            Some((_, body)) => Reply::ok(body.clone()),
            None => Reply::not_found(),
        }
    })
}

fn owned(table: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    table
        .iter()
        .map(|(p, b)| (p.to_string(), b.as_bytes().to_vec()))
        .collect()
}

// AliYun

const ALIYUN_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAliYun aliyun@test";

fn aliyun_routes() -> Vec<(String, Vec<u8>)> {
    let ud = user_data("aliyun");
    let mut t = owned(&[
        ("/2016-01-01/meta-data/instance-id", "i-bp1aliyun"),
        (
            "/2016-01-01/meta-data/",
            "instance-id\nhostname\nplacement/\npublic-keys/\n",
        ),
        ("/2016-01-01/meta-data/hostname", "ecs-host"),
        ("/2016-01-01/meta-data/placement/", "availability-zone\n"),
        (
            "/2016-01-01/meta-data/placement/availability-zone",
            "cn-hangzhou-b",
        ),
        ("/2016-01-01/meta-data/public-keys/", "skp-1/\n"),
        ("/2016-01-01/meta-data/public-keys/skp-1/", "openssh-key\n"),
        (
            "/2016-01-01/meta-data/public-keys/skp-1/openssh-key",
            ALIYUN_KEY,
        ),
    ]);
    t.push(("/2016-01-01/user-data".into(), ud.into_bytes()));
    t
}

#[test]
fn aliyun_on_its_real_address() {
    if !in_private_namespace() {
        return;
    }
    let server = MetadataServer::on("100.100.100.200:80", routes(aliyun_routes(), |_| None));
    let m = Machine::new();
    m.write("/sys/class/dmi/id/product_name", "Alibaba Cloud ECS\n");
    m.boot();
    assert_booted(
        &m,
        "i-bp1aliyun",
        "ecs-host",
        ALIYUN_KEY,
        "aliyun",
        "aliyun",
    );
    assert_eq!(query(&m, "v1.platform"), "aliyun");
    // Ec2's region off AWS is the zone less its last character, as 22.4.
    assert_eq!(query(&m, "v1.region"), "cn-hangzhou-");
    assert_eq!(query(&m, "v1.availability_zone"), "cn-hangzhou-b");
    assert_eq!(
        query(&m, "v1.subplatform"),
        "metadata (http://100.100.100.200)"
    );
    assert_eq!(
        m.read("/var/lib/cloud/instances/i-bp1aliyun/datasource"),
        "DataSourceAliYun: DataSourceAliYun\n"
    );
    // No IMDSv2 token (22.4 asks for one on AWS only), API 2016-01-01 only.
    let requests = server.requests();
    assert!(requests.iter().all(|r| r.method == "GET"), "{requests:?}");
    assert!(requests
        .iter()
        .all(|r| r.path.starts_with("/2016-01-01/")
            && r.header("X-aws-ec2-metadata-token").is_none()));
}

#[test]
fn aliyun_is_not_tried_without_its_product_name() {
    if !in_private_namespace() {
        return;
    }
    let server = MetadataServer::on("100.100.100.200:80", routes(aliyun_routes(), |_| None));
    let m = machine_listing("AliYun");
    m.write("/sys/class/dmi/id/product_name", "Some Other Cloud\n");
    assert_not_tried(&m, &server);
}

// GCE

const GCE_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGceInstance gce@test";
const GCE_PROJECT_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGceProject project@test";
const GCE_URL_CFG: &str =
    "datasource:\n  GCE:\n    metadata_url: http://169.254.169.254/computeMetadata/v1/\n";

/// A GCE metadata server: it refuses a request without `Metadata-Flavor:
/// Google` (403, as Google's does) and marks every answer with it.
fn gce_server(instance_attributes: serde_json::Value, flavor: bool) -> MetadataServer {
    let mut table = owned(&[
        ("/computeMetadata/v1/instance/id", "4520031799277581759"),
        (
            "/computeMetadata/v1/instance/zone",
            "projects/1234/zones/us-central1-a",
        ),
        (
            "/computeMetadata/v1/instance/hostname",
            "gce-host.c.my-project.internal",
        ),
    ]);
    table.push((
        "/computeMetadata/v1/instance/attributes/?recursive=True".into(),
        instance_attributes.to_string().into_bytes(),
    ));
    table.push((
        "/computeMetadata/v1/project/attributes/?recursive=True".into(),
        serde_json::json!({"ssh-keys": format!("cloudinit:{GCE_PROJECT_KEY}")})
            .to_string()
            .into_bytes(),
    ));
    let inner = routes(table, |r| {
        (r.header("Metadata-Flavor") != Some("Google")).then(|| Reply::status(403, ""))
    });
    MetadataServer::on(
        "169.254.169.254:80",
        Box::new(move |r| {
            let reply = inner(r);
            if flavor {
                reply.with_header("Metadata-Flavor", "Google")
            } else {
                reply
            }
        }),
    )
}

fn gce_machine() -> Machine {
    let m = Machine::new();
    m.write("/sys/class/dmi/id/product_name", "Google Compute Engine\n");
    m.write("/etc/cloud/cloud.cfg.d/90-gce.cfg", GCE_URL_CFG);
    m
}

#[test]
fn gce_local_on_its_real_address() {
    if !in_private_namespace() {
        return;
    }
    let ud = user_data("gce");
    let server = gce_server(
        serde_json::json!({
            "ssh-keys": format!("cloudinit:{GCE_KEY}\nsomeone:ssh-rsa AAAAB3other other"),
            "block-project-ssh-keys": "TRUE",
            "user-data": cloudboot::base64::encode(ud.as_bytes()),
            "user-data-encoding": "base64",
        }),
        true,
    );
    let m = gce_machine();
    m.boot();
    // GCE asks for short hostnames.
    assert_booted(&m, "4520031799277581759", "gce-host", GCE_KEY, "gce", "gce");
    assert_eq!(
        m.read("/var/lib/cloud/instances/4520031799277581759/datasource"),
        "DataSourceGCELocal: DataSourceGCELocal\n"
    );
    assert_eq!(query(&m, "v1.availability_zone"), "us-central1-a");
    assert_eq!(query(&m, "v1.region"), "us-central1");
    assert_eq!(query(&m, "v1.platform"), "gce");
    // Project keys blocked; a user other than cloudinit (and no default
    // user) ignored.
    let keys = m.read("/root/.ssh/authorized_keys");
    assert!(
        !keys.contains("Project") && !keys.contains("other"),
        "{keys}"
    );
    let requests = server.requests();
    assert!(!requests.is_empty());
    for r in &requests {
        assert_eq!(r.header("Metadata-Flavor"), Some("Google"), "{r:?}");
        assert!(r.path.starts_with("/computeMetadata/v1/"), "{r:?}");
    }
}

#[test]
fn gce_in_the_network_stage_with_project_keys() {
    if !in_private_namespace() {
        return;
    }
    let _server = gce_server(serde_json::json!({"user-data": user_data("gce-net")}), true);
    let m = gce_machine();
    m.write("/sys/class/dmi/id/product_name", "\n");
    m.write("/sys/class/dmi/id/product_serial", "GoogleCloud-ABCDEF\n");
    for args in [
        &["init"][..],
        &["modules", "--mode=config"][..],
        &["modules", "--mode=final"][..],
    ] {
        m.run_ok(args, 0);
    }
    assert_booted(
        &m,
        "4520031799277581759",
        "gce-host",
        GCE_PROJECT_KEY,
        "gce-net",
        "gce",
    );
    assert_eq!(
        m.read("/var/lib/cloud/instances/4520031799277581759/datasource"),
        "DataSourceGCE: DataSourceGCE\n"
    );
}

#[test]
fn gce_refuses_a_server_that_is_not_googles() {
    if !in_private_namespace() {
        return;
    }
    let server = gce_server(serde_json::json!({}), false);
    let m = gce_machine();
    // The refusal is one problem in each of the two stages that search.
    m.boot_expecting(&[1, 1, 0, 0]);
    assert!(m.stage_errors("init")[0]
        .contains("instance/id: the answer has no \"Metadata-Flavor: Google\" header"));
    assert_eq!(
        m.read("/var/lib/cloud/data/instance-id"),
        "iid-datasource-none\n"
    );
    assert_eq!(server.paths(), ["/computeMetadata/v1/instance/id"; 2]);
}

#[test]
fn gce_is_not_tried_without_its_dmi() {
    if !in_private_namespace() {
        return;
    }
    let server = gce_server(serde_json::json!({}), true);
    let m = machine_listing("GCE");
    m.write("/etc/cloud/cloud.cfg.d/90-gce.cfg", GCE_URL_CFG);
    assert_not_tried(&m, &server);
}

// Oracle

const ORACLE_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOracle oracle@test";
const ORACLE_IID: &str = "ocid1.instance.oc1.phx.abcdef";

/// An OCI metadata service. With `v2`, /opc/v2/ answers (and refuses a
/// request without the bearer header); without, only /opc/v1/ does.
fn oracle_server(v2: bool) -> MetadataServer {
    let instance = serde_json::json!({
        "availabilityDomain": "Uocm:PHX-AD-1",
        "ociAdName": "phx-ad-1",
        "id": ORACLE_IID,
        "hostname": "oracle-host",
        "displayName": "my instance",
        "region": "phx",
        "metadata": {
            "ssh_authorized_keys": format!("{ORACLE_KEY}\n"),
            "user_data": cloudboot::base64::encode(user_data("oracle").as_bytes()),
        },
    })
    .to_string();
    let vnics = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/datasources/oracle/vnics.json"
    ))
    .unwrap();
    let v = if v2 { "v2" } else { "v1" };
    let table = vec![
        (format!("/opc/{v}/instance/"), instance.into_bytes()),
        (format!("/opc/{v}/vnics/"), vnics.into_bytes()),
    ];
    MetadataServer::on(
        "169.254.169.254:80",
        routes(table, |r| {
            (r.path.starts_with("/opc/v2/") && r.header("Authorization") != Some("Bearer Oracle"))
                .then(|| Reply::status(401, ""))
        }),
    )
}

fn oracle_machine() -> Machine {
    let m = Machine::new();
    m.write("/sys/class/dmi/id/chassis_asset_tag", "OracleCloud.com\n");
    m.write(
        "/sys/class/dmi/id/product_uuid",
        "5B0C2F1A-0000-4000-8000-ABCDEF012345\n",
    );
    m.write("/sys/class/net/ens3/address", "02:00:17:00:00:01\n");
    m.write("/sys/class/net/ens4/address", "02:00:17:00:00:02\n");
    m
}

#[test]
fn oracle_on_its_real_address() {
    if !in_private_namespace() {
        return;
    }
    let server = oracle_server(true);
    let m = oracle_machine();
    m.boot();
    assert_booted(
        &m,
        ORACLE_IID,
        "oracle-host",
        ORACLE_KEY,
        "oracle",
        "oracle",
    );
    assert_eq!(
        m.read(&format!("/var/lib/cloud/instances/{ORACLE_IID}/datasource")),
        "DataSourceOracle: DataSourceOracle\n"
    );
    assert_eq!(query(&m, "v1.availability_zone"), "phx-ad-1");
    assert_eq!(
        query(&m, "v1.subplatform"),
        "metadata (http://169.254.169.254/opc/v2/)"
    );
    let requests = server.requests();
    assert_eq!(
        requests.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
        ["/opc/v2/instance/", "/opc/v2/vnics/"]
    );
    for r in &requests {
        assert_eq!(r.header("Authorization"), Some("Bearer Oracle"), "{r:?}");
    }
    let network = rendered_network(&m);
    assert!(
        network.contains("10.0.1.5/24") && network.contains("9000"),
        "{network}"
    );
    // check_instance_id: the same system UUID keeps the cache, another
    // one searches again.
    m.reboot();
    m.run_ok(&["init", "--local"], 0);
    assert_eq!(server.requests().len(), 2);
    m.reboot();
    m.write(
        "/sys/class/dmi/id/product_uuid",
        "6C1D3A2B-0000-4000-8000-ABCDEF012345\n",
    );
    m.run_ok(&["init", "--local"], 0);
    assert_eq!(server.requests().len(), 4);
}

#[test]
fn oracle_falls_back_to_v1_without_the_header() {
    if !in_private_namespace() {
        return;
    }
    let server = oracle_server(false);
    let m = oracle_machine();
    m.boot();
    assert_booted(
        &m,
        ORACLE_IID,
        "oracle-host",
        ORACLE_KEY,
        "oracle",
        "oracle",
    );
    assert_eq!(
        query(&m, "v1.subplatform"),
        "metadata (http://169.254.169.254/opc/v1/)"
    );
    let requests = server.requests();
    assert_eq!(requests[0].path, "/opc/v2/instance/");
    let v1: Vec<&Request> = requests
        .iter()
        .filter(|r| r.path.starts_with("/opc/v1/"))
        .collect();
    assert_eq!(v1.len(), 2, "{requests:?}");
    assert!(v1.iter().all(|r| r.header("Authorization").is_none()));
}

#[test]
fn oracle_is_not_tried_without_its_asset_tag() {
    if !in_private_namespace() {
        return;
    }
    let server = oracle_server(true);
    let m = machine_listing("Oracle");
    assert_not_tried(&m, &server);
}

/// Every network file the renderers may have written, concatenated.
fn rendered_network(m: &Machine) -> String {
    let mut out = String::new();
    for dir in [
        "/etc/network",
        "/etc/netplan",
        "/etc/systemd/network",
        "/etc/sysconfig/network-scripts",
    ] {
        let mut stack = vec![m.path(dir)];
        while let Some(p) = stack.pop() {
            if p.is_dir() {
                stack.extend(std::fs::read_dir(&p).unwrap().flatten().map(|e| e.path()));
            } else if let Ok(text) = std::fs::read_to_string(&p) {
                out.push_str(&text);
            }
        }
    }
    out
}

/// Every file under the root that holds `secret`, with its mode.
fn files_holding(m: &Machine, secret: &str) -> Vec<(String, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut stack = vec![m.root().to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().flatten().map(|e| e.path()));
        } else if meta.is_file() {
            let bytes = std::fs::read(&p).unwrap_or_default();
            if String::from_utf8_lossy(&bytes).contains(secret) {
                let guest = p.strip_prefix(m.root()).unwrap().display().to_string();
                out.push((guest, meta.permissions().mode() & 0o777));
            }
        }
    }
    out
}

/// Boots, checking that no stage prints `secret`.
fn boot_keeping(m: &Machine, secret: &str) {
    for args in [
        &["init", "--local"][..],
        &["init"][..],
        &["modules", "--mode=config"][..],
        &["modules", "--mode=final"][..],
    ] {
        let out = m.run(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !text.contains(secret),
            "{args:?} printed the password:\n{text}"
        );
        assert_eq!(out.status.code(), Some(0), "{args:?}:\n{text}");
    }
}

/// A CloudStack-style password server's handler: the password for
/// `send_my_password`, `saved_password` for the acknowledgement.
fn password_server(password: &'static str) -> Box<dyn Fn(&Request) -> Reply + Send + Sync> {
    Box::new(move |r: &Request| match r.header("DomU_Request") {
        Some("send_my_password") => Reply::ok(password),
        Some("saved_password") => Reply::ok("saved_password"),
        _ => Reply::ok("bad_request"),
    })
}

/// The password made it to set_passwords (ssh_pwauth true opened
/// PasswordAuthentication) and sits only in the owner-only cache.
fn assert_password_kept(m: &Machine, iid: &str, password: &str) {
    let sshd = m.read("/etc/ssh/sshd_config");
    assert!(sshd.contains("PasswordAuthentication yes"), "{sshd}");
    assert_eq!(
        files_holding(m, password),
        [(
            format!("var/lib/cloud/instances/{iid}/cloudboot-datasource.json"),
            0o600
        )]
    );
}

// Exoscale

const EXO_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExoscale exo@test";
const EXO_IID: &str = "a6e1b6f3-7d2c-4b8e-9f01-exoscale0001";
const EXO_PASSWORD: &str = "Exo-pw-0f9e8d7c";

fn exoscale_server() -> (MetadataServer, MetadataServer) {
    let mut table = owned(&[
        ("/1.0/meta-data/instance-id", EXO_IID),
        (
            "/1.0/meta-data/",
            "instance-id\nlocal-hostname\navailability-zone\npublic-keys\n",
        ),
        ("/1.0/meta-data/local-hostname", "exo-host"),
        ("/1.0/meta-data/availability-zone", "ch-gva-2"),
        ("/1.0/meta-data/public-keys", EXO_KEY),
    ]);
    table.push(("/1.0/user-data".into(), user_data("exoscale").into_bytes()));
    let metadata = MetadataServer::on("169.254.169.254:80", routes(table, |_| None));
    // The same address, in the namespace `on` made.
    let passwords = MetadataServer::serve(
        std::net::TcpListener::bind("169.254.169.254:8080").unwrap(),
        password_server(EXO_PASSWORD),
    );
    (metadata, passwords)
}

#[test]
fn exoscale_on_its_real_address_with_its_password_server() {
    if !in_private_namespace() {
        return;
    }
    let (metadata, passwords) = exoscale_server();
    let m = Machine::new();
    m.write(
        "/sys/class/dmi/id/product_name",
        "Exoscale Compute Platform\n",
    );
    m.write("/etc/ssh/sshd_config", "PasswordAuthentication no\n");
    boot_keeping(&m, EXO_PASSWORD);
    assert_booted(&m, EXO_IID, "exo-host", EXO_KEY, "exoscale", "exoscale");
    assert_eq!(query(&m, "v1.availability_zone"), "ch-gva-2");
    assert_eq!(query(&m, "v1.subplatform"), "unknown");
    assert_password_kept(&m, EXO_IID, EXO_PASSWORD);
    for args in [&[][..], &["--format", "json"][..]] {
        assert!(!m.plan(args).contains(EXO_PASSWORD));
    }
    assert!(metadata.paths().iter().all(|p| p.starts_with("/1.0/")));
    let asked: Vec<(String, Option<String>)> = passwords
        .requests()
        .iter()
        .map(|r| (r.path.clone(), r.header("DomU_Request").map(str::to_string)))
        .collect();
    assert_eq!(
        asked,
        [
            ("/1.0/".to_string(), Some("send_my_password".to_string())),
            ("/1.0/".to_string(), Some("saved_password".to_string())),
        ]
    );
    // With a default user, set_passwords gives it the password through
    // chpasswd, its stdin redacted in the plan.
    let fresh = Machine::new();
    fresh.write(
        "/sys/class/dmi/id/product_name",
        "Exoscale Compute Platform\n",
    );
    fresh.write(
        "/etc/cloud/cloud.cfg.d/50-user.cfg",
        "users: [default]\nsystem_info: {default_user: {name: exo}}\n",
    );
    let plan = fresh.plan(&[]);
    assert!(plan.contains("run chpasswd < <redacted>"), "{plan}");
    assert!(!plan.contains(EXO_PASSWORD));
    // A plan changes nothing: it asked, and did not acknowledge, so the
    // server still has the password for the real boot.
    let acks = |server: &MetadataServer| {
        server
            .requests()
            .iter()
            .filter(|r| r.header("DomU_Request") == Some("saved_password"))
            .count()
    };
    assert_eq!(acks(&passwords), 1);
    assert!(passwords.requests().len() > 2, "the plan asked");
}

#[test]
fn exoscale_is_not_tried_without_its_product_name() {
    if !in_private_namespace() {
        return;
    }
    let (metadata, passwords) = exoscale_server();
    let m = machine_listing("Exoscale");
    assert_not_tried(&m, &metadata);
    assert!(passwords.requests().is_empty());
}

// CloudStack

const CS_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICloudStack cs@test";
const CS_IID: &str = "8f3a7c2e-cloudstack-vm-0001";
const CS_PASSWORD: &str = "Cs-pw-5a4b3c2d";

/// The virtual router at 10.1.1.1: metadata on port 80, passwords on 8080
/// answering `send_my_password` with `answer`.
fn cloudstack_router(answer: &'static str) -> (MetadataServer, MetadataServer) {
    let mut table = owned(&[
        ("/latest/meta-data/instance-id", CS_IID),
        (
            "/latest/meta-data/",
            "instance-id\nlocal-hostname\navailability-zone\npublic-keys\n",
        ),
        ("/latest/meta-data/local-hostname", "cs-host"),
        ("/latest/meta-data/availability-zone", "zone-1"),
        ("/latest/meta-data/public-keys", CS_KEY),
    ]);
    table.push((
        "/latest/user-data".into(),
        user_data("cloudstack").into_bytes(),
    ));
    let metadata = MetadataServer::on("10.1.1.1:80", routes(table, |_| None));
    let passwords = MetadataServer::serve(
        std::net::TcpListener::bind("10.1.1.1:8080").unwrap(),
        password_server(answer),
    );
    (metadata, passwords)
}

fn cloudstack_machine() -> Machine {
    let m = Machine::new();
    m.write(
        "/sys/class/dmi/id/product_name",
        "CloudStack KVM Hypervisor\n",
    );
    m.write("/etc/ssh/sshd_config", "PasswordAuthentication no\n");
    m
}

/// The `DomU_Request` headers the password server saw, in order.
fn domu_requests(server: &MetadataServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|r| {
            assert_eq!(r.path, "/");
            r.header("DomU_Request").unwrap_or_default().to_string()
        })
        .collect()
}

#[test]
fn cloudstack_router_from_the_dhclient_lease_with_a_password() {
    if !in_private_namespace() {
        return;
    }
    let (metadata, passwords) = cloudstack_router(CS_PASSWORD);
    let m = cloudstack_machine();
    m.write(
        "/var/lib/dhcp/dhclient.eth0.leases",
        "lease {\n  interface \"eth0\";\n  fixed-address 10.1.1.20;\n  option dhcp-server-identifier 10.1.1.1;\n}\n",
    );
    boot_keeping(&m, CS_PASSWORD);
    assert_booted(&m, CS_IID, "cs-host", CS_KEY, "cloudstack", "cloudstack");
    assert_eq!(query(&m, "v1.availability_zone"), "zone-1");
    assert_eq!(query(&m, "v1.subplatform"), "metadata (http://10.1.1.1/)");
    assert_password_kept(&m, CS_IID, CS_PASSWORD);
    assert!(metadata.paths().iter().all(|p| p.starts_with("/latest/")));
    assert_eq!(
        domu_requests(&passwords),
        ["send_my_password", "saved_password"]
    );
}

#[test]
fn cloudstack_router_from_a_networkd_lease_refusing_the_password() {
    if !in_private_namespace() {
        return;
    }
    let (_metadata, passwords) = cloudstack_router("bad_request");
    let m = cloudstack_machine();
    m.write(
        "/run/systemd/netif/leases/2",
        "# This is private data. Do not parse.\nADDRESS=10.1.1.20\nSERVER_ADDRESS=10.1.1.1\n",
    );
    m.boot();
    assert_booted(&m, CS_IID, "cs-host", CS_KEY, "cloudstack", "cloudstack");
    // A refusal is not acknowledged, and sets no password.
    assert_eq!(domu_requests(&passwords), ["send_my_password"]);
    assert_eq!(
        m.read("/etc/ssh/sshd_config"),
        "PasswordAuthentication no\n"
    );
}

#[test]
fn cloudstack_router_from_the_default_gateway_with_the_password_saved() {
    if !in_private_namespace() {
        return;
    }
    let (_metadata, passwords) = cloudstack_router("saved_password\n");
    let m = cloudstack_machine();
    m.write(
        "/proc/net/route",
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
         eth0\t00000000\t0101010A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n",
    );
    m.boot();
    assert_booted(&m, CS_IID, "cs-host", CS_KEY, "cloudstack", "cloudstack");
    assert_eq!(domu_requests(&passwords), ["send_my_password"]);
}

#[test]
fn cloudstack_is_not_tried_without_its_product_name() {
    if !in_private_namespace() {
        return;
    }
    let (metadata, passwords) = cloudstack_router(CS_PASSWORD);
    let m = machine_listing("CloudStack");
    m.write(
        "/var/lib/dhcp/dhclient.eth0.leases",
        "lease {\n  option dhcp-server-identifier 10.1.1.1;\n}\n",
    );
    assert_not_tried(&m, &metadata);
    assert!(passwords.requests().is_empty());
}

// DigitalOcean

const DO_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDigitalOcean do@test";

/// The droplet's metadata/v1.json: the fixture's document with user-data.
fn digitalocean_server() -> MetadataServer {
    let mut md: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/datasources/digitalocean/metadata.json"
        ))
        .unwrap(),
    )
    .unwrap();
    md["user_data"] = serde_json::Value::from(user_data("digitalocean"));
    MetadataServer::on(
        "169.254.169.254:80",
        routes(
            vec![("/metadata/v1.json".into(), md.to_string().into_bytes())],
            |_| None,
        ),
    )
}

#[test]
fn digitalocean_on_its_real_address() {
    if !in_private_namespace() {
        return;
    }
    let server = digitalocean_server();
    let m = Machine::new();
    m.write("/sys/class/dmi/id/sys_vendor", "DigitalOcean\n");
    m.write("/sys/class/dmi/id/product_serial", "2756294\n");
    m.write("/sys/class/net/ens3/address", "04:01:58:27:7f:01\n");
    m.write("/sys/class/net/ens4/address", "04:01:58:27:7f:02\n");
    m.boot();
    assert_booted(
        &m,
        "2756294",
        "do-host",
        DO_KEY,
        "digitalocean",
        "digitalocean",
    );
    // The vendor-data arrived (its write_files yields to user-data's, as
    // cloud-config merging has it).
    assert!(m
        .read("/var/lib/cloud/instances/2756294/vendor-data.txt")
        .contains("/etc/from-do-vendor"));
    assert_eq!(
        m.read("/var/lib/cloud/instances/2756294/datasource"),
        "DataSourceDigitalOcean: DataSourceDigitalOcean\n"
    );
    assert_eq!(query(&m, "v1.availability_zone"), "nyc3");
    assert_eq!(
        query(&m, "v1.subplatform"),
        "metadata (http://169.254.169.254/metadata/v1.json)"
    );
    let network = rendered_network(&m);
    for want in ["45.55.50.93", "2604:a880:800:10::1e5:6001", "10.132.75.35"] {
        assert!(network.contains(want), "{want} in {network}");
    }
    assert_eq!(server.paths(), ["/metadata/v1.json"]);
    // check_instance_id: the serial number is the droplet id; the next
    // boot's local stage trusts the cache without asking again.
    m.reboot();
    m.run_ok(&["init", "--local"], 0);
    assert_eq!(server.paths().len(), 1);
}

#[test]
fn digitalocean_is_not_tried_without_its_vendor() {
    if !in_private_namespace() {
        return;
    }
    let server = digitalocean_server();
    let m = machine_listing("DigitalOcean");
    m.write("/sys/class/dmi/id/product_serial", "2756294\n");
    assert_not_tried(&m, &server);
}

// Bad input: one problem naming the URL (and the key), and the search
// goes on (here to None).

#[test]
fn digitalocean_malformed_json_is_one_problem_naming_the_url() {
    if !in_private_namespace() {
        return;
    }
    let _server = MetadataServer::on(
        "169.254.169.254:80",
        routes(
            owned(&[("/metadata/v1.json", "{\"droplet_id\": 1,")]),
            |_| None,
        ),
    );
    let m = Machine::new();
    m.write("/sys/class/dmi/id/sys_vendor", "DigitalOcean\n");
    m.write("/sys/class/dmi/id/product_serial", "2756294\n");
    m.boot_expecting(&[1, 0, 0, 0]);
    let errors = m.stage_errors("init-local");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("http://169.254.169.254/metadata/v1.json"),
        "{errors:?}"
    );
    assert_eq!(
        m.read("/var/lib/cloud/data/instance-id"),
        "iid-datasource-none\n"
    );
}

#[test]
fn oracle_without_an_instance_id_is_one_problem_naming_the_key() {
    if !in_private_namespace() {
        return;
    }
    let instance =
        serde_json::json!({"ociAdName": "phx-ad-1", "hostname": "h", "displayName": "d"});
    let _server = MetadataServer::on(
        "169.254.169.254:80",
        routes(
            vec![(
                "/opc/v2/instance/".into(),
                instance.to_string().into_bytes(),
            )],
            |_| None,
        ),
    );
    let m = oracle_machine();
    m.boot_expecting(&[1, 0, 0, 0]);
    let errors = m.stage_errors("init-local");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("http://169.254.169.254/opc/v2/instance/")
            && errors[0].contains("\"id\""),
        "{errors:?}"
    );
    assert_eq!(
        m.read("/var/lib/cloud/data/instance-id"),
        "iid-datasource-none\n"
    );
}

#[test]
fn gce_attributes_that_are_not_json_are_one_problem_naming_the_url() {
    if !in_private_namespace() {
        return;
    }
    let table = owned(&[
        ("/computeMetadata/v1/instance/id", "1"),
        ("/computeMetadata/v1/instance/zone", "projects/1/zones/z-a"),
        ("/computeMetadata/v1/instance/hostname", "h"),
        (
            "/computeMetadata/v1/instance/attributes/?recursive=True",
            "{oops",
        ),
    ]);
    let _server = MetadataServer::on(
        "169.254.169.254:80",
        Box::new(move |r: &Request| {
            routes(table.clone(), |_| None)(r).with_header("Metadata-Flavor", "Google")
        }),
    );
    let m = gce_machine();
    m.boot_expecting(&[1, 1, 0, 0]);
    let errors = m.stage_errors("init");
    assert!(
        errors.iter().any(|e| e.contains(
            "http://169.254.169.254/computeMetadata/v1/instance/attributes/?recursive=True"
        )),
        "{errors:?}"
    );
}
