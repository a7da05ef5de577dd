//! Whole boots against a temporary root: cloud-init's layout, semaphores,
//! frequencies, instance-id changes, and the commands that read that state.

mod common;

use common::*;

const USER: &str = "#cloud-config\nwrite_files:\n  - path: /etc/motd\n    content: hello\nruncmd:\n  - [echo, \"it's\"]\n  - ls -l\n";

#[test]
fn first_boot_leaves_cloud_init_layout() {
    let m = Machine::seeded(META, USER);
    m.run_ok(&["init", "--local"], 0);
    // After the local stage of a first boot: no previous instance.
    assert_eq!(
        m.read("/var/lib/cloud/data/previous-instance-id"),
        "NO_PREVIOUS_INSTANCE_ID\n"
    );
    m.run_ok(&["init"], 0);
    m.run_ok(&["modules", "--mode=config"], 0);
    m.run_ok(&["modules", "--mode=final"], 0);

    for d in [
        "/var/lib/cloud/scripts/per-boot",
        "/var/lib/cloud/scripts/per-instance",
        "/var/lib/cloud/scripts/per-once",
        "/var/lib/cloud/scripts/vendor",
        "/var/lib/cloud/seed",
        "/var/lib/cloud/sem",
        "/var/lib/cloud/handlers",
        "/var/lib/cloud/data",
        "/run/cloud-init/sem",
        "/var/lib/cloud/instances/iid-test-1/handlers",
        "/var/lib/cloud/instances/iid-test-1/scripts",
        "/var/lib/cloud/instances/iid-test-1/sem",
    ] {
        assert!(m.path(d).is_dir(), "{d} is a directory");
        assert_eq!(m.mode(d), 0o755, "{d} mode");
    }
    assert_eq!(
        std::fs::read_link(m.path("/var/lib/cloud/instance")).unwrap(),
        std::path::Path::new("/var/lib/cloud/instances/iid-test-1")
    );
    assert_eq!(m.read("/var/lib/cloud/data/instance-id"), "iid-test-1\n");
    assert_eq!(m.read("/run/cloud-init/.instance-id"), "iid-test-1\n");
    // The network stage read what the local stage wrote (cloud-init does the same).
    assert_eq!(
        m.read("/var/lib/cloud/data/previous-instance-id"),
        "iid-test-1\n"
    );
    assert_eq!(
        m.read("/var/lib/cloud/instances/iid-test-1/datasource"),
        "DataSourceNoCloud: DataSourceNoCloud [seed=/var/lib/cloud/seed/nocloud][dsmode=net]\n"
    );
    // user-data stored raw and processed, owner-only.
    assert_eq!(
        m.read("/var/lib/cloud/instances/iid-test-1/user-data.txt"),
        USER
    );
    assert_eq!(
        m.mode("/var/lib/cloud/instances/iid-test-1/user-data.txt"),
        0o600
    );
    let processed = m.read("/var/lib/cloud/instances/iid-test-1/user-data.txt.i");
    assert!(processed.starts_with("Content-Type: multipart/mixed; boundary=\""));
    assert!(processed.contains("Number-Attachments: 1\n"));
    assert!(processed.contains("Content-Disposition: attachment; filename=\"part-001\""));
    // Byte for byte what cloud-init 22.4's CloudConfigPartHandler writes
    // for USER (its header, then `safeyaml.dumps` of the merged config).
    assert_eq!(
        m.read("/var/lib/cloud/instances/iid-test-1/cloud-config.txt"),
        "#cloud-config\n\n# from 1 files\n# part-001\n\n---\nruncmd:\n-   - echo\n    - it's\n- ls -l\nwrite_files:\n-   content: hello\n    path: /etc/motd\n...\n"
    );

    // Semaphores: per-instance modules and consume_data, cloud-init's names and content.
    for sem in [
        "config_write_files",
        "config_runcmd",
        "config_scripts_user",
        "consume_data",
    ] {
        let p = format!("/var/lib/cloud/instances/iid-test-1/sem/{sem}");
        let content = m.read(&p);
        assert!(is_sem_content(&content), "{p}: {content:?}");
        assert_eq!(m.mode(&p), 0o644);
    }
    // write_files_deferred has its key (write_files) so it ran, with nothing deferred.
    assert!(m.exists("/var/lib/cloud/instances/iid-test-1/sem/config_write_files_deferred"));

    // What the modules did.
    assert_eq!(m.read("/etc/motd"), "hello");
    assert_eq!(m.mode("/etc/motd"), 0o644);
    assert_eq!(
        m.read("/var/lib/cloud/instances/iid-test-1/scripts/runcmd"),
        "#!/bin/sh\n'echo' 'it'\\''s'\nls -l\n"
    );
    assert_eq!(
        m.mode("/var/lib/cloud/instances/iid-test-1/scripts/runcmd"),
        0o700
    );

    // status.json and result.json, with the /run links cloud-init makes.
    assert_eq!(
        std::fs::read_link(m.path("/run/cloud-init/status.json")).unwrap(),
        std::path::Path::new("../../var/lib/cloud/data/status.json")
    );
    assert_eq!(
        std::fs::read_link(m.path("/run/cloud-init/result.json")).unwrap(),
        std::path::Path::new("../../var/lib/cloud/data/result.json")
    );
    let status: serde_json::Value =
        serde_json::from_str(&m.read("/var/lib/cloud/data/status.json")).unwrap();
    for mode in ["init-local", "init", "modules-config", "modules-final"] {
        let st = &status["v1"][mode];
        assert_eq!(st["errors"], serde_json::json!([]), "{mode}");
        assert!(st["start"].as_f64().unwrap() > 1.0e9, "{mode} start");
        assert!(st["finished"].as_f64().unwrap() >= st["start"].as_f64().unwrap());
    }
    assert_eq!(
        status["v1"]["modules-init"]["start"],
        serde_json::Value::Null
    );
    assert_eq!(status["v1"]["stage"], serde_json::Value::Null);
    assert_eq!(
        m.read("/var/lib/cloud/data/result.json"),
        "{\n \"v1\": {\n  \"datasource\": \"DataSourceNoCloud [seed=/var/lib/cloud/seed/nocloud][dsmode=net]\",\n  \"errors\": []\n }\n}\n"
    );
    // Logs under the root, cloud-init's format.
    let log = m.read("/var/log/cloud-init.log");
    assert!(log.contains("running 'init-local' at"), "{log}");
    assert_eq!(m.mode("/var/log/cloud-init.log"), 0o640);
    assert!(m
        .read("/var/log/cloud-init-output.log")
        .contains("running 'modules:final'"));
}

