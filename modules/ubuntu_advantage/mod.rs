//! ubuntu_advantage (`cc_ubuntu_advantage`): attaches the machine to an
//! Ubuntu Advantage (Pro) contract and enables services, once per
//! instance, on Ubuntu (22.4's `distros`; elsewhere only when
//! `unverified_modules` names it), when `ubuntu_advantage` (or its
//! deprecated spelling `ubuntu-advantage`, warned of) is set. As 22.4 does,
//! step by step:
//!
//! 1. A section that is no mapping, or one with the old `commands` key,
//!    fails the module.
//! 2. `ubuntu-advantage-tools` is installed through the distro's package
//!    manager when the root has no `ua`.
//! 3. `config`: each key, sorted, is `ua config set KEY=VALUE` (a value
//!    with blanks through Python's `re.escape`) or, for a null value, `ua
//!    config unset KEY`. The six keys 22.4 knows must be http(s) URLs
//!    (its messages, all at once); others are warned of and set as given.
//!    A value may hold credentials: `KEY=VALUE` is a secret argument
//!    (plans and logs show `ua config set <redacted>`, 22.4 `ua config set
//!    KEY=REDACTED`). A failing command fails the module before any
//!    attach.
//! 4. `features` must be a mapping and `features.disable_auto_attach` a
//!    boolean (22.4's messages).
//! 5. Unless `disable_auto_attach`, 22.4 asks uaclient's Python API
//!    (`should_auto_attach`) whether this is a Pro instance, and on one
//!    calls `full_auto_attach` with `enable` and `enable_beta` (the token
//!    ignored). cloudboot asks the same API through the root's `python3`
//!    (a probe on the running machine; where it is not asked, a plan or
//!    another root, the instance is taken as not Pro, and the plan says
//!    so), and auto-attaches with the same call. A root without uaclient
//!    (Debian) fails the module there with 22.4's `No module named
//!    'uaclient'`, after the config commands.
//! 6. Otherwise, when more than `features` is given: `token` is required
//!    ("`ubuntu-advantage.token` required in non-Pro Ubuntu instances.");
//!    `ua attach TOKEN` (`ua attach --no-auto-enable TOKEN` when there are
//!    services to enable; exit 2, already attached, is no failure), the
//!    token a secret argument (22.4 logs `ua attach REDACTED`); then `ua
//!    enable --assume-yes --format json -- SERVICE...`, run by a small
//!    Python script in the root that reads its JSON answer as 22.4 does:
//!    a service already enabled is logged, any other error is reported
//!    with 22.4's lines ("Failure enabling `fips`: ...") and fails the
//!    module with 22.4's message ("Failure enabling Ubuntu Advantage
//!    service(s): fips"); an exit other than 0 and 1, or an answer that
//!    is no JSON, fails it too. `enable` given as a string is one service
//!    (warned of); of another type it is warned of and ignored.
//!    `enable_beta` is ignored here (logged), as in 22.4.
//!
//! Where cloudboot differs: bad input (a `config` that is no mapping, bad
//! URLs, a bad `features`, a value of an unknown `config` key that is no
//! string, a token or service that is no string) fails the module before
//! anything is installed or run; 22.4 may have installed the tools and run
//! config commands by then. The lines the answer's script reports are in
//! the command's output (cloud-init-output.log and the module's error),
//! not cloud-init.log. A failed config command ends the module there (22.4 runs
//! the remaining config commands first, then fails before attaching), and
//! is reported as it failed, not as 22.4's summary line. Where uaclient
//! is missing and `enable` is given with auto-attach disabled, 22.4 fails
//! only after `ua enable` (it imports `uaclient.messages` to read the
//! answer); cloudboot runs `ua enable` alone then and reports the same
//! error after the same commands. The outcomes of uaclient's API that a
//! probe cannot turn into a module failure (a missing token on a non-Pro
//! instance that needed the API's answer, an API call that breaks) are
//! logged as errors. tests/fixtures/ubuntu_advantage holds what 22.4's
//! handler does; the cases `ubuntu-advantage` and `ubuntu-advantage-auto`
//! under tests/fixtures/modules what it did in the Debian root.

