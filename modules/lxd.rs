//! lxd (`cc_lxd`): initializes LXD and its bridge, once per instance, when
//! `lxd` is set; 22.4 verifies it on ubuntu only (`unverified_modules` lets
//! it run elsewhere). As 22.4 does, step by step:
//!
//! 1. The config is checked (`supplemental_schema_validation`): `lxd` a
//!    mapping, `init` and `bridge` mappings, `preseed` a string, and
//!    `preseed` not given with `init` or `bridge`; the errors, in 22.4's
//!    words joined by ". ", fail the module before anything runs.
//! 2. Packages (`get_required_packages`): `lxd` when the root has no `lxd`
//!    program; for each storage driver named (`init.storage_backend`, and
//!    the `driver` of each `storage_pools` entry of a `preseed` that
//!    mentions `storage_pools`), its tools when missing: `zfsutils-linux`
//!    (`zfs`), `lvm2` (`lvcreate`), `btrfs-progs` (`mkfs.btrfs`). They are
//!    installed through the distro's package manager.
//! 3. `lxd waitready --timeout=300`.
//! 4. `preseed`: `lxd init --preseed` with the text on stdin; nothing more.
//! 5. `init`: `lxd init --auto` with `--network-address`, `--network-port`,
//!    `--storage-backend`, `--storage-create-device`,
//!    `--storage-create-loop`, `--storage-pool` and `--trust-password`, each
//!    given when its value is true (Python's `str()` of it). With the lvm
//!    backend and no `dm-thin-pool.ko` for the running kernel
//!    (LP #1982780), `lxc storage create default lvm lvm.use_thinpool=false`
//!    first, and no `--storage-backend`. As in 22.4, an `init` without
//!    `storage_backend` fails the module here (its `KeyError`), after
//!    `waitready`.
//! 6. `bridge`: where the root has `/etc/default/lxd-bridge` and
//!    `debconf-communicate` (LXD 2.x's packaging), the bridge's debconf
//!    answers go to `debconf-communicate` (`set <key> <value>` lines; its
//!    failure is only logged), the file is removed and `dpkg-reconfigure
//!    lxd --frontend=noninteractive` runs. Else LXD's own commands, each
//!    `lxc <args> --force-local` with `LC_ALL=C`: when the network is
//!    `lxdbr0` and `init` was given, `lxd init --auto`'s own `lxdbr0` is
//!    cleaned up first (mode `new`: `lxc network detach-profile lxdbr0
//!    default`, then, if that worked, `lxc network delete lxdbr0`; modes
//!    `new` and `existing`: `lxc profile device remove default eth0`, exit
//!    1 meaning there was none), then `lxc network create <name> ...`
//!    (mode `new`) and `lxc network attach-profile <name> default eth0`.
//!    Mode `none` runs nothing here. Another mode fails the module
//!    (`invalid bridge mode "..."`), after `lxd init`.
//!
//! The bridge's values are used as 22.4 uses them, its quirks kept:
//! `ipv4_nat` and `ipv6_nat` count only as the string `"true"` (the boolean
//! the schema asks for does not turn NAT on; `ipv4_nat` left out does),
//! `mtu: -1` is LXD's default (no `bridge.mtu`).
//!
//! Secrets: `trust_password` is a secret argument and the `preseed` text
//! (which may hold `core.trust_password`) secret stdin: plans and logs show
//! `<redacted>` (22.4 logs both command lines whole).
//!
//! Where cloudboot differs: a failed package install fails the module (22.4
//! warns "failed to install packages" and ends the module without failing
//! it). Whether `lxc network detach-profile` worked is asked of the running
//! machine (a probe, through `env` for 22.4's environment); where it is
//! not asked (a plan, a root that is not this machine's `/`) there is taken
//! to be no `lxdbr0` to delete (its exit 1); an exit code other than 0 and 1
//! is met by running it again as a command, whose failure fails the module
//! and stops it, where 22.4 fails at once. `HOME` and `USER` are `/root`
//! and `root` (22.4's defaults; it passes on its own environment's). A
//! `preseed` that mentions `storage_pools` but is YAML of another shape than
//! a mapping of a list of mappings fails the module naming the key (22.4
//! fails with an `AttributeError`).

use std::path::{Path, PathBuf};

