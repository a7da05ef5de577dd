//! UpCloud and UpCloudLocal (`sources/DataSourceUpCloud.py`,
//! `helpers/upcloud.py`): one datasource, which behaves as
//! `DataSourceUpCloudLocal` in the local stage (ephemeral network brought
//! up first) and as `DataSourceUpCloud` in the network stage.
//!
//! Found where DMI `sys_vendor` is `UpCloud` (ds-identify's
//! `dscheck_UpCloud`); the DMI system UUID is the server's id. Reads one
//! JSON document, `http://169.254.169.254/metadata/v1.json`
//! (`datasource.UpCloud.metadata_url`): instance_id (the DMI UUID when
//! absent), hostname, public_keys, region (the availability zone,
//! `default` when absent), user_data, vendor_data, and `network`, turned
//! into v1 network config as 22.4's `convert_network_config` does, its
//! NICs named by MAC.

use std::collections::HashMap;
use std::time::Instant;

use serde_json::{json, Map, Value as J};

use super::service::{
    bounds_with_retries, cfg_text, get_url, instance_id_matches_dmi, json_object, raw_data, Doc,
    Waits,
};
use super::{
    ephemeral, Datasource, DatasourceInfo, Detect, DsContext, DsError, DsMode, Found, Instance,
};
use crate::schedule::Stage;
use crate::value::{Mapping, Value};

pub struct UpCloud;

const METADATA_URL: &str = "http://169.254.169.254/metadata/v1.json";

/// `_get_subnet_config`: DHCP (SLAAC for IPv6) or a static address.
fn subnet(ip: &J, dns: Option<&J>) -> J {
    let ipv6 = ip.get("family").and_then(J::as_str) == Some("IPv6");
    let truthy = |v: Option<&J>| v.is_some_and(|v| Value::from_json(v).truthy());
    if truthy(ip.get("dhcp")) {
        // UpCloud hands IPv6 out by SLAAC.
        let kind = if ipv6 {
            "ipv6_dhcpv6-stateless"
        } else {
            "dhcp"
        };
        return json!({ "type": kind });
    }
    let mut sub = Map::new();
    sub.insert(
        "type".into(),
        json!(if ipv6 { "static6" } else { "static" }),
    );
    sub.insert("control".into(), json!("auto"));
    sub.insert(
        "address".into(),
        ip.get("address").cloned().unwrap_or(J::Null),
    );
    if truthy(ip.get("gateway")) {
        sub.insert("gateway".into(), ip["gateway"].clone());
    }
    if let Some((_, prefix)) = ip
        .get("network")
        .and_then(J::as_str)
        .and_then(|n| n.split_once('/'))
    {
        let prefix = prefix.split('/').next().unwrap_or(prefix);
        sub.insert("netmask".into(), json!(prefix));
    }
    if truthy(ip.get("dns")) && dns != ip.get("dns") {
        sub.insert("dns_nameservers".into(), ip["dns"].clone());
    }
    J::Object(sub)
}

/// `convert_to_network_config_v1`: one physical NIC per interface (named
/// by its MAC), a subnet per address, and the resolvers.
pub fn convert_network_config(
    network: &J,
    url: &str,
    by_mac: &HashMap<String, String>,
) -> Result<J, DsError> {
    let mut config = Vec::new();
    let dns = network.get("dns");
    let empty = Vec::new();
    let interfaces = network
        .get("interfaces")
        .and_then(J::as_array)
        .ok_or_else(|| DsError::MissingKey {
            url: url.to_string(),
            key: "network.interfaces".into(),
        })?;
    for (i, iface) in interfaces.iter().enumerate() {
        let mac = iface.get("mac").and_then(J::as_str).unwrap_or_default();
        let name = by_mac
            .get(&mac.to_lowercase())
            .ok_or_else(|| DsError::NoSuchNic {
                url: url.to_string(),
                key: format!("network.interfaces[{i}].mac"),
                mac: mac.to_string(),
            })?;
        let subnets: Vec<J> = iface
            .get("ip_addresses")
            .and_then(J::as_array)
            .unwrap_or(&empty)
            .iter()
            .map(|ip| subnet(ip, dns))
            .collect();
        config.push(json!({
            "type": "physical",
            "name": name,
            "mac_address": mac,
            "subnets": subnets,
        }));
    }
    if dns.is_some_and(|d| Value::from_json(d).truthy()) {
        config.push(json!({"type": "nameserver", "address": dns}));
    }
    Ok(json!({"version": 1, "config": config}))
}

