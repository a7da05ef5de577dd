//! IBMCloud, RbxCloud, MAAS, Bigstep, CloudSigma and SmartOS, each booted
//! end to end against what the cloud gives: disks the test builds (vfat by
//! mkfs.vfat/mtools, ISO9660 by genisoimage) under the root, a metadata
//! service on its address in the test's own network namespace, a serial
//! port stand-in. Each also shows it is not tried without its platform.

mod common;

use std::path::PathBuf;

use common::images::*;
use common::*;

const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMisc misc@test";

/// `#cloud-config` user-data writing `/etc/<name>` (proof it was applied).
fn user_data(name: &str) -> String {
    format!("#cloud-config\nwrite_files: [{{path: /etc/{name}, content: applied}}]\n")
}

/// What every boot must end with: the instance-id, the hostname written,
/// the key in root's authorized_keys, the user-data applied and
/// `/run/cloud-init/cloud-id` naming the cloud.
fn assert_booted(
    m: &Machine,
    iid: &str,
    hostname: &str,
    key_file: &str,
    written: &str,
    cloud: &str,
) {
    let written = format!("/etc/{written}");
    m.assert_booted(iid, hostname, (key_file, KEY), &written, cloud);
    assert_eq!(m.read(&written), "applied");
}

/// Whether the search passed over `name` without trying it (its
/// `detect` said `NotFound`), from the debug log.
fn not_tried(m: &Machine, name: &str) -> bool {
    m.read("/var/log/cloud-init.log")
        .contains(&format!("{name}: not detected on this platform; not tried"))
}

fn mtools_env() {
    // mtools otherwise refuses images whose geometry looks odd to it.
    std::env::set_var("MTOOLS_SKIP_CHECK", "1");
}

// ---------------------------------------------------------------- IBMCloud

const IBM_UUID: &str = "5a1c9f47-0f83-4a5b-9c0e-0000000000ab";

fn ibm_files(iid: &str, written: &str) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "openstack/latest/meta_data.json",
            format!(
                r#"{{"uuid": "{iid}", "hostname": "ibm-host", "name": "ibm-host",
                    "public_keys": {{"1234": "{KEY}"}}, "availability_zone": "dal13",
                    "random_seed": "c2VlZA=="}}"#
            )
            .into_bytes(),
        ),
        ("openstack/latest/user_data", user_data(written).into_bytes()),
        (
            "openstack/latest/vendor_data.json",
            br##"{"cloud-init": "#cloud-config\nruncmd: [from-ibm-vendor]\n"}"##.to_vec(),
        ),
        (
            "openstack/latest/network_data.json",
            br#"{"links": [{"id": "l0", "type": "phy", "ethernet_mac_address": "06:00:00:00:00:01"}], "networks": [], "services": [{"type": "dns", "address": "10.0.80.11"}]}"#.to_vec(),
        ),
    ]
}

