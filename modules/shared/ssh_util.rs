//! cloud-init 22.4's `ssh_util`: authorized_keys lines, the
//! `AuthorizedKeysFile` of sshd_config and the checks cloud-init makes
//! before it writes a user's keys, and sshd_config updates (with Debian's
//! `sshd_config.d`). Used by users_groups (a user's `ssh_authorized_keys`)
//! and ssh (the default user's and root's keys, `HostCertificate`).

use std::path::{Path, PathBuf};

pub use super::sshd_config::DEF_SSHD_CFG;
use super::sshd_config::{self, parse_ssh_config_lines, update_ssh_config_lines};
use super::staged::Staged;
pub use crate::module::prelude::py::str::splitlines;
use crate::module::prelude::*;

/// The key types cloud-init accepts (`VALID_KEY_TYPES`).
pub const VALID_KEY_TYPES: &[&str] = &[
    "dsa",
    "rsa",
    "ecdsa",
    "ed25519",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
    "sk-ssh-ed25519@openssh.com",
    "ssh-dss-cert-v01@openssh.com",
    "ssh-dss",
    "ssh-ed25519-cert-v01@openssh.com",
    "ssh-ed25519",
    "ssh-rsa-cert-v01@openssh.com",
    "ssh-rsa",
    "ssh-xmss-cert-v01@openssh.com",
    "ssh-xmss@openssh.com",
];

/// `DISABLE_USER_OPTS`: the prefix of root's keys with `disable_root`
/// (`$USER` and `$DISABLE_USER` are replaced).
pub const DISABLE_USER_OPTS: &str = "no-port-forwarding,no-agent-forwarding,no-X11-forwarding,command=\"echo 'Please login as the user \\\"$USER\\\" rather than the user \\\"$DISABLE_USER\\\".';echo;sleep 10;exit 142\"";

/// Python's `str.split(None, n)` (`n` splits at most).
fn split_ws(s: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        if out.len() == n {
            out.push(rest.to_string());
            break;
        }
        match rest.find(char::is_whitespace) {
            Some(i) => {
                out.push(rest[..i].to_string());
                rest = rest[i..].trim_start();
            }
            None => {
                out.push(rest.to_string());
                break;
            }
        }
    }
    out
}

/// `AuthKeyLine`.
#[derive(Clone, Debug, PartialEq)]
pub struct AuthKeyLine {
    pub source: String,
    pub keytype: Option<String>,
    pub base64: Option<String>,
    pub comment: Option<String>,
    pub options: Option<String>,
}

impl AuthKeyLine {
    fn plain(source: &str) -> AuthKeyLine {
        AuthKeyLine {
            source: source.to_string(),
            keytype: None,
            base64: None,
            comment: None,
            options: None,
        }
    }

    pub fn valid(&self) -> bool {
        let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
        set(&self.base64) && set(&self.keytype)
    }
}

impl std::fmt::Display for AuthKeyLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let toks: Vec<&str> = [&self.options, &self.keytype, &self.base64, &self.comment]
            .into_iter()
            .filter_map(|t| t.as_deref().filter(|s| !s.is_empty()))
            .collect();
        if toks.is_empty() {
            f.write_str(&self.source)
        } else {
            f.write_str(&toks.join(" "))
        }
    }
}

/// `AuthKeyLineParser._extract_options`.
fn extract_options(ent: &str) -> (String, String) {
    let c: Vec<char> = ent.chars().collect();
    let mut quoted = false;
    let mut i = 0;
    while i < c.len() && (quoted || (c[i] != ' ' && c[i] != '\t')) {
        let curc = c[i];
        if i + 1 >= c.len() {
            i += 1;
            break;
        }
        let nextc = c[i + 1];
        if curc == '\\' && nextc == '"' {
            i += 1;
        } else if curc == '"' {
            quoted = !quoted;
        }
        i += 1;
    }
    let options: String = c[..i].iter().collect();
    let remain: String = c[i..].iter().collect();
    (options, remain.trim_start().to_string())
}