/// Reads the service (`_get_data`); `server_uuid` is the DMI system UUID.
fn read(
    ctx: &DsContext,
    server_uuid: &str,
    problems: &mut Vec<String>,
) -> Result<Instance, DsError> {
    let ds_cfg = ctx.ds_cfg("UpCloud");
    let url = cfg_text(&ds_cfg, "metadata_url", || METADATA_URL.into());
    // DMI says UpCloud: 22.4's MD_TIMEOUT 2 s and MD_RETRIES 30 (a minute).
    let bounds = bounds_with_retries(
        &ds_cfg,
        Waits {
            timeout: 2.0,
            max_wait: 60.0,
        },
        30,
    );
    let local = ctx.stage == Stage::Local;
    // UpCloudLocal reads over an ephemeral network; UpCloud over the
    // image's own.
    let _net = if local {
        Some(ephemeral::bring_up(ctx, &url)?)
    } else {
        None
    };
    let body = get_url(&url, &bounds, Instant::now() + bounds.max_wait, &[])?;
    let md = json_object(&url, &body)?;
    let doc = Doc {
        url: &url,
        value: &md,
    };
    let instance_id = match md.get("instance_id") {
        Some(_) => doc.scalar("instance_id")?,
        None => server_uuid.to_string(),
    };
    let get = |k: &str| md.get(k).cloned().unwrap_or(Value::Null);
    let az = match md.get("region") {
        Some(r) => r.clone(),
        None => Value::str("default"),
    };
    let mut metadata = Mapping::new();
    metadata.insert(Value::str("instance-id"), Value::str(&instance_id));
    metadata.insert(Value::str("local-hostname"), get("hostname"));
    metadata.insert(Value::str("network"), get("network"));
    metadata.insert(Value::str("public-keys"), get("public_keys"));
    metadata.insert(Value::str("availability_zone"), az.clone());
    let vendor_data = raw_data(&doc, "vendor_data")?;
    let user_data = raw_data(&doc, "user_data")?;
    // 22.4 converts it when the network is configured, and fails there:
    // here the instance stands and the problem is reported.
    let network = md.to_json().get("network").cloned().unwrap_or(J::Null);
    let network_config = if Value::from_json(&network).truthy() {
        let by_mac = ctx.nics.by_mac().map_err(DsError::Platform)?;
        match convert_network_config(&network, &url, &by_mac) {
            Ok(cfg) => Some(Value::from_json(&cfg)),
            Err(e) => {
                problems.push(format!("UpCloud network config: {e}"));
                None
            }
        }
    } else {
        problems.push(format!(
            "UpCloud: {url}: Unable to get network meta-data from server...."
        ));
        None
    };
    let class_name = if local {
        "DataSourceUpCloudLocal"
    } else {
        "DataSourceUpCloud"
    };
    Ok(Instance {
        dsname: "UpCloud".into(),
        class_name: class_name.into(),
        description: class_name.into(),
        instance_id,
        dsmode: DsMode::Net,
        public_keys: super::configdrive::normalize_pubkeys(md.get("public_keys")),
        metadata: Value::Map(metadata),
        user_data_from: user_data.is_some().then(|| format!("{url} (user_data)")),
        user_data,
        vendor_data_from: vendor_data
            .is_some()
            .then(|| format!("{url} (vendor_data)")),
        vendor_data,
        network_config,
        availability_zone: Some(az.python_str()).filter(|_| az.truthy()),
        cloud_name: "upcloud".into(),
        platform: "upcloud".into(),
        subplatform: format!("metadata ({url})"),
        ..Default::default()
    })
}

static INFO: DatasourceInfo = DatasourceInfo {
    name: "UpCloud",
    aliases: &["UpCloudLocal"],
    summary: "UpCloud: one JSON document from 169.254.169.254/metadata/v1.json, in the local \
              stage (UpCloudLocal, ephemeral network) or the network stage, where DMI says \
              UpCloud; its NICs turned into network config",
};

impl Datasource for UpCloud {
    fn info(&self) -> &'static DatasourceInfo {
        &INFO
    }

    fn detect(&self, ctx: &DsContext) -> Detect {
        Detect::found_if(ctx.facts.dmi("sys_vendor") == Some("UpCloud"))
    }

    fn get(&self, ctx: &DsContext) -> Found {
        let mut problems = Vec::new();
        let instance = match ctx.facts.dmi("product_uuid") {
            None => {
                problems.push(
                    "system identified via SMBIOS as a UpCloud server, but did not provide an ID. \
                     Please contact support via https://hub.upcloud.com or via email with \
                     support@upcloud.com"
                        .to_string(),
                );
                None
            }
            Some(uuid) => match read(ctx, uuid, &mut problems) {
                Ok(i) => Some(i),
                Err(e) => {
                    problems.push(format!("UpCloud: {e}"));
                    None
                }
            },
        };
        Found { instance, problems }
    }

    /// `instance_id_matches_system_uuid`.
    fn check_instance_id(&self, ctx: &DsContext, cached_iid: &str) -> bool {
        instance_id_matches_dmi(&ctx.facts, "product_uuid", cached_iid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// tests/fixtures/datasources/upcloud: 22.4's own output.
    #[test]
    fn network_config_is_22_4s() {
        let md: J = serde_json::from_str(include_str!(
            "../../tests/fixtures/datasources/upcloud/metadata-v1.json"
        ))
        .unwrap();
        let expected: J = serde_json::from_str(include_str!(
            "../../tests/fixtures/datasources/upcloud/expected-network.json"
        ))
        .unwrap();
        let by_mac: HashMap<String, String> = [
            ("32:d5:ba:4a:36:e7", "eth0"),
            ("32:d5:ba:4a:84:cc", "eth1"),
            ("32:d5:ba:4a:63:e7", "eth2"),
            ("32:d5:ba:4a:8a:e1", "eth3"),
            ("32:d5:ba:4a:8a:e2", "eth4"),
        ]
        .into_iter()
        .map(|(m, n)| (m.to_string(), n.to_string()))
        .collect();
        assert_eq!(
            convert_network_config(&md["network"], "u", &by_mac).unwrap(),
            expected
        );
        let mut fewer = by_mac.clone();
        fewer.remove("32:d5:ba:4a:8a:e2");
        assert_eq!(
            convert_network_config(&md["network"], "u", &fewer)
                .unwrap_err()
                .to_string(),
            "u: no network interface on this machine has the MAC '32:d5:ba:4a:8a:e2' of 'network.interfaces[4].mac'"
        );
    }
}
