//! The network renderer a distribution uses (`renderers.select`): the
//! first available renderer of
//! `system_info.network.renderers` (or cloud-init's priority) under the
//! root, else the family's own; and the sysconfig flavour (RHEL/CentOS 6's
//! initscripts, 7 and later, or SUSE's `/etc/sysconfig/network`).

use std::path::Path;

use super::{Distro, DistroError, OsRelease};
use crate::rootfs::FsView;
use crate::value::Value;

/// Which variant of a renderer's output a distribution reads (the
/// renderers, `crate::net::render`, take it as given).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// RHEL/CentOS 7 and later (cloud-init's sysconfig output).
    Rhel,
    /// RHEL/CentOS 6: initscripts without NetworkManager's keys.
    Rhel6,
    /// openSUSE and SLES (cloud-init's `suse` variant, `distros/opensuse.py`
    /// and `sles.py`): `/etc/sysconfig/network/ifcfg-*` as wicked reads
    /// them (sysconfig's `flavor: suse`).
    Suse,
    /// Anything else (the renderer's one output).
    Default,
}

impl Distro {
    /// [`select_renderer`] for this distro's release, with `sys_cfg`'s
    /// `system_info.network.renderers`.
    pub fn select_renderer(
        &self,
        fs: &dyn FsView,
        sys_cfg: &Value,
    ) -> Result<(Choice, Vec<String>), DistroError> {
        select_renderer(fs, &self.release, sys_cfg)
    }

    /// [`flavor_for`] this distro's release.
    pub fn renderer_flavor(&self) -> Flavor {
        flavor_for(&self.release)
    }
}

/// `renderers.DEFAULT_PRIORITY`.
pub const DEFAULT_PRIORITY: &[&str] = &[
    "eni",
    "sysconfig",
    "netplan",
    "network-manager",
    "freebsd",
    "netbsd",
    "openbsd",
    "networkd",
];

/// The renderers cloudboot writes.
pub const IMPLEMENTED: &[&str] = &["eni", "sysconfig", "netplan", "networkd", "network-manager"];

/// `sysconfig.KNOWN_DISTROS`.
const SYSCONFIG_DISTROS: &[&str] = &[
    "almalinux",
    "centos",
    "cloudlinux",
    "eurolinux",
    "fedora",
    "miraclelinux",
    "openEuler",
    "openmandriva",
    "rhel",
    "rocky",
    "suse",
    "virtuozzo",
];

/// `subp.which(name, search=dirs, target=root)`.
fn which(fs: &dyn FsView, name: &str, dirs: &[&str]) -> bool {
    dirs.iter()
        .any(|d| fs.is_executable_file(&Path::new(d).join(name)))
}

fn is_file(fs: &dyn FsView, path: &str) -> bool {
    matches!(fs.stat(Path::new(path)), Some(s) if s.kind == crate::rootfs::Kind::File)
}

/// `systemctl is-enabled UNIT` succeeds, as far as the root's files say: a
/// link to it in a `.wants` directory of `/etc/systemd/system` (enabled) or
/// `/run/systemd/system` (enabled-runtime), and no mask (a link to
/// /dev/null) in `/etc/systemd/system`.
fn systemd_unit_enabled(fs: &dyn FsView, unit: &str) -> bool {
    let masked = fs
        .read_link(&Path::new("/etc/systemd/system").join(unit))
        .is_ok_and(|t| t == Path::new("/dev/null"));
    !masked
        && ["/etc/systemd/system", "/run/systemd/system"]
            .iter()
            .any(|dir| {
                fs.list_dir(Path::new(dir))
                    .unwrap_or_default()
                    .iter()
                    .filter(|d| d.ends_with(".wants"))
                    .any(|d| fs.exists(&Path::new(dir).join(d).join(unit)))
            })
}

/// Each renderer module's `available(target)`, read under the root.
/// network-manager's also asks, where systemd runs the root (22.4's
/// `uses_systemd()`), that NetworkManager.service be enabled: 22.4 runs
/// `systemctl is-enabled` on the machine, read here from the root's unit
/// links so a scratch root answers for itself.
pub fn available(fs: &dyn FsView, distro: &OsRelease, name: &str) -> bool {
    let sbin = ["/sbin", "/usr/sbin"];
    match name {
        "eni" => {
            ["ifquery", "ifup", "ifdown"]
                .iter()
                .all(|p| which(fs, p, &sbin))
                && is_file(fs, "/etc/network/interfaces")
        }
        "sysconfig" => {
            SYSCONFIG_DISTROS.contains(&distro.variant.as_str())
                && ["ifup", "ifdown"].iter().all(|p| which(fs, p, &sbin))
                && (is_file(fs, "/etc/sysconfig/network-scripts/network-functions")
                    || is_file(fs, "/etc/sysconfig/config"))
        }
        "netplan" => which(fs, "netplan", &["/usr/sbin", "/sbin"]),
        "networkd" => ["ip", "systemctl"]
            .iter()
            .all(|p| which(fs, p, &["/usr/sbin", "/bin"])),
        "network-manager" => {
            is_file(fs, "/etc/NetworkManager/NetworkManager.conf")
                && which(fs, "nmcli", &["/usr/bin", "/bin", "/usr/sbin", "/sbin"])
                && (!super::runs_systemd(fs) || systemd_unit_enabled(fs, "NetworkManager.service"))
        }
        _ => false,
    }
}

