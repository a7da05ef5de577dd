//! The ISO9660 reader against real images built by genisoimage: config
//! drives (`-J -r -V config-2`, as nova makes them), NoCloud seeds (`-J -r
//! -V cidata`, as cloud-localds makes them), Joliet only, Rock Ridge only,
//! plain ISO9660; then damaged ones (byte flips, truncation, loops).

mod iso_common;

use std::collections::BTreeMap;
use std::fs;
use std::time::{Duration, Instant};

use cloudboot::blockfs::iso9660::{probe_label, Iso9660, Names};
use cloudboot::blockfs::{DirEntry, Filesystem, FsError};
use iso_common::*;

const MB: u64 = 1 << 20;

fn names(entries: &[DirEntry]) -> Vec<String> {
    let mut names: Vec<String> = entries.iter().map(|e| e.name.clone()).collect();
    names.sort();
    names
}

fn meta_data_json(rng: &mut Rng) -> Vec<u8> {
    // Several KB, like a real one with keys and a random seed.
    let seed: String = rng
        .bytes(3000)
        .iter()
        .map(|b| char::from(b'A' + b % 26))
        .collect();
    format!(
        "{{\"uuid\": \"83679162-1378-4288-a2d4-70e13ec132aa\", \"hostname\": \"test.novalocal\", \
         \"name\": \"test\", \"launch_index\": 0, \"availability_zone\": \"nova\", \
         \"public_keys\": {{\"mykey\": \"ssh-rsa AAAAB3NzaC1yc2E mykey\"}}, \
         \"files\": [{{\"path\": \"/etc/motd\", \"content_path\": \"/content/0000\"}}], \
         \"random_seed\": \"{seed}\", \"meta\": {{\"dsmode\": \"local\"}}}}\n"
    )
    .into_bytes()
}

/// A config drive's tree, as nova writes it.
fn config_drive_tree(rng: &mut Rng) -> Tree {
    let tree = Tree::new();
    let meta = meta_data_json(rng);
    assert!(meta.len() > 3000);
    tree.file("openstack/latest/meta_data.json", &meta)
        .file(
            "openstack/latest/user_data",
            b"#cloud-config\nhostname: test\n",
        )
        .file(
            "openstack/latest/network_data.json",
            b"{\"links\": [], \"networks\": []}\n",
        )
        .file("openstack/latest/vendor_data.json", b"{}\n")
        .file("openstack/2012-08-10/meta_data.json", &meta)
        .file(
            "openstack/2012-08-10/user_data",
            b"#cloud-config\nhostname: test\n",
        )
        .file("openstack/content/0000", b"Welcome to the config drive\n")
        .file(
            "ec2/latest/meta-data.json",
            b"{\"instance-id\": \"i-00000001\"}\n",
        );
    tree
}

fn nocloud_tree() -> Tree {
    let tree = Tree::new();
    tree.file(
        "meta-data",
        b"instance-id: iid-local01\nlocal-hostname: cloudimg\n",
    )
    .file(
        "user-data",
        b"#cloud-config\npassword: passw0rd\nchpasswd: { expire: False }\n",
    )
    .file(
        "network-config",
        b"version: 2\nethernets:\n  eth0:\n    dhcp4: true\n",
    )
    .file("vendor-data", b"#cloud-config\nruncmd: [ls]\n");
    tree
}

fn open(image: Vec<u8>) -> Iso9660<Vec<u8>> {
    Iso9660::open(image).expect("opening the image")
}

/// Every file of the source tree reads back byte for byte at its path.
fn assert_same_files(fs: &dyn Filesystem, tree: &Tree) {
    let want = expected(&tree.src());
    let got = files(&walk(fs, 100_000, 64, 64 * MB));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (path, data) in &want {
        assert!(got[path] == *data, "{path} differs");
    }
}

#[test]
fn config_drive_with_joliet_and_rock_ridge_as_nova_makes_it() {
    let mut rng = Rng::new(1);
    let tree = config_drive_tree(&mut rng);
    for args in [
        // nova.virt.configdrive's genisoimage command line.
        &[
            "-ldots",
            "-allow-lowercase",
            "-allow-multidot",
            "-l",
            "-publisher",
            "OpenStack Compute 27.0.0",
            "-J",
            "-r",
            "-V",
            "config-2",
        ][..],
        &["-volid", "config-2", "-joliet", "-rock"],
    ] {
        check_config_drive(&tree, &tree.build("cd.iso", args));
    }
}

