//! Configuration as cloud-init assembles it (`stages.py:fetch_base_config`,
//! `helpers.py:ConfigMerger`), lowest priority first:
//!
//! builtin < `/etc/cloud/cloud.cfg` < `/etc/cloud/cloud.cfg.d/*.cfg` (lexical)
//! < `/run/cloud-init/cloud.cfg` < vendor cloud-config < user cloud-config
//! < `--file` files.
//!
//! Between sources the higher one wins key by key, mappings merge, lists are
//! never concatenated. A file that cannot be read is reported, with its name
//! and line, and the others still count.

use std::path::{Path, PathBuf};

use crate::paths::{CLOUD_CFG, CLOUD_CFG_D, RUN_CLOUD_CFG};
use crate::rootfs::FsView;
use crate::value::{merge_over, Value};
use crate::yaml;

/// cloud-init's `CFG_BUILTIN`, the part cloudboot reads.
const BUILTIN: &str = r#"
datasource_list: [NoCloud, ConfigDrive, OpenStack, Ec2, None]
def_log_file: /var/log/cloud-init.log
syslog_fix_perms: ["syslog:adm", "root:adm", "root:wheel", "root:root"]
system_info:
  paths:
    cloud_dir: /var/lib/cloud
    templates_dir: /etc/cloud/templates/
  distro: ubuntu
  network:
    renderers: null
vendor_data: {enabled: true, prefix: []}
vendor_data2: {enabled: true, prefix: []}
"#;

/// A loaded config and what went wrong on the way.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    pub cfg: Value,
    /// Files read, lowest priority first.
    pub sources: Vec<PathBuf>,
    /// One line per file that could not be used.
    pub problems: Vec<String>,
}

/// The builtin defaults.
pub fn builtin() -> Value {
    yaml::load(BUILTIN.as_bytes(), "builtin").expect("builtin config is valid YAML")
}

/// Reads one config file that must hold a mapping (or nothing).
pub fn read_file(fs: &dyn FsView, path: &Path) -> Result<Option<Value>, String> {
    let raw = match fs.read(path) {
        Ok(raw) => raw,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    match yaml::load(&raw, &path.to_string_lossy()) {
        Ok(v @ Value::Map(_)) => Ok(Some(v)),
        Ok(Value::Null) => Ok(Some(Value::empty_map())),
        Ok(other) => Err(format!(
            "{}: expected a mapping at the top level, found {}",
            path.display(),
            other.type_name()
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// The system config: builtin, cloud.cfg, cloud.cfg.d, the runtime cloud.cfg.
pub fn load_system(fs: &dyn FsView) -> Loaded {
    let mut out = Loaded {
        cfg: builtin(),
        ..Default::default()
    };
    let mut files = vec![PathBuf::from(CLOUD_CFG)];
    if let Ok(names) = fs.list_dir(Path::new(CLOUD_CFG_D)) {
        files.extend(
            names
                .iter()
                .filter(|n| n.ends_with(".cfg"))
                .map(|n| Path::new(CLOUD_CFG_D).join(n)),
        );
    }
    files.push(PathBuf::from(RUN_CLOUD_CFG));
    for f in files {
        layer(fs, &f, &mut out);
    }
    out
}

/// Lays one file over `out.cfg`.
pub fn layer(fs: &dyn FsView, path: &Path, out: &mut Loaded) {
    match read_file(fs, path) {
        Ok(Some(v)) => {
            out.cfg = merge_over(&v, &out.cfg);
            out.sources.push(path.to_path_buf());
        }
        Ok(None) => {}
        Err(e) => {
            tracing::warn!("config file ignored: {e}");
            out.problems.push(e);
        }
    }
}

/// The config modules see: system config, then vendor and user cloud-config.
pub fn merged(system: &Value, vendor: &Value, user: &Value) -> Value {
    let with_vendor = merge_over(vendor, system);
    merge_over(user, &with_vendor)
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
