//! snap (`cc_snap`): snap assertions and snap commands, once per instance,
//! when `snap` is set; 22.4 verifies it on ubuntu only (`unverified_modules`
//! lets it run elsewhere). As 22.4 does:
//!
//! 1. `assertions` (a list, or a mapping whose values are taken in its
//!    order) are joined with newlines into
//!    `/var/lib/cloud/instance/snapd.assertions` (0644, `util.write_file`'s
//!    default) and acknowledged with `snap ack <that file>`; its failure
//!    fails the module before any command runs.
//! 2. `commands` (a list, or a mapping run in the order of its sorted keys):
//!    a string runs through the shell (`/bin/sh -c`, `subp(shell=True)`) and
//!    is warned of when it does not start with `snap `; a list is an argv,
//!    `snap` put first unless it is there (a first element `null` is
//!    dropped instead). Every command runs; any failure fails the module
//!    afterwards ("Failures running snap commands").
//!
//! Bad config is refused as 22.4 refuses it, with its messages: an
//! `assertions` or `commands` that is neither list nor mapping, a command
//! that is neither string nor list (before any command runs), mapping keys
//! Python cannot sort. Where cloudboot differs: a list command holding a
//! value that is not a string (22.4 fails with an `AttributeError` at that
//! command) is refused before any command runs, naming the key; an
//! assertion that is not a string (22.4's `TypeError` from `join`) is
//! refused before the file is written, naming it.

use std::cmp::Ordering;

use crate::module::prelude::*;

pub struct Snap;

/// A command: a command line or its words (22.4's schema).
const COMMAND: Ty = Ty::OneOf(&[Ty::Str, Ty::List(&Ty::Str)]);

/// 22.4's schema for `assertions` and `commands`: a mapping of at least one
/// entry or a list of at least one (`type: [object, array]`). Its boot reads
/// any value and says itself what it refuses, so the boot type is `Any`.
static SNAP_KEYS: &[Field] = &[
    Field::opt(
        "assertions",
        Ty::Strict(
            &Ty::Any,
            Rule::As(&Ty::Strict(
                &Ty::OneOf(&[
                    Ty::Strict(
                        &Ty::Strict(&Ty::AnyMap, Rule::Values(&Ty::Str)),
                        Rule::MinProperties(1),
                    ),
                    Ty::Strict(&Ty::List(&Ty::Str), Rule::MinItems(1)),
                ]),
                Rule::TypeList,
            )),
        ),
    ),
    Field::opt(
        "commands",
        Ty::Strict(
            &Ty::Any,
            Rule::As(&Ty::Strict(
                &Ty::OneOf(&[
                    Ty::Strict(
                        &Ty::Strict(&Ty::AnyMap, Rule::Values(&COMMAND)),
                        Rule::MinProperties(1),
                    ),
                    Ty::Strict(&Ty::List(&COMMAND), Rule::MinItems(1)),
                ]),
                Rule::TypeList,
            )),
        ),
    ),
];

static INFO: ModuleInfo = ModuleInfo {
    name: "snap",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &["snap"],
    keys: &["snap"],
    schema: &[Field::opt(
        "snap",
        Ty::Strict(&Ty::Map(SNAP_KEYS), Rule::MinProperties(1)),
    )],
    summary: "acknowledge snap assertions (snap ack) and run snap commands",
};

/// 22.4's `SNAP_CMD`.
const SNAP_CMD: &str = "snap";

impl Module for Snap {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn distros(&self) -> &'static [&'static str] {
        &["ubuntu"]
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let cfg = match ctx.cfg.get("snap") {
            Some(c) if c.truthy() => c,
            _ => {
                out.note(format!(
                    "Skipping module named {}, no 'snap' key in configuration",
                    ctx.name
                ));
                return out;
            }
        };
        // 22.4 acks the assertions before it looks at the commands: a bad
        // `commands` fails the module after the ack.
        let file = ctx.paths.instance_link().join("snapd.assertions");
        match assertions(cfg.get("assertions")) {
            Ok(None) => {}
            Ok(Some(text)) => {
                out.effects.push(Effect::write(
                    file.clone(),
                    Data::public(text.into_bytes()),
                    0o644,
                ));
                out.effects.push(Effect::Run(Command::new([
                    SNAP_CMD.to_string(),
                    "ack".into(),
                    file.display().to_string(),
                ])));
            }
            Err(e) => {
                out.error(e);
                return out;
            }
        }
        match commands(cfg.get("commands")) {
            Ok((commands, warnings)) => {
                if !warnings.is_empty() {
                    out.warn(format!(
                        "Non-{SNAP_CMD} commands in {SNAP_CMD} config:\n{}",
                        warnings.join("\n")
                    ));
                }
                // Each failure is reported and the rest still run, as 22.4
                // collects them and fails the module at the end.
                out.effects.extend(
                    commands
                        .into_iter()
                        .map(|c| Effect::Run(c.on_failure(OnFailure::Report))),
                );
            }
            Err(e) => out.error(e),
        }
        out
    }
}

/// `add_assertions`' file content: `None` when there are none.
fn assertions(value: Option<&Value>) -> Result<Option<String>, ConfigError> {
    let Some(value) = value.filter(|v| v.truthy()) else {
        return Ok(None);
    };
    let items: Vec<&Value> = match value {
        Value::Map(m) => m.iter().map(|(_, v)| v).collect(),
        Value::Seq(s) => s.iter().collect(),
        other => {
            return Err(ConfigError::new(
                "snap.assertions",
                format!(
                    "assertion parameter was not a list or dict: {}",
                    other.python_str_any()
                ),
            ))
        }
    };
    let mut texts = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        match item.as_str() {
            Some(s) => texts.push(s),
            None => {
                return Err(ConfigError::new(
                    "snap.assertions",
                    format!(
                        "snap.assertions: assertion {i} is a {}, not a string (cloud-init 22.4: sequence item {i}: expected str instance, {} found)",
                        item.type_name(),
                        item.type_name()
                    ),
                ))
            }
        }
    }
    Ok(Some(texts.join("\n")))
}

