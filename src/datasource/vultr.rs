//! Vultr (`sources/DataSourceVultr.py`, `helpers/vultr.py`).
//!
//! Found as ds-identify's `dscheck_Vultr` finds it: DMI `sys_vendor`
//! `Vultr`, the word `vultr` on the kernel command line (bare metal), or
//! `/etc/vultr`; read only where 22.4's `is_vultr` agrees (DMI or command
//! line). In the local stage (22.4 depends on the filesystem only and
//! brings up ephemeral DHCP) one JSON document, `<url>/v1.json` (default
//! `http://169.254.169.254`), asked for with `Metadata-Token: cloudinit`
//! and a `User-Agent` naming the OS: instance-id (`instance-v2-id`),
//! hostname (`guest` when empty), region, public-keys, user-data,
//! vendor-data, and the network config `generate_network_config` makes of
//! `interfaces` (or `cloud_interfaces` named by MAC). Not done: 22.4's
//! check for the /32 route Vultr's DHCP server injects (`check_route`), and
//! DHCP on each candidate NIC in turn (one ephemeral network is brought up).

use std::time::Instant;

use serde_json::{json, Map, Value as J};

use super::service::{
    bounds_with_retries, cfg_text, found, get_url, instance_id_matches_dmi, json_object, raw_data,
    Doc, Waits,
};
use super::{
    ephemeral, Datasource, DatasourceInfo, Detect, DsContext, DsError, DsMode, Found, Instance,
};
use crate::value::Value;

pub struct Vultr;

/// `is_vultr`: DMI, or `vultr` as a word of the command line.
fn is_vultr(ctx: &DsContext) -> bool {
    ctx.facts.dmi("sys_vendor") == Some("Vultr")
        || ctx.facts.cmdline().split_whitespace().any(|w| w == "vultr")
}

/// The NIC of `mac` (`get_interface_name`), or 22.4's error.
fn nic_name(
    by_mac: &std::collections::HashMap<String, String>,
    url: &str,
    key: &str,
    mac: &J,
) -> Result<String, DsError> {
    let mac = mac.as_str().unwrap_or_default();
    by_mac
        .get(&mac.to_lowercase())
        .cloned()
        .ok_or_else(|| DsError::NoSuchNic {
            url: url.to_string(),
            key: key.to_string(),
            mac: mac.to_string(),
        })
}

/// `interface[key]`, or an error naming where it is missing.
fn field<'a>(v: &'a J, url: &str, at: &str, key: &str) -> Result<&'a J, DsError> {
    v.get(key).ok_or_else(|| DsError::MissingKey {
        url: url.to_string(),
        key: format!("{at}.{key}"),
    })
}

/// `len(x)` of a list, as 22.4 takes it (an error when it is no list).
fn list<'a>(v: &'a J, url: &str, at: &str) -> Result<&'a Vec<J>, DsError> {
    v.as_array().ok_or_else(|| DsError::WrongType {
        url: url.to_string(),
        key: at.to_string(),
        expected: "list",
        found: match v {
            J::Object(_) => "dict",
            J::String(_) => "str",
            J::Null => "NoneType",
            _ => "scalar",
        },
    })
}

/// `generate_interface`, with its routes and additional addresses.
fn interface(
    iface: &J,
    primary: bool,
    at: &str,
    url: &str,
    by_mac: &std::collections::HashMap<String, String>,
) -> Result<J, DsError> {
    let mac = field(iface, url, at, "mac")?;
    let name = nic_name(by_mac, url, &format!("{at}.mac"), mac)?;
    let mut cfg = Map::new();
    cfg.insert("name".into(), J::String(name));
    cfg.insert("type".into(), json!("physical"));
    cfg.insert("mac_address".into(), mac.clone());
    let mut subnets = if primary {
        cfg.insert("accept-ra".into(), json!(1));
        vec![
            json!({"type": "dhcp", "control": "auto"}),
            json!({"type": "ipv6_slaac", "control": "auto"}),
        ]
    } else {
        let ipv4 = field(iface, url, at, "ipv4")?;
        let v4 = format!("{at}.ipv4");
        vec![json!({
            "type": "static",
            "control": "auto",
            "address": field(ipv4, url, &v4, "address")?,
            "netmask": field(ipv4, url, &v4, "netmask")?,
        })]
    };
    // generate_interface_routes
    for key in ["mtu", "accept-ra"] {
        if let Some(v) = iface.get(key) {
            cfg.insert(key.into(), v.clone());
        }
    }
    if let Some(routes) = iface.get("routes") {
        subnets[0]["routes"] = routes.clone();
    }
    // generate_interface_additional_addresses
    for (family, kind) in [("ipv4", "static"), ("ipv6", "static6")] {
        let at_family = format!("{at}.{family}");
        let additional = field(
            field(iface, url, at, family)?,
            url,
            &at_family,
            "additional",
        )?;
        let at_additional = format!("{at_family}.additional");
        for (i, add) in list(additional, url, &at_additional)?.iter().enumerate() {
            let here = format!("{at_additional}[{i}]");
            let mut sub = Map::new();
            sub.insert("type".into(), json!(kind));
            sub.insert("control".into(), json!("auto"));
            if family == "ipv4" {
                sub.insert("address".into(), field(add, url, &here, "address")?.clone());
                sub.insert("netmask".into(), field(add, url, &here, "netmask")?.clone());
            } else {
                let text = |v: &J| v.as_str().map_or_else(|| v.to_string(), str::to_string);
                sub.insert(
                    "address".into(),
                    J::String(format!(
                        "{}/{}",
                        text(field(add, url, &here, "network")?),
                        text(field(add, url, &here, "prefix")?)
                    )),
                );
            }
            if let Some(routes) = add.get("routes") {
                sub.insert("routes".into(), routes.clone());
            }
            subnets.push(J::Object(sub));
        }
    }
    cfg.insert("subnets".into(), J::Array(subnets));
    Ok(J::Object(cfg))
}

