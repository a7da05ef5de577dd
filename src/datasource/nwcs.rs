//! NWCS (`sources/DataSourceNWCS.py`).
//!
//! Found where DMI `sys_vendor` is `NWCS` (ds-identify's `dscheck_NWCS`).
//! In the local stage (22.4 depends on the filesystem only and brings up
//! ephemeral DHCP), one JSON document,
//! `http://169.254.169.254/api/v1/metadata`
//! (`datasource.NWCS.metadata_url`): instance-id, public-keys, hostname,
//! userdata, vendordata, and `network`, network config as given except that
//! each entry's `name` becomes the name of the NIC with its `mac_address`
//! when this machine has one.

use std::time::Instant;

use super::service::{
    bounds_with_retries, cfg_text, found, get_url, json_object, raw_data, Doc, Waits,
};
use super::{
    ephemeral, Datasource, DatasourceInfo, Detect, DsContext, DsError, DsMode, Found, Instance,
};
use crate::value::{Mapping, Value};

pub struct Nwcs;

const BASE_URL_V1: &str = "http://169.254.169.254/api/v1";

/// `network_config`: the metadata's, each entry named as the NIC of its
/// MAC where there is one (the names NWCS sends are not this machine's).
fn rename_nics(network: &mut Value, by_mac: &std::collections::HashMap<String, String>) {
    let Some(Value::Seq(entries)) = (match network {
        Value::Map(m) => m.get_mut("config"),
        _ => None,
    }) else {
        return;
    };
    for entry in entries {
        // Looked up as given, as 22.4 does (sysfs MACs are lower case).
        let mac = entry.get("mac_address").map(Value::python_str);
        let name = mac.and_then(|m| by_mac.get(&m).cloned());
        if let (Some(name), Value::Map(m)) = (name, entry) {
            m.insert(Value::str("name"), Value::Str(name));
        }
    }
}

fn read(ctx: &DsContext) -> Result<Instance, DsError> {
    let ds_cfg = ctx.ds_cfg("NWCS");
    let url = cfg_text(&ds_cfg, "metadata_url", || {
        format!("{BASE_URL_V1}/metadata")
    });
    // DMI says NWCS: 22.4's MD_TIMEOUT 5 s and MD_RETRIES 30.
    let bounds = bounds_with_retries(
        &ds_cfg,
        Waits {
            timeout: 5.0,
            max_wait: 120.0,
        },
        30,
    );
    let _net = ephemeral::bring_up(ctx, &format!("{BASE_URL_V1}/metadata/instance-id"))?;
    let body = get_url(&url, &bounds, Instant::now() + bounds.max_wait, &[])?;
    let md = json_object(&url, &body)?;
    let doc = Doc {
        url: &url,
        value: &md,
    };
    let instance_id = doc.scalar("instance-id")?;
    let public_keys = doc.required("public-keys")?.clone();
    let mut network = doc.required("network")?.clone();
    let hostname = doc.required("hostname")?.clone();
    let user_data = raw_data(&doc, "userdata")?;
    let vendor_data = raw_data(&doc, "vendordata")?;
    let has_config = network.get("config").is_some_and(|c| c.truthy());
    if has_config {
        let by_mac = ctx.nics.by_mac().map_err(DsError::Platform)?;
        rename_nics(&mut network, &by_mac);
    } else {
        // 22.4 raises "Unable to get metadata from server" when the
        // network is configured; here the fallback network applies.
        tracing::warn!("NWCS: {url}: 'network' has no 'config'; the fallback network applies");
    }
    let mut metadata = Mapping::new();
    metadata.insert(
        Value::str("instance-id"),
        md.get("instance-id").cloned().unwrap_or_default(),
    );
    metadata.insert(Value::str("public-keys"), public_keys.clone());
    metadata.insert(Value::str("network"), network.clone());
    metadata.insert(Value::str("local-hostname"), hostname);
    Ok(Instance {
        dsname: "NWCS".into(),
        class_name: "DataSourceNWCS".into(),
        description: "DataSourceNWCS".into(),
        instance_id,
        dsmode: DsMode::Net,
        metadata: Value::Map(metadata),
        user_data_from: user_data.is_some().then(|| format!("{url} (userdata)")),
        user_data,
        vendor_data_from: vendor_data.is_some().then(|| format!("{url} (vendordata)")),
        vendor_data,
        network_config: has_config.then_some(network),
        public_keys: super::configdrive::normalize_pubkeys(Some(&public_keys)),
        cloud_name: "nwcs".into(),
        platform: "nwcs".into(),
        subplatform: format!("metadata ({url})"),
        ..Default::default()
    })
}

static INFO: DatasourceInfo = DatasourceInfo {
    name: "NWCS",
    aliases: &[],
    summary: "NWCS: one JSON document from 169.254.169.254/api/v1/metadata in the local stage, \
              where DMI says NWCS; its network config's NICs renamed by MAC",
};

impl Datasource for Nwcs {
    fn info(&self) -> &'static DatasourceInfo {
        &INFO
    }

    fn detect(&self, ctx: &DsContext) -> Detect {
        Detect::found_if(ctx.facts.dmi("sys_vendor") == Some("NWCS"))
    }

    fn get(&self, ctx: &DsContext) -> Found {
        found("NWCS", read(ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nics_are_renamed_by_mac_where_the_machine_has_them() {
        let mut net = crate::yaml::load(
            b"version: 1\nconfig:\n- {type: physical, name: ens3, mac_address: 'aa:00:00:00:00:01'}\n\
              - {type: physical, name: ens4, mac_address: 'AA:00:00:00:00:01'}\n\
              - {type: nameserver, address: [1.1.1.1]}\n",
            "t",
        )
        .unwrap();
        let by_mac = [("aa:00:00:00:00:01".to_string(), "eth0".to_string())]
            .into_iter()
            .collect();
        rename_nics(&mut net, &by_mac);
        let names: Vec<String> = net
            .get("config")
            .and_then(Value::as_seq)
            .unwrap()
            .iter()
            .map(|e| e.get("name").map(Value::python_str).unwrap_or_default())
            .collect();
        assert_eq!(names, ["eth0", "ens4", ""]);
    }
}
