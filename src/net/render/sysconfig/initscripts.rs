//! The RHEL layout's files as initscripts apply them: what cloudboot adds
//! to 22.4's output so that initscripts 9.03 (EL6) and 9.49 (EL7) bring up
//! every address and route of the config (the parent module's comment says
//! what and why; tests/net_sysconfig_initscripts.rs checks it with a reader
//! of their `ifup-eth`, `ifup-aliases` and `ifup-routes`).

use std::path::PathBuf;

use super::{make_header, quote, Ifcfg, StaticRoute};
use crate::value::Value;

impl Ifcfg {
    /// The IPv4 addresses written as `IPADDR`, `IPADDR1`, ... with their
    /// `NETMASK`s, in that order.
    pub(super) fn ipv4_addresses(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for n in 0.. {
            let suffix = if n == 0 { String::new() } else { n.to_string() };
            let Some(addr) = self.get(&format!("IPADDR{suffix}")) else {
                break;
            };
            let mask = self
                .get(&format!("NETMASK{suffix}"))
                .map(Value::python_str)
                .unwrap_or_default();
            out.push((addr.python_str(), mask));
        }
        out
    }

    pub(super) fn is_dhcp4(&self) -> bool {
        self.is("BOOTPROTO", "dhcp")
    }

    /// An IPv4 default gateway `ifup-eth` would not apply — on a DHCP
    /// interface (it applies no static setting there), or outside the
    /// network of the first address (`ipcalc --network $GATEWAY
    /// ${netmask[0]}` must be `$NETWORK`) — also goes to `route-<if>` as
    /// a default route, which `ifup-routes` adds once every address is up.
    pub(super) fn route_unapplied_gateway(&mut self) {
        // DEFROUTE=no: not the default route. DHCLIENT_SET_DEFAULT_ROUTE=yes
        // (a DHCP interface whose config names a default route): dhclient
        // sets the default route, and a second one of the same metric
        // would only fail beside it.
        if matches!(self.get("DEFROUTE"), Some(Value::Bool(false)))
            || matches!(
                self.get("DHCLIENT_SET_DEFAULT_ROUTE"),
                Some(Value::Bool(true))
            )
        {
            return;
        }
        let Some(gateway) = self.get("GATEWAY").map(Value::python_str) else {
            return;
        };
        let Some(gw) = parse_ipv4(&gateway) else {
            return;
        };
        let addresses = self.ipv4_addresses();
        let applied = match addresses.first() {
            _ if self.is_dhcp4() => false,
            // No address and no DHCP: nothing could reach it.
            None => return,
            Some((addr, mask)) => match (parse_ipv4(addr), parse_ipv4(mask)) {
                (Some(a), Some(m)) => a & m == gw & m,
                _ => true,
            },
        };
        if applied {
            return;
        }
        let metric = self.get("METRIC").map(Value::python_str);
        self.routes.entries.push(StaticRoute {
            idx: self.routes.entries.len() + 1,
            network: "0.0.0.0".into(),
            prefix: "0".into(),
            netmask: Some("0.0.0.0".into()),
            gateway,
            metric,
        });
    }

    /// The static IPv4 addresses of a DHCP interface as alias files
    /// (`ifcfg-<if>:<n>`): `ifup-eth` applies no `IPADDR` under
    /// `BOOTPROTO=dhcp`, `ifup-aliases` (run by `ifup-post` whatever the
    /// parent's method) adds each alias's. `NO_ALIASROUTING=yes`: the
    /// default route is the route file's business, not net-tools' `route`
    /// that ifup-aliases would run with the parent's `GATEWAY`.
    pub(super) fn dhcp_aliases(&self) -> Vec<(PathBuf, String)> {
        if !self.is_dhcp4() {
            return Vec::new();
        }
        self.ipv4_addresses()
            .into_iter()
            .enumerate()
            .map(|(n, (addr, mask))| {
                let device = format!("{}:{n}", self.name);
                let path = PathBuf::from(format!("{}/ifcfg-{device}", self.dir));
                let text = format!(
                    "{}\nDEVICE={device}\nIPADDR={}\nNETMASK={}\nNO_ALIASROUTING=yes\n",
                    make_header('#'),
                    quote(&addr),
                    quote(&mask)
                );
                (path, text)
            })
            .collect()
    }
}

/// A dotted-quad IPv4 address as a number.
fn parse_ipv4(text: &str) -> Option<u32> {
    text.parse::<std::net::Ipv4Addr>().ok().map(u32::from)
}
