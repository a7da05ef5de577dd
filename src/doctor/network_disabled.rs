//! `network-config-disabled`: the image's config says `network: {config:
//! disabled}`.
//!
//! Templates get this file (often `99-disable-network-config.cfg`) when
//! someone set the network up by hand and wanted cloud-init to leave it
//! alone. On a new cloud it means the new instance's network config
//! (`network_data.json`, the metadata's NICs, static addresses) is never
//! applied: the clone comes up with the template's files, or without a
//! network. seal removes the file when that setting is all it holds (it
//! was put there for this alone); a setting among others is left for a
//! person to take out.

use std::path::Path;

use super::registry::Check;
use super::{Evidence, Finding, Image, Severity};
use crate::effect::Effect;
use crate::value::Value;

pub const CHECK: Check = Check {
    id: "network-config-disabled",
    about: "network: {config: disabled}, so the new cloud's network config is never applied",
    run,
};

fn run(image: &Image) -> Vec<Finding> {
    let disabled = image
        .cfg
        .get("network")
        .and_then(|n| n.get("config"))
        .and_then(Value::as_str)
        == Some("disabled");
    if !disabled {
        return Vec::new();
    }
    // The last file that says so is the one that decides.
    let Some((file, line, alone)) = image.cfg_files.iter().rev().find_map(|f| {
        let text = image.text(&f.to_string_lossy())?;
        let (line, only) = setting(&text)?;
        Some((f.clone(), line, only))
    }) else {
        return Vec::new();
    };
    let text = image
        .text(&file.to_string_lossy())
        .and_then(|t| t.lines().nth(line - 1).map(str::to_string))
        .unwrap_or_default();
    let removable = alone && file.starts_with(Path::new("/etc/cloud/cloud.cfg.d"));
    vec![Finding {
        id: CHECK.id,
        severity: Severity::Warning,
        title: "network config is disabled".into(),
        evidence: vec![Evidence::line(&file, line, text.trim_end())],
        breaks: "the new cloud's network config (its NICs, static addresses, routes) is \
                 never applied: the clone comes up with the template's network files, or \
                 with no network where they do not fit"
            .into(),
        fix: if removable {
            format!("remove {} (it holds this setting alone)", file.display())
        } else {
            format!(
                "take `network: {{config: disabled}}` out of {}",
                file.display()
            )
        },
        fixes: if removable {
            vec![Effect::Remove { path: file }]
        } else {
            Vec::new()
        },
    }]
}

/// Where `text` sets `network: {config: disabled}` (1-based line), and
/// whether that is all the file sets (its other lines comments or blank).
fn setting(text: &str) -> Option<(usize, bool)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = None;
    let mut used = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let l = line.trim();
        if !line.starts_with("network:") {
            continue;
        }
        if l.contains("disabled") {
            found = Some(i);
            used.push(i);
        } else if l == "network:" {
            let next = lines[i + 1..]
                .iter()
                .position(|n| !n.trim().is_empty() && !n.trim_start().starts_with('#'))
                .map(|p| p + i + 1);
            if let Some(j) = next {
                let n = lines[j].trim();
                if n.starts_with("config:") && n.contains("disabled") {
                    found = Some(j);
                    used.extend([i, j]);
                }
            }
        }
    }
    let at = found?;
    let alone = lines
        .iter()
        .enumerate()
        .all(|(i, l)| used.contains(&i) || l.trim().is_empty() || l.trim_start().starts_with('#'));
    Some((at + 1, alone))
}

#[cfg(test)]
mod tests {
    use super::setting;

    #[test]
    fn the_setting_is_found_in_both_forms_and_alone_only_when_nothing_else_is_set() {
        assert_eq!(setting("network: {config: disabled}\n"), Some((1, true)));
        assert_eq!(
            setting("# by hand\nnetwork:\n  config: disabled\n"),
            Some((3, true))
        );
        assert_eq!(
            setting("network: {config: disabled}\nhostname: x\n"),
            Some((1, false))
        );
        assert_eq!(setting("network:\n  version: 2\n"), None);
        assert_eq!(setting("hostname: disabled\n"), None);
    }
}
