//! `cargo bench`: boots every bundled example through the four stages, each
//! stage as its own process exactly as a real boot runs them (`init --local`,
//! `init`, `modules --mode=config`, `modules --mode=final`), each run in a
//! fresh temporary root. Prints the median and worst time per stage and in
//! total, the peak resident memory (RSS) of each stage's process, and that
//! of any stage process. The engine-only seed of benches/vs-cloud-init.sh
//! is booted too, and a config drive example as the ISO image nova makes of
//! it (when genisoimage is there).
//!
//! Measurements live here, never in tests. Set CLOUDBOOT_BENCH_RUNS to change
//! the number of boots per example (default 30), and CLOUDBOOT_BENCH_AGAINST
//! to a second binary to time both in one run (with the ratio of their total
//! medians). Nothing it runs sends a packet past this machine's loopback (see
//! [`unreachable_search`]).

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

#[path = "../tests/common/private_network.rs"]
mod private_network;

const BIN: &str = env!("CARGO_BIN_EXE_cloudboot");
const STAGES: [(&str, &[&str]); 4] = [
    ("local", &["init", "--local"]),
    ("network", &["init"]),
    ("config", &["modules", "--mode=config"]),
    ("final", &["modules", "--mode=final"]),
];

fn examples() -> Vec<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out: Vec<PathBuf> = fs::read_dir(manifest.join("examples"))
        .expect("examples/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let nocloud = p.join("meta-data").is_file() && p.join("user-data").is_file();
            let config_drive = p.join("openstack").is_dir();
            if config_drive && !has_genisoimage() {
                println!("skipped {}: needs genisoimage", p.display());
            }
            nocloud || (config_drive && has_genisoimage())
        })
        .filter(|p| {
            // Users need the distro's useradd, which a scratch root does not
            // have (and their files' owners with them): such seeds are
            // measured in a real root by benches/vs-cloud-init.sh.
            let makes_users = fs::read_to_string(p.join("user-data"))
                .map(|t| t.lines().any(|l| l.starts_with("users:")))
                .unwrap_or(false);
            if makes_users {
                println!(
                    "skipped {}: creates users (see benches/vs-cloud-init.sh)",
                    p.display()
                );
            }
            !makes_users
        })
        .collect();
    out.push(manifest.join("benches/engine-only"));
    out.sort();
    out
}

