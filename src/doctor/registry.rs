//! The checks `cloudboot doctor` runs, in the order it reports them.
//!
//! To add one: write `src/doctor/<name>.rs` with a `pub const CHECK: Check`
//! (an id in kebab-case, one line saying what it finds, and the function
//! that finds it), add `pub mod <name>;` to `mod.rs` and its `CHECK` below, and a
//! fixture in `tests/doctor_common/` that `doctor` finds and `seal` fixes.
//! The test at the end keeps ids unique and well formed; `tests/readme_lists.rs`
//! keeps the README's table of checks equal to this list.

use super::{
    both_enabled, datasource_wait, dhcp_hostname, dhcp_leases, disabled, fstab_nofail, host_keys,
    instance_state, machine_id, network_disabled, network_order, nm_plugins, persistent_net,
    scripts_user, stale_network,
};
use super::{Finding, Image};

/// One check: what it is called, what it finds, and how.
pub struct Check {
    /// The id of its findings (`doctor --format json`'s `id`).
    pub id: &'static str,
    /// What it finds, in one line (the README's table).
    pub about: &'static str,
    /// Reads the image, returns what it found (each with this check's id).
    pub run: fn(&Image) -> Vec<Finding>,
}

/// Every check, in report order: the template's leftovers first (state,
/// identity, network files, disks), then how the image boots.
pub const CHECKS: &[Check] = &[
    instance_state::CHECK,
    machine_id::CHECK,
    host_keys::CHECK,
    stale_network::CHECK,
    network_disabled::CHECK,
    persistent_net::CHECK,
    dhcp_leases::CHECK,
    fstab_nofail::CHECK,
    network_order::CHECK,
    both_enabled::CHECK,
    nm_plugins::CHECK,
    dhcp_hostname::CHECK,
    scripts_user::CHECK,
    datasource_wait::CHECK,
    disabled::CHECK,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case_and_each_check_says_what_it_finds() {
        let mut seen = std::collections::BTreeSet::new();
        for c in CHECKS {
            assert!(seen.insert(c.id), "two checks are called {}", c.id);
            assert!(
                !c.id.is_empty()
                    && c.id
                        .chars()
                        .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-'),
                "{}: ids are kebab-case",
                c.id
            );
            assert!(!c.about.is_empty(), "{}: says what it finds", c.id);
        }
        assert!(CHECKS.len() >= 15);
    }
}
