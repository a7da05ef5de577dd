//! The FAT reader against images made by the real tools (`mkfs.vfat`,
//! `mtools`), labels checked against `blkid`, and damaged images (crafted
//! and seeded-random) that must give errors, never panics or hangs.

mod vfat_common;

use std::io;
use std::time::{Duration, Instant};

use cloudboot::blockfs::vfat::{self, FatType, Vfat};
use cloudboot::blockfs::{Filesystem, FsError, ReadAt};
use vfat_common::{Image, Layout, Rng};

const MIB: u64 = 1 << 20;

/// A borrowed image, so the fuzz loops need not copy it for each try.
struct Borrowed<'a>(&'a [u8]);

impl ReadAt for Borrowed<'_> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read_at(offset, buf)
    }

    fn size(&self) -> u64 {
        self.0.len() as u64
    }
}

/// A device that claims its full size but whose reads stop at `cut`, like
/// a block device whose backing file was cut short.
struct ShortReads<'a> {
    data: &'a [u8],
    cut: usize,
}

impl ReadAt for ShortReads<'_> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.data[..self.cut].read_at(offset, buf)
    }

    fn size(&self) -> u64 {
        self.data.len() as u64
    }
}

fn sorted_names(fs: &dyn Filesystem, path: &str) -> Vec<String> {
    let mut names: Vec<String> = fs
        .list_dir(path)
        .unwrap_or_else(|e| panic!("listing {path}: {e}"))
        .into_iter()
        .map(|e| e.name)
        .collect();
    names.sort();
    names
}