fn as_refs<'a>(files: &'a [(&'static str, Vec<u8>)]) -> Vec<(&'static str, &'a [u8])> {
    files.iter().map(|(p, c)| (*p, c.as_slice())).collect()
}

fn xen(m: &Machine) {
    std::fs::create_dir_all(m.path("/proc/xen")).unwrap();
    m.write("/sys/hypervisor/uuid", &format!("{IBM_UUID}\n"));
}

/// "OS code": a FAT `config-2` disk with IBM's volume serial 9796-932E.
#[test]
fn ibmcloud_os_code_config_2_disk() {
    mtools_env();
    let m = Machine::new();
    xen(&m);
    let files = ibm_files("ibm-os-code-1", "from-ibm");
    let img = vfat_image(m.dir.path(), "config-2", Some("9796932E"), &as_refs(&files));
    m.attach(&img, "xvdh");
    m.boot();
    assert_booted(
        &m,
        "ibm-os-code-1",
        "ibm-host",
        "/root/.ssh/authorized_keys",
        "from-ibm",
        "ibmcloud",
    );
    assert_eq!(
        m.read("/var/lib/cloud/instances/ibm-os-code-1/datasource"),
        "DataSourceIBMCloud: DataSourceIBMCloud [OS-Code/Live /dev/xvdh]\n"
    );
    assert_eq!(
        m.run_ok(&["query", "v1.subplatform"], 0),
        "OS-Code/Live (/dev/xvdh)\n"
    );
    assert_eq!(m.run_ok(&["query", "v1.platform"], 0), "ibmcloud\n");
    // metadata_from_dir keeps only the renamed keys.
    let ds_md = m.run_ok(&["query", "ds.meta_data"], 0);
    assert!(
        !ds_md.contains("dal13") && ds_md.contains("ibm-host"),
        "{ds_md}"
    );
    // Vendor-data's cloud-init entry, and network_data.json for the network.
    assert!(m
        .read("/var/lib/cloud/instances/ibm-os-code-1/scripts/runcmd")
        .contains("from-ibm-vendor"));
    assert!(m
        .read("/var/lib/cloud/instances/ibm-os-code-1/cloudboot-datasource.json")
        .contains("06:00:00:00:00:01"));
    // Found in the local stage: ConfigDrive did not claim the disk.
    assert!(!m
        .read("/var/log/cloud-init.log")
        .contains("found datasource DataSourceConfigDrive"));
}

/// "Template": an ISO labelled METADATA; IBM's agent did the network.
#[test]
fn ibmcloud_template_metadata_disk() {
    let m = Machine::new();
    xen(&m);
    let files = ibm_files("ibm-template-1", "from-ibm-template");
    let img = iso_image(m.dir.path(), "METADATA", &as_refs(&files));
    m.attach(&img, "xvdi");
    m.boot();
    assert_booted(
        &m,
        "ibm-template-1",
        "ibm-host",
        "/root/.ssh/authorized_keys",
        "from-ibm-template",
        "ibmcloud",
    );
    assert_eq!(
        m.run_ok(&["query", "v1.subplatform"], 0),
        "Template/Live/Metadata (/dev/xvdi)\n"
    );
    let cache = m.read("/var/lib/cloud/instances/ibm-template-1/cloudboot-datasource.json");
    assert!(
        cache.contains(r#""network_config":{"config":"disabled","version":1}"#),
        "{cache}"
    );
}

/// Not Xen, a config-2 disk without IBM's serial, or IBM's provisioning
/// boot: not IBMCloud (the disk is an OpenStack config drive, or nothing).
#[test]
fn ibmcloud_is_not_tried_without_its_platform() {
    mtools_env();
    // A METADATA disk, but not on Xen.
    let m = Machine::new();
    let files = ibm_files("ibm-nope", "nope");
    m.attach(
        &iso_image(m.dir.path(), "METADATA", &as_refs(&files)),
        "xvdi",
    );
    m.boot();
    assert!(not_tried(&m, "IBMCloud"));
    assert_eq!(
        m.read("/var/lib/cloud/data/instance-id"),
        "iid-datasource-none\n"
    );

    // Xen and config-2, but another serial: ConfigDrive's.
    let m = Machine::new();
    xen(&m);
    m.write(
        "/etc/cloud/cloud.cfg",
        "datasource_list: [IBMCloud, ConfigDrive, None]\n",
    );
    let img = vfat_image(m.dir.path(), "config-2", Some("12345678"), &as_refs(&files));
    m.attach(&img, "xvdh");
    m.boot();
    assert!(not_tried(&m, "IBMCloud"));
    assert!(m
        .read("/var/lib/cloud/instances/ibm-nope/datasource")
        .starts_with("DataSourceConfigDrive: "));

    // The provisioning boot: the config exists and the install log is new.
    let m = Machine::new();
    xen(&m);
    m.attach(
        &iso_image(m.dir.path(), "METADATA", &as_refs(&files)),
        "xvdi",
    );
    m.write("/proc/1/environ", "");
    m.write("/root/provisioningConfiguration.cfg", "x\n");
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(m.path("/proc/1/environ"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    m.write("/root/swinstall.log", "installing\n");
    m.boot();
    assert!(not_tried(&m, "IBMCloud"));
    assert_eq!(
        m.read("/var/lib/cloud/data/instance-id"),
        "iid-datasource-none\n"
    );
}

/// A meta_data.json that is not JSON: one problem naming the disk and the
/// file, and the search goes on.
#[test]
fn ibmcloud_broken_meta_data_is_reported() {
    let m = Machine::new();
    xen(&m);
    let files: Vec<(&str, &[u8])> = vec![("openstack/latest/meta_data.json", b"{\"uuid\": ")];
    m.attach(&iso_image(m.dir.path(), "METADATA", &files), "xvdi");
    m.run_ok(&["init", "--local"], 1);
    let errors = m.stage_errors("init-local");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with(
            "Failed reading IBM config disk (platform=Template/Live/Metadata path=/dev/xvdi): \
             Failed decoding openstack/latest/meta_data.json: EOF while parsing"
        ),
        "{errors:?}"
    );
}

// ---------------------------------------------------------------- RbxCloud

const RBX_FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/datasources/rbxcloud"
);

fn rbx_disk(m: &Machine, label: &str) -> PathBuf {
    mtools_env();
    let cloud_json = std::fs::read(format!("{RBX_FIXTURES}/cloud.json")).unwrap();
    let user = std::fs::read(format!("{RBX_FIXTURES}/user.data")).unwrap();
    vfat_image(
        m.dir.path(),
        label,
        None,
        &[("cloud.json", &cloud_json), ("user.data", &user)],
    )
}

/// The CLOUDMD disk of `tests/fixtures/datasources/rbxcloud`: the instance,
/// the network config and the default user (with its keys and password
/// hash) exactly as 22.4's `read_user_data_callback` gave them.
#[test]
fn rbxcloud_cloudmd_disk() {
    let m = Machine::new();
    m.write("/etc/hosts", "127.0.0.1 localhost\n");
    // An image's cloud.cfg makes the distro's default user (RbxCloud's).
    m.write("/etc/cloud/cloud.cfg", "users: [default]\n");
    m.write(
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\nguru:x:1000:1000:guru:/home/guru:/bin/sh\n",
    );
    m.write("/etc/group", "root:x:0:\nguru:x:1000:\n");
    m.attach(&rbx_disk(&m, "CLOUDMD"), "vdb");
    m.boot();
    assert_booted(
        &m,
        "c4a3b2f1-rbx-0001",
        "rbx-host",
        "/home/guru/.ssh/authorized_keys",
        "from-rbxcloud",
        "rbxcloud",
    );
    let expected: serde_json::Value = serde_json::from_slice(
        &std::fs::read(format!("{RBX_FIXTURES}/expected-with-hosts.json")).unwrap(),
    )
    .unwrap();
    let cache: serde_json::Value = serde_json::from_str(
        &m.read("/var/lib/cloud/instances/c4a3b2f1-rbx-0001/cloudboot-datasource.json"),
    )
    .unwrap();
    assert_eq!(cache["config"], expected["cfg"]);
    assert_eq!(cache["network_config"], expected["cfg"]["network_config"]);
    // The default user's sudo rule, from the datasource's config.
    assert!(m
        .read("/etc/sudoers.d/90-cloud-init-users")
        .contains("guru ALL=(ALL) NOPASSWD:ALL"));
    assert_eq!(
        m.read("/var/lib/cloud/instances/c4a3b2f1-rbx-0001/datasource"),
        "DataSourceRbxCloud: DataSourceRbxCloud [seed=None]\n"
    );
}

/// No CLOUDMD label: not tried.
#[test]
fn rbxcloud_is_not_tried_without_its_label() {
    let m = Machine::new();
    m.attach(&rbx_disk(&m, "OTHER"), "vdb");
    m.boot();
    assert!(not_tried(&m, "RbxCloud"));
    assert_eq!(
        m.read("/var/lib/cloud/data/instance-id"),
        "iid-datasource-none\n"
    );
}

/// A cloud.json that is not JSON: one problem naming the disk and the
/// file, and the search goes on (to None).
#[test]
fn rbxcloud_broken_cloud_json_is_reported() {
    mtools_env();
    let m = Machine::new();
    let img = vfat_image(
        m.dir.path(),
        "CLOUDMD",
        None,
        &[("cloud.json", b"{\"vm\": ")],
    );
    m.attach(&img, "vdb");
    m.run_ok(&["init", "--local"], 1);
    let errors = m.stage_errors("init-local");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with(
            "RbxCloud disk /dev/vdb: Failed to process path /dev/vdb/cloud.json: EOF while parsing"
        ),
        "{errors:?}"
    );
}

// -------------------------------------------------------------------- MAAS

const MAAS_ADDR: &str = "10.20.30.40:5240";
const MAAS_URL: &str = "http://10.20.30.40:5240/MAAS/metadata/";

/// The config MAAS writes on a node it deploys.
fn maas_cfg(m: &Machine) {
    m.write(
        "/etc/cloud/cloud.cfg.d/90_dpkg_maas.cfg",
        &format!(
            "datasource:\n  MAAS:\n    metadata_url: '{MAAS_URL}'\n    consumer_key: Xh2eWpaYZKrEJUVKNb\n    token_key: VRhrs3aa6cXy4bs2Lb\n    token_secret: hZ7d6pGUCnfHtvtQGnkFTU5w3tDfPDEH\n    consumer_secret: ''\n"
        ),
    );
}

/// MAAS's metadata, 404 for what the routes lack, 401 without OAuth.
fn maas_server(routes: Vec<(&'static str, Vec<u8>)>) -> metadata_server::MetadataServer {
    use metadata_server::{MetadataServer, Reply};
    MetadataServer::on(
        MAAS_ADDR,
        Box::new(move |r| {
            if !r
                .header("Authorization")
                .is_some_and(|a| a.starts_with("OAuth "))
            {
                return Reply::status(401, "");
            }
            let path = r
                .path
                .strip_prefix("/MAAS/metadata/2012-03-01/")
                .unwrap_or("");
            match routes.iter().find(|(p, _)| *p == path) {
                Some((_, body)) => Reply::ok(body.clone()),
                None => Reply::not_found(),
            }
        }),
    )
}

fn maas_routes() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("meta-data/instance-id", b"node-4y3h7x".to_vec()),
        ("meta-data/local-hostname", b"maas-node".to_vec()),
        ("meta-data/public-keys", format!("{KEY}\n").into_bytes()),
        (
            "meta-data/vendor-data",
            // YAML whose `cloud-init` entry is the vendor-data
            // (`convert_vendordata`).
            b"cloud-init: \"#cloud-config\\nruncmd: [from-maas-vendor]\\n\"\n".to_vec(),
        ),
        ("user-data", user_data("from-maas").into_bytes()),
    ]
}

