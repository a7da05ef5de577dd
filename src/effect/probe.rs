//! Probes: a question put to the running machine whose answer (the exit code
//! of a program) decides which effects follow.
//!
//! cloud-init asks `systemctl status ssh` (or `service ssh status`) before it
//! touches sshd's config, and what it does next depends on the exit code: 0
//! (running) writes the config and restarts the service; 3 (stopped) writes
//! it and leaves the service alone; 4 (not installed) does nothing at all. A
//! module cannot know the answer when it plans, so it plans every branch and
//! [`Effect::Probe`] carries them all; the target asks the question when it
//! gets there (after the effects before it) and applies the branch the
//! answer picks ([`crate::target::apply_all`]).
//!
//! Where the question cannot be asked — a plan, or a root that is not this
//! machine's `/`, where actions on the running machine are recorded and not
//! performed — the probe's `assume` code stands for the answer, so the plan
//! shows (and the overlay follows) what a running machine most likely does.

use tracing::Level;

use super::{Effect, Exit, HostAction, Outcome, Record};

/// Which answers a [`Branch`] is for.
#[derive(Clone, Debug, PartialEq)]
pub enum When {
    /// The program ran and exited with one of these codes.
    Exit(Vec<i32>),
    /// Anything else: another exit code, a signal, or a program that could
    /// not be started.
    Otherwise,
}

/// What follows one answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Branch {
    pub when: When,
    /// What the answer means and what is done about it, for plans and logs
    /// ("stopped: the config is written, the service is not restarted").
    pub meaning: String,
    /// Logged when the branch is taken, before its effects (the messages
    /// cloud-init logs at that point). [`PROBE_ERROR`] in a message stands
    /// for the description of a failed probe.
    pub log: Vec<(Level, String)>,
    pub effects: Vec<Effect>,
    /// Logged (debug) once every effect of the branch applied without error.
    pub done: Option<String>,
}

/// In a [`Branch::log`] message: replaced by how the probe failed, in
/// cloud-init's `ProcessExecutionError` words (see [`Answer::describe`]).
pub const PROBE_ERROR: &str = "{probe error}";

/// A program run on the running machine, and what follows each answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    /// What it asks, in words, and the program that asks.
    pub action: HostAction,
    /// The exit code taken as the answer where the program is not run.
    pub assume: i32,
    /// Tried in order; the first that matches the answer is taken. A probe
    /// whose branches match nothing does nothing more.
    pub branches: Vec<Branch>,
    /// Logs the answer and the branch's messages.
    pub log: Logger,
}

/// A module's own log function (`log_at!()`, whose tracing macros expand
/// in the module's file), so the lines a probe logs carry the module's
/// name, as cloud-init's carry its module's.
#[derive(Clone, Copy)]
pub struct Logger(pub fn(Level, &str));

impl PartialEq for Logger {
    /// Which file logs is not part of what a probe does.
    fn eq(&self, _: &Logger) -> bool {
        true
    }
}

impl std::fmt::Debug for Logger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Logger")
    }
}

/// How the question was answered.
#[derive(Debug, PartialEq)]
pub enum Answer {
    /// The program ran.
    Exited(Exit),
    /// The program could not be started (why).
    NotStarted(String),
    /// Not asked here (a plan, a root that is not this machine's `/`): the
    /// outcome to record for the probe; its `assume` code is the answer.
    NotAsked(Outcome),
}

impl Answer {
    /// The exit code cloud-init's `ProcessExecutionError` would carry: the
    /// code, minus the signal (Python's `returncode`), or none.
    fn code(&self, assume: i32) -> Option<i32> {
        match self {
            Answer::Exited(Exit::Code(c)) => Some(*c),
            Answer::Exited(Exit::Signal(s)) => Some(-s),
            Answer::NotStarted(_) => None,
            Answer::NotAsked(_) => Some(assume),
        }
    }

