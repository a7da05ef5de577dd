//! Google Compute Engine (`sources/DataSourceGCE.py`): the metadata server
//! at `http://metadata.google.internal/computeMetadata/v1/`
//! (`datasource.GCE.metadata_url` replaces it), every request with
//! `Metadata-Flavor: Google`. `instance/id`, `instance/zone` and
//! `instance/hostname` are required; `instance/attributes/` and
//! `project/attributes/` (recursive, JSON) give the SSH keys and user-data.
//!
//! In the local stage it is 22.4's `DataSourceGCELocal`: the same read
//! inside [`ephemeral::bring_up`](super::ephemeral::bring_up).
//!
//! One departure: an answer without `Metadata-Flavor: Google` is refused
//! (22.4 only checks the status), so a server that is not Google's metadata
//! server cannot pass for it.

use serde_json::Value as J;

use super::service::{Bounds, Client, Miss, Waits};
use super::{Datasource, DatasourceInfo, Detect, DsContext, DsError, DsMode, Found, Instance};
use crate::schedule::Stage;
use crate::value::{Mapping, Value};

pub struct Gce;

const MD_V1_URL: &str = "http://metadata.google.internal/computeMetadata/v1/";
const FLAVOR: (&str, &str) = ("Metadata-Flavor", "Google");

static INFO: DatasourceInfo = DatasourceInfo {
    name: "GCE",
    aliases: &["GCELocal"],
    summary: "Google Compute Engine's metadata server (`Metadata-Flavor: Google`), in the local \
              stage as GCELocal; tried only where DMI says Google",
};

/// `platform_reports_gce`: the product name, or a serial number that
/// starts `GoogleCloud-` (the product name is not guaranteed).
fn platform_reports_gce(ctx: &DsContext) -> bool {
    let facts = &ctx.facts;
    matches!(
        facts.dmi("product_name"),
        Some("Google Compute Engine" | "Google")
    ) || facts
        .dmi("product_serial")
        .is_some_and(|s| s.starts_with("GoogleCloud-"))
}

