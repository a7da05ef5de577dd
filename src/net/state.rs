//! The one network model: cloud-init's `network_state`
//! (`cloudinit/net/network_state.py`), built from network config version 1
//! or 2 (other inputs convert to version 1 first). Every renderer reads
//! only this.
//!
//! It keeps cloud-init's shape on purpose: an interface is an ordered map
//! whose keys are exactly the ones cloud-init's dict has (`name`, `type`,
//! `mac_address`, `mtu`, `subnets`, `bond-mode`, `bridge_stp`,
//! `vlan-raw-device`, ...), and subnets and routes are normalized as
//! `_normalize_subnet` and `_normalize_route` normalize them. The renderers'
//! output must match cloud-init's byte for byte, and they key off these
//! fields (and their order) the way cloud-init's renderers do; typed
//! accessors cover what is common.

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::value::{Mapping, Value};

/// Network config that cannot be used, with what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct NetError(pub String);

/// The interpreted network config.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NetworkState {
    /// The input's version (1 or 2).
    pub version: u8,
    /// The input as given (`config:` of v1, the whole document of v2).
    pub config: Value,
    /// Interfaces in the order cloud-init's dict holds them.
    pub interfaces: Vec<Iface>,
    /// Routes not bound to a subnet (v1 `type: route`).
    pub routes: Vec<Mapping>,
    pub nameservers: Vec<String>,
    pub search: Vec<String>,
    pub use_ipv6: bool,
    /// Commands skipped as invalid (cloud-init logs them and goes on).
    pub warnings: Vec<String>,
    /// Where each interface is in `interfaces`, by name, while parsing: a
    /// scan for each command made a config of n interfaces cost n².
    index: HashMap<String, usize>,
    /// A command's `params` renamed an interface (a `name` key): the
    /// index no longer says, and names are looked up by a scan.
    renamed: bool,
}

/// One interface: cloud-init's interface dict.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Iface(pub Mapping);

impl Iface {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    pub fn str(&self, key: &str) -> Option<String> {
        self.get(key).map(Value::python_str)
    }

    pub fn name(&self) -> String {
        self.str("name").unwrap_or_default()
    }

    /// `physical`, `bond`, `bridge`, `vlan`, `loopback`, `infiniband`.
    pub fn kind(&self) -> String {
        self.str("type").unwrap_or_default()
    }

    pub fn mac(&self) -> Option<String> {
        self.str("mac_address")
    }

    pub fn subnets(&self) -> Vec<Subnet> {
        self.0
            .get("subnets")
            .and_then(Value::as_seq)
            .unwrap_or_default()
            .iter()
            .filter_map(|s| s.as_map().cloned().map(Subnet))
            .collect()
    }

    fn set(&mut self, key: &str, v: Value) {
        self.0.insert(Value::str(key), v);
    }
}

/// One subnet of an interface, normalized.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Subnet(pub Mapping);

impl Subnet {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    pub fn str(&self, key: &str) -> Option<String> {
        self.get(key).map(Value::python_str)
    }

    /// `dhcp4`, `dhcp6`, `dhcp`, `static`, `static6`, `ipv6_slaac`,
    /// `ipv6_dhcpv6-stateless`, `ipv6_dhcpv6-stateful`, `manual`, ...
    pub fn kind(&self) -> String {
        self.str("type").unwrap_or_default()
    }

    pub fn routes(&self) -> Vec<Mapping> {
        self.0
            .get("routes")
            .and_then(Value::as_seq)
            .unwrap_or_default()
            .iter()
            .filter_map(|r| r.as_map().cloned())
            .collect()
    }

    /// `subnet_is_ipv6`.
    pub fn is_ipv6(&self) -> bool {
        let k = self.kind();
        k.ends_with('6')
            || IPV6_DYNAMIC_TYPES.contains(&k.as_str())
            || (k == "static" && self.str("address").is_some_and(|a| is_ipv6_address(&a)))
    }
}

/// `IPV6_DYNAMIC_TYPES`.
pub const IPV6_DYNAMIC_TYPES: &[&str] = &[
    "dhcp6",
    "ipv6_slaac",
    "ipv6_dhcpv6-stateless",
    "ipv6_dhcpv6-stateful",
];

/// v1 bond/bridge parameter names and their v2 spellings (`NET_CONFIG_TO_V2`).
pub const BOND_V1_TO_V2: &[(&str, &str)] = &[
    ("bond-ad-select", "ad-select"),
    ("bond-arp-interval", "arp-interval"),
    ("bond-arp-ip-target", "arp-ip-target"),
    ("bond-arp-validate", "arp-validate"),
    ("bond-downdelay", "down-delay"),
    ("bond-fail-over-mac", "fail-over-mac-policy"),
    ("bond-lacp-rate", "lacp-rate"),
    ("bond-miimon", "mii-monitor-interval"),
    ("bond-min-links", "min-links"),
    ("bond-mode", "mode"),
    ("bond-num-grat-arp", "gratuitous-arp"),
    ("bond-primary", "primary"),
    ("bond-primary-reselect", "primary-reselect-policy"),
    ("bond-updelay", "up-delay"),
    ("bond-xmit-hash-policy", "transmit-hash-policy"),
];
pub const BRIDGE_V1_TO_V2: &[(&str, Option<&str>)] = &[
    ("bridge_ageing", Some("ageing-time")),
    ("bridge_bridgeprio", Some("priority")),
    ("bridge_fd", Some("forward-delay")),
    ("bridge_gcint", None),
    ("bridge_hello", Some("hello-time")),
    ("bridge_maxage", Some("max-age")),
    ("bridge_maxwait", None),
    ("bridge_pathcost", Some("path-cost")),
    ("bridge_portprio", Some("port-priority")),
    ("bridge_stp", Some("stp")),
    ("bridge_waitport", None),
];

