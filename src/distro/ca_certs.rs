//! Where each distro keeps its trusted CA certificates and how it rebuilds
//! its bundle, as cloud-init 22.4's `cc_ca_certs` tables them
//! (`DEFAULT_CONFIG`, `DISTRO_OVERRIDES`, looked up by the distro's name):
//! Debian's layout and `update-ca-certificates` for every distro but `rhel`,
//! whose anchors go under `/usr/share/pki/ca-trust-source/` and whose
//! bundle `update-ca-trust` rebuilds. Debian and Ubuntu are also told, when
//! the defaults are removed, not to trust the certificates new packages
//! bring (debconf).

use super::Distro;
use crate::effect::{Command, Data};

/// One distro's certificate layout (22.4's keys).
#[derive(Clone, Debug, PartialEq)]
pub struct CaCerts {
    /// `ca_cert_path`: where certificates are kept (emptied by
    /// `remove_defaults`).
    pub cert_path: &'static str,
    /// `ca_cert_filename`: cloud-init's own file, under `cert_path`, as the
    /// config file names it.
    pub cert_filename: &'static str,
    /// `ca_cert_config`: the list of certificates to trust, if the distro
    /// has one.
    pub config: Option<&'static str>,
    /// `ca_cert_system_path`: the built bundle (emptied by
    /// `remove_defaults`).
    pub system_path: &'static str,
    /// `ca_cert_update_cmd`: rebuilds the bundle.
    pub update_cmd: &'static [&'static str],
}

/// 22.4's `DEFAULT_CONFIG`.
const DEFAULT: CaCerts = CaCerts {
    cert_path: "/usr/share/ca-certificates/",
    cert_filename: "cloud-init-ca-certs.crt",
    config: Some("/etc/ca-certificates.conf"),
    system_path: "/etc/ssl/certs/",
    update_cmd: &["update-ca-certificates"],
};

/// 22.4's `DISTRO_OVERRIDES["rhel"]`.
const RHEL: CaCerts = CaCerts {
    cert_path: "/usr/share/pki/ca-trust-source/",
    cert_filename: "anchors/cloud-init-ca-certs.crt",
    config: None,
    system_path: "/etc/pki/ca-trust/",
    update_cmd: &["update-ca-trust"],
};

impl CaCerts {
    /// `ca_cert_full_path`: cloud-init's certificate file.
    pub fn full_path(&self) -> String {
        format!("{}{}", self.cert_path, self.cert_filename)
    }

    /// The command that rebuilds the bundle.
    pub fn update_command(&self) -> Command {
        Command::new(self.update_cmd.iter().copied())
    }
}

impl Distro {
    /// The certificate layout for this distro's name (only `rhel` differs
    /// from Debian's in 22.4; `centos` and the other RHEL-likes get
    /// Debian's, and 22.4 runs the module on `alpine`, `debian`, `ubuntu`
    /// and `rhel` only).
    pub fn ca_certs(&self) -> CaCerts {
        match self.name.as_str() {
            "rhel" => RHEL,
            _ => DEFAULT,
        }
    }

    /// What `remove_defaults` runs besides emptying the directories:
    /// Debian and Ubuntu are told not to trust new packages' certificates.
    pub fn ca_certs_distrust_new(&self) -> Option<Command> {
        matches!(self.name.as_str(), "debian" | "ubuntu").then(|| {
            let mut cmd = Command::new(["debconf-set-selections", "-"]);
            cmd.stdin = Some(Data::public(
                "ca-certificates ca-certificates/trust_new_crts select no",
            ));
            cmd
        })
    }
}
