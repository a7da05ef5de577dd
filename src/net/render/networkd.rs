//! systemd-networkd: one `/etc/systemd/network/10-cloud-init-<name>.network`
//! per interface, as cloud-init 22.4's `cloudinit/net/networkd.py` writes it
//! (`Renderer._render_content`, through `CfgParser`), byte for byte.
//!
//! Deliberate differences from cloud-init 22.4:
//!
//! - **Virtual devices.** cloud-init writes no `.netdev` files, so networkd
//!   never creates a bond, bridge or VLAN, and the `.network` files of the
//!   members do not say they are members: such configs never come up. Here
//!   each bond, bridge and VLAN also gets `10-cloud-init-<name>.netdev`
//!   (`[NetDev] Name= Kind=`, the MAC the config gives it, and `[Bond]`,
//!   `[Bridge]` or `[VLAN] Id=` settings mapped from cloud-init's `bond-*` and
//!   `bridge_*` keys), and the members' `.network` files gain `Bond=`,
//!   `Bridge=` (with port `[Bridge] Cost=`/`Priority=`) or, on a VLAN's
//!   parent, `VLAN=`. Everything else in those files is cloud-init's.
//!   `10-cloud-init-*.netdev` files of devices no longer configured are
//!   removed, since a stale one would keep creating its device.
//! - **Several default gateways.** A subnet that
//!   [`NetworkState::demote_extra_default_gateways`] marked
//!   [`not_default`](crate::net::state::Subnet::not_default) gets no default
//!   route: neither its `gateway` (which cloud-init writes as a `[Route]
//!   Gateway=` default route) nor a `0.0.0.0/0` or `::/0` route of its own.
//!   Nothing is written instead: the subnet's address already gives its
//!   on-link route, and its other routes are kept. (sysconfig's
//!   `DEFROUTE=no` is the same choice.)
//! - **Ownership.** cloud-init chowns every file to
//!   `systemd-network:systemd-network` (`create_network_file`, through
//!   `util.chownbyname`, which fails the whole render with an `OSError` on a
//!   root without that user). The files are written root-owned, mode 0644
//!   (cloud-init's mode): networkd only reads them, world-readable is enough,
//!   they hold no secrets, and this works on any root.
//!
//! A v2 config whose `dhcp4domain` and `dhcp4-overrides.use-domains` are
//! both set makes cloud-init raise and write nothing; here the
//! `dhcp4-overrides` value wins (netplan's own key over the VMware extra)
//! and a warning says so.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use super::{BringUp, RenderContext, Rendered, RenderedFile, Renderer};
use crate::net::state::{Iface, NetworkState};
use crate::value::{Mapping, Value};

/// cloud-init's `network_conf_dir`.
pub const NETWORK_DIR: &str = "/etc/systemd/network";

/// cloud-init's mode for the files (`util.write_file`'s default).
const MODE: u32 = 0o644;

/// The systemd-networkd renderer.
pub struct Networkd;

impl Renderer for Networkd {
    fn name(&self) -> &'static str {
        "networkd"
    }

    /// cloud-init's networkd activator; networkd replaces addresses itself.
    fn bring_up(&self) -> BringUp {
        BringUp::Service(&[
            "systemctl",
            "restart",
            "systemd-networkd",
            "systemd-resolved",
        ])
    }

    /// `Renderer._render_content`, plus the `.netdev` files and member
    /// settings networkd needs.
    fn render(&self, state: &NetworkState, ctx: &RenderContext) -> Rendered {
        let mut out = Rendered::default();
        let members = Members::of(state, &mut out.warnings);
        let set_names = set_names(state);
        let mut netdevs = BTreeSet::new();
        for iface in &state.interfaces {
            let name = iface.name();
            // The name becomes a file name; Linux interface names never hold
            // a `/`, so one that does is not an interface to write for.
            if name.is_empty() || name == "." || name == ".." || name.contains('/') {
                out.warnings.push(format!(
                    "networkd: interface name {name:?} cannot be a file name; not written"
                ));
                continue;
            }
            let mut cfg = CfgParser::default();
            generate_match_section(iface, &mut cfg);
            generate_link_section(iface, &mut cfg);
            let dhcp = parse_subnets(iface, &mut cfg);
            parse_dns(iface, &mut cfg, state);
            for (rid, route) in state.routes.iter().enumerate() {
                // "c": global routes, kept apart from the subnets' routes.
                parse_routes(&format!("c{rid}"), route, &mut cfg);
            }
            if state.version == 2 {
                v2_dhcp_settings(iface, state, &set_names, dhcp, &mut cfg, &mut out.warnings);
            }
            for (section, key, value) in members.settings(&name) {
                cfg.update_section(section, key, value);
            }
            if let Some(netdev) = netdev(iface, &mut out.warnings) {
                let file = format!("10-cloud-init-{name}.netdev");
                out.files.push(RenderedFile {
                    path: Path::new(NETWORK_DIR).join(&file),
                    content: netdev,
                    mode: MODE,
                });
                netdevs.insert(file);
            }
            out.files.push(RenderedFile {
                path: Path::new(NETWORK_DIR).join(format!("10-cloud-init-{name}.network")),
                content: cfg.get_final_conf(),
                mode: MODE,
            });
        }
        out.remove = stale_netdevs(ctx, &netdevs);
        out
    }
}

