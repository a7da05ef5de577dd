//! The ENI renderer: Debian's ifupdown `/etc/network/interfaces` format,
//! as cloud-init 22.4's `net/eni.py` `Renderer` writes it with the Debian
//! distro's settings (`distros/debian.py` `renderer_configs["eni"]`): the
//! stanzas go to `/etc/network/interfaces.d/50-cloud-init` under
//! `NETWORK_FILE_HEADER`, and the MAC-to-name udev rules to
//! `/etc/udev/rules.d/70-persistent-net.rules`.
//!
//! The output is byte-identical to `cloud-init devel net-convert -D debian
//! -O eni` but for the route lines (below), Python-isms included: an interface's `dns` dict is written as
//! Python prints it (`dns {'addresses': [...], ...}`), booleans become
//! `on`/`off`, and attribute lines are sorted as strings. To keep that, the
//! renderer works on the interface dicts of [`NetworkState`] the way
//! `_render_iface` does, key by key, instead of on a typed model.
//!
//! Deliberate differences from cloud-init:
//!
//! - **Routes use iproute2.** cloud-init writes `post-up route add ... ||
//!   true` and `pre-down route del ... || true`: net-tools' `route`, which
//!   Debian 12 and current Ubuntu do not install, so every static and
//!   default route given as a route was silently lost (`/bin/sh: 1: route:
//!   not found`, hidden by `|| true`). Here they are `ip route add/del` and
//!   `ip -6 route add/del` (see [`render_route`] for each form); iproute2 is
//!   on every image with ifupdown, Debian 8 and Ubuntu 14.04 included.
//!   Lines, order and `|| true` are otherwise cloud-init's.
//! - **Several default gateways.** The caller runs
//!   [`NetworkState::demote_extra_default_gateways`] first. For a subnet it
//!   marked [`Subnet::not_default`], neither the `gateway` line nor a
//!   default route (`0.0.0.0/0`, `::/0`) among the subnet's routes is
//!   written, and nothing is written in their place: in ifupdown `gateway`
//!   only ever adds a default route, the on-link route of the subnet comes
//!   from its address, and the subnet's other routes stay. cloud-init writes
//!   every gateway, so each NIC's `ifup` adds a default route and whichever
//!   came up first wins.
//! - **The main file is made to include ours.** cloud-init writes
//!   `interfaces.d/50-cloud-init` and trusts `/etc/network/interfaces` to
//!   read it; nothing in 22.4's `distros/debian.py` checks that (only the
//!   VMware customization helper, `sources/helpers/vmware/imc/config_nic.py`
//!   `configure`, rewrites the main file, to nothing but `source` lines).
//!   Images whose main file does not read it end up with no network config
//!   at all: Debian 7 (no `source` line; `source-directory` came with
//!   ifupdown 0.7.44) and Ubuntu 14.04 (`source
//!   /etc/network/interfaces.d/*.cfg`, which cloud-init's Ubuntu path
//!   `50-cloud-init.cfg` matches but the Debian one does not). See
//!   [`main_file`].
//! - Where cloud-init raises (a route without a gateway, global DNS with a
//!   loopback that has no subnets, an interface of no known type, as a
//!   bridge port the config never defines is), the output here goes on
//!   without that piece, or puts the unknown interface last, and says what
//!   it left out in [`Rendered::warnings`].
//!
//! Mirrored from `distros/debian.py` too: `_maybe_remove_legacy_eth0`
//! (Ubuntu images' `interfaces.d/eth0.cfg` is removed when it holds only
//! the stock `auto eth0` / `iface eth0 inet dhcp`). In the same spirit, a
//! `50-cloud-init.cfg` that cloud-init wrote on Ubuntu is removed, since
//! ours replaces it ([`UBUNTU_ENI_PATH`]).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::net::render::{BringUp, RenderContext, Rendered, RenderedFile, Renderer};
use crate::net::state::{Iface, NetworkState, Subnet};
pub(crate) use crate::py::str::{splitlines as py_splitlines, strip as py_strip};
use crate::rootfs::FsView;
use crate::value::{Mapping, Value};

