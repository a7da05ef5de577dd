//! `networkmanager-plugin-missing`: NetworkManager.conf names a settings
//! plugin whose library the image does not have.
//!
//! `[main] plugins=` lists the settings plugins NetworkManager loads at
//! start, each from `libnm-settings-plugin-NAME.so` in its plugin directory
//! (`/usr/lib64/NetworkManager` on EL, a versioned subdirectory of it since
//! 1.20, `/usr/lib/<triplet>/NetworkManager` on Debian). NetworkManager
//! before 1.0 (RHEL/CentOS 6's 0.8.1, RHEL 7.0's 0.9.9) refuses to start
//! when one of them does not load: `load_plugins` in
//! `src/system-settings/nm-sysconfig-settings.c` (0.8) and
//! `src/settings/nm-settings.c` (0.9) fails with "Could not load plugin
//! 'ibft'", and `main` logs "failed to initialize the network manager" and
//! exits. The classic case is CentOS 6's `plugins=ifcfg-rh,ibft` with the
//! `ibft` plugin (its own subpackage) not installed. From 1.0 on the
//! missing plugin is a warning and NetworkManager goes on without it.
//! `keyfile` is built into NetworkManager since 0.9 and never missing.

use std::path::{Path, PathBuf};

use super::registry::Check;
use super::{Evidence, Finding, Image, Severity};
use crate::effect::{Data, Effect};
use crate::rootfs::Kind;

pub const CHECK: Check = Check {
    id: "networkmanager-plugin-missing",
    about: "NetworkManager.conf names a plugin that is not installed",
    run,
};

const NM_BINARY: &str = "/usr/sbin/NetworkManager";

fn run(image: &Image) -> Vec<Finding> {
    if !image.exists(NM_BINARY) {
        return Vec::new();
    }
    let mut files = vec![
        "/etc/NetworkManager/NetworkManager.conf".to_string(),
        // 0.8 read this older name first when it was there.
        "/etc/NetworkManager/nm-system-settings.conf".to_string(),
    ];
    for name in image.list("/etc/NetworkManager/conf.d") {
        if name.ends_with(".conf") {
            files.push(format!("/etc/NetworkManager/conf.d/{name}"));
        }
    }
    let plugin_dirs = plugin_dirs(image);
    let version = nm_version(image, &plugin_dirs);
    let mut findings = Vec::new();
    for file in files {
        let Some(text) = image.text(&file) else {
            continue;
        };
        for line in plugin_lines(&text) {
            let missing: Vec<&String> = line
                .plugins
                .iter()
                .filter(|p| !installed(image, &plugin_dirs, p))
                .collect();
            if missing.is_empty() {
                continue;
            }
            findings.push(finding(image, &file, &text, &line, &missing, version));
        }
    }
    findings
}

/// One `plugins=` line of a `[main]` section.
#[derive(Debug, PartialEq)]
struct PluginLine {
    /// 1-based.
    line: usize,
    plugins: Vec<String>,
}

/// The `plugins=` (and 1.x's `plugins+=`) lines of the `[main]` sections.
fn plugin_lines(text: &str) -> Vec<PluginLine> {
    let mut out = Vec::new();
    let mut in_main = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('[') {
            in_main = line.trim_end() == "[main]";
            continue;
        }
        if !in_main || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if key != "plugins" && key != "plugins+" {
            continue;
        }
        let plugins = value
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect();
        out.push(PluginLine {
            line: i + 1,
            plugins,
        });
    }
    out
}

/// Where the image keeps NetworkManager's plugins: the 64-bit and plain
/// library directories, and Debian's multiarch ones.
fn plugin_dirs(image: &Image) -> Vec<String> {
    let mut dirs = vec![
        "/usr/lib64/NetworkManager".to_string(),
        "/usr/lib/NetworkManager".to_string(),
    ];
    for name in image.list("/usr/lib") {
        if name.contains("-linux-") {
            dirs.push(format!("/usr/lib/{name}/NetworkManager"));
        }
    }
    dirs
}

/// Whether the plugin's library is in a plugin directory, or in one of its
/// subdirectories (NetworkManager 1.20 and later install them under a
/// directory named after the version).
fn installed(image: &Image, dirs: &[String], plugin: &str) -> bool {
    // 0.8 read the old name `ifcfg-fedora` as `ifcfg-rh`.
    let plugin = if plugin == "ifcfg-fedora" {
        "ifcfg-rh"
    } else {
        plugin
    };
    if plugin == "keyfile" {
        return true;
    }
    let lib = format!("libnm-settings-plugin-{plugin}.so");
    for dir in dirs {
        if image.exists(&format!("{dir}/{lib}")) {
            return true;
        }
        for sub in image.list(dir) {
            let subdir = format!("{dir}/{sub}");
            let is_dir =
                matches!(image.fs.lstat(Path::new(&subdir)), Some(s) if s.kind == Kind::Dir);
            if is_dir && image.exists(&format!("{subdir}/{lib}")) {
                return true;
            }
        }
    }
    false
}

