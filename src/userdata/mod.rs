//! User-data and vendor-data, as cloud-init reads, stores and consumes them
//! (`user_data.py:UserDataProcessor`, `stages.py:_do_handlers`, `handlers/*`).
//!
//! Two steps:
//! 1. [`process`] turns the raw blob into an ordered list of [`Part`]s: gzip
//!    undone (by magic, and for gzip MIME parts), MIME multipart walked
//!    (nested, base64, quoted-printable), the type taken from the header or
//!    sniffed from the first line, `#include`/`#include-once` fetched and
//!    expanded in place, `#cloud-config-archive` exploded. The parts are what
//!    `user-data.txt.i` holds.
//! 2. [`consume`] hands each part to its handler: cloud-config parts merged
//!    into `cloud-config.txt`; `#!` scripts saved for scripts_user;
//!    per-boot/instance/once scripts into `/var/lib/cloud/scripts/`;
//!    boothooks saved and run now with `INSTANCE_ID`; `#upstart-job` into
//!    `/etc/init/`; `## template: jinja` rendered with instance data and
//!    handed on; `#part-handler` (Python) refused with a clear message.
//!
//! Both steps only plan: what they would write or run comes back as effects.
//! Every problem is one clear message naming where the part came from (the
//! file or URL, the MIME part, the include, the archive entry); the other
//! parts still apply.
//!
//! cloud-init sets no bounds here, so a 459-byte user-data that includes
//! itself ten times runs for hours and a gzip bomb fills memory. cloudboot's
//! own bounds ([`MAX_USER_DATA`] and [`Limits`]) keep the cost of any input
//! in proportion to those limits; each is far above what a real user sends,
//! and each, when hit, is named in the message.

use std::time::Duration;

use crate::effect::{Data, Effect};
use crate::http;
use crate::paths::Paths;
use crate::rootfs::FsView;
use crate::value::Value;

mod handlers;
mod process;
pub mod vendor;

pub use handlers::{consume, read_cloud_config, Consumed, HandlerEnv};
pub use process::process;

pub use crate::datasource::MAX_USER_DATA;
pub(crate) use crate::rootfs::{read_limited, too_large, ReadError};

// A jinja template renders to user-data, so it is bounded as user-data is
// (the bound lives in `jinja`, which does not depend on user-data).
const _: () = assert!(crate::jinja::MAX_OUTPUT == MAX_USER_DATA);

/// The system config key that changes [`Limits`].
pub const LIMITS_KEY: &str = crate::schema::USER_DATA_LIMITS_KEY;

/// cloudboot's bounds on processing one blob (user-data, vendor-data and
/// vendor-data2 each have their own), besides [`MAX_USER_DATA`]. Set under
/// [`LIMITS_KEY`] in the system config (`/etc/cloud/cloud.cfg`,
/// `cloud.cfg.d`); user-data cannot raise its own limits.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Parts: MIME parts (a nested multipart counts too), archive entries
    /// and the parts of included content, together (`max_parts`).
    pub max_parts: usize,
    /// `#include` URLs followed, at any depth (`max_includes`). Without it a
    /// user-data that includes itself ten times fans out exponentially.
    pub max_includes: usize,
    /// Included content that includes, this deep at most (`max_include_depth`).
    pub max_include_depth: usize,
    /// All of the includes' fetches, retries included, within this
    /// (`include_timeout`, in seconds).
    pub include_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_parts: 1000,
            max_includes: 100,
            max_include_depth: 8,
            include_timeout: Duration::from_secs(60),
        }
    }
}

