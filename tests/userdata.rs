//! Every user-data format cloud-init accepts, applied by whole boots.

mod common;

use common::*;

fn seed_bytes(m: &Machine, meta: &str, user: &[u8]) {
    m.write("/var/lib/cloud/seed/nocloud/meta-data", meta);
    std::fs::write(m.path("/var/lib/cloud/seed/nocloud/user-data"), user).unwrap();
}

fn status_long(m: &Machine) -> String {
    String::from_utf8_lossy(&m.run(&["status", "--long", "--modules"]).stdout).into_owned()
}

/// MIME built by Python's email package: a script, cloud-config, a
/// boothook, a gzip'd cloud-config, and a nested multipart with a per-boot
/// script and a second script.
const MIME_PY: &str = r#"
import gzip, sys
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.mime.application import MIMEApplication
outer = MIMEMultipart()
def text(body, sub, name):
    p = MIMEText(body, sub)
    p.add_header('Content-Disposition', 'attachment', filename=name)
    return p
outer.attach(text('#!/bin/sh\necho a.sh >> /var/tmp/order\n', 'x-shellscript', 'a.sh'))
outer.attach(text('#cloud-config\nwrite_files:\n- {path: /etc/from-mime, content: mime}\n', 'cloud-config', 'cc.yaml'))
outer.attach(text('#cloud-boothook\n#!/bin/sh\necho "$INSTANCE_ID" >> /var/tmp/boothook\n', 'cloud-boothook', 'hook.sh'))
gz = MIMEApplication(gzip.compress(b'#cloud-config\nruncmd:\n- echo runcmd >> /var/tmp/order\n'), 'gzip')
gz.add_header('Content-Disposition', 'attachment', filename='packed.gz')
outer.attach(gz)
inner = MIMEMultipart('alternative')
inner.attach(text('#!/bin/sh\necho per-boot >> /var/tmp/perboot\n', 'x-shellscript-per-boot', 'every.sh'))
inner.attach(MIMEText('#!/bin/sh\necho z.sh >> /var/tmp/order\n', 'plain'))
outer.attach(inner)
sys.stdout.write(outer.as_string())
"#;

#[test]
fn mime_multipart_parts_all_apply_in_cloud_init_order() {
    if !can_chroot() {
        return;
    }
    let m = Machine::new();
    m.install_busybox();
    seed_bytes(&m, META, &python(MIME_PY));
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 0);
    let i = m.idir("iid-test-1");
    // The boothook ran during the network stage, with INSTANCE_ID set.
    assert_eq!(m.read("/var/tmp/boothook"), "iid-test-1\n");
    assert_eq!(
        m.read(&format!("{i}/boothooks/hook.sh")),
        "#!/bin/sh\necho \"$INSTANCE_ID\" >> /var/tmp/boothook\n"
    );
    // write_files came from the first cloud-config part.
    assert_eq!(m.read("/etc/from-mime"), "mime");
    // Scripts saved for scripts_user (the unnamed plain part became part-006).
    assert_eq!(m.mode(&format!("{i}/scripts/a.sh")), 0o700);
    assert!(m.exists(&format!("{i}/scripts/part-006")));
    assert_eq!(m.mode("/var/lib/cloud/scripts/per-boot/every.sh"), 0o700);
    // cloud-config.txt names the two cloud-config parts in order.
    let cc = m.read(&format!("{i}/cloud-config.txt"));
    assert!(
        cc.starts_with("#cloud-config\n\n# from 2 files\n# cc.yaml\n# packed.gz\n\n---\n"),
        "{cc}"
    );
    let processed = m.read(&format!("{i}/user-data.txt.i"));
    assert!(processed.contains("Number-Attachments: 6\n"), "{processed}");
    m.run_ok(&["modules", "--mode=config"], 0);
    m.run_ok(&["modules", "--mode=final"], 0);
    // scripts_user ran a.sh, part-006 and runcmd in sorted order.
    assert_eq!(m.read("/var/tmp/order"), "a.sh\nz.sh\nruncmd\n");
    // Boothooks run every boot.
    m.reboot();
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 0);
    assert_eq!(m.read("/var/tmp/boothook"), "iid-test-1\niid-test-1\n");
}

