//! Joyent SmartOS (`sources/DataSourceSmartOS.py`): the host's metadata
//! service, spoken to with version 2 of the Joyent metadata protocol over
//! the serial port `/dev/ttyS1` (a KVM guest, DMI product name `SmartDC*`)
//! or the zone's unix socket `/native/.zonecontrol/metadata.sock` (an LX
//! zone, whose kernel version reads `BrandZ virtual linux`). Read in the
//! local stage.
//!
//! The protocol: `NEGOTIATE V2` answered `V2_OK` (on the serial port after
//! a flush: pending input drained, then newlines sent until the host says
//! `invalid command`); then one line per request, `V2 <length> <crc32>
//! <id> <GET|KEYS> [<base64 key>]`, answered `V2 <length> <crc32> <id>
//! SUCCESS <base64 value>` or `NOTFOUND`, each frame's length, checksum
//! and id checked as 22.4 checks them. On KVM, values may be base64 again
//! (the legacy `base64_all`, `base64_keys`, `b64-<key>` keys, asked for
//! with a `KEYS` request), as 22.4's legacy serial client decodes them.
//!
//! The meta-data is 22.4's: `sdc:uuid` the instance-id, `hostname` (else
//! `sdc:hostname`, else the uuid) the local hostname, `root_authorized_keys`
//! the keys, `cloud-init:user-data` the user-data, `sdc:vendor-data` (else
//! 22.4's built-in script) the vendor-data, `sdc:datacenter_name` the
//! availability zone, and `sdc:nics`, `sdc:resolvers`, `sdc:dns_domain`,
//! `sdc:routes` the network config (`convert_smartos_network_data`). A KVM
//! guest also gets 22.4's built-in config for its ephemeral disk.
//!
//! Not done: writing `user-script`, `operator-script` and the legacy
//! user-data to the instance's data directory and `/var/db` (22.4 writes
//! them on every boot), renaming `/var/svc/provisioning` to
//! `provision_success`, the `disk_aliases` (`ephemeral0` as `/dev/vdb`),
//! the lock 22.4 takes on the serial port, and the network update on every
//! boot (22.4's `default_update_events`).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value as J};

use super::serial_port::{Port, PortError};
use super::{Datasource, DatasourceInfo, Detect, DsContext, Found, Instance};
use crate::value::Value;

pub struct SmartOs;

const SERIAL_DEVICE: &str = "/dev/ttyS1";
const METADATA_SOCKFILE: &str = "/native/.zonecontrol/metadata.sock";
const SERIAL_TIMEOUT: f64 = 60.0;
const LX_KERNEL_VERSION: &str = "BrandZ virtual linux";
/// A value is at most this long (a user-data, a script).
const MAX_LINE: usize = 2 * super::MAX_USER_DATA;

/// `SMARTOS_ATTRIB_MAP`: cloud-init's name, SmartOS's key, whether line
/// ends are stripped; in 22.4's order (the order of the requests).
const ATTRIB_MAP: [(&str, &str, bool); 13] = [
    ("instance-id", "sdc:uuid", true),
    ("local-hostname", "hostname", true),
    ("public-keys", "root_authorized_keys", true),
    ("user-script", "user-script", false),
    ("legacy-user-data", "user-data", false),
    ("user-data", "cloud-init:user-data", false),
    ("iptables_disable", "iptables_disable", true),
    ("motd_sys_info", "motd_sys_info", true),
    ("availability_zone", "sdc:datacenter_name", true),
    ("vendor-data", "sdc:vendor-data", false),
    ("operator-script", "sdc:operator-script", false),
    ("hostname", "sdc:hostname", true),
    ("dns_domain", "sdc:dns_domain", true),
];

/// `SMARTOS_ATTRIB_JSON`: values that are JSON documents.
const ATTRIB_JSON: [(&str, &str); 3] = [
    ("network-data", "sdc:nics"),
    ("dns_servers", "sdc:resolvers"),
    ("routes", "sdc:routes"),
];

/// Keys the legacy client never base64-decodes (`NO_BASE64_DECODE`).
const NO_BASE64_DECODE: [&str; 6] = [
    "iptables_disable",
    "motd_sys_info",
    "root_authorized_keys",
    "sdc:datacenter_name",
    "sdc:uuiduser-data",
    "user-script",
];

