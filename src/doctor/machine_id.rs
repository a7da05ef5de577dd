//! `shared-machine-id`: a machine-id every clone would share.
//!
//! `/etc/machine-id` is made once, on a machine's first boot, when the file
//! is missing, empty or says `uninitialized`. An image that keeps the
//! template's id gives every clone the same one: systemd-networkd derives
//! its DHCP client identifier (the DUID) from it, so clones on one network
//! ask for, and get, the same lease; journald files and D-Bus see one
//! machine. CentOS 6 has no systemd, but its D-Bus keeps its id in
//! `/var/lib/dbus/machine-id` (made by `dbus-uuidgen --ensure` when the
//! messagebus service starts) with the same effect on D-Bus. On Debian
//! that path is a link to `/etc/machine-id`: a link is not a second id.
//!
//! The fix is `cloud-init clean --machine-id`'s (22.4's `cmd/clean.py`
//! removes `/etc/machine-id`; the next boot makes a new one), and removing
//! D-Bus's own file (made again by the next messagebus start).

use std::path::Path;

use super::registry::Check;
use super::{Evidence, Finding, Image, Severity};
use crate::clean::Clean;
use crate::effect::Effect;
use crate::rootfs::Kind;

pub const CHECK: Check = Check {
    id: "shared-machine-id",
    about: "a machine-id every clone would share",
    run,
};

const ETC_MACHINE_ID: &str = "/etc/machine-id";
const DBUS_MACHINE_ID: &str = "/var/lib/dbus/machine-id";

fn run(image: &Image) -> Vec<Finding> {
    let mut evidence = Vec::new();
    let mut fixes = Vec::new();
    if let Some(id) = held_id(image, ETC_MACHINE_ID) {
        evidence.push(Evidence::file(
            ETC_MACHINE_ID,
            format!("holds the template's machine-id {id}"),
        ));
        // clean's own effect for the machine-id, and only that one: the
        // rest of clean (the state under /var/lib/cloud) is another check's.
        let clean = Clean {
            machine_id: true,
            ..Default::default()
        };
        fixes.extend(
            clean
                .effects(image.fs)
                .into_iter()
                .filter(|e| e.path() == Some(Path::new(ETC_MACHINE_ID))),
        );
    }
    // Only a file of its own: Debian's link to /etc/machine-id is not a
    // second id (and removing it would lose the link).
    let dbus_is_file = image
        .fs
        .lstat(Path::new(DBUS_MACHINE_ID))
        .is_some_and(|s| s.kind == Kind::File);
    if dbus_is_file {
        if let Some(id) = held_id(image, DBUS_MACHINE_ID) {
            evidence.push(Evidence::file(
                DBUS_MACHINE_ID,
                format!("holds the template's D-Bus machine id {id}"),
            ));
            fixes.push(Effect::Remove {
                path: DBUS_MACHINE_ID.into(),
            });
        }
    }
    if evidence.is_empty() {
        return Vec::new();
    }
    vec![Finding {
        id: CHECK.id,
        severity: Severity::Error,
        title: "the image holds a machine-id, so every clone has the same one".into(),
        evidence,
        breaks: "every clone boots with the template's machine-id: systemd-networkd derives \
                 its DHCP client identifier (DUID) from it, so clones on one network get the \
                 same DHCP lease (and address); journald and D-Bus see one machine"
            .into(),
        fix: "remove /etc/machine-id (as `cloud-init clean --machine-id` does) and D-Bus's \
              own /var/lib/dbus/machine-id; each clone makes a new id on its first boot"
            .into(),
        fixes,
    }]
}

/// The id a machine-id file holds: none when it is absent, unreadable,
/// empty or `uninitialized` (systemd's "make one on this boot").
fn held_id(image: &Image, path: &str) -> Option<String> {
    let text = image.text(path)?;
    let id = text.trim();
    if id.is_empty() || id == "uninitialized" {
        return None;
    }
    // Show a bounded, printable id (a garbled file is still shared).
    let shown: String = id
        .chars()
        .take(64)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    Some(shown)
}
