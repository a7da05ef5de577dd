//! The command line, read as cloud-init's argparse reads it: global options
//! before the verb, each verb with its own options and its own `--help`,
//! argparse's wording and exit code 2 for what it refuses.
//!
//! `tests/fixtures/cli/argparse.json` is what cloud-init 22.4's own parser
//! answers to a list of command lines (`generate.py` there says how it was
//! made). The ones it refuses, and its help texts, are checked against the
//! binary here; the ones it accepts are checked against the parser in
//! `src/cli.rs`'s unit test (running them would run a stage).

mod common;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};

use common::{Machine, BIN};

/// The name cloud-init is called by (argparse shows it in usage and errors).
const PROG: &str = "/usr/bin/cloud-init";

/// cloud-init's verbs that cloudboot answers with cloud-init's options.
const SAME_VERBS: [&str; 6] = ["init", "modules", "single", "status", "clean", "query"];

/// cloud-init's verbs whose help line differs: `analyze`, and `schema`,
/// which cloudboot checks against its modules' keys rather than with
/// jsonschema. (`dhclient-hook`, `features` and `collect-logs` are
/// cloud-init's own: tests/cli_verbs.rs.)
const OTHER_VERBS: [&str; 2] = ["analyze", "schema"];

/// Runs cloudboot as `/usr/bin/cloud-init --root ROOT ARGS` (argparse's
/// width fixed at 80 columns, as for the fixture). The root is a scratch
/// directory, so a command line wrongly accepted changes nothing real.
fn as_cloud_init(root: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg0(PROG)
        .env("COLUMNS", "80")
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .expect("running cloudboot")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn last_line(s: &str) -> &str {
    s.lines().last().unwrap_or_default()
}

#[test]
fn refused_command_lines_and_help_are_answered_as_cloud_init_answers_them() {
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/cli/argparse.json")).unwrap();
    assert_eq!(fixture["prog"], PROG);
    let m = Machine::new();
    let mut checked = 0;
    for case in fixture["cases"].as_array().unwrap() {
        let Some(code) = case["code"].as_i64() else {
            continue; // accepted: see src/cli.rs's unit test
        };
        let argv = common::strs(&case["argv"]);
        let want_out = case["stdout"].as_str().unwrap();
        let want_err = case["stderr"].as_str().unwrap();
        let out = as_cloud_init(m.root(), &argv);
        let (got_out, got_err) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(
            out.status.code(),
            Some(code as i32),
            "{argv:?}: exit code\nstdout:\n{got_out}\nstderr:\n{got_err}"
        );
        let verb = argv.first().filter(|v| SAME_VERBS.contains(v));
        if code == 0 {
            // Help: a verb's is cloud-init's, byte for byte; the global one
            // has cloudboot's options and verbs too, and all of cloud-init's
            // lines for what cloudboot has.
            if verb.is_some() {
                assert_eq!(got_out, want_out, "{argv:?}: help");
            } else {
                let body = want_out.split_once("\noptions:\n").unwrap().1;
                for line in body
                    .lines()
                    .filter(|l| !l.contains("{init,") && !OTHER_VERBS.iter().any(|v| l.contains(v)))
                {
                    assert!(
                        got_out.contains(line),
                        "{argv:?}: no line {line:?} in\n{got_out}"
                    );
                }
            }
            checked += 1;
            continue;
        }
        if want_err.starts_with(&format!("usage: {PROG} ")) && verb.is_some() && {
            let error_line = last_line(want_err);
            error_line.starts_with(&format!("{PROG} {}: error:", argv[0]))
        } {
            // The verb's own parser refused it: its usage and error, exactly.
            assert_eq!(got_err, want_err, "{argv:?}: stderr");
        } else if let Some((before, _)) = last_line(want_err).split_once(" (choose from ") {
            // An unknown verb: cloudboot's list of verbs is its own.
            assert!(
                last_line(&got_err).starts_with(before),
                "{argv:?}: {got_err}"
            );
        } else {
            // The global parser refused it: the same error, under
            // cloudboot's usage.
            assert_eq!(last_line(&got_err), last_line(want_err), "{argv:?}");
            assert!(got_err.starts_with(&format!("usage: {PROG} [-h] [--version]")));
        }
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} cases checked");
}

/// `query -v FILE` is query's `--vendor-data FILE`, not the global
/// `--version` (which used to be taken from anywhere in the command line).
#[test]
fn query_v_is_the_vendor_data_file() {
    let m = Machine::seeded("instance-id: iid-cli-1\n", "#cloud-config\n{}\n");
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 0);
    let vendor = m.dir.path().join("my-vendor-data");
    std::fs::write(&vendor, "#cloud-config\nvendor: yes\n").unwrap();
    let out = m.run(&["query", "-v", vendor.to_str().unwrap(), "vendordata"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!stdout.contains("cloudboot 0."), "the version: {stdout}");
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        assert_eq!(stdout, "#cloud-config\nvendor: yes\n\n");
    } else {
        assert_eq!(
            stdout,
            format!("<redacted for non-root user> file:{}\n", vendor.display())
        );
    }
}

