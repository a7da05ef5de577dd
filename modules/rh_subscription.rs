//! rh_subscription (`cc_rh_subscription`): registers a Red Hat system with
//! `subscription-manager`, once per instance, on RHEL and Fedora (22.4's
//! `distros`), when `rh_subscription` is set with `username` and
//! `password`, or `activation-key`.
//!
//! As 22.4 does: `subscription-manager identity` is asked first (a probe;
//! exit 0: "System is already registered", nothing more). Otherwise the
//! keys are checked (only 22.4's eleven; `auto-attach` a boolean;
//! `service-level` only with a true `auto-attach`), then `register` with
//! `--activationkey=` and `--org=` (both given) or `--username=` and
//! `--password=`, each with `--baseurl=` (`rhsm-baseurl`) and
//! `--serverurl=` (`server-hostname`) when given; `attach --auto` (with
//! `--servicelevel=`) when `auto-attach` is true; `attach --pool=...` for
//! `add-pool`; `repos --disable=... --enable=...` for `disable-repo` and
//! `enable-repo`. A problem with the keys is two warnings and nothing run,
//! as in 22.4. The password and the activation key are secret arguments:
//! plans and logs show `<redacted>`.
//!
//! Where cloudboot differs, because it does not read a program's output:
//! 22.4 lists the available and consumed pools and the enabled and disabled
//! repos and leaves out those already in the state asked for (warning of a
//! pool that is not available or a repo that does not exist); cloudboot
//! asks for every one. A command that fails fails the module here (its
//! remaining commands are not run), where 22.4 logs warnings and ends the
//! module without an error; 22.4's debug lines that name the program's
//! answers (the registration's ID, the pools attached) are not logged.
//! Where the probe is not asked (a plan, a root that is not this machine's
//! `/`), the system is taken as not registered, a first boot's state.
//! tests/fixtures/rh_subscription holds what 22.4 itself does.

use tracing::Level;

use crate::module::prelude::*;

pub struct RhSubscription;

static RH_KEYS: &[Field] = &[
    Field::opt("username", Ty::Any),
    Field::opt("password", Ty::Any),
    Field::opt("activation-key", Ty::Any),
    Field::opt("org", Ty::Any),
    Field::opt("auto-attach", Ty::Any),
    Field::opt("service-level", Ty::Any),
    Field::opt("add-pool", Ty::Any),
    Field::opt("enable-repo", Ty::Any),
    Field::opt("disable-repo", Ty::Any),
    Field::opt("rhsm-baseurl", Ty::Any),
    Field::opt("server-hostname", Ty::Any),
];

/// 22.4's schema of `rh_subscription`, for `cloudboot schema`; the
/// password and activation key are checked without quoting them.
static RH_SCHEMA: &[Field] = &[
    Field::opt("username", Ty::Str),
    Field::opt("password", Ty::Strict(&Ty::Any, Rule::Secret(&Ty::Str))),
    Field::opt(
        "activation-key",
        Ty::Strict(&Ty::Any, Rule::Secret(&Ty::Str)),
    ),
    Field::opt("org", Ty::Int),
    Field::opt("auto-attach", Ty::Bool),
    Field::opt("service-level", Ty::Str),
    Field::opt("add-pool", Ty::List(&Ty::Str)),
    Field::opt("enable-repo", Ty::List(&Ty::Str)),
    Field::opt("disable-repo", Ty::List(&Ty::Str)),
    Field::opt("rhsm-baseurl", Ty::Str),
    Field::opt("server-hostname", Ty::Str),
];

static INFO: ModuleInfo = ModuleInfo {
    name: "rh_subscription",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &["rh_subscription"],
    keys: &["rh_subscription"],
    schema: &[Field::opt(
        "rh_subscription",
        Ty::Strict(&Ty::Map(RH_KEYS), Rule::As(&Ty::Map(RH_SCHEMA))),
    )],
    summary: "register with Red Hat subscription-manager (auto-attach, pools, repos)",
};

