//! 22.4's mirror selection (`find_apt_mirror_info`): the `primary` and
//! `security` entries for the architecture (or `default`), their `uri`;
//! else the datasource's mirrors (the distro's `package_mirrors`
//! `failsafe` for the architecture); else cloud-init's defaults.
//!
//! One departure: `search` and `search_dns` (and `package_mirrors`'
//! `search`) pick the first candidate whose host name resolves; a plan
//! resolves nothing, so cloudboot takes none of them and says so in a note
//! (the next fallback applies, as when 22.4 finds none resolvable).

use crate::module::prelude::*;

/// cloud-init's default mirrors for the primary architectures and the ports.
fn default_mirrors(arch: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let pair = |p: &str, s: &str| {
        vec![
            ("PRIMARY".to_string(), p.to_string()),
            ("SECURITY".to_string(), s.to_string()),
        ]
    };
    match arch {
        "amd64" | "i386" => Ok(pair(
            "http://archive.ubuntu.com/ubuntu/",
            "http://security.ubuntu.com/ubuntu/",
        )),
        "s390x" | "arm64" | "armhf" | "powerpc" | "ppc64el" | "riscv64" => Ok(pair(
            "http://ports.ubuntu.com/ubuntu-ports",
            "http://ports.ubuntu.com/ubuntu-ports",
        )),
        other => Err(ConfigError::new(
            "apt",
            format!("No default mirror known for arch {other}"),
        )),
    }
}

/// The entry of a list of `{arches: [...]}` mappings for `arch`, else the
/// last one for `default` (`get_arch_mirrorconfig`,
/// `_get_arch_package_mirror_info`).
fn for_arch<'a>(list: &'a [Value], arch: &str) -> Option<&'a Value> {
    let mut default = None;
    for item in list {
        let arches = item.get("arches").and_then(Value::as_seq).unwrap_or(&[]);
        if arches.iter().any(|a| a.as_str() == Some(arch)) {
            return Some(item);
        }
        if arches.iter().any(|a| a.as_str() == Some("default")) {
            default = Some(item);
        }
    }
    default
}

/// `get_mirror(cfg, mirrortype, arch)`.
fn get_mirror(apt: &Value, kind: &str, arch: &str, notes: &mut Vec<String>) -> Option<String> {
    let list = apt.get(kind)?.as_seq()?;
    let mcfg = for_arch(list, arch)?;
    if let Some(uri) = mcfg.get("uri").filter(|v| !matches!(v, Value::Null)) {
        return Some(uri.python_str());
    }
    for key in ["search", "search_dns"] {
        if mcfg.get(key).is_some_and(Value::truthy) {
            notes.push(format!(
                "apt {kind} mirror: cloudboot does not resolve host names to pick a mirror ({key}): none taken"
            ));
        }
    }
    None
}

/// `find_apt_mirror_info`: `PRIMARY`, `SECURITY`, `MIRROR` and, from the
/// datasource's mirrors, the lowercase names too; in the order 22.4's dict
/// has them.
pub fn find(
    apt: &Value,
    distro: &Distro,
    arch: &str,
    notes: &mut Vec<String>,
) -> Result<Vec<(String, String)>, ConfigError> {
    let primary = get_mirror(apt, "primary", arch, notes);
    let security = get_mirror(apt, "security", arch, notes);
    let mut info = match primary {
        Some(p) => {
            let s = security.unwrap_or_else(|| p.clone());
            vec![("PRIMARY".to_string(), p), ("SECURITY".to_string(), s)]
        }
        None => match datasource_mirrors(distro, arch, notes) {
            Some(mut m) => {
                let get = |m: &[(String, String)], k: &str| {
                    m.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
                };
                let (Some(p), Some(s)) = (get(&m, "primary"), get(&m, "security")) else {
                    return Err(ConfigError::new(
                        "system_info.package_mirrors",
                        "the package mirrors name no primary and security mirror (KeyError)",
                    ));
                };
                m.push(("PRIMARY".into(), p));
                m.push(("SECURITY".into(), s));
                m
            }
            None => default_mirrors(arch)?,
        },
    };
    let primary = info.iter().find(|(k, _)| k == "PRIMARY").unwrap().1.clone();
    info.push(("MIRROR".into(), primary));
    Ok(info)
}

/// `distro.get_package_mirror_info()`: the `failsafe` mirrors of the
/// distro's `package_mirrors` entry for `arch`; `None` when there are none.
fn datasource_mirrors(
    distro: &Distro,
    arch: &str,
    notes: &mut Vec<String>,
) -> Option<Vec<(String, String)>> {
    let list = distro.system_info.get("package_mirrors")?.as_seq()?;
    let entry = for_arch(list, arch)?;
    let mut out = Vec::new();
    if let Some(Value::Map(failsafe)) = entry.get("failsafe") {
        for (k, v) in failsafe.iter() {
            out.push((k.python_str(), v.python_str()));
        }
    }
    if entry.get("search").is_some_and(Value::truthy) {
        notes.push(
            "package_mirrors: cloudboot does not resolve host names to pick a mirror (search): the failsafe mirrors are taken".into(),
        );
    }
    (!out.is_empty()).then_some(out)
}

/// apt's cache of the package lists.
const APT_LISTS: &str = "/var/lib/apt/lists";

/// `mirrorurl_to_apt_fileprefix`: the scheme and a trailing `/` dropped,
/// every `/` made `_` (how apt names a mirror's cached lists).
fn apt_file_prefix(mirror: &str) -> String {
    let s = mirror.strip_suffix('/').unwrap_or(mirror);
    let s = s.find("://").map_or(s, |i| &s[i + 3..]);
    s.replace('/', "_")
}

/// `rename_apt_lists`: apt's cached lists of cloud-init's default mirrors
/// renamed for the new ones, so the cache stays good. Best effort, as in
/// 22.4 (a rename that fails is logged only); `mv` inside the root does it.
pub fn rename_lists(
    fs: &dyn FsView,
    mirrors: &[(String, String)],
    arch: &str,
    out: &mut Vec<Effect>,
    notes: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let mut names = fs
        .list_dir(std::path::Path::new(APT_LISTS))
        .unwrap_or_default();
    names.sort();
    for (name, old) in default_mirrors(arch)? {
        let Some((_, new)) = mirrors.iter().find(|(k, v)| *k == name && !v.is_empty()) else {
            continue;
        };
        let (oprefix, nprefix) = (apt_file_prefix(&old), apt_file_prefix(new));
        if oprefix == nprefix {
            continue;
        }
        for file in names
            .iter()
            .filter(|f| f.starts_with(&format!("{oprefix}_")))
        {
            let from = format!("{APT_LISTS}/{file}");
            let to = format!("{APT_LISTS}/{nprefix}{}", &file[oprefix.len()..]);
            notes.push(format!("Renaming apt list {from} to {to}"));
            out.push(Effect::Run(
                Command::new(["mv", "-f", "--", &from, &to]).on_failure(OnFailure::Ignore),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apt_file_prefixes_as_apt_names_them() {
        assert_eq!(
            apt_file_prefix("http://archive.ubuntu.com/ubuntu/"),
            "archive.ubuntu.com_ubuntu"
        );
        assert_eq!(
            apt_file_prefix("deb.debian.org/debian"),
            "deb.debian.org_debian"
        );
    }
}
