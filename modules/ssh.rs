//! ssh (`cc_ssh`): host keys and the authorized keys of the default user
//! and root, as cloud-init 22.4 does it, in the network stage, once per
//! instance.
//!
//! - `ssh_deletekeys` (default true): the image's `/etc/ssh/ssh_host_*key*`
//!   are removed first.
//! - `ssh_keys`: `{rsa,dsa,ecdsa,ed25519}_{private,public,certificate}` are
//!   written to `/etc/ssh/ssh_host_<type>_key[.pub|-cert.pub]`, all 0600 as
//!   22.4 writes them (private keys are secrets: never in logs or plans); a
//!   certificate sets `HostCertificate` (in `sshd_config.d/50-cloud-init.conf`
//!   where sshd_config includes that directory); a private key without its
//!   public key gets one from `ssh-keygen -y`, through cloud-init's own
//!   `sh -xc` line (the key ends in ` root@localhost`). Other entries are
//!   skipped with cloud-init's warning. With `ssh_keys`, nothing is generated.
//! - Otherwise `ssh_genkeytypes` (default rsa, dsa, ecdsa, ed25519): `ssh-keygen
//!   -t <type> -N '' -f /etc/ssh/ssh_host_<type>_key` (with `LANG=C`) for each
//!   key file that does not exist; where the root has an `ssh_keys` group the
//!   keys get that group and 0640/0644, as sshd-keygen does.
//! - The datasource's public keys (unless `allow_public_ssh_keys: false`)
//!   and `ssh_authorized_keys` go to the default user, and to root: behind
//!   `disable_root_opts` (default: cloud-init's "Please login as the user"
//!   command) when `disable_root` (default true), as they are otherwise.
//!   The file is the first `AuthorizedKeysFile` entry of sshd_config (`%h`,
//!   `%u`, `%%`) that is the user's and passes cloud-init's permission checks
//!   (made 0600 and the user's, its missing directories 0700 inside the home
//!   and 0755 root's elsewhere), else `~/.ssh/authorized_keys`; keys already
//!   there are kept, the same key blob is replaced. Keys are written in the
//!   order cloud-init's `set()` gives them under `PYTHONHASHSEED=0` (see
//!   [`crate::py::set`]), the order of the recorded cases.
//! - With SELinux on (the root has `/sys/fs/selinux/enforce` and
//!   `restorecon`), what is written is relabelled with `restorecon`, where
//!   cloud-init's `SeLinuxGuard`s are (recursively for `~/.ssh` and after
//!   key generation for `/etc/ssh`).
//!
//! Not supported: `ssh_publish_hostkeys` has no effect (none of cloudboot's
//! datasources publishes host keys; in 22.4 only GCE does); and
//! `ssh_quiet_keygen`: ssh-keygen's output always goes to the output log
//! (commands' output is not captured). `ssh_import_id` is another module's.

use std::path::Path;

use crate::module::prelude::*;
use crate::modules::shared::one_line::one_line;
use crate::modules::shared::ssh_util;
use crate::modules::shared::staged::Staged;

pub struct Ssh;

/// 22.4's schema for `ssh_genkeytypes` entries (the `schema` command's; the
/// module itself skips an unknown type with cloud-init's warning).
static KEY_TYPE: Ty = Ty::Strict(
    &Ty::Str,
    Rule::OneOfStrs(&["dsa", "ecdsa", "ed25519", "rsa"]),
);

/// 22.4's `ssh_keys` names: `^(dsa|ecdsa|ed25519|rsa)_(public|private|certificate)$`.
fn ssh_key_name(k: &str) -> bool {
    k.split_once('_').is_some_and(|(ty, part)| {
        ["dsa", "ecdsa", "ed25519", "rsa"].contains(&ty)
            && ["public", "private", "certificate"].contains(&part)
    })
}

