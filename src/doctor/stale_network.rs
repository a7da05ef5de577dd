//! `stale-network-config`: network files the template kept that a clone
//! would come up with.
//!
//! Three kinds:
//!
//! - Files cloud-init (or cloudboot) rendered for the template's instance:
//!   sysconfig `ifcfg-*`/`route-*`/`route6-*` headed "Created by cloud-init"
//!   (`_make_header` of `cloudinit/net/sysconfig.py`, or `util.make_header`'s
//!   "# Created by cloud-init v. X on DATE" of older releases), ENI
//!   `/etc/network/interfaces.d/50-cloud-init(.cfg)` (and
//!   `/etc/network/interfaces` headed by `distros/debian.py`'s
//!   `NETWORK_FILE_HEADER`), netplan `/etc/netplan/50-cloud-init.yaml`,
//!   networkd `/etc/systemd/network/10-cloud-init-*.network`
//!   (`net/networkd.py`), NetworkManager
//!   `/etc/NetworkManager/system-connections/cloud-init-*.nmconnection`
//!   (`net/network_manager.py`). They describe the template's NICs: its
//!   static addresses (the clone comes up with them: the template's address
//!   twice on one network), its MAC addresses (`HWADDR=`, netplan's
//!   `match: macaddress`). An error when they hold static addresses, a
//!   warning otherwise; the fix removes them (the clone's first boot renders
//!   its own from its own metadata).
//! - An installer- or hand-written `ifcfg-*` that pins the template's NIC:
//!   `HWADDR=`/`MACADDR=` (initscripts refuse the device on a clone, "Device
//!   eth0 has different MAC address than expected, ignoring.") and `UUID=`
//!   (NetworkManager's id of the template's connection). The fix drops those
//!   lines and keeps the rest, as virt-sysprep's `net-hwaddr` does.
//! - Such a file with a static address (`BOOTPROTO=none|static`, or none,
//!   and `IPADDR*`): every clone comes up with the template's address. The
//!   fix gives eth0 the distro's plain DHCP file and removes the others.
//!
//! When the image's cloud-init has `network: {config: disabled}`, nothing
//! renders a new config on first boot: removing cloud-init's `ifcfg-eth0`
//! would leave the first NIC with none, so seal writes the plain DHCP file
//! for it instead; the other formats are left to a person.

use std::path::Path;

use super::registry::Check;
use super::{Evidence, Finding, Image, Severity};
use crate::effect::{Data, Effect};
use crate::rootfs::Kind;

pub const CHECK: Check = Check {
    id: "stale-network-config",
    about: "network config the template's instance left behind",
    run,
};

const SCRIPTS: &str = "/etc/sysconfig/network-scripts";

/// The NIC a clone always has, and the one its config must not go missing
/// for.
const FIRST_NIC: &str = "eth0";

/// The distro's own file for a DHCP NIC, as anaconda and the cloud images
/// of EL write it (no HWADDR, no UUID).
fn dhcp_ifcfg(device: &str) -> String {
    format!("DEVICE={device}\nBOOTPROTO=dhcp\nONBOOT=yes\nTYPE=Ethernet\n")
}

fn run(image: &Image) -> Vec<Finding> {
    let disabled = network_config_disabled(image);
    let mut out = Vec::new();
    sysconfig(image, disabled, &mut out);
    rendered_elsewhere(image, disabled, &mut out);
    out
}

/// `network: {config: disabled}` in the image's cloud.cfg(.d): no new
/// network config is rendered on a clone's first boot.
fn network_config_disabled(image: &Image) -> bool {
    image
        .cfg
        .get("network")
        .and_then(|n| n.get("config"))
        .and_then(|c| c.as_str())
        == Some("disabled")
}

/// initscripts' `is_ignored_file`: backup names it never reads.
fn ignored_name(name: &str) -> bool {
    name.ends_with('~')
        || [".bak", ".orig", ".rpmnew", ".rpmorig", ".rpmsave"]
            .iter()
            .any(|s| name.ends_with(s))
}

/// Whether the first lines say cloud-init wrote the file.
fn rendered_by_cloud_init(text: &str) -> bool {
    text.lines()
        .take(3)
        .any(|l| l.starts_with('#') && l.contains("Created by cloud-init"))
}

