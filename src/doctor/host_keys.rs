//! `shared-host-keys`: SSH host keys every clone would share.
//!
//! A host key is a machine's identity to SSH clients. Keys made on the
//! template and kept in the image are every clone's: one clone can
//! impersonate another (it holds the private key the others prove
//! themselves with), and users' `known_hosts` see no change when an
//! address moves from one clone to another.
//!
//! cloud-init replaces them itself when it can: its `ssh` module (22.4's
//! `cloudinit/config/cc_ssh.py`), run once per instance, deletes
//! `/etc/ssh/ssh_host_*key*` when `ssh_deletekeys` is true (the default)
//! and then generates the types of `ssh_genkeytypes` (by default rsa, dsa,
//! ecdsa, ed25519; an explicit null is none, as `util.get_cfg_option_list`
//! reads it). So keys are a problem only when that module is not in the
//! image's module lists or `ssh_deletekeys` is false, as CentOS's
//! cloud.cfg has it (`ssh_deletekeys: 0`).
//!
//! The fix removes the keys, but only when something makes new ones on
//! the first boot: the ssh module's key generation, EL5/6's sshd init
//! script (which runs ssh-keygen for missing keys unless
//! `AUTOCREATE_SERVER_KEYS=NO`), or EL7+'s sshd-keygen units. Without one,
//! removing them would leave sshd without keys, and the fix is a person's.

use std::path::Path;

use super::registry::Check;
use super::{Evidence, Finding, Image, Severity};
use crate::effect::Effect;
use crate::py::cfg::option_list;
use crate::rootfs::Kind;
use crate::value::Value;

pub const CHECK: Check = Check {
    id: "shared-host-keys",
    about: "SSH host keys every clone would share",
    run,
};

const SSH_DIR: &str = "/etc/ssh";

/// `cc_ssh.GENERATE_KEY_NAMES`: `ssh_genkeytypes`' default.
const GENERATE_KEY_NAMES: &[&str] = &["rsa", "dsa", "ecdsa", "ed25519"];

/// The module lists cloud-init runs modules from.
const MODULE_LISTS: &[&str] = &[
    "cloud_init_modules",
    "cloud_config_modules",
    "cloud_final_modules",
];

fn run(image: &Image) -> Vec<Finding> {
    let names = image.list(SSH_DIR);
    // The private keys: `ssh_host_key` (SSH1's), `ssh_host_rsa_key`, ...
    let private: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with("ssh_host_") && n.ends_with("key"))
        .filter(|n| is_file(image, &format!("{SSH_DIR}/{n}")))
        .collect();
    if private.is_empty() {
        return Vec::new();
    }
    let ssh_module = MODULE_LISTS
        .iter()
        .any(|list| image.lists_module(list, "ssh"));
    // `cfg.get("ssh_deletekeys", True)`, read for its Python truth.
    let deletes = image.cfg.get("ssh_deletekeys").is_none_or(Value::truthy);
    if ssh_module && deletes {
        // cloud-init deletes and remakes them on each new instance.
        return Vec::new();
    }
    let evidence: Vec<Evidence> = private
        .iter()
        .map(|n| {
            let path = format!("{SSH_DIR}/{n}");
            let public = if image.exists(&format!("{path}.pub")) {
                " (and its .pub)"
            } else {
                ""
            };
            Evidence::file(path, format!("a host key made on the template{public}"))
        })
        .collect();
    let why_kept = if ssh_module {
        "cloud-init's ssh module is listed but ssh_deletekeys is false, so it keeps them"
    } else {
        "cloud-init's ssh module is in none of the module lists, so nothing replaces them"
    };
    let regenerator = regenerator(image, ssh_module);
    let (fix, fixes) = match &regenerator {
        Some(who) => {
            // cloud-init's own glob, `ssh_host_*key*`: private keys, their
            // .pub and any certificates, so no half of a pair is left.
            let fixes = names
                .iter()
                .filter(|n| n.starts_with("ssh_host_") && n.contains("key"))
                .filter(|n| {
                    // Files and links, as cloud-init's del_file removes
                    // them; a directory of that name is no key.
                    image
                        .fs
                        .lstat(Path::new(&format!("{SSH_DIR}/{n}")))
                        .is_some_and(|s| s.kind != Kind::Dir)
                })
                .map(|n| Effect::Remove {
                    path: format!("{SSH_DIR}/{n}").into(),
                })
                .collect();
            (
                format!(
                    "remove the host keys (/etc/ssh/ssh_host_*key*); {who} makes new ones on \
                     each clone's first boot"
                ),
                fixes,
            )
        }
        None => (
            "nothing in the image makes host keys on first boot, so removing them would leave \
             sshd without keys: turn on cloud-init's ssh module with `ssh_deletekeys: true` \
             and key types in `ssh_genkeytypes` (in /etc/cloud/cloud.cfg.d/), or make the \
             image generate missing keys when sshd starts; then run `cloudboot seal` again"
                .to_string(),
            Vec::new(),
        ),
    };
    vec![Finding {
        id: CHECK.id,
        severity: Severity::Error,
        title: format!(
            "{} SSH host key{} of the template would be every clone's ({why_kept})",
            private.len(),
            if private.len() == 1 { "" } else { "s" }
        ),
        evidence,
        breaks: "every clone has the same host keys: one clone can impersonate another, and \
                 users' known_hosts see no change when an address moves to another clone"
            .into(),
        fix,
        fixes,
    }]
}

