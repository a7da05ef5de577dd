//! cloudboot's one jinja engine against cloud-init 22.4's jinja, from
//! tests/fixtures/jinja/cases.json (made by its generate.py with 22.4's
//! own `templater.render_string` and `cloud-init devel render`):
//!
//! - every template of the Debian root's /etc/cloud/templates, rendered
//!   with each parameter set, byte for byte;
//! - small templates with the statements, tests, operators, literals and
//!   filters cloud-init's docs use, byte for byte (an error where 22.4
//!   raises, with its message where it is jinja's UndefinedError);
//! - `cloud-init devel render` runs: stdout, stderr and exit code;
//! - hostile templates: no panic, bounded time and output.

mod common;

use std::fs;
use std::path::Path;

use cloudboot::{jinja, templater};
use serde_json::Value as J;

use common::*;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jinja");

fn fixture() -> J {
    serde_json::from_str(&fs::read_to_string(Path::new(FIXTURE).join("cases.json")).unwrap())
        .unwrap()
}

/// `templater.render_string(text, params)` as cloudboot renders it.
fn render_string(text: &str, params: &J) -> Result<String, String> {
    match templater::detect(text).map_err(|e| e.to_string())? {
        (templater::Kind::Jinja, body, _) => jinja::render(body, params)
            .map(|(out, _)| out)
            .map_err(|e| e.0),
        (templater::Kind::Basic, body, _) => templater::basic_render(body, |name| {
            params
                .get(name)
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                .ok_or_else(|| format!("KeyError: '{name}'"))
        }),
    }
}

/// Compares one recorded rendering; returns a description when it differs.
fn compare(label: &str, case: &J, params: &J) -> Option<String> {
    let text = case["text"].as_str().unwrap();
    let got = render_string(text, params);
    match (case.get("out").and_then(J::as_str), &got) {
        (Some(want), Ok(got)) if want == got => None,
        (Some(want), _) => Some(format!(
            "{label}: 22.4 renders {want:?}\n  cloudboot: {got:?}"
        )),
        (None, Err(msg)) => {
            let want = case["message"].as_str().unwrap();
            // jinja's UndefinedError words are cloudboot's too.
            let same = case["error"] != "UndefinedError" || msg == want;
            (!same).then(|| format!("{label}: 22.4 raises {want:?}\n  cloudboot: {msg:?}"))
        }
        (None, Ok(out)) => Some(format!(
            "{label}: 22.4 raises {} {:?}\n  cloudboot renders {out:?}",
            case["error"], case["message"]
        )),
    }
}

#[test]
fn every_debian_template_renders_as_22_4_renders_it() {
    let f = fixture();
    let mut differ = Vec::new();
    let cases = f["templates"].as_array().unwrap();
    assert!(cases.len() >= 100, "the fixture has the templates");
    for case in cases {
        let params = &f["params_sets"][case["params"].as_str().unwrap()];
        let label = format!("{} with {}", case["template"], case["params"]);
        differ.extend(compare(&label, case, params));
    }
    assert!(
        differ.is_empty(),
        "{} of {} differ:\n{}",
        differ.len(),
        cases.len(),
        differ.join("\n")
    );
}

#[test]
fn statements_tests_operators_and_filters_as_22_4() {
    let f = fixture();
    let mut differ = Vec::new();
    for case in f["strings"].as_array().unwrap() {
        let label = format!("{:?}", case["text"].as_str().unwrap());
        differ.extend(compare(&label, case, &case["params"]));
    }
    assert!(differ.is_empty(), "differ:\n{}", differ.join("\n"));
}

#[test]
fn devel_render_answers_as_22_4() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in f["user_data"].as_object().unwrap() {
        fs::write(dir.path().join(name), text.as_str().unwrap()).unwrap();
    }
    for (name, data) in f["instance_data"].as_object().unwrap() {
        // json.dump's separators, as 22.4's run read them.
        fs::write(dir.path().join(name), serde_json::to_string(data).unwrap()).unwrap();
    }
    for (name, text) in f["extra_files"].as_object().unwrap() {
        fs::write(dir.path().join(name), text.as_str().unwrap()).unwrap();
    }
    let m = Machine::new();
    let mut differ = Vec::new();
    for case in f["devel_render"].as_array().unwrap() {
        let argv = common::strs(&case["argv"]);
        let out = std::process::Command::new(BIN)
            .arg("--root")
            .arg(m.root())
            .args(["devel", "render"])
            .args(&argv)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let got = (
            out.status.code().unwrap_or(-1) as i64,
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        let want = (
            case["code"].as_i64().unwrap(),
            case["stdout"].as_str().unwrap().to_string(),
            case["stderr"].as_str().unwrap().to_string(),
        );
        if got != want {
            differ.push(format!(
                "{argv:?}:\n  22.4:      {want:?}\n  cloudboot: {got:?}"
            ));
        }
    }
    assert!(differ.is_empty(), "differ:\n{}", differ.join("\n"));
}

