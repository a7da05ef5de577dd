//! Datasources: where an instance's identity and data come from. Each is
//! one file here plus one line in [`registry`], which says how to add one.
//!
//! A datasource returns one [`Instance`]; nothing downstream knows which one it
//! was. The result is cached as JSON in the instance directory, and later
//! stages (and later boots, once the instance-id is confirmed) reuse it
//! instead of searching again, as cloud-init does with `obj.pkl`.

mod block_devices;
pub mod cache;
pub mod declared;
pub mod detect;
mod devices;
pub mod ephemeral;
mod error;
pub mod events;
mod mounted;
mod password_server;
pub mod registry;
mod serial_port;
mod service;
pub mod source;

/// Declares the file of each registered datasource (the list is in
/// `registry.rs`, one line each).
macro_rules! declare_files {
    ($($file:ident::$source:ident,)*) => {
        $(mod $file;)*
    };
}
registry::registry!(declare_files);

use std::path::PathBuf;

use crate::base64;
use crate::paths::Paths;
use crate::rootfs::FsView;
use crate::schedule::Stage;
use crate::value::Value;

/// Azure's IMDS network metadata as network config v2, which `devel
/// net-convert -k azure-imds` converts too.
pub use azure::network_config_from_imds as azure_network_config_from_imds;
pub use block_devices::{BlockDevices, DeviceLookup};
pub use configdrive::ConfigDrive;
pub use detect::{Detect, Facts};
pub use error::DsError;
pub use nocloud::NoCloud;
pub use none::NoneSource;
pub use registry::{by_name, DatasourceInfo};

/// User-data larger than this is refused: as it arrives (a seed file, an
/// image, an HTTP body), once decompressed, and all that one blob's
/// decompression and includes add together. EC2 allows 16 KiB and OpenStack
/// 64 KiB; cloud-init sets no limit at all. (A datasource reads no more;
/// `crate::userdata` holds each blob to it again once decompressed.)
pub const MAX_USER_DATA: usize = 16 << 20;

/// cloud-init's dsmode: in which stage the datasource's data is processed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DsMode {
    Local,
    /// cloud-init's default.
    #[default]
    Net,
}

impl DsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            DsMode::Local => "local",
            DsMode::Net => "net",
        }
    }
}

/// Everything a datasource found, in one value. Datasources fill what they
/// have and take the rest from `Default` (no data, dsmode net).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Instance {
    /// The `datasource_list` name (`NoCloud`, `None`).
    pub dsname: String,
    /// cloud-init's class name (`DataSourceNoCloud`), for state files.
    pub class_name: String,
    /// `str(datasource)`, e.g. `DataSourceNoCloud [seed=/var/lib/cloud/seed/nocloud][dsmode=net]`.
    pub description: String,
    pub instance_id: String,
    pub dsmode: DsMode,
    pub metadata: Value,
    pub user_data: Option<Vec<u8>>,
    pub vendor_data: Option<Vec<u8>>,
    pub vendor_data2: Option<Vec<u8>>,
    /// Where each blob came from (a seed file, a device and the file on it,
    /// a URL), so that a problem in it names the file.
    pub user_data_from: Option<String>,
    pub vendor_data_from: Option<String>,
    pub vendor_data2_from: Option<String>,
    /// Network config in cloud-init's v1/v2 form (NoCloud `network-config`).
    pub network_config: Option<Value>,
    /// OpenStack `network_data.json`, as given.
    pub network_json: Option<serde_json::Value>,
    /// ENI text (ConfigDrive v1, nova's injected template, NoCloud `network-interfaces`).
    pub network_eni: Option<String>,
    /// SSH public keys from the metadata.
    pub public_keys: Vec<String>,
    pub availability_zone: Option<String>,
    pub region: Option<String>,
    /// Files to write on an instance's first boot (ConfigDrive `files`): path, content.
    pub files: Vec<(String, Vec<u8>)>,
    /// EC2-style metadata (ConfigDrive `ec2/latest/meta-data.json`, IMDS).
    pub ec2_metadata: Option<serde_json::Value>,
    pub cloud_name: String,
    pub platform: String,
    pub subplatform: String,
    /// The fallback datasource (`None`): no real data.
    pub disconnected: bool,
    /// The datasource's own config (cloud-init's `get_config_obj`: Azure's
    /// `ssh_pwauth` and default user from ovf-env.xml, RbxCloud's default
    /// user, SmartOS's disks, the password a password server gave),
    /// merged above the system config and below the instance's
    /// cloud-config. It may hold a secret: the cache that keeps it is the
    /// owner's alone, and it never goes into instance-data.
    pub config: Option<Value>,
    /// The names the metadata gives block devices (`ephemeral0`, `swap`),
    /// for the `mounts` module. Not cached: the datasource reads them from
    /// the fields above when it answers and when its cache is read
    /// ([`Datasource::block_devices`]).
    pub block_devices: BlockDevices,
}