/// `distros/debian.py` `network_conf_fn["eni"]`.
pub const ENI_PATH: &str = "/etc/network/interfaces.d/50-cloud-init";
/// The `Renderer`'s default `netrules_path`.
pub const NETRULES_PATH: &str = "/etc/udev/rules.d/70-persistent-net.rules";
/// ifupdown's main file.
pub const MAIN_PATH: &str = "/etc/network/interfaces";
/// `_maybe_remove_legacy_eth0`'s path.
pub const LEGACY_ETH0_PATH: &str = "/etc/network/interfaces.d/eth0.cfg";
/// Where cloud-init writes on Ubuntu (`distros/ubuntu.py`): named `.cfg` so
/// that Ubuntu's `source /etc/network/interfaces.d/*.cfg` reads it.
pub const UBUNTU_ENI_PATH: &str = "/etc/network/interfaces.d/50-cloud-init.cfg";

/// `distros/debian.py` `NETWORK_FILE_HEADER`.
pub use super::DEBIAN_NETWORK_FILE_HEADER as HEADER;

/// The line added to a main file that does not read `interfaces.d`, and the
/// comment above it.
const SOURCE_ALL: &str = "source /etc/network/interfaces.d/*";
const SOURCE_OURS: &str = "source /etc/network/interfaces.d/50-cloud-init";
const SOURCE_COMMENT: &str = "\
# Added by cloudboot: the network configuration it writes is in
# /etc/network/interfaces.d/50-cloud-init, which this file did not read.";

/// The ENI renderer.
pub struct Eni;

impl Renderer for Eni {
    fn name(&self) -> &'static str {
        "eni"
    }

    /// cloud-init's ifupdown activator: `ifup` per interface, which adds
    /// the configured addresses and leaves any other in place.
    fn bring_up(&self) -> BringUp {
        BringUp::Ifup
    }

    /// `Renderer.render_network_state` plus the Debian distro's
    /// `_write_network_state` (legacy `eth0.cfg`), plus the main file.
    fn render(&self, state: &NetworkState, ctx: &RenderContext) -> Rendered {
        let mut out = Rendered::default();
        let interfaces = render_interfaces(state, &mut out.warnings);
        out.files.push(RenderedFile {
            path: PathBuf::from(ENI_PATH),
            content: format!("{HEADER}{interfaces}"),
            mode: 0o644,
        });
        out.files.push(RenderedFile {
            path: PathBuf::from(NETRULES_PATH),
            content: persistent_net_rules(state),
            mode: 0o644,
        });
        match legacy_eth0(ctx.fs) {
            LegacyEth0::Absent => {}
            LegacyEth0::Stock => {
                out.remove.push(PathBuf::from(LEGACY_ETH0_PATH));
                out.warnings
                    .push(format!("removed {LEGACY_ETH0_PATH} with known contents"));
            }
            LegacyEth0::Custom(why) => out.warnings.push(why),
        }
        if let Some(stale) = stale_ubuntu_file(ctx.fs, &mut out.warnings) {
            out.remove.push(stale);
        }
        if let Some(file) = main_file(ctx.fs, state, &mut out.warnings) {
            out.files.push(file);
        }
        out
    }
}

// ---------------------------------------------------------------------------
// /etc/network/interfaces.d/50-cloud-init (`eni.py` `Renderer`)

/// `_render_interfaces`: `lo` first (with the global DNS), then every other
/// interface by kind and name, then the global routes, stanzas one blank
/// line apart.
pub fn render_interfaces(state: &NetworkState, warnings: &mut Vec<String>) -> String {
    let mut lo = match state.iface("lo") {
        Some(found) => found.0.clone(),
        None => default_lo(),
    };
    for (key, list) in [
        ("dns_nameservers", &state.nameservers),
        ("dns_search", &state.search),
    ] {
        if list.is_empty() {
            continue;
        }
        let Some(Value::Seq(subnets)) = lo.get_mut("subnets") else {
            continue;
        };
        if subnets.is_empty() {
            // cloud-init raises IndexError here; keep the DNS on a
            // loopback subnet instead of losing it.
            warnings.push("lo has no subnets: the global DNS goes on a loopback one".into());
            subnets.push(Value::Map(default_lo_subnet()));
        }
        if let Some(Value::Map(first)) = subnets.first_mut() {
            first.insert(Value::str(key), Value::str(list.join(" ")));
        }
    }

    let mut sections: Vec<Vec<String>> = render_iface(lo, warnings);
    let mut others: Vec<&Iface> = state
        .interfaces
        .iter()
        .filter(|i| i.name() != "lo")
        .collect();
    others.sort_by_key(|i| (kind_rank(&i.kind()), i.name()));
    for iface in others {
        sections.extend(render_iface(iface.0.clone(), warnings));
    }
    for route in &state.routes {
        if let Some(lines) = render_route(route, "", warnings) {
            sections.push(lines);
        }
    }
    let mut text = sections
        .iter()
        .map(|s| s.join("\n"))
        .collect::<Vec<_>>()
        .join("\n\n");
    text.push('\n');
    text
}

