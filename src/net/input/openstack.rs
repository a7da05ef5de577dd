//! OpenStack `network_data.json` into network config version 1, as
//! cloud-init 22.4's `openstack.convert_net_json`
//! (`cloudinit/sources/helpers/openstack.py`, Debian's package) converts it:
//! the same entries, the same keys in the same order, the same values, the
//! same warnings; an error where cloud-init raises.
//!
//! One deliberate difference. cloud-init raises
//! `ValueError("Unable to find a system nic for ...")` when an unnamed
//! link's MAC is on no interface of the machine, and that exception throws
//! away the whole network config: every NIC stays unconfigured because one
//! was not there. cloudboot warns, leaves that link out (with the networks
//! on it, the bonds whose members are all left out and the vlans on
//! anything left out), and converts the rest.
//!
//! `network_data.json` comes from the cloud and is not trusted: every value
//! may have any JSON type. Where cloud-init works on such a value with
//! Python's rules (`==` between a number and a bool, `"%s" % value`,
//! iterating a string), this module follows them, so odd-but-accepted
//! input converts the same; where Python raises, this returns `Err`.

use std::collections::{HashMap, HashSet};

use serde_json::Value as J;

use super::NetInputError;
use crate::py::truth::json_truthy;
use crate::value::{Mapping, Value};

type Object = serde_json::Map<String, J>;

/// The networks on each link id, in their order.
type NetworksByLink<'a> = HashMap<Key, Vec<&'a Object>>;

/// `valid_keys["physical"]`: the link keys copied onto the v1 entry.
const LINK_KEYS: &[&str] = &["name", "type", "mac_address", "subnets", "params", "mtu"];

/// `valid_keys["subnet"]`: the network keys copied onto the v1 subnet.
const SUBNET_KEYS: &[&str] = &[
    "type",
    "address",
    "netmask",
    "broadcast",
    "metric",
    "gateway",
    "pointopoint",
    "scope",
    "dns_nameservers",
    "dns_search",
    "routes",
];

/// `KNOWN_PHYSICAL_TYPES` (`None` is in the list too: a `null` type is known).
const KNOWN_PHYSICAL_TYPES: &[&str] = &[
    "bgpovs",
    "bridge",
    "cascading",
    "dvs",
    "ethernet",
    "hw_veb",
    "hyperv",
    "ovs",
    "phy",
    "tap",
    "vhostuser",
    "vif",
];

/// More subnets than any cloud writes. Links that share an id each get
/// every network on that id, so hostile input could otherwise ask for
/// links × networks entries.
const MAX_SUBNETS: usize = 100_000;

/// `convert_net_json(network_json, known_macs)` on a machine without
/// InfiniBand interfaces. `known_macs` maps a MAC (lower case, as
/// `get_interfaces_by_mac` gives it) to the interface that has it.
/// Returns `{version: 1, config: [...]}` and the warnings cloud-init would
/// log (plus cloudboot's, for links it left out).
pub fn convert_net_json(
    network_json: &J,
    known_macs: &HashMap<String, String>,
) -> Result<(Value, Vec<String>), NetInputError> {
    convert_net_json_ib(network_json, known_macs, &HashMap::new())
}

