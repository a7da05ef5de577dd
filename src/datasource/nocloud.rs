//! NoCloud (`sources/DataSourceNoCloud.py`). Sources, merged in cloud-init's
//! order (earlier meta-data keys win; later user-data/vendor-data replace):
//!
//! 1. the SMBIOS system serial (`/sys/class/dmi/id/product_serial`) and
//! 2. the kernel command line (`/proc/cmdline`), both in the form
//!    `ds=nocloud[-net][;h=host][;i=iid][;s=seedfrom][;k=v]`;
//! 3. seed directories `/var/lib/cloud/seed/nocloud`, `nocloud-net` (both
//!    `meta-data` and `user-data` required, `vendor-data`, `network-config`
//!    optional);
//! 4. `datasource.NoCloud` in the system config (`seedfrom`, or `meta-data`
//!    with `user-data`);
//! 5. a vfat or ISO9660 filesystem labelled `cidata`/`CIDATA` (or
//!    `datasource.NoCloud.fs_label`), read in place.
//!
//! Then `seedfrom`: the local stage (`DataSourceNoCloud`) follows `file://`
//! and `/` seeds, the network stage (`DataSourceNoCloudNet`) `http://`.
//! Everything is read under the target root.

use std::path::Path;

use super::source::{DirSource, SeedSource};
use super::MAX_USER_DATA;
use super::{Datasource, DatasourceInfo, DsContext, DsError, DsMode, Found, Instance};
use crate::merge::merge_many;
use crate::rootfs::read_limited;
use crate::schedule::Stage;
use crate::value::{Mapping, Value};
use crate::yaml;

pub struct NoCloud;

const SEED_DIRS: [&str; 2] = ["nocloud", "nocloud-net"];

/// What one source contributed.
struct Seed {
    /// How it appears in `[seed=...]`.
    source: String,
    meta: Value,
    user_data: Option<Vec<u8>>,
    vendor_data: Option<Vec<u8>>,
    network_config: Option<Value>,
    /// Where user-data and vendor-data were read, for messages about them.
    user_data_from: Option<String>,
    vendor_data_from: Option<String>,
}

impl Seed {
    fn meta_only(source: &str, meta: Value) -> Seed {
        Seed {
            source: source.to_string(),
            meta,
            user_data: None,
            vendor_data: None,
            network_config: None,
            user_data_from: None,
            vendor_data_from: None,
        }
    }
}

/// `parse_cmdline_data`: the `ds=nocloud...` token's `k=v` pairs (`h`, `i`,
/// `s` stand for local-hostname, instance-id, seedfrom); `None` when the
/// line has no such token. The dsmode follows the id unless given.
fn parse_ds_token(line: &str) -> Option<Mapping> {
    let padded = format!(" {} ", line.trim());
    for (id, mode) in [("ds=nocloud", "local"), ("ds=nocloud-net", "net")] {
        if !(padded.contains(&format!(" {id} ")) || padded.contains(&format!(" {id};"))) {
            continue;
        }
        let mut fill = Mapping::new();
        let tok = padded
            .split_whitespace()
            .rfind(|t| t.starts_with(id))
            .unwrap_or(id);
        let args = tok.split_once('=').map(|(_, a)| a).unwrap_or("");
        for item in args.split(';').skip(1).filter(|i| !i.is_empty()) {
            let (k, v) = match item.split_once('=') {
                Some((k, v)) => (k, Value::str(v)),
                None => (item, Value::Null),
            };
            let key = match k {
                "h" => "local-hostname",
                "i" => "instance-id",
                "s" => "seedfrom",
                other => other,
            };
            fill.insert(Value::str(key), v);
        }
        if !fill.contains_key("dsmode") {
            fill.insert(Value::str("dsmode"), Value::str(mode));
        }
        return Some(fill);
    }
    None
}

/// meta-data must be a mapping (`load_yaml(allowed=(dict,))`); anything else
/// is reported and read as empty, so the instance still boots.
fn load_mapping(raw: &[u8], name: &str, problems: &mut Vec<String>) -> Value {
    match yaml::load(raw, name) {
        Ok(v @ Value::Map(_)) => v,
        Ok(Value::Null) => Value::empty_map(),
        Ok(other) => {
            problems.push(format!(
                "{name}: expected a mapping, found {}; ignored",
                other.type_name()
            ));
            Value::empty_map()
        }
        Err(e) => {
            problems.push(format!("{e}; ignored"));
            Value::empty_map()
        }
    }
}

