//! The sysconfig renderer's SUSE flavour (`Flavor::Suse`): the branches of
//! 22.4's `flavor == "suse"` that are more than a key's name — the
//! addressing method in `BOOTPROTO`/`DHCLIENT6_MODE`, VLANs, bridges — and
//! cloudboot's `ifroute-<if>` files. The parent module's comment says what
//! the flavour writes and where it deliberately differs; the passes that
//! differ only in a key's name stay there, beside the RHEL ones.

use super::{items, Ifcfg, Run};
use crate::net::state::{is_ipv6_address, Iface, Subnet, IPV6_DYNAMIC_TYPES};
use crate::value::Value;

/// The bridge parameters the suse flavour maps (`cfg_key_maps["suse"]`).
const SUSE_BRIDGE_KEYS: &[(&str, &str)] = &[
    ("bridge_stp", "BRIDGE_STP"),
    ("bridge_ageing", "BRIDGE_AGEINGTIME"),
    ("bridge_bridgeprio", "BRIDGE_PRIORITY"),
];

impl Run<'_> {
    /// `_render_vlan_interfaces`, SUSE flavour: `VLAN_ID` and
    /// `ETHERDEVICE`, the device it sits on. 22.4 takes that from the
    /// interface's name, up to its last dot (`eth0.100` → `eth0`; a name
    /// without a dot loses its last character); cloudboot takes the VLAN's
    /// link (`vlan-raw-device`), which is the same device for every name
    /// of that form and the right one for any other (a deliberate
    /// difference, see the module comment).
    pub(super) fn render_suse_vlan(&mut self, iface: &Iface) {
        let name = iface.name();
        let from_name = match name.rfind('.') {
            Some(dot) => name[..dot].to_string(),
            None => {
                let mut chars = name.chars();
                chars.next_back();
                chars.as_str().to_string()
            }
        };
        let rdev = iface
            .get("vlan-raw-device")
            .filter(|v| v.truthy())
            .map(Value::python_str)
            .unwrap_or(from_name);
        if let Some(cfg) = self.cfg(&name) {
            if let Some(vid) = iface.get("vlan_id").filter(|v| v.truthy()) {
                cfg.set("VLAN_ID", vid.clone());
            }
            cfg.text("ETHERDEVICE", &rdev);
        }
        self.render_addressing(iface);
    }

    /// `_render_bridge_interfaces`, SUSE flavour: `BRIDGE_STP` as `on`/`off`,
    /// `BRIDGE_AGEINGTIME`, `BRIDGE_PRIORITY`, `BRIDGE_PORTS`, and
    /// `BRIDGE=yes` on each port, as 22.4 writes them. A bridge's own MAC
    /// goes in `LLADDR`, where 22.4 writes `LLADDRESS`, a key SUSE does not
    /// read (a deliberate difference).
    pub(super) fn render_suse_bridge(&mut self, iface: &Iface) {
        let name = iface.name();
        let ports = iface.get("bridge_ports").map(items).unwrap_or_default();
        if let Some(cfg) = self.cfg(&name) {
            for (key, setting) in SUSE_BRIDGE_KEYS {
                if let Some(v) = iface.0.get(key) {
                    cfg.set(setting, v.clone());
                }
            }
            if let Some(stp) = cfg.get("BRIDGE_STP").map(Value::truthy) {
                cfg.text("BRIDGE_STP", if stp { "on" } else { "off" });
            }
            if let Some(mac) = iface.get("mac_address").filter(|v| v.truthy()) {
                cfg.set("LLADDR", mac.clone());
            }
            if !ports.is_empty() {
                cfg.text("BRIDGE_PORTS", &ports.join(" "));
            }
        }
        for port in ports {
            match self.cfg(&port) {
                Some(port_cfg) => port_cfg.text("BRIDGE", "yes"),
                None => self.warnings.push(format!(
                    "sysconfig: bridge {name}: port {port} has no ifcfg; not added"
                )),
            }
        }
        self.render_addressing(iface);
    }
}

