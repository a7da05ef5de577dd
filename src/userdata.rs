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
//! Every problem is one clear message naming where the part came from (the
//! file or URL, the MIME part, the include, the archive entry); the other
//! parts still apply.
//!
//! cloud-init sets no bounds here, so a 459-byte user-data that includes
//! itself ten times runs for hours and a gzip bomb fills memory. cloudboot's
//! own bounds ([`MAX_USER_DATA`] and [`Limits`]) keep the cost of any input
//! in proportion to those limits; each is far above what a real user sends,
//! and each, when hit, is named in the message.

use std::borrow::Cow;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::effect::{Command, Data, Effect, HostAction, OnFailure};
use crate::http;
use crate::jinja;
use crate::merge::PartMerger;
use crate::mime;
use crate::paths::Paths;
use crate::rootfs::FsView;
use crate::value::{Mapping, Value};
use crate::yaml;

/// User-data larger than this is refused: as it arrives (a seed file, an
/// image, an HTTP body), once decompressed, and all that one blob's
/// decompression and includes add together. EC2 allows 16 KiB and OpenStack
/// 64 KiB; cloud-init sets no limit at all.
pub const MAX_USER_DATA: usize = 16 << 20;

/// The system config key that changes [`Limits`].
pub const LIMITS_KEY: &str = "user_data_limits";

/// cloudboot's bounds on processing one blob (user-data, vendor-data and
/// vendor-data2 each have their own), besides [`MAX_USER_DATA`]. Set under
/// [`LIMITS_KEY`] in the system config (`/etc/cloud/cloud.cfg`,
/// `cloud.cfg.d`); user-data cannot raise its own limits.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Parts: MIME parts (a nested multipart counts too), archive entries
    /// and the parts of included content, together (`max_parts`).
    pub max_parts: usize,
    /// `#include` URLs followed, at any depth (`max_includes`). Without it a
    /// user-data that includes itself ten times fans out exponentially.
    pub max_includes: usize,
    /// Included content that includes, this deep at most (`max_include_depth`).
    pub max_include_depth: usize,
    /// All of the includes' fetches, retries included, within this
    /// (`include_timeout`, in seconds).
    pub include_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_parts: 1000,
            max_includes: 100,
            max_include_depth: 8,
            include_timeout: Duration::from_secs(60),
        }
    }
}

impl Limits {
    /// The defaults, with what [`LIMITS_KEY`] in the system config sets. A
    /// value that is not a whole number (0 or more) is logged and the
    /// default kept (`cloudboot schema` names its file and line).
    pub fn from_config(cfg: &Value) -> Limits {
        let mut limits = Limits::default();
        let Some(Value::Map(set)) = cfg.get(LIMITS_KEY) else {
            return limits;
        };
        let mut timeout = limits.include_timeout.as_secs() as usize;
        for (key, slot) in [
            ("max_parts", &mut limits.max_parts),
            ("max_includes", &mut limits.max_includes),
            ("max_include_depth", &mut limits.max_include_depth),
            ("include_timeout", &mut timeout),
        ] {
            match set.get(key) {
                None => {}
                Some(Value::Int(n)) if *n >= 0 => *slot = usize::try_from(*n).unwrap_or(usize::MAX),
                Some(other) => tracing::warn!(
                    "{LIMITS_KEY}.{key}: expected a whole number of 0 or more, found {} ({}); the default {} is used",
                    other.type_name(),
                    other.python_str(),
                    *slot
                ),
            }
        }
        limits.include_timeout = Duration::from_secs(timeout as u64);
        limits
    }
}

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
    /// Where it came from, for messages: `user-data (/var/lib/cloud/seed/
    /// nocloud/user-data), MIME part 3 (cc.yaml)`, with `#include URL` and
    /// `#cloud-config-archive entry N` steps as they apply.
    pub origin: String,
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

