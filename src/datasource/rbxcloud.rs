//! Rootbox / HyperOne (`sources/DataSourceRbxCloud.py`): a FAT disk
//! labelled `CLOUDMD` (or `cloudmd`) holding `cloud.json` and `user.data`,
//! read in place in the local stage. (22.4 mounts it as vfat only, so an
//! ISO with that label is passed over here too.)
//!
//! `cloud.json` gives the instance (`vm._id`, `vm.name`), one network
//! adapter per NIC (`netadp`: MAC, addresses, netmask, gateway, DNS), turned
//! into a v1 network config as 22.4's `generate_network_config` does
//! (`eth<i>` in order, one static subnet per address), and
//! `additionalMetadata` (user name, SSH keys, a SHA-512 password hash),
//! which 22.4 hands over as the datasource's config (`get_config_obj`):
//! the distro's default user with those keys and that hash, passwordless
//! sudo, `ssh_pwauth: true`, `disable_root: true`, and `manage_etc_hosts`
//! true only when the image has no `/etc/hosts`.
//!
//! Not done: the gratuitous ARP 22.4 sends from each address to its
//! gateway (+2, +3) when the datasource is activated (`arping`); the list
//! is worked out (and a bad gateway refused, as 22.4 refuses it) but not
//! sent.

use std::net::Ipv4Addr;

use serde_json::{json, Map, Value as J};

use super::source::{shown, SeedSource};
use super::{Datasource, DatasourceInfo, Detect, DsContext, DsError, Found, Instance};
use crate::value::Value;

pub struct RbxCloud;

const LABELS: &[&str] = &["CLOUDMD", "cloudmd"];

/// A key of `cloud.json`, or a problem naming it.
fn key<'a>(v: &'a J, path: &str, name: &str) -> Result<&'a J, String> {
    v.get(name).ok_or_else(|| format!("no '{name}' in {path}"))
}

/// A string under `key`.
fn text<'a>(v: &'a J, path: &str, name: &str) -> Result<&'a str, String> {
    key(v, path, name)?
        .as_str()
        .ok_or_else(|| format!("'{name}' in {path} is not a string"))
}

/// A list under `key`.
fn list<'a>(v: &'a J, path: &str, name: &str) -> Result<&'a [J], String> {
    key(v, path, name)?
        .as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| format!("'{name}' in {path} is not a list"))
}

/// `generate_network_config`: one `eth<i>` per adapter, in order, with a
/// static subnet per address.
pub fn network_config(netadps: &[J]) -> Result<J, String> {
    let mut config = Vec::new();
    for (i, adp) in netadps.iter().enumerate() {
        let at = format!("netadp[{i}]");
        let net = key(adp, &at, "network")?;
        let net_at = format!("{at}.network");
        let dns = key(net, &net_at, "dns")?;
        let nameservers = key(dns, &format!("{net_at}.dns"), "nameservers")?;
        let mut subnets = Vec::new();
        for (j, ip) in list(adp, &at, "ip")?.iter().enumerate() {
            subnets.push(json!({
                "type": "static",
                "address": key(ip, &format!("{at}.ip[{j}]"), "address")?,
                "netmask": key(net, &net_at, "netmask")?,
                "control": "auto",
                "gateway": key(net, &net_at, "gateway")?,
                "dns_nameservers": nameservers,
            }));
        }
        config.push(json!({
            "type": "physical",
            "name": format!("eth{i}"),
            "mac_address": text(adp, &at, "macaddress")?.to_lowercase(),
            "subnets": subnets,
        }));
    }
    Ok(json!({"version": 1, "config": config}))
}

