//! update_hostname (`cc_update_hostname`): on every boot, keeps the hostname
//! file in step with the configured name as cloud-init 22.4 does, through
//! `data/previous-hostname`: it rewrites the system hostname file (and sets
//! the running hostname) only while that file still holds the name
//! cloud-init wrote last; a name changed by someone else is left alone.
//! `preserve_hostname` turns it off. The logic is in `crate::hostname`.

use crate::module::{Context, Module, ModuleInfo, ModuleOutput};
use crate::semaphore::Frequency;

pub struct UpdateHostname;

static INFO: ModuleInfo = ModuleInfo {
    name: "update_hostname",
    aliases: &[],
    frequency: Frequency::Always,
    activate_by: &[],
    keys: &[
        "preserve_hostname",
        "hostname",
        "fqdn",
        "prefer_fqdn_over_hostname",
    ],
    schema: crate::modules::set_hostname::HOSTNAME_KEYS,
    summary: "update the hostname on every boot, unless someone else changed it",
};

impl Module for UpdateHostname {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        crate::hostname::update_hostname(
            ctx.fs,
            ctx.paths,
            ctx.cfg,
            ctx.instance,
            ctx.name,
            &mut out,
        );
        out
    }
}
