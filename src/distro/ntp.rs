//! NTP clients as cloud-init 22.4's `cc_ntp` knows them, per distro: each
//! client's config (`NTP_CLIENT_CONFIG`: the program that shows it is
//! installed, the config file, the packages, the service, the template),
//! with the distro's overrides (`DISTRO_CLIENT_CONFIG`: Debian and Ubuntu
//! keep chrony's config in `/etc/chrony/chrony.conf`; the Red Hat family
//! names the services `chronyd` and `ntpd`), the distro class's preferred
//! clients (`preferred_ntp_clients`), the default pool names
//! (`generate_server_names`), and which client is in the root
//! (`subp.which(check_exe)`). Decisions only: the module renders (the
//! template found by [`Distro::template_path`]) and writes.

use std::path::Path;

use super::accounts::SEARCH_PATH;
use super::Distro;
use crate::rootfs::FsView;
use crate::value::{Mapping, Value};

/// The clients 22.4 knows by name (`NTP_CLIENT_CONFIG`).
pub const NTP_CLIENTS: [&str; 5] = ["chrony", "ntp", "ntpdate", "openntpd", "systemd-timesyncd"];

/// `NR_POOL_SERVERS`.
const NR_POOL_SERVERS: usize = 4;

/// One client's settings: (key, value) pairs, `packages` a list.
struct ClientConfig {
    check_exe: &'static str,
    confpath: &'static str,
    packages: &'static [&'static str],
    service_name: &'static str,
    template_name: &'static str,
}

/// `NTP_CLIENT_CONFIG[client]`.
fn base_config(client: &str) -> Option<ClientConfig> {
    let c = |check_exe, confpath, packages, service_name, template_name| ClientConfig {
        check_exe,
        confpath,
        packages,
        service_name,
        template_name,
    };
    Some(match client {
        "chrony" => c(
            "chronyd",
            "/etc/chrony.conf",
            &["chrony"],
            "chrony",
            "chrony.conf.{distro}",
        ),
        "ntp" => c(
            "ntpd",
            "/etc/ntp.conf",
            &["ntp"],
            "ntp",
            "ntp.conf.{distro}",
        ),
        "ntpdate" => c(
            "ntpdate",
            "/etc/ntp.conf",
            &["ntpdate"],
            "ntpdate",
            "ntp.conf.{distro}",
        ),
        "openntpd" => c("ntpd", "/etc/ntpd.conf", &[], "ntpd", "ntpd.conf.{distro}"),
        "systemd-timesyncd" => c(
            "/lib/systemd/systemd-timesyncd",
            "/etc/systemd/timesyncd.conf.d/cloud-init.conf",
            &[],
            "systemd-timesyncd",
            "timesyncd.conf",
        ),
        _ => return None,
    })
}

/// `DISTRO_CLIENT_CONFIG[distro][client]`: the keys a distro changes.
fn distro_overrides(distro: &str, client: &str) -> &'static [(&'static str, &'static str)] {
    match (distro, client) {
        ("alpine", "chrony") => &[
            ("confpath", "/etc/chrony/chrony.conf"),
            ("service_name", "chronyd"),
        ],
        ("alpine", "ntp") => &[("confpath", "/etc/ntp.conf"), ("service_name", "ntpd")],
        ("centos" | "rhel", "ntp") => &[("service_name", "ntpd")],
        (
            "centos" | "rhel" | "mariner" | "openmandriva" | "opensuse" | "photon" | "sles",
            "chrony",
        ) => &[("service_name", "chronyd")],
        ("cos", "chrony") => &[
            ("service_name", "chronyd"),
            ("confpath", "/etc/chrony/chrony.conf"),
        ],
        ("debian" | "ubuntu", "chrony") => &[("confpath", "/etc/chrony/chrony.conf")],
        ("freebsd", "ntp") => &[
            ("confpath", "/etc/ntp.conf"),
            ("service_name", "ntpd"),
            ("template_name", "ntp.conf.{distro}"),
        ],
        ("freebsd", "chrony") => &[
            ("confpath", "/usr/local/etc/chrony.conf"),
            ("service_name", "chronyd"),
            ("template_name", "chrony.conf.{distro}"),
        ],
        ("freebsd", "openntpd") => &[
            ("check_exe", "/usr/local/sbin/ntpd"),
            ("confpath", "/usr/local/etc/ntp.conf"),
            ("service_name", "openntpd"),
            ("template_name", "ntpd.conf.openbsd"),
        ],
        ("mariner" | "photon", "systemd-timesyncd") => &[
            ("check_exe", "/usr/lib/systemd/systemd-timesyncd"),
            ("confpath", "/etc/systemd/timesyncd.conf"),
        ],
        ("openmandriva" | "opensuse" | "photon" | "sles", "ntp") => {
            &[("confpath", "/etc/ntp.conf"), ("service_name", "ntpd")]
        }
        ("opensuse" | "sles", "systemd-timesyncd") => {
            &[("check_exe", "/usr/lib/systemd/systemd-timesyncd")]
        }
        _ => &[],
    }
}

