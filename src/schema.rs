//! Checking cloud-config against what cloudboot's modules read.
//!
//! Each module declares the keys it reads and their types
//! ([`crate::module::ModuleInfo::schema`]); the engine declares its own
//! (module lists, datasource_list, vendor_data, ...). A wrong type is an
//! error, an unknown key a warning. At boot a module whose keys have the
//! wrong type fails alone with that message.
//!
//! `cloudboot schema` checks a file as `cloud-init schema` 22.4 does
//! ([`strict`]): the same types plus the constraints of 22.4's JSON schema
//! that modules attach with [`Ty::Strict`] (`minItems`, `enum`, patterns,
//! `oneOf` forms, unknown keys, deprecations), worded as 22.4 words them.
//! Boot ignores those constraints, as 22.4's boot only warns about schema
//! errors; tests/schema_strict.rs compares with 22.4 on its unit tests'
//! configs.
//!
//! The types follow what the module code accepts, which is sometimes wider
//! than cloud-init 22.4's JSON schema (it rejects `permissions: 0755`, an int,
//! though the module writes it fine).

use crate::value::Value;

pub mod cloud_init_only;
pub mod strict;

/// The shape a value must have.
#[derive(Debug)]
pub enum Ty {
    Any,
    Str,
    Bool,
    Int,
    /// An integer or a float (JSON schema's `number`).
    Number,
    Null,
    /// Text or `!!binary` bytes.
    StrOrBytes,
    /// A string from this list (checked by the `schema` command; at boot the
    /// module itself says what it does with others).
    Enum(&'static [&'static str]),
    List(&'static Ty),
    /// A list whose entries stand alone (`write_files`): an entry of the
    /// wrong shape fails that entry ([`Severity::EntryError`]); the module
    /// still runs the others.
    Entries(&'static Ty),
    /// A mapping with these keys; others are unknown (a warning).
    Map(&'static [Field]),
    /// A mapping of which only these keys are checked: the others are
    /// another reader's (a module that reads one key of the engine's
    /// `vendor_data`).
    MapPart(&'static [Field]),
    /// A mapping with any keys.
    AnyMap,
    OneOf(&'static [Ty]),
    /// `inner`, plus a constraint cloud-init 22.4's JSON schema has. Only
    /// the `schema` command checks it ([`strict`]); at boot a module reads
    /// what it can, as 22.4's boot only warns about schema errors.
    Strict(&'static Ty, Rule),
}

/// A constraint of 22.4's JSON schema beyond the type (see [`Ty::Strict`]).
#[derive(Debug)]
pub enum Rule {
    /// `minItems`: "[] is too short".
    MinItems(usize),
    /// `maxItems`: "[1, 2, 3] is too long".
    MaxItems(usize),
    /// `minimum`: "-2 is less than the minimum of -1".
    Minimum(i64),
    /// `minLength`: "'' is too short".
    MinLength(usize),
    /// `enum` (exact, case-sensitive): "'x' is not one of ['a', 'b']".
    OneOfStrs(&'static [&'static str]),
    /// A hand-written matcher for a `pattern` or a `oneOf` form (see
    /// [`Verdict`]).
    Check(fn(&Value) -> Verdict),
    /// `patternProperties` of any key (`^.+$`): every value has this shape.
    Values(&'static Ty),
    /// `items` beside a `type` that is not `array` (22.4's
    /// `chef.initial_attributes`: an object whose items are strings): a
    /// list's items are checked against it, besides the type's error.
    Items(&'static Ty),
    /// `minProperties`: "{} does not have enough properties".
    MinProperties(usize),
    /// `patternProperties` with `additionalProperties: false`: every key of
    /// the mapping must match (the matcher, and the regex 22.4 names).
    Keys(fn(&str) -> bool, &'static str),
    /// On a [`Ty::OneOf`]: 22.4's `oneOf`, mappings included: any error
    /// inside the alternative is reported as "is not valid under any of
    /// the given schemas" (a plain `OneOf` checks a mapping key by key).
    OneOf,
    /// On a [`Ty::OneOf`]: 22.4 writes it as a `type: [a, b]` list, not a
    /// `oneOf`: a value of none of the types "is not of type 'a', 'b'",
    /// and errors inside the matching one are reported as they are.
    TypeList,
    /// 22.4's schema declares this narrower shape (a boolean where the
    /// module also takes the strings its code reads): the `schema` command
    /// checks the value against it instead of the boot type.
    As(&'static Ty),
    /// Like [`Rule::As`], for a value that may hold a password: 22.4's
    /// messages quote the value; cloudboot's name the path and the problem
    /// and show a placeholder instead (secrets never reach output).
    Secret(&'static Ty),
}

/// What a [`Rule::Check`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Fine,
    /// Valid, through a form 22.4 marks deprecated: its text.
    Deprecated(&'static str),
    /// 22.4's message after the value's repr ("is not valid under any of
    /// the given schemas").
    Bad(&'static str),
}

/// Matches a regex subset shape: `^\+?[0-9]+$` and such are written as
/// small functions where the rules use them; this one is `[0-9]+`.
pub fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// jsonschema's `format: uri` (rfc3987, which 22.4's jsonschema checks
/// with): a scheme, then `:`, and no whitespace. Not a string: fine here
/// (the type is checked on its own).
pub fn uri_format(v: &Value) -> Verdict {
    let Some(s) = v.as_str() else {
        return Verdict::Fine;
    };
    let scheme_ok = s.split_once(':').is_some_and(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    if scheme_ok && !s.chars().any(char::is_whitespace) {
        Verdict::Fine
    } else {
        Verdict::Bad("is not a 'uri'")
    }
}

/// One key of a mapping.
#[derive(Debug)]
pub struct Field {
    pub name: &'static str,
    pub ty: Ty,
    pub required: bool,
    /// 22.4's deprecation text ("Dropped after April 2027. Use ..."),
    /// reported by the `schema` command as `DEPRECATED: <text>`.
    pub deprecated: Option<&'static str>,
}

impl Field {
    pub const fn opt(name: &'static str, ty: Ty) -> Field {
        Field {
            name,
            ty,
            required: false,
            deprecated: None,
        }
    }

    /// This key, deprecated in 22.4 with `text`.
    pub const fn deprecated(self, text: &'static str) -> Field {
        Field {
            deprecated: Some(text),
            ..self
        }
    }

    pub const fn req(name: &'static str, ty: Ty) -> Field {
        Field {
            name,
            ty,
            required: true,
            deprecated: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// A wrong type: the module cannot use the value.
    TypeError,
    /// A wrong type inside one entry of a [`Ty::Entries`] list: that entry
    /// is skipped and reported, the module runs the rest.
    EntryError,
    /// A required key missing, or a string outside its list.
    Error,
    /// An unknown key.
    Warning,
}

/// One finding, at a key path such as `write_files[0].permissions`.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub path: String,
    pub message: String,
    pub severity: Severity,
}

/// Keys the engine itself reads.
pub static ENGINE_FIELDS: &[Field] = &[
    Field::opt("cloud_init_modules", Ty::List(&MODULE_ENTRY)),
    Field::opt("cloud_config_modules", Ty::List(&MODULE_ENTRY)),
    Field::opt("cloud_final_modules", Ty::List(&MODULE_ENTRY)),
    Field::opt("datasource_list", Ty::List(&Ty::Str)),
    Field::opt("datasource", Ty::AnyMap),
    // 22.4's schema has `vendor_data` in cc_scripts_vendor only (checked
    // there), and no `vendor_data2`.
    Field::opt(
        "vendor_data",
        Ty::Strict(&Ty::Map(VENDOR_DATA), Rule::As(&Ty::Any)),
    ),
    Field::opt(
        "vendor_data2",
        Ty::Strict(&Ty::Map(VENDOR_DATA), Rule::As(&Ty::Any)),
    ),
    Field::opt("allow_userdata", Ty::Bool),
    Field::opt("manual_cache_clean", Ty::Bool),
    Field::opt("merge_how", Ty::Any),
    Field::opt("merge_type", Ty::Any),
    Field::opt("system_info", Ty::AnyMap),
    Field::opt("def_log_file", Ty::Str),
    Field::opt("syslog_fix_perms", Ty::Any),
    Field::opt("log_cfgs", Ty::Any),
    Field::opt("output", Ty::Any),
    Field::opt("launch-index", Ty::Int),
    Field::opt("unverified_modules", Ty::List(&Ty::Str)),
    // cloudboot's own bounds on user-data (userdata::Limits).
    Field::opt(USER_DATA_LIMITS_KEY, Ty::Map(USER_DATA_LIMITS)),
    // cloudboot's own settings; `limits` is the modules' (shared/limits.rs).
    Field::opt("cloudboot", Ty::MapPart(CLOUDBOOT_SETTINGS)),
];

/// `cloudboot: {network: {fallback: first-nic|all-nics}}`: which NICs the
/// fallback network config gives DHCP (`net::apply::FallbackScope`).
static CLOUDBOOT_SETTINGS: &[Field] = &[Field::opt(
    "network",
    Ty::Map(&[Field::opt("fallback", Ty::Enum(&["first-nic", "all-nics"]))]),
)];

/// The system config key of cloudboot's bounds on user-data
/// (`userdata::Limits` reads it under this name). Declared here, with its
/// keys, so that the schema vocabulary depends on nothing that reads
/// configs (datasources describe themselves with it).
pub const USER_DATA_LIMITS_KEY: &str = "user_data_limits";

static USER_DATA_LIMITS: &[Field] = &[
    Field::opt("max_parts", Ty::Int),
    Field::opt("max_includes", Ty::Int),
    Field::opt("max_include_depth", Ty::Int),
    Field::opt("include_timeout", Ty::Int),
];

/// A module list's entry: a name, `[name, frequency]`, or (as the engine
/// also reads) a mapping; 22.4's schema takes the first two only.
static MODULE_ENTRY: Ty = Ty::Strict(
    &Ty::OneOf(&[Ty::Str, Ty::List(&Ty::Any), Ty::AnyMap]),
    Rule::As(&Ty::Strict(
        &Ty::OneOf(&[Ty::Str, Ty::List(&Ty::Any)]),
        Rule::OneOf,
    )),
);
/// `vendor_data` and `vendor_data2`, as cloud-init 22.4's schema has them
/// (`cc_scripts_vendor`), plus `disabled_handlers`, which its schema
/// forbids but its engine reads (`_consume_vendordata`), as cloudboot's does.
static VENDOR_DATA: &[Field] = &[
    Field::opt("enabled", Ty::OneOf(&[Ty::Bool, Ty::Str])),
    Field::opt("prefix", VENDOR_DATA_PREFIX),
    Field::opt("disabled_handlers", Ty::List(&Ty::Str)),
];

/// `vendor_data.prefix`: one word, or a command line whose words may be
/// integers (`[timeout, 30]`), as cloud-init's schema says. scripts_vendor
/// declares it too, so a boot refuses what `cloudboot schema` refuses.
/// 22.4 writes both as `type: [...]` lists ([`Rule::TypeList`]).
pub const VENDOR_DATA_PREFIX: Ty = Ty::Strict(
    &Ty::OneOf(&[
        Ty::List(&Ty::Strict(&Ty::OneOf(&[Ty::Str, Ty::Int]), Rule::TypeList)),
        Ty::Str,
    ]),
    Rule::TypeList,
);

/// Top-level keys of cloud-init 22.4's schema (`schema-cloud-config-v1.json`,
/// the `cc_*` definitions): a key here that no cloudboot module reads is
/// "not handled yet", not a typo.
pub static CLOUD_INIT_KEYS: &[&str] = &[
    "allow_public_ssh_keys",
    "ansible",
    "apk_repos",
    "apt",
    "apt_pipelining",
    "apt_reboot_if_required",
    "apt_update",
    "apt_upgrade",
    "authkey_hash",
    "autoinstall",
    "bootcmd",
    "byobu_by_default",
    "ca-certs",
    "ca_certs",
    "chef",
    "chpasswd",
    "cloud_config_modules",
    "cloud_final_modules",
    "cloud_init_modules",
    "device_aliases",
    "disable_ec2_metadata",
    "disable_root",
    "disable_root_opts",
    "disk_setup",
    "drivers",
    "fan",
    "final_message",
    "fqdn",
    "fs_setup",
    "groups",
    "growpart",
    "grub-dpkg",
    "grub_dpkg",
    "hostname",
    "keyboard",
    "landscape",
    "locale",
    "locale_configfile",
    "lxd",
    "manage_etc_hosts",
    "manage_resolv_conf",
    "mcollective",
    "migrate",
    "mount_default_fields",
    "mounts",
    "no_ssh_fingerprints",
    "ntp",
    "package_reboot_if_required",
    "package_update",
    "package_upgrade",
    "packages",
    "password",
    "phone_home",
    "power_state",
    "prefer_fqdn_over_hostname",
    "preserve_hostname",
    "puppet",
    "random_seed",
    "reporting",
    "resize_rootfs",
    "resolv_conf",
    "rh_subscription",
    "rsyslog",
    "runcmd",
    "salt_minion",
    "snap",
    "spacewalk",
    "ssh",
    "ssh_authorized_keys",
    "ssh_deletekeys",
    "ssh_fp_console_blacklist",
    "ssh_genkeytypes",
    "ssh_import_id",
    "ssh_key_console_blacklist",
    "ssh_keys",
    "ssh_publish_hostkeys",
    "ssh_pwauth",
    "ssh_quiet_keygen",
    "swap",
    "timezone",
    "ubuntu_advantage",
    "updates",
    "user",
    "users",
    "vendor_data",
    "wireguard",
    "write_files",
    "yum_repo_dir",
    "yum_repos",
    "zypper",
];

fn describe(v: &Value) -> String {
    let shown = v.python_str();
    let shown = if shown.len() > 40 {
        format!(
            "{}...",
            &shown[..shown.char_indices().nth(37).map(|(i, _)| i).unwrap_or(37)]
        )
    } else {
        shown
    };
    match v {
        // Python's type is int, but no key cloudboot reads takes one this big.
        Value::BigInt(_) => format!("an int past 64 bits ({shown})"),
        _ => format!("{} ({shown})", v.type_name()),
    }
}

fn ty_name(t: &Ty) -> String {
    match t {
        Ty::Any => "anything".into(),
        Ty::Str => "a string".into(),
        Ty::Bool => "a boolean".into(),
        Ty::Int => "an integer".into(),
        Ty::Number => "a number".into(),
        Ty::Null => "null".into(),
        Ty::StrOrBytes => "a string or !!binary".into(),
        Ty::Enum(_) => "a string".into(),
        Ty::List(_) | Ty::Entries(_) => "a list".into(),
        Ty::Map(_) | Ty::MapPart(_) | Ty::AnyMap => "a mapping".into(),
        Ty::OneOf(ts) => ts.iter().map(ty_name).collect::<Vec<_>>().join(" or "),
        Ty::Strict(t, _) => ty_name(t),
    }
}

/// Whether `v` has the shape of `t`, ignoring what is inside (for `OneOf`).
fn shape_matches(t: &Ty, v: &Value) -> bool {
    match (t, v) {
        (Ty::Any, _) => true,
        (Ty::Str | Ty::Enum(_), Value::Str(_)) => true,
        (Ty::Bool, Value::Bool(_)) => true,
        (Ty::Int, Value::Int(_)) => true,
        (Ty::Number, Value::Int(_) | Value::BigInt(_) | Value::Float(_)) => true,
        (Ty::Null, Value::Null) => true,
        (Ty::StrOrBytes, Value::Str(_) | Value::Bytes(_)) => true,
        (Ty::List(_) | Ty::Entries(_), Value::Seq(_)) => true,
        (Ty::Map(_) | Ty::MapPart(_) | Ty::AnyMap, Value::Map(_)) => true,
        (Ty::OneOf(ts), v) => ts.iter().any(|t| shape_matches(t, v)),
        (Ty::Strict(t, _), v) => shape_matches(t, v),
        _ => false,
    }
}

fn check_value(t: &Ty, v: &Value, path: &str, out: &mut Vec<Problem>) {
    if !shape_matches(t, v) {
        out.push(Problem {
            path: path.to_string(),
            message: format!("expected {}, found {}", ty_name(t), describe(v)),
            severity: Severity::TypeError,
        });
        return;
    }
    match (t, v) {
        (Ty::Enum(allowed), Value::Str(s))
            if !allowed.contains(&s.trim().to_ascii_lowercase().as_str()) =>
        {
            out.push(Problem {
                path: path.to_string(),
                message: format!("'{s}' is not one of {}", allowed.join(", ")),
                severity: Severity::Error,
            })
        }
        (Ty::List(item), Value::Seq(items)) => {
            for (i, it) in items.iter().enumerate() {
                check_value(item, it, &format!("{path}[{i}]"), out);
            }
        }
        (Ty::Entries(item), Value::Seq(items)) => {
            for (i, it) in items.iter().enumerate() {
                let mut mine = Vec::new();
                check_value(item, it, &format!("{path}[{i}]"), &mut mine);
                for mut p in mine {
                    if p.severity == Severity::TypeError {
                        p.severity = Severity::EntryError;
                    }
                    out.push(p);
                }
            }
        }
        (Ty::Map(fields), Value::Map(_)) => check_fields(fields, v, path, true, out),
        (Ty::MapPart(fields), Value::Map(_)) => check_fields(fields, v, path, false, out),
        (Ty::OneOf(ts), v) => {
            if let Some(t) = ts.iter().find(|t| shape_matches(t, v)) {
                check_value(t, v, path, out);
            }
        }
        (Ty::Strict(t, _), v) => check_value(t, v, path, out),
        _ => {}
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Checks the keys of a mapping against `fields`; with `strict`, other keys
/// are reported as unknown.
pub fn check_fields(fields: &[Field], v: &Value, path: &str, strict: bool, out: &mut Vec<Problem>) {
    let Some(map) = v.as_map() else { return };
    for f in fields {
        match map.get(f.name) {
            Some(val) => check_value(&f.ty, val, &join(path, f.name), out),
            None if f.required => out.push(Problem {
                path: join(path, f.name),
                message: "is required and missing".into(),
                severity: Severity::Error,
            }),
            None => {}
        }
    }
    if strict {
        for (k, _) in map.iter() {
            let key = k.python_str();
            if !fields.iter().any(|f| f.name == key) {
                out.push(Problem {
                    path: join(path, &key),
                    message: format!(
                        "unknown key (expected one of {})",
                        fields.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
                    ),
                    severity: Severity::Warning,
                });
            }
        }
    }
}

/// Checks a whole cloud-config document against the engine's keys and
/// `modules`' schemas (every module's: the registry is the caller's, so
/// the schema vocabulary does not depend on the modules that use it).
pub fn check_document(doc: &Value, modules: &[&[Field]]) -> Vec<Problem> {
    let mut out = Vec::new();
    let Some(map) = doc.as_map() else {
        if !doc.is_null() {
            out.push(Problem {
                path: String::new(),
                message: format!("cloud-config must be a mapping, found {}", doc.type_name()),
                severity: Severity::TypeError,
            });
        }
        return out;
    };
    check_fields(ENGINE_FIELDS, doc, "", false, &mut out);
    for schema in modules {
        let mut mine = Vec::new();
        check_fields(schema, doc, "", false, &mut mine);
        // Two modules may read one key (write_files and write_files_deferred).
        for p in mine {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    for (k, _) in map.iter() {
        let key = k.python_str();
        let known = ENGINE_FIELDS.iter().any(|f| f.name == key)
            || modules
                .iter()
                .any(|schema| schema.iter().any(|f| f.name == key));
        if known {
            continue;
        }
        let message = if CLOUD_INIT_KEYS.contains(&key.as_str()) {
            "a cloud-init key no cloudboot module reads yet; ignored".to_string()
        } else {
            "unknown key; no module reads it".to_string()
        };
        out.push(Problem {
            path: key,
            message,
            severity: Severity::Warning,
        });
    }
    out
}

/// Finds where a key path was written: in one document (the `schema`
/// command), or, at boot, in whichever source the merged value came from
/// (user-data, vendor-data, cloud.cfg.d, cloud.cfg).
pub struct Locator {
    docs: Vec<(String, Value, crate::yaml::Marks)>,
}

impl Locator {
    /// One document, as text.
    pub fn for_document(name: &str, text: &[u8]) -> Locator {
        let docs = crate::yaml::load_marked(text, name)
            .map(|(v, m)| vec![(name.to_string(), v, m)])
            .unwrap_or_default();
        Locator { docs }
    }

    /// The sources of a boot's config, highest priority first.
    pub fn for_boot(
        fs: &dyn crate::rootfs::FsView,
        paths: &crate::paths::Paths,
        iid: &str,
    ) -> Locator {
        use std::path::Path;
        let mut files: Vec<(String, std::path::PathBuf)> = vec![
            ("user-data".into(), paths.ipath(iid, "user-data.txt")),
            ("vendor-data".into(), paths.ipath(iid, "vendor-data.txt")),
        ];
        let d = Path::new(crate::paths::CLOUD_CFG_D);
        let mut names = fs.list_dir(d).unwrap_or_default();
        names.retain(|n| n.ends_with(".cfg"));
        names.reverse();
        for n in names {
            let p = d.join(n);
            files.push((p.display().to_string(), p));
        }
        files.push((
            crate::paths::CLOUD_CFG.into(),
            crate::paths::CLOUD_CFG.into(),
        ));
        let docs = files
            .into_iter()
            .filter_map(|(name, path)| {
                let text = fs.read(&path).ok()?;
                let (v, m) = crate::yaml::load_marked(&text, &name).ok()?;
                Some((name, v, m))
            })
            .collect();
        Locator { docs }
    }

    /// `(line, column)` of `path` in the first document that has it.
    pub fn line_of(&self, path: &str) -> Option<(usize, usize)> {
        self.docs.iter().find_map(|(_, _, m)| m.get(path))
    }

    /// "`<source>, line L, column C`" of the source whose value at `path`
    /// is `value` (so the merged value came from there).
    pub fn locate(&self, path: &str, value: Option<&Value>) -> Option<String> {
        self.docs.iter().find_map(|(name, doc, marks)| {
            let (l, c) = marks.get(path)?;
            (value.is_none() || value_at(doc, path) == value)
                .then(|| format!("{name}, line {l}, column {c}"))
        })
    }
}

/// The value at a key path such as `write_files[0].content`.
pub fn value_at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = v;
    for seg in path.split('.') {
        let (key, indexes) = match seg.find('[') {
            Some(i) => (&seg[..i], &seg[i..]),
            None => (seg, ""),
        };
        if !key.is_empty() {
            cur = cur.get(key)?;
        }
        for idx in indexes.split('[').filter(|s| !s.is_empty()) {
            let i: usize = idx.trim_end_matches(']').parse().ok()?;
            cur = cur.as_seq()?.get(i)?;
        }
    }
    Some(cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    fn problems(text: &str) -> Vec<(String, Severity)> {
        check_document(
            &yaml::load(text.as_bytes(), "t").unwrap(),
            &crate::modules::schemas(),
        )
        .into_iter()
        .map(|p| (format!("{}: {}", p.path, p.message), p.severity))
        .collect()
    }

    #[test]
    fn wrong_types_are_errors_unknown_keys_warnings() {
        let p = problems(
            "write_files:\n  - path: /x\n    content: 5\n    permisions: '0600'\n    append: 'yes'\nruncmd: ls\nreporting: {p: {type: print}}\nwrite_flies: []\n",
        );
        assert!(
            p.contains(&(
                "write_files[0].content: expected a string or !!binary, found int (5)".into(),
                Severity::EntryError
            )),
            "{p:?}"
        );
        assert!(
            p.iter().any(
                |(m, s)| m.starts_with("write_files[0].permisions: unknown key")
                    && *s == Severity::Warning
            ),
            "{p:?}"
        );
        assert!(
            p.iter().any(
                |(m, s)| m.starts_with("write_files[0].append: expected a boolean")
                    && *s == Severity::EntryError
            ),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|(m, _)| m.starts_with("runcmd: expected a list, found str (ls)")),
            "{p:?}"
        );
        assert!(
            p.contains(&(
                "reporting: a cloud-init key no cloudboot module reads yet; ignored".into(),
                Severity::Warning
            )),
            "{p:?}"
        );
        assert!(
            p.contains(&(
                "write_flies: unknown key; no module reads it".into(),
                Severity::Warning
            )),
            "{p:?}"
        );
    }

    #[test]
    fn a_module_checks_only_its_part_of_a_shared_mapping() {
        let scripts_vendor = crate::modules::all()
            .iter()
            .find(|m| m.info().name == "scripts_vendor")
            .unwrap();
        let check = |text: &str| {
            let mut out = Vec::new();
            let doc = yaml::load(text.as_bytes(), "t").unwrap();
            check_fields(scripts_vendor.info().schema, &doc, "", false, &mut out);
            out.into_iter()
                .map(|p| format!("{}: {}", p.path, p.message))
                .collect::<Vec<_>>()
        };
        // `enabled` is the engine's: neither wrong nor unknown here.
        assert!(check("vendor_data: {enabled: 1, prefix: [timeout, 30]}").is_empty());
        assert_eq!(
            check("vendor_data: {prefix: [timeout, 3.5]}"),
            ["vendor_data.prefix[1]: expected a string or an integer, found float (3.5)"]
        );
        // The whole document reports it once (engine and module agree).
        let p = problems("vendor_data: {prefix: [timeout, 3.5], disabled_handlers: []}\n");
        assert_eq!(p.len(), 1, "{p:?}");
    }

    #[test]
    fn a_valid_document_has_no_problems() {
        let p = problems(
            "write_files:\n  - path: /x\n    content: hi\n    permissions: '0644'\n    encoding: b64\n    defer: true\nruncmd:\n  - [ls, -l]\n  - echo hi\n  -\nfinal_message: done\ncloud_final_modules: [scripts_user, [final_message, always]]\n",
        );
        assert!(p.is_empty(), "{p:?}");
    }
}
