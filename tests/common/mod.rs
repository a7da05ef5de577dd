//! Shared test harness: a temporary root per test, the real `cloudboot`
//! binary run against it, and helpers to seed, reboot and inspect it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod images;
pub mod metadata_server;
pub mod private_network;
pub mod skip;

pub const BIN: &str = env!("CARGO_BIN_EXE_cloudboot");

/// A scratch machine: a temporary directory that stands for `/`.
pub struct Machine {
    pub dir: tempfile::TempDir,
}

impl Machine {
    pub fn new() -> Machine {
        Machine {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// A machine with a NoCloud seed in /var/lib/cloud/seed/nocloud.
    pub fn seeded(meta: &str, user: &str) -> Machine {
        let m = Machine::new();
        m.seed(meta, user);
        m
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Host path of a guest path.
    pub fn path(&self, guest: &str) -> PathBuf {
        self.root().join(guest.trim_start_matches('/'))
    }

    pub fn write(&self, guest: &str, content: &str) {
        let p = self.path(guest);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }

    pub fn read(&self, guest: &str) -> String {
        fs::read_to_string(self.path(guest)).unwrap_or_else(|e| panic!("reading {guest}: {e}"))
    }

    pub fn exists(&self, guest: &str) -> bool {
        self.path(guest).symlink_metadata().is_ok()
    }

    pub fn mode(&self, guest: &str) -> u32 {
        fs::metadata(self.path(guest)).unwrap().permissions().mode() & 0o7777
    }

    pub fn seed(&self, meta: &str, user: &str) {
        self.write("/var/lib/cloud/seed/nocloud/meta-data", meta);
        self.write("/var/lib/cloud/seed/nocloud/user-data", user);
    }

    /// Runs `cloudboot --root <root> ARGS`.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("--root")
            .arg(self.root())
            .args(args)
            .output()
            .expect("running cloudboot")
    }

    /// As [`Machine::run_ok`], with options before the command.
    pub fn run_ok_with(&self, args: &[&str], code: i32) -> String {
        self.run_ok(args, code)
    }

    /// Runs a command and insists on the exit code; returns stdout.
    pub fn run_ok(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "cloudboot {args:?} exit code\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `plan ARGS` and returns what it printed. Like a boot, a plan
    /// exits 1 when it lists errors (0 when none): that is checked here, so
    /// a plan with errors (a refused config the test is about) is fine.
    pub fn plan(&self, args: &[&str]) -> String {
        let argv: Vec<&str> = std::iter::once("plan")
            .chain(args.iter().copied())
            .collect();
        let out = self.run(&argv);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let errors: usize = if args.contains(&"json") {
            let plan: serde_json::Value = serde_json::from_str(&text).expect("plan json");
            plan["stages"]
                .as_array()
                .expect("plan stages")
                .iter()
                .map(|st| st["errors"].as_array().map_or(0, Vec::len))
                .sum()
        } else {
            text.lines()
                .filter_map(|l| {
                    l.strip_prefix("errors (")?
                        .strip_suffix("):")?
                        .parse::<usize>()
                        .ok()
                })
                .sum()
        };
        assert_eq!(
            out.status.code(),
            Some(errors.min(1) as i32),
            "plan {args:?}: exit code is 1 when it lists errors\nstdout:\n{text}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    }

    /// `/run/cloud-init/cloud-id` names the cloud: a link (absolute, as
    /// cloud-init makes it, so read inside the root) to `cloud-id-<id>`,
    /// which holds the id.
    pub fn assert_cloud_id(&self, id: &str) {
        let link = std::fs::read_link(self.path("/run/cloud-init/cloud-id")).unwrap();
        assert_eq!(link, Path::new(&format!("/run/cloud-init/cloud-id-{id}")));
        assert_eq!(
            self.read(&format!("/run/cloud-init/cloud-id-{id}")),
            format!("{id}\n")
        );
    }

    /// What a boot on a cloud ends with, as its user checks it: the
    /// instance-id, the hostname written, `key` in `key_file` (an
    /// authorized_keys), the file user-data writes, and cloud-id.
    pub fn assert_booted(
        &self,
        iid: &str,
        hostname: &str,
        (key_file, key): (&str, &str),
        written: &str,
        cloud_id: &str,
    ) {
        assert_eq!(
            self.read("/var/lib/cloud/data/instance-id"),
            format!("{iid}\n")
        );
        assert_eq!(self.read("/etc/hostname"), format!("{hostname}\n"));
        let keys = self.read(key_file);
        assert!(keys.contains(key), "{key} in {key_file}: {keys}");
        assert!(self.exists(written), "{written} written by user-data");
        self.assert_cloud_id(cloud_id);
    }

    /// The four stages, in order, with cloud-init's verbs; each must exit 0.
    pub fn boot(&self) {
        for args in [
            &["init", "--local"][..],
            &["init"][..],
            &["modules", "--mode=config"][..],
            &["modules", "--mode", "final"][..],
        ] {
            self.run_ok(args, 0);
        }
    }

    /// The four stages, each with the exit code given.
    pub fn boot_expecting(&self, codes: &[i32; 4]) {
        let stages: [&[&str]; 4] = [
            &["init", "--local"],
            &["init"],
            &["modules", "--mode=config"],
            &["modules", "--mode=final"],
        ];
        for (args, code) in stages.iter().zip(codes) {
            self.run_ok(args, *code);
        }
    }

    /// The errors status.json records for a stage (`init-local`, `init`, ...).
    pub fn stage_errors(&self, mode: &str) -> Vec<String> {
        let status: serde_json::Value =
            serde_json::from_str(&self.read("/var/lib/cloud/data/status.json")).unwrap();
        status["v1"][mode]["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("no errors list for {mode}"))
            .iter()
            .map(|e| e.as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// A reboot: /run is a tmpfs, so it starts empty.
    pub fn reboot(&self) {
        let _ = fs::remove_dir_all(self.path("/run"));
    }

    /// The instance directory of `iid`.
    pub fn idir(&self, iid: &str) -> String {
        format!("/var/lib/cloud/instances/{iid}")
    }

    /// Every path under the root with its type, mode, owner and content
    /// (or link target): equal maps mean a byte-identical tree.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, String> {
        let mut out = BTreeMap::new();
        walk(self.root(), self.root(), &mut out);
        out
    }

    /// Puts a static busybox in the root as /bin/sh and friends, so programs
    /// can run inside it under chroot.
    pub fn install_busybox(&self) {
        let bb = skip::busybox().expect("busybox-static is installed (.ci/run installs it)");
        fs::create_dir_all(self.path("/bin")).unwrap();
        fs::copy(bb, self.path("/bin/busybox")).unwrap();
        for applet in [
            "sh", "echo", "cat", "kill", "touch", "date", "sleep", "test", "[", "ls", "mkdir",
            "rm", "printf", "id", "true", "false", "wc", "env",
        ] {
            std::os::unix::fs::symlink("busybox", self.path(&format!("/bin/{applet}"))).unwrap();
        }
        fs::create_dir_all(self.path("/tmp")).unwrap();
        fs::create_dir_all(self.path("/var/tmp")).unwrap();
    }

    /// Puts this build's cloudboot in the root as `/usr/bin/cloudboot`, with
    /// the shared libraries it needs (from `ldd`) at their paths, and links
    /// `/usr/bin/<name>` to it for each of `names`, so it runs inside the
    /// root under chroot (as `cloud-init-per`, say).
    pub fn install_cloudboot(&self, names: &[&str]) {
        fs::create_dir_all(self.path("/usr/bin")).unwrap();
        fs::copy(BIN, self.path("/usr/bin/cloudboot")).unwrap();
        let ldd = Command::new("ldd").arg(BIN).output().unwrap();
        for line in String::from_utf8_lossy(&ldd.stdout).lines() {
            // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
            // "/lib64/ld-linux-x86-64.so.2 (0x...)".
            let lib = line
                .split_whitespace()
                .find(|w| w.starts_with('/'))
                .map(PathBuf::from);
            if let Some(lib) = lib {
                let dest = self.root().join(lib.strip_prefix("/").unwrap());
                fs::create_dir_all(dest.parent().unwrap()).unwrap();
                fs::copy(&lib, &dest).unwrap();
            }
        }
        for name in names {
            let _ = fs::remove_file(self.path(&format!("/usr/bin/{name}")));
            std::os::unix::fs::symlink("cloudboot", self.path(&format!("/usr/bin/{name}")))
                .unwrap();
        }
    }
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let md = p.symlink_metadata().unwrap();
        let rel = p.strip_prefix(root).unwrap().to_path_buf();
        let desc = if md.file_type().is_symlink() {
            format!("link -> {}", fs::read_link(&p).unwrap().display())
        } else if md.is_dir() {
            walk(root, &p, out);
            format!("dir {:o} {}:{}", md.mode() & 0o7777, md.uid(), md.gid())
        } else {
            format!(
                "file {:o} {}:{} {:?}",
                md.mode() & 0o7777,
                md.uid(),
                md.gid(),
                fs::read(&p).unwrap()
            )
        };
        out.insert(rel, desc);
    }
}

/// A JSON array of strings (a fixture's command line) as `&str`s.
pub fn strs(v: &serde_json::Value) -> Vec<&str> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|a| a.as_str().expect("a string"))
        .collect()
}

/// Whether this test can chroot into a scratch root with a busybox in it;
/// if not, it is skipped (see [`skip`]) and the caller returns.
pub fn can_chroot() -> bool {
    skip::require(skip::CHROOT)
}

/// Every test binary that has this module starts, as root, in a network
/// namespace of its own that holds only `lo` (see [`private_network`]):
/// every test in it, the servers it starts on 127.0.0.1 and every cloudboot
/// it runs are there, so that nothing a boot does reaches past this
/// machine's loopback, even when it goes looking for a metadata service at
/// cloud-init's default addresses. It is entered before `main` (from
/// `.init_array`), while the process has one thread, so that libtest's test
/// threads, started later, are all in it. An ordinary user cannot make one:
/// its tests run on the host's loopback, where their servers are too.
#[used]
#[link_section = ".init_array"]
static ENTER_PRIVATE_NETWORK: extern "C" fn() = enter_private_network;

extern "C" fn enter_private_network() {
    if !skip::is_root() {
        return;
    }
    if let Err(e) = private_network::enter() {
        // Root without CAP_SYS_ADMIN (a container): the tests only talk to
        // 127.0.0.1 anyway, but CI must have the namespace.
        if std::env::var_os("CLOUDBOOT_REQUIRE_ROOT_TESTS").is_some() {
            let _ = writeln!(
                std::io::stderr(),
                "no private network namespace for the tests ({e}), and CLOUDBOOT_REQUIRE_ROOT_TESTS is set"
            );
            std::process::abort();
        }
    }
}

/// Matches cloud-init's semaphore content `"<pid>: <float time>\n"`.
pub fn is_sem_content(s: &str) -> bool {
    let Some(body) = s.strip_suffix('\n') else {
        return false;
    };
    let Some((pid, time)) = body.split_once(": ") else {
        return false;
    };
    !pid.is_empty()
        && pid.bytes().all(|b| b.is_ascii_digit())
        && time.split_once('.').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && (a.bytes().chain(b.bytes())).all(|c| c.is_ascii_digit())
        })
}

pub const META: &str = "instance-id: iid-test-1\nlocal-hostname: testhost\n";

/// A loopback HTTP server answering GETs from a fixed table (404 otherwise),
/// for the life of the test process. Returns its base URL and a request log.
pub fn serve(
    routes: Vec<(&'static str, Vec<u8>)>,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = log.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            let mut buf = vec![0u8; 8192];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).into_owned();
            let path = req.split_whitespace().nth(1).unwrap_or("/").to_string();
            seen.lock().unwrap().push(path.clone());
            let resp = match routes.iter().find(|(p, _)| *p == path) {
                Some((_, body)) => {
                    let mut r = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    r.extend_from_slice(body);
                    r
                }
                None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
            };
            let _ = s.write_all(&resp);
        }
    });
    (base, log)
}

/// A loopback URL where nothing listens (connections are refused).
pub fn dead_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/gone", l.local_addr().unwrap());
    drop(l);
    url
}

/// Where an image-making tool is (`mkfs.vfat` lives in `/usr/sbin`, which
/// an ordinary user's PATH may lack).
pub fn image_tool(name: &str) -> String {
    for dir in ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p.display().to_string();
        }
    }
    panic!("{name} is missing: apt-get install dosfstools mtools genisoimage (.ci/run does)");
}

/// Runs an image-making tool, insisting that it succeeds.
pub fn run_image_tool(cmd: &str, args: &[&str]) {
    let out = Command::new(image_tool(cmd)).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a Python snippet (stdlib only) and returns its stdout bytes: tests
/// build MIME user-data with Python's `email` package, as users do.
pub fn python(code: &str) -> Vec<u8> {
    let out = Command::new("python3")
        .arg("-c")
        .arg(code)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
