//! What Red Hat's initscripts make of sysconfig files: a reader that
//! follows, step for step, how `ifup` reads an interface's files and which
//! `ip` commands it runs, for the two generations cloudboot's sysconfig
//! flavours write for. Debian has no initscripts to run, so this is the
//! test's stand-in for "source the files and bring the interface up".
//!
//! It follows initscripts **9.03.61** (RHEL/CentOS 6.10; `Flavor::Rhel6`)
//! and **9.49.53** (RHEL/CentOS 7.9; `Flavor::Rhel`), from
//! github.com/fedora-sysv/initscripts at those tags, files under
//! `sysconfig/network-scripts/`:
//!
//! * `ifup-eth`: `source_config` (after `../network`, i.e.
//!   /etc/sysconfig/network); `BOOTPROTO=dhcp|bootp` runs dhclient and
//!   applies **no** static `IPADDR*` at all; otherwise, if any of `IPADDR`,
//!   `IPADDR0`, `IPADDR1`, `IPADDR2` is set, `expand_config`
//!   (network-functions): for idx in '' 0..255, `IPADDR<idx>` with
//!   `PREFIX<idx>` (else `NETMASK<idx>`, else the address's class mask); a
//!   missing index is skipped, and the scan stops at the first missing one
//!   above 2; `NETWORK` is the first address's. Each address gets `ip addr
//!   add A/P`. The default route: only when `DEFROUTE != no` and `GATEWAY`
//!   is in the *first* address's network (`ipcalc --network $GATEWAY
//!   ${netmask[0]}` = `$NETWORK`): `ip route replace default [metric
//!   $METRIC] via $GATEWAY`. `GATEWAY<n>` is never read. A bond port
//!   (`MASTER`+`SLAVE=yes`) or bridge port (`BRIDGE=`) is enslaved and gets
//!   nothing else.
//! * `ifup-ipv6` (9.03: only with `IPV6INIT=yes`; 9.49: unless
//!   `IPV6INIT` is false): `IPV6ADDR`, then each of
//!   `IPV6ADDR_SECONDARIES`; `IPV6_DEFAULTGW` becomes `ip -6 route add ::/0
//!   via G` (network-functions-ipv6 `ipv6_set_default_route`; no metric).
//!   `DEFROUTE` is not looked at.
//! * `ifup-post` → `ifup-aliases` (each `ifcfg-<if>:<n>`: `IPADDR` with
//!   `PREFIX` or `NETMASK`, added to the parent whatever its `BOOTPROTO`)
//!   → `ifup-routes <if>`: for `route-<if>` then `route6-<if>`: a file with
//!   an `ADDRESS<n>=` line is read by `handle_file` (sourced; from n=0
//!   while `ADDRESS<n>` is set: `ip route add $ADDRESSn/$PREFIX [via
//!   $GATEWAYn] dev <if>`, the prefix from `NETMASK<n>`; **`METRIC<n>` is
//!   never read**, in 9.03 or 9.49); any other by `handle_ip_file`: each
//!   line that is not blank or a comment is `ip -4|-6 route add <line>`
//!   (-6 for `route6-`).
//!
//! The two generations read everything cloud-init writes the same way, but
//! for `IPV6INIT` (above); the reader still takes the generation so that a
//! difference found later has a place to go.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generation {
    /// initscripts 9.03.61, RHEL/CentOS 6.
    El6,
    /// initscripts 9.49.53, RHEL/CentOS 7.
    El7,
}

/// A route in the main table, as `ip route` would list it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    pub family: u8,
    /// `default`, or `N/P`.
    pub dst: String,
    pub via: Option<String>,
    pub metric: Option<String>,
    pub dev: String,
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ip -{} route {}", self.family, self.dst)?;
        if let Some(v) = &self.via {
            write!(f, " via {v}")?;
        }
        if let Some(m) = &self.metric {
            write!(f, " metric {m}")?;
        }
        write!(f, " dev {}", self.dev)
    }
}

