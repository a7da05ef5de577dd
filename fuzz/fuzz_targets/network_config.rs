//! Any bytes as a network config a user or a datasource can give: as
//! network config v1 or v2 YAML (a bare `version:` document or one under
//! `network:`) and as ENI text (nova's template, `--kind eni`), each taken
//! the way `cloudboot net render` takes it (`preview::to_network_config`),
//! parsed into the network model as a boot would (two NICs exist),
//! and rendered with every renderer and flavour. Hostile input must never
//! panic, hang or blow up; bad input is an error or a warning.
//! (`network_data.json` has its own target.)
#![no_main]

use std::collections::HashMap;

use cloudboot::net::preview::{to_network_config, Kind};
use cloudboot::net::render::{self, Flavor, RenderContext};
use cloudboot::net::state::NetworkState;
use cloudboot::rootfs::{RealFs, Root};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let macs: HashMap<String, String> =
        [("fa:16:3e:00:00:00", "eth0"), ("fa:16:3e:00:00:01", "eth1")]
            .into_iter()
            .map(|(m, n)| (m.to_string(), n.to_string()))
            .collect();
    // Every reading of the bytes, not only the one `--kind auto` picks: a
    // fuzzed input is rarely recognisable, and each path must hold.
    for kind in [Kind::V1, Kind::V2, Kind::Eni] {
        let Ok((config, _warnings)) = to_network_config(data, kind, "fuzz", &macs) else {
            continue;
        };
        let Ok(mut state) = NetworkState::parse(&config, &macs) else {
            continue;
        };
        state.demote_extra_default_gateways();
        // A root that does not exist: rendering reads nothing and writes
        // nothing (it returns files).
        let fs = RealFs {
            root: Root::new("/nonexistent-cloudboot-fuzz-root"),
        };
        for name in ["eni", "sysconfig", "netplan", "networkd"] {
            for flavor in [Flavor::Rhel, Flavor::Rhel6, Flavor::Default] {
                let ctx = RenderContext { fs: &fs, flavor };
                let _ = render::by_name(name).unwrap().render(&state, &ctx);
            }
        }
    }
});