/// `generate_network_config`: Vultr's resolvers, the first interface
/// public (DHCP and SLAAC), the others private (static) unless
/// `unconfigured`.
pub fn generate_network_config(
    interfaces: &[J],
    url: &str,
    by_mac: &std::collections::HashMap<String, String>,
) -> Result<J, DsError> {
    let mut config = vec![json!({
        "type": "nameserver",
        "address": ["108.61.10.10", "2001:19f0:300:1704::6"],
    })];
    for (i, iface) in interfaces.iter().enumerate() {
        let unconfigured = iface
            .get("unconfigured")
            .is_some_and(|u| Value::from_json(u).truthy());
        if i > 0 && unconfigured {
            continue;
        }
        config.push(interface(
            iface,
            i == 0,
            &format!("interfaces[{i}]"),
            url,
            by_mac,
        )?);
    }
    Ok(json!({"version": 1, "config": config}))
}

/// `add_interface_names`: `cloud_interfaces` as given, each named by its MAC.
fn add_interface_names(
    interfaces: &J,
    url: &str,
    by_mac: &std::collections::HashMap<String, String>,
) -> Result<J, DsError> {
    let mut out = interfaces.clone();
    if let Some(items) = out.as_array_mut() {
        for (i, iface) in items.iter_mut().enumerate() {
            let at = format!("cloud_interfaces[{i}]");
            let name = nic_name(
                by_mac,
                url,
                &format!("{at}.mac"),
                field(iface, url, &at, "mac")?,
            )?;
            if let Some(m) = iface.as_object_mut() {
                m.insert("name".into(), J::String(name));
            }
        }
    }
    Ok(out)
}

/// The `User-Agent` 22.4 sends: cloud-init's version, the OS and its
/// variant (here the root's os-release `ID`), so Vultr serves vendor-data
/// for the image it boots.
fn user_agent(ctx: &DsContext) -> String {
    let id = ctx
        .fs
        .read_string(std::path::Path::new("/etc/os-release"))
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("ID=")
                    .map(|v| v.trim_matches('"').to_lowercase())
            })
        })
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "linux".into());
    format!("Cloud-Init/22.4 - OS: Linux Variant: {id}")
}