/// How `http://` includes are fetched: [`http::get`] at boot; tests and
/// fuzzing pass their own, so processing can run without a network.
pub type HttpGet<'a> = &'a dyn Fn(&str, &http::Limits) -> Result<http::Response, http::HttpError>;

/// What processing may read: the root (for `file://` includes and the
/// include-once cache) and the network (for `http://` includes).
pub struct Env<'a> {
    pub fs: &'a dyn FsView,
    pub paths: &'a Paths,
    pub iid: &'a str,
    /// Where the blob came from (a seed file, a device and the file on it,
    /// a URL), named in messages; `None` when the datasource does not say.
    pub from: Option<&'a str>,
    pub limits: Limits,
    pub http: HttpGet<'a>,
}

/// `UserDataProcessor.process`, within [`MAX_USER_DATA`] and [`Limits`].
pub fn process(raw: &[u8], kind: Kind, env: &Env) -> Processed {
    let top = match env.from {
        Some(from) => format!("{} ({from})", kind.label()),
        None => kind.label().to_string(),
    };
    let mut run = Processor {
        env,
        kind,
        out: Processed::default(),
        attached: 0,
        includes: 0,
        bytes_left: MAX_USER_DATA,
        include_deadline: None,
        not_followed: Vec::new(),
    };
    if raw.len() > MAX_USER_DATA {
        let m = too_large(&top, raw.len() as u64, MAX_USER_DATA);
        run.problem(format!("{m}; it was ignored"));
        return run.out;
    }
    run.blob(raw, &top, 0);
    run.finish()
}

/// Why [`read_limited`] gave no file.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum ReadError {
    #[error("{0}: not a regular file")]
    NotRegular(String),
    /// What, its size, and the limit.
    #[error("{}", too_large(.0, *.1, *.2))]
    TooLarge(String, u64, usize),
    #[error("{0}: {1}")]
    Io(String, String),
}

/// A regular file of at most `max` bytes in the root: `Ok(None)` when absent.
/// Anything else is an error naming the path: a device or FIFO (whose read
/// could block or never end), or a file larger than `max`, which is found
/// from its size before reading, and never read past `max` + 1 bytes.
pub fn read_limited(
    fs: &dyn FsView,
    path: &Path,
    max: usize,
) -> Result<Option<Vec<u8>>, ReadError> {
    let shown = || path.display().to_string();
    let Some(st) = fs.stat(path) else {
        return Ok(None);
    };
    if st.kind != crate::rootfs::Kind::File {
        return Err(ReadError::NotRegular(shown()));
    }
    if st.len > max as u64 {
        return Err(ReadError::TooLarge(shown(), st.len, max));
    }
    let data = fs
        .read_at_most(path, max as u64)
        .map_err(|e| ReadError::Io(shown(), e.to_string()))?;
    if data.len() > max {
        // It grew while being read.
        return Err(ReadError::TooLarge(shown(), data.len() as u64, max));
    }
    Ok(Some(data))
}

/// `<what>: 64.0 MiB, more than the 16 MiB cloudboot accepts`.
fn too_large(what: &str, len: u64, max: usize) -> String {
    let max = match max % (1 << 20) {
        0 => format!("{} MiB", max >> 20),
        _ => format!("{max} bytes"),
    };
    let len = match len >= 1 << 20 {
        true => format!("{:.1} MiB", len as f64 / (1u64 << 20) as f64),
        false => format!("{len} bytes"),
    };
    format!("{what}: {len}, more than the {max} cloudboot accepts")
}

/// Why gzip data gave nothing.
enum GunzipError {
    /// It decompresses to more than the room left.
    TooLarge,
    /// Not really gzip (cloud-init then keeps the data as it is).
    Invalid(String),
}

/// Gunzips, never producing more than `max` bytes (one more tells it is too large).
fn gunzip(data: &[u8], max: usize) -> Result<Vec<u8>, GunzipError> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| GunzipError::Invalid(e.to_string()))?;
    if out.len() > max {
        return Err(GunzipError::TooLarge);
    }
    Ok(out)
}

