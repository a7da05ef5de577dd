//! power_state_change (`cc_power_state_change`): once per instance, at the
//! very end of the final stage, powers the machine off, halts or reboots it
//! once cloudboot itself has finished, as cloud-init 22.4 does.
//!
//! ```yaml
//! power_state:
//!   mode: reboot            # poweroff | halt | reboot (required)
//!   delay: now              # "now", "+N" or N: minutes, given to shutdown
//!   message: Rebooting      # optional, given to shutdown
//!   timeout: 30             # seconds to wait for cloudboot to exit (default 30)
//!   condition: true         # true, false, or a command (string: sh -c; list:
//!                           # argv) whose exit 0 = go, 1 = don't, else = don't
//! ```
//!
//! The command is the distribution's `shutdown_command`
//! ([`crate::distro::shutdown`]): `shutdown -P|-H|-r <delay> [message]` on
//! Linux; on Alpine `poweroff|halt|reboot -d <seconds>`; on the BSDs
//! poweroff is `shutdown -p`. The distribution is `ctx.distro`'s name
//! (`system_info.distro`, else the one the root holds).
//!
//! cloud-init forks a child that waits until the cloud-init process is gone
//! (or its `/proc/<pid>/cmdline` changed) or `timeout` seconds passed, then
//! evaluates `condition`, then runs the command. A module here only plans, so
//! it returns one [`HostAction`] that starts the same watcher as a small
//! detached POSIX sh script ([`LAUNCH`], [`WATCH`]) given cloudboot's own pid.
//! The launcher returns at once, so the final stage still writes
//! `boot-finished`, its semaphores and `status.json`/`result.json` before
//! anything goes down. Like every host action it is performed only when the
//! target root is this machine's `/`; otherwise it is recorded with the argv it
//! would run (`plan` shows it too).
//!
//! Deliberate differences from 22.4:
//! - A bad `power_state` (not a mapping, bad mode, delay, timeout or condition)
//!   fails the module with cloud-init's message ("... Not performing power
//!   state change!"), so `status` shows it; cloud-init only logs a warning and
//!   counts the module as a success. Either way nothing is shut down. A key of
//!   the wrong type is caught by the module's schema, which names the file and
//!   line.
//! - A negative delay is refused (the schema's `minimum: 0`); 22.4 would run
//!   `shutdown +-5`, which fails in the child.
//! - A list condition must hold strings only and not be empty, and a message
//!   must be a string: 22.4 finds out in the child (Popen raises) and silently
//!   shuts nothing down; here the module fails up front. A list condition runs
//!   as `exec 'a' 'b' ...` under `/bin/sh -c`, which is the same as Popen's
//!   direct exec (PATH lookup, no shell builtins, arguments untouched).
//! - The watcher polls once a second (cloud-init: every 0.25 s), so `timeout`
//!   is rounded up to whole seconds; its messages go to
//!   `/var/log/cloud-init-output.log` rather than cloud-init.log.
//! - The watcher reads `/proc`, so the BSD flags are only the command's; the
//!   `procstat` route 22.4 takes on FreeBSD is not needed (cloudboot is Linux).

use crate::module::prelude::*;

pub struct PowerStateChange;

static POWER_STATE_FIELDS: &[Field] = &[
    Field::opt("delay", Ty::Strict(&Ty::Any, Rule::Check(delay_form))),
    Field::req(
        "mode",
        Ty::Strict(
            &Ty::Enum(MODES),
            Rule::OneOfStrs(&["poweroff", "reboot", "halt"]),
        ),
    ),
    Field::opt(
        "message",
        Ty::Strict(&Ty::OneOf(&[Ty::Str, Ty::Null]), Rule::As(&Ty::Str)),
    ),
    // Anything Python's float() takes (a numeric string too), checked
    // below; 22.4's schema says integer.
    Field::opt("timeout", Ty::Strict(&Ty::Any, Rule::As(&Ty::Int))),
    Field::opt(
        "condition",
        Ty::OneOf(&[Ty::Str, Ty::Bool, Ty::List(&Ty::Any)]),
    ),
];

