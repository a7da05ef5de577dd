//! `cloud-init-disabled`: the image says cloud-init must not run
//! (A stub: its checks are still to be written.)

use super::registry::Check;
use super::{Finding, Image};

pub const CHECK: Check = Check {
    id: "cloud-init-disabled",
    about: "the image says cloud-init must not run",
    run,
};

fn run(_image: &Image) -> Vec<Finding> {
    Vec::new()
}
