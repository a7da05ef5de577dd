//! ubuntu_drivers (`cc_ubuntu_drivers`): installs NVIDIA's drivers with
//! `ubuntu-drivers`, once per instance, on Ubuntu (elsewhere only when
//! `unverified_modules` names it), when `drivers` is set. As 22.4 does:
//!
//! - without Python's `debconf` module in the root
//!   (`/usr/lib/python3/dist-packages/debconf.py`, python3-debconf, or a
//!   `debconf` package there) the
//!   module warns "Skipping module named ubuntu_drivers, 'python3-debconf'
//!   is not installed" and does nothing;
//! - `drivers` must be a mapping ("'drivers' config expected dict, found
//!   ...": the module fails); a boolean or number `nvidia` fails it too
//!   (Python's TypeError in `get_cfg_by_path`);
//! - nothing is done unless `nvidia.license-accepted` is true as
//!   `util.translate_bool` reads it (`true`, or a string `true`, `1`, `on`,
//!   `yes` in any case, or a number 1);
//! - without an `ubuntu-drivers` program on cloud-init's `PATH` in the
//!   root, the distro installs `ubuntu-drivers-common`;
//! - the debconf template `linux/nvidia/latelink` (22.4's text) is written
//!   to `nvidia.template` in a new 0700 directory under
//!   `/var/tmp/cloud-init` (made 1777 when missing), loaded with
//!   `debconf-communicate -fnoninteractive cloud-init` (stdin
//!   `X_LOADTEMPLATEFILE <file>` then `STOP`, as python3-debconf's
//!   `DebconfCommunicator` sends them), and the directory removed; a
//!   status other than 0 fails the module ("Failed to register NVIDIA
//!   debconf template: ...");
//! - `ubuntu-drivers install --gpgpu nvidia[:<version>]`; when it fails,
//!   the warning 22.4 picks from its output (too old an ubuntu-drivers, or
//!   no drivers found) and the module fails.
//!
//! Where cloudboot differs: the two steps run as small `sh` scripts (the
//! template, and the output check around `ubuntu-drivers`), so their
//! warnings are in the command's output (cloud-init-output.log and the
//! module's error), not cloud-init.log; the temporary directory is named by
//! `mktemp` (`tmpXXXXXXXX`, as `tempfile.mkdtemp`'s `tmp` + 8 characters).

use crate::module::prelude::*;

pub struct UbuntuDrivers;

static INFO: ModuleInfo = ModuleInfo {
    name: "ubuntu_drivers",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &["drivers"],
    keys: &["drivers"],
    // 22.4's schema; at boot the code reads `license-accepted` with
    // translate_bool and formats any `version`, so only the `schema`
    // command holds them to these types.
    schema: &[Field::opt(
        "drivers",
        Ty::Strict(
            &Ty::Any,
            Rule::As(&Ty::Map(&[Field::opt(
                "nvidia",
                Ty::Map(&[
                    Field::req("license-accepted", Ty::Bool),
                    Field::opt("version", Ty::Str),
                ]),
            )])),
        ),
    )],
    summary:
        "accept NVIDIA's licence (debconf) and run ubuntu-drivers install --gpgpu nvidia[:version]",
};

/// 22.4's `NVIDIA_DEBCONF_CONTENT`.
pub const NVIDIA_DEBCONF_CONTENT: &str = "\
Template: linux/nvidia/latelink
Type: boolean
Default: true
Description: Late-link NVIDIA kernel modules?
 Enable this to link the NVIDIA kernel modules in cloud-init and
 make them available for use.
";

/// Where python3-debconf puts Python's `debconf` module.
const DEBCONF_MODULE: &str = "/usr/lib/python3/dist-packages/debconf.py";

const OLD_UBUNTU_DRIVERS_STDERR_NEEDLE: &str =
    "ubuntu-drivers: error: argument <command>: invalid choice: 'install'";

/// Writes the template (`$1`) to a new directory under the exe tmp dir,
/// loads it through debconf-communicate, removes the directory.
const LOAD_TEMPLATE: &str = r#"umask 022
if [ ! -d /var/tmp/cloud-init ]; then
  mkdir -p /var/tmp/cloud-init && chmod 1777 /var/tmp/cloud-init || exit
fi
d=$(mktemp -d /var/tmp/cloud-init/tmpXXXXXXXX) || exit
if ! printf '%s' "$1" > "$d/nvidia.template"; then
  rm -rf "$d"; exit 1
fi
r=$(printf 'X_LOADTEMPLATEFILE %s\nSTOP\n' "$d/nvidia.template" | debconf-communicate -fnoninteractive cloud-init)
rc=$?
rm -rf "$d"
status=$(printf '%s\n' "$r" | head -n 1)
case $status in
  0|"0 "*) exit 0 ;;
