//! The hostile inputs of issue 10 ("bounded cost on hostile input"), each
//! set up as a scratch machine, and how to run cloudboot's stages on one with
//! its peak memory and time measured. Shared by `tests/hostile_input.rs`
//! (which checks the errors, the rest of the boot and the memory) and
//! `benches/hostile.rs` (which prints time and memory), so both see the same
//! inputs. Every server is on loopback, in the calling process.
#![allow(dead_code)]

use std::io::{Read, Seek, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{python, run_image_tool, Machine, BIN, META};

/// The boot's four stages, as cloud-init's units run them.
pub const STAGES: [&[&str]; 4] = [
    &["init", "--local"],
    &["init"],
    &["modules", "--mode=config"],
    &["modules", "--mode=final"],
];

/// What one stage run left.
pub struct Measured {
    pub code: i32,
    /// The stage process's own peak RSS.
    pub max_rss_kib: i64,
    pub seconds: f64,
    pub stderr: String,
}

/// One hostile input, ready to boot.
pub struct Case {
    pub machine: Machine,
    /// Options before each stage's verb (`--device IMAGE`).
    pub options: Vec<String>,
    /// The paths the case's HTTP server was asked for (if it has one).
    pub requests: Arc<Mutex<Vec<String>>>,
    /// The server's base URL (if it has one).
    pub base: String,
    /// A file the rest of the boot writes: the system config's write_files,
    /// unless user-data has its own.
    pub went_on: &'static str,
    /// Files that must live as long as the case (device images).
    _files: Option<tempfile::TempDir>,
}

impl Case {
    fn new(machine: Machine) -> Case {
        // A file from the system config shows that the rest of the boot went on.
        machine.write(
            "/etc/cloud/cloud.cfg.d/50_site.cfg",
            "write_files: [{path: /etc/still-booted, content: 'yes'}]\n",
        );
        Case {
            machine,
            options: Vec::new(),
            requests: Arc::default(),
            base: String::new(),
            went_on: "/etc/still-booted",
            _files: None,
        }
    }

    fn seeded_bytes(user_data: &[u8]) -> Case {
        let m = Machine::new();
        m.write("/var/lib/cloud/seed/nocloud/meta-data", META);
        std::fs::write(m.path("/var/lib/cloud/seed/nocloud/user-data"), user_data).unwrap();
        Case::new(m)
    }

    fn serving(mut self, (base, requests): (String, Arc<Mutex<Vec<String>>>)) -> Case {
        self.base = base;
        self.requests = requests;
        self
    }

    /// Runs one stage (`ARGS` after the case's options).
    pub fn run(&self, args: &[&str]) -> Measured {
        let mut all: Vec<&str> = self.options.iter().map(String::as_str).collect();
        all.extend_from_slice(args);
        run_measured(self.machine.root(), &all)
    }

    /// The four stages, in order.
    pub fn boot(&self) -> Vec<Measured> {
        STAGES.iter().map(|args| self.run(args)).collect()
    }

    /// Whether the rest of the boot went on (see [`Case::went_on`]).
    pub fn booted_on(&self) -> bool {
        self.machine.exists(self.went_on)
    }
}

/// Runs `cloudboot --root ROOT ARGS` under `tests/peak_rss.py` (see there
/// why not `wait4` on it directly). A run still going after ten minutes is
/// killed: a guard against hanging the suite (the include fan-out did, before
/// includes were bounded), not a timing check.
pub fn run_measured(root: &Path, args: &[&str]) -> Measured {
    let out = tempfile::tempfile().unwrap();
    let mut err = tempfile::tempfile().unwrap();
    let result = tempfile::NamedTempFile::new().unwrap();
    let launcher = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peak_rss.py");
    let mut child = Command::new("python3")
        .arg(launcher)
        .arg(result.path())
        .arg(BIN)
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err.try_clone().unwrap())
        .process_group(0)
        .spawn()
        .expect("running python3 tests/peak_rss.py cloudboot ...");
    let group = child.id() as i32;
    let (reaped, guard) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if guard.recv_timeout(Duration::from_secs(600)).is_err() {
            // SAFETY: kill only signals the process group started above.
            unsafe { libc::kill(-group, libc::SIGKILL) };
        }
    });
    let status = child.wait().unwrap();
    let _ = reaped.send(());
    watchdog.join().unwrap();
    let mut stderr = String::new();
    err.rewind().unwrap();
    err.read_to_string(&mut stderr).unwrap();
    assert!(
        status.success(),
        "peak_rss.py cloudboot {args:?}: {status} (killed after 10 minutes?)\n{stderr}"
    );
    let text = std::fs::read_to_string(result.path()).unwrap();
    let fields: Vec<&str> = text.split_whitespace().collect();
    Measured {
        code: fields[0].parse().unwrap(),
        max_rss_kib: fields[1].parse().unwrap(),
        seconds: fields[2].parse().unwrap(),
        stderr,
    }
}

