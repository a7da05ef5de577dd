//! IBM Cloud (SoftLayer) (`sources/DataSourceIBMCloud.py`): a Xen guest
//! with a config disk, read in place in the local stage.
//!
//! Two ways an instance is launched, told apart as 22.4's
//! `get_ibm_platform` tells them (the first device of each label, by name):
//! - "OS code": a FAT disk labelled `config-2` whose volume serial (blkid's
//!   UUID) is `9796-932E` (`OS-Code/Live`), so an OpenStack config drive
//!   on Xen is not taken for one; it wins over
//! - "template": a disk labelled `METADATA` (`Template/Live/Metadata`);
//!   its networking was done by IBM's provisioning boot, so the network
//!   config is `{config: disabled}`.
//!
//! A provisioning boot (`/root/provisioningConfiguration.cfg`, with
//! `/root/swinstall.log` newer than `/proc/1/environ` when the log exists)
//! is not claimed: IBM's agent configures the machine then.
//!
//! Either disk holds `openstack/latest/{meta_data.json (required),
//! user_data, vendor_data.json, network_data.json}` (no versioned
//! directories). Unlike a config drive, the meta-data keeps only
//! `random_seed`, `public_keys` (as `public-keys`), `hostname` (as
//! `local-hostname`) and `uuid` (as `instance-id`), as 22.4's
//! `metadata_from_dir` renames them.

use serde_json::Value as J;

use super::configdrive::{convert_vendordata, normalize_pubkeys};
use super::source::{shown, SeedSource};
use super::{Datasource, DatasourceInfo, Detect, DsContext, DsError, Found, Instance};
use crate::value::{Mapping, Value};

pub struct IbmCloud;

/// The volume serial IBM gives its `config-2` disks (`IBM_CONFIG_UUID`).
const IBM_CONFIG_UUID: &str = "9796-932E";
const OS_CODE: &str = "OS-Code/Live";
const TEMPLATE_LIVE_METADATA: &str = "Template/Live/Metadata";

/// ds-identify's `is_ibm_provisioning` (22.4's `_is_ibm_provisioning`):
/// IBM's provisioning boot, where cloud-init stays out of the way.
fn is_provisioning(ctx: &DsContext) -> bool {
    let stat = |p: &str| ctx.fs.stat(std::path::Path::new(p));
    if stat("/root/provisioningConfiguration.cfg").is_none() {
        return false;
    }
    match (stat("/root/swinstall.log"), stat("/proc/1/environ")) {
        (None, _) => true,
        // The install log was written during this boot.
        (Some(log), Some(boot)) => log.mtime > boot.mtime,
        (Some(_), None) => false,
    }
}

/// `get_ibm_platform`'s answer when a disk was found: the platform and the
/// device (its name as the root shows it).
fn platform(ctx: &DsContext) -> Option<(&'static str, String)> {
    if !ctx.facts.is_xen() {
        return None;
    }
    let mut filesystems: Vec<_> = ctx.facts.filesystems().to_vec();
    filesystems.sort_by(|a, b| a.device.cmp(&b.device));
    let mut metadata = None;
    let mut config2 = None;
    for f in filesystems {
        match f.label.to_uppercase().as_str() {
            "METADATA" if metadata.is_none() => metadata = Some(f.device),
            "CONFIG-2" if config2.is_none() => {
                if ctx.facts.fat_uuid(&f.device).as_deref() == Some(IBM_CONFIG_UUID) {
                    config2 = Some(f.device);
                } else {
                    tracing::debug!(
                        "Skipping {} with LABEL=config-2: uuid is not {IBM_CONFIG_UUID}",
                        f.device
                    );
                }
            }
            _ => {}
        }
    }
    if let Some(dev) = config2 {
        return Some((OS_CODE, dev));
    }
    // Template with metadata; in the provisioning boot nothing is claimed.
    metadata
        .filter(|_| !is_provisioning(ctx))
        .map(|dev| (TEMPLATE_LIVE_METADATA, dev))
}

/// The device IBMCloud claims, when `datasource_list` names IBMCloud: a
/// config drive reader must pass it over (22.4's ConfigDrive
/// `find_candidate_devs`), so an OS-code disk is not read as OpenStack's.
pub(super) fn config_drive_exclusion(ctx: &DsContext) -> Option<String> {
    let listed = ctx
        .cfg
        .get("datasource_list")
        .and_then(Value::as_seq)
        .is_some_and(|l| l.iter().any(|n| n.python_str() == "IBMCloud"));
    listed.then(|| platform(ctx)).flatten().map(|(_, dev)| dev)
}

/// What `metadata_from_dir` gives.
struct DiskData {
    metadata: Value,
    user_data: Option<Vec<u8>>,
    vendor_data: Option<J>,
    network_data: Option<J>,
}

