//! `cloud-init dhclient-hook {up,down} INTERFACE` (22.4's
//! `cloudinit/dhclient_hook.py`): dhclient's exit hook
//! (`/etc/dhcp/dhclient-exit-hooks.d/hook-dhclient`) calls it on a lease
//! (`up`) and when the lease ends (`down`), so the lease's options are in
//! `/run/cloud-init/dhclient.hooks/INTERFACE.json` for the Azure datasource.
//!
//! The verb itself checks nothing more: whether cloud-init is enabled
//! (`/run/cloud-init/enabled`) and whether the machine is on Azure (DMI
//! board vendor) are the hook script's tests, before it calls the verb; a
//! verb called by hand writes the file whatever the datasource, as 22.4's
//! does. The place is cloud-init's default run directory, inside the root.
//!
//! The file is 22.4's byte for byte: every variable of the environment whose
//! name contains `DHCP4_` or `new_` (Python's `str.startswith` on the
//! name, then both strings removed wherever they occur, then `str.lower()`),
//! as `json.dumps(indent=1, sort_keys=True)` writes them (ASCII only; bytes
//! that are not UTF-8 as Python's surrogate escapes), mode 0644, written
//! atomically. The environment is read as Python's `os.environ` reads it:
//! the first of two entries with one name wins.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::argparse::{Arg, Nargs, Parser};
use crate::effect::{Data, Effect};
use crate::exec::Runner;
use crate::paths::Paths;
use crate::rootfs::Root;
use crate::target::{apply_all, LiveTarget};

/// The events the verb takes (argparse's `choices`).
pub const EVENTS: [&str; 2] = ["up", "down"];

/// The verb's arguments (`get_parser`, its help texts verbatim).
pub fn args(p: Parser) -> Parser {
    p.arg(Arg::positional("event", Nargs::One, "event taken on the interface").choices(&EVENTS))
        .arg(Arg::positional(
            "interface",
            Nargs::One,
            "the network interface being acted upon",
        ))
}

/// `atomic_helper._DEF_PERMS`.
const MODE: u32 = 0o644;

/// Where the hook files are (`_get_hooks_dir`: the run directory's
/// `dhclient.hooks`).
pub fn hooks_dir(paths: &Paths) -> PathBuf {
    paths.runpath("dhclient.hooks")
}

/// A Python `str`: code points, where a byte that is not UTF-8 is the lone
/// surrogate U+DC80..U+DCFF (`surrogateescape`, as `os.environ` decodes).
type PyStr = Vec<u32>;

fn py_str(bytes: &[u8]) -> PyStr {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.extend(s.chars().map(u32::from));
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                // The prefix is valid UTF-8 by the error's own account.
                out.extend(
                    std::str::from_utf8(good)
                        .unwrap_or_default()
                        .chars()
                        .map(u32::from),
                );
                let n = e.error_len().unwrap_or(bad.len());
                out.extend(bad[..n].iter().map(|&b| 0xDC00 + u32::from(b)));
                rest = &bad[n..];
            }
        }
    }
    out
}

fn starts_with(s: &[u32], prefix: &str) -> bool {
    let p: PyStr = prefix.chars().map(u32::from).collect();
    s.starts_with(&p)
}

