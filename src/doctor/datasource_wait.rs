//! `datasource-wait`: datasource_list names datasources this image waits for in vain
//! (A stub: its checks are still to be written.)

use super::registry::Check;
use super::{Finding, Image};

pub const CHECK: Check = Check {
    id: "datasource-wait",
    about: "datasource_list names datasources this image waits for in vain",
    run,
};

fn run(_image: &Image) -> Vec<Finding> {
    Vec::new()
}
