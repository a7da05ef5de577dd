//! 22.4's schema for keys of cloud-init modules cloudboot does not have
//! (yet): `cloudboot schema` checks them as `cloud-init schema` does, so a
//! file 22.4 refuses is refused here too; a boot ignores these keys (see
//! [`super::CLOUD_INIT_KEYS`]). Written from 22.4's
//! `schema-cloud-config-v1.json`; a module that comes to read one of these
//! keys declares it itself and the entry here goes.

use super::{Field, Rule, Ty};

const STR_LIST_MIN1: Ty = Ty::Strict(&Ty::List(&Ty::Str), Rule::MinItems(1));

/// `cc_chef`.
pub static CHEF: &[Field] = &[Field::opt(
    "chef",
    Ty::Strict(
        &Ty::Map(&[
            Field::opt("directories", STR_LIST_MIN1),
            Field::opt("validation_cert", Ty::Str),
            Field::opt("validation_key", Ty::Str),
            Field::opt("firstboot_path", Ty::Str),
            Field::opt("exec", Ty::Bool),
            Field::opt("client_key", Ty::Str),
            Field::opt("encrypted_data_bag_secret", Ty::Str),
            Field::opt("environment", Ty::Str),
            Field::opt("file_backup_path", Ty::Str),
            Field::opt("file_cache_path", Ty::Str),
            Field::opt("json_attribs", Ty::Str),
            Field::opt("log_level", Ty::Str),
            Field::opt("log_location", Ty::Str),
            Field::opt("node_name", Ty::Str),
            Field::opt("omnibus_url", Ty::Str),
            Field::opt("omnibus_url_retries", Ty::Int),
            Field::opt("omnibus_version", Ty::Str),
            Field::opt("pid_file", Ty::Str),
            Field::opt("server_url", Ty::Str),
            Field::opt("show_time", Ty::Bool),
            Field::opt("ssl_verify_mode", Ty::Str),
            Field::opt("validation_name", Ty::Str),
            Field::opt("force_install", Ty::Bool),
            Field::opt("initial_attributes", Ty::AnyMap),
            Field::opt(
                "install_type",
                Ty::Strict(&Ty::Str, Rule::OneOfStrs(&["packages", "gems", "omnibus"])),
            ),
            Field::opt("run_list", Ty::List(&Ty::Str)),
            Field::opt("chef_license", Ty::Str),
        ]),
        Rule::MinProperties(1),
    ),
)];

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
                    Field::opt("mtu", Ty::Int),
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

/// `cc_puppet`.
pub static PUPPET: &[Field] = &[Field::opt(
    "puppet",
    Ty::Map(&[
        Field::opt("install", Ty::Bool),
        Field::opt("version", Ty::Str),
        Field::opt(
            "install_type",
            Ty::Strict(&Ty::Str, Rule::OneOfStrs(&["packages", "aio"])),
        ),
        Field::opt("collection", Ty::Str),
        Field::opt("aio_install_url", Ty::Str),
        Field::opt("cleanup", Ty::Bool),
        Field::opt("conf_file", Ty::Str),
        Field::opt("ssl_dir", Ty::Str),
        Field::opt("csr_attributes_path", Ty::Str),
        Field::opt("package_name", Ty::Str),
        Field::opt("exec", Ty::Bool),
        Field::opt("exec_args", Ty::List(&Ty::Str)),
        Field::opt("start_service", Ty::Bool),
        Field::opt(
            "conf",
            Ty::Map(&[
                Field::opt("main", Ty::AnyMap),
                Field::opt("server", Ty::AnyMap),
                Field::opt("agent", Ty::AnyMap),
                Field::opt("user", Ty::AnyMap),
                Field::opt("ca_cert", Ty::Str),
            ]),
        ),
        Field::opt(
            "csr_attributes",
            Ty::Map(&[
                Field::opt("custom_attributes", Ty::AnyMap),
                Field::opt("extension_requests", Ty::AnyMap),
            ]),
        ),
    ]),
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

/// `cc_mcollective`: `conf` keys are any non-empty name; the two
/// certificates are strings.
pub static MCOLLECTIVE: &[Field] = &[Field::opt(
    "mcollective",
    Ty::Map(&[Field::opt(
        "conf",
        Ty::Strict(
            &Ty::MapPart(&[
                Field::opt("public-cert", Ty::Str),
                Field::opt("private-cert", Ty::Str),
            ]),
            Rule::Keys(|k| !k.is_empty(), "^.+$"),
        ),
    )]),
)];

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

/// Every table here, for [`super::strict::check`].
pub static ALL: &[&[Field]] = &[
    CHEF,
    SNAP,
    FAN,
    LXD,
    PUPPET,
    LANDSCAPE,
    MCOLLECTIVE,
    UBUNTU_AUTOINSTALL,
    UBUNTU_DRIVERS,
];
