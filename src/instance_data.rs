//! `/run/cloud-init/instance-data.json` (0644, sensitive keys redacted) and
//! `instance-data-sensitive.json` (0600), as cloud-init's
//! `DataSource.persist_instance_data` writes them: the datasource's raw data
//! under `ds`, the system config under `merged_cfg`, `sys_info`, and the
//! standardized `v1` keys; bytes as `ci-b64:` (listed in
//! `base64_encoded_keys`); `merged_cfg` and `security-credentials` listed in
//! `sensitive_keys` and redacted in the world-readable copy.

use serde_json::{json, Map, Value as J};

use crate::datasource::Instance;
use crate::distro::OsRelease;
use crate::value::Value;

const EXPERIMENTAL: &str = "EXPERIMENTAL: The structure and format of content scoped under the 'ds' key may change in subsequent releases of cloud-init.";
const REDACTED: &str = "redacted for non-root user";
const SENSITIVE: &[&str] = &["merged_cfg", "security-credentials"];

/// The two documents and the cloud id.
pub struct InstanceData {
    pub public: J,
    pub sensitive: J,
    pub cloud_id: String,
}

/// JSON as `util.json_dumps` makes it: bytes become `ci-b64:<base64>`.
fn ci_json(v: &Value) -> J {
    match v {
        Value::Bytes(b) => J::String(format!("ci-b64:{}", crate::base64::encode(b))),
        Value::Seq(items) => J::Array(items.iter().map(ci_json).collect()),
        Value::Map(m) => J::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Value::Str(s) => s.clone(),
                        other => other.python_str(),
                    };
                    (key, ci_json(v))
                })
                .collect(),
        ),
        other => other.to_json(),
    }
}

/// `canonical_cloud_id`.
pub fn canonical_cloud_id(cloud_name: &str, region: Option<&str>, platform: &str) -> String {
    let cloud_name = if cloud_name.is_empty() {
        "unknown"
    } else {
        cloud_name
    };
    let region = region.filter(|r| !r.is_empty()).unwrap_or("unknown");
    if region == "unknown" {
        return if cloud_name != "unknown" {
            cloud_name.to_string()
        } else {
            platform.to_string()
        };
    }
    for (prefix, id, cloud) in [
        ("cn-", "aws-china", "aws"),
        ("us-gov-", "aws-gov", "aws"),
        ("china", "azure-china", "azure"),
    ] {
        if region.starts_with(prefix) && cloud_name == cloud {
            return id.to_string();
        }
    }
    if cloud_name != "unknown" {
        cloud_name.to_string()
    } else {
        platform.to_string()
    }
}

/// `platform.uname()` of the running kernel.
fn uname() -> [String; 5] {
    // SAFETY: uname fills the struct we own; the fields are NUL-terminated.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return Default::default();
        }
        let s = |f: &[libc::c_char]| {
            std::ffi::CStr::from_ptr(f.as_ptr())
                .to_string_lossy()
                .into_owned()
        };
        [
            s(&u.sysname),
            s(&u.nodename),
            s(&u.release),
            s(&u.version),
            s(&u.machine),
        ]
    }
}

/// `process_instance_metadata`: strips `ci-b64:` and lists those keys and
/// the sensitive ones, by `/`-joined path.
fn process(v: &mut J, path: &str, b64: &mut Vec<String>, sensitive: &mut Vec<String>) {
    let J::Object(map) = v else { return };
    for (k, val) in map.iter_mut() {
        let sub = if path.is_empty() {
            k.clone()
        } else {
            format!("{path}/{k}")
        };
        if SENSITIVE.contains(&k.as_str()) || SENSITIVE.contains(&sub.as_str()) {
            sensitive.push(sub.clone());
        }
        if let J::String(s) = val {
            if let Some(rest) = s.strip_prefix("ci-b64:") {
                b64.push(sub.clone());
                *s = rest.to_string();
            }
        }
        if val.is_object() {
            process(val, &sub, b64, sensitive);
        }
    }
}

