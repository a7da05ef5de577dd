//! `stale-instance-state`: cloud-init's state and logs of the template's
//! own instance, left in the image.
//!
//! `/var/lib/cloud` is where cloud-init remembers what it did: the
//! `instance` link and `instances/<id>/` (that instance's semaphores,
//! user-data, cached datasource), `sem/` (the per-once semaphores),
//! `data/` (the previous instance-id, the result of the last boot),
//! `scripts/` and `handlers/` (the user-data's parts). A clone that boots
//! with it takes part of the template's past for its own: when its
//! datasource gives the same instance-id (a baked seed, or
//! `manual_cache_clean`, which trusts the cache), per-instance modules do
//! not run at all (no users, no keys, no hostname), and per-once modules
//! never run again on any clone. A seed in `/var/lib/cloud/seed` is worse:
//! NoCloud finds it first, in the local stage, before any cloud's own
//! datasource is asked, so every clone boots as the template's instance,
//! with its instance-id and its user-data.
//!
//! cloud-init's logs (`/var/log/cloud-init.log`, `cloud-init-output.log`)
//! carry the template's boots into every clone (a warning: nothing fails,
//! but each clone's log starts with another machine's story, addresses and
//! all).
//!
//! The fix is `cloud-init clean --logs --seed`'s ([`Clean`]).

use std::path::Path;

use super::registry::Check;
use super::{Evidence, Finding, Image, Severity};
use crate::clean::Clean;
use crate::paths::{LOG_FILE, OUTPUT_LOG_FILE};
use crate::rootfs::{FsView, Kind};

pub const CHECK: Check = Check {
    id: "stale-instance-state",
    about: "cloud-init state and logs of the template's instance",
    run,
};

const CLOUD_DIR: &str = "/var/lib/cloud";

/// At most this many evidence lines name single instances or seeds (an
/// image that went through hundreds of instances says how many more).
const MAX_NAMED: usize = 20;

fn run(image: &Image) -> Vec<Finding> {
    let mut findings = Vec::new();
    let state = state_evidence(image);
    let logs: Vec<Evidence> = [LOG_FILE, OUTPUT_LOG_FILE]
        .iter()
        .filter_map(|path| {
            let st = image.fs.lstat(Path::new(path))?;
            Some(Evidence::file(
                *path,
                format!("the template's cloud-init log ({} bytes)", st.len),
            ))
        })
        .collect();
    if state.is_empty() && logs.is_empty() {
        return findings;
    }
    // One fix for both findings: clean's effects, which remove the whole
    // state (the seed too) and the logs. Whichever finding seal fixes
    // first takes the other with it.
    let clean = Clean {
        logs: true,
        seed: true,
        machine_id: false,
        reboot: false,
    };
    let fixes = clean.effects(image.fs);
    let fix = "remove cloud-init's state, seed and logs as `cloud-init clean --logs --seed` \
               does (every entry of /var/lib/cloud, /var/log/cloud-init.log and \
               /var/log/cloud-init-output.log); each clone then boots as a new instance"
        .to_string();
    if !state.is_empty() {
        findings.push(Finding {
            id: CHECK.id,
            severity: Severity::Error,
            title: "cloud-init's state of the template's own instance is in the image".into(),
            evidence: state,
            breaks: "a clone may take itself for the template's instance: with the same \
                     instance-id (a baked seed, or manual_cache_clean) per-instance modules do \
                     not run (users, SSH keys, hostname), per-once modules never run again on \
                     any clone, and a baked NoCloud seed is found before the cloud's own \
                     datasource, so the clone boots with the template's identity and user-data"
                .into(),
            fix: fix.clone(),
            fixes: fixes.clone(),
        });
    }
    if !logs.is_empty() {
        findings.push(Finding {
            id: CHECK.id,
            severity: Severity::Warning,
            title: "cloud-init's logs of the template's boots are in the image".into(),
            evidence: logs,
            breaks: "every clone starts with the template's cloud-init output (its instance-id, \
                     addresses, whatever its user-data printed), mixed with its own boots"
                .into(),
            fix,
            fixes,
        });
    }
    findings
}

