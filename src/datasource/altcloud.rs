//! AltCloud (`sources/DataSourceAltCloud.py`): user-data only, for images
//! built by Image Factory for RHEV-M and vSphere. The cloud type is the
//! first thing `/etc/sysconfig/cloud-info` says (upper case), else the DMI
//! product name: `RHEV...` is RHEV, `VMWARE...` vSphere. On RHEV the
//! user-data is on the floppy `/dev/fd0` (after `modprobe floppy` and
//! `udevadm settle`, both run only when the root is this machine's `/`);
//! on vSphere on a device labelled `CDROM`. Either way the file is
//! `deltacloud-user-data.txt`, else `user-data.txt`, stripped. The
//! meta-data is 22.4's fixed `META_DATA_NOT_SUPPORTED` (instance-id `455`,
//! `local-hostname` `localhost`).
//!
//! ds-identify's `dscheck_AltCloud` never finds AltCloud in 22.4: its
//! patterns are quoted (`"${match_rhev}"`), so `case` compares the cloud
//! type with the literal text `[Rr][Hh][Ee][Vv]`. As ds-identify, cloudboot
//! tries AltCloud only when the config's `datasource_list` names it.

use std::path::Path;
use std::time::Duration;

use super::detect::{named_in_config, Detect};
use super::source::{DeviceSource, SeedSource};
use super::vmware::rpctool::run_bounded;
use super::{Datasource, DatasourceInfo, DsContext, DsError, Found, Instance};
use crate::value::{Mapping, Value};

pub struct AltCloud;

const CLOUD_INFO_FILE: &str = "/etc/sysconfig/cloud-info";
const FLOPPY: &str = "/dev/fd0";

static INFO: DatasourceInfo = DatasourceInfo {
    name: "AltCloud",
    aliases: &[],
    summary: "RHEV-M (user-data on the floppy) and vSphere (on a `CDROM`-labelled device), \
              by `/etc/sysconfig/cloud-info` or DMI; user-data only; tried only when \
              `datasource_list` names it (ds-identify never finds it)",
};

/// `get_cloud_type`: `RHEV`, `VSPHERE`, what cloud-info says, or `UNKNOWN`.
fn cloud_type(ctx: &DsContext) -> String {
    if ctx.fs.exists(Path::new(CLOUD_INFO_FILE)) {
        return match ctx.fs.read(Path::new(CLOUD_INFO_FILE)) {
            Ok(raw) => match String::from_utf8(raw) {
                Ok(text) => crate::py::str::strip(&text).to_uppercase(),
                Err(_) => "UNKNOWN".into(),
            },
            Err(e) => {
                tracing::warn!("Unable to access cloud info file at {CLOUD_INFO_FILE}: {e}");
                "UNKNOWN".into()
            }
        };
    }
    let name = ctx
        .facts
        .dmi("product_name")
        .unwrap_or_default()
        .to_uppercase();
    if name.starts_with("RHEV") {
        "RHEV".into()
    } else if name.starts_with("VMWARE") {
        "VSPHERE".into()
    } else {
        "UNKNOWN".into()
    }
}