#[test]
fn includes_are_fetched_and_include_once_is_cached() {
    let (base, log) = serve(vec![
        (
            "/cc",
            b"#cloud-config\nwrite_files:\n- {path: /etc/included, content: yes-included}\n"
                .to_vec(),
        ),
        ("/once", b"#cloud-config\nruncmd: [once-only]\n".to_vec()),
    ]);
    let m = Machine::seeded(
        META,
        &format!("#include\n{base}/cc\n#include-once\n{base}/once\n"),
    );
    m.boot();
    assert_eq!(m.read("/etc/included"), "yes-included");
    assert!(m
        .read(&format!("{}/scripts/runcmd", m.idir("iid-test-1")))
        .contains("once-only"));
    // cloud-init's cache name: md5 of the URL.
    let md5 = String::from_utf8(python(&format!(
        "import hashlib,sys; sys.stdout.write(hashlib.md5(b'{base}/once').hexdigest())"
    )))
    .unwrap();
    let cache = format!("{}/data/urlcache/{md5}", m.idir("iid-test-1"));
    assert_eq!(m.read(&cache), "#cloud-config\nruncmd: [once-only]\n");
    assert_eq!(m.mode(&cache), 0o600);
    let fetched = log.lock().unwrap().clone();
    assert_eq!(fetched.iter().filter(|p| *p == "/once").count(), 1);
    // Next boot: the plain include is fetched again, the once one comes from the cache.
    m.reboot();
    m.boot();
    let fetched = log.lock().unwrap().clone();
    assert_eq!(
        fetched.iter().filter(|p| *p == "/once").count(),
        1,
        "{fetched:?}"
    );
    assert_eq!(
        fetched.iter().filter(|p| *p == "/cc").count(),
        2,
        "{fetched:?}"
    );
}

#[test]
fn an_unreachable_include_is_one_clear_error_and_the_boot_goes_on() {
    let dead = dead_url();
    let m = Machine::seeded(META, &format!("#include\n{dead}\n"));
    m.write(
        "/etc/cloud/cloud.cfg.d/50_x.cfg",
        "write_files: [{path: /etc/still, content: ok}]\n",
    );
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 1);
    m.run_ok(&["modules", "--mode=config"], 0);
    m.run_ok(&["modules", "--mode=final"], 0);
    assert_eq!(m.read("/etc/still"), "ok");
    let status: serde_json::Value =
        serde_json::from_str(&m.read("/var/lib/cloud/data/result.json")).unwrap();
    let errors = status["v1"]["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = errors[0].as_str().unwrap();
    assert!(
        e.starts_with(&format!(
            "user-data (/var/lib/cloud/seed/nocloud/user-data), #include {dead}: "
        )),
        "{e}"
    );
    assert!(
        e.contains("connection failed") && e.contains("(after 3 tries)"),
        "{e}"
    );
}

#[test]
fn truncated_mime_is_one_clear_error_and_whole_parts_apply() {
    let full = python(
        r#"
import sys
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
m = MIMEMultipart(boundary='BOUNDARY')
m.attach(MIMEText('#cloud-config\nwrite_files: [{path: /etc/first, content: whole}]\n', 'cloud-config'))
m.attach(MIMEText('#cloud-config\nruncmd: [cut]\n', 'cloud-config'))
sys.stdout.write(m.as_string())
"#,
    );
    let cut = &full[..full.len() - 40];
    let m = Machine::new();
    seed_bytes(&m, META, cut);
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 1);
    assert_eq!(m.read("/etc/first"), "whole");
    let s = status_long(&m);
    assert!(
        s.contains("user-data (/var/lib/cloud/seed/nocloud/user-data): MIME multipart ends before its closing boundary --BOUNDARY--: part 2 is incomplete and was dropped"),
        "{s}"
    );
}

