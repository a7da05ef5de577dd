//! OpenStack config drive (`sources/DataSourceConfigDrive.py`,
//! `sources/helpers/openstack.py`), read from a seed directory
//! (`/var/lib/cloud/seed/config_drive`, `/config-drive`) or a device labelled
//! `config-2`/`CONFIG-2` read in place.
//!
//! Version 2 layout: `openstack/<version>/{meta_data.json (required),
//! user_data, vendor_data.json, vendor_data2.json, network_data.json}`, the
//! newest version cloud-init knows that the drive has, else `latest`; files
//! referenced by `content_path` under `openstack/`; `ec2/latest/meta-data.json`.
//! Version 1: `meta.js`, `etc/network/interfaces`, `root/.ssh/authorized_keys`.
//!
//! Unlike cloud-init 0.7.5, `network_data.json` is read (every NIC, not just
//! the first), and the ENI template nova injects (`network_config`
//! `content_path`) is kept too; the network issue turns either into config.

use serde_json::Value as J;

use super::source::{subplatform, DirSource, SeedSource};
use super::DsError;
use super::{BlockDevices, Datasource, DatasourceInfo, DsContext, DsMode, Found, Instance};
use crate::base64;
use crate::merge::merge_many;
use crate::value::{Mapping, Value};

pub struct ConfigDrive;

/// `OS_VERSIONS`, oldest first (`openstack.py`).
const OS_VERSIONS: &[&str] = &[
    "2012-08-10",
    "2013-04-04",
    "2013-10-17",
    "2015-10-15",
    "2016-06-30",
    "2016-10-06",
    "2017-02-22",
    "2018-08-27",
];

/// What a drive holds.
#[derive(Debug, Default)]
pub struct DriveData {
    pub version: u8,
    /// The `openstack/<version>` directory read (v2).
    pub os_version: String,
    pub metadata: Value,
    pub user_data: Option<Vec<u8>>,
    pub vendor_data: Option<J>,
    pub vendor_data2: Option<J>,
    pub network_data: Option<J>,
    pub network_eni: Option<String>,
    /// Injected files: path on the instance, content.
    pub files: Vec<(String, Vec<u8>)>,
    pub ec2_metadata: Option<J>,
    pub dsmode: Option<String>,
}

/// `read_config_drive`: v2, else v1. `Ok(None)` when the source is not a
/// config drive at all; `Err` when it is one but broken.
pub fn read(src: &dyn SeedSource) -> Result<Option<DriveData>, DsError> {
    if let Some(d) = read_v2(src)? {
        return Ok(Some(d));
    }
    read_v1(src)
}

fn json(src: &dyn SeedSource, rel: &str, raw: &[u8]) -> Result<J, DsError> {
    serde_json::from_slice(raw).map_err(|e| DsError::Json {
        file: super::source::shown(src, rel),
        error: e.to_string(),
    })
}

/// `_find_working_version`: the newest known version present, else `latest`.
fn working_version(src: &dyn SeedSource) -> String {
    let present = src.list("openstack");
    OS_VERSIONS
        .iter()
        .rev()
        .find(|v| present.iter().any(|p| p == *v))
        .map(|v| v.to_string())
        .unwrap_or_else(|| "latest".to_string())
}