fn check_config_drive(tree: &Tree, path: &std::path::Path) {
    let image = fs::File::open(path).unwrap();
    assert_eq!(probe_label(&image).as_deref(), Some("config-2"));
    let fs = Iso9660::open(image).unwrap();
    assert_eq!(fs.label(), "config-2");
    assert_eq!(fs.fs_type(), "iso9660");
    assert_eq!(fs.names(), Names::RockRidge);

    assert_eq!(names(&fs.list_dir("").unwrap()), ["ec2", "openstack"]);
    assert_eq!(names(&fs.list_dir("/").unwrap()), ["ec2", "openstack"]);
    assert_eq!(
        names(&fs.list_dir("openstack").unwrap()),
        ["2012-08-10", "content", "latest"]
    );
    assert_eq!(
        names(&fs.list_dir("/openstack/latest/").unwrap()),
        [
            "meta_data.json",
            "network_data.json",
            "user_data",
            "vendor_data.json"
        ]
    );
    let latest = fs.list_dir("openstack/latest").unwrap();
    let meta = latest.iter().find(|e| e.name == "meta_data.json").unwrap();
    assert!(!meta.is_dir);
    let dirs = fs.list_dir("openstack").unwrap();
    assert!(dirs.iter().all(|e| e.is_dir));

    let want = fs::read(tree.src().join("openstack/latest/meta_data.json")).unwrap();
    assert_eq!(meta.size, want.len() as u64);
    assert_eq!(
        fs.read_file("openstack/latest/meta_data.json", MB).unwrap(),
        want
    );
    assert_eq!(
        fs.read_file("/openstack/2012-08-10/meta_data.json", MB)
            .unwrap(),
        want
    );
    assert_eq!(
        fs.read_file("openstack/content/0000", MB).unwrap(),
        b"Welcome to the config drive\n"
    );
    assert_eq!(
        fs.read_file("ec2/latest/meta-data.json", MB).unwrap(),
        b"{\"instance-id\": \"i-00000001\"}\n"
    );
    assert_same_files(&fs, tree);

    // Plain upper-case names are not what a Rock Ridge mount shows.
    assert!(matches!(
        fs.read_file("OPENSTAC/LATEST/META_DAT.JSO", MB),
        Err(FsError::NotFound(_))
    ));
}

#[test]
fn nocloud_seed_as_cloud_localds_makes_it() {
    let tree = nocloud_tree();
    let image = tree.image("seed.iso", &["-volid", "cidata", "-joliet", "-rock"]);
    assert_eq!(probe_label(&image).as_deref(), Some("cidata"));
    let fs = open(image);
    assert_eq!(fs.label(), "cidata");
    assert_eq!(fs.names(), Names::RockRidge);
    assert_eq!(
        names(&fs.list_dir("").unwrap()),
        ["meta-data", "network-config", "user-data", "vendor-data"]
    );
    assert_eq!(
        fs.read_file("meta-data", MB).unwrap(),
        b"instance-id: iid-local01\nlocal-hostname: cloudimg\n"
    );
    assert_same_files(&fs, &tree);
}

#[test]
fn upper_case_label_and_blank_padding() {
    let tree = nocloud_tree();
    let fs = open(tree.image("seed.iso", &["-V", "CIDATA", "-J", "-r"]));
    assert_eq!(fs.label(), "CIDATA");
    // genisoimage's default volume id.
    let fs = open(tree.image("nolabel.iso", &["-J", "-r"]));
    assert_eq!(fs.label(), "CDROM");
}

#[test]
fn joliet_only_keeps_case_and_matches_without_it() {
    let mut rng = Rng::new(2);
    let tree = config_drive_tree(&mut rng);
    tree.file("MixedCase.Txt", b"mixed\n")
        .file("noext", b"no extension\n")
        .file("README", b"readme\n")
        .file(&"j".repeat(60), b"sixty\n");
    let fs = open(tree.image("j.iso", &["-V", "config-2", "-J"]));
    assert_eq!(fs.names(), Names::Joliet);
    assert_eq!(fs.label(), "config-2");
    assert_eq!(
        names(&fs.list_dir("").unwrap()),
        [
            "MixedCase.Txt".to_string(),
            "README".to_string(),
            "ec2".to_string(),
            "j".repeat(60),
            "noext".to_string(),
            "openstack".to_string()
        ]
    );
    assert_eq!(fs.read_file("MixedCase.Txt", MB).unwrap(), b"mixed\n");
    // Joliet names are matched ignoring case, as Linux does.
    assert_eq!(fs.read_file("mixedcase.txt", MB).unwrap(), b"mixed\n");
    assert_eq!(fs.read_file("readme", MB).unwrap(), b"readme\n");
    assert_eq!(fs.read_file("NOEXT", MB).unwrap(), b"no extension\n");
    assert_same_files(&fs, &tree);
}