/// 22.4's `valid_rh_keys`, in its order (its message lists them so).
const VALID_KEYS: &[&str] = &[
    "org",
    "activation-key",
    "username",
    "password",
    "disable-repo",
    "enable-repo",
    "add-pool",
    "rhsm-baseurl",
    "server-hostname",
    "auto-attach",
    "service-level",
];

const FAILED: &str = "rh_subscription plugin did not complete successfully";

impl Module for RhSubscription {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn distros(&self) -> &'static [&'static str] {
        &["fedora", "rhel"]
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let empty = Mapping::new();
        let rh = ctx
            .cfg
            .get("rh_subscription")
            .and_then(Value::as_map)
            .unwrap_or(&empty);
        // A key given as null is `None` to 22.4, as an absent one.
        let get = |k: &str| rh.get(k).filter(|v| !v.is_null());
        let truthy = |k: &str| get(k).is_some_and(Value::truthy);
        // `is_configured`.
        if !((truthy("username") && truthy("password")) || truthy("activation-key")) {
            out.note(format!("{}: module not configured.", ctx.name));
            return out;
        }
        let unregistered = match register(rh) {
            Ok(effects) => Branch {
                when: When::Otherwise,
                meaning: "not registered: register, attach, enable and disable repos".into(),
                log: Vec::new(),
                effects,
                done: Some("rh_subscription plugin completed successfully".into()),
            },
            Err(warnings) => Branch {
                when: When::Otherwise,
                meaning: "not registered, and the config cannot register it".into(),
                log: warnings
                    .into_iter()
                    .chain([FAILED.to_string()])
                    .map(|w| (Level::WARN, w))
                    .collect(),
                effects: Vec::new(),
                done: None,
            },
        };
        out.effects.push(Effect::Probe(Probe {
            action: HostAction {
                what: "ask subscription-manager whether the system is registered".into(),
                argv: vec!["subscription-manager".into(), "identity".into()],
            },
            // A first boot's image is not registered.
            assume: 1,
            branches: vec![
                Branch {
                    when: When::Exit(vec![0]),
                    meaning: "registered: nothing to do".into(),
                    log: vec![(Level::INFO, "System is already registered".into())],
                    effects: Vec::new(),
                    done: None,
                },
                unregistered,
            ],
            log: log_at!(),
        }));
        out
    }
}

/// `subscription-manager` with `args`.
fn sub_man(args: impl IntoIterator<Item = String>) -> Command {
    Command::new(["subscription-manager".to_string()].into_iter().chain(args))
}