fn read(fs: &dyn Filesystem, path: &str) -> Vec<u8> {
    fs.read_file(path, 64 * MIB)
        .unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

fn corrupt_message<T: std::fmt::Debug>(r: Result<T, FsError>) -> String {
    match r {
        Err(FsError::Corrupt(m)) => m,
        other => panic!("expected a Corrupt error, got {other:?}"),
    }
}

const META_DATA: &[u8] = b"instance-id: iid-local01\nlocal-hostname: cloudimg\n";
const USER_DATA: &[u8] = b"#cloud-config\npassword: passw0rd\nchpasswd: { expire: False }\n";
const NETWORK_CONFIG: &[u8] = b"version: 2\nethernets:\n  eth0:\n    dhcp4: true\n";
const VENDOR_DATA: &[u8] = b"#cloud-config\nruncmd: [echo vendor]\n";

#[test]
fn nocloud_seed_on_fat12() {
    let img = Image::new(2 * MIB, &["-n", "cidata"]);
    img.put("/meta-data", META_DATA);
    img.put("/user-data", USER_DATA);
    img.put("/network-config", NETWORK_CONFIG);
    img.put("/vendor-data", VENDOR_DATA);
    let fs = img.open();
    assert_eq!(fs.fat_type(), FatType::Fat12);
    assert_eq!(fs.fs_type(), "vfat");
    assert_eq!(fs.label(), "cidata");
    let mut listing = fs.list_dir("/").unwrap();
    listing.sort_by(|a, b| a.name.cmp(&b.name));
    let got: Vec<(&str, bool, u64)> = listing
        .iter()
        .map(|e| (e.name.as_str(), e.is_dir, e.size))
        .collect();
    assert_eq!(
        got,
        [
            ("meta-data", false, META_DATA.len() as u64),
            ("network-config", false, NETWORK_CONFIG.len() as u64),
            ("user-data", false, USER_DATA.len() as u64),
            ("vendor-data", false, VENDOR_DATA.len() as u64),
        ]
    );
    assert_eq!(read(&fs, "/meta-data"), META_DATA);
    assert_eq!(read(&fs, "user-data"), USER_DATA);
    assert_eq!(read(&fs, "/network-config"), NETWORK_CONFIG);
    assert_eq!(read(&fs, "/vendor-data"), VENDOR_DATA);
    assert!(matches!(
        fs.read_file("/meta-data", 10),
        Err(FsError::TooLarge(_))
    ));
}

/// Every way the labels get written, against what blkid reports.
#[test]
fn labels_match_blkid() {
    struct Case {
        size: u64,
        mkfs: &'static [&'static str],
        mlabel: Option<&'static str>,
        drop_root_label: bool,
        fat: FatType,
    }
    let case = |size, mkfs, fat| Case {
        size,
        mkfs,
        mlabel: None,
        drop_root_label: false,
        fat,
    };
    let cases = [
        case(2 * MIB, &["-n", "cidata"], FatType::Fat12),
        case(2 * MIB, &["-n", "CIDATA"], FatType::Fat12),
        case(2 * MIB, &["-n", "config-2"], FatType::Fat12),
        case(32 * MIB, &["-F", "16", "-n", "CONFIG-2"], FatType::Fat16),
        case(32 * MIB, &["-F", "16", "-n", "cidata"], FatType::Fat16),
        case(64 * MIB, &["-F", "32", "-n", "config-2"], FatType::Fat32),
        case(64 * MIB, &["-F", "32", "-n", "CIDATA"], FatType::Fat32),
        case(2 * MIB, &[], FatType::Fat12),
        case(64 * MIB, &["-F", "32"], FatType::Fat32),
        Case {
            mlabel: Some("cidata"),
            ..case(2 * MIB, &["-n", "cidata"], FatType::Fat12)
        },
        Case {
            mlabel: Some("config-2"),
            ..case(64 * MIB, &["-F", "32", "-n", "config-2"], FatType::Fat32)
        },
        Case {
            drop_root_label: true,
            ..case(2 * MIB, &["-n", "config-2"], FatType::Fat12)
        },
        Case {
            drop_root_label: true,
            ..case(64 * MIB, &["-F", "32", "-n", "cidata"], FatType::Fat32)
        },
    ];
    for c in cases {
        let what = format!(
            "mkfs.vfat {:?}, mlabel {:?}, root label dropped: {}",
            c.mkfs, c.mlabel, c.drop_root_label
        );
        let img = Image::new(c.size, c.mkfs);
        // Some files first, so the label is not the only root entry.
        img.put("/meta-data", META_DATA);
        if let Some(label) = c.mlabel {
            img.mlabel(label);
        }
        if c.drop_root_label {
            let mut bytes = img.bytes();
            let layout = Layout::of(&bytes);
            let root_cluster = if layout.fat_bits == 32 {
                u32::from_le_bytes(bytes[44..48].try_into().unwrap())
            } else {
                0
            };
            let label_field = if layout.fat_bits == 32 { 71 } else { 43 };
            let label: [u8; 11] = bytes[label_field..label_field + 11].try_into().unwrap();
            let at = layout.find_entry(&bytes, root_cluster, &label);
            bytes[at] = 0xE5;
            img.write_bytes(&bytes);
        }
        let blkid = img.blkid();
        assert_eq!(
            blkid.get("TYPE").map(String::as_str),
            Some("vfat"),
            "{what}"
        );
        let file = std::fs::File::open(img.path()).unwrap();
        let labels = vfat::probe_labels(&file).unwrap_or_else(|| panic!("{what}: not FAT?"));
        assert_eq!(labels.label.as_ref(), blkid.get("LABEL"), "{what}: LABEL");
        assert_eq!(
            labels.boot_label.as_ref(),
            blkid.get("LABEL_FATBOOT"),
            "{what}: LABEL_FATBOOT"
        );
        let expected = blkid.get("LABEL").or(blkid.get("LABEL_FATBOOT"));
        assert_eq!(vfat::probe_label(&file).as_ref(), expected, "{what}");
        let fs = img.open();
        assert_eq!(fs.label(), expected.map_or("", String::as_str), "{what}");
        assert_eq!(fs.fat_type(), c.fat, "{what}");
        let version = match c.fat {
            FatType::Fat12 => "FAT12",
            FatType::Fat16 => "FAT16",
            FatType::Fat32 => "FAT32",
        };
        assert_eq!(
            blkid.get("VERSION").map(String::as_str),
            Some(version),
            "{what}"
        );
        assert_eq!(read(&fs, "/meta-data"), META_DATA, "{what}");
    }
}

