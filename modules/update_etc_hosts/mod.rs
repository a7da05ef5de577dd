//! update_etc_hosts (`cc_update_etc_hosts`): on every boot, with
//! `manage_etc_hosts: true` (or the deprecated `template`), renders
//! `/etc/hosts` from the root's `/etc/cloud/templates/hosts.<osfamily>.tmpl`
//! (`system_info.paths.templates_dir`), as cloud-init 22.4 does; with
//! `localhost`, adds the hostname to the distro's localhost line
//! (`127.0.1.1` on Debian, `127.0.0.1` on the RHEL family) in place.
//!
//! Where the root has no template (cloud-init then fails), cloud-init
//! 22.4's own template for the family is used. A template without a
//! `## template:` line is rendered by the basic renderer, as 22.4 does, but
//! a Cheetah `#* ... *#` comment (cloud-init 0.7.5's templates) is dropped
//! first instead of being copied into `/etc/hosts`.

mod template;

pub use template::render_template;

use crate::module::prelude::py::truth::translate_bool;
use crate::module::prelude::*;

pub struct UpdateEtcHosts;

static INFO: ModuleInfo = ModuleInfo {
    name: "update_etc_hosts",
    aliases: &[],
    frequency: Frequency::Always,
    activate_by: &["manage_etc_hosts"],
    keys: &["manage_etc_hosts", "hostname", "fqdn"],
    schema: &[
        Field::opt(
            "manage_etc_hosts",
            Ty::Strict(&Ty::Any, Rule::Check(manage_etc_hosts_value)),
        ),
        Field::opt("hostname", Ty::Strict(&Ty::Any, Rule::As(&Ty::Str))),
        Field::opt("fqdn", Ty::Strict(&Ty::Any, Rule::As(&Ty::Str))),
    ],
    summary: "manage /etc/hosts from a template, or its localhost line",
};

/// 22.4's `oneOf`: `true`, `false`, `localhost`, or (deprecated) `template`.
fn manage_etc_hosts_value(v: &Value) -> Verdict {
    match v {
        Value::Bool(_) => Verdict::Fine,
        Value::Str(s) if s == "localhost" => Verdict::Fine,
        Value::Str(s) if s == "template" => Verdict::Deprecated(
            "Value ``template`` will be dropped after April 2027. Use ``true`` instead.",
        ),
        _ => Verdict::Bad("is not valid under any of the given schemas"),
    }
}

impl Module for UpdateEtcHosts {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        update_etc_hosts(ctx, &mut out);
        out
    }
}

/// cc_update_etc_hosts's `handle`, into `out`.
fn update_etc_hosts(ctx: &Context, out: &mut ModuleOutput) {
    let (fs, cfg, distro, name) = (ctx.fs, ctx.cfg, ctx.distro, ctx.name);
    // `get_cfg_option_str(cfg, "manage_etc_hosts", False)`.
    let manage = cfg.get("manage_etc_hosts");
    let manage_str = manage.map(Value::python_str);
    let enabled = match manage {
        None => false,
        Some(_) => translate_bool(
            &Value::str(manage_str.clone().unwrap_or_default()),
            &["template"],
        ),
    };
    let osfamily = match distro.osfamily() {
        Ok(f) => f,
        Err(e) => return out.error(e),
    };
    if enabled {
        if manage_str.as_deref() == Some("template") {
            out.note("DEPRECATED: please use manage_etc_hosts: true instead of 'template'");
        }
        let Some((hostname, fqdn)) = names(ctx, out) else {
            return;
        };
        let tpl = distro.hosts_template_path(osfamily);
        let text = match fs.read_string(&tpl) {
            Some(t) => t,
            None => match BUILTIN_TEMPLATES.iter().find(|(f, _)| *f == osfamily) {
                Some((_, t)) => {
                    out.note(format!(
                        "No template found at {}: using cloud-init 22.4's hosts.{}.tmpl",
                        tpl.display(),
                        osfamily
                    ));
                    t.to_string()
                }
                None => {
                    return out.error(format!(
                        "No hosts template could be found for distro {}",
                        osfamily
                    ))
                }
            },
        };
        match render_template(&text, &[("hostname", &hostname), ("fqdn", &fqdn)]) {
            Ok(rendered) => {
                out.effects
                    .push(Effect::write(HOSTS_FN, Data::public(rendered), 0o644))
            }
            Err(e) => out.error(format!("{}: {e}", tpl.display())),
        }
    } else if manage_str.as_deref() == Some("localhost") {
        let Some((hostname, fqdn)) = names(ctx, out) else {
            return;
        };
        out.note(format!("Managing localhost in {HOSTS_FN}"));
        if let Some(e) = distro.update_etc_hosts(fs, &hostname, &fqdn) {
            out.effects.push(e);
        }
    } else {
        out.note(format!(
            "Configuration option 'manage_etc_hosts' is not set, not managing {HOSTS_FN} in module {name}"
        ));
    }
}

/// The hostname and FQDN the hosts file gets, or `None` (with the note or
/// error cloud-init gives) when there is no hostname to write.
fn names(ctx: &Context, out: &mut ModuleOutput) -> Option<(String, String)> {
    let names = match ctx
        .distro
        .hostname_fqdn(ctx.cfg, ctx.instance, ctx.fs, false)
    {
        Ok(n) => n,
        Err(e) => {
            out.error(e);
            return None;
        }
    };
    let hostname = names.hostname.unwrap_or_default();
    if hostname.is_empty() {
        out.note("Option 'manage_etc_hosts' was set, but no hostname was found");
        return None;
    }
    Some((hostname, names.fqdn.unwrap_or_default()))
}
