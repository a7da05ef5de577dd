//! `datasource-wait`: `datasource_list` names datasources the image will
//! look for in vain, or does not name the one it needs.
//!
//! A network datasource whose metadata service does not answer is waited
//! for: Ec2 and CloudStack up to 120 s each (22.4's `url_max_wait`), and
//! only then is the next one tried; without ds-identify (SysV and upstart
//! images, where no generator narrows the list to the platform) each of
//! them is tried on every cloud. A name cloud-init does not know (`EC2`,
//! `Openstack`) is skipped without a word, and a list without the new
//! cloud's datasource ends in `None`: no user-data, no keys, no network
//! config. What the new cloud is only the operator knows: `--cloud NAME`
//! says it, and seal then writes `datasource_list: [NAME, None]` in a
//! cloud.cfg.d file of its own. Without it, only unknown names are fixed.

use super::registry::Check;
use super::{Finding, Image, Severity};
use crate::datasource::registry::{bare_name, CLOUD_INIT_DATASOURCES};
use crate::distro::init_system::Init;
use crate::effect::{Data, Effect};
use crate::value::Value;

pub const CHECK: Check = Check {
    id: "datasource-wait",
    about:
        "datasource_list names datasources this image waits for in vain, or lacks the new cloud's",
    run,
};

/// The file seal writes (late in cloud.cfg.d's order, so its list wins).
pub const DROP_IN: &str = "/etc/cloud/cloud.cfg.d/99-cloudboot-seal-datasource.cfg";

/// Network datasources that wait for a metadata service that does not
/// answer, and 22.4's default wait in seconds (`url_max_wait`; OpenStack's
/// -1 is one try of `url_timeout`, 10 s). The others identify their
/// platform first (DMI, a file) and give up at once elsewhere.
const WAITS: [(&str, u64); 5] = [
    ("Ec2", 120),
    ("AliYun", 120),
    ("CloudStack", 120),
    ("Exoscale", 120),
    ("OpenStack", 10),
];

/// Datasources found on a disk (or a socket) in the local stage, before
/// any network datasource is tried: on their clouds nothing is waited for.
const LOCAL: [&str; 6] = [
    "NoCloud",
    "ConfigDrive",
    "OpenNebula",
    "AltCloud",
    "OVF",
    "LXD",
];

