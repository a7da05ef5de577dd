//! Real machines: Debian 12 guests booted under QEMU with cloudboot
//! installed from its .deb in cloud-init's place, on real hardware paths (a
//! config drive on /dev/sr0, virtio NICs named by udev, a NoCloud vfat
//! disk, an EC2 metadata service on 169.254.169.254), systemd and SysV. See
//! tests/vm/README.md for the harness; each boot takes a minute or so under
//! TCG.

mod common;
mod vm_common;

use vm_common::{guest, Boot, Hardware, Init, System};

/// An ssh key made for these tests (its private half was thrown away).
const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOL4dEmcYrmIOlI03W/PWKCHTf2lA7JUX6SQQsrSJ4QD vm-test";

/// The NICs of the config-drive scenario: MAC, and the user network QEMU
/// puts behind it (each NIC its own, so that their subnets differ).
const STATIC_GW: (&str, &str) = ("52:54:00:c0:00:01", "net=10.0.2.0/24");
const DHCP: (&str, &str) = ("52:54:00:c0:00:02", "net=10.0.3.0/24");
const STATIC_ROUTE: (&str, &str) = ("52:54:00:c0:00:03", "net=10.0.4.0/24");
const ADDED: (&str, &str) = ("52:54:00:c0:00:04", "net=10.0.5.0/24");

fn nic((mac, net): (&str, &str)) -> String {
    format!("{mac},{net}")
}

/// User-data every scenario gives: bootcmd (network stage, every boot)
/// records the addresses up at that moment; runcmd (final stage, once per
/// instance) records that it ran.
const USER_DATA: &str = "#cloud-config
bootcmd:
  - [sh, -c, 'mkdir -p /var/vm-test; { echo \"== $(cut -d\" \" -f1 /proc/uptime)\"; ip -o -4 addr show; } >> /var/vm-test/bootcmd.log']
runcmd:
  - [sh, -c, 'echo \"runcmd $(cat /proc/sys/kernel/random/boot_id)\" >> /var/vm-test/runcmd.log']
chpasswd:
  expire: false
  list: |
    debian:vm-test-password
";

fn meta_data(uuid: &str, hostname: &str) -> String {
    format!(
        r#"{{"uuid": "{uuid}", "hostname": "{hostname}", "name": "{hostname}",
 "availability_zone": "nova", "launch_index": 0,
 "public_keys": {{"vm-test": "{KEY}"}}}}"#
    )
}

fn link(id: &str, mac: &str) -> String {
    format!(r#"{{"id": "{id}", "type": "phy", "ethernet_mac_address": "{mac}", "mtu": 1500}}"#)
}

fn static_net(id: &str, link: &str, ip: &str, routes: &str) -> String {
    format!(
        r#"{{"id": "{id}", "type": "ipv4", "link": "{link}", "ip_address": "{ip}",
 "netmask": "255.255.255.0", "routes": [{routes}], "network_id": "{id}-uuid"}}"#
    )
}

fn route(network: &str, netmask: &str, gateway: &str) -> String {
    format!(r#"{{"network": "{network}", "netmask": "{netmask}", "gateway": "{gateway}"}}"#)
}

/// The static network holding the default gateway (on `tap1`).
fn gateway_net() -> String {
    static_net(
        "net1",
        "tap1",
        "10.0.2.15",
        &route("0.0.0.0", "0.0.0.0", "10.0.2.2"),
    )
}

/// The static network with one extra route (on `tap3`).
fn routed_net() -> String {
    static_net(
        "net3",
        "tap3",
        "10.0.4.10",
        &route("192.168.50.0", "255.255.255.0", "10.0.4.1"),
    )
}

/// The first instance's network: static with the default gateway, DHCP,
/// static with one extra route (the seed's CentOS 6 case).
fn network_first() -> String {
    format!(
        r#"{{"links": [{}, {}, {}],
 "networks": [{}, {{"id": "net2", "type": "ipv4_dhcp", "link": "tap2", "network_id": "net2-uuid"}}, {}],
 "services": [{{"type": "dns", "address": "10.0.2.3"}}]}}"#,
        link("tap1", STATIC_GW.0),
        link("tap2", DHCP.0),
        link("tap3", STATIC_ROUTE.0),
        gateway_net(),
        routed_net(),
    )
}

