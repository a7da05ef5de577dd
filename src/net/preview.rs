//! `cloudboot net render`: any network config, rendered for any distro into
//! a directory, with no machine involved. The interfaces that "exist" are
//! the `--mac NAME,MAC` pairs (as `cloud-init devel net-convert -m` takes
//! them), so a user can preview what a boot would write, and the parity
//! fixtures can be checked with the binary itself.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::distro::network::{family_renderer, flavor_for};
use crate::distro::OsRelease;
use crate::net::input::{self, NetInputError};
use crate::net::render::{self, RenderContext};
use crate::net::state::{NetError, NetworkState};
use crate::rootfs::{RealFs, Root};
use crate::value::Value;
use crate::yaml::YamlError;

/// Why `net render` rendered nothing: the input file (named) that cannot be
/// read or converted, or an option or output directory that is wrong.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error("reading {path}: {error}")]
    ReadInput {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A file that starts like JSON but is none, when the kind was guessed.
    #[error("{file}: not JSON: {error} (read as network_data.json, which it looks like; give --kind if it is another format)")]
    LooksLikeJson {
        file: String,
        error: serde_json::Error,
    },
    /// A file that does not load as YAML, when the kind was guessed.
    #[error("{0} (read as YAML, which it looks like; give --kind if it is another format)")]
    LooksLikeYaml(YamlError),
    #[error("{0}: cannot tell the input's format: not network_data.json (no links, networks or services), no network config version 1 or 2, no ENI stanzas; give --kind network_data.json|v1|v2|eni")]
    UnknownFormat(String),
    #[error("{file}: not JSON: {error}")]
    NotJson {
        file: String,
        error: serde_json::Error,
    },
    #[error(transparent)]
    Yaml(#[from] YamlError),
    /// network_data.json or ENI that does not convert.
    #[error("{file}: {error}")]
    Convert { file: String, error: NetInputError },
    /// A YAML config of another version than `--kind` says (or none).
    #[error("{file}: expected network config version {want}, found version {found}")]
    WrongVersion {
        file: String,
        want: i64,
        found: String,
    },
    /// A v1/v2 config the network model refuses.
    #[error("{file}: {error}")]
    State { file: String, error: NetError },
    #[error("unknown --kind {0} (network_data.json, v1, v2, eni, auto)")]
    UnknownKind(String),
    #[error("unknown --renderer {0} (sysconfig, eni, networkd, netplan, network-manager)")]
    UnknownRenderer(String),
    /// The output directory cannot be made.
    #[error("{dir}: {error}")]
    Output { dir: PathBuf, error: std::io::Error },
    #[error("writing {path}: {error}")]
    Write { path: PathBuf, error: String },
    #[error("removing {path}: {error}")]
    Remove { path: PathBuf, error: String },
}

/// What `net render` was asked.
#[derive(Debug, Default)]
pub struct Request {
    pub input: PathBuf,
    /// `network_data.json`, `v1`, `v2`, `eni` or `auto`.
    pub kind: String,
    /// `sysconfig`, `eni`, `networkd`, `netplan`; else the distro's own.
    pub renderer: Option<String>,
    /// `centos`, `centos6`, `rhel7`, `debian`, `ubuntu18`, ...
    pub distro: Option<String>,
    /// `(name, mac)` of the interfaces that exist.
    pub macs: Vec<(String, String)>,
    pub output: PathBuf,
}

/// The input formats, as `net-convert -k` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    NetworkDataJson,
    V1,
    V2,
    Eni,
}

/// `--distro centos6` / `rhel-7` / `ubuntu:18.04` into an [`OsRelease`].
pub fn parse_distro(spec: &str) -> OsRelease {
    let spec = spec.to_ascii_lowercase();
    let split = spec
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(spec.len());
    let (id, version) = spec.split_at(split);
    let id = id.trim_end_matches(['-', ':', '_', ' ']).to_string();
    let variant = match id.as_str() {
        "redhat" => "rhel".to_string(),
        "opensuse" | "sles" => "suse".to_string(),
        _ => id.clone(),
    };
    OsRelease {
        id,
        version_id: version.to_string(),
        codename: String::new(),
        variant,
    }
}

/// Which format a file is in, for `--kind auto`: JSON with `links` or
/// `networks` is `network_data.json`; YAML says its `version`; text with
/// `iface` stanzas is ENI. A file that looks like one format but does not
/// parse as it gets that format's parse error (with its line), not a
/// "cannot tell": a `{` first is JSON (or YAML's flow style), anything
/// else without `iface` stanzas is YAML.
pub fn detect_kind(raw: &[u8], source: &str) -> Result<Kind, PreviewError> {
    let json = serde_json::from_slice::<serde_json::Value>(raw);
    if let Ok(serde_json::Value::Object(o)) = &json {
        if o.contains_key("links") || o.contains_key("networks") || o.contains_key("services") {
            return Ok(Kind::NetworkDataJson);
        }
    }
    let yaml = crate::yaml::load(raw, source);
    if let Ok(v) = &yaml {
        let doc = v.get("network").unwrap_or(v);
        match doc.get("version") {
            Some(Value::Int(1)) => return Ok(Kind::V1),
            Some(Value::Int(2)) => return Ok(Kind::V2),
            _ => {}
        }
    }
    let text = String::from_utf8_lossy(raw);
    if text
        .lines()
        .any(|l| l.trim_start().starts_with("iface ") || l.trim_start().starts_with("auto "))
    {
        return Ok(Kind::Eni);
    }
    match (json, yaml) {
        (Err(error), Err(_)) if text.trim_start().starts_with('{') => {
            Err(PreviewError::LooksLikeJson {
                file: source.to_string(),
                error,
            })
        }
        (_, Err(e)) => Err(PreviewError::LooksLikeYaml(e)),
        _ => Err(PreviewError::UnknownFormat(source.to_string())),
    }
}