/// [`convert_net_json`] with the machine's InfiniBand interfaces
/// (`get_ib_hwaddrs_by_interface`: name -> full 20-byte hardware address):
/// an entry named like one becomes `type: infiniband` with that address.
pub fn convert_net_json_ib(
    network_json: &J,
    known_macs: &HashMap<String, String>,
    ib_hwaddrs: &HashMap<String, String>,
) -> Result<(Value, Vec<String>), NetInputError> {
    let top = match network_json {
        J::Object(o) => o,
        J::Null => return Err(NetInputError::JsonNull),
        other => return Err(NetInputError::JsonNotObject(json_type(other))),
    };
    let mut conv = Converter {
        known_macs,
        warnings: Vec::new(),
        config: Vec::new(),
        infos: HashMap::new(),
        updates: Vec::new(),
        subnet_count: 0,
    };
    let links = py_list(top.get("links"), "links")?;
    // cloud-init looks at the networks only while converting a link.
    let networks = if links.is_empty() {
        Vec::new()
    } else {
        py_list(top.get("networks"), "networks")?
    };
    let by_link = index_networks(&networks)?;
    let mut bond_number = 0usize;
    for link in links {
        conv.link(link, &by_link, &mut bond_number)?;
    }
    let skipped = conv.resolve_names()?;
    let mut config: Vec<Value> = Vec::with_capacity(conv.config.len());
    for (i, cfg) in std::mem::take(&mut conv.config).into_iter().enumerate() {
        if !skipped.contains(&i) {
            config.push(Value::Map(cfg));
        }
    }
    if !ib_hwaddrs.is_empty() {
        for cfg in &mut config {
            let Value::Map(cfg) = cfg else { continue };
            let name = match cfg.get("name") {
                Some(Value::Str(s)) => s.clone(),
                Some(Value::Seq(_) | Value::Map(_)) => return Err(NetInputError::UnhashableName),
                _ => continue,
            };
            if let Some(hw) = ib_hwaddrs.get(&name) {
                cfg.insert(Value::str("mac_address"), Value::str(hw));
                cfg.insert(Value::str("type"), Value::str("infiniband"));
            }
        }
    }
    // Every service, dns or not, becomes a global nameserver entry.
    for service in py_list(top.get("services"), "services")? {
        let J::Object(service) = service else {
            return Err(not_an_object("service", service));
        };
        let mut cfg = plain_map(service);
        cfg.insert(Value::str("type"), Value::str("nameserver"));
        config.push(Value::Map(cfg));
    }
    let mut out = Mapping::new();
    out.insert(Value::str("version"), Value::Int(1));
    out.insert(Value::str("config"), Value::Seq(config));
    Ok((Value::Map(out), conv.warnings))
}

/// What cloud-init keeps in `link_id_info` about a link, by its id.
struct LinkInfo {
    /// `curinfo["name"]`: the link's name, `bondN`, `<parent>.<vlan_id>`,
    /// or (filled in later) the interface that has its MAC.
    name: Value,
    /// `curinfo["mac"]`.
    mac: Value,
    /// The link's entry in `config`.
    index: usize,
}

/// The `link_updates` cloud-init applies once every link has a name.
enum Update {
    /// `bond_interfaces`: the names of the `bond_links`.
    Bond { index: usize, targets: J },
    /// `vlan_link` and `name` (`<parent name>.<vlan_id>`) from the parent.
    Vlan {
        index: usize,
        target: J,
        vlan_id: String,
    },
}

struct Converter<'a> {
    known_macs: &'a HashMap<String, String>,
    warnings: Vec<String>,
    config: Vec<Mapping>,
    infos: HashMap<Key, LinkInfo>,
    updates: Vec<Update>,
    subnet_count: usize,
}

