//! zypper_add_repo (`cc_zypper_add_repo`): writes zypper repository files
//! from `zypper.repos` and appends `zypper.config` settings to
//! `/etc/zypp/zypp.conf`, on every boot (22.4's `PER_ALWAYS`), on openSUSE
//! and SLES (22.4's `distros`), when `zypper` is set. As 22.4 does: nothing
//! without `zypper.repos`; `zypp.conf` first (every setting with a true
//! value as `key=value` under `# Added via cloud.cfg`, `configdir` refused
//! with a warning; the file rewritten even when nothing is added, and a
//! missing file fails the module), then one `<id>.repo` per entry into
//! `zypper.config.reposdir` (default `/etc/zypp/repos.d/`), the id's spaces
//! made `_` in the file name; an entry without `id` or `baseurl`, whose
//! file exists or whose id came before is skipped; option names are
//! lower-cased, stripped and their `-` made `_`; `enabled` and
//! `autorefresh` default to 1. The file formats are the distro layer's
//! (`src/distro/zypper.rs`).
//! tests/fixtures/zypper_add_repo holds what 22.4 itself does.

use std::path::Path;

use crate::module::prelude::*;

pub struct ZypperAddRepo;

static ZYPPER_KEYS: &[Field] = &[
    Field::opt(
        "repos",
        Ty::Strict(
            &Ty::OneOf(&[Ty::List(&Ty::AnyMap), Ty::Null]),
            Rule::As(&Ty::Strict(&Ty::List(&ZYPPER_REPO), Rule::MinItems(1))),
        ),
    ),
    Field::opt(
        "config",
        Ty::Strict(&Ty::OneOf(&[Ty::AnyMap, Ty::Null]), Rule::As(&Ty::AnyMap)),
    ),
];

/// 22.4's schema of a repo: `id` and `baseurl` (a URI) required, any
/// other key allowed.
static ZYPPER_REPO: Ty = Ty::MapPart(&[
    Field::req("id", Ty::Str),
    Field::req("baseurl", Ty::Strict(&Ty::Str, Rule::Check(uri_format))),
]);

static INFO: ModuleInfo = ModuleInfo {
    name: "zypper_add_repo",
    aliases: &[],
    frequency: Frequency::Always,
    activate_by: &["zypper"],
    keys: &["zypper"],
    schema: &[Field::opt(
        "zypper",
        Ty::Strict(&Ty::MapPart(ZYPPER_KEYS), Rule::MinProperties(1)),
    )],
    summary: "write zypper .repo files (zypper.repos) and zypp.conf settings (zypper.config)",
};

/// 22.4's `zypp_config`.
const ZYPP_CONF: &str = "/etc/zypp/zypp.conf";
/// 22.4's default `reposdir`.
const REPOS_DIR: &str = "/etc/zypp/repos.d/";

impl Module for ZypperAddRepo {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn distros(&self) -> &'static [&'static str] {
        &["opensuse", "sles"]
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let section = match ctx.cfg.get("zypper") {
            Some(Value::Map(m)) if !m.is_empty() => m,
            _ => {
                out.note(format!(
                    "Skipping module named {}, no 'zypper' relevant configuration found",
                    ctx.name
                ));
                return out;
            }
        };
        let repos = match section.get("repos").and_then(Value::as_seq) {
            Some(r) if !r.is_empty() => r,
            _ => {
                out.note(format!(
                    "Skipping module named {}, no 'repos' configuration found",
                    ctx.name
                ));
                return out;
            }
        };
        let empty = Mapping::new();
        let config = match section.get("config") {
            None => &empty,
            Some(Value::Map(m)) => m,
            Some(other) => {
                out.error(format!(
                    "'{}' object has no attribute 'get'",
                    other.type_name()
                ));
                return out;
            }
        };
        let repos_dir = config
            .get("reposdir")
            .map_or_else(|| REPOS_DIR.to_string(), Value::python_str);