/// `KEY=value` lines of a shell-style file: (1-based line, key, value
/// without quotes).
fn assignments(text: &str) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        out.push((i + 1, key.to_string(), value.to_string()));
    }
    out
}

fn value_of<'a>(kv: &'a [(usize, String, String)], key: &str) -> Option<&'a str> {
    kv.iter()
        .rev()
        .find(|(_, k, _)| k == key)
        .map(|(_, _, v)| v.as_str())
}

/// A static address: `BOOTPROTO` none or static (initscripts read no
/// BOOTPROTO as none) with an `IPADDR`/`IPADDRn`, or an `IPV6ADDR`.
fn static_lines(kv: &[(usize, String, String)]) -> Vec<usize> {
    let proto = value_of(kv, "BOOTPROTO")
        .unwrap_or("none")
        .to_ascii_lowercase();
    let v4 = matches!(proto.as_str(), "none" | "static" | "");
    kv.iter()
        .filter(|(_, k, v)| {
            !v.is_empty()
                && ((v4 && is_ipaddr_key(k))
                    || k == "IPV6ADDR"
                    || k == "IPV6ADDR_SECONDARIES"
                    || (v4 && k == "GATEWAY"))
        })
        .map(|(n, _, _)| *n)
        .collect()
}

fn is_ipaddr_key(k: &str) -> bool {
    k.strip_prefix("IPADDR")
        .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit()))
}

fn line_text(text: &str, n: usize) -> String {
    text.lines().nth(n - 1).unwrap_or("").trim().to_string()
}

fn is_regular(image: &Image, path: &str) -> bool {
    matches!(image.fs.lstat(Path::new(path)), Some(s) if s.kind == Kind::File)
}

/// Whether `text` is the whole file, byte for byte.
fn read_exactly(image: &Image, path: &str, text: &str) -> bool {
    image
        .fs
        .read_at_most(Path::new(path), 1 << 20)
        .is_ok_and(|raw| raw.len() <= 1 << 20 && raw == text.as_bytes())
}

fn mode_of(image: &Image, path: &str) -> u32 {
    image.fs.stat(Path::new(path)).map_or(0o644, |s| s.mode)
}

fn sysconfig(image: &Image, disabled: bool, out: &mut Vec<Finding>) {
    for name in image.list(SCRIPTS) {
        if ignored_name(&name) {
            continue;
        }
        let (kind, device) = if let Some(d) = name.strip_prefix("ifcfg-") {
            ("ifcfg", d)
        } else if let Some(d) = name.strip_prefix("route6-") {
            ("route", d)
        } else if let Some(d) = name.strip_prefix("route-") {
            ("route", d)
        } else {
            continue;
        };
        let path = format!("{SCRIPTS}/{name}");
        if !is_regular(image, &path) {
            continue;
        }
        let Some(text) = image.text(&path) else {
            continue;
        };
        let kv = assignments(&text);
        let device = value_of(&kv, "DEVICE").unwrap_or(device).to_string();
        if device == "lo" {
            continue;
        }
        if rendered_by_cloud_init(&text) {
            out.push(rendered_sysconfig(
                image, &path, &text, &kv, kind, &device, disabled,
            ));
        } else if kind == "ifcfg" {
            if let Some(f) = hand_written_ifcfg(image, &path, &text, &kv, &device) {
                out.push(f);
            }
        }
    }
}

