//! keys_to_console and seed_random as whole boots: what `plan` lists, wrong
//! types named with file and line (scratch roots), and, in a copy of the
//! Debian 12 root with cloud-init 22.4 installed (as `debian_root.rs`
//! uses it), the image's own `write-ssh-key-fingerprints` run by cloudboot
//! on host keys made there with ssh-keygen, against what cloud-init's own
//! `cc_keys_to_console.handle()` prints in the same root, and the seed
//! cloudboot appends against what `cc_seed_random.handle()` appends.
//!
//! cloud-init's module functions are driven with `python3` inside the copy
//! (its boot stages never run); the copy's `/dev/console` is removed first,
//! so that its `multi_log` writes to stdout, where the test reads it, and
//! nothing reaches this machine's console. A datagram socket bound at the
//! copy's `/dev/log` stands in for syslog, as in the recorder, so the
//! helper's `logger -s` lines (the fingerprints) are printed.

mod common;
mod modules_common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::Path;

use common::*;
use modules_common::debian_copy::DebianCopy;

const HELPER: &str = "/usr/lib/cloud-init/write-ssh-key-fingerprints";

#[test]
fn plan_lists_the_seed_the_seeding_command_and_the_helper() {
    let m = Machine::seeded(
        META,
        "#cloud-config\nrandom_seed:\n  file: /var/lib/seed\n  data: abc\n  command: [sh, -c, 'true']\nssh_fp_console_blacklist: [ssh-rsa]\n",
    );
    m.write("/bin/sh", "#!/bin/sh\n");
    m.write(HELPER, "#!/bin/sh\n");
    for p in ["/bin/sh", HELPER] {
        fs::set_permissions(m.path(p), fs::Permissions::from_mode(0o755)).unwrap();
    }
    let text = m.plan(&[]);
    for want in [
        "append /var/lib/seed (0644, 3 bytes, secret)",
        "run sh -c true",
        &format!("run {HELPER} ssh-rsa ssh-dss"),
        "seed_random [once-per-instance]: would run (2 effects;",
        "keys_to_console [once-per-instance]: would run (1 effect;",
    ] {
        assert!(text.contains(want), "{want}\n{text}");
    }
    assert!(!text.contains("abc"), "the seed is secret\n{text}");
}

#[test]
fn wrong_types_fail_the_module_naming_file_and_line() {
    let m = Machine::seeded(
        META,
        "#cloud-config\nrandom_seed:\n  file: 5\nssh_key_console_blacklist: {a: 1}\n",
    );
    m.boot_expecting(&[0, 1, 0, 1]);
    let status = m.run_ok(&["status", "--long", "--modules"], 1);
    for want in [
        "seed_random: user-data, line 3, column 3: random_seed.file: expected a string, found int (5)",
        "keys_to_console: user-data, line 4, column 1: ssh_key_console_blacklist: expected a list or a string or null, found dict",
    ] {
        assert!(status.contains(want), "{want}\n{status}");
    }
}

/// A copy of the Debian root, prepared as `record.sh` prepares one, with
/// its own host keys and a syslog socket; removed when dropped.
struct KeysCopy {
    copy: DebianCopy,
}

impl std::ops::Deref for KeysCopy {
    type Target = DebianCopy;
    fn deref(&self) -> &DebianCopy {
        &self.copy
    }
}

impl KeysCopy {
    fn new(base: &Path, meta: &str, user: &str) -> KeysCopy {
        let copy = KeysCopy {
            copy: DebianCopy::as_recorded(base),
        };
        copy.seed(meta, user);
        // Host keys of this copy's own, made by its ssh-keygen (a DSA key
        // too: 22.4's default key blacklist is ssh-dss).
        for old in fs::read_dir(copy.path("/etc/ssh")).unwrap().flatten() {
            if old.file_name().to_string_lossy().starts_with("ssh_host_") {
                fs::remove_file(old.path()).unwrap();
            }
        }
        for t in ["rsa", "ecdsa", "ed25519", "dsa"] {
            copy.chroot(&[
                "ssh-keygen",
                "-q",
                "-t",
                t,
                "-N",
                "",
                "-C",
                "root@keys-test",
                "-f",
                &format!("/etc/ssh/ssh_host_{t}_key"),
            ]);
        }
        copy.listen_syslog();
        copy
    }

    fn read(&self, guest: &str) -> Vec<u8> {
        fs::read(self.path(guest)).unwrap_or_default()
    }