/// Our `.netdev` files in the root that this config no longer writes.
fn stale_netdevs(ctx: &RenderContext, keep: &BTreeSet<String>) -> Vec<PathBuf> {
    ctx.fs
        .list_dir(Path::new(NETWORK_DIR))
        .unwrap_or_default()
        .into_iter()
        .filter(|f| f.starts_with("10-cloud-init-") && f.ends_with(".netdev"))
        .filter(|f| !keep.contains(f))
        .map(|f| Path::new(NETWORK_DIR).join(f))
        .collect()
}

/// cloud-init's `CfgParser`: per section a sorted set of `Key=value` lines
/// (`update_section` appends, dedups and sorts), and `[Route]` sections
/// keyed by a route id.
#[derive(Default)]
struct CfgParser {
    sections: BTreeMap<&'static str, BTreeSet<String>>,
    routes: BTreeMap<String, BTreeSet<String>>,
}

impl CfgParser {
    fn update_section(&mut self, section: &'static str, key: &str, value: impl AsRef<str>) {
        self.sections
            .entry(section)
            .or_default()
            .insert(format!("{key}={}", value.as_ref()));
    }

    fn update_route_section(&mut self, rid: &str, key: &str, value: impl AsRef<str>) {
        self.routes
            .entry(rid.to_string())
            .or_default()
            .insert(format!("{key}={}", value.as_ref()));
    }

    /// `get_final_conf`: sections by name (`[Route]` among them); each
    /// address a section of its own; in a `[Route]` section every line is
    /// followed by a blank line (cloud-init's `contents += "\n"` sits inside
    /// the loop; networkd reads it the same).
    fn get_final_conf(&self) -> String {
        let mut names: Vec<&str> = self.sections.keys().copied().collect();
        names.push("Route");
        names.sort_unstable();
        let mut out = String::new();
        for name in names {
            if name == "Route" {
                for lines in self.routes.values() {
                    out.push_str("[Route]\n");
                    for line in lines {
                        out.push_str(line);
                        out.push_str("\n\n");
                    }
                }
                continue;
            }
            let Some(lines) = self.sections.get(name).filter(|l| !l.is_empty()) else {
                continue;
            };
            if name == "Address" {
                for line in lines {
                    out.push_str(&format!("[Address]\n{line}\n\n"));
                }
            } else {
                out.push_str(&format!("[{name}]\n"));
                for line in lines {
                    out.push_str(line);
                    out.push('\n');
                }
                out.push('\n');
            }
        }
        out
    }
}

/// `generate_match_section`.
fn generate_match_section(iface: &Iface, cfg: &mut CfgParser) {
    for (key, setting) in [
        ("name", "Name"),
        ("driver", "Driver"),
        ("mac_address", "MACAddress"),
    ] {
        if let Some(v) = iface.get(key).filter(|v| v.truthy()) {
            cfg.update_section("Match", setting, v.python_str());
        }
    }
}

/// `generate_link_section`.
fn generate_link_section(iface: &Iface, cfg: &mut CfgParser) {
    if let Some(mtu) = iface.get("mtu").filter(|v| v.truthy()) {
        cfg.update_section("Link", "MTUBytes", mtu.python_str());
    }
}

/// `parse_routes`: gateway, destination (with its prefix) and metric.
fn parse_routes(rid: &str, route: &Mapping, cfg: &mut CfgParser) {
    let prefix = route
        .get("prefix")
        .map(|p| format!("/{}", p.python_str()))
        .unwrap_or_default();
    for (k, v) in route.iter() {
        match k.as_str() {
            Some("gateway") => cfg.update_route_section(rid, "Gateway", v.python_str()),
            Some("network") => {
                cfg.update_route_section(rid, "Destination", v.python_str() + &prefix)
            }
            Some("metric") => cfg.update_route_section(rid, "Metric", v.python_str()),
            _ => {}
        }
    }
}

/// A route to `0.0.0.0/0` or `::/0`.
fn is_default_route(route: &Mapping) -> bool {
    let unspecified = route
        .get("network")
        .and_then(|n| n.python_str().parse::<IpAddr>().ok())
        .is_some_and(|ip| ip.is_unspecified());
    unspecified && route.get("prefix").map(Value::python_str).as_deref() == Some("0")
}

/// `parse_subnets`: addresses, gateways, subnet routes and DNS, and the
/// `DHCP=` value (returned, as cloud-init's overrides key off it).
fn parse_subnets(iface: &Iface, cfg: &mut CfgParser) -> &'static str {
    let mut dhcp = "no";
    // Route ids: "r" subnet routes, "a" gateways; one counter for both.
    let mut rid = 0;
    for subnet in iface.subnets() {
        dhcp = match (subnet.kind().as_str(), dhcp) {
            ("dhcp4" | "dhcp", "no") => "ipv4",
            ("dhcp4" | "dhcp", "ipv6") => "yes",
            ("dhcp6", "no") => "ipv6",
            ("dhcp6", "ipv4") => "yes",
            (_, same) => same,
        };
        // cloudboot: a demoted subnet gets no default route.
        let demoted = subnet.not_default();
        for route in subnet.routes() {
            if !(demoted && is_default_route(&route)) {
                parse_routes(&format!("r{rid}"), &route, cfg);
            }
            // Counted even when skipped, so the other routes keep
            // cloud-init's ids and hence its section order.
            rid += 1;
        }
        if subnet.0.get("address").is_none() {
            continue;
        }
        for (k, v) in subnet.0.iter() {
            match k.as_str() {
                Some("address") => {
                    let mut address = v.python_str();
                    if let Some(prefix) = subnet.0.get("prefix") {
                        address = format!("{address}/{}", prefix.python_str());
                    }
                    cfg.update_section("Address", "Address", address);
                }
                Some("gateway") => {
                    if !demoted {
                        cfg.update_route_section(&format!("a{rid}"), "Gateway", v.python_str());
                    }
                    rid += 1;
                }
                Some("dns_nameservers") => cfg.update_section("Network", "DNS", join(v)),
                Some("dns_search") => cfg.update_section("Network", "Domains", join(v)),
                _ => {}
            }
        }
    }
    cfg.update_section("Network", "DHCP", dhcp);
    if matches!(dhcp, "ipv6" | "yes") {
        if let Some(Value::Bool(accept_ra)) = iface.get("accept-ra") {
            cfg.update_section(
                "Network",
                "IPv6AcceptRA",
                Value::Bool(*accept_ra).python_str(),
            );
        }
    }
    dhcp
}

