//! [`ConfigError`]: what is wrong with a module's config, as the module
//! reports it.

/// A problem with a module's config (or with a file the config names): the
/// key it is about and the message a person reads. The message is the
/// whole text (it names the key itself, in cloud-init's words where
/// cloud-init has words for it), so reporting it prints it as it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    /// The config key (`users`, `write_files[1].owner`); empty when the
    /// problem came from a layer below that does not say which key.
    pub key: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// An error of a layer below the modules (the distro's, the templater's),
/// which says in its text what it is about.
impl From<String> for ConfigError {
    fn from(message: String) -> ConfigError {
        ConfigError::new("", message)
    }
}

/// The distro layer's error, which names the file or value it is about.
impl From<crate::distro::DistroError> for ConfigError {
    fn from(e: crate::distro::DistroError) -> ConfigError {
        ConfigError::new("", e.to_string())
    }
}

/// The package layer's refusal (a malformed package spec names its key).
impl From<crate::distro::packages::PackageError> for ConfigError {
    fn from(e: crate::distro::packages::PackageError) -> ConfigError {
        ConfigError::new(e.key(), e.to_string())
    }
}

/// A template's renderer (cloud-init's `ValueError`), as the module shows it.
impl From<crate::templater::TemplateError> for ConfigError {
    fn from(e: crate::templater::TemplateError) -> ConfigError {
        ConfigError::new("", e.to_string())
    }
}

/// The jinja subset's refusal of a template, as the module shows it.
impl From<crate::jinja::JinjaError> for ConfigError {
    fn from(e: crate::jinja::JinjaError) -> ConfigError {
        ConfigError::new("", e.to_string())
    }
}

/// The text a module's output reports ([`super::ModuleOutput::error`]).
impl From<ConfigError> for String {
    fn from(e: ConfigError) -> String {
        e.message
    }
}

impl PartialEq<str> for ConfigError {
    fn eq(&self, other: &str) -> bool {
        self.message == other
    }
}

impl PartialEq<&str> for ConfigError {
    fn eq(&self, other: &&str) -> bool {
        self.message == *other
    }
}

impl PartialEq<String> for ConfigError {
    fn eq(&self, other: &String) -> bool {
        self.message == *other
    }
}
