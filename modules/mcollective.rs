//! mcollective (`cc_mcollective`): installs, configures and restarts
//! mcollective, once per instance, when `mcollective` is set, on every
//! distro. As 22.4 does: the `mcollective` package is installed through the
//! distro's package manager; with `mcollective.conf`, each entry in turn
//! (in the order 22.4 sees them: cloud-config.txt's sorted keys):
//! - `public-cert`: written to `/etc/mcollective/ssl/server-public.pem`
//!   (0644), and `plugin.ssl_server_public` and `securityprovider = ssl` set;
//! - `private-cert`: `/etc/mcollective/ssl/server-private.pem` (0600, a
//!   secret), `plugin.ssl_server_private` and `securityprovider = ssl`;
//! - a string: set in the main section; a mapping: its items set in the
//!   section of that name (made when missing); anything else: Python's
//!   `str()` of it, in the main section.
//!
//! `/etc/mcollective/server.cfg` is read and rewritten with ConfigObj's
//! semantics (`modules/shared/configobj.rs`): comments, order and inline comments kept,
//! list values (`a, b`) rewritten as ConfigObj writes them, values quoted
//! as ConfigObj quotes them, new keys after the old ones of their section
//! and new sections after the others. The file before is copied to
//! `server.cfg.old` (its mode kept). Then `service mcollective restart` on
//! the running machine (22.4 runs that command line, not the distro's
//! `manage_service`).
//!
//! Errors fail the module before anything is written: a server.cfg
//! ConfigObj cannot parse, a key that is not a string, a value ConfigObj
//! cannot quote, or text that is not ASCII (ConfigObj writes ASCII).
//!
//! The merge is worked out once the package is installed ([`Later`]), so a
//! `server.cfg` the package itself brings in the same run is merged into,
//! as 22.4 merges it; it is also checked when the module plans, so config
//! that cannot be merged into the file already there fails the module
//! before anything is installed. tests/fixtures/modules/cases/config_mgmt
//! holds what 22.4 itself does.

use std::path::Path;

use crate::module::prelude::*;
use crate::modules::shared::configobj::{ConfigObj, Item};

pub struct Mcollective;

static INFO: ModuleInfo = ModuleInfo {
    name: "mcollective",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &["mcollective"],
    keys: &["mcollective"],
    // `conf` keys are any non-empty name, each value a boolean, an integer
    // or a string (22.4's `oneOf`); the two certificates strings.
    schema: &[Field::opt(
        "mcollective",
        Ty::Map(&[Field::opt(
            "conf",
            Ty::Strict(
                &Ty::Strict(
                    &Ty::MapPart(&[
                        Field::opt("public-cert", Ty::Str),
                        Field::opt("private-cert", Ty::Str),
                    ]),
                    Rule::Values(&Ty::Strict(
                        &Ty::OneOf(&[Ty::Bool, Ty::Int, Ty::Str]),
                        Rule::OneOf,
                    )),
                ),
                Rule::Keys(|k| !k.is_empty(), "^.+$"),
            ),
        )]),
    )],
    summary: "install mcollective, set server.cfg (ConfigObj) and its certificates, restart it",
};

const PUBCERT_FILE: &str = "/etc/mcollective/ssl/server-public.pem";
const PRICERT_FILE: &str = "/etc/mcollective/ssl/server-private.pem";
const SERVER_CFG: &str = "/etc/mcollective/server.cfg";

impl Module for Mcollective {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let Some(m_cfg) = ctx.cfg.get("mcollective") else {
            out.note(format!(
                "Skipping module named {}, no 'mcollective' key in configuration",
                ctx.name
            ));
            return out;
        };
        let conf = match m_cfg {
            Value::Map(m) => m.get("conf"),
            other => {
                out.error(format!(
                    "mcollective: expected a mapping, got {} (nothing done)",
                    other.type_name()
                ));
                return out;
            }
        };
        // Checked on the root as it is now, so that bad config fails the
        // module before anything is installed or written; merged for real
        // on the server.cfg there is once the package is installed.
        if let Some(Err(e)) = conf.map(|c| configure(ctx.fs, c)) {
            out.error(format!("mcollective.conf: {e} (nothing done)"));
            return out;
        }
        match ctx.distro.install_packages(
            ctx.fs,
            &ctx.sources_mark(),
            &[PackageSpec::name("mcollective")],
        ) {
            Ok(effects) => out.effects.extend(effects),
            Err(e) => {
                out.error(ConfigError::from(e));
                return out;
            }
        }
        if let Some(conf) = conf.cloned() {
            out.effects.push(Effect::Later(Later::new(
                format!("merge mcollective.conf into {SERVER_CFG}"),
                move |fs| configure(fs, &conf).map_err(|e| format!("mcollective.conf: {e}")),
            )));
        }
        let argv: Vec<String> = ["service", "mcollective", "restart"]
            .map(String::from)
            .to_vec();
        out.effects.push(Effect::Host(HostAction {
            what: format!("restart mcollective ({})", argv.join(" ")),
            argv,
        }));
        out
    }
}

