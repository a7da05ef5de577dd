//! LXD (`sources/DataSourceLXD.py`): HTTP over the unix socket
//! `/dev/lxd/sock` under the root (the dev-lxd API, version 1.0).
//!
//! Found where that socket exists (ds-identify's `dscheck_LXD`), or where
//! DMI `board_name` is `LXD` (an LXD VM before its agent made the socket;
//! ds-identify also asks that the virtualization be kvm or qemu, a fact
//! cloudboot does not read); read only where the socket is there (22.4's
//! `is_platform_viable`). In the local stage: `/1.0/meta-data` (YAML:
//! instance-id, local-hostname), every `/1.0/config` route, in sorted
//! order, each `cloud-init.*` or `user.*` key `user-data`, `vendor-data`
//! and `network-config` promoted (a `cloud-init.*` key wins over its
//! `user.*` one), and `/1.0/devices`. The network config is
//! `network-config` when given, else DHCP on the fallback NIC.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::service::found;
use super::{Datasource, DatasourceInfo, Detect, DsContext, DsError, DsMode, Found, Instance};
use crate::http::{self, Limits, Via};
use crate::value::Value;

pub struct Lxd;

const LXD_SOCKET_PATH: &str = "/dev/lxd/sock";
const LXD_URL: &str = "http://lxd";
const API_VERSION: &str = "1.0";

/// `CONFIG_KEY_ALIASES`: config keys promoted to top-level instance data.
const CONFIG_KEY_ALIASES: &[(&str, &str)] = &[
    ("cloud-init.user-data", "user-data"),
    ("cloud-init.network-config", "network-config"),
    ("cloud-init.vendor-data", "vendor-data"),
    ("user.user-data", "user-data"),
    ("user.network-config", "network-config"),
    ("user.vendor-data", "vendor-data"),
];

/// The socket, and the deadline every request of one crawl shares (22.4
/// sets no timeout at all; a stuck LXD agent must not hold boot).
struct Socket {
    path: PathBuf,
    deadline: Instant,
}

impl Socket {
    fn open(ctx: &DsContext) -> Result<Socket, DsError> {
        let path = ctx
            .root
            .resolve(std::path::Path::new(LXD_SOCKET_PATH))
            .map_err(|e| DsError::Service(format!("{LXD_SOCKET_PATH}: {e}")))?;
        Ok(Socket {
            path,
            deadline: Instant::now() + Duration::from_secs(30),
        })
    }

    /// GET a route (`/1.0/meta-data`): the status and the body as text.
    fn get(&self, route: &str) -> Result<(u16, String), DsError> {
        let left = self
            .deadline
            .checked_duration_since(Instant::now())
            .ok_or_else(|| DsError::Service(format!("{LXD_URL}{route}: no answer within 30 s")))?;
        let limits = Limits {
            connect_timeout: left.min(Duration::from_secs(10)),
            total_timeout: left.min(Duration::from_secs(10)),
            max_body: super::MAX_USER_DATA,
        };
        let url = format!("{LXD_URL}{route}");
        let r = http::request_via(
            "GET",
            &url,
            &[],
            None,
            &limits,
            &Via::UnixSocket(self.path.clone()),
        )?;
        Ok((r.status, String::from_utf8_lossy(&r.body).into_owned()))
    }

    /// `_do_request(do_raise=True)`: the body of a 2xx answer.
    fn text(&self, route: &str) -> Result<String, DsError> {
        match self.get(route)? {
            (200..=299, body) => Ok(body),
            (status, body) => Err(DsError::Service(format!(
                "Invalid HTTP response [{status}] from {LXD_URL}{route}: {body}"
            ))),
        }
    }

    /// `_get_json_response`.
    fn json(&self, route: &str) -> Result<serde_json::Value, DsError> {
        let body = self.text(route)?;
        serde_json::from_str(&body).map_err(|_| DsError::Document {
            url: format!("{LXD_URL}{route}"),
            error: format!("Unable to process LXD config. Expected JSON but found: {body}"),
        })
    }
}

/// What `read_metadata` returns.
#[derive(Default)]
struct Crawled {
    meta_data: String,
    user_data: Option<String>,
    vendor_data: Option<String>,
    network_config: Option<String>,
}

/// `_MetaDataReader` with `MetaDataKeys.ALL`.
fn read_metadata(socket: &Socket) -> Result<Crawled, DsError> {
    let mut out = Crawled {
        meta_data: socket.text(&format!("/{API_VERSION}/meta-data"))?,
        ..Default::default()
    };
    let routes = socket.json(&format!("/{API_VERSION}/config"))?;
    let mut routes: Vec<String> = routes
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    // Sorted, so cloud-init.* keys come before user.* ones and win.
    routes.sort();
    for route in routes {
        let (status, body) = socket.get(&route)?;
        if !(200..300).contains(&status) {
            tracing::debug!("Skipping {LXD_URL}{route} on [HTTP:{status}]:{body}");
            continue;
        }
        let key = route.rsplit('/').next().unwrap_or(&route).to_string();
        let Some((_, alias)) = CONFIG_KEY_ALIASES.iter().find(|(k, _)| *k == key) else {
            continue;
        };
        let slot = match *alias {
            "user-data" => &mut out.user_data,
            "vendor-data" => &mut out.vendor_data,
            _ => &mut out.network_config,
        };
        if slot.is_none() {
            *slot = Some(body);
        } else {
            tracing::warn!(
                "Ignoring LXD config {key} in favor of {} value.",
                key.replacen("user", "cloud-init", 1)
            );
        }
    }
    // Read as 22.4 reads it (an LXD without the route fails the same
    // way); its NICs do not change the network config 22.4 makes.
    socket.json(&format!("/{API_VERSION}/devices"))?;
    Ok(out)
}

