//! OVF (`sources/DataSourceOVF.py`): the OVF environment, `ovf-env.xml`,
//! read from (in 22.4's order, a later one replacing an earlier one's
//! data) `/var/lib/cloud/seed/ovf-env.xml` (22.4 reads the seed directory
//! itself, not `seed/ovf/`, which is where ds-identify looks), then the
//! first transport that has it: VMware's `guestinfo.ovfEnv` (through
//! `vmware-rpctool`) and an ISO9660 on a CD-ROM device (`sr<n>`, `hd<x>`,
//! `xvd*`, or a device given on the command line). The PropertySection's
//! properties: `instance-id`, `hostname`/`local-hostname`, `public-keys`,
//! `seedfrom`, `user-data` (base64, else as is), `network-config` (base64
//! YAML, its `network`; transports only) and `password`. `seedfrom`:
//! `file://` or a path in the local stage (`DataSourceOVF`), `http(s)://`
//! in the network stage (`DataSourceOVFNet`), as NoCloud reads one.
//!
//! Not done: VMware guest customization (`vmware-imc`: `cust.cfg` and the
//! raw cloud-init data under `/var/run/vmware-imc`, the deployPkg plugin,
//! NIC configuration and customization status reports), which 22.4 tries on
//! VMware when `disable_vmware_customization` is false; and the `password`
//! property, which 22.4 hands to set_passwords as datasource config
//! (`get_config_obj`): cloudboot has no datasource config object, and
//! the password is kept out of meta-data (instance-data.json is
//! world-readable). `CLOUD_INIT_CDROM_DEV_REGEX` is not read.

mod xml;

use std::io::Read;
use std::path::{Path, PathBuf};

use super::detect::{named_in_config, Detect};
use super::source::{DirSource, SeedSource};
use super::vmware::rpctool::Rpctool;
use super::{Datasource, DatasourceInfo, DsContext, DsError, Found, Instance};
use crate::base64;
use crate::merge::merge_many;
use crate::schedule::Stage;
use crate::value::{Mapping, Value};

pub struct Ovf;

/// The OVF environment's namespace, of the `key`/`value` attributes.
pub const ENV_NS: &str = "http://schemas.dmtf.org/ovf/environment/1";

/// `get_ovf_env`'s names, tried in order.
const ENV_NAMES: [&str; 4] = ["ovf-env.xml", "ovf_env.xml", "OVF_ENV.XML", "OVF-ENV.XML"];

/// Azure's chassis asset tag: Azure's OVF is Azure's (ds-identify).
const AZURE_CHASSIS: &str = "7783-7084-3265-9085-8269-3286-77";

static INFO: DatasourceInfo = DatasourceInfo {
    name: "OVF",
    aliases: &["OVFNet"],
    summary:
        "the OVF environment (`ovf-env.xml`: the seed, `guestinfo.ovfEnv`, a CD-ROM's ISO9660): \
              instance-id, hostname, public-keys, user-data, network-config, seedfrom; \
              no VMware guest customization",
};

/// `get_properties`: the first PropertySection's `Property` key/value
/// pairs, in document order (a repeated key keeps its place, the last
/// value wins).
pub fn get_properties(text: &str) -> Result<Vec<(String, String)>, String> {
    let root = xml::parse(text)?;
    if root.local != "Environment" {
        return Err("No Environment Node".into());
    }
    if root.children.is_empty() {
        return Err("No Child Nodes".into());
    }
    let section = root
        .children_named("PropertySection")
        .next()
        .ok_or("No 'PropertySection's")?;
    let mut props: Vec<(String, String)> = Vec::new();
    for prop in section.children_named("Property") {
        let attr = |name: &str| {
            prop.attr_ns(ENV_NS, name)
                .map(str::to_string)
                .ok_or_else(|| format!("a Property has no oe:{name} attribute"))
        };
        let (key, value) = (attr("key")?, attr("value")?);
        match props.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => props.push((key, value)),
        }
    }
    Ok(props)
}

/// What an OVF environment gives (`read_ovf_environment`'s md, ud, cfg).
#[derive(Debug, Default, PartialEq)]
pub struct OvfEnv {
    pub metadata: Mapping,
    pub user_data: Option<Vec<u8>>,
    /// `cfg`'s `password` (not used: see the module's text).
    pub password: Option<String>,
}

