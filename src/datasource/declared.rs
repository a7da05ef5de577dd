//! Datasources described in YAML (a cloudboot feature): a file in
//! `/etc/cloudboot/datasources.d/*.yaml` under the root says how a metadata
//! service is recognised, where it is, how to ask it, and where in its
//! answers each part of an instance is found. It joins the search like a
//! built-in datasource: [`Declared`] implements [`Datasource`].
//!
//! ```yaml
//! name: HetznerDeclared          # its datasource_list name
//! stages: [local]                # where it is searched (default: network)
//! dsmode: net                    # cloud-init's dsmode (default: net)
//! cloud_name: hetzner
//! platform: hetzner
//! detect:                        # any match: found; none: not tried
//!   dmi: {sys_vendor: Hetzner}   # exact, or with `*` (`Google*`)
//!   cmdline: hetzner             # a key on the kernel command line
//!   label: [HETZNER]             # a filesystem label
//! service:
//!   urls: [http://169.254.169.254/hetzner/v1/]   # tried in order
//!   timeout: 2                   # per request, seconds
//!   max_wait: 10                 # until some URL answers
//!   retries: 2
//!   headers: {Metadata-Flavor: Google}
//!   token: {method: PUT, path: latest/api/token,
//!           headers: {X-ttl: "21600"}, send_as: X-token}
//! documents:                     # fetched relative to the URL that answered
//!   metadata: {path: metadata, format: yaml}   # json | yaml | text
//!   userdata: {path: userdata, format: text, optional: true}
//! instance:                      # each: {document, pointer, encoding}
//!   instance_id: {document: metadata, pointer: /instance-id}
//!   local_hostname: {document: metadata, pointer: /hostname}
//!   public_keys: {document: metadata, pointer: /public-keys}
//!   user_data: {document: userdata}
//!   vendor_data: {document: metadata, pointer: /vendor_data}
//!   network_config: {document: metadata, pointer: /network-config}
//!   region: ...
//!   availability_zone: ...
//! ```
//!
//! A file that breaks these rules is refused as a whole with its name, key
//! and line (at boot: a problem, and the search goes on without it; by
//! `cloudboot schema --datasource FILE`: exit 1). `instance_id` is
//! required; the rest is optional. Encodings: `base64`, `gzip`,
//! `gzip+base64` (base64 first). Network config is cloud-init's v1 or v2
//! form, as the service gives it.

use std::io::Read;
use std::path::Path;

use super::service::{Bounds, Client, Miss, Waits};
use super::{Datasource, DatasourceInfo, Detect, DsContext, DsMode, Found, Instance};
use crate::schedule::Stage;
use crate::schema::{check_fields, Field, Locator, Problem, Severity, Ty};
use crate::value::{Mapping, Value};

/// Where the descriptions live, under the root.
pub const DIR: &str = "/etc/cloudboot/datasources.d";
/// At most this many files are read, each at most this large: a
/// description is a page of YAML.
const MAX_FILES: usize = 32;
const MAX_FILE_BYTES: usize = 64 << 10;
/// Documents (and decoded fields) at most this large: user-data's bound.
const MAX_DOCUMENT: usize = super::MAX_USER_DATA;

/// One field's source: a document, and a JSON pointer into it.
static SOURCE: [Field; 3] = [
    Field::req("document", Ty::Str),
    Field::opt("pointer", Ty::Str),
    Field::opt("encoding", Ty::Enum(&["base64", "gzip", "gzip+base64"])),
];