impl Instance {
    /// `local-hostname` from meta-data.
    pub fn local_hostname(&self) -> Option<String> {
        self.metadata
            .get("local-hostname")
            .filter(|v| v.truthy())
            .map(Value::python_str)
    }

    /// `cloud_name`: meta-data's `cloud-name` when it has one, else the
    /// datasource's own.
    pub fn effective_cloud_name(&self) -> String {
        match self.metadata.get("cloud-name") {
            Some(Value::Str(s)) => s.to_lowercase(),
            _ => self.cloud_name.clone(),
        }
    }

    /// The `<ClassName>: <str(ds)>` line of `instances/<iid>/datasource`.
    pub fn datasource_line(&self) -> String {
        format!("{}: {}", self.class_name, self.description)
    }

    /// The cache file's JSON (`obj.json`), the blobs in base64, written
    /// straight into the output (a large user-data is not held twice more).
    pub fn to_cache_json(&self) -> Vec<u8> {
        let cached = Cached {
            dsname: &self.dsname,
            class_name: &self.class_name,
            description: &self.description,
            instance_id: &self.instance_id,
            dsmode: self.dsmode.as_str(),
            metadata: self.metadata.to_json(),
            user_data_b64: self.user_data.as_deref().map(Base64),
            vendor_data_b64: self.vendor_data.as_deref().map(Base64),
            vendor_data2_b64: self.vendor_data2.as_deref().map(Base64),
            user_data_from: &self.user_data_from,
            vendor_data_from: &self.vendor_data_from,
            vendor_data2_from: &self.vendor_data2_from,
            network_config: self.network_config.as_ref().map(Value::to_json),
            network_json: &self.network_json,
            network_eni: &self.network_eni,
            public_keys: &self.public_keys,
            availability_zone: &self.availability_zone,
            region: &self.region,
            files: self
                .files
                .iter()
                .map(|(p, c)| (p.as_str(), Base64(c)))
                .collect(),
            ec2_metadata: &self.ec2_metadata,
            cloud_name: &self.cloud_name,
            platform: &self.platform,
            subplatform: &self.subplatform,
            disconnected: self.disconnected,
            config: self.config.as_ref().map(Value::to_json),
        };
        // Room for the blobs' base64 and the rest, so the output is
        // allocated once rather than doubled (and copied) as it grows.
        let blobs: usize = [&self.user_data, &self.vendor_data, &self.vendor_data2]
            .iter()
            .filter_map(|b| b.as_ref().map(Vec::len))
            .chain(self.files.iter().map(|(_, c)| c.len()))
            .sum();
        let mut out = Vec::with_capacity(blobs / 3 * 4 + (64 << 10));
        match serde_json::to_writer(&mut out, &cached) {
            Ok(()) => out,
            Err(_) => Vec::new(),
        }
    }

