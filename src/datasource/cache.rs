//! When the cached instance still holds (`Init._get_data_source` and
//! `_restore_from_checked_cache`): cloud-init restores its pickled datasource
//! (`obj.pkl`), cloudboot its JSON cache ([`super::load_cache`]).
//!
//! After the local stage the cache is trusted as it is: that stage already
//! checked it this boot. In the local stage it is trusted when the config
//! says the cache is cleaned by hand (`manual_cache_clean`, or the
//! instance's `manual-clean` marker), when this boot's
//! `/run/cloud-init/.instance-id` names it, or when the datasource it came
//! from confirms the instance-id (`check_instance_id`). Otherwise it is
//! stale: the engine searches again and drops the `instance` link.

use super::{by_name, load_cache, DsContext, Instance};
use crate::schedule::Stage;

/// The cached instance, as this stage may use it.
pub enum Cached {
    /// Nothing cached (or a cache that cannot be read).
    Missing,
    /// Still this machine's instance: no search.
    Trusted(Instance),
    /// Another instance's (or unconfirmed): search again.
    Stale(Instance),
}

/// Reads the cache and decides whether this stage may trust it.
pub fn restore(ctx: &DsContext) -> Cached {
    let Some(c) = load_cache(ctx.fs, ctx.paths) else {
        return Cached::Missing;
    };
    // Each check reads only when the ones before it did not decide: after
    // the local stage nothing more is read.
    let trust = ctx.stage != Stage::Local
        || ctx.cfg.get_bool("manual_cache_clean", false)
        || ctx
            .fs
            .exists(&ctx.paths.instance_link().join("manual-clean"));
    let this_boots = || {
        ctx.fs
            .read_string(&ctx.paths.runpath(".instance-id"))
            .is_some_and(|s| s.trim() == c.instance_id)
    };
    let valid = trust
        || this_boots()
        || by_name(&c.dsname)
            .map(|ds| ds.check_instance_id(ctx, &c.instance_id))
            .unwrap_or(false);
    if valid {
        Cached::Trusted(c)
    } else {
        Cached::Stale(c)
    }
}

impl Cached {
    /// What 22.4's `check-cache` event says of the cache. The run check
    /// (this boot's `.instance-id` naming the cache) is what lets the
    /// stages after the local one use it; the local stage, early in a
    /// boot, has the datasource check it.
    pub fn describe(&self, stage: Stage) -> String {
        match self {
            Cached::Missing => "no cache found".into(),
            Cached::Trusted(c) if stage == Stage::Local => {
                format!("restored from checked cache: {}", c.description)
            }
            Cached::Trusted(c) => format!("restored from cache with run check: {}", c.description),
            Cached::Stale(c) => format!("cache invalid in datasource: {}", c.description),
        }
    }
}
