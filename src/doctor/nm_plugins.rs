//! `networkmanager-plugin-missing`: NetworkManager.conf names a plugin that is not installed
//! (A stub: its checks are still to be written.)

use super::registry::Check;
use super::{Finding, Image};

pub const CHECK: Check = Check {
    id: "networkmanager-plugin-missing",
    about: "NetworkManager.conf names a plugin that is not installed",
    run,
};

fn run(_image: &Image) -> Vec<Finding> {
    Vec::new()
}
