//! User-data and vendor-data, as cloud-init reads, stores and consumes them
//! (`user_data.py:UserDataProcessor`, `stages.py:_do_handlers`, `handlers/*`).
//!
//! Two steps:
//! 1. [`process`] turns the raw blob into an ordered list of [`Part`]s: gzip
//!    undone (by magic, and for gzip MIME parts), MIME multipart walked
//!    (nested, base64, quoted-printable), the type taken from the header or
//!    sniffed from the first line, `#include`/`#include-once` fetched and
//!    expanded in place, `#cloud-config-archive` exploded. The parts are what
//!    `user-data.txt.i` holds.
//! 2. [`consume`] hands each part to its handler: cloud-config parts merged
//!    into `cloud-config.txt`; `#!` scripts saved for scripts_user;
//!    per-boot/instance/once scripts into `/var/lib/cloud/scripts/`;
//!    boothooks saved and run now with `INSTANCE_ID`; `#upstart-job` into
//!    `/etc/init/`; `## template: jinja` rendered with instance data and
//!    handed on; `#part-handler` (Python) refused with a clear message.
//!
//! Both steps only plan: what they would write or run comes back as effects.
//! Every problem is one clear message; the other parts still apply.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::effect::{Command, Data, Effect, HostAction, OnFailure};
use crate::http;
use crate::jinja;
use crate::merge::PartMerger;
use crate::mime;
use crate::paths::Paths;
use crate::rootfs::FsView;
use crate::value::{Mapping, Value};
use crate::yaml;

/// User-data (raw, or after gunzip, or fetched by `#include`) larger than
/// this is refused. EC2 allows 16 KiB and OpenStack 64 KiB; cloud-init sets
/// no limit at all, so a gzip bomb or a runaway include could exhaust memory.
pub const MAX_USER_DATA: usize = 16 << 20;
/// `#include` inside included content, this deep at most (a URL including itself).
const MAX_INCLUDE_DEPTH: usize = 8;

const DECOMP_TYPES: &[&str] = &[
    "application/gzip",
    "application/gzip-compressed",
    "application/gzipped",
    "application/x-compress",
    "application/x-compressed",
    "application/x-gunzip",
    "application/x-gzip",
    "application/x-gzip-compressed",
];

/// Which blob: user-data or vendor-data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    User,
    Vendor,
    Vendor2,
}

impl Kind {
    fn raw_name(self) -> &'static str {
        match self {
            Kind::User => "user-data.txt",
            Kind::Vendor => "vendor-data.txt",
            Kind::Vendor2 => "vendor-data2.txt",
        }
    }

    fn cloud_config_name(self) -> &'static str {
        match self {
            Kind::User => "cloud-config.txt",
            Kind::Vendor => "vendor-cloud-config.txt",
            Kind::Vendor2 => "vendor2-cloud-config.txt",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::User => "user-data",
            Kind::Vendor => "vendor-data",
            Kind::Vendor2 => "vendor-data2",
        }
    }
}

/// One part of processed user-data.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    pub content_type: String,
    pub filename: String,
    /// Other headers carried from the input (Merge-Type, custom archive keys).
    pub headers: Vec<(String, String)>,
    /// The content, transfer encoding undone.
    pub payload: Vec<u8>,
    pub launch_index: Option<i64>,
}

impl Part {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What processing produced.
#[derive(Debug, Default)]
pub struct Processed {
    pub parts: Vec<Part>,
    pub problems: Vec<String>,
    /// `#include-once` cache files to write.
    pub effects: Vec<Effect>,
}

/// What processing may read: the root (for `file://` includes and the
/// include-once cache) and the network (for `http://` includes).
pub struct Env<'a> {
    pub fs: &'a dyn FsView,
    pub paths: &'a Paths,
    pub iid: &'a str,
    pub limits: http::Limits,
}

/// `UserDataProcessor.process`.
pub fn process(raw: &[u8], kind: Kind, env: &Env) -> Processed {
    let mut out = Processed::default();
    if raw.len() > MAX_USER_DATA {
        out.problems.push(too_large(kind.label(), raw.len()));
        return out;
    }
    let mut count = 0usize;
    process_blob(raw, kind, env, 0, &mut count, &mut out);
    out
}