/// The `lo` dict `_render_interfaces` starts from when the config has none.
fn default_lo() -> Mapping {
    let mut lo = Mapping::new();
    lo.insert(Value::str("name"), Value::str("lo"));
    lo.insert(Value::str("type"), Value::str("physical"));
    lo.insert(Value::str("inet"), Value::str("inet"));
    lo.insert(
        Value::str("subnets"),
        Value::Seq(vec![Value::Map(default_lo_subnet())]),
    );
    lo
}

fn default_lo_subnet() -> Mapping {
    let mut s = Mapping::new();
    s.insert(Value::str("type"), Value::str("loopback"));
    s.insert(Value::str("control"), Value::str("auto"));
    s
}

/// `_render_interfaces`' sort order: "physical interfaces first; this is
/// critical for bonding". (cloud-init raises on a kind not listed; those
/// go last here.)
fn kind_rank(kind: &str) -> u8 {
    match kind {
        "loopback" => 0,
        "physical" => 1,
        "infiniband" => 2,
        "bond" => 3,
        "bridge" => 4,
        "vlan" => 5,
        _ => 6,
    }
}

/// `_render_iface`: one stanza per subnet (the first `auto`, the later ones
/// `# control-alias`), or one `manual` stanza for an interface without
/// subnets. Like cloud-init it works on the interface dict itself, adding
/// `index`, `control`, `accept_ra`, `dhcp` as it goes; what one subnet sets
/// stays for the next.
fn render_iface(mut iface: Mapping, warnings: &mut Vec<String>) -> Vec<Vec<String>> {
    let mut sections: Vec<Vec<String>> = Vec::new();
    let subnets: Vec<Subnet> = Iface(iface.clone()).subnets();
    let accept_ra = iface.remove("accept-ra").filter(|v| !v.is_null());
    let wakeonlan = iface.remove("wakeonlan");
    if wakeonlan.as_ref().is_some_and(Value::truthy) {
        // `g`: wake on the "Magic Packet".
        set(&mut iface, "ethernet-wol", Value::str("g"));
    }
    let name = str_of(&iface, "name");
    if subnets.is_empty() {
        // ifenslave's docs say to `auto` the bond's members.
        let mut lines = Vec::new();
        if iface.contains_key("bond-master") || iface.contains_key("bond-slaves") {
            lines.push(format!("auto {name}"));
        }
        lines.push(format!(
            "iface {name} {} {}",
            str_of(&iface, "inet"),
            str_of(&iface, "mode")
        ));
        lines.extend(iface_attrs(&iface, 0, None));
        sections.push(lines);
        return sections;
    }
    let ra_flag = |v: &Value| Value::str(if v.truthy() { "1" } else { "0" });
    for (index, subnet) in subnets.iter().enumerate() {
        let kind = subnet.kind();
        let is_ipv6 = subnet.is_ipv6();
        let ipv4_subnet_mtu = if is_ipv6 {
            None
        } else {
            subnet.get("mtu").cloned()
        };
        set(&mut iface, "index", Value::Int(index as i64));
        set(&mut iface, "mode", Value::str(&kind));
        let control = subnet
            .0
            .get("control")
            .cloned()
            .unwrap_or_else(|| Value::str("auto"));
        set(&mut iface, "control", control);
        set(
            &mut iface,
            "inet",
            Value::str(if is_ipv6 { "inet6" } else { "inet" }),
        );
        match kind.as_str() {
            "dhcp4" | "dhcp6" | "ipv6_dhcpv6-stateful" => {
                set(&mut iface, "mode", Value::str("dhcp"));
                if let Some(ra) = &accept_ra {
                    set(&mut iface, "accept_ra", ra_flag(ra));
                }
            }
            // SLAAC from router advertisements, with (stateless) or
            // without DHCPv6 for the rest.
            "ipv6_dhcpv6-stateless" => {
                set(&mut iface, "mode", Value::str("auto"));
                set(&mut iface, "dhcp", Value::str("1"));
            }
            "ipv6_slaac" => {
                set(&mut iface, "mode", Value::str("auto"));
                set(&mut iface, "dhcp", Value::str("0"));
            }
            _ if is_ipv6 => {
                // static6 and the like: ifupdown's method is `static`.
                set(&mut iface, "mode", Value::str("static"));
                if let Some(ra) = &accept_ra {
                    set(&mut iface, "accept_ra", ra_flag(ra));
                }
            }
            _ => {}
        }
        // Old (precise) ifupdown rejects a second `auto` of one interface.
        let auto_line = format!("auto {name}");
        if sections.iter().any(|s| s.contains(&auto_line)) {
            set(&mut iface, "control", Value::str("alias"));
        }
        let mut lines = start_entry(&iface);
        lines.extend(subnet_lines(subnet));
        lines.extend(iface_attrs(&iface, index, ipv4_subnet_mtu.as_ref()));
        for route in subnet.routes() {
            if subnet.not_default() && is_default_route(&route) {
                continue;
            }
            if let Some(route_lines) = render_route(&route, "    ", warnings) {
                lines.extend(route_lines);
            }
        }
        sections.push(lines);
    }
    sections
}