/// `pathprefix2dict`: `meta-data` and `user-data` required.
fn read_seed(src: &dyn SeedSource, problems: &mut Vec<String>) -> Option<Seed> {
    let mut get = |name: &str| match src.read(name) {
        Ok(v) => v,
        Err(e) => {
            problems.push(format!("{e}; ignored"));
            // Present but unusable (too large): read as empty, still a seed.
            Some(Vec::new())
        }
    };
    let meta_raw = get("meta-data")?;
    let user_data = get("user-data")?;
    let vendor_data = get("vendor-data");
    let net_raw = get("network-config");
    let shown = |n: &str| super::source::shown(src, n);
    let network_config = net_raw.and_then(|raw| match yaml::load(&raw, &shown("network-config")) {
        Ok(v) if v.truthy() => Some(v),
        Ok(_) => None,
        Err(e) => {
            problems.push(format!("network-config ignored: {e}"));
            None
        }
    });
    Some(Seed {
        source: src.describe(),
        meta: load_mapping(&meta_raw, &shown("meta-data"), problems),
        user_data: Some(user_data),
        vendor_data_from: vendor_data.is_some().then(|| shown("vendor-data")),
        vendor_data,
        network_config,
        user_data_from: Some(shown("user-data")),
    })
}

impl NoCloud {
    /// Every source present, in cloud-init's order.
    fn seeds(ctx: &DsContext, problems: &mut Vec<String>, with_devices: bool) -> Vec<Seed> {
        let mut seeds = Vec::new();
        for (name, path) in [
            ("dmi", "/sys/class/dmi/id/product_serial"),
            ("cmdline", "/proc/cmdline"),
        ] {
            // Both are a line; more than 64 KiB is no kernel's.
            let text = read_limited(ctx.fs, Path::new(path), 64 << 10)
                .ok()
                .flatten()
                .map(|b| String::from_utf8_lossy(&b).into_owned());
            if let Some(fill) = text.as_deref().and_then(parse_ds_token) {
                seeds.push(Seed::meta_only(name, Value::Map(fill)));
            }
        }
        for name in SEED_DIRS {
            let src = DirSource {
                fs: ctx.fs,
                base: ctx.paths.seed_dir(name),
            };
            if let Some(seed) = read_seed(&src, problems) {
                tracing::debug!("Using seeded data from {}", src.describe());
                seeds.push(seed);
                break;
            }
        }
        let ds_cfg = ctx.ds_cfg("NoCloud");
        if let Some(seedfrom) = ds_cfg.get("seedfrom") {
            let mut m = Mapping::new();
            m.insert(Value::str("seedfrom"), seedfrom.clone());
            seeds.push(Seed::meta_only("ds_config_seedfrom", Value::Map(m)));
        }
        if let (Some(md), Some(ud)) = (ds_cfg.get("meta-data"), ds_cfg.get("user-data")) {
            let meta = match md {
                Value::Str(s) => {
                    load_mapping(s.as_bytes(), "datasource.NoCloud.meta-data", problems)
                }
                v => v.clone(),
            };
            seeds.push(Seed {
                source: "ds_config".into(),
                meta,
                user_data: Some(match ud {
                    Value::Bytes(b) => b.clone(),
                    v => v.python_str().into_bytes(),
                }),
                vendor_data: None,
                network_config: None,
                user_data_from: Some("datasource.NoCloud.user-data".into()),
                vendor_data_from: None,
            });
        }
        if with_devices {
            let label = ds_cfg
                .get("fs_label")
                .map(Value::python_str)
                .unwrap_or_else(|| "cidata".into());
            let labels = [label.to_uppercase(), label.to_lowercase()];
            let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
            for dev in super::devices::candidates(ctx, &labels, problems) {
                match read_seed(dev.as_ref(), problems) {
                    Some(seed) => {
                        seeds.push(seed);
                        break;
                    }
                    None => problems.push(format!(
                        "device {} with label {label} is not a valid seed (no meta-data and user-data)",
                        dev.describe()
                    )),
                }
            }
        }
        seeds
    }