impl Converter<'_> {
    /// One iteration of cloud-init's `for link in links` loop.
    fn link(
        &mut self,
        link: &J,
        by_link: &NetworksByLink,
        bond_number: &mut usize,
    ) -> Result<(), NetInputError> {
        let J::Object(link) = link else {
            return Err(not_an_object("link", link));
        };
        let mut cfg = Mapping::new();
        for (k, v) in link {
            if LINK_KEYS.contains(&k.as_str()) {
                cfg.insert(Value::str(k), plain(v));
            }
        }
        let mac = match link.get("ethernet_mac_address") {
            Some(J::String(s)) if !s.is_empty() => Some(s.to_lowercase()),
            Some(v) if json_truthy(v) => return Err(NetInputError::MacNotString(json_type(v))),
            _ => None,
        };
        let id = link.get("id").ok_or(missing("link", "id"))?;
        let key = Key::of(id).ok_or_else(|| NetInputError::UnhashableLinkId(py_str_j(id)))?;
        let kind = link.get("type").ok_or(missing("link", "type"))?;
        let index = self.config.len();
        let mut info = LinkInfo {
            name: cfg.get("name").cloned().unwrap_or_default(),
            mac: mac.clone().map(Value::Str).unwrap_or_default(),
            index,
        };

        let mut subnets = Vec::new();
        for network in by_link.get(&key).map(Vec::as_slice).unwrap_or_default() {
            self.subnet_count += 1;
            if self.subnet_count > MAX_SUBNETS {
                return Err(NetInputError::TooManySubnets(MAX_SUBNETS));
            }
            subnets.push(Value::Map(subnet(network, &mut cfg)?));
        }
        cfg.insert(Value::str("subnets"), Value::Seq(subnets));

        match kind.as_str() {
            Some("bond") => {
                // The bond's MAC goes on the bond, as in Debian's
                // 22.4.2-1+deb12u4 (an upstream fix it imported). Before
                // that, 22.4 put it in `params`, which network_state copies
                // onto every member: all members got the bond's MAC, so
                // udev rules, HWADDR and netplan/networkd matches named two
                // NICs by one MAC and only one member came up (cloud-init
                // issue #3856). The `bond_*` keys go in `params` as written.
                if let Some(mac) = &mac {
                    cfg.insert(Value::str("mac_address"), Value::str(mac));
                }
                let params = link
                    .iter()
                    .filter(|(k, _)| *k != "bond_links" && k.starts_with("bond"))
                    .map(|(k, v)| (Value::str(k), plain(v)))
                    .collect();
                // Distinct: JSON object keys are.
                let params = Mapping::from_distinct_entries(params);
                let targets = link
                    .get("bond_links")
                    .ok_or(missing("bond link", "bond_links"))?;
                // OpenStack's bond id may be anything; cloud-init names bonds
                // itself, in order.
                let name = format!("bond{bond_number}");
                *bond_number += 1;
                self.updates.push(Update::Bond {
                    index,
                    targets: targets.clone(),
                });
                cfg.insert(Value::str("params"), Value::Map(params));
                cfg.insert(Value::str("name"), Value::str(&name));
                info.name = Value::Str(name);
            }
            Some("vlan") => {
                let parent = link
                    .get("vlan_link")
                    .ok_or(missing("vlan link", "vlan_link"))?;
                let vlan_id = link.get("vlan_id").ok_or(missing("vlan link", "vlan_id"))?;
                let vlan_mac = link
                    .get("vlan_mac_address")
                    .ok_or(missing("vlan link", "vlan_mac_address"))?;
                let name = format!("{}.{}", py_str_j(parent), py_str_j(vlan_id));
                cfg.insert(Value::str("name"), Value::str(&name));
                cfg.insert(Value::str("vlan_id"), plain(vlan_id));
                cfg.insert(Value::str("mac_address"), plain(vlan_mac));
                self.updates.push(Update::Vlan {
                    index,
                    target: parent.clone(),
                    vlan_id: py_str_j(vlan_id),
                });
                info.mac = plain(vlan_mac);
                info.name = Value::Str(name);
            }
            _ => {
                let known = match kind {
                    J::Null => true,
                    J::String(s) => KNOWN_PHYSICAL_TYPES.contains(&s.as_str()),
                    _ => false,
                };
                if !known {
                    self.warn(format!(
                        "Unknown network_data link type ({}); treating as physical",
                        py_str_j(kind)
                    ));
                }
                cfg.insert(Value::str("type"), Value::str("physical"));
                cfg.insert(
                    Value::str("mac_address"),
                    mac.map(Value::Str).unwrap_or_default(),
                );
            }
        }
        self.config.push(cfg);
        // A later link with the same id replaces the earlier one here.
        self.infos.insert(key, info);
        Ok(())
    }

    /// The second half of `convert_net_json`: names for unnamed physical
    /// links from their MACs, then `bond_interfaces`, `vlan_link` and vlan
    /// names from the names of the links they refer to. Returns the entries
    /// left out (the deliberate fix).
    fn resolve_names(&mut self) -> Result<HashSet<usize>, NetInputError> {
        let need_names: Vec<usize> = (0..self.config.len())
            .filter(|&i| {
                let cfg = &self.config[i];
                matches!(cfg.get("type"), Some(Value::Str(t)) if t == "physical")
                    && !cfg.contains_key("name")
            })
            .collect();
        let mut skipped = HashSet::new();
        if need_names.is_empty() && self.updates.is_empty() {
            return Ok(skipped);
        }
        for info in self.infos.values_mut() {
            if info.name.truthy() {
                continue;
            }
            if let Value::Str(mac) = &info.mac {
                if let Some(name) = self.known_macs.get(mac) {
                    info.name = Value::str(name);
                }
            }
        }
        for i in need_names {
            let cfg = &mut self.config[i];
            let mac = match cfg.get("mac_address") {
                Some(Value::Str(m)) if !m.is_empty() => m.clone(),
                _ => {
                    return Err(NetInputError::NoMacOrName(
                        Value::Map(cfg.clone()).python_repr(),
                    ))
                }
            };
            if let Some(name) = self.known_macs.get(&mac) {
                cfg.insert(Value::str("name"), Value::str(name));
                continue;
            }
            // cloud-init raises ValueError("Unable to find a system nic for
            // ...") here, and the machine gets no network config at all.
            let networks = cfg
                .get("subnets")
                .and_then(Value::as_seq)
                .map_or(0, <[Value]>::len);
            let msg = format!(
                "Unable to find a system nic for {}: no interface has MAC {mac}; \
                 leaving out that link and its {networks} network(s)",
                Value::Map(cfg.clone()).python_repr()
            );
            self.warn(msg);
            skipped.insert(i);
        }
        self.skip_dependents(&mut skipped);

        for update in std::mem::take(&mut self.updates) {
            match update {
                Update::Bond { index, targets } => {
                    if skipped.contains(&index) {
                        continue;
                    }
                    let value = match &targets {
                        J::Array(targets) => {
                            let mut names = Vec::new();
                            for target in targets {
                                let info = self.target(target)?;
                                if skipped.contains(&info.index) {
                                    let msg = format!(
                                        "{}: leaving out bond member {}, left out above",
                                        Value::python_str_any(
                                            self.config[index].get("name").unwrap_or(&Value::Null)
                                        ),
                                        py_str_j(target)
                                    );
                                    self.warn(msg);
                                    continue;
                                }
                                names.push(Value::Str(info.name.python_str_any()));
                            }
                            Value::Seq(names)
                        }
                        target => Value::Str(self.target(target)?.name.python_str_any()),
                    };
                    self.config[index].insert(Value::str("bond_interfaces"), value);
                }
                Update::Vlan {
                    index,
                    target,
                    vlan_id,
                } => {
                    if skipped.contains(&index) {
                        continue;
                    }
                    let parent = self.target(&target)?.name.python_str_any();
                    let name = percent_s(&format!("%s.{vlan_id}"), &parent)?;
                    let cfg = &mut self.config[index];
                    cfg.insert(Value::str("vlan_link"), Value::Str(parent));
                    cfg.insert(Value::str("name"), Value::Str(name));
                }
            }
        }
        Ok(skipped)
    }

    /// Bonds whose members are all left out, and vlans on anything left out,
    /// are left out too (to a fixed point: a vlan on such a bond as well).
    fn skip_dependents(&mut self, skipped: &mut HashSet<usize>) {
        if skipped.is_empty() {
            return;
        }
        loop {
            let mut more = Vec::new();
            for update in &self.updates {
                let (index, targets): (usize, Vec<&J>) = match update {
                    Update::Bond { index, targets } => match targets {
                        J::Array(t) => (*index, t.iter().collect()),
                        t => (*index, vec![t]),
                    },
                    Update::Vlan { index, target, .. } => (*index, vec![target]),
                };
                if skipped.contains(&index) || targets.is_empty() {
                    continue;
                }
                let all_gone = targets.iter().all(|t| {
                    Key::of(t)
                        .and_then(|k| self.infos.get(&k))
                        .is_some_and(|info| skipped.contains(&info.index))
                });
                if all_gone {
                    more.push(index);
                }
            }
            if more.is_empty() {
                return;
            }
            for index in more {
                let name = self.config[index]
                    .get("name")
                    .unwrap_or(&Value::Null)
                    .python_str_any();
                self.warn(format!(
                    "leaving out {name}: every interface it is on was left out"
                ));
                skipped.insert(index);
            }
        }
    }

    /// `link_id_info[target]`.
    fn target(&self, target: &J) -> Result<&LinkInfo, NetInputError> {
        Key::of(target)
            .and_then(|k| self.infos.get(&k))
            .ok_or_else(|| NetInputError::UnknownLinkId(py_repr_j(target)))
    }

    fn warn(&mut self, msg: String) {
        tracing::warn!("{msg}");
        self.warnings.push(msg);
    }
}

