//! `devel net-convert` (22.4's `cmd/devel/net_convert.py`): one network
//! config converted and rendered into a directory, with 22.4's flags, help,
//! messages and exit codes. It is built on `net render`'s machinery (the
//! converters under `crate::net::input`, [`NetworkState`], the renderers);
//! what is here is only what 22.4's command adds around them:
//!
//! - the input kinds: `eni`, `yaml` (v1 or v2, under `network:` or not),
//!   `network_data.json` (with `-m name,mac` as the interfaces that exist,
//!   else the root's `/sys/class/net`), `azure-imds` (the IMDS document's
//!   `network`, converted by the Azure datasource's own function),
//!   `vmware-imc` (a VMware guest customization `cust.cfg`, read by
//!   `crate::net::input::vmware_imc`, its NICs named as their sections);
//! - each distro's renderer settings as 22.4's distro classes give them
//!   (`renderer_configs`): the ENI file's path and header (Debian's
//!   `interfaces.d/50-cloud-init`, Ubuntu's `.cfg`, Alpine's and the
//!   renderer's default `/etc/network/interfaces`), the netplan header, and
//!   which distros have no settings for a renderer, where 22.4 fails (exit
//!   1: netplan on a distro without `netplan_path`, sysconfig on one
//!   without templates);
//! - the two stderr lines (`Read input format ...`, `Wrote output format
//!   ...`) and `--debug`'s `Input YAML` and `Internal State` dumps.
//!
//! The output directory is only written: unlike `net render`, which reads
//! it as a root (an `/etc/network/interfaces` there is made to source ours),
//! nothing in it changes what is rendered, as in 22.4. The files are what a
//! cloudboot boot writes, so cloudboot's deliberate differences from 22.4
//! (tests/fixtures/net/README.md: ENI routes with iproute2, one default
//! gateway (NetworkManager: `never-default=true`), networkd `.netdev`
//! files, a `network_data.json` MAC no interface has) are in them too.
//!
//! Not done (a clear error, exit 1): `-O sysconfig` for openSUSE/SLES
//! (no SUSE flavour of the sysconfig renderer), and the BSDs (cloudboot is
//! Linux only; 22.4 also fails for them on Linux, building the distro).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::argparse::{os_error, Arg, Matches, Parser};
use crate::distro::hostname::{family_of, Family};
use crate::distro::network::Flavor;
use crate::net::input;
use crate::net::render::{self, RenderContext, RenderedFile, DEBIAN_NETWORK_FILE_HEADER};
use crate::net::state::NetworkState;
use crate::plan::EmptyRoot;
use crate::rootfs::{RealFs, Root};
use crate::sysnet::SysNet;
use crate::value::Value;

/// 22.4's module docstring, the verb's help line in `devel --help`.
pub const HELP: &str = "Debug network config format conversions.";

const KINDS: &[&str] = &[
    "eni",
    "network_data.json",
    "yaml",
    "azure-imds",
    "vmware-imc",
];

/// `distros.OSFAMILIES`, flattened in 22.4's order.
const DISTROS: &[&str] = &[
    "alpine",
    "arch",
    "debian",
    "ubuntu",
    "freebsd",
    "dragonfly",
    "gentoo",
    "cos",
    "netbsd",
    "openbsd",
    "almalinux",
    "amazon",
    "centos",
    "cloudlinux",
    "eurolinux",
    "fedora",
    "mariner",
    "miraclelinux",
    "openEuler",
    "openmandriva",
    "photon",
    "rhel",
    "rocky",
    "virtuozzo",
    "opensuse",
    "sles",
];

const OUTPUT_KINDS: &[&str] = &["eni", "netplan", "networkd", "sysconfig", "network-manager"];

/// `distros/alpine.py`'s `eni_header` (one space after the full stops).
const ALPINE_ENI_HEADER: &str = "\
# This file is generated from information provided by the datasource. Changes
# to it will not persist across an instance reboot. To disable cloud-init's
# network configuration capabilities, write a file
# /etc/cloud/cloud.cfg.d/99-disable-network-config.cfg with the following:
# network: {config: disabled}

";

/// `distros/mariner.py`'s `netplan_header` (one space after the full stops).
const MARINER_NETPLAN_HEADER: &str = "\
# This file is generated from information provided by the datasource. Changes
# to it will not persist across an instance reboot. To disable cloud-init's
# network configuration capabilities, write a file
# /etc/cloud/cloud.cfg.d/99-disable-network-config.cfg with the following:
# network: {config: disabled}
";

