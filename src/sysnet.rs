//! The machine's network interfaces as they are: `/sys/class/net` under
//! the target root, read through [`FsView`], and what cloud-init 22.4
//! makes of it (`cloudinit/net/__init__.py`): which interfaces count
//! (`get_interfaces`), the MAC -> name map `network_data.json` and v2
//! `match` are resolved with (`get_interfaces_by_mac`), InfiniBand
//! addresses (`get_ib_hwaddrs_by_interface`), and the fallback config
//! (`find_fallback_nic`, `generate_fallback_config`).
//!
//! [`SysNet::read`] reads every attribute cloud-init looks at once; the
//! rest is pure, so the rules are tested on fake trees. Two things cloud-init
//! does here need programs and are left to the caller: `udevadm settle`
//! before choosing the fallback NIC, and `ovs-vsctl` to list Open vSwitch
//! internal interfaces ([`SysNet::ovs_internal`]).
//!
//! It sits below both the network layer (`crate::net`, which renders what
//! it finds) and the datasources (whose ephemeral DHCP picks the fallback
//! NIC of the running machine with it), so neither needs the other;
//! `net::input::sys` names it too.
//!
//! Differences: the entries are taken in sorted order (`os.listdir` gives
//! the kernel's); a file that cannot be read for any reason counts as
//! absent (cloud-init only forgives ENOENT, ENOTDIR and EINVAL and raises
//! on the rest); MACs in the by-MAC map are lower-cased (sysfs writes them
//! lower-case anyway).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::path::Path;

use crate::rootfs::{FsView, Kind};
use crate::value::{Mapping, Value};

pub const SYS_CLASS_NET: &str = "/sys/class/net";

/// `DEFAULT_PRIMARY_INTERFACE`: preferred by the fallback when it has a link.
const DEFAULT_PRIMARY_INTERFACE: &str = "eth0";

/// `ARPHRD_INFINIBAND` as `/sys/class/net/<dev>/type` writes it.
const ARPHRD_INFINIBAND: &str = "32";

/// Two interfaces with one MAC (cloud-init's `RuntimeError`).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("duplicate mac found! both '{name}' and '{other}' have mac '{mac}'.")]
pub struct DuplicateMac {
    pub name: String,
    pub other: String,
    pub mac: String,
}

/// What cloud-init reads about one entry of `/sys/class/net` (`read_sys_net`
/// values are stripped; an unreadable or empty file is `None`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SysIface {
    pub name: String,
    /// `address`.
    pub address: Option<String>,
    /// `bonding_slave/` is a directory: a bond member, whose own MAC is
    /// `bonding_slave/perm_hwaddr` (`address` is the bond's).
    pub bonding_slave: bool,
    pub perm_hwaddr: Option<String>,
    /// `addr_assign_type`: 0 permanent, 1 random, 2 stolen, 3 set.
    pub addr_assign_type: Option<i64>,
    /// `type` (ARPHRD number): `32` is InfiniBand, `772` loopback.
    pub arp_type: Option<String>,
    /// `device` exists: backed by a device (`LinuxNetworking.is_physical`).
    pub has_device: bool,
    /// `bridge/` exists.
    pub bridge: bool,
    /// `bonding/` exists.
    pub bonding: bool,
    /// `uevent` has the line `DEVTYPE=vlan`.
    pub vlan: bool,
    /// The master's name when `master` exists (basename of its target).
    pub master: Option<String>,
    /// `master/bonding` or `master/bridge` exists.
    pub master_is_bridge_or_bond: bool,
    /// `upper_ovs-system` exists (a port of an Open vSwitch bridge).
    pub upper_ovs: bool,
    /// Basename of the `device/driver` link.
    pub driver: Option<String>,
    /// `device/device` (the PCI device id).
    pub device_id: Option<String>,
    /// `device/features` (virtio feature bits as `0`/`1` text).
    pub features: Option<String>,
    pub carrier: Option<i64>,
    pub dormant: Option<i64>,
    pub operstate: Option<String>,
    pub name_assign_type: Option<String>,
}

/// What an interface is, as cloud-init tells them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IfaceKind {
    Loopback,
    Bond,
    Bridge,
    Vlan,
    /// Backed by a device (`device` exists).
    Physical,
    /// Anything else (tun, veth, dummy, ...).
    Virtual,
}

