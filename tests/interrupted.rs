//! Runs cut short and runs at once: what a killed run leaves is never run
//! or appended again, is cleaned up by the next stage, and two runs never
//! share a temporary file. The programs run inside the root (chroot: root
//! only).

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::*;

#[test]
fn a_leftover_temporary_script_never_runs() {
    if !can_chroot() {
        return;
    }
    let m = Machine::seeded(
        META,
        "#cloud-config\nruncmd:\n  - echo runcmd >> /var/tmp/log\n",
    );
    m.install_busybox();
    // What a run killed between writing runcmd's temporary file and renaming
    // it leaves: a complete, executable-looking script under a dot name.
    let scripts = "/var/lib/cloud/instances/iid-test-1/scripts";
    for leftover in [".runcmd.cloudboot-4242-0badf00d", ".runcmd.cloudboot-4242"] {
        let p = format!("{scripts}/{leftover}");
        m.write(&p, "#!/bin/sh\necho leftover >> /var/tmp/log\n");
        fs::set_permissions(m.path(&p), fs::Permissions::from_mode(0o700)).unwrap();
    }
    m.boot();
    assert_eq!(m.read("/var/tmp/log"), "runcmd\n");
}

/// Holds an exclusive flock on a journal, as a running cloudboot does.
fn hold_lock(path: &std::path::Path) -> fs::File {
    use std::os::fd::AsRawFd;
    let f = fs::File::open(path).unwrap();
    assert_eq!(unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) }, 0);
    f
}

#[test]
fn what_a_dead_run_left_goes_at_the_next_stage_and_a_live_runs_files_stay() {
    let m = Machine::seeded(META, "#cloud-config\n{}\n");
    let journals = "/var/lib/cloud/data/cloudboot-tmp";
    // A run that died (its journal is not locked) left a temporary file in
    // /etc and one in the state directory.
    m.write(
        &format!("{journals}/777-0000dead"),
        "/etc\n/var/lib/cloud/data\n",
    );
    m.write("/etc/.hostname.cloudboot-777-0000dead", "half");
    m.write(
        "/var/lib/cloud/data/.status.json.cloudboot-777-0000dead",
        "{",
    );
    // A run still going (another stage, `single` from runcmd) holds its
    // journal: its temporary file is mid-write and must stay.
    m.write(&format!("{journals}/888-0000beef"), "/etc\n");
    m.write("/etc/.hosts.cloudboot-888-0000beef", "being written");
    // Not cloudboot's: a name that only looks similar stays too.
    m.write("/etc/.keep.cloudboot-notours", "mine");
    let _live = hold_lock(&m.path(&format!("{journals}/888-0000beef")));
    m.run_ok(&["init", "--local"], 0);
    assert!(!m.exists("/etc/.hostname.cloudboot-777-0000dead"));
    assert!(!m.exists("/var/lib/cloud/data/.status.json.cloudboot-777-0000dead"));
    assert!(!m.exists(&format!("{journals}/777-0000dead")));
    // The dead run's journal became this run's (renamed, emptied): one
    // journal per writer, none left over.
    let mut left: Vec<String> = fs::read_dir(m.path(journals))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left.contains(&"888-0000beef".to_string()), "{left:?}");
    assert_eq!(
        m.read("/etc/.hosts.cloudboot-888-0000beef"),
        "being written"
    );
    assert_eq!(m.read("/etc/.keep.cloudboot-notours"), "mine");
    let log = m.read("/var/log/cloud-init.log");
    assert!(
        log.contains("removed 2 temporary file(s) left by an interrupted run"),
        "{log}"
    );
}

#[test]
fn an_append_is_made_once_per_instance_even_when_the_module_runs_again() {
    let user = "#cloud-config\nwrite_files:\n  - path: /etc/app.conf\n    append: true\n    content: |\n      added\n";
    let m = Machine::seeded(META, user);
    m.write("/etc/app.conf", "base\n");
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 0);
    assert_eq!(m.read("/etc/app.conf"), "base\nadded\n");
    // A kill after the append and before the semaphore: the module runs
    // again on the next boot.
    fs::remove_file(m.path("/var/lib/cloud/instances/iid-test-1/sem/config_write_files")).unwrap();
    m.reboot();
    m.run_ok(&["init", "--local"], 0);
    let out = m.run_ok(&["init"], 0);
    assert_eq!(m.read("/etc/app.conf"), "base\nadded\n", "{out}");
    assert!(m.exists("/var/lib/cloud/instances/iid-test-1/sem/config_write_files"));
    // A new instance appends again (cloud-init's per-instance meaning).
    m.seed("instance-id: iid-test-2\n", user);
    m.reboot();
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 0);
    assert_eq!(m.read("/etc/app.conf"), "base\nadded\nadded\n");
}

