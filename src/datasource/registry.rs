//! The datasource registry: every datasource cloudboot has, one line each.
//!
//! # To add a datasource
//!
//! 1. Write `src/datasource/<name>.rs`: a unit struct that implements
//!    [`Datasource`], with a `static INFO: DatasourceInfo` (its
//!    `datasource_list` name, other names, a one-line summary). Fill every
//!    [`Instance`](super::Instance) field it knows; if its metadata names
//!    block devices, say how in [`Datasource::block_devices`].
//! 2. Add one line, `<name>::<Struct>,`, to the `registry!` list below, at
//!    its place in cloud-init's `datasource_list` order
//!    ([`CLOUD_INIT_DATASOURCES`]). That line declares the file as a module
//!    of `datasource`, registers it for lookup by name, and adds it to the
//!    builtin `datasource_list` (`config.rs`), which is this list's order.
//! 3. Name it in the stages of `stages.yaml` that may search it (sources
//!    on disk in `local`, network sources in `network`).
//! 4. Run `scripts/readme-lists.sh` so the README's datasource table lists it.
//!
//! `tests/registry.rs` fails when a registered datasource is searched in no
//! stage, when stages.yaml names one cloudboot lacks, when two answer to one
//! name, or when the order is not cloud-init's.

use super::Datasource;

/// The list, one line per datasource (`file::Type`), in cloud-init's
/// `datasource_list` order. It is handed to `$then`, a macro that makes
/// something of it: `datasource/mod.rs` declares the files, [`all`] lists
/// the datasources.
macro_rules! registry {
    ($then:ident) => {
        $then! {
            nocloud::NoCloud,
            configdrive::ConfigDrive,
            lxd::Lxd,
            opennebula::OpenNebula,
            digitalocean::DigitalOcean,
            azure::Azure,
            altcloud::AltCloud,
            ovf::Ovf,
            maas::Maas,
            gce::Gce,
            openstack::OpenStack,
            aliyun::AliYun,
            vultr::Vultr,
            ec2::Ec2,
            cloudsigma::CloudSigma,
            cloudstack::CloudStack,
            smartos::SmartOs,
            bigstep::Bigstep,
            scaleway::Scaleway,
            hetzner::Hetzner,
            ibmcloud::IbmCloud,
            oracle::Oracle,
            exoscale::Exoscale,
            rbxcloud::RbxCloud,
            upcloud::UpCloud,
            vmware::VMware,
            nwcs::Nwcs,
            none::NoneSource,
        }
    };
}
pub(super) use registry;

/// What a datasource declares about itself.
#[derive(Debug)]
pub struct DatasourceInfo {
    /// Its `datasource_list` name (`NoCloud`); also `Instance::dsname`.
    pub name: &'static str,
    /// Other names `datasource_list` may use for it (`NoCloudNet`).
    pub aliases: &'static [&'static str],
    /// One line for the docs and the README.
    pub summary: &'static str,
}

/// Every datasource cloudboot has, in cloud-init's `datasource_list` order.
pub fn all() -> &'static [&'static dyn Datasource] {
    macro_rules! list {
        ($($file:ident::$source:ident,)*) => {
            &[$(&super::$file::$source),*]
        };
    }
    registry!(list)
}

/// The builtin `datasource_list`: every datasource, in the registry's order.
pub fn default_list() -> Vec<&'static str> {
    all().iter().map(|d| d.info().name).collect()
}

/// The datasource named `name` (its name or an alias, with or without
/// cloud-init's `DataSource` prefix), if cloudboot has it.
pub fn by_name(name: &str) -> Option<&'static dyn Datasource> {
    let bare = bare_name(name);
    all().iter().copied().find(|d| {
        let info = d.info();
        info.name == bare || info.aliases.contains(&bare)
    })
}

/// A `datasource_list` name without blanks or cloud-init's `DataSource`
/// class prefix.
pub fn bare_name(name: &str) -> &str {
    name.trim().trim_start_matches("DataSource")
}

/// The datasource names of cloud-init 22.4 (its built-in `datasource_list`),
/// to tell a datasource cloudboot does not have from a name nobody knows.
pub const CLOUD_INIT_DATASOURCES: [&str; 28] = [
    "NoCloud",
    "ConfigDrive",
    "LXD",
    "OpenNebula",
    "DigitalOcean",
    "Azure",
    "AltCloud",
    "OVF",
    "MAAS",
    "GCE",
    "OpenStack",
    "AliYun",
    "Vultr",
    "Ec2",
    "CloudSigma",
    "CloudStack",
    "SmartOS",
    "Bigstep",
    "Scaleway",
    "Hetzner",
    "IBMCloud",
    "Oracle",
    "Exoscale",
    "RbxCloud",
    "UpCloud",
    "VMware",
    "NWCS",
    "None",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_aliases_and_class_names_find_the_datasource() {
        for (asked, found) in [
            ("NoCloud", "NoCloud"),
            ("NoCloudNet", "NoCloud"),
            ("DataSourceNoCloud", "NoCloud"),
            (" ConfigDrive ", "ConfigDrive"),
            ("OpenStack", "OpenStack"),
            ("Ec2", "Ec2"),
            ("None", "None"),
            ("Azure", "Azure"),
            ("DataSourceAzure", "Azure"),
            ("IBMCloud", "IBMCloud"),
            ("RbxCloud", "RbxCloud"),
            ("MAAS", "MAAS"),
            ("Bigstep", "Bigstep"),
            ("CloudSigma", "CloudSigma"),
            ("SmartOS", "SmartOS"),
            ("Hetzner", "Hetzner"),
            ("Vultr", "Vultr"),
            ("UpCloud", "UpCloud"),
            ("UpCloudLocal", "UpCloud"),
            ("NWCS", "NWCS"),
            ("Scaleway", "Scaleway"),
            ("LXD", "LXD"),
            ("AliYun", "AliYun"),
            ("DataSourceAliYun", "AliYun"),
            ("GCE", "GCE"),
            ("GCELocal", "GCE"),
            ("DataSourceGCELocal", "GCE"),
            ("Oracle", "Oracle"),
            ("Exoscale", "Exoscale"),
            ("CloudStack", "CloudStack"),
            ("DigitalOcean", "DigitalOcean"),
            ("OpenNebula", "OpenNebula"),
            ("OpenNebulaNet", "OpenNebula"),
            ("DataSourceVMware", "VMware"),
            ("OVF", "OVF"),
            ("AltCloud", "AltCloud"),
            ("DataSourceOVFNet", "OVF"),
        ] {
            assert_eq!(
                by_name(asked).map(|d| d.info().name),
                Some(found),
                "{asked}"
            );
        }
        assert!(by_name("nocloud").is_none());
        assert!(by_name("Nowhere").is_none());
    }

    #[test]
    fn every_cloud_init_datasource_is_registered() {
        for name in CLOUD_INIT_DATASOURCES {
            assert!(
                by_name(name).is_some(),
                "cloud-init 22.4's {name} is not registered"
            );
        }
        assert_eq!(default_list(), CLOUD_INIT_DATASOURCES);
    }
}
