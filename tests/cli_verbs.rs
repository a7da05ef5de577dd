//! cloud-init 22.4's small verbs, compared with what 22.4 does:
//! `features`, `--version`, `dhclient-hook` (the file its hook writes,
//! tests/fixtures/dhclient-hook/) and `collect-logs` (its tarball's layout,
//! tests/fixtures/collect-logs/; each fixture directory's generate.sh says
//! how 22.4 made it).

mod common;

use std::io::Read;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};

use common::{skip, Machine, BIN};

/// The name cloud-init is called by.
const PROG: &str = "/usr/bin/cloud-init";

/// cloudboot as `/usr/bin/cloud-init --root ROOT ARGS`, 80 columns.
fn cloud_init(root: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.arg0(PROG).env("COLUMNS", "80").arg("--root").arg(root);
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(out: &Output, what: &str) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}\nstdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[test]
fn features_prints_22_4s_list() {
    let m = Machine::new();
    let out = cloud_init(m.root()).arg("features").output().unwrap();
    // `cloud-init features` of 22.4.2, byte for byte.
    assert_eq!(
        ok(&out, "features"),
        "NETWORK_CONFIG_V1\nNETWORK_CONFIG_V2\n"
    );
    assert!(out.stderr.is_empty());
    let help = cloud_init(m.root())
        .args(["features", "--help"])
        .output()
        .unwrap();
    assert_eq!(
        ok(&help, "features --help"),
        "usage: /usr/bin/cloud-init features [-h]\n\noptions:\n  -h, --help  show this help message and exit\n"
    );
}

/// `--version` and `-v`: 22.4's "PROG VERSION" line, whose second (and
/// last) word starts with the release cloudboot is compatible with, and
/// names cloudboot after it (see src/features.rs for why this form).
#[test]
fn version_is_the_program_and_the_compatible_release() {
    let m = Machine::new();
    for flag in ["--version", "-v"] {
        let out = cloud_init(m.root()).arg(flag).output().unwrap();
        let line = ok(&out, flag);
        assert_eq!(
            line,
            format!(
                "/usr/bin/cloud-init 22.4.2-cloudboot{}\n",
                env!("CARGO_PKG_VERSION")
            )
        );
        // What scripts take: awk '{print $2}', awk '{print $NF}', the
        // version up to its first '-'.
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words.len(), 2, "{line}");
        assert_eq!(words[1].split('-').next(), Some("22.4.2"));
    }
}

/// The fixture's environment: NUL-separated NAME=VALUE entries.
fn fixture_env() -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    let raw = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/dhclient-hook/env"
    ))
    .unwrap();
    raw.split(|&b| b == 0)
        .filter(|e| !e.is_empty())
        .map(|e| {
            let at = e.iter().position(|&b| b == b'=').unwrap();
            (
                std::ffi::OsString::from_vec(e[..at].to_vec()),
                std::ffi::OsString::from_vec(e[at + 1..].to_vec()),
            )
        })
        .collect()
}

#[test]
fn dhclient_hook_writes_and_removes_what_22_4_does() {
    let m = Machine::new();
    let hook = |args: &[&str]| {
        cloud_init(m.root())
            .env_clear()
            .envs(fixture_env())
            .arg("dhclient-hook")
            .args(args)
            .output()
            .unwrap()
    };
    let file = "/run/cloud-init/dhclient.hooks/eth0.json";

    ok(&hook(&["up", "eth0"]), "dhclient-hook up eth0");
    assert_eq!(
        std::fs::read(m.path(file)).unwrap(),
        include_bytes!("fixtures/dhclient-hook/eth0.json"),
        "the lease file 22.4 writes"
    );
    let mode = format!("{:o}\n", m.mode(file));
    assert_eq!(mode, include_str!("fixtures/dhclient-hook/eth0.json.mode"));

    ok(&hook(&["down", "eth0"]), "dhclient-hook down eth0");
    assert!(!m.exists(file));
    // Nothing to remove is no failure, as in 22.4.
    ok(&hook(&["down", "eth0"]), "dhclient-hook down eth0, again");

    // 22.4 joins the name to the directory as it is (an absolute one
    // replaces it); here a name with a '/' is refused, nothing written.
    for bad in ["../../../etc/evil", "/etc/evil"] {
        let out = hook(&["up", bad]);
        assert_eq!(out.status.code(), Some(1), "{bad}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("interface"),
            "{}",
            text(&out.stderr)
        );
    }
    assert!(!m.exists("/etc/evil.json") && !m.exists("/run/cloud-init/evil.json"));

    let help = cloud_init(m.root())
        .args(["dhclient-hook", "--help"])
        .output()
        .unwrap();
    assert_eq!(
        ok(&help, "dhclient-hook --help"),
        include_str!("fixtures/dhclient-hook/help.txt")
    );
    // argparse's refusal of an unknown event: usage, exit 2.
    let out = hook(&["sideways", "eth0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).ends_with(
        "error: argument event: invalid choice: 'sideways' (choose from 'up', 'down')\n"
    ));
}