/// The service on its address (in the test's own network namespace),
/// every request signed as 22.4 signs it.
#[test]
fn maas_metadata_service_with_oauth() {
    if !skip::require(&[skip::Need::Root(
        "a MAAS address in a private network namespace",
    )]) {
        return;
    }
    let server = maas_server(maas_routes());
    let m = Machine::new();
    maas_cfg(&m);
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    m.boot();
    assert_booted(
        &m,
        "node-4y3h7x",
        "maas-node",
        "/root/.ssh/authorized_keys",
        "from-maas",
        "maas",
    );
    assert_eq!(
        m.read("/var/lib/cloud/instances/node-4y3h7x/datasource"),
        format!(
            "DataSourceMAAS: DataSourceMAAS [{}]\n",
            MAAS_URL.trim_end_matches('/')
        )
    );
    assert!(m
        .read("/var/lib/cloud/instances/node-4y3h7x/scripts/runcmd")
        .contains("from-maas-vendor"));
    let requests = server.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/MAAS/metadata/2012-03-01/meta-data/instance-id",
            "/MAAS/metadata/2012-03-01/meta-data/instance-id",
            "/MAAS/metadata/2012-03-01/meta-data/local-hostname",
            "/MAAS/metadata/2012-03-01/meta-data/public-keys",
            "/MAAS/metadata/2012-03-01/meta-data/vendor-data",
            "/MAAS/metadata/2012-03-01/user-data",
        ]
    );
    // Each request: OAuth 1.0 PLAINTEXT, its own nonce, this run's time.
    let mut nonces = Vec::new();
    for r in &requests {
        let auth = r.header("Authorization").unwrap();
        let fields: Vec<(&str, &str)> = auth
            .strip_prefix("OAuth ")
            .unwrap()
            .split(", ")
            .map(|f| {
                let (k, v) = f.split_once('=').unwrap();
                (k, v.trim_matches('"'))
            })
            .collect();
        let names: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            [
                "oauth_nonce",
                "oauth_timestamp",
                "oauth_version",
                "oauth_signature_method",
                "oauth_consumer_key",
                "oauth_token",
                "oauth_signature"
            ],
            "{auth}"
        );
        let field = |k: &str| fields.iter().find(|(n, _)| *n == k).unwrap().1;
        assert_eq!(field("oauth_version"), "1.0");
        assert_eq!(field("oauth_signature_method"), "PLAINTEXT");
        assert_eq!(field("oauth_consumer_key"), "Xh2eWpaYZKrEJUVKNb");
        assert_eq!(field("oauth_token"), "VRhrs3aa6cXy4bs2Lb");
        // escape("") & escape(token_secret), escaped again.
        assert_eq!(
            field("oauth_signature"),
            "%26hZ7d6pGUCnfHtvtQGnkFTU5w3tDfPDEH"
        );
        let ts: u64 = field("oauth_timestamp").parse().unwrap();
        assert!(ts >= before && ts <= before + 120, "{auth}");
        nonces.push(field("oauth_nonce").to_string());
    }
    nonces.sort();
    nonces.dedup();
    assert_eq!(nonces.len(), requests.len(), "every nonce is new");
    // The secret never reaches the log.
    assert!(!m
        .read("/var/log/cloud-init.log")
        .contains("hZ7d6pGUCnfHtvtQGnkFTU5w3tDfPDEH"));
}