/// Each piece of state under `/var/lib/cloud` that is more than an empty
/// directory, said the way a person checks it.
fn state_evidence(image: &Image) -> Vec<Evidence> {
    let mut evidence = Vec::new();
    for name in image.list(CLOUD_DIR) {
        let path = format!("{CLOUD_DIR}/{name}");
        if is_empty_tree(image.fs, Path::new(&path)) {
            continue;
        }
        match name.as_str() {
            "instance" => {
                let text = match image.fs.read_link(Path::new(&path)) {
                    Ok(target) => format!(
                        "links to {}: the template's instance, cloud-init's current one until an instance-id \
                         other than the template's replaces the link",
                        target.display()
                    ),
                    Err(_) => "the current instance's state".to_string(),
                };
                evidence.push(Evidence::file(path, text));
            }
            "instances" => evidence.extend(named_entries(image, &path, |dir, id| {
                let what = if image.exists(&format!("{dir}/sem")) {
                    "its semaphores, user-data and cached datasource"
                } else {
                    "its user-data and cached datasource"
                };
                format!("state of instance {id}: {what}")
            })),
            "seed" => evidence.extend(named_entries(image, &path, |dir, kind| {
                seed_text(image, dir, kind)
            })),
            "sem" => {
                let names = image.list(&path);
                evidence.push(Evidence::file(
                    path,
                    format!(
                        "{} per-once semaphore{} ({}): those modules never run on a clone",
                        names.len(),
                        if names.len() == 1 { "" } else { "s" },
                        shorten(&names)
                    ),
                ));
            }
            "data" => {
                let iid = image
                    .text(&format!("{path}/instance-id"))
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty());
                let text = match iid {
                    Some(iid) => {
                        format!("the last boot's instance-id ({iid}), datasource and result")
                    }
                    None => "the last boot's datasource and result".to_string(),
                };
                evidence.push(Evidence::file(path, text));
            }
            _ => evidence.push(Evidence::file(
                path,
                "cloud-init state of the template's instance",
            )),
        }
    }
    evidence
}

/// One evidence line per entry of `dir` that is more than an empty
/// directory (at most [`MAX_NAMED`], then one saying how many more).
fn named_entries(
    image: &Image,
    dir: &str,
    describe: impl Fn(&str, &str) -> String,
) -> Vec<Evidence> {
    let entries: Vec<String> = image
        .list(dir)
        .into_iter()
        .filter(|n| !is_empty_tree(image.fs, Path::new(&format!("{dir}/{n}"))))
        .collect();
    let mut evidence: Vec<Evidence> = entries
        .iter()
        .take(MAX_NAMED)
        .map(|n| {
            let path = format!("{dir}/{n}");
            let text = describe(&path, n);
            Evidence::file(path, text)
        })
        .collect();
    if entries.len() > MAX_NAMED {
        evidence.push(Evidence::file(
            dir,
            format!("and {} more", entries.len() - MAX_NAMED),
        ));
    }
    evidence
}

/// What a seed directory means for a clone.
fn seed_text(image: &Image, dir: &str, kind: &str) -> String {
    let iid = image
        .text(&format!("{dir}/meta-data"))
        .and_then(|t| meta_data_instance_id(&t));
    let iid = match iid {
        Some(iid) => format!(" (instance-id {iid})"),
        None => String::new(),
    };
    if kind.starts_with("nocloud") {
        format!(
            "a baked NoCloud seed{iid}: found first, in the local stage, so every clone \
             boots with the template's identity and user-data"
        )
    } else {
        format!("a baked {kind} seed{iid}: every clone boots with the template's seed")
    }
}

/// The `instance-id` of a NoCloud meta-data file (YAML, or the `key: value`
/// lines it nearly always is); only for the evidence text.
fn meta_data_instance_id(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("instance-id")?;
        let value = rest.trim_start().strip_prefix(':')?.trim();
        let value = value.trim_matches(|c| c == '"' || c == '\'');
        (!value.is_empty()).then(|| value.chars().take(80).collect())
    })
}

/// The first few names, then how many more.
fn shorten(names: &[String]) -> String {
    const SHOWN: usize = 4;
    let mut out = names
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        out.push_str(&format!(", {} more", names.len() - SHOWN));
    }
    out
}

/// A directory that holds nothing but (possibly nested) empty directories:
/// what a package may ship under /var/lib/cloud, and no state. Links are
/// not followed (a link is state: `instance` is one); a tree too large or
/// too deep to walk counts as not empty.
fn is_empty_tree(fs: &dyn FsView, path: &Path) -> bool {
    let mut budget = 4096usize;
    empty_below(fs, path, 0, &mut budget)
}

fn empty_below(fs: &dyn FsView, path: &Path, depth: usize, budget: &mut usize) -> bool {
    if depth > 16 || *budget == 0 {
        return false;
    }
    *budget -= 1;
    match fs.lstat(path) {
        Some(st) if st.kind == Kind::Dir => {}
        _ => return false,
    }
    let Ok(names) = fs.list_dir(path) else {
        return false;
    };
    names
        .iter()
        .all(|n| empty_below(fs, &path.join(n), depth + 1, budget))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_id_of_meta_data() {
        assert_eq!(
            meta_data_instance_id("local-hostname: t\ninstance-id: iid-template\n"),
            Some("iid-template".into())
        );
        assert_eq!(
            meta_data_instance_id("instance-id: \"iid-q\"\n"),
            Some("iid-q".into())
        );
        assert_eq!(meta_data_instance_id("instance-id:\n"), None);
        assert_eq!(meta_data_instance_id("hostname: x\n"), None);
    }

    #[test]
    fn shorten_counts_the_rest() {
        let names: Vec<String> = (0..6).map(|i| format!("s{i}")).collect();
        assert_eq!(shorten(&names), "s0, s1, s2, s3, 2 more");
        assert_eq!(shorten(&names[..2]), "s0, s1");
    }
}
