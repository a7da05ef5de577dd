//! 22.4's schema for keys of cloud-init modules cloudboot does not have
//! (yet): `cloudboot schema` checks them as `cloud-init schema` does, so a
//! file 22.4 refuses is refused here too; a boot ignores these keys (see
//! [`super::CLOUD_INIT_KEYS`]). Written from 22.4's
//! `schema-cloud-config-v1.json`; a module that comes to read one of these
//! keys declares it itself and the entry here goes.

use super::{Field, Rule, Ty};

/// A snap command: a command line or its words.
const SNAP_COMMAND: Ty = Ty::OneOf(&[Ty::Str, Ty::List(&Ty::Str)]);

/// `cc_snap`: `assertions` and `commands` are lists or mappings (`type:
/// [object, array]`), neither empty.
pub static SNAP: &[Field] = &[Field::opt(
    "snap",
    Ty::Strict(
        &Ty::Map(&[
            Field::opt(
                "assertions",
                Ty::Strict(
                    &Ty::OneOf(&[
                        Ty::Strict(
                            &Ty::Strict(&Ty::AnyMap, Rule::Values(&Ty::Str)),
                            Rule::MinProperties(1),
                        ),
                        Ty::Strict(&Ty::List(&Ty::Str), Rule::MinItems(1)),
                    ]),
                    Rule::TypeList,
                ),
            ),
            Field::opt(
                "commands",
                Ty::Strict(
                    &Ty::OneOf(&[
                        Ty::Strict(
                            &Ty::Strict(&Ty::AnyMap, Rule::Values(&SNAP_COMMAND)),
                            Rule::MinProperties(1),
                        ),
                        Ty::Strict(&Ty::List(&SNAP_COMMAND), Rule::MinItems(1)),
                    ]),
                    Rule::TypeList,
                ),
            ),
        ]),
        Rule::MinProperties(1),
    ),
)];

/// `cc_fan`.
pub static FAN: &[Field] = &[Field::opt(
    "fan",
    Ty::Map(&[
        Field::req("config", Ty::Str),
        Field::opt("config_path", Ty::Str),
    ]),
)];

/// `cc_lxd`.
pub static LXD: &[Field] = &[Field::opt(
    "lxd",
    Ty::Strict(
        &Ty::Map(&[
            Field::opt(
                "init",
                Ty::Map(&[
                    Field::opt("network_address", Ty::Str),
                    Field::opt("network_port", Ty::Int),
                    Field::opt(
                        "storage_backend",
                        Ty::Strict(&Ty::Str, Rule::OneOfStrs(&["zfs", "dir", "lvm", "btrfs"])),
                    ),
                    Field::opt("storage_create_device", Ty::Str),
                    Field::opt("storage_create_loop", Ty::Int),
                    Field::opt("storage_pool", Ty::Str),
                    Field::opt("trust_password", Ty::Str),
                ]),
            ),
            Field::opt(
                "bridge",
                Ty::Map(&[
                    Field::req(
                        "mode",
                        Ty::Strict(&Ty::Str, Rule::OneOfStrs(&["none", "existing", "new"])),
                    ),
                    Field::opt("name", Ty::Str),
                    Field::opt("mtu", Ty::Strict(&Ty::Int, Rule::Minimum(-1))),
                    Field::opt("ipv4_address", Ty::Str),
                    Field::opt("ipv4_netmask", Ty::Int),
                    Field::opt("ipv4_dhcp_first", Ty::Str),
                    Field::opt("ipv4_dhcp_last", Ty::Str),
                    Field::opt("ipv4_dhcp_leases", Ty::Int),
                    Field::opt("ipv4_nat", Ty::Bool),
                    Field::opt("ipv6_address", Ty::Str),
                    Field::opt("ipv6_netmask", Ty::Int),
                    Field::opt("ipv6_nat", Ty::Bool),
                    Field::opt("domain", Ty::Str),
                ]),
            ),
            Field::opt("preseed", Ty::Str),
        ]),
        Rule::MinProperties(1),
    ),
)];

