//! ENI text (Debian's `/etc/network/interfaces` format) into network config
//! version 1, as cloud-init 22.4's `net/eni.py` `convert_eni_data` converts
//! it (`_parse_deb_config_data`, then `_ifaces_to_net_config_data`).
//! ConfigDrive's `network_config` (v1 drives' `etc/network/interfaces`, v2
//! drives' `content_path` file) is such text: nova's injected-network
//! templates, one `iface` stanza per NIC.
//!
//! The parse keeps cloud-init's quirks, since the version 1 it yields is
//! what every renderer sees: lines are split on single spaces (so a tab or
//! two spaces change the meaning), each `iface` stanza becomes one subnet
//! of the device named before any `:`, only `address`, `netmask`,
//! `gateway`, `broadcast`, `hwaddress` and `dns-*` are carried over (bonds,
//! bridges, VLANs, `mtu`, `post-up` routes are read and dropped), an
//! interface not on an `auto` line gets `control: manual` (`allow-hotplug`
//! does not count), and devices come out sorted by name. Where cloud-init
//! raises (an option before any `iface`, an option without its value, a
//! static stanza without `address`), this returns an error.
//!
//! Deliberate differences:
//!
//! - **An interface defined twice is merged.** cloud-init 22.4 raises
//!   `ParserError` ("Interface eth0 can only be defined once") at a second
//!   `iface eth0`, so nothing gets configured. But nova's templates of the
//!   cloud-init 0.7.5 era write exactly that for a dual-stack NIC
//!   (`iface eth0 inet static` then `iface eth0 inet6 static`), and ifupdown
//!   itself reads every stanza. Here each stanza becomes its own subnet of
//!   the one device, in file order, as `eth0:1` aliases do; an `auto` line
//!   covers all stanzas of its name.
//! - **`inet6 dhcp` and `inet6 auto` stay IPv6.** cloud-init drops the
//!   family and keeps the method, so `iface eth0 inet6 dhcp` becomes IPv4
//!   DHCP (`type: dhcp`) and `inet6 auto` an unknown type `auto`. Here they
//!   become `dhcp6`, and `ipv6_slaac` (`ipv6_dhcpv6-stateless` with
//!   `dhcp 1`), which render back to the same stanzas. `inet6 static` keeps
//!   `type: static` as in cloud-init (its address makes it IPv6).
//! - **A name on an `auto` line with no `iface` stanza is skipped**
//!   (cloud-init raises `KeyError: 'method'`; ifupdown ignores it too).
//! - **`source` and `source-directory` are not followed.** cloud-init
//!   follows them on the machine it runs on (and raises on a relative
//!   path, as this text has no directory). The text comes from metadata;
//!   the files it would name are the image's, not the datasource's.

use std::collections::{BTreeMap, HashSet};

use super::NetInputError;
use crate::net::render::eni::{py_splitlines, py_strip};
use crate::value::{Mapping, Value};

/// `NET_CONFIG_OPTIONS`: options cloud-init keeps as one value.
const SINGLE_VALUE_OPTIONS: &[&str] = &[
    "address",
    "netmask",
    "broadcast",
    "network",
    "metric",
    "gateway",
    "pointtopoint",
    "media",
    "mtu",
    "hostname",
    "leasehours",
    "leasetime",
    "vendor",
    "client",
    "bootfile",
    "server",
    "hwaddr",
    "provider",
    "frame",
    "netnum",
    "endpoint",
    "local",
    "ttl",
];

/// `NET_CONFIG_COMMANDS`: options cloud-init collects into lists.
const COMMANDS: &[&str] = &["pre-up", "up", "post-up", "down", "pre-down", "post-down"];

/// `NET_CONFIG_BRIDGE_OPTIONS`.
const BRIDGE_OPTIONS: &[&str] = &[
    "bridge_ageing",
    "bridge_bridgeprio",
    "bridge_fd",
    "bridge_gcinit",
    "bridge_hello",
    "bridge_maxage",
    "bridge_maxwait",
    "bridge_stp",
];

