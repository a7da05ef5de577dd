//! Renderers: network state in, the files a distribution reads out. One
//! file each; each reads only [`NetworkState`] (and, where cloud-init does,
//! the files already in the root) and returns files to write. Their output
//! matches `cloud-init devel net-convert` of cloud-init 22.4 byte for byte
//! (tests/fixtures/net), apart from the deliberate fixes each one lists.
//!
//! To add a renderer: its file here (a unit struct implementing
//! [`Renderer`]), one line in [`RENDERERS`], and its `available` test in
//! `crate::distro::network` (which renderer a distro picks is the distro's
//! decision). `tests/registry.rs` checks that every renderer here is one
//! cloud-init knows and that the distro layer can pick it.

pub mod eni;
pub mod netplan;
pub mod network_manager;
pub mod networkd;
pub mod sysconfig;

use std::path::PathBuf;

use crate::net::state::NetworkState;
use crate::rootfs::FsView;

/// `distros/debian.py` `NETWORK_FILE_HEADER`, which heads the ENI file and
/// (as Ubuntu's and Debian's `netplan_header`) the netplan file.
pub const DEBIAN_NETWORK_FILE_HEADER: &str = "\
# This file is generated from information provided by the datasource.  Changes
# to it will not persist across an instance reboot.  To disable cloud-init's
# network configuration capabilities, write a file
# /etc/cloud/cloud.cfg.d/99-disable-network-config.cfg with the following:
# network: {config: disabled}
";

/// A file a renderer wants written (a guest path; content; mode).
#[derive(Clone, Debug, PartialEq)]
pub struct RenderedFile {
    pub path: PathBuf,
    pub content: String,
    pub mode: u32,
}

/// What rendering produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rendered {
    pub files: Vec<RenderedFile>,
    /// Files to remove (stale configs of interfaces no longer present), if any.
    pub remove: Vec<PathBuf>,
    pub warnings: Vec<String>,
}

/// Which variant of a renderer's output: the distro's to say.
pub use crate::distro::network::Flavor;

/// What a renderer may look at besides the state.
pub struct RenderContext<'a> {
    /// The root as it is (e.g. /etc/network/interfaces, to make it source
    /// interfaces.d).
    pub fs: &'a dyn FsView,
    pub flavor: Flavor,
}

/// A network renderer.
pub trait Renderer: Sync {
    /// cloud-init's name for it (`sysconfig`, `eni`, `networkd`, `netplan`,
    /// `network-manager`).
    fn name(&self) -> &'static str;
    fn render(&self, state: &NetworkState, ctx: &RenderContext) -> Rendered;
    /// The program cloud-init runs once the files are written, if any.
    fn after_write(&self) -> &'static [&'static str] {
        &[]
    }
    /// How its output is brought up on a live machine (cloud-init's
    /// activators).
    fn bring_up(&self) -> BringUp;
}

/// How a renderer's output is brought up: `ifup` per interface, one
/// command for a service that owns every interface's addresses, or
/// NetworkManager's `nmcli` per interface.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BringUp {
    Ifup,
    Service(&'static [&'static str]),
    /// 22.4's `NetworkManagerActivator.bring_up_interface`, one command per
    /// interface: load its keyfile and bring that connection up; if the
    /// load fails (no keyfile: a loopback, a name cloud-init writes none
    /// for), reload every connection and bring up whatever NetworkManager
    /// has for the interface.
    Nmcli,
}

impl BringUp {
    /// The commands that bring `interfaces` up.
    pub fn commands(self, interfaces: &[String]) -> Vec<Vec<String>> {
        match self {
            BringUp::Ifup => interfaces
                .iter()
                .map(|i| vec!["ifup".to_string(), i.clone()])
                .collect(),
            BringUp::Service(argv) => vec![argv.iter().map(|a| a.to_string()).collect()],
            BringUp::Nmcli => interfaces
                .iter()
                .map(|i| {
                    let file = network_manager::connection_path(i).display().to_string();
                    [
                        "sh",
                        "-c",
                        "if nmcli connection load \"$1\"; then nmcli connection up filename \"$1\"; \
                         else nmcli connection reload; nmcli connection up ifname \"$2\"; fi",
                        "sh",
                        &file,
                        i,
                    ]
                    .iter()
                    .map(|a| a.to_string())
                    .collect()
                })
                .collect(),
        }
    }

    /// The commands add the configured addresses and leave others in place
    /// (`ifup`), so a stale static address must be flushed first.
    pub fn keeps_other_addresses(self) -> bool {
        self == BringUp::Ifup
    }
}

/// Every renderer cloudboot writes.
pub const RENDERERS: &[&dyn Renderer] = &[
    &eni::Eni,
    &sysconfig::Sysconfig,
    &netplan::Netplan,
    &networkd::Networkd,
    &network_manager::NetworkManager,
];

/// The renderer cloud-init calls `name`, if cloudboot writes it.
pub fn by_name(name: &str) -> Option<&'static dyn Renderer> {
    RENDERERS.iter().copied().find(|r| r.name() == name)
}
