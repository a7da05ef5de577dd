//! Any bytes as user-data: processed as a boot processes it (gzip, MIME,
//! `#include`, `#cloud-config-archive`), the parts filtered by launch index
//! and consumed (cloud-config merged, jsonp patches applied, jinja rendered
//! over fixed instance data, scripts and boothooks planned), and the
//! processed message and stored blobs made. Nothing touches the network or
//! the disk: the root is in memory, and an `http://` include's body is its
//! URL's path, percent-decoded, so included content is fuzzed too. Hostile
//! input must never panic, hang or blow up; bad input is a problem listed.
#![no_main]

use cloudboot::http::{HttpError, Limits as HttpLimits, Response};
use cloudboot::paths::Paths;
use cloudboot::userdata::{self, Env, HandlerEnv, Kind, Limits};
use libfuzzer_sys::fuzz_target;

#[path = "shared/memfs.rs"]
mod memfs;
use memfs::MemFs;

const INSTANCE_DATA: &[u8] = br#"{"v1": {"instance_id": "i-fuzz", "local_hostname": "fuzz", "region": null}, "ds": {"meta_data": {"instance-id": "i-fuzz", "tags": {"a-b": [1, 2.5, true]}}}}"#;

/// `%XX` decoded; anything else as it is.
fn percent_decoded(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (b[i], b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

fn web(url: &str, limits: &HttpLimits) -> Result<Response, HttpError> {
    let path = url.splitn(4, '/').nth(3).unwrap_or("");
    let body = percent_decoded(path);
    if body.len() > limits.max_body {
        return Err(HttpError::TooLarge(url.to_string(), limits.max_body));
    }
    Ok(Response {
        status: 200,
        headers: Vec::new(),
        body,
    })
}

fuzz_target!(|data: &[u8]| {
    let fs = MemFs::with(&[
        ("/run/cloud-init/instance-data-sensitive.json", INSTANCE_DATA),
        ("/srv/include", b"#cloud-config\nruncmd: [from-file]\n"),
    ]);
    let paths = Paths::default();
    let env = Env {
        fs: &fs,
        paths: &paths,
        iid: "i-fuzz",
        from: Some("fuzz"),
        limits: Limits::default(),
        http: &web,
    };
    let processed = userdata::process(data, Kind::User, &env);
    let parts = userdata::filter_launch_index(processed.parts.clone(), Some(0));
    let handlers = HandlerEnv {
        fs: &fs,
        paths: &paths,
        iid: "i-fuzz",
        first_time: true,
        disabled: Vec::new(),
    };
    let _ = userdata::consume(&parts, Kind::User, &handlers);
    let _ = userdata::store(&paths, "i-fuzz", Kind::User, Some(data), &processed);
});
