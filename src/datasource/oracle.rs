//! Oracle Cloud Infrastructure (`sources/DataSourceOracle.py`): the
//! `/opc/v2/` metadata routes on 169.254.169.254 with `Authorization:
//! Bearer Oracle`, or `/opc/v1/` without it when v2 fails. `instance/`
//! gives identity, hostname, keys and user-data (base64); `vnics/` gives
//! the NICs, each configured by MAC with OCI's MTU of 9000: the primary
//! with DHCP, the others with their private address (22.4 does the others
//! too whenever it configures the primary from IMDS;
//! `datasource.Oracle.configure_secondary_nics` matters on an iSCSI root).
//!
//! A local-stage datasource only (22.4's DEP_FILESYSTEM): the metadata is
//! read inside [`ephemeral::bring_up`](super::ephemeral::bring_up).
//!
//! Not as 22.4: on an iSCSI root (klibc's `/run/net-*.conf` present) 22.4
//! takes the primary NIC's config from those files; cloudboot does not read
//! them, so there it gives no network config and the engine's fallback
//! applies. `_ensure_netfailover_safe` (net_failover masters) is not done.

use serde_json::{json, Value as J};

use super::service::{Bounds, Client, Miss, Waits};
use super::{Datasource, DatasourceInfo, Detect, DsContext, DsError, DsMode, Found, Instance};
use crate::value::{Mapping, Value};

pub struct Oracle;

const CHASSIS_ASSET_TAG: &str = "OracleCloud.com";
const METADATA_HOST: &str = "http://169.254.169.254";
const V2_HEADER: (&str, &str) = ("Authorization", "Bearer Oracle");
/// OCI uses jumbo frames within its network.
const MTU: u64 = 9000;
/// The metadata the system UUID is kept under, for `check_instance_id`
/// (22.4 keeps it on the pickled datasource object).
const SYSTEM_UUID_KEY: &str = "system-uuid";

static INFO: DatasourceInfo = DatasourceInfo {
    name: "Oracle",
    aliases: &[],
    summary: "Oracle Cloud Infrastructure: /opc/v2/ with its bearer header (v1 fallback), \
              instance and VNIC data, in the local stage; tried only where DMI's chassis asset tag \
              says OracleCloud.com",
};

/// `METADATA_ROOT`: `http://169.254.169.254/opc/v<version>/`.
fn metadata_root(version: u8) -> String {
    format!("{METADATA_HOST}/opc/v{version}/")
}

/// `_fetch`: one route's JSON, with the bearer header on v2.
fn fetch(client: &Client, version: u8, path: &str) -> Result<J, DsError> {
    let rel = format!("opc/v{version}/{path}/");
    let url = client.url(&rel);
    let headers: &[(&str, &str)] = if version > 1 { &[V2_HEADER] } else { &[] };
    let body = match client.request("GET", &rel, headers) {
        Ok(r) if r.ok() => r.body,
        Ok(r) => {
            return Err(DsError::HttpStatus {
                url,
                status: r.status,
            })
        }
        Err(Miss::NotFound) => return Err(DsError::HttpStatus { url, status: 404 }),
        Err(Miss::Failed(e)) => return Err(DsError::Service(e)),
    };
    serde_json::from_slice(&body).map_err(|e| DsError::Json {
        file: url,
        error: e.to_string(),
    })
}