/// 22.4's `ssh_publish_hostkeys` (`additionalProperties: false`).
static PUBLISH_HOSTKEYS: &[Field] = &[
    Field::opt("enabled", Ty::Bool),
    Field::opt("blacklist", Ty::List(&Ty::Str)),
];

static INFO: ModuleInfo = ModuleInfo {
    name: "ssh",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &[],
    keys: &[
        "ssh_deletekeys",
        "ssh_keys",
        "ssh_genkeytypes",
        "ssh_quiet_keygen",
        "ssh_publish_hostkeys",
        "disable_root",
        "disable_root_opts",
        "allow_public_ssh_keys",
        "ssh_authorized_keys",
    ],
    schema: &[
        Field::opt("ssh_deletekeys", AS_BOOL),
        Field::opt(
            "ssh_keys",
            Ty::Strict(
                &Ty::Any,
                Rule::As(&Ty::Strict(
                    &Ty::Strict(&Ty::AnyMap, Rule::Values(&Ty::Str)),
                    Rule::Keys(
                        ssh_key_name,
                        "^(dsa|ecdsa|ed25519|rsa)_(public|private|certificate)$",
                    ),
                )),
            ),
        ),
        Field::opt(
            "ssh_genkeytypes",
            Ty::Strict(
                &Ty::Any,
                Rule::As(&Ty::Strict(&Ty::List(&KEY_TYPE), Rule::MinItems(1))),
            ),
        ),
        Field::opt("ssh_quiet_keygen", AS_BOOL),
        Field::opt(
            "ssh_publish_hostkeys",
            Ty::Strict(&Ty::Any, Rule::As(&Ty::Map(PUBLISH_HOSTKEYS))),
        ),
        Field::opt("disable_root", AS_BOOL),
        Field::opt(
            "disable_root_opts",
            Ty::Strict(&Ty::Any, Rule::As(&Ty::Str)),
        ),
        Field::opt("allow_public_ssh_keys", AS_BOOL),
        Field::opt(
            "ssh_authorized_keys",
            Ty::Strict(
                &Ty::Any,
                Rule::As(&Ty::Strict(&Ty::List(&Ty::Str), Rule::MinItems(1))),
            ),
        ),
    ],
    summary: "host keys, and the default user's and root's authorized keys",
};

/// Read as the module reads it (cloud-init's truthiness); 22.4's schema
/// says boolean.
const AS_BOOL: Ty = Ty::Strict(&Ty::Any, Rule::As(&Ty::Bool));

const KEY_NAMES: [&str; 4] = ["rsa", "dsa", "ecdsa", "ed25519"];

fn key_file(kind: &str) -> String {
    format!("/etc/ssh/ssh_host_{kind}_key")
}

/// `CONFIG_KEY_TO_FILE`: the file of an `ssh_keys` entry (all mode 0600).
fn config_key_file(key: &str) -> Option<String> {
    let (kind, part) = key.rsplit_once('_')?;
    if !KEY_NAMES.contains(&kind) {
        return None;
    }
    match part {
        "private" => Some(key_file(kind)),
        "public" => Some(format!("{}.pub", key_file(kind))),
        "certificate" => Some(format!("{}-cert.pub", key_file(kind))),
        _ => None,
    }
}

impl Module for Ssh {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let mut st = Staged::new(ctx.fs);
        let cfg = ctx.cfg;

        // Remove the image's host keys.
        if cfg.get("ssh_deletekeys").is_none_or(Value::truthy) {
            let dir = Path::new("/etc/ssh");
            for name in st.list_dir(dir) {
                let Some(rest) = name.strip_prefix("ssh_host_") else {
                    continue;
                };
                if !rest.contains("key") {
                    continue;
                }
                let p = dir.join(&name);
                if st.lstat(&p).is_some_and(|a| a.kind == FileKind::Dir) {
                    out.warn(format!("Failed deleting key file {}", p.display()));
                    continue;
                }
                st.remove(&p);
            }
        }