/// One `iface` stanza: what `_ifaces_to_net_config_data` reads of
/// cloud-init's per-interface dict.
#[derive(Debug, Default)]
struct Stanza {
    name: String,
    family: Option<String>,
    method: Option<String>,
    hwaddress: Option<String>,
    /// `NET_CONFIG_OPTIONS` values, by option.
    options: BTreeMap<String, String>,
    nameservers: Option<Vec<String>>,
    search: Option<Vec<String>>,
}

/// `convert_eni_data`: `{version: 1, config: [...]}`.
pub fn convert_eni(text: &str) -> Result<Value, NetInputError> {
    let (stanzas, auto) = parse(text)?;
    to_net_config(&stanzas, &auto)
}

/// `_parse_deb_config_data`, with the differences the module comment lists:
/// the stanzas in file order, and the names on `auto` lines.
fn parse(text: &str) -> Result<(Vec<Stanza>, HashSet<String>), NetInputError> {
    let mut stanzas: Vec<Stanza> = Vec::new();
    let mut auto: HashSet<String> = HashSet::new();
    // The stanza options go to (cloud-init's `currif`).
    let mut current: Option<usize> = None;
    for (number, raw) in py_splitlines(text).into_iter().enumerate() {
        let line = py_strip(raw);
        if line.starts_with('#') {
            continue;
        }
        let err = |problem: &str| NetInputError::EniLine {
            line: number + 1,
            problem: problem.to_string(),
            text: line.to_string(),
        };
        // `line.split(" ")`: single spaces, empty words kept.
        let split: Vec<&str> = line.split(' ').collect();
        let option = split[0];
        let arg = |i: usize| {
            split
                .get(i)
                .copied()
                .ok_or_else(|| err(&format!("'{option}' needs {i} value(s)")))
        };
        match option {
            "source" | "source-directory" => {}
            "auto" => {
                for name in &split[1..] {
                    if !stanzas.iter().any(|s| s.name == *name) {
                        stanzas.push(Stanza {
                            name: name.to_string(),
                            ..Default::default()
                        });
                    }
                    auto.insert(name.to_string());
                }
            }
            "iface" => {
                if split.len() < 4 {
                    return Err(err("'iface' needs a name, a family and a method"));
                }
                let name = split[1];
                // The entry an `auto` line made, or a new stanza when the
                // name already has one (merged; cloud-init: ParserError).
                let open = stanzas
                    .iter()
                    .rposition(|s| s.name == name && s.family.is_none());
                let index = match open {
                    Some(i) => i,
                    None => {
                        stanzas.push(Stanza {
                            name: name.to_string(),
                            ..Default::default()
                        });
                        stanzas.len() - 1
                    }
                };
                stanzas[index].family = Some(split[2].to_string());
                stanzas[index].method = Some(split[3].to_string());
                current = Some(index);
            }
            _ => {
                let Some(known) = stanza_option(option) else {
                    continue;
                };
                if matches!(known, Opt::Dhcp) && current.is_none() {
                    continue;
                }
                let Some(stanza) = current.and_then(|i| stanzas.get_mut(i)) else {
                    return Err(err("option outside of an 'iface' stanza"));
                };
                match known {
                    Opt::Hwaddress => {
                        let mac = if arg(1)? == "ether" { arg(2)? } else { arg(1)? };
                        stanza.hwaddress = Some(mac.to_string());
                    }
                    Opt::Single => {
                        stanza
                            .options
                            .insert(option.to_string(), arg(1)?.to_string());
                    }
                    Opt::Command => {}
                    Opt::Dns => {
                        let values = || split[1..].iter().map(|s| s.to_string()).collect();
                        match option {
                            "dns-search" => stanza.search = Some(values()),
                            "dns-nameservers" => stanza.nameservers = Some(values()),
                            _ => {}
                        }
                    }
                    Opt::Bridge => {
                        if BRIDGE_OPTIONS.contains(&option) {
                            arg(1)?;
                        } else if option == "bridge_hw" {
                            if arg(1)?.eq_ignore_ascii_case("mac") {
                                arg(2)?;
                            }
                        } else if option == "bridge_pathcost" || option == "bridge_portprio" {
                            arg(2)?;
                        }
                    }
                    Opt::Bond => {
                        arg(1)?;
                    }
                    Opt::Dhcp => {
                        // Not read by cloud-init; only for `inet6 auto`.
                        if let Some(v) = split.get(1) {
                            stanza.options.insert("dhcp".into(), v.to_string());
                        }
                    }
                }
            }
        }
    }
    Ok((stanzas, auto))
}