#[test]
fn second_boot_skips_per_instance_modules_and_says_why() {
    let m = Machine::seeded(META, USER);
    m.boot();
    let sem_before = m.read("/var/lib/cloud/instances/iid-test-1/sem/config_write_files");
    m.write("/etc/motd", "edited by the admin");
    m.reboot();
    m.boot();
    assert_eq!(
        m.read("/etc/motd"),
        "edited by the admin",
        "write_files must not run again"
    );
    assert_eq!(
        m.read("/var/lib/cloud/instances/iid-test-1/sem/config_write_files"),
        sem_before
    );
    let log = m.read("/var/log/cloud-init.log");
    for module in ["write_files", "runcmd", "scripts_user"] {
        assert!(
            log.contains(&format!(
                "config-{module} already ran (freq=once-per-instance)"
            )),
            "log lacks the skip of {module}"
        );
    }
    let status = m.run_ok(&["status", "--long", "--modules"], 0);
    assert!(status.starts_with("status: done\n"), "{status}");
    assert!(
        status.contains("write_files: skipped (already ran (freq=once-per-instance): semaphore /var/lib/cloud/instances/iid-test-1/sem/config_write_files written "),
        "{status}"
    );
    assert!(status.contains("runcmd: skipped (already ran"), "{status}");
}

#[test]
fn new_instance_id_reruns_per_instance_modules() {
    let m = Machine::seeded(META, USER);
    m.boot();
    m.write("/etc/motd", "edited");
    m.reboot();
    m.seed("instance-id: iid-test-2\n", USER);
    m.run_ok(&["init", "--local"], 0);
    assert_eq!(
        m.read("/var/lib/cloud/data/previous-instance-id"),
        "iid-test-1\n"
    );
    m.run_ok(&["init"], 0);
    m.run_ok(&["modules", "--mode=config"], 0);
    m.run_ok(&["modules", "--mode=final"], 0);
    assert_eq!(m.read("/etc/motd"), "hello");
    assert_eq!(
        std::fs::read_link(m.path("/var/lib/cloud/instance")).unwrap(),
        std::path::Path::new("/var/lib/cloud/instances/iid-test-2")
    );
    for sem in [
        "config_write_files",
        "config_runcmd",
        "config_scripts_user",
        "consume_data",
    ] {
        assert!(
            m.exists(&format!("/var/lib/cloud/instances/iid-test-2/sem/{sem}")),
            "{sem}"
        );
    }
    // The old instance's state is kept, as cloud-init keeps it.
    assert!(m.exists("/var/lib/cloud/instances/iid-test-1/sem/config_write_files"));
}

