//! ansible (`cc_ansible`): installs ansible and runs `ansible-pull`, the
//! galaxy actions and a controller's playbooks, once per instance, on every
//! distro, when `ansible` is set (and not empty). As 22.4 does:
//!
//! - the config is checked first (`validate_config`): `install_method` and
//!   `package_name` set, `pull.url` and `pull.playbook_name` when `pull` is
//!   set, `setup_controller` with `repositories` or `run_ansible`;
//! - `install_method: distro`: the distro's package manager installs
//!   `package_name` unless an `ansible` program is on cloud-init's `PATH`
//!   in the root (`which("ansible")`, looked up when the module plans);
//!   afterwards `ansible` must be there ("command: ansible is not
//!   installed");
//! - `install_method: pip`: `/usr/bin/python3 -c 'import site;
//!   print(site.getuserbase())'` (22.4 asks it to extend `PATH`; see below),
//!   then, unless `python3 -m pip list` mentions `ansible`, `pip install
//!   [--user] --upgrade pip` and `pip install [--user] <package_name>`;
//!   afterwards `pip list` must mention `ansible`;
//! - with `install_method: pip` (only there: 22.4's distro installer
//!   ignores the key), every command runs as `run_user` when it is set, the way
//!   `distro.do_as` does: `su - <user> -c "[cd <dir> && ]env PATH=$PATH
//!   <words joined by spaces>"`; else as it is, with `HOME=/root` (22.4's
//!   default when cloud-init has no `HOME`) and, once `ansible_config` is
//!   read, `ansible_config=<value>` in the environment (22.4's variable
//!   name, lower case, which ansible itself does not read);
//! - `galaxy.actions`: each command as it is (a warning when there are
//!   none);
//! - `pull`: `ansible-pull --version`, whose first line's first run of
//!   digits and dots is the version (a warning when there is none); with a
//!   true `diff` and a version below 2.7.0 (compared as 22.4's `Version`
//!   tuple, `2.7` being below `2.7.0`) the module fails; then
//!   `ansible-pull --<key>=<value>... <playbook_name>`, the keys in
//!   cloud-config.txt's order with `_` as `-`, `true` as a bare `--<key>`,
//!   `false` left out;
//! - `setup_controller`: `git clone <source> <path>` for each repository,
//!   then for each `run_ansible` entry `ansible-playbook <playbook_name>
//!   --<key>=<value>...` (`true` written `True` here, as 22.4 does) in
//!   `playbook_dir`.
//!
//! The checks whose answers only the running root knows (`pip list`, the
//! version) run as small `sh` scripts around the very command lines 22.4
//! runs, so those lines are what the programs see. Where cloudboot differs:
//! the warnings and errors those scripts report ("Cannot parse ansible
//! version", the `--diff` error, "command: ansible is not installed") are
//! in the command's output (cloud-init-output.log and the module's error),
//! not cloud-init.log; the user base 22.4 reads is not added to `PATH`
//! (under `su -` the login shell sets `PATH` anyway, and without
//! `run_user` 22.4's quoting makes Python print nothing, so 22.4 adds
//! `/bin/`); `python3-pip` is not bootstrapped (22.4 only reaches that
//! when `pip list` works but cloud-init's own Python cannot import pip).

use crate::module::prelude::*;

#[cfg(test)]
mod tests;

pub struct Ansible;

/// A number of at least 0 (`timeout`, `forks`, ...).
const NON_NEGATIVE: Ty = Ty::Strict(&Ty::Number, Rule::Minimum(0));

/// `ansible.setup_controller.run_ansible` entries (other keys allowed).
static ANSIBLE_RUN: &[Field] = &[
    Field::opt("playbook_name", Ty::Str),
    Field::opt("playbook_dir", Ty::Str),
    Field::opt("become_password_file", Ty::Str),
    Field::opt("connection_password_file", Ty::Str),
    Field::opt("list_hosts", Ty::Bool),
    Field::opt("syntax_check", Ty::Bool),
    Field::opt("timeout", NON_NEGATIVE),
    Field::opt("vault_id", Ty::Str),
    Field::opt("vault_password_file", Ty::Str),
    Field::opt("background", NON_NEGATIVE),
    Field::opt("check", Ty::Bool),
    Field::opt("diff", Ty::Bool),
    Field::opt("module_path", Ty::Str),
    Field::opt("poll", NON_NEGATIVE),
    Field::opt("args", Ty::Str),
    Field::opt("extra_vars", Ty::Str),
    Field::opt("forks", NON_NEGATIVE),
    Field::opt("inventory", Ty::Str),
    Field::opt("scp_extra_args", Ty::Str),
    Field::opt("sftp_extra_args", Ty::Str),
    Field::opt("private_key", Ty::Str),
    Field::opt("connection", Ty::Str),
    Field::opt("module_name", Ty::Str),
    Field::opt("sleep", Ty::Str),
    Field::opt("tags", Ty::Str),
    Field::opt("skip_tags", Ty::Str),
];