#[test]
fn joliet_cuts_long_names_at_64_characters() {
    let tree = Tree::new();
    let long = format!("{}.txt", "L".repeat(80));
    tree.file(&long, b"long\n");
    let fs = open(tree.image("j.iso", &["-J"]));
    assert_eq!(fs.names(), Names::Joliet);
    let listing = fs.list_dir("").unwrap();
    assert_eq!(names(&listing), ["L".repeat(64)]);
    assert_eq!(fs.read_file(&"L".repeat(64), MB).unwrap(), b"long\n");
}

#[test]
fn rock_ridge_only_keeps_long_and_mixed_case_names_exactly() {
    let tree = Tree::new();
    let long100 = format!("{}.json", "a".repeat(100));
    let long250 = format!("Long-{}", "x".repeat(245));
    assert_eq!(long250.len(), 250);
    tree.file(&long100, b"hundred\n")
        .file(&format!("dir/{long250}"), b"two hundred and fifty\n")
        .file("MixedCase.Txt", b"mixed\n")
        .file("lower.txt", b"lower\n");
    let fs = open(tree.image("r.iso", &["-V", "cidata", "-R"]));
    assert_eq!(fs.names(), Names::RockRidge);
    assert_eq!(
        names(&fs.list_dir("").unwrap()),
        ["MixedCase.Txt", long100.as_str(), "dir", "lower.txt"]
    );
    assert_eq!(names(&fs.list_dir("dir").unwrap()), [long250.as_str()]);
    assert_eq!(fs.read_file(&long100, MB).unwrap(), b"hundred\n");
    assert_eq!(
        fs.read_file(&format!("dir/{long250}"), MB).unwrap(),
        b"two hundred and fifty\n"
    );
    assert_eq!(fs.read_file("MixedCase.Txt", MB).unwrap(), b"mixed\n");
    // Rock Ridge names are exact, as on a Linux mount.
    assert!(matches!(
        fs.read_file("mixedcase.txt", MB),
        Err(FsError::NotFound(_))
    ));
    assert_same_files(&fs, &tree);
}

#[test]
fn plain_iso9660_names_are_lower_cased_8_3_names() {
    let mut rng = Rng::new(3);
    let tree = config_drive_tree(&mut rng);
    tree.file("meta-data", b"instance-id: x\n")
        .file("MixedCase.Txt", b"mixed\n")
        .file("noext", b"no extension\n");
    let fs = open(tree.image("p.iso", &["-V", "config-2"]));
    assert_eq!(fs.names(), Names::Iso9660);
    assert_eq!(fs.label(), "config-2");
    assert_eq!(
        names(&fs.list_dir("").unwrap()),
        ["ec2", "meta_dat", "mixedcas.txt", "noext", "openstac"]
    );
    assert_eq!(
        names(&fs.list_dir("openstac").unwrap()),
        ["2012_08_", "content", "latest"]
    );
    let want = fs::read(tree.src().join("openstack/latest/meta_data.json")).unwrap();
    assert_eq!(
        fs.read_file("openstac/latest/meta_dat.jso", MB).unwrap(),
        want
    );
    // Matched ignoring case, so the names as recorded work too.
    assert_eq!(
        fs.read_file("/OPENSTAC/LATEST/META_DAT.JSO;1", MB)
            .map_err(|e| e.to_string()),
        Err("/OPENSTAC/LATEST/META_DAT.JSO;1: no such file or directory".to_string())
    );
    assert_eq!(
        fs.read_file("/OPENSTAC/LATEST/META_DAT.JSO", MB).unwrap(),
        want
    );
    assert_eq!(fs.read_file("NOEXT", MB).unwrap(), b"no extension\n");
    assert_eq!(fs.read_file("meta_dat", MB).unwrap(), b"instance-id: x\n");
}

