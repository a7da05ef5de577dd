//! The netplan renderer: `/etc/netplan/50-cloud-init.yaml`, as cloud-init
//! 22.4's `cloudinit/net/netplan.py` (`Renderer.render_network_state`,
//! `_render_content`) writes it, byte for byte.
//!
//! - Version 2 input is passed through: cloud-init does not interpret it
//!   for netplan (`NetworkState.to_passthrough`) and dumps
//!   `{"network": config}` as given, keys sorted.
//! - Version 1 (and what converts to it) becomes netplan's version 2: one
//!   section per kind (`ethernets`, `bonds`, `bridges`, `vlans`), each
//!   dumped on its own and indented under `network:`, which is why the file
//!   starts `network:\n    version: 2` rather than with sorted keys.
//! - The YAML is PyYAML's (`safeyaml.dumps` with `indent=4`, no `---` or
//!   `...`): [`crate::yaml::dump_bare_mapping`].
//! - The file is the Debian/Ubuntu header plus the content, mode 0644
//!   (`util.write_file`'s default in 22.4). A `00-snapd-config.yaml` that is
//!   exactly snapd's initial config is removed with what netplan generated
//!   from it (`_clean_default`).
//! - netplan's features are those `cloud-init devel net-convert` assumes
//!   (`dhcp-use-domains`, `ipv6-mtu`). At boot cloud-init asks `netplan
//!   info` instead; current netplan lists both (0.106, Debian 12, checked),
//!   and only `ipv6-mtu` changes the output: an IPv6 subnet's MTU is
//!   written as `ipv6-mtu`, not `mtu`. A netplan too old to know it would
//!   need `mtu` there.
//!
//! Deliberate difference (several default gateways, v1 input only): the
//! caller runs [`NetworkState::demote_extra_default_gateways`] first. For a
//! subnet it marks ([`Subnet::not_default`]) we write no default route of
//! the demoted family: no `gateway4`/`gateway6` and none of the subnet's
//! `0.0.0.0/0` or `::/0` routes. Nothing is written in their place: the
//! subnet's addresses, its other routes, DNS and MTU stay, so the interface
//! works on its own networks, and only the first gateway (per family, in
//! config order) carries the default route, as sysconfig's `DEFROUTE=no`
//! does for the same state. cloud-init writes every gateway as a default
//! route, and which one wins depends on which interface comes up first. A
//! version 2 config is the user's netplan already and stays as given.
//!
//! Kept for parity although they are cloud-init defects (each checked in
//! tests/net_render_netplan.rs): global routes (v1 `type: route`) are not
//! written, so a default route given that way is lost; per-interface
//! nameservers (v1 `nameserver` with `interface`) are dropped for the
//! global ones; a subnet route without a gateway is written `via: null`,
//! and bond `arp-ip-target` keeps that name where netplan wants
//! `arp-ip-targets`: netplan refuses such a file.

use std::path::{Path, PathBuf};

use super::{BringUp, RenderContext, Rendered, RenderedFile, Renderer};
use crate::net::state::{NetworkState, Subnet, BOND_V1_TO_V2, BRIDGE_V1_TO_V2, IPV6_DYNAMIC_TYPES};
use crate::rootfs::{FsView, Kind};
use crate::value::{Mapping, Value};
use crate::yaml::dump_bare_mapping;

/// Where Debian and Ubuntu keep cloud-init's netplan file.
pub const NETPLAN_PATH: &str = "/etc/netplan/50-cloud-init.yaml";

/// `util.write_file`'s default mode, which 22.4 uses for this file.
pub const NETPLAN_MODE: u32 = 0o644;

/// `cloudinit.distros.debian.NETWORK_FILE_HEADER` (Ubuntu's and Debian's
/// `netplan_header`).
pub use super::DEBIAN_NETWORK_FILE_HEADER as HEADER;

/// The netplan features assumed present (see the module comment).
pub const FEATURES: &[&str] = &["dhcp-use-domains", "ipv6-mtu"];

/// `KNOWN_SNAPD_CONFIG`: snapd's initial config, which cloud-init's own
/// file replaces.
const KNOWN_SNAPD_CONFIG: &[u8] = b"\
# This is the initial network config.
# It can be overwritten by cloud-init or console-conf.
network:
    version: 2
    ethernets:
        all-en:
            match:
                name: \"en*\"
            dhcp4: true
        all-eth:
            match:
                name: \"eth*\"
            dhcp4: true