/// The second instance's: the DHCP NIC gone, a fourth NIC added.
fn network_second() -> String {
    format!(
        r#"{{"links": [{}, {}, {}],
 "networks": [{}, {}, {}],
 "services": [{{"type": "dns", "address": "10.0.2.3"}}]}}"#,
        link("tap1", STATIC_GW.0),
        link("tap3", STATIC_ROUTE.0),
        link("tap4", ADDED.0),
        gateway_net(),
        routed_net(),
        static_net("net4", "tap4", "10.0.5.10", ""),
    )
}

/// One NIC, the static one with the gateway.
fn network_one() -> String {
    format!(
        r#"{{"links": [{}], "networks": [{}], "services": []}}"#,
        link("tap1", STATIC_GW.0),
        gateway_net(),
    )
}

/// A config drive as nova writes one: a directory per metadata version
/// (here the first, the first with `network_data.json`, and `latest`; a
/// reader takes the newest version it knows).
fn config_drive_files(meta: &str, network: &str) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for v in ["2012-08-10", "2015-10-15", "latest"] {
        files.push((format!("openstack/{v}/meta_data.json"), meta.to_string()));
        files.push((format!("openstack/{v}/user_data"), USER_DATA.to_string()));
        if v != "2012-08-10" {
            files.push((
                format!("openstack/{v}/network_data.json"),
                network.to_string(),
            ));
        }
    }
    files
}

/// A machine with a config drive of `files` (named `name` in the guest's
/// directory) and `nics` in PCI order.
fn with_drive(
    g: &vm_common::Guest,
    name: &str,
    files: &[(String, String)],
    nics: &[(&str, &str)],
) -> Hardware {
    Hardware {
        nics: nics.iter().map(|n| nic(*n)).collect(),
        cdrom: Some(drive(g, name, files)),
        ..Default::default()
    }
}

fn drive(g: &vm_common::Guest, name: &str, files: &[(String, String)]) -> std::path::PathBuf {
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    vm_common::config_drive(&g.path(name), &files)
}

/// What every good boot shows: the hook saw boot-finished, status done, no
/// errors in result.json.
fn assert_finished(b: &Boot) {
    assert!(
        b.read("timeout").is_empty() && !b.read("boot-finished").is_empty(),
        "boot {} never finished\n{}",
        b.n,
        b.describe()
    );
    assert!(
        b.read("status").contains("status: done"),
        "boot {}: {}",
        b.n,
        b.describe()
    );
    let result = b.read("result.json");
    assert!(
        result.contains("\"errors\": []"),
        "boot {}: result.json {result}\n{}",
        b.n,
        b.describe()
    );
}

fn default_routes(b: &Boot) -> Vec<String> {
    b.read("route")
        .lines()
        .filter(|l| l.starts_with("default"))
        .map(str::to_string)
        .collect()
}

/// Whether `b` has a route to `dest` via `via` on the NIC with `mac`.
fn has_route(b: &Boot, dest: &str, via: &str, mac: &str) -> bool {
    let Some(dev) = b.name_of(mac) else {
        return false;
    };
    let want = format!("{dest} via {via} dev {dev}");
    b.read("route")
        .lines()
        .any(|l| l == want || l.starts_with(&format!("{want} ")))
}

/// The config-drive scenario's network as a user checks it: each NIC (by
/// MAC) has exactly its address, there is one default route, via the
/// metadata's gateway on the static NIC, and the metadata's extra route.
fn assert_network(b: &Boot, addresses: &[(&str, &str)]) {
    let d = b.describe();
    for (mac, address) in addresses {
        assert_eq!(b.addresses_of(mac), [*address], "{mac}\n{d}");
    }
    let gw_dev = b.name_of(STATIC_GW.0).unwrap_or_default();
    let defaults = default_routes(b);
    assert!(
        defaults.len() == 1
            && defaults[0].starts_with(&format!("default via 10.0.2.2 dev {gw_dev}")),
        "exactly one default route, via the metadata's gateway: {defaults:?}\n{d}"
    );
    assert!(
        has_route(b, "192.168.50.0/24", "10.0.4.1", STATIC_ROUTE.0),
        "the metadata's extra route\n{d}"
    );
}