pub fn read_v2(src: &dyn SeedSource) -> Result<Option<DriveData>, DsError> {
    let version = working_version(src);
    let base = format!("openstack/{version}");
    let md_rel = format!("{base}/meta_data.json");
    let Some(md_raw) = src.read(&md_rel)? else {
        return Ok(None);
    };
    let md_json = json(src, &md_rel, &md_raw)?;
    if !md_json.is_object() {
        return Err(DsError::NotAnObject(super::source::shown(src, &md_rel)));
    }
    let mut d = DriveData {
        version: 2,
        os_version: version.clone(),
        user_data: src.read(&format!("{base}/user_data"))?,
        ..Default::default()
    };
    for (name, slot) in [
        ("vendor_data.json", &mut d.vendor_data),
        ("vendor_data2.json", &mut d.vendor_data2),
        ("network_data.json", &mut d.network_data),
    ] {
        let rel = format!("{base}/{name}");
        if let Some(raw) = src.read(&rel)? {
            *slot = Some(json(src, &rel, &raw)?);
        }
    }
    let mut md = Value::from_json(&md_json);
    if let Some(seed) = md.get("random_seed").map(Value::python_str) {
        let bytes = base64::decode(seed.as_bytes()).map_err(DsError::RandomSeed)?;
        if let Value::Map(m) = &mut md {
            m.insert(Value::str("random_seed"), Value::Bytes(bytes));
        }
    }
    for item in md.get("files").and_then(Value::as_seq).unwrap_or_default() {
        let Some(path) = item.get("path").map(Value::python_str) else {
            continue;
        };
        let content = read_content_path(src, item).map_err(|e| DsError::InjectedFile {
            path: path.clone(),
            error: Box::new(e),
        })?;
        d.files.push((path, content));
    }
    if let Some(net) = md.get("network_config").filter(|v| v.truthy()) {
        let content =
            read_content_path(src, net).map_err(|e| DsError::NetworkConfig(Box::new(e)))?;
        d.network_eni = Some(String::from_utf8_lossy(&content).into_owned());
    }
    d.dsmode = md
        .get("meta")
        .and_then(|m| m.get("dsmode"))
        .map(Value::python_str);
    if let Some(raw) = src.read("ec2/latest/meta-data.json")? {
        d.ec2_metadata = Some(json(src, "ec2/latest/meta-data.json", &raw)?);
    }
    // KEY_COPIES: uuid is required and becomes instance-id; hostname is local-hostname.
    let Value::Map(m) = &mut md else {
        unreachable!("checked to be an object above")
    };
    let uuid = m.get("uuid").cloned().ok_or(DsError::NoUuid)?;
    m.insert(Value::str("instance-id"), uuid);
    if let Some(h) = m.get("hostname").cloned() {
        m.insert(Value::str("local-hostname"), h);
    }
    d.metadata = md;
    Ok(Some(d))
}

/// `_read_content_path`: `openstack/<content_path>`.
fn read_content_path(src: &dyn SeedSource, item: &Value) -> Result<Vec<u8>, DsError> {
    let path = item
        .get("content_path")
        .map(Value::python_str)
        .unwrap_or_default();
    let pieces: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if pieces.is_empty() || pieces.contains(&"..") {
        return Err(DsError::BadContentPath(path));
    }
    let rel = format!("openstack/{}", pieces.join("/"));
    src.read(&rel)?
        .ok_or_else(|| DsError::Missing(super::source::shown(src, &rel)))
}

/// `read_v1`: the pre-Folsom layout.
fn read_v1(src: &dyn SeedSource) -> Result<Option<DriveData>, DsError> {
    let interfaces = src.read("etc/network/interfaces")?;
    let meta_js = src.read("meta.js")?;
    let keys = src.read("root/.ssh/authorized_keys")?;
    if interfaces.is_none() && meta_js.is_none() && keys.is_none() {
        return Ok(None);
    }
    let meta: J = match &meta_js {
        Some(raw) => json(src, "meta.js", raw)?,
        None => J::Object(Default::default()),
    };
    let mut md = Mapping::new();
    let key_text = meta
        .get("public-keys")
        .and_then(J::as_str)
        .map(str::to_string)
        .or_else(|| keys.map(|k| String::from_utf8_lossy(&k).into_owned()));
    if let Some(text) = key_text {
        let lines: Vec<Value> = text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(Value::str)
            .collect();
        md.insert(Value::str("public-keys"), Value::Seq(lines));
    }
    if let Some(iid) = meta.get("instance-id") {
        md.insert(Value::str("instance-id"), Value::from_json(iid));
    }
    Ok(Some(DriveData {
        version: 1,
        metadata: Value::Map(md),
        user_data: meta
            .get("user-data")
            .and_then(J::as_str)
            .map(|s| s.as_bytes().to_vec()),
        network_eni: interfaces.map(|b| String::from_utf8_lossy(&b).into_owned()),
        dsmode: meta.get("dsmode").and_then(J::as_str).map(str::to_string),
        ..Default::default()
    }))
}

