//! The distro classes' `shutdown_command(mode, delay, message)`.

use super::Distro;

impl Distro {
    /// The command that powers off (`poweroff`), halts or reboots this
    /// distribution after `minutes` (`None`: now), with `message` where the
    /// tool takes one.
    pub fn shutdown_command(
        &self,
        mode: &str,
        minutes: Option<i64>,
        message: Option<&str>,
    ) -> Vec<String> {
        shutdown_command(&self.name, mode, minutes, message)
    }
}

/// [`Distro::shutdown_command`] for the distro named `distro`:
/// `shutdown -P|-H|-r <delay> [message]` on Linux; on Alpine
/// `poweroff|halt|reboot -d <seconds>` (Alpine's tools take seconds and no
/// message, so the message is dropped, as 22.4 drops it); on the BSDs
/// (freebsd, netbsd, openbsd, dragonflybsd) poweroff is `shutdown -p`.
pub fn shutdown_command(
    distro: &str,
    mode: &str,
    minutes: Option<i64>,
    message: Option<&str>,
) -> Vec<String> {
    if distro == "alpine" {
        // Alpine's halt/poweroff/reboot: `-d <seconds>`, no "now", no message.
        let secs = minutes.map(|m| m.saturating_mul(60)).unwrap_or(0);
        return vec![mode.into(), "-d".into(), secs.to_string()];
    }
    let bsd = matches!(distro, "freebsd" | "netbsd" | "openbsd" | "dragonflybsd");
    let flag = match mode {
        "halt" => "-H",
        "poweroff" if bsd => "-p",
        "poweroff" => "-P",
        _ => "-r",
    };
    let mut argv = vec![
        "shutdown".to_string(),
        flag.to_string(),
        minutes.map_or_else(|| "now".to_string(), |m| format!("+{m}")),
    ];
    if let Some(m) = message {
        argv.push(m.to_string());
    }
    argv
}