static SCHEMA: &[Field] = &[
    Field::req("name", Ty::Str),
    Field::opt("stages", Ty::List(&Ty::Enum(&["local", "network"]))),
    Field::opt("dsmode", Ty::Enum(&["local", "net"])),
    Field::opt("cloud_name", Ty::Str),
    Field::opt("platform", Ty::Str),
    Field::opt(
        "detect",
        Ty::Map(&[
            Field::opt("dmi", Ty::AnyMap),
            Field::opt("cmdline", Ty::OneOf(&[Ty::Str, Ty::List(&Ty::Str)])),
            Field::opt("label", Ty::OneOf(&[Ty::Str, Ty::List(&Ty::Str)])),
        ]),
    ),
    Field::req(
        "service",
        Ty::Map(&[
            Field::req("urls", Ty::List(&Ty::Str)),
            Field::opt("timeout", Ty::Any),
            Field::opt("max_wait", Ty::Any),
            Field::opt("retries", Ty::Int),
            Field::opt("headers", Ty::AnyMap),
            Field::opt(
                "token",
                Ty::Map(&[
                    Field::opt("method", Ty::Enum(&["GET", "PUT", "POST"])),
                    Field::req("path", Ty::Str),
                    Field::opt("headers", Ty::AnyMap),
                    Field::req("send_as", Ty::Str),
                ]),
            ),
        ]),
    ),
    Field::req("documents", Ty::AnyMap),
    Field::req(
        "instance",
        Ty::Map(&[
            Field::req("instance_id", Ty::Map(&SOURCE)),
            Field::opt("local_hostname", Ty::Map(&SOURCE)),
            Field::opt("public_keys", Ty::Map(&SOURCE)),
            Field::opt("user_data", Ty::Map(&SOURCE)),
            Field::opt("vendor_data", Ty::Map(&SOURCE)),
            Field::opt("network_config", Ty::Map(&SOURCE)),
            Field::opt("region", Ty::Map(&SOURCE)),
            Field::opt("availability_zone", Ty::Map(&SOURCE)),
        ]),
    ),
];

static DOCUMENT: &[Field] = &[
    Field::req("path", Ty::Str),
    Field::opt("format", Ty::Enum(&["json", "yaml", "text"])),
    Field::opt("optional", Ty::Bool),
];

/// The instance fields a description may fill, in the order they are read.
const INSTANCE_FIELDS: [&str; 8] = [
    "instance_id",
    "local_hostname",
    "public_keys",
    "user_data",
    "vendor_data",
    "network_config",
    "region",
    "availability_zone",
];

/// A datasource described in a file.
#[derive(Debug)]
pub struct Declared {
    /// The file, as the guest names it (for messages and `str(ds)`).
    pub file: String,
    spec: Value,
    info: &'static DatasourceInfo,
}

/// A description that cannot be used: the file, the key and the line.
#[derive(Debug, PartialEq)]
pub struct Refused(pub String);