use tracing::Level;

use crate::module::prelude::*;

pub struct Lxd;

/// 22.4's schema for `lxd.init`.
static INIT_KEYS: &[Field] = &[
    Field::opt("network_address", Ty::Str),
    Field::opt("network_port", Ty::Int),
    Field::opt(
        "storage_backend",
        Ty::Strict(&Ty::Str, Rule::OneOfStrs(&["zfs", "dir", "lvm", "btrfs"])),
    ),
    Field::opt("storage_create_device", Ty::Str),
    Field::opt("storage_create_loop", Ty::Int),
    Field::opt("storage_pool", Ty::Str),
    Field::opt(
        "trust_password",
        Ty::Strict(&Ty::Any, Rule::Secret(&Ty::Str)),
    ),
];

/// 22.4's schema for `lxd.bridge`.
static BRIDGE_KEYS: &[Field] = &[
    Field::req(
        "mode",
        Ty::Strict(&Ty::Str, Rule::OneOfStrs(&["none", "existing", "new"])),
    ),
    Field::opt("name", Ty::Str),
    Field::opt("mtu", Ty::Strict(&Ty::Int, Rule::Minimum(-1))),
    Field::opt("ipv4_address", Ty::Str),
    Field::opt("ipv4_netmask", Ty::Int),
    Field::opt("ipv4_dhcp_first", Ty::Str),
    Field::opt("ipv4_dhcp_last", Ty::Str),
    Field::opt("ipv4_dhcp_leases", Ty::Int),
    Field::opt("ipv4_nat", Ty::Bool),
    Field::opt("ipv6_address", Ty::Str),
    Field::opt("ipv6_netmask", Ty::Int),
    Field::opt("ipv6_nat", Ty::Bool),
    Field::opt("domain", Ty::Str),
];

static LXD_KEYS: &[Field] = &[
    Field::opt("init", Ty::Map(INIT_KEYS)),
    Field::opt("bridge", Ty::Map(BRIDGE_KEYS)),
    Field::opt("preseed", Ty::Str),
];

static INFO: ModuleInfo = ModuleInfo {
    name: "lxd",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &["lxd"],
    keys: &["lxd"],
    // 22.4's boot reads any value and says itself what it refuses (step 1);
    // `schema` checks its JSON schema.
    schema: &[Field::opt(
        "lxd",
        Ty::Strict(
            &Ty::Any,
            Rule::As(&Ty::Strict(&Ty::Map(LXD_KEYS), Rule::MinProperties(1))),
        ),
    )],
    summary: "initialize LXD (lxd init) and its bridge (lxc network)",
};

/// 22.4's `_DEFAULT_NETWORK_NAME`.
const DEFAULT_NETWORK: &str = "lxdbr0";
/// The keys `lxd init --auto` gets, in 22.4's order.
const INIT_FLAGS: &[&str] = &[
    "network_address",
    "network_port",
    "storage_backend",
    "storage_create_device",
    "storage_create_loop",
    "storage_pool",
    "trust_password",
];

impl Module for Lxd {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn distros(&self) -> &'static [&'static str] {
        &["ubuntu"]
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let cfg = match ctx.cfg.get("lxd") {
            Some(c) if c.truthy() => c,
            _ => {
                out.note(format!(
                    "Skipping module named {}, not present or disabled by cfg",
                    ctx.name
                ));
                return out;
            }
        };
        if let Err(e) = plan(ctx, cfg, &mut out) {
            out.error(e);
        }
        out
    }
}

