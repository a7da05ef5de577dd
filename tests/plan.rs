//! `plan`: the same decisions as a boot, printed; nothing written.

mod common;

use common::*;

const USER: &str = "#cloud-config\nwrite_files:\n  - path: /etc/app.conf\n    content: |\n      port=80\n  - path: /etc/secret.key\n    permissions: '0600'\n    content: hunter2-private\nruncmd:\n  - [touch, /var/tmp/x]\n";

#[test]
fn plan_of_a_fresh_root_writes_nothing_and_lists_everything() {
    let m = Machine::seeded(META, USER);
    m.write("/etc/app.conf", "port=8080\n");
    let before = m.snapshot();
    let text = m.run_ok(&["plan"], 0);
    assert_eq!(m.snapshot(), before, "plan changed the root");

    // Every file it would write, with a diff against what is there.
    assert!(
        text.contains("write /etc/app.conf (0644 root:root, 8 bytes) [changed]"),
        "{text}"
    );
    assert!(
        text.contains("-port=8080\n") && text.contains("+port=80\n"),
        "{text}"
    );
    assert!(
        text.contains("write /etc/secret.key (0600 root:root, 15 bytes, secret) [new file]"),
        "{text}"
    );
    assert!(
        text.contains(
            "write /var/lib/cloud/instances/iid-test-1/scripts/runcmd (0700, 31 bytes, not world-readable) [new file]"
        ),
        "{text}"
    );
    // A file others may not read (the runcmd script, 0700) is not printed:
    // scripts carry tokens and passwords as often as keys do.
    assert!(!text.contains("'touch' '/var/tmp/x'"), "{text}");
    // Every command it would run: the runcmd script the config stage writes
    // is seen by the final stage's scripts_user through the overlay.
    assert!(
        text.contains("run-parts /var/lib/cloud/instance/scripts [runcmd]"),
        "{text}"
    );
    // Each module with its decision and its semaphore.
    assert!(
        text.contains("write_files [once-per-instance]: would run (2 effects; semaphore /var/lib/cloud/instances/iid-test-1/sem/config_write_files)"),
        "{text}"
    );
    assert!(
        text.contains("write /var/lib/cloud/instances/iid-test-1/sem/config_write_files (0644"),
        "{text}"
    );
    assert!(
        text.contains(
            "final_message [always]: would run (2 effects; runs every boot, no semaphore)"
        ),
        "{text}"
    );
    // Secrets never appear: not the key, not user-data.
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("content <redacted>"));
}

#[test]
fn plan_after_a_boot_says_why_modules_are_skipped() {
    let m = Machine::seeded(META, USER);
    m.boot();
    m.reboot();
    let before = m.snapshot();
    let text = m.run_ok(&["plan"], 0);
    assert_eq!(m.snapshot(), before, "plan changed the root");
    assert!(
        text.contains("write_files [once-per-instance]: skipped (already ran (freq=once-per-instance): semaphore /var/lib/cloud/instances/iid-test-1/sem/config_write_files written "),
        "{text}"
    );
    assert!(
        text.contains("runcmd [once-per-instance]: skipped (already ran"),
        "{text}"
    );
    // A new instance-id: the plan says they would run again.
    m.seed("instance-id: iid-test-2\n", USER);
    let before = m.snapshot();
    let text = m.run_ok(&["plan", "--stage", "all"], 0);
    assert_eq!(m.snapshot(), before, "plan changed the root");
    assert!(
        text.contains("instance-id: iid-test-2, new instance"),
        "{text}"
    );
    assert!(
        text.contains("write_files [once-per-instance]: would run"),
        "{text}"
    );
}

#[test]
fn plan_json_has_every_stage_module_and_effect() {
    let m = Machine::seeded(META, USER);
    let before = m.snapshot();
    let out = m.run_ok(&["plan", "--format", "json"], 0);
    assert_eq!(m.snapshot(), before);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    let stages: Vec<&str> = j["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["local", "network", "config", "final"]);
    let network = &j["stages"][1];
    let wf = network["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "write_files")
        .unwrap();
    assert_eq!(wf["result"], "ran");
    let paths: Vec<&str> = wf["effects"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["path"].as_str())
        .collect();
    assert!(
        paths.contains(&"/etc/app.conf") && paths.contains(&"/etc/secret.key"),
        "{paths:?}"
    );
    assert!(!out.contains("hunter2"));
    // One stage alone.
    let one = m.run_ok(&["plan", "--stage", "config", "--format", "json"], 0);
    let j: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert_eq!(j["stages"].as_array().unwrap().len(), 1);
}
