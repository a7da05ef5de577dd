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
fn handle_without_a_cached_datasource_fails_at_once() {
    let m = Machine::seeded(META, "#cloud-config\n{}\n");
    let handle = || {
        m.run(&[
            "devel",
            "hotplug-hook",
            "-s",
            "net",
            "handle",
            "-d",
            "/devices/virtual/net/eth9",
            "-u",
            "add",
        ])
    };
    // Hotplug not enabled: nothing to do (exit 0), whatever the cache.
    assert_eq!(handle().status.code(), Some(0));
    m.write(
        "/etc/cloud/cloud.cfg.d/50-hotplug.cfg",
        "updates: {network: {when: [hotplug]}}\n",
    );
    let start = std::time::Instant::now();
    let out = handle();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no cached datasource"),
        "{out:?}"
    );
    assert!(start.elapsed().as_secs() < 5, "it waited");
    // argparse's refusal of a subsystem or an action it does not know.
    let out = m.run(&["devel", "hotplug-hook", "-s", "usb", "query"]);
    assert_eq!(out.status.code(), Some(2));
    let out = m.run(&[
        "devel",
        "hotplug-hook",
        "-s",
        "net",
        "handle",
        "-d",
        "/x",
        "-u",
        "change",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

/// After a boot that asks for hotplug, on a scratch root: the new metadata
/// is read, the config written, and the bring-up recorded (not done: the
/// root is not this machine's `/`).
#[test]
fn handle_on_a_scratch_root_writes_the_config_and_records_the_bring_up() {
    let m = Machine::seeded(
        META,
        "#cloud-config\nupdates:\n  network:\n    when: [boot-new-instance, hotplug]\n",
    );
    m.write("/etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
    m.write(
        "/etc/cloud/cloud.cfg.d/10-eni.cfg",
        "system_info: {network: {renderers: [eni]}}\n",
    );
    let nic = |name: &str, mac: &str| {
        m.write(
            &format!("/sys/class/net/{name}/address"),
            &format!("{mac}\n"),
        );
        m.write(&format!("/sys/class/net/{name}/carrier"), "1\n");
    };
    nic("eth0", "52:54:00:00:00:10");
    m.write(
        "/var/lib/cloud/seed/nocloud/network-config",
        "version: 2\nethernets:\n  eth0: {match: {macaddress: '52:54:00:00:00:10'}, set-name: eth0, dhcp4: true}\n",
    );
    m.boot();
    nic("eth1", "52:54:00:00:00:11");
    m.write(
        "/var/lib/cloud/seed/nocloud/network-config",
        "version: 2\nethernets:\n  eth0: {match: {macaddress: '52:54:00:00:00:10'}, set-name: eth0, dhcp4: true}\n  eth1: {match: {macaddress: '52:54:00:00:00:11'}, set-name: eth1, dhcp4: true}\n",
    );
    let out = m.run(&[
        "--debug",
        "devel",
        "hotplug-hook",
        "-s",
        "net",
        "handle",
        "-d",
        "/devices/virtual/net/eth1",
        "-u",
        "add",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let eni = m.read("/etc/network/interfaces.d/50-cloud-init");
    assert!(eni.contains("iface eth1 inet dhcp"), "{eni}");
    assert!(err.contains("bring up eth1: ifup eth1"), "{err}");
    assert!(err.contains("recorded, not performed"), "{err}");
}
