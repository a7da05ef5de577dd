//! Step 1, `UserDataProcessor.process`: a raw blob into its ordered
//! [`Part`]s, within [`MAX_USER_DATA`] and [`Limits`](super::Limits).

use std::borrow::Cow;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{
    read_limited, sniff, too_large, Env, Kind, Part, Processed, ReadError, LIMITS_KEY,
    MAX_USER_DATA,
};
use crate::effect::{Data, Effect};
use crate::http;
use crate::mime;
use crate::value::{Mapping, Value};
use crate::yaml;

/// An `#include` whose content could not be had: reported, and the include
/// skipped. `label` names the include line in every message.
#[derive(Debug, thiserror::Error)]
enum IncludeError {
    #[error("{label}: {path}: no such file")]
    NoSuchFile { label: String, path: String },
    #[error("{label}: {error}")]
    Read { label: String, error: ReadError },
    /// The blob's byte budget is spent (the message says which limit).
    #[error("{0}")]
    OverBudget(String),
    /// The blob's include time ran out between tries (the last try's error).
    #[error("{label}: {last} (after {attempts} tries; {time_up})")]
    TimeUp {
        label: String,
        last: String,
        attempts: u32,
        time_up: String,
    },
    #[error("{label}: not fetched: {time_up}")]
    NotFetched { label: String, time_up: String },
    #[error("{label}: Fetching from {url} resulted in a invalid http code of {status}")]
    HttpStatus {
        label: String,
        url: String,
        status: u16,
    },
    #[error("{label}: {error}")]
    Http {
        label: String,
        error: http::HttpError,
    },
    /// Every try failed (the last one's error).
    #[error("{label}: {last} (after 3 tries)")]
    Retries { label: String, last: String },
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

/// `UserDataProcessor.process`, within [`MAX_USER_DATA`] and [`Limits`](super::Limits).
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
                        self.problem(e.to_string());
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
    fn fetch(&mut self, url: &str, label: &str) -> Result<Vec<u8>, IncludeError> {
        let local = url
            .strip_prefix("file://")
            .or(url.starts_with('/').then_some(url));
        if let Some(path) = local {
            return match read_limited(self.env.fs, Path::new(path), self.bytes_left) {
                Ok(Some(data)) => Ok(data),
                Ok(None) => Err(IncludeError::NoSuchFile {
                    label: label.to_string(),
                    path: path.to_string(),
                }),
                Err(ReadError::TooLarge(..)) if self.bytes_left < MAX_USER_DATA => {
                    Err(IncludeError::OverBudget(self.over_budget(label)))
                }
                Err(error) => Err(IncludeError::Read {
                    label: label.to_string(),
                    error,
                }),
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
                    return Err(IncludeError::TimeUp {
                        label: label.to_string(),
                        last,
                        attempts: attempt,
                        time_up: time_up(),
                    });
                }
                std::thread::sleep(Duration::from_secs(1));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(IncludeError::NotFetched {
                    label: label.to_string(),
                    time_up: time_up(),
                });
            }
            let limits = http::Limits {
                connect_timeout: Duration::from_secs(5).min(left),
                total_timeout: Duration::from_secs(10).min(left),
                max_body: self.bytes_left,
            };
            match (self.env.http)(url, &limits) {
                Ok(resp) if resp.ok() => return Ok(resp.body),
                Ok(resp) => {
                    return Err(IncludeError::HttpStatus {
                        label: label.to_string(),
                        url: url.to_string(),
                        status: resp.status,
                    })
                }
                Err(http::HttpError::TooLarge(..)) if self.bytes_left < MAX_USER_DATA => {
                    return Err(IncludeError::OverBudget(self.over_budget(label)))
                }
                Err(error @ (http::HttpError::Url(..) | http::HttpError::TooLarge(..))) => {
                    return Err(IncludeError::Http {
                        label: label.to_string(),
                        error,
                    })
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(IncludeError::Retries {
            label: label.to_string(),
            last,
        })
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
