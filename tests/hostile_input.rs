//! Hostile user-data costs what cloudboot's limits allow, never what its
//! shape or size asks for: each case here is one clear error naming the input
//! and the limit, the rest of the boot goes on, and no stage process's peak
//! memory (its `ru_maxrss`, from `wait4`) reaches 64 MiB. How long each case
//! takes is printed by `cargo bench --bench hostile`, not tested.
//!
//! Every server is on loopback, in this process.

mod common;

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

/// The most memory any stage may use on any of these inputs.
const MAX_RSS_KIB: i64 = 64 * 1024;

/// What a stage run left: its exit code, peak memory and output.
struct Measured {
    code: i32,
    max_rss_kib: i64,
    stderr: String,
}

/// Runs `cloudboot --root <root> ARGS` under `tests/peak_rss.py`, for its
/// peak RSS (see there why not `wait4` on it directly). A run still going
/// after ten minutes is killed: a guard against hanging the suite (the
/// fan-out below did, before includes were bounded), not a timing check;
/// every case takes seconds.
fn run_measured(m: &Machine, args: &[&str]) -> Measured {
    let out = tempfile::tempfile().unwrap();
    let mut err = tempfile::tempfile().unwrap();
    let result = tempfile::NamedTempFile::new().unwrap();
    let launcher = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peak_rss.py");
    let mut child = Command::new("python3")
        .arg(launcher)
        .arg(result.path())
        .arg(BIN)
        .arg("--root")
        .arg(m.root())
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err.try_clone().unwrap())
        .process_group(0)
        .spawn()
        .expect("running python3 tests/peak_rss.py cloudboot ...");
    let group = child.id() as libc::pid_t;
    let (reaped, guard) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if guard.recv_timeout(Duration::from_secs(600)).is_err() {
            // SAFETY: kill only signals the process group we started.
            unsafe { libc::kill(-group, libc::SIGKILL) };
        }
    });
    let status = child.wait().unwrap();
    let _ = reaped.send(());
    watchdog.join().unwrap();
    let mut stderr = String::new();
    use std::io::Seek;
    err.rewind().unwrap();
    err.read_to_string(&mut stderr).unwrap();
    assert!(status.success(), "peak_rss.py: {status}\n{stderr}");
    let text = std::fs::read_to_string(result.path()).unwrap();
    let fields: Vec<i64> = text
        .split_whitespace()
        .take(2)
        .map(|f| f.parse().unwrap())
        .collect();
    Measured {
        code: fields[0] as i32,
        max_rss_kib: fields[1],
        stderr,
    }
}

/// The four stages with the exit codes given; the highest peak RSS of them.
fn boot_measured(m: &Machine, codes: [i32; 4]) -> i64 {
    let stages: [&[&str]; 4] = [
        &["init", "--local"],
        &["init"],
        &["modules", "--mode=config"],
        &["modules", "--mode=final"],
    ];
    let mut peak = 0;
    for (args, code) in stages.iter().zip(codes) {
        let run = run_measured(m, args);
        assert_eq!(
            run.code, code,
            "cloudboot {args:?}: exit code (-N: killed by signal N)\n{}",
            run.stderr
        );
        eprintln!("cloudboot {args:?}: peak RSS {} KiB", run.max_rss_kib);
        peak = peak.max(run.max_rss_kib);
    }
    peak
}

fn assert_small(peak_kib: i64) {
    assert!(
        peak_kib < MAX_RSS_KIB,
        "a stage used {peak_kib} KiB at its peak, not under {MAX_RSS_KIB} KiB"
    );
}

/// A cloud.cfg.d file whose write_files shows the boot went on.
fn with_site_config(m: &Machine) {
    m.write(
        "/etc/cloud/cloud.cfg.d/50_site.cfg",
        "write_files: [{path: /etc/still-booted, content: 'yes'}]\n",
    );
}

