//! Bigstep (`sources/DataSourceBigstep.py`): the image's
//! `/var/lib/cloud/data/seed/bigstep/url` names a URL whose JSON document
//! holds `metadata` (an object), `userdata_raw` and `vendordata_raw`
//! (strings, taken as they are). Found, as ds-identify's
//! `dscheck_Bigstep`, where that file exists; read in the network stage,
//! the request bounded (22.4 sets no timeout at all).
//!
//! Unlike 22.4, blanks around the URL in the file (a trailing newline) are
//! dropped before it is used.

use serde_json::Value as J;

use super::service::{Bounds, Client, Miss, Waits};
use super::{Datasource, DatasourceInfo, Detect, DsContext, DsError, Found, Instance};
use crate::value::Value;

pub struct Bigstep;

/// The seed file's guest path.
fn url_file(ctx: &DsContext) -> std::path::PathBuf {
    ctx.paths.data("seed/bigstep/url")
}

/// The document at `url`, made an instance; `Err` names the URL and key.
fn read(url: &str, bounds: &Bounds) -> Result<Instance, DsError> {
    // The client joins a base and a path; the URL's last segment is the path.
    let (base, last) = match url.split_once("://") {
        Some((_, rest)) if rest.contains('/') => url.rsplit_once('/').unwrap_or((url, "")),
        _ => (url, ""),
    };
    let client = Client::new(
        base,
        bounds.clone(),
        std::time::Instant::now() + bounds.max_wait,
    );
    let body = match client.get(last) {
        Ok(b) => b,
        Err(Miss::NotFound) => {
            return Err(DsError::HttpStatus {
                url: url.to_string(),
                status: 404,
            })
        }
        Err(Miss::Failed(e)) => return Err(DsError::Service(e)),
    };
    let doc: J = serde_json::from_slice(&body).map_err(|e| DsError::Json {
        file: url.to_string(),
        error: e.to_string(),
    })?;
    let field = |k: &str| {
        doc.get(k).ok_or_else(|| DsError::BigstepKey {
            url: url.to_string(),
            key: k.to_string(),
        })
    };
    let metadata = field("metadata")?;
    if !metadata.is_object() {
        return Err(DsError::NotAnObject(format!("{url}: metadata")));
    }
    // Strings as given; JSON null is no data.
    let blob = |k: &str| -> Result<Option<Vec<u8>>, DsError> {
        match field(k)? {
            J::Null => Ok(None),
            J::String(s) => Ok(Some(s.clone().into_bytes())),
            other => Ok(Some(other.to_string().into_bytes())),
        }
    };
    let user_data = blob("userdata_raw")?;
    let vendor_data = blob("vendordata_raw")?;
    let metadata = Value::from_json(metadata);
    Ok(Instance {
        dsname: "Bigstep".into(),
        class_name: "DataSourceBigstep".into(),
        description: "DataSourceBigstep".into(),
        instance_id: metadata
            .get("instance-id")
            .map(Value::python_str)
            .unwrap_or_else(|| "iid-datasource".into()),
        public_keys: super::configdrive::normalize_pubkeys(metadata.get("public-keys")),
        user_data_from: user_data.is_some().then(|| format!("{url} userdata_raw")),
        user_data,
        vendor_data_from: vendor_data
            .is_some()
            .then(|| format!("{url} vendordata_raw")),
        vendor_data,
        cloud_name: "bigstep".into(),
        platform: "bigstep".into(),
        subplatform: format!("metadata ({url})"),
        metadata,
        ..Default::default()
    })
}

static INFO: DatasourceInfo = DatasourceInfo {
    name: "Bigstep",
    aliases: &[],
    summary: "Bigstep: the URL in `/var/lib/cloud/data/seed/bigstep/url`, a JSON document with \
              `metadata`, `userdata_raw` and `vendordata_raw`",
};

impl Datasource for Bigstep {
    fn info(&self) -> &'static DatasourceInfo {
        &INFO
    }

    /// `dscheck_Bigstep`: the seed file is there.
    fn detect(&self, ctx: &DsContext) -> Detect {
        let is_file = ctx
            .fs
            .stat(&url_file(ctx))
            .is_some_and(|s| s.kind == crate::rootfs::Kind::File);
        Detect::found_if(is_file)
    }

    fn get(&self, ctx: &DsContext) -> Found {
        let mut problems = Vec::new();
        let path = url_file(ctx);
        let url = match crate::rootfs::read_limited(ctx.fs, &path, 64 << 10) {
            Ok(Some(b)) => String::from_utf8_lossy(&b).trim().to_string(),
            Ok(None) => {
                return Found {
                    instance: None,
                    problems,
                }
            }
            Err(e) => {
                problems.push(format!("Bigstep: {e}"));
                return Found {
                    instance: None,
                    problems,
                };
            }
        };
        // The seed file says this is Bigstep: its service is there.
        let bounds = Bounds::from_cfg(
            &ctx.ds_cfg("Bigstep"),
            Waits {
                timeout: 30.0,
                max_wait: 60.0,
            },
        );
        let instance = match read(&url, &bounds) {
            Ok(i) => Some(i),
            Err(e) => {
                problems.push(format!("Bigstep metadata at {url}: {e}"));
                None
            }
        };
        Found { instance, problems }
    }
}
