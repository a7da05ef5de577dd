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
//! owner, content of the wrong type) is reported with its index, path and
//! line and skipped while the other entries are still written, in order,
//! where cloud-init stops at the first failure; the content of a file that
//! is not world-readable is treated as a secret in logs and plans; gzip
//! content is decompressed as it is written, never whole in memory, up to
//! `cloudboot: {limits: {write_file_bytes: N}}` (256 MiB unless set).
//!
//! Run again (a boot cut short after some entries and before the semaphore
//! runs the module again), every effect is idempotent: a write replaces the
//! file with the same bytes, mode and owner; an `append: true` entry is
//! made once per instance, because a record under
//! `instances/<iid>/cloudboot-appends/` remembers where its bytes went and
//! an append whose bytes are already there is skipped.

use std::path::PathBuf;

use crate::module::prelude::py::path::abspath;
use crate::module::prelude::*;
use crate::modules::shared::limits::write_limit;

/// A `write_files` entry (also read by write_files_deferred).
const ENCODINGS: &[&str] = &[
    "gz",
    "gzip",
    "gz+base64",
    "gzip+base64",
    "gz+b64",
    "gzip+b64",
    "b64",
    "base64",
    "text/plain",
];

pub static ENTRY: Ty = Ty::Map(&[
    Field::req("path", Ty::Str),
    Field::opt("content", Ty::StrOrBytes),
    Field::opt("source", Ty::AnyMap),
    Field::opt(
        "encoding",
        Ty::Strict(&Ty::Enum(ENCODINGS), Rule::OneOfStrs(ENCODINGS)),
    ),
    Field::opt("owner", Ty::Str),
    // cloud-init 22.4's schema says string only, but the module (and YAML
    // 1.1's `0644`) give ints too.
    Field::opt(
        "permissions",
        Ty::Strict(&Ty::OneOf(&[Ty::Str, Ty::Int]), Rule::As(&Ty::Str)),
    ),
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
    schema: &[Field::opt(
        "write_files",
        Ty::Strict(&Ty::Entries(&ENTRY), Rule::MinItems(1)),
    )],
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
        // An entry of the wrong shape fails alone (the engine's error
        // names its file and line); the others are still written, in order.
        if let Some(e) = ctx.entry_error(&format!("write_files[{i}]")) {
            match entry.get("path").filter(|p| p.truthy()) {
                Some(p) => out.error(format!("{e}; {} not written", abspath(&p.python_str()))),
                None => out.error(e),
            }
            continue;
        }
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

fn plan_entry(ctx: &Context, n: usize, entry: &Value) -> Result<Effect, ConfigError> {
    let at = |key: &str| format!("write_files[{}].{key}", n - 1);
    let map = entry.as_map().ok_or_else(|| {
        ConfigError::new(
            format!("write_files[{}]", n - 1),
            format!(
                "write_files[{}]: expected a mapping, found {}",
                n - 1,
                entry.type_name()
            ),
        )
    })?;
    let path = match map.get("path") {
        Some(p) if p.truthy() => PathBuf::from(abspath(&p.python_str())),
        _ => {
            return Err(ConfigError::new(
                at("path"),
                format!(
                    "No path provided to write for entry {n} in module {}",
                    ctx.name
                ),
            ))
        }
    };
    let content = match map.get("content") {
        None | Some(Value::Null) if map.get("source").is_some() => {
            return Err(ConfigError::new(
                at("source"),
                format!(
                    "{}: fetching a file from a URI is not supported yet and there is no content to fall back to; {} not written",
                    at("source"),
                    path.display()
                ),
            ))
        }
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Str(s)) => s.clone().into_bytes(),
        Some(Value::Bytes(b)) => b.clone(),
        Some(other) => {
            return Err(ConfigError::new(
                at("content"),
                format!(
                    "{}: expected text or !!binary, found {}",
                    at("content"),
                    other.type_name()
                ),
            ))
        }
    };
    let encoding = map
        .get("encoding")
        .map(Value::python_str)
        .unwrap_or_default();
    let content = decode(&content, &encoding).map_err(|e| {
        ConfigError::new(
            at("content"),
            format!(
                "{} ({}): {e}; {} not written",
                at("content"),
                encoding.trim(),
                path.display()
            ),
        )
    })?;
    let owner_spec = map
        .get("owner")
        .map(Value::python_str)
        .unwrap_or_else(|| DEFAULT_OWNER.to_string());
    let owner = ctx.resolve_owner(&owner_spec).map_err(|e| {
        ConfigError::new(
            at("owner"),
            format!("{}: {e}; {} not written", at("owner"), path.display()),
        )
    })?;
    let mode = decode_perms(map.get("permissions"), &at("permissions"));
    // A file kept from other users probably holds something secret.
    let secret = mode & 0o004 == 0;
    let data = match content {
        Decoded::Plain(bytes) if secret => Data::secret(bytes),
        Decoded::Plain(bytes) => Data::public(bytes),
        Decoded::Gzip(bytes) => Data::gzipped(bytes, write_limit(ctx.cfg), secret),
    };
    let append = if map.get("append").map(Value::to_bool).unwrap_or(false) {
        // Once per instance: a run cut short after the append and before
        // the semaphore must not append again. The record is named by the
        // entry and its content, so a changed entry is a new append.
        let mut key = format!("{}\0{}\0", n - 1, path.display()).into_bytes();
        key.extend_from_slice(&data.bytes);
        Append::OncePerInstance {
            record: ctx.ipath("cloudboot-appends").join(sha256::hex(&key)),
        }
    } else {
        Append::No
    };
    Ok(Effect::WriteFile {
        path,
        data,
        mode,
        owner: Some(owner),
        append,
    })
}

/// Decoded content: gzip data stays compressed until it is written
/// (streamed to the file, never whole in memory).
#[derive(Debug, PartialEq)]
enum Decoded {
    Plain(Vec<u8>),
    Gzip(Vec<u8>),
}

/// `canonicalize_extraction` + `extract_contents`, but gzip is only
/// checked here (its magic bytes) and decompressed when written.
///
/// The error is about `content` and says only what is wrong with it (the
/// caller names the entry and the file).
fn decode(content: &[u8], encoding: &str) -> Result<Decoded, ConfigError> {
    let enc = encoding.trim().to_ascii_lowercase();
    let not_base64 = |e: String| ConfigError::new("content", format!("not base64: {e}"));
    let gzip = |data: Vec<u8>| -> Result<Decoded, ConfigError> {
        if !data.starts_with(&[0x1f, 0x8b]) {
            return Err(ConfigError::new(
                "content",
                "not gzip data: invalid gzip header",
            ));
        }
        Ok(Decoded::Gzip(data))
    };
    match enc.as_str() {
        "gz" | "gzip" => gzip(content.to_vec()),
        "gz+base64" | "gzip+base64" | "gz+b64" | "gzip+b64" => {
            gzip(base64::decode(content).map_err(not_base64)?)
        }
        "b64" | "base64" => base64::decode(content)
            .map(Decoded::Plain)
            .map_err(not_base64),
        "" | "text/plain" => Ok(Decoded::Plain(content.to_vec())),
        other => {
            tracing::warn!("Unknown encoding type {other}, assuming text/plain");
            Ok(Decoded::Plain(content.to_vec()))
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
        Some(other) => py::int::parse_octal(&other.python_str()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

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
        let plain = |b: &[u8]| Decoded::Plain(b.to_vec());
        assert_eq!(decode(b"aGk=", " B64 ").unwrap(), plain(b"hi"));
        let mut gz = Vec::new();
        {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::default());
            e.write_all(b"zipped").unwrap();
        }
        // Kept compressed; the write decompresses it.
        assert_eq!(decode(&gz, "gzip").unwrap(), Decoded::Gzip(gz.clone()));
        let unzipped = |d: Decoded| match d {
            Decoded::Gzip(b) => {
                let mut out = Vec::new();
                Data::gzipped(b, 100, false)
                    .reader()
                    .read_to_end(&mut out)
                    .unwrap();
                out
            }
            other => panic!("{other:?}"),
        };
        let b = base64::encode(&gz);
        for enc in ["gz+base64", "gzip+base64", "gz+b64", "gzip+b64"] {
            assert_eq!(unzipped(decode(b.as_bytes(), enc).unwrap()), b"zipped");
        }
        assert_eq!(decode(b"raw", "rot13").unwrap(), plain(b"raw"));
        assert!(decode(b"not gzip", "gz").is_err());
    }

    #[test]
    fn gzip_past_the_limit_is_an_error_naming_the_limit() {
        let mut gz = Vec::new();
        {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::default());
            e.write_all(&[0u8; 1000]).unwrap();
        }
        let mut out = Vec::new();
        let e = Data::gzipped(gz.clone(), 999, false)
            .reader()
            .read_to_end(&mut out)
            .unwrap_err();
        assert!(e.to_string().contains("limit of 999 bytes"), "{e}");
        out.clear();
        Data::gzipped(gz, 1000, false)
            .reader()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out.len(), 1000);
    }

    /// Through the module test kit (an in-memory Debian 12 root): the
    /// files a user asked for, with their content, mode and owner, and an
    /// entry naming an unknown owner refused alone.
    #[test]
    fn kit_writes_each_file_and_refuses_an_unknown_owner_alone() {
        let run = Kit::debian12()
            .cfg(concat!(
                "write_files:\n",
                "- path: /etc/motd\n",
                "  content: welcome\n",
                "- path: /etc/app/token\n",
                "  encoding: b64\n",
                "  content: c2VjcmV0\n",
                "  permissions: '0600'\n",
                "- path: /etc/app/other\n",
                "  owner: nobody\n",
                "  content: x\n",
            ))
            .plan(&WriteFiles);
        let written = run.written();
        assert_eq!(written.len(), 2);
        assert_eq!(written[0].path, PathBuf::from("/etc/motd"));
        assert_eq!(written[0].content, "welcome");
        assert_eq!(written[0].mode, 0o644);
        assert_eq!(written[0].owner.as_deref(), Some("root:root"));
        assert_eq!(run.file("/etc/app/token").as_deref(), Some("secret"));
        assert_eq!(written[1].mode, 0o600);
        assert_eq!(
            run.errors(),
            ["write_files[2].owner: Unknown user or group: user 'nobody' is not in /etc/passwd; /etc/app/other not written"]
        );
    }
}
