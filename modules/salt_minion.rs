//! salt_minion (`cc_salt_minion`): installs, configures and restarts the
//! salt minion, once per instance, when `salt_minion` is set, on every
//! distro. As 22.4 does (`SaltConstants`, `handle`):
//! - `pkg_name` (default `salt-minion`; `py-salt` on FreeBSD) is installed
//!   through the distro's package manager;
//! - `config_dir` (default `/etc/salt`; `/usr/local/etc/salt` on FreeBSD)
//!   is made (0755) when missing;
//! - `conf` is written to `<config_dir>/minion` and `grains` to
//!   `<config_dir>/grains` (0644), each as 22.4's `safeyaml.dumps` writes it
//!   (`---`, block style, keys sorted, indent 4, `...`);
//! - with both `public_key` and `private_key`: `pki_dir` (default
//!   `<config_dir>/pki/minion` when that directory exists, else
//!   `<config_dir>/pki`) is made under umask 077 (so 0700, with any missing
//!   parents), and the keys go to `minion.pub` and `minion.pem` in it;
//! - `service <service_name> restart` (default `salt-minion`;
//!   `salt_minion` on FreeBSD) on the running machine: 22.4 runs that
//!   command line itself, not the distro's `manage_service`.
//!
//! The three names are 22.4's `util.get_cfg_option_str`: a value that is
//! not a string is used as Python's `str()` of it.
//!
//! Where cloudboot differs: `minion.pem` (the private key) is written 0600,
//! not 22.4's 0644, and its content never appears in plans or logs; on
//! FreeBSD, 22.4 also sets `salt_minion_enable="YES"` in `/etc/rc.conf`,
//! which cloudboot (no FreeBSD distro) does not. A `salt_minion` that is not
//! a mapping fails the module before anything is done (22.4 fails part way).
//! tests/fixtures/modules/cases/config_mgmt holds what 22.4 itself does.

use crate::module::prelude::*;

pub struct SaltMinion;

static SALT_MINION_KEYS: &[Field] = &[
    Field::opt("pkg_name", Ty::Str),
    Field::opt("service_name", Ty::Str),
    Field::opt("config_dir", Ty::Str),
    Field::opt("conf", Ty::AnyMap),
    Field::opt("grains", Ty::AnyMap),
    Field::opt("public_key", Ty::Str),
    // A key is a string, which a type error never quotes: as 22.4.
    Field::opt("private_key", Ty::Str),
    Field::opt("pki_dir", Ty::Str),
];

static INFO: ModuleInfo = ModuleInfo {
    name: "salt_minion",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &["salt_minion"],
    keys: &["salt_minion"],
    schema: &[Field::opt("salt_minion", Ty::Map(SALT_MINION_KEYS))],
    summary: "install salt-minion, write its minion config, grains and keys, restart it",
};

/// `SaltConstants`: the package, service and config directory, each
/// overridable from the config.
struct Constants {
    pkg_name: String,
    srv_name: String,
    conf_dir: String,
}

impl Constants {
    fn new(distro: &Distro, cfg: &Value) -> Constants {
        let (pkg, srv, dir) = if distro.name == "freebsd" {
            ("py-salt", "salt_minion", "/usr/local/etc/salt")
        } else {
            ("salt-minion", "salt-minion", "/etc/salt")
        };
        // `util.get_cfg_option_str`: present means used, as `str()`.
        let opt = |key: &str, default: &str| {
            cfg.get(key)
                .map(Value::python_str_any)
                .unwrap_or_else(|| default.to_string())
        };
        Constants {
            pkg_name: opt("pkg_name", pkg),
            srv_name: opt("service_name", srv),
            conf_dir: opt("config_dir", dir),
        }
    }
}

/// `os.path.join(a, b)`: `b` when it is absolute.
fn join(a: &str, b: &str) -> String {
    if b.starts_with('/') || a.is_empty() {
        b.to_string()
    } else if a.ends_with('/') {
        format!("{a}{b}")
    } else {
        format!("{a}/{b}")
    }
}

/// `util.ensure_dir(path)` under a umask: each missing directory of `path`,
/// outermost first, made with `mode`. A relative path is taken from `/`
/// (cloud-init's working directory at boot).
fn ensure_dir(fs: &dyn FsView, path: &str, mode: u32, out: &mut Vec<Effect>) {
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    let mut missing = Vec::new();
    let mut p = std::path::PathBuf::from(&path);
    loop {
        if p.as_os_str().is_empty() || p == std::path::Path::new("/") || fs.is_dir(&p) {
            break;
        }
        missing.push(p.clone());
        if !p.pop() {
            break;
        }
    }
    for dir in missing.into_iter().rev() {
        out.push(Effect::Mkdir { path: dir, mode });
    }
}

