//! `persistent-net-rules`: udev rules that pin interface names to the template's MAC addresses
//! (A stub: its checks are still to be written.)

use super::registry::Check;
use super::{Finding, Image};

pub const CHECK: Check = Check {
    id: "persistent-net-rules",
    about: "udev rules that pin interface names to the template's MAC addresses",
    run,
};

fn run(_image: &Image) -> Vec<Finding> {
    Vec::new()
}