impl Declared {
    /// Checks a description and makes a datasource of it.
    pub fn parse(file: &str, text: &[u8]) -> Result<Declared, Vec<Refused>> {
        let spec = crate::yaml::load(text, file).map_err(|e| {
            vec![Refused(format!(
                "{file}, line {}, column {}: not valid YAML: {}",
                e.line.unwrap_or(1),
                e.column.unwrap_or(1),
                e.message
            ))]
        })?;
        let problems = check(&spec);
        if !problems.is_empty() {
            let locate = Locator::for_document(file, text);
            return Err(problems
                .into_iter()
                .map(|p| {
                    Refused(match locate.line_of(&p.path) {
                        Some((l, c)) => {
                            format!("{file}, line {l}, column {c}: {}: {}", p.path, p.message)
                        }
                        None => format!("{file}: {}: {}", p.path, p.message),
                    })
                })
                .collect());
        }
        let name = spec.get("name").map(Value::python_str).unwrap_or_default();
        let summary = format!("declared in {file}");
        // The registry's `DatasourceInfo` is static; a description lives as
        // long as the process (one stage), and there are at most MAX_FILES.
        let info: &'static DatasourceInfo = Box::leak(Box::new(DatasourceInfo {
            name: Box::leak(name.into_boxed_str()),
            aliases: &[],
            summary: Box::leak(summary.into_boxed_str()),
        }));
        Ok(Declared {
            file: file.to_string(),
            spec,
            info,
        })
    }

    /// Its `datasource_list` name.
    pub fn name(&self) -> &'static str {
        self.info.name
    }

    /// Whether it is searched in this stage.
    pub fn in_stage(&self, stage: Stage) -> bool {
        let wanted = if stage == Stage::Local {
            "local"
        } else {
            "network"
        };
        match self.spec.get("stages").and_then(Value::as_seq) {
            Some(list) => list.iter().any(|s| s.as_str() == Some(wanted)),
            None => stage == Stage::Network,
        }
    }

    fn str_at(&self, path: &[&str]) -> Option<String> {
        let mut v = &self.spec;
        for k in path {
            v = v.get(k)?;
        }
        Some(v.python_str())
    }

    /// The documents, fetched from the first URL that answers.
    fn fetch(&self, ctx: &DsContext) -> Result<Option<(String, Mapping)>, String> {
        let service = self.spec.get("service").cloned().unwrap_or(Value::Null);
        let detected = self.detect(ctx) == Detect::Found;
        let waits = if detected {
            Waits {
                timeout: 5.0,
                max_wait: 30.0,
            }
        } else {
            Waits::UNCONFIRMED
        };
        let bounds = Bounds::from_cfg(&service, waits);
        let discovery = std::time::Instant::now() + bounds.max_wait;
        let urls: Vec<String> = service
            .get("urls")
            .and_then(Value::as_seq)
            .map(|s| s.iter().map(Value::python_str).collect())
            .unwrap_or_default();
        for base in urls {
            let _net = match super::ephemeral::bring_up(ctx, &base) {
                Ok(n) => n,
                Err(e) => return Err(format!("{}: {base}: {e}", self.file)),
            };
            let mut client = Client::new(&base, bounds.clone(), discovery);
            for (k, v) in service
                .get("headers")
                .map(Value::str_pairs)
                .unwrap_or_default()
            {
                client.with_header(&k, &v);
            }
            if let Some(token) = service.get("token") {
                let method = token
                    .get("method")
                    .map(Value::python_str)
                    .unwrap_or("PUT".into());
                let path = token.get("path").map(Value::python_str).unwrap_or_default();
                let headers = token
                    .get("headers")
                    .map(Value::str_pairs)
                    .unwrap_or_default();
                let headers: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                match client.request(&method, &path, &headers) {
                    Ok(r) if r.ok() => {
                        let send_as = token
                            .get("send_as")
                            .map(Value::python_str)
                            .unwrap_or_default();
                        let value = String::from_utf8_lossy(&r.body).trim().to_string();
                        client.with_header(&send_as, &value);
                    }
                    Ok(r) => {
                        return Err(format!(
                            "{}: token request {}: HTTP {}",
                            self.file,
                            client.url(&path),
                            r.status
                        ))
                    }
                    Err(Miss::NotFound) => {
                        return Err(format!(
                            "{}: token request {}: HTTP 404",
                            self.file,
                            client.url(&path)
                        ))
                    }
                    Err(Miss::Failed(e)) => {
                        tracing::debug!("{}: {e}", self.file);
                        continue;
                    }
                }
            }
            match self.documents(&client) {
                Ok(Some(docs)) => return Ok(Some((base, docs))),
                Ok(None) => tracing::debug!("{}: no service at {base}", self.file),
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Every document, parsed; `Ok(None)` when the service is not there.
    fn documents(&self, client: &Client) -> Result<Option<Mapping>, String> {
        let mut out = Mapping::new();
        let docs = self
            .spec
            .get("documents")
            .and_then(Value::as_map)
            .cloned()
            .unwrap_or_default();
        for (i, (name, doc)) in docs.iter().enumerate() {
            let name = name.python_str();
            let path = doc.get("path").map(Value::python_str).unwrap_or_default();
            let optional = doc.get("optional").map(Value::truthy).unwrap_or(false);
            let body = match client.get(&path) {
                Ok(b) => b,
                Err(Miss::NotFound) if optional => continue,
                // The first document decides whether the service is here.
                Err(Miss::Failed(e)) if i == 0 => {
                    tracing::debug!("{}: {e}", self.file);
                    return Ok(None);
                }
                Err(Miss::NotFound) if i == 0 => return Ok(None),
                Err(Miss::NotFound) => {
                    return Err(format!(
                        "{}: document {name}: {}: HTTP 404",
                        self.file,
                        client.url(&path)
                    ))
                }
                Err(Miss::Failed(e)) => return Err(format!("{}: document {name}: {e}", self.file)),
            };
            let format = doc
                .get("format")
                .map(Value::python_str)
                .unwrap_or("json".into());
            let url = client.url(&path);
            let value = match format.as_str() {
                "json" => serde_json::from_slice::<serde_json::Value>(&body)
                    .map(|j| Value::from_json(&j))
                    .map_err(|e| format!("{}: document {name}: {url}: not JSON: {e}", self.file))?,
                "yaml" => crate::yaml::load(&body, &url)
                    .map_err(|e| format!("{}: document {name}: {url}: not YAML: {e}", self.file))?,
                _ => Value::Bytes(body),
            };
            out.insert(Value::str(name), value);
        }
        Ok(Some(out))
    }

    /// A field's value from its source, decoded.
    fn field(&self, docs: &Mapping, field: &str) -> Result<Option<Value>, String> {
        let Some(src) = self.spec.get("instance").and_then(|i| i.get(field)) else {
            return Ok(None);
        };
        let doc_name = src
            .get("document")
            .map(Value::python_str)
            .unwrap_or_default();
        let Some(doc) = docs.get(&doc_name) else {
            return Ok(None);
        };
        let pointer = src
            .get("pointer")
            .map(Value::python_str)
            .unwrap_or_default();
        let Some(v) = pointer_get(doc, &pointer) else {
            return Ok(None);
        };
        match src.get("encoding").map(Value::python_str) {
            None => Ok(Some(v.clone())),
            Some(enc) => {
                let raw = match v {
                    Value::Bytes(b) => b.clone(),
                    other => other.python_str().into_bytes(),
                };
                decode(&raw, &enc)
                    .map(|b| Some(Value::Bytes(b)))
                    .map_err(|e| format!("{}: instance.{field}: {e}", self.file))
            }
        }
    }

    fn instance(&self, base: &str, docs: &Mapping) -> Result<Instance, String> {
        let mut got = std::collections::BTreeMap::new();
        for f in INSTANCE_FIELDS {
            if let Some(v) = self.field(docs, f)? {
                got.insert(f, v);
            }
        }
        let text = |v: Option<&Value>| v.filter(|v| !v.is_null()).map(Value::python_str);
        let bytes = |v: Option<&Value>| match v {
            Some(Value::Bytes(b)) => Some(b.clone()),
            Some(Value::Null) | None => None,
            Some(other) => Some(other.python_str().into_bytes()),
        };
        let instance_id = text(got.get("instance_id"))
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                format!(
                    "{}: instance.instance_id: not found in the service's answer",
                    self.file
                )
            })?;
        let mut metadata = Mapping::new();
        metadata.insert(Value::str("instance-id"), Value::str(&instance_id));
        if let Some(h) = text(got.get("local_hostname")) {
            metadata.insert(Value::str("local-hostname"), Value::str(h));
        }
        let public_keys = match got.get("public_keys") {
            Some(v @ (Value::Seq(_) | Value::Map(_) | Value::Str(_))) => {
                super::configdrive::normalize_pubkeys(Some(v))
            }
            _ => Vec::new(),
        };
        if !public_keys.is_empty() {
            metadata.insert(
                Value::str("public-keys"),
                Value::Seq(public_keys.iter().map(Value::str).collect()),
            );
        }
        let network_config = got
            .get("network_config")
            .filter(|v| v.as_map().is_some())
            .cloned();
        let name = self.info.name.to_string();
        // cloud-init's default, dsmode net, unless the description says
        // local (the modules of the network stage then run in the local one).
        let dsmode = match self.spec.get("dsmode").and_then(Value::as_str) {
            Some("local") => DsMode::Local,
            _ => DsMode::Net,
        };
        Ok(Instance {
            dsname: name.clone(),
            class_name: format!("DataSource{name}"),
            description: format!("DataSource{name} [declared={}][url={base}]", self.file),
            instance_id,
            dsmode,
            metadata: Value::Map(metadata),
            user_data_from: got
                .contains_key("user_data")
                .then(|| format!("{base} ({})", self.file)),
            user_data: bytes(got.get("user_data")),
            vendor_data_from: got
                .contains_key("vendor_data")
                .then(|| format!("{base} ({})", self.file)),
            vendor_data: bytes(got.get("vendor_data")),
            network_config,
            public_keys,
            region: text(got.get("region")),
            availability_zone: text(got.get("availability_zone")),
            cloud_name: self
                .str_at(&["cloud_name"])
                .unwrap_or_else(|| name.to_lowercase()),
            platform: self
                .str_at(&["platform"])
                .unwrap_or_else(|| name.to_lowercase()),
            subplatform: format!("metadata ({base})"),
            ..Default::default()
        })
    }
}

