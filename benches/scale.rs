//! `cargo bench --bench scale`: how a boot's cost grows with its input,
//! along three axes, each from 1 item to many:
//!
//! - `write_files` entries (1 to 10,000), one cloud-config;
//! - MIME parts of user-data (1 to 100,000), each a small cloud-config
//!   part, a third of them base64 and a third quoted-printable;
//! - NICs (1 to 1,024), a NoCloud `network-config` (v1, and v2) with a
//!   static address, a route and DNS for each, matched by MAC against a
//!   fake `/sys/class/net` (as tests/network_boot.rs makes it) whose names
//!   differ from the config's (so every NIC is renamed), rendered by each
//!   renderer (eni, sysconfig, networkd, netplan).
//!
//! Each size is a whole first boot (`cloudboot --root DIR boot`: the four
//! stages in one process) of the release binary into a fresh scratch root;
//! nothing runs on this machine's own root. Per size it prints the median
//! wall time of a few boots (fewer at the big sizes), the time per item,
//! the marginal time per item (what the size costs beyond the boot of one
//! item, divided by the items beyond one) and the peak RSS of the boot
//! process (`wait4`'s `ru_maxrss`). Under each curve, the marginal cost
//! per item at the largest size against the size before it: a linear
//! curve gives about 1x, a quadratic one about the ratio of the sizes.
//!
//! The scratch roots are made in /dev/shm (memory) where there is one, so
//! that the curves are cloudboot's own work: a boot writes and fsyncs
//! every file, and on a disk the filesystem's fsync (its cost grows with
//! the directory on some) and the disk's latency under load are most of
//! what is measured. `CLOUDBOOT_SCALE_DIR=/tmp` measures on a disk.
//!
//! Peak RSS is the boot process's `ru_maxrss`, which counts the bench's
//! own resident memory at the spawn (a few MiB) as a floor: the in-process
//! curves, which grow the bench, run last.
//!
//! Settings (environment):
//! - `CLOUDBOOT_SCALE_MAX=N`: leave out sizes above N (e.g. 1000 for a
//!   quick run);
//! - `CLOUDBOOT_SCALE_AXES=write_files,mime,render,nics`: the axes to run
//!   (`render`: the NICs' parsing, rendering and rename plan in this
//!   process, up to 4,096 NICs, see [`render_curves`]);
//! - `CLOUDBOOT_SCALE_RUNS=N`: boots per size up to 100 items (default 5;
//!   sizes up to 1,000 get half as many, larger sizes one);
//! - `CLOUDBOOT_SCALE_BIN=PATH`: another cloudboot binary to measure (say,
//!   a build of main before a change);
//! - `CLOUDBOOT_SCALE_DIR=DIR`: where the scratch roots go (default
//!   /dev/shm, else `TMPDIR`).
//!
//! Measurements live here, never in tests.

