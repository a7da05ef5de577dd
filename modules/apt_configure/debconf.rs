//! `apply_debconf_selections`: the selections handed to
//! `debconf-set-selections` inside the root, then the installed packages
//! they name reconfigured; 22.4 can unconfigure (and so reconfigure) only
//! `cloud-init` (its `/etc/cloud/cloud.cfg.d/*dpkg*` files removed, then
//! `dpkg-reconfigure --frontend=noninteractive cloud-init`); others get a
//! warning.

use std::path::Path;

use crate::module::prelude::*;

/// dpkg's status file, which `dpkg-query --list` reads.
const DPKG_STATUS: &str = "/var/lib/dpkg/status";

/// `util.get_installed_packages`: packages whose status is installed
/// (`ii`) or held and installed (`hi`), architecture qualifiers dropped.
fn installed_packages(fs: &dyn FsView) -> Vec<String> {
    let text = fs.read_string(Path::new(DPKG_STATUS)).unwrap_or_default();
    let mut out = Vec::new();
    for para in text.split("\n\n") {
        let field = |name: &str| {
            para.lines()
                .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
                .map(str::trim)
        };
        let (Some(pkg), Some(status)) = (field("Package"), field("Status")) else {
            continue;
        };
        if matches!(status, "install ok installed" | "hold ok installed") {
            out.push(pkg.split(':').next().unwrap_or(pkg).to_string());
        }
    }
    out
}

/// The effects of `debconf_selections` (a mapping of name to selections
/// text), and the messages 22.4 logs.
pub fn apply(
    ctx: &Context,
    apt: &Value,
    out: &mut Vec<Effect>,
    notes: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let selsets = match apt.get("debconf_selections") {
        Some(Value::Map(m)) if !m.is_empty() => m,
        Some(v) if v.truthy() => {
            return Err(ConfigError::new(
                "apt.debconf_selections",
                "apt.debconf_selections: expected a mapping of names to selections",
            ))
        }
        _ => {
            notes.push("debconf_selections was not set in config".into());
            return Ok(());
        }
    };
    let mut sets: Vec<(String, String)> = selsets
        .iter()
        .map(|(k, v)| (k.python_str(), v.python_str()))
        .collect();
    sets.sort();
    let mut selections = sets
        .iter()
        .map(|(_, v)| v.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    if !selections.ends_with('\n') {
        selections.push('\n');
    }
    let mut c = Command::new(["debconf-set-selections"]);
    c.stdin = Some(Data::public(selections));
    out.push(Effect::Run(c));

    let mut configured = Vec::new();
    for (_, content) in &sets {
        for line in py::str::splitlines(content) {
            if line.starts_with('#') {
                continue;
            }
            // `re.sub(r"[:\s].*", "", line)`
            let pkg = line
                .split(|c: char| c == ':' || c.is_whitespace())
                .next()
                .unwrap_or("")
                .to_string();
            if !configured.contains(&pkg) {
                configured.push(pkg);
            }
        }
    }
    let installed = installed_packages(ctx.fs);
    let mut need: Vec<String> = configured
        .into_iter()
        .filter(|p| installed.contains(p))
        .collect();
    need.sort();
    if need.is_empty() {
        notes.push("no need for reconfig".into());
        return Ok(());
    }
    let (clean, unhandled): (Vec<String>, Vec<String>) =
        need.into_iter().partition(|p| p == "cloud-init");
    if !unhandled.is_empty() {
        let list = unhandled
            .iter()
            .map(|p| python_str_repr(p))
            .collect::<Vec<_>>()
            .join(", ");
        let msg = format!(
            "The following packages were installed and preseeded, but cannot be unconfigured: [{list}]"
        );
        tracing::warn!("{msg}");
        notes.push(msg);
    }
    if !clean.is_empty() {
        notes.push("unconfiguring cloud-init".into());
        // `clean_cloud_init`: /etc/cloud/cloud.cfg.d/*dpkg*
        let dir = Path::new("/etc/cloud/cloud.cfg.d");
        let mut names = ctx.fs.list_dir(dir).unwrap_or_default();
        names.sort();
        for n in names
            .into_iter()
            .filter(|n| n.contains("dpkg") && !n.starts_with('.'))
        {
            out.push(Effect::Remove { path: dir.join(n) });
        }
        let mut argv = vec![
            "dpkg-reconfigure".to_string(),
            "--frontend=noninteractive".into(),
        ];
        argv.extend(clean);
        out.push(Effect::Run(Command::new(argv)));
    }
    Ok(())
}
