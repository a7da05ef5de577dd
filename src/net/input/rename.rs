//! Renaming interfaces by MAC, planned as cloud-init 22.4's
//! `net._rename_interfaces` plans it (`cloudinit/net/__init__.py`), for the
//! renames `extract_physdevs` asks for (`LinuxNetworking.
//! apply_network_config_names`). Pure: the plan is a list of steps (down,
//! rename, up) the caller turns into [`HostAction`] effects, and the errors
//! cloud-init would report (it logs them as a warning and boots on).
//!
//! The steps are cloud-init's, in its order: every interface's down and
//! renames first, then the ups. An interface that is up is taken down to be
//! renamed (and brought up under its new name) when it has no address worth
//! keeping (`downable`); one whose wanted name another interface has pushes
//! that one aside to the first free `cirename<N>`.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::sys::SysNet;
use super::NetInputError;
use crate::effect::HostAction;
use crate::value::{Mapping, Value};

/// One rename asked for: `[mac, name, driver, device_id]` of
/// `extract_physdevs`. The interface with `mac` (and `driver`, and
/// `device_id`, when given) should be called `name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Physdev {
    pub mac: String,
    pub name: String,
    pub driver: Option<String>,
    pub device_id: Option<String>,
}

/// An interface as it is now (`_get_current_rename_info`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrentNic {
    pub name: String,
    /// Lower case.
    pub mac: String,
    pub driver: Option<String>,
    pub device_id: Option<String>,
    /// `is_up`: operstate `up` or `unknown`.
    pub up: bool,
    /// Down, or without an address (`ip -4 addr show`, or a permanent
    /// global one in `ip -6 addr show permanent scope global`): taking it
    /// down loses nothing.
    pub downable: bool,
}

/// One step of a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RenameStep {
    Down(String),
    Rename { from: String, to: String },
    Up(String),
}

impl RenameStep {
    /// The command cloud-init 22.4 runs for it.
    pub fn argv(&self) -> Vec<String> {
        let args: Vec<&str> = match self {
            RenameStep::Down(n) => vec!["ip", "link", "set", n, "down"],
            RenameStep::Rename { from, to } => vec!["ip", "link", "set", from, "name", to],
            RenameStep::Up(n) => vec!["ip", "link", "set", n, "up"],
        };
        args.into_iter().map(String::from).collect()
    }

    pub fn host_action(&self) -> HostAction {
        let what = match self {
            RenameStep::Down(n) => format!("bring interface {n} down"),
            RenameStep::Rename { from, to } => format!("rename interface {from} to {to}"),
            RenameStep::Up(n) => format!("bring interface {n} up"),
        };
        HostAction {
            what,
            argv: self.argv(),
        }
    }
}

/// What to do, and what cannot be done.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RenamePlan {
    pub steps: Vec<RenameStep>,
    /// cloud-init's messages (`[nic not present] ...`, `[busy] ...`, ...),
    /// which it raises together after the steps: a warning, not a failure.
    pub errors: Vec<String>,
}

impl RenamePlan {
    pub fn host_actions(&self) -> Vec<HostAction> {
        self.steps.iter().map(RenameStep::host_action).collect()
    }
}

