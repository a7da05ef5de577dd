//! scripts_per_once (`cc_scripts_per_once`): runs the executables in
//! `/var/lib/cloud/scripts/per-once` once for the life of the image, in
//! sorted order.

use crate::module::prelude::*;

pub struct ScriptsPerOnce;

static INFO: ModuleInfo = ModuleInfo {
    name: "scripts_per_once",
    aliases: &[],
    frequency: Frequency::Once,
    activate_by: &[],
    keys: &[],
    schema: &[],
    summary: "run /var/lib/cloud/scripts/per-once once ever",
};

impl Module for ScriptsPerOnce {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        run_parts(
            ctx,
            ctx.paths.cpath("scripts/per-once"),
            Vec::new(),
            Vec::new(),
        )
    }
}
