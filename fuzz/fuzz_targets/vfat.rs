//! Any bytes as an FAT image: open it and walk every directory and file,
//! as a config-drive search would. It must never panic, hang or blow up.
#![no_main]

use cloudboot::blockfs::{vfat::Vfat, Filesystem};

use libfuzzer_sys::fuzz_target;

#[path = "shared/walk.rs"]
mod shared_walk;
use shared_walk::walk;

fuzz_target!(|data: &[u8]| {
    let _ = cloudboot::blockfs::vfat::probe_label(&data.to_vec());
    if let Ok(fs) = Vfat::open(data.to_vec()) {
        let _ = fs.label();
        walk(&fs, "", 0);
        let _ = fs.read_file("openstack/latest/meta_data.json", 1 << 20);
    }
});
