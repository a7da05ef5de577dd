//! Apache CloudStack (`sources/DataSourceCloudStack.py`): the virtual
//! router serves EC2-style metadata at `http://<router>/latest/` and
//! passwords on port 8080. The router is found as 22.4 finds it: the
//! `data-server` DNS name, else the DHCP server of a lease (systemd-networkd's
//! `SERVER_ADDRESS` under `/run/systemd/netif/leases/`, then the newest
//! dhclient lease's `dhcp-server-identifier` under `/var/lib/dhclient`,
//! `/var/lib/dhcp` or `/var/lib/NetworkManager`), else the default gateway
//! of `/proc/net/route`; files are read under the root.
//!
//! The password server is asked with `DomU_Request: send_my_password`; an
//! empty answer or `saved_password` means none, `bad_request` is a refusal
//! (logged, the instance is still found), and a password is acknowledged
//! with `DomU_Request: saved_password`. It reaches set_passwords through
//! the datasource's config, as 22.4's `get_config_obj`; it is never logged
//! (`password_server.rs`).
//!
//! Not done: 22.4's seed directory (`/var/lib/cloud/seed/cs`), and its
//! `data-server` lookup is this host's resolver (not the root's files).

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use super::ec2::read_meta_and_user_data;
use super::password_server::{ask_password_server, password_config, PasswordAnswers};
use super::service::{Bounds, Client, Miss, Waits};
use super::{Datasource, DatasourceInfo, Detect, DsContext, DsError, DsMode, Found, Instance};
use crate::value::Value;

pub struct CloudStack;

const API_VERSION: &str = "latest";
const NETWORKD_LEASES_DIR: &str = "/run/systemd/netif/leases";
const DHCLIENT_DIRS: [&str; 3] = [
    "/var/lib/dhclient",
    "/var/lib/dhcp",
    "/var/lib/NetworkManager",
];
/// The `data-server` lookup waits no longer than this (22.4 waits on the
/// resolver for as long as it takes).
const DNS_WAIT: Duration = Duration::from_secs(5);

static INFO: DatasourceInfo = DatasourceInfo {
    name: "CloudStack",
    aliases: &[],
    summary: "Apache CloudStack: the virtual router (data-server, DHCP lease, default gateway) \
              serving EC2-style metadata and the password server on port 8080; tried only where \
              DMI's product name starts with CloudStack",
};

/// `get_data_server`: the `data-server` name's first address, bounded.
fn data_server() -> Option<String> {
    use std::net::ToSocketAddrs;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let first = ("data-server", 80)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .map(|a| a.ip().to_string());
        let _ = tx.send(first);
    });
    rx.recv_timeout(DNS_WAIT).ok().flatten()
}

/// `networkd_get_option_from_leases("SERVER_ADDRESS")`: the first lease
/// file (by name) that has it.
fn networkd_server_address(ctx: &DsContext) -> Option<String> {
    let mut files = ctx.fs.list_dir(Path::new(NETWORKD_LEASES_DIR)).ok()?;
    files.sort();
    files.iter().find_map(|f| {
        let text = ctx
            .facts
            .read_small(&format!("{NETWORKD_LEASES_DIR}/{f}"))?;
        text.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            (k.trim() == "SERVER_ADDRESS" && !v.is_empty()).then(|| v.to_string())
        })
    })
}

/// `get_latest_lease`: the newest `*.lease(s)` file (not dhclient6's) of
/// the first lease directory that has any file.
fn latest_dhclient_lease(ctx: &DsContext) -> Option<String> {
    let dir = DHCLIENT_DIRS.iter().find(|d| {
        ctx.fs
            .list_dir(Path::new(d))
            .is_ok_and(|files| !files.is_empty())
    })?;
    let mut newest: Option<(i64, String)> = None;
    for f in ctx.fs.list_dir(Path::new(dir)).unwrap_or_default() {
        if f.starts_with("dhclient6") || !(f.ends_with(".lease") || f.ends_with(".leases")) {
            continue;
        }
        let path = format!("{dir}/{f}");
        let mtime = ctx.fs.stat(Path::new(&path)).map_or(0, |s| s.mtime);
        if newest.as_ref().is_none_or(|(t, _)| mtime > *t) {
            newest = Some((mtime, path));
        }
    }
    newest.map(|(_, p)| p)
}

/// The last `dhcp-server-identifier` of a dhclient lease file.
fn dhcp_server_identifier(lease: &str) -> Option<String> {
    lease
        .lines()
        .filter(|l| l.contains("dhcp-server-identifier"))
        .filter_map(|l| {
            let words: Vec<&str> = l
                .trim_matches(|c| matches!(c, ' ' | ';' | '\r' | '\n'))
                .split(' ')
                .collect();
            words.get(2).map(|w| w.to_string())
        })
        .next_back()
}

/// `get_default_gateway`: the gateway of `/proc/net/route`'s default
/// route (its hex is the address in little-endian order).
fn default_gateway(route: &str) -> Option<String> {
    route.lines().find_map(|line| {
        let items: Vec<&str> = line.split('\t').collect();
        if items.get(1) != Some(&"00000000") {
            return None;
        }
        let raw = u32::from_str_radix(items.get(2)?.trim(), 16).ok()?;
        Some(Ipv4Addr::from(raw.to_le_bytes()).to_string())
    })
}

