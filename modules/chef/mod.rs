//! chef (`cc_chef`): configures, installs and runs chef-client, every
//! boot, when `chef` is set, as 22.4 does, step by step:
//!
//! 1. `directories` (default /etc/chef, /var/log/chef, /var/lib/chef,
//!    /var/cache/chef, /var/backups/chef, /var/run/chef), and /etc/chef
//!    always, made where missing (0755; an existing one is left as it is).
//! 2. `validation_cert` written to `validation_key` (default
//!    /etc/chef/validation.pem), unless it is `system` (then a missing key
//!    file is warned of).
//! 3. `/etc/chef/client.rb` from the `chef_client.rb` template
//!    (`templates_dir`, else 22.4's Debian template built in), with 22.4's
//!    `CHEF_RB_TPL_*` parameters: its defaults, the config's template keys
//!    (`str()` of each, `show_time` as a boolean, null kept null), then
//!    `node_name` (default the instance id), `environment` (default
//!    `_default`), and the required `server_url` and `validation_name`; the
//!    directory of every path parameter made first (`ensure_dirs`: 0755,
//!    an existing one set to 0755 too).
//! 4. `firstboot_path` (default /etc/chef/firstboot.json; empty: none):
//!    `run_list` and `initial_attributes`' keys, as `json.dumps` writes them.
//! 5. Unless `/usr/bin/chef-client` is there (or `force_install`), install
//!    by `install_type`: `packages` (`chef`, the default), `gems` (ruby
//!    packages at `ruby_version`, default 1.8, the `gem` and `ruby` links,
//!    `gem install chef`; `exec` defaults to true), `omnibus` (fetch
//!    `omnibus_url`, `omnibus_url_retries` + 1 tries, run it with `-v
//!    omnibus_version`); another type is warned of and turns `exec` off.
//! 6. `exec`: `/usr/bin/chef-client` with `exec_arguments` (a list, or one
//!    string as one argument; default `-d -i 1800 -s 20`), then
//!    /etc/chef/validation.pem removed when `delete_validation_post_exec`.
//!
//! Where cloudboot differs: without `server_url` or `validation_name` the
//! module fails before it makes or writes anything (22.4 fails on them
//! after the directories and the key). The validation key is a secret, written 0600
//! (22.4: 0644) and never shown in plans or logs. Where the root has no
//! template, 22.4's own (as Debian ships it) is used rather than skipping
//! client.rb. What the package or gem installs is not known when the
//! module plans: `/usr/bin/gem` and `/usr/bin/ruby` are linked when the
//! root lacks them before the install. The omnibus script is fetched to
//! `/var/tmp/cloud-init/chef-omnibus-install.<run>` and removed after it
//! ran. `omnibus_url_retries` absent gives one try, as 22.4's
//! `get_cfg_option_int` default of 0 does (its `OMNIBUS_URL_RETRIES` of 5
//! is never reached).

use std::path::Path;

use serde_json::{Map, Value as J};

use crate::module::prelude::py::cfg::option_str as opt_str;
use crate::module::prelude::*;
use crate::modules::shared::fetch_script;

pub struct Chef;

const ANY_STR: Ty = Ty::Strict(&Ty::Any, Rule::As(&Ty::Str));
const ANY_BOOL: Ty = Ty::Strict(&Ty::Any, Rule::As(&Ty::Bool));

static CHEF_KEYS: &[Field] = &[
    Field::opt(
        "directories",
        Ty::Strict(
            &Ty::Any,
            Rule::As(&Ty::Strict(&Ty::List(&Ty::Str), Rule::MinItems(1))),
        ),
    ),
    // A key, but `schema` quotes a value of the wrong type as 22.4 does:
    // only a string is a PEM key (and a string is never quoted).
    Field::opt("validation_cert", ANY_STR),
    Field::opt("validation_key", ANY_STR),
    Field::opt("firstboot_path", ANY_STR),
    Field::opt("exec", ANY_BOOL),
    Field::opt("client_key", ANY_STR),
    Field::opt("encrypted_data_bag_secret", ANY_STR),
    Field::opt("environment", ANY_STR),
    Field::opt("file_backup_path", ANY_STR),
    Field::opt("file_cache_path", ANY_STR),
    Field::opt("json_attribs", ANY_STR),
    Field::opt("log_level", ANY_STR),
    Field::opt("log_location", ANY_STR),
    Field::opt("node_name", ANY_STR),
    Field::opt("omnibus_url", ANY_STR),
    Field::opt(
        "omnibus_url_retries",
        Ty::Strict(&Ty::Any, Rule::As(&Ty::Int)),
    ),
    Field::opt("omnibus_version", ANY_STR),
    Field::opt("pid_file", ANY_STR),
    Field::opt("server_url", ANY_STR),
    Field::opt("show_time", ANY_BOOL),
    Field::opt("ssl_verify_mode", ANY_STR),
    Field::opt("validation_name", ANY_STR),
    Field::opt("force_install", ANY_BOOL),
    // 22.4's schema gives it `items: {type: string}` too, which jsonschema
    // applies to a list.
    Field::opt(
        "initial_attributes",
        Ty::Strict(
            &Ty::Strict(&Ty::Any, Rule::As(&Ty::AnyMap)),
            Rule::Items(&Ty::Str),
        ),
    ),
    Field::opt(
        "install_type",
        Ty::Strict(
            &Ty::Any,
            Rule::As(&Ty::Strict(
                &Ty::Str,
                Rule::OneOfStrs(&["packages", "gems", "omnibus"]),
            )),
        ),
    ),
    Field::opt(
        "run_list",
        Ty::Strict(&Ty::Any, Rule::As(&Ty::List(&Ty::Str))),
    ),
    Field::opt("chef_license", ANY_STR),
];

