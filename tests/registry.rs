//! One registry each, enforced: what `modules/mod.rs`,
//! `src/datasource/registry.rs` and `src/net/render/mod.rs` register, what
//! `stages.yaml` places and searches, the builtin `datasource_list` and the
//! distro layer's renderer choice all agree, and no two plugins answer to
//! one name.

use std::collections::BTreeMap;

use cloudboot::datasource::registry as datasources;
use cloudboot::module::normalize_name;
use cloudboot::stages::{lookup, Stage, StageMap, DEFAULT_STAGES_YAML};
use cloudboot::value::Value;

/// Registered modules that stages.yaml places in no stage, each with the
/// reason (a module only run by `single`, say). None today.
const PLACED_NOWHERE: &[(&str, &str)] = &[];

/// Modules stages.yaml names that cloudboot lacks, each with the reason.
/// None: the stage map refuses an unknown module, so one can only be
/// listed here once stages.yaml has a way to say a module is optional.
const NAMED_BUT_MISSING: &[(&str, &str)] = &[];

/// Registered datasources that no stage of stages.yaml searches, each with
/// the reason. None today.
const SEARCHED_NOWHERE: &[(&str, &str)] = &[];

fn stage_map() -> StageMap {
    StageMap::load(DEFAULT_STAGES_YAML, "stages.yaml", &lookup).expect("stages.yaml is valid")
}

fn excepted(list: &[(&str, &str)], name: &str) -> bool {
    list.iter()
        .any(|(n, why)| *n == name && !why.trim().is_empty())
}

/// (stage, name) pairs.
type Named = Vec<(String, String)>;

/// stages.yaml read as plain YAML, not through the stage map (which would
/// refuse a module it does not know before this test could name it):
/// each stage's module names and datasource names.
fn stages_yaml_names() -> (Named, Named) {
    let doc = cloudboot::yaml::load(DEFAULT_STAGES_YAML.as_bytes(), "stages.yaml").unwrap();
    let mut modules = Vec::new();
    let mut sources = Vec::new();
    let stages = doc.get("stages").and_then(Value::as_map).expect("stages:");
    for (stage, decl) in stages.iter() {
        let stage = stage.python_str();
        for entry in decl.get("modules").and_then(Value::as_seq).unwrap_or(&[]) {
            let name = match entry {
                Value::Str(s) => s.clone(),
                other => other.get("name").map(Value::python_str).expect("name:"),
            };
            modules.push((stage.clone(), name));
        }
        for ds in decl
            .get("datasources")
            .and_then(Value::as_seq)
            .unwrap_or(&[])
        {
            sources.push((stage.clone(), ds.python_str()));
        }
    }
    (modules, sources)
}

#[test]
fn every_registered_module_is_placed_in_a_stage() {
    let map = stage_map();
    let placed: Vec<&str> = Stage::ALL
        .iter()
        .flat_map(|s| map.stage(*s).modules)
        .map(|d| d.module.info().name)
        .collect();
    for m in cloudboot::modules::all() {
        let name = m.info().name;
        assert!(
            placed.contains(&name) || excepted(PLACED_NOWHERE, name),
            "module '{name}' is registered in modules/mod.rs but stages.yaml places it in no \
             stage: place it, or list it in PLACED_NOWHERE with the reason"
        );
    }
    for (name, _) in PLACED_NOWHERE {
        assert!(
            lookup(name).is_some() && !placed.contains(name),
            "PLACED_NOWHERE lists '{name}', which is not registered or is placed: drop it"
        );
    }
}

#[test]
fn stages_yaml_names_only_modules_cloudboot_has() {
    let (modules, _) = stages_yaml_names();
    assert!(!modules.is_empty());
    for (stage, name) in &modules {
        assert!(
            lookup(name).is_some() || excepted(NAMED_BUT_MISSING, name),
            "stages.yaml places '{name}' in stage {stage}, but no module of that name is \
             registered in modules/mod.rs"
        );
    }
}

#[test]
fn no_two_modules_answer_to_one_name() {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for m in cloudboot::modules::all() {
        let info = m.info();
        assert_eq!(
            normalize_name(info.name),
            info.name,
            "a module's name is cloud-init's, with underscores"
        );
        for name in std::iter::once(&info.name).chain(info.aliases) {
            let key = normalize_name(name);
            if let Some(other) = seen.insert(key.clone(), info.name) {
                panic!(
                    "modules '{other}' and '{}' both answer to '{key}'",
                    info.name
                );
            }
        }
    }
}

#[test]
fn a_modules_declared_keys_cover_its_schema_and_activation() {
    for m in cloudboot::modules::all() {
        let info = m.info();
        assert!(!info.summary.trim().is_empty(), "{}: no summary", info.name);
        for key in info.activate_by {
            assert!(
                info.keys.contains(key),
                "{}: activated by '{key}', which its keys do not list",
                info.name
            );
        }
        for field in info.schema {
            assert!(
                info.keys.contains(&field.name),
                "{}: its schema has '{}', which its keys do not list",
                info.name,
                field.name
            );
        }
    }
}

