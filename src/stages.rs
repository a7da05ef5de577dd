//! The stage map: `stages.yaml`, checked as a petgraph DAG before anything runs.
//!
//! `stages.yaml` declares the four stages in boot order, the datasources each
//! may search, and each stage's modules with `after:` edges. [`StageMap::load`]
//! refuses, with one message naming the modules involved, an unknown module, a
//! duplicate, an edge to a module no stage lists, an edge to a module of a
//! later stage, and a cycle.
//!
//! An image's `cloud.cfg` (`cloud_init_modules`, `cloud_config_modules`,
//! `cloud_final_modules`) then decides which modules run in which stage, as it
//! does for cloud-init; stages.yaml still supplies the edges, and the lists
//! where cloud.cfg has none ([`StageMap::resolve`]).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::fmt;

use petgraph::algo::tarjan_scc;
use petgraph::graphmap::DiGraphMap;

use crate::module::{normalize_name, Module};
use crate::schedule::Frequency;
use crate::value::Value;
use crate::yaml;

// Callers name the stages through this file too; they live in `schedule`.
pub use crate::schedule::Stage;

/// The stage map cloudboot ships with.
pub const DEFAULT_STAGES_YAML: &str = include_str!("../stages.yaml");

/// [`DEFAULT_STAGES_YAML`] already parsed, as JSON: every stage reads the
/// built-in map, and its YAML took a third of a millisecond to parse where
/// this takes a twentieth. A test keeps the two equal and rewrites this file
/// when stages.yaml changes (see `tests::the_built_in_json_is_stages_yaml`).
const DEFAULT_STAGES_JSON: &str = include_str!("../stages.builtin.json");

/// Where the built-in map says it came from.
pub const BUILT_IN_NAME: &str = "stages.yaml (built in)";

/// A stage map that cannot be used; nothing runs.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{source_name}: {message}")]
pub struct StageMapError {
    pub source_name: String,
    pub message: String,
}

/// One module as stages.yaml places it.
#[derive(Clone)]
pub struct Declared {
    pub module: &'static dyn Module,
    /// The name as written (it names the semaphore).
    pub name: String,
    /// Canonical names of the modules this one runs after.
    pub after: Vec<String>,
    pub frequency: Option<Frequency>,
}

/// One stage as stages.yaml declares it.
#[derive(Clone, Default)]
pub struct StageDecl {
    pub datasources: Vec<String>,
    pub modules: Vec<Declared>,
}

/// A checked stages.yaml.
#[derive(Clone)]
pub struct StageMap {
    pub source_name: String,
    stages: BTreeMap<Stage, StageDecl>,
}

impl fmt::Debug for StageMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (stage, decl) in &self.stages {
            let names: Vec<&str> = decl.modules.iter().map(|d| d.name.as_str()).collect();
            m.entry(&stage.name(), &names);
        }
        m.finish()
    }
}

/// A module ready to run in a stage.
#[derive(Clone)]
pub struct Planned {
    pub module: &'static dyn Module,
    pub name: String,
    /// Frequency from the list entry, if it gave a valid one.
    pub frequency: Option<Frequency>,
    pub args: Vec<String>,
}

impl Planned {
    pub fn frequency(&self) -> Frequency {
        self.frequency.unwrap_or(self.module.info().frequency)
    }
}

/// An entry of a stage's list.
#[derive(Clone)]
pub enum Entry {
    Run(Planned),
    /// A name cloudboot has no module for (from cloud.cfg): skipped, as
    /// cloud-init skips a module it cannot import.
    Unknown(String),
}

/// A stage's modules in run order, with where the list came from.
pub struct Resolved {
    pub entries: Vec<Entry>,
    pub source: String,
    pub warnings: Vec<String>,
}

/// Whether [`StageMap::from_value`] checks the edges of the map's graph.
#[derive(PartialEq)]
enum Edges {
    Check,
    /// The built-in map, whose tests check them.
    CheckedByTests,
}

