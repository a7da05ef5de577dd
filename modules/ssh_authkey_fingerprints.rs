//! ssh_authkey_fingerprints (`cc_ssh_authkey_fingerprints`): once per
//! instance, in the final stage, prints each user's authorized keys with
//! their fingerprints to the console (cloud-init's `ci-info:` table), so an
//! operator can check them against their own before logging in.
//!
//! It also leaves state behind, as cloud-init's does: looking up a user's
//! keys file (`ssh_util.extract_authorized_keys`) creates `~/.ssh` (0700)
//! and an empty `authorized_keys` (0600) for users that had none. Users
//! made with `no_create_home` or `system` are skipped, and so is a user not
//! in `/etc/passwd` when the module runs (cloud-init's module fails there;
//! a `plan` of a whole boot therefore shows no table for users it only
//! predicts).
//!
//! Keys: `no_ssh_fingerprints` (skip), `authkey_hash` (`sha256`, the
//! default, or `md5`; other hashlib names print `?`, as cloud-init prints
//! for a hash it cannot make).

use crate::module::prelude::*;
use crate::modules::shared::ssh_util::{self, AuthKeyLine};
use crate::modules::shared::staged::Staged;

pub struct SshAuthkeyFingerprints;

static INFO: ModuleInfo = ModuleInfo {
    name: "ssh_authkey_fingerprints",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &[],
    keys: &["no_ssh_fingerprints", "authkey_hash"],
    schema: &[
        Field::opt("no_ssh_fingerprints", Ty::Bool),
        Field::opt("authkey_hash", Ty::Str),
    ],
    summary: "print users' authorized key fingerprints to the console",
};

impl Module for SshAuthkeyFingerprints {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        if ctx.cfg.get_bool("no_ssh_fingerprints", false) {
            out.note("Skipping module named ssh_authkey_fingerprints, logging of SSH fingerprints disabled");
            return out;
        }
        let hash = ctx
            .cfg
            .get("authkey_hash")
            .map(Value::python_str)
            .unwrap_or_else(|| "sha256".into());
        let users = match normalize_users_groups(ctx.cfg) {
            Ok(u) => u,
            Err(e) => {
                out.error(e);
                return out;
            }
        };
        let mut st = Staged::new(ctx.fs);
        let Some(root) = accounts::account(ctx.fs, "root", None) else {
            out.error("Unable to get SSH info for user 'root'");
            return out;
        };
        for (name, ucfg) in &users.users {
            let flag = |k: &str| ucfg.get(k).map(Value::truthy).unwrap_or(false);
            if flag("no_create_home") || flag("system") {
                out.note(format!(
                    "Skipping printing of ssh fingerprints for user '{name}' because no home directory is created"
                ));
                continue;
            }
            // Only a user that exists by now (users_groups ran in the network
            // stage): cloud-init's getpwnam fails for any other, and files
            // made for a user that useradd never created would be owned by
            // nobody who can log in.
            let Some(account) = accounts::account(ctx.fs, name, None) else {
                out.note(format!(
                    "Unable to get SSH info for user '{name}': not in /etc/passwd"
                ));
                continue;
            };
            let (file, entries) = ssh_util::extract_authorized_keys(&mut st, &account, &root);
            st.push(Effect::Console(key_table(name, &file, &entries, &hash)));
        }
        out.effects = st.effects;
        out
    }
}

/// `_gen_fingerprint`: the digest of the key's bytes, hex pairs joined by `:`.
fn fingerprint(b64: &str, hash: &str) -> String {
    if b64.is_empty() {
        return String::new();
    }
    let Ok(bytes) = base64::decode(b64.as_bytes()) else {
        return "?".into();
    };
    let hex = match hash {
        "sha256" => sha256::hex(&bytes),
        "md5" => md5::hex(&bytes),
        _ => return "?".into(),
    };
    hex.as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

/// CPython's `str.center(width)`.
fn py_center(s: &str, width: usize) -> String {
    let len = s.chars().count();
    if len >= width {
        return s.to_string();
    }
    let marg = width - len;
    let left = marg / 2 + (marg & width & 1);
    format!("{}{s}{}", " ".repeat(left), " ".repeat(marg - left))
}

/// `_pprint_key_entries`: the `ci-info:` lines for one user.
fn key_table(user: &str, file: &str, entries: &[AuthKeyLine], hash: &str) -> String {
    const PREFIX: &str = "ci-info: ";
    if entries.is_empty() {
        return format!("{PREFIX}no authorized SSH keys fingerprints found for user {user}.");
    }
    let fields = [
        "Keytype".to_string(),
        format!("Fingerprint ({hash})"),
        "Options".to_string(),
        "Comment".to_string(),
    ];
    let rows: Vec<[String; 4]> = entries
        .iter()
        .filter(|e| {
            e.keytype.as_deref().is_some_and(|t| {
                ssh_util::VALID_KEY_TYPES.contains(&t.trim().to_lowercase().as_str())
            })
        })
        .map(|e| {
            let or_dash = |v: Option<&str>| match v {
                Some(s) if !s.is_empty() => s.to_string(),
                _ => "-".to_string(),
            };
            let fp = fingerprint(e.base64.as_deref().unwrap_or(""), hash);
            [
                or_dash(e.keytype.as_deref()),
                or_dash(Some(&fp)),
                or_dash(e.options.as_deref()),
                or_dash(e.comment.as_deref()),
            ]
        })
        .collect();
    let mut widths: Vec<usize> = fields.iter().map(|f| f.chars().count()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let hdiv = format!(
        "+{}+",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("+")
    );
    let row = |cells: &[String]| {
        format!(
            "|{}|",
            cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| py_center(c, w + 2))
                .collect::<Vec<_>>()
                .join("|")
        )
    };
    let mut table = vec![hdiv.clone(), row(&fields), hdiv.clone()];
    table.extend(rows.iter().map(|r| row(r)));
    table.push(hdiv);
    let max_len = table.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    // util.center: format(text, "+^max_len"), the extra fill on the right.
    let title = format!("Authorized keys from {file} for user {user}");
    let pad = max_len.saturating_sub(title.chars().count());
    let title = format!(
        "{}{title}{}",
        "+".repeat(pad / 2),
        "+".repeat(pad - pad / 2)
    );
    std::iter::once(title)
        .chain(table)
        .map(|l| format!("{PREFIX}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centers_as_python() {
        // Python: 'ab'.center(5) == '  ab ', 'abc'.center(6) == ' abc  '.
        assert_eq!(py_center("ab", 5), "  ab ");
        assert_eq!(py_center("abc", 6), " abc  ");
        assert_eq!(py_center("-", 9), "    -    ");
    }

    #[test]
    fn fingerprints_are_hashlib_hex_pairs() {
        // hashlib.sha256(base64.b64decode("AAAA")).hexdigest() of b"\0\0\0".
        assert_eq!(
            fingerprint("AAAA", "sha256"),
            "70:9e:80:c8:84:87:a2:41:1e:1e:e4:df:b9:f2:2a:86:14:92:d2:0c:47:65:15:0c:0c:79:4a:bd:70:f8:14:7c"
        );
        assert_eq!(fingerprint("AAAA", "sha1"), "?");
        assert_eq!(fingerprint("", "sha256"), "");
    }
}