fn too_large(what: &str, len: usize) -> String {
    format!(
        "{what} is {:.1} MiB, more than the {} MiB cloudboot accepts; it was ignored",
        len as f64 / (1u64 << 20) as f64,
        MAX_USER_DATA >> 20
    )
}

/// Gunzips when the data is gzip (by magic), bounded by [`MAX_USER_DATA`].
fn gunzip(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .take(MAX_USER_DATA as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    if out.len() > MAX_USER_DATA {
        return Err(too_large("decompressed data", out.len()));
    }
    Ok(out)
}

/// `convert_string` + `_process_msg` for one blob (the top level, or an include).
fn process_blob(
    raw: &[u8],
    kind: Kind,
    env: &Env,
    depth: usize,
    count: &mut usize,
    out: &mut Processed,
) {
    let data = if raw.starts_with(&[0x1f, 0x8b]) {
        match gunzip(raw) {
            Ok(d) => d,
            Err(e) if e.contains("MiB") => {
                out.problems.push(format!("{}: {e}", kind.label()));
                return;
            }
            // Not really gzip: cloud-init keeps it as it is.
            Err(_) => raw.to_vec(),
        }
    } else {
        raw.to_vec()
    };
    let head = String::from_utf8_lossy(&data[..data.len().min(4096)]).to_ascii_lowercase();
    let leaves: Vec<mime::Entity> = if head.contains("mime-version:") {
        match mime::parse(&data) {
            Ok((msg, warnings)) => {
                for w in warnings {
                    out.problems.push(format!("{}: {w}", kind.label()));
                }
                msg.leaves().into_iter().cloned().collect()
            }
            Err(e) => {
                out.problems.push(format!(
                    "{}: MIME message cannot be read: {e}",
                    kind.label()
                ));
                return;
            }
        }
    } else {
        vec![mime::Entity {
            headers: vec![("Content-Type".into(), "text/x-not-multipart".into())],
            raw_body: data,
            parts: Vec::new(),
        }]
    };
    for leaf in leaves {
        let mut ctype = leaf.content_type();
        let mut payload = match leaf.decoded_body() {
            Ok(p) => p,
            Err(e) => {
                out.problems.push(format!(
                    "{} part {}: {e}",
                    kind.label(),
                    leaf.filename().unwrap_or_default()
                ));
                continue;
            }
        };
        let mut headers: Vec<(String, String)> = leaf
            .headers
            .iter()
            .filter(|(k, _)| {
                ![
                    "content-type",
                    "content-disposition",
                    "mime-version",
                    "content-transfer-encoding",
                    "launch-index",
                    "number-attachments",
                ]
                .contains(&k.to_ascii_lowercase().as_str())
            })
            .cloned()
            .collect();
        if DECOMP_TYPES.contains(&ctype.as_str()) {
            match gunzip(&payload) {
                Ok(p) => {
                    // Only the filename and Launch-Index survive (cloud-init
                    // builds a new part around the decompressed payload).
                    payload = p;
                    ctype = "text/plain".into();
                    headers.clear();
                }
                Err(e) => {
                    out.problems.push(format!(
                        "Failed decompressing payload from {ctype} of length {} due to: {e}",
                        payload.len()
                    ));
                    continue;
                }
            }
        }
        if matches!(
            ctype.as_str(),
            "text/plain" | "text/x-not-multipart" | "text/x-shellscript"
        ) {
            if let Some(sniffed) = sniff(&payload) {
                ctype = sniffed.to_string();
            }
        }
        match ctype.as_str() {
            "text/x-include-url" | "text/x-include-once-url" => {
                if depth >= MAX_INCLUDE_DEPTH {
                    out.problems.push(format!(
                        "{}: #include nested more than {MAX_INCLUDE_DEPTH} deep; not followed",
                        kind.label()
                    ));
                    continue;
                }
                include(&payload, kind, env, depth, count, out);
            }
            "text/cloud-config-archive" => explode_archive(&payload, kind, count, out),
            _ => {
                let launch_index = leaf
                    .header("Launch-Index")
                    .and_then(|v| v.trim().parse().ok());
                attach(
                    out,
                    count,
                    Part {
                        content_type: ctype,
                        filename: leaf.filename().unwrap_or_default(),
                        headers,
                        payload,
                        launch_index,
                    },
                );
            }
        }
    }
}

/// `_attach_part`: names unnamed parts `part-NNN` (1-based) and takes the
/// launch index of a cloud-config part from its `launch-index` key.
fn attach(out: &mut Processed, count: &mut usize, mut part: Part) {
    *count += 1;
    if part.filename.is_empty() {
        part.filename = format!("part-{:03}", *count);
    }
    if part.launch_index.is_none() && part.content_type == "text/cloud-config" {
        if let Ok(v) = yaml::load(&part.payload, "launch-index") {
            part.launch_index = v.get("launch-index").and_then(|i| match i {
                Value::Int(n) => Some(*n),
                other => other.python_str().trim().parse().ok(),
            });
        }
    }
    out.parts.push(part);
}

/// `handlers.type_from_starts_with`: the longest matching prefix, after
/// left-stripping and lower-casing the start of the payload.
pub fn sniff(data: &[u8]) -> Option<&'static str> {
    let head = String::from_utf8_lossy(&data[..data.len().min(256)]);
    let t = head.trim_start().to_ascii_lowercase();
    const PREFIXES: &[(&str, &str)] = &[
        ("#cloud-config-archive", "text/cloud-config-archive"),
        ("#cloud-config-jsonp", "text/cloud-config-jsonp"),
        ("#cloud-boothook", "text/cloud-boothook"),
        ("#include-once", "text/x-include-once-url"),
        ("#cloud-config", "text/cloud-config"),
        ("## template: jinja", "text/jinja2"),
        ("#part-handler", "text/part-handler"),
        ("#upstart-job", "text/upstart-job"),
        ("#include", "text/x-include-url"),
        ("#!", "text/x-shellscript"),
    ];
    PREFIXES
        .iter()
        .find(|(p, _)| t.starts_with(p))
        .map(|(_, ct)| *ct)
}