fn plan(ctx: &Context, cfg: &Value, out: &mut ModuleOutput) -> Result<(), ConfigError> {
    let Some(lxd) = cfg.as_map() else {
        return Err(ConfigError::new(
            "lxd",
            format!(
                "lxd config must be a dictionary. found a '{}'",
                cfg.type_name()
            ),
        ));
    };
    let empty = Value::empty_map();
    let no_preseed = Value::str("");
    let init = lxd.get("init").unwrap_or(&empty);
    let preseed = lxd.get("preseed").unwrap_or(&no_preseed);
    let bridge = lxd.get("bridge").unwrap_or(&empty);
    validate(init, bridge, preseed)?;

    let packages = required_packages(ctx, init, preseed, out)?;
    if !packages.is_empty() {
        let specs: Vec<PackageSpec> = packages.iter().map(PackageSpec::name).collect();
        match ctx
            .distro
            .install_packages(ctx.fs, &ctx.sources_mark(), &specs)
        {
            Ok(effects) => out.effects.extend(effects),
            Err(e) => {
                // 22.4 warns and ends the module here without failing it.
                out.warn(format!(
                    "failed to install packages {}: {e}",
                    Value::Seq(packages.iter().map(Value::str).collect()).python_repr()
                ));
                return Ok(());
            }
        }
    }
    out.effects.push(Effect::Run(Command::new([
        "lxd",
        "waitready",
        "--timeout=300",
    ])));
    if let Some(text) = preseed.as_str().filter(|s| !s.is_empty()) {
        // It may hold core.trust_password: never shown.
        let mut init = Command::new(["lxd", "init", "--preseed"]);
        init.stdin = Some(Data::secret(text.as_bytes().to_vec()));
        out.effects.push(Effect::Run(init));
        return Ok(());
    }
    if init.truthy() {
        plan_init(ctx, init, out)?;
    }
    if bridge.truthy() {
        plan_bridge(ctx, init.truthy(), bridge, out)?;
    }
    Ok(())
}

/// `supplemental_schema_validation`.
fn validate(init: &Value, bridge: &Value, preseed: &Value) -> Result<(), ConfigError> {
    let mut errors = Vec::new();
    let mut key = "lxd";
    if init.as_map().is_none() {
        key = "lxd.init";
        errors.push(format!(
            "lxd.init config must be a dictionary. found a '{}'",
            init.type_name()
        ));
    }
    if bridge.as_map().is_none() {
        key = "lxd.bridge";
        errors.push(format!(
            "lxd.bridge config must be a dictionary. found a '{}'",
            bridge.type_name()
        ));
    }
    if preseed.as_str().is_none() {
        key = "lxd.preseed";
        errors.push(format!(
            "lxd.preseed config must be a string. found a '{}'",
            preseed.type_name()
        ));
    }
    if preseed.truthy() && (init.truthy() || bridge.truthy()) {
        key = "lxd.preseed";
        let mut incompatible = Vec::new();
        if init.truthy() {
            incompatible.push("lxd.init");
        }
        if bridge.truthy() {
            incompatible.push("lxd.bridge");
        }
        errors.push(format!(
            "Unable to configure LXD. lxd.preseed config can not be provided with key(s): {}",
            incompatible.join(", ")
        ));
    }
    match errors.is_empty() {
        true => Ok(()),
        false => Err(ConfigError::new(key, errors.join(". "))),
    }
}

/// `get_required_packages`, asking the root for the programs.
fn required_packages(
    ctx: &Context,
    init: &Value,
    preseed: &Value,
    out: &mut ModuleOutput,
) -> Result<Vec<String>, ConfigError> {
    let has = |p: &str| accounts::which(ctx.fs, p).is_some();
    let mut packages = Vec::new();
    if !has("lxd") {
        packages.push("lxd".to_string());
    }
    let mut drivers: Vec<Value> = Vec::new();
    if let Some(backend) = init.get("storage_backend") {
        drivers.push(backend.clone());
    }
    let text = preseed.as_str().unwrap_or_default();
    if text.contains("storage_pools") {
        match yaml::load(text.as_bytes(), "lxd.preseed") {
            Ok(doc) => drivers.extend(preseed_drivers(&doc)?),
            Err(_) => out.warn(
                "lxd.preseed string value is not YAML.  Unable to determine required storage \
                 driver packages to support storage_pools config.",
            ),
        }
    }
    let named = |d: &str| drivers.iter().any(|v| v.as_str() == Some(d));
    for (driver, program, package) in [
        ("zfs", "zfs", "zfsutils-linux"),
        ("lvm", "lvcreate", "lvm2"),
        ("btrfs", "mkfs.btrfs", "btrfs-progs"),
    ] {
        if named(driver) && !has(program) {
            packages.push(package.to_string());
        }
    }
    Ok(packages)
}

