//! MAAS (`sources/DataSourceMAAS.py`): a seed directory
//! (`/var/lib/cloud/seed/maas`), else the metadata service at
//! `datasource.MAAS.metadata_url`, every request signed with OAuth 1.0
//! PLAINTEXT (`consumer_key`, `token_key`, `token_secret`,
//! `consumer_secret`), as 22.4's `url_helper.oauth_headers` signs it.
//!
//! Both hold `meta-data/instance-id`, `meta-data/local-hostname` (both
//! required), `meta-data/public-keys`, `meta-data/vendor-data` (YAML) and
//! `user-data`; the service under the API version `2012-03-01`, which is
//! first polled (`<url>/2012-03-01/meta-data/instance-id`) within
//! `max_wait`.
//!
//! Found, as ds-identify's `dscheck_MAAS`, where the config has a
//! `datasource.MAAS` section (MAAS writes one for an installed system) or
//! the command line is MAAS's ephemeral iSCSI boot; cloudboot also takes
//! a non-empty seed directory as the sign.
//!
//! Not done: the clock-skew file (`/run/oauth_skew.json`) 22.4 keeps from a
//! 401/403's `Date` header to correct later timestamps, and
//! `check_instance_id` (the OAuth tokens' hash; MAAS is a network-stage
//! datasource, where the cache is not confirmed by it).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::configdrive::{convert_vendordata, normalize_pubkeys};
use super::service::{Bounds, Client, Miss, Waits};
use super::{Datasource, DatasourceInfo, Detect, DsContext, Found, Instance};
use crate::value::{Mapping, Value};

pub struct Maas;

const MD_VERSION: &str = "2012-03-01";
/// MAAS's ephemeral environment boots from iSCSI with this target name.
const MAAS_IQN: &str = "iqn.2004-05.com.ubuntu:maas";

/// `DS_FIELDS`: where each item is read, where it goes (`meta-data/x` in
/// the meta-data, else top level), and whether it is optional.
const DS_FIELDS: [(&str, &str, bool); 5] = [
    ("meta-data/instance-id", "meta-data/instance-id", false),
    (
        "meta-data/local-hostname",
        "meta-data/local-hostname",
        false,
    ),
    ("meta-data/public-keys", "meta-data/public-keys", true),
    ("meta-data/vendor-data", "vendor-data", true),
    ("user-data", "user-data", true),
];

/// OAuth 1.0 credentials (`get_oauth_helper`): all three of consumer key,
/// token key and token secret, or none (then requests are not signed).
#[derive(Debug, PartialEq)]
pub struct OAuth {
    pub consumer_key: String,
    pub token_key: String,
    pub token_secret: String,
    pub consumer_secret: String,
}

impl OAuth {
    /// From `datasource.MAAS`; `Err` when only some are set (22.4's
    /// `OauthUrlHelper` refuses that too).
    pub fn from_cfg(ds_cfg: &Value) -> Result<Option<OAuth>, String> {
        let get = |k: &str| ds_cfg.get(k).filter(|v| v.truthy()).map(Value::python_str);
        let (ck, tk, ts) = (get("consumer_key"), get("token_key"), get("token_secret"));
        match (ck, tk, ts) {
            (None, None, None) => Ok(None),
            (Some(consumer_key), Some(token_key), Some(token_secret)) => Ok(Some(OAuth {
                consumer_key,
                token_key,
                token_secret,
                consumer_secret: get("consumer_secret").unwrap_or_default(),
            })),
            _ => Err("all or none of token_key, token_secret, or consumer_key can be set".into()),
        }
    }

    /// The `Authorization` header oauthlib builds for a PLAINTEXT
    /// signature: parameters in its order, each value percent-encoded, the
    /// signature (`escape(consumer_secret)&escape(token_secret)`) encoded
    /// once more.
    pub fn header(&self, timestamp: u64, nonce: &str) -> String {
        let signature = format!(
            "{}&{}",
            escape(&self.consumer_secret),
            escape(&self.token_secret)
        );
        format!(
            "OAuth oauth_nonce=\"{}\", oauth_timestamp=\"{timestamp}\", oauth_version=\"1.0\", \
             oauth_signature_method=\"PLAINTEXT\", oauth_consumer_key=\"{}\", \
             oauth_token=\"{}\", oauth_signature=\"{}\"",
            escape(nonce),
            escape(&self.consumer_key),
            escape(&self.token_key),
            escape(&signature)
        )
    }

    /// A header for now, with a fresh nonce (oauthlib's shape: a number,
    /// then the timestamp). oauthlib draws the number from a plain PRNG; a
    /// nonce needs to be unique, not secret: the clock's nanoseconds, the
    /// pid and a per-run counter.
    fn header_now(&self) -> String {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let now = since.as_secs();
        let unique = u64::from(since.subsec_nanos())
            ^ (u64::from(std::process::id()) << 32)
            ^ COUNTER.fetch_add(1, Ordering::Relaxed).rotate_left(48);
        self.header(now, &format!("{unique}{now}"))
    }
}

