//! Detection against cloud-init 22.4's own ds-identify: for a set of
//! machines (DMI facts, kernel command line, seed files, labelled
//! filesystems on real images), every datasource cloudboot has must reach
//! the verdict ds-identify's `dscheck_<Name>` reaches (found, maybe, not
//! found), except the deliberate differences in [`DELIBERATE`], each with
//! its reason. ds-identify is run by
//! `tests/fixtures/datasources/ds-identify/verdicts.sh` (sourced as
//! cloud-init's unit tests source it, blkid and systemd-detect-virt faked
//! from the same facts), as nobody when this runs as root.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use cloudboot::datasource::{self, declared, Detect, DsContext, Facts};
use cloudboot::rootfs::{RealFs, Root};
use cloudboot::schedule::Stage;
use cloudboot::value::Value;

/// One machine.
struct Case {
    name: &'static str,
    dmi: &'static [(&'static str, &'static str)],
    cmdline: &'static str,
    /// Files under the root (seed directories, markers).
    files: &'static [(&'static str, &'static str)],
    /// Filesystems on devices: (type `vfat`|`iso9660`, label).
    labels: &'static [(&'static str, &'static str)],
    /// What systemd-detect-virt says.
    virt: &'static str,
}

const fn case(name: &'static str, dmi: &'static [(&'static str, &'static str)]) -> Case {
    Case {
        name,
        dmi,
        cmdline: "ro quiet",
        files: &[],
        labels: &[],
        virt: "kvm",
    }
}

const CASES: &[Case] = &[
    case("bare kvm, no cloud", &[("sys_vendor", "QEMU"), ("product_name", "Standard PC (i440FX + PIIX, 1996)")]),
    Case { cmdline: "ro ds=nocloud;s=http://10.0.0.1/", ..case("nocloud on the command line", &[]) },
    Case {
        files: &[("/var/lib/cloud/seed/nocloud/meta-data", "instance-id: i\n"), ("/var/lib/cloud/seed/nocloud/user-data", "")],
        ..case("nocloud seed directory", &[])
    },
    Case { labels: &[("vfat", "cidata")], ..case("nocloud cidata disk", &[]) },
    Case { labels: &[("iso9660", "config-2")], ..case("config drive", &[("product_name", "OpenStack Nova")]) },
    case("openstack metadata service", &[("product_name", "OpenStack Nova"), ("sys_vendor", "OpenStack Foundation")]),
    case("openstack by asset tag", &[("chassis_asset_tag", "HUAWEICLOUD")]),
    case("aws (xen, uuid and serial)", &[("product_uuid", "EC2E1916-9099-7CAF-FD21-012345ABCDEF"), ("product_serial", "ec2e1916-9099-7caf-fd21-012345abcdef"), ("sys_vendor", "Xen")]),
    case("aws nitro (vendor only)", &[("sys_vendor", "Amazon EC2"), ("product_name", "t3.micro")]),
    case("brightbox", &[("product_serial", "srv-abcde.gb1.brightbox.com")]),
    case("azure", &[("chassis_asset_tag", "7783-7084-3265-9085-8269-3286-77"), ("sys_vendor", "Microsoft Corporation")]),
    case("gce", &[("product_name", "Google Compute Engine"), ("sys_vendor", "Google")]),
    case("gce by serial", &[("product_serial", "GoogleCloud-1234ABCD")]),
    case("aliyun", &[("product_name", "Alibaba Cloud ECS"), ("sys_vendor", "Alibaba Cloud")]),
    case("digitalocean", &[("sys_vendor", "DigitalOcean"), ("product_name", "Droplet")]),
    case("hetzner", &[("sys_vendor", "Hetzner"), ("product_name", "vServer")]),
    case("vultr", &[("sys_vendor", "Vultr")]),
    case("upcloud", &[("sys_vendor", "UpCloud")]),
    case("nwcs", &[("sys_vendor", "NWCS")]),
    case("scaleway", &[("sys_vendor", "Scaleway")]),
    case("oracle", &[("chassis_asset_tag", "OracleCloud.com")]),
    case("exoscale", &[("product_name", "Exoscale Compute Platform")]),
    case("cloudstack", &[("product_name", "CloudStack KVM Hypervisor")]),
    case("cloudsigma", &[("product_name", "CloudSigma")]),
    case("smartos", &[("product_name", "SmartDC HVM")]),
    Case { virt: "kvm", ..case("lxd vm", &[("board_name", "LXD")]) },
    Case { labels: &[("iso9660", "CONTEXT")], ..case("opennebula", &[]) },
    Case { labels: &[("vfat", "CLOUDMD")], ..case("rbxcloud", &[]) },
    Case { files: &[("/var/lib/cloud/data/seed/bigstep/url", "http://10.0.0.1/md\n")], ..case("bigstep", &[]) },
    Case { cmdline: "ro cloud-config-url=http://10.0.0.1/MAAS/metadata/ iscsi_target_name=iqn.2004-05.com.ubuntu:maas:x", ..case("maas", &[]) },
    Case { files: &[("/etc/sysconfig/cloud-info", "vSphere\n")], labels: &[("iso9660", "CDROM")], ..case("altcloud vsphere", &[]) },
    Case { files: &[("/var/lib/cloud/seed/ovf/ovf-env.xml", "<Environment/>\n")], ..case("ovf seed", &[]) },
    Case { virt: "vmware", ..case("vmware without rpctool", &[("sys_vendor", "VMware, Inc."), ("product_name", "VMware Virtual Platform")]) },
];