/// What bringing every interface up would leave: per device its static
/// addresses (`A/P`), whether dhclient runs for IPv4, and the routes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub addresses: BTreeSet<(String, String)>,
    pub dhcp4: BTreeSet<String>,
    pub routes: BTreeSet<Route>,
    /// The `ip` commands in the order ifup would run them (for a real run
    /// in a network namespace), and what ifup would log as failed.
    pub commands: Vec<Vec<String>>,
    pub errors: Vec<String>,
    /// What ifup passes over without a word (a `GATEWAY` outside the first
    /// address's network).
    pub notes: Vec<String>,
}

/// The shell variables a file sets when sourced (`KEY=value`,
/// `KEY="value"`, `KEY='value'`; comments and blank lines skipped): what
/// `source_config` / `. $file` sees for the files the renderers write.
pub fn source(text: &str, vars: &mut BTreeMap<String, String>) {
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        vars.insert(key.trim().to_string(), value.to_string());
    }
}

fn ipv4(s: &str) -> Option<u32> {
    let parts: Vec<u32> = s
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    (parts.len() == 4 && parts.iter().all(|p| *p < 256))
        .then(|| parts.iter().fold(0, |a, p| (a << 8) | p))
}

fn dotted(v: u32) -> String {
    format!(
        "{}.{}.{}.{}",
        v >> 24,
        (v >> 16) & 255,
        (v >> 8) & 255,
        v & 255
    )
}

fn mask_of(prefix: u32) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix.min(32))
    }
}

/// `ipcalc --prefix A NETMASK`.
fn prefix_of(mask: u32) -> u32 {
    mask.count_ones()
}

/// `ipcalc --netmask A` without a prefix: the address's class mask.
fn class_mask(addr: u32) -> u32 {
    match addr >> 24 {
        0..=127 => mask_of(8),
        128..=191 => mask_of(16),
        _ => mask_of(24),
    }
}

/// One interface's files, read as ifup reads them.
struct Ifup<'a> {
    files: &'a BTreeMap<String, String>,
    generation: Generation,
    dir: &'a str,
    out: Applied,
}