#[test]
fn a_kill_between_the_record_and_the_append_still_appends() {
    let user = "#cloud-config\nwrite_files:\n  - path: /etc/app.conf\n    append: true\n    content: |\n      added\n";
    let m = Machine::seeded(META, user);
    m.write("/etc/app.conf", "base\n");
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 0);
    // Undo the append and the semaphore, keep the record: what a kill
    // right after the record was written leaves.
    m.write("/etc/app.conf", "base\n");
    fs::remove_file(m.path("/var/lib/cloud/instances/iid-test-1/sem/config_write_files")).unwrap();
    let records = m.path("/var/lib/cloud/instances/iid-test-1/cloudboot-appends");
    assert_eq!(fs::read_dir(&records).unwrap().count(), 1);
    m.reboot();
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 0);
    assert_eq!(m.read("/etc/app.conf"), "base\nadded\n");
}

#[test]
fn two_init_runs_at_once_each_run_bootcmd_from_their_own_file() {
    if !can_chroot() {
        return;
    }
    // With one shared file, the first run to finish removed it before the
    // other ran it (or wrote it while the other was reading it).
    let m = Machine::seeded(
        META,
        "#cloud-config\nbootcmd:\n  - echo ran >> /var/tmp/bootcmd\n",
    );
    m.install_busybox();
    m.run_ok(&["init", "--local"], 0);
    for round in 0..20 {
        let _ = fs::remove_file(m.path("/var/tmp/bootcmd"));
        let spawn = || {
            Command::new(BIN)
                .arg("--root")
                .arg(m.root())
                .arg("init")
                .output()
        };
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(spawn);
            let b = s.spawn(spawn);
            (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
        });
        for out in [&a, &b] {
            assert!(
                out.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert_eq!(m.read("/var/tmp/bootcmd"), "ran\nran\n", "round {round}");
    }
}

#[test]
fn the_filesystem_is_synced_after_a_modules_programs_and_before_its_semaphore() {
    if !can_chroot() || !skip::require(&[skip::Need::Program("strace", "strace")]) {
        return;
    }
    let m = Machine::seeded(
        META,
        "#cloud-config\nruncmd:\n  - echo ran > /var/tmp/ran\n",
    );
    m.install_busybox();
    for args in [
        &["init", "--local"][..],
        &["init"],
        &["modules", "--mode=config"],
    ] {
        m.run_ok(args, 0);
    }
    let trace = traced(
        &m,
        &["modules", "--mode=final"],
        "execve,syncfs,sync,rename,renameat,renameat2",
    );
    let lines: Vec<&str> = trace.lines().collect();
    let find = |what: &dyn Fn(&str) -> bool, from: usize| {
        lines[from..].iter().position(|l| what(l)).map(|i| i + from)
    };
    let ran = find(
        &|l| l.contains("execve(") && l.contains("scripts/runcmd"),
        0,
    )
    .unwrap_or_else(|| panic!("runcmd never ran:\n{trace}"));
    let synced = find(&|l| l.contains("syncfs(") || l.contains("sync()"), ran)
        .unwrap_or_else(|| panic!("no sync after runcmd:\n{trace}"));
    let sem = find(
        &|l| l.contains("rename") && l.contains("\"config_scripts_user\""),
        ran,
    )
    .unwrap_or_else(|| panic!("no semaphore after runcmd:\n{trace}"));
    assert!(synced < sem, "the semaphore came before the sync:\n{trace}");
}

#[test]
fn a_new_directory_is_synced_before_a_file_is_renamed_into_it() {
    if !skip::require(&[skip::Need::Program("strace", "strace")]) {
        return;
    }
    let m = Machine::seeded(
        META,
        "#cloud-config\nwrite_files:\n  - path: /srv/a/b/c/file\n    content: x\n",
    );
    m.run_ok(&["init", "--local"], 0);
    let trace = traced(
        &m,
        &["init"],
        "mkdir,mkdirat,fsync,fdatasync,syncfs,sync,rename,renameat,renameat2",
    );
    assert_eq!(m.read("/srv/a/b/c/file"), "x");
    let lines: Vec<&str> = trace.lines().collect();
    // Every directory made (mkdirat returning 0) is synced (its own
    // parent's fsync, or the group commit's syncfs) before the file is
    // renamed into place: a power cut never keeps a file whose directory
    // entry was lost.
    let made: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains("mkdir") && l.trim_end().ends_with("= 0"))
        .map(|(i, _)| i)
        .collect();
    assert!(
        made.iter().any(|&i| lines[i].contains("srv\"")),
        "no mkdir of /srv:\n{trace}"
    );
    let placed = lines
        .iter()
        .position(|l| l.contains("rename") && l.contains("\"file\""))
        .unwrap_or_else(|| panic!("the file was never renamed into place:\n{trace}"));
    for &i in made.iter().filter(|&&i| i < placed) {
        assert!(
            lines[i + 1..placed]
                .iter()
                .any(|l| l.contains("fsync(") || l.contains("syncfs(") || l.contains("sync()")),
            "no sync between {} and the file's rename:\n{trace}",
            lines[i]
        );
    }
}

