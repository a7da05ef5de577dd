//! Real ISO images for the ISO9660 reader's tests, built at test time by
//! `genisoimage` (as nova builds config drives and `cloud-localds` builds
//! NoCloud seeds), plus a seeded random source and a bounded tree walker.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use cloudboot::blockfs::{Filesystem, FsError};

const MISSING: &str = "genisoimage is not installed: these tests build real ISO images with it; \
     install it with `apt-get install genisoimage` (it also provides isoinfo and mkzftree)";

/// A tool from the genisoimage package, or a failure saying to install it.
pub fn tool(name: &str) -> PathBuf {
    let dirs = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&dirs)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")])
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("{name} not found. {MISSING}"))
}

/// A source tree in a temporary directory, and the images built from it.
pub struct Tree {
    pub dir: tempfile::TempDir,
}

impl Tree {
    pub fn new() -> Tree {
        let tree = Tree {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        fs::create_dir(tree.src()).unwrap();
        tree
    }

    /// The directory the image is made of.
    pub fn src(&self) -> PathBuf {
        self.dir.path().join("src")
    }

    pub fn file(&self, path: &str, content: &[u8]) -> &Tree {
        let p = self.src().join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
        self
    }

    pub fn dir(&self, path: &str) -> &Tree {
        fs::create_dir_all(self.src().join(path)).unwrap();
        self
    }

    pub fn symlink(&self, path: &str, target: &str) -> &Tree {
        let p = self.src().join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        symlink(target, p).unwrap();
        self
    }

    /// `genisoimage -quiet -output <name> <args> src`; the image's path.
    pub fn build(&self, name: &str, args: &[&str]) -> PathBuf {
        self.build_from(name, args, &self.src())
    }

    pub fn build_from(&self, name: &str, args: &[&str], src: &Path) -> PathBuf {
        let out = self.dir.path().join(name);
        let result = Command::new(tool("genisoimage"))
            .arg("-quiet")
            .arg("-output")
            .arg(&out)
            .args(args)
            .arg(src)
            .output()
            .unwrap_or_else(|e| panic!("running genisoimage: {e}. {MISSING}"));
        assert!(
            result.status.success(),
            "genisoimage {args:?} failed: {}",
            String::from_utf8_lossy(&result.stderr)
        );
        out
    }

    /// The image's bytes.
    pub fn image(&self, name: &str, args: &[&str]) -> Vec<u8> {
        fs::read(self.build(name, args)).unwrap()
    }
}

/// splitmix64: deterministic, seedable, good enough to pick bytes.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

/// What a walk found at one path.
#[derive(Debug)]
pub enum Found {
    Dir,
    File(Vec<u8>),
    /// Listing or reading it failed.
    Error(FsError),
}

/// Lists and reads everything reachable from the root (at most `max_nodes`
/// paths, `max_depth` deep, files up to `max_bytes`): what every path gave.
pub fn walk(
    fs: &dyn Filesystem,
    max_nodes: usize,
    max_depth: usize,
    max_bytes: u64,
) -> BTreeMap<String, Found> {
    let mut found = BTreeMap::new();
    let mut queue = vec![(String::new(), 0usize)];
    while let Some((dir, depth)) = queue.pop() {
        match fs.list_dir(&dir) {
            Err(e) => {
                found.insert(dir, Found::Error(e));
            }
            Ok(entries) => {
                found.insert(dir.clone(), Found::Dir);
                for entry in entries {
                    if found.len() + queue.len() >= max_nodes {
                        return found;
                    }
                    let path = if dir.is_empty() {
                        entry.name.clone()
                    } else {
                        format!("{dir}/{}", entry.name)
                    };
                    if entry.is_dir {
                        if depth < max_depth {
                            queue.push((path, depth + 1));
                        }
                    } else {
                        let result = match fs.read_file(&path, max_bytes) {
                            Ok(data) => Found::File(data),
                            Err(e) => Found::Error(e),
                        };
                        found.insert(path, result);
                    }
                }
            }
        }
    }
    found
}

/// The tree on disk, as `walk` would see it (symlinks followed).
pub fn expected(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn visit(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(base)
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            if path.is_dir() {
                visit(base, &path, out);
            } else {
                out.insert(rel, fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    visit(root, root, &mut out);
    out
}

/// The files of a walk, with their contents.
pub fn files(found: &BTreeMap<String, Found>) -> BTreeMap<String, Vec<u8>> {
    found
        .iter()
        .filter_map(|(path, f)| match f {
            Found::File(data) => Some((path.clone(), data.clone())),
            _ => None,
        })
        .collect()
}

/// Byte offset of every directory record for a directory whose identifier
/// is `ident`, so a test can damage one on purpose.
pub fn directory_records(image: &[u8], ident: &[u8]) -> Vec<usize> {
    records(image, ident, true)
}

/// Byte offset of every directory record for a file whose identifier is
/// `ident`.
pub fn file_records(image: &[u8], ident: &[u8]) -> Vec<usize> {
    records(image, ident, false)
}

/// Records found by their identifier, the length byte before it and the
/// directory flag.
fn records(image: &[u8], ident: &[u8], dir: bool) -> Vec<usize> {
    let mut found = Vec::new();
    let mut at = 33;
    while at + ident.len() <= image.len() {
        if &image[at..at + ident.len()] == ident
            && image[at - 1] as usize == ident.len()
            && image[at - 33] as usize >= 33 + ident.len()
            && (image[at - 33 + 25] & 2 != 0) == dir
        {
            found.push(at - 33);
        }
        at += 1;
    }
    found
}

/// Sets a both-endian 32-bit field.
pub fn put_both32(image: &mut [u8], at: usize, value: u32) {
    image[at..at + 4].copy_from_slice(&value.to_le_bytes());
    image[at + 4..at + 8].copy_from_slice(&value.to_be_bytes());
}

pub fn get_le32(image: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(image[at..at + 4].try_into().unwrap())
}

/// The primary volume descriptor's root directory extent (a block number).
pub const PVD_ROOT_EXTENT: usize = 16 * 2048 + 156 + 2;
