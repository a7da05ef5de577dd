//! Azure (`sources/DataSourceAzure.py`, `sources/helpers/azure.py`): a
//! local-stage datasource (22.4's `DEP_FILESYSTEM` only) that reads the
//! provisioning document, asks the instance metadata service, and tells the
//! fabric the VM is ready, so that provisioning completes.
//!
//! 1. ovf-env.xml from the first of 22.4's `list_possible_azure_ds`: the
//!    seed directory `/var/lib/cloud/seed/azure`, `/dev/sr0`, every ISO9660
//!    device, and the copy left in `datasource.Azure.data_dir`
//!    (`/var/lib/waagent`) by an earlier boot. Devices are read in place;
//!    one that cannot be read (the UDF media 22.4 mounts, unless
//!    `--mount-fallback` lets cloudboot mount it too; no `/dev/sr0`) is
//!    22.4's mount failure: provisioning from IMDS alone.
//! 2. With the local stage's network ([`super::ephemeral::bring_up`]), IMDS
//!    (`/metadata/instance`, api-version 2021-08-01 with `extended=true`,
//!    2019-06-01 when that is refused with 400), with 22.4's retries.
//! 3. The wireserver (DHCP option 245, else 168.63.129.16): the goal state,
//!    then the `Ready` health report; a crawl that fails reports the
//!    failure instead.
//! 4. The document is kept in `/var/lib/waagent` (0600 in a 0700 directory,
//!    the password redacted) and the pre-provisioning marker
//!    (`/var/lib/cloud/data/reported_ready`) removed, as 22.4 does.
//!
//! The instance-id is the DMI system uuid (lower case), unless the one
//! recorded differs only in case or in the byte order of its first three
//! fields (`_iid`, `is_byte_swapped`).

mod crypt;
mod ovf;
mod wireserver;
mod xml;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value as J;

use super::source::{DeviceSource, DirSource, SeedSource};
use super::{
    BlockDevices, Datasource, DatasourceInfo, Detect, DeviceLookup, DsContext, DsMode, Found,
    Instance,
};
use crate::http::{self, HttpError, Limits};
use crate::value::{Mapping, Value};

pub use wireserver::Patience;

pub struct Azure;

/// `ChassisAssetTag.AZURE_CLOUD`.
const AZURE_CHASSIS: &str = "7783-7084-3265-9085-8269-3286-77";
const IMDS_BASE: &str = "http://169.254.169.254";
const IMDS_URL: &str = "http://169.254.169.254/metadata/instance";
const IMDS_VER_WANT: &str = "2021-08-01";
const IMDS_VER_MIN: &str = "2019-06-01";
/// `IMDS_RETRY_CODES`: answers that mean "not yet".
const IMDS_RETRY_CODES: [u16; 4] = [404, 410, 429, 500];
const IMDS_TIMEOUT: Duration = Duration::from_secs(2);
const IMDS_RETRIES: usize = 10;
const DEFAULT_ISO: &str = "/dev/sr0";
const AGENT_SEED_DIR: &str = "/var/lib/waagent";
const RESOURCE_DISK_PATH: &str = "/dev/disk/cloud/azure_resource";
const ENTROPY_SOURCE: &str = "/sys/firmware/acpi/tables/OEM0";
/// The resource disk's filesystem (`DEFAULT_FS`).
const DEFAULT_FS: &str = "ext4";

static INFO: DatasourceInfo = DatasourceInfo {
    name: "Azure",
    aliases: &[],
    summary: "Azure: ovf-env.xml from the provisioning media (or seed directory), IMDS (compute, \
              network config, keys) and the wireserver's goal state and `Ready` health report",
};

/// Where the provisioning data came from (22.4's `metadata_source`).
enum Provisioning {
    /// ovf-env.xml from a directory or device: its `str(ds)` name, the
    /// document and what it says.
    Ovf {
        seed: String,
        raw: Vec<u8>,
        ovf: ovf::Ovf,
    },
    /// No media could be read: IMDS provides it all.
    Imds,
}

/// A crawl that gave no instance, and whether the fabric hears of it.
struct Failure {
    message: String,
    report: bool,
}

impl Failure {
    fn reported(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            report: true,
        }
    }
}

/// `datasource.Azure` over 22.4's `BUILTIN_DS_CONFIG`.
struct DsCfg {
    data_dir: Option<PathBuf>,
    apply_network_config: bool,
}

impl DsCfg {
    fn read(ctx: &DsContext) -> DsCfg {
        let cfg = ctx.ds_cfg("Azure");
        DsCfg {
            data_dir: match cfg.get("data_dir") {
                None => Some(PathBuf::from(AGENT_SEED_DIR)),
                Some(v) if !v.truthy() => None,
                Some(v) => Some(PathBuf::from(v.python_str())),
            },
            apply_network_config: cfg
                .get("apply_network_config")
                .map(|v| v.truthy())
                .unwrap_or(true),
        }
    }
}

/// ds-identify's `is_azure_chassis`.
fn azure_chassis(ctx: &DsContext) -> bool {
    ctx.facts.dmi("chassis_asset_tag") == Some(AZURE_CHASSIS)
}

/// The seed directory's ovf-env.xml (`check_seed_dir azure ovf-env.xml`,
/// `is_platform_viable`).
fn seeded(ctx: &DsContext) -> bool {
    let seed = ctx.paths.seed_dir("azure").join("ovf-env.xml");
    ctx.fs
        .stat(&seed)
        .is_some_and(|s| s.kind == crate::rootfs::Kind::File)
}