/// `extract_physdevs(netcfg)`: the renames a network config asks for. v1:
/// each `physical` entry with a `mac_address` (driver and device id from
/// `params`); v2: each ethernet with `set-name` and `match.macaddress`
/// (driver and device id from `match`). A driver or device id not given is
/// read from sysfs for the interface that has the *wanted* name now, as
/// cloud-init does: that tells apart NICs sharing a MAC (Hyper-V's VF and
/// its `hv_netvsc` NIC), and also, faithfully, makes a swap between NICs
/// of different drivers match nothing. An error is cloud-init's exception:
/// no renames at all.
pub fn physdevs_from_config(netcfg: &Value, sys: &SysNet) -> Result<Vec<Physdev>, NetInputError> {
    let empty = Mapping::new();
    let not_a_mapping = |key: &'static str, found: &Value| NetInputError::NotAMapping {
        key,
        found: found.type_name(),
    };
    let map_of = |v: Option<&Value>, key: &'static str| -> Result<Mapping, NetInputError> {
        match v {
            None => Ok(empty.clone()),
            Some(Value::Map(m)) => Ok(m.clone()),
            Some(other) => Err(not_a_mapping(key, other)),
        }
    };
    let text = |v: Option<&Value>, key: &'static str| -> Result<Option<String>, NetInputError> {
        match v {
            Some(v) if !v.truthy() => Ok(None),
            None => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s.clone())),
            Some(other) => Err(NetInputError::NotAString {
                key,
                found: other.type_name(),
            }),
        }
    };
    // Given, else from sysfs by the wanted name; a non-string given value
    // is written as Python's str() would.
    let driver_of = |given: Option<&Value>, name: &str| {
        given
            .filter(|v| v.truthy())
            .map(Value::python_str)
            .or_else(|| sys.get(name).and_then(|i| i.driver.clone()))
    };
    let device_id_of = |given: Option<&Value>, name: &str| {
        given
            .filter(|v| v.truthy())
            .map(Value::python_str)
            .or_else(|| sys.get(name).and_then(|i| i.device_id.clone()))
    };
    // `version == 1` in Python: `True` and `1.0` are 1 too.
    let version = match netcfg.get("version") {
        Some(Value::Int(i)) => Some(*i),
        Some(Value::Bool(b)) => Some(i64::from(*b)),
        Some(Value::Float(f)) if f.fract() == 0.0 && f.abs() < 1e18 => Some(*f as i64),
        _ => None,
    };
    let mut out = Vec::new();
    match version {
        Some(1) => {
            let entries = match netcfg.get("config") {
                None => &[][..],
                Some(Value::Seq(s)) => s.as_slice(),
                Some(other) => return Err(NetInputError::ConfigNotAList(other.type_name())),
            };
            for ent in entries {
                let Value::Map(ent) = ent else {
                    return Err(not_a_mapping("config entry", ent));
                };
                if !matches!(ent.get("type"), Some(Value::Str(t)) if t == "physical") {
                    continue;
                }
                let Some(mac) = text(ent.get("mac_address"), "mac_address")? else {
                    continue;
                };
                let name = text(ent.get("name"), "name")?
                    .ok_or_else(|| NetInputError::NoName(mac.clone()))?;
                let params = map_of(ent.get("params"), "params")?;
                out.push(Physdev {
                    driver: driver_of(params.get("driver"), &name),
                    device_id: device_id_of(params.get("device_id"), &name),
                    mac,
                    name,
                });
            }
        }
        Some(2) => {
            let ethernets = map_of(netcfg.get("ethernets"), "ethernets")?;
            for (_, ent) in ethernets.iter() {
                let Value::Map(ent) = ent else {
                    return Err(not_a_mapping("ethernet", ent));
                };
                let Some(name) = text(ent.get("set-name"), "set-name")? else {
                    continue;
                };
                let matching = map_of(ent.get("match"), "match")?;
                let Some(mac) = text(matching.get("macaddress"), "macaddress")? else {
                    continue;
                };
                out.push(Physdev {
                    driver: driver_of(matching.get("driver"), &name),
                    device_id: device_id_of(matching.get("device_id"), &name),
                    mac,
                    name,
                });
            }
        }
        _ => {
            return Err(NetInputError::UnknownVersion(
                netcfg
                    .get("version")
                    .map(Value::python_str)
                    .unwrap_or_else(|| "None".into()),
            ))
        }
    }
    Ok(out)
}

/// `_get_current_rename_info()`: the interfaces `get_interfaces` lists
/// (no driver blacklist), with whether each is up and may be taken down.
/// `nics_with_addresses` is [`nics_with_addresses`] of `ip`'s output.
pub fn current_rename_info(sys: &SysNet, with_addresses: &HashSet<String>) -> Vec<CurrentNic> {
    sys.interfaces(&[])
        .into_iter()
        .map(|nic| {
            let up = sys.get(&nic.name).is_some_and(|i| i.is_up());
            CurrentNic {
                downable: !up || !with_addresses.contains(&nic.name),
                mac: nic.mac.to_lowercase(),
                name: nic.name,
                driver: nic.driver,
                device_id: nic.device_id,
                up,
            }
        })
        .collect()
}