impl Distro {
    /// `distro_ntp_client_configs(distro.name)[client]`: the client's
    /// settings on this distro as a mapping (`check_exe`, `confpath`,
    /// `packages`, `service_name`, `template_name`, `template: None`), or
    /// `None` for a client 22.4 does not know.
    pub fn ntp_client_config(&self, client: &str) -> Option<Mapping> {
        let base = base_config(client)?;
        let mut m = Mapping::new();
        let mut set = |k: &str, v: Value| m.insert(Value::str(k), v);
        set("check_exe", Value::str(base.check_exe));
        set("confpath", Value::str(base.confpath));
        let packages = match (self.name.as_str(), client) {
            // Alpine's ntp is busybox's; FreeBSD's chrony and openntpd
            // come as packages.
            ("alpine", "ntp") => Vec::new(),
            ("freebsd", "chrony") => vec![Value::str("chrony")],
            ("freebsd", "openntpd") => vec![Value::str("openntpd")],
            _ => base.packages.iter().map(|p| Value::str(*p)).collect(),
        };
        set("packages", Value::Seq(packages));
        set("service_name", Value::str(base.service_name));
        set("template_name", Value::str(base.template_name));
        set("template", Value::Null);
        for (k, v) in distro_overrides(&self.name, client) {
            set(k, Value::str(*v));
        }
        Some(m)
    }

    /// `distro.preferred_ntp_clients`: chrony, systemd-timesyncd, ntp,
    /// ntpdate; Alpine's class says chrony, ntp. (openSUSE's depends on
    /// its version: ntp first before 15.)
    pub fn preferred_ntp_clients(&self) -> &'static [&'static str] {
        match self.name.as_str() {
            "alpine" => &["chrony", "ntp"],
            "opensuse"
            | "opensuse-leap"
            | "opensuse-microos"
            | "opensuse-tumbleweed"
            | "sles"
            | "sle_hpc"
            | "sle-micro"
            | "suse" => {
                let major: u32 = self
                    .release
                    .version_id
                    .split('.')
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                if major >= 15 && major != 42 {
                    &["chrony", "systemd-timesyncd", "ntp"]
                } else {
                    &["ntp", "systemd-timesyncd", "chrony"]
                }
            }
            _ => &["chrony", "systemd-timesyncd", "ntp", "ntpdate"],
        }
    }

    /// `generate_server_names(distro.name)`: `{0-3}.<distro>.pool.ntp.org`
    /// (SLES uses openSUSE's pool; Alpine and EuroLinux the global one).
    pub fn ntp_pool_names(&self) -> Vec<String> {
        let pool = match self.name.as_str() {
            "sles" => "opensuse",
            "alpine" | "eurolinux" => "",
            other => other,
        };
        (0..NR_POOL_SERVERS)
            .map(|i| {
                [i.to_string().as_str(), pool, "pool.ntp.org"]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join(".")
            })
            .collect()
    }
}

/// `subp.which(check_exe)` in the root: a name with a `/` is that path
/// (from `/`), else the first executable of that name on the search path.
pub fn ntp_client_installed(fs: &dyn FsView, check_exe: &str) -> bool {
    if check_exe.contains('/') {
        let path = Path::new("/").join(check_exe);
        return fs.is_executable_file(&path);
    }
    !check_exe.is_empty()
        && SEARCH_PATH
            .iter()
            .any(|d| fs.is_executable_file(&Path::new(d).join(check_exe)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distro(name: &str) -> Distro {
        let fs = crate::plan::Overlay::empty();
        Distro {
            name: name.into(),
            ..Distro::detect(&fs, &Value::empty_map())
        }
    }

    #[test]
    fn client_configs_follow_the_distro() {
        let get = |d: &str, c: &str, k: &str| {
            distro(d)
                .ntp_client_config(c)
                .unwrap()
                .get(k)
                .unwrap()
                .python_str_any()
        };
        assert_eq!(
            get("debian", "chrony", "confpath"),
            "/etc/chrony/chrony.conf"
        );
        assert_eq!(get("debian", "chrony", "service_name"), "chrony");
        assert_eq!(get("rhel", "chrony", "confpath"), "/etc/chrony.conf");
        assert_eq!(get("centos", "chrony", "service_name"), "chronyd");
        assert_eq!(get("centos", "ntp", "service_name"), "ntpd");
        assert_eq!(get("debian", "ntp", "packages"), "['ntp']");
        assert_eq!(
            get("ubuntu", "systemd-timesyncd", "confpath"),
            "/etc/systemd/timesyncd.conf.d/cloud-init.conf"
        );
        assert!(distro("debian").ntp_client_config("xntp").is_none());
        assert_eq!(
            distro("sles").ntp_pool_names()[3],
            "3.opensuse.pool.ntp.org"
        );
        assert_eq!(distro("alpine").ntp_pool_names()[0], "0.pool.ntp.org");
    }
}