fn is_file(image: &Image, path: &str) -> bool {
    image
        .fs
        .lstat(Path::new(path))
        .is_some_and(|s| s.kind == Kind::File)
}

/// What makes host keys on a clone's first boot once they are gone, if
/// anything does.
fn regenerator(image: &Image, ssh_module: bool) -> Option<String> {
    // cc_ssh generates `ssh_genkeytypes` when the config has no `ssh_keys`
    // of its own (then it writes those instead: the image's, every clone's).
    if ssh_module && image.cfg.get("ssh_keys").is_none() {
        let types = option_list(&image.cfg, "ssh_genkeytypes", GENERATE_KEY_NAMES);
        if !types.is_empty() {
            return Some(format!(
                "cloud-init's ssh module (ssh_genkeytypes: {})",
                types.join(", ")
            ));
        }
    }
    // EL5/6's /etc/rc.d/init.d/sshd: `start` runs do_rsa_keygen (and the
    // dsa and rsa1 ones) for missing keys, unless /etc/sysconfig/sshd
    // says AUTOCREATE_SERVER_KEYS=NO. Any init script of sshd that runs
    // ssh-keygen is taken the same way.
    let autocreate_off = image.text("/etc/sysconfig/sshd").is_some_and(|t| {
        t.lines().any(|l| {
            let l = l.trim();
            !l.starts_with('#')
                && l.strip_prefix("AUTOCREATE_SERVER_KEYS=")
                    .is_some_and(|v| v.trim().trim_matches(|c| c == '"' || c == '\'') == "NO")
        })
    });
    if !autocreate_off {
        for script in [
            "/etc/rc.d/init.d/sshd",
            "/etc/init.d/sshd",
            "/etc/init.d/ssh",
        ] {
            if image
                .text(script)
                .is_some_and(|t| t.to_ascii_lowercase().contains("keygen"))
            {
                return Some(format!("sshd's init script {script}"));
            }
        }
    }
    // EL7+: sshd.service wants sshd-keygen.service (EL7) or
    // sshd-keygen.target with sshd-keygen@.service (EL8+), which make the
    // missing keys; other systemd distros run a keygen before sshd.
    for dir in [
        "/etc/systemd/system",
        "/usr/lib/systemd/system",
        "/lib/systemd/system",
    ] {
        for unit in ["sshd-keygen.service", "sshd-keygen@.service"] {
            let path = format!("{dir}/{unit}");
            if image.exists(&path) && !masked(image, unit) {
                return Some(format!("the {unit} unit ({path})"));
            }
        }
        for unit in ["sshd.service", "ssh.service"] {
            let path = format!("{dir}/{unit}");
            let runs_keygen = image.text(&path).is_some_and(|t| {
                t.lines().any(|l| {
                    let l = l.trim_start();
                    l.starts_with("ExecStartPre=")
                        && (l.contains("keygen") || l.contains("gen-keys"))
                })
            });
            if runs_keygen {
                return Some(format!("{path}, which makes missing keys before sshd"));
            }
        }
    }
    None
}

/// A unit masked in /etc/systemd/system (a link to /dev/null).
fn masked(image: &Image, unit: &str) -> bool {
    image
        .fs
        .read_link(Path::new(&format!("/etc/systemd/system/{unit}")))
        .is_ok_and(|t| t == Path::new("/dev/null"))
}
