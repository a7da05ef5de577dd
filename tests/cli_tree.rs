//! cloud-init 22.4's whole command-line tree, verb by verb and flag by
//! flag, against cloudboot installed as `/usr/bin/cloud-init`.
//!
//! `tests/fixtures/cli/tree.json` is every parser of 22.4's `cloud-init`
//! (dumped from its own argparse); `tree-cases.json` is a command line for
//! every verb and every flag of it (each flag alone with a valid value, each
//! choice, a bad choice, a flag without its value, `--help` of every parser)
//! and what 22.4 answers to it; `tree.py` there says how both were made.
//!
//! Each case is run against the built binary (arg0 `/usr/bin/cloud-init`,
//! `COLUMNS=80`, a scratch `--root`, the files the case names in a scratch
//! directory that is also its working directory):
//!
//! - a line 22.4's parser refuses or answers itself (`--help`, a bad value):
//!   the same exit code, stdout and stderr, byte for byte;
//! - a line it accepts: cloudboot accepts it too (no usage error). Where
//!   22.4 ran it (the verbs that only read the files they are given: query,
//!   features, schema, analyze, devel render/make-mime/net-convert,
//!   collect-logs --tarfile; status, on a scratch root where a boot has
//!   finished), the same exit code, and the same stdout where scripts read
//!   it. A line that would run a boot stage (init, modules,
//!   single) is given a `--stages` file that does not exist: cloudboot reads
//!   the whole command line, then stops at the stage map before anything
//!   runs, which shows the line was accepted (what it means is checked by
//!   src/cli.rs's unit test on argparse.json).
//!
//! What cloudboot does not do yet is listed in [`NOT_YET`], and printed with
//! the count of cases that match. The list only shrinks: an entry whose
//! cases all match now fails the test (take it out), as does any case
//! outside it that differs. The README's table of verbs and flags is
//! generated from the tree and this list ([`parity_table`];
//! `CLOUDBOOT_UPDATE_README=1` rewrites it, as tests/readme_lists.rs does).

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as J;

use common::{Machine, BIN};

/// The name cloud-init is called by (argparse shows it in usage and errors).
const PROG: &str = "/usr/bin/cloud-init";

/// How far cloudboot is from 22.4 for one flag of one verb.
#[derive(Clone, Copy, PartialEq)]
enum Gap {
    /// cloudboot refuses it (or has no such verb).
    Missing,
    /// cloudboot accepts it; its help, output or exit code differ.
    Partial,
}

/// What cloudboot does not do as 22.4 does yet: (verb, flag, gap, why).
/// The verb is the words after `cloud-init` ("" for the global options,
/// "devel render"); the flag its long option, a positional's name, "" for
/// the verb alone, or "*" for every case of the verb.
const NOT_YET: &[(&str, &str, Gap, &str)] = &[
    (
        "",
        "--version",
        Gap::Partial,
        "prints 22.4's form with cloudboot named in a suffix of the version word \
         (`/usr/bin/cloud-init 22.4.2-cloudboot0.1.0`: awk's $2 and $NF still read 22.4.2), by design",
    ),
    (
        "schema",
        "--docs",
        Gap::Partial,
        "by design: each module's doc is cloudboot's own text in 22.4's layout (title, summary, \
         internal name, frequency, distros, activation keys, and the schema's types as 22.4 prints \
         them); 22.4's prose and examples are not copied",
    ),
];

/// Verbs whose stdout scripts read: compared byte for byte where 22.4 ran
/// the same line.
const FIXED_OUTPUT: &[&str] = &[
    "features",
    "status",
    "query",
    "schema",
    "analyze blame",
    "analyze show",
    "analyze dump",
    "devel render",
    "devel make-mime",
];

/// Verbs that run a boot stage: checked up to the parser only.
const BOOT_STAGES: &[&str] = &["init", "modules", "single"];

fn tree() -> J {
    serde_json::from_str(include_str!("fixtures/cli/tree.json")).unwrap()
}

fn cases() -> J {
    serde_json::from_str(include_str!("fixtures/cli/tree-cases.json")).unwrap()
}

fn strs(v: &J) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

