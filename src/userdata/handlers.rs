//! Step 2, `_do_handlers`: each processed part to its handler, as
//! cloud-init 22.4's built-in handlers do (`handlers/*`).

use std::path::{Path, PathBuf};

use super::{sniff, Kind, Part};
use crate::effect::{Command, Data, Effect, HostAction, OnFailure};
use crate::jinja;
use crate::jsonpatch::PatchError;
use crate::merge::{MergeError, PartMerger};
use crate::paths::Paths;
use crate::rootfs::FsView;
use crate::value::Value;
use crate::yaml;

/// What consuming one blob produced.
#[derive(Default)]
pub struct Consumed {
    pub effects: Vec<Effect>,
    /// The merged cloud-config of the blob's parts.
    pub cloud_config: Value,
    pub problems: Vec<String>,
}

/// What the handlers may look at.
pub struct HandlerEnv<'a> {
    pub fs: &'a dyn FsView,
    pub paths: &'a Paths,
    pub iid: &'a str,
    /// The first consumption for this instance (`consume_data` per-instance):
    /// upstart jobs are written only then, as in cloud-init 0.7.5.
    pub first_time: bool,
    /// Content types not to handle (`vendor_data.disabled_handlers`).
    pub disabled: Vec<String>,
}

/// `_do_handlers`: every part to its handler, in order.
pub fn consume(parts: &[Part], kind: Kind, env: &HandlerEnv) -> Consumed {
    let mut out = Consumed {
        cloud_config: Value::empty_map(),
        ..Default::default()
    };
    let idir = env.paths.instance_dir(env.iid);
    let mut cc = CloudConfigBuf::default();
    for part in parts {
        if env.disabled.iter().any(|d| d == &part.content_type) {
            tracing::debug!(
                "{}: handler for {} disabled",
                kind.label(),
                part.content_type
            );
            continue;
        }
        handle(
            part,
            &part.content_type,
            &part.payload,
            kind,
            env,
            &idir,
            &mut cc,
            &mut out,
        );
    }
    out.effects.push(Effect::write(
        idir.join(kind.cloud_config_name()),
        Data::secret(cc.file_text()),
        0o600,
    ));
    out.cloud_config = cc.written().unwrap_or_else(Value::empty_map);
    out
}