use tracing::Level;

use crate::module::prelude::*;

#[cfg(test)]
mod tests;

pub struct UbuntuAdvantage;

/// A proxy URL of `ubuntu_advantage.config`: `type: [string, null]`,
/// `format: uri`.
const UA_PROXY: Ty = Ty::Strict(
    &Ty::Strict(&Ty::OneOf(&[Ty::Str, Ty::Null]), Rule::TypeList),
    Rule::Check(uri_format),
);

/// 22.4's schema of the section (for `cloudboot schema`); at boot the
/// module reads what it can, as 22.4 does, and says what it cannot use.
static UA_SCHEMA: Ty = Ty::Map(&[
    Field::opt("enable", Ty::List(&Ty::Str)),
    Field::opt("enable_beta", Ty::List(&Ty::Str)),
    // A secret: checked without quoting the value.
    Field::opt("token", Ty::Strict(&Ty::Any, Rule::Secret(&Ty::Str))),
    Field::opt(
        "features",
        Ty::Map(&[Field::opt("disable_auto_attach", Ty::Bool)]),
    ),
    Field::opt(
        "config",
        Ty::MapPart(&[
            Field::opt("http_proxy", UA_PROXY),
            Field::opt("https_proxy", UA_PROXY),
            Field::opt("global_apt_http_proxy", UA_PROXY),
            Field::opt("global_apt_https_proxy", UA_PROXY),
            Field::opt("ua_apt_http_proxy", UA_PROXY),
            Field::opt("ua_apt_https_proxy", UA_PROXY),
        ]),
    ),
]);

static INFO: ModuleInfo = ModuleInfo {
    name: "ubuntu_advantage",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &["ubuntu_advantage", "ubuntu-advantage"],
    keys: &["ubuntu_advantage", "ubuntu-advantage"],
    // `ubuntu-advantage` is read (and warned of) but, as in 22.4, not in
    // the schema.
    schema: &[Field::opt(
        "ubuntu_advantage",
        Ty::Strict(&Ty::Any, Rule::As(&UA_SCHEMA)),
    )],
    summary: "attach to Ubuntu Advantage (ua attach, config, enable; Pro auto-attach)",
};

/// 22.4's `KNOWN_UA_CONFIG_PROPS`.
const KNOWN_CONFIG: &[&str] = &[
    "http_proxy",
    "https_proxy",
    "global_apt_http_proxy",
    "global_apt_https_proxy",
    "ua_apt_http_proxy",
    "ua_apt_https_proxy",
];

/// 22.4's `ERROR_MSG_SHOULD_AUTO_ATTACH`.
const SHOULD_AUTO_ATTACH_FAILED: &str =
    "Unable to determine if this is an Ubuntu Pro instance. Fallback to normal UA attach.";

/// Where Ubuntu's ubuntu-advantage-tools puts uaclient, the Python package
/// 22.4 imports.
const DIST_PACKAGES: &str = "/usr/lib/python3/dist-packages";

/// What the probe's exit codes mean (chosen far from Python's own 1, an
/// exception such as a failed import).
const PRO: i32 = 10;
const NOT_PRO: i32 = 11;
const CANNOT_TELL: i32 = 12;
/// `full_auto_attach`'s `AlreadyAttachedError`, which 22.4 lets pass.
const ALREADY_ATTACHED: i32 = 13;

/// 22.4's `_should_auto_attach` call, its answer as an exit code; a
/// `UserFacingError` is logged on stderr as 22.4 logs it (debug).
const SHOULD_AUTO_ATTACH: &str = "import sys
from uaclient.api.exceptions import UserFacingError
from uaclient.api.u.pro.attach.auto.should_auto_attach.v1 import should_auto_attach
try:
    result = should_auto_attach()
