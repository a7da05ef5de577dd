//! The OpenStack metadata service (`sources/DataSourceOpenStack.py`): the
//! config drive's tree served over HTTP (`<base>/openstack/<version>/...`),
//! so the same reader serves both. Tried only where DMI says OpenStack (as
//! cloud-init's `detect_openstack`), at `datasource.OpenStack.metadata_urls`
//! (default `http://169.254.169.254`), within [`Bounds`] (cloud-init's
//! request timeout, 10 s: DMI already said the service is there).
//!
//! In the local stage this is 22.4's `DataSourceOpenStackLocal`: the same
//! reading over an ephemeral DHCP network (`ephemeral::bring_up_dhcp`).

use super::configdrive::{instance_from, read_v2, Flavor};
use super::ephemeral;
use super::service::{
    instance_id_matches_dmi, metadata_urls, Bounds, Client, ServiceSource, Waits,
};
use super::{BlockDevices, Datasource, DatasourceInfo, Detect, DsContext, Found, Instance};
use crate::schedule::Stage;

pub struct OpenStack;

const DMI_PRODUCTS: &[&str] = &["OpenStack Nova", "OpenStack Compute"];
const DMI_ASSET_TAGS: &[&str] = &[
    "OpenStack Nova",
    "OpenStack Compute",
    "HUAWEICLOUD",
    "OpenTelekomCloud",
    "SAP CCloud VM",
];

/// `detect_openstack`, from DMI under the root.
pub fn detected(ctx: &DsContext) -> bool {
    let facts = &ctx.facts;
    facts
        .dmi("product_name")
        .is_some_and(|p| DMI_PRODUCTS.contains(&p))
        || facts
            .dmi("chassis_asset_tag")
            .is_some_and(|t| DMI_ASSET_TAGS.contains(&t))
}

/// In the local stage the instance is `DataSourceOpenStackLocal`'s (its
/// class name, and `str(ds)` with it).
fn local_class(ctx: &DsContext, mut instance: Instance) -> Instance {
    if ctx.stage == Stage::Local {
        instance.class_name = "DataSourceOpenStackLocal".into();
        if let Some(rest) = instance.description.strip_prefix("DataSourceOpenStack") {
            instance.description = format!("DataSourceOpenStackLocal{rest}");
        }
    }
    instance
}

static INFO: DatasourceInfo = DatasourceInfo {
    name: "OpenStack",
    aliases: &[],
    summary: "the OpenStack metadata service: the config drive's tree over HTTP, its EC2 API as \
              fallback; tried only where DMI says OpenStack, every request bounded, with an \
              overall `max_wait`; in the local stage `OpenStackLocal`, over ephemeral DHCP",
};

impl Datasource for OpenStack {
    fn info(&self) -> &'static DatasourceInfo {
        &INFO
    }

    /// As a config drive's (`SourceMixin`), also when the service answered
    /// with its EC2 API.
    fn block_devices(&self, instance: &Instance) -> BlockDevices {
        BlockDevices::from_openstack_ec2_metadata(instance.ec2_metadata.as_ref())
    }

    fn detect(&self, ctx: &DsContext) -> Detect {
        Detect::found_if(detected(ctx))
    }

    fn get(&self, ctx: &DsContext) -> Found {
        let mut problems = Vec::new();
        let ds_cfg = ctx.ds_cfg("OpenStack");
        // DMI said OpenStack: cloud-init's `url_timeout` 10, and its
        // `url_max_wait` -1 (no waiting: each URL tried once) as a window
        // of one such request.
        let bounds = Bounds::from_cfg(
            &ds_cfg,
            Waits {
                timeout: 10.0,
                max_wait: 10.0,
            },
        );
        let urls = metadata_urls(&ds_cfg, &["http://169.254.169.254"]);
        // OpenStackLocal (`perform_dhcp_setup`): in the local stage the
        // service is read over an ephemeral DHCP network; without a lease
        // the datasource is not found in this stage (22.4 logs and returns
        // False).
        let _network = match ephemeral::bring_up_dhcp(ctx) {
            Ok(net) => net,
            Err(e) => {
                tracing::debug!("OpenStackLocal: {e}");
                return Found {
                    instance: None,
                    problems,
                };
            }
        };
        let discovery = std::time::Instant::now() + bounds.max_wait;
        for base in urls {
            let client = Client::new(&base, bounds.clone(), discovery);
            let src = ServiceSource { client: &client };
            match read_v2(&src) {
                Ok(Some(d)) => match instance_from(&src, d, ctx, Flavor::Service) {
                    Ok(Some(instance)) => {
                        return Found {
                            instance: Some(local_class(ctx, instance)),
                            problems,
                        }
                    }
                    Ok(None) => tracing::debug!("OpenStack at {base}: dsmode disabled"),
                    Err(e) => problems.push(format!("OpenStack metadata at {base}: {e}")),
                },
                // No OpenStack tree: the service may still speak EC2's API
                // (nova's EC2 compatibility), as cloud-init also reads.
                Ok(None) => match super::ec2::Ec2::from_service(
                    &base,
                    &bounds,
                    // The service answered; its EC2 API gets a fresh budget.
                    std::time::Instant::now() + bounds.max_wait,
                    "openstack",
                ) {
                    Ok(Some(mut instance)) => {
                        instance.dsname = "OpenStack".into();
                        instance.class_name = "DataSourceOpenStack".into();
                        instance.description = "DataSourceOpenStack [net,ver=ec2]".into();
                        instance.platform = "openstack".into();
                        return Found {
                            instance: Some(local_class(ctx, instance)),
                            problems,
                        };
                    }
                    Ok(None) => problems.push(format!(
                        "OpenStack metadata at {base}: neither openstack/<version>/meta_data.json nor EC2 meta-data"
                    )),
                    Err(e) => problems.push(format!("OpenStack metadata at {base} (EC2 API): {e}")),
                },
                Err(e) => problems.push(format!("OpenStack metadata at {base}: {e}")),
            }
        }
        Found {
            instance: None,
            problems,
        }
    }

    fn check_instance_id(&self, ctx: &DsContext, cached_iid: &str) -> bool {
        instance_id_matches_dmi(&ctx.facts, "product_uuid", cached_iid)
    }
}
