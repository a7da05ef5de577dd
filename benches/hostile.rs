//! `cargo bench --bench hostile`: boots each hostile input of issue 10
//! (`tests/hostile_common`, the same inputs `tests/hostile_input.rs` checks)
//! through the four stages, each stage its own process in a fresh scratch
//! root, and prints every stage's wall time, exit code and peak RSS (its own
//! `ru_maxrss`, through `tests/peak_rss.py`), and the slowest stage and the
//! highest peak of each input.
//!
//! Measurements live here, never in tests. CLOUDBOOT_BENCH_RUNS (default 1)
//! boots each input that many times (fresh each time) and keeps the median
//! time and the highest peak of each stage.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/hostile_common/mod.rs"]
mod hostile_common;

use hostile_common::*;

/// Sets up a fresh copy of one input.
type MakeCase = Box<dyn Fn() -> Case>;

fn main() {
    let runs: usize = std::env::var("CLOUDBOOT_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .filter(|r| *r > 0)
        .unwrap_or(1);
    let cases: Vec<(&str, MakeCase)> = vec![
        ("#include of itself, 10 times", Box::new(self_including)),
        (
            "100,000 MIME parts (3.6 MB)",
            Box::new(|| mime_parts(100_000, 0)),
        ),
        (
            "100,000 MIME parts (16 MB)",
            Box::new(|| mime_parts(100_000, 160)),
        ),
        (
            "1,000 MIME parts, all used",
            Box::new(|| mime_parts(1000, 0)),
        ),
        ("200 MB seed file", Box::new(big_seed_file)),
        (
            "200 MB user-data on ISO9660",
            Box::new(|| big_on_image(Image::Iso9660)),
        ),
        (
            "200 MB user-data on FAT",
            Box::new(|| big_on_image(Image::Fat)),
        ),
        (
            "200 MB HTTP seedfrom, Content-Length",
            Box::new(|| big_http_seed(true)),
        ),
        (
            "200 MB HTTP seedfrom, no length",
            Box::new(|| big_http_seed(false)),
        ),
        ("200 MB #include (HTTP x2, file)", Box::new(big_includes)),
        ("1 GiB gzip bomb", Box::new(gzip_bomb)),
        (
            "jinja, 500,000 variables (11 MB)",
            Box::new(|| jinja_variables(500_000)),
        ),
        ("write_files gzip of 1 GiB", Box::new(gzip_write_files_bomb)),
        ("20,000 keys (190 KB)", Box::new(|| many_keys(20_000))),
        ("1,000,000 keys (11 MB)", Box::new(|| many_keys(1_000_000))),
        (
            "300 appending parts (1.2 MB)",
            Box::new(|| appending_parts(300, 2000)),
        ),
    ];
    println!("{runs} boot(s) per input; per stage: median wall time, highest peak RSS, exit code");
    println!(
        "{:<42} {:>22} {:>22} {:>22} {:>22}",
        "input", "local", "network", "config", "final"
    );
    for (name, make) in &cases {
        let mut seconds = vec![Vec::new(); STAGES.len()];
        let mut peaks = vec![0i64; STAGES.len()];
        let mut codes = vec![0i32; STAGES.len()];
        for _ in 0..runs {
            let case = make();
            for (i, run) in case.boot().into_iter().enumerate() {
                seconds[i].push(run.seconds);
                peaks[i] = peaks[i].max(run.max_rss_kib);
                codes[i] = run.code;
            }
        }
        let cells: Vec<String> = (0..STAGES.len())
            .map(|i| {
                seconds[i].sort_by(f64::total_cmp);
                format!(
                    "{:.2} s {:.1} MiB ({})",
                    seconds[i][seconds[i].len() / 2],
                    peaks[i] as f64 / 1024.0,
                    codes[i]
                )
            })
            .collect();
        println!(
            "{name:<42} {:>22} {:>22} {:>22} {:>22}",
            cells[0], cells[1], cells[2], cells[3]
        );
    }
}