        if let Some(keys) = cfg.get("ssh_keys") {
            if let Err(e) = provided_keys(&mut st, &mut out, keys) {
                out.error(e);
                out.effects = st.effects;
                return out;
            }
        } else {
            generate_keys(&mut st, cfg);
        }

        if cfg.get("ssh_publish_hostkeys").is_some() {
            out.note("ssh_publish_hostkeys: this datasource publishes no host keys");
        }

        match apply_credentials(&mut st, ctx) {
            Ok(refused) => refused.into_iter().for_each(|e| out.error(e)),
            Err(e) => {
                out.warn("Applying SSH credentials failed!".to_string());
                tracing::debug!("{e}");
                out.notes.push(e.into());
            }
        }
        out.effects = st.effects;
        out
    }
}

/// `ssh_keys`: write what is given, derive missing public keys.
fn provided_keys(st: &mut Staged, out: &mut ModuleOutput, keys: &Value) -> Result<(), ConfigError> {
    let Value::Map(map) = keys else {
        return Err(ConfigError::new(
            "ssh_keys",
            format!("'{}' object has no attribute 'items'", keys.type_name()),
        ));
    };
    for (key, val) in map.iter() {
        let key = key.python_str();
        let Some(file) = config_key_file(&key) else {
            let unsupported = ["ecdsa-sk", "ed25519-sk"].iter().any(|k| {
                ["private", "public", "certificate"]
                    .iter()
                    .any(|p| key == format!("{k}_{p}"))
            });
            let reason = if unsupported {
                "unsupported"
            } else {
                "unrecognized"
            };
            out.warn(format!("Skipping {reason} ssh_keys entry: \"{key}\""));
            continue;
        };
        let text = match val {
            Value::Str(s) => s.clone(),
            Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            other => {
                return Err(ConfigError::new(
                    format!("ssh_keys.{key}"),
                    format!(
                        "ssh_keys.{key}: expected a string, found {}",
                        other.type_name()
                    ),
                ))
            }
        };
        let data = if key.ends_with("_private") {
            Data::secret(text)
        } else {
            Data::public(text)
        };
        st.write(Path::new(&file), data, 0o600, None);
        if key.contains("_certificate") {
            ssh_util::update_ssh_config(st, &[("HostCertificate", &file)]);
        }
    }
    for kind in KEY_NAMES {
        let (private, public) = (format!("{kind}_private"), format!("{kind}_public"));
        if map.contains_key(&public) || !map.contains_key(&private) {
            continue;
        }
        let (priv_file, pub_file) = (key_file(kind), format!("{}.pub", key_file(kind)));
        let script = format!(
            "o=$(ssh-keygen -yf \"{priv_file}\") && echo \"$o\" root@localhost > \"{pub_file}\""
        );
        // A failure is logged, the module goes on.
        st.run(
            Command::new(["sh", "-xc", script.as_str()])
                .on_failure(OnFailure::Ignore)
                .creates(&pub_file),
        );
        st.restorecon(Path::new("/etc/ssh"), true);
    }
    Ok(())
}

/// `ssh_genkeytypes`: generate the key files that do not exist.
fn generate_keys(st: &mut Staged, cfg: &Value) {
    let types: Vec<String> = match cfg.get("ssh_genkeytypes") {
        None => KEY_NAMES.iter().map(|s| s.to_string()).collect(),
        Some(Value::Null) => Vec::new(),
        Some(Value::Seq(items)) => items.iter().map(Value::python_str).collect(),
        Some(other) => vec![other.python_str()],
    };
    let ssh_keys_gid = accounts::getgrnam(st.fs, "ssh_keys").map(|g| g.gid);
    for kind in types {
        let file = key_file(&kind);
        if st.exists(Path::new(&file)) {
            continue;
        }
        if !st.is_dir(Path::new("/etc/ssh")) {
            // util.ensure_dir: made (0755), mode left alone.
            st.push(Effect::Mkdir {
                path: "/etc/ssh".into(),
                mode: 0o755,
            });
        }
        // ssh-keygen: unknown types fail with exit 1; cloud-init only logs it.
        let cmd = Command::new([
            "ssh-keygen",
            "-t",
            kind.as_str(),
            "-N",
            "",
            "-f",
            file.as_str(),
        ])
        .env("LANG", "C")
        .on_failure(OnFailure::Ignore)
        .creates(&file)
        .creates(format!("{file}.pub"));
        st.run(cmd);
        if let Some(gid) = ssh_keys_gid {
            // sshd-keygen's permissions, where the ssh_keys group exists.
            let owner = Owner {
                user: None,
                group: Some(Named::known("ssh_keys", gid)),
            };
            st.chown(Path::new(&file), Some(owner), Some(0o640));
            st.chown(Path::new(&format!("{file}.pub")), None, Some(0o644));
        }
        st.restorecon(Path::new("/etc/ssh"), true);
    }
}