/// `parse_ssh_key`: keytype, key, comment.
fn parse_ssh_key(ent: &str) -> Option<(String, String, String)> {
    let mut toks = split_ws(ent, 2);
    if toks.len() < 2 || !VALID_KEY_TYPES.contains(&toks[0].as_str()) {
        return None;
    }
    if toks.len() == 2 {
        toks.push(String::new());
    }
    let mut t = toks.into_iter();
    Some((t.next()?, t.next()?, t.next()?))
}

/// `AuthKeyLineParser.parse(src_line, options)`: `options`, when given
/// (even empty), replaces the key's own.
pub fn parse_key_line(src_line: &str, options: Option<&str>) -> AuthKeyLine {
    let line = src_line.trim_end_matches(['\r', '\n']);
    if line.starts_with('#') || line.trim().is_empty() {
        return AuthKeyLine::plain(src_line);
    }
    let ent = line.trim();
    let mut options = options.map(str::to_string);
    let parsed = match parse_ssh_key(ent) {
        Some(p) => Some(p),
        None => {
            let (keyopts, remain) = extract_options(ent);
            if options.is_none() {
                options = Some(keyopts);
            }
            parse_ssh_key(&remain)
        }
    };
    match parsed {
        Some((keytype, base64, comment)) => AuthKeyLine {
            source: src_line.to_string(),
            keytype: Some(keytype),
            base64: Some(base64),
            comment: Some(comment),
            options,
        },
        None => AuthKeyLine::plain(src_line),
    }
}

/// `update_authorized_keys(old_entries, keys)`: keys whose blob is already
/// there replace that line; the others are appended.
pub fn update_authorized_keys(old_entries: &[AuthKeyLine], keys: &[AuthKeyLine]) -> String {
    let mut to_add: Vec<usize> = (0..keys.len()).filter(|&i| keys[i].valid()).collect();
    let mut entries: Vec<AuthKeyLine> = old_entries.to_vec();
    for ent in entries.iter_mut() {
        if !ent.valid() {
            continue;
        }
        for (i, k) in keys.iter().enumerate() {
            if k.base64 == ent.base64 {
                *ent = k.clone();
                to_add.retain(|&j| j != i);
            }
        }
    }
    entries.extend(to_add.into_iter().map(|i| keys[i].clone()));
    let mut lines: Vec<String> = entries.iter().map(ToString::to_string).collect();
    lines.push(String::new());
    lines.join("\n")
}

/// `render_authorizedkeysfile_paths`: `%h`, `%u` and `%%` expanded, a
/// relative path taken from the home directory.
///
/// Deliberate difference: cloud-init replaces `%h`, then `%u`, then `%%` in
/// turn, so `%%h` becomes `%` and the home directory (a path sshd never
/// reads) where sshd reads a literal `%h`. The tokens are expanded here in
/// one pass, as sshd expands them. Paths without `%%` are the same.
pub fn render_authorizedkeysfile_paths(value: &str, homedir: &str, username: &str) -> Vec<String> {
    let value = if value.is_empty() {
        "%h/.ssh/authorized_keys"
    } else {
        value
    };
    let expand = |p: &str| {
        let mut out = String::new();
        let mut chars = p.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, chars.peek()) {
                ('%', Some('h')) => {
                    chars.next();
                    out.push_str(homedir);
                }
                ('%', Some('u')) => {
                    chars.next();
                    out.push_str(username);
                }
                ('%', Some('%')) => {
                    chars.next();
                    out.push('%');
                }
                _ => out.push(c),
            }
        }
        out
    };
    value
        .split_whitespace()
        .map(|p| {
            let p = expand(p);
            if p.starts_with('/') {
                p
            } else {
                path_join(homedir, &p)
            }
        })
        .collect()
}