/// The system calls `calls` (strace's `trace=` list) of one cloudboot run
/// with `args` on `m`'s root, which must succeed.
fn traced(m: &Machine, args: &[&str], calls: &str) -> String {
    let trace = tempfile::NamedTempFile::new().unwrap();
    // -y: each descriptor with its path (which filesystem a syncfs flushed).
    let out = Command::new("strace")
        .args(["-f", "-qq", "-y", "-e", &format!("trace={calls}")])
        .arg("-o")
        .arg(trace.path())
        .arg(BIN)
        .arg("--root")
        .arg(m.root())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs::read_to_string(trace.path()).unwrap()
}

#[test]
fn a_stage_ends_synced_and_one_that_changed_only_its_status_syncs_once() {
    if !skip::require(&[skip::Need::Program("strace", "strace")]) {
        return;
    }
    // Modules that only write files: no host keys made, none removed.
    let m = Machine::seeded(
        META,
        "#cloud-config\nwrite_files:\n  - path: /etc/app.conf\n    content: x\nssh_genkeytypes: []\nssh_deletekeys: false\n",
    );
    m.run_ok(&["init", "--local"], 0);
    let calls = "syncfs,sync,rename,renameat,renameat2";
    // A first boot's network stage: the last semaphore (written at once,
    // durable at the next settle) is followed by a sync before the stage
    // ends, so a power cut after it runs no module twice.
    let first = traced(&m, &["init"], calls);
    let lines: Vec<&str> = first.lines().collect();
    // The module's file is renamed into place and synced before its
    // semaphore is written.
    let at = |what: &str| {
        lines
            .iter()
            .position(|l| l.contains("rename") && l.contains(what))
            .unwrap_or_else(|| panic!("no rename of {what}:\n{first}"))
    };
    let (file, sem) = (at("\"app.conf\""), at("\"config_write_files\""));
    assert!(
        file < sem && lines[file..sem].iter().any(|l| l.contains("syncfs(")),
        "write_files' semaphore before a sync of its file:\n{first}"
    );
    // Every semaphore: a sync between the renames before it and its own
    // (reports aside: losing one leaves its previous version).
    let is_sem = |l: &str| l.contains("rename") && l.contains("\"config_");
    let is_report = |l: &str| {
        ["status.json", "result.json", "boot-finished"]
            .iter()
            .any(|r| l.contains(&format!("\"{r}\"")))
    };
    for (i, l) in lines.iter().enumerate().filter(|(_, l)| is_sem(l)) {
        let other = lines[..i]
            .iter()
            .rposition(|l| l.contains("rename") && !is_sem(l) && !is_report(l));
        if let Some(j) = other {
            assert!(
                lines[j..i].iter().any(|l| l.contains("syncfs(")),
                "{l} came after {} with no sync between:\n{first}",
                lines[j]
            );
        }
    }
    // A stage that only writes files syncs three times, however many
    // modules it runs: their files, their semaphores, its end.
    let syncs = lines.iter().filter(|l| l.contains("syncfs(")).count();
    assert_eq!(syncs, 3, "{first}");
    let last_sem = lines
        .iter()
        .rposition(|l| is_sem(l))
        .unwrap_or_else(|| panic!("no semaphore written:\n{first}"));
    assert!(
        lines[last_sem..].iter().any(|l| l.contains("syncfs(")),
        "the last semaphore is not synced before the stage ends:\n{first}"
    );
    // A reboot's network stage changes nothing but its reports (status.json,
    // and the YAML it parsed, if it parsed new, kept for the next stage): one flush
    // for their content, then their renames (losing one to a power cut
    // leaves its previous whole version).
    m.reboot();
    m.run_ok(&["init", "--local"], 0);
    let reboot = traced(&m, &["init"], calls);
    let syncs = reboot.lines().filter(|l| l.contains("syncfs(")).count();
    // (Temporary files renamed over their names; the journal of temporary
    // files taken over from the last stage is renamed too: see temp.rs.)
    let renamed: Vec<&str> = reboot
        .lines()
        .filter(|l| l.contains("rename") && l.contains(".cloudboot-"))
        .collect();
    assert_eq!(syncs, 1, "{reboot}");
    assert!(
        renamed.iter().any(|l| l.contains("\"status.json\""))
            && renamed.iter().all(|l| {
                l.contains("\"status.json\"") || l.contains("\"cloudboot-yaml-cache\"")
            }),
        "{reboot}"
    );
}

