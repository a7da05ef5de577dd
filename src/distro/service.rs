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

/// What `distro.manage_service` is asked to do to a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceAction {
    Stop,
    Start,
    Enable,
    Disable,
    Restart,
    /// systemd's `reload-or-restart`; a restart elsewhere.
    Reload,
    /// systemd's `reload-or-try-restart` (nothing when it is stopped); a
    /// restart elsewhere.
    TryReload,
    Status,
}

impl Distro {
    /// `distro.manage_service(action, service)` as cloud-init 22.4 builds
    /// the command: `systemctl` where systemd runs the root or the class
    /// only has systemd (Arch, Photon, Mariner), OpenRC's `rc-service`
    /// (`--nocolor` on Alpine) on Alpine, Gentoo and COS, else
    /// `service NAME ACTION` with SysV's words (`enable` starts, `disable`
    /// stops, both reloads restart).
    pub fn manage_service(&self, action: ServiceAction, service: &str) -> Vec<String> {
        use ServiceAction::*;
        let init_cmd: &[&str] = match self.name.as_str() {
            "alpine" => {
                // alpine.py: `rc-service` for the service, `rc-update` to
                // add it to or drop it from the runlevel.
                let argv: [&str; 4] = match action {
                    Enable => ["rc-update", "--nocolor", "add", service],
                    Disable => ["rc-update", "--nocolor", "del", service],
                    _ => ["rc-service", "--nocolor", service, sysv_verb(action)],
                };
                return argv.map(String::from).to_vec();
            }
            "gentoo" | "cos" => &["rc-service"],
            "arch" | "photon" | "mariner" => &["systemctl"],
            _ => &["service"],
        };
        if self.uses_systemd() || init_cmd.contains(&"systemctl") {
            let verb = match action {
                Stop => "stop",
                Start => "start",
                Enable => "enable",
                Disable => "disable",
                Restart => "restart",
                Reload => "reload-or-restart",
                TryReload => "reload-or-try-restart",
                Status => "status",
            };
            return vec!["systemctl".into(), verb.into(), service.into()];
        }
        init_cmd
            .iter()
            .map(|s| s.to_string())
            .chain([service.to_string(), sysv_verb(action).into()])
            .collect()
    }
}

/// The word a SysV-style init command takes for `action`.
fn sysv_verb(action: ServiceAction) -> &'static str {
    use ServiceAction::*;
    match action {
        Stop | Disable => "stop",
        Start | Enable => "start",
        Restart | Reload | TryReload => "restart",
        Status => "status",
    }
}

/// The ssh service of `distro` (`systemd`: cloud-init's `uses_systemd()`;
/// `system_info` for `ssh_svcname`).
pub fn ssh_service(distro: &str, system_info: &Value, systemd: bool) -> SshService {
    let configured = system_info
        .get("ssh_svcname")
        .filter(|v| !v.is_null())
        .map(Value::python_str);
    let (service, init_cmd): (String, &[&str]) = match distro {
        "alpine" => {
            let argv = |action: &str| {
                ["rc-service", "--nocolor", "sshd", action]
                    .map(String::from)
                    .to_vec()
            };
            return SshService {
                name: "sshd".into(),
                status: argv("status"),
                restart: argv("restart"),
            };
        }
        "almalinux" | "amazon" | "centos" | "cloudlinux" | "eurolinux" | "fedora"
        | "miraclelinux" | "openEuler" | "openmandriva" | "rhel" | "redhat" | "rocky"
        | "virtuozzo" => ("sshd".into(), &["service"]),
        "arch" => ("sshd".into(), &["systemctl"]),
        "opensuse"
        | "opensuse-leap"
        | "opensuse-microos"
        | "opensuse-tumbleweed"
        | "sles"
        | "sle_hpc"
        | "sle-micro"
        | "suse" => {
            if systemd {
                ("sshd.service".into(), &["systemctl"])
            } else {
                ("sshd".into(), &["service"])
            }
        }
        "gentoo" | "cos" => ("/etc/init.d/sshd".into(), &["rc-service"]),
        "photon" | "mariner" => (configured.unwrap_or_else(|| "ssh".into()), &["systemctl"]),
        _ => (configured.unwrap_or_else(|| "ssh".into()), &["service"]),
    };
    let argv = |action: &str| -> Vec<String> {
        if systemd || init_cmd.contains(&"systemctl") {
            vec!["systemctl".into(), action.into(), service.clone()]
        } else {
            init_cmd
                .iter()
                .map(|s| s.to_string())
                .chain([service.clone(), action.into()])
                .collect()
        }
    };
    SshService {
        status: argv("status"),
        restart: argv("restart"),
        name: service,
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

    fn distro(name: &str, systemd: bool) -> Distro {
        let fs = crate::plan::Overlay::empty();
        Distro {
            name: name.into(),
            systemd,
            ..Distro::detect(&fs, &Value::empty_map())
        }
    }

    #[test]
    fn manage_service_as_22_4_builds_it() {
        use ServiceAction::*;
        let cmd = |d: &str, systemd: bool, action| {
            distro(d, systemd).manage_service(action, "ntp").join(" ")
        };
        assert_eq!(
            cmd("debian", true, Reload),
            "systemctl reload-or-restart ntp"
        );
        assert_eq!(
            cmd("debian", true, TryReload),
            "systemctl reload-or-try-restart ntp"
        );
        assert_eq!(cmd("debian", false, Reload), "service ntp restart");
        assert_eq!(cmd("centos", false, Enable), "service ntp start");
        assert_eq!(cmd("arch", false, Enable), "systemctl enable ntp");
        assert_eq!(cmd("gentoo", false, Status), "rc-service ntp status");
        assert_eq!(
            cmd("alpine", true, Reload),
            "rc-service --nocolor ntp restart"
        );
        assert_eq!(cmd("alpine", false, Enable), "rc-update --nocolor add ntp");
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
