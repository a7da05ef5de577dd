//! A DHCPv4 client for one lease (DISCOVER, OFFER, REQUEST, ACK), written
//! for the local stage's ephemeral network: what cloud-init 22.4 gets from
//! `dhclient -1 -v -lf <lease> -pf <pid> <nic> -sf /bin/true`, without the
//! dhclient.
//!
//! Why not the image's dhclient, as 22.4 runs it: cloudboot must work on
//! images that have none (22.4 itself gives up there,
//! `NoDHCPLeaseMissingDhclientError`), with a target root other than `/`
//! (a lab, a container: the root's dhclient may not be runnable at all),
//! within a bound cloudboot sets (dhclient's `-1` waits for its config's
//! `timeout`), and without a daemon to find, wait for and kill, or a lease
//! file to parse. Nothing is written to disk.
//!
//! How: one `AF_PACKET` datagram socket bound to the NIC, for IPv4 frames,
//! so that the exchange works before the NIC has any address (a UDP socket
//! could send from 0.0.0.0 but could not receive an OFFER unicast to the
//! address not yet configured). Requests set the BOOTP broadcast flag and go
//! to 255.255.255.255 (link broadcast); replies are taken from any IPv4 UDP
//! packet to port 68 whose `xid` and hardware address are ours.
//!
//! What it does not do: renew, rebind or release (the lease lives as long
//! as the guard, a few seconds, and is never released, as 22.4's killed
//! dhclient never releases it either); DHCP relays, option overload (52),
//! client identifiers (61) or host names (12) in requests; INFORM; IPv6.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

const BOOTREQUEST: u8 = 1;
const BOOTREPLY: u8 = 2;
const MAGIC: [u8; 4] = [99, 130, 83, 99];
const CLIENT_PORT: u16 = 68;
const SERVER_PORT: u16 = 67;

// Message types (option 53).
const DISCOVER: u8 = 1;
const OFFER: u8 = 2;
const REQUEST: u8 = 3;
const ACK: u8 = 5;
const NAK: u8 = 6;

// Options.
pub const SUBNET_MASK: u8 = 1;
pub const ROUTERS: u8 = 3;
pub const BROADCAST: u8 = 28;
pub const REQUESTED_IP: u8 = 50;
pub const MESSAGE_TYPE: u8 = 53;
pub const SERVER_IDENTIFIER: u8 = 54;
pub const PARAMETER_LIST: u8 = 55;
pub const CLASSLESS_ROUTES: u8 = 121;
/// Azure's wireserver address (`unknown-245` in a dhclient lease).
pub const AZURE_WIRESERVER: u8 = 245;

/// What is asked for: Debian's dhclient.conf `request` list (mask,
/// broadcast, time offset, routers, domain name, DNS, host name, MTU,
/// NTP, domain search, classless routes), plus lease time, server
/// identifier, renewal times and 245 (servers send only the options asked
/// for; Azure's and CloudStack's datasources read 245 and 54).
const REQUESTED: &[u8] = &[
    SUBNET_MASK,
    BROADCAST,
    2,
    ROUTERS,
    15,
    6,
    119,
    12,
    26,
    42,
    51,
    SERVER_IDENTIFIER,
    58,
    59,
    CLASSLESS_ROUTES,
    AZURE_WIRESERVER,
];

/// A DHCPv4 lease: the offered address and every option of the ACK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The NIC it was obtained on (dhclient's `interface`).
    pub interface: String,
    /// `yiaddr` (dhclient's `fixed-address`).
    pub address: Ipv4Addr,
    /// Every option of the ACK by code, as sent (repeated options joined,
    /// RFC 3396).
    pub options: BTreeMap<u8, Vec<u8>>,
}

impl Lease {
    pub fn option(&self, code: u8) -> Option<&[u8]> {
        self.options.get(&code).map(Vec::as_slice)
    }

    fn addresses(&self, code: u8) -> Vec<Ipv4Addr> {
        self.option(code)
            .unwrap_or_default()
            .chunks_exact(4)
            .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
            .collect()
    }

    /// Option 1 (`subnet-mask`).
    pub fn subnet_mask(&self) -> Option<Ipv4Addr> {
        self.addresses(SUBNET_MASK).first().copied()
    }