except UserFacingError as ex:
    print('Error during `should_auto_attach`: %s' % ex, file=sys.stderr)
    sys.exit(12)
sys.exit(10 if result.should_auto_attach else 11)
";

/// 22.4's `_auto_attach` call: `enable` and `enable_beta` as JSON
/// arguments; an instance already attached exits 13 (with 22.4's warning
/// when services were asked for), another `UserFacingError` fails.
const FULL_AUTO_ATTACH: &str = "import json, sys
from uaclient.api.exceptions import AlreadyAttachedError, UserFacingError
from uaclient.api.u.pro.attach.auto.full_auto_attach.v1 import FullAutoAttachOptions, full_auto_attach
enable, enable_beta = json.loads(sys.argv[1]), json.loads(sys.argv[2])
try:
    full_auto_attach(options=FullAutoAttachOptions(enable=enable, enable_beta=enable_beta))
except AlreadyAttachedError:
    if enable_beta is not None or enable is not None:
        print('The instance is already attached to Pro. Leaving enabled services untouched. Ignoring config directives ubuntu_advantage: enable and enable_beta', file=sys.stderr)
    sys.exit(13)
except UserFacingError as ex:
    print('Error during `full_auto_attach`: %s' % ex.msg, file=sys.stderr)
    sys.exit(1)
";

/// 22.4's reading of `ua enable --format json`'s answer (`configure_ua`):
/// the command line after the script is `ua enable ... -- SERVICE...`, run
/// as 22.4 runs it (exit 0 and 1 are answers); the answer's errors other
/// than `service-already-enabled` (uaclient's `ALREADY_ENABLED`) are
/// reported with 22.4's lines on stderr, and any fails the script with
/// 22.4's message. Python 3.5's library only (Ubuntu 16.04's uaclient).
const ENABLE_ANSWER: &str = "import json, subprocess, sys
cmd = sys.argv[1:]
services = cmd[cmd.index('--') + 1:]
def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)
try:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    out = proc.communicate()[0].decode('utf-8', 'replace')
except OSError:
    fail('Error while enabling service(s): ' + ', '.join(services))
if proc.returncode not in (0, 1):
    fail('Error while enabling service(s): ' + ', '.join(services))
try:
    answer = json.loads(out)
except ValueError:
    fail('UA response was not json: %s' % out)
failures = []
for err in answer.get('errors', []):
    if err['message_code'] == 'service-already-enabled':
        print('Service `%s` already enabled.' % err['service'], file=sys.stderr)
        continue
    failures.append(err)
failed = []
for err in failures:
    service = err.get('service')
    if service is not None:
        failed.append(service)
        print('Failure enabling `%s`: %s' % (service, err['message']), file=sys.stderr)
    else:
        print('Failure of type `%s`: %s' % (err['type'], err['message']), file=sys.stderr)
if failures:
    fail('Failure enabling Ubuntu Advantage service(s): ' + ', '.join(failed))
";

