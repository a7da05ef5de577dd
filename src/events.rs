//! cloud-init's reporting events, written to the log as 22.4's `LogHandler`
//! writes them (`cloudinit/reporting/events.py`, `handlers.py`):
//!
//! ```text
//! start: init-local/check-cache: attempting to read from cache [check]
//! finish: modules-config/config-locale: SUCCESS: config-locale ran successfully
//! finish: modules-config: SUCCESS: running modules for config
//! ```
//!
//! so that `cloudboot analyze` and cloud-init's own `cloud-init analyze` read
//! a cloudboot log as they read cloud-init's. The events are the ones 22.4
//! writes to its log, in its order: a stage's own start is not among them
//! (22.4 reports it before its log file is set up; the `Cloud-init v. ...
//! running` banner stands for it), its sub-events are (`check-cache` and
//! `search-<datasource>` in the init stages, `consume-user-data`, ...,
//! `config-<module>`), and its finish closes it: `FAIL` when one of its
//! sub-events failed, else `SUCCESS` (`ReportEventStack._childrens_finish_info`).
//!
//! An event is one log line and nothing else: no file is read or written for
//! it, and a plan (which opens no log file) writes none. Outside a stage
//! (`single`, a unit test) no event is written at all, as 22.4's reporting is
//! off for `single` without `--report`.

use std::sync::Mutex;

use crate::schedule::Stage;

/// How an event ended (22.4's `status`: `SUCCESS`, `WARN`, `FAIL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Success,
    Warn,
    Fail,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "SUCCESS",
            Outcome::Warn => "WARN",
            Outcome::Fail => "FAIL",
        }
    }
}

/// The stage whose events are being written: its reporter's name
/// (`init-local`, `init-network`, `modules-config`, ...), its description,
/// and the worst outcome of its sub-events so far.
struct Current {
    stage: String,
    description: String,
    worst: Outcome,
}

static CURRENT: Mutex<Option<Current>> = Mutex::new(None);

fn current() -> std::sync::MutexGuard<'static, Option<Current>> {
    CURRENT.lock().unwrap_or_else(|e| e.into_inner())
}

/// The reporter 22.4's `main` opens for a stage: `(name, description)`.
/// `mode` is the stage's cloud-init mode (`init-local`, `init`,
/// `modules-config`, `modules-final`, `modules-init`).
pub fn stage_reporter(mode: &str) -> Option<(&'static str, &'static str)> {
    Some(match mode {
        "init-local" => ("init-local", "searching for local datasources"),
        "init" | "init-network" => ("init-network", "searching for network datasources"),
        "modules-init" => ("modules-init", "running modules for init"),
        "modules-config" => ("modules-config", "running modules for config"),
        "modules-final" => ("modules-final", "running modules for final"),
        _ => return None,
    })
}

/// A stage begins: its sub-events are written under its name from now on.
pub fn begin_stage(mode: &str) {
    *current() = stage_reporter(mode).map(|(stage, description)| Current {
        stage: stage.to_string(),
        description: description.to_string(),
        worst: Outcome::Success,
    });
}

/// `single --name NAME --report`: its events are written under
/// `single/NAME` ("running single module NAME"), as 22.4's `main` names
/// that reporter; without `--report` 22.4 writes none, nor does cloudboot.
pub fn begin_single(name: &str) {
    *current() = Some(Current {
        stage: format!("single/{name}"),
        description: format!("running single module {name}"),
        worst: Outcome::Success,
    });
}

/// The stage ends: `finish: <stage>: <result>: <description>`.
pub fn end_stage() {
    if let Some(c) = current().take() {
        tracing::debug!(
            "finish: {}: {}: {}",
            c.stage,
            c.worst.as_str(),
            c.description
        );
    }
}

/// A sub-event of the stage: `start:` written when it is made, `finish:`
/// when it is finished or dropped (with the outcome and message set last,
/// `SUCCESS` and its description unless told otherwise), as a
/// `ReportEventStack` used in a `with` block.
pub struct Event {
    /// `<stage>/<name>`, or `None` outside a stage (nothing is written).
    name: Option<String>,
    outcome: Outcome,
    message: String,
}

impl Event {
    /// Writes `start: <stage>/<name>: <description>`.
    pub fn start(name: &str, description: String) -> Event {
        let full = current().as_ref().map(|c| format!("{}/{name}", c.stage));
        if let Some(full) = &full {
            tracing::debug!("start: {full}: {description}");
        }
        Event {
            name: full,
            outcome: Outcome::Success,
            message: description,
        }
    }