fn rooted(path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    }
}

impl Module for SaltMinion {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let Some(s_cfg) = ctx.cfg.get("salt_minion") else {
            out.note(format!(
                "Skipping module named {}, no 'salt_minion' key in configuration",
                ctx.name
            ));
            return out;
        };
        if s_cfg.as_map().is_none() {
            out.error(format!(
                "salt_minion: expected a mapping, got {} (nothing done)",
                s_cfg.type_name()
            ));
            return out;
        }
        let c = Constants::new(ctx.distro, s_cfg);

        // Start by installing the salt package ...
        match ctx.distro.install_packages(
            ctx.fs,
            &ctx.sources_mark(),
            &[PackageSpec::name(c.pkg_name.clone())],
        ) {
            Ok(effects) => out.effects.extend(effects),
            Err(e) => {
                out.error(ConfigError::from(e));
                return out;
            }
        }

        // Ensure we can configure files at the right dir.
        let mut effects = Vec::new();
        ensure_dir(ctx.fs, &c.conf_dir, 0o755, &mut effects);

        // `safeyaml.dumps` of `conf` and `grains`, whatever their type.
        for (key, file) in [("conf", "minion"), ("grains", "grains")] {
            if let Some(v) = s_cfg.get(key) {
                let path = rooted(&join(&c.conf_dir, file));
                effects.push(Effect::write(
                    path,
                    Data::public(yaml::dump_cloud_config(v)),
                    0o644,
                ));
            }
        }

        // ... copy the key pair if specified.
        if let (Some(public), Some(private)) = (s_cfg.get("public_key"), s_cfg.get("private_key")) {
            let (Some(public), Some(private)) = (public.as_str(), private.as_str()) else {
                // `util.write_file` of a value that is not a string fails.
                out.error(
                    "salt_minion: public_key and private_key must be strings (nothing written)",
                );
                return out;
            };
            let pki_dir = match s_cfg.get("pki_dir") {
                Some(Value::Str(d)) => d.clone(),
                // `os.path.join` of anything else fails 22.4's module.
                Some(other) => {
                    out.error(format!(
                        "salt_minion.pki_dir: expected a string, got {} (nothing written)",
                        other.type_name()
                    ));
                    return out;
                }
                None => {
                    let minion = join(&c.conf_dir, "pki/minion");
                    // Before this module's own directories: they never
                    // make pki/minion.
                    if ctx.fs.is_dir(std::path::Path::new(&rooted(&minion))) {
                        minion
                    } else {
                        join(&c.conf_dir, "pki")
                    }
                }
            };
            // `with util.umask(0o77)`: what is made here is 0700.
            let dirs = ensure_dir_after(ctx.fs, &effects, &pki_dir, 0o700);
            effects.extend(dirs);
            effects.push(Effect::write(
                rooted(&join(&pki_dir, "minion.pub")),
                Data::public(public.as_bytes()),
                0o644,
            ));
            effects.push(Effect::write(
                rooted(&join(&pki_dir, "minion.pem")),
                Data::secret(private.as_bytes()),
                0o600,
            ));
        }
        // The package may make config_dir itself (after this plan is made):
        // 22.4's `ensure_dir` then leaves it as it is. A write under it
        // makes it (0755) where it is missing and never changes its mode,
        // so config_dir is only made on its own when nothing goes in it.
        let under = |dir: &std::path::Path, e: &Effect| {
            e.path().is_some_and(|p| p != dir && p.starts_with(dir))
        };
        let effects: Vec<Effect> = effects
            .iter()
            .filter(|e| match e {
                Effect::Mkdir { path, mode: 0o755 } => !effects.iter().any(|o| under(path, o)),
                _ => true,
            })
            .cloned()
            .collect();
        out.effects.extend(effects);

        // 'service' starts it when it is not running; a running one is
        // restarted for the new config.
        let argv = vec!["service".to_string(), c.srv_name.clone(), "restart".into()];
        out.effects.push(Effect::Host(HostAction {
            what: format!("restart the salt minion ({})", argv.join(" ")),
            argv,
        }));
        out
    }
}

