//! update_etc_hosts (`cc_update_etc_hosts`): on every boot, with
//! `manage_etc_hosts: true` (or the deprecated `template`), renders
//! `/etc/hosts` from the root's `/etc/cloud/templates/hosts.<osfamily>.tmpl`
//! (`system_info.paths.templates_dir`), as cloud-init 22.4 does; with
//! `localhost`, adds the hostname to the distro's localhost line
//! (`127.0.1.1` on Debian, `127.0.0.1` on the RHEL family) in place.
//!
//! Where the root has no template (cloud-init then fails), cloud-init
//! 22.4's own template for the family is used. A template without a
//! `## template:` line is rendered by the basic renderer, as 22.4 does, but
//! a Cheetah `#* ... *#` comment (cloud-init 0.7.5's templates) is dropped
//! first instead of being copied into `/etc/hosts`.

use crate::module::{Context, Module, ModuleInfo, ModuleOutput};
use crate::schema::{Field, Ty};
use crate::semaphore::Frequency;

pub struct UpdateEtcHosts;

static INFO: ModuleInfo = ModuleInfo {
    name: "update_etc_hosts",
    aliases: &[],
    frequency: Frequency::Always,
    activate_by: &["manage_etc_hosts"],
    keys: &["manage_etc_hosts", "hostname", "fqdn"],
    schema: &[
        Field::opt("manage_etc_hosts", Ty::Any),
        Field::opt("hostname", Ty::Any),
        Field::opt("fqdn", Ty::Any),
    ],
    summary: "manage /etc/hosts from a template, or its localhost line",
};

impl Module for UpdateEtcHosts {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        crate::hostname::update_etc_hosts(ctx.fs, ctx.cfg, ctx.instance, ctx.name, &mut out);
        out
    }
}