/// The flag a case or a tree action is about, as NOT_YET names it.
fn flag_name(action: &J) -> String {
    let opts = strs(&action["option_strings"]);
    if opts.is_empty() {
        return action["dest"].as_str().unwrap().to_string();
    }
    opts.iter()
        .find(|o| o.starts_with("--"))
        .unwrap_or(&opts[0])
        .clone()
}

/// Every parser of the tree, root first: (verb, node).
fn parsers(tree: &J) -> Vec<(String, &J)> {
    fn walk<'a>(n: &'a J, out: &mut Vec<(String, &'a J)>) {
        out.push((strs(&n["path"]).join(" "), n));
        for sub in n["subcommands"].as_object().unwrap().values() {
            walk(sub, out);
        }
    }
    let mut out = Vec::new();
    walk(tree, &mut out);
    out
}

/// The actions a table row or a case is for (help and subcommand lists
/// apart: `--help` has its own cases, subcommands their own parsers).
fn flags(node: &J) -> Vec<&J> {
    node["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| !matches!(a["kind"].as_str(), Some("Help" | "SubParsers")))
        .collect()
}

fn not_yet(verb: &str, flag: &str) -> Option<usize> {
    NOT_YET
        .iter()
        .position(|(v, f, _, _)| *v == verb && (*f == flag || *f == "*"))
}

/// A scratch directory with the files the cases name as `{DIR}/...`.
fn case_dir(files: &J) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for (name, spec) in files.as_object().unwrap() {
        let to = dir.path().join(name);
        match (spec["text"].as_str(), spec["copy"].as_str()) {
            (Some(text), _) => std::fs::write(&to, text).unwrap(),
            (None, Some(from)) => {
                std::fs::copy(fixtures.join(from), &to).unwrap();
            }
            _ => panic!("tree-cases.json: file {name} has neither text nor copy"),
        }
    }
    std::fs::create_dir(dir.path().join("net-out")).unwrap();
    dir
}

/// A scratch root where a boot has finished (so `status --wait` returns):
/// the status.json and result.json the fixture's `root_files` hold, which
/// 22.4's `status` was given too.
fn finished_root(root_files: &J) -> Machine {
    let m = Machine::new();
    for (name, text) in root_files.as_object().unwrap() {
        m.write(name, text.as_str().unwrap());
    }
    m
}

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// cloudboot as `/usr/bin/cloud-init --root ROOT [GLOBAL] ARGV`, in `dir`,
/// with `{DIR}` in the arguments and back in its output.
fn run(root: &Path, dir: &Path, global: &[String], argv: &[String]) -> Ran {
    let d = dir.to_str().unwrap();
    let out = Command::new(BIN)
        .arg0(PROG)
        .env("COLUMNS", "80")
        .current_dir(dir)
        .arg("--root")
        .arg(root)
        .args(global)
        .args(argv.iter().map(|a| a.replace("{DIR}", d)))
        .output()
        .expect("running cloudboot");
    let text = |b: &[u8]| String::from_utf8_lossy(b).replace(d, "{DIR}");
    Ran {
        code: out.status.code(),
        stdout: text(&out.stdout),
        stderr: text(&out.stderr),
    }
}

/// An argparse usage error, as cloudboot's argparse writes one.
fn usage_error(r: &Ran) -> bool {
    r.code == Some(2) && r.stderr.starts_with("usage: ") && r.stderr.contains(": error: ")
}