/// `_raw_instance_data_to_dict`: YAML text as a mapping (an empty text is
/// an error, as 22.4's `None`).
fn to_dict(kind: &str, text: &str) -> Result<Value, DsError> {
    match crate::yaml::load(text.as_bytes(), kind) {
        Ok(v @ Value::Map(_)) => Ok(v),
        Ok(_) => Err(DsError::Document {
            url: format!("{LXD_URL} {kind}"),
            error: format!("Invalid {kind} format. Expected YAML but found: {text}"),
        }),
        Err(e) => Err(DsError::Document {
            url: format!("{LXD_URL} {kind}"),
            error: e.to_string(),
        }),
    }
}

/// `generate_network_config`: DHCP on the fallback NIC, else the name
/// LXD gives the first NIC (`eth0` in a container, `enp5s0` in an x86 VM).
fn fallback_network(ctx: &DsContext) -> Value {
    let nic = ctx.nics.fallback().unwrap_or_else(|| {
        let vm = ctx.facts.dmi("board_name") == Some("LXD");
        match (vm, std::env::consts::ARCH) {
            (false, _) => "eth0",
            (true, "powerpc64") => "enp0s5",
            (true, "s390x") => "enc9",
            (true, _) => "enp5s0",
        }
        .to_string()
    });
    Value::from_json(&serde_json::json!({
        "version": 1,
        "config": [{"type": "physical", "name": nic,
                    "subnets": [{"type": "dhcp", "control": "auto"}]}],
    }))
}

fn read(ctx: &DsContext) -> Result<Instance, DsError> {
    let socket = Socket::open(ctx)?;
    let crawled = read_metadata(&socket)?;
    let metadata = to_dict("meta-data", &crawled.meta_data)?;
    let network_config = match &crawled.network_config {
        Some(text) => to_dict("network-config", text)?,
        None => fallback_network(ctx),
    };
    let instance_id = metadata
        .get("instance-id")
        .filter(|v| !v.is_null())
        .map(Value::python_str)
        .ok_or_else(|| DsError::MissingKey {
            url: format!("{LXD_URL}/{API_VERSION}/meta-data"),
            key: "instance-id".into(),
        })?;
    let from = |key: &str| format!("{LXD_URL}/{API_VERSION}/config ({key})");
    Ok(Instance {
        dsname: "LXD".into(),
        class_name: "DataSourceLXD".into(),
        description: "DataSourceLXD".into(),
        instance_id,
        dsmode: DsMode::Net,
        public_keys: super::configdrive::normalize_pubkeys(metadata.get("public-keys")),
        // The meta-data alone: the config keys (user.user-data, ...) are
        // 22.4's sensitive keys and stay out of world-readable instance-data.
        metadata,
        user_data_from: crawled.user_data.is_some().then(|| from("user-data")),
        user_data: crawled.user_data.map(String::into_bytes),
        vendor_data_from: crawled.vendor_data.is_some().then(|| from("vendor-data")),
        vendor_data: crawled.vendor_data.map(String::into_bytes),
        network_config: Some(network_config),
        cloud_name: "lxd".into(),
        platform: "lxd".into(),
        subplatform: format!("LXD socket API v. {API_VERSION} ({LXD_SOCKET_PATH})"),
        ..Default::default()
    })
}

static INFO: DatasourceInfo = DatasourceInfo {
    name: "LXD",
    aliases: &[],
    summary: "LXD: the dev-lxd API over /dev/lxd/sock (meta-data, config keys for user-data, \
              vendor-data and network-config), in the local stage, where the socket is",
};

impl Datasource for Lxd {
    fn info(&self) -> &'static DatasourceInfo {
        &INFO
    }

    fn detect(&self, ctx: &DsContext) -> Detect {
        Detect::found_if(
            ctx.facts.is_socket(LXD_SOCKET_PATH) || ctx.facts.dmi("board_name") == Some("LXD"),
        )
    }

    fn get(&self, ctx: &DsContext) -> Found {
        if !ctx.facts.is_socket(LXD_SOCKET_PATH) {
            tracing::debug!("Not an LXD datasource: No LXD socket found.");
            return Found {
                instance: None,
                problems: Vec::new(),
            };
        }
        found("LXD", read(ctx))
    }

    /// The meta-data's instance-id, asked of the socket again.
    fn check_instance_id(&self, ctx: &DsContext, cached_iid: &str) -> bool {
        if !ctx.facts.is_socket(LXD_SOCKET_PATH) {
            return false;
        }
        Socket::open(ctx)
            .and_then(|s| s.text(&format!("/{API_VERSION}/meta-data")))
            .and_then(|text| to_dict("meta-data", &text))
            .is_ok_and(|md| {
                md.get("instance-id").map(Value::python_str).as_deref() == Some(cached_iid)
            })
    }
}
