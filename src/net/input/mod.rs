//! Network config formats other than v1/v2, converted to version 1 as
//! cloud-init converts them, and what the machine's interfaces are.

pub mod eni;
pub mod openstack;
pub mod rename;
pub mod sys;
