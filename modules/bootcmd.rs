//! bootcmd (`cc_bootcmd`): on every boot, early in the network stage, runs
//! the `bootcmd` list as one shell script, with `INSTANCE_ID` set. As
//! cloud-init does, the script is `util.shellify(bootcmd)` written to a
//! temporary file of its own under `/run/cloud-init/tmp`
//! (`bootcmd-<run id>.sh`: two runs at once never share one, as cloud-init's
//! random names do not) and run by `/bin/sh`; the file goes afterwards,
//! whether the script succeeded or not.

use crate::module::prelude::*;

static COMMAND: Ty = Ty::OneOf(&[Ty::Str, Ty::List(&Ty::Any), Ty::Null]);

/// 22.4's schema: a command is a line or its words, all strings; no null
/// (the script skips one), and at least one command.
static SCHEMA: Ty = Ty::Strict(
    &Ty::List(&Ty::Strict(
        &Ty::OneOf(&[Ty::List(&Ty::Str), Ty::Str]),
        Rule::OneOf,
    )),
    Rule::MinItems(1),
);

pub struct Bootcmd;

static INFO: ModuleInfo = ModuleInfo {
    name: "bootcmd",
    aliases: &[],
    frequency: Frequency::Always,
    activate_by: &["bootcmd"],
    keys: &["bootcmd"],
    schema: &[Field::opt(
        "bootcmd",
        Ty::Strict(&Ty::List(&COMMAND), Rule::As(&SCHEMA)),
    )],
    summary: "run commands early on every boot",
};

impl Module for Bootcmd {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let Some(cmds) = ctx.cfg.get("bootcmd") else {
            out.note("Skipping module named bootcmd, no 'bootcmd' key in configuration");
            return out;
        };
        let script = match py::shell::shellify(cmds) {
            Ok(s) => s,
            Err(e) => {
                out.error(format!("Failed to shellify bootcmd: {e}"));
                return out;
            }
        };
        let path = ctx
            .paths
            .runpath("tmp")
            .join(format!("bootcmd-{}.sh", ctx.run_id));
        out.effects
            .push(Effect::write(&path, Data::public(script), 0o600));
        let mut run = Command::new(["/bin/sh".to_string(), path.to_string_lossy().into_owned()])
            .on_failure(OnFailure::Report);
        if !ctx.iid().is_empty() {
            run = run.env("INSTANCE_ID", ctx.iid());
        }
        out.effects.push(Effect::Run(run));
        out.effects.push(Effect::Remove { path });
        out
    }
}
