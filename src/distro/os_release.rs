//! Which distribution the target root holds, read as cloud-init reads it
//! (`util.get_linux_distro`, `_parse_redhat_release`, `_get_variant`):
//! `/etc/os-release`, else `/etc/redhat-release` (CentOS/RHEL 6 have no
//! os-release), and, for what cloud-init leaves to `platform.dist()`,
//! `/etc/lsb-release` and `/etc/debian_version`.

use std::path::Path;

use crate::rootfs::FsView;

/// What a root's release files say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OsRelease {
    /// `ID` (`redhat` for RHEL, as cloud-init renames it).
    pub id: String,
    pub version_id: String,
    pub codename: String,
    /// cloud-init's variant: `debian`, `ubuntu`, `rhel`, `centos`, ..., `linux`.
    pub variant: String,
}

/// `load_shell_content`: `KEY=value` lines, quotes removed.
fn shell_vars(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                return None;
            }
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            Some((k.trim().to_string(), v.to_string()))
        })
        .collect()
}

fn get<'a>(vars: &'a [(String, String)], key: &str) -> &'a str {
    vars.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// `(name) release (version) (codename)`, e.g. `CentOS release 6.10 (Final)`.
fn redhat_release(text: &str) -> Option<(String, String, String)> {
    let line = text.lines().next()?.trim();
    let (name, rest) = line.split_once(" release ")?;
    let (version, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    if version.is_empty() || !version.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let codename = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.split_once(')'))
        .map(|(c, _)| c.to_string());
    let virtuozzo = name.contains("Virtuozzo");
    let codename = match (codename, virtuozzo) {
        (_, true) => name.to_string(),
        (Some(c), false) => c,
        (None, false) => return None,
    };
    let lower = name.to_lowercase();
    let mut id = lower.split(" linux").next().unwrap_or(&lower).to_string();
    if id == "red hat enterprise" {
        id = "redhat".into();
    }
    Some((id, version.to_string(), codename))
}

fn variant_of(id: &str) -> String {
    match id {
        "almalinux" | "alpine" | "arch" | "centos" | "cloudlinux" | "debian" | "eurolinux"
        | "fedora" | "mariner" | "miraclelinux" | "openeuler" | "openmandriva" | "photon"
        | "rhel" | "rocky" | "suse" | "virtuozzo" => id.to_string(),
        "ubuntu" | "linuxmint" | "mint" => "ubuntu".into(),
        "redhat" => "rhel".into(),
        "opensuse" | "opensuse-tumbleweed" | "opensuse-leap" | "sles" | "sle_hpc" => "suse".into(),
        _ => "linux".into(),
    }
}

impl OsRelease {
    /// Reads the release files of the root behind `fs`.
    pub fn read(fs: &dyn FsView) -> OsRelease {
        let os_release = fs
            .read_string(Path::new("/etc/os-release"))
            .map(|t| shell_vars(&t))
            .filter(|v| !v.is_empty());
        let (mut id, version_id, codename) = if let Some(vars) = os_release {
            let mut codename = get(&vars, "VERSION_CODENAME").to_string();
            if codename.is_empty() {
                // `Debian GNU/Linux 8 (jessie)` style VERSION.
                let version = get(&vars, "VERSION");
                if let Some((_, rest)) = version.split_once(" (") {
                    codename = rest.trim_end_matches(')').to_string();
                }
            }
            (
                get(&vars, "ID").to_string(),
                get(&vars, "VERSION_ID").to_string(),
                codename,
            )
        } else if let Some(rh) = fs
            .read_string(Path::new("/etc/redhat-release"))
            .and_then(|t| redhat_release(&t))
        {
            rh
        } else if let Some(lsb) = fs.read_string(Path::new("/etc/lsb-release")) {
            let vars = shell_vars(&lsb);
            (
                get(&vars, "DISTRIB_ID").to_lowercase(),
                get(&vars, "DISTRIB_RELEASE").to_string(),
                get(&vars, "DISTRIB_CODENAME").to_string(),
            )
        } else if let Some(v) = fs.read_string(Path::new("/etc/debian_version")) {
            ("debian".to_string(), v.trim().to_string(), String::new())
        } else {
            (String::new(), String::new(), String::new())
        };
        if id == "rhel" {
            id = "redhat".into();
        }
        let variant = variant_of(&id);
        OsRelease {
            id,
            version_id,
            codename,
            variant,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redhat_release_lines() {
        assert_eq!(
            redhat_release("CentOS release 6.10 (Final)\n"),
            Some(("centos".into(), "6.10".into(), "Final".into()))
        );
        assert_eq!(
            redhat_release("Red Hat Enterprise Linux Server release 6.9 (Santiago)"),
            Some(("redhat".into(), "6.9".into(), "Santiago".into()))
        );
        assert_eq!(
            redhat_release("CentOS Linux release 7.9.2009 (Core)"),
            Some(("centos".into(), "7.9.2009".into(), "Core".into()))
        );
        assert_eq!(redhat_release("garbage"), None);
    }

    #[test]
    fn os_release_and_fallbacks() {
        let tmp = tempfile::tempdir().unwrap();
        let fs = crate::rootfs::RealFs {
            root: crate::rootfs::Root::new(tmp.path()),
        };
        std::fs::create_dir_all(tmp.path().join("etc")).unwrap();
        std::fs::write(
            tmp.path().join("etc/redhat-release"),
            "CentOS release 6.10 (Final)\n",
        )
        .unwrap();
        let d = OsRelease::read(&fs);
        assert_eq!(
            (d.id.as_str(), d.version_id.as_str(), d.variant.as_str()),
            ("centos", "6.10", "centos")
        );
        std::fs::write(
            tmp.path().join("etc/os-release"),
            "NAME=\"Debian GNU/Linux\"\nID=debian\nVERSION_ID=\"8\"\nVERSION=\"8 (jessie)\"\n",
        )
        .unwrap();
        let d = OsRelease::read(&fs);
        assert_eq!(
            (d.id.as_str(), d.version_id.as_str(), d.codename.as_str()),
            ("debian", "8", "jessie")
        );
    }
}