    /// `logger` needs a syslog socket at `/dev/log`: one is bound there and
    /// drained until the copy is gone.
    fn listen_syslog(&self) {
        let path = self.path("/dev/log");
        let _ = fs::remove_file(&path);
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(std::time::Duration::from_millis(500)))
            .unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while path.exists() {
                let _ = sock.recv(&mut buf);
            }
        });
    }

    /// `cloudboot --root COPY ARGS`: the log of the run.
    fn cloudboot(&self, args: &[&str]) -> String {
        self.copy.cloudboot(args).1
    }

    fn boot(&self) -> String {
        self.copy.boot().0
    }

    /// cloud-init 22.4's `handle()` of module `cc_NAME`, driven in the
    /// copy with `cfg` and the datasource's `metadata` (YAML): what it
    /// printed, and what it logged (`LEVEL message` lines).
    fn cloud_init_handle(&self, module: &str, cfg: &str, metadata: &str) -> (String, String) {
        self.chroot(&["python3", "-c", DRIVE_HANDLE, module, cfg, metadata])
    }

    /// What cloudboot appended to the output log while `f` ran.
    fn output_during(&self, f: impl FnOnce() -> String) -> (String, String) {
        let before = self.read("/var/log/cloud-init-output.log").len();
        let log = f();
        let after = self.read("/var/log/cloud-init-output.log");
        (
            String::from_utf8_lossy(&after[before.min(after.len())..]).into_owned(),
            log,
        )
    }
}

/// Calls `cc_<module>.handle()` with a fake cloud: the Debian distro's
/// `usr_lib_exec` and the given metadata.
const DRIVE_HANDLE: &str = r#"
import importlib, logging, sys, yaml
mod = importlib.import_module("cloudinit.config.cc_" + sys.argv[1])
class Distro: usr_lib_exec = "/usr/lib"
class Datasource: metadata = yaml.safe_load(sys.argv[3])
class Cloud: distro = Distro(); datasource = Datasource()
log = logging.getLogger("drive")
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(levelname)s %(message)s", force=True)
mod.handle(sys.argv[1], yaml.safe_load(sys.argv[2]) or {}, Cloud(), log, [])
"#;

/// The syslog header `logger -s` puts before each fingerprint line
/// (`<14>Dec  6 20:54:53 `) with its time taken out, as the recorder
/// normalises it.
fn without_syslog_time(text: &str) -> String {
    text.lines()
        .map(|l| {
            // `<PRI>` then `Mmm dd HH:MM:SS ` (16 characters), then the tag.
            let header = l
                .strip_prefix('<')
                .and_then(|r| r.find('>'))
                .map(|j| j + 2)
                .filter(|&end| {
                    l.get(end + 16..)
                        .is_some_and(|t| t.starts_with("cloud-init: "))
                });
            match header {
                Some(end) => format!("{}<SYSLOGTIME> {}\n", &l[..end], &l[end + 16..]),
                None => format!("{l}\n"),
            }
        })
        .collect()
}

/// The user-data's `random_seed` (but its file): gzip data
/// (`gzip.compress(b"gzipped seed\n", mtime=0)`) and a command that
/// records the file it was given.
const SEED: &str = "  data: !!binary H4sIAAAAAAACA0uvyiwoSE1RKE5NTeECAKYNdmINAAAA\n  encoding: gz\n  command: [sh, -c, 'printf \"%s\" \"$RANDOM_SEED_FILE\" > \"$RANDOM_SEED_FILE.env\"']\n";

