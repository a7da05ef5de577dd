//! The sysconfig renderer: Red Hat initscripts files (`ifcfg-<if>`,
//! `route-<if>`, `route6-<if>`, `/etc/sysconfig/network`), plus what
//! cloud-init's sysconfig renderer writes next to them: `/etc/resolv.conf`,
//! the NetworkManager drop-in that keeps NetworkManager off resolv.conf, and
//! the udev rules that pin interface names to MACs.
//!
//! It mirrors `cloudinit/net/sysconfig.py` of cloud-init 22.4
//! (`Renderer._render_sysconfig` and the `_render_*` passes it runs, `ConfigMap`,
//! `Route`, `render_network_state`), and its output is byte for byte what
//! `cloud-init devel net-convert -D centos|rhel -O sysconfig` writes
//! (tests/net_render_sysconfig.rs), except where noted below.
//!
//! # How cloud-init builds the files
//!
//! Every interface but the loopback gets an ifcfg file: a flat `KEY=value`
//! map, written with keys sorted, `yes`/`no` for booleans and double quotes
//! around values with blanks. Shared keys come first (`DEVICE`, `TYPE`,
//! `ONBOOT`, `USERCTL`, `NM_CONTROLLED`, `BOOTPROTO`, `HWADDR`, `MTU`), then
//! one pass per interface type (physical, bond, vlan, bridge, infiniband)
//! renders its subnets (two walks: first the addressing method, then the
//! addresses, gateways and DNS) and its subnet routes. Default routes go into
//! the ifcfg (`DEFROUTE`, `GATEWAY`, `IPV6_DEFAULTGW`); other routes into
//! `route-<if>` (`ADDRESSn`/`GATEWAYn`/`NETMASKn`) and `route6-<if>` (`ip
//! route` arguments). Both route files are written as soon as the interface
//! has one non-default route. Global (`type: route`) routes are not rendered
//! at all in cloud-init 22.4 (cloudboot: see below).
//!
//! # Deliberate differences from cloud-init 22.4
//!
//! * **Several default gateways.** cloud-init writes `DEFROUTE=yes` for every
//!   subnet that has a gateway (or a default route), so with two NICs the
//!   default route belongs to whichever comes up last. The caller runs
//!   [`NetworkState::demote_extra_default_gateways`] first; a subnet it marked
//!   ([`Subnet::not_default`]) does not claim the default route:
//!   - IPv4: `DEFROUTE=no` (unless another IPv4 gateway of the same interface
//!     was kept); `GATEWAY=` stays, so the subnet's own gateway is still known
//!     on that interface. In initscripts `DEFROUTE` governs IPv4 only
//!     (`ifup-eth`), which is why the decision is made per family.
//!   - IPv6: no `IPV6_DEFAULTGW=`. `ifup-ipv6` turns it into a default route
//!     whatever `DEFROUTE` says, and nothing else reads it (`route6-<if>`
//!     lines carry their own `via`).
//! * **What initscripts would not apply** (RHEL layout, EL6 and EL7;
//!   checked by tests/net_sysconfig_initscripts.rs, whose reader follows
//!   initscripts 9.03.61 and 9.49.53 `ifup-eth`, `ifup-aliases` and
//!   `ifup-routes`):
//!   - A route with a metric: `route-<if>` is written as `ip route`
//!     arguments (`N/P via G [metric M] dev IF`), not as
//!     `ADDRESSn=`/`NETMASKn=`/`GATEWAYn=`/`METRICn=`: initscripts read
//!     that form with `handle_file`, which never reads `METRICn` (in 9.03
//!     and 9.49 alike), so the route came up without its metric.
//!     `handle_ip_file` reads the other form whole in both generations.
//!   - An IPv4 gateway `ifup-eth` would not apply: it sets the default
//!     route only from a `GATEWAY` in the *first* address's network, and
//!     under `BOOTPROTO=dhcp` from none. Such a gateway (a second address's,
//!     or a static subnet's on a DHCP interface) also becomes `default via
//!     G [metric M] dev IF` in `route-<if>` (that file then in `ip route`
//!     form), which `ifup-routes` adds once every address is up. Not where
//!     the gateway is not the default route (`DEFROUTE=no`) or dhclient
//!     sets it (`DHCLIENT_SET_DEFAULT_ROUTE=yes`).
//!   - Static IPv4 addresses on a DHCP interface: `ifup-eth` applies no
//!     `IPADDR*` under `BOOTPROTO=dhcp`, so each is also written as an
//!     alias, `ifcfg-<if>:<n>` (`DEVICE`, `IPADDR`, `NETMASK`,
//!     `NO_ALIASROUTING=yes`), which `ifup-aliases` adds after dhclient
//!     whatever the parent's method. The ifcfg itself stays as 22.4
//!     writes it.
//!
//!   What stays as 22.4 has it: `ipv6_dhcpv6-stateful` as `BOOTPROTO=dhcp`
//!   (dhclient also asks for an IPv4 lease), and a second IPv4 default
//!   route on one interface (the table holds one: the route's, as 22.4
//!   writes it).
//! * **Global routes** (`type: route`), which 22.4 drops, go to the route
//!   file of the interface that reaches their gateway (RHEL and SUSE; see
//!   `sysconfig/global_routes.rs`).
//! * **Input cloud-init fails on** is rendered as far as it makes sense, with
//!   a warning in [`Rendered::warnings`], never an abort: an unknown subnet
//!   type (cloud-init raises `ValueError`) skips that subnet; a route without
//!   a gateway (a `KeyError`) or a second default route of one family on one
//!   interface (`ValueError`) skips that route; an unreadable
//!   `/etc/resolv.conf` is rewritten from scratch; a search domain past
//!   resolv.conf's limits is left out; an interface whose name cannot be a
//!   file name is skipped.
//!
//! # `Flavor::Rhel6`: CentOS/RHEL 6 (initscripts 9.03)
//!
//! Checked against initscripts 9.03.61 (RHEL 6.10) next to 9.49 (RHEL 7).
//! Every key cloud-init writes is read by 9.03 the same way as by 9.49
//! (`DEFROUTE` included: `ifup-eth` skips the IPv4 default route on
//! `DEFROUTE=no`; `DHCPV6C_OPTIONS` is passed to `dhclient -6`; bonding
//! options go in `BONDING_OPTS`; `NM_CONTROLLED=no` keeps NetworkManager
//! away), with two exceptions, and those are all this flavour changes:
//!
//! * No `IPV6_FORCE_ACCEPT_RA`: 9.03's `ifup-ipv6` does not know it (it came
//!   with 9.49 late in EL7); there `accept_ra` simply follows
//!   `IPV6_AUTOCONF`. `IPV6_FORCE_ACCEPT_RA=no` is what EL6 does anyway; an
//!   `accept-ra` setting is reported as not honoured.
//! * `/etc/sysconfig/network` keeps its other lines. On EL6 it holds
//!   `HOSTNAME=` (rc.sysinit sets the hostname from it at every boot), and
//!   often `GATEWAY=` and `NOZEROCONF=`; 22.4 replaces the whole file. Lines
//!   are kept the way cloud-init 25.1 keeps them (#5991): everything but its
//!   own header lines and `NETWORKING*`/`IPV6_AUTOCONF` lines, after the
//!   lines it writes.

