//! What merging configuration raises: a merge spec that cannot be used, or
//! the Python exception cloud-init's mergers raise for the values given.

/// Why a merge spec cannot be used, or what a merge raises. The spec
/// errors name the bad token or item; the merge errors are the Python
/// exceptions cloud-init raises, word for word (`TypeError: ...`), as tests
/// and logs compare them with cloud-init's.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum MergeError {
    // A bad spec (`merge_how`, `merge_type`, a `Merge-Type` header).
    /// The spec is neither a string nor iterable; its type.
    #[error("merge_how must be a string or a list of mergers, not {0}")]
    SpecNotList(&'static str),
    #[error("merger name must be a string, not {type_name} ({value})")]
    NameNotString {
        type_name: &'static str,
        value: String,
    },
    /// A `{name, settings}` item without its name (the item as JSON).
    #[error("merger {0} has no 'name'")]
    NoName(String),
    #[error("merger '{0}' has no 'settings'")]
    NoSettings(String),
    /// An item of the list form that is neither a mapping nor a sequence.
    #[error("merger {0} is not subscriptable")]
    ItemNotSubscriptable(String),
    #[error("merger {0} is empty")]
    EmptyItem(String),
    /// A token of the string form that is not `name(options)`.
    #[error("bad merger '{0}' in merge_how: expected name(option,...), e.g. list(append)")]
    BadToken(String),
    #[error("unknown merger '{0}' in merge_how (known: dict, list, str)")]
    UnknownMerger(String),
    /// A merger's settings in which `"option" in settings` raises.
    #[error("merger '{merger}': merger settings must be a list of option names, not {type_name} ({value})")]
    BadSettings {
        merger: String,
        type_name: &'static str,
        value: String,
    },

    // What merging raises in cloud-init (types are Python's names).
    #[error("TypeError: can only concatenate str (not \"{0}\") to str")]
    StrConcat(&'static str),
    #[error("TypeError: '{0}' object is not iterable")]
    NotIterable(&'static str),
    #[error("TypeError: object of type '{0}' has no len()")]
    NoLen(&'static str),
    #[error("TypeError: '{0}' object is not subscriptable")]
    NotSubscriptable(&'static str),
    /// `new[i]` on a dict without the key `i`.
    #[error("KeyError: {0}")]
    KeyError(usize),

    // What the config-merging callers refuse.
    /// A cloud-config part that is not a mapping (`util.load_yaml` gave None).
    #[error("empty cloud config")]
    EmptyCloudConfig,
    /// Merging a part would pass the YAML loader's node limit (the limit).
    #[error("merging it would take the cloud-config past {0} nodes (scalars, lists and mappings), cloudboot's limit; it was left out")]
    TooManyNodes(u64),
    #[error("a config source must be a dict, not {0}")]
    SourceNotDict(&'static str),
    /// A `mergemanydict` source that cannot be merged, by its position.
    #[error("source {index}: {error}")]
    Source {
        index: usize,
        error: Box<MergeError>,
    },
}