fn read(ctx: &DsContext) -> Result<Instance, DsError> {
    let ds_cfg = ctx.ds_cfg("Vultr");
    let base = cfg_text(&ds_cfg, "url", || "http://169.254.169.254".into());
    let url = format!("{base}/v1.json");
    let agent = cfg_text(&ds_cfg, "user-agent", || user_agent(ctx));
    // DMI or the command line says Vultr: 22.4's timeout 10 s, 30 retries,
    // within two minutes in all.
    let bounds = bounds_with_retries(
        &ds_cfg,
        Waits {
            timeout: 10.0,
            max_wait: 120.0,
        },
        30,
    );
    let _net = ephemeral::bring_up(ctx, &base)?;
    let body = get_url(
        &url,
        &bounds,
        Instant::now() + bounds.max_wait,
        &[("Metadata-Token", "cloudinit"), ("User-Agent", &agent)],
    )?;
    let md = json_object(&url, &body)?;
    let md_json = md.to_json();
    let doc = Doc {
        url: &url,
        value: &md,
    };
    let instance_id = doc.scalar("instance-v2-id")?;
    let mut hostname = doc.scalar("hostname")?;
    let region_doc = doc.mapping("region")?;
    let region = Doc {
        url: &url,
        value: region_doc,
    };
    let region = match region_doc.get("countrycode") {
        Some(_) => region.scalar("countrycode")?,
        None => region.scalar("regioncode")?,
    }
    .to_lowercase();
    let by_mac = ctx.nics.by_mac().map_err(DsError::Platform)?;
    let network = match md_json.get("cloud_interfaces") {
        Some(ifaces) => add_interface_names(ifaces, &url, &by_mac)?,
        None => {
            doc.list("interfaces")?;
            let ifaces = md_json["interfaces"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            generate_network_config(&ifaces, &url, &by_mac)?
        }
    };
    doc.required("vendor-data")?;
    let vendor_data = raw_data(&doc, "vendor-data")?;
    doc.required("user-data")?;
    let user_data = raw_data(&doc, "user-data")?.filter(|u| !u.is_empty());
    if hostname.is_empty() {
        // The default hostname for white-label images.
        hostname = "guest".into();
    }
    let mut metadata = md.as_map().cloned().unwrap_or_default();
    // Not in the meta-data that instance-data.json shows to everyone:
    // Vultr's vendor-data carries the root password, user-data may too
    // (22.4 keeps both there).
    metadata.remove("user-data");
    metadata.remove("vendor-data");
    metadata.insert(Value::str("instance-id"), Value::str(&instance_id));
    metadata.insert(Value::str("local-hostname"), Value::str(hostname));
    metadata.insert(Value::str("region"), Value::str(&region));
    let public_keys = super::configdrive::normalize_pubkeys(md.get("public-keys"));
    Ok(Instance {
        dsname: "Vultr".into(),
        class_name: "DataSourceVultr".into(),
        description: "DataSourceVultr".into(),
        instance_id,
        dsmode: DsMode::Net,
        metadata: Value::Map(metadata),
        user_data_from: user_data.is_some().then(|| format!("{url} (user-data)")),
        user_data,
        vendor_data_from: vendor_data
            .is_some()
            .then(|| format!("{url} (vendor-data)")),
        vendor_data,
        network_config: Some(Value::from_json(&network)),
        public_keys,
        region: Some(region),
        cloud_name: "vultr".into(),
        platform: "vultr".into(),
        subplatform: "unknown".into(),
        ..Default::default()
    })
}

static INFO: DatasourceInfo = DatasourceInfo {
    name: "Vultr",
    aliases: &[],
    summary: "Vultr: one JSON document from 169.254.169.254/v1.json in the local stage, its NICs \
              turned into network config; where DMI, the command line or /etc/vultr says Vultr",
};

impl Datasource for Vultr {
    fn info(&self) -> &'static DatasourceInfo {
        &INFO
    }

    fn detect(&self, ctx: &DsContext) -> Detect {
        Detect::found_if(is_vultr(ctx) || ctx.facts.exists("/etc/vultr"))
    }

    fn get(&self, ctx: &DsContext) -> Found {
        if !is_vultr(ctx) {
            tracing::debug!("Machine is not a Vultr instance");
            return Found {
                instance: None,
                problems: Vec::new(),
            };
        }
        found("Vultr", read(ctx))
    }

    /// 22.4's check as it is: the DMI serial (the subid) against the DMI
    /// system UUID (`instance_id_matches_system_uuid(subid)`), whatever
    /// the cached instance-id; bare metal (no Vultr DMI) cannot tell.
    fn check_instance_id(&self, ctx: &DsContext, _cached_iid: &str) -> bool {
        ctx.facts.dmi("sys_vendor") == Some("Vultr")
            && ctx
                .facts
                .dmi("product_serial")
                .is_some_and(|subid| instance_id_matches_dmi(&ctx.facts, "product_uuid", subid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// tests/fixtures/datasources/vultr: 22.4's own output for `v1.json`.
    #[test]
    fn network_config_is_22_4s() {
        let md: J = serde_json::from_str(include_str!(
            "../../tests/fixtures/datasources/vultr/v1.json"
        ))
        .unwrap();
        let expected: J = serde_json::from_str(include_str!(
            "../../tests/fixtures/datasources/vultr/expected-network.json"
        ))
        .unwrap();
        let by_mac: HashMap<String, String> = [
            ("56:00:03:1b:4e:ca", "eth0"),
            ("5a:00:03:1b:4e:ca", "eth1"),
            ("5a:00:03:1b:4e:cb", "eth2"),
        ]
        .into_iter()
        .map(|(m, n)| (m.to_string(), n.to_string()))
        .collect();
        let ifaces = md["interfaces"].as_array().unwrap();
        assert_eq!(
            generate_network_config(ifaces, "u", &by_mac).unwrap(),
            expected
        );
        let e = generate_network_config(ifaces, "u", &HashMap::new()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "u: no network interface on this machine has the MAC '56:00:03:1b:4e:ca' of 'interfaces[0].mac'"
        );
        let mut no_ipv6 = ifaces.clone();
        no_ipv6[1].as_object_mut().unwrap().remove("ipv6");
        assert_eq!(
            generate_network_config(&no_ipv6, "u", &by_mac)
                .unwrap_err()
                .to_string(),
            "u: no 'interfaces[1].ipv6' in the metadata"
        );
    }
}
