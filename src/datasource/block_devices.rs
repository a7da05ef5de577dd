//! The block devices a datasource names (`ephemeral0`, `swap`, `root`,
//! `ebs0`, ...), as data on the [`Instance`](super::Instance): what
//! cloud-init's `device_name_to_device` method knows. The `mounts` module
//! resolves the names against the root's devices; it never asks which
//! datasource it was.

use crate::value::Value;

/// The names a datasource gives block devices, and how a name is looked up.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BlockDevices {
    /// Name → device (`sdb`, `/dev/xvdb`), in the metadata's order.
    pub mapping: Vec<(String, String)>,
    pub lookup: DeviceLookup,
}

/// How a name becomes a device: cloud-init's datasources differ.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeviceLookup {
    /// The datasource names no devices: no name resolves (NoCloud, None).
    #[default]
    Nothing,
    /// `DataSourceEc2.device_name_to_device`: the first device the mapping
    /// gives the name; when no such device exists under this machine's disk
    /// prefix either (`sdb` as `vdb`, `xvdb`, `vtbb`), still the device as
    /// the mapping gives it, except for `ephemeral0` (t1.micro lists an
    /// `ephemeral0` it never has, LP: #744019).
    AsGiven,
    /// `SourceMixin.device_name_to_device` (ConfigDrive, OpenStack): the
    /// mapping's device only when it exists (also under another disk
    /// prefix), `root` and `ami` standing for each other; else the device
    /// whose filesystem is labelled with the name.
    PresentOrLabel,
}

impl BlockDevices {
    /// The device the mapping gives `name` first, if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.mapping
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d.as_str())
    }

    /// EC2's `block-device-mapping` from its meta-data (a mapping, else no
    /// names). Eucalyptus names the first ephemeral disk `ephemeral` (LP:
    /// #513842): it stands for `ephemeral0` when the mapping has no
    /// `ephemeral0` (the last `ephemeral` given, as cloud-init reads it).
    pub fn from_ec2_metadata(bdm: Option<&Value>) -> BlockDevices {
        let mut mapping = bdm.map(Value::str_pairs).unwrap_or_default();
        if !mapping.iter().any(|(n, _)| n == "ephemeral0") {
            if let Some((_, dev)) = mapping.iter().rev().find(|(n, _)| n == "ephemeral") {
                let dev = dev.clone();
                mapping.push(("ephemeral0".into(), dev));
            }
        }
        BlockDevices {
            mapping,
            lookup: DeviceLookup::AsGiven,
        }
    }

    /// ConfigDrive's and OpenStack's: the `block-device-mapping` of the EC2
    /// meta-data the drive or the service carries (`ec2/latest/meta-data.json`),
    /// then filesystem labels. A device that is not text is named by its JSON.
    pub fn from_openstack_ec2_metadata(ec2: Option<&serde_json::Value>) -> BlockDevices {
        let mapping = ec2
            .and_then(|e| e.get("block-device-mapping"))
            .and_then(serde_json::Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let dev = match v {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        (k.clone(), dev)
                    })
                    .collect()
            })
            .unwrap_or_default();
        BlockDevices {
            mapping,
            lookup: DeviceLookup::PresentOrLabel,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ephemeral_stands_for_ephemeral0_only_when_it_is_missing() {
        let v = |y: &str| crate::yaml::load(y.as_bytes(), "t").unwrap();
        let euca = BlockDevices::from_ec2_metadata(Some(&v("{ephemeral: sdb, swap: sdc}")));
        assert_eq!(euca.get("ephemeral0"), Some("sdb"));
        assert_eq!(euca.get("ephemeral"), Some("sdb"));
        let both = BlockDevices::from_ec2_metadata(Some(&v("{ephemeral: sdb, ephemeral0: sdd}")));
        assert_eq!(both.get("ephemeral0"), Some("sdd"));
        let none = BlockDevices::from_ec2_metadata(Some(&v("[sdb]")));
        assert!(none.mapping.is_empty());
        assert_eq!(none.lookup, DeviceLookup::AsGiven);
    }

    #[test]
    fn openstack_devices_that_are_not_text_are_named_by_their_json() {
        let ec2 = serde_json::json!({"block-device-mapping": {"ami": "vda", "swap": 3, "x": null}});
        let b = BlockDevices::from_openstack_ec2_metadata(Some(&ec2));
        assert_eq!(b.get("ami"), Some("vda"));
        assert_eq!(b.get("swap"), Some("3"));
        assert_eq!(b.get("x"), Some("null"));
        assert_eq!(
            BlockDevices::from_openstack_ec2_metadata(None),
            BlockDevices {
                mapping: Vec::new(),
                lookup: DeviceLookup::PresentOrLabel
            }
        );
    }
}
