//! VMware (`sources/DataSourceVMware.py`): meta-data, user-data and
//! vendor-data from the VM's guestinfo keys `guestinfo.metadata`,
//! `guestinfo.userdata`, `guestinfo.vendordata`, each with its
//! `.encoding` (`base64`/`b64`, `gzip+base64`/`gz+b64`, else plain), read
//! through `vmware-rpctool` in the root ([`rpctool`]); or, in a container,
//! from the environment (`VMX_GUESTINFO` set, then `VMX_GUESTINFO_METADATA`
//! and friends). Meta-data is JSON, else YAML: `instance-id` (else the DMI
//! product UUID, lower case), `local-hostname`, `public-keys-data`/
//! `public_keys_data`/`public-keys`/`public_keys`, and `network` (a
//! mapping, or text in `network.encoding`, JSON or YAML) whose v1/v2
//! config is the instance's. Keys the meta-data lists under `redact` (or
//! `cleanup-guestinfo`) are cleared in guestinfo afterwards (`info-set
//! guestinfo.<key> ---`, and its `.encoding` to a space), as 22.4 does.
//!
//! Not done (22.4's `setup`, after the network is up): `wait-on-network`,
//! the host's addresses merged into meta-data (`network.interfaces`,
//! `local-ipv4`/`local-ipv6`) and advertised as `guestinfo.local-ipv4`/
//! `local-ipv6`; without `local-hostname` 22.4 then uses the machine's own
//! hostname, here there is none.

pub mod rpctool;

use super::detect::{named_in_config, Detect};
use super::{Datasource, DatasourceInfo, DsContext, DsError, Found, Instance};
use crate::base64;
use crate::py::str::splitlines;
use crate::value::{Mapping, Value};
use rpctool::Rpctool;

pub struct VMware;

static INFO: DatasourceInfo = DatasourceInfo {
    name: "VMware",
    aliases: &[],
    summary: "guestinfo (`vmware-rpctool`, else `vmtoolsd`) or `VMX_GUESTINFO_*` variables: \
              meta-data (JSON/YAML, with `network`), user-data, vendor-data, their encodings; \
              `redact` keys cleared",
};

/// How the keys are read (22.4's `data_access_method`).
enum Transport {
    Envvar,
    Guestinfo(Rpctool),
}

impl Transport {
    /// `get_guestinfo_key_name` / `get_guestinfo_envvar_key_name`.
    fn key_name(&self, key: &str) -> String {
        match self {
            Transport::Guestinfo(_) => format!("guestinfo.{key}"),
            Transport::Envvar => format!("vmx.guestinfo.{key}")
                .to_uppercase()
                .replace('.', "_"),
        }
    }

    /// A key's raw value: trailing blanks stripped, `None` when empty or
    /// `---` (`handle_returned_guestinfo_val`). A tool that fails (no
    /// such key: "No value found") is no value; one that cannot run is an
    /// error.
    fn value(&self, ctx: &DsContext, key: &str) -> Result<Option<String>, DsError> {
        let raw = match self {
            Transport::Envvar => std::env::var(self.key_name(key)).unwrap_or_default(),
            Transport::Guestinfo(tool) => {
                let rpc = format!("info-get {}", self.key_name(key));
                let answer = tool.call(ctx, &rpc).map_err(|error| DsError::BadValue {
                    file: tool.path.clone(),
                    key: self.key_name(key),
                    error,
                })?;
                if answer.code != Some(0) {
                    tracing::debug!("No value found for key {key}: {}", answer.stderr.trim());
                    return Ok(None);
                }
                answer.stdout
            }
        };
        let v = raw.trim_end_matches(crate::py::str::is_space);
        Ok((!v.is_empty() && v != "---").then(|| v.to_string()))
    }

    /// `guestinfo(key)`: the value, decoded as its `.encoding` says.
    fn decoded(&self, ctx: &DsContext, key: &str) -> Result<Option<String>, DsError> {
        let Some(val) = self.value(ctx, key)? else {
            return Ok(None);
        };
        let enc = self.value(ctx, &format!("{key}.encoding"))?;
        decode(enc.as_deref(), &val)
            .map(Some)
            .map_err(|error| DsError::BadValue {
                file: self.source(),
                key: self.key_name(key),
                error,
            })
    }