fn set(map: &mut Mapping, key: &str, value: Value) {
    map.insert(Value::str(key), value);
}

fn str_of(map: &Mapping, key: &str) -> String {
    map.get(key).map(Value::python_str_any).unwrap_or_default()
}

/// `_iface_start_entry`: the `auto` (or `allow-hotplug`, or commented-out
/// control) line and the `iface` line.
fn start_entry(iface: &Mapping) -> Vec<String> {
    let name = str_of(iface, "name");
    let control = str_of(iface, "control");
    let verb = match control.as_str() {
        "auto" => "auto".to_string(),
        "hotplug" => "allow-hotplug".to_string(),
        other => format!("# control-{other}"),
    };
    vec![
        format!("{verb} {name}"),
        format!(
            "iface {name} {} {}",
            str_of(iface, "inet"),
            str_of(iface, "mode")
        ),
    ]
}

/// `_iface_add_subnet`: the subnet's address (`a/prefix`), gateway, DNS and
/// the like, sorted. A demoted subnet's gateway is left out (see the
/// module comment).
fn subnet_lines(subnet: &Subnet) -> Vec<String> {
    const VALID: &[&str] = &[
        "address",
        "netmask",
        "broadcast",
        "metric",
        "gateway",
        "pointopoint",
        "mtu",
        "scope",
        "dns_search",
        "dns_nameservers",
    ];
    let mut lines = Vec::new();
    for (k, v) in subnet.0.iter() {
        let key = k.python_str();
        if key == "netmask" || !VALID.contains(&key.as_str()) || !v.truthy() {
            continue;
        }
        if key == "gateway" && subnet.not_default() {
            continue;
        }
        let value = if key == "address" {
            match subnet.get("prefix") {
                Some(prefix) => format!("{}/{}", v.python_str_any(), prefix.python_str_any()),
                // cloud-init raises KeyError (an address on a subnet
                // that is not static); the address alone is what it means.
                None => v.python_str_any(),
            }
        } else {
            py_str_or_join(v)
        };
        lines.push(format!("    {} {value}", key.replace('_', "-")));
    }
    lines.sort();
    lines
}

/// `_iface_add_attrs`: the interface's own keys (MTU, bond and bridge
/// parameters, VLAN, MAC of virtual devices, ...), on the first stanza
/// only, sorted.
fn iface_attrs(iface: &Mapping, index: usize, ipv4_subnet_mtu: Option<&Value>) -> Vec<String> {
    // An alias stanza (another address of the interface) gets none.
    if index != 0 {
        return Vec::new();
    }
    let kind = str_of(iface, "type");
    let keeps_mac = matches!(kind.as_str(), "bond" | "bridge" | "infiniband" | "vlan");
    let ignored = |key: &str| {
        matches!(
            key,
            "control"
                | "device_id"
                | "driver"
                | "index"
                | "inet"
                | "mode"
                | "name"
                | "subnets"
                | "type"
        ) || (key == "mac_address" && !keeps_mac)
    };
    let mut lines = Vec::new();
    for (k, v) in iface.iter() {
        let key = k.python_str();
        let value = match v {
            Value::Bool(b) => Value::str(if *b { "on" } else { "off" }),
            other => other.clone(),
        };
        if !value.truthy() || ignored(&key) {
            continue;
        }
        // A subnet's MTU (written with the subnet) wins over the device's.
        if key == "mtu" && ipv4_subnet_mtu.is_some_and(Value::truthy) {
            continue;
        }
        let shown = if key == "mac_address" {
            "hwaddress"
        } else {
            key.as_str()
        };
        if matches!(
            key.as_str(),
            "bridge_pathcost" | "bridge_portprio" | "bridge_waitport"
        ) {
            // One line per value; Python's `for v in value` (a string
            // gives its characters, a dict its keys).
            for item in py_iter(&value) {
                lines.push(format!("    {shown} {item}"));
            }
            continue;
        }
        lines.push(format!("    {shown} {}", py_str_or_join(&value)));
    }
    lines.sort();
    lines
}

