//! Scaleway (`sources/DataSourceScaleway.py`).
//!
//! Found as ds-identify's `dscheck_Scaleway`: DMI `sys_vendor` `Scaleway`,
//! the word `scaleway` on the kernel command line, or `/var/run/scaleway`
//! (which Scaleway's initrd makes). In the local stage (22.4 depends on
//! the filesystem only and brings up ephemeral DHCP) it reads
//! `http://169.254.42.42/conf?format=json` (id, hostname,
//! ssh_public_keys, tags, ipv6), then user-data and vendor-data from
//! `/user_data/cloud-init` and `/vendor_data/cloud-init`, which Scaleway
//! serves only to a client port below 1024 (only root can bind one): each
//! is asked for from port 1, then 2, ... (22.4's `SourceAddressAdapter`
//! loop), the next port when one is in use or the answer is an error; 404
//! means none. The network config is DHCP on the fallback NIC, plus the
//! metadata's static IPv6 and its default route.
//!
//! Unlike 22.4, an `AUTHORIZED_KEY=<key with _ for spaces>` tag gives the
//! key after the `=` (22.4's `tag[:plen]` gives the literal
//! `AUTHORIZED KEY=` instead, a bug later releases fixed). Not done:
//! Scaleway's `default_update_events` (the network config rendered again
//! on every boot): events.rs has one default for all datasources.

use std::time::{Duration, Instant};

use serde_json::json;

use super::service::{bounds_with_retries, cfg_text, found, get_url, json_object, Doc, Waits};
use super::{
    ephemeral, Datasource, DatasourceInfo, Detect, DsContext, DsError, DsMode, Found, Instance,
    MAX_USER_DATA,
};
use crate::http::{self, HttpError, Limits, Via};
use crate::value::Value;

pub struct Scaleway;

const DS_BASE_URL: &str = "http://169.254.42.42";

/// ds-identify's `dscheck_Scaleway` (22.4's `on_scaleway` looks for the
/// word anywhere in the command line; ds-identify, which runs first, for a
/// word).
fn on_scaleway(ctx: &DsContext) -> bool {
    ctx.facts.dmi("sys_vendor") == Some("Scaleway")
        || ctx
            .facts
            .cmdline()
            .split_whitespace()
            .any(|w| w == "scaleway")
        || ctx.facts.exists("/var/run/scaleway")
}

/// `query_data_api`: user-data or vendor-data from a privileged source
/// port, the next port when one fails; `None` on 404.
fn query_data_api(
    kind: &str,
    url: &str,
    retries: usize,
    timeout: Duration,
    deadline: Instant,
) -> Result<Option<Vec<u8>>, DsError> {
    let mut last = None;
    // Privileged ports only: 22.4 counts up to `retries`, at least one try.
    for port in 1..retries.clamp(2, 1024) as u16 {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            break;
        };
        let limits = Limits {
            connect_timeout: timeout.min(left),
            total_timeout: timeout.min(left),
            max_body: MAX_USER_DATA,
        };
        tracing::debug!("Trying to get {kind} data (bind on port {port})...");
        let error = match http::request_via("GET", url, &[], None, &limits, &Via::SourcePort(port))
        {
            Ok(r) if r.ok() => return Ok(Some(r.body)),
            Ok(r) if r.status == 404 => return Ok(None),
            Ok(r) => DsError::HttpStatus {
                url: url.to_string(),
                status: r.status,
            },
            // Another port at once: this one is taken.
            Err(e @ HttpError::AddressInUse(..)) => {
                last = Some(DsError::Http(e));
                continue;
            }
            Err(e) => DsError::Http(e),
        };
        tracing::warn!("Error while trying to get {kind} data: {error}");
        last = Some(error);
        // 22.4 pauses 5 s before the next port (a 429, a busy service).
        let pause = Duration::from_secs(5).min(deadline.saturating_duration_since(Instant::now()));
        std::thread::sleep(pause);
    }
    Err(last.unwrap_or_else(|| DsError::Service(format!("{url}: no answer in time"))))
}

/// `get_public_ssh_keys`: `ssh_public_keys[].key`, then each
/// `AUTHORIZED_KEY=` tag (its `_` are spaces).
fn public_keys(doc: &Doc) -> Result<Vec<String>, DsError> {
    let mut keys = Vec::new();
    for (i, k) in doc.list("ssh_public_keys")?.iter().enumerate() {
        let key = Doc {
            url: doc.url,
            value: k,
        };
        keys.push(key.scalar("key").map_err(|_| DsError::MissingKey {
            url: doc.url.to_string(),
            key: format!("ssh_public_keys[{i}].key"),
        })?);
    }
    for tag in doc.value.get("tags").and_then(Value::as_seq).unwrap_or(&[]) {
        if let Some(key) = tag.as_str().and_then(|t| t.strip_prefix("AUTHORIZED_KEY=")) {
            keys.push(key.replace('_', " "));
        }
    }
    Ok(keys)
}