/// A service without a required item: one problem naming it, and the
/// search goes on to None.
#[test]
fn maas_missing_local_hostname_is_reported() {
    if !skip::require(&[skip::Need::Root(
        "a MAAS address in a private network namespace",
    )]) {
        return;
    }
    let routes = maas_routes()
        .into_iter()
        .filter(|(p, _)| *p != "meta-data/local-hostname")
        .collect();
    let _server = maas_server(routes);
    let m = Machine::new();
    maas_cfg(&m);
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 1);
    assert_eq!(
        m.read("/var/lib/cloud/data/instance-id"),
        "iid-datasource-none\n"
    );
    assert_eq!(
        m.stage_errors("init"),
        [format!(
            "MAAS: Failed fetching metadata from url {}: {}: missing files [\"meta-data/local-hostname\"]",
            MAAS_URL.trim_end_matches('/'),
            MAAS_URL.trim_end_matches('/')
        )]
    );
}

/// The seed directory: read as the service's tree, without a version.
#[test]
fn maas_seed_directory() {
    let m = Machine::new();
    let seed = "/var/lib/cloud/seed/maas";
    m.write(&format!("{seed}/meta-data/instance-id"), "node-seeded");
    m.write(&format!("{seed}/meta-data/local-hostname"), "maas-seeded");
    m.write(&format!("{seed}/meta-data/public-keys"), KEY);
    m.write(&format!("{seed}/user-data"), &user_data("from-maas-seed"));
    m.boot();
    assert_booted(
        &m,
        "node-seeded",
        "maas-seeded",
        "/root/.ssh/authorized_keys",
        "from-maas-seed",
        "maas",
    );
    assert_eq!(
        m.run_ok(&["query", "v1.subplatform"], 0),
        format!("seed-dir ({seed})\n")
    );
}

