//! reset_rmc (`cc_reset_rmc`): once per instance, in the final stage, on
//! IBM PowerVM guests that have RSCT installed (`/opt/rsct/install/bin`),
//! gives the instance a new RSCT node id, so a captured image does not
//! keep the one of the machine it was made from: `rmcctrl -z` (stop RMC),
//! `recfgct` (reconfigure RSCT, which writes a new `/etc/ct_node_id`),
//! and a check that the first line of `/etc/ct_node_id` changed (22.4's
//! error "New node ID did not get generated." otherwise).
//!
//! Skipped on the `None` datasource (platform `none`) and where RSCT is
//! not installed (every image but PowerVM ones). The steps run as one
//! `sh -c` inside the root, with RSCT's directory first in `PATH` as 22.4
//! puts it, because the id is read before and after the programs run.

use crate::module::prelude::*;

pub struct ResetRmc;

/// 22.4's `RSCT_PATH`.
const RSCT_PATH: &str = "/opt/rsct/install/bin";

/// `reset_rmc()`: node id before, `rmcctrl -z`, `recfgct`, node id after.
const RESET: &str = r#"PATH=/opt/rsct/install/bin${PATH:+:$PATH}
node_id() { IFS= read -r line < /etc/ct_node_id || [ -n "$line" ]; printf '%s' "$line"; }
before=$(node_id) || { echo "Failed to get node ID from file /etc/ct_node_id." >&2; exit 1; }
rmcctrl -z || { echo "Failed to stop the RMC subsystem." >&2; exit 1; }
recfgct || { echo "Failed to reconfigure the RSCT subsystems." >&2; exit 1; }
after=$(node_id) || { echo "Failed to get node ID from file /etc/ct_node_id." >&2; exit 1; }
if [ "$after" = "$before" ]; then echo "New node ID did not get generated." >&2; exit 1; fi
"#;

static INFO: ModuleInfo = ModuleInfo {
    name: "reset_rmc",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &[],
    keys: &[],
    schema: &[],
    summary: "give an IBM PowerVM instance a new RSCT node id",
};

impl Module for ResetRmc {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        if ctx.instance.platform == "none" {
            out.note("Skipping creation of new ct_node_id node");
            return out;
        }
        if !ctx.fs.is_dir(std::path::Path::new(RSCT_PATH)) {
            out.note("module disabled, RSCT_PATH not present");
            return out;
        }
        out.note("Attempting to reset RMC.");
        out.effects.push(Effect::Run(
            Command::new(["/bin/sh", "-c", RESET, "reset_rmc"])
                .script_named("reset RMC's node ID, as cloud-init 22.4 does"),
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_without_rsct() {
        let p = Kit::debian12().plan(&ResetRmc);
        assert!(p.effects().is_empty());
        assert_eq!(p.notes(), ["module disabled, RSCT_PATH not present"]);
    }

    #[test]
    fn with_rsct_the_reset_runs_inside_the_root() {
        let p = Kit::debian12().dir(RSCT_PATH).plan(&ResetRmc);
        assert_eq!(p.commands()[0][..2], ["/bin/sh", "-c"]);
        assert!(p.commands()[0][2].contains("rmcctrl -z"));
    }

    #[test]
    fn never_on_the_none_datasource() {
        let p = Kit::debian12()
            .dir(RSCT_PATH)
            .instance(|i| i.platform = "none".into())
            .plan(&ResetRmc);
        assert!(p.effects().is_empty());
    }
}