    /// A failed probe as cloud-init describes it (`str(ProcessExecutionError)`
    /// up to its `Reason:` line; the program's output, which cloud-init adds,
    /// is in cloud-init-output.log).
    pub fn describe(&self, argv: &[String], assume: i32) -> String {
        let cmd: Vec<String> = argv
            .iter()
            .map(|a| crate::value::python_str_repr(a))
            .collect();
        let (code, reason) = match (self.code(assume), self) {
            (_, Answer::NotStarted(why)) => ("-".to_string(), why.clone()),
            (Some(c), _) => (c.to_string(), "-".to_string()),
            (None, _) => ("-".to_string(), "-".to_string()),
        };
        format!(
            "Unexpected error while running command.\nCommand: [{}]\nExit code: {code}\nReason: {reason}",
            cmd.join(", ")
        )
    }
}

impl Probe {
    /// The branch an answer picks, if any.
    pub fn branch(&self, answer: &Answer) -> Option<&Branch> {
        let code = match answer {
            Answer::Exited(Exit::Code(c)) => Some(*c),
            Answer::NotAsked(_) => Some(self.assume),
            _ => None,
        };
        self.branches.iter().find(|b| match &b.when {
            When::Exit(codes) => code.is_some_and(|c| codes.contains(&c)),
            When::Otherwise => true,
        })
    }

    /// One line for logs and plans.
    pub fn summary(&self) -> String {
        format!("host {}", self.action.what)
    }

    /// For `plan --format json`: the program, as a host action, and its
    /// branches (their effects as summaries).
    pub fn to_json(&self) -> serde_json::Value {
        let branches: Vec<serde_json::Value> = self
            .branches
            .iter()
            .map(|b| {
                serde_json::json!({
                    "when": match &b.when {
                        When::Exit(codes) => serde_json::json!(codes),
                        When::Otherwise => serde_json::json!("otherwise"),
                    },
                    "meaning": b.meaning,
                    "effects": b.effects.iter().map(Effect::summary).collect::<Vec<_>>(),
                })
            })
            .collect();
        serde_json::json!({
            "action": "host",
            "what": self.action.what,
            "argv": self.action.argv,
            "assume": self.assume,
            "branches": branches,
        })
    }

    /// Takes `answer`: logs the branch's messages and returns the probe's
    /// record and the branch (none: nothing follows).
    pub fn answered(&self, effect: &Effect, answer: Answer) -> (Record, Option<&Branch>) {
        let branch = self.branch(&answer);
        let heard = match &answer {
            Answer::Exited(exit) => exit.describe(),
            Answer::NotStarted(why) => format!("could not be started: {why}"),
            Answer::NotAsked(_) => format!("not asked here; exit code {} assumed", self.assume),
        };
        let meaning = branch.map_or("nothing follows", |b| b.meaning.as_str());
        (self.log.0)(
            Level::DEBUG,
            &format!("{}: {heard}: {meaning}", self.action.what),
        );
        if let Some(b) = branch {
            let failure = answer.describe(&self.action.argv, self.assume);
            for (level, msg) in &b.log {
                (self.log.0)(*level, &msg.replace(PROBE_ERROR, &failure));
            }
        }
        let outcome = match answer {
            Answer::NotAsked(o) => o,
            // Any answer is an answer: what it means is the branch's business.
            _ => Outcome::Done,
        };
        let mut record = Record::new(effect, outcome);
        record.detail = Some(format!("{heard}: {meaning}"));
        (record, branch)
    }
}