/// The default user's name as 22.4's `normalize_users_groups` and
/// `extract_default` find it in the system config: there is one when `user`
/// is set or `users` lists `default`, named by `user` or else by
/// `system_info.default_user`. (The distro layer's own reading is out of
/// reach here: it depends on the datasources.)
pub(super) fn default_user_name(cfg: &Value) -> Option<String> {
    let old_name = match cfg.get("user") {
        Some(Value::Str(s)) if !s.is_empty() => Some(Some(s.clone())),
        Some(m @ Value::Map(map)) if !map.is_empty() => Some(m.get("name").map(Value::python_str)),
        _ => None,
    };
    let listed = match cfg.get("users") {
        Some(Value::Seq(items)) => items.iter().any(|u| match u {
            Value::Str(s) => s == "default",
            Value::Map(_) => u.get("name").and_then(Value::as_str) == Some("default"),
            _ => false,
        }),
        Some(Value::Str(s)) => s.split(',').any(|u| u.trim() == "default"),
        Some(Value::Map(m)) => m.get("default").is_some_and(Value::truthy),
        _ => false,
    };
    if old_name.is_none() && !listed {
        return None;
    }
    old_name.flatten().or_else(|| {
        cfg.get("system_info")
            .and_then(|s| s.get("default_user"))
            .and_then(|d| d.get("name"))
            .map(Value::python_str)
    })
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// `%Y-%m-%dT%H:%M:%S+0000` as seconds since the epoch.
fn parse_expire_on(s: &str) -> Option<i64> {
    let rest = s.strip_suffix("+0000")?;
    let (date, time) = rest.split_once('T')?;
    let num = |t: &str| t.parse::<i64>().ok();
    let d: Vec<i64> = date.split('-').map(num).collect::<Option<_>>()?;
    let t: Vec<i64> = time.split(':').map(num).collect::<Option<_>>()?;
    let (&[y, mo, da], &[h, mi, se]) = (&d[..], &t[..]) else {
        return None;
    };
    let valid = (1..=12).contains(&mo)
        && (1..=31).contains(&da)
        && (0..24).contains(&h)
        && (0..60).contains(&mi)
        && (0..=61).contains(&se);
    valid.then(|| days_from_civil(y, mo, da) * 86400 + h * 3600 + mi * 60 + se)
}

/// `_has_expired`: a key in Google's `google-ssh {"expireOn": ...}` form
/// whose time has passed. Any other form never expires.
fn has_expired(key: &str, now: i64) -> bool {
    // `key.split(None, 3)[2:]` must be exactly the schema and the JSON.
    let parts: Vec<&str> = key.trim_start().splitn(4, char::is_whitespace).collect();
    let [_, _, schema, json] = parts[..] else {
        return false;
    };
    if schema != "google-ssh" {
        return false;
    }
    let Ok(J::Object(obj)) = serde_json::from_str::<J>(json) else {
        return false;
    };
    match obj.get("expireOn").and_then(J::as_str).map(parse_expire_on) {
        Some(Some(at)) => now > at,
        _ => false,
    }
}

/// `_parse_public_keys`: `user:key` lines whose user is `cloudinit` or the
/// default user, ASCII only, not expired.
fn parse_public_keys(lines: &[String], default_user: Option<&str>, now: i64) -> Vec<String> {
    lines
        .iter()
        .filter(|l| !l.is_empty() && l.is_ascii())
        .filter_map(|l| l.split_once(':'))
        .filter(|(user, key)| {
            (*user == "cloudinit" || Some(*user) == default_user) && !has_expired(key, now)
        })
        .map(|(_, key)| key.to_string())
        .collect()
}

/// What `read_md` found.
struct Read {
    metadata: Mapping,
    public_keys_data: Vec<String>,
    user_data: Option<Vec<u8>>,
}

/// One value (`GoogleMetadataFetcher.get_value`): `Ok(None)` when the
/// server has nothing there (or does not answer); an answer that is not
/// Google's is an error.
fn get_value(client: &Client, path: &str) -> Result<Option<Vec<u8>>, DsError> {
    match client.request("GET", path, &[]) {
        Ok(r) if r.status == 200 => {
            if r.header(FLAVOR.0).map(str::trim) != Some(FLAVOR.1) {
                return Err(DsError::Service(format!(
                    "{}: the answer has no \"Metadata-Flavor: Google\" header: not Google's metadata server",
                    client.url(path)
                )));
            }
            Ok(Some(r.body))
        }
        Ok(r) => {
            tracing::debug!("GCE: {} returned code {}", client.url(path), r.status);
            Ok(None)
        }
        Err(Miss::NotFound) => Ok(None),
        Err(Miss::Failed(e)) => {
            tracing::debug!("GCE: {e}");
            Ok(None)
        }
    }
}

/// A recursive attributes document (a JSON object; absent means `{}`).
fn attributes(client: &Client, path: &str) -> Result<(Option<String>, J), DsError> {
    let Some(body) = get_value(client, &format!("{path}/?recursive=True"))? else {
        return Ok((None, J::Object(Default::default())));
    };
    let url = client.url(&format!("{path}/?recursive=True"));
    let text = String::from_utf8(body).map_err(|e| DsError::Json {
        file: url.clone(),
        error: e.to_string(),
    })?;
    let doc: J = serde_json::from_str(&text).map_err(|e| DsError::Json {
        file: url.clone(),
        error: e.to_string(),
    })?;
    if !doc.is_object() {
        return Err(DsError::NotAnObject(url));
    }
    Ok((Some(text), doc))
}

/// `read_md`, without the platform check (done by `detect`).
fn read_md(client: &Client) -> Result<Read, DsError> {
    let mut metadata = Mapping::new();
    for (key, path) in [
        ("instance-id", "instance/id"),
        ("availability-zone", "instance/zone"),
        ("local-hostname", "instance/hostname"),
    ] {
        let Some(value) = get_value(client, path)? else {
            return Err(DsError::Service(format!(
                "{}: required key {key} returned nothing. not GCE",
                client.url(path)
            )));
        };
        metadata.insert(
            Value::str(key),
            Value::str(String::from_utf8_lossy(&value).into_owned()),
        );
    }
    let (instance_text, instance_data) = attributes(client, "instance/attributes")?;
    let (project_text, project_data) = attributes(client, "project/attributes")?;
    let text = |d: &J, k: &str| d.get(k).and_then(J::as_str).map(str::to_string);
    let mut valid_keys = vec![
        text(&instance_data, "sshKeys"),
        text(&instance_data, "ssh-keys"),
    ];
    let block_project = text(&instance_data, "block-project-ssh-keys")
        .unwrap_or_default()
        .to_lowercase();
    if block_project != "true" && text(&instance_data, "sshKeys").is_none_or(|k| k.is_empty()) {
        valid_keys.push(text(&project_data, "ssh-keys"));
        valid_keys.push(text(&project_data, "sshKeys"));
    }
    let joined: Vec<String> = valid_keys
        .into_iter()
        .flatten()
        .filter(|k| !k.is_empty())
        .collect();
    let public_keys_data: Vec<String> = joined.join("\n").lines().map(str::to_string).collect();
    let zone = metadata
        .get("availability-zone")
        .map(Value::python_str)
        .unwrap_or_default();
    let zone = zone.rsplit('/').next().unwrap_or_default().to_string();
    metadata.insert(Value::str("availability-zone"), Value::str(zone));
    let user_data = match instance_data.get("user-data") {
        Some(J::String(ud)) => Some(
            match instance_data.get("user-data-encoding").and_then(J::as_str) {
                Some("base64") => crate::base64::decode(ud.as_bytes()).map_err(|e| {
                    DsError::Service(format!(
                        "{}: user-data (user-data-encoding base64): {e}",
                        client.url("instance/attributes/")
                    ))
                })?,
                Some(other) if !other.is_empty() => {
                    tracing::warn!("unknown user-data-encoding: {other}, ignoring");
                    ud.clone().into_bytes()
                }
                _ => ud.clone().into_bytes(),
            },
        ),
        Some(other) => {
            return Err(DsError::Service(format!(
                "{}: user-data is a JSON {}, not a string",
                client.url("instance/attributes/"),
                json_type(other)
            )))
        }
        None => None,
    };
    let opt = |t: Option<String>| t.map(Value::str).unwrap_or(Value::Null);
    metadata.insert(Value::str("instance-data"), opt(instance_text));
    metadata.insert(Value::str("project-data"), opt(project_text));
    metadata.insert(
        Value::str("public-keys-data"),
        Value::Seq(public_keys_data.iter().cloned().map(Value::str).collect()),
    );
    Ok(Read {
        metadata,
        public_keys_data,
        user_data,
    })
}

/// A JSON value's type, in words.
fn json_type(v: &J) -> &'static str {
    match v {
        J::Null => "null",
        J::Bool(_) => "boolean",
        J::Number(_) => "number",
        J::String(_) => "string",
        J::Array(_) => "array",
        J::Object(_) => "object",
    }
}