impl StageMap {
    /// Parses and checks a stages.yaml; `registry` finds modules by name.
    pub fn load(
        text: &str,
        source_name: &str,
        registry: &dyn Fn(&str) -> Option<&'static dyn Module>,
    ) -> Result<StageMap, StageMapError> {
        let doc = yaml::load(text.as_bytes(), source_name).map_err(|e| StageMapError {
            source_name: source_name.to_string(),
            message: e.to_string(),
        })?;
        StageMap::from_value(&doc, source_name, registry, Edges::Check)
    }

    /// The stage map cloudboot ships with ([`DEFAULT_STAGES_YAML`]).
    pub fn builtin() -> StageMap {
        let json = serde_json::from_str(DEFAULT_STAGES_JSON).expect("stages.builtin.json is JSON");
        // Its edges are checked by its tests, not at every boot (a graph of
        // sixty modules is a tenth of a stage's own time).
        let value = Value::from_json(&json);
        StageMap::from_value(&value, BUILT_IN_NAME, &lookup, Edges::CheckedByTests)
            .expect("the built-in stages.yaml is checked by its tests")
    }

    /// Checks a parsed stages.yaml.
    fn from_value(
        doc: &Value,
        source_name: &str,
        registry: &dyn Fn(&str) -> Option<&'static dyn Module>,
        edges: Edges,
    ) -> Result<StageMap, StageMapError> {
        let fail = |message: String| StageMapError {
            source_name: source_name.to_string(),
            message,
        };
        let stages_v = doc
            .get("stages")
            .and_then(Value::as_map)
            .ok_or_else(|| fail("no 'stages' mapping at the top level".into()))?;
        let mut stages: BTreeMap<Stage, StageDecl> = BTreeMap::new();
        let mut placed: HashMap<String, Stage> = HashMap::new();
        for (k, body) in stages_v.iter() {
            let sname = k.as_str().unwrap_or_default();
            let stage = Stage::parse(sname).ok_or_else(|| {
                fail(format!(
                    "unknown stage '{k}' (stages are local, network, config, final)"
                ))
            })?;
            let mut decl = StageDecl::default();
            if let Some(map) = body.as_map() {
                for (key, _) in map.iter() {
                    if !matches!(key.as_str(), Some("datasources" | "modules")) {
                        return Err(fail(format!(
                            "stage '{stage}': unknown key '{key}' (expected datasources, modules)"
                        )));
                    }
                }
            } else if !body.is_null() {
                return Err(fail(format!("stage '{stage}' must be a mapping")));
            }
            if let Some(ds) = body.get("datasources") {
                let list = ds
                    .as_seq()
                    .ok_or_else(|| fail(format!("stage '{stage}': datasources must be a list")))?;
                decl.datasources = list.iter().map(|d| d.python_str()).collect();
            }
            let mods = match body.get("modules") {
                None | Some(Value::Null) => &[][..],
                Some(Value::Seq(s)) => s.as_slice(),
                Some(_) => return Err(fail(format!("stage '{stage}': modules must be a list"))),
            };
            for item in mods {
                let d = parse_declared(item, stage, registry).map_err(&fail)?;
                let canon = d.module.info().name.to_string();
                if let Some(prev) = placed.get(&canon) {
                    return Err(fail(format!(
                        "module '{}' is listed twice (stage {prev} and stage {stage})",
                        canon
                    )));
                }
                placed.insert(canon, stage);
                decl.modules.push(d);
            }
            stages.insert(stage, decl);
        }
        let map = StageMap {
            source_name: source_name.to_string(),
            stages,
        };
        if edges == Edges::Check {
            map.check_edges(&placed).map_err(fail)?;
        }
        Ok(map)
    }