/// The true `driver`s of the preseed's `storage_pools`.
fn preseed_drivers(doc: &Value) -> Result<Vec<Value>, ConfigError> {
    let shape = |what: &str| {
        ConfigError::new(
            "lxd.preseed",
            format!("lxd.preseed: {what} (cloud-init 22.4 fails with an AttributeError)"),
        )
    };
    let Some(map) = doc.as_map() else {
        return Err(shape(&format!(
            "the preseed is a YAML {}, not a mapping",
            doc.type_name()
        )));
    };
    let Some(pools) = map.get("storage_pools") else {
        return Ok(Vec::new());
    };
    let Some(pools) = pools.as_seq() else {
        return Err(shape("storage_pools is not a list"));
    };
    let mut drivers = Vec::new();
    for pool in pools {
        let Some(pool) = pool.as_map() else {
            return Err(shape("an entry of storage_pools is not a mapping"));
        };
        if let Some(d) = pool.get("driver").filter(|d| d.truthy()) {
            drivers.push(d.clone());
        }
    }
    Ok(drivers)
}

/// `lxd init --auto`, after the lvm thin-pool workaround where it applies.
fn plan_init(ctx: &Context, init: &Value, out: &mut ModuleOutput) -> Result<(), ConfigError> {
    let Some(backend) = init.get("storage_backend") else {
        return Err(ConfigError::new(
            "lxd.init.storage_backend",
            "lxd.init: storage_backend is not set; cloud-init 22.4 fails here (KeyError: \
             'storage_backend'), after lxd waitready, without lxd init",
        ));
    };
    let mut keys: Vec<&str> = INIT_FLAGS.to_vec();
    if backend.as_str() == Some("lvm") && !thin_pool_module(ctx) {
        out.warn(
            "cloud-init doesn't use thinpool by default on Ubuntu due to LP #1982780. This \
             behavior will change in the future.",
        );
        out.effects.push(Effect::Run(Command::new([
            "lxc",
            "storage",
            "create",
            "default",
            "lvm",
            "lvm.use_thinpool=false",
        ])));
        // Configured above: not a second time.
        keys.retain(|k| *k != "storage_backend");
    }
    let mut cmd = Command::new(["lxd", "init", "--auto"]);
    for key in keys {
        let Some(v) = init.get(key).filter(|v| v.truthy()) else {
            continue;
        };
        let arg = format!("--{}={}", key.replace('_', "-"), v.python_str_any());
        cmd = match key {
            "trust_password" => cmd.secret_arg(arg),
            _ => {
                cmd.argv.push(arg);
                cmd
            }
        };
    }
    out.effects.push(Effect::Run(cmd));
    Ok(())
}

/// Whether the running kernel has `dm-thin-pool.ko` in the root (the
/// kernel's release from the root's `/proc`; unknown: it has not).
fn thin_pool_module(ctx: &Context) -> bool {
    ctx.fs
        .read_string(Path::new("/proc/sys/kernel/osrelease"))
        .map(|r| r.trim().to_string())
        .is_some_and(|kernel| {
            ctx.fs.exists(&PathBuf::from(format!(
                "/lib/modules/{kernel}/kernel/drivers/md/dm-thin-pool.ko"
            )))
        })
}

/// A bridge value as `"%s"` writes it; a missing key is Python's `None`.
fn shown(bridge: &Value, key: &str) -> String {
    bridge.get(key).map_or("None".into(), Value::python_str_any)
}

/// A bridge value that is there and true.
fn set<'a>(bridge: &'a Value, key: &str) -> Option<&'a Value> {
    bridge.get(key).filter(|v| v.truthy())
}

/// `bridge_cfg.get(key, default) == "true"`.
fn is_true_str(bridge: &Value, key: &str, default: bool) -> bool {
    match bridge.get(key) {
        None => default,
        Some(v) => v.as_str() == Some("true"),
    }
}

fn mode(bridge: &Value) -> Option<&str> {
    bridge.get("mode").and_then(Value::as_str)
}

fn invalid_mode(bridge: &Value) -> ConfigError {
    ConfigError::new(
        "lxd.bridge.mode",
        format!("invalid bridge mode \"{}\"", shown(bridge, "mode")),
    )
}

