//! grub_dpkg (`cc_grub_dpkg`): once per instance, in the config stage, on
//! Debian and Ubuntu, tells debconf which disk grub-pc installs to
//! (`grub-pc/install_devices`), so a later grub-pc upgrade does not stop
//! to ask: an image moved to another cloud rarely has the disk it was
//! built on.
//!
//! Keys, under `grub_dpkg` (or the deprecated `grub-dpkg`):
//! - `enabled` (default true): `util.is_false` of it skips the module.
//! - `grub-pc/install_devices`: the device (as `str()` writes any value);
//!   when absent, found as 22.4's `fetch_idevs` finds it (below).
//! - `grub-pc/install_devices_empty`: a boolean, or a string read by
//!   `util.translate_bool`; when absent, whether the device is empty.
//!
//! The result is two lines on `debconf-set-selections`' stdin, run inside
//! the root; a failure there is logged only, as 22.4 does.
//!
//! Finding the device (`fetch_idevs`): `grub-probe -t disk /boot`; a
//! missing grub-probe (containers, minimal roots) or its "failed to get
//! canonical path" means no device; any other failure fails the module.
//! A device that exists is looked up with `udevadm info --root
//! --query=symlink`, and the first `/dev/disk/by-id/` link in sorted order
//! is taken, else the device itself. These programs answer about the
//! machine the root runs on, so the lookup is a small shell script run
//! inside the root (shown whole in a plan); without grub-probe in the root
//! the device is empty and only debconf-set-selections runs.

use crate::module::prelude::*;

pub struct GrubDpkg;

static GRUB_DPKG: &[Field] = &[
    // 22.4's schema: a boolean (the module also reads its strings).
    Field::opt(
        "enabled",
        Ty::Strict(&Ty::OneOf(&[Ty::Bool, Ty::Str]), Rule::As(&Ty::Bool)),
    ),
    Field::opt("grub-pc/install_devices", Ty::Str),
    Field::opt(
        "grub-pc/install_devices_empty",
        Ty::OneOf(&[Ty::Bool, Ty::Str]),
    ),
];

static INFO: ModuleInfo = ModuleInfo {
    name: "grub_dpkg",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &[],
    keys: &["grub_dpkg", "grub-dpkg"],
    schema: &[
        Field::opt("grub_dpkg", Ty::Map(GRUB_DPKG)),
        Field::opt("grub-dpkg", Ty::AnyMap).deprecated("Use ``grub_dpkg`` instead"),
    ],
    summary: "set grub-pc's debconf install device for the boot disk",
};

/// `fetch_idevs` and the debconf lines, in sh: `$1` is the empty flag
/// from the config, or `auto` (empty when no device was found).
const FETCH_AND_SET: &str = r#"disk=$(grub-probe -t disk /boot 2>/dev/null) || {
  err=$(grub-probe -t disk /boot 2>&1 >/dev/null)
  case $err in
    *"failed to get canonical path"*) disk= ;;
    *) printf '%s\n' "$err" >&2; exit 1 ;;
  esac
}
idevs=
if [ -n "$disk" ] && [ -e "$disk" ]; then
  idevs=$(for link in $(udevadm info --root --query=symlink "$disk" 2>/dev/null); do
    case $link in *disk/by-id*) printf '%s\n' "$link" ;; esac
  done | LC_ALL=C sort | head -n 1)
  [ -n "$idevs" ] || idevs=$disk
fi
empty=$1
if [ "$empty" = auto ]; then
  if [ -n "$idevs" ]; then empty=false; else empty=true; fi
fi
printf 'grub-pc grub-pc/install_devices string %s\ngrub-pc grub-pc/install_devices_empty boolean %s\n' "$idevs" "$empty" \
  | debconf-set-selections || echo 'Failed to run debconf-set-selections for grub-dpkg' >&2
"#;