fn has_genisoimage() -> bool {
    Command::new("genisoimage")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Each stage's time and the total, for every boot of one binary.
struct StageTimes {
    per_stage: Vec<Vec<Duration>>,
    totals: Vec<Duration>,
    /// The highest peak RSS (KiB) of each stage's process over the boots.
    peak_rss_kib: Vec<i64>,
}

impl StageTimes {
    fn total_median(&self) -> Duration {
        median(&mut self.totals.clone())
    }

    fn print(&self) {
        for (i, (name, _)) in STAGES.iter().enumerate() {
            let mut times = self.per_stage[i].clone();
            let worst = *times.iter().max().unwrap();
            println!(
                "  {name:<8} median {:>10}   worst {:>10}   peak RSS {:>5} KiB",
                ms(median(&mut times)),
                ms(worst),
                self.peak_rss_kib[i]
            );
        }
        let worst = *self.totals.iter().max().unwrap();
        println!(
            "  {:<8} median {:>10}   worst {:>10}",
            "total",
            ms(self.total_median()),
            ms(worst)
        );
    }
}

/// `runs` boots of `example` by each binary in `bins`, in a fresh root
/// each, the binaries taking turns.
fn boot_example(example: &Path, bins: &[PathBuf], runs: usize) -> Vec<StageTimes> {
    let mut timed: Vec<StageTimes> = bins
        .iter()
        .map(|_| StageTimes {
            per_stage: vec![Vec::new(); STAGES.len()],
            totals: Vec::new(),
            peak_rss_kib: vec![0; STAGES.len()],
        })
        .collect();
    for _ in 0..runs {
        for (bin, times) in bins.iter().zip(timed.iter_mut()) {
            let root = tempfile::tempdir().unwrap();
            let device = seed(root.path(), example);
            let mut total = Duration::ZERO;
            for (i, (name, args)) in STAGES.iter().enumerate() {
                let mut stage = Command::new(bin);
                stage.arg("--root").arg(root.path());
                if let Some(device) = &device {
                    stage.arg("--device").arg(device);
                }
                stage.args(*args);
                let start = Instant::now();
                let (status, stderr, rss_kib) = run_measured(&mut stage);
                let took = start.elapsed();
                assert!(
                    status.success(),
                    "{} stage {name} failed with {}: {}",
                    example.display(),
                    bin.display(),
                    String::from_utf8_lossy(&stderr)
                );
                times.per_stage[i].push(took);
                times.peak_rss_kib[i] = times.peak_rss_kib[i].max(rss_kib);
                total += took;
            }
            times.totals.push(total);
        }
    }
    timed
}

/// Puts `example` where the stages find it: a NoCloud seed directory in
/// the root, or for a config drive tree (`openstack/`) an ISO image of it
/// labelled `config-2`, as nova makes it, whose path is returned (for
/// `--device`).
fn seed(root: &Path, example: &Path) -> Option<PathBuf> {
    if example.join("openstack").is_dir() {
        let iso = root.join("config-2.iso");
        let made = Command::new("genisoimage")
            .args(["-quiet", "-V", "config-2", "-R", "-J", "-o"])
            .arg(&iso)
            .arg(example)
            .status()
            .unwrap();
        assert!(made.success(), "genisoimage {}", example.display());
        return Some(iso);
    }
    let dest = root.join("var/lib/cloud/seed/nocloud");
    fs::create_dir_all(&dest).unwrap();
    for name in ["meta-data", "user-data", "vendor-data", "network-config"] {
        let src = example.join(name);
        if src.is_file() {
            fs::copy(&src, dest.join(name)).unwrap();
        }
    }
    None
}

/// Runs `cmd` (stdout discarded) to its end: its exit status, its stderr
/// and its peak RSS in KiB, which `wait4` reports for that one process
/// (with any children it waited for).
// The child is reaped by the wait4 below, which std cannot see.
#[allow(clippy::zombie_processes)]
fn run_measured(cmd: &mut Command) -> (ExitStatus, Vec<u8>, i64) {
    use std::io::Read;
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = Vec::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    let mut status = 0;
    // SAFETY: wait4 writes only into the two values we pass; the child is
    // ours and not waited for anywhere else (std does not reap on drop).
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        let pid = libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut ru);
        assert_eq!(pid, child.id() as libc::pid_t, "wait4");
        ru
    };
    (ExitStatus::from_raw(status), stderr, ru.ru_maxrss)
}

/// Peak RSS of all waited-for children so far, in KiB.
fn children_max_rss_kib() -> i64 {
    // SAFETY: getrusage only writes into the struct we pass.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru);
        ru.ru_maxrss
    }
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let runs: usize = std::env::var("CLOUDBOOT_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    println!("cloudboot boot benchmark: {runs} boots per example, each stage a separate process");
    println!("binary: {BIN}");
    // Every boot here runs in a network namespace of the bench's own, so
    // that not even a regression in the datasource search can send a packet
    // past this machine's loopback.
    match private_network::enter() {
        Ok(()) => println!("network: a private namespace with only lo"),
        Err(e) => println!(
            "network: this machine's, without a private namespace ({e}; run as root for one)"
        ),
    }
    // CLOUDBOOT_BENCH_AGAINST names a second binary (say, main's build
    // before a change): every boot is then run by both, alternating, so
    // that both see the same machine load, and the ratio is of one run.
    let against = std::env::var_os("CLOUDBOOT_BENCH_AGAINST").map(PathBuf::from);
    let mut bins = vec![PathBuf::from(BIN)];
    if let Some(other) = against {
        println!("against: {}", other.display());
        bins.push(other);
    }
    for example in examples() {
        let timed: Vec<StageTimes> = boot_example(&example, &bins, runs);
        println!("\n{}", example.file_name().unwrap().to_string_lossy());
        for (bin, times) in bins.iter().zip(timed.iter()) {
            if bins.len() > 1 {
                println!("  {}", bin.display());
            }
            times.print();
        }
        if let [this, other] = &timed[..] {
            println!(
                "  total median ratio (this / against): {:.3}",
                this.total_median().as_secs_f64() / other.total_median().as_secs_f64()
            );
        }
    }
    unreachable_search(runs.min(10));
    render_scale();
    println!(
        "\npeak RSS of any stage process: {} KiB",
        children_max_rss_kib()
    );
}