/// No MAAS config and no seed: not tried, nothing asked of the service.
#[test]
fn maas_is_not_tried_without_its_config() {
    if !skip::require(&[skip::Need::Root(
        "a MAAS address in a private network namespace",
    )]) {
        return;
    }
    let server = maas_server(maas_routes());
    let m = Machine::new();
    m.boot();
    assert!(not_tried(&m, "MAAS"));
    assert!(server.requests().is_empty());
}

// ----------------------------------------------------------------- Bigstep

const BIGSTEP_URL: &str = "http://10.11.12.13/metadata/instance-7f3a";

fn bigstep_server(body: Vec<u8>) -> metadata_server::MetadataServer {
    use metadata_server::{MetadataServer, Reply};
    MetadataServer::on(
        "10.11.12.13:80",
        Box::new(move |r| {
            if r.path == "/metadata/instance-7f3a" {
                Reply::ok(body.clone())
            } else {
                Reply::not_found()
            }
        }),
    )
}

fn bigstep_doc() -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "metadata": {
            "instance-id": "bigstep-7f3a",
            "local-hostname": "bigstep-host",
            "public-keys": [KEY],
        },
        "userdata_raw": user_data("from-bigstep"),
        "vendordata_raw": "#cloud-config\nruncmd: [from-bigstep-vendor]\n",
    }))
    .unwrap()
}

#[test]
fn bigstep_url_from_its_seed_file() {
    if !skip::require(&[skip::Need::Root(
        "a metadata address in a private network namespace",
    )]) {
        return;
    }
    let server = bigstep_server(bigstep_doc());
    let m = Machine::new();
    m.write(
        "/var/lib/cloud/data/seed/bigstep/url",
        &format!("{BIGSTEP_URL}\n"),
    );
    m.boot();
    assert_booted(
        &m,
        "bigstep-7f3a",
        "bigstep-host",
        "/root/.ssh/authorized_keys",
        "from-bigstep",
        "bigstep",
    );
    assert!(m
        .read("/var/lib/cloud/instances/bigstep-7f3a/scripts/runcmd")
        .contains("from-bigstep-vendor"));
    assert_eq!(
        m.run_ok(&["query", "v1.subplatform"], 0),
        format!("metadata ({BIGSTEP_URL})\n")
    );
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/metadata/instance-7f3a"]);
}