/// A route to the whole address family.
fn is_default_route(route: &Mapping) -> bool {
    matches!(route.get("prefix"), Some(Value::Int(0)))
        && matches!(
            route.get("network").and_then(Value::as_str),
            Some("::" | "0.0.0.0")
        )
}

/// A route as `post-up ip route add ... || true` and the matching
/// `pre-down ip route del`, where cloud-init's `_render_route` writes
/// net-tools' `route add` / `route del` (a deliberate difference, see the
/// module header). Each form, cloud-init's and ours:
///
/// | route | cloud-init 22.4 | cloudboot |
/// |---|---|---|
/// | IPv4 default | `route add default gw G` | `ip route add default via G` |
/// | IPv4 network | `route add -net N/P gw G` | `ip route add N/P via G` |
/// | IPv4 host (/32) | `route add -host N/32 gw G` | `ip route add N/32 via G` |
/// | IPv6 default | `route add -A inet6 default gw G` | `ip -6 route add default via G` |
/// | IPv6 network | `route add -A inet6 N/P gw G` | `ip -6 route add N/P via G` |
///
/// with ` metric M` after either when the route has one. cloud-init raises
/// on a route without a gateway; such a route is skipped here, with a
/// warning, and so is one whose gateway or destination is not an IP
/// address: ifupdown runs these lines with `/bin/sh`, so nothing but an
/// address may go into them.
fn render_route(route: &Mapping, indent: &str, warnings: &mut Vec<String>) -> Option<Vec<String>> {
    let field = |k: &str| route.get(k).map(Value::python_str_any);
    let skip = |why: &str, warnings: &mut Vec<String>| {
        warnings.push(format!(
            "route {} {why}: not written",
            Value::Map(route.clone()).to_json()
        ));
        None
    };
    let Some(gateway) = field("gateway") else {
        return skip("has no gateway", warnings);
    };
    if gateway.parse::<IpAddr>().is_err() {
        return skip("has a gateway that is not an IP address", warnings);
    }
    // Normalized routes always have both, and an integer prefix and metric
    // (`normalize_route`); anything else stays out of the shell line.
    let (Some(network), Some(Value::Int(prefix))) = (field("network"), route.get("prefix")) else {
        return skip("has no destination", warnings);
    };
    let Ok(destination) = network.parse::<IpAddr>() else {
        return skip("has a destination that is not an IP address", warnings);
    };
    let ip = if destination.is_ipv6() {
        "ip -6 route"
    } else {
        "ip route"
    };
    let target = if is_default_route(route) {
        "default".to_string()
    } else {
        format!("{network}/{prefix}")
    };
    let mut spec = format!("{target} via {gateway}");
    match route.get("metric") {
        None => {}
        Some(Value::Int(metric)) => spec.push_str(&format!(" metric {metric}")),
        Some(_) => return skip("has a metric that is not an integer", warnings),
    }
    Some(vec![
        format!("{indent}post-up {ip} add {spec} || true"),
        format!("{indent}pre-down {ip} del {spec} || true"),
    ])
}

// ---------------------------------------------------------------------------
// /etc/udev/rules.d/70-persistent-net.rules

/// `Renderer._render_persistent_net`: a rule naming each physical interface
/// that has a MAC (`net/udev.py` `generate_udev_rule`). Written even when
/// empty, as cloud-init does.
pub fn persistent_net_rules(state: &NetworkState) -> String {
    let mut out = String::new();
    for iface in &state.interfaces {
        if iface.kind() != "physical" || !iface.0.contains_key("name") {
            continue;
        }
        let Some(mac) = iface.get("mac_address").filter(|m| m.truthy()) else {
            continue;
        };
        let driver = iface
            .get("driver")
            .filter(|d| d.truthy())
            .map(Value::python_str_any)
            .unwrap_or_else(|| "?*".into());
        out.push_str(&format!(
            "SUBSYSTEM==\"net\", ACTION==\"add\", DRIVERS==\"{driver}\", ATTR{{address}}==\"{}\", NAME=\"{}\"\n",
            mac.python_str_any(),
            iface.name()
        ));
    }
    out
}