//!
//! # `Flavor::Suse`: openSUSE and SLES (22.4's `flavor: suse`)
//!
//! Byte for byte with `net-convert -D opensuse|sles -O sysconfig` on the
//! corpus and with `expected_sysconfig_opensuse` of cloud-init's
//! test_net.py (tests/net_render_sysconfig_suse.rs). Files go in
//! `/etc/sysconfig/network/ifcfg-<if>` without `DEVICE`/`TYPE` (but
//! InfiniBand's `TYPE`), with `STARTMODE=auto` (`manual` for
//! `control: manual`; `hotplug` and `BOOTPROTO=none` for bond ports),
//! `BOOTPROTO` `static`/`dhcp4`/`dhcp6`/`dhcp` (both) and `DHCLIENT6_MODE`
//! `managed`/`info`, `LLADDR`, `IPADDR6`, `IPADDR6_1`, ...,
//! `BONDING_MODULE_OPTS` and `BONDING_SLAVE_<n>`, `VLAN_ID` and
//! `ETHERDEVICE`, `BRIDGE_STP` (`on`/`off`), `BRIDGE_AGEINGTIME`,
//! `BRIDGE_PRIORITY`, `BRIDGE_PORTS` and `BRIDGE=yes` on the ports; the udev
//! rules in `85-persistent-net-cloud-init.rules`; resolv.conf and the
//! NetworkManager drop-in as for RHEL; no control file (SUSE's is
//! `/etc/sysconfig/network/config`, which 22.4 does not write: there
//! `/etc/sysconfig/network` is a directory).
//!
//! As in 22.4, no DNS, metric (`METRIC`), IPv6 MTU or `accept-ra` is
//! written for SUSE.
//!
//! Deliberate differences:
//! * **Routes.** 22.4 writes no gateway and no route for SUSE at all
//!   (lp#1812117; cloud-init to date, SUSE's own package patches it in), so
//!   a static SUSE interface came up without its default route. cloudboot
//!   writes `/etc/sysconfig/network/ifroute-<if>` in wicked's syntax
//!   (ifroute(5): `DESTINATION GATEWAY NETMASK INTERFACE [OPTIONS]`, `-`
//!   for an empty field): the default route of each family first (`default
//!   G - IF`, a default route among the subnet's routes winning over its
//!   `gateway`, as in the RHEL layout; none for a subnet the
//!   default-gateway pass demoted, nor for DHCP or dynamic IPv6), then the
//!   other routes, `N/P G - IF [metric M]`. 23 corpus cases have one
//!   (`cloudboot/opensuse-sysconfig/`, which generate.py's `suse_ifroutes`
//!   derives from cloud-init's network_state).
//! * A bridge's own MAC is written as `LLADDR`, the key wicked reads for
//!   every interface type; 22.4 writes `LLADDRESS`, which nothing reads
//!   (test_net.py's `all` config, `br0`).
//! * A VLAN's `ETHERDEVICE` is its link (`vlan-raw-device`); 22.4 cuts the
//!   VLAN's name at its last dot, so `vlan100` on `eth0` got `vlan10`
//!   (the same device for every `<link>.<id>` name).

use crate::rootfs::FsView;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::{BringUp, Flavor, RenderContext, Rendered, RenderedFile, Renderer};
use suse::{render_suse_method, render_suse_routes};

mod global_routes;
mod initscripts;
mod suse;
use crate::distro::resolv_conf::ResolvConf;
use crate::net::state::{
    is_ipv6_address, prefix_to_ipv4_mask, Iface, NetworkState, Subnet, IPV6_DYNAMIC_TYPES,
};
use crate::py::str::{is_space as py_space, splitlines as py_splitlines};
use crate::value::Value;

const SCRIPTS_DIR: &str = "/etc/sysconfig/network-scripts";
const CONTROL_PATH: &str = "/etc/sysconfig/network";
/// SUSE's ifcfg directory (`distros/opensuse.py` `renderer_configs`); its
/// control file (`/etc/sysconfig/network/config`) is not written: 22.4
/// writes the control file only where its path ends in `network`.
const SUSE_DIR: &str = "/etc/sysconfig/network";
const SUSE_NETRULES_PATH: &str = "/etc/udev/rules.d/85-persistent-net-cloud-init.rules";
const RESOLV_CONF_PATH: &str = "/etc/resolv.conf";
const NM_CONF_PATH: &str = "/etc/NetworkManager/conf.d/99-cloud-init.conf";
const NETRULES_PATH: &str = "/etc/udev/rules.d/70-persistent-net.rules";
/// `render_network_state`'s `file_mode` for every file.
const FILE_MODE: u32 = 0o644;

/// The subnet types `_render_subnets` knows; it raises on any other.
const KNOWN_SUBNET_TYPES: &[&str] = &[
    "dhcp",
    "dhcp4",
    "dhcp6",
    "ipv6_dhcpv6-stateful",
    "ipv6_dhcpv6-stateless",
    "ipv6_slaac",
    "static",
    "static6",
    "manual",
];

/// `bond_tpl_opts`: the order `BONDING_OPTS` lists the options in, and
/// their kernel names. Each is read from `bond_x` or `bond-x`.
const BOND_OPTS: &[(&str, &str)] = &[
    ("bond_mode", "mode"),
    ("bond_xmit_hash_policy", "xmit_hash_policy"),
    ("bond_miimon", "miimon"),
    ("bond_min_links", "min_links"),
    ("bond_arp_interval", "arp_interval"),
    ("bond_arp_ip_target", "arp_ip_target"),
    ("bond_arp_validate", "arp_validate"),
    ("bond_ad_select", "ad_select"),
    ("bond_num_grat_arp", "num_grat_arp"),
    ("bond_downdelay", "downdelay"),
    ("bond_updelay", "updelay"),
    ("bond_lacp_rate", "lacp_rate"),
    ("bond_fail_over_mac", "fail_over_mac"),
    ("bond_primary", "primary"),
    ("bond_primary_reselect", "primary_reselect"),
];

/// The bridge parameters the rhel flavour maps (`cfg_key_maps["rhel"]`, in
/// its order).
const BRIDGE_KEYS: &[(&str, &str)] = &[
    ("bridge_stp", "STP"),
    ("bridge_ageing", "AGEING"),
    ("bridge_bridgeprio", "PRIO"),
];

