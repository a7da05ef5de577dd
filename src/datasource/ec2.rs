//! EC2 instance metadata (`sources/DataSourceEc2.py`, `helpers/ec2.py`).
//!
//! IMDSv2 first (`PUT /latest/api/token` with a TTL header, then the token on
//! every request), IMDSv1 when the service does not do tokens. The API
//! version is the newest of cloud-init's list that answers. The `meta-data/`
//! tree is crawled as cloud-init's `MetadataMaterializer` does it (`k/` is a
//! directory, `0=name` under `public-keys/` a key, JSON-looking leaves
//! parsed, multi-line leaves split), bounded in entries and depth.
//!
//! In the local stage this is 22.4's `DataSourceEc2Local` (on AWS and
//! Outscale only): the service is read over an ephemeral DHCP network
//! (`ephemeral::bring_up_dhcp`), and the instance is `DataSourceEc2Local`'s.
//!
//! Without ds-identify to narrow the search, polling a link-local address on
//! a cloud that has none would cost the whole `max_wait`; so Ec2 is tried
//! where DMI says EC2 (or an EC2-compatible cloud), or where the config asks
//! for it (`datasource_list` set by a config file, or `metadata_urls`).

mod network;

use serde_json::{Map, Value as J};

use super::ephemeral;
use super::service::{metadata_urls, Bounds, Client, Miss, Waits};
use super::{
    BlockDevices, Datasource, DatasourceInfo, Detect, DsContext, DsError, DsMode, Found, Instance,
};
use crate::schedule::Stage;
use crate::sysnet::SysNet;
use crate::value::Value;

pub struct Ec2;

/// API versions cloud-init 22.4 tries, newest first; 2009-04-04 is the floor.
const API_VERSIONS: &[&str] = &["2021-03-23", "2018-09-24", "2016-09-02"];
const MIN_VERSION: &str = "2009-04-04";
const TOKEN_TTL_HEADER: &str = "X-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "X-aws-ec2-metadata-token";
/// Entries crawled at most, and directory depth: a hostile service could
/// otherwise list forever.
const MAX_ENTRIES: usize = 5000;
const MAX_DEPTH: usize = 10;

/// The platform, from DMI under the root (ds-identify's `ec2_identify_platform`).
fn platform(ctx: &DsContext) -> Option<&'static str> {
    let facts = &ctx.facts;
    let starts_ec2 = |v: Option<&str>| v.is_some_and(|s| s.to_ascii_lowercase().starts_with("ec2"));
    if starts_ec2(facts.dmi("product_uuid"))
        || starts_ec2(facts.dmi("product_serial"))
        || starts_ec2(facts.hypervisor_uuid().as_deref())
        || facts
            .dmi("sys_vendor")
            .is_some_and(|v| v.contains("Amazon"))
    {
        return Some("aws");
    }
    if facts
        .dmi("product_serial")
        .is_some_and(|s| s.ends_with("brightbox.com"))
    {
        return Some("brightbox");
    }
    if facts
        .dmi("product_name")
        .is_some_and(|p| p.starts_with("3DS Outscale"))
    {
        return Some("outscale");
    }
    None
}

/// The config asks for Ec2 itself: a `datasource_list` other than the
/// built-in one naming it, or `datasource.Ec2.metadata_urls`.
fn requested(ctx: &DsContext) -> bool {
    let names: Option<Vec<String>> = ctx
        .cfg
        .get("datasource_list")
        .and_then(Value::as_seq)
        .map(|l| l.iter().map(Value::python_str).collect());
    // The builtin list is the registry's, in its order.
    let explicit =
        names.is_some_and(|n| n != super::registry::default_list() && n.iter().any(|d| d == "Ec2"));
    explicit || ctx.ds_cfg("Ec2").get("metadata_urls").is_some()
}

/// `MetadataLeafDecoder`: JSON objects parsed, multi-line text split.
fn decode_leaf(blob: &[u8]) -> J {
    let text = match std::str::from_utf8(blob) {
        Ok(t) => t,
        Err(_) => return J::String(crate::base64::encode(blob)),
    };
    let t = text.trim();
    if t.starts_with('{') && t.ends_with('}') {
        if let Ok(v) = serde_json::from_str(t) {
            return v;
        }
    }
    if text.contains('\n') {
        return J::Array(text.lines().map(|l| J::String(l.to_string())).collect());
    }
    J::String(text.to_string())
}