/// `_do_include`: one URL per line; `#include-once` URLs are fetched once per
/// instance and cached in `instance/data/urlcache/<md5 of the URL>`.
fn include(
    payload: &[u8],
    kind: Kind,
    env: &Env,
    depth: usize,
    count: &mut usize,
    out: &mut Processed,
) {
    let text = String::from_utf8_lossy(payload).into_owned();
    let mut once = false;
    for line in text.lines() {
        let lower = line.to_ascii_lowercase();
        let mut line = line;
        if lower.starts_with("#include-once") {
            line = line["#include-once".len()..].trim_start();
            once = true;
        } else if lower.starts_with("#include") {
            line = line["#include".len()..].trim_start();
            once = false;
        }
        if line.starts_with('#') {
            continue;
        }
        let url = line.trim();
        if url.is_empty() {
            continue;
        }
        let cache = env
            .paths
            .instance_link()
            .join("data/urlcache")
            .join(crate::md5::hex(url.as_bytes()));
        let content = if once && env.fs.exists(&cache) {
            env.fs.read(&cache).ok()
        } else {
            match fetch(url, env) {
                Ok(body) => {
                    if once {
                        out.effects.push(Effect::write(
                            cache.clone(),
                            Data::secret(body.clone()),
                            0o600,
                        ));
                    }
                    Some(body)
                }
                Err(e) => {
                    out.problems
                        .push(format!("{} #include {url}: {e}", kind.label()));
                    None
                }
            }
        };
        if let Some(body) = content {
            process_blob(&body, kind, env, depth + 1, count, out);
        }
    }
}

