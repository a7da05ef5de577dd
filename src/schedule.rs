//! When things run: the four boot stages and the frequencies of cloud-init.
//!
//! Both are plain names that every layer uses (the datasources search in a
//! stage, modules declare a frequency, the state layout files semaphores by
//! frequency), so they live here, in a file that depends on nothing else of
//! the crate: whatever imports them cannot close a circle through them.

use std::fmt;

/// The four boot stages, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    Local,
    Network,
    Config,
    Final,
}

impl Stage {
    pub const ALL: [Stage; 4] = [Stage::Local, Stage::Network, Stage::Config, Stage::Final];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Local => "local",
            Stage::Network => "network",
            Stage::Config => "config",
            Stage::Final => "final",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|st| st.name() == s)
    }

    /// cloud-init's status.json mode for the stage.
    pub fn mode(self) -> &'static str {
        match self {
            Stage::Local => "init-local",
            Stage::Network => "init",
            Stage::Config => "modules-config",
            Stage::Final => "modules-final",
        }
    }

    /// The cloud-init command line that runs the stage.
    pub fn command(self) -> &'static str {
        match self {
            Stage::Local => "init --local",
            Stage::Network => "init",
            Stage::Config => "modules --mode config",
            Stage::Final => "modules --mode final",
        }
    }

    /// The `cloud.cfg` key holding this stage's module list.
    pub fn cloud_cfg_key(self) -> Option<&'static str> {
        match self {
            Stage::Local => None,
            Stage::Network => Some("cloud_init_modules"),
            Stage::Config => Some("cloud_config_modules"),
            Stage::Final => Some("cloud_final_modules"),
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How often a module (or other step) runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Frequency {
    /// Once per instance-id (`once-per-instance`).
    Instance,
    /// Every boot (`always`).
    Always,
    /// Once per machine, whatever the instance-id (`once`).
    Once,
}

impl Frequency {
    /// cloud-init's own string (`settings.PER_INSTANCE` etc.).
    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Instance => "once-per-instance",
            Frequency::Always => "always",
            Frequency::Once => "once",
        }
    }

    /// The strings a `cloud_*_modules` entry may carry.
    pub fn parse(s: &str) -> Option<Frequency> {
        match s {
            "once-per-instance" => Some(Frequency::Instance),
            "always" => Some(Frequency::Always),
            "once" => Some(Frequency::Once),
            _ => None,
        }
    }

    /// The short names of `cloud-init single --frequency`.
    pub fn parse_short(s: &str) -> Option<Frequency> {
        match s {
            "instance" => Some(Frequency::Instance),
            "always" => Some(Frequency::Always),
            "once" => Some(Frequency::Once),
            _ => None,
        }
    }
}
