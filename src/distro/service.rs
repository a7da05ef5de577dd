//! Services as the distro classes drive them (`distro.manage_service`):
//! `systemctl ACTION NAME` where systemd runs the root (or the distro only
//! has systemd), else the distro's init command: SysV's (and upstart's)
//! `service NAME ACTION` on the Red Hat family, Debian/Ubuntu without
//! systemd and SUSE without systemd, OpenRC's `rc-service` on Alpine and
//! Gentoo. The ssh service is `ssh` on Debian/Ubuntu
//! (`system_info.ssh_svcname` overrides), `sshd` on the Red Hat family,
//! Arch, Alpine and SUSE (`sshd.service` with systemd). Whether systemd
//! runs is [`Distro::systemd`]; Alpine's class says no whatever runs.

use super::Distro;
use crate::value::Value;

/// The ssh service as the distro's `manage_service` drives it.
#[derive(Clone, Debug, PartialEq)]
pub struct SshService {
    /// `ssh_svcname` (`ssh`, `sshd`, `sshd.service`, ...), as cloud-init
    /// names it in its messages.
    pub name: String,
    pub status: Vec<String>,
    pub restart: Vec<String>,
}

impl Distro {
    /// The ssh service of this distro (cloud-init's `init_cmd` and
    /// `ssh_svcname`; `system_info.ssh_svcname` where the distro does not
    /// force its own).
    pub fn ssh_service(&self) -> SshService {
        ssh_service(&self.name, &self.system_info, self.systemd)
    }

    /// `distro.uses_systemd()`: the root's init is systemd, except on
    /// Alpine, whose class says no whatever runs.
    pub fn uses_systemd(&self) -> bool {
        self.systemd && self.name != "alpine"
    }
}

/// `distro.manage_service(action, service)`: the command that does
/// `action` (`stop`, `start`, `enable`, `disable`, `restart`, `reload`,
/// `try-reload`, `status`) to `service` on `distro` (`systemd`: cloud-init's
/// `uses_systemd()`). systemctl where systemd runs or the distro's
/// `init_cmd` is systemctl, OpenRC's two commands on Alpine, else the
/// distro's init command (`service NAME ACTION`), where enable is start,
/// disable stop, and both reloads restart.
pub fn service_command(distro: &str, systemd: bool, action: &str, service: &str) -> Vec<String> {
    let words: Vec<&str> = if distro == "alpine" {
        match action {
            "disable" => vec!["rc-update", "--nocolor", "del", service],
            "enable" => vec!["rc-update", "--nocolor", "add", service],
            "reload" | "try-reload" => vec!["rc-service", "--nocolor", service, "restart"],
            _ => vec!["rc-service", "--nocolor", service, action],
        }
    } else if systemd || init_cmd(distro) == ["systemctl"] {
        let verb = match action {
            "reload" => "reload-or-restart",
            "try-reload" => "reload-or-try-restart",
            other => other,
        };
        vec!["systemctl", verb, service]
    } else {
        let verb = match action {
            "enable" => "start",
            "disable" => "stop",
            "reload" | "try-reload" => "restart",
            other => other,
        };
        let mut argv = init_cmd(distro).to_vec();
        argv.extend([service, verb]);
        argv
    };
    words.into_iter().map(String::from).collect()
}

/// The distro class's `init_cmd` (what runs services without systemd).
fn init_cmd(distro: &str) -> &'static [&'static str] {
    match distro {
        "arch" | "photon" | "mariner" => &["systemctl"],
        "gentoo" | "cos" => &["rc-service"],
        _ => &["service"],
    }
}

impl Distro {
    /// `distro.manage_service(action, service)` (see [`service_command`]).
    pub fn manage_service(&self, action: &str, service: &str) -> Vec<String> {
        service_command(&self.name, self.uses_systemd(), action, service)
    }
}

/// The ssh service of `distro` (`systemd`: cloud-init's `uses_systemd()`;
/// `system_info` for `ssh_svcname`).
pub fn ssh_service(distro: &str, system_info: &Value, systemd: bool) -> SshService {
    let configured = system_info
        .get("ssh_svcname")
        .filter(|v| !v.is_null())
        .map(Value::python_str);
    let name: String = match distro {
        "alpine" => "sshd".into(),
        "almalinux" | "amazon" | "centos" | "cloudlinux" | "eurolinux" | "fedora"
        | "miraclelinux" | "openEuler" | "openmandriva" | "rhel" | "redhat" | "rocky"
        | "virtuozzo" | "arch" => "sshd".into(),
        "opensuse"
        | "opensuse-leap"
        | "opensuse-microos"
        | "opensuse-tumbleweed"
        | "sles"
        | "sle_hpc"
        | "sle-micro"
        | "suse" => {
            if systemd {
                "sshd.service".into()
            } else {
                "sshd".into()
            }
        }
        "gentoo" | "cos" => "/etc/init.d/sshd".into(),
        _ => configured.unwrap_or_else(|| "ssh".into()),
    };
    SshService {
        status: service_command(distro, systemd, "status", &name),
        restart: service_command(distro, systemd, "restart", &name),
        name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        crate::yaml::load(text.as_bytes(), "t").unwrap()
    }

    /// [`super::ssh_service`] given a whole config, as the module read it.
    fn ssh_service(distro: &str, cfg: &Value, systemd: bool) -> SshService {
        super::ssh_service(
            distro,
            cfg.get("system_info").unwrap_or(&Value::Null),
            systemd,
        )
    }

    #[test]
    fn service_commands_per_distro() {
        let cfg = yaml("{}");
        let cmd = |d: &str, systemd: bool| {
            let svc = ssh_service(d, &cfg, systemd);
            format!("{} / {}", svc.status.join(" "), svc.restart.join(" "))
        };
        assert_eq!(
            cmd("debian", true),
            "systemctl status ssh / systemctl restart ssh"
        );
        assert_eq!(
            cmd("ubuntu", false),
            "service ssh status / service ssh restart"
        );
        assert_eq!(
            cmd("centos", false),
            "service sshd status / service sshd restart"
        );
        assert_eq!(
            cmd("rhel", true),
            "systemctl status sshd / systemctl restart sshd"
        );
        assert_eq!(
            cmd("arch", false),
            "systemctl status sshd / systemctl restart sshd"
        );
        assert_eq!(
            cmd("alpine", true),
            "rc-service --nocolor sshd status / rc-service --nocolor sshd restart"
        );
        assert_eq!(
            cmd("sles", true),
            "systemctl status sshd.service / systemctl restart sshd.service"
        );
        assert_eq!(
            cmd("opensuse", false),
            "service sshd status / service sshd restart"
        );
        assert_eq!(
            cmd("gentoo", false),
            "rc-service /etc/init.d/sshd status / rc-service /etc/init.d/sshd restart"
        );
        // system_info.ssh_svcname is read where the distro does not force it.
        let cfg = yaml("system_info: {ssh_svcname: openssh}");
        assert_eq!(
            ssh_service("debian", &cfg, true).status,
            ["systemctl", "status", "openssh"]
        );
        assert_eq!(
            ssh_service("centos", &cfg, true).status,
            ["systemctl", "status", "sshd"]
        );
    }
}
