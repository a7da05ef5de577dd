//! A network for the local stage: datasources that read a metadata service
//! before the image's network is configured (Ec2Local, OpenStackLocal,
//! Azure, GCE, Hetzner, Vultr, Oracle, Scaleway, NWCS, UpCloud) bring one
//! NIC up with DHCP, read, and take it down again (cloud-init's
//! `EphemeralDHCPv4`), leaving no address, route or process behind.
//!
//! [`bring_up`] is the entry point for datasources that 22.4 gives a
//! `connectivity_url_data`: in the network stage, or when the metadata
//! service already answers (a test's address on `lo`, a network the
//! initramfs configured), nothing is changed and the guard it returns does
//! nothing when dropped. [`bring_up_dhcp`] is the one for those 22.4 gives
//! none (Ec2Local, OpenStackLocal): DHCP in the local stage regardless.
//! Either way, in the local stage, as 22.4's `EphemeralDHCPv4` with
//! `EphemeralIPv4Network`:
//!
//! 1. the fallback NIC (`find_fallback_nic`) is chosen, and brought up;
//! 2. a DHCPv4 lease is obtained on it ([`dhcp`]: cloudboot's own client,
//!    which says why it is not the image's dhclient);
//! 3. `ip -family inet addr add <ip>/<prefix> broadcast <bcast> dev <nic>`;
//! 4. the lease's classless static routes (option 121) with `ip -4 route
//!    append`, or, without them, a host route to the router (`ip -4 route
//!    add <router> dev <nic> src <ip>`, so a router outside the lease's
//!    subnet, as on GCE or a /32 lease, is reachable) and the default
//!    route through it, unless a default route exists already;
//! 5. the guard ([`EphemeralNet`]) is handed back, with the lease; dropping
//!    it deletes those routes and the address and takes the NIC down again
//!    if it was down. The client runs in this process: no program is left.
//!
//! # Which machine, which root
//!
//! Files are the target root's (`--root`), but a NIC, its addresses and
//! routes belong to the running kernel: the network namespace this process
//! runs in. So the NIC is chosen from the machine's own `/sys/class/net`
//! (not `<root>/sys`), and the `ip` used is the machine's (as the disk tools
//! are, `effect::Command::on_host`). sysfs shows the namespace of whoever
//! mounted it (`ip netns exec` mounts a fresh one), so each candidate is
//! checked against this namespace (`if_nametoindex` must give its sysfs
//! `ifindex`); one that is not there is skipped.
//!
//! That is an action on the host, which cloudboot never takes for a root
//! other than `/` ... except when this process has a network namespace of
//! its own (not PID 1's, or one `ip netns add` made): then the NIC is a
//! lab's, and nothing of the host's network can change. A root other than
//! `/` in the host's namespace, and any `plan`, get no ephemeral network:
//! the datasource is told why and is not found in the local stage.

mod dhcp;

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

pub use dhcp::{Lease, AZURE_WIRESERVER};

use super::{DsContext, DsError};
use crate::rootfs::{FsView, RealFs, Root};
use crate::schedule::Stage;
use crate::sysnet::SysNet;

/// How long a lease may take: dhclient's `-1` gives up after its config's
/// `timeout` (60 s by default); the local stage is held this long at most
/// when no DHCP server answers.
const DHCP_LIMIT: Duration = Duration::from_secs(20);

/// How long a NIC just brought up may take to become operational (carrier)
/// before DHCP starts anyway.
const CARRIER_WAIT: Duration = Duration::from_secs(3);

/// A network brought up for reading metadata; dropping it takes down what
/// [`bring_up`] set up (nothing, when the network was already there).
#[derive(Debug, Default)]
pub struct EphemeralNet {
    /// The NIC that was configured, when one was.
    pub interface: Option<String>,
    /// The DHCP lease it got (router, server identifier, option 245 for
    /// the datasources that read them), when one was obtained.
    pub lease: Option<Lease>,
    /// `ip` commands that undo what was done, in the order to run them.
    undo: Vec<Vec<String>>,
    /// Take the NIC down again when dropped (it was down before).
    link_down: Option<String>,
}