impl NetworkState {
    /// `parse_net_config_data`: a `{version, config}` (v1) or v2 document.
    /// `macs` maps a MAC (lower case) to the interface that has it here.
    pub fn parse(
        net_config: &Value,
        macs: &HashMap<String, String>,
    ) -> Result<NetworkState, NetError> {
        let doc = match net_config.get("network") {
            Some(inner @ Value::Map(_)) => inner,
            _ => net_config,
        };
        let version = match doc.get("version") {
            Some(Value::Int(v)) => *v,
            Some(other) => other.python_str().parse().unwrap_or(0),
            None => 0,
        };
        let mut st = NetworkState {
            version: version as u8,
            ..Default::default()
        };
        match version {
            1 => {
                let config = doc.get("config").cloned().ok_or_else(|| {
                    NetError("network config version 1 has no 'config' list".into())
                })?;
                st.config = config.clone();
                let items = config.as_seq().ok_or_else(|| {
                    NetError(format!(
                        "network config 'config' must be a list, not {}",
                        config.type_name()
                    ))
                })?;
                st.parse_v1(items)?;
            }
            2 => {
                st.config = doc.clone();
                st.parse_v2(doc, macs);
            }
            _ => {
                return Err(NetError(format!(
                    "No valid network_state object created from network config: unknown version {}",
                    doc.get("version")
                        .map(Value::python_str)
                        .unwrap_or_else(|| "(none)".into())
                )))
            }
        }
        Ok(st)
    }

    pub fn iface(&self, name: &str) -> Option<&Iface> {
        self.iface_index(name).map(|i| &self.interfaces[i])
    }

    /// The first interface named `name`. The index answers while it holds
    /// every interface under its own name; after a rename by `params`, with
    /// two interfaces of one name, or with `interfaces` changed from
    /// outside, a scan does.
    fn iface_index(&self, name: &str) -> Option<usize> {
        if !self.renamed && self.index.len() == self.interfaces.len() {
            match self.index.get(name) {
                None => return None,
                Some(&i) if self.interfaces.get(i).is_some_and(|f| f.name() == name) => {
                    return Some(i)
                }
                Some(_) => {}
            }
        }
        self.interfaces.iter().position(|i| i.name() == name)
    }

    /// Adds a command's `params` to interface `i` (a `name` among them
    /// renames it, as a dict update does in cloud-init).
    fn add_params(&mut self, i: usize, params: &Mapping) {
        for (k, v) in params.iter() {
            self.renamed |= k.as_str() == Some("name");
            self.interfaces[i].0.insert(k.clone(), v.clone());
        }
    }

    /// `has_default_route`.
    pub fn has_default_route(&self) -> bool {
        let is_default = |r: &Mapping| {
            matches!(r.get("prefix"), Some(Value::Int(0)))
                && matches!(
                    r.get("network").and_then(Value::as_str),
                    Some("::" | "0.0.0.0")
                )
        };
        self.routes.iter().any(is_default)
            || self
                .interfaces
                .iter()
                .flat_map(|i| i.subnets())
                .any(|s| s.routes().iter().any(is_default))
    }

    fn parse_v1(&mut self, items: &[Value]) -> Result<(), NetError> {
        // Per-interface nameservers, applied once every interface exists.
        let mut dns_map: Vec<(String, DnsLists)> = Vec::new();
        // Interface names given by more than one command: cloud-init lets the
        // later one replace the earlier's settings without a word; cloudboot
        // does the same and says so.
        let mut named: HashSet<String> = HashSet::new();
        for command in items {
            let Some(cmd) = command.as_map() else {
                self.warnings
                    .push(format!("Skipping invalid command: {command}"));
                continue;
            };
            let kind = cmd.get("type").map(Value::python_str).unwrap_or_default();
            if matches!(
                kind.as_str(),
                "physical" | "loopback" | "infiniband" | "vlan" | "bond" | "bridge"
            ) {
                if let Some(name) = cmd.get("name").map(Value::python_str) {
                    if !named.insert(name.clone()) {
                        let msg = format!(
                            "interface {name} is configured more than once: the later entry replaces the earlier one's settings (as in cloud-init)"
                        );
                        tracing::warn!("{msg}");
                        self.warnings.push(msg);
                    }
                }
            }
            let result = match kind.as_str() {
                "physical" | "loopback" | "infiniband" => self.handle_physical(cmd),
                "vlan" => self.handle_vlan(cmd),
                "bond" => self.handle_bond(cmd),
                "bridge" => self.handle_bridge(cmd),
                "nameserver" => match require(cmd, &["address"]) {
                    Ok(()) => {
                        let (ns, search) = parse_dns(cmd);
                        match cmd.get("interface") {
                            Some(i) => dns_map.push((i.python_str(), (ns, search))),
                            None => {
                                self.nameservers.extend(ns);
                                self.search.extend(search);
                            }
                        }
                        Ok(())
                    }
                    Err(e) => Err(e),
                },
                "route" => require(cmd, &["destination"]).and_then(|_| {
                    self.routes.push(normalize_route(cmd)?);
                    Ok(())
                }),
                other => {
                    return Err(NetError(format!("No handler found for  command '{other}'")));
                }
            };
            if let Err(e) = result {
                let msg = format!("Skipping invalid command: {}: {e}", command.to_json());
                tracing::warn!("{msg}");
                self.warnings.push(msg);
            }
        }
        for (name, (ns, search)) in dns_map {
            let idx = self.iface_index(&name).ok_or_else(|| {
                NetError(format!(
                    "Nameserver specified for interface {name}, but interface {name} does not exist!"
                ))
            })?;
            let mut dns = Mapping::new();
            dns.insert(Value::str("addresses"), strs(&ns));
            dns.insert(Value::str("search"), strs(&search));
            self.interfaces[idx].set("dns", Value::Map(dns));
        }
        Ok(())
    }

