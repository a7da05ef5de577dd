//! scripts_per_instance (`cc_scripts_per_instance`): runs the executables in
//! `/var/lib/cloud/scripts/per-instance` once per instance, in sorted order.

use crate::module::prelude::*;

pub struct ScriptsPerInstance;

static INFO: ModuleInfo = ModuleInfo {
    name: "scripts_per_instance",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &[],
    keys: &[],
    schema: &[],
    summary: "run /var/lib/cloud/scripts/per-instance once per instance",
};

impl Module for ScriptsPerInstance {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        run_parts(
            ctx,
            ctx.paths.cpath("scripts/per-instance"),
            Vec::new(),
            Vec::new(),
        )
    }
}