#[test]
fn plain_iso9660_level_2_names() {
    let mut rng = Rng::new(4);
    let tree = config_drive_tree(&mut rng);
    tree.file("meta-data", b"instance-id: x\n")
        .file("noext", b"no extension\n");
    let fs = open(tree.image("p2.iso", &["-V", "cidata", "-iso-level", "2"]));
    assert_eq!(fs.names(), Names::Iso9660);
    assert_eq!(
        names(&fs.list_dir("").unwrap()),
        ["ec2", "meta_data", "noext", "openstack"]
    );
    assert_eq!(
        names(&fs.list_dir("openstack").unwrap()),
        ["2012_08_10", "content", "latest"]
    );
    let want = fs::read(tree.src().join("openstack/latest/meta_data.json")).unwrap();
    assert_eq!(
        fs.read_file("openstack/latest/meta_data.json", MB).unwrap(),
        want
    );
    assert_eq!(
        fs.read_file("ec2/latest/meta_data.json", MB).unwrap(),
        b"{\"instance-id\": \"i-00000001\"}\n"
    );
}

#[test]
fn a_3_mb_file_reads_back_byte_for_byte_and_max_bytes_is_enforced() {
    let mut rng = Rng::new(5);
    let big = rng.bytes(3 * MB as usize + 12345);
    let tree = Tree::new();
    tree.file("openstack/latest/big.bin", &big)
        .file("after.txt", b"after\n");
    for args in [&["-J", "-r"][..], &["-J"], &[]] {
        let fs = open(tree.image("big.iso", args));
        let path = if args.is_empty() {
            "openstac/latest/big.bin"
        } else {
            "openstack/latest/big.bin"
        };
        let data = fs.read_file(path, 4 * MB).unwrap();
        assert!(data == big, "{args:?}: 3 MB file differs");
        assert_eq!(
            fs.read_file(path, big.len() as u64).unwrap().len(),
            big.len()
        );
        match fs.read_file(path, big.len() as u64 - 1) {
            Err(FsError::TooLarge(msg)) => {
                assert!(msg.contains("more than the limit"), "{msg}")
            }
            other => panic!("{args:?}: {other:?}"),
        }
        assert_eq!(fs.read_file("after.txt", MB).unwrap(), b"after\n");
    }
}

#[test]
fn deep_directories_relocated_by_rock_ridge_are_found_where_they_belong() {
    let tree = Tree::new();
    let deep = "a/b/c/d/e/f/g/h/i/j/k/l";
    tree.file(&format!("{deep}/file.txt"), b"deep\n")
        .file("a/b/c/d/e/f/g/sibling.txt", b"sibling\n");
    for args in [&["-R"][..], &["-J", "-r"]] {
        let fs = open(tree.image("deep.iso", args));
        assert_eq!(fs.names(), Names::RockRidge);
        assert_eq!(
            fs.read_file(&format!("{deep}/file.txt"), MB).unwrap(),
            b"deep\n"
        );
        assert_eq!(
            names(&fs.list_dir("a/b/c/d/e/f/g").unwrap()),
            ["h", "sibling.txt"]
        );
        let g = fs.list_dir("a/b/c/d/e/f/g").unwrap();
        assert!(g.iter().find(|e| e.name == "h").unwrap().is_dir);
        assert_eq!(names(&fs.list_dir("a/b/c/d/e/f/g/h/i/j/k").unwrap()), ["l"]);
        // Like a Linux mount, the relocation directory shows, and what was
        // moved into it does not.
        assert_eq!(names(&fs.list_dir("").unwrap()), ["a", "rr_moved"]);
        assert!(fs.list_dir("rr_moved").unwrap().is_empty());
        // ".." walks back up the real parents.
        assert_eq!(
            fs.read_file("a/b/c/d/e/f/g/h/i/../../sibling.txt", MB)
                .unwrap(),
            b"sibling\n"
        );
    }
}

#[test]
fn deep_directories_kept_in_place_with_d() {
    let tree = Tree::new();
    let deep = "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t";
    tree.file(&format!("{deep}/file.txt"), b"deep\n");
    for args in [&["-R", "-D"][..], &["-J", "-D"], &["-D", "-iso-level", "2"]] {
        let fs = open(tree.image("deep.iso", args));
        assert_eq!(
            fs.read_file(&format!("{deep}/file.txt"), MB).unwrap(),
            b"deep\n",
            "{args:?}"
        );
    }
}

