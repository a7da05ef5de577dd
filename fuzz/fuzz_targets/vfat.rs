//! Any bytes as an FAT image: open it and walk every directory and file,
//! as a config-drive search would. It must never panic, hang or blow up.
#![no_main]

use cloudboot::blockfs::{vfat::Vfat, Filesystem};
use libfuzzer_sys::fuzz_target;

fn walk(fs: &dyn Filesystem, dir: &str, depth: usize) {
    if depth > 8 {
        return;
    }
    let Ok(entries) = fs.list_dir(dir) else { return };
    for e in entries.iter().take(64) {
        let path = if dir.is_empty() { e.name.clone() } else { format!("{dir}/{}", e.name) };
        if e.is_dir {
            walk(fs, &path, depth + 1);
        } else {
            let _ = fs.read_file(&path, 1 << 20);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = cloudboot::blockfs::vfat::probe_label(&data.to_vec());
    if let Ok(fs) = Vfat::open(data.to_vec()) {
        let _ = fs.label();
        walk(&fs, "", 0);
        let _ = fs.read_file("openstack/latest/meta_data.json", 1 << 20);
    }
});