    /// `util.read_seeded`: `<seedfrom>meta-data`, `user-data`, `vendor-data`
    /// by plain string concatenation (`%s` stands for the name).
    fn read_seedfrom(ctx: &DsContext, base: &str) -> Result<Seed, DsError> {
        let url = |name: &str| seeded_url(base, name);
        let fetch = |name: &str| fetch_seeded(ctx, base, name);
        let meta_raw = fetch("meta-data")?.ok_or_else(|| DsError::Missing(url("meta-data")))?;
        let mut problems = Vec::new();
        let meta = load_mapping(&meta_raw, &url("meta-data"), &mut problems);
        if let Some(p) = problems.pop() {
            return Err(DsError::Seed(p));
        }
        let vendor_data = fetch("vendor-data")?;
        Ok(Seed {
            source: base.to_string(),
            meta,
            user_data: Some(fetch("user-data")?.unwrap_or_default()),
            vendor_data_from: vendor_data.is_some().then(|| url("vendor-data")),
            vendor_data,
            network_config: None,
            user_data_from: Some(url("user-data")),
        })
    }
}

/// `util.read_seeded`'s URL of one file: `<seedfrom><name>` by plain
/// string concatenation (`%s` stands for the name).
pub(super) fn seeded_url(base: &str, name: &str) -> String {
    if base.contains("%s") {
        base.replace("%s", name)
    } else {
        format!("{base}{name}")
    }
}

/// One file of a `seedfrom` (`file://` or a path under the root, else
/// HTTP), bounded; `Ok(None)` when absent (404). OVF's `seedfrom` reads
/// through it too.
pub(super) fn fetch_seeded(
    ctx: &DsContext,
    base: &str,
    name: &str,
) -> Result<Option<Vec<u8>>, DsError> {
    let u = seeded_url(base, name);
    if let Some(path) = u
        .strip_prefix("file://")
        .or(u.starts_with('/').then_some(u.as_str()))
    {
        return Ok(read_limited(ctx.fs, Path::new(path), MAX_USER_DATA)?);
    }
    match crate::http::get(&u, &crate::http::Limits::default()) {
        Ok(r) if r.ok() => Ok(Some(r.body)),
        Ok(r) if r.status == 404 => Ok(None),
        Ok(r) => Err(DsError::HttpStatus {
            url: u,
            status: r.status,
        }),
        Err(e) => Err(e.into()),
    }
}

static INFO: DatasourceInfo = DatasourceInfo {
    name: "NoCloud",
    // The network stage's class in cloud-init (`DataSourceNoCloudNet`).
    aliases: &["NoCloudNet"],
    summary:
        "seed directories, `ds=nocloud[-net];i=..;h=..;s=..` on the kernel command line or in \
              the SMBIOS serial, `seedfrom` (`file://`, `http://`), `datasource.NoCloud`, and \
              `cidata`/`CIDATA` devices",
};