/// `_add_network_config_from_opc_imds` on 22.4's v1 config: the primary
/// VNIC with DHCP when `set_primary`, the others with their private
/// address; a VNIC whose MAC no interface has is skipped. On bare metal
/// (`nicIndex` in the VNIC data) secondary VNICs are not configured.
fn network_config(vnics: &J, by_mac: &[(String, String)], set_primary: bool) -> Result<J, String> {
    let mut config: Vec<J> = Vec::new();
    let list = vnics
        .as_array()
        .ok_or_else(|| "the VNIC data is not a list".to_string())?;
    if !set_primary && list.first().is_some_and(|v| v.get("nicIndex").is_some()) {
        tracing::warn!(
            "VNIC metadata indicates this is a bare metal machine; skipping secondary VNIC configuration."
        );
        return Ok(json!({"config": config, "version": 1}));
    }
    let skip = usize::from(!set_primary);
    for (index, vnic) in list.iter().enumerate().skip(skip) {
        let is_primary = set_primary && index == 0;
        let field = |k: &str| {
            vnic.get(k)
                .and_then(J::as_str)
                .ok_or_else(|| format!("VNIC {index} has no {k}"))
        };
        let mac = field("macAddr")?.to_lowercase();
        let Some((_, name)) = by_mac.iter().find(|(m, _)| *m == mac) else {
            tracing::warn!("Interface with MAC {mac} not found; skipping");
            continue;
        };
        let cidr = field("subnetCidrBlock")?;
        let prefix = cidr
            .split_once('/')
            .and_then(|(_, p)| p.parse::<u8>().ok())
            .ok_or_else(|| format!("VNIC {index}: subnetCidrBlock {cidr:?} is not a network"))?;
        let subnet = if is_primary {
            json!({"type": "dhcp"})
        } else {
            json!({"type": "static", "address": format!("{}/{prefix}", field("privateIp")?)})
        };
        config.push(json!({
            "name": name,
            "type": "physical",
            "mac_address": mac,
            "mtu": MTU,
            "subnets": [subnet],
        }));
    }
    Ok(json!({"config": config, "version": 1}))
}

/// What `read_opc_metadata` fetched.
struct Opc {
    version: u8,
    instance: J,
    vnics: Option<J>,
}

/// `read_opc_metadata`: v2, else v1; the VNICs when asked for (their
/// failure is logged, as 22.4 does, not fatal).
fn read_opc_metadata(client: &Client, fetch_vnics: bool) -> Result<Opc, DsError> {
    let (version, instance) = match fetch(client, 2, "instance") {
        Ok(j) => (2, j),
        Err(DsError::Json { file, error }) => return Err(DsError::Json { file, error }),
        Err(e) => {
            tracing::debug!("Oracle: v2 metadata: {e}; trying v1");
            (1, fetch(client, 1, "instance")?)
        }
    };
    let vnics = if fetch_vnics {
        match fetch(client, version, "vnics") {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::warn!("Failed to fetch IMDS network configuration! {e}");
                None
            }
        }
    } else {
        None
    };
    Ok(Opc {
        version,
        instance,
        vnics,
    })
}