/// `get_vr_address`: the virtual router.
fn virtual_router(ctx: &DsContext) -> Option<String> {
    if let Some(a) = data_server() {
        tracing::debug!("Found metadata server '{a}' via data-server DNS entry");
        return Some(a);
    }
    if let Some(a) = networkd_server_address(ctx) {
        tracing::debug!("Found SERVER_ADDRESS '{a}' via networkd_leases");
        return Some(a);
    }
    let gateway = || default_gateway(&ctx.facts.read_small("/proc/net/route")?);
    let Some(lease) = latest_dhclient_lease(ctx) else {
        tracing::debug!("No lease file found, using default gateway");
        return gateway();
    };
    match ctx
        .facts
        .read_small(&lease)
        .as_deref()
        .and_then(dhcp_server_identifier)
    {
        Some(a) => {
            tracing::debug!("Found DHCP identifier {a}");
            Some(a)
        }
        None => {
            tracing::debug!("No DHCP found, using default gateway");
            gateway()
        }
    }
}

impl CloudStack {
    fn read(ctx: &DsContext) -> Result<Option<Instance>, DsError> {
        let Some(router) = virtual_router(ctx) else {
            return Err(DsError::Service("No virtual router found!".into()));
        };
        // An IPv6 address goes in brackets in a URL.
        let host = if router.contains(':') {
            format!("[{router}]")
        } else {
            router.clone()
        };
        let metadata_address = format!("http://{host}/");
        // 22.4: `url_max_wait` 120, `url_timeout` 50.
        let bounds = Bounds::from_cfg(
            &ctx.ds_cfg("CloudStack"),
            Waits {
                timeout: 50.0,
                max_wait: 120.0,
            },
        );
        let deadline = std::time::Instant::now() + bounds.max_wait;
        let client = Client::new(&metadata_address, bounds, deadline);
        match client.get(&format!("{API_VERSION}/meta-data/instance-id")) {
            Ok(_) => {}
            Err(Miss::NotFound) => return Ok(None),
            Err(Miss::Failed(e)) => {
                tracing::warn!(
                    "Giving up on waiting for the metadata from {metadata_address}: {e}"
                );
                return Ok(None);
            }
        }
        let (md_json, user_data) = read_meta_and_user_data(&client, API_VERSION)?;
        let md = Value::from_json(&md_json);
        let instance_id = md
            .get("instance-id")
            .map(Value::python_str)
            .ok_or(DsError::NoInstanceId)?;
        // wget --tries 3 --timeout 20 http://<router>:8080/
        let password_bounds = Bounds {
            timeout: Duration::from_secs(20),
            retries: 2,
            max_wait: Duration::from_secs(60),
            crawl_timeout: Duration::from_secs(20),
            crawl_wait: Duration::from_secs(60),
        };
        let password_client = Client::new(
            &format!("http://{host}:8080"),
            password_bounds,
            std::time::Instant::now() + Duration::from_secs(60),
        );
        let answers = PasswordAnswers {
            strip: true,
            nothing: &["", "saved_password"],
            refused: &["bad_request"],
        };
        let config = match ask_password_server(&password_client, "", &answers, ctx.planning) {
            Ok(password) => password.map(password_config),
            Err(e) => {
                // As 22.4: logged, and the instance is still found.
                tracing::warn!("Failed to fetch password from virtual router {router}: {e}");
                None
            }
        };
        Ok(Some(Instance {
            dsname: "CloudStack".into(),
            class_name: "DataSourceCloudStack".into(),
            description: "DataSourceCloudStack".into(),
            instance_id,
            dsmode: DsMode::Net,
            public_keys: super::configdrive::normalize_pubkeys(md.get("public-keys")),
            availability_zone: md.get("availability-zone").map(Value::python_str),
            region: md.get("region").map(Value::python_str),
            user_data_from: user_data
                .is_some()
                .then(|| client.url(&format!("{API_VERSION}/user-data"))),
            user_data,
            metadata: md,
            config,
            cloud_name: "cloudstack".into(),
            platform: "cloudstack".into(),
            subplatform: format!("metadata ({metadata_address})"),
            ..Default::default()
        }))
    }
}

impl Datasource for CloudStack {
    fn info(&self) -> &'static DatasourceInfo {
        &INFO
    }

    /// ds-identify's `dscheck_CloudStack`: not in a container (systemd's
    /// `/run/systemd/container` under the root), DMI's product name.
    fn detect(&self, ctx: &DsContext) -> Detect {
        if ctx.facts.exists("/run/systemd/container") {
            return Detect::NotFound;
        }
        Detect::found_if(
            ctx.facts
                .dmi("product_name")
                .is_some_and(|p| p.starts_with("CloudStack")),
        )
    }

    fn get(&self, ctx: &DsContext) -> Found {
        Found::from_read("CloudStack", Self::read(ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_router_from_leases_and_routes() {
        let lease = "lease {\n  interface \"eth0\";\n  option dhcp-server-identifier 10.1.1.9;\n}\nlease {\n  option dhcp-server-identifier 10.1.1.1;\n}\n";
        assert_eq!(dhcp_server_identifier(lease).as_deref(), Some("10.1.1.1"));
        assert_eq!(dhcp_server_identifier("lease {\n}\n"), None);
        let route =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                     eth0\t0001010A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
                     eth0\t00000000\t0101010A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n";
        assert_eq!(default_gateway(route).as_deref(), Some("10.1.1.1"));
        assert_eq!(default_gateway("Iface\tDestination\n"), None);
    }
}
