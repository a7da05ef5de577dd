//! `dhcp-sets-hostname`: DHCP may replace the hostname cloud-init sets
//! (A stub: its checks are still to be written.)

use super::registry::Check;
use super::{Finding, Image};

pub const CHECK: Check = Check {
    id: "dhcp-sets-hostname",
    about: "DHCP may replace the hostname cloud-init sets",
    run,
};

fn run(_image: &Image) -> Vec<Finding> {
    Vec::new()
}
