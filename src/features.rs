//! `cloud-init features` and `cloud-init --version`: what cloud-init's
//! `version.py` answers (`FEATURES`, and `version_string()`:
//! [`crate::VERSION_STRING`]), for the scripts and
//! agents that ask before they hand cloudboot a network config or decide
//! what a cloud-init of that version can do.

/// The feature flags 22.4 lists (`version.FEATURES`): both network config
/// versions are read (`src/net/`).
pub const FEATURES: [&str; 2] = ["NETWORK_CONFIG_V1", "NETWORK_CONFIG_V2"];

/// `cloud-init features`: the flags sorted, one a line (`main_features`).
pub fn text() -> String {
    let mut names = FEATURES.to_vec();
    names.sort_unstable();
    let mut out = names.join("\n");
    out.push('\n');
    out
}

/// Prints [`text`]; exits 0 as 22.4 does.
pub fn run() -> i32 {
    use std::io::Write;
    // A closed stdout (`| head -0`) is not this command's failure to report.
    let _ = std::io::stdout().write_all(text().as_bytes());
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_22_4s_list() {
        // `cloud-init features` of 22.4.2, byte for byte.
        assert_eq!(text(), "NETWORK_CONFIG_V1\nNETWORK_CONFIG_V2\n");
    }

    #[test]
    fn the_version_is_one_word_starting_with_the_compatible_release() {
        let v = crate::VERSION_STRING;
        assert!(v.starts_with("22.4.2-cloudboot"), "{v}");
        assert!(!v.contains(char::is_whitespace), "{v}");
        assert_eq!(v.split('-').next(), Some(crate::CLOUD_INIT_VERSION));
    }
}
