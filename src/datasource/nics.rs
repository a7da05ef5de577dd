//! The machine's NICs as datasources that match metadata to them by MAC
//! (Oracle's VNICs, DigitalOcean's interfaces) see them, read under the
//! root. (`crate::net` has the full reading, but it depends on the
//! datasources, so they cannot use it.)

use super::DsContext;

/// `get_interfaces_by_mac`, as far as datasources need it: each interface
/// of the root's `/sys/class/net` with a MAC of its own (no loopback, bridge or
/// bond), by lower-case MAC.
pub fn interfaces_by_mac(ctx: &DsContext) -> Vec<(String, String)> {
    let dir = std::path::Path::new("/sys/class/net");
    let mut names = ctx.fs.list_dir(dir).unwrap_or_default();
    names.sort();
    names
        .into_iter()
        .filter(|n| n != "lo")
        .filter(|n| !ctx.facts.exists(&format!("/sys/class/net/{n}/bridge")))
        .filter(|n| !ctx.facts.exists(&format!("/sys/class/net/{n}/bonding")))
        .filter_map(|n| {
            let mac = ctx
                .facts
                .read_small(&format!("/sys/class/net/{n}/address"))?
                .trim()
                .to_lowercase();
            (!mac.is_empty() && mac != "00:00:00:00:00:00").then_some((mac, n))
        })
        .collect()
}
