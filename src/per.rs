//! `cloud-init-per FREQUENCY NAME CMD [ARG...]`: cloud-init's helper that
//! bootcmd lines and boothooks use to run a command once per machine, once
//! per instance, or on every boot. cloud-init ships it as a shell script in
//! its package; an image whose cloud-init package is replaced by cloudboot's
//! would lose it, and with it every `cloud-init-per once ...` in its
//! user-data. So the cloudboot binary answers to that name too (a link
//! `/usr/bin/cloud-init-per -> cloudboot`, made by the packages and by
//! `cloudboot install` where the name is free), and to `cloudboot per`.
//!
//! It behaves as 22.4's script does, on this machine's `/` (inside a
//! chroot, that root's): the marker is
//! `/var/lib/cloud/sem/bootper.<name>.<frequency>` for `once` and `always`,
//! `/var/lib/cloud/instance/sem/bootper.<name>.instance` for `instance`,
//! with `-` in the name written as `_` (a marker with the old dashed name is
//! renamed, never over an existing one). `once` and `instance` skip the
//! command when their marker exists; afterwards the marker holds the exit
//! status and the time (`<status>\t<epoch seconds>`), and the command's status
//! is the exit status. It must run as root, and a name may not hold `/`.
//! The old name `cloud-init-run-module FREQ NAME execute CMD...` is accepted
//! with cloud-init's deprecation warning.

use std::path::{Path, PathBuf};
use std::process::Command;

const DATA_PRE: &str = "/var/lib/cloud/sem/bootper";
const INST_PRE: &str = "/var/lib/cloud/instance/sem/bootper";

fn usage(prog: &str) -> String {
    format!(
        "Usage: {prog} frequency name cmd [ arg1 [ arg2 [ ... ] ]
   run cmd with arguments provided.

   This utility can make it easier to use boothooks or bootcmd
   on a per \"once\" or \"always\" basis.

   If frequency is:
      * once: run only once (do not re-run for new instance-id)
      * instance: run only the first boot for a given instance-id
      * always: run every boot

"
    )
}

/// Runs the helper as `prog` (the name it was called by) with `args`;
/// returns the exit status.
pub fn main(prog: &str, args: &[String]) -> i32 {
    let mut args = args.to_vec();
    if prog == "cloud-init-run-module" {
        if args.len() <= 2 || args[2] == "execute" {
            eprintln!("Warning: {prog} is deprecated. Please use cloud-init-per.");
            if args.len() > 2 {
                args.remove(2);
            }
        } else {
            eprintln!("legacy cloud-init-run-module only supported with module 'execute'");
            return 1;
        }
    }
    if matches!(args.first().map(String::as_str), Some("-h" | "--help")) {
        print!("{}", usage(prog));
        return 0;
    }
    if args.len() < 3 {
        eprint!("{}", usage(prog));
        return 1;
    }
    let freq = args[0].as_str();
    // The script's `echo $2 | sed 's/-/_/g'`: unquoted, so runs of blanks
    // become one space.
    let name = args[1]
        .split_ascii_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('-', "_");
    if name.contains('/') {
        eprintln!("name cannot contain a /");
        return 1;
    }
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("must be root");
        return 1;
    }
    let sem = match freq {
        "once" | "always" => PathBuf::from(format!("{DATA_PRE}.{name}.{freq}")),
        "instance" => PathBuf::from(format!("{INST_PRE}.{name}.{freq}")),
        _ => {
            eprint!("{}", usage(prog));
            eprintln!("invalid frequency: {freq}");
            return 1;
        }
    };
    if let Some(dir) = sem.parent() {
        if std::fs::create_dir_all(dir).is_err() {
            eprintln!("failed to make directory for {}", sem.display());
            return 1;
        }
    }
    rename_legacy(&sem);
    if freq != "always" && sem.exists() {
        return 0;
    }
    let status = run(&args[2], &args[3..]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    if std::fs::write(&sem, format!("{status}\t{now}\n")).is_err() {
        eprintln!("failed to write to {}", sem.display());
        return 1;
    }
    status
}

/// A marker written under the old dashed name (the whole path with `_` as
/// `-`, as the script's sed makes it) takes the new name, unless a marker
/// with the new name exists already (`mv -n`).
fn rename_legacy(sem: &Path) {
    let legacy = PathBuf::from(sem.to_string_lossy().replace('_', "-"));
    if legacy != sem && legacy.exists() && std::fs::symlink_metadata(sem).is_err() {
        let _ = std::fs::rename(&legacy, sem);
    }
}

/// Runs `cmd` with this process's stdio; the status as sh reports it
/// (127: not found, 126: not executable, 128+N: killed by signal N).
fn run(cmd: &str, args: &[String]) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match Command::new(cmd).args(args).status() {
        Ok(s) => s
            .code()
            .or_else(|| s.signal().map(|n| 128 + n))
            .unwrap_or(1),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("{cmd}: not found");
            127
        }
        Err(e) => {
            eprintln!("{cmd}: {e}");
            126
        }
    }
}