    /// Every edge must point to a listed module of the same or an earlier
    /// stage, and the edges must not form a cycle.
    fn check_edges(&self, placed: &HashMap<String, Stage>) -> Result<(), String> {
        let mut graph: DiGraphMap<&str, ()> = DiGraphMap::new();
        for (stage, decl) in &self.stages {
            for d in &decl.modules {
                let me = d.module.info().name;
                graph.add_node(me);
                for dep in &d.after {
                    match placed.get(dep) {
                        None => {
                            return Err(format!(
                                "module '{me}' (stage {stage}) runs after '{dep}', which no stage lists"
                            ))
                        }
                        Some(dep_stage) if dep_stage > stage => {
                            return Err(format!(
                                "module '{me}' (stage {stage}) runs after '{dep}', which runs in the later stage {dep_stage}"
                            ))
                        }
                        Some(_) => {
                            let dep: &str = placed.get_key_value(dep).map(|(k, _)| k.as_str()).unwrap_or(dep);
                            graph.add_edge(dep, me, ());
                        }
                    }
                }
            }
        }
        for scc in tarjan_scc(&graph) {
            let self_loop = scc.len() == 1 && graph.contains_edge(scc[0], scc[0]);
            if scc.len() > 1 || self_loop {
                let mut names: Vec<&str> = scc.clone();
                names.sort();
                return Err(format!(
                    "the 'after' edges of modules {} form a cycle",
                    names
                        .iter()
                        .map(|n| format!("'{n}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        Ok(())
    }

    pub fn stage(&self, stage: Stage) -> StageDecl {
        self.stages.get(&stage).cloned().unwrap_or_default()
    }

    /// The first stage that places `module` (`single` runs a module as
    /// part of it), if any.
    pub fn stage_placing(&self, module: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| {
            self.stages
                .get(s)
                .is_some_and(|d| d.modules.iter().any(|m| m.module.info().name == module))
        })
    }

    /// Canonical name → the canonical names it runs after (all stages).
    fn edges(&self) -> HashMap<&'static str, Vec<String>> {
        self.stages
            .values()
            .flat_map(|d| d.modules.iter())
            .map(|d| (d.module.info().name, d.after.clone()))
            .collect()
    }

    /// The modules of `stage` in run order. `cfg` is the merged config: where
    /// it has the stage's `cloud_*_modules` list, that list decides; else
    /// stages.yaml does. Order is topological by the `after:` edges, ties in
    /// list order.
    pub fn resolve(
        &self,
        stage: Stage,
        cfg: &Value,
        registry: &dyn Fn(&str) -> Option<&'static dyn Module>,
    ) -> Resolved {
        let mut warnings = Vec::new();
        let from_cfg = stage
            .cloud_cfg_key()
            .and_then(|k| cfg.get(k).map(|v| (k, v)));
        let (mut entries, source) = match from_cfg {
            Some((key, list)) => (
                read_cloud_cfg_list(key, list, registry, &mut warnings),
                format!("{key} (cloud.cfg)"),
            ),
            None => (
                self.stage(stage)
                    .modules
                    .into_iter()
                    .map(|d| {
                        Entry::Run(Planned {
                            module: d.module,
                            name: d.name,
                            frequency: d.frequency,
                            args: Vec::new(),
                        })
                    })
                    .collect(),
                format!("stage {stage} of {}", self.source_name),
            ),
        };
        // Where each module runs under this arrangement, to spot edges that
        // a cloud.cfg list turned backwards.
        let mut stage_of: HashMap<&'static str, Stage> = HashMap::new();
        for st in Stage::ALL {
            let names: Vec<&'static str> = if st == stage {
                entries
                    .iter()
                    .filter_map(|e| match e {
                        Entry::Run(p) => Some(p.module.info().name),
                        Entry::Unknown(_) => None,
                    })
                    .collect()
            } else {
                match st.cloud_cfg_key().and_then(|k| cfg.get(k)) {
                    Some(list) => list_names(list, registry),
                    None => self
                        .stage(st)
                        .modules
                        .iter()
                        .map(|d| d.module.info().name)
                        .collect(),
                }
            };
            for n in names {
                stage_of.entry(n).or_insert(st);
            }
        }
        let edges = self.edges();
        for e in &entries {
            if let Entry::Run(p) = e {
                let me = p.module.info().name;
                for dep in edges.get(me).into_iter().flatten() {
                    if let Some(dep_stage) = stage_of.get(dep.as_str()) {
                        if *dep_stage > stage {
                            warnings.push(format!(
                                "module '{me}' should run after '{dep}', but the module lists put '{dep}' in the later stage {dep_stage}; that edge is ignored"
                            ));
                        }
                    }
                }
            }
        }
        entries = topo_order(entries, &edges);
        for w in &warnings {
            tracing::warn!("{w}");
        }
        Resolved {
            entries,
            source,
            warnings,
        }
    }
}

fn parse_declared(
    item: &Value,
    stage: Stage,
    registry: &dyn Fn(&str) -> Option<&'static dyn Module>,
) -> Result<Declared, String> {
    let (name, after, frequency) = match item {
        Value::Str(s) => (s.clone(), Vec::new(), None),
        Value::Map(m) => {
            for (k, _) in m.iter() {
                if !matches!(k.as_str(), Some("name" | "after" | "frequency")) {
                    return Err(format!(
                        "stage '{stage}': unknown key '{k}' in a module entry (expected name, after, frequency)"
                    ));
                }
            }
            let name = m
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("stage '{stage}': a module entry has no 'name'"))?
                .to_string();
            let after = match m.get("after") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Str(s)) => vec![s.clone()],
                Some(Value::Seq(s)) => s.iter().map(|v| v.python_str()).collect(),
                Some(other) => {
                    return Err(format!(
                        "stage '{stage}': module '{name}': 'after' must be a list, not {}",
                        other.type_name()
                    ))
                }
            };
            let frequency = match m.get("frequency") {
                None => None,
                Some(f) => Some(Frequency::parse(&f.python_str()).ok_or_else(|| {
                    format!(
                        "stage '{stage}': module '{name}': unknown frequency '{f}' (once-per-instance, always, once)"
                    )
                })?),
            };
            (name, after, frequency)
        }
        other => {
            return Err(format!(
                "stage '{stage}': a module entry must be a name or a mapping, not {}",
                other.type_name()
            ))
        }
    };
    let module =
        registry(&name).ok_or_else(|| format!("stage '{stage}' lists unknown module '{name}'"))?;
    let mut canon_after = Vec::new();
    for dep in after {
        let m = registry(&dep).ok_or_else(|| {
            format!("module '{name}' (stage {stage}) runs after unknown module '{dep}'")
        })?;
        canon_after.push(m.info().name.to_string());
    }
    Ok(Declared {
        module,
        name,
        after: canon_after,
        frequency,
    })
}