impl Limits {
    /// The defaults, with what [`LIMITS_KEY`] in the system config sets. A
    /// value that is not a whole number (0 or more) is logged and the
    /// default kept (`cloudboot schema` names its file and line).
    pub fn from_config(cfg: &Value) -> Limits {
        let mut limits = Limits::default();
        let Some(Value::Map(set)) = cfg.get(LIMITS_KEY) else {
            return limits;
        };
        let mut timeout = limits.include_timeout.as_secs() as usize;
        for (key, slot) in [
            ("max_parts", &mut limits.max_parts),
            ("max_includes", &mut limits.max_includes),
            ("max_include_depth", &mut limits.max_include_depth),
            ("include_timeout", &mut timeout),
        ] {
            match set.get(key) {
                None => {}
                Some(Value::Int(n)) if *n >= 0 => *slot = usize::try_from(*n).unwrap_or(usize::MAX),
                Some(other) => tracing::warn!(
                    "{LIMITS_KEY}.{key}: expected a whole number of 0 or more, found {} ({}); the default {} is used",
                    other.type_name(),
                    other.python_str(),
                    *slot
                ),
            }
        }
        limits.include_timeout = Duration::from_secs(timeout as u64);
        limits
    }
}
/// Which blob: user-data or vendor-data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    User,
    Vendor,
    Vendor2,
}

impl Kind {
    /// Where `instance`'s blob of this kind came from, if the datasource
    /// said.
    pub fn source_in(self, instance: &crate::datasource::Instance) -> Option<&str> {
        match self {
            Kind::User => instance.user_data_from.as_deref(),
            Kind::Vendor => instance.vendor_data_from.as_deref(),
            Kind::Vendor2 => instance.vendor_data2_from.as_deref(),
        }
    }

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

    pub fn label(self) -> &'static str {
        match self {
            Kind::User => "user-data",
            Kind::Vendor => "vendor-data",
            Kind::Vendor2 => "vendor-data2",
        }
    }
}

/// One part of processed user-data.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    pub content_type: String,
    pub filename: String,
    /// Other headers carried from the input (Merge-Type, custom archive keys).
    pub headers: Vec<(String, String)>,
    /// The content, transfer encoding undone.
    pub payload: Vec<u8>,
    pub launch_index: Option<i64>,
    /// Where it came from, for messages: `user-data (/var/lib/cloud/seed/
    /// nocloud/user-data), MIME part 3 (cc.yaml)`, with `#include URL` and
    /// `#cloud-config-archive entry N` steps as they apply.
    pub origin: String,
}

impl Part {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What processing produced.
#[derive(Debug, Default)]
pub struct Processed {
    pub parts: Vec<Part>,
    pub problems: Vec<String>,
    /// `#include-once` cache files to write.
    pub effects: Vec<Effect>,
}

/// How `http://` includes are fetched: [`http::get`] at boot; tests and
/// fuzzing pass their own, so processing can run without a network.
pub type HttpGet<'a> = &'a dyn Fn(&str, &http::Limits) -> Result<http::Response, http::HttpError>;

/// What processing may read: the root (for `file://` includes and the
/// include-once cache) and the network (for `http://` includes).
pub struct Env<'a> {
    pub fs: &'a dyn FsView,
    pub paths: &'a Paths,
    pub iid: &'a str,
    /// Where the blob came from (a seed file, a device and the file on it,
    /// a URL), named in messages; `None` when the datasource does not say.
    pub from: Option<&'a str>,
    pub limits: Limits,
    pub http: HttpGet<'a>,
}

/// `handlers.type_from_starts_with`: the longest matching prefix, after
/// left-stripping and lower-casing the start of the payload.
pub fn sniff(data: &[u8]) -> Option<&'static str> {
    let head = String::from_utf8_lossy(&data[..data.len().min(256)]);
    let t = head.trim_start().to_ascii_lowercase();
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
}

/// A MIME boundary in the shape Python's email package makes (15 `=`, 19
/// digits, `==`), and like its `_make_boundary` one that no part contains
/// (else `.0`, `.1`, ... is added). Python's digits are random; these come
/// from the parts, so the same user-data gives the same file and a reboot
/// leaves `user-data.txt.i` as it is instead of rewriting it.
fn boundary(parts: &[Part]) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for p in parts {
        (
            &p.content_type,
            &p.filename,
            &p.headers,
            &p.payload,
            p.launch_index,
        )
            .hash(&mut h);
    }
    unused_boundary(
        format!("==============={:019}==", h.finish() % 10u64.pow(19)),
        parts,
    )
}