/// One network as a v1 subnet (cloud-init's inner `for network in ...`),
/// setting `accept-ra` on the link's entry where cloud-init does.
fn subnet(network: &Object, cfg: &mut Mapping) -> Result<Mapping, NetInputError> {
    let mut subnet = Mapping::new();
    for (k, v) in network {
        if SUBNET_KEYS.contains(&k.as_str()) {
            subnet.insert(Value::str(k), plain(v));
        }
    }
    let kind = network.get("type").ok_or(missing("network", "type"))?;
    let kind = kind.as_str().unwrap_or_default();
    let address = || network.get("ip_address").map(plain).unwrap_or_default();
    let mut set = |k: &str, v: Value| subnet.insert(Value::str(k), v);
    match kind {
        "ipv4_dhcp" => set("type", Value::str("dhcp4")),
        "ipv6_dhcp" => set("type", Value::str("dhcp6")),
        "ipv6_slaac" | "ipv6_dhcpv6-stateless" | "ipv6_dhcpv6-stateful" => {
            set("type", Value::str(kind))
        }
        "ipv4" | "static" => {
            set("type", Value::str("static"));
            set("address", address());
        }
        "ipv6" | "static6" => {
            cfg.insert(Value::str("accept-ra"), Value::Bool(false));
            set("type", Value::str("static6"));
            set("address", address());
        }
        _ => {}
    }
    if matches!(kind, "ipv6_dhcpv6-stateful" | "ipv6_dhcp") {
        cfg.insert(Value::str("accept-ra"), Value::Bool(true));
    }
    match kind {
        "ipv4" => set("ipv4", Value::Bool(true)),
        "ipv6" => set("ipv6", Value::Bool(true)),
        _ => {}
    }
    Ok(subnet)
}

