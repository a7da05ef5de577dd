//! Network config formats other than v1/v2, converted to version 1 as
//! cloud-init converts them, and what the machine's interfaces are.

pub mod eni;
pub mod openstack;
pub mod rename;
pub mod vmware_imc;
/// The machine's interfaces: `crate::sysnet`, which the datasources'
/// ephemeral DHCP also reads (so it sits below both).
pub use crate::sysnet as sys;

/// Network input that cannot be converted or used: each names the file
/// (`network_data.json`, an ENI line) and the key or value at fault. Where
/// cloud-init raises, the text is its exception's.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum NetInputError {
    // OpenStack `network_data.json` (types are JSON's names).
    #[error("network_data.json is null: no network config in it")]
    JsonNull,
    #[error("network_data.json must be an object, not {0}")]
    JsonNotObject(&'static str),
    /// A top-level key (`links`, `networks`, `services`) that is no list.
    #[error("'{key}' must be a list of objects, not {found}")]
    NotAListOfObjects {
        key: &'static str,
        found: &'static str,
    },
    /// An item (`link`, `network`, `service`) that is no object.
    #[error("a {item} must be an object, not {found}")]
    NotAnObject {
        item: &'static str,
        found: &'static str,
    },
    /// An item (`link`, `vlan link`, `network`, ...) without a key it needs.
    #[error("a {item} has no '{key}'")]
    MissingKey {
        item: &'static str,
        key: &'static str,
    },
    #[error("ethernet_mac_address must be a string, not {0}")]
    MacNotString(&'static str),
    #[error("unhashable link id: {0}")]
    UnhashableLinkId(String),
    #[error("unhashable interface name")]
    UnhashableName,
    #[error("more than {0} subnets")]
    TooManySubnets(usize),
    /// A physical link with neither; the link as cloud-init's dict prints.
    #[error("No mac_address or name entry for {0}")]
    NoMacOrName(String),
    /// A bond or vlan naming a link id no link has (its repr).
    #[error("no link has id {0}")]
    UnknownLinkId(String),
    /// A vlan id whose text is read as a `%` format and fails.
    #[error("bad vlan name format {0:?}")]
    VlanNameFormat(String),

    // ENI (`/etc/network/interfaces` text).
    /// Line `line` (from 1), its text, and what is wrong with it.
    #[error("ENI line {line}: {problem}: {text:?}")]
    EniLine {
        line: usize,
        problem: String,
        text: String,
    },
    #[error("ENI: static 'iface {0}' has no address")]
    EniNoAddress(String),

    // VMware guest customization (`cust.cfg`): the section, key and line.
    #[error(transparent)]
    CustCfg(#[from] vmware_imc::CustCfgError),

    // `network-config=` on the kernel command line.
    /// Not base64 (the token's value); cloud-init ignores it.
    #[error("Expected base64 encoded kernel commandline parameter network-config. Ignoring network-config={0}.")]
    CmdlineNotBase64(String),
    /// gzip data that does not decompress.
    #[error("network-config= on the kernel command line: {0}")]
    CmdlineGzip(String),
    /// A YAML document that does not load (it names its source and line).
    #[error(transparent)]
    Yaml(#[from] crate::yaml::YamlError),

    // The machine's interfaces (`/sys/class/net`).
    #[error(transparent)]
    DuplicateMac(#[from] crate::sysnet::DuplicateMac),

    // Renaming by MAC (`net.rename_interfaces`), from a v1/v2 config
    // (types are Python's names).
    #[error("{key} must be a mapping, not {found}")]
    NotAMapping {
        key: &'static str,
        found: &'static str,
    },
    #[error("{key} must be a string, not {found}")]
    NotAString {
        key: &'static str,
        found: &'static str,
    },
    #[error("config must be a list, not {0}")]
    ConfigNotAList(&'static str),
    #[error("physical entry with MAC {0} has no name")]
    NoName(String),
    #[error("Unknown network config version: {0}")]
    UnknownVersion(String),
    /// More than one interface matches a rename (the matches as
    /// cloud-init prints them, comma-separated).
    #[error("Failed to match a single device. Matched devices \"[{devices}]\" with search values \"(mac:{mac} driver:{driver} device_id:{device_id})\"")]
    AmbiguousDevice {
        devices: String,
        mac: String,
        driver: String,
        device_id: String,
    },
}