static INFO: ModuleInfo = ModuleInfo {
    name: "chef",
    aliases: &[],
    frequency: Frequency::Always,
    activate_by: &["chef"],
    keys: &["chef"],
    schema: &[Field::opt(
        "chef",
        Ty::Strict(&Ty::Map(CHEF_KEYS), Rule::MinProperties(1)),
    )],
    summary:
        "configure chef-client (client.rb, firstboot.json, validation key), install and run it",
};

/// 22.4's `CHEF_DIRS`.
const CHEF_DIRS: &[&str] = &[
    "/etc/chef",
    "/var/log/chef",
    "/var/lib/chef",
    "/var/cache/chef",
    "/var/backups/chef",
    "/var/run/chef",
];
const REQUIRED_CHEF_DIRS: &[&str] = &["/etc/chef"];
const OMNIBUS_URL: &str = "https://www.chef.io/chef/install.sh";
const VALIDATION_PEM_PATH: &str = "/etc/chef/validation.pem";
const FB_PATH: &str = "/etc/chef/firstboot.json";
const RB_PATH: &str = "/etc/chef/client.rb";
const EXEC_PATH: &str = "/usr/bin/chef-client";
const EXEC_DEF_ARGS: &[&str] = &["-d", "-i", "1800", "-s", "20"];
const RUBY_VERSION_DEFAULT: &str = "1.8";
/// 22.4's `chef_client.rb.tmpl` as Debian ships it, for a root without one.
const BUILTIN_TEMPLATE: &str = include_str!("chef_client.rb.tmpl");

/// `CHEF_RB_TPL_DEFAULTS`, in 22.4's order.
fn tpl_defaults() -> Vec<(&'static str, J)> {
    let s = |v: &str| J::String(v.into());
    vec![
        ("ssl_verify_mode", s(":verify_none")),
        ("log_level", s(":info")),
        ("log_location", s("/var/log/chef/client.log")),
        ("validation_key", s(VALIDATION_PEM_PATH)),
        ("validation_cert", J::Null),
        ("client_key", s("/etc/chef/client.pem")),
        ("json_attribs", s(FB_PATH)),
        ("file_cache_path", s("/var/cache/chef")),
        ("file_backup_path", s("/var/backups/chef")),
        ("pid_file", s("/var/run/chef/client.pid")),
        ("show_time", J::Bool(true)),
        ("encrypted_data_bag_secret", J::Null),
    ]
}
const TPL_BOOL_KEYS: &[&str] = &["show_time"];
const TPL_PATH_KEYS: &[&str] = &[
    "log_location",
    "validation_key",
    "client_key",
    "file_cache_path",
    "json_attribs",
    "pid_file",
    "encrypted_data_bag_secret",
];
const TPL_OTHER_KEYS: &[&str] = &[
    "server_url",
    "node_name",
    "environment",
    "validation_name",
    "chef_license",
];

impl Module for Chef {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let Some(cfg) = ctx.cfg.get("chef") else {
            out.note(format!(
                "Skipping module named {}, no 'chef' key in configuration",
                ctx.name
            ));
            return out;
        };
        if let Err(e) = plan(ctx, cfg, &mut out) {
            out.error(e);
        }
        out
    }
}

