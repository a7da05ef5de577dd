//! A network for the local stage: datasources that read a metadata service
//! before the image's network is configured (Ec2Local, OpenStackLocal,
//! Azure, GCE, Hetzner, Vultr, Oracle, Scaleway, NWCS, UpCloud) bring one
//! NIC up with DHCP, read, and take it down again (cloud-init's
//! `EphemeralDHCPv4`), leaving no address, route or process behind.
//!
//! [`bring_up`] is the one entry point. In the network stage, or when the
//! metadata service already answers (cloud-init's `connectivity_url_data`:
//! a test's address on `lo`, a network the initramfs configured), nothing
//! is changed and the guard it returns does nothing when dropped.

use std::time::Duration;

use super::{DsContext, DsError};
use crate::schedule::Stage;

/// A network brought up for reading metadata; dropping it takes down what
/// [`bring_up`] set up (nothing, when the network was already there).
#[derive(Debug, Default)]
pub struct EphemeralNet {
    /// The NIC that was configured, when one was.
    pub interface: Option<String>,
}

/// Makes `probe_url` (a metadata service's base URL) reachable for the
/// duration of the returned guard.
pub fn bring_up(ctx: &DsContext, probe_url: &str) -> Result<EphemeralNet, DsError> {
    if ctx.stage != Stage::Local || reachable(probe_url) {
        return Ok(EphemeralNet::default());
    }
    Err(DsError::Service(format!(
        "{probe_url} is not reachable and ephemeral DHCP is not implemented yet"
    )))
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
