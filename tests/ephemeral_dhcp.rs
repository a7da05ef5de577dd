//! The local stage's ephemeral DHCP network, for real: a guest network
//! namespace whose only NIC (`eth0`, down) is a veth to a "cloud"
//! namespace, where dnsmasq serves DHCP and a metadata service listens on
//! 169.254.169.254 (its `lo`), reachable from the guest only through what
//! the lease gives: a classless static route (option 121) or a router
//! (option 3). cloudboot's four stages run inside the guest namespace
//! (`ip netns exec`, which also gives them that namespace's
//! `/sys/class/net`) against a scratch root whose DMI names the cloud;
//! Ec2Local / OpenStackLocal find the instance in the local stage. Then the
//! guest namespace must be as before: same addresses, routes and links, and
//! no process left in it.

mod common;
mod netns_common;

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::os::fd::AsRawFd;
use std::process::{Command, Output};

use common::metadata_server::{table, Handler, MetadataServer, Reply, Request};
use common::{Machine, BIN};
use netns_common::{lab_with_dhcp_options, Lab, Nic};

const GUEST_MAC: &str = "02:00:0a:14:00:05";

fn nics() -> [Nic; 1] {
    [Nic {
        name: "eth0",
        mac: GUEST_MAC,
        peer_addr: Some("10.20.0.1/24"),
        dhcp_range: Some(("10.20.0.50", "10.20.0.60")),
    }]
}

/// Serves `handler` on 169.254.169.254:80 in the lab's cloud namespace
/// (bound from a thread that enters it, so the test's thread stays where
/// it is).
fn metadata_in_cloud(lab: &Lab, handler: Handler) -> MetadataServer {
    for args in [
        &["addr", "add", "169.254.169.254/32", "dev", "lo"][..],
        &["link", "set", "lo", "up"][..],
    ] {
        let out = Command::new("ip")
            .args(["-n", &lab.cloud])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "ip {args:?}: {out:?}");
    }
    let cloud = lab.cloud.clone();
    let listener = std::thread::spawn(move || {
        let ns = std::fs::File::open(format!("/run/netns/{cloud}")).unwrap();
        // SAFETY: moves only this short-lived thread into the namespace.
        assert_eq!(
            unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) },
            0
        );
        TcpListener::bind("169.254.169.254:80").unwrap()
    })
    .join()
    .unwrap();
    MetadataServer::serve(listener, handler)
}

/// Runs `cloudboot --root <root> ARGS` inside the guest namespace.
fn in_guest(lab: &Lab, m: &Machine, args: &[&str]) -> Output {
    Command::new("ip")
        .args(["netns", "exec", &lab.guest, BIN, "--root"])
        .arg(m.root())
        .args(args)
        .output()
        .unwrap()
}