impl SysIface {
    /// Reads `/sys/class/net/<name>/...` as cloud-init's helpers do.
    pub fn read(fs: &dyn FsView, name: &str) -> SysIface {
        let dir = Path::new(SYS_CLASS_NET).join(name);
        let at = |rel: &str| dir.join(rel);
        let text = |rel: &str| read_sys_net(fs, &at(rel));
        let int = |rel: &str| text(rel).and_then(|t| crate::py::int::parse(&t));
        let master = fs.exists(&at("master")).then(|| {
            // `os.path.basename(os.path.realpath(master))`: sysfs links
            // `master` straight to the master's directory.
            fs.read_link(&at("master"))
                .ok()
                .and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "master".to_string())
        });
        let driver = match fs.lstat(&at("device/driver")) {
            Some(s) if s.kind == Kind::Symlink => fs
                .read_link(&at("device/driver"))
                .ok()
                .and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned())),
            _ => None,
        };
        SysIface {
            name: name.to_string(),
            address: text("address"),
            bonding_slave: fs.is_dir(&at("bonding_slave")),
            perm_hwaddr: text("bonding_slave/perm_hwaddr"),
            addr_assign_type: int("addr_assign_type"),
            arp_type: text("type"),
            has_device: fs.exists(&at("device")),
            bridge: fs.exists(&at("bridge")),
            bonding: fs.exists(&at("bonding")),
            vlan: text("uevent").is_some_and(|u| u.lines().any(|l| l == "DEVTYPE=vlan")),
            master_is_bridge_or_bond: master.is_some()
                && (fs.exists(&at("master/bonding")) || fs.exists(&at("master/bridge"))),
            master,
            upper_ovs: fs.exists(&at("upper_ovs-system")),
            driver,
            device_id: text("device/device"),
            features: text("device/features"),
            carrier: int("carrier"),
            dormant: int("dormant"),
            operstate: text("operstate"),
            name_assign_type: text("name_assign_type"),
        }
    }

    pub fn kind(&self) -> IfaceKind {
        if self.name == "lo" || self.arp_type.as_deref() == Some("772") {
            IfaceKind::Loopback
        } else if self.bonding {
            IfaceKind::Bond
        } else if self.bridge {
            IfaceKind::Bridge
        } else if self.vlan {
            IfaceKind::Vlan
        } else if self.has_device {
            IfaceKind::Physical
        } else {
            IfaceKind::Virtual
        }
    }

    /// `LinuxNetworking.is_physical`: `device` exists.
    pub fn is_physical(&self) -> bool {
        self.has_device
    }

    pub fn is_virtual(&self) -> bool {
        !self.has_device
    }

    /// `interface_has_own_mac`: no `addr_assign_type`, or one that is not
    /// "stolen" from another device (as bonds and vlans do).
    pub fn has_own_mac(&self) -> bool {
        self.addr_assign_type.is_none_or(|t| matches!(t, 0 | 1 | 3))
    }

    /// `get_interface_mac`: a bond member's own MAC, not the bond's.
    pub fn mac(&self) -> Option<&str> {
        if self.bonding_slave {
            self.perm_hwaddr.as_deref()
        } else {
            self.address.as_deref()
        }
    }

    /// `is_up`: the kernel says `unknown` counts as up.
    pub fn is_up(&self) -> bool {
        matches!(self.operstate.as_deref(), Some("up" | "unknown"))
    }

    /// `is_renamed`: named by user space (`name_assign_type` 3 or 4).
    pub fn is_renamed(&self) -> bool {
        matches!(self.name_assign_type.as_deref(), Some("3" | "4"))
    }

    /// `has_netfail_standby_feature`: virtio's `VIRTIO_NET_F_STANDBY`, bit 62.
    fn has_standby_feature(&self) -> bool {
        self.features
            .as_deref()
            .is_some_and(|f| f.chars().count() >= 64 && f.chars().nth(62) == Some('1'))
    }

    fn driver_is(&self, name: &str) -> bool {
        self.driver.as_deref() == Some(name)
    }

    /// `get_ib_interface_hwaddr`: an InfiniBand interface's address, whole
    /// or (`ethernet_format`) as the 6-byte form OpenStack puts in
    /// `network_data.json` (bytes 13-15 and 18-20).
    pub fn ib_hwaddr(&self, ethernet_format: bool) -> Option<String> {
        if self.arp_type.as_deref() != Some(ARPHRD_INFINIBAND) {
            return None;
        }
        let mac = self.mac()?;
        if !ethernet_format {
            return Some(mac.to_string());
        }
        let chars: Vec<char> = mac.chars().collect();
        let n = chars.len();
        // Python's `mac[36:-14] + mac[51:]`, slices clamped as Python's are.
        let mid: String = chars[36.min(n)..n.saturating_sub(14).max(36.min(n))]
            .iter()
            .collect();
        let tail: String = chars[51.min(n)..].iter().collect();
        Some(mid + &tail).filter(|s| !s.is_empty())
    }
}

/// One interface `get_interfaces` returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nic {
    pub name: String,
    /// As sysfs writes it.
    pub mac: String,
    pub driver: Option<String>,
    pub device_id: Option<String>,
}

/// `get_interfaces_by_mac`: MAC (lower case) -> interface name, and the
/// warnings cloud-init logs on the way.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ByMac {
    pub macs: HashMap<String, String>,
    pub warnings: Vec<String>,
}

/// Every entry of `/sys/class/net`, read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SysNet {
    /// By name, sorted.
    pub ifaces: Vec<SysIface>,
    /// Open vSwitch internal interfaces, which `get_interfaces` skips.
    /// cloud-init asks `ovs-vsctl` (when it is installed); empty means no
    /// Open vSwitch.
    pub ovs_internal: Vec<String>,
}