/// A sysconfig file cloud-init rendered for the template's instance.
fn rendered_sysconfig(
    image: &Image,
    path: &str,
    text: &str,
    kv: &[(usize, String, String)],
    kind: &str,
    device: &str,
    disabled: bool,
) -> Finding {
    let header = text
        .lines()
        .position(|l| l.contains("Created by cloud-init"))
        .unwrap_or(0)
        + 1;
    let mut evidence = vec![Evidence::line(
        path,
        header,
        format!(
            "{} (rendered for the template's instance)",
            line_text(text, header)
        ),
    )];
    let routes: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(i, _)| i + 1)
        .collect();
    let (static_at, pins): (Vec<usize>, Vec<usize>) = if kind == "ifcfg" {
        (
            static_lines(kv),
            kv.iter()
                .filter(|(_, k, v)| matches!(k.as_str(), "HWADDR" | "MACADDR") && !v.is_empty())
                .map(|(n, _, _)| *n)
                .collect(),
        )
    } else {
        (routes, Vec::new())
    };
    let mut shown: Vec<usize> = static_at.iter().chain(&pins).copied().collect();
    shown.sort_unstable();
    shown.dedup();
    for n in shown {
        evidence.push(Evidence::line(path, n, line_text(text, n)));
    }
    let is_static = !static_at.is_empty();
    let what = if kind == "ifcfg" { "config" } else { "routes" };
    let title = if is_static {
        format!("cloud-init's {what} for {device} from the template's instance, with its static addresses")
    } else {
        format!("cloud-init's {what} for {device} from the template's instance")
    };
    let breaks = if is_static {
        format!(
            "a clone brings {device} up with the template's addresses{}: two machines with one \
             address on the same network, a wrong address (and no route) on another, and the \
             clone's own config is added next to it",
            if kind == "route" { " and routes" } else { "" }
        )
    } else {
        format!(
            "a clone comes up with the template's {device} config ({}) until its own is \
             rendered; a NIC the clone does not have is still configured",
            if pins.is_empty() {
                "its options"
            } else {
                "pinned to the template's MAC address: initscripts ignore the clone's NIC"
            }
        )
    };
    let write_dhcp = disabled && kind == "ifcfg" && device == FIRST_NIC;
    let (fix, fixes) = if write_dhcp {
        (
            format!(
                "replace {path} with the distro's plain DHCP config for {device} (DEVICE, \
                 BOOTPROTO=dhcp, ONBOOT=yes, TYPE=Ethernet): cloud-init's network config is \
                 disabled in this image, so nothing would render a new one"
            ),
            vec![Effect::write(
                path,
                Data::public(dhcp_ifcfg(device)),
                mode_of(image, path),
            )],
        )
    } else {
        removal(path)
    };
    Finding {
        id: CHECK.id,
        severity: severity(is_static),
        title,
        evidence,
        breaks,
        fix,
        fixes,
    }
}

/// An `ifcfg-*` the installer or a person wrote: a static address, or the
/// template's MAC and connection UUID.
fn hand_written_ifcfg(
    image: &Image,
    path: &str,
    text: &str,
    kv: &[(usize, String, String)],
    device: &str,
) -> Option<Finding> {
    let pins: Vec<&(usize, String, String)> = kv
        .iter()
        .filter(|(_, k, v)| matches!(k.as_str(), "HWADDR" | "MACADDR" | "UUID") && !v.is_empty())
        .collect();
    let static_at = static_lines(kv);
    if pins.is_empty() && static_at.is_empty() {
        return None;
    }
    let mut lines: Vec<usize> = static_at
        .iter()
        .copied()
        .chain(pins.iter().map(|(n, _, _)| *n))
        .collect();
    lines.sort_unstable();
    lines.dedup();
    let evidence = lines
        .iter()
        .map(|&n| Evidence::line(path, n, line_text(text, n)))
        .collect();
    let mode = mode_of(image, path);
    if !static_at.is_empty() {
        let first = device == FIRST_NIC;
        return Some(Finding {
            id: CHECK.id,
            severity: Severity::Error,
            title: format!("{device} has the template's static address"),
            evidence,
            breaks: format!(
                "every clone brings {device} up with the template's address: two machines \
                 with one address on the same network, a wrong address and no route on \
                 another; the address the cloud gives the clone is never asked for"
            ),
            fix: if first {
                format!(
                    "replace {path} with the distro's plain DHCP config (DEVICE={device}, \
                     BOOTPROTO=dhcp, ONBOOT=yes, TYPE=Ethernet)"
                )
            } else {
                format!("remove {path} (the clone's first boot renders config for the NICs it has)")
            },
            fixes: if first {
                vec![Effect::write(path, Data::public(dhcp_ifcfg(device)), mode)]
            } else {
                vec![Effect::Remove { path: path.into() }]
            },
        });
    }
    let keys: Vec<&str> = pins.iter().map(|(_, k, _)| k.as_str()).collect();
    let drop: Vec<usize> = pins.iter().map(|(n, _, _)| *n).collect();
    let kept: String = text
        .split_inclusive('\n')
        .enumerate()
        .filter(|(i, _)| !drop.contains(&(i + 1)))
        .map(|(_, l)| l)
        .collect();
    let has_mac = keys.iter().any(|k| *k != "UUID");
    Some(Finding {
        id: CHECK.id,
        severity: Severity::Error,
        title: format!(
            "{device}'s config is pinned to the template's NIC ({})",
            keys.join(", ")
        ),
        evidence,
        breaks: if has_mac {
            format!(
                "a clone's NIC has another MAC address: initscripts refuse it (\"Device \
                 {device} has different MAC address than expected, ignoring.\") and \
                 NetworkManager does not match the connection to it: no network on first boot"
            )
        } else {
            "every clone carries the template's connection UUID: NetworkManager sees one \
             connection on many machines (and a UUID a management tool already knows)"
                .into()
        },
        fix: format!(
            "remove the {} line{} from {path} and keep the rest, as virt-sysprep's net-hwaddr does",
            keys.join(", "),
            if keys.len() == 1 { "" } else { "s" }
        ),
        // Only a file read whole and exactly (text, at most 1 MiB) is
        // rewritten: anything else would lose bytes.
        fixes: if read_exactly(image, path, text) {
            vec![Effect::write(path, Data::public(kept.into_bytes()), mode)]
        } else {
            Vec::new()
        },
    })
}

