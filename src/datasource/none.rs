//! The fallback datasource (`sources/DataSourceNone.py`): always answers, with
//! instance-id `iid-datasource-none` and whatever `datasource.None.metadata`
//! and `datasource.None.userdata_raw` the system config gives. A cached None
//! is never confirmed in the local stage (cloud-init's base
//! `check_instance_id`), so a seed that appears later is found.

use super::{Datasource, DatasourceInfo, DsContext, DsMode, Found, Instance};
use crate::value::Value;

pub struct NoneSource;

static INFO: DatasourceInfo = DatasourceInfo {
    name: "None",
    aliases: &[],
    summary: "the fallback, always found: instance-id `iid-datasource-none` and what \
              `datasource.None` gives (`metadata`, `userdata_raw`)",
};

impl Datasource for NoneSource {
    fn info(&self) -> &'static DatasourceInfo {
        &INFO
    }

    fn get(&self, ctx: &DsContext) -> Found {
        let cfg = ctx.ds_cfg("None");
        let metadata = cfg
            .get("metadata")
            .filter(|m| m.as_map().is_some())
            .cloned()
            .unwrap_or_else(Value::empty_map);
        let user_data = cfg.get("userdata_raw").map(|u| match u {
            Value::Bytes(b) => b.clone(),
            v => v.python_str().into_bytes(),
        });
        Found {
            instance: Some(Instance {
                dsname: "None".into(),
                class_name: "DataSourceNone".into(),
                description: "DataSourceNone".into(),
                instance_id: metadata
                    .get("instance-id")
                    .map(Value::python_str)
                    .unwrap_or_else(|| "iid-datasource-none".into()),
                dsmode: DsMode::Net,
                metadata,
                user_data_from: user_data
                    .is_some()
                    .then(|| "datasource.None.userdata_raw".to_string()),
                user_data,
                cloud_name: "none".into(),
                platform: "none".into(),
                subplatform: "config".into(),
                disconnected: true,
                ..Default::default()
            }),
            problems: Vec::new(),
        }
    }
}