/// The networks by the link they are on, in order. cloud-init compares
/// every network's `link` with a link's `id` (`n["link"] == link["id"]`),
/// so every network must be an object with a `link`; an id is hashable, so
/// a list or object `link` is on no link.
fn index_networks<'a>(networks: &[&'a J]) -> Result<NetworksByLink<'a>, NetInputError> {
    let mut by_link: HashMap<Key, Vec<_>> = HashMap::new();
    for network in networks {
        let J::Object(n) = network else {
            return Err(not_an_object("network", network));
        };
        let link = n.get("link").ok_or(missing("network", "link"))?;
        if let Some(key) = Key::of(link) {
            by_link.entry(key).or_default().push(n);
        }
    }
    Ok(by_link)
}

/// Python's `for x in value` over a value that must hold objects: a list
/// gives its items; an empty string or object gives nothing; a non-empty
/// one gives strings (which fail as objects); anything else is not
/// iterable. A missing key is `.get(key, [])`.
fn py_list<'a>(value: Option<&'a J>, key: &'static str) -> Result<Vec<&'a J>, NetInputError> {
    match value {
        None => Ok(Vec::new()),
        Some(J::Array(a)) => Ok(a.iter().collect()),
        Some(J::String(s)) if s.is_empty() => Ok(Vec::new()),
        Some(J::Object(o)) if o.is_empty() => Ok(Vec::new()),
        Some(other) => Err(NetInputError::NotAListOfObjects {
            key,
            found: json_type(other),
        }),
    }
}