    fn source(&self) -> String {
        match self {
            Transport::Envvar => "environment".into(),
            Transport::Guestinfo(tool) => tool.path.clone(),
        }
    }

    /// `guestinfo_set_value`: an empty value is sent as one space.
    fn set(&self, ctx: &DsContext, key: &str, value: &str) {
        let Transport::Guestinfo(tool) = self else {
            return;
        };
        let value = if value.is_empty() { " " } else { value };
        let rpc = format!("info-set {} {value}", self.key_name(key));
        match tool.call(ctx, &rpc) {
            Ok(a) if a.code == Some(0) => {}
            Ok(a) => tracing::error!(
                "Failed to set guestinfo key={key}: exit {:?}: {}",
                a.code,
                a.stderr.trim()
            ),
            Err(e) => tracing::error!("Failed to set guestinfo key={key}: {e}"),
        }
    }
}

/// `decode(key, enc_type, data)`: the text of `data` in `enc`. Base64 as
/// Python reads it; gzip that does not decompress stays as decoded (22.4's
/// quiet `decomp_gzip`); the result must be UTF-8 (`decode_binary`).
pub fn decode(enc: Option<&str>, data: &str) -> Result<String, String> {
    let bytes = match enc {
        Some("gzip+base64" | "gz+b64") => {
            let raw = base64::decode(data.as_bytes())?;
            gunzip(&raw).unwrap_or(raw)
        }
        Some("base64" | "b64") => base64::decode(data.as_bytes())?,
        _ => return Ok(data.to_string()),
    };
    String::from_utf8(bytes).map_err(|e| format!("not UTF-8 once decoded ({e})"))
}

/// gzip data, decompressed (bounded), or `None` when it is not gzip.
fn gunzip(raw: &[u8]) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(raw)
        .take(super::MAX_USER_DATA as u64 + 1)
        .read_to_end(&mut out)
        .ok()?;
    (out.len() <= super::MAX_USER_DATA).then_some(out)
}

/// `load_json_or_yaml`: nothing is an empty mapping; JSON, else YAML
/// (which 22.4 takes only as a mapping: anything else ends its `get_data`).
pub fn load_json_or_yaml(text: Option<&str>, name: &str) -> Result<Value, String> {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok(Value::empty_map());
    };
    if let Ok(j) = serde_json::from_str::<serde_json::Value>(text) {
        return Ok(Value::from_json(&j));
    }
    match crate::yaml::load(text.as_bytes(), name) {
        Ok(v @ Value::Map(_)) => Ok(v),
        Ok(other) => Err(format!(
            "neither JSON nor a YAML mapping (YAML {})",
            other.type_name()
        )),
        Err(e) => Err(format!("neither JSON nor YAML: {e}")),
    }
}

/// `process_metadata`: `network` (and `network.encoding`) taken out; a
/// mapping becomes `{config: <it>}`, text is decoded and loaded into
/// `config`.
pub fn process_metadata(data: Value) -> Result<Value, String> {
    let Value::Map(mut m) = data else {
        return Err(format!(
            "meta-data must be a mapping, not {}",
            data.type_name()
        ));
    };
    let network = m.remove("network");
    let enc = m.remove("network.encoding");
    let Some(network) = network.filter(Value::truthy) else {
        return Ok(Value::Map(m));
    };
    let config = match network {
        v @ Value::Map(_) => v,
        Value::Str(s) => {
            let enc = enc.as_ref().map(Value::python_str);
            let text = decode(enc.as_deref(), &s).map_err(|e| format!("network: {e}"))?;
            load_json_or_yaml(Some(&text), "metadata.network")
                .map_err(|e| format!("network: {e}"))?
        }
        other => {
            return Err(format!(
                "network must be a mapping or encoded text, not {}",
                other.type_name()
            ))
        }
    };
    let mut net = Mapping::new();
    net.insert(Value::str("config"), config);
    m.insert(Value::str("network"), Value::Map(net));
    Ok(Value::Map(m))
}