/// [`ensure_dir`] for a directory under one this module is about to make:
/// the directories `planned` makes count as existing.
fn ensure_dir_after(fs: &dyn FsView, planned: &[Effect], path: &str, mode: u32) -> Vec<Effect> {
    let made: Vec<&std::path::Path> = planned
        .iter()
        .filter_map(|e| match e {
            Effect::Mkdir { path, .. } => Some(path.as_path()),
            _ => None,
        })
        .collect();
    let mut all = Vec::new();
    ensure_dir(fs, path, mode, &mut all);
    all.retain(|e| !matches!(e, Effect::Mkdir { path, .. } if made.contains(&path.as_path())));
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_keys_and_restart_as_22_4_on_debian() {
        let p = Kit::debian12()
            .cfg(
                "salt_minion:\n  conf:\n    master: salt.example.com\n    id: m1\n  grains:\n    role: [web]\n  public_key: PUB\n  private_key: s3cret\n",
            )
            .plan(&SaltMinion);
        assert!(p.errors().is_empty(), "{:?}", p.errors());
        assert_eq!(
            p.file("/etc/salt/minion").as_deref(),
            Some("---\nid: m1\nmaster: salt.example.com\n...\n")
        );
        assert_eq!(
            p.file("/etc/salt/grains").as_deref(),
            Some("---\nrole:\n- web\n...\n")
        );
        let dirs: Vec<(String, u32)> = p
            .effects()
            .iter()
            .filter_map(|e| match e {
                Effect::Mkdir { path, mode } => Some((path.display().to_string(), *mode)),
                _ => None,
            })
            .collect();
        // /etc/salt is made by the writes under it (0755, never chmod).
        assert_eq!(dirs, vec![("/etc/salt/pki".into(), 0o700)]);
        let pem = p
            .effects()
            .iter()
            .find(|e| e.path() == Some(std::path::Path::new("/etc/salt/pki/minion.pem")))
            .unwrap();
        let shown = format!("{} {}", pem.summary(), pem.to_json());
        assert!(!shown.contains("s3cret"), "{shown}");
        let Effect::WriteFile { mode, data, .. } = pem else {
            panic!()
        };
        assert_eq!((*mode, data.secret), (0o600, true));
        assert_eq!(
            p.commands().last().unwrap(),
            &vec![
                "service".to_string(),
                "salt-minion".into(),
                "restart".into()
            ]
        );
    }

    #[test]
    fn names_and_an_existing_pki_minion_directory() {
        let p = Kit::debian12()
            .dir("/srv/salt/pki/minion")
            .cfg(
                "salt_minion:\n  pkg_name: salt-2\n  service_name: 7\n  config_dir: /srv/salt\n  public_key: a\n  private_key: b\n",
            )
            .plan(&SaltMinion);
        assert!(p.errors().is_empty(), "{:?}", p.errors());
        assert!(p.file("/srv/salt/minion").is_none());
        assert_eq!(
            p.file("/srv/salt/pki/minion/minion.pub").as_deref(),
            Some("a")
        );
        let cmds = p.commands();
        assert!(
            cmds.iter().any(|c| c.ends_with(&["salt-2".to_string()])),
            "{cmds:?}"
        );
        assert_eq!(
            cmds.last().unwrap(),
            &vec!["service".to_string(), "7".into(), "restart".into()]
        );
        assert!(!p
            .effects()
            .iter()
            .any(|e| matches!(e, Effect::Mkdir { .. })));
    }

    #[test]
    fn one_key_alone_is_not_copied_and_no_key_is_nothing() {
        let p = Kit::debian12()
            .cfg("salt_minion:\n  public_key: a\n")
            .plan(&SaltMinion);
        assert!(p
            .written()
            .iter()
            .all(|w| !w.path.starts_with("/etc/salt/pki")));
        let p = Kit::debian12().cfg("other: 1\n").plan(&SaltMinion);
        assert!(p.effects().is_empty());
        assert_eq!(
            p.notes(),
            ["Skipping module named salt_minion, no 'salt_minion' key in configuration"]
        );
    }

    #[test]
    fn an_empty_salt_minion_makes_config_dir_alone() {
        let p = Kit::debian12().cfg("salt_minion: {}\n").plan(&SaltMinion);
        assert!(p
            .effects()
            .iter()
            .any(|e| matches!(e, Effect::Mkdir { path, mode: 0o755 } if path == std::path::Path::new("/etc/salt"))));
    }

    #[test]
    fn not_a_mapping_fails_before_anything() {
        let p = Kit::debian12().cfg("salt_minion: yes\n").plan(&SaltMinion);
        assert!(p.effects().is_empty());
        assert!(p.errors()[0].contains("salt_minion"), "{:?}", p.errors());
        // Keys that cannot be written: no file lands.
        for bad in [
            "public_key: a\n  private_key: 1",
            "public_key: a\n  private_key: b\n  pki_dir: 5",
        ] {
            let p = Kit::debian12()
                .cfg(&format!("salt_minion:\n  conf: {{a: 1}}\n  {bad}\n"))
                .plan(&SaltMinion);
            assert_eq!(p.errors().len(), 1, "{:?}", p.errors());
            assert!(p.written().iter().all(|w| !w.path.starts_with("/etc/salt")));
        }
    }
}