/// `MetadataMaterializer._materialize` for one directory.
fn crawl(client: &Client, path: &str, depth: usize, budget: &mut usize) -> Result<J, DsError> {
    if depth > MAX_DEPTH {
        return Err(DsError::TooDeep {
            path: path.to_string(),
            max: MAX_DEPTH,
        });
    }
    let listing = match client.get(path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(Miss::NotFound) => String::new(),
        Err(Miss::Failed(e)) => return Err(DsError::Service(e)),
    };
    let mut children = Vec::new();
    let mut leaves: Vec<(String, String)> = Vec::new();
    for line in listing.lines() {
        let field = line.trim();
        let name = field.trim_end_matches('/');
        if field.is_empty() || name.is_empty() || name == "security-credentials" {
            continue;
        }
        *budget = budget
            .checked_sub(1)
            .ok_or(DsError::TooManyEntries(MAX_ENTRIES))?;
        if field.ends_with('/') {
            if !children.contains(&name.to_string()) {
                children.push(name.to_string());
            }
        } else {
            // `0=my-key` under public-keys: the key is at `0/openssh-key`.
            let (leaf, resource) = match field.split_once('=') {
                Some((idx, key)) if idx.parse::<u64>().is_ok() => {
                    (key.to_string(), format!("{idx}/openssh-key"))
                }
                _ => (name.to_string(), name.to_string()),
            };
            leaves.push((leaf, resource));
        }
    }
    let mut out = Map::new();
    for c in children {
        let v = crawl(client, &format!("{path}{c}/"), depth + 1, budget)?;
        out.insert(c, v);
    }
    for (field, resource) in leaves {
        if out.contains_key(&field) {
            tracing::warn!("Duplicate key found in results from {path}");
            continue;
        }
        let blob = match client.get(&format!("{path}{resource}")) {
            Ok(b) => b,
            Err(Miss::NotFound) => Vec::new(),
            Err(Miss::Failed(e)) => return Err(DsError::Service(e)),
        };
        out.insert(
            field,
            if blob.is_empty() {
                J::String(String::new())
            } else {
                decode_leaf(&blob)
            },
        );
    }
    Ok(J::Object(out))
}

/// The `meta-data/` tree and the user-data (`None` on 404) of one API
/// version, at a service that has answered (`ec2.get_instance_userdata`,
/// `ec2.get_instance_metadata`), crawled as Ec2 crawls it: for the clouds
/// that serve EC2's API without its token or identity document (AliYun,
/// Exoscale, CloudStack).
pub(super) fn read_meta_and_user_data(
    client: &Client,
    version: &str,
) -> Result<(J, Option<Vec<u8>>), DsError> {
    let user_data = match client.get(&format!("{version}/user-data")) {
        Ok(b) => Some(b),
        Err(Miss::NotFound) => None,
        Err(Miss::Failed(e)) => return Err(DsError::Service(e)),
    };
    let mut budget = MAX_ENTRIES;
    let md = crawl(client, &format!("{version}/meta-data/"), 0, &mut budget)?;
    Ok((md, user_data))
}