/// `sources.convert_vendordata`: a string as is; a dict gives its
/// `cloud-init` entry; a list becomes one blob per element (as a multipart).
pub fn convert_vendordata(v: &J) -> Result<Option<Vec<u8>>, DsError> {
    match v {
        J::Null => Ok(None),
        J::String(s) => Ok(Some(s.as_bytes().to_vec())),
        J::Object(m) => match m.get("cloud-init") {
            Some(inner) => convert_vendordata(inner),
            None => Ok(None),
        },
        J::Array(items) => {
            let blobs: Vec<Vec<u8>> = items
                .iter()
                .filter_map(|i| convert_vendordata(i).transpose())
                .collect::<Result<_, _>>()?;
            Ok(Some(super::multipart_of(&blobs)))
        }
        other => Err(DsError::VendorData(other.to_string())),
    }
}

/// Public keys in cloud-init's `normalize_pubkey_data` shapes.
pub fn normalize_pubkeys(v: Option<&Value>) -> Vec<String> {
    let mut out = Vec::new();
    match v {
        Some(Value::Str(s)) => out.extend(s.lines().map(str::to_string)),
        Some(Value::Seq(items)) => out.extend(items.iter().map(Value::python_str)),
        Some(Value::Map(m)) => {
            for (_, keys) in m.iter() {
                match keys {
                    Value::Str(s) => out.push(s.clone()),
                    Value::Seq(items) => out.extend(items.iter().map(Value::python_str)),
                    _ => {}
                }
            }
        }
        _ => {}
    }
    out.into_iter()
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
        .collect()
}

/// Which datasource turns drive-shaped data into an instance.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// A config drive: injected files, `[source=...]` in its name.
    Drive,
    /// The OpenStack metadata service (same tree, over HTTP).
    Service,
}

impl ConfigDrive {
    /// Makes the instance from a drive's data (`_get_data`).
    pub fn instance(
        src: &dyn SeedSource,
        d: DriveData,
        ctx: &DsContext,
    ) -> Result<Option<Instance>, DsError> {
        instance_from(src, d, ctx, Flavor::Drive)
    }
}

/// The instance of drive-shaped data, as ConfigDrive or OpenStack.
pub fn instance_from(
    src: &dyn SeedSource,
    d: DriveData,
    ctx: &DsContext,
    flavor: Flavor,
) -> Result<Option<Instance>, DsError> {
    let mut defaults = Mapping::new();
    defaults.insert(Value::str("instance-id"), Value::str("iid-dsconfigdrive"));
    let md = merge_many(&[d.metadata.clone(), Value::Map(defaults)]);
    let ds_name = match flavor {
        Flavor::Drive => "ConfigDrive",
        Flavor::Service => "OpenStack",
    };
    let ds_cfg_mode = ctx.ds_cfg(ds_name).get("dsmode").map(Value::python_str);
    // `_determine_dsmode`: the first given candidate; `pass` (v1's default)
    // is not a valid mode in 22.4 and so means `net`.
    let candidate = d
        .dsmode
        .clone()
        .or(ds_cfg_mode)
        .or_else(|| (d.version == 1).then(|| "pass".to_string()));
    let dsmode = match candidate.as_deref() {
        Some("local") => DsMode::Local,
        Some("disabled") => return Ok(None),
        _ => DsMode::Net,
    };
    let vendor_data = d
        .vendor_data
        .as_ref()
        .map(convert_vendordata)
        .transpose()?
        .flatten();
    let vendor_data2 = d
        .vendor_data2
        .as_ref()
        .map(convert_vendordata)
        .transpose()?
        .flatten();
    let key_name = if d.version == 1 {
        "public-keys"
    } else {
        "public_keys"
    };
    let public_keys = normalize_pubkeys(md.get(key_name));
    // Where each blob came from, for messages about it.
    let from = |rel: String, present: bool| present.then(|| super::source::shown(src, &rel));
    let (user_data_from, vendor_data_from, vendor_data2_from) = if d.version == 1 {
        (from("meta.js".into(), d.user_data.is_some()), None, None)
    } else {
        let base = format!("openstack/{}", d.os_version);
        (
            from(format!("{base}/user_data"), d.user_data.is_some()),
            from(format!("{base}/vendor_data.json"), vendor_data.is_some()),
            from(format!("{base}/vendor_data2.json"), vendor_data2.is_some()),
        )
    };
    let source = src.describe();
    let (description, subplatform) = match flavor {
        Flavor::Drive => (
            format!(
                "DataSourceConfigDrive [{},ver={}][source={source}]",
                dsmode.as_str(),
                d.version
            ),
            subplatform(src),
        ),
        Flavor::Service => (
            format!(
                "DataSourceOpenStack [{},ver={}]",
                dsmode.as_str(),
                d.version
            ),
            format!("metadata ({source})"),
        ),
    };
    Ok(Some(Instance {
        dsname: ds_name.into(),
        class_name: format!("DataSource{ds_name}"),
        description,
        instance_id: md
            .get("instance-id")
            .map(Value::python_str)
            .unwrap_or_else(|| "iid-dsconfigdrive".into()),
        dsmode,
        user_data: d.user_data,
        vendor_data,
        vendor_data2,
        user_data_from,
        vendor_data_from,
        vendor_data2_from,
        network_config: None,
        network_json: d.network_data,
        network_eni: d.network_eni,
        public_keys,
        availability_zone: md.get("availability_zone").map(Value::python_str),
        region: None,
        // Only a config drive injects files (`on_first_boot`).
        files: if flavor == Flavor::Drive {
            d.files
        } else {
            Vec::new()
        },
        ec2_metadata: d.ec2_metadata,
        // `_get_cloud_name` is the dsname, lower case.
        cloud_name: ds_name.to_lowercase(),
        platform: "openstack".into(),
        subplatform,
        disconnected: false,
        metadata: md,
        config: None,
        // Read from `ec2_metadata` once found (`Datasource::block_devices`).
        block_devices: BlockDevices::default(),
    }))
}