/// One member of a tarball.
struct Member {
    name: String,
    mode: u32,
    data: Vec<u8>,
}

/// Reads a gzipped tarball (GNU or ustar headers, GNU long names).
fn members(tarball: &Path) -> Vec<Member> {
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(tarball).unwrap())
        .read_to_end(&mut raw)
        .unwrap();
    let field = |h: &[u8]| {
        let end = h.iter().position(|&b| b == 0).unwrap_or(h.len());
        String::from_utf8_lossy(&h[..end]).trim().to_string()
    };
    let octal = |h: &[u8]| u64::from_str_radix(&field(h), 8).unwrap_or(0);
    let mut out = Vec::new();
    let mut at = 0;
    let mut long: Option<String> = None;
    while at + 512 <= raw.len() && raw[at..at + 512].iter().any(|&b| b != 0) {
        let h = &raw[at..at + 512];
        let size = octal(&h[124..136]) as usize;
        let data = raw[at + 512..at + 512 + size].to_vec();
        at += 512 + size.div_ceil(512) * 512;
        if h[156] == b'L' {
            long = Some(field(&data));
            continue;
        }
        let prefix = field(&h[345..500]);
        let name = long.take().unwrap_or_else(|| {
            let n = field(&h[..100]);
            // ustar's prefix field (GNU's headers use that space otherwise).
            if &h[257..263] == b"ustar\0" && !prefix.is_empty() {
                format!("{prefix}/{n}")
            } else {
                n
            }
        });
        out.push(Member {
            name,
            mode: octal(&h[100..108]) as u32,
            data,
        });
    }
    out
}

/// Member names as the fixtures list them: the day in the top directory's
/// name as DATE, cloudboot's temporary-file journal as ID, sorted.
fn layout(members: &[Member]) -> Vec<String> {
    let today = format!("cloud-init-logs-{}", chrono::Utc::now().format("%Y-%m-%d"));
    let mut names: Vec<String> = members
        .iter()
        .map(|m| {
            assert!(
                m.name.starts_with(&today),
                "{} is not under {today}/",
                m.name
            );
            journal_id(m.name.replacen(&today, "cloud-init-logs-DATE", 1))
        })
        .collect();
    names.sort();
    names
}

/// cloudboot's temporary-file journal is named for the run that made it:
/// ID, as the fixtures have it.
fn journal_id(name: String) -> String {
    match name.split_once("/cloudboot-tmp/") {
        Some((before, after)) if !after.is_empty() => format!("{before}/cloudboot-tmp/ID"),
        _ => name,
    }
}

fn fixture_layout(text: &str) -> Vec<String> {
    let mut names: Vec<String> = text.lines().map(str::to_string).collect();
    names.sort();
    names
}

/// The directories 22.4 copies whole (`shutil.copytree`), as the fixtures
/// name them, and where they are in the root.
const COPIED: [(&str, &str); 2] = [
    ("cloud-init-logs-DATE/run/cloud-init/", "/run/cloud-init"),
    (
        "cloud-init-logs-DATE/var/lib/cloud/data/",
        "/var/lib/cloud/data",
    ),
];

/// What `copytree` makes of a directory of the root: every directory
/// (with `/`) and file below it, links followed inside the root, `skip`
/// names left out, as the tarball names them.
fn tree(m: &Machine, guest: &str, prefix: &str, skip: &[&str]) -> Vec<String> {
    let mut out = vec![prefix.to_string()];
    let mut entries: Vec<_> = std::fs::read_dir(m.path(guest))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    entries.sort();
    for name in entries {
        if skip.contains(&name.as_str()) {
            continue;
        }
        let mut at = format!("{guest}/{name}");
        // A link is followed inside the root.
        while let Ok(target) = std::fs::read_link(m.path(&at)) {
            at = if target.is_absolute() {
                target.to_string_lossy().into_owned()
            } else {
                format!("{}/{}", guest, target.display())
            };
        }
        if m.path(&at).is_dir() {
            out.extend(tree(m, &at, &format!("{prefix}{name}/"), skip));
        } else if m.path(&at).is_file() {
            out.push(format!("{prefix}{name}"));
        }
    }
    out
}

