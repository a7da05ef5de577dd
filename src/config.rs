//! Configuration as cloud-init assembles it (`stages.py:fetch_base_config`,
//! `helpers.py:ConfigMerger`), highest priority first:
//!
//! `--file` files > user cloud-config > vendor2 cloud-config > vendor
//! cloud-config > `/run/cloud-init/cloud.cfg` > `/etc/cloud/cloud.cfg.d/*.cfg`
//! (reverse lexical: `99_x.cfg` beats `10_y.cfg`) > `/etc/cloud/cloud.cfg` >
//! builtin.
//!
//! Every step is `util.mergemanydict` ([`crate::merge`]), nested as
//! cloud-init nests it, because a source's own `merge_how` only applies where
//! that source is merged in: the conf.d files among themselves, cloud.cfg
//! under conf.d, the runtime file over the rest. Between sources the higher
//! one wins key by key, mappings merge, lists are not concatenated. A file
//! that cannot be read is reported, with its name and line, and the others
//! still count.

use std::path::{Path, PathBuf};

use crate::merge;
use crate::paths::{CLOUD_CFG, RUN_CLOUD_CFG};
use crate::rootfs::{FsView, Kind};
use crate::value::{Mapping, Value};
use crate::yaml;

/// cloud-init's `CFG_BUILTIN`, the part cloudboot reads, after its
/// `datasource_list` (every registered datasource, see [`builtin`]). Built
/// as data rather than parsed from YAML: every stage starts from it.
fn builtin_rest() -> serde_json::Value {
    serde_json::json!({
        "def_log_file": "/var/log/cloud-init.log",
        "syslog_fix_perms": ["syslog:adm", "root:adm", "root:wheel", "root:root"],
        "system_info": {
            "paths": {
                "cloud_dir": "/var/lib/cloud",
                "templates_dir": "/etc/cloud/templates/",
            },
            "network": {"renderers": null},
        },
        "vendor_data": {"enabled": true, "prefix": []},
        "vendor_data2": {"enabled": true, "prefix": []},
    })
}

/// A loaded config and what went wrong on the way.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    pub cfg: Value,
    /// Files read, lowest priority first.
    pub sources: Vec<PathBuf>,
    /// One line per file that could not be used.
    pub problems: Vec<String>,
}

/// The builtin defaults. Its `datasource_list` is the datasource registry,
/// in its order (cloud-init's), so a datasource is added in one place.
pub fn builtin() -> Value {
    let list = crate::datasource::registry::default_list();
    let mut cfg = Mapping::new();
    cfg.insert(
        Value::str("datasource_list"),
        Value::Seq(list.iter().map(|d| Value::str(*d)).collect()),
    );
    if let Value::Map(rest) = Value::from_json(&builtin_rest()) {
        for (k, v) in rest.into_entries() {
            cfg.insert(k, v);
        }
    }
    Value::Map(cfg)
}

/// A config file that cannot be used (it is then read as `{}`), named.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("{}: {error}", .path.display())]
    Unreadable {
        path: PathBuf,
        error: std::io::Error,
    },
    /// Not YAML (the error names the file and the line).
    #[error(transparent)]
    Yaml(#[from] yaml::YamlError),
    #[error("{}: expected a mapping at the top level, found {type_name}", .path.display())]
    NotAMapping {
        path: PathBuf,
        type_name: &'static str,
    },
}

/// Reads one config file that must hold a mapping (or nothing).
pub fn read_file(fs: &dyn FsView, path: &Path) -> Result<Option<Value>, ConfigFileError> {
    let raw = match fs.read(path) {
        Ok(raw) => raw,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(ConfigFileError::Unreadable {
                path: path.to_path_buf(),
                error,
            })
        }
    };
    match yaml::load(&raw, &path.to_string_lossy())? {
        v @ Value::Map(_) => Ok(Some(v)),
        Value::Null => Ok(Some(Value::empty_map())),
        other => Err(ConfigFileError::NotAMapping {
            path: path.to_path_buf(),
            type_name: other.type_name(),
        }),
    }
}

/// The system config: builtin, cloud.cfg, cloud.cfg.d, the runtime cloud.cfg.
pub fn load_system(fs: &dyn FsView) -> Loaded {
    fetch_base_config(fs, &builtin())
}

/// `stages.fetch_base_config` over `builtin`: `mergemanydict([builtin,
/// cloud.cfg with conf.d, runtime cloud.cfg, kernel cmdline], reverse=True)`,
/// so the runtime file has the highest priority and builtin the lowest.
/// (cloudboot does not read `cc: ... end_cc` from the kernel command line.)
pub fn fetch_base_config(fs: &dyn FsView, builtin: &Value) -> Loaded {
    let mut out = Loaded::default();
    let with_confd = read_conf_with_confd(fs, Path::new(CLOUD_CFG), &mut out);
    let runtime = read_into(fs, Path::new(RUN_CLOUD_CFG), &mut out);
    let layers = [
        ("builtin config".to_string(), builtin.clone()),
        (format!("{CLOUD_CFG} with its conf.d"), with_confd),
        (RUN_CLOUD_CFG.to_string(), runtime),
    ];
    out.cfg = merge_named(&layers, true, &mut out.problems);
    out
}