/// `network_config`: DHCP on the fallback NIC, plus the static IPv6 the
/// metadata gives, with its default route.
fn network_config(md: &Value, fallback: &str) -> Value {
    let mut subnets = vec![json!({"type": "dhcp4"})];
    if let Some(v6) = md.get("ipv6").filter(|v| v.truthy()) {
        let field = |k: &str| {
            v6.get(k)
                .map(Value::python_str)
                .unwrap_or_else(|| "None".into())
        };
        subnets.push(json!({
            "type": "static",
            "address": field("address"),
            "netmask": field("netmask"),
            "routes": [{"network": "::", "prefix": "0", "gateway": field("gateway")}],
        }));
    }
    Value::from_json(&json!({
        "version": 1,
        "config": [{"type": "physical", "name": fallback, "subnets": subnets}],
    }))
}

fn read(ctx: &DsContext) -> Result<Instance, DsError> {
    let ds_cfg = ctx.ds_cfg("Scaleway");
    let url = |key: &str, path: &str| cfg_text(&ds_cfg, key, || format!("{DS_BASE_URL}{path}"));
    let metadata_url = url("metadata_url", "/conf?format=json");
    let userdata_url = url("userdata_url", "/user_data/cloud-init");
    let vendordata_url = url("vendordata_url", "/vendor_data/cloud-init");
    // The platform says Scaleway: 22.4's DEF_MD_TIMEOUT 10 s, DEF_MD_RETRIES 5.
    let bounds = bounds_with_retries(
        &ds_cfg,
        Waits {
            timeout: 10.0,
            max_wait: 60.0,
        },
        5,
    );
    let _net = ephemeral::bring_up(ctx, &metadata_url)?;
    let body = get_url(
        &metadata_url,
        &bounds,
        Instant::now() + bounds.max_wait,
        &[],
    )?;
    let md = json_object(&metadata_url, &body)?;
    let retries = bounds.retries;
    let user_data = query_data_api(
        "user-data",
        &userdata_url,
        retries,
        bounds.timeout,
        Instant::now() + bounds.max_wait,
    )?;
    let vendor_data = query_data_api(
        "vendor-data",
        &vendordata_url,
        retries,
        bounds.timeout,
        Instant::now() + bounds.max_wait,
    )?;
    let doc = Doc {
        url: &metadata_url,
        value: &md,
    };
    let instance_id = doc.scalar("id")?;
    let hostname = doc.required("hostname")?.clone();
    let public_keys = public_keys(&doc)?;
    let network = match ctx.nics.fallback() {
        Some(nic) => Some(network_config(&md, &nic)),
        None => {
            tracing::warn!("Scaleway: no NIC to configure (no fallback NIC)");
            None
        }
    };
    // The hostname is the metadata's `hostname` (22.4's `get_hostname`).
    let mut metadata = md.as_map().cloned().unwrap_or_default();
    metadata.insert(Value::str("local-hostname"), hostname);
    Ok(Instance {
        dsname: "Scaleway".into(),
        class_name: "DataSourceScaleway".into(),
        description: "DataSourceScaleway".into(),
        instance_id,
        dsmode: DsMode::Net,
        metadata: Value::Map(metadata),
        user_data_from: user_data.is_some().then(|| userdata_url.clone()),
        user_data,
        vendor_data_from: vendor_data.is_some().then(|| vendordata_url.clone()),
        vendor_data,
        network_config: network,
        public_keys,
        cloud_name: "scaleway".into(),
        platform: "scaleway".into(),
        subplatform: format!("metadata ({metadata_url})"),
        ..Default::default()
    })
}

static INFO: DatasourceInfo = DatasourceInfo {
    name: "Scaleway",
    aliases: &[],
    summary: "Scaleway: conf?format=json from 169.254.42.42 in the local stage, user-data and \
              vendor-data from a privileged source port; where DMI, the command line or \
              /var/run/scaleway says Scaleway",
};

impl Datasource for Scaleway {
    fn info(&self) -> &'static DatasourceInfo {
        &INFO
    }

    fn detect(&self, ctx: &DsContext) -> Detect {
        Detect::found_if(on_scaleway(ctx))
    }

    fn get(&self, ctx: &DsContext) -> Found {
        found("Scaleway", read(ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_the_list_and_the_tags() {
        let md = Value::from_json(&json!({
            "ssh_public_keys": [{"key": "ssh-rsa AAAA one"}],
            "tags": ["web", "AUTHORIZED_KEY=ssh-ed25519_AAAA_two"],
        }));
        let doc = Doc {
            url: "u",
            value: &md,
        };
        assert_eq!(
            public_keys(&doc).unwrap(),
            ["ssh-rsa AAAA one", "ssh-ed25519 AAAA two"]
        );
    }

    #[test]
    fn ipv6_adds_a_static_subnet_and_its_default_route() {
        let md = Value::from_json(&json!({
            "ipv6": {"address": "2001:db8::2", "netmask": "64", "gateway": "2001:db8::1"}
        }));
        assert_eq!(
            network_config(&md, "eth0").to_json(),
            json!({"version": 1, "config": [{"type": "physical", "name": "eth0", "subnets": [
                {"type": "dhcp4"},
                {"type": "static", "address": "2001:db8::2", "netmask": "64",
                 "routes": [{"network": "::", "prefix": "0", "gateway": "2001:db8::1"}]}
            ]}]})
        );
        assert_eq!(
            network_config(&Value::from_json(&json!({"ipv6": null})), "eth0").to_json(),
            json!({"version": 1, "config": [{"type": "physical", "name": "eth0",
                   "subnets": [{"type": "dhcp4"}]}]})
        );
    }
}
