//! Talking to a metadata service (OpenStack, EC2) within hard bounds.
//!
//! Every request has a connect and a total timeout, a failed one is retried
//! with back-off, and the whole conversation with one service has a deadline
//! (`max_wait`); all three are settable per datasource
//! (`datasource.<Name>.timeout`, `retries`, `max_wait`). Finding a service
//! gets `max_wait` for all the datasource's URLs together; once one answers,
//! reading it gets its own, longer budget. The defaults depend on what is
//! known ([`Waits`]): where DMI names the cloud the service is there, and
//! cloud-init's own waits apply (EC2: 50 s per request, 120 s in all), since
//! a slow first answer at boot must not lose the instance; where only the
//! config asks for the datasource, a cloud without the service costs about a
//! second (0.5 s per request, 1.2 s in all), not cloud-init's minutes.

use std::cell::Cell;
use std::time::{Duration, Instant};

use super::source::SeedSource;
use super::DsError;
use super::MAX_USER_DATA;
use crate::http::{self, HttpError, Limits};
use crate::value::Value;

/// Bounds for one datasource's services.
#[derive(Clone, Debug)]
pub struct Bounds {
    /// Per request until the service first answers (connect and whole request).
    pub timeout: Duration,
    /// Extra tries after a failed request (connection refused, timeout, 5xx).
    pub retries: usize,
    /// Until some URL of the datasource first answers: a cloud without the
    /// service costs no more than this (`datasource.<Name>.max_wait`).
    pub max_wait: Duration,
    /// Once a service has answered: per request, and for the whole crawl.
    pub crawl_timeout: Duration,
    pub crawl_wait: Duration,
}

/// The default request timeout and discovery window of a datasource, in
/// seconds, before `datasource.<name>.{timeout,max_wait}` override them.
#[derive(Clone, Copy, Debug)]
pub struct Waits {
    pub timeout: f64,
    pub max_wait: f64,
}

impl Waits {
    /// Where nothing says the service exists (the config asked for the
    /// datasource, DMI did not name the cloud): a cloud without it costs
    /// about a second.
    pub const UNCONFIRMED: Waits = Waits {
        timeout: 0.5,
        max_wait: 1.2,
    };
}

impl Bounds {
    /// Bounds from `datasource.<name>.{timeout,retries,max_wait}`, with
    /// `defaults` where they are not set. A datasource whose platform DMI
    /// confirms passes cloud-init's own defaults (the service is there and
    /// may be slow to answer at boot: EC2 waits up to 120 s), one that is
    /// only asked for passes [`Waits::UNCONFIRMED`]. The crawl, once a
    /// service has answered, gets half a minute.
    pub fn from_cfg(ds_cfg: &Value, defaults: Waits) -> Bounds {
        let secs = |key: &str, default: f64| {
            ds_cfg
                .get(key)
                .and_then(|v| match v {
                    Value::Int(i) => Some(*i as f64),
                    Value::Float(f) => Some(*f),
                    other => other.python_str().parse().ok(),
                })
                .filter(|s: &f64| s.is_finite() && *s >= 0.0)
                .unwrap_or(default)
        };
        Bounds {
            timeout: Duration::from_secs_f64(secs("timeout", defaults.timeout).max(0.05)),
            retries: secs("retries", 2.0) as usize,
            max_wait: Duration::from_secs_f64(secs("max_wait", defaults.max_wait)),
            crawl_timeout: Duration::from_secs(5),
            crawl_wait: Duration::from_secs(30),
        }
    }
}

/// A client for one base URL.
pub struct Client {
    pub base: String,
    bounds: Bounds,
    /// Until the first answer: the datasource's shared discovery deadline;
    /// after it, the crawl deadline.
    deadline: Cell<Instant>,
    answered: Cell<bool>,
    headers: Vec<(String, String)>,
}

/// Why a request gave nothing.
#[derive(Debug)]
pub enum Miss {
    /// 404: the item does not exist.
    NotFound,
    /// Any other failure, in words.
    Failed(String),
}

impl Client {
    /// A client whose search for a first answer ends at `discovery_deadline`
    /// (shared by every URL of one datasource).
    pub fn new(base: &str, bounds: Bounds, discovery_deadline: Instant) -> Client {
        Client {
            base: base.trim_end_matches('/').to_string(),
            deadline: Cell::new(discovery_deadline),
            answered: Cell::new(false),
            bounds,
            headers: Vec::new(),
        }
    }

