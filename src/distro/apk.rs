//! Alpine's `/etc/apk/repositories` as cloud-init 22.4's `cc_apk_configure`
//! renders it from its `REPOSITORIES_TEMPLATE` (jinja, `trim_blocks`): a
//! comment header, the main repository, then, as asked, community, edge's
//! testing (with a warning comment unless the version is `edge`) and a
//! local repository, and a blank line at the end. The text is the
//! template's output, rendered here without a template engine.

use super::Distro;

/// What goes into the repositories file (the template's parameters, as
/// the text jinja prints for each, and the truth of the two switches).
#[derive(Clone, Debug, PartialEq)]
pub struct ApkRepos {
    pub base_url: String,
    pub version: String,
    /// The version is the string `edge` (`alpine_version != 'edge'` is
    /// false).
    pub edge: bool,
    pub community: bool,
    pub testing: bool,
    /// `None` where the template's `local_repo != ''` is false.
    pub local_repo: Option<String>,
}

impl Distro {
    /// The repositories file for `repos`.
    pub fn apk_repositories(&self, repos: &ApkRepos) -> String {
        let (base, version) = (&repos.base_url, &repos.version);
        let mut text = String::from(
            "#\n# Created by cloud-init\n#\n# This file is written on first boot of an instance\n#\n\n",
        );
        text.push_str(&format!("{base}/{version}/main\n"));
        if repos.community {
            text.push_str(&format!("{base}/{version}/community\n"));
        }
        if repos.testing {
            if !repos.edge {
                text.push_str(
                    "#\n# Testing - using with non-Edge installation may cause problems!\n#\n",
                );
            }
            text.push_str(&format!("{base}/edge/testing\n"));
        }
        if let Some(local) = &repos.local_repo {
            text.push_str(&format!("\n#\n# Local repo\n#\n{local}/{version}\n"));
        }
        text.push('\n');
        text
    }
}
