//! cloudboot's modules, one file each. A module sees the engine's API
//! (`crate::module`) only: config and context in, effects out.

pub mod final_message;
pub mod runcmd;
pub mod scripts_user;
pub mod write_files;
pub mod write_files_deferred;

use crate::module::Module;

/// Every module cloudboot has, in no particular order (stages.yaml orders them).
pub fn all() -> &'static [&'static dyn Module] {
    &[
        &write_files::WriteFiles,
        &write_files_deferred::WriteFilesDeferred,
        &runcmd::Runcmd,
        &scripts_user::ScriptsUser,
        &final_message::FinalMessage,
    ]
}
