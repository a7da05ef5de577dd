//! What became of an effect once a target took it ([`Outcome`], [`Record`]),
//! and how a program it ran ended ([`Exit`]): the words the targets, the
//! report and a probe's answer share.

use super::Effect;

/// How a program ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    pub fn success(&self) -> bool {
        *self == Exit::Code(0)
    }

    pub fn describe(&self) -> String {
        match self {
            Exit::Code(c) => format!("exit code {c}"),
            Exit::Signal(s) => format!("killed by signal {s}"),
        }
    }
}

/// What became of one effect.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Done,
    /// Nothing to do: the file already has this content and mode.
    Unchanged,
    /// Planned (dry run).
    Planned,
    /// Deliberately not done (recorded host action, unprivileged run, ...).
    NotRun(String),
    Failed(String),
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Unchanged => "unchanged",
            Outcome::Planned => "planned",
            Outcome::NotRun(_) => "not-run",
            Outcome::Failed(_) => "failed",
        }
    }
}

/// An effect and its outcome, ready to print.
#[derive(Clone, Debug)]
pub struct Record {
    pub summary: String,
    pub json: serde_json::Value,
    pub outcome: Outcome,
    /// A diff for a planned write, or a note.
    pub detail: Option<String>,
}

impl Record {
    pub fn new(effect: &Effect, outcome: Outcome) -> Record {
        Record {
            summary: effect.summary(),
            json: effect.to_json(),
            outcome,
            detail: None,
        }
    }
}