#[test]
fn huge_user_data_is_one_clear_error_and_the_boot_goes_on() {
    let m = Machine::new();
    m.write("/var/lib/cloud/seed/nocloud/meta-data", META);
    let f = std::fs::File::create(m.path("/var/lib/cloud/seed/nocloud/user-data")).unwrap();
    f.set_len(64 << 20).unwrap();
    m.write(
        "/etc/cloud/cloud.cfg.d/50_x.cfg",
        "write_files: [{path: /etc/still, content: ok}]\n",
    );
    m.run_ok(&["init", "--local"], 1);
    m.run_ok(&["init"], 0);
    assert_eq!(m.read("/etc/still"), "ok");
    assert!(
        m.read("/var/lib/cloud/data/status.json")
            .contains("/var/lib/cloud/seed/nocloud/user-data: 64.0 MiB, more than the 16 MiB cloudboot accepts; ignored"),
    );
    // Nothing of it was copied into the instance directory.
    assert_eq!(
        std::fs::metadata(m.path(&format!("{}/user-data.txt", m.idir("iid-test-1"))))
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn part_handlers_are_refused_and_the_other_parts_apply() {
    let mime = python(
        r#"
import sys
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
m = MIMEMultipart()
m.attach(MIMEText('#part-handler\ndef list_types(): return []\n', 'part-handler'))
m.attach(MIMEText('#cloud-config\nwrite_files: [{path: /etc/after, content: applied}]\n', 'cloud-config'))
sys.stdout.write(m.as_string())
"#,
    );
    let m = Machine::new();
    seed_bytes(&m, META, &mime);
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 1);
    assert_eq!(m.read("/etc/after"), "applied");
    let s = status_long(&m);
    assert!(
        s.contains("user-data (/var/lib/cloud/seed/nocloud/user-data), MIME part 1 (part-001): #part-handler parts are Python code, which cloudboot does not run; the part was ignored"),
        "{s}"
    );
}

#[test]
fn jinja_templates_see_instance_data() {
    let m = Machine::seeded(
        META,
        "## template: jinja\n#cloud-config\nwrite_files:\n- path: /etc/identity\n  content: '{{ v1.instance_id }} on {{ v1.local_hostname }} ({{ ds.meta_data.local_hostname }})'\n",
    );
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 0);
    assert_eq!(m.read("/etc/identity"), "iid-test-1 on testhost (testhost)");

    // Statements and filters, as cloud-init's jinja docs use them.
    let m = Machine::seeded(
        META,
        "## template: jinja\n#cloud-config\nwrite_files:\n- path: /etc/identity\n{% if v1.instance_id is defined %}\n  content: '{{ v1.instance_id | upper }}{% for k in [1, 2] %}-{{ k }}{% endfor %}'\n{% endif %}\n",
    );
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 0);
    assert_eq!(m.read("/etc/identity"), "IID-TEST-1-1-2");

    let refused = Machine::seeded(
        META,
        "## template: jinja\n#cloud-config\n{% macro m() %}x{% endmacro %}\n",
    );
    refused.run_ok(&["init", "--local"], 0);
    refused.run_ok(&["init"], 1);
    let s = status_long(&refused);
    assert!(
        s.contains("jinja statement '{% macro m() %}' is not supported by cloudboot"),
        "{s}"
    );
}

#[test]
fn launch_index_selects_parts() {
    let mime = python(
        r#"
import sys
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
m = MIMEMultipart()
for i in (0, 1):
    p = MIMEText('#cloud-config\nwrite_files: [{path: /etc/index-%d, content: x}]\n' % i, 'cloud-config')
    p.add_header('Launch-Index', str(i))
    m.attach(p)
m.attach(MIMEText('#cloud-config\nruncmd: [every-index]\n', 'cloud-config'))
sys.stdout.write(m.as_string())
"#,
    );
    let m = Machine::new();
    seed_bytes(&m, "instance-id: iid-test-1\nlaunch-index: 1\n", &mime);
    m.boot();
    assert!(m.exists("/etc/index-1"));
    assert!(!m.exists("/etc/index-0"));
    assert!(m.exists(&format!("{}/scripts/runcmd", m.idir("iid-test-1"))));
}