    /// Sends this header with every request (the IMDSv2 token).
    pub fn with_header(&mut self, name: &str, value: &str) {
        self.headers.push((name.to_string(), value.to_string()));
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    fn limits(&self) -> Option<Limits> {
        let left = self.deadline.get().checked_duration_since(Instant::now())?;
        let per_request = if self.answered.get() {
            self.bounds.crawl_timeout
        } else {
            self.bounds.timeout
        };
        let t = per_request.min(left);
        (!t.is_zero()).then_some(Limits {
            connect_timeout: t,
            total_timeout: t,
            max_body: MAX_USER_DATA,
        })
    }

    /// One request with retries and back-off, within the deadline.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<http::Response, Miss> {
        let url = self.url(path);
        let mut all: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        all.extend_from_slice(headers);
        let mut last = String::new();
        for attempt in 0..=self.bounds.retries {
            if attempt > 0 {
                let pause = Duration::from_millis(100 << (attempt - 1).min(5));
                if Instant::now() + pause >= self.deadline.get() {
                    break;
                }
                std::thread::sleep(pause);
            }
            let Some(limits) = self.limits() else { break };
            let body = (method == "PUT").then_some(&b""[..]);
            match http::request(method, &url, &all, body, &limits) {
                Ok(r) => {
                    if !self.answered.replace(true) {
                        // The service is there: give reading it its own budget.
                        self.deadline.set(Instant::now() + self.bounds.crawl_wait);
                    }
                    if r.status >= 500 {
                        last = format!("{url}: HTTP {}", r.status);
                        continue;
                    }
                    return Ok(r);
                }
                Err(e @ (HttpError::Url(..) | HttpError::TooLarge(..))) => {
                    return Err(Miss::Failed(e.to_string()))
                }
                Err(e) => last = e.to_string(),
            }
        }
        if last.is_empty() {
            last = format!(
                "{url}: no answer within max_wait {:?}",
                self.bounds.max_wait
            );
        }
        Err(Miss::Failed(last))
    }

    /// GET a path: `Ok(body)`, or `NotFound` for 404, or a failure.
    pub fn get(&self, path: &str) -> Result<Vec<u8>, Miss> {
        let r = self.request("GET", path, &[])?;
        match r.status {
            200..=299 => Ok(r.body),
            404 => Err(Miss::NotFound),
            s => Err(Miss::Failed(format!("{}: HTTP {s}", self.url(path)))),
        }
    }
}

/// A metadata service seen as a tree of seed files (the OpenStack reader is
/// the config drive reader pointed at this).
pub struct ServiceSource<'a> {
    pub client: &'a Client,
}