impl Drop for EphemeralNet {
    fn drop(&mut self) {
        for argv in &self.undo {
            if let Err(e) = ip(argv) {
                tracing::warn!("ephemeral network teardown: {e}");
            }
        }
        if let Some(nic) = &self.link_down {
            if let Err(e) = set_link_up(nic, false) {
                tracing::warn!("ephemeral network teardown: taking {nic} down: {e}");
            }
        }
        if let Some(nic) = &self.interface {
            tracing::debug!("ephemeral network on {nic} taken down");
        }
    }
}

/// Makes `probe_url` (a metadata service's base URL) reachable for the
/// duration of the returned guard: 22.4's `EphemeralDHCPv4` given
/// `connectivity_url_data`, which does nothing when the URL answers.
pub fn bring_up(ctx: &DsContext, probe_url: &str) -> Result<EphemeralNet, DsError> {
    if ctx.stage != Stage::Local || reachable(probe_url) {
        return Ok(EphemeralNet::default());
    }
    bring_up_dhcp(ctx)
}

/// 22.4's `EphemeralDHCPv4` without `connectivity_url_data` (Ec2Local,
/// OpenStackLocal): in the local stage, DHCP on the fallback NIC whether or
/// not the service already answers; nothing in the other stages. Without a
/// NIC or a lease the caller's datasource is not found in the local stage,
/// and the network stage reads the service instead.
pub fn bring_up_dhcp(ctx: &DsContext) -> Result<EphemeralNet, DsError> {
    if ctx.stage != Stage::Local {
        return Ok(EphemeralNet::default());
    }
    if ctx.planning {
        return Err(DsError::EphemeralRefused(
            "a plan changes no network".into(),
        ));
    }
    if !ctx.root.is_host_root() && !own_network_namespace() {
        return Err(DsError::EphemeralRefused(
            "the target root is not / and this is the host's network namespace".into(),
        ));
    }
    let nic = fallback_nic()?;
    let mut net = EphemeralNet::default();
    net.interface = Some(nic.name.clone());
    if !link_is_up(&nic.name).map_err(|e| command_error(&nic.name, "SIOCGIFFLAGS", e))? {
        set_link_up(&nic.name, true).map_err(|e| command_error(&nic.name, "link up", e))?;
        net.link_down = Some(nic.name.clone());
        // A DISCOVER sent before the link is operational is lost, and the
        // next goes only after the client's back-off.
        wait_until_running(&nic.name, CARRIER_WAIT);
    }
    let lease = dhcp::obtain_lease(&nic.name, nic.index, nic.mac, DHCP_LIMIT).map_err(|e| {
        DsError::Dhcp {
            interface: nic.name.clone(),
            error: e.to_string(),
        }
    })?;
    tracing::debug!(
        "Received dhcp lease on {} for {}/{:?}",
        nic.name,
        lease.address,
        lease.subnet_mask()
    );
    configure(&mut net, &lease)?;
    net.lease = Some(lease);
    Ok(net)
}