#[test]
fn many_files_in_one_directory_span_several_sectors() {
    let tree = Tree::new();
    for i in 0..400 {
        tree.file(
            &format!("many/file-{i:03}-with-a-longer-name.txt"),
            format!("content of file {i}\n").as_bytes(),
        );
    }
    for args in [&["-J", "-r"][..], &["-J"], &["-R"]] {
        let path = tree.build("many.iso", args);
        let fs = Iso9660::open(fs::File::open(&path).unwrap()).unwrap();
        let listing = fs.list_dir("many").unwrap();
        assert_eq!(listing.len(), 400, "{args:?}");
        let dir = fs.list_dir("").unwrap();
        let many = dir.iter().find(|e| e.name == "many").unwrap();
        assert!(
            many.size > 4 * 2048,
            "{args:?}: directory of {} bytes",
            many.size
        );
        assert_same_files(&fs, &tree);
    }
    // Plain level-1 names: the first 8 characters would collide, so
    // genisoimage numbers them; all 400 are still there and readable.
    let fs = open(tree.image("many-plain.iso", &[]));
    let listing = fs.list_dir("many").unwrap();
    assert_eq!(listing.len(), 400);
    let mut contents: Vec<Vec<u8>> = listing
        .iter()
        .map(|e| fs.read_file(&format!("many/{}", e.name), MB).unwrap())
        .collect();
    contents.sort();
    let mut want: Vec<Vec<u8>> = (0..400)
        .map(|i| format!("content of file {i}\n").into_bytes())
        .collect();
    want.sort();
    assert_eq!(contents, want);
}