impl Module for UbuntuAdvantage {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn distros(&self) -> &'static [&'static str] {
        &["ubuntu"]
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let mut section = None;
        if let Some(old) = ctx.cfg.get("ubuntu-advantage") {
            out.warn(
                "Deprecated configuration key \"ubuntu-advantage\" provided. Expected \
                 underscore delimited \"ubuntu_advantage\"; will attempt to continue.",
            );
            section = Some(old);
        }
        if let Some(new) = ctx.cfg.get("ubuntu_advantage") {
            section = Some(new);
        }
        let Some(section) = section.filter(|v| !v.is_null()) else {
            out.note(format!(
                "Skipping module named {}, no 'ubuntu_advantage' configuration found",
                ctx.name
            ));
            return out;
        };
        let Some(ua) = section.as_map() else {
            out.error(format!(
                "'ubuntu_advantage' should be a dict, not a {}",
                section.type_name()
            ));
            return out;
        };
        if ua.contains_key("commands") {
            out.error(
                "Deprecated configuration \"ubuntu-advantage: commands\" provided. \
                 Expected \"token\"",
            );
            return out;
        }
        let config = match config_commands(ua.get("config"), &mut out) {
            Ok(commands) => commands,
            Err(e) => {
                out.error(e);
                return out;
            }
        };
        let disable_auto_attach = match features(ua) {
            Ok(d) => d,
            Err(e) => {
                out.error(e);
                return out;
            }
        };
        let only_features = ua.iter().all(|(k, _)| k.as_str() == Some("features"));
        // Checked before anything runs: what `_attach` would fail on.
        let attach = match only_features {
            true => Attach {
                log: Vec::new(),
                commands: Ok(Vec::new()),
            },
            false => attach(ua),
        };
        if disable_auto_attach {
            if let Err(e) = &attach.commands {
                log_lines(&attach.log, &mut out);
                out.error(e);
                return out;
            }
        }

        // `maybe_install_ua_tools`.
        let installing = accounts::which(ctx.fs, "ua").is_none();
        if installing {
            match ctx.distro.install_packages(
                ctx.fs,
                &ctx.sources_mark(),
                &[PackageSpec::name("ubuntu-advantage-tools")],
            ) {
                Ok(effects) => out.effects.extend(effects),
                Err(e) => {
                    out.error(ConfigError::from(e));
                    return out;
                }
            }
        }
        out.effects.extend(config.into_iter().map(Effect::Run));
        // The package just installed brings uaclient with it.
        let missing = |module: &str| {
            (!installing)
                .then(|| import_error(ctx.fs, module))
                .flatten()
        };

        if disable_auto_attach {
            log_lines(&attach.log, &mut out);
            let Ok(commands) = attach.commands else {
                return out;
            };
            // 22.4 reads `ua enable`'s answer with uaclient's messages:
            // without them it runs `ua enable` and fails on the import.
            let unread = match commands.len() > 1 {
                true => missing("uaclient.messages"),
                false => None,
            };
            out.effects
                .extend(commands.into_iter().map(|cmd| match unread {
                    Some(_) => Effect::Run(without_reading_the_answer(cmd)),
                    None => Effect::Run(cmd),
                }));
            if let Some(e) = unread {
                out.error(e);
            }
            return out;
        }
        if let Some(e) = missing("uaclient.api.u.pro.attach.auto.should_auto_attach.v1") {
            out.error(e);
            return out;
        }
        out.effects
            .push(Effect::Probe(auto_attach_probe(ua, attach)));
        out
    }
}

