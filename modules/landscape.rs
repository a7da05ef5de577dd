//! landscape (`cc_landscape`): installs and configures landscape-client,
//! once per instance, when `landscape` is set (and not empty); 22.4
//! verifies it on ubuntu only (elsewhere `unverified_modules` must list
//! it). As 22.4 does: `landscape-client` installed through the distro's
//! package manager; `/etc/landscape/client.conf` made by ConfigObj's
//! `merge` (`modules/shared/configobj.rs`) of, in turn, the built-in
//! `[client]` defaults (log_level, url, ping_url, data_path of
//! landscape-client 11.07), the file as it is (absent: nothing), and the
//! whole `landscape` mapping (so `client` and any other key, a mapping
//! becoming a section), worked out once the package is installed (a
//! [`Later`] step: a client.conf the package brings is merged into); `/etc/default/landscape-client` set to `RUN=1`;
//! then `service landscape-client restart` on the running machine (22.4
//! runs that command line, not the distro's `manage_service`).
//!
//! The merge keeps what ConfigObj keeps: values, scalars before sections,
//! new keys after old ones; the comments of the file's own keys and its
//! head and tail comments are lost, those inside a section that only the
//! file has are kept. The result is written as ConfigObj writes it.
//!
//! `client.registration_key` is a secret: with one in the merged file,
//! client.conf is written 0600 and never shown in plans or logs (22.4
//! writes 0644; cloudboot is stricter, as landscape-config's own writes
//! are); without one it is 0644, as in 22.4. `landscape` that is not a
//! mapping fails the module with 22.4's message; a client.conf ConfigObj
//! cannot read, a key that is not a string, a value ConfigObj cannot quote
//! or text that is not ASCII fail it before anything is done.
//! tests/fixtures/wgfan holds what 22.4's handler does (make.py), and the
//! recorded case `wgfan` what a Debian boot of it does.

use std::path::Path;

use crate::module::prelude::*;
use crate::modules::shared::configobj::{ConfigObj, Item};

pub struct Landscape;

static INFO: ModuleInfo = ModuleInfo {
    name: "landscape",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &["landscape"],
    keys: &["landscape"],
    // 22.4's schema: `client` required; it takes other keys too
    // (`additionalProperties: true`).
    schema: &[Field::opt(
        "landscape",
        Ty::Map(&[Field::req(
            "client",
            Ty::MapPart(&[
                Field::opt("url", Ty::Str),
                Field::opt("ping_url", Ty::Str),
                Field::opt("data_path", Ty::Str),
                Field::opt(
                    "log_level",
                    Ty::Strict(
                        &Ty::Str,
                        Rule::OneOfStrs(&["debug", "info", "warning", "error", "critical"]),
                    ),
                ),
                Field::opt("computer_title", Ty::Str),
                Field::opt("account_name", Ty::Str),
                Field::opt("registration_key", Ty::Str),
                Field::opt("tags", Ty::Strict(&Ty::Str, Rule::Check(landscape_tags))),
                Field::opt("http_proxy", Ty::Str),
                Field::opt("https_proxy", Ty::Str),
            ]),
        )]),
    )],
    summary: "install landscape-client, merge /etc/landscape/client.conf (ConfigObj), restart it",
};

const LSC_CLIENT_CFG_FILE: &str = "/etc/landscape/client.conf";
const LS_DEFAULT_FILE: &str = "/etc/default/landscape-client";
/// 22.4's `LSC_BUILTIN_CFG["client"]`, in its order.
const LSC_BUILTIN_CFG: [(&str, &str); 4] = [
    ("log_level", "info"),
    ("url", "https://landscape.canonical.com/message-system"),
    ("ping_url", "http://landscape.canonical.com/ping"),
    ("data_path", "/var/lib/landscape/client"),
];

