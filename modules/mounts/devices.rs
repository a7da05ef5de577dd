//! Device names in `mounts` entries as cloud-init's `sanitize_devname`
//! resolves them inside the root: network specs, `ephemeralN`/`swap`/`root`
//! through the names the datasource gives devices, short kernel names,
//! partitions, and `sdX` found as `vdX`/`xvdX`/`vtbX`.

use std::path::{Path, PathBuf};

use crate::module::prelude::*;

/// Resolves device names inside the root, as cloud-init's
/// `sanitize_devname` does on the machine it runs on.
pub struct Devices<'a> {
    pub fs: &'a dyn FsView,
    /// The names the datasource gives devices (`ephemeral0`, `swap`, ...).
    pub names: &'a BlockDevices,
    /// `device_aliases`.
    pub aliases: Vec<(String, String)>,
}

/// cloud-init's `DEVICE_NAME_FILTER`: `^([x]{0,1}[shv]d[a-z][0-9]*|sr[0-9]+)$`.
pub fn is_short_device_name(name: &str) -> bool {
    let b = name.as_bytes();
    if let Some(rest) = name.strip_prefix("sr") {
        return !rest.is_empty() && rest.bytes().all(|c| c.is_ascii_digit());
    }
    let b = if b.first() == Some(&b'x') { &b[1..] } else { b };
    b.len() >= 3
        && matches!(b[0], b's' | b'h' | b'v')
        && b[1] == b'd'
        && b[2].is_ascii_lowercase()
        && b[3..].iter().all(|c| c.is_ascii_digit())
}

/// `NETWORK_NAME_FILTER` (`^.+:.*`, `.` not matching a newline): a colon
/// after at least one character, before any line break.
pub fn is_network_device(name: &str) -> bool {
    let first_line = name.split('\n').next().unwrap_or_default();
    first_line.find(':').is_some_and(|i| i > 0)
}

/// `is_meta_device_name`.
pub fn is_meta_device_name(name: &str) -> bool {
    matches!(name, "ami" | "root" | "swap")
        || ((name.starts_with("ephemeral") || name.starts_with("ebs")) && !name.contains(':'))
}