impl Oracle {
    fn read(ctx: &DsContext) -> Result<Instance, DsError> {
        let ds_cfg = ctx.ds_cfg("Oracle");
        let secondary = ds_cfg
            .get("configure_secondary_nics")
            .is_some_and(Value::truthy);
        // klibc's files: the initramfs configured an iSCSI root.
        let iscsi_root = ctx
            .fs
            .list_dir(std::path::Path::new("/run"))
            .unwrap_or_default()
            .iter()
            .any(|f| (f.starts_with("net-") || f.starts_with("net6-")) && f.ends_with(".conf"));
        let probe = format!("{}instance/", metadata_root(2));
        let _net = super::ephemeral::bring_up(ctx, &probe)?;
        // 22.4 reads without a timeout and retries twice; DMI said this is
        // Oracle, so the service is there.
        let bounds = Bounds::from_cfg(
            &ds_cfg,
            Waits {
                timeout: 10.0,
                max_wait: 60.0,
            },
        );
        let client = Client::new(
            METADATA_HOST,
            bounds.clone(),
            std::time::Instant::now() + bounds.max_wait,
        );
        let opc = read_opc_metadata(&client, !iscsi_root || secondary)?;
        let root = metadata_root(opc.version);
        let data = &opc.instance;
        let url = format!("{root}instance/");
        let key = |k: &str| {
            data.get(k).cloned().ok_or_else(|| DsError::Json {
                file: url.clone(),
                error: format!("no {k:?} key"),
            })
        };
        let mut metadata = Mapping::new();
        for (ours, theirs) in [
            ("availability-zone", "ociAdName"),
            ("instance-id", "id"),
            ("local-hostname", "hostname"),
            ("name", "displayName"),
        ] {
            metadata.insert(Value::str(ours), Value::from_json(&key(theirs)?));
        }
        metadata.insert(Value::str("launch-index"), Value::Int(0));
        let mut user_data = None;
        if let Some(md) = data.get("metadata") {
            if let Some(ud) = md
                .get("user_data")
                .and_then(J::as_str)
                .filter(|u| !u.is_empty())
            {
                user_data =
                    Some(
                        crate::base64::decode(ud.as_bytes()).map_err(|e| DsError::Json {
                            file: url.clone(),
                            error: format!("metadata.user_data is not base64: {e}"),
                        })?,
                    );
            }
            metadata.insert(
                Value::str("public_keys"),
                md.get("ssh_authorized_keys")
                    .map(Value::from_json)
                    .unwrap_or(Value::Null),
            );
        }
        if let Some(uuid) = ctx.facts.dmi("product_uuid") {
            metadata.insert(Value::str(SYSTEM_UUID_KEY), Value::str(uuid.to_lowercase()));
        }
        let md = Value::Map(metadata);
        // Not on an iSCSI root (whose primary NIC 22.4 takes from klibc's
        // files): every VNIC, the primary with DHCP. Without VNIC data,
        // the engine's fallback rather than 22.4's empty config.
        let network_config = match &opc.vnics {
            Some(vnics) if !iscsi_root => {
                match network_config(vnics, &ctx.nics.by_mac_sorted(), true) {
                    Ok(cfg) => Some(Value::from_json(&cfg)),
                    Err(e) => {
                        tracing::warn!(
                            "Failed to parse IMDS network configuration! {root}vnics/: {e}"
                        );
                        None
                    }
                }
            }
            _ => None,
        };
        Ok(Instance {
            dsname: "Oracle".into(),
            class_name: "DataSourceOracle".into(),
            description: "DataSourceOracle".into(),
            instance_id: md
                .get("instance-id")
                .map(Value::python_str)
                .unwrap_or_default(),
            dsmode: DsMode::Net,
            public_keys: super::configdrive::normalize_pubkeys(md.get("public_keys")),
            availability_zone: md.get("availability-zone").map(Value::python_str),
            metadata: md,
            user_data_from: user_data.is_some().then(|| url.clone()),
            user_data,
            network_config,
            cloud_name: "oracle".into(),
            platform: "oracle".into(),
            subplatform: format!("metadata ({root})"),
            ..Default::default()
        })
    }
}

impl Datasource for Oracle {
    fn info(&self) -> &'static DatasourceInfo {
        &INFO
    }

    /// ds-identify's `dscheck_Oracle` (and 22.4's `_is_platform_viable`).
    fn detect(&self, ctx: &DsContext) -> Detect {
        Detect::found_if(ctx.facts.dmi("chassis_asset_tag") == Some(CHASSIS_ASSET_TAG))
    }

    fn get(&self, ctx: &DsContext) -> Found {
        Found::from_read("Oracle metadata", Self::read(ctx).map(Some))
    }

    /// The system UUID has the instance's lifespan: the cache holds while
    /// DMI still shows the one it was made under.
    fn check_instance_id(&self, ctx: &DsContext, _cached_iid: &str) -> bool {
        let Some(cached) = super::load_cache(ctx.fs, ctx.paths) else {
            return false;
        };
        let then = cached.metadata.get(SYSTEM_UUID_KEY).map(Value::python_str);
        let now = ctx.facts.dmi("product_uuid").map(str::to_lowercase);
        then.is_some() && then == now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 22.4's `_add_network_config_from_opc_imds` on the same VNICs
    /// (tests/fixtures/datasources/oracle/, made by its make.sh).
    #[test]
    fn vnics_as_cloud_init_configures_them() {
        let fixtures = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/datasources/oracle"
        );
        let vnics: J = serde_json::from_str(
            &std::fs::read_to_string(format!("{fixtures}/vnics.json")).unwrap(),
        )
        .unwrap();
        let by_mac = vec![
            ("02:00:17:00:00:01".to_string(), "ens3".to_string()),
            ("02:00:17:00:00:02".to_string(), "ens4".to_string()),
        ];
        for (file, set_primary) in [
            ("primary_and_secondary.json", true),
            ("secondary_only.json", false),
        ] {
            let want: J = serde_json::from_str(
                &std::fs::read_to_string(format!("{fixtures}/{file}")).unwrap(),
            )
            .unwrap();
            assert_eq!(
                network_config(&vnics, &by_mac, set_primary).unwrap(),
                want,
                "{file}"
            );
        }
    }
}