    /// `handle_physical` (also loopback and infiniband, and the base of the others).
    fn handle_physical(&mut self, cmd: &Mapping) -> Result<(), NetError> {
        require(cmd, &["name"])?;
        let name = cmd.get("name").map(Value::python_str).unwrap_or_default();
        let mut iface = match self.iface_index(&name) {
            Some(i) => self.interfaces[i].clone(),
            None => Iface::default(),
        };
        if let Some(params) = cmd.get("params").and_then(Value::as_map) {
            for (k, v) in params.iter() {
                iface.0.insert(k.clone(), v.clone());
            }
        }
        let subnets = normalize_subnets(cmd.get("subnets"))?;
        if !self.use_ipv6 {
            self.use_ipv6 = subnets.iter().any(|s| {
                s.get("type")
                    .map(Value::python_str)
                    .unwrap_or_default()
                    .ends_with('6')
                    || s.get("address")
                        .is_some_and(|a| is_ipv6_address(&a.python_str()))
            });
        }
        let bool_of = |key: &str| match cmd.get(key) {
            None | Some(Value::Null) => Value::Null,
            Some(v) => Value::Bool(v.to_bool()),
        };
        let entries = [
            ("name", cmd.get("name").cloned().unwrap_or_default()),
            ("type", cmd.get("type").cloned().unwrap_or_default()),
            (
                "mac_address",
                cmd.get("mac_address").cloned().unwrap_or_default(),
            ),
            ("inet", Value::str("inet")),
            ("mode", Value::str("manual")),
            ("mtu", cmd.get("mtu").cloned().unwrap_or_default()),
            ("address", Value::Null),
            ("gateway", Value::Null),
            (
                "subnets",
                Value::Seq(subnets.into_iter().map(Value::Map).collect()),
            ),
            ("accept-ra", bool_of("accept-ra")),
            ("wakeonlan", bool_of("wakeonlan")),
        ];
        for (k, v) in entries {
            iface.set(k, v);
        }
        // The index holds, for each name, the first interface of that
        // name (what a scan finds).
        match self.iface_index(&name) {
            Some(i) => {
                self.renamed |= iface.name() != name;
                self.interfaces[i] = iface;
            }
            None => {
                let at = self.interfaces.len();
                self.index.entry(iface.name()).or_insert(at);
                self.interfaces.push(iface);
            }
        }
        Ok(())
    }

    fn handle_vlan(&mut self, cmd: &Mapping) -> Result<(), NetError> {
        require(cmd, &["name", "vlan_id", "vlan_link"])?;
        self.handle_physical(cmd)?;
        let name = cmd.get("name").map(Value::python_str).unwrap_or_default();
        if let Some(i) = self.iface_index(&name) {
            let iface = &mut self.interfaces[i];
            iface.set(
                "vlan-raw-device",
                cmd.get("vlan_link").cloned().unwrap_or_default(),
            );
            iface.set("vlan_id", cmd.get("vlan_id").cloned().unwrap_or_default());
        }
        Ok(())
    }

    fn handle_bond(&mut self, cmd: &Mapping) -> Result<(), NetError> {
        require(cmd, &["name", "bond_interfaces", "params"])?;
        self.handle_physical(cmd)?;
        let name = cmd.get("name").map(Value::python_str).unwrap_or_default();
        let params = cmd
            .get("params")
            .and_then(Value::as_map)
            .cloned()
            .unwrap_or_default();
        if let Some(i) = self.iface_index(&name) {
            self.add_params(i, &params);
            self.interfaces[i].set("bond-slaves", Value::str("none"));
        }
        for slave in cmd
            .get("bond_interfaces")
            .and_then(Value::as_seq)
            .unwrap_or_default()
        {
            let slave = slave.python_str();
            if self.iface_index(&slave).is_none() {
                let mut placeholder = Mapping::new();
                placeholder.insert(Value::str("name"), Value::str(&slave));
                placeholder.insert(Value::str("type"), Value::str("bond"));
                self.handle_physical(&placeholder)?;
            }
            if let Some(i) = self.iface_index(&slave) {
                self.interfaces[i].set("bond-master", Value::str(&name));
                self.add_params(i, &params);
            }
        }
        Ok(())
    }

    fn handle_bridge(&mut self, cmd: &Mapping) -> Result<(), NetError> {
        require(cmd, &["name", "bridge_interfaces"])?;
        let ports: Vec<Value> = cmd
            .get("bridge_interfaces")
            .and_then(Value::as_seq)
            .unwrap_or_default()
            .to_vec();
        for port in &ports {
            let port = port.python_str();
            if self.iface_index(&port).is_none() {
                let mut placeholder = Mapping::new();
                placeholder.insert(Value::str("name"), Value::str(&port));
                self.handle_physical(&placeholder)?;
            }
        }
        self.handle_physical(cmd)?;
        let name = cmd.get("name").map(Value::python_str).unwrap_or_default();
        let i = self.iface_index(&name).expect("just added");
        self.interfaces[i].set("bridge_ports", Value::Seq(ports));
        if let Some(params) = cmd.get("params").and_then(Value::as_map) {
            self.add_params(i, params);
        }
        if let Some(stp) = self.interfaces[i].0.get("bridge_stp").cloned() {
            let b = match &stp {
                Value::Null => None,
                Value::Bool(b) => Some(*b),
                Value::Str(s) if s == "on" || s == "1" => Some(true),
                Value::Str(s) if s == "off" || s == "0" => Some(false),
                Value::Int(1) => Some(true),
                Value::Int(0) => Some(false),
                other => {
                    return Err(NetError(format!(
                        "Cannot convert bridge_stp value ({other}) to boolean"
                    )))
                }
            };
            if let Some(b) = b {
                self.interfaces[i].set("bridge_stp", Value::Bool(b));
            }
        }
        Ok(())
    }