    /// The instance [`Instance::to_cache_json`] wrote. The blobs are decoded one at
    /// a time, each base64 text dropped once decoded, so that reading back a
    /// large user-data costs its size once or twice, not four times.
    pub fn from_json(j: serde_json::Value) -> Option<Instance> {
        Self::cached_fields(j).map(Instance::with_block_devices)
    }

    /// [`Instance::block_devices`], as the datasource named
    /// [`Instance::dsname`] reads them from the other fields.
    fn with_block_devices(mut self) -> Instance {
        if let Some(ds) = by_name(&self.dsname) {
            self.block_devices = ds.block_devices(&self);
        }
        self
    }

    /// The fields the cache file holds.
    fn cached_fields(mut j: serde_json::Value) -> Option<Instance> {
        let mut bytes = |k: &str| match j.get_mut(k).map(serde_json::Value::take) {
            Some(serde_json::Value::String(t)) => base64::decode(t.as_bytes()).ok(),
            _ => None,
        };
        let (user_data, vendor_data, vendor_data2) = (
            bytes("user_data_b64"),
            bytes("vendor_data_b64"),
            bytes("vendor_data2_b64"),
        );
        let s = |k: &str| j.get(k).and_then(|v| v.as_str()).map(str::to_string);
        Some(Instance {
            dsname: s("dsname")?,
            class_name: s("class_name")?,
            description: s("description")?,
            instance_id: s("instance_id")?,
            dsmode: if s("dsmode")? == "local" {
                DsMode::Local
            } else {
                DsMode::Net
            },
            metadata: Value::from_json(j.get("metadata")?),
            user_data,
            vendor_data,
            vendor_data2,
            user_data_from: s("user_data_from"),
            vendor_data_from: s("vendor_data_from"),
            vendor_data2_from: s("vendor_data2_from"),
            network_config: j
                .get("network_config")
                .filter(|v| !v.is_null())
                .map(Value::from_json),
            network_json: j.get("network_json").filter(|v| !v.is_null()).cloned(),
            network_eni: s("network_eni"),
            public_keys: j
                .get("public_keys")
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|k| k.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            availability_zone: s("availability_zone"),
            region: s("region"),
            files: j
                .get("files")
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|f| {
                            let path = f.get(0)?.as_str()?.to_string();
                            let content = base64::decode(f.get(1)?.as_str()?.as_bytes()).ok()?;
                            Some((path, content))
                        })
                        .collect()
                })
                .unwrap_or_default(),
            ec2_metadata: j.get("ec2_metadata").filter(|v| !v.is_null()).cloned(),
            cloud_name: s("cloud_name").unwrap_or_default(),
            platform: s("platform").unwrap_or_default(),
            subplatform: s("subplatform").unwrap_or_default(),
            disconnected: j
                .get("disconnected")
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
            config: j
                .get("config")
                .filter(|v| !v.is_null())
                .map(Value::from_json),
            block_devices: BlockDevices::default(),
        })
    }
}

/// [`Instance`] as its cache file holds it.
#[derive(serde::Serialize)]
struct Cached<'a> {
    dsname: &'a str,
    class_name: &'a str,
    description: &'a str,
    instance_id: &'a str,
    dsmode: &'a str,
    metadata: serde_json::Value,
    user_data_b64: Option<Base64<'a>>,
    vendor_data_b64: Option<Base64<'a>>,
    vendor_data2_b64: Option<Base64<'a>>,
    user_data_from: &'a Option<String>,
    vendor_data_from: &'a Option<String>,
    vendor_data2_from: &'a Option<String>,
    network_config: Option<serde_json::Value>,
    network_json: &'a Option<serde_json::Value>,
    network_eni: &'a Option<String>,
    public_keys: &'a [String],
    availability_zone: &'a Option<String>,
    region: &'a Option<String>,
    files: Vec<(&'a str, Base64<'a>)>,
    ec2_metadata: &'a Option<serde_json::Value>,
    cloud_name: &'a str,
    platform: &'a str,
    subplatform: &'a str,
    disconnected: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<serde_json::Value>,
}