/// 22.4's `delay`: a non-negative integer, `now`, or (deprecated) a string
/// of digits with an optional `+` (`^\\+?[0-9]+$`).
fn delay_form(v: &Value) -> Verdict {
    match v {
        Value::Int(n) if *n >= 0 => Verdict::Fine,
        Value::Str(s) if s == "now" => Verdict::Fine,
        Value::Str(s) if all_digits(s.strip_prefix('+').unwrap_or(s)) => {
            Verdict::Deprecated(
                "Use of string for this value will be dropped after April 2027. Use ``now`` or integer type.",
            )
        }
        _ => Verdict::Bad("is not valid under any of the given schemas"),
    }
}

static INFO: ModuleInfo = ModuleInfo {
    name: "power_state_change",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &["power_state"],
    keys: &["power_state"],
    schema: &[Field::opt(
        "power_state",
        Ty::Strict(
            &Ty::OneOf(&[Ty::Map(POWER_STATE_FIELDS), Ty::Null]),
            Rule::As(&Ty::Map(POWER_STATE_FIELDS)),
        ),
    )],
    summary: "power off, halt or reboot once the boot has finished",
};

/// In the order cloud-init's message lists them.
const MODES: &[&str] = &["halt", "poweroff", "reboot"];

/// Where the watcher's messages go (host path: it only runs on root `/`).
const WATCH_LOG: &str = OUTPUT_LOG_FILE;

/// `$0` of both scripts, so their messages say who they are.
const SCRIPT_NAME: &str = "power_state_change";

/// Runs in the foreground, as the host action itself:
/// `$1` = [`WATCH`], `$2` = pid to wait for, the rest for the watcher.
pub const LAUNCH: &str = r#"
watch=$1
pid=$2
shift
# cloud-init reads its own cmdline before it forks; read it here, while the
# watched process is sure to be alive (cloudboot is waiting for us). stderr
# goes first so that a missing /proc/$pid says nothing.
cmdline=$(tr '\000' ' ' 2>/dev/null <"/proc/$pid/cmdline")
if [ -z "$cmdline" ]; then
    echo "power_state: failed to get cmdline of current process" >&2
    exit 1
fi
# Start the watcher with no tie to cloudboot's output (its pipe would keep
# cloudboot waiting) and, where setsid exists, in a session of its own so
# that signals meant for cloudboot's process group do not reach it.
if command -v setsid >/dev/null 2>&1; then
    setsid /bin/sh -c "$watch" "$0" "$cmdline" "$@" </dev/null >/dev/null 2>&1 &
else
    /bin/sh -c "$watch" "$0" "$cmdline" "$@" </dev/null >/dev/null 2>&1 &
fi
# Return at once: the stage finishes while the watcher waits for it.
exit 0
"#;

/// The detached watcher: cloud-init's `run_after_pid_gone`, `check_condition`
/// and `execmd`. `$1` = the watched process's cmdline (NULs as spaces),
/// `$2` = pid, `$3` = timeout in whole seconds, `$4` = log file,
/// `$5` = condition kind (`true`, `false` or `sh` followed by a command for
/// `sh -c`), then `--` and the shutdown command.
pub const WATCH: &str = r#"
# A hangup of cloudboot's terminal (a manual run) must not end the wait.
trap '' HUP
cmdline=$1 pid=$2 timeout=$3 log=$4 kind=$5
shift 5
cond=
if [ "$kind" = sh ]; then
    cond=$1
    shift
fi
# Messages and the condition's output go to the log, as the output of
# cloud-init's child does; to /dev/null when the log cannot be opened (tried
# in a subshell: a failed redirection must not end this shell).
if (: >>"$log") 2>/dev/null; then
    exec >>"$log" 2>&1
else
    exec >/dev/null 2>&1
fi
say() {
    printf '%s: %s\n' "$0" "$*"
}
if [ "$1" != "--" ]; then
    say "bad arguments: expected -- before the command, found '$1'"
    exit 2
fi
shift
# Wait, polling once a second: until the process is gone, its cmdline is
# not the one it had (the pid was reused), or the timeout has passed.
waited=0
while :; do
    if [ "$waited" -ge "$timeout" ]; then
        say "timeout reached before $pid ended"
        break
    fi
    if [ ! -e "/proc/$pid" ]; then
        say "pidfile gone [2]"
        break
    fi
    now=$(tr '\000' ' ' 2>/dev/null <"/proc/$pid/cmdline")
    if [ "$now" != "$cmdline" ]; then
        say "cmdline changed for $pid [now: $now]"
        break
    fi
    sleep 1
    waited=$((waited + 1))
