//! write_files at boot: a bad entry fails alone, and gzip content is
//! decompressed as it is written, within a limit, never whole in memory.

mod common;

use std::io::Write;

use common::*;

#[test]
fn one_bad_entry_fails_alone_and_the_others_are_written_in_order() {
    let m = Machine::seeded(
        META,
        "#cloud-config\nwrite_files:\n  - path: /etc/a\n    content: first\n  - path: /etc/b\n    content: [not, text]\n  - path: /etc/c\n    content: third\n  - path: /etc/d\n    append: maybe\n    content: fourth\n",
    );
    // One error per bad entry (in status.json; the exit code is 1 for
    // any number of them, never 2, the usage-error code).
    m.boot_expecting(&[0, 1, 0, 0]);
    assert_eq!(m.stage_errors("init").len(), 2);
    assert_eq!(m.read("/etc/a"), "first");
    assert_eq!(m.read("/etc/c"), "third");
    assert!(!m.exists("/etc/b"));
    assert!(!m.exists("/etc/d"));
    let errors = m.stage_errors("init");
    // Each bad entry once, with its index, its path and where it was written.
    let b: Vec<_> = errors
        .iter()
        .filter(|e| e.contains("write_files[1]"))
        .collect();
    assert_eq!(b.len(), 1, "{errors:?}");
    assert!(
        b[0].contains("line 6")
            && b[0].contains("write_files[1].content")
            && b[0].contains("/etc/b not written"),
        "{errors:?}"
    );
    let d: Vec<_> = errors
        .iter()
        .filter(|e| e.contains("write_files[3]"))
        .collect();
    assert_eq!(d.len(), 1, "{errors:?}");
    assert!(d[0].contains("/etc/d not written"), "{errors:?}");
    let status = m.run_ok(&["status", "--long", "--modules"], 1);
    assert!(status.contains("write_files: failed"), "{status}");
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn gzip_entry(path: &str, compressed: &[u8]) -> String {
    format!(
        "  - path: {path}\n    encoding: gz+b64\n    content: {}\n",
        cloudboot::base64::encode(compressed)
    )
}

#[test]
fn gzip_content_past_the_limit_fails_that_file_and_keeps_the_old_one() {
    // 64 MiB of zeros, 64 KiB compressed; the limit is set to 1 MiB.
    let bomb = gzip(&vec![0u8; 64 << 20]);
    let user = format!(
        "#cloud-config\ncloudboot: {{limits: {{write_file_bytes: 1048576}}}}\nwrite_files:\n{}{}",
        gzip_entry("/etc/bomb", &bomb),
        gzip_entry("/etc/small", &gzip(b"small\n"))
    );
    let m = Machine::seeded(META, &user);
    m.write("/etc/bomb", "old\n");
    m.boot_expecting(&[0, 1, 0, 0]);
    assert_eq!(m.read("/etc/bomb"), "old\n");
    assert_eq!(m.read("/etc/small"), "small\n");
    let errors = m.stage_errors("init");
    assert!(
        errors.iter().any(|e| e.contains("writing /etc/bomb")
            && e.contains("larger than the limit of 1048576 bytes")),
        "{errors:?}"
    );
    // No temporary file is left beside it.
    let names: Vec<_> = std::fs::read_dir(m.path("/etc"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("cloudboot")), "{names:?}");
}

#[test]
fn gzip_content_is_written_decompressed_and_a_plan_shows_it() {
    let user = format!(
        "#cloud-config\nwrite_files:\n{}",
        gzip_entry("/etc/motd", &gzip(b"hello from gzip\n"))
    );
    let m = Machine::seeded(META, &user);
    let plan = m.run_ok(&["plan"], 0);
    assert!(plan.contains("+hello from gzip"), "{plan}");
    m.boot();
    assert_eq!(m.read("/etc/motd"), "hello from gzip\n");
}
