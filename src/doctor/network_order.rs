//! `network-before-local`: on a SysV image, the network service starts
//! before the local stage.
//!
//! The local stage (cloudboot's or cloud-init's) writes the network
//! config of the new instance (ifcfg files from `network_data.json`, ...)
//! before anything brings the network up. When `network` or
//! `NetworkManager` starts first, it brings up the template's config (or
//! DHCP), and the static addresses written a moment later are never
//! applied until the next restart. CentOS 6 is the classic case:
//! NetworkManager at S23 and a local stage after it; the fix people use is
//! renaming `S23NetworkManager` to `S54NetworkManager`. seal moves the
//! local stage instead, before the first network service (cloudboot's own
//! priority, S07, where that is early enough), so that the network stage,
//! which needs the network up, still starts after it.
//!
//! Only chkconfig-style images (`/etc/rc.d/init.d`, links by priority) are
//! fixed: on Debian's SysV, insserv orders the links from the scripts'
//! headers and would undo a renamed link; `cloudboot install` gives the
//! local stage the header that puts it before `networking`.

use std::path::Path;

use super::registry::Check;
use super::{Evidence, Finding, Image, Severity};
use crate::distro::init_system::{
    self, default_runlevel, initd_dir, rc_dir, rc_links, Init, RcLink,
};
use crate::effect::Effect;

pub const CHECK: Check = Check {
    id: "network-before-local",
    about: "the network service starts before the local stage, so the network config it writes is not applied",
    run,
};

/// The local stages: cloudboot's and cloud-init's.
const LOCAL_STAGES: [&str; 2] = ["cloudboot-local", "cloud-init-local"];
/// The services that bring the network up on SysV images.
const NETWORK_SERVICES: [&str; 3] = ["network", "NetworkManager", "networking"];
/// Where `cloudboot install` puts the local stage (before `network`, S10).
const LOCAL_PRIORITY: u32 = crate::install::SYSV_START[0];

fn run(image: &Image) -> Vec<Finding> {
    if image.init != Init::Sysv {
        return Vec::new();
    }
    let fs = image.fs;
    let level = default_runlevel(fs);
    // The order init starts things in: runlevel S (Debian's rcS.d) first,
    // then the default runlevel, each by name.
    let mut order: Vec<RcLink> = Vec::new();
    for dir in [rc_dir(fs, "S"), rc_dir(fs, &level)] {
        order.extend(rc_links(fs, &dir).into_iter().filter(|l| l.kind == 'S'));
    }
    let mut findings = Vec::new();
    for local in LOCAL_STAGES {
        let Some(at) = order.iter().position(|l| l.service == local) else {
            continue;
        };
        let before: Vec<&RcLink> = order[..at]
            .iter()
            .filter(|l| NETWORK_SERVICES.contains(&l.service.as_str()))
            .collect();
        if before.is_empty() {
            continue;
        }
        let local_link = &order[at];
        let mut evidence: Vec<Evidence> = before
            .iter()
            .map(|l| {
                Evidence::file(
                    &l.path,
                    format!("{} starts at {:02}", l.service, l.priority),
                )
            })
            .collect();
        evidence.push(Evidence::file(
            &local_link.path,
            format!(
                "the local stage ({local}) starts at {:02}, after them",
                local_link.priority
            ),
        ));
        let first_network = before.iter().map(|l| l.priority).min().unwrap_or(0);
        let new_priority = LOCAL_PRIORITY.min(first_network.saturating_sub(1)).max(1);
        let fixes = if init_system::links_by_update_rc_d(fs) || new_priority >= first_network {
            Vec::new()
        } else {
            move_start_links(image, local, new_priority)
        };
        findings.push(Finding {
            id: CHECK.id,
            severity: Severity::Error,
            title: format!(
                "{} start{} before the local stage ({local})",
                before
                    .iter()
                    .map(|l| l.service.as_str())
                    .collect::<Vec<_>>()
                    .join(" and "),
                if before.len() == 1 { "s" } else { "" }
            ),
            evidence,
            breaks: "the network comes up with the template's config (or DHCP) before the \
                     local stage writes the new instance's; static addresses from the new \
                     cloud's metadata are not applied on first boot"
                .into(),
            fix: if fixes.is_empty() {
                "run `cloudboot install` on the image: its local stage is an rcS script \
                 ordered before networking"
                    .into()
            } else {
                format!(
                    "start the local stage at S{new_priority:02}, before the network \
                     services (its start links renamed in runlevels 2-5; `cloudboot \
                     install` makes the same order lasting)"
                )
            },
            fixes,
        });
    }
    findings
}

/// The local stage's start links in runlevels 2-5 renamed to `priority`:
/// the same link target under the new name, the old name removed.
fn move_start_links(image: &Image, service: &str, priority: u32) -> Vec<Effect> {
    let fs = image.fs;
    let mut effects = Vec::new();
    for level in ["2", "3", "4", "5"] {
        let dir = rc_dir(fs, level);
        for link in rc_links(fs, &dir) {
            if link.kind != 'S' || link.service != service || link.priority == priority {
                continue;
            }
            let target = fs
                .read_link(Path::new(&link.path))
                .unwrap_or_else(|_| Path::new("../init.d").join(service));
            effects.push(Effect::Symlink {
                path: format!("{dir}/S{priority:02}{service}").into(),
                target,
            });
            effects.push(Effect::Remove {
                path: link.path.into(),
            });
        }
    }
    // A script missing from init.d would make the links dangle: nothing
    // to move then.
    if !fs.exists(&Path::new(initd_dir(fs)).join(service)) {
        return Vec::new();
    }
    effects
}