/// ds-identify's `DI_VIRT = microsoft`, as systemd-detect-virt tells
/// Hyper-V from DMI.
fn hyperv(ctx: &DsContext) -> bool {
    ["sys_vendor", "board_vendor"].iter().any(|f| {
        ctx.facts
            .dmi(f)
            .is_some_and(|v| v.starts_with("Microsoft Corporation"))
    })
}

impl Datasource for Azure {
    fn info(&self) -> &'static DatasourceInfo {
        &INFO
    }

    /// `dscheck_Azure`: the chassis asset tag, a seeded ovf-env.xml, or on
    /// Hyper-V a filesystem labelled `rd_rdfe_*`.
    fn detect(&self, ctx: &DsContext) -> Detect {
        if azure_chassis(ctx) || seeded(ctx) {
            return Detect::Found;
        }
        Detect::found_if(
            hyperv(ctx)
                && ctx
                    .facts
                    .filesystems()
                    .iter()
                    .any(|f| f.label.starts_with("rd_rdfe_")),
        )
    }

    /// `device_name_to_device`: `disk_aliases`, the resource disk.
    fn block_devices(&self, _instance: &Instance) -> BlockDevices {
        BlockDevices {
            mapping: vec![("ephemeral0".into(), RESOURCE_DISK_PATH.into())],
            lookup: DeviceLookup::AsGiven,
        }
    }

    fn get(&self, ctx: &DsContext) -> Found {
        // `is_platform_viable`: the chassis tag or a seeded ovf-env.xml.
        if !azure_chassis(ctx) && !seeded(ctx) {
            return Found {
                instance: None,
                problems: Vec::new(),
            };
        }
        let cfg = DsCfg::read(ctx);
        let mut problems = Vec::new();
        match crawl(ctx, &cfg, &mut problems) {
            Ok(instance) => Found {
                instance: Some(instance),
                problems,
            },
            Err(f) => {
                problems.push(format!(
                    "Azure: Could not crawl Azure metadata: {}",
                    f.message
                ));
                if f.report {
                    report_failure(ctx, &mut problems);
                }
                Found {
                    instance: None,
                    problems,
                }
            }
        }
    }

    /// `instance_id_matches_system_uuid`: the DMI system uuid, without case.
    fn check_instance_id(&self, ctx: &DsContext, cached_iid: &str) -> bool {
        super::service::instance_id_matches_dmi(&ctx.facts, "product_uuid", cached_iid)
    }
}

/// `_report_failure`: the fabric is told provisioning failed (not in a plan).
fn report_failure(ctx: &DsContext, problems: &mut Vec<String>) {
    if ctx.planning {
        tracing::info!("plan: Azure would report the failure to the fabric");
        return;
    }
    let Ok(_net) = super::ephemeral::bring_up(ctx, IMDS_BASE) else {
        return;
    };
    let endpoint = wireserver::endpoint(ctx.fs);
    if let Err(e) = wireserver::report_failure(
        &endpoint,
        wireserver::DEFAULT_FAILURE_MESSAGE,
        patience(ctx),
    ) {
        problems.push(format!(
            "Azure: Failed to report failure to the fabric at {endpoint}: {e}"
        ));
    }
}

/// The wireserver's retry policy: 22.4's, unless `datasource.Azure`
/// bounds it (`wireserver_retry_sleep`, `wireserver_max_wait`, seconds).
fn patience(ctx: &DsContext) -> Patience {
    let cfg = ctx.ds_cfg("Azure");
    let secs = |k: &str| {
        cfg.get(k)
            .and_then(|v| v.python_str().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64)
    };
    Patience {
        retry_sleep: secs("wireserver_retry_sleep").unwrap_or(Patience::CLOUD_INIT.retry_sleep),
        total: secs("wireserver_max_wait").unwrap_or(Patience::CLOUD_INIT.total),
    }
}