/// A document without `userdata_raw`: one problem naming the URL and the
/// key; the search goes on to None.
#[test]
fn bigstep_missing_key_is_reported() {
    if !skip::require(&[skip::Need::Root(
        "a metadata address in a private network namespace",
    )]) {
        return;
    }
    let _server =
        bigstep_server(br#"{"metadata": {"instance-id": "x"}, "vendordata_raw": ""}"#.to_vec());
    let m = Machine::new();
    m.write("/var/lib/cloud/data/seed/bigstep/url", BIGSTEP_URL);
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 1);
    assert_eq!(
        m.stage_errors("init"),
        [format!(
            "Bigstep metadata at {BIGSTEP_URL}: {BIGSTEP_URL}: no 'userdata_raw' in the document"
        )]
    );
    assert_eq!(
        m.read("/var/lib/cloud/data/instance-id"),
        "iid-datasource-none\n"
    );
}

#[test]
fn bigstep_is_not_tried_without_its_seed_file() {
    if !skip::require(&[skip::Need::Root(
        "a metadata address in a private network namespace",
    )]) {
        return;
    }
    let server = bigstep_server(bigstep_doc());
    let m = Machine::new();
    m.boot();
    assert!(not_tried(&m, "Bigstep"));
    assert!(server.requests().is_empty());
}

// -------------------------------------------------------------- CloudSigma

/// A unix socket at `guest` under the root standing for a serial port:
/// each connection is handed to `serve` (with the log of what it was
/// sent) on its own thread.
fn serial_stand_in<F>(
    m: &Machine,
    guest: &str,
    serve: F,
) -> std::sync::Arc<std::sync::Mutex<Vec<u8>>>
where
    F: Fn(&mut std::os::unix::net::UnixStream, &std::sync::Mutex<Vec<u8>>) + Send + Sync + 'static,
{
    let path = m.path(guest);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = log.clone();
    let serve = std::sync::Arc::new(serve);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            let (seen, serve) = (seen.clone(), serve.clone());
            std::thread::spawn(move || serve(&mut s, &seen));
        }
    });
    log
}

/// Reads exactly `n` bytes (or what comes before the end), logging them.
fn read_logged(
    s: &mut std::os::unix::net::UnixStream,
    n: usize,
    log: &std::sync::Mutex<Vec<u8>>,
) -> Vec<u8> {
    use std::io::Read;
    let mut buf = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match s.read(&mut buf[got..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => got += k,
        }
    }
    buf.truncate(got);
    log.lock().unwrap().extend_from_slice(&buf);
    buf
}

const CLOUDSIGMA_UUID: &str = "65b2fb23-8c03-4187-a3ba-8b7c919e8890";

fn cloudsigma_context() -> String {
    let ud = base64_of(user_data("from-cloudsigma").as_bytes());
    serde_json::to_string(&serde_json::json!({
        "uuid": CLOUDSIGMA_UUID,
        "name": "sigma-host",
        "cpu": 1000,
        "meta": {
            "ssh_public_key": KEY,
            "cloudinit-user-data": ud,
            "base64_fields": "cloudinit-user-data",
        },
        "vendor_data": {"cloudinit": "#cloud-config\nruncmd: [from-sigma-vendor]\n"},
    }))
    .unwrap()
}

fn base64_of(b: &[u8]) -> String {
    cloudboot::base64::encode(b)
}

/// cepko's exchange: `<\n\n>` in, one line of JSON and `\x04` out.
fn cloudsigma_port(m: &Machine, context: String) -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    serial_stand_in(m, "/dev/ttyS1", move |s, log| {
        use std::io::Write;
        if read_logged(s, 4, log) == b"<\n\n>" {
            let _ = s.write_all(format!("{context}\x04\n").as_bytes());
        }
    })
}

#[test]
fn cloudsigma_server_context_over_the_serial_port() {
    let m = Machine::new();
    m.write("/sys/class/dmi/id/product_name", "CloudSigma\n");
    let log = cloudsigma_port(&m, cloudsigma_context());
    m.boot();
    assert_booted(
        &m,
        CLOUDSIGMA_UUID,
        "sigma-host",
        "/root/.ssh/authorized_keys",
        "from-cloudsigma",
        "cloudsigma",
    );
    assert_eq!(
        log.lock().unwrap().as_slice(),
        b"<\n\n>",
        "one request, cepko's"
    );
    assert_eq!(
        m.run_ok(&["query", "v1.subplatform"], 0),
        "cepko (/dev/ttyS1)\n"
    );
    assert!(m
        .read(&format!(
            "/var/lib/cloud/instances/{CLOUDSIGMA_UUID}/scripts/runcmd"
        ))
        .contains("from-sigma-vendor"));
}