/// `configure(config)`: the certificate files, `server.cfg.old` and the new
/// `server.cfg`, or why not.
fn configure(fs: &dyn FsView, conf: &Value) -> Result<Vec<Effect>, String> {
    let Value::Map(conf) = conf else {
        return Err(format!("expected a mapping, got {}", conf.type_name()));
    };
    let server_cfg = Path::new(SERVER_CFG);
    let old = match fs.read(server_cfg) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("{SERVER_CFG}: {e}")),
    };
    let mut cfg = match &old {
        Some(bytes) => ConfigObj::parse(bytes).map_err(|e| format!("{SERVER_CFG}: {e}"))?,
        None => ConfigObj::default(),
    };
    let mut effects = Vec::new();
    for (name, value) in conf.iter() {
        let Value::Str(name) = name else {
            return Err(format!(
                "The key \"{}\" is not a string.",
                name.python_str()
            ));
        };
        match name.as_str() {
            "public-cert" | "private-cert" => {
                let Value::Str(cert) = value else {
                    return Err(format!(
                        "{name}: expected a string, got {}",
                        value.type_name()
                    ));
                };
                let (file, key, data, mode) = if name == "public-cert" {
                    (
                        PUBCERT_FILE,
                        "plugin.ssl_server_public",
                        Data::public(cert.as_bytes()),
                        0o644,
                    )
                } else {
                    (
                        PRICERT_FILE,
                        "plugin.ssl_server_private",
                        Data::secret(cert.as_bytes()),
                        0o600,
                    )
                };
                effects.push(Effect::write(file, data, mode));
                cfg.root.set(key, Item::Str(file.into()));
                cfg.root.set("securityprovider", Item::Str("ssl".into()));
            }
            _ => match value {
                Value::Str(s) => cfg.root.set(name, Item::Str(s.clone())),
                Value::Map(items) => {
                    cfg.root.ensure_section(name);
                    for (o, v) in items.iter() {
                        let Value::Str(o) = o else {
                            return Err(format!("The key \"{}\" is not a string.", o.python_str()));
                        };
                        let item = Item::from_value(v)?;
                        cfg.root.section_mut(name).set(o, item);
                    }
                }
                other => cfg.root.set(name, Item::Str(other.python_str_any())),
            },
        }
    }
    let text = cfg.write()?;
    if let Some(bytes) = old {
        // `util.copy`: the content and the mode bits.
        let mode = fs.stat(server_cfg).map_or(0o644, |s| s.mode & 0o7777);
        effects.push(Effect::write(
            format!("{SERVER_CFG}.old"),
            Data::public(bytes),
            mode,
        ));
    }
    effects.push(Effect::write(SERVER_CFG, Data::public(text), 0o644));
    Ok(effects)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVER: &str = "# head\nmain_collective = mcollective\ncollectives = a, b   # two\nloglevel = info\n\n[existing]\na = 1\n";

    #[test]
    fn server_cfg_edited_as_configobj_edits_it() {
        let p = Kit::debian12()
            .file(SERVER_CFG, SERVER)
            .cfg("mcollective:\n  conf:\n    loglevel: debug\n    daemonize: 0\n    collectives: x,y\n    existing: {b: 2}\n    new: {k: v}\n")
            .plan(&Mcollective);
        assert!(p.errors().is_empty(), "{:?}", p.errors());
        assert_eq!(
            p.file(SERVER_CFG).as_deref(),
            Some(
                "# head\nmain_collective = mcollective\ncollectives = \"x,y\"# two\nloglevel = debug\ndaemonize = 0\n\n[existing]\na = 1\nb = 2\n[new]\nk = v\n"
            )
        );
        assert_eq!(
            p.file("/etc/mcollective/server.cfg.old").as_deref(),
            Some(SERVER)
        );
        assert_eq!(
            p.commands().last().unwrap(),
            &vec![
                "service".to_string(),
                "mcollective".into(),
                "restart".into()
            ]
        );
    }

    #[test]
    fn no_server_cfg_starts_empty() {
        let p = Kit::debian12()
            .cfg("mcollective:\n  conf:\n    a: b\n    sec: {k: [1, 'x y']}\n    private-cert: s3cret\n")
            .plan(&Mcollective);
        assert!(p.errors().is_empty(), "{:?}", p.errors());
        assert_eq!(
            p.file(SERVER_CFG).as_deref(),
            Some("a = b\nplugin.ssl_server_private = /etc/mcollective/ssl/server-private.pem\nsecurityprovider = ssl\n[sec]\nk = 1, x y\n")
        );
        assert!(p.file("/etc/mcollective/server.cfg.old").is_none());
        let w = p.written();
        let pem = w
            .iter()
            .find(|w| w.path == Path::new(PRICERT_FILE))
            .unwrap();
        assert_eq!(pem.mode, 0o600);
        for e in p.effects() {
            assert!(!format!("{} {}", e.summary(), e.to_json()).contains("s3cret"));
        }
    }

    #[test]
    fn a_broken_server_cfg_fails_before_anything() {
        let p = Kit::debian12()
            .file(SERVER_CFG, "a = 1\nnot a key line\n")
            .cfg("mcollective:\n  conf:\n    a: b\n")
            .plan(&Mcollective);
        assert!(p.effects().is_empty());
        assert!(p.errors()[0].contains("line 2"), "{:?}", p.errors());
    }

    #[test]
    fn without_conf_only_install_and_restart() {
        let p = Kit::debian12().cfg("mcollective: {}\n").plan(&Mcollective);
        assert!(p.errors().is_empty());
        assert!(p.file(SERVER_CFG).is_none());
        let p = Kit::debian12().cfg("x: 1\n").plan(&Mcollective);
        assert_eq!(
            p.notes(),
            ["Skipping module named mcollective, no 'mcollective' key in configuration"]
        );
    }
}

