//! Bad input gets a clear error naming the file, key and line; the boot goes
//! on with the rest; nothing already on disk is lost.

mod common;

use common::*;

#[test]
fn broken_user_data_yaml_is_named_and_the_boot_goes_on() {
    let m = Machine::seeded(
        META,
        "#cloud-config\nwrite_files:\n  - path: /etc/x\n    content: [unclosed\n",
    );
    m.write("/etc/cloud/cloud.cfg.d/50_extra.cfg", "runcmd: [ls]\n");
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 1);
    m.run_ok(&["modules", "--mode=config"], 0);
    m.run_ok(&["modules", "--mode=final"], 0);
    let status = m.run_ok(&["status", "--long", "--modules"], 1);
    assert!(
        status.contains("user-data (/var/lib/cloud/seed/nocloud/user-data), line 5, column 1: "),
        "{status}"
    );
    // The config from cloud.cfg.d still applied.
    assert!(m.exists("/var/lib/cloud/instances/iid-test-1/scripts/runcmd"));
}

#[test]
fn a_broken_cloud_cfg_file_is_named_and_the_others_count() {
    let m = Machine::seeded(
        META,
        "#cloud-config\nwrite_files: [{path: /etc/x, content: y}]\n",
    );
    m.write("/etc/cloud/cloud.cfg.d/10_bad.cfg", "runcmd: [\n  ls\n");
    m.write("/etc/cloud/cloud.cfg.d/20_good.cfg", "runcmd: [ls]\n");
    m.run_ok(&["init", "--local"], 1);
    m.run_ok(&["init"], 1);
    assert_eq!(m.read("/etc/x"), "y");
    let status = m.run_ok(&["status", "--long", "--modules"], 1);
    assert!(
        status.contains("/etc/cloud/cloud.cfg.d/10_bad.cfg, line"),
        "{status}"
    );
    m.run_ok(&["modules", "--mode=config"], 1);
    assert!(m.exists("/var/lib/cloud/instances/iid-test-1/scripts/runcmd"));
}

#[test]
fn a_bad_write_files_entry_is_reported_and_the_others_are_written() {
    let m = Machine::seeded(
        META,
        "#cloud-config\nwrite_files:\n  - path: /etc/a\n    content: a\n  - path: /etc/b\n    encoding: b64\n    content: 'a'\n  - path: /etc/c\n    owner: nosuchuser:root\n    content: c\n  - content: no path\n  - path: /etc/d\n    permissions: 'rwx'\n    content: d\n  - path: /etc/e\n    permisions: '0600'\n    content: e\n",
    );
    m.write("/etc/b", "kept");
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 1);
    assert_eq!(m.stage_errors("init").len(), 3);
    assert_eq!(m.read("/etc/a"), "a");
    assert_eq!(
        m.read("/etc/b"),
        "kept",
        "a bad entry leaves the old file alone"
    );
    assert!(!m.exists("/etc/c"));
    assert_eq!(m.read("/etc/d"), "d");
    assert_eq!(
        m.mode("/etc/d"),
        0o644,
        "undecodable permissions fall back to 0644"
    );
    let status = m.run_ok(&["status", "--long", "--modules"], 1);
    assert!(
        status.contains("write_files[1].content (b64): not base64"),
        "{status}"
    );
    assert!(
        status.contains(
            "write_files[2].owner: Unknown user or group: user 'nosuchuser' is not in /etc/passwd"
        ),
        "{status}"
    );
    assert!(
        status.contains("No path provided to write for entry 4 in module write_files"),
        "{status}"
    );
    // An unknown key is a warning; the entry is still written.
    let log = m.read("/var/log/cloud-init.log");
    assert!(
        log.contains("[WARNING]: write_files: write_files[5].permisions: unknown key (expected one of path, content,"),
        "{log}"
    );
    assert_eq!(m.read("/etc/e"), "e");
}

#[test]
fn a_key_of_the_wrong_type_fails_its_module_alone() {
    let m = Machine::seeded(
        META,
        "#cloud-config\nwrite_files:\n  - path: /etc/a\n    content: 5\nruncmd: [ls]\n",
    );
    m.write("/etc/a", "kept");
    // write_files (network stage) fails for its entry; write_files_deferred
    // (final) reads the list too, but the entry is not one it writes.
    m.boot_expecting(&[0, 1, 0, 0]);
    assert_eq!(m.read("/etc/a"), "kept");
    assert!(
        m.exists("/var/lib/cloud/instances/iid-test-1/scripts/runcmd"),
        "runcmd still ran"
    );
    let status = m.run_ok(&["status", "--long", "--modules"], 1);
    assert!(
        status.contains(
            "write_files: user-data, line 4, column 5: write_files[0].content: expected a string or !!binary, found int (5)"
        ),
        "{status}"
    );
}

#[test]
fn owners_come_from_the_roots_passwd_and_group() {
    if !can_chroot() {
        return;
    }
    let m = Machine::seeded(
        META,
        "#cloud-config\nwrite_files:\n  - path: /home/app/conf\n    owner: app:staff\n    permissions: 0640\n    content: x\n  - path: /srv/setgid\n    owner: app\n    permissions: '2755'\n    content: y\n",
    );
    m.write(
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\napp:x:1234:1234::/home/app:/bin/sh\n",
    );
    m.write("/etc/group", "root:x:0:\nstaff:x:4321:\n");
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 0);
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata(m.path("/home/app/conf")).unwrap();
    assert_eq!((md.uid(), md.gid()), (1234, 4321));
    // An unquoted 0640 is octal, as PyYAML reads it.
    assert_eq!(m.mode("/home/app/conf"), 0o640);
    let md = std::fs::metadata(m.path("/srv/setgid")).unwrap();
    assert_eq!(md.uid(), 1234);
    assert_eq!(md.mode() & 0o7777, 0o2755, "setgid survives the chown");
}