impl Datasource for Gce {
    fn info(&self) -> &'static DatasourceInfo {
        &INFO
    }

    /// ds-identify's `dscheck_GCE`.
    fn detect(&self, ctx: &DsContext) -> Detect {
        Detect::found_if(platform_reports_gce(ctx))
    }

    fn get(&self, ctx: &DsContext) -> Found {
        let ds_cfg = ctx.ds_cfg("GCE");
        let address = ds_cfg
            .get("metadata_url")
            .map(Value::python_str)
            .unwrap_or_else(|| MD_V1_URL.to_string());
        let local = ctx.stage == Stage::Local;
        let class_name = if local {
            "DataSourceGCELocal"
        } else {
            "DataSourceGCE"
        };
        let fail = |e: DsError| Found {
            instance: None,
            problems: vec![format!("{class_name} at {address}: {e}")],
        };
        // 22.4: 10 s per request, 5 retries a second apart; DMI said the
        // server is there. The whole search is bounded as well.
        let mut bounds = Bounds::from_cfg(
            &ds_cfg,
            Waits {
                timeout: 10.0,
                max_wait: 60.0,
            },
        );
        if ds_cfg.get("retries").is_none() {
            bounds.retries = 5;
        }
        let _net = match super::ephemeral::bring_up(ctx, &address) {
            Ok(net) => net,
            Err(e) => return fail(e),
        };
        let mut client = Client::new(
            &address,
            bounds.clone(),
            std::time::Instant::now() + bounds.max_wait,
        );
        client.with_header(FLAVOR.0, FLAVOR.1);
        let read = match read_md(&client) {
            Ok(read) => read,
            Err(e) => return fail(e),
        };
        let md = Value::Map(read.metadata.clone());
        let instance_id = md
            .get("instance-id")
            .map(Value::python_str)
            .unwrap_or_default();
        let zone = md
            .get("availability-zone")
            .map(Value::python_str)
            .unwrap_or_default();
        let region = zone
            .rsplit_once('-')
            .map_or(zone.clone(), |(r, _)| r.to_string());
        // GCE asks for short hostnames: `get_hostname` is the first label.
        let mut metadata = read.metadata;
        let short = md
            .get("local-hostname")
            .map(Value::python_str)
            .unwrap_or_default()
            .split('.')
            .next()
            .unwrap_or_default()
            .to_string();
        metadata.insert(Value::str("local-hostname"), Value::str(short));
        let default_user = default_user_name(ctx.cfg);
        let now = chrono::Utc::now().timestamp();
        Found {
            instance: Some(Instance {
                dsname: "GCE".into(),
                class_name: class_name.into(),
                description: class_name.into(),
                instance_id,
                dsmode: DsMode::Net,
                metadata: Value::Map(metadata),
                user_data_from: read
                    .user_data
                    .is_some()
                    .then(|| client.url("instance/attributes/user-data")),
                user_data: read.user_data,
                public_keys: parse_public_keys(
                    &read.public_keys_data,
                    default_user.as_deref(),
                    now,
                ),
                availability_zone: Some(zone),
                region: Some(region),
                cloud_name: "gce".into(),
                platform: "gce".into(),
                subplatform: format!("metadata ({address})"),
                ..Default::default()
            }),
            problems: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(t: &str) -> Value {
        crate::yaml::load(t.as_bytes(), "t").unwrap()
    }

    #[test]
    fn keys_for_cloudinit_and_the_default_user_that_have_not_expired() {
        let now = parse_expire_on("2024-01-01T00:00:00+0000").unwrap();
        let lines: Vec<String> = [
            "cloudinit:ssh-rsa A a",
            "debian:ssh-rsa B b",
            "other:ssh-rsa C c",
            "nocolon",
            "cloudinit:ssh-rsa D google-ssh {\"userName\":\"x\",\"expireOn\":\"2023-12-31T23:59:59+0000\"}",
            "cloudinit:ssh-rsa E google-ssh {\"userName\":\"x\",\"expireOn\":\"2024-01-01T00:00:01+0000\"}",
            "cloudinit:ssh-rsa F google-ssh {\"expireOn\":\"not a date\"}",
            "cloudinit:ssh-rsa Gé",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            parse_public_keys(&lines, Some("debian"), now),
            [
                "ssh-rsa A a",
                "ssh-rsa B b",
                "ssh-rsa E google-ssh {\"userName\":\"x\",\"expireOn\":\"2024-01-01T00:00:01+0000\"}",
                "ssh-rsa F google-ssh {\"expireOn\":\"not a date\"}",
            ]
        );
        assert_eq!(parse_public_keys(&lines, None, now).len(), 3);
    }

    #[test]
    fn the_epoch_and_a_leap_day() {
        assert_eq!(parse_expire_on("1970-01-01T00:00:00+0000"), Some(0));
        assert_eq!(
            parse_expire_on("2024-02-29T12:00:00+0000"),
            Some(1_709_208_000)
        );
        assert_eq!(parse_expire_on("2024-02-29T12:00:00Z"), None);
    }

    #[test]
    fn the_default_user_as_normalize_users_groups_finds_it() {
        let distro = "system_info: {default_user: {name: debian}}\n";
        assert_eq!(default_user_name(&yaml(distro)), None);
        assert_eq!(
            default_user_name(&yaml(&format!("{distro}users: [default]\n"))),
            Some("debian".into())
        );
        assert_eq!(
            default_user_name(&yaml(&format!("{distro}user: alice\n"))),
            Some("alice".into())
        );
        assert_eq!(
            default_user_name(&yaml(&format!("{distro}users: 'bob, default'\n"))),
            Some("debian".into())
        );
        assert_eq!(default_user_name(&yaml("users: [default]\n")), None);
    }
}