/// The cost of a cloud that is not there: the config asks for OpenStack and
/// EC2 (`datasource_list`), DMI names neither, and no metadata service
/// answers. OpenStack is not tried without DMI; EC2, asked for by the
/// config, gets its unconfirmed bounds (about a second). Where DMI
/// does name the cloud, the waits are cloud-init's own (EC2's 120 s: the
/// service is there and may be slow at boot), which is a test's business
/// (metadata_services::ec2_confirmed_by_dmi_waits_for_a_slow_first_answer),
/// not a figure. Once with the services at a loopback port that accepts
/// connections and never answers, once at cloud-init's default link-local
/// URLs. Prints the local + network stage time, which ends in the None
/// fallback.
///
/// Nothing of it leaves the machine: it runs on a thread of its own in a
/// network namespace it makes (tests/common/private_network.rs), with only
/// `lo`, where 169.254.169.254 is put on `lo` with a listener just as silent
/// as the loopback one; EC2's other default, fd00:ec2::254, has no route
/// there. Without root there is no namespace: the loopback figure is still
/// measured (it only talks to 127.0.0.1) and the link-local one is skipped.
fn unreachable_search(runs: usize) {
    std::thread::spawn(move || {
        let isolated = private_network::enter()
            .and_then(|()| private_network::add_to_lo("169.254.169.254/32"));
        let loopback = silent_listener("127.0.0.1:0");
        let base = format!("http://{loopback}");
        search_figure(
            "silent service on loopback",
            &format!(
                "datasource:\n  OpenStack: {{metadata_urls: ['{base}']}}\n  Ec2: {{metadata_urls: ['{base}']}}\n"
            ),
            runs,
        );
        match isolated {
            Ok(()) => {
                silent_listener("169.254.169.254:80");
                search_figure(
                    "default link-local URLs, silent, in a private network namespace",
                    "",
                    runs,
                );
                no_cloud_figure(runs);
            }
            Err(e) => println!(
                "\nno datasource reachable (default link-local URLs): skipped, it needs a private \
                 network namespace, so that nothing is sent to this machine's network ({e}; run as root)"
            ),
        }
    })
    .join()
    .unwrap();
}

/// A listener that accepts connections and never answers, until the bench
/// ends. Returns its address.
fn silent_listener(addr: &str) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind(addr).unwrap();
    let local = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            held.extend(conn.ok());
        }
    });
    local
}

/// Outside any cloud: no DMI, no seed, no labelled device, and the built-in
/// `datasource_list` (every datasource cloudboot has), against the same
/// stages with `datasource_list: [None]`. The difference is what detection
/// costs (ds-identify's job: every datasource says at once that it cannot
/// apply); a datasource that did try 169.254.169.254 would meet the silent
/// listener and show here as seconds.
fn no_cloud_figure(runs: usize) {
    let time = |cfg: Option<&str>| {
        let mut times = Vec::new();
        for _ in 0..runs {
            let root = tempfile::tempdir().unwrap();
            if let Some(cfg) = cfg {
                fs::create_dir_all(root.path().join("etc/cloud")).unwrap();
                fs::write(root.path().join("etc/cloud/cloud.cfg"), cfg).unwrap();
            }
            let start = Instant::now();
            for args in [&["init", "--local"][..], &["init"][..]] {
                Command::new(BIN)
                    .arg("--root")
                    .arg(root.path())
                    .args(args)
                    .output()
                    .unwrap();
            }
            times.push(start.elapsed());
            let iid =
                fs::read_to_string(root.path().join("var/lib/cloud/data/instance-id")).unwrap();
            assert_eq!(iid, "iid-datasource-none\n", "the search fell back to None");
        }
        median(&mut times)
    };
    let all = time(None);
    let none_only = time(Some("datasource_list: [None]\n"));
    println!(
        "\noutside any cloud, every datasource enabled: local + network stages median {} \
         (with datasource_list [None]: {}; detection and search cost {}) ({runs} runs each)",
        ms(all),
        ms(none_only),
        ms(all.saturating_sub(none_only))
    );
}