/// Reads a `cloud_*_modules` list: `name`, `[name, freq, args...]` or
/// `{name:, frequency:, args:}` (`config/modules.py:_read_modules`).
fn read_cloud_cfg_list(
    key: &str,
    list: &Value,
    registry: &dyn Fn(&str) -> Option<&'static dyn Module>,
    warnings: &mut Vec<String>,
) -> Vec<Entry> {
    let Some(items) = list.as_seq() else {
        warnings.push(format!(
            "{key} must be a list, not {}; no modules run from it",
            list.type_name()
        ));
        return Vec::new();
    };
    let mut out: Vec<Entry> = Vec::new();
    for item in items {
        let (name, freq, args) = match item {
            Value::Str(s) => (s.clone(), None, Vec::new()),
            Value::Seq(parts) if !parts.is_empty() => (
                parts[0].python_str(),
                parts.get(1).map(|f| f.python_str()),
                parts.iter().skip(2).map(Value::python_str).collect(),
            ),
            Value::Map(m) if m.get("name").is_some() => (
                m.get("name").map(Value::python_str).unwrap_or_default(),
                m.get("frequency").map(Value::python_str),
                m.get("args")
                    .and_then(Value::as_seq)
                    .map(|a| a.iter().map(Value::python_str).collect())
                    .unwrap_or_default(),
            ),
            other => {
                warnings.push(format!("{key}: ignoring entry {other} (not a module name)"));
                continue;
            }
        };
        let name = name.trim().to_string();
        let Some(module) = registry(&name) else {
            out.push(Entry::Unknown(name));
            continue;
        };
        let frequency = match freq.as_deref() {
            None | Some("None") => None,
            Some(f) => match Frequency::parse(f) {
                Some(fr) => Some(fr),
                None => {
                    warnings.push(format!(
                        "Config specified module {name} has an unknown frequency {f}"
                    ));
                    None
                }
            },
        };
        let dup = out
            .iter()
            .any(|e| matches!(e, Entry::Run(p) if p.module.info().name == module.info().name));
        if dup {
            warnings.push(format!(
                "{key}: module {name} is listed twice; it runs once"
            ));
            continue;
        }
        out.push(Entry::Run(Planned {
            module,
            name,
            frequency,
            args,
        }));
    }
    out
}

