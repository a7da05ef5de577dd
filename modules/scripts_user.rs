//! scripts_user (`cc_scripts_user`): runs every executable file directly in
//! `/var/lib/cloud/instance/scripts` (user-data `#!` parts and runcmd), in
//! sorted order, in the final stage. A failing script does not stop the
//! others; the module then fails with cloud-init's
//! `Runparts: N failures (names) in M attempted commands`.

use crate::module::prelude::*;

pub struct ScriptsUser;

static INFO: ModuleInfo = ModuleInfo {
    name: "scripts_user",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &[],
    keys: &[],
    schema: &[],
    summary: "run user-data scripts and runcmd",
};

impl Module for ScriptsUser {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        // cloud-init runs them through the `instance` link; so do we, so the
        // paths a script sees in `ps` and `$0` are the same.
        let dir = ctx.paths.instance_link().join("scripts");
        run_parts(ctx, dir, Vec::new(), Vec::new())
    }
}
