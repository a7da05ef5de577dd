//! `dhcp-sets-hostname`: a hook of the image's DHCP client that gives the
//! machine the name the DHCP server sends, over the one cloud-init set.
//!
//! What does not, and is not flagged (the stock images):
//! - EL's dhclient-script sets the DHCP name only when `need_hostname`: the
//!   current name is empty, `localhost` or `localhost.localdomain`. After
//!   cloud-init set the instance's name, renewals keep it.
//! - Debian's dhclient-script `set_hostname` only replaces an empty,
//!   `(none)` or `localhost` name, or the name the last lease gave
//!   (`$old_host_name`), never one set by someone else.
//! - NetworkManager (any `hostname-mode`, `dhcp` included) only sets the
//!   transient hostname, and never while a valid static hostname is set
//!   (NetworkManager.conf(5); 0.8's policy puts the configured hostname
//!   first too). cloud-init's `set_hostname`/`update_hostname` write the
//!   static one (`/etc/hostname`, `hostnamectl set-hostname`, EL6's
//!   `HOSTNAME=` in /etc/sysconfig/network).
//! - systemd-networkd's `UseHostname=` goes through hostnamed, which keeps
//!   a static hostname over the transient one.
//!
//! What does, and is flagged: a hook that sets the hostname to the DHCP
//! name with no check of the current one: a dhclient enter/exit hook
//! (`/etc/dhcp/dhclient-{enter,exit}-hooks` and their `.d` directories,
//! EL's `/etc/dhcp/dhclient.d/*.sh`) running `hostname $new_host_name`,
//! `hostnamectl set-hostname $new_host_name` or writing `/etc/hostname`,
//! or a NetworkManager dispatcher script doing so with `$DHCP4_HOST_NAME`.
//! It runs at every bind and renewal, after cloud-init set the name: the
//! machine takes the DHCP server's name (`ip-10-0-0-5`), and a hook that
//! writes `/etc/hostname` keeps it across reboots. A hook whose text
//! compares the name with `localhost`, `(none)` or `$old_host_name` is taken
//! as guarded, as the distros' own are.
//!
//! The fix keeps the hook but out of the way: it is renamed to
//! `NAME.disabled-by-cloudboot` without execute bits, a name none of the
//! clients runs (run-parts' names have no dot; EL's dhclient.d runs
//! `*.sh`; NetworkManager's dispatcher runs only executable files).

use std::path::Path;

use super::registry::Check;
use super::{Evidence, Finding, Image, Severity};
use crate::effect::{Data, Effect};
use crate::rootfs::Kind;

pub const CHECK: Check = Check {
    id: "dhcp-sets-hostname",
    about: "DHCP may replace the hostname cloud-init sets",
    run,
};

const DISABLED_SUFFIX: &str = ".disabled-by-cloudboot";

/// The variables that hold the DHCP server's name: dhclient's (both
/// dhclient-scripts hand them to the hooks) and NetworkManager's
/// dispatcher environment.
const DHCP_NAMES: &[&str] = &[
    "new_host_name",
    "new_fqdn_fqdn",
    "DHCP4_HOST_NAME",
    "DHCP6_FQDN_FQDN",
];

fn run(image: &Image) -> Vec<Finding> {
    let mut hooks: Vec<String> = Vec::new();
    // Single hook files: Debian sources them when they are files, EL when
    // they are executable (EL5 kept them in /etc).
    for f in [
        "/etc/dhcp/dhclient-enter-hooks",
        "/etc/dhcp/dhclient-exit-hooks",
        "/etc/dhclient-enter-hooks",
        "/etc/dhclient-exit-hooks",
    ] {
        hooks.push(f.to_string());
    }
    // Debian's hook directories, read by `run-parts --list`: names of
    // letters, digits, `_` and `-` only.
    for dir in [
        "/etc/dhcp/dhclient-enter-hooks.d",
        "/etc/dhcp/dhclient-exit-hooks.d",
    ] {
        for name in image.list(dir) {
            if name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                hooks.push(format!("{dir}/{name}"));
            }
        }
    }
    // EL's dhclient-script sources the executable `*.sh` of dhclient.d,
    // NetworkManager's dispatcher runs the executable files of its dir.
    for (dir, suffix) in [
        ("/etc/dhcp/dhclient.d", ".sh"),
        ("/etc/NetworkManager/dispatcher.d", ""),
    ] {
        for name in image.list(dir) {
            let path = format!("{dir}/{name}");
            if name.ends_with(suffix) && image.fs.is_executable_file(Path::new(&path)) {
                hooks.push(path);
            }
        }
    }
    hooks
        .iter()
        .filter_map(|path| examine(image, path))
        .collect()
}