/// What an unregistered system runs, or the warnings 22.4 logs instead.
fn register(rh: &Mapping) -> Result<Vec<Effect>, Vec<String>> {
    let get = |k: &str| rh.get(k).filter(|v| !v.is_null());
    let text = |v: &Value| v.python_str_any();
    // `_verify_keys`.
    if let Some(bad) = rh
        .iter()
        .map(|(k, _)| k.python_str())
        .find(|k| !VALID_KEYS.contains(&k.as_str()))
    {
        return Err(vec![format!(
            "{bad} is not a valid key for rh_subscription. Valid keys are: {}",
            VALID_KEYS.join(", ")
        )]);
    }
    let auto_attach = get("auto-attach");
    if let Some(a) = auto_attach {
        if !(py::truth::is_true(a) || py::truth::is_false(a)) {
            return Err(vec![
                "The key auto-attach must be a boolean value (True/False ".into(),
            ]);
        }
    }
    let service_level = get("service-level");
    if service_level.is_some()
        && (!auto_attach.is_some_and(Value::truthy)
            || auto_attach.is_some_and(|a| py::truth::is_false(&Value::str(a.python_str()))))
    {
        return Err(vec![
            "The service-level key must be used in conjunction with the \
                         auto-attach key.  Please re-run with auto-attach: True"
                .into(),
        ]);
    }

    // `rhn_register`.
    let mut register = match (
        get("activation-key"),
        get("org"),
        get("username"),
        get("password"),
    ) {
        (Some(key), Some(org), _, _) => {
            let mut cmd = sub_man(["register".to_string()])
                .secret_arg(format!("--activationkey={}", text(key)));
            cmd.argv.push(format!("--org={}", text(org)));
            cmd
        }
        (_, _, Some(user), Some(password)) => {
            sub_man(["register".to_string(), format!("--username={}", text(user))])
                .secret_arg(format!("--password={}", text(password)))
        }
        _ => {
            return Err(vec![
                "Unable to register system due to incomplete information.".into(),
                "Use either activationkey and org *or* userid and password".into(),
                "Registration failed or did not run completely".into(),
            ])
        }
    };
    if let Some(url) = get("rhsm-baseurl") {
        register.argv.push(format!("--baseurl={}", text(url)));
    }
    if let Some(host) = get("server-hostname") {
        register.argv.push(format!("--serverurl={}", text(host)));
    }
    let mut commands = vec![register];

    if auto_attach.is_some_and(Value::truthy) {
        let mut attach = vec!["attach".to_string(), "--auto".to_string()];
        if let Some(level) = service_level {
            attach.push(format!("--servicelevel={}", text(level)));
        }
        commands.push(sub_man(attach));
    }
    if let Some(pools) = get("add-pool") {
        let Some(pools) = pools.as_seq() else {
            return Err(vec!["Pools must in the format of a list".into()]);
        };
        if !pools.is_empty() {
            commands.push(sub_man(
                ["attach".to_string()]
                    .into_iter()
                    .chain(pools.iter().map(|p| format!("--pool={}", text(p)))),
            ));
        }
    }
    // `update_repos`: the disabled first, as 22.4 orders them.
    let repo_list = |k: &str| match get(k) {
        None => Ok(Vec::new()),
        Some(Value::Seq(ids)) => Ok(ids.iter().map(text).collect()),
        Some(_) => Err(vec!["Repo IDs must in the format of a list.".to_string()]),
    };
    let (enable, disable) = (repo_list("enable-repo")?, repo_list("disable-repo")?);
    if !enable.is_empty() || !disable.is_empty() {
        commands.push(sub_man(
            ["repos".to_string()]
                .into_iter()
                .chain(disable.iter().map(|r| format!("--disable={r}")))
                .chain(enable.iter().map(|r| format!("--enable={r}"))),
        ));
    }
    Ok(commands.into_iter().map(Effect::Run).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    include!("../tests/fixtures/repo_modules/recorded.rs");

    #[test]
    fn every_recorded_case_plans_as_cloud_init_22_4_ran_it() {
        // A register that fails fails the module here (see the module's
        // text); its command line is the `password` case's.
        check_recorded_except(
            include_str!("../tests/fixtures/rh_subscription/expected.json"),
            &RhSubscription,
            13,
            &["rhel-register-fails"],
        );
    }

    #[test]
    fn the_password_and_the_activation_key_are_never_shown() {
        for cfg in [
            "rh_subscription:\n  username: joe\n  password: s3cret-pw\n",
            "rh_subscription:\n  activation-key: s3cret-key\n  org: 7\n",
        ] {
            let p = Kit::with_os_release("ID=rhel\n")
                .cfg(cfg)
                .plan(&RhSubscription);
            let Effect::Probe(probe) = &p.effects()[0] else {
                panic!("{:?}", p.effects())
            };
            let Effect::Run(register) = &probe.branches[1].effects[0] else {
                panic!("{probe:?}")
            };
            // What a plan and the logs print of the probe and its commands.
            let shown = format!(
                "{:?} {} {} {}",
                register.redacted_argv(),
                register.display(),
                p.effects()[0].summary(),
                p.effects()[0].to_json()
            );
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
            assert!(register.argv.iter().any(|a| a.contains("s3cret")));
        }
    }
}