/// `util.read_conf_with_confd`: cloud.cfg, with the conf.d files merged over
/// it. The directory is `conf_d` from cloud.cfg when that key is there (an
/// empty `conf_d` means none), else `<cloud.cfg>.d`.
fn read_conf_with_confd(fs: &dyn FsView, cfgfile: &Path, out: &mut Loaded) -> Value {
    let cfg = read_into(fs, cfgfile, out);
    let confd = match cfg.get("conf_d") {
        Some(Value::Str(d)) if !d.is_empty() => Some(PathBuf::from(merge::py_strip(d))),
        Some(v) if v.truthy() => {
            out.problems.push(format!(
                "{}: 'conf_d' must be a string, not {}; no conf.d directory read",
                cfgfile.display(),
                v.type_name()
            ));
            None
        }
        Some(_) => None,
        None => {
            let default = PathBuf::from(format!("{}.d", cfgfile.display()));
            Some(default)
        }
    };
    let mut layers = Vec::new();
    if let Some(dir) = confd.filter(|d| !d.as_os_str().is_empty() && fs.is_dir(d)) {
        layers.push((format!("{}/", dir.display()), read_conf_d(fs, &dir, out)));
    }
    layers.push((cfgfile.display().to_string(), cfg));
    merge_named(&layers, false, &mut out.problems)
}

/// `util.read_conf_d`: the directory's regular `*.cfg` files, merged with
/// the lexically last first, so it wins.
fn read_conf_d(fs: &dyn FsView, dir: &Path, out: &mut Loaded) -> Value {
    let mut names: Vec<String> = fs
        .list_dir(dir)
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n.ends_with(".cfg"))
        .filter(|n| matches!(fs.stat(&dir.join(n)), Some(s) if s.kind == Kind::File))
        .collect();
    names.sort();
    // Recorded lowest priority first; merged highest first.
    let layers: Vec<(String, Value)> = names
        .iter()
        .map(|n| {
            let path = dir.join(n);
            (path.display().to_string(), read_into(fs, &path, out))
        })
        .rev()
        .collect();
    merge_named(&layers, false, &mut out.problems)
}

/// Reads one config file for [`fetch_base_config`]: absent or unusable is
/// `{}` (the latter reported), as `util.read_conf` makes it.
fn read_into(fs: &dyn FsView, path: &Path, out: &mut Loaded) -> Value {
    match read_file(fs, path) {
        Ok(Some(v)) => {
            out.sources.push(path.to_path_buf());
            v
        }
        Ok(None) => Value::empty_map(),
        Err(e) => {
            // Logged by the stage that reports it (once, however often read).
            out.problems.push(e.to_string());
            Value::empty_map()
        }
    }
}

/// `mergemanydict` over named sources. cloud-init raises on a source it
/// cannot merge (a bad `merge_how`); cloudboot leaves that source out and
/// says which one it was.
fn merge_named(layers: &[(String, Value)], reverse: bool, problems: &mut Vec<String>) -> Value {
    let values: Vec<Value> = layers.iter().map(|(_, v)| v.clone()).collect();
    let (merged, failed) = merge::merge_many_lenient(&values, reverse);
    for (i, e) in failed {
        let name = layers.get(i).map(|(n, _)| n.as_str()).unwrap_or("?");
        problems.push(format!("{name}: not merged: {e}"));
    }
    merged
}

/// The `--file` configs (paths on this machine, not under the root), in
/// command-line order: those that are mappings, and the problems of those
/// that could not be read or parsed (a file that is not a mapping is
/// passed over, as cloud-init does).
pub fn read_cli_files(files: &[PathBuf]) -> (Vec<Value>, Vec<String>) {
    let mut configs = Vec::new();
    let mut problems = Vec::new();
    for f in files {
        match std::fs::read(f) {
            Ok(raw) => match yaml::load(&raw, &f.to_string_lossy()) {
                Ok(v @ Value::Map(_)) => configs.push(v),
                Ok(_) => {}
                Err(e) => problems.push(e.to_string()),
            },
            Err(e) => problems.push(format!("{}: {e}", f.display())),
        }
    }
    (configs, problems)
}

/// The config modules see (`ConfigMerger._read_cfg`): `mergemanydict` of,
/// highest priority first, the `--file` configs, the instance's user,
/// vendor2 and vendor cloud-config, and the system config.
pub fn merged(
    files: &[Value],
    user: &Value,
    vendor2: &Value,
    vendor: &Value,
    system: &Value,
) -> Value {
    let mut sources = files.to_vec();
    sources.extend([
        user.clone(),
        vendor2.clone(),
        vendor.clone(),
        system.clone(),
    ]);
    merge::merge_many(&sources)
}