/// `EphemeralIPv4Network.__enter__`: the address, then the routes.
fn configure(net: &mut EphemeralNet, lease: &Lease) -> Result<(), DsError> {
    let nic = lease.interface.clone();
    let bad = |what: &str| DsError::Dhcp {
        interface: nic.clone(),
        error: format!("the lease has {what}"),
    };
    let prefix = lease.prefix().ok_or_else(|| bad("no usable subnet mask"))?;
    let broadcast = lease
        .broadcast()
        .ok_or_else(|| bad("no broadcast address"))?;
    let ip_addr = lease.address.to_string();
    let cidr = format!("{ip_addr}/{prefix}");
    let add = argv(&[
        "-family",
        "inet",
        "addr",
        "add",
        &cidr,
        "broadcast",
        &broadcast.to_string(),
        "dev",
        &nic,
    ]);
    match ip(&add) {
        Ok(()) => net.undo.push(argv(&[
            "-family", "inet", "addr", "del", &cidr, "dev", &nic,
        ])),
        // 22.4 goes on when the address is there already (and then leaves it).
        Err(e) if e.contains("File exists") => {
            tracing::debug!("Skip ephemeral network setup, {nic} already has address {ip_addr}")
        }
        Err(e) => return Err(DsError::EphemeralCommand(e)),
    }
    // RFC 3442: with classless static routes, the router option is ignored.
    let routes = lease.classless_static_routes();
    if !routes.is_empty() {
        for (dest, gateway) in routes {
            let mut route = vec![dest];
            if gateway != Ipv4Addr::UNSPECIFIED {
                route.extend(["via".to_string(), gateway.to_string()]);
            }
            route.extend(["dev".to_string(), nic.clone()]);
            ip(&[argv(&["-4", "route", "append"]), route.clone()].concat())
                .map_err(DsError::EphemeralCommand)?;
            net.undo
                .insert(0, [argv(&["-4", "route", "del"]), route].concat());
        }
        return Ok(());
    }
    let Some(router) = lease.routers().first().map(Ipv4Addr::to_string) else {
        return Ok(());
    };
    let existing = ip_output(&argv(&["route", "show", "0.0.0.0/0"])).unwrap_or_default();
    if existing.contains("default") {
        tracing::debug!(
            "Skip ephemeral route setup. {nic} already has default route: {}",
            existing.trim()
        );
        return Ok(());
    }
    let host_route = argv(&["-4", "route", "add", &router, "dev", &nic, "src", &ip_addr]);
    ip(&host_route).map_err(DsError::EphemeralCommand)?;
    net.undo.insert(
        0,
        argv(&["-4", "route", "del", &router, "dev", &nic, "src", &ip_addr]),
    );
    ip(&argv(&[
        "-4", "route", "add", "default", "via", &router, "dev", &nic,
    ]))
    .map_err(DsError::EphemeralCommand)?;
    net.undo
        .insert(0, argv(&["-4", "route", "del", "default", "dev", &nic]));
    Ok(())
}

/// The NIC DHCP runs on.
struct Nic {
    name: String,
    index: i32,
    mac: [u8; 6],
}

/// `find_fallback_nic` over the machine's `/sys/class/net` (see the module
/// comment), skipping interfaces this network namespace does not have.
fn fallback_nic() -> Result<Nic, DsError> {
    let live = RealFs {
        root: Root::new("/"),
    };
    let sys = SysNet::read(&live);
    for name in sys.candidate_nics(&[]) {
        let Some(index) = index_here(&name) else {
            tracing::debug!("{name}: in /sys/class/net but not in this network namespace");
            continue;
        };
        let sysfs_index = live
            .read_string(&Path::new("/sys/class/net").join(&name).join("ifindex"))
            .and_then(|s| s.trim().parse::<i32>().ok());
        if sysfs_index != Some(index) {
            tracing::debug!("{name}: /sys/class/net shows another network namespace's");
            continue;
        }
        let Some(mac) = sys
            .get(&name)
            .and_then(|i| i.address.as_deref())
            .and_then(parse_mac)
        else {
            continue;
        };
        return Ok(Nic { name, index, mac });
    }
    Err(DsError::NoFallbackNic)
}

fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for b in &mut mac {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// The interface's index in this process's network namespace.
fn index_here(name: &str) -> Option<i32> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: a NUL-terminated name.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (i != 0).then_some(i as i32)
}

/// Whether this process has a network namespace other than the host's: one
/// that differs from PID 1's, or, where PID 1's cannot be read (a container
/// without the right to look), one made with `ip netns add` (bound under
/// `/run/netns`), which always makes a new namespace. Unknown counts as no.
fn own_network_namespace() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(mine) = std::fs::metadata("/proc/self/ns/net") else {
        return false;
    };
    let same = |m: &std::fs::Metadata| m.dev() == mine.dev() && m.ino() == mine.ino();
    if let Ok(init) = std::fs::metadata("/proc/1/ns/net") {
        return !same(&init);
    }
    ["/run/netns", "/var/run/netns"].iter().any(|dir| {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| std::fs::metadata(e.path()).is_ok_and(|m| same(&m)))
    })
}

