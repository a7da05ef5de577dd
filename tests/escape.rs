//! No path ever leaves the target root: hostile roots whose links loop,
//! chain past the kernel's limit, or point "outside" are booted, and nothing
//! on this machine is read or written.
//!
//! Each boot runs in a private mount namespace where the host's `/etc` is
//! an overlay whose upper layer is a scratch directory: whatever a
//! regression wrote to "the host's /etc" lands there (and is checked),
//! never in the real `/etc`. The upper layer starts with sentinel files
//! (`hostname`, `motd`) so that a read through a link to the host's file
//! shows up as the sentinel inside the root. Needs root (mount namespaces).

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

use common::*;

const SENTINEL: &str = "HOST-SENTINEL-do-not-read\n";

/// What the overlay's upper layer holds: every path with its content.
fn tree(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for e in fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let name = p.strip_prefix(dir).unwrap().display().to_string();
        if p.is_dir() && !p.is_symlink() {
            for (k, v) in tree(&p) {
                out.insert(format!("{name}/{k}"), v);
            }
            out.insert(name, "dir".into());
        } else {
            out.insert(name, fs::read_to_string(&p).unwrap_or_default());
        }
    }
    out
}

/// Runs `cloudboot --root ROOT ARGS` with the host's `/etc` overlaid; returns
/// its exit code and output, and panics if anything reached the host's
/// `/etc` (the upper layer changed).
fn run_overlaid(m: &Machine, args: &[&str]) -> (i32, String) {
    let scratch = tempfile::tempdir().unwrap();
    let (upper, work) = (scratch.path().join("upper"), scratch.path().join("work"));
    fs::create_dir_all(&upper).unwrap();
    fs::create_dir_all(&work).unwrap();
    fs::write(upper.join("hostname"), SENTINEL).unwrap();
    fs::write(upper.join("motd"), SENTINEL).unwrap();
    let before = tree(&upper);
    let script = r#"mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1,workdir=$2" /etc || exit 99
shift 2
exec "$@""#;
    let out = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(&upper)
        .arg(&work)
        .arg(BIN)
        .arg("--root")
        .arg(m.root())
        .args(args)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let code = out.status.code().unwrap_or(-1);
    assert_ne!(code, 99, "could not mount the overlay: {text}");
    assert_eq!(
        tree(&upper),
        before,
        "cloudboot {args:?} wrote to the host's /etc\n{text}"
    );
    // Nothing in the root holds the host's files.
    for (path, content) in m.snapshot() {
        assert!(
            !content.contains("HOST-SENTINEL"),
            "{} holds the host's file: {content}",
            path.display()
        );
    }
    (code, text)
}

/// What every test here needs: the overlay is mounted in a private mount
/// namespace, which only root can make.
fn can_overlay_etc() -> bool {
    skip::require(&[skip::Need::Root(
        "to overlay the host's /etc in a private mount namespace",
    )])
}

const WRITE_ETC: &str =
    "#cloud-config\nwrite_files:\n  - path: /etc/evil.conf\n    content: evil\n";

fn loop_root(link: &str) {
    if !can_overlay_etc() {
        return;
    }
    let m = Machine::seeded(
        "instance-id: iid-escape\nlocal-hostname: evil-host\n",
        WRITE_ETC,
    );
    symlink(link, m.path("/etc")).unwrap();
    let (code, text) = run_overlaid(&m, &["boot"]);
    // The paths under /etc fail, each named, and the boot goes on.
    assert_ne!(code, 0, "{text}");
    assert!(
        text.contains("/etc/evil.conf") && text.contains("too many levels of symbolic links"),
        "{text}"
    );
    assert!(m.exists("/var/lib/cloud/instances/iid-escape"), "{text}");
    // A plan of the same root names the same error and writes nothing.
    let (_, text) = run_overlaid(&m, &["plan"]);
    assert!(text.contains("too many levels of symbolic links"), "{text}");
}

#[test]
fn etc_linked_to_itself_is_an_error_not_the_hosts_etc() {
    loop_root("/etc");
}

#[test]
fn etc_linked_to_dot_dot_etc_is_an_error_not_the_hosts_etc() {
    loop_root("../../../../etc");
}