#[test]
fn rock_ridge_symbolic_links_resolve_inside_the_image() {
    let tree = Tree::new();
    tree.file("openstack/latest/meta_data.json", b"{\"uuid\": \"u\"}\n")
        .symlink("link", "openstack/latest/meta_data.json")
        .symlink("openstack/current", "latest")
        .symlink(
            "openstack/latest/up",
            "../../openstack/latest/meta_data.json",
        )
        .symlink("absolute", "/etc/hostname")
        .symlink("dangling", "nowhere")
        .symlink("loop1", "loop2")
        .symlink("loop2", "loop1")
        .symlink("escape", "../outside");
    let fs = open(tree.image("links.iso", &["-J", "-R"]));
    assert_eq!(fs.read_file("link", MB).unwrap(), b"{\"uuid\": \"u\"}\n");
    assert_eq!(
        fs.read_file("openstack/current/meta_data.json", MB)
            .unwrap(),
        b"{\"uuid\": \"u\"}\n"
    );
    assert_eq!(
        fs.read_file("openstack/latest/up", MB).unwrap(),
        b"{\"uuid\": \"u\"}\n"
    );
    assert_eq!(
        names(&fs.list_dir("openstack/current").unwrap()),
        ["meta_data.json", "up"]
    );
    let root = fs.list_dir("").unwrap();
    let link = root.iter().find(|e| e.name == "link").unwrap();
    assert!(!link.is_dir);
    assert_eq!(link.size, "openstack/latest/meta_data.json".len() as u64);

    match fs.read_file("absolute", MB) {
        Err(FsError::NotFound(msg)) => assert!(msg.contains("outside the image"), "{msg}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        fs.read_file("dangling", MB),
        Err(FsError::NotFound(_))
    ));
    match fs.read_file("loop1", MB) {
        Err(FsError::Corrupt(msg)) => assert!(msg.contains("symbolic links"), "{msg}"),
        other => panic!("{other:?}"),
    }
    match fs.read_file("escape", MB) {
        Err(FsError::NotFound(msg)) => assert!(msg.contains("above the root"), "{msg}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn wrong_kinds_and_missing_paths_have_their_own_errors() {
    let tree = nocloud_tree();
    tree.file("dir/inner", b"x");
    let fs = open(tree.image("seed.iso", &["-J", "-r", "-V", "cidata"]));
    assert_eq!(
        fs.read_file("nope", MB).unwrap_err().to_string(),
        "/nope: no such file or directory"
    );
    assert!(matches!(
        fs.read_file("dir/nope/deeper", MB),
        Err(FsError::NotFound(_))
    ));
    assert_eq!(
        fs.read_file("dir", MB).unwrap_err().to_string(),
        "/dir: is a directory"
    );
    assert_eq!(
        fs.list_dir("meta-data").unwrap_err().to_string(),
        "/meta-data: not a directory"
    );
    assert_eq!(
        fs.read_file("meta-data/x", MB).unwrap_err().to_string(),
        "/meta-data: not a directory"
    );
    assert!(matches!(
        fs.read_file("", MB),
        Err(FsError::IsADirectory(_))
    ));
    assert!(matches!(fs.read_file("..", MB), Err(FsError::NotFound(_))));
}

#[test]
fn empty_files_and_directories() {
    let tree = Tree::new();
    tree.file("empty", b"").dir("emptydir").file("x/y", b"");
    for args in [&["-J", "-r"][..], &["-J"], &[]] {
        let fs = open(tree.image("e.iso", args));
        assert_eq!(fs.read_file("empty", MB).unwrap(), b"", "{args:?}");
        assert!(fs.list_dir("emptydir").unwrap().is_empty());
        assert_eq!(fs.read_file("x/y", 0).unwrap(), b"");
    }
}

#[test]
fn not_an_iso_image() {
    let zeros = vec![0u8; 64 * 1024];
    assert!(probe_label(&zeros).is_none());
    assert!(matches!(
        Iso9660::open(zeros),
        Err(FsError::NotThisFs("iso9660"))
    ));
    assert!(matches!(
        Iso9660::open(Vec::new()),
        Err(FsError::NotThisFs("iso9660"))
    ));
    assert!(probe_label(&Vec::new()).is_none());
}

#[test]
fn zisofs_compressed_files_are_refused_clearly() {
    let tree = Tree::new();
    tree.file("meta-data", &b"instance-id: compressed\n".repeat(2000));
    let packed = tree.dir.path().join("packed");
    let status = std::process::Command::new(tool("mkzftree"))
        .arg(tree.src())
        .arg(&packed)
        .status()
        .expect("running mkzftree");
    assert!(status.success());
    let path = tree.build_from("z.iso", &["-R", "-z"], &packed);
    let fs = open(fs::read(path).unwrap());
    assert_eq!(names(&fs.list_dir("").unwrap()), ["meta-data"]);
    match fs.read_file("meta-data", MB) {
        Err(FsError::Io(e)) => {
            assert_eq!(e.kind(), std::io::ErrorKind::Unsupported);
            assert!(e.to_string().contains("zisofs"), "{e}");
        }
        other => panic!("{other:?}"),
    }
}

/// isoinfo, from the same package, lists the same paths in each naming.
#[test]
fn listings_agree_with_isoinfo() {
    let mut rng = Rng::new(6);
    let tree = config_drive_tree(&mut rng);
    tree.file("MixedCase.Txt", b"m").file("noext", b"n");
    for (args, isoinfo_flag, names) in [
        (&["-J", "-R"][..], Some("-R"), Names::RockRidge),
        (&["-J"], Some("-J"), Names::Joliet),
        (&[], None, Names::Iso9660),
    ] {
        let path = tree.build("x.iso", args);
        let output = std::process::Command::new(tool("isoinfo"))
            .args(["-f", "-i"])
            .arg(&path)
            .args(isoinfo_flag)
            .output()
            .expect("running isoinfo");
        assert!(output.status.success());
        let theirs: Vec<String> = String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let l = l.trim_start_matches('/');
                if names == Names::Iso9660 {
                    // isoinfo shows the names as recorded.
                    let l = l.strip_suffix(";1").unwrap_or(l);
                    l.strip_suffix('.').unwrap_or(l).to_ascii_lowercase()
                } else {
                    l.to_string()
                }
            })
            .collect();
        let fs = open(fs::read(&path).unwrap());
        assert_eq!(fs.names(), names);
        let walked = walk(&fs, 10_000, 32, MB);
        let mut ours: Vec<String> = walked.keys().filter(|p| !p.is_empty()).cloned().collect();
        let mut theirs = theirs;
        ours.sort();
        theirs.sort();
        assert_eq!(ours, theirs, "{args:?}");
    }
}

// ---------------------------------------------------------------------------
// Damaged and hostile images.

/// The image every damage test starts from: a config drive with Joliet and
/// Rock Ridge, long names (continuation areas), a symlink and a deep tree.
fn damage_subject(args: &[&str]) -> (Tree, Vec<u8>) {
    let mut rng = Rng::new(7);
    let tree = config_drive_tree(&mut rng);
    tree.file(&format!("{}.txt", "n".repeat(200)), b"long name\n")
        .file("a/b/c/d/e/f/g/h/i/j/deep.txt", b"deep\n")
        .symlink("link", "openstack/latest/user_data");
    // Enough long names for the directory to span two sectors.
    for i in 0..24 {
        tree.file(
            &format!("many/entry-number-{i:02}-{}", "x".repeat(40)),
            format!("entry {i}\n").as_bytes(),
        );
    }
    let image = tree.image("subject.iso", args);
    (tree, image)
}

