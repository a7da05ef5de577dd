//! Filesystem images a test builds with the real tools (genisoimage,
//! mkfs.vfat and mtools, no mounting) and puts in a scratch root as a
//! device the guest would see.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use super::{run_image_tool, Machine};

/// Writes `files` (relative path, content) under `dir`.
pub fn tree<C: AsRef<[u8]>>(dir: &Path, files: &[(&str, C)]) {
    for (rel, content) in files {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
    }
}

/// An ISO9660 image labelled `label` holding `files`, with Rock Ridge and
/// Joliet, as nova and cloud-localds make them (`genisoimage -V LABEL -R
/// -J`).
pub fn iso_image<C: AsRef<[u8]>>(dir: &Path, label: &str, files: &[(&str, C)]) -> PathBuf {
    let stem = label.replace(' ', "_");
    let src = dir.join(format!("{stem}-isosrc"));
    tree(&src, files);
    let img = dir.join(format!("{stem}.iso"));
    run_image_tool(
        "genisoimage",
        &[
            "-quiet",
            "-o",
            img.to_str().unwrap(),
            "-V",
            label,
            "-R",
            "-J",
            src.to_str().unwrap(),
        ],
    );
    img
}

/// A 4 MiB FAT image labelled `label` (volume serial `serial`, 8 hex
/// digits, when given) holding `files`, filled by mtools.
pub fn vfat_image<C: AsRef<[u8]>>(
    dir: &Path,
    label: &str,
    serial: Option<&str>,
    files: &[(&str, C)],
) -> PathBuf {
    let img = dir.join(format!("{label}.img"));
    std::fs::File::create(&img)
        .unwrap()
        .set_len(4 << 20)
        .unwrap();
    let mut args = vec!["-n", label];
    if let Some(s) = serial {
        args.extend(["-i", s]);
    }
    args.push(img.to_str().unwrap());
    run_image_tool("mkfs.vfat", &args);
    let src = dir.join(format!("{label}-src"));
    tree(&src, files);
    for entry in std::fs::read_dir(&src).unwrap() {
        let p = entry.unwrap().path();
        run_image_tool(
            "mcopy",
            &[
                "-s",
                "-i",
                img.to_str().unwrap(),
                p.to_str().unwrap(),
                "::/",
            ],
        );
    }
    img
}

impl Machine {
    /// Puts an image in the root as `/dev/<name>`, announced in
    /// `/sys/class/block` with its size in 512-byte sectors, as sysfs
    /// gives it.
    pub fn attach(&self, img: &Path, name: &str) {
        std::fs::create_dir_all(self.path("/dev")).unwrap();
        std::fs::copy(img, self.path(&format!("/dev/{name}"))).unwrap();
        let sectors = std::fs::metadata(img).unwrap().len() / 512;
        self.write(
            &format!("/sys/class/block/{name}/size"),
            &format!("{sectors}\n"),
        );
    }
}