/// The provisioning media to try, in `list_possible_azure_ds` order: the
/// seed directory, `/dev/sr0`, the ISO9660 devices, the agent's copy.
fn find_provisioning(ctx: &DsContext, cfg: &DsCfg) -> Result<Option<Provisioning>, Failure> {
    let mut found: Option<Provisioning> = None;
    let mut try_source = |src: &dyn SeedSource, seed: String| -> Result<bool, Failure> {
        let raw = match src.read("ovf-env.xml") {
            Ok(Some(raw)) => raw,
            Ok(None) => {
                tracing::debug!("Did not find Azure data source in {seed}");
                return Ok(false);
            }
            Err(e) => return Err(Failure::reported(format!("BrokenAzureDataSource: {e}"))),
        };
        match ovf::read_azure_ovf(&raw) {
            Ok(ovf) => {
                found = Some(Provisioning::Ovf { seed, raw, ovf });
                Ok(true)
            }
            Err(ovf::OvfError::NotAzure(m)) => {
                tracing::debug!("Did not find Azure data source in {seed}: {m}");
                Ok(false)
            }
            Err(ovf::OvfError::Broken(m)) => Err(Failure::reported(format!(
                "BrokenAzureDataSource: {seed}/ovf-env.xml: {m}"
            ))),
        }
    };
    let seed_dir = ctx.paths.seed_dir("azure");
    if ctx.fs.is_dir(&seed_dir) {
        let src = DirSource {
            fs: ctx.fs,
            base: seed_dir.clone(),
        };
        if try_source(&src, seed_dir.display().to_string())? {
            return Ok(found);
        }
    }
    // Devices: `/dev/sr0` first, then every ISO9660 filesystem (the
    // devices given on the command line among them).
    let mut devices: Vec<(String, PathBuf)> = Vec::new();
    if let Ok(host) = ctx.root.resolve(Path::new(DEFAULT_ISO)) {
        devices.push((DEFAULT_ISO.to_string(), host));
    } else {
        tracing::debug!("{DEFAULT_ISO} was not mountable");
    }
    for (shown, host) in super::devices::device_paths(ctx.fs, ctx.root, ctx.devices) {
        let is_iso = std::fs::File::open(&host)
            .ok()
            .and_then(|f| crate::blockfs::probe(&f))
            .is_some_and(|(t, _)| t == "iso9660");
        if is_iso && !devices.iter().any(|(s, _)| *s == shown) {
            devices.push((shown, host));
        }
    }
    // A device that cannot be read is 22.4's mount failure: IMDS alone,
    // unless a later source has the document.
    let mut unreadable = !devices.iter().any(|(s, _)| s == DEFAULT_ISO);
    for (shown, host) in devices {
        let opened = std::fs::File::open(&host)
            .map_err(|e| e.to_string())
            .and_then(|f| crate::blockfs::open(f).map_err(|e| e.to_string()));
        match opened {
            Ok(fs) => {
                let src = DeviceSource {
                    fs,
                    device: shown.clone(),
                };
                if try_source(&src, shown)? {
                    return Ok(found);
                }
            }
            // The UDF media Azure uses is not read in place: mounted, as
            // 22.4 does, when `--mount-fallback` allows it.
            Err(e) if ctx.mount_fallback && host.exists() => {
                match super::mounted::MountedSource::mount(ctx.root, &host, &shown) {
                    Ok(src) => {
                        if try_source(&src, shown)? {
                            return Ok(found);
                        }
                    }
                    Err(why) => {
                        tracing::debug!("{shown} was not mountable: {e}; mount: {why}");
                        unreadable = true;
                    }
                }
            }
            Err(e) => {
                tracing::debug!("{shown} was not mountable: {e}");
                unreadable = true;
            }
        }
    }
    if let Some(dir) = &cfg.data_dir {
        if ctx.fs.is_dir(dir) {
            let src = DirSource {
                fs: ctx.fs,
                base: dir.clone(),
            };
            if try_source(&src, dir.display().to_string())? {
                return Ok(found);
            }
        }
    }
    Ok(unreadable.then_some(Provisioning::Imds))
}

/// Why one IMDS request gave nothing.
enum ImdsMiss {
    /// 400: this api-version is not supported.
    BadRequest,
    Other(String),
}

/// `_get_metadata_from_imds`: one api-version, retried as `readurl` with
/// `imds_readurl_exception_callback` retries (the retry codes and timeouts,
/// a second apart); a body that is not a JSON object counts as empty.
fn imds_version(api_version: &str) -> Result<serde_json::Map<String, J>, ImdsMiss> {
    let mut url = format!("{IMDS_URL}?api-version={api_version}");
    // Extended metadata exists from 2021-03-01.
    if api_version >= "2021-03-01" {
        url.push_str("&extended=true");
    }
    let limits = Limits {
        connect_timeout: IMDS_TIMEOUT,
        total_timeout: IMDS_TIMEOUT,
        max_body: 4 << 20,
    };
    let mut last = String::new();
    for attempt in 0..=IMDS_RETRIES {
        if attempt > 0 {
            std::thread::sleep(Duration::from_secs(1));
        }
        match http::request("GET", &url, &[("Metadata", "true")], None, &limits) {
            Ok(r) if r.ok() => {
                return match serde_json::from_slice::<J>(&r.body) {
                    Ok(J::Object(m)) => Ok(m),
                    other => {
                        let why = match other {
                            Err(e) => e.to_string(),
                            _ => "not a JSON object".into(),
                        };
                        tracing::warn!(
                            "Ignoring non-json IMDS instance metadata response from {url}: {why}"
                        );
                        Ok(serde_json::Map::new())
                    }
                };
            }
            Ok(r) if r.status == 400 => return Err(ImdsMiss::BadRequest),
            Ok(r) if IMDS_RETRY_CODES.contains(&r.status) => {
                last = format!("{url}: HTTP {}", r.status)
            }
            Ok(r) => return Err(ImdsMiss::Other(format!("{url}: HTTP {}", r.status))),
            Err(e @ HttpError::Timeout(..)) => last = e.to_string(),
            Err(e) => return Err(ImdsMiss::Other(e.to_string())),
        }
    }
    Err(ImdsMiss::Other(last))
}

/// `get_imds_data_with_api_fallback`: the wanted api-version, the minimum
/// one when IMDS answers 400; nothing (an empty document) otherwise.
fn read_imds() -> serde_json::Map<String, J> {
    tracing::info!("Attempting IMDS api-version: {IMDS_VER_WANT}");
    match imds_version(IMDS_VER_WANT) {
        Ok(m) => return m,
        Err(ImdsMiss::Other(e)) => {
            tracing::warn!("Ignoring IMDS instance metadata. Get metadata from IMDS failed: {e}");
            return serde_json::Map::new();
        }
        Err(ImdsMiss::BadRequest) => {
            tracing::info!("Fall back to IMDS api-version: {IMDS_VER_MIN}")
        }
    }
    match imds_version(IMDS_VER_MIN) {
        Ok(m) => m,
        Err(ImdsMiss::BadRequest) => {
            tracing::error!("Failed to fetch IMDS metadata: {IMDS_URL}: HTTP 400");
            serde_json::Map::new()
        }
        Err(ImdsMiss::Other(e)) => {
            tracing::error!("Failed to fetch IMDS metadata: {e}");
            serde_json::Map::new()
        }
    }
}