/// NetworkManager's version, when the image tells it: an EL package's
/// doc directory (`/usr/share/doc/NetworkManager-0.8.1`, EL6 and EL7), or
/// the versioned plugin directory of 1.20 and later
/// (`/usr/lib64/NetworkManager/1.42.2-1.el8`). (major, minor).
fn nm_version(image: &Image, plugin_dirs: &[String]) -> Option<(u32, u32)> {
    let parse = |v: &str| -> Option<(u32, u32)> {
        let mut parts = v.split(['.', '-']);
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some((major, minor))
    };
    let docs = image
        .list("/usr/share/doc")
        .into_iter()
        .filter_map(|name| name.strip_prefix("NetworkManager-").and_then(parse));
    let dirs = plugin_dirs
        .iter()
        .flat_map(|d| image.list(d))
        .filter_map(|name| parse(&name));
    docs.chain(dirs).max()
}

fn finding(
    image: &Image,
    file: &str,
    text: &str,
    line: &PluginLine,
    missing: &[&String],
    version: Option<(u32, u32)>,
) -> Finding {
    let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
    let shown = text.lines().nth(line.line - 1).unwrap_or("").trim();
    let libs: Vec<String> = names
        .iter()
        .map(|n| format!("libnm-settings-plugin-{n}.so"))
        .collect();
    let evidence = vec![Evidence::line(
        file,
        line.line,
        format!(
            "{shown} ({} not installed in /usr/lib64/NetworkManager, /usr/lib/NetworkManager or a \
             subdirectory)",
            libs.join(", ")
        ),
    )];
    let (severity, breaks) = match version {
        Some(v) if v >= (1, 0) => (
            Severity::Warning,
            format!(
                "NetworkManager {}.{} logs \"Could not load plugin\" and starts without it; \
                 connections that plugin would read are not there",
                v.0, v.1
            ),
        ),
        _ => (
            Severity::Error,
            format!(
                "{} does not start: \"failed to initialize the network manager: Could not \
                 load plugin '{}'\"; no interface it manages comes up on first boot{}",
                match version {
                    Some(v) => format!("NetworkManager {}.{} (before 1.0)", v.0, v.1),
                    None => "NetworkManager before 1.0 (RHEL/CentOS 6, RHEL 7.0)".into(),
                },
                names[0],
                if version.is_none() {
                    " (1.0 and later start without the plugin, with a warning)"
                } else {
                    ""
                }
            ),
        ),
    };
    let kept: Vec<&String> = line
        .plugins
        .iter()
        .filter(|p| !missing.contains(p))
        .collect();
    let fixes = rewrite(image, file, text, line.line, &kept)
        .map(|e| vec![e])
        .unwrap_or_default();
    let fix = if kept.is_empty() {
        format!(
            "comment out line {} of {file} (no plugin it names is installed), or install {}",
            line.line,
            libs.join(", ")
        )
    } else {
        format!(
            "rewrite line {} of {file} without {} (plugins={}), or install {}",
            line.line,
            names.join(", "),
            kept.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(","),
            libs.join(", ")
        )
    };
    Finding {
        id: CHECK.id,
        severity,
        title: format!(
            "NetworkManager is told to load the {} plugin{}, which {} not installed",
            names.join(", "),
            if names.len() == 1 { "" } else { "s" },
            if names.len() == 1 { "is" } else { "are" }
        ),
        evidence,
        breaks,
        fix,
        fixes,
    }
}

/// The file with line `lineno` (1-based) naming only `kept` (commented out
/// when nothing is kept); every other byte as it was. `None` when the file
/// is not text seal can rewrite exactly.
fn rewrite(
    image: &Image,
    file: &str,
    text: &str,
    lineno: usize,
    kept: &[&String],
) -> Option<Effect> {
    let raw = image.fs.read_at_most(Path::new(file), 1 << 20).ok()?;
    if raw.len() > 1 << 20 || raw != text.as_bytes() {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    for (i, piece) in text.split_inclusive('\n').enumerate() {
        if i + 1 != lineno {
            out.push_str(piece);
            continue;
        }
        let body = piece.trim_end_matches(['\n', '\r']);
        let ending = &piece[body.len()..];
        let (key, _) = body.split_once('=')?;
        if kept.is_empty() {
            out.push('#');
            out.push_str(body);
        } else {
            out.push_str(key);
            out.push('=');
            out.push_str(
                &kept
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            );
        }
        out.push_str(ending);
    }
    let mode = image.fs.stat(Path::new(file)).map_or(0o644, |s| s.mode);
    Some(Effect::write(
        PathBuf::from(file),
        Data::public(out.into_bytes()),
        mode,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugins_of_the_main_section_only() {
        let text = "# plugins=ibft\n[main]\nplugins=ifcfg-rh, ibft\n\n[logging]\nplugins=x\n[main]\nplugins+=foo\n";
        assert_eq!(
            plugin_lines(text),
            vec![
                PluginLine {
                    line: 3,
                    plugins: vec!["ifcfg-rh".into(), "ibft".into()]
                },
                PluginLine {
                    line: 8,
                    plugins: vec!["foo".into()]
                },
            ]
        );
    }
}