impl Module for GrubDpkg {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn distros(&self) -> &'static [&'static str] {
        &["ubuntu", "debian"]
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let empty_map = Value::empty_map();
        // cfg.get("grub_dpkg", cfg.get("grub-dpkg", {})), and `{}` for
        // anything Python finds false.
        let mycfg = ctx
            .cfg
            .get("grub_dpkg")
            .or_else(|| ctx.cfg.get("grub-dpkg"))
            .filter(|v| v.truthy())
            .unwrap_or(&empty_map);
        if let Some(enabled) = mycfg.get("enabled").filter(|v| py::truth::is_false(v)) {
            out.note(format!(
                "{} disabled by config grub_dpkg/enabled={}",
                ctx.name,
                enabled.python_str()
            ));
            return out;
        }
        // util.get_cfg_option_str: absent is None, anything else its str().
        let idevs = mycfg.get("grub-pc/install_devices").map(Value::python_str);
        let empty_flag = |idevs: &str| match mycfg.get("grub-pc/install_devices_empty") {
            None | Some(Value::Null) => idevs.is_empty(),
            Some(Value::Bool(b)) => *b,
            Some(other) => py::truth::translate_bool(other, &[]),
        };
        let has_probe = accounts::which(ctx.fs, "grub-probe").is_some();
        let command = match idevs {
            Some(idevs) => selections(&idevs, empty_flag(&idevs)),
            None if !has_probe => {
                out.note("'grub-probe' not found in $PATH");
                selections("", empty_flag(""))
            }
            None => {
                let flag = match mycfg.get("grub-pc/install_devices_empty") {
                    None | Some(Value::Null) => "auto".to_string(),
                    Some(_) => empty_flag("x").to_string(),
                };
                Command::new(["/bin/sh", "-c", FETCH_AND_SET, "grub-dpkg", &flag])
                    .script_named("find the boot disk and set grub-pc/install_devices")
            }
        };
        out.effects.push(Effect::Run(command));
        out
    }
}

/// debconf-set-selections with the two lines, its failure only logged.
fn selections(idevs: &str, empty: bool) -> Command {
    let lines = format!(
        "grub-pc grub-pc/install_devices string {idevs}\n\
         grub-pc grub-pc/install_devices_empty boolean {empty}\n"
    );
    tracing::debug!("Setting grub debconf-set-selections with '{idevs}','{empty}'");
    let mut cmd = Command::new(["debconf-set-selections"]).on_failure(OnFailure::Ignore);
    cmd.stdin = Some(Data::public(lines));
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stdin(p: &Planned) -> String {
        let Effect::Run(cmd) = &p.effects()[0] else {
            panic!("{:?}", p.effects())
        };
        String::from_utf8(cmd.stdin.as_ref().unwrap().bytes.clone()).unwrap()
    }

    #[test]
    fn without_grub_probe_the_device_is_empty() {
        let p = Kit::debian12().plan(&GrubDpkg);
        assert_eq!(p.commands(), [["debconf-set-selections"]]);
        assert_eq!(
            stdin(&p),
            "grub-pc grub-pc/install_devices string \n\
             grub-pc grub-pc/install_devices_empty boolean true\n"
        );
    }

    #[test]
    fn a_configured_device_and_flag() {
        let p = Kit::debian12()
            .cfg("grub_dpkg: {grub-pc/install_devices: /dev/sda, grub-pc/install_devices_empty: 'off'}")
            .plan(&GrubDpkg);
        assert_eq!(
            stdin(&p),
            "grub-pc grub-pc/install_devices string /dev/sda\n\
             grub-pc grub-pc/install_devices_empty boolean false\n"
        );
        let p = Kit::debian12()
            .cfg("grub-dpkg: {grub-pc/install_devices: /dev/vda}")
            .plan(&GrubDpkg);
        assert!(stdin(&p).ends_with("install_devices_empty boolean false\n"));
    }

    #[test]
    fn disabled() {
        let p = Kit::debian12()
            .cfg("grub_dpkg: {enabled: false}")
            .plan(&GrubDpkg);
        assert!(p.effects().is_empty());
        assert_eq!(
            p.notes(),
            ["grub_dpkg disabled by config grub_dpkg/enabled=False"]
        );
    }

    #[test]
    fn with_grub_probe_the_device_is_probed_inside_the_root() {
        let p = Kit::debian12()
            .file_mode("/usr/sbin/grub-probe", "#!/bin/sh\n", 0o755)
            .plan(&GrubDpkg);
        let cmds = p.commands();
        assert_eq!(cmds[0][..2], ["/bin/sh", "-c"]);
        assert_eq!(cmds[0][3..], ["grub-dpkg", "auto"]);
    }
}