impl Datasource for Declared {
    fn info(&self) -> &'static DatasourceInfo {
        self.info
    }

    /// Any of the `detect` matchers: found; none: not tried. Without a
    /// `detect` section it is always tried (bounded as unconfirmed).
    fn detect(&self, ctx: &DsContext) -> Detect {
        let Some(d) = self.spec.get("detect").filter(|d| !d.is_null()) else {
            return Detect::Maybe;
        };
        let facts = &ctx.facts;
        let list = |k: &str| -> Vec<String> {
            match d.get(k) {
                Some(Value::Seq(s)) => s.iter().map(Value::python_str).collect(),
                Some(v) if !v.is_null() => vec![v.python_str()],
                _ => Vec::new(),
            }
        };
        let dmi = d
            .get("dmi")
            .map(Value::str_pairs)
            .unwrap_or_default()
            .iter()
            .any(|(field, pat)| {
                super::detect::DMI_FIELDS.contains(&field.as_str())
                    && facts.dmi(field).is_some_and(|v| glob(pat, v))
            });
        let cmdline = list("cmdline")
            .iter()
            .any(|k| facts.cmdline_value(k).is_some());
        let labels = list("label");
        let label = !labels.is_empty()
            && facts.has_label(&labels.iter().map(String::as_str).collect::<Vec<_>>());
        Detect::found_if(dmi || cmdline || label)
    }

    fn get(&self, ctx: &DsContext) -> Found {
        let mut problems = Vec::new();
        let instance = match self.fetch(ctx) {
            Ok(Some((base, docs))) => match self.instance(&base, &docs) {
                Ok(i) => Some(i),
                Err(e) => {
                    problems.push(e);
                    None
                }
            },
            Ok(None) => None,
            Err(e) => {
                problems.push(e);
                None
            }
        };
        Found { instance, problems }
    }
}