/// `imds["compute"][...][key]`.
fn compute<'a>(imds: &'a serde_json::Map<String, J>, path: &[&str]) -> Option<&'a J> {
    path.iter().try_fold(imds.get("compute")?, |v, k| v.get(k))
}

/// A JSON leaf as Python's `str()` of it.
fn json_str(v: &J) -> String {
    match v {
        J::String(s) => s.clone(),
        other => Value::from_json(other).python_str(),
    }
}

/// `_key_is_openssh_formatted`: one line whose first or second field (after
/// `authorized_keys` options) is a key type and is followed by the key.
/// The types are recognised by the prefixes of 22.4's `VALID_KEY_TYPES`
/// (the list itself lives with the ssh modules, a layer above).
fn is_openssh_key(key: &str) -> bool {
    if key.trim().contains("\r\n") {
        return false;
    }
    let typed = |t: &str| {
        ["ssh-", "ecdsa-sha2-", "sk-", "rsa-sha2-"]
            .iter()
            .any(|p| t.starts_with(p))
    };
    let fields: Vec<&str> = key.split_whitespace().collect();
    match fields.as_slice() {
        [t, _, ..] if typed(t) => true,
        [_, t, _, ..] => typed(t),
        _ => false,
    }
}

/// `_get_public_keys_from_imds`: `compute.publicKeys[].keyData`, when
/// every one is in OpenSSH format; `None` otherwise (22.4's KeyError and
/// ValueError).
fn imds_public_keys(imds: &serde_json::Map<String, J>) -> Option<Vec<String>> {
    let keys = compute(imds, &["publicKeys"])?.as_array()?;
    let keys: Vec<String> = keys
        .iter()
        .map(|k| k.get("keyData").map(json_str))
        .collect::<Option<_>>()?;
    if keys.iter().any(|k| !is_openssh_key(k)) {
        tracing::debug!("Key(s) not in OpenSSH format");
        return None;
    }
    tracing::debug!("Retrieved {} keys from IMDS", keys.len());
    Some(keys)
}

/// `build_minimal_ovf`: the document 22.4 keeps when IMDS alone
/// provisioned the VM (Python's `str()` of each value, `None` included).
fn build_minimal_ovf(username: &str, hostname: &str, disable_ssh_pwd: &str) -> String {
    format!(
        "<ns0:Environment xmlns:ns0=\"http://schemas.dmtf.org/ovf/environment/1\"\n \
         xmlns:ns1=\"http://schemas.microsoft.com/windowsazure\"\n \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n  \
         <ns1:ProvisioningSection>\n    \
         <ns1:Version>1.0</ns1:Version>\n    \
         <ns1:LinuxProvisioningConfigurationSet>\n      \
         <ns1:ConfigurationSetType>LinuxProvisioningConfiguration\n      \
         </ns1:ConfigurationSetType>\n      \
         <ns1:UserName>{username}</ns1:UserName>\n      \
         <ns1:DisableSshPasswordAuthentication>{disable_ssh_pwd}\n      \
         </ns1:DisableSshPasswordAuthentication>\n      \
         <ns1:HostName>{hostname}</ns1:HostName>\n    \
         </ns1:LinuxProvisioningConfigurationSet>\n  \
         </ns1:ProvisioningSection>\n  \
         <ns1:PlatformSettingsSection>\n    \
         <ns1:Version>1.0</ns1:Version>\n    \
         <ns1:PlatformSettings>\n      \
         <ns1:ProvisionGuestAgent>true</ns1:ProvisionGuestAgent>\n    \
         </ns1:PlatformSettings>\n  \
         </ns1:PlatformSettingsSection>\n\
         </ns0:Environment>\n"
    )
}

/// `normalize_mac_address`.
fn normalize_mac(mac: &str) -> String {
    let mac = if mac.len() == 12 && mac.is_ascii() {
        (0..6)
            .map(|i| &mac[i * 2..i * 2 + 2])
            .collect::<Vec<_>>()
            .join(":")
    } else {
        mac.to_string()
    };
    mac.to_lowercase()
}