/// `query -f '{{ ... }}'` renders the format over the instance data (it used
/// to be taken for the global `-f/--file`).
#[test]
fn query_f_renders_a_format_string() {
    let m = Machine::seeded(
        "instance-id: iid-cli-2\nlocal-hostname: cli-host\n",
        "#cloud-config\n{}\n",
    );
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 0);
    let out = m.run_ok(
        &[
            "query",
            "-f",
            "{{ v1.instance_id }} is {{ local_hostname }}",
        ],
        0,
    );
    assert_eq!(out, "iid-cli-2 is cli-host\n");
    // An undefined variable is shown as cloud-init shows it, and said.
    let out = m.run(&["query", "--format={{ v1.nope }}"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "CI_MISSING_JINJA_VAR/nope\n");
    assert_eq!(
        text(&out.stderr),
        "WARNING: Could not render jinja template variables in file 'query commandline': 'nope'\n"
    );
}

/// Each verb has its own `--help` (it used to print the global usage).
#[test]
fn each_verb_answers_help_with_its_own() {
    let m = Machine::new();
    for verb in [
        &["status"][..],
        &["plan"],
        &["boot"],
        &["install"],
        &["schema"],
        &["devel", "parse-yaml"],
        &["net", "render"],
    ] {
        let args: Vec<&str> = verb.iter().copied().chain(["--help"]).collect();
        let out = as_cloud_init(m.root(), &args);
        let help = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(
            help.starts_with(&format!("usage: {PROG} {} [-h]", verb.join(" "))),
            "{args:?}:\n{help}"
        );
        assert!(
            !help.contains("--mount-fallback"),
            "{args:?}: global help:\n{help}"
        );
    }
    // cloudboot's own verbs' options are there.
    let plan = text(&as_cloud_init(m.root(), &["plan", "-h"]).stdout);
    assert!(
        plan.contains("--stage {local,network,config,final,all}"),
        "{plan}"
    );
    let top = text(&as_cloud_init(m.root(), &["-h"]).stdout);
    for own in [
        "--root DIR",
        "--stages FILE",
        "--device PATH",
        "--mount-fallback",
    ] {
        assert!(top.contains(own), "{own} not in\n{top}");
    }
    for verb in ["plan", "boot", "install", "per", "net", "devel", "schema"] {
        assert!(
            top.contains(&format!("\n    {verb} ")),
            "{verb} not in\n{top}"
        );
    }
}

/// Global options belong before the verb; after it they are the verb's, or
/// unrecognized, as cloud-init says.
#[test]
fn global_options_go_before_the_verb() {
    let m = Machine::new();
    let out = as_cloud_init(m.root(), &["plan", "--force"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        last_line(&text(&out.stderr)),
        format!("{PROG}: error: unrecognized arguments: --force")
    );
    // Before it, they work (a plan with --force changes nothing).
    let out = as_cloud_init(
        m.root(),
        &["--force", "--debug", "plan", "--stage", "config"],
    );
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stdout).starts_with("== stage config"));
}

/// cloud-init-per keeps its own command line, under `per` too.
#[test]
fn per_takes_its_arguments_as_they_are() {
    let m = Machine::new();
    let out = as_cloud_init(m.root(), &["--debug", "per", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).starts_with("Usage: cloudboot per"),
        "{}",
        text(&out.stdout)
    );
}

/// `query` asked nothing says so and prints cloud-init's query help.
#[test]
fn query_asked_nothing_prints_cloud_inits_query_help() {
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/cli/argparse.json")).unwrap();
    let m = Machine::new();
    let out = as_cloud_init(m.root(), &["query"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "ERROR: Expected one of the options: --all, --format, --list-keys or varname\n"
    );
    assert_eq!(text(&out.stdout), fixture["query_help"].as_str().unwrap());
}

/// Called through `PATH` as `cloud-init`, usage and errors name the full
/// path the shell ran (22.4's `prog` is Python's `sys.argv[0]`, which is
/// that path); called by a path, that path as typed.
#[test]
fn the_program_is_named_as_22_4_names_it_when_found_through_path() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(BIN, dir.path().join("cloud-init")).unwrap();
    let run = |cmd: &str| {
        let out = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(dir.path())
            .env("PATH", format!("{}:/usr/bin:/bin", dir.path().display()))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let via_path = run("cloud-init status --bogus");
    assert!(
        via_path.starts_with(&format!("usage: {}/cloud-init [-h]", dir.path().display())),
        "{via_path}"
    );
    let as_typed = run("./cloud-init status --bogus");
    assert!(
        as_typed.starts_with("usage: ./cloud-init [-h]"),
        "{as_typed}"
    );
}
