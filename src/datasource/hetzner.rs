//! Hetzner Cloud (`sources/DataSourceHetzner.py`, `helpers/hetzner.py`).
//!
//! Found where DMI `sys_vendor` is `Hetzner` (ds-identify's
//! `dscheck_Hetzner`); the DMI serial must be there too, and is the
//! instance-id. Read in the local stage (22.4 depends on the filesystem
//! only and brings up ephemeral DHCP): the YAML meta-data at
//! `http://169.254.169.254/hetzner/v1/metadata` (instance-id, hostname,
//! public-keys, network-config in v1 as given, vendor_data) and the
//! user-data at `.../userdata`, base64-decoded when it is strict base64
//! (Hetzner cannot carry binary user-data). `datasource.Hetzner.
//! {metadata_url,userdata_url,timeout,retries,max_wait}` override.

use std::time::Instant;

use super::service::{
    bounds_with_retries, cfg_text, get_url, instance_id_matches_dmi, raw_data, yaml_mapping, Doc,
    Waits,
};
use super::{
    ephemeral, Datasource, DatasourceInfo, Detect, DsContext, DsError, DsMode, Found, Instance,
};
use crate::value::{Mapping, Value};

pub struct Hetzner;

const BASE_URL_V1: &str = "http://169.254.169.254/hetzner/v1";

/// `dmi_sys_vendor_is Hetzner`.
fn on_hetzner(ctx: &DsContext) -> bool {
    ctx.facts.dmi("sys_vendor") == Some("Hetzner")
}

/// `maybe_b64decode`: `base64.b64decode(data, validate=True)` when that
/// succeeds (only the alphabet, then at most two `=` completing the last
/// quantum), else the data unchanged.
fn maybe_b64decode(data: Vec<u8>) -> Vec<u8> {
    let body = data.iter().position(|&c| c == b'=').unwrap_or(data.len());
    let pads = data.len() - body;
    let strict = data[..body]
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
        && data[body..].iter().all(|&c| c == b'=')
        && data.len().is_multiple_of(4)
        && pads <= 2
        && (pads == 0 || body % 4 == 4 - pads);
    if !strict {
        return data;
    }
    crate::base64::decode(&data).unwrap_or(data)
}

/// Reads the service and builds the instance (`_get_data`).
fn read(ctx: &DsContext, serial: &str) -> Result<Instance, DsError> {
    let ds_cfg = ctx.ds_cfg("Hetzner");
    let metadata_url = cfg_text(&ds_cfg, "metadata_url", || {
        format!("{BASE_URL_V1}/metadata")
    });
    let userdata_url = cfg_text(&ds_cfg, "userdata_url", || {
        format!("{BASE_URL_V1}/userdata")
    });
    // DMI says Hetzner: 22.4's MD_TIMEOUT 2 s and MD_RETRIES 60, within
    // two minutes in all.
    let bounds = bounds_with_retries(
        &ds_cfg,
        Waits {
            timeout: 2.0,
            max_wait: 120.0,
        },
        60,
    );
    let _net = ephemeral::bring_up(ctx, &format!("{BASE_URL_V1}/metadata/instance-id"))?;
    let discovery = Instant::now() + bounds.max_wait;
    let md = yaml_mapping(
        &metadata_url,
        &get_url(&metadata_url, &bounds, discovery, &[])?,
    )?;
    let user_data = get_url(
        &userdata_url,
        &bounds,
        Instant::now() + bounds.max_wait,
        &[],
    )?;
    let doc = Doc {
        url: &metadata_url,
        value: &md,
    };
    let instance_id = doc.scalar("instance-id")?;
    let hostname = doc.required("hostname")?.clone();
    let network_config = md.get("network-config").cloned().unwrap_or(Value::Null);
    let public_keys = md.get("public-keys").cloned().unwrap_or(Value::Null);
    let vendor_data = raw_data(&doc, "vendor_data")?;
    // instance-id and serial from SMBIOS should be identical.
    if instance_id != serial {
        return Err(DsError::Platform(
            "SMBIOS serial does not match instance ID from metadata".into(),
        ));
    }
    let mut metadata = Mapping::new();
    metadata.insert(
        Value::str("instance-id"),
        md.get("instance-id").cloned().unwrap_or_default(),
    );
    metadata.insert(Value::str("local-hostname"), hostname);
    metadata.insert(Value::str("network-config"), network_config.clone());
    metadata.insert(Value::str("public-keys"), public_keys.clone());
    Ok(Instance {
        dsname: "Hetzner".into(),
        class_name: "DataSourceHetzner".into(),
        description: "DataSourceHetzner".into(),
        instance_id,
        dsmode: DsMode::Net,
        metadata: Value::Map(metadata),
        user_data: Some(maybe_b64decode(user_data)),
        user_data_from: Some(userdata_url),
        vendor_data_from: vendor_data
            .is_some()
            .then(|| format!("{metadata_url} (vendor_data)")),
        vendor_data,
        // 22.4 refuses to configure the network without it (its
        // `network_config` raises); without it the fallback applies here.
        network_config: network_config.truthy().then_some(network_config),
        public_keys: super::configdrive::normalize_pubkeys(Some(&public_keys)),
        cloud_name: "hetzner".into(),
        platform: "hetzner".into(),
        subplatform: format!("metadata ({metadata_url})"),
        ..Default::default()
    })
}

static INFO: DatasourceInfo = DatasourceInfo {
    name: "Hetzner",
    aliases: &[],
    summary: "Hetzner Cloud: YAML meta-data and user-data from 169.254.169.254/hetzner/v1, read \
              in the local stage where DMI says Hetzner; the instance-id is the DMI serial",
};

impl Datasource for Hetzner {
    fn info(&self) -> &'static DatasourceInfo {
        &INFO
    }

    fn detect(&self, ctx: &DsContext) -> Detect {
        Detect::found_if(on_hetzner(ctx))
    }

    fn get(&self, ctx: &DsContext) -> Found {
        let mut problems = Vec::new();
        let instance = match ctx.facts.dmi("product_serial") {
            None => {
                problems.push("Hetzner Cloud detected, but no serial found".to_string());
                None
            }
            Some(serial) => match read(ctx, serial) {
                Ok(i) => Some(i),
                Err(e) => {
                    problems.push(format!("Hetzner: {e}"));
                    None
                }
            },
        };
        Found { instance, problems }
    }

    /// `instance_id_matches_system_uuid(iid, "system-serial-number")`.
    fn check_instance_id(&self, ctx: &DsContext, cached_iid: &str) -> bool {
        instance_id_matches_dmi(&ctx.facts, "product_serial", cached_iid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_data_is_decoded_only_when_it_is_strict_base64() {
        assert_eq!(maybe_b64decode(b"aGk=".to_vec()), b"hi");
        assert_eq!(maybe_b64decode(b"aGkh".to_vec()), b"hi!");
        assert_eq!(maybe_b64decode(b"".to_vec()), b"");
        for raw in [
            &b"#cloud-config\nhostname: x\n"[..],
            b"aGk",
            b"aGk=\n",
            b"a===",
            b"=aGk",
        ] {
            assert_eq!(maybe_b64decode(raw.to_vec()), raw, "{raw:?}");
        }
    }
}
