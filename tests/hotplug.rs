//! Network hotplug: install_hotplug's udev rule after a boot whose
//! user-data asks for hotplug events, and `devel hotplug-hook -s net
//! query`, which the rule's helper asks, answering as 22.4 does.

mod common;

use common::Machine;

const META: &str = "instance-id: iid-hotplug-1\n";
const RULES: &str = "/etc/udev/rules.d/10-cloud-init-hook-hotplug.rules";

fn query(m: &Machine) -> String {
    m.run_ok(&["devel", "hotplug-hook", "-s", "net", "query"], 0)
}

#[test]
fn hotplug_asked_for_installs_the_rule_and_query_says_enabled() {
    let m = Machine::seeded(
        META,
        "#cloud-config\nupdates:\n  network:\n    when: [boot-new-instance, hotplug]\n",
    );
    // udevadm in the root: install_hotplug only writes the rule where it is.
    m.write("/usr/bin/udevadm", "#!/bin/sh\n");
    std::fs::set_permissions(
        m.path("/usr/bin/udevadm"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    // Before any boot: the system config alone, which does not ask.
    assert_eq!(query(&m), "disabled\n");
    m.boot();
    assert_eq!(
        m.read(RULES),
        "# Installed by cloud-init due to network hotplug userdata\n\
         ACTION!=\"add|remove\", GOTO=\"cloudinit_end\"\n\
         LABEL=\"cloudinit_hook\"\n\
         SUBSYSTEM==\"net\", RUN+=\"/usr/lib/cloud-init/hook-hotplug\"\n\
         LABEL=\"cloudinit_end\"\n"
    );
    assert_eq!(m.mode(RULES), 0o644);
    assert_eq!(query(&m), "enabled\n");
    let status = m.run_ok(&["status", "--long", "--modules"], 0);
    assert!(status.contains("install_hotplug"), "{status}");
}

#[test]
fn without_hotplug_in_the_config_query_says_disabled_and_no_rule() {
    let m = Machine::seeded(META, "#cloud-config\nruncmd: [ls]\n");
    m.boot();
    assert!(!m.exists(RULES));
    assert_eq!(query(&m), "disabled\n");
    // An unknown event makes 22.4 ignore the whole list.
    m.write(
        "/etc/cloud/cloud.cfg.d/50-hotplug.cfg",
        "updates: {network: {when: [hotplug, sometimes]}}\n",
    );
    assert_eq!(query(&m), "disabled\n");
    m.write(
        "/etc/cloud/cloud.cfg.d/50-hotplug.cfg",
        "updates: {network: {when: [hotplug]}}\n",
    );
    assert_eq!(query(&m), "enabled\n");
}

#[test]
fn handle_says_it_is_not_supported() {
    let m = Machine::seeded(META, "#cloud-config\n{}\n");
    let out = m.run(&[
        "devel",
        "hotplug-hook",
        "-s",
        "net",
        "handle",
        "-d",
        "/devices/virtual/net/eth9",
        "-u",
        "add",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not handle hotplug events yet"));
    // argparse's refusal of a subsystem it does not know.
    let out = m.run(&["devel", "hotplug-hook", "-s", "usb", "query"]);
    assert_eq!(out.status.code(), Some(2));
}
