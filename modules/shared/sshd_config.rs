//! sshd_config read and edited as cloud-init 22.4's `ssh_util` does
//! (`parse_ssh_config*`, `update_ssh_config*`, `_includes_dconf`), so every
//! module that touches sshd's configuration (set_passwords'
//! `PasswordAuthentication`, ssh's `HostCertificate`, the `AuthorizedKeysFile`
//! lookup) reads and writes it the same way.
//!
//! cloud-init's rules, kept here on purpose because they decide bytes:
//! - Lines are split with Python's `str.splitlines()` and `strip()`ped
//!   (Python's whitespace, which includes `\x1c`-`\x1f` and U+00A0).
//! - `Key value` is split at the first run of whitespace, else `Key=value` at
//!   the first `=`; a line with neither is **dropped** when the file is
//!   rewritten. Comments and blank lines are kept, stripped.
//! - Keys match case-insensitively; every line with the key is updated (also
//!   inside `Match` blocks), and a key not found is appended at the end.
//! - When `<file>` has a line starting with `Include <file>.d/*.conf`, the
//!   edits go to `<file>.d/50-cloud-init.conf` (the directory made 0755, the
//!   file made 0600 if new) and `<file>` is left alone.
//! - A rewritten file keeps its mode (`preserve_mode=True`); a new file
//!   that is not the `.d` one gets 0644.
//!
//! Nothing here touches the disk: the edit is returned as effects.

use std::path::{Path, PathBuf};

pub use crate::module::prelude::py::str::{
    is_space as py_isspace, splitlines as py_splitlines, strip as py_strip,
};
use crate::module::prelude::*;

/// `ssh_util.DEF_SSHD_CFG`.
pub const DEF_SSHD_CFG: &str = "/etc/ssh/sshd_config";

/// The drop-in cloud-init writes when sshd_config includes its `.d`.
pub const DCONF_NAME: &str = "50-cloud-init.conf";

/// Python's `s.split(None, 1)` on a stripped, non-empty string: the first
/// word and the rest (leading whitespace removed), if there is a rest.
fn split_first_word(s: &str) -> Option<(&str, &str)> {
    let i = s.find(py_isspace)?;
    let rest = s[i..].trim_start_matches(py_isspace);
    (!rest.is_empty()).then(|| (&s[..i], rest))
}

/// One line of sshd_config (`ssh_util.SshdConfigLine`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshdConfigLine {
    /// The line, stripped.
    pub line: String,
    /// The keyword as written (`None` for comments and blank lines).
    pub raw_key: Option<String>,
    pub value: Option<String>,
}

impl SshdConfigLine {
    /// The keyword, lower-cased (keywords are case-insensitive).
    pub fn key(&self) -> Option<String> {
        self.raw_key.as_ref().map(|k| k.to_lowercase())
    }
}

impl std::fmt::Display for SshdConfigLine {
    /// `str(line)`: the stripped line, or `Key value` (`Key` alone when the
    /// value is empty).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.raw_key {
            None => f.write_str(&self.line),
            Some(k) => match self.value.as_deref() {
                Some(v) if !v.is_empty() => write!(f, "{k} {v}"),
                _ => f.write_str(k),
            },
        }
    }
}

/// `parse_ssh_config_lines`.
pub fn parse_ssh_config_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<SshdConfigLine> {
    let mut ret = Vec::new();
    for line in lines {
        let line = py_strip(line);
        if line.is_empty() || line.starts_with('#') {
            ret.push(SshdConfigLine {
                line: line.to_string(),
                raw_key: None,
                value: None,
            });
            continue;
        }
        let (key, val) = match split_first_word(line).or_else(|| line.split_once('=')) {
            Some(kv) => kv,
            None => {
                tracing::debug!(
                    "sshd_config: option \"{line}\" has no key/value pair, skipping it"
                );
                continue;
            }
        };
        ret.push(SshdConfigLine {
            line: line.to_string(),
            raw_key: Some(key.to_string()),
            value: Some(val.to_string()),
        });
    }
    ret
}

/// Why a file could not be read as cloud-init reads it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SshdConfigError {
    #[error("{path}: not UTF-8 text, which cloud-init cannot read either")]
    NotUtf8 { path: String },
    #[error("{path}: cannot be read: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("{path} exists and is not a directory")]
    NotADirectory { path: String },
}