/// `os.path.dirname`.
fn py_dirname(p: &str) -> String {
    let i = p.rfind('/').map_or(0, |i| i + 1);
    let head = &p[..i];
    if !head.is_empty() && head.chars().any(|c| c != '/') {
        head.trim_end_matches('/').to_string()
    } else {
        head.to_string()
    }
}

/// `os.path.join(a, b)` for a relative `b`.
fn path_join(a: &str, b: &str) -> String {
    if a.is_empty() || a.ends_with('/') {
        format!("{a}{b}")
    } else {
        format!("{a}/{b}")
    }
}

/// `parse_ssh_config_map` of sshd_config's text: keyword (lower case) ->
/// value, the last one winning.
pub fn parse_ssh_config_map(text: &str) -> Vec<(String, String)> {
    sshd_config::config_map(parse_ssh_config_lines(splitlines(text)))
}

/// `_includes_dconf`: sshd_config has `Include /etc/ssh/sshd_config.d/*.conf`.
fn includes_dconf(staged: &Staged, fname: &str) -> bool {
    staged.is_file(Path::new(fname))
        && sshd_config::text_includes_dconf(
            &staged.read_string(Path::new(fname)).unwrap_or_default(),
            Path::new(fname),
        )
}

/// `update_ssh_config(updates)`: into `sshd_config.d/50-cloud-init.conf`
/// (made 0600) when sshd_config includes that directory, else into
/// sshd_config itself. True when something changed.
pub fn update_ssh_config(staged: &mut Staged, updates: &[(&str, &str)]) -> bool {
    let mut fname = PathBuf::from(DEF_SSHD_CFG);
    if includes_dconf(staged, DEF_SSHD_CFG) {
        let dir = PathBuf::from(format!("{DEF_SSHD_CFG}.d"));
        if !staged.is_dir(&dir) {
            staged.ensure_dir(&dir, 0o755);
        }
        fname = dir.join(sshd_config::DCONF_NAME);
        if !staged.is_file(&fname) {
            // util.ensure_file(fname, 0o600)
            staged.write(&fname, Data::public(""), 0o600, None);
        }
    }
    let text = if staged.is_file(&fname) {
        staged.read_string(&fname).unwrap_or_default()
    } else {
        String::new()
    };
    let mut lines = parse_ssh_config_lines(splitlines(&text));
    let changed = update_ssh_config_lines(&mut lines, updates);
    if !changed.is_empty() {
        let content: Vec<String> = lines.iter().map(ToString::to_string).collect();
        staged.rewrite(&fname, Data::public(format!("{}\n", content.join("\n"))));
    }
    !changed.is_empty()
}

/// `check_permissions`: whether sshd would use `path` for `user`.
fn check_permissions(
    staged: &Staged,
    user: &Account,
    current: &Path,
    is_file: bool,
    strictmodes: bool,
) -> bool {
    let Some(attrs) = staged.stat(current) else {
        return false;
    };
    let mut minimal: u32 = if is_file { 0o644 } else { 0o711 };
    if strictmodes && attrs.user != user.name && attrs.user != "root" {
        tracing::debug!(
            "Path {} must be own by user {} or by root, but instead is own by {}. Ignoring key.",
            current.display(),
            user.name,
            attrs.user
        );
        return false;
    }
    if attrs.user == user.name {
        minimal &= 0o700;
    } else if user.groups.contains(&attrs.group) {
        minimal &= 0o070;
    } else {
        minimal &= 0o007;
    }
    if attrs.mode & minimal == 0 {
        tracing::debug!(
            "Path {} must be accessible by user {}, check its permissions",
            current.display(),
            user.name
        );
        return false;
    }
    if strictmodes && attrs.mode & 0o022 != 0 {
        tracing::debug!(
            "Path {} must not give write permission to group or world users. Ignoring key.",
            current.display()
        );
        return false;
    }
    true
}