/// `cc_landscape`: `client` takes other keys too (`additionalProperties:
/// true`).
pub static LANDSCAPE: &[Field] = &[Field::opt(
    "landscape",
    Ty::Map(&[Field::req(
        "client",
        Ty::MapPart(&[
            Field::opt("url", Ty::Str),
            Field::opt("ping_url", Ty::Str),
            Field::opt("data_path", Ty::Str),
            Field::opt(
                "log_level",
                Ty::Strict(
                    &Ty::Str,
                    Rule::OneOfStrs(&["debug", "info", "warning", "error", "critical"]),
                ),
            ),
            Field::opt("computer_title", Ty::Str),
            Field::opt("account_name", Ty::Str),
            Field::opt("registration_key", Ty::Str),
            Field::opt("tags", Ty::Strict(&Ty::Str, Rule::Check(landscape_tags))),
            Field::opt("http_proxy", Ty::Str),
            Field::opt("https_proxy", Ty::Str),
        ]),
    )]),
)];

/// `^[-_0-9a-zA-Z]+(,[-_0-9a-zA-Z]+)*$`: comma-separated non-empty words.
fn landscape_tags(v: &crate::value::Value) -> super::Verdict {
    let word = |w: &str| {
        !w.is_empty()
            && w.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    match v.as_str() {
        Some(s) if !s.split(',').all(word) => {
            super::Verdict::Bad("does not match '^[-_0-9a-zA-Z]+(,[-_0-9a-zA-Z]+)*$'")
        }
        _ => super::Verdict::Fine,
    }
}

/// `cc_wireguard`: `type: [null, object]`, `interfaces` required.
pub static WIREGUARD: &[Field] = &[Field::opt(
    "wireguard",
    Ty::Strict(
        &Ty::OneOf(&[
            Ty::Null,
            Ty::Strict(
                &Ty::Map(&[
                    Field::req(
                        "interfaces",
                        Ty::Strict(
                            &Ty::List(&Ty::Map(&[
                                Field::opt("name", Ty::Str),
                                Field::opt("config_path", Ty::Str),
                                Field::opt("content", Ty::Str),
                            ])),
                            Rule::MinItems(1),
                        ),
                    ),
                    Field::opt("readinessprobe", Ty::List(&Ty::Str)),
                ]),
                Rule::MinProperties(1),
            ),
        ]),
        Rule::TypeList,
    ),
)];

/// A proxy URL of `ubuntu_advantage.config`: `type: [string, null]`,
/// `format: uri`.
const UA_PROXY: Ty = Ty::Strict(
    &Ty::Strict(&Ty::OneOf(&[Ty::Str, Ty::Null]), Rule::TypeList),
    Rule::Check(super::uri_format),
);

/// `cc_ubuntu_advantage`.
pub static UBUNTU_ADVANTAGE: &[Field] = &[Field::opt(
    "ubuntu_advantage",
    Ty::Map(&[
        Field::opt("enable", Ty::List(&Ty::Str)),
        Field::opt("enable_beta", Ty::List(&Ty::Str)),
        Field::opt("token", Ty::Str),
        Field::opt(
            "features",
            Ty::Map(&[Field::opt("disable_auto_attach", Ty::Bool)]),
        ),
        Field::opt(
            "config",
            Ty::MapPart(&[
                Field::opt("http_proxy", UA_PROXY),
                Field::opt("https_proxy", UA_PROXY),
                Field::opt("global_apt_http_proxy", UA_PROXY),
                Field::opt("global_apt_https_proxy", UA_PROXY),
                Field::opt("ua_apt_http_proxy", UA_PROXY),
                Field::opt("ua_apt_https_proxy", UA_PROXY),
            ]),
        ),
    ]),
)];

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
pub static ALL: &[&[Field]] = &[
    REPORTING,
    WIREGUARD,
    UBUNTU_ADVANTAGE,
    SNAP,
    FAN,
    LXD,
    LANDSCAPE,
];