";
const SNAPD_CONFIG: &str = "/etc/netplan/00-snapd-config.yaml";
/// What netplan generated from snapd's config.
const SNAPD_DERIVED: &[&str] = &[
    "/run/systemd/network/10-netplan-all-en.network",
    "/run/systemd/network/10-netplan-all-eth.network",
    "/run/systemd/generator/netplan.stamp",
];

/// cloud-init's `netplan` renderer.
pub struct Netplan;

impl Renderer for Netplan {
    fn name(&self) -> &'static str {
        "netplan"
    }

    /// cloud-init's netplan renderer runs `netplan generate` after writing.
    fn after_write(&self) -> &'static [&'static str] {
        &["netplan", "generate"]
    }

    /// cloud-init's netplan activator; netplan replaces addresses itself.
    fn bring_up(&self) -> BringUp {
        BringUp::Service(&["netplan", "apply"])
    }

    /// `Renderer.render_network_state`, the writing part. cloud-init then
    /// runs `netplan generate` and `udevadm test-builtin net_setup_link` on
    /// every device (Ubuntu's `postcmds`): applying the file is the
    /// caller's step, not the renderer's.
    fn render(&self, state: &NetworkState, ctx: &RenderContext) -> Rendered {
        let mut warnings = Vec::new();
        let content = render_content(state, FEATURES, &mut warnings);
        Rendered {
            files: vec![RenderedFile {
                path: PathBuf::from(NETPLAN_PATH),
                content: format!("{HEADER}{content}"),
                mode: NETPLAN_MODE,
            }],
            remove: clean_default(ctx.fs),
            warnings,
        }
    }
}

/// `Renderer._render_content`: the file without its header.
pub fn render_content(
    state: &NetworkState,
    features: &[&str],
    warnings: &mut Vec<String>,
) -> String {
    if state.version == 2 {
        return dump_bare_mapping(&map_of([("network", state.config.clone())]));
    }
    // Each section in interface order; names are unique in the state.
    // (`wifis` stays empty: version 1 has no wifi.)
    let mut ethernets: Vec<(Value, Mapping)> = Vec::new();
    let mut bonds = Vec::new();
    let mut bridges = Vec::new();
    let mut vlans = Vec::new();
    for iface in &state.interfaces {
        let ifname = iface.0.get("name").cloned().unwrap_or_default();
        // "filter None (but not False) entries up front"
        let ifcfg: Mapping = iface
            .0
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut entry = Mapping::new();
        let section = match iface.kind().as_str() {
            "physical" => {
                let matcher = match ifcfg.get("match") {
                    Some(m) => Some(m.clone()),
                    None => ifcfg
                        .get("mac_address")
                        .map(|mac| Value::Map(map_of([("macaddress", lower(mac))]))),
                };
                if let Some(m) = matcher {
                    insert(&mut entry, "set-name", ifname.clone());
                    insert(&mut entry, "match", m);
                }
                &mut ethernets
            }
            "bond" => {
                bond_entry(&ifcfg, &ifname, state, &mut entry);
                &mut bonds
            }
            "bridge" => {
                bridge_entry(&ifcfg, &ifname, &mut entry, warnings);
                &mut bridges
            }
            "vlan" => {
                insert(&mut entry, "id", or_null(ifcfg.get("vlan_id")));
                insert(&mut entry, "link", or_null(ifcfg.get("vlan-raw-device")));
                if let Some(mac) = ifcfg.get("mac_address") {
                    insert(&mut entry, "macaddress", lower(mac));
                }
                &mut vlans
            }
            // loopback, infiniband: netplan gets nothing for them.
            _ => continue,
        };
        extract_addresses(&ifcfg, &mut entry, &ifname, features, warnings);
        section.push((ifname, entry));
    }

    // Global DNS goes to every interface with addresses and no DNS of its own.
    if !state.nameservers.is_empty() || !state.search.is_empty() {
        let nscfg = Value::Map(map_of([
            ("addresses", strs(&state.nameservers)),
            ("search", strs(&state.search)),
        ]));
        for section in [&mut ethernets, &mut bonds, &mut bridges, &mut vlans] {
            for (_, cfg) in section.iter_mut() {
                if !cfg.contains_key("nameservers") && cfg.contains_key("addresses") {
                    insert(cfg, "nameservers", nscfg.clone());
                }
            }
        }
    }

    let mut content = String::from("network:\n    version: 2\n");
    for (name, section) in [
        ("ethernets", ethernets),
        ("bonds", bonds),
        ("bridges", bridges),
        ("vlans", vlans),
    ] {
        if section.is_empty() {
            continue;
        }
        let section: Mapping = section
            .into_iter()
            .map(|(k, v)| (k, Value::Map(v)))
            .collect();
        let dump = dump_bare_mapping(&map_of([(name, Value::Map(section))]));
        content.push_str(&indent(&dump, "    "));
    }
    content
}

