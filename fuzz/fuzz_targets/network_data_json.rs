//! Any bytes as an OpenStack `network_data.json`: convert it as a boot
//! would (three NICs exist), parse the result into the network model, and
//! render it with every renderer. Hostile metadata must never panic, hang
//! or blow up; bad input is an error or a warning.
#![no_main]

use std::collections::HashMap;

use cloudboot::net::input::openstack::convert_net_json;
use cloudboot::net::render::{self, Flavor, RenderContext};
use cloudboot::net::state::NetworkState;
use cloudboot::rootfs::{RealFs, Root};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let macs: HashMap<String, String> = [
        ("fa:16:3e:00:00:00", "eth0"),
        ("fa:16:3e:00:00:01", "eth1"),
        ("fa:16:3e:00:00:02", "eth2"),
    ]
    .into_iter()
    .map(|(m, n)| (m.to_string(), n.to_string()))
    .collect();
    let Ok((config, _warnings)) = convert_net_json(&json, &macs) else {
        return;
    };
    let Ok(mut state) = NetworkState::parse(&config, &macs) else {
        return;
    };
    state.demote_extra_default_gateways();
    // An empty root: nothing on disk is read or written by rendering.
    let fs = RealFs {
        root: Root::new("/nonexistent-cloudboot-fuzz-root"),
    };
    for name in ["eni", "sysconfig", "netplan", "networkd"] {
        for flavor in [Flavor::Rhel, Flavor::Rhel6, Flavor::Default] {
            let ctx = RenderContext { fs: &fs, flavor };
            let _ = render::by_name(name).unwrap().render(&state, &ctx);
        }
    }
});
