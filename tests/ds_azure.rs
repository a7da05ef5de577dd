//! Azure end to end: the provisioning CD (an ISO9660 image the test builds,
//! as `/dev/sr0` under the root) or the seed directory with ovf-env.xml,
//! IMDS on 169.254.169.254:80 and the wireserver on 168.63.129.16:80, both
//! on `lo` of the test's own network namespace; what cloudboot sends them
//! (IMDS's `Metadata` header, the goal-state request's headers, the health
//! report's body) checked from the servers' logs against what 22.4 sends
//! (`tests/fixtures/datasources/azure/expected.json`, made by 22.4's own
//! functions; see the README there).

mod common;

use common::images::*;
use common::metadata_server::{Handler, MetadataServer, Reply, Request};
use common::*;

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/datasources/azure"
);
const AZURE_CHASSIS: &str = "7783-7084-3265-9085-8269-3286-77";
/// The DMI system uuid as an old kernel shows it (upper case).
const UUID: &str = "544CDFE0-A3D8-4B7F-9A5E-3E7D3A5B2F11";
const IID: &str = "544cdfe0-a3d8-4b7f-9a5e-3e7d3a5b2f11";
const IMDS_PATH: &str = "/metadata/instance?api-version=2021-08-01&extended=true";
const IMDS_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIImdsKeyForAzureTest azureuser@imds";
const PASSWORD: &str = "Pa&ss w0rd!";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).unwrap()
}

fn expected() -> serde_json::Value {
    serde_json::from_slice(&fixture("expected.json")).unwrap()
}

/// IMDS: the instance document for a request with `Metadata: true`
/// (IMDS refuses others with 400).
fn imds() -> Handler {
    Box::new(|r: &Request| {
        if r.header("Metadata") != Some("true") {
            return Reply::status(400, "missing Metadata header");
        }
        match r.path.as_str() {
            IMDS_PATH => Reply::ok(fixture("imds-instance.json")),
            _ => Reply::not_found(),
        }
    })
}

/// The wireserver: the goal state, and a health report accepted.
fn wireserver() -> Handler {
    Box::new(|r: &Request| match (r.method.as_str(), r.path.as_str()) {
        ("GET", "/machine/?comp=goalstate") => Reply::ok(fixture("goalstate.xml")),
        ("POST", "/machine?comp=health") => Reply::ok(""),
        _ => Reply::not_found(),
    })
}

/// A VM on Azure: the chassis asset tag and the system uuid; an admin user
/// the image already has (no useradd in a scratch root).
fn azure_machine() -> Machine {
    let m = Machine::new();
    m.write(
        "/sys/class/dmi/id/chassis_asset_tag",
        &format!("{AZURE_CHASSIS}\n"),
    );
    m.write("/sys/class/dmi/id/product_uuid", &format!("{UUID}\n"));
    m.write(
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\nazureuser:x:1000:1000::/home/azureuser:/bin/sh\n",
    );
    m.write("/etc/group", "root:x:0:\nazureuser:x:1000:\n");
    // As an image's cloud.cfg: the default user (Azure's admin) is made.
    m.write("/etc/cloud/cloud.cfg", "users: [default]\n");
    m
}

/// The provisioning CD: ovf-env.xml on an ISO9660 image labelled as
/// Azure labels it, in the root as `/dev/sr0`.
fn provisioning_cd(m: &Machine, ovf: &[u8]) {
    let img = iso_image(
        m.dir.path(),
        "rd_rdfe_stable.161212-1209",
        &[("ovf-env.xml", ovf)],
    );
    m.attach(&img, "sr0");
}

