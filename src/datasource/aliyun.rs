//! Alibaba Cloud ECS (`sources/DataSourceAliYun.py`): EC2's metadata API at
//! 100.100.100.200, API version 2016-01-01 only, without IMDSv2 tokens or
//! the identity document (22.4 asks for those on AWS alone). The hostname is
//! meta-data's `hostname` and the keys come from `public-keys` as AliYun's
//! own `parse_public_keys` reads them.
//!
//! 22.4 gives up unless DMI's product name is "Alibaba Cloud ECS"
//! (`_get_cloud_name` answers `no-ec2-metadata` otherwise), so without it
//! AliYun is not tried at all.

use serde_json::Value as J;

use super::ec2::read_meta_and_user_data;
use super::service::{metadata_urls, Bounds, Client, Miss, Waits};
use super::{
    BlockDevices, Datasource, DatasourceInfo, Detect, DsContext, DsError, DsMode, Found, Instance,
};
use crate::value::Value;

pub struct AliYun;

const PRODUCT_NAME: &str = "Alibaba Cloud ECS";
const METADATA_URL: &str = "http://100.100.100.200";
/// `min_metadata_version`; AliYun has no `extended_metadata_versions`.
const API_VERSION: &str = "2016-01-01";

static INFO: DatasourceInfo = DatasourceInfo {
    name: "AliYun",
    aliases: &[],
    summary: "Alibaba Cloud ECS: EC2's metadata API at 100.100.100.200 (version 2016-01-01); \
              tried only where DMI's product name says Alibaba Cloud ECS",
};

/// AliYun's `parse_public_keys`: each entry of `public-keys` is a key, a
/// list of keys, or a directory whose `openssh-key` is a key or a list.
fn parse_public_keys(public_keys: Option<&Value>) -> Vec<String> {
    let Some(entries) = public_keys.and_then(Value::as_map) else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    let mut add = |v: &Value| match v {
        Value::Str(s) => keys.push(s.trim().to_string()),
        Value::Seq(list) => keys.extend(list.iter().map(Value::python_str)),
        _ => {}
    };
    for (_id, body) in entries.iter() {
        match body {
            Value::Map(_) => {
                if let Some(k) = body.get("openssh-key") {
                    add(k);
                }
            }
            other => add(other),
        }
    }
    keys
}

impl AliYun {
    /// Reads the service at `base`; `Ok(None)` when nothing answers there.
    fn from_service(
        base: &str,
        bounds: &Bounds,
        discovery: std::time::Instant,
    ) -> Result<Option<Instance>, DsError> {
        let client = Client::new(base, bounds.clone(), discovery);
        // `wait_for_metadata_service` without a token: the instance-id path.
        match client.get(&format!("{API_VERSION}/meta-data/instance-id")) {
            Ok(_) => {}
            Err(Miss::NotFound) => return Ok(None),
            Err(Miss::Failed(e)) => {
                tracing::debug!("AliYun: {e}");
                return Ok(None);
            }
        }
        let (md_json, user_data) = read_meta_and_user_data(&client, API_VERSION)?;
        let md = Value::from_json(&md_json);
        let instance_id = md
            .get("instance-id")
            .map(Value::python_str)
            .ok_or(DsError::NoInstanceId)?;
        let mut metadata = md.as_map().cloned().unwrap_or_default();
        // `get_hostname` is meta-data's `hostname`; without it 22.4 has
        // only its default (localhost), which sets no hostname.
        match md.get("hostname") {
            Some(h) => metadata.insert(Value::str("local-hostname"), h.clone()),
            None => {
                metadata.remove("local-hostname");
            }
        }
        let az = md
            .get("placement")
            .and_then(|p| p.get("availability-zone"))
            .map(Value::python_str);
        // Ec2's `region` off AWS: the zone without its last letter.
        let region = az
            .as_ref()
            .filter(|a| !a.is_empty())
            .map(|a| a[..a.len() - 1].to_string());
        Ok(Some(Instance {
            dsname: "AliYun".into(),
            class_name: "DataSourceAliYun".into(),
            description: "DataSourceAliYun".into(),
            instance_id,
            dsmode: DsMode::Net,
            public_keys: parse_public_keys(md.get("public-keys")),
            metadata: Value::Map(metadata),
            user_data_from: user_data
                .is_some()
                .then(|| client.url(&format!("{API_VERSION}/user-data"))),
            user_data,
            availability_zone: az,
            region,
            ec2_metadata: Some(md_json).filter(J::is_object),
            cloud_name: "aliyun".into(),
            platform: "aliyun".into(),
            subplatform: format!("metadata ({base})"),
            ..Default::default()
        }))
    }
}

impl Datasource for AliYun {
    fn info(&self) -> &'static DatasourceInfo {
        &INFO
    }

    /// Ec2's `device_name_to_device`: meta-data's `block-device-mapping`.
    fn block_devices(&self, instance: &Instance) -> BlockDevices {
        BlockDevices::from_ec2_metadata(instance.metadata.get("block-device-mapping"))
    }

    /// ds-identify's `dscheck_AliYun` (its seed-directory case aside: 22.4's
    /// datasource itself still gives up without the product name).
    fn detect(&self, ctx: &DsContext) -> Detect {
        Detect::found_if(ctx.facts.dmi("product_name") == Some(PRODUCT_NAME))
    }

    fn get(&self, ctx: &DsContext) -> Found {
        let ds_cfg = ctx.ds_cfg("AliYun");
        // Ec2's `url_timeout` 50 and `url_max_wait` 120: DMI said the
        // service is there.
        let bounds = Bounds::from_cfg(
            &ds_cfg,
            Waits {
                timeout: 50.0,
                max_wait: 120.0,
            },
        );
        let discovery = std::time::Instant::now() + bounds.max_wait;
        let mut problems = Vec::new();
        for base in metadata_urls(&ds_cfg, &[METADATA_URL]) {
            match Self::from_service(&base, &bounds, discovery) {
                Ok(Some(instance)) => {
                    return Found {
                        instance: Some(instance),
                        problems,
                    }
                }
                Ok(None) => tracing::debug!("AliYun: no metadata service at {base}"),
                Err(e) => problems.push(format!("AliYun metadata at {base}: {e}")),
            }
        }
        Found {
            instance: None,
            problems,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_keys_as_aliyun_parses_them() {
        let md = crate::yaml::load(
            b"public-keys:\n  a: ' ssh-rsa A '\n  b: [ssh-rsa B1, ssh-rsa B2]\n  c: {openssh-key: ssh-rsa C}\n  d: {openssh-key: [ssh-rsa D]}\n  e: 5\n",
            "t",
        )
        .unwrap();
        assert_eq!(
            parse_public_keys(md.get("public-keys")),
            [
                "ssh-rsa A",
                "ssh-rsa B1",
                "ssh-rsa B2",
                "ssh-rsa C",
                "ssh-rsa D"
            ]
        );
        assert!(parse_public_keys(None).is_empty());
    }
}