/// 22.4's own `configure()` on each case of tests/fixtures/mcollective
/// (made by its make.py).
#[cfg(test)]
mod against_22_4 {
    use super::*;

    #[test]
    fn every_case_writes_what_configure_wrote() {
        let cases: serde_json::Value =
            serde_json::from_str(include_str!("../tests/fixtures/mcollective/expected.json"))
                .unwrap();
        let mut problems = Vec::new();
        for case in cases.as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let mut kit = Kit::debian12().cfg(case["cfg"].as_str().unwrap());
            if let Some(text) = case["server_cfg"].as_str() {
                kit = kit.file_mode(SERVER_CFG, text, 0o640);
            }
            let p = kit.plan(&Mcollective);
            let written = p.written();
            if let Some(error) = case["error"].as_str() {
                // 22.4 may have written a certificate before failing;
                // cloudboot writes nothing.
                if p.errors().is_empty() || !written.is_empty() {
                    problems.push(format!(
                        "{name}: 22.4 failed ({error}); cloudboot: {:?}, wrote {:?}",
                        p.errors(),
                        written.iter().map(|w| &w.path).collect::<Vec<_>>()
                    ));
                }
                continue;
            }
            if !p.errors().is_empty() {
                problems.push(format!("{name}: {:?}", p.errors()));
                continue;
            }
            let files = case["files"].as_object().unwrap();
            for (file, path) in [
                ("server.cfg", SERVER_CFG),
                ("server.cfg.old", "/etc/mcollective/server.cfg.old"),
                ("server-public.pem", PUBCERT_FILE),
                ("server-private.pem", PRICERT_FILE),
            ] {
                let ours = written.iter().find(|w| w.path == Path::new(path));
                let theirs = files.get(file).map(|f| {
                    (
                        f[0].as_str().unwrap().to_string(),
                        f[1].as_u64().unwrap() as u32,
                    )
                });
                let ours = ours.map(|w| (w.content.clone(), w.mode));
                if ours != theirs {
                    problems.push(format!("{name}: {file}: ours {ours:?}\n22.4's {theirs:?}"));
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