impl SysNet {
    /// `get_devicelist` and everything cloud-init reads about each entry. No
    /// `/sys/class/net` is no interfaces.
    pub fn read(fs: &dyn FsView) -> SysNet {
        let names = fs.list_dir(Path::new(SYS_CLASS_NET)).unwrap_or_default();
        SysNet {
            ifaces: names.iter().map(|n| SysIface::read(fs, n)).collect(),
            ovs_internal: Vec::new(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&SysIface> {
        self.ifaces.iter().find(|i| i.name == name)
    }

    /// `is_netfail_master`: a virtio NIC with the standby feature and no master.
    pub fn is_netfail_master(&self, i: &SysIface) -> bool {
        i.master.is_none() && i.driver_is("virtio_net") && i.has_standby_feature()
    }

    /// `is_netfail_primary`: the passthrough NIC under a virtio failover master.
    pub fn is_netfail_primary(&self, i: &SysIface) -> bool {
        let Some(master) = &i.master else {
            return false;
        };
        if i.driver_is("virtio_net") {
            return false;
        }
        self.get(master)
            .is_some_and(|m| m.driver_is("virtio_net") && m.has_standby_feature())
    }

    /// `is_netfail_standby`: the virtio NIC under a failover master.
    pub fn is_netfail_standby(&self, i: &SysIface) -> bool {
        i.master.is_some() && i.driver_is("virtio_net") && i.has_standby_feature()
    }

    /// `is_netfailover`: the two lower devices of a net_failover triple,
    /// which cloud-init leaves alone (the master carries the config).
    pub fn is_netfailover(&self, i: &SysIface) -> bool {
        self.is_netfail_primary(i) || self.is_netfail_standby(i)
    }

    /// `get_interfaces(blacklist_drivers)`: the interfaces cloud-init would
    /// configure or rename. Not bridges, bonds or vlans; not interfaces whose
    /// MAC is another's; not members of anything but a bridge, bond or Open
    /// vSwitch; not net_failover's lower devices; not interfaces without a MAC
    /// or with an all-zero one (but `lo`); not Open vSwitch internal ones;
    /// not those with a blacklisted driver.
    pub fn interfaces(&self, blacklist_drivers: &[String]) -> Vec<Nic> {
        // 16 `00` groups: cloud-init's zero MAC, long enough for any address.
        const ZERO_MAC: &str = "00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00";
        let mut out = Vec::new();
        for i in &self.ifaces {
            if !i.has_own_mac() || i.bridge || i.vlan || i.bonding {
                continue;
            }
            if i.master.is_some() && !i.master_is_bridge_or_bond && !i.upper_ovs {
                continue;
            }
            if self.is_netfailover(i) {
                continue;
            }
            let Some(mac) = i.mac() else { continue };
            if i.name != "lo" && ZERO_MAC.starts_with(mac) {
                continue;
            }
            if self.ovs_internal.contains(&i.name) {
                continue;
            }
            if i.driver
                .as_ref()
                .is_some_and(|d| blacklist_drivers.contains(d))
            {
                continue;
            }
            out.push(Nic {
                name: i.name.clone(),
                mac: mac.to_string(),
                driver: i.driver.clone(),
                device_id: i.device_id.clone(),
            });
        }
        out
    }

    /// `get_interfaces_by_mac_on_linux`. Two interfaces with one MAC is an
    /// error, as in cloud-init, except Hyper-V's: a VF shares its MAC with
    /// the synthetic `hv_netvsc` NIC, and the `hv_netvsc` one wins.
    /// InfiniBand interfaces are also listed under their 6-byte form (the
    /// form `network_data.json` uses), unless an Ethernet MAC has it.
    pub fn interfaces_by_mac(&self, blacklist_drivers: &[String]) -> Result<ByMac, DuplicateMac> {
        let mut out = ByMac::default();
        let mut drivers: HashMap<String, Option<String>> = HashMap::new();
        for nic in self.interfaces(blacklist_drivers) {
            let mac = nic.mac.to_lowercase();
            if let Some(seen) = out.macs.get(&mac).cloned() {
                let duplicate = DuplicateMac {
                    name: nic.name.clone(),
                    other: seen.clone(),
                    mac: nic.mac.clone(),
                };
                let msg = duplicate.to_string();
                // An IB address listed first has no driver recorded: cloud-init's
                // KeyError, an error all the same.
                let Some(seen_driver) = drivers.get(&mac) else {
                    return Err(duplicate);
                };
                let hv = |d: &Option<String>| d.as_deref() == Some("hv_netvsc");
                let mut fatal = true;
                if nic.driver != *seen_driver {
                    if hv(seen_driver) {
                        out.warnings.push(format!(
                            "{msg} Ignoring '{}' due to driver '{}' and '{seen}' having driver hv_netvsc.",
                            nic.name,
                            py_opt(&nic.driver)
                        ));
                        continue;
                    }
                    if hv(&nic.driver) {
                        fatal = false;
                        out.warnings.push(format!(
                            "{msg} Ignoring '{seen}' due to driver '{}' and '{}' having driver hv_netvsc.",
                            py_opt(seen_driver),
                            nic.name
                        ));
                    }
                }
                if fatal {
                    return Err(duplicate);
                }
            }
            out.macs.insert(mac.clone(), nic.name.clone());
            drivers.insert(mac, nic.driver.clone());
            let ib = self.get(&nic.name).and_then(|i| i.ib_hwaddr(true));
            if let Some(ib) = ib.map(|m| m.to_lowercase()) {
                match out.macs.get(&ib) {
                    None => {
                        out.macs.insert(ib, nic.name.clone());
                    }
                    Some(other) => out.warnings.push(format!(
                        "Ethernet and InfiniBand interfaces have the same address both '{}' and '{other}' have address '{ib}'.",
                        nic.name
                    )),
                }
            }
        }
        Ok(out)
    }

    /// `get_ib_hwaddrs_by_interface`: InfiniBand interface -> its whole
    /// hardware address (what `network_data.json`'s 6-byte form becomes).
    pub fn ib_hwaddrs_by_interface(&self) -> HashMap<String, String> {
        self.interfaces(&[])
            .into_iter()
            .filter_map(|nic| {
                let hw = self.get(&nic.name)?.ib_hwaddr(false)?;
                Some((nic.name, hw))
            })
            .collect()
    }

    /// `find_candidate_nics_on_linux`: the NICs DHCP could work on, best
    /// first. Those with carrier come before those that might get one
    /// (dormant, or down, lowerlayerdown or unknown); others are ignored, as
    /// are `lo`, blacklisted drivers, NICs without a MAC, `veth*`, bridges,
    /// bonds and net_failover's lower devices. Each group is in natural
    /// order (`eth2` before `eth10`) with `eth0` first.
    pub fn candidate_nics(&self, blacklist_drivers: &[String]) -> Vec<String> {
        let mut connected = Vec::new();
        let mut possibly = Vec::new();
        for i in &self.ifaces {
            if i.name == "lo"
                || i.driver
                    .as_ref()
                    .is_some_and(|d| blacklist_drivers.contains(d))
                || i.address.is_none()
                || i.name.starts_with("veth")
                || i.bridge
                || i.bonding
                || self.is_netfailover(i)
            {
                continue;
            }
            if i.carrier.is_some_and(|c| c != 0) {
                connected.push(i.name.clone());
            } else if i.dormant.is_some_and(|d| d != 0)
                || matches!(
                    i.operstate.as_deref(),
                    Some("dormant" | "down" | "lowerlayerdown" | "unknown")
                )
            {
                possibly.push(i.name.clone());
            }
        }
        let mut out = Vec::new();
        for mut group in [connected, possibly] {
            group.sort_by(|a, b| natural_cmp(a, b));
            if let Some(pos) = group.iter().position(|n| n == DEFAULT_PRIMARY_INTERFACE) {
                let primary = group.remove(pos);
                group.insert(0, primary);
            }
            out.extend(group);
        }
        out
    }

    /// `find_fallback_nic`: the first candidate.
    pub fn fallback_nic(&self, blacklist_drivers: &[String]) -> Option<String> {
        self.candidate_nics(blacklist_drivers).into_iter().next()
    }

    /// `generate_fallback_config()`: DHCPv4 on the fallback NIC, as v2,
    /// `None` when there is no candidate.
    pub fn fallback_config(&self) -> Option<Value> {
        self.fallback_config_with(&[], false)
    }

    /// `generate_fallback_config(blacklist_drivers, config_driver)`:
    /// `{ethernets: {<nic>: {dhcp4: true, set-name: <nic>, match:
    /// {macaddress: <mac>}}}, version: 2}` in cloud-init's key order. A
    /// net_failover master is matched by name (its lower devices share its
    /// MAC); `config_driver` adds `match.driver`.
    pub fn fallback_config_with(
        &self,
        blacklist_drivers: &[String],
        config_driver: bool,
    ) -> Option<Value> {
        let name = self.fallback_nic(blacklist_drivers)?;
        self.dhcp_config(&[name], config_driver)
    }

    /// The NICs cloudboot's opt-in all-NICs fallback configures
    /// (`cloudboot: {network: {fallback: all-nics}}`): 22.4's candidates
    /// ([`SysNet::candidate_nics`], in its order: `eth0` first, connected
    /// before possibly connected, natural order within each), less those
    /// that cannot hold a DHCP lease of their own, which 22.4's list never
    /// meets because it takes only the first: a vlan, a member of a bond,
    /// bridge or team (it has a master), a NIC whose MAC is another's
    /// (`addr_assign_type` stolen), and a second NIC with a MAC already
    /// taken (the config matches NICs by MAC). The first candidate is
    /// always kept, so the list starts with 22.4's fallback NIC.
    pub fn all_fallback_nics(&self, blacklist_drivers: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut macs: Vec<String> = Vec::new();
        for (n, name) in self
            .candidate_nics(blacklist_drivers)
            .into_iter()
            .enumerate()
        {
            let Some(i) = self.get(&name) else { continue };
            let mac = i.address.as_deref().unwrap_or_default().to_lowercase();
            let alone = !i.vlan && i.master.is_none() && i.has_own_mac();
            if n == 0 || (alone && !macs.contains(&mac)) {
                macs.push(mac);
                out.push(name);
            }
        }
        out
    }

    /// The all-NICs fallback: one entry per NIC of
    /// [`SysNet::all_fallback_nics`], each as 22.4's single fallback entry
    /// would be for it, in that order; `None` when there is no candidate.
    /// With one candidate it is 22.4's fallback config.
    pub fn all_nics_fallback_config(&self, blacklist_drivers: &[String]) -> Option<Value> {
        self.dhcp_config(&self.all_fallback_nics(blacklist_drivers), false)
    }

    /// v2 config with `generate_fallback_config`'s entry for each of `names`.
    fn dhcp_config(&self, names: &[String], config_driver: bool) -> Option<Value> {
        let mut ethernets = Mapping::new();
        for name in names {
            let nic = self.get(name)?;
            let mut matching = Mapping::new();
            if self.is_netfail_master(nic) {
                matching.insert(Value::str("name"), Value::str(name));
            } else {
                let mac = nic.address.as_deref().unwrap_or_default().to_lowercase();
                matching.insert(Value::str("macaddress"), Value::Str(mac));
            }
            if config_driver {
                if let Some(driver) = &nic.driver {
                    matching.insert(Value::str("driver"), Value::str(driver));
                }
            }
            let mut cfg = Mapping::new();
            cfg.insert(Value::str("dhcp4"), Value::Bool(true));
            cfg.insert(Value::str("set-name"), Value::str(name));
            cfg.insert(Value::str("match"), Value::Map(matching));
            ethernets.insert(Value::str(name), Value::Map(cfg));
        }
        if ethernets.is_empty() {
            return None;
        }
        let mut doc = Mapping::new();
        doc.insert(Value::str("ethernets"), Value::Map(ethernets));
        doc.insert(Value::str("version"), Value::Int(2));
        Some(Value::Map(doc))
    }
}

/// `read_sys_net_safe`: the stripped text, `None` when unreadable (or
/// empty, which every caller treats as absent).
fn read_sys_net(fs: &dyn FsView, path: &Path) -> Option<String> {
    let text = fs.read_string(path)?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// `'%s' % value` of an optional string: Python prints `None`.
fn py_opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("None")
}

/// `natural_sort_key` order: runs of ASCII digits compare as numbers, the
/// text between them case-insensitively.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (ka, kb) = (natural_key(a), natural_key(b));
    for (x, y) in ka.iter().zip(&kb) {
        let o = match (x, y) {
            (Part::Num(x), Part::Num(y)) => {
                let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                x.len().cmp(&y.len()).then_with(|| x.cmp(y))
            }
            (Part::Text(x), Part::Text(y)) => x.cmp(y),
            // `re.split` alternates text and numbers, so parts line up.
            (Part::Text(_), Part::Num(_)) => Ordering::Greater,
            (Part::Num(_), Part::Text(_)) => Ordering::Less,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    ka.len().cmp(&kb.len())
}

enum Part {
    Text(String),
    Num(String),
}

/// `re.split("([0-9]+)", s)`, text lower-cased: always text, number,
/// text, ..., text.
fn natural_key(s: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            let mut num = String::from(c);
            while let Some(d) = chars.next_if(char::is_ascii_digit) {
                num.push(d);
            }
            parts.push(Part::Text(std::mem::take(&mut text).to_lowercase()));
            parts.push(Part::Num(num));
        } else {
            text.push(c);
        }
    }
    parts.push(Part::Text(text.to_lowercase()));
    parts
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::rootfs::{RealFs, Root};
    use std::fs;
    use std::os::unix::fs::symlink;

    /// A fake `/sys` under a temporary root, built as the kernel lays it
    /// out: `/sys/class/net/<name>` links into `/sys/devices`.
    pub(crate) struct FakeSys {
        pub dir: tempfile::TempDir,
    }

    /// One interface to create.
    #[derive(Default)]
    pub(crate) struct Dev<'a> {
        pub name: &'a str,
        pub mac: Option<&'a str>,
        /// `Some(driver)`: a PCI device with that driver.
        pub driver: Option<&'a str>,
        pub device_id: Option<&'a str>,
        pub carrier: Option<&'a str>,
        pub dormant: Option<&'a str>,
        pub operstate: Option<&'a str>,
        pub assign: Option<&'a str>,
        pub bond: bool,
        pub bridge: bool,
        pub vlan: bool,
        /// Enslaved to this master.
        pub master: Option<&'a str>,
        pub perm_hwaddr: Option<&'a str>,
        pub arp_type: Option<&'a str>,
        pub features: Option<&'a str>,
        pub upper_ovs: bool,
    }

    impl FakeSys {
        pub(crate) fn new() -> FakeSys {
            let dir = tempfile::tempdir().unwrap();
            fs::create_dir_all(dir.path().join("sys/class/net")).unwrap();
            FakeSys { dir }
        }

        fn host(&self, guest: &str) -> std::path::PathBuf {
            self.dir.path().join(guest.trim_start_matches('/'))
        }

        fn write(&self, guest: &str, text: &str) {
            let p = self.host(guest);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, format!("{text}\n")).unwrap();
        }

        pub(crate) fn add(&self, d: Dev) -> &Self {
            let devdir = match d.driver {
                Some(_) => format!("/sys/devices/pci0000:00/0000:00:{}/net/{}", d.name, d.name),
                None => format!("/sys/devices/virtual/net/{}", d.name),
            };
            fs::create_dir_all(self.host(&devdir)).unwrap();
            symlink(
                format!("../../..{devdir}"),
                self.host(&format!("/sys/class/net/{}", d.name)),
            )
            .unwrap();
            let at = |rel: &str| format!("{devdir}/{rel}");
            if let Some(driver) = d.driver {
                symlink(
                    "../../../0000:00:".to_string() + d.name,
                    self.host(&at("device")),
                )
                .unwrap();
                let pci = format!("/sys/devices/pci0000:00/0000:00:{}", d.name);
                let drvdir = format!("/sys/bus/pci/drivers/{driver}");
                fs::create_dir_all(self.host(&drvdir)).unwrap();
                symlink(
                    format!("../../../bus/pci/drivers/{driver}"),
                    self.host(&format!("{pci}/driver")),
                )
                .unwrap();
                if let Some(id) = d.device_id {
                    self.write(&format!("{pci}/device"), id);
                }
                if let Some(f) = d.features {
                    self.write(&format!("{pci}/features"), f);
                }
            }
            let files = [
                ("address", d.mac),
                ("carrier", d.carrier),
                ("dormant", d.dormant),
                ("operstate", d.operstate),
                ("addr_assign_type", d.assign),
                ("type", d.arp_type),
            ];
            for (f, v) in files {
                if let Some(v) = v {
                    self.write(&at(f), v);
                }
            }
            let devtype = if d.vlan { "DEVTYPE=vlan\n" } else { "" };
            self.write(&at("uevent"), &format!("{devtype}INTERFACE={}", d.name));
            if d.bond {
                fs::create_dir_all(self.host(&at("bonding"))).unwrap();
            }
            if d.bridge {
                fs::create_dir_all(self.host(&at("bridge"))).unwrap();
            }
            if let Some(m) = d.master {
                // Absolute: resolved inside the root, as the kernel would in a chroot.
                symlink(format!("/sys/class/net/{m}"), self.host(&at("master"))).unwrap();
            }
            if let Some(p) = d.perm_hwaddr {
                self.write(&at("bonding_slave/perm_hwaddr"), p);
            }
            if d.upper_ovs {
                fs::create_dir_all(self.host(&at("upper_ovs-system"))).unwrap();
            }
            self
        }

        pub(crate) fn read(&self) -> SysNet {
            SysNet::read(&RealFs {
                root: Root::new(self.dir.path()),
            })
        }
    }