/// `^[-_0-9a-zA-Z]+(,[-_0-9a-zA-Z]+)*$`: comma-separated non-empty words.
fn landscape_tags(v: &Value) -> Verdict {
    let word = |w: &str| {
        !w.is_empty()
            && w.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    match v.as_str() {
        Some(s) if !s.split(',').all(word) => {
            Verdict::Bad("does not match '^[-_0-9a-zA-Z]+(,[-_0-9a-zA-Z]+)*$'")
        }
        _ => Verdict::Fine,
    }
}

impl Module for Landscape {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn distros(&self) -> &'static [&'static str] {
        &["ubuntu"]
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let cfg = ctx.cfg.get("landscape");
        let cfg = match cfg {
            None | Some(Value::Null) => {
                // `cfg.get("landscape", {})`; None is no dict either.
                if cfg.is_some() {
                    out.error(not_a_dict("NoneType"));
                }
                return out;
            }
            Some(Value::Map(m)) if m.is_empty() => return out,
            Some(v @ Value::Map(_)) => v,
            Some(other) => {
                out.error(not_a_dict(other.type_name()));
                return out;
            }
        };
        // Checked on the root as it is now, so that a client.conf that
        // cannot be merged fails the module before anything is installed;
        // merged for real into the file there is once the package (whose
        // postinst may write it) is installed, as 22.4 merges after its
        // install.
        if let Err(e) = client_conf(ctx.fs, cfg) {
            out.error(format!("landscape: {e} (nothing done)"));
            return out;
        }
        match ctx.distro.install_packages(
            ctx.fs,
            &ctx.sources_mark(),
            &[PackageSpec::name("landscape-client")],
        ) {
            Ok(effects) => out.effects.extend(effects),
            Err(e) => {
                out.error(ConfigError::from(e));
                return out;
            }
        }
        let cloud_cfg = cfg.clone();
        out.effects.push(Effect::Later(Later::new(
            format!("merge landscape's config into {LSC_CLIENT_CFG_FILE}"),
            move |fs| {
                let (text, secret) =
                    client_conf(fs, &cloud_cfg).map_err(|e| format!("landscape: {e}"))?;
                let (data, mode) = match secret {
                    true => (Data::secret(text), 0o600),
                    false => (Data::public(text), 0o644),
                };
                Ok(vec![Effect::write(LSC_CLIENT_CFG_FILE, data, mode)])
            },
        )));
        out.effects.push(Effect::write(
            LS_DEFAULT_FILE,
            Data::public(b"RUN=1\n".to_vec()),
            0o644,
        ));
        let argv: Vec<String> = ["service", "landscape-client", "restart"]
            .map(String::from)
            .to_vec();
        out.effects.push(Effect::Host(HostAction {
            what: format!("restart landscape-client ({})", argv.join(" ")),
            argv,
        }));
        out
    }
}

/// 22.4's message for a `landscape` that is not a mapping.
fn not_a_dict(type_name: &str) -> String {
    format!(
        "'landscape' key existed in config, but not a dictionary type, is a {type_name} instead"
    )
}