/// cloudboot's verdict that differs from ds-identify's on purpose:
/// (datasource, case, cloudboot, ds-identify, why).
const DELIBERATE: &[(&str, &str, Detect, &str, &str)] = &[
    (
        "Ec2",
        "aws nitro (vendor only)",
        Detect::Found,
        "not-found",
        "Nitro instances say `Amazon EC2` in sys_vendor; 22.4's ds-identify checks only the uuid \
         and serial prefixes (later cloud-init releases added the vendor)",
    ),
    (
        "OpenStack",
        "config drive",
        Detect::Found,
        "not-found",
        "ds-identify drops the metadata service when a config drive is present; cloudboot's \
         ConfigDrive is searched first (local stage) and wins when it is valid, and a broken \
         drive still leaves the metadata service to try",
    ),
];

/// Datasources cloudboot always asks, whatever ds-identify says: reading
/// their seed files under the root costs what checking for them would.
const ALWAYS_ASKED: &[&str] = &["NoCloud", "ConfigDrive", "None"];

fn ds_identify(root: &Path, case: &Case, names: &[&str]) -> Option<Vec<(String, String)>> {
    if !common::skip::require_for(
        "comparison with cloud-init 22.4's ds-identify",
        &[common::skip::Need::File(
            "/usr/lib/cloud-init/ds-identify",
            "cloud-init",
        )],
    ) {
        return None;
    }
    let blkid: String = case
        .labels
        .iter()
        .enumerate()
        .map(|(i, (ty, label))| {
            format!(
                "DEVNAME=/dev/vd{}\nTYPE={ty}\nLABEL={label}\n",
                (b'b' + i as u8) as char
            )
        })
        .collect();
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/datasources/ds-identify/verdicts.sh");
    let mut cmd = if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
            .arg(&script);
        c
    } else {
        Command::new(&script)
    };
    let out = cmd
        .arg(root)
        .args(names)
        .env("FAKE_BLKID", blkid)
        .env("FAKE_VIRT", case.virt)
        .current_dir("/")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                l.split_once(' ')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
            })
            .collect(),
    )
}

/// A filesystem image labelled `label`, for cloudboot to probe.
fn image(dir: &Path, i: usize, ty: &str, label: &str) -> PathBuf {
    let dir = dir.join(format!("dev{i}"));
    std::fs::create_dir_all(&dir).unwrap();
    let files = [("x", "x")];
    if ty == "vfat" {
        common::images::vfat_image(&dir, label, None, &files)
    } else {
        common::images::iso_image(&dir, label, &files)
    }
}

fn verdict_word(d: Detect) -> &'static str {
    match d {
        Detect::Found => "found",
        Detect::Maybe => "maybe",
        Detect::NotFound => "not-found",
    }
}

#[test]
fn detection_matches_ds_identify() {
    use std::os::unix::fs::PermissionsExt;
    let mut differences = Vec::new();
    let mut compared = 0;
    for case in CASES {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        for (field, value) in case.dmi {
            let p = root.join("sys/class/dmi/id").join(field);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, format!("{value}\n")).unwrap();
        }
        std::fs::create_dir_all(root.join("proc")).unwrap();
        std::fs::write(root.join("proc/cmdline"), format!("{}\n", case.cmdline)).unwrap();
        for (path, content) in case.files {
            let p = root.join(path.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        let devices: Vec<PathBuf> = case
            .labels
            .iter()
            .enumerate()
            .map(|(i, (ty, label))| image(dir.path(), i, ty, label))
            .collect();
        // ds-identify runs as nobody: the root must be readable.
        for entry in walk(dir.path()) {
            let mode = if entry.is_dir() { 0o755 } else { 0o644 };
            std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        let fs = RealFs {
            root: Root::new(&root),
        };
        let cfg = Value::empty_map();
        let paths = cloudboot::paths::Paths::default();
        let none: [declared::Declared; 0] = [];
        let ctx = DsContext {
            fs: &fs,
            root: &fs.root,
            devices: &devices,
            mount_fallback: false,
            paths: &paths,
            cfg: &cfg,
            stage: Stage::Network,
            facts: Facts::new(&fs, &fs.root, &devices),
            declared: &none,
            planning: false,
            nics: datasource::Nics::new(&fs),
        };
        let ours = datasource::identify(&ctx);
        let names: Vec<&str> = ours.iter().map(|(n, _)| *n).collect();
        let Some(theirs) = ds_identify(&root, case, &names) else {
            return;
        };
        for ((name, verdict), (their_name, their_verdict)) in ours.iter().zip(&theirs) {
            assert_eq!(name, their_name);
            compared += 1;
            let ours_word = verdict_word(*verdict);
            if ours_word == their_verdict {
                continue;
            }
            if ALWAYS_ASKED.contains(name) && *verdict == Detect::Maybe {
                continue;
            }
            if DELIBERATE.iter().any(|(d, c, v, t, _)| {
                d == name && *c == case.name && v == verdict && t == their_verdict
            }) {
                continue;
            }
            differences.push(format!(
                "{:28} {:14} cloudboot {ours_word:9} ds-identify {their_verdict}",
                case.name, name
            ));
        }
    }
    println!("{compared} verdicts compared with ds-identify");
    assert!(
        differences.is_empty(),
        "detection differs from ds-identify:\n{}",
        differences.join("\n")
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