/// 22.4's `BUILTIN_VENDOR_DATA`: a per-boot script that runs the
/// operator's and the user's scripts.
const BUILTIN_VENDOR_DATA: &str = r#"fname="%(per_boot_d)s/01_smartos_vendor_data.sh"
mkdir -p "${fname%%/*}"
cat > "$fname" <<"END_SCRIPT"
for script in "%(operator_script)s" "%(user_script)s"; do
    [ -x "$script" ] || continue
    echo "executing '$script'" 1>&2
    "$script"
done
END_SCRIPT
chmod +x "$fname"
"#;

/// Which SmartOS guest this is (`get_smartos_environ`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Environ {
    /// A hardware VM: the serial port, the legacy client.
    Kvm,
    /// An LX-branded zone: the zone's socket.
    LxBrand,
}

fn environ(ctx: &DsContext) -> Option<Environ> {
    if ctx.facts.kernel_version().as_deref() == Some(LX_KERNEL_VERSION) {
        return Some(Environ::LxBrand);
    }
    ctx.facts
        .dmi("product_name")
        .is_some_and(|p| p.starts_with("SmartDC"))
        .then_some(Environ::Kvm)
}

/// The settings 22.4 reads (`datasource.Joyent` over `datasource.SmartOS`
/// over its built-in ones).
struct Settings {
    serial_device: String,
    serial_timeout: Duration,
    metadata_sockfile: String,
}