/// Opens and walks an image; anything may fail, nothing may panic or hang.
fn exercise(image: Vec<u8>) -> Result<BTreeMap<String, Found>, FsError> {
    let _ = probe_label(&image);
    let fs = Iso9660::open(image)?;
    let _ = fs.label();
    Ok(walk(&fs, 5_000, 40, 8 * MB))
}

#[test]
fn random_byte_flips_never_panic_and_finish_quickly() {
    const ITERATIONS: usize = 750;
    let start = Instant::now();
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    for (seed, args) in [
        (11u64, &["-J", "-R", "-V", "config-2"][..]),
        (12, &["-J", "-V", "config-2"]),
        (13, &["-V", "config-2"]),
        (14, &["-R", "-V", "cidata"]),
    ] {
        let (tree, mut image) = damage_subject(args);
        let mut rng = Rng::new(seed);
        // The descriptors, path tables and directories come first, file
        // data after: most flips go there, where they matter.
        let metadata_end = expected(&tree.src())
            .values()
            .filter(|data| data.len() >= 8)
            .filter_map(|data| image.windows(data.len()).position(|w| w == &data[..]))
            .min()
            .unwrap() as u64;
        assert!(metadata_end > 17 * 2048);
        for _ in 0..ITERATIONS {
            let flips: Vec<usize> = (0..1 + rng.below(4))
                .map(|_| {
                    if rng.below(4) == 0 {
                        rng.below(image.len() as u64) as usize
                    } else {
                        (16 * 2048 + rng.below(metadata_end - 16 * 2048)) as usize
                    }
                })
                .collect();
            let saved: Vec<u8> = flips.iter().map(|&at| image[at]).collect();
            for &at in &flips {
                image[at] ^= 1 + rng.below(255) as u8;
            }
            let started = Instant::now();
            let outcome = match exercise(image.clone()) {
                Ok(found) if found.values().any(|f| matches!(f, Found::Error(_))) => {
                    "opened, some paths failed"
                }
                Ok(_) => "opened, all read",
                Err(FsError::NotThisFs(_)) => "not iso9660",
                Err(FsError::Corrupt(_)) => "corrupt",
                Err(FsError::TooLarge(_)) => "too large",
                Err(_) => "other error",
            };
            *outcomes.entry(outcome).or_default() += 1;
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "flips at {flips:?} took {:?}",
                started.elapsed()
            );
            for (&at, &byte) in flips.iter().zip(&saved).rev() {
                image[at] = byte;
            }
        }
    }
    eprintln!(
        "{} damaged images in {:?}: {outcomes:?}",
        4 * ITERATIONS,
        start.elapsed()
    );
    assert_eq!(outcomes.values().sum::<usize>(), 4 * ITERATIONS);
    // The flips did reach the structures.
    assert!(outcomes.len() >= 3, "{outcomes:?}");
}

#[test]
fn truncation_at_every_sector_boundary_fails_cleanly() {
    for args in [&["-J", "-R", "-V", "config-2"][..], &["-J"], &[]] {
        let (_tree, image) = damage_subject(args);
        let whole = files(&exercise(image.clone()).unwrap());
        assert!(whole.len() > 30);
        for sectors in 0..=image.len() / 2048 {
            let cut = image[..sectors * 2048].to_vec();
            match exercise(cut) {
                Ok(found) => {
                    // What can be read is right; what cannot is corrupt.
                    for (path, got) in &found {
                        match got {
                            Found::Dir => {}
                            Found::File(data) => {
                                assert!(
                                    whole.get(path) == Some(data),
                                    "{path} at {sectors} sectors"
                                )
                            }
                            Found::Error(FsError::Corrupt(msg)) => {
                                assert!(msg.contains("past the end of the image"), "{msg}")
                            }
                            Found::Error(e) => {
                                panic!("{args:?} cut at {sectors} sectors: {path}: {e:?}")
                            }
                        }
                    }
                }
                Err(FsError::NotThisFs(_)) => assert!(sectors <= 16, "{sectors}"),
                Err(FsError::Corrupt(_)) => {}
                Err(e) => panic!("{args:?} cut at {sectors} sectors: {e:?}"),
            }
        }
    }
}

