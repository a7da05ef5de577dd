//! ovf-env.xml, the provisioning document on Azure's media (22.4's
//! `OvfEnvXml` and `read_azure_ovf`): hostname, admin user and password,
//! whether ssh password logins are allowed, the ssh keys (value, or a
//! fingerprint the wireserver's certificates resolve, and a path), the
//! base64 CustomData that is the user-data, and the pre-provisioning flags.
//!
//! The password is hashed here (SHA-512 crypt, as `encrypt_pass`) and
//! never kept, logged or written in the clear: the copy of the document
//! 22.4 leaves in `/var/lib/waagent` has it replaced by `REDACTED`
//! ([`redact_password`]).

use super::crypt;
use super::xml::{self, Element};
use crate::value::{Mapping, Value};

const NS_WA: &str = "http://schemas.microsoft.com/windowsazure";

/// What a redacted password reads as (`DEF_PASSWD_REDACTION`).
pub const REDACTED: &str = "REDACTED";

/// Why a document gives no provisioning data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OvfError {
    /// Not Azure's ovf-env.xml (`NonAzureDataSource`): the search of
    /// provisioning media goes on.
    NotAzure(String),
    /// Azure's, but unusable (`BrokenAzureDataSource`): the datasource fails.
    Broken(String),
}

impl std::fmt::Display for OvfError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            OvfError::NotAzure(m) | OvfError::Broken(m) => f.write_str(m),
        }
    }
}

/// One `<PublicKey>`: a key by value, or by the fingerprint of the
/// certificate the wireserver holds; where it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    pub fingerprint: Option<String>,
    pub path: Option<String>,
    pub value: Option<String>,
}

/// `read_azure_ovf`'s result: meta-data, user-data, config.
#[derive(Clone, Debug, PartialEq)]
pub struct Ovf {
    /// `{"local-hostname": ...}` when the document names one.
    pub metadata: Mapping,
    /// The decoded CustomData (empty when there is none).
    pub user_data: Vec<u8>,
    /// `_pubkeys`, `ssh_pwauth`, `system_info.default_user`,
    /// `PreprovisionedVm`, `PreprovisionedVMType`, in 22.4's order.
    pub cfg: Mapping,
    /// The keys of `_pubkeys`, for the wireserver exchange.
    pub public_keys: Vec<PublicKey>,
}

/// `OvfEnvXml._find`: the one child of that name in the `wa` namespace.
fn find<'a>(
    node: &'a Element,
    name: &str,
    required: bool,
) -> Result<Option<&'a Element>, OvfError> {
    let mut matches = node.children_named(Some(NS_WA), name);
    let first = matches.next();
    let more = matches.count();
    match (first, more) {
        (None, _) if required => Err(OvfError::Broken(format!(
            "No ovf-env.xml configuration for '{name}'"
        ))),
        (None, _) => Ok(None),
        (Some(_), n) if n > 0 => Err(OvfError::Broken(format!(
            "Multiple configuration matches in ovf-exml.xml for '{name}' ({})",
            n + 1
        ))),
        (Some(e), _) => Ok(Some(e)),
    }
}

/// `_parse_property` without decoding: `Ok(None)` when absent or empty.
fn property(node: &Element, name: &str, required: bool) -> Result<Option<String>, OvfError> {
    Ok(find(node, name, required)?.and_then(|e| e.text.clone()))
}

/// `_parse_property(parse_bool=True)`: absent gives `default`; present but
/// empty is `translate_bool(None)`, false.
fn bool_property(
    node: &Element,
    name: &str,
    default: Option<bool>,
) -> Result<Option<bool>, OvfError> {
    Ok(match find(node, name, false)? {
        None => default,
        Some(e) => Some(match &e.text {
            Some(t) => crate::py::truth::translate_bool(&Value::Str(t.clone()), &[]),
            None => false,
        }),
    })
}