/// Checks a parsed description: the schema, then what it cannot say
/// (names, URLs, documents the instance refers to).
pub fn check(spec: &Value) -> Vec<Problem> {
    let mut out = Vec::new();
    if spec.as_map().is_none() {
        out.push(problem(
            "",
            format!(
                "a datasource description must be a mapping, found {}",
                spec.type_name()
            ),
        ));
        return out;
    }
    check_fields(SCHEMA, spec, "", true, &mut out);
    if let Some(docs) = spec.get("documents").and_then(Value::as_map) {
        if docs.is_empty() {
            out.push(problem("documents", "names no document".into()));
        }
        for (k, v) in docs.iter() {
            check_fields(
                DOCUMENT,
                v,
                &format!("documents.{}", k.python_str()),
                true,
                &mut out,
            );
        }
    }
    if let Some(name) = spec.get("name").and_then(Value::as_str) {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            out.push(problem(
                "name",
                format!("{name:?}: letters, digits, '-' and '_' only"),
            ));
        } else if super::by_name(name).is_some()
            || super::registry::CLOUD_INIT_DATASOURCES.contains(&super::registry::bare_name(name))
        {
            out.push(problem(
                "name",
                format!("{name} is a built-in datasource's name"),
            ));
        }
    }
    for (i, url) in spec
        .get("service")
        .and_then(|s| s.get("urls"))
        .and_then(Value::as_seq)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let u = url.python_str();
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            out.push(problem(
                &format!("service.urls[{i}]"),
                format!("{u:?} is not an http:// URL"),
            ));
        }
    }
    if let Some(inst) = spec.get("instance").and_then(Value::as_map) {
        let docs = spec.get("documents").and_then(Value::as_map);
        for (k, v) in inst.iter() {
            let key = k.python_str();
            if let Some(d) = v.get("document").and_then(Value::as_str) {
                if !docs.is_some_and(|m| m.contains_key(d)) {
                    out.push(problem(
                        &format!("instance.{key}.document"),
                        format!("no document named {d}"),
                    ));
                }
            }
            if let Some(p) = v.get("pointer").and_then(Value::as_str) {
                if !p.is_empty() && !p.starts_with('/') {
                    out.push(problem(
                        &format!("instance.{key}.pointer"),
                        format!("{p:?} is not a JSON pointer (starts with /)"),
                    ));
                }
            }
        }
    }
    if let Some(dmi) = spec
        .get("detect")
        .and_then(|d| d.get("dmi"))
        .and_then(Value::as_map)
    {
        for (k, _) in dmi.iter() {
            let f = k.python_str();
            if !super::detect::DMI_FIELDS.contains(&f.as_str()) {
                out.push(problem(
                    &format!("detect.dmi.{f}"),
                    format!(
                        "not a DMI field ds-identify reads (one of {})",
                        super::detect::DMI_FIELDS.join(", ")
                    ),
                ));
            }
        }
    }
    out
}

