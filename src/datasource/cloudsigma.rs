//! CloudSigma (`sources/DataSourceCloudSigma.py`, `helpers/cloudsigma.py`):
//! the server context, asked for over the serial port `/dev/ttyS1` with
//! cepko's request `<\n\n>` and answered with one line of JSON (ended by
//! `\x04`). Read in the local stage where DMI's product name says
//! CloudSigma.
//!
//! The context is the meta-data; its `uuid` is the instance-id, `meta`
//! gives `ssh_public_key`, `cloudinit-user-data` (base64 when listed in
//! `base64_fields`) and `cloudinit-dsmode`; `vendor_data.cloudinit` is the
//! vendor-data. The hostname is the server's `name` when it is made of the
//! characters 22.4's pattern allows (at most 61 of them), else the first
//! part of the uuid; cloudboot puts it in the meta-data as
//! `local-hostname` (22.4 answers it from `get_hostname`).
//!
//! `/dev/ttyS1` is opened under the target root as it is: a tty in raw
//! mode, or a unix socket (how the tests stand in for the port).

use std::path::Path;
use std::time::Duration;

use serde_json::Value as J;

use super::serial_port::Port;
use super::{Datasource, DatasourceInfo, Detect, DsContext, DsMode, Found, Instance};
use crate::value::Value;

pub struct CloudSigma;

const SERIAL_PORT: &str = "/dev/ttyS1";
/// cepko's bounds: 10 s to write the request, 60 s for the answer.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The whole server context (`Cepko().all()`): the request, then one line,
/// `\x04` and newlines stripped, parsed as JSON.
fn server_context(ctx: &DsContext) -> Result<J, String> {
    let mut port = Port::open(ctx.root, Path::new(SERIAL_PORT)).map_err(|e| e.to_string())?;
    port.write_all(b"<\n\n>", WRITE_TIMEOUT)
        .map_err(|e| e.to_string())?;
    let line = port
        .read_line(READ_TIMEOUT, super::MAX_USER_DATA)
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&line);
    let text = text.trim_matches(|c| c == '\x04' || c == '\n');
    serde_json::from_str(text)
        .map_err(|e| format!("{SERIAL_PORT}: the server context is not JSON: {e}"))
}

/// `get_hostname`: the server's name when `^[A-Za-z0-9 -_\.]+$` matches
/// it (the class's ` -_` is the range from blank to underscore), cut to
/// 61 characters; else the uuid up to its first `-`.
fn hostname(name: &str, uuid: &str) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || (' '..='_').contains(&c) || c == '.';
    // Python's `$` also matches before a final newline.
    let body = name.strip_suffix('\n').unwrap_or(name);
    if !body.is_empty() && body.chars().all(allowed) {
        name.chars().take(61).collect()
    } else {
        uuid.split('-').next().unwrap_or("").to_string()
    }
}

/// The instance of a server context; `Err` names the missing key.
fn instance(context: J) -> Result<Instance, String> {
    let meta = context
        .get("meta")
        .ok_or("the server context has no 'meta'")?;
    let key_text = |k: &str| meta.get(k).and_then(J::as_str).map(str::to_string);
    let dsmode = match key_text("cloudinit-dsmode").as_deref() {
        Some("local") => DsMode::Local,
        _ => DsMode::Net,
    };
    let base64_fields = key_text("base64_fields").unwrap_or_default();
    let mut user_data = key_text("cloudinit-user-data")
        .unwrap_or_default()
        .into_bytes();
    if base64_fields.split(',').any(|f| f == "cloudinit-user-data") {
        user_data = crate::base64::decode(&user_data)
            .map_err(|e| format!("meta.cloudinit-user-data is not base64: {e}"))?;
    }
    let vendor_data = context
        .get("vendor_data")
        .and_then(|v| v.get("cloudinit"))
        .and_then(J::as_str)
        .map(|s| s.as_bytes().to_vec());
    let ssh_key = meta
        .get("ssh_public_key")
        .ok_or("the server context's meta has no 'ssh_public_key'")?;
    let ssh_key = ssh_key
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| ssh_key.to_string());
    let uuid = context
        .get("uuid")
        .and_then(J::as_str)
        .ok_or("the server context has no 'uuid'")?
        .to_string();
    let name = context.get("name").and_then(J::as_str).unwrap_or("");
    let mut metadata = Value::from_json(&context);
    if let Value::Map(m) = &mut metadata {
        m.insert(
            Value::str("local-hostname"),
            Value::str(hostname(name, &uuid)),
        );
    }
    Ok(Instance {
        dsname: "CloudSigma".into(),
        class_name: "DataSourceCloudSigma".into(),
        description: "DataSourceCloudSigma".into(),
        instance_id: uuid,
        dsmode,
        metadata,
        user_data_from: Some(format!("{SERIAL_PORT} meta.cloudinit-user-data")),
        user_data: Some(user_data),
        vendor_data_from: vendor_data
            .is_some()
            .then(|| format!("{SERIAL_PORT} vendor_data.cloudinit")),
        vendor_data,
        public_keys: vec![ssh_key],
        cloud_name: "cloudsigma".into(),
        platform: "cloudsigma".into(),
        subplatform: format!("cepko ({SERIAL_PORT})"),
        ..Default::default()
    })
}

static INFO: DatasourceInfo = DatasourceInfo {
    name: "CloudSigma",
    aliases: &[],
    summary: "CloudSigma: the server context over the serial port `/dev/ttyS1` (cepko's \
              `<\\n\\n>` request), where DMI's product name says CloudSigma",
};

impl Datasource for CloudSigma {
    fn info(&self) -> &'static DatasourceInfo {
        &INFO
    }

    /// `dscheck_CloudSigma`: DMI's product name is `CloudSigma`.
    fn detect(&self, ctx: &DsContext) -> Detect {
        Detect::found_if(ctx.facts.dmi("product_name") == Some("CloudSigma"))
    }

    fn get(&self, ctx: &DsContext) -> Found {
        let mut problems = Vec::new();
        // `is_running_in_cloudsigma`.
        let on_cloudsigma = ctx
            .facts
            .dmi("product_name")
            .is_some_and(|p| p.to_lowercase().contains("cloudsigma"));
        if !on_cloudsigma {
            return Found {
                instance: None,
                problems,
            };
        }
        let context = match server_context(ctx) {
            Ok(c) => c,
            Err(e) => {
                // 22.4 only logs this at debug level; the port not
                // answering on a CloudSigma machine is worth a warning.
                tracing::warn!("CloudSigma: Unable to read from serial port: {e}");
                return Found {
                    instance: None,
                    problems,
                };
            }
        };
        let instance = match instance(context) {
            Ok(i) => Some(i),
            Err(e) => {
                problems.push(format!("CloudSigma ({SERIAL_PORT}): {e}"));
                None
            }
        };
        Found { instance, problems }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_as_22_4_cleans_them() {
        let uuid = "65b2fb23-8c03-4187-a3ba-8b7c919e8890";
        assert_eq!(hostname("test_server", uuid), "test_server");
        assert_eq!(hostname("UPPER case.1", uuid), "UPPER case.1");
        assert_eq!(hostname("tes{t", uuid), "65b2fb23");
        assert_eq!(hostname("ünicode", uuid), "65b2fb23");
        assert_eq!(hostname("", uuid), "65b2fb23");
        assert_eq!(hostname(&"a".repeat(70), uuid), "a".repeat(61));
    }
}