/// `query -f` with filters and statements: 22.4's answers are in
/// tests/fixtures/query (checked by tests/query.rs); here the same two
/// through a scratch root, without the fixture's data files.
#[test]
fn query_format_takes_filters_and_statements() {
    let dir = tempfile::tempdir().unwrap();
    let id = dir.path().join("id.json");
    fs::write(&id, r#"{"v1": {"instance_id": "i-1", "region": "r1"}}"#).unwrap();
    let ud = dir.path().join("ud");
    fs::write(&ud, "").unwrap();
    let m = Machine::new();
    let q = |fmt: &str| {
        let id = id.to_str().unwrap();
        let ud = ud.to_str().unwrap();
        m.run_ok(&["query", "-i", id, "-u", ud, "-v", ud, "-f", fmt], 0)
    };
    assert_eq!(q("{{ v1.instance_id | upper }}"), "I-1\n");
    assert_eq!(
        q("{% if v1.region %}{{ v1.region }}{% else %}none{% endif %}"),
        "r1\n"
    );
}

/// Hostile templates: each renders or is refused, quickly, never panics,
/// and nothing renders past the output bound.
#[test]
fn hostile_templates_are_bounded() {
    let vars = serde_json::json!({"s": "x".repeat(1000), "l": (0..1000).collect::<Vec<_>>()});
    let deep_if = "{% if 1 %}".repeat(500) + &"{% endif %}".repeat(500);
    let deep_paren = "{{ ".to_string() + &"(".repeat(10_000) + "1" + &")".repeat(10_000) + " }}";
    let deep_not = "{{ ".to_string() + &"not ".repeat(10_000) + "1 }}";
    let deep_neg = "{{ ".to_string() + &"-".repeat(10_000) + "1 }}";
    let deep_list = "{{ ".to_string() + &"[".repeat(10_000) + &"]".repeat(10_000) + " }}";
    let loops = "{% for a in l %}{% for b in l %}{% for c in l %}{{ s }}{% endfor %}{% endfor %}{% endfor %}";
    let cases: Vec<String> = vec![
        deep_if,
        deep_paren,
        deep_not,
        deep_neg,
        deep_list,
        loops.into(),
        "{% for a in l %}{% for b in l %}{% for c in l %}{% endfor %}{% endfor %}{% endfor %}"
            .into(),
        "{{ s * 100000000 }}".into(),
        "{{ 'x' * 9223372036854775807 }}".into(),
        "{{ l * 100000000 }}".into(),
        "{{ 9223372036854775807 + 1 }}".into(),
        "{{ -9223372036854775807 - 1 // -1 }}".into(),
        "{{ (-9223372036854775807 - 1) // -1 }}".into(),
        "{{ (-9223372036854775807 - 1) % -1 }}".into(),
        "{{ 1 // 0 }} {{ 1 % 0 }} {{ 1 / 0 }}".into(),
        "{{ s | replace('', s) | replace('', s) }}".into(),
        "{{ 99999999999999999999999 }}".into(),
        "{{ '\\".into(),
        "{% for %}".into(),
        "{% for a in %}{% endfor %}".into(),
        "{% set %}".into(),
        "{% if %}{% endif %}".into(),
        "{% endif %}".into(),
        "{% else %}".into(),
        "{{ }}".into(),
        "{{ a. }}".into(),
        "{{ a[ }}".into(),
        "{{ a | }}".into(),
        "{{ a is }}".into(),
        "{{ {1: } }}".into(),
        "{{ l[-99999999999] }} {{ s[9999] }} {{ l.99999999999999999999 }}".into(),
        "{{ é }} {{ 'é'[0] }} {{ 'é' | upper }}".into(),
        "{% for k, v in l %}{% endfor %}".into(),
        "{{ l | sort | join(',') | length }}".into(),
        "{{ [1, 'a'] | sort }}".into(),
        "{{ 1 < 'a' }}".into(),
        "{{ 1.5 | int }} {{ 1e308 * 10 }} {{ 'nan' | float | int }}".into(),
        "{{ {}.items() }} {{ s.split('') }} {{ ''.join(l) | length }}".into(),
        "{{ nope() }} {{ s() }}".into(),
    ];
    for t in &cases {
        let start = std::time::Instant::now();
        let r = jinja::render(t, &vars);
        if let Ok((out, _)) = &r {
            assert!(out.len() <= jinja::MAX_OUTPUT, "{t:.80}: output bound");
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "{t:.80}: took {:?}",
            start.elapsed()
        );
    }
    // Past the bound: refused by name, not rendered.
    let e = jinja::render("{{ s * 100000000 }}", &vars).unwrap_err();
    assert!(e.0.contains("too large"), "{e}");
    let e = jinja::render(loops, &vars).unwrap_err();
    assert!(e.0.contains("steps") || e.0.contains("MiB"), "{e}");
}
