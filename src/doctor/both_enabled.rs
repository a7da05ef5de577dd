//! `two-tools-enabled`: cloud-init and cloudboot are both enabled
//! (A stub: its checks are still to be written.)

use super::registry::Check;
use super::{Finding, Image};

pub const CHECK: Check = Check {
    id: "two-tools-enabled",
    about: "cloud-init and cloudboot are both enabled",
    run,
};

fn run(_image: &Image) -> Vec<Finding> {
    Vec::new()
}
