//! Exoscale (`sources/DataSourceExoscale.py`): EC2-style metadata at
//! 169.254.169.254, API version 1.0 (`datasource.Exoscale.metadata_url`,
//! `api_version`), and the password server on port 8080
//! (`password_server_port`): asked with `DomU_Request: send_my_password`,
//! and a password it gives is acknowledged with `DomU_Request:
//! saved_password`. The password reaches set_passwords as 22.4 puts it,
//! in the datasource's config (`password`, `chpasswd.expire: false`,
//! `ssh_pwauth: true`); it is never logged.
//!
//! Not done: 22.4's `activate` clears set_passwords' semaphore on every
//! boot (so a password reset from the console and a reboot apply it); here
//! set_passwords keeps its own frequency.

use super::ec2::read_meta_and_user_data;
use super::service::{Bounds, Client, Miss, Waits};
use super::{Datasource, DatasourceInfo, Detect, DsContext, DsError, DsMode, Found, Instance};
use crate::value::{Mapping, Value};

pub struct Exoscale;

const METADATA_URL: &str = "http://169.254.169.254";
const API_VERSION: &str = "1.0";
const PASSWORD_SERVER_PORT: u16 = 8080;

static INFO: DatasourceInfo = DatasourceInfo {
    name: "Exoscale",
    aliases: &[],
    summary: "Exoscale: EC2-style metadata (1.0) at 169.254.169.254 and the password server on \
              port 8080; tried only where DMI's product name starts with Exoscale",
};

/// How a CloudStack-style password server's answer to
/// `send_my_password` is read: whether it is stripped first (CloudStack
/// reads it through wget and strips it; Exoscale does not), which answers
/// mean no password, which ones are a refusal.
pub(super) struct PasswordAnswers<'a> {
    pub strip: bool,
    pub nothing: &'a [&'a str],
    pub refused: &'a [&'a str],
}

/// Asks a CloudStack-style password server (`DomU_Request:
/// send_my_password`) at `path` and acknowledges a password it gives
/// (`DomU_Request: saved_password`), so it is handed out once. `Ok(None)`:
/// no password to set. The password is never put in a message.
pub(super) fn ask_password_server(
    client: &Client,
    path: &str,
    answers: &PasswordAnswers,
) -> Result<Option<String>, DsError> {
    let ask = |request: &str| match client.request("GET", path, &[("DomU_Request", request)]) {
        Ok(r) if r.ok() => Ok(r.body),
        Ok(r) => Err(DsError::HttpStatus {
            url: client.url(path),
            status: r.status,
        }),
        Err(Miss::NotFound) => Err(DsError::HttpStatus {
            url: client.url(path),
            status: 404,
        }),
        Err(Miss::Failed(e)) => Err(DsError::Service(e)),
    };
    let body = ask("send_my_password")?;
    let mut password = String::from_utf8(body).map_err(|_| {
        DsError::Service(format!(
            "{}: the password server's answer is not UTF-8",
            client.url(path)
        ))
    })?;
    if answers.strip {
        password = password.trim().to_string();
    }
    if answers.nothing.contains(&password.as_str()) {
        return Ok(None);
    }
    if answers.refused.contains(&password.as_str()) {
        return Err(DsError::Service(format!(
            "{}: the password server answered {password:?}: Error when attempting to fetch root password.",
            client.url(path)
        )));
    }
    ask("saved_password")?;
    Ok(Some(password))
}

/// The config a password server's password becomes (22.4's
/// `password_config`, Exoscale's and CloudStack's alike).
pub(super) fn password_config(password: String) -> Value {
    let mut chpasswd = Mapping::new();
    chpasswd.insert(Value::str("expire"), Value::Bool(false));
    let mut cfg = Mapping::new();
    cfg.insert(Value::str("ssh_pwauth"), Value::Bool(true));
    cfg.insert(Value::str("password"), Value::str(password));
    cfg.insert(Value::str("chpasswd"), Value::Map(chpasswd));
    Value::Map(cfg)
}