#[test]
fn every_registered_datasource_is_searched_and_every_searched_one_registered() {
    let (_, searched) = stages_yaml_names();
    for (stage, name) in &searched {
        let ds = datasources::by_name(name);
        assert!(
            ds.is_some(),
            "stages.yaml searches '{name}' in stage {stage}, but no datasource of that name is \
             registered in src/datasource/registry.rs"
        );
        assert_eq!(
            ds.unwrap().info().name,
            name,
            "stages.yaml should name a datasource by its name, not an alias"
        );
    }
    let map = stage_map();
    for ds in datasources::all() {
        let name = ds.info().name;
        let in_a_stage = Stage::ALL
            .iter()
            .any(|s| map.stage(*s).datasources.iter().any(|n| n == name));
        assert!(
            in_a_stage || excepted(SEARCHED_NOWHERE, name),
            "datasource '{name}' is registered but no stage of stages.yaml searches it: add it \
             to a stage's datasources, or list it in SEARCHED_NOWHERE with the reason"
        );
    }
}

#[test]
fn no_two_datasources_answer_to_one_name() {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for ds in datasources::all() {
        let info = ds.info();
        assert_eq!(ds.name(), info.name);
        assert!(!info.summary.trim().is_empty(), "{}: no summary", info.name);
        for name in std::iter::once(&info.name).chain(info.aliases) {
            if let Some(other) = seen.insert(name, info.name) {
                panic!(
                    "datasources '{other}' and '{}' both answer to '{name}'",
                    info.name
                );
            }
            assert_eq!(
                datasources::by_name(name).map(|d| d.info().name),
                Some(info.name)
            );
        }
    }
}

#[test]
fn the_registry_keeps_cloud_inits_order_and_is_the_builtin_datasource_list() {
    let known = datasources::CLOUD_INIT_DATASOURCES;
    let mut last = None;
    for ds in datasources::all() {
        let name = ds.info().name;
        let at = known.iter().position(|k| *k == name);
        assert!(at.is_some(), "'{name}' is not a cloud-init datasource name");
        assert!(
            at > last,
            "'{name}' is out of cloud-init's datasource_list order in the registry"
        );
        last = at;
    }
    let builtin: Vec<String> = cloudboot::config::builtin()
        .get("datasource_list")
        .and_then(Value::as_seq)
        .expect("the builtin config has a datasource_list")
        .iter()
        .map(Value::python_str)
        .collect();
    assert_eq!(builtin, datasources::default_list());
}

/// Every renderer in `net::render::RENDERERS` is one cloud-init knows (in
/// its priority list), the distro layer can choose it (it is among the
/// names `select_renderer` returns, and a root with its tools makes it
/// available), and it says how its output is brought up.
#[test]
fn every_renderer_is_one_cloud_init_knows_and_the_distro_can_choose() {
    use cloudboot::distro::network::{available, DEFAULT_PRIORITY, IMPLEMENTED};
    use cloudboot::distro::OsRelease;
    use cloudboot::net::render::{by_name, RENDERERS};
    let names: Vec<&str> = RENDERERS.iter().map(|r| r.name()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        names.len(),
        "two renderers answer to one name: {names:?}"
    );
    let mut implemented = IMPLEMENTED.to_vec();
    implemented.sort();
    assert_eq!(
        sorted, implemented,
        "distro::network::IMPLEMENTED lists the registry's renderers"
    );
    // A root with every renderer's tools and files, on a distro each suits.
    let root = tempfile::tempdir().unwrap();
    let tools = [
        "sbin/ifquery",
        "sbin/ifup",
        "sbin/ifdown",
        "usr/sbin/netplan",
        "usr/sbin/ip",
        "bin/systemctl",
        "usr/bin/nmcli",
    ];
    let files = [
        "etc/network/interfaces",
        "etc/sysconfig/network-scripts/network-functions",
        "etc/NetworkManager/NetworkManager.conf",
    ];
    for (path, mode) in tools
        .iter()
        .map(|t| (t, 0o755))
        .chain(files.iter().map(|f| (f, 0o644)))
    {
        let path = root.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "").unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(mode))
            .unwrap();
    }
    let fs = cloudboot::rootfs::RealFs {
        root: cloudboot::rootfs::Root::new(root.path()),
    };
    let centos = OsRelease {
        variant: "centos".into(),
        ..OsRelease::default()
    };
    for renderer in RENDERERS {
        let name = renderer.name();
        assert!(
            DEFAULT_PRIORITY.contains(&name),
            "{name} is not in cloud-init's renderer priority"
        );
        assert!(
            available(&fs, &centos, name),
            "{name}: no root makes it available"
        );
        assert!(
            by_name(name).is_some_and(|r| r.name() == name),
            "by_name finds {name}"
        );
        let up = renderer.bring_up().commands(&["eth0".to_string()]);
        assert!(!up.is_empty(), "{name} says how to bring eth0 up");
    }
}
