//! apt_configure against what 22.4's own handler did
//! (tests/fixtures/apt_configure, see its README), and the cases it does
//! not record.

use serde_json::{json, Value as J};

use super::*;

const EXPECTED: &str = include_str!("../../tests/fixtures/apt_configure/expected.json");

/// The Debian 12 root of the recorder's cases: apt-get and lsb_release,
/// the image's package_mirrors, the case's files and installed packages.
fn kit(case: &J) -> Kit {
    let ubuntu = case["distro"] == "ubuntu";
    let base = match ubuntu {
        true => Kit::with_os_release("ID=ubuntu\nVERSION_ID=\"22.04\"\nVERSION_CODENAME=jammy\n"),
        false => Kit::debian12(),
    };
    let mut kit =
        base.file_mode("/usr/bin/apt-get", "", 0o755)
            .file_mode("/usr/bin/lsb_release", "", 0o755);
    for (path, content) in case["files"].as_object().into_iter().flatten() {
        kit = kit.file(path, content.as_str().unwrap());
    }
    let status: String = case["installed"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            format!(
                "Package: {}\nStatus: install ok installed\n\n",
                p.as_str().unwrap()
            )
        })
        .collect();
    let mut cfg = case["cfg"].clone();
    // Debian 12's package_mirrors; the Ubuntu case has none (cloud-init's
    // default mirrors).
    if !ubuntu {
        cfg["system_info"] = json!({"package_mirrors": [{"arches": ["default"], "failsafe": {
            "primary": "https://deb.debian.org/debian",
            "security": "https://deb.debian.org/debian-security"}}]});
    }
    kit.file("/var/lib/dpkg/status", &status)
        .cfg(&serde_json::to_string(&cfg).unwrap())
}

