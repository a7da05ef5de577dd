//! set_hostname (`cc_set_hostname`): once per instance, sets the hostname
//! from `hostname`/`fqdn` in the config, else meta-data's `local-hostname`,
//! as cloud-init 22.4 does: the distro's hostname file (`/etc/hostname`, or
//! `HOSTNAME=` in `/etc/sysconfig/network` on CentOS/RHEL 6), the running
//! hostname (a host action), and `data/set-hostname`, which makes it skip
//! when nothing changed. `preserve_hostname` turns it off;
//! `prefer_fqdn_over_hostname` picks the FQDN (the default on the RHEL
//! family). The logic is in `crate::hostname`, which the engine also uses
//! for the early call of `init --local` and `init`.

use crate::module::{Context, Module, ModuleInfo, ModuleOutput};
use crate::schema::{Field, Ty};
use crate::semaphore::Frequency;

pub struct SetHostname;

/// The keys set_hostname and update_hostname read. cloud-init takes any
/// value for the booleans (`translate_bool`) and fails on a non-string
/// hostname itself, so the types are checked in `crate::hostname`.
pub static HOSTNAME_KEYS: &[Field] = &[
    Field::opt("preserve_hostname", Ty::Any),
    Field::opt("hostname", Ty::Any),
    Field::opt("fqdn", Ty::Any),
    Field::opt("prefer_fqdn_over_hostname", Ty::Any),
];

static INFO: ModuleInfo = ModuleInfo {
    name: "set_hostname",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &[],
    keys: &[
        "preserve_hostname",
        "hostname",
        "fqdn",
        "prefer_fqdn_over_hostname",
    ],
    schema: HOSTNAME_KEYS,
    summary: "set the hostname and FQDN",
};

impl Module for SetHostname {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        crate::hostname::set_hostname(ctx.fs, ctx.paths, ctx.cfg, ctx.instance, ctx.name, &mut out);
        out
    }
}
