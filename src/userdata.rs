//! User-data and vendor-data: stored as cloud-init stores them, then consumed.
//!
//! This is the part the engine needs: the raw and processed files
//! (`user-data.txt`, `user-data.txt.i`, vendor twins), `#cloud-config` parts
//! merged into `cloud-config.txt`, and `#!` parts saved as scripts for
//! scripts_user. gzip is undone first. The other formats (MIME multipart,
//! `#include`, boothooks, archives, jinja) are reported as not handled yet:
//! the user-data issue brings them.

use std::io::Read;
use std::path::Path;

use crate::effect::{Data, Effect};
use crate::paths::Paths;
use crate::value::{Mapping, Value};
use crate::yaml;

/// Which blob: user-data or vendor-data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    User,
    Vendor,
    Vendor2,
}

impl Kind {
    fn raw_name(self) -> &'static str {
        match self {
            Kind::User => "user-data.txt",
            Kind::Vendor => "vendor-data.txt",
            Kind::Vendor2 => "vendor-data2.txt",
        }
    }

    fn cloud_config_name(self) -> &'static str {
        match self {
            Kind::User => "cloud-config.txt",
            Kind::Vendor => "vendor-cloud-config.txt",
            Kind::Vendor2 => "vendor2-cloud-config.txt",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Kind::User => "user-data",
            Kind::Vendor => "vendor-data",
            Kind::Vendor2 => "vendor-data2",
        }
    }
}

/// One part after type detection.
struct Part {
    content_type: &'static str,
    filename: String,
    payload: Vec<u8>,
}

/// Undoes gzip (by successful decompression of the `1f 8b` magic, as
/// `util.decomp_gzip` does) and splits into parts.
fn parts_of(raw: &[u8]) -> Vec<Part> {
    let data = gunzip_if_gzip(raw);
    vec![Part {
        content_type: sniff(&data),
        filename: "part-001".into(),
        payload: data,
    }]
}

fn gunzip_if_gzip(raw: &[u8]) -> Vec<u8> {
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        if flate2::read::GzDecoder::new(raw)
            .read_to_end(&mut out)
            .is_ok()
        {
            return out;
        }
    }
    raw.to_vec()
}

/// `handlers.type_from_starts_with`: the longest matching prefix, after
/// left-stripping and lower-casing; a MIME document is recognised by a
/// `mime-version:` header in its first 4096 bytes.
fn sniff(data: &[u8]) -> &'static str {
    let head = &data[..data.len().min(4096)];
    if String::from_utf8_lossy(head)
        .to_ascii_lowercase()
        .contains("mime-version:")
    {
        return "multipart/mixed";
    }
    let text = String::from_utf8_lossy(&data[..data.len().min(64)]);
    let t = text.trim_start().to_ascii_lowercase();
    const PREFIXES: &[(&str, &str)] = &[
        ("#cloud-config-archive", "text/cloud-config-archive"),
        ("#cloud-config-jsonp", "text/cloud-config-jsonp"),
        ("#cloud-boothook", "text/cloud-boothook"),
        ("#include-once", "text/x-include-once-url"),
        ("#cloud-config", "text/cloud-config"),
        ("## template: jinja", "text/jinja2"),
        ("#part-handler", "text/part-handler"),
        ("#upstart-job", "text/upstart-job"),
        ("#include", "text/x-include-url"),
        ("#!", "text/x-shellscript"),
    ];
    PREFIXES
        .iter()
        .find(|(p, _)| t.starts_with(p))
        .map(|(_, ct)| *ct)
        .unwrap_or("text/x-not-multipart")
}

/// A MIME boundary in the shape Python's email package makes.
fn boundary() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mixed = (nanos ^ (u128::from(std::process::id()) << 64)) % 10u128.pow(19);
    format!("==============={mixed:019}==")
}

/// `str(msg)` of the processed message (`user-data.txt.i`).
fn processed_mime(parts: &[Part]) -> Vec<u8> {
    let b = boundary();
    let mut out = format!(
        "Content-Type: multipart/mixed; boundary=\"{b}\"\nMIME-Version: 1.0\nNumber-Attachments: {}\n\n",
        parts.len()
    )
    .into_bytes();
    for p in parts {
        out.extend_from_slice(
            format!(
                "--{b}\nMIME-Version: 1.0\nContent-Type: {}\nContent-Disposition: attachment; filename=\"{}\"\n\n",
                p.content_type, p.filename
            )
            .as_bytes(),
        );
        out.extend_from_slice(&p.payload);
        out.push(b'\n');
    }
    out.extend_from_slice(format!("--{b}--\n").as_bytes());
    out
}

/// `Init.update()`: the raw and processed blobs, all 0600 and secret.
pub fn store(paths: &Paths, iid: &str, kind: Kind, raw: Option<&[u8]>) -> Vec<Effect> {
    let raw = raw.unwrap_or_default();
    let parts = parts_of(raw);
    let dir = paths.instance_dir(iid);
    let raw_path = dir.join(kind.raw_name());
    let processed_path = dir.join(format!("{}.i", kind.raw_name()));
    vec![
        Effect::write(raw_path, Data::secret(raw), 0o600),
        Effect::write(processed_path, Data::secret(processed_mime(&parts)), 0o600),
    ]
}

/// What consuming one blob produced.
#[derive(Default)]
pub struct Consumed {
    pub effects: Vec<Effect>,
    /// The merged cloud-config of the blob's parts.
    pub cloud_config: Value,
    pub problems: Vec<String>,
}