/// oauthlib's `escape`: percent-encoding of all but RFC 3986's unreserved
/// characters.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What `check_seed_contents` gives: user-data, meta-data, vendor-data.
struct SeedData {
    user_data: Option<Vec<u8>>,
    metadata: Value,
    vendor_data: Option<Value>,
}

/// Why a seed gave nothing.
enum SeedMiss {
    /// No item at all (`MAASSeedDirNone`).
    None,
    /// Broken (`MAASSeedDirMalformed`, a failed request), in words.
    Malformed(String),
}

/// `read_maas_seed_url` over `read` (`Ok(None)`: 404 or no such file) and
/// `check_seed_contents`. `seed` names the seed in messages.
fn read_seed(
    seed: &str,
    read: impl Fn(&str) -> Result<Option<Vec<u8>>, String>,
) -> Result<SeedData, SeedMiss> {
    let mut metadata = Mapping::new();
    let mut user_data = None;
    let mut vendor_raw = None;
    let mut missing = Vec::new();
    let mut any = false;
    for (path, dest, optional) in DS_FIELDS {
        let Some(bytes) = read(path).map_err(SeedMiss::Malformed)? else {
            if !optional {
                missing.push(path);
            }
            continue;
        };
        any = true;
        match dest.strip_prefix("meta-data/") {
            // Text items are decoded as 22.4's `decode_binary` does.
            Some(key) => {
                metadata.insert(
                    Value::str(key),
                    Value::str(String::from_utf8_lossy(&bytes).into_owned()),
                );
            }
            None if dest == "user-data" => user_data = Some(bytes),
            None => vendor_raw = Some(bytes),
        }
    }
    if !any {
        return Err(SeedMiss::None);
    }
    if !missing.is_empty() {
        return Err(SeedMiss::Malformed(format!(
            "{seed}: missing files {missing:?}"
        )));
    }
    let vendor_data = match vendor_raw.filter(|v| !v.is_empty()) {
        Some(raw) => Some(
            crate::yaml::load(&raw, &format!("{seed} vendor-data")).map_err(|e| {
                SeedMiss::Malformed(format!("vendor-data was not loadable as yaml: {e}"))
            })?,
        ),
        None => None,
    };
    Ok(SeedData {
        user_data,
        metadata: Value::Map(metadata),
        vendor_data,
    })
}

/// The instance of a seed read from `base` (the directory or the URL).
fn instance(base: &str, d: SeedData, problems: &mut Vec<String>) -> Instance {
    let vendor_data = match d
        .vendor_data
        .as_ref()
        .map(|v| convert_vendordata(&v.to_json()))
    {
        Some(Ok(v)) => v,
        Some(Err(e)) => {
            problems.push(format!("Invalid content in vendor-data ({base}): {e}"));
            None
        }
        None => None,
    };
    Instance {
        dsname: "MAAS".into(),
        class_name: "DataSourceMAAS".into(),
        description: format!("DataSourceMAAS [{base}]"),
        instance_id: d
            .metadata
            .get("instance-id")
            .map(Value::python_str)
            .unwrap_or_else(|| "iid-datasource".into()),
        public_keys: normalize_pubkeys(d.metadata.get("public-keys")),
        user_data_from: d.user_data.is_some().then(|| format!("{base}/user-data")),
        user_data: d.user_data,
        vendor_data_from: vendor_data
            .is_some()
            .then(|| format!("{base}/meta-data/vendor-data")),
        vendor_data,
        cloud_name: "maas".into(),
        platform: "maas".into(),
        // 22.4 says seed-dir for the service too.
        subplatform: format!("seed-dir ({base})"),
        metadata: d.metadata,
        ..Default::default()
    }
}

/// ds-identify's `dscheck_MAAS` (less its container check): MAAS's
/// ephemeral iSCSI boot on the command line, or a `datasource.MAAS`
/// section in the config (what its `check_config MAAS` looks for).
fn confirmed(ctx: &DsContext) -> bool {
    let cmdline = ctx.facts.cmdline();
    (cmdline.contains(MAAS_IQN) && cmdline.contains("cloud-config-url="))
        || !ctx.ds_cfg("MAAS").is_null()
}

fn seed_dir_has_files(ctx: &DsContext) -> bool {
    ctx.fs
        .list_dir(&ctx.paths.seed_dir("maas"))
        .is_ok_and(|l| !l.is_empty())
}