esac
echo "Failed to register NVIDIA debconf template: $status" >&2
[ $rc -ne 0 ] && exit $rc
exit 1
"#;

/// Runs `ubuntu-drivers "$@"`, its output passed on, and on failure adds
/// the warning 22.4 logs for the output it recognises.
fn run_drivers_script() -> String {
    format!(
        r#"o=$(mktemp) && e=$(mktemp) || exit
ubuntu-drivers "$@" >"$o" 2>"$e"
rc=$?
cat "$o"; cat "$e" >&2
if [ $rc -ne 0 ]; then
  if grep -qF "{OLD_UBUNTU_DRIVERS_STDERR_NEEDLE}" "$e"; then
    echo 'the available version of ubuntu-drivers is too old to perform requested driver installation' >&2
  elif grep -qF 'No drivers found for installation.' "$o"; then
    echo 'ubuntu-drivers found no drivers for installation' >&2
  fi
fi
rm -f "$o" "$e"
exit $rc
"#
    )
}

/// `util.translate_bool(val)`.
fn translate_bool(v: Option<&Value>) -> bool {
    match v {
        None => false,
        Some(v) if !v.truthy() => false,
        Some(Value::Bool(b)) => *b,
        Some(v) => matches!(
            v.python_str_any().trim().to_lowercase().as_str(),
            "true" | "1" | "on" | "yes"
        ),
    }
}

