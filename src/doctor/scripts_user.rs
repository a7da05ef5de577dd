//! `scripts-user-missing`: runcmd is in the module lists but scripts-user is not, so its script is written and never run
//! (A stub: its checks are still to be written.)

use super::registry::Check;
use super::{Finding, Image};

pub const CHECK: Check = Check {
    id: "scripts-user-missing",
    about: "runcmd is in the module lists but scripts-user is not, so its script is written and never run",
    run,
};

fn run(_image: &Image) -> Vec<Finding> {
    Vec::new()
}
