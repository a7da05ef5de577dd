//! yum_add_repo (`cc_yum_add_repo`): writes one yum `.repo` file per entry
//! of `yum_repos` into `yum_repo_dir` (default `/etc/yum.repos.d/`), once
//! per instance, on the RHEL family (22.4's `distros`), when `yum_repos` is
//! set. As 22.4 does: the file is named after the repo id with spaces made
//! `-`; an entry whose file exists, or whose name another entry already
//! took, is skipped; option names are lower-cased, stripped and their `-`
//! made `_`; an entry without `baseurl` is skipped with two warnings (22.4
//! asks for `baseurl` only, not `metalink` or `mirrorlist`); files are
//! written once every entry is checked, in order, and a value configparser
//! refuses (a lone `%`) fails the module at that file. The file's format
//! is the distro layer's (`src/distro/yum_repo.rs`).
//! tests/fixtures/yum_add_repo holds what 22.4 itself does (its `rhel`
//! class, CentOS 7, and its `centos` class, CentOS 6).

use crate::module::prelude::*;

pub struct YumAddRepo;

/// 22.4's schema of `yum_repos`: repo names `^[0-9a-zA-Z -_]+$` (the
/// range ` -_` is every character from space to underscore), each repo
/// with `baseurl` and options named `^[0-9a-zA-Z_]+$`.
static YUM_REPOS: Ty = Ty::Strict(
    &Ty::Strict(
        &Ty::Strict(&Ty::AnyMap, Rule::Values(&YUM_REPO)),
        Rule::Keys(
            |k| {
                !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || (' '..='_').contains(&c))
            },
            "^[0-9a-zA-Z -_]+$",
        ),
    ),
    Rule::MinProperties(1),
);

static YUM_REPO: Ty = Ty::Strict(
    // Every option (the three named ones too) also matches 22.4's
    // `patternProperties`: an integer, a boolean or a string (`oneOf`).
    &Ty::Strict(
        &Ty::MapPart(&[
            Field::req("baseurl", Ty::Strict(&Ty::Str, Rule::Check(uri_format))),
            Field::opt("name", Ty::Str),
            Field::opt("enabled", Ty::Bool),
        ]),
        Rule::Values(&Ty::Strict(&Ty::Any, Rule::Check(option_value))),
    ),
    Rule::Keys(
        |k| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "^[0-9a-zA-Z_]+$",
    ),
);

/// An option's value: `oneOf` integer, boolean, string.
fn option_value(v: &Value) -> Verdict {
    match v {
        Value::Int(_) | Value::Bool(_) | Value::Str(_) => Verdict::Fine,
        _ => Verdict::Bad("is not valid under any of the given schemas"),
    }
}

static INFO: ModuleInfo = ModuleInfo {
    name: "yum_add_repo",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &["yum_repos"],
    keys: &["yum_repos", "yum_repo_dir"],
    schema: &[
        Field::opt("yum_repos", Ty::Strict(&Ty::AnyMap, Rule::As(&YUM_REPOS))),
        Field::opt("yum_repo_dir", Ty::Str),
    ],
    summary: "write yum .repo files for yum_repos into yum_repo_dir",
};

/// 22.4's default `yum_repo_dir`.
const REPO_DIR: &str = "/etc/yum.repos.d/";