/// `read_file_or_url`: `file://` and plain paths inside the root, `http://`
/// with cloudboot's bounds (three tries, a second apart).
fn fetch(url: &str, env: &Env) -> Result<Vec<u8>, String> {
    let local = url
        .strip_prefix("file://")
        .or(url.starts_with('/').then_some(url));
    if let Some(path) = local {
        let data = env
            .fs
            .read(Path::new(path))
            .map_err(|e| format!("{path}: {e}"))?;
        if data.len() > MAX_USER_DATA {
            return Err(too_large(path, data.len()));
        }
        return Ok(data);
    }
    let mut last = String::new();
    for attempt in 0..3 {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
        match http::get(url, &env.limits) {
            Ok(resp) if resp.ok() => return Ok(resp.body),
            Ok(resp) => {
                return Err(format!(
                    "Fetching from {url} resulted in a invalid http code of {}",
                    resp.status
                ))
            }
            Err(e @ (http::HttpError::Url(..) | http::HttpError::TooLarge(..))) => {
                return Err(e.to_string())
            }
            Err(e) => last = e.to_string(),
        }
    }
    Err(format!("{last} (after 3 tries)"))
}

/// `_explode_archive`: a YAML list; each entry a string (its content) or a
/// mapping with `content`, `type`, `filename`, `launch-index`, and any
/// other keys as headers. Entries are attached as they are (no includes).
fn explode_archive(payload: &[u8], kind: Kind, count: &mut usize, out: &mut Processed) {
    let name = format!("{} (#cloud-config-archive)", kind.label());
    let entries = match yaml::load(payload, &name) {
        Ok(Value::Seq(items)) => items,
        Ok(Value::Null) => Vec::new(),
        Ok(other) => {
            out.problems.push(format!(
                "{name}: expected a list, found {}",
                other.type_name()
            ));
            return;
        }
        Err(e) => {
            out.problems.push(e.to_string());
            return;
        }
    };
    for entry in entries {
        let map = match entry {
            Value::Str(s) => {
                let mut m = Mapping::new();
                m.insert(Value::str("content"), Value::Str(s));
                m
            }
            Value::Map(m) => m,
            _ => continue,
        };
        let (payload, binary) = match map.get("content") {
            Some(Value::Bytes(b)) => (b.clone(), true),
            Some(Value::Null) | None => (Vec::new(), false),
            Some(v) => (v.python_str().into_bytes(), false),
        };
        let ctype = match map.get("type").filter(|t| t.truthy()) {
            Some(t) => t.python_str(),
            None => sniff(&payload)
                .unwrap_or(if binary {
                    "application/octet-stream"
                } else {
                    "text/cloud-config"
                })
                .to_string(),
        };
        let mut headers = Vec::new();
        for (k, v) in map.iter() {
            let key = k.python_str();
            let skip = [
                "content",
                "filename",
                "type",
                "launch-index",
                "content-disposition",
                "number-attachments",
                "content-type",
            ];
            if !skip.contains(&key.to_ascii_lowercase().as_str()) {
                headers.push((key, v.python_str()));
            }
        }
        attach(
            out,
            count,
            Part {
                content_type: ctype,
                filename: map
                    .get("filename")
                    .map(Value::python_str)
                    .unwrap_or_default(),
                headers,
                payload,
                launch_index: map
                    .get("launch-index")
                    .and_then(|v| v.python_str().parse().ok()),
            },
        );
    }
}

/// A MIME boundary in the shape Python's email package makes.
fn boundary() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mixed = (nanos ^ (u128::from(std::process::id()) << 64)) % 10u128.pow(19);
    format!("==============={mixed:019}==")
}

/// `str(msg)` of the processed message (`user-data.txt.i`).
pub fn processed_mime(parts: &[Part]) -> Vec<u8> {
    let b = boundary();
    let mut out = format!(
        "Content-Type: multipart/mixed; boundary=\"{b}\"\nMIME-Version: 1.0\nNumber-Attachments: {}\n\n",
        parts.len()
    )
    .into_bytes();
    for p in parts {
        let mut head = format!(
            "--{b}\nMIME-Version: 1.0\nContent-Type: {}\n",
            p.content_type
        );
        for (k, v) in &p.headers {
            head.push_str(&format!("{k}: {v}\n"));
        }
        head.push_str(&format!(
            "Content-Disposition: attachment; filename=\"{}\"\n",
            p.filename
        ));
        if let Some(i) = p.launch_index {
            head.push_str(&format!("Launch-Index: {i}\n"));
        }
        head.push('\n');
        out.extend_from_slice(head.as_bytes());
        out.extend_from_slice(&p.payload);
        out.push(b'\n');
    }
    out.extend_from_slice(format!("--{b}--\n").as_bytes());
    out
}

