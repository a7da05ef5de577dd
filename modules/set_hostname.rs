//! set_hostname (`cc_set_hostname`): once per instance, sets the hostname
//! from `hostname`/`fqdn` in the config, else meta-data's `local-hostname`,
//! as cloud-init 22.4 does: the distro's hostname file (`/etc/hostname`, or
//! `HOSTNAME=` in `/etc/sysconfig/network` on CentOS/RHEL 6), the running
//! hostname (a host action), and `data/set-hostname`, which makes it skip
//! when nothing changed. `preserve_hostname` turns it off;
//! `prefer_fqdn_over_hostname` picks the FQDN (the default on the RHEL
//! family). The distro's part (which file, which command, the names) is
//! `crate::distro::hostname` and `crate::distro::names`; the engine also
//! runs this module's `handle` early in `init --local` and `init`
//! ([`maybe_set_hostname`]).

use crate::module::prelude::*;

pub struct SetHostname;

/// The keys set_hostname and update_hostname read. cloud-init takes any
/// value for the booleans (`translate_bool`) and fails on a non-string
/// hostname itself, so the types are checked in `crate::distro::names`.
pub static HOSTNAME_KEYS: &[Field] = &[
    Field::opt("preserve_hostname", AS_BOOL),
    Field::opt("hostname", AS_STR),
    Field::opt("fqdn", AS_STR),
    Field::opt("prefer_fqdn_over_hostname", AS_BOOL),
];

/// Read as cloud-init's code reads them (any type); 22.4's schema types.
const AS_BOOL: Ty = Ty::Strict(&Ty::Any, Rule::As(&Ty::Bool));
const AS_STR: Ty = Ty::Strict(&Ty::Any, Rule::As(&Ty::Str));
/// A key 22.4's schema declares in another module: checked there.
const ELSEWHERE: Ty = Ty::Strict(&Ty::Any, Rule::As(&Ty::Any));

/// update_hostname's keys: 22.4's `cc_update_hostname` declares only the
/// two flags (`hostname` and `fqdn` are `cc_set_hostname`'s and
/// `cc_update_etc_hosts`'s), so `schema` reports a bad flag twice, as 22.4.
pub static UPDATE_HOSTNAME_KEYS: &[Field] = &[
    Field::opt("preserve_hostname", AS_BOOL),
    Field::opt("hostname", ELSEWHERE),
    Field::opt("fqdn", ELSEWHERE),
    Field::opt("prefer_fqdn_over_hostname", AS_BOOL),
];

/// `data/set-hostname` (set_hostname's record of what it last set).
pub const SET_HOSTNAME_FILE: &str = "set-hostname";

static INFO: ModuleInfo = ModuleInfo {
    name: "set_hostname",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &[],
    keys: &[
        "preserve_hostname",
        "hostname",
        "fqdn",
        "prefer_fqdn_over_hostname",
    ],
    schema: HOSTNAME_KEYS,
    summary: "set the hostname and FQDN",
};

impl Module for SetHostname {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        set_hostname(
            ctx.fs,
            ctx.paths,
            ctx.cfg,
            ctx.instance,
            ctx.distro,
            ctx.name,
            &mut out,
        );
        out
    }
}

/// `json.dumps({"fqdn": .., "hostname": ..}, indent=1, sort_keys=True) + "\n"`.
fn set_hostname_json(hostname: &str, fqdn: &str) -> String {
    let v = serde_json::json!({"hostname": hostname, "fqdn": fqdn});
    format!("{}\n", py::json::dumps(&v, 1))
}

/// What set_hostname and update_hostname do first: stop when
/// `preserve_hostname` is set (the note says what the module was `doing`),
/// else check the distro can handle hostnames and find the names to use
/// (errors go to `out`).
pub(crate) fn prepare(
    fs: &dyn FsView,
    cfg: &Value,
    instance: &Instance,
    distro: &Distro,
    name: &str,
    doing: &str,
    out: &mut ModuleOutput,
) -> Option<Names> {
    if cfg.get_bool("preserve_hostname", false) {
        out.note(format!(
            "Configuration option 'preserve_hostname' is set, not {doing} the hostname in module {name}"
        ));
        return None;
    }
    let result = distro
        .hostname_family()
        .and_then(|_| distro.hostname_fqdn(cfg, instance, fs, false));
    match result {
        Ok(names) => Some(names),
        Err(e) => {
            out.error(e);
            None
        }
    }
}

