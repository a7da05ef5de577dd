//! `cloud-init clean`'s work as effects (`cmd/clean.py`'s
//! `remove_artifacts` and its options), shared by `cloudboot clean` and
//! `cloudboot seal`, which prints them as a plan first.

use std::path::Path;

use crate::effect::{Effect, HostAction};
use crate::paths::{Paths, LOG_FILE, OUTPUT_LOG_FILE};
use crate::rootfs::FsView;

/// What `clean` removes and does.
#[derive(Clone, Copy, Debug, Default)]
pub struct Clean {
    /// `--logs`: cloud-init's two logs.
    pub logs: bool,
    /// `--seed`: `/var/lib/cloud/seed` too (else kept).
    pub seed: bool,
    /// `--machine-id`: `/etc/machine-id` (22.4 removes it).
    pub machine_id: bool,
    /// `--reboot`.
    pub reboot: bool,
}

impl Clean {
    /// The effects, in 22.4's order: every entry of `/var/lib/cloud` (the
    /// seed kept unless asked), the logs, the machine-id, the reboot.
    /// Only what is there is removed, so a clean image gives none.
    pub fn effects(&self, fs: &dyn FsView) -> Vec<Effect> {
        let cloud_dir = Paths::default().cloud_dir;
        let mut names = fs.list_dir(&cloud_dir).unwrap_or_default();
        names.sort();
        let mut effects: Vec<Effect> = names
            .into_iter()
            .filter(|name| self.seed || name != "seed")
            .map(|name| Effect::Remove {
                path: cloud_dir.join(name),
            })
            .collect();
        let mut remove_if_there = |path: &str| {
            if fs.lstat(Path::new(path)).is_some() {
                effects.push(Effect::Remove { path: path.into() });
            }
        };
        if self.logs {
            remove_if_there(LOG_FILE);
            remove_if_there(OUTPUT_LOG_FILE);
        }
        if self.machine_id {
            remove_if_there("/etc/machine-id");
        }
        if self.reboot {
            effects.push(Effect::Host(HostAction {
                what: "reboot now".into(),
                argv: vec!["shutdown".into(), "-r".into(), "now".into()],
            }));
        }
        effects
    }
}