/// `generate_network_config_from_instance_network_metadata`: network v2,
/// one `ethN` per interface with an address, matched by MAC (and by
/// driver where the root's sysfs says `hv_netvsc`); DHCP for the first
/// address of each family, the others static.
pub fn network_config_from_imds(
    network: &J,
    driver_of: &dyn Fn(&str) -> Option<String>,
) -> Result<Value, String> {
    let interfaces = network
        .get("interface")
        .and_then(J::as_array)
        .ok_or("IMDS network metadata has no 'interface' list")?;
    let mut ethernets = Mapping::new();
    for (idx, intf) in interfaces.iter().enumerate() {
        let nicname = format!("eth{idx}");
        let mut metric = Mapping::new();
        metric.insert(
            Value::str("route-metric"),
            Value::Int((idx as i64 + 1) * 100),
        );
        let mut dev = Mapping::new();
        dev.insert(Value::str("dhcp4"), Value::Bool(true));
        dev.insert(Value::str("dhcp4-overrides"), Value::Map(metric.clone()));
        dev.insert(Value::str("dhcp6"), Value::Bool(false));
        let mut has_ip = false;
        for family in ["ipv4", "ipv6"] {
            let section = intf.get(family);
            let addresses = match section.map(|s| s.get("ipAddress")) {
                None | Some(None) => &[][..],
                Some(Some(a)) => a
                    .as_array()
                    .map(Vec::as_slice)
                    .ok_or_else(|| format!("{nicname}: {family}.ipAddress is not a list"))?,
            };
            if addresses.is_empty() {
                tracing::debug!("No {family} addresses found for: {nicname}");
                continue;
            }
            has_ip = true;
            let default_prefix = if family == "ipv4" { "24" } else { "128" };
            if family == "ipv6" {
                dev.insert(Value::str("dhcp6"), Value::Bool(true));
                dev.insert(Value::str("dhcp6-overrides"), Value::Map(metric.clone()));
            }
            for addr in &addresses[1..] {
                let prefix = section
                    .and_then(|s| s.get("subnet"))
                    .and_then(|s| s.get(0))
                    .ok_or_else(|| format!("{nicname}: {family}.subnet[0] is missing"))?
                    .get("prefix")
                    .map(json_str)
                    .unwrap_or_else(|| default_prefix.to_string());
                let ip = addr.get("privateIpAddress").map(json_str).ok_or_else(|| {
                    format!("{nicname}: an {family} address has no privateIpAddress")
                })?;
                if !dev.contains_key("addresses") {
                    dev.insert(Value::str("addresses"), Value::Seq(Vec::new()));
                }
                if let Some(Value::Seq(list)) = dev.get_mut("addresses") {
                    list.push(Value::str(format!("{ip}/{prefix}")));
                }
            }
        }
        if !has_ip {
            tracing::debug!("No configuration for: {nicname}");
            continue;
        }
        let mac = intf
            .get("macAddress")
            .map(json_str)
            .ok_or_else(|| format!("{nicname}: no macAddress"))?;
        let mut m = Mapping::new();
        m.insert(Value::str("macaddress"), Value::str(normalize_mac(&mac)));
        if driver_of(&nicname).as_deref() == Some("hv_netvsc") {
            m.insert(Value::str("driver"), Value::str("hv_netvsc"));
        }
        dev.insert(Value::str("match"), Value::Map(m));
        dev.insert(Value::str("set-name"), Value::str(nicname.clone()));
        ethernets.insert(Value::str(nicname), Value::Map(dev));
    }
    let mut out = Mapping::new();
    out.insert(Value::str("version"), Value::Int(2));
    out.insert(Value::str("ethernets"), Value::Map(ethernets));
    Ok(Value::Map(out))
}

/// `is_byte_swapped`: the same uuid with its first three fields' bytes
/// in the other order (how Azure once reported it).
pub fn is_byte_swapped(previous: &str, current: &str) -> bool {
    if previous == current {
        return false;
    }
    let parts: Vec<&str> = current.split('-').collect();
    if parts.len() < 5 {
        return false;
    }
    let swap = |s: &str| {
        let pairs: Vec<String> = s
            .chars()
            .collect::<Vec<_>>()
            .chunks(2)
            .rev()
            .map(|c| c.iter().collect())
            .collect();
        pairs.concat()
    };
    let swapped = [
        swap(parts[0]),
        swap(parts[1]),
        swap(parts[2]),
        parts[3].into(),
        parts[4].into(),
    ]
    .join("-");
    previous == swapped
}

/// `_iid`: the DMI system uuid in lower case, or the recorded instance-id
/// when it is the same uuid in other case or byte order.
fn instance_id(ctx: &DsContext) -> Result<String, Failure> {
    let uuid = ctx
        .facts
        .dmi("product_uuid")
        .ok_or_else(|| Failure::reported("failed to read system-uuid"))?;
    let iid = uuid.to_lowercase();
    if let Some(previous) = ctx.fs.read_string(&ctx.paths.data("instance-id")) {
        let previous = previous.trim();
        if previous.to_lowercase() == iid || is_byte_swapped(&previous.to_lowercase(), &iid) {
            return Ok(previous.to_string());
        }
    }
    Ok(iid)
}

/// The keys the wireserver exchange yields (`_get_user_pubkeys`): 22.4
/// returns the ovf keys given by value, and those given by fingerprint
/// from the goal state's certificates, only when the goal state has
/// certificates. The certificate exchange (openssl) is not done here:
/// keys known only by fingerprint are reported and left out.
fn wireserver_keys(pubkeys: &[ovf::PublicKey], has_certificates: bool) -> Vec<String> {
    if !has_certificates {
        return Vec::new();
    }
    let mut keys = Vec::new();
    for k in pubkeys {
        match (&k.value, &k.fingerprint) {
            (Some(v), _) if !v.is_empty() => keys.push(v.clone()),
            (_, Some(fp)) if !fp.is_empty() => tracing::warn!(
                "ovf-env.xml PublicKey with fingerprint {fp} only: the goal state's certificates \
                 are not read by cloudboot; key left out"
            ),
            _ => {
                tracing::warn!("ovf-env.xml specified PublicKey with neither value nor fingerprint")
            }
        }
    }
    keys
}

/// The PPS type (`_determine_pps_type`): pre-provisioned pools are not
/// supported, so anything but `None` stops the crawl.
fn pps_type(ctx: &DsContext, cfg: &Mapping, imds: &serde_json::Map<String, J>) -> &'static str {
    let marker = ctx.paths.data("reported_ready");
    let ovf_type = cfg.get("PreprovisionedVMType").and_then(Value::as_str);
    let imds_type = imds
        .get("extended")
        .and_then(|e| e.get("compute"))
        .and_then(|c| c.get("ppsType"))
        .and_then(J::as_str);
    let is = |t: &str| ovf_type == Some(t) || imds_type == Some(t);
    if ctx.fs.exists(&marker) {
        "Unknown"
    } else if is("Savable") {
        "Savable"
    } else if is("PreprovisionedOSDisk") {
        "PreprovisionedOSDisk"
    } else if cfg.get("PreprovisionedVm") == Some(&Value::Bool(true)) || is("Running") {
        "Running"
    } else {
        "None"
    }
}