fn argv(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

/// Runs the machine's `ip` with `args` (in C locale, as 22.4); `Err` is
/// the command and its standard error.
fn ip(args: &[String]) -> Result<(), String> {
    ip_output(args).map(|_| ())
}

fn ip_output(args: &[String]) -> Result<String, String> {
    let shown = format!("ip {}", args.join(" "));
    tracing::debug!("ephemeral network: {shown}");
    let out = Command::new("ip")
        .args(args)
        .env("LANG", "C")
        .output()
        .map_err(|e| format!("{shown}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{shown}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn command_error(nic: &str, what: &str, e: std::io::Error) -> DsError {
    DsError::EphemeralCommand(format!("{nic}: {what}: {e}"))
}

/// Runs `f` on an `ifreq` naming `nic`, through a throwaway socket.
fn with_ifreq<T>(
    nic: &str,
    f: impl FnOnce(libc::c_int, &mut libc::ifreq) -> std::io::Result<T>,
) -> std::io::Result<T> {
    if nic.len() >= libc::IFNAMSIZ {
        return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput));
    }
    // SAFETY: ifreq is plain data; the name is copied in bounds (checked
    // above, NUL left at the end); the socket is closed before returning.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (dst, src) in req.ifr_name.iter_mut().zip(nic.bytes()) {
            *dst = src as libc::c_char;
        }
        let result = f(fd, &mut req);
        libc::close(fd);
        result
    }
}

/// The interface's flags (`IFF_UP`, `IFF_RUNNING`, ...).
fn link_flags(nic: &str) -> std::io::Result<libc::c_short> {
    with_ifreq(nic, |fd, req| {
        // SAFETY: SIOCGIFFLAGS fills the ifreq we pass.
        if unsafe { libc::ioctl(fd, libc::SIOCGIFFLAGS as _, req as *mut libc::ifreq) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the flags member is the one SIOCGIFFLAGS set.
        Ok(unsafe { req.ifr_ifru.ifru_flags })
    })
}

fn link_is_up(nic: &str) -> std::io::Result<bool> {
    Ok(link_flags(nic)? & libc::IFF_UP as libc::c_short != 0)
}

/// Waits (up to `limit`) for the link to be operational (`IFF_RUNNING`).
fn wait_until_running(nic: &str, limit: Duration) {
    let until = std::time::Instant::now() + limit;
    while std::time::Instant::now() < until {
        match link_flags(nic) {
            Ok(f) if f & libc::IFF_RUNNING as libc::c_short != 0 => return,
            Ok(_) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => return,
        }
    }
    tracing::debug!("{nic}: no carrier after {limit:?}; trying DHCP anyway");
}

/// `ip link set dev <nic> up|down`, by ioctl (no program needed).
fn set_link_up(nic: &str, up: bool) -> std::io::Result<()> {
    with_ifreq(nic, |fd, req| {
        // SAFETY: SIOCGIFFLAGS then SIOCSIFFLAGS on the ifreq we own.
        unsafe {
            if libc::ioctl(fd, libc::SIOCGIFFLAGS as _, req as *mut libc::ifreq) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let up_flag = libc::IFF_UP as libc::c_short;
            if up {
                req.ifr_ifru.ifru_flags |= up_flag;
            } else {
                req.ifr_ifru.ifru_flags &= !up_flag;
            }
            if libc::ioctl(fd, libc::SIOCSIFFLAGS as _, req as *mut libc::ifreq) < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    })
}

/// Whether a TCP connection to the URL's host and port opens within a
/// short bound (no request is sent).
fn reachable(url: &str) -> bool {
    use std::net::{TcpStream, ToSocketAddrs};
    let Some(rest) = url.split_once("://").map(|(_, r)| r) else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or("");
    let with_port = if authority.ends_with(']') || !authority.contains(':') {
        format!("{authority}:80")
    } else {
        authority.to_string()
    };
    let Ok(addrs) = with_port.to_socket_addrs() else {
        return false;
    };
    addrs
        .into_iter()
        .any(|a| TcpStream::connect_timeout(&a, Duration::from_millis(200)).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_parse() {
        assert_eq!(parse_mac("02:00:0a:14:00:05"), Some([2, 0, 10, 20, 0, 5]));
        assert_eq!(parse_mac("02:00:0a:14:00"), None);
        assert_eq!(parse_mac("02:00:0a:14:00:05:06"), None);
    }
}
