//! cloud-init's on-disk layout (`cloudinit/helpers.py:Paths`), as guest paths.
//!
//! Everything here is a path inside the target root; `Root::resolve` maps it
//! to this machine. Names and places are cloud-init's, so an image can switch
//! between cloud-init and cloudboot and each sees what the other did.

use std::path::{Path, PathBuf};

use crate::schedule::Frequency;

pub const CLOUD_DIR: &str = "/var/lib/cloud";
pub const RUN_DIR: &str = "/run/cloud-init";
pub const LOG_FILE: &str = "/var/log/cloud-init.log";
pub const OUTPUT_LOG_FILE: &str = "/var/log/cloud-init-output.log";
pub const CLOUD_CFG: &str = "/etc/cloud/cloud.cfg";
pub const CLOUD_CFG_D: &str = "/etc/cloud/cloud.cfg.d";
pub const RUN_CLOUD_CFG: &str = "/run/cloud-init/cloud.cfg";
pub const STAGES_YAML: &str = "/etc/cloudboot/stages.yaml";
/// cloud-init's sentinel for "no instance before this one".
pub const NO_PREVIOUS_INSTANCE_ID: &str = "NO_PREVIOUS_INSTANCE_ID";
/// Our cached datasource result (cloud-init pickles to `obj.pkl`; we keep JSON).
pub const DATASOURCE_CACHE: &str = "cloudboot-datasource.json";

/// The directories `init` creates on every run (`Init._initial_subdirs`).
pub const INITIAL_SUBDIRS: &[&str] = &[
    "/var/lib/cloud",
    "/var/lib/cloud/scripts",
    "/var/lib/cloud/scripts/per-instance",
    "/var/lib/cloud/scripts/per-once",
    "/var/lib/cloud/scripts/per-boot",
    "/var/lib/cloud/scripts/vendor",
    "/var/lib/cloud/seed",
    "/var/lib/cloud/instances",
    "/var/lib/cloud/handlers",
    "/var/lib/cloud/sem",
    "/var/lib/cloud/data",
    "/run/cloud-init/sem",
];

/// Per-instance subdirectories (`Init._get_instance_subdirs`).
pub const INSTANCE_SUBDIRS: &[&str] = &["handlers", "scripts", "sem"];

/// Guest paths for one cloud-init layout.
#[derive(Clone, Debug)]
pub struct Paths {
    pub cloud_dir: PathBuf,
    pub run_dir: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            cloud_dir: PathBuf::from(CLOUD_DIR),
            run_dir: PathBuf::from(RUN_DIR),
        }
    }
}

impl Paths {
    /// `/var/lib/cloud/<name>` (`get_cpath`).
    pub fn cpath(&self, name: &str) -> PathBuf {
        self.cloud_dir.join(name)
    }

    /// `/var/lib/cloud/data/<name>`.
    pub fn data(&self, name: &str) -> PathBuf {
        self.cloud_dir.join("data").join(name)
    }

    /// `/run/cloud-init/<name>` (`get_runpath`).
    pub fn runpath(&self, name: &str) -> PathBuf {
        self.run_dir.join(name)
    }

    /// `/var/lib/cloud/instances/<iid>` with `/` in the id replaced by `_`.
    pub fn instance_dir(&self, iid: &str) -> PathBuf {
        self.cloud_dir
            .join("instances")
            .join(instance_dir_name(iid))
    }

    /// `/var/lib/cloud/instances/<iid>/<name>` (`get_ipath`).
    pub fn ipath(&self, iid: &str, name: &str) -> PathBuf {
        self.instance_dir(iid).join(name)
    }

    /// The `instance` symlink.
    pub fn instance_link(&self) -> PathBuf {
        self.cloud_dir.join("instance")
    }

    pub fn seed_dir(&self, name: &str) -> PathBuf {
        self.cloud_dir.join("seed").join(name)
    }

    /// Where the semaphores of a frequency live (`Runners._get_sem`); `None`
    /// for PER_ALWAYS, which keeps none.
    pub fn sem_dir(&self, freq: Frequency, iid: &str) -> Option<PathBuf> {
        match freq {
            Frequency::Always => None,
            Frequency::Instance => Some(self.ipath(iid, "sem")),
            Frequency::Once => Some(self.cpath("sem")),
        }
    }

    /// Which scripts a module run has started and finished, kept until
    /// its semaphore is written (cloudboot's own record; see
    /// `module::run_parts`): in the instance directory for a per-instance
    /// run, in `data/` for a per-once run, under `/run` for a per-boot one
    /// (a reboot starts that over anyway).
    pub fn progress(&self, freq: Frequency, iid: &str, name: &str) -> PathBuf {
        let file = format!("cloudboot-progress/{name}");
        match freq {
            Frequency::Always => self.runpath(&file),
            Frequency::Instance => self.ipath(iid, &file),
            Frequency::Once => self.data(&file),
        }
    }

    pub fn is_under_cloud_dir(&self, p: &Path) -> bool {
        p.starts_with(&self.cloud_dir)
    }
}

/// `str(iid).replace(os.sep, "_")`; an id of `.`, `..` or nothing (which
/// would name a directory outside `instances/`) gets a leading `_`.
pub fn instance_dir_name(iid: &str) -> String {
    let name = iid.replace('/', "_");
    match name.as_str() {
        "" | "." | ".." => format!("_{name}"),
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_ids_never_name_a_directory_outside_instances() {
        let p = Paths::default();
        assert_eq!(
            p.instance_dir("i-1/2"),
            Path::new("/var/lib/cloud/instances/i-1_2")
        );
        assert_eq!(
            p.instance_dir(".."),
            Path::new("/var/lib/cloud/instances/_..")
        );
        assert_eq!(
            p.instance_dir("../../etc"),
            Path::new("/var/lib/cloud/instances/.._.._etc")
        );
        assert_eq!(p.instance_dir(""), Path::new("/var/lib/cloud/instances/_"));
    }
}