/// `read_user_data_callback`: `deltacloud-user-data.txt`, else
/// `user-data.txt`, stripped; `None` when neither reads.
fn read_user_data(src: &dyn SeedSource) -> Result<Option<String>, DsError> {
    for name in ["deltacloud-user-data.txt", "user-data.txt"] {
        match src.read(name) {
            Ok(Some(raw)) => {
                let text = String::from_utf8(raw).map_err(|e| DsError::BadFile {
                    file: super::source::shown(src, name),
                    error: format!("not UTF-8: {e}"),
                })?;
                return Ok(Some(crate::py::str::strip(&text).to_string()));
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("{e}"),
        }
    }
    tracing::warn!("Failed accessing user data file on {}.", src.describe());
    Ok(None)
}

/// The floppy under the root, read in place.
fn floppy(ctx: &DsContext, problems: &mut Vec<String>) -> Option<Box<dyn SeedSource>> {
    let host = ctx.root.resolve(Path::new(FLOPPY)).ok()?;
    let file = std::fs::File::open(host).ok()?;
    match crate::blockfs::open(file) {
        Ok(fs) => Some(Box::new(DeviceSource {
            fs,
            device: FLOPPY.into(),
        })),
        Err(e) => {
            problems.push(format!(
                "AltCloud: Failed to read {FLOPPY} when looking for user data: {e}"
            ));
            None
        }
    }
}

/// `modprobe floppy` and `udevadm settle --exit-if-exists=/dev/fd0`, on
/// this machine only (a scratch root's kernel is not its own); `false`
/// when modprobe fails, as 22.4 gives up then.
fn prepare_floppy(ctx: &DsContext) -> bool {
    if !ctx.root.is_host_root() {
        tracing::debug!("not this machine's root: modprobe floppy and udevadm settle not run");
        return true;
    }
    let argv = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match run_bounded(ctx, &argv(&["modprobe", "floppy"]), Duration::from_secs(30)) {
        Ok(a) if a.code == Some(0) => {}
        Ok(a) => {
            tracing::warn!("Failed modprobe: {}", a.stderr.trim());
            return false;
        }
        Err(e) => {
            tracing::warn!("Failed modprobe: {e}");
            return false;
        }
    }
    let settle = argv(&[
        "udevadm",
        "settle",
        "--exit-if-exists=/dev/fd0",
        "--timeout=5",
    ]);
    match run_bounded(ctx, &settle, Duration::from_secs(10)) {
        Ok(a) if a.code == Some(0) => true,
        other => {
            tracing::warn!("Failed udevadm_settle: {other:?}");
            false
        }
    }
}

/// `META_DATA_NOT_SUPPORTED`.
fn fixed_metadata() -> Value {
    let mut m = Mapping::new();
    m.insert(Value::str("block-device-mapping"), Value::empty_map());
    m.insert(Value::str("instance-id"), Value::Int(455));
    m.insert(Value::str("local-hostname"), Value::str("localhost"));
    m.insert(Value::str("placement"), Value::empty_map());
    Value::Map(m)
}

impl AltCloud {
    fn read(ctx: &DsContext, problems: &mut Vec<String>) -> Result<Option<Instance>, DsError> {
        let kind = cloud_type(ctx);
        tracing::debug!("cloud_type: {kind}");
        let found = if kind.contains("RHEV") {
            if !prepare_floppy(ctx) {
                return Ok(None);
            }
            match floppy(ctx, problems) {
                Some(src) => read_user_data(src.as_ref())?.map(|ud| (ud, FLOPPY.to_string())),
                None => None,
            }
        } else if kind.contains("VSPHERE") {
            let mut found = None;
            for src in super::devices::candidates(ctx, &["CDROM"], problems) {
                if let Some(ud) = read_user_data(src.as_ref())?.filter(|u| !u.is_empty()) {
                    found = Some((ud, src.describe()));
                    break;
                }
            }
            found
        } else {
            return Ok(None);
        };
        let Some((user_data, source)) = found.filter(|(ud, _)| !ud.is_empty()) else {
            tracing::warn!("Failed accessing user data.");
            return Ok(None);
        };
        // `_get_subplatform`: RHEV's source is the floppy whatever was read.
        let source = if kind == "RHEV" {
            FLOPPY.to_string()
        } else if kind.contains("VSPHERE") {
            source
        } else {
            "unknown".to_string()
        };
        Ok(Some(Instance {
            dsname: "AltCloud".into(),
            class_name: "DataSourceAltCloud".into(),
            // 22.4 never sets `seed`.
            description: "DataSourceAltCloud [seed=None]".into(),
            instance_id: "455".into(),
            metadata: fixed_metadata(),
            user_data_from: Some(source.clone()),
            user_data: Some(user_data.into_bytes()),
            cloud_name: "altcloud".into(),
            platform: "altcloud".into(),
            subplatform: format!("{} ({source})", kind.to_lowercase()),
            ..Default::default()
        }))
    }
}

impl Datasource for AltCloud {
    fn info(&self) -> &'static DatasourceInfo {
        &INFO
    }

    /// ds-identify's `dscheck_AltCloud` says `NOT_FOUND` for every cloud
    /// type (see the module's text): tried only when the config names it.
    fn detect(&self, ctx: &DsContext) -> Detect {
        if named_in_config(ctx.cfg, "AltCloud") {
            Detect::Maybe
        } else {
            Detect::NotFound
        }
    }

    fn get(&self, ctx: &DsContext) -> Found {
        let mut problems = Vec::new();
        let read = Self::read(ctx, &mut problems);
        Found::from_read_with("AltCloud", read, problems)
    }
}
