//! `cloud-init devel net-convert` against cloud-init 22.4's own answers
//! (tests/fixtures/net-convert/expected.json, made by generate.py there):
//! inputs of every kind from the network corpus, the Azure fixtures and
//! VMware guest customization files (`cust*.cfg`),
//! each rendered for every output kind and the distros whose settings
//! differ, with `-m`; and the errors. Each run is repeated with cloudboot
//! as `/usr/bin/cloud-init`, in a scratch directory holding the input, on
//! an empty scratch root (no interfaces):
//!
//! - the same exit code, and the output directory made or not;
//! - where 22.4 converted: the same files under it (the list, each one's
//!   bytes and mode) and the same stderr, byte for byte; where cloudboot
//!   deliberately writes something else (ENI routes with iproute2, RHEL
//!   sysconfig files initscripts apply whole, SUSE route files, see
//!   tests/fixtures/net/README.md), the files the fixture derives for it;
//! - where 22.4 fails (a traceback): cloudboot's one-line error, after the
//!   two lines 22.4 printed before failing, if it did.
//!
//! Every run is compared: nothing 22.4 converts is refused any more
//! (vmware-imc input, the NetworkManager renderer and SUSE's sysconfig were
//! the last).

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use serde_json::Value as J;

const BIN: &str = env!("CARGO_BIN_EXE_cloudboot");

fn fixture() -> J {
    serde_json::from_str(include_str!("fixtures/net-convert/expected.json")).unwrap()
}

fn fixtures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"))
}

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// cloudboot as `/usr/bin/cloud-init --root ROOT devel net-convert ARGS`
/// in `dir`.
fn net_convert(root: &Path, dir: &Path, args: &[String]) -> Ran {
    let out = Command::new(BIN)
        .arg0("/usr/bin/cloud-init")
        .env("COLUMNS", "80")
        .current_dir(dir)
        .arg("--root")
        .arg(root)
        .args(["devel", "net-convert"])
        .args(args)
        .output()
        .unwrap();
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Every file under `root`: relative path -> (content, mode as octal).
fn tree(root: &Path) -> serde_json::Map<String, J> {
    fn walk(root: &Path, dir: &Path, out: &mut serde_json::Map<String, J>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o7777;
                out.insert(
                    p.strip_prefix(root).unwrap().display().to_string(),
                    serde_json::json!({
                        "content": std::fs::read_to_string(&p).unwrap(),
                        "mode": format!("{mode:o}"),
                    }),
                );
            }
        }
    }
    let mut out = serde_json::Map::new();
    walk(root, root, &mut out);
    out
}

fn describe(run: &J) -> String {
    let mut s = format!(
        "-p {} -k {} -D {} -O {}",
        run["input"].as_str().unwrap(),
        run["kind"].as_str().unwrap(),
        run["distro"].as_str().unwrap(),
        run["output"].as_str().unwrap()
    );
    for m in run["macs"].as_array().unwrap() {
        s.push_str(&format!(" -m {}", m.as_str().unwrap()));
    }
    s
}

/// Whether cloudboot answers `run` as the fixture says; `Err` says how not.
fn check(run: &J) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let input = run["input"].as_str().unwrap();
    let name = Path::new(input).file_name().unwrap().to_str().unwrap();
    std::fs::copy(fixtures().join(input), dir.path().join(name)).unwrap();
    let mut args: Vec<String> = ["-p", name, "-k", run["kind"].as_str().unwrap()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(["-d".into(), "out".into()]);
    args.extend(["-D".into(), run["distro"].as_str().unwrap().into()]);
    args.extend(["-O".into(), run["output"].as_str().unwrap().into()]);
    for m in run["macs"].as_array().unwrap() {
        args.extend(["-m".into(), m.as_str().unwrap().into()]);
    }
    let got = net_convert(root.path(), dir.path(), &args);
    let out = dir.path().join("out");
    let files = tree(&out);
    if !got.stdout.is_empty() {
        return Err(format!("wrote to stdout: {}", got.stdout));
    }
    let code = run["code"].as_i64().unwrap() as i32;
    if got.code != Some(code) {
        return Err(format!(
            "exit {:?}, 22.4 {code}; stderr {:?}",
            got.code, got.stderr
        ));
    }
    if out.is_dir() != run["out_exists"].as_bool().unwrap() {
        return Err(format!(
            "out/ made: {}, by 22.4: {}",
            out.is_dir(),
            run["out_exists"]
        ));
    }
    let want_err = run["stderr"].as_str().unwrap();
    if code == 0 {
        if got.stderr != want_err {
            return Err(format!("stderr {:?}, 22.4 {want_err:?}", got.stderr));
        }
    } else {
        // 22.4's traceback: what it printed before it is the same; then
        // cloudboot's one line.
        let before = want_err
            .split_once("Traceback (most recent call last):")
            .map_or("", |b| b.0);
        let last = got.stderr.lines().last().unwrap_or_default();
        if !got.stderr.starts_with(before)
            || !last.starts_with("cloudboot: devel net-convert: ")
            || got.stderr[before.len()..].lines().count() != 1
        {
            return Err(format!(
                "stderr {:?}, 22.4 printed {before:?} before failing",
                got.stderr
            ));
        }
    }
    let want = run
        .get("cloudboot_files")
        .unwrap_or(&run["files"])
        .as_object()
        .unwrap();
    if &files != want {
        // Which files, in any order (the directory's own order is not 22.4's).
        let names = |m: &serde_json::Map<String, J>| {
            let mut v = m.keys().cloned().collect::<Vec<_>>();
            v.sort();
            v
        };
        if names(&files) != names(want) {
            return Err(format!("files {:?}, 22.4 {:?}", names(&files), names(want)));
        }
        for (path, f) in want {
            if files[path] != *f {
                return Err(format!("{path}: cloudboot {}, 22.4 {f}", files[path]));
            }
        }
    }
    Ok(())
}