#[test]
fn per_once_never_reruns_and_per_always_always_does() {
    let m = Machine::seeded(META, USER);
    m.write(
        "/etc/cloud/cloud.cfg",
        "cloud_init_modules:\n - [write_files, once]\ncloud_config_modules:\n - [runcmd, always]\ncloud_final_modules: []\n",
    );
    m.boot();
    assert!(is_sem_content(
        &m.read("/var/lib/cloud/sem/config_write_files.once")
    ));
    assert!(!m.exists("/var/lib/cloud/instances/iid-test-1/sem/config_write_files"));
    assert!(!m.exists("/var/lib/cloud/instances/iid-test-1/sem/config_runcmd"));
    // A new instance-id re-runs nothing that is per-once...
    m.write("/etc/motd", "edited");
    std::fs::remove_file(m.path("/var/lib/cloud/instances/iid-test-1/scripts/runcmd")).unwrap();
    m.reboot();
    m.seed("instance-id: iid-test-2\n", USER);
    m.boot();
    assert_eq!(m.read("/etc/motd"), "edited");
    // ...and per-always runs on every boot, writing no semaphore.
    assert!(m.exists("/var/lib/cloud/instances/iid-test-2/scripts/runcmd"));
    std::fs::remove_file(m.path("/var/lib/cloud/instances/iid-test-2/scripts/runcmd")).unwrap();
    m.reboot();
    m.boot();
    assert!(m.exists("/var/lib/cloud/instances/iid-test-2/scripts/runcmd"));
    assert!(!m.exists("/var/lib/cloud/instances/iid-test-2/sem/config_runcmd"));
    assert!(!m.exists("/var/lib/cloud/sem/config_runcmd.always"));
}

#[test]
fn modules_without_their_keys_are_skipped_without_a_semaphore() {
    let m = Machine::seeded(META, "#cloud-config\nruncmd: [ls]\n");
    m.boot();
    assert!(!m.exists("/var/lib/cloud/instances/iid-test-1/sem/config_write_files"));
    assert!(!m.exists("/var/lib/cloud/instances/iid-test-1/sem/config_write_files_deferred"));
    assert!(m.exists("/var/lib/cloud/instances/iid-test-1/sem/config_runcmd"));
    let status = m.run_ok(&["status", "--long", "--modules"], 0);
    assert!(
        status.contains("write_files: skipped (no applicable config: none of write_files is set)"),
        "{status}"
    );
    // disk_setup (activated by disk_setup or fs_setup) is among them, as
    // in cloud-init's own list.
    assert!(m.read("/var/log/cloud-init.log").contains(
        "Skipping modules 'bootcmd,write_files,disk_setup,update_etc_hosts,resolv_conf,ca_certs,rsyslog' because no applicable config is provided."
    ));
}

#[test]
fn semaphores_left_by_cloud_init_are_honoured() {
    // A root as cloud-init 22.4 leaves it after a first boot (no cloudboot cache).
    let m = Machine::seeded(META, USER);
    let i = m.idir("iid-test-1");
    m.write("/var/lib/cloud/data/instance-id", "iid-test-1\n");
    m.write(
        &format!("{i}/sem/config_write_files"),
        "812: 1700000000.25\n",
    );
    m.write(&format!("{i}/sem/config-runcmd"), "812: 1700000001.5\n"); // 22.4's legacy dashed name
    m.write(&format!("{i}/obj.pkl"), "pickled");
    std::os::unix::fs::symlink(&i, m.path("/var/lib/cloud/instance")).unwrap();
    m.boot();
    assert!(
        !m.exists("/etc/motd"),
        "write_files already ran under cloud-init"
    );
    assert!(
        !m.exists(&format!("{i}/scripts/runcmd")),
        "runcmd already ran under cloud-init"
    );
    assert_eq!(
        m.read(&format!("{i}/sem/config_write_files")),
        "812: 1700000000.25\n"
    );
    let status = m.run_ok(&["status", "--long", "--modules"], 0);
    assert!(
        status.contains("write_files: skipped (already ran (freq=once-per-instance): semaphore /var/lib/cloud/instances/iid-test-1/sem/config_write_files written 2023-11-14 22:13:20 UTC by pid 812)"),
        "{status}"
    );
    // migrator (first in the network stage) renamed the dashed semaphore
    // to the canonical name, as 22.4's does; runcmd honours it there.
    assert!(status.contains("/sem/config_runcmd written"), "{status}");
    assert!(!m.exists(&format!("{i}/sem/config-runcmd")));
    assert_eq!(
        m.read(&format!("{i}/sem/config_runcmd")),
        "812: 1700000001.5\n"
    );
}