/// The arguments, in 22.4's order and words (`get_parser`).
pub fn args(p: Parser) -> Parser {
    p.arg(
        Arg::value(
            &["-p", "--network-data"],
            "The network configuration to read",
        )
        .metavar("PATH")
        .required(),
    )
    .arg(
        Arg::value(&["-k", "--kind"], "The format of the given network config")
            .choices(KINDS)
            .required(),
    )
    .arg(
        Arg::value(&["-d", "--directory"], "directory to place output in")
            .metavar("PATH")
            .required(),
    )
    .arg(
        Arg::value(&["-D", "--distro"], "")
            .choices(DISTROS)
            .required(),
    )
    .arg(Arg::append(&["-m", "--mac"], "interface name to mac mapping").metavar("name,mac"))
    .arg(Arg::flag(&["--debug"], "enable debug logging to stderr."))
    .arg(
        Arg::value(
            &["-O", "--output-kind"],
            "The network config format to emit",
        )
        .choices(OUTPUT_KINDS)
        .required(),
    )
}

/// Why nothing (or not everything) was converted: exit 1, as 22.4's
/// exceptions are.
#[derive(Debug, thiserror::Error)]
pub enum NetConvertError {
    #[error("{0}")]
    Open(String),
    #[error("{dir}: {error}")]
    Directory { dir: String, error: String },
    #[error("-m/--mac {0:?}: expected name,mac")]
    MacPair(String),
    #[error("{0}: not UTF-8 text")]
    NotText(String),
    #[error("{file}: not JSON: {error}")]
    NotJson {
        file: String,
        error: serde_json::Error,
    },
    #[error(
        "{0}: no 'network' key (an Azure IMDS instance document has its network config there)"
    )]
    NoImdsNetwork(String),
    #[error("{file}: {error}")]
    Convert { file: String, error: String },
    #[error("{0}")]
    Unsupported(String),
    #[error("writing {path}: {error}")]
    Write { path: String, error: String },
}

/// Runs the verb; the exit code.
pub fn run(root: &Path, m: &Matches) -> i32 {
    match convert(root, m) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("cloudboot: devel net-convert: {e}");
            1
        }
    }
}

/// What the distro's renderer settings say for the output kind.
enum Target {
    Eni {
        path: &'static str,
        header: &'static str,
    },
    Netplan {
        header: &'static str,
    },
    Networkd,
    /// NetworkManager keyfiles (no distro has settings for them).
    NetworkManager,
    /// sysconfig with rhel's templates.
    Sysconfig,
    /// sysconfig with SUSE's (`distros/opensuse.py`, `sles.py`).
    SysconfigSuse,
    /// sysconfig for a distro with no sysconfig settings: 22.4 prints its
    /// two lines, then fails in the renderer.
    SysconfigWithoutSettings,
}

/// `distros.fetch(distro)` and its `renderer_configs` for `output`, as far
/// as they change the files; an error where 22.4 fails before rendering,
/// or cloudboot cannot render it.
fn target(distro: &str, output: &str) -> Result<Target, NetConvertError> {
    match distro {
        "freebsd" | "netbsd" | "openbsd" | "dragonfly" => {
            return Err(NetConvertError::Unsupported(format!(
                "distro {distro}: cloudboot renders for Linux distributions only (cloud-init 22.4 \
                 also fails here on Linux, setting up its {distro} distro)"
            )))
        }
        _ => {}
    }
    Ok(match output {
        "eni" => match distro {
            "debian" => Target::Eni {
                path: render::eni::ENI_PATH,
                header: DEBIAN_NETWORK_FILE_HEADER,
            },
            "ubuntu" => Target::Eni {
                path: render::eni::UBUNTU_ENI_PATH,
                header: DEBIAN_NETWORK_FILE_HEADER,
            },
            "alpine" => Target::Eni {
                path: render::eni::MAIN_PATH,
                header: ALPINE_ENI_HEADER,
            },
            // No settings: the renderer's defaults.
            _ => Target::Eni {
                path: render::eni::MAIN_PATH,
                header: "",
            },
        },
        "netplan" => match distro {
            "debian" | "ubuntu" => Target::Netplan {
                header: DEBIAN_NETWORK_FILE_HEADER,
            },
            "arch" => Target::Netplan {
                header: "# generated by cloud-init\n",
            },
            "mariner" => Target::Netplan {
                header: MARINER_NETPLAN_HEADER,
            },
            _ => {
                return Err(NetConvertError::Unsupported(format!(
                    "distro {distro} has no netplan settings (no netplan_path; cloud-init 22.4 \
                     fails the same way: KeyError 'netplan_path')"
                )))
            }
        },
        "networkd" => Target::Networkd,
        "sysconfig" => match distro {
            // The distros whose class gives sysconfig settings
            // (`renderer_configs`): RHEL's family, Amazon with it.
            d if matches!(family_of(d), Some((Family::Redhat, _))) => Target::Sysconfig,
            "opensuse" | "sles" => Target::SysconfigSuse,
            _ => Target::SysconfigWithoutSettings,
        },
        // network-manager: the parser lets no other kind through. Any
        // distro: 22.4 renders with no settings where a distro has none.
        _ => Target::NetworkManager,
    })
}