/// `crawl_metadata` and `_get_data`: the instance, with the fabric told.
fn crawl(ctx: &DsContext, cfg: &DsCfg, problems: &mut Vec<String>) -> Result<Instance, Failure> {
    let provisioning = find_provisioning(ctx, cfg)?;
    let ovf_accessible = matches!(provisioning, Some(Provisioning::Ovf { .. }));
    // The local stage's network for IMDS and the wireserver, held to the end.
    let net = match super::ephemeral::bring_up(ctx, IMDS_BASE) {
        Ok(net) => Some(net),
        Err(e) => {
            tracing::warn!("Azure: no network for IMDS and the wireserver: {e}");
            None
        }
    };
    let imds = if net.is_some() {
        read_imds()
    } else {
        serde_json::Map::new()
    };
    if imds.is_empty() && !ovf_accessible {
        return Err(Failure::reported("No OVF or IMDS available"));
    }
    let (seed, raw, mut md, user_data, mut ds_cfg, pubkeys) = match provisioning {
        Some(Provisioning::Ovf { seed, raw, ovf }) => (
            Some(seed),
            Some(raw),
            ovf.metadata,
            ovf.user_data,
            ovf.cfg,
            ovf.public_keys,
        ),
        Some(Provisioning::Imds) => {
            let mut md = Mapping::new();
            md.insert(Value::str("local-hostname"), Value::str(""));
            let mut user = Mapping::new();
            user.insert(Value::str("name"), Value::str(""));
            let mut si = Mapping::new();
            si.insert(Value::str("default_user"), Value::Map(user));
            let mut c = Mapping::new();
            c.insert(Value::str("system_info"), Value::Map(si));
            (
                Some("IMDS".to_string()),
                None,
                md,
                Vec::new(),
                c,
                Vec::new(),
            )
        }
        None => (
            None,
            None,
            Mapping::new(),
            Vec::new(),
            Mapping::new(),
            Vec::new(),
        ),
    };
    let pps = pps_type(ctx, &ds_cfg, &imds);
    tracing::info!("PPS type: {pps}");
    if pps != "None" {
        return Err(Failure {
            message: format!("pre-provisioned VMs (PPS type {pps}) are not supported by cloudboot"),
            report: false,
        });
    }
    md.insert(
        Value::str("imds"),
        Value::from_json(&J::Object(imds.clone())),
    );
    let imds_username = compute(&imds, &["osProfile", "adminUsername"]).map(json_str);
    let imds_hostname = compute(&imds, &["osProfile", "computerName"]).map(json_str);
    let imds_disable_password = compute(&imds, &["osProfile", "disablePasswordAuthentication"])
        .map(|v| v == &J::String("true".into()));
    if let Some(name) = imds_username.as_ref().filter(|n| !n.is_empty()) {
        tracing::debug!("Username retrieved from IMDS: {name}");
        set_default_user_name(&mut ds_cfg, name);
    }
    if let Some(h) = imds_hostname.as_ref().filter(|h| !h.is_empty()) {
        tracing::debug!("Hostname retrieved from IMDS: {h}");
        md.insert(Value::str("local-hostname"), Value::str(h.clone()));
    }
    if imds_disable_password == Some(true) {
        md.insert(Value::str("disable_password"), Value::Bool(true));
    }
    let document: Option<Vec<u8>> = match (&seed, raw) {
        (_, Some(raw)) => Some(raw),
        (Some(s), None) if s == "IMDS" => {
            let py = |v: &Option<String>| v.clone().unwrap_or_else(|| "None".into());
            let disable = match imds_disable_password {
                Some(true) => "True".to_string(),
                Some(false) => "False".to_string(),
                None => "None".to_string(),
            };
            Some(build_minimal_ovf(&py(&imds_username), &py(&imds_hostname), &disable).into_bytes())
        }
        _ => None,
    };
    // IMDS's user-data only when ovf-env.xml had no CustomData.
    let mut user_data = user_data;
    let mut user_data_from = seed.as_ref().map(|s| format!("{s}/ovf-env.xml CustomData"));
    if user_data.is_empty() {
        user_data_from = Some(format!("{IMDS_URL} compute.userData"));
        if let Some(ud) = compute(&imds, &["userData"])
            .map(json_str)
            .filter(|u| !u.is_empty())
        {
            let compact: String = ud.split_whitespace().collect();
            match crate::base64::decode(compact.as_bytes()) {
                Ok(b) => user_data = b,
                Err(e) => tracing::warn!("Bad userdata in IMDS ({IMDS_URL} compute.userData): {e}"),
            }
        }
    }
    let Some(seed) = seed else {
        return Err(Failure::reported("No Azure metadata found"));
    };
    if let Some(entropy) = crate::rootfs::read_limited(ctx.fs, Path::new(ENTROPY_SOURCE), 1 << 20)
        .ok()
        .flatten()
    {
        md.insert(
            Value::str("random_seed"),
            Value::str(crate::base64::encode(&entropy)),
        );
    }
    let iid = instance_id(ctx)?;
    md.insert(Value::str("instance-id"), Value::str(iid.clone()));

    let imds_keys = imds_public_keys(&imds);
    if net.is_some() {
        // Report ready; the wireserver's keys when IMDS has none.
        let pubkey_info = imds_keys.is_none().then_some(&pubkeys);
        let endpoint = wireserver::endpoint(ctx.fs);
        if ctx.planning {
            tracing::info!("plan: Azure would report ready to the fabric at {endpoint}");
        } else {
            match wireserver::report_ready(&endpoint, patience(ctx)) {
                Ok(gs) => {
                    let keys = pubkey_info
                        .map(|p| wireserver_keys(p, gs.certificates_url.is_some()))
                        .unwrap_or_default();
                    tracing::debug!("negotiating returned {} keys", keys.len());
                    if !keys.is_empty() {
                        md.insert(
                            Value::str("public-keys"),
                            Value::Seq(keys.into_iter().map(Value::Str).collect()),
                        );
                    }
                    remove_marker(ctx, problems);
                }
                Err(e) => problems.push(format!(
                    "Azure: Error communicating with Azure fabric at {endpoint}; You may experience \
                     connectivity issues: {e}"
                )),
            }
        }
    }
    drop(net);

    // The resource disk's partitioning and filesystem, when it is there.
    if ctx.fs.exists(Path::new(RESOURCE_DISK_PATH)) {
        ds_cfg = match crate::merge::merge_many(&[Value::Map(ds_cfg), ephemeral_disk_config()]) {
            Value::Map(m) => m,
            _ => Mapping::new(),
        };
    }
    if let (Some(doc), Some(dir)) = (&document, &cfg.data_dir) {
        write_agent_copy(ctx, dir, doc, problems);
    }
    let network_config = if !imds.is_empty() && cfg.apply_network_config {
        let driver_of = |nic: &str| {
            ctx.fs
                .read_link(&Path::new("/sys/class/net").join(nic).join("device/driver"))
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        };
        match imds
            .get("network")
            .map(|n| network_config_from_imds(n, &driver_of))
        {
            Some(Ok(nc)) => Some(nc),
            Some(Err(e)) => {
                problems.push(format!(
                    "Azure: Failed generating network config from IMDS network metadata: {e}"
                ));
                None
            }
            None => {
                problems.push(
                    "Azure: Failed generating network config from IMDS network metadata: 'network'"
                        .into(),
                );
                None
            }
        }
    } else {
        None
    };
    let public_keys = imds_keys.unwrap_or_else(|| {
        md.get("public-keys")
            .and_then(Value::as_seq)
            .map(|s| s.iter().map(Value::python_str).collect())
            .unwrap_or_default()
    });
    let availability_zone = compute(&imds, &["platformFaultDomain"]).map(json_str);
    let region = compute(&imds, &["location"]).map(json_str);
    let subplatform = if seed.starts_with("/dev") {
        format!("config-disk ({seed})")
    } else if seed.eq_ignore_ascii_case("imds") {
        format!("imds ({seed})")
    } else {
        format!("seed-dir ({seed})")
    };
    Ok(Instance {
        dsname: "Azure".into(),
        class_name: "DataSourceAzure".into(),
        description: format!("DataSourceAzure [seed={seed}]"),
        instance_id: iid,
        dsmode: DsMode::Net,
        metadata: Value::Map(md),
        user_data_from: user_data_from.filter(|_| !user_data.is_empty()),
        user_data: (!user_data.is_empty()).then_some(user_data),
        network_config,
        public_keys,
        availability_zone,
        region,
        cloud_name: "azure".into(),
        platform: "azure".into(),
        subplatform,
        config: Some(Value::Map(ds_cfg)),
        ..Default::default()
    })
}