/// cloud-init's sysconfig renderer.
pub struct Sysconfig;

impl Renderer for Sysconfig {
    fn name(&self) -> &'static str {
        "sysconfig"
    }

    /// cloud-init 22.4 has no activator for it without NetworkManager: a
    /// boot waited for the distro's network service, whose work is `ifup`
    /// per interface. `ifup` adds the configured addresses and leaves any
    /// other in place.
    fn bring_up(&self) -> BringUp {
        BringUp::Ifup
    }

    /// `Renderer.render_network_state`, in its order: the sysconfig files,
    /// resolv.conf, the NetworkManager drop-in, the udev rules, then
    /// `/etc/sysconfig/network`.
    fn render(&self, state: &NetworkState, ctx: &RenderContext) -> Rendered {
        let mut out = Rendered::default();
        let mut run = Run {
            state,
            flavor: ctx.flavor,
            has_default_route: state.has_default_route(),
            ifaces: Vec::new(),
            by_name: HashMap::new(),
            warnings: Vec::new(),
        };
        for (path, content) in run.render_sysconfig() {
            out.files.push(file(path, content));
        }
        out.warnings.append(&mut run.warnings);

        if let Some(content) = render_dns(state, ctx, &mut out.warnings) {
            out.files.push(file(RESOLV_CONF_PATH.into(), content));
        }
        if let Some(content) = render_networkmanager_conf(state) {
            out.files.push(file(NM_CONF_PATH.into(), content));
        }
        let netrules = if ctx.flavor == Flavor::Suse {
            SUSE_NETRULES_PATH
        } else {
            NETRULES_PATH
        };
        out.files
            .push(file(netrules.into(), render_persistent_net(state)));
        // SUSE's control file is /etc/sysconfig/network/config, which 22.4
        // leaves alone (there /etc/sysconfig/network is the directory).
        if ctx.flavor != Flavor::Suse {
            out.files
                .push(file(CONTROL_PATH.into(), render_control(state, ctx)));
        }
        let written: std::collections::HashSet<PathBuf> =
            out.files.iter().map(|f| f.path.clone()).collect();
        for stale in stale_files(ctx.fs, &written, ctx.flavor) {
            out.warnings.push(format!(
                "removed {}: written by cloud-init for a device this config does not have",
                stale.display()
            ));
            out.remove.push(stale);
        }
        out
    }
}

/// The `ifcfg-*`, `route-*` and `route6-*` files cloud-init (or cloudboot)
/// wrote for devices the new config does not have: a snapshot image keeps
/// its parent's, and the network service would bring their addresses up
/// beside the new ones (22.4 leaves them). Only files that start with
/// cloud-init's header are removed; a file a person wrote is never touched.
fn stale_files(
    fs: &dyn FsView,
    written: &std::collections::HashSet<PathBuf>,
    flavor: Flavor,
) -> Vec<PathBuf> {
    let header = make_header('#');
    let dir = ifcfg_dir(flavor);
    let prefixes = route_file_prefixes(flavor);
    let mut names = fs.list_dir(Path::new(dir)).unwrap_or_default();
    names.sort();
    names
        .into_iter()
        .filter(|n| {
            std::iter::once("ifcfg-")
                .chain(prefixes.iter().copied())
                .any(|p| {
                    n.strip_prefix(p)
                        .is_some_and(|dev| !dev.is_empty() && dev != "lo")
                })
        })
        .map(|n| Path::new(dir).join(n))
        .filter(|p| !written.contains(p))
        .filter(|p| {
            fs.read_string(p)
                .is_some_and(|text| text.starts_with(&header))
        })
        .collect()
}

/// The directory a flavour's ifcfg and route files go in.
fn ifcfg_dir(flavor: Flavor) -> &'static str {
    if flavor == Flavor::Suse {
        SUSE_DIR
    } else {
        SCRIPTS_DIR
    }
}

/// The names of the IPv4 and IPv6 route files (`route_templates`): SUSE
/// keeps both families in one `ifroute-<if>`.
fn route_file_prefixes(flavor: Flavor) -> [&'static str; 2] {
    if flavor == Flavor::Suse {
        ["ifroute-", "ifroute-"]
    } else {
        ["route-", "route6-"]
    }
}

fn file(path: PathBuf, content: String) -> RenderedFile {
    RenderedFile {
        path,
        content,
        mode: FILE_MODE,
    }
}

/// `_make_header`: the two comment lines every file starts with (no final
/// newline). The sysconfig renderer's own header, not `util.make_header`
/// ([`crate::py::header`]), whose line names the version and the date.
fn make_header(sep: char) -> String {
    format!("{sep} Created by cloud-init on instance boot automatically, do not edit.\n{sep}")
}

/// `_quote_value`: values with blanks are double-quoted, unless they already
/// are.
fn quote(value: &str) -> String {
    if value.chars().any(py_space) && !(value.starts_with('"') && value.ends_with('"')) {
        format!("\"{value}\"")
    } else {
        value.to_string()
    }
}

/// How `ConfigMap.to_string` writes a value: booleans as `yes`/`no`, the
/// rest as Python's `str()`.
fn setting_text(value: &Value) -> String {
    match value {
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        other => other.python_str(),
    }
}

/// A list (or a string cloud-init would treat as one item) as strings.
fn items(value: &Value) -> Vec<String> {
    match value {
        Value::Seq(s) => s.iter().map(Value::python_str).collect(),
        other => vec![other.python_str()],
    }
}

/// One ifcfg file (`NetInterface`), with the interface's static routes and
/// what the default-gateway fix needs to remember.
struct Ifcfg {
    name: String,
    /// Where the file goes: `network-scripts` or SUSE's `network`.
    dir: &'static str,
    /// SUSE: the lines of `ifroute-<if>` (see [`render_suse_routes`]).
    ifroute: Vec<String>,
    /// `ConfigMap._conf`: sorted on output, so a sorted map.
    conf: BTreeMap<String, Value>,
    routes: Routes,
    /// An IPv4 gateway of this interface that stays a default route.
    kept_v4_gateway: bool,
    /// An IPv4 gateway of this interface that was demoted.
    demoted_v4_gateway: bool,
}

impl Ifcfg {
    fn new(name: &str, flavor: Flavor) -> Ifcfg {
        let mut cfg = Ifcfg {
            name: name.to_string(),
            dir: ifcfg_dir(flavor),
            ifroute: Vec::new(),
            conf: BTreeMap::new(),
            routes: Routes::default(),
            kept_v4_gateway: false,
            demoted_v4_gateway: false,
        };
        // SUSE's ifcfg is named by its file, and wicked detects the type
        // ("if type detection fails it is considered a bug in SUSE").
        if flavor != Flavor::Suse {
            cfg.set("DEVICE", Value::str(name));
            cfg.set("TYPE", Value::str("Ethernet"));
        }
        cfg
    }