/// Reads the service at `url`, every request signed.
fn read_service(
    url: &str,
    oauth: Option<&OAuth>,
    bounds: &Bounds,
    problems: &mut Vec<String>,
) -> Option<Instance> {
    let client = Client::new(url, bounds.clone(), Instant::now() + bounds.max_wait);
    let fetch = |path: &str| -> Result<Option<Vec<u8>>, String> {
        let auth = oauth.map(OAuth::header_now);
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| vec![("Authorization", a)])
            .unwrap_or_default();
        match client.request("GET", &format!("{MD_VERSION}/{path}"), &headers) {
            Ok(r) if r.ok() => Ok(Some(r.body)),
            Ok(r) if r.status == 404 => Ok(None),
            Ok(r) => Err(format!(
                "{}: HTTP {}",
                client.url(&format!("{MD_VERSION}/{path}")),
                r.status
            )),
            Err(Miss::NotFound) => Ok(None),
            Err(Miss::Failed(e)) => Err(e),
        }
    };
    // `wait_for_metadata_service`: the instance-id answers, within max_wait.
    match fetch("meta-data/instance-id") {
        Ok(Some(_)) => tracing::debug!("Using metadata source: '{url}'"),
        Ok(None) => {
            problems.push(format!(
                "MAAS: {url}/{MD_VERSION}/meta-data/instance-id: HTTP 404"
            ));
            return None;
        }
        Err(e) => {
            problems.push(format!("MAAS: giving up on {url}: {e}"));
            return None;
        }
    }
    match read_seed(url, fetch) {
        Ok(d) => Some(instance(url, d, problems)),
        Err(SeedMiss::None) => {
            problems.push(format!("MAAS: {url}: no data files found"));
            None
        }
        Err(SeedMiss::Malformed(e)) => {
            problems.push(format!(
                "MAAS: Failed fetching metadata from url {url}: {e}"
            ));
            None
        }
    }
}

static INFO: DatasourceInfo = DatasourceInfo {
    name: "MAAS",
    aliases: &[],
    summary: "MAAS: the seed directory `/var/lib/cloud/seed/maas`, else `datasource.MAAS.\
              metadata_url` (API 2012-03-01), requests signed with OAuth 1.0 PLAINTEXT",
};

impl Datasource for Maas {
    fn info(&self) -> &'static DatasourceInfo {
        &INFO
    }

    fn detect(&self, ctx: &DsContext) -> Detect {
        Detect::found_if(confirmed(ctx) || seed_dir_has_files(ctx))
    }

    fn get(&self, ctx: &DsContext) -> Found {
        let mut problems = Vec::new();
        let seed = ctx.paths.seed_dir("maas");
        if seed_dir_has_files(ctx) {
            let base = seed.display().to_string();
            let read = |rel: &str| {
                let src = super::source::DirSource {
                    fs: ctx.fs,
                    base: seed.clone(),
                };
                super::source::SeedSource::read(&src, rel).map_err(|e| e.to_string())
            };
            match read_seed(&base, read) {
                Ok(d) => {
                    let instance = instance(&base, d, &mut problems);
                    return Found {
                        instance: Some(instance),
                        problems,
                    };
                }
                Err(SeedMiss::None) => {}
                Err(SeedMiss::Malformed(e)) => {
                    problems.push(format!("MAAS: {base} was malformed: {e}"));
                    return Found {
                        instance: None,
                        problems,
                    };
                }
            }
        }
        let ds_cfg = ctx.ds_cfg("MAAS");
        let Some(url) = ds_cfg
            .get("metadata_url")
            .filter(|u| u.truthy())
            .map(Value::python_str)
        else {
            return Found {
                instance: None,
                problems,
            };
        };
        let url = url.trim_end_matches('/').to_string();
        let oauth = match OAuth::from_cfg(&ds_cfg) {
            Ok(o) => o,
            Err(e) => {
                problems.push(format!("MAAS: datasource.MAAS: {e}"));
                return Found {
                    instance: None,
                    problems,
                };
            }
        };
        // 22.4 waits up to 120 s, 50 s a request, where MAAS configured the
        // node; `max_wait: 0` means do not look.
        let waits = if confirmed(ctx) {
            Waits {
                timeout: 50.0,
                max_wait: 120.0,
            }
        } else {
            Waits::UNCONFIRMED
        };
        let bounds = Bounds::from_cfg(&ds_cfg, waits);
        if bounds.max_wait.is_zero() {
            return Found {
                instance: None,
                problems,
            };
        }
        let instance = read_service(&url, oauth.as_ref(), &bounds, &mut problems);
        Found { instance, problems }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The headers 22.4's `oauth_headers` built for the fixture's cases
    /// (`tests/fixtures/datasources/maas/make.sh`).
    #[test]
    fn oauth_headers_as_22_4_builds_them() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/datasources/maas/oauth.json"
        );
        let cases: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        for case in cases.as_array().unwrap() {
            let s = |k: &str| case[k].as_str().unwrap().to_string();
            let oauth = OAuth {
                consumer_key: s("consumer_key"),
                token_key: s("token_key"),
                token_secret: s("token_secret"),
                consumer_secret: s("consumer_secret"),
            };
            assert_eq!(
                oauth.header(case["timestamp"].as_u64().unwrap(), &s("nonce")),
                s("authorization")
            );
        }
    }

    #[test]
    fn all_or_none_of_the_keys() {
        let cfg = |t: &str| crate::yaml::load(t.as_bytes(), "t").unwrap();
        assert_eq!(OAuth::from_cfg(&cfg("{metadata_url: x}")), Ok(None));
        assert!(OAuth::from_cfg(&cfg("{consumer_key: a, token_key: b}")).is_err());
    }
}