/// `cfg["system_info"]["default_user"]["name"] = name`.
fn set_default_user_name(cfg: &mut Mapping, name: &str) {
    let si = cfg.get_mut("system_info").filter(|v| v.as_map().is_some());
    let si = match si {
        Some(v) => v,
        None => {
            cfg.insert(Value::str("system_info"), Value::empty_map());
            cfg.get_mut("system_info").expect("just inserted")
        }
    };
    if let Value::Map(si) = si {
        if !matches!(si.get("default_user"), Some(Value::Map(_))) {
            si.insert(Value::str("default_user"), Value::empty_map());
        }
        if let Some(Value::Map(user)) = si.get_mut("default_user") {
            user.insert(Value::str("name"), Value::str(name));
        }
    }
}

/// `BUILTIN_CLOUD_EPHEMERAL_DISK_CONFIG`.
fn ephemeral_disk_config() -> Value {
    let yaml = format!(
        "disk_setup:\n  ephemeral0:\n    table_type: gpt\n    layout: [100]\n    overwrite: true\n\
         fs_setup: [{{filesystem: {DEFAULT_FS}, device: ephemeral0.1}}]\n"
    );
    crate::yaml::load(yaml.as_bytes(), "BUILTIN_CLOUD_EPHEMERAL_DISK_CONFIG").unwrap_or_default()
}

/// `write_files(data_dir, {"ovf-env.xml": ...}, dirmode=0o700)`: the
/// agent's copy, password redacted, 0600.
fn write_agent_copy(ctx: &DsContext, dir: &Path, document: &[u8], problems: &mut Vec<String>) {
    if ctx.planning {
        tracing::info!("plan: Azure would write {}/ovf-env.xml", dir.display());
        return;
    }
    let path = dir.join("ovf-env.xml");
    let redacted = ovf::redact_password(document);
    // `util.ensure_dir(datadir, 0o700)`: made, or made private if it was not.
    let result = ctx
        .root
        .create_dir_all(dir, 0o700)
        .and_then(|()| ctx.root.set_owner_mode(dir, None, Some(0o700)))
        .and_then(|()| {
            ctx.root
                .write_atomic(&path, &mut &redacted[..], None, 0o600, None)
        });
    if let Err(e) = result {
        problems.push(format!("Azure: {}: {e}", path.display()));
    }
}