/// `get_three_ips`' targets for each address (gateway, +2, +3), as 22.4
/// works them out; an address IPv4 cannot hold is refused.
fn gratuitous_arp(netadps: &[J]) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (i, adp) in netadps.iter().enumerate() {
        let at = format!("netadp[{i}]");
        let gateway = text(
            key(adp, &at, "network")?,
            &format!("{at}.network"),
            "gateway",
        )?;
        let gw: Ipv4Addr = gateway
            .parse()
            .map_err(|_| format!("{at}.network.gateway {gateway:?} is not an IPv4 address"))?;
        let plus = |n: u32| {
            u32::from(gw)
                .checked_add(n)
                .map(|a| Ipv4Addr::from(a).to_string())
                .ok_or_else(|| {
                    format!("{at}.network.gateway {gateway} + {n} is past 255.255.255.255")
                })
        };
        let targets = [gateway.to_string(), plus(2)?, plus(3)?];
        for ip in list(adp, &at, "ip")? {
            let source = text(ip, &at, "address")?.to_string();
            out.extend(targets.iter().map(|t| (source.clone(), t.clone())));
        }
    }
    Ok(out)
}

/// What `read_user_data_callback` makes of `cloud.json`: the metadata and
/// the datasource's config. `Ok(None)` when it lacks `vm` or `netadp`
/// (22.4: "Invalid format", the next disk is tried).
pub fn read_cloud_json(
    meta: &J,
    path: &str,
    etc_hosts_exists: bool,
) -> Result<Option<(J, J)>, String> {
    if meta.get("vm").is_none() || meta.get("netadp").is_none() {
        return Ok(None);
    }
    let empty = J::Object(Map::new());
    let extra = meta.get("additionalMetadata").unwrap_or(&empty);
    let username = extra.get("username").cloned().unwrap_or(J::Null);
    let ssh_keys = extra.get("sshKeys").cloned().unwrap_or(json!([]));
    let hash = match extra.get("password") {
        Some(p) if truthy(p) => {
            key(p, &format!("{path}: additionalMetadata.password"), "sha512")?.clone()
        }
        _ => J::Null,
    };
    let netadps = list(meta, path, "netadp")?;
    let network = network_config(netadps).map_err(|e| format!("{path}: {e}"))?;
    let arp = gratuitous_arp(netadps).map_err(|e| format!("{path}: {e}"))?;
    tracing::debug!(
        "RbxCloud: {} gratuitous ARP announcements not sent (arping is not run)",
        arp.len()
    );
    let vm = key(meta, path, "vm")?;
    let metadata = json!({
        "instance-id": key(vm, &format!("{path}: vm"), "_id")?,
        "local-hostname": key(vm, &format!("{path}: vm"), "name")?,
        "public-keys": [],
    });
    let cfg = json!({
        "ssh_pwauth": true,
        "disable_root": true,
        "system_info": {
            "default_user": {
                "name": username,
                "gecos": username,
                "sudo": ["ALL=(ALL) NOPASSWD:ALL"],
                "passwd": hash,
                "lock_passwd": false,
                "ssh_authorized_keys": ssh_keys,
            }
        },
        "network_config": network,
        // `get_manage_etc_hosts`: cloud-init writes /etc/hosts only where
        // the image has none.
        "manage_etc_hosts": !etc_hosts_exists,
    });
    Ok(Some((metadata, cfg)))
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

/// One disk: `Ok(None)` when it is not RbxCloud's (no `cloud.json`, or
/// one without `vm`/`netadp`).
fn read_disk(src: &dyn SeedSource, ctx: &DsContext) -> Result<Option<Instance>, DsError> {
    let Some(raw) = src.read("cloud.json")? else {
        return Ok(None);
    };
    let path = shown(src, "cloud.json");
    let meta: J = serde_json::from_slice(&raw).map_err(|e| DsError::Json {
        file: path.clone(),
        error: e.to_string(),
    })?;
    let etc_hosts = ctx.fs.stat(std::path::Path::new("/etc/hosts")).is_some();
    let Some((metadata, cfg)) = read_cloud_json(&meta, &path, etc_hosts).map_err(DsError::Seed)?
    else {
        tracing::warn!("{path}: Failed to load metadata. Invalid format.");
        return Ok(None);
    };
    let user_data = src.read("user.data")?;
    let network = Value::from_json(&cfg["network_config"]);
    let metadata = Value::from_json(&metadata);
    Ok(Some(Instance {
        dsname: "RbxCloud".into(),
        class_name: "DataSourceRbxCloud".into(),
        // 22.4 never sets `self.seed`.
        description: "DataSourceRbxCloud [seed=None]".into(),
        instance_id: metadata
            .get("instance-id")
            .map(Value::python_str)
            .unwrap_or_else(|| "iid-datasource".into()),
        user_data_from: user_data.is_some().then(|| shown(src, "user.data")),
        user_data,
        network_config: Some(network),
        config: Some(Value::from_json(&cfg)),
        cloud_name: "rbxcloud".into(),
        platform: "rbxcloud".into(),
        // The base class's, for a datasource with no metadata address.
        subplatform: "unknown".into(),
        metadata,
        ..Default::default()
    }))
}

static INFO: DatasourceInfo = DatasourceInfo {
    name: "RbxCloud",
    aliases: &[],
    summary: "Rootbox/HyperOne: the FAT disk labelled `CLOUDMD`/`cloudmd` (`cloud.json`, \
              `user.data`), read in place; network config from its adapters, the default \
              user, keys and password hash as datasource config",
};

impl Datasource for RbxCloud {
    fn info(&self) -> &'static DatasourceInfo {
        &INFO
    }

    /// `dscheck_RbxCloud`: a filesystem labelled `CLOUDMD` or `cloudmd`.
    fn detect(&self, ctx: &DsContext) -> Detect {
        Detect::found_if(ctx.facts.has_label(LABELS))
    }

    fn get(&self, ctx: &DsContext) -> Found {
        let mut problems = Vec::new();
        for src in super::devices::candidates(ctx, LABELS, &mut problems) {
            let fat = ctx
                .facts
                .filesystems()
                .iter()
                .any(|f| f.device == src.describe() && f.fs_type == "vfat");
            if !fat {
                tracing::debug!("{}: not vfat, which 22.4 would not mount", src.describe());
                continue;
            }
            match read_disk(src.as_ref(), ctx) {
                Ok(Some(instance)) => {
                    return Found {
                        instance: Some(instance),
                        problems,
                    }
                }
                Ok(None) => {}
                Err(e) => problems.push(format!("RbxCloud disk {}: {e}", src.describe())),
            }
        }
        Found {
            instance: None,
            problems,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What 22.4's `read_user_data_callback` made of the fixture
    /// (`tests/fixtures/datasources/rbxcloud/make.sh`).
    #[test]
    fn cloud_json_as_22_4_reads_it() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/datasources/rbxcloud"
        );
        let input: J =
            serde_json::from_slice(&std::fs::read(format!("{dir}/cloud.json")).unwrap()).unwrap();
        for (hosts, file) in [(false, "expected.json"), (true, "expected-with-hosts.json")] {
            let want: J =
                serde_json::from_slice(&std::fs::read(format!("{dir}/{file}")).unwrap()).unwrap();
            let (metadata, cfg) = read_cloud_json(&input, "cloud.json", hosts)
                .unwrap()
                .unwrap();
            assert_eq!(metadata, want["metadata"], "{file}");
            assert_eq!(cfg, want["cfg"], "{file}");
            let arp: Vec<J> = gratuitous_arp(input["netadp"].as_array().unwrap())
                .unwrap()
                .into_iter()
                .map(|(s, d)| json!({"source": s, "destination": d}))
                .collect();
            assert_eq!(J::Array(arp), want["gratuitous_arp"]);
        }
    }

    #[test]
    fn missing_keys_are_named() {
        let meta =
            json!({"vm": {"_id": "x", "name": "h"}, "netadp": [{"macaddress": "AA", "ip": []}]});
        assert_eq!(
            read_cloud_json(&meta, "/dev/vdb/cloud.json", true).unwrap_err(),
            "/dev/vdb/cloud.json: no 'network' in netadp[0]"
        );
        assert_eq!(read_cloud_json(&json!({"vm": {}}), "c", true), Ok(None));
    }
}