fn build_config_drive(img: &Image) -> Vec<(&'static str, Vec<u8>)> {
    img.mkdir(&[
        "/openstack",
        "/openstack/2012-08-10",
        "/openstack/latest",
        "/openstack/content",
        "/ec2",
        "/ec2/latest",
    ]);
    let meta = br#"{"uuid": "83679162-1378-4288-a2d4-70e13ec132aa", "hostname": "test.novalocal", "network_config": {"content_path": "/content/0000"}}"#;
    let files: Vec<(&'static str, Vec<u8>)> = vec![
        ("/openstack/latest/meta_data.json", meta.to_vec()),
        ("/openstack/2012-08-10/meta_data.json", meta.to_vec()),
        ("/openstack/latest/user_data", USER_DATA.to_vec()),
        ("/openstack/latest/vendor_data.json", b"{}".to_vec()),
        (
            "/openstack/latest/vendor_data2.json",
            br#"{"static": {}}"#.to_vec(),
        ),
        (
            "/openstack/latest/network_data.json",
            br#"{"links": [], "networks": [], "services": []}"#.to_vec(),
        ),
        (
            "/openstack/content/0000",
            b"auto lo\niface lo inet loopback\n".to_vec(),
        ),
        (
            "/ec2/latest/meta-data.json",
            br#"{"instance-id": "i-00000001"}"#.to_vec(),
        ),
    ];
    for (path, content) in &files {
        img.put(path, content);
    }
    files
}

fn check_config_drive(fs: &dyn Filesystem, files: &[(&str, Vec<u8>)]) {
    assert_eq!(sorted_names(fs, "/"), ["ec2", "openstack"]);
    assert_eq!(
        sorted_names(fs, "/openstack"),
        ["2012-08-10", "content", "latest"]
    );
    assert!(fs.list_dir("/openstack").unwrap().iter().all(|e| e.is_dir));
    assert_eq!(
        sorted_names(fs, "/openstack/latest"),
        [
            "meta_data.json",
            "network_data.json",
            "user_data",
            "vendor_data.json",
            "vendor_data2.json"
        ]
    );
    for (path, content) in files {
        assert_eq!(&read(fs, path), content, "{path}");
    }
    // Lookups ignore case, as a vfat mount does.
    assert_eq!(
        read(fs, "/OpenStack/LATEST/Meta_Data.JSON"),
        files[0].1,
        "case-insensitive lookup"
    );
    assert!(matches!(
        fs.read_file("/openstack/2018-08-27/meta_data.json", MIB),
        Err(FsError::NotFound(p)) if p == "/openstack/2018-08-27"
    ));
    assert!(matches!(
        fs.read_file("/openstack/latest", MIB),
        Err(FsError::IsADirectory(p)) if p == "/openstack/latest"
    ));
    assert!(matches!(
        fs.list_dir("/openstack/latest/user_data/x"),
        Err(FsError::NotADirectory(p)) if p == "/openstack/latest/user_data"
    ));
}

#[test]
fn config_drive_on_fat12_fat16_fat32() {
    for (size, mkfs, fat) in [
        (2 * MIB, &["-n", "config-2"][..], FatType::Fat12),
        (
            32 * MIB,
            &["-F", "16", "-n", "config-2"][..],
            FatType::Fat16,
        ),
        (
            64 * MIB,
            &["-F", "32", "-n", "config-2"][..],
            FatType::Fat32,
        ),
    ] {
        let img = Image::new(size, mkfs);
        let files = build_config_drive(&img);
        let fs = img.open();
        assert_eq!(fs.fat_type(), fat, "{mkfs:?}");
        assert_eq!(fs.label(), "config-2");
        check_config_drive(&fs, &files);
    }
}

