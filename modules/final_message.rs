//! final_message (`cc_final_message`): every boot, at the end of the final
//! stage, prints cloud-init's closing line to the console and the output log
//! and writes `/var/lib/cloud/instance/boot-finished`
//! (`<uptime> - <RFC 2822 time> - v. <version>`), which tooling polls to know
//! the boot is over. With the fallback datasource it warns
//! "Used fallback datasource".
//!
//! The message (`final_message:` or the module's first argument) may use
//! `{{ name }}` (jinja variables only) or `$name` / `${name}` (cloud-init's
//! basic templates) for version, timestamp, datasource and uptime, in lower
//! or upper case.

use crate::module::prelude::*;

pub struct FinalMessage;

static INFO: ModuleInfo = ModuleInfo {
    name: "final_message",
    aliases: &[],
    frequency: Frequency::Always,
    activate_by: &[],
    keys: &["final_message"],
    schema: &[Field::opt("final_message", Ty::Str)],
    summary: "print the end-of-boot message and write boot-finished",
};

const DEFAULT: &str = "## template: jinja\nCloud-init v. {{version}} finished at {{timestamp}}. Datasource {{datasource}}.  Up {{uptime}} seconds";

impl Module for FinalMessage {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let given = match ctx.args.first() {
            Some(a) => a.clone(),
            None => ctx
                .cfg
                .get("final_message")
                .filter(|v| !v.is_null())
                .map(Value::python_str)
                .unwrap_or_default(),
        };
        let template = match given.trim() {
            "" => DEFAULT.to_string(),
            t => t.to_string(),
        };
        let uptime = ctx.uptime();
        let timestamp = chrono::DateTime::<chrono::Utc>::from(ctx.host.now())
            .format("%a, %d %b %Y %H:%M:%S +0000")
            .to_string();
        let version = VERSION_STRING.to_string();
        let vars = [
            ("uptime", uptime.clone()),
            ("timestamp", timestamp.clone()),
            ("version", version.clone()),
            ("datasource", ctx.instance.description.clone()),
        ];
        match render(&template, &vars) {
            Ok(text) => out.effects.push(Effect::Console(text)),
            Err(e) => out.error(format!("Failed to render final message template: {e}")),
        }
        out.effects.push(Effect::write(
            ctx.paths.instance_link().join("boot-finished"),
            Data::public(format!("{uptime} - {timestamp} - v. {version}\n")),
            0o644,
        ));
        if ctx.instance.disconnected {
            tracing::warn!("Used fallback datasource");
            out.notes.push("Used fallback datasource".into());
        }
        out
    }
}

fn lookup<'a>(vars: &'a [(&str, String)], name: &str) -> Option<&'a str> {
    vars.iter()
        .find(|(k, _)| *k == name || k.to_uppercase() == name)
        .map(|(_, v)| v.as_str())
}

/// cloud-init's `templater.render_string` for the cases a message needs.
fn render(template: &str, vars: &[(&str, String)]) -> Result<String, ConfigError> {
    use templater::Kind;
    match templater::detect(template)? {
        (Kind::Jinja, body, _) => render_jinja(body, vars),
        (Kind::Basic, body, _) => render_basic(body, vars),
    }
}

/// cloud-init's jinja (the one engine) over the message's variables, each
/// also under its upper-case name, as `handle` passes them.
fn render_jinja(text: &str, vars: &[(&str, String)]) -> Result<String, ConfigError> {
    let upper: Vec<(String, &String)> = vars.iter().map(|(k, v)| (k.to_uppercase(), v)).collect();
    let mut all: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend(upper.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    Ok(jinja::render_strings(text, &all)?)
}

/// `$name` and `${name}` (`templater.basic_render`); an unknown name is an error.
fn render_basic(text: &str, vars: &[(&str, String)]) -> Result<String, ConfigError> {
    templater::basic_render(text, |name| {
        lookup(vars, name)
            .map(str::to_string)
            .ok_or_else(|| ConfigError::new("final_message", format!("KeyError: '{name}'")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vec<(&'static str, String)> {
        vec![("uptime", "1.5".into()), ("version", "9".into())]
    }

    #[test]
    fn default_message_renders() {
        let v = vec![
            ("uptime", "12.34".to_string()),
            ("timestamp", "Mon, 23 Nov 2026 23:18:06 +0000".to_string()),
            ("version", "0.1.0-cloudboot".to_string()),
            ("datasource", "DataSourceNone".to_string()),
        ];
        assert_eq!(
            render(DEFAULT, &v).unwrap(),
            "Cloud-init v. 0.1.0-cloudboot finished at Mon, 23 Nov 2026 23:18:06 +0000. Datasource DataSourceNone.  Up 12.34 seconds"
        );
    }

    #[test]
    fn basic_and_jinja_forms() {
        assert_eq!(
            render("up $uptime s, v${VERSION}!", &vars()).unwrap(),
            "up 1.5 s, v9!"
        );
        assert_eq!(render("cost $ 5", &vars()).unwrap(), "cost $ 5");
        assert!(render("$nope", &vars()).is_err());
        assert_eq!(
            render("## template: jinja\n{{ uptime }} {{ missing }}", &vars()).unwrap(),
            "1.5 CI_MISSING_JINJA_VAR/missing"
        );
        assert!(render("## template: jinja\n{% if x %}", &vars()).is_err());
    }

    /// Through the module test kit: the clock and the uptime are the
    /// host's (the fake's), and boot-finished records them.
    #[test]
    fn kit_message_and_boot_finished_use_the_hosts_clock_and_uptime() {
        let run = Kit::debian12()
            .cfg("final_message: done at $timestamp after $uptime s\n")
            .plan(&FinalMessage);
        assert!(run.errors().is_empty(), "{:?}", run.errors());
        assert!(matches!(
            &run.effects()[0],
            Effect::Console(text) if text == "done at Mon, 01 Jan 2024 00:00:00 +0000 after 100.00 s"
        ));
        assert_eq!(
            run.file("/var/lib/cloud/instance/boot-finished").as_deref(),
            Some(
                format!(
                    "100.00 - Mon, 01 Jan 2024 00:00:00 +0000 - v. {}\n",
                    VERSION_STRING
                )
                .as_str()
            )
        );
    }
}