/// The tarball's layout against 22.4's (the fixture's list, less `skip`
/// names), and its copied directories against the root's own trees: the
/// fixture's copies are of the tree the fixture was made from, and what
/// cloudboot writes in /run/cloud-init may grow without 22.4's rules
/// changing.
fn assert_layout(m: &Machine, got: &[Member], fixture: &str, skip: &[&str]) {
    let copied = |n: &str| COPIED.iter().any(|(p, _)| n.starts_with(p));
    let got = layout(got);
    let want = fixture_layout(fixture);
    let fixed = |names: &[String]| -> Vec<String> {
        names
            .iter()
            .filter(|n| !copied(n) && !skip.iter().any(|s| n.ends_with(&format!("/{s}"))))
            .cloned()
            .collect()
    };
    assert_eq!(
        fixed(&got),
        fixed(&want),
        "the layout outside the copied directories"
    );
    for (prefix, guest) in COPIED {
        let mut ours: Vec<String> = got
            .iter()
            .filter(|n| n.starts_with(prefix))
            .cloned()
            .collect();
        ours.sort();
        if !want.iter().any(|n| n == prefix) {
            assert!(ours.is_empty(), "22.4 copies no {guest} here: {ours:?}");
            continue;
        }
        let mut tree: Vec<String> = tree(m, guest, prefix, skip)
            .into_iter()
            .map(journal_id)
            .collect();
        tree.sort();
        assert_eq!(ours, tree, "{guest} as copytree copies it");
    }
}

fn member<'a>(members: &'a [Member], suffix: &str) -> Option<&'a Member> {
    members.iter().find(|m| m.name.ends_with(suffix))
}

/// A scratch root that booted from the fixture's seed, with the installer
/// files generate.sh adds.
fn booted() -> Machine {
    let m = Machine::seeded(
        include_str!("fixtures/collect-logs/seed/meta-data"),
        include_str!("fixtures/collect-logs/seed/user-data"),
    );
    m.boot();
    m.write("/var/log/installer/curtin-install.log", "curtin\n");
    m.write("/var/log/installer/autoinstall-user-data", "secret\n");
    m.write("/autoinstall.yaml", "secret\n");
    m
}