/// Parses a document as `read_azure_ovf` does.
pub fn read_azure_ovf(contents: &[u8]) -> Result<Ovf, OvfError> {
    let root =
        xml::parse(contents).map_err(|e| OvfError::Broken(format!("Invalid ovf-env.xml: {e}")))?;
    // ET's truth of an element is whether it has children.
    let has_section = root
        .children_named(Some(NS_WA), "ProvisioningSection")
        .next()
        .is_some_and(|s| !s.children.is_empty());
    if !has_section {
        return Err(OvfError::NotAzure(
            "Ignoring non-Azure ovf-env.xml: ProvisioningSection not found".into(),
        ));
    }
    let section = find(&root, "ProvisioningSection", true)?.expect("required");
    let set = find(section, "LinuxProvisioningConfigurationSet", true)?.expect("required");
    let custom_data = match property(set, "CustomData", false)? {
        Some(text) => {
            let compact: String = text.split_whitespace().collect();
            Some(crate::base64::decode(compact.as_bytes()).map_err(|e| {
                OvfError::Broken(format!("ovf-env.xml CustomData is not base64: {e}"))
            })?)
        }
        None => None,
    };
    let username = property(set, "UserName", true)?;
    let password = property(set, "UserPassword", false)?;
    let hostname = property(set, "HostName", true)?;
    let disable_ssh_pwauth = bool_property(set, "DisableSshPasswordAuthentication", None)?;
    let public_keys = ssh_section(set)?;
    let platform_section = find(&root, "PlatformSettingsSection", true)?.expect("required");
    let platform = find(platform_section, "PlatformSettings", true)?.expect("required");
    let preprovisioned_vm =
        bool_property(platform, "PreprovisionedVm", Some(false))?.unwrap_or(false);
    let preprovisioned_vm_type = property(platform, "PreprovisionedVMType", false)?;

    let mut metadata = Mapping::new();
    if let Some(h) = hostname.as_ref().filter(|h| !h.is_empty()) {
        metadata.insert(Value::str("local-hostname"), Value::str(h.clone()));
    }
    let mut cfg = Mapping::new();
    if !public_keys.is_empty() {
        let keys = public_keys
            .iter()
            .map(|k| {
                let opt = |v: &Option<String>| v.clone().map(Value::Str).unwrap_or(Value::Null);
                let mut m = Mapping::new();
                m.insert(Value::str("fingerprint"), opt(&k.fingerprint));
                m.insert(Value::str("path"), opt(&k.path));
                m.insert(Value::str("value"), opt(&k.value));
                Value::Map(m)
            })
            .collect();
        cfg.insert(Value::str("_pubkeys"), Value::Seq(keys));
    }
    let password = password.filter(|p| !p.is_empty());
    match disable_ssh_pwauth {
        Some(disable) => cfg.insert(Value::str("ssh_pwauth"), Value::Bool(!disable)),
        None if password.is_some() => cfg.insert(Value::str("ssh_pwauth"), Value::Bool(true)),
        None => {}
    }
    let mut default_user = Mapping::new();
    if let Some(name) = username.filter(|u| !u.is_empty()) {
        default_user.insert(Value::str("name"), Value::Str(name));
    }
    if let Some(pw) = &password {
        default_user.insert(Value::str("lock_passwd"), Value::Bool(false));
        if pw != REDACTED {
            default_user.insert(
                Value::str("hashed_passwd"),
                Value::Str(crypt::encrypt_pass(pw)),
            );
        }
    }
    if !default_user.is_empty() {
        let mut system_info = Mapping::new();
        system_info.insert(Value::str("default_user"), Value::Map(default_user));
        cfg.insert(Value::str("system_info"), Value::Map(system_info));
    }
    cfg.insert(
        Value::str("PreprovisionedVm"),
        Value::Bool(preprovisioned_vm),
    );
    cfg.insert(
        Value::str("PreprovisionedVMType"),
        preprovisioned_vm_type
            .map(Value::Str)
            .unwrap_or(Value::Null),
    );
    tracing::info!(
        "PreprovisionedVm: {}",
        if preprovisioned_vm { "True" } else { "False" }
    );
    Ok(Ovf {
        metadata,
        user_data: custom_data.unwrap_or_default(),
        cfg,
        public_keys,
    })
}

/// `_parse_ssh_section`.
fn ssh_section(set: &Element) -> Result<Vec<PublicKey>, OvfError> {
    let Some(ssh) = find(set, "SSH", false)? else {
        return Ok(Vec::new());
    };
    let Some(keys) = find(ssh, "PublicKeys", false)? else {
        return Ok(Vec::new());
    };
    keys.children_named(Some(NS_WA), "PublicKey")
        .map(|k| {
            Ok(PublicKey {
                fingerprint: property(k, "Fingerprint", false)?,
                path: property(k, "Path", false)?,
                // `default=""`: an empty or absent value is "".
                value: Some(property(k, "Value", false)?.unwrap_or_default()),
            })
        })
        .collect()
}

/// The document with the text of every `UserPassword` element replaced by
/// `REDACTED` (22.4's `_redact_password`), the rest of it byte for byte:
/// 22.4 re-serializes the whole tree through ElementTree, which renames
/// the namespace prefixes; the content is the same.
pub fn redact_password(contents: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(contents.len());
    let mut rest = contents;
    while let Some(open) = find_bytes(rest, b"UserPassword") {
        // Only a start tag `<prefix:UserPassword ...>` (not its end tag).
        let tag_start = rest[..open].iter().rposition(|b| *b == b'<');
        let is_start = tag_start.is_some_and(|s| {
            rest[s + 1..open]
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
                && rest.get(s + 1) != Some(&b'/')
        });
        let after_name = open + "UserPassword".len();
        let Some(gt) = rest[after_name..]
            .iter()
            .position(|b| *b == b'>')
            .map(|i| after_name + i)
        else {
            break;
        };
        if !is_start || rest[gt - 1] == b'/' {
            out.extend_from_slice(&rest[..gt + 1]);
            rest = &rest[gt + 1..];
            continue;
        }
        let Some(end) = find_bytes(&rest[gt + 1..], b"</").map(|i| gt + 1 + i) else {
            break;
        };
        out.extend_from_slice(&rest[..gt + 1]);
        out.extend_from_slice(REDACTED.as_bytes());
        rest = &rest[end..];
    }
    out.extend_from_slice(rest);
    out
}

fn find_bytes(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_keeps_the_rest() {
        let doc = b"<a><wa:UserPassword>s3cret&amp;</wa:UserPassword><wa:UserName>u</wa:UserName><UserPassword/></a>";
        assert_eq!(
            redact_password(doc),
            b"<a><wa:UserPassword>REDACTED</wa:UserPassword><wa:UserName>u</wa:UserName><UserPassword/></a>".to_vec()
        );
        let reread = read_azure_ovf(&redact_password(include_bytes!(
            "../../../tests/fixtures/datasources/azure/ovf-full.xml"
        )))
        .unwrap();
        let user = reread
            .cfg
            .get("system_info")
            .unwrap()
            .get("default_user")
            .unwrap();
        assert!(
            user.get("hashed_passwd").is_none(),
            "a redacted password is not hashed"
        );
        assert_eq!(user.get("lock_passwd"), Some(&Value::Bool(false)));
    }
}