/// `Init.update()`: the raw and processed blobs, all 0600 and secret.
pub fn store(
    paths: &Paths,
    iid: &str,
    kind: Kind,
    raw: Option<&[u8]>,
    processed: &Processed,
) -> Vec<Effect> {
    let dir = paths.instance_dir(iid);
    let raw_path = dir.join(kind.raw_name());
    let processed_path = dir.join(format!("{}.i", kind.raw_name()));
    let mut parts = processed.parts.clone();
    if parts.is_empty() {
        // cloud-init always has at least the (possibly empty) blob itself.
        parts.push(Part {
            content_type: "text/x-not-multipart".into(),
            filename: "part-001".into(),
            headers: Vec::new(),
            payload: Vec::new(),
            launch_index: None,
        });
    }
    vec![
        Effect::write(raw_path, Data::secret(raw.unwrap_or_default()), 0o600),
        Effect::write(processed_path, Data::secret(processed_mime(&parts)), 0o600),
    ]
}

/// The launch-index filter (`filters/launch_index.py`): with an index from
/// meta-data, parts that name another index are dropped.
pub fn filter_launch_index(parts: &[Part], wanted: Option<i64>) -> Vec<Part> {
    parts
        .iter()
        .filter(|p| match (wanted, p.launch_index) {
            (Some(w), Some(i)) => w == i,
            _ => true,
        })
        .cloned()
        .collect()
}

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
    let label = format!("{} part {}", kind.label(), part.filename);
    let vendor = kind != Kind::User;
    match ctype {
        "text/cloud-config" | "text/cloud-config-jsonp" => {
            if let Err(e) = cc.merge(ctype, payload, part, &label) {
                out.problems.push(e);
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
                    "Unhandled non-multipart ({ctype}) {} ({} bytes)",
                    kind.label(),
                    payload.len()
                );
            }
        }
        other => tracing::warn!("Unhandled unknown content-type ({other}) {}", kind.label()),
    }
}

