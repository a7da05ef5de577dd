//! Hostile user-data costs what cloudboot's limits allow, never what its
//! shape or size asks for: each case here is one clear error naming the input
//! and the limit, the rest of the boot goes on, and no stage process's peak
//! memory (its own `ru_maxrss`) reaches 64 MiB. How long each case takes is
//! printed by `cargo bench --bench hostile`, not tested. The inputs are in
//! `tests/hostile_common`.

mod common;
mod hostile_common;

use hostile_common::*;

/// The most memory any stage may use on any of these inputs.
const MAX_RSS_KIB: i64 = 64 * 1024;

/// Boots `case` through the four stages, insisting on each stage's number
/// of errors (in status.json; the exit code is 1 when there are any) and
/// on every stage's peak memory.
fn boot(case: &Case, errors: [i32; 4]) {
    for (run, (args, count)) in case.boot().iter().zip(STAGES.iter().zip(errors)) {
        assert_eq!(
            run.code,
            count.min(1),
            "cloudboot {args:?}: exit code (-N: killed by signal N)\n{}",
            run.stderr
        );
        eprintln!("cloudboot {args:?}: peak RSS {} KiB", run.max_rss_kib);
        assert!(
            run.max_rss_kib < MAX_RSS_KIB,
            "cloudboot {args:?} used {} KiB at its peak, not under {MAX_RSS_KIB} KiB",
            run.max_rss_kib
        );
    }
    for (mode, count) in ["init-local", "init", "modules-config", "modules-final"]
        .into_iter()
        .zip(errors)
    {
        let listed = case.machine.stage_errors(mode);
        assert_eq!(listed.len() as i32, count, "{mode}: {listed:?}");
    }
    assert!(case.booted_on(), "{} was not written", case.went_on);
}

const SEED: &str = "user-data (/var/lib/cloud/seed/nocloud/user-data)";

#[test]
fn a_user_data_that_includes_itself_ten_times_stops_at_the_include_limit() {
    let case = self_including();
    boot(&case, [0, 2, 0, 0]);
    assert_eq!(case.requests.lock().unwrap().len(), 100, "fetches");
    let chain = |n| format!("{SEED}{}", format!(", #include {}/ud", case.base).repeat(n));
    assert_eq!(
        case.machine.stage_errors("init"),
        [
            format!("{}: not followed: includes nest more than 8 deep (cloudboot's limit, user_data_limits.max_include_depth) (and 849 more for the same reason)", chain(9)),
            format!("{}: not fetched: more than 100 includes for one user-data (cloudboot's limit, user_data_limits.max_includes) (and 59 more for the same reason)", chain(8)),
        ]
    );
}

#[test]
fn a_hundred_thousand_mime_parts_are_refused_and_the_boot_goes_on() {
    let case = mime_parts(100_000, 0);
    boot(&case, [0, 1, 0, 0]);
    let m = &case.machine;
    assert_eq!(
        m.stage_errors("init"),
        [format!("{SEED}: the MIME message has more parts than the 1000 cloudboot accepts (user_data_limits.max_parts); it was not used")]
    );
    // Not one part was used.
    let scripts = m.path(&format!("{}/scripts", m.idir("iid-test-1")));
    assert_eq!(
        std::fs::read_dir(scripts).map(|d| d.count()).unwrap_or(0),
        0
    );
}

#[test]
fn a_thousand_mime_parts_are_all_used() {
    let case = mime_parts(1000, 0);
    boot(&case, [0, 0, 0, 0]);
    let m = &case.machine;
    let scripts = m.path(&format!("{}/scripts", m.idir("iid-test-1")));
    assert_eq!(std::fs::read_dir(scripts).unwrap().count(), 1000);
}

#[test]
fn a_200_mb_seed_file_is_refused_unread() {
    let case = big_seed_file();
    boot(&case, [1, 0, 0, 0]);
    assert_eq!(
        case.machine.stage_errors("init-local"),
        ["/var/lib/cloud/seed/nocloud/user-data: 200.0 MiB, more than the 16 MiB cloudboot accepts; ignored"]
    );
}