/// What a test server sends for a path.
pub enum Reply {
    Body(Vec<u8>),
    /// `len` bytes of `#`, made as they are sent (never held in memory),
    /// with a Content-Length or, without one, until the client hangs up.
    Stream {
        len: u64,
        content_length: bool,
    },
    NotFound,
}

/// A loopback HTTP server answering each GET with `reply(base URL, path)`,
/// one thread per connection. Returns the base URL and the paths asked for.
pub fn serve_with(
    reply: impl Fn(&str, &str) -> Reply + Send + Sync + 'static,
) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let (seen, reply, url) = (log.clone(), Arc::new(reply), base.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            let (seen, reply, url) = (seen.clone(), reply.clone(), url.clone());
            std::thread::spawn(move || {
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&req);
                let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
                seen.lock().unwrap().push(path.clone());
                let _ = match reply(&url, &path) {
                    Reply::Body(body) => s
                        .write_all(
                            format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                body.len()
                            )
                            .as_bytes(),
                        )
                        .and_then(|_| s.write_all(&body)),
                    Reply::Stream {
                        len,
                        content_length,
                    } => {
                        let head = match content_length {
                            true => format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
                            ),
                            false => "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_string(),
                        };
                        let chunk = [b'#'; 64 << 10];
                        let mut sent = 0u64;
                        let mut result = s.write_all(head.as_bytes());
                        while result.is_ok() && sent < len {
                            let n = chunk.len().min((len - sent) as usize);
                            result = s.write_all(&chunk[..n]);
                            sent += n as u64;
                        }
                        result
                    }
                    Reply::NotFound => s.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    ),
                };
            });
        }
    });
    (base, log)
}

pub const MB200: u64 = 200 << 20;

/// A file of `len` bytes, sparse (nothing of it is written).
pub fn sparse(path: &Path, len: u64) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::File::create(path).unwrap().set_len(len).unwrap();
}

/// The case: a user-data that includes itself ten times (459 bytes
/// there; shorter URLs here). With only the depth bounded, 10^8 fetches.
pub fn self_including() -> Case {
    let body = |base: &str| format!("#include\n{}", format!("{base}/ud\n").repeat(10));
    let server = serve_with(move |base, path| match path {
        "/ud" => Reply::Body(body(base).into_bytes()),
        _ => Reply::NotFound,
    });
    Case::seeded_bytes(body(&server.0).as_bytes()).serving(server)
}

/// A MIME message of `n` shell-script parts of about `part_len` bytes each.
pub fn mime_parts(n: usize, part_len: usize) -> Case {
    let mut msg = b"Content-Type: multipart/mixed; boundary=\"B\"\nMIME-Version: 1.0\n\n".to_vec();
    for i in 0..n {
        let head = format!("--B\nContent-Type: text/x-shellscript\n\n#!/bin/sh\necho {i}\n");
        msg.extend_from_slice(head.as_bytes());
        if part_len > head.len() + 2 {
            msg.push(b'#');
            msg.extend(std::iter::repeat_n(b'x', part_len - head.len() - 2));
            msg.push(b'\n');
        }
    }
    msg.extend_from_slice(b"--B--\n");
    Case::seeded_bytes(&msg)
}

/// A 200 MB user-data in the seed directory.
pub fn big_seed_file() -> Case {
    let m = Machine::new();
    m.write("/var/lib/cloud/seed/nocloud/meta-data", META);
    sparse(&m.path("/var/lib/cloud/seed/nocloud/user-data"), MB200);
    Case::new(m)
}

/// Which filesystem an image holds.
#[derive(Clone, Copy, Debug)]
pub enum Image {
    Iso9660,
    Fat,
}

/// A cidata image whose user-data is 200 MB, named with `--device`: really
/// that large (genisoimage and mcopy write it all).
pub fn big_on_image(kind: Image) -> Case {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("meta-data"), META).unwrap();
    sparse(&src.join("user-data"), MB200);
    let image: PathBuf = match kind {
        Image::Iso9660 => {
            let iso = dir.path().join("cidata.iso");
            run_image_tool(
                "genisoimage",
                &[
                    "-quiet",
                    "-o",
                    iso.to_str().unwrap(),
                    "-V",
                    "cidata",
                    "-R",
                    "-J",
                    src.to_str().unwrap(),
                ],
            );
            iso
        }
        Image::Fat => {
            let fat = dir.path().join("cidata.img");
            sparse(&fat, MB200 + (16 << 20));
            run_image_tool("mkfs.vfat", &["-n", "CIDATA", fat.to_str().unwrap()]);
            for name in ["meta-data", "user-data"] {
                let from = src.join(name);
                run_image_tool(
                    "mcopy",
                    &[
                        "-i",
                        fat.to_str().unwrap(),
                        from.to_str().unwrap(),
                        &format!("::/{name}"),
                    ],
                );
            }
            fat
        }
    };
    std::fs::remove_file(src.join("user-data")).unwrap();
    let mut case = Case::new(Machine::new());
    case.options = vec!["--device".into(), image.display().to_string()];
    case._files = Some(dir);
    case
}

