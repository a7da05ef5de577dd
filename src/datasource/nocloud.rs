//! NoCloud (`sources/DataSourceNoCloud.py`): seed directories
//! `/var/lib/cloud/seed/nocloud` and `nocloud-net`, each needing `meta-data`
//! and `user-data`, with optional `vendor-data` and `network-config`; or
//! `datasource.NoCloud.{meta-data,user-data}` in the system config.
//! (Devices, the kernel command line and `seedfrom` come with the datasources
//! issue.) The local stage sees it as `DataSourceNoCloud`, the network stage
//! as `DataSourceNoCloudNet`, as in cloud-init.

use std::path::Path;

use super::{Datasource, DsContext, DsMode, Found, Instance};
use crate::merge::merge_many;
use crate::stages::Stage;
use crate::value::Value;
use crate::yaml;

pub struct NoCloud;

const SEED_DIRS: [&str; 2] = ["nocloud", "nocloud-net"];

struct Seed {
    source: String,
    meta: Value,
    user_data: Option<Vec<u8>>,
    vendor_data: Option<Vec<u8>>,
    network_config: Option<Value>,
}

impl NoCloud {
    /// `util.pathprefix2dict(dir, required=[user-data, meta-data], optional=...)`.
    fn read_seed_dir(ctx: &DsContext, dir: &Path, problems: &mut Vec<String>) -> Option<Seed> {
        let fs = ctx.fs;
        let meta_raw = fs.read(&dir.join("meta-data")).ok()?;
        let user_data = fs.read(&dir.join("user-data")).ok()?;
        let meta_path = dir.join("meta-data");
        let meta = load_mapping(&meta_raw, &meta_path.to_string_lossy(), problems);
        let network_config = fs.read(&dir.join("network-config")).ok().and_then(|raw| {
            let name = dir.join("network-config");
            match yaml::load(&raw, &name.to_string_lossy()) {
                Ok(v) if v.truthy() => Some(v),
                Ok(_) => None,
                Err(e) => {
                    problems.push(format!("network-config ignored: {e}"));
                    None
                }
            }
        });
        Some(Seed {
            source: dir.to_string_lossy().into_owned(),
            meta,
            user_data: Some(user_data),
            vendor_data: fs.read(&dir.join("vendor-data")).ok(),
            network_config,
        })
    }

    fn seeds(ctx: &DsContext, problems: &mut Vec<String>) -> Vec<Seed> {
        let mut seeds = Vec::new();
        for name in SEED_DIRS {
            let dir = ctx.paths.seed_dir(name);
            if let Some(seed) = Self::read_seed_dir(ctx, &dir, problems) {
                tracing::debug!("Using seeded data from {}", dir.display());
                seeds.push(seed);
                break;
            }
        }
        let ds_cfg = ctx.ds_cfg("NoCloud");
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
            });
        }
        seeds
    }
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

impl Datasource for NoCloud {
    fn name(&self) -> &'static str {
        "NoCloud"
    }

    fn get(&self, ctx: &DsContext) -> Found {
        let mut problems = Vec::new();
        let seeds = Self::seeds(ctx, &mut problems);
        if seeds.is_empty() {
            return Found {
                instance: None,
                problems,
            };
        }
        // `_merge_new_seed`: earlier meta-data wins key by key; later
        // user-data and vendor-data replace.
        let mut meta = Value::empty_map();
        let (mut ud, mut vd, mut net) = (None, None, None);
        let mut found = Vec::new();
        for s in seeds {
            meta = merge_many(&[meta, s.meta]);
            ud = s.user_data.or(ud);
            vd = s.vendor_data.or(vd);
            net = s.network_config.or(net);
            found.push(s.source);
        }
        let mut defaults = crate::value::Mapping::new();
        defaults.insert(Value::str("instance-id"), Value::str("nocloud"));
        defaults.insert(Value::str("dsmode"), Value::str("net"));
        let meta = merge_many(&[meta, Value::Map(defaults)]);
        let dsmode = match meta.get("dsmode").map(Value::python_str).as_deref() {
            Some("local") => DsMode::Local,
            Some("net") => DsMode::Net,
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
            None => DsMode::Net,
        };
        let class_name = match ctx.stage {
            Stage::Local => "DataSourceNoCloud",
            _ => "DataSourceNoCloudNet",
        };
        let seed = found.join(",");
        let subplatform = if seed.starts_with('/') {
            format!("seed-dir ({seed})")
        } else {
            "config".to_string()
        };
        let instance = Instance {
            dsname: "NoCloud".into(),
            class_name: class_name.into(),
            description: format!("{class_name} [seed={seed}][dsmode={}]", dsmode.as_str()),
            instance_id: meta
                .get("instance-id")
                .map(Value::python_str)
                .unwrap_or_else(|| "nocloud".into()),
            dsmode,
            metadata: meta,
            user_data: ud,
            vendor_data: vd,
            vendor_data2: None,
            network_config: net,
            cloud_name: "nocloud".into(),
            platform: "nocloud".into(),
            subplatform,
            disconnected: false,
        };
        Found {
            instance: Some(instance),
            problems,
        }
    }

    /// NoCloud re-reads the instance-id from its seeds.
    fn check_instance_id(&self, ctx: &DsContext, cached_iid: &str) -> bool {
        let mut problems = Vec::new();
        Self::seeds(ctx, &mut problems)
            .first()
            .map(|s| {
                s.meta
                    .get("instance-id")
                    .map(Value::python_str)
                    .unwrap_or_else(|| "nocloud".into())
                    == cached_iid
            })
            .unwrap_or(false)
    }
}