fn run(image: &Image) -> Vec<Finding> {
    let Some(list) = image.cfg.get("datasource_list").and_then(Value::as_seq) else {
        return Vec::new();
    };
    let names: Vec<String> = list
        .iter()
        .filter_map(Value::as_str)
        .map(|s| bare_name(s).to_string())
        .collect();
    // Only a list an image's files set: the built-in default is every
    // datasource, narrowed by platform detection.
    let Some(evidence) = image.line_of("datasource_list") else {
        return Vec::new();
    };
    let unknown: Vec<&String> = names.iter().filter(|n| !known(n)).collect();
    let mut findings = Vec::new();
    match image.options.cloud.as_deref().map(bare_name) {
        Some(cloud) => {
            let cloud = canonical(cloud).unwrap_or(cloud).to_string();
            let at = names.iter().position(|n| *n == cloud);
            // A cloud whose datasource is on a disk is found in the local
            // stage: the network datasources listed before it never run.
            let waits: Vec<(&str, u64)> = match at {
                Some(_) if LOCAL.contains(&cloud.as_str()) => Vec::new(),
                _ => names[..at.unwrap_or(names.len())]
                    .iter()
                    .filter_map(|n| wait_of(image, n))
                    .collect(),
            };
            let total: u64 = waits.iter().map(|w| w.1).sum();
            let problem = match at {
                None => Some((
                    Severity::Error,
                    format!("datasource_list does not name {cloud}, the new cloud's datasource"),
                    format!(
                        "the image never looks for {cloud}'s metadata: it boots with the \
                         None datasource (no user-data, no SSH keys, no network config){}",
                        wait_words(&waits, total)
                    ),
                )),
                Some(_) if !waits.is_empty() => Some((
                    Severity::Warning,
                    format!(
                        "datasource_list tries {} before {cloud}",
                        list_words(&waits)
                    ),
                    format!("every first boot on {cloud}{}", wait_words(&waits, total)),
                )),
                Some(_) if !unknown.is_empty() => Some((
                    Severity::Warning,
                    format!(
                        "datasource_list names {} that cloud-init does not know",
                        quoted(&unknown)
                    ),
                    "cloud-init skips those names without a word".into(),
                )),
                Some(_) => None,
            };
            if let Some((severity, title, breaks)) = problem {
                findings.push(Finding {
                    id: CHECK.id,
                    severity,
                    title,
                    evidence: vec![evidence],
                    breaks,
                    fix: format!("datasource_list: [{cloud}, None] (in {DROP_IN})"),
                    fixes: vec![drop_in(
                        &[cloud.as_str(), "None"],
                        &format!("--cloud {cloud}"),
                    )],
                });
            }
        }
        None => {
            if !unknown.is_empty() {
                let kept: Vec<&str> = names
                    .iter()
                    .filter(|n| known(n))
                    .map(String::as_str)
                    .collect();
                let hints: Vec<String> = unknown
                    .iter()
                    .filter_map(|n| canonical(n).map(|c| format!("{n} is {c}")))
                    .collect();
                findings.push(Finding {
                    id: CHECK.id,
                    severity: Severity::Warning,
                    title: format!(
                        "datasource_list names {} that cloud-init does not know{}",
                        quoted(&unknown),
                        if hints.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", hints.join(", "))
                        }
                    ),
                    evidence: vec![evidence.clone()],
                    breaks: "cloud-init skips those names without a word: the cloud they \
                             were meant for is not looked for"
                        .into(),
                    fix: format!(
                        "datasource_list without them: {kept:?} (in {DROP_IN}); or give \
                         --cloud NAME to name the new cloud's"
                    ),
                    fixes: vec![drop_in(&kept, "names cloud-init does not know removed")],
                });
            }
            // Without ds-identify every waiting source is tried in turn.
            let waits: Vec<(&str, u64)> = names.iter().filter_map(|n| wait_of(image, n)).collect();
            if image.init != Init::Systemd && waits.len() >= 2 {
                let all: u64 = waits.iter().map(|w| w.1).sum();
                let but_last: u64 = waits[..waits.len() - 1].iter().map(|w| w.1).sum();
                findings.push(Finding {
                    id: CHECK.id,
                    severity: Severity::Warning,
                    title: format!(
                        "datasource_list tries {} in turn, with no ds-identify to rule them out",
                        list_words(&waits)
                    ),
                    evidence: vec![evidence],
                    breaks: format!(
                        "on a cloud that serves none of them (one whose data is on a \
                         disk the local stage did not find, or at another address), each \
                         boot waits up to {all} s; on one that serves only the last, up to \
                         {but_last} s"
                    ),
                    fix: "give the new cloud: `cloudboot seal --cloud NAME` sets \
                          datasource_list to that datasource and None"
                        .into(),
                    fixes: Vec::new(),
                });
            }
        }
    }
    findings
}

/// A datasource name cloud-init 22.4 loads (names are case-sensitive: it
/// imports `DataSource<Name>`).
fn known(name: &str) -> bool {
    CLOUD_INIT_DATASOURCES.contains(&name)
}

/// The datasource a misspelt name means, by case.
fn canonical(name: &str) -> Option<&'static str> {
    CLOUD_INIT_DATASOURCES
        .iter()
        .copied()
        .find(|k| k.eq_ignore_ascii_case(name))
}

/// How long the image may wait for `name`'s metadata service: 22.4's
/// default, or the image's `datasource: {NAME: {max_wait: N}}`.
fn wait_of<'a>(image: &Image, name: &'a str) -> Option<(&'a str, u64)> {
    let default = WAITS.iter().find(|(n, _)| *n == name)?.1;
    let configured = image
        .cfg
        .get("datasource")
        .and_then(|d| d.get(name))
        .and_then(|d| d.get("max_wait"))
        .and_then(|v| match v {
            Value::Int(i) => Some(*i),
            other => other.as_str()?.trim().parse().ok(),
        });
    let wait = match configured {
        Some(w) if w <= 0 => return None,
        Some(w) => w as u64,
        None => default,
    };
    Some((name, wait))
}

fn list_words(waits: &[(&str, u64)]) -> String {
    waits
        .iter()
        .map(|(n, s)| format!("{n} (up to {s} s)"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn wait_words(waits: &[(&str, u64)], total: u64) -> String {
    if waits.is_empty() {
        String::new()
    } else {
        format!(", after waiting up to {total} s for {}", list_words(waits))
    }
}

fn quoted(names: &[&String]) -> String {
    names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The cloud.cfg.d file that sets `datasource_list`.
fn drop_in(list: &[&str], why: &str) -> Effect {
    let text = format!(
        "# Written by cloudboot seal ({why}).\ndatasource_list: [{}]\n",
        list.join(", ")
    );
    Effect::write(DROP_IN, Data::public(text), 0o644)
}