/// 22.4's own `handle()` on each case of tests/fixtures/salt_minion (made
/// by its make.py, `config_dir` in a temporary directory: `@DIR@`).
#[cfg(test)]
mod against_22_4 {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;

    const DIR: &str = "/t";

    #[test]
    fn every_case_does_what_handle_did() {
        let cases: serde_json::Value =
            serde_json::from_str(include_str!("../tests/fixtures/salt_minion/expected.json"))
                .unwrap();
        let mut problems = Vec::new();
        for case in cases.as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let mut kit = Kit::debian12().cfg(&case["cfg"].as_str().unwrap().replace("@DIR@", DIR));
            let mut existing = vec![DIR.to_string()];
            for d in case["dirs"].as_array().unwrap() {
                let d = format!("{DIR}/{}", d.as_str().unwrap());
                kit = kit.dir(&d);
                let mut p = Path::new(&d);
                while let Some(parent) = p.parent() {
                    existing.push(p.display().to_string());
                    p = parent;
                }
            }
            let p = kit.plan(&SaltMinion);
            assert!(case.get("error").is_none(), "{name}: 22.4 failed");
            if !p.errors().is_empty() {
                problems.push(format!("{name}: {:?}", p.errors()));
                continue;
            }
            let cmds = p.commands();
            let installed = cmds
                .iter()
                .find(|c| c.iter().any(|w| w == "install"))
                .and_then(|c| c.last().cloned());
            if installed.as_deref() != case["installed"][0].as_str() {
                problems.push(format!("{name}: installed {installed:?}"));
            }
            let theirs: Vec<String> = case["commands"][0]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w.as_str().unwrap().to_string())
                .collect();
            if cmds.last() != Some(&theirs) {
                problems.push(format!(
                    "{name}: last command {:?}, 22.4's {theirs:?}",
                    cmds.last()
                ));
            }
            let mut files = BTreeMap::new();
            let mut made = BTreeMap::new();
            for e in p.effects() {
                if let Effect::Mkdir { path, mode } = e {
                    made.insert(path.display().to_string().replacen(DIR, "@DIR@", 1), *mode);
                }
            }
            // (The apt sources' semaphore is the distro layer's.)
            for w in p.written().into_iter().filter(|w| w.path.starts_with(DIR)) {
                let mut dir = w.path.parent();
                while let Some(d) = dir.filter(|d| d.starts_with(DIR)) {
                    let s = d.display().to_string();
                    if !existing.contains(&s) {
                        made.entry(s.replacen(DIR, "@DIR@", 1)).or_insert(0o755);
                    }
                    dir = d.parent();
                }
                let mode = if w.path.ends_with("minion.pem") {
                    // Deliberate: 0600 where 22.4 leaves it 0644.
                    assert_eq!(w.mode, 0o600, "{name}");
                    0o644
                } else {
                    w.mode
                };
                files.insert(
                    w.path.display().to_string().replacen(DIR, "@DIR@", 1),
                    (w.content.clone(), mode),
                );
            }
            let want_files: BTreeMap<String, (String, u32)> = case["files"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        (
                            v[0].as_str().unwrap().to_string(),
                            v[1].as_u64().unwrap() as u32,
                        ),
                    )
                })
                .collect();
            if files != want_files {
                problems.push(format!("{name}: files {files:#?}\n22.4's {want_files:#?}"));
            }
            let want_made: BTreeMap<String, u32> = case["made"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap() as u32))
                .collect();
            if made != want_made {
                problems.push(format!(
                    "{name}: directories {made:?}, 22.4's {want_made:?}"
                ));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