/// The default user's and root's keys (`apply_credentials`). Returns the
/// errors for keys refused because they would not stay one line in
/// authorized_keys (see users_groups: 22.4 writes them as two keys).
fn apply_credentials(st: &mut Staged, ctx: &Context) -> Result<Vec<String>, ConfigError> {
    let cfg = ctx.cfg;
    let ug = normalize_users_groups(cfg)?;
    // cloud-init normalises again here, and logs its deprecations again.
    for w in &ug.warnings {
        tracing::warn!("{w}");
    }
    let default = ug.default_user();
    let disable_root = cfg.get_bool("disable_root", true);
    let disable_root_opts = cfg
        .get("disable_root_opts")
        .map(Value::python_str)
        .unwrap_or_else(|| ssh_util::DISABLE_USER_OPTS.to_string());
    let mut keys: Vec<String> = if cfg.get_bool("allow_public_ssh_keys", true) {
        ctx.instance.public_keys.clone()
    } else {
        tracing::debug!(
            "Skipping import of publish SSH keys per config setting: allow_public_ssh_keys=False"
        );
        Vec::new()
    };
    match cfg.get("ssh_authorized_keys") {
        None => {}
        Some(Value::Seq(items)) => keys.extend(items.iter().map(Value::python_str)),
        // list.extend(str) adds its characters.
        Some(Value::Str(s)) => keys.extend(s.chars().map(String::from)),
        Some(Value::Map(m)) => keys.extend(m.iter().map(|(k, _)| k.python_str())),
        Some(other) => {
            return Err(ConfigError::new(
                "ssh_authorized_keys",
                format!("'{}' object is not iterable", other.type_name()),
            ))
        }
    }
    let mut refused = Vec::new();
    keys.retain(
        |k| match one_line("a key", py::str::strip(k), "authorized_keys") {
            Ok(()) => true,
            Err(e) => {
                refused.push(format!(
                    "ssh_authorized_keys or the datasource's public-keys: {e}; that key is not written"
                ));
                false
            }
        },
    );
    // `keys = set(keys)`, used for both users.
    let keys: Vec<String> = PySet::from_items(&keys)
        .iter()
        .map(str::to_string)
        .collect();
    let root = accounts::account(st.fs, "root", None)
        .ok_or_else(|| ConfigError::new("users", "Unable to get SSH info for user 'root'"))?;
    let mut user_name = None;
    if let Some((name, ucfg)) = &default {
        let account = accounts::account(st.fs, name, Some(ucfg)).ok_or_else(|| {
            ConfigError::new("users", format!("Unable to get SSH info for user '{name}'"))
        })?;
        ssh_util::setup_user_keys(st, &keys, &account, &root, None);
        user_name = Some(name.clone());
    }
    let prefix = if disable_root {
        let user = user_name.unwrap_or_else(|| "NONE".into());
        disable_root_opts
            .replace("$USER", &user)
            .replace("$DISABLE_USER", "root")
    } else {
        String::new()
    };
    ssh_util::setup_user_keys(st, &keys, &root, &root, Some(&prefix));
    Ok(refused)
}
