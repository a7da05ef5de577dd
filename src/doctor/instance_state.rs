//! `stale-instance-state`: cloud-init state and logs of the template's instance
//! (A stub: its checks are still to be written.)

use super::registry::Check;
use super::{Finding, Image};

pub const CHECK: Check = Check {
    id: "stale-instance-state",
    about: "cloud-init state and logs of the template's instance",
    run,
};

fn run(_image: &Image) -> Vec<Finding> {
    Vec::new()
}
