//! `cloud-id`, as the verb and as the program of that name, against what
//! cloud-init 22.4's own `cloud_id.handle_args` prints for the same
//! instance-data (driven in Python with its status stubbed: it would
//! otherwise read this host's `/run/cloud-init`).

mod common;

use std::process::Command;

use common::*;

/// 22.4's output and exit code for an instance-data file and flags, or
/// `None` (the comparison skipped, visibly) without cloud-init's Python.
fn cloud_init_says(instance_data: &str, flags: &[&str]) -> Option<(String, i32)> {
    if !common::skip::require_for(
        "comparison with cloud-init 22.4",
        &[common::skip::Need::File(
            "/usr/lib/python3/dist-packages/cloudinit/cmd/cloud_id.py",
            "cloud-init",
        )],
    ) {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("instance-data.json");
    std::fs::write(&file, instance_data).unwrap();
    // As nobody when root: the driver only reads the copy.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let code = format!(
        "import sys\nfrom cloudinit.cmd import cloud_id, status\n\
         class D: status = status.UXAppStatus.DONE\n\
         cloud_id.get_status_details = lambda *a, **k: D\n\
         sys.exit(cloud_id.handle_args('cloud-id', cloud_id.get_parser().parse_args({:?} + ['-i', {:?}])))\n",
        flags,
        file.display().to_string()
    );
    let mut cmd = if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "/usr/bin/python3",
        ]);
        c
    } else {
        Command::new("/usr/bin/python3")
    };
    let out = cmd
        .args(["-c", &code])
        .current_dir(dir.path())
        .output()
        .unwrap();
    Some((
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code().unwrap_or(-1),
    ))
}

fn booted() -> Machine {
    let m = Machine::seeded(
        "instance-id: iid-cloud-id\nlocal-hostname: idhost\n",
        "#cloud-config\n{}\n",
    );
    m.boot();
    m
}

#[test]
fn the_verb_answers_as_cloud_init_does() {
    let m = booted();
    let root = m.root().display().to_string();
    let data = m.read("/run/cloud-init/instance-data.json");
    for flags in [&[][..], &["-l"], &["-j"]] {
        let mut args = vec!["--root", root.as_str(), "cloud-id"];
        args.extend_from_slice(flags);
        let out = m.run(&args[2..]);
        let ours = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(0), "{flags:?}: {ours}");
        match flags {
            [] => assert_eq!(ours, "nocloud\n"),
            ["-l"] => assert_eq!(ours, "nocloud\tNone\n"),
            _ => assert!(ours.contains("\"cloud_id\": \"nocloud\""), "{ours}"),
        }
        if let Some((theirs, code)) = cloud_init_says(&data, flags) {
            assert_eq!((ours.as_str(), 0), (theirs.as_str(), code), "{flags:?}");
        }
    }
}

#[test]
fn before_a_boot_it_says_not_run_and_a_bad_file_is_exit_1() {
    let m = Machine::new();
    let out = m.run(&["cloud-id"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "not run\n");
    let m = booted();
    let out = m.run(&["cloud-id", "-i", "/nonexistent/instance-data.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(
        "File not found '/nonexistent/instance-data.json'. Provide a path to instance data json file using --instance-data"
    ));
}

#[test]
fn the_program_under_its_own_name() {
    let m = booted();
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("cloud-id");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let out = Command::new(&link)
        .args(["--root", &m.root().display().to_string(), "-l"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "nocloud\tNone\n");
    let help = Command::new(&link).arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).starts_with("usage: cloud-id"));
}
