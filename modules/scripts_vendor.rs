//! scripts_vendor (`cc_scripts_vendor`): runs the vendor-data scripts
//! (`/var/lib/cloud/instance/scripts/vendor`) once per instance, each behind
//! `vendor_data: prefix` when one is set (`prefix: [timeout, 30]`).
//!
//! `prefix` is a string (one word) or a list of strings and integers, as
//! cloud-init's schema says; the module declares that type
//! ([`VENDOR_DATA_PREFIX`]), so anything else (a float, a boolean, null, a
//! nested list) fails the module at boot, naming the file and line, and
//! `cloudboot schema` reports the same.
//!
//! Where cloudboot deliberately differs from 22.4: an integer word runs as
//! its digits (`timeout 30`); 22.4's schema allows it but its `subp` crashes
//! on it (`'int' object has no attribute 'encode'`) and runs nothing. A
//! null `prefix`, which 22.4's schema refuses and its module takes as no
//! prefix, is refused like the schema refuses it.

use crate::module::prelude::*;

pub struct ScriptsVendor;

static INFO: ModuleInfo = ModuleInfo {
    name: "scripts_vendor",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &[],
    keys: &["vendor_data"],
    // Only `prefix` is this module's at boot: `enabled` and
    // `disabled_handlers` are the engine's. The `schema` command checks
    // 22.4's whole `vendor_data` here, where 22.4 declares it.
    schema: &[Field::opt(
        "vendor_data",
        Ty::Strict(
            &Ty::MapPart(&[Field::opt("prefix", VENDOR_DATA_PREFIX)]),
            Rule::As(&Ty::Map(&[
                Field::opt("enabled", Ty::Strict(&Ty::Any, Rule::Check(enabled_value))),
                Field::opt("prefix", VENDOR_DATA_PREFIX),
            ])),
        ),
    )],
    summary: "run vendor-data scripts once per instance",
};

/// 22.4's `oneOf`: a boolean, or (deprecated) a string.
fn enabled_value(v: &Value) -> Verdict {
    match v {
        Value::Bool(_) => Verdict::Fine,
        Value::Str(_) => Verdict::Deprecated(
            "Use of string for this value is DEPRECATED. Use a boolean value instead.",
        ),
        _ => Verdict::Bad("is not valid under any of the given schemas"),
    }
}

impl Module for ScriptsVendor {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        // `runparts(exe_prefix=...)`: a string is one word, a list is argv.
        // The schema check before `plan` let through only these shapes.
        let prefix = match ctx.cfg.get("vendor_data").and_then(|v| v.get("prefix")) {
            None => Vec::new(),
            Some(Value::Str(s)) => vec![s.clone()],
            Some(Value::Seq(items)) => items.iter().map(Value::python_str).collect(),
            Some(other) => {
                let mut out = ModuleOutput::default();
                out.error(format!(
                    "vendor_data.prefix: expected a string or a list, found {}",
                    other.type_name()
                ));
                return out;
            }
        };
        let dir = ctx.paths.instance_link().join("scripts").join("vendor");
        run_parts(ctx, dir, prefix, Vec::new())
    }
}