/// `_render_subnets`' first walk for one subnet, SUSE flavour: the method
/// is all in `BOOTPROTO` (`dhcp4`, `dhcp6`, `dhcp` for both, `static`) and
/// `DHCLIENT6_MODE`; an IPv6 MTU is not written (22.4's TODO), nor anything
/// for `manual`.
pub(super) fn render_suse_method(
    cfg: &mut Ifcfg,
    subnet: &Subnet,
    kind: &str,
    warnings: &mut Vec<String>,
) {
    // A second family's DHCP on an interface that has the first: both.
    let dhcp6_with = |cfg: &mut Ifcfg| {
        let both = cfg.is("BOOTPROTO", "dhcp4");
        cfg.text("BOOTPROTO", if both { "dhcp" } else { "dhcp6" });
    };
    match kind {
        "dhcp6" | "ipv6_dhcpv6-stateful" => {
            dhcp6_with(cfg);
            cfg.text("DHCLIENT6_MODE", "managed");
        }
        "ipv6_dhcpv6-stateless" | "ipv6_slaac" => {
            dhcp6_with(cfg);
            cfg.text("DHCLIENT6_MODE", "info");
        }
        "dhcp" | "dhcp4" => {
            let before_dhcp6 = cfg.is("BOOTPROTO", "dhcp6");
            let only_v4 = kind == "dhcp4" && !before_dhcp6;
            cfg.text("BOOTPROTO", if only_v4 { "dhcp4" } else { "dhcp" });
        }
        "static" | "static6" => {
            if let Some(mtu) = subnet.0.get("mtu") {
                if let Some(current) = cfg.get("MTU").filter(|c| *c != mtu) {
                    warnings.push(format!(
                        "Network config: ignoring {} device-level mtu:{} because ipv4 subnet-level mtu:{} provided.",
                        cfg.name,
                        current.python_str(),
                        mtu.python_str()
                    ));
                }
                if !subnet.is_ipv6() {
                    cfg.set("MTU", mtu.clone());
                }
            }
        }
        _ => {}
    }
}

/// cloudboot's `ifroute-<if>` for SUSE, where 22.4 writes no route at all
/// ("route configuration on SUSE distro happens via ifroute-* files, see
/// lp#1812117"): one line per route in wicked's syntax (ifroute(5):
/// `DESTINATION GATEWAY NETMASK INTERFACE [OPTIONS]`, `-` for an empty
/// field): first the default route of each family — a subnet's
/// `gateway`, or a default route among its routes, which wins as in the
/// RHEL layout — then the other routes in config order, `N/P GW - IF
/// [metric M]`. Not for a subnet the default-gateway pass demoted, nor
/// the default route of a DHCP or dynamic IPv6 subnet (the lease's or the
/// router advertisement's).
pub(super) fn render_suse_routes(cfg: &mut Ifcfg, subnets: &[Subnet], warnings: &mut Vec<String>) {
    let name = cfg.name.clone();
    let line = |dest: &str, gateway: &str, metric: Option<&Value>| {
        let metric = metric
            .map(|m| format!(" metric {}", m.python_str()))
            .unwrap_or_default();
        format!("{dest} {gateway} - {name}{metric}")
    };
    // [IPv4, IPv6]: a subnet gateway's line, a default route's line.
    let mut from_gateway: [Option<String>; 2] = [None, None];
    let mut from_route: [Option<String>; 2] = [None, None];
    let mut others = Vec::new();
    for subnet in subnets {
        let kind = subnet.kind();
        let dynamic =
            IPV6_DYNAMIC_TYPES.contains(&kind.as_str()) || kind == "dhcp" || kind == "dhcp4";
        let may_default = !dynamic && !subnet.not_default();
        if let Some(gateway) = subnet.get("gateway").map(Value::python_str) {
            let family = usize::from(is_ipv6_address(&gateway));
            if may_default && from_gateway[family].is_none() {
                from_gateway[family] = Some(line("default", &gateway, None));
            }
        }
        for route in subnet.routes() {
            let network = route
                .get("network")
                .map(Value::python_str)
                .unwrap_or_default();
            let prefix = route.get("prefix").cloned().unwrap_or_default();
            let Some(gateway) = route.get("gateway").map(Value::python_str) else {
                warnings.push(format!(
                    "sysconfig: {name}: route to {network}/{} has no gateway; skipped",
                    prefix.python_str()
                ));
                continue;
            };
            let is_default =
                matches!(prefix, Value::Int(0)) && (network == "::" || network == "0.0.0.0");
            if is_default {
                let family = usize::from(network == "::");
                if may_default && from_route[family].is_none() {
                    from_route[family] = Some(line("default", &gateway, route.get("metric")));
                }
            } else {
                let dest = format!("{network}/{}", prefix.python_str());
                others.push(line(&dest, &gateway, route.get("metric")));
            }
        }
    }
    for family in 0..2 {
        if let Some(l) = from_route[family].take().or(from_gateway[family].take()) {
            cfg.ifroute.push(l);
        }
    }
    cfg.ifroute.extend(others);
}
