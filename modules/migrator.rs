//! migrator (`cc_migrator`): on every boot, first in the network stage,
//! renames semaphores written under an old spelling (`config_apt-configure`)
//! to the canonical one (`config_apt_configure`, `helpers.canon_sem_name`:
//! `-` becomes `_`), in the instance's `sem/` and in `/var/lib/cloud/sem/`,
//! so a module that ran under an older cloud-init does not run again.
//!
//! `migrate: false` (anything `util.translate_bool` reads as false) skips it.
//!
//! 22.4 also means to turn an old `apt-update-upgrade` semaphore into
//! `apt_configure` and `package_update_upgrade_install` ones, but it checks
//! each name with `os.path.isfile` relative to its working directory, not
//! the semaphore directory, so that step never finds anything; cloudboot
//! does not do it either.
//!
//! A rename is a write of the canonical name (the old content, mode 0644
//! as semaphores are written) and a removal of the old one; as with
//! `shutil.move`, an existing canonical semaphore is replaced.

use std::path::{Path, PathBuf};

use crate::module::prelude::*;

pub struct Migrator;

static INFO: ModuleInfo = ModuleInfo {
    name: "migrator",
    aliases: &[],
    frequency: Frequency::Always,
    activate_by: &[],
    keys: &["migrate"],
    schema: &[Field::opt(
        "migrate",
        Ty::Strict(&Ty::OneOf(&[Ty::Bool, Ty::Str]), Rule::As(&Ty::Bool)),
    )],
    summary: "rename semaphores of older cloud-init versions to their canonical names",
};

impl Module for Migrator {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        // util.get_cfg_option_str(cfg, "migrate", True), then translate_bool.
        let migrate = ctx
            .cfg
            .get("migrate")
            .is_none_or(|v| py::truth::translate_bool(&Value::Str(v.python_str()), &[]));
        if !migrate {
            out.note(format!(
                "Skipping module named {}, migration disabled",
                ctx.name
            ));
            return out;
        }
        let dirs = [
            ctx.paths.ipath(&ctx.instance.instance_id, "sem"),
            ctx.paths.cpath("sem"),
        ];
        let mut moved = 0;
        for dir in &dirs {
            for (from, to) in renames(ctx.fs, dir) {
                let Ok(content) = ctx.fs.read(&from) else {
                    continue;
                };
                out.effects
                    .push(Effect::write(&to, Data::public(content), 0o644));
                out.effects.push(Effect::Remove { path: from });
                moved += 1;
            }
        }
        out.note(format!(
            "Migrated {moved} semaphore files to there canonicalized names"
        ));
        out
    }
}

/// The files in `dir` whose name (before its extension) is not canonical,
/// and the canonical path each moves to.
fn renames(fs: &dyn FsView, dir: &Path) -> Vec<(PathBuf, PathBuf)> {
    let mut names = fs.list_dir(dir).unwrap_or_default();
    names.sort();
    names
        .into_iter()
        .filter(|n| matches!(fs.stat(&dir.join(n)), Some(s) if s.kind == FileKind::File))
        .filter_map(|name| {
            let (stem, ext) = split_ext(&name);
            let canon = stem.replace('-', "_");
            (canon != stem).then(|| (dir.join(&name), dir.join(format!("{canon}{ext}"))))
        })
        .collect()
}

/// `os.path.splitext`: the last `.` that is not the name's first character.
fn split_ext(name: &str) -> (&str, &str) {
    let lead = name.len() - name.trim_start_matches('.').len();
    match name[lead..].rfind('.') {
        Some(i) => name.split_at(lead + i),
        None => (name, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEM: &str = "/var/lib/cloud/instances/iid-kit/sem";

    #[test]
    fn old_spellings_are_renamed_in_both_semaphore_dirs() {
        let kit = Kit::debian12()
            .file(&format!("{SEM}/config_apt-configure"), "12: 3.4\n")
            .file(&format!("{SEM}/config_runcmd"), "1: 2\n")
            .file("/var/lib/cloud/sem/config_scripts-per-once.once", "5: 6\n");
        let p = kit.plan(&Migrator);
        assert!(p.errors().is_empty(), "{:?}", p.errors());
        assert_eq!(
            p.file(&format!("{SEM}/config_apt_configure")).as_deref(),
            Some("12: 3.4\n")
        );
        assert_eq!(
            p.file("/var/lib/cloud/sem/config_scripts_per_once.once")
                .as_deref(),
            Some("5: 6\n")
        );
        let removed: Vec<_> = p
            .effects()
            .iter()
            .filter_map(|e| match e {
                Effect::Remove { path } => Some(path.display().to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(
            removed,
            [
                format!("{SEM}/config_apt-configure"),
                "/var/lib/cloud/sem/config_scripts-per-once.once".to_string()
            ]
        );
        assert!(p
            .notes()
            .contains(&"Migrated 2 semaphore files to there canonicalized names".to_string()));
    }

    #[test]
    fn migrate_false_skips() {
        let kit = Kit::debian12()
            .cfg("migrate: false")
            .file(&format!("{SEM}/config_apt-configure"), "1: 2\n");
        let p = kit.plan(&Migrator);
        assert!(p.effects().is_empty());
        assert_eq!(
            p.notes(),
            ["Skipping module named migrator, migration disabled"]
        );
    }

    #[test]
    fn splitext_is_pythons() {
        assert_eq!(split_ext("config_a.once"), ("config_a", ".once"));
        assert_eq!(split_ext("config_a"), ("config_a", ""));
        assert_eq!(split_ext(".hidden"), (".hidden", ""));
        assert_eq!(split_ext("a.b.c"), ("a.b", ".c"));
    }
}
