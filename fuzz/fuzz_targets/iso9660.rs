//! Any bytes as an ISO9660 image: open it and walk every directory and file,
//! as a config-drive search would. It must never panic, hang or blow up.
#![no_main]

use cloudboot::blockfs::{iso9660::Iso9660, Filesystem};

use libfuzzer_sys::fuzz_target;

#[path = "shared/walk.rs"]
mod shared_walk;
use shared_walk::walk;

fuzz_target!(|data: &[u8]| {
    let _ = cloudboot::blockfs::iso9660::probe_label(&data.to_vec());
    if let Ok(fs) = Iso9660::open(data.to_vec()) {
        let _ = fs.label();
        walk(&fs, "", 0);
        let _ = fs.read_file("openstack/latest/meta_data.json", 1 << 20);
    }
});