#[allow(clippy::too_many_arguments)]
fn handle(
    part: &Part,
    ctype: &str,
    payload: &[u8],
    kind: Kind,
    env: &HandlerEnv,
    idir: &Path,
    cc: &mut CloudConfigBuf,
    out: &mut Consumed,
) {
    let label = if part.origin.is_empty() {
        format!("{} part {}", kind.label(), part.filename)
    } else {
        part.origin.clone()
    };
    let vendor = kind != Kind::User;
    match ctype {
        "text/cloud-config" | "text/cloud-config-jsonp" => {
            if let Err(e) = cc.merge(ctype, payload, part, &label) {
                out.problems.push(e.to_string());
            }
        }
        "text/x-shellscript" => {
            let dir = if vendor {
                idir.join("scripts/vendor")
            } else {
                idir.join("scripts")
            };
            out.effects.push(Effect::write(
                dir.join(clean_filename(&part.filename)),
                Data::secret(dos2unix(payload)),
                0o700,
            ));
        }
        "text/x-shellscript-per-boot" | "text/x-shellscript-per-instance" | "text/x-shellscript-per-once" => {
            let freq = &ctype["text/x-shellscript-".len()..];
            let base = if vendor {
                env.paths.cpath("scripts/vendor")
            } else {
                env.paths.cpath("scripts")
            };
            let name = Path::new(&part.filename)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.effects.push(Effect::write(
                base.join(freq).join(clean_filename(&name)),
                Data::secret(dos2unix(payload)),
                0o700,
            ));
        }
        "text/cloud-boothook" => {
            let text = dos2unix(payload);
            let text = String::from_utf8_lossy(&text);
            let body = text
                .strip_prefix("#cloud-boothook")
                .unwrap_or(&text)
                .trim_start()
                .to_string();
            let path = idir.join("boothooks").join(clean_filename(&part.filename));
            out.effects.push(Effect::write(path.clone(), Data::secret(body), 0o700));
            // Run now, every boot; a failure is logged, not fatal (cloud-init).
            out.effects.push(Effect::Run(
                Command::new([path.to_string_lossy().into_owned()])
                    .env("INSTANCE_ID", env.iid)
                    .on_failure(OnFailure::Ignore),
            ));
        }
        "text/upstart-job" => {
            if !env.first_time {
                return;
            }
            let mut name = clean_filename(&part.filename);
            if !name.to_ascii_lowercase().ends_with(".conf") {
                name.push_str(".conf");
            }
            out.effects.push(Effect::write(
                PathBuf::from("/etc/init").join(name),
                Data::public(dos2unix(payload)),
                0o644,
            ));
            if env.fs.exists(Path::new("/sbin/initctl")) {
                out.effects.push(Effect::Host(HostAction {
                    what: "reload upstart's job configuration".into(),
                    argv: vec!["/sbin/initctl".into(), "reload-configuration".into()],
                }));
            }
        }
        "text/jinja2" => match render_jinja(payload, env) {
            Ok((text, missing)) => {
                if !missing.is_empty() {
                    tracing::warn!(
                        "Could not render jinja template variables in file '{}': {}",
                        part.filename,
                        missing.iter().map(|m| format!("'{m}'")).collect::<Vec<_>>().join(", ")
                    );
                }
                let bytes = text.into_bytes();
                match sniff(&bytes) {
                    Some(sub @ ("text/cloud-config" | "text/x-shellscript")) => {
                        handle(part, sub, &bytes, kind, env, idir, cc, out)
                    }
                    other => out.problems.push(format!(
                        "{label}: Ignoring jinja template. Could not find supported sub-handler for type {}",
                        other.unwrap_or("text/plain")
                    )),
                }
            }
            Err(e) => out.problems.push(format!("{label}: {e}")),
        },
        "text/part-handler" => out.problems.push(format!(
            "{label}: #part-handler parts are Python code, which cloudboot does not run; the part was ignored"
        )),
        "text/x-not-multipart" | "text/plain" => {
            if !payload.is_empty() {
                tracing::warn!(
                    "Unhandled non-multipart ({ctype}) {label} ({} bytes)",
                    payload.len()
                );
            }
        }
        other => tracing::warn!("Unhandled unknown content-type ({other}) {label}"),
    }
}