/// `mkdir` where missing (`util.ensure_dir` without a mode), once per path.
fn ensure_dir(ctx: &Context, dir: &str, made: &mut Vec<String>, out: &mut ModuleOutput) {
    if made.iter().any(|d| d == dir) || ctx.fs.is_dir(Path::new(dir)) {
        return;
    }
    made.push(dir.to_string());
    out.effects.push(Effect::Mkdir {
        path: dir.into(),
        mode: 0o755,
    });
}

fn plan(ctx: &Context, cfg: &Value, out: &mut ModuleOutput) -> Result<(), ConfigError> {
    if !matches!(cfg, Value::Map(_)) {
        return Err(ConfigError::new(
            "chef",
            format!("chef: expected a mapping, not {}", cfg.type_name()),
        ));
    }
    // The two keys client.rb needs, checked before anything is made (22.4
    // makes the directories and writes the key, then fails on the missing
    // key: cloudboot leaves nothing half done).
    for key in ["server_url", "validation_name"] {
        if cfg.get(key).is_none() {
            return Err(ConfigError::new(
                format!("chef.{key}"),
                format!("chef: {key} is required (22.4: KeyError: '{key}')"),
            ));
        }
    }
    // The validation key: its path matters only with a cert.
    let vcert = cfg.get("validation_cert").filter(|v| v.truthy());
    if let Some(other) = vcert.filter(|v| !matches!(v, Value::Str(_))) {
        return Err(ConfigError::new(
            "chef.validation_cert",
            format!(
                "chef: validation_cert must be a string, not {}",
                other.type_name()
            ),
        ));
    }
    let vkey_path = match cfg.get("validation_key") {
        None => VALIDATION_PEM_PATH.to_string(),
        Some(Value::Str(s)) => s.clone(),
        Some(other) if vcert.is_some() => {
            return Err(ConfigError::new(
                "chef.validation_key",
                format!(
                    "chef: validation_key must be a path, not {}",
                    other.type_name()
                ),
            ))
        }
        Some(_) => String::new(),
    };
    let mut made = Vec::new();
    let mut dirs = py::cfg::option_list(cfg, "directories", &[]);
    if dirs.is_empty() {
        dirs = CHEF_DIRS.iter().map(|d| d.to_string()).collect();
    }
    for d in dirs
        .iter()
        .map(String::as_str)
        .chain(REQUIRED_CHEF_DIRS.iter().copied())
    {
        ensure_dir(ctx, d, &mut made, out);
    }

    let key_file = ctx
        .fs
        .stat(Path::new(&vkey_path))
        .is_some_and(|s| s.kind == FileKind::File);
    match vcert.and_then(Value::as_str) {
        Some("system") if !key_file => out.warn(format!(
            "chef validation_cert provided as 'system', but validation_key path '{vkey_path}' does not exist."
        )),
        // `system`: the key file is the image's own.
        Some("system") | None => {}
        Some(key) => out.effects.push(Effect::write(
            vkey_path.as_str(),
            Data::secret(key.as_bytes()),
            0o600,
        )),
    }

    // client.rb.
    let tpl_path = ctx.distro.template_path("chef_client.rb");
    let template = match ctx.fs.stat(&tpl_path) {
        Some(st) if st.kind == FileKind::File => ctx
            .fs
            .read_string(&tpl_path)
            .unwrap_or_else(|| BUILTIN_TEMPLATE.to_string()),
        _ => {
            out.note(format!(
                "No template found at {}: 22.4's chef_client.rb template is used",
                tpl_path.display()
            ));
            BUILTIN_TEMPLATE.to_string()
        }
    };
    let params = template_params(ctx.iid(), cfg, out)?;
    // `util.ensure_dirs(param_paths)`: mode 0755, set on an existing
    // directory too.
    let mut param_dirs: Vec<String> = Vec::new();
    for key in TPL_PATH_KEYS {
        if let Some(J::String(p)) = params.get(*key) {
            if !p.is_empty() {
                let parent = Path::new(p).parent().map(|d| d.display().to_string());
                match parent.filter(|d| !d.is_empty()) {
                    // One just made is 0755 already.
                    Some(d) if !param_dirs.contains(&d) && !made.contains(&d) => {
                        out.effects.push(Effect::Mkdir {
                            path: d.as_str().into(),
                            mode: 0o755,
                        });
                        param_dirs.push(d);
                    }
                    Some(_) => {}
                    None => {
                        return Err(ConfigError::new(
                            format!("chef.{key}"),
                            format!("[Errno 2] No such file or directory: '' (chef: {key} '{p}' is not a path in a directory)"),
                        ))
                    }
                }
            }
        }
    }
    let rendered = render(&template, &params).map_err(|e| ConfigError::new("chef", e))?;
    out.effects
        .push(Effect::write(RB_PATH, Data::public(rendered), 0o644));

    // firstboot.json.
    let fb = opt_str(cfg, "firstboot_path").unwrap_or_else(|| FB_PATH.into());
    if fb.is_empty() {
        out.note("First boot path empty, not writing first boot json file");
    } else {
        let mut parts: Vec<(String, &Value)> = Vec::new();
        if let Some(rl) = cfg.get("run_list") {
            parts.push(("run_list".into(), rl));
        }
        if let Some(attrs) = cfg.get("initial_attributes") {
            let Some(m) = attrs.as_map() else {
                return Err(ConfigError::new(
                    "chef.initial_attributes",
                    format!(
                        "chef: initial_attributes must be a mapping, not {}",
                        attrs.type_name()
                    ),
                ));
            };
            for (k, v) in m.iter() {
                let k = k.python_str_any();
                match parts.iter_mut().find(|(n, _)| *n == k) {
                    Some(slot) => slot.1 = v,
                    None => parts.push((k, v)),
                }
            }
        }
        let mut text = String::from("{");
        for (i, (k, v)) in parts.iter().enumerate() {
            if i > 0 {
                text.push_str(", ");
            }
            text.push_str(&py::json::dumps(&J::String(k.clone()), 0));
            text.push_str(": ");
            text.push_str(&json_dumps(v));
        }
        text.push('}');
        out.effects
            .push(Effect::write(fb.as_str(), Data::public(text), 0o644));
    }

    // Install, then run.
    let force = cfg.get_bool("force_install", false);
    let installed = ctx.fs.is_executable_file(Path::new(EXEC_PATH));
    let run = if !installed || force {
        install(ctx, cfg, out)?
    } else {
        cfg.get_bool("exec", false)
    };
    if run {
        let mut argv = vec![EXEC_PATH.to_string()];
        match cfg.get("exec_arguments") {
            None => argv.extend(EXEC_DEF_ARGS.iter().map(|s| s.to_string())),
            Some(Value::Seq(items)) => argv.extend(items.iter().map(Value::python_str_any)),
            Some(Value::Str(s)) => argv.push(s.clone()),
            Some(other) => {
                out.warn(format!(
                    "Unknown type <class '{}'> provided for chef 'exec_arguments' expected list, tuple, or string",
                    other.type_name()
                ));
                argv.extend(EXEC_DEF_ARGS.iter().map(|s| s.to_string()));
            }
        }
        out.effects.push(Effect::Run(Command::new(argv)));
        if cfg.get_bool("delete_validation_post_exec", false) {
            out.effects.push(Effect::Remove {
                path: VALIDATION_PEM_PATH.into(),
            });
        }
    }
    Ok(())
}