fn is_file(fs: &dyn FsView, path: &Path) -> bool {
    matches!(fs.stat(path), Some(s) if s.kind == FileKind::File)
}

fn read_text(fs: &dyn FsView, path: &Path) -> Result<String, SshdConfigError> {
    let bytes = fs.read(path).map_err(|e| SshdConfigError::Unreadable {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    String::from_utf8(bytes).map_err(|_| SshdConfigError::NotUtf8 {
        path: path.display().to_string(),
    })
}

/// `parse_ssh_config(fname)`: no lines when it is not a regular file.
pub fn parse_ssh_config(
    fs: &dyn FsView,
    fname: &Path,
) -> Result<Vec<SshdConfigLine>, SshdConfigError> {
    if !is_file(fs, fname) {
        return Ok(Vec::new());
    }
    let text = read_text(fs, fname)?;
    Ok(parse_ssh_config_lines(py_splitlines(&text)))
}

/// `parse_ssh_config_map(fname)`: lower-cased keyword -> value, the last
/// occurrence winning, in order of first appearance (a Python dict).
pub fn parse_ssh_config_map(
    fs: &dyn FsView,
    fname: &Path,
) -> Result<Vec<(String, String)>, SshdConfigError> {
    Ok(config_map(parse_ssh_config(fs, fname)?))
}

/// The keyword -> value map of parsed lines (lower-cased keywords, the last
/// occurrence winning, in order of first appearance: a Python dict).
pub fn config_map(lines: Vec<SshdConfigLine>) -> Vec<(String, String)> {
    let mut ret: Vec<(String, String)> = Vec::new();
    for line in lines {
        let Some(key) = line.key() else { continue };
        let value = line.value.unwrap_or_default();
        match ret.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => ret.push((key, value)),
        }
    }
    ret
}

/// `_includes_dconf(fname)`: a line of the file (as Python iterates a text
/// file: `\n`, `\r\n` and `\r` end lines) starts with
/// `Include <fname>.d/*.conf`.
pub fn includes_dconf(fs: &dyn FsView, fname: &Path) -> Result<bool, SshdConfigError> {
    if !is_file(fs, fname) {
        return Ok(false);
    }
    Ok(text_includes_dconf(&read_text(fs, fname)?, fname))
}

/// Whether `text` (the content of `fname`) has a line starting with
/// `Include <fname>.d/*.conf`.
pub fn text_includes_dconf(text: &str, fname: &Path) -> bool {
    let wanted = format!("Include {}.d/*.conf", fname.display());
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    text.lines().any(|l| l.starts_with(&wanted))
}

/// `update_ssh_config_lines(lines, updates)`: updates `lines` in place and
/// returns the keys (as given in `updates`) that changed, in cloud-init's
/// order: changed existing lines first, then the appended ones.
pub fn update_ssh_config_lines(
    lines: &mut Vec<SshdConfigLine>,
    updates: &[(&str, &str)],
) -> Vec<String> {
    let mut found: Vec<&str> = Vec::new();
    let mut changed: Vec<String> = Vec::new();
    for (i, line) in lines.iter_mut().enumerate() {
        let Some(lkey) = line.key() else { continue };
        // `casemap`: a dict, so the last update key with this spelling wins.
        let Some(&(key, value)) = updates.iter().rev().find(|(k, _)| k.to_lowercase() == lkey)
        else {
            continue;
        };
        if !found.contains(&key) {
            found.push(key);
        }
        if line.value.as_deref() == Some(value) {
            tracing::debug!("line {}: option {key} already set to {value}", i + 1);
        } else {
            changed.push(key.to_string());
            tracing::debug!(
                "line {}: option {key} updated {} -> {value}",
                i + 1,
                line.value.as_deref().unwrap_or("None")
            );
            line.value = Some(value.to_string());
        }
    }
    if found.len() != updates.len() {
        for &(key, value) in updates {
            if found.contains(&key) {
                continue;
            }
            changed.push(key.to_string());
            lines.push(SshdConfigLine {
                line: String::new(),
                raw_key: Some(key.to_string()),
                value: Some(value.to_string()),
            });
            tracing::debug!("line {}: option {key} added with {value}", lines.len());
        }
    }
    changed
}

/// What [`update_ssh_config`] would do.
#[derive(Debug, Default, PartialEq)]
pub struct SshdUpdate {
    /// The file the settings live in (sshd_config or its `50-cloud-init.conf`).
    pub path: PathBuf,
    /// The keys whose value changed (empty: nothing to write, no restart).
    pub changed: Vec<String>,
    /// Making the `.d` directory, then writing the file; empty when nothing changed.
    pub effects: Vec<Effect>,
}

impl SshdUpdate {
    /// `update_ssh_config`'s return value: whether anything was updated.
    pub fn updated(&self) -> bool {
        !self.changed.is_empty()
    }
}

/// A symlink in the last component is written through, as `open(fname, "wb")`
/// does (bounded, like the kernel's 40 links).
fn through_links(fs: &dyn FsView, path: &Path) -> PathBuf {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match fs.lstat(&p) {
            Some(s) if s.kind == FileKind::Symlink => match fs.read_link(&p) {
                Ok(t) if t.is_absolute() => p = t,
                Ok(t) => p = p.parent().unwrap_or(Path::new("/")).join(t),
                Err(_) => break,
            },
            _ => break,
        }
    }
    p
}

