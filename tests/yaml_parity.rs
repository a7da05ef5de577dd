//! The YAML loader gives what PyYAML's `safe_load` gives (cloud-init's
//! loader), case by case, through the real binary's `devel parse-yaml`.
//!
//! `tests/fixtures/yaml/NN-name.yaml` are the documents; `NN-name.expected`
//! is PyYAML's result, written by the committed `generate.py`; where we
//! differ on purpose, `NN-name.cloudboot` says what we give instead and the
//! README there says why. See that README for how to add a case.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/yaml")
}

/// JSON with object keys that are numbers written one way (Python writes
/// `1e+20` where serde_json writes `1e20`), and ints told apart from floats.
fn canonical(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        J::Object(o) => J::Object(
            o.iter()
                .map(|(k, v)| {
                    let key = match serde_json::from_str::<J>(k) {
                        Ok(J::Number(n)) if !n.is_i64() && !n.is_u64() => {
                            format!("float:{:?}", n.as_f64().unwrap_or(f64::NAN))
                        }
                        _ => k.clone(),
                    };
                    (key, canonical(v))
                })
                .collect(),
        ),
        J::Array(a) => J::Array(a.iter().map(canonical).collect()),
        J::Number(n) if n.is_f64() => J::String(format!("float:{:?}", n.as_f64().unwrap())),
        other => other.clone(),
    }
}

/// The JSON text with every integer literal that does not fit in 64 bits
/// turned into the string `"int:<digits>"`, so that comparing parsed values
/// compares such integers exactly (serde_json would round them to floats).
fn exact_big_ints(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                '\\' => out.extend(chars.next()),
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        if c == '"' {
            in_string = true;
            out.push(c);
            continue;
        }
        if c == '-' || c.is_ascii_digit() {
            let mut number = String::from(c);
            while let Some(&d) = chars.peek() {
                if !(d.is_ascii_digit() || ".eE+-".contains(d)) {
                    break;
                }
                number.push(d);
                chars.next();
            }
            let integer = number.trim_start_matches('-');
            let big = !integer.is_empty()
                && integer.bytes().all(|b| b.is_ascii_digit())
                && number.parse::<i64>().is_err()
                && number.parse::<u64>().is_err();
            if big {
                out.push_str(&format!("\"int:{number}\""));
            } else {
                out.push_str(&number);
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// What one case must give, and whether it matched.
fn check(yaml: &Path) -> Result<(), String> {
    let own = yaml.with_extension("cloudboot");
    let expected_path = if own.exists() {
        own
    } else {
        yaml.with_extension("expected")
    };
    let expected = std::fs::read_to_string(&expected_path)
        .map_err(|e| format!("{}: {e}", expected_path.display()))?;
    let expected = expected.trim_end_matches('\n');
    let out = Command::new(env!("CARGO_BIN_EXE_cloudboot"))
        .args(["devel", "parse-yaml"])
        .arg(yaml)
        .output()
        .map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code = out.status.code();
    if let Some(place) = expected.strip_prefix("ERROR") {
        if code != Some(1) {
            return Err(format!(
                "PyYAML refuses it ({expected}), we gave (exit {code:?}): {stdout}"
            ));
        }
        if let Some(place) = place.strip_prefix(" line ") {
            let (problem, context) = match place.split_once(" context line ") {
                Some((p, c)) => (p, Some(c)),
                None => (place, None),
            };
            let (line, column) = problem.split_once(" column ").unwrap_or((problem, "?"));
            let want = format!(", line {line}, column {column}: ");
            if !stderr.contains(&want) {
                return Err(format!("refused at another place: want{want}got {stderr}"));
            }
            // The context mark, as `Display` writes it: "CONTEXT (line L, column C): ".
            let got_context = stderr
                .split_once(" (line ")
                .and_then(|(_, rest)| rest.split_once("): "))
                .map(|(mark, _)| mark.replace(", column ", " column "));
            let want_context = context.map(str::to_string);
            if got_context != want_context {
                return Err(format!(
                    "another context mark: want {want_context:?}, got {got_context:?}: {stderr}"
                ));
            }
        }
        return Ok(());
    }
    if expected.starts_with("UNREPRESENTABLE") {
        return Err(format!(
            "PyYAML gives something JSON cannot hold; {} must say what we give",
            yaml.with_extension("cloudboot").display()
        ));
    }
    if code != Some(0) {
        return Err(format!("PyYAML accepts it, we refused: {stderr}"));
    }
    let want: serde_json::Value = serde_json::from_str(&exact_big_ints(expected))
        .map_err(|e| format!("bad expected JSON: {e}"))?;
    let got: serde_json::Value = serde_json::from_str(&exact_big_ints(stdout.trim()))
        .map_err(|e| format!("bad output JSON: {e}: {stdout}"))?;
    if canonical(&want) != canonical(&got) {
        return Err(format!("want {want}\n     got  {got}"));
    }
    Ok(())
}

#[test]
fn loader_matches_pyyaml_safe_load() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    cases.sort();
    let refused = cases
        .iter()
        .filter(|p| {
            std::fs::read_to_string(p.with_extension("expected"))
                .is_ok_and(|e| e.starts_with("ERROR"))
        })
        .count();
    assert!(cases.len() >= 70, "only {} cases", cases.len());
    assert!(refused >= 10, "only {refused} refused cases");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| {
            check(c)
                .err()
                .map(|e| format!("{}: {e}", c.file_name().unwrap().to_string_lossy()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from PyYAML:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn big_integers_compare_exactly() {
    assert_eq!(
        exact_big_ints(r#"{"a": [18446744073709551616, -1, 1.5e+20, "9999999999999999999\\"1"]}"#),
        r#"{"a": ["int:18446744073709551616", -1, 1.5e+20, "9999999999999999999\\"1"]}"#
    );
}

#[test]
fn every_deliberate_difference_is_real_and_explained() {
    let readme = std::fs::read_to_string(fixtures().join("README.md")).unwrap();
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "cloudboot") {
            continue;
        }
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let ours = std::fs::read_to_string(&path).unwrap();
        let pyyaml = std::fs::read_to_string(path.with_extension("expected")).unwrap();
        assert_ne!(
            ours, pyyaml,
            "{name}: no difference left; remove the .cloudboot file"
        );
        assert!(
            readme.contains(&name),
            "{name} is not explained in README.md"
        );
    }
}

#[test]
fn parse_yaml_reads_stdin_and_refuses_unknown_devel_commands() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_cloudboot"))
        .args(["devel", "parse-yaml", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"mode: 0644\non: yes\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"mode\":420,\"true\":true}\n"
    );
    for args in [
        &["devel"][..],
        &["devel", "nonsense"],
        &["devel", "parse-yaml"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_cloudboot"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_cloudboot"))
        .args(["devel", "parse-yaml", "/nonexistent/file.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

mod common;

/// A `write_files` entry whose `content: |` ends user-data that has no final
/// line break: PyYAML reads the block scalar without a trailing newline, so
/// cloud-init writes the file without one (we used to add it).
#[test]
fn a_block_scalar_ending_user_data_gets_no_extra_newline() {
    let m = common::Machine::seeded(
        common::META,
        "#cloud-config\nwrite_files:\n- path: /etc/keep\n  content: |+\n    kept\n\n- path: /etc/last\n  content: |\n    #!/bin/sh\n    echo last",
    );
    m.boot();
    assert_eq!(m.read("/etc/keep"), "kept\n\n");
    assert_eq!(m.read("/etc/last"), "#!/bin/sh\necho last");
}