impl Ifup<'_> {
    fn ip(&mut self, args: &[&str]) {
        self.out
            .commands
            .push(args.iter().map(|s| s.to_string()).collect());
    }

    fn add_route(&mut self, route: Route, replace: bool) {
        let family = route.family.to_string();
        let mut argv = vec![format!("-{family}"), "route".into()];
        argv.push(if replace { "replace" } else { "add" }.into());
        argv.push(route.dst.clone());
        if let Some(v) = &route.via {
            argv.extend(["via".into(), v.clone()]);
        }
        if let Some(m) = &route.metric {
            argv.extend(["metric".into(), m.clone()]);
        }
        argv.extend(["dev".into(), route.dev.clone()]);
        self.out.commands.push(argv);
        // The table's key: destination and metric (a replace takes the
        // place of the route with the same key; an add beside one fails).
        let same = self
            .out
            .routes
            .iter()
            .find(|r| r.family == route.family && r.dst == route.dst && r.metric == route.metric)
            .cloned();
        match same {
            Some(old) if replace => {
                self.out.routes.remove(&old);
                self.out.routes.insert(route);
            }
            Some(old) => self
                .out
                .errors
                .push(format!("{route}: RTNETLINK answers: File exists ({old})")),
            None => {
                self.out.routes.insert(route);
            }
        }
    }

    fn up(&mut self, device: &str) {
        let mut vars = BTreeMap::new();
        if let Some(network) = self.files.get("/etc/sysconfig/network") {
            source(network, &mut vars);
        }
        let Some(text) = self.files.get(&format!("{}/ifcfg-{device}", self.dir)) else {
            return;
        };
        source(text, &mut vars);
        let var = |k: &str| vars.get(k).cloned().unwrap_or_default();

        // ifup-eth: ports are enslaved and done.
        if (var("SLAVE") == "yes" && !var("MASTER").is_empty()) || !var("BRIDGE").is_empty() {
            return;
        }
        let bootproto = var("BOOTPROTO");
        if bootproto == "dhcp" || bootproto == "bootp" {
            self.out.dhcp4.insert(device.to_string());
        } else if ["IPADDR", "IPADDR0", "IPADDR1", "IPADDR2"]
            .iter()
            .any(|k| !var(k).is_empty())
        {
            // expand_config
            let mut addrs: Vec<(u32, u32)> = Vec::new();
            let indexes = std::iter::once(String::new()).chain((0..=255).map(|i| i.to_string()));
            for idx in indexes {
                let addr = var(&format!("IPADDR{idx}"));
                if addr.is_empty() {
                    if idx.parse::<u32>().is_ok_and(|i| i > 2) {
                        break;
                    }
                    continue;
                }
                let Some(a) = ipv4(&addr) else {
                    self.out
                        .errors
                        .push(format!("{device}: IPADDR{idx}={addr} is no address"));
                    continue;
                };
                let prefix = var(&format!("PREFIX{idx}"));
                let netmask = var(&format!("NETMASK{idx}"));
                let mask = match (prefix.parse::<u32>(), ipv4(&netmask)) {
                    (Ok(p), _) => mask_of(p),
                    (_, Some(m)) => m,
                    _ => class_mask(a),
                };
                addrs.push((a, mask));
            }
            let network = match ipv4(&var("NETWORK")) {
                Some(n) => n,
                None => addrs.first().map(|(a, m)| a & m).unwrap_or(0),
            };
            for (a, m) in &addrs {
                let cidr = format!("{}/{}", dotted(*a), prefix_of(*m));
                self.ip(&["-4", "addr", "add", &cidr, "dev", device]);
                self.out.addresses.insert((device.to_string(), cidr));
            }
            // The default route: GATEWAY in the first address's network.
            let gateway = var("GATEWAY");
            if var("DEFROUTE") != "no"
                && (var("GATEWAYDEV").is_empty() || var("GATEWAYDEV") == device)
            {
                let first_mask = addrs.first().map(|(_, m)| *m).unwrap_or(0);
                match ipv4(&gateway) {
                    Some(g) if g & first_mask == network => {
                        let metric = Some(var("METRIC")).filter(|m| !m.is_empty());
                        self.add_route(
                            Route {
                                family: 4,
                                dst: "default".into(),
                                via: Some(gateway.clone()),
                                metric,
                                dev: device.to_string(),
                            },
                            true,
                        );
                    }
                    Some(_) => self.out.notes.push(format!(
                        "{device}: GATEWAY={gateway} is not in the first address's network: no default route"
                    )),
                    None => {}
                }
            }
        }

        // ifup-ipv6
        let ipv6init = var("IPV6INIT");
        let ipv6 = match self.generation {
            Generation::El6 => ipv6init == "yes",
            Generation::El7 => !matches!(
                ipv6init.to_ascii_lowercase().as_str(),
                "no" | "false" | "0" | "off" | "n" | "f"
            ),
        };
        if ipv6 {
            let mut v6 = Vec::new();
            if !var("IPV6ADDR").is_empty() {
                v6.push(var("IPV6ADDR"));
            }
            v6.extend(
                var("IPV6ADDR_SECONDARIES")
                    .split_whitespace()
                    .map(str::to_string),
            );
            for a in v6 {
                self.ip(&["-6", "addr", "add", &a, "dev", device]);
                self.out.addresses.insert((device.to_string(), a));
            }
            let gw = var("IPV6_DEFAULTGW");
            if !gw.is_empty() && gw != "::" {
                self.add_route(
                    Route {
                        family: 6,
                        dst: "default".into(),
                        via: Some(gw.split('%').next().unwrap_or_default().to_string()),
                        metric: None,
                        dev: device.to_string(),
                    },
                    false,
                );
            }
        }

        // ifup-post: ifup-aliases, then ifup-routes.
        let alias_prefix = format!("{}/ifcfg-{device}:", self.dir);
        let aliases: Vec<String> = self
            .files
            .iter()
            .filter(|(p, _)| p.starts_with(&alias_prefix))
            .map(|(_, t)| t.clone())
            .collect();
        for text in aliases {
            let mut a = BTreeMap::new();
            source(&text, &mut a);
            let get = |k: &str| a.get(k).cloned().unwrap_or_default();
            let Some(addr) = ipv4(&get("IPADDR")) else {
                continue;
            };
            let mask = match (get("PREFIX").parse::<u32>(), ipv4(&get("NETMASK"))) {
                (Ok(p), _) => mask_of(p),
                (_, Some(m)) => m,
                _ => class_mask(addr),
            };
            let cidr = format!("{}/{}", dotted(addr), prefix_of(mask));
            self.ip(&["-4", "addr", "add", &cidr, "dev", device]);
            self.out.addresses.insert((device.to_string(), cidr));
        }
        for (name, family) in [("route", 4u8), ("route6", 6u8)] {
            let Some(text) = self
                .files
                .get(&format!("{}/{name}-{device}", self.dir))
                .cloned()
            else {
                continue;
            };
            let new_format = text.lines().any(|l| {
                let l = l.trim_start();
                l.strip_prefix("ADDRESS")
                    .and_then(|r| r.split_once('='))
                    .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
            });
            if new_format {
                // handle_file: `ip route add` (no -6: the kernel takes the
                // family from the address).
                let mut r = BTreeMap::new();
                source(&text, &mut r);
                let mut n = 0;
                while let Some(addr) = r.get(&format!("ADDRESS{n}")).filter(|a| !a.is_empty()) {
                    let mask = r
                        .get(&format!("NETMASK{n}"))
                        .and_then(|m| ipv4(m))
                        .or_else(|| ipv4(addr).map(class_mask))
                        .unwrap_or(0);
                    let dst = format!("{addr}/{}", prefix_of(mask));
                    let via = r
                        .get(&format!("GATEWAY{n}"))
                        .filter(|g| !g.is_empty())
                        .cloned();
                    let dst = if dst == "0.0.0.0/0" {
                        "default".to_string()
                    } else {
                        dst
                    };
                    self.add_route(
                        Route {
                            family: 4,
                            dst,
                            via,
                            metric: None,
                            dev: device.to_string(),
                        },
                        false,
                    );
                    n += 1;
                }
            } else {
                // handle_ip_file: `ip -4|-6 route add <line>`.
                for line in text.lines() {
                    let words: Vec<&str> = line.split_whitespace().collect();
                    if words.is_empty() || words[0].starts_with('#') {
                        continue;
                    }
                    match parse_route_args(&words, family) {
                        Ok(route) => self.add_route(route, false),
                        Err(e) => self
                            .out
                            .errors
                            .push(format!("{name}-{device}: {line:?}: {e}")),
                    }
                }
            }
        }
    }
}

