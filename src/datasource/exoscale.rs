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
use super::password_server::{ask_password_server, password_config, PasswordAnswers};
use super::service::{Bounds, Client, Miss, Waits};
use super::{Datasource, DatasourceInfo, Detect, DsContext, DsError, DsMode, Found, Instance};
use crate::value::Value;

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
            ctx.planning,
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
        Found::from_read("Exoscale metadata", Self::read(ctx))
    }
}