    fn parse_v2(&mut self, doc: &Value, macs: &HashMap<String, String>) {
        let Some(map) = doc.as_map() else { return };
        for (k, section) in map.iter() {
            let key = k.python_str();
            if key == "version" || key == "renderer" {
                continue;
            }
            let Some(entries) = section.as_map() else {
                continue;
            };
            let result = match key.as_str() {
                "ethernets" => self.v2_ethernets(entries, macs),
                "bonds" => self.v2_bond_bridge(entries, "bond"),
                "bridges" => self.v2_bond_bridge(entries, "bridge"),
                "vlans" => self.v2_vlans(entries),
                "wifis" => {
                    tracing::warn!(
                        "Wifi configuration is only available to distros with netplan rendering support."
                    );
                    Ok(())
                }
                other => Err(NetError(format!("No handler found for command '{other}'"))),
            };
            match result {
                Ok(()) => self.v2_common(entries, macs),
                Err(e) => {
                    let msg = format!("Skipping invalid command: {key}: {e}");
                    tracing::warn!("{msg}");
                    self.warnings.push(msg);
                }
            }
        }
    }

    fn v2_ethernets(
        &mut self,
        entries: &Mapping,
        macs: &HashMap<String, String>,
    ) -> Result<(), NetError> {
        for (eth, cfg) in entries.iter() {
            let cfg = cfg.as_map().cloned().unwrap_or_default();
            let matcher = cfg
                .get("match")
                .and_then(Value::as_map)
                .cloned()
                .unwrap_or_default();
            let mac = matcher.get("macaddress").map(Value::python_str);
            let mut cmd = Mapping::new();
            cmd.insert(Value::str("type"), Value::str("physical"));
            cmd.insert(
                Value::str("mac_address"),
                mac.clone().map(Value::Str).unwrap_or_default(),
            );
            // set-name, else the interface that has the MAC, else the key.
            let mut name = eth.python_str();
            if let Some(set) = cfg.get("set-name").filter(|v| v.truthy()) {
                name = set.python_str();
            } else if let Some(found) = mac.as_ref().and_then(|m| macs.get(&m.to_lowercase())) {
                name = found.clone();
            }
            cmd.insert(Value::str("name"), Value::str(&name));
            if let Some(driver) = matcher.get("driver").filter(|v| v.truthy()) {
                let mut params = Mapping::new();
                params.insert(Value::str("driver"), driver.clone());
                cmd.insert(Value::str("params"), Value::Map(params));
            }
            for key in ["mtu", "match", "wakeonlan", "accept-ra"] {
                if let Some(v) = cfg.get(key) {
                    cmd.insert(Value::str(key), v.clone());
                }
            }
            let subnets = self.v2_to_v1_ipcfg(&cfg);
            if !subnets.is_empty() {
                cmd.insert(Value::str("subnets"), Value::Seq(subnets));
            }
            self.handle_physical(&cmd)?;
        }
        Ok(())
    }

    fn v2_vlans(&mut self, entries: &Mapping) -> Result<(), NetError> {
        for (name, cfg) in entries.iter() {
            let cfg = cfg.as_map().cloned().unwrap_or_default();
            let mut cmd = Mapping::new();
            cmd.insert(Value::str("type"), Value::str("vlan"));
            cmd.insert(Value::str("name"), name.clone());
            cmd.insert(
                Value::str("vlan_id"),
                cfg.get("id").cloned().unwrap_or_default(),
            );
            cmd.insert(
                Value::str("vlan_link"),
                cfg.get("link").cloned().unwrap_or_default(),
            );
            if let Some(mtu) = cfg.get("mtu") {
                cmd.insert(Value::str("mtu"), mtu.clone());
            }
            let subnets = self.v2_to_v1_ipcfg(&cfg);
            if !subnets.is_empty() {
                cmd.insert(Value::str("subnets"), Value::Seq(subnets));
            }
            self.handle_vlan(&cmd)?;
        }
        Ok(())
    }

    fn v2_bond_bridge(&mut self, entries: &Mapping, kind: &str) -> Result<(), NetError> {
        for (name, cfg) in entries.iter() {
            let cfg = cfg.as_map().cloned().unwrap_or_default();
            let mut params = cfg
                .get("parameters")
                .and_then(Value::as_map)
                .cloned()
                .unwrap_or_default();
            // Both spellings are accepted (as netplan does); LP: #1756701.
            if let Some(v) = params.remove("gratuitious-arp").filter(|v| v.truthy()) {
                params.insert(Value::str("gratuitous-arp"), v);
            }
            let mut v1_params = Mapping::new();
            for (k, v) in params.iter() {
                let key = k.python_str();
                let v1 = if kind == "bond" {
                    BOND_V1_TO_V2
                        .iter()
                        .find(|(_, v2)| *v2 == key)
                        .map(|(v1, _)| *v1)
                } else {
                    BRIDGE_V1_TO_V2
                        .iter()
                        .find(|(_, v2)| *v2 == Some(key.as_str()))
                        .map(|(v1, _)| *v1)
                };
                let v1 = v1.ok_or_else(|| NetError(format!("KeyError: '{key}'")))?;
                v1_params.insert(Value::str(v1), v.clone());
            }
            let mut cmd = Mapping::new();
            cmd.insert(Value::str("type"), Value::str(kind));
            cmd.insert(Value::str("name"), name.clone());
            cmd.insert(
                Value::str(format!("{kind}_interfaces")),
                cfg.get("interfaces").cloned().unwrap_or_default(),
            );
            cmd.insert(Value::str("params"), Value::Map(v1_params));
            if let Some(mtu) = cfg.get("mtu") {
                cmd.insert(Value::str("mtu"), mtu.clone());
            }
            let subnets = self.v2_to_v1_ipcfg(&cfg);
            if !subnets.is_empty() {
                cmd.insert(Value::str("subnets"), Value::Seq(subnets));
            }
            if kind == "bond" {
                self.handle_bond(&cmd)?;
            } else {
                self.handle_bridge(&cmd)?;
            }
        }
        Ok(())
    }