/// cloud-init's output in the other formats, each file a finding.
fn rendered_elsewhere(image: &Image, disabled: bool, out: &mut Vec<Finding>) {
    let mut files: Vec<(String, Format)> = Vec::new();
    for name in ["50-cloud-init", "50-cloud-init.cfg"] {
        files.push((format!("/etc/network/interfaces.d/{name}"), Format::Eni));
    }
    files.push(("/etc/network/interfaces".into(), Format::Eni));
    files.push(("/etc/netplan/50-cloud-init.yaml".into(), Format::Netplan));
    for name in image.list("/etc/systemd/network") {
        if name.starts_with("10-cloud-init-") && name.ends_with(".network") {
            files.push((format!("/etc/systemd/network/{name}"), Format::Networkd));
        }
    }
    for name in image.list("/etc/NetworkManager/system-connections") {
        if name.starts_with("cloud-init-") && name.ends_with(".nmconnection") {
            files.push((
                format!("/etc/NetworkManager/system-connections/{name}"),
                Format::Nm,
            ));
        }
    }
    for (path, format) in files {
        if !is_regular(image, &path) {
            continue;
        }
        let Some(text) = image.text(&path) else {
            continue;
        };
        // The main ENI file is cloud-init's only when its header says so
        // (Debian's own `source /etc/network/interfaces.d/*` is not).
        if path == "/etc/network/interfaces"
            && !text.starts_with("# This file is generated from information provided by")
        {
            continue;
        }
        let static_at = format.static_lines(&text);
        out.push(rendered_file(&path, &text, &static_at, disabled));
    }
}

#[derive(Clone, Copy)]
enum Format {
    Eni,
    Netplan,
    Networkd,
    Nm,
}

impl Format {
    /// The lines that give an interface a static address.
    fn static_lines(self, text: &str) -> Vec<usize> {
        let lines: Vec<&str> = text.lines().collect();
        let mut out = Vec::new();
        for (i, raw) in lines.iter().enumerate() {
            let line = raw.trim();
            if line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let hit = match self {
                Format::Eni => {
                    let words: Vec<&str> = line.split_whitespace().collect();
                    (words.first() == Some(&"iface")
                        && words.get(1) != Some(&"lo")
                        && words.get(3) == Some(&"static"))
                        || words.first() == Some(&"address")
                }
                Format::Netplan => line.starts_with("addresses:") && !under_nameservers(&lines, i),
                Format::Networkd => line.starts_with("Address="),
                Format::Nm => {
                    line == "method=manual" || (line.starts_with("address") && line.contains('='))
                }
            };
            if hit {
                out.push(i + 1);
            }
        }
        out
    }
}