fn problem(path: &str, message: String) -> Problem {
    Problem {
        path: path.to_string(),
        message,
        severity: Severity::Error,
    }
}

/// Every description under the root's [`DIR`], in name order, and the
/// problems of those refused.
pub fn load_all(fs: &dyn crate::rootfs::FsView) -> (Vec<Declared>, Vec<String>) {
    let mut names = fs.list_dir(Path::new(DIR)).unwrap_or_default();
    names.retain(|n| n.ends_with(".yaml") || n.ends_with(".yml"));
    names.sort();
    let mut problems = Vec::new();
    if names.len() > MAX_FILES {
        problems.push(format!(
            "{DIR}: {} descriptions; only the first {MAX_FILES} are read",
            names.len()
        ));
        names.truncate(MAX_FILES);
    }
    let mut out: Vec<Declared> = Vec::new();
    for n in names {
        let path = Path::new(DIR).join(&n);
        let shown = path.display().to_string();
        let text = match crate::rootfs::read_limited(fs, &path, MAX_FILE_BYTES) {
            Ok(Some(t)) => t,
            Ok(None) => continue,
            Err(e) => {
                problems.push(format!("{shown}: {e}"));
                continue;
            }
        };
        match Declared::parse(&shown, &text) {
            Ok(d) if out.iter().any(|o| o.info.name == d.info.name) => problems.push(format!(
                "{shown}: name: {} is already declared by another file; refused",
                d.info.name
            )),
            Ok(d) => out.push(d),
            Err(refused) => problems.extend(
                refused
                    .into_iter()
                    .map(|r| format!("{} (description refused)", r.0)),
            ),
        }
    }
    (out, problems)
}

/// A value by JSON pointer (`/a/0/b`, `~1` for `/`, `~0` for `~`); the
/// empty pointer is the whole document.
fn pointer_get<'a>(v: &'a Value, pointer: &str) -> Option<&'a Value> {
    if pointer.is_empty() {
        return Some(v);
    }
    let mut cur = v;
    for raw in pointer.strip_prefix('/')?.split('/') {
        let seg = raw.replace("~1", "/").replace("~0", "~");
        cur = match cur {
            Value::Seq(items) => items.get(seg.parse::<usize>().ok()?)?,
            Value::Map(m) => match m.get(&seg) {
                Some(v) => v,
                // A YAML key that is a number (`0: ...`).
                None => m
                    .iter()
                    .find(|(k, _)| k.python_str() == seg)
                    .map(|(_, v)| v)?,
            },
            _ => return None,
        };
    }
    Some(cur)
}