/// `str.replace(old, "")`: every occurrence, left to right, not overlapping.
fn remove_all(s: &[u32], old: &str) -> PyStr {
    let old: PyStr = old.chars().map(u32::from).collect();
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i..].starts_with(&old) {
            i += old.len();
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

/// `str.lower()` (a lone surrogate stays as it is).
fn lower(s: &[u32]) -> PyStr {
    s.iter()
        .flat_map(|&c| match char::from_u32(c) {
            Some(ch) => ch.to_lowercase().map(u32::from).collect::<Vec<_>>(),
            None => vec![c],
        })
        .collect()
}

/// `_filter_env_vals`: the lease's options, by their lower-case names,
/// sorted (as `sort_keys` writes them).
fn filter_env(env: &[(OsString, OsString)]) -> Vec<(PyStr, PyStr)> {
    let mut seen: Vec<&[u8]> = Vec::new();
    let mut out: std::collections::BTreeMap<PyStr, PyStr> = Default::default();
    for (k, v) in env {
        // os.environ keeps the first entry of a name given twice.
        let raw = k.as_bytes();
        if seen.contains(&raw) {
            continue;
        }
        seen.push(raw);
        let key = py_str(raw);
        if starts_with(&key, "DHCP4_") || starts_with(&key, "new_") {
            let name = lower(&remove_all(&remove_all(&key, "DHCP4_"), "new_"));
            out.insert(name, py_str(v.as_bytes()));
        }
    }
    out.into_iter().collect()
}

/// A string as `json.dumps` (`ensure_ascii=True`) writes it.
fn json_str(s: &[u32], out: &mut String) {
    use std::fmt::Write;
    out.push('"');
    for &c in s {
        match c {
            0x22 => out.push_str("\\\""),
            0x5C => out.push_str("\\\\"),
            0x0A => out.push_str("\\n"),
            0x0D => out.push_str("\\r"),
            0x09 => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0C => out.push_str("\\f"),
            0x20..=0x7E => out.push(char::from(c as u8)),
            0x10000.. => {
                let v = c - 0x10000;
                let _ = write!(
                    out,
                    "\\u{:04x}\\u{:04x}",
                    0xD800 | (v >> 10),
                    0xDC00 | (v & 0x3FF)
                );
            }
            _ => {
                let _ = write!(out, "\\u{c:04x}");
            }
        }
    }
    out.push('"');
}

/// The hook file's content: `json.dumps(info, indent=1, sort_keys=True) + "\n"`.
pub fn hook_json(env: &[(OsString, OsString)]) -> String {
    let info = filter_env(env);
    if info.is_empty() {
        return "{}\n".to_string();
    }
    let mut out = String::from("{");
    for (i, (k, v)) in info.iter().enumerate() {
        out.push_str(if i == 0 { "\n " } else { ",\n " });
        json_str(k, &mut out);
        out.push_str(": ");
        json_str(v, &mut out);
    }
    out.push_str("\n}\n");
    out
}

/// What the hook does for `event` on `interface`, as effects: `up` writes
/// the file (its directory made if missing), `down` removes it (absent is
/// fine). An interface name that would put the file outside the hooks
/// directory (a `/` in it: 22.4 joins it to the path as it is) is refused.
pub fn plan(
    paths: &Paths,
    event: &str,
    interface: &str,
    env: &[(OsString, OsString)],
) -> Result<Vec<Effect>, String> {
    if interface.contains('/') || interface.contains('\0') {
        return Err(format!(
            "interface {interface:?}: an interface name has no '/' (the file would be outside {})",
            hooks_dir(paths).display()
        ));
    }
    let file = hooks_dir(paths).join(format!("{interface}.json"));
    match event {
        "up" => Ok(vec![Effect::write(
            file,
            Data::public(hook_json(env)),
            MODE,
        )]),
        "down" => Ok(vec![Effect::Remove { path: file }]),
        other => Err(format!(
            "Unexpected event '{other}'. Expected one of: ('up', 'down')"
        )),
    }
}

/// The verb: exit 0 when done; 1, saying why, when the file could not be
/// written or removed (22.4 ends with a traceback and 1 there).
pub fn run(root: &Path, event: &str, interface: &str) -> i32 {
    let env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    let paths = Paths::default();
    let effects = match plan(&paths, event, interface, &env) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cloud-init dhclient-hook: {e}");
            return 1;
        }
    };
    let root = Root::new(root);
    let mut target = LiveTarget::new(root.clone(), Runner::new(root, None, false));
    let applied = apply_all(&mut target, &effects);
    for e in &applied.errors {
        eprintln!("cloud-init dhclient-hook: {e}");
    }
    if applied.errors.is_empty() {
        0
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStringExt;

    fn env(pairs: &[(&[u8], &[u8])]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    OsString::from_vec(k.to_vec()),
                    OsString::from_vec(v.to_vec()),
                )
            })
            .collect()
    }

    #[test]
    fn names_are_filtered_and_renamed_as_python_does() {
        let e = env(&[
            (b"PATH", b"/bin"),
            (b"new_ip_address", b"10.0.0.4"),
            (b"DHCP4_ROUTERS", b"10.0.0.1"),
            (b"old_ip_address", b"10.0.0.9"),
            // replace() removes every occurrence, not the prefix alone.
            (b"new_renew_x", b"a"),
            (b"xnew_y", b"not taken"),
        ]);
        assert_eq!(
            hook_json(&e),
            "{\n \"ip_address\": \"10.0.0.4\",\n \"rex\": \"a\",\n \"routers\": \"10.0.0.1\"\n}\n"
        );
    }

    #[test]
    fn no_options_is_an_empty_object() {
        assert_eq!(hook_json(&env(&[(b"PATH", b"/bin")])), "{}\n");
    }

    #[test]
    fn text_is_escaped_as_json_dumps_escapes_it() {
        let e = env(&[
            (b"new_x", "a\"\\\n\t\u{7f}é😀".as_bytes()),
            (b"new_y", b"\xff"),
        ]);
        assert_eq!(
            hook_json(&e),
            "{\n \"x\": \"a\\\"\\\\\\n\\t\\u007f\\u00e9\\ud83d\\ude00\",\n \"y\": \"\\udcff\"\n}\n"
        );
    }

    #[test]
    fn an_interface_with_a_slash_is_refused() {
        let p = Paths::default();
        assert!(plan(&p, "up", "../../etc/x", &[]).is_err());
        assert!(plan(&p, "down", "/etc/passwd", &[]).is_err());
        let ok = plan(&p, "up", "eth0", &[]).unwrap();
        assert_eq!(
            ok[0].path(),
            Some(Path::new("/run/cloud-init/dhclient.hooks/eth0.json"))
        );
    }
}