    /// `_v2_common`: per-interface nameservers also become global ones.
    fn v2_common(&mut self, entries: &Mapping, macs: &HashMap<String, String>) {
        for (name, cfg) in entries.iter() {
            let Some(cfg) = cfg.as_map() else { continue };
            let mut iface = name.python_str();
            if let Some(set) = cfg.get("set-name").filter(|v| v.truthy()) {
                iface = set.python_str();
            }
            let Some(ns) = cfg.get("nameservers") else {
                continue;
            };
            let search: Vec<String> = ns
                .get("search")
                .and_then(Value::as_seq)
                .map(|s| s.iter().map(Value::python_str).collect())
                .unwrap_or_default();
            let addrs: Vec<String> = ns
                .get("addresses")
                .and_then(Value::as_seq)
                .map(|s| s.iter().map(Value::python_str).collect())
                .unwrap_or_default();
            self.nameservers.extend(addrs.iter().cloned());
            self.search.extend(search.iter().cloned());
            if let Some(found) = cfg
                .get("match")
                .and_then(|m| m.get("macaddress"))
                .and_then(|m| macs.get(&m.python_str().to_lowercase()))
            {
                iface = found.clone();
            }
            // `_handle_individual_nameserver` needs an address list.
            if addrs.is_empty() {
                continue;
            }
            if let Some(i) = self.iface_index(&iface) {
                let mut dns = Mapping::new();
                dns.insert(Value::str("nameservers"), strs(&addrs));
                dns.insert(Value::str("search"), strs(&search));
                self.interfaces[i].set("dns", Value::Map(dns));
            }
        }
    }

    /// `_v2_to_v1_ipcfg`.
    fn v2_to_v1_ipcfg(&mut self, cfg: &Mapping) -> Vec<Value> {
        let mut subnets: Vec<Mapping> = Vec::new();
        let overrides = |key: &str, subnet: &mut Mapping| {
            if let Some(metric) = cfg.get(key).and_then(|o| o.get("route-metric")) {
                subnet.insert(Value::str("metric"), metric.clone());
            }
        };
        if cfg.get("dhcp4").is_some_and(Value::truthy) {
            let mut s = Mapping::new();
            s.insert(Value::str("type"), Value::str("dhcp4"));
            overrides("dhcp4-overrides", &mut s);
            subnets.push(s);
        }
        if cfg.get("dhcp6").is_some_and(Value::truthy) {
            let mut s = Mapping::new();
            s.insert(Value::str("type"), Value::str("dhcp6"));
            self.use_ipv6 = true;
            overrides("dhcp6-overrides", &mut s);
            subnets.push(s);
        }
        let (mut gw4, mut gw6) = (false, false);
        let mut ns_done = false;
        for address in cfg
            .get("addresses")
            .and_then(Value::as_seq)
            .unwrap_or_default()
        {
            let address = address.python_str();
            let mut s = Mapping::new();
            s.insert(Value::str("type"), Value::str("static"));
            s.insert(Value::str("address"), Value::str(&address));
            if address.contains(':') {
                if let (Some(g), false) = (cfg.get("gateway6"), gw6) {
                    s.insert(Value::str("gateway"), g.clone());
                    gw6 = true;
                }
            } else if let (Some(g), false) = (cfg.get("gateway4"), gw4) {
                s.insert(Value::str("gateway"), g.clone());
                gw4 = true;
            }
            if let (Some(ns), false) = (cfg.get("nameservers"), ns_done) {
                if let Some(a) = ns.get("addresses").filter(|a| a.truthy()) {
                    s.insert(Value::str("dns_nameservers"), a.clone());
                }
                if let Some(sr) = ns.get("search").filter(|a| a.truthy()) {
                    s.insert(Value::str("dns_search"), sr.clone());
                }
                ns_done = s.contains_key("dns_nameservers") || s.contains_key("dns_search");
            }
            subnets.push(s);
        }
        let routes: Vec<Value> = cfg
            .get("routes")
            .and_then(Value::as_seq)
            .unwrap_or_default()
            .iter()
            .filter_map(|r| {
                let mut m = Mapping::new();
                m.insert(
                    Value::str("destination"),
                    r.get("to").cloned().unwrap_or_default(),
                );
                m.insert(
                    Value::str("gateway"),
                    r.get("via").cloned().unwrap_or_default(),
                );
                normalize_route(&m).ok().map(Value::Map)
            })
            .collect();
        if let (Some(first), false) = (subnets.first_mut(), routes.is_empty()) {
            first.insert(Value::str("routes"), Value::Seq(routes));
        }
        subnets.into_iter().map(Value::Map).collect()
    }
}

/// (nameservers, search domains).
type DnsLists = (Vec<String>, Vec<String>);

fn strs(v: &[String]) -> Value {
    Value::Seq(v.iter().map(Value::str).collect())
}

/// `ensure_command_keys`.
fn require(cmd: &Mapping, keys: &[&str]) -> Result<(), NetError> {
    let missing: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|k| !cmd.contains_key(k))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(NetError(format!(
            "Command missing {{{}}} of required keys {:?}",
            missing
                .iter()
                .map(|k| format!("'{k}'"))
                .collect::<Vec<_>>()
                .join(", "),
            keys
        )))
    }
}

/// `_parse_dns`: addresses and search domains, each a value or a list.
fn parse_dns(cmd: &Mapping) -> (Vec<String>, Vec<String>) {
    let list = |key: &str| match cmd.get(key) {
        None => Vec::new(),
        Some(Value::Seq(s)) => s.iter().map(Value::python_str).collect(),
        Some(v) => vec![v.python_str()],
    };
    (list("address"), list("search"))
}

