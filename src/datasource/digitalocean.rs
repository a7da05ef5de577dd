//! DigitalOcean (`sources/DataSourceDigitalOcean.py`,
//! `sources/helpers/digitalocean.py`): one JSON document,
//! `http://169.254.169.254/metadata/v1.json`
//! (`datasource.DigitalOcean.metadata_url`), read in the local stage. The
//! droplet id is DMI's serial number; the document gives the hostname, keys,
//! user-data, vendor-data, region and the interfaces, converted to network
//! config v1 as 22.4's `convert_network_configuration` does (the public NIC
//! named eth0 and the private one eth1, matched by MAC).
//!
//! 22.4 gives the first NIC a random IPv4 link-local address to reach the
//! service (`use_ip4LL`); cloudboot uses the local stage's
//! [`ephemeral::bring_up`](super::ephemeral::bring_up) instead, which is a
//! no-op where the service already answers.

use serde_json::{json, Value as J};

use super::service::{Bounds, Client, Miss, Waits};
use super::{Datasource, DatasourceInfo, Detect, DsContext, DsError, DsMode, Found, Instance};
use crate::value::{Mapping, Value};

pub struct DigitalOcean;

const METADATA_URL: &str = "http://169.254.169.254/metadata/v1.json";

static INFO: DatasourceInfo = DatasourceInfo {
    name: "DigitalOcean",
    aliases: &[],
    summary: "DigitalOcean: the droplet's metadata/v1.json (keys, user- and vendor-data, network \
              config), in the local stage; tried only where DMI's vendor is DigitalOcean",
};

/// `NIC_MAP`: the names DigitalOcean's NIC types get.
fn nic_name(nic_type: &str) -> Option<&'static str> {
    match nic_type {
        "public" => Some("eth0"),
        "private" => Some("eth1"),
        _ => None,
    }
}

/// `convert_network_configuration`: each interface type's first NIC,
/// matched by MAC, with its static subnets (a gateway only on the public
/// NIC's non-anchor ones), and the nameservers.
fn convert_network_configuration(
    interfaces: &J,
    nameservers: &J,
    by_mac: &[(String, String)],
) -> Result<J, String> {
    let types = interfaces
        .as_object()
        .ok_or_else(|| "interfaces is not an object".to_string())?;
    let mut configs: Vec<J> = Vec::new();
    for (kind, nics) in types {
        let nic = nics
            .get(0)
            .ok_or_else(|| format!("interfaces.{kind} has no NIC"))?;
        let mac = nic.get("mac").and_then(J::as_str).unwrap_or_default();
        let Some((_, sysfs_name)) = by_mac.iter().find(|(m, _)| m == mac) else {
            return Err(format!(
                "Did not find network interface on system with mac '{mac}'. Cannot apply configuration: {nic}"
            ));
        };
        let nic_type = nic.get("type").and_then(J::as_str).unwrap_or("unknown");
        let name = nic_name(nic_type).unwrap_or(sysfs_name);
        let mut subnets = Vec::new();
        for netdef in ["ipv4", "ipv6", "anchor_ipv4", "anchor_ipv6"] {
            let Some(raw) = nic.get(netdef).filter(|r| truthy(r)) else {
                continue;
            };
            let address = raw
                .get("ip_address")
                .and_then(J::as_str)
                .ok_or_else(|| format!("interfaces.{kind}[0].{netdef} has no ip_address"))?;
            let mut part = serde_json::Map::new();
            part.insert("type".into(), J::from("static"));
            part.insert("control".into(), J::from("auto"));
            if address.contains(':') {
                let cidr = raw.get("cidr").map(py_str).unwrap_or("None".into());
                part.insert("address".into(), J::from(format!("{address}/{cidr}")));
            } else {
                part.insert("address".into(), J::from(address));
                part.insert(
                    "netmask".into(),
                    raw.get("netmask").cloned().unwrap_or(J::Null),
                );
            }
            if nic_type == "public" && !netdef.contains("anchor") {
                part.insert(
                    "gateway".into(),
                    raw.get("gateway").cloned().unwrap_or(J::Null),
                );
            }
            subnets.push(J::Object(part));
        }
        configs.push(json!({
            "type": "physical",
            "mac_address": mac,
            "name": name,
            "subnets": subnets,
        }));
    }
    if truthy(nameservers) {
        configs.push(json!({"type": "nameserver", "address": nameservers}));
    }
    Ok(json!({"version": 1, "config": configs}))
}