/// `cloudboot analyze boot` run in the guest after the boot, read as a user
/// checks it against what systemd itself says (`systemctl show`, recorded
/// beside it): the kernel's time to boot is systemd's userspace start, the
/// stage's activation is `cloudboot-local.service`'s, the kernel started at
/// the kernel's own boot time, and the local stage's start in this boot's
/// log comes after its activation and before the boot finished.
fn assert_analyze_boot(b: &Boot) {
    let d = b.describe();
    let out = b.read("analyze-boot");
    let timestamps = b.read("systemd-timestamps");
    let context = format!("--- analyze boot\n{out}--- systemctl show\n{timestamps}\n{d}");
    assert!(
        out.starts_with("-- Most Recent Boot Record --\n"),
        "boot {}: not a boot record\n{context}",
        b.n
    );
    let field = |name: &str| -> String {
        out.lines()
            .find_map(|l| l.trim_start().strip_prefix(name)?.strip_prefix(": "))
            .unwrap_or_else(|| panic!("no {name:?}\n{context}"))
            .to_string()
    };
    let seconds = |name: &str| -> f64 {
        let v = field(name);
        v.parse()
            .unwrap_or_else(|_| panic!("{name}: {v:?} is not seconds\n{context}"))
    };
    // `datetime.utcfromtimestamp`'s text, as seconds since the epoch.
    let at = |name: &str| -> f64 {
        let v = field(name);
        chrono::NaiveDateTime::parse_from_str(&v, "%Y-%m-%d %H:%M:%S%.f")
            .map(|t| t.and_utc().timestamp_micros() as f64 / 1e6)
            .unwrap_or_else(|_| panic!("{name}: {v:?} is not a time\n{context}"))
    };
    // `systemctl show` gives microseconds since the kernel started.
    let monotonic = |key: &str| -> f64 {
        timestamps
            .lines()
            .find_map(|l| l.strip_prefix(key)?.trim().parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no {key:?}\n{context}"))
            / 1e6
    };
    let userspace = monotonic("UserspaceTimestampMonotonic=");
    let activated = monotonic("cloudboot-local InactiveExitTimestampMonotonic=");
    assert!(
        userspace > 0.0 && activated > userspace,
        "systemd's own timestamps\n{context}"
    );
    let kernel = seconds("Kernel time to boot (seconds)");
    let between = seconds("Time between Kernel end boot and Cloud-init activation (seconds)");
    assert!(
        kernel >= 0.0 && (kernel - userspace).abs() < 1e-3,
        "kernel time to boot {kernel}, systemd's userspace start {userspace}\n{context}"
    );
    assert!(
        between >= 0.0 && (between - (activated - userspace)).abs() < 1e-3,
        "kernel end to activation {between}, systemd's {}\n{context}",
        activated - userspace
    );
    let started = at("Kernel Started at");
    let btime: f64 = b.read("btime").trim().parse().unwrap_or(0.0);
    assert!(
        (started - btime).abs() < 2.0,
        "kernel started at {started}, the kernel's btime {btime}\n{context}"
    );
    assert!(
        (at("Kernel ended boot at") - started - kernel).abs() < 1e-3
            && (at("Cloud-init activated by systemd at") - started - kernel - between).abs() < 1e-3,
        "the times do not add up\n{context}"
    );
    // The log's times are the wall clock's, to the millisecond.
    let local_start = at("Cloud-init start") - started;
    let finished: f64 = b
        .read("uptime-after-final")
        .split_whitespace()
        .next()
        .and_then(|u| u.parse().ok())
        .unwrap_or(0.0);
    assert!(
        local_start >= activated - 0.01 && local_start <= finished,
        "the local stage started {local_start} s after the kernel: before its activation \
         ({activated} s) or after the boot finished ({finished} s)\n{context}"
    );
}

fn runcmd_runs(b: &Boot) -> usize {
    b.read("runcmd.log").lines().count()
}

#[test]
fn config_drive_three_nics_then_reboot_then_a_new_instance_with_other_nics() {
    let Some(mut g) = guest(Init::Systemd, System::Cloudboot) else {
        return;
    };
    // PCI order (eth0, eth1, eth2 before any renaming) differs from the
    // metadata's.
    let hw = with_drive(
        &g,
        "first.iso",
        &config_drive_files(&meta_data("vm-cd-1", "vm-cd-one"), &network_first()),
        &[STATIC_ROUTE, STATIC_GW, DHCP],
    );

    let b1 = g.boot(&hw);
    assert_finished(&b1);
    let d = b1.describe();
    let first_network = [
        (STATIC_GW.0, "10.0.2.15/24"),
        (DHCP.0, "10.0.3.15/24"),
        (STATIC_ROUTE.0, "10.0.4.10/24"),
    ];
    assert_network(&b1, &first_network);
    assert_eq!(b1.read("hostname").trim(), "vm-cd-one", "{d}");
    assert!(
        b1.read("authorized_keys")
            .contains(&format!("== /home/debian/.ssh/authorized_keys\n{KEY}")),
        "the key for the default user\n{}\n{d}",
        b1.read("authorized_keys")
    );
    assert_eq!(runcmd_runs(&b1), 1, "{d}");
    assert_analyze_boot(&b1);
    // The network stage started with the static addresses already up.
    let at_network = b1.read("bootcmd.log");
    assert!(
        at_network.contains("10.0.2.15/24") && at_network.contains("10.0.4.10/24"),
        "addresses when bootcmd ran: {at_network}\n{d}"
    );

    // Reboot, same disk, same drive: nothing per-instance runs again.
    let b2 = g.boot(&hw);
    assert_finished(&b2);
    let d = b2.describe();
    assert_eq!(runcmd_runs(&b2), 1, "runcmd ran again\n{d}");
    assert_eq!(b2.read("host-keys"), b1.read("host-keys"), "{d}");
    assert_eq!(
        b2.read("authorized_keys"),
        b1.read("authorized_keys"),
        "{d}"
    );
    assert_network(&b2, &first_network);
    // The log holds both boots: the record is this one's.
    assert_analyze_boot(&b2);
    assert_eq!(
        b2.read("bootcmd.log").matches("== ").count(),
        2,
        "bootcmd runs every boot\n{d}"
    );

    // A new instance on other hardware: the DHCP NIC gone, a new NIC first
    // in PCI order (where the old eth0 was).
    let hw = with_drive(
        &g,
        "second.iso",
        &config_drive_files(&meta_data("vm-cd-2", "vm-cd-two"), &network_second()),
        &[ADDED, STATIC_GW, STATIC_ROUTE],
    );
    let b3 = g.boot(&hw);
    assert_finished(&b3);
    let d = b3.describe();
    assert_eq!(b3.read("hostname").trim(), "vm-cd-two", "{d}");
    assert_network(
        &b3,
        &[
            (STATIC_GW.0, "10.0.2.15/24"),
            (STATIC_ROUTE.0, "10.0.4.10/24"),
            (ADDED.0, "10.0.5.10/24"),
        ],
    );
    assert_eq!(runcmd_runs(&b3), 2, "runcmd once for the new instance\n{d}");
    let nics = b3.read("nics");
    assert!(
        !nics.contains("rename") && !nics.contains("cirename"),
        "leftover temporary names: {nics}\n{d}"
    );
    let rules = b3.read("70-persistent-net.rules");
    assert!(
        !rules.contains(DHCP.0),
        "the removed NIC's udev rule stayed:\n{rules}\n{d}"
    );
    let eni = read_dir_text(&b3.dir.join("interfaces.d"));
    assert!(
        !eni.contains("inet dhcp"),
        "the removed DHCP NIC's stanza stayed:\n{eni}\n{d}"
    );
}

/// All files of a directory the guest copied, concatenated.
fn read_dir_text(dir: &std::path::Path) -> String {
    let mut out = String::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            out += &std::fs::read_to_string(e.path()).unwrap_or_default();
        }
    }
    out
}