// ---------------------------------------------------------------------------
// distros/debian.py `_maybe_remove_legacy_eth0`

enum LegacyEth0 {
    Absent,
    /// Only the stock two lines: remove it.
    Stock,
    /// Anything else: keep it, and say it may get in the way.
    Custom(String),
}

/// Ubuntu cloud images shipped `interfaces.d/eth0.cfg` with a hard-coded
/// DHCP eth0, which would fight the rendered config.
fn legacy_eth0(fs: &dyn FsView) -> LegacyEth0 {
    let path = Path::new(LEGACY_ETH0_PATH);
    if !fs.exists(path) {
        return LegacyEth0::Absent;
    }
    let caveat = "Dynamic networking config may not apply.";
    let Some(text) = fs.read_string(path) else {
        return LegacyEth0::Custom(format!(
            "{caveat} {LEGACY_ETH0_PATH} exists, but could not be read."
        ));
    };
    // As cloud-init: comment lines are those starting with `#` before any
    // stripping; blank lines count.
    let lines: Vec<&str> = py_splitlines(&text)
        .into_iter()
        .filter(|l| !l.starts_with('#'))
        .map(py_strip)
        .collect();
    if lines == ["auto eth0", "iface eth0 inet dhcp"] {
        LegacyEth0::Stock
    } else {
        LegacyEth0::Custom(format!(
            "{caveat} '{LEGACY_ETH0_PATH}' exists with user configured content."
        ))
    }
}

/// cloud-init's Ubuntu output, left by the cloud-init an image ran before
/// (Ubuntu 16.04 on): ifupdown would read it next to ours and configure
/// the NICs twice. It is removed when it is cloud-init's (its header says
/// it is generated from the datasource, in every version's wording),
/// reported otherwise. cloudboot writes the Debian path on Ubuntu too.
fn stale_ubuntu_file(fs: &dyn FsView, warnings: &mut Vec<String>) -> Option<PathBuf> {
    let path = Path::new(UBUNTU_ENI_PATH);
    if !fs.exists(path) {
        return None;
    }
    let text = fs.read_string(path).unwrap_or_default();
    if text.starts_with("# This file is generated from information provided by") {
        warnings.push(format!(
            "removed {UBUNTU_ENI_PATH}, cloud-init's earlier output; {ENI_PATH} replaces it"
        ));
        Some(path.to_path_buf())
    } else {
        warnings.push(format!(
            "{UBUNTU_ENI_PATH} exists and was not written by cloud-init; ifupdown may read it next to {ENI_PATH}"
        ));
        None
    }
}

// ---------------------------------------------------------------------------
// /etc/network/interfaces