/// Python's truth of a JSON value.
fn truthy(v: &J) -> bool {
    match v {
        J::Null => false,
        J::Bool(b) => *b,
        J::Number(n) => n.as_f64() != Some(0.0),
        J::String(s) => !s.is_empty(),
        J::Array(a) => !a.is_empty(),
        J::Object(o) => !o.is_empty(),
    }
}

/// `str()` of a JSON scalar, as Python's `format` prints it.
fn py_str(v: &J) -> String {
    match v {
        J::String(s) => s.clone(),
        other => Value::from_json(other).python_str(),
    }
}

impl DigitalOcean {
    fn read(ctx: &DsContext) -> Result<Instance, DsError> {
        // `read_sysinfo`: the droplet id is the serial number.
        let droplet_id = ctx.facts.dmi("product_serial").ok_or_else(|| {
            DsError::Service(
                "system identified via SMBIOS as a DigitalOcean Droplet, but did not provide an ID (/sys/class/dmi/id/product_serial)"
                    .into(),
            )
        })?;
        let ds_cfg = ctx.ds_cfg("DigitalOcean");
        let url = ds_cfg
            .get("metadata_url")
            .map(Value::python_str)
            .unwrap_or_else(|| METADATA_URL.to_string());
        // 22.4: 2 s per request, 30 retries 2 s apart; DMI said the
        // service is there.
        let mut bounds = Bounds::from_cfg(
            &ds_cfg,
            Waits {
                timeout: 2.0,
                max_wait: 120.0,
            },
        );
        if ds_cfg.get("retries").is_none() {
            bounds.retries = 30;
        }
        let _net = super::ephemeral::bring_up(ctx, &url)?;
        // The client joins a base and a path: the document is the path.
        let (base, document) = url.rsplit_once('/').unwrap_or((url.as_str(), ""));
        let client = Client::new(
            base,
            bounds.clone(),
            std::time::Instant::now() + bounds.max_wait,
        );
        let body = match client.get(document) {
            Ok(b) => b,
            Err(Miss::NotFound) => return Err(DsError::HttpStatus { url, status: 404 }),
            Err(Miss::Failed(e)) => return Err(DsError::Service(e)),
        };
        let md: J = serde_json::from_slice(&body).map_err(|e| DsError::Json {
            file: url.clone(),
            error: e.to_string(),
        })?;
        if !md.is_object() {
            return Err(DsError::NotAnObject(url));
        }
        let or_droplet = |k: &str| {
            md.get(k)
                .filter(|v| !v.is_null())
                .map(Value::from_json)
                .unwrap_or_else(|| Value::str(droplet_id))
        };
        let mut metadata = Mapping::new();
        metadata.insert(Value::str("instance-id"), or_droplet("droplet_id"));
        metadata.insert(Value::str("local-hostname"), or_droplet("hostname"));
        let field = |k: &str| md.get(k).map(Value::from_json).unwrap_or(Value::Null);
        metadata.insert(Value::str("interfaces"), field("interfaces"));
        metadata.insert(Value::str("public-keys"), field("public_keys"));
        let zone = md
            .get("region")
            .map(Value::from_json)
            .unwrap_or_else(|| Value::str("default"));
        metadata.insert(Value::str("availability_zone"), zone.clone());
        let metadata = Value::Map(metadata);
        let user_data = match md.get("user_data") {
            None | Some(J::Null) => None,
            Some(J::String(s)) => Some(s.clone().into_bytes()),
            Some(other) => Some(other.to_string().into_bytes()),
        };
        let vendor_data =
            super::configdrive::convert_vendordata(md.get("vendor_data").unwrap_or(&J::Null))?;
        // The `network_config` property: 22.4 raises when it cannot
        // convert; here the engine's fallback applies, with a warning.
        let network_config = match md.get("interfaces").filter(|i| truthy(i)) {
            None => {
                tracing::warn!("{url}: no interfaces: Unable to get meta-data from server....");
                None
            }
            Some(interfaces) => {
                let nameservers = md
                    .get("dns")
                    .and_then(|d| d.get("nameservers"))
                    .unwrap_or(&J::Null);
                match convert_network_configuration(
                    interfaces,
                    nameservers,
                    &ctx.nics.by_mac_sorted(),
                ) {
                    Ok(cfg) => Some(Value::from_json(&cfg)),
                    Err(e) => {
                        tracing::warn!("{url}: {e}");
                        None
                    }
                }
            }
        };
        Ok(Instance {
            dsname: "DigitalOcean".into(),
            class_name: "DataSourceDigitalOcean".into(),
            description: "DataSourceDigitalOcean".into(),
            instance_id: metadata
                .get("instance-id")
                .map(Value::python_str)
                .unwrap_or_default(),
            dsmode: DsMode::Net,
            public_keys: super::configdrive::normalize_pubkeys(metadata.get("public-keys")),
            availability_zone: Some(zone.python_str()),
            metadata,
            user_data_from: user_data.is_some().then(|| format!("{url} (user_data)")),
            user_data,
            vendor_data_from: vendor_data
                .is_some()
                .then(|| format!("{url} (vendor_data)")),
            vendor_data,
            network_config,
            cloud_name: "digitalocean".into(),
            platform: "digitalocean".into(),
            subplatform: format!("metadata ({url})"),
            ..Default::default()
        })
    }
}