    /// The mask's prefix length; `None` when the mask is missing or not
    /// contiguous (22.4's `ipv4_mask_to_net_prefix` refuses it too).
    pub fn prefix(&self) -> Option<u32> {
        let m = u32::from(self.subnet_mask()?);
        let len = m.leading_ones();
        (m.checked_shl(len).unwrap_or(0) == 0).then_some(len)
    }

    /// Option 28, else computed from the address and mask as 22.4's
    /// `mask_and_ipv4_to_bcast_addr`.
    pub fn broadcast(&self) -> Option<Ipv4Addr> {
        if let Some(b) = self.addresses(BROADCAST).first() {
            return Some(*b);
        }
        let mask = u32::from(self.subnet_mask()?);
        Some(Ipv4Addr::from(u32::from(self.address) | !mask))
    }

    /// Option 3 (`routers`), in order.
    pub fn routers(&self) -> Vec<Ipv4Addr> {
        self.addresses(ROUTERS)
    }

    /// Option 54 (`dhcp-server-identifier`): CloudStack's virtual router.
    pub fn server_identifier(&self) -> Option<Ipv4Addr> {
        self.addresses(SERVER_IDENTIFIER).first().copied()
    }

    /// Option 121 as 22.4's `parse_static_routes` reads it: (network/len,
    /// gateway) pairs, up to the first malformed one.
    pub fn classless_static_routes(&self) -> Vec<(String, Ipv4Addr)> {
        parse_classless_routes(self.option(CLASSLESS_ROUTES).unwrap_or_default())
    }

    /// An option as dhclient writes one it has no name for (`option
    /// unknown-245 a8:3f:81:10;`): hex bytes joined by colons, each
    /// without a leading zero (dhclient's `%x`); that is the text Azure's
    /// and CloudStack's 22.4 code parses.
    pub fn unknown_option_text(&self, code: u8) -> Option<String> {
        let bytes = self.option(code)?;
        let mut out = String::new();
        for (i, b) in bytes.iter().enumerate() {
            if i > 0 {
                out.push(':');
            }
            let _ = write!(out, "{b:x}");
        }
        Some(out)
    }
}

/// RFC 3442 routes from option 121's bytes.
pub fn parse_classless_routes(mut data: &[u8]) -> Vec<(String, Ipv4Addr)> {
    let mut routes = Vec::new();
    while let Some((&len, rest)) = data.split_first() {
        if len > 32 {
            tracing::error!("Parsed invalid net length \"{len}\" in DHCP option 121");
            break;
        }
        let significant = usize::from(len).div_ceil(8);
        if rest.len() < significant + 4 {
            tracing::error!(
                "DHCP option 121 malformed: a route of /{len} needs {} octets, {} remain",
                significant + 4,
                rest.len()
            );
            break;
        }
        let mut net = [0u8; 4];
        net[..significant].copy_from_slice(&rest[..significant]);
        let g = &rest[significant..significant + 4];
        routes.push((
            format!("{}/{len}", Ipv4Addr::from(net)),
            Ipv4Addr::new(g[0], g[1], g[2], g[3]),
        ));
        data = &rest[significant + 4..];
    }
    routes
}

/// Why no lease came.
#[derive(Debug, thiserror::Error)]
pub enum DhcpError {
    #[error("{what}: {error}")]
    Socket {
        what: &'static str,
        error: io::Error,
    },
    #[error("no DHCP lease within {0:?}")]
    Timeout(Duration),
}