/// One blob's processing, with what it has used of its bounds.
struct Processor<'e, 'a> {
    env: &'e Env<'a>,
    kind: Kind,
    out: Processed,
    /// Parts attached so far (unnamed ones are named `part-NNN` after it).
    attached: usize,
    /// `#include` URLs followed so far.
    includes: usize,
    /// What is left of [`MAX_USER_DATA`] for the blob and all that its
    /// decompression and includes add.
    bytes_left: usize,
    /// When the includes' time is up (set by the first fetch).
    include_deadline: Option<Instant>,
    /// Includes (and parts) left out because a limit was reached: the
    /// message for the first, and how many in all, reported once at the end.
    not_followed: Vec<(&'static str, String, usize)>,
}

impl Processor<'_, '_> {
    fn problem(&mut self, message: String) {
        self.out.problems.push(message);
    }

    /// Records what a limit left out: one message per limit, however many.
    fn left_out(&mut self, limit: &'static str, message: impl FnOnce() -> String) {
        match self.not_followed.iter_mut().find(|(l, _, _)| *l == limit) {
            Some((_, _, n)) => *n += 1,
            None => self.not_followed.push((limit, message(), 1)),
        }
    }

    fn finish(mut self) -> Processed {
        for (_, message, n) in std::mem::take(&mut self.not_followed) {
            let message = if n > 1 {
                format!("{message} (and {} more for the same reason)", n - 1)
            } else {
                message
            };
            self.problem(message);
        }
        self.out
    }

    /// The message when decompression or an include would take the blob
    /// past [`MAX_USER_DATA`] in all.
    fn over_budget(&self, what: &str) -> String {
        format!(
            "{what}: more than {} MiB of {} once decompressed and included (cloudboot's limit); it was not used",
            MAX_USER_DATA >> 20,
            self.kind.label()
        )
    }

    /// `convert_string` + `_process_msg` for one blob (the top level, or an
    /// include), `origin` naming it in messages.
    fn blob(&mut self, raw: &[u8], origin: &str, depth: usize) {
        let data: Cow<[u8]> = if raw.starts_with(&[0x1f, 0x8b]) {
            match gunzip(raw, self.bytes_left) {
                Ok(d) => Cow::Owned(d),
                Err(GunzipError::TooLarge) => {
                    let m = self.over_budget(origin);
                    self.problem(m);
                    return;
                }
                // Not really gzip: cloud-init keeps it as it is.
                Err(GunzipError::Invalid(_)) => Cow::Borrowed(raw),
            }
        } else {
            Cow::Borrowed(raw)
        };
        if data.len() > self.bytes_left {
            let m = self.over_budget(origin);
            self.problem(m);
            return;
        }
        self.bytes_left -= data.len();
        let head = String::from_utf8_lossy(&data[..data.len().min(4096)]).to_ascii_lowercase();
        let message = if head.contains("mime-version:") {
            let room = self.env.limits.max_parts.saturating_sub(self.attached);
            match mime::parse(&data, room) {
                Ok(m) => m,
                Err(mime::MimeError::TooManyParts(_)) => {
                    let before = match self.attached {
                        0 => String::new(),
                        n => format!(" with the {n} before it"),
                    };
                    let m = format!(
                        "{origin}: the MIME message has more parts{before} than the {} cloudboot accepts ({LIMITS_KEY}.max_parts); it was not used",
                        self.env.limits.max_parts
                    );
                    self.problem(m);
                    return;
                }
                Err(e) => {
                    self.problem(format!("{origin}: MIME message cannot be read: {e}"));
                    return;
                }
            }
        } else {
            mime::Message {
                parts: vec![mime::Part {
                    headers: vec![("Content-Type".into(), "text/x-not-multipart".into())],
                    body: &data,
                    number: None,
                }],
                warnings: Vec::new(),
            }
        };
        for w in message.warnings {
            self.problem(format!("{origin}: {w}"));
        }
        for leaf in message.parts {
            let label = match &leaf.number {
                Some(n) => format!("{origin}, MIME part {n}"),
                None => origin.to_string(),
            };
            self.leaf(&leaf, label, depth);
        }
    }