/// The bond part of `_render_content`: v1 `bond-*` (or `bond_*`) keys under
/// their v2 names, the MAC, the slaves.
fn bond_entry(ifcfg: &Mapping, ifname: &Value, state: &NetworkState, entry: &mut Mapping) {
    let mut params = Mapping::new();
    for prefix in ["bond_", "bond-"] {
        for (key, value) in str_keys_with_prefix(ifcfg, prefix) {
            let v1 = key.replace('_', "-");
            if let Some((_, v2)) = BOND_V1_TO_V2.iter().find(|(k, _)| *k == v1) {
                insert(&mut params, v2, value.clone());
            }
        }
    }
    if !params.is_empty() {
        insert(entry, "parameters", Value::Map(params));
    }
    if let Some(mac) = ifcfg.get("mac_address").filter(|m| m.truthy()) {
        insert(entry, "macaddress", lower(mac));
    }
    if ifcfg.get("bond-slaves").and_then(Value::as_str) == Some("none") {
        // `_extract_bond_slaves_by_name`: every interface naming it master.
        let mut slaves: Vec<String> = state
            .interfaces
            .iter()
            .filter(|i| i.0.get("bond-master").is_some_and(|m| py_eq(m, ifname)))
            .map(|i| i.name())
            .collect();
        slaves.sort();
        if !slaves.is_empty() {
            insert(entry, "interfaces", strs(&slaves));
        }
    }
}

/// The bridge part of `_render_content`: sorted ports, v1 `bridge_*` keys
/// under their v2 names (path cost and port priority as port -> int), the MAC.
fn bridge_entry(ifcfg: &Mapping, ifname: &Value, entry: &mut Mapping, warnings: &mut Vec<String>) {
    let ports = match ifcfg.get("bridge_ports") {
        Some(Value::Seq(ports)) => py_sorted(ports),
        _ => Vec::new(),
    };
    insert(entry, "interfaces", Value::Seq(ports));
    let mut params = Mapping::new();
    for (key, value) in str_keys_with_prefix(ifcfg, "bridge_") {
        let Some((_, Some(v2))) = BRIDGE_V1_TO_V2.iter().find(|(k, _)| *k == key) else {
            continue;
        };
        let value = if matches!(*v2, "path-cost" | "port-priority") {
            // `<port> <value>` strings become `port: int(value)`; cloud-init
            // raises on anything else, we leave the parameter out.
            match per_port_ints(value) {
                Some(m) => Value::Map(m),
                None => {
                    warnings.push(format!(
                        "bridge {}: ignoring {key} {value}: not a list of '<port> <number>'",
                        ifname.python_str()
                    ));
                    continue;
                }
            }
        } else {
            value.clone()
        };
        insert(&mut params, v2, value);
    }
    if !params.is_empty() {
        insert(entry, "parameters", Value::Map(params));
    }
    if let Some(mac) = ifcfg.get("mac_address").filter(|m| m.truthy()) {
        insert(entry, "macaddress", lower(mac));
    }
}

/// `["eth0 10", "eth1 20"]` -> `{eth0: 10, eth1: 20}`.
fn per_port_ints(value: &Value) -> Option<Mapping> {
    let mut out = Mapping::new();
    for item in value.as_seq()? {
        let text = item.as_str()?;
        let mut words = text.split_whitespace();
        let (port, cost, None) = (words.next()?, words.next()?, words.next()) else {
            return None;
        };
        insert(&mut out, port, Value::Int(cost.parse().ok()?));
    }
    Some(out)
}

