//! `dhcp-leases`: DHCP leases of the template's network
//! (A stub: its checks are still to be written.)

use super::registry::Check;
use super::{Finding, Image};

pub const CHECK: Check = Check {
    id: "dhcp-leases",
    about: "DHCP leases of the template's network",
    run,
};

fn run(_image: &Image) -> Vec<Finding> {
    Vec::new()
}
