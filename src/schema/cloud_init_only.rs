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

/// Every table here, for [`super::strict::check`].
pub static ALL: &[&[Field]] = &[CHEF];