/// The probe that asks uaclient whether this is a Pro instance, and what
/// follows each answer: `attach` is what `_attach` runs (or why it fails).
fn auto_attach_probe(ua: &Mapping, attach: Attach) -> Probe {
    let json = |k: &str| {
        ua.get(k)
            .map_or(serde_json::Value::Null, Value::to_json)
            .to_string()
    };
    let auto = Command::new([
        "python3".to_string(),
        "-c".into(),
        FULL_AUTO_ATTACH.into(),
        json("enable"),
        json("enable_beta"),
    ])
    .script_named("uaclient's full_auto_attach with enable and enable_beta")
    .ok_codes(&[ALREADY_ATTACHED]);
    let attach_branch = |when: When, meaning: &str, mut log: Vec<(Level, String)>| {
        log.extend(attach.log.iter().cloned());
        let effects = match &attach.commands {
            Ok(commands) => commands.iter().cloned().map(Effect::Run).collect(),
            Err(e) => {
                log.push((Level::ERROR, e.clone()));
                Vec::new()
            }
        };
        Branch {
            when,
            meaning: meaning.into(),
            log,
            effects,
            done: None,
        }
    };
    Probe {
        action: HostAction {
            what: "ask uaclient whether this is an Ubuntu Pro instance".into(),
            argv: vec!["python3".into(), "-c".into(), SHOULD_AUTO_ATTACH.into()],
        },
        // Most instances are not Pro; a plan shows the token's attach.
        assume: NOT_PRO,
        branches: vec![
            Branch {
                when: When::Exit(vec![PRO]),
                meaning: "an Ubuntu Pro instance: uaclient's full auto-attach".into(),
                log: Vec::new(),
                effects: vec![Effect::Run(auto)],
                done: None,
            },
            attach_branch(
                When::Exit(vec![NOT_PRO]),
                "not an Ubuntu Pro instance: ua attach",
                Vec::new(),
            ),
            attach_branch(
                When::Exit(vec![CANNOT_TELL]),
                "cannot tell whether it is an Ubuntu Pro instance: ua attach",
                vec![(Level::WARN, SHOULD_AUTO_ATTACH_FAILED.into())],
            ),
            Branch {
                when: When::Otherwise,
                meaning: "uaclient could not answer: nothing attached".into(),
                log: vec![(
                    Level::ERROR,
                    format!("uaclient's should_auto_attach: {PROBE_ERROR}"),
                )],
                effects: Vec::new(),
                done: None,
            },
        ],
        log: log_at!(),
    }
}

/// Lines 22.4 logs as it goes, logged where the module plans: warnings
/// kept with the notes, debug lines as notes.
fn log_lines(lines: &[(Level, String)], out: &mut ModuleOutput) {
    for (level, line) in lines {
        match *level {
            Level::WARN => out.warn(line.clone()),
            _ => out.note(line.clone()),
        }
    }
}

/// `set_ua_config`: the `ua config` commands, after 22.4's checks
/// (`supplemental_schema_validation`).
fn config_commands(config: Option<&Value>, out: &mut ModuleOutput) -> Result<Vec<Command>, String> {
    let Some(config) = config.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let Some(config) = config.as_map() else {
        return Err(format!(
            "ubuntu_advantage: config should be a dict, not a {}; skipping enabling config parameters",
            config.type_name()
        ));
    };
    let mut entries: Vec<(String, &Value)> =
        config.iter().map(|(k, v)| (k.python_str(), v)).collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut errors = Vec::new();
    for (key, value) in &entries {
        if !KNOWN_CONFIG.contains(&key.as_str()) {
            out.warn(format!(
                "Not validating unknown ubuntu_advantage.config.{key} property"
            ));
            continue;
        }
        if let Some(e) = url_problem(key, value) {
            errors.push(e);
        }
    }
    if !errors.is_empty() {
        return Err(format!(
            "Invalid ubuntu_advantage configuration:\n{}",
            errors.join("\n")
        ));
    }
    let mut commands = Vec::new();
    for (key, value) in entries {
        let cmd = Command::new(["ua", "config"]);
        let cmd = match value {
            Value::Null => {
                out.note(format!("Disabling UA config for {key}"));
                let mut cmd = cmd;
                cmd.argv.extend(["unset".to_string(), key]);
                cmd
            }
            Value::Str(v) => {
                out.note(format!("Enabling UA config {key}=REDACTED"));
                let v = match v.chars().any(char::is_whitespace) {
                    true => re_escape(v),
                    false => v.clone(),
                };
                let mut cmd = cmd;
                cmd.argv.push("set".into());
                cmd.secret_arg(format!("{key}={v}"))
            }
            // Only an unknown key (not validated) gets here: `re.search`'s
            // error.
            Value::Bytes(_) => {
                return Err("cannot use a string pattern on a bytes-like object".into())
            }
            other => {
                return Err(format!(
                    "expected string or bytes-like object, got '{}'",
                    other.type_name()
                ))
            }
        };
        // 22.4 runs every one and fails the module after them, before any
        // attach; here the first failure ends the module (the attach must
        // not run, and nothing but the end of the module can stop it).
        commands.push(cmd);
    }
    Ok(commands)
}

