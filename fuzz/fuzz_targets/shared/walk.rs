//! What every filesystem target does with an image that opened: walk every
//! directory and read every file, bounded, as a config-drive search would.

use cloudboot::blockfs::Filesystem;

pub fn walk(fs: &dyn Filesystem, dir: &str, depth: usize) {
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
