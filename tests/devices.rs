//! Seeds on real filesystem images (vfat built by mkfs.vfat/mtools, ISO9660
//! by genisoimage), found by label under the root or named with --device,
//! read in place without mounting.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::images::*;
use common::*;

/// A vfat image labelled `label` holding `files` (relative path, content).
fn vfat_image(dir: &Path, label: &str, files: &[(&str, &str)]) -> PathBuf {
    let img = dir.join(format!("{label}.img"));
    std::fs::File::create(&img)
        .unwrap()
        .set_len(4 << 20)
        .unwrap();
    run_image_tool("mkfs.vfat", &["-n", label, img.to_str().unwrap()]);
    let src = dir.join(format!("{label}-src"));
    for (rel, content) in files {
        let p = src.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        let mut parts = Vec::new();
        for comp in Path::new(rel).parent().unwrap().components() {
            parts.push(comp.as_os_str().to_string_lossy().into_owned());
            let _ = Command::new(image_tool("mmd"))
                .args([
                    "-i",
                    img.to_str().unwrap(),
                    &format!("::/{}", parts.join("/")),
                ])
                .output();
        }
        run_image_tool(
            "mcopy",
            &[
                "-i",
                img.to_str().unwrap(),
                p.to_str().unwrap(),
                &format!("::/{rel}"),
            ],
        );
    }
    img
}

const USER: &str = "#cloud-config\nwrite_files: [{path: /etc/from-device, content: seeded}]\n";

#[test]
fn a_cidata_vfat_disk_under_the_root() {
    let m = Machine::new();
    let img = vfat_image(
        m.dir.path(),
        "cidata",
        &[("meta-data", "instance-id: vfat-1\n"), ("user-data", USER)],
    );
    m.attach(&img, "vdb");
    m.attach(&vfat_image(m.dir.path(), "other", &[("x", "y")]), "vdc");
    m.boot();
    assert_eq!(m.read("/var/lib/cloud/data/instance-id"), "vfat-1\n");
    assert_eq!(m.read("/etc/from-device"), "seeded");
    assert_eq!(
        m.read("/var/lib/cloud/instances/vfat-1/datasource"),
        "DataSourceNoCloud: DataSourceNoCloud [seed=/dev/vdb][dsmode=net]\n"
    );
    assert_eq!(
        m.run_ok(&["query", "v1.subplatform"], 0),
        "config-disk (/dev/vdb)\n"
    );
}

#[test]
fn a_config_drive_vfat_image_named_on_the_command_line() {
    let m = Machine::new();
    let img = vfat_image(
        m.dir.path(),
        "config-2",
        &[
            (
                "openstack/latest/meta_data.json",
                r#"{"uuid": "vfat-drive", "hostname": "h"}"#,
            ),
            ("openstack/latest/user_data", USER),
        ],
    );
    let device = img.to_str().unwrap();
    m.run_ok_with(&["--device", device, "init", "--local"], 0);
    m.run_ok(&["init"], 0);
    assert_eq!(m.read("/etc/from-device"), "seeded");
    assert!(m
        .read("/var/lib/cloud/instances/vfat-drive/datasource")
        .ends_with(&format!("[net,ver=2][source={device}]\n")));
}

