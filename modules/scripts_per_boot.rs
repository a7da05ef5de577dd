//! scripts_per_boot (`cc_scripts_per_boot`): runs the executables in
//! `/var/lib/cloud/scripts/per-boot` on every boot, in sorted order (an
//! image's own boot hooks).

use crate::module::prelude::*;

pub struct ScriptsPerBoot;

static INFO: ModuleInfo = ModuleInfo {
    name: "scripts_per_boot",
    aliases: &[],
    frequency: Frequency::Always,
    activate_by: &[],
    keys: &[],
    schema: &[],
    summary: "run /var/lib/cloud/scripts/per-boot on every boot",
};

impl Module for ScriptsPerBoot {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        run_parts(
            ctx,
            ctx.paths.cpath("scripts/per-boot"),
            Vec::new(),
            Vec::new(),
        )
    }
}