/// `base`, or `base.N` for the first N whose delimiter line no part holds.
fn unused_boundary(base: String, parts: &[Part]) -> String {
    let used = |b: &str| {
        let line = format!("--{b}");
        parts
            .iter()
            .any(|p| p.payload.windows(line.len()).any(|w| w == line.as_bytes()))
    };
    let mut b = base.clone();
    let mut n = 0;
    while used(&b) {
        b = format!("{base}.{n}");
        n += 1;
    }
    b
}

/// `str(msg)` of the processed message (`user-data.txt.i`).
pub fn processed_mime(parts: &[Part]) -> Vec<u8> {
    let b = boundary(parts);
    // Sized once (a part's headers are about 150 bytes): grown by doubling,
    // a message of 16 MiB could hold twice that.
    let size: usize = parts
        .iter()
        .map(|p| {
            let headers: usize = p.headers.iter().map(|(k, v)| k.len() + v.len() + 3).sum();
            160 + p.content_type.len() + p.filename.len() + headers + p.payload.len()
        })
        .sum();
    let mut out = Vec::with_capacity(size + 200);
    out.extend_from_slice(
        format!(
            "Content-Type: multipart/mixed; boundary=\"{b}\"\nMIME-Version: 1.0\nNumber-Attachments: {}\n\n",
            parts.len()
        )
        .as_bytes(),
    );
    for p in parts {
        let mut head = format!(
            "--{b}\nMIME-Version: 1.0\nContent-Type: {}\n",
            p.content_type
        );
        for (k, v) in &p.headers {
            head.push_str(&format!("{k}: {v}\n"));
        }
        head.push_str(&format!(
            "Content-Disposition: attachment; filename=\"{}\"\n",
            p.filename
        ));
        if let Some(i) = p.launch_index {
            head.push_str(&format!("Launch-Index: {i}\n"));
        }
        head.push('\n');
        out.extend_from_slice(head.as_bytes());
        out.extend_from_slice(&p.payload);
        out.push(b'\n');
    }
    out.extend_from_slice(format!("--{b}--\n").as_bytes());
    out
}

/// `Init.update()`: the raw and processed blobs, all 0600 and secret.
pub fn store(
    paths: &Paths,
    iid: &str,
    kind: Kind,
    raw: Option<&[u8]>,
    processed: &Processed,
) -> Vec<Effect> {
    let dir = paths.instance_dir(iid);
    let raw_path = dir.join(kind.raw_name());
    let processed_path = dir.join(format!("{}.i", kind.raw_name()));
    // cloud-init always has at least the (possibly empty) blob itself. (The
    // parts are borrowed: a copy of them all doubled what 100,000 parts
    // cost in memory.)
    let blob_itself;
    let parts = if processed.parts.is_empty() {
        blob_itself = [Part {
            content_type: "text/x-not-multipart".into(),
            filename: "part-001".into(),
            headers: Vec::new(),
            payload: Vec::new(),
            launch_index: None,
            origin: String::new(),
        }];
        &blob_itself[..]
    } else {
        &processed.parts[..]
    };
    vec![
        Effect::write(raw_path, Data::secret(raw.unwrap_or_default()), 0o600),
        Effect::write(processed_path, Data::secret(processed_mime(parts)), 0o600),
    ]
}

/// The launch index meta-data gives the instance (`launch-index`, a
/// number or text that reads as one), for [`filter_launch_index`].
pub fn launch_index(metadata: &Value) -> Option<i64> {
    metadata.get("launch-index").and_then(|v| match v {
        Value::Int(i) => Some(*i),
        other => other.python_str().trim().parse().ok(),
    })
}

