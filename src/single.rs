//! `cloud-init single --name MODULE [--frequency F] [--report]`: what it
//! says around the engine's run of one module (`Engine::single`), as
//! 22.4's `main_single` decides its exit code:
//!
//! - the module ran, or its semaphore says it already ran: 0 (22.4 counts
//!   both as run: `which_ran` holds it);
//! - it failed: 1, with 22.4's warning `Ran NAME but it failed!`;
//! - no such module: 1, `Did not run NAME, does it exist?` (cloudboot has
//!   every module of 22.4: tests/module_meta.rs).
//!
//! 22.4 itself prints nothing when a module runs (its log has it);
//! cloudboot adds one line on stderr saying what happened and why (ran,
//! skipped: already ran per its semaphore, failed), so a person at a shell
//! sees it; stdout stays the module's own output.
//!
//! `--report` turns on the reporting events 22.4 then writes to the log
//! (`start:`/`finish: single/NAME/config-NAME: ...`, `finish: single/NAME:
//! SUCCESS: running single module NAME`): [`crate::events::begin_single`].

use crate::report::{ModResult, StageReport};

/// Says what the run did and returns the exit code: the engine's, which is
/// 22.4's (1 when the module failed or was not found, else 0).
pub fn report(name: &str, code: i32, report: &StageReport) -> i32 {
    // Not run at all (no datasource, no such module): the engine said why
    // where it found it.
    if let Some(m) = report.modules.first() {
        match m.result {
            ModResult::Ran => eprintln!("single {name}: ran ({})", m.reason),
            ModResult::Skipped => eprintln!("single {name}: skipped ({})", m.reason),
            ModResult::Failed => {
                tracing::warn!("Ran {name} but it failed!");
                eprintln!(
                    "single {name}: failed ({})",
                    if m.errors.is_empty() {
                        m.reason.clone()
                    } else {
                        m.errors.join("; ")
                    }
                );
            }
        }
    }
    code
}