/// `read_ovf_environment(contents, read_network)`.
pub fn read_ovf_environment(text: &str, read_network: bool) -> Result<OvfEnv, String> {
    let mut env = OvfEnv::default();
    for (prop, val) in get_properties(text)? {
        let prop = if prop == "hostname" {
            "local-hostname".to_string()
        } else {
            prop
        };
        match prop.as_str() {
            "seedfrom" | "local-hostname" | "public-keys" | "instance-id" => {
                env.metadata
                    .insert(Value::str(prop.as_str()), Value::str(val));
            }
            "password" => env.password = Some(val),
            "network-config" if read_network => {
                // A value that is not base64 YAML of a mapping is ignored.
                let net = base64::decode(val.as_bytes()).ok().and_then(|raw| {
                    if raw.is_empty() {
                        return Some(Value::Null);
                    }
                    match crate::yaml::load(&raw, "ovf-env.xml network-config") {
                        Ok(Value::Map(m)) => Some(m.get("network").cloned().unwrap_or(Value::Null)),
                        // `.get` of anything else raised; 22.4 ignores it.
                        _ => None,
                    }
                });
                match net {
                    Some(v) => env.metadata.insert(Value::str("network-config"), v),
                    None => tracing::debug!("Ignore network-config in wrong format"),
                }
            }
            "user-data" => {
                env.user_data =
                    Some(base64::decode(val.as_bytes()).unwrap_or_else(|_| val.into_bytes()))
            }
            _ => {}
        }
    }
    Ok(env)
}

/// `get_ovf_env(dir)`: the first of [`ENV_NAMES`] that reads as text.
fn get_ovf_env(src: &dyn SeedSource) -> Option<(String, String)> {
    for name in ENV_NAMES {
        match src.read(name) {
            Ok(Some(raw)) => match String::from_utf8(raw) {
                Ok(text) => return Some((name.to_string(), text)),
                Err(e) => tracing::warn!(
                    "Failed loading ovf file {}: {e}",
                    super::source::shown(src, name)
                ),
            },
            Ok(None) => {}
            Err(e) => tracing::warn!(
                "Failed loading ovf file {}: {e}",
                super::source::shown(src, name)
            ),
        }
    }
    None
}

/// A device as the guest names it (`/dev/sr0`), through udev's links: the
/// root's path, its host path (for reading it), or `None` (a device given
/// on the command line: itself).
fn guest_device(ctx: &DsContext, shown: &str) -> (Option<String>, PathBuf) {
    if !shown.starts_with("/dev/") {
        return (None, PathBuf::from(shown));
    }
    match ctx.root.resolve(Path::new(shown)) {
        Ok(host) => {
            let guest = host
                .strip_prefix(ctx.root.host_path())
                .map(|p| format!("/{}", p.display()))
                .unwrap_or_else(|_| shown.to_string());
            (Some(guest), host)
        }
        Err(_) => (Some(shown.to_string()), PathBuf::from(shown)),
    }
}

/// `maybe_cdrom_device`: `sr<digits>`, `hd<letter>`, `xvd*` under /dev.
fn maybe_cdrom_device(guest: &str) -> bool {
    let Some(name) = guest.strip_prefix("/dev/") else {
        return false;
    };
    if name.contains('/') {
        return false;
    }
    let b = name.as_bytes();
    (name.starts_with("sr") && b.len() > 2 && b[2].is_ascii_digit())
        || (name.starts_with("hd") && b.len() > 2 && b[2].is_ascii_lowercase())
        || name.starts_with("xvd")
}

/// ds-identify's `is_cdrom_ovf`: a CD-ROM (`/dev/sr<digit>`, `/dev/hd<x>`,
/// or a device on the command line) with an OVF label, or, under 10 MB and
/// not labelled for another datasource, holding the OVF namespace.
fn is_cdrom_ovf(ctx: &DsContext, shown: &str, label: &str) -> bool {
    let (guest, host) = guest_device(ctx, shown);
    let size = match &guest {
        Some(g) => {
            let b = g.as_bytes();
            let cdrom = (g.len() == 8 && g.starts_with("/dev/sr") && b[7].is_ascii_digit())
                || (g.len() == 8 && g.starts_with("/dev/hd") && b[7].is_ascii_lowercase());
            if !cdrom {
                return false;
            }
            let name = &g[5..];
            ctx.facts
                .read_small(&format!("/sys/class/block/{name}/size"))
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map(|sectors| sectors * 512)
        }
        None => std::fs::metadata(&host).ok().map(|m| m.len()),
    };
    if matches!(
        label,
        "OVF-TRANSPORT" | "ovf-transport" | "OVFENV" | "ovfenv" | "OVF ENV" | "ovf env"
    ) {
        return true;
    }
    if matches!(label, "config-2" | "CONFIG-2" | "cidata" | "CIDATA")
        || label.starts_with("rd_rdfe_stable")
    {
        return false;
    }
    let Some(size) = size.filter(|s| s / (2048 * 512) < 10) else {
        return false;
    };
    let mut data = Vec::new();
    let read = std::fs::File::open(&host).and_then(|f| f.take(size).read_to_end(&mut data));
    read.is_ok()
        && data
            .windows(ENV_NS.len())
            .any(|w| w.eq_ignore_ascii_case(ENV_NS.as_bytes()))
}