/// Python's `" ".join(list)`.
fn join(v: &Value) -> String {
    match v {
        Value::Seq(items) => items
            .iter()
            .map(Value::python_str)
            .collect::<Vec<_>>()
            .join(" "),
        other => other.python_str(),
    }
}

/// `parse_dns`: the interface's own DNS, else (version 1 only) the global.
fn parse_dns(iface: &Iface, cfg: &mut CfgParser, state: &NetworkState) {
    let own = iface.get("dns").filter(|d| d.truthy());
    let global;
    let dns = match own {
        Some(Value::Map(m)) => m,
        Some(_) => return,
        None if state.version == 1 => {
            global = Mapping::from_iter([
                (Value::str("search"), strs(&state.search)),
                (Value::str("nameservers"), strs(&state.nameservers)),
            ]);
            &global
        }
        None => return,
    };
    for (key, setting) in [
        ("search", "Domains"),
        ("nameservers", "DNS"),
        ("addresses", "DNS"),
    ] {
        if let Some(v) = dns.get(key).filter(|v| v.truthy()) {
            cfg.update_section("Network", setting, join(v));
        }
    }
}

fn strs(v: &[String]) -> Value {
    Value::Seq(v.iter().map(Value::str).collect())
}

/// The version 2 part of `_render_content`: the `ethernets` entry of the
/// interface (by key, or by a `set-name` equal to its name) supplies
/// `dhcp{4,6}domain` (`dhcp_domain`) and `dhcp{4,6}-overrides`
/// (`parse_dhcp_overrides`). Bonds', bridges' and VLANs' overrides are not
/// read, as in cloud-init.
fn v2_dhcp_settings(
    iface: &Iface,
    state: &NetworkState,
    set_names: &HashMap<String, String>,
    dhcp: &str,
    cfg: &mut CfgParser,
    warnings: &mut Vec<String>,
) {
    // cloud-init indexes `config["ethernets"]` (a KeyError without one).
    let Some(ethernets) = state.config.get("ethernets").and_then(Value::as_map) else {
        return;
    };
    let mut name = iface.name();
    if let Some(key) = set_names.get(&name) {
        name = key.clone();
    }
    let Some(device) = ethernets.get(&name) else {
        return;
    };
    let empty = Mapping::new();
    let device = device.as_map().unwrap_or(&empty);
    for version in ["4", "6"] {
        let domain_key = format!("dhcp{version}domain");
        let overrides = device
            .get(&format!("dhcp{version}-overrides"))
            .and_then(Value::as_map);
        let Some(domain) = device.get(&domain_key) else {
            continue;
        };
        if overrides.is_some_and(|o| o.get("use-domains").is_some()) {
            // cloud-init raises here and writes nothing at all.
            warnings.push(format!(
                "{name} has both {domain_key} and dhcp{version}-overrides.use-domains configured; \
                 using dhcp{version}-overrides.use-domains"
            ));
            continue;
        }
        cfg.update_section(dhcp_section(version), "UseDomains", dhcp_domain(domain));
    }
    for version in ["4", "6"] {
        parse_dhcp_overrides(cfg, device, dhcp, version);
    }
}

fn dhcp_section(version: &str) -> &'static str {
    if version == "4" {
        "DHCPv4"
    } else {
        "DHCPv6"
    }
}

/// `dhcp_domain`'s value: `yes` for a true string, else `no`.
/// (cloud-init means `route` to pass through, but `util.translate_bool`
/// never raises the `ValueError` that branch waits for, so `route` is `no`.)
fn dhcp_domain(value: &Value) -> &'static str {
    let s = value.python_str().to_lowercase();
    if Value::Str(s).to_bool() {
        "yes"
    } else {
        "no"
    }
}

/// `parse_dhcp_overrides`.
fn parse_dhcp_overrides(cfg: &mut CfgParser, device: &Mapping, dhcp: &str, version: &str) {
    let mut map = vec![
        ("UseDNS", "use-dns"),
        ("UseDomains", "use-domains"),
        ("UseHostname", "use-hostname"),
        ("UseNTP", "use-ntp"),
    ];
    if version == "4" {
        map.extend([
            ("SendHostname", "send-hostname"),
            ("Hostname", "hostname"),
            ("RouteMetric", "route-metric"),
            ("UseMTU", "use-mtu"),
            ("UseRoutes", "use-routes"),
        ]);
    }
    if dhcp != "yes" && dhcp != format!("ipv{version}") {
        return;
    }
    let Some(overrides) = device
        .get(&format!("dhcp{version}-overrides"))
        .and_then(Value::as_map)
    else {
        return;
    };
    for (setting, key) in map {
        if let Some(v) = overrides.get(key) {
            cfg.update_section(dhcp_section(version), setting, v.python_str());
        }
    }
}