#[test]
fn meta_data_that_is_not_a_mapping_is_reported_not_fatal() {
    let m = Machine::seeded(
        "- just\n- a list\n",
        "#cloud-config\nwrite_files: [{path: /etc/x, content: y}]\n",
    );
    m.run_ok(&["init", "--local"], 1);
    m.run_ok(&["init"], 0);
    assert_eq!(m.read("/var/lib/cloud/data/instance-id"), "nocloud\n");
    assert_eq!(m.read("/etc/x"), "y");
}

#[test]
fn a_wrong_type_in_a_cloud_cfg_d_file_names_that_file_and_line() {
    let m = Machine::seeded(
        META,
        "#cloud-config\nwrite_files: [{path: /etc/x, content: y}]\n",
    );
    m.write(
        "/etc/cloud/cloud.cfg.d/90_site.cfg",
        "# site defaults\nruncmd: echo hi\n",
    );
    m.boot_expecting(&[0, 0, 1, 0]);
    assert_eq!(m.read("/etc/x"), "y");
    let status = m.run_ok(&["status", "--long", "--modules"], 1);
    assert!(
        status.contains("runcmd: /etc/cloud/cloud.cfg.d/90_site.cfg, line 2, column 1: runcmd: expected a list, found str (echo hi)"),
        "{status}"
    );
}

/// Item 12 of issue 10: a problem in user-data names the file it came from,
/// the MIME part (number and file name), and the line where it starts.
#[test]
fn a_bad_part_in_mime_user_data_names_the_file_the_part_and_the_line() {
    let mime = python(
        r#"
import sys
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
m = MIMEMultipart()
def part(body, sub, name):
    p = MIMEText(body, sub)
    p.add_header('Content-Disposition', 'attachment', filename=name)
    m.attach(p)
part('#!/bin/sh\necho one\n', 'x-shellscript', 'one.sh')
part('#cloud-config\nwrite_files: [{path: /etc/from-part-2, content: two}]\n', 'cloud-config', 'two.yaml')
part('#cloud-config\nruncmd:\n  - ls\nwrite_files:\n  - path: /etc/x\n    content: a\nhostname: a: b\n', 'cloud-config', 'cloud-config.txt')
sys.stdout.write(m.as_string())
"#,
    );
    let m = Machine::new();
    m.write("/var/lib/cloud/seed/nocloud/meta-data", META);
    std::fs::write(m.path("/var/lib/cloud/seed/nocloud/user-data"), mime).unwrap();
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 1);
    let errors = m.stage_errors("init");
    assert_eq!(errors.len(), 1, "{errors:?}");
    // PyYAML: "mapping values are not allowed here", line 7, column 12 of the part.
    assert!(
        errors[0].starts_with(
            "user-data (/var/lib/cloud/seed/nocloud/user-data), MIME part 3 (cloud-config.txt), line 7, column 12: "
        ),
        "{}",
        errors[0]
    );
    // The other parts applied.
    assert_eq!(m.read("/etc/from-part-2"), "two");
}

#[test]
fn a_bad_included_part_names_the_include() {
    let (base, _) = serve(vec![("/inc", b"#cloud-config\nruncmd: [ls\n".to_vec())]);
    let m = Machine::seeded(META, &format!("#include\n{base}/inc\n"));
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 1);
    let errors = m.stage_errors("init");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with(&format!(
            "user-data (/var/lib/cloud/seed/nocloud/user-data), #include {base}/inc, line "
        )),
        "{}",
        errors[0]
    );
}

#[test]
fn bad_config_drive_user_data_names_the_drive_file() {
    let m = Machine::new();
    m.write(
        "/var/lib/cloud/seed/config_drive/openstack/latest/meta_data.json",
        r#"{"uuid": "iid-drive-1"}"#,
    );
    m.write(
        "/var/lib/cloud/seed/config_drive/openstack/latest/user_data",
        "#cloud-config\nhostname: a: b\n",
    );
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 1);
    let errors = m.stage_errors("init");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with(
            "user-data (/var/lib/cloud/seed/config_drive/openstack/latest/user_data), line 2, column 12: "
        ),
        "{}",
        errors[0]
    );
}

/// The second wave of modules (issue 13): a key of the wrong type fails
/// that module with the file, key, line and column; the others run.
#[test]
fn second_wave_keys_of_the_wrong_type_name_file_and_line() {
    let m = Machine::seeded(
        META,
        "#cloud-config\ntimezone: [Europe/Berlin]\nntp:\n  servers: 5\nkeyboard:\n  layout: [de]\n\
         rsyslog:\n  remotes: [a]\napt:\n  conf: 5\nbyobu_by_default: 7\nruncmd: [ls]\n",
    );
    // A Debian root under systemd, where each of these modules runs.
    m.write("/etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
    std::fs::create_dir_all(m.path("/run/systemd/system")).unwrap();
    let plan = m.plan(&[]);
    for want in [
        "user-data, line 2, column 1: timezone: expected a string, found list",
        "user-data, line 4, column 3: ntp.servers: expected a list, found int (5)",
        "user-data, line 6, column 3: keyboard.layout: expected a string, found list",
        "user-data, line 8, column 3: rsyslog.remotes: expected a mapping, found list",
        "user-data, line 10, column 3: apt.conf: expected a string, found int (5)",
        "user-data, line 11, column 1: byobu_by_default: expected a string, found int (7)",
    ] {
        assert!(plan.contains(want), "{want}\n{plan}");
    }
    // runcmd, in the same stage, is not held up by them.
    assert!(
        plan.contains("runcmd [once-per-instance]: would run"),
        "{plan}"
    );
}