/// `merge_together([LSC_BUILTIN_CFG, LSC_CLIENT_CFG_FILE, ls_cloudcfg])`
/// written out: the bytes, and whether they hold a registration key.
fn client_conf(fs: &dyn FsView, cloud_cfg: &Value) -> Result<(Vec<u8>, bool), String> {
    let mut merged = ConfigObj::default();
    let mut builtin = ConfigObj::default();
    let client = builtin.root.section_mut("client");
    for (k, v) in LSC_BUILTIN_CFG {
        client.set(k, Item::Str(v.into()));
    }
    merged.root.merge(&builtin.root);
    match fs.read(Path::new(LSC_CLIENT_CFG_FILE)) {
        Ok(bytes) => {
            let file =
                ConfigObj::parse(&bytes).map_err(|e| format!("{LSC_CLIENT_CFG_FILE}: {e}"))?;
            merged.root.merge(&file.root);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("{LSC_CLIENT_CFG_FILE}: {e}")),
    }
    match Item::from_value(cloud_cfg)? {
        Item::Section(s) => merged.root.merge(&s),
        _ => unreachable!("a mapping makes a section"),
    }
    let secret = merged.root.has_key(&["client"], "registration_key");
    Ok((merged.write()?, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_alone() {
        let p = Kit::debian12()
            .cfg("landscape:\n  client: {}\n")
            .plan(&Landscape);
        assert!(p.errors().is_empty(), "{:?}", p.errors());
        assert_eq!(
            p.file(LSC_CLIENT_CFG_FILE).as_deref(),
            Some("[client]\nlog_level = info\nurl = https://landscape.canonical.com/message-system\nping_url = http://landscape.canonical.com/ping\ndata_path = /var/lib/landscape/client\n")
        );
        assert_eq!(p.file(LS_DEFAULT_FILE).as_deref(), Some("RUN=1\n"));
        let mode = |path: &str| {
            p.written()
                .iter()
                .find(|w| w.path == Path::new(path))
                .unwrap()
                .mode
        };
        assert_eq!(mode(LSC_CLIENT_CFG_FILE), 0o644);
        assert_eq!(
            p.commands().last().unwrap(),
            &["service", "landscape-client", "restart"]
        );
    }

    #[test]
    fn the_registration_key_stays_secret() {
        let p = Kit::debian12()
            .cfg("landscape:\n  client: {registration_key: s3cretkey, account_name: a}\n")
            .plan(&Landscape);
        assert!(p.errors().is_empty(), "{:?}", p.errors());
        let w = p.written();
        let conf = w
            .iter()
            .find(|w| w.path == Path::new(LSC_CLIENT_CFG_FILE))
            .unwrap();
        assert_eq!(conf.mode, 0o600);
        assert!(conf.content.contains("registration_key = s3cretkey\n"));
        for e in p.effects() {
            assert!(!format!("{} {}", e.summary(), e.to_json()).contains("s3cretkey"));
        }
    }

    #[test]
    fn empty_or_wrong() {
        let p = Kit::debian12().cfg("landscape: {}\n").plan(&Landscape);
        assert!(p.errors().is_empty() && p.effects().is_empty());
        let p = Kit::debian12().cfg("landscape: [a]\n").plan(&Landscape);
        assert_eq!(
            p.errors(),
            ["'landscape' key existed in config, but not a dictionary type, is a list instead"]
        );
        assert!(p.effects().is_empty());
        let p = Kit::debian12()
            .file(LSC_CLIENT_CFG_FILE, "a = 1\nnot a key line\n")
            .cfg("landscape:\n  client: {}\n")
            .plan(&Landscape);
        assert!(p.effects().is_empty());
        assert!(p.errors()[0].contains("line 2"), "{:?}", p.errors());
    }
}

/// 22.4's own handler on each landscape case of tests/fixtures/wgfan.
#[cfg(test)]
mod against_22_4 {
    use super::*;
    use crate::modules::shared::handler_events::{cases, events, kit, theirs};
    use serde_json::json;

    #[test]
    fn every_case_does_what_the_handler_did() {
        let mut problems = Vec::new();
        for case in cases("landscape") {
            let name = case["name"].as_str().unwrap();
            let p = kit(&case).plan(&Landscape);
            if let Some(e) = case["error"].as_str() {
                let want = &e[e.find(": ").unwrap() + 2..];
                if p.errors() != [want] || !p.effects().is_empty() {
                    problems.push(format!("{name}: {:?}, want {want:?}", p.errors()));
                }
                continue;
            }
            // cloudboot's one difference: client.conf with a registration
            // key is 0600.
            let theirs: Vec<_> = theirs(&case)
                .into_iter()
                .map(|e| match (&e[1], &e[2]) {
                    (p, c)
                        if *p == LSC_CLIENT_CFG_FILE
                            && c.as_str().unwrap().contains("\nregistration_key = ") =>
                    {
                        json!([e[0], e[1], e[2], 0o600])
                    }
                    _ => e,
                })
                .collect();
            let ours = events(p.effects());
            if !p.errors().is_empty() || ours != theirs {
                problems.push(format!(
                    "{name}: {:?}\nours   {}\n22.4's {}",
                    p.errors(),
                    serde_json::to_string(&ours).unwrap(),
                    serde_json::to_string(&theirs).unwrap()
                ));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
