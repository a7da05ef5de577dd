//! Network config at boot, decided as cloud-init 22.4 decides it
//! (`Init.apply_network_config`, `Init._find_networking_config`,
//! `Distro.apply_network_config`, `renderers.select`): which config, whether
//! to apply it this boot, which renderer, and how to bring it up. Everything
//! here decides; the engine turns the decision into effects.

use std::path::Path;

use crate::distro::network::select_renderer;
use crate::distro::OsRelease;
use crate::net::input::NetInputError;
use crate::rootfs::FsView;
use crate::value::Value;

/// Where a network config came from (cloud-init's `NetworkConfigSource`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigSource {
    /// `/var/lib/cloud/data/upgraded-network` exists: networking is left alone.
    UpgradedNetwork,
    /// `network-config=` on the kernel command line.
    Cmdline,
    /// `network:` in `/etc/cloud/cloud.cfg` (and `cloud.cfg.d`).
    SystemCfg,
    /// The datasource's network config.
    Datasource,
    /// No config anywhere: DHCP on the first real NIC.
    Fallback,
}

impl ConfigSource {
    /// The name cloud-init logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigSource::UpgradedNetwork => "upgraded-network file",
            ConfigSource::Cmdline => "cmdline",
            ConfigSource::SystemCfg => "system_cfg",
            ConfigSource::Datasource => "ds",
            ConfigSource::Fallback => "fallback",
        }
    }
}

/// Which NICs the fallback config (no config anywhere) gives DHCP:
/// cloudboot's opt-in setting `cloudboot: {network: {fallback: all-nics}}`
/// in the system config (`/etc/cloud/cloud.cfg`, `cloud.cfg.d`, the
/// runtime file), read from there alone as cloud-init reads its own
/// `network:` key: the fallback is decided in the local stage, before any
/// user-data or vendor-data is read, so neither could turn it on
/// consistently. Not `network: {fallback: ...}`: 22.4 would take that
/// mapping for the system's network config itself (`_find_networking_config`
/// returns it as `system_cfg`), skip its fallback and fail on it
/// (`Unknown network config version: None`), so an image that goes back to
/// cloud-init would boot without network; 22.4 ignores a top-level
/// `cloudboot` key (its schema validates it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FallbackScope {
    /// 22.4's: DHCP on the one NIC `find_fallback_nic` picks.
    #[default]
    FirstNic,
    /// DHCP on every candidate NIC (`SysNet::all_fallback_nics`).
    AllNics,
}

/// The setting's path, for messages and docs.
pub const FALLBACK_KEY: &str = "cloudboot.network.fallback";

impl FallbackScope {
    /// The setting as the system config has it, and a note when its value
    /// is not one of `first-nic` and `all-nics` (the default is kept).
    pub fn from_system_config(sys_cfg: &Value) -> (FallbackScope, Option<String>) {
        let Some(v) = sys_cfg
            .get("cloudboot")
            .and_then(|c| c.get("network"))
            .and_then(|n| n.get("fallback"))
        else {
            return (FallbackScope::FirstNic, None);
        };
        // As the schema's enum check reads it: trimmed, any case.
        match v.as_str().map(|s| s.trim().to_ascii_lowercase()).as_deref() {
            Some("first-nic") => (FallbackScope::FirstNic, None),
            Some("all-nics") => (FallbackScope::AllNics, None),
            _ => (
                FallbackScope::FirstNic,
                Some(format!(
                    "{FALLBACK_KEY}: expected first-nic or all-nics, found {}; the fallback stays on the first NIC",
                    v.python_str()
                )),
            ),
        }
    }
}

/// The outcome of the search for a network config.
#[derive(Clone, Debug, PartialEq)]
pub enum Found {
    /// `{config: disabled}` (or the upgraded-network file) at this source.
    Disabled(ConfigSource),
    /// A v1/v2 config (its top-level `network:` key removed).
    Config(ConfigSource, Value),
    /// Nothing found and no interface to fall back to.
    Nothing,
}

/// `net.is_disabled_cfg`.
pub fn is_disabled(cfg: &Value) -> bool {
    cfg.get("config").and_then(Value::as_str) == Some("disabled")
}

/// `_remove_top_level_network_key`.
fn without_network_key(cfg: Value) -> Value {
    match cfg.get("network") {
        Some(inner) => inner.clone(),
        None => cfg,
    }
}