#[test]
fn single_honours_semaphores_unless_forced() {
    let m = Machine::seeded(META, USER);
    m.boot();
    m.write("/etc/motd", "edited");
    m.run_ok(&["single", "--name", "write_files"], 0);
    assert_eq!(m.read("/etc/motd"), "edited");
    m.run_ok(
        &["single", "--name", "write-files", "--frequency", "always"],
        0,
    );
    assert_eq!(m.read("/etc/motd"), "hello");
    m.write("/etc/motd", "edited again");
    m.run_ok(
        &["single", "--name=cc_write_files", "--frequency=always"],
        0,
    );
    assert_eq!(m.read("/etc/motd"), "hello");
    m.run_ok(&["single", "--name", "does_not_exist"], 1);
    let out = m.run(&[
        "single",
        "--name",
        "write_files",
        "--frequency",
        "sometimes",
    ]);
    assert_eq!(out.status.code(), Some(2));
    // Without any datasource (None not allowed), single has nothing to work with.
    let empty = Machine::new();
    empty.write("/etc/cloud/cloud.cfg", "datasource_list: [NoCloud]\n");
    empty.run_ok(&["single", "--name", "write_files"], 1);
    // With the fallback datasource allowed (the default), it runs.
    let fallback = Machine::new();
    fallback.run_ok(&["single", "--name", "write_files"], 0);
}

#[test]
fn no_seed_falls_back_to_the_none_datasource() {
    let m = Machine::new();
    m.write("/etc/cloud/cloud.cfg", "datasource:\n  None:\n    userdata_raw: |\n      #cloud-config\n      write_files: [{path: /etc/from-none, content: x}]\n");
    m.boot();
    assert_eq!(
        m.read("/var/lib/cloud/data/instance-id"),
        "iid-datasource-none\n"
    );
    assert_eq!(m.read("/etc/from-none"), "x");
    assert!(m.exists("/var/lib/cloud/instances/iid-datasource-none/sem/config_write_files"));
    let status = m.run_ok(&["status", "--format", "json"], 0);
    let j: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(j["datasource"], "none");
    assert_eq!(j["status"], "done");
    for key in [
        "_schema_version",
        "boot_status_code",
        "detail",
        "errors",
        "last_update",
        "schemas",
    ] {
        assert!(j.get(key).is_some(), "{key}");
    }
}

#[test]
fn dsmode_local_runs_everything_in_the_local_stage() {
    let m = Machine::seeded("instance-id: iid-local\ndsmode: local\n", USER);
    m.run_ok(&["init", "--local"], 0);
    assert_eq!(
        m.read("/etc/motd"),
        "hello",
        "init modules ran in the local stage"
    );
    m.run_ok(&["init"], 0);
    let log = m.read("/var/log/cloud-init.log");
    assert!(
        !log.contains("config-write_files already ran"),
        "the network stage did not run modules"
    );
    let status: serde_json::Value =
        serde_json::from_str(&m.read("/var/lib/cloud/data/status.json")).unwrap();
    let lines = &status["cloudboot"]["init"];
    assert_eq!(lines, &serde_json::json!([]), "network stage exited early");
}

#[test]
fn status_reports_errors_and_query_reads_instance_data() {
    let m = Machine::seeded(META, "#cloud-config\nruncmd: 5\n");
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 0);
    m.run_ok(&["modules", "--mode=config"], 1);
    m.run_ok(&["modules", "--mode=final"], 0);
    let status = m.run_ok(&["status"], 1);
    assert_eq!(status, "status: error\n");
    let long = m.run_ok(&["status", "--long", "--modules"], 1);
    assert!(
        long.contains(
            "runcmd: user-data, line 2, column 1: runcmd: expected a list, found int (5)"
        ),
        "{long}"
    );
    assert!(long.contains("runcmd: failed (1 error(s))"), "{long}");
    // A failed module still leaves its semaphore (cloud-init's clear_on_fail=False).
    assert!(m.exists("/var/lib/cloud/instances/iid-test-1/sem/config_runcmd"));

    assert_eq!(m.run_ok(&["query", "v1.instance_id"], 0), "iid-test-1\n");
    assert_eq!(m.run_ok(&["query", "v1.local-hostname"], 0), "testhost\n");
    m.run_ok(&["query", "nosuchkey"], 1);
    m.run_ok(&["query"], 1);
    let keys = m.run_ok(&["query", "--list-keys", "v1"], 0);
    assert!(keys.lines().any(|l| l == "cloud_name"), "{keys}");
    assert_eq!(m.mode("/run/cloud-init/instance-data.json"), 0o644);
    assert_eq!(
        m.mode("/run/cloud-init/instance-data-sensitive.json"),
        0o600
    );
    assert!(m
        .read("/run/cloud-init/instance-data.json")
        .contains("\"merged_cfg\": \"redacted for non-root user\""));
}