/// `sources.normalize_pubkey_data`.
fn normalize_pubkey_data(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(v) if !v.truthy() => Vec::new(),
        Some(Value::Str(s)) => splitlines(s).into_iter().map(str::to_string).collect(),
        Some(Value::Seq(items)) => items.iter().map(Value::python_str).collect(),
        Some(Value::Map(m)) => m
            .iter()
            .flat_map(|(_, keys)| match keys {
                Value::Str(s) => vec![s.clone()],
                Value::Seq(items) => items.iter().map(Value::python_str).collect(),
                _ => Vec::new(),
            })
            .filter(|k| !k.is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

/// systemd-detect-virt's VMware: a DMI vendor or product that says so.
fn on_vmware(ctx: &DsContext) -> bool {
    [
        "sys_vendor",
        "product_name",
        "board_vendor",
        "product_version",
    ]
    .iter()
    .filter_map(|f| ctx.facts.dmi(f))
    .any(|v| v.starts_with("VMware") || v.starts_with("VMW"))
}

/// `VMX_GUESTINFO` set and one of the data variables not empty
/// (ds-identify's `vmware_has_envvar_vmx_guestinfo*`).
fn envvar_transport() -> bool {
    let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    set("VMX_GUESTINFO")
        && ["METADATA", "USERDATA", "VENDORDATA"]
            .iter()
            .any(|k| set(&format!("VMX_GUESTINFO_{k}")))
}

impl VMware {
    fn read(ctx: &DsContext) -> Result<Option<Instance>, DsError> {
        let mut found = None;
        if std::env::var_os("VMX_GUESTINFO").is_some_and(|v| !v.is_empty()) {
            let t = Transport::Envvar;
            let data = (
                t.decoded(ctx, "metadata")?,
                t.decoded(ctx, "userdata")?,
                t.decoded(ctx, "vendordata")?,
            );
            if data.0.is_some() || data.1.is_some() || data.2.is_some() {
                found = Some((t, data));
            }
        }
        if found.is_none() {
            // 22.4 reads the product name alone here.
            let product = ctx.facts.dmi("product_name").unwrap_or_default();
            if !product.to_lowercase().contains("vmware") {
                tracing::debug!("Not a VMware platform");
                return Ok(None);
            }
            let Some(tool) = Rpctool::find(ctx) else {
                tracing::debug!("no vmware-rpctool in the root");
                return Ok(None);
            };
            let t = Transport::Guestinfo(tool);
            let data = (
                t.decoded(ctx, "metadata")?,
                t.decoded(ctx, "userdata")?,
                t.decoded(ctx, "vendordata")?,
            );
            if data.0.is_some() || data.1.is_some() || data.2.is_some() {
                found = Some((t, data));
            }
        }
        let Some((t, (md, ud, vd))) = found else {
            tracing::error!("failed to find a valid data access method");
            return Ok(None);
        };
        let md_name = t.key_name("metadata");
        let bad = |error: String| DsError::BadValue {
            file: t.source(),
            key: md_name.clone(),
            error,
        };
        let mut metadata =
            process_metadata(load_json_or_yaml(md.as_deref(), &md_name).map_err(bad)?)
                .map_err(bad)?;
        // `redact_keys`.
        let redact = metadata
            .get("redact")
            .or_else(|| metadata.get("cleanup-guestinfo"))
            .cloned();
        if let Some(keys) = redact.filter(Value::truthy) {
            let keys = match keys {
                Value::Seq(items) => items,
                one => vec![one],
            };
            for key in keys.iter().map(Value::python_str) {
                tracing::info!("clearing {}", t.key_name(&key));
                t.set(ctx, &key, "---");
                t.set(ctx, &format!("{key}.encoding"), "");
            }
        }
        // `get_instance_id`: meta-data's, else the DMI product UUID.
        let instance_id = match metadata.get("instance-id") {
            Some(iid) => iid.python_str(),
            None => {
                let uuid = ctx
                    .fs
                    .read_string(std::path::Path::new("/sys/class/dmi/id/product_uuid"))
                    .ok_or_else(|| {
                        DsError::Missing(
                            "/sys/class/dmi/id/product_uuid (for the instance-id)".into(),
                        )
                    })?;
                let iid = uuid.trim_end().to_lowercase();
                if let Value::Map(m) = &mut metadata {
                    m.insert(Value::str("instance-id"), Value::str(iid.as_str()));
                }
                iid
            }
        };
        let public_keys = [
            "public-keys-data",
            "public_keys_data",
            "public-keys",
            "public_keys",
        ]
        .iter()
        .find_map(|k| metadata.get(k))
        .map(|v| normalize_pubkey_data(Some(v)))
        .unwrap_or_default();
        let network_config = metadata
            .get("network")
            .and_then(|n| n.get("config"))
            .filter(|c| !c.is_null())
            .cloned();
        let source = t.source();
        Ok(Some(Instance {
            dsname: "VMware".into(),
            class_name: "DataSourceVMware".into(),
            description: "DataSourceVMware".into(),
            instance_id,
            user_data_from: ud
                .is_some()
                .then(|| format!("{source} {}", t.key_name("userdata"))),
            vendor_data_from: vd
                .is_some()
                .then(|| format!("{source} {}", t.key_name("vendordata"))),
            user_data: ud.map(String::into_bytes),
            vendor_data: vd.map(String::into_bytes),
            network_config,
            public_keys,
            cloud_name: "vmware".into(),
            platform: "vmware".into(),
            subplatform: match t {
                Transport::Envvar => format!("envvar ({md_name})"),
                Transport::Guestinfo(_) => format!("guestinfo ({md_name})"),
            },
            metadata,
            ..Default::default()
        }))
    }
}

impl Datasource for VMware {
    fn info(&self) -> &'static DatasourceInfo {
        &INFO
    }

    /// ds-identify's `dscheck_VMware`: the `VMX_GUESTINFO*` variables, or
    /// a VMware virtual machine with `vmware-rpctool`. ds-identify then asks
    /// the tool whether a key is set; that runs a program, so it is left to
    /// [`Datasource::get`] (`Maybe`).
    fn detect(&self, ctx: &DsContext) -> Detect {
        if envvar_transport() {
            Detect::Found
        } else if (on_vmware(ctx) && Rpctool::find(ctx).is_some())
            || named_in_config(ctx.cfg, "VMware")
        {
            Detect::Maybe
        } else {
            Detect::NotFound
        }
    }

    fn get(&self, ctx: &DsContext) -> Found {
        Found::from_read("VMware", Self::read(ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// tests/fixtures/datasources/vmware/cases.json, made by 22.4's own
    /// `decode`, `load_json_or_yaml` and `process_metadata` (make.py there).
    #[test]
    fn guestinfo_decoded_as_22_4_decodes_it() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/datasources/vmware/cases.json");
        let cases: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let cases = cases.as_object().unwrap();
        assert!(cases.len() >= 8);
        for (name, case) in cases {
            let enc = case["encoding"].as_str();
            let data = case["data"].as_str().unwrap();
            let got = decode(enc, data);
            match &case["decoded"] {
                serde_json::Value::String(want) => {
                    assert_eq!(got.as_deref(), Ok(want.as_str()), "{name}: decode")
                }
                _ => {
                    assert!(got.is_err(), "{name}: 22.4 raised, we decoded {got:?}");
                    continue;
                }
            }
            if case.get("metadata").is_none() && case.get("metadata_error").is_none() {
                continue;
            }
            let got = load_json_or_yaml(got.as_deref().ok(), name)
                .and_then(process_metadata)
                .map(|v| v.to_json());
            match case.get("metadata") {
                Some(want) => assert_eq!(got.as_ref().ok(), Some(want), "{name}: metadata"),
                None => assert!(got.is_err(), "{name}: 22.4 raised, we read {got:?}"),
            }
        }
    }
}
