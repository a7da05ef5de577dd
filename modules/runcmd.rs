//! runcmd (`cc_runcmd`): writes `instances/<iid>/scripts/runcmd` (0700) in the
//! config stage; scripts_user runs it in the final stage. The script is
//! cloud-init's `util.shellify`: `#!/bin/sh`, then one line per command; a
//! list command has every argument single-quoted, a string is written as is.

use crate::module::prelude::*;

/// A runcmd item: a command line, an argument list, or null (a YAML comment).
static COMMAND: Ty = Ty::OneOf(&[Ty::Str, Ty::List(&Ty::Any), Ty::Null]);

/// 22.4's schema: every word of a list command a string.
static SCHEMA: Ty = Ty::Strict(
    &Ty::List(&Ty::Strict(
        &Ty::OneOf(&[Ty::List(&Ty::Str), Ty::Str, Ty::Null]),
        Rule::OneOf,
    )),
    Rule::MinItems(1),
);

pub struct Runcmd;

static INFO: ModuleInfo = ModuleInfo {
    name: "runcmd",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &["runcmd"],
    keys: &["runcmd"],
    // 22.4: `minItems: 1` (`runcmd: []` is an error to `schema`, nothing to boot).
    schema: &[Field::opt(
        "runcmd",
        Ty::Strict(&Ty::List(&COMMAND), Rule::As(&SCHEMA)),
    )],
    summary: "run commands late in boot (written here, run by scripts_user)",
};

impl Module for Runcmd {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let path = ctx.ipath("scripts").join("runcmd");
        let Some(cmds) = ctx.cfg.get("runcmd") else {
            out.note("Skipping module named runcmd, no 'runcmd' key in configuration");
            return out;
        };
        match py::shell::shellify(cmds) {
            // The script is what the user asked to run: shown in plans.
            Ok(script) => out
                .effects
                .push(Effect::write(path, Data::public(script), 0o700)),
            Err(e) => out.error(format!(
                "Failed to shellify {} into file {}: {e}",
                cmds.type_name(),
                path.display()
            )),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Through the module test kit: the commands become the instance's
    /// runcmd script (run later by scripts_user), executable by root only.
    #[test]
    fn kit_writes_the_script_into_the_instance() {
        use std::path::PathBuf;
        let run = Kit::debian12()
            .cfg("runcmd:\n- [touch, /tmp/it's here]\n- echo hi > /tmp/x\n")
            .plan(&Runcmd);
        assert!(run.errors().is_empty());
        let written = run.written();
        assert_eq!(written.len(), 1);
        assert_eq!(
            written[0].path,
            PathBuf::from("/var/lib/cloud/instances/iid-kit/scripts/runcmd")
        );
        assert_eq!(written[0].mode, 0o700);
        assert_eq!(
            written[0].content,
            "#!/bin/sh\n'touch' '/tmp/it'\\''s here'\necho hi > /tmp/x\n"
        );
        assert!(run.commands().is_empty(), "runcmd itself runs nothing");
        let none = Kit::debian12().plan(&Runcmd);
        assert!(none.effects().is_empty());
        assert_eq!(
            none.notes(),
            ["Skipping module named runcmd, no 'runcmd' key in configuration"]
        );
    }
}
