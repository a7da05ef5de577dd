//! OpenNebula (`sources/DataSourceOpenNebula.py`): the context disk, an
//! ISO9660 that carries `context.sh`, a shell file of variables. Read from
//! the seed directory `/var/lib/cloud/seed/opennebula` when it exists (then
//! nothing else, as 22.4's candidate loop reads every candidate as that
//! directory), else from devices labelled `CONTEXT`, then `CDROM`, then any
//! ISO9660, read in place.
//!
//! `context.sh` is read as 22.4's `parse_shell_config` reads it (see
//! [`shell`]); every variable it sets is meta-data. `SSH_KEY` (else
//! `SSH_PUBLIC_KEY`) gives the keys, `SET_HOSTNAME`, `HOSTNAME`,
//! `PUBLIC_IP`, `IP_PUBLIC`, `ETH0_IP` (the first set) `local-hostname`,
//! `USER_DATA` (else `USERDATA`) the user-data, base64 when
//! `USERDATA_ENCODING` (else `USER_DATA_ENCODING`) is `base64`, and
//! `ETH<n>_IP*` a version 2 network config for the machine's physical NICs
//! (`OpenNebulaNetwork.gen_conf`). The instance-id is always 22.4's
//! `iid-dsopennebula` (no shell variable can be named `instance-id`).
//!
//! Not done: `datasource.OpenNebula.parseuser` (nothing runs, so no user
//! is switched to, and its existence is not checked).

mod shell;

use std::path::Path;

use super::detect::{named_in_config, Detect};
use super::source::{subplatform, DirSource, SeedSource};
use super::{Datasource, DatasourceInfo, DsContext, DsError, DsMode, Found, Instance};
use crate::base64;
use crate::py::str::{is_space, splitlines};
use crate::value::{Mapping, Value};

use shell::parse_shell_config;

pub struct OpenNebula;

const DEFAULT_IID: &str = "iid-dsopennebula";

static INFO: DatasourceInfo = DatasourceInfo {
    name: "OpenNebula",
    aliases: &["OpenNebulaNet"],
    summary: "the context disk (`CONTEXT`/`CDROM`/any ISO9660, or \
              `/var/lib/cloud/seed/opennebula`): `context.sh` read as bash would (without \
              running it), keys, hostname, user-data, network config from `ETH<n>_*`",
};

/// What a context disk gives (`read_context_disk_dir`'s `results`).
#[derive(Debug, Default, PartialEq)]
pub struct Context {
    pub metadata: Mapping,
    pub user_data: Option<Vec<u8>>,
    pub network: Option<Value>,
    pub dsmode: Option<String>,
}

/// A physical NIC of the machine: (MAC in lower case, name).
pub type Nic = (String, String);

/// `read_context_disk_dir` on `context.sh`'s text (`file` names it in
/// problems), for the machine's `nics`.
pub fn read_context(text: &str, file: &str, nics: &[Nic]) -> Result<Context, DsError> {
    let vars = parse_shell_config(text).map_err(|e| DsError::BadFile {
        file: file.to_string(),
        error: format!("Error processing context.sh: {e}"),
    })?;
    let mut out = Context::default();
    if vars.is_empty() {
        return Ok(out);
    }
    let get = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let mut md = Mapping::new();
    for (k, v) in &vars {
        md.insert(Value::str(k.as_str()), Value::str(v.as_str()));
    }
    if let Some(keys) = get("SSH_KEY").or_else(|| get("SSH_PUBLIC_KEY")) {
        let keys: Vec<Value> = splitlines(keys)
            .into_iter()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(Value::str)
            .collect();
        md.insert(Value::str("public-keys"), Value::Seq(keys));
    }
    if let Some(host) = [
        "SET_HOSTNAME",
        "HOSTNAME",
        "PUBLIC_IP",
        "IP_PUBLIC",
        "ETH0_IP",
    ]
    .iter()
    .find_map(|k| get(k))
    {
        md.insert(Value::str("local-hostname"), Value::str(host));
    }
    let user_data = get("USER_DATA").or_else(|| get("USERDATA"));
    let encoding = get("USERDATA_ENCODING").or_else(|| get("USER_DATA_ENCODING"));
    out.user_data = match (user_data, encoding) {
        (Some(ud), Some("base64")) => {
            Some(
                base64::decode(ud.as_bytes()).map_err(|e| DsError::BadValue {
                    file: file.to_string(),
                    key: "USER_DATA".into(),
                    error: format!("not base64 as USERDATA_ENCODING says: {e}"),
                })?,
            )
        }
        (ud, _) => ud.map(|s| s.as_bytes().to_vec()),
    };
    out.dsmode = get("DSMODE").map(str::to_string);
    let has_ip = vars.iter().any(|(k, _)| is_eth_ip_key(k));
    if has_ip {
        out.network = Some(
            gen_conf(&vars, nics).map_err(|(key, error)| DsError::BadValue {
                file: file.to_string(),
                key,
                error,
            })?,
        );
    }
    out.metadata = md;
    Ok(out)
}