/// Bytes serialized as a base64 string, encoded as they are written.
struct Base64<'a>(&'a [u8]);

impl serde::Serialize for Base64<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&base64::Display(self.0))
    }
}

/// What a datasource may look at.
pub struct DsContext<'a> {
    pub fs: &'a dyn FsView,
    /// The target root, to open device nodes under it.
    pub root: &'a crate::rootfs::Root,
    /// Devices named on the command line (paths on this machine), tried first.
    pub devices: &'a [std::path::PathBuf],
    /// Mount a device that cannot be read in place (`--mount-fallback`).
    pub mount_fallback: bool,
    pub paths: &'a Paths,
    /// The system config (cloud.cfg and friends): `datasource.<Name>` lives there.
    pub cfg: &'a Value,
    pub stage: Stage,
    /// What ds-identify reads (DMI, command line, labels), read once per
    /// search: [`Datasource::detect`] decides from it.
    pub facts: Facts<'a>,
    /// The datasources described in `/etc/cloudboot/datasources.d`.
    pub declared: &'a [declared::Declared],
    /// A `plan`: nothing may change, not even the local stage's ephemeral
    /// network ([`ephemeral::bring_up`]); a datasource reads but tells its
    /// cloud nothing and writes nothing (Azure's report-ready, its agent
    /// files).
    pub planning: bool,
    /// The machine's NICs, for datasources whose metadata names them by MAC.
    pub nics: Nics<'a>,
}

impl<'a> DsContext<'a> {
    /// A context for the root's files alone: no devices named on the
    /// command line, no described datasources, not a plan.
    pub fn new(
        fs: &'a dyn FsView,
        root: &'a crate::rootfs::Root,
        paths: &'a Paths,
        cfg: &'a Value,
        stage: Stage,
    ) -> DsContext<'a> {
        DsContext {
            fs,
            root,
            devices: &[],
            mount_fallback: false,
            paths,
            cfg,
            stage,
            facts: Facts::new(fs, root, &[]),
            declared: &[],
            planning: false,
            nics: Nics::new(fs),
        }
    }

    /// The datasource a `datasource_list` name means: a built-in one, or
    /// one described in `datasources.d`.
    pub fn datasource(&self, name: &str) -> Option<&'a dyn Datasource> {
        by_name(name).or_else(|| {
            let bare = registry::bare_name(name);
            self.declared
                .iter()
                .find(|d| d.info().name == bare)
                .map(|d| d as &dyn Datasource)
        })
    }
}

/// The machine's network interfaces as cloud-init's `cloudinit.net` sees
/// them (`/sys/class/net` under the root, `crate::sysnet`), for datasources
/// that turn metadata naming NICs by MAC into network config (Vultr,
/// UpCloud, NWCS) or configure the fallback NIC (Scaleway, LXD); read the
/// first time one asks.
pub struct Nics<'a> {
    fs: &'a dyn FsView,
    sys: std::cell::OnceCell<crate::sysnet::SysNet>,
}

impl<'a> Nics<'a> {
    pub fn new(fs: &'a dyn FsView) -> Nics<'a> {
        Nics {
            fs,
            sys: std::cell::OnceCell::new(),
        }
    }

    fn sys(&self) -> &crate::sysnet::SysNet {
        self.sys
            .get_or_init(|| crate::sysnet::SysNet::read(self.fs))
    }

    /// `get_interfaces_by_mac`: MAC (lower case) -> interface name; an
    /// error (two NICs with one MAC) in cloud-init's words.
    pub fn by_mac(&self) -> Result<std::collections::HashMap<String, String>, String> {
        self.sys()
            .interfaces_by_mac(&[])
            .map(|m| m.macs)
            .map_err(|e| e.to_string())
    }

    /// [`Nics::by_mac`] as (MAC, name) pairs in name order; none when two
    /// NICs share a MAC (cloud-init raises there; the caller's network
    /// config then falls back).
    pub fn by_mac_sorted(&self) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = match self.by_mac() {
            Ok(m) => m.into_iter().collect(),
            Err(e) => {
                tracing::warn!("{e}");
                Vec::new()
            }
        };
        pairs.sort_by(|a, b| a.1.cmp(&b.1));
        pairs
    }

