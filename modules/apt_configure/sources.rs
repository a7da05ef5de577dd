//! `/etc/apt/sources.list` from a template (`generate_sources_list`,
//! `disable_suites`), the `sources` entries (`add_apt_sources`) and the keys
//! of both (`add_apt_key`), as 22.4 writes them.

use super::Params;
use crate::module::prelude::*;

/// Where 22.4 puts keys, and hardened keys (a source naming `$KEY_FILE`).
const APT_TRUSTED_GPG_DIR: &str = "/etc/apt/trusted.gpg.d/";
const CLOUD_INIT_GPG_DIR: &str = "/etc/apt/cloud-init.gpg.d/";
const DEFAULT_KEYSERVER: &str = "keyserver.ubuntu.com";
const SOURCES_LIST: &str = "/etc/apt/sources.list";

/// `templater.render_string(text, params)`: jinja after a `## template:
/// jinja` header (`jinja::blocks`: Debian's template has `{% if codename in
/// (...) %}`; what it does not read is refused by name), else
/// the basic renderer, where a name that is not a parameter is an error
/// (cloud-init's KeyError).
pub fn render(text: &str, params: &Params, key: &str) -> Result<String, ConfigError> {
    use templater::Kind;
    let lookup = |name: &str| {
        params
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    match templater::detect(text)? {
        (Kind::Basic, body, _) => templater::basic_render(body, |name| {
            lookup(name).ok_or_else(|| {
                ConfigError::new(
                    key,
                    format!("the template variable '{name}' is not defined (KeyError)"),
                )
            })
        }),
        (Kind::Jinja, body, _) => {
            // Later parameters win, as 22.4's dict update does.
            let mut vars: Vec<(&str, jinja::blocks::Var)> = Vec::new();
            for (k, v) in params.iter().rev() {
                if !vars.iter().any(|(name, _)| name == k) {
                    vars.push((k, jinja::blocks::Var::Str(v.clone())));
                }
            }
            jinja::blocks::render(body, &vars).map_err(|e| ConfigError::new(key, e.to_string()))
        }
    }
}

/// `map_known_suites`.
fn map_known_suite(suite: &str) -> String {
    match suite {
        "updates" => "$RELEASE-updates".into(),
        "backports" => "$RELEASE-backports".into(),
        "security" => "$RELEASE-security".into(),
        "proposed" => "$RELEASE-proposed".into(),
        "release" => "$RELEASE".into(),
        other => other.into(),
    }
}

/// `disable_suites(disabled, src, release)`: each line (not a comment)
/// whose suite column is one of `disabled` is commented out.
pub fn disable_suites(
    disabled: &[String],
    src: &str,
    release: &str,
    notes: &mut Vec<String>,
) -> Result<String, ConfigError> {
    let mut out = src.to_string();
    for suite in disabled {
        let suite = map_known_suite(suite);
        let params = vec![("RELEASE".to_string(), release.to_string())];
        let release_suite = render(&suite, &params, "apt.disable_suites")?;
        notes.push(format!("Disabling suite {suite} as {release_suite}"));
        let mut new = String::new();
        for line in out.split_inclusive('\n') {
            if line.starts_with('#') {
                new.push_str(line);
                continue;
            }
            let cols: Vec<&str> = line.split_whitespace().collect();
            let mut line = line.to_string();
            if cols.len() > 1 {
                let mut pcol = 2;
                if cols[1].starts_with('[') {
                    for col in &cols[1..] {
                        pcol += 1;
                        if col.ends_with(']') {
                            break;
                        }
                    }
                }
                // 22.4 indexes without a check (an IndexError fails the
                // module); a short line is left as it is here.
                if cols.get(pcol) == Some(&release_suite.as_str()) {
                    line = format!("# suite disabled by cloud-init: {line}");
                }
            }
            new.push_str(&line);
        }
        out = new;
    }
    Ok(out)
}

/// `generate_sources_list`: the `sources_list` template, else the distro's
/// `sources.list.<distro>` template (else `sources.list`), rendered and
/// written to `/etc/apt/sources.list` with the disabled suites commented.
pub fn generate_sources_list(
    ctx: &Context,
    apt: &Value,
    release: &str,
    mirrors: &Params,
    out: &mut Vec<Effect>,
    notes: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let mut params: Params = vec![
        ("RELEASE".into(), release.into()),
        ("codename".into(), release.into()),
    ];
    for (k, v) in mirrors {
        params.push((k.clone(), v.clone()));
        params.push((k.to_lowercase(), v.clone()));
    }
    let tmpl = match apt
        .get("sources_list")
        .filter(|v| !matches!(v, Value::Null))
    {
        Some(t) => t.python_str(),
        None => {
            notes.push("No custom template provided, fall back to builtin".into());
            let dir = ctx
                .distro
                .system_info
                .get("paths")
                .and_then(|p| p.get("templates_dir"))
                .map(Value::python_str)
                .unwrap_or_else(|| "/etc/cloud/templates/".into());
            let candidates = [
                format!(
                    "{}/sources.list.{}.tmpl",
                    dir.trim_end_matches('/'),
                    ctx.distro.name
                ),
                format!("{}/sources.list.tmpl", dir.trim_end_matches('/')),
            ];
            match candidates
                .iter()
                .find_map(|c| ctx.fs.read_string(std::path::Path::new(c)))
            {
                Some(t) => t,
                None => {
                    let msg = "No template found, not rendering /etc/apt/sources.list";
                    tracing::warn!("{msg}");
                    notes.push(msg.into());
                    return Ok(());
                }
            }
        }
    };
    let rendered = render(&tmpl, &params, "apt.sources_list")?;
    let disabled: Vec<String> = match apt.get("disable_suites") {
        Some(Value::Seq(s)) => s.iter().map(Value::python_str).collect(),
        _ => Vec::new(),
    };
    let text = disable_suites(&disabled, &rendered, release, notes)?;
    out.push(Effect::write(SOURCES_LIST, Data::public(text), 0o644));
    Ok(())
}

/// `add_apt_key(ent, hardened, file_name)`: the key of an entry (`key`, or
/// `keyid` fetched from `keyserver`) made a keyring in
/// `/etc/apt/trusted.gpg.d/<name>.gpg` (`/etc/apt/cloud-init.gpg.d/` when
/// hardened) by gpg inside the root. Returns the keyring's path, `None`
/// when the entry has no key. 22.4 writes gpg's `--dearmor` output
/// itself; here gpg writes it (`--output`), the same bytes, and `chmod`
/// gives it 22.4's mode. A failing gpg (or none in the root: Debian's
/// minimal images have only gpgv) is logged, not fatal, as in 22.4
/// (`util.logexc`).
pub fn add_key(
    ent: &Value,
    file_name: &str,
    hardened: bool,
    out: &mut Vec<Effect>,
) -> Option<String> {
    let key = ent.get("key").filter(|v| !matches!(v, Value::Null));
    let keyid = ent.get("keyid").filter(|v| !matches!(v, Value::Null));
    if key.is_none() && keyid.is_none() {
        return None;
    }
    // `pathlib.Path(file_name).stem`.
    let base = file_name.rsplit('/').next().unwrap_or(file_name);
    let stem = match base.rfind('.') {
        Some(i) if i > 0 => &base[..i],
        _ => base,
    };
    let dir = if hardened {
        CLOUD_INIT_GPG_DIR
    } else {
        APT_TRUSTED_GPG_DIR
    };
    let file = format!("{dir}{stem}.gpg");
    out.push(Effect::Mkdir {
        path: dir.trim_end_matches('/').into(),
        mode: 0o755,
    });
    match key {
        Some(k) => {
            let mut c = Command::new(["gpg", "--dearmor", "--yes", "--output", &file]);
            c.stdin = Some(Data::public(k.python_str()));
            out.push(Effect::Run(c.creates(&file).on_failure(OnFailure::Ignore)));
        }
        None => {
            // `gpg.getkeybyid`: receive it into root's keyring, export it,
            // delete it again.
            let id = keyid.unwrap().python_str();
            let server = ent
                .get("keyserver")
                .map(Value::python_str)
                .unwrap_or_else(|| DEFAULT_KEYSERVER.into());
            out.push(Effect::Run(
                Command::new([
                    "gpg".to_string(),
                    "--no-tty".into(),
                    format!("--keyserver={server}"),
                    "--recv-keys".into(),
                    id.clone(),
                ])
                .on_failure(OnFailure::Report),
            ));
            out.push(Effect::Run(
                Command::new(["gpg", "--yes", "--output", &file, "--export", &id])
                    .creates(&file)
                    .on_failure(OnFailure::Ignore),
            ));
            out.push(Effect::Run(
                Command::new(["gpg", "--batch", "--yes", "--delete-keys", &id])
                    .on_failure(OnFailure::Ignore),
            ));
        }
    }
    // `util.write_file`'s mode. A chmod program rather than a chown effect:
    // where gpg failed (or the root has none) there is no file, and that
    // is no failure of the module's, as in 22.4.
    out.push(Effect::Run(
        Command::new(["chmod", "0644", &file]).on_failure(OnFailure::Ignore),
    ));
    Some(file)
}

/// cloud-init's default `add_apt_repo_match`, `^[\w-]+:\w`: a word (or
/// dashes) then a colon and a word character (`ppa:...`, `cloud-archive:...`).
fn default_repo_match(source: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let head: String = source
        .chars()
        .take_while(|c| word(*c) || *c == '-')
        .collect();
    !head.is_empty()
        && source[head.len()..]
            .strip_prefix(':')
            .and_then(|r| r.chars().next())
            .is_some_and(word)
}

/// `add_apt_sources`: each entry's key, then its source line (templated)
/// appended to (or, with `append: false`, written as)
/// `/etc/apt/sources.list.d/<name>.list`, or handed to
/// `add-apt-repository` when it matches `add_apt_repo_match`; then the
/// package sources updated (once per instance).
pub fn add_sources(
    ctx: &Context,
    apt: &Value,
    mut params: Params,
    out: &mut Vec<Effect>,
    notes: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let srcdict = match apt.get("sources") {
        Some(Value::Map(m)) => m,
        Some(other) => {
            return Err(ConfigError::new(
                "apt.sources",
                format!("unknown apt format: {}", other.python_str_any()),
            ))
        }
        None => return Ok(()),
    };
    match apt.get("add_apt_repo_match") {
        None | Some(Value::Null) => {}
        Some(Value::Str(m)) if m == r"^[\w-]+:\w" => {}
        Some(Value::Str(m)) if m.is_empty() => {
            return Err(ConfigError::new("apt.add_apt_repo_match", "did not get a valid repo matcher"))
        }
        Some(other) => {
            return Err(ConfigError::new(
                "apt.add_apt_repo_match",
                format!(
                    "cloudboot has no regular expressions: only cloud-init's default add_apt_repo_match is taken, not {}",
                    other.python_str()
                ),
            ))
        }
    }
    for (name, ent) in srcdict.iter() {
        let name = name.python_str();
        let key = format!("apt.sources.{name}");
        let Value::Map(_) = ent else {
            return Err(ConfigError::new(&key, format!("{key}: expected a mapping")));
        };
        notes.push(format!("adding source/key '{}'", ent.python_str_any()));
        let filename = ent
            .get("filename")
            .map(Value::python_str)
            .unwrap_or(name.clone());
        let source = ent
            .get("source")
            .filter(|v| !matches!(v, Value::Null))
            .map(Value::python_str);
        let hardened = source.as_deref().is_some_and(|s| s.contains("$KEY_FILE"));
        let key_file = add_key(ent, &filename, hardened, out);
        if hardened {
            // 22.4 sets it in the parameters all later entries share.
            params.push(("KEY_FILE".into(), key_file.unwrap_or_else(|| "None".into())));
        }
        let Some(source) = source else { continue };
        let source = render(&source, &params, &key)?;
        let mut file = filename;
        if !file.starts_with('/') {
            file = format!("/etc/apt/sources.list.d/{file}");
        }
        if !file.ends_with(".list") {
            file.push_str(".list");
        }
        if default_repo_match(&source) {
            out.push(Effect::Run(Command::new([
                "add-apt-repository",
                "--no-update",
                &source,
            ])));
            continue;
        }
        let replace = ent.get("append").is_some_and(|a| !a.truthy());
        let contents = format!("{source}\n");
        let append = if replace {
            Append::No
        } else {
            // Once per instance, as write_files' appends.
            let record = format!("{file}\0{contents}");
            Append::OncePerInstance {
                record: ctx
                    .ipath("cloudboot-appends")
                    .join(sha256::hex(record.as_bytes())),
            }
        };
        out.push(Effect::WriteFile {
            path: file.into(),
            data: Data::public(contents),
            mode: 0o644,
            owner: None,
            append,
        });
    }
    let update = ctx
        .distro
        .update_package_sources(ctx.fs, &ctx.sources_mark())
        .map_err(ConfigError::from)?;
    out.extend(update);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_repo_match() {
        assert!(default_repo_match("ppa:user/ppa"));
        assert!(default_repo_match("cloud-archive:foo"));
        assert!(!default_repo_match("deb http://x/ y main"));
        assert!(!default_repo_match("ppa:"));
        assert!(!default_repo_match(":x"));
    }

    #[test]
    fn suites_are_disabled_by_their_column() {
        let src = "# c\ndeb http://m bookworm main\ndeb [arch=amd64 k=v] http://m bookworm-updates main\ndeb http://m bookworm-backports main\n";
        let got = disable_suites(
            &["updates".into(), "release".into()],
            src,
            "bookworm",
            &mut Vec::new(),
        )
        .unwrap();
        assert_eq!(
            got,
            "# c\n# suite disabled by cloud-init: deb http://m bookworm main\n# suite disabled by cloud-init: deb [arch=amd64 k=v] http://m bookworm-updates main\ndeb http://m bookworm-backports main\n"
        );
    }
}