done
# The condition: exit 0 = met, 1 = not met, anything else = do not apply.
case $kind in
    true)
        say "Static Condition: True"
        ;;
    false)
        say "Static Condition: False"
        exit 0
        ;;
    sh)
        /bin/sh -c "$cond" </dev/null
        rc=$?
        pre="check_condition command ($cond):"
        if [ "$rc" -eq 0 ]; then
            say "$pre exited 0. condition met."
        elif [ "$rc" -eq 1 ]; then
            say "$pre exited 1. condition not met."
            exit 0
        else
            say "$pre unexpected exit $rc. do not apply change."
            exit 0
        fi
        ;;
    *)
        say "unknown condition kind '$kind'"
        exit 2
        ;;
esac
say "executing: $*"
# cloud-init runs it with its output thrown away.
exec "$@" </dev/null >/dev/null 2>&1
"#;

/// `power_state.condition`.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// `true` (the default): always.
    Always,
    /// `false`: never (the module then plans nothing).
    Never,
    /// A command for `/bin/sh -c` (a list condition is turned into one).
    Shell(String),
}

/// A valid `power_state`, as cloud-init's `load_power_state` returns it.
#[derive(Clone, Debug, PartialEq)]
pub struct PowerState {
    pub mode: String,
    /// The distribution's shutdown command.
    pub command: Vec<String>,
    /// Seconds to wait for cloudboot to exit (Python float).
    pub timeout: f64,
    pub condition: Condition,
}

/// What the watcher is given.
#[derive(Clone, Debug, PartialEq)]
pub struct Watch {
    /// The process to wait for.
    pub pid: u32,
    /// Whole seconds to wait at most.
    pub timeout_secs: u64,
    pub condition: Condition,
    /// Host path of the file for the watcher's messages.
    pub log: String,
    /// What to run at the end.
    pub command: Vec<String>,
}

/// The argv of the host action: `/bin/sh -c LAUNCH power_state_change WATCH
/// <pid> <timeout> <log> <kind> [<cond>] -- <command...>`.
pub fn watcher_argv(w: &Watch) -> Vec<String> {
    let mut argv: Vec<String> = vec![
        "/bin/sh".into(),
        "-c".into(),
        LAUNCH.into(),
        SCRIPT_NAME.into(),
        WATCH.into(),
        w.pid.to_string(),
        w.timeout_secs.to_string(),
        w.log.clone(),
    ];
    match &w.condition {
        Condition::Always => argv.push("true".into()),
        Condition::Never => argv.push("false".into()),
        Condition::Shell(c) => {
            argv.push("sh".into());
            argv.push(c.clone());
        }
    }
    argv.push("--".into());
    argv.extend(w.command.iter().cloned());
    argv
}

/// cloud-init's `load_power_state`: `Ok(None)` when `power_state` is absent
/// or null; an error in cloud-init's words otherwise. `distro` is the
/// distribution's name (`system_info.distro` or the detected variant).
pub fn load_power_state(cfg: &Value, distro: &str) -> Result<Option<PowerState>, ConfigError> {
    let pstate = match cfg.get("power_state") {
        None | Some(Value::Null) => return Ok(None),
        Some(p) => p,
    };
    if pstate.as_map().is_none() {
        return Err(ConfigError::new(
            "power_state",
            "power_state is not a dict.",
        ));
    }
    let mode = match pstate.get("mode") {
        Some(Value::Str(m)) if MODES.contains(&m.as_str()) => m.clone(),
        other => {
            return Err(ConfigError::new(
                "power_state.mode",
                format!(
                    "power_state[mode] required, must be one of: {}. found: '{}'.",
                    MODES.join(","),
                    other
                        .map(Value::python_str)
                        .unwrap_or_else(|| "None".into())
                ),
            ))
        }
    };
    let message = match pstate.get("message") {
        None | Some(Value::Null) => None,
        Some(Value::Str(s)) => Some(s.clone()).filter(|s| !s.is_empty()),
        Some(other) => {
            return Err(ConfigError::new(
                "power_state.message",
                format!(
                    "power_state[message] must be a string. found {} '{}'.",
                    other.type_name(),
                    other.python_str()
                ),
            ))
        }
    };
    let minutes = delay_minutes(pstate.get("delay"))?;
    let command = shutdown_command(distro, &mode, minutes, message.as_deref());
    let timeout = match pstate.get("timeout") {
        None => 30.0,
        Some(t) => python_float(t).ok_or_else(|| {
            ConfigError::new(
                "power_state.timeout",
                format!("failed to convert timeout '{}' to float.", t.python_str()),
            )
        })?,
    };
    let condition = match pstate.get("condition") {
        None | Some(Value::Bool(true)) => Condition::Always,
        Some(Value::Bool(false)) => Condition::Never,
        Some(Value::Str(s)) => Condition::Shell(s.clone()),
        Some(Value::Seq(items)) => Condition::Shell(exec_line(items)?),
        Some(other) => {
            return Err(ConfigError::new(
                "power_state.condition",
                format!(
                    "power_state[condition] type {} invalid. must be list, bool, str",
                    other.type_name()
                ),
            ))
        }
    };
    for arg in command.iter().chain(match &condition {
        Condition::Shell(c) => Some(c),
        _ => None,
    }) {
        // No program can be given a NUL in an argument.
        if arg.contains('\0') {
            return Err(ConfigError::new(
                "power_state",
                format!(
                    "power_state: '{}' contains a NUL byte.",
                    arg.escape_default()
                ),
            ));
        }
    }
    Ok(Some(PowerState {
        mode,
        command,
        timeout,
        condition,
    }))
}