// ---------------------------------------------------------------------
// cloudboot: what networkd needs for bonds, bridges and VLANs.

/// A bond made by `handle_bond` (its slaves are `bond`-typed placeholders
/// too, but have `bond-master`).
fn is_bond(iface: &Iface) -> bool {
    iface.kind() == "bond" && iface.get("bond-master").is_none()
}

/// A `bond-<key>` setting, in either spelling (`bond-miimon`, or OpenStack's
/// `bond_miimon`, which cloud-init's converter passes through).
fn bond_param(iface: &Iface, key: &str) -> Option<Value> {
    iface
        .get(&format!("bond-{key}"))
        .or_else(|| iface.get(&format!("bond_{}", key.replace('-', "_"))))
        .cloned()
}

/// The v2 `ethernets` keys by their `set-name` (the first of equal ones),
/// for [`v2_dhcp_settings`]: once, rather than a search of all of them for
/// each interface.
fn set_names(state: &NetworkState) -> HashMap<String, String> {
    let mut out = HashMap::new();
    if state.version != 2 {
        return out;
    }
    let Some(ethernets) = state.config.get("ethernets").and_then(Value::as_map) else {
        return out;
    };
    for (key, dev) in ethernets.iter() {
        if let Some(set_name) = dev.get("set-name") {
            out.entry(set_name.python_str())
                .or_insert_with(|| key.python_str());
        }
    }
    out
}

/// Settings each member's `.network` needs: `(section, key, value)`.
struct Members(HashMap<String, Vec<(&'static str, &'static str, String)>>);

impl Members {
    /// Bond slaves (by their `bond-master`), bridge ports (the bridge's
    /// `bridge_ports`) and VLAN parents (the VLAN's `vlan-raw-device`).
    fn of(state: &NetworkState, warnings: &mut Vec<String>) -> Members {
        let mut m: HashMap<String, Vec<(&'static str, &'static str, String)>> = HashMap::new();
        let exists = |name: &str| state.iface(name).is_some();
        for iface in &state.interfaces {
            let name = iface.name();
            if let Some(master) = iface.str("bond-master") {
                match state.iface(&master).filter(|b| is_bond(b)) {
                    Some(bond) => {
                        let slave = m.entry(name.clone()).or_default();
                        slave.push(("Network", "Bond", master.clone()));
                        let names = |key: &str| bond_param(bond, key).map(|v| v.python_str());
                        if names("primary").as_deref() == Some(name.as_str()) {
                            slave.push(("Network", "PrimarySlave", "yes".into()));
                        }
                        if names("active-slave").as_deref() == Some(name.as_str()) {
                            slave.push(("Network", "ActiveSlave", "yes".into()));
                        }
                    }
                    None => warnings.push(format!(
                        "networkd: {name}'s bond {master} is not a configured bond; \
                         {name} is not enslaved"
                    )),
                }
            }
            match iface.kind().as_str() {
                "bridge" => {
                    let ports = iface
                        .get("bridge_ports")
                        .and_then(Value::as_seq)
                        .unwrap_or_default();
                    let cost = port_values(iface, "bridge_pathcost", warnings);
                    let prio = port_values(iface, "bridge_portprio", warnings);
                    for port in ports.iter().map(Value::python_str) {
                        if !exists(&port) {
                            warnings.push(format!(
                                "networkd: bridge {name}'s port {port} is not configured; \
                                 it is not added to the bridge"
                            ));
                            continue;
                        }
                        let p = m.entry(port.clone()).or_default();
                        p.push(("Network", "Bridge", name.clone()));
                        if let Some(c) = cost.get(&port) {
                            p.push(("Bridge", "Cost", c.clone()));
                        }
                        if let Some(c) = prio.get(&port) {
                            p.push(("Bridge", "Priority", c.clone()));
                        }
                    }
                }
                "vlan" => match iface.str("vlan-raw-device") {
                    Some(parent) if exists(&parent) => {
                        m.entry(parent).or_default().push(("Network", "VLAN", name));
                    }
                    parent => warnings.push(format!(
                        "networkd: VLAN {name}'s link {} is not configured; networkd will not \
                         create {name}",
                        parent.unwrap_or_else(|| "(none)".into())
                    )),
                },
                _ => {}
            }
        }
        Members(m)
    }

    fn settings(&self, name: &str) -> &[(&'static str, &'static str, String)] {
        self.0.get(name).map(Vec::as_slice).unwrap_or_default()
    }
}

/// `bridge_pathcost` / `bridge_portprio`: v1's `["eth0 50", ...]` (or one
/// such string), or v2's `{eth0: 50}` as the v2 converter leaves it.
fn port_values(iface: &Iface, key: &str, warnings: &mut Vec<String>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut add = |port: String, value: String| {
        if value.parse::<u32>().is_ok() {
            out.insert(port, value);
        } else {
            warnings.push(format!(
                "networkd: {}: {key} of {port} is not a number ({value}); ignored",
                iface.name()
            ));
        }
    };
    match iface.get(key) {
        Some(Value::Map(m)) => {
            for (port, v) in m.iter() {
                add(port.python_str(), v.python_str());
            }
        }
        Some(Value::Seq(items)) => {
            for item in items {
                let s = item.python_str();
                match s.split_whitespace().collect::<Vec<_>>()[..] {
                    [port, v] => add(port.into(), v.into()),
                    _ => add(s.clone(), String::new()),
                }
            }
        }
        Some(Value::Str(s)) => match s.split_whitespace().collect::<Vec<_>>()[..] {
            [port, v] => add(port.into(), v.into()),
            _ => add(s.clone(), String::new()),
        },
        _ => {}
    }
    out
}