impl Ec2 {
    /// Talks to one base URL; `Ok(None)` when no service answers there.
    pub(super) fn from_service(
        base: &str,
        bounds: &Bounds,
        discovery: std::time::Instant,
        cloud: &str,
    ) -> Result<Option<Instance>, DsError> {
        let mut client = Client::new(base, bounds.clone(), discovery);
        // IMDSv2 token; a service without tokens (404/405/400) is IMDSv1.
        match client.request("PUT", "latest/api/token", &[(TOKEN_TTL_HEADER, "21600")]) {
            Ok(r) if r.ok() => {
                let token = String::from_utf8_lossy(&r.body).trim().to_string();
                client.with_header(TOKEN_HEADER, &token);
            }
            Ok(r) if r.status == 403 => return Err(DsError::TokenRefused),
            Ok(_) => tracing::debug!("{base}: no IMDSv2 token; using IMDSv1"),
            Err(Miss::Failed(e)) => {
                tracing::debug!("{base}: {e}");
                return Ok(None);
            }
            Err(Miss::NotFound) => {}
        }
        let version = API_VERSIONS
            .iter()
            .find(|v| client.get(&format!("{v}/meta-data/instance-id")).is_ok())
            .copied()
            .unwrap_or(MIN_VERSION);
        if version == MIN_VERSION {
            match client.get(&format!("{MIN_VERSION}/meta-data/instance-id")) {
                Ok(_) => {}
                Err(Miss::NotFound) => return Ok(None),
                Err(Miss::Failed(e)) => {
                    tracing::debug!("{base}: {e}");
                    return Ok(None);
                }
            }
        }
        let mut budget = MAX_ENTRIES;
        let md_json = crawl(&client, &format!("{version}/meta-data/"), 0, &mut budget)?;
        let user_data = match client.get(&format!("{version}/user-data")) {
            Ok(b) => Some(b),
            Err(Miss::NotFound) => None,
            Err(Miss::Failed(e)) => return Err(DsError::Service(e)),
        };
        let identity = client
            .get(&format!("{version}/dynamic/instance-identity/document"))
            .ok()
            .and_then(|b| serde_json::from_slice::<J>(&b).ok());
        let md = Value::from_json(&md_json);
        let instance_id = md
            .get("instance-id")
            .map(Value::python_str)
            .ok_or(DsError::NoInstanceId)?;
        let az = md
            .get("placement")
            .and_then(|p| p.get("availability-zone"))
            .map(Value::python_str);
        let region = identity
            .as_ref()
            .and_then(|d| d.get("region"))
            .and_then(J::as_str)
            .map(str::to_string)
            .or_else(|| {
                az.as_ref()
                    .filter(|a| a.len() > 1)
                    .map(|a| a[..a.len() - 1].to_string())
            });
        // The launch index filters user-data parts (`ami-launch-index`).
        let mut metadata = md.as_map().cloned().unwrap_or_default();
        if let Some(idx) = md
            .get("ami-launch-index")
            .and_then(|i| i.python_str().parse::<i64>().ok())
        {
            metadata.insert(Value::str("launch-index"), Value::Int(idx));
        }
        let public_keys = super::configdrive::normalize_pubkeys(md.get("public-keys"));
        Ok(Some(Instance {
            dsname: "Ec2".into(),
            class_name: "DataSourceEc2".into(),
            description: "DataSourceEc2".into(),
            instance_id,
            dsmode: DsMode::Net,
            metadata: Value::Map(metadata),
            user_data_from: user_data
                .is_some()
                .then(|| client.url(&format!("{version}/user-data"))),
            user_data,
            public_keys,
            availability_zone: az,
            region,
            ec2_metadata: Some(md_json),
            cloud_name: cloud.to_string(),
            platform: "ec2".into(),
            subplatform: format!("metadata ({base})"),
            ..Default::default()
        }))
    }
}

/// `DataSourceEc2.network_config`: the meta-data's `network` tree
/// converted ([`network::convert`]) with the MACs of the root's
/// `/sys/class/net` (`get_interfaces_by_mac`) and its fallback NIC, as the
/// network step resolves every other datasource's config. `None` (the
/// fallback config applies) without a `network` tree, or where the root
/// shows no NICs (a scratch root: 22.4 always runs on the machine); an
/// error (where 22.4 raises) for a tree it cannot convert.
fn network_config(ctx: &DsContext, ds_cfg: &Value, md: &J) -> Result<Option<Value>, String> {
    let Some(net_md) = md.get("network").filter(|n| n.is_object()) else {
        tracing::debug!("Metadata 'network' key not valid: {:?}.", md.get("network"));
        return Ok(None);
    };
    let sys = SysNet::read(ctx.fs);
    if sys.ifaces.is_empty() {
        tracing::debug!("Ec2 network config: the root's /sys/class/net lists no NIC");
        return Ok(None);
    }
    let macs = sys.interfaces_by_mac(&[]).map_err(|e| e.to_string())?.macs;
    let fallback = sys.fallback_nic(&[]);
    let full = ds_cfg.get_bool("apply_full_imds_network_config", true);
    network::convert(net_md, &macs, fallback.as_deref(), full)
        .map(|cfg| Some(Value::from_json(&cfg)))
}

