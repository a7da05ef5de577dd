//! EC2's network config from IMDS: 22.4's
//! `convert_ec2_metadata_network_config` (with `get_secondary_addresses`)
//! over the crawled `meta-data/network/interfaces/macs/<mac>/` tree and the
//! machine's MAC -> NIC map, giving network config version 2.
//!
//! - Full (`datasource.Ec2.apply_full_imds_network_config`, default true):
//!   every NIC the metadata lists and the machine has, in MAC order, DHCPv4
//!   (DHCPv6 too when it has `ipv6s`), matched by MAC and named as it is,
//!   with the route metric `(device-number + 1) * 100` in
//!   `dhcp4-overrides`/`dhcp6-overrides` (dropped when there is only one
//!   NIC) and its secondary addresses (every `local-ipv4s` / `ipv6s` entry
//!   but the first) as static `addresses`, with the prefix of
//!   `subnet-ipv4-cidr-block` / `subnet-ipv6-cidr-block` (else /24, /128).
//! - Otherwise: the fallback NIC alone, DHCPv4 (and DHCPv6 with `ipv6s`).
//!
//! Expected outputs of 22.4's own function on IMDS trees are in
//! `tests/fixtures/datasources/ec2-network/` (with the script that made
//! them).

use std::collections::HashMap;

use serde_json::{json, Map, Value as J};

/// The v2 config, or why there is none (22.4 raises where this says why).
pub fn convert(
    network_md: &J,
    macs_to_nics: &HashMap<String, String>,
    fallback_nic: Option<&str>,
    full_network_config: bool,
) -> Result<J, String> {
    let macs_metadata = network_md
        .get("interfaces")
        .and_then(|i| i.get("macs"))
        .and_then(J::as_object)
        .ok_or("meta-data network has no interfaces/macs")?;
    let mut ethernets = Map::new();
    if !full_network_config {
        // 22.4 walks the map until the fallback NIC (the last entry when
        // none is); here the entries are in MAC order.
        let mut sorted: Vec<(&String, &String)> = macs_to_nics.iter().collect();
        sorted.sort();
        let (mac, nic_name) = sorted
            .iter()
            .find(|(_, nic)| Some(nic.as_str()) == fallback_nic)
            .or(sorted.last())
            .copied()
            .ok_or("no NIC on this machine")?;
        let nic_metadata = macs_metadata
            .get(mac)
            .ok_or_else(|| format!("meta-data network has no entry for {mac} ({nic_name})"))?;
        let mut dev = Map::new();
        dev.insert("dhcp4".into(), J::Bool(true));
        dev.insert("dhcp6".into(), J::Bool(false));
        dev.insert("match".into(), json!({"macaddress": mac.to_lowercase()}));
        dev.insert("set-name".into(), J::from(nic_name.as_str()));
        if truthy(nic_metadata.get("ipv6s")) {
            dev.insert("dhcp6".into(), J::Bool(true));
        }
        ethernets.insert(nic_name.clone(), J::Object(dev));
        return Ok(json!({"version": 2, "ethernets": ethernets}));
    }
    let mut sorted: Vec<(&String, &String)> = macs_to_nics.iter().collect();
    sorted.sort();
    let mut nic_idx: i64 = 0;
    for (mac, nic_name) in sorted {
        let Some(nic_metadata) = macs_metadata.get(mac).filter(|m| truthy(Some(m))) else {
            continue; // not a NIC the metadata describes
        };
        // device-number is zero-indexed; the metric is one-indexed.
        nic_idx = match nic_metadata.get("device-number") {
            None => nic_idx,
            Some(d) => {
                py_int(d).ok_or_else(|| format!("device-number of {mac} is not an integer: {d}"))?
            }
        } + 1;
        let dhcp_override = json!({"route-metric": nic_idx * 100});
        let mut dev = Map::new();
        dev.insert("dhcp4".into(), J::Bool(true));
        dev.insert("dhcp4-overrides".into(), dhcp_override.clone());
        dev.insert("dhcp6".into(), J::Bool(false));
        dev.insert("match".into(), json!({"macaddress": mac.to_lowercase()}));
        dev.insert("set-name".into(), J::from(nic_name.as_str()));
        if truthy(nic_metadata.get("ipv6s")) {
            dev.insert("dhcp6".into(), J::Bool(true));
            dev.insert("dhcp6-overrides".into(), dhcp_override);
        }
        let addresses = secondary_addresses(nic_metadata, mac);
        if !addresses.is_empty() {
            dev.insert("addresses".into(), J::from(addresses));
        }
        ethernets.insert(nic_name.clone(), J::Object(dev));
    }
    // Route metrics only matter between NICs.
    if ethernets.len() == 1 {
        for dev in ethernets.values_mut() {
            if let Some(d) = dev.as_object_mut() {
                d.remove("dhcp4-overrides");
                d.remove("dhcp6-overrides");
            }
        }
    }
    Ok(json!({"version": 2, "ethernets": ethernets}))
}

/// `get_secondary_addresses`: every address after the first, as CIDRs,
/// sorted as strings (IPv4 and IPv6 together, as 22.4 sorts them).
fn secondary_addresses(nic_metadata: &J, mac: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (ips_key, cidr_key, default_prefix) in [
        ("local-ipv4s", "subnet-ipv4-cidr-block", "24"),
        ("ipv6s", "subnet-ipv6-cidr-block", "128"),
    ] {
        // Before 2018-09-24 the list is one address (a string).
        let Some(ips) = nic_metadata.get(ips_key).and_then(J::as_array) else {
            continue;
        };
        if ips.len() < 2 {
            continue;
        }
        let cidr = nic_metadata.get(cidr_key).and_then(J::as_str);
        let prefix = match cidr.map(|c| c.split('/').collect::<Vec<_>>()) {
            Some(parts) if parts.len() == 2 => parts[1].to_string(),
            _ => {
                let ip_type = if cidr_key.contains("ipv4") {
                    "ipv4"
                } else {
                    "ipv6"
                };
                tracing::warn!(
                    "Could not parse {cidr_key} {} for mac {mac}. {ip_type} network config prefix defaults to /{default_prefix}",
                    cidr.unwrap_or("None")
                );
                default_prefix.to_string()
            }
        };
        for ip in &ips[1..] {
            let ip = ip
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| ip.to_string());
            out.push(format!("{ip}/{prefix}"));
        }
    }
    out.sort();
    out
}

/// Python truth of a metadata value (missing is false).
fn truthy(v: Option<&J>) -> bool {
    v.is_some_and(crate::py::truth::json_truthy)
}

/// `int()` of a metadata value (IMDS leaves are text).
fn py_int(v: &J) -> Option<i64> {
    match v {
        J::Number(n) => n.as_i64(),
        J::String(s) => crate::py::int::parse(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every case of the fixtures, against what 22.4's function gave.
    #[test]
    fn as_22_4_converts_the_fixture_trees() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/datasources/ec2-network");
        let cases: J =
            serde_json::from_slice(&std::fs::read(dir.join("cases.json")).unwrap()).unwrap();
        let expected: J =
            serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
        let cases = cases.as_object().unwrap();
        assert!(cases.len() >= 5);
        for (name, case) in cases {
            let macs: HashMap<String, String> =
                serde_json::from_value(case["macs_to_nics"].clone()).unwrap();
            let got = convert(
                &case["network_md"],
                &macs,
                case["fallback_nic"].as_str(),
                case["full_network_config"].as_bool().unwrap(),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(got, expected[name], "{name}");
        }
    }
}
