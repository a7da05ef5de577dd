//! `dhcp-leases`: DHCP leases the template's instance got from its network,
//! kept in the image.
//!
//! dhclient (and NetworkManager's dhclient) read their lease file when they
//! start and ask the server for the address they had (INIT-REBOOT, a
//! DHCPREQUEST for the old address) before they discover. A clone on
//! another network starts by asking for the template's address: at best a
//! NAK and a few seconds, at worst (the same subnet, a server that honours
//! it) two machines asking for one address. The leases also tell whoever
//! gets the image about the network it was made on. virt-sysprep's
//! `dhcp-client-state` operation removes the same files.

use std::path::Path;

use super::registry::Check;
use super::{Evidence, Finding, Image, Severity};
use crate::effect::Effect;
use crate::rootfs::Kind;

pub const CHECK: Check = Check {
    id: "dhcp-leases",
    about: "DHCP leases of the template's network",
    run,
};

/// Where each client keeps its leases, and which names in there are
/// leases: EL's dhclient (`/var/lib/dhclient/dhclient-eth0.leases`,
/// `dhclient-<uuid>-eth0.lease`), Debian's (`/var/lib/dhcp/dhclient.leases`,
/// `dhclient.eth0.leases`), NetworkManager's (`internal-<uuid>-eth0.lease`,
/// `dhclient-<uuid>-eth0.lease`; dhclient6 leases alike).
/// Tells whether a file name in a lease directory is a lease.
type IsLease = fn(&str) -> bool;

const LEASE_DIRS: &[(&str, IsLease)] = &[
    ("/var/lib/dhclient", any_lease),
    ("/var/lib/dhcp", dhclient_lease),
    ("/var/lib/NetworkManager", any_lease),
];

fn any_lease(name: &str) -> bool {
    name.ends_with(".lease") || name.ends_with(".leases")
}

fn dhclient_lease(name: &str) -> bool {
    (name.starts_with("dhclient") || name.starts_with("dhcpcd")) && any_lease(name)
}

fn run(image: &Image) -> Vec<Finding> {
    let mut evidence = Vec::new();
    let mut fixes = Vec::new();
    for (dir, is_lease) in LEASE_DIRS {
        for name in image.list(dir) {
            if !is_lease(&name) {
                continue;
            }
            let path = format!("{dir}/{name}");
            // A regular file with something in it: an empty file (touched
            // by a package) holds no address, and a link or directory of
            // that name is not a lease.
            let Some(st) = image.fs.lstat(Path::new(&path)) else {
                continue;
            };
            if st.kind != Kind::File || st.len == 0 {
                continue;
            }
            let text = image.text(&path).unwrap_or_default();
            evidence.push(Evidence::file(&path, describe(&text, st.len)));
            fixes.push(Effect::Remove { path: path.into() });
        }
    }
    if evidence.is_empty() {
        return Vec::new();
    }
    vec![Finding {
        id: CHECK.id,
        severity: Severity::Warning,
        title: format!(
            "{} DHCP lease file{} of the template's network",
            evidence.len(),
            if evidence.len() == 1 { "" } else { "s" }
        ),
        evidence,
        breaks: "a clone's DHCP client starts by asking for the template's address \
                 (the lease it finds), which another network refuses or, on the same \
                 network, gives two machines one address; the leases also record the \
                 network the template was made on"
            .into(),
        fix: "remove the lease files (a clone's first DHCP exchange writes its own), as \
              virt-sysprep's dhcp-client-state does"
            .into(),
        fixes,
    }]
}

/// What a lease file holds, in a few words: the address of its last lease
/// (`fixed-address` of dhclient, `ADDRESS=` of NetworkManager's internal
/// client) when it says one.
fn describe(text: &str, len: u64) -> String {
    let mut address = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("fixed-address ") {
            address = Some(rest.trim_end_matches(';').trim().to_string());
        } else if let Some(rest) = line.strip_prefix("ADDRESS=") {
            address = Some(rest.trim().to_string());
        }
    }
    match address {
        Some(a) if !a.is_empty() && a.len() < 64 => format!("a lease of {a} ({len} bytes)"),
        _ => format!("a lease file ({len} bytes)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_names() {
        assert!(any_lease("dhclient-eth0.leases"));
        assert!(any_lease("internal-1234-eth0.lease"));
        assert!(dhclient_lease("dhclient.eth0.leases"));
        assert!(dhclient_lease("dhclient6.leases"));
        assert!(!dhclient_lease("leases.bak"));
        assert!(!any_lease("timestamps"));
    }

    #[test]
    fn the_last_address_is_named() {
        let text = "lease {\n  interface \"eth0\";\n  fixed-address 10.0.0.5;\n}\n\
                    lease {\n  fixed-address 10.0.0.7;\n}\n";
        assert_eq!(describe(text, 80), "a lease of 10.0.0.7 (80 bytes)");
        assert_eq!(describe("\u{0}\u{1}", 2), "a lease file (2 bytes)");
    }
}