#[test]
fn sysv_runs_the_local_stage_before_networking_and_the_rest_in_order() {
    let Some(mut g) = guest(Init::Sysv, System::Cloudboot) else {
        return;
    };
    let b = g.boot(&with_drive(
        &g,
        "seed.iso",
        &config_drive_files(&meta_data("vm-sysv-1", "vm-sysv"), &network_one()),
        &[STATIC_GW],
    ));
    assert_finished(&b);
    let d = b.describe();
    // The console, in the order things happened.
    let at = |needle: &str| {
        b.console
            .find(needle)
            .unwrap_or_else(|| panic!("the console never shows {needle:?}\n{d}"))
    };
    let local = at("running 'init-local'");
    let networking = at("Configuring network interfaces");
    let network_stage = at("running 'init'");
    let config = at("running 'modules:config'");
    let final_ = at("running 'modules:final'");
    assert!(
        local < networking && networking < network_stage && network_stage < config && config < final_,
        "stage order on the console: local {local}, networking {networking}, network {network_stage}, \
         config {config}, final {final_}\n{d}"
    );
    assert!(
        b.read("bootcmd.log").contains("10.0.2.15/24"),
        "the static address was not up when the network stage ran\n{d}"
    );
    assert!(
        b.read("result.json").contains("ConfigDrive"),
        "{}\n{d}",
        b.read("result.json")
    );
    assert_eq!(b.read("hostname").trim(), "vm-sysv", "{d}");
    assert_eq!(b.addresses_of(STATIC_GW.0), ["10.0.2.15/24"], "{d}");
    assert_eq!(default_routes(&b).len(), 1, "{d}");
}