/// The launch-index filter (`filters/launch_index.py`): with an index from
/// meta-data, parts that name another index are dropped.
pub fn filter_launch_index(parts: Vec<Part>, wanted: Option<i64>) -> Vec<Part> {
    parts
        .into_iter()
        .filter(|p| match (wanted, p.launch_index) {
            (Some(w), Some(i)) => w == i,
            _ => true,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::handlers::clean_filename;
    use super::*;
    use crate::rootfs::{RealFs, Root};
    use crate::yaml;
    use std::path::Path;

    fn env_in(root: &Path) -> (RealFs, Paths) {
        (
            RealFs {
                root: Root::new(root),
            },
            Paths::default(),
        )
    }

    /// Processes `raw` as user-data from `/seed/user-data` in an empty
    /// root, with `limits`, answering `http://` includes with `web`.
    fn processed_with(
        raw: &[u8],
        limits: Limits,
        web: &dyn Fn(&str, &http::Limits) -> Result<http::Response, http::HttpError>,
    ) -> Processed {
        let tmp = tempfile::tempdir().unwrap();
        let (fs, paths) = env_in(tmp.path());
        process(
            raw,
            Kind::User,
            &Env {
                fs: &fs,
                paths: &paths,
                iid: "i",
                from: Some("/seed/user-data"),
                limits,
                http: web,
            },
        )
    }

    fn processed(raw: &[u8]) -> Processed {
        processed_with(raw, Limits::default(), &|url, _| {
            panic!("no include expected, asked for {url}")
        })
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut gz = Vec::new();
        let mut e = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap();
        gz
    }

    /// A MIME multipart of `parts` (content type, and any more header lines
    /// after it; body), as cloud-init's users write them.
    fn multipart(parts: &[(&str, &[u8])]) -> Vec<u8> {
        let mut m =
            b"Content-Type: multipart/mixed; boundary=\"XX\"\nMIME-Version: 1.0\n\n".to_vec();
        for (i, (ctype, body)) in parts.iter().enumerate() {
            m.extend_from_slice(
                format!("--XX\nContent-Type: {ctype}\nContent-Disposition: attachment; filename=\"p{}\"\n\n", i + 1)
                    .as_bytes(),
            );
            m.extend_from_slice(body);
            m.push(b'\n');
        }
        m.extend_from_slice(b"--XX--\n");
        m
    }

    #[test]
    fn sniffing_takes_the_longest_prefix() {
        assert_eq!(sniff(b"  #Cloud-Config\na: 1"), Some("text/cloud-config"));
        assert_eq!(
            sniff(b"#cloud-config-archive\n"),
            Some("text/cloud-config-archive")
        );
        assert_eq!(
            sniff(b"#include-once\nhttp://x"),
            Some("text/x-include-once-url")
        );
        assert_eq!(sniff(b"#!/bin/sh\n"), Some("text/x-shellscript"));
        assert_eq!(sniff(b"hello"), None);
    }

    #[test]
    fn processed_file_has_cloud_init_shape() {
        let p = processed_mime(&processed(b"#cloud-config\nruncmd: [ls]\n").parts);
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
    fn the_same_parts_give_the_same_processed_file_and_its_boundary_is_in_no_part() {
        let parts = processed(b"#cloud-config\nruncmd: [ls]\n").parts;
        assert_eq!(processed_mime(&parts), processed_mime(&parts));
        let other = processed(b"#cloud-config\nruncmd: [pwd]\n").parts;
        assert_ne!(boundary(&parts), boundary(&other));
        // A part holding the boundary's delimiter line gets another one.
        let mut tricky = parts.clone();
        tricky[0].payload = b"#cloud-config\n# --=B==\n# --=B==.0\n".to_vec();
        assert_eq!(unused_boundary("=B==".into(), &tricky), "=B==.1");
        assert_eq!(unused_boundary("=C==".into(), &tricky), "=C==");
    }

    #[test]
    fn gzip_is_undone_and_bounded() {
        let p = processed(&gzip(b"#cloud-config\na: 1\n"));
        assert_eq!(p.parts[0].content_type, "text/cloud-config");
        // A gzip bomb: 17 MiB of zeros.
        let p = processed(&gzip(&vec![0u8; 17 << 20]));
        assert!(p.parts.is_empty());
        assert_eq!(
            p.problems,
            ["user-data (/seed/user-data): more than 16 MiB of user-data once decompressed and included (cloudboot's limit); it was not used"]
        );
    }

    #[test]
    fn decompressed_parts_share_one_budget() {
        // Each part alone fits in 16 MiB; the second would take the whole past it.
        let bomb = crate::base64::encode(&gzip(&vec![b'#'; 10 << 20]));
        let gz = "application/x-gzip\nContent-Transfer-Encoding: base64";
        let msg = multipart(&[
            (gz, bomb.as_bytes()),
            (gz, bomb.as_bytes()),
            ("text/cloud-config", b"#cloud-config\na: 1"),
        ]);
        let p = processed(&msg);
        let names: Vec<&str> = p.parts.iter().map(|p| p.filename.as_str()).collect();
        assert_eq!(names, ["p1", "p3"]);
        assert_eq!(
            p.problems,
            ["user-data (/seed/user-data), MIME part 2 (p2): more than 16 MiB of user-data once decompressed and included (cloudboot's limit); it was not used"]
        );
    }

    #[test]
    fn include_fan_out_is_bounded_and_reported_once() {
        // 459 bytes that include themselves ten times: 10^8 fetches at depth 8.
        let body = format!("#include\n{}", "http://loop.example/ud\n".repeat(10));
        let fetches = std::cell::Cell::new(0usize);
        let web = |_: &str, _: &http::Limits| {
            fetches.set(fetches.get() + 1);
            Ok(http::Response {
                status: 200,
                headers: Vec::new(),
                body: body.clone().into_bytes(),
            })
        };
        let p = processed_with(body.as_bytes(), Limits::default(), &web);
        assert_eq!(fetches.get(), 100);
        assert!(p.parts.is_empty());
        // The top's 10 URL lines and 10 in each of the 100 bodies fetched:
        // 910 left out (850 too deep, 60 past the count), one message each.
        let chain = |n| ", #include http://loop.example/ud".repeat(n);
        assert_eq!(
            p.problems,
            [format!("user-data (/seed/user-data){}: not followed: includes nest more than 8 deep (cloudboot's limit, user_data_limits.max_include_depth) (and 849 more for the same reason)", chain(9)),
             format!("user-data (/seed/user-data){}: not fetched: more than 100 includes for one user-data (cloudboot's limit, user_data_limits.max_includes) (and 59 more for the same reason)", chain(8))]
        );
    }

    #[test]
    fn includes_share_one_time_budget() {
        let limits = Limits {
            include_timeout: Duration::ZERO,
            ..Limits::default()
        };
        let p = processed_with(
            b"#include\nhttp://a.example/1\nhttp://a.example/2\n",
            limits,
            &|url, _| panic!("{url} fetched after the time was up"),
        );
        assert_eq!(
            p.problems,
            ["user-data (/seed/user-data), #include http://a.example/1: not fetched: the 0 s cloudboot gives one user-data's includes were up (user_data_limits.include_timeout)",
             "user-data (/seed/user-data), #include http://a.example/2: not fetched: the 0 s cloudboot gives one user-data's includes were up (user_data_limits.include_timeout)"]
        );
    }

    #[test]
    fn parts_are_bounded_across_mime_archives_and_includes() {
        let limits = Limits {
            max_parts: 3,
            ..Limits::default()
        };
        let no_web = |url: &str, _: &http::Limits| -> Result<http::Response, http::HttpError> {
            panic!("{url}")
        };
        // Four parts in one message: refused whole, before any is used.
        let four = multipart(&[("text/x-shellscript", &b"#!/bin/sh"[..]); 4]);
        let p = processed_with(&four, limits.clone(), &no_web);
        assert!(p.parts.is_empty());
        assert_eq!(
            p.problems,
            ["user-data (/seed/user-data): the MIME message has more parts than the 3 cloudboot accepts (user_data_limits.max_parts); it was not used"]
        );
        // An archive that would go past what its message left.
        let archive = b"#cloud-config-archive\n- '#!/bin/sh'\n- '#!/bin/sh'\n- '#!/bin/sh'\n";
        let msg = multipart(&[
            ("text/x-shellscript", b"#!/bin/sh"),
            ("text/cloud-config-archive", archive),
            ("text/x-shellscript", b"#!/bin/sh"),
        ]);
        let p = processed_with(&msg, limits, &no_web);
        let names: Vec<&str> = p.parts.iter().map(|p| p.filename.as_str()).collect();
        assert_eq!(names, ["p1", "p3"]);
        assert_eq!(
            p.problems,
            ["user-data (/seed/user-data), MIME part 2 (p2), #cloud-config-archive: 3 entries, more parts than the 3 cloudboot accepts (user_data_limits.max_parts); it was not used"]
        );
    }

    #[test]
    fn parts_name_where_they_came_from() {
        let web = |url: &str, _: &http::Limits| {
            assert_eq!(url, "http://h.example/more");
            Ok(http::Response {
                status: 200,
                headers: Vec::new(),
                body: multipart(&[("text/cloud-config", b"a: 1")]),
            })
        };
        let inner = multipart(&[
            ("text/x-include-url", b"http://h.example/more"),
            (
                "text/plain",
                b"#cloud-config-archive\n- {content: 'b: 2', filename: arch.yaml}\n- 'c: 3'",
            ),
        ]);
        let outer = format!(
            "Content-Type: multipart/mixed; boundary=OUT\nMIME-Version: 1.0\n\n--OUT\nContent-Type: text/cloud-config\n\n#cloud-config\n--OUT\n{}\n--OUT--\n",
            String::from_utf8(inner).unwrap()
        );
        let p = processed_with(outer.as_bytes(), Limits::default(), &web);
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        let origins: Vec<&str> = p.parts.iter().map(|p| p.origin.as_str()).collect();
        assert_eq!(
            origins,
            [
                "user-data (/seed/user-data), MIME part 1 (part-001)",
                "user-data (/seed/user-data), MIME part 2.1 (p1), #include http://h.example/more, MIME part 1 (p1)",
                "user-data (/seed/user-data), MIME part 2.2 (p2), #cloud-config-archive entry 1 (arch.yaml)",
                "user-data (/seed/user-data), MIME part 2.2 (p2), #cloud-config-archive entry 2 (part-004)",
            ]
        );
        // A single part is the blob itself.
        let p = processed(b"#cloud-config\na: 1\n");
        assert_eq!(p.parts[0].origin, "user-data (/seed/user-data)");
    }

    #[test]
    fn limits_come_from_the_system_config() {
        let cfg = yaml::load(
            b"user_data_limits: {max_parts: 5, max_includes: 0, include_timeout: 2, max_include_depth: lots}\n",
            "t",
        )
        .unwrap();
        assert_eq!(
            Limits::from_config(&cfg),
            Limits {
                max_parts: 5,
                max_includes: 0,
                max_include_depth: 8,
                include_timeout: Duration::from_secs(2),
            }
        );
        assert_eq!(Limits::from_config(&Value::empty_map()), Limits::default());
    }

    #[test]
    fn archive_entries_become_parts() {
        let p = processed(b"#cloud-config-archive\n- '#!/bin/sh\n  echo hi'\n- {type: text/cloud-config, content: 'a: 1', filename: cc.yaml, launch-index: 2, X-Custom: y}\n- {content: 'b: 2'}\n");
        let types: Vec<&str> = p.parts.iter().map(|p| p.content_type.as_str()).collect();
        assert_eq!(
            types,
            [
                "text/x-shellscript",
                "text/cloud-config",
                "text/cloud-config"
            ]
        );
        assert_eq!(p.parts[1].filename, "cc.yaml");
        assert_eq!(p.parts[1].launch_index, Some(2));
        assert_eq!(p.parts[1].header("X-Custom"), Some("y"));
        assert_eq!(p.parts[2].filename, "part-003");
    }

    #[test]
    fn launch_index_filter() {
        let p = processed(b"#cloud-config\nlaunch-index: 1\na: 1\n");
        assert_eq!(p.parts[0].launch_index, Some(1));
        assert_eq!(filter_launch_index(p.parts.clone(), Some(1)).len(), 1);
        assert_eq!(filter_launch_index(p.parts.clone(), Some(0)).len(), 0);
        assert_eq!(filter_launch_index(p.parts.clone(), None).len(), 1);
    }

    #[test]
    fn filenames_are_cleaned() {
        assert_eq!(clean_filename("../a b/c$.sh"), ".._ab_c.sh");
    }
}
