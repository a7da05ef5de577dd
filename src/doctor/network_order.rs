//! `network-before-local`: the network service starts before the local stage, so the network config it writes is not applied
//! (A stub: its checks are still to be written.)

use super::registry::Check;
use super::{Finding, Image};

pub const CHECK: Check = Check {
    id: "network-before-local",
    about: "the network service starts before the local stage, so the network config it writes is not applied",
    run,
};

fn run(_image: &Image) -> Vec<Finding> {
    Vec::new()
}