/// Converts the input into a v1/v2 network config, with the converter's
/// warnings.
pub fn to_network_config(
    raw: &[u8],
    kind: Kind,
    source: &str,
    macs: &HashMap<String, String>,
) -> Result<(Value, Vec<String>), PreviewError> {
    let converted = |error| PreviewError::Convert {
        file: source.to_string(),
        error,
    };
    match kind {
        Kind::NetworkDataJson => {
            let json: serde_json::Value =
                serde_json::from_slice(raw).map_err(|error| PreviewError::NotJson {
                    file: source.to_string(),
                    error,
                })?;
            input::openstack::convert_net_json(&json, macs).map_err(converted)
        }
        Kind::Eni => {
            let text = String::from_utf8_lossy(raw);
            input::eni::convert_eni(&text)
                .map(|v| (v, Vec::new()))
                .map_err(converted)
        }
        Kind::V1 | Kind::V2 => {
            let v = crate::yaml::load(raw, source)?;
            let doc = v.get("network").cloned().unwrap_or(v);
            let want = if kind == Kind::V1 { 1 } else { 2 };
            match doc.get("version") {
                Some(Value::Int(n)) if *n == want => Ok((doc, Vec::new())),
                other => Err(PreviewError::WrongVersion {
                    file: source.to_string(),
                    want,
                    found: other
                        .map(Value::python_str)
                        .unwrap_or_else(|| "(none)".into()),
                }),
            }
        }
    }
}

/// What was rendered, for the report.
#[derive(Debug, Default)]
pub struct Outcome {
    pub renderer: String,
    pub written: Vec<(PathBuf, u32, usize)>,
    pub removed: Vec<PathBuf>,
    pub warnings: Vec<String>,
}

/// Renders `req` into its output directory (taken as the root: an existing
/// `/etc/network/interfaces` there is read as on a machine).
pub fn render(req: &Request) -> Result<Outcome, PreviewError> {
    let raw = std::fs::read(&req.input).map_err(|error| PreviewError::ReadInput {
        path: req.input.clone(),
        error,
    })?;
    let source = req.input.display().to_string();
    let kind = match req.kind.as_str() {
        "auto" | "" => detect_kind(&raw, &source)?,
        "network_data.json" | "network-data-json" | "json" => Kind::NetworkDataJson,
        "v1" | "yaml-v1" => Kind::V1,
        "v2" | "yaml-v2" => Kind::V2,
        "eni" => Kind::Eni,
        other => return Err(PreviewError::UnknownKind(other.to_string())),
    };
    let macs: HashMap<String, String> = req
        .macs
        .iter()
        .map(|(name, mac)| (mac.to_ascii_lowercase(), name.clone()))
        .collect();
    let (config, mut warnings) = to_network_config(&raw, kind, &source, &macs)?;
    let mut state = NetworkState::parse(&config, &macs).map_err(|error| PreviewError::State {
        file: source.clone(),
        error,
    })?;
    for (iface, gw) in state.demote_extra_default_gateways() {
        warnings.push(format!(
            "{iface}: gateway {gw} is not made a default route (an earlier interface has one)"
        ));
    }
    let distro = req.distro.as_deref().map(parse_distro).unwrap_or_default();
    let name = match &req.renderer {
        Some(r) => r.clone(),
        None => family_renderer(&distro).to_string(),
    };
    let renderer =
        render::by_name(&name).ok_or_else(|| PreviewError::UnknownRenderer(name.clone()))?;
    std::fs::create_dir_all(&req.output).map_err(|error| PreviewError::Output {
        dir: req.output.clone(),
        error,
    })?;
    let root = Root::new(&req.output);
    let fs = RealFs { root: root.clone() };
    let ctx = RenderContext {
        fs: &fs,
        flavor: flavor_for(&distro),
    };
    let rendered = renderer.render(&state, &ctx);
    warnings.extend(rendered.warnings.iter().cloned());
    let mut outcome = Outcome {
        renderer: name,
        warnings,
        ..Default::default()
    };
    // All or nothing, as a boot does (`net::apply::unwritable_paths`).
    let blocked =
        crate::net::apply::unwritable_paths(&fs, rendered.files.iter().map(|f| f.path.as_path()));
    if !blocked.is_empty() {
        return Err(PreviewError::Write {
            path: req.output.clone(),
            error: format!("nothing written: {}", blocked.join("; ")),
        });
    }
    for f in &rendered.files {
        root.write_bytes(&f.path, f.content.as_bytes(), f.mode, None)
            .map_err(|e| PreviewError::Write {
                path: f.path.clone(),
                error: e.to_string(),
            })?;
        outcome
            .written
            .push((f.path.clone(), f.mode, f.content.len()));
    }
    for path in &rendered.remove {
        if root.stat(path, false).is_ok() {
            root.remove(path).map_err(|e| PreviewError::Remove {
                path: path.clone(),
                error: e.to_string(),
            })?;
            outcome.removed.push(path.clone());
        }
    }
    Ok(outcome)
}

/// `NAME,MAC` from `--mac`.
pub fn parse_mac_pair(s: &str) -> Option<(String, String)> {
    let (name, mac) = s.split_once(',')?;
    let ok = mac.split(':').count() >= 6
        && mac
            .split(':')
            .all(|b| b.len() == 2 && b.chars().all(|c| c.is_ascii_hexdigit()));
    (ok && !name.is_empty()).then(|| (name.to_string(), mac.to_string()))
}

/// `--output` given relative to where the user stands.
pub fn output_dir(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    }
}
