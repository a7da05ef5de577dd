//! `persistent-net-rules`: udev rules that pin interface names to the
//! template's MAC addresses.
//!
//! udev's persistent-net generator (`75-persistent-net-generator.rules`, EL6,
//! Debian before 8, Ubuntu before 15.04) writes one rule per NIC it sees into
//! `/etc/udev/rules.d/70-persistent-net.rules`:
//! `SUBSYSTEM=="net", ACTION=="add", ... ATTR{address}=="52:54:00:..", ... NAME="eth0"`.
//! Kept in a template, the rule reserves `eth0` for the template's MAC: a
//! clone's NIC (a new MAC) gets the next free name, `eth1`, a new rule is
//! appended for it, and nothing configures `eth1` (ifcfg-eth0, the ENI stanza
//! for eth0 and cloud-init's fallback config all name eth0). On EL6, when the
//! rule's name is taken the NIC is left as `cirename0`. The first
//! boot has no network. virt-sysprep's `udev-persistent-net` removes the
//! file; the generator writes a new one for the NICs the clone has.
//!
//! systemd `.link` files matching a `MACAddress=` would pin names the same
//! way, but images rarely carry them and a hand-written one may be meant
//! for hardware the image will run on; they are not judged here.

use std::path::Path;

use super::registry::Check;
use super::{Evidence, Finding, Image, Severity};
use crate::effect::Effect;

pub const CHECK: Check = Check {
    id: "persistent-net-rules",
    about: "udev rules that pin interface names to the template's MAC addresses",
    run,
};

const RULES: &str = "/etc/udev/rules.d/70-persistent-net.rules";

fn run(image: &Image) -> Vec<Finding> {
    let Some(text) = image.text(RULES) else {
        return Vec::new();
    };
    let pins = pinning_rules(&text);
    if pins.is_empty() {
        return Vec::new();
    }
    let names: Vec<&str> = pins.iter().map(|p| p.name.as_str()).collect();
    let evidence = pins
        .iter()
        .map(|p| {
            Evidence::line(
                RULES,
                p.line,
                format!("{} is named {}: {}", p.mac, p.name, p.text),
            )
        })
        .collect();
    vec![Finding {
        id: CHECK.id,
        severity: Severity::Error,
        title: format!(
            "udev names {} after the template's MAC address{}",
            names.join(", "),
            if pins.len() == 1 { "" } else { "es" }
        ),
        evidence,
        breaks: format!(
            "a clone's NICs have other MAC addresses, so {} stay{} reserved for the \
             template's: the clone's first NIC comes up as eth1 (or, on EL6, \
             cirename0 when the rule's name is taken), and the network config, \
             written for eth0, is not applied: no network on first boot",
            names.join(", "),
            if names.len() == 1 { "s" } else { "" }
        ),
        fix: format!(
            "remove {RULES} (udev's persistent-net generator writes a new one for the \
             clone's own NICs), as virt-sysprep's udev-persistent-net does"
        ),
        fixes: vec![Effect::Remove {
            path: Path::new(RULES).to_path_buf(),
        }],
    }]
}

/// One rule that names an interface after a MAC address.
#[derive(Debug, PartialEq)]
struct Pin {
    line: usize,
    mac: String,
    name: String,
    text: String,
}

/// The rules (one a line; a line ending in `\` continues) that match
/// `ATTR{address}==` (or the old `SYSFS{address}==`) and assign `NAME=`.
fn pinning_rules(text: &str) -> Vec<Pin> {
    let mut pins = Vec::new();
    let mut rule = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        if rule.is_empty() {
            start = i + 1;
        }
        let line = raw.trim();
        if let Some(cont) = line.strip_suffix('\\') {
            rule.push_str(cont);
            rule.push(' ');
            continue;
        }
        rule.push_str(line);
        let whole = std::mem::take(&mut rule);
        if whole.starts_with('#') {
            continue;
        }
        let mac = key_value(&whole, "ATTR{address}", "==")
            .or_else(|| key_value(&whole, "SYSFS{address}", "=="));
        let name = key_value(&whole, "NAME", "=").or_else(|| key_value(&whole, "NAME", ":="));
        if let (Some(mac), Some(name)) = (mac, name) {
            if mac.contains(':') && !name.is_empty() {
                let mut shown: String = whole.chars().take(200).collect();
                if shown.len() < whole.len() {
                    shown.push_str("...");
                }
                pins.push(Pin {
                    line: start,
                    mac,
                    name,
                    text: shown,
                });
            }
        }
    }
    pins
}

/// The quoted value of `KEY<op>"value"` in a rule (`op` exact: `NAME=`
/// is not `NAME==`).
fn key_value(rule: &str, key: &str, op: &str) -> Option<String> {
    for part in rule.split(',') {
        let part = part.trim();
        let Some(rest) = part.strip_prefix(key) else {
            continue;
        };
        let Some(value) = rest.trim_start().strip_prefix(op) else {
            continue;
        };
        // `NAME=` must not read `NAME==` (a match, not an assignment).
        if op == "=" && value.starts_with('=') {
            continue;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        return Some(value.to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const EL6: &str = "\
# This file was automatically generated by the /lib/udev/write_net_rules
# program, run by the persistent-net-generator.rules rules file.
#
# You can modify it, as long as you keep each rule on a single
# line, and change only the value of the NAME= key.

# PCI device 0x1af4:0x1000 (virtio-pci)
SUBSYSTEM==\"net\", ACTION==\"add\", DRIVERS==\"?*\", ATTR{address}==\"52:54:00:12:34:56\", ATTR{type}==\"1\", KERNEL==\"eth*\", NAME=\"eth0\"
";

    #[test]
    fn a_generated_rule_pins_eth0() {
        let pins = pinning_rules(EL6);
        assert_eq!(pins.len(), 1);
        assert_eq!(pins[0].line, 8);
        assert_eq!(pins[0].mac, "52:54:00:12:34:56");
        assert_eq!(pins[0].name, "eth0");
    }

    #[test]
    fn comments_matches_and_continued_lines() {
        assert!(pinning_rules("# only a comment\n\n").is_empty());
        assert!(pinning_rules(
            "# SUBSYSTEM==\"net\", ATTR{address}==\"aa:bb:cc:dd:ee:ff\", NAME=\"eth0\"\n"
        )
        .is_empty());
        // A rule that matches on NAME only names nothing.
        assert!(pinning_rules("SUBSYSTEM==\"net\", ATTR{address}==\"aa:bb:cc:dd:ee:ff\", NAME==\"eth0\", RUN+=\"x\"\n").is_empty());
        let pins = pinning_rules(
            "\n\nSUBSYSTEM==\"net\", ATTR{address}==\"aa:bb:cc:dd:ee:ff\", \\\n NAME=\"eth1\"\n",
        );
        assert_eq!(pins.len(), 1);
        assert_eq!((pins[0].line, pins[0].name.as_str()), (3, "eth1"));
    }
}
