//! Code several modules share; not a module (the registry in
//! `modules/mod.rs` lists the modules). Like a module, it sees the engine
//! only through [`crate::module::prelude`].

pub mod block_devices;
pub mod configobj;
pub mod fetch_script;
#[cfg(test)]
pub mod handler_events;
pub mod limits;
pub mod one_line;
pub mod ssh_util;
pub mod sshd_config;
pub mod staged;