fn list_names(
    list: &Value,
    registry: &dyn Fn(&str) -> Option<&'static dyn Module>,
) -> Vec<&'static str> {
    list.as_seq()
        .unwrap_or_default()
        .iter()
        .filter_map(|item| {
            let name = match item {
                Value::Seq(p) => p.first()?.python_str(),
                Value::Map(m) => m.get("name")?.python_str(),
                v => v.python_str(),
            };
            registry(&name).map(|m| m.info().name)
        })
        .collect()
}

/// Kahn's algorithm with ties broken by list position.
fn topo_order(entries: Vec<Entry>, edges: &HashMap<&'static str, Vec<String>>) -> Vec<Entry> {
    let index_of: HashMap<&str, usize> = entries
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match e {
            Entry::Run(p) => Some((p.module.info().name, i)),
            Entry::Unknown(_) => None,
        })
        .collect();
    let n = entries.len();
    let mut indegree = vec![0usize; n];
    let mut successors: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, e) in entries.iter().enumerate() {
        if let Entry::Run(p) = e {
            for dep in edges.get(p.module.info().name).into_iter().flatten() {
                if let Some(&j) = index_of.get(dep.as_str()) {
                    successors[j].push(i);
                    indegree[i] += 1;
                }
            }
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|&i| indegree[i] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for &s in &successors[i] {
            indegree[s] -= 1;
            if indegree[s] == 0 {
                ready.push(Reverse(s));
            }
        }
    }
    // The edges come from a checked DAG, so every entry is placed; keep any
    // stragglers in list order all the same.
    for i in 0..n {
        if !order.contains(&i) {
            order.push(i);
        }
    }
    let mut slots: Vec<Option<Entry>> = entries.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

/// The module registry lookup used everywhere: any cloud-init spelling.
pub fn lookup(name: &str) -> Option<&'static dyn Module> {
    let want = normalize_name(name);
    // Registered names are canonical already; only aliases need normalizing.
    let modules = crate::modules::all().iter().copied();
    modules.clone().find(|m| m.info().name == want).or_else(|| {
        modules
            .clone()
            .find(|m| m.info().aliases.iter().any(|a| normalize_name(a) == want))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<StageMap, StageMapError> {
        StageMap::load(text, "stages.yaml", &lookup)
    }

    #[test]
    fn default_map_is_valid() {
        let m = load(DEFAULT_STAGES_YAML).unwrap();
        assert!(!m.stage(Stage::Final).modules.is_empty());
    }

    /// stages.builtin.json is stages.yaml parsed. After editing stages.yaml:
    /// `CLOUDBOOT_REGENERATE=1 cargo test --lib the_built_in_json` rewrites it.
    #[test]
    fn the_built_in_json_is_stages_yaml() {
        let yaml = yaml::load(DEFAULT_STAGES_YAML.as_bytes(), "stages.yaml").unwrap();
        let json: serde_json::Value = serde_json::from_str(DEFAULT_STAGES_JSON).unwrap();
        if std::env::var_os("CLOUDBOOT_REGENERATE").is_some() {
            let text = serde_json::to_string_pretty(&yaml.to_json()).unwrap() + "\n";
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/stages.builtin.json");
            std::fs::write(path, text).unwrap();
            return;
        }
        assert!(
            Value::from_json(&json) == yaml,
            "stages.builtin.json is not stages.yaml parsed: \
             CLOUDBOOT_REGENERATE=1 cargo test --lib the_built_in_json"
        );
        // Loaded as any other file, its edges are checked too.
        let (built_in, loaded) = (StageMap::builtin(), load(DEFAULT_STAGES_YAML).unwrap());
        assert_eq!(format!("{built_in:?}"), format!("{loaded:?}"));
        assert_eq!(built_in.source_name, BUILT_IN_NAME);
    }

    #[test]
    fn refusals_name_the_modules() {
        let unknown = load("stages:\n  config:\n    modules: [runcmd, nosuch]\n").unwrap_err();
        assert_eq!(
            unknown.message,
            "stage 'config' lists unknown module 'nosuch'"
        );
        let dup =
            load("stages:\n  config:\n    modules: [runcmd]\n  final:\n    modules: [runcmd]\n")
                .unwrap_err();
        assert_eq!(
            dup.message,
            "module 'runcmd' is listed twice (stage config and stage final)"
        );
        let back = load(
            "stages:\n  config:\n    modules:\n      - {name: runcmd, after: [scripts_user]}\n  final:\n    modules: [scripts_user]\n",
        )
        .unwrap_err();
        assert_eq!(
            back.message,
            "module 'runcmd' (stage config) runs after 'scripts_user', which runs in the later stage final"
        );
        let cycle = load(
            "stages:\n  final:\n    modules:\n      - {name: scripts_user, after: [write_files_deferred]}\n      - {name: write_files_deferred, after: [scripts_user]}\n",
        )
        .unwrap_err();
        assert_eq!(
            cycle.message,
            "the 'after' edges of modules 'scripts_user', 'write_files_deferred' form a cycle"
        );
    }

    #[test]
    fn edges_order_a_stage_and_ties_keep_list_order() {
        let m = load(
            "stages:\n  final:\n    modules:\n      - {name: scripts_user, after: [write_files_deferred]}\n      - write_files_deferred\n",
        )
        .unwrap();
        let r = m.resolve(Stage::Final, &Value::empty_map(), &lookup);
        let names: Vec<String> = r
            .entries
            .iter()
            .map(|e| match e {
                Entry::Run(p) => p.name.clone(),
                Entry::Unknown(n) => n.clone(),
            })
            .collect();
        assert_eq!(names, ["write_files_deferred", "scripts_user"]);
    }

    #[test]
    fn cloud_cfg_lists_decide_with_cloud_init_spellings() {
        let m = load(DEFAULT_STAGES_YAML).unwrap();
        let cfg = yaml::load(
            b"cloud_config_modules:\n - emit_upstart\n - [runcmd, always, x]\n",
            "cloud.cfg",
        )
        .unwrap();
        let r = m.resolve(Stage::Config, &cfg, &lookup);
        assert!(matches!(&r.entries[0], Entry::Unknown(n) if n == "emit_upstart"));
        match &r.entries[1] {
            Entry::Run(p) => {
                assert_eq!(p.name, "runcmd");
                assert_eq!(p.frequency, Some(Frequency::Always));
                assert_eq!(p.args, ["x"]);
            }
            _ => panic!("runcmd not resolved"),
        }
    }
}
