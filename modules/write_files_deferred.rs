//! write_files_deferred (`cc_write_files_deferred`): the `write_files` entries
//! with `defer: true`, written in the final stage, after users and packages
//! exist (so `owner:` can name a user that users_groups created).

use crate::module::prelude::*;

pub struct WriteFilesDeferred;

static INFO: ModuleInfo = ModuleInfo {
    name: "write_files_deferred",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &["write_files"],
    keys: &["write_files"],
    // 22.4's schema has `write_files` once (cc_write_files): the `schema`
    // command checks it there only.
    schema: &[Field::opt(
        "write_files",
        Ty::Strict(&Ty::Entries(&super::write_files::ENTRY), Rule::As(&Ty::Any)),
    )],
    summary: "write the write_files entries marked defer: true",
};

impl Module for WriteFilesDeferred {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        super::write_files::plan_entries(ctx, true)
    }
}