/// A list condition as one `sh -c` line that execs it as Popen would.
fn exec_line(items: &[Value]) -> Result<String, ConfigError> {
    let error = |message: String| ConfigError::new("power_state.condition", message);
    if items.is_empty() {
        return Err(error(
            "power_state[condition] is an empty list; there is no command to run.".into(),
        ));
    }
    let mut line = String::from("exec");
    for it in items {
        let Value::Str(s) = it else {
            return Err(error(format!(
                "power_state[condition] list items must be strings. found {} '{}'.",
                it.type_name(),
                it.python_str()
            )));
        };
        line.push(' ');
        // Always quoted, so that `exec` sees each item as one word.
        line.push_str(&py::shell::shellify_quote(s));
    }
    Ok(line)
}

/// `power_state[delay]` in minutes: `None` for "now" (or no delay).
fn delay_minutes(delay: Option<&Value>) -> Result<Option<i64>, ConfigError> {
    Ok(match delay {
        None => None,
        Some(Value::Str(s)) if s == "now" => None,
        Some(d) => Some(python_int(d).filter(|m| *m >= 0).ok_or_else(|| {
            ConfigError::new(
                "power_state.delay",
                format!(
                    "power_state[delay] must be 'now' or '+m' (minutes). found '{}'.",
                    d.python_str()
                ),
            )
        })?),
    })
}

/// Python's `int(value)` ([`crate::py::int::from_value`]) as this module
/// has always read a delay: an infinite float (Python's `OverflowError`)
/// and `bytes` are refused like any other delay that is not a number.
fn python_int(v: &Value) -> Option<i64> {
    match v {
        Value::Bytes(_) => None,
        other => py::int::from_value(other).ok().flatten(),
    }
}

/// Python's `float(value)` for what YAML gives.
fn python_float(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::Float(f) => Some(*f),
        Value::Str(s) => py::float::parse(s),
        _ => None,
    }
}

/// The timeout in whole seconds for the watcher: rounded up; never (or
/// NaN, which Python never reaches either) as the largest wait sh counts to.
pub fn timeout_secs(timeout: f64) -> u64 {
    const FOREVER: u64 = i32::MAX as u64;
    if timeout.is_nan() || timeout >= FOREVER as f64 {
        FOREVER
    } else if timeout <= 0.0 {
        0
    } else {
        timeout.ceil() as u64
    }
}

/// How a plan and the report say it.
fn describe(ps: &PowerState) -> String {
    let cmd = ps
        .command
        .iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ");
    let t = if ps.timeout.fract() == 0.0 && ps.timeout.is_finite() {
        format!("{}", ps.timeout as i64)
    } else {
        python_float_repr(ps.timeout)
    };
    let cond = match &ps.condition {
        Condition::Shell(c) => format!(", if `{c}` exits 0"),
        _ => String::new(),
    };
    format!(
        "{} ({cmd}) once cloudboot has exited or after {t} s{cond}",
        ps.mode
    )
}