/// The interfaces named in the output of `ip -6 addr show permanent scope
/// global` and `ip -4 addr show` (cloud-init's `[0-9]+:\s+(\w+)[@:]`, found
/// anywhere, as `re.findall` does).
pub fn nics_with_addresses(outputs: &[&str]) -> HashSet<String> {
    let mut names = HashSet::new();
    for out in outputs {
        let chars: Vec<char> = out.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            match match_ifline(&chars[i..]) {
                Some((name, len)) => {
                    names.insert(name);
                    i += len;
                }
                None => i += 1,
            }
        }
    }
    names
}

/// `[0-9]+:\s+(\w+)[@:]` at the start of `s`: the name and the match length.
fn match_ifline(s: &[char]) -> Option<(String, usize)> {
    let word = |c: &char| c.is_alphanumeric() || *c == '_';
    let mut i = s.iter().take_while(|c| c.is_ascii_digit()).count();
    if i == 0 || s.get(i) != Some(&':') {
        return None;
    }
    i += 1;
    let spaces = s[i..].iter().take_while(|c| c.is_whitespace()).count();
    if spaces == 0 {
        return None;
    }
    i += spaces;
    let n = s[i..].iter().take_while(|c| word(c)).count();
    if n == 0 || !matches!(s.get(i + n), Some('@' | ':')) {
        return None;
    }
    Some((s[i..i + n].iter().collect(), i + n + 1))
}

/// `_rename_interfaces(renames, current_info=...)` with its defaults
/// (`strict_present`, `strict_busy`): the steps, in cloud-init's order, and
/// its errors.
pub fn plan_renames(renames: &[Physdev], current: &[CurrentNic]) -> RenamePlan {
    let mut plan = RenamePlan::default();
    if renames.is_empty() {
        return plan;
    }
    let mut cur: Vec<CurrentNic> = current
        .iter()
        .map(|c| CurrentNic {
            mac: c.mac.to_lowercase(),
            ..c.clone()
        })
        .collect();
    // Lookups by MAC and by name, kept as the plan renames: a search of
    // every interface for each rename made n renames cost n².
    let mut names = Names::of(&cur);
    let by_mac = by_mac(&cur);
    let mut ups = Vec::new();
    let mut tmpi = 0usize;
    for r in renames {
        let mac = r.mac.to_lowercase();
        let new_name = r.name.as_str();
        let idx = match find_entry(
            &cur,
            &by_mac,
            &mac,
            r.driver.as_deref(),
            r.device_id.as_deref(),
        ) {
            Ok(Some(i)) => i,
            Ok(None) => {
                plan.errors.push(format!(
                    "[nic not present] Cannot rename mac={mac} to {new_name}, not available."
                ));
                continue;
            }
            // cloud-init raises at once: nothing is done.
            Err(e) => {
                return RenamePlan {
                    steps: Vec::new(),
                    errors: vec![e.to_string()],
                }
            }
        };
        let cur_name = cur[idx].name.clone();
        if cur_name == new_name {
            continue;
        }
        if cur_name.is_empty() {
            plan.errors.push(format!(
                "[nic not present] Cannot rename mac={mac} to {new_name}, not available."
            ));
            continue;
        }
        let mut cur_ops = Vec::new();
        if cur[idx].up {
            if !cur[idx].downable {
                plan.errors.push(format!(
                    "[busy] Error renaming mac={mac} from {cur_name} to {new_name}"
                ));
                continue;
            }
            cur[idx].up = false;
            cur_ops.push(RenameStep::Down(cur_name.clone()));
            ups.push(RenameStep::Up(new_name.to_string()));
        }
        if let Some(t) = names.last(new_name) {
            if cur[t].up {
                if !cur[t].downable {
                    // As in cloud-init, the up queued above stays queued.
                    plan.errors.push(format!(
                        "[busy-target] Error renaming mac={mac} from {cur_name} to {new_name}."
                    ));
                    continue;
                }
                cur_ops.push(RenameStep::Down(new_name.to_string()));
            }
            let tmp = loop {
                let candidate = format!("cirename{tmpi}");
                tmpi += 1;
                if names.last(&candidate).is_none() {
                    break candidate;
                }
            };
            cur_ops.push(RenameStep::Rename {
                from: new_name.to_string(),
                to: tmp.clone(),
            });
            names.rename(t, &cur[t].name, &tmp);
            cur[t].name = tmp.clone();
            if cur[t].up {
                ups.push(RenameStep::Up(tmp));
            }
        }
        cur_ops.push(RenameStep::Rename {
            from: cur[idx].name.clone(),
            to: new_name.to_string(),
        });
        names.rename(idx, &cur[idx].name, new_name);
        cur[idx].name = new_name.to_string();
        plan.steps.extend(cur_ops);
    }
    plan.steps.extend(ups);
    plan
}