#[test]
fn every_run_writes_what_cloud_init_22_4_writes() {
    let fixture = fixture();
    let runs = fixture["runs"].as_array().unwrap();
    let mut failures = Vec::new();
    let mut same = 0;
    for run in runs {
        match check(run) {
            Ok(()) => same += 1,
            Err(e) => failures.push(format!("{}: {e}", describe(run))),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} runs differ:\n{}",
        failures.len(),
        runs.len(),
        failures.join("\n")
    );
    // Every kind and output kind was compared, -m and the deliberate ENI
    // routes included.
    for (key, want) in [
        ("kind", "azure-imds"),
        ("kind", "eni"),
        ("kind", "yaml"),
        ("kind", "vmware-imc"),
    ] {
        assert!(runs.iter().any(|r| r[key] == want && r["code"] == 0));
    }
    assert!(runs.iter().any(|r| r.get("cloudboot_files").is_some()));
    assert!(runs.iter().any(|r| r["macs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m.as_str().unwrap().starts_with("ens"))));
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("net_convert: {same} of {} runs as 22.4\n", runs.len()).as_bytes(),
    );
    assert!(same >= 100, "{same} runs compared");
}

#[test]
fn help_and_usage_are_22_4s() {
    let fixture = fixture();
    let dir = tempfile::tempdir().unwrap();
    let help = net_convert(dir.path(), dir.path(), &["--help".into()]);
    assert_eq!(help.code, Some(0));
    assert_eq!(help.stdout, fixture["help"]["stdout"].as_str().unwrap());
    let usage = net_convert(dir.path(), dir.path(), &[]);
    assert_eq!(usage.code, Some(2));
    assert_eq!(usage.stderr, fixture["usage"]["stderr"].as_str().unwrap());
}

#[test]
fn an_input_that_cannot_be_opened_is_named_and_nothing_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let args: Vec<String> = [
        "-p",
        "missing.yaml",
        "-k",
        "yaml",
        "-d",
        "out",
        "-D",
        "debian",
        "-O",
        "eni",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let got = net_convert(dir.path(), dir.path(), &args);
    // 22.4 opens it while parsing its arguments: a FileNotFoundError
    // traceback, exit 1, before the directory is made.
    assert_eq!(got.code, Some(1));
    assert_eq!(
        got.stderr,
        "cloudboot: devel net-convert: [Errno 2] No such file or directory: 'missing.yaml'\n"
    );
    assert!(!dir.path().join("out").exists());
}

#[test]
fn a_malformed_cust_cfg_is_named_with_its_line_and_nothing_is_written() {
    let args: Vec<String> = [
        "-p",
        "cust.cfg",
        "-k",
        "vmware-imc",
        "-d",
        "out",
        "-D",
        "debian",
        "-O",
        "eni",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let bad = [
        (
            "[NIC-CONFIG]\nNICS = NIC1\n[NIC1]\nMACADDR = 00:50:56:a6:8c:08\nBOOTPROTO static\n"
                .to_string(),
            "cust.cfg: line 5: neither a [section] nor KEY = value: \"BOOTPROTO static\"",
        ),
        (
            "[NIC-CONFIG]\nNICS = NIC1\n[NIC1]\nMACADDR = 00:50:56:a6:8c:08\n[DNS]\n\
             NAMESERVER|1 = 10.0.0.53\nNAMESERVER|3 = 10.0.0.54\n"
                .to_string(),
            "cust.cfg: [DNS] has no NAMESERVER|2: its 2 NAMESERVER|n key(s) (the first at line 6) \
             must be numbered 1 to 2",
        ),
        (
            format!("[NETWORK]\nHOSTNAME = {}\n", "h".repeat(2 << 20)),
            "bytes: larger than a guest customization file can be",
        ),
    ];
    for (text, why) in bad {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cust.cfg"), text).unwrap();
        let got = net_convert(dir.path(), dir.path(), &args);
        assert_eq!(got.code, Some(1), "{}", got.stderr);
        assert!(
            got.stderr
                .starts_with("cloudboot: devel net-convert: cust.cfg: ")
                && got.stderr.contains(why)
                && got.stderr.lines().count() == 1,
            "{}",
            got.stderr
        );
        // As in 22.4, the directory is made before the input is read, and
        // nothing is written into it.
        assert!(tree(&dir.path().join("out")).is_empty());
    }
}