/// `^ETH\d+_IP.*$`.
fn is_eth_ip_key(k: &str) -> bool {
    let Some(rest) = k.strip_prefix("ETH") else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && rest[digits..].starts_with("_IP")
}

/// `OpenNebulaNetwork.gen_conf`: one v2 ethernet per physical NIC, from
/// the context variables of the `ETH<n>` whose `ETH<n>_MAC` is the NIC's
/// (else of the NIC's own name, upper case). Errors: (key, reason).
pub fn gen_conf(vars: &[(String, String)], nics: &[Nic]) -> Result<Value, (String, String)> {
    let get = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    // `context_devname`: MAC (lower case) -> ETH<n>; the last wins.
    let mut devname: Vec<(String, String)> = Vec::new();
    for (k, v) in vars {
        if let Some(dev) = k.strip_suffix("_MAC").filter(|d| !d.is_empty()) {
            let mac = v.to_lowercase();
            devname.retain(|(m, _)| *m != mac);
            devname.push((mac, dev.to_string()));
        }
    }
    // `get_field`: `<DEV>_<NAME>`, an empty value is the default.
    let field = |dev: &str, name: &str| {
        get(&format!("{dev}_{name}").to_uppercase()).filter(|v| !v.is_empty())
    };
    let mut nics: Vec<&Nic> = nics.iter().collect();
    nics.sort_by_key(|n| natural_key(&n.1));
    let mut ethernets = Mapping::new();
    for (mac, dev) in nics {
        let mac = mac.to_lowercase();
        let c_dev = devname
            .iter()
            .find(|(m, _)| *m == mac)
            .map(|(_, d)| d.as_str())
            .unwrap_or(dev);
        let mut conf = Mapping::new();
        let mut m = Mapping::new();
        m.insert(Value::str("macaddress"), Value::str(mac.as_str()));
        conf.insert(Value::str("match"), Value::Map(m));
        let mask = field(c_dev, "mask").unwrap_or("255.255.255.0");
        let prefix =
            ipv4_mask_to_prefix(mask).map_err(|e| (format!("{}_MASK", c_dev.to_uppercase()), e))?;
        let ip = match field(c_dev, "ip") {
            Some(ip) => ip.to_string(),
            None => mac2ip(&mac).map_err(|e| (format!("{}_IP", c_dev.to_uppercase()), e))?,
        };
        let mut addresses = vec![Value::str(format!("{ip}/{prefix}"))];
        let ip6: Vec<&str> = [field(c_dev, "ip6"), field(c_dev, "ip6_ula")]
            .into_iter()
            .flatten()
            .collect();
        if !ip6.is_empty() {
            let prefix6 = field(c_dev, "ip6_prefix_length").unwrap_or("64");
            addresses.extend(ip6.iter().map(|a| Value::str(format!("{a}/{prefix6}"))));
        }
        conf.insert(Value::str("addresses"), Value::Seq(addresses));
        if let Some(gw) = field(c_dev, "gateway") {
            conf.insert(Value::str("gateway4"), Value::str(gw));
        }
        if let Some(gw6) = field(c_dev, "ip6_gateway").or_else(|| field(c_dev, "gateway6")) {
            conf.insert(Value::str("gateway6"), Value::str(gw6));
        }
        let words = |s: Option<&str>| -> Vec<Value> {
            s.unwrap_or("")
                .split(is_space)
                .filter(|w| !w.is_empty())
                .map(Value::str)
                .collect()
        };
        let mut dns = words(field(c_dev, "dns"));
        dns.extend(words(get("DNS")));
        let search = words(field(c_dev, "search_domain"));
        let mut ns = Mapping::new();
        if !dns.is_empty() {
            ns.insert(Value::str("addresses"), Value::Seq(dns));
        }
        if !search.is_empty() {
            ns.insert(Value::str("search"), Value::Seq(search));
        }
        if !ns.is_empty() {
            conf.insert(Value::str("nameservers"), Value::Map(ns));
        }
        if let Some(mtu) = field(c_dev, "mtu") {
            conf.insert(Value::str("mtu"), Value::str(mtu));
        }
        ethernets.insert(Value::str(dev.as_str()), Value::Map(conf));
    }
    let mut netconf = Mapping::new();
    netconf.insert(Value::str("version"), Value::Int(2));
    netconf.insert(Value::str("ethernets"), Value::Map(ethernets));
    Ok(Value::Map(netconf))
}