/// `base64`, `gzip`, or `gzip+base64` (base64 first, then gunzip).
fn decode(raw: &[u8], encoding: &str) -> Result<Vec<u8>, String> {
    let b64 = |d: &[u8]| {
        let text: Vec<u8> = d
            .iter()
            .copied()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        crate::base64::decode(&text).map_err(|e| format!("not base64: {e}"))
    };
    let gunzip = |d: &[u8]| {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(d)
            .take(MAX_DOCUMENT as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| format!("not gzip: {e}"))?;
        if out.len() > MAX_DOCUMENT {
            return Err(format!("more than {MAX_DOCUMENT} bytes once decompressed"));
        }
        Ok(out)
    };
    match encoding {
        "base64" => b64(raw),
        "gzip" => gunzip(raw),
        _ => gunzip(&b64(raw)?),
    }
}

/// `pattern` with `*` standing for any text (ds-identify's `case` globs).
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "name: MyCloud\nservice:\n  urls: [http://169.254.169.254/v1/]\ndocuments:\n  meta: {path: meta.json}\ninstance:\n  instance_id: {document: meta, pointer: /id}\n";

    #[test]
    fn a_good_description_parses() {
        let d = Declared::parse("my.yaml", GOOD.as_bytes()).unwrap();
        assert_eq!(d.info().name, "MyCloud");
        assert!(d.in_stage(Stage::Network));
        assert!(!d.in_stage(Stage::Local));
    }

    #[test]
    fn a_bad_description_names_file_key_and_line() {
        let bad = GOOD
            .replace("pointer: /id", "pointer: id")
            .replace("http://169", "ftp://169");
        let err =
            Declared::parse("/etc/cloudboot/datasources.d/my.yaml", bad.as_bytes()).unwrap_err();
        let text: Vec<&str> = err.iter().map(|r| r.0.as_str()).collect();
        assert!(
            text.contains(&"/etc/cloudboot/datasources.d/my.yaml, line 3, column 10: service.urls[0]: \"ftp://169.254.169.254/v1/\" is not an http:// URL"),
            "{text:#?}"
        );
        assert!(
            text.iter()
                .any(|t| t.contains("line 7") && t.contains("instance.instance_id.pointer")),
            "{text:#?}"
        );
        let builtin = GOOD.replace("MyCloud", "Hetzner");
        assert!(Declared::parse("x", builtin.as_bytes()).unwrap_err()[0]
            .0
            .contains("built-in"));
        let unknown = format!("{GOOD}colour: red\n");
        assert!(Declared::parse("x", unknown.as_bytes()).unwrap_err()[0]
            .0
            .contains("colour"));
    }

    #[test]
    fn pointers_and_encodings() {
        let v = crate::yaml::load(b"a: {b: [x, {c/d: y}]}\n", "t").unwrap();
        assert_eq!(
            pointer_get(&v, "/a/b/0").map(Value::python_str),
            Some("x".into())
        );
        assert_eq!(
            pointer_get(&v, "/a/b/1/c~1d").map(Value::python_str),
            Some("y".into())
        );
        assert!(pointer_get(&v, "/a/z").is_none());
        assert_eq!(decode(b"aGk=\n", "base64").unwrap(), b"hi");
        assert!(decode(b"abcde", "base64").is_err());
        assert!(decode(b"aGk=", "gzip+base64").is_err());
        assert!(glob("Google*", "Google Compute Engine"));
        assert!(glob("*Cloud*", "Open Cloud X"));
        assert!(!glob("Hetzner", "Hetzner Online"));
    }
}