/// The system config with the datasource's own under it
/// (`ConfigMerger`'s datasource configs, which override the base config);
/// without one, the system config as it is.
pub fn under_datasource(system: &Value, datasource: Option<&Value>) -> Value {
    match datasource {
        Some(ds) => merge::merge_many(&[ds.clone(), system.clone()]),
        None => system.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::testing::root_with;
    use crate::rootfs::{RealFs, Root};

    #[test]
    fn later_files_win_and_bad_files_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("etc/cloud/cloud.cfg.d");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(tmp.path().join("etc/cloud/cloud.cfg"), "a: 1\nb: {x: 1}\n").unwrap();
        std::fs::write(d.join("10_x.cfg"), "a: 2\nb: {y: 2}\n").unwrap();
        std::fs::write(d.join("20_bad.cfg"), "a: [\n").unwrap();
        std::fs::write(d.join("notcfg.txt"), "a: 9\n").unwrap();
        let fs = RealFs {
            root: Root::new(tmp.path()),
        };
        let l = load_system(&fs);
        assert_eq!(l.cfg.get("a"), Some(&Value::Int(2)));
        assert_eq!(l.cfg.get("b").unwrap().get("x"), Some(&Value::Int(1)));
        assert_eq!(l.cfg.get("b").unwrap().get("y"), Some(&Value::Int(2)));
        assert_eq!(l.problems.len(), 1);
        assert!(
            l.problems[0].starts_with("/etc/cloud/cloud.cfg.d/20_bad.cfg, line"),
            "{:?}",
            l.problems
        );
    }

    #[test]
    fn a_bad_merge_how_leaves_that_file_out_and_names_it() {
        let (_tmp, fs) = root_with(&[
            ("/etc/cloud/cloud.cfg", "a: cfg\nl: [cfg]\n"),
            (
                "/etc/cloud/cloud.cfg.d/10_bad.cfg",
                "merge_how: 'list(append)+nope()'\nb: bad\n",
            ),
            (
                "/etc/cloud/cloud.cfg.d/20_ok.cfg",
                "merge_how: 'dict(recurse_array)+list(append)'\nl: [twenty]\n",
            ),
        ]);
        let l = load_system(&fs);
        assert_eq!(l.cfg.get("a"), Some(&Value::str("cfg")));
        assert_eq!(l.cfg.get("b"), None);
        // 20_ok.cfg is the highest conf.d file: it merged into nothing, so
        // its own merge_how did not append anything; cloud.cfg's list loses.
        assert_eq!(
            l.cfg.get("l"),
            Some(&Value::Seq(vec![Value::str("twenty")]))
        );
        assert_eq!(l.problems.len(), 1, "{:?}", l.problems);
        assert!(
            l.problems[0].starts_with("/etc/cloud/cloud.cfg.d/10_bad.cfg: not merged: ")
                && l.problems[0].contains("'nope'"),
            "{:?}",
            l.problems
        );
    }

    #[test]
    fn conf_d_names_the_directory_and_a_non_string_is_reported() {
        let (_tmp, fs) = root_with(&[
            (
                "/etc/cloud/cloud.cfg",
                "conf_d: /etc/cloud/site.d\na: cfg\n",
            ),
            ("/etc/cloud/cloud.cfg.d/10_a.cfg", "a: default-dir\n"),
            ("/etc/cloud/site.d/10_a.cfg", "a: site\n"),
        ]);
        assert_eq!(load_system(&fs).cfg.get("a"), Some(&Value::str("site")));
        let (_tmp, fs) = root_with(&[
            ("/etc/cloud/cloud.cfg", "conf_d: [x]\na: cfg\n"),
            ("/etc/cloud/cloud.cfg.d/10_a.cfg", "a: default-dir\n"),
        ]);
        let l = load_system(&fs);
        assert_eq!(l.cfg.get("a"), Some(&Value::str("cfg")));
        assert!(
            l.problems[0].contains("'conf_d' must be a string"),
            "{:?}",
            l.problems
        );
    }

    #[test]
    fn the_first_file_source_has_the_highest_priority() {
        let f1 = crate::yaml::load(b"a: first\nl: [1]\n", "f1").unwrap();
        let f2 = crate::yaml::load(b"a: second\nb: second\n", "f2").unwrap();
        let user = crate::yaml::load(b"a: user\nb: user\nc: user\n", "u").unwrap();
        let sys = crate::yaml::load(b"l: [sys]\nd: sys\n", "s").unwrap();
        let e = Value::empty_map();
        let m = merged(&[f1, f2], &user, &e, &e, &sys);
        assert_eq!(m.get("a"), Some(&Value::str("first")));
        assert_eq!(m.get("b"), Some(&Value::str("second")));
        assert_eq!(m.get("c"), Some(&Value::str("user")));
        assert_eq!(m.get("l"), Some(&Value::Seq(vec![Value::Int(1)])));
        assert_eq!(m.get("d"), Some(&Value::str("sys")));
    }
}
