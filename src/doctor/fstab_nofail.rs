//! `fstab-without-nofail`: fstab entries for disks a new instance may not have, without nofail
//! (A stub: its checks are still to be written.)

use super::registry::Check;
use super::{Finding, Image};

pub const CHECK: Check = Check {
    id: "fstab-without-nofail",
    about: "fstab entries for disks a new instance may not have, without nofail",
    run,
};

fn run(_image: &Image) -> Vec<Finding> {
    Vec::new()
}