/// Consumes one blob: cloud-config parts into `cloud-config.txt`, scripts
/// into the instance's `scripts/` (vendor: `scripts/vendor/`).
pub fn consume(paths: &Paths, iid: &str, kind: Kind, raw: Option<&[u8]>) -> Consumed {
    let mut out = Consumed {
        cloud_config: Value::empty_map(),
        ..Default::default()
    };
    let idir = paths.instance_dir(iid);
    let script_dir = match kind {
        Kind::User => idir.join("scripts"),
        _ => idir.join("scripts").join("vendor"),
    };
    let mut merged = Mapping::new();
    let mut cc_files = Vec::new();
    for part in parts_of(raw.unwrap_or_default()) {
        match part.content_type {
            "text/cloud-config" => {
                let name = format!("{} ({})", kind.label(), part.filename);
                match yaml::load(&part.payload, &name) {
                    Ok(Value::Map(m)) => {
                        // Default part merge `dict(replace)+list()+str()`: a
                        // later part's top-level key replaces the earlier one.
                        for (k, v) in m.iter() {
                            merged.insert(k.clone(), v.clone());
                        }
                        cc_files.push(part.filename.clone());
                    }
                    Ok(Value::Null) => cc_files.push(part.filename.clone()),
                    Ok(other) => out.problems.push(format!(
                        "{name}: cloud-config must be a mapping, found {}",
                        other.type_name()
                    )),
                    Err(e) => out.problems.push(e.to_string()),
                }
            }
            "text/x-shellscript" => {
                let text = dos2unix(&part.payload);
                out.effects.push(Effect::write(
                    script_dir.join(clean_filename(&part.filename)),
                    Data::secret(text),
                    0o700,
                ));
            }
            "text/x-not-multipart" => {
                if !part.payload.is_empty() {
                    tracing::warn!(
                        "Unhandled non-multipart (text/x-not-multipart) {} ({} bytes)",
                        kind.label(),
                        part.payload.len()
                    );
                }
            }
            other => out.problems.push(format!(
                "{} ({}): {other} is not handled by cloudboot yet; the part was ignored",
                kind.label(),
                part.filename
            )),
        }
    }
    let file = idir.join(kind.cloud_config_name());
    let text = if cc_files.is_empty() {
        String::new()
    } else {
        let mut t = format!("#cloud-config\n\n# from {} files\n", cc_files.len());
        for f in &cc_files {
            t.push_str(&format!("# {f}\n"));
        }
        // `_write_cloud_config`: the header lines, a blank line, then
        // `safeyaml.dumps`, which starts with `---` and ends with `...\n`.
        t.push('\n');
        t.push_str(&yaml::dump_cloud_config(&Value::Map(merged.clone())));
        t
    };
    out.effects
        .push(Effect::write(file, Data::secret(text), 0o600));
    out.cloud_config = Value::Map(merged);
    out
}

/// The instance's cloud-config file of `kind`, as a later stage reads it back.
pub fn read_cloud_config(
    fs: &dyn crate::rootfs::FsView,
    paths: &Paths,
    iid: &str,
    kind: Kind,
    problems: &mut Vec<String>,
) -> Value {
    let path = paths.ipath(iid, kind.cloud_config_name());
    match crate::config::read_file(fs, &path) {
        Ok(Some(v)) => v,
        Ok(None) => Value::empty_map(),
        Err(e) => {
            problems.push(e);
            Value::empty_map()
        }
    }
}

fn dos2unix(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if data[i] == b'\r' && data.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(data[i]);
        i += 1;
    }
    out
}

/// `util.clean_filename`: `/` becomes `_`, other unsafe characters go.
fn clean_filename(name: &str) -> String {
    let name = Path::new(name).to_string_lossy().replace('/', "_");
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || "_-.()".contains(*c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing_takes_the_longest_prefix() {
        assert_eq!(sniff(b"  #Cloud-Config\na: 1"), "text/cloud-config");
        assert_eq!(
            sniff(b"#cloud-config-archive\n"),
            "text/cloud-config-archive"
        );
        assert_eq!(sniff(b"#include-once\nhttp://x"), "text/x-include-once-url");
        assert_eq!(sniff(b"#!/bin/sh\n"), "text/x-shellscript");
        assert_eq!(sniff(b"hello"), "text/x-not-multipart");
    }

    #[test]
    fn processed_file_has_cloud_init_shape() {
        let p = processed_mime(&parts_of(b"#cloud-config\nruncmd: [ls]\n"));
        let text = String::from_utf8(p).unwrap();
        let b = text.split('"').nth(1).unwrap().to_string();
        assert!(b.starts_with("===============") && b.len() == 36, "{b}");
        assert_eq!(
            text,
            format!(
                "Content-Type: multipart/mixed; boundary=\"{b}\"\nMIME-Version: 1.0\nNumber-Attachments: 1\n\n--{b}\nMIME-Version: 1.0\nContent-Type: text/cloud-config\nContent-Disposition: attachment; filename=\"part-001\"\n\n#cloud-config\nruncmd: [ls]\n\n--{b}--\n"
            )
        );
    }

    #[test]
    fn gzip_is_undone() {
        use std::io::Write;
        let mut gz = Vec::new();
        let mut e = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::default());
        e.write_all(b"#cloud-config\na: 1\n").unwrap();
        e.finish().unwrap();
        let c = consume(&Paths::default(), "i", Kind::User, Some(&gz));
        assert_eq!(c.cloud_config.get("a"), Some(&Value::Int(1)));
    }
}