/// `cmdline.read_kernel_cmdline_config`: the last `network-config=` token,
/// `disabled` or base64 of (optionally gzipped) YAML. Undecodable base64 is
/// ignored as cloud-init ignores it, with the reason returned.
pub fn kernel_cmdline_config(cmdline: &str) -> Result<Option<Value>, NetInputError> {
    let Some(data64) = cmdline
        .split_whitespace()
        .filter_map(|t| t.strip_prefix("network-config="))
        .next_back()
    else {
        return Ok(None);
    };
    if data64.is_empty() {
        return Ok(None);
    }
    if data64 == "disabled" {
        let mut m = crate::value::Mapping::new();
        m.insert(Value::str("config"), Value::str("disabled"));
        return Ok(Some(Value::Map(m)));
    }
    let blob = crate::base64::decode(data64.as_bytes())
        .map_err(|_| NetInputError::CmdlineNotBase64(data64.to_string()))?;
    // `_decomp_gzip`: gunzip when it is gzip, else the bytes as they are.
    let blob = if blob.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        use std::io::Read;
        flate2::read::GzDecoder::new(&blob[..])
            .take(1 << 20)
            .read_to_end(&mut out)
            .map_err(|e| NetInputError::CmdlineGzip(e.to_string()))?;
        out
    } else {
        blob
    };
    // `util.load_yaml`: anything but a mapping counts as no config.
    match crate::yaml::load(&blob, "kernel command line network-config") {
        Ok(v @ Value::Map(_)) => Ok(Some(v)),
        Ok(_) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Every source cloud-init consults, in the order of
/// `DataSource.network_config_sources` (cmdline, initramfs, system config,
/// datasource); `fallback` is asked only when none has a config.
pub fn find_config(
    fs: &dyn FsView,
    upgraded_network_file: &Path,
    sys_cfg: &Value,
    ds_config: Option<Value>,
    fallback: impl FnOnce() -> Option<Value>,
) -> (Found, Vec<String>) {
    let mut notes = Vec::new();
    if fs.exists(upgraded_network_file) {
        return (Found::Disabled(ConfigSource::UpgradedNetwork), notes);
    }
    let cmdline = fs
        .read_string(Path::new("/proc/cmdline"))
        .unwrap_or_default();
    let from_cmdline = kernel_cmdline_config(&cmdline).unwrap_or_else(|e| {
        notes.push(e.to_string());
        None
    });
    // The initramfs source (klibc's /run/net-*.conf) is not read: cloudboot
    // runs no initramfs networking of its own to take over from.
    let candidates = [
        (ConfigSource::Cmdline, from_cmdline),
        (ConfigSource::SystemCfg, sys_cfg.get("network").cloned()),
        (ConfigSource::Datasource, ds_config),
    ];
    for (source, cfg) in candidates {
        let Some(cfg) = cfg.map(without_network_key) else {
            continue;
        };
        if is_disabled(&cfg) {
            return (Found::Disabled(source), notes);
        }
        if cfg.truthy() {
            return (Found::Config(source, cfg), notes);
        }
    }
    match fallback() {
        Some(cfg) => (Found::Config(ConfigSource::Fallback, cfg), notes),
        None => (Found::Nothing, notes),
    }
}

/// What decides whether a known instance gets its network config again.
pub struct UpdatePolicy {
    /// No datasource (the local stage found none): cloud-init always applies.
    pub no_datasource: bool,
    pub new_instance: bool,
    /// `apply_network_config.once` exists under `/run/cloud-init/sem`.
    pub already_this_boot: bool,
}

/// `Init.apply_network_config`'s test: a new instance, or an `updates:
/// network: when:` list in the config that asks for `boot` (once per boot)
/// or `boot-legacy`. Returns why it applies, or `None`.
pub fn should_apply(policy: &UpdatePolicy, cfg: &Value) -> Option<&'static str> {
    if policy.no_datasource {
        return Some("no datasource");
    }
    if policy.new_instance {
        return Some("new instance");
    }
    let when = crate::datasource::events::user_network_events(cfg).unwrap_or_default();
    if !policy.already_this_boot && when.iter().any(|w| w == "boot") {
        return Some("updates: network: when: boot");
    }
    if when.iter().any(|w| w == "boot-legacy") {
        return Some("updates: network: when: boot-legacy");
    }
    None
}

