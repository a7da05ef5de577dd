//! FAT images built at test time by the real tools: `mkfs.vfat`
//! (dosfstools) to format, `mtools` (`mcopy`, `mmd`, `mdel`, `mshowfat`) to
//! fill them without mounting, `blkid` to say what a prober would see.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use cloudboot::blockfs::vfat::Vfat;

const TOOLS: &[(&str, &str)] = &[
    ("mkfs.vfat", "dosfstools"),
    ("mcopy", "mtools"),
    ("mmd", "mtools"),
    ("mdel", "mtools"),
    ("mshowfat", "mtools"),
    ("mlabel", "mtools"),
    ("blkid", "util-linux"),
];

/// The tool's path; panics (never skips) when it is missing, since a test
/// that silently passes without its tools proves nothing.
pub fn tool(name: &str) -> PathBuf {
    let package = TOOLS
        .iter()
        .find(|(t, _)| *t == name)
        .map_or("?", |(_, p)| p);
    // mkfs.vfat lives in /usr/sbin, which a non-root PATH often lacks.
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` not found: these tests build FAT images with real tools; \
                 install them with `apt-get install dosfstools mtools` ({name} is in {package})"
            )
        })
}

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(tool(program))
        .args(args)
        // mtools otherwise refuses images whose geometry looks odd to it.
        .env("MTOOLS_SKIP_CHECK", "1")
        // So mtools takes non-ASCII file names as UTF-8.
        .env("LC_ALL", "C.UTF-8")
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A FAT image file in its own temporary directory.
pub struct Image {
    dir: tempfile::TempDir,
    path: PathBuf,
}

impl Image {
    /// `truncate -s SIZE x.img && mkfs.vfat ARGS x.img` (a sparse file).
    pub fn new(size: u64, mkfs_args: &[&str]) -> Image {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.img");
        fs::File::create(&path)
            .and_then(|f| f.set_len(size))
            .expect("creating image");
        let mut args: Vec<&str> = mkfs_args.to_vec();
        let p = path.to_str().unwrap().to_string();
        args.push(&p);
        run("mkfs.vfat", &args);
        Image { dir, path }
    }

    fn img(&self) -> &str {
        self.path.to_str().unwrap()
    }

    fn scratch(&self, content: &[u8]) -> PathBuf {
        let p = self.dir.path().join("scratch");
        fs::write(&p, content).unwrap();
        p
    }

    /// `mmd ::/a ::/a/b ...` (parents first).
    pub fn mkdir(&self, dirs: &[&str]) {
        let targets: Vec<String> = dirs.iter().map(|d| format!("::{d}")).collect();
        let mut args = vec!["-i", self.img()];
        args.extend(targets.iter().map(String::as_str));
        run("mmd", &args);
    }

    /// `mcopy file ::/dest`.
    pub fn put(&self, dest: &str, content: &[u8]) {
        let src = self.scratch(content);
        run(
            "mcopy",
            &[
                "-i",
                self.img(),
                src.to_str().unwrap(),
                &format!("::{dest}"),
            ],
        );
    }

    /// Many files into one directory with a single `mcopy`.
    pub fn put_many(&self, dest_dir: &str, files: &[(String, Vec<u8>)]) {
        let staging = self.dir.path().join("staging");
        let _ = fs::remove_dir_all(&staging);
        fs::create_dir(&staging).unwrap();
        let mut sources = Vec::new();
        for (name, content) in files {
            let p = staging.join(name);
            fs::write(&p, content).unwrap();
            sources.push(p.to_str().unwrap().to_string());
        }
        let dest = format!("::{dest_dir}/");
        let mut args = vec!["-i", self.img()];
        args.extend(sources.iter().map(String::as_str));
        args.push(&dest);
        run("mcopy", &args);
    }

    /// `mlabel ::LABEL` (mtools writes the root entry upper case and leaves
    /// the boot sector's label as it was).
    pub fn mlabel(&self, label: &str) {
        run("mlabel", &["-i", self.img(), &format!("::{label}")]);
    }

    /// `mdel ::/path`.
    pub fn delete(&self, path: &str) {
        run("mdel", &["-i", self.img(), &format!("::{path}")]);
    }

    /// The cluster runs `mshowfat` reports, e.g. `[(22, 41), (62, 100)]`.
    pub fn cluster_runs(&self, path: &str) -> Vec<(u32, u32)> {
        let out = run("mshowfat", &["-i", self.img(), &format!("::{path}")]);
        out.split('<')
            .skip(1)
            .map(|run| {
                let run = run.split('>').next().unwrap();
                let mut ends = run.split('-').map(|n| n.trim().parse::<u32>().unwrap());
                let first = ends.next().unwrap();
                (first, ends.next().unwrap_or(first))
            })
            .collect()
    }

    /// `blkid -p -o export` (low-level probe: no cache is read or written).
    pub fn blkid(&self) -> BTreeMap<String, String> {
        run("blkid", &["-p", "-o", "export", self.img()])
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.replace("\\ ", " ")))
            .collect()
    }

    pub fn bytes(&self) -> Vec<u8> {
        fs::read(&self.path).unwrap()
    }

    pub fn write_bytes(&self, bytes: &[u8]) {
        fs::write(&self.path, bytes).unwrap();
    }

    pub fn open(&self) -> Vfat<fs::File> {
        Vfat::open(fs::File::open(&self.path).unwrap()).expect("opening the image")
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Deterministic pseudo-random bytes (xorshift64*), so failures reproduce.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// Where things are in a FAT image, worked out independently of the reader
/// under test, for tests that damage an image on purpose.
pub struct Layout {
    pub bytes_per_sector: u64,
    pub cluster_bytes: u64,
    pub fat_offset: u64,
    pub root_offset: u64,
    pub data_offset: u64,
    pub fat_bits: u32,
}

impl Layout {
    pub fn of(img: &[u8]) -> Layout {
        let le16 = |at: usize| u64::from(u16::from_le_bytes([img[at], img[at + 1]]));
        let le32 = |at: usize| {
            u64::from(u32::from_le_bytes([
                img[at],
                img[at + 1],
                img[at + 2],
                img[at + 3],
            ]))
        };
        let bps = le16(11);
        let spc = u64::from(img[13]);
        let reserved = le16(14);
        let fats = u64::from(img[16]);
        let root_entries = le16(17);
        let total = if le16(19) != 0 { le16(19) } else { le32(32) };
        let fat_sectors = if le16(22) != 0 { le16(22) } else { le32(36) };
        let root_sector = reserved + fats * fat_sectors;
        let data_sector = root_sector + (root_entries * 32).div_ceil(bps);
        let clusters = (total - data_sector) / spc;
        let fat_bits = if le16(22) == 0 {
            32
        } else if clusters < 4085 {
            12
        } else {
            16
        };
        Layout {
            bytes_per_sector: bps,
            cluster_bytes: bps * spc,
            fat_offset: reserved * bps,
            root_offset: root_sector * bps,
            data_offset: data_sector * bps,
            fat_bits,
        }
    }

    pub fn cluster_offset(&self, cluster: u32) -> usize {
        (self.data_offset + u64::from(cluster - 2) * self.cluster_bytes) as usize
    }

    /// Sets `cluster`'s entry in the first FAT (the one Linux reads).
    pub fn set_fat(&self, img: &mut [u8], cluster: u32, value: u32) {
        let fat = self.fat_offset as usize;
        match self.fat_bits {
            12 => {
                let at = fat + cluster as usize * 3 / 2;
                let old = u16::from_le_bytes([img[at], img[at + 1]]);
                let new = if cluster % 2 == 1 {
                    (old & 0x000F) | ((value as u16) << 4)
                } else {
                    (old & 0xF000) | (value as u16 & 0x0FFF)
                };
                img[at..at + 2].copy_from_slice(&new.to_le_bytes());
            }
            16 => {
                let at = fat + cluster as usize * 2;
                img[at..at + 2].copy_from_slice(&(value as u16).to_le_bytes());
            }
            _ => {
                let at = fat + cluster as usize * 4;
                img[at..at + 4].copy_from_slice(&value.to_le_bytes());
            }
        }
    }

    /// The offset of the short entry named `name11` in the directory
    /// cluster `cluster` (or the fixed root when `cluster` is 0).
    pub fn find_entry(&self, img: &[u8], cluster: u32, name11: &[u8; 11]) -> usize {
        let (start, len) = if cluster == 0 {
            (
                self.root_offset as usize,
                (self.data_offset - self.root_offset) as usize,
            )
        } else {
            (self.cluster_offset(cluster), self.cluster_bytes as usize)
        };
        (start..start + len)
            .step_by(32)
            .find(|&at| &img[at..at + 11] == name11 && img[at + 11] != 0x0F)
            .unwrap_or_else(|| panic!("no entry {:?}", String::from_utf8_lossy(name11)))
    }
}
