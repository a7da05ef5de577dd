//! `write-ssh-key-fingerprints FP_BLACKLIST KEY_BLACKLIST`: the helper
//! keys_to_console runs (`<usr_lib_exec>/cloud-init/write-ssh-key-fingerprints`,
//! a link to cloudboot). cloud-init's own is a shell script in its package;
//! where cloudboot's package replaced cloud-init's it is gone, and this
//! answers to its name with the same output.
//!
//! For each `/etc/ssh/ssh_host_*key.pub` (a regular file, in name order)
//! whose key type (the first word of its first line) is not in the
//! comma-separated FP_BLACKLIST, the fingerprint `ssh-keygen -l -f` gives,
//! between `-----BEGIN SSH HOST KEY FINGERPRINTS-----` and `-----END ...`
//! lines framed by `#` rules, each line sent through `logger -s -p user.info
//! -t cloud-init` (to syslog, and to the output with syslog's prefix); then
//! the keys not in KEY_BLACKLIST, as they are, between `-----BEGIN SSH HOST
//! KEY KEYS-----` and `-----END SSH HOST KEY KEYS-----`. A block with nothing
//! in it is not printed. Everything, the programs' errors too, goes to
//! standard output (the script's `exec 2>&1`).

use std::io::{self, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const KEY_DIR: &str = "/etc/ssh";
const RULE: &str = "#############################################################";

/// A host key's public file and its type.
struct HostKey {
    path: PathBuf,
    kind: String,
}

pub fn main(_name: &str, args: &[String]) -> i32 {
    let fp_skip = args.first().map(String::as_str).unwrap_or("");
    let key_skip = args.get(1).map(String::as_str).unwrap_or("");
    let keys = host_keys(Path::new(KEY_DIR));
    let fingerprinted: Vec<&HostKey> = keys.iter().filter(|k| !listed(fp_skip, k)).collect();
    if !fingerprinted.is_empty() {
        log(RULE);
        log("-----BEGIN SSH HOST KEY FINGERPRINTS-----");
        for k in fingerprinted {
            log(&fingerprint(&k.path));
        }
        log("-----END SSH HOST KEY FINGERPRINTS-----");
        log(RULE);
    }
    let shown: Vec<&HostKey> = keys.iter().filter(|k| !listed(key_skip, k)).collect();
    if !shown.is_empty() {
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "-----BEGIN SSH HOST KEY KEYS-----");
        for k in shown {
            match std::fs::read(&k.path) {
                Ok(bytes) => drop(out.write_all(&bytes)),
                Err(e) => drop(writeln!(out, "cat: {}: {e}", k.path.display())),
            }
        }
        let _ = writeln!(out, "-----END SSH HOST KEY KEYS-----");
        let _ = out.flush();
    }
    0
}

/// The host keys' public files in `dir`, by name (the shell's glob order
/// in the C locale), regular files only (links followed).
fn host_keys(dir: &Path) -> Vec<HostKey> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("ssh_host_") && n.ends_with("key.pub"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| dir.join(n))
        .filter(|p| p.is_file())
        .map(|path| {
            // `read -r ktype line < "$f"`: the first word of the first line.
            let text = std::fs::read(&path).unwrap_or_default();
            let first = text.split(|&b| b == b'\n').next().unwrap_or_default();
            let kind = String::from_utf8_lossy(first)
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string();
            HostKey { path, kind }
        })
        .collect()
}

/// Whether `key`'s type is in the comma-separated `list` (the script's
/// `",$list,"` holding `",$ktype,"`).
fn listed(list: &str, key: &HostKey) -> bool {
    format!(",{list},").contains(&format!(",{},", key.kind))
}

/// `$(ssh-keygen -l -f FILE)`: its output, trailing newlines cut; its
/// errors go to standard output as they come.
fn fingerprint(path: &Path) -> String {
    let _ = io::stdout().flush();
    let run = Command::new("ssh-keygen")
        .arg("-l")
        .arg("-f")
        .arg(path)
        .stdin(Stdio::null())
        .stderr(to_stdout())
        .output();
    match run {
        Ok(out) => String::from_utf8_lossy(&out.stdout)
            .trim_end_matches('\n')
            .to_string(),
        Err(e) => {
            println!("ssh-keygen: {e}");
            String::new()
        }
    }
}

/// `logger -s -p user.info -t cloud-init -- LINE`, its copy of the line
/// (on its standard error) sent to standard output.
fn log(line: &str) {
    let _ = io::stdout().flush();
    let run = Command::new("logger")
        .args(["-s", "-p", "user.info", "-t", "cloud-init", "--", line])
        .stdin(Stdio::null())
        .stderr(to_stdout())
        .status();
    if let Err(e) = run {
        println!("logger: {e}");
    }
}

/// Standard output, for a child's standard error (`exec 2>&1`).
fn to_stdout() -> Stdio {
    match io::stdout().as_fd().try_clone_to_owned() {
        Ok(fd) => Stdio::from(fd),
        Err(_) => Stdio::inherit(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_found_by_name_with_their_types_and_lists_match_whole_types() {
        let dir = tempfile::tempdir().unwrap();
        let write = |n: &str, t: &str| std::fs::write(dir.path().join(n), t).unwrap();
        write("ssh_host_rsa_key.pub", "ssh-rsa AAAA root@a\n");
        write("ssh_host_ed25519_key.pub", "ssh-ed25519 AAAA root@a\n");
        write("ssh_host_ecdsa_key.pub", "  ecdsa-sha2-nistp256 AAAA\n");
        write("ssh_host_rsa_key", "private\n");
        write("ssh_host_empty_key.pub", "");
        std::fs::create_dir(dir.path().join("ssh_host_dir_key.pub")).unwrap();
        let keys = host_keys(dir.path());
        let found: Vec<(String, &str)> = keys
            .iter()
            .map(|k| {
                let name = k.path.file_name().unwrap().to_string_lossy().into_owned();
                (name, k.kind.as_str())
            })
            .collect();
        assert_eq!(
            found,
            [
                ("ssh_host_ecdsa_key.pub".to_string(), "ecdsa-sha2-nistp256"),
                ("ssh_host_ed25519_key.pub".to_string(), "ssh-ed25519"),
                ("ssh_host_empty_key.pub".to_string(), ""),
                ("ssh_host_rsa_key.pub".to_string(), "ssh-rsa"),
            ]
        );
        let rsa = &keys[3];
        assert!(listed("ssh-dss,ssh-rsa", rsa));
        assert!(!listed("ssh-rs", rsa) && !listed("", rsa));
        // As the script: an empty type is in an empty list, not in others.
        assert!(listed("", &keys[2]) && !listed("ssh-dss", &keys[2]));
    }
}