/// `urlparse(value)` and its scheme, as `supplemental_schema_validation`
/// checks them: the message for `key`, or none.
fn url_problem(key: &str, value: &Value) -> Option<String> {
    let scheme_error = || {
        Some(format!(
            "Expected URL scheme http/https for ua:config:{key}"
        ))
    };
    let url_error = || Some(format!("Expected a URL for ua:config:{key}"));
    match value {
        Value::Null => None,
        Value::Str(s) => match url_scheme(s) {
            Err(()) => url_error(),
            Ok(scheme) if scheme == "http" || scheme == "https" => None,
            Ok(_) => scheme_error(),
        },
        // bytes parse, but their scheme is bytes, never "http"; a false
        // value parses as ''.
        Value::Bytes(_) => scheme_error(),
        v if !v.truthy() => scheme_error(),
        // `.decode` of anything else: AttributeError.
        _ => url_error(),
    }
}

/// Python 3.11's `urlsplit` as far as the scheme: leading C0 controls and
/// blanks stripped, tabs and newlines removed, the scheme lowercased; an
/// unbalanced `[` or `]` in the netloc is its ValueError.
fn url_scheme(url: &str) -> Result<String, ()> {
    let url: String = url
        .trim_start_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
        .collect();
    let mut scheme = String::new();
    let mut rest = url.as_str();
    if let Some(i) = url.find(':') {
        let head = &url[..i];
        let starts_alpha = head.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
        if i > 0
            && starts_alpha
            && head
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            scheme = head.to_ascii_lowercase();
            rest = &url[i + 1..];
        }
    }
    if let Some(after) = rest.strip_prefix("//") {
        let netloc = after.split(['/', '?', '#']).next().unwrap_or("");
        if netloc.contains('[') != netloc.contains(']') {
            return Err(());
        }
    }
    Ok(scheme)
}

