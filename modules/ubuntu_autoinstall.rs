//! ubuntu_autoinstall (`cc_ubuntu_autoinstall`): once ever, on Ubuntu
//! (elsewhere only when `unverified_modules` names it), when `autoinstall`
//! is set. As 22.4 does: `snap list` runs (a missing or failing `snap`
//! fails the module); unless its output mentions `subiquity` or
//! `ubuntu-desktop-installer` (the last found wins) the module warns
//! "Skipping autoinstall module. Expected one of the Ubuntu installer snap
//! packages to be present: subiquity, ubuntu-desktop-installer" and
//! succeeds. With an installer present, `autoinstall` must be a mapping
//! with an integer `version`, else the module fails with 22.4's
//! `SchemaValidationError` text ("Cloud config schema errors: autoinstall:
//! Missing required 'version' key", ...); a valid one is logged as "Valid
//! autoinstall schema. Config will be processed by <snap>". The installer
//! itself reads the config; this module writes nothing.
//!
//! Where cloudboot differs: `snap list`'s output is read by a small `sh`
//! script (the answer is the running root's), so the warning and the
//! schema error are in the command's output (cloud-init-output.log and the
//! module's error), not cloud-init.log.

use crate::module::prelude::*;

pub struct UbuntuAutoinstall;

static INFO: ModuleInfo = ModuleInfo {
    name: "ubuntu_autoinstall",
    aliases: &[],
    frequency: Frequency::Once,
    activate_by: &["autoinstall"],
    keys: &["autoinstall"],
    // 22.4's schema (other keys are the installer's). At boot the module
    // checks the value itself, and only when an installer snap is there,
    // so only the `schema` command holds it to this shape.
    schema: &[Field::opt(
        "autoinstall",
        Ty::Strict(
            &Ty::Any,
            Rule::As(&Ty::MapPart(&[Field::req("version", Ty::Int)])),
        ),
    )],
    summary: "check that an Ubuntu installer snap is there to take `autoinstall`, and its version",
};

pub const LIVE_INSTALLER_SNAPS: [&str; 2] = ["subiquity", "ubuntu-desktop-installer"];

/// `validate_config_schema(cfg)`: 22.4's problem, or none.
fn schema_problem(v: &Value) -> Option<String> {
    let problem = match v {
        Value::Map(m) => match m.get("version") {
            None => "autoinstall: Missing required 'version' key".to_string(),
            // `isinstance(True, int)` holds in Python.
            Some(Value::Int(_) | Value::BigInt(_) | Value::Bool(_)) => return None,
            Some(other) => format!(
                "autoinstall.version: Expected int type but found: {}",
                other.type_name()
            ),
        },
        other => format!(
            "autoinstall: Expected dict type but found: {}",
            other.type_name()
        ),
    };
    Some(format!("Cloud config schema errors: {problem}"))
}

/// The script around `snap list`: `$1` is the schema problem (empty: none).
const CHECK: &str = r#"out=$(snap list) || exit
found=
case $out in *subiquity*) found=subiquity ;; esac
case $out in *ubuntu-desktop-installer*) found=ubuntu-desktop-installer ;; esac
if [ -z "$found" ]; then
  echo 'Skipping autoinstall module. Expected one of the Ubuntu installer snap packages to be present: subiquity, ubuntu-desktop-installer' >&2
  exit 0
fi
if [ -n "$1" ]; then
  printf '%s\n' "$1" >&2
  exit 1
fi
echo "Valid autoinstall schema. Config will be processed by $found" >&2
"#;

impl Module for UbuntuAutoinstall {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn distros(&self) -> &'static [&'static str] {
        &["ubuntu"]
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let Some(cfg) = ctx.cfg.get("autoinstall") else {
            out.note(format!(
                "Skipping module named {}, no 'autoinstall' key in configuration",
                ctx.name
            ));
            return out;
        };
        let problem = schema_problem(cfg).unwrap_or_default();
        out.effects.push(Effect::Run(
            Command::new(["sh", "-c", CHECK, "sh", problem.as_str()])
                .script_named("check snap list for an Ubuntu installer, as cloud-init 22.4 does"),
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    include!("../tests/fixtures/ubuntu_autoinstall/expected.rs");

    #[test]
    fn schema_problems_as_22_4_words_them() {
        for (cfg, want) in CASES {
            let v = yaml::load(cfg.as_bytes(), "case").unwrap();
            let got = schema_problem(v.get("autoinstall").unwrap());
            assert_eq!(got.as_deref(), *want, "{cfg}");
        }
    }

    #[test]
    fn snap_list_is_asked_with_the_problem_handed_to_the_script() {
        let p = Kit::with_os_release("ID=ubuntu\n")
            .cfg("autoinstall:\n  version: '1'\n")
            .plan(&UbuntuAutoinstall);
        assert!(p.errors().is_empty());
        let cmds = p.commands();
        assert_eq!(cmds.len(), 1);
        assert_eq!(cmds[0][..2], ["sh", "-c"]);
        assert!(cmds[0][2].starts_with("out=$(snap list) || exit\n"));
        assert_eq!(
            cmds[0][4],
            "Cloud config schema errors: autoinstall.version: Expected int type but found: str"
        );
    }
}