/// The renderer chosen, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    pub name: &'static str,
    pub flavor: Flavor,
    pub why: String,
}

/// The distribution family's own renderer: what cloudboot uses when
/// nothing in the priority list is available under the root (a bare image
/// tree, a root whose tools live elsewhere). cloud-init gives up there
/// (`RendererNotFoundError`); a preview or a minimal image still deserves
/// the files its distribution reads.
pub fn family_renderer(distro: &OsRelease) -> &'static str {
    match distro.variant.as_str() {
        v if SYSCONFIG_DISTROS.contains(&v) => "sysconfig",
        "ubuntu" => {
            // Ubuntu 17.10 and later read netplan.
            let major: u32 = distro
                .version_id
                .split('.')
                .next()
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            if major >= 18 {
                "netplan"
            } else {
                "eni"
            }
        }
        "debian" => "eni",
        "arch" | "photon" | "mariner" => "networkd",
        _ => "eni",
    }
}

/// The sysconfig flavour for a distribution: initscripts-only RHEL/CentOS 6,
/// 7 and later, or SUSE (the `suse` variant: openSUSE Leap and Tumbleweed,
/// SLES, SLE HPC, whose 22.4 distro classes give `flavor: suse`).
pub fn flavor_for(distro: &OsRelease) -> Flavor {
    let major = distro.version_id.split('.').next().unwrap_or("");
    let rhel_family = matches!(
        distro.variant.as_str(),
        "rhel" | "centos" | "cloudlinux" | "virtuozzo" | "eurolinux"
    );
    if distro.variant == "suse" {
        Flavor::Suse
    } else if rhel_family && major == "6" {
        Flavor::Rhel6
    } else if SYSCONFIG_DISTROS.contains(&distro.variant.as_str()) {
        Flavor::Rhel
    } else {
        Flavor::Default
    }
}

/// `renderers.select`: the first available renderer of
/// `system_info.network.renderers` (or the default priority). Names
/// cloud-init knows but cloudboot does not render (the BSDs) are passed
/// over with a note; unknown names are an error, as in
/// cloud-init.
pub fn select_renderer(
    fs: &dyn FsView,
    distro: &OsRelease,
    sys_cfg: &Value,
) -> Result<(Choice, Vec<String>), DistroError> {
    let mut notes = Vec::new();
    let configured: Option<Vec<String>> = sys_cfg
        .get("system_info")
        .and_then(|s| s.get("network"))
        .and_then(|n| n.get("renderers"))
        .and_then(Value::as_seq)
        .map(|s| s.iter().map(Value::python_str).collect());
    let priority: Vec<String> = configured
        .clone()
        .unwrap_or_else(|| DEFAULT_PRIORITY.iter().map(|s| s.to_string()).collect());
    let unknown: Vec<&String> = priority
        .iter()
        .filter(|n| !DEFAULT_PRIORITY.contains(&n.as_str()))
        .collect();
    if !unknown.is_empty() {
        return Err(DistroError::UnknownRenderers(
            unknown.into_iter().cloned().collect(),
        ));
    }
    let flavor = flavor_for(distro);
    for name in &priority {
        if !available(fs, distro, name) {
            continue;
        }
        match IMPLEMENTED.iter().find(|n| **n == name.as_str()) {
            Some(n) => {
                return Ok((
                    Choice {
                        name: n,
                        flavor,
                        why: format!("first available of {priority:?}"),
                    },
                    notes,
                ))
            }
            None => notes.push(format!(
                "renderer {name} is available but cloudboot does not write it; trying the next"
            )),
        }
    }
    // An explicit list that names one renderer is a choice, available or not.
    if let Some(list) = &configured {
        if let Some(n) = list
            .iter()
            .find_map(|n| IMPLEMENTED.iter().find(|i| **i == n.as_str()))
        {
            return Ok((
                Choice {
                    name: n,
                    flavor,
                    why: format!("none of {priority:?} available under the root; first listed"),
                },
                notes,
            ));
        }
    }
    let name = family_renderer(distro);
    Ok((
        Choice {
            name,
            flavor,
            why: format!(
                "none of {priority:?} available under the root; {name} for distro '{}'",
                if distro.id.is_empty() {
                    "unknown"
                } else {
                    &distro.id
                }
            ),
        },
        notes,
    ))
}