impl Datasource for DigitalOcean {
    fn info(&self) -> &'static DatasourceInfo {
        &INFO
    }

    /// ds-identify's `dscheck_DigitalOcean` (and `read_sysinfo`).
    fn detect(&self, ctx: &DsContext) -> Detect {
        Detect::found_if(ctx.facts.dmi("sys_vendor") == Some("DigitalOcean"))
    }

    fn get(&self, ctx: &DsContext) -> Found {
        Found::from_read("DigitalOcean", Self::read(ctx).map(Some))
    }

    /// `instance_id_matches_system_uuid(iid, "system-serial-number")`.
    fn check_instance_id(&self, ctx: &DsContext, cached_iid: &str) -> bool {
        ctx.facts
            .dmi("product_serial")
            .is_some_and(|s| s.eq_ignore_ascii_case(cached_iid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 22.4's `convert_network_configuration` on the same document
    /// (tests/fixtures/datasources/digitalocean/, made by its make.sh).
    #[test]
    fn network_config_as_cloud_init_converts_it() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/datasources/digitalocean"
        );
        let read = |f: &str| -> J {
            serde_json::from_str(&std::fs::read_to_string(format!("{dir}/{f}")).unwrap()).unwrap()
        };
        let md = read("metadata.json");
        let by_mac = vec![
            ("04:01:58:27:7f:01".to_string(), "ens3".to_string()),
            ("04:01:58:27:7f:02".to_string(), "ens4".to_string()),
        ];
        let got =
            convert_network_configuration(&md["interfaces"], &md["dns"]["nameservers"], &by_mac)
                .unwrap();
        assert_eq!(got, read("network_config.json"));
        let err =
            convert_network_configuration(&md["interfaces"], &J::Null, &by_mac[..1]).unwrap_err();
        assert!(err.contains("04:01:58:27:7f:02"), "{err}");
    }
}