impl Module for PowerStateChange {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let ps = match load_power_state(ctx.cfg, &ctx.distro.name) {
            Ok(Some(ps)) => ps,
            Ok(None) => {
                out.note("no power_state provided. doing nothing");
                return out;
            }
            Err(e) => {
                out.error(format!("{e} Not performing power state change!"));
                return out;
            }
        };
        if ps.condition == Condition::Never {
            out.note("Condition was false. Will not perform state change.");
            return out;
        }
        let pid = ctx.host.pid();
        tracing::debug!(
            "After pid {pid} ends, will execute: {}",
            ps.command.join(" ")
        );
        let watch = Watch {
            pid,
            timeout_secs: timeout_secs(ps.timeout),
            condition: ps.condition.clone(),
            log: WATCH_LOG.into(),
            command: ps.command.clone(),
        };
        out.effects.push(Effect::Host(HostAction {
            what: describe(&ps),
            argv: watcher_argv(&watch),
        }));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(yaml: &str) -> Value {
        crate::yaml::load(yaml.as_bytes(), "t").unwrap()
    }

    fn load(yaml: &str) -> Result<Option<PowerState>, String> {
        load_power_state(&cfg(yaml), "debian").map_err(String::from)
    }

    fn command(yaml: &str, distro: &str) -> Vec<String> {
        load_power_state(&cfg(yaml), distro)
            .unwrap()
            .unwrap()
            .command
    }

    #[test]
    fn power_state_linux_commands() {
        assert_eq!(
            command("power_state: {mode: poweroff}", "debian"),
            ["shutdown", "-P", "now"]
        );
        assert_eq!(
            command("power_state: {mode: halt, delay: 5}", "centos"),
            ["shutdown", "-H", "+5"]
        );
        assert_eq!(
            command(
                "power_state: {mode: reboot, delay: '+30', message: Rebooting machine}",
                "ubuntu"
            ),
            ["shutdown", "-r", "+30", "Rebooting machine"]
        );
        // Python's int(): whitespace, a float truncated, a bool.
        assert_eq!(
            command("power_state: {mode: reboot, delay: ' 7 '}", "rhel"),
            ["shutdown", "-r", "+7"]
        );
        assert_eq!(
            command("power_state: {mode: reboot, delay: 2.9}", "rhel"),
            ["shutdown", "-r", "+2"]
        );
        // An empty message is not passed (`if message:`).
        assert_eq!(
            command("power_state: {mode: reboot, message: ''}", "rhel"),
            ["shutdown", "-r", "now"]
        );
    }

    #[test]
    fn power_state_alpine_and_bsd_commands() {
        assert_eq!(
            command("power_state: {mode: poweroff, message: ignored}", "alpine"),
            ["poweroff", "-d", "0"]
        );
        assert_eq!(
            command("power_state: {mode: reboot, delay: '+2'}", "alpine"),
            ["reboot", "-d", "120"]
        );
        assert_eq!(
            command("power_state: {mode: poweroff, delay: 1}", "freebsd"),
            ["shutdown", "-p", "+1"]
        );
        assert_eq!(
            command("power_state: {mode: halt}", "openbsd"),
            ["shutdown", "-H", "now"]
        );
    }

    #[test]
    fn power_state_defaults_and_conditions() {
        let ps = load("power_state: {mode: reboot}").unwrap().unwrap();
        assert_eq!(ps.timeout, 30.0);
        assert_eq!(ps.condition, Condition::Always);
        let ps = load("power_state: {mode: reboot, timeout: '2.5', condition: false}")
            .unwrap()
            .unwrap();
        assert_eq!(ps.timeout, 2.5);
        assert_eq!(timeout_secs(ps.timeout), 3);
        assert_eq!(ps.condition, Condition::Never);
        let ps = load("power_state: {mode: reboot, condition: 'test -f /x'}")
            .unwrap()
            .unwrap();
        assert_eq!(ps.condition, Condition::Shell("test -f /x".into()));
        let ps = load("power_state: {mode: reboot, condition: [test, -f, \"it's\"]}")
            .unwrap()
            .unwrap();
        assert_eq!(
            ps.condition,
            Condition::Shell("exec 'test' '-f' 'it'\\''s'".into())
        );
        assert_eq!(load("power_state: null").unwrap(), None);
        assert_eq!(load("other: 1").unwrap(), None);
    }