/// The jinja handler: instance data from `/run/cloud-init/instance-data-sensitive.json`.
fn render_jinja(payload: &[u8], env: &HandlerEnv) -> Result<(String, Vec<String>), String> {
    let path = env.paths.runpath("instance-data-sensitive.json");
    let data = env.fs.read(&path).map_err(|_| {
        format!(
            "Cannot render jinja template vars. Instance data not yet present at {}",
            path.display()
        )
    })?;
    let json: serde_json::Value = serde_json::from_slice(&data)
        .map_err(|e| format!("Loading Jinja instance data failed: {e}"))?;
    let text = String::from_utf8_lossy(payload);
    let body = text.split_once('\n').map(|(_, b)| b).unwrap_or("");
    jinja::render(body, &jinja::instance_vars(&json)).map_err(|e| e.0)
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
    ) -> Result<(), String> {
        if ctype == "text/cloud-config-jsonp" {
            let text = String::from_utf8_lossy(payload);
            let body = text.trim_start();
            let body = body.strip_prefix("#cloud-config-jsonp").unwrap_or(body);
            let patch: serde_json::Value = serde_json::from_str(body)
                .map_err(|e| format!("{label}: the JSON patch cannot be read: {e}"))?;
            return self
                .parts
                .patch(&part.filename, |current| {
                    crate::jsonpatch::apply(current, &patch)
                })
                .map_err(|e| format!("{label}: {e}"));
        }
        let loaded = yaml::load(payload, label).map_err(|e| e.to_string());
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
            (Value::Map(_), Err(e)) => Err(format!(
                "{label}: Failed at merging in cloud config part: {e}; the part was ignored"
            )),
            (Value::Null, _) => {
                tracing::warn!(
                    "Failed at merging in cloud config part from {label}: empty cloud config"
                );
                Ok(())
            }
            (other, _) => Err(format!(
                "{label}: cloud-config must be a mapping, found {}",
                other.type_name()
            )),
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
            problems.push(e);
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
fn clean_filename(name: &str) -> String {
    name.replace('/', "_")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "_-.()".contains(*c))
        .collect::<String>()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::{RealFs, Root};

    fn env_in(root: &Path) -> (RealFs, Paths) {
        (
            RealFs {
                root: Root::new(root),
            },
            Paths::default(),
        )
    }

    fn processed(raw: &[u8]) -> Processed {
        let tmp = tempfile::tempdir().unwrap();
        let (fs, paths) = env_in(tmp.path());
        process(
            raw,
            Kind::User,
            &Env {
                fs: &fs,
                paths: &paths,
                iid: "i",
                limits: http::Limits::default(),
            },
        )
    }

    #[test]
    fn sniffing_takes_the_longest_prefix() {
        assert_eq!(sniff(b"  #Cloud-Config\na: 1"), Some("text/cloud-config"));
        assert_eq!(
            sniff(b"#cloud-config-archive\n"),
            Some("text/cloud-config-archive")
        );
        assert_eq!(
            sniff(b"#include-once\nhttp://x"),
            Some("text/x-include-once-url")
        );
        assert_eq!(sniff(b"#!/bin/sh\n"), Some("text/x-shellscript"));
        assert_eq!(sniff(b"hello"), None);
    }

    #[test]
    fn processed_file_has_cloud_init_shape() {
        let p = processed_mime(&processed(b"#cloud-config\nruncmd: [ls]\n").parts);
        let text = String::from_utf8(p).unwrap();
        let b = text.split('"').nth(1).unwrap().to_string();
        assert!(b.starts_with("===============") && b.len() == 36, "{b}");
        assert_eq!(
            text,
            format!(
                "Content-Type: multipart/mixed; boundary=\"{b}\"\nMIME-Version: 1.0\nNumber-Attachments: 1\n\n--{b}\nMIME-Version: 1.0\nContent-Type: text/cloud-config\nContent-Disposition: attachment; filename=\"part-001\"\n\n#cloud-config\nruncmd: [ls]\n\n--{b}--\n"
            )
        );
    }

    #[test]
    fn gzip_is_undone_and_bounded() {
        use std::io::Write;
        let mut gz = Vec::new();
        let mut e = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::default());
        e.write_all(b"#cloud-config\na: 1\n").unwrap();
        e.finish().unwrap();
        let p = processed(&gz);
        assert_eq!(p.parts[0].content_type, "text/cloud-config");
        // A gzip bomb: 17 MiB of zeros.
        let mut bomb = Vec::new();
        let mut e = flate2::write::GzEncoder::new(&mut bomb, flate2::Compression::best());
        e.write_all(&vec![0u8; 17 << 20]).unwrap();
        e.finish().unwrap();
        let p = processed(&bomb);
        assert!(p.parts.is_empty());
        assert!(
            p.problems[0].contains("more than the 16 MiB"),
            "{:?}",
            p.problems
        );
    }

    #[test]
    fn archive_entries_become_parts() {
        let p = processed(b"#cloud-config-archive\n- '#!/bin/sh\n  echo hi'\n- {type: text/cloud-config, content: 'a: 1', filename: cc.yaml, launch-index: 2, X-Custom: y}\n- {content: 'b: 2'}\n");
        let types: Vec<&str> = p.parts.iter().map(|p| p.content_type.as_str()).collect();
        assert_eq!(
            types,
            [
                "text/x-shellscript",
                "text/cloud-config",
                "text/cloud-config"
            ]
        );
        assert_eq!(p.parts[1].filename, "cc.yaml");
        assert_eq!(p.parts[1].launch_index, Some(2));
        assert_eq!(p.parts[1].header("X-Custom"), Some("y"));
        assert_eq!(p.parts[2].filename, "part-003");
    }

    #[test]
    fn launch_index_filter() {
        let p = processed(b"#cloud-config\nlaunch-index: 1\na: 1\n");
        assert_eq!(p.parts[0].launch_index, Some(1));
        assert_eq!(filter_launch_index(&p.parts, Some(1)).len(), 1);
        assert_eq!(filter_launch_index(&p.parts, Some(0)).len(), 0);
        assert_eq!(filter_launch_index(&p.parts, None).len(), 1);
    }

    #[test]
    fn filenames_are_cleaned() {
        assert_eq!(clean_filename("../a b/c$.sh"), ".._ab_c.sh");
    }
}
