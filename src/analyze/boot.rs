//! `analyze boot` (22.4's `analyze_boot` and `show.dist_check_timestamp`):
//! when the kernel started and finished booting, when systemd started
//! cloud-init, and the last `init-local` start in the log.
//!
//! As 22.4: with systemd (`/run/systemd/system` is a directory), the
//! kernel's start is now minus `/proc/uptime`, its end and cloud-init's
//! activation are `systemctl show`'s `UserspaceTimestampMonotonic` and the
//! local stage unit's `InactiveExitTimestampMonotonic` (`cloudboot-local`'s,
//! or `cloud-init-local`'s after a boot by cloud-init; from the host's
//! boot in a container, whose start is `/proc/1/cmdline`'s atime). Without
//! systemd (22.4 uses dmesg only on FreeBSD and Gentoo, which cloudboot
//! does not run on), or when systemctl fails, it prints 22.4's "does not
//! support this functionality" text. The status (`successful`,
//! `container`, `failure`) goes to stderr and the exit code is 1, as
//! 22.4's `sys.exit(status)` makes them.

use std::io::{Read, Write};
use std::process::Command;

use serde_json::Value;

const FAILURE_MSG: &str = "Your Linux distro or container does not support this functionality.\n\
You must be running a Kernel Telemetry supported distro.\n\
Please check https://cloudinit.readthedocs.io/en/latest/topics/analyze.html for more \
information on supported distros.\n";

enum Status {
    Success,
    Container,
    Failure,
}