fn normalize_subnets(subnets: Option<&Value>) -> Result<Vec<Mapping>, NetError> {
    subnets
        .and_then(Value::as_seq)
        .unwrap_or_default()
        .iter()
        .map(|s| normalize_subnet(&s.as_map().cloned().unwrap_or_default()))
        .collect()
}

/// `_normalize_subnet`: falsy values pruned, static addresses normalized
/// (prefix, netmask), routes normalized, dns lists split.
pub fn normalize_subnet(subnet: &Mapping) -> Result<Mapping, NetError> {
    let mut normal: Mapping = subnet
        .iter()
        .filter(|(_, v)| v.truthy())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let kind = subnet
        .get("type")
        .map(Value::python_str)
        .unwrap_or_default();
    if kind == "static" || kind == "static6" {
        // `dict.update`: what normalizing drops (an IPv6 netmask) stays.
        for (k, v) in normalize_net_keys(&normal, &["address", "ip_address"])?.iter() {
            normal.insert(k.clone(), v.clone());
        }
    }
    let routes: Result<Vec<Value>, NetError> = subnet
        .get("routes")
        .and_then(Value::as_seq)
        .unwrap_or_default()
        .iter()
        .map(|r| normalize_route(&r.as_map().cloned().unwrap_or_default()).map(Value::Map))
        .collect();
    normal.insert(Value::str("routes"), Value::Seq(routes?));
    for key in ["dns_search", "dns_nameservers"] {
        if let Some(Value::Str(s)) = normal.get(key).cloned() {
            normal.insert(
                Value::str(key),
                Value::Seq(s.split_whitespace().map(Value::str).collect()),
            );
        }
    }
    Ok(normal)
}

/// `_normalize_route`: `destination` becomes `network`, prefix and netmask
/// worked out, metric an int; empty values pruned (0 kept).
pub fn normalize_route(route: &Mapping) -> Result<Mapping, NetError> {
    let mut normal: Mapping = route
        .iter()
        .filter(|(_, v)| !matches!(v, Value::Null) && !matches!(v, Value::Str(s) if s.is_empty()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(dest) = normal.remove("destination") {
        normal.insert(Value::str("network"), dest);
    }
    // `dict.update`: what normalizing drops (an IPv6 netmask) stays.
    for (k, v) in normalize_net_keys(&normal, &["network", "destination"])?.iter() {
        normal.insert(k.clone(), v.clone());
    }
    if let Some(metric) = normal.get("metric").filter(|m| m.truthy()).cloned() {
        let m =
            match metric {
                Value::Int(i) => i,
                other => other.python_str().trim().parse().map_err(|_| {
                    NetError(format!("Route config metric {other} is not an integer"))
                })?,
            };
        normal.insert(Value::str("metric"), Value::Int(m));
    }
    Ok(normal)
}

/// `_normalize_net_keys`: the first address key, split into address and
/// prefix; `netmask` for IPv4, none for IPv6.
fn normalize_net_keys(network: &Mapping, address_keys: &[&str]) -> Result<Mapping, NetError> {
    let mut net: Mapping = network
        .iter()
        .filter(|(_, v)| v.truthy())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let addr_key = address_keys
        .iter()
        .find(|k| net.get(k).is_some())
        .ok_or_else(|| {
            NetError(format!(
                "No config network address keys [{}] found in {}",
                address_keys.join(","),
                Value::Map(network.clone()).to_json()
            ))
        })?;
    let addr = net.get(addr_key).map(Value::python_str).unwrap_or_default();
    let (host, slash_prefix) = match addr.split_once('/') {
        Some((h, p)) => (h.to_string(), Some(p.to_string())),
        None => (addr.clone(), None),
    };
    let v6 = host.parse::<Ipv6Addr>().is_ok();
    let v4 = host.parse::<Ipv4Addr>().is_ok();
    if !v4 && !v6 {
        return Err(NetError(format!(
            "Address {addr} is not a valid ip address"
        )));
    }
    let netmask = net.get("netmask").map(Value::python_str);
    let prefix: u32 = if let Some(p) = &slash_prefix {
        net.insert(Value::str(*addr_key), Value::str(&host));
        if v6 {
            ipv6_mask_to_prefix(p)?
        } else {
            ipv4_mask_to_prefix(p)?
        }
    } else if let Some(p) = net.get("prefix") {
        p.python_str()
            .trim()
            .parse()
            .map_err(|_| NetError(format!("invalid prefix {p}")))?
    } else if let (Some(m), true) = (&netmask, v4) {
        ipv4_mask_to_prefix(m)?
    } else if let (Some(m), true) = (&netmask, v6) {
        ipv6_mask_to_prefix(m)?
    } else if v6 {
        64
    } else {
        24
    };
    if let Some(p) = net.get("prefix") {
        if p.python_str() != prefix.to_string() {
            tracing::warn!("Overwriting existing 'prefix' with '{prefix}' in network info");
        }
    }
    net.insert(Value::str("prefix"), Value::Int(prefix as i64));
    if v6 {
        net.remove("netmask");
    } else {
        net.insert(
            Value::str("netmask"),
            Value::str(prefix_to_ipv4_mask(prefix)),
        );
    }
    Ok(net)
}

/// `ipv4_mask_to_net_prefix`: `24` or `255.255.255.0`.
pub fn ipv4_mask_to_prefix(mask: &str) -> Result<u32, NetError> {
    let bad = || {
        NetError(format!(
            "'0.0.0.0/{mask}' does not appear to be an IPv4 or IPv6 network"
        ))
    };
    if let Ok(p) = mask.trim().parse::<u32>() {
        return (p <= 32).then_some(p).ok_or_else(bad);
    }
    let m: Ipv4Addr = mask.trim().parse().map_err(|_| bad())?;
    let bits = u32::from(m);
    // A netmask (ones then zeros) or a hostmask (zeros then ones).
    if bits.leading_ones() + bits.trailing_zeros() == 32 {
        Ok(bits.leading_ones())
    } else if (!bits).leading_ones() + (!bits).trailing_zeros() == 32 {
        Ok((!bits).leading_ones())
    } else {
        Err(bad())
    }
}

/// `ipv6_mask_to_net_prefix`: `64` or `ffff:ffff:ffff:ffff::`.
pub fn ipv6_mask_to_prefix(mask: &str) -> Result<u32, NetError> {
    if let Ok(p) = mask.trim().parse::<u32>() {
        return if p <= 128 {
            Ok(p)
        } else {
            Err(NetError(format!("Invalid network prefix {mask}")))
        };
    }
    let m: Ipv6Addr = mask
        .trim()
        .parse()
        .map_err(|_| NetError(format!("Invalid network prefix {mask}")))?;
    let bits = u128::from(m);
    if bits == 0 {
        return Ok(0);
    }
    let trailing = bits.trailing_zeros();
    let leading = bits.leading_ones();
    if leading + trailing != 128 {
        return Err(NetError(format!("Invalid network mask {mask}")));
    }
    Ok(128 - trailing)
}

/// `net_prefix_to_ipv4_mask`.
pub fn prefix_to_ipv4_mask(prefix: u32) -> String {
    let bits: u32 = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix.min(32))
    };
    Ipv4Addr::from(bits).to_string()
}