/// An `item` of network_data.json that is `found` rather than an object.
fn not_an_object(item: &'static str, found: &J) -> NetInputError {
    NetInputError::NotAnObject {
        item,
        found: json_type(found),
    }
}

/// An `item` of network_data.json without `key`.
fn missing(item: &'static str, key: &'static str) -> NetInputError {
    NetInputError::MissingKey { item, key }
}

/// A JSON value as a Python dict key: `True == 1 == 1.0` hash alike.
/// Lists and objects are unhashable (`None`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Null,
    Int(i128),
    Float(u64),
    Str(String),
}

impl Key {
    fn of(v: &J) -> Option<Key> {
        Some(match v {
            J::Null => Key::Null,
            J::Bool(b) => Key::Int(i128::from(*b)),
            J::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Key::Int(i128::from(i))
                } else if let Some(u) = n.as_u64() {
                    Key::Int(i128::from(u))
                } else {
                    let f = n.as_f64().unwrap_or(f64::NAN);
                    if f.fract() == 0.0 && f.abs() < 1e38 {
                        Key::Int(f as i128)
                    } else {
                        Key::Float(f.to_bits())
                    }
                }
            }
            J::String(s) => Key::Str(s.clone()),
            J::Array(_) | J::Object(_) => return None,
        })
    }
}

/// `fmt % arg` for the vlan name format `"%s.<vlan_id>"`, where the
/// vlan id's own text is read as format too (as cloud-init's
/// `"%%s.%s" % vlan_id` leaves it): `%%` is a percent sign, and any other
/// conversion has no argument left (Python's TypeError or ValueError).
fn percent_s(fmt: &str, arg: &str) -> Result<String, NetInputError> {
    let mut out = String::new();
    let mut used = false;
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('s') if !used => {
                out.push_str(arg);
                used = true;
            }
            _ => return Err(NetInputError::VlanNameFormat(fmt.to_string())),
        }
    }
    Ok(out)
}

/// A JSON value as the crate's [`Value`], with no `$binary`-style
/// conventions (this is foreign data, not ours).
fn plain(v: &J) -> Value {
    match v {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => Value::Str(s.clone()),
        J::Array(a) => Value::Seq(a.iter().map(plain).collect()),
        J::Object(o) => Value::Map(plain_map(o)),
    }
}

fn plain_map(o: &Object) -> Mapping {
    // A JSON object's keys are distinct already (and may be many).
    Mapping::from_distinct_entries(o.iter().map(|(k, v)| (Value::str(k), plain(v))).collect())
}

fn json_type(v: &J) -> &'static str {
    match v {
        J::Null => "null",
        J::Bool(_) => "bool",
        J::Number(_) => "number",
        J::String(_) => "str",
        J::Array(_) => "list",
        J::Object(_) => "dict",
    }
}

fn py_str_j(v: &J) -> String {
    plain(v).python_str_any()
}