impl Status {
    fn as_str(&self) -> &'static str {
        match self {
            Status::Success => "successful",
            Status::Container => "container",
            Status::Failure => "failure",
        }
    }
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn uptime() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/uptime").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// `SystemctlReader(property, parameter).parse_epoch_as_float()`.
fn systemctl(property: &str, unit: Option<&str>) -> Result<f64, String> {
    let mut cmd = Command::new("systemctl");
    cmd.arg("show");
    if let Some(u) = unit {
        cmd.arg(u);
    }
    cmd.args(["-p", property]);
    let out = cmd.output().map_err(|e| {
        format!("Subprocess call to systemctl has failed, returning error code ({e})")
    })?;
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() || !err.is_empty() {
        return Err(format!(
            "Subprocess call to systemctl has failed, returning error code ({})",
            err.trim_end()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let value = text.split('=').nth(1).unwrap_or_default();
    crate::py::float::parse(value.trim())
        .map(|v| v / 1_000_000.0)
        .ok_or_else(|| format!("could not convert string to float: {value:?}"))
}

/// The local stage unit's `InactiveExitTimestampMonotonic`: cloudboot's own
/// unit's, else cloud-init's (a boot cloud-init ran). 22.4 asks for
/// `cloud-init-local` only, and for a unit that is not there systemd
/// answers 0 (exit 0, nothing on stderr), which put the stage's activation
/// at the kernel's start, before the kernel's end, on every machine where
/// cloudboot's package replaced cloud-init's.
fn local_stage_activation() -> Result<f64, String> {
    let ours = systemctl("InactiveExitTimestampMonotonic", Some("cloudboot-local"))?;
    if ours > 0.0 {
        return Ok(ours);
    }
    systemctl("InactiveExitTimestampMonotonic", Some("cloud-init-local"))
}

/// `util.is_container()`, the checks that apply to Linux.
fn is_container() -> bool {
    let quiet = |prog: &str, args: &[&str]| {
        Command::new(prog)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if quiet("systemd-detect-virt", &["--quiet", "--container"])
        || quiet("running-in-container", &[])
    {
        return true;
    }
    if let Ok(env) = std::fs::read("/proc/1/environ") {
        let has = |k: &str| {
            env.split(|b| *b == 0)
                .any(|kv| kv.split(|b| *b == b'=').next() == Some(k.as_bytes()))
        };
        if has("container") || has("LIBVIRT_LXC_UUID") {
            return true;
        }
    }
    if std::path::Path::new("/proc/vz").is_dir() && !std::path::Path::new("/proc/bc").is_dir() {
        return true;
    }
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines().any(|l| {
            l.strip_prefix("VxID:")
                .is_some_and(|v| v != "0" && !v.is_empty())
        })
    })
}

/// `dist_check_timestamp`: (status, kernel start, kernel end, cloud-init
/// activation), `(failure, -1, -1, -1)` when they cannot be had.
fn timestamps(out: &mut dyn Write) -> (Status, f64, f64, f64) {
    const UNKNOWN: (Status, f64, f64, f64) = (Status::Failure, -1.0, -1.0, -1.0);
    let systemd = std::fs::symlink_metadata("/run/systemd/system").is_ok_and(|m| m.is_dir());
    if !systemd {
        return UNKNOWN;
    }
    let mut kernel_start = now() - uptime().unwrap_or(0.0);
    let read = || -> Result<(f64, f64), String> {
        Ok((
            systemctl("UserspaceTimestampMonotonic", None)?,
            local_stage_activation()?,
        ))
    };
    let (k_end, ci) = match read() {
        Ok(v) => v,
        Err(e) => {
            // 22.4 prints the exception.
            let _ = writeln!(out, "{e}");
            return UNKNOWN;
        }
    };
    let mut base = kernel_start;
    let mut status = Status::Success;
    if is_container() {
        // SAFETY: clock_gettime fills the timespec we own.
        let mono = unsafe {
            let mut ts: libc::timespec = std::mem::zeroed();
            libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
            ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
        };
        base = now() - mono;
        match std::fs::metadata("/proc/1/cmdline") {
            Ok(m) => {
                use std::os::unix::fs::MetadataExt;
                kernel_start = m.atime() as f64 + m.atime_nsec() as f64 / 1e9;
            }
            Err(e) => {
                let _ = writeln!(
                    out,
                    "Could not determine container boot time from /proc/1/cmdline. ({e})"
                );
                return UNKNOWN;
            }
        }
        status = Status::Container;
    }
    (status, kernel_start, base + k_end, base + ci)
}

/// `str(datetime.utcfromtimestamp(t))`.
fn utc(t: f64) -> String {
    let mut e = serde_json::Map::new();
    e.insert("timestamp".into(), Value::from(t));
    let us = super::records::micros(&e).unwrap_or(0);
    let secs = us.div_euclid(1_000_000);
    let micro = us.rem_euclid(1_000_000);
    let dt = chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default();
    let base = dt.format("%Y-%m-%d %H:%M:%S").to_string();
    if micro == 0 {
        base
    } else {
        format!("{base}.{micro:06}")
    }
}

/// Writes the boot record; returns the status 22.4 exits with.
pub(super) fn boot(input: &mut dyn Read, out: &mut dyn Write) -> &'static str {
    let (mut status, k_start, k_end, ci_sysd) = timestamps(out);
    let mut text = String::new();
    let _ = input.read_to_string(&mut text);
    let events = super::events_of(&text).unwrap_or_default();
    let last_init_local = events.iter().rev().find(|e| {
        e.get("name").and_then(Value::as_str) == Some("init-local")
            && e.get("description")
                .and_then(Value::as_str)
                .is_some_and(|d| d.contains("starting search"))
    });
    let ci_start = match last_init_local {
        Some(e) => utc(e.get("timestamp").and_then(Value::as_f64).unwrap_or(0.0)),
        None => {
            status = Status::Failure;
            "Could not find init-local log-line in cloud-init.log".into()
        }
    };
    let f = crate::value::python_float_repr;
    let text = match status {
        Status::Failure => FAILURE_MSG.to_string(),
        Status::Container => format!(
            "-- Most Recent Container Boot Record --\n    Container started at: {}\n    \
             Cloud-init activated by systemd at: {}\n    Cloud-init start: {ci_start}\n",
            utc(k_start),
            utc(ci_sysd)
        ),
        Status::Success => format!(
            "-- Most Recent Boot Record --\n    Kernel Started at: {}\n    Kernel ended boot at: {}\n    \
             Kernel time to boot (seconds): {}\n    Cloud-init activated by systemd at: {}\n    \
             Time between Kernel end boot and Cloud-init activation (seconds): {}\n    \
             Cloud-init start: {ci_start}\n",
            utc(k_start),
            utc(k_end),
            f(k_end - k_start),
            utc(ci_sysd),
            f(ci_sysd - k_end)
        ),
    };
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    status.as_str()
}