/// Python's `re.escape` (3.7+): its special characters get a backslash.
fn re_escape(s: &str) -> String {
    let mut escaped = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if "()[]{}?*+-|^$\\.&~# \t\n\r\x0b\x0c".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// `validate_schema_features`, then whether auto-attach is disabled.
fn features(ua: &Mapping) -> Result<bool, String> {
    let Some(features) = ua.get("features") else {
        return Ok(false);
    };
    let Some(features) = features.as_map() else {
        return Err(format!(
            "'ubuntu_advantage.features' should be a dict, not a {}",
            features.type_name()
        ));
    };
    match features.get("disable_auto_attach") {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(format!(
            "'ubuntu_advantage.features.disable_auto_attach' should be a bool, not a {}",
            other.type_name()
        )),
    }
}

/// What `_attach` logs and runs (or fails with).
struct Attach {
    log: Vec<(Level, String)>,
    commands: Result<Vec<Command>, String>,
}

/// `_attach` and `configure_ua`: `ua attach` and, with services to
/// enable, `ua enable`; or what 22.4 fails with.
fn attach(ua: &Mapping) -> Attach {
    let mut log = Vec::new();
    let commands = attach_commands(ua, &mut log);
    Attach { log, commands }
}

fn attach_commands(ua: &Mapping, log: &mut Vec<(Level, String)>) -> Result<Vec<Command>, String> {
    let token = match ua.get("token") {
        Some(t) if t.truthy() => t,
        _ => return Err("`ubuntu-advantage.token` required in non-Pro Ubuntu instances.".into()),
    };
    if let Some(beta) = ua.get("enable_beta").filter(|v| v.truthy()) {
        log.push((
            Level::DEBUG,
            format!(
                "Ignoring `ubuntu-advantage.enable_beta` services in UA attach: {}",
                py_join(beta)?
            ),
        ));
    }
    let enable: Vec<&Value> = match ua.get("enable") {
        None | Some(Value::Null) => Vec::new(),
        Some(one @ Value::Str(_)) => {
            log.push((
                Level::WARN,
                "ubuntu_advantage: enable should be a list, not a string; treating as a single enable"
                    .into(),
            ));
            vec![one]
        }
        Some(Value::Seq(list)) => list.iter().collect(),
        Some(other) => {
            log.push((
                Level::WARN,
                format!(
                    "ubuntu_advantage: enable should be a list, not a {}; skipping enabling services",
                    other.type_name()
                ),
            ));
            Vec::new()
        }
    };
    let Value::Str(token) = token else {
        // What `subp` (Popen) says of an argument that is no text.
        return Err(format!(
            "expected str, bytes or os.PathLike object, not {}",
            token.type_name()
        ));
    };
    let mut attach = Command::new(["ua", "attach"]);
    if !enable.is_empty() {
        attach.argv.push("--no-auto-enable".into());
    }
    log.push((
        Level::DEBUG,
        format!(
            "Attaching to Ubuntu Advantage. {} REDACTED",
            attach.argv.join(" ")
        ),
    ));
    // Exit 2: already attached, which 22.4 lets pass.
    let attach = attach.secret_arg(token.clone()).ok_codes(&[2]);
    if enable.is_empty() {
        return Ok(vec![attach]);
    }
    let mut services = Vec::new();
    for s in enable {
        match s {
            Value::Str(s) => services.push(s.clone()),
            other => {
                return Err(format!(
                    "expected str, bytes or os.PathLike object, not {}",
                    other.type_name()
                ))
            }
        }
    }
    // Exit 1 (some service not enabled) is an answer, read by the script.
    let enable = Command::new(
        [
            "python3",
            "-c",
            ENABLE_ANSWER,
            "ua",
            "enable",
            "--assume-yes",
            "--format",
            "json",
            "--",
        ]
        .into_iter()
        .map(str::to_string)
        .chain(services),
    )
    .script_named("read ua enable's JSON answer as cloud-init 22.4 does");
    Ok(vec![attach, enable])
}

/// `ua enable` itself from the command that reads its answer (exit 1, a
/// service not enabled, no failure); other commands as they are.
fn without_reading_the_answer(cmd: Command) -> Command {
    match cmd.argv.get(2).map(String::as_str) {
        Some(ENABLE_ANSWER) => Command::new(cmd.argv[3..].iter().cloned()).ok_codes(&[1]),
        _ => cmd,
    }
}

/// `", ".join(value)` of a list of strings or a string (its characters).
fn py_join(v: &Value) -> Result<String, String> {
    match v {
        Value::Str(s) => Ok(s.chars().map(String::from).collect::<Vec<_>>().join(", ")),
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Str(s) => Ok(s.clone()),
                other => Err(format!(
                    "sequence item {i}: expected str instance, {} found",
                    other.type_name()
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|parts| parts.join(", ")),
        Value::Map(m) => py_join(&Value::Seq(m.iter().map(|(k, _)| k.clone()).collect())),
        other => Err(format!(
            "can only join an iterable, not {}",
            other.type_name()
        )),
    }
}

/// Python's `ModuleNotFoundError` message for importing `module` (dotted)
/// from the root's dist-packages, or none when every part is there (a
/// package directory or a `.py` file).
fn import_error(fs: &dyn FsView, module: &str) -> Option<String> {
    let mut path = std::path::PathBuf::from(DIST_PACKAGES);
    let mut dotted = String::new();
    for part in module.split('.') {
        if !dotted.is_empty() {
            dotted.push('.');
        }
        dotted.push_str(part);
        let dir = path.join(part);
        if fs.is_dir(&dir) {
            path = dir;
            continue;
        }
        if fs.exists(&path.join(format!("{part}.py"))) {
            return None;
        }
        return Some(format!("No module named '{dotted}'"));
    }
    None
}