/// `ip route add ARGS` as far as the renderers write them: a destination
/// (`default`, `::/0` and `0.0.0.0/0` being the default), `via G`,
/// `metric M`, `dev D`.
fn parse_route_args(words: &[&str], family: u8) -> Result<Route, String> {
    let mut dst = None;
    let mut via = None;
    let mut metric = None;
    let mut dev = None;
    let mut it = words.iter();
    while let Some(w) = it.next() {
        match *w {
            "via" => via = it.next().map(|s| s.to_string()),
            "metric" => metric = it.next().map(|s| s.to_string()),
            "dev" => dev = it.next().map(|s| s.to_string()),
            d if dst.is_none() => dst = Some(d.to_string()),
            other => return Err(format!("unexpected word {other}")),
        }
    }
    let dst = match dst.ok_or("no destination")? {
        d if d == "::/0" || d == "0.0.0.0/0" => "default".to_string(),
        d => d,
    };
    Ok(Route {
        family,
        dst,
        via,
        metric,
        dev: dev.ok_or("no dev")?,
    })
}

/// Brings every interface with an `ifcfg-<if>` (not an alias) up, in the
/// network service's order (ifcfg names sorted), as `generation`'s
/// initscripts would. `files` maps guest paths to contents.
pub fn bring_up(files: &BTreeMap<String, String>, generation: Generation) -> Applied {
    let dir = "/etc/sysconfig/network-scripts";
    let devices: Vec<String> = files
        .keys()
        .filter_map(|p| p.strip_prefix(&format!("{dir}/ifcfg-")))
        .filter(|d| !d.contains(':') && *d != "lo")
        .map(str::to_string)
        .collect();
    let mut ifup = Ifup {
        files,
        generation,
        dir,
        out: Applied::default(),
    };
    for device in &devices {
        let mut vars = BTreeMap::new();
        source(&files[&format!("{dir}/ifcfg-{device}")], &mut vars);
        // The network service starts only ONBOOT interfaces.
        if vars.get("ONBOOT").is_some_and(|v| v == "no") {
            continue;
        }
        ifup.up(device);
    }
    ifup.out
}
