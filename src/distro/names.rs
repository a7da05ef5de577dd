//! The names the hostname methods are given, as cloud-init 22.4 finds
//! them: `util.get_hostname_fqdn` with the datasource's `get_hostname`
//! (meta-data `local-hostname`, the `ip-a-b-c-d` names, the fallback to
//! the running hostname and `/etc/hosts`).
//!
//! Where cloudboot has to stand in for the running machine, the running
//! hostname (`socket.gethostname()`, `hostname`) is the root's
//! `/proc/sys/kernel/hostname` (a live root's is the kernel's), else, for an
//! image that is not running, the name its init would set at boot (the
//! distro's hostname file), else `localhost`.

use std::path::Path;

use super::hostname::{family_of, Family, HOSTS_FN};
use super::hostname_conf::HostnameConf;
use super::hosts::fqdn_from_hosts;
use super::sysconfig::SysConf;
use super::{Distro, DistroError};
use crate::datasource::Instance;
use crate::py::str::strip as py_strip;
use crate::rootfs::FsView;
use crate::value::Value;

/// The value of a config key as a Python `str` method would see it: cloud-init
/// calls `str` methods on `hostname` and `fqdn`, which fail on anything else.
fn cfg_text<'a>(cfg: &'a Value, key: &str) -> Result<Option<&'a str>, DistroError> {
    match cfg.get(key) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.as_str())),
        Some(other) => Err(not_a_string(key, other)),
    }
}

/// A config value cloud-init calls `str` methods on that is no string.
fn not_a_string(key: &str, value: &Value) -> DistroError {
    DistroError::NotAString {
        key: key.to_string(),
        type_name: value.type_name(),
        value: value.python_str(),
    }
}

/// What `util.get_hostname_fqdn` returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Names {
    pub hostname: Option<String>,
    pub fqdn: Option<String>,
    /// The hostname is `localhost` and came from the running machine's
    /// default, not from config or meta-data.
    pub is_default: bool,
}

impl Distro {
    /// `socket.gethostname()` of the machine the root stands for (see the
    /// module documentation).
    pub fn running_hostname(&self, fs: &dyn FsView) -> String {
        if let Some(h) = fs.read_string(Path::new("/proc/sys/kernel/hostname")) {
            let h = h.trim_end_matches('\n');
            if !h.is_empty() {
                return h.to_string();
            }
        }
        self.static_hostname(fs)
            .unwrap_or_else(|| "localhost".into())
    }

    /// The name an image's init sets at boot: `HOSTNAME=` of
    /// `/etc/sysconfig/network` on a RHEL-family root without systemd, else
    /// `/etc/hostname`.
    fn static_hostname(&self, fs: &dyn FsView) -> Option<String> {
        // The root's own release, whatever `system_info.distro` says.
        let sysv_rhel = family_of(&self.release.variant)
            .map(|(f, _)| f == Family::Redhat && !self.systemd)
            .unwrap_or(false);
        if sysv_rhel {
            let text = fs.read_string(Path::new("/etc/sysconfig/network"))?;
            return SysConf::parse(&text)
                .ok()
                .and_then(|c| c.get("HOSTNAME").ok().flatten().map(str::to_string))
                .filter(|h| !h.is_empty());
        }
        let text = fs.read_string(Path::new("/etc/hostname"))?;
        HostnameConf::parse(&text)
            .ok()
            .and_then(|c| c.hostname().map(|h| py_strip(h).to_string()))
            .filter(|h| !h.is_empty())
    }

    /// `DataSource.get_hostname(fqdn, resolve_ip=False, metadata_only)`:
    /// the name and `is_default`; `None` only with `metadata_only` when
    /// meta-data has no `local-hostname`.
    pub fn datasource_hostname(
        &self,
        instance: &Instance,
        fs: &dyn FsView,
        fqdn: bool,
        metadata_only: bool,
    ) -> (Option<String>, bool) {
        const DEFDOMAIN: &str = "localdomain";
        let mut is_default = false;
        let toks: Vec<String> = match instance.local_hostname() {
            None => {
                if metadata_only {
                    return (None, false);
                }
                let hostname = self.running_hostname(fs);
                if hostname == "localhost" {
                    is_default = true;
                }
                let hosts = fs.read_string(Path::new(HOSTS_FN)).unwrap_or_default();
                let hosts_fqdn = fqdn_from_hosts(&hosts, &hostname);
                match hosts_fqdn {
                    Some(h) if h.find('.').is_some_and(|i| i > 0) => {
                        h.split('.').map(str::to_string).collect()
                    }
                    _ if hostname.find('.').is_some_and(|i| i > 0) => {
                        hostname.split('.').map(str::to_string).collect()
                    }
                    _ if !hostname.is_empty() => vec![hostname, DEFDOMAIN.into()],
                    _ => vec!["localhost".into(), DEFDOMAIN.into()],
                }
            }
            Some(lhost) => {
                if lhost.parse::<std::net::Ipv4Addr>().is_ok() {
                    vec![format!("ip-{}", lhost.replace('.', "-"))]
                } else {
                    lhost.split('.').map(str::to_string).collect()
                }
            }
        };
        let mut hostname = toks[0].clone();
        let domain = if toks.len() > 1 {
            toks[1..].join(".")
        } else {
            DEFDOMAIN.to_string()
        };
        if fqdn && domain != DEFDOMAIN {
            hostname = format!("{hostname}.{domain}");
        }
        (Some(hostname), is_default)
    }

    /// `util.get_hostname_fqdn(cfg, cloud, metadata_only)`. An error is what
    /// makes cloud-init raise (a `hostname` or `fqdn` that is not a string).
    pub fn hostname_fqdn(
        &self,
        cfg: &Value,
        instance: &Instance,
        fs: &dyn FsView,
        metadata_only: bool,
    ) -> Result<Names, DistroError> {
        if let Some(fqdn_v) = cfg.get("fqdn") {
            // The user gave an fqdn; the default hostname is its first label.
            let fqdn = match fqdn_v {
                Value::Str(s) => s.clone(),
                other => return Err(not_a_string("fqdn", other)),
            };
            let hostname = match cfg.get("hostname") {
                Some(v) => v.python_str(),
                None => fqdn.split('.').next().unwrap_or_default().to_string(),
            };
            return Ok(Names {
                hostname: Some(hostname),
                fqdn: Some(fqdn),
                is_default: false,
            });
        }
        let hostname_cfg = cfg_text(cfg, "hostname")?;
        if let Some(h) = hostname_cfg.filter(|h| h.find('.').is_some_and(|i| i > 0)) {
            let dot = h.find('.').unwrap_or(h.len());
            return Ok(Names {
                hostname: Some(h[..dot].to_string()),
                fqdn: Some(h.to_string()),
                is_default: false,
            });
        }
        let (fqdn, _) = self.datasource_hostname(instance, fs, true, metadata_only);
        let (hostname, is_default) = match hostname_cfg {
            Some(h) => (Some(h.to_string()), false),
            None => self.datasource_hostname(instance, fs, false, metadata_only),
        };
        Ok(Names {
            hostname,
            fqdn,
            is_default,
        })
    }
}
