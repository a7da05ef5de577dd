//! Renderers: network state in, the files a distribution reads out. One
//! file each; each reads only [`NetworkState`] (and, where cloud-init does,
//! the files already in the root) and returns files to write. Their output
//! matches `cloud-init devel net-convert` of cloud-init 22.4 byte for byte
//! (tests/fixtures/net), apart from the deliberate fixes each one lists.

pub mod eni;
pub mod netplan;
pub mod networkd;
pub mod sysconfig;

use std::path::PathBuf;

use crate::net::state::NetworkState;
use crate::rootfs::FsView;

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
pub trait Renderer {
    /// cloud-init's name for it (`sysconfig`, `eni`, `networkd`, `netplan`).
    fn name(&self) -> &'static str;
    fn render(&self, state: &NetworkState, ctx: &RenderContext) -> Rendered;
}

/// The renderer cloud-init calls `name`, if cloudboot writes it.
pub fn by_name(name: &str) -> Option<Box<dyn Renderer>> {
    match name {
        "eni" => Some(Box::new(eni::Eni)),
        "sysconfig" => Some(Box::new(sysconfig::Sysconfig)),
        "netplan" => Some(Box::new(netplan::Netplan)),
        "networkd" => Some(Box::new(networkd::Networkd)),
        _ => None,
    }
}