fn settings(ctx: &DsContext) -> Settings {
    let joyent = ctx.ds_cfg("Joyent");
    let smartos = ctx.ds_cfg("SmartOS");
    let get = |k: &str| joyent.get(k).or_else(|| smartos.get(k)).cloned();
    let secs = get("serial_timeout")
        .and_then(|v| v.python_str().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(SERIAL_TIMEOUT);
    Settings {
        serial_device: get("serial_device")
            .map(|v| v.python_str())
            .unwrap_or_else(|| SERIAL_DEVICE.into()),
        serial_timeout: Duration::from_secs_f64(secs.min(3600.0)),
        metadata_sockfile: get("metadata_sockfile")
            .map(|v| v.python_str())
            .unwrap_or_else(|| METADATA_SOCKFILE.into()),
    }
}

/// The CRC-32 of a frame's body, as 8 lower-case hex digits (`_checksum`).
pub fn checksum(body: &str) -> String {
    let mut crc = flate2::Crc::new();
    crc.update(body.as_bytes());
    format!("{:08x}", crc.sum())
}

/// The request frame for `id`, `rtype` and an optional parameter (sent
/// base64-encoded), with its newline.
pub fn request_frame(id: &str, rtype: &str, param: Option<&str>) -> String {
    let mut body = format!("{id} {rtype}");
    if let Some(p) = param.filter(|p| !p.is_empty()) {
        body.push(' ');
        body.push_str(&crate::base64::encode(p.as_bytes()));
    }
    format!("V2 {} {} {body}\n", body.len(), checksum(&body))
}

/// The value of a response frame to request `id` (`_get_value_from_frame`):
/// `Ok(None)` for no value, `Err` in 22.4's words when the frame is wrong.
pub fn frame_value(id: &str, frame: &str) -> Result<Option<String>, String> {
    let bad = || format!("Malformed frame: {frame:?}");
    let rest = frame.strip_prefix("V2 ").ok_or_else(bad)?;
    let (length, rest) = rest.split_once(' ').ok_or_else(bad)?;
    let (crc, body) = rest.split_once(' ').ok_or_else(bad)?;
    let hex = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    if length.is_empty() || !length.bytes().all(|b| b.is_ascii_digit()) || !hex(crc) {
        return Err(bad());
    }
    let (request_id, after) = body.split_once(' ').ok_or_else(bad)?;
    let (status, payload) = match after.split_once(' ') {
        Some((s, p)) => (s, p),
        None => (after, ""),
    };
    if !hex(request_id) || !matches!(status, "SUCCESS" | "NOTFOUND") {
        return Err(bad());
    }
    if length.parse::<usize>().ok() != Some(body.chars().count()) {
        return Err(format!(
            "Incorrect frame length given ({length} != {}).",
            body.chars().count()
        ));
    }
    let expected = checksum(body);
    if crc != expected {
        return Err(format!(
            "Invalid checksum (expected: {expected}; got {crc})."
        ));
    }
    if request_id != id {
        return Err(format!(
            "Request ID mismatch (expected: {id}; got {request_id})."
        ));
    }
    if payload.is_empty() {
        return Ok(None);
    }
    let bytes = crate::base64::decode(payload.as_bytes())
        .map_err(|e| format!("the value of request {id} is not base64: {e}"))?;
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// Python's `util.is_true` on a metadata value.
fn is_true(v: Option<&str>) -> bool {
    v.is_some_and(|s| {
        matches!(
            s.trim().to_lowercase().as_str(),
            "true" | "1" | "on" | "yes"
        )
    })
}

/// A connection to the host's metadata service.
struct Client {
    port: Port,
    timeout: Duration,
    next_id: u32,
    /// The legacy (KVM) client's base64 settings, once asked for.
    legacy: bool,
    base64_all: Option<bool>,
    base64_keys: Option<Vec<String>>,
}

impl Client {
    fn open(env: Environ, s: &Settings, ctx: &DsContext) -> Result<Client, String> {
        let path = match env {
            Environ::Kvm => &s.serial_device,
            Environ::LxBrand => &s.metadata_sockfile,
        };
        let port = Port::open(ctx.root, Path::new(path)).map_err(|e| e.to_string())?;
        // Request ids: a random start, then in turn (22.4 draws each).
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() ^ std::process::id().rotate_left(16))
            .unwrap_or(1);
        let mut client = Client {
            port,
            timeout: s.serial_timeout,
            next_id: seed,
            legacy: env == Environ::Kvm,
            base64_all: None,
            base64_keys: None,
        };
        if env == Environ::Kvm {
            client.flush()?;
        }
        client.negotiate()?;
        Ok(client)
    }

    fn write(&mut self, text: &str) -> Result<(), String> {
        self.port
            .write_all(text.as_bytes(), self.timeout)
            .map_err(|e| e.to_string())
    }

    fn read_line(&mut self, timeout: Duration) -> Result<String, PortError> {
        self.port
            .read_line(timeout, MAX_LINE)
            .map(|l| String::from_utf8_lossy(&l).into_owned())
    }

    /// `_flush`: drain what is pending, then send newlines until the host
    /// answers `invalid command` (within the serial timeout; 22.4 keeps
    /// trying for ever).
    fn flush(&mut self) -> Result<(), String> {
        loop {
            match self.read_line(Duration::from_millis(100)) {
                Ok(_) => continue,
                Err(PortError::Timeout { .. }) => break,
                Err(e) => return Err(e.to_string()),
            }
        }
        self.port.discard_pending();
        let deadline = Instant::now() + self.timeout;
        let per_try = self.timeout.min(Duration::from_secs(5));
        while Instant::now() < deadline {
            self.write("\n")?;
            match self.read_line(per_try) {
                Ok(r) if r == "invalid command" => return Ok(()),
                Ok(r) if r == "FAILURE" => tracing::debug!("Got \"FAILURE\".  Retrying."),
                Ok(r) => tracing::warn!("Unexpected response \"{r}\" during flush"),
                Err(PortError::Timeout { .. }) => {
                    self.port.discard_pending();
                    tracing::warn!(
                        "Timeout while initializing metadata client. Is the host metadata service running?"
                    )
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        Err(format!(
            "{}: no \"invalid command\" within {:?}; is the host metadata service running?",
            SERIAL_DEVICE, self.timeout
        ))
    }

    fn negotiate(&mut self) -> Result<(), String> {
        self.write("NEGOTIATE V2\n")?;
        let r = self.read_line(self.timeout).map_err(|e| e.to_string())?;
        if r != "V2_OK" {
            return Err(format!("Invalid response \"{r}\" to \"NEGOTIATE V2\""));
        }
        Ok(())
    }

    /// One request: its value, `None` when the host has none.
    fn request(&mut self, rtype: &str, param: Option<&str>) -> Result<Option<String>, String> {
        let id = format!("{:08x}", self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        self.write(&request_frame(&id, rtype, param))?;
        let response = self.read_line(self.timeout).map_err(|e| e.to_string())?;
        if !response.contains("SUCCESS") {
            return Ok(None);
        }
        frame_value(&id, &response)
    }

    /// The base client's `get`.
    fn plain_get(&mut self, key: &str, strip: bool) -> Result<Option<String>, String> {
        let v = self.request("GET", Some(key))?;
        Ok(v.map(|v| if strip { v.trim().to_string() } else { v }))
    }

    /// `list`: the host's keys.
    fn keys(&mut self) -> Result<Vec<String>, String> {
        Ok(match self.request("KEYS", None)? {
            Some(v) if !v.is_empty() => v.split('\n').map(str::to_string).collect(),
            _ => Vec::new(),
        })
    }

    /// `_init_base64_keys`, as 22.4 does it (including its reading of
    /// `b64-<key>` as the key `-<key>`).
    fn init_base64_keys(&mut self) -> Result<(), String> {
        let mut keys = None;
        if self.base64_all.is_none() {
            let k = self.keys()?;
            let all = if k.iter().any(|x| x == "base64_all") {
                is_true(self.plain_get("base64_all", false)?.as_deref())
            } else {
                false
            };
            self.base64_all = Some(all);
            keys = Some(k);
        }
        if self.base64_all == Some(true) {
            return Ok(());
        }
        if self.base64_keys.is_none() {
            let keys = match keys {
                Some(k) => k,
                None => self.keys()?,
            };
            let mut b64: Vec<String> = Vec::new();
            if keys.iter().any(|x| x == "base64_keys") {
                let v = self.plain_get("base64_keys", false)?.unwrap_or_default();
                b64.extend(v.split(',').map(str::to_string));
            }
            for k in keys.iter().filter(|k| k.starts_with("b64-")) {
                let key = &k[3..];
                if is_true(self.plain_get(key, false)?.as_deref()) {
                    b64.push(key.to_string());
                } else {
                    b64.retain(|x| x != key);
                }
            }
            self.base64_keys = Some(b64);
        }
        Ok(())
    }

    /// `get`: on KVM, base64-decoded where the legacy settings say so.
    fn get(&mut self, key: &str, strip: bool) -> Result<Option<String>, String> {
        if !self.legacy {
            return self.plain_get(key, strip);
        }
        let Some(mut val) = self.plain_get(key, false)? else {
            return Ok(None);
        };
        let encoded = !NO_BASE64_DECODE.contains(&key) && {
            self.init_base64_keys()?;
            self.base64_all == Some(true)
                || self
                    .base64_keys
                    .as_ref()
                    .is_some_and(|k| k.iter().any(|x| x == key))
        };
        if encoded {
            match crate::base64::decode(val.as_bytes()) {
                Ok(b) => val = String::from_utf8_lossy(&b).into_owned(),
                Err(_) => tracing::warn!("Failed base64 decoding key '{key}': {val}"),
            }
        }
        Ok(Some(if strip { val.trim().to_string() } else { val }))
    }

    fn get_json(&mut self, key: &str) -> Result<J, String> {
        match self.get(key, false)? {
            None => Ok(J::Null),
            Some(v) => serde_json::from_str(&v).map_err(|e| format!("{key}: not JSON: {e}")),
        }
    }
}

/// `convert_smartos_network_data`: `sdc:nics` (with the resolvers, the DNS
/// domain and `sdc:routes`) as a v1 network config.
pub fn convert_network_data(
    nics: &J,
    dns_servers: &J,
    dns_domain: &J,
    routes: &J,
) -> Result<J, String> {
    const PHYSICAL: [&str; 6] = ["mac_address", "mtu", "name", "params", "subnets", "type"];
    const SUBNET: [&str; 9] = [
        "address",
        "broadcast",
        "dns_nameservers",
        "dns_search",
        "metric",
        "pointopoint",
        "routes",
        "scope",
        "type",
    ];
    const ROUTE: [&str; 2] = ["network", "gateway"];
    let as_list = |v: &J| -> Vec<J> {
        match v {
            J::Array(a) if !a.is_empty() => a.clone(),
            J::Array(_) | J::Null => Vec::new(),
            J::String(s) if s.is_empty() => Vec::new(),
            J::Bool(false) => Vec::new(),
            other => vec![other.clone()],
        }
    };
    let (dns_servers, dns_domain) = (as_list(dns_servers), as_list(dns_domain));
    let routes = routes.as_array().cloned().unwrap_or_default();
    let pick = |from: &Map<String, J>, keys: &[&str]| -> Map<String, J> {
        from.iter()
            .filter(|(k, _)| keys.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    // The first gateway of each family of a primary NIC, once.
    let mut gw4: Option<J> = None;
    let mut gw6: Option<J> = None;
    let mut config = Vec::new();
    let nics = nics.as_array().ok_or("sdc:nics is not a list")?;
    for (i, nic) in nics.iter().enumerate() {
        let nic = nic
            .as_object()
            .ok_or_else(|| format!("sdc:nics[{i}] is not an object"))?;
        let mut cfg = pick(nic, &PHYSICAL);
        cfg.insert("type".into(), json!("physical"));
        cfg.insert(
            "name".into(),
            nic.get("interface")
                .cloned()
                .ok_or_else(|| format!("sdc:nics[{i}] has no 'interface'"))?,
        );
        if let Some(mac) = nic.get("mac") {
            cfg.insert("mac_address".into(), mac.clone());
        }
        let mut subnets = Vec::new();
        for ip in nic
            .get("ips")
            .and_then(J::as_array)
            .cloned()
            .unwrap_or_default()
        {
            let ip_text = ip.as_str().unwrap_or_default().to_string();
            if ip_text == "dhcp" {
                subnets.push(json!({"type": "dhcp4"}));
                continue;
            }
            let mut subnet = pick(nic, &SUBNET);
            subnet.insert("type".into(), json!("static"));
            subnet.insert("address".into(), ip.clone());
            let v4 = ip_text.contains('.');
            let primary = nic
                .get("primary")
                .is_some_and(|p| !matches!(p, J::Null | J::Bool(false)));
            if primary {
                let slot = if v4 { &mut gw4 } else { &mut gw6 };
                if slot.is_none() {
                    let family = |g: &&J| {
                        let g = g.as_str().unwrap_or_default();
                        if v4 {
                            g.contains('.')
                        } else {
                            g.contains(':')
                        }
                    };
                    let gateways = nic
                        .get("gateways")
                        .and_then(J::as_array)
                        .cloned()
                        .unwrap_or_default();
                    if let Some(gw) = gateways.iter().find(family) {
                        *slot = Some(gw.clone());
                        subnet.insert("gateway".into(), gw.clone());
                    }
                }
            }
            let mut entries = Vec::new();
            for route in &routes {
                let route = route
                    .as_object()
                    .ok_or("sdc:routes has an entry that is not an object")?;
                let mut r = pick(route, &ROUTE);
                r.insert(
                    "network".into(),
                    route
                        .get("dst")
                        .cloned()
                        .ok_or("sdc:routes has an entry without 'dst'")?,
                );
                entries.push(J::Object(r));
                subnet.insert("routes".into(), J::Array(entries.clone()));
            }
            subnets.push(J::Object(subnet));
        }
        cfg.insert("subnets".into(), J::Array(subnets));
        config.push(J::Object(cfg));
    }
    if !dns_servers.is_empty() {
        config.push(json!({"type": "nameserver", "address": dns_servers, "search": dns_domain}));
    }
    Ok(json!({"version": 1, "config": config}))
}

/// Reads everything `_get_data` reads, in its order.
fn read_all(client: &mut Client) -> Result<Map<String, J>, String> {
    let mut md = Map::new();
    for (ci, key, strip) in ATTRIB_MAP {
        let v = client.get(key, strip)?;
        md.insert(ci.into(), v.map(J::String).unwrap_or(J::Null));
    }
    for (ci, key) in ATTRIB_JSON {
        let v = client.get_json(key)?;
        md.insert(ci.into(), v);
    }
    Ok(md)
}

/// Python's truth of a JSON value.
fn truthy(v: Option<&J>) -> bool {
    match v {
        None | Some(J::Null) | Some(J::Bool(false)) => false,
        Some(J::String(s)) => !s.is_empty(),
        Some(J::Array(a)) => !a.is_empty(),
        Some(J::Object(o)) => !o.is_empty(),
        Some(_) => true,
    }
}

/// The instance of what the host gave.
fn instance(
    mut md: Map<String, J>,
    env: Environ,
    s: &Settings,
    ctx: &DsContext,
) -> Result<Instance, String> {
    let iid = md
        .get("instance-id")
        .and_then(J::as_str)
        .filter(|i| !i.is_empty())
        .ok_or("the host gave no sdc:uuid")?
        .to_string();
    if !truthy(md.get("local-hostname")) {
        let name = if truthy(md.get("hostname")) {
            md["hostname"].clone()
        } else {
            J::String(iid.clone())
        };
        md.insert("local-hostname".into(), name);
    }
    let user_data = md
        .get("user-data")
        .and_then(J::as_str)
        .filter(|u| !u.is_empty())
        .map(|u| u.as_bytes().to_vec());
    if !truthy(md.get("vendor-data")) {
        let cloud = ctx.paths.cloud_dir.display().to_string();
        let data_d = format!("{cloud}/instances/{iid}/data");
        let vendor = BUILTIN_VENDOR_DATA
            .replace("%(per_boot_d)s", &format!("{cloud}/scripts/per-boot"))
            .replace("%(operator_script)s", &format!("{data_d}/operator-script"))
            .replace("%(user_script)s", &format!("{data_d}/user-script"))
            .replace("%%", "%");
        md.insert("vendor-data".into(), J::String(vendor));
    }
    let vendor_data = md
        .get("vendor-data")
        .and_then(J::as_str)
        .map(|v| v.as_bytes().to_vec());
    let network_config = match md.get("network-data") {
        None | Some(J::Null) => None,
        Some(nics) => Some(convert_network_data(
            nics,
            md.get("dns_servers").unwrap_or(&J::Null),
            md.get("dns_domain").unwrap_or(&J::Null),
            md.get("routes").unwrap_or(&J::Null),
        )?),
    };
    let metadata = Value::from_json(&J::Object(md));
    let description = match env {
        Environ::Kvm => format!(
            "DataSourceSmartOS [client=JoyentMetadataLegacySerialClient(device={}, timeout={})]",
            s.serial_device,
            crate::value::python_float_repr(s.serial_timeout.as_secs_f64()).trim_end_matches(".0")
        ),
        Environ::LxBrand => format!(
            "DataSourceSmartOS [client=JoyentMetadataSocketClient(socketpath={})]",
            s.metadata_sockfile
        ),
    };
    // `get_config_obj`: a KVM guest's ephemeral disk set up as ext4.
    let config = (env == Environ::Kvm).then(|| {
        Value::from_json(&json!({
            "disk_setup": {"ephemeral0": {"table_type": "mbr", "layout": false, "overwrite": false}},
            "fs_setup": [{"label": "ephemeral0", "filesystem": "ext4", "device": "ephemeral0"}],
        }))
    });
    Ok(Instance {
        dsname: "SmartOS".into(),
        class_name: "DataSourceSmartOS".into(),
        description,
        instance_id: iid,
        public_keys: super::configdrive::normalize_pubkeys(metadata.get("public-keys")),
        user_data_from: user_data
            .is_some()
            .then(|| "SmartOS metadata cloud-init:user-data".to_string()),
        user_data,
        vendor_data_from: vendor_data
            .is_some()
            .then(|| "SmartOS metadata sdc:vendor-data".to_string()),
        vendor_data,
        network_config: network_config.map(|n| Value::from_json(&n)),
        availability_zone: metadata
            .get("availability_zone")
            .filter(|v| !v.is_null())
            .map(Value::python_str),
        config,
        // The class's dsname is Joyent.
        cloud_name: "joyent".into(),
        platform: "joyent".into(),
        subplatform: format!("serial ({SERIAL_DEVICE})"),
        metadata,
        ..Default::default()
    })
}

static INFO: DatasourceInfo = DatasourceInfo {
    name: "SmartOS",
    aliases: &[],
    summary: "Joyent SmartOS: the metadata protocol V2 over `/dev/ttyS1` (KVM, DMI `SmartDC*`) \
              or the LX zone's `/native/.zonecontrol/metadata.sock`; network config from \
              `sdc:nics`",
};

impl Datasource for SmartOs {
    fn info(&self) -> &'static DatasourceInfo {
        &INFO
    }

    /// `dscheck_SmartOS`: DMI's product name `SmartDC*`, or an LX zone's
    /// kernel version with the zone's socket present.
    fn detect(&self, ctx: &DsContext) -> Detect {
        let kvm = ctx
            .facts
            .dmi("product_name")
            .is_some_and(|p| p.starts_with("SmartDC"));
        let lx = ctx.facts.kernel_version().as_deref() == Some(LX_KERNEL_VERSION)
            && ctx.facts.exists(METADATA_SOCKFILE);
        Detect::found_if(kvm || lx)
    }

    fn get(&self, ctx: &DsContext) -> Found {
        let mut problems = Vec::new();
        let Some(env) = environ(ctx) else {
            return Found {
                instance: None,
                problems,
            };
        };
        let s = settings(ctx);
        let transport = match env {
            Environ::Kvm => &s.serial_device,
            Environ::LxBrand => &s.metadata_sockfile,
        };
        if !ctx.facts.exists(transport) {
            tracing::debug!("No metadata device '{transport}' found for SmartOS datasource");
            return Found {
                instance: None,
                problems,
            };
        }
        let read = Client::open(env, &s, ctx).and_then(|mut c| read_all(&mut c));
        let instance = match read.and_then(|md| instance(md, env, &s, ctx)) {
            Ok(i) => Some(i),
            Err(e) => {
                problems.push(format!("SmartOS metadata ({transport}): {e}"));
                None
            }
        };
        Found { instance, problems }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> J {
        let path = format!(
            "{}/tests/fixtures/datasources/smartos/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    /// Every frame 22.4's clients sent, and the values of every answer,
    /// as `make.sh` recorded them (request ids 1, 2, ...).
    #[test]
    fn frames_as_22_4_builds_and_reads_them() {
        for kind in ["kvm.json", "lx.json"] {
            let t = fixture(kind);
            let lines: Vec<(String, String)> = t["transcript"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].as_str().unwrap().into(), p[1].as_str().unwrap().into()))
                .collect();
            let mut checked = 0;
            for pair in lines.windows(2) {
                let ((who, sent), (_, answer)) = (&pair[0], &pair[1]);
                if who != "guest" || !sent.starts_with("V2 ") {
                    continue;
                }
                let body: Vec<&str> = sent.splitn(4, ' ').nth(3).unwrap().split(' ').collect();
                let param = body.get(2).map(|p| {
                    String::from_utf8(crate::base64::decode(p.as_bytes()).unwrap()).unwrap()
                });
                assert_eq!(
                    request_frame(body[0], body[1], param.as_deref()),
                    format!("{sent}\n")
                );
                let v = frame_value(body[0], answer).unwrap();
                assert_eq!(v.is_some(), answer.contains("SUCCESS"), "{answer}");
                checked += 1;
            }
            assert!(checked > 15, "{kind}");
        }
        assert_eq!(
            frame_value("00000001", "V2 21 265ae1d8 00000001 SUCCESS W10="),
            Err("Invalid checksum (expected: bc83d37e; got 265ae1d8).".into())
        );
    }

    #[test]
    fn network_config_as_22_4_converts_it() {
        for kind in ["kvm.json", "lx.json"] {
            let t = fixture(kind);
            let md = &t["metadata"];
            let got = convert_network_data(
                &md["network-data"],
                &md["dns_servers"],
                &md["dns_domain"],
                &md["routes"],
            )
            .unwrap();
            assert_eq!(got, t["network_config"], "{kind}");
        }
    }
}
