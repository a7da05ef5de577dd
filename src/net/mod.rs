//! Networking: one model ([`state::NetworkState`], cloud-init's
//! `network_state`) that every input converts into and every renderer reads.

pub mod state;
