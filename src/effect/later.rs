//! Effects worked out when they are applied, from the files as they are at
//! that moment.
//!
//! cloud-init's configuration-management modules install a package and then
//! edit the config file the package brought: mcollective merges its
//! `conf` into `/etc/mcollective/server.cfg`, puppet its sections into
//! `puppet.conf`. A module plans before the package is installed, when
//! that file is not in the root yet; merging into what the root held then
//! would replace the packaged file's own settings. [`Later`] carries the
//! module's merge as a function of the filesystem: the target calls it
//! when it gets there (after the install before it) and applies the
//! effects it returns in its place ([`crate::target::apply_all`]). A plan
//! calls it on the planned root, so it shows the merge as it would be
//! with the files known when planning.

use std::fmt;
use std::sync::Arc;

use serde_json::json;

use super::{Effect, Outcome, Record};
use crate::rootfs::FsView;

/// The function: the filesystem as it is when applied, to the effects to
/// apply, or why none can be (the module fails with that message).
pub type Make = dyn Fn(&dyn FsView) -> Result<Vec<Effect>, String> + Send + Sync;

/// Effects worked out when applied (see the module documentation).
#[derive(Clone)]
pub struct Later {
    /// What it does, in words, for plans and logs ("merge mcollective.conf
    /// into /etc/mcollective/server.cfg").
    pub what: String,
    pub make: Arc<Make>,
}

impl Later {
    pub fn new(
        what: impl Into<String>,
        make: impl Fn(&dyn FsView) -> Result<Vec<Effect>, String> + Send + Sync + 'static,
    ) -> Later {
        Later {
            what: what.into(),
            make: Arc::new(make),
        }
    }

    pub fn summary(&self) -> String {
        format!(
            "then {} (worked out on the files as they are then)",
            self.what
        )
    }

    pub fn to_json(&self) -> serde_json::Value {
        json!({"action": "later", "what": self.what})
    }

    /// The effects for the filesystem `fs`, and the record of working them
    /// out: `done` (planned, in a plan), or failed with the message when
    /// they cannot be.
    pub fn work_out(
        &self,
        effect: &Effect,
        fs: &dyn FsView,
        done: Outcome,
    ) -> (Record, Vec<Effect>) {
        match (self.make)(fs) {
            Ok(effects) => (Record::new(effect, done), effects),
            Err(message) => (Record::new(effect, Outcome::Failed(message)), Vec::new()),
        }
    }
}

impl PartialEq for Later {
    /// Two are alike when they say they do the same: a function cannot be
    /// compared.
    fn eq(&self, other: &Later) -> bool {
        self.what == other.what
    }
}

impl fmt::Debug for Later {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Later").field("what", &self.what).finish()
    }
}