#[test]
fn a_missing_disk_in_the_metadata_and_in_mounts_never_holds_the_next_boot() {
    let Some(mut g) = guest(Init::Systemd, System::Cloudboot) else {
        return;
    };
    let mut files = config_drive_files(&meta_data("vm-disk-1", "vm-disk"), &network_one());
    // The EC2 metadata names an ephemeral disk (vdb) the machine does not
    // have, and user-data mounts it, with the built-in options.
    files.push((
        "ec2/latest/meta-data.json".into(),
        r#"{"instance-id": "vm-disk-1", "block-device-mapping": {"ami": "vda", "ephemeral0": "vdb", "root": "/dev/vda"}}"#.into(),
    ));
    for f in files.iter_mut().filter(|f| f.0.ends_with("user_data")) {
        f.1 += "mounts:\n  - [vdb, /mnt/data]\n";
    }
    let hw = with_drive(&g, "seed.iso", &files, &[STATIC_GW]);
    let b1 = g.boot(&hw);
    assert_finished(&b1);
    let fstab = b1.read("fstab");
    let line = fstab
        .lines()
        .find(|l| l.starts_with("vdb\t") || l.starts_with("/dev/vdb"))
        .unwrap_or_else(|| panic!("no fstab line for the absent disk:\n{fstab}"));
    assert!(line.contains("nofail"), "{line}");
    assert!(
        !fstab.lines().any(|l| l.contains(" /mnt ")),
        "the absent ephemeral0 was mounted on /mnt:\n{fstab}"
    );
    let b2 = g.boot(&hw);
    assert_finished(&b2);
    assert!(
        b2.console.contains("Reached target") || b2.console.contains("multi-user"),
        "{}",
        b2.describe()
    );
}