/// A context without `meta.ssh_public_key` (22.4's KeyError): one problem
/// naming it; the search goes on.
#[test]
fn cloudsigma_missing_key_is_reported() {
    let m = Machine::new();
    m.write("/sys/class/dmi/id/product_name", "CloudSigma\n");
    let _log = cloudsigma_port(
        &m,
        format!(r#"{{"uuid": "{CLOUDSIGMA_UUID}", "meta": {{}}}}"#),
    );
    m.run_ok(&["init", "--local"], 1);
    assert_eq!(
        m.stage_errors("init-local"),
        ["CloudSigma (/dev/ttyS1): the server context's meta has no 'ssh_public_key'"]
    );
}

#[test]
fn cloudsigma_is_not_tried_without_its_dmi() {
    let m = Machine::new();
    let log = cloudsigma_port(&m, cloudsigma_context());
    m.boot();
    assert!(not_tried(&m, "CloudSigma"));
    assert!(log.lock().unwrap().is_empty());
}

// ----------------------------------------------------------------- SmartOS

const SMARTOS_FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/datasources/smartos"
);

fn smartos_fixture(name: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(format!("{SMARTOS_FIXTURES}/{name}")).unwrap()).unwrap()
}

fn crc32_hex(body: &str) -> String {
    let mut crc = flate2::Crc::new();
    crc.update(body.as_bytes());
    format!("{:08x}", crc.sum())
}

/// The host's side of the Joyent metadata protocol V2, answering from
/// `metadata.json` (the data make.sh gave 22.4's clients), every line the
/// guest sends logged (one per line, `\n` ended).
fn joyent_host(m: &Machine, guest: &str) -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    let meta = smartos_fixture("metadata.json");
    serial_stand_in(m, guest, move |s, log| {
        use std::io::{BufRead, Write};
        let mut reader = std::io::BufReader::new(s.try_clone().unwrap());
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            log.lock().unwrap().extend_from_slice(line.as_bytes());
            let line = line.trim_end_matches('\n');
            let reply = if line.is_empty() {
                "invalid command".to_string()
            } else if line == "NEGOTIATE V2" {
                "V2_OK".to_string()
            } else {
                let body: Vec<&str> = line.splitn(4, ' ').nth(3).unwrap().split(' ').collect();
                assert_eq!(
                    line.split(' ').nth(2).unwrap(),
                    crc32_hex(line.splitn(4, ' ').nth(3).unwrap()),
                    "the guest's checksum"
                );
                let value = match body[1] {
                    "KEYS" => Some(
                        meta.as_object()
                            .unwrap()
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join("\n"),
                    ),
                    _ => {
                        let key = String::from_utf8(
                            cloudboot::base64::decode(body[2].as_bytes()).unwrap(),
                        )
                        .unwrap();
                        meta[&key].as_str().map(str::to_string)
                    }
                };
                let answer = match value {
                    Some(v) => format!("{} SUCCESS {}", body[0], base64_of(v.as_bytes())),
                    None => format!("{} NOTFOUND", body[0]),
                };
                format!("V2 {} {} {answer}", answer.len(), crc32_hex(&answer))
            };
            if s.write_all(format!("{reply}\n").as_bytes()).is_err() {
                return;
            }
        }
    })
}

/// What the guest asked for, frame by frame, without the request ids.
fn requests_of(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| match l.strip_prefix("V2 ") {
            Some(rest) => {
                let body = rest.splitn(3, ' ').nth(2).unwrap();
                body.split_once(' ').unwrap().1.to_string()
            }
            None => l.clone(),
        })
        .collect()
}