/// What the network step of a boot sees.
pub struct BootNet<'a> {
    pub fs: &'a dyn FsView,
    /// The root's release (which renderer, which flavour).
    pub release: &'a OsRelease,
    pub paths: &'a crate::paths::Paths,
    /// The config network decisions read (`network:`, `system_info`,
    /// `updates`, `disable_network_activation`).
    pub cfg: &'a Value,
    /// The system config alone (cloud.cfg and cloud.cfg.d): where
    /// cloudboot's own network settings are read ([`FallbackScope`]).
    pub sys_cfg: &'a Value,
    /// `None`: no datasource was found (the fallback applies).
    pub instance: Option<&'a crate::datasource::Instance>,
    pub new_instance: bool,
    /// Bring the interfaces up afterwards (the network stage).
    pub bring_up: bool,
    /// The root is this machine's `/`: current addresses can be asked of `ip`.
    pub live: bool,
}

/// What the network step decided.
#[derive(Debug, Default)]
pub struct NetPlan {
    pub effects: Vec<crate::effect::Effect>,
    /// One line for the report: what was applied, from where, with what.
    pub summary: String,
    /// Whether network config is written this boot.
    pub applied: bool,
    pub notes: Vec<String>,
    pub errors: Vec<String>,
}

/// The datasource's network config (`DataSource.network_config`): a v1/v2
/// document as given (NoCloud's `network-config`), else `network_data.json`
/// converted, else ENI text converted (ConfigDrive v1, NoCloud's
/// `network-interfaces`).
pub fn datasource_config(
    instance: &crate::datasource::Instance,
    macs: &std::collections::HashMap<String, String>,
    plan: &mut NetPlan,
) -> Option<Value> {
    if let Some(cfg) = &instance.network_config {
        return Some(cfg.clone());
    }
    if let Some(json) = instance.network_json.as_ref().filter(|j| !j.is_null()) {
        match crate::net::input::openstack::convert_net_json(json, macs) {
            Ok((cfg, warnings)) => {
                plan.notes.extend(warnings);
                return Some(cfg);
            }
            Err(e) => plan
                .errors
                .push(format!("network_data.json could not be used: {e}")),
        }
    }
    if let Some(eni) = &instance.network_eni {
        match crate::net::input::eni::convert_eni(eni) {
            Ok(cfg) => return Some(cfg),
            Err(e) => plan.errors.push(format!(
                "the datasource's ENI network config could not be used: {e}"
            )),
        }
    }
    None
}

/// For a root that is not a running machine (no `/sys/class/net`: a
/// scratch root, an image tree being previewed): the physical links of
/// `network_data.json`, in metadata order, taken as `eth0`, `eth1`, ...
/// Without this every link's MAC would be unknown and nothing would be
/// rendered; with it the files name each NIC by MAC (`HWADDR`, udev rules),
/// which is what the image needs when it does boot.
fn assumed_names(
    instance: &crate::datasource::Instance,
) -> std::collections::HashMap<String, String> {
    let mut macs = std::collections::HashMap::new();
    let links = instance
        .network_json
        .as_ref()
        .and_then(|j| j.get("links"))
        .and_then(|l| l.as_array());
    for link in links.into_iter().flatten() {
        let kind = link.get("type").and_then(|t| t.as_str()).unwrap_or("");
        if matches!(kind, "bond" | "vlan") {
            continue;
        }
        if let Some(mac) = link.get("ethernet_mac_address").and_then(|m| m.as_str()) {
            let mac = mac.to_ascii_lowercase();
            if !macs.contains_key(&mac) {
                let name = format!("eth{}", macs.len());
                macs.insert(mac, name);
            }
        }
    }
    macs
}