/// The main file, rewritten when it does not read ours; `None` when it does.
///
/// ifupdown reads only `/etc/network/interfaces`; other files count only
/// when it `source`s them (a glob, `wordexp`ed) or names their directory
/// in `source-directory` (ifupdown 0.7.44 and later; any word starting
/// `source-dir`; only names made of `[A-Za-z0-9_-]`, which `50-cloud-init`
/// is). Relative paths are relative to `/etc/network`. What images ship:
///
/// | image | main file reads |
/// |---|---|
/// | Debian 7 | nothing (`auto lo`, `iface eth0 inet dhcp` in the file) |
/// | Debian 8 | `source-directory /etc/network/interfaces.d` (ifupdown's postinst) or `source /etc/network/interfaces.d/*` (the installer) |
/// | Debian 9 and later | `source /etc/network/interfaces.d/*` |
/// | Ubuntu 14.04, 16.04 | `source /etc/network/interfaces.d/*.cfg` |
///
/// When it does not, the rewritten file is the old one, unchanged, plus a
/// comment and `source /etc/network/interfaces.d/*`: Debian's own line,
/// so the image ends up as a stock Debian 9 one would be. If the file
/// already sources part of `interfaces.d` (Ubuntu's `*.cfg`), the line is
/// `source /etc/network/interfaces.d/50-cloud-init` instead, because
/// ifupdown before 0.7.54 (Ubuntu 14.04 has 0.7.47) reads a file as often
/// as it is sourced, and so would define those interfaces twice. A missing main
/// file is written with just those lines; its mode is kept otherwise.
/// Interfaces the main file itself defines that we configure too are
/// reported: ifupdown would apply both.
pub fn main_file(
    fs: &dyn FsView,
    state: &NetworkState,
    warnings: &mut Vec<String>,
) -> Option<RenderedFile> {
    let path = Path::new(MAIN_PATH);
    let old = match fs.read_string(path) {
        Some(text) => text,
        None if !fs.exists(path) => String::new(),
        None => {
            warnings.push(format!("{MAIN_PATH} cannot be read: left as it is"));
            return None;
        }
    };
    let mode = fs.stat(path).map(|s| s.mode).unwrap_or(0o644);
    let ours = Path::new(ENI_PATH);
    let mut reads_ours = false;
    let mut reads_some_of_dir = false;
    for line in ifupdown_lines(&old) {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or_default();
        let reads = if first == "source" {
            words.any(|pattern| {
                let full = absolute_in(Path::new("/etc/network"), pattern);
                reads_some_of_dir |= full.starts_with(ours.parent().unwrap_or(ours));
                glob_matches(&full, ours)
            })
        } else if first.starts_with("source-dir") {
            words.any(|pattern| {
                let full = absolute_in(Path::new("/etc/network"), pattern);
                let dir = ours.parent().unwrap_or(ours);
                reads_some_of_dir |= full.starts_with(dir);
                glob_matches(&full, dir)
            })
        } else {
            if first == "iface" {
                if let Some(name) = words.next() {
                    if name != "lo" && state.iface(name).is_some() {
                        warnings.push(format!(
                            "{MAIN_PATH} defines {name} too; ifupdown applies both definitions"
                        ));
                    }
                }
            }
            false
        };
        reads_ours |= reads;
    }
    if reads_ours {
        return None;
    }
    let source = if reads_some_of_dir {
        SOURCE_OURS
    } else {
        SOURCE_ALL
    };
    let mut content = old;
    if !content.is_empty() {
        if !content.ends_with('\n') {
            content.push('\n');
        }
        content.push('\n');
    }
    content.push_str(&format!("{SOURCE_COMMENT}\n{source}\n"));
    warnings.push(format!(
        "{MAIN_PATH} does not read {ENI_PATH}: adding '{source}'"
    ));
    Some(RenderedFile {
        path: path.to_path_buf(),
        content,
        mode,
    })
}

/// Logical lines as ifupdown reads them: a trailing `\` joins the next
/// line; blank lines and comments (`#` first) are dropped; leading blanks
/// are stripped.
fn ifupdown_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for raw in text.lines() {
        if let Some(head) = raw.strip_suffix('\\') {
            pending.push_str(head);
            continue;
        }
        pending.push_str(raw);
        let line = pending.trim().to_string();
        pending.clear();
        if !line.is_empty() && !line.starts_with('#') {
            out.push(line);
        }
    }
    let last = pending.trim();
    if !last.is_empty() && !last.starts_with('#') {
        out.push(last.to_string());
    }
    out
}

/// `pattern` made absolute against `dir` (as ifupdown does: the sourcing
/// file's directory), with `.`, `..` and doubled slashes resolved.
fn absolute_in(dir: &Path, pattern: &str) -> PathBuf {
    let joined = if pattern.starts_with('/') {
        PathBuf::from(pattern)
    } else {
        dir.join(pattern)
    };
    let mut out = PathBuf::from("/");
    for part in joined.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(p) => out.push(p),
            _ => {}
        }
    }
    out
}

/// Whether the glob `pattern` (`*`, `?`, `[...]`; a wildcard matches
/// neither `/` nor a leading `.`) names `path`.
fn glob_matches(pattern: &Path, path: &Path) -> bool {
    let pat: Vec<String> = pattern
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let name: Vec<String> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    pat.len() == name.len()
        && pat.iter().zip(&name).all(|(p, n)| {
            let p: Vec<char> = p.chars().collect();
            let n: Vec<char> = n.chars().collect();
            (!n.starts_with(&['.']) || p.starts_with(&['.'])) && fnmatch(&p, &n)
        })
}

/// One path component against one pattern component.
fn fnmatch(pat: &[char], name: &[char]) -> bool {
    match pat.split_first() {
        None => name.is_empty(),
        Some(('*', rest)) => (0..=name.len()).any(|i| fnmatch(rest, &name[i..])),
        Some(('?', rest)) => !name.is_empty() && fnmatch(rest, &name[1..]),
        Some(('[', rest)) => {
            let Some((&c, name_rest)) = name.split_first() else {
                return false;
            };
            match bracket(rest, c) {
                Some((true, after)) => fnmatch(after, name_rest),
                Some((false, _)) => false,
                // No closing `]`: a literal `[`.
                None => c == '[' && fnmatch(rest, name_rest),
            }
        }
        Some(('\\', rest)) if !rest.is_empty() => {
            name.first() == Some(&rest[0]) && fnmatch(&rest[1..], &name[1..])
        }
        Some((&p, rest)) => name.first() == Some(&p) && fnmatch(rest, &name[1..]),
    }
}