/// `mac2ip`: the MAC's bytes after the second, as a dotted quad.
fn mac2ip(mac: &str) -> Result<String, String> {
    mac.split(':')
        .skip(2)
        .map(|c| {
            u32::from_str_radix(c, 16)
                .map(|v| v.to_string())
                .map_err(|_| format!("MAC {mac} does not make an address"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(|parts| parts.join("."))
}

/// `net.natural_sort_key`: digit runs compare as numbers, the rest in
/// lower case.
fn natural_key(s: &str) -> Vec<(String, u128)> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            out.push((String::new(), rest[..digits].parse().unwrap_or(u128::MAX)));
            rest = &rest[digits..];
        } else {
            let text = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            out.push((rest[..text].to_lowercase(), 0));
            rest = &rest[text..];
        }
    }
    out
}

/// `net.ipv4_mask_to_net_prefix`: Python's `ip_network("0.0.0.0/<mask>")`
/// prefix: a prefix length (0-32), a netmask or a host mask.
pub fn ipv4_mask_to_prefix(mask: &str) -> Result<u32, String> {
    let invalid = || format!("{mask:?} is not a valid netmask");
    if mask.contains('/') {
        return Err(format!("Only one '/' permitted in '0.0.0.0/{mask}'"));
    }
    if !mask.is_empty() && mask.bytes().all(|b| b.is_ascii_digit()) {
        return match mask.parse::<u32>() {
            Ok(p) if p <= 32 => Ok(p),
            _ => Err(invalid()),
        };
    }
    let octets: Vec<&str> = mask.split('.').collect();
    if octets.len() != 4 {
        return Err(invalid());
    }
    let mut n: u32 = 0;
    for o in octets {
        let ok = !o.is_empty()
            && o.len() <= 3
            && o.bytes().all(|b| b.is_ascii_digit())
            && !(o.len() > 1 && o.starts_with('0'));
        let v: u32 = o
            .parse()
            .ok()
            .filter(|v| ok && *v <= 255)
            .ok_or_else(invalid)?;
        n = n << 8 | v;
    }
    let prefix_of = |n: u32| {
        let ones = n.leading_ones();
        (n.checked_shl(ones).unwrap_or(0) == 0).then_some(ones)
    };
    prefix_of(n).or_else(|| prefix_of(!n)).ok_or_else(invalid)
}

/// `get_physical_nics_by_mac`: the physical NICs under the root's
/// `/sys/class/net` (a `device` link), with a MAC that is not all zeros;
/// the first of two with one MAC.
fn physical_nics(ctx: &DsContext) -> Vec<Nic> {
    let base = Path::new("/sys/class/net");
    let mut out: Vec<Nic> = Vec::new();
    for name in ctx.fs.list_dir(base).unwrap_or_default() {
        let dir = base.join(&name);
        if ctx.fs.stat(&dir.join("device")).is_none() {
            continue;
        }
        let Some(mac) = ctx
            .fs
            .read_string(&dir.join("address"))
            .map(|m| m.trim().to_lowercase())
        else {
            continue;
        };
        if mac.is_empty() || mac.bytes().all(|b| b == b'0' || b == b':') {
            continue;
        }
        if !out.iter().any(|(m, _)| *m == mac) {
            out.push((mac, name));
        }
    }
    out
}

impl OpenNebula {
    /// Where context disks may be: only the seed directory when it exists.
    fn sources<'a>(
        ctx: &'a DsContext,
        problems: &mut Vec<String>,
    ) -> Vec<Box<dyn SeedSource + 'a>> {
        let seed = ctx.paths.seed_dir("opennebula");
        if ctx.fs.is_dir(&seed) {
            return vec![Box::new(DirSource {
                fs: ctx.fs,
                base: seed,
            })];
        }
        super::devices::candidates_ranked(
            ctx,
            &|fs_type, label| match label {
                "CONTEXT" => Some(0),
                "CDROM" => Some(1),
                _ if fs_type == "iso9660" => Some(2),
                _ => None,
            },
            problems,
        )
        .into_iter()
        .map(|s| s as Box<dyn SeedSource>)
        .collect()
    }

    fn instance(ctx: &DsContext, src: &dyn SeedSource, c: Context) -> Option<Instance> {
        let mut md = c.metadata;
        if !md.contains_key("instance-id") {
            md.insert(Value::str("instance-id"), Value::str(DEFAULT_IID));
        }
        // `_determine_dsmode`: the context's DSMODE, else the config's; an
        // unknown one is `net`.
        let mode = c.dsmode.or_else(|| {
            ctx.ds_cfg("OpenNebula")
                .get("dsmode")
                .map(Value::python_str)
        });
        let dsmode = match mode.as_deref() {
            Some("disabled") => return None,
            Some("local") => DsMode::Local,
            _ => DsMode::Net,
        };
        let metadata = Value::Map(md);
        let public_keys = metadata
            .get("public-keys")
            .and_then(Value::as_seq)
            .map(|s| s.iter().map(Value::python_str).collect())
            .unwrap_or_default();
        Some(Instance {
            dsname: "OpenNebula".into(),
            class_name: "DataSourceOpenNebula".into(),
            description: format!(
                "DataSourceOpenNebula [seed={}][dsmode={}]",
                src.describe(),
                dsmode.as_str()
            ),
            instance_id: metadata
                .get("instance-id")
                .map(Value::python_str)
                .unwrap_or_else(|| DEFAULT_IID.into()),
            dsmode,
            user_data_from: c
                .user_data
                .is_some()
                .then(|| super::source::shown(src, "context.sh")),
            user_data: c.user_data,
            network_config: c.network,
            public_keys,
            cloud_name: "opennebula".into(),
            platform: "opennebula".into(),
            subplatform: subplatform(src),
            metadata,
            ..Default::default()
        })
    }
}