impl SeedSource for ServiceSource<'_> {
    fn describe(&self) -> String {
        self.client.base.clone()
    }

    fn read(&self, rel: &str) -> Result<Option<Vec<u8>>, DsError> {
        match self.client.get(rel) {
            Ok(b) => Ok(Some(b)),
            Err(Miss::NotFound) => Ok(None),
            Err(Miss::Failed(e)) => Err(DsError::Service(e)),
        }
    }

    fn list(&self, rel: &str) -> Vec<String> {
        self.client
            .get(rel)
            .map(|b| {
                String::from_utf8_lossy(&b)
                    .lines()
                    .map(|l| l.trim().trim_end_matches('/').to_string())
                    .filter(|l| !l.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn is_device(&self) -> bool {
        false
    }
}

/// The `metadata_urls` of a datasource's config, else `default`.
pub fn metadata_urls(ds_cfg: &Value, default: &[&str]) -> Vec<String> {
    match ds_cfg.get("metadata_urls").and_then(Value::as_seq) {
        Some(urls) if !urls.is_empty() => urls.iter().map(Value::python_str).collect(),
        _ => default.iter().map(|s| s.to_string()).collect(),
    }
}

/// [`Bounds::from_cfg`] for a datasource with its own default number of
/// retries (22.4's `MD_RETRIES`); `datasource.<Name>.retries` still wins.
pub fn bounds_with_retries(ds_cfg: &Value, waits: Waits, retries: usize) -> Bounds {
    let mut bounds = Bounds::from_cfg(ds_cfg, waits);
    if ds_cfg.get("retries").is_none() {
        bounds.retries = retries;
    }
    bounds
}

/// One document at a whole URL (`http://169.254.169.254/hetzner/v1/metadata`),
/// read within `bounds`, its discovery window ending at `discovery`: the
/// body of a 2xx answer; any other answer, or none, an error naming the URL.
pub fn get_url(
    url: &str,
    bounds: &Bounds,
    discovery: Instant,
    headers: &[(&str, &str)],
) -> Result<Vec<u8>, DsError> {
    // `http://host[:port]` and the rest, so the client's base is the origin.
    let origin_end = url
        .find("://")
        .map(|i| i + 3)
        .and_then(|i| url[i..].find('/').map(|j| i + j))
        .unwrap_or(url.len());
    let client = Client::new(&url[..origin_end], bounds.clone(), discovery);
    match client.request("GET", &url[origin_end..], headers) {
        Ok(r) if r.ok() => Ok(r.body),
        Ok(r) => Err(DsError::HttpStatus {
            url: url.to_string(),
            status: r.status,
        }),
        Err(Miss::Failed(e)) => Err(DsError::Service(e)),
        Err(Miss::NotFound) => Err(DsError::HttpStatus {
            url: url.to_string(),
            status: 404,
        }),
    }
}

/// A metadata document that must be a JSON object (`json.loads`).
pub fn json_object(url: &str, body: &[u8]) -> Result<Value, DsError> {
    let doc: serde_json::Value = serde_json::from_slice(body).map_err(|e| DsError::Document {
        url: url.to_string(),
        error: format!("not JSON: {e}"),
    })?;
    let v = Value::from_json(&doc);
    match v {
        Value::Map(_) => Ok(v),
        other => Err(DsError::Document {
            url: url.to_string(),
            error: format!("expected a JSON object, found a {}", other.type_name()),
        }),
    }
}

/// A metadata document that must be a YAML mapping (`util.load_yaml`).
pub fn yaml_mapping(url: &str, body: &[u8]) -> Result<Value, DsError> {
    match crate::yaml::load(body, url) {
        Ok(v @ Value::Map(_)) => Ok(v),
        Ok(other) => Err(DsError::Document {
            url: url.to_string(),
            error: format!("expected a YAML mapping, found a {}", other.type_name()),
        }),
        Err(e) => Err(DsError::Document {
            url: url.to_string(),
            error: e.to_string(),
        }),
    }
}

/// The keys of one metadata document, each missing or mistyped key an
/// error naming the document's URL and the key.
pub struct Doc<'a> {
    pub url: &'a str,
    pub value: &'a Value,
}

impl<'a> Doc<'a> {
    /// `md["key"]`: present and not null.
    pub fn required(&self, key: &str) -> Result<&'a Value, DsError> {
        self.value
            .get(key)
            .filter(|v| !v.is_null())
            .ok_or_else(|| DsError::MissingKey {
                url: self.url.to_string(),
                key: key.to_string(),
            })
    }

    /// `str(md["key"])` of a scalar.
    pub fn scalar(&self, key: &str) -> Result<String, DsError> {
        match self.required(key)? {
            v @ (Value::Seq(_) | Value::Map(_)) => Err(self.wrong(key, "str", v)),
            v => Ok(v.python_str()),
        }
    }

    /// `md["key"]`, a mapping.
    pub fn mapping(&self, key: &str) -> Result<&'a Value, DsError> {
        match self.required(key)? {
            v @ Value::Map(_) => Ok(v),
            v => Err(self.wrong(key, "dict", v)),
        }
    }

    /// `md["key"]`, a list.
    pub fn list(&self, key: &str) -> Result<&'a [Value], DsError> {
        match self.required(key)? {
            Value::Seq(items) => Ok(items),
            v => Err(self.wrong(key, "list", v)),
        }
    }

    /// The error for `key` holding `found` where `expected` belongs.
    pub fn wrong(&self, key: &str, expected: &'static str, found: &Value) -> DsError {
        DsError::WrongType {
            url: self.url.to_string(),
            key: key.to_string(),
            expected,
            found: found.type_name(),
        }
    }
}

/// User-data or vendor-data given inside a metadata document, as 22.4's
/// `UserDataProcessor.process` takes a `*data_raw` value: a string is one
/// blob, a list of strings one part each (a multipart), null or absent
/// none; anything else cannot be processed and is an error naming the key.
pub fn raw_data(doc: &Doc, key: &str) -> Result<Option<Vec<u8>>, DsError> {
    match doc.value.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.as_bytes().to_vec())),
        Some(Value::Bytes(b)) => Ok(Some(b.clone())),
        Some(Value::Seq(items)) => {
            let blobs = items
                .iter()
                .map(|i| match i {
                    Value::Str(s) => Ok(s.as_bytes().to_vec()),
                    Value::Bytes(b) => Ok(b.clone()),
                    other => Err(doc.wrong(key, "list of str", other)),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Some(super::multipart_of(&blobs)))
        }
        Some(other) => Err(doc.wrong(key, "str or list", other)),
    }
}

/// 22.4's `instance_id_matches_system_uuid`: the DMI field (`product_uuid`,
/// or `product_serial` for `system-serial-number`) is the instance-id,
/// case aside.
pub fn instance_id_matches_dmi(facts: &super::Facts, field: &str, iid: &str) -> bool {
    !iid.is_empty()
        && facts
            .dmi(field)
            .is_some_and(|v| v.eq_ignore_ascii_case(iid))
}

/// `datasource.<Name>.<key>` as text (`str()` of a scalar), else `default`:
/// a URL or a header the config may override (`metadata_url`).
pub fn cfg_text(ds_cfg: &Value, key: &str, default: impl FnOnce() -> String) -> String {
    ds_cfg
        .get(key)
        .filter(|v| !v.is_null())
        .map(Value::python_str)
        .unwrap_or_else(default)
}

/// The answer of a datasource that reads one service: its instance, or
/// none and the error as one problem, prefixed with the datasource's name.
pub fn found(name: &str, read: Result<super::Instance, DsError>) -> super::Found {
    super::Found::from_read(name, read.map(Some))
}
