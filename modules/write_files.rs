//! write_files (`cc_write_files`): files from cloud-config, in the network
//! (init) stage, once per instance. Entries with `defer: true` are left to
//! write_files_deferred in the final stage.
//!
//! Per entry: `path` (made absolute), `content` (text or `!!binary` bytes),
//! `encoding` (gz/gzip, b64/base64, gz+b64 and its spellings, text/plain),
//! `owner` (`user:group`, default root:root, looked up in the root's
//! /etc/passwd and /etc/group), `permissions` (int, or an octal string;
//! undecodable gives 0644 with a warning), `append`, `defer`.
//!
//! Differences from cloud-init, on purpose: files are written atomically
//! (temp file, fsync, rename); a bad entry (undecodable content, unknown
//! owner) is reported and skipped while the other entries are still written,
//! where cloud-init stops at the first failure; and the content of a file
//! that is not world-readable is treated as a secret in logs and plans.

use std::io::Read;
use std::path::{Component, PathBuf};

use crate::base64;
use crate::effect::{Data, Effect};
use crate::module::{Context, Module, ModuleInfo, ModuleOutput};
use crate::schema::{Field, Ty};
use crate::semaphore::Frequency;
use crate::value::Value;

/// A `write_files` entry (also read by write_files_deferred).
pub static ENTRY: Ty = Ty::Map(&[
    Field::req("path", Ty::Str),
    Field::opt("content", Ty::StrOrBytes),
    Field::opt("source", Ty::AnyMap),
    Field::opt(
        "encoding",
        Ty::Enum(&[
            "gz",
            "gzip",
            "gz+base64",
            "gzip+base64",
            "gz+b64",
            "gzip+b64",
            "b64",
            "base64",
            "text/plain",
        ]),
    ),
    Field::opt("owner", Ty::Str),
    // cloud-init 22.4's schema says string only, but the module (and YAML
    // 1.1's `0644`) give ints too.
    Field::opt("permissions", Ty::OneOf(&[Ty::Str, Ty::Int])),
    Field::opt("append", Ty::Bool),
    Field::opt("defer", Ty::Bool),
]);

pub struct WriteFiles;

static INFO: ModuleInfo = ModuleInfo {
    name: "write_files",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &["write_files"],
    keys: &["write_files"],
    schema: &[Field::opt("write_files", Ty::List(&ENTRY))],
    summary: "write arbitrary files",
};

const DEFAULT_PERMS: u32 = 0o644;
const DEFAULT_OWNER: &str = "root:root";

impl Module for WriteFiles {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        plan_entries(ctx, false)
    }
}

/// Plans the entries whose `defer` equals `deferred` (shared with
/// write_files_deferred, which is this module's other half).
pub fn plan_entries(ctx: &Context, deferred: bool) -> ModuleOutput {
    let mut out = ModuleOutput::default();
    let entries = match ctx.cfg.get("write_files") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Seq(items)) => items.as_slice(),
        Some(other) => {
            out.error(format!(
                "write_files: expected a list, found {}",
                other.type_name()
            ));
            return out;
        }
    };
    let mut selected = 0;
    for (i, entry) in entries.iter().enumerate() {
        let defer = entry.get_bool("defer", false);
        if defer != deferred {
            continue;
        }
        selected += 1;
        match plan_entry(ctx, i + 1, entry) {
            Ok(effect) => out.effects.push(effect),
            Err(msg) => out.error(msg),
        }
    }
    if selected == 0 {
        out.note(format!(
            "Skipping module named {}, no/empty 'write_files' key in configuration",
            ctx.name
        ));
    }
    out
}

fn plan_entry(ctx: &Context, n: usize, entry: &Value) -> Result<Effect, String> {
    let at = |key: &str| format!("write_files[{}].{key}", n - 1);
    let map = entry.as_map().ok_or_else(|| {
        format!(
            "write_files[{}]: expected a mapping, found {}",
            n - 1,
            entry.type_name()
        )
    })?;
    let path = match map.get("path") {
        Some(p) if p.truthy() => abspath(&p.python_str()),
        _ => {
            return Err(format!(
                "No path provided to write for entry {n} in module {}",
                ctx.name
            ))
        }
    };
    let content = match map.get("content") {
        None | Some(Value::Null) if map.get("source").is_some() => {
            return Err(format!(
                "{}: fetching a file from a URI is not supported yet and there is no content to fall back to; {} not written",
                at("source"),
                path.display()
            ))
        }
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Str(s)) => s.clone().into_bytes(),
        Some(Value::Bytes(b)) => b.clone(),
        Some(other) => {
            return Err(format!(
                "{}: expected text or !!binary, found {}",
                at("content"),
                other.type_name()
            ))
        }
    };
    let encoding = map
        .get("encoding")
        .map(Value::python_str)
        .unwrap_or_default();
    let content = decode(&content, &encoding).map_err(|e| {
        format!(
            "{} ({}): {e}; {} not written",
            at("content"),
            encoding.trim(),
            path.display()
        )
    })?;
    let owner_spec = map
        .get("owner")
        .map(Value::python_str)
        .unwrap_or_else(|| DEFAULT_OWNER.to_string());
    let owner = ctx
        .resolve_owner(&owner_spec)
        .map_err(|e| format!("{}: {e}; {} not written", at("owner"), path.display()))?;
    let mode = decode_perms(map.get("permissions"), &at("permissions"));
    let append = map.get("append").map(Value::to_bool).unwrap_or(false);
    // A file kept from other users probably holds something secret.
    let data = if mode & 0o004 == 0 {
        Data::secret(content)
    } else {
        Data::public(content)
    };
    Ok(Effect::WriteFile {
        path,
        data,
        mode,
        owner: Some(owner),
        append,
    })
}