    fn set(&mut self, key: &str, value: Value) {
        self.conf.insert(key.to_string(), value);
    }

    fn flag(&mut self, key: &str, on: bool) {
        self.set(key, Value::Bool(on));
    }

    fn text(&mut self, key: &str, text: &str) {
        self.set(key, Value::str(text));
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.conf.get(key)
    }

    fn has(&self, key: &str) -> bool {
        self.conf.contains_key(key)
    }

    fn is(&self, key: &str, text: &str) -> bool {
        matches!(self.get(key), Some(Value::Str(s)) if s == text)
    }

    /// `NetInterface.path`.
    fn path(&self) -> PathBuf {
        PathBuf::from(format!("{}/ifcfg-{}", self.dir, self.name))
    }

    fn drop_key(&mut self, key: &str) {
        self.conf.remove(key);
    }

    /// `ConfigMap.to_string` with `NetInterface.skip_key_value`: initscripts
    /// recognise a VLAN by `VLAN=yes`, so `TYPE=Vlan` is left out.
    fn to_text(&self) -> String {
        let mut out = make_header('#');
        if !self.conf.is_empty() {
            out.push('\n');
        }
        for (key, value) in &self.conf {
            if key == "TYPE" && matches!(value, Value::Str(s) if s == "Vlan") {
                continue;
            }
            out.push_str(&format!("{key}={}\n", quote(&setting_text(value))));
        }
        out
    }

    /// Records one gateway of a subnet (a subnet `gateway`, or the gateway
    /// of a default route among its routes): cloud-init's `DEFROUTE=yes` with
    /// `GATEWAY`/`IPV6_DEFAULTGW`, or, for a subnet the default-gateway pass
    /// demoted, cloudboot's fix (see the module comment).
    fn set_gateway(&mut self, gateway: &Value, ipv6: bool, demoted: bool) {
        match (demoted, ipv6) {
            (false, true) => {
                self.flag("DEFROUTE", true);
                self.set("IPV6_DEFAULTGW", gateway.clone());
            }
            (false, false) => {
                self.flag("DEFROUTE", true);
                self.set("GATEWAY", gateway.clone());
                self.kept_v4_gateway = true;
            }
            // ifup-ipv6 makes IPV6_DEFAULTGW a default route regardless of
            // DEFROUTE, so a demoted IPv6 gateway is not written at all.
            (true, true) => {}
            (true, false) => {
                self.demoted_v4_gateway = true;
                // A kept gateway of this interface is the one its default
                // route must use.
                if !self.kept_v4_gateway {
                    self.set("GATEWAY", gateway.clone());
                }
            }
        }
    }

    /// After all subnets and routes: an interface whose IPv4 gateways were
    /// all demoted must not take the IPv4 default route (`DEFROUTE` is what
    /// `ifup-eth` and dhclient-script check), even where an IPv6 gateway set
    /// `DEFROUTE=yes` the way cloud-init does.
    fn settle_default_route(&mut self) {
        if self.demoted_v4_gateway && !self.kept_v4_gateway {
            self.flag("DEFROUTE", false);
        }
    }
}

/// The non-default routes of one interface (`Route`), in the order they
/// were added; `idx` is cloud-init's `last_idx` at the time.
#[derive(Default)]
struct Routes {
    entries: Vec<StaticRoute>,
    has_set_default_ipv4: bool,
    has_set_default_ipv6: bool,
}

struct StaticRoute {
    idx: usize,
    network: String,
    prefix: String,
    netmask: Option<String>,
    gateway: String,
    metric: Option<String>,
}

impl StaticRoute {
    /// `Route.is_ipv6_route`: by the destination.
    fn is_ipv6(&self) -> bool {
        self.network.contains(':')
    }

    /// A default route cloudboot adds to the route file for a gateway
    /// `ifup-eth` would not apply (see the module comment).
    fn is_default(&self) -> bool {
        self.prefix == "0" && (self.network == "0.0.0.0" || self.network == "::")
    }
}

impl Routes {
    /// Whether `route-<if>` is written as `ip route` arguments rather than
    /// cloud-init's `ADDRESSn=`/`NETMASKn=`/`GATEWAYn=` form: initscripts
    /// (9.03 and 9.49 alike) read that form with `handle_file`, which never
    /// reads `METRICn`, so a route with a metric, and the default route
    /// cloudboot adds, take the form both generations read whole
    /// (`handle_ip_file`).
    fn ipv4_as_ip_args(&self) -> bool {
        self.entries
            .iter()
            .any(|r| !r.is_ipv6() && (r.metric.is_some() || r.is_default()))
    }

    /// `Route.to_string`. cloud-init walks its keys sorted as strings
    /// (`ADDRESS10` before `ADDRESS2`), so routes come out in that order; the
    /// IPv4 ones are numbered again from 0.
    fn to_text(&self, name: &str, ipv6: bool) -> String {
        let mut out = make_header('#');
        if !self.entries.is_empty() {
            out.push('\n');
        }
        let mut sorted: Vec<&StaticRoute> = self.entries.iter().collect();
        // The default route cloudboot adds (subnet default routes go to
        // the ifcfg, never here) comes first.
        sorted.sort_by_key(|r| (!r.is_default(), r.idx.to_string()));
        let ip_args = self.ipv4_as_ip_args();
        let mut n = 0;
        for r in sorted {
            match (ipv6, r.is_ipv6()) {
                (false, false) if ip_args => {
                    let dst = if r.is_default() {
                        "default".to_string()
                    } else {
                        format!("{}/{}", r.network, r.prefix)
                    };
                    let metric = r
                        .metric
                        .as_ref()
                        .map(|m| format!(" metric {m}"))
                        .unwrap_or_default();
                    out.push_str(&format!("{dst} via {}{metric} dev {name}\n", r.gateway));
                }
                (false, false) => {
                    let netmask = r
                        .netmask
                        .clone()
                        .unwrap_or_else(|| prefix_to_ipv4_mask(r.prefix.parse().unwrap_or(32)));
                    out.push_str(&format!("ADDRESS{n}={}\n", quote(&r.network)));
                    out.push_str(&format!("GATEWAY{n}={}\n", quote(&r.gateway)));
                    out.push_str(&format!("NETMASK{n}={}\n", quote(&netmask)));
                    if let Some(metric) = &r.metric {
                        out.push_str(&format!("METRIC{n}={}\n", quote(metric)));
                    }
                    n += 1;
                }
                (true, true) => {
                    let metric = r
                        .metric
                        .as_ref()
                        .map(|m| format!("metric {m}"))
                        .unwrap_or_default();
                    out.push_str(&format!(
                        "{}/{} via {} {metric} dev {name}\n",
                        r.network, r.prefix, r.gateway
                    ));
                }
                _ => {}
            }
        }
        out
    }
}