/// `metadata_from_dir` over a disk: `Err` with 22.4's words when the disk
/// is broken.
fn metadata_from_disk(src: &dyn SeedSource) -> Result<DiskData, String> {
    let opath = |name: &str| format!("openstack/latest/{name}");
    let read = |name: &str| src.read(&opath(name)).map_err(|e| e.to_string());
    let json = |name: &str| -> Result<Option<J>, String> {
        match read(name)? {
            None => Ok(None),
            Some(raw) => serde_json::from_slice(&raw)
                .map(Some)
                .map_err(|e| format!("Failed decoding {}: {e}", opath(name))),
        }
    };
    let md_raw = json("meta_data.json")?
        .ok_or_else(|| format!("{} missing required file 'meta_data.json'", src.describe()))?;
    let J::Object(md_raw) = md_raw else {
        return Err(format!(
            "Failed decoding {}: expected a JSON object",
            opath("meta_data.json")
        ));
    };
    let mut md = Mapping::new();
    if let Some(seed) = md_raw.get("random_seed") {
        let bytes = seed
            .as_str()
            .ok_or_else(|| "not a string".to_string())
            .and_then(|s| crate::base64::decode(s.as_bytes()).map_err(|e| e.to_string()))
            .map_err(|e| format!("Badly formatted metadata random_seed entry: {e}"))?;
        md.insert(Value::str("random_seed"), Value::Bytes(bytes));
    }
    for (from, to) in [
        ("public_keys", "public-keys"),
        ("hostname", "local-hostname"),
        ("uuid", "instance-id"),
    ] {
        if let Some(v) = md_raw.get(from) {
            md.insert(Value::str(to), Value::from_json(v));
        }
    }
    Ok(DiskData {
        metadata: Value::Map(md),
        user_data: read("user_data")?,
        vendor_data: json("vendor_data.json")?,
        network_data: json("network_data.json")?,
    })
}

/// The instance of a disk's data on `platform`.
fn instance(
    src: &dyn SeedSource,
    platform: &'static str,
    d: DiskData,
    problems: &mut Vec<String>,
) -> Instance {
    let device = src.describe();
    let vendor_data = match d.vendor_data.as_ref().map(convert_vendordata) {
        Some(Ok(v)) => v,
        Some(Err(e)) => {
            problems.push(format!(
                "Invalid content in vendor-data ({}): {e}",
                shown(src, "openstack/latest/vendor_data.json")
            ));
            None
        }
        None => None,
    };
    // Deployed from a template, IBM's provisioning agent did the network.
    let (network_config, network_json) = if platform == OS_CODE {
        (None, d.network_data)
    } else {
        let mut disabled = Mapping::new();
        disabled.insert(Value::str("config"), Value::str("disabled"));
        disabled.insert(Value::str("version"), Value::Int(1));
        (Some(Value::Map(disabled)), None)
    };
    Instance {
        dsname: "IBMCloud".into(),
        class_name: "DataSourceIBMCloud".into(),
        description: format!("DataSourceIBMCloud [{platform} {device}]"),
        // `DataSource.get_instance_id`'s placeholder when there is none.
        instance_id: d
            .metadata
            .get("instance-id")
            .map(Value::python_str)
            .unwrap_or_else(|| "iid-datasource".into()),
        public_keys: normalize_pubkeys(d.metadata.get("public-keys")),
        user_data_from: d
            .user_data
            .is_some()
            .then(|| shown(src, "openstack/latest/user_data")),
        user_data: d.user_data,
        vendor_data_from: vendor_data
            .is_some()
            .then(|| shown(src, "openstack/latest/vendor_data.json")),
        vendor_data,
        network_config,
        network_json,
        cloud_name: "ibmcloud".into(),
        platform: "ibmcloud".into(),
        subplatform: format!("{platform} ({device})"),
        metadata: d.metadata,
        ..Default::default()
    }
}

static INFO: DatasourceInfo = DatasourceInfo {
    name: "IBMCloud",
    aliases: &[],
    summary: "IBM Cloud on Xen: the `config-2` disk with volume serial `9796-932E` (OS code) or \
              the `METADATA` disk (template), `openstack/latest/` read in place; not in IBM's \
              provisioning boot",
};

impl Datasource for IbmCloud {
    fn info(&self) -> &'static DatasourceInfo {
        &INFO
    }

    /// `dscheck_IBMCloud`: never in the provisioning boot; found on Xen
    /// with a `METADATA` disk, or a `config-2` one with IBM's serial.
    fn detect(&self, ctx: &DsContext) -> Detect {
        if is_provisioning(ctx) {
            return Detect::NotFound;
        }
        Detect::found_if(platform(ctx).is_some())
    }

    fn get(&self, ctx: &DsContext) -> Found {
        let mut problems = Vec::new();
        let Some((platform, device)) = platform(ctx) else {
            return Found {
                instance: None,
                problems,
            };
        };
        let label = ctx
            .facts
            .filesystems()
            .iter()
            .find(|f| f.device == device)
            .map(|f| f.label.clone())
            .unwrap_or_default();
        let opened = super::devices::candidates(ctx, &[label.as_str()], &mut problems)
            .into_iter()
            .find(|s| s.describe() == device);
        let Some(src) = opened else {
            problems.push(format!("IBMCloud: {device} could not be opened"));
            return Found {
                instance: None,
                problems,
            };
        };
        match metadata_from_disk(src.as_ref()) {
            Ok(d) => {
                let instance = instance(src.as_ref(), platform, d, &mut problems);
                Found {
                    instance: Some(instance),
                    problems,
                }
            }
            Err(reason) => {
                problems.push(
                    DsError::IbmConfigDisk {
                        platform,
                        path: device,
                        reason,
                    }
                    .to_string(),
                );
                Found {
                    instance: None,
                    problems,
                }
            }
        }
    }
}