/// `os.path.abspath` relative to `/`: `.` and `..` folded.
fn abspath(p: &str) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in std::path::Path::new(p).components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// `canonicalize_extraction` + `extract_contents`.
fn decode(content: &[u8], encoding: &str) -> Result<Vec<u8>, String> {
    let enc = encoding.trim().to_ascii_lowercase();
    let gunzip = |data: &[u8]| -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(data)
            .read_to_end(&mut out)
            .map_err(|e| format!("not gzip data: {e}"))?;
        Ok(out)
    };
    match enc.as_str() {
        "gz" | "gzip" => gunzip(content),
        "gz+base64" | "gzip+base64" | "gz+b64" | "gzip+b64" => {
            gunzip(&base64::decode(content).map_err(|e| format!("not base64: {e}"))?)
        }
        "b64" | "base64" => base64::decode(content).map_err(|e| format!("not base64: {e}")),
        "" | "text/plain" => Ok(content.to_vec()),
        other => {
            tracing::warn!("Unknown encoding type {other}, assuming text/plain");
            Ok(content.to_vec())
        }
    }
}

/// `decode_perms`: an int as is (YAML 1.1 reads `0644` as 420), else the
/// string as octal; anything undecodable gives 0644 with a warning.
fn decode_perms(perm: Option<&Value>, key: &str) -> u32 {
    let parsed = match perm {
        None | Some(Value::Null) => return DEFAULT_PERMS,
        Some(Value::Int(i)) => u32::try_from(*i).ok(),
        Some(Value::Bool(b)) => Some(u32::from(*b)),
        Some(Value::Float(f)) if f.is_finite() && *f >= 0.0 => Some(*f as u32),
        Some(other) => parse_octal(&other.python_str()),
    };
    match parsed {
        Some(m) => m & 0o7777,
        None => {
            let shown = perm.map(Value::python_str).unwrap_or_default();
            tracing::warn!(
                "Undecodable permissions {shown} at {key}, returning default {:o}",
                DEFAULT_PERMS
            );
            DEFAULT_PERMS
        }
    }
}

/// Python's `int(s, 8)`: blanks around, an optional `0o`, `_` between digits.
fn parse_octal(s: &str) -> Option<u32> {
    let s = s.trim();
    let s = s
        .strip_prefix("0o")
        .or_else(|| s.strip_prefix("0O"))
        .unwrap_or(s);
    if s.is_empty() || s.starts_with('_') || s.ends_with('_') || s.contains("__") {
        return None;
    }
    u32::from_str_radix(&s.replace('_', ""), 8).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perms_decode_like_cloud_init() {
        assert_eq!(decode_perms(Some(&Value::str("0755")), "k"), 0o755);
        assert_eq!(decode_perms(Some(&Value::str("644")), "k"), 0o644);
        assert_eq!(decode_perms(Some(&Value::str("0o600")), "k"), 0o600);
        assert_eq!(decode_perms(Some(&Value::Int(493)), "k"), 0o755);
        assert_eq!(decode_perms(Some(&Value::str("abc")), "k"), 0o644);
        assert_eq!(decode_perms(None, "k"), 0o644);
    }

    #[test]
    fn encodings() {
        assert_eq!(decode(b"aGk=", " B64 ").unwrap(), b"hi");
        let mut gz = Vec::new();
        {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::default());
            e.write_all(b"zipped").unwrap();
        }
        assert_eq!(decode(&gz, "gzip").unwrap(), b"zipped");
        let b = base64::encode(&gz);
        for enc in ["gz+base64", "gzip+base64", "gz+b64", "gzip+b64"] {
            assert_eq!(decode(b.as_bytes(), enc).unwrap(), b"zipped");
        }
        assert_eq!(decode(b"raw", "rot13").unwrap(), b"raw");
        assert!(decode(b"not gzip", "gz").is_err());
    }

    #[test]
    fn paths_are_made_absolute() {
        assert_eq!(abspath("etc/../tmp/./x"), PathBuf::from("/tmp/x"));
        assert_eq!(abspath("/a//b/"), PathBuf::from("/a/b"));
    }
}