/// cc_set_hostname's `handle`, into `out`.
pub fn set_hostname(
    fs: &dyn FsView,
    paths: &Paths,
    cfg: &Value,
    instance: &Instance,
    distro: &Distro,
    name: &str,
    out: &mut ModuleOutput,
) {
    let Some(names) = prepare(fs, cfg, instance, distro, name, "setting", out) else {
        return;
    };
    let hostname = names.hostname.unwrap_or_default();
    let fqdn = names.fqdn.unwrap_or_default();
    let prev_fn = paths.data(SET_HOSTNAME_FILE);
    let prev: serde_json::Value = match fs.read_string(&prev_fn) {
        None => serde_json::Value::Null,
        Some(text) => match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                return out.error(format!(
                    "{}: not JSON ({e}); cloud-init 22.4 fails on it",
                    prev_fn.display()
                ))
            }
        },
    };
    let same = |key: &str, v: &str| prev.get(key).and_then(|p| p.as_str()) == Some(v);
    if same("hostname", &hostname) && same("fqdn", &fqdn) {
        out.note("No hostname changes. Skipping set-hostname");
        return;
    }
    if names.is_default && hostname == "localhost" {
        out.note("Hostname is localhost. Let other services handle this.");
        return;
    }
    out.note(format!("Setting the hostname to {fqdn} ({hostname})"));
    if let Err(e) = distro.set_hostname(fs, cfg, &hostname, Some(&fqdn), &mut out.effects) {
        return out.error(format!(
            "Failed to set the hostname to {fqdn} ({hostname}): {e}"
        ));
    }
    out.effects.push(Effect::write(
        prev_fn,
        Data::public(set_hostname_json(&hostname, &fqdn)),
        0o644,
    ));
}

// The engine's early call

/// What [`maybe_set_hostname`] plans.
#[derive(Debug, Default)]
pub struct EarlyHostname {
    pub effects: Vec<Effect>,
    pub notes: Vec<String>,
}

/// cloud-init's `_maybe_set_hostname` (cmd/main.py), which `init --local`
/// runs before the network is configured and `init` runs before user-data is
/// consumed: when meta-data or the config names a hostname, set_hostname's
/// `handle` runs (no semaphore), with the config as it is at that moment
/// (on an instance's first boot that is without this boot's user-data). A
/// failure is only noted, as cloud-init only logs it and retries later.
pub fn maybe_set_hostname(
    fs: &dyn FsView,
    paths: &Paths,
    cfg: &Value,
    instance: &Instance,
    distro: &Distro,
) -> EarlyHostname {
    let mut early = EarlyHostname::default();
    let names = match distro.hostname_fqdn(cfg, instance, fs, true) {
        Ok(n) => n,
        Err(e) => {
            early.notes.push(format!("hostname not set: {e}"));
            return early;
        }
    };
    if names.hostname.as_deref().is_none_or(str::is_empty) {
        early
            .notes
            .push("no hostname in meta-data or config: hostname not set".into());
        return early;
    }
    let mut out = ModuleOutput::default();
    set_hostname(fs, paths, cfg, instance, distro, "set-hostname", &mut out);
    early.effects = out.effects;
    early.notes = out.notes;
    for e in out.errors {
        early.notes.push(format!(
            "Failed setting hostname: {e}; will retry in a later stage"
        ));
    }
    early
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Through the module test kit: the hostname file of each family, the
    /// running hostname, and the record that stops a second run.
    #[test]
    fn kit_writes_the_familys_hostname_file_and_the_record() {
        let cfg = "hostname: web1\nfqdn: web1.example.com\n";
        let debian = Kit::debian12().cfg(cfg).plan(&SetHostname);
        assert!(debian.errors().is_empty(), "{:?}", debian.errors());
        assert_eq!(debian.file("/etc/hostname").as_deref(), Some("web1\n"));
        assert_eq!(debian.commands(), [["hostname", "web1"]]);
        assert_eq!(
            debian.file("/var/lib/cloud/data/set-hostname").as_deref(),
            Some("{\n \"fqdn\": \"web1.example.com\",\n \"hostname\": \"web1\"\n}\n")
        );
        let centos = Kit::centos7().cfg(cfg).plan(&SetHostname);
        assert!(centos.errors().is_empty(), "{:?}", centos.errors());
        assert!(centos
            .file("/etc/sysconfig/network")
            .is_some_and(|t| t.contains("HOSTNAME=web1")));
        // The record says it was done: a second run changes nothing.
        let again = Kit::debian12()
            .file(
                "/var/lib/cloud/data/set-hostname",
                &debian.file("/var/lib/cloud/data/set-hostname").unwrap(),
            )
            .cfg(cfg)
            .plan(&SetHostname);
        assert!(again.effects().is_empty());
        assert_eq!(
            again.notes(),
            ["No hostname changes. Skipping set-hostname"]
        );
    }
}