#[test]
fn clean_removes_state_but_keeps_the_seed() {
    let m = Machine::seeded(META, USER);
    m.boot();
    m.run_ok(&["clean", "--logs"], 0);
    let left: Vec<String> = std::fs::read_dir(m.path("/var/lib/cloud"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["seed"]);
    assert!(!m.exists("/var/log/cloud-init.log"));
    assert!(!m.exists("/var/log/cloud-init-output.log"));
    m.run_ok(&["clean", "--seed"], 0);
    assert!(!m.exists("/var/lib/cloud/seed"));
    // After a clean the next boot is a first boot again.
    m.seed(META, USER);
    m.boot();
    assert!(m.exists("/var/lib/cloud/instances/iid-test-1/sem/config_write_files"));
}

#[test]
fn boot_finished_and_the_final_message() {
    let m = Machine::seeded(
        META,
        "#cloud-config\nfinal_message: \"done: $version up ${UPTIME}\"\n",
    );
    m.boot();
    let bf = m.read("/var/lib/cloud/instances/iid-test-1/boot-finished");
    // "<uptime> - <RFC 2822 date> - v. <version>\n"
    let parts: Vec<&str> = bf.trim_end().split(" - ").collect();
    assert_eq!(parts.len(), 3, "{bf}");
    assert!(parts[0].parse::<f64>().is_ok(), "{bf}");
    assert!(
        parts[1].ends_with(" +0000") && parts[1].contains(", "),
        "{bf}"
    );
    assert!(parts[2].starts_with("v. "), "{bf}");
    let out = m.read("/var/log/cloud-init-output.log");
    assert!(
        out.contains(concat!(
            "done: 22.4.2-cloudboot",
            env!("CARGO_PKG_VERSION"),
            " up "
        )),
        "{out}"
    );
    // PER_ALWAYS: no semaphore; and the next local stage removes boot-finished.
    assert!(!m.exists("/var/lib/cloud/instances/iid-test-1/sem/config_final_message"));
    m.reboot();
    m.run_ok(&["init", "--local"], 0);
    assert!(!m.exists("/var/lib/cloud/instances/iid-test-1/boot-finished"));
}

#[test]
fn the_default_final_message_and_the_fallback_warning() {
    let m = Machine::new();
    m.boot();
    let out = m.read("/var/log/cloud-init-output.log");
    assert!(
        out.contains(&format!(
            "Cloud-init v. 22.4.2-cloudboot{} finished at ",
            env!("CARGO_PKG_VERSION")
        )) && out.contains(". Datasource DataSourceNone.  Up "),
        "{out}"
    );
    assert!(m
        .read("/var/log/cloud-init.log")
        .contains("[WARNING]: Used fallback datasource"));
}

#[test]
fn a_seed_that_appears_after_a_fallback_boot_is_found() {
    let m = Machine::new();
    m.boot();
    assert_eq!(
        m.read("/var/lib/cloud/data/instance-id"),
        "iid-datasource-none\n"
    );
    m.reboot();
    m.seed(
        META,
        "#cloud-config\nwrite_files: [{path: /etc/x, content: y}]\n",
    );
    m.boot();
    assert_eq!(m.read("/var/lib/cloud/data/instance-id"), "iid-test-1\n");
    assert_eq!(
        m.read("/var/lib/cloud/data/previous-instance-id"),
        "iid-test-1\n"
    );
    // cloud-init takes "previous" from the *new* instance's directory, so a
    // first boot of an instance records its own datasource there.
    assert_eq!(
        m.read("/var/lib/cloud/data/previous-datasource"),
        "DataSourceNoCloud: DataSourceNoCloud [seed=/var/lib/cloud/seed/nocloud][dsmode=net]\n"
    );
    assert_eq!(m.read("/etc/x"), "y");
}

#[test]
fn status_wait_returns_when_the_boot_finishes() {
    let m = Machine::seeded(META, "#cloud-config\n{}\n");
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 0);
    m.run_ok(&["modules", "--mode=config"], 0);
    assert_eq!(m.run_ok(&["status"], 0), "status: running\n");
    let waiter = std::process::Command::new(BIN)
        .arg("--root")
        .arg(m.root())
        .args(["status", "--wait"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(600));
    m.run_ok(&["modules", "--mode=final"], 0);
    let out = waiter.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with('.') && text.ends_with("\nstatus: done\n"),
        "{text:?}"
    );
}