/// A user-data part a handler could not use; it is left out and reported.
/// `label` names the part (its file name, or where it came from).
#[derive(Debug, thiserror::Error)]
pub enum PartError {
    // A `## template: jinja` part.
    #[error("Cannot render jinja template vars. Instance data not yet present at {}", .0.display())]
    NoInstanceData(PathBuf),
    #[error("Loading Jinja instance data failed: {0}")]
    InstanceData(serde_json::Error),
    #[error(transparent)]
    Jinja(#[from] jinja::JinjaError),

    // A cloud-config part.
    #[error("{label}: the JSON patch cannot be read: {error}")]
    PatchUnreadable {
        label: String,
        error: serde_json::Error,
    },
    #[error("{label}: {error}")]
    Patch { label: String, error: PatchError },
    /// A part that does not load as YAML (the error names it and the line).
    #[error(transparent)]
    Yaml(#[from] yaml::YamlError),
    #[error("{label}: Failed at merging in cloud config part: {error}; the part was ignored")]
    Merge { label: String, error: MergeError },
    #[error("{label}: cloud-config must be a mapping, found {type_name}")]
    NotAMapping {
        label: String,
        type_name: &'static str,
    },
}

/// The jinja handler: instance data from `/run/cloud-init/instance-data-sensitive.json`.
fn render_jinja(payload: &[u8], env: &HandlerEnv) -> Result<(String, Vec<String>), PartError> {
    let path = env.paths.runpath("instance-data-sensitive.json");
    let data = env
        .fs
        .read(&path)
        .map_err(|_| PartError::NoInstanceData(path.clone()))?;
    let json: serde_json::Value = serde_json::from_slice(&data).map_err(PartError::InstanceData)?;
    let text = String::from_utf8_lossy(payload);
    let body = text.split_once('\n').map(|(_, b)| b).unwrap_or("");
    let (text, _) = jinja::render(body, &jinja::instance_vars(&json))?;
    // The names cloud-init warns of are found in the rendered text, as
    // its regex finds them (a name runs on to the next blank).
    let missing = jinja::missing_names(&text)
        .into_iter()
        .map(|n| n.trim_matches('\'').to_string())
        .collect();
    Ok((text, missing))
}

/// The cloud-config handler (`CloudConfigPartHandler`): each part merged with
/// its own `merge_how` (taken out of it) or its `Merge-Type` header, by
/// default `dict(replace)+list()+str()`; `#cloud-config-jsonp` parts patch
/// what came before.
#[derive(Default)]
struct CloudConfigBuf {
    parts: PartMerger,
}

impl CloudConfigBuf {
    fn merge(
        &mut self,
        ctype: &str,
        payload: &[u8],
        part: &Part,
        label: &str,
    ) -> Result<(), PartError> {
        if ctype == "text/cloud-config-jsonp" {
            let text = String::from_utf8_lossy(payload);
            let body = text.trim_start();
            let body = body.strip_prefix("#cloud-config-jsonp").unwrap_or(body);
            let patch: serde_json::Value =
                serde_json::from_str(body).map_err(|error| PartError::PatchUnreadable {
                    label: label.to_string(),
                    error,
                })?;
            return self
                .parts
                .patch(&part.filename, |current| {
                    crate::jsonpatch::apply(current, &patch)
                })
                .map_err(|error| PartError::Patch {
                    label: label.to_string(),
                    error,
                });
        }
        let loaded = yaml::load(payload, label);
        // `util.load_yaml` gives None for anything but a mapping; the handler
        // then skips the part ("empty cloud config") but still writes the
        // (possibly empty) file.
        let as_part = match &loaded {
            Ok(v @ Value::Map(_)) => v.clone(),
            _ => Value::Null,
        };
        let merged = self.parts.add(&part.filename, as_part, &part.headers);
        match (loaded?, merged) {
            (Value::Map(_), Ok(())) => Ok(()),
            (Value::Map(_), Err(error)) => Err(PartError::Merge {
                label: label.to_string(),
                error,
            }),
            (Value::Null, _) => {
                tracing::warn!(
                    "Failed at merging in cloud config part from {label}: empty cloud config"
                );
                Ok(())
            }
            (other, _) => Err(PartError::NotAMapping {
                label: label.to_string(),
                type_name: other.type_name(),
            }),
        }
    }

    /// The merged config as `cloud-config.txt` holds it (keys sorted).
    fn written(&self) -> Option<Value> {
        self.parts.written()
    }

    /// `_write_cloud_config`: nothing when no cloud-config part came; the
    /// list of merged parts only when there is one.
    fn file_text(&self) -> String {
        let Some(merged) = self.parts.written() else {
            return String::new();
        };
        let mut t = String::from("#cloud-config\n\n");
        if !self.parts.files().is_empty() {
            t.push_str(&format!("# from {} files\n", self.parts.files().len()));
            for f in self.parts.files() {
                let f = if f.is_empty() { "?" } else { f };
                t.push_str(&format!("# {f}\n"));
            }
            t.push('\n');
        }
        // `_write_cloud_config`: the header lines, then `safeyaml.dumps`,
        // which starts with `---` and ends with `...\n`.
        t.push_str(&yaml::dump_cloud_config(&merged));
        t
    }
}

/// The instance's cloud-config file of `kind`, as a later stage reads it back.
pub fn read_cloud_config(
    fs: &dyn FsView,
    paths: &Paths,
    iid: &str,
    kind: Kind,
    problems: &mut Vec<String>,
) -> Value {
    let path = paths.ipath(iid, kind.cloud_config_name());
    match crate::config::read_file(fs, &path) {
        Ok(Some(v)) => v,
        Ok(None) => Value::empty_map(),
        Err(e) => {
            problems.push(e.to_string());
            Value::empty_map()
        }
    }
}

fn dos2unix(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if data[i] == b'\r' && data.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(data[i]);
        i += 1;
    }
    out
}

/// `util.clean_filename`: `/` becomes `_`, other unsafe characters go.
pub(super) fn clean_filename(name: &str) -> String {
    name.replace('/', "_")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "_-.()".contains(*c))
        .collect::<String>()
        .trim()
        .to_string()
}
