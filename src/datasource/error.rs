//! What goes wrong reading a datasource: each error names the file, device
//! or URL and, where there is one, the key. The search reports it (as text,
//! in `Found::problems`) and goes on to the next source.

use crate::http::HttpError;
use crate::rootfs::ReadError;

/// A datasource, or one of its seed files, that cannot be read.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum DsError {
    // Reading a seed file.
    /// A seed file in the root that is not readable (too large, a device).
    #[error(transparent)]
    Read(#[from] ReadError),
    /// A seed file on a device that is mounted (the fallback).
    #[error("{device}: {error}")]
    Mounted { device: String, error: ReadError },
    /// A seed file on a device read in place, with the filesystem's words.
    #[error("{device} ({fs_type}): {file}: {error}")]
    Device {
        device: String,
        fs_type: &'static str,
        file: String,
        error: String,
    },
    /// A required file (a seed's `meta-data`, a `content_path`) is absent.
    #[error("{0} is missing")]
    Missing(String),
    /// A URL that answered with an HTTP error status.
    #[error("{url}: HTTP {status}")]
    HttpStatus { url: String, status: u16 },
    #[error(transparent)]
    Http(#[from] HttpError),
    /// A metadata service request that failed, in the client's words (it
    /// names the URL).
    #[error("{0}")]
    Service(String),
    /// A seed whose meta-data was not usable, as the seed reader reported it.
    #[error("{0}")]
    Seed(String),

    // Mounting a device (cloud-init's fallback when it cannot be read in place).
    #[error("not tried: the target root is not this machine's /")]
    MountNotHostRoot,
    #[error("not tried: mounting needs root")]
    MountNotPrivileged,
    /// The private mount point could not be made.
    #[error("{dir}: {error}")]
    MountDir { dir: String, error: String },
    /// `mount` could not be started.
    #[error("mount: {0}")]
    MountSpawn(String),
    /// `mount` failed; its standard error.
    #[error("mount failed: {0}")]
    MountFailed(String),

    // A config drive (`sources/helpers/openstack.py`'s messages).
    #[error("Failed to process path {file}: {error}")]
    Json { file: String, error: String },
    #[error("{0}: expected a JSON object")]
    NotAnObject(String),
    /// meta_data.json's `random_seed` is not base64.
    #[error("Badly formatted metadata random_seed entry: {0}")]
    RandomSeed(String),
    /// A `files` entry of meta_data.json whose content cannot be read.
    #[error("Failed to read provided file {path}: {error}")]
    InjectedFile { path: String, error: Box<DsError> },
    /// meta_data.json's `network_config` content cannot be read.
    #[error("Failed to read network configuration: {0}")]
    NetworkConfig(Box<DsError>),
    /// A `content_path` that is empty or leaves `openstack/`.
    #[error("item has no valid content path ({0:?})")]
    BadContentPath(String),
    #[error("No 'uuid' entry in metadata")]
    NoUuid,
    /// vendor_data.json of another JSON type (the value, as JSON).
    #[error("vendor-data must be a string, a list or a dict, not {0}")]
    VendorData(String),

    // The EC2 metadata service.
    #[error("{path}: deeper than {max} levels")]
    TooDeep { path: String, max: usize },
    #[error("more than {0} metadata entries")]
    TooManyEntries(usize),
    #[error("the token request was refused (403): the HTTP endpoint is disabled")]
    TokenRefused,
    #[error("meta-data has no instance-id")]
    NoInstanceId,

    // Ephemeral DHCP (ephemeral.rs): the local stage's network.
    /// Not brought up, and why (a plan; a root other than `/` in the
    /// host's network namespace).
    #[error("no ephemeral network: {0}")]
    EphemeralRefused(String),
    /// `find_fallback_nic` found no NIC in this network namespace.
    #[error("no ephemeral network: no NIC for DHCP (find_fallback_nic found none in this network namespace)")]
    NoFallbackNic,
    #[error("no DHCP lease on {interface}: {error}")]
    Dhcp { interface: String, error: String },
    /// An `ip` command that failed, with its standard error.
    #[error("ephemeral network: {0}")]
    EphemeralCommand(String),

    // IBMCloud
    /// The IBM config disk holds something 22.4's `metadata_from_dir`
    /// refuses (a file that is not JSON, no `meta_data.json`).
    #[error("Failed reading IBM config disk (platform={platform} path={path}): {reason}")]
    IbmConfigDisk {
        platform: &'static str,
        path: String,
        reason: String,
    },

    // Bigstep
    #[error("{url}: no '{key}' in the document")]
    BigstepKey { url: String, key: String },

    // Hetzner, Vultr, UpCloud, NWCS, Scaleway, LXD: one JSON or YAML
    // document each.
    /// The document is not what its format says (bad JSON or YAML).
    #[error("{url}: {error}")]
    Document { url: String, error: String },
    /// A key the datasource needs is absent (or null).
    #[error("{url}: no '{key}' in the metadata")]
    MissingKey { url: String, key: String },
    /// A key of the wrong type (Python's type names).
    #[error("{url}: '{key}' is a {found}, expected a {expected}")]
    WrongType {
        url: String,
        key: String,
        expected: &'static str,
        found: &'static str,
    },
    /// The metadata names a NIC by a MAC no interface of this machine has.
    #[error("{url}: no network interface on this machine has the MAC '{mac}' of '{key}'")]
    NoSuchNic {
        url: String,
        key: String,
        mac: String,
    },
    /// The platform's own inconsistency, in 22.4's words (Hetzner's serial).
    #[error("{0}")]
    Platform(String),

    // OpenNebula, VMware, OVF, AltCloud (media and hypervisor channels).
    /// A file that is there but not usable as a whole (context.sh that
    /// bash would refuse, ovf-env.xml that is not XML), with the reason.
    #[error("{file}: {error}")]
    BadFile { file: String, error: String },
    /// One key of a file or channel whose value is not usable.
    #[error("{file}: {key}: {error}")]
    BadValue {
        file: String,
        key: String,
        error: String,
    },
}