/// A plan's effects in the recorder's terms. gpg writing its `--dearmor`
/// output itself stands for 22.4's gpg run and its write of the output;
/// the directory made for it and its mode are not recorded; a semaphore's
/// content (pid and time) is not compared.
fn ops(effects: &[Effect]) -> Vec<J> {
    let mut out = Vec::new();
    for e in effects {
        match e {
            Effect::WriteFile {
                path,
                data,
                mode,
                append,
                ..
            } => {
                let content = if path.to_string_lossy().contains("/sem/") {
                    J::Null
                } else {
                    J::String(String::from_utf8(data.bytes.clone()).unwrap())
                };
                out.push(json!({"op": "write", "path": path, "content": content,
                                "mode": mode, "append": append.is_append()}));
            }
            Effect::Remove { path } => out.push(json!({"op": "remove", "path": path})),
            Effect::Run(c) if c.argv.starts_with(&["gpg".into(), "--dearmor".into()]) => {
                let stdin = String::from_utf8(c.stdin.clone().unwrap().bytes).unwrap();
                out.push(json!({"op": "run", "argv": ["gpg", "--dearmor"], "stdin": stdin}));
                out.push(
                    json!({"op": "write", "path": c.argv[4], "content": "<dearmored KEY>",
                                "mode": 0o644, "append": false}),
                );
            }
            // The mode of gpg's keyring (22.4's write_file gives it).
            Effect::Run(c) if c.argv[0] == "chmod" => {}
            Effect::Run(c) if c.argv.starts_with(&["mv".into(), "-f".into(), "--".into()]) => {
                out.push(json!({"op": "rename", "from": c.argv[3], "to": c.argv[4]}));
            }
            Effect::Run(c) => {
                let stdin = c
                    .stdin
                    .as_ref()
                    .map(|d| String::from_utf8(d.bytes.clone()).unwrap());
                out.push(json!({"op": "run", "argv": c.argv, "stdin": stdin}));
            }
            Effect::Mkdir { .. } | Effect::Chown { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    out
}

/// Renames in sorted order: 22.4 renames in the order `glob` lists the
/// directory, which is the filesystem's.
fn sort_renames(ops: &mut [J]) {
    let mut i = 0;
    while i < ops.len() {
        let run = ops[i..].iter().take_while(|o| o["op"] == "rename").count();
        ops[i..i + run].sort_by_key(|o| o["from"].as_str().unwrap().to_string());
        i += run.max(1);
    }
}

/// Where cloudboot differs on purpose (see the module's docs).
const DEPARTURES: &[(&str, &str)] = &[];

#[test]
fn every_recorded_case_plans_as_cloud_init_22_4_ran_it() {
    let cases: Vec<J> = serde_json::from_str(EXPECTED).unwrap();
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let p = kit(case).plan(&AptConfigure);
        if let Some((_, why)) = DEPARTURES.iter().find(|(n, _)| *n == name) {
            assert!(
                p.errors().iter().any(|e| e.contains(why)),
                "{name}: {:?}",
                p.errors()
            );
            continue;
        }
        let mut want = case["ops"].clone();
        for op in want.as_array_mut().unwrap() {
            if op["path"].as_str().is_some_and(|p| p.contains("/sem/")) {
                op["content"] = J::Null;
            }
        }
        let mut got = ops(p.effects());
        sort_renames(&mut got);
        sort_renames(want.as_array_mut().unwrap());
        assert_eq!(J::Array(got), want, "{name}");
        // Warnings: each one 22.4 logged is among the notes.
        for l in case["logs"].as_array().unwrap() {
            let msg = l[1].as_str().unwrap();
            assert!(
                p.notes().iter().any(|n| n == msg),
                "{name}: {msg}\n{:?}",
                p.notes()
            );
        }
        match case["error"].as_str() {
            None => assert!(p.errors().is_empty(), "{name}: {:?}", p.errors()),
            Some(e) => {
                let got = &p.errors()[0];
                let same = e.ends_with(got.as_str())
                    || (e.starts_with("KeyError: ") && got.contains(&e[10..]));
                assert!(same, "{name}: {e} vs {got}");
            }
        }
    }
}

#[test]
fn no_apt_and_no_apt_get_does_nothing() {
    let p = Kit::debian12().plan(&AptConfigure);
    assert!(p.effects().is_empty(), "{:?}", p.effects());
    assert_eq!(
        p.notes().last().unwrap(),
        "Nothing to do: No apt config and no apt commands."
    );
}

#[test]
fn without_lsb_release_the_release_is_unavailable() {
    let p = Kit::debian12()
        .file_mode("/usr/bin/apt-get", "", 0o755)
        .cfg("apt: {sources_list: \"deb $MIRROR $RELEASE main\\n\"}\n")
        .plan(&AptConfigure);
    assert_eq!(
        p.file("/etc/apt/sources.list").as_deref(),
        Some("deb http://archive.ubuntu.com/ubuntu/ UNAVAILABLE main\n")
    );
}

#[test]
fn a_keyid_is_fetched_into_roots_keyring_exported_and_deleted() {
    let p = Kit::debian12()
        .file_mode("/usr/bin/apt-get", "", 0o755)
        .cfg("apt: {preserve_sources_list: true, sources: {k: {keyid: ABCD, keyserver: ks.example}}}\n")
        .plan(&AptConfigure);
    let cmds = p.commands();
    assert_eq!(
        cmds[0],
        [
            "gpg",
            "--no-tty",
            "--keyserver=ks.example",
            "--recv-keys",
            "ABCD"
        ]
    );
    assert_eq!(
        cmds[1],
        [
            "gpg",
            "--yes",
            "--output",
            "/etc/apt/trusted.gpg.d/k.gpg",
            "--export",
            "ABCD"
        ]
    );
    assert_eq!(
        cmds[2],
        ["gpg", "--batch", "--yes", "--delete-keys", "ABCD"]
    );
    assert_eq!(cmds[3], ["chmod", "0644", "/etc/apt/trusted.gpg.d/k.gpg"]);
}

#[test]
fn only_the_default_repo_match_is_taken() {
    let p = Kit::debian12()
        .file_mode("/usr/bin/apt-get", "", 0o755)
        .cfg("apt: {preserve_sources_list: true, add_apt_repo_match: '^x', sources: {a: {source: 'x:y'}}}\n")
        .plan(&AptConfigure);
    assert!(
        p.errors()[0].contains("only cloud-init's default add_apt_repo_match"),
        "{:?}",
        p.errors()
    );
}