static INFO: DatasourceInfo = DatasourceInfo {
    name: "Ec2",
    aliases: &[],
    summary: "EC2 IMDS (IMDSv2 token, IMDSv1 fallback); tried only where DMI or the config says \
              so, every request bounded, with an overall `max_wait`; in the local stage \
              `Ec2Local` on AWS and Outscale, over ephemeral DHCP",
};

impl Datasource for Ec2 {
    fn info(&self) -> &'static DatasourceInfo {
        &INFO
    }

    /// `DataSourceEc2.device_name_to_device`: the meta-data's
    /// `block-device-mapping`.
    fn block_devices(&self, instance: &Instance) -> BlockDevices {
        BlockDevices::from_ec2_metadata(instance.metadata.get("block-device-mapping"))
    }

    /// Found where DMI names an EC2 platform; otherwise tried only when
    /// the config asks for Ec2 itself.
    fn detect(&self, ctx: &DsContext) -> Detect {
        if platform(ctx).is_some() {
            Detect::Found
        } else if requested(ctx) {
            Detect::Maybe
        } else {
            Detect::NotFound
        }
    }

    fn get(&self, ctx: &DsContext) -> Found {
        let mut problems = Vec::new();
        let cloud = platform(ctx);
        let local = ctx.stage == Stage::Local;
        // DataSourceEc2Local.get_data: the local stage only on AWS and
        // Outscale (`_get_cloud_name`); elsewhere the network stage reads it.
        if local && !matches!(cloud, Some("aws" | "outscale")) {
            tracing::debug!(
                "Local Ec2 mode only supported on aws and outscale, not {}",
                cloud.unwrap_or("unknown")
            );
            return Found {
                instance: None,
                problems,
            };
        }
        let ds_cfg = ctx.ds_cfg("Ec2");
        // On a platform DMI names, cloud-init's `url_timeout` 50 and
        // `url_max_wait` 120: the service is there, and a loaded host may
        // answer its first request late (a VM test lost EC2 to a 0.5 s
        // timeout). Asked for by config alone: about a second.
        let waits = if cloud.is_some() {
            Waits {
                timeout: 50.0,
                max_wait: 120.0,
            }
        } else {
            Waits::UNCONFIRMED
        };
        let bounds = Bounds::from_cfg(&ds_cfg, waits);
        let defaults = ["http://169.254.169.254", "http://[fd00:ec2::254]"];
        let urls = metadata_urls(&ds_cfg, &defaults);
        // `perform_dhcp_setup` (Ec2Local): the local stage has no network
        // yet; the guard holds one while the service is read. As 22.4, no
        // lease means the datasource is not found in this stage.
        let _network = match ephemeral::bring_up_dhcp(ctx) {
            Ok(net) => net,
            Err(e) => {
                tracing::debug!("Ec2Local: {e}");
                return Found {
                    instance: None,
                    problems,
                };
            }
        };
        let discovery = std::time::Instant::now() + bounds.max_wait;
        for base in urls {
            match Self::from_service(&base, &bounds, discovery, cloud.unwrap_or("unknown")) {
                Ok(Some(mut instance)) => {
                    if local {
                        instance.class_name = "DataSourceEc2Local".into();
                        instance.description = "DataSourceEc2Local".into();
                    }
                    let md = instance.ec2_metadata.as_ref();
                    match md.map(|md| network_config(ctx, &ds_cfg, md)) {
                        Some(Ok(cfg)) => instance.network_config = cfg,
                        Some(Err(e)) => {
                            problems.push(format!("Ec2 metadata at {base}: meta-data/network: {e}"))
                        }
                        None => {}
                    }
                    return Found {
                        instance: Some(instance),
                        problems,
                    };
                }
                Ok(None) => tracing::debug!("Ec2: no metadata service at {base}"),
                Err(e) => problems.push(format!("Ec2 metadata at {base}: {e}")),
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

    #[test]
    fn leaves_decode_like_cloud_init() {
        assert_eq!(decode_leaf(b"i-123"), J::from("i-123"));
        assert_eq!(decode_leaf(b"a\nb"), serde_json::json!(["a", "b"]));
        assert_eq!(decode_leaf(b" {\"x\": 1} "), serde_json::json!({"x": 1}));
    }
}