    /// `find_fallback_nic`: the first NIC DHCP could work on.
    pub fn fallback(&self) -> Option<String> {
        self.sys().fallback_nic(&[])
    }
}

impl DsContext<'_> {
    /// `datasource.<name>` from the system config (`ds_cfg`).
    pub fn ds_cfg(&self, name: &str) -> Value {
        self.cfg
            .get("datasource")
            .and_then(|d| d.get(name))
            .cloned()
            .unwrap_or(Value::Null)
    }
}

/// The result of asking one datasource.
pub struct Found {
    pub instance: Option<Instance>,
    /// Problems with the input (bad YAML, ...): reported, the search goes on.
    pub problems: Vec<String>,
}

impl Found {
    /// What one read of a datasource gives: its instance (or none: not
    /// here), or one problem, `label` then the error's words.
    pub fn from_read(label: &str, read: Result<Option<Instance>, DsError>) -> Found {
        Found::from_read_with(label, read, Vec::new())
    }

    /// [`Found::from_read`] after the problems the read already reported
    /// (a device passed over, a transport that failed).
    pub fn from_read_with(
        label: &str,
        read: Result<Option<Instance>, DsError>,
        mut problems: Vec<String>,
    ) -> Found {
        let instance = read.unwrap_or_else(|e| {
            problems.push(format!("{label}: {e}"));
            None
        });
        Found { instance, problems }
    }
}

/// A place instance data can come from. Each is registered in
/// [`registry`], which says how to add one.
pub trait Datasource: Sync {
    /// Its name, other names and summary.
    fn info(&self) -> &'static DatasourceInfo;
    /// The `datasource_list` name.
    fn name(&self) -> &'static str {
        self.info().name
    }
    /// Whether this datasource can apply here, from [`DsContext::facts`]
    /// (and cheap checks of its own: a seed directory, a socket), as
    /// ds-identify's `dscheck_<Name>`; it must cost microseconds and never
    /// touch the network. [`Detect::NotFound`] means [`Datasource::get`] is
    /// never called. The default, `Maybe`, always looks.
    fn detect(&self, _ctx: &DsContext) -> Detect {
        Detect::Maybe
    }
    /// Looks for data; `instance: None` when this datasource is not here.
    /// Called only when [`Datasource::detect`] did not say `NotFound`.
    fn get(&self, ctx: &DsContext) -> Found;
    /// The names its metadata gives block devices (cloud-init's
    /// `device_name_to_device`), read from an instance it found; the
    /// default: none.
    fn block_devices(&self, _instance: &Instance) -> BlockDevices {
        BlockDevices::default()
    }
    /// Whether a cached instance still describes this machine (cloud-init's
    /// `check_instance_id`); the default says no, which forces a new search.
    fn check_instance_id(&self, _ctx: &DsContext, _cached_iid: &str) -> bool {
        false
    }
}

/// A warning for each name in `datasource_list` that no datasource answers
/// to (cloudboot has every datasource of cloud-init 22.4, so it is a typo or
/// another program's name): without it a boot could end on `None` (no keys,
/// no hostname) with nothing said.
pub fn unavailable_in_list(cfg: &Value, declared: &[declared::Declared]) -> Vec<String> {
    let Some(list) = cfg.get("datasource_list").and_then(Value::as_seq) else {
        return Vec::new();
    };
    list.iter()
        .map(Value::python_str)
        .filter(|name| {
            by_name(name).is_none()
                && !declared
                    .iter()
                    .any(|d| d.info().name == registry::bare_name(name))
        })
        .map(|name| {
            format!(
                "datasource_list names {name}, which is no datasource cloud-init or cloudboot knows (a typo?); skipped"
            )
        })
        .collect()
}