impl Ovf {
    /// `transport_vmware_guestinfo`: (where, the text).
    fn guestinfo(ctx: &DsContext) -> Option<(String, String)> {
        let tool = Rpctool::find(ctx)?;
        match tool.call(ctx, "info-get guestinfo.ovfEnv") {
            Ok(a) if a.code == Some(0) && !a.stdout.is_empty() => {
                Some((format!("{} guestinfo.ovfEnv", tool.path), a.stdout))
            }
            Ok(a) => {
                if a.code != Some(0) && a.code != Some(1) {
                    tracing::warn!("{} exited with code {:?}", tool.path, a.code);
                }
                None
            }
            Err(e) => {
                tracing::warn!("guestinfo.ovfEnv: {e}");
                None
            }
        }
    }

    /// `transport_iso9660`: the CD-ROM devices with an ISO9660; (the
    /// file read, the text).
    fn iso(ctx: &DsContext, problems: &mut Vec<String>) -> Option<(String, String)> {
        let devices = super::devices::candidates_ranked(
            ctx,
            &|fs_type, _| (fs_type == "iso9660").then_some(0),
            problems,
        );
        for src in devices {
            let shown = src.describe();
            match guest_device(ctx, &shown).0 {
                Some(guest) if !maybe_cdrom_device(&guest) => continue,
                _ => {}
            }
            if let Some((name, text)) = get_ovf_env(src.as_ref()) {
                return Some((super::source::shown(src.as_ref(), &name), text));
            }
        }
        None
    }

    fn read(ctx: &DsContext, problems: &mut Vec<String>) -> Result<Option<Instance>, DsError> {
        let net_class = ctx.stage != Stage::Local;
        let bad = |file: String| move |error: String| DsError::BadFile { file, error };
        let mut found: Vec<String> = Vec::new();
        let mut env = OvfEnv::default();
        // `paths.seed_dir` itself, not its `ovf` (see the module's text).
        let seed_dir = ctx.paths.cloud_dir.join("seed");
        let seed = DirSource {
            fs: ctx.fs,
            base: seed_dir.clone(),
        };
        if let Some((name, text)) = get_ovf_env(&seed) {
            let path = seed_dir.join(&name).display().to_string();
            env = read_ovf_environment(&text, false).map_err(bad(path.clone()))?;
            found.push(path);
        }
        let mut network = None;
        type Transport<'a> = &'a dyn Fn(&mut Vec<String>) -> Option<(String, String)>;
        let transports: [(&str, Transport); 2] = [
            ("com.vmware.guestInfo", &|_| Self::guestinfo(ctx)),
            ("iso", &|p| Self::iso(ctx, p)),
        ];
        for (name, transport) in transports {
            if let Some((file, text)) = transport(problems) {
                env = read_ovf_environment(&text, true).map_err(bad(file))?;
                network = env
                    .metadata
                    .get("network-config")
                    .filter(|v| v.truthy())
                    .cloned();
                found.push(name.to_string());
                break;
            }
        }
        if found.is_empty() {
            return Ok(None);
        }
        let mut md = Value::Map(env.metadata);
        let mut user_data = env.user_data;
        let mut vendor_data = None;
        let seedfrom = md
            .get("seedfrom")
            .filter(|v| v.truthy())
            .map(Value::python_str);
        if let Some(seedfrom) = seedfrom {
            let supported: &[&str] = if net_class {
                &["http://", "https://"]
            } else {
                &["/", "file://"]
            };
            if !supported.iter().any(|p| seedfrom.starts_with(p)) {
                tracing::debug!("Seed from {seedfrom} not supported by this stage's OVF");
                return Ok(None);
            }
            let fetch = |name: &str| super::nocloud::fetch_seeded(ctx, &seedfrom, name);
            let meta_url = super::nocloud::seeded_url(&seedfrom, "meta-data");
            let meta_raw = fetch("meta-data")?.ok_or_else(|| DsError::Missing(meta_url.clone()))?;
            let md_seed = match crate::yaml::load(&meta_raw, &meta_url) {
                Ok(v @ Value::Map(_)) => v,
                _ => Value::empty_map(),
            };
            md = merge_many(&[md, md_seed]);
            user_data = fetch("user-data")?;
            vendor_data = fetch("vendor-data")?;
            found.push(seedfrom);
        }
        let mut defaults = Mapping::new();
        defaults.insert(Value::str("instance-id"), Value::str("iid-dsovf"));
        let md = merge_many(&[md, Value::Map(defaults)]);
        let public_keys = match md.get("public-keys") {
            None => Vec::new(),
            Some(Value::Seq(items)) => items.iter().map(Value::python_str).collect(),
            Some(one) => vec![one.python_str()],
        };
        let seed = found.join(",");
        let class = if net_class {
            "DataSourceOVFNet"
        } else {
            "DataSourceOVF"
        };
        let vmware = ctx
            .facts
            .dmi("product_name")
            .is_some_and(|p| p.to_lowercase() == "vmware");
        Ok(Some(Instance {
            dsname: "OVF".into(),
            class_name: class.into(),
            description: format!("{class} [seed={seed}]"),
            instance_id: md
                .get("instance-id")
                .map(Value::python_str)
                .unwrap_or_else(|| "iid-dsovf".into()),
            user_data_from: user_data.is_some().then(|| seed.clone()),
            vendor_data_from: vendor_data.is_some().then(|| seed.clone()),
            user_data,
            vendor_data,
            network_config: network,
            public_keys,
            cloud_name: "ovf".into(),
            platform: "ovf".into(),
            subplatform: if vmware {
                format!("vmware ({seed})")
            } else {
                format!("ovf ({seed})")
            },
            metadata: md,
            ..Default::default()
        }))
    }
}