impl Exoscale {
    fn read(ctx: &DsContext) -> Result<Option<Instance>, DsError> {
        let ds_cfg = ctx.ds_cfg("Exoscale");
        let setting = |key: &str, default: &str| {
            ds_cfg
                .get(key)
                .map(Value::python_str)
                .unwrap_or_else(|| default.to_string())
        };
        let metadata_url = setting("metadata_url", METADATA_URL);
        let api_version = setting("api_version", API_VERSION);
        let port = setting("password_server_port", &PASSWORD_SERVER_PORT.to_string());
        // 22.4: `url_max_wait` 120, 10 s per request, 6 retries.
        let mut bounds = Bounds::from_cfg(
            &ds_cfg,
            Waits {
                timeout: 10.0,
                max_wait: 120.0,
            },
        );
        if ds_cfg.get("retries").is_none() {
            bounds.retries = 6;
        }
        let deadline = std::time::Instant::now() + bounds.max_wait;
        let client = Client::new(&metadata_url, bounds.clone(), deadline);
        match client.get(&format!("{api_version}/meta-data/instance-id")) {
            Ok(_) => {}
            Err(Miss::NotFound) => return Ok(None),
            Err(Miss::Failed(e)) => {
                tracing::debug!("Exoscale: {e}");
                return Ok(None);
            }
        }
        let (md_json, user_data) = read_meta_and_user_data(&client, &api_version)?;
        let md = Value::from_json(&md_json);
        let instance_id = md
            .get("instance-id")
            .map(Value::python_str)
            .ok_or(DsError::NoInstanceId)?;
        // `{metadata_url}:{port}/{api_version}/`, as 22.4 builds it.
        let password_base = format!("{}:{port}", metadata_url.trim_end_matches('/'));
        let password_client = Client::new(
            &password_base,
            bounds,
            std::time::Instant::now() + std::time::Duration::from_secs(60),
        );
        // Exoscale's server has no `bad_request` answer (22.4's note).
        let answers = PasswordAnswers {
            strip: false,
            nothing: &["", "saved_password"],
            refused: &[],
        };
        let config = match ask_password_server(
            &password_client,
            &format!("{api_version}/"),
            &answers,
        ) {
            Ok(Some(p)) => Some(password_config(p)),
            Ok(None) => None,
            Err(e) => {
                // As 22.4: logged, and the instance is still found.
                tracing::warn!("failed to read from password server url {password_base}: {e}");
                None
            }
        };
        Ok(Some(Instance {
            dsname: "Exoscale".into(),
            class_name: "DataSourceExoscale".into(),
            description: "DataSourceExoscale".into(),
            instance_id,
            dsmode: DsMode::Net,
            public_keys: super::configdrive::normalize_pubkeys(md.get("public-keys")),
            availability_zone: md
                .get("availability-zone")
                .or_else(|| md.get("availability_zone"))
                .map(Value::python_str),
            region: md.get("region").map(Value::python_str),
            user_data_from: user_data
                .is_some()
                .then(|| client.url(&format!("{api_version}/user-data"))),
            user_data,
            metadata: md,
            config,
            cloud_name: "exoscale".into(),
            platform: "exoscale".into(),
            // 22.4 keeps the URL as `metadata_url`, not `metadata_address`.
            subplatform: "unknown".into(),
            ..Default::default()
        }))
    }
}

impl Datasource for Exoscale {
    fn info(&self) -> &'static DatasourceInfo {
        &INFO
    }

    /// ds-identify's `dscheck_Exoscale` (and `_is_platform_viable`).
    fn detect(&self, ctx: &DsContext) -> Detect {
        Detect::found_if(
            ctx.facts
                .dmi("product_name")
                .is_some_and(|p| p.starts_with("Exoscale")),
        )
    }

    fn get(&self, ctx: &DsContext) -> Found {
        match Self::read(ctx) {
            Ok(instance) => Found {
                instance,
                problems: Vec::new(),
            },
            Err(e) => Found {
                instance: None,
                problems: vec![format!("Exoscale metadata: {e}")],
            },
        }
    }
}