#[test]
fn nocloud_on_a_vfat_disk() {
    let Some(mut g) = guest(Init::Systemd, System::Cloudboot) else {
        return;
    };
    let meta = "instance-id: vm-nocloud-1\nlocal-hostname: vm-nocloud\n";
    let network = format!(
        "version: 2\nethernets:\n  lan:\n    match: {{macaddress: \"{}\"}}\n    set-name: lan0\n    \
         addresses: [10.0.2.20/24]\n    gateway4: 10.0.2.2\n",
        STATIC_GW.0
    );
    let user = format!("{USER_DATA}ssh_authorized_keys:\n  - {KEY}\n");
    let seed = vm_common::vfat(
        &g.path("seed.img"),
        "CIDATA",
        &[
            ("meta-data", meta),
            ("user-data", &user),
            ("network-config", &network),
        ],
    );
    let b = g.boot(&Hardware {
        nics: vec![nic(STATIC_GW)],
        drives: vec![seed],
        ..Default::default()
    });
    assert_finished(&b);
    let d = b.describe();
    assert!(b.read("result.json").contains("NoCloud"), "{d}");
    assert_eq!(b.read("hostname").trim(), "vm-nocloud", "{d}");
    assert_eq!(b.name_of(STATIC_GW.0).as_deref(), Some("lan0"), "{d}");
    assert_eq!(b.addresses_of(STATIC_GW.0), ["10.0.2.20/24"], "{d}");
    let defaults = default_routes(&b);
    assert!(
        defaults.len() == 1 && defaults[0].starts_with("default via 10.0.2.2 dev lan0"),
        "{defaults:?}\n{d}"
    );
    assert!(b.read("authorized_keys").contains(KEY), "{d}");
    assert_eq!(runcmd_runs(&b), 1, "{d}");
}