/// `get_template_params`: the template's variables, as JSON values.
fn template_params(
    iid: &str,
    cfg: &Value,
    out: &mut ModuleOutput,
) -> Result<Map<String, J>, ConfigError> {
    let mut params: Map<String, J> = tpl_defaults()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let known = |k: &str| {
        tpl_defaults().iter().any(|(d, _)| *d == k)
            || TPL_BOOL_KEYS.contains(&k)
            || TPL_PATH_KEYS.contains(&k)
            || TPL_OTHER_KEYS.contains(&k)
    };
    if let Some(m) = cfg.as_map() {
        for (k, v) in m.iter() {
            let k = k.python_str_any();
            if !known(&k) {
                out.note(format!("Skipping unknown chef template key '{k}'"));
                continue;
            }
            let value = if v.is_null() {
                J::Null
            } else if TPL_BOOL_KEYS.contains(&k.as_str()) {
                J::Bool(v.to_bool())
            } else {
                J::String(v.python_str_any())
            };
            params.insert(k, value);
        }
    }
    let required = |key: &str| {
        cfg.get(key).map(Value::to_json).ok_or_else(|| {
            ConfigError::new(
                format!("chef.{key}"),
                format!("chef: {key} is required (22.4: KeyError: '{key}')"),
            )
        })
    };
    params.insert(
        "generated_by".into(),
        J::String(py::header::make_header("created")),
    );
    params.insert(
        "node_name".into(),
        J::String(opt_str(cfg, "node_name").unwrap_or_else(|| iid.to_string())),
    );
    params.insert(
        "environment".into(),
        J::String(opt_str(cfg, "environment").unwrap_or_else(|| "_default".into())),
    );
    params.insert("server_url".into(), required("server_url")?);
    params.insert("validation_name".into(), required("validation_name")?);
    Ok(params)
}