/// Gets one lease on `interface` (index `ifindex`, hardware address
/// `mac`) within `limit`. Each step is retried with back-off (1, 2, 4 s)
/// until then; a NAK starts over.
pub fn obtain_lease(
    interface: &str,
    ifindex: i32,
    mac: [u8; 6],
    limit: Duration,
) -> Result<Lease, DhcpError> {
    let deadline = Instant::now() + limit;
    let sock = PacketSocket::open(ifindex)?;
    let xid = random_xid();
    'start: while Instant::now() < deadline {
        let discover = build_request(xid, mac, DISCOVER, None);
        let Some(offer) = sock.exchange(&discover, xid, mac, &[OFFER], deadline)? else {
            break;
        };
        let Some(server) = offer.options.get(&SERVER_IDENTIFIER).cloned() else {
            tracing::debug!("DHCP offer without a server identifier; ignored");
            continue;
        };
        tracing::debug!("DHCP offer of {} on {interface}", offer.address);
        let request = build_request(xid, mac, REQUEST, Some((offer.address, &server)));
        let Some(ack) = sock.exchange(&request, xid, mac, &[ACK, NAK], deadline)? else {
            break;
        };
        if ack.options.get(&MESSAGE_TYPE).map(Vec::as_slice) == Some(&[NAK]) {
            tracing::debug!("DHCP NAK on {interface}; starting over");
            continue 'start;
        }
        return Ok(Lease {
            interface: interface.to_string(),
            address: ack.address,
            options: ack.options,
        });
    }
    Err(DhcpError::Timeout(limit))
}

/// A BOOTP reply as far as the client needs it.
struct Reply {
    address: Ipv4Addr,
    options: BTreeMap<u8, Vec<u8>>,
}

/// The BOOTP message of a DISCOVER or REQUEST (`requested`: the offered
/// address and the server identifier), inside IPv4 and UDP headers.
fn build_request(
    xid: u32,
    mac: [u8; 6],
    kind: u8,
    requested: Option<(Ipv4Addr, &[u8])>,
) -> Vec<u8> {
    let mut bootp = vec![0u8; 236];
    bootp[0] = BOOTREQUEST;
    bootp[1] = 1; // Ethernet
    bootp[2] = 6;
    bootp[4..8].copy_from_slice(&xid.to_be_bytes());
    bootp[10] = 0x80; // broadcast flag: we cannot receive unicast yet
    bootp[28..34].copy_from_slice(&mac);
    bootp.extend_from_slice(&MAGIC);
    bootp.extend_from_slice(&[MESSAGE_TYPE, 1, kind]);
    if let Some((addr, server)) = requested {
        bootp.extend_from_slice(&[REQUESTED_IP, 4]);
        bootp.extend_from_slice(&addr.octets());
        bootp.extend_from_slice(&[SERVER_IDENTIFIER, server.len() as u8]);
        bootp.extend_from_slice(server);
    }
    bootp.extend_from_slice(&[PARAMETER_LIST, REQUESTED.len() as u8]);
    bootp.extend_from_slice(REQUESTED);
    bootp.push(255);
    // Some servers ignore BOOTP messages shorter than 300 bytes.
    if bootp.len() < 300 {
        bootp.resize(300, 0);
    }
    ip_udp(&bootp)
}

/// `payload` from 0.0.0.0:68 to 255.255.255.255:67.
fn ip_udp(payload: &[u8]) -> Vec<u8> {
    let udp_len = 8 + payload.len();
    let total = 20 + udp_len;
    let mut p = Vec::with_capacity(total);
    p.extend_from_slice(&[0x45, 0x10]);
    p.extend_from_slice(&(total as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0, 64, 17, 0, 0]);
    p.extend_from_slice(&[0, 0, 0, 0]);
    p.extend_from_slice(&[255, 255, 255, 255]);
    let sum = checksum(&p[..20]);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    p.extend_from_slice(&CLIENT_PORT.to_be_bytes());
    p.extend_from_slice(&SERVER_PORT.to_be_bytes());
    p.extend_from_slice(&(udp_len as u16).to_be_bytes());
    // A UDP checksum of 0 means none (IPv4 allows it).
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    p
}

