//! update_hostname (`cc_update_hostname`): on every boot, keeps the hostname
//! file in step with the configured name as cloud-init 22.4 does, through
//! `data/previous-hostname`: it rewrites the system hostname file (and sets
//! the running hostname) only while that file still holds the name
//! cloud-init wrote last; a name changed by someone else is left alone.
//! `preserve_hostname` turns it off. The distro's part is
//! `crate::distro::hostname`.

use super::set_hostname::prepare;
use crate::module::prelude::*;

pub struct UpdateHostname;

/// `data/previous-hostname` (update_hostname's record).
pub const PREVIOUS_HOSTNAME_FILE: &str = "previous-hostname";

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
    schema: super::set_hostname::UPDATE_HOSTNAME_KEYS,
    summary: "update the hostname on every boot, unless someone else changed it",
};

impl Module for UpdateHostname {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        update_hostname(ctx, &mut out);
        out
    }
}

/// cc_update_hostname's `handle`, into `out`.
fn update_hostname(ctx: &Context, out: &mut ModuleOutput) {
    let (fs, distro) = (ctx.fs, ctx.distro);
    let Some(names) = prepare(fs, ctx.cfg, ctx.instance, distro, ctx.name, "updating", out) else {
        return;
    };
    let hostname = names.hostname.unwrap_or_default();
    if names.is_default && hostname == "localhost" {
        out.note("Hostname is localhost. Let other services handle this.");
        return;
    }
    let fqdn = names.fqdn.unwrap_or_default();
    let prev_fn = ctx.paths.data(PREVIOUS_HOSTNAME_FILE);
    out.note(format!("Updating hostname to {fqdn} ({hostname})"));
    if let Err(e) = distro.update_hostname(
        fs,
        ctx.cfg,
        &hostname,
        Some(&fqdn),
        &prev_fn,
        &mut out.effects,
        &mut out.notes,
    ) {
        out.error(format!(
            "Failed to update the hostname to {fqdn} ({hostname}): {e}"
        ));
    }
}