/// The four stages in the guest namespace, each exiting 0.
fn boot_in_guest(lab: &Lab, m: &Machine) {
    for args in [
        &["init", "--local"][..],
        &["init"][..],
        &["modules", "--mode=config"][..],
        &["modules", "--mode=final"][..],
    ] {
        let out = in_guest(lab, m, args);
        if std::env::var_os("EPHEMERAL_DEBUG").is_some() {
            eprintln!("{args:?}: {}", String::from_utf8_lossy(&out.stderr));
            if let Ok(log) = std::fs::read_to_string(m.path("/var/log/cloud-init.log")) {
                eprintln!("{log}");
            }
        }
        assert_eq!(
            out.status.code(),
            Some(0),
            "cloudboot {args:?}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The guest's addresses, routes (every table) and links, as `ip -j`
/// prints them, without the links' `qdisc`: the kernel attaches a NIC's
/// default queueing discipline the first time it comes up (`noop` becomes
/// `noqueue`) and keeps it when it goes down again; nothing sets it.
fn guest_network(lab: &Lab) -> Vec<serde_json::Value> {
    let out = lab.guest_sh(
        "ip -j addr; ip -j -4 route show table all; ip -j -6 route show table all; ip -j link",
    );
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            for link in v.as_array_mut().into_iter().flatten() {
                if let Some(o) = link.as_object_mut() {
                    o.remove("qdisc");
                }
            }
            v
        })
        .collect()
}

/// The processes in the guest namespace (`ip netns pids`).
fn guest_processes(lab: &Lab) -> String {
    let out = Command::new("ip")
        .args(["netns", "pids", &lab.guest])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The guest got its lease from dnsmasq: the request came from the range.
fn from_the_lease(server: &MetadataServer) {
    let requests = server.requests();
    assert!(!requests.is_empty(), "the metadata service was not asked");
    for r in &requests {
        let IpAddr::V4(ip) = r.peer.ip() else {
            panic!("{r:?}")
        };
        assert!(
            ip >= Ipv4Addr::new(10, 20, 0, 50) && ip <= Ipv4Addr::new(10, 20, 0, 60),
            "request from {ip}, not from the DHCP range"
        );
    }
}

const EC2: &[(&str, &str)] = &[
    ("/2018-09-24/meta-data/instance-id", "i-0dhcp"),
    (
        "/2018-09-24/meta-data/",
        "instance-id\nlocal-hostname\npublic-keys/\n",
    ),
    ("/2018-09-24/meta-data/local-hostname", "ip-10-20-0-50"),
    ("/2018-09-24/meta-data/public-keys/", "0=lab"),
    (
        "/2018-09-24/meta-data/public-keys/0/openssh-key",
        "ssh-ed25519 AAAAlab lab\n",
    ),
    (
        "/2018-09-24/user-data",
        "#cloud-config\nwrite_files: [{path: /etc/from-ec2-local, content: dhcp}]\n",
    ),
];

fn ec2_handler() -> Handler {
    let routes = table(
        EC2.iter()
            .map(|(p, b)| (*p, b.as_bytes().to_vec()))
            .collect(),
    );
    Box::new(move |r| {
        if r.method == "PUT" && r.path == "/latest/api/token" {
            return Reply::ok("lab-token");
        }
        if r.header("X-aws-ec2-metadata-token") != Some("lab-token") {
            return Reply::status(401, "");
        }
        routes(r)
    })
}

/// Ec2Local over a lease whose option 121 routes 169.254.169.254 through
/// the cloud's address (no router option, so nothing else could reach it).
#[test]
fn ec2_local_reads_the_metadata_over_a_classless_route() {
    let nics = nics();
    let Some(lab) = lab_with_dhcp_options(
        &nics,
        &[
            "--dhcp-option=121,169.254.169.254/32,10.20.0.1",
            "--dhcp-option=245,a8:3f:81:10",
        ],
    ) else {
        return;
    };
    let server = metadata_in_cloud(&lab, ec2_handler());
    let m = Machine::new();
    m.write("/sys/class/dmi/id/sys_vendor", "Amazon EC2\n");
    let before = guest_network(&lab);
    assert_eq!(before[0][1]["ifname"], "eth0");
    assert_eq!(before[0][1]["operstate"], "DOWN", "{before:?}");
    boot_in_guest(&lab, &m);

    assert_eq!(m.read("/var/lib/cloud/data/instance-id"), "i-0dhcp\n");
    assert_eq!(
        m.read("/var/lib/cloud/instances/i-0dhcp/datasource"),
        "DataSourceEc2Local: DataSourceEc2Local\n"
    );
    assert_eq!(m.read("/etc/from-ec2-local"), "dhcp");
    assert_eq!(m.read("/etc/hostname"), "ip-10-20-0-50\n");
    assert_eq!(m.run_ok(&["query", "v1.cloud_name"], 0), "aws\n");
    let status = m.read("/var/lib/cloud/data/status.json");
    assert!(status.contains("DataSourceEc2Local"), "{status}");
    from_the_lease(&server);
    assert!(leases(&lab).contains(GUEST_MAC), "dnsmasq gave no lease");
    // Every request carried the IMDSv2 token.
    assert!(server.requests()[1..]
        .iter()
        .all(|r| r.header("X-aws-ec2-metadata-token") == Some("lab-token")));

    assert_eq!(guest_network(&lab), before, "the guest's network changed");
    assert_eq!(guest_processes(&lab), "", "processes left in the guest");
}

/// Ec2Local over a lease with a router (option 3): a host route to it and
/// the default route through it, both gone afterwards.
#[test]
fn ec2_local_reads_the_metadata_through_the_router() {
    let nics = nics();
    let Some(lab) = lab_with_dhcp_options(&nics, &["--dhcp-option=3,10.20.0.1"]) else {
        return;
    };
    let server = metadata_in_cloud(&lab, ec2_handler());
    let m = Machine::new();
    m.write("/sys/class/dmi/id/sys_vendor", "Amazon EC2\n");
    let before = guest_network(&lab);
    boot_in_guest(&lab, &m);
    assert_eq!(m.read("/var/lib/cloud/data/instance-id"), "i-0dhcp\n");
    assert_eq!(m.read("/etc/from-ec2-local"), "dhcp");
    from_the_lease(&server);
    assert_eq!(guest_network(&lab), before, "the guest's network changed");
    assert_eq!(guest_processes(&lab), "", "processes left in the guest");
}

/// OpenStackLocal: DMI says OpenStack, the service is read in the local
/// stage over the lease's router.
#[test]
fn openstack_local_reads_the_metadata_over_dhcp() {
    let nics = nics();
    let Some(lab) = lab_with_dhcp_options(&nics, &["--dhcp-option=3,10.20.0.1"]) else {
        return;
    };
    let server = metadata_in_cloud(
        &lab,
        table(vec![
            ("/openstack", b"2012-08-10\nlatest\n".to_vec()),
            (
                "/openstack/2012-08-10/meta_data.json",
                br#"{"uuid": "os-dhcp-1", "hostname": "os-lab", "public_keys": {"k": "ssh-ed25519 AAAAos os"}}"#
                    .to_vec(),
            ),
            (
                "/openstack/2012-08-10/user_data",
                b"#cloud-config\nwrite_files: [{path: /etc/from-openstack-local, content: dhcp}]\n"
                    .to_vec(),
            ),
        ]),
    );
    let m = Machine::new();
    m.write("/sys/class/dmi/id/product_name", "OpenStack Nova\n");
    let before = guest_network(&lab);
    boot_in_guest(&lab, &m);
    assert_eq!(m.read("/var/lib/cloud/data/instance-id"), "os-dhcp-1\n");
    assert_eq!(
        m.read("/var/lib/cloud/instances/os-dhcp-1/datasource"),
        "DataSourceOpenStackLocal: DataSourceOpenStackLocal [net,ver=2]\n"
    );
    assert_eq!(m.read("/etc/from-openstack-local"), "dhcp");
    from_the_lease(&server);
    assert_eq!(guest_network(&lab), before, "the guest's network changed");
    assert_eq!(guest_processes(&lab), "", "processes left in the guest");
}

/// Without EC2's DMI nothing is tried: no DHCP, no request; and on an
/// EC2-compatible cloud that is not AWS (Brightbox) Ec2Local does not run
/// (22.4's `get_data` of DataSourceEc2Local), so the local stage asks
/// nothing and the network stage does not find the service either.
#[test]
fn no_ephemeral_dhcp_off_aws() {
    let nics = nics();
    let Some(lab) = lab_with_dhcp_options(&nics, &["--dhcp-option=3,10.20.0.1"]) else {
        return;
    };
    let server = metadata_in_cloud(&lab, ec2_handler());
    for dmi in [
        None,
        Some(("product_serial", "srv-abc.gb1.brightbox.com\n")),
    ] {
        let m = Machine::new();
        if let Some((field, value)) = dmi {
            m.write(&format!("/sys/class/dmi/id/{field}"), value);
        }
        let out = in_guest(&lab, &m, &["init", "--local"]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        assert!(!m.exists("/var/lib/cloud/data/instance-id"), "{dmi:?}");
    }
    assert!(server.requests().is_empty(), "{:?}", server.paths());
    let leases = leases(&lab);
    assert!(!leases.contains(GUEST_MAC), "a lease was taken: {leases}");
}

/// A plan changes nothing, not even for a moment: Ec2Local takes no lease
/// in it (the guest's NIC stays down, dnsmasq hands out nothing).
#[test]
fn a_plan_takes_no_lease() {
    let nics = nics();
    let Some(lab) = lab_with_dhcp_options(&nics, &["--dhcp-option=3,10.20.0.1"]) else {
        return;
    };
    let server = metadata_in_cloud(&lab, ec2_handler());
    let m = Machine::new();
    m.write("/sys/class/dmi/id/sys_vendor", "Amazon EC2\n");
    let before = guest_network(&lab);
    let out = in_guest(&lab, &m, &["--debug", "plan"]);
    assert!(out.status.code().is_some(), "{out:?}");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("Ec2Local: no ephemeral network: a plan changes no network"),
        "{log}"
    );
    assert!(server.requests().is_empty(), "{:?}", server.paths());
    assert_eq!(guest_network(&lab), before);
    assert!(!leases(&lab).contains(GUEST_MAC), "a lease was taken");
}

/// What dnsmasq has handed out.
fn leases(lab: &Lab) -> String {
    std::fs::read_dir(lab.dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".leases"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect()
}

/// A datasource that reads in the local stage only when its service is not
/// already reachable (22.4's `connectivity_url_data`), Hetzner here: in the
/// guest, with no route to 169.254.169.254, it brings the NIC up with DHCP,
/// reads, and leaves the network as it was.
#[test]
fn hetzner_reads_its_metadata_over_dhcp_when_unreachable() {
    let nics = nics();
    let Some(lab) = lab_with_dhcp_options(&nics, &["--dhcp-option=3,10.20.0.1"]) else {
        return;
    };
    let server = metadata_in_cloud(
        &lab,
        Box::new(|r: &Request| {
            match r.path.as_str() {
            "/hetzner/v1/metadata" => Reply::ok(
                "instance-id: 4242\nhostname: hetzner-dhcp\npublic-keys: []\nnetwork-config: {version: 1, config: []}\n",
            ),
            "/hetzner/v1/userdata" => Reply::ok(
                "#cloud-config\nwrite_files: [{path: /etc/from-hetzner-dhcp, content: dhcp}]\n",
            ),
            _ => Reply::not_found(),
        }
        }),
    );
    let m = Machine::new();
    m.write("/sys/class/dmi/id/sys_vendor", "Hetzner\n");
    m.write("/sys/class/dmi/id/product_serial", "4242\n");
    let before = guest_network(&lab);
    boot_in_guest(&lab, &m);
    assert_eq!(m.read("/var/lib/cloud/data/instance-id"), "4242\n");
    assert_eq!(m.read("/etc/from-hetzner-dhcp"), "dhcp");
    assert_eq!(m.read("/etc/hostname"), "hetzner-dhcp\n");
    from_the_lease(&server);
    assert_eq!(guest_network(&lab), before, "the guest's network changed");
    assert_eq!(guest_processes(&lab), "", "processes left in the guest");
}
