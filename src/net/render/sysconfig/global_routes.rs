//! Global routes (network config v1 `type: route`, OpenStack's routes
//! without a network): 22.4's sysconfig renderer writes none of them, so
//! they were lost on RHEL and SUSE alike (its ENI and networkd renderers
//! write them). cloudboot puts each in the route file of the interface
//! that can reach its gateway: the first (in config order) with a static
//! address of the gateway's family whose network holds it. A default route
//! is written only where no subnet already gives that family's default
//! (one default route per family, as the default-gateway pass keeps it);
//! a route no interface reaches is reported and left out.

use std::net::IpAddr;

use super::{Flavor, Run, StaticRoute};
use crate::net::state::Iface;
use crate::value::Value;

/// Whether `addr/prefix` holds `gateway` (same family, same network).
fn holds(addr: &str, prefix: u32, gateway: &IpAddr) -> bool {
    match (addr.parse::<IpAddr>(), gateway) {
        (Ok(IpAddr::V4(a)), IpAddr::V4(g)) if prefix <= 32 => {
            let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
            u32::from(a) & mask == u32::from(*g) & mask
        }
        (Ok(IpAddr::V6(a)), IpAddr::V6(g)) if prefix <= 128 => {
            let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
            u128::from(a) & mask == u128::from(*g) & mask
        }
        _ => false,
    }
}

/// Whether some subnet of `iface` gives the default route of `v6`'s family
/// (a gateway, or a default route among its routes; not where the
/// default-gateway pass demoted it).
fn gives_default(iface: &Iface, v6: bool) -> bool {
    iface.subnets().iter().any(|s| {
        if s.not_default() {
            return false;
        }
        let gateway = s
            .get("gateway")
            .map(Value::python_str)
            .filter(|g| g.contains(':') == v6);
        let route = s.routes().iter().any(|r| {
            matches!(r.get("prefix"), Some(Value::Int(0)))
                && r.get("network").map(Value::python_str).as_deref()
                    == Some(if v6 { "::" } else { "0.0.0.0" })
        });
        gateway.is_some() || route
    })
}

impl Run<'_> {
    /// See the module comment.
    pub(super) fn place_global_routes(&mut self) {
        for route in &self.state.routes {
            let network = route
                .get("network")
                .map(Value::python_str)
                .unwrap_or_default();
            let prefix = route.get("prefix").cloned().unwrap_or_default();
            let dest = format!("{network}/{}", prefix.python_str());
            let Some(gateway) = route.get("gateway").map(Value::python_str) else {
                self.warnings.push(format!(
                    "sysconfig: global route to {dest} has no gateway; not written"
                ));
                continue;
            };
            let Ok(gw) = gateway.parse::<IpAddr>() else {
                self.warnings.push(format!(
                    "sysconfig: global route to {dest}: gateway {gateway} is no address; not written"
                ));
                continue;
            };
            let v6 = gw.is_ipv6();
            let is_default =
                matches!(prefix, Value::Int(0)) && (network == "0.0.0.0" || network == "::");
            if is_default && self.state.interfaces.iter().any(|i| gives_default(i, v6)) {
                self.warnings.push(format!(
                    "sysconfig: global default route via {gateway} not written: an interface's subnet already gives the default route"
                ));
                continue;
            }
            let owner = self.state.interfaces.iter().find(|iface| {
                iface.subnets().iter().any(|s| {
                    matches!(s.kind().as_str(), "static" | "static6")
                        && s.str("address").is_some_and(|a| {
                            let p = s
                                .get("prefix")
                                .and_then(|p| p.python_str().parse().ok())
                                .unwrap_or(if v6 { 128 } else { 32 });
                            holds(&a, p, &gw)
                        })
                })
            });
            let Some(name) = owner.map(Iface::name) else {
                self.warnings.push(format!(
                    "sysconfig: global route to {dest} via {gateway} not written: no interface has an address in the gateway's network"
                ));
                continue;
            };
            let flavor = self.flavor;
            let Some(cfg) = self.cfg(&name) else {
                continue;
            };
            let metric = route.get("metric").map(Value::python_str);
            if flavor == Flavor::Suse {
                let metric = metric.map(|m| format!(" metric {m}")).unwrap_or_default();
                if is_default {
                    let line = format!("default {gateway} - {name}{metric}");
                    cfg.ifroute.insert(0, line);
                } else {
                    cfg.ifroute
                        .push(format!("{dest} {gateway} - {name}{metric}"));
                }
            } else {
                let idx = cfg.routes.entries.len() + 1;
                cfg.routes.entries.push(StaticRoute {
                    idx,
                    network,
                    prefix: prefix.python_str(),
                    netmask: route.get("netmask").map(Value::python_str),
                    gateway,
                    metric,
                });
            }
        }
    }
}
