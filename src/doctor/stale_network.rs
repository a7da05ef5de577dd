//! `stale-network-config`: network config the template's instance left behind
//! (A stub: its checks are still to be written.)

use super::registry::Check;
use super::{Finding, Image};

pub const CHECK: Check = Check {
    id: "stale-network-config",
    about: "network config the template's instance left behind",
    run,
};

fn run(_image: &Image) -> Vec<Finding> {
    Vec::new()
}