impl Module for UbuntuDrivers {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn distros(&self) -> &'static [&'static str] {
        &["ubuntu"]
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let Some(cfg) = ctx.cfg.get("drivers") else {
            out.note(format!(
                "Skipping module named {}, no 'drivers' key in config",
                ctx.name
            ));
            return out;
        };
        // `import debconf` in cloud-init's Python: a module or a package.
        let has_debconf = [
            DEBCONF_MODULE,
            "/usr/lib/python3/dist-packages/debconf/__init__.py",
        ]
        .iter()
        .any(|p| ctx.fs.exists(std::path::Path::new(p)));
        if !has_debconf {
            out.warn(format!(
                "Skipping module named {}, 'python3-debconf' is not installed",
                ctx.name
            ));
            return out;
        }
        let Value::Map(cfg) = cfg else {
            out.error(format!(
                "'drivers' config expected dict, found '{}': {}",
                cfg.type_name(),
                cfg.python_str_any()
            ));
            return out;
        };
        let nvidia = cfg.get("nvidia");
        // `get_cfg_by_path(cfg, "nvidia/license-accepted")` tests `tok in
        // cur` on whatever `nvidia` is: Python refuses that for a number or
        // a boolean, and for a string that holds the key it then indexes it.
        match nvidia {
            Some(v @ (Value::Bool(_) | Value::Int(_) | Value::BigInt(_) | Value::Float(_))) => {
                out.error(format!(
                    "drivers.nvidia: argument of type '{}' is not iterable",
                    v.type_name()
                ));
                return out;
            }
            Some(Value::Str(s)) if s.contains("license-accepted") => {
                out.error("drivers.nvidia: string indices must be integers, not 'str'");
                return out;
            }
            _ => {}
        }
        let nv_acc = translate_bool(nvidia.and_then(|n| n.get("license-accepted")));
        if !nv_acc {
            out.note(format!(
                "Not installing NVIDIA drivers. nvidia/license-accepted={}",
                if nv_acc { "True" } else { "False" }
            ));
            return out;
        }
        if accounts::which(ctx.fs, "ubuntu-drivers").is_none() {
            tracing::debug!(
                "'ubuntu-drivers' command not available.  Installing ubuntu-drivers-common"
            );
            match ctx.distro.install_packages(
                ctx.fs,
                &ctx.sources_mark(),
                &[PackageSpec::name("ubuntu-drivers-common")],
            ) {
                Ok(effects) => out.effects.extend(effects),
                Err(e) => {
                    out.error(e);
                    return out;
                }
            }
        }
        let version = nvidia.and_then(|n| n.get("version")).filter(|v| v.truthy());
        let mut driver_arg = "nvidia".to_string();
        if let Some(v) = version {
            driver_arg.push(':');
            driver_arg.push_str(&v.python_str_any());
        }
        tracing::debug!(
            "Installing and activating NVIDIA drivers (nvidia/license-accepted=True, version={})",
            version.map_or("latest".to_string(), |v| v.python_str_any())
        );
        out.effects.push(Effect::Run(
            Command::new(["sh", "-c", LOAD_TEMPLATE, "sh", NVIDIA_DEBCONF_CONTENT])
                .script_named("load the NVIDIA license debconf template, as cloud-init 22.4 does"),
        ));
        out.effects.push(Effect::Run(
            Command::new([
                "sh".to_string(),
                "-c".into(),
                run_drivers_script(),
                "sh".into(),
                "install".into(),
                "--gpgpu".into(),
                driver_arg,
            ])
            .script_named("run ubuntu-drivers and check its output, as cloud-init 22.4 does"),
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kit() -> Kit {
        Kit::with_os_release("ID=ubuntu\nVERSION_ID=\"22.04\"\n").file(DEBCONF_MODULE, "")
    }

    /// The words `ubuntu-drivers` gets (after the wrapper's `sh -c S sh`).
    fn drivers_argv(p: &Planned) -> Vec<String> {
        let cmds = p.commands();
        let last = cmds.last().unwrap();
        let mut argv = vec!["ubuntu-drivers".to_string()];
        argv.extend(last[4..].iter().cloned());
        argv
    }

    include!("../tests/fixtures/ubuntu_drivers/expected.rs");

    #[test]
    fn command_lines_as_22_4_builds_them() {
        for (cfg, which, want) in CASES {
            let mut k = kit().cfg(cfg);
            if *which {
                k = k.file_mode("/usr/bin/ubuntu-drivers", "#!/bin/sh\n", 0o755);
            }
            let p = k.plan(&UbuntuDrivers);
            assert!(p.errors().is_empty(), "{cfg}: {:?}", p.errors());
            let cmds = p.commands();
            let got: Vec<Vec<String>> = if cmds.is_empty() {
                Vec::new()
            } else {
                let mut got: Vec<Vec<String>> = cmds
                    .iter()
                    .filter(|c| c[0] != "sh" && c.iter().any(|a| a == "install"))
                    .map(|c| {
                        // The package install: its package names only.
                        vec!["install_packages".to_string(), c.last().unwrap().clone()]
                    })
                    .collect();
                got.push(vec!["debconf".into(), NVIDIA_DEBCONF_CONTENT.into()]);
                got.push(drivers_argv(&p));
                got
            };
            let want: Vec<Vec<String>> = want
                .iter()
                .map(|c| c.iter().map(|s| s.to_string()).collect())
                .collect();
            assert_eq!(got, want, "{cfg}");
        }
    }

    #[test]
    fn without_python3_debconf_it_warns_and_does_nothing() {
        let p = Kit::with_os_release("ID=ubuntu\n")
            .cfg("drivers:\n  nvidia:\n    license-accepted: true\n")
            .plan(&UbuntuDrivers);
        assert!(p.effects().is_empty());
        assert_eq!(
            p.notes(),
            ["Skipping module named ubuntu_drivers, 'python3-debconf' is not installed"]
        );
    }

    #[test]
    fn a_drivers_value_that_is_no_mapping_fails_the_module() {
        let p = kit().cfg("drivers: [a]\n").plan(&UbuntuDrivers);
        assert_eq!(
            p.errors(),
            ["'drivers' config expected dict, found 'list': ['a']"]
        );
        assert!(p.effects().is_empty());
    }

    #[test]
    fn an_nvidia_value_python_cannot_look_into_fails_the_module() {
        let p = kit().cfg("drivers:\n  nvidia: yes\n").plan(&UbuntuDrivers);
        assert_eq!(
            p.errors(),
            ["drivers.nvidia: argument of type 'bool' is not iterable"]
        );
        let p = kit()
            .cfg("drivers:\n  nvidia: no licence\n")
            .plan(&UbuntuDrivers);
        assert!(p.errors().is_empty() && p.effects().is_empty());
    }

    #[test]
    fn the_template_script_loads_22_4s_template() {
        let p = kit()
            .file_mode("/usr/bin/ubuntu-drivers", "#!/bin/sh\n", 0o755)
            .cfg("drivers:\n  nvidia:\n    license-accepted: yes\n    version: '470'\n")
            .plan(&UbuntuDrivers);
        let cmds = p.commands();
        assert_eq!(cmds.len(), 2);
        assert_eq!(cmds[0][..2], ["sh", "-c"]);
        assert!(cmds[0][2].contains("debconf-communicate -fnoninteractive cloud-init"));
        assert!(cmds[0][2].contains("X_LOADTEMPLATEFILE %s\\nSTOP\\n"));
        assert_eq!(cmds[0][4], NVIDIA_DEBCONF_CONTENT);
        assert_eq!(cmds[1][4..], ["install", "--gpgpu", "nvidia:470"]);
    }
}