/// Builds both documents for `instance`.
pub fn build(instance: &Instance, sys_cfg: &Value, distro: &OsRelease) -> InstanceData {
    let un = uname();
    let mut ds = Map::new();
    ds.insert("meta_data".into(), ci_json(&instance.metadata));
    if let Some(n) = &instance.network_json {
        ds.insert("network_json".into(), n.clone());
    }
    if let Some(e) = &instance.ec2_metadata {
        ds.insert("ec2_metadata".into(), e.clone());
    }
    ds.insert("_doc".into(), J::from(EXPERIMENTAL));
    let mut merged_cfg = ci_json(sys_cfg);
    if let J::Object(m) = &mut merged_cfg {
        m.insert(
            "_doc".into(),
            J::from("Merged cloud-init system config from /etc/cloud/cloud.cfg and /etc/cloud/cloud.cfg.d/"),
        );
    }
    let hostname = instance.local_hostname();
    let cloud_name = instance.effective_cloud_name();
    let cloud_id = canonical_cloud_id(&cloud_name, instance.region.as_deref(), &instance.platform);
    let platform = format!("{}-{}-{}", un[0], un[2], un[4]);
    let mut doc = json!({
        "ds": J::Object(ds),
        "merged_cfg": merged_cfg,
        "sys_info": {
            "platform": platform,
            "system": un[0],
            "release": un[2],
            // cloudboot has no Python; the key stays for tools that read it.
            "python": J::Null,
            "uname": [un[0], un[1], un[2], un[3], un[4], un[4]],
            "dist": [distro.id, distro.version_id, distro.codename],
            "variant": distro.variant,
        },
        "v1": {
            "_beta_keys": ["subplatform"],
            "availability-zone": instance.availability_zone,
            "availability_zone": instance.availability_zone,
            "cloud_id": cloud_id,
            "cloud-name": cloud_name,
            "cloud_name": cloud_name,
            "distro": distro.id,
            "distro_version": distro.version_id,
            "distro_release": distro.codename,
            "platform": instance.platform,
            "public_ssh_keys": instance.public_keys,
            "python_version": J::Null,
            "instance-id": instance.instance_id,
            "instance_id": instance.instance_id,
            "kernel_release": un[2],
            "local-hostname": hostname,
            "local_hostname": hostname,
            "machine": un[4],
            "region": instance.region,
            "subplatform": instance.subplatform,
            "system_platform": platform,
            "variant": distro.variant,
        },
    });
    let (mut b64, mut sensitive) = (Vec::new(), Vec::new());
    process(&mut doc, "", &mut b64, &mut sensitive);
    b64.sort();
    sensitive.sort();
    doc["base64_encoded_keys"] = json!(b64);
    doc["sensitive_keys"] = json!(sensitive);
    let mut public = doc.clone();
    for path in &sensitive {
        let parts: Vec<&str> = path.split('/').collect();
        let mut obj = &mut public;
        for (i, p) in parts.iter().enumerate() {
            if i + 1 == parts.len() {
                obj[*p] = J::from(REDACTED);
            } else {
                obj = &mut obj[*p];
            }
        }
    }
    InstanceData {
        public,
        sensitive: doc,
        cloud_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_ids() {
        assert_eq!(canonical_cloud_id("aws", Some("us-east-1"), "ec2"), "aws");
        assert_eq!(
            canonical_cloud_id("aws", Some("cn-north-1"), "ec2"),
            "aws-china"
        );
        assert_eq!(
            canonical_cloud_id("aws", Some("us-gov-west-1"), "ec2"),
            "aws-gov"
        );
        assert_eq!(canonical_cloud_id("unknown", None, "nocloud"), "nocloud");
        assert_eq!(canonical_cloud_id("", None, "openstack"), "openstack");
    }
}