/// The names to search in a stage: the stage's list from stages.yaml,
/// ordered and filtered by `datasource_list` when the config has one. The
/// datasources described in `datasources.d` for this stage come first,
/// whether `datasource_list` names them or not (installing a description
/// is asking for it; an image's own `datasource_list` predates it), or at
/// their place in `datasource_list` when it names them.
pub fn search_order(stage_list: &[String], declared: &[String], cfg: &Value) -> Vec<String> {
    let Some(list) = cfg.get("datasource_list").and_then(Value::as_seq) else {
        return declared.iter().chain(stage_list).cloned().collect();
    };
    let listed: Vec<String> = list.iter().map(Value::python_str).collect();
    let unlisted = declared.iter().filter(|d| !listed.contains(d));
    let in_list = listed
        .iter()
        .filter(|n| stage_list.contains(n) || declared.contains(n));
    unlisted.chain(in_list).cloned().collect()
}

/// Every registered datasource's [`Datasource::detect`] verdict here, in
/// registry order: ds-identify's report (nothing is fetched).
pub fn identify(ctx: &DsContext) -> Vec<(&'static str, Detect)> {
    registry::all()
        .iter()
        .map(|d| (d.info().name, d.detect(ctx)))
        .collect()
}

/// The outcome of a search.
pub struct Search {
    pub instance: Option<Instance>,
    pub problems: Vec<String>,
    /// Names in `datasource_list` that cloudboot cannot search.
    pub warnings: Vec<String>,
    pub searched: Vec<String>,
}

/// Asks each datasource in turn; the first that answers wins.
pub fn search(names: &[String], ctx: &DsContext) -> Search {
    let mut out = Search {
        instance: None,
        problems: Vec::new(),
        warnings: unavailable_in_list(ctx.cfg, ctx.declared),
        searched: Vec::new(),
    };
    for w in &out.warnings {
        tracing::warn!("{w}");
    }
    for name in names {
        let Some(ds) = ctx.datasource(name) else {
            continue;
        };
        if ds.detect(ctx) == Detect::NotFound {
            tracing::debug!("{name}: not detected on this platform; not tried");
            continue;
        }
        out.searched.push(name.clone());
        let event = crate::events::search(ds.info().name, ds.info().aliases, ctx.stage);
        let found = ds.get(ctx);
        event.finish(found.instance.is_some());
        for p in &found.problems {
            tracing::warn!("{p}");
        }
        out.problems.extend(found.problems);
        if let Some(instance) = found.instance {
            tracing::info!("found datasource {}", instance.description);
            out.instance = Some(instance.with_block_devices());
            break;
        }
    }
    out
}

/// Several blobs as one MIME multipart, so each is processed in turn (how
/// cloud-init treats a vendor-data list).
pub fn multipart_of(blobs: &[Vec<u8>]) -> Vec<u8> {
    let boundary = "==cloudboot-vendor-data-list==";
    let mut out =
        format!("Content-Type: multipart/mixed; boundary=\"{boundary}\"\nMIME-Version: 1.0\n\n")
            .into_bytes();
    for b in blobs {
        out.extend_from_slice(
            format!(
                "--{boundary}\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n"
            )
            .as_bytes(),
        );
        out.extend_from_slice(base64::encode(b).as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(format!("--{boundary}--\n").as_bytes());
    out
}

/// Where the cached instance of the current instance lives.
pub fn cache_path(paths: &Paths) -> PathBuf {
    paths.instance_link().join(crate::paths::DATASOURCE_CACHE)
}

/// The cached instance, if any (read through the `instance` link).
pub fn load_cache(fs: &dyn FsView, paths: &Paths) -> Option<Instance> {
    // The file's bytes go before the blobs are decoded.
    let j: serde_json::Value = {
        let bytes = fs.read(&cache_path(paths)).ok()?;
        serde_json::from_slice(&bytes).ok()?
    };
    Instance::from_json(j)
}