/// The `.netdev` file of a bond, bridge or VLAN; `None` for other links.
fn netdev(iface: &Iface, warnings: &mut Vec<String>) -> Option<String> {
    let name = iface.name();
    let (kind, section, settings) = if is_bond(iface) {
        ("bond", "Bond", bond_settings(iface, warnings))
    } else if iface.kind() == "bridge" {
        ("bridge", "Bridge", bridge_settings(iface, warnings))
    } else if iface.kind() == "vlan" {
        let Some(id) = iface.get("vlan_id").map(Value::python_str) else {
            warnings.push(format!("networkd: VLAN {name} has no vlan_id; not created"));
            return None;
        };
        ("vlan", "VLAN", vec![("Id", id)])
    } else {
        return None;
    };
    let mut out = format!("[NetDev]\nName={name}\nKind={kind}\n");
    // Given a MAC, the device must have it: its .network matches on it, and
    // networkd would otherwise give a bond or bridge one made from the
    // machine id.
    if let Some(mac) = iface.get("mac_address").filter(|v| v.truthy()) {
        out.push_str(&format!("MACAddress={}\n", mac.python_str()));
    }
    if !settings.is_empty() {
        out.push_str(&format!("\n[{section}]\n"));
        for (k, v) in settings {
            out.push_str(&format!("{k}={v}\n"));
        }
    }
    Some(out)
}

/// How a cloud-init value becomes a `.netdev` setting's value.
enum Conv {
    /// A keyword; the bonding driver's numeric aliases (`mode=1`) are the
    /// list's indexes.
    Word(&'static [&'static str]),
    /// The bonding driver's milliseconds, as a systemd time span.
    Millis,
    /// Seconds (bridge-utils takes fractions), as a systemd time span.
    Seconds,
    Int,
    Bool,
    /// IPv4 addresses, space separated.
    Ipv4List,
    Mac,
}

/// cloud-init's `bond-*` keys (the bonding driver's options) and their
/// `[Bond]` settings (systemd.netdev(5)), in the order written.
const BOND_SETTINGS: &[(&str, &str, Conv)] = {
    use Conv::*;
    &[
        (
            "mode",
            "Mode",
            Word(&[
                "balance-rr",
                "active-backup",
                "balance-xor",
                "broadcast",
                "802.3ad",
                "balance-tlb",
                "balance-alb",
            ]),
        ),
        (
            "xmit-hash-policy",
            "TransmitHashPolicy",
            Word(&["layer2", "layer3+4", "layer2+3", "encap2+3", "encap3+4"]),
        ),
        ("lacp-rate", "LACPTransmitRate", Word(&["slow", "fast"])),
        ("miimon", "MIIMonitorSec", Millis),
        ("updelay", "UpDelaySec", Millis),
        ("downdelay", "DownDelaySec", Millis),
        ("lp-interval", "LearnPacketIntervalSec", Seconds),
        (
            "ad-select",
            "AdSelect",
            Word(&["stable", "bandwidth", "count"]),
        ),
        ("ad-actor-sys-prio", "AdActorSystemPriority", Int),
        ("ad-user-port-key", "AdUserPortKey", Int),
        ("ad-actor-system", "AdActorSystem", Mac),
        (
            "fail-over-mac",
            "FailOverMACPolicy",
            Word(&["none", "active", "follow"]),
        ),
        (
            "arp-validate",
            "ARPValidate",
            Word(&["none", "active", "backup", "all"]),
        ),
        ("arp-interval", "ARPIntervalSec", Millis),
        ("arp-ip-target", "ARPIPTargets", Ipv4List),
        ("arp-all-targets", "ARPAllTargets", Word(&["any", "all"])),
        (
            "primary-reselect",
            "PrimaryReselectPolicy",
            Word(&["always", "better", "failure"]),
        ),
        ("resend-igmp", "ResendIGMP", Int),
        ("packets-per-slave", "PacketsPerSlave", Int),
        ("num-grat-arp", "GratuitousARP", Int),
        // The driver's other name for the same count.
        ("num-unsol-na", "GratuitousARP", Int),
        ("all-slaves-active", "AllSlavesActive", Bool),
        ("tlb-dynamic-lb", "DynamicTransmitLoadBalancing", Bool),
        ("min-links", "MinLinks", Int),
    ]
};

/// `bond-*` keys that are not `[Bond]` settings: the bond's structure, and
/// the slave choices written on the slave's `.network`.
const BOND_OTHER: &[&str] = &["slaves", "master", "primary", "active-slave"];