    pub(crate) fn nic<'a>(name: &'a str, mac: &'a str, driver: &'a str) -> Dev<'a> {
        Dev {
            name,
            mac: Some(mac),
            driver: Some(driver),
            assign: Some("0"),
            carrier: Some("1"),
            operstate: Some("up"),
            ..Default::default()
        }
    }

    fn names(nics: &[Nic]) -> Vec<&str> {
        nics.iter().map(|n| n.name.as_str()).collect()
    }

    #[test]
    fn reads_and_classifies() {
        let s = FakeSys::new();
        s.add(Dev {
            name: "lo",
            mac: Some("00:00:00:00:00:00"),
            arp_type: Some("772"),
            assign: Some("0"),
            operstate: Some("unknown"),
            ..Default::default()
        })
        .add(Dev {
            device_id: Some("0x1000"),
            ..nic("ens3", "52:54:00:12:34:56", "virtio_net")
        })
        .add(Dev {
            name: "bond0",
            mac: Some("52:54:00:12:34:56"),
            assign: Some("3"),
            bond: true,
            ..Default::default()
        })
        .add(Dev {
            name: "br0",
            mac: Some("52:54:00:aa:aa:aa"),
            bridge: true,
            ..Default::default()
        })
        .add(Dev {
            name: "ens3.10",
            mac: Some("52:54:00:12:34:56"),
            vlan: true,
            assign: Some("2"),
            ..Default::default()
        })
        .add(Dev {
            name: "tun0",
            ..Default::default()
        });
        let net = s.read();
        let kinds: Vec<(&str, IfaceKind)> = net
            .ifaces
            .iter()
            .map(|i| (i.name.as_str(), i.kind()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("bond0", IfaceKind::Bond),
                ("br0", IfaceKind::Bridge),
                ("ens3", IfaceKind::Physical),
                ("ens3.10", IfaceKind::Vlan),
                ("lo", IfaceKind::Loopback),
                ("tun0", IfaceKind::Virtual),
            ]
        );
        let ens3 = net.get("ens3").unwrap();
        assert_eq!(ens3.driver.as_deref(), Some("virtio_net"));
        assert_eq!(ens3.device_id.as_deref(), Some("0x1000"));
        assert_eq!(ens3.carrier, Some(1));
        assert!(ens3.is_up() && ens3.is_physical() && !ens3.is_virtual());
        assert!(net.get("lo").unwrap().is_up());
        assert!(!net.get("ens3.10").unwrap().has_own_mac());
        assert!(net.get("tun0").unwrap().address.is_none());
        // get_interfaces: lo (zero MAC allowed for lo) and ens3 only.
        assert_eq!(
            net.interfaces(&[]),
            [
                Nic {
                    name: "ens3".into(),
                    mac: "52:54:00:12:34:56".into(),
                    driver: Some("virtio_net".into()),
                    device_id: Some("0x1000".into()),
                },
                Nic {
                    name: "lo".into(),
                    mac: "00:00:00:00:00:00".into(),
                    driver: None,
                    device_id: None,
                },
            ]
        );
        assert!(net
            .interfaces(&["virtio_net".into()])
            .iter()
            .all(|n| n.name != "ens3"));
        // No /sys at all: no interfaces.
        let empty = tempfile::tempdir().unwrap();
        let none = SysNet::read(&RealFs {
            root: Root::new(empty.path()),
        });
        assert!(none.ifaces.is_empty() && none.fallback_config().is_none());
    }

    #[test]
    fn members_masters_and_zero_macs() {
        let s = FakeSys::new();
        s.add(Dev {
            name: "bond0",
            mac: Some("02:00:00:00:00:01"),
            bond: true,
            ..Default::default()
        })
        .add(Dev {
            name: "br0",
            mac: Some("02:00:00:00:00:02"),
            bridge: true,
            ..Default::default()
        })
        .add(Dev {
            name: "team0",
            mac: Some("02:00:00:00:00:03"),
            ..Default::default()
        })
        // A bond member: its own MAC is perm_hwaddr; address is the bond's.
        .add(Dev {
            master: Some("bond0"),
            perm_hwaddr: Some("02:00:00:00:00:0a"),
            ..nic("eth0", "02:00:00:00:00:01", "e1000")
        })
        .add(Dev {
            master: Some("br0"),
            ..nic("eth1", "02:00:00:00:00:0b", "e1000")
        })
        // Enslaved to something that is neither bridge nor bond: skipped,
        // unless it is an Open vSwitch port.
        .add(Dev {
            master: Some("team0"),
            ..nic("eth2", "02:00:00:00:00:0c", "e1000")
        })
        .add(Dev {
            master: Some("team0"),
            upper_ovs: true,
            ..nic("eth3", "02:00:00:00:00:0d", "e1000")
        })
        .add(nic("eth4", "00:00:00:00:00:00", "e1000"))
        .add(nic("eth5", "02:00:00:00:00:0e", "mlx5_core"))
        .add(Dev {
            assign: Some("1"),
            ..nic("veth9", "02:00:00:00:00:0f", "veth")
        });
        let mut net = s.read();
        assert_eq!(net.get("eth0").unwrap().master.as_deref(), Some("bond0"));
        assert!(net.get("eth0").unwrap().master_is_bridge_or_bond);
        assert_eq!(
            names(&net.interfaces(&[])),
            ["eth0", "eth1", "eth3", "eth5", "team0", "veth9"]
        );
        assert_eq!(net.interfaces(&[])[0].mac, "02:00:00:00:00:0a");
        net.ovs_internal = vec!["team0".into()];
        let by = net.interfaces_by_mac(&["mlx5_core".into()]).unwrap();
        let mut macs: Vec<_> = by
            .macs
            .iter()
            .map(|(m, n)| (m.as_str(), n.as_str()))
            .collect();
        macs.sort();
        assert_eq!(
            macs,
            [
                ("02:00:00:00:00:0a", "eth0"),
                ("02:00:00:00:00:0b", "eth1"),
                ("02:00:00:00:00:0d", "eth3"),
                ("02:00:00:00:00:0f", "veth9"),
            ]
        );
    }

    #[test]
    fn duplicate_macs() {
        let s = FakeSys::new();
        s.add(nic("eth0", "02:00:00:00:00:01", "e1000")).add(nic(
            "eth1",
            "02:00:00:00:00:01",
            "e1000",
        ));
        let err = s.read().interfaces_by_mac(&[]).unwrap_err().to_string();
        assert_eq!(
            err,
            "duplicate mac found! both 'eth1' and 'eth0' have mac '02:00:00:00:00:01'."
        );
        // Hyper-V: the VF (mlx) shares the synthetic NIC's MAC; hv_netvsc wins,
        // whichever comes first.
        for (a, b) in [("hv_netvsc", "mlx5_core"), ("mlx5_core", "hv_netvsc")] {
            let s = FakeSys::new();
            s.add(nic("eth0", "00:15:5D:00:00:01", a))
                .add(nic("eth1", "00:15:5d:00:00:01", b));
            let by = s.read().interfaces_by_mac(&[]).unwrap();
            let hv = if a == "hv_netvsc" { "eth0" } else { "eth1" };
            assert_eq!(by.macs.len(), 1);
            assert_eq!(by.macs["00:15:5d:00:00:01"], hv);
            assert_eq!(by.warnings.len(), 1);
        }
    }

    #[test]
    fn infiniband() {
        let hw = "80:00:02:08:fe:80:00:00:00:00:00:00:fa:16:3e:00:01:05:00:07";
        let s = FakeSys::new();
        s.add(Dev {
            arp_type: Some("32"),
            ..nic("ib0", hw, "mlx4_core")
        })
        .add(nic("eth0", "fa:16:3e:00:00:01", "virtio_net"));
        let net = s.read();
        assert_eq!(
            net.get("ib0").unwrap().ib_hwaddr(true).as_deref(),
            Some("fa:16:3e:05:00:07")
        );
        let by = net.interfaces_by_mac(&[]).unwrap();
        assert_eq!(by.macs["fa:16:3e:05:00:07"], "ib0");
        assert_eq!(by.macs[hw], "ib0");
        assert_eq!(
            net.ib_hwaddrs_by_interface(),
            HashMap::from([("ib0".to_string(), hw.to_string())])
        );
    }

    #[test]
    fn netfailover_triple() {
        // 64 feature bits, bit 62 set: VIRTIO_NET_F_STANDBY.
        let mut bits = vec!['0'; 64];
        bits[62] = '1';
        let bits: String = bits.into_iter().collect();
        let s = FakeSys::new();
        s.add(Dev {
            features: Some(&bits),
            ..nic("ens3", "52:54:00:00:00:01", "virtio_net")
        })
        .add(Dev {
            master: Some("ens3"),
            features: Some(&bits),
            ..nic("ens3nsby", "52:54:00:00:00:01", "virtio_net")
        })
        .add(Dev {
            master: Some("ens3"),
            ..nic("ens4", "52:54:00:00:00:01", "mlx5_core")
        });
        let net = s.read();
        let [master, standby, primary] = [0, 1, 2].map(|i| &net.ifaces[i]);
        assert!(net.is_netfail_master(master));
        assert!(net.is_netfail_standby(standby) && !net.is_netfail_primary(standby));
        assert!(net.is_netfail_primary(primary) && !net.is_netfail_standby(primary));
        assert_eq!(names(&net.interfaces(&[])), ["ens3"]);
        assert_eq!(net.candidate_nics(&[]), ["ens3"]);
        // The master is matched by name: its lower devices share its MAC.
        let cfg = net.fallback_config().unwrap();
        assert_eq!(
            serde_json::to_string(&cfg.to_json()).unwrap(),
            r#"{"ethernets":{"ens3":{"dhcp4":true,"set-name":"ens3","match":{"name":"ens3"}}},"version":2}"#
        );
    }

    #[test]
    fn fallback_choice() {
        let s = FakeSys::new();
        let down = |name, mac| Dev {
            carrier: Some("0"),
            operstate: Some("down"),
            ..nic(name, mac, "virtio_net")
        };
        s.add(Dev {
            name: "lo",
            mac: Some("00:00:00:00:00:00"),
            carrier: Some("1"),
            operstate: Some("unknown"),
            ..Default::default()
        })
        .add(nic("ens10", "52:54:00:00:00:10", "virtio_net"))
        .add(nic("ens9", "52:54:00:00:00:09", "virtio_net"))
        .add(down("eth0", "52:54:00:00:00:00"))
        .add(down("eth1", "52:54:00:00:00:01"))
        .add(nic("veth0", "52:54:00:00:00:0a", "veth"))
        .add(Dev {
            bridge: true,
            ..nic("br0", "52:54:00:00:00:0b", "bridge")
        })
        .add(Dev {
            mac: None,
            ..nic("tun0", "", "tun")
        })
        // No carrier and up: ignored.
        .add(Dev {
            carrier: Some("0"),
            ..nic("eth7", "52:54:00:00:00:07", "virtio_net")
        })
        .add(Dev {
            carrier: None,
            dormant: Some("1"),
            operstate: Some("dormant"),
            ..nic("wlan0", "52:54:00:00:00:0c", "iwlwifi")
        });
        let net = s.read();
        // Connected first in natural order, then eth0 and the rest that
        // might connect.
        assert_eq!(
            net.candidate_nics(&[]),
            ["ens9", "ens10", "eth0", "eth1", "wlan0"]
        );
        assert_eq!(
            net.fallback_nic(&["virtio_net".into()]).as_deref(),
            Some("wlan0")
        );
        let cfg = net.fallback_config_with(&[], true).unwrap();
        assert_eq!(
            serde_json::to_string(&cfg.to_json()).unwrap(),
            r#"{"ethernets":{"ens9":{"dhcp4":true,"set-name":"ens9","match":{"macaddress":"52:54:00:00:00:09","driver":"virtio_net"}}},"version":2}"#
        );

        // eth0 with carrier comes before everything.
        let s = FakeSys::new();
        s.add(nic("ens3", "52:54:00:00:00:03", "virtio_net"))
            .add(Dev {
                mac: Some("52:54:00:00:00:AA"),
                ..nic("eth0", "", "virtio_net")
            })
            .add(nic("eth10", "52:54:00:00:00:10", "virtio_net"))
            .add(nic("eth2", "52:54:00:00:00:02", "virtio_net"));
        let net = s.read();
        assert_eq!(net.candidate_nics(&[]), ["eth0", "ens3", "eth2", "eth10"]);
        let cfg = net.fallback_config().unwrap();
        assert_eq!(
            serde_json::to_string(&cfg.to_json()).unwrap(),
            r#"{"ethernets":{"eth0":{"dhcp4":true,"set-name":"eth0","match":{"macaddress":"52:54:00:00:00:aa"}}},"version":2}"#
        );
    }

    #[test]
    fn all_nics_fallback() {
        let s = FakeSys::new();
        s.add(nic("ens10", "52:54:00:00:00:10", "virtio_net"))
            .add(nic("ens9", "52:54:00:00:00:09", "virtio_net"))
            .add(Dev {
                carrier: Some("0"),
                operstate: Some("down"),
                ..nic("eth0", "52:54:00:00:00:00", "virtio_net")
            })
            // Candidates 22.4 would list, that cannot hold a lease of their own.
            .add(Dev {
                vlan: true,
                assign: Some("2"),
                ..nic("ens9.10", "52:54:00:00:00:09", "")
            })
            .add(Dev {
                master: Some("team0"),
                ..nic("ens11", "52:54:00:00:00:11", "virtio_net")
            })
            .add(Dev {
                name: "team0",
                mac: Some("02:00:00:00:00:03"),
                ..Default::default()
            })
            .add(nic("ens12", "52:54:00:00:00:10", "virtio_net"))
            .add(nic("veth0", "52:54:00:00:00:0a", "veth"));
        let net = s.read();
        assert_eq!(
            net.candidate_nics(&[]),
            ["ens9", "ens9.10", "ens10", "ens11", "ens12", "eth0"]
        );
        // eth0 has no carrier: after the connected ones, as 22.4 orders them.
        assert_eq!(net.all_fallback_nics(&[]), ["ens9", "ens10", "eth0"]);
        assert_eq!(
            net.all_fallback_nics(&["virtio_net".into()]),
            ["ens9.10"],
            "the first candidate is kept whatever it is, as 22.4 keeps it"
        );
        let cfg = net.all_nics_fallback_config(&[]).unwrap();
        assert_eq!(
            serde_json::to_string(&cfg.to_json()).unwrap(),
            concat!(
                r#"{"ethernets":{"#,
                r#""ens9":{"dhcp4":true,"set-name":"ens9","match":{"macaddress":"52:54:00:00:00:09"}},"#,
                r#""ens10":{"dhcp4":true,"set-name":"ens10","match":{"macaddress":"52:54:00:00:00:10"}},"#,
                r#""eth0":{"dhcp4":true,"set-name":"eth0","match":{"macaddress":"52:54:00:00:00:00"}}"#,
                r#"},"version":2}"#
            )
        );
        // One NIC: exactly 22.4's fallback.
        let one = FakeSys::new();
        one.add(nic("eth0", "52:54:00:00:00:00", "virtio_net"));
        let net = one.read();
        assert_eq!(net.all_nics_fallback_config(&[]), net.fallback_config());
        assert!(FakeSys::new()
            .read()
            .all_nics_fallback_config(&[])
            .is_none());
    }

    /// Python's `int()` rules, tested here before, are `py::int`'s tests.
    #[test]
    fn natural_sort_order() {
        let mut v = vec![
            "eth10", "ens0", "eth2", "Eth1", "ens10", "ens8", "ens03", "lo",
        ];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            v,
            ["ens0", "ens03", "ens8", "ens10", "Eth1", "eth2", "eth10", "lo"]
        );
    }
}