#[test]
fn archives_upstart_jobs_and_jsonp() {
    let m = Machine::seeded(
        META,
        "#cloud-config-archive\n- type: text/cloud-config\n  content: |\n    write_files: [{path: /etc/from-archive, content: a}]\n    runcmd: [one]\n- content: |\n    #upstart-job\n    description \"demo\"\n  filename: demo\n- content: '#cloud-config-jsonp\n[{\"op\": \"add\", \"path\": \"/runcmd/-\", \"value\": \"two\"}]'\n",
    );
    m.boot();
    assert_eq!(m.read("/etc/from-archive"), "a");
    assert_eq!(
        m.read("/etc/init/demo.conf"),
        "#upstart-job\ndescription \"demo\"\n"
    );
    assert_eq!(m.mode("/etc/init/demo.conf"), 0o644);
    assert_eq!(
        m.read(&format!("{}/scripts/runcmd", m.idir("iid-test-1"))),
        "#!/bin/sh\none\ntwo\n"
    );
    // Upstart jobs are written on an instance's first boot only.
    std::fs::remove_file(m.path("/etc/init/demo.conf")).unwrap();
    m.reboot();
    m.boot();
    assert!(!m.exists("/etc/init/demo.conf"));
}

#[test]
fn vendor_data_loses_to_user_data_and_can_be_switched_off() {
    let m = Machine::seeded(
        META,
        "#cloud-config\nwrite_files: [{path: /etc/who, content: user}]\n",
    );
    m.write(
        "/var/lib/cloud/seed/nocloud/vendor-data",
        "#cloud-config\nwrite_files: [{path: /etc/who, content: vendor}]\nruncmd: [from-vendor]\n",
    );
    m.boot();
    assert_eq!(m.read("/etc/who"), "user");
    let i = m.idir("iid-test-1");
    assert!(m
        .read(&format!("{i}/scripts/runcmd"))
        .contains("from-vendor"));
    assert!(m
        .read(&format!("{i}/vendor-cloud-config.txt"))
        .contains("from-vendor"));

    let off = Machine::seeded(META, "#cloud-config\nvendor_data: {enabled: false}\n");
    off.write(
        "/var/lib/cloud/seed/nocloud/vendor-data",
        "#cloud-config\nruncmd: [from-vendor]\n",
    );
    off.boot();
    assert!(!off.exists(&format!("{i}/scripts/runcmd")));
    assert!(!off.exists(&format!("{i}/vendor-cloud-config.txt")));
}

#[test]
fn the_write_files_documentation_example_is_byte_exact() {
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/write_files_docs");
    let m = Machine::new();
    seed_bytes(&m, META, &std::fs::read(fixture.join("user-data")).unwrap());
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 0);
    let modes = std::fs::read_to_string(fixture.join("expected/modes")).unwrap();
    assert_eq!(modes.lines().count(), 5);
    for line in modes.lines() {
        let (path, mode) = line.split_once(' ').unwrap();
        let expected =
            std::fs::read(fixture.join("expected").join(path.replace('/', "%"))).unwrap();
        assert_eq!(std::fs::read(m.path(path)).unwrap(), expected, "{path}");
        assert_eq!(format!("{:04o}", m.mode(path)), mode, "{path}");
    }
}

#[test]
fn the_system_config_sets_the_limits_and_user_data_cannot_raise_them() {
    let mime = python(
        r#"
import sys
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
m = MIMEMultipart()
m.attach(MIMEText('#cloud-config\nuser_data_limits: {max_parts: 100}\nruncmd: [one]\n', 'cloud-config'))
m.attach(MIMEText('#cloud-config\nruncmd: [two]\n', 'cloud-config'))
m.attach(MIMEText('#cloud-config\nruncmd: [three]\n', 'cloud-config'))
sys.stdout.write(m.as_string())
"#,
    );
    let m = Machine::new();
    seed_bytes(&m, META, &mime);
    m.write(
        "/etc/cloud/cloud.cfg.d/90_limits.cfg",
        "user_data_limits: {max_parts: 2}\nwrite_files: [{path: /etc/still, content: ok}]\n",
    );
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 1);
    assert_eq!(
        m.stage_errors("init"),
        ["user-data (/var/lib/cloud/seed/nocloud/user-data): the MIME message has more parts than the 2 cloudboot accepts (user_data_limits.max_parts); it was not used"]
    );
    assert_eq!(m.read("/etc/still"), "ok");
    // `cloudboot schema` knows the key and its types.
    m.write(
        "/srv/limits.cfg",
        "#cloud-config\nuser_data_limits: {max_parts: 2, max_includes: many}\n",
    );
    let out = m.run(&[
        "schema",
        "--config-file",
        m.path("/srv/limits.cfg").to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        text.trim_end(),
        "Error:\nCloud config schema errors: user_data_limits.max_includes: 'many' is not of type 'integer'"
    );
}