impl Datasource for OpenNebula {
    fn info(&self) -> &'static DatasourceInfo {
        &INFO
    }

    /// ds-identify's `dscheck_OpenNebula`: the seed directory with a
    /// `meta-data` file (its `check_seed_dir` default), or a filesystem
    /// labelled `CONTEXT` or `CDROM`.
    fn detect(&self, ctx: &DsContext) -> Detect {
        let seed = ctx.paths.seed_dir("opennebula").join("meta-data");
        if ctx.facts.exists(&seed.display().to_string())
            || ctx.facts.has_label(&["CONTEXT", "CDROM"])
        {
            Detect::Found
        } else if named_in_config(ctx.cfg, "OpenNebula") {
            Detect::Maybe
        } else {
            Detect::NotFound
        }
    }

    fn get(&self, ctx: &DsContext) -> Found {
        let mut problems = Vec::new();
        let sources = Self::sources(ctx, &mut problems);
        let mut nics: Option<Vec<Nic>> = None;
        for src in sources {
            let file = super::source::shown(src.as_ref(), "context.sh");
            let raw = match src.read("context.sh") {
                Ok(Some(raw)) => raw,
                Ok(None) => {
                    tracing::debug!("{}: no context.sh", src.describe());
                    continue;
                }
                // 22.4: an IOError is "not a context disk"; the next is tried.
                Err(e) => {
                    problems.push(format!("OpenNebula: Error reading context.sh: {e}"));
                    continue;
                }
            };
            // From here on 22.4 gives up on the datasource.
            let outcome = std::str::from_utf8(&raw)
                .map_err(|e| DsError::BadFile {
                    file: file.clone(),
                    error: format!("not UTF-8: {e}"),
                })
                .and_then(|text| {
                    let nics = nics.get_or_insert_with(|| physical_nics(ctx));
                    read_context(text, &file, nics)
                });
            return match outcome {
                Ok(c) => Found {
                    instance: Self::instance(ctx, src.as_ref(), c),
                    problems,
                },
                Err(e) => {
                    problems.push(format!("OpenNebula: {e}"));
                    Found {
                        instance: None,
                        problems,
                    }
                }
            };
        }
        Found {
            instance: None,
            problems,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_as_python_reads_them() {
        for (mask, want) in [
            ("255.255.255.0", Ok(24)),
            ("24", Ok(24)),
            ("0", Ok(0)),
            ("0.0.0.255", Ok(24)),
            ("255.255.255.255", Ok(32)),
            ("0.0.0.0", Ok(0)),
        ] {
            assert_eq!(ipv4_mask_to_prefix(mask), want, "{mask}");
        }
        for bad in [
            "33",
            "255.0.255.0",
            "255.255.255.00",
            "",
            "1.2.3",
            " 24",
            "24/1",
        ] {
            assert!(ipv4_mask_to_prefix(bad).is_err(), "{bad}");
        }
    }

    /// tests/fixtures/datasources/opennebula: each `<case>.sh` read by 22.4's
    /// `parse_shell_config` gave `<case>.json` (`make.py` there).
    #[test]
    fn context_files_read_as_22_4_reads_them() {
        let dir =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/datasources/opennebula");
        let mut seen = 0;
        for name in std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
        {
            let name = name.to_string_lossy().into_owned();
            let Some(case) = name.strip_suffix(".sh") else {
                continue;
            };
            seen += 1;
            let text = std::fs::read_to_string(dir.join(&name)).unwrap();
            let want: serde_json::Value =
                serde_json::from_slice(&std::fs::read(dir.join(format!("{case}.json"))).unwrap())
                    .unwrap();
            let got = match parse_shell_config(&text) {
                Ok(vars) => serde_json::Value::Object(
                    vars.into_iter()
                        .map(|(k, v)| (k, serde_json::Value::String(v)))
                        .collect(),
                ),
                Err(e) => serde_json::json!({"error": e.to_string()}),
            };
            if case.starts_with("unsupported-") {
                // Shell only bash answers: refused by design (the .json
                // shows what 22.4 made of it).
                let e = got["error"].as_str().unwrap_or_default();
                assert!(e.contains("is not supported"), "{case}: {got}");
                continue;
            }
            match want.get("error") {
                // 22.4 refused it too (bash failed); the reasons differ.
                Some(_) => assert!(
                    got.get("error").is_some(),
                    "{case}: 22.4 refused it, we read {got}"
                ),
                None => assert_eq!(got, want, "{case}"),
            }
        }
        assert!(seen >= 10, "only {seen} context files");
    }

    /// `<case>.net.json`: `{context, nics, netconf}` from 22.4's `gen_conf`.
    #[test]
    fn network_config_as_22_4_generates_it() {
        let dir =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/datasources/opennebula");
        let mut seen = 0;
        for name in std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
        {
            let name = name.to_string_lossy().into_owned();
            if !name.ends_with(".net.json") {
                continue;
            }
            seen += 1;
            let case: serde_json::Value =
                serde_json::from_slice(&std::fs::read(dir.join(&name)).unwrap()).unwrap();
            let vars: Vec<(String, String)> = case["context"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            let nics: Vec<Nic> = case["nics"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(m, n)| (m.clone(), n.as_str().unwrap().to_string()))
                .collect();
            let got = gen_conf(&vars, &nics).map(|v| v.to_json());
            match case.get("error") {
                Some(_) => assert!(got.is_err(), "{name}: 22.4 raised, we gave {got:?}"),
                None => assert_eq!(got.unwrap(), case["netconf"], "{name}"),
            }
        }
        assert!(seen >= 3, "only {seen} network cases");
    }
}