        if !config.is_empty() && !self.zypp_config(ctx, config, &mut out) {
            return out;
        }
        self.repos(ctx, repos, &repos_dir, &mut out);
        out
    }
}

impl ZypperAddRepo {
    /// `_write_zypp_config`; false when the module fails there.
    fn zypp_config(&self, ctx: &Context, config: &Mapping, out: &mut ModuleOutput) -> bool {
        let Some(current) = ctx.fs.read_string(Path::new(ZYPP_CONF)) else {
            out.error(format!(
                "[Errno 2] No such file or directory: '{ZYPP_CONF}'"
            ));
            return false;
        };
        let mut settings = Vec::new();
        for (key, value) in config.iter() {
            let key = key.python_str();
            if key == "configdir" {
                out.warn(
                    "Changing the location of the zypper configuration is not supported, \
                     skipping \"configdir\" setting",
                );
                continue;
            }
            if value.truthy() {
                settings.push((key, value.python_str_any()));
            }
        }
        out.effects.push(Effect::write(
            ZYPP_CONF,
            Data::public(ctx.distro.zypp_conf(&current, &settings)),
            0o644,
        ));
        true
    }

    /// `_write_repos`.
    fn repos(&self, ctx: &Context, repos: &[Value], repos_dir: &str, out: &mut ModuleOutput) {
        let empty = Mapping::new();
        // In order.
        let mut valid: Vec<Repo> = Vec::new();
        for (index, repo) in repos.iter().enumerate() {
            let repo = repo.as_map().unwrap_or(&empty);
            let missing: Vec<&str> = ["id", "baseurl"]
                .into_iter()
                .filter(|k| !repo.contains_key(k))
                .collect();
            if !missing.is_empty() {
                out.warn(format!(
                    "Repo config at index {index} is missing required config keys: {}",
                    missing.join(",")
                ));
                continue;
            }
            let id = repo.get("id").map(Value::python_str).unwrap_or_default();
            let path = if repos_dir.ends_with('/') {
                format!("{repos_dir}{}.repo", id.replace(' ', "_"))
            } else {
                format!("{repos_dir}/{}.repo", id.replace(' ', "_"))
            };
            if ctx.fs.exists(Path::new(&path)) {
                out.note(format!("Skipping repo {id}, file {path} already exists!"));
                continue;
            }
            if valid.iter().any(|r| r.id == id) {
                out.note(format!("Skipping repo {id}, file {path} already pending!"));
                continue;
            }
            let mut options: Vec<(String, Value)> = Vec::new();
            for (k, v) in repo.iter() {
                let k = k.python_str();
                if k.is_empty() || k == "id" {
                    continue;
                }
                let k = py::str::strip(&k.to_lowercase()).replace('-', "_");
                match options.iter_mut().find(|(name, _)| *name == k) {
                    Some(slot) => slot.1 = v.clone(),
                    None => options.push((k, v.clone())),
                }
            }
            for field in ["enabled", "autorefresh"] {
                if !options.iter().any(|(k, _)| k == field) {
                    options.push((field.into(), Value::str("1")));
                }
            }
            valid.push(Repo { id, path, options });
        }
        for Repo { id, path, options } in valid {
            match ctx.distro.zypper_repo_file(&id, &options) {
                Ok(text) => out
                    .effects
                    .push(Effect::write(path, Data::public(text), 0o644)),
                Err(e) => {
                    out.error(e);
                    return;
                }
            }
        }
    }
}

/// A repo whose file is to be written.
struct Repo {
    /// As given: the section's name.
    id: String,
    path: String,
    options: Vec<(String, Value)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    include!("../tests/fixtures/repo_modules/recorded.rs");

    #[test]
    fn every_recorded_case_plans_as_cloud_init_22_4_ran_it() {
        check_recorded(
            include_str!("../tests/fixtures/zypper_add_repo/expected.json"),
            &ZypperAddRepo,
            14,
        );
    }
}