/// The kinds of stanza option cloud-init reads (and fails on, without an
/// `iface` before them).
enum Opt {
    Hwaddress,
    Single,
    Command,
    Dns,
    Bridge,
    Bond,
    Dhcp,
}

fn stanza_option(option: &str) -> Option<Opt> {
    Some(if option == "hwaddress" {
        Opt::Hwaddress
    } else if SINGLE_VALUE_OPTIONS.contains(&option) {
        Opt::Single
    } else if COMMANDS.contains(&option) {
        Opt::Command
    } else if option.starts_with("dns-") {
        Opt::Dns
    } else if option.starts_with("bridge_") {
        Opt::Bridge
    } else if option.starts_with("bond-") {
        Opt::Bond
    } else if option == "dhcp" {
        Opt::Dhcp
    } else {
        return None;
    })
}

/// `_ifaces_to_net_config_data`: one device per name before `:` (`lo` a
/// loopback, the rest physical), one subnet per stanza, sorted by device.
fn to_net_config(stanzas: &[Stanza], auto: &HashSet<String>) -> Result<Value, NetInputError> {
    let mut devs: BTreeMap<String, Mapping> = BTreeMap::new();
    for stanza in stanzas {
        // Named only on an `auto` line (cloud-init: KeyError).
        let (Some(family), Some(method)) = (&stanza.family, &stanza.method) else {
            continue;
        };
        let devname = stanza.name.split(':').next().unwrap_or_default();
        let dev = devs.entry(devname.to_string()).or_insert_with(|| {
            let mut dev = Mapping::new();
            let kind = if devname == "lo" {
                "loopback"
            } else {
                "physical"
            };
            put(&mut dev, "type", Value::str(kind));
            put(&mut dev, "name", Value::str(devname));
            put(&mut dev, "subnets", Value::Seq(Vec::new()));
            // "this isnt strictly correct, but some might specify
            // hwaddress on a nic for matching / declaring name."
            if let Some(mac) = &stanza.hwaddress {
                put(&mut dev, "mac_address", Value::str(mac));
            }
            dev
        });
        let mut subnet = Mapping::new();
        put(&mut subnet, "_orig_eni_name", Value::str(&stanza.name));
        put(
            &mut subnet,
            "type",
            Value::str(subnet_type(stanza, family, method)),
        );
        let control = if auto.contains(&stanza.name) {
            "auto"
        } else {
            "manual"
        };
        put(&mut subnet, "control", Value::str(control));
        if method == "static" {
            let address = stanza
                .options
                .get("address")
                .ok_or_else(|| NetInputError::EniNoAddress(stanza.name.clone()))?;
            put(&mut subnet, "address", Value::str(address));
        }
        for key in ["netmask", "gateway", "broadcast"] {
            if let Some(v) = stanza.options.get(key) {
                put(&mut subnet, key, Value::str(v));
            }
        }
        for (key, list) in [
            ("dns_nameservers", &stanza.nameservers),
            ("dns_search", &stanza.search),
        ] {
            if let Some(list) = list.as_ref().filter(|l| !l.is_empty()) {
                put(
                    &mut subnet,
                    key,
                    Value::Seq(list.iter().map(Value::str).collect()),
                );
            }
        }
        if let Some(Value::Seq(subnets)) = dev.get_mut("subnets") {
            subnets.push(Value::Map(subnet));
        }
    }
    let mut out = Mapping::new();
    put(&mut out, "version", Value::Int(1));
    put(
        &mut out,
        "config",
        Value::Seq(devs.into_values().map(Value::Map).collect()),
    );
    Ok(Value::Map(out))
}

/// The v1 subnet type: the method, as cloud-init has it, except that IPv6
/// DHCP and autoconfiguration keep their family (see the module comment).
fn subnet_type<'a>(stanza: &Stanza, family: &str, method: &'a str) -> &'a str {
    match (family, method) {
        ("inet6", "dhcp") => "dhcp6",
        ("inet6", "auto") if stanza.options.get("dhcp").map(String::as_str) == Some("1") => {
            "ipv6_dhcpv6-stateless"
        }
        ("inet6", "auto") => "ipv6_slaac",
        _ => method,
    }
}