impl Module for YumAddRepo {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn distros(&self) -> &'static [&'static str] {
        &[
            "almalinux",
            "centos",
            "cloudlinux",
            "eurolinux",
            "fedora",
            "mariner",
            "openEuler",
            "openmandriva",
            "photon",
            "rhel",
            "rocky",
            "virtuozzo",
        ]
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let repos = match ctx.cfg.get("yum_repos").and_then(Value::as_map) {
            Some(m) if !m.is_empty() => m,
            _ => {
                out.note(format!(
                    "Skipping module named {}, no 'yum_repos' configuration found",
                    ctx.name
                ));
                return out;
            }
        };
        let base = ctx
            .cfg
            .get("yum_repo_dir")
            .map_or_else(|| REPO_DIR.to_string(), Value::python_str);
        // In the order of `yum_repos`.
        let mut pending: Vec<Pending> = Vec::new();
        for (id, config) in repos.iter() {
            let id = id.python_str();
            let canon = id.replace(' ', "-");
            let path = path_join(&base, &format!("{canon}.repo"));
            if ctx.fs.exists(std::path::Path::new(&path)) {
                out.note(format!("Skipping repo {id}, file {path} already exists!"));
                continue;
            }
            if pending.iter().any(|p| p.canon == canon) {
                out.note(format!("Skipping repo {id}, file {path} already pending!"));
                continue;
            }
            let options = match config {
                c if !c.truthy() => Vec::new(),
                Value::Map(m) => normalized(m, ctx.distro),
                other => {
                    out.error(format!(
                        "'{}' object has no attribute 'items'",
                        other.type_name()
                    ));
                    return out;
                }
            };
            if options.iter().any(|(k, _)| k == "baseurl") {
                pending.push(Pending {
                    canon,
                    path,
                    options,
                });
            } else {
                out.warn(format!(
                    "Repository {id} does not contain a baseurl configuration 'required' entry"
                ));
                out.warn(format!(
                    "Repository {id} is missing 1 required fields, skipping!"
                ));
            }
        }
        for Pending {
            canon,
            path,
            options,
        } in pending
        {
            match ctx.distro.yum_repo_file(&canon, &options, ctx.host.now()) {
                Ok(text) => out
                    .effects
                    .push(Effect::write(path, Data::public(text), 0o644)),
                Err(e) => {
                    out.error(e);
                    break;
                }
            }
        }
        out
    }
}

/// A repo whose file is to be written.
struct Pending {
    /// The id with spaces made `-`: the section and the file's name.
    canon: String,
    path: String,
    options: Vec<(String, String)>,
}

/// The entry's options as 22.4 cleans them: names lower-cased, stripped,
/// `-` made `_`, empty names dropped (a name given twice keeps its first
/// place and its last value, as a dict does); values as yum writes them.
fn normalized(config: &Mapping, distro: &Distro) -> Vec<(String, String)> {
    let mut options: Vec<(String, String)> = Vec::new();
    for (k, v) in config.iter() {
        let k = py::str::strip(&k.python_str().to_lowercase()).replace('-', "_");
        if k.is_empty() {
            continue;
        }
        let v = distro.yum_repo_value(v);
        match options.iter_mut().find(|(name, _)| *name == k) {
            Some(slot) => slot.1 = v,
            None => options.push((k, v)),
        }
    }
    options
}

/// `os.path.join(base, name)`.
fn path_join(base: &str, name: &str) -> String {
    if name.starts_with('/') || base.is_empty() {
        name.to_string()
    } else if base.ends_with('/') {
        format!("{base}{name}")
    } else {
        format!("{base}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    include!("../tests/fixtures/repo_modules/recorded.rs");

    #[test]
    fn every_recorded_case_plans_as_cloud_init_22_4_ran_it() {
        check_recorded(
            include_str!("../tests/fixtures/yum_add_repo/expected.json"),
            &YumAddRepo,
            22,
        );
    }

    #[test]
    fn centos_7_writes_a_dated_repo_file() {
        let p = Kit::centos7()
            .cfg(
                "yum_repos:\n  epel:\n    baseurl: http://e.example/$basearch\n    enabled: true\n",
            )
            .plan(&YumAddRepo);
        let w = p.written();
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(
            w[0].path,
            std::path::Path::new("/etc/yum.repos.d/epel.repo")
        );
        assert_eq!(w[0].mode, 0o644);
        let (first, rest) = w[0].content.split_once('\n').unwrap();
        assert!(first.starts_with("# Created by cloud-init on "), "{first}");
        assert!(first.ends_with(" +0000"), "{first}");
        assert_eq!(
            rest,
            "[epel]\nbaseurl = http://e.example/$basearch\nenabled = 1\n\n"
        );
    }
}