/// `check_create_path`: makes the missing directories of a keys file
/// (0700 and the user's inside the home, 0755 and root's elsewhere) and the
/// file itself (0600, the user's), and checks them as sshd would.
fn check_create_path(
    staged: &mut Staged,
    user: &Account,
    root: &Account,
    filename: &str,
    strictmodes: bool,
) -> bool {
    let parts: Vec<&str> = filename.split('/').collect();
    let directories = if parts.len() > 2 {
        &parts[1..parts.len() - 1]
    } else {
        &[][..]
    };
    let home_folder = py_dirname(&user.home);
    let mut parent = String::new();
    for d in directories {
        parent.push('/');
        parent.push_str(d);
        let p = Path::new(&parent);
        if staged.is_link(p) {
            tracing::debug!("Invalid directory. Symlink exists in path: {parent}");
            return false;
        }
        if staged.is_file(p) {
            tracing::debug!("Invalid directory. File exists in path: {parent}");
            return false;
        }
        if home_folder.starts_with(parent.as_str()) || parent == user.home {
            continue;
        }
        if !staged.exists(p) {
            let (mode, owner) = if parent.starts_with(user.home.as_str()) {
                (0o700, user.owner.clone())
            } else {
                (0o755, root.owner.clone())
            };
            staged.mkdir_owned(p, mode, owner);
        }
        if !check_permissions(staged, user, p, false, strictmodes) {
            return false;
        }
    }
    let f = Path::new(filename);
    if staged.is_link(f) || staged.is_dir(f) {
        tracing::debug!("{filename} is not a file!");
        return false;
    }
    if !staged.exists(f) {
        staged.write(f, Data::public(""), 0o600, Some(user.owner.clone()));
    }
    check_permissions(staged, user, f, true, strictmodes)
}

/// `extract_authorized_keys`: the keys file cloud-init picks for `user`
/// (the first `AuthorizedKeysFile` entry that is the user's and passes the
/// checks, else `~/.ssh/authorized_keys`) and its current lines.
pub fn extract_authorized_keys(
    staged: &mut Staged,
    user: &Account,
    root: &Account,
) -> (String, Vec<AuthKeyLine>) {
    let ssh_dir = path_join(&user.home, ".ssh");
    let default_file = format!("{ssh_dir}/authorized_keys");
    let mut chosen = default_file.clone();
    if staged.exists(Path::new(&ssh_dir)) {
        staged.restorecon(Path::new(&ssh_dir), true);
    }
    let cfg = if staged.is_file(Path::new(DEF_SSHD_CFG)) {
        parse_ssh_config_map(
            &staged
                .read_string(Path::new(DEF_SSHD_CFG))
                .unwrap_or_default(),
        )
    } else {
        Vec::new()
    };
    let get = |k: &str| cfg.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let key_paths = get("authorizedkeysfile").unwrap_or_else(|| "%h/.ssh/authorized_keys".into());
    let strictmodes = get("strictmodes").unwrap_or_else(|| "yes".into());
    let fns = render_authorizedkeysfile_paths(&key_paths, &user.home, &user.name);
    for (key_path, f) in key_paths.split_whitespace().zip(fns) {
        let users_own = key_path.contains("%u")
            || key_path.contains("%h")
            || f.starts_with(&format!("{}/", user.home));
        if users_own && check_create_path(staged, user, root, &f, strictmodes == "yes") {
            chosen = f;
            break;
        }
    }
    if chosen != default_file {
        tracing::debug!("AuthorizedKeysFile has an user-specific authorized_keys, using {chosen}");
    }
    let lines = if staged.is_file(Path::new(&chosen)) {
        let text = staged.read_string(Path::new(&chosen)).unwrap_or_default();
        splitlines(&text)
            .into_iter()
            .map(|l| parse_key_line(l, None))
            .collect()
    } else {
        Vec::new()
    };
    (chosen, lines)
}