/// One rendering: the state, the ifcfg files being built (in the state's
/// interface order, which is the order cloud-init writes them in), and the
/// warnings so far.
struct Run<'a> {
    state: &'a NetworkState,
    flavor: Flavor,
    has_default_route: bool,
    ifaces: Vec<Ifcfg>,
    /// Where each name's ifcfg is in `ifaces` (one per name): a scan for
    /// each interface made n interfaces cost n².
    by_name: HashMap<String, usize>,
    warnings: Vec<String>,
}

impl Run<'_> {
    fn cfg(&mut self, name: &str) -> Option<&mut Ifcfg> {
        let at = *self.by_name.get(name)?;
        self.ifaces.get_mut(at)
    }

    /// The interfaces of one type, each with its ifcfg.
    fn of_type(&self, kind: &str) -> Vec<Iface> {
        self.state
            .interfaces
            .iter()
            .filter(|i| i.kind() == kind && self.by_name.contains_key(&i.name()))
            .cloned()
            .collect()
    }

    /// `_render_sysconfig`: (path, content) of every ifcfg and route file.
    fn render_sysconfig(&mut self) -> Vec<(PathBuf, String)> {
        for iface in &self.state.interfaces {
            if iface.kind() == "loopback" {
                continue;
            }
            let name = iface.name();
            if name.is_empty() || name.contains('/') || name == "." || name == ".." {
                self.warnings.push(format!(
                    "sysconfig: interface name {name:?} cannot be a file name; not rendered"
                ));
                continue;
            }
            if self.by_name.contains_key(&name) {
                continue;
            }
            let mut cfg = Ifcfg::new(&name, self.flavor);
            render_iface_shared(iface, &mut cfg, self.flavor, &mut self.warnings);
            self.by_name.insert(name, self.ifaces.len());
            self.ifaces.push(cfg);
        }
        for iface in self.of_type("physical") {
            self.render_addressing(&iface);
        }
        for iface in self.of_type("bond") {
            self.render_bond(&iface);
        }
        for iface in self.of_type("vlan") {
            self.render_vlan(&iface);
        }
        for iface in self.of_type("bridge") {
            self.render_bridge(&iface);
        }
        for iface in self.of_type("infiniband") {
            if let Some(cfg) = self.cfg(&iface.name()) {
                cfg.text("TYPE", "InfiniBand");
            }
            self.render_addressing(&iface);
        }
        self.place_global_routes();

        let mut files = Vec::new();
        for cfg in &mut self.ifaces {
            cfg.settle_default_route();
            if self.flavor != Flavor::Suse {
                cfg.route_unapplied_gateway();
            }
            files.push((cfg.path(), cfg.to_text()));
            if self.flavor != Flavor::Suse {
                files.extend(cfg.dhcp_aliases());
            } else if !cfg.ifroute.is_empty() {
                let path = PathBuf::from(format!("{}/ifroute-{}", cfg.dir, cfg.name));
                let text = format!("{}\n{}\n", make_header('#'), cfg.ifroute.join("\n"));
                files.push((path, text));
            }
            if !cfg.routes.entries.is_empty() {
                let [v4, v6] = route_file_prefixes(self.flavor);
                for (prefix, ipv6) in [(v4, false), (v6, true)] {
                    let path = PathBuf::from(format!("{}/{prefix}{}", cfg.dir, cfg.name));
                    // `if cpath not in contents`: one file for both
                    // families is written once, with the IPv4 routes.
                    if !files.iter().any(|(p, _)| *p == path) {
                        files.push((path, cfg.routes.to_text(&cfg.name, ipv6)));
                    }
                }
            }
        }
        files
    }

    /// `_render_subnets` then `_render_subnet_routes` for one interface,
    /// leaving out (with a warning) subnets of a type cloud-init rejects.
    fn render_addressing(&mut self, iface: &Iface) {
        let name = iface.name();
        let mut subnets = Vec::new();
        for subnet in iface.subnets() {
            let kind = subnet.kind();
            if KNOWN_SUBNET_TYPES.contains(&kind.as_str()) {
                subnets.push(subnet);
            } else {
                self.warnings.push(format!(
                    "sysconfig: unknown subnet type '{kind}' found for interface '{name}'; subnet skipped"
                ));
            }
        }
        let (flavor, has_default_route) = (self.flavor, self.has_default_route);
        let Some(&pos) = self.by_name.get(&name) else {
            return;
        };
        let cfg = &mut self.ifaces[pos];
        render_subnets(cfg, &subnets, has_default_route, flavor, &mut self.warnings);
        render_subnet_routes(cfg, &subnets, flavor, &mut self.warnings);
    }

    /// `_render_bond_interfaces`.
    fn render_bond(&mut self, iface: &Iface) {
        let name = iface.name();
        let opts = bonding_opts(iface);
        let suse = self.flavor == Flavor::Suse;
        if let Some(cfg) = self.cfg(&name) {
            if !opts.is_empty() {
                // initscripts set the bonding driver up from BONDING_OPTS
                // (not from module options), EL6 and EL7 alike; SUSE's
                // sysconfig support reads BONDING_MODULE_OPTS.
                let key = if suse {
                    "BONDING_MODULE_OPTS"
                } else {
                    "BONDING_OPTS"
                };
                cfg.text(key, &opts.join(" "));
            }
            cfg.flag("BONDING_MASTER", true);
            if !suse {
                cfg.text("TYPE", "Bond");
            }
            if let Some(mac) = iface.get("mac_address").filter(|v| v.truthy()) {
                cfg.set(if suse { "LLADDR" } else { "MACADDR" }, mac.clone());
            }
        }
        self.render_addressing(iface);

        // Sorted so the numbering does not depend on the config's order.
        let mut slaves: Vec<String> = self
            .state
            .interfaces
            .iter()
            .filter(|i| {
                i.0.get("bond-master")
                    .is_some_and(|m| m.truthy() && m.python_str() == name)
            })
            .map(Iface::name)
            .collect();
        slaves.sort();
        for (index, slave) in slaves.iter().enumerate() {
            if let Some(cfg) = self.cfg(&name) {
                let key = if suse {
                    format!("BONDING_SLAVE_{index}")
                } else {
                    format!("BONDING_SLAVE{index}")
                };
                cfg.text(&key, slave);
            }
            match self.cfg(slave) {
                // A SUSE port has no address and comes up with its bond.
                Some(slave_cfg) if suse => {
                    slave_cfg.text("BOOTPROTO", "none");
                    slave_cfg.text("STARTMODE", "hotplug");
                }
                Some(slave_cfg) => {
                    slave_cfg.text("MASTER", &name);
                    slave_cfg.flag("SLAVE", true);
                }
                None => self.warnings.push(format!(
                    "sysconfig: bond {name}: member {slave} has no ifcfg; not marked as a slave"
                )),
            }
        }
    }

    /// `_render_vlan_interfaces`.
    fn render_vlan(&mut self, iface: &Iface) {
        let name = iface.name();
        let rdev = iface
            .0
            .get("vlan-raw-device")
            .map(Value::python_str)
            .unwrap_or_else(|| "None".into());
        if self.flavor == Flavor::Suse {
            self.render_suse_vlan(iface);
            return;
        }
        if let Some(cfg) = self.cfg(&name) {
            cfg.flag("VLAN", true);
            cfg.text("TYPE", "Vlan");
            cfg.text("PHYSDEV", &rdev);
        }
        let vid = iface.0.get("vlan_id").cloned().unwrap_or_default();
        match supported_vlan_names(&rdev, &vid) {
            Some(names) if !names.contains(&name) => self.warnings.push(format!(
                "Name '{name}' for vlan '{rdev}' is not officially supported by RHEL. Supported: {}",
                names.join(" ")
            )),
            Some(_) => {}
            None => self.warnings.push(format!(
                "sysconfig: vlan {name}: vlan_id {vid} is not an integer"
            )),
        }
        self.render_addressing(iface);
    }

    /// `_render_bridge_interfaces`.
    fn render_bridge(&mut self, iface: &Iface) {
        let name = iface.name();
        if self.flavor == Flavor::Suse {
            self.render_suse_bridge(iface);
            return;
        }
        if let Some(cfg) = self.cfg(&name) {
            cfg.text("TYPE", "Bridge");
            for (key, setting) in BRIDGE_KEYS {
                // `if old_key in iface`: present, whatever its value.
                if let Some(v) = iface.0.get(key) {
                    cfg.set(setting, v.clone());
                }
            }
            if let Some(mac) = iface.get("mac_address").filter(|v| v.truthy()) {
                cfg.set("MACADDR", mac.clone());
            }
        }
        let ports = iface.get("bridge_ports").map(items).unwrap_or_default();
        for port in ports {
            match self.cfg(&port) {
                Some(port_cfg) => port_cfg.text("BRIDGE", &name),
                None => self.warnings.push(format!(
                    "sysconfig: bridge {name}: port {port} has no ifcfg; not added"
                )),
            }
        }
        self.render_addressing(iface);
    }
}