fn collect(m: &Machine, cwd: &Path, args: &[&str]) -> Output {
    cloud_init(m.root())
        .current_dir(cwd)
        .arg("collect-logs")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn collect_logs_lays_the_tarball_out_as_22_4_does() {
    let m = booted();
    let out_dir = tempfile::tempdir().unwrap();
    let out = collect(&m, out_dir.path(), &["-t", "logs.tgz"]);
    ok(&out, "collect-logs -t logs.tgz");
    // The tarball is where the user said, on this machine (relative to the
    // working directory), and 22.4's last line says so.
    let tarball = out_dir.path().join("logs.tgz");
    assert_eq!(text(&out.stderr), format!("Wrote {}\n", tarball.display()));
    let got = members(&tarball);
    assert_layout(
        &m,
        &got,
        include_str!("fixtures/collect-logs/members-default.txt"),
        &["instance-data-sensitive.json"],
    );

    // The files are the root's.
    let log = member(&got, "/cloud-init.log").unwrap();
    assert_eq!(
        log.data,
        std::fs::read(m.path("/var/log/cloud-init.log")).unwrap()
    );
    assert_eq!(
        text(&member(&got, "/version").unwrap().data),
        format!(
            "/usr/bin/cloud-init 22.4.2-cloudboot{}\n",
            env!("CARGO_PKG_VERSION")
        )
    );
    // The root is not the running system: the programs did not run, and
    // each file says so as 22.4 records a command that failed.
    for (file, argv) in [
        ("/dmesg.txt", "['dmesg']"),
        (
            "/journal.txt",
            "['journalctl', '--boot=0', '-o', 'short-precise']",
        ),
        (
            "/dpkg-version",
            "['dpkg-query', '--show', '-f=${Version}\\n', 'cloud-init']",
        ),
    ] {
        let body = text(&member(&got, file).unwrap().data);
        assert!(
            body.starts_with(&format!(
                "Unexpected error while running command.\nCommand: {argv}\nExit code: -\nReason: not run: the root "
            )) && body.ends_with("\nStdout: -\nStderr: -"),
            "{file}: {body}"
        );
    }
    // Nothing sensitive without -u: neither user-data nor the instance
    // data instance-data.json redacts, nor the installer's user-data.
    for private in [
        "user-data.txt",
        "instance-data-sensitive.json",
        "autoinstall-user-data",
        "autoinstall.yaml",
    ] {
        assert!(member(&got, private).is_none(), "{private} in the tarball");
    }
    let secret = b"not-for-the-tarball";
    assert!(
        !got.iter()
            .any(|m| m.data.windows(secret.len()).any(|w| w == secret)),
        "user-data's password is in a member"
    );
    // It holds cloud-init-output.log, which the root keeps from others
    // (0640): so does the tarball.
    assert_eq!(member(&got, "/cloud-init-output.log").unwrap().mode, 0o640);
    let mode = std::fs::metadata(&tarball).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // Without -t: 22.4's name, in the working directory.
    let out = collect(&m, out_dir.path(), &[]);
    ok(&out, "collect-logs");
    assert!(out_dir.path().join("cloud-init.tar.gz").is_file());

    let help = collect(&m, out_dir.path(), &["--help"]);
    assert_eq!(
        ok(&help, "collect-logs --help"),
        include_str!("fixtures/collect-logs/help.txt")
    );
}

#[test]
fn collect_logs_takes_user_data_only_with_include_userdata() {
    let m = booted();
    let out_dir = tempfile::tempdir().unwrap();
    let out = collect(&m, out_dir.path(), &["--include-userdata", "-t", "u.tgz"]);
    if !skip::is_root() {
        // 22.4's refusal, word for word.
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            text(&out.stderr),
            "To include userdata, root user is required. Try sudo cloud-init collect-logs\n"
        );
        skip::require(&[skip::Need::Root("for collect-logs --include-userdata")]);
        return;
    }
    ok(&out, "collect-logs -u");
    let got = members(&out_dir.path().join("u.tgz"));
    assert_layout(
        &m,
        &got,
        include_str!("fixtures/collect-logs/members-userdata.txt"),
        &[],
    );
    let user_data = member(&got, "/user-data.txt").unwrap();
    assert_eq!(
        user_data.data,
        std::fs::read(m.path("/var/lib/cloud/instances/iid-collect-logs-1/user-data.txt")).unwrap()
    );
    assert!(text(&user_data.data).contains("not-for-the-tarball"));
    assert!(member(&got, "/run/cloud-init/instance-data-sensitive.json").is_some());
    assert!(member(&got, "/var/log/installer/autoinstall-user-data").is_some());
    assert!(member(&got, "/autoinstall.yaml").is_some());
    let mode = std::fs::metadata(out_dir.path().join("u.tgz"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "a tarball with user-data is private");
}

/// When cloud-init is disabled this boot, 22.4 takes the previous boot's
/// state from /var/lib/cloud/data.
#[test]
fn collect_logs_falls_back_to_the_data_dir_when_disabled() {
    let m = booted();
    m.write("/run/cloud-init/disabled", "");
    let out_dir = tempfile::tempdir().unwrap();
    ok(
        &collect(&m, out_dir.path(), &["-t", "d.tgz"]),
        "collect-logs (disabled)",
    );
    let got = members(&out_dir.path().join("d.tgz"));
    // 22.4 copies the whole directory; cloudboot's cache of parsed YAML,
    // which holds user-data (cloud-init has no such file), only with -u.
    assert_layout(
        &m,
        &got,
        include_str!("fixtures/collect-logs/members-disabled.txt"),
        &["instance-data-sensitive.json", "cloudboot-yaml-cache"],
    );
    assert!(member(&got, "/cloudboot-yaml-cache").is_none());
    assert!(member(&got, "/var/lib/cloud/data/status.json").is_some());
}

/// `-v`: what was collected, on stderr, in 22.4's words.
#[test]
fn collect_logs_verbose_says_what_it_collected() {
    let m = booted();
    let out_dir = tempfile::tempdir().unwrap();
    let out = collect(&m, out_dir.path(), &["-v", "-t", "v.tgz"]);
    let err = text(&out.stderr);
    ok(&out, "collect-logs -v");
    for line in [
        "collected cloud-init --version\n",
        "collecting dmesg output failed.\n",
        "collected file: /var/log/cloud-init.log\n",
        "collected dir /run/cloud-init\n",
    ] {
        assert!(err.contains(line), "{line:?} in\n{err}");
    }
    assert!(!err.contains("did not exist"), "level 2 at -v: {err}");
    let out = collect(&m, out_dir.path(), &["-vv", "-t", "v.tgz"]);
    assert!(text(&out.stderr)
        .contains("file /var/log/installer/ubuntu_desktop_installer.log did not exist\n"));
}