fn convert(root: &Path, m: &Matches) -> Result<(), NetConvertError> {
    let input = m.value("network_data").expect("required by the parser");
    let kind = m.value("kind").expect("required by the parser");
    let distro = m.value("distro").expect("required by the parser");
    let output = m.value("output_kind").expect("required by the parser");
    let debug = m.flag("debug");
    // 22.4 opens the file while parsing (`type=open`): before the
    // directory is made.
    let raw = std::fs::read(input).map_err(|e| NetConvertError::Open(os_error(&e, input)))?;
    let mut directory = m
        .value("directory")
        .expect("required by the parser")
        .to_string();
    if !directory.ends_with('/') {
        directory.push('/');
    }
    if !Path::new(&directory).is_dir() {
        std::fs::create_dir_all(&directory).map_err(|e| NetConvertError::Directory {
            dir: directory.clone(),
            error: os_error(&e, &directory),
        })?;
    }
    // `known_macs`: MAC (as given) -> name; the last pair for a MAC wins.
    let mut known_macs: Option<HashMap<String, String>> = None;
    for item in m.values("mac") {
        let (name, mac) = item
            .split_once(',')
            .ok_or_else(|| NetConvertError::MacPair(item.clone()))?;
        known_macs
            .get_or_insert_with(HashMap::new)
            .insert(mac.to_string(), name.to_string());
    }
    let text = String::from_utf8(raw).map_err(|_| NetConvertError::NotText(input.to_string()))?;
    let fs = RealFs {
        root: Root::new(root),
    };
    // The interfaces this machine has (22.4's `get_interfaces_by_mac` on
    // the host), read under the root.
    let machine_macs = || -> Result<HashMap<String, String>, NetConvertError> {
        SysNet::read(&fs)
            .interfaces_by_mac(&[])
            .map(|b| b.macs)
            .map_err(|e| NetConvertError::Convert {
                file: "/sys/class/net".into(),
                error: e.to_string(),
            })
    };
    let converted = |error: String| NetConvertError::Convert {
        file: input.to_string(),
        error,
    };
    let mut warnings = Vec::new();
    let config = match kind {
        "eni" => input::eni::convert_eni(&text).map_err(|e| converted(e.to_string()))?,
        "yaml" => {
            let loaded =
                crate::yaml::load(text.as_bytes(), input).map_err(|e| converted(e.to_string()))?;
            let config = match loaded.get("network") {
                Some(inner) => inner.clone(),
                None => loaded,
            };
            if debug {
                eprint!("Input YAML\n{}\n", crate::yaml::dump_cloud_config(&config));
            }
            config
        }
        "network_data.json" => {
            let json = parse_json(&text, input)?;
            let macs = match &known_macs {
                Some(k) => k.clone(),
                None => machine_macs()?,
            };
            let (config, w) = input::openstack::convert_net_json(&json, &macs)
                .map_err(|e| converted(e.to_string()))?;
            warnings.extend(w);
            config
        }
        "azure-imds" => {
            let json = parse_json(&text, input)?;
            let network = json
                .get("network")
                .ok_or_else(|| NetConvertError::NoImdsNetwork(input.to_string()))?;
            let driver_of = |nic: &str| {
                use crate::rootfs::FsView;
                fs.read_link(&Path::new("/sys/class/net").join(nic).join("device/driver"))
                    .ok()
                    .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            };
            crate::datasource::azure_network_config_from_imds(network, &driver_of)
                .map_err(converted)?
        }
        // "vmware-imc": a VMware guest customization file, its NICs named
        // as its sections (22.4's `use_system_devices=False`).
        _ => input::vmware_imc::convert_cust_cfg(&text).map_err(|e| converted(e.to_string()))?,
    };
    let target = target(distro, output)?;
    let mut state =
        NetworkState::parse(&config, &machine_macs()?).map_err(|e| converted(e.to_string()))?;
    for (iface, gw) in state.demote_extra_default_gateways() {
        warnings.push(format!(
            "{iface}: gateway {gw} is not made a default route (an earlier interface has one)"
        ));
    }
    if debug {
        eprint!(
            "\nInternal State\n{}\n",
            crate::yaml::dump_cloud_config(&Value::from_json(&state.to_json()))
        );
    }
    eprint!(
        "Read input format '{kind}' from '{input}'.\nWrote output format '{output}' to \
         '{directory}'\n\n"
    );
    let (name, flavor) = match &target {
        Target::Eni { .. } => ("eni", Flavor::Default),
        Target::Netplan { .. } => ("netplan", Flavor::Default),
        Target::Networkd => ("networkd", Flavor::Default),
        Target::NetworkManager => ("network-manager", Flavor::Default),
        Target::Sysconfig => ("sysconfig", Flavor::Rhel),
        Target::SysconfigSuse => ("sysconfig", Flavor::Suse),
        Target::SysconfigWithoutSettings => {
            return Err(NetConvertError::Unsupported(format!(
                "distro {distro} has no sysconfig settings (file templates): nothing written \
                 (cloud-init 22.4 fails the same way in its sysconfig renderer)"
            )))
        }
    };
    let renderer = render::by_name(name).expect("every target names a renderer cloudboot has");
    let ctx = RenderContext {
        fs: &EmptyRoot,
        flavor,
    };
    let mut rendered = renderer.render(&state, &ctx);
    if name == "eni" {
        // The ENI renderer also makes the main file source ours (a
        // deliberate fix for a root whose main file does not); 22.4's
        // net-convert writes only its own files, and nothing read here is
        // a machine's main file.
        let main = Path::new(render::eni::MAIN_PATH);
        rendered.files.retain(|f| f.path != main);
        rendered
            .warnings
            .retain(|w| !w.starts_with(render::eni::MAIN_PATH));
    }
    warnings.extend(rendered.warnings.iter().cloned());
    for w in &warnings {
        eprintln!("net-convert[WARNING]: {w}");
    }
    let files: Vec<RenderedFile> = rendered
        .files
        .into_iter()
        .map(|f| settle(f, &target))
        .collect();
    let out = Root::new(&directory);
    for f in &files {
        out.write_bytes(&f.path, f.content.as_bytes(), f.mode, None)
            .map_err(|e| NetConvertError::Write {
                path: format!(
                    "{directory}{}",
                    f.path.display().to_string().trim_start_matches('/')
                ),
                error: e.to_string(),
            })?;
    }
    Ok(())
}

/// A rendered file where the distro's settings put it, with their header:
/// the renderers write Debian's (`interfaces.d/50-cloud-init`, Debian's
/// header).
fn settle(mut f: RenderedFile, target: &Target) -> RenderedFile {
    let rehead = |content: &str, header: &str| {
        let body = content
            .strip_prefix(DEBIAN_NETWORK_FILE_HEADER)
            .unwrap_or(content);
        format!("{header}{body}")
    };
    match *target {
        Target::Eni { path, header } if f.path == Path::new(render::eni::ENI_PATH) => {
            f.content = rehead(&f.content, header);
            f.path = PathBuf::from(path);
        }
        Target::Netplan { header } if f.path == Path::new(render::netplan::NETPLAN_PATH) => {
            f.content = rehead(&f.content, header);
        }
        _ => {}
    }
    f
}

fn parse_json(text: &str, input: &str) -> Result<serde_json::Value, NetConvertError> {
    serde_json::from_str(text).map_err(|error| NetConvertError::NotJson {
        file: input.to_string(),
        error,
    })
}