#[test]
fn a_chain_of_41_links_is_an_error_not_the_rest_taken_literally() {
    if !can_overlay_etc() {
        return;
    }
    let m = Machine::seeded(
        "instance-id: iid-chain\n",
        "#cloud-config\nwrite_files:\n  - path: /l0/chain.conf\n    content: evil\n",
    );
    // /l0 -> /l1 -> ... -> /l40 -> /etc: 41 links before /etc.
    for i in 0..40 {
        symlink(format!("/l{}", i + 1), m.path(&format!("/l{i}"))).unwrap();
    }
    symlink("/etc", m.path("/l40")).unwrap();
    let (code, text) = run_overlaid(&m, &["boot"]);
    assert_ne!(code, 0, "{text}");
    assert!(
        text.contains("/l0/chain.conf") && text.contains("too many levels of symbolic links"),
        "{text}"
    );
    assert!(!m.exists("/etc/chain.conf"));
}

#[test]
fn an_append_through_a_link_reads_the_roots_file_not_the_hosts() {
    if !can_overlay_etc() {
        return;
    }
    let m = Machine::seeded(
        "instance-id: iid-append\n",
        "#cloud-config\nwrite_files:\n  - path: /etc/leak\n    append: true\n    content: |\n      appended\n",
    );
    m.write("/etc/motd", "guest motd\n");
    symlink("/etc/motd", m.path("/etc/leak")).unwrap();
    let (code, text) = run_overlaid(&m, &["boot"]);
    assert_eq!(code, 0, "{text}");
    // The append went where the link points inside the root, as it would
    // after chroot (and as cloud-init's open(path, "ab") does).
    assert_eq!(m.read("/etc/motd"), "guest motd\nappended\n");
    assert!(fs::symlink_metadata(m.path("/etc/leak"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn a_write_through_a_last_component_link_stays_inside() {
    if !can_overlay_etc() {
        return;
    }
    let m = Machine::seeded(
        "instance-id: iid-last\n",
        "#cloud-config\nwrite_files:\n  - path: /srv/out\n    content: inside\n  - path: /srv/up\n    content: up\n",
    );
    fs::create_dir_all(m.path("/srv")).unwrap();
    fs::create_dir_all(m.path("/etc")).unwrap();
    symlink("/etc/motd", m.path("/srv/out")).unwrap();
    symlink("../../../../../../../etc/up-target", m.path("/srv/up")).unwrap();
    let (code, text) = run_overlaid(&m, &["boot"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(m.read("/etc/motd"), "inside");
    assert_eq!(m.read("/etc/up-target"), "up");
}

#[test]
fn a_linked_state_directory_keeps_the_state_inside() {
    if !can_overlay_etc() {
        return;
    }
    let m = Machine::new();
    // The seed goes where the link will point inside the root; the link
    // comes last (on this machine it points at the host's /etc: the test
    // itself must not follow it).
    m.write(
        "/etc/cloud-state/seed/nocloud/meta-data",
        "instance-id: iid-state\n",
    );
    m.write("/etc/cloud-state/seed/nocloud/user-data", WRITE_ETC);
    fs::create_dir_all(m.path("/var/lib")).unwrap();
    symlink(
        "../../../../../../../etc/cloud-state",
        m.path("/var/lib/cloud"),
    )
    .unwrap();
    let (code, text) = run_overlaid(&m, &["boot"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        m.exists("/etc/cloud-state/instances/iid-state/sem"),
        "{text}"
    );
    assert_eq!(m.read("/etc/evil.conf"), "evil");
}

#[test]
fn a_linked_parent_directory_keeps_writes_inside() {
    if !can_overlay_etc() {
        return;
    }
    let m = Machine::seeded(
        "instance-id: iid-parent\n",
        "#cloud-config\nwrite_files:\n  - path: /opt/app/app.conf\n    content: conf\n",
    );
    fs::create_dir_all(m.path("/etc")).unwrap();
    // Absolute, with `..` past the top: /etc/opt-real inside the root.
    symlink("/../../../etc/opt-real", m.path("/opt")).unwrap();
    let (code, text) = run_overlaid(&m, &["boot"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(m.read("/etc/opt-real/app/app.conf"), "conf");
}
