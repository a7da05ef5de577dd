//! apt_pipelining (`cc_apt_pipelining`): sets apt's HTTP pipeline depth in
//! `/etc/apt/apt.conf.d/90cloud-init-pipelining`, once per instance, on
//! Debian and Ubuntu (22.4's `distros`), when `apt_pipelining` is set. As
//! 22.4 reads the value (`str(value).lower().strip()`): `false` writes
//! depth 0; `os`, `none` and `unchanged` leave apt's default; `0` to `5`
//! (a number or a string) write that depth; anything else, `true`
//! included, is a warning and nothing is written.
//! tests/fixtures/apt_pipelining holds what 22.4 itself does.

use crate::module::prelude::*;

pub struct AptPipelining;

static INFO: ModuleInfo = ModuleInfo {
    name: "apt_pipelining",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &["apt_pipelining"],
    keys: &["apt_pipelining"],
    schema: &[Field::opt(
        "apt_pipelining",
        // 22.4's schema lists only `none`, `unchanged` and `os` as strings;
        // its code also takes `"0"` to `"5"`, and warns of the others.
        Ty::Strict(
            &Ty::OneOf(&[Ty::Int, Ty::Bool, Ty::Str]),
            Rule::As(&Ty::OneOf(&[
                Ty::Int,
                Ty::Bool,
                Ty::Strict(&Ty::Str, Rule::OneOfStrs(&["none", "unchanged", "os"])),
            ])),
        ),
    )],
    summary: "set apt's HTTP pipeline depth (apt_pipelining: false, os or 0-5)",
};

/// 22.4's `DEFAULT_FILE`.
const PIPELINING_FILE: &str = "/etc/apt/apt.conf.d/90cloud-init-pipelining";

impl Module for AptPipelining {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn distros(&self) -> &'static [&'static str] {
        &["ubuntu", "debian"]
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let value = ctx
            .cfg
            .get("apt_pipelining")
            .cloned()
            .unwrap_or_else(|| Value::str("os"));
        let setting = py::str::strip(&value.python_str_any().to_lowercase()).to_string();
        let depth = match setting.as_str() {
            "false" => "0",
            "none" | "unchanged" | "os" => return out,
            "0" | "1" | "2" | "3" | "4" | "5" => &setting,
            _ => {
                out.warn(format!(
                    "Invalid option for apt_pipelining: {}",
                    value.python_str_any()
                ));
                return out;
            }
        };
        // 22.4's `APT_PIPE_TPL`.
        let text = format!(
            "//Written by cloud-init per 'apt_pipelining'\nAcquire::http::Pipeline-Depth \"{depth}\";\n"
        );
        out.effects
            .push(Effect::write(PIPELINING_FILE, Data::public(text), 0o644));
        out.note(format!(
            "Wrote {PIPELINING_FILE} with apt pipeline depth setting {depth}"
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    include!("../tests/fixtures/repo_modules/recorded.rs");

    #[test]
    fn every_recorded_case_plans_as_cloud_init_22_4_ran_it() {
        check_recorded(
            include_str!("../tests/fixtures/apt_pipelining/expected.json"),
            &AptPipelining,
            12,
        );
    }

    #[test]
    fn false_turns_pipelining_off() {
        let p = Kit::debian12()
            .cfg("apt_pipelining: false\n")
            .plan(&AptPipelining);
        assert_eq!(
            p.file(PIPELINING_FILE).as_deref(),
            Some("//Written by cloud-init per 'apt_pipelining'\nAcquire::http::Pipeline-Depth \"0\";\n")
        );
    }
}