fn put(map: &mut Mapping, key: &str, value: Value) {
    map.insert(Value::str(key), value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v1(text: &str) -> serde_json::Value {
        convert_eni(text).unwrap().to_json()
    }

    #[test]
    fn nova_dual_stack_stanzas_merge_into_one_device() {
        let out = v1("auto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet static\n    address 10.0.0.5\n    netmask 255.255.255.0\n    gateway 10.0.0.1\n\niface eth0 inet6 static\n    address 2001:db8::5\n    netmask 64\n    gateway 2001:db8::1\n");
        let config = out["config"].as_array().unwrap();
        assert_eq!(config.len(), 2);
        let eth0 = &config[0];
        assert_eq!(eth0["name"], "eth0");
        let subnets = eth0["subnets"].as_array().unwrap();
        assert_eq!(subnets.len(), 2);
        assert_eq!(subnets[0]["address"], "10.0.0.5");
        assert_eq!(subnets[1]["address"], "2001:db8::5");
        assert_eq!(subnets[1]["control"], "auto");
        assert_eq!(subnets[1]["gateway"], "2001:db8::1");
    }

    #[test]
    fn errors_where_cloud_init_raises() {
        for text in [
            "address 10.0.0.1\n",
            "iface eth0 inet\n",
            "iface eth0 inet static\n address\n",
            "iface eth0 inet static\nhwaddress ether\n",
            "iface eth0 inet static\n",
            "iface br0 inet manual\nbridge_pathcost eth0\n",
            "iface bond0 inet manual\nbond-mode\n",
            "post-up true\n",
        ] {
            assert!(convert_eni(text).is_err(), "{text:?}");
        }
        // ...and not where it does not.
        for text in [
            "",
            "\n\n# only comments\n",
            "auto\n",
            "iface eth0 inet dhcp extra words\n\tmtu 9000\n",
            "iface eth0 inet manual\nbridge_ports\nbridge_hw MAC aa:bb:cc:dd:ee:ff\n",
            "source /nonexistent\nsource-directory relative\n",
        ] {
            assert!(convert_eni(text).is_ok(), "{text:?}");
        }
    }

    /// Random lines of ENI words, spaces and odd characters: an answer,
    /// never a panic.
    #[test]
    fn random_lines_never_panic() {
        const WORDS: &[&str] = &[
            "auto",
            "iface",
            "eth0",
            "eth0:1",
            "lo",
            "inet",
            "inet6",
            "static",
            "dhcp",
            "auto",
            "manual",
            "address",
            "netmask",
            "gateway",
            "broadcast",
            "hwaddress",
            "ether",
            "dns-nameservers",
            "dns-search",
            "dns-x",
            "bridge_ports",
            "bridge_hw",
            "mac",
            "bridge_pathcost",
            "bridge_portprio",
            "bridge_stp",
            "bond-mode",
            "post-up",
            "source",
            "source-directory",
            "dhcp",
            "1",
            "10.0.0.1",
            "::1",
            "#",
            ":",
            "",
            " ",
            "\t",
            "\r",
            "\u{85}",
            "\u{2028}",
            "é",
            "\u{0}",
        ];
        // xorshift: deterministic, no dependency.
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut converted = 0;
        for _ in 0..3000 {
            let mut text = String::new();
            for _ in 0..next(8) {
                let words: Vec<&str> = (0..next(6)).map(|_| WORDS[next(WORDS.len())]).collect();
                text.push_str(&" ".repeat(next(3)));
                text.push_str(&words.join(if next(4) == 0 { "  " } else { " " }));
                text.push(if next(5) == 0 { '\r' } else { '\n' });
            }
            if let Ok(v) = convert_eni(&text) {
                converted += 1;
                // What comes out is a config the model takes or refuses,
                // and the renderer writes what the model takes.
                if let Ok(st) = crate::net::state::NetworkState::parse(&v, &Default::default()) {
                    let _ = crate::net::render::eni::render_interfaces(&st, &mut Vec::new());
                }
            }
        }
        assert!(converted > 100, "{converted}");
    }
}