/// A filesystem mounted inside the root for one test, unmounted after.
struct Mounted(std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_file_on_a_filesystem_of_its_own_is_flushed_before_it_is_renamed_into_place() {
    if !skip::require(&[
        skip::Need::Root("to mount a filesystem inside the scratch root"),
        skip::Need::Program("strace", "strace"),
        skip::Need::Program("mkfs.ext4", "e2fsprogs"),
    ]) {
        return;
    }
    // An image's /srv (as its /var or /home may be) on a disk filesystem of
    // its own (ext4 on a loop device): the root's syncfs does not flush it.
    let m = Machine::seeded(
        META,
        "#cloud-config\nwrite_files:\n  - path: /srv/app/app.conf\n    content: x\n",
    );
    let disk = tempfile::NamedTempFile::new().unwrap();
    disk.as_file().set_len(8 << 20).unwrap();
    let made = Command::new("mkfs.ext4")
        .args(["-q", "-F"])
        .arg(disk.path())
        .status()
        .unwrap();
    assert!(made.success(), "mkfs.ext4 {}", disk.path().display());
    let srv = m.path("/srv");
    fs::create_dir_all(&srv).unwrap();
    let mounted = Command::new("mount")
        .args(["-o", "loop"])
        .arg(disk.path())
        .arg(&srv)
        .status()
        .unwrap();
    assert!(mounted.success(), "mount -o loop on {}", srv.display());
    let _unmount = Mounted(srv.clone());
    m.run_ok(&["init", "--local"], 0);
    let trace = traced(&m, &["init"], "syncfs,sync,rename,renameat,renameat2");
    assert_eq!(m.read("/srv/app/app.conf"), "x");
    let lines: Vec<&str> = trace.lines().collect();
    let placed = lines
        .iter()
        .position(|l| l.contains("rename") && l.contains("\"app.conf\""))
        .unwrap_or_else(|| panic!("app.conf was never renamed into place:\n{trace}"));
    // Its content flushed (a syncfs of a descriptor on /srv, or a sync of
    // every filesystem) before its rename; and the rename itself before
    // the semaphore that says write_files ran.
    let on_srv = format!("<{}", srv.display());
    let flushes_srv =
        |l: &&str| (l.contains("syncfs(") && l.contains(&on_srv)) || l.contains("sync()");
    assert!(
        lines[..placed].iter().any(flushes_srv),
        "/srv not flushed before app.conf's rename:\n{trace}"
    );
    let sem = lines
        .iter()
        .position(|l| l.contains("rename") && l.contains("\"config_write_files\""))
        .unwrap_or_else(|| panic!("no semaphore for write_files:\n{trace}"));
    assert!(
        lines[placed..sem].iter().any(flushes_srv),
        "write_files' semaphore before /srv was flushed again:\n{trace}"
    );
}

#[test]
fn files_in_memory_are_in_place_at_once_and_cost_no_sync() {
    if !skip::require(&[
        skip::Need::Root("to mount a tmpfs on the scratch root's /run"),
        skip::Need::Program("strace", "strace"),
    ]) {
        return;
    }
    let m = Machine::seeded(META, "#cloud-config\n{}\n");
    let boot = |m: &Machine| -> Mounted {
        // /run as a booted machine has it: a tmpfs, empty at each boot.
        let run = m.path("/run");
        let _ = fs::remove_dir_all(&run);
        fs::create_dir_all(&run).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m", "cloudboot-run"])
            .arg(&run)
            .status()
            .unwrap();
        assert!(mounted.success(), "mount -t tmpfs on {}", run.display());
        Mounted(run)
    };
    let first = boot(&m);
    for args in [
        &["init", "--local"][..],
        &["init"],
        &["modules", "--mode=config"],
    ] {
        m.run_ok(args, 0);
    }
    drop(first);
    let _run = boot(&m);
    // A reboot's local stage writes instance-data.json and the rest in
    // /run again, and only status.json on the disk: one flush, for it.
    let trace = traced(
        &m,
        &["init", "--local"],
        "syncfs,sync,rename,renameat,renameat2",
    );
    let syncs = trace.lines().filter(|l| l.contains("syncfs(")).count();
    assert_eq!(syncs, 1, "{trace}");
    assert!(m.exists("/run/cloud-init/instance-data.json"));
    let in_run = format!("<{}", m.path("/run").display());
    let first_sync = trace.lines().position(|l| l.contains("syncfs(")).unwrap();
    let late: Vec<&str> = trace
        .lines()
        .skip(first_sync)
        .filter(|l| l.contains("rename") && l.contains(&in_run))
        .collect();
    assert!(
        late.is_empty(),
        "renamed into /run after a sync: {late:?}\n{trace}"
    );
}