#[test]
fn ec2_metadata_service_on_its_real_address() {
    let Some(mut g) = guest(Init::Systemd, System::Cloudboot) else {
        return;
    };
    // The service's tree: QEMU starts tests/vm/imds.py on each connection
    // the guest makes to 169.254.169.254:80 (guestfwd); nothing listens on
    // the machine, and the address exists only in the guest's user-mode
    // network (restrict=on): the host sends nothing to it (and, as root,
    // this binary runs in a network namespace of its own, tests/common).
    let tree = g.path("imds");
    let md = tree.join("latest/meta-data");
    for (path, content) in [
        ("instance-id", "i-0123456789abcdef0"),
        ("local-hostname", "ip-169-254-0-15.ec2.internal"),
        ("hostname", "ip-169-254-0-15.ec2.internal"),
        ("instance-type", "t3.micro"),
        ("placement/availability-zone", "us-east-1a"),
        ("public-keys/0/openssh-key", KEY),
        // EC2 lists the keys as `index=name`.
        ("public-keys/.listing", "0=vm-test"),
        ("mac", STATIC_GW.0),
    ] {
        let p = md.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    std::fs::write(md.parent().unwrap().join("user-data"), USER_DATA).unwrap();
    std::fs::create_dir_all(tree.join("latest/dynamic/instance-identity")).unwrap();
    std::fs::write(
        tree.join("latest/dynamic/instance-identity/document"),
        r#"{"region": "us-east-1", "instanceId": "i-0123456789abcdef0", "availabilityZone": "us-east-1a"}"#,
    )
    .unwrap();
    let imds = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vm/imds.py");
    let b = g.boot(&Hardware {
        nics: vec![format!(
            "{},net=169.254.0.0/16,guestfwd=tcp:169.254.169.254:80-cmd:python3 {imds} {}",
            STATIC_GW.0,
            tree.display()
        )],
        smbios: Some(
            "manufacturer=Amazon EC2,product=t3.micro,uuid=ec2e1916-9099-7caf-fd21-012345abcdef"
                .into(),
        ),
        ..Default::default()
    });
    assert_finished(&b);
    let d = b.describe();
    let requests = std::fs::read_to_string(tree.join("requests.log")).unwrap_or_default();
    assert!(
        requests.contains("PUT /latest/api/token")
            && requests.contains("/meta-data/instance-id")
            && requests.contains("/user-data"),
        "the guest never asked the service: {requests}\n{d}"
    );
    assert!(b.read("result.json").contains("Ec2"), "{d}");
    assert!(b.read("authorized_keys").contains(KEY), "{d}");
    assert_eq!(runcmd_runs(&b), 1, "{d}");
    assert_eq!(b.read("hostname").trim(), "ip-169-254-0-15", "{d}");
}

#[test]
fn the_root_partition_grows_to_the_disk() {
    let Some(mut g) = guest(Init::Systemd, System::Cloudboot) else {
        return;
    };
    let iso = drive(
        &g,
        "seed.iso",
        &config_drive_files(
            &meta_data("vm-grow-1", "vm-grow"),
            r#"{"links": [], "networks": []}"#,
        ),
    );
    let b = g.boot(&Hardware {
        cdrom: Some(iso),
        ..Default::default()
    });
    assert_finished(&b);
    // The disk is 4 GiB, the partition 2 GiB in the image's table.
    let size: u64 = b.read("root-size").trim().parse().unwrap_or(0);
    assert!(size > 3 << 30, "/ is {size} bytes\n{}", b.describe());
}

/// `cloudboot doctor` or `seal` on the guest's powered-off disk.
fn on_disk(m: &vm_common::Mounted, args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(common::BIN)
        .arg("--root")
        .arg(m.dir.path())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn a_booted_guest_sealed_as_a_template_boots_fresh_on_other_nics() {
    let Some(mut g) = guest(Init::Systemd, System::Cloudboot) else {
        return;
    };
    // The template: booted once on its first cloud, three NICs.
    let hw = with_drive(
        &g,
        "template.iso",
        &config_drive_files(&meta_data("vm-template", "vm-template"), &network_first()),
        &[STATIC_GW, DHCP, STATIC_ROUTE],
    );
    let b1 = g.boot(&hw);
    assert_finished(&b1);

    // What the template carries, found on its disk; then sealed.
    {
        let disk = g.mount();
        let (code, found) = on_disk(&disk, &["doctor"]);
        assert_eq!(code, 1, "{found}");
        for id in [
            "[stale-instance-state]",
            "[shared-machine-id]",
            "[stale-network-config]",
            "[persistent-net-rules]",
        ] {
            assert!(found.contains(id), "{id} on the booted template:\n{found}");
        }
        let (code, sealed) = on_disk(&disk, &["seal", "--cloud", "ConfigDrive"]);
        assert_eq!(code, 0, "{sealed}");
        let (code, after) = on_disk(&disk, &["doctor", "--cloud", "ConfigDrive"]);
        assert_eq!(code, 0, "doctor after seal:\n{after}\nseal said:\n{sealed}");
    }

    // A clone on another cloud: a new instance, the DHCP NIC gone and a
    // new one first in PCI order.
    let hw = with_drive(
        &g,
        "clone.iso",
        &config_drive_files(&meta_data("vm-clone", "vm-clone"), &network_second()),
        &[ADDED, STATIC_GW, STATIC_ROUTE],
    );
    let b2 = g.boot(&hw);
    assert_finished(&b2);
    let d = b2.describe();
    assert_eq!(b2.read("hostname").trim(), "vm-clone", "{d}");
    assert_network(
        &b2,
        &[
            (STATIC_GW.0, "10.0.2.15/24"),
            (STATIC_ROUTE.0, "10.0.4.10/24"),
            (ADDED.0, "10.0.5.10/24"),
        ],
    );
    // Its own identity: a machine-id and host keys of its own.
    let (id1, id2) = (b1.read("machine-id"), b2.read("machine-id"));
    assert!(
        id2.trim().len() == 32 && id1 != id2,
        "machine-id {id1:?} -> {id2:?}\n{d}"
    );
    assert!(!b2.read("host-keys").is_empty(), "{d}");
    assert_ne!(b2.read("host-keys"), b1.read("host-keys"), "{d}");
    // Nothing of the template's network: its DHCP NIC's stanza and udev rule.
    let rules = b2.read("70-persistent-net.rules");
    assert!(!rules.contains(DHCP.0), "{rules}\n{d}");
    assert!(
        !read_dir_text(&b2.dir.join("interfaces.d")).contains("inet dhcp"),
        "{d}"
    );
    assert_eq!(runcmd_runs(&b2), 2, "runcmd once more, for the clone\n{d}");
}

/// wireguard on a real kernel (this machine's may lack WireGuard; the
/// guest's Debian 12 kernel has it): Debian's own wireguard-tools on the
/// image, the module writes wg0.conf (0600), loads the kernel module,
/// enables and restarts `wg-quick@wg0` through systemd and runs the
/// readiness probe, which sees the interface's key.
#[test]
fn a_wireguard_interface_comes_up_in_the_guest() {
    let Some(mut g) = guest(Init::Systemd, System::Cloudboot) else {
        return;
    };
    {
        // The image: wireguard-tools unpacked (the wgfan case's copy of
        // Debian 12's package), and the module listed where Ubuntu's
        // cloud.cfg lists it (22.4 verifies it on ubuntu only).
        let m = g.mount();
        let deb = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/modules/cases/wgfan/root/srv/repo/wireguard-tools_1.0.20210914-1+b1_amd64.deb"
        );
        // tar keeps the image's /lib -> usr/lib links (usrmerge), which
        // `dpkg-deb -x` would replace with directories.
        let st = std::process::Command::new("sh")
            .arg("-c")
            .arg(
                "dpkg-deb --fsys-tarfile \"$1\" | \
                 tar -x -C \"$2\" --keep-directory-symlink --no-overwrite-dir",
            )
            .arg("sh")
            .arg(deb)
            .arg(m.dir.path())
            .status()
            .unwrap();
        assert!(st.success(), "unpacking {deb}");
        std::fs::write(
            m.dir.path().join("etc/cloud/cloud.cfg.d/60-wireguard.cfg"),
            "unverified_modules: [wireguard]\n\
             cloud_config_modules: [wireguard, runcmd]\n",
        )
        .unwrap();
    }
    let meta = "instance-id: vm-wireguard-1\nlocal-hostname: vm-wg\n";
    let user = "#cloud-config
wireguard:
  interfaces:
    - name: wg0
      config_path: /etc/wireguard/wg0.conf
      content: |
        [Interface]
        PrivateKey = AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
        Address = 10.99.0.1/24
        ListenPort = 51820
        [Peer]
        PublicKey = 5LnvIWVpMbc0sMDq7vtzeO/4Yn/xBTAI6/vrCN3LZEo=
        AllowedIPs = 10.99.0.2/32
  readinessprobe:
    - 'mkdir -p /var/vm-test && wg show wg0 public-key > /var/vm-test/wg-public-key'
runcmd:
  - [sh, -c, 'systemctl is-active wg-quick@wg0 > /var/vm-test/wg-active; systemctl is-enabled wg-quick@wg0 > /var/vm-test/wg-enabled; stat -c %a /etc/wireguard/wg0.conf > /var/vm-test/wg-mode; grep -c ^wireguard /proc/modules > /var/vm-test/wg-module']
";
    let seed = vm_common::vfat(
        &g.path("seed.img"),
        "CIDATA",
        &[("meta-data", meta), ("user-data", user)],
    );
    let b = g.boot(&Hardware {
        nics: vec![nic(STATIC_GW)],
        drives: vec![seed],
        ..Default::default()
    });
    assert_finished(&b);
    let d = b.describe();
    assert_eq!(b.read("wg-mode").trim(), "600", "{d}");
    assert_eq!(b.read("wg-module").trim(), "1", "{d}");
    assert_eq!(b.read("wg-enabled").trim(), "enabled", "{d}");
    assert_eq!(b.read("wg-active").trim(), "active", "{d}");
    assert_eq!(
        b.read("wg-public-key").trim(),
        "j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF8=",
        "{d}"
    );
    assert!(
        b.read("addr")
            .lines()
            .any(|l| l.contains(" wg0 ") && l.contains("inet 10.99.0.1/24")),
        "{}\n{d}",
        b.read("addr")
    );
}
