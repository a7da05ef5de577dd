//! Networking: one model ([`state::NetworkState`], cloud-init's
//! `network_state`) that every input converts into and every renderer reads.
//!
//! - `input/`: other formats into network config version 1
//!   (OpenStack `network_data.json`, ENI text), and the fallback config.
//! - `state.rs`: v1/v2 into the model.
//! - `render/`: the model into sysconfig, ENI, networkd or netplan files.

pub mod apply;
pub mod input;
pub mod preview;
pub mod render;
pub mod state;