/// `seedfrom` over HTTP (the kernel command line's `ds=nocloud-net;s=`)
/// serving a 200 MB user-data, with or without a Content-Length.
pub fn big_http_seed(content_length: bool) -> Case {
    let server = serve_with(move |_, path| match path {
        "/meta-data" => Reply::Body(META.as_bytes().to_vec()),
        "/user-data" => Reply::Stream {
            len: MB200,
            content_length,
        },
        _ => Reply::NotFound,
    });
    let case = Case::new(Machine::new());
    case.machine.write(
        "/proc/cmdline",
        &format!("ds=nocloud-net;s={}/\n", server.0),
    );
    case.serving(server)
}

/// `#include` of a 200 MB body, of an endless one (no Content-Length), and
/// of a 200 MB file in the root, then of a small cloud-config.
pub fn big_includes() -> Case {
    let server = serve_with(|_, path| match path {
        "/big" => Reply::Stream {
            len: MB200,
            content_length: true,
        },
        "/endless" => Reply::Stream {
            len: u64::MAX,
            content_length: false,
        },
        "/small" => Reply::Body(
            b"#cloud-config\nwrite_files: [{path: /etc/included, content: 'yes'}]\n".to_vec(),
        ),
        _ => Reply::NotFound,
    });
    let base = &server.0;
    let case = Case::seeded_bytes(
        format!("#include\n{base}/big\n{base}/endless\nfile:///srv/big\n{base}/small\n").as_bytes(),
    );
    sparse(&case.machine.path("/srv/big"), MB200);
    // The included cloud-config's write_files replaces the system config's.
    Case {
        went_on: "/etc/included",
        ..case.serving(server)
    }
}

/// 1 GiB of zeros, gzipped (about 1 MB), as the user-data.
pub fn gzip_bomb() -> Case {
    Case::seeded_bytes(&python(
        "import gzip, sys\nsys.stdout.buffer.write(gzip.compress(b'\\0' * (1 << 30), 9))",
    ))
}

/// A jinja user-data of `n` variables (finding each tag scanned the rest of
/// the template three times, once per kind of tag).
pub fn jinja_variables(n: usize) -> Case {
    let mut text = String::from("## template: jinja\n#cloud-config\nruncmd:\n");
    for _ in 0..n {
        text.push_str("- {{ v1.instance_id }}\n");
    }
    Case::seeded_bytes(text.as_bytes())
}

/// A write_files entry whose content is 1 GiB of zeros, gzipped (about 1 MB
/// in base64): streamed to disk, it stops at the 256 MiB write limit.
pub fn gzip_write_files_bomb() -> Case {
    let b64 = python(
        "import base64, gzip, sys\nsys.stdout.write(base64.b64encode(gzip.compress(b'\\0' * (1 << 30), 9)).decode())",
    );
    let mut text =
        b"#cloud-config\nwrite_files:\n- path: /var/tmp/bomb\n  encoding: gz+b64\n  content: "
            .to_vec();
    text.extend_from_slice(&b64);
    // The entry after it is still written: the rest of the boot goes on.
    text.extend_from_slice(b"\n- path: /etc/still-booted\n  content: 'yes'\n");
    Case::seeded_bytes(&text)
}

/// A cloud-config of `n` top-level keys (a mapping's keys are hashed, so
/// time grows with n; past 100,000 nodes the document is refused).
pub fn many_keys(n: usize) -> Case {
    let mut text = String::from("#cloud-config\n");
    for i in 0..n {
        text.push_str(&format!("k{i}: 1\n"));
    }
    Case::seeded_bytes(text.as_bytes())
}

/// `parts` cloud-config parts, each appending `items` entries to runcmd
/// (merged in place; parts past 100,000 nodes in all are left out).
pub fn appending_parts(parts: usize, items: usize) -> Case {
    let body = format!(
        "#cloud-config\nmerge_how: dict(recurse_array)+list(append)\nruncmd: [{}]\n",
        vec!["x"; items].join(",")
    );
    let mut msg = b"Content-Type: multipart/mixed; boundary=\"B\"\nMIME-Version: 1.0\n\n".to_vec();
    for _ in 0..parts {
        msg.extend_from_slice(b"--B\nContent-Type: text/cloud-config\n\n");
        msg.extend_from_slice(body.as_bytes());
    }
    msg.extend_from_slice(b"--B--\n");
    Case::seeded_bytes(&msg)
}