/// `update_ssh_config(updates, fname)`: reads the file (or its
/// `50-cloud-init.conf` when `fname` includes `fname.d/*.conf`), applies
/// `updates` (keyword, value; in order) and, if anything changed, returns
/// the effects that write it back with its mode and owner kept.
pub fn update_ssh_config(
    fs: &dyn FsView,
    updates: &[(&str, &str)],
    fname: &Path,
) -> Result<SshdUpdate, SshdConfigError> {
    let mut effects = Vec::new();
    let mut fname = fname.to_path_buf();
    let mut new_mode = 0o644;
    if includes_dconf(fs, &fname)? {
        let dir = PathBuf::from(format!("{}.d", fname.display()));
        if !fs.is_dir(&dir) {
            if fs.exists(&dir) {
                return Err(SshdConfigError::NotADirectory {
                    path: dir.display().to_string(),
                });
            }
            effects.push(Effect::Mkdir {
                path: dir.clone(),
                mode: 0o755,
            });
        }
        fname = dir.join(DCONF_NAME);
        // `util.ensure_file(fname, 0o600)`: root read-only.
        new_mode = 0o600;
    }
    let mut lines = parse_ssh_config(fs, &fname)?;
    let changed = update_ssh_config_lines(&mut lines, updates);
    if changed.is_empty() {
        return Ok(SshdUpdate {
            path: fname,
            changed,
            effects: Vec::new(),
        });
    }
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let target = through_links(fs, &fname);
    let (mode, owner) = match fs.stat(&target) {
        Some(s) if s.kind == FileKind::File => {
            let owner = (s.uid != 0 || s.gid != 0).then(|| Owner {
                user: Some(Named::known(accounts::user_name(fs, s.uid), s.uid)),
                group: Some(Named::known(accounts::group_name(fs, s.gid), s.gid)),
            });
            (s.mode, owner)
        }
        _ => (new_mode, None),
    };
    effects.push(Effect::WriteFile {
        path: target,
        data: Data::public(text),
        mode,
        owner,
        append: Append::No,
    });
    Ok(SshdUpdate {
        path: fname,
        changed,
        effects,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `PasswordAuthentication VALUE` in the root's sshd config.
    fn set_password_auth(fs: &dyn FsView, value: &str) -> SshdUpdate {
        update_ssh_config(
            fs,
            &[("PasswordAuthentication", value)],
            Path::new(DEF_SSHD_CFG),
        )
        .unwrap()
    }
    use crate::rootfs::{RealFs, Root};

    fn lines(text: &str) -> Vec<SshdConfigLine> {
        parse_ssh_config_lines(py_splitlines(text))
    }

    fn render(lines: &[SshdConfigLine]) -> String {
        lines.iter().map(|l| format!("{l}\n")).collect()
    }

    fn root() -> (tempfile::TempDir, RealFs) {
        let tmp = tempfile::tempdir().unwrap();
        let fs = RealFs {
            root: Root::new(tmp.path()),
        };
        std::fs::create_dir_all(tmp.path().join("etc/ssh")).unwrap();
        (tmp, fs)
    }

    /// The write that rewrites the existing file `host` (at `guest` in the
    /// root) with `text`, keeping its mode and its owner: none to state for
    /// root's, else its ids (the scratch root has no passwd to name them).
    /// The test's files belong to whoever runs the tests.
    fn rewrite(host: &Path, guest: &str, text: &str, mode: u32) -> Effect {
        use std::os::unix::fs::MetadataExt;
        let md = std::fs::metadata(host).unwrap();
        let owner = (md.uid() != 0 || md.gid() != 0).then(|| Owner {
            user: Some(Named::known(md.uid().to_string(), md.uid())),
            group: Some(Named::known(md.gid().to_string(), md.gid())),
        });
        Effect::WriteFile {
            path: guest.into(),
            data: Data::public(text),
            mode,
            owner,
            append: Append::No,
        }
    }

    #[test]
    fn splitlines_is_pythons() {
        assert_eq!(
            py_splitlines("a\nb\r\nc\rd\x0be\x1cf\u{2028}g\n"),
            ["a", "b", "c", "d", "e", "f", "g"]
        );
        assert_eq!(py_splitlines("a\n\nb"), ["a", "", "b"]);
        assert_eq!(py_splitlines("x\x1fy"), ["x\x1fy"]);
        assert!(py_splitlines("").is_empty());
        assert_eq!(py_strip("\x1f\u{a0} a b \t"), "a b");
    }

    #[test]
    fn parsing_keeps_comments_and_drops_words_without_values() {
        let l = lines(
            "  # comment  \n\nPort 22\nPasswordAuthentication=no\nLonely\n\tUsePAM   yes  \n",
        );
        assert_eq!(
            render(&l),
            "# comment\n\nPort 22\nPasswordAuthentication no\nUsePAM yes\n"
        );
        assert_eq!(l[3].key().as_deref(), Some("passwordauthentication"));
        // `Key = value` keeps `= value` as the value, as cloud-init reads it.
        let l = lines("Key = value\n");
        assert_eq!(l[0].value.as_deref(), Some("= value"));
        // `Key=` has an empty value and prints as the bare key.
        assert_eq!(render(&lines("Key=\n")), "Key\n");
    }

    #[test]
    fn updates_change_every_occurrence_and_append_missing_keys() {
        let mut l =
            lines("passwordauthentication no\nMatch User bob\n  PasswordAuthentication yes\n");
        let changed = update_ssh_config_lines(
            &mut l,
            &[("PasswordAuthentication", "yes"), ("HostCertificate", "/c")],
        );
        assert_eq!(changed, ["PasswordAuthentication", "HostCertificate"]);
        // The original spelling of the keyword stays; the new key lands at
        // the end (inside the Match block, as cloud-init puts it).
        assert_eq!(
            render(&l),
            "passwordauthentication yes\nMatch User bob\nPasswordAuthentication yes\nHostCertificate /c\n"
        );
        let mut l = lines("PasswordAuthentication yes\n");
        assert!(update_ssh_config_lines(&mut l, &[("PasswordAuthentication", "yes")]).is_empty());
    }

    #[test]
    fn debian_include_goes_to_the_drop_in() {
        let (tmp, fs) = root();
        std::fs::write(
            tmp.path().join("etc/ssh/sshd_config"),
            "Include /etc/ssh/sshd_config.d/*.conf\nUsePAM yes\n",
        )
        .unwrap();
        let u = set_password_auth(&fs, "no");
        assert_eq!(
            u.path,
            Path::new("/etc/ssh/sshd_config.d/50-cloud-init.conf")
        );
        assert_eq!(
            u.effects,
            vec![
                Effect::Mkdir {
                    path: "/etc/ssh/sshd_config.d".into(),
                    mode: 0o755
                },
                Effect::write(
                    "/etc/ssh/sshd_config.d/50-cloud-init.conf",
                    Data::public("PasswordAuthentication no\n"),
                    0o600
                ),
            ]
        );
        // An existing drop-in keeps its mode and its other lines.
        std::fs::create_dir_all(tmp.path().join("etc/ssh/sshd_config.d")).unwrap();
        let dropin = tmp.path().join("etc/ssh/sshd_config.d/50-cloud-init.conf");
        std::fs::write(&dropin, "# mine\nPasswordAuthentication no\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dropin, std::fs::Permissions::from_mode(0o640)).unwrap();
        let u = set_password_auth(&fs, "no");
        assert!(!u.updated() && u.effects.is_empty());
        let u = set_password_auth(&fs, "yes");
        assert_eq!(
            u.effects,
            vec![rewrite(
                &dropin,
                "/etc/ssh/sshd_config.d/50-cloud-init.conf",
                "# mine\nPasswordAuthentication yes\n",
                0o640
            )]
        );
    }

    #[test]
    fn include_must_start_the_line_and_name_this_file() {
        let (tmp, fs) = root();
        for text in [
            "  Include /etc/ssh/sshd_config.d/*.conf\n",
            "Include /etc/ssh/other.d/*.conf\n",
            "include /etc/ssh/sshd_config.d/*.conf\n",
        ] {
            std::fs::write(tmp.path().join("etc/ssh/sshd_config"), text).unwrap();
            assert!(
                !includes_dconf(&fs, Path::new(DEF_SSHD_CFG)).unwrap(),
                "{text}"
            );
        }
        std::fs::write(
            tmp.path().join("etc/ssh/sshd_config"),
            "# x\rInclude /etc/ssh/sshd_config.d/*.conf extra\n",
        )
        .unwrap();
        assert!(includes_dconf(&fs, Path::new(DEF_SSHD_CFG)).unwrap());
    }

    #[test]
    fn sshd_config_without_include_is_rewritten_in_place() {
        let (tmp, fs) = root();
        let cfg = tmp.path().join("etc/ssh/sshd_config");
        std::fs::write(
            &cfg,
            "#PasswordAuthentication yes\n   \nPasswordAuthentication   no\nBroken\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600)).unwrap();
        let u = set_password_auth(&fs, "yes");
        assert_eq!(
            u.effects,
            vec![rewrite(
                &cfg,
                DEF_SSHD_CFG,
                "#PasswordAuthentication yes\n\nPasswordAuthentication yes\n",
                0o600
            )]
        );
        // A missing sshd_config is created (0644) with just the setting.
        std::fs::remove_file(&cfg).unwrap();
        let u = set_password_auth(&fs, "no");
        assert_eq!(
            u.effects,
            vec![Effect::write(
                DEF_SSHD_CFG,
                Data::public("PasswordAuthentication no\n"),
                0o644
            )]
        );
    }

    #[test]
    fn symlinked_config_is_written_through_and_bad_bytes_are_an_error() {
        let (tmp, fs) = root();
        std::fs::write(tmp.path().join("etc/ssh/real_config"), "Port 22\n").unwrap();
        std::os::unix::fs::symlink("real_config", tmp.path().join("etc/ssh/sshd_config")).unwrap();
        let u = set_password_auth(&fs, "no");
        assert!(
            matches!(&u.effects[0], Effect::WriteFile { path, .. } if path == Path::new("/etc/ssh/real_config"))
        );
        std::fs::write(tmp.path().join("etc/ssh/real_config"), b"Port \xff\n").unwrap();
        assert!(matches!(
            update_ssh_config(
                &fs,
                &[("PasswordAuthentication", "no")],
                Path::new(DEF_SSHD_CFG)
            ),
            Err(SshdConfigError::NotUtf8 { .. })
        ));
    }

    #[test]
    fn config_map_lowercases_and_last_wins() {
        let (tmp, fs) = root();
        std::fs::write(
            tmp.path().join("etc/ssh/sshd_config"),
            "AuthorizedKeysFile a\nPort 22\nauthorizedkeysfile b c\n",
        )
        .unwrap();
        assert_eq!(
            parse_ssh_config_map(&fs, Path::new(DEF_SSHD_CFG)).unwrap(),
            vec![
                ("authorizedkeysfile".to_string(), "b c".to_string()),
                ("port".to_string(), "22".to_string())
            ]
        );
    }
}