#[test]
fn a_directory_pointing_to_an_ancestor_is_a_loop() {
    let tree = Tree::new();
    tree.file("loop/file", b"x")
        .file("a/inner/file", b"y")
        .file("meta-data", b"z");
    let mut image = tree.image("loop.iso", &["-J", "-R"]);
    let root = get_le32(&image, PVD_ROOT_EXTENT);
    // "LOOP" in the primary (Rock Ridge) tree now points to the root.
    let records = directory_records(&image, b"LOOP");
    assert_eq!(records.len(), 1);
    put_both32(&mut image, records[0] + 2, root);
    // "INNER" points to its own parent "A".
    let a = directory_records(&image, b"A");
    assert_eq!(a.len(), 1);
    let a_extent = get_le32(&image, a[0] + 2);
    let inner = directory_records(&image, b"INNER");
    put_both32(&mut image, inner[0] + 2, a_extent);

    let fs = open(image);
    for path in [
        "loop",
        "loop/loop/loop/meta-data",
        "a/inner",
        "a/inner/inner/file",
    ] {
        match fs.list_dir(path) {
            Err(FsError::Corrupt(msg)) => {
                assert!(msg.contains("directory loop"), "{msg}");
                assert!(msg.contains("record at offset"), "{msg}");
            }
            other => panic!("{path}: {other:?}"),
        }
    }
    // The rest of the image still reads, and a walk ends.
    assert_eq!(fs.read_file("meta-data", MB).unwrap(), b"z");
    let found = walk(&fs, 1000, 100, MB);
    assert!(found.len() < 20, "{found:?}");
}

#[test]
fn a_joliet_directory_pointing_to_itself_is_a_loop() {
    let tree = Tree::new();
    tree.file("dir/self/file", b"x");
    let mut image = tree.image("loop.iso", &["-J"]);
    let dir = directory_records(&image, &[0, b'd', 0, b'i', 0, b'r']);
    assert_eq!(dir.len(), 1);
    let self_ = directory_records(&image, &[0, b's', 0, b'e', 0, b'l', 0, b'f']);
    assert_eq!(self_.len(), 1);
    let extent = get_le32(&image, dir[0] + 2);
    put_both32(&mut image, self_[0] + 2, extent);
    let fs = open(image);
    assert_eq!(fs.names(), Names::Joliet);
    assert!(
        matches!(fs.list_dir("dir/self"), Err(FsError::Corrupt(m)) if m.contains("directory loop"))
    );
}

#[test]
fn a_continuation_area_outside_the_image_is_named() {
    let (_tree, mut image) = damage_subject(&["-J", "-R"]);
    // The root's "." record has a CE entry (its ER entry does not fit).
    let root = get_le32(&image, PVD_ROOT_EXTENT) as usize * 2048;
    let dot_len = image[root] as usize;
    let dot = &image[root..root + dot_len];
    let ce = dot
        .windows(4)
        .position(|w| w == b"CE\x1c\x01")
        .expect("the root's . record has a CE entry");
    put_both32(&mut image, root + ce + 4, 0x00ff_ffff);
    match Iso9660::open(image) {
        Err(FsError::Corrupt(msg)) => {
            assert!(msg.contains("continuation (CE)"), "{msg}");
            assert!(msg.contains("past the end of the image"), "{msg}");
            assert!(msg.contains(&format!("at offset {}", root + ce)), "{msg}");
        }
        Err(e) => panic!("{e:?}"),
        Ok(_) => panic!("opened"),
    }
}

#[test]
fn a_both_endian_mismatch_is_corruption() {
    let tree = nocloud_tree();
    let mut image = tree.image("seed.iso", &["-J", "-R"]);
    let records = file_records(&image, b"META_DAT.;1");
    assert!(!records.is_empty());
    let mut bad = image.clone();
    // Only the big-endian half of the data length changes.
    bad[records[0] + 10 + 7] ^= 0x40;
    let fs = open(bad);
    match fs.read_file("meta-data", MB) {
        Err(FsError::Corrupt(msg)) => {
            assert!(msg.contains("data length"), "{msg}");
            assert!(msg.contains("big-endian"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
    // Huge sizes: a root directory claiming 4 GB is refused before it is
    // read, naming where the size came from.
    put_both32(&mut image, 16 * 2048 + 156 + 10, 0xffff_f800);
    let fs = open(image);
    match fs.list_dir("") {
        Err(FsError::TooLarge(msg)) => {
            assert!(
                msg.contains("directory / (record at offset 32924)"),
                "{msg}"
            );
            assert!(msg.contains("more than the limit"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
}