    /// An event that writes nothing (where 22.4 writes none).
    pub fn none() -> Event {
        Event {
            name: None,
            outcome: Outcome::Success,
            message: String::new(),
        }
    }

    /// The outcome and message its `finish:` will carry.
    pub fn set(&mut self, outcome: Outcome, message: String) {
        self.outcome = outcome;
        self.message = message;
    }

    /// Writes the `finish:` line now.
    pub fn finish(self, outcome: Outcome, message: String) {
        let mut e = self;
        e.set(outcome, message);
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        let Some(name) = self.name.take() else {
            return;
        };
        if let Some(c) = current().as_mut() {
            c.worst = c.worst.max(self.outcome);
        }
        tracing::debug!(
            "finish: {name}: {}: {}",
            self.outcome.as_str(),
            self.message
        );
    }
}

/// `Init._get_data_source`'s `check-cache` event: the local stage checks
/// the cache, the network stage trusts it. The config and final stages
/// read the cache before 22.4's log is set up: no event there.
pub fn check_cache(stage: Stage) -> Event {
    match stage {
        Stage::Local => Event::start(
            "check-cache",
            "attempting to read from cache [check]".into(),
        ),
        Stage::Network => Event::start(
            "check-cache",
            "attempting to read from cache [trust]".into(),
        ),
        _ => Event::none(),
    }
}

/// `sources.find_source`'s event for one datasource tried: `search-<Name>`,
/// after its class (`DataSourceNoCloud`; in the network stage the `...Net`
/// class where 22.4 has one, `DataSourceNoCloudNet`); finished with whether
/// it was found. None in the config and final stages, as in 22.4's log.
pub fn search(name: &str, aliases: &[&str], stage: Stage) -> Search {
    let local = stage == Stage::Local;
    let net = format!("{name}Net");
    let class_name = if !local && aliases.contains(&net.as_str()) {
        net.as_str()
    } else {
        name
    };
    let mode = if local { "local" } else { "network" };
    let class = format!("DataSource{class_name}");
    // The config and final stages search before 22.4's log is set up.
    let event = if stage <= Stage::Network {
        Event::start(
            &format!("search-{class_name}"),
            format!("searching for {mode} data from {class}"),
        )
    } else {
        Event::none()
    };
    Search { event, mode, class }
}

/// A datasource being tried (see [`search`]).
pub struct Search {
    event: Event,
    mode: &'static str,
    class: String,
}

impl Search {
    /// `found local data from DataSourceNoCloud` or `no local data found from ...`.
    pub fn finish(self, found: bool) {
        let Search { event, mode, class } = self;
        let message = if found {
            format!("found {mode} data from {class}")
        } else {
            format!("no {mode} data found from {class}")
        };
        event.finish(Outcome::Success, message);
    }
}

/// `Init.consume_data`'s events, one per kind of data (`user-data`,
/// `vendor-data`, `vendor-data2`), finished when dropped.
pub fn consume(what: &str) -> Event {
    Event::start(
        &format!("consume-{what}"),
        format!("reading and applying {what}"),
    )
}

/// `Modules._run_modules`'s event for one module (`config-<name>`).
pub fn module(name: &str, frequency: &str) -> Module {
    let run_name = format!("config-{name}");
    let event = Event::start(
        &run_name,
        format!("running {run_name} with frequency {frequency}"),
    );
    Module { event, run_name }
}

/// A module running (see [`module`]).
pub struct Module {
    event: Event,
    run_name: String,
}

impl Module {
    /// `config-X ran successfully`, `config-X previously ran` (its semaphore
    /// said it had), or `FAIL` with the start's description (22.4's module
    /// raised).
    pub fn finish(self, ran: bool, failed: bool) {
        let Module {
            mut event,
            run_name,
        } = self;
        if failed {
            event.outcome = Outcome::Fail;
        } else if ran {
            event.message = format!("{run_name} ran successfully");
        } else {
            event.message = format!("{run_name} previously ran");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_and_final_stages_write_no_cache_or_search_events() {
        for stage in [Stage::Config, Stage::Final] {
            assert!(check_cache(stage).name.is_none());
            assert!(search("NoCloud", &["NoCloudNet"], stage)
                .event
                .name
                .is_none());
        }
    }

    #[test]
    fn the_stage_reporters_are_22_4s() {
        assert_eq!(
            stage_reporter("init"),
            Some(("init-network", "searching for network datasources"))
        );
        assert_eq!(
            stage_reporter("modules-final"),
            Some(("modules-final", "running modules for final"))
        );
        assert_eq!(stage_reporter("single"), None);
    }
}