/// `run_commands` up to the runs: the commands in order, and the strings
/// that do not start with `snap ` (`prepend_base_command`'s warnings).
fn commands(value: Option<&Value>) -> Result<(Vec<Command>, Vec<String>), ConfigError> {
    let Some(value) = value.filter(|v| v.truthy()) else {
        return Ok((Vec::new(), Vec::new()));
    };
    let items: Vec<&Value> = match value {
        Value::Map(m) => sorted_values(m)?,
        Value::Seq(s) => s.iter().collect(),
        other => {
            return Err(ConfigError::new(
                "snap.commands",
                format!(
                    "commands parameter was not a list or dict: {}",
                    other.python_str_any()
                ),
            ))
        }
    };
    let mut commands = Vec::new();
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    for item in items {
        match item {
            Value::Seq(words) => {
                let mut words: &[Value] = words;
                let mut argv = Vec::new();
                match words.first() {
                    // `command[0]` of an empty list: 22.4's IndexError.
                    None => {
                        return Err(ConfigError::new(
                            "snap.commands",
                            "snap.commands: an empty command list (cloud-init 22.4: IndexError: list index out of range)",
                        ))
                    }
                    // `None` first: taken off, nothing put before the rest.
                    Some(Value::Null) => words = &words[1..],
                    Some(Value::Str(s)) if s == SNAP_CMD => {}
                    Some(_) => argv.push(SNAP_CMD.to_string()),
                }
                for w in words {
                    match w.as_str() {
                        Some(s) => argv.push(s.to_string()),
                        None => {
                            return Err(ConfigError::new(
                                "snap.commands",
                                format!(
                                    "snap.commands: {} in the command {} is a {}, not a string",
                                    w.python_repr(),
                                    item.python_repr(),
                                    w.type_name()
                                ),
                            ))
                        }
                    }
                }
                commands.push(Command::new(argv));
            }
            Value::Str(line) => {
                if !line.starts_with(&format!("{SNAP_CMD} ")) {
                    warnings.push(line.clone());
                }
                commands.push(Command::new(["/bin/sh", "-c", line.as_str()]));
            }
            other => errors.push(other.python_str_any()),
        }
    }
    if !errors.is_empty() {
        return Err(ConfigError::new(
            "snap.commands",
            format!(
                "Invalid {SNAP_CMD} config. These commands are not a string or list:\n{}",
                errors.join("\n")
            ),
        ));
    }
    Ok((commands, warnings))
}

/// `[v for _, v in sorted(commands.items())]`: keys all strings or all
/// numbers sort as Python sorts them; others Python cannot compare.
fn sorted_values(m: &Mapping) -> Result<Vec<&Value>, ConfigError> {
    let mut entries: Vec<(&Value, &Value)> = m.iter().collect();
    let all_str = entries.iter().all(|(k, _)| matches!(k, Value::Str(_)));
    let all_num = entries.iter().all(|(k, _)| number(k).is_some());
    if all_str {
        entries.sort_by(|a, b| a.0.as_str().cmp(&b.0.as_str()));
    } else if all_num {
        entries.sort_by(|a, b| {
            let (x, y) = (number(a.0).unwrap(), number(b.0).unwrap());
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        });
    } else {
        let mut types: Vec<&str> = entries.iter().map(|(k, _)| k.type_name()).collect();
        types.dedup();
        return Err(ConfigError::new(
            "snap.commands",
            format!(
                "snap.commands: its keys cannot be sorted (cloud-init 22.4: TypeError: '<' not supported between instances of {})",
                types
                    .iter()
                    .take(2)
                    .map(|t| format!("'{t}'"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
        ));
    }
    Ok(entries.into_iter().map(|(_, v)| v).collect())
}

/// A key as a number Python compares it with others (bool, int, float);
/// YAML keys beyond f64's exact integers do not occur in snap commands.
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    include!("../tests/fixtures/lxd_snap/recorded.rs");

    #[test]
    fn every_recorded_case_plans_as_cloud_init_22_4_ran_it() {
        check_recorded(&Snap, 8);
    }

    #[test]
    fn assertions_are_written_then_acked_before_the_commands() {
        let p = Kit::debian12()
            .cfg("snap:\n  assertions: [a1, a2]\n  commands:\n    b: [install, vlc]\n    a: snap list\n")
            .plan(&Snap);
        assert!(p.errors().is_empty(), "{:?}", p.errors());
        assert_eq!(
            p.file("/var/lib/cloud/instance/snapd.assertions")
                .as_deref(),
            Some("a1\na2")
        );
        assert_eq!(
            p.commands(),
            [
                vec!["snap", "ack", "/var/lib/cloud/instance/snapd.assertions"],
                vec!["/bin/sh", "-c", "snap list"],
                vec!["snap", "install", "vlc"],
            ]
        );
    }

    #[test]
    fn a_bad_command_fails_before_any_runs() {
        let p = Kit::debian12()
            .cfg("snap:\n  commands: [snap list, 3, {a: b}]\n")
            .plan(&Snap);
        assert!(p.commands().is_empty());
        assert_eq!(
            p.errors(),
            ["Invalid snap config. These commands are not a string or list:\n3\n{'a': 'b'}"]
        );
    }
}
