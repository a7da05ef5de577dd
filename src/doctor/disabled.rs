//! `cloud-init-disabled`: the image tells cloud-init not to run.
//!
//! On systemd images cloud-init's generator
//! (`/lib/systemd/system-generators/cloud-init-generator`) leaves
//! `cloud-init.target` out of the boot when `/etc/cloud/cloud-init.disabled`
//! exists or the kernel command line says `cloud-init=disabled`. A template
//! often gets the marker so that it does not reconfigure itself while it is
//! being prepared, and keeps it: every clone then boots without its network
//! config, SSH keys or user-data. (SysV and upstart images ignore both, as
//! 22.4 does: its `status` says "enabled-by-sysvinit" there.) seal removes
//! the marker; a kernel command line in `/etc/default/grub` needs the boot
//! loader's config made again, which only the image's own tools do.

use super::registry::Check;
use super::{Evidence, Finding, Image, Severity};
use crate::distro::init_system::Init;
use crate::effect::Effect;

pub const CHECK: Check = Check {
    id: "cloud-init-disabled",
    about: "the image tells cloud-init not to run (marker file or kernel command line)",
    run,
};

const MARKER: &str = "/etc/cloud/cloud-init.disabled";
const GENERATORS: [&str; 2] = [
    "/lib/systemd/system-generators/cloud-init-generator",
    "/usr/lib/systemd/system-generators/cloud-init-generator",
];

fn run(image: &Image) -> Vec<Finding> {
    if image.init != Init::Systemd || !GENERATORS.iter().any(|g| image.exists(g)) {
        return Vec::new();
    }
    let breaks = "cloud-init does not run on the clone's first boot: no network config, \
                  no SSH keys, no user-data from the new cloud";
    let mut findings = Vec::new();
    if image.fs.lstat(std::path::Path::new(MARKER)).is_some() {
        findings.push(Finding {
            id: CHECK.id,
            severity: Severity::Error,
            title: format!("{MARKER} is there"),
            evidence: vec![Evidence::file(
                MARKER,
                "cloud-init's generator leaves cloud-init.target out of the boot",
            )],
            breaks: breaks.into(),
            fix: format!("remove {MARKER}"),
            fixes: vec![Effect::Remove {
                path: MARKER.into(),
            }],
        });
    }
    let grub = "/etc/default/grub";
    if let Some(text) = image.text(grub) {
        for (n, line) in text.lines().enumerate() {
            let setting = line.trim_start();
            if setting.starts_with("GRUB_CMDLINE_LINUX") && setting.contains("cloud-init=disabled")
            {
                findings.push(Finding {
                    id: CHECK.id,
                    severity: Severity::Error,
                    title: "the kernel command line says cloud-init=disabled".into(),
                    evidence: vec![Evidence::line(grub, n + 1, line.trim_end())],
                    breaks: breaks.into(),
                    fix: format!(
                        "remove cloud-init=disabled from {grub} and make the boot loader's \
                         config again (update-grub or grub2-mkconfig, inside the image)"
                    ),
                    fixes: Vec::new(),
                });
            }
        }
    }
    findings
}