/// A bracket expression (after its `[`): whether `c` is in it, and the
/// pattern after its `]`.
fn bracket(pat: &[char], c: char) -> Option<(bool, &[char])> {
    let (negate, mut i) = match pat.first() {
        Some('!' | '^') => (true, 1),
        _ => (false, 0),
    };
    let mut hit = false;
    let mut first = true;
    while i < pat.len() {
        let lo = pat[i];
        if lo == ']' && !first {
            return Some((hit != negate, &pat[i + 1..]));
        }
        first = false;
        if i + 2 < pat.len() && pat[i + 1] == '-' && pat[i + 2] != ']' {
            hit |= lo <= c && c <= pat[i + 2];
            i += 3;
        } else {
            hit |= lo == c;
            i += 1;
        }
    }
    None
}

// ---------------------------------------------------------------------------
// Python's str(), repr(), str.strip() and str.splitlines(), as cloud-init's
// output depends on them.

/// `" ".join(value)` for a list, `str(value)` otherwise.
fn py_str_or_join(v: &Value) -> String {
    match v {
        Value::Seq(items) => items
            .iter()
            .map(Value::python_str_any)
            .collect::<Vec<_>>()
            .join(" "),
        other => other.python_str_any(),
    }
}

/// `for item in value`: a list's items, a dict's keys, a string's
/// characters; anything else (where Python raises) is one item.
fn py_iter(v: &Value) -> Vec<String> {
    match v {
        Value::Seq(items) => items.iter().map(Value::python_str_any).collect(),
        Value::Map(m) => m.iter().map(|(k, _)| k.python_str_any()).collect(),
        Value::Str(s) => s.chars().map(String::from).collect(),
        other => vec![other.python_str_any()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_reprs() {
        let py_repr = Value::python_repr;
        let py_repr_str = crate::value::python_str_repr;
        let mut m = Mapping::new();
        m.insert(
            Value::str("addresses"),
            Value::Seq(vec![Value::str("10.0.0.1"), Value::str("it's")]),
        );
        m.insert(Value::str("search"), Value::Seq(vec![]));
        m.insert(Value::str("n"), Value::Int(3));
        m.insert(Value::str("b"), Value::Bool(true));
        m.insert(Value::str("x"), Value::Null);
        assert_eq!(
            py_repr(&Value::Map(m)),
            r#"{'addresses': ['10.0.0.1', "it's"], 'search': [], 'n': 3, 'b': True, 'x': None}"#
        );
        assert_eq!(
            py_repr_str("a'\"\\\t\u{7}\u{a0}é"),
            r#"'a\'"\\\t\x07\xa0é'"#
        );
    }

    #[test]
    fn python_splitlines_and_strip() {
        assert_eq!(
            py_splitlines("a\r\nb\rc\x0bd\n\ne\n"),
            ["a", "b", "c", "d", "", "e"]
        );
        assert_eq!(py_splitlines(""), Vec::<&str>::new());
        assert_eq!(py_strip("\x1f\t x \u{a0}"), "x");
    }

    #[test]
    fn globs() {
        let ours = Path::new(ENI_PATH);
        let dir = Path::new("/etc/network");
        let m = |p: &str| glob_matches(&absolute_in(dir, p), ours);
        assert!(m("/etc/network/interfaces.d/*"));
        assert!(m("interfaces.d/*"));
        assert!(m("./interfaces.d/[0-9]*"));
        assert!(m("/etc/network/interfaces.d/50-cloud-ini?"));
        assert!(m("../network/interfaces.d/*-init"));
        assert!(!m("/etc/network/interfaces.d/*.cfg"));
        assert!(!m("/etc/network/*"));
        assert!(!m("/etc/network/interfaces.d/[!5]*"));
        assert!(!m("/etc/network/interfaces.d/.*"));
        assert!(fnmatch(&['[', 'a'], &['[', 'a']));
    }

    #[test]
    fn ifupdown_logical_lines() {
        assert_eq!(
            ifupdown_lines("  # c\nsource \\\n  /x/*\n\n\tauto lo\n"),
            ["source   /x/*", "auto lo"]
        );
    }
}