#[test]
fn a_corrupt_image_is_reported_and_the_search_goes_on() {
    let m = Machine::seeded(META, USER);
    let img = vfat_image(
        m.dir.path(),
        "config-2",
        &[("openstack/latest/meta_data.json", r#"{"uuid": "x"}"#)],
    );
    // Keep the label; point the `openstack` directory entry (short name
    // OPENST~1) at a cluster past the end of the volume.
    let mut bytes = std::fs::read(&img).unwrap();
    let entry = bytes
        .windows(8)
        .position(|w| w == b"OPENST~1")
        .expect("the openstack directory entry");
    bytes[entry + 26..entry + 28].copy_from_slice(&0xfff0u16.to_le_bytes());
    std::fs::write(&img, &bytes).unwrap();
    m.attach(&img, "sr0");
    // ConfigDrive first, so the broken drive is read before NoCloud's seed.
    m.write(
        "/etc/cloud/cloud.cfg",
        "datasource_list: [ConfigDrive, NoCloud, None]\n",
    );
    m.run_ok(&["init", "--local"], 1);
    m.run_ok(&["init"], 0);
    assert_eq!(
        m.read("/etc/from-device"),
        "seeded",
        "NoCloud's seed directory was used"
    );
    let errors = m.stage_errors("init-local");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("Broken config drive /dev/sr0: /dev/sr0 (vfat): openstack")
            && errors[0].contains("corrupt filesystem"),
        "{errors:?}"
    );
}

#[test]
fn a_cidata_iso_under_the_root() {
    let m = Machine::new();
    let img = iso_image(
        m.dir.path(),
        "cidata",
        &[
            ("meta-data", "instance-id: iso-1\n"),
            ("user-data", USER),
            ("network-config", "version: 2\nethernets: {}\n"),
        ],
    );
    m.attach(&img, "sr0");
    m.boot();
    assert_eq!(m.read("/var/lib/cloud/data/instance-id"), "iso-1\n");
    assert_eq!(m.read("/etc/from-device"), "seeded");
}

#[test]
fn a_config_drive_iso_in_the_cdrom() {
    let m = Machine::new();
    let img = iso_image(
        m.dir.path(),
        "config-2",
        &[
            (
                "openstack/2012-08-10/meta_data.json",
                r#"{"uuid": "iso-drive", "files": [{"path": "/etc/injected", "content_path": "/content/0000"}]}"#,
            ),
            ("openstack/2012-08-10/user_data", USER),
            (
                "openstack/latest/meta_data.json",
                r#"{"uuid": "iso-drive"}"#,
            ),
            (
                "openstack/latest/network_data.json",
                r#"{"links": [], "networks": [], "services": []}"#,
            ),
            ("openstack/content/0000", "injected by nova\n"),
        ],
    );
    m.attach(&img, "sr0");
    m.boot();
    assert_eq!(m.read("/var/lib/cloud/data/instance-id"), "iso-drive\n");
    assert_eq!(m.read("/etc/from-device"), "seeded");
    assert_eq!(m.read("/etc/injected"), "injected by nova\n");
    assert_eq!(
        m.read("/var/lib/cloud/instances/iso-drive/datasource"),
        "DataSourceConfigDrive: DataSourceConfigDrive [net,ver=2][source=/dev/sr0]\n"
    );
}

#[test]
fn a_corrupt_iso_is_one_clear_error_and_the_next_datasource_is_tried() {
    let m = Machine::seeded(META, USER);
    let img = iso_image(
        m.dir.path(),
        "config-2",
        &[("openstack/latest/meta_data.json", r#"{"uuid": "never"}"#)],
    );
    // Keep the volume descriptor (sector 16, so the label still matches);
    // point the root directory record past the end of the image.
    let mut bytes = std::fs::read(&img).unwrap();
    let root_record = 16 * 2048 + 156;
    bytes[root_record + 2..root_record + 6].copy_from_slice(&0x00ff_ffffu32.to_le_bytes());
    bytes[root_record + 6..root_record + 10].copy_from_slice(&0x00ff_ffffu32.to_be_bytes());
    std::fs::write(&img, &bytes).unwrap();
    m.attach(&img, "sr0");
    m.write(
        "/etc/cloud/cloud.cfg",
        "datasource_list: [ConfigDrive, NoCloud, None]\n",
    );
    m.run_ok(&["init", "--local"], 1);
    m.run_ok(&["init"], 0);
    assert_eq!(
        m.read("/etc/from-device"),
        "seeded",
        "NoCloud's seed directory was used"
    );
    let errors = m.stage_errors("init-local");
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = &errors[0];
    assert!(
        e.starts_with("/dev/sr0 (iso9660, label config-2): corrupt filesystem: "),
        "{e}"
    );

    // --mount-fallback never mounts a scratch root's image on this machine.
    m.reboot();
    std::fs::remove_dir_all(m.path("/var/lib/cloud/instances")).unwrap();
    std::fs::remove_file(m.path("/var/lib/cloud/instance")).unwrap();
    m.run_ok_with(&["--mount-fallback", "init", "--local"], 1);
    let e = &m.stage_errors("init-local")[0];
    assert!(
        e.ends_with("; mount fallback: not tried: the target root is not this machine's /"),
        "{e}"
    );
}

#[test]
fn a_drive_with_only_2012_08_10_and_nova_s_eni_template() {
    let m = Machine::new();
    let img = iso_image(
        m.dir.path(),
        "config-2",
        &[
            (
                "openstack/2012-08-10/meta_data.json",
                r#"{"uuid": "folsom", "network_config": {"content_path": "/content/0000"}}"#,
            ),
            ("openstack/2012-08-10/user_data", USER),
            (
                "openstack/content/0000",
                "auto eth0\niface eth0 inet dhcp\n",
            ),
        ],
    );
    m.attach(&img, "sr0");
    m.boot();
    assert_eq!(m.read("/var/lib/cloud/data/instance-id"), "folsom\n");
    assert_eq!(m.read("/etc/from-device"), "seeded");
    let cache = m.read("/var/lib/cloud/instances/folsom/cloudboot-datasource.json");
    assert!(cache.contains("iface eth0 inet dhcp"), "{cache}");
}

#[test]
fn a_version_1_drive_on_vfat() {
    let m = Machine::new();
    let img = vfat_image(
        m.dir.path(),
        "config-2",
        &[
            (
                "meta.js",
                r##"{"instance-id": "v1-vfat", "user-data": "#cloud-config\nwrite_files: [{path: /etc/from-device, content: v1}]\n"}"##,
            ),
            (
                "etc/network/interfaces",
                "auto eth0\niface eth0 inet dhcp\n",
            ),
        ],
    );
    m.attach(&img, "vdb");
    m.boot();
    assert_eq!(m.read("/var/lib/cloud/data/instance-id"), "v1-vfat\n");
    assert_eq!(m.read("/etc/from-device"), "v1");
}

#[test]
fn the_multinic_example_as_a_config_drive_iso() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/configdrive-multinic");
    let m = Machine::new();
    let img = m.dir.path().join("config-2.iso");
    run_image_tool(
        "genisoimage",
        &[
            "-quiet",
            "-o",
            img.to_str().unwrap(),
            "-V",
            "config-2",
            "-R",
            "-J",
            example.to_str().unwrap(),
        ],
    );
    m.attach(&img, "sr0");
    m.boot();
    let iid = "4f3a1b9e-0b7c-4c1e-9a51-3c2d7f0e8a11";
    assert_eq!(
        m.read("/var/lib/cloud/data/instance-id"),
        format!("{iid}\n")
    );
    assert_eq!(
        m.read("/etc/motd"),
        "Three NICs, configured from network_data.json.\n"
    );
    // The newest known version (2018-08-27) was read, so network_data.json
    // came with it: all three NICs, by MAC.
    let data: serde_json::Value =
        serde_json::from_str(&m.read("/run/cloud-init/instance-data-sensitive.json")).unwrap();
    let macs: Vec<&str> = data["ds"]["network_json"]["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["ethernet_mac_address"].as_str().unwrap())
        .collect();
    assert_eq!(
        macs,
        [
            "fa:16:3e:11:22:01",
            "fa:16:3e:11:22:02",
            "fa:16:3e:11:22:03"
        ]
    );
}
