//! stages.yaml is checked before anything runs; an image's cloud.cfg module
//! lists decide placement as they do for cloud-init.

mod common;

use common::*;

fn refused(stages_yaml: &str, expected: &str) {
    let m = Machine::seeded(META, "#cloud-config\nruncmd: [ls]\n");
    let file = m.dir.path().join("stages-under-test.yaml");
    std::fs::write(&file, stages_yaml).unwrap();
    let before = m.snapshot();
    for args in [
        &["init", "--local"][..],
        &["modules", "--mode=final"][..],
        &["plan"][..],
    ] {
        let out = std::process::Command::new(BIN)
            .arg("--root")
            .arg(m.root())
            .arg("--stages")
            .arg(&file)
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(
            stderr.trim_end(),
            format!("cloudboot: {}: {expected}", file.display()),
            "{args:?}"
        );
    }
    assert_eq!(m.snapshot(), before, "nothing may run with a bad stage map");
}

#[test]
fn a_cycle_is_refused() {
    refused(
        "stages:\n  final:\n    modules:\n      - {name: scripts_user, after: [write_files_deferred]}\n      - {name: write_files_deferred, after: [scripts_user]}\n",
        "the 'after' edges of modules 'scripts_user', 'write_files_deferred' form a cycle",
    );
}

#[test]
fn an_unknown_module_is_refused() {
    refused(
        "stages:\n  config:\n    modules: [runcmd, frobnicate]\n",
        "stage 'config' lists unknown module 'frobnicate'",
    );
}

#[test]
fn an_edge_to_a_later_stage_is_refused() {
    refused(
        "stages:\n  network:\n    modules:\n      - {name: write_files, after: [runcmd]}\n  config:\n    modules: [runcmd]\n",
        "module 'write_files' (stage network) runs after 'runcmd', which runs in the later stage config",
    );
}

#[test]
fn a_duplicate_is_refused() {
    refused(
        "stages:\n  network:\n    modules: [write_files]\n  final:\n    modules: [write-files]\n",
        "module 'write_files' is listed twice (stage network and stage final)",
    );
}

/// The root's own stages.yaml is read at boot: one that cannot be used
/// (here: a module this cloudboot lacks, as a newer cloudboot's file may
/// name) is reported, and the boot goes on with the built-in map rather
/// than running nothing at all.
#[test]
fn a_bad_stages_yaml_in_the_root_falls_back_to_the_built_in_one() {
    let m = Machine::seeded(
        META,
        "#cloud-config\nwrite_files: [{path: /etc/x, content: y}]\n",
    );
    m.write(
        "/etc/cloudboot/stages.yaml",
        "stages:\n  config:\n    modules: [runcmd, frobnicate]\n",
    );
    m.run_ok(&["init", "--local"], 0);
    let out = m.run(&["init"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "cloudboot: /etc/cloudboot/stages.yaml: stage 'config' lists unknown module 'frobnicate'; \
             the built-in stage map is used instead"
        ),
        "{stderr}"
    );
    // write_files ran where the built-in map places it.
    assert_eq!(m.read("/etc/x"), "y");
}

#[test]
fn stages_yaml_in_the_root_replaces_the_built_in_one() {
    let m = Machine::seeded(
        META,
        "#cloud-config\nwrite_files: [{path: /etc/x, content: y}]\nruncmd: [ls]\n",
    );
    // Move write_files to the final stage and drop runcmd.
    m.write(
        "/etc/cloudboot/stages.yaml",
        "stages:\n  local: {datasources: [NoCloud]}\n  network: {datasources: [NoCloud, None]}\n  final:\n    modules: [write_files]\n",
    );
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 0);
    assert!(!m.exists("/etc/x"));
    m.run_ok(&["modules", "--mode=config"], 0);
    m.run_ok(&["modules", "--mode=final"], 0);
    assert_eq!(m.read("/etc/x"), "y");
    assert!(!m.exists("/var/lib/cloud/instances/iid-test-1/sem/config_runcmd"));
}

#[test]
fn cloud_cfg_lists_decide_which_modules_run_where() {
    let m = Machine::seeded(
        META,
        "#cloud-config\nwrite_files: [{path: /etc/x, content: y}]\nruncmd: [ls]\n",
    );
    m.write(
        "/etc/cloud/cloud.cfg",
        "cloud_init_modules:\n - emit_upstart\n - bootcmd\ncloud_config_modules:\n - ubuntu_init_switch\n - runcmd\ncloud_final_modules:\n - write-files\n - scripts-user\n",
    );
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 0);
    assert!(
        !m.exists("/etc/x"),
        "write_files is not in cloud_init_modules"
    );
    m.run_ok(&["modules", "--mode=config"], 0);
    m.run_ok(&["modules", "--mode=final"], 0);
    assert_eq!(m.read("/etc/x"), "y");
    // The semaphore follows the spelling in the list, as cloud-init's does.
    assert!(m.exists("/var/lib/cloud/instances/iid-test-1/sem/config_write_files"));
    assert!(m.exists("/var/lib/cloud/instances/iid-test-1/sem/config_scripts_user"));
    let status = m.run_ok(&["status", "--long", "--modules"], 0);
    assert!(
        status.contains("emit_upstart: skipped (cloudboot has no module named 'emit_upstart')"),
        "{status}"
    );
    assert!(
        // Modules of older cloud-init versions (cloudboot has every module
        // of 22.4).
        status.contains(
            "ubuntu_init_switch: skipped (cloudboot has no module named 'ubuntu_init_switch')"
        ),
        "{status}"
    );
}

#[test]
fn cloud_cfg_list_order_is_kept_unless_an_edge_says_otherwise() {
    let m = Machine::seeded(
        META,
        "#cloud-config\nwrite_files: [{path: /etc/x, content: y, defer: true}]\n",
    );
    // cloud.cfg lists scripts_user first; stages.yaml says it runs after
    // write_files_deferred, so it still runs second.
    m.write(
        "/etc/cloud/cloud.cfg",
        "cloud_final_modules: [scripts_user, write_files_deferred]\n",
    );
    m.boot();
    let status = m.run_ok(&["status", "--format", "json", "--modules"], 0);
    let j: serde_json::Value = serde_json::from_str(&status).unwrap();
    let names: Vec<&str> = j["modules"]["modules-final"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["module"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["write_files_deferred", "scripts_user"]);
}
