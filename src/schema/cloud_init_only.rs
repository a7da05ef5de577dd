//! 22.4's schema for keys of cloud-init modules cloudboot does not have
//! (yet): `cloudboot schema` checks them as `cloud-init schema` does, so a
//! file 22.4 refuses is refused here too; a boot ignores these keys (see
//! [`super::CLOUD_INIT_KEYS`]). Written from 22.4's
//! `schema-cloud-config-v1.json`; a module that comes to read one of these
//! keys declares it itself and the entry here goes.

use super::{Field, Rule, Ty};

/// `cc_ubuntu_autoinstall`: other keys are the installer's.
pub static UBUNTU_AUTOINSTALL: &[Field] = &[Field::opt(
    "autoinstall",
    Ty::MapPart(&[Field::req("version", Ty::Int)]),
)];

/// `cc_ubuntu_drivers`.
pub static UBUNTU_DRIVERS: &[Field] = &[Field::opt(
    "drivers",
    Ty::Map(&[Field::opt(
        "nvidia",
        Ty::Map(&[
            Field::req("license-accepted", Ty::Bool),
            Field::opt("version", Ty::Str),
        ]),
    )]),
)];

/// A number of at least 0 (`timeout`, `forks`, ...).
const NON_NEGATIVE: Ty = Ty::Strict(&Ty::Number, Rule::Minimum(0));

/// `cc_ansible`.
pub static ANSIBLE: &[Field] = &[Field::opt(
    "ansible",
    Ty::Map(&[
        Field::opt(
            "install_method",
            Ty::Strict(&Ty::Str, Rule::OneOfStrs(&["distro", "pip"])),
        ),
        Field::opt("run_user", Ty::Str),
        Field::opt("ansible_config", Ty::Str),
        Field::opt(
            "setup_controller",
            Ty::Map(&[
                Field::opt(
                    "repositories",
                    Ty::List(&Ty::Map(&[
                        Field::req("path", Ty::Str),
                        Field::req("source", Ty::Str),
                    ])),
                ),
                Field::opt("run_ansible", Ty::List(&Ty::MapPart(ANSIBLE_RUN))),
            ]),
        ),
        Field::opt(
            "galaxy",
            Ty::Map(&[Field::req("actions", Ty::List(&Ty::List(&Ty::Str)))]),
        ),
        Field::opt("package_name", Ty::Str),
        Field::opt("pull", Ty::Map(ANSIBLE_PULL)),
    ]),
)];

/// `ansible.setup_controller.run_ansible` entries (other keys allowed).
static ANSIBLE_RUN: &[Field] = &[
    Field::opt("playbook_name", Ty::Str),
    Field::opt("playbook_dir", Ty::Str),
    Field::opt("become_password_file", Ty::Str),
    Field::opt("connection_password_file", Ty::Str),
    Field::opt("list_hosts", Ty::Bool),
    Field::opt("syntax_check", Ty::Bool),
    Field::opt("timeout", NON_NEGATIVE),
    Field::opt("vault_id", Ty::Str),
    Field::opt("vault_password_file", Ty::Str),
    Field::opt("background", NON_NEGATIVE),
    Field::opt("check", Ty::Bool),
    Field::opt("diff", Ty::Bool),
    Field::opt("module_path", Ty::Str),
    Field::opt("poll", NON_NEGATIVE),
    Field::opt("args", Ty::Str),
    Field::opt("extra_vars", Ty::Str),
    Field::opt("forks", NON_NEGATIVE),
    Field::opt("inventory", Ty::Str),
    Field::opt("scp_extra_args", Ty::Str),
    Field::opt("sftp_extra_args", Ty::Str),
    Field::opt("private_key", Ty::Str),
    Field::opt("connection", Ty::Str),
    Field::opt("module_name", Ty::Str),
    Field::opt("sleep", Ty::Str),
    Field::opt("tags", Ty::Str),
    Field::opt("skip_tags", Ty::Str),
];

/// `ansible.pull`.
static ANSIBLE_PULL: &[Field] = &[
    Field::req("url", Ty::Str),
    Field::req("playbook_name", Ty::Str),
    Field::opt("accept_host_key", Ty::Bool),
    Field::opt("clean", Ty::Bool),
    Field::opt("full", Ty::Bool),
    Field::opt("diff", Ty::Bool),
    Field::opt("ssh_common_args", Ty::Str),
    Field::opt("scp_extra_args", Ty::Str),
    Field::opt("sftp_extra_args", Ty::Str),
    Field::opt("private_key", Ty::Str),
    Field::opt("checkout", Ty::Str),
    Field::opt("module_path", Ty::Str),
    Field::opt("timeout", Ty::Str),
    Field::opt("connection", Ty::Str),
    Field::opt("vault_id", Ty::Str),
    Field::opt("vault_password_file", Ty::Str),
    Field::opt("module_name", Ty::Str),
    Field::opt("sleep", Ty::Str),
    Field::opt("tags", Ty::Str),
    Field::opt("skip_tags", Ty::Str),
];

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
pub static ALL: &[&[Field]] = &[REPORTING, ANSIBLE, UBUNTU_AUTOINSTALL, UBUNTU_DRIVERS];
