//! Programs run inside the target root (chroot, so these need root), their
//! output, failures, a stage killed in the middle of a module, two runs at
//! once, and what an ordinary user's run does instead.

mod common;

use std::process::Command;

use common::*;

fn runcmd_seed(cmds: &str) -> String {
    format!("#cloud-config\nruncmd:\n{cmds}")
}

#[test]
fn runcmd_runs_in_the_final_stage_inside_the_root() {
    if !can_chroot() {
        return;
    }
    let m = Machine::seeded(
        META,
        &runcmd_seed("  - [sh, -c, 'echo ran > /var/tmp/ran']\n  - echo to-the-log\n"),
    );
    m.install_busybox();
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 0);
    m.run_ok(&["modules", "--mode=config"], 0);
    assert!(
        !m.exists("/var/tmp/ran"),
        "runcmd only writes its script in the config stage"
    );
    m.run_ok(&["modules", "--mode=final"], 0);
    // The file landed inside the root, not on this machine.
    assert_eq!(m.read("/var/tmp/ran"), "ran\n");
    let out = m.read("/var/log/cloud-init-output.log");
    assert!(out.contains("to-the-log\n"), "{out}");
}

#[test]
fn a_failing_script_fails_the_module_but_not_the_others() {
    if !can_chroot() {
        return;
    }
    // A user-data script and runcmd both live in instance/scripts; sorted
    // order runs part-001 before runcmd, and one failing does not stop the other.
    let m = Machine::seeded(META, "#!/bin/sh\necho script-ran > /var/tmp/part\nexit 3\n");
    m.install_busybox();
    m.write(
        "/etc/cloud/cloud.cfg.d/90_runcmd.cfg",
        "runcmd:\n  - echo runcmd-ran > /var/tmp/runcmd\n",
    );
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 0);
    m.run_ok(&["modules", "--mode=config"], 0);
    m.run_ok(&["modules", "--mode=final"], 1);
    assert_eq!(m.read("/var/tmp/part"), "script-ran\n");
    assert_eq!(m.read("/var/tmp/runcmd"), "runcmd-ran\n");
    let status = m.run_ok(&["status", "--long", "--modules"], 1);
    assert!(
        status.contains("scripts_user: Runparts: 1 failures (part-001) in 2 attempted commands"),
        "{status}"
    );
}

#[test]
fn a_stage_killed_mid_module_leaves_no_semaphore_and_the_module_runs_again() {
    if !can_chroot() {
        return;
    }
    // runcmd kills cloudboot (its parent) the first time it runs; the
    // script `zz-after` sorts after it.
    let m = Machine::seeded(
        META,
        &runcmd_seed(
            "  - 'if [ ! -e /var/tmp/killed ]; then touch /var/tmp/killed; kill -9 $PPID; sleep 5; fi'\n  - echo completed >> /var/tmp/completed\n",
        ),
    );
    m.write(
        "/var/lib/cloud/instances/iid-test-1/scripts/zz-after",
        "#!/bin/sh\necho after >> /var/tmp/after\n",
    );
    std::fs::set_permissions(
        m.path("/var/lib/cloud/instances/iid-test-1/scripts/zz-after"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    m.install_busybox();
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 0);
    m.run_ok(&["modules", "--mode=config"], 0);
    let out = m.run(&["modules", "--mode=final"]);
    assert_eq!(out.status.code(), None, "cloudboot was killed by a signal");
    assert!(m.exists("/var/tmp/killed"));
    assert!(!m.exists("/var/tmp/completed"));
    let sem = "/var/lib/cloud/instances/iid-test-1/sem/config_scripts_user";
    assert!(
        !m.exists(sem),
        "no semaphore for a module that did not finish"
    );
    // Nothing half-written anywhere: no temporary files left behind.
    for (path, _) in m.snapshot() {
        assert!(
            !path.to_string_lossy().contains(".cloudboot-"),
            "leftover temporary file {}",
            path.display()
        );
    }
    let status = m.run_ok(&["status"], 0);
    assert_eq!(
        status, "status: running\n",
        "the killed stage never finished"
    );
    assert!(!m.exists("/var/tmp/after"));
    // The next boot runs the module again: the script after runcmd runs;
    // runcmd itself, cut short while it ran, is reported and not run a
    // second time (it may have done part of its work).
    m.reboot();
    m.boot_expecting(&[0, 0, 0, 1]);
    assert_eq!(m.read("/var/tmp/after"), "after\n");
    assert!(!m.exists("/var/tmp/completed"));
    assert!(is_sem_content(&m.read(sem)));
    let status = m.run_ok(&["status", "--long", "--modules"], 1);
    assert!(
        status.contains("scripts/runcmd was cut short by a crash or power loss"),
        "{status}"
    );
    // Its record of scripts goes with the finished run.
    let progress: Vec<_> = std::fs::read_dir(m.path("/var/lib/cloud/instances/iid-test-1"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name() == "cloudboot-progress")
        .collect();
    assert!(progress.is_empty() || std::fs::read_dir(progress[0].path()).unwrap().count() == 0);
}

#[test]
fn two_runs_at_once_run_a_module_once() {
    if !can_chroot() {
        return;
    }
    let m = Machine::seeded(
        META,
        &runcmd_seed("  - echo run >> /var/tmp/count\n  - sleep 1\n"),
    );
    m.install_busybox();
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 0);
    m.run_ok(&["modules", "--mode=config"], 0);
    let start = |_: usize| {
        Command::new(BIN)
            .arg("--root")
            .arg(m.root())
            .args(["modules", "--mode=final"])
            .spawn()
            .unwrap()
    };
    let children: Vec<_> = (0..2).map(start).collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    assert_eq!(
        m.read("/var/tmp/count"),
        "run\n",
        "scripts_user ran exactly once"
    );
}

#[test]
fn an_ordinary_user_lists_programs_instead_of_running_them() {
    if !skip::require(&[skip::Need::Busybox]) {
        return;
    }
    let m = Machine::seeded(META, &runcmd_seed("  - echo hi > /var/tmp/hi\n"));
    m.install_busybox();
    let mut boot = if skip::is_root() {
        // Hand the scratch root to `nobody` and boot it as `nobody`.
        let chown = Command::new("chown")
            .args(["-R", "65534:65534"])
            .arg(m.root())
            .status()
            .unwrap();
        assert!(chown.success());
        let mut setpriv = Command::new("setpriv");
        setpriv.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN]);
        setpriv
    } else {
        // Already an ordinary user.
        Command::new(BIN)
    };
    let out = boot
        .arg("--root")
        .arg(m.root())
        .arg("boot")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!m.exists("/var/tmp/hi"), "nothing ran");
    assert!(
        stdout.contains("run-parts /var/lib/cloud/instance/scripts [runcmd] [not run: running /var/lib/cloud/instance/scripts/runcmd inside"),
        "{stdout}"
    );
    assert!(stdout.contains("needs root (chroot)]"), "{stdout}");
}

#[test]
fn a_scratch_root_without_a_shell_lists_programs() {
    // Root or not: a directory with no /bin/sh is not a system to run things in.
    let m = Machine::seeded(META, &runcmd_seed("  - echo hi\n"));
    let out = m.run_ok(&["boot"], 0);
    assert!(out.contains("[runcmd] [not run: "), "{out}");
    assert!(out.contains("boot of "), "{out}");
}
