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
//! The fix: on an image without systemd, `cloud-init clean --machine-id`'s
//! (22.4's `cmd/clean.py` removes `/etc/machine-id`). On a systemd image
//! that removal makes an unbootable clone: systemd needs the file there to
//! bind-mount a new id over it while /etc is still read-only ("System
//! cannot boot: Missing /etc/machine-id and /etc is mounted read-only",
//! seen with 22.4.2 on Debian 12, kubernetes-sigs/image-builder#2164;
//! cloud-init 23.1 fixed its clean for it, LP: #1999680, PR #1953), so
//! there the file is emptied instead, what machine-id(5) asks of images
//! ("an empty file in the generic file system image"): every systemd
//! makes a new id from an empty file, and unlike `uninitialized` (which
//! newer systemd reads as "first boot") it does not make systemd apply
//! the unit presets again (osbuild's machine-id stage documents the same
//! difference). D-Bus's own file is removed in both cases: the next
//! messagebus start makes it again, and systemd, finding /etc/machine-id
//! empty, would take the id from it when it is not a link (machine-id(5)).

use std::path::Path;

use super::registry::Check;
use super::{Evidence, Finding, Image, Severity};
use crate::clean::Clean;
use crate::distro::init_system::Init;
use crate::effect::{Data, Effect};
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
        if image.init == Init::Systemd || image.distro.systemd {
            // Emptied, in place, its mode kept (see the top of the file).
            let mode = image
                .fs
                .stat(Path::new(ETC_MACHINE_ID))
                .map(|s| s.mode)
                .unwrap_or(0o444);
            fixes.push(Effect::write(ETC_MACHINE_ID, Data::public(""), mode));
        } else {
            // clean's own effect for the machine-id, and only that one:
            // the rest of clean (/var/lib/cloud) is another check's.
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
        fix: "empty /etc/machine-id on a systemd image (removing it leaves systemd unable to \
              boot with a read-only /etc), else remove it as `cloud-init clean --machine-id` \
              does; remove D-Bus's own /var/lib/dbus/machine-id; each clone makes a new id on \
              its first boot"
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
