//! scripts_vendor (`cc_scripts_vendor`): runs the vendor-data scripts
//! (`/var/lib/cloud/instance/scripts/vendor`) once per instance, each behind
//! `vendor_data: prefix` when one is set (`prefix: [timeout, 30]`).

use crate::module::{run_parts, Context, Module, ModuleInfo, ModuleOutput};
use crate::semaphore::Frequency;
use crate::value::Value;

pub struct ScriptsVendor;

static INFO: ModuleInfo = ModuleInfo {
    name: "scripts_vendor",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &[],
    keys: &["vendor_data"],
    schema: &[],
    summary: "run vendor-data scripts once per instance",
};

impl Module for ScriptsVendor {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        // `runparts(exe_prefix=...)`: a string is one word, a list is argv.
        let prefix = match ctx.cfg.get("vendor_data").and_then(|v| v.get("prefix")) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Str(s)) => vec![s.clone()],
            Some(Value::Seq(items)) => items.iter().map(Value::python_str).collect(),
            Some(other) => {
                let mut out = ModuleOutput::default();
                out.error(format!(
                    "vendor_data.prefix must be a string or a list, not {}",
                    other.type_name()
                ));
                return out;
            }
        };
        let dir = ctx.paths.instance_link().join("scripts").join("vendor");
        run_parts(ctx, dir, prefix, Vec::new())
    }
}
