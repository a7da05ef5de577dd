//! The files that say which instance this machine is and what it looks
//! like, as cloud-init keeps them: the `instance` link and the instance's
//! directory, `data/instance-id` and its `previous-*` twins, the datasource
//! cache (`Init._reflect_cur_instance`, `_write_to_cache`), and
//! `/run/cloud-init/instance-data.json` (`persist_instance_data`).
//!
//! Each is planned here as effects; the engine decides when and applies them.

use std::path::Path;

use crate::datasource::Instance;
use crate::distro::OsRelease;
use crate::effect::{Data, Effect};
use crate::paths::{Paths, DATASOURCE_CACHE, INSTANCE_SUBDIRS, NO_PREVIOUS_INSTANCE_ID};
use crate::rootfs::FsView;
use crate::status;
use crate::value::Value;

/// What reflecting the current instance writes, and whether it is a new one.
pub struct Reflected {
    pub effects: Vec<Effect>,
    /// Its instance-id differs from the last boot's.
    pub new_instance: bool,
}

/// `Init._reflect_cur_instance` plus the cache. `fresh`: the instance came
/// from a search this run (not the cache, which is then left as it is).
pub fn reflect(
    fs: &dyn FsView,
    p: &Paths,
    instance: &Instance,
    fresh: bool,
    sys_cfg: &Value,
) -> Reflected {
    let iid = &instance.instance_id;
    let idir = p.instance_dir(iid);
    let previous_iid = fs
        .read_string(&p.data("instance-id"))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| NO_PREVIOUS_INSTANCE_ID.to_string());
    let new_instance = previous_iid != *iid;
    let ds_line = instance.datasource_line();
    let previous_ds = fs
        .read_string(&idir.join("datasource"))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| ds_line.clone());
    let mut effects = Vec::new();
    // cloud-init forces the link on every init run; when it already points
    // at this instance that leaves it as it was, so it is not made again.
    if fs.read_link(&p.instance_link()).ok() != Some(idir.clone()) {
        effects.push(Effect::Symlink {
            path: p.instance_link(),
            target: idir.clone(),
        });
    }
    effects.push(Effect::Mkdir {
        path: idir.clone(),
        mode: 0o755,
    });
    for sub in INSTANCE_SUBDIRS {
        effects.push(Effect::Mkdir {
            path: idir.join(sub),
            mode: 0o755,
        });
    }
    let line = |s: &str| Data::public(format!("{s}\n"));
    effects.push(Effect::write(
        p.data("previous-datasource"),
        line(&previous_ds),
        0o644,
    ));
    effects.push(Effect::write(
        idir.join("datasource"),
        line(&ds_line),
        0o644,
    ));
    effects.push(Effect::write(p.data("instance-id"), line(iid), 0o644));
    effects.push(Effect::write(p.runpath(".instance-id"), line(iid), 0o644));
    effects.push(Effect::write(
        p.data("previous-instance-id"),
        line(&previous_iid),
        0o644,
    ));
    // ConfigDrive's injected `files`, written on an instance's first boot
    // (`on_first_boot`), mode 0660 as cloud-init writes them.
    if fresh && new_instance {
        for (path, content) in &instance.files {
            let guest = Path::new("/").join(path.trim_start_matches('/'));
            effects.push(Effect::write(guest, Data::secret(content.clone()), 0o660));
        }
    }
    if sys_cfg.get_bool("manual_cache_clean", false) {
        effects.push(Effect::write(
            idir.join("manual-clean"),
            Data::public(""),
            0o644,
        ));
    }
    // The cache holds user-data: owner-only, and secret in plans. An
    // instance restored from it is what it holds: it is not written back
    // (nor read again to find that out).
    if fresh {
        effects.push(Effect::write(
            idir.join(DATASOURCE_CACHE),
            Data::secret(instance.to_cache_json()),
            0o600,
        ));
    }
    Reflected {
        effects,
        new_instance,
    }
}

/// `/run/cloud-init/instance-data.json` (0644, redacted) and
/// `instance-data-sensitive.json` (0600), the standardized v1 keys, and the
/// `cloud-id` link.
pub fn instance_data(
    fs: &dyn FsView,
    p: &Paths,
    instance: &Instance,
    sys_cfg: &Value,
    release: &OsRelease,
) -> Vec<Effect> {
    let data = crate::instance_data::build(instance, sys_cfg, release);
    let id_file = p.runpath(&format!("cloud-id-{}", data.cloud_id));
    let mut effects = vec![
        Effect::write(
            p.runpath("instance-data.json"),
            Data::public(status::json_file(&data.public)),
            0o644,
        ),
        Effect::write(
            p.runpath("instance-data-sensitive.json"),
            Data::secret(status::json_file(&data.sensitive)),
            0o600,
        ),
        Effect::write(
            id_file.clone(),
            Data::public(format!("{}\n", data.cloud_id)),
            0o644,
        ),
    ];
    // A cloud-id file of another cloud (an image moved between clouds) goes;
    // a link that already names this one stays as it is.
    let prev = fs.read_link(&p.runpath("cloud-id")).ok();
    if let Some(prev) = prev.as_ref().filter(|prev| **prev != id_file) {
        effects.push(Effect::Remove { path: prev.clone() });
    }
    if prev.as_ref() != Some(&id_file) {
        effects.push(Effect::Symlink {
            path: p.runpath("cloud-id"),
            target: id_file,
        });
    }
    effects
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::effect::testing::symlinked_paths;
    use crate::rootfs::testing::root_with;

    #[test]
    fn the_instance_link_is_made_when_it_does_not_point_at_the_instance() {
        let (tmp, fs) = root_with(&[("/var/lib/cloud/data/instance-id", "i-1\n")]);
        let p = Paths::default();
        let instance = |iid: &str| Instance {
            instance_id: iid.into(),
            ..Instance::default()
        };
        let cfg = Value::empty_map();
        let first = reflect(&fs, &p, &instance("i-1"), true, &cfg);
        assert_eq!(
            symlinked_paths(&first.effects),
            [p.instance_link().as_path()]
        );
        // The next run finds the link there: it is left as it is.
        std::os::unix::fs::symlink(
            "/var/lib/cloud/instances/i-1",
            tmp.path().join("var/lib/cloud/instance"),
        )
        .unwrap();
        let again = reflect(&fs, &p, &instance("i-1"), false, &cfg);
        assert!(
            symlinked_paths(&again.effects).is_empty(),
            "{:?}",
            again.effects
        );
        // Another instance moves it.
        let other = reflect(&fs, &p, &instance("i-2"), true, &cfg);
        assert_eq!(
            symlinked_paths(&other.effects),
            [p.instance_link().as_path()]
        );
        assert!(other.new_instance);
    }
}