/// `_render_iface_shared`: the flavour's defaults and the interface-level
/// keys.
fn render_iface_shared(iface: &Iface, cfg: &mut Ifcfg, flavor: Flavor, warnings: &mut Vec<String>) {
    let suse = flavor == Flavor::Suse;
    if suse {
        cfg.text("BOOTPROTO", "static");
        cfg.text("STARTMODE", "auto");
    } else {
        cfg.flag("ONBOOT", true);
        cfg.flag("USERCTL", false);
        cfg.flag("NM_CONTROLLED", false);
        cfg.text("BOOTPROTO", "none");
    }

    let kind = iface.kind();
    if let Some(mac) = iface.get("mac_address") {
        // A MAC names the device only for real NICs; bonds and bridges get
        // MACADDR (a MAC to set) in their own pass.
        if kind == "physical" || kind == "infiniband" {
            cfg.set(if suse { "LLADDR" } else { "HWADDR" }, mac.clone());
        }
    }
    if let Some(mtu) = iface.get("mtu") {
        cfg.set("MTU", mtu.clone());
    }
    // SUSE's key map has no entry for accept-ra: 22.4 drops it silently.
    if let Some(accept_ra) = iface.get("accept-ra").filter(|_| !suse) {
        if flavor == Flavor::Rhel6 {
            warnings.push(format!(
                "sysconfig: {}: accept-ra {} not written: EL6 initscripts have no IPV6_FORCE_ACCEPT_RA (accept_ra follows IPV6_AUTOCONF)",
                cfg.name,
                accept_ra.python_str()
            ));
        } else {
            cfg.set("IPV6_FORCE_ACCEPT_RA", accept_ra.clone());
        }
    }
    if kind == "physical" && iface.0.get("wakeonlan").is_some_and(Value::truthy) {
        cfg.text("ETHTOOL_OPTS", "wol g");
    }
}

