//! OpenStack config drives, from a seed directory (devices: see the image tests).

mod common;

use common::*;

const UUID: &str = "83679162-1378-4288-a2d4-70e13ec132aa";

fn meta_data(extra: &str) -> String {
    format!(
        r#"{{"uuid": "{UUID}", "hostname": "web-1.novalocal", "name": "web-1",
  "availability_zone": "nova",
  "public_keys": {{"mykey": "ssh-ed25519 AAAAC3Nz mykey"}},
  "files": [{{"path": "/etc/injected.conf", "content_path": "/content/0001"}}],
  "network_config": {{"content_path": "/content/0000"}}{extra}}}"#
    )
}

const ENI: &str =
    "auto eth0\niface eth0 inet static\n    address 10.0.0.5\n    netmask 255.255.255.0\n";

fn drive(m: &Machine, versions: &[&str]) {
    let base = "/var/lib/cloud/seed/config_drive/openstack";
    for v in versions {
        m.write(
            &format!("{base}/{v}/meta_data.json"),
            &meta_data(&format!(r#", "meta": {{"from": "{v}"}}"#)),
        );
        m.write(
            &format!("{base}/{v}/user_data"),
            &format!("#cloud-config\nwrite_files: [{{path: /etc/version-read, content: '{v}'}}]\n"),
        );
    }
    m.write(&format!("{base}/content/0000"), ENI);
    m.write(&format!("{base}/content/0001"), "injected=1\n");
}

#[test]
fn a_config_drive_seed_directory_boots_the_instance() {
    let m = Machine::new();
    drive(&m, &["2012-08-10", "latest"]);
    let base = "/var/lib/cloud/seed/config_drive/openstack/2012-08-10";
    m.write(
        &format!("{base}/vendor_data.json"),
        r##"{"cloud-init": "#cloud-config\nruncmd: [from-vendor]\n"}"##,
    );
    m.write(
        &format!("{base}/network_data.json"),
        r#"{"links": [{"id": "tap1", "type": "phy", "ethernet_mac_address": "fa:16:3e:00:00:01"}], "networks": [], "services": []}"#,
    );
    m.boot();
    assert_eq!(
        m.read("/var/lib/cloud/data/instance-id"),
        format!("{UUID}\n")
    );
    assert_eq!(
        m.read(&format!("/var/lib/cloud/instances/{UUID}/datasource")),
        "DataSourceConfigDrive: DataSourceConfigDrive [net,ver=2][source=/var/lib/cloud/seed/config_drive]\n"
    );
    // 0.7.5 reads 2012-08-10 first; so do we when it is the newest known version.
    assert_eq!(m.read("/etc/version-read"), "2012-08-10");
    // Injected files, 0660, on the first boot of the instance.
    assert_eq!(m.read("/etc/injected.conf"), "injected=1\n");
    assert_eq!(m.mode("/etc/injected.conf"), 0o660);
    // Vendor data's cloud-init entry applied.
    assert!(m
        .read(&format!("/var/lib/cloud/instances/{UUID}/scripts/runcmd"))
        .contains("from-vendor"));
    // Instance data: hostname, keys, zone, platform.
    assert_eq!(
        m.run_ok(&["query", "v1.local_hostname"], 0),
        "web-1.novalocal\n"
    );
    assert_eq!(m.run_ok(&["query", "v1.availability_zone"], 0), "nova\n");
    assert_eq!(m.run_ok(&["query", "v1.platform"], 0), "openstack\n");
    assert_eq!(
        m.run_ok(&["query", "v1.subplatform"], 0),
        "seed-dir (/var/lib/cloud/seed/config_drive)\n"
    );
    assert!(m
        .run_ok(&["query", "v1.public_ssh_keys"], 0)
        .contains("ssh-ed25519 AAAAC3Nz mykey"));
    // network_data.json and the ENI template are both kept for the network module.
    let cache = m.read(&format!(
        "/var/lib/cloud/instances/{UUID}/cloudboot-datasource.json"
    ));
    assert!(cache.contains("fa:16:3e:00:00:01") && cache.contains("iface eth0 inet static"));

    // Injected files are not rewritten on a later boot of the same instance.
    m.write("/etc/injected.conf", "edited\n");
    m.reboot();
    m.boot();
    assert_eq!(m.read("/etc/injected.conf"), "edited\n");
}

#[test]
fn the_newest_known_version_is_read() {
    let m = Machine::new();
    drive(
        &m,
        &[
            "2012-08-10",
            "2016-06-30",
            "2018-08-27",
            "2099-01-01",
            "latest",
        ],
    );
    m.boot();
    assert_eq!(m.read("/etc/version-read"), "2018-08-27");
    let only_latest = Machine::new();
    drive(&only_latest, &["latest", "2099-01-01"]);
    only_latest.boot();
    assert_eq!(only_latest.read("/etc/version-read"), "latest");
}

#[test]
fn a_drive_without_uuid_is_reported_and_the_search_goes_on() {
    let m = Machine::seeded(
        META,
        "#cloud-config\nwrite_files: [{path: /etc/from-nocloud, content: x}]\n",
    );
    m.write(
        "/var/lib/cloud/seed/config_drive/openstack/latest/meta_data.json",
        r#"{"hostname": "no-uuid"}"#,
    );
    m.write(
        "/etc/cloud/cloud.cfg",
        "datasource_list: [ConfigDrive, NoCloud, None]\n",
    );
    m.run_ok(&["init", "--local"], 1);
    m.run_ok(&["init"], 0);
    assert_eq!(m.read("/etc/from-nocloud"), "x");
    let status: serde_json::Value =
        serde_json::from_str(&m.read("/var/lib/cloud/data/status.json")).unwrap();
    assert_eq!(
        status["v1"]["init-local"]["errors"][0],
        "Broken config drive /var/lib/cloud/seed/config_drive: No 'uuid' entry in metadata"
    );
}

#[test]
fn dsmode_local_from_meta_runs_everything_in_the_local_stage() {
    let m = Machine::new();
    drive(&m, &["latest"]);
    m.write(
        "/var/lib/cloud/seed/config_drive/openstack/latest/meta_data.json",
        &meta_data(r#", "meta": {"dsmode": "local"}"#),
    );
    m.run_ok(&["init", "--local"], 0);
    assert_eq!(m.read("/etc/version-read"), "latest");
    assert_eq!(
        m.read(&format!("/var/lib/cloud/instances/{UUID}/datasource")),
        "DataSourceConfigDrive: DataSourceConfigDrive [local,ver=2][source=/var/lib/cloud/seed/config_drive]\n"
    );
}

#[test]
fn a_version_1_drive() {
    let m = Machine::new();
    let base = "/var/lib/cloud/seed/config_drive";
    m.write(&format!("{base}/meta.js"), r##"{"instance-id": "i-v1", "user-data": "#cloud-config\nwrite_files: [{path: /etc/v1, content: one}]\n"}"##);
    m.write(
        &format!("{base}/root/.ssh/authorized_keys"),
        "# comment\nssh-rsa AAAA v1key\n",
    );
    m.write(&format!("{base}/etc/network/interfaces"), ENI);
    m.boot();
    assert_eq!(m.read("/var/lib/cloud/data/instance-id"), "i-v1\n");
    assert_eq!(m.read("/etc/v1"), "one");
    // v1's default dsmode "pass" is not valid in cloud-init 22.4: it means net.
    assert!(m
        .read("/var/lib/cloud/instances/i-v1/datasource")
        .contains("[net,ver=1]"));
    assert!(m
        .run_ok(&["query", "v1.public_ssh_keys"], 0)
        .contains("ssh-rsa AAAA v1key"));
}

#[test]
fn instance_data_has_cloud_init_v1_keys_and_redactions() {
    let m = Machine::new();
    drive(&m, &["latest"]);
    m.write(
        "/var/lib/cloud/seed/config_drive/openstack/latest/meta_data.json",
        &meta_data(r#", "random_seed": "c2VlZA==""#),
    );
    m.write(
        "/etc/os-release",
        "ID=centos\nVERSION_ID=\"7\"\nVERSION=\"7 (Core)\"\n",
    );
    m.write(
        "/etc/cloud/cloud.cfg",
        "datasource_list: [ConfigDrive, None]\nsecret_thing: 1\n",
    );
    m.run_ok(&["init", "--local"], 0);
    let public: serde_json::Value =
        serde_json::from_str(&m.read("/run/cloud-init/instance-data.json")).unwrap();
    let sensitive: serde_json::Value =
        serde_json::from_str(&m.read("/run/cloud-init/instance-data-sensitive.json")).unwrap();
    let v1 = &public["v1"];
    for key in [
        "_beta_keys",
        "availability-zone",
        "availability_zone",
        "cloud_id",
        "cloud-name",
        "cloud_name",
        "distro",
        "distro_version",
        "distro_release",
        "platform",
        "public_ssh_keys",
        "python_version",
        "instance-id",
        "instance_id",
        "kernel_release",
        "local-hostname",
        "local_hostname",
        "machine",
        "region",
        "subplatform",
        "system_platform",
        "variant",
    ] {
        assert!(v1.get(key).is_some(), "v1.{key} missing");
    }
    assert_eq!(v1["cloud_name"], "configdrive");
    assert_eq!(v1["cloud_id"], "configdrive");
    assert_eq!(v1["platform"], "openstack");
    assert_eq!(v1["distro"], "centos");
    assert_eq!(v1["distro_version"], "7");
    assert_eq!(v1["distro_release"], "Core");
    assert_eq!(v1["variant"], "centos");
    // Bytes as base64, listed; the system config only in the 0600 copy.
    assert_eq!(sensitive["ds"]["meta_data"]["random_seed"], "c2VlZA==");
    assert_eq!(
        sensitive["base64_encoded_keys"],
        serde_json::json!(["ds/meta_data/random_seed"])
    );
    assert_eq!(public["merged_cfg"], "redacted for non-root user");
    assert_eq!(sensitive["merged_cfg"]["secret_thing"], 1);
    assert_eq!(public["sensitive_keys"], serde_json::json!(["merged_cfg"]));
    assert_eq!(
        m.read("/run/cloud-init/cloud-id-configdrive"),
        "configdrive\n"
    );
    assert_eq!(
        std::fs::read_link(m.path("/run/cloud-init/cloud-id")).unwrap(),
        std::path::Path::new("/run/cloud-init/cloud-id-configdrive")
    );
}
