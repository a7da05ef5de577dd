//! apk_configure (`cc_apk_configure`): writes Alpine's
//! `/etc/apk/repositories` from `apk_repos`, once per instance, on Alpine
//! (22.4's `distros`), when `apk_repos` is set. As 22.4 does: nothing when
//! `preserve_repositories` is true, when there is no `alpine_repo` or it
//! has no `version`; else the main repository at `base_url` (default
//! 22.4's fastly mirror) and `version`, the community and edge testing
//! repositories when `community_enabled` / `testing_enabled` are true (in
//! Python's sense, as the jinja template tests them), and
//! `local_repo_base_url`. The text is the distro layer's
//! (`src/distro/apk.rs`, 22.4's template).
//! tests/fixtures/apk_configure holds what 22.4 itself does.

use crate::module::prelude::*;

pub struct ApkConfigure;

static ALPINE_REPO_KEYS: &[Field] = &[
    Field::opt("base_url", Ty::Any),
    Field::opt("community_enabled", Ty::Any),
    Field::opt("testing_enabled", Ty::Any),
    Field::opt("version", Ty::Any),
];

static APK_REPOS_KEYS: &[Field] = &[
    Field::opt("preserve_repositories", Ty::Any),
    Field::opt(
        "alpine_repo",
        Ty::OneOf(&[Ty::Map(ALPINE_REPO_KEYS), Ty::Null]),
    ),
    Field::opt("local_repo_base_url", Ty::Any),
];

/// 22.4's schema of `apk_repos` (what `cloudboot schema` checks; the
/// module reads the values as its code does).
static APK_REPOS_SCHEMA: Ty = Ty::Strict(
    &Ty::Map(&[
        Field::opt("preserve_repositories", Ty::Bool),
        Field::opt(
            "alpine_repo",
            Ty::Strict(
                &Ty::OneOf(&[
                    Ty::Strict(
                        &Ty::Map(&[
                            Field::opt("base_url", Ty::Str),
                            Field::opt("community_enabled", Ty::Bool),
                            Field::opt("testing_enabled", Ty::Bool),
                            Field::req("version", Ty::Str),
                        ]),
                        Rule::MinProperties(1),
                    ),
                    Ty::Null,
                ]),
                Rule::TypeList,
            ),
        ),
        Field::opt("local_repo_base_url", Ty::Str),
    ]),
    Rule::MinProperties(1),
);

static INFO: ModuleInfo = ModuleInfo {
    name: "apk_configure",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &["apk_repos"],
    keys: &["apk_repos"],
    schema: &[Field::opt(
        "apk_repos",
        Ty::Strict(&Ty::Map(APK_REPOS_KEYS), Rule::As(&APK_REPOS_SCHEMA)),
    )],
    summary: "write Alpine's /etc/apk/repositories (apk_repos.alpine_repo, local_repo_base_url)",
};

/// 22.4's `DEFAULT_MIRROR`.
const DEFAULT_MIRROR: &str = "https://alpine.global.ssl.fastly.net/alpine";
/// 22.4's `repo_file`.
const REPOSITORIES: &str = "/etc/apk/repositories";

impl Module for ApkConfigure {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn distros(&self) -> &'static [&'static str] {
        &["alpine"]
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let name = ctx.name;
        let section = match ctx.cfg.get("apk_repos") {
            Some(s) if s.truthy() => s,
            _ => {
                out.note(format!(
                    "Skipping module named {name}, no 'apk_repos' section found"
                ));
                return out;
            }
        };
        if section.get_bool("preserve_repositories", false) {
            out.note(format!(
                "Skipping module named {name}, 'preserve_repositories' is set"
            ));
            return out;
        }
        let alpine_repo = match section.get("alpine_repo") {
            Some(r) if r.truthy() => r,
            _ => {
                out.note(format!(
                    "Skipping module named {name}, no 'alpine_repo' configuration found"
                ));
                return out;
            }
        };
        let version = match alpine_repo.get("version") {
            Some(v) if v.truthy() => v,
            _ => {
                out.note(format!(
                    "Skipping module named {name}, 'version' not specified in alpine_repo"
                ));
                return out;
            }
        };
        // `{{ value }}` prints Python's str() of the value; `{% if %}` tests
        // its truth.
        let truth = |key: &str| alpine_repo.get(key).is_some_and(Value::truthy);
        let repos = ApkRepos {
            base_url: alpine_repo
                .get("base_url")
                .map_or_else(|| DEFAULT_MIRROR.to_string(), Value::python_str_any),
            version: version.python_str_any(),
            edge: version.as_str() == Some("edge"),
            community: truth("community_enabled"),
            testing: truth("testing_enabled"),
            local_repo: match section.get("local_repo_base_url") {
                None => None,
                Some(Value::Str(s)) if s.is_empty() => None,
                Some(v) => Some(v.python_str_any()),
            },
        };
        out.note(format!(
            "Generating Alpine repository configuration file: {REPOSITORIES}"
        ));
        out.effects.push(Effect::write(
            REPOSITORIES,
            Data::public(ctx.distro.apk_repositories(&repos)),
            0o644,
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    include!("../tests/fixtures/repo_modules/recorded.rs");

    #[test]
    fn every_recorded_case_plans_as_cloud_init_22_4_ran_it() {
        check_recorded(
            include_str!("../tests/fixtures/apk_configure/expected.json"),
            &ApkConfigure,
            11,
        );
    }
}