    /// One leaf of a blob's message.
    fn leaf(&mut self, leaf: &mime::Part, label: String, depth: usize) {
        let named = |label: &str| match leaf.filename() {
            Some(f) if leaf.number.is_some() => format!("{label} ({f})"),
            _ => label.to_string(),
        };
        let mut ctype = leaf.content_type();
        let mut payload = match leaf.decoded_body() {
            Ok(p) => p,
            Err(e) => {
                self.problem(format!("{}: {e}", named(&label)));
                return;
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
            match gunzip(&payload, self.bytes_left) {
                Ok(p) => {
                    // Only the filename and Launch-Index survive (cloud-init
                    // builds a new part around the decompressed payload).
                    self.bytes_left -= p.len();
                    payload = Cow::Owned(p);
                    ctype = "text/plain".into();
                    headers.clear();
                }
                Err(GunzipError::TooLarge) => {
                    let m = self.over_budget(&named(&label));
                    self.problem(m);
                    return;
                }
                Err(GunzipError::Invalid(e)) => {
                    self.problem(format!(
                        "{}: Failed decompressing payload from {ctype} of length {} due to: {e}",
                        named(&label),
                        payload.len()
                    ));
                    return;
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
                self.include(&payload, &named(&label), depth)
            }
            "text/cloud-config-archive" => self.explode_archive(&payload, &named(&label)),
            _ => {
                let launch_index = leaf
                    .header("Launch-Index")
                    .and_then(|v| v.trim().parse().ok());
                self.attach(
                    label,
                    leaf.number.is_some(),
                    Part {
                        content_type: ctype,
                        filename: leaf.filename().unwrap_or_default(),
                        headers,
                        payload: payload.into_owned(),
                        launch_index,
                        origin: String::new(),
                    },
                );
            }
        }
    }

    /// `_attach_part`: names unnamed parts `part-NNN` (1-based) and takes the
    /// launch index of a cloud-config part from its `launch-index` key.
    /// `label` names where it came from; with `show_name`, its file name
    /// (given or made) follows.
    fn attach(&mut self, label: String, show_name: bool, mut part: Part) {
        if self.attached >= self.env.limits.max_parts {
            let max = self.env.limits.max_parts;
            self.left_out("parts", || {
                format!("{label}: not used: more parts than the {max} cloudboot accepts ({LIMITS_KEY}.max_parts)")
            });
            return;
        }
        self.attached += 1;
        if part.filename.is_empty() {
            part.filename = format!("part-{:03}", self.attached);
        }
        part.origin = if show_name {
            format!("{label} ({})", part.filename)
        } else {
            label
        };
        // Only a part that mentions the key is read for it (the handler
        // reads every cloud-config part again anyway).
        if part.launch_index.is_none()
            && part.content_type == "text/cloud-config"
            && contains(&part.payload, b"launch-index")
        {
            if let Ok(v) = yaml::load(&part.payload, &part.origin) {
                part.launch_index = v.get("launch-index").and_then(|i| match i {
                    Value::Int(n) => Some(*n),
                    other => other.python_str().trim().parse().ok(),
                });
            }
        }
        self.out.parts.push(part);
    }

    /// `_do_include`: one URL per line; `#include-once` URLs are fetched once
    /// per instance and cached in `instance/data/urlcache/<md5 of the URL>`.
    fn include(&mut self, payload: &[u8], origin: &str, depth: usize) {
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
            let label = format!(
                "{origin}, {} {url}",
                if once { "#include-once" } else { "#include" }
            );
            let limits = &self.env.limits;
            if depth >= limits.max_include_depth {
                let max = limits.max_include_depth;
                self.left_out("depth", || {
                    format!("{label}: not followed: includes nest more than {max} deep (cloudboot's limit, {LIMITS_KEY}.max_include_depth)")
                });
                continue;
            }
            if self.includes >= limits.max_includes {
                let (max, kind) = (limits.max_includes, self.kind.label());
                self.left_out("includes", || {
                    format!("{label}: not fetched: more than {max} includes for one {kind} (cloudboot's limit, {LIMITS_KEY}.max_includes)")
                });
                continue;
            }
            self.includes += 1;
            let cache = self
                .env
                .paths
                .instance_link()
                .join("data/urlcache")
                .join(crate::md5::hex(url.as_bytes()));
            let cached = if once {
                read_limited(self.env.fs, &cache, self.bytes_left)
                    .ok()
                    .flatten()
            } else {
                None
            };
            let body = match cached {
                Some(body) => body,
                None => match self.fetch(url, &label) {
                    Ok(body) => {
                        if once {
                            self.out.effects.push(Effect::write(
                                cache.clone(),
                                Data::secret(body.clone()),
                                0o600,
                            ));
                        }
                        body
                    }
                    Err(e) => {
                        self.problem(e);
                        continue;
                    }
                },
            };
            self.blob(&body, &label, depth + 1);
        }
    }

    /// `read_file_or_url`: `file://` and plain paths inside the root, `http://`
    /// with cloudboot's bounds (three tries, a second apart, all of the
    /// blob's includes within [`Limits::include_timeout`], no more than the
    /// bytes left). The error is the whole message, `label` first.
    fn fetch(&mut self, url: &str, label: &str) -> Result<Vec<u8>, String> {
        let local = url
            .strip_prefix("file://")
            .or(url.starts_with('/').then_some(url));
        if let Some(path) = local {
            return match read_limited(self.env.fs, Path::new(path), self.bytes_left) {
                Ok(Some(data)) => Ok(data),
                Ok(None) => Err(format!("{label}: {path}: no such file")),
                Err(ReadError::TooLarge(..)) if self.bytes_left < MAX_USER_DATA => {
                    Err(self.over_budget(label))
                }
                Err(e) => Err(format!("{label}: {e}")),
            };
        }
        let timeout = self.env.limits.include_timeout;
        let deadline = *self
            .include_deadline
            .get_or_insert_with(|| Instant::now() + timeout);
        let time_up = || {
            format!(
                "the {} s cloudboot gives one {}'s includes were up ({LIMITS_KEY}.include_timeout)",
                timeout.as_secs(),
                self.kind.label()
            )
        };
        let mut last = String::new();
        for attempt in 0..3 {
            let left = deadline.saturating_duration_since(Instant::now());
            if attempt > 0 {
                if left <= Duration::from_secs(1) {
                    return Err(format!(
                        "{label}: {last} (after {attempt} tries; {})",
                        time_up()
                    ));
                }
                std::thread::sleep(Duration::from_secs(1));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("{label}: not fetched: {}", time_up()));
            }
            let limits = http::Limits {
                connect_timeout: Duration::from_secs(5).min(left),
                total_timeout: Duration::from_secs(10).min(left),
                max_body: self.bytes_left,
            };
            match (self.env.http)(url, &limits) {
                Ok(resp) if resp.ok() => return Ok(resp.body),
                Ok(resp) => {
                    return Err(format!(
                        "{label}: Fetching from {url} resulted in a invalid http code of {}",
                        resp.status
                    ))
                }
                Err(http::HttpError::TooLarge(..)) if self.bytes_left < MAX_USER_DATA => {
                    return Err(self.over_budget(label))
                }
                Err(e @ (http::HttpError::Url(..) | http::HttpError::TooLarge(..))) => {
                    return Err(format!("{label}: {e}"))
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(format!("{label}: {last} (after 3 tries)"))
    }

    /// `_explode_archive`: a YAML list; each entry a string (its content) or a
    /// mapping with `content`, `type`, `filename`, `launch-index`, and any
    /// other keys as headers. Entries are attached as they are (no includes).
    fn explode_archive(&mut self, payload: &[u8], origin: &str) {
        let name = format!("{origin}, #cloud-config-archive");
        let entries = match yaml::load(payload, &name) {
            Ok(Value::Seq(items)) => items,
            Ok(Value::Null) => Vec::new(),
            Ok(other) => {
                self.problem(format!(
                    "{name}: expected a list, found {}",
                    other.type_name()
                ));
                return;
            }
            Err(e) => {
                self.problem(e.to_string());
                return;
            }
        };
        let room = self.env.limits.max_parts.saturating_sub(self.attached);
        if entries.len() > room {
            let m = format!(
                "{name}: {} entries, more parts than the {} cloudboot accepts ({LIMITS_KEY}.max_parts); it was not used",
                entries.len(),
                self.env.limits.max_parts
            );
            self.problem(m);
            return;
        }
        for (index, entry) in entries.into_iter().enumerate() {
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
            self.attach(
                format!("{name} entry {}", index + 1),
                true,
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
                    origin: String::new(),
                },
            );
        }
    }
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
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
            origin: String::new(),
        });
    }
    vec![
        Effect::write(raw_path, Data::secret(raw.unwrap_or_default()), 0o600),
        Effect::write(processed_path, Data::secret(processed_mime(&parts)), 0o600),
    ]
}