fn plan_bridge(
    ctx: &Context,
    did_init: bool,
    bridge: &Value,
    out: &mut ModuleOutput,
) -> Result<(), ConfigError> {
    let net_name = bridge
        .get("name")
        .map_or(DEFAULT_NETWORK.to_string(), Value::python_str_any);
    let packaged = Path::new("/etc/default/lxd-bridge");
    if ctx.fs.exists(packaged) && accounts::which(ctx.fs, "debconf-communicate").is_some() {
        // Bridge configured through packaging (LXD 2.x).
        let debconf = bridge_to_debconf(bridge)?;
        let data: String = debconf
            .iter()
            .map(|(k, v)| format!("set {k} {v}"))
            .collect::<Vec<_>>()
            .join("\n")
            + "\n";
        let mut set = Command::new(["debconf-communicate"]).on_failure(OnFailure::Ignore);
        set.stdin = Some(Data::public(data.into_bytes()));
        out.effects.push(Effect::Run(set));
        out.effects.push(Effect::Remove {
            path: packaged.to_path_buf(),
        });
        out.effects.push(Effect::Run(Command::new([
            "dpkg-reconfigure",
            "lxd",
            "--frontend=noninteractive",
        ])));
        return Ok(());
    }
    let (create, attach) = bridge_to_cmd(bridge)?;
    if net_name == DEFAULT_NETWORK && did_init {
        cleanup_default(&net_name, create.is_some(), attach.is_some(), out);
    }
    for args in [create, attach].into_iter().flatten() {
        out.effects.push(Effect::Run(lxc(&args)));
    }
    Ok(())
}