impl Datasource for NoCloud {
    fn info(&self) -> &'static DatasourceInfo {
        &INFO
    }

    fn get(&self, ctx: &DsContext) -> Found {
        let mut problems = Vec::new();
        let seeds = Self::seeds(ctx, &mut problems, true);
        if seeds.is_empty() {
            return Found {
                instance: None,
                problems,
            };
        }
        let local_class = ctx.stage == Stage::Local;
        let mut meta = Value::empty_map();
        let (mut ud, mut vd, mut net) = (None, None, None);
        let (mut ud_from, mut vd_from) = (None, None);
        let mut found = Vec::new();
        for s in seeds {
            meta = merge_many(&[meta, s.meta]);
            if s.user_data.is_some() {
                (ud, ud_from) = (s.user_data, s.user_data_from);
            }
            if s.vendor_data.is_some() {
                (vd, vd_from) = (s.vendor_data, s.vendor_data_from);
            }
            net = s.network_config.or(net);
            found.push(s.source);
        }
        if let Some(seedfrom) = meta.get("seedfrom").map(Value::python_str) {
            let supported: &[&str] = if local_class {
                &["/", "file://"]
            } else {
                &["http://", "https://"]
            };
            if !supported.iter().any(|p| seedfrom.starts_with(p)) {
                tracing::debug!("Seed from {seedfrom} not supported by this stage's NoCloud");
                return Found {
                    instance: None,
                    problems,
                };
            }
            match Self::read_seedfrom(ctx, &seedfrom) {
                Ok(seed) => {
                    meta = merge_many(&[meta, seed.meta]);
                    (ud, ud_from) = (seed.user_data, seed.user_data_from);
                    (vd, vd_from) = (seed.vendor_data, seed.vendor_data_from);
                    found.push(seedfrom);
                }
                Err(e) => {
                    problems.push(format!("NoCloud seedfrom {seedfrom}: {e}"));
                    return Found {
                        instance: None,
                        problems,
                    };
                }
            }
        }
        let mut defaults = Mapping::new();
        defaults.insert(Value::str("instance-id"), Value::str("nocloud"));
        defaults.insert(Value::str("dsmode"), Value::str("net"));
        let meta = merge_many(&[meta, Value::Map(defaults)]);
        let dsmode = match meta.get("dsmode").map(Value::python_str).as_deref() {
            Some("local") => DsMode::Local,
            Some("net") | None => DsMode::Net,
            Some("disabled") => {
                tracing::debug!("NoCloud: not claiming datasource, dsmode=disabled");
                return Found {
                    instance: None,
                    problems,
                };
            }
            Some(other) => {
                problems.push(format!("invalid dsmode '{other}', using default=net"));
                DsMode::Net
            }
        };
        let class_name = if local_class {
            "DataSourceNoCloud"
        } else {
            "DataSourceNoCloudNet"
        };
        let seed = found.join(",");
        let subplatform = if seed.starts_with("/dev") {
            format!("config-disk ({seed})")
        } else {
            format!("seed-dir ({seed})")
        };
        let network_eni = meta.get("network-interfaces").map(Value::python_str);
        let public_keys = super::configdrive::normalize_pubkeys(meta.get("public-keys"));
        let instance = Instance {
            dsname: "NoCloud".into(),
            class_name: class_name.into(),
            description: format!("{class_name} [seed={seed}][dsmode={}]", dsmode.as_str()),
            instance_id: meta
                .get("instance-id")
                .map(Value::python_str)
                .unwrap_or_else(|| "nocloud".into()),
            dsmode,
            user_data: ud,
            vendor_data: vd,
            user_data_from: ud_from,
            vendor_data_from: vd_from,
            network_config: net,
            network_eni,
            public_keys,
            // NoCloud's `_get_cloud_name`: unknown unless meta-data says.
            cloud_name: "unknown".into(),
            platform: "nocloud".into(),
            subplatform,
            metadata: meta,
            ..Default::default()
        };
        Found {
            instance: Some(instance),
            problems,
        }
    }

    /// `_quick_read_instance_id`: the id from the command line or a seed
    /// directory; a device seed is not re-read, so its cache is not trusted.
    fn check_instance_id(&self, ctx: &DsContext, cached_iid: &str) -> bool {
        let mut problems = Vec::new();
        let quick = Self::seeds(ctx, &mut problems, false)
            .into_iter()
            .find_map(|s| s.meta.get("instance-id").map(Value::python_str));
        quick.as_deref() == Some(cached_iid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_tokens() {
        let m = parse_ds_token(
            "root=/dev/vda1 ro ds=nocloud;i=abc;h=myhost;s=file:///seed/ console=ttyS0",
        )
        .unwrap();
        assert_eq!(m.get("instance-id"), Some(&Value::str("abc")));
        assert_eq!(m.get("local-hostname"), Some(&Value::str("myhost")));
        assert_eq!(m.get("seedfrom"), Some(&Value::str("file:///seed/")));
        assert_eq!(m.get("dsmode"), Some(&Value::str("local")));
        let net = parse_ds_token("ds=nocloud-net;s=http://10.0.0.1/ quiet").unwrap();
        assert_eq!(net.get("dsmode"), Some(&Value::str("net")));
        assert_eq!(net.get("seedfrom"), Some(&Value::str("http://10.0.0.1/")));
        assert!(parse_ds_token("root=/dev/sda ds=ec2").is_none());
        assert!(parse_ds_token("ds=nocloudx").is_none());
        let plain = parse_ds_token("ds=nocloud").unwrap();
        assert_eq!(plain.get("dsmode"), Some(&Value::str("local")));
    }
}