/// Runs the four stages; the local stage finds Azure. The users module
/// cannot set the password in a scratch root (no chpasswd there), which is
/// the only error a stage may have.
fn boot(m: &Machine) {
    let stages: [(&[&str], &str); 4] = [
        (&["init", "--local"], "init-local"),
        (&["init"], "init"),
        (&["modules", "--mode=config"], "modules-config"),
        (&["modules", "--mode=final"], "modules-final"),
    ];
    for (args, mode) in stages {
        let out = m.run(args);
        if out.status.code() != Some(0) {
            let errors = m.stage_errors(mode);
            assert!(
                errors.iter().all(|e| e.contains("chpasswd")),
                "{args:?}: {errors:?}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

fn root_needed() -> bool {
    skip::require(&[
        skip::Need::Root("169.254.169.254 and 168.63.129.16 in a private network namespace"),
        skip::Need::Program("genisoimage", "genisoimage"),
    ])
}

#[test]
fn provisioning_from_the_cd_completes_with_report_ready() {
    if !root_needed() {
        return;
    }
    let imds = MetadataServer::on("169.254.169.254:80", imds());
    let wire = MetadataServer::also_on("168.63.129.16:80", wireserver());
    let m = azure_machine();
    provisioning_cd(&m, &fixture("ovf-full.xml"));
    boot(&m);

    assert_eq!(
        m.read("/var/lib/cloud/data/instance-id"),
        format!("{IID}\n")
    );
    assert_eq!(
        m.read(&format!("/var/lib/cloud/instances/{IID}/datasource")),
        "DataSourceAzure: DataSourceAzure [seed=/dev/sr0]\n"
    );
    assert_eq!(m.read("/etc/hostname"), "azvm-host\n");

    // IMDS's keys go to the admin user ovf-env.xml names (the datasource's
    // config), and root's say to log in as that user.
    assert!(m
        .read("/home/azureuser/.ssh/authorized_keys")
        .contains(IMDS_KEY));
    assert!(m
        .read("/root/.ssh/authorized_keys")
        .contains(r#"Please login as the user \"azureuser\" rather than the user \"root\""#));
    // CustomData is the user-data.
    assert_eq!(m.read("/etc/from-azure"), "customdata");
    m.assert_cloud_id("azure");
    assert_eq!(m.run_ok(&["query", "v1.cloud_name"], 0), "azure\n");
    assert_eq!(m.run_ok(&["query", "v1.region"], 0), "westeurope\n");
    assert_eq!(m.run_ok(&["query", "v1.availability_zone"], 0), "0\n");
    assert_eq!(
        m.run_ok(&["query", "v1.subplatform"], 0),
        "config-disk (/dev/sr0)\n"
    );
    // The network config is IMDS's, as 22.4 generates it.
    let cache: serde_json::Value = serde_json::from_str(&m.read(&format!(
        "/var/lib/cloud/instances/{IID}/cloudboot-datasource.json"
    )))
    .unwrap();
    assert_eq!(
        cache["network_config"],
        expected()["network"]["imds-instance.json/None"]
    );
    // ssh password logins allowed (DisableSshPasswordAuthentication false)
    // and the password hashed into the config, never in the clear.
    assert_eq!(cache["config"]["ssh_pwauth"], true);
    let hashed = cache["config"]["system_info"]["default_user"]["hashed_passwd"]
        .as_str()
        .unwrap();
    assert!(hashed.starts_with("$6$") && hashed.len() == 106, "{hashed}");
    // The password is nowhere in the root but on the provisioning media.
    for rel in m.snapshot().keys() {
        if rel.starts_with("dev") || rel.starts_with("cd-src") || rel.starts_with("cd.iso") {
            continue;
        }
        let bytes = std::fs::read(m.root().join(rel)).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(PASSWORD),
            "{} holds the password",
            rel.display()
        );
    }

    // IMDS was asked once, with its header.
    let asked = imds.requests();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].path, IMDS_PATH);
    assert_eq!(asked[0].header("Metadata"), Some("true"));
    // The wireserver: the goal state with 22.4's headers, then the Ready
    // report exactly as GoalStateHealthReporter builds it.
    let fabric = wire.requests();
    assert_eq!(fabric.len(), 2, "{fabric:?}");
    let (get, post) = (&fabric[0], &fabric[1]);
    assert_eq!(
        (get.method.as_str(), get.path.as_str()),
        ("GET", "/machine/?comp=goalstate")
    );
    assert_eq!(get.header("x-ms-agent-name"), Some("WALinuxAgent"));
    assert_eq!(get.header("x-ms-version"), Some("2012-11-30"));
    assert_eq!(
        (post.method.as_str(), post.path.as_str()),
        ("POST", "/machine?comp=health")
    );
    assert_eq!(post.header("x-ms-agent-name"), Some("WALinuxAgent"));
    assert_eq!(post.header("x-ms-version"), Some("2012-11-30"));
    assert_eq!(post.header("Content-Type"), Some("text/xml; charset=utf-8"));
    assert_eq!(
        String::from_utf8(post.body.clone()).unwrap(),
        expected()["health_ready"].as_str().unwrap()
    );

    // What 22.4 leaves on disk: the agent's copy, password redacted.
    let copy = m.read("/var/lib/waagent/ovf-env.xml");
    assert!(
        copy.contains("<UserPassword>REDACTED</UserPassword>"),
        "{copy}"
    );
    assert!(!copy.contains(PASSWORD));
    assert_eq!(m.mode("/var/lib/waagent"), 0o700);
    assert_eq!(m.mode("/var/lib/waagent/ovf-env.xml"), 0o600);
    assert!(!m.exists("/var/lib/cloud/data/reported_ready"));

    // The next boot keeps the instance (the cached one still matches the
    // system uuid) and tells the fabric nothing more.
    m.reboot();
    boot(&m);
    assert_eq!(
        m.read("/var/lib/cloud/data/instance-id"),
        format!("{IID}\n")
    );
    assert_eq!(wire.requests().len(), 2);
}

#[test]
fn a_seed_directory_and_the_wireserver_from_dhcp_option_245() {
    if !root_needed() {
        return;
    }
    let imds = MetadataServer::on("169.254.169.254:80", imds());
    // Option 245 names another wireserver address: only it may be asked.
    let wire = MetadataServer::also_on("168.63.129.99:80", wireserver());
    let m = azure_machine();
    m.write(
        "/var/lib/cloud/seed/azure/ovf-env.xml",
        &String::from_utf8(fixture("ovf-full.xml")).unwrap(),
    );
    m.write(
        "/var/lib/dhcp/dhclient.eth0.leases",
        "lease {\n  interface \"eth0\";\n  option unknown-245 a8:3f:81:10;\n}\n\
         lease {\n  interface \"eth0\";\n  option unknown-245 a8:3f:81:63;\n}\n",
    );
    // An earlier boot's byte-swapped record of the same uuid is kept.
    let swapped = "e0df4c54-d8a3-7f4b-9a5e-3e7d3a5b2f11";
    m.write("/var/lib/cloud/data/instance-id", &format!("{swapped}\n"));
    boot(&m);
    assert_eq!(
        m.read("/var/lib/cloud/data/instance-id"),
        format!("{swapped}\n")
    );
    assert_eq!(
        m.read(&format!("/var/lib/cloud/instances/{swapped}/datasource")),
        "DataSourceAzure: DataSourceAzure [seed=/var/lib/cloud/seed/azure]\n"
    );
    assert_eq!(m.read("/etc/from-azure"), "customdata");
    m.assert_cloud_id("azure");
    let fabric = wire.requests();
    assert_eq!(fabric.len(), 2, "{fabric:?}");
    assert_eq!(
        String::from_utf8(fabric[1].body.clone()).unwrap(),
        expected()["health_ready"].as_str().unwrap()
    );
    assert_eq!(imds.requests().len(), 1);
}

#[test]
fn imds_refusing_the_api_version_is_asked_again_with_the_oldest() {
    if !root_needed() {
        return;
    }
    let imds = MetadataServer::on(
        "169.254.169.254:80",
        Box::new(|r: &Request| match r.path.as_str() {
            "/metadata/instance?api-version=2019-06-01" => Reply::ok(fixture("imds-instance.json")),
            _ => Reply::status(400, "unsupported api-version"),
        }),
    );
    let _wire = MetadataServer::also_on("168.63.129.16:80", wireserver());
    let m = azure_machine();
    provisioning_cd(&m, &fixture("ovf-full.xml"));
    boot(&m);
    assert_eq!(
        imds.paths(),
        [IMDS_PATH, "/metadata/instance?api-version=2019-06-01"]
    );
    assert!(m
        .read("/home/azureuser/.ssh/authorized_keys")
        .contains(IMDS_KEY));
}

#[test]
fn broken_ovf_env_xml_is_reported_to_the_fabric_and_the_search_goes_on() {
    if !root_needed() {
        return;
    }
    let _imds = MetadataServer::on("169.254.169.254:80", imds());
    let wire = MetadataServer::also_on("168.63.129.16:80", wireserver());
    let m = azure_machine();
    provisioning_cd(&m, &fixture("ovf-no-hostname.xml"));
    m.run(&["init", "--local"]);
    let errors = m.stage_errors("init-local");
    assert_eq!(
        errors,
        [
            "Azure: Could not crawl Azure metadata: BrokenAzureDataSource: /dev/sr0/ovf-env.xml: \
          No ovf-env.xml configuration for 'HostName'"
        ]
    );
    let fabric = wire.requests();
    assert_eq!(fabric.len(), 2, "{fabric:?}");
    assert_eq!(
        String::from_utf8(fabric[1].body.clone()).unwrap(),
        expected()["health_failure"].as_str().unwrap()
    );
    m.run(&["init"]);
    assert_eq!(
        m.read("/var/lib/cloud/data/instance-id"),
        "iid-datasource-none\n"
    );
}

#[test]
fn without_its_platform_azure_is_not_tried() {
    if !root_needed() {
        return;
    }
    let imds = MetadataServer::on("169.254.169.254:80", imds());
    let wire = MetadataServer::also_on("168.63.129.16:80", wireserver());
    // A Hyper-V guest that is not on Azure, with a provisioning-like CD but
    // no chassis tag: ds-identify finds it by label, 22.4's datasource
    // still refuses it (`is_platform_viable`); nothing is asked either way.
    let m = Machine::new();
    m.write("/sys/class/dmi/id/sys_vendor", "Microsoft Corporation\n");
    provisioning_cd(&m, &fixture("ovf-full.xml"));
    m.boot();
    assert_eq!(
        m.read("/var/lib/cloud/data/instance-id"),
        "iid-datasource-none\n"
    );
    // No DMI at all: not even that.
    let m = Machine::new();
    m.boot();
    assert_eq!(
        m.read("/var/lib/cloud/data/instance-id"),
        "iid-datasource-none\n"
    );
    assert!(imds.requests().is_empty(), "{:?}", imds.requests());
    assert!(wire.requests().is_empty(), "{:?}", wire.requests());
}

/// No provisioning media (no `/dev/sr0`): 22.4's mount failure, so IMDS
/// provides it all, user-data included, and the agent gets the minimal
/// ovf-env.xml 22.4 builds from IMDS.
#[test]
fn without_media_imds_alone_provisions() {
    if !root_needed() {
        return;
    }
    let user_data = "#cloud-config\nwrite_files: [{path: /etc/from-imds, content: userdata}]\n";
    let mut doc: serde_json::Value =
        serde_json::from_slice(&fixture("imds-instance.json")).unwrap();
    doc["compute"]["userData"] = cloudboot::base64::encode(user_data.as_bytes()).into();
    let body = serde_json::to_vec(&doc).unwrap();
    let imds = MetadataServer::on(
        "169.254.169.254:80",
        Box::new(move |r: &Request| match r.path.as_str() {
            IMDS_PATH => Reply::ok(body.clone()),
            _ => Reply::not_found(),
        }),
    );
    let wire = MetadataServer::also_on("168.63.129.16:80", wireserver());
    let m = azure_machine();
    boot(&m);
    assert_eq!(
        m.read("/var/lib/cloud/data/instance-id"),
        format!("{IID}\n")
    );
    assert_eq!(
        m.read(&format!("/var/lib/cloud/instances/{IID}/datasource")),
        "DataSourceAzure: DataSourceAzure [seed=IMDS]\n"
    );
    assert_eq!(m.run_ok(&["query", "v1.subplatform"], 0), "imds (IMDS)\n");
    assert_eq!(m.read("/etc/hostname"), "azvm-host\n");
    assert_eq!(m.read("/etc/from-imds"), "userdata");
    assert!(m
        .read("/home/azureuser/.ssh/authorized_keys")
        .contains(IMDS_KEY));
    m.assert_cloud_id("azure");
    assert_eq!(
        m.read("/var/lib/waagent/ovf-env.xml"),
        expected()["minimal_ovf"].as_str().unwrap()
    );
    assert_eq!(imds.requests().len(), 1);
    assert_eq!(wire.requests().len(), 2);
}

/// A plan reads what a boot would but tells the fabric nothing and leaves
/// no agent files.
#[test]
fn a_plan_does_not_report_ready() {
    if !root_needed() {
        return;
    }
    let imds = MetadataServer::on("169.254.169.254:80", imds());
    let wire = MetadataServer::also_on("168.63.129.16:80", wireserver());
    let m = azure_machine();
    provisioning_cd(&m, &fixture("ovf-full.xml"));
    let out = m.plan(&[]);
    assert!(out.contains("/etc/from-azure"), "{out}");
    assert!(!out.contains(PASSWORD), "the plan shows the password");
    assert_eq!(imds.requests().len(), 1);
    assert!(wire.requests().is_empty(), "{:?}", wire.requests());
    assert!(!m.exists("/var/lib/waagent"));
}

/// IMDS answering with a truncated document: 22.4 ignores it (a warning
/// naming the URL), provisions from ovf-env.xml and still reports ready.
#[test]
fn a_truncated_imds_answer_is_ignored_and_provisioning_completes() {
    if !root_needed() {
        return;
    }
    let _imds = MetadataServer::on(
        "169.254.169.254:80",
        Box::new(|_: &Request| Reply::ok(r#"{"compute": {"osProfile": "#)),
    );
    let wire = MetadataServer::also_on("168.63.129.16:80", wireserver());
    let m = azure_machine();
    provisioning_cd(&m, &fixture("ovf-full.xml"));
    boot(&m);
    assert_eq!(
        m.read("/var/lib/cloud/data/instance-id"),
        format!("{IID}\n")
    );
    assert_eq!(m.read("/etc/hostname"), "azvm-host\n");
    assert_eq!(m.read("/etc/from-azure"), "customdata");
    assert!(m.read("/var/log/cloud-init.log").contains(&format!(
        "Ignoring non-json IMDS instance metadata response from http://169.254.169.254{IMDS_PATH}: EOF while parsing"
    )));
    assert_eq!(wire.requests().len(), 2);
}
