//! `cloud-init features` and `cloud-init --version`: what cloud-init's
//! `version.py` answers (`FEATURES`, `version_string()`), for the scripts and
//! agents that ask before they hand cloudboot a network config or decide
//! what a cloud-init of that version can do.

/// The cloud-init release whose behaviour cloudboot reproduces.
pub const CLOUD_INIT_VERSION: &str = "22.4.2";

/// The feature flags 22.4 lists (`version.FEATURES`): both network config
/// versions are read (`src/net/`).
pub const FEATURES: [&str; 2] = ["NETWORK_CONFIG_V1", "NETWORK_CONFIG_V2"];

/// The version `--version` prints after the program name.
///
/// One word, in the shape distributions give cloud-init's packaged version
/// (Debian `22.4.2-1`, Ubuntu `24.1.3-0ubuntu1~22.04.1`, RHEL `23.4-7.el9`):
/// the upstream version it is compatible with, then `-` and cloudboot's own.
/// Scripts take the version as `awk '{print $2}'` or `awk '{print $NF}'`
/// (so the line has exactly two words), match `\d+\.\d+(\.\d+)?` or cut at
/// the first `-`: each of them gets 22.4.2 here, as on a packaged
/// cloud-init, while a person reading it sees cloudboot.
pub fn version_string() -> String {
    crate::VERSION_STRING.to_string()
}

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
        let v = version_string();
        assert!(v.starts_with("22.4.2-cloudboot"), "{v}");
        assert!(!v.contains(char::is_whitespace), "{v}");
        assert_eq!(v.split('-').next(), Some(CLOUD_INIT_VERSION));
    }
}