/// A [`Probe::log`]: `log_at!()` in a module's file defines its own.
#[macro_export]
macro_rules! log_at {
    () => {
        $crate::effect::probe::Logger(|level: ::tracing::Level, msg: &str| match level {
            ::tracing::Level::ERROR => ::tracing::error!("{msg}"),
            ::tracing::Level::WARN => ::tracing::warn!("{msg}"),
            ::tracing::Level::INFO => ::tracing::info!("{msg}"),
            _ => ::tracing::debug!("{msg}"),
        })
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe() -> Probe {
        let branch = |when, meaning: &str| Branch {
            when,
            meaning: meaning.into(),
            log: Vec::new(),
            effects: Vec::new(),
            done: None,
        };
        Probe {
            action: HostAction {
                what: "ask".into(),
                argv: vec!["systemctl".into(), "status".into(), "ssh".into()],
            },
            assume: 0,
            branches: vec![
                branch(When::Exit(vec![0]), "running"),
                branch(When::Exit(vec![3]), "stopped"),
                branch(When::Otherwise, "other"),
            ],
            log: crate::log_at!(),
        }
    }

    #[test]
    fn the_first_matching_branch_is_taken() {
        let p = probe();
        let meaning = |a: Answer| p.branch(&a).map(|b| b.meaning.clone());
        assert_eq!(meaning(Answer::Exited(Exit::Code(0))).unwrap(), "running");
        assert_eq!(meaning(Answer::Exited(Exit::Code(3))).unwrap(), "stopped");
        assert_eq!(meaning(Answer::Exited(Exit::Code(4))).unwrap(), "other");
        assert_eq!(meaning(Answer::Exited(Exit::Signal(3))).unwrap(), "other");
        assert_eq!(meaning(Answer::NotStarted("x".into())).unwrap(), "other");
        assert_eq!(
            meaning(Answer::NotAsked(Outcome::Planned)).unwrap(),
            "running"
        );
        let mut p = probe();
        p.branches.truncate(1);
        assert_eq!(p.branch(&Answer::Exited(Exit::Code(3))), None);
    }

    #[test]
    fn where_nothing_is_asked_the_assumed_branch_applies_in_place_of_the_probe() {
        use crate::effect::Data;
        use crate::target::{apply_all, LiveTarget, Target};
        let tmp = tempfile::tempdir().unwrap();
        let root = crate::rootfs::Root::new(tmp.path());
        let mut p = probe();
        p.assume = 3;
        p.branches[1].effects = vec![
            Effect::write("/etc/stopped", Data::public("s\n"), 0o644),
            Effect::write("/etc/also", Data::public("a\n"), 0o644),
        ];
        p.branches[0].effects = vec![Effect::write("/etc/running", Data::public("r\n"), 0o644)];
        let effects = [Effect::Probe(p)];

        // A plan: the branch lands on the overlay, nothing on disk.
        let mut plan = crate::plan::PlanTarget::new(root.clone());
        let applied = apply_all(&mut plan, &effects);
        let summaries: Vec<&str> = applied.records.iter().map(|r| r.summary.as_str()).collect();
        assert_eq!(summaries[0], "host ask");
        assert!(
            summaries[1].starts_with("write /etc/stopped"),
            "{summaries:?}"
        );
        assert!(summaries[2].starts_with("write /etc/also"), "{summaries:?}");
        assert_eq!(summaries.len(), 3);
        assert_eq!(
            applied.records[0].detail.as_deref(),
            Some("not asked here; exit code 3 assumed: stopped")
        );
        assert!(plan.fs().exists(std::path::Path::new("/etc/stopped")));
        assert!(!tmp.path().join("etc/stopped").exists());

        // A live run on a root that is not this machine's /: the question
        // is recorded, not asked, and the same branch is applied for real.
        let runner = crate::exec::Runner::new(root.clone(), None, false);
        let mut live = LiveTarget::new(root, runner);
        let applied = apply_all(&mut live, &effects);
        assert!(applied.errors.is_empty(), "{:?}", applied.errors);
        assert!(
            matches!(&applied.records[0].outcome, Outcome::NotRun(why) if why.starts_with("recorded, not performed"))
        );
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("etc/stopped")).unwrap(),
            "s\n"
        );
        assert!(tmp.path().join("etc/also").exists());
        assert!(!tmp.path().join("etc/running").exists());
    }

    #[test]
    fn failures_are_described_as_cloud_init_does() {
        let argv: Vec<String> = ["systemctl", "status", "ssh"].map(String::from).to_vec();
        assert_eq!(
            Answer::Exited(Exit::Code(5)).describe(&argv, 0),
            "Unexpected error while running command.\nCommand: ['systemctl', 'status', 'ssh']\nExit code: 5\nReason: -"
        );
        assert_eq!(
            Answer::NotStarted("No such file or directory (os error 2)".into()).describe(&argv, 0),
            "Unexpected error while running command.\nCommand: ['systemctl', 'status', 'ssh']\nExit code: -\nReason: No such file or directory (os error 2)"
        );
        assert!(Answer::Exited(Exit::Signal(9))
            .describe(&argv, 0)
            .contains("\nExit code: -9\n"));
    }
}