/// The interfaces by name, as the plan renames them: `update_byname`'s
/// dict by name, where the last of equal names wins.
struct Names(HashMap<String, BTreeSet<usize>>);

impl Names {
    fn of(cur: &[CurrentNic]) -> Names {
        let mut m: HashMap<String, BTreeSet<usize>> = HashMap::new();
        for (i, c) in cur.iter().enumerate() {
            m.entry(c.name.clone()).or_default().insert(i);
        }
        Names(m)
    }

    /// The last interface called `name`.
    fn last(&self, name: &str) -> Option<usize> {
        self.0.get(name).and_then(|s| s.last().copied())
    }

    /// Interface `i` is no longer called `from` but `to`.
    fn rename(&mut self, i: usize, from: &str, to: &str) {
        if let Some(s) = self.0.get_mut(from) {
            s.remove(&i);
        }
        self.0.entry(to.to_string()).or_default().insert(i);
    }
}

/// The interfaces of each (lower-case) MAC, in order.
fn by_mac(cur: &[CurrentNic]) -> HashMap<String, Vec<usize>> {
    let mut m: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, c) in cur.iter().enumerate() {
        m.entry(c.mac.clone()).or_default().push(i);
    }
    m
}

/// `find_entry`: the one interface matching on MAC, and on the driver and
/// device id when given (device id counts only with a driver); an error
/// when several match. `by_mac` holds `cur`'s interfaces by MAC.
fn find_entry(
    cur: &[CurrentNic],
    by_mac: &HashMap<String, Vec<usize>>,
    mac: &str,
    driver: Option<&str>,
    device_id: Option<&str>,
) -> Result<Option<usize>, NetInputError> {
    let matches = |c: &CurrentNic| match (mac.is_empty(), driver, device_id) {
        (true, _, _) => false,
        (false, Some(d), Some(id)) => {
            c.mac == mac && c.driver.as_deref() == Some(d) && c.device_id.as_deref() == Some(id)
        }
        (false, Some(d), None) => c.mac == mac && c.driver.as_deref() == Some(d),
        (false, None, _) => c.mac == mac,
    };
    let found: Vec<usize> = by_mac
        .get(mac)
        .into_iter()
        .flatten()
        .copied()
        .filter(|&i| matches(&cur[i]))
        .collect();
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        many => {
            let list: Vec<String> = many.iter().map(|&i| nic_repr(&cur[i])).collect();
            Err(NetInputError::AmbiguousDevice {
                devices: list.join(", "),
                mac: mac.to_string(),
                driver: driver.unwrap_or("None").to_string(),
                device_id: device_id.unwrap_or("None").to_string(),
            })
        }
    }
}