/// The launch-index filter (`filters/launch_index.py`): with an index from
/// meta-data, parts that name another index are dropped.
pub fn filter_launch_index(parts: Vec<Part>, wanted: Option<i64>) -> Vec<Part> {
    parts
        .into_iter()
        .filter(|p| match (wanted, p.launch_index) {
            (Some(w), Some(i)) => w == i,
            _ => true,
        })
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
    let label = if part.origin.is_empty() {
        format!("{} part {}", kind.label(), part.filename)
    } else {
        part.origin.clone()
    };
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
                    "Unhandled non-multipart ({ctype}) {label} ({} bytes)",
                    payload.len()
                );
            }
        }
        other => tracing::warn!("Unhandled unknown content-type ({other}) {label}"),
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

    /// Processes `raw` as user-data from `/seed/user-data` in an empty
    /// root, with `limits`, answering `http://` includes with `web`.
    fn processed_with(
        raw: &[u8],
        limits: Limits,
        web: &dyn Fn(&str, &http::Limits) -> Result<http::Response, http::HttpError>,
    ) -> Processed {
        let tmp = tempfile::tempdir().unwrap();
        let (fs, paths) = env_in(tmp.path());
        process(
            raw,
            Kind::User,
            &Env {
                fs: &fs,
                paths: &paths,
                iid: "i",
                from: Some("/seed/user-data"),
                limits,
                http: web,
            },
        )
    }

    fn processed(raw: &[u8]) -> Processed {
        processed_with(raw, Limits::default(), &|url, _| {
            panic!("no include expected, asked for {url}")
        })
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut gz = Vec::new();
        let mut e = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap();
        gz
    }

    /// A MIME multipart of `parts` (content type, and any more header lines
    /// after it; body), as cloud-init's users write them.
    fn multipart(parts: &[(&str, &[u8])]) -> Vec<u8> {
        let mut m =
            b"Content-Type: multipart/mixed; boundary=\"XX\"\nMIME-Version: 1.0\n\n".to_vec();
        for (i, (ctype, body)) in parts.iter().enumerate() {
            m.extend_from_slice(
                format!("--XX\nContent-Type: {ctype}\nContent-Disposition: attachment; filename=\"p{}\"\n\n", i + 1)
                    .as_bytes(),
            );
            m.extend_from_slice(body);
            m.push(b'\n');
        }
        m.extend_from_slice(b"--XX--\n");
        m
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
        let p = processed(&gzip(b"#cloud-config\na: 1\n"));
        assert_eq!(p.parts[0].content_type, "text/cloud-config");
        // A gzip bomb: 17 MiB of zeros.
        let p = processed(&gzip(&vec![0u8; 17 << 20]));
        assert!(p.parts.is_empty());
        assert_eq!(
            p.problems,
            ["user-data (/seed/user-data): more than 16 MiB of user-data once decompressed and included (cloudboot's limit); it was not used"]
        );
    }

    #[test]
    fn decompressed_parts_share_one_budget() {
        // Each part alone fits in 16 MiB; the second would take the whole past it.
        let bomb = crate::base64::encode(&gzip(&vec![b'#'; 10 << 20]));
        let gz = "application/x-gzip\nContent-Transfer-Encoding: base64";
        let msg = multipart(&[
            (gz, bomb.as_bytes()),
            (gz, bomb.as_bytes()),
            ("text/cloud-config", b"#cloud-config\na: 1"),
        ]);
        let p = processed(&msg);
        let names: Vec<&str> = p.parts.iter().map(|p| p.filename.as_str()).collect();
        assert_eq!(names, ["p1", "p3"]);
        assert_eq!(
            p.problems,
            ["user-data (/seed/user-data), MIME part 2 (p2): more than 16 MiB of user-data once decompressed and included (cloudboot's limit); it was not used"]
        );
    }

    #[test]
    fn include_fan_out_is_bounded_and_reported_once() {
        // 459 bytes that include themselves ten times: 10^8 fetches at depth 8.
        let body = format!("#include\n{}", "http://loop.example/ud\n".repeat(10));
        let fetches = std::cell::Cell::new(0usize);
        let web = |_: &str, _: &http::Limits| {
            fetches.set(fetches.get() + 1);
            Ok(http::Response {
                status: 200,
                headers: Vec::new(),
                body: body.clone().into_bytes(),
            })
        };
        let p = processed_with(body.as_bytes(), Limits::default(), &web);
        assert_eq!(fetches.get(), 100);
        assert!(p.parts.is_empty());
        // The top's 10 URL lines and 10 in each of the 100 bodies fetched:
        // 910 left out (850 too deep, 60 past the count), one message each.
        let chain = |n| ", #include http://loop.example/ud".repeat(n);
        assert_eq!(
            p.problems,
            [format!("user-data (/seed/user-data){}: not followed: includes nest more than 8 deep (cloudboot's limit, user_data_limits.max_include_depth) (and 849 more for the same reason)", chain(9)),
             format!("user-data (/seed/user-data){}: not fetched: more than 100 includes for one user-data (cloudboot's limit, user_data_limits.max_includes) (and 59 more for the same reason)", chain(8))]
        );
    }

    #[test]
    fn includes_share_one_time_budget() {
        let limits = Limits {
            include_timeout: Duration::ZERO,
            ..Limits::default()
        };
        let p = processed_with(
            b"#include\nhttp://a.example/1\nhttp://a.example/2\n",
            limits,
            &|url, _| panic!("{url} fetched after the time was up"),
        );
        assert_eq!(
            p.problems,
            ["user-data (/seed/user-data), #include http://a.example/1: not fetched: the 0 s cloudboot gives one user-data's includes were up (user_data_limits.include_timeout)",
             "user-data (/seed/user-data), #include http://a.example/2: not fetched: the 0 s cloudboot gives one user-data's includes were up (user_data_limits.include_timeout)"]
        );
    }

    #[test]
    fn parts_are_bounded_across_mime_archives_and_includes() {
        let limits = Limits {
            max_parts: 3,
            ..Limits::default()
        };
        let no_web = |url: &str, _: &http::Limits| -> Result<http::Response, http::HttpError> {
            panic!("{url}")
        };
        // Four parts in one message: refused whole, before any is used.
        let four = multipart(&[("text/x-shellscript", &b"#!/bin/sh"[..]); 4]);
        let p = processed_with(&four, limits.clone(), &no_web);
        assert!(p.parts.is_empty());
        assert_eq!(
            p.problems,
            ["user-data (/seed/user-data): the MIME message has more parts than the 3 cloudboot accepts (user_data_limits.max_parts); it was not used"]
        );
        // An archive that would go past what its message left.
        let archive = b"#cloud-config-archive\n- '#!/bin/sh'\n- '#!/bin/sh'\n- '#!/bin/sh'\n";
        let msg = multipart(&[
            ("text/x-shellscript", b"#!/bin/sh"),
            ("text/cloud-config-archive", archive),
            ("text/x-shellscript", b"#!/bin/sh"),
        ]);
        let p = processed_with(&msg, limits, &no_web);
        let names: Vec<&str> = p.parts.iter().map(|p| p.filename.as_str()).collect();
        assert_eq!(names, ["p1", "p3"]);
        assert_eq!(
            p.problems,
            ["user-data (/seed/user-data), MIME part 2 (p2), #cloud-config-archive: 3 entries, more parts than the 3 cloudboot accepts (user_data_limits.max_parts); it was not used"]
        );
    }

    #[test]
    fn parts_name_where_they_came_from() {
        let web = |url: &str, _: &http::Limits| {
            assert_eq!(url, "http://h.example/more");
            Ok(http::Response {
                status: 200,
                headers: Vec::new(),
                body: multipart(&[("text/cloud-config", b"a: 1")]),
            })
        };
        let inner = multipart(&[
            ("text/x-include-url", b"http://h.example/more"),
            (
                "text/plain",
                b"#cloud-config-archive\n- {content: 'b: 2', filename: arch.yaml}\n- 'c: 3'",
            ),
        ]);
        let outer = format!(
            "Content-Type: multipart/mixed; boundary=OUT\nMIME-Version: 1.0\n\n--OUT\nContent-Type: text/cloud-config\n\n#cloud-config\n--OUT\n{}\n--OUT--\n",
            String::from_utf8(inner).unwrap()
        );
        let p = processed_with(outer.as_bytes(), Limits::default(), &web);
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        let origins: Vec<&str> = p.parts.iter().map(|p| p.origin.as_str()).collect();
        assert_eq!(
            origins,
            [
                "user-data (/seed/user-data), MIME part 1 (part-001)",
                "user-data (/seed/user-data), MIME part 2.1 (p1), #include http://h.example/more, MIME part 1 (p1)",
                "user-data (/seed/user-data), MIME part 2.2 (p2), #cloud-config-archive entry 1 (arch.yaml)",
                "user-data (/seed/user-data), MIME part 2.2 (p2), #cloud-config-archive entry 2 (part-004)",
            ]
        );
        // A single part is the blob itself.
        let p = processed(b"#cloud-config\na: 1\n");
        assert_eq!(p.parts[0].origin, "user-data (/seed/user-data)");
    }

    #[test]
    fn limits_come_from_the_system_config() {
        let cfg = yaml::load(
            b"user_data_limits: {max_parts: 5, max_includes: 0, include_timeout: 2, max_include_depth: lots}\n",
            "t",
        )
        .unwrap();
        assert_eq!(
            Limits::from_config(&cfg),
            Limits {
                max_parts: 5,
                max_includes: 0,
                max_include_depth: 8,
                include_timeout: Duration::from_secs(2),
            }
        );
        assert_eq!(Limits::from_config(&Value::empty_map()), Limits::default());
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
        assert_eq!(filter_launch_index(p.parts.clone(), Some(1)).len(), 1);
        assert_eq!(filter_launch_index(p.parts.clone(), Some(0)).len(), 0);
        assert_eq!(filter_launch_index(p.parts.clone(), None).len(), 1);
    }

    #[test]
    fn filenames_are_cleaned() {
        assert_eq!(clean_filename("../a b/c$.sh"), ".._ab_c.sh");
    }
}