/// `templater.render_to_file`'s text: the template's renderer, then
/// jinja with cloud-init's settings (undefined names are false in `if`).
fn render(template: &str, params: &Map<String, J>) -> Result<String, String> {
    let (kind, body, _) = templater::detect(template).map_err(|e| e.to_string())?;
    match kind {
        templater::Kind::Jinja => jinja::render(body, &J::Object(params.clone()))
            .map(|(text, _)| text)
            .map_err(|e| e.to_string()),
        templater::Kind::Basic => templater::basic_render(body, |name| match params.get(name) {
            Some(J::String(s)) => Ok(s.clone()),
            Some(J::Null) => Ok("None".to_string()),
            Some(J::Bool(b)) => Ok(if *b { "True" } else { "False" }.to_string()),
            Some(other) => Ok(other.to_string()),
            None => Err(format!("'{name}'")),
        }),
    }
}

/// `json.dumps(value)`: one line, `", "` and `": "`, keys in their order.
fn json_dumps(v: &Value) -> String {
    match v {
        Value::Seq(items) => format!(
            "[{}]",
            items.iter().map(json_dumps).collect::<Vec<_>>().join(", ")
        ),
        Value::Map(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!(
                    "{}: {}",
                    py::json::dumps(&J::String(k.python_str_any()), 0),
                    json_dumps(v)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => py::json::dumps(&other.to_json(), 0),
    }
}

/// `install_chef`: whether chef-client runs afterwards.
fn install(ctx: &Context, cfg: &Value, out: &mut ModuleOutput) -> Result<bool, ConfigError> {
    let install_type = opt_str(cfg, "install_type").unwrap_or_else(|| "packages".into());
    let mut run = cfg.get_bool("exec", false);
    let packages = |names: Vec<String>, out: &mut ModuleOutput| -> Result<(), ConfigError> {
        let specs: Vec<PackageSpec> = names.into_iter().map(PackageSpec::name).collect();
        let effects = ctx
            .distro
            .install_packages(ctx.fs, &ctx.sources_mark(), &specs)
            .map_err(ConfigError::from)?;
        out.effects.extend(effects);
        Ok(())
    };
    match install_type.as_str() {
        "gems" => {
            let version = opt_str(cfg, "version");
            let ruby = opt_str(cfg, "ruby_version").unwrap_or_else(|| RUBY_VERSION_DEFAULT.into());
            let mut pkgs = vec![format!("ruby{ruby}"), format!("ruby{ruby}-dev")];
            if ruby == "1.8" {
                pkgs.extend(["libopenssl-ruby1.8".to_string(), "rubygems1.8".into()]);
            }
            packages(pkgs, out)?;
            for tool in ["gem", "ruby"] {
                let link = format!("/usr/bin/{tool}");
                if !ctx.fs.exists(Path::new(&link)) {
                    out.effects.push(Effect::Symlink {
                        path: link.into(),
                        target: format!("/usr/bin/{tool}{ruby}").into(),
                    });
                }
            }
            let mut argv = vec!["/usr/bin/gem".to_string(), "install".into(), "chef".into()];
            if let Some(v) = version.filter(|v| !v.is_empty()) {
                argv.push(format!("-v {v}"));
            }
            argv.extend(
                ["--no-ri", "--no-rdoc", "--bindir", "/usr/bin", "-q"]
                    .iter()
                    .map(|s| s.to_string()),
            );
            out.effects.push(Effect::Run(Command::new(argv)));
            run = cfg.get_bool("exec", true);
        }
        "packages" => packages(vec!["chef".into()], out)?,
        "omnibus" => {
            let url = opt_str(cfg, "omnibus_url").unwrap_or_else(|| OMNIBUS_URL.into());
            let retries = match cfg.get("omnibus_url_retries") {
                None => 0,
                Some(v) => py::int::parse(&v.python_str_any()).ok_or_else(|| {
                    ConfigError::new(
                        "chef.omnibus_url_retries",
                        format!(
                            "invalid literal for int() with base 10: {}",
                            python_str_repr(&v.python_str_any())
                        ),
                    )
                })?,
            };
            let tries = (retries.saturating_add(1)).clamp(1, 1000) as u32;
            let mut args = Vec::new();
            if let Some(v) = opt_str(cfg, "omnibus_version") {
                args.extend(["-v".to_string(), v]);
            }
            out.effects.extend(fetch_script::fetch_and_run(
                ctx,
                &url,
                tries,
                "chef-omnibus-install",
                args,
            ));
        }
        other => {
            out.warn(format!("Unknown chef install type '{other}'"));
            run = false;
        }
    }
    Ok(run)
}

#[cfg(test)]
mod tests;