/// `_extract_addresses`: an interface's subnets into netplan keys (DHCP
/// flags, addresses, gateways, routes, DNS, MTU) and its `mtu` and
/// `accept-ra`.
fn extract_addresses(
    config: &Mapping,
    entry: &mut Mapping,
    ifname: &Value,
    features: &[&str],
    warnings: &mut Vec<String>,
) {
    let mut addresses = Vec::new();
    let mut routes = Vec::new();
    let mut nameservers = Vec::new();
    let mut searchdomains = Vec::new();
    let subnets = config
        .get("subnets")
        .and_then(Value::as_seq)
        .unwrap_or_default();
    for subnet in subnets.iter().filter_map(Value::as_map) {
        let subnet = Subnet(subnet.clone());
        let sn_type = subnet.kind();
        if sn_type.starts_with("dhcp") {
            let key = if sn_type == "dhcp" {
                "dhcp4"
            } else {
                sn_type.as_str()
            };
            insert(entry, key, Value::Bool(true));
        } else if IPV6_DYNAMIC_TYPES.contains(&sn_type.as_str()) {
            insert(entry, "dhcp6", Value::Bool(true));
        } else if sn_type == "static" || sn_type == "static6" {
            // The deliberate fix: which family's default route to leave out.
            let demoted_v6 = if subnet.not_default() {
                demoted_family(&subnet)
            } else {
                None
            };
            let mut addr = or_null(subnet.0.get("address")).python_str();
            if let Some(prefix) = subnet.0.get("prefix") {
                addr.push('/');
                addr.push_str(&percent_d(prefix));
            }
            if let Some(gateway) = subnet.0.get("gateway").filter(|g| g.truthy()) {
                let v6 = gateway.python_str().contains(':');
                if demoted_v6 != Some(v6) {
                    let key = if v6 { "gateway6" } else { "gateway4" };
                    insert(entry, key, gateway.clone());
                }
            }
            if let Some(ns) = subnet.0.get("dns_nameservers") {
                nameservers.extend(listify(ns));
            }
            if let Some(search) = subnet.0.get("dns_search") {
                searchdomains.extend(listify(search));
            }
            if let Some(mtu) = subnet.0.get("mtu") {
                let key = if subnet.is_ipv6() && features.contains(&"ipv6-mtu") {
                    "ipv6-mtu"
                } else {
                    "mtu"
                };
                insert(entry, key, mtu.clone());
            }
            for route in subnet.routes() {
                if demoted_v6.is_some() && default_route_family(&route) == demoted_v6 {
                    continue;
                }
                let to = format!(
                    "{}/{}",
                    or_null(route.get("network")).python_str(),
                    or_null(route.get("prefix")).python_str()
                );
                let mut new_route = map_of([
                    ("via", or_null(route.get("gateway"))),
                    ("to", Value::Str(to)),
                ]);
                if let Some(metric) = route.get("metric") {
                    insert(&mut new_route, "metric", metric.clone());
                }
                routes.push(Value::Map(new_route));
            }
            addresses.push(Value::Str(addr));
        }
    }

    if let Some(mtu) = config.get("mtu") {
        match entry.get("mtu").filter(|m| m.truthy()) {
            Some(entry_mtu) if !py_eq(mtu, entry_mtu) => warnings.push(format!(
                "Network config: ignoring {} device-level mtu:{} because ipv4 subnet-level mtu:{} provided.",
                ifname.python_str(),
                mtu.python_str(),
                entry_mtu.python_str()
            )),
            _ => insert(entry, "mtu", mtu.clone()),
        }
    }
    if !addresses.is_empty() {
        insert(entry, "addresses", Value::Seq(addresses));
    }
    if !routes.is_empty() {
        insert(entry, "routes", Value::Seq(routes));
    }
    if !nameservers.is_empty() {
        insert(
            entry,
            "nameservers",
            Value::Map(map_of([("addresses", Value::Seq(nameservers))])),
        );
    }
    if !searchdomains.is_empty() {
        let mut ns = match entry.get("nameservers") {
            Some(Value::Map(m)) => m.clone(),
            _ => Mapping::new(),
        };
        insert(&mut ns, "search", Value::Seq(searchdomains));
        insert(entry, "nameservers", Value::Map(ns));
    }
    if let Some(accept_ra) = config.get("accept-ra") {
        // `util.is_true`.
        insert(
            entry,
            "accept-ra",
            Value::Bool(crate::py::truth::is_true(accept_ra)),
        );
    }
}