/// make-mime's MIME boundary is random: one name for any.
fn boundaries(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("===============") {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 15..];
        let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && tail[digits..].starts_with("==") {
            out.push_str("=====BOUNDARY==");
            rest = &tail[digits + 2..];
        } else {
            out.push_str("===============");
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

fn first_difference(want: &str, got: &str) -> String {
    let line = want
        .lines()
        .zip(got.lines())
        .position(|(a, b)| a != b)
        .unwrap_or(want.lines().count().min(got.lines().count()));
    format!(
        "line {}: 22.4 {:?}, cloudboot {:?}",
        line + 1,
        want.lines().nth(line).unwrap_or("<end>"),
        got.lines().nth(line).unwrap_or("<end>")
    )
}

/// Whether cloudboot answers `case` as 22.4 does; `Err` says how not.
fn check(case: &J, fixture: &J, root_usage: &str, privileged_fixture: bool) -> Result<(), String> {
    let verb = case["verb"].as_str().unwrap();
    let argv = strs(&case["argv"]);
    let dir = case_dir(&fixture["files"]);
    let m = finished_root(&fixture["root_files"]);
    let boot_stage = BOOT_STAGES.contains(&verb);
    // Given to every boot-stage line, refused ones too: one wrongly
    // accepted stops there as well.
    let global: Vec<String> = if boot_stage {
        vec!["--stages".into(), "{DIR}/no-such-stages.yaml".into()]
    } else {
        vec![]
    };
    let got = run(m.root(), dir.path(), &global, &argv);
    let want_out = case["stdout"].as_str().unwrap();
    let want_err = case["stderr"].as_str().unwrap();
    if let Some(code) = case["code"].as_i64() {
        // Refused, or answered by the parser itself.
        if got.code != Some(code as i32) {
            return Err(format!(
                "exit code {:?}, 22.4 {code}; stderr: {}",
                got.code,
                got.stderr.lines().last().unwrap_or_default()
            ));
        }
        let global_parser = verb.is_empty() || want_err.starts_with(root_usage);
        if global_parser && code == 0 {
            // The global help: cloudboot's lists its own options and verbs
            // too; every line of 22.4's must be there.
            let body = want_out
                .split_once("\noptions:\n")
                .map_or(want_out, |b| b.1);
            if verb.is_empty() && !want_out.starts_with("usage:") {
                // --version
                return (got.stdout == want_out)
                    .then_some(())
                    .ok_or_else(|| format!("prints {:?}, 22.4 {want_out:?}", got.stdout));
            }
            for line in body.lines().filter(|l| !l.contains("{init,")) {
                if !got.stdout.contains(line) {
                    return Err(format!("help has no line {line:?}"));
                }
            }
            return Ok(());
        }
        if global_parser {
            // The global parser refused it: the same error under
            // cloudboot's usage (its options are more than 22.4's).
            let (want, got_last) = (
                want_err.lines().last().unwrap_or_default(),
                got.stderr.lines().last().unwrap_or_default(),
            );
            if !got
                .stderr
                .starts_with("usage: /usr/bin/cloud-init [-h] [--version]")
            {
                return Err(format!("not the global usage: {}", got.stderr));
            }
            let same = match want.split_once(" (choose from ") {
                // The verbs cloudboot has are its own list.
                Some((before, _)) => got_last.starts_with(before),
                None => want == got_last,
            };
            return same
                .then_some(())
                .ok_or_else(|| format!("error {got_last:?}, 22.4 {want:?}"));
        }
        if got.stdout != want_out {
            return Err(format!(
                "stdout: {}",
                first_difference(want_out, &got.stdout)
            ));
        }
        if got.stderr != want_err {
            return Err(format!(
                "stderr: {}",
                first_difference(want_err, &got.stderr)
            ));
        }
        return Ok(());
    }
    // Accepted by 22.4.
    if usage_error(&got) {
        return Err(format!(
            "refused: {}",
            got.stderr.lines().last().unwrap_or_default()
        ));
    }
    if boot_stage {
        // Read to the end, stopped at the stage map: nothing ran.
        return if got.code == Some(1)
            && got
                .stderr
                .starts_with("cloudboot: {DIR}/no-such-stages.yaml")
        {
            Ok(())
        } else {
            Err(format!(
                "a boot stage line did not stop at the stage map (exit {:?}): {}",
                got.code, got.stderr
            ))
        };
    }
    let J::Object(ran) = &case["run"] else {
        return Ok(()); // 22.4 did not run it here: accepted is all we know
    };
    let code = ran["code"].as_i64().unwrap();
    if got.code != Some(code as i32) {
        return Err(format!(
            "exit code {:?}, 22.4 {code}; stderr: {}",
            got.code,
            got.stderr.lines().last().unwrap_or_default()
        ));
    }
    let privileged = common::skip::is_root();
    if FIXED_OUTPUT.contains(&verb) && (verb != "query" || privileged == privileged_fixture) {
        let want = boundaries(ran["stdout"].as_str().unwrap());
        let got = boundaries(&got.stdout);
        if got != want {
            return Err(format!("stdout: {}", first_difference(&want, &got)));
        }
    }
    Ok(())
}

/// Writes to the process's stderr, which libtest does not capture (a
/// passing test's `eprintln!` would be hidden).
fn say(text: &str) {
    let _ = std::io::stderr().write_all(text.as_bytes());
}

#[test]
fn every_verb_and_flag_of_cloud_init_22_4_against_cloudboot() {
    let tree = tree();
    let fixture = cases();
    assert_eq!(fixture["prog"], PROG);
    let root_usage = tree["tree"]["usage"].as_str().unwrap().to_string();
    let root_usage_first = root_usage.lines().next().unwrap().to_string();
    let privileged_fixture = fixture["uid"] == 0;
    if common::skip::is_root() != privileged_fixture {
        say("cli_tree: query's output is not compared (the fixture was made as root, this test is not; query redacts user-data for non-root)\n");
    }
    let all = fixture["cases"].as_array().unwrap();
    let mut differ = Vec::new(); // outside NOT_YET
    let mut per_entry: BTreeMap<usize, (usize, usize)> = BTreeMap::new(); // (cases, matching)
    let mut matching = 0;
    for case in all {
        let verb = case["verb"].as_str().unwrap();
        let flag = case["flag"].as_str().unwrap();
        let result = check(case, &fixture, &root_usage_first, privileged_fixture);
        if result.is_ok() {
            matching += 1;
        }
        match (not_yet(verb, flag), result) {
            (Some(i), r) => {
                let e = per_entry.entry(i).or_default();
                e.0 += 1;
                e.1 += r.is_ok() as usize;
            }
            (None, Err(why)) => differ.push(format!(
                "  {} [{verb}|{flag}|{}]: {why}",
                shown(&strs(&case["argv"])),
                case["what"].as_str().unwrap()
            )),
            (None, Ok(())) => {}
        }
    }
    let mut report = format!(
        "cli_tree: {matching} of {} command lines answered as cloud-init 22.4 answers them; not yet ({} entries):\n",
        all.len(),
        NOT_YET.len()
    );
    for (i, (verb, flag, gap, why)) in NOT_YET.iter().enumerate() {
        let (n, ok) = per_entry.get(&i).copied().unwrap_or_default();
        report += &format!(
            "  {:<28} {:<20} {} ({ok} of {n} match): {why}\n",
            if verb.is_empty() { "(global)" } else { verb },
            if flag.is_empty() { "(alone)" } else { flag },
            if *gap == Gap::Missing {
                "missing"
            } else {
                "partial"
            },
        );
    }
    say(&report);
    let stale: Vec<String> = NOT_YET
        .iter()
        .enumerate()
        .filter(|(i, _)| per_entry.get(i).is_none_or(|(n, ok)| n == ok))
        .map(|(_, (v, f, _, _))| format!("  ({v:?}, {f:?})"))
        .collect();
    assert!(
        differ.is_empty(),
        "{} command lines are not answered as cloud-init 22.4 answers them (fix them, or \
         add them to NOT_YET with the reason):\n{}",
        differ.len(),
        differ.join("\n")
    );
    assert!(
        stale.is_empty(),
        "these NOT_YET entries now match cloud-init 22.4 in every case (or have no case): \
         take them out of NOT_YET:\n{}",
        stale.join("\n")
    );
}

fn shown(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if a.is_empty() || a.contains(' ') {
                format!("'{a}'")
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The tree was walked whole: every parser has its `--help` case, every
/// flag and positional of every parser a case, and every case is about a
/// verb and flag of the tree; NOT_YET names only those too.
#[test]
fn the_cases_cover_the_whole_tree() {
    let tree = tree();
    let fixture = cases();
    let cases = fixture["cases"].as_array().unwrap();
    let has = |verb: &str, flag: &str| cases.iter().any(|c| c["verb"] == verb && c["flag"] == flag);
    let mut known: Vec<(String, String)> = Vec::new();
    let nodes = parsers(&tree["tree"]);
    assert!(
        nodes.len() >= 23,
        "only {} parsers in tree.json",
        nodes.len()
    );
    for (verb, node) in &nodes {
        assert!(has(verb, "--help"), "no --help case for {verb:?}");
        known.push((verb.clone(), "--help".into()));
        known.push((verb.clone(), String::new()));
        for a in flags(node) {
            let flag = flag_name(a);
            assert!(has(verb, &flag), "no case for {verb:?} {flag}");
            known.push((verb.clone(), flag));
        }
    }
    for c in cases {
        let key = (
            c["verb"].as_str().unwrap().to_string(),
            c["flag"].as_str().unwrap().to_string(),
        );
        assert!(known.contains(&key), "case {key:?} is not in the tree");
    }
    for (verb, flag, _, _) in NOT_YET {
        assert!(
            known
                .iter()
                .any(|(v, f)| v == verb && (f == flag || *flag == "*")),
            "NOT_YET names ({verb:?}, {flag:?}), which is not in 22.4's tree"
        );
    }
}

/// The README's table of cloud-init's verbs and flags: one row per flag of
/// every parser of 22.4's tree, with cloudboot's status from [`NOT_YET`]
/// (which the test above keeps true).
fn parity_table(tree: &J, cases: &J) -> String {
    let mut out = String::from("| Command | Option | cloudboot |\n|---|---|---|\n");
    let cases = cases["cases"].as_array().unwrap();
    // What the test compared for a flag: its help and refusals always; for
    // a line 22.4 accepts, the exit code (and output) only where 22.4 ran it.
    let same = |verb: &str, flag: &str| {
        let mine = || {
            cases
                .iter()
                .filter(|c| c["verb"] == verb && c["flag"] == flag)
        };
        if mine().any(|c| c["run"].is_object()) {
            if FIXED_OUTPUT.contains(&verb) {
                "same (exit code and output compared)"
            } else {
                "same (exit code compared)"
            }
        } else if mine().any(|c| c["code"].is_null()) {
            "same command line (what it does is not compared here)"
        } else {
            "same"
        }
    };
    let status = |verb: &str, flag: &str| match not_yet(verb, flag) {
        None => same(verb, flag).to_string(),
        Some(i) => {
            let (_, _, gap, why) = NOT_YET[i];
            format!(
                "{}: {}",
                if gap == Gap::Missing {
                    "missing"
                } else {
                    "partial"
                },
                why.replace('|', "\\|")
            )
        }
    };
    for (verb, node) in parsers(tree) {
        let command = format!(
            "`cloud-init{}{verb}`",
            if verb.is_empty() { "" } else { " " }
        );
        if !verb.is_empty() {
            out += &format!("| {command} | (the command) | {} |\n", status(&verb, ""));
        }
        out += &format!("| {command} | `--help` | {} |\n", status(&verb, "--help"));
        for a in flags(node) {
            let opts = strs(&a["option_strings"]);
            let name = if opts.is_empty() {
                a["metavar"]
                    .as_str()
                    .or(a["dest"].as_str())
                    .unwrap()
                    .to_string()
            } else {
                opts.join(", ")
            };
            out += &format!(
                "| {command} | `{name}` | {} |\n",
                status(&verb, &flag_name(a))
            );
        }
    }
    out
}

const TABLE_BEGIN: &str =
    "<!-- cli parity: generated from tests/fixtures/cli/tree.json and NOT_YET in tests/cli_tree.rs; do not edit -->";
const TABLE_END: &str = "<!-- end of cli parity -->";

#[test]
fn the_readme_table_of_verbs_and_flags_is_the_trees() {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let table = parity_table(&tree()["tree"], &cases());
    let Some(start) = readme.find(TABLE_BEGIN).map(|i| i + TABLE_BEGIN.len()) else {
        say(&format!(
            "cli_tree: README.md has no {TABLE_BEGIN} marker: its table of cloud-init's verbs \
             and flags is not checked (it would read:\n{table})\n"
        ));
        return;
    };
    let stop = start
        + readme[start..]
            .find(TABLE_END)
            .unwrap_or_else(|| panic!("README.md: {TABLE_BEGIN} without {TABLE_END}"));
    let mut generated = readme.clone();
    generated.replace_range(start..stop, &format!("\n{table}"));
    if std::env::var_os("CLOUDBOOT_UPDATE_README").is_some() {
        if generated != readme {
            std::fs::write(&path, &generated).unwrap();
            say("README.md: cli parity table rewritten\n");
        }
        return;
    }
    assert!(
        generated == readme,
        "README.md's cli parity table is not the tree's: run CLOUDBOOT_UPDATE_README=1 cargo \
         test --test cli_tree (it should read:\n{table})"
    );
}