/// `ansible.pull`.
static ANSIBLE_PULL: &[Field] = &[
    Field::req("url", Ty::Str),
    Field::req("playbook_name", Ty::Str),
    Field::opt("accept_host_key", Ty::Bool),
    Field::opt("clean", Ty::Bool),
    Field::opt("full", Ty::Bool),
    Field::opt("diff", Ty::Bool),
    Field::opt("ssh_common_args", Ty::Str),
    Field::opt("scp_extra_args", Ty::Str),
    Field::opt("sftp_extra_args", Ty::Str),
    Field::opt("private_key", Ty::Str),
    Field::opt("checkout", Ty::Str),
    Field::opt("module_path", Ty::Str),
    Field::opt("timeout", Ty::Str),
    Field::opt("connection", Ty::Str),
    Field::opt("vault_id", Ty::Str),
    Field::opt("vault_password_file", Ty::Str),
    Field::opt("module_name", Ty::Str),
    Field::opt("sleep", Ty::Str),
    Field::opt("tags", Ty::Str),
    Field::opt("skip_tags", Ty::Str),
];

static INFO: ModuleInfo = ModuleInfo {
    name: "ansible",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &["ansible"],
    keys: &["ansible"],
    // 22.4's schema-cloud-config-v1.json, `cc_ansible`.
    schema: &[Field::opt(
        "ansible",
        Ty::Map(&[
            Field::opt(
                "install_method",
                Ty::Strict(&Ty::Str, Rule::OneOfStrs(&["distro", "pip"])),
            ),
            Field::opt("run_user", Ty::Str),
            Field::opt("ansible_config", Ty::Str),
            Field::opt(
                "setup_controller",
                Ty::Map(&[
                    Field::opt(
                        "repositories",
                        Ty::List(&Ty::Map(&[
                            Field::req("path", Ty::Str),
                            Field::req("source", Ty::Str),
                        ])),
                    ),
                    Field::opt("run_ansible", Ty::List(&Ty::MapPart(ANSIBLE_RUN))),
                ]),
            ),
            Field::opt(
                "galaxy",
                Ty::Map(&[Field::req("actions", Ty::List(&Ty::List(&Ty::Str)))]),
            ),
            Field::opt("package_name", Ty::Str),
            Field::opt("pull", Ty::Map(ANSIBLE_PULL)),
        ]),
    )],
    summary:
        "install ansible (pip or distro), run ansible-pull, galaxy actions and controller playbooks",
};

/// `sys.executable` of cloud-init on the distros it ships on.
const PYTHON: &str = "/usr/bin/python3";

impl Module for Ansible {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let cfg = match ctx.cfg.get("ansible") {
            None => return out,
            Some(v) if !v.truthy() => return out,
            Some(Value::Map(m)) => m,
            Some(other) => {
                out.error(format!(
                    "ansible: expected a mapping, got {} (nothing done)",
                    other.type_name()
                ));
                return out;
            }
        };
        match plan(ctx, cfg) {
            Ok(effects) => out.effects = effects,
            Err(e) => out.error(format!("{e} (nothing done)")),
        }
        out
    }
}

/// How each command runs: as `run_user` (`distro.do_as`) or as it is, and
/// the environment 22.4's `AnsiblePull.env` holds.
struct Runner {
    user: Option<String>,
    env: Vec<(String, String)>,
}