fn bond_settings(iface: &Iface, warnings: &mut Vec<String>) -> Vec<(&'static str, String)> {
    let name = iface.name();
    let mut out: Vec<(&'static str, String)> = Vec::new();
    for (key, setting, conv) in BOND_SETTINGS {
        let Some(value) = bond_param(iface, key) else {
            continue;
        };
        if out.iter().any(|(s, _)| s == setting) {
            continue;
        }
        match convert(&value, conv) {
            Some(v) => out.push((setting, v)),
            None => warnings.push(format!(
                "networkd: bond {name}: bond-{key} value {} is not one networkd takes; ignored",
                value.python_str()
            )),
        }
    }
    for (k, _) in iface.0.iter() {
        let k = k.python_str();
        let Some(key) = k.strip_prefix("bond-").or_else(|| k.strip_prefix("bond_")) else {
            continue;
        };
        let key = key.replace('_', "-");
        if !BOND_OTHER.contains(&key.as_str()) && !BOND_SETTINGS.iter().any(|(b, _, _)| *b == key) {
            warnings.push(format!(
                "networkd: bond {name}: {k} has no systemd-networkd setting; ignored"
            ));
        }
    }
    out
}

/// The setting's value, or `None` if networkd would not take it.
fn convert(value: &Value, conv: &Conv) -> Option<String> {
    let s = value.python_str().trim().to_string();
    let uint = || s.parse::<u64>().ok();
    match conv {
        Conv::Word(words) => {
            let lower = s.to_ascii_lowercase();
            match uint() {
                Some(i) => words.get(usize::try_from(i).ok()?).map(|w| w.to_string()),
                None => words.contains(&lower.as_str()).then_some(lower),
            }
        }
        Conv::Millis => uint().map(|ms| format!("{ms}ms")),
        Conv::Seconds => s
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|_| format!("{s}s")),
        Conv::Int => uint().map(|i| i.to_string()),
        Conv::Bool => bool_word(value),
        Conv::Ipv4List => {
            let items: Vec<String> = match value {
                Value::Seq(items) => items.iter().map(Value::python_str).collect(),
                _ => s
                    .split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect(),
            };
            let ok = !items.is_empty() && items.iter().all(|a| a.parse::<Ipv4Addr>().is_ok());
            ok.then(|| items.join(" "))
        }
        Conv::Mac => {
            let octets: Vec<&str> = s.split(':').collect();
            let ok = octets.len() == 6
                && octets
                    .iter()
                    .all(|b| b.len() == 2 && b.chars().all(|c| c.is_ascii_hexdigit()));
            ok.then_some(s)
        }
    }
}

/// `yes`/`no` for a boolean or a boolean string (the driver takes 0/1).
fn bool_word(value: &Value) -> Option<String> {
    let word = match value {
        Value::Bool(b) => *b,
        Value::Int(1) => true,
        Value::Int(0) => false,
        other => match other.python_str().trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" => false,
            _ => return None,
        },
    };
    Some(if word { "yes" } else { "no" }.into())
}

/// `bridge_*` keys that have no networkd setting and need none: ifupdown's
/// waits (`maxwait`, `waitport`) and the kernel's long-gone `gcint`.
/// The port settings are written on the ports' `.network`.
const BRIDGE_OTHER: &[&str] = &[
    "bridge_ports",
    "bridge_maxwait",
    "bridge_waitport",
    "bridge_gcint",
    "bridge_pathcost",
    "bridge_portprio",
];

/// `bridge_*` keys and their `[Bridge]` settings (systemd.netdev(5)); the
/// times are seconds in cloud-init (bridge-utils' unit) and in networkd.
const BRIDGE_SETTINGS: &[(&str, &str, Conv)] = &[
    ("bridge_stp", "STP", Conv::Bool),
    ("bridge_bridgeprio", "Priority", Conv::Int),
    ("bridge_fd", "ForwardDelaySec", Conv::Seconds),
    ("bridge_hello", "HelloTimeSec", Conv::Seconds),
    ("bridge_maxage", "MaxAgeSec", Conv::Seconds),
    ("bridge_ageing", "AgeingTimeSec", Conv::Seconds),
];