/// Both modules in one first boot of the Debian root, then each again
/// with `single` under other configs, against cloud-init's `handle()` in
/// the same root.
#[test]
fn host_keys_and_seed_as_cloud_init_in_the_debian_root() {
    let Some(base) = common::skip::debian_root() else {
        return;
    };
    let copy = KeysCopy::new(
        &base,
        "instance-id: iid-keys-seed\nlocal-hostname: keys\nrandom_seed: from the metadata\n",
        &format!("#cloud-config\nssh_deletekeys: false\nssh_genkeytypes: []\nrandom_seed:\n{SEED}"),
    );

    // The first boot, with Debian's cloud.cfg: keys_to_console in the
    // final stage prints the helper's blocks, as cloud-init's handle()
    // prints them here (22.4's default blacklists).
    let (output, log) = copy.output_during(|| copy.boot());
    let (want, _) = copy.cloud_init_handle("keys_to_console", "{}", "{}");
    assert!(
        want.contains("cloud-init: -----BEGIN SSH HOST KEY FINGERPRINTS-----\n")
            && want.contains("-----BEGIN SSH HOST KEY KEYS-----\n"),
        "{want}"
    );
    let want = without_syslog_time(&want);
    // The fingerprints of all four keys, the keys but the DSA one.
    assert_eq!(want.matches("root@keys-test (").count(), 4, "{want}");
    assert!(
        want.contains("(DSA)") && !want.contains("ssh-dss "),
        "{want}"
    );
    assert!(
        without_syslog_time(&output).contains(&want),
        "cloud-init:\n{want}\ncloudboot's output log:\n{output}\n{log}"
    );

    // seed_random in the network stage: the seed (data, then the
    // metadata's) went to the copy's own /dev/urandom, which is still
    // the device it was; the command saw the file.
    assert!(fs::metadata(copy.path("/dev/urandom"))
        .unwrap()
        .file_type()
        .is_char_device());
    assert_eq!(copy.read("/dev/urandom.env"), b"/dev/urandom", "{log}");

    // The semaphores cloud-init writes for them (the recorder's
    // var-lib-cloud.txt of the `full` case names the same two).
    for sem in ["config_seed_random", "config_keys_to_console"] {
        assert!(
            copy.path(&format!("/var/lib/cloud/instances/iid-keys-seed/sem/{sem}"))
                .exists(),
            "{sem}\n{log}"
        );
        let recorded = modules_common::case_dir("full").join("expected/var-lib-cloud.txt");
        assert!(fs::read_to_string(recorded)
            .unwrap()
            .contains(&format!("/sem/{sem}\n")));
    }

    // Blacklists from the config, then the module turned off.
    for cfg in [
        "ssh_fp_console_blacklist: [ssh-rsa, ssh-dss]\nssh_key_console_blacklist: [ssh-ed25519]\n",
        "ssh_key_console_blacklist: [ssh-rsa, ecdsa-sha2-nistp256, ssh-ed25519, ssh-dss]\n",
        "ssh: {emit_keys_to_console: false}\n",
    ] {
        copy.write("/etc/cloud/cloud.cfg.d/95-keys.cfg", cfg);
        let (output, log) = copy.output_during(|| {
            copy.cloudboot(&[
                "single",
                "--name",
                "keys_to_console",
                "--frequency",
                "always",
            ])
        });
        let (want, _) = copy.cloud_init_handle("keys_to_console", cfg, "{}");
        let want = without_syslog_time(&want);
        if cfg.starts_with("ssh:") {
            assert_eq!(want, "", "{cfg}");
            assert!(!output.contains("SSH HOST KEY"), "{cfg}\n{output}\n{log}");
        } else {
            assert!(!want.is_empty(), "{cfg}");
            assert_eq!(without_syslog_time(&output), want, "{cfg}\n{log}");
        }
    }

    // Without the helper: 22.4's warning, nothing printed.
    fs::remove_file(copy.path(HELPER)).unwrap();
    fs::remove_file(copy.path("/etc/cloud/cloud.cfg.d/95-keys.cfg")).unwrap();
    let (output, log) = copy.output_during(|| {
        copy.cloudboot(&[
            "single",
            "--name",
            "keys_to_console",
            "--frequency",
            "always",
        ])
    });
    let (_, logged) = copy.cloud_init_handle("keys_to_console", "{}", "{}");
    let warning =
        format!("Unable to activate module keys_to_console, helper tool not found at {HELPER}");
    assert!(logged.contains(&format!("WARNING {warning}")), "{logged}");
    assert!(log.contains(&warning), "{log}");
    assert!(!output.contains("SSH HOST KEY"), "{output}");

    // seed_random again, into a file: cloudboot's bytes are cloud-init's
    // (the config's data, then the metadata's seed).
    copy.write("/var/lib/seed-ours", "before\n");
    copy.write("/var/lib/seed-ci", "before\n");
    // The file from the system config; the rest is the user-data's.
    copy.write(
        "/etc/cloud/cloud.cfg.d/95-seed.cfg",
        "random_seed:\n  file: /var/lib/seed-ours\n",
    );
    let log = copy.cloudboot(&["single", "--name", "seed_random", "--frequency", "always"]);
    copy.cloud_init_handle(
        "seed_random",
        &format!("random_seed:\n  file: /var/lib/seed-ci\n{SEED}"),
        "random_seed: from the metadata\n",
    );
    let ours = copy.read("/var/lib/seed-ours");
    assert_eq!(ours, copy.read("/var/lib/seed-ci"), "{log}");
    assert_eq!(ours, b"before\ngzipped seed\nfrom the metadata", "{log}");
    assert_eq!(copy.read("/var/lib/seed-ours.env"), b"/var/lib/seed-ours");
    assert_eq!(copy.read("/var/lib/seed-ci.env"), b"/var/lib/seed-ci");
}

#[test]
fn syslog_times_are_taken_out_as_the_recorder_does() {
    assert_eq!(
        without_syslog_time(
            "<14>Dec  6 20:54:53 cloud-init: ####\n-----BEGIN SSH HOST KEY KEYS-----\n"
        ),
        "<14><SYSLOGTIME> cloud-init: ####\n-----BEGIN SSH HOST KEY KEYS-----\n"
    );
}