/// The Internet checksum (RFC 1071).
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The BOOTP reply in an IPv4 packet, if it is one for us (`xid`, `mac`).
fn parse_reply(packet: &[u8], xid: u32, mac: [u8; 6]) -> Option<Reply> {
    let first = *packet.first()?;
    if first >> 4 != 4 || packet.get(9) != Some(&17) {
        return None;
    }
    let ihl = usize::from(first & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([*packet.get(2)?, *packet.get(3)?]));
    let packet = packet.get(..total.min(packet.len()))?;
    let udp = packet.get(ihl..)?;
    if u16::from_be_bytes([*udp.get(2)?, *udp.get(3)?]) != CLIENT_PORT {
        return None;
    }
    let b = udp.get(8..)?;
    if b.len() < 240
        || b[0] != BOOTREPLY
        || b[4..8] != xid.to_be_bytes()
        || b[28..34] != mac
        || b[236..240] != MAGIC
    {
        return None;
    }
    let address = Ipv4Addr::new(b[16], b[17], b[18], b[19]);
    let mut options: BTreeMap<u8, Vec<u8>> = BTreeMap::new();
    let mut rest = &b[240..];
    while let Some((&code, tail)) = rest.split_first() {
        match code {
            0 => rest = tail,
            255 => break,
            _ => {
                let (&len, tail) = tail.split_first()?;
                let value = tail.get(..usize::from(len))?;
                options.entry(code).or_default().extend_from_slice(value);
                rest = &tail[usize::from(len)..];
            }
        }
    }
    Some(Reply { address, options })
}

/// A random transaction id, from the kernel's random source.
fn random_xid() -> u32 {
    let mut b = [0u8; 4];
    crate::host::kernel_random(&mut b);
    u32::from_ne_bytes(b)
}

/// An `AF_PACKET` datagram socket on one NIC, for IPv4.
struct PacketSocket {
    fd: OwnedFd,
    ifindex: i32,
}

const ETH_P_IP: u16 = 0x0800;

impl PacketSocket {
    fn open(ifindex: i32) -> Result<PacketSocket, DhcpError> {
        let fail = |what| DhcpError::Socket {
            what,
            error: io::Error::last_os_error(),
        };
        // SAFETY: plain socket call; the descriptor is owned at once.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                i32::from(ETH_P_IP.to_be()),
            )
        };
        if raw < 0 {
            return Err(fail("socket(AF_PACKET)"));
        }
        // SAFETY: `raw` is a new descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let addr = link_addr(ifindex);
        // SAFETY: `addr` is a valid sockaddr_ll of the size given.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(fail("bind(AF_PACKET)"));
        }
        Ok(PacketSocket { fd, ifindex })
    }

    fn send(&self, packet: &[u8]) -> Result<(), DhcpError> {
        let mut addr = link_addr(self.ifindex);
        addr.sll_halen = 6;
        addr.sll_addr[..6].copy_from_slice(&[0xff; 6]);
        // SAFETY: `packet` and `addr` are valid for the sizes given.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                packet.as_ptr().cast(),
                packet.len(),
                0,
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(DhcpError::Socket {
                what: "sendto",
                error: io::Error::last_os_error(),
            });
        }
        Ok(())
    }

    /// Sends `packet` and waits for a reply of one of `kinds`, sending
    /// again after 1, 2, 4, 4, ... s; `None` once `deadline` passes.
    fn exchange(
        &self,
        packet: &[u8],
        xid: u32,
        mac: [u8; 6],
        kinds: &[u8],
        deadline: Instant,
    ) -> Result<Option<Reply>, DhcpError> {
        let mut wait = Duration::from_secs(1);
        while Instant::now() < deadline {
            self.send(packet)?;
            let resend = (Instant::now() + wait).min(deadline);
            while let Some(left) = resend.checked_duration_since(Instant::now()) {
                let Some(reply) = self.receive(left, xid, mac)? else {
                    continue;
                };
                let kind = reply.options.get(&MESSAGE_TYPE).and_then(|k| k.first());
                if kind.is_some_and(|k| kinds.contains(k)) {
                    return Ok(Some(reply));
                }
            }
            wait = (wait * 2).min(Duration::from_secs(4));
        }
        Ok(None)
    }

    /// One packet within `left`: a reply for us, or `None` (another
    /// packet, or nothing in time).
    fn receive(&self, left: Duration, xid: u32, mac: [u8; 6]) -> Result<Option<Reply>, DhcpError> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
        // SAFETY: one pollfd we own.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                return Ok(None);
            }
            return Err(DhcpError::Socket {
                what: "poll",
                error,
            });
        }
        if rc == 0 {
            return Ok(None);
        }
        let mut buf = vec![0u8; 4096];
        // SAFETY: `buf` is writable for its length.
        let n = unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            return Ok(None);
        }
        Ok(parse_reply(&buf[..n as usize], xid, mac))
    }
}