/// `runs` local + network stages of a root whose cloud.cfg asks for
/// OpenStack and EC2 (plus `cfg`) and whose DMI names no cloud; prints the
/// median and the worst.
fn search_figure(name: &str, cfg: &str, runs: usize) {
    let mut times = Vec::new();
    for _ in 0..runs {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.path().join("etc/cloud")).unwrap();
        fs::write(
            root.path().join("etc/cloud/cloud.cfg"),
            format!("datasource_list: [OpenStack, Ec2, None]\n{cfg}"),
        )
        .unwrap();
        let start = Instant::now();
        for args in [&["init", "--local"][..], &["init"][..]] {
            Command::new(BIN)
                .arg("--root")
                .arg(root.path())
                .args(args)
                .output()
                .unwrap();
        }
        times.push(start.elapsed());
        let iid = fs::read_to_string(root.path().join("var/lib/cloud/data/instance-id")).unwrap();
        assert_eq!(iid, "iid-datasource-none\n", "the search fell back to None");
    }
    let worst = *times.iter().max().unwrap();
    println!(
        "\nno datasource reachable ({name}): local + network stages median {}, worst {} ({runs} runs; ends in DataSourceNone)",
        ms(median(&mut times)),
        ms(worst)
    );
}

/// Rendering time against the number of NICs (1, 8, 64, 256), for each
/// renderer: a v1 config where every NIC has a static address, a route and
/// DNS, parsed and rendered in this process (no files written). The time per
/// NIC should stay flat: nothing may be quadratic in the NIC count.
fn render_scale() {
    use cloudboot::net::render::{by_name, Flavor, RenderContext};
    use cloudboot::net::state::NetworkState;
    let empty = tempfile::tempdir().unwrap();
    let fs = cloudboot::rootfs::RealFs {
        root: cloudboot::rootfs::Root::new(empty.path()),
    };
    println!("\nrendering N NICs (static address, route, DNS each), median of 15:");
    for n in [1usize, 8, 64, 256] {
        let mut yaml = String::from("version: 1\nconfig:\n");
        let mut macs = std::collections::HashMap::new();
        for i in 0..n {
            let mac = format!("fa:16:3e:00:{:02x}:{:02x}", i / 256, i % 256);
            macs.insert(mac.clone(), format!("eth{i}"));
            yaml.push_str(&format!(
                "- type: physical\n  name: eth{i}\n  mac_address: '{mac}'\n  subnets:\n  - type: static\n    address: 10.{}.{}.10/24\n    dns_nameservers: [10.0.0.2]\n    routes:\n    - {{network: 172.16.{}.0, netmask: 255.255.255.0, gateway: 10.{}.{}.1}}\n",
                i / 256, i % 256, i % 256, i / 256, i % 256
            ));
        }
        let cfg = cloudboot::yaml::load(yaml.as_bytes(), "bench").unwrap();
        let mut line = format!("  {n:>3} NICs:");
        for name in ["sysconfig", "eni", "networkd", "netplan"] {
            let renderer = by_name(name).unwrap();
            let mut times = Vec::new();
            for _ in 0..15 {
                let start = Instant::now();
                let state = NetworkState::parse(&cfg, &macs).unwrap();
                let out = renderer.render(
                    &state,
                    &RenderContext {
                        fs: &fs,
                        flavor: if name == "sysconfig" {
                            Flavor::Rhel
                        } else {
                            Flavor::Default
                        },
                    },
                );
                assert!(!out.files.is_empty());
                times.push(start.elapsed());
            }
            times.sort();
            let median = times[times.len() / 2];
            line.push_str(&format!(
                "  {name} {:.2} ms ({:.1} us/NIC)",
                median.as_secs_f64() * 1e3,
                median.as_secs_f64() * 1e6 / n as f64
            ));
        }
        println!("{line}");
    }
}
