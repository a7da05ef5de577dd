//! `two-tools-enabled`: cloud-init's services and cloudboot's are both
//! enabled.
//!
//! Each boot then runs every stage twice: modules that run always run
//! twice (bootcmd, scripts-per-boot, the network config written twice),
//! the two compete for the same semaphores, and the boot pays cloud-init's
//! Python start-up again. It happens when cloudboot is installed by hand
//! beside a cloud-init package, or when a cloud-init package update
//! re-enables its units. seal turns cloud-init's services off the way
//! `cloudboot install` does (masked units, K links, `manual` overrides).

use std::path::Path;

use super::registry::Check;
use super::{Evidence, Finding, Image, Severity};
use crate::distro::init_system::{default_runlevel, rc_dir, rc_links, Init};
use crate::install;

pub const CHECK: Check = Check {
    id: "two-tools-enabled",
    about: "cloud-init and cloudboot are both enabled",
    run,
};

/// Each tool's services: systemd units, SysV scripts / upstart jobs.
struct Tool {
    units: &'static [&'static str],
    scripts: &'static [&'static str],
}

const CLOUDBOOT: Tool = Tool {
    units: &[
        "cloudboot-local.service",
        "cloudboot.service",
        "cloudboot-config.service",
        "cloudboot-final.service",
    ],
    scripts: &[
        "cloudboot-local",
        "cloudboot",
        "cloudboot-config",
        "cloudboot-final",
    ],
};

const CLOUD_INIT: Tool = Tool {
    units: &[
        "cloud-init-local.service",
        "cloud-init.service",
        "cloud-config.service",
        "cloud-final.service",
    ],
    scripts: &[
        "cloud-init-local",
        "cloud-init",
        "cloud-config",
        "cloud-final",
    ],
};

fn run(image: &Image) -> Vec<Finding> {
    let cloudboot = enabled(image, &CLOUDBOOT);
    let cloud_init = enabled(image, &CLOUD_INIT);
    if cloudboot.is_empty() || cloud_init.is_empty() {
        return Vec::new();
    }
    let fixes = install::cloud_init_off(image.fs, image.init, &mut install::Record::default());
    vec![Finding {
        id: CHECK.id,
        severity: Severity::Error,
        title: "cloud-init and cloudboot are both enabled".into(),
        evidence: cloudboot.into_iter().chain(cloud_init).collect(),
        breaks: "every stage runs twice on each boot: modules that run always run twice, \
                 the two tools wait on each other's locks, and the boot pays cloud-init's \
                 start-up again"
            .into(),
        fix: "turn cloud-init's services off as `cloudboot install` does (systemd: masked; \
              SysV: S links renamed to K links; upstart: `manual` overrides)"
            .into(),
        fixes,
    }]
}

/// Where the image enables `tool`: one piece of evidence per enabled
/// service (none when it is not enabled).
fn enabled(image: &Image, tool: &Tool) -> Vec<Evidence> {
    let fs = image.fs;
    match image.init {
        Init::Systemd => {
            // Enabled: a link in some .wants directory of /etc/systemd/system
            // to a unit that is there (a package removed leaves its links
            // dangling: `dpkg -r cloud-init` keeps them until a purge), and
            // not masked (a link to /dev/null in its place).
            let wants: Vec<String> = image
                .list("/etc/systemd/system")
                .into_iter()
                .filter(|d| d.ends_with(".wants"))
                .collect();
            let mut out = Vec::new();
            for unit in tool.units {
                let masked = fs
                    .read_link(&Path::new("/etc/systemd/system").join(unit))
                    .map(|t| t == Path::new("/dev/null"))
                    .unwrap_or(false);
                if masked {
                    continue;
                }
                for dir in &wants {
                    let link = format!("/etc/systemd/system/{dir}/{unit}");
                    if fs.exists(Path::new(&link)) {
                        out.push(Evidence::file(link, format!("{unit} is enabled")));
                        break;
                    }
                }
            }
            out
        }
        Init::Sysv => {
            let level = default_runlevel(fs);
            [rc_dir(fs, "S"), rc_dir(fs, &level)]
                .iter()
                .flat_map(|dir| rc_links(fs, dir))
                .filter(|l| l.kind == 'S' && tool.scripts.contains(&l.service.as_str()))
                .map(|l| {
                    let text = format!("{} starts at {:02}", l.service, l.priority);
                    Evidence::file(l.path, text)
                })
                .collect()
        }
        Init::Upstart => tool
            .scripts
            .iter()
            .filter_map(|job| {
                let conf = format!("/etc/init/{job}.conf");
                let over = format!("/etc/init/{job}.override");
                let manual = image
                    .text(&over)
                    .is_some_and(|t| t.lines().any(|l| l.trim() == "manual"));
                (image.exists(&conf) && !manual)
                    .then(|| Evidence::file(conf, format!("upstart job {job}")))
            })
            .collect(),
    }
}
