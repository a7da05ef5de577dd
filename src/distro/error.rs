//! What the distro layer refuses: a file of the root its parsers cannot
//! read as cloud-init would (named, with the line), a config value of the
//! wrong type (named by its key), or a distro cloudboot cannot act for.
//! Where cloud-init raises, the text is its exception's.

use std::path::PathBuf;

/// An error of the distro layer (`src/distro/`).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DistroError {
    /// A parser's error in a file of the root.
    #[error("{}: {error}", .file.display())]
    File {
        file: PathBuf,
        error: Box<DistroError>,
    },
    #[error("reading {}: not found", .0.display())]
    NotFound(PathBuf),

    // Hostnames (`hostname.rs`, `names.rs`).
    /// `system_info.distro` names a distro cloud-init has no class for.
    #[error("cloud-init has no distro '{0}' to set hostnames with")]
    NoSuchDistro(String),
    #[error("cloudboot does not set hostnames on distro '{distro}' (cloud-init's {osfamily} writer is not implemented)")]
    NoHostnameWriter {
        distro: String,
        osfamily: &'static str,
    },
    /// `hostname` or `fqdn` in the config that is not a string.
    #[error("'{key}' must be a string, not {type_name} ({value}): cloud-init 22.4 fails on it")]
    NotAString {
        key: String,
        type_name: &'static str,
        value: String,
    },
    /// `/etc/hostname` with more than one name (the names).
    #[error("Multiple hostnames ({0}) found!")]
    MultipleHostnames(String),

    // `/etc/sysconfig/*` (configobj's messages; lines from 1).
    #[error("Parse error in value at line {0}.")]
    SysconfigValue(usize),
    #[error("line {0}: multi-line triple-quoted values are not supported by cloudboot")]
    SysconfigTripleQuoted(usize),
    #[error("line {line}: sections ('{text}') are not supported by cloudboot in a sysconfig file")]
    SysconfigSection { line: usize, text: String },
    #[error("Invalid line ('{text}') (matched as neither section nor keyword) at line {line}.")]
    SysconfigInvalidLine { line: usize, text: String },
    #[error("Duplicate keyword name at line {0}.")]
    SysconfigDuplicateKey(usize),
    /// A key whose value configobj reads as a list.
    #[error("{0} is a list to configobj (a comma outside quotes)")]
    SysconfigList(String),
    /// The same, when writing the file back (the key).
    #[error("the value of {0} is a list to configobj (a comma outside quotes); cloud-init 22.4 fails writing it (ValueError)")]
    SysconfigListNotWritable(String),
    #[error("Value \"{0}\" cannot be safely quoted.")]
    SysconfigUnquotable(String),

    // The keyboard (`keyboard.rs`).
    #[error("setting the keyboard layout needs systemd's localectl; cloud-init 22.4 cannot do it without systemd either (NotImplementedError)")]
    NoKeymapWithoutSystemd,

    // `/etc/resolv.conf`.
    #[error("Incorrectly formatted resolv.conf line {0}")]
    ResolvLine(usize),
    #[error("Unexpected resolv.conf option {0}")]
    ResolvOption(String),
    /// The domain that would be the seventh.
    #[error("Adding '{0}' would go beyond the '6' maximum search domains")]
    TooManySearchDomains(String),
    #[error("Adding '{0}' would go beyond the 256 maximum search list character limit")]
    SearchListTooLong(String),

    // Users and groups (`ug_util`'s messages; types are Python's names).
    #[error("Bad group member type {0}")]
    GroupMemberType(&'static str),
    #[error("Unknown group name type {0}")]
    GroupNameType(&'static str),
    #[error("Group config must be list, dict or string type only but found {0}")]
    GroupConfigType(&'static str),
    #[error("Unmappable user value type {type_name} for key {key}")]
    UserValueType {
        type_name: &'static str,
        key: String,
    },
    #[error("User config must be dictionary/list or string  types only and not {0}")]
    UserConfigType(&'static str),
    #[error(
        "Unable to lock user account '{0}'. No tools available.   Tried: ['passwd', 'usermod']."
    )]
    CannotLock(String),
    #[error("Can not create sudoers rule addition with type '{0}'")]
    SudoRuleType(&'static str),

    // The network renderer (`renderers.select`).
    #[error("Unknown renderers provided in priority list: {0:?}")]
    UnknownRenderers(Vec<String>),
}

impl DistroError {
    /// This error, said to be in `file`.
    pub fn in_file(self, file: impl Into<PathBuf>) -> DistroError {
        DistroError::File {
            file: file.into(),
            error: Box::new(self),
        }
    }
}