impl Devices<'_> {
    /// A guest path as cloud-init (cwd `/`) would open it.
    fn guest(p: &str) -> PathBuf {
        Path::new("/").join(p)
    }

    fn exists(&self, p: &str) -> bool {
        !p.is_empty() && self.fs.exists(&Self::guest(p))
    }

    /// `os.path.realpath(p).split("/")[-1]`, inside the root.
    fn real_basename(&self, p: &str) -> String {
        // A loop keeps the path as it is (Python's non-strict realpath).
        let canon = canonical_path(&Self::guest(p), true, |prefix| {
            self.fs.read_link(prefix).ok()
        })
        .unwrap_or_else(|_| Self::guest(p));
        canon
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// `_remap_device`: `sdX` named by the metadata may be `vdX`, `xvdX` or
    /// `vtbX` on this machine.
    fn remap(&self, short: &str) -> Option<String> {
        let rest = short.strip_prefix("sd")?;
        ["vd", "xvd", "vtb"]
            .iter()
            .map(|to| format!("/dev/{to}{rest}"))
            .find(|cand| self.exists(cand))
    }

    fn basename(p: &str) -> &str {
        p.rsplit('/').next().unwrap_or(p)
    }

    /// [`DeviceLookup::AsGiven`] (`DataSourceEc2.device_name_to_device`).
    fn as_given(&self, name: &str) -> Option<String> {
        let ofound = self.names.get(name)?.to_string();
        let dev = if ofound.starts_with('/') {
            ofound.clone()
        } else {
            format!("/dev/{ofound}")
        };
        if self.exists(&dev) {
            return Some(dev);
        }
        if let Some(r) = self.remap(Self::basename(&dev)) {
            return Some(r);
        }
        // t1.micro lists ephemeral0 that never exists (LP: #744019).
        if name == "ephemeral0" {
            return None;
        }
        Some(ofound)
    }

    /// `SourceMixin._validate_device_name`.
    fn validate(&self, device: Option<String>) -> Option<String> {
        let device = device.filter(|d| !d.is_empty())?;
        let device = if device.starts_with('/') {
            device
        } else {
            format!("/dev/{device}")
        };
        if self.exists(&device) {
            return Some(device);
        }
        self.remap(Self::basename(&device))
    }

    /// [`DeviceLookup::PresentOrLabel`] (`SourceMixin.device_name_to_device`).
    fn present_or_label(&self, name: &str) -> Option<String> {
        if name.is_empty() {
            return None;
        }
        let mut names = vec![name.to_string()];
        if name == "root" {
            names.insert(0, "ami".into());
        }
        if name == "ami" {
            names.push("root".into());
        }
        for n in &names {
            let dev = self.names.get(n).map(str::to_string);
            if let Some(d) = self.validate(dev) {
                return Some(d);
            }
        }
        // `blkid -t LABEL=<name>`, read from udev's by-label links.
        // (`TYPE=swap` for `swap` needs blkid's probing: not supported.)
        for n in &names {
            if n == "swap" {
                continue;
            }
            let link = format!("/dev/disk/by-label/{n}");
            if self.fs.lstat(Path::new(&link)).is_none() {
                continue;
            }
            let Ok(canon) = canonical_path(Path::new(&link), true, |p| self.fs.read_link(p).ok())
            else {
                continue;
            };
            if let Some(d) = self.validate(Some(canon.to_string_lossy().into_owned())) {
                return Some(d);
            }
        }
        None
    }

    /// `cloud.device_name_to_device(name)`.
    pub fn meta_name(&self, name: &str) -> Option<String> {
        match self.names.lookup {
            DeviceLookup::AsGiven => self.as_given(name),
            DeviceLookup::PresentOrLabel => self.present_or_label(name),
            DeviceLookup::Nothing => None,
        }
    }

    /// `_get_nth_partition_for_device`.
    fn nth_partition(&self, device: &str, n: &str) -> Option<String> {
        [n.to_string(), format!("p{n}"), format!("-part{n}")]
            .iter()
            .map(|suffix| format!("{device}{suffix}"))
            .find(|p| self.exists(p))
    }

    /// `_is_block_device`: `/sys/block/<disk>[/<partition>]` exists.
    fn is_block_device(&self, device: &str, partition: Option<&str>) -> bool {
        let mut sys = format!("/sys/block/{}", self.real_basename(device));
        if let Some(p) = partition {
            sys = format!("{sys}/{}", self.real_basename(p));
        }
        self.fs.exists(Path::new(&sys))
    }

    /// `sanitize_devname(startname, cloud.device_name_to_device, log, aliases)`.
    pub fn sanitize(&self, start: &str) -> Option<String> {
        let devname = if start == "ephemeral" {
            "ephemeral0"
        } else {
            start
        };
        if is_network_device(start) {
            return Some(start.to_string());
        }
        // `util.expand_dotted_devname`: `rsplit(".", 1)`.
        let (mut device, partition) = match devname.rsplit_once('.') {
            Some((d, p)) => (d.to_string(), Some(p.to_string())),
            None => (devname.to_string(), None),
        };
        if let Some((_, to)) = self.aliases.iter().find(|(from, _)| *from == device) {
            device = to.clone();
        }
        if is_meta_device_name(&device) {
            device = self.meta_name(&device).filter(|d| !d.is_empty())?;
            if !device.starts_with('/') {
                device = format!("/dev/{device}");
            }
        } else if is_short_device_name(start) {
            device = format!("/dev/{device}");
        }
        let partition_path = match &partition {
            None => self.nth_partition(&device, "1"),
            Some(n) => Some(self.nth_partition(&device, n)?),
        };
        if self.is_block_device(&device, partition_path.as_deref()) {
            return Some(partition_path.unwrap_or(device));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_name_filters() {
        for ok in ["sda", "sda1", "xvda", "hda", "vdd1", "sr0", "xvdb12"] {
            assert!(is_short_device_name(ok), "{ok}");
        }
        for no in [
            "sd", "xxvda", "nvme0n1", "sdA", "sr", "vda1a", "/dev/sda", "sr0a",
        ] {
            assert!(!is_short_device_name(no), "{no}");
        }
        assert!(is_network_device("nfs:/x"));
        assert!(is_network_device("h:"));
        assert!(!is_network_device(":/x"));
        assert!(!is_network_device("a\n:b"));
        assert!(is_meta_device_name("ephemeral12"));
        assert!(is_meta_device_name("ebs0"));
        assert!(!is_meta_device_name("ephemeral:x"));
        assert!(!is_meta_device_name("sdb"));
    }

    /// tests/fixtures/mounts/golden.json: cloud-init 22.4's own functions
    /// (see the README there).
    fn golden() -> serde_json::Value {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mounts/golden.json");
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    }

    #[test]
    fn sanitize_devname_matches_cloud_init() {
        let g = golden();
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let tree = &g["tree"];
        for f in tree["files"].as_array().unwrap() {
            let p = root.join(f.as_str().unwrap().trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "").unwrap();
        }
        for d in tree["dirs"].as_array().unwrap() {
            std::fs::create_dir_all(root.join(d.as_str().unwrap().trim_start_matches('/')))
                .unwrap();
        }
        for (link, target) in tree["links"].as_object().unwrap() {
            let p = root.join(link.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(target.as_str().unwrap(), p).unwrap();
        }
        let fs = crate::rootfs::RealFs {
            root: crate::rootfs::Root::new(root),
        };
        let bdm = |name: &str| Value::from_json(&g["bdm"][name]);
        let ec2 = BlockDevices::from_ec2_metadata(Some(&bdm("Ec2")));
        let euca = BlockDevices::from_ec2_metadata(Some(&bdm("Ec2-euca")));
        let ec2_no_bdm = BlockDevices::from_ec2_metadata(None);
        let mixin = BlockDevices::from_openstack_ec2_metadata(Some(&g["bdm"]["ConfigDrive"]));
        let mixin_no_ec2 = BlockDevices::from_openstack_ec2_metadata(None);
        let nothing = BlockDevices::default();
        let aliases: Vec<(String, String)> = g["aliases"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        let mut n = 0;
        let mut resolved = 0;
        for c in g["sanitize_devname"].as_array().unwrap() {
            let names = match c["ds"].as_str().unwrap() {
                "NoCloud" => &nothing,
                "Ec2" => &ec2,
                "Ec2-euca" => &euca,
                "Ec2-no-bdm" => &ec2_no_bdm,
                "ConfigDrive" => &mixin,
                "ConfigDrive-no-ec2" => &mixin_no_ec2,
                other => panic!("{other}"),
            };
            let devices = Devices {
                fs: &fs,
                names,
                aliases: if c["aliases"].as_bool().unwrap() {
                    aliases.clone()
                } else {
                    Vec::new()
                },
            };
            let start = c["start"].as_str().unwrap();
            let expected = c["result"].as_str().map(str::to_string);
            assert_eq!(devices.sanitize(start), expected, "{c}");
            n += 1;
            resolved += usize::from(expected.is_some());
        }
        assert_eq!(n, 492);
        // The cases are not all "unresolved": the tree resolves many.
        assert!(resolved > 150, "{resolved}");
    }
}