/// `mkfs.vfat -F 32` on a small image makes a FAT32 with fewer clusters
/// than Microsoft's rule allows (it would call it FAT12); Linux and blkid go
/// by the layout and call it FAT32, and so must we. mtools goes by the
/// count and cannot write to it, so one file is put in by hand.
#[test]
fn small_fat32_is_fat32() {
    let img = Image::new(2 * MIB, &["-F", "32", "-n", "config-2"]);
    assert_eq!(
        img.blkid().get("VERSION").map(String::as_str),
        Some("FAT32")
    );
    let mut bytes = img.bytes();
    let layout = Layout::of(&bytes);
    assert_eq!(layout.fat_bits, 32);
    let root = u32::from_le_bytes(bytes[44..48].try_into().unwrap());
    let file_cluster = root + 1;
    let slot = (layout.cluster_offset(root)..)
        .step_by(32)
        .find(|&at| bytes[at] == 0)
        .unwrap();
    let entry = &mut bytes[slot..slot + 32];
    entry[..11].copy_from_slice(b"USERDATA   ");
    entry[11] = 0x20;
    entry[12] = 0x08; // shown lower case
    entry[26..28].copy_from_slice(&(file_cluster as u16).to_le_bytes());
    entry[28..32].copy_from_slice(&(USER_DATA.len() as u32).to_le_bytes());
    layout.set_fat(&mut bytes, file_cluster, 0x0FFF_FFFF);
    let data = layout.cluster_offset(file_cluster);
    bytes[data..data + USER_DATA.len()].copy_from_slice(USER_DATA);
    img.write_bytes(&bytes);

    let fs = img.open();
    assert_eq!(fs.fat_type(), FatType::Fat32);
    assert_eq!(fs.label(), "config-2");
    assert_eq!(sorted_names(&fs, "/"), ["userdata"]);
    assert_eq!(read(&fs, "/UserData"), USER_DATA);
}

#[test]
fn multi_cluster_files_byte_for_byte() {
    for (size, mkfs) in [
        (2 * MIB, &["-n", "cidata"][..]),
        (32 * MIB, &["-F", "16"][..]),
        (64 * MIB, &["-F", "32"][..]),
    ] {
        let img = Image::new(size, mkfs);
        let mut rng = Rng::new(size);
        let big = rng.bytes(MIB as usize);
        img.put("/big.bin", &big);
        let fs = img.open();
        let cluster = fs.cluster_size() as usize;
        // Sizes around cluster boundaries, and an empty file.
        let edges = [0, 1, cluster - 1, cluster, cluster + 1, 3 * cluster];
        for len in edges {
            img.put(&format!("/edge-{len}"), &big[..len]);
        }
        let fs = img.open();
        let runs = img.cluster_runs("/big.bin");
        let clusters: u32 = runs.iter().map(|(a, b)| b - a + 1).sum();
        assert!(clusters > 1, "{mkfs:?}: {runs:?}");
        assert!(read(&fs, "/big.bin") == big, "{mkfs:?}: 1 MiB differs");
        for len in edges {
            assert!(
                read(&fs, &format!("/edge-{len}")) == big[..len],
                "{mkfs:?}: {len} bytes"
            );
        }
        assert!(matches!(
            fs.read_file("/big.bin", MIB - 1),
            Err(FsError::TooLarge(_))
        ));
    }
}