#[test]
fn a_200_mb_user_data_on_an_iso_or_fat_image_is_refused_unread() {
    for (image, fs_type) in [(Image::Iso9660, "iso9660"), (Image::Fat, "vfat")] {
        let case = big_on_image(image);
        boot(&case, [1, 0, 0, 0]);
        assert_eq!(
            case.machine.stage_errors("init-local"),
            [format!("{} ({fs_type}): user-data: /user-data: 209715200 bytes, more than the limit of 16777216 bytes; ignored", case.options[1])]
        );
    }
}

/// `seedfrom` over HTTP: refused at 16 MiB; the fallback datasource boots.
#[test]
fn a_200_mb_user_data_from_an_http_seed_is_refused() {
    for content_length in [true, false] {
        let case = big_http_seed(content_length);
        boot(&case, [0, 1, 0, 0]);
        let base = &case.base;
        assert_eq!(
            case.machine.stage_errors("init"),
            [format!("NoCloud seedfrom {base}/: {base}/user-data: the response is larger than the 16777216 bytes cloudboot accepts")],
            "Content-Length sent: {content_length}"
        );
        assert_eq!(
            case.machine.read("/var/lib/cloud/data/instance-id"),
            "iid-datasource-none\n"
        );
    }
}

/// Each refused, and the include after them still applies.
#[test]
fn a_200_mb_include_is_refused_and_the_next_one_applies() {
    let case = big_includes();
    boot(&case, [0, 3, 0, 0]);
    let base = &case.base;
    let budget = "more than 16 MiB of user-data once decompressed and included (cloudboot's limit); it was not used";
    assert_eq!(
        case.machine.stage_errors("init"),
        [
            format!("{SEED}, #include {base}/big: {budget}"),
            format!("{SEED}, #include {base}/endless: {budget}"),
            format!("{SEED}, #include file:///srv/big: {budget}"),
        ]
    );
}

#[test]
fn a_gzip_bomb_is_refused_and_the_boot_goes_on() {
    let case = gzip_bomb();
    boot(&case, [0, 1, 0, 0]);
    assert_eq!(
        case.machine.stage_errors("init"),
        [format!("{SEED}: more than 16 MiB of user-data once decompressed and included (cloudboot's limit); it was not used")]
    );
}

#[test]
fn a_write_files_entry_of_1_gib_gzipped_stops_at_the_write_limit() {
    let case = gzip_write_files_bomb();
    boot(&case, [0, 1, 0, 0]);
    let errors = case.machine.stage_errors("init");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("write_files: writing /var/tmp/bomb: ")
            && errors[0].contains("larger than the limit of 268435456 bytes"),
        "{errors:?}"
    );
    // Nothing of it is left: not the file, not its temporary file.
    let left: Vec<_> = std::fs::read_dir(case.machine.path("/var/tmp"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn two_hundred_thousand_keys_are_refused_at_the_node_limit() {
    // 2 MB. (A user-data near the 16 MiB limit costs about six times its
    // size in the network stage whatever it holds: `cargo bench --bench
    // hostile` prints the million-key case.)
    let case = many_keys(200_000);
    boot(&case, [0, 1, 0, 0]);
    assert_eq!(
        case.machine.stage_errors("init"),
        [format!("{SEED}, line 50001, column 9: the document has more than 100000 nodes (scalars, lists and mappings): refusing it rather than spend gigabytes on it")]
    );
}

#[test]
fn parts_that_append_past_the_node_limit_are_left_out() {
    // Each part is 2,005 nodes: 49 fit under 100,000, the other 251 do not.
    let case = appending_parts(300, 2000);
    boot(&case, [0, 251, 0, 0]);
    let errors = case.machine.stage_errors("init");
    assert_eq!(
        errors[0],
        format!("{SEED}, MIME part 50 (part-050): Failed at merging in cloud config part: merging it would take the cloud-config past 100000 nodes (scalars, lists and mappings), cloudboot's limit; it was left out; the part was ignored")
    );
    let config = case.machine.read(&format!(
        "{}/cloud-config.txt",
        case.machine.idir("iid-test-1")
    ));
    assert_eq!(config.matches("- x").count(), 49 * 2000);
}