impl Datasource for Ovf {
    fn info(&self) -> &'static DatasourceInfo {
        &INFO
    }

    /// ds-identify's `dscheck_OVF`: the seed (`seed/ovf/ovf-env.xml`);
    /// not on Azure; VMware with `vmware-rpctool` (whose `guestinfo.ovfEnv`
    /// ds-identify reads: left to `get`, `Maybe`); an OVF CD-ROM. Its
    /// `DI_VIRT=none` and guest-customization checks are not made (no
    /// virtualization fact; no customization).
    fn detect(&self, ctx: &DsContext) -> Detect {
        let seed = ctx.paths.seed_dir("ovf").join("ovf-env.xml");
        if ctx
            .fs
            .stat(&seed)
            .is_some_and(|s| s.kind == crate::rootfs::Kind::File)
        {
            return Detect::Found;
        }
        if ctx.facts.dmi("chassis_asset_tag") == Some(AZURE_CHASSIS) {
            return Detect::NotFound;
        }
        if ctx
            .facts
            .filesystems()
            .iter()
            .any(|f| f.fs_type == "iso9660" && is_cdrom_ovf(ctx, &f.device, &f.label))
        {
            return Detect::Found;
        }
        let on_vmware = [
            "sys_vendor",
            "product_name",
            "board_vendor",
            "product_version",
        ]
        .iter()
        .filter_map(|f| ctx.facts.dmi(f))
        .any(|v| v.starts_with("VMware") || v.starts_with("VMW"));
        if (on_vmware && Rpctool::find(ctx).is_some()) || named_in_config(ctx.cfg, "OVF") {
            Detect::Maybe
        } else {
            Detect::NotFound
        }
    }

    fn get(&self, ctx: &DsContext) -> Found {
        let mut problems = Vec::new();
        let read = Self::read(ctx, &mut problems);
        Found::from_read_with("OVF", read, problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// tests/fixtures/datasources/ovf: each `<case>.xml` read by 22.4's
    /// `read_ovf_environment(contents, True)` gave `<case>.json` (make.py).
    #[test]
    fn ovf_environments_read_as_22_4_reads_them() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/datasources/ovf");
        let mut seen = 0;
        for name in std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
        {
            let name = name.to_string_lossy().into_owned();
            let Some(case) = name.strip_suffix(".xml") else {
                continue;
            };
            seen += 1;
            let text = std::fs::read_to_string(dir.join(&name)).unwrap();
            let want: serde_json::Value =
                serde_json::from_slice(&std::fs::read(dir.join(format!("{case}.json"))).unwrap())
                    .unwrap();
            let got = read_ovf_environment(&text, true);
            if want.get("error").is_some() {
                assert!(got.is_err(), "{case}: 22.4 raised, we read {got:?}");
                continue;
            }
            let got = got.unwrap_or_else(|e| panic!("{case}: {e}"));
            assert_eq!(Value::Map(got.metadata).to_json(), want["md"], "{case}: md");
            assert_eq!(
                got.user_data
                    .map(|u| String::from_utf8_lossy(&u).into_owned()),
                want["ud"].as_str().map(str::to_string),
                "{case}: ud"
            );
            assert_eq!(
                got.password.as_deref(),
                want["cfg"]["password"].as_str(),
                "{case}: cfg"
            );
        }
        assert!(seen >= 4, "only {seen} cases");
    }

    #[test]
    fn cdrom_device_names() {
        for (dev, yes) in [
            ("/dev/sr0", true),
            ("/dev/sr12", true),
            ("/dev/hda", true),
            ("/dev/xvdb", true),
            ("/dev/vdb", false),
            ("/dev/sr", false),
            ("/dev/disk/sr0", false),
        ] {
            assert_eq!(maybe_cdrom_device(dev), yes, "{dev}");
        }
    }
}