/// `bridge_to_debconf`: the answers, in 22.4's order.
fn bridge_to_debconf(bridge: &Value) -> Result<Vec<(&'static str, String)>, ConfigError> {
    let mut d: Vec<(&'static str, String)> = Vec::new();
    match mode(bridge) {
        Some("none") => {
            d.push(("lxd/setup-bridge", "false".into()));
            d.push(("lxd/bridge-name", String::new()));
        }
        Some("existing") => {
            d.push(("lxd/setup-bridge", "false".into()));
            d.push(("lxd/use-existing-bridge", "true".into()));
            d.push(("lxd/bridge-name", shown(bridge, "name")));
        }
        Some("new") => {
            d.push(("lxd/setup-bridge", "true".into()));
            if set(bridge, "name").is_some() {
                d.push(("lxd/bridge-name", shown(bridge, "name")));
            }
            if set(bridge, "ipv4_address").is_some() {
                d.push(("lxd/bridge-ipv4", "true".into()));
                for (key, field) in [
                    ("lxd/bridge-ipv4-address", "ipv4_address"),
                    ("lxd/bridge-ipv4-netmask", "ipv4_netmask"),
                    ("lxd/bridge-ipv4-dhcp-first", "ipv4_dhcp_first"),
                    ("lxd/bridge-ipv4-dhcp-last", "ipv4_dhcp_last"),
                    ("lxd/bridge-ipv4-dhcp-leases", "ipv4_dhcp_leases"),
                ] {
                    d.push((key, shown(bridge, field)));
                }
                d.push((
                    "lxd/bridge-ipv4-nat",
                    bridge
                        .get("ipv4_nat")
                        .map_or("true".into(), Value::python_str_any),
                ));
            }
            if set(bridge, "ipv6_address").is_some() {
                d.push(("lxd/bridge-ipv6", "true".into()));
                d.push(("lxd/bridge-ipv6-address", shown(bridge, "ipv6_address")));
                d.push(("lxd/bridge-ipv6-netmask", shown(bridge, "ipv6_netmask")));
                d.push((
                    "lxd/bridge-ipv6-nat",
                    bridge
                        .get("ipv6_nat")
                        .map_or("false".into(), Value::python_str_any),
                ));
            }
            if set(bridge, "domain").is_some() {
                d.push(("lxd/bridge-domain", shown(bridge, "domain")));
            }
        }
        _ => return Err(invalid_mode(bridge)),
    }
    Ok(d)
}

/// `bridge_to_cmd`: `lxc` arguments to create the network and to attach
/// it to the default profile.
#[allow(clippy::type_complexity)]
fn bridge_to_cmd(
    bridge: &Value,
) -> Result<(Option<Vec<String>>, Option<Vec<String>>), ConfigError> {
    if mode(bridge) == Some("none") {
        return Ok((None, None));
    }
    let name = bridge
        .get("name")
        .map_or(DEFAULT_NETWORK.to_string(), Value::python_str_any);
    let attach: Vec<String> = ["network", "attach-profile", &name, "default", "eth0"]
        .map(String::from)
        .to_vec();
    match mode(bridge) {
        Some("existing") => return Ok((None, Some(attach))),
        Some("new") => {}
        _ => return Err(invalid_mode(bridge)),
    }
    let mut create: Vec<String> = vec!["network".into(), "create".into(), name];
    if let (Some(addr), Some(mask)) = (set(bridge, "ipv4_address"), set(bridge, "ipv4_netmask")) {
        create.push(format!(
            "ipv4.address={}/{}",
            addr.python_str_any(),
            mask.python_str_any()
        ));
        if is_true_str(bridge, "ipv4_nat", true) {
            create.push("ipv4.nat=true".into());
        }
        if let (Some(first), Some(last)) = (
            set(bridge, "ipv4_dhcp_first"),
            set(bridge, "ipv4_dhcp_last"),
        ) {
            create.push(format!(
                "ipv4.dhcp.ranges={}-{}",
                first.python_str_any(),
                last.python_str_any()
            ));
        }
    } else {
        create.push("ipv4.address=none".into());
    }
    if let (Some(addr), Some(mask)) = (set(bridge, "ipv6_address"), set(bridge, "ipv6_netmask")) {
        create.push(format!(
            "ipv6.address={}/{}",
            addr.python_str_any(),
            mask.python_str_any()
        ));
        if is_true_str(bridge, "ipv6_nat", false) {
            create.push("ipv6.nat=true".into());
        }
    } else {
        create.push("ipv6.address=none".into());
    }
    if let Some(domain) = set(bridge, "domain") {
        create.push(format!("dns.domain={}", domain.python_str_any()));
    }
    // -1 (the schema's default) leaves the MTU to LXD: Python's `!= -1`.
    if let Some(mtu) = bridge.get("mtu") {
        let default = match mtu {
            Value::Int(i) => *i == -1,
            Value::Float(f) => *f == -1.0,
            _ => false,
        };
        if !default {
            create.push(format!("bridge.mtu={}", mtu.python_str_any()));
        }
    }
    Ok((Some(create), Some(attach)))
}

/// `_lxc`: `lxc <args> --force-local` with 22.4's environment.
fn lxc<S: AsRef<str>>(args: &[S]) -> Command {
    let mut argv = vec!["lxc".to_string()];
    argv.extend(args.iter().map(|a| a.as_ref().to_string()));
    argv.push("--force-local".into());
    Command::new(argv)
        .env("LC_ALL", "C")
        .env("HOME", "/root")
        .env("USER", "root")
}

/// `maybe_cleanup_default`: removes what `lxd init --auto` of LXD 3.0.1+
/// made for `lxdbr0`, so the create and attach below start clean.
fn cleanup_default(net_name: &str, create: bool, attach: bool, out: &mut ModuleOutput) {
    const PROFILE: &str = "default";
    const NIC: &str = "eth0";
    if create {
        let detach = lxc(&["network", "detach-profile", net_name, PROFILE]);
        let msg = |how: &str| {
            format!("Detach of lxd network '{net_name}' from profile '{PROFILE}' {how}")
        };
        out.effects.push(Effect::Probe(Probe {
            action: HostAction {
                what: format!("detach lxd network '{net_name}' from profile '{PROFILE}'"),
                // A host action has no environment of its own: `env` gives
                // it 22.4's.
                argv: ["env".to_string()]
                    .into_iter()
                    .chain(detach.env.iter().map(|(k, v)| format!("{k}={v}")))
                    .chain(detach.argv.iter().cloned())
                    .collect(),
            },
            // A first boot's `lxd init --auto` (LXD 4 and later) makes no
            // lxdbr0: nothing to detach.
            assume: 1,
            branches: vec![
                Branch {
                    when: When::Exit(vec![0]),
                    meaning: format!("detached: lxd network '{net_name}' is deleted"),
                    log: vec![(Level::DEBUG, msg("succeeded."))],
                    effects: vec![Effect::Run(lxc(&["network", "delete", net_name]))],
                    done: Some(format!("Deletion of lxd network '{net_name}' succeeded.")),
                },
                Branch {
                    when: When::Exit(vec![1]),
                    meaning: "not detached: taken as not there".into(),
                    log: vec![(Level::DEBUG, msg("failed. Assuming it did not exist."))],
                    effects: Vec::new(),
                    done: None,
                },
                Branch {
                    when: When::Otherwise,
                    meaning: "failed: run again, its failure fails the module".into(),
                    log: vec![(Level::WARN, PROBE_ERROR.to_string())],
                    effects: vec![Effect::Run(detach)],
                    done: None,
                },
            ],
            log: log_at!(),
        }));
    }
    if attach {
        // Exit 1: no such device, which is what is wanted.
        out.effects.push(Effect::Run(
            lxc(&["profile", "device", "remove", PROFILE, NIC]).ok_codes(&[1]),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    include!("../tests/fixtures/lxd_snap/recorded.rs");

    #[test]
    fn every_recorded_case_plans_as_cloud_init_22_4_ran_it() {
        check_recorded(&Lxd, 10);
    }

    #[test]
    fn the_trust_password_is_never_shown() {
        let p = Kit::debian12()
            .file_mode("/usr/bin/lxd", "", 0o755)
            .cfg("lxd:\n  init:\n    storage_backend: dir\n    trust_password: s3cret\n")
            .plan(&Lxd);
        assert!(p.errors().is_empty(), "{:?}", p.errors());
        let init = p.effects().last().unwrap();
        let shown = format!("{} {}", init.summary(), init.to_json());
        assert!(!shown.contains("s3cret"), "{shown}");
        assert_eq!(
            p.commands().last().unwrap(),
            &[
                "lxd",
                "init",
                "--auto",
                "--storage-backend=dir",
                "--trust-password=s3cret"
            ]
        );
    }

    #[test]
    fn a_detach_that_fails_otherwise_is_run_again_as_a_failing_command() {
        let p = Kit::debian12()
            .file_mode("/usr/bin/lxd", "", 0o755)
            .cfg("lxd:\n  init: {storage_backend: dir}\n  bridge: {mode: new}\n")
            .plan(&Lxd);
        let Some(Effect::Probe(probe)) = p.effects().iter().find(|e| matches!(e, Effect::Probe(_)))
        else {
            panic!("{:?}", p.effects())
        };
        assert_eq!(probe.assume, 1);
        assert_eq!(
            probe.action.argv,
            [
                "env",
                "LC_ALL=C",
                "HOME=/root",
                "USER=root",
                "lxc",
                "network",
                "detach-profile",
                "lxdbr0",
                "default",
                "--force-local"
            ]
        );
        let Effect::Run(again) = &probe.branches[2].effects[0] else {
            panic!("{probe:?}")
        };
        assert_eq!(probe.branches[2].when, When::Otherwise);
        assert_eq!(again.on_failure, OnFailure::Fatal);
        assert_eq!(&again.argv[..3], ["lxc", "network", "detach-profile"]);
    }

    #[test]
    fn a_bridge_named_otherwise_or_without_init_cleans_nothing_up() {
        for cfg in [
            "lxd:\n  init: {storage_backend: dir}\n  bridge: {mode: new, name: br1}\n",
            "lxd:\n  bridge: {mode: existing}\n",
        ] {
            let p = Kit::debian12()
                .file_mode("/usr/bin/lxd", "", 0o755)
                .cfg(cfg)
                .plan(&Lxd);
            assert!(
                !p.effects().iter().any(|e| matches!(e, Effect::Probe(_))),
                "{cfg}"
            );
            assert!(
                !p.commands()
                    .iter()
                    .any(|c| c.contains(&"remove".to_string())),
                "{cfg}"
            );
        }
    }

    #[test]
    fn the_preseed_is_secret_stdin() {
        let p = Kit::debian12()
            .file_mode("/usr/bin/lxd", "", 0o755)
            .cfg("lxd:\n  preseed: |\n    config:\n      core.trust_password: s3cret\n")
            .plan(&Lxd);
        let Some(Effect::Run(init)) = p.effects().last() else {
            panic!("{:?}", p.effects())
        };
        assert!(init.stdin.as_ref().unwrap().secret);
        assert!(!p
            .effects()
            .last()
            .unwrap()
            .to_json()
            .to_string()
            .contains("s3cret"));
    }
}