/// `is_ipv6_address`.
pub fn is_ipv6_address(s: &str) -> bool {
    s.parse::<Ipv6Addr>().is_ok()
}

impl NetworkState {
    /// The state in the shape cloud-init's `_network_state` has, as JSON
    /// (interfaces in order, keys in order): what the parity tests compare.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "interfaces": self.interfaces.iter().map(|i| Value::Map(i.0.clone()).to_json()).collect::<Vec<_>>(),
            "routes": self.routes.iter().map(|r| Value::Map(r.clone()).to_json()).collect::<Vec<_>>(),
            "dns": {"nameservers": self.nameservers, "search": self.search},
            "use_ipv6": self.use_ipv6,
        })
    }
}

/// The subnet key the default-gateway pass sets on a subnet whose gateway
/// must not become a default route.
pub const NOT_DEFAULT_KEY: &str = "_cloudboot_not_default";

impl NetworkState {
    /// cloudboot's deliberate fix of a cloud-init 22.4 defect: with several
    /// interfaces that have a gateway (or a default route), every one
    /// becomes a default route, and whichever comes up first wins. Here the
    /// first (in config order, which for OpenStack is the metadata's order)
    /// stays the default, per address family; the subnets of the others get
    /// [`NOT_DEFAULT_KEY`], and renderers do not make their gateways default
    /// routes (sysconfig writes `DEFROUTE=no`). Returns the demoted
    /// (interface, gateway) pairs, for the plan to show.
    pub fn demote_extra_default_gateways(&mut self) -> Vec<(String, String)> {
        let mut taken = [false, false]; // [IPv4, IPv6]
        let mut demoted = Vec::new();
        for iface in &mut self.interfaces {
            let name = iface.name();
            let Some(Value::Seq(subnets)) = iface.0.get_mut("subnets") else {
                continue;
            };
            for subnet in subnets.iter_mut() {
                let Value::Map(s) = subnet else { continue };
                let sub = Subnet(s.clone());
                let is_default_route = |r: &Mapping| {
                    matches!(r.get("prefix"), Some(Value::Int(0)))
                        && matches!(
                            r.get("network").and_then(Value::as_str),
                            Some("::" | "0.0.0.0")
                        )
                };
                let gateway = sub.str("gateway").or_else(|| {
                    sub.routes()
                        .iter()
                        .find(|r| is_default_route(r))
                        .and_then(|r| r.get("gateway").map(Value::python_str))
                });
                let Some(gw) = gateway else { continue };
                let family = usize::from(gw.contains(':'));
                if taken[family] {
                    s.insert(Value::str(NOT_DEFAULT_KEY), Value::Bool(true));
                    demoted.push((name.clone(), gw));
                } else {
                    taken[family] = true;
                }
            }
        }
        demoted
    }
}