/// Names of interfaces that have addresses now (`_get_current_rename_info`
/// asks `ip`); only on a live root, where taking one down would cut a
/// connection. In a scratch root nothing is up.
fn nics_with_addresses(live: bool) -> std::collections::HashSet<String> {
    if !live {
        return Default::default();
    }
    let run = |args: &[&str]| {
        std::process::Command::new("ip")
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let v6 = run(&["-6", "addr", "show", "permanent", "scope", "global"]);
    let v4 = run(&["-4", "addr", "show"]);
    crate::net::input::rename::nics_with_addresses(&[&v6, &v4])
}

/// `Init.apply_network_config` and `Distro.apply_network_config`, as effects;
/// then, in the network stage on a live root, the interfaces that still carry
/// addresses the config does not give them are taken down and brought up
/// again ([`stale_reups`]).
pub fn plan_boot(b: &BootNet) -> NetPlan {
    let mut found = None;
    let mut plan = plan_apply(b, &mut found);
    if let (true, true, Some((cfg, macs))) = (b.bring_up, b.live, found) {
        let current = current_addresses(&ip_output(&["-o", "addr", "show"]));
        let (effects, notes) = stale_reups(b.fs, b.release, b.cfg, &cfg, &macs, &current);
        plan.effects.extend(effects);
        plan.notes.extend(notes);
    }
    plan
}

/// What `ip ARGS` prints on this machine (nothing when it cannot run).
fn ip_output(args: &[&str]) -> String {
    std::process::Command::new("ip")
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Global-scope addresses per interface, from `ip -o addr show`.
pub fn current_addresses(
    ip_o_addr: &str,
) -> std::collections::HashMap<String, Vec<std::net::IpAddr>> {
    let mut out: std::collections::HashMap<String, Vec<std::net::IpAddr>> = Default::default();
    for line in ip_o_addr.lines() {
        // "4: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\ ..."
        let f: Vec<&str> = line.split_whitespace().collect();
        let global = f.windows(2).any(|w| w == ["scope", "global"]);
        if f.len() < 4 || !matches!(f[2], "inet" | "inet6") || !global {
            continue;
        }
        let name = f[1].split('@').next().unwrap_or_default();
        let addr = f[3].split('/').next().unwrap_or_default();
        if let Ok(ip) = addr.parse() {
            out.entry(name.to_string()).or_default().push(ip);
        }
    }
    out
}

/// cloudboot's fix for snapshot images and early network services: an
/// interface whose new config is static only, and which is up with a
/// global address that config does not list (its parent image's address,
/// or one a service set before the config was written), is taken down and
/// brought up again with the distro's tools, so the old address does not
/// stay beside the new one. For ENI and sysconfig (the old distros' tools):
/// `ifdown` (allowed to fail: the tools may not know the interface as up),
/// `ip addr flush dev IF scope global`, `ifup`. Interfaces with DHCP are
/// left alone (any address may be the lease). Effects are host actions:
/// performed on a live root only.
pub fn stale_reups(
    fs: &dyn FsView,
    release: &OsRelease,
    sys_cfg: &Value,
    net_cfg: &Value,
    macs: &std::collections::HashMap<String, String>,
    current: &std::collections::HashMap<String, Vec<std::net::IpAddr>>,
) -> (Vec<crate::effect::Effect>, Vec<String>) {
    use crate::effect::{Effect, HostAction};
    let mut notes = Vec::new();
    let Ok(state) = crate::net::state::NetworkState::parse(net_cfg, macs) else {
        return (Vec::new(), notes);
    };
    let renderer = match select_renderer(fs, release, sys_cfg) {
        Ok((choice, _)) => choice.name,
        Err(_) => return (Vec::new(), notes),
    };
    let keeps_other_addresses =
        crate::net::render::by_name(renderer).is_some_and(|r| r.bring_up().keeps_other_addresses());
    let mut effects = Vec::new();
    for iface in &state.interfaces {
        let name = iface.name();
        let subnets = iface.subnets();
        let static_only = !subnets.is_empty()
            && subnets
                .iter()
                .all(|s| matches!(s.kind().as_str(), "static" | "static6"));
        let Some(now) = current.get(&name) else {
            continue;
        };
        if !static_only {
            continue;
        }
        let wanted: Vec<std::net::IpAddr> = subnets
            .iter()
            .filter_map(|s| s.str("address"))
            .filter_map(|a| a.split('/').next().and_then(|a| a.parse().ok()))
            .collect();
        let stale: Vec<String> = now
            .iter()
            .filter(|a| !wanted.contains(a))
            .map(|a| a.to_string())
            .collect();
        if stale.is_empty() {
            continue;
        }
        if !keeps_other_addresses {
            notes.push(format!(
                "{name} still has {} (not in the new config); the {renderer} renderer's service replaces addresses itself",
                stale.join(", ")
            ));
            continue;
        }
        effects.push(Effect::Host(HostAction {
            what: format!(
                "take {name} down and up again: it still has {} (not in the new config)",
                stale.join(", ")
            ),
            argv: [
                "sh",
                "-c",
                "ifdown \"$1\" >/dev/null 2>&1; ip addr flush dev \"$1\" scope global && ifup \"$1\"",
                "sh",
                &name,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        }));
    }
    (effects, notes)
}

/// What [`render_config`] wrote a config with.
pub struct Written {
    pub state: crate::net::state::NetworkState,
    pub renderer: &'static dyn crate::net::render::Renderer,
    pub choice: crate::distro::network::Choice,
}

/// `Distro.apply_network_config` without the bring-up: `net_cfg` parsed
/// (its extra default gateways demoted), the distro's renderer chosen, its
/// files (and removals, and the program it runs after writing) added to
/// `plan.effects`. `None`, with the reason in `plan.errors`, when the
/// config is not usable (`source` names where it came from) or no
/// renderer fits. The boot's network step and the hotplug hook share it.
pub fn render_config(
    fs: &dyn FsView,
    release: &OsRelease,
    cfg: &Value,
    net_cfg: &Value,
    macs: &std::collections::HashMap<String, String>,
    source: &str,
    plan: &mut NetPlan,
) -> Option<Written> {
    use crate::effect::{Command, Data, Effect, OnFailure};
    let mut state = match crate::net::state::NetworkState::parse(net_cfg, macs) {
        Ok(s) => s,
        Err(e) => {
            plan.errors.push(format!(
                "network config from {source} is not usable: {}",
                e.0
            ));
            return None;
        }
    };
    for (iface, gw) in state.demote_extra_default_gateways() {
        plan.notes.push(format!(
            "{iface}: gateway {gw} is not made a default route (an earlier interface has one)"
        ));
    }
    let (choice, notes) = match select_renderer(fs, release, cfg) {
        Ok(c) => c,
        Err(e) => {
            plan.errors.push(format!(
                "Unable to render networking. Network config is likely broken: {e}"
            ));
            return None;
        }
    };
    plan.notes.extend(notes);
    let renderer = crate::net::render::by_name(choice.name).expect("select_renderer names ours");
    let ctx = crate::net::render::RenderContext {
        fs,
        flavor: choice.flavor,
    };
    let rendered = renderer.render(&state, &ctx);
    plan.notes.extend(rendered.warnings);
    // All or nothing: a path that cannot take its file (a directory there,
    // or a file where a directory must be) refuses the whole config before
    // any file is written, instead of failing halfway through (a RHEL
    // layout on a root whose /etc/sysconfig/network is SUSE's directory).
    let blocked = unwritable_paths(fs, rendered.files.iter().map(|f| f.path.as_path()));
    if !blocked.is_empty() {
        plan.errors.push(format!(
            "network config from {source} not written (none of its {} files): {}",
            rendered.files.len(),
            blocked.join("; ")
        ));
        return None;
    }
    for f in rendered.files {
        plan.effects
            .push(Effect::write(f.path, Data::public(f.content), f.mode));
    }
    for path in rendered.remove {
        plan.effects.push(Effect::Remove { path });
    }
    if !renderer.after_write().is_empty() {
        plan.effects.push(Effect::Run(
            Command::new(renderer.after_write().iter().copied()).on_failure(OnFailure::Report),
        ));
    }
    Some(Written {
        state,
        renderer,
        choice,
    })
}

/// The paths among `paths` a file cannot be written to under the root, each
/// with why: something other than a regular file is there (a directory, a
/// device), or one of its parents is not a directory. A path the root
/// cannot resolve (a link loop, a link out of the root) is left to the
/// write, which names it.
pub fn unwritable_paths<'a>(
    fs: &dyn FsView,
    paths: impl IntoIterator<Item = &'a Path>,
) -> Vec<String> {
    use crate::rootfs::Kind;
    let mut out = Vec::new();
    for path in paths {
        let parent_problem = path.ancestors().skip(1).find_map(|dir| match fs.stat(dir) {
            Some(st) if st.kind != Kind::Dir => Some(format!(
                "{}: {} is not a directory",
                path.display(),
                dir.display()
            )),
            _ => None,
        });
        if let Some(problem) = parent_problem {
            out.push(problem);
            continue;
        }
        match fs.stat(path) {
            Some(st) if st.kind == Kind::Dir => {
                out.push(format!("{}: a directory is there", path.display()))
            }
            Some(st) if st.kind != Kind::File => {
                out.push(format!("{}: not a regular file", path.display()))
            }
            _ => {}
        }
    }
    out
}

/// `Init.apply_network_config` and `Distro.apply_network_config`, as
/// effects. `found` receives the config and the MAC map once one is found.
fn plan_apply(
    b: &BootNet,
    found_out: &mut Option<(Value, std::collections::HashMap<String, String>)>,
) -> NetPlan {
    use crate::effect::{Data, Effect, HostAction};
    use crate::net::input::{rename, sys::SysNet};
    let mut plan = NetPlan::default();
    let sys = SysNet::read(b.fs);
    let macs = match sys.interfaces_by_mac(&[]) {
        Ok(by_mac) => {
            plan.notes.extend(by_mac.warnings);
            by_mac.macs
        }
        Err(e) => {
            plan.notes.push(e.to_string());
            Default::default()
        }
    };
    let macs = if macs.is_empty() && !b.fs.exists(std::path::Path::new("/sys/class/net")) {
        let assumed = b.instance.map(assumed_names).unwrap_or_default();
        if !assumed.is_empty() {
            plan.notes.push(format!(
                "the root has no /sys/class/net (not a running machine): the metadata's NICs are taken as {}",
                assumed.values().cloned().collect::<std::collections::BTreeSet<_>>().into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
        assumed
    } else {
        macs
    };
    let ds_config = b
        .instance
        .and_then(|i| datasource_config(i, &macs, &mut plan));
    let upgraded = b.paths.data("upgraded-network");
    let (scope, bad_scope) = FallbackScope::from_system_config(b.sys_cfg);
    plan.notes.extend(bad_scope);
    let (found, notes) = find_config(b.fs, &upgraded, b.cfg, ds_config, || match scope {
        FallbackScope::FirstNic => sys.fallback_config(),
        FallbackScope::AllNics => sys.all_nics_fallback_config(&[]),
    });
    plan.notes.extend(notes);
    let (source, cfg) = match found {
        Found::Disabled(src) => {
            plan.summary = format!("network config is disabled by {}", src.as_str());
            return plan;
        }
        Found::Nothing => {
            plan.summary =
                "no network config anywhere, and no interface to fall back to".to_string();
            return plan;
        }
        Found::Config(src, cfg) => (src, cfg),
    };
    let source_label = match (source, scope) {
        (ConfigSource::Fallback, FallbackScope::AllNics) => {
            let names: Vec<String> = cfg
                .get("ethernets")
                .and_then(Value::as_map)
                .map(|m| m.iter().map(|(k, _)| k.python_str()).collect())
                .unwrap_or_default();
            format!(
                "fallback, DHCP on every NIC ({FALLBACK_KEY}: all-nics): {}",
                names.join(", ")
            )
        }
        _ => source.as_str().to_string(),
    };
    *found_out = Some((cfg.clone(), macs.clone()));
    // Renames by MAC come first, every boot, applied or not.
    match rename::physdevs_from_config(&cfg, &sys) {
        Ok(physdevs) => {
            let current = rename::current_rename_info(&sys, &nics_with_addresses(b.live));
            let renames = rename::plan_renames(&physdevs, &current);
            for e in &renames.errors {
                plan.notes.push(format!("Failed to rename devices: {e}"));
            }
            plan.effects
                .extend(renames.host_actions().into_iter().map(Effect::Host));
        }
        Err(e) => plan.notes.push(format!("Failed to rename devices: {e}")),
    }
    let policy = UpdatePolicy {
        no_datasource: b.instance.is_none(),
        new_instance: b.new_instance,
        already_this_boot: b
            .fs
            .exists(&b.paths.runpath("sem").join("apply_network_config.once")),
    };
    let Some(why) = should_apply(&policy, b.cfg) else {
        plan.summary =
            "not applied: neither a new instance nor a datasource network update allowed"
                .to_string();
        return plan;
    };
    let Some(Written {
        state,
        renderer,
        choice,
    }) = render_config(
        b.fs,
        b.release,
        b.cfg,
        &cfg,
        &macs,
        source.as_str(),
        &mut plan,
    )
    else {
        return plan;
    };
    plan.effects.push(Effect::write(
        b.paths.runpath("sem").join("apply_network_config.once"),
        Data::public(crate::semaphore::content_now()),
        0o644,
    ));
    let activation_disabled = b.cfg.get_bool("disable_network_activation", false);
    let bring_up = b.bring_up && !activation_disabled;
    if bring_up {
        let names: Vec<String> = state.interfaces.iter().map(|i| i.name()).collect();
        for argv in renderer.bring_up().commands(&names) {
            plan.effects.push(Effect::Host(HostAction {
                what: format!("bring up: {}", argv.join(" ")),
                argv,
            }));
        }
    }
    plan.applied = true;
    plan.summary = format!(
        "applied network config from {source_label} ({why}) with the {} renderer ({}){}",
        choice.name,
        choice.why,
        if bring_up { ", then brought up" } else { "" }
    );
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::testing::root_with_modes as root_with;

    fn yaml(text: &str) -> Value {
        crate::yaml::load(text.as_bytes(), "t").unwrap()
    }

    #[test]
    fn unwritable_paths_are_found_before_writing() {
        let (_t, fs) = crate::rootfs::testing::root_with_modes(&[
            ("/etc/sysconfig/network/config", "", 0o644),
            ("/etc/udev", "not a directory", 0o644),
        ]);
        let paths = [
            "/etc/sysconfig/network-scripts/ifcfg-eth0",
            "/etc/sysconfig/network",
            "/etc/udev/rules.d/70-persistent-net.rules",
            "/etc/sysconfig/network/ifcfg-eth0",
        ];
        let blocked = unwritable_paths(&fs, paths.iter().map(Path::new));
        assert_eq!(
            blocked,
            [
                "/etc/sysconfig/network: a directory is there",
                "/etc/udev/rules.d/70-persistent-net.rules: /etc/udev is not a directory",
            ]
        );
    }

    #[test]
    fn cmdline_config_forms() {
        assert_eq!(kernel_cmdline_config("ro quiet").unwrap(), None);
        let disabled = kernel_cmdline_config("ro network-config=disabled").unwrap();
        assert!(is_disabled(&disabled.unwrap()));
        // "version: 1\nconfig: []\n" in base64; the last token wins.
        let v = kernel_cmdline_config(
            "network-config=bad network-config=dmVyc2lvbjogMQpjb25maWc6IFtdCg==",
        )
        .unwrap()
        .unwrap();
        assert_eq!(v.get("version"), Some(&Value::Int(1)));
        assert_eq!(kernel_cmdline_config("network-config=@@@").unwrap(), None);
        assert!(kernel_cmdline_config("network-config=bad").is_err());
    }

    #[test]
    fn sources_in_cloud_init_order() {
        let (_t, fs) = root_with(&[("/proc/cmdline", "ro\n", 0o644)]);
        let upgraded = Path::new("/var/lib/cloud/data/upgraded-network");
        let ds = yaml("network:\n  version: 2\n  ethernets: {eth0: {dhcp4: true}}\n");
        // System config beats the datasource; its `network:` is the config itself.
        let sys = yaml("network:\n  version: 1\n  config: [{type: physical, name: eth9}]\n");
        let (found, _) = find_config(&fs, upgraded, &sys, Some(ds.clone()), || None);
        assert!(matches!(found, Found::Config(ConfigSource::SystemCfg, _)));
        // The datasource's config loses its top-level `network:` key.
        let (found, _) = find_config(&fs, upgraded, &Value::empty_map(), Some(ds), || None);
        match found {
            Found::Config(ConfigSource::Datasource, v) => {
                assert_eq!(v.get("version"), Some(&Value::Int(2)))
            }
            other => panic!("{other:?}"),
        }
        // Disabled in cloud.cfg stops the search before the datasource.
        let sys = yaml("network: {config: disabled}\n");
        let (found, _) = find_config(&fs, upgraded, &sys, None, || panic!("no fallback"));
        assert_eq!(found, Found::Disabled(ConfigSource::SystemCfg));
        let (found, _) = find_config(&fs, upgraded, &Value::empty_map(), None, || {
            Some(yaml("version: 1\nconfig: []\n"))
        });
        assert!(matches!(found, Found::Config(ConfigSource::Fallback, _)));
    }

    #[test]
    fn fallback_scope_from_the_system_config() {
        let scope = |t: &str| FallbackScope::from_system_config(&yaml(t));
        assert_eq!(scope("{}"), (FallbackScope::FirstNic, None));
        assert_eq!(
            scope("cloudboot: {network: {fallback: all-nics}}"),
            (FallbackScope::AllNics, None)
        );
        assert_eq!(
            scope("cloudboot: {network: {fallback: first-nic}}"),
            (FallbackScope::FirstNic, None)
        );
        assert_eq!(
            scope("cloudboot: {network: {fallback: ' All-NICs'}}"),
            (FallbackScope::AllNics, None)
        );
        assert_eq!(
            scope("cloudboot: {network: {fallback: every}}"),
            (
                FallbackScope::FirstNic,
                Some("cloudboot.network.fallback: expected first-nic or all-nics, found every; the fallback stays on the first NIC".into())
            )
        );
    }

    #[test]
    fn updates_when_boot() {
        let known = UpdatePolicy {
            no_datasource: false,
            new_instance: false,
            already_this_boot: false,
        };
        assert_eq!(should_apply(&known, &Value::empty_map()), None);
        let cfg = yaml("updates: {network: {when: [boot]}}\n");
        assert!(should_apply(&known, &cfg).is_some());
        let again = UpdatePolicy {
            already_this_boot: true,
            ..known
        };
        assert_eq!(should_apply(&again, &cfg), None);
    }

    #[test]
    fn current_addresses_are_the_global_ones_per_interface() {
        let out = "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
4: eth0    inet 192.0.2.99/24 brd 192.0.2.255 scope global eth0\\       valid_lft forever preferred_lft forever
4: eth0    inet 10.0.0.5/24 brd 10.0.0.255 scope global secondary eth0\\       valid_lft forever
4: eth0    inet6 fd00::2/64 scope global nodad \\       valid_lft forever preferred_lft forever
4: eth0    inet6 fe80::fc:ff:fe00:1/64 scope link \\       valid_lft forever preferred_lft forever
5: eth1    inet6 fe80::1/64 scope link \\       valid_lft forever preferred_lft forever
";
        let cur = current_addresses(out);
        let eth0: Vec<String> = cur["eth0"].iter().map(|a| a.to_string()).collect();
        assert_eq!(eth0, ["192.0.2.99", "10.0.0.5", "fd00::2"]);
        assert!(!cur.contains_key("lo") && !cur.contains_key("eth1"));
    }

    #[test]
    fn an_interface_up_with_an_old_address_is_taken_down_and_up_again() {
        let (_t, fs) = root_with(&crate::distro::network::CENTOS6);
        let cfg = yaml(
            "version: 1\nconfig:\n- {type: physical, name: eth0, mac_address: 'fa:16:3e:00:00:01', subnets: [{type: static, address: 10.0.0.5/24}, {type: static6, address: 'fd00::5/64'}]}\n- {type: physical, name: eth1, mac_address: 'fa:16:3e:00:00:02', subnets: [{type: dhcp}]}\n- {type: physical, name: eth2, mac_address: 'fa:16:3e:00:00:03', subnets: [{type: static, address: 10.2.0.5/24}]}\n",
        );
        let macs: std::collections::HashMap<String, String> = [
            ("fa:16:3e:00:00:01", "eth0"),
            ("fa:16:3e:00:00:02", "eth1"),
            ("fa:16:3e:00:00:03", "eth2"),
        ]
        .iter()
        .map(|(m, n)| (m.to_string(), n.to_string()))
        .collect();
        let ip = |v: &[&str]| {
            v.iter()
                .map(|a| a.parse().unwrap())
                .collect::<Vec<std::net::IpAddr>>()
        };
        let current: std::collections::HashMap<String, Vec<std::net::IpAddr>> = [
            // The parent image's address beside the new one.
            (
                "eth0".to_string(),
                ip(&["192.0.2.99", "10.0.0.5", "fd00::5"]),
            ),
            // DHCP: any address may be the lease.
            ("eth1".to_string(), ip(&["192.0.2.50"])),
            // Exactly the new config.
            ("eth2".to_string(), ip(&["10.2.0.5"])),
        ]
        .into_iter()
        .collect();
        let (effects, notes) = stale_reups(
            &fs,
            &OsRelease::read(&fs),
            &Value::empty_map(),
            &cfg,
            &macs,
            &current,
        );
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(effects.len(), 1, "{effects:?}");
        let crate::effect::Effect::Host(h) = &effects[0] else {
            panic!("{effects:?}")
        };
        assert_eq!(
            h.what,
            "take eth0 down and up again: it still has 192.0.2.99 (not in the new config)"
        );
        assert_eq!(h.argv[0..2], ["sh", "-c"]);
        assert!(
            h.argv[2].contains("ifdown \"$1\"")
                && h.argv[2].contains("ip addr flush dev \"$1\" scope global && ifup \"$1\"")
        );
        assert_eq!(h.argv[3..], ["sh", "eth0"]);
        // Nothing is up yet: nothing to do.
        let (effects, _) = stale_reups(
            &fs,
            &OsRelease::read(&fs),
            &Value::empty_map(),
            &cfg,
            &macs,
            &Default::default(),
        );
        assert!(effects.is_empty());
    }
}
