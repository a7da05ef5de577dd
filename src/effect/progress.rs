//! A module run's progress record (`Effect::RunParts`' `progress` file):
//! `started NAME` before a script runs (durably), `finished NAME` after.
//! The target writes it as it runs the scripts; the module reads it when
//! it runs again after a crash, so that no script runs twice
//! (`crate::module::run_parts`).

use std::path::Path;

use crate::rootfs::FsView;

/// Where a script stands in a module run's progress record.
#[derive(Debug, PartialEq)]
pub enum ScriptState {
    NotStarted,
    Finished,
    /// Started, never finished.
    Interrupted,
}

/// The lines of a progress record: `started NAME` and `finished NAME`.
pub struct Progress {
    started: Vec<String>,
    finished: Vec<String>,
}

impl Progress {
    pub const STARTED: &'static str = "started ";
    pub const FINISHED: &'static str = "finished ";

    pub fn read(fs: &dyn FsView, path: &Path) -> Progress {
        let text = fs.read_string(path).unwrap_or_default();
        let names = |prefix: &str| -> Vec<String> {
            text.lines()
                .filter_map(|l| l.strip_prefix(prefix))
                .map(str::to_string)
                .collect()
        };
        Progress {
            started: names(Self::STARTED),
            finished: names(Self::FINISHED),
        }
    }

    /// A script's name as a record line holds it (one line, whatever the name).
    pub fn line_name(name: &str) -> String {
        name.escape_default().to_string()
    }

    pub fn state(&self, name: &str) -> ScriptState {
        let name = Self::line_name(name);
        if self.finished.contains(&name) {
            ScriptState::Finished
        } else if self.started.contains(&name) {
            ScriptState::Interrupted
        } else {
            ScriptState::NotStarted
        }
    }
}