impl Subnet {
    /// Set by [`NetworkState::demote_extra_default_gateways`].
    pub fn not_default(&self) -> bool {
        matches!(self.0.get(NOT_DEFAULT_KEY), Some(Value::Bool(true)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_given_twice_is_warned_about_and_the_later_entry_wins() {
        let cfg = crate::yaml::load(
            b"version: 1\nconfig:\n- {type: physical, name: eth0, subnets: [{type: static, address: 10.0.0.5/24}]}\n- {type: physical, name: eth0, subnets: [{type: dhcp}]}\n",
            "t",
        )
        .unwrap();
        let state = NetworkState::parse(&cfg, &HashMap::new()).unwrap();
        assert_eq!(state.interfaces.len(), 1);
        assert_eq!(state.interfaces[0].subnets()[0].kind(), "dhcp");
        assert_eq!(
            state.warnings,
            ["interface eth0 is configured more than once: the later entry replaces the earlier one's settings (as in cloud-init)"]
        );
    }
    use crate::yaml;

    fn parse(text: &str) -> NetworkState {
        let v = yaml::load(text.as_bytes(), "t").unwrap();
        let macs: HashMap<String, String> = [("aa:bb:cc:dd:ee:01".to_string(), "ens3".to_string())]
            .into_iter()
            .collect();
        NetworkState::parse(&v, &macs).unwrap()
    }

    #[test]
    fn v1_static_normalizes_prefix_and_netmask() {
        let st = parse(
            "version: 1\nconfig:\n- type: physical\n  name: eth0\n  mac_address: AA:BB:CC:DD:EE:01\n  subnets:\n  - {type: static, address: 10.0.0.5/255.255.0.0, gateway: 10.0.0.1, dns_nameservers: '1.1.1.1 8.8.8.8'}\n  - {type: static6, address: 'fd00::5/64'}\n- {type: nameserver, address: [9.9.9.9], search: example.com}\n- {type: route, destination: 0.0.0.0/0, gateway: 10.0.0.1, metric: '100'}\n",
        );
        let eth0 = st.iface("eth0").unwrap();
        let s = eth0.subnets();
        assert_eq!(s[0].get("address"), Some(&Value::str("10.0.0.5")));
        assert_eq!(s[0].get("prefix"), Some(&Value::Int(16)));
        assert_eq!(s[0].get("netmask"), Some(&Value::str("255.255.0.0")));
        assert_eq!(
            s[0].get("dns_nameservers"),
            Some(&Value::Seq(vec![
                Value::str("1.1.1.1"),
                Value::str("8.8.8.8")
            ]))
        );
        assert_eq!(s[1].get("prefix"), Some(&Value::Int(64)));
        assert!(s[1].get("netmask").is_none());
        assert!(st.use_ipv6);
        assert_eq!(st.nameservers, ["9.9.9.9"]);
        assert_eq!(st.search, ["example.com"]);
        assert_eq!(st.routes[0].get("metric"), Some(&Value::Int(100)));
        assert!(st.has_default_route());
        // cloud-init's key order for an interface.
        let keys: Vec<String> = eth0.0.iter().map(|(k, _)| k.python_str()).collect();
        assert_eq!(
            keys,
            [
                "name",
                "type",
                "mac_address",
                "inet",
                "mode",
                "mtu",
                "address",
                "gateway",
                "subnets",
                "accept-ra",
                "wakeonlan"
            ]
        );
    }

    #[test]
    fn v1_bond_vlan_bridge() {
        let st = parse(
            "version: 1\nconfig:\n- {type: physical, name: eth0, mac_address: 'aa:bb:cc:dd:ee:10'}\n- {type: physical, name: eth1, mac_address: 'aa:bb:cc:dd:ee:11'}\n- type: bond\n  name: bond0\n  bond_interfaces: [eth0, eth1]\n  params: {bond-mode: active-backup, bond-miimon: 100}\n  subnets: [{type: dhcp4}]\n- {type: vlan, name: bond0.200, vlan_link: bond0, vlan_id: 200, subnets: [{type: static, address: 192.168.200.2/24}]}\n- {type: bridge, name: br0, bridge_interfaces: [eth2], params: {bridge_stp: 'off'}}\n",
        );
        let bond = st.iface("bond0").unwrap();
        assert_eq!(bond.str("bond-mode").as_deref(), Some("active-backup"));
        assert_eq!(bond.str("bond-slaves").as_deref(), Some("none"));
        assert_eq!(
            st.iface("eth0").unwrap().str("bond-master").as_deref(),
            Some("bond0")
        );
        assert_eq!(
            st.iface("eth1").unwrap().str("bond-miimon").as_deref(),
            Some("100")
        );
        let vlan = st.iface("bond0.200").unwrap();
        assert_eq!(vlan.str("vlan-raw-device").as_deref(), Some("bond0"));
        assert_eq!(vlan.get("vlan_id"), Some(&Value::Int(200)));
        assert_eq!(
            st.iface("br0").unwrap().get("bridge_stp"),
            Some(&Value::Bool(false))
        );
        // The bridge port was added as a placeholder before the bridge.
        let names: Vec<String> = st.interfaces.iter().map(Iface::name).collect();
        assert_eq!(names, ["eth0", "eth1", "bond0", "bond0.200", "eth2", "br0"]);
    }

    #[test]
    fn v2_ethernets_bonds_and_names_by_mac() {
        let st = parse(
            "version: 2\nethernets:\n  id0:\n    match: {macaddress: 'AA:BB:CC:DD:EE:01'}\n    addresses: [10.1.0.2/24, 'fd01::2/64']\n    gateway4: 10.1.0.1\n    nameservers: {addresses: [10.1.0.53], search: [lan]}\n    routes: [{to: 10.9.0.0/16, via: 10.1.0.254}]\n  eth9: {dhcp4: true, dhcp4-overrides: {route-metric: 200}}\nbonds:\n  bond0:\n    interfaces: [eth9]\n    parameters: {mode: 802.3ad, mii-monitor-interval: 100}\n",
        );
        let ens3 = st.iface("ens3").expect("named by its MAC");
        let s = ens3.subnets();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].get("gateway"), Some(&Value::str("10.1.0.1")));
        assert_eq!(
            s[0].routes()[0].get("network"),
            Some(&Value::str("10.9.0.0"))
        );
        assert!(s[1].get("gateway").is_none());
        assert_eq!(
            st.iface("eth9").unwrap().subnets()[0].get("metric"),
            Some(&Value::Int(200))
        );
        assert_eq!(
            st.iface("bond0").unwrap().str("bond-mode").as_deref(),
            Some("802.3ad")
        );
        assert_eq!(st.nameservers, ["10.1.0.53"]);
        assert!(ens3.get("dns").is_some());
    }

    #[test]
    fn masks_and_prefixes() {
        assert_eq!(ipv4_mask_to_prefix("255.255.255.0").unwrap(), 24);
        assert_eq!(ipv4_mask_to_prefix("0.0.0.255").unwrap(), 24);
        assert!(ipv4_mask_to_prefix("255.0.255.0").is_err());
        assert_eq!(ipv6_mask_to_prefix("ffff:ffff:ffff::").unwrap(), 48);
        assert_eq!(prefix_to_ipv4_mask(20), "255.255.240.0");
        assert_eq!(prefix_to_ipv4_mask(0), "0.0.0.0");
    }
}