/// `setup_user_keys(keys, username, options)`: `keys` in the order cloud-init
/// iterates them (its set order, see [`crate::pyset`]). Returns the file.
pub fn setup_user_keys(
    staged: &mut Staged,
    keys: &[String],
    user: &Account,
    root: &Account,
    options: Option<&str>,
) -> String {
    let entries: Vec<AuthKeyLine> = keys.iter().map(|k| parse_key_line(k, options)).collect();
    let (file, old) = extract_authorized_keys(staged, user, root);
    let content = update_authorized_keys(&old, &entries);
    let f = Path::new(&file);
    // A missing directory (the default file, when no entry passed the
    // checks) is made 0755 by the write, as util.write_file makes it.
    staged.rewrite(f, Data::public(content));
    if let Some(dir) = f.parent() {
        staged.restorecon(dir, true);
    }
    file
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_lines_parse_as_cloud_init_parses_them() {
        let k = parse_key_line("ssh-ed25519 AAAAC3 a comment here", None);
        assert_eq!(k.comment.as_deref(), Some("a comment here"));
        assert!(k.valid());
        let k = parse_key_line(
            "no-pty,command=\"echo \\\"hi there\\\"\" ssh-rsa AAAAB3 c",
            None,
        );
        assert_eq!(
            k.options.as_deref(),
            Some("no-pty,command=\"echo \\\"hi there\\\"\"")
        );
        assert_eq!(k.keytype.as_deref(), Some("ssh-rsa"));
        // Given options (even empty) replace the key's own.
        let k = parse_key_line("no-pty ssh-rsa AAAAB3 c", Some(""));
        assert_eq!(k.to_string(), "ssh-rsa AAAAB3 c");
        let k = parse_key_line("garbage", None);
        assert!(!k.valid());
        assert_eq!(k.to_string(), "garbage");
        assert_eq!(
            parse_key_line("ssh-rsa AAAAB3", None).to_string(),
            "ssh-rsa AAAAB3"
        );
    }

    #[test]
    fn updates_replace_same_blob_and_append_new() {
        let old: Vec<AuthKeyLine> = ["# mine", "ssh-rsa AAA old", "bad line"]
            .iter()
            .map(|l| parse_key_line(l, None))
            .collect();
        let new: Vec<AuthKeyLine> = ["ssh-rsa AAA new", "ssh-ed25519 BBB x"]
            .iter()
            .map(|l| parse_key_line(l, Some("no-pty")))
            .collect();
        assert_eq!(
            update_authorized_keys(&old, &new),
            "# mine\nno-pty ssh-rsa AAA new\nbad line\nno-pty ssh-ed25519 BBB x\n"
        );
        assert_eq!(update_authorized_keys(&[], &[]), "");
    }

    #[test]
    fn authorized_keys_file_tokens() {
        assert_eq!(
            render_authorizedkeysfile_paths(
                "/etc/ssh/keys/%u .ssh/authorized_keys %%h",
                "/home/a",
                "a"
            ),
            [
                "/etc/ssh/keys/a",
                "/home/a/.ssh/authorized_keys",
                "/home/a/%h"
            ]
        );
        assert_eq!(
            render_authorizedkeysfile_paths("", "/", "root"),
            ["//.ssh/authorized_keys"]
        );
    }

    #[test]
    fn sshd_config_lines_round_trip_as_cloud_init_writes_them() {
        let mut lines = parse_ssh_config_lines(splitlines(
            "  # c\nPort 22\nSubsystem\tsftp\t/x\nLonely\nA=b\n",
        ));
        assert_eq!(lines.len(), 4);
        let changed =
            update_ssh_config_lines(&mut lines, &[("port", "2222"), ("HostCertificate", "/c")]);
        assert_eq!(changed, ["port", "HostCertificate"]);
        let text: Vec<String> = lines.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "# c",
                "Port 2222",
                "Subsystem sftp\t/x",
                "A b",
                "HostCertificate /c"
            ]
        );
        assert_eq!(splitlines("a\r\nb\rc\n\nd"), ["a", "b", "c", "", "d"]);
    }
}