/// `_render_subnets`: first how the interface is addressed (BOOTPROTO,
/// DHCPv6, SLAAC, MTU, ONBOOT), then its static addresses, gateways and DNS.
fn render_subnets(
    cfg: &mut Ifcfg,
    subnets: &[Subnet],
    has_default_route: bool,
    flavor: Flavor,
    warnings: &mut Vec<String>,
) {
    let suse = flavor == Flavor::Suse;
    if suse {
        cfg.text("BOOTPROTO", "static");
        // 22.4's SUSE branch: a bridge port rendered again (one that is
        // itself a bond, VLAN or InfiniBand NIC) becomes DHCP.
        if cfg.has("BRIDGE") {
            cfg.text("BOOTPROTO", "dhcp");
            cfg.drop_key("BRIDGE");
        }
    } else {
        cfg.text("BOOTPROTO", "none");
    }

    for subnet in subnets {
        let kind = subnet.kind();
        let mut mtu_key = "MTU";
        if suse {
            render_suse_method(cfg, subnet, &kind, warnings);
            if subnet
                .get("control")
                .is_some_and(|c| c.python_str() == "manual")
            {
                cfg.text("STARTMODE", "manual");
            }
            continue;
        }
        match kind.as_str() {
            "ipv6_dhcpv6-stateful" => {
                cfg.text("BOOTPROTO", "dhcp");
                cfg.flag("DHCPV6C", true);
                cfg.flag("IPV6INIT", true);
                cfg.flag("IPV6_AUTOCONF", false);
            }
            "dhcp6" => {
                cfg.flag("IPV6INIT", true);
                cfg.flag("DHCPV6C", true);
            }
            "ipv6_dhcpv6-stateless" => {
                // SLAAC for addresses, DHCPv6 information-request (-S) for
                // the rest.
                cfg.flag("IPV6INIT", true);
                cfg.flag("IPV6_AUTOCONF", true);
                cfg.flag("DHCPV6C", true);
                cfg.text("DHCPV6C_OPTIONS", "-S");
            }
            "ipv6_slaac" => {
                cfg.flag("IPV6INIT", true);
                cfg.flag("IPV6_AUTOCONF", true);
            }
            "dhcp" | "dhcp4" => cfg.text("BOOTPROTO", "dhcp"),
            "static" | "static6" => {
                let ipv6 = subnet.is_ipv6();
                if ipv6 {
                    mtu_key = "IPV6_MTU";
                    cfg.flag("IPV6INIT", true);
                }
                if let Some(mtu) = subnet.0.get("mtu") {
                    if let Some(current) = cfg.get(mtu_key).filter(|c| *c != mtu) {
                        warnings.push(format!(
                            "Network config: ignoring {} device-level mtu:{} because ipv4 subnet-level mtu:{} provided.",
                            cfg.name,
                            current.python_str(),
                            mtu.python_str()
                        ));
                    }
                    cfg.set(mtu_key, mtu.clone());
                }
                if ipv6 {
                    if flavor != Flavor::Rhel6 {
                        cfg.flag("IPV6_FORCE_ACCEPT_RA", false);
                    }
                    cfg.flag("IPV6_AUTOCONF", false);
                }
            }
            // An MTU is only applied when the interface comes up.
            "manual" => {
                let has_mtu = cfg.has(mtu_key);
                cfg.flag("ONBOOT", has_mtu);
            }
            _ => {}
        }
        if subnet
            .get("control")
            .is_some_and(|c| c.python_str() == "manual")
        {
            cfg.flag("ONBOOT", false);
        }
    }

    let mut ipv4_index = 0usize;
    let mut ipv6_index = 0usize;
    for subnet in subnets {
        let kind = subnet.kind();
        // SUSE: no METRIC, and DHCLIENT_SET_DEFAULT_ROUTE is a global
        // setting there (/etc/sysconfig/network/dhcp).
        if let Some(metric) = subnet.0.get("metric").filter(|_| !suse) {
            cfg.set("METRIC", metric.clone());
        }
        match kind.as_str() {
            "dhcp" | "dhcp4" if suse => continue,
            "dhcp" | "dhcp4" => {
                if has_default_route && !cfg.is("BOOTPROTO", "none") {
                    cfg.flag("DHCLIENT_SET_DEFAULT_ROUTE", false);
                }
                continue;
            }
            "static" | "static6" => {}
            _ => continue,
        }
        let address = subnet.str("address").unwrap_or_default();
        let prefix = subnet.0.get("prefix").cloned().unwrap_or_default();
        if subnet.is_ipv6() {
            let cidr = format!("{address}/{}", prefix.python_str());
            match ipv6_index {
                // SUSE numbers each address (IPADDR6, IPADDR6_1, ...).
                0 if suse => cfg.text("IPADDR6", &cidr),
                n if suse => cfg.text(&format!("IPADDR6_{n}"), &cidr),
                0 => cfg.text("IPV6ADDR", &cidr),
                1 => cfg.text("IPV6ADDR_SECONDARIES", &cidr),
                _ => {
                    let before = cfg
                        .get("IPV6ADDR_SECONDARIES")
                        .map(Value::python_str)
                        .unwrap_or_default();
                    cfg.text("IPV6ADDR_SECONDARIES", &format!("{before} {cidr}"));
                }
            }
            ipv6_index += 1;
        } else {
            let suffix = if ipv4_index == 0 {
                String::new()
            } else {
                ipv4_index.to_string()
            };
            let netmask = match prefix.python_str().parse::<u32>() {
                Ok(p) if p <= 32 => prefix_to_ipv4_mask(p),
                _ => subnet.str("netmask").unwrap_or_default(),
            };
            cfg.text(&format!("IPADDR{suffix}"), &address);
            cfg.text(&format!("NETMASK{suffix}"), &netmask);
            ipv4_index += 1;
        }

        // SUSE's ifcfg has no gateway or DNS keys: 22.4 writes neither.
        if suse {
            continue;
        }
        if let Some(gateway) = subnet.0.get("gateway") {
            let ipv6 = is_ipv6_address(&gateway.python_str());
            cfg.set_gateway(gateway, ipv6, subnet.not_default());
        }
        if let Some(search) = subnet.0.get("dns_search") {
            cfg.text("DOMAIN", &items(search).join(" "));
        }
        if let Some(servers) = subnet.0.get("dns_nameservers") {
            let servers = items(servers);
            if servers.len() > 3 {
                // resolv.conf(5) MAXNS.
                warnings.push(format!(
                    "{} has {} entries in dns_nameservers. Only 3 are used.",
                    cfg.name,
                    servers.len()
                ));
            }
            for (i, server) in servers.iter().take(3).enumerate() {
                cfg.text(&format!("DNS{}", i + 1), server);
            }
        }
    }
}

/// `_render_subnet_routes`: a default route makes the interface the
/// default one (its gateway into the ifcfg); others go to the route files.
/// SUSE: [`render_suse_routes`].
fn render_subnet_routes(
    cfg: &mut Ifcfg,
    subnets: &[Subnet],
    flavor: Flavor,
    warnings: &mut Vec<String>,
) {
    if flavor == Flavor::Suse {
        render_suse_routes(cfg, subnets, warnings);
        return;
    }
    for subnet in subnets {
        let kind = subnet.kind();
        for route in subnet.routes() {
            let network = route
                .get("network")
                .map(Value::python_str)
                .unwrap_or_default();
            let prefix = route.get("prefix").cloned().unwrap_or_default();
            let Some(gateway) = route.get("gateway").cloned() else {
                warnings.push(format!(
                    "sysconfig: {}: route to {network}/{} has no gateway; skipped",
                    cfg.name,
                    prefix.python_str()
                ));
                continue;
            };
            let ipv6 = subnet.get("ipv6").is_some_and(Value::truthy)
                || is_ipv6_address(&gateway.python_str());
            let is_default =
                matches!(prefix, Value::Int(0)) && (network == "::" || network == "0.0.0.0");

            // Dynamic IPv6 methods learn their router from RAs.
            if is_default && !IPV6_DYNAMIC_TYPES.contains(&kind.as_str()) {
                let declared_v4 = subnet.get("ipv4").is_some_and(Value::truthy);
                let declared_v6 = subnet.get("ipv6").is_some_and(Value::truthy);
                if (declared_v4 && cfg.routes.has_set_default_ipv4)
                    || (declared_v6 && cfg.routes.has_set_default_ipv6)
                {
                    warnings.push(format!(
                        "sysconfig: duplicate declaration of default route found for interface '{}'; route via {} skipped",
                        cfg.name,
                        gateway.python_str()
                    ));
                    continue;
                }
                // The interface provides the default route itself (no
                // route-file entry for it).
                let demoted = subnet.not_default();
                if !demoted && (cfg.is("BOOTPROTO", "dhcp") || cfg.is("BOOTPROTO", "dhcp4")) {
                    cfg.flag("DHCLIENT_SET_DEFAULT_ROUTE", true);
                }
                cfg.set_gateway(&gateway, ipv6, demoted);
                if ipv6 {
                    cfg.routes.has_set_default_ipv6 = true;
                } else {
                    cfg.routes.has_set_default_ipv4 = true;
                }
                if let Some(metric) = route.get("metric") {
                    cfg.set("METRIC", metric.clone());
                }
            } else {
                let idx = cfg.routes.entries.len() + 1;
                cfg.routes.entries.push(StaticRoute {
                    idx,
                    network,
                    prefix: prefix.python_str(),
                    netmask: route.get("netmask").map(Value::python_str),
                    gateway: gateway.python_str(),
                    metric: route.get("metric").map(Value::python_str),
                });
            }
        }
    }
}

