//! The sysconfig renderer's SUSE flavour against cloud-init 22.4: the
//! corpus (`expected/opensuse-sysconfig/` of tests/fixtures/net, what
//! `net-convert -D opensuse -O sysconfig` writes; `-D sles` writes the same)
//! and cloud-init's own unit-test expectations
//! (tests/fixtures/sysconfig-suse: `expected_sysconfig_opensuse` of
//! tests/unittests/test_net.py at 22.4.2), every file byte for byte.

mod net_common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use cloudboot::net::render::sysconfig::Sysconfig;
use cloudboot::net::render::{Flavor, RenderContext, Rendered, Renderer};
use cloudboot::net::state::NetworkState;
use cloudboot::rootfs::{RealFs, Root};

fn render_in(root: &Path, state: &NetworkState) -> Rendered {
    let fs = RealFs {
        root: Root::new(root),
    };
    Sysconfig.render(
        state,
        &RenderContext {
            fs: &fs,
            flavor: Flavor::Suse,
        },
    )
}

fn render(state: &NetworkState) -> Rendered {
    let dir = tempfile::tempdir().unwrap();
    render_in(dir.path(), state)
}

fn files(r: &Rendered) -> BTreeMap<String, String> {
    r.files
        .iter()
        .map(|f| (f.path.display().to_string(), f.content.clone()))
        .collect()
}

fn compare(want: &BTreeMap<String, String>, got: &BTreeMap<String, String>) -> Vec<String> {
    let mut problems = Vec::new();
    for (path, content) in want {
        match got.get(path) {
            None => problems.push(format!("  missing {path}")),
            Some(ours) if ours != content => problems.push(format!(
                "  {path} differs:\n    expected {content:?}\n    got      {ours:?}"
            )),
            Some(_) => {}
        }
    }
    for path in got.keys().filter(|p| !want.contains_key(*p)) {
        problems.push(format!("  extra {path}: {:?}", got[path]));
    }
    problems
}

#[test]
fn every_corpus_case_matches_cloud_init() {
    let mut failures = Vec::new();
    let mut matched = 0;
    let cases = net_common::cases();
    for case in &cases {
        let name = net_common::name(case);
        let mut st = net_common::state(case);
        st.demote_extra_default_gateways();
        let rendered = render(&st);
        assert!(rendered.files.iter().all(|f| f.mode == 0o644), "{name}");
        let want = net_common::cloudboot_expected(case, "opensuse-sysconfig");
        assert!(!want.is_empty(), "{name}: no expected files");
        let problems = compare(&want, &files(&rendered));
        if problems.is_empty() {
            matched += 1;
        } else {
            failures.push(format!("{name}:\n{}", problems.join("\n")));
        }
    }
    assert_eq!(cases.len(), 38);
    assert!(
        failures.is_empty(),
        "{matched}/{} match; failures:\n{}",
        cases.len(),
        failures.join("\n")
    );
}