/// The guest lines of a fixture's transcript.
fn fixture_requests(name: &str) -> Vec<String> {
    let t = smartos_fixture(name);
    let lines: Vec<String> = t["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p[0] == "guest")
        .map(|p| p[1].as_str().unwrap().to_string())
        .collect();
    requests_of(&lines)
}

fn logged_lines(log: &std::sync::Mutex<Vec<u8>>) -> Vec<String> {
    String::from_utf8(log.lock().unwrap().clone())
        .unwrap()
        .split_terminator('\n')
        .map(str::to_string)
        .collect()
}

fn assert_smartos_booted(m: &Machine, fixture: &str) {
    assert_booted(
        m,
        "9f3b2a10-5e6d-4c3b-8a21-0000000000aa",
        "smartos-host",
        "/root/.ssh/authorized_keys",
        "from-smartos",
        "joyent",
    );
    let cache: serde_json::Value = serde_json::from_str(&m.read(
        "/var/lib/cloud/instances/9f3b2a10-5e6d-4c3b-8a21-0000000000aa/cloudboot-datasource.json",
    ))
    .unwrap();
    let expected = smartos_fixture(fixture);
    assert_eq!(cache["network_config"], expected["network_config"]);
    for key in [
        "instance-id",
        "local-hostname",
        "dns_domain",
        "availability_zone",
        "routes",
    ] {
        assert_eq!(cache["metadata"][key], expected["metadata"][key], "{key}");
    }
    assert_eq!(
        m.run_ok(&["query", "v1.availability_zone"], 0),
        "us-east-3b\n"
    );
    assert_eq!(
        m.run_ok(&["query", "v1.subplatform"], 0),
        "serial (/dev/ttyS1)\n"
    );
}

/// A KVM guest: `/dev/ttyS1` (a socket standing in for the port), the
/// flush, the negotiation and the legacy client's base64 keys, every frame
/// as 22.4's client sent it (make.sh's kvm.json).
#[test]
fn smartos_kvm_over_the_serial_port() {
    let m = Machine::new();
    m.write("/sys/class/dmi/id/product_name", "SmartDC HVM\n");
    let log = joyent_host(&m, "/dev/ttyS1");
    m.boot();
    assert_smartos_booted(&m, "kvm.json");
    assert_eq!(
        requests_of(&logged_lines(&log)),
        fixture_requests("kvm.json")
    );
    assert_eq!(
        m.read("/var/lib/cloud/instances/9f3b2a10-5e6d-4c3b-8a21-0000000000aa/datasource"),
        "DataSourceSmartOS: DataSourceSmartOS [client=JoyentMetadataLegacySerialClient(device=/dev/ttyS1, timeout=60)]\n"
    );
    // 22.4's built-in vendor-data: the per-boot script runner.
    assert!(m
        .read("/var/lib/cloud/instances/9f3b2a10-5e6d-4c3b-8a21-0000000000aa/vendor-data.txt")
        .contains("01_smartos_vendor_data.sh"));
}

/// An LX zone: the zone's socket, no flush, no base64 keys (lx.json).
#[test]
fn smartos_lx_zone_over_its_socket() {
    let m = Machine::new();
    m.write("/proc/sys/kernel/version", "BrandZ virtual linux\n");
    let log = joyent_host(&m, "/native/.zonecontrol/metadata.sock");
    m.boot();
    assert_smartos_booted(&m, "lx.json");
    assert_eq!(
        requests_of(&logged_lines(&log)),
        fixture_requests("lx.json")
    );
    assert_eq!(
        m.read("/var/lib/cloud/instances/9f3b2a10-5e6d-4c3b-8a21-0000000000aa/datasource"),
        "DataSourceSmartOS: DataSourceSmartOS [client=JoyentMetadataSocketClient(socketpath=/native/.zonecontrol/metadata.sock)]\n"
    );
}

/// Neither SmartDC's DMI nor an LX zone's kernel: not tried, the port
/// never opened.
#[test]
fn smartos_is_not_tried_without_its_platform() {
    let m = Machine::new();
    let log = joyent_host(&m, "/dev/ttyS1");
    // The zone's socket without the zone's kernel is not enough either.
    let zone = joyent_host(&m, "/native/.zonecontrol/metadata.sock");
    m.boot();
    assert!(not_tried(&m, "SmartOS"));
    assert!(log.lock().unwrap().is_empty() && zone.lock().unwrap().is_empty());
}

/// A host whose answers fail their checksum: one problem naming the
/// socket and 22.4's words; the search goes on.
#[test]
fn smartos_bad_checksum_is_reported() {
    let m = Machine::new();
    m.write("/proc/sys/kernel/version", "BrandZ virtual linux\n");
    let _log = serial_stand_in(&m, "/native/.zonecontrol/metadata.sock", |s, log| {
        use std::io::{BufRead, Write};
        let mut reader = std::io::BufReader::new(s.try_clone().unwrap());
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            log.lock().unwrap().extend_from_slice(line.as_bytes());
            let reply = if line == "NEGOTIATE V2\n" {
                "V2_OK".to_string()
            } else {
                let id = line.split(' ').nth(3).unwrap();
                format!("V2 21 00000000 {id} SUCCESS W10=")
            };
            line.clear();
            if s.write_all(format!("{reply}\n").as_bytes()).is_err() {
                return;
            }
        }
    });
    m.run_ok(&["init", "--local"], 1);
    let errors = m.stage_errors("init-local");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with(
            "SmartOS metadata (/native/.zonecontrol/metadata.sock): Invalid checksum (expected: "
        ) && errors[0].ends_with("; got 00000000)."),
        "{errors:?}"
    );
}