/// `_cleanup_markers`: the pre-provisioning marker goes once ready is reported.
fn remove_marker(ctx: &DsContext, problems: &mut Vec<String>) {
    let marker = ctx.paths.data("reported_ready");
    if ctx.fs.lstat(&marker).is_some() {
        if let Err(e) = ctx.root.remove(&marker) {
            problems.push(format!("Azure: {}: {e}", marker.display()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `make-expected.py` recorded from 22.4's own functions.
    fn expected() -> J {
        serde_json::from_str(include_str!(
            "../../tests/fixtures/datasources/azure/expected.json"
        ))
        .unwrap()
    }

    fn fixture(name: &str) -> Vec<u8> {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/datasources/azure"
        );
        std::fs::read(format!("{dir}/{name}")).unwrap()
    }

    #[test]
    fn ovf_env_xml_reads_as_22_4_reads_it() {
        let want = expected();
        let cases = want["ovf"].as_object().unwrap();
        assert!(cases.len() >= 7);
        for (name, want) in cases {
            let got = match ovf::read_azure_ovf(&fixture(name)) {
                Ok(o) => {
                    let mut cfg = o.cfg.clone();
                    // The salt is random: the hash must verify instead.
                    let user = match cfg.get_mut("system_info") {
                        Some(Value::Map(si)) => si.get_mut("default_user"),
                        _ => None,
                    };
                    if let Some(Value::Map(user)) = user {
                        if let Some(Value::Str(h)) = user.get_mut("hashed_passwd") {
                            let salt = h.split('$').nth(2).unwrap().to_string();
                            assert_eq!(salt.len(), 16);
                            let pw = if name == "ovf-full.xml" {
                                "Pa&ss w0rd!"
                            } else {
                                "secret"
                            };
                            assert_eq!(*h, crypt::sha512_crypt(pw.as_bytes(), &salt));
                            *h = "<sha512-crypt>".into();
                        }
                    }
                    serde_json::json!({
                        "metadata": Value::Map(o.metadata).to_json(),
                        "userdata_b64": crate::base64::encode(&o.user_data),
                        "cfg": Value::Map(cfg).to_json(),
                    })
                }
                Err(ovf::OvfError::NotAzure(m)) => {
                    serde_json::json!({"error": "NonAzureDataSource", "message": m})
                }
                Err(ovf::OvfError::Broken(m)) => {
                    serde_json::json!({"error": "BrokenAzureDataSource", "message": m})
                }
            };
            assert_eq!(&got, want, "{name}");
        }
    }

    #[test]
    fn network_config_as_22_4_generates_it() {
        let want = expected();
        for (key, want) in want["network"].as_object().unwrap() {
            let (file, driver) = key.split_once('/').unwrap();
            let doc: J = serde_json::from_slice(&fixture(file)).unwrap();
            let network = doc.get("network").unwrap_or(&doc);
            let driver_of =
                |nic: &str| (driver != "None" && nic == "eth0").then(|| driver.to_string());
            let got = network_config_from_imds(network, &driver_of).unwrap();
            assert_eq!(&got.to_json(), want, "{key}");
        }
        let broken = serde_json::json!({"interface": [{"macAddress": "x", "ipv4": {
            "ipAddress": [{"privateIpAddress": "10.0.0.4"}, {"privateIpAddress": "10.0.0.5"}]}}]});
        assert!(network_config_from_imds(&broken, &|_| None)
            .unwrap_err()
            .contains("subnet"));
    }

    #[test]
    fn health_reports_and_the_rest_as_22_4_builds_them() {
        let want = expected();
        let gs = wireserver::parse_goal_state(&fixture("goalstate.xml")).unwrap();
        assert_eq!(gs.certificates_url, None);
        assert_eq!(
            wireserver::build_report(&gs, "Ready", None),
            want["health_ready"]
        );
        assert_eq!(
            wireserver::build_report(
                &gs,
                "NotReady",
                Some(("ProvisioningFailed", wireserver::DEFAULT_FAILURE_MESSAGE))
            ),
            want["health_failure"]
        );
        assert_eq!(
            build_minimal_ovf("azureuser", "azvm-host", "True"),
            want["minimal_ovf"]
        );
        let c = &want["crypt"];
        let salt = c["salt"].as_str().unwrap().trim_start_matches("$6$");
        assert_eq!(
            crypt::sha512_crypt(c["password"].as_str().unwrap().as_bytes(), salt),
            c["hash"]
        );
        for case in want["byte_swapped"].as_array().unwrap() {
            let (p, c) = (case[0].as_str().unwrap(), case[1].as_str().unwrap());
            assert_eq!(J::Bool(is_byte_swapped(p, c)), case[2], "{p} {c}");
        }
        for (v, ip) in want["lease_values"].as_object().unwrap() {
            assert_eq!(
                wireserver::ip_from_lease_value(v).as_deref(),
                ip.as_str(),
                "{v}"
            );
        }
    }

    #[test]
    fn byte_swapped_uuids() {
        let cur = "544cdfe0-a3d8-4b7f-9a5e-3e7d3a5b2f11";
        let swapped = "e0df4c54-d8a3-7f4b-9a5e-3e7d3a5b2f11";
        assert!(is_byte_swapped(swapped, cur));
        assert!(!is_byte_swapped(cur, cur));
        assert!(!is_byte_swapped("other", cur));
    }

    #[test]
    fn macs_are_normalized() {
        assert_eq!(normalize_mac("000D3A0B1C2D"), "00:0d:3a:0b:1c:2d");
        assert_eq!(normalize_mac("00:0D:3A:0B:1C:2D"), "00:0d:3a:0b:1c:2d");
    }
}
