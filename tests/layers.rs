//! The layers hold: no import circles between the crate's top-level
//! modules, modules that name the engine only through the prelude, and
//! modules that ask the machine nothing but through their context.
//!
//! Every `crate::<module>` a file of `src/` or `modules/` names (outside
//! comments and its `#[cfg(test)] mod tests`) is an edge from the file's top-level
//! module to that one, and the graph must have no cycle. A cycle means two
//! layers each need the other, so neither can be understood, tested or
//! replaced alone: the fix is to move the shared piece down (or hand it in
//! as a parameter), not to list an exception here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to: `src/net/apply.rs` is `net`,
/// `src/boot.rs` is `boot`, everything under `modules/` is `modules`.
fn top_level(manifest: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(manifest).unwrap();
    let mut parts = rel.iter().map(|p| p.to_string_lossy().into_owned());
    match parts.next().as_deref() {
        Some("modules") => "modules".into(),
        _ => {
            let first = parts.next().unwrap();
            first.strip_suffix(".rs").unwrap_or(&first).to_string()
        }
    }
}

/// The code of a file that counts: without its unit tests and comments.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap();
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Module -> modules it names -> the files that name them.
type Graph = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

fn graph() -> Graph {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&manifest.join("src"), &mut files);
    rust_files(&manifest.join("modules"), &mut files);
    let mut graph = Graph::new();
    for file in files {
        let from = top_level(manifest, &file);
        let text = code(&std::fs::read_to_string(&file).unwrap());
        for (i, _) in text.match_indices("crate::") {
            let name: String = text[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // Items of the crate root (constants like VERSION) are not modules.
            if name.is_empty() || name == from || name.chars().next().unwrap().is_uppercase() {
                continue;
            }
            let rel = file.strip_prefix(manifest).unwrap().display().to_string();
            graph
                .entry(from.clone())
                .or_default()
                .entry(name)
                .or_default()
                .insert(rel);
        }
    }
    graph
}

/// Whether `to` can be reached from `from`.
fn reaches(graph: &Graph, from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_string()];
    while let Some(m) = todo.pop() {
        if m == to {
            return true;
        }
        if seen.insert(m.clone()) {
            todo.extend(graph.get(&m).into_iter().flat_map(|e| e.keys().cloned()));
        }
    }
    false
}

#[test]
fn no_two_top_level_modules_need_each_other() {
    let graph = graph();
    let mut circles = Vec::new();
    for (from, edges) in &graph {
        for (to, files) in edges {
            if reaches(&graph, to, from) {
                circles.push(format!(
                    "{from} -> {to} (in {}), and {to} leads back to {from}",
                    files.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

/// The check itself sees imports: the engine names the module runner.
#[test]
fn the_graph_sees_imports() {
    let graph = graph();
    assert!(
        graph["boot"].contains_key("module_runner"),
        "{:?}",
        graph["boot"]
    );
    assert!(
        graph["modules"].contains_key("module"),
        "{:?}",
        graph["modules"]
    );
}

/// Modules name the engine only through `crate::module::prelude` (and
/// share code through `crate::modules`): what a module may touch is what
/// the prelude lists.
#[test]
fn modules_name_the_engine_only_through_the_prelude() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&manifest.join("modules"), &mut files);
    let mut outside = Vec::new();
    for file in &files {
        let text = code(&std::fs::read_to_string(file).unwrap());
        for (i, _) in text.match_indices("crate::") {
            let rest = &text[i..];
            if !rest.starts_with("crate::module::prelude") && !rest.starts_with("crate::modules::")
            {
                let line = rest.lines().next().unwrap_or_default();
                outside.push(format!(
                    "{}: {line}",
                    file.strip_prefix(manifest).unwrap().display()
                ));
            }
        }
    }
    assert!(files.len() > 20, "the modules were read: {files:?}");
    assert!(
        outside.is_empty(),
        "engine names outside the prelude:\n{}",
        outside.join("\n")
    );
}

/// A module asks the machine nothing itself: files through `ctx.fs`, the
/// host (live root or not, free space, randomness, the clock, the pid,
/// uptime) through `ctx.host`, so each can be tested in-process against
/// fakes (the module test kit).
#[test]
fn modules_read_the_host_only_through_the_context() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&manifest.join("modules"), &mut files);
    let host_calls = [
        "std::fs::",
        "std::process::",
        "std::env::",
        "SystemTime",
        "Instant::now",
        "Utc::now",
        "Local::now",
        "libc::",
        "getrandom",
        "nix::",
    ];
    let mut found = Vec::new();
    for file in &files {
        let text = code(&std::fs::read_to_string(file).unwrap());
        for call in host_calls {
            if text.contains(call) {
                found.push(format!(
                    "{}: {call}",
                    file.strip_prefix(manifest).unwrap().display()
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "modules asking the machine directly:\n{}",
        found.join("\n")
    );
}