/// FAT32 keeps a "next free cluster" hint in its FSInfo sector, and
/// mtools allocates from it, past any hole; "unknown" makes it search from
/// the start like FAT12/16.
fn forget_next_free_hint(img: &Image) {
    let mut bytes = img.bytes();
    let layout = Layout::of(&bytes);
    if layout.fat_bits != 32 {
        return;
    }
    let fsinfo_sector = u64::from(u16::from_le_bytes([bytes[48], bytes[49]]));
    let at = (fsinfo_sector * layout.bytes_per_sector) as usize + 492;
    bytes[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    img.write_bytes(&bytes);
}

#[test]
fn fragmented_files() {
    for (size, mkfs) in [
        (2 * MIB, &["-s", "1"][..]),
        (32 * MIB, &["-F", "16", "-s", "1"][..]),
        (64 * MIB, &["-F", "32", "-s", "1"][..]),
    ] {
        let img = Image::new(size, mkfs);
        let mut rng = Rng::new(7);
        let small = rng.bytes(10_000);
        let big = rng.bytes(30_000);
        // Free a hole between two files, then write a file bigger than
        // the hole: it fills the hole and continues after the last file.
        img.put("/a", &small);
        img.put("/b", &small);
        img.put("/c", &small);
        img.delete("/b");
        forget_next_free_hint(&img);
        img.put("/fragmented.bin", &big);
        let runs = img.cluster_runs("/fragmented.bin");
        assert!(runs.len() >= 2, "{mkfs:?}: not fragmented: {runs:?}");
        let fs = img.open();
        assert!(read(&fs, "/fragmented.bin") == big, "{mkfs:?}");
        assert!(read(&fs, "/c") == small, "{mkfs:?}");
    }
}

#[test]
fn many_files_in_one_directory() {
    let files: Vec<(String, Vec<u8>)> = (0..300)
        .map(|i| {
            (
                format!("instance-file-{i:03}.json"),
                format!("{{\"n\": {i}}}").into_bytes(),
            )
        })
        .collect();
    let mut expected: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    expected.sort();

    // A subdirectory on FAT12 and FAT16, the root itself on FAT32 (whose
    // root is a cluster chain too).
    for (size, mkfs, dir) in [
        (2 * MIB, &["-n", "cidata"][..], "/many"),
        (32 * MIB, &["-F", "16"][..], "/many"),
        (64 * MIB, &["-F", "32", "-n", "cidata"][..], ""),
    ] {
        let img = Image::new(size, mkfs);
        if !dir.is_empty() {
            img.mkdir(&[dir]);
        }
        img.put_many(dir, &files);
        let shown = if dir.is_empty() { "/" } else { dir };
        let runs = img.cluster_runs(shown);
        let clusters: u32 = runs.iter().map(|(a, b)| b - a + 1).sum();
        assert!(clusters > 1, "{mkfs:?}: directory in one cluster: {runs:?}");
        let fs = img.open();
        assert_eq!(sorted_names(&fs, shown), expected, "{mkfs:?}");
        for i in [0, 150, 299] {
            let (name, content) = &files[i];
            assert_eq!(&read(&fs, &format!("{dir}/{name}")), content);
        }
        if mkfs.contains(&"cidata") {
            assert_eq!(fs.label(), "cidata");
        }
    }
}

#[test]
fn long_and_mixed_case_names() {
    let img = Image::new(2 * MIB, &["-n", "cidata"]);
    let names = [
        "Mixed.Txt",
        "UPPER.TXT",
        "lower.txt",
        "CamelCaseName.json",
        "network-config",
        "meta_data.json",
        "vendor_data2.json",
        "a name with spaces.yaml",
        "über-data.txt",
        "x",
        "0000",
    ];
    for name in names {
        img.put(&format!("/{name}"), name.as_bytes());
    }
    img.mkdir(&["/Latest", "/UPPERDIR", "/lowerdir"]);
    let fs = img.open();
    let mut expected: Vec<String> = names
        .iter()
        .map(|n| n.to_string())
        .chain(["Latest", "UPPERDIR", "lowerdir"].map(String::from))
        .collect();
    expected.sort();
    assert_eq!(sorted_names(&fs, "/"), expected);
    for name in names {
        assert_eq!(read(&fs, &format!("/{name}")), name.as_bytes(), "{name}");
        assert_eq!(
            read(&fs, &format!("/{}", name.to_uppercase())),
            name.as_bytes(),
            "{name} upper case"
        );
        assert_eq!(
            read(&fs, &format!("/{}", name.to_lowercase())),
            name.as_bytes(),
            "{name} lower case"
        );
    }
    assert!(fs.list_dir("/latest").unwrap().is_empty());
    assert!(fs.list_dir("/upperdir").unwrap().is_empty());
}

#[test]
fn nested_subdirectories() {
    let img = Image::new(2 * MIB, &["-n", "cidata"]);
    img.mkdir(&["/a", "/a/b", "/a/b/c", "/a/b/c/deeper-directory", "/a/e"]);
    img.put("/a/b/c/deeper-directory/file.txt", b"deep");
    img.put("/a/top.txt", b"top");
    let fs = img.open();
    assert_eq!(sorted_names(&fs, "/a"), ["b", "e", "top.txt"]);
    let a = fs.list_dir("/a").unwrap();
    assert!(a.iter().find(|e| e.name == "b").unwrap().is_dir);
    assert!(!a.iter().find(|e| e.name == "top.txt").unwrap().is_dir);
    assert_eq!(sorted_names(&fs, "/a/b"), ["c"]);
    assert_eq!(sorted_names(&fs, "/a/b/c"), ["deeper-directory"]);
    assert_eq!(read(&fs, "/a/b/c/deeper-directory/file.txt"), b"deep");
    assert_eq!(
        read(&fs, "a//b/./c/../c/deeper-directory/file.txt"),
        b"deep"
    );
    assert_eq!(read(&fs, "/a/b/../top.txt"), b"top");
    assert!(fs.list_dir("/a/e").unwrap().is_empty());
    assert!(matches!(
        fs.list_dir("/a/nothing"),
        Err(FsError::NotFound(p)) if p == "/a/nothing"
    ));
}

/// A multi-cluster file whose FAT is then damaged in the three ways a
/// chain can go wrong, on each FAT width.
#[test]
fn damaged_cluster_chains_in_real_images() {
    for (size, mkfs) in [
        (2 * MIB, &["-s", "1"][..]),
        (32 * MIB, &["-F", "16", "-s", "1"][..]),
        (64 * MIB, &["-F", "32", "-s", "1"][..]),
    ] {
        let img = Image::new(size, mkfs);
        let content = Rng::new(3).bytes(10 * 512);
        img.put("/user-data", &content);
        let runs = img.cluster_runs("/user-data");
        assert_eq!(runs.len(), 1, "{runs:?}");
        let (first, last) = runs[0];
        let pristine = img.bytes();
        let layout = Layout::of(&pristine);

        // A loop: the fifth cluster links back to the second.
        let mut bytes = pristine.clone();
        layout.set_fat(&mut bytes, first + 4, first + 1);
        let fs = Vfat::open(bytes).unwrap();
        let m = corrupt_message(fs.read_file("/user-data", MIB));
        assert!(
            m.contains(&format!("loops back to cluster {}", first + 1)),
            "{mkfs:?}: {m}"
        );

        // A link out of the volume.
        let mut bytes = pristine.clone();
        let outside = match layout.fat_bits {
            12 => 0xFF0,
            16 => 0xFFF0,
            _ => 0x0FFF_FFF0,
        };
        layout.set_fat(&mut bytes, first + 2, outside);
        let fs = Vfat::open(bytes).unwrap();
        let m = corrupt_message(fs.read_file("/user-data", MIB));
        assert!(
            m.contains(&format!(
                "cluster {} points to cluster {outside}",
                first + 2
            )),
            "{mkfs:?}: {m}"
        );

        // A chain that goes on past the file's size.
        let mut bytes = pristine.clone();
        layout.set_fat(&mut bytes, last, last + 1);
        layout.set_fat(&mut bytes, last + 1, 0x0FFF_FFFF);
        let fs = Vfat::open(bytes).unwrap();
        let m = corrupt_message(fs.read_file("/user-data", MIB));
        assert!(
            m.contains(&format!("cluster {last} links on to {}", last + 1)),
            "{mkfs:?}: {m}"
        );

        // A chain cut short by an end marker.
        let mut bytes = pristine.clone();
        layout.set_fat(&mut bytes, first + 3, 0x0FFF_FFFF);
        let fs = Vfat::open(bytes).unwrap();
        let m = corrupt_message(fs.read_file("/user-data", MIB));
        assert!(
            m.contains(&format!("ends at cluster {}", first + 3)),
            "{mkfs:?}: {m}"
        );
    }
}

#[test]
fn directory_that_contains_itself() {
    for (size, mkfs) in [(2 * MIB, &[][..]), (64 * MIB, &["-F", "32"][..])] {
        let img = Image::new(size, mkfs);
        img.mkdir(&["/a", "/a/b"]);
        let a = img.cluster_runs("/a")[0].0;
        let mut bytes = img.bytes();
        let layout = Layout::of(&bytes);
        // Point /a/b back at /a.
        let at = layout.find_entry(&bytes, a, b"B          ");
        bytes[at + 20..at + 22].copy_from_slice(&((a >> 16) as u16).to_le_bytes());
        bytes[at + 26..at + 28].copy_from_slice(&(a as u16).to_le_bytes());
        let fs = Vfat::open(bytes).unwrap();
        assert_eq!(sorted_names(&fs, "/a"), ["b"]);
        let m = corrupt_message(fs.list_dir("/a/b"));
        assert!(m.contains("directory loop"), "{m}");
        let m = corrupt_message(fs.read_file("/a/b/b/b/x", MIB));
        assert!(m.contains("directory loop"), "{m}");
    }
}

#[test]
fn absurd_boot_sectors() {
    let img = Image::new(2 * MIB, &["-n", "cidata"]);
    img.put("/meta-data", META_DATA);
    let pristine = img.bytes();
    let open = |patch: &dyn Fn(&mut Vec<u8>)| {
        let mut bytes = pristine.clone();
        patch(&mut bytes);
        Vfat::open(bytes).err()
    };
    let is_not_fat = |e: Option<FsError>| matches!(e, Some(FsError::NotThisFs("vfat")));
    let is_corrupt = |e: Option<FsError>| matches!(e, Some(FsError::Corrupt(_)));
    assert!(open(&|_| {}).is_none());
    // Not FAT at all: blank, or an ISO9660-like empty first sector.
    assert!(is_not_fat(open(&|b| b.fill(0))));
    assert!(is_not_fat(open(&|b| b.truncate(511))));
    // Sector size, cluster size, reserved sectors, FAT count, media.
    assert!(is_not_fat(open(
        &|b| b[11..13].copy_from_slice(&3u16.to_le_bytes())
    )));
    assert!(is_not_fat(open(
        &|b| b[11..13].copy_from_slice(&256u16.to_le_bytes())
    )));
    assert!(is_not_fat(open(&|b| b[13] = 0)));
    assert!(is_not_fat(open(&|b| b[13] = 6)));
    assert!(is_not_fat(open(&|b| b[14..16].fill(0))));
    assert!(is_not_fat(open(&|b| b[16] = 0)));
    assert!(is_not_fat(open(&|b| b[21] = 0)));
    // FAT, but numbers that do not add up.
    let huge = |b: &mut Vec<u8>| {
        b[19..21].fill(0);
        b[32..36].copy_from_slice(&u32::MAX.to_le_bytes());
    };
    let m = corrupt_message(Vfat::open({
        let mut b = pristine.clone();
        huge(&mut b);
        b
    }));
    assert!(m.contains("truncated"), "{m}");
    assert!(is_corrupt(open(
        &|b| b[22..24].copy_from_slice(&0xFFFFu16.to_le_bytes())
    )));
    assert!(is_corrupt(open(&|b| b[17..19].fill(0))));
    assert!(is_corrupt(open(&|b| b[17..19].fill(0xFF))));
    assert!(is_corrupt(open(&|b| {
        b[22..24].fill(0);
        b[36..40].fill(0);
    })));
    // And the label probe says "not FAT" rather than guessing.
    assert_eq!(vfat::probe_label(&Borrowed(&pristine[..300])), None);
    assert_eq!(
        vfat::probe_label(&Borrowed(&pristine)).as_deref(),
        Some("cidata")
    );
}

/// Lists and reads everything reachable, within bounds, ignoring errors;
/// checks that names are safe to join onto a path.
fn walk(fs: &dyn Filesystem, path: &str, depth: usize, budget: &mut usize) {
    if depth > 6 || *budget == 0 {
        return;
    }
    let Ok(entries) = fs.list_dir(path) else {
        return;
    };
    for entry in entries {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        assert!(
            !entry.name.is_empty()
                && entry.name != "."
                && entry.name != ".."
                && !entry.name.contains('/'),
            "unsafe name {:?}",
            entry.name
        );
        let child = format!("{}/{}", path.trim_end_matches('/'), entry.name);
        if entry.is_dir {
            walk(fs, &child, depth + 1, budget);
        } else {
            let _ = fs.read_file(&child, MIB);
        }
    }
}

/// A small tree with everything the reader handles: label, long names,
/// subdirectories, a multi-cluster file, a directory over several clusters.
fn fuzz_subject(size: u64, mkfs: &[&str]) -> Vec<u8> {
    let img = Image::new(size, mkfs);
    img.put("/meta-data", META_DATA);
    img.put("/user-data", USER_DATA);
    img.mkdir(&["/openstack", "/openstack/latest", "/openstack/content"]);
    img.put("/openstack/latest/meta_data.json", b"{\"uuid\": \"x\"}");
    img.put("/openstack/content/0000", &Rng::new(9).bytes(40_000));
    let files: Vec<(String, Vec<u8>)> = (0..20)
        .map(|i| (format!("Vendor_Data-{i}.json"), vec![b'v'; i * 10]))
        .collect();
    img.put_many("/openstack/latest", &files);
    img.bytes()
}

#[test]
fn seeded_byte_flips_never_panic_or_hang() {
    let started = Instant::now();
    let mut tries = 0;
    for (size, mkfs, seed) in [
        (2 * MIB, &["-s", "1", "-n", "cidata"][..], 1u64),
        (8 * MIB, &["-F", "16", "-s", "1", "-n", "cidata"][..], 2),
        // mtools cannot write a FAT32 with fewer than 65525 clusters.
        (34 * MIB, &["-F", "32", "-s", "1", "-n", "cidata"][..], 3),
    ] {
        let mut bytes = fuzz_subject(size, mkfs);
        let layout = Layout::of(&bytes);
        {
            // The undamaged image walks cleanly and reads right.
            let fs = Vfat::open(Borrowed(&bytes)).unwrap();
            let mut budget = 10_000;
            walk(&fs, "/", 0, &mut budget);
            assert_eq!(read(&fs, "/meta-data"), META_DATA);
        }
        // Most flips land in the metadata: boot sector, FATs, root and
        // the first directory clusters (allocated first, so near the start).
        let metadata_end = (layout.data_offset + 64 * 512) as usize;
        let mut rng = Rng::new(seed);
        for _ in 0..1000 {
            tries += 1;
            let flips = 1 + rng.below(8) as usize;
            let mut changed = Vec::with_capacity(flips);
            for _ in 0..flips {
                let span = if rng.below(10) < 8 {
                    metadata_end
                } else {
                    bytes.len()
                };
                let at = rng.below(span as u64) as usize;
                let mask = (1 + rng.below(255)) as u8;
                bytes[at] ^= mask;
                changed.push((at, mask));
            }
            let one = Instant::now();
            let _ = vfat::probe_label(&Borrowed(&bytes));
            if let Ok(fs) = Vfat::open(Borrowed(&bytes)) {
                let _ = fs.label();
                let mut budget = 2_000;
                walk(&fs, "/", 0, &mut budget);
            }
            assert!(
                one.elapsed() < Duration::from_secs(5),
                "{mkfs:?} seed {seed}: one damaged image took {:?} (flips {changed:?})",
                one.elapsed()
            );
            // Undo, so each try damages the pristine image afresh.
            for (at, mask) in changed.into_iter().rev() {
                bytes[at] ^= mask;
            }
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "{tries} damaged images took {:?}",
        started.elapsed()
    );
}

#[test]
fn truncated_images_give_errors() {
    for (size, mkfs) in [
        (2 * MIB, &["-s", "1", "-n", "cidata"][..]),
        (34 * MIB, &["-F", "32", "-s", "1", "-n", "cidata"][..]),
    ] {
        let bytes = fuzz_subject(size, mkfs);
        let pristine = Vfat::open(Borrowed(&bytes)).unwrap();
        let expected = read(&pristine, "/openstack/content/0000");
        // Every 64 bytes through the metadata, then 500-odd cuts through
        // the rest.
        let layout = Layout::of(&bytes);
        let metadata_end = (layout.data_offset + 64 * 512) as usize;
        let cuts = (0..metadata_end)
            .step_by(64)
            .chain((metadata_end..bytes.len()).step_by((bytes.len() / 512).max(4096)));
        for cut in cuts {
            // A short image: the boot sector's size no longer fits.
            match Vfat::open(Borrowed(&bytes[..cut])) {
                Err(FsError::NotThisFs(_)) if cut < 512 => {}
                Err(FsError::Corrupt(_)) if cut >= 512 => {}
                Err(e) => panic!("cut at {cut}: unexpected {e}"),
                Ok(_) => panic!("cut at {cut}: a truncated image opened"),
            }
            let _ = vfat::probe_label(&Borrowed(&bytes[..cut]));
            // A device that claims the full size but cannot deliver it.
            let short = ShortReads { data: &bytes, cut };
            if let Ok(fs) = Vfat::open(short) {
                let mut budget = 2_000;
                walk(&fs, "/", 0, &mut budget);
                match fs.read_file("/openstack/content/0000", MIB) {
                    Ok(got) => assert!(got == expected, "cut at {cut}: wrong bytes"),
                    Err(FsError::Corrupt(m)) => assert!(
                        m.contains("image ends") || m.contains("past the end"),
                        "cut at {cut}: {m}"
                    ),
                    Err(e) => panic!("cut at {cut}: {e}"),
                }
            }
        }
    }
}