fn examine(image: &Image, path: &str) -> Option<Finding> {
    let st = image.fs.lstat(Path::new(path))?;
    if st.kind != Kind::File {
        return None;
    }
    let text = image.text(path)?;
    let lines = sets_dhcp_name(&text);
    if lines.is_empty() {
        return None;
    }
    let evidence = lines
        .iter()
        .map(|&n| {
            Evidence::line(
                path,
                n,
                text.lines().nth(n - 1).unwrap_or("").trim().to_string(),
            )
        })
        .collect();
    let disabled = format!("{path}{DISABLED_SUFFIX}");
    let raw = image.fs.read_at_most(Path::new(path), 1 << 20).ok()?;
    let fixes = if raw.len() > 1 << 20 {
        Vec::new()
    } else {
        vec![
            Effect::write(&disabled, Data::public(raw), st.mode & 0o666),
            Effect::Remove { path: path.into() },
        ]
    };
    Some(Finding {
        id: CHECK.id,
        severity: Severity::Error,
        title: format!("{path} sets the hostname to the name DHCP sends"),
        evidence,
        breaks: "at every DHCP bind and renewal the hook replaces the hostname cloud-init set \
                 from the instance's metadata with the DHCP server's name (ip-10-0-0-5 and \
                 the like): the instance's name changes under it minutes or hours after boot, \
                 and /etc/hosts, logs and configuration management disagree with it"
            .into(),
        fix: format!(
            "disable the hook: seal renames it to {disabled} without execute bits, a name the \
             DHCP client does not run (or make it set the name only while the current one is \
             localhost)"
        ),
        fixes,
    })
}

/// The lines (1-based) that set the hostname from a DHCP name variable, in
/// a script with no check of the current name; none when it has one.
fn sets_dhcp_name(text: &str) -> Vec<usize> {
    let code: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let guarded = code.iter().any(|(_, l)| {
        l.contains("localhost") || l.contains("(none)") || l.contains("old_host_name")
    });
    if guarded {
        return Vec::new();
    }
    code.iter()
        .filter(|(_, l)| sets_hostname(l) && DHCP_NAMES.iter().any(|v| l.contains(v)))
        .map(|(n, _)| *n)
        .collect()
}

/// Whether a shell line sets the hostname: the `hostname NAME` command (not
/// `$(hostname)`, which reads it), `hostnamectl set-hostname`/`hostname`,
/// `sysctl kernel.hostname=`, or a write to /etc/hostname or the kernel's
/// `/proc/sys/kernel/hostname`.
fn sets_hostname(line: &str) -> bool {
    if line.contains("set-hostname")
        || line.contains("hostnamectl hostname")
        || line.contains("kernel.hostname=")
    {
        return true;
    }
    if (line.contains("/etc/hostname") || line.contains("/proc/sys/kernel/hostname"))
        && line.contains('>')
    {
        return true;
    }
    // The `hostname` command with an argument, as a command word: at the
    // start of the line or after `;`, `&&`, `||`, `then`, `do`, `|`.
    let words: Vec<&str> = line
        .split(|c: char| c.is_whitespace() || c == ';' || c == '&' || c == '|')
        .filter(|w| !w.is_empty())
        .collect();
    words.windows(2).enumerate().any(|(i, w)| {
        let cmd = w[0].trim_start_matches('(');
        let command_position = i == 0
            || matches!(words[i - 1], "then" | "do" | "else" | "{" | "exec" | "sudo")
            || line.contains(&format!("; {}", w[0]))
            || line.contains(&format!("&& {}", w[0]))
            || line.contains(&format!("|| {}", w[0]));
        (cmd == "hostname" || cmd == "/bin/hostname" || cmd == "/usr/bin/hostname")
            && !w[0].starts_with("$(")
            && !w[1].starts_with('-')
            && command_position
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unconditional_hook_is_found() {
        let hook = "#!/bin/sh\n# set the name DHCP gives\ncase $reason in\n  BOUND|RENEW|REBIND|REBOOT)\n    hostname \"$new_host_name\"\n    echo \"$new_host_name\" > /etc/hostname\n    ;;\nesac\n";
        assert_eq!(sets_dhcp_name(hook), vec![5, 6]);
        assert_eq!(
            sets_dhcp_name(
                "[ -n \"$DHCP4_HOST_NAME\" ] && hostnamectl set-hostname \"$DHCP4_HOST_NAME\"\n"
            ),
            vec![1]
        );
    }

    #[test]
    fn guarded_and_reading_hooks_are_not() {
        // Debian's own set_hostname.
        let debian = "current_hostname=$(hostname)\nif [ -z \"$current_hostname\" ] || [ \"$current_hostname\" = 'localhost' ] || [ \"$current_hostname\" = \"$old_host_name\" ]; then\n  hostname \"$new_host_name\"\nfi\n";
        assert!(sets_dhcp_name(debian).is_empty());
        // Logging the variables sets nothing.
        assert!(sets_dhcp_name(
            "echo \"host name: $new_host_name, now $(hostname)\" >> /tmp/log\n"
        )
        .is_empty());
        assert!(sets_dhcp_name("logger \"new_host_name=$new_host_name\"\n").is_empty());
        // Setting a fixed name is not the DHCP name.
        assert!(sets_dhcp_name("hostname web1\n").is_empty());
        assert!(sets_dhcp_name("# hostname $new_host_name\n").is_empty());
    }

    #[test]
    fn a_guard_on_etc_hostname_does_not_keep_cloud_inits_name() {
        // "Only while the name is the default": cloud-init writes the
        // name it sets to /etc/hostname too, so the two are equal and the
        // hook renames the instance; it is flagged.
        let hook = "[ -z \"$new_host_name\" ] && return\n\
                    if [ x\"$(hostname)\"x != x\"$(cat /etc/hostname)\"x ]; then\n\
                    \treturn\nfi\nhostname $new_host_name\n";
        assert_eq!(sets_dhcp_name(hook), vec![5]);
    }
}