/// The family (`Some(true)` for IPv6) whose default route the
/// default-gateway pass took from this subnet: that of its gateway, else of
/// its first default route (the pass's own rule).
fn demoted_family(subnet: &Subnet) -> Option<bool> {
    let gateway = subnet.str("gateway").or_else(|| {
        subnet
            .routes()
            .iter()
            .find(|r| default_route_family(r).is_some())
            .and_then(|r| r.get("gateway").map(Value::python_str))
    })?;
    Some(gateway.contains(':'))
}

/// `Some(is_ipv6)` for a default route (`0.0.0.0/0`, `::/0`), else `None`.
fn default_route_family(route: &Mapping) -> Option<bool> {
    if !matches!(route.get("prefix"), Some(Value::Int(0))) {
        return None;
    }
    match route.get("network").and_then(Value::as_str) {
        Some("0.0.0.0") => Some(false),
        Some("::") => Some(true),
        _ => None,
    }
}

/// `_clean_default`: snapd's initial config, if unchanged, goes, with the
/// files netplan generated from it.
fn clean_default(fs: &dyn FsView) -> Vec<PathBuf> {
    let is_file = |p: &Path| matches!(fs.stat(p), Some(s) if s.kind == Kind::File);
    let snapd = Path::new(SNAPD_CONFIG);
    if !is_file(snapd) || fs.read(snapd).ok().as_deref() != Some(KNOWN_SNAPD_CONFIG) {
        return Vec::new();
    }
    std::iter::once(snapd)
        .chain(SNAPD_DERIVED.iter().map(Path::new).filter(|p| is_file(p)))
        .map(Path::to_path_buf)
        .collect()
}

/// `textwrap.indent`: the prefix on every line that is not blank.
fn indent(text: &str, prefix: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for line in text.split_inclusive('\n') {
        if !line.trim().is_empty() {
            out.push_str(prefix);
        }
        out.push_str(line);
    }
    out
}

/// `_listify` as `+=` uses it: a list's items; a string split on single
/// spaces (`str.split(" ")`); a mapping's keys (Python extends a list with
/// them); nothing for anything else (where Python would raise).
fn listify(v: &Value) -> Vec<Value> {
    match v {
        Value::Seq(items) => items.clone(),
        Value::Str(s) if s.is_empty() => Vec::new(),
        Value::Str(s) => s.split(' ').map(Value::str).collect(),
        Value::Map(m) => m.iter().map(|(k, _)| k.clone()).collect(),
        _ => Vec::new(),
    }
}

/// `"%d" % value` for a prefix (an int after normalizing).
fn percent_d(v: &Value) -> String {
    match v {
        Value::Bool(b) => u8::from(*b).to_string(),
        Value::Float(f) if f.is_finite() => format!("{}", f.trunc() as i64),
        other => other.python_str(),
    }
}

/// `str.lower()` of a MAC address.
fn lower(mac: &Value) -> Value {
    Value::Str(mac.python_str().to_lowercase())
}

/// Python `==` for the scalars compared here (`1500 == 1500.0`).
fn py_eq(a: &Value, b: &Value) -> bool {
    let num = |v: &Value| match v {
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    };
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Python's `sorted` of a bridge's ports: strings (the only ports there are)
/// in code point order, which is UTF-8 byte order; anything Python could
/// not compare keeps its order.
fn py_sorted(items: &[Value]) -> Vec<Value> {
    let mut out = items.to_vec();
    if out.iter().all(|v| matches!(v, Value::Str(_))) {
        out.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    }
    out
}

/// The string-keyed entries whose key starts with `prefix`
/// (`_get_params_dict_by_match`).
fn str_keys_with_prefix<'a>(
    m: &'a Mapping,
    prefix: &'a str,
) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
    m.iter()
        .filter_map(move |(k, v)| k.as_str().filter(|k| k.starts_with(prefix)).map(|k| (k, v)))
}

fn insert(m: &mut Mapping, key: &str, v: Value) {
    m.insert(Value::str(key), v);
}

fn or_null(v: Option<&Value>) -> Value {
    v.cloned().unwrap_or_default()
}

fn strs(v: &[String]) -> Value {
    Value::Seq(v.iter().map(Value::str).collect())
}

fn map_of<const N: usize>(entries: [(&str, Value); N]) -> Mapping {
    entries
        .into_iter()
        .map(|(k, v)| (Value::str(k), v))
        .collect()
}