/// The interface as cloud-init's dict prints.
fn nic_repr(c: &CurrentNic) -> String {
    let opt = |v: &Option<String>| v.clone().map(Value::Str).unwrap_or_default();
    let m: Mapping = [
        ("downable", Value::Bool(c.downable)),
        ("device_id", opt(&c.device_id)),
        ("driver", opt(&c.driver)),
        ("mac", Value::str(&c.mac)),
        ("name", Value::str(&c.name)),
        ("up", Value::Bool(c.up)),
    ]
    .into_iter()
    .map(|(k, v)| (Value::str(k), v))
    .collect();
    Value::Map(m).python_repr()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nic(name: &str, mac: &str, up: bool, downable: bool) -> CurrentNic {
        CurrentNic {
            name: name.into(),
            mac: mac.into(),
            driver: Some("virtio_net".into()),
            device_id: None,
            up,
            downable,
        }
    }

    fn want(mac: &str, name: &str) -> Physdev {
        Physdev {
            mac: mac.into(),
            name: name.into(),
            driver: None,
            device_id: None,
        }
    }

    fn steps(plan: &RenamePlan) -> Vec<String> {
        plan.steps.iter().map(|s| s.argv()[3..].join(" ")).collect()
    }

    const A: &str = "02:00:00:00:00:0a";
    const B: &str = "02:00:00:00:00:0b";
    const C: &str = "02:00:00:00:00:0c";

    #[test]
    fn simple_and_already_right() {
        let cur = [nic("ens3", A, false, true), nic("eth1", B, false, true)];
        let plan = plan_renames(&[want(A, "eth0"), want(B, "eth1")], &cur);
        assert_eq!(steps(&plan), ["ens3 name eth0"]);
        assert!(plan.errors.is_empty());
        assert_eq!(
            plan.host_actions()[0],
            HostAction {
                what: "rename interface ens3 to eth0".into(),
                argv: ["ip", "link", "set", "ens3", "name", "eth0"]
                    .map(String::from)
                    .to_vec(),
            }
        );
        // Nothing to do, nothing asked.
        assert_eq!(
            plan_renames(&[want(B, "eth1")], &cur),
            RenamePlan::default()
        );
        assert_eq!(plan_renames(&[], &cur), RenamePlan::default());
    }

    #[test]
    fn swap_goes_through_a_temporary_name() {
        // Both down: eth1 moves aside to cirename0, then back.
        let cur = [nic("eth0", A, false, true), nic("eth1", B, false, true)];
        let plan = plan_renames(&[want(A, "eth1"), want(B, "eth0")], &cur);
        assert_eq!(
            steps(&plan),
            [
                "eth1 name cirename0",
                "eth0 name eth1",
                "cirename0 name eth0"
            ]
        );
        // Both up without addresses: downs and renames, then the ups. As
        // in cloud-init, the one pushed aside is queued to come up under its
        // temporary name, which it no longer has by then (that step fails
        // when run, harmlessly: it comes up under its new name after).
        let cur = [nic("eth0", A, true, true), nic("eth1", B, true, true)];
        let plan = plan_renames(&[want(A, "eth1"), want(B, "eth0")], &cur);
        assert_eq!(
            steps(&plan),
            [
                "eth0 down",
                "eth1 down",
                "eth1 name cirename0",
                "eth0 name eth1",
                "cirename0 down",
                "cirename0 name eth0",
                "eth1 up",
                "cirename0 up",
                "eth0 up",
            ]
        );
        assert!(plan.errors.is_empty());
    }

    #[test]
    fn chains_and_taken_temporary_names() {
        // A rotation of three; cirename0 exists already, so cirename1.
        let cur = [
            nic("eth0", A, false, true),
            nic("eth1", B, false, true),
            nic("eth2", C, false, true),
            nic("cirename0", "02:00:00:00:00:ff", false, true),
        ];
        let plan = plan_renames(&[want(A, "eth1"), want(B, "eth2"), want(C, "eth0")], &cur);
        assert_eq!(
            steps(&plan),
            [
                "eth1 name cirename1",
                "eth0 name eth1",
                "eth2 name cirename2",
                "cirename1 name eth2",
                "cirename2 name eth0",
            ]
        );
    }

    #[test]
    fn missing_busy_and_ambiguous() {
        let cur = [
            nic("eth0", A, true, false),
            nic("eth1", B, true, false),
            nic("ens5", C, false, true),
        ];
        let plan = plan_renames(
            &[
                want("02:00:00:00:00:99", "eth9"),
                want(A, "lan0"),
                want(C, "eth1"),
                want("", "eth7"),
            ],
            &cur,
        );
        // The busy target's rename is dropped (nothing renamed) ...
        assert_eq!(steps(&plan), Vec::<String>::new());
        assert_eq!(
            plan.errors,
            [
                "[nic not present] Cannot rename mac=02:00:00:00:00:99 to eth9, not available.",
                "[busy] Error renaming mac=02:00:00:00:00:0a from eth0 to lan0",
                "[busy-target] Error renaming mac=02:00:00:00:00:0c from ens5 to eth1.",
                "[nic not present] Cannot rename mac= to eth7, not available.",
            ]
        );
        // ... but, as in cloud-init, an up queued before it was found busy
        // stays: the up-and-downable NIC is brought up under the name it
        // wanted.
        let cur = [nic("ens5", C, true, true), nic("eth1", B, true, false)];
        let plan = plan_renames(&[want(C, "eth1")], &cur);
        assert_eq!(steps(&plan), ["eth1 up"]);
        assert_eq!(plan.errors.len(), 1);

        // MAC case does not matter; a driver narrows the match; two matches
        // stop everything.
        let mut other = nic("ens6", A, false, true);
        other.driver = Some("e1000".into());
        let cur = [nic("ens5", A, false, true), other];
        let plan = plan_renames(&[want(&A.to_uppercase(), "eth0")], &cur);
        assert!(plan.steps.is_empty());
        assert!(
            plan.errors[0].starts_with("Failed to match a single device."),
            "{plan:?}"
        );
        assert!(plan.errors[0].contains("'name': 'ens6'"), "{plan:?}");
        let mut narrowed = want(A, "eth0");
        narrowed.driver = Some("e1000".into());
        assert_eq!(steps(&plan_renames(&[narrowed], &cur)), ["ens6 name eth0"]);
    }

    #[test]
    fn ip_output_names() {
        let ip4 = "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue\n    inet 127.0.0.1/8 scope host lo\n2: ens3: <BROADCAST,MULTICAST,UP> mtu 1500\n    inet 10.0.0.5/24 brd 10.0.0.255 scope global ens3\n       valid_lft forever preferred_lft forever\n";
        let ip6 = "5: veth0@if4: <BROADCAST> mtu 1500\n    inet6 2001:db8::5/64 scope global\n";
        let names = nics_with_addresses(&[ip6, ip4]);
        let mut v: Vec<_> = names.into_iter().collect();
        v.sort();
        assert_eq!(v, ["ens3", "lo", "veth0"]);
        assert!(nics_with_addresses(&["12:x: a:", ":: 1", "1:  :"]).is_empty());
    }

    /// From config and a fake sysfs to host actions, as the caller chains them.
    #[test]
    fn whole_chain_on_a_fake_sysfs() {
        use crate::net::input::sys::tests::{nic as dev, Dev, FakeSys};
        let s = FakeSys::new();
        s.add(dev("ens3", A, "virtio_net"))
            .add(Dev {
                operstate: Some("down"),
                ..dev("ens4", B, "virtio_net")
            })
            .add(dev("ens5", C, "virtio_net"));
        let sys = s.read();
        let netcfg = crate::yaml::load(
            format!(
                "version: 1\nconfig:\n- {{type: physical, name: eth0, mac_address: '{A}'}}\n\
                 - {{type: physical, name: eth1, mac_address: '{B}'}}\n\
                 - {{type: physical, name: eth2, mac_address: '{C}'}}\n"
            )
            .as_bytes(),
            "t",
        )
        .unwrap();
        let renames = physdevs_from_config(&netcfg, &sys).unwrap();
        // ens3 has an address (busy); ens5 is up without one.
        let with =
            nics_with_addresses(&["2: ens3: <UP>\n    inet 10.0.0.5/24 scope global ens3\n"]);
        let plan = plan_renames(&renames, &current_rename_info(&sys, &with));
        assert_eq!(
            steps(&plan),
            ["ens4 name eth1", "ens5 down", "ens5 name eth2", "eth2 up"]
        );
        assert_eq!(
            plan.errors,
            ["[busy] Error renaming mac=02:00:00:00:00:0a from ens3 to eth0"]
        );
        assert_eq!(plan.host_actions()[1].what, "bring interface ens5 down");
        assert_eq!(
            plan.host_actions()[1].argv,
            ["ip", "link", "set", "ens5", "down"]
        );
    }

    /// The driver cloud-init matches on is read for the *wanted* name: it
    /// tells apart NICs sharing a MAC (Hyper-V's VF and its synthetic NIC),
    /// and, faithfully, it fails a swap between NICs of different drivers.
    #[test]
    fn driver_read_by_wanted_name() {
        use crate::net::input::sys::tests::{nic as dev, FakeSys};
        let s = FakeSys::new();
        s.add(dev("eth0", A, "hv_netvsc"))
            .add(dev("enP1", A, "mlx5_core"));
        let sys = s.read();
        let netcfg = crate::yaml::load(
            format!(
                "version: 2\nethernets:\n  x: {{set-name: eth0, match: {{macaddress: '{A}'}}}}\n"
            )
            .as_bytes(),
            "t",
        )
        .unwrap();
        let renames = physdevs_from_config(&netcfg, &sys).unwrap();
        assert_eq!(renames[0].driver.as_deref(), Some("hv_netvsc"));
        let plan = plan_renames(&renames, &current_rename_info(&sys, &HashSet::new()));
        assert_eq!(plan, RenamePlan::default());

        let s = FakeSys::new();
        s.add(dev("eth0", A, "e1000"))
            .add(dev("eth1", B, "virtio_net"));
        let sys = s.read();
        let netcfg = crate::yaml::load(
            format!(
                "version: 1\nconfig:\n- {{type: physical, name: eth1, mac_address: '{A}'}}\n\
                 - {{type: physical, name: eth0, mac_address: '{B}'}}\n"
            )
            .as_bytes(),
            "t",
        )
        .unwrap();
        let renames = physdevs_from_config(&netcfg, &sys).unwrap();
        let plan = plan_renames(&renames, &current_rename_info(&sys, &HashSet::new()));
        assert!(plan.steps.is_empty());
        assert_eq!(plan.errors.len(), 2, "{plan:?}");
    }

    #[test]
    fn physdevs_v1_and_v2() {
        let v1 = crate::yaml::load(
            b"version: 1\nconfig:\n- {type: physical, name: eth0, mac_address: 'FA:16:3E:00:00:01', params: {driver: virtio_net}}\n- {type: physical, name: eth1}\n- {type: bond, name: bond0, mac_address: 'fa:16:3e:00:00:01'}\n- {type: physical, name: eth2, mac_address: 'fa:16:3e:00:00:02', params: {device_id: 0x1000}}\n",
            "t",
        )
        .unwrap();
        let sys = SysNet::default();
        let got = physdevs_from_config(&v1, &sys).unwrap();
        assert_eq!(
            got,
            [
                Physdev {
                    mac: "FA:16:3E:00:00:01".into(),
                    name: "eth0".into(),
                    driver: Some("virtio_net".into()),
                    device_id: None,
                },
                Physdev {
                    mac: "fa:16:3e:00:00:02".into(),
                    name: "eth2".into(),
                    driver: None,
                    device_id: Some("4096".into()),
                },
            ]
        );
        let v2 = crate::yaml::load(
            b"version: 2\nethernets:\n  a: {set-name: lan0, match: {macaddress: 'fa:16:3e:00:00:01', driver: e1000}}\n  b: {match: {macaddress: 'fa:16:3e:00:00:02'}}\n  c: {set-name: lan2}\n",
            "t",
        )
        .unwrap();
        let got = physdevs_from_config(&v2, &sys).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].name, "lan0");
        assert_eq!(got[0].driver.as_deref(), Some("e1000"));
        let bad = crate::yaml::load(b"version: 3\n", "t").unwrap();
        assert!(physdevs_from_config(&bad, &sys).is_err());
        let bad = crate::yaml::load(b"version: 2\nethernets: [1]\n", "t").unwrap();
        assert!(physdevs_from_config(&bad, &sys).is_err());
    }
}