use std::fs;
use std::io::{BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../tests/common/private_network.rs"]
mod private_network;

const BIN: &str = env!("CARGO_BIN_EXE_cloudboot");

/// What the bench was told.
struct Settings {
    bin: PathBuf,
    /// Where scratch roots are made.
    dir: PathBuf,
    max: usize,
    axes: Vec<String>,
    runs: usize,
}

impl Settings {
    fn from_env() -> Settings {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Settings {
            bin: var("CLOUDBOOT_SCALE_BIN").map_or_else(|| PathBuf::from(BIN), PathBuf::from),
            dir: var("CLOUDBOOT_SCALE_DIR").map_or_else(
                || {
                    let shm = PathBuf::from("/dev/shm");
                    if shm.is_dir() {
                        shm
                    } else {
                        std::env::temp_dir()
                    }
                },
                PathBuf::from,
            ),
            max: var("CLOUDBOOT_SCALE_MAX")
                .and_then(|v| v.parse().ok())
                .unwrap_or(usize::MAX),
            axes: var("CLOUDBOOT_SCALE_AXES")
                .unwrap_or_else(|| "write_files,mime,render,nics".into())
                .split(',')
                .map(|a| a.trim().to_string())
                .collect(),
            runs: var("CLOUDBOOT_SCALE_RUNS")
                .and_then(|v| v.parse().ok())
                .unwrap_or(5)
                .max(1),
        }
    }

    fn wants(&self, axis: &str) -> bool {
        self.axes.iter().any(|a| a == axis)
    }

    /// Boots at `n` items: a few where a boot is quick, one where it is not.
    fn runs_at(&self, n: usize) -> usize {
        match n {
            0..=100 => self.runs,
            101..=1000 => self.runs.div_ceil(2),
            _ => 1,
        }
    }

    fn sizes(&self, all: &[usize]) -> Vec<usize> {
        all.iter().copied().filter(|&n| n <= self.max).collect()
    }
}

/// One boot: its wall time, the peak RSS of the process, how it ended.
struct Boot {
    wall: Duration,
    max_rss_kib: i64,
    exit: i32,
}

/// Runs `bin --root ROOT boot`, its output into files beside the root
/// (`scratch/stdout`, `scratch/stderr`), and waits for it with `wait4`
/// for its own rusage.
fn boot(bin: &Path, scratch: &Path) -> Boot {
    let root = scratch.join("root");
    let stdout = fs::File::create(scratch.join("stdout")).unwrap();
    let stderr = fs::File::create(scratch.join("stderr")).unwrap();
    let start = Instant::now();
    let child = Command::new(bin)
        .arg("--root")
        .arg(&root)
        .arg("boot")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: wait4 only writes into the status and rusage we pass; the
    // child is ours and waited for once (std's `Child` never waits on drop).
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        loop {
            let r = libc::wait4(pid, &mut status, 0, &mut ru);
            if r == pid {
                break;
            }
            let err = std::io::Error::last_os_error();
            assert_eq!(err.kind(), std::io::ErrorKind::Interrupted, "wait4: {err}");
        }
        ru
    };
    let wall = start.elapsed();
    drop(child);
    Boot {
        wall,
        max_rss_kib: ru.ru_maxrss,
        exit: if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            128 + libc::WTERMSIG(status)
        },
    }
}