/// Whether netplan's `addresses:` at line `i` (0-based) is the DNS servers'
/// list of a `nameservers:` block, not the interface's own.
fn under_nameservers(lines: &[&str], i: usize) -> bool {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let own = indent(lines[i]);
    lines[..i]
        .iter()
        .rev()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .find(|l| indent(l) < own)
        .is_some_and(|l| l.trim().starts_with("nameservers:"))
}

fn rendered_file(path: &str, text: &str, static_at: &[usize], disabled: bool) -> Finding {
    let mut evidence = vec![Evidence::file(
        path,
        "written by cloud-init for the template's instance",
    )];
    for &n in static_at {
        evidence.push(Evidence::line(path, n, line_text(text, n)));
    }
    let is_static = !static_at.is_empty();
    let (fix, fixes) = if disabled {
        (
            format!(
                "cloud-init's network config is disabled in this image (network: {{config: \
                 disabled}}), so nothing renders a new config and removing {path} could leave \
                 the clone with none: replace it by hand with plain DHCP for the first NIC (no \
                 addresses, no MAC match), or enable cloud-init's network config and remove it"
            ),
            Vec::new(),
        )
    } else {
        removal(path)
    };
    Finding {
        id: CHECK.id,
        severity: severity(is_static),
        title: if is_static {
            format!("cloud-init's network config from the template's instance, with static addresses ({path})")
        } else {
            format!("cloud-init's network config from the template's instance ({path})")
        },
        evidence,
        breaks: if is_static {
            "a clone brings its NICs up with the template's static addresses: two machines \
             with one address on the same network, a wrong address on another"
                .into()
        } else {
            "a clone starts with the template's network config (its interface names, MAC \
             matches and options) until its own is rendered"
                .into()
        },
        fix,
        fixes,
    }
}

/// The fix for a file the clone's first boot writes again: its removal.
fn removal(path: &str) -> (String, Vec<Effect>) {
    (
        format!(
            "remove {path}: the clone's first boot renders the network config of its own instance"
        ),
        vec![Effect::Remove { path: path.into() }],
    )
}

/// Static addresses leak the template's into every clone (an error); a
/// DHCP config only carries its names and MACs (a warning).
fn severity(is_static: bool) -> Severity {
    if is_static {
        Severity::Error
    } else {
        Severity::Warning
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_and_dhcp_ifcfg() {
        let kv = assignments("DEVICE=eth1\nBOOTPROTO=none\nIPADDR=10.0.0.5\nNETMASK=255.255.255.0\nGATEWAY=10.0.0.1\n");
        assert_eq!(static_lines(&kv), vec![3, 5]);
        let kv = assignments("DEVICE=eth0\nBOOTPROTO=dhcp\nONBOOT=yes\n");
        assert!(static_lines(&kv).is_empty());
        // No BOOTPROTO is none.
        let kv = assignments("DEVICE=eth2\nIPADDR1='192.168.1.2'\n");
        assert_eq!(static_lines(&kv), vec![2]);
        assert_eq!(kv[1].2, "192.168.1.2");
    }

    #[test]
    fn headers() {
        assert!(rendered_by_cloud_init(
            "# Created by cloud-init on instance boot automatically, do not edit.\n#\nBOOTPROTO=dhcp\n"
        ));
        assert!(rendered_by_cloud_init(
            "# Created by cloud-init v. 0.7.5 on Mon, 01 Jan 2018 00:00:00 +0000\nDEVICE=eth0\n"
        ));
        assert!(!rendered_by_cloud_init("DEVICE=eth0\nBOOTPROTO=dhcp\n"));
    }

    #[test]
    fn netplan_dns_addresses_are_not_static() {
        let text = "network:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: true\n      nameservers:\n        addresses: [8.8.8.8]\n";
        assert!(Format::Netplan.static_lines(text).is_empty());
        let text = "network:\n  ethernets:\n    eth0:\n      addresses:\n      - 10.0.0.5/24\n";
        assert_eq!(Format::Netplan.static_lines(text), vec![4]);
    }

    #[test]
    fn eni_static() {
        let text = "auto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet static\n    address 10.0.0.5/24\n";
        assert_eq!(Format::Eni.static_lines(text), vec![5, 6]);
        assert!(Format::Eni
            .static_lines("auto eth0\niface eth0 inet dhcp\n")
            .is_empty());
    }
}
