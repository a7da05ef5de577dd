//! `scripts-user-missing`: the image's module lists lack `scripts-user`.
//!
//! `runcmd` (a config module) only writes its commands to a script in the
//! instance directory; `scripts-user`, in the final stage, runs it, and runs
//! the shell scripts of user-data too. An image whose `cloud_final_modules`
//! lost it (a trimmed cloud.cfg, an old image's own list) accepts user-data
//! that says what to run and silently never runs it. seal adds it back in
//! a cloud.cfg.d file of its own, at cloud-init's place for it (after
//! `scripts-per-instance`), so the image's own cloud.cfg is not edited.

use super::registry::Check;
use super::{Evidence, Finding, Image, Severity};
use crate::effect::{Data, Effect};
use crate::value::Value;

pub const CHECK: Check = Check {
    id: "scripts-user-missing",
    about: "scripts-user is in no module list, so runcmd and user-data scripts are written and never run",
    run,
};

const LISTS: [&str; 3] = [
    "cloud_init_modules",
    "cloud_config_modules",
    "cloud_final_modules",
];

/// The file seal writes (late in cloud.cfg.d's order, so its list wins).
pub const DROP_IN: &str = "/etc/cloud/cloud.cfg.d/99-cloudboot-seal-scripts-user.cfg";

fn run(image: &Image) -> Vec<Finding> {
    if LISTS.iter().any(|l| image.lists_module(l, "scripts-user")) {
        return Vec::new();
    }
    let Some(finals) = image.cfg.get("cloud_final_modules").and_then(Value::as_seq) else {
        // No final list at all: nothing runs in the final stage, which is
        // not this check's to say.
        return Vec::new();
    };
    let evidence = image.line_of("cloud_final_modules").unwrap_or_else(|| {
        Evidence::file(
            "/etc/cloud/cloud.cfg",
            "cloud_final_modules has no scripts-user",
        )
    });
    let mut list = finals.to_vec();
    let after = list.iter().rposition(|m| {
        matches!(
            name(m).as_deref(),
            Some("scripts_per_once" | "scripts_per_boot" | "scripts_per_instance")
        )
    });
    list.insert(after.map_or(0, |i| i + 1), Value::str("scripts-user"));
    let mut cfg = crate::value::Mapping::new();
    cfg.insert(Value::str("cloud_final_modules"), Value::Seq(list));
    let text = format!(
        "# Written by cloudboot seal: the image's cloud_final_modules with scripts-user\n\
         # (it runs runcmd's script and user-data's shell scripts).\n{}",
        crate::yaml::dump_bare_mapping(&cfg)
    );
    vec![Finding {
        id: CHECK.id,
        severity: Severity::Error,
        title: "scripts-user is in none of the module lists".into(),
        evidence: vec![evidence],
        breaks: "runcmd writes its script and user-data's shell scripts are saved, but \
                 nothing runs them: the instance never does what its user-data asks"
            .into(),
        fix: format!("add scripts-user to cloud_final_modules (in {DROP_IN})"),
        fixes: vec![Effect::write(DROP_IN, Data::public(text), 0o644)],
    }]
}

/// A module list item's name, `-` as `_` (`[name, frequency]` too).
fn name(item: &Value) -> Option<String> {
    let n = match item {
        Value::Seq(v) => v.first()?.as_str()?,
        other => other.as_str()?,
    };
    Some(n.trim().replace('-', "_"))
}