fn link_addr(ifindex: i32) -> libc::sockaddr_ll {
    // SAFETY: sockaddr_ll is plain data; all zeroes is valid.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = ETH_P_IP.to_be();
    addr.sll_ifindex = ifindex;
    addr
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(options: &[(u8, &[u8])]) -> Lease {
        Lease {
            interface: "eth0".into(),
            address: Ipv4Addr::new(10, 0, 0, 5),
            options: options.iter().map(|(c, v)| (*c, v.to_vec())).collect(),
        }
    }

    #[test]
    fn classless_routes_as_22_4_parses_them() {
        // 22.4's docstring example: "32,169,254,169,254,130,56,248,255,0,130,56,240,1".
        let r = parse_classless_routes(&[
            32, 169, 254, 169, 254, 130, 56, 248, 255, 0, 130, 56, 240, 1,
        ]);
        assert_eq!(
            r,
            [
                (
                    "169.254.169.254/32".to_string(),
                    Ipv4Addr::new(130, 56, 248, 255)
                ),
                ("0.0.0.0/0".to_string(), Ipv4Addr::new(130, 56, 240, 1)),
            ]
        );
        // "24.191.168.128 192.168.128.1,0 192.168.128.1"
        let r = parse_classless_routes(&[24, 191, 168, 128, 192, 168, 128, 1, 0, 192, 168, 128, 1]);
        assert_eq!(r[0].0, "191.168.128.0/24");
        assert_eq!(r[1].0, "0.0.0.0/0");
        // Truncated or bad lengths stop at the last good route.
        assert_eq!(parse_classless_routes(&[0, 10, 0, 0, 1, 16, 10]).len(), 1);
        assert!(parse_classless_routes(&[33, 1, 2, 3, 4, 5, 6, 7, 8, 9]).is_empty());
    }

    #[test]
    fn lease_fields() {
        let l = lease(&[
            (SUBNET_MASK, &[255, 255, 255, 0]),
            (ROUTERS, &[10, 0, 0, 1, 10, 0, 0, 2]),
            (SERVER_IDENTIFIER, &[10, 0, 0, 254]),
            (AZURE_WIRESERVER, &[0xa8, 0x3f, 0x81, 0x10]),
        ]);
        assert_eq!(l.prefix(), Some(24));
        assert_eq!(l.broadcast(), Some(Ipv4Addr::new(10, 0, 0, 255)));
        assert_eq!(l.routers()[0], Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(l.server_identifier(), Some(Ipv4Addr::new(10, 0, 0, 254)));
        assert_eq!(
            l.unknown_option_text(AZURE_WIRESERVER).as_deref(),
            Some("a8:3f:81:10")
        );
        assert_eq!(lease(&[(SUBNET_MASK, &[255, 0, 255, 0])]).prefix(), None);
        assert_eq!(
            lease(&[(SUBNET_MASK, &[255, 255, 255, 255])]).prefix(),
            Some(32)
        );
        assert_eq!(lease(&[(SUBNET_MASK, &[0, 0, 0, 0])]).prefix(), Some(0));
    }

    #[test]
    fn a_request_parses_back_as_a_reply_once_turned_around() {
        let mac = [2, 0, 0, 0, 0, 1];
        let mut p = build_request(
            7,
            mac,
            REQUEST,
            Some((Ipv4Addr::new(10, 0, 0, 5), &[10, 0, 0, 1])),
        );
        assert_eq!(checksum(&p[..20]), 0, "the IP header checksums to zero");
        // Make it a reply to port 68 with an address.
        p[22..24].copy_from_slice(&CLIENT_PORT.to_be_bytes());
        p[28] = BOOTREPLY;
        p[28 + 16..28 + 20].copy_from_slice(&[10, 0, 0, 5]);
        let r = parse_reply(&p, 7, mac).unwrap();
        assert_eq!(r.address, Ipv4Addr::new(10, 0, 0, 5));
        assert_eq!(r.options[&MESSAGE_TYPE], [REQUEST]);
        assert_eq!(r.options[&SERVER_IDENTIFIER], [10, 0, 0, 1]);
        assert!(parse_reply(&p, 8, mac).is_none(), "another xid");
        assert!(parse_reply(&p[..100], 7, mac).is_none(), "truncated");
    }
}