/// A CentOS 6 root as far as the renderer choice looks (release file,
/// executable ifup/ifdown, initscripts' network-functions), for tests here
/// and in `net::apply`.
#[cfg(test)]
pub const CENTOS6: [(&str, &str, u32); 4] = [
    (
        "/etc/redhat-release",
        "CentOS release 6.10 (Final)\n",
        0o644,
    ),
    ("/sbin/ifup", "#!/bin/sh\n", 0o755),
    ("/sbin/ifdown", "#!/bin/sh\n", 0o755),
    (
        "/etc/sysconfig/network-scripts/network-functions",
        "",
        0o644,
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::testing::root_with_modes as root_with;

    fn yaml(text: &str) -> Value {
        crate::yaml::load(text.as_bytes(), "t").unwrap()
    }

    #[test]
    fn renderer_choice_reads_the_root() {
        let (_t, fs) = root_with(&CENTOS6);
        let distro = OsRelease::read(&fs);
        let (c, _) = select_renderer(&fs, &distro, &Value::empty_map()).unwrap();
        assert_eq!((c.name, c.flavor), ("sysconfig", Flavor::Rhel6));

        let debian = [
            ("/etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n", 0o644),
            ("/sbin/ifup", "", 0o755),
            ("/sbin/ifdown", "", 0o755),
            ("/sbin/ifquery", "", 0o755),
            ("/etc/network/interfaces", "", 0o644),
            ("/usr/sbin/netplan", "", 0o755),
        ];
        let (_t, fs) = root_with(&debian);
        let distro = OsRelease::read(&fs);
        let (c, _) = select_renderer(&fs, &distro, &Value::empty_map()).unwrap();
        assert_eq!(c.name, "eni");
        let cfg = yaml("system_info: {network: {renderers: [netplan, eni]}}\n");
        let (c, _) = select_renderer(&fs, &distro, &cfg).unwrap();
        assert_eq!(c.name, "netplan");
        let cfg = yaml("system_info: {network: {renderers: [wicked]}}\n");
        assert!(select_renderer(&fs, &distro, &cfg).is_err());

        // A bare tree of CentOS 7: nothing available, the family's renderer.
        let (_t, fs) = root_with(&[(
            "/etc/os-release",
            "ID=\"centos\"\nVERSION_ID=\"7\"\n",
            0o644,
        )]);
        let distro = OsRelease::read(&fs);
        let (c, _) = select_renderer(&fs, &distro, &Value::empty_map()).unwrap();
        assert_eq!((c.name, c.flavor), ("sysconfig", Flavor::Rhel));

        // openSUSE and SLES: the SUSE layout.
        for (id, version) in [
            ("opensuse-leap", "15.4"),
            ("opensuse-tumbleweed", "20221201"),
            ("sles", "15.4"),
        ] {
            let (_t, fs) = root_with(&[(
                "/etc/os-release",
                &format!("ID=\"{id}\"\nVERSION_ID=\"{version}\"\n"),
                0o644,
            )]);
            let distro = OsRelease::read(&fs);
            let (c, _) = select_renderer(&fs, &distro, &Value::empty_map()).unwrap();
            assert_eq!((c.name, c.flavor), ("sysconfig", Flavor::Suse), "{id}");
        }
    }

    /// 22.4's `network_manager.available`: NetworkManager.conf, nmcli, and
    /// where systemd runs, `systemctl is-enabled NetworkManager.service`.
    #[test]
    fn network_manager_is_picked_where_it_is_installed_and_enabled() {
        let fedora = [
            ("/etc/os-release", "ID=fedora\nVERSION_ID=38\n", 0o644),
            ("/etc/NetworkManager/NetworkManager.conf", "[main]\n", 0o644),
            ("/usr/bin/nmcli", "", 0o755),
            ("/usr/lib/systemd/system/NetworkManager.service", "", 0o644),
        ];
        let (tmp, fs) = root_with(&fedora);
        let distro = OsRelease::read(&fs);
        // An image that is not running: what it has is enough.
        let (c, notes) = select_renderer(&fs, &distro, &Value::empty_map()).unwrap();
        assert_eq!(c.name, "network-manager");
        assert!(notes.is_empty(), "{notes:?}");
        // Running under systemd, with the service not enabled: not available.
        std::fs::create_dir_all(tmp.path().join("run/systemd/system")).unwrap();
        assert!(!available(&fs, &distro, "network-manager"));
        let (c, _) = select_renderer(&fs, &distro, &Value::empty_map()).unwrap();
        assert_eq!(c.name, "sysconfig", "fedora's own renderer");
        // Enabled (a link in a .wants directory): available.
        let wants = tmp
            .path()
            .join("etc/systemd/system/multi-user.target.wants");
        std::fs::create_dir_all(&wants).unwrap();
        std::os::unix::fs::symlink(
            "/usr/lib/systemd/system/NetworkManager.service",
            wants.join("NetworkManager.service"),
        )
        .unwrap();
        assert!(available(&fs, &distro, "network-manager"));
        // Masked: not.
        std::os::unix::fs::symlink(
            "/dev/null",
            tmp.path().join("etc/systemd/system/NetworkManager.service"),
        )
        .unwrap();
        assert!(!available(&fs, &distro, "network-manager"));
        // Without nmcli: not.
        let (_t, fs) = root_with(&fedora[..2]);
        assert!(!available(&fs, &distro, "network-manager"));
    }
}