static INFO: DatasourceInfo = DatasourceInfo {
    name: "ConfigDrive",
    aliases: &[],
    summary: "`config-2`/`CONFIG-2` devices and seed directories; version 2 (newest known \
              `openstack/<version>`, else `latest`; `meta_data.json`, `user_data`, \
              `vendor_data(2).json`, `network_data.json`, nova's ENI template, injected `files`, \
              `ec2/latest`) and version 1",
};

impl Datasource for ConfigDrive {
    fn info(&self) -> &'static DatasourceInfo {
        &INFO
    }

    /// `SourceMixin.device_name_to_device`: the EC2 meta-data's mapping,
    /// then filesystem labels.
    fn block_devices(&self, instance: &Instance) -> BlockDevices {
        BlockDevices::from_openstack_ec2_metadata(instance.ec2_metadata.as_ref())
    }

    fn get(&self, ctx: &DsContext) -> Found {
        let mut problems = Vec::new();
        let dirs = [ctx.paths.seed_dir("config_drive"), "/config-drive".into()];
        let mut sources: Vec<Box<dyn SeedSource + '_>> = dirs
            .into_iter()
            .filter(|d| ctx.fs.is_dir(d))
            .map(|base| Box::new(DirSource { fs: ctx.fs, base }) as Box<dyn SeedSource>)
            .collect();
        sources.extend(super::devices::candidates(
            ctx,
            &["config-2", "CONFIG-2"],
            &mut problems,
        ));
        // 22.4's `find_candidate_devs`: IBMCloud's own config-2 disk is
        // not a config drive when IBMCloud may be searched.
        if let Some(ibm) = super::ibmcloud::config_drive_exclusion(ctx) {
            sources.retain(|s| !s.is_device() || s.describe() != ibm);
        }
        for src in sources {
            match read(src.as_ref()) {
                Ok(Some(d)) => match Self::instance(src.as_ref(), d, ctx) {
                    Ok(Some(instance)) => {
                        return Found {
                            instance: Some(instance),
                            problems,
                        }
                    }
                    Ok(None) => {
                        tracing::debug!("{}: dsmode disabled, not claimed", src.describe())
                    }
                    Err(e) => problems.push(format!("Broken config drive {}: {e}", src.describe())),
                },
                Ok(None) => tracing::debug!("{} is not a config drive", src.describe()),
                Err(e) => problems.push(format!("Broken config drive {}: {e}", src.describe())),
            }
        }
        Found {
            instance: None,
            problems,
        }
    }

    /// `instance_id_matches_system_uuid`: the instance-id is the DMI system
    /// uuid (case-insensitive), read under the root.
    fn check_instance_id(&self, ctx: &DsContext, cached_iid: &str) -> bool {
        super::service::instance_id_matches_dmi(&ctx.facts, "product_uuid", cached_iid)
    }
}
