//! Tests never leave the machine (issue 10, item 10). As root, every test
//! binary that uses tests/common runs, with the servers it starts and the
//! cloudboot it runs, in a network namespace of its own that holds only
//! `lo` (entered before `main`); as an ordinary user, the tests' metadata
//! services, `seedfrom` and `#include` servers are on 127.0.0.1 and no test
//! names another address.
//!
//! The guards: that namespace is there; and a whole boot whose DMI says both
//! EC2 and OpenStack, with no datasource settings (so cloud-init's default
//! metadata URLs), inside a fresh one, whose requests must reach the
//! listeners this test puts on 169.254.169.254 and fd00:ec2::254 in it,
//! which shows the discovery ran there and not on the host's network. No
//! URL the boot tried may be anywhere else.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use common::skip::{self, Need};
use common::{private_network, Machine};

/// A metadata service that has nothing: it records each request line
/// (`PUT /latest/api/token`) and answers 404.
fn empty_service(addr: &str) -> Arc<Mutex<Vec<String>>> {
    let listener = TcpListener::bind(addr).unwrap_or_else(|e| panic!("binding {addr}: {e}"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(stream) = conn else { continue };
            let mut reader = BufReader::new(&stream);
            let mut head = String::new();
            let _ = reader.read_line(&mut head);
            log.lock().unwrap().push(head.trim_end().to_string());
            // The rest of the head; the requests carry no body.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let _ = (&stream).write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    seen
}

fn ip(args: &[&str]) -> String {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "ip {args:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The namespace this test binary entered before `main` (tests/common):
/// not the host's, and only `lo` in it.
#[test]
fn as_root_every_test_runs_in_a_network_namespace_with_only_lo() {
    if !skip::require(&[
        Need::Root("to make a network namespace"),
        Need::Program("ip", "iproute2"),
    ]) {
        return;
    }
    let ns = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    // SAFETY: getppid cannot fail.
    let parent = unsafe { libc::getppid() }.to_string();
    assert_ne!(
        ns("thread-self"),
        ns(&parent),
        "not the network namespace of the process that ran the tests (cargo)"
    );
    let links = ip(&["-o", "link"]);
    assert_eq!(links.lines().count(), 1, "{links}");
    assert!(links.contains(": lo: "), "{links}");
    let addrs = ip(&["-o", "addr"]);
    assert!(addrs.contains("inet 127.0.0.1/8"), "lo is up: {addrs}");
}

#[test]
fn a_boot_where_dmi_says_ec2_and_openstack_asks_only_the_services_in_its_own_namespace() {
    if !skip::require(&[
        Need::Root("to make a network namespace"),
        Need::Program("ip", "iproute2"),
    ]) {
        return;
    }
    // A fresh namespace for this test's thread alone: only lo, no route
    // anywhere else.
    private_network::enter().unwrap();
    let links = ip(&["-o", "link"]);
    assert_eq!(links.lines().count(), 1, "{links}");
    assert!(links.contains(": lo: "), "{links}");
    for cidr in ["169.254.169.254/32", "fd00:ec2::254/128"] {
        private_network::add_to_lo(cidr).unwrap();
    }
    let routes = ip(&["route"]) + &ip(&["-6", "route"]);
    assert!(!routes.contains("default"), "{routes}");
    let v4 = empty_service("169.254.169.254:80");
    let v6 = empty_service("[fd00:ec2::254]:80");

    let m = Machine::new();
    m.write("/sys/class/dmi/id/product_name", "OpenStack Nova\n");
    m.write("/sys/class/dmi/id/sys_vendor", "Amazon EC2\n");
    for args in [&["init", "--local"][..], &["init"][..]] {
        let _ = m.run(args);
    }
    assert_eq!(
        m.read("/var/lib/cloud/data/instance-id"),
        "iid-datasource-none\n",
        "neither service had anything: the search ends in DataSourceNone"
    );

    let v4 = v4.lock().unwrap().clone();
    let v6 = v6.lock().unwrap().clone();
    // OpenStack's own tree and EC2's token, both at 169.254.169.254.
    assert!(
        v4.iter().any(|r| r.starts_with("GET /openstack")),
        "OpenStack asked 169.254.169.254: {v4:#?}"
    );
    assert!(
        v4.iter().any(|r| r.starts_with("PUT /latest/api/token")),
        "EC2 asked 169.254.169.254 for a token: {v4:#?}"
    );
    // EC2's second default URL.
    assert!(
        v6.iter().any(|r| r.starts_with("PUT /latest/api/token")),
        "EC2 asked fd00:ec2::254 for a token: {v6:#?}"
    );
    // Every URL the boot logged is at one of those two addresses.
    let log = m.read("/var/log/cloud-init.log");
    let hosts: Vec<&str> = log
        .split("http://")
        .skip(1)
        .map(|rest| match rest.strip_prefix('[') {
            Some(v6) => &rest[..v6.find(']').map_or(rest.len(), |end| end + 2)],
            None => &rest[..rest.find(['/', ':', ' ', '\n']).unwrap_or(rest.len())],
        })
        .collect();
    assert!(!hosts.is_empty(), "the log names the URLs it tried:\n{log}");
    for host in hosts {
        assert!(
            host == "169.254.169.254" || host == "[fd00:ec2::254]",
            "{host}: a URL outside the two default services\n{log}"
        );
    }
}