/// Writes `text` at guest path `guest` of `root`, making its directories.
fn put(root: &Path, guest: &str, text: &[u8]) {
    let path = root.join(guest.trim_start_matches('/'));
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

/// A program the renderers look for (`which` under the root): never run,
/// since the root is not this machine's.
fn tool(root: &Path, guest: &str) {
    put(root, guest, b"#!/bin/sh\n");
    let path = root.join(guest.trim_start_matches('/'));
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// A file at guest path `guest` of `root` to write to, its directories
/// made. Big inputs are written through it as they are made: built whole
/// in memory, they would grow the bench, whose resident memory at a spawn
/// is the floor of the boot's peak RSS.
fn create(root: &Path, guest: &str) -> BufWriter<fs::File> {
    let path = root.join(guest.trim_start_matches('/'));
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    BufWriter::new(fs::File::create(path).unwrap())
}

/// A NoCloud seed's guest path.
const SEED: &str = "/var/lib/cloud/seed/nocloud";

/// A NoCloud seed's meta-data; the caller writes the rest.
fn meta_data(root: &Path) {
    put(
        root,
        &format!("{SEED}/meta-data"),
        b"instance-id: iid-scale\nlocal-hostname: scale\n",
    );
}

/// An axis's input at one size, laid into a scratch root, and what the
/// boot must have done with it.
trait Input {
    /// The curve's name.
    fn name(&self) -> String;
    /// Writes the input for `n` items into `root`.
    fn lay(&self, root: &Path, n: usize);
    /// Whether the boot at `n` items is to report errors (its exit code is
    /// their number, at most 255).
    fn errors_expected(&self, _n: usize) -> bool {
        false
    }
    /// What is wrong with the boot's result (`report` is its stdout), if
    /// anything.
    fn check(&self, root: &Path, n: usize, report: &str) -> Result<(), String>;
}

/// `n` write_files entries, each a small file of its own.
struct WriteFiles;

impl Input for WriteFiles {
    fn name(&self) -> String {
        "write_files entries".into()
    }

    fn lay(&self, root: &Path, n: usize) {
        meta_data(root);
        let mut ud = create(root, &format!("{SEED}/user-data"));
        ud.write_all(b"#cloud-config\nwrite_files:\n").unwrap();
        for i in 0..n {
            write!(
                ud,
                "- path: /srv/scale/f{i}\n  content: \"file {i}\\n\"\n  permissions: '0640'\n"
            )
            .unwrap();
        }
        ud.flush().unwrap();
    }

    fn check(&self, root: &Path, n: usize, _report: &str) -> Result<(), String> {
        let last = root.join(format!("srv/scale/f{}", n - 1));
        match fs::read_to_string(&last) {
            Ok(t) if t == format!("file {}\n", n - 1) => Ok(()),
            Ok(t) => Err(format!("{} holds {t:?}", last.display())),
            Err(e) => Err(format!("{}: {e}", last.display())),
        }
    }
}

/// A multipart user-data of `n` cloud-config parts, each setting `runcmd`
/// (a later part replaces it, as by default); cloud.cfg raises
/// `user_data_limits.max_parts` to `n` (the default is 1,000).
struct MimeParts;

/// The part merger's bound on the nodes (scalars, lists, mappings) of the
/// cloud-config parts merged, summed (`yaml::MAX_NODES`): past it, a part is
/// reported and left out.
const MERGED_NODES: usize = 100_000;
/// Nodes of one part's cloud-config (`{runcmd: [text]}`).
const NODES_PER_PART: usize = 4;

impl Input for MimeParts {
    fn name(&self) -> String {
        "MIME parts (cloud-config)".into()
    }

    fn lay(&self, root: &Path, n: usize) {
        meta_data(root);
        let mut ud = create(root, &format!("{SEED}/user-data"));
        ud.write_all(b"Content-Type: multipart/mixed; boundary=\"SCALE\"\nMIME-Version: 1.0\n\n")
            .unwrap();
        for i in 0..n {
            let body = format!("#cloud-config\nruncmd: [echo part {i}]\n");
            ud.write_all(b"--SCALE\nContent-Type: text/cloud-config\n")
                .unwrap();
            match i % 3 {
                0 => write!(ud, "\n{body}"),
                1 => write!(
                    ud,
                    "Content-Transfer-Encoding: base64\n\n{}\n",
                    base64(body.as_bytes())
                ),
                _ => write!(
                    ud,
                    "Content-Transfer-Encoding: quoted-printable\n\n{}",
                    body.replace(' ', "=20")
                ),
            }
            .unwrap();
        }
        ud.write_all(b"--SCALE--\n").unwrap();
        ud.flush().unwrap();
        put(
            root,
            "/etc/cloud/cloud.cfg.d/90-scale.cfg",
            format!("user_data_limits: {{max_parts: {}}}\n", n.max(1000)).as_bytes(),
        );
    }

    fn errors_expected(&self, n: usize) -> bool {
        n > MERGED_NODES / NODES_PER_PART
    }

    fn check(&self, root: &Path, n: usize, report: &str) -> Result<(), String> {
        let cc = root.join("var/lib/cloud/instances/iid-scale/cloud-config.txt");
        let text = fs::read_to_string(&cc).map_err(|e| format!("{}: {e}", cc.display()))?;
        let merged = n.min(MERGED_NODES / NODES_PER_PART);
        let want = format!("# from {merged} files\n");
        if !text.contains(&want) {
            return Err(format!("{} does not say {want:?}", cc.display()));
        }
        let last = format!("echo part {}", merged - 1);
        if !text.contains(&last) {
            return Err(format!("{} has no {last:?}", cc.display()));
        }
        if merged < n && !report.contains("cloudboot's limit") {
            return Err("the parts past the merger's bound are not reported".into());
        }
        Ok(())
    }
}

/// The NICs of one network-config version, rendered by one renderer.
struct Nics {
    version: u8,
    renderer: &'static str,
}

impl Nics {
    fn mac(i: usize) -> String {
        format!("52:54:00:12:{:02x}:{:02x}", i / 256, i % 256)
    }

    /// Writes the seed's `network-config` for `n` NICs.
    fn network_config(&self, n: usize, t: &mut impl Write) -> std::io::Result<()> {
        write!(t, "network:\n  version: {}\n", self.version)?;
        if self.version == 1 {
            t.write_all(b"  config:\n")?;
            for i in 0..n {
                let (a, b) = (i / 256, i % 256);
                write!(
                    t,
                    "  - type: physical\n    name: eth{i}\n    mac_address: '{}'\n    subnets:\n    - type: static\n      address: 10.{a}.{b}.10/24\n      dns_nameservers: [10.0.0.2]\n      routes:\n      - {{network: 172.16.{b}.0, netmask: 255.255.255.0, gateway: 10.{a}.{b}.1}}\n",
                    Nics::mac(i)
                )?;
            }
        } else {
            t.write_all(b"  ethernets:\n")?;
            for i in 0..n {
                let (a, b) = (i / 256, i % 256);
                write!(
                    t,
                    "    eth{i}:\n      match: {{macaddress: '{}'}}\n      set-name: eth{i}\n      addresses: [10.{a}.{b}.10/24]\n      nameservers: {{addresses: [10.0.0.2]}}\n      routes:\n      - {{to: 172.16.{b}.0/24, via: 10.{a}.{b}.1}}\n",
                    Nics::mac(i)
                )?;
            }
        }
        t.flush()
    }

    /// The file that holds NIC `i`'s address, and what it holds there.
    fn rendered(&self, i: usize) -> (String, String) {
        let (a, b) = (i / 256, i % 256);
        match self.renderer {
            "eni" => (
                "etc/network/interfaces.d/50-cloud-init".into(),
                format!("address 10.{a}.{b}.10/24"),
            ),
            "sysconfig" => (
                format!("etc/sysconfig/network-scripts/ifcfg-eth{i}"),
                format!("IPADDR=10.{a}.{b}.10"),
            ),
            "networkd" => (
                format!("etc/systemd/network/10-cloud-init-eth{i}.network"),
                format!("Address=10.{a}.{b}.10/24"),
            ),
            _ => (
                "etc/netplan/50-cloud-init.yaml".into(),
                format!("10.{a}.{b}.10/24"),
            ),
        }
    }
}

impl Input for Nics {
    fn name(&self) -> String {
        format!("NICs (v{}, {})", self.version, self.renderer)
    }

    fn lay(&self, root: &Path, n: usize) {
        meta_data(root);
        put(root, &format!("{SEED}/user-data"), b"#cloud-config\n{}\n");
        self.network_config(n, &mut create(root, &format!("{SEED}/network-config")))
            .unwrap();
        // The kernel's names are not the config's: each NIC is found by
        // its MAC and renamed.
        for i in 0..n {
            let dir = format!("/sys/class/net/ens{}", i + 3);
            put(
                root,
                &format!("{dir}/address"),
                format!("{}\n", Nics::mac(i)).as_bytes(),
            );
            put(root, &format!("{dir}/type"), b"1\n");
            put(root, &format!("{dir}/addr_assign_type"), b"0\n");
            put(root, &format!("{dir}/carrier"), b"1\n");
            put(root, &format!("{dir}/operstate"), b"up\n");
            fs::create_dir_all(root.join(dir.trim_start_matches('/')).join("device")).unwrap();
        }
        // A root where the renderer is available, as renderers.select
        // checks it, and the cloud.cfg that asks for it.
        let os_release: &[u8] = match self.renderer {
            "sysconfig" => b"ID=centos\nVERSION_ID=\"8\"\n",
            "netplan" => b"ID=ubuntu\nVERSION_ID=\"22.04\"\n",
            _ => b"ID=debian\nVERSION_ID=\"12\"\n",
        };
        put(root, "/etc/os-release", os_release);
        match self.renderer {
            "eni" => {
                for t in ["/sbin/ifquery", "/sbin/ifup", "/sbin/ifdown"] {
                    tool(root, t);
                }
                put(
                    root,
                    "/etc/network/interfaces",
                    b"source /etc/network/interfaces.d/*\n",
                );
            }
            "sysconfig" => {
                for t in ["/sbin/ifup", "/sbin/ifdown"] {
                    tool(root, t);
                }
                put(
                    root,
                    "/etc/sysconfig/network-scripts/network-functions",
                    b"# initscripts\n",
                );
            }
            "networkd" => {
                tool(root, "/usr/sbin/ip");
                tool(root, "/bin/systemctl");
            }
            _ => tool(root, "/usr/sbin/netplan"),
        }
        put(
            root,
            "/etc/cloud/cloud.cfg.d/90-scale.cfg",
            format!(
                "system_info:\n  network:\n    renderers: [{}]\n",
                self.renderer
            )
            .as_bytes(),
        );
    }

    fn check(&self, root: &Path, n: usize, report: &str) -> Result<(), String> {
        let said = format!("with the {} renderer", self.renderer);
        if !report.contains(&said) {
            return Err(format!("the report does not say {said:?}"));
        }
        let (file, want) = self.rendered(n - 1);
        let text = fs::read_to_string(root.join(&file)).map_err(|e| format!("/{file}: {e}"))?;
        if !text.contains(&want) {
            return Err(format!("/{file} has no {want:?}"));
        }
        Ok(())
    }
}

/// The network model and the renderers alone, in this process, against
/// the number of NICs (up to 4,096): the same v1 and v2 configs as
/// [`Nics`], parsed (`NetworkState::parse`, every NIC's MAC known) and
/// rendered by each renderer, and the renames of [`Nics`] planned
/// (`rename::plan_renames`). Nothing is read from or written to a root
/// (the renderers get an empty one), so the curve is the network code's
/// own, without the boot around it.
fn render_curves(settings: &Settings) {
    use cloudboot::net::input::rename::{plan_renames, CurrentNic, Physdev};
    use cloudboot::net::render::{by_name, Flavor, RenderContext};
    use cloudboot::net::state::NetworkState;
    let empty = tempfile::tempdir().unwrap();
    let fs = cloudboot::rootfs::RealFs {
        root: cloudboot::rootfs::Root::new(empty.path()),
    };
    let sizes = settings.sizes(&[1, 16, 256, 1024, 4096]);
    println!(
        "
NICs, in process: parse + render, and the rename plan (median of 5; us per NIC)"
    );
    let mut header = format!("  {:>7}", "NICs");
    for version in [1, 2] {
        for r in ["eni", "sysconfig", "networkd", "netplan"] {
            header.push_str(&format!("  {:>12}", format!("v{version} {r}")));
        }
    }
    header.push_str(&format!("  {:>12}", "renames"));
    println!("{header}");
    let median_us = |n: usize, f: &mut dyn FnMut()| {
        let mut times: Vec<Duration> = (0..5)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .collect();
        times.sort();
        times[2].as_secs_f64() * 1e6 / n as f64
    };
    let mut per_nic: Vec<Vec<f64>> = Vec::new();
    for &n in &sizes {
        let macs: std::collections::HashMap<String, String> =
            (0..n).map(|i| (Nics::mac(i), format!("eth{i}"))).collect();
        let mut row = Vec::new();
        for version in [1, 2] {
            let cfg = cloudboot::value::Value::from_json(&network_json(version, n));
            for name in ["eni", "sysconfig", "networkd", "netplan"] {
                let renderer = by_name(name).unwrap();
                let ctx = RenderContext {
                    fs: &fs,
                    flavor: if name == "sysconfig" {
                        Flavor::Rhel
                    } else {
                        Flavor::Default
                    },
                };
                row.push(median_us(n, &mut || {
                    let state = NetworkState::parse(&cfg, &macs).unwrap();
                    let out = renderer.render(&state, &ctx);
                    assert!(!out.files.is_empty());
                }));
            }
        }
        let wanted: Vec<Physdev> = (0..n)
            .map(|i| Physdev {
                mac: Nics::mac(i),
                name: format!("eth{i}"),
                driver: None,
                device_id: None,
            })
            .collect();
        let current: Vec<CurrentNic> = (0..n)
            .map(|i| CurrentNic {
                name: format!("ens{}", i + 3),
                mac: Nics::mac(i),
                driver: None,
                device_id: None,
                up: true,
                downable: true,
            })
            .collect();
        row.push(median_us(n, &mut || {
            let plan = plan_renames(&wanted, &current);
            assert_eq!(plan.steps.len(), 3 * n);
        }));
        let mut line = format!("  {n:>7}");
        for us in &row {
            line.push_str(&format!("  {us:>12.1}"));
        }
        println!("{line}");
        per_nic.push(row);
    }
    if let [.., mid, last] = &per_nic[..] {
        let ratios: Vec<String> = mid
            .iter()
            .zip(last)
            .map(|(m, l)| format!("{:.2}", l / m))
            .collect();
        println!(
            "  per-NIC cost at {} vs {}: {}x (linear: about 1x)",
            sizes[sizes.len() - 1],
            sizes[sizes.len() - 2],
            ratios.join("x ")
        );
    }
}

/// [`Nics::network_config`] as JSON: past about 4,000 NICs the YAML text
/// is more than the YAML loader's 100,000 nodes (a limit of input, not of
/// the network code measured here).
fn network_json(version: u8, n: usize) -> serde_json::Value {
    use serde_json::json;
    let net = |i: usize| (i / 256, i % 256);
    let network = if version == 1 {
        let config: Vec<_> = (0..n)
            .map(|i| {
                let (a, b) = net(i);
                json!({"type": "physical", "name": format!("eth{i}"), "mac_address": Nics::mac(i),
                    "subnets": [{"type": "static", "address": format!("10.{a}.{b}.10/24"),
                        "dns_nameservers": ["10.0.0.2"],
                        "routes": [{"network": format!("172.16.{b}.0"), "netmask": "255.255.255.0",
                            "gateway": format!("10.{a}.{b}.1")}]}]})
            })
            .collect();
        json!({"version": 1, "config": config})
    } else {
        let ethernets: serde_json::Map<String, serde_json::Value> = (0..n)
            .map(|i| {
                let (a, b) = net(i);
                (format!("eth{i}"), json!({"match": {"macaddress": Nics::mac(i)},
                    "set-name": format!("eth{i}"), "addresses": [format!("10.{a}.{b}.10/24")],
                    "nameservers": {"addresses": ["10.0.0.2"]},
                    "routes": [{"to": format!("172.16.{b}.0/24"), "via": format!("10.{a}.{b}.1")}]}))
            })
            .collect();
        json!({"version": 2, "ethernets": ethernets})
    };
    json!({ "network": network })
}

/// Standard base64 (the bench's own, to encode MIME parts).
fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(A[(v >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One size of a curve: the median boot and the largest peak RSS.
struct Point {
    n: usize,
    median: Duration,
    max_rss_kib: i64,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Boots `input` at each of `sizes`, printing a line per size as it is
/// measured, then the ratio of the marginal costs at the two largest sizes.
fn curve(settings: &Settings, input: &dyn Input, sizes: &[usize]) {
    let sizes = settings.sizes(sizes);
    println!(
        "\n{} (median of the boots; marginal: beyond the boot of 1)",
        input.name()
    );
    println!(
        "  {:>7}  {:>4}  {:>10}  {:>10}  {:>13}  {:>9}",
        "items", "runs", "ms", "us/item", "marginal us", "peak RSS"
    );
    let mut points: Vec<Point> = Vec::new();
    for &n in &sizes {
        let runs = settings.runs_at(n);
        let mut walls = Vec::new();
        let mut max_rss_kib = 0;
        for _ in 0..runs {
            let scratch = tempfile::tempdir_in(&settings.dir).unwrap();
            let root = scratch.path().join("root");
            input.lay(&root, n);
            let b = boot(&settings.bin, scratch.path());
            let report = fs::read_to_string(scratch.path().join("stdout")).unwrap_or_default();
            if (b.exit != 0) != input.errors_expected(n) {
                let stderr = fs::read_to_string(scratch.path().join("stderr")).unwrap_or_default();
                panic!(
                    "{} at {n}: the boot exited {}:\n{}",
                    input.name(),
                    b.exit,
                    tail(&stderr, 20)
                );
            }
            if let Err(e) = input.check(&root, n, &report) {
                panic!("{} at {n}: {e}\n{}", input.name(), tail(&report, 20));
            }
            walls.push(b.wall);
            max_rss_kib = max_rss_kib.max(b.max_rss_kib);
        }
        walls.sort();
        let p = Point {
            n,
            median: walls[walls.len() / 2],
            max_rss_kib,
        };
        println!(
            "  {:>7}  {:>4}  {:>10.1}  {:>10.1}  {:>13}  {:>5} MiB",
            n,
            runs,
            ms(p.median),
            ms(p.median) * 1e3 / n as f64,
            marginal(&points, &p).map_or("-".into(), |m| format!("{m:.1}")),
            (p.max_rss_kib + 512) / 1024
        );
        points.push(p);
    }
    if let [.., mid, last] = &points[..] {
        match (marginal(&points, mid), marginal(&points, last)) {
            (Some(m), Some(l)) if m > 0.0 => println!(
                "  marginal cost per item at {} vs {}: {:.2}x (linear: about 1x; quadratic: about {}x)",
                last.n,
                mid.n,
                l / m,
                last.n / mid.n
            ),
            _ => {}
        }
    }
}

/// Microseconds per item beyond the boot of one item, if there is one.
fn marginal(points: &[Point], p: &Point) -> Option<f64> {
    let first = points.first().filter(|f| f.n == 1 && p.n > 1)?;
    Some((ms(p.median) - ms(first.median)) * 1e3 / (p.n - 1) as f64)
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn main() {
    let settings = Settings::from_env();
    let started = Instant::now();
    println!("cloudboot scale benchmark: one first boot (`boot`, the four stages) per run");
    println!("binary: {}", settings.bin.display());
    println!("scratch roots under {}", settings.dir.display());
    // As benches/boot.rs: a private network namespace, so that nothing a
    // boot does can reach past this machine's loopback.
    match private_network::enter() {
        Ok(()) => println!("network: a private namespace with only lo"),
        Err(e) => println!(
            "network: this machine's, without a private namespace ({e}; run as root for one)"
        ),
    }
    if settings.wants("write_files") {
        curve(&settings, &WriteFiles, &[1, 10, 100, 1000, 10_000]);
    }
    if settings.wants("nics") {
        for version in [1, 2] {
            for renderer in ["eni", "sysconfig", "networkd", "netplan"] {
                curve(
                    &settings,
                    &Nics { version, renderer },
                    &[1, 4, 16, 64, 256, 1024],
                );
            }
        }
    }
    if settings.wants("mime") {
        // 50,000 as well: past 25,000 parts, the merger's bound leaves the
        // rest out, each with an error; 50,000 and 100,000 are both there,
        // in the same proportion, so their ratio is the curve's.
        curve(
            &settings,
            &MimeParts,
            &[1, 10, 100, 1000, 10_000, 50_000, 100_000],
        );
    }
    if settings.wants("render") {
        render_curves(&settings);
    }
    println!(
        "\nscale benchmark took {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