impl Runner {
    /// `do_as(command, cwd=...)`.
    fn command(&self, argv: &[String], cwd: Option<&str>) -> Command {
        let mut cmd = match (&self.user, cwd) {
            (Some(user), _) => {
                let dir = cwd.map(|d| format!("cd {d} && ")).unwrap_or_default();
                Command::new([
                    "su".to_string(),
                    "-".into(),
                    user.clone(),
                    "-c".into(),
                    format!("{dir}env PATH=$PATH {}", argv.join(" ")),
                ])
            }
            // `subp(command, cwd=...)`: the program starts in `cwd`.
            (None, Some(dir)) => {
                let mut a: Vec<String> = ["sh", "-c", "cd \"$1\" && shift && exec \"$@\"", "sh"]
                    .map(String::from)
                    .to_vec();
                a.push(dir.to_string());
                a.extend(argv.iter().cloned());
                Command::new(a)
            }
            (None, None) => Command::new(argv.to_vec()),
        };
        cmd.env = self.env.clone();
        cmd
    }

    /// The command line `sh` runs for `do_as(argv)`, quoted.
    fn shell_line(&self, argv: &[String]) -> String {
        let c = self.command(argv, None);
        c.argv
            .iter()
            .map(|a| sh_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A script run by `sh` with 22.4's environment.
    fn script(&self, script: String) -> Command {
        let mut c = Command::new(["sh".to_string(), "-c".into(), script]);
        c.env = self.env.clone();
        c
    }
}

/// Quotes a word for `sh` as Python's `shlex.quote` does: bare when it
/// only holds characters no shell treats specially, else in single quotes.
fn sh_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// `get_cfg_by_path(cfg, path)` is truthy.
fn set(cfg: &Mapping, path: &[&str]) -> bool {
    let mut v = match cfg.get(path[0]) {
        Some(v) => v,
        None => return false,
    };
    for key in &path[1..] {
        match v.get(key) {
            Some(next) => v = next,
            None => return false,
        }
    }
    v.truthy()
}

/// `filter_args(cfg)`: `(key with - for _, value)` without the `False` ones.
fn filter_args(cfg: &Mapping) -> Result<Vec<(String, &Value)>, String> {
    let mut out = Vec::new();
    for (k, v) in cfg.iter() {
        let Value::Str(k) = k else {
            return Err(format!("the key {} is not a string", k.python_repr()));
        };
        if matches!(v, Value::Bool(false)) {
            continue;
        }
        out.push((k.replace('_', "-"), v));
    }
    Ok(out)
}

/// A word 22.4 puts in a command line: a string as it is (a command line's
/// words must be strings, as `subp` and `" ".join` require).
fn word(v: &Value, what: &str) -> Result<String, String> {
    match v {
        Value::Str(s) => Ok(s.clone()),
        other => Err(format!(
            "{what}: expected a string, got {}",
            other.type_name()
        )),
    }
}

fn plan(ctx: &Context, cfg: &Mapping) -> Result<Vec<Effect>, String> {
    validate_config(cfg)?;
    let pip = cfg.get("install_method").and_then(Value::as_str) == Some("pip");
    // Only 22.4's `AnsiblePullPip` takes `run_user`: with the distro's
    // package, every command runs as root.
    let user = match cfg.get("run_user") {
        _ if !pip => None,
        None | Some(Value::Null) => None,
        Some(v) if !v.truthy() => None,
        Some(v) => Some(word(v, "ansible.run_user")?),
    };
    let package = word(cfg.get("package_name").unwrap(), "ansible.package_name")?;
    let mut run = Runner {
        user,
        env: vec![("HOME".into(), "/root".into())],
    };
    let mut effects = Vec::new();

    if pip {
        // `AnsiblePullPip.__init__`: the user base, for PATH (see the top).
        let base = run.command(
            &[
                PYTHON.to_string(),
                "-c".into(),
                "'import site; print(site.getuserbase())'".into(),
            ],
            None,
        );
        effects.push(Effect::Run(base));
        let list = run.shell_line(&[PYTHON.into(), "-m".into(), "pip".into(), "list".into()]);
        let mut pip_install = vec![
            PYTHON.to_string(),
            "-m".into(),
            "pip".into(),
            "install".into(),
        ];
        if run.user.is_some() {
            pip_install.push("--user".into());
        }
        let mut upgrade = pip_install.clone();
        upgrade.extend(["--upgrade".to_string(), "pip".into()]);
        let mut install = pip_install;
        install.push(package.clone());
        // `install()` then `check_deps()`: `pip list` before and after.
        effects.push(Effect::Run(run.script(format!(
            "out=$({list}) || exit\n\
             case $out in *ansible*) ;; *)\n\
             {} || exit\n\
             {} || exit\n\
             ;; esac\n\
             out=$({list}) || exit\n\
             case $out in *ansible*) exit 0;; esac\n\
             echo 'command: ansible is not installed' >&2\n\
             exit 1\n",
            run.shell_line(&upgrade),
            run.shell_line(&install),
        ))));
    } else if accounts::which(ctx.fs, "ansible").is_none() {
        effects.extend(
            ctx.distro
                .install_packages(ctx.fs, &ctx.sources_mark(), &[PackageSpec::name(&package)])
                .map_err(|e| e.to_string())?,
        );
        // `check_deps()`: the package must have brought the program.
        effects.push(Effect::Run(
            run.script(
                "command -v ansible >/dev/null 2>&1 && exit 0\n\
             echo 'command: ansible is not installed' >&2\n\
             exit 1\n"
                    .into(),
            ),
        ));
    }

    if let Some(conf) = cfg.get("ansible_config").filter(|v| v.truthy()) {
        let conf = word(conf, "ansible.ansible_config")?;
        run.env.push(("ansible_config".into(), conf));
    }

    if let Some(galaxy) = cfg.get("galaxy").filter(|v| v.truthy()) {
        let actions = galaxy.get("actions").filter(|v| v.truthy());
        match actions.and_then(Value::as_seq) {
            None => {
                // 22.4: `LOG.warning("Invalid config: %s", cfg)`.
                tracing::warn!("Invalid config: {}", galaxy.python_str_any());
            }
            Some(list) => {
                for (i, action) in list.iter().enumerate() {
                    let what = format!("ansible.galaxy.actions[{i}]");
                    let argv = action
                        .as_seq()
                        .ok_or_else(|| format!("{what}: expected a list"))?
                        .iter()
                        .map(|w| word(w, &what))
                        .collect::<Result<Vec<_>, _>>()?;
                    effects.push(Effect::Run(run.command(&argv, None)));
                }
            }
        }
    }

    if let Some(Value::Map(pull)) = cfg.get("pull").filter(|v| v.truthy()) {
        effects.extend(pull_effects(&run, pull)?);
    }

    if let Some(Value::Map(ctl)) = cfg.get("setup_controller").filter(|v| v.truthy()) {
        effects.extend(controller_effects(&run, ctl)?);
    }
    Ok(effects)
}

/// `validate_config(cfg)`, 22.4's messages (the config as Python prints it).
fn validate_config(cfg: &Mapping) -> Result<(), String> {
    let shown = || Value::Map(cfg.clone()).python_repr();
    for key in ["install_method", "package_name"] {
        if !set(cfg, &[key]) {
            return Err(format!("Missing required key '{key}' from {}", shown()));
        }
    }
    if cfg.get("pull").is_some_and(Value::truthy) {
        for key in ["url", "playbook_name"] {
            if !set(cfg, &["pull", key]) {
                return Err(format!(
                    "Missing required key 'pull/{key}' from {}",
                    shown()
                ));
            }
        }
    }
    if let Some(ctl) = cfg.get("setup_controller").filter(|v| v.truthy()) {
        let has = |k: &str| ctl.get(k).is_some_and(Value::truthy);
        if !has("repositories") && !has("run_ansible") {
            return Err(format!(
                "Missing required key from {}",
                ctl.python_str_any()
            ));
        }
    }
    match cfg.get("install_method").and_then(Value::as_str) {
        Some("pip" | "distro") => Ok(()),
        // 22.4 says "Invalid install method {install}" (no f-string).
        other => Err(format!(
            "Invalid install method {} (ansible.install_method: pip or distro)",
            other.map_or_else(
                || cfg.get("install_method").unwrap().python_repr(),
                python_str_repr
            )
        )),
    }
}

/// `run_ansible_pull(pull, cfg)`: the version check, then `ansible-pull`.
fn pull_effects(run: &Runner, pull: &Mapping) -> Result<Vec<Effect>, String> {
    let mut rest = pull.clone();
    let playbook = rest
        .remove("playbook_name")
        .ok_or("ansible.pull: missing playbook_name")?;
    let playbook = playbook.python_str_any();
    let diff = rest.get("diff").is_some_and(Value::truthy);
    let version = run.shell_line(&["ansible-pull".to_string(), "--version".into()]);
    // The first line's first `[\d\.]+`; `Version.from_str` of it (ints
    // split on `.`, up to four, -1 for the missing ones) compared as a
    // tuple with (2, 7, 0, -1).
    let mut check = format!(
        "out=$({version}) || exit\n\
         [ -n \"$out\" ] || {{ echo 'ansible-pull --version printed nothing (IndexError: pop from empty list)' >&2; exit 1; }}\n\
         first=$(printf '%s\\n' \"$out\" | head -n 1)\n\
         v=$(printf '%s\\n' \"$first\" | grep -o '[0-9.][0-9.]*' | head -n 1)\n\
         if [ -z \"$v\" ]; then echo 'Cannot parse ansible version' >&2; exit 0; fi\n"
    );
    check.push_str(
        "printf '%s\\n' \"$v\" | awk -F. -v diff=DIFF '{\n\
         if (NF > 4) { print \"Cannot compare ansible version \" $0 >\"/dev/stderr\"; exit 1 }\n\
         for (i = 1; i <= NF; i++) if ($i !~ /^[0-9]+$/) { print \"invalid literal for int(): \" $0 >\"/dev/stderr\"; exit 1 }\n\
         for (i = 1; i <= 4; i++) a[i] = (i <= NF) ? $i + 0 : -1\n\
         split(\"2 7 0 -1\", b, \" \"); less = 0\n\
         for (i = 1; i <= 4; i++) { if (a[i] < b[i] + 0) { less = 1; break } if (a[i] > b[i] + 0) break }\n\
         if (less && diff) { printf \"Ansible version %d.%d.%ddoesn\\047t support --diff flag, exiting.\\n\", a[1], a[2], a[3] >\"/dev/stderr\"; exit 1 }\n\
         }'\n",
    );
    let check = check.replace("DIFF", if diff { "1" } else { "0" });
    let mut argv = vec!["ansible-pull".to_string()];
    for (key, value) in filter_args(&rest).map_err(|e| format!("ansible.pull: {e}"))? {
        if matches!(value, Value::Bool(true)) {
            argv.push(format!("--{key}"));
        } else {
            argv.push(format!("--{key}={}", value.python_str_any()));
        }
    }
    argv.push(playbook);
    Ok(vec![
        Effect::Run(run.script(check)),
        Effect::Run(run.command(&argv, None)),
    ])
}

/// `ansible_controller(cfg, ansible)`.
fn controller_effects(run: &Runner, ctl: &Mapping) -> Result<Vec<Effect>, String> {
    let mut effects = Vec::new();
    let list = |k: &str| ctl.get(k).and_then(Value::as_seq).unwrap_or(&[]);
    for (i, repo) in list("repositories").iter().enumerate() {
        let what = format!("ansible.setup_controller.repositories[{i}]");
        let field = |k: &str| {
            repo.get(k)
                .ok_or_else(|| format!("{what}: missing '{k}'"))
                .and_then(|v| word(v, &format!("{what}.{k}")))
        };
        let argv = vec![
            "git".to_string(),
            "clone".into(),
            field("source")?,
            field("path")?,
        ];
        effects.push(Effect::Run(run.command(&argv, None)));
    }
    for (i, entry) in list("run_ansible").iter().enumerate() {
        let what = format!("ansible.setup_controller.run_ansible[{i}]");
        let Value::Map(args) = entry else {
            return Err(format!("{what}: expected a mapping"));
        };
        let mut args = args.clone();
        let mut take = |k: &str| {
            args.remove(k)
                .ok_or_else(|| format!("{what}: missing '{k}'"))
                .map(|v| v.python_str_any())
        };
        let dir = take("playbook_dir")?;
        let name = take("playbook_name")?;
        let mut argv = vec!["ansible-playbook".to_string(), name];
        for (key, value) in filter_args(&args).map_err(|e| format!("{what}: {e}"))? {
            argv.push(format!("--{key}={}", value.python_str_any()));
        }
        effects.push(Effect::Run(run.command(&argv, Some(&dir))));
    }
    Ok(effects)
}
