//! 22.4's schema for keys no cloudboot module reads (every module of 22.4
//! now declares its own): `reporting`, the handlers of cloud-init's event
//! reporting. `cloudboot schema` checks them as `cloud-init schema` does, so
//! a file 22.4 refuses is refused here too; a boot ignores these keys (see
//! [`super::CLOUD_INIT_KEYS`]). Written from 22.4's
//! `schema-cloud-config-v1.json`; code that comes to read one of these keys
//! declares it itself and the entry here goes.

use super::{Field, Rule, Ty};

/// 22.4's `reporting` (its `reporting_config`): handlers by name, each one
/// of four forms. cloudboot reports nothing to these handlers yet.
pub static REPORTING: &[Field] = &[Field::opt(
    "reporting",
    Ty::Strict(
        &Ty::AnyMap,
        Rule::Values(&Ty::Strict(&Ty::AnyMap, Rule::Check(reporting_handler))),
    ),
)];

/// One handler: exactly one of the `log`, `print`, `webhook` and `hyperv`
/// forms (`oneOf`).
fn reporting_handler(v: &crate::value::Value) -> super::Verdict {
    use crate::value::Value;
    let Some(m) = v.as_map() else {
        return super::Verdict::Fine;
    };
    let is_str = |k: &str| m.get(k).is_none_or(|x| x.as_str().is_some());
    let non_negative = |k: &str, float: bool| {
        m.get(k).is_none_or(|x| match x {
            Value::Int(i) => *i >= 0,
            Value::Float(f) if float => *f >= 0.0,
            _ => false,
        })
    };
    let only = |keys: &[&str]| {
        m.iter()
            .all(|(k, _)| k.as_str().is_some_and(|k| keys.contains(&k)))
    };
    let kind = m.get("type").and_then(|t| t.as_str());
    let fits = match kind {
        Some("log") => {
            only(&["type", "level"])
                && m.get("level").is_none_or(|l| {
                    l.as_str()
                        .is_some_and(|l| ["DEBUG", "INFO", "WARN", "ERROR", "FATAL"].contains(&l))
                })
        }
        Some("print") => only(&["type"]),
        Some("webhook") => {
            only(&[
                "type",
                "endpoint",
                "consumer_key",
                "token_key",
                "token_secret",
                "consumer_secret",
                "timeout",
                "retries",
            ]) && m.get("endpoint").is_some_and(|e| {
                e.as_str().is_some() && super::uri_format(e) == super::Verdict::Fine
            }) && [
                "consumer_key",
                "token_key",
                "token_secret",
                "consumer_secret",
            ]
            .iter()
            .all(|k| is_str(k))
                && non_negative("timeout", true)
                && non_negative("retries", false)
        }
        Some("hyperv") => {
            only(&["type", "kvp_file_path", "event_types"])
                && is_str("kvp_file_path")
                && m.get("event_types").is_none_or(|e| {
                    e.as_seq()
                        .is_some_and(|items| items.iter().all(|i| i.as_str().is_some()))
                })
        }
        _ => false,
    };
    if fits {
        super::Verdict::Fine
    } else {
        super::Verdict::Bad("is not valid under any of the given schemas")
    }
}

/// Every table here, for [`super::strict::check`].
pub static ALL: &[&[Field]] = &[REPORTING];
