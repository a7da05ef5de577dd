//! `shared-host-keys`: SSH host keys every clone would share
//! (A stub: its checks are still to be written.)

use super::registry::Check;
use super::{Finding, Image};

pub const CHECK: Check = Check {
    id: "shared-host-keys",
    about: "SSH host keys every clone would share",
    run,
};

fn run(_image: &Image) -> Vec<Finding> {
    Vec::new()
}