fn bridge_settings(iface: &Iface, warnings: &mut Vec<String>) -> Vec<(&'static str, String)> {
    let name = iface.name();
    let mut out = Vec::new();
    for (key, setting, conv) in BRIDGE_SETTINGS {
        let Some(value) = iface.get(key) else {
            continue;
        };
        match convert(value, conv) {
            Some(v) => out.push((*setting, v)),
            None => warnings.push(format!(
                "networkd: bridge {name}: {key} value {} is not one networkd takes; ignored",
                value.python_str()
            )),
        }
    }
    for (k, _) in iface.0.iter() {
        let k = k.python_str();
        if k.starts_with("bridge_")
            && !BRIDGE_OTHER.contains(&k.as_str())
            && !BRIDGE_SETTINGS.iter().any(|(t, _, _)| *t == k)
        {
            warnings.push(format!(
                "networkd: bridge {name}: {k} has no systemd-networkd setting; ignored"
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::{RealFs, Root};
    use crate::yaml;

    fn render_in(text: &str, root: &Path) -> Rendered {
        let v = yaml::load(text.as_bytes(), "t").unwrap();
        let mut st = NetworkState::parse(&v, &HashMap::new()).unwrap();
        st.demote_extra_default_gateways();
        let fs = RealFs {
            root: Root::new(root),
        };
        let ctx = RenderContext {
            fs: &fs,
            flavor: super::super::Flavor::Default,
        };
        Networkd.render(&st, &ctx)
    }

    fn render(text: &str) -> Rendered {
        let dir = tempfile::tempdir().unwrap();
        render_in(text, dir.path())
    }

    fn file<'a>(r: &'a Rendered, name: &str) -> &'a str {
        let path = Path::new(NETWORK_DIR).join(name);
        r.files
            .iter()
            .find(|f| f.path == path)
            .map(|f| f.content.as_str())
            .unwrap_or_else(|| panic!("no {name}"))
    }

    #[test]
    fn bond_parameters_map_to_networkd_settings() {
        let r = render(
            "version: 1\nconfig:\n\
             - {type: physical, name: eth0}\n\
             - {type: physical, name: eth1}\n\
             - type: bond\n  name: bond0\n  bond_interfaces: [eth0, eth1]\n  params:\n    \
             bond-mode: 4\n    bond_xmit_hash_policy: layer3+4\n    bond-lacp-rate: '1'\n    \
             bond-miimon: 100\n    bond-updelay: 200\n    bond-arp-ip-target: '10.0.0.1,10.0.0.2'\n    \
             bond-all-slaves-active: 1\n    bond-num-grat-arp: 3\n    bond-num-unsol-na: 5\n    \
             bond-primary: eth1\n    bond-ad-select: sometimes\n    bond-use-carrier: 1\n",
        );
        assert_eq!(
            file(&r, "10-cloud-init-bond0.netdev"),
            "[NetDev]\nName=bond0\nKind=bond\n\n[Bond]\nMode=802.3ad\n\
             TransmitHashPolicy=layer3+4\nLACPTransmitRate=fast\nMIIMonitorSec=100ms\n\
             UpDelaySec=200ms\nARPIPTargets=10.0.0.1 10.0.0.2\nGratuitousARP=3\n\
             AllSlavesActive=yes\n"
        );
        assert_eq!(
            file(&r, "10-cloud-init-eth1.network"),
            "[Match]\nName=eth1\n\n[Network]\nBond=bond0\nDHCP=no\nPrimarySlave=yes\n\n"
        );
        assert_eq!(
            file(&r, "10-cloud-init-eth0.network"),
            "[Match]\nName=eth0\n\n[Network]\nBond=bond0\nDHCP=no\n\n"
        );
        assert_eq!(
            r.warnings,
            [
                "networkd: bond bond0: bond-ad-select value sometimes is not one networkd takes; ignored",
                "networkd: bond bond0: bond-use-carrier has no systemd-networkd setting; ignored",
            ]
        );
    }

    #[test]
    fn undeclared_bond_slaves_are_enslaved_and_get_no_netdev() {
        // handle_bond makes `bond`-typed placeholders of undeclared slaves.
        let r = render(
            "version: 1\nconfig:\n- type: bond\n  name: bond0\n  bond_interfaces: [eth0]\n  \
             params: {bond-mode: active-backup}\n",
        );
        let names: Vec<String> = r
            .files
            .iter()
            .map(|f| f.path.display().to_string())
            .collect();
        // The bond comes first in cloud-init's state, its placeholders after.
        assert_eq!(
            names,
            [
                "/etc/systemd/network/10-cloud-init-bond0.netdev",
                "/etc/systemd/network/10-cloud-init-bond0.network",
                "/etc/systemd/network/10-cloud-init-eth0.network",
            ]
        );
        assert!(file(&r, "10-cloud-init-eth0.network").contains("Bond=bond0\n"));
    }

    #[test]
    fn bridge_settings_and_port_costs() {
        let r = render(
            "version: 2\nethernets:\n  eth0: {set-name: eth0, match: {macaddress: 'fa:16:3e:00:00:00'}}\n  \
             eth1: {set-name: eth1, match: {macaddress: 'fa:16:3e:00:00:01'}}\n\
             bridges:\n  br0:\n    interfaces: [eth0, eth1]\n    macaddress: 'fa:16:3e:00:00:10'\n    \
             parameters: {stp: true, priority: 4096, hello-time: 1.5, path-cost: {eth0: 50}, \
             port-priority: {eth1: 20}}\n",
        );
        assert_eq!(
            file(&r, "10-cloud-init-br0.netdev"),
            "[NetDev]\nName=br0\nKind=bridge\n\n[Bridge]\nSTP=yes\nPriority=4096\nHelloTimeSec=1.5s\n"
        );
        assert_eq!(
            file(&r, "10-cloud-init-eth0.network"),
            "[Bridge]\nCost=50\n\n[Match]\nMACAddress=fa:16:3e:00:00:00\nName=eth0\n\n\
             [Network]\nBridge=br0\nDHCP=no\n\n"
        );
        assert!(file(&r, "10-cloud-init-eth1.network").starts_with("[Bridge]\nPriority=20\n\n"));
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);

        // v1's "port value" strings; ifupdown-only keys are silently not mapped.
        let r = render(
            "version: 1\nconfig:\n- {type: physical, name: eth0}\n\
             - type: bridge\n  name: br0\n  mac_address: 'fa:16:3e:00:00:10'\n  bridge_interfaces: [eth0]\n  \
             params: {bridge_pathcost: [eth0 70], bridge_maxwait: 0, bridge_fd: 0, bridge_hw: 'x'}\n",
        );
        assert_eq!(
            file(&r, "10-cloud-init-br0.netdev"),
            "[NetDev]\nName=br0\nKind=bridge\nMACAddress=fa:16:3e:00:00:10\n\n\
             [Bridge]\nForwardDelaySec=0s\n"
        );
        assert!(file(&r, "10-cloud-init-eth0.network").starts_with("[Bridge]\nCost=70\n\n"));
        assert_eq!(
            r.warnings,
            ["networkd: bridge br0: bridge_hw has no systemd-networkd setting; ignored"]
        );
    }

    #[test]
    fn vlan_on_an_unconfigured_link_is_still_declared_but_warned_about() {
        let r = render(
            "version: 1\nconfig:\n- {type: vlan, name: eth9.7, vlan_link: eth9, vlan_id: 7}\n",
        );
        assert_eq!(
            file(&r, "10-cloud-init-eth9.7.netdev"),
            "[NetDev]\nName=eth9.7\nKind=vlan\n\n[VLAN]\nId=7\n"
        );
        assert_eq!(
            r.warnings,
            ["networkd: VLAN eth9.7's link eth9 is not configured; networkd will not create eth9.7"]
        );
    }

    #[test]
    fn v2_without_ethernets_renders() {
        // cloud-init's renderer fails with KeyError: 'ethernets'.
        let r = render("version: 2\nvlans:\n  v5: {id: 5, link: eth0}\n");
        assert_eq!(
            file(&r, "10-cloud-init-v5.network"),
            "[Match]\nName=v5\n\n[Network]\nDHCP=no\n\n"
        );
        assert_eq!(r.warnings.len(), 1, "eth0 is not configured");
    }

    #[test]
    fn a_demoted_gateway_and_its_default_route_are_dropped_other_routes_kept() {
        // OpenStack style: the default route is a subnet route.
        let r = render(
            "version: 1\nconfig:\n\
             - type: physical\n  name: eth0\n  subnets:\n  - {type: static, address: 10.0.0.5/24, gateway: 10.0.0.1}\n\
             - type: physical\n  name: eth1\n  subnets:\n  - type: static\n    address: 10.1.0.5/24\n    \
             routes:\n    - {network: 0.0.0.0, netmask: 0.0.0.0, gateway: 10.1.0.1}\n    \
             - {network: 10.9.0.0, netmask: 255.255.0.0, gateway: 10.1.0.254}\n",
        );
        assert!(file(&r, "10-cloud-init-eth0.network").contains("[Route]\nGateway=10.0.0.1\n\n"));
        assert_eq!(
            file(&r, "10-cloud-init-eth1.network"),
            "[Address]\nAddress=10.1.0.5/24\n\n[Match]\nName=eth1\n\n[Network]\nDHCP=no\n\n\
             [Route]\nDestination=10.9.0.0/16\n\nGateway=10.1.0.254\n\n"
        );
        // One per family: an IPv6 gateway beside the IPv4 one stays.
        let r = render(
            "version: 1\nconfig:\n- type: physical\n  name: eth0\n  subnets:\n  \
             - {type: static, address: 10.0.0.5/24, gateway: 10.0.0.1}\n  \
             - {type: static6, address: 'fd00::5/64', gateway: 'fd00::1'}\n",
        );
        let eth0 = file(&r, "10-cloud-init-eth0.network");
        assert!(eth0.contains("Gateway=10.0.0.1\n") && eth0.contains("Gateway=fd00::1\n"));
    }

    #[test]
    fn dhcp_domain_and_use_domains_together_keep_the_override() {
        let r = render(
            "version: 2\nethernets:\n  eth0:\n    dhcp4: true\n    dhcp4domain: true\n    \
             dhcp4-overrides: {use-domains: false}\n    dhcp6domain: 'off'\n",
        );
        assert_eq!(
            file(&r, "10-cloud-init-eth0.network"),
            "[DHCPv4]\nUseDomains=False\n\n[DHCPv6]\nUseDomains=no\n\n[Match]\nName=eth0\n\n\
             [Network]\nDHCP=ipv4\n\n"
        );
        assert_eq!(r.warnings.len(), 1);
    }

    #[test]
    fn a_name_that_is_not_a_file_name_is_skipped() {
        let r = render("version: 1\nconfig:\n- {type: physical, name: ../x}\n");
        assert!(r.files.is_empty());
        assert_eq!(r.warnings.len(), 1);
    }

    #[test]
    fn stale_netdevs_of_ours_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let net = dir.path().join("etc/systemd/network");
        std::fs::create_dir_all(&net).unwrap();
        for f in [
            "10-cloud-init-bond0.netdev",
            "10-cloud-init-br1.netdev",
            "10-cloud-init-eth0.network",
            "50-admin.netdev",
        ] {
            std::fs::write(net.join(f), "").unwrap();
        }
        let r = render_in(
            "version: 1\nconfig:\n- {type: physical, name: eth0}\n\
             - {type: bond, name: bond0, bond_interfaces: [eth0], params: {bond-mode: 1}}\n",
            dir.path(),
        );
        assert_eq!(
            r.remove,
            [Path::new(NETWORK_DIR).join("10-cloud-init-br1.netdev")]
        );
    }

    #[test]
    fn cfg_parser_sorts_and_dedups_like_cloud_init() {
        let mut cfg = CfgParser::default();
        cfg.update_section("Network", "DNS", "b");
        cfg.update_section("Network", "DNS", "a");
        cfg.update_section("Network", "DNS", "b");
        cfg.update_section("Address", "Address", "10.0.0.2/24");
        cfg.update_section("Address", "Address", "10.0.0.10/24");
        cfg.update_route_section("r2", "Gateway", "1.1.1.2");
        cfg.update_route_section("r10", "Metric", "5");
        cfg.update_route_section("r10", "Gateway", "1.1.1.10");
        assert_eq!(
            cfg.get_final_conf(),
            "[Address]\nAddress=10.0.0.10/24\n\n[Address]\nAddress=10.0.0.2/24\n\n\
             [Network]\nDNS=a\nDNS=b\n\n\
             [Route]\nGateway=1.1.1.10\n\nMetric=5\n\n[Route]\nGateway=1.1.1.2\n\n"
        );
    }
}