/// `_render_bonding_opts`: `mode=... miimon=...` in `bond_tpl_opts` order.
fn bonding_opts(iface: &Iface) -> Vec<String> {
    let mut opts = Vec::new();
    for (key, option) in BOND_OPTS {
        let dashed = key.replace('_', "-");
        // `if bond_key in iface`: present, whatever its value.
        let value = iface.0.get(key).or_else(|| iface.0.get(&dashed));
        if let Some(value) = value {
            opts.push(format!("{option}={}", items(value).join(" ")));
        }
    }
    opts
}

/// `_supported_vlan_names`: the names RHEL documents for VLAN `vid` on
/// `rdev`; `None` when the id is not an integer (Python's `int()` fails).
fn supported_vlan_names(rdev: &str, vid: &Value) -> Option<Vec<String>> {
    let vid: i64 = match vid {
        Value::Int(i) => *i,
        Value::Bool(b) => i64::from(*b),
        other => other.python_str().trim().parse().ok()?,
    };
    Some(vec![
        format!("{rdev}{vid:04}"),
        format!("{rdev}{vid}"),
        format!("{rdev}.{vid:04}"),
        format!("{rdev}.{vid}"),
    ])
}

/// `_render_dns`: the global nameservers and search domains added to the
/// resolv.conf already in the root, under a `;` header. Nothing when the
/// config has no global DNS.
fn render_dns(
    state: &NetworkState,
    ctx: &RenderContext,
    warnings: &mut Vec<String>,
) -> Option<String> {
    if state.nameservers.is_empty() && state.search.is_empty() {
        return None;
    }
    let existing = ctx
        .fs
        .read_string(Path::new(RESOLV_CONF_PATH))
        .unwrap_or_default();
    let mut conf = match ResolvConf::parse(&existing) {
        Ok(conf) => conf,
        Err(e) => {
            warnings.push(format!(
                "sysconfig: existing {RESOLV_CONF_PATH} not understood ({e}); written anew"
            ));
            ResolvConf::default()
        }
    };
    for ns in &state.nameservers {
        if let Some(w) = conf.add_nameserver(ns) {
            warnings.push(w);
        }
    }
    for domain in &state.search {
        if let Err(e) = conf.add_search_domain(domain) {
            warnings.push(format!("sysconfig: {e}; left out of {RESOLV_CONF_PATH}"));
        }
    }
    let header = make_header(';');
    let text = conf.to_text();
    Some(if text.starts_with(&header) {
        text
    } else {
        format!("{header}\n{text}")
    })
}

/// `_render_networkmanager_conf`: with global nameservers, tell
/// NetworkManager to leave resolv.conf alone.
fn render_networkmanager_conf(state: &NetworkState) -> Option<String> {
    if state.nameservers.is_empty() {
        return None;
    }
    Some(format!("{}\n[main]\ndns = none\n", make_header('#')))
}

/// `Renderer._render_persistent_net` with `udev.generate_udev_rule`: one
/// rule per physical interface with a MAC, naming it. Written even when
/// empty, as cloud-init does.
fn render_persistent_net(state: &NetworkState) -> String {
    let mut out = String::new();
    for iface in state.interfaces.iter().filter(|i| i.kind() == "physical") {
        let Some(mac) = iface.get("mac_address").filter(|m| m.truthy()) else {
            continue;
        };
        if !iface.0.contains_key("name") {
            continue;
        }
        let driver = iface
            .get("driver")
            .filter(|d| d.truthy())
            .map(Value::python_str)
            .unwrap_or_else(|| "?*".into());
        out.push_str(&format!(
            "SUBSYSTEM==\"net\", ACTION==\"add\", DRIVERS==\"{driver}\", ATTR{{address}}==\"{}\", NAME=\"{}\"\n",
            mac.python_str(),
            iface.name()
        ));
    }
    out
}

/// `/etc/sysconfig/network` (end of `render_network_state`). On EL6 the
/// lines already there are kept (see the module comment).
fn render_control(state: &NetworkState, ctx: &RenderContext) -> String {
    let header = make_header('#');
    let mut lines = vec![header.clone(), "NETWORKING=yes".to_string()];
    if state.use_ipv6 {
        lines.push("NETWORKING_IPV6=yes".into());
        lines.push("IPV6_AUTOCONF=no".into());
    }
    if ctx.flavor == Flavor::Rhel6 {
        let existing = ctx
            .fs
            .read_string(Path::new(CONTROL_PATH))
            .unwrap_or_default();
        let header_lines: Vec<&str> = header.lines().collect();
        for line in py_splitlines(&existing) {
            let ours = ["NETWORKING", "IPV6_AUTOCONF"]
                .iter()
                .any(|k| line.contains(k));
            if !ours && !header_lines.contains(&line) {
                lines.push(line.to_string());
            }
        }
    }
    lines.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_booleans() {
        assert_eq!(quote("mode=1 miimon=100"), "\"mode=1 miimon=100\"");
        assert_eq!(quote("\"a b\""), "\"a b\"");
        assert_eq!(quote("a\x1cb"), "\"a\x1cb\"");
        assert_eq!(quote("plain"), "plain");
        assert_eq!(setting_text(&Value::Bool(false)), "no");
        assert_eq!(setting_text(&Value::Int(9000)), "9000");
    }

    #[test]
    fn route_files_sort_like_cloud_init() {
        let mut routes = Routes::default();
        for i in 1..=11 {
            routes.entries.push(StaticRoute {
                idx: i,
                network: format!("10.{i}.0.0"),
                prefix: "16".into(),
                netmask: Some("255.255.0.0".into()),
                gateway: "10.0.0.1".into(),
                metric: None,
            });
        }
        let text = routes.to_text("eth0", false);
        // ADDRESS1, ADDRESS10, ADDRESS11, ADDRESS2, ... renumbered from 0.
        assert!(text.contains("ADDRESS0=10.1.0.0\n"));
        assert!(text.contains("ADDRESS1=10.10.0.0\n"));
        assert!(text.contains("ADDRESS3=10.2.0.0\n"));
        assert_eq!(
            routes.to_text("eth0", true),
            format!("{}\n", make_header('#'))
        );
    }

    #[test]
    fn splitlines() {
        assert_eq!(py_splitlines("a\r\nb\rc\n\nd"), ["a", "b", "c", "", "d"]);
        assert!(py_splitlines("").is_empty());
    }

    #[test]
    fn vlan_names() {
        let names = supported_vlan_names("eth0", &Value::Int(7)).unwrap();
        assert_eq!(names, ["eth00007", "eth07", "eth0.0007", "eth0.7"]);
        assert!(supported_vlan_names("eth0", &Value::str("x")).is_none());
    }
}