/// What a test server sends for a path.
enum Reply {
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
fn serve_with(
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
                            true => format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"),
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

const MB200: u64 = 200 << 20;

/// A 200 MB file, sparse (nothing of it is written).
fn sparse(path: &Path, len: u64) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::File::create(path).unwrap().set_len(len).unwrap();
}

#[test]
fn a_user_data_that_includes_itself_ten_times_stops_at_the_include_limit() {
    // The case: 459 bytes (here shorter URLs) naming themselves ten
    // times; with only the depth bounded that is 10^8 fetches.
    let (base, log) = serve_with(|base, path| match path {
        "/ud" => {
            Reply::Body(format!("#include\n{}", format!("{base}/ud\n").repeat(10)).into_bytes())
        }
        _ => Reply::NotFound,
    });
    let m = Machine::seeded(
        META,
        &format!("#include\n{}", format!("{base}/ud\n").repeat(10)),
    );
    with_site_config(&m);
    let peak = boot_measured(&m, [0, 2, 0, 0]);
    assert_eq!(log.lock().unwrap().len(), 100, "fetches");
    let errors = m.stage_errors("init");
    assert_eq!(errors.len(), 2, "{errors:?}");
    let chain = |n| {
        format!(
            "user-data (/var/lib/cloud/seed/nocloud/user-data){}",
            format!(", #include {base}/ud").repeat(n)
        )
    };
    assert_eq!(
        errors[0],
        format!("{}: not followed: includes nest more than 8 deep (cloudboot's limit, user_data_limits.max_include_depth) (and 849 more for the same reason)", chain(9))
    );
    assert_eq!(
        errors[1],
        format!("{}: not fetched: more than 100 includes for one user-data (cloudboot's limit, user_data_limits.max_includes) (and 59 more for the same reason)", chain(8))
    );
    assert_eq!(m.read("/etc/still-booted"), "yes");
    assert_small(peak);
}

/// A MIME message of `n` shell-script parts.
fn many_parts(n: usize) -> Vec<u8> {
    let mut msg = b"Content-Type: multipart/mixed; boundary=\"B\"\nMIME-Version: 1.0\n\n".to_vec();
    for i in 0..n {
        msg.extend_from_slice(
            format!("--B\nContent-Type: text/x-shellscript\n\n#!/bin/sh\necho {i}\n").as_bytes(),
        );
    }
    msg.extend_from_slice(b"--B--\n");
    msg
}

#[test]
fn a_hundred_thousand_mime_parts_are_refused_and_the_boot_goes_on() {
    let m = Machine::new();
    m.write("/var/lib/cloud/seed/nocloud/meta-data", META);
    std::fs::write(
        m.path("/var/lib/cloud/seed/nocloud/user-data"),
        many_parts(100_000),
    )
    .unwrap();
    with_site_config(&m);
    let peak = boot_measured(&m, [0, 1, 0, 0]);
    assert_eq!(
        m.stage_errors("init"),
        ["user-data (/var/lib/cloud/seed/nocloud/user-data): the MIME message has more parts than the 1000 cloudboot accepts (user_data_limits.max_parts); it was not used"]
    );
    // Not one part was used.
    let scripts = m.path(&format!("{}/scripts", m.idir("iid-test-1")));
    assert_eq!(
        std::fs::read_dir(scripts).map(|d| d.count()).unwrap_or(0),
        0
    );
    assert_eq!(m.read("/etc/still-booted"), "yes");
    assert_small(peak);
}

#[test]
fn a_thousand_mime_parts_are_all_used() {
    let m = Machine::new();
    m.write("/var/lib/cloud/seed/nocloud/meta-data", META);
    std::fs::write(
        m.path("/var/lib/cloud/seed/nocloud/user-data"),
        many_parts(1000),
    )
    .unwrap();
    let peak = run_measured(&m, &["init", "--local"]).max_rss_kib.max({
        let run = run_measured(&m, &["init"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.max_rss_kib
    });
    let scripts = m.path(&format!("{}/scripts", m.idir("iid-test-1")));
    assert_eq!(std::fs::read_dir(scripts).unwrap().count(), 1000);
    assert_small(peak);
}

#[test]
fn a_200_mb_seed_file_is_refused_unread() {
    let m = Machine::new();
    m.write("/var/lib/cloud/seed/nocloud/meta-data", META);
    sparse(&m.path("/var/lib/cloud/seed/nocloud/user-data"), MB200);
    with_site_config(&m);
    let peak = boot_measured(&m, [1, 0, 0, 0]);
    assert_eq!(
        m.stage_errors("init-local"),
        ["/var/lib/cloud/seed/nocloud/user-data: 200.0 MiB, more than the 16 MiB cloudboot accepts; ignored"]
    );
    assert_eq!(m.read("/etc/still-booted"), "yes");
    assert_small(peak);
}

fn tool(name: &str) -> String {
    for dir in ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p.display().to_string();
        }
    }
    panic!("{name} is missing: apt-get install dosfstools mtools genisoimage (.ci/run does)");
}

fn run_tool(cmd: &str, args: &[&str]) {
    let out = Command::new(tool(cmd)).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A cidata seed whose user-data is 200 MB, on an ISO9660 image and on a
/// FAT one (both really that large: genisoimage and mcopy write it all).
#[test]
fn a_200_mb_user_data_on_an_iso_or_fat_image_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("meta-data"), META).unwrap();
    sparse(&src.join("user-data"), MB200);
    let iso = dir.path().join("cidata.iso");
    run_tool(
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
    let fat = dir.path().join("cidata.img");
    sparse(&fat, MB200 + (16 << 20));
    run_tool("mkfs.vfat", &["-n", "CIDATA", fat.to_str().unwrap()]);
    for name in ["meta-data", "user-data"] {
        let from = src.join(name);
        run_tool(
            "mcopy",
            &[
                "-i",
                fat.to_str().unwrap(),
                from.to_str().unwrap(),
                &format!("::/{name}"),
            ],
        );
    }
    for (image, fs_type) in [(&iso, "iso9660"), (&fat, "vfat")] {
        let m = Machine::new();
        with_site_config(&m);
        let device = image.to_str().unwrap();
        let local = run_measured(&m, &["--device", device, "init", "--local"]);
        assert_eq!(local.code, 1, "{}", local.stderr);
        let errors = m.stage_errors("init-local");
        assert_eq!(
            errors,
            [format!("{device} ({fs_type}): user-data: /user-data: 209715200 bytes, more than the limit of 16777216 bytes; ignored")]
        );
        let network = run_measured(&m, &["--device", device, "init"]);
        assert_eq!(network.code, 0, "{}", network.stderr);
        assert_eq!(m.read("/etc/still-booted"), "yes");
        assert_small(local.max_rss_kib.max(network.max_rss_kib));
    }
}

/// `seedfrom` over HTTP serving a 200 MB user-data, with and without a
/// Content-Length: refused at 16 MiB; the fallback datasource boots.
#[test]
fn a_200_mb_user_data_from_an_http_seed_is_refused() {
    for content_length in [true, false] {
        let (base, _) = serve_with(move |_, path| match path {
            "/meta-data" => Reply::Body(META.as_bytes().to_vec()),
            "/user-data" => Reply::Stream {
                len: MB200,
                content_length,
            },
            _ => Reply::NotFound,
        });
        let m = Machine::new();
        m.write("/proc/cmdline", &format!("ds=nocloud-net;s={base}/\n"));
        with_site_config(&m);
        let peak = boot_measured(&m, [0, 1, 0, 0]);
        let errors = m.stage_errors("init");
        assert_eq!(
            errors,
            [format!("NoCloud seedfrom {base}/: {base}/user-data: the response is larger than the 16777216 bytes cloudboot accepts")],
            "Content-Length sent: {content_length}"
        );
        assert_eq!(
            m.read("/var/lib/cloud/data/instance-id"),
            "iid-datasource-none\n"
        );
        assert_eq!(m.read("/etc/still-booted"), "yes");
        assert_small(peak);
    }
}

/// `#include` of a 200 MB body over HTTP and of a 200 MB file: each refused,
/// and the include after them still applies.
#[test]
fn a_200_mb_include_is_refused_and_the_next_one_applies() {
    let (base, _) = serve_with(|_, path| match path {
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
    let m = Machine::seeded(
        META,
        &format!("#include\n{base}/big\n{base}/endless\nfile:///srv/big\n{base}/small\n"),
    );
    sparse(&m.path("/srv/big"), MB200);
    let peak = boot_measured(&m, [0, 3, 0, 0]);
    let from = "user-data (/var/lib/cloud/seed/nocloud/user-data), #include";
    let budget = "more than 16 MiB of user-data once decompressed and included (cloudboot's limit); it was not used";
    assert_eq!(
        m.stage_errors("init"),
        [
            format!("{from} {base}/big: {budget}"),
            format!("{from} {base}/endless: {budget}"),
            format!("{from} file:///srv/big: {budget}"),
        ]
    );
    assert_eq!(m.read("/etc/included"), "yes");
    assert_small(peak);
}

/// 1 GiB of zeros, gzipped (about 1 MB): refused once 16 MiB are out.
#[test]
fn a_gzip_bomb_is_refused_and_the_boot_goes_on() {
    let bomb = python(
        "import gzip, sys\nz = gzip.compress(b'\\0' * (1 << 30), 9)\nsys.stdout.buffer.write(z)",
    );
    let m = Machine::new();
    m.write("/var/lib/cloud/seed/nocloud/meta-data", META);
    std::fs::write(m.path("/var/lib/cloud/seed/nocloud/user-data"), &bomb).unwrap();
    with_site_config(&m);
    let peak = boot_measured(&m, [0, 1, 0, 0]);
    assert_eq!(
        m.stage_errors("init"),
        ["user-data (/var/lib/cloud/seed/nocloud/user-data): more than 16 MiB of user-data once decompressed and included (cloudboot's limit); it was not used"]
    );
    assert_eq!(m.read("/etc/still-booted"), "yes");
    assert_small(peak);
}