    #[test]
    fn power_state_errors_name_the_key() {
        let err = |y: &str| load(y).unwrap_err();
        assert_eq!(err("power_state: [1]"), "power_state is not a dict.");
        assert_eq!(
            err("power_state: {mode: sleep}"),
            "power_state[mode] required, must be one of: halt,poweroff,reboot. found: 'sleep'."
        );
        assert_eq!(
            err("power_state: {delay: 5}"),
            "power_state[mode] required, must be one of: halt,poweroff,reboot. found: 'None'."
        );
        assert_eq!(
            err("power_state: {mode: reboot, delay: soon}"),
            "power_state[delay] must be 'now' or '+m' (minutes). found 'soon'."
        );
        assert!(err("power_state: {mode: reboot, delay: -5}").starts_with("power_state[delay]"));
        assert_eq!(
            err("power_state: {mode: reboot, timeout: abc}"),
            "failed to convert timeout 'abc' to float."
        );
        assert!(err("power_state: {mode: reboot, condition: 5}")
            .starts_with("power_state[condition] type int invalid"));
        assert!(err("power_state: {mode: reboot, condition: [sleep, 5]}")
            .starts_with("power_state[condition] list items must be strings"));
        assert!(err("power_state: {mode: reboot, condition: []}")
            .starts_with("power_state[condition] is an empty list"));
    }

    #[test]
    fn power_state_timeouts() {
        assert_eq!(timeout_secs(0.0), 0);
        assert_eq!(timeout_secs(-3.0), 0);
        assert_eq!(timeout_secs(0.1), 1);
        assert_eq!(timeout_secs(30.0), 30);
        assert_eq!(timeout_secs(f64::INFINITY), i32::MAX as u64);
        assert_eq!(timeout_secs(f64::NAN), i32::MAX as u64);
        assert_eq!(python_float(&Value::str(" 1_0 ")), Some(10.0));
        assert_eq!(python_float(&Value::str("1e1")), Some(10.0));
        assert_eq!(python_float(&Value::str("1__0")), None);
        assert_eq!(python_float(&Value::Null), None);
    }

    #[test]
    fn power_state_argv_layout_and_description() {
        let w = Watch {
            pid: 42,
            timeout_secs: 30,
            condition: Condition::Shell("test -f /x".into()),
            log: "/var/log/cloud-init-output.log".into(),
            command: vec!["shutdown".into(), "-r".into(), "now".into()],
        };
        let argv = watcher_argv(&w);
        assert_eq!(argv[..4], ["/bin/sh", "-c", LAUNCH, "power_state_change"]);
        assert_eq!(argv[4], WATCH);
        assert_eq!(
            argv[5..],
            [
                "42",
                "30",
                "/var/log/cloud-init-output.log",
                "sh",
                "test -f /x",
                "--",
                "shutdown",
                "-r",
                "now"
            ]
        );
        let ps = load("power_state: {mode: reboot, message: Bye now, condition: 'test -f /x'}")
            .unwrap()
            .unwrap();
        assert_eq!(
            describe(&ps),
            "reboot (shutdown -r now 'Bye now') once cloudboot has exited or after 30 s, if `test -f /x` exits 0"
        );
    }

    /// Through the module test kit: the watcher waits on cloudboot's own
    /// pid (the fake host's 4242), then runs the distro's shutdown.
    #[test]
    fn kit_plans_the_watcher_on_the_hosts_pid() {
        let run = Kit::debian12()
            .cfg("power_state:\n  mode: reboot\n  delay: '+5'\n  message: bye\n")
            .plan(&PowerStateChange);
        assert!(run.errors().is_empty(), "{:?}", run.errors());
        let commands = run.commands();
        assert_eq!(commands.len(), 1);
        let argv = &commands[0];
        assert_eq!(argv[..2], ["/bin/sh", "-c"]);
        assert_eq!(argv[5], "4242");
        let end = argv.iter().position(|a| a == "--").unwrap();
        assert_eq!(argv[end + 1..], ["shutdown", "-r", "+5", "bye"]);
        let bad = Kit::debian12()
            .cfg("power_state: {mode: sleep}\n")
            .plan(&PowerStateChange);
        assert!(bad.effects().is_empty());
        assert_eq!(
            bad.errors(),
            ["power_state[mode] required, must be one of: halt,poweroff,reboot. found: 'sleep'. Not performing power state change!"]
        );
    }
}