fn py_repr_j(v: &J) -> String {
    plain(v).python_repr()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn macs(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(m, n)| (m.to_string(), n.to_string()))
            .collect()
    }

    fn names(v1: &Value) -> Vec<String> {
        v1.get("config")
            .and_then(Value::as_seq)
            .unwrap_or_default()
            .iter()
            .filter_map(|c| c.get("name").map(Value::python_str_any))
            .collect()
    }

    #[test]
    fn unknown_mac_leaves_out_that_link_only() {
        let input = json!({
            "links": [
                {"id": "a", "type": "phy", "ethernet_mac_address": "fa:16:3e:00:00:00"},
                {"id": "b", "type": "phy", "ethernet_mac_address": "02:00:00:00:00:01"},
                {"id": "c", "type": "phy", "ethernet_mac_address": "fa:16:3e:00:00:02"}
            ],
            "networks": [
                {"id": "n0", "link": "a", "type": "ipv4_dhcp"},
                {"id": "n1", "link": "b", "type": "ipv4_dhcp"},
                {"id": "n2", "link": "c", "type": "ipv6_slaac"}
            ],
            "services": [{"type": "dns", "address": "192.0.2.1"}]
        });
        let known = macs(&[("fa:16:3e:00:00:00", "eth0"), ("fa:16:3e:00:00:02", "eth2")]);
        let (v1, warnings) = convert_net_json(&input, &known).unwrap();
        assert_eq!(names(&v1), ["eth0", "eth2"]);
        assert_eq!(v1.get("config").and_then(Value::as_seq).unwrap().len(), 3);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].starts_with("Unable to find a system nic for"));
        assert!(warnings[0].contains("02:00:00:00:00:01"));
    }

    #[test]
    fn left_out_members_cascade_to_bonds_and_vlans() {
        let input = json!({
            "links": [
                {"id": "a", "type": "phy", "ethernet_mac_address": "02:00:00:00:00:0a"},
                {"id": "b", "type": "phy", "ethernet_mac_address": "02:00:00:00:00:0b"},
                {"id": "c", "type": "phy", "ethernet_mac_address": "fa:16:3e:00:00:00"},
                {"id": "v0", "type": "vlan", "vlan_link": "bd", "vlan_id": 5,
                 "vlan_mac_address": "02:00:00:00:00:0a"},
                {"id": "bd", "type": "bond", "bond_links": ["a", "b"]},
                {"id": "bm", "type": "bond", "bond_links": ["a", "c"]},
                {"id": "v1", "type": "vlan", "vlan_link": "c", "vlan_id": 6,
                 "vlan_mac_address": "fa:16:3e:00:00:00"}
            ],
            "networks": [{"id": "n", "link": "v0", "type": "ipv4_dhcp"}]
        });
        let known = macs(&[("fa:16:3e:00:00:00", "eth0")]);
        let (v1, warnings) = convert_net_json(&input, &known).unwrap();
        // The vlan on the bond of two missing NICs goes with that bond; the
        // bond with one NIC left keeps it.
        assert_eq!(names(&v1), ["eth0", "bond1", "eth0.6"]);
        let bond1 = &v1.get("config").and_then(Value::as_seq).unwrap()[1];
        assert_eq!(
            bond1.get("bond_interfaces"),
            Some(&Value::Seq(vec![Value::str("eth0")]))
        );
        assert_eq!(warnings.len(), 5, "{warnings:?}");
    }

    #[test]
    fn no_links_no_lookup() {
        let (v1, w) = convert_net_json(&json!({}), &HashMap::new()).unwrap();
        assert_eq!(v1.to_json(), json!({"version": 1, "config": []}));
        assert!(w.is_empty());
        assert!(convert_net_json(&J::Null, &HashMap::new()).is_err());
    }

    #[test]
    fn python_values_in_names() {
        assert_eq!(
            plain(&json!({"a": [1, 2.5, null, true, "it's"]})).python_repr(),
            r#"{'a': [1, 2.5, None, True, "it's"]}"#
        );
        assert_eq!(percent_s("%s.5%%", "eth0").unwrap(), "eth0.5%");
        assert!(percent_s("%s.1%d", "eth0").is_err());
        assert!(percent_s("%s.1%", "eth0").is_err());
        assert_eq!(Key::of(&json!(true)), Key::of(&json!(1.0)));
        assert_ne!(Key::of(&json!("1")), Key::of(&json!(1)));
        assert_eq!(Key::of(&json!([1])), None);
    }

    /// Every value of every key has the wrong type somewhere, lists are
    /// long, keys are missing: no panic, and an answer or an error.
    #[test]
    fn hostile_input_never_panics() {
        let odd = [
            json!(null),
            json!(true),
            json!(0),
            json!(-1),
            json!(1.5),
            json!(18446744073709551615u64),
            json!(""),
            json!("x"),
            json!("%s%d%"),
            json!([]),
            json!([null]),
            json!([[]]),
            json!({}),
            json!({"a": 1}),
        ];
        let keys = [
            "id",
            "type",
            "name",
            "ethernet_mac_address",
            "bond_links",
            "vlan_link",
            "vlan_id",
            "vlan_mac_address",
            "mtu",
            "params",
        ];
        let known = macs(&[("fa:16:3e:00:00:00", "eth0")]);
        let base_links = [
            json!({"id": "a", "type": "phy", "ethernet_mac_address": "fa:16:3e:00:00:00"}),
            json!({"id": "b", "type": "bond", "bond_links": ["a"]}),
            json!({"id": "c", "type": "vlan", "vlan_link": "a", "vlan_id": 1,
                   "vlan_mac_address": "x"}),
        ];
        let mut runs = 0;
        for link in &base_links {
            for key in keys {
                for v in &odd {
                    let mut l = link.clone();
                    l[key] = v.clone();
                    let mut missing = link.clone();
                    missing.as_object_mut().unwrap().remove(key);
                    for l in [l, missing] {
                        let input = json!({
                            "links": [base_links[0].clone(), l],
                            "networks": [{"link": "a", "type": v.clone(), "ip_address": v.clone()},
                                         {"link": v.clone(), "type": "ipv4"}],
                            "services": [{"type": v.clone()}]
                        });
                        let _ = convert_net_json(&input, &known);
                        runs += 1;
                    }
                }
            }
        }
        for v in &odd {
            for key in ["links", "networks", "services"] {
                let mut alone = serde_json::Map::new();
                alone.insert(key.to_string(), v.clone());
                let _ = convert_net_json(&J::Object(alone), &known);
                let mut with_link = serde_json::Map::new();
                with_link.insert("links".into(), json!([base_links[0].clone()]));
                with_link.insert(key.to_string(), json!([v.clone()]));
                let _ = convert_net_json(&J::Object(with_link), &known);
            }
            let _ = convert_net_json(v, &known);
        }
        assert!(runs > 500);

        // Huge: many links on one id, many networks on it.
        let links: Vec<J> = (0..2000)
            .map(|_| json!({"id": "same", "type": "phy", "name": "x"}))
            .collect();
        let networks: Vec<J> = (0..2000)
            .map(|_| json!({"link": "same", "type": "ipv4_dhcp"}))
            .collect();
        let err = convert_net_json(&json!({"links": links, "networks": networks}), &known)
            .unwrap_err()
            .to_string();
        assert!(err.contains("subnets"), "{err}");
        // Many distinct links and networks convert, in linear time.
        let links: Vec<J> = (0..20000)
            .map(|i| json!({"id": i, "type": "phy", "name": format!("n{i}")}))
            .collect();
        let networks: Vec<J> = (0..20000)
            .map(|i| json!({"link": i, "type": "ipv4_dhcp"}))
            .collect();
        let (v1, _) =
            convert_net_json(&json!({"links": links, "networks": networks}), &known).unwrap();
        assert_eq!(names(&v1).len(), 20000);
        // Objects with many keys are copied in linear time too.
        let mut bond = serde_json::Map::new();
        for (k, v) in [
            ("id", json!("b")),
            ("type", json!("bond")),
            ("bond_links", json!([])),
        ] {
            bond.insert(k.into(), v);
        }
        for i in 0..200_000 {
            bond.insert(format!("bond_{i}"), json!(i));
        }
        let (v1, _) = convert_net_json(
            &json!({"links": [J::Object(bond)], "services": [{"type": "dns"}]}),
            &known,
        )
        .unwrap();
        assert_eq!(names(&v1), ["bond0"]);
    }
}
